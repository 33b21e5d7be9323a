//! PyPI: project names, twine's upload form and the distribution filenames it carries, version
//! metadata extraction (from the form or a wheel's `METADATA`), the simple repository API in its
//! HTML (PEP 503) and JSON (PEP 691) forms with their content negotiation, and the parsing of an
//! upstream index's project pages.

mod accept;
mod endpoint;
mod filename;
mod metadata;
mod page;
mod rules;
mod simple;
mod upload;

pub use accept::{HTML_MEDIA_TYPE, JSON_MEDIA_TYPE, LEGACY_HTML_MEDIA_TYPE, negotiate};
pub use endpoint::Pypi;
pub use filename::{DistKind, check_filename, version_from_filename};
pub use metadata::{MAX_METADATA_SIZE, REQUIRES_DIST, version_metadata, wheel_metadata};
pub use page::parse_project_page;
pub use rules::{ProjectPage, PypiRules};
pub use simple::{
    SimpleFile, project_page_html, project_page_json, root_page_html, root_page_json,
};
pub use upload::{UploadForm, parse_upload_form};

/// The simple repository API version this module speaks (PEP 629, PEP 700).
pub const API_VERSION: &str = "1.1";

/// Why a PyPI request, document or file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PypiError {
    /// The upload form lacks a required field or a field in it has the wrong shape.
    #[error("invalid upload form: {0}")]
    InvalidForm(String),
    /// The filename is not a wheel or sdist of the project and version.
    #[error("invalid filename: {0}")]
    InvalidFilename(String),
    /// The wheel is not a readable zip archive, or its `.dist-info` is unusable.
    #[error("invalid wheel: {0}")]
    InvalidWheel(String),
    /// An upstream project page is neither PEP 691 JSON nor PEP 503 HTML we can read.
    #[error("invalid project page: {0}")]
    InvalidPage(String),
}

/// The PEP 503 normalized form of a project name: lowercase, each run of `-`, `_` and `.`
/// replaced by a single `-`.
#[must_use]
pub fn normalize(name: &str) -> String {
    let mut normalized = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator_run {
                normalized.push('-');
            }
            in_separator_run = true;
        } else {
            normalized.extend(c.to_lowercase());
            in_separator_run = false;
        }
    }
    normalized
}

/// Whether `name` is a valid project name (core metadata `Name`, PEP 508): ASCII letters,
/// digits, `.`, `_` and `-`, starting and ending with a letter or digit.
#[must_use]
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        _ => false,
    }
}

/// Escapes text for HTML content and double- or single-quoted attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_follows_pep_503() {
        let cases = [
            ("friendly-bard", "friendly-bard"),
            ("Friendly-Bard", "friendly-bard"),
            ("FRIENDLY-BARD", "friendly-bard"),
            ("friendly.bard", "friendly-bard"),
            ("friendly_bard", "friendly-bard"),
            ("friendly--bard", "friendly-bard"),
            ("FrIeNdLy-._.-bArD", "friendly-bard"),
            ("zope.interface", "zope-interface"),
            ("Django", "django"),
            ("a", "a"),
            ("", ""),
        ];
        for (name, expected) in cases {
            assert_eq!(normalize(name), expected, "{name}");
        }
    }

    #[test]
    fn valid_names() {
        for name in ["a", "A1", "zope.interface", "my_pkg-2", "x.y_z-w"] {
            assert!(is_valid_name(name), "{name}");
        }
        for name in ["", "-a", "a-", ".a", "a b", "a/b", "ä", "a+b"] {
            assert!(!is_valid_name(name), "{name}");
        }
    }

    #[test]
    fn escaping_covers_the_five_characters() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
        );
        assert_eq!(escape_html(">=3.8,<4"), "&gt;=3.8,&lt;4");
    }
}
