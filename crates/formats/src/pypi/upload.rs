//! twine's `:action=file_upload` form (the legacy upload API), less its `content` file part.

use super::{PypiError, is_valid_name};

/// The text fields of an upload form that this registry keeps. Optional fields sent empty are
/// `None`; repeated fields keep their values in the order sent, empty ones dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadForm {
    /// The project name as uploaded (not normalized).
    pub name: String,
    pub version: String,
    /// `sdist`, `bdist_wheel`, …; empty when the form has none.
    pub filetype: String,
    /// `source` for sdists, the Python tag (e.g. `py3`) for wheels.
    pub pyversion: Option<String>,
    pub metadata_version: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub description_content_type: Option<String>,
    pub license: Option<String>,
    pub license_expression: Option<String>,
    pub home_page: Option<String>,
    /// `"Label, url"` entries (core metadata `Project-URL`).
    pub project_urls: Vec<String>,
    pub author: Option<String>,
    pub author_email: Option<String>,
    pub requires_python: Option<String>,
    /// PEP 508 requirements (core metadata `Requires-Dist`).
    pub requires_dist: Vec<String>,
    pub classifiers: Vec<String>,
    /// Lowercase hex.
    pub sha256_digest: Option<String>,
    /// Lowercase hex.
    pub md5_digest: Option<String>,
    /// Lowercase hex.
    pub blake2_256_digest: Option<String>,
}

