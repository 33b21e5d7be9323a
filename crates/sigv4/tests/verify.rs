//! Verification tests: `aws-sigv4` as the signing oracle (random requests must verify,
//! mutated ones must not), every refusal type, and fixed known-answer vectors.

use std::time::SystemTime;

use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use hmac::{Hmac, Mac};
use reliquary_sigv4::{
    EMPTY_SHA256, Error, Request, SERVICE, Secret, Verified, signing_key, verify,
    verify_for_service,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::datetime;

// ---------------------------------------------------------------------------------------
// Deterministic pseudo-random generator (SplitMix64).

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
    /// A string of `min..max` characters from `alphabet`.
    fn word(&mut self, alphabet: &[u8], min: usize, max: usize) -> String {
        let len = min + self.below(max - min);
        self.string_from(alphabet, len)
    }
    fn string_from(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())] as char)
            .collect()
    }
}

const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Percent-encodes every byte of `s` (uppercase or, sometimes, lowercase hex digits).
fn encode_all(rng: &mut Rng, s: &str) -> String {
    let lower = rng.chance(20);
    s.bytes()
        .map(|b| {
            if lower {
                format!("%{b:02x}")
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One "unit" of a raw URI component: a plain character, or something percent-encoded.
fn raw_unit(rng: &mut Rng, raw_extra: &[u8]) -> String {
    match rng.below(10) {
        0..=4 => rng.string_from(UNRESERVED, 1),
        5 | 6 => rng.string_from(raw_extra, 1),
        7 => {
            let c = rng.pick(&["é", "ü", "日本", "€", "😀", "ß"]);
            encode_all(rng, c)
        }
        _ => {
            let c = rng.pick(&[
                "/", " ", "+", "*", "%", "&", "=", "?", "#", ":", "@", "~", "a",
            ]);
            encode_all(rng, c)
        }
    }
}

fn random_path(rng: &mut Rng) -> String {
    if rng.chance(40) {
        return rng
            .pick(&[
                "/v1/package/versions/copy",
                "/v1/package/versions/delete",
                "/v1/repository",
                "/v1/domains",
                "/v1/packages",
                "/v1/repository/endpoint",
                "/",
            ])
            .to_owned();
    }
    let mut path = String::new();
    for _ in 0..1 + rng.below(4) {
        path.push('/');
        match rng.below(12) {
            0 => {}              // empty segment: "//"
            1 => path.push('.'), // dot segment
            2 => path.push_str(".."),
            _ => {
                for _ in 0..1 + rng.below(8) {
                    path.push_str(&raw_unit(rng, b"!$&'()*+,;=:@"));
                }
            }
        }
    }
    if rng.chance(15) {
        path.push('/');
    }
    path
}

fn random_query_component(rng: &mut Rng) -> String {
    if rng.chance(10) {
        return String::new();
    }
    let mut s = String::new();
    if rng.chance(15) {
        s.push_str(rng.pick(&["%2Fnpm%2F%2A", "/npm/*", "a+b", "a%20b", "%2B", "%7E", "~"]));
    }
    for _ in 0..rng.below(8) {
        s.push_str(&raw_unit(rng, b"!$'()*,;:@/?+"));
    }
    s
}

fn random_query(rng: &mut Rng) -> String {
    let n = rng.below(6);
    let mut params = Vec::new();
    for _ in 0..n {
        let key = if rng.chance(60) {
            rng.pick(&[
                "domain",
                "domain-owner",
                "repository",
                "format",
                "namespace",
                "package",
                "max-results",
                "next-token",
                "prefix",
                "source-repository",
            ])
            .to_owned()
        } else {
            random_query_component(rng)
        };
        if rng.chance(10) {
            params.push(key); // no '='
        } else {
            let value = random_query_component(rng);
            params.push(format!("{key}={value}"));
        }
        if rng.chance(10) {
            // a repeated key
            let value = random_query_component(rng);
            let key = params
                .last()
                .and_then(|p| p.split('=').next())
                .unwrap_or_default()
                .to_owned();
            params.push(format!("{key}={value}"));
        }
    }
    if rng.chance(5) && !params.is_empty() {
        params.push(String::new()); // stray '&'
    }
    params.join("&")
}

fn random_header_value(rng: &mut Rng) -> String {
    let mut v = String::new();
    if rng.chance(30) {
        v.push_str(&" ".repeat(1 + rng.below(3)));
    }
    for _ in 0..rng.below(4) {
        v.push_str(&rng.word(UNRESERVED, 1, 7));
        match rng.below(6) {
            0 => v.push_str("   "),
            1 => v.push('\t'),
            2 => v.push_str(rng.pick(&[",", ";", "=", "/", "\"", ":"])),
            _ => v.push(' '),
        }
    }
    // Never end in a tab: HTTP parsers strip trailing whitespace (and aws-sigv4 would not).
    v.push_str(&rng.word(UNRESERVED, 1, 4));
    if rng.chance(30) {
        v.push_str(&" ".repeat(1 + rng.below(3)));
    }
    v
}

fn random_case(rng: &mut Rng, name: &str) -> String {
    match rng.below(3) {
        0 => name.to_owned(),
        1 => name.to_ascii_uppercase(),
        _ => name
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("-"),
    }
}

// ---------------------------------------------------------------------------------------
// Signing with the oracle.

/// A request as a client would send it, before and after signing.
#[derive(Clone, Debug)]
struct Case {
    method: String,
    host: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Sign with `x-amz-content-sha256` (precomputed payload hash).
    content_sha_header: bool,
    session_token: Option<String>,
    region: String,
    access_key_id: String,
    secret: String,
    time: OffsetDateTime,
}

impl Case {
    fn uri(&self) -> String {
        if self.query.is_empty() {
            format!("https://{}{}", self.host, self.path)
        } else {
            format!("https://{}{}?{}", self.host, self.path, self.query)
        }
    }

    fn payload_sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.body))
    }

    /// Signs with `aws-sigv4` for `service`; returns all request headers as sent.
    fn sign_for(&self, service: &str) -> Vec<(String, String)> {
        let creds = aws_credential_types::Credentials::new(
            &self.access_key_id,
            &self.secret,
            self.session_token.clone(),
            None,
            "test",
        );
        let identity = creds.into();
        let mut settings = SigningSettings::default();
        if self.content_sha_header {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::from(self.time))
            .settings(settings)
            .build()
            .expect("signing params")
            .into();
        let body = if self.content_sha_header {
            SignableBody::Precomputed(self.payload_sha256())
        } else {
            SignableBody::Bytes(&self.body)
        };
        let signable = SignableRequest::new(
            &self.method,
            self.uri(),
            self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            body,
        )
        .expect("signable request");
        let (instructions, _signature) = sign(signable, &params).expect("sign").into_parts();
        let mut headers = self.headers.clone();
        for (name, value) in instructions.headers() {
            headers.push((name.to_owned(), value.to_owned()));
        }
        // Sent but never signed.
        headers.push(("User-Agent".into(), "aws-sdk-rust/1.0 test".into()));
        headers
    }

    fn sign(&self) -> Vec<(String, String)> {
        self.sign_for(SERVICE)
    }

    fn credentials(&self) -> impl Fn(&str) -> Option<Secret> + use<> {
        let (ak, secret) = (self.access_key_id.clone(), self.secret.clone());
        move |id: &str| (id == ak).then(|| Secret::new(secret.clone()))
    }
}

/// Verifies the pieces of a request with `verify`.
fn check(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    payload_sha256: &str,
    creds: &dyn reliquary_sigv4::Credentials,
    now: OffsetDateTime,
) -> Result<Verified, Error> {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let req = Request {
        method,
        path,
        query,
        headers: &headers,
        payload_sha256,
    };
    verify(&req, creds, now)
}

fn check_case(
    case: &Case,
    headers: &[(String, String)],
    now: OffsetDateTime,
) -> Result<Verified, Error> {
    check(
        &case.method,
        &case.path,
        &case.query,
        headers,
        &case.payload_sha256(),
        &case.credentials(),
        now,
    )
}

fn random_case_for(rng: &mut Rng) -> Case {
    let host = rng
        .pick(&[
            "codeartifact.us-east-1.amazonaws.com",
            "localhost:8080",
            "reliquary.example.com",
            "127.0.0.1:3000",
        ])
        .to_owned();
    let mut headers = vec![(random_case(rng, "host"), host.clone())];
    if rng.chance(60) {
        headers.push((
            random_case(rng, "content-type"),
            rng.pick(&[
                "application/json",
                "application/x-amz-json-1.1",
                "application/octet-stream",
            ])
            .to_owned(),
        ));
    }
    for _ in 0..rng.below(3) {
        let name = format!("x-test-{}", rng.word(LOWER, 1, 6));
        headers.push((random_case(rng, &name), random_header_value(rng)));
    }
    if rng.chance(40) {
        // repeated header: values are joined with ',' in order
        let name = rng.pick(&["x-multi", "accept", "x-amz-meta-tag"]);
        for _ in 0..2 + rng.below(2) {
            headers.push((random_case(rng, name), random_header_value(rng)));
        }
    }
    if rng.chance(10) {
        headers.push(("x-empty".into(), String::new()));
    }
    // Shuffle (Fisher-Yates) so that the signed order differs from the sent order.
    for i in (1..headers.len()).rev() {
        let j = rng.below(i + 1);
        headers.swap(i, j);
    }
    let body_len = rng.pick(&[&0usize, &0, &2, &17, &64]);
    let body = (0..*body_len).map(|_| rng.next() as u8).collect();
    let region = if rng.chance(70) {
        rng.pick(&["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1"])
            .to_owned()
    } else {
        rng.word(LOWER, 1, 13)
    };
    // Between 2001-09-09 and 2033-05-18, whole seconds.
    let secs = 1_000_000_000 + (rng.next() % 1_000_000_000) as i64;
    Case {
        method: rng
            .pick(&["GET", "POST", "PUT", "DELETE", "PATCH"])
            .to_owned(),
        host,
        path: random_path(rng),
        query: random_query(rng),
        headers,
        body,
        content_sha_header: rng.chance(30),
        session_token: rng.chance(15).then(|| rng.string_from(UPPER_ALNUM, 40)),
        region,
        access_key_id: format!("AKIA{}", rng.string_from(UPPER_ALNUM, 16)),
        secret: rng.string_from(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            40,
        ),
        time: OffsetDateTime::from_unix_timestamp(secs).expect("valid timestamp"),
    }
}

fn assert_mismatch(result: Result<Verified, Error>, what: &str, case: &Case) {
    match result {
        Err(Error::SignatureDoesNotMatch) => {}
        other => panic!("{what}: expected SignatureDoesNotMatch, got {other:?} for {case:#?}"),
    }
}

fn set_header(headers: &mut [(String, String)], name: &str, f: impl Fn(&str) -> String) {
    let h = headers
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .expect("header present");
    h.1 = f(&h.1);
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .expect("header present")
}

// ---------------------------------------------------------------------------------------
// Oracle tests.

#[test]
fn random_requests_signed_by_aws_sigv4_verify_and_mutations_do_not() {
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    for i in 0..250 {
        let case = random_case_for(&mut rng);
        let headers = case.sign();

        // Accepted at the signing time, and anywhere within ±14 minutes of it.
        let verified = check_case(&case, &headers, case.time)
            .unwrap_or_else(|e| panic!("case {i}: {e:?} ({}) for {case:#?}", e));
        assert_eq!(verified.access_key_id, case.access_key_id);
        assert_eq!(verified.region, case.region);
        assert_eq!(
            verified.date,
            case.time
                .format(time::macros::format_description!("[year][month][day]"))
                .expect("format")
        );
        let skew = time::Duration::seconds(rng.below(14 * 60 * 2 + 1) as i64 - 14 * 60);
        check_case(&case, &headers, case.time + skew)
            .unwrap_or_else(|e| panic!("case {i} skew {skew}: {e:?}"));

        // One byte of the signature.
        let mut h = headers.clone();
        let pos = rng.below(64);
        let flip = rng.below(15);
        set_header(&mut h, "authorization", |v| {
            let sig_start = v.find("Signature=").expect("Signature=") + "Signature=".len();
            let mut bytes = v.as_bytes().to_vec();
            let hexdigits = b"0123456789abcdef";
            let old = hexdigits
                .iter()
                .position(|&d| d == bytes[sig_start + pos])
                .expect("hex");
            bytes[sig_start + pos] = hexdigits[(old + 1 + flip) % 16];
            String::from_utf8(bytes).expect("ascii")
        });
        assert_mismatch(check_case(&case, &h, case.time), "signature byte", &case);

        // The method.
        let mut c = case.clone();
        c.method = if c.method == "GET" { "HEAD" } else { "GET" }.into();
        assert_mismatch(check_case(&c, &headers, case.time), "method", &case);

        // A signed header value (host, or another signed header).
        let signed: Vec<String> = {
            let auth = header(&headers, "authorization");
            let sh = auth.split("SignedHeaders=").nth(1).expect("SignedHeaders");
            let sh = sh.split(',').next().expect("list");
            sh.split(';')
                .filter(|n| *n != "x-amz-date")
                .map(str::to_owned)
                .collect()
        };
        let name = &signed[rng.below(signed.len())];
        let mut h = headers.clone();
        set_header(&mut h, name, |v| format!("{v}x"));
        assert_mismatch(
            check_case(&case, &h, case.time),
            &format!("header {name}"),
            &case,
        );

        // A query value (or an added parameter).
        let mut c = case.clone();
        if c.query.is_empty() {
            c.query = "a=b".into();
        } else {
            let mut params: Vec<String> = c.query.split('&').map(str::to_owned).collect();
            let j = rng.below(params.len());
            if params[j].is_empty() {
                params[j] = "x".into();
            } else if params[j].contains('=') {
                params[j].push('Z');
            } else {
                params[j].push_str("=Z");
            }
            c.query = params.join("&");
        }
        assert_mismatch(check_case(&c, &headers, case.time), "query", &case);

        // The path.
        let mut c = case.clone();
        c.path.push('x');
        assert_mismatch(check_case(&c, &headers, case.time), "path", &case);

        // The payload hash.
        let hash = case.payload_sha256();
        let mut other = hash.clone().into_bytes();
        let k = rng.below(64);
        other[k] = if other[k] == b'0' { b'1' } else { b'0' };
        let other = String::from_utf8(other).expect("ascii");
        assert_mismatch(
            check(
                &case.method,
                &case.path,
                &case.query,
                &headers,
                &other,
                &case.credentials(),
                case.time,
            ),
            "payload hash",
            &case,
        );

        // The secret.
        let wrong = {
            let ak = case.access_key_id.clone();
            let secret = format!("{}x", case.secret);
            move |id: &str| (id == ak).then(|| Secret::new(secret.clone()))
        };
        assert_mismatch(
            check(
                &case.method,
                &case.path,
                &case.query,
                &headers,
                &hash,
                &wrong,
                case.time,
            ),
            "secret",
            &case,
        );
    }
}

// ---------------------------------------------------------------------------------------
// Refusals.

fn simple_case() -> Case {
    Case {
        method: "POST".into(),
        host: "codeartifact.us-west-2.amazonaws.com".into(),
        path: "/v1/package/versions/copy".into(),
        query: "domain=my-domain&repository=npm-store&format=npm&package=lodash".into(),
        headers: vec![
            ("Host".into(), "codeartifact.us-west-2.amazonaws.com".into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        body: br#"{"versions":["4.17.21"]}"#.to_vec(),
        content_sha_header: false,
        session_token: None,
        region: "us-west-2".into(),
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        time: datetime!(2025-01-01 00:00:00 UTC),
    }
}

fn expect_err(result: Result<Verified, Error>) -> Error {
    match result {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn simple_case_verifies() {
    let case = simple_case();
    let headers = case.sign();
    let v = check_case(&case, &headers, case.time).expect("verifies");
    assert_eq!(
        v,
        Verified {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            region: "us-west-2".into(),
            date: "20250101".into(),
        }
    );
}

#[test]
fn missing_authorization() {
    let case = simple_case();
    let headers: Vec<_> = case
        .sign()
        .into_iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("authorization"))
        .collect();
    let e = expect_err(check_case(&case, &headers, case.time));
    assert_eq!(e, Error::MissingAuthenticationToken);
    assert_eq!(e.error_type(), "MissingAuthenticationTokenException");
    assert_eq!(e.status(), 403);
    assert_eq!(e.to_string(), "Missing Authentication Token");
}

#[test]
fn presigned_query_is_refused() {
    let mut case = simple_case();
    let headers: Vec<_> = case
        .sign()
        .into_iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("authorization"))
        .collect();
    case.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00".into();
    let e = expect_err(check_case(&case, &headers, case.time));
    assert_eq!(e.error_type(), "IncompleteSignatureException");
    assert_eq!(e.status(), 400);
}

#[test]
fn unknown_access_key() {
    let case = simple_case();
    let headers = case.sign();
    let nobody = |_: &str| None::<Secret>;
    let e = expect_err(check(
        &case.method,
        &case.path,
        &case.query,
        &headers,
        &case.payload_sha256(),
        &nobody,
        case.time,
    ));
    assert_eq!(e, Error::UnrecognizedClient);
    assert_eq!(e.error_type(), "UnrecognizedClientException");
    assert_eq!(e.status(), 403);
    assert_eq!(
        e.to_string(),
        "The security token included in the request is invalid."
    );
}

#[test]
fn clock_skew() {
    let case = simple_case();
    let headers = case.sign();
    let min = time::Duration::minutes(1);

    for ok in [-15 * min, -14 * min, 14 * min, 15 * min] {
        check_case(&case, &headers, case.time + ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }

    // Signed at 00:00:00, server time 00:16:00.
    let e = expect_err(check_case(&case, &headers, case.time + 16 * min));
    assert_eq!(e.error_type(), "InvalidSignatureException");
    assert_eq!(e.status(), 403);
    assert_eq!(
        e.to_string(),
        "Signature expired: 20250101T000000Z is now earlier than 20250101T000100Z \
         (20250101T001600Z - 15 min.)"
    );
    // Sub-second server time does not produce odd messages.
    let e = expect_err(check_case(
        &case,
        &headers,
        case.time + 30 * min + time::Duration::milliseconds(500),
    ));
    assert_eq!(
        e.to_string(),
        "Signature expired: 20250101T000000Z is now earlier than 20250101T001500Z \
         (20250101T003000Z - 15 min.)"
    );

    let e = expect_err(check_case(&case, &headers, case.time - 16 * min));
    assert_eq!(e.error_type(), "InvalidSignatureException");
    assert_eq!(
        e.to_string(),
        "Signature not yet current: 20250101T000000Z is still later than 20241231T235900Z \
         (20241231T234400Z + 15 min.)"
    );
}

#[test]
fn wrong_service_scope() {
    let case = simple_case();
    let headers = case.sign_for("s3");
    let e = expect_err(check_case(&case, &headers, case.time));
    assert_eq!(e.error_type(), "InvalidSignatureException");
    assert_eq!(e.status(), 403);
    assert_eq!(
        e.to_string(),
        "Credential should be scoped to correct service: 'codeartifact'."
    );
}

#[test]
fn scope_date_must_match_request_day() {
    let case = simple_case();
    let mut headers = case.sign();
    set_header(&mut headers, "authorization", |v| {
        v.replace("/20250101/", "/20250102/")
    });
    let e = expect_err(check_case(&case, &headers, case.time));
    assert_eq!(e.error_type(), "InvalidSignatureException");
    assert!(e.to_string().contains("'20250102' != '20250101'"), "{e}");
}

#[test]
fn mismatch_message() {
    let case = simple_case();
    let headers = case.sign();
    let mut c = case.clone();
    c.method = "PUT".into();
    let e = expect_err(check_case(&c, &headers, case.time));
    assert_eq!(e.error_type(), "InvalidSignatureException");
    assert_eq!(e.status(), 403);
    assert_eq!(
        e.to_string(),
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. \
         Consult the service documentation for details."
    );
}

#[test]
fn malformed_authorization_headers() {
    let case = simple_case();
    let signed = case.sign();
    let auth = header(&signed, "authorization").to_owned();
    let signature = auth.rsplit("Signature=").next().expect("sig").to_owned();
    let cred = "Credential=AKIAIOSFODNN7EXAMPLE/20250101/us-west-2/codeartifact/aws4_request";
    let sh = "SignedHeaders=content-type;host;x-amz-date";
    let sig = format!("Signature={signature}");
    let cases: Vec<(String, &str)> = vec![
        (format!("AWS4-HMAC-SHA256 {sh}, {sig}"), "'Credential'"),
        (format!("AWS4-HMAC-SHA256 {cred}, {sig}"), "'SignedHeaders'"),
        (format!("AWS4-HMAC-SHA256 {cred}, {sh}"), "'Signature'"),
        (
            format!("AWS4-HMAC-SHA256 {cred}, {sh}, Signature="),
            "'Signature'",
        ),
        ("AWS4-HMAC-SHA256".to_owned(), "'Credential'"),
        ("AWS4-HMAC-SHA256 ".to_owned(), "'Signature'"),
        (format!("AWS4-HMAC-SHA1 {cred}, {sh}, {sig}"), "algorithm"),
        (format!("Bearer {signature}"), "algorithm"),
        (
            format!("AWS4-HMAC-SHA256 {cred} {sh}, {sig}"),
            "'SignedHeaders'",
        ),
        (
            format!("AWS4-HMAC-SHA256 {cred}, {sh}, {sig}, {sig}"),
            "more than once",
        ),
        (
            format!("AWS4-HMAC-SHA256 {cred}, {sh}, {signature}"),
            "equal-sign",
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250101/us-west-2/codeartifact, {sh}, {sig}"
            ),
            "malformed",
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250101/us-west-2/codeartifact/aws4_reqest, {sh}, {sig}"
            ),
            "terminator",
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/2025-01-01/us-west-2/codeartifact/aws4_request, {sh}, {sig}"
            ),
            "date",
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250101//codeartifact/aws4_request, {sh}, {sig}"
            ),
            "region",
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential=/20250101/us-west-2/codeartifact/aws4_request, {sh}, {sig}"
            ),
            "access key",
        ),
        (
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host;;x-amz-date, {sig}"),
            "SignedHeaders",
        ),
        (
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=content-type;x-amz-date, {sig}"),
            "'Host' must be a 'SignedHeader'",
        ),
    ];
    for (authorization, needle) in cases {
        let mut headers = signed.clone();
        set_header(&mut headers, "authorization", |_| authorization.clone());
        let e = expect_err(check_case(&case, &headers, case.time));
        assert_eq!(
            e.error_type(),
            "IncompleteSignatureException",
            "{authorization}: {e:?}"
        );
        assert_eq!(e.status(), 400);
        let message = e.to_string();
        assert!(message.contains(needle), "{authorization}: {message}");
        assert!(!message.contains(&signature), "signature echoed: {message}");
    }

    // The parsing is tolerant of parameter order and missing spaces; unknown parameters
    // are ignored.
    for authorization in [
        format!("AWS4-HMAC-SHA256 {sig},{sh},{cred}"),
        format!("AWS4-HMAC-SHA256  {cred} , {sh} ,{sig}"),
        format!("AWS4-HMAC-SHA256 {cred}, {sh}, Foo=bar, {sig}"),
    ] {
        let mut headers = signed.clone();
        set_header(&mut headers, "authorization", |_| authorization.clone());
        check_case(&case, &headers, case.time).unwrap_or_else(|e| panic!("{authorization}: {e}"));
    }
}

