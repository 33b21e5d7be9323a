//! Stateless authorization tokens for the package endpoints (`design.md` §3).
//!
//! `base64url(json claims) "." base64url(HMAC-SHA256(key, json))`. Any node that shares the
//! database (and so the key) verifies a token without a lookup.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a token grants: the principal that minted it, the domain it is scoped to, its expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthToken {
    /// Account of the principal that called GetAuthorizationToken.
    #[serde(rename = "a")]
    pub account: String,
    /// Access key id of that principal.
    #[serde(rename = "p")]
    pub principal: String,
    #[serde(rename = "o")]
    pub domain_owner: String,
    #[serde(rename = "d")]
    pub domain: String,
    /// Expiry, epoch seconds.
    #[serde(rename = "e")]
    pub expires: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed or its signature is not valid")]
    Invalid,
    #[error("the token has expired")]
    Expired,
    #[error("the principal that requested the token no longer exists")]
    UnknownPrincipal,
}

fn mac(key: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(payload);
    mac.finalize().into_bytes().to_vec()
}

impl AuthToken {
    #[must_use]
    pub fn sign(&self, key: &[u8]) -> String {
        let payload = serde_json::to_vec(self).unwrap_or_default();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(mac(key, &payload))
        )
    }

    /// Checks the signature, then the expiry against `now` (epoch seconds).
    ///
    /// # Errors
    /// `Invalid` for anything not signed by `key`; `Expired` once `now` reaches the expiry.
    pub fn verify(token: &str, key: &[u8], now: i64) -> Result<Self, TokenError> {
        let (payload, signature) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Invalid)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Invalid)?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            &mac(key, &payload)[..],
            &signature[..],
        )) {
            return Err(TokenError::Invalid);
        }
        let claims: Self = serde_json::from_slice(&payload).map_err(|_| TokenError::Invalid)?;
        if now >= claims.expires {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires: i64) -> AuthToken {
        AuthToken {
            account: "111122223333".into(),
            principal: "AKID".into(),
            domain_owner: "111122223333".into(),
            domain: "my-domain".into(),
            expires,
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let token = claims(1_000).sign(b"key");
        assert_eq!(AuthToken::verify(&token, b"key", 999), Ok(claims(1_000)));
        assert_eq!(
            AuthToken::verify(&token, b"key", 1_000),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_forged_or_foreign_token_is_invalid() {
        let token = claims(1_000).sign(b"key");
        assert_eq!(
            AuthToken::verify(&token, b"other", 0),
            Err(TokenError::Invalid)
        );
        let forged = claims(9_999).sign(b"attacker");
        assert_eq!(
            AuthToken::verify(&forged, b"key", 0),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            AuthToken::verify("not-a-token", b"key", 0),
            Err(TokenError::Invalid)
        );
        let (_, sig) = token.split_once('.').unwrap_or_default();
        let swapped = format!(
            "{}.{sig}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(9_999)).unwrap_or_default())
        );
        assert_eq!(
            AuthToken::verify(&swapped, b"key", 0),
            Err(TokenError::Invalid)
        );
    }
}
