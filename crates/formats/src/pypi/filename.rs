//! Distribution filenames: wheels (`{name}-{version}(-{build})?-{py}-{abi}-{plat}.whl`) and
//! source distributions (`{name}-{version}.tar.gz`, legacy `.zip`).

use super::{PypiError, normalize};

/// The kind of distribution a filename names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DistKind {
    Wheel,
    Sdist,
}

/// Source distribution extensions accepted on upload.
const UPLOAD_SDIST_EXTENSIONS: [&str; 2] = [".tar.gz", ".zip"];

/// Source distribution extensions recognised in an upstream's listing, older formats included.
const LISTED_SDIST_EXTENSIONS: [&str; 7] = [
    ".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz", ".tbz", ".tar",
];

/// The parts of a wheel filename.
struct WheelName<'a> {
    name: &'a str,
    version: &'a str,
}

/// Splits a wheel filename into its parts: 5 or 6 non-empty `-`-separated fields, the optional
/// build tag starting with a digit.
fn parse_wheel(filename: &str) -> Option<WheelName<'_>> {
    let stem = strip_suffix_ignore_case(filename, ".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    match parts.as_slice() {
        [name, version, _, _, _] => Some(WheelName { name, version }),
        [name, version, build, _, _, _]
            if build.as_bytes().first().is_some_and(u8::is_ascii_digit) =>
        {
            Some(WheelName { name, version })
        }
        _ => None,
    }
}

fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let split = text.len().checked_sub(suffix.len())?;
    (text.is_char_boundary(split) && text[split..].eq_ignore_ascii_case(suffix))
        .then(|| &text[..split])
}

/// Whether two spellings of a version are the same for filename purposes: equal ignoring
/// ASCII case, with `-` and `_` interchangeable (wheel names escape `-` as `_`).
fn same_version(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            let fold = |c: u8| {
                if c == b'-' {
                    b'_'
                } else {
                    c.to_ascii_lowercase()
                }
            };
            fold(x) == fold(y)
        })
}

/// Splits an sdist stem `{name}-{version}` where the name part normalizes to `project`; names
/// may hold `-` themselves, so each split point is tried from the left.
fn split_sdist_stem<'a>(stem: &'a str, project: &str) -> Option<&'a str> {
    let project = normalize(project);
    stem.match_indices('-')
        .map(|(i, _)| (&stem[..i], &stem[i + 1..]))
        .find(|(name, version)| !version.is_empty() && normalize(name) == project)
        .map(|(_, version)| version)
}

/// Checks that `filename` is a wheel or sdist of `project` at `version` and tells which.
///
/// Names are compared normalized (PEP 503), so `My_Pkg-1.0.tar.gz` and
/// `my_pkg-1.0-py3-none-any.whl` both belong to project `my-pkg`; versions are compared
/// ignoring case with `-` and `_` equivalent. Sdists must end in `.tar.gz` or `.zip`.
///
/// # Errors
/// [`PypiError::InvalidFilename`] when the name is not such a file, holds a path separator, or
/// names another project or version.
pub fn check_filename(filename: &str, project: &str, version: &str) -> Result<DistKind, PypiError> {
    let invalid = |why: &str| PypiError::InvalidFilename(format!("{filename:?}: {why}"));
    if filename.is_empty()
        || filename.starts_with('.')
        || filename
            .chars()
            .any(|c| matches!(c, '/' | '\\') || c.is_control() || c.is_whitespace())
    {
        return Err(invalid("not a plain file name"));
    }
    if strip_suffix_ignore_case(filename, ".whl").is_some() {
        let wheel = parse_wheel(filename).ok_or_else(|| {
            invalid("a wheel is {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl")
        })?;
        if normalize(wheel.name) != normalize(project) {
            return Err(invalid(&format!("not a wheel of {project}")));
        }
        if !same_version(wheel.version, version) {
            return Err(invalid(&format!("not a wheel of version {version}")));
        }
        return Ok(DistKind::Wheel);
    }
    let stem = UPLOAD_SDIST_EXTENSIONS
        .iter()
        .find_map(|ext| strip_suffix_ignore_case(filename, ext))
        .ok_or_else(|| invalid("not a wheel (.whl) nor an sdist (.tar.gz, .zip)"))?;
    let found = split_sdist_stem(stem, project)
        .ok_or_else(|| invalid(&format!("not an sdist of {project}")))?;
    if !same_version(found, version) {
        return Err(invalid(&format!("not an sdist of version {version}")));
    }
    Ok(DistKind::Sdist)
}

