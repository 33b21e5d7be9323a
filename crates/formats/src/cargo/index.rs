//! Index lines (the registry index format, one JSON object per version): rendered from what
//! `cargo publish` sent, and parsed from an upstream sparse index.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::NewCrate;

/// A crate's features: name → what each enables.
pub type Features = BTreeMap<String, Vec<String>>;

/// One version's line in a sparse index file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexLine {
    pub name: String,
    pub vers: String,
    #[serde(default)]
    pub deps: Vec<IndexDep>,
    /// SHA-256 of the `.crate`, lowercase hex.
    pub cksum: String,
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features2: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    pub yanked: bool,
    #[serde(default)]
    pub links: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rust_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<u32>,
}

/// A dependency in an index line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDep {
    /// The name used in `Cargo.toml` (the rename, when renamed).
    pub name: String,
    pub req: String,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default = "yes")]
    pub default_features: bool,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default = "normal")]
    pub kind: String,
    #[serde(default)]
    pub registry: Option<String>,
    /// The real crate name, when the dependency is renamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

fn yes() -> bool {
    true
}

fn normal() -> String {
    "normal".to_owned()
}

/// Splits features as crates.io does: those using `dep:` or `?/` syntax go to `features2`
/// (older cargo would choke on them), and the line's `v` becomes 2.
#[must_use]
pub fn split_features(features: &Features) -> (Features, Option<Features>) {
    let (new, old): (BTreeMap<_, _>, BTreeMap<_, _>) = features
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(_, values)| {
            values
                .iter()
                .any(|v| v.starts_with("dep:") || v.contains("?/"))
        });
    (old, (!new.is_empty()).then_some(new))
}

/// The index line of a published version (not yanked).
#[must_use]
pub fn index_line(new: &NewCrate, cksum: &str) -> IndexLine {
    let deps = new
        .deps
        .iter()
        .map(|d| {
            let (name, package) = match &d.explicit_name_in_toml {
                Some(rename) => (rename.clone(), Some(d.name.clone())),
                None => (d.name.clone(), None),
            };
            IndexDep {
                name,
                req: d.version_req.clone(),
                features: d.features.clone(),
                optional: d.optional,
                default_features: d.default_features,
                target: d.target.clone(),
                kind: d.kind.clone().unwrap_or_else(normal),
                registry: d.registry.clone(),
                package,
            }
        })
        .collect();
    let (features, features2) = split_features(&new.features);
    IndexLine {
        name: new.name.clone(),
        vers: new.vers.clone(),
        deps,
        cksum: cksum.to_owned(),
        v: Some(if features2.is_some() { 2 } else { 1 }),
        features,
        features2,
        yanked: false,
        links: new.links.clone(),
        rust_version: new.rust_version.clone(),
    }
}

/// The lines of an index file that parse (a line this server cannot read is skipped, as cargo
/// skips lines it cannot read).
#[must_use]
pub fn parse_index_file(body: &[u8]) -> Vec<IndexLine> {
    body.split(|b| *b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cargo::parse_new_crate;
    use serde_json::json;

    #[test]
    fn a_published_version_renders_as_crates_io_writes_it() {
        let body = json!({
            "name": "Demo", "vers": "0.1.0",
            "deps": [
                {"name": "serde", "version_req": "^1", "features": ["derive"], "optional": true,
                 "default_features": false, "target": "cfg(unix)", "kind": "normal",
                 "registry": "https://github.com/rust-lang/crates.io-index",
                 "explicit_name_in_toml": "serde1"},
                {"name": "helper", "version_req": "^0.2", "kind": "build"}
            ],
            "features": {"default": ["std"], "std": [], "json": ["dep:serde1", "helper?/x"]},
            "links": "z", "rust_version": "1.70"
        });
        let new = parse_new_crate(&serde_json::to_vec(&body).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        let line = serde_json::to_value(index_line(&new, "ab12")).unwrap_or_default();
        assert_eq!(
            line,
            json!({
                "name": "Demo", "vers": "0.1.0", "cksum": "ab12", "yanked": false, "links": "z",
                "rust_version": "1.70", "v": 2,
                "features": {"default": ["std"], "std": []},
                "features2": {"json": ["dep:serde1", "helper?/x"]},
                "deps": [
                    {"name": "serde1", "package": "serde", "req": "^1", "features": ["derive"],
                     "optional": true, "default_features": false, "target": "cfg(unix)",
                     "kind": "normal", "registry": "https://github.com/rust-lang/crates.io-index"},
                    {"name": "helper", "req": "^0.2", "features": [], "optional": false,
                     "default_features": true, "target": null, "kind": "build", "registry": null}
                ]
            })
        );
    }

    #[test]
    fn plain_features_stay_in_v1() {
        let mut features = BTreeMap::new();
        features.insert("a".to_owned(), vec!["b".to_owned()]);
        let (old, new) = split_features(&features);
        assert_eq!((old.len(), new), (1, None));
    }

    #[test]
    fn index_files_parse_line_by_line() {
        let body = b"{\"name\":\"a\",\"vers\":\"0.1.0\",\"deps\":[],\"cksum\":\"00\",\"features\":{},\"yanked\":true}\n\nnot json\n{\"name\":\"a\",\"vers\":\"0.2.0\",\"cksum\":\"11\"}\n";
        let lines = parse_index_file(body);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].yanked);
        assert_eq!(lines[1].vers, "0.2.0");
    }
}
