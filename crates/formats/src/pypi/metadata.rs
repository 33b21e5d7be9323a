//! The stored metadata of a PyPI version, from the upload form, and a wheel's `METADATA`.

use std::io::{Read, Seek};

use reliquary_types::{Dependency, License, VersionMetadata};
use serde_json::{Map, Value, json};

use super::{PypiError, UploadForm, normalize};

/// The `dependency_type` of every dependency taken from `Requires-Dist`.
pub const REQUIRES_DIST: &str = "Requires-Dist";

/// The largest `METADATA` file [`wheel_metadata`] reads.
pub const MAX_METADATA_SIZE: u64 = 8 * 1024 * 1024;

/// The stored metadata of a version from its upload form. Only version-level fields are used
/// (not `filetype`, `pyversion` or digests), so every file of a version gives the same result:
/// - `display_name` = `name` as uploaded, `summary`, `readme` = `description`;
/// - `home_page` = `home_page`, else the `project_urls` entry labelled `Homepage`;
/// - `source_code_repository` = the `project_urls` entry labelled `Source`, `Repository`,
///   `Source Code` or `GitHub` (labels compared as the well-known project URLs spec says:
///   without ASCII punctuation and whitespace, ignoring case);
/// - `licenses` = `license_expression`, else `license`, as the name;
/// - `dependencies` from `requires_dist`: `package` = the requirement's normalized name,
///   `version_requirement` = its specifier (parentheses dropped) or `@ url`, followed by
///   `; marker` when it has a marker, `None` when it has neither; `dependency_type` =
///   `Requires-Dist`. Requirements without a valid name are skipped (they stay in `extra`);
/// - `extra` = `{"metadata_version", "requires_python", "author", "author_email",
///   "description_content_type", "license_expression", "license"` (those present)`,
///   "classifiers", "requires_dist", "project_urls"}` (lists always).
#[must_use]
pub fn version_metadata(form: &UploadForm) -> VersionMetadata {
    let home_page = form
        .home_page
        .clone()
        .or_else(|| project_url(&form.project_urls, &["homepage"]));
    let source = project_url(
        &form.project_urls,
        &["source", "repository", "sourcecode", "github"],
    );
    let license = form.license_expression.as_ref().or(form.license.as_ref());
    VersionMetadata {
        display_name: Some(form.name.clone()),
        summary: form.summary.clone(),
        home_page,
        source_code_repository: source,
        licenses: license
            .map(|name| License {
                name: Some(name.clone()),
                url: None,
            })
            .into_iter()
            .collect(),
        dependencies: form
            .requires_dist
            .iter()
            .filter_map(|r| dependency(r))
            .collect(),
        readme: form.description.clone(),
        extra: Some(extra(form)),
    }
}

fn extra(form: &UploadForm) -> Value {
    let mut extra = Map::new();
    for (key, value) in [
        ("metadata_version", &form.metadata_version),
        ("requires_python", &form.requires_python),
        ("author", &form.author),
        ("author_email", &form.author_email),
        ("description_content_type", &form.description_content_type),
        ("license_expression", &form.license_expression),
        ("license", &form.license),
    ] {
        if let Some(value) = value {
            extra.insert(key.to_owned(), json!(value));
        }
    }
    extra.insert("classifiers".to_owned(), json!(form.classifiers));
    extra.insert("requires_dist".to_owned(), json!(form.requires_dist));
    extra.insert("project_urls".to_owned(), json!(form.project_urls));
    Value::Object(extra)
}

