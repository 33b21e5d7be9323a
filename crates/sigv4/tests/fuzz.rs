//! Property tests: whatever the Authorization, date, query and headers of a request, the
//! verifier answers with a verdict (an error, or the principal) and never panics.
//! Longer: `PROPTEST_CASES=100000 cargo test -p reliquary-sigv4 --test fuzz --release`.

use proptest::prelude::*;
use reliquary_sigv4::{Credentials, Request, Secret, check_before_body, verify};
use time::macros::datetime;

struct One;

impl Credentials for One {
    fn secret_for(&self, access_key_id: &str) -> Option<Secret> {
        (access_key_id == "AKIDEXAMPLE").then(|| Secret::new("secret"))
    }
}

fn authorization() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,200}",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2026113[0-9]/[a-z\\-0-9]{0,12}/codeartifact/aws4_request, SignedHeaders=[a-z;\\-]{0,30}, Signature=[0-9a-f]{0,70}",
        "AWS4-HMAC-SHA256 [A-Za-z=/,; ]{0,120}",
    ]
}

proptest! {
    #[test]
    fn any_request_gets_a_verdict(
        auth in authorization(),
        date in prop_oneof![".{0,24}", "2026113[0-9]T[0-9]{6}Z"],
        path in "/[a-zA-Z0-9%/\\.\\-~_]{0,40}",
        query in "[a-zA-Z0-9%=&\\-_\\.]{0,40}",
        extra in proptest::collection::vec(("[a-zA-Z\\-]{1,12}", ".{0,20}"), 0..4),
        payload in "[0-9a-fA-Z\\-]{0,70}",
    ) {
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("x-amz-date", date.as_str()),
            ("host", "127.0.0.1:8787"),
        ];
        headers.extend(extra.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let request = Request {
            method: "POST",
            path: &path,
            query: &query,
            headers: &headers,
            payload_sha256: &payload,
        };
        let now = datetime!(2026-11-30 12:00 UTC);
        prop_assert!(verify(&request, &One, now).is_err(), "nothing random is ever signed right");
        let _ = check_before_body(&request, &One, now);
    }
}