/// The version a distribution filename names, given its project: the version field of a wheel
/// or egg, or what follows `{name}-` in an sdist (`.tar.gz`, `.zip`, `.tar.bz2`, `.tgz`,
/// `.tar.xz`, `.tbz`, `.tar`). `None` when the file is not one of those or is of another
/// project.
#[must_use]
pub fn version_from_filename(filename: &str, project: &str) -> Option<String> {
    if filename.contains(['/', '\\']) {
        return None;
    }
    if strip_suffix_ignore_case(filename, ".whl").is_some() {
        let wheel = parse_wheel(filename)?;
        return (normalize(wheel.name) == normalize(project)).then(|| wheel.version.to_owned());
    }
    if let Some(stem) = strip_suffix_ignore_case(filename, ".egg") {
        let mut parts = stem.split('-');
        let (name, version) = (parts.next()?, parts.next()?);
        return (!version.is_empty() && normalize(name) == normalize(project))
            .then(|| version.to_owned());
    }
    let stem = LISTED_SDIST_EXTENSIONS
        .iter()
        .find_map(|ext| strip_suffix_ignore_case(filename, ext))?;
    split_sdist_stem(stem, project).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_filenames() {
        let cases = [
            ("demo-1.0-py3-none-any.whl", "demo", "1.0", DistKind::Wheel),
            (
                "my_pkg-1.0-py3-none-any.whl",
                "my-pkg",
                "1.0",
                DistKind::Wheel,
            ),
            (
                "my_pkg-1.0-py3-none-any.whl",
                "My.Pkg",
                "1.0",
                DistKind::Wheel,
            ),
            (
                "My_Pkg-2.0rc1-1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                "my-pkg",
                "2.0rc1",
                DistKind::Wheel,
            ),
            (
                "demo-1.0_post1-py3-none-any.whl",
                "demo",
                "1.0-post1",
                DistKind::Wheel,
            ),
            (
                "demo-1.0+local-py2.py3-none-any.whl",
                "demo",
                "1.0+local",
                DistKind::Wheel,
            ),
            ("demo-1.0.tar.gz", "demo", "1.0", DistKind::Sdist),
            ("my_pkg-1.0.tar.gz", "my-pkg", "1.0", DistKind::Sdist),
            ("my-pkg-1.0.tar.gz", "my_pkg", "1.0", DistKind::Sdist),
            (
                "zope.interface-5.4.0.zip",
                "zope-interface",
                "5.4.0",
                DistKind::Sdist,
            ),
            ("Demo-1.0.TAR.GZ", "demo", "1.0", DistKind::Sdist),
            ("demo-1.0-1.tar.gz", "demo", "1.0-1", DistKind::Sdist),
        ];
        for (filename, project, version, kind) in cases {
            assert_eq!(
                check_filename(filename, project, version),
                Ok(kind),
                "{filename}"
            );
        }
    }

    #[test]
    fn refused_filenames() {
        let cases = [
            ("other-1.0-py3-none-any.whl", "demo", "1.0"),
            ("demo-1.1-py3-none-any.whl", "demo", "1.0"),
            ("demo-1.0-none-any.whl", "demo", "1.0"),
            ("demo-1.0-x1-py3-none-any.whl", "demo", "1.0"),
            ("demo-1.0-1-2-py3-none-any.whl", "demo", "1.0"),
            ("demo-1.0--none-any.whl", "demo", "1.0"),
            ("demo-pkg-1.0-py3-none-any.whl", "demo-pkg", "1.0"),
            ("demo-1.0.tar.bz2", "demo", "1.0"),
            ("demo-1.0.egg", "demo", "1.0"),
            ("demo-1.0.tar.gz", "demo", "1.1"),
            ("demos-1.0.tar.gz", "demo", "1.0"),
            ("demo.tar.gz", "demo", "1.0"),
            ("demo-.tar.gz", "demo", "1.0"),
            ("../demo-1.0.tar.gz", "demo", "1.0"),
            ("dir/demo-1.0.tar.gz", "demo", "1.0"),
            (".demo-1.0.tar.gz", "demo", "1.0"),
            ("", "demo", "1.0"),
        ];
        for (filename, project, version) in cases {
            assert!(
                matches!(
                    check_filename(filename, project, version),
                    Err(PypiError::InvalidFilename(_))
                ),
                "{filename}"
            );
        }
    }

    #[test]
    fn versions_from_listed_filenames() {
        let cases = [
            ("demo-1.0-py3-none-any.whl", "demo", Some("1.0")),
            (
                "my_pkg-2.0-1-cp39-abi3-win_amd64.whl",
                "My-Pkg",
                Some("2.0"),
            ),
            ("my-pkg-1.0.tar.gz", "my-pkg", Some("1.0")),
            ("my_pkg-1.0.post1.zip", "my.pkg", Some("1.0.post1")),
            ("demo-0.9.tar.bz2", "demo", Some("0.9")),
            ("demo-0.9.tgz", "demo", Some("0.9")),
            ("demo-0.8-py2.7.egg", "demo", Some("0.8")),
            ("demo-1.0-1.tar.gz", "demo", Some("1.0-1")),
            ("other-1.0.tar.gz", "demo", None),
            ("other-1.0-py3-none-any.whl", "demo", None),
            ("demo-1.0.exe", "demo", None),
            ("demo-1.0-py3-none.whl", "demo", None),
            ("demo.tar.gz", "demo", None),
            ("a/demo-1.0.tar.gz", "demo", None),
        ];
        for (filename, project, expected) in cases {
            assert_eq!(
                version_from_filename(filename, project).as_deref(),
                expected,
                "{filename}"
            );
        }
    }
}