#[test]
fn two_authorization_headers() {
    let case = simple_case();
    let mut headers = case.sign();
    let auth = header(&headers, "authorization").to_owned();
    headers.push(("authorization".into(), auth));
    let e = expect_err(check_case(&case, &headers, case.time));
    assert_eq!(e.error_type(), "IncompleteSignatureException");
}

#[test]
fn missing_or_bad_date() {
    let case = simple_case();
    let signed = case.sign();

    let headers: Vec<_> = signed
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("x-amz-date"))
        .cloned()
        .collect();
    let e = expect_err(check_case(&case, &headers, case.time));
    assert_eq!(e.error_type(), "IncompleteSignatureException");
    assert_eq!(e.status(), 400);
    assert_eq!(
        e.to_string(),
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    );

    let mut headers = signed.clone();
    set_header(&mut headers, "x-amz-date", |_| {
        "2025-01-01T00:00:00Z".into()
    });
    let e = expect_err(check_case(&case, &headers, case.time));
    assert_eq!(e.error_type(), "IncompleteSignatureException");
    assert!(e.to_string().contains("ISO-8601"), "{e}");

    let mut headers = signed.clone();
    headers.push(("X-Amz-Date".into(), "20250101T000000Z".into()));
    let e = expect_err(check_case(&case, &headers, case.time));
    assert_eq!(e.error_type(), "IncompleteSignatureException");
}

