//! Maven: the repository layout (`group/path/artifact/version/file`, `maven-metadata.xml` at
//! artifact and SNAPSHOT-version level, checksum sidecars), version ordering, SNAPSHOT build
//! names, and the XML it reads and writes (POMs, `maven-metadata.xml`) in `xml.rs`.

mod endpoint;
mod rules;
mod xml;

pub use endpoint::Maven;
pub use rules::MavenRules;
pub use xml::{
    ArtifactMetadata, MAX_METADATA_BYTES, MAX_POM_BYTES, Plugin, Pom, SnapshotFile, parse_metadata,
    parse_pom, render_artifact_metadata, render_group_metadata, render_version_metadata,
};

use std::cmp::Ordering;

/// The artifact- or version-level metadata document's file name.
pub const METADATA: &str = "maven-metadata.xml";

/// Why a Maven request or document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MavenError {
    /// The path is not `group/…/artifact/version/file` or `group/…/artifact/maven-metadata.xml`.
    #[error("invalid path: {0}")]
    InvalidPath(String),
    /// A POM or `maven-metadata.xml` is not XML, is truncated, or is not that document.
    #[error("invalid {document}: {reason}")]
    InvalidDocument {
        document: &'static str,
        reason: String,
    },
    /// A document names other coordinates than its path.
    #[error("{0}")]
    Mismatch(String),
}

/// A checksum sidecar's algorithm, by the suffix Maven gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl Checksum {
    const ALL: [Self; 4] = [Self::Md5, Self::Sha1, Self::Sha256, Self::Sha512];

    #[must_use]
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Md5 => ".md5",
            Self::Sha1 => ".sha1",
            Self::Sha256 => ".sha256",
            Self::Sha512 => ".sha512",
        }
    }

    /// Length of the digest in hex.
    #[must_use]
    pub fn hex_len(self) -> usize {
        match self {
            Self::Md5 => 32,
            Self::Sha1 => 40,
            Self::Sha256 => 64,
            Self::Sha512 => 128,
        }
    }

    /// The digest of `hashes` this sidecar carries.
    #[must_use]
    pub fn of(self, hashes: &reliquary_types::AssetHashes) -> &str {
        match self {
            Self::Md5 => &hashes.md5,
            Self::Sha1 => &hashes.sha1,
            Self::Sha256 => &hashes.sha256,
            Self::Sha512 => &hashes.sha512,
        }
    }

    /// The digest of `bytes` in lowercase hex.
    #[must_use]
    pub fn digest(self, bytes: &[u8]) -> String {
        use sha1::Digest as _;
        match self {
            Self::Md5 => hex::encode(md5::Md5::digest(bytes)),
            Self::Sha1 => hex::encode(sha1::Sha1::digest(bytes)),
            Self::Sha256 => hex::encode(sha2::Sha256::digest(bytes)),
            Self::Sha512 => hex::encode(sha2::Sha512::digest(bytes)),
        }
    }

    /// Splits a sidecar's suffix off a file name: `("a.jar", Some(Sha1))` for `a.jar.sha1`.
    #[must_use]
    pub fn split(name: &str) -> (&str, Option<Self>) {
        for checksum in Self::ALL {
            if let Some(base) = name.strip_suffix(checksum.suffix())
                && !base.is_empty()
            {
                return (base, Some(checksum));
            }
        }
        (name, None)
    }

    /// The digest a sidecar body carries: its first word, lowercased (some tools append the
    /// file name). `None` unless it is hex of the right length.
    #[must_use]
    pub fn parse_body(self, body: &[u8]) -> Option<String> {
        let text = std::str::from_utf8(body).ok()?;
        let word = text.split_whitespace().next()?;
        (word.len() == self.hex_len() && word.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| word.to_ascii_lowercase())
    }
}

/// What a path under a repository's Maven endpoint names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MavenPath {
    /// `group/…/artifact/maven-metadata.xml`, generated from the repository's view.
    ArtifactMetadata {
        group: String,
        artifact: String,
        checksum: Option<Checksum>,
    },
    /// `group/…/artifact/1.0-SNAPSHOT/maven-metadata.xml`, generated from the newest build.
    VersionMetadata {
        group: String,
        artifact: String,
        version: String,
        checksum: Option<Checksum>,
    },
    /// `group/…/artifact/version/file`: an asset of the version (or its checksum).
    File {
        group: String,
        artifact: String,
        version: String,
        file: String,
        checksum: Option<Checksum>,
    },
}