/// A project URL label as the well-known project URLs spec compares them.
fn normalize_label(label: &str) -> String {
    label
        .chars()
        .filter(|c| !c.is_ascii_punctuation() && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The URL of the first `"Label, url"` entry whose label is one of `labels` (normalized), in
/// the order of `labels`.
fn project_url(entries: &[String], labels: &[&str]) -> Option<String> {
    let parsed: Vec<(String, &str)> = entries
        .iter()
        .filter_map(|e| e.split_once(','))
        .map(|(label, url)| (normalize_label(label), url.trim()))
        .filter(|(_, url)| !url.is_empty())
        .collect();
    labels.iter().find_map(|wanted| {
        parsed
            .iter()
            .find(|(label, _)| label == wanted)
            .map(|(_, url)| (*url).to_owned())
    })
}

/// A PEP 508 requirement as a dependency, see [`version_metadata`].
fn dependency(requirement: &str) -> Option<Dependency> {
    let requirement = requirement.trim();
    let name_len = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(requirement.len());
    let name = &requirement[..name_len];
    if !super::is_valid_name(name) {
        return None;
    }
    let mut rest = requirement[name_len..].trim_start();
    if let Some(after) = rest.strip_prefix('[') {
        rest = after.split_once(']')?.1.trim_start();
    }
    let (spec, marker) = if let Some(url) = rest.strip_prefix('@') {
        // A URL may hold `;`: the marker starts at whitespace followed by `;`.
        let url = url.trim_start();
        match url.find(|c: char| c.is_whitespace()) {
            Some(end) => {
                let marker = url[end..].trim_start().strip_prefix(';')?;
                (format!("@ {}", &url[..end]), Some(marker))
            }
            None => (format!("@ {url}"), None),
        }
    } else {
        let (spec, marker) = match rest.split_once(';') {
            Some((spec, marker)) => (spec, Some(marker)),
            None => (rest, None),
        };
        let spec = spec.trim();
        let spec = spec
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or(spec);
        (spec.trim().to_owned(), marker)
    };
    let marker = marker.map(str::trim).filter(|m| !m.is_empty());
    let version_requirement = match (spec.is_empty(), marker) {
        (true, None) => None,
        (true, Some(marker)) => Some(format!("; {marker}")),
        (false, None) => Some(spec),
        (false, Some(marker)) => Some(format!("{spec}; {marker}")),
    };
    Some(Dependency {
        namespace: None,
        package: normalize(name),
        dependency_type: Some(REQUIRES_DIST.to_owned()),
        version_requirement,
    })
}

/// The bytes of the wheel's `{name}-{version}.dist-info/METADATA` (the one `.dist-info`
/// directory at the archive's top level), `None` when the wheel has no such file. Bounded
/// whatever the wheel: at most [`crate::archive::MAX_ZIP_ENTRIES`] entries are listed and
/// [`MAX_METADATA_SIZE`] bytes inflated. CPU work: call it on a blocking thread.
///
/// # Errors
/// [`PypiError::InvalidWheel`] when the bytes are not a zip archive, the archive has
/// `METADATA` in more than one top-level `.dist-info` directory, or the file cannot be read or
/// is larger than [`MAX_METADATA_SIZE`].
pub fn wheel_metadata<R: Read + Seek>(mut wheel: R) -> Result<Option<Vec<u8>>, PypiError> {
    let invalid = |e: &dyn std::fmt::Display| PypiError::InvalidWheel(e.to_string());
    crate::archive::check_zip_entries(&mut wheel).map_err(|e| invalid(&e))?;
    let mut archive = zip::ZipArchive::new(wheel).map_err(|e| invalid(&e))?;
    let mut found = archive
        .file_names()
        .filter_map(Result::ok)
        .filter(|name| {
            name.split_once('/').is_some_and(|(dir, file)| {
                file == "METADATA" && dir.len() > ".dist-info".len() && dir.ends_with(".dist-info")
            })
        })
        .map(|name| name.into_owned());
    let Some(path) = found.next() else {
        return Ok(None);
    };
    if let Some(other) = found.next() {
        return Err(PypiError::InvalidWheel(format!(
            "more than one METADATA: {path}, {other}"
        )));
    }
    drop(found);
    let file = archive.by_name(&path).map_err(|e| invalid(&e))?;
    if file.size() > MAX_METADATA_SIZE {
        return Err(PypiError::InvalidWheel(format!(
            "{path} is larger than {MAX_METADATA_SIZE} bytes"
        )));
    }
    let mut metadata = Vec::new();
    file.take(MAX_METADATA_SIZE + 1)
        .read_to_end(&mut metadata)
        .map_err(|e| invalid(&format_args!("{path}: {e}")))?;
    if metadata.len() as u64 > MAX_METADATA_SIZE {
        return Err(PypiError::InvalidWheel(format!(
            "{path} is larger than {MAX_METADATA_SIZE} bytes"
        )));
    }
    Ok(Some(metadata))
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write as _};

    use super::*;

    fn dep(package: &str, requirement: Option<&str>) -> Dependency {
        Dependency {
            namespace: None,
            package: package.to_owned(),
            dependency_type: Some(REQUIRES_DIST.to_owned()),
            version_requirement: requirement.map(str::to_owned),
        }
    }

    #[test]
    fn form_to_metadata() {
        let form = UploadForm {
            name: "My_Package".into(),
            version: "1.0".into(),
            filetype: "sdist".into(),
            pyversion: Some("source".into()),
            metadata_version: Some("2.4".into()),
            summary: Some("Summary".into()),
            description: Some("# Readme".into()),
            description_content_type: Some("text/markdown".into()),
            license: Some("MIT License text".into()),
            license_expression: Some("MIT".into()),
            home_page: None,
            project_urls: vec![
                "Documentation, https://docs.example.com".into(),
                "Source Code, https://git.example.com/src".into(),
                "Home-page, https://example.com".into(),
            ],
            author: Some("Jane".into()),
            author_email: None,
            requires_python: Some(">=3.8".into()),
            requires_dist: vec![
                "Requests[security,socks] (>=2.0,<3)".into(),
                "tomli>=2.0; python_version < \"3.9\"".into(),
                "typing_extensions".into(),
                "colorama ; sys_platform == \"win32\"".into(),
                "pip @ https://example.com/pip.whl ; extra == \"x\"".into(),
                "Zope.Interface@file:///tmp/z.whl".into(),
                "!!!".into(),
            ],
            classifiers: vec!["Programming Language :: Python :: 3".into()],
            sha256_digest: Some("0".repeat(64)),
            md5_digest: None,
            blake2_256_digest: None,
        };
        let meta = version_metadata(&form);
        assert_eq!(meta.display_name.as_deref(), Some("My_Package"));
        assert_eq!(meta.summary.as_deref(), Some("Summary"));
        assert_eq!(meta.readme.as_deref(), Some("# Readme"));
        assert_eq!(meta.home_page.as_deref(), Some("https://example.com"));
        assert_eq!(
            meta.source_code_repository.as_deref(),
            Some("https://git.example.com/src")
        );
        assert_eq!(
            meta.licenses,
            [License {
                name: Some("MIT".into()),
                url: None
            }]
        );
        assert_eq!(
            meta.dependencies,
            [
                dep("requests", Some(">=2.0,<3")),
                dep("tomli", Some(">=2.0; python_version < \"3.9\"")),
                dep("typing-extensions", None),
                dep("colorama", Some("; sys_platform == \"win32\"")),
                dep("pip", Some("@ https://example.com/pip.whl; extra == \"x\"")),
                dep("zope-interface", Some("@ file:///tmp/z.whl")),
            ]
        );
        assert_eq!(
            meta.extra,
            Some(json!({
                "metadata_version": "2.4",
                "requires_python": ">=3.8",
                "author": "Jane",
                "description_content_type": "text/markdown",
                "license_expression": "MIT",
                "license": "MIT License text",
                "classifiers": ["Programming Language :: Python :: 3"],
                "requires_dist": form.requires_dist,
                "project_urls": form.project_urls,
            }))
        );
        // Per-file fields do not enter the metadata: a wheel of the same version agrees.
        let wheel_form = UploadForm {
            filetype: "bdist_wheel".into(),
            pyversion: Some("py3".into()),
            sha256_digest: Some("1".repeat(64)),
            ..form
        };
        assert_eq!(version_metadata(&wheel_form), meta);
    }

    #[test]
    fn fallbacks_and_absent_fields() {
        let form = UploadForm {
            name: "demo".into(),
            version: "1".into(),
            home_page: Some("https://home.example.com".into()),
            license: Some("BSD".into()),
            project_urls: vec![
                "Homepage, https://other.example.com".into(),
                "Repository, https://repo.example.com".into(),
                "GitHub, https://github.example.com".into(),
                "no comma".into(),
            ],
            ..UploadForm::default()
        };
        let meta = version_metadata(&form);
        assert_eq!(meta.home_page.as_deref(), Some("https://home.example.com"));
        assert_eq!(
            meta.source_code_repository.as_deref(),
            Some("https://repo.example.com")
        );
        assert_eq!(meta.licenses[0].name.as_deref(), Some("BSD"));
        assert_eq!(meta.summary, None);
        assert_eq!(meta.readme, None);
        assert!(meta.dependencies.is_empty());

        let bare = version_metadata(&UploadForm {
            name: "demo".into(),
            version: "1".into(),
            ..UploadForm::default()
        });
        assert_eq!(bare.home_page, None);
        assert_eq!(bare.source_code_repository, None);
        assert!(bare.licenses.is_empty());
        assert_eq!(
            bare.extra,
            Some(json!({"classifiers": [], "requires_dist": [], "project_urls": []}))
        );
    }

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, content) in files {
            writer
                .start_file(
                    *name,
                    zip::write::SimpleFileOptions::default()
                        .compression_method(zip::CompressionMethod::Deflated),
                )
                .expect("start file");
            writer.write_all(content).expect("write file");
        }
        writer.finish().expect("finish zip").into_inner()
    }

    #[test]
    fn metadata_from_a_wheel() {
        let metadata = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\nReadme body\n";
        let wheel = zip_of(&[
            ("demo/__init__.py", b"print('hi')\n"),
            ("demo/sub/x.dist-info/METADATA", b"nested, ignored"),
            ("demo-1.0.dist-info/METADATA", metadata),
            ("demo-1.0.dist-info/RECORD", b""),
            ("demo-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n"),
        ]);
        assert_eq!(
            wheel_metadata(Cursor::new(&wheel)),
            Ok(Some(metadata.to_vec()))
        );
    }

    #[test]
    fn wheels_without_or_with_several_metadata() {
        let none = zip_of(&[("demo/__init__.py", b""), ("METADATA", b"top level")]);
        assert_eq!(wheel_metadata(Cursor::new(&none)), Ok(None));
        let two = zip_of(&[
            ("a-1.dist-info/METADATA", b"a"),
            ("b-1.dist-info/METADATA", b"b"),
        ]);
        assert!(matches!(
            wheel_metadata(Cursor::new(&two)),
            Err(PypiError::InvalidWheel(_))
        ));
        assert!(matches!(
            wheel_metadata(Cursor::new(b"not a zip at all")),
            Err(PypiError::InvalidWheel(_))
        ));
    }
}
