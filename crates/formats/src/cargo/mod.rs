//! Cargo, in one folder: crate names and the sparse index layout, the publish body
//! (length-prefixed JSON and `.crate`) and the `.crate` checks, index lines (rendered from what
//! was published, parsed from an upstream index) — and, on the format kit, its rules (`rules`)
//! and its endpoint (`endpoint`).

mod endpoint;
mod index;
mod inspect;
mod publish;
mod rules;

pub use endpoint::Cargo;
pub use index::{Features, IndexDep, IndexLine, index_line, parse_index_file, split_features};
pub use inspect::{CrateContents, MAX_INFLATED_BYTES, MAX_TAR_ENTRIES, inspect_crate};
pub use publish::{MAX_METADATA_BYTES, NewCrate, NewCrateDep, parse_new_crate};
pub use rules::CargoRules;

/// The longest crate name crates.io accepts.
pub const MAX_NAME_LENGTH: usize = 64;

/// Why a Cargo request, document or `.crate` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CargoError {
    /// The crate name breaks the registry's naming rules.
    #[error("invalid crate name: {0}")]
    InvalidName(String),
    /// The version is not a semantic version.
    #[error("invalid version: {0}")]
    InvalidVersion(String),
    /// The publish body is not what cargo sends (length prefixes, JSON metadata).
    #[error("invalid publish request: {0}")]
    InvalidRequest(String),
    /// The `.crate` is not a gzipped tarball with a readable `Cargo.toml`.
    #[error("invalid .crate: {0}")]
    InvalidCrate(String),
    /// The `.crate`'s `Cargo.toml` and the publish metadata disagree.
    #[error("manifest mismatch: {0}")]
    ManifestMismatch(String),
}

/// Cargo's error body, which it prints: `{"errors":[{"detail": message}]}`.
#[must_use]
pub fn error_body(message: &str) -> serde_json::Value {
    serde_json::json!({ "errors": [{ "detail": message }] })
}

/// Names the registry never takes: Windows device names (a crate is unpacked into a folder of
/// its name) and the crates of the Rust distribution.
const RESERVED: [&str; 27] = [
    "alloc",
    "core",
    "proc_macro",
    "std",
    "test",
    "con",
    "prn",
    "aux",
    "nul",
    "com1",
    "com2",
    "com3",
    "com4",
    "com5",
    "com6",
    "com7",
    "com8",
    "com9",
    "lpt1",
    "lpt2",
    "lpt3",
    "lpt4",
    "lpt5",
    "lpt6",
    "lpt7",
    "lpt8",
    "lpt9",
];

/// Checks a crate name as crates.io does: 1 to 64 ASCII letters, digits, `-` and `_`, starting
/// with a letter, and not a reserved name.
///
/// # Errors
/// `InvalidName` saying which rule is broken.
pub fn check_name(name: &str) -> Result<(), CargoError> {
    let bad = |why: &str| Err(CargoError::InvalidName(format!("{name:?} {why}")));
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > MAX_NAME_LENGTH {
        return bad(&format!("is longer than {MAX_NAME_LENGTH} characters"));
    }
    if !name.as_bytes()[0].is_ascii_alphabetic() {
        return bad("must start with an ASCII letter");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return bad("may only contain ASCII letters, digits, `-` and `_`");
    }
    if RESERVED.contains(&canonical(name).replace('-', "_").as_str()) {
        return bad("is a reserved name");
    }
    Ok(())
}

