//! Reading an upstream index's project page: PEP 691 JSON or PEP 503 HTML.

use serde_json::Value;
use url::Url;

use super::{PypiError, SimpleFile};

/// The files of an upstream project page.
///
/// The body is read as PEP 691 JSON when `content_type` is a JSON type (`…+json`,
/// `application/json`), as PEP 503 HTML when it is an HTML type, and otherwise by its first
/// non-blank byte (`{` for JSON). A page declaring an API major version other than 1 (PEP 629:
/// `meta.api-version`, or `<meta name="pypi:repository-version">`) is refused. URLs are
/// resolved against `base_url` (and an HTML `<base href>`) and lose their fragment; the
/// SHA-256 comes from `hashes.sha256` or an `#sha256=` fragment (empty when absent).
/// `yanked` true/`data-yanked` without value gives `Some("")`; `core-metadata` (else
/// `dist-info-metadata`, `data-core-metadata`, `data-dist-info-metadata`) gives the metadata
/// file's SHA-256, `Some("")` when it exists without one. HTML pages carry no size (0) nor
/// upload time; an anchor without text is named by its URL's last path segment.
///
/// # Errors
/// [`PypiError::InvalidPage`] when `base_url` is not an absolute URL, the JSON does not parse
/// or lacks `files`, a file lacks `filename` or `url`, a URL cannot be resolved, or the API
/// version is not 1.x.
pub fn parse_project_page(
    body: &[u8],
    content_type: &str,
    base_url: &str,
) -> Result<Vec<SimpleFile>, PypiError> {
    let base = Url::parse(base_url)
        .map_err(|e| PypiError::InvalidPage(format!("base URL {base_url:?}: {e}")))?;
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let is_json = if media.ends_with("+json") || media == "application/json" {
        true
    } else if media.ends_with("+html") || media == "text/html" {
        false
    } else {
        body.iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{')
    };
    if is_json {
        parse_json(body, &base)
    } else {
        parse_html(&String::from_utf8_lossy(body), base)
    }
}

fn check_api_version(version: &str) -> Result<(), PypiError> {
    match version.trim().split('.').next() {
        Some("1") => Ok(()),
        _ => Err(PypiError::InvalidPage(format!(
            "unsupported repository API version {version:?}"
        ))),
    }
}

/// `base.join(reference)` without its fragment, and the fragment.
fn resolve(base: &Url, reference: &str) -> Result<(String, Option<String>), PypiError> {
    let mut url = base
        .join(reference.trim())
        .map_err(|e| PypiError::InvalidPage(format!("URL {reference:?}: {e}")))?;
    let fragment = url.fragment().map(str::to_owned);
    url.set_fragment(None);
    Ok((url.into(), fragment))
}

fn sha256_of(hex: &str) -> String {
    let hex = hex.trim();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex.to_ascii_lowercase()
    } else {
        String::new()
    }
}

fn parse_json(body: &[u8], base: &Url) -> Result<Vec<SimpleFile>, PypiError> {
    let invalid = |why: String| PypiError::InvalidPage(why);
    let page: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("not JSON: {e}")))?;
    if let Some(version) = page.pointer("/meta/api-version").and_then(Value::as_str) {
        check_api_version(version)?;
    }
    let files = page
        .get("files")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("no files list".into()))?;
    files
        .iter()
        .map(|file| {
            let text = |key: &str| file.get(key).and_then(Value::as_str);
            let filename =
                text("filename").ok_or_else(|| invalid("file without filename".into()))?;
            let url = text("url").ok_or_else(|| invalid(format!("{filename}: no url")))?;
            let (url, _) = resolve(base, url)?;
            let yanked = match file.get("yanked") {
                Some(Value::Bool(true)) => Some(String::new()),
                Some(Value::String(reason)) => Some(reason.clone()),
                _ => None,
            };
            let metadata = [
                "core-metadata",
                "dist-info-metadata",
                "data-dist-info-metadata",
            ]
            .iter()
            .find_map(|key| file.get(*key))
            .and_then(|value| match value {
                Value::Bool(true) => Some(String::new()),
                Value::Object(hashes) => Some(
                    hashes
                        .get("sha256")
                        .and_then(Value::as_str)
                        .map(sha256_of)
                        .unwrap_or_default(),
                ),
                _ => None,
            });
            Ok(SimpleFile {
                filename: filename.to_owned(),
                url,
                sha256: file
                    .pointer("/hashes/sha256")
                    .and_then(Value::as_str)
                    .map(sha256_of)
                    .unwrap_or_default(),
                requires_python: text("requires-python").map(str::to_owned),
                yanked,
                metadata_sha256: metadata,
                size: file.get("size").and_then(Value::as_u64).unwrap_or(0),
                upload_time: text("upload-time").map(str::to_owned),
            })
        })
        .collect()
}

