//! The JSON half of `cargo publish`'s body (`PUT api/v1/crates/new`): a `u32` little-endian
//! length, this JSON, a `u32` length, then the `.crate`. The framing is read by the endpoint as
//! the body streams; this module parses and checks the JSON.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{CargoError, check_name, check_version};

/// The largest publish metadata JSON accepted (crates.io's `max_upload_size` covers the whole
/// body; the metadata is small unless a README is inlined).
pub const MAX_METADATA_BYTES: u32 = 8 * 1024 * 1024;

/// The publish metadata cargo sends (the fields this registry reads).
#[derive(Debug, Clone, Deserialize)]
pub struct NewCrate {
    pub name: String,
    pub vers: String,
    #[serde(default)]
    pub deps: Vec<NewCrateDep>,
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub homepage: Option<String>,
    #[serde(default)]
    pub documentation: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub license: Option<String>,
    #[serde(default)]
    pub readme: Option<String>,
    #[serde(default)]
    pub readme_file: Option<String>,
    #[serde(default)]
    pub links: Option<String>,
    #[serde(default)]
    pub rust_version: Option<String>,
}

/// One dependency as `cargo publish` describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct NewCrateDep {
    /// The crate depended on (its real name, even when renamed in `Cargo.toml`).
    pub name: String,
    pub version_req: String,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default = "yes")]
    pub default_features: bool,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    /// The index URL of the registry the dependency comes from; absent for this registry.
    #[serde(default)]
    pub registry: Option<String>,
    /// The name the dependency has in `Cargo.toml` when it is renamed (`package = …`).
    #[serde(default)]
    pub explicit_name_in_toml: Option<String>,
}

fn yes() -> bool {
    true
}

/// Parses and checks the publish metadata: a valid crate name and version, dependencies with
/// valid names and a known kind.
///
/// # Errors
/// `InvalidRequest`, `InvalidName`, `InvalidVersion`.
pub fn parse_new_crate(json: &[u8]) -> Result<NewCrate, CargoError> {
    let new: NewCrate = serde_json::from_slice(json)
        .map_err(|e| CargoError::InvalidRequest(format!("the metadata is not valid JSON: {e}")))?;
    check_name(&new.name)?;
    check_version(&new.vers)?;
    for dep in &new.deps {
        check_name(&dep.name).or_else(|e| {
            // Crates of other registries may have names this one would not take; only the
            // characters that could break an index path are refused for them.
            if dep.registry.is_some() && !dep.name.is_empty() && dep.name.is_ascii() {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        if let Some(kind) = &dep.kind
            && !matches!(kind.as_str(), "normal" | "dev" | "build")
        {
            return Err(CargoError::InvalidRequest(format!(
                "dependency {} has an unknown kind {kind:?}",
                dep.name
            )));
        }
        if let Some(rename) = &dep.explicit_name_in_toml {
            check_name(rename)?;
        }
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cargo_s_metadata_parses() {
        let body = json!({
            "name": "demo", "vers": "0.1.0",
            "deps": [
                {"name": "serde", "version_req": "^1", "features": ["derive"], "optional": true,
                 "default_features": false, "target": "cfg(unix)", "kind": "normal",
                 "registry": "https://github.com/rust-lang/crates.io-index",
                 "explicit_name_in_toml": "serde1"},
                {"name": "other", "version_req": "^0.2", "features": [], "optional": false,
                 "default_features": true, "target": null, "kind": "dev", "registry": null}
            ],
            "features": {"default": ["serde1"]},
            "authors": [], "description": "d", "readme": "# hi", "readme_file": "README.md",
            "links": null, "rust_version": "1.70", "badges": {}
        });
        let new = parse_new_crate(&serde_json::to_vec(&body).unwrap_or_default());
        let new = new.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((new.name.as_str(), new.vers.as_str()), ("demo", "0.1.0"));
        assert_eq!(new.deps.len(), 2);
        assert_eq!(new.deps[0].explicit_name_in_toml.as_deref(), Some("serde1"));
        assert!(new.deps[1].default_features);
        assert_eq!(new.rust_version.as_deref(), Some("1.70"));
    }

    #[test]
    fn bad_metadata_is_refused() {
        for body in [
            json!({"name": "std", "vers": "0.1.0"}),
            json!({"name": "demo", "vers": "1"}),
            json!({"name": "demo", "vers": "0.1.0", "deps": [{"name": "../x", "version_req": "1"}]}),
            json!({"name": "demo", "vers": "0.1.0", "deps": [{"name": "x", "version_req": "1", "kind": "weird"}]}),
            json!({"vers": "0.1.0"}),
        ] {
            assert!(
                parse_new_crate(&serde_json::to_vec(&body).unwrap_or_default()).is_err(),
                "{body}"
            );
        }
        assert!(parse_new_crate(b"not json").is_err());
    }
}
