//! The simple repository API documents: the root index and project pages, as PEP 503 HTML
//! (with the PEP 592/629/658/714 attributes) and PEP 691 JSON (with PEP 700's additions).

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::{API_VERSION, escape_html, normalize};

/// One file as the simple API lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimpleFile {
    pub filename: String,
    /// Absolute, without fragment.
    pub url: String,
    /// Lowercase hex; empty when unknown (an upstream that gave no SHA-256).
    pub sha256: String,
    pub requires_python: Option<String>,
    /// PEP 592: `Some(reason)` when yanked, `Some("")` when yanked without a reason.
    pub yanked: Option<String>,
    /// PEP 658/714: a `.metadata` file is served beside the file, with this SHA-256
    /// (`Some("")` when it exists but its hash is unknown).
    pub metadata_sha256: Option<String>,
    pub size: u64,
    /// ISO 8601, e.g. `2024-05-01T12:00:00.000000Z`.
    pub upload_time: Option<String>,
}

fn html_head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    \
         <meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n    \
         <title>{title}</title>\n  </head>\n  <body>\n    <h1>{title}</h1>\n"
    )
}

const HTML_TAIL: &str = "  </body>\n</html>\n";

/// The PEP 503 project page: one anchor per file, `href` = `url#sha256=<hex>` (no fragment
/// when the hash is unknown), the anchor text the filename, with `data-requires-python`,
/// `data-yanked` (PEP 592), and both `data-dist-info-metadata` (PEP 658) and
/// `data-core-metadata` (PEP 714) = `sha256=<hex>` (or `true` when the hash is unknown) when a
/// `.metadata` file exists. Declares `pypi:repository-version` 1.1 (PEP 629). Every value is
/// HTML-escaped.
#[must_use]
pub fn project_page_html(project: &str, files: &[SimpleFile]) -> String {
    let mut page = html_head(&format!("Links for {}", escape_html(project)));
    for file in files {
        let mut href = file.url.clone();
        if !file.sha256.is_empty() {
            href.push_str("#sha256=");
            href.push_str(&file.sha256);
        }
        let _ = write!(page, "    <a href=\"{}\"", escape_html(&href));
        if let Some(requires_python) = &file.requires_python {
            let _ = write!(
                page,
                " data-requires-python=\"{}\"",
                escape_html(requires_python)
            );
        }
        if let Some(reason) = &file.yanked {
            let _ = write!(page, " data-yanked=\"{}\"", escape_html(reason));
        }
        if let Some(hash) = &file.metadata_sha256 {
            let value = if hash.is_empty() {
                "true".to_owned()
            } else {
                format!("sha256={}", escape_html(hash))
            };
            let _ = write!(
                page,
                " data-dist-info-metadata=\"{value}\" data-core-metadata=\"{value}\""
            );
        }
        let _ = writeln!(page, ">{}</a><br>", escape_html(&file.filename));
    }
    page.push_str(HTML_TAIL);
    page
}

/// The PEP 691 project page (API version 1.1):
/// `{"meta": {"api-version": "1.1"}, "name": <normalized>, "files": [...], "versions": [...]}`,
/// each file `{"filename", "url", "hashes": {"sha256"}, "requires-python" (null when none),
/// "yanked" (false, true or the reason), "core-metadata" and "dist-info-metadata"
/// ({"sha256"}, true when the hash is unknown, or false), "size", "upload-time" (when known)}`.
#[must_use]
pub fn project_page_json(project: &str, versions: &[String], files: &[SimpleFile]) -> Value {
    let files: Vec<Value> = files.iter().map(file_json).collect();
    json!({
        "meta": {"api-version": API_VERSION},
        "name": normalize(project),
        "files": files,
        "versions": versions,
    })
}

fn file_json(file: &SimpleFile) -> Value {
    let mut hashes = Map::new();
    if !file.sha256.is_empty() {
        hashes.insert("sha256".to_owned(), json!(file.sha256));
    }
    let yanked = match file.yanked.as_deref() {
        None => json!(false),
        Some("") => json!(true),
        Some(reason) => json!(reason),
    };
    let metadata = match file.metadata_sha256.as_deref() {
        None => json!(false),
        Some("") => json!(true),
        Some(hash) => json!({"sha256": hash}),
    };
    let mut entry = json!({
        "filename": file.filename,
        "url": file.url,
        "hashes": hashes,
        "requires-python": file.requires_python,
        "yanked": yanked,
        "core-metadata": metadata,
        "dist-info-metadata": metadata,
        "size": file.size,
    });
    if let (Some(time), Value::Object(fields)) = (&file.upload_time, &mut entry) {
        fields.insert("upload-time".to_owned(), json!(time));
    }
    entry
}

/// The PEP 503 root page: one anchor per project, `href` = `<normalized>/` (relative to the
/// index root, which ends in `/`), the text the name as given.
#[must_use]
pub fn root_page_html(projects: &[String]) -> String {
    let mut page = html_head("Simple index");
    for project in projects {
        let _ = writeln!(
            page,
            "    <a href=\"{}/\">{}</a><br>",
            escape_html(&normalize(project)),
            escape_html(project)
        );
    }
    page.push_str(HTML_TAIL);
    page
}