/// Whether a path segment can be part of a Maven coordinate or file name here: printable ASCII
/// without separators or characters with a meaning in URLs and file systems, and never `.` or
/// `..`.
fn valid_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && segment.len() <= 255
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+' | b'~'))
}

impl MavenPath {
    /// Parses the decoded segments after the repository. `raw` is the raw request path (it
    /// must have no empty, `.` or `..` segment).
    ///
    /// # Errors
    /// `InvalidPath` for anything that is not a Maven repository path.
    pub fn parse(raw: &str, segments: &[String]) -> Result<Self, MavenError> {
        let invalid = |why: &str| MavenError::InvalidPath(why.to_owned());
        let raw_segments: Vec<&str> = raw.split('/').skip(5).collect();
        if raw_segments
            .iter()
            .any(|s| s.is_empty() || *s == "." || *s == "..")
            || raw.contains("//")
        {
            return Err(invalid("empty, `.` and `..` path segments are not allowed"));
        }
        if let Some(bad) = segments.iter().find(|s| !valid_segment(s)) {
            return Err(MavenError::InvalidPath(format!(
                "path segment {bad:?} has characters a Maven path cannot have"
            )));
        }
        let n = segments.len();
        let Some(last) = segments.last() else {
            return Err(invalid("no file named"));
        };
        let (base, checksum) = Checksum::split(last);
        if base == METADATA {
            if n >= 4 && segments[n - 2].ends_with("-SNAPSHOT") {
                return Ok(Self::VersionMetadata {
                    group: segments[..n - 3].join("."),
                    artifact: segments[n - 3].clone(),
                    version: segments[n - 2].clone(),
                    checksum,
                });
            }
            if n >= 3 {
                return Ok(Self::ArtifactMetadata {
                    group: segments[..n - 2].join("."),
                    artifact: segments[n - 2].clone(),
                    checksum,
                });
            }
            return Err(invalid(
                "maven-metadata.xml is served at group/artifact/ level and below",
            ));
        }
        if n < 4 {
            return Err(invalid(
                "a file's path is group/…/artifact/version/file, with at least one group segment",
            ));
        }
        let artifact = &segments[n - 3];
        let version = &segments[n - 2];
        if !file_matches(base, artifact, version) {
            return Err(MavenError::Mismatch(format!(
                "File {base} is not a file of {artifact} {version}: its name must start with {artifact}-{version}"
            )));
        }
        Ok(Self::File {
            group: segments[..n - 3].join("."),
            artifact: artifact.clone(),
            version: version.clone(),
            file: base.to_owned(),
            checksum,
        })
    }
}

/// Whether `file` belongs to `artifact` `version`: `artifact-version` followed by nothing, a
/// classifier (`-…`) or an extension (`.…`); for a SNAPSHOT version `1.0-SNAPSHOT` also the
/// timestamped `artifact-1.0-20261129.101500-3…`.
#[must_use]
pub fn file_matches(file: &str, artifact: &str, version: &str) -> bool {
    let tail_ok = |rest: &str| rest.starts_with('.') || rest.starts_with('-');
    if let Some(rest) = file
        .strip_prefix(artifact)
        .and_then(|r| r.strip_prefix('-'))
    {
        if let Some(after) = rest.strip_prefix(version)
            && tail_ok(after)
        {
            return true;
        }
        if is_snapshot(version) {
            return snapshot_build(file, artifact, version).is_some();
        }
    }
    false
}

#[must_use]
pub fn is_snapshot(version: &str) -> bool {
    version.ends_with("-SNAPSHOT")
}

/// A timestamped SNAPSHOT build a file belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Build {
    /// The build number first, so builds order by it, then by time.
    pub number: u32,
    /// `yyyyMMdd.HHmmss`.
    pub timestamp: String,
}