/// The name a crate is stored under (its package name): lowercase, as its index file is named.
#[must_use]
pub fn package_name(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// The form under which names are unique in a registry: lowercase, `_` as `-` (crates.io treats
/// `foo_bar`, `Foo-Bar` and `foo-bar` as one crate).
#[must_use]
pub fn canonical(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// The path of a crate's file in the sparse index, from the index root: `1/a`, `2/ab`,
/// `3/a/abc`, `ab/cd/abcd…`, lowercase.
#[must_use]
pub fn index_path(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    match name.len() {
        1 => format!("1/{name}"),
        2 => format!("2/{name}"),
        3 => format!("3/{}/{name}", &name[..1]),
        _ => format!("{}/{}/{name}", &name[..2], &name[2..4]),
    }
}

/// The crate name an index path names, when the path follows the layout (`segments` after the
/// repository, the name last); `None` for anything else.
#[must_use]
pub fn name_from_index_path(segments: &[&str]) -> Option<String> {
    let (name, _) = segments.split_last()?;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    let expected = index_path(name);
    let given = segments.join("/").to_ascii_lowercase();
    (given == expected).then(|| (*name).to_owned())
}

/// Checks a version as cargo writes it: `MAJOR.MINOR.PATCH`, numbers without leading zeros, an
/// optional `-pre-release` and `+build` of dot-separated ASCII alphanumerics and `-`.
///
/// # Errors
/// `InvalidVersion`.
pub fn check_version(version: &str) -> Result<(), CargoError> {
    let bad = || {
        Err(CargoError::InvalidVersion(format!(
            "{version:?} is not a semantic version (MAJOR.MINOR.PATCH)"
        )))
    };
    if version.len() > 128 {
        return bad();
    }
    let (rest, build) = match version.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (version, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let number_ok = |n: &&str| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && (n.len() == 1 || !n.starts_with('0'))
            && n.parse::<u64>().is_ok()
    };
    if numbers.len() != 3 || !numbers.iter().all(number_ok) {
        return bad();
    }
    let idents_ok = |s: &str| {
        s.split('.').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
    };
    if pre.is_some_and(|p| !idents_ok(p)) || build.is_some_and(|b| !idents_ok(b)) {
        return bad();
    }
    Ok(())
}

/// The name of a version's `.crate` asset, as crates.io names the download.
#[must_use]
pub fn crate_filename(name: &str, version: &str) -> String {
    format!("{name}-{version}.crate")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_crates_io_rules() {
        for ok in [
            "a",
            "serde",
            "serde_json",
            "tokio-util",
            "A1",
            "x-_-y",
            "cargo",
            "build",
        ] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "-a",
            "_a",
            "a b",
            "a.b",
            "ä",
            "a/b",
            "std",
            "Nul",
            "proc-macro",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name(&"a".repeat(64)).is_ok());
        assert!(check_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn index_paths_follow_the_layout() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("Ab"), "2/ab");
        assert_eq!(index_path("abc"), "3/a/abc");
        assert_eq!(index_path("Serde_Json"), "se/rd/serde_json");
        assert_eq!(
            name_from_index_path(&["se", "rd", "serde"]).as_deref(),
            Some("serde")
        );
        assert_eq!(
            name_from_index_path(&["3", "a", "abc"]).as_deref(),
            Some("abc")
        );
        assert_eq!(name_from_index_path(&["1", "a"]).as_deref(), Some("a"));
        for bad in [
            &["se", "rd", "tokio"][..],
            &["3", "b", "abc"],
            &["2", "abc"],
            &["serde"],
            &["se", "serde"],
            &["se", "rd", "se", "serde"],
            &["..", "..", "x"],
        ] {
            assert_eq!(name_from_index_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names_are_unique_modulo_case_and_separators() {
        assert_eq!(canonical("Foo_Bar"), canonical("foo-bar"));
        assert_eq!(package_name("Foo_Bar"), "foo_bar");
    }

    #[test]
    fn versions_are_semver() {
        for ok in ["0.1.0", "1.2.3-alpha.1", "1.0.0+build.5", "10.20.30-rc-1+x"] {
            assert_eq!(check_version(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "1",
            "1.2",
            "01.2.3",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-a..b",
            "1.2.x",
            "v1.2.3",
        ] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn error_body_has_cargo_s_shape() {
        assert_eq!(
            error_body("nope"),
            serde_json::json!({"errors": [{"detail": "nope"}]})
        );
    }
}