#[test]
fn signed_header_absent_from_request() {
    let case = simple_case();
    let headers: Vec<_> = case
        .sign()
        .into_iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("content-type"))
        .collect();
    let e = expect_err(check_case(&case, &headers, case.time));
    assert_eq!(e, Error::SignatureDoesNotMatch);
}

#[test]
fn header_names_any_case_and_unsigned_headers_ignored() {
    let case = simple_case();
    let mut headers = case.sign();
    for (n, _) in &mut headers {
        *n = n.to_ascii_uppercase();
    }
    headers.push(("X-Forwarded-For".into(), "10.0.0.1".into()));
    check_case(&case, &headers, case.time).expect("verifies");
}

#[test]
fn secret_debug_is_redacted() {
    let s = Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    let d = format!("{s:?}");
    assert!(!d.contains("wJalr"), "{d}");
}

#[test]
fn empty_sha256_constant() {
    assert_eq!(EMPTY_SHA256, hex::encode(Sha256::digest(b"")));
}

// ---------------------------------------------------------------------------------------
// Known-answer vectors (independent of aws-sigv4).

/// AWS documentation example for deriving a signing key.
#[test]
fn signing_key_known_answer() {
    let key = signing_key(
        &Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        "20120215",
        "us-east-1",
        "iam",
    );
    assert_eq!(
        hex::encode(key),
        "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
    );
}