impl Build {
    /// `1.0-20261129.101500-3` for base version `1.0`.
    #[must_use]
    pub fn version(&self, snapshot: &str) -> String {
        let base = snapshot.strip_suffix("-SNAPSHOT").unwrap_or(snapshot);
        format!("{base}-{}-{}", self.timestamp, self.number)
    }
}

/// The build of a timestamped SNAPSHOT file, and what follows it in the name (`.jar`,
/// `-sources.jar`).
#[must_use]
pub fn snapshot_build<'f>(
    file: &'f str,
    artifact: &str,
    version: &str,
) -> Option<(Build, &'f str)> {
    let base = version.strip_suffix("-SNAPSHOT")?;
    let rest = file
        .strip_prefix(artifact)?
        .strip_prefix('-')?
        .strip_prefix(base)?
        .strip_prefix('-')?;
    // yyyyMMdd.HHmmss-N
    let (timestamp, rest) = rest.split_at_checked(15)?;
    let (date, time) = timestamp.split_once('.')?;
    if date.len() != 8
        || time.len() != 6
        || !date.bytes().chain(time.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let rest = rest.strip_prefix('-')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let number = rest[..digits].parse().ok()?;
    let tail = &rest[digits..];
    (tail.starts_with('.') || tail.starts_with('-')).then(|| {
        (
            Build {
                number,
                timestamp: timestamp.to_owned(),
            },
            tail,
        )
    })
}

/// One token of a version, as Maven's `ComparableVersion` sees it (simplified).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Number(u64),
    Qualifier(String),
}

fn qualifier_rank(q: &str) -> (u8, &str) {
    match q {
        "alpha" | "a" => (0, ""),
        "beta" | "b" => (1, ""),
        "milestone" | "m" => (2, ""),
        "rc" | "cr" => (3, ""),
        "snapshot" => (4, ""),
        "" | "ga" | "final" | "release" => (5, ""),
        "sp" => (6, ""),
        other => (7, other),
    }
}

fn tokens(version: &str) -> Vec<Token> {
    let lower = version.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut current = String::new();
    let mut digits = false;
    let flush = |current: &mut String, digits: bool, out: &mut Vec<Token>| {
        if current.is_empty() {
            return;
        }
        let token = if digits {
            current
                .parse()
                .map_or_else(|_| Token::Qualifier(current.clone()), Token::Number)
        } else {
            Token::Qualifier(current.clone())
        };
        out.push(token);
        current.clear();
    };
    for c in lower.chars() {
        if c == '.' || c == '-' || c == '_' {
            flush(&mut current, digits, &mut out);
            continue;
        }
        let is_digit = c.is_ascii_digit();
        if !current.is_empty() && is_digit != digits {
            flush(&mut current, digits, &mut out);
        }
        digits = is_digit;
        current.push(c);
    }
    flush(&mut current, digits, &mut out);
    out
}

fn compare_tokens(a: Option<&Token>, b: Option<&Token>) -> Ordering {
    match (a, b) {
        (Some(Token::Number(x)), Some(Token::Number(y))) => x.cmp(y),
        (Some(Token::Number(x)), None) => x.cmp(&0),
        (None, Some(Token::Number(y))) => 0.cmp(y),
        (Some(Token::Number(_)), Some(Token::Qualifier(_))) => Ordering::Greater,
        (Some(Token::Qualifier(_)), Some(Token::Number(_))) => Ordering::Less,
        (Some(Token::Qualifier(x)), Some(Token::Qualifier(y))) => {
            qualifier_rank(x).cmp(&qualifier_rank(y))
        }
        (Some(Token::Qualifier(x)), None) => qualifier_rank(x).cmp(&qualifier_rank("")),
        (None, Some(Token::Qualifier(y))) => qualifier_rank("").cmp(&qualifier_rank(y)),
        (None, None) => Ordering::Equal,
    }
}