/// A start tag: its lowercase name and attributes (lowercase names, decoded values; `None` for
/// an attribute without value).
struct Tag {
    name: String,
    attributes: Vec<(String, Option<String>)>,
}

impl Tag {
    fn get(&self, name: &str) -> Option<Option<&str>> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref())
    }
}

/// Parses the start tag at `html[start..]` (just after `<`); returns it and the offset after
/// its `>`.
fn parse_tag(html: &str, start: usize) -> (Tag, usize) {
    let bytes = html.as_bytes();
    let mut i = start;
    let name_end = |i: usize| {
        html[i..]
            .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/' || c == '=')
            .map_or(html.len(), |n| i + n)
    };
    let end = name_end(i);
    let name = html[i..end].to_ascii_lowercase();
    i = end;
    let mut attributes = Vec::new();
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        if bytes[i] == b'>' {
            i += 1;
            break;
        }
        let end = name_end(i).max(i + 1);
        let attribute = html[i..end].to_ascii_lowercase();
        i = end;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let value = match bytes.get(i) {
                Some(&quote @ (b'"' | b'\'')) => {
                    let close = html[i + 1..]
                        .find(char::from(quote))
                        .map_or(html.len(), |n| i + 1 + n);
                    let value = &html[i + 1..close];
                    i = (close + 1).min(html.len());
                    value
                }
                _ => {
                    let close = html[i..]
                        .find(|c: char| c.is_ascii_whitespace() || c == '>')
                        .map_or(html.len(), |n| i + n);
                    let value = &html[i..close];
                    i = close;
                    value
                }
            };
            attributes.push((attribute, Some(decode_entities(value))));
        } else {
            attributes.push((attribute, None));
        }
    }
    (Tag { name, attributes }, i)
}

/// Decodes the character references servers use: `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`
/// and numeric ones. Anything else is kept as written.
fn decode_entities(text: &str) -> String {
    let mut decoded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        decoded.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let replacement = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let code = if let Some(hex) = entity
                        .strip_prefix("#x")
                        .or_else(|| entity.strip_prefix("#X"))
                    {
                        u32::from_str_radix(hex, 16).ok()
                    } else {
                        entity.strip_prefix('#').and_then(|d| d.parse().ok())
                    };
                    code.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, end + 1))
        });
        match replacement {
            Some((c, len)) => {
                decoded.push(c);
                rest = &rest[len..];
            }
            None => {
                decoded.push('&');
                rest = &rest[1..];
            }
        }
    }
    decoded.push_str(rest);
    decoded
}

/// Finds `needle` (ASCII, lowercase) in `haystack[from..]` ignoring ASCII case.
fn find_ignore_case(haystack: &str, from: usize, needle: &str) -> Option<usize> {
    haystack.as_bytes()[from..]
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
        .map(|p| from + p)
}

