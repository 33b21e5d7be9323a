//! Looking inside a `.crate` (a gzipped tarball of `{name}-{version}/…`) before it is
//! committed: its `Cargo.toml` must name the crate and version the publish metadata names, and
//! its README is kept as the version's readme. Reading is bounded in inflated bytes and entries,
//! and is CPU work, for a blocking thread (`Service::inspect_staged`).

use std::io::Read;
use std::ops::ControlFlow;
use std::path::Path;

use super::CargoError;
use crate::archive::{TarBounds, TarError, read_at_most, walk_tar_gz};

/// Inflated bytes read from a `.crate` at most (crates.io's own bound on unpacked crates).
pub const MAX_INFLATED_BYTES: u64 = 512 * 1024 * 1024;
/// Tar entries read from a `.crate` at most.
pub const MAX_TAR_ENTRIES: usize = 100_000;
/// The largest `Cargo.toml` read.
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;
/// The largest README kept (a longer one is cut, on a character boundary).
const MAX_README_BYTES: u64 = 512 * 1024;

/// What a `.crate` holds that the registry keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateContents {
    pub readme: Option<String>,
}

/// Checks a `.crate` against the publish metadata's `name` and `vers`: a gzipped tar whose
/// `{name}-{vers}/Cargo.toml` has `package.name == name` and `package.version == vers`; reads
/// the README at `readme_file` (relative to the crate root; `README.md` when absent).
///
/// # Errors
/// `InvalidCrate` (not gzip, not tar, no manifest, too large), `ManifestMismatch`.
pub fn inspect_crate(
    reader: &mut dyn Read,
    name: &str,
    vers: &str,
    readme_file: Option<&str>,
) -> Result<CrateContents, CargoError> {
    inspect_within(
        reader,
        name,
        vers,
        readme_file,
        MAX_INFLATED_BYTES,
        MAX_TAR_ENTRIES,
    )
}

fn inspect_within(
    reader: &mut dyn Read,
    name: &str,
    vers: &str,
    readme_file: Option<&str>,
    max_inflated: u64,
    max_entries: usize,
) -> Result<CrateContents, CargoError> {
    let bad = |why: String| CargoError::InvalidCrate(why);
    let root = format!("{name}-{vers}");
    let readme_path = Path::new(&root).join(readme_file.unwrap_or("README.md"));
    let manifest_path = Path::new(&root).join("Cargo.toml");
    let mut manifest: Option<Vec<u8>> = None;
    let mut readme: Option<String> = None;
    let bounds = TarBounds {
        max_inflated,
        max_entries,
    };
    let walked = walk_tar_gz(reader, bounds, |path, entry| {
        if manifest.is_none() && path == manifest_path {
            let bytes = read_at_most(entry, MAX_MANIFEST_BYTES)
                .map_err(|e| format!("unreadable Cargo.toml: {e}"))?
                .ok_or("its Cargo.toml is too large")?;
            manifest = Some(bytes);
        } else if readme.is_none() && path == readme_path {
            let mut bytes = Vec::new();
            entry
                .take(MAX_README_BYTES)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("unreadable README: {e}"))?;
            readme = Some(utf8_prefix(bytes));
        }
        Ok(if manifest.is_some() && readme.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    });
    match walked {
        Ok(()) => {}
        Err(TarError::TooLarge(max)) => {
            return Err(bad(format!("it inflates to more than {max} bytes")));
        }
        Err(TarError::TooManyEntries(max)) => {
            return Err(bad(format!("it has more than {max} entries")));
        }
        Err(TarError::Malformed(e)) => return Err(bad(format!("not a gzipped tarball: {e}"))),
        Err(TarError::Visitor(e)) => return Err(bad(e)),
    }
    let Some(manifest) = manifest else {
        return Err(bad(format!("it has no {root}/Cargo.toml")));
    };
    check_manifest(&manifest, name, vers)?;
    Ok(CrateContents { readme })
}

/// The longest valid UTF-8 prefix of `bytes` (a README cut at the bound may end mid-character).
fn utf8_prefix(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(valid);
            String::from_utf8(bytes).unwrap_or_default()
        }
    }
}