/// Orders versions as Maven does for the cases that matter in a version list: numbers
/// numerically, `alpha < beta < milestone < rc < snapshot < release < sp < other qualifiers`,
/// missing parts as `0` or the release; ties broken by the text.
#[must_use]
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (ta, tb) = (tokens(a), tokens(b));
    for i in 0..ta.len().max(tb.len()) {
        let order = compare_tokens(ta.get(i), tb.get(i));
        if order != Ordering::Equal {
            return order;
        }
    }
    a.cmp(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(path: &str) -> Vec<String> {
        path.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn parse(path: &str) -> Result<MavenPath, MavenError> {
        let raw = format!("/maven/d/dom-111122223333/repo/{path}");
        MavenPath::parse(&raw, &segs(path))
    }

    #[test]
    fn paths_name_files_metadata_and_checksums() {
        assert_eq!(
            parse("com/example/lib/1.0/lib-1.0.jar"),
            Ok(MavenPath::File {
                group: "com.example".into(),
                artifact: "lib".into(),
                version: "1.0".into(),
                file: "lib-1.0.jar".into(),
                checksum: None,
            })
        );
        assert_eq!(
            parse("com/example/lib/1.0/lib-1.0-sources.jar.sha1"),
            Ok(MavenPath::File {
                group: "com.example".into(),
                artifact: "lib".into(),
                version: "1.0".into(),
                file: "lib-1.0-sources.jar".into(),
                checksum: Some(Checksum::Sha1),
            })
        );
        assert_eq!(
            parse("com/example/lib/maven-metadata.xml.md5"),
            Ok(MavenPath::ArtifactMetadata {
                group: "com.example".into(),
                artifact: "lib".into(),
                checksum: Some(Checksum::Md5),
            })
        );
        assert_eq!(
            parse("com/example/lib/1.0-SNAPSHOT/maven-metadata.xml"),
            Ok(MavenPath::VersionMetadata {
                group: "com.example".into(),
                artifact: "lib".into(),
                version: "1.0-SNAPSHOT".into(),
                checksum: None,
            })
        );
        assert!(parse("com/example/lib/1.0-SNAPSHOT/lib-1.0-20261129.101500-3.pom").is_ok());
    }

    #[test]
    fn bad_paths_are_refused() {
        for bad in [
            "com/../lib/1.0/lib-1.0.jar",
            "com//example/lib/1.0/lib-1.0.jar",
            "com/./lib/1.0/lib-1.0.jar",
            "lib/1.0/lib-1.0.jar",
            "maven-metadata.xml",
            "com/example/lib/1.0/other-1.0.jar",
            "com/example/lib/1.0/lib-1.1.jar",
            "com/example/lib/1.0/lib-1.0",
            "com/ex ample/lib/1.0/lib-1.0.jar",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn snapshot_builds_are_read_from_file_names() {
        let (build, tail) = snapshot_build(
            "lib-1.0-20261129.101500-3-sources.jar",
            "lib",
            "1.0-SNAPSHOT",
        )
        .unwrap_or_else(|| panic!("a build"));
        assert_eq!(build.number, 3);
        assert_eq!(build.timestamp, "20261129.101500");
        assert_eq!(tail, "-sources.jar");
        assert_eq!(build.version("1.0-SNAPSHOT"), "1.0-20261129.101500-3");
        assert!(snapshot_build("lib-1.0-SNAPSHOT.jar", "lib", "1.0-SNAPSHOT").is_none());
        assert!(snapshot_build("lib-1.0-2026112.101500-3.jar", "lib", "1.0-SNAPSHOT").is_none());
    }

    #[test]
    fn versions_order_as_maven_orders_them() {
        let mut versions = vec![
            "1.10",
            "1.2",
            "1.0",
            "1.0-alpha-1",
            "1.0-rc1",
            "1.0-SNAPSHOT",
            "1.0-beta",
            "1.0.1",
            "2.0-sp1",
        ];
        versions.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            versions,
            [
                "1.0-alpha-1",
                "1.0-beta",
                "1.0-rc1",
                "1.0-SNAPSHOT",
                "1.0",
                "1.0.1",
                "1.2",
                "1.10",
                "2.0-sp1"
            ]
        );
    }

    #[test]
    fn checksum_bodies_are_one_hex_word() {
        assert_eq!(
            Checksum::Md5.parse_body(b"D41D8CD98F00B204E9800998ECF8427E  lib.jar\n"),
            Some("d41d8cd98f00b204e9800998ecf8427e".to_owned())
        );
        assert_eq!(Checksum::Md5.parse_body(b"nope"), None);
        assert_eq!(Checksum::Sha1.parse_body(b""), None);
    }
}