/// The PEP 691 root page: `{"meta": {"api-version": "1.1"}, "projects": [{"name"}]}`.
#[must_use]
pub fn root_page_json(projects: &[String]) -> Value {
    let projects: Vec<Value> = projects.iter().map(|name| json!({"name": name})).collect();
    json!({"meta": {"api-version": API_VERSION}, "projects": projects})
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233";
    const META_SHA: &str = "1111111111111111111111111111111111111111111111111111111111111111";

    fn files() -> Vec<SimpleFile> {
        vec![
            SimpleFile {
                filename: "my_pkg-1.0-py3-none-any.whl".into(),
                url: "https://repo.example.com/files/my_pkg-1.0-py3-none-any.whl?a=1&b=2".into(),
                sha256: SHA.into(),
                requires_python: Some(">=3.8,<4".into()),
                yanked: None,
                metadata_sha256: Some(META_SHA.into()),
                size: 1234,
                upload_time: Some("2024-05-01T12:00:00.000000Z".into()),
            },
            SimpleFile {
                filename: "my-pkg-0.9.tar.gz".into(),
                url: "https://repo.example.com/files/my-pkg-0.9.tar.gz".into(),
                sha256: SHA.into(),
                requires_python: None,
                yanked: Some(String::new()),
                metadata_sha256: None,
                size: 99,
                upload_time: None,
            },
            SimpleFile {
                filename: "my-pkg-0.8.tar.gz".into(),
                url: "https://repo.example.com/files/my-pkg-0.8.tar.gz".into(),
                sha256: String::new(),
                requires_python: None,
                yanked: Some("broken \"build\"".into()),
                metadata_sha256: Some(String::new()),
                size: 7,
                upload_time: None,
            },
        ]
    }

    #[test]
    fn html_project_page() {
        let page = project_page_html("My_Pkg", &files());
        let expected = format!(
            "<!DOCTYPE html>\n<html>\n  <head>\n    \
             <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
             <title>Links for My_Pkg</title>\n  </head>\n  <body>\n    \
             <h1>Links for My_Pkg</h1>\n    \
             <a href=\"https://repo.example.com/files/my_pkg-1.0-py3-none-any.whl?a=1&amp;b=2#sha256={SHA}\" \
             data-requires-python=\"&gt;=3.8,&lt;4\" \
             data-dist-info-metadata=\"sha256={META_SHA}\" data-core-metadata=\"sha256={META_SHA}\">\
             my_pkg-1.0-py3-none-any.whl</a><br>\n    \
             <a href=\"https://repo.example.com/files/my-pkg-0.9.tar.gz#sha256={SHA}\" data-yanked=\"\">\
             my-pkg-0.9.tar.gz</a><br>\n    \
             <a href=\"https://repo.example.com/files/my-pkg-0.8.tar.gz\" \
             data-yanked=\"broken &quot;build&quot;\" \
             data-dist-info-metadata=\"true\" data-core-metadata=\"true\">my-pkg-0.8.tar.gz</a><br>\n  \
             </body>\n</html>\n"
        );
        assert_eq!(page, expected);
    }

    #[test]
    fn html_escapes_the_project_name() {
        let page = project_page_html("<x>", &[]);
        assert!(page.contains("<title>Links for &lt;x&gt;</title>"));
        assert!(!page.contains("<x>"));
    }

    #[test]
    fn json_project_page() {
        let page = project_page_json(
            "My_Pkg",
            &["0.8".into(), "0.9".into(), "1.0".into()],
            &files(),
        );
        assert_eq!(
            page,
            json!({
                "meta": {"api-version": "1.1"},
                "name": "my-pkg",
                "files": [
                    {
                        "filename": "my_pkg-1.0-py3-none-any.whl",
                        "url": "https://repo.example.com/files/my_pkg-1.0-py3-none-any.whl?a=1&b=2",
                        "hashes": {"sha256": SHA},
                        "requires-python": ">=3.8,<4",
                        "yanked": false,
                        "core-metadata": {"sha256": META_SHA},
                        "dist-info-metadata": {"sha256": META_SHA},
                        "size": 1234,
                        "upload-time": "2024-05-01T12:00:00.000000Z",
                    },
                    {
                        "filename": "my-pkg-0.9.tar.gz",
                        "url": "https://repo.example.com/files/my-pkg-0.9.tar.gz",
                        "hashes": {"sha256": SHA},
                        "requires-python": null,
                        "yanked": true,
                        "core-metadata": false,
                        "dist-info-metadata": false,
                        "size": 99,
                    },
                    {
                        "filename": "my-pkg-0.8.tar.gz",
                        "url": "https://repo.example.com/files/my-pkg-0.8.tar.gz",
                        "hashes": {},
                        "requires-python": null,
                        "yanked": "broken \"build\"",
                        "core-metadata": true,
                        "dist-info-metadata": true,
                        "size": 7,
                    },
                ],
                "versions": ["0.8", "0.9", "1.0"],
            })
        );
    }

    #[test]
    fn root_pages() {
        let projects = vec!["My_Pkg".to_owned(), "a&b".to_owned()];
        let html = root_page_html(&projects);
        assert!(html.starts_with("<!DOCTYPE html>\n"));
        assert!(html.contains("<meta name=\"pypi:repository-version\" content=\"1.1\">"));
        assert!(html.contains("    <a href=\"my-pkg/\">My_Pkg</a><br>\n"));
        assert!(html.contains("    <a href=\"a&amp;b/\">a&amp;b</a><br>\n"));
        assert!(html.ends_with("</html>\n"));
        assert_eq!(
            root_page_json(&projects),
            json!({
                "meta": {"api-version": "1.1"},
                "projects": [{"name": "My_Pkg"}, {"name": "a&b"}],
            })
        );
        assert_eq!(
            root_page_json(&[]),
            json!({"meta": {"api-version": "1.1"}, "projects": []})
        );
    }
}