fn check_manifest(manifest: &[u8], name: &str, vers: &str) -> Result<(), CargoError> {
    let text = std::str::from_utf8(manifest)
        .map_err(|_| CargoError::InvalidCrate("its Cargo.toml is not UTF-8".to_owned()))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| CargoError::InvalidCrate(format!("its Cargo.toml is not TOML: {e}")))?;
    let package = doc
        .get("package")
        .and_then(toml::Value::as_table)
        .ok_or_else(|| {
            CargoError::InvalidCrate("its Cargo.toml has no [package] table".to_owned())
        })?;
    let field = |key: &str| package.get(key).and_then(toml::Value::as_str);
    if field("name") != Some(name) {
        return Err(CargoError::ManifestMismatch(format!(
            "Cargo.toml names the package {:?}, the metadata {name:?}",
            field("name").unwrap_or_default()
        )));
    }
    if field("version") != Some(vers) {
        return Err(CargoError::ManifestMismatch(format!(
            "Cargo.toml gives version {:?}, the metadata {vers:?}",
            field("version").unwrap_or_default()
        )));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `.crate` holding `files` (path, content).
    pub(crate) fn crate_file(files: &[(&str, &[u8])]) -> Vec<u8> {
        crate::archive::tgz(files)
    }

    fn manifest(name: &str, version: &str) -> Vec<u8> {
        format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n")
            .into_bytes()
    }

    fn check(bytes: &[u8]) -> Result<CrateContents, CargoError> {
        inspect_crate(&mut &bytes[..], "demo", "0.1.0", None)
    }

    #[test]
    fn a_good_crate_passes_and_gives_its_readme() {
        let m = manifest("demo", "0.1.0");
        let bytes = crate_file(&[
            ("demo-0.1.0/src/lib.rs", b"pub fn f() {}"),
            ("demo-0.1.0/README.md", b"# Demo\n"),
            ("demo-0.1.0/Cargo.toml", &m),
        ]);
        assert_eq!(
            check(&bytes),
            Ok(CrateContents {
                readme: Some("# Demo\n".to_owned())
            })
        );
        let bytes = crate_file(&[
            ("demo-0.1.0/Cargo.toml", &m),
            ("demo-0.1.0/docs/R.md", b"r"),
        ]);
        assert_eq!(
            inspect_crate(&mut &bytes[..], "demo", "0.1.0", Some("docs/R.md")),
            Ok(CrateContents {
                readme: Some("r".to_owned())
            })
        );
    }

    #[test]
    fn bad_crates_are_refused() {
        let other = manifest("other", "0.1.0");
        let newer = manifest("demo", "0.2.0");
        let good = manifest("demo", "0.1.0");
        type Expect = fn(&CargoError) -> bool;
        let cases: Vec<(Vec<u8>, Expect)> = vec![
            (b"not gzip at all".to_vec(), |e| {
                matches!(e, CargoError::InvalidCrate(_))
            }),
            (crate_file(&[("demo-0.1.0/Cargo.toml", &other)]), |e| {
                matches!(e, CargoError::ManifestMismatch(_))
            }),
            (crate_file(&[("demo-0.1.0/Cargo.toml", &newer)]), |e| {
                matches!(e, CargoError::ManifestMismatch(_))
            }),
            (crate_file(&[("other-0.1.0/Cargo.toml", &good)]), |e| {
                matches!(e, CargoError::InvalidCrate(_))
            }),
            (
                crate_file(&[("demo-0.1.0/Cargo.toml", b"[package\n")]),
                |e| matches!(e, CargoError::InvalidCrate(_)),
            ),
        ];
        for (bytes, expect) in cases {
            let got = check(&bytes);
            assert!(got.as_ref().is_err_and(expect), "{got:?}");
        }
        let truncated = crate_file(&[("demo-0.1.0/Cargo.toml", &good)]);
        assert!(check(&truncated[..truncated.len() / 2]).is_err());
    }

    #[test]
    fn inflating_is_bounded() {
        let big = vec![0u8; 64 * 1024];
        let good = manifest("demo", "0.1.0");
        let bytes = crate_file(&[("demo-0.1.0/big", &big), ("demo-0.1.0/Cargo.toml", &good)]);
        let got = inspect_within(&mut &bytes[..], "demo", "0.1.0", None, 16 * 1024, 100);
        assert!(matches!(got, Err(CargoError::InvalidCrate(ref m)) if m.contains("inflates")));
        let got = inspect_within(&mut &bytes[..], "demo", "0.1.0", None, 1 << 20, 1);
        assert!(matches!(got, Err(CargoError::InvalidCrate(ref m)) if m.contains("entries")));
    }
}
