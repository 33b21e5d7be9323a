//! `Accept` negotiation between the full and the abbreviated packument.

use super::ABBREVIATED_MEDIA_TYPE;

/// Whether the client prefers the abbreviated packument: it names
/// `application/vnd.npm.install-v1+json` explicitly with a q-value above 0 and at least that of
/// `application/json` (which `application/*` and `*/*` also match, the most specific range
/// deciding). npm sends `application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8,
/// */*` for installs and `application/json` when it needs the full document.
#[must_use]
pub fn wants_abbreviated(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let mut abbreviated: Option<f32> = None;
    // (specificity, q) of the most specific range matching application/json.
    let mut json: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, v)| v.trim().parse::<f32>().ok())
            .unwrap_or(0.0);
        let specificity = match media.as_str() {
            ABBREVIATED_MEDIA_TYPE => {
                abbreviated = Some(abbreviated.map_or(q, |a| a.max(q)));
                continue;
            }
            "application/json" => 3,
            "application/*" => 2,
            "*/*" => 1,
            _ => continue,
        };
        if json.is_none_or(|(s, _)| specificity > s) {
            json = Some((specificity, q));
        }
    }
    let json_q = json.map_or(0.0, |(_, q)| q);
    abbreviated.is_some_and(|q| q > 0.0 && q >= json_q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_npm_and_others_send() {
        let cases: &[(Option<&str>, bool)] = &[
            (
                Some("application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"),
                true,
            ),
            (Some("application/vnd.npm.install-v1+json"), true),
            (
                Some("application/vnd.npm.install-v1+json;q=1.0,application/json;q=0.8,*/*"),
                true,
            ),
            (Some("APPLICATION/VND.NPM.INSTALL-V1+JSON"), true),
            (
                Some("application/vnd.npm.install-v1+json, application/json"),
                true,
            ),
            (Some("application/json"), false),
            (Some("*/*"), false),
            (Some(""), false),
            (None, false),
            (
                Some("application/vnd.npm.install-v1+json; q=0.5, application/json"),
                false,
            ),
            (
                Some("application/vnd.npm.install-v1+json; q=0.5, */*; q=0.1"),
                true,
            ),
            (
                Some("application/vnd.npm.install-v1+json; q=0.5, application/json; q=0.1, */*"),
                true,
            ),
            (Some("application/vnd.npm.install-v1+json; q=0"), false),
        ];
        for &(accept, expected) in cases {
            assert_eq!(wants_abbreviated(accept), expected, "{accept:?}");
        }
    }
}
