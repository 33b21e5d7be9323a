//! AWS Signature Version 4 verification for requests carrying an
//! `Authorization: AWS4-HMAC-SHA256 ...` header, as the AWS SDKs / CLI send them to
//! CodeArtifact (a restJson1 service, i.e. the non-S3 flavour of SigV4: the path is
//! normalized and double-encoded, the query decoded and re-encoded).
//!
//! The crate is transport-agnostic: the caller hands over the raw pieces of the request
//! in a [`Request`] and gets either the authenticated [`Verified`] identity or an
//! [`Error`] that maps directly onto the AWS JSON error (`error_type`, `status`, message).
//!
//! # Decisions
//!
//! * Only header authentication is supported. A request without `Authorization` header is
//!   [`Error::MissingAuthenticationToken`], unless its query carries `X-Amz-Algorithm`
//!   (a presigned URL), which is refused as [`Error::IncompleteSignature`]; so is a request
//!   using both mechanisms.
//! * The request time is taken from `x-amz-date` (`yyyymmddThhmmssZ`), or, if that header is
//!   absent, from `date` (RFC 1123, `Sun, 06 Nov 1994 08:49:37 GMT`). If neither is present,
//!   or the one used does not parse, the request is refused with
//!   [`Error::IncompleteSignature`] (400), as AWS does ("Authorization header requires
//!   existence of either a 'X-Amz-Date' or a 'Date' header.").
//! * `host` must be listed in `SignedHeaders`; if it is not, the *Authorization header* is
//!   deficient, so that is [`Error::IncompleteSignature`] (400). A header that *is* listed
//!   in `SignedHeaders` but absent from the request cannot have produced the client's
//!   signature, so that is [`Error::SignatureDoesNotMatch`] (`InvalidSignatureException`, 403).
//! * The order of checks is: Authorization syntax → credential scope syntax → service →
//!   access key → request time present → scope date = request day → clock skew
//!   (±[`MAX_CLOCK_SKEW`]) → `host` signed → signature (compared in constant time).
//! * Any region is accepted; it is reported in [`Verified::region`].
//! * `x-amz-security-token` is treated like any other header (no session tokens exist here).
//! * Messages never contain the signature, the secret, or the raw `Authorization` header.

mod auth;
mod canonical;
mod error;

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

pub use error::Error;

/// The signing name of the service this verifier accepts by default.
pub const SERVICE: &str = "codeartifact";

/// Lowercase hex SHA-256 of the empty string (the payload hash of a bodiless request).
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// How far the request time may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW: time::Duration = time::Duration::minutes(15);

/// `yyyymmddThhmmssZ` (ISO 8601 basic format, as in `x-amz-date`).
const AMZ_DATE: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// RFC 1123 / IMF-fixdate, as in the HTTP `Date` header.
const HTTP_DATE: &[BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// The parts of an incoming HTTP request that the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The HTTP method, e.g. `POST` (used verbatim).
    pub method: &'a str,
    /// The raw path as received on the wire, still percent-encoded (e.g. `/v1/repository`).
    pub path: &'a str,
    /// The raw query string as received, without the `?`; may be empty.
    pub query: &'a str,
    /// The request headers as received: names in any case, a name may repeat (repeated
    /// values are joined with `,` in received order). Must include `host` (for HTTP/2,
    /// the caller should supply the `:authority` as `host`).
    pub headers: &'a [(&'a str, &'a str)],
    /// Lowercase hex SHA-256 of the request body, as it goes into the canonical request.
    ///
    /// The caller should pass the `x-amz-content-sha256` header value if that header is
    /// present, else the hex SHA-256 it computed over the body ([`EMPTY_SHA256`] for no
    /// body). When it passed the header value it **must itself check**, once the body has
    /// been read, that the body really hashes to that value (and refuse values such as
    /// `UNSIGNED-PAYLOAD` it does not want to allow) — otherwise the body is not
    /// authenticated.
    pub payload_sha256: &'a str,
}

