//! Parsing of the `Authorization: AWS4-HMAC-SHA256 ...` header.

use crate::Error;

pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const TERMINATOR: &str = "aws4_request";

/// The parts of a SigV4 `Authorization` header.
#[derive(Debug)]
pub(crate) struct Authorization<'a> {
    pub access_key_id: &'a str,
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    /// `<date>/<region>/<service>/aws4_request`, verbatim.
    pub scope: &'a str,
    /// The `SignedHeaders` value, verbatim.
    pub signed_headers: &'a str,
    pub signature: &'a str,
}

fn incomplete(msg: impl Into<String>) -> Error {
    Error::IncompleteSignature(msg.into())
}

/// Parses `AWS4-HMAC-SHA256 Credential=<ak>/<date>/<region>/<service>/aws4_request,
/// SignedHeaders=<h1;h2>, Signature=<hex>`; parameters may come in any order, separated by
/// `,` with optional whitespace; unknown parameters are ignored, repeated ones refused.
pub(crate) fn parse<'a>(value: &'a str) -> Result<Authorization<'a>, Error> {
    let value = value.trim_matches([' ', '\t']);
    let (algorithm, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "Authorization header requires the '{ALGORITHM}' algorithm \
             (Authorization=<algorithm> Credential=..., SignedHeaders=..., Signature=...)."
        )));
    }

    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim_matches([' ', '\t']);
        if part.is_empty() {
            continue;
        }
        let Some((key, val)) = part.split_once('=') else {
            // Never echo the part: it might be (a piece of) the signature.
            return Err(incomplete(
                "Authorization header is malformed: a parameter is not a valid key=value pair \
                 (missing equal-sign).",
            ));
        };
        let slot = match key.trim_matches([' ', '\t']) {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.is_some() {
            return Err(incomplete(format!(
                "Authorization header has the '{}' parameter more than once.",
                key.trim()
            )));
        }
        *slot = Some(val.trim_matches([' ', '\t']));
    }

    let nonempty = |v: Option<&'a str>| v.filter(|s| !s.is_empty());
    let (credential, signed_headers, signature) = (
        nonempty(credential),
        nonempty(signed_headers),
        nonempty(signature),
    );
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        let missing: Vec<String> = [
            ("Credential", credential.is_none()),
            ("Signature", signature.is_none()),
            ("SignedHeaders", signed_headers.is_none()),
        ]
        .into_iter()
        .filter(|(_, absent)| *absent)
        .map(|(name, _)| format!("Authorization header requires '{name}' parameter."))
        .collect();
        return Err(incomplete(missing.join(" ")));
    };

    let mut parts = credential.splitn(5, '/');
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some(terminator)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(incomplete(
            "Credential is malformed: expected \
             '<AccessKeyId>/<yyyymmdd>/<region>/<service>/aws4_request'.",
        ));
    };
    if terminator != TERMINATOR {
        return Err(incomplete(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}'."
        )));
    }
    if access_key_id.is_empty() {
        return Err(incomplete("Credential has an empty access key id."));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(incomplete(
            "Credential should be scoped to a valid date in the format yyyymmdd.",
        ));
    }
    if region.is_empty() {
        return Err(incomplete("Credential should be scoped to a valid region."));
    }
    if service.is_empty() {
        return Err(incomplete(
            "Credential should be scoped to a valid service.",
        ));
    }
    if signed_headers.split(';').any(str::is_empty) {
        return Err(incomplete(
            "Authorization header has a malformed 'SignedHeaders' parameter: \
             expected lowercase header names separated by ';'.",
        ));
    }

    // `credential` = "<ak>/<scope>"; the scope is the rest, verbatim.
    let scope = &credential[access_key_id.len() + 1..];
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        scope,
        signed_headers,
        signature,
    })
}
