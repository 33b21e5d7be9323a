//! Opaque, tamper-checked pagination tokens.
//!
//! A token is `base64url(json cursor) "." base64url(HMAC-SHA256(key, operation || json))[..16]`.
//! The cursor is a keyset position (the last item's sort key), so a listing stays correct while
//! items are added between pages. A token minted for one operation is refused by another.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::Error;

const MAC_LEN: usize = 16;

/// Encodes and checks pagination tokens with the server's key.
#[derive(Clone)]
pub struct PageToken {
    key: Vec<u8>,
}

impl std::fmt::Debug for PageToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageToken(..)")
    }
}

impl PageToken {
    #[must_use]
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    fn mac(&self, operation: &str, payload: &[u8]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(operation.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac.finalize().into_bytes()[..MAC_LEN].to_vec()
    }

    #[must_use]
    pub fn encode<T: serde::Serialize>(&self, operation: &str, cursor: &T) -> String {
        let payload = serde_json::to_vec(cursor).unwrap_or_default();
        let mac = self.mac(operation, &payload);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(mac)
        )
    }

    /// # Errors
    /// `Validation` when the token was not minted by this server for `operation`.
    pub fn decode<T: serde::de::DeserializeOwned>(
        &self,
        operation: &str,
        token: &str,
    ) -> Result<T, Error> {
        let invalid = || Error::validation("The pagination token is invalid or has expired");
        let (payload, mac) = token.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| invalid())?;
        let expected = self.mac(operation, &payload);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &mac[..])) {
            return Err(invalid());
        }
        serde_json::from_slice(&payload).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_refuses_tampering_and_other_operations() {
        let pages = PageToken::new(b"k".to_vec());
        let token = pages.encode("ListDomains", &"my-domain");
        assert_eq!(
            pages.decode::<String>("ListDomains", &token),
            Ok("my-domain".to_owned())
        );
        assert!(pages.decode::<String>("ListRepositories", &token).is_err());
        let mut forged = token.clone();
        forged.replace_range(0..1, if token.starts_with('A') { "B" } else { "A" });
        assert!(pages.decode::<String>("ListDomains", &forged).is_err());
        assert!(pages.decode::<String>("ListDomains", "garbage").is_err());
        assert!(
            PageToken::new(b"other".to_vec())
                .decode::<String>("ListDomains", &token)
                .is_err()
        );
    }
}