/// A secret access key. Its `Debug` output does not reveal it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret access key.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Looks up the secret of an access key id.
pub trait Credentials {
    /// The secret of `access_key_id`, or `None` if the key is unknown (or disabled).
    fn secret_for(&self, access_key_id: &str) -> Option<Secret>;
}

impl<F> Credentials for F
where
    F: Fn(&str) -> Option<Secret>,
{
    fn secret_for(&self, access_key_id: &str) -> Option<Secret> {
        self(access_key_id)
    }
}

/// The identity and scope of a request whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The access key id that signed the request.
    pub access_key_id: String,
    /// The region from the credential scope (any region is accepted).
    pub region: String,
    /// The date from the credential scope, `yyyymmdd`.
    pub date: String,
}

/// Derives the SigV4 signing key:
/// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret: &Secret, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_secret = format!("AWS4{}", secret.0);
    let k_date = hmac_sha256(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key).expect("HMAC-SHA256 accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Verifies the SigV4 `Authorization` header of `req` for service [`SERVICE`], at server
/// time `now`.
pub fn verify(
    req: &Request<'_>,
    creds: &dyn Credentials,
    now: OffsetDateTime,
) -> Result<Verified, Error> {
    verify_for_service(req, creds, now, SERVICE)
}

/// As [`verify`], for another signing name (the credential scope must name `service`).
pub fn verify_for_service(
    req: &Request<'_>,
    creds: &dyn Credentials,
    now: OffsetDateTime,
    service: &str,
) -> Result<Verified, Error> {
    let (auth, secret, request_time) = check_before_payload(req, creds, now, service)?;
    let amz_date = format_amz_date(request_time);
    let canonical_request = canonical_request(req, auth.signed_headers)?;
    let string_to_sign = format!(
        "{}\n{}\n{}\n{}",
        auth::ALGORITHM,
        amz_date,
        auth.scope,
        hex::encode(Sha256::digest(canonical_request.as_bytes())),
    );
    let key = signing_key(&secret, auth.date, auth.region, auth.service);
    let expected = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    if !bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        return Err(Error::SignatureDoesNotMatch);
    }

    Ok(Verified {
        access_key_id: auth.access_key_id.to_owned(),
        region: auth.region.to_owned(),
        date: auth.date.to_owned(),
    })
}

/// Every check of [`verify`] that does not need the payload's hash: a request these refuse is
/// refused with the same error whatever its body, so a server runs them before reading the body
/// (an unsigned or expired request with a large body is refused without buffering it).
/// `req.payload_sha256` is not used.
///
/// # Errors
/// As [`verify`], but never [`Error::SignatureDoesNotMatch`].
pub fn check_before_body(
    req: &Request<'_>,
    creds: &dyn Credentials,
    now: OffsetDateTime,
) -> Result<(), Error> {
    check_before_payload(req, creds, now, SERVICE).map(|_| ())
}