/// The `get-vanilla` case of the AWS SigV4 test suite (service `service`).
#[test]
fn aws_test_suite_get_vanilla() {
    let headers = [
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", "20150830T123600Z"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
    ];
    let req = Request {
        method: "GET",
        path: "/",
        query: "",
        headers: &headers,
        payload_sha256: EMPTY_SHA256,
    };
    let creds = |id: &str| {
        (id == "AKIDEXAMPLE").then(|| Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))
    };
    let now = datetime!(2015-08-30 12:36:00 UTC);
    let v = verify_for_service(&req, &creds, now, "service").expect("get-vanilla verifies");
    assert_eq!(v.region, "us-east-1");
    // ... and `verify` insists on `codeartifact`.
    let e = expect_err(verify(&req, &creds, now));
    assert_eq!(e.error_type(), "InvalidSignatureException");
}

/// A request using the `Date` header (which `aws-sigv4` never produces), signed by a
/// canonical request written out by hand here.
#[test]
fn date_header_fallback_hand_signed() {
    let secret = Secret::new("hand-made-secret");
    let body_hash = hex::encode(Sha256::digest(b"{}"));
    let canonical_request = format!(
        "POST\n\
         /v1/repository%2520x/\n\
         domain=d&repository=a%20b%2Bc&z=\n\
         content-type:application/json\n\
         date:Wed, 01 Jan 2025 10:20:30 GMT\n\
         host:localhost:8080\n\
         x-multi:a b,c\n\
         \n\
         content-type;date;host;x-multi\n\
         {body_hash}"
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n20250101T102030Z\n20250101/eu-central-1/codeartifact/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let key = signing_key(&secret, "20250101", "eu-central-1", SERVICE);
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("hmac");
    mac.update(string_to_sign.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=AK/20250101/eu-central-1/codeartifact/aws4_request, \
         SignedHeaders=content-type;date;host;x-multi, Signature={signature}"
    );
    let headers = [
        ("x-multi", "  a   b "),
        ("Date", "Wed, 01 Jan 2025 10:20:30 GMT"),
        ("Authorization", authorization.as_str()),
        ("HOST", "localhost:8080"),
        ("Content-Type", "application/json"),
        ("X-Multi", "c"),
    ];
    let req = Request {
        method: "POST",
        path: "/v1//./repository%20x/",
        query: "z&repository=a+b%2bc&domain=d",
        headers: &headers,
        payload_sha256: &body_hash,
    };
    let creds = |id: &str| (id == "AK").then(|| secret.clone());
    let v = verify(&req, &creds, datetime!(2025-01-01 10:25:00 UTC)).expect("verifies");
    assert_eq!(v.region, "eu-central-1");
    assert_eq!(v.date, "20250101");
}

/// A CodeArtifact request signed once with `aws-sigv4` (at 2025-01-01T00:00:00Z), frozen.
#[test]
fn codeartifact_known_answer() {
    let case = simple_case();
    let body_hash = case.payload_sha256();
    let headers = [
        ("Host", "codeartifact.us-west-2.amazonaws.com"),
        ("Content-Type", "application/json"),
        ("x-amz-date", "20250101T000000Z"),
        ("authorization", KNOWN_AUTHORIZATION),
    ];
    let req = Request {
        method: "POST",
        path: "/v1/package/versions/copy",
        query: "domain=my-domain&repository=npm-store&format=npm&package=lodash",
        headers: &headers,
        payload_sha256: &body_hash,
    };
    // And it is what aws-sigv4 produces today.
    assert_eq!(header(&case.sign(), "authorization"), KNOWN_AUTHORIZATION);
    verify(&req, &case.credentials(), case.time).expect("verifies");
}

const KNOWN_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 \
    Credential=AKIAIOSFODNN7EXAMPLE/20250101/us-west-2/codeartifact/aws4_request, \
    SignedHeaders=content-type;host;x-amz-date, \
    Signature=d2c6bf476ce59938c5d46e15c52d695e48435847fb822fd39f0c50f36bb40726";
