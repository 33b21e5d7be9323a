//! PEP 691 content negotiation between the JSON and HTML forms of the simple API.

/// The PEP 691 JSON form.
pub const JSON_MEDIA_TYPE: &str = "application/vnd.pypi.simple.v1+json";
/// The PEP 691 name for the HTML form.
pub const HTML_MEDIA_TYPE: &str = "application/vnd.pypi.simple.v1+html";
/// The HTML form under its PEP 503 media type.
pub const LEGACY_HTML_MEDIA_TYPE: &str = "text/html";

const CANDIDATES: [&str; 3] = [JSON_MEDIA_TYPE, HTML_MEDIA_TYPE, LEGACY_HTML_MEDIA_TYPE];

/// The media type to answer with, given the request's `Accept` header (PEP 691):
/// the candidate with the highest q-value, each taking the q of the most specific range that
/// matches it (`…latest+json`/`…latest+html` stand for the v1 types). Ties go to a candidate
/// named explicitly over one matched by a wildcard; among explicit ones JSON wins, then
/// `application/vnd.pypi.simple.v1+html`; among wildcard ones `text/html` wins, then JSON.
/// No header, an empty one, or one accepting none of them (or only with q=0) gives
/// `text/html`.
#[must_use]
pub fn negotiate(accept: Option<&str>) -> &'static str {
    let Some(accept) = accept else {
        return LEGACY_HTML_MEDIA_TYPE;
    };
    // For each candidate: (specificity, q in thousandths) of the most specific matching range.
    let mut matched: [Option<(u8, u16)>; 3] = [None; 3];
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let media = match media.as_str() {
            "application/vnd.pypi.simple.latest+json" => JSON_MEDIA_TYPE.to_owned(),
            "application/vnd.pypi.simple.latest+html" => HTML_MEDIA_TYPE.to_owned(),
            _ => media,
        };
        if media.is_empty() {
            continue;
        }
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, v)| v.trim().parse::<f32>().ok())
            .filter(|q| q.is_finite())
            .map_or(0, |q| (q.clamp(0.0, 1.0) * 1000.0).round() as u16);
        for (candidate, slot) in CANDIDATES.iter().zip(matched.iter_mut()) {
            let specificity = if media == *candidate {
                3
            } else if media == "*/*" {
                1
            } else if media
                .strip_suffix("/*")
                .is_some_and(|kind| candidate.split('/').next() == Some(kind))
            {
                2
            } else {
                continue;
            };
            match slot {
                Some((s, best)) if *s == specificity => *best = (*best).max(q),
                Some((s, _)) if *s > specificity => {}
                _ => *slot = Some((specificity, q)),
            }
        }
    }
    let preference = |index: usize, specificity: u8| -> u8 {
        match (specificity == 3, index) {
            (true, i) => 2 - i as u8,
            (false, 2) => 2,
            (false, i) => 1 - i as u8,
        }
    };
    CANDIDATES
        .iter()
        .zip(matched)
        .enumerate()
        .filter_map(|(i, (candidate, m))| {
            m.filter(|(_, q)| *q > 0)
                .map(|(s, q)| ((q, s, preference(i, s)), *candidate))
        })
        .max_by_key(|(key, _)| *key)
        .map_or(LEGACY_HTML_MEDIA_TYPE, |(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers() {
        let cases: &[(Option<&str>, &str)] = &[
            (None, LEGACY_HTML_MEDIA_TYPE),
            (Some(""), LEGACY_HTML_MEDIA_TYPE),
            (
                Some(
                    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01",
                ),
                JSON_MEDIA_TYPE,
            ),
            (Some("text/html"), LEGACY_HTML_MEDIA_TYPE),
            (Some("application/vnd.pypi.simple.v1+html"), HTML_MEDIA_TYPE),
            (Some("application/vnd.pypi.simple.v1+json"), JSON_MEDIA_TYPE),
            (Some("APPLICATION/VND.PYPI.SIMPLE.V1+JSON"), JSON_MEDIA_TYPE),
            (
                Some("application/vnd.pypi.simple.latest+json"),
                JSON_MEDIA_TYPE,
            ),
            (
                Some("application/vnd.pypi.simple.latest+html"),
                HTML_MEDIA_TYPE,
            ),
            (Some("*/*"), LEGACY_HTML_MEDIA_TYPE),
            (Some("text/*"), LEGACY_HTML_MEDIA_TYPE),
            (Some("application/*"), JSON_MEDIA_TYPE),
            (Some("application/json"), LEGACY_HTML_MEDIA_TYPE),
            (
                Some("application/vnd.pypi.simple.v2+json"),
                LEGACY_HTML_MEDIA_TYPE,
            ),
            (
                Some("application/vnd.pypi.simple.v1+json; q=0"),
                LEGACY_HTML_MEDIA_TYPE,
            ),
            (
                Some("application/vnd.pypi.simple.v1+json; q=0.5, text/html"),
                LEGACY_HTML_MEDIA_TYPE,
            ),
            (
                Some("text/html, application/vnd.pypi.simple.v1+json"),
                JSON_MEDIA_TYPE,
            ),
            (
                Some("application/vnd.pypi.simple.v1+json;q=0.2, */*;q=0.1"),
                JSON_MEDIA_TYPE,
            ),
            (Some("text/html, */*"), LEGACY_HTML_MEDIA_TYPE),
            (
                Some("*/*, application/vnd.pypi.simple.v1+json;q=0"),
                LEGACY_HTML_MEDIA_TYPE,
            ),
            (
                Some(
                    "application/vnd.pypi.simple.v1+html;q=0.9, application/vnd.pypi.simple.v1+json;q=0.8",
                ),
                HTML_MEDIA_TYPE,
            ),
            (Some("text/html; q=abc"), LEGACY_HTML_MEDIA_TYPE),
        ];
        for &(accept, expected) in cases {
            assert_eq!(negotiate(accept), expected, "{accept:?}");
        }
    }
}