fn last_segment(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let segment = path.rsplit('/').next().unwrap_or("");
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

fn parse_html(html: &str, mut base: Url) -> Result<Vec<SimpleFile>, PypiError> {
    let mut files = Vec::new();
    let mut i = 0;
    while let Some(lt) = html[i..].find('<').map(|n| i + n) {
        if html[lt..].starts_with("<!--") {
            i = html[lt..].find("-->").map_or(html.len(), |n| lt + n + 3);
            continue;
        }
        let next = html.as_bytes().get(lt + 1);
        if !next.is_some_and(u8::is_ascii_alphabetic) {
            i = lt + 1;
            continue;
        }
        let (tag, after) = parse_tag(html, lt + 1);
        i = after;
        match tag.name.as_str() {
            "meta" if tag.get("name") == Some(Some("pypi:repository-version")) => {
                if let Some(Some(version)) = tag.get("content") {
                    check_api_version(version)?;
                }
            }
            "base" => {
                if let Some(Some(href)) = tag.get("href") {
                    base = base
                        .join(href.trim())
                        .map_err(|e| PypiError::InvalidPage(format!("base {href:?}: {e}")))?;
                }
            }
            "a" => {
                let Some(Some(href)) = tag.get("href") else {
                    continue;
                };
                let close = find_ignore_case(html, after, "</a").unwrap_or(html.len());
                i = close;
                let text = decode_entities(html[after..close].trim());
                let (url, fragment) = resolve(&base, href)?;
                let sha256 = fragment
                    .as_deref()
                    .and_then(|f| f.split_once('='))
                    .filter(|(algorithm, _)| algorithm.eq_ignore_ascii_case("sha256"))
                    .map(|(_, hex)| sha256_of(hex))
                    .unwrap_or_default();
                let metadata = tag
                    .get("data-core-metadata")
                    .or_else(|| tag.get("data-dist-info-metadata"))
                    .and_then(|value| {
                        let value = value.unwrap_or("true").trim();
                        if value.eq_ignore_ascii_case("false") {
                            return None;
                        }
                        Some(
                            value
                                .split_once('=')
                                .filter(|(algorithm, _)| algorithm.eq_ignore_ascii_case("sha256"))
                                .map(|(_, hex)| sha256_of(hex))
                                .unwrap_or_default(),
                        )
                    });
                files.push(SimpleFile {
                    filename: if text.is_empty() {
                        last_segment(&url)
                    } else {
                        text
                    },
                    url,
                    sha256,
                    requires_python: tag.get("data-requires-python").flatten().map(str::to_owned),
                    yanked: tag
                        .get("data-yanked")
                        .map(|reason| reason.unwrap_or("").to_owned()),
                    metadata_sha256: metadata,
                    size: 0,
                    upload_time: None,
                });
            }
            _ => {}
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233";
    const META: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const BASE: &str = "https://upstream.example.com/simple/my-pkg/";

    fn file(filename: &str, url: &str) -> SimpleFile {
        SimpleFile {
            filename: filename.into(),
            url: url.into(),
            ..SimpleFile::default()
        }
    }

    #[test]
    fn json_page() {
        let body = serde_json::json!({
            "meta": {"api-version": "1.1"},
            "name": "my-pkg",
            "files": [
                {
                    "filename": "my_pkg-1.0-py3-none-any.whl",
                    "url": "https://files.example.com/packages/ab/my_pkg-1.0-py3-none-any.whl",
                    "hashes": {"sha256": SHA.to_uppercase(), "md5": "x"},
                    "requires-python": ">=3.8",
                    "core-metadata": {"sha256": META},
                    "size": 1234,
                    "upload-time": "2024-05-01T12:00:00.000000Z",
                    "yanked": false,
                },
                {
                    "filename": "my-pkg-0.9.tar.gz",
                    "url": "../../packages/my-pkg-0.9.tar.gz#sha256=ignored",
                    "hashes": {"md5": "0123"},
                    "requires-python": null,
                    "dist-info-metadata": true,
                    "yanked": true,
                },
                {
                    "filename": "my-pkg-0.8.tar.gz",
                    "url": "/files/my-pkg-0.8.tar.gz",
                    "hashes": {"sha256": SHA},
                    "data-dist-info-metadata": {"md5": "x"},
                    "yanked": "broken",
                },
            ],
            "versions": ["0.8", "0.9", "1.0"],
        });
        let body = serde_json::to_vec(&body).expect("serialize");
        let files = parse_project_page(&body, "application/vnd.pypi.simple.v1+json", BASE)
            .expect("valid page");
        assert_eq!(
            files,
            [
                SimpleFile {
                    sha256: SHA.into(),
                    requires_python: Some(">=3.8".into()),
                    metadata_sha256: Some(META.into()),
                    size: 1234,
                    upload_time: Some("2024-05-01T12:00:00.000000Z".into()),
                    ..file(
                        "my_pkg-1.0-py3-none-any.whl",
                        "https://files.example.com/packages/ab/my_pkg-1.0-py3-none-any.whl"
                    )
                },
                SimpleFile {
                    metadata_sha256: Some(String::new()),
                    yanked: Some(String::new()),
                    ..file(
                        "my-pkg-0.9.tar.gz",
                        "https://upstream.example.com/packages/my-pkg-0.9.tar.gz"
                    )
                },
                SimpleFile {
                    sha256: SHA.into(),
                    metadata_sha256: Some(String::new()),
                    yanked: Some("broken".into()),
                    ..file(
                        "my-pkg-0.8.tar.gz",
                        "https://upstream.example.com/files/my-pkg-0.8.tar.gz"
                    )
                },
            ]
        );
        // Sniffed without a content type.
        assert_eq!(parse_project_page(&body, "", BASE).expect("sniffed"), files);
    }

    #[test]
    fn html_page() {
        let html = format!(
            r#"<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.1">
    <title>Links for my-pkg</title>
  </head>
  <body>
    <h1>Links for my-pkg</h1>
    <!-- <a href="commented-1.0.tar.gz">commented-1.0.tar.gz</a> -->
    <a href="https://files.example.com/p/my_pkg-1.0-py3-none-any.whl?x=1&amp;y=2#sha256={SHA}" data-requires-python="&gt;=3.8,&lt;4" data-core-metadata="sha256={META}" data-dist-info-metadata="sha256={SHA}">my_pkg-1.0-py3-none-any.whl</a><br/>
    <A HREF='../../packages/my-pkg-0.9.tar.gz#md5=0123' data-yanked>my-pkg-0.9.tar.gz</A><br>
    <a href=/files/my-pkg-0.8.tar.gz#sha256={SHA} data-yanked="bad &quot;build&quot;" data-dist-info-metadata="true">
      my-pkg-0.8.tar.gz
    </a>
    <a href="my-pkg-0.7.zip" data-requires-python=">=3.6"></a>
    <a name="no-href">not a file</a>
  </body>
</html>
"#
        );
        let files = parse_project_page(html.as_bytes(), "text/html; charset=utf-8", BASE)
            .expect("valid page");
        assert_eq!(
            files,
            [
                SimpleFile {
                    sha256: SHA.into(),
                    requires_python: Some(">=3.8,<4".into()),
                    metadata_sha256: Some(META.into()),
                    ..file(
                        "my_pkg-1.0-py3-none-any.whl",
                        "https://files.example.com/p/my_pkg-1.0-py3-none-any.whl?x=1&y=2"
                    )
                },
                SimpleFile {
                    yanked: Some(String::new()),
                    ..file(
                        "my-pkg-0.9.tar.gz",
                        "https://upstream.example.com/packages/my-pkg-0.9.tar.gz"
                    )
                },
                SimpleFile {
                    sha256: SHA.into(),
                    yanked: Some("bad \"build\"".into()),
                    metadata_sha256: Some(String::new()),
                    ..file(
                        "my-pkg-0.8.tar.gz",
                        "https://upstream.example.com/files/my-pkg-0.8.tar.gz"
                    )
                },
                SimpleFile {
                    requires_python: Some(">=3.6".into()),
                    ..file(
                        "my-pkg-0.7.zip",
                        "https://upstream.example.com/simple/my-pkg/my-pkg-0.7.zip"
                    )
                },
            ]
        );
    }

    #[test]
    fn html_base_tag_and_sniffing() {
        let html = r#"<html><head><base href="https://mirror.example.com/pkgs/"></head>
<body><a href="demo-1.0.tar.gz">demo-1.0.tar.gz</a></body></html>"#;
        let files =
            parse_project_page(html.as_bytes(), "application/octet-stream", BASE).expect("page");
        assert_eq!(
            files,
            [file(
                "demo-1.0.tar.gz",
                "https://mirror.example.com/pkgs/demo-1.0.tar.gz"
            )]
        );
    }

    #[test]
    fn a_rendered_page_reads_back() {
        let original = vec![SimpleFile {
            filename: "demo-1.0.tar.gz".into(),
            url: "https://repo.example.com/f/demo-1.0.tar.gz".into(),
            sha256: SHA.into(),
            requires_python: Some(">=3.8,<4".into()),
            yanked: Some("why & how".into()),
            metadata_sha256: Some(META.into()),
            size: 10,
            upload_time: Some("2024-01-01T00:00:00Z".into()),
        }];
        let html = super::super::project_page_html("demo", &original);
        let from_html = parse_project_page(html.as_bytes(), "text/html", BASE).expect("html");
        assert_eq!(
            from_html,
            [SimpleFile {
                size: 0,
                upload_time: None,
                ..original[0].clone()
            }]
        );
        let json = super::super::project_page_json("demo", &["1.0".into()], &original);
        let body = serde_json::to_vec(&json).expect("serialize");
        let from_json =
            parse_project_page(&body, "application/vnd.pypi.simple.v1+json", BASE).expect("json");
        assert_eq!(from_json, original);
    }

    #[test]
    fn refused_pages() {
        let cases: &[(&[u8], &str, &str)] = &[
            (b"{not json", "application/vnd.pypi.simple.v1+json", BASE),
            (
                br#"{"meta": {"api-version": "1.0"}}"#,
                "application/json",
                BASE,
            ),
            (
                br#"{"meta": {"api-version": "2.0"}, "files": []}"#,
                "application/json",
                BASE,
            ),
            (br#"{"files": [{"url": "x"}]}"#, "application/json", BASE),
            (
                br#"{"files": [{"filename": "x"}]}"#,
                "application/json",
                BASE,
            ),
            (
                br#"<meta name="pypi:repository-version" content="2.0"><a href="x">x</a>"#,
                "text/html",
                BASE,
            ),
            (b"<a href=\"x\">x</a>", "text/html", "not a url"),
        ];
        for (body, content_type, base) in cases {
            assert!(
                matches!(
                    parse_project_page(body, content_type, base),
                    Err(PypiError::InvalidPage(_))
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn entities() {
        let cases = [
            ("&gt;=3.8,&lt;4", ">=3.8,<4"),
            ("a&amp;b", "a&b"),
            ("&#62;&#x3C;&#X3c;&apos;&quot;", "><<'\""),
            ("&unknown; & &", "&unknown; & &"),
            ("&#xFFFFFFFF;", "&#xFFFFFFFF;"),
        ];
        for (text, expected) in cases {
            assert_eq!(decode_entities(text), expected, "{text}");
        }
    }
}
