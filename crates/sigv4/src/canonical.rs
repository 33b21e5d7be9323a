//! Building blocks of the SigV4 canonical request (non-S3 flavour).

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Everything except the RFC 3986 unreserved characters `A-Za-z0-9-_.~`.
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// As [`QUERY_SET`], but keeping `/` (path separators survive the second encoding).
const PATH_SET: &AsciiSet = &QUERY_SET.remove(b'/');

/// Canonical URI of a raw (as-sent, percent-encoded) path, the way non-S3 signers build it:
/// remove `.`/`..` segments and empty segments (`//`), keep a trailing `/`, then
/// percent-encode the result once more (so `%2F` becomes `%252F`), keeping `/`.
pub(crate) fn uri(raw_path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in raw_path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut normalized = String::with_capacity(raw_path.len() + 1);
    for s in &segments {
        normalized.push('/');
        normalized.push_str(s);
    }
    let trailing_slash = raw_path.is_empty()
        || raw_path.ends_with('/')
        || raw_path == "."
        || raw_path == ".."
        || raw_path.ends_with("/.")
        || raw_path.ends_with("/..");
    if trailing_slash || normalized.is_empty() {
        normalized.push('/');
    }
    utf8_percent_encode(&normalized, PATH_SET).to_string()
}

/// Decodes one raw query component the way `application/x-www-form-urlencoded` does
/// (`+` is a space, then percent-decoding; invalid UTF-8 is replaced) and re-encodes it
/// with everything but the unreserved characters percent-encoded (space → `%20`).
fn requery(raw: &str) -> String {
    let plus_decoded: Cow<'_, str> = if raw.contains('+') {
        Cow::Owned(raw.replace('+', " "))
    } else {
        Cow::Borrowed(raw)
    };
    let decoded = percent_decode_str(&plus_decoded).decode_utf8_lossy();
    utf8_percent_encode(&decoded, QUERY_SET).to_string()
}

/// Canonical query string of a raw query (without `?`): each `k=v` decoded and re-encoded,
/// a parameter without `=` getting an empty value, empty parameters (`&&`) dropped,
/// sorted by encoded key then encoded value, joined with `&`.
pub(crate) fn query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (requery(k), requery(v))
        })
        .collect();
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw_query.len() + 16);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// The decoded keys of a raw query string (used to spot presigned-URL parameters).
pub(crate) fn query_keys(raw_query: &str) -> impl Iterator<Item = Cow<'_, str>> {
    raw_query.split('&').filter(|p| !p.is_empty()).map(|p| {
        let k = p.split_once('=').map_or(p, |(k, _)| k);
        percent_decode_str(k).decode_utf8_lossy()
    })
}

/// Appends a header value in canonical form: leading/trailing spaces (and tabs) removed,
/// internal runs of spaces collapsed into one.
pub(crate) fn push_header_value(out: &mut String, value: &str) {
    let mut previous_space = false;
    for c in value.trim_matches([' ', '\t']).chars() {
        if c == ' ' {
            if !previous_space {
                out.push(' ');
            }
            previous_space = true;
        } else {
            out.push(c);
            previous_space = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_normalization() {
        for (raw, want) in [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/a//b", "/a/b"),
            ("/a/./b/../c", "/a/c"),
            ("/a/b/..", "/a/"),
            ("/a/b/.", "/a/b/"),
            ("/..", "/"),
            ("/a/", "/a/"),
            ("/v1/package/versions/copy", "/v1/package/versions/copy"),
            ("/a%2Fb/c d", "/a%252Fb/c%20d"),
            ("/~user/x:y@z", "/~user/x%3Ay%40z"),
        ] {
            assert_eq!(uri(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn query_canonicalization() {
        for (raw, want) in [
            ("", ""),
            ("b=2&a=1", "a=1&b=2"),
            ("a=2&a=1", "a=1&a=2"),
            ("a&b=", "a=&b="),
            ("&&a=1&", "a=1"),
            ("p=%2Fnpm%2F%2A", "p=%2Fnpm%2F%2A"),
            ("p=/npm/*", "p=%2Fnpm%2F%2A"),
            ("p=a+b%2Bc", "p=a%20b%2Bc"),
            ("p=%7e~", "p=~~"),
            ("p=%C3%A9", "p=%C3%A9"),
            ("a-b=1&a=2", "a=2&a-b=1"),
        ] {
            assert_eq!(query(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn header_values() {
        for (raw, want) in [
            ("  a   b  ", "a b"),
            ("a", "a"),
            ("\ta b\t", "a b"),
            ("", ""),
        ] {
            let mut s = String::new();
            push_header_value(&mut s, raw);
            assert_eq!(s, want, "{raw:?}");
        }
    }
}