/// Reads the text fields of an upload form, given as (name, value) pairs in the order sent.
///
/// `:action`, when present, must be `file_upload`; `name` must be a valid project name and
/// `version` a non-empty version without whitespace or path separators. A single-valued field
/// sent twice with different values is refused; digests must be hex of their length (and are
/// lowercased). Single-line fields are trimmed; `description` and `license` are kept verbatim.
/// Fields this registry does not keep (`protocol_version`, `keywords`, `maintainer`,
/// `attestations`, `content`, …) are ignored.
///
/// # Errors
/// [`PypiError::InvalidForm`] naming the field at fault.
pub fn parse_upload_form(fields: &[(String, String)]) -> Result<UploadForm, PypiError> {
    let mut form = UploadForm::default();
    let mut name: Option<String> = None;
    let mut version: Option<String> = None;
    let mut filetype: Option<String> = None;
    for (field, value) in fields {
        let trimmed = value.trim();
        let list = match field.as_str() {
            ":action" => {
                if trimmed != "file_upload" {
                    return Err(PypiError::InvalidForm(format!(
                        "unsupported :action {trimmed:?}, only file_upload is"
                    )));
                }
                continue;
            }
            "classifiers" => Some(&mut form.classifiers),
            "requires_dist" => Some(&mut form.requires_dist),
            "project_urls" => Some(&mut form.project_urls),
            _ => None,
        };
        if let Some(list) = list {
            if !trimmed.is_empty() {
                list.push(trimmed.to_owned());
            }
            continue;
        }
        let (slot, verbatim) = match field.as_str() {
            "name" => (&mut name, false),
            "version" => (&mut version, false),
            "filetype" => (&mut filetype, false),
            "pyversion" => (&mut form.pyversion, false),
            "metadata_version" => (&mut form.metadata_version, false),
            "summary" => (&mut form.summary, false),
            "description" => (&mut form.description, true),
            "description_content_type" => (&mut form.description_content_type, false),
            "license" => (&mut form.license, true),
            "license_expression" => (&mut form.license_expression, false),
            "home_page" => (&mut form.home_page, false),
            "author" => (&mut form.author, false),
            "author_email" => (&mut form.author_email, false),
            "requires_python" => (&mut form.requires_python, false),
            "sha256_digest" => (&mut form.sha256_digest, false),
            "md5_digest" => (&mut form.md5_digest, false),
            "blake2_256_digest" => (&mut form.blake2_256_digest, false),
            _ => continue,
        };
        if trimmed.is_empty() {
            continue;
        }
        let value = if verbatim { value.as_str() } else { trimmed };
        match slot {
            Some(previous) if previous != value => {
                return Err(PypiError::InvalidForm(format!(
                    "{field} given more than once with different values"
                )));
            }
            Some(_) => {}
            None => *slot = Some(value.to_owned()),
        }
    }

    let name = name.ok_or_else(|| PypiError::InvalidForm("name is missing".into()))?;
    if !is_valid_name(&name) {
        return Err(PypiError::InvalidForm(format!(
            "{name:?} is not a valid project name"
        )));
    }
    let version = version.ok_or_else(|| PypiError::InvalidForm("version is missing".into()))?;
    if version
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '\\'))
    {
        return Err(PypiError::InvalidForm(format!(
            "{version:?} is not a valid version"
        )));
    }
    form.name = name;
    form.version = version;
    form.filetype = filetype.unwrap_or_default();
    for (field, digest, hex_len) in [
        ("sha256_digest", &mut form.sha256_digest, 64),
        ("md5_digest", &mut form.md5_digest, 32),
        ("blake2_256_digest", &mut form.blake2_256_digest, 64),
    ] {
        if let Some(digest) = digest {
            if digest.len() != hex_len || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(PypiError::InvalidForm(format!(
                    "{field} is not {hex_len} hex digits"
                )));
            }
            digest.make_ascii_lowercase();
        }
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const SHA256: &str = "4a5b2ad4c2e5e4d4a1c6a0a8d3e0b0f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7";

    #[test]
    fn a_full_twine_form() {
        let form = parse_upload_form(&fields(&[
            (":action", "file_upload"),
            ("protocol_version", "1"),
            ("name", "My_Package"),
            ("version", "1.2.0"),
            ("filetype", "bdist_wheel"),
            ("pyversion", "py3"),
            ("metadata_version", "2.4"),
            ("summary", " A package "),
            ("description", "# Title\n\nBody\n"),
            ("description_content_type", "text/markdown"),
            ("license_expression", "MIT"),
            ("home_page", ""),
            ("author", "Jane"),
            ("author_email", "jane@example.com"),
            ("requires_python", ">=3.8"),
            ("classifiers", "Programming Language :: Python :: 3"),
            ("requires_dist", "requests>=2.0"),
            ("classifiers", "License :: OSI Approved :: MIT License"),
            ("requires_dist", "tomli; python_version < \"3.11\""),
            ("project_urls", "Homepage, https://example.com"),
            ("project_urls", "Source, https://example.com/src"),
            ("keywords", "ignored"),
            ("sha256_digest", &SHA256.to_uppercase()),
            ("md5_digest", "0123456789abcdef0123456789abcdef"),
        ]))
        .expect("valid form");
        assert_eq!(
            form,
            UploadForm {
                name: "My_Package".into(),
                version: "1.2.0".into(),
                filetype: "bdist_wheel".into(),
                pyversion: Some("py3".into()),
                metadata_version: Some("2.4".into()),
                summary: Some("A package".into()),
                description: Some("# Title\n\nBody\n".into()),
                description_content_type: Some("text/markdown".into()),
                license: None,
                license_expression: Some("MIT".into()),
                home_page: None,
                project_urls: vec![
                    "Homepage, https://example.com".into(),
                    "Source, https://example.com/src".into()
                ],
                author: Some("Jane".into()),
                author_email: Some("jane@example.com".into()),
                requires_python: Some(">=3.8".into()),
                requires_dist: vec![
                    "requests>=2.0".into(),
                    "tomli; python_version < \"3.11\"".into()
                ],
                classifiers: vec![
                    "Programming Language :: Python :: 3".into(),
                    "License :: OSI Approved :: MIT License".into()
                ],
                sha256_digest: Some(SHA256.into()),
                md5_digest: Some("0123456789abcdef0123456789abcdef".into()),
                blake2_256_digest: None,
            }
        );
    }

    #[test]
    fn minimal_form_without_action() {
        let form =
            parse_upload_form(&fields(&[("name", "x"), ("version", "1")])).expect("minimal form");
        assert_eq!(form.name, "x");
        assert_eq!(form.version, "1");
        assert_eq!(form.filetype, "");
        assert!(form.classifiers.is_empty());
    }

    #[test]
    fn refused_forms() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("version", "1.0")], "name is missing"),
            (&[("name", ""), ("version", "1.0")], "name is missing"),
            (&[("name", "x")], "version is missing"),
            (
                &[(":action", "submit"), ("name", "x"), ("version", "1")],
                ":action",
            ),
            (
                &[("name", "-x"), ("version", "1")],
                "not a valid project name",
            ),
            (&[("name", "x"), ("version", "1 0")], "not a valid version"),
            (&[("name", "x"), ("version", "../1")], "not a valid version"),
            (
                &[("name", "x"), ("name", "y"), ("version", "1")],
                "name given more than once",
            ),
            (
                &[("name", "x"), ("version", "1"), ("sha256_digest", "abc")],
                "sha256_digest is not 64 hex digits",
            ),
            (
                &[("name", "x"), ("version", "1"), ("md5_digest", SHA256)],
                "md5_digest is not 32 hex digits",
            ),
        ];
        for (pairs, message) in cases {
            match parse_upload_form(&fields(pairs)) {
                Err(PypiError::InvalidForm(m)) => assert!(m.contains(message), "{m} / {message}"),
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_same_value_twice_is_accepted() {
        let form = parse_upload_form(&fields(&[
            ("name", "x"),
            ("version", "1"),
            ("name", "x"),
            ("summary", "s"),
            ("summary", ""),
        ]))
        .expect("duplicates agree");
        assert_eq!(form.summary.as_deref(), Some("s"));
    }
}