fn check_before_payload<'r>(
    req: &Request<'r>,
    creds: &dyn Credentials,
    now: OffsetDateTime,
    service: &str,
) -> Result<(auth::Authorization<'r>, Secret, OffsetDateTime), Error> {
    let mut authorizations = header_values(req.headers, "authorization");
    let presigned = canonical::query_keys(req.query).any(|k| k == "X-Amz-Algorithm");
    let Some(authorization) = authorizations.next() else {
        return Err(if presigned {
            Error::IncompleteSignature(
                "Query-string (presigned URL) authentication is not supported; \
                 sign the request with an Authorization header."
                    .into(),
            )
        } else {
            Error::MissingAuthenticationToken
        });
    };
    if presigned {
        return Err(Error::IncompleteSignature(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter \
             or the Authorization header should be specified."
                .into(),
        ));
    }
    if authorizations.next().is_some() {
        return Err(Error::IncompleteSignature(
            "Only one Authorization header is allowed.".into(),
        ));
    }

    let auth = auth::parse(authorization)?;
    if auth.service != service {
        return Err(Error::WrongService {
            expected: service.to_owned(),
        });
    }
    let secret = creds
        .secret_for(auth.access_key_id)
        .ok_or(Error::UnrecognizedClient)?;

    let request_time = request_time(req.headers)?;
    let amz_date = format_amz_date(request_time);
    if amz_date.get(..8) != Some(auth.date) {
        return Err(Error::ScopeDateMismatch {
            scope_date: auth.date.to_owned(),
            request_date: amz_date.get(..8).unwrap_or_default().to_owned(),
            request_time: amz_date,
        });
    }
    check_skew(request_time, now)?;

    if !auth.signed_headers.split(';').any(|h| h == "host") {
        return Err(Error::IncompleteSignature(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    Ok((auth, secret, request_time))
}

/// Values of all headers called `name` (ASCII case-insensitive), in received order.
fn header_values<'a>(
    headers: &'a [(&'a str, &'a str)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// The request time from `x-amz-date`, else `date`.
fn request_time(headers: &[(&str, &str)]) -> Result<OffsetDateTime, Error> {
    let single = |name| {
        let mut values = header_values(headers, name);
        values.next().map(|first| match values.next() {
            None => Some(first.trim_matches([' ', '\t'])),
            Some(_) => None, // repeated: ambiguous
        })
    };
    if let Some(value) = single("x-amz-date") {
        return value
            .and_then(|v| PrimitiveDateTime::parse(v, AMZ_DATE).ok())
            .map(PrimitiveDateTime::assume_utc)
            .ok_or_else(|| {
                Error::IncompleteSignature(format!(
                    "X-Amz-Date must be a single date in ISO-8601 basic format \
                     (yyyymmddThhmmssZ). Got '{}'.",
                    value.unwrap_or("<repeated header>")
                ))
            });
    }
    if let Some(value) = single("date") {
        return value
            .and_then(|v| PrimitiveDateTime::parse(v, HTTP_DATE).ok())
            .map(PrimitiveDateTime::assume_utc)
            .ok_or_else(|| {
                Error::IncompleteSignature(format!(
                    "Date must be a single date in RFC 1123 format \
                     (e.g. 'Sun, 06 Nov 1994 08:49:37 GMT'). Got '{}'.",
                    value.unwrap_or("<repeated header>")
                ))
            });
    }
    Err(Error::IncompleteSignature(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
            .into(),
    ))
}

fn format_amz_date(t: OffsetDateTime) -> String {
    // Formatting a valid UTC date-time with this description cannot fail for years 0..=9999;
    // fall back to something that will simply never match.
    t.to_offset(time::UtcOffset::UTC)
        .format(AMZ_DATE)
        .unwrap_or_default()
}

fn check_skew(request_time: OffsetDateTime, now: OffsetDateTime) -> Result<(), Error> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let earliest = now - MAX_CLOCK_SKEW;
    let latest = now + MAX_CLOCK_SKEW;
    if request_time < earliest {
        return Err(Error::Expired {
            request_time: format_amz_date(request_time),
            earliest: format_amz_date(earliest),
            now: format_amz_date(now),
        });
    }
    if request_time > latest {
        return Err(Error::NotYetCurrent {
            request_time: format_amz_date(request_time),
            latest: format_amz_date(latest),
            now: format_amz_date(now),
        });
    }
    Ok(())
}

/// The canonical request, or [`Error::SignatureDoesNotMatch`] if a signed header is absent.
fn canonical_request(req: &Request<'_>, signed_headers: &str) -> Result<String, Error> {
    let mut out = String::with_capacity(256 + req.path.len() + req.query.len());
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical::uri(req.path));
    out.push('\n');
    out.push_str(&canonical::query(req.query));
    out.push('\n');
    for name in signed_headers.split(';') {
        let name = name.to_ascii_lowercase();
        out.push_str(&name);
        out.push(':');
        let mut found = false;
        for value in header_values(req.headers, &name) {
            if found {
                out.push(',');
            }
            canonical::push_header_value(&mut out, value);
            found = true;
        }
        if !found {
            return Err(Error::SignatureDoesNotMatch);
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(signed_headers);
    out.push('\n');
    out.push_str(req.payload_sha256);
    Ok(out)
}
