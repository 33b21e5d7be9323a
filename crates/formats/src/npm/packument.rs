//! The packument: the document `GET /{package}` answers, in its full (`application/json`) and
//! abbreviated (`application/vnd.npm.install-v1+json`) forms.

use std::collections::BTreeMap;

use base64::Engine as _;
use reliquary_types::VersionMetadata;
use serde_json::{Map, Value, json};

use super::full_name as join_name;
use super::metadata::DEPENDENCY_KINDS;

/// One version as the packument lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct PackumentVersion<'a> {
    pub version: &'a str,
    /// The stored manifest (`VersionMetadata::extra`); when absent one is made from `metadata`.
    pub manifest: Option<&'a Value>,
    pub metadata: &'a VersionMetadata,
    /// Where this registry serves the tarball.
    pub tarball_url: String,
    /// SHA-1 of the tarball, lowercase hex.
    pub shasum: &'a str,
    /// `"sha512-" + base64(SHA-512)`, see [`integrity_from_sha512_hex`].
    pub integrity: String,
    /// When the version was published, ISO-8601 (e.g. `2024-05-01T12:00:00.000Z`).
    pub published: Option<String>,
}

/// The SRI string npm expects from a lowercase-hex SHA-512: `"sha512-" + base64(bytes)`.
/// An argument that is not hex gives an empty string (no integrity rather than a wrong one).
#[must_use]
pub fn integrity_from_sha512_hex(sha512_hex: &str) -> String {
    match hex::decode(sha512_hex.trim()) {
        Ok(bytes) => format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ),
        Err(_) => String::new(),
    }
}

/// Fields of the latest version's manifest repeated at the top of the full packument.
const TOP_LEVEL_FIELDS: [&str; 8] = [
    "homepage",
    "repository",
    "license",
    "keywords",
    "author",
    "bugs",
    "maintainers",
    "readmeFilename",
];

/// The full packument:
/// `{"_id", "name", "dist-tags", "versions": {v: manifest}, "time": {v: iso, "created",
/// "modified"}, "description", "readme", …}`.
///
/// Each version's manifest is the stored one with `_id` = `name@v`, `name`, `version` and
/// `dist` = `{tarball, shasum, integrity}` set to ours (of the old `dist` only `fileCount` and
/// `unpackedSize` are kept; upstream signatures are dropped) and its `readme` removed: the
/// packument carries the latest version's `readme` and `description` (from its metadata) at the
/// top, with `homepage`, `repository`, `license`, `keywords`, `author`, `bugs`,
/// `maintainers` and `readmeFilename` when its manifest has them. The latest version is the
/// `latest` dist-tag's, else the one published last, else the last one given. `time` holds the
/// versions that have a publication time; `created`/`modified` are their earliest/latest and
/// are omitted when no version has one.
#[must_use]
pub fn packument(
    full_name: &str,
    versions: &[PackumentVersion<'_>],
    dist_tags: &BTreeMap<String, String>,
) -> Value {
    let mut documents = Map::new();
    for version in versions {
        let mut document = version_document(full_name, version);
        document.remove("readme");
        documents.insert(version.version.to_owned(), Value::Object(document));
    }

    let mut time = Map::new();
    if let Some((created, modified)) = time_range(versions) {
        time.insert("created".into(), json!(created));
        time.insert("modified".into(), json!(modified));
    }
    for version in versions {
        if let Some(published) = &version.published {
            time.insert(version.version.to_owned(), json!(published));
        }
    }

    let mut root = Map::new();
    root.insert("_id".into(), json!(full_name));
    root.insert("name".into(), json!(full_name));
    root.insert("dist-tags".into(), json!(dist_tags));
    if let Some(latest) = latest(versions, dist_tags) {
        if let Some(description) = &latest.metadata.summary {
            root.insert("description".into(), json!(description));
        }
        if let Some(Value::Object(manifest)) = documents.get(latest.version) {
            for field in TOP_LEVEL_FIELDS {
                if let Some(value) = manifest.get(field) {
                    root.insert(field.into(), value.clone());
                }
            }
        }
        if let Some(readme) = &latest.metadata.readme {
            root.insert("readme".into(), json!(readme));
        }
    }
    root.insert("versions".into(), Value::Object(documents));
    root.insert("time".into(), Value::Object(time));
    Value::Object(root)
}

/// Manifest fields the abbreviated packument copies, when the manifest has them.
const ABBREVIATED_FIELDS: [&str; 17] = [
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "bundleDependencies",
    "acceptDependencies",
    "bin",
    "directories",
    "engines",
    "os",
    "cpu",
    "libc",
    "funding",
    "deprecated",
    "hasInstallScript",
    "_hasShrinkwrap",
];

/// The abbreviated packument (`application/vnd.npm.install-v1+json`):
/// `{"name", "modified", "dist-tags", "versions": {v: {name, version, …, dist}}}`.
///
/// Each version has `name`, `version` and the `dist` of [`packument`], plus those of
/// `dependencies`, `devDependencies`, `optionalDependencies`, `peerDependencies`,
/// `peerDependenciesMeta`, `bundleDependencies`, `acceptDependencies`, `bin`, `directories`,
/// `engines`, `os`, `cpu`, `libc`, `funding`, `deprecated`, `hasInstallScript` and
/// `_hasShrinkwrap` its manifest has. `hasInstallScript: true` is also set when the manifest's
/// `scripts` has `preinstall`, `install` or `postinstall` (the registry computes it).
/// `modified` is the latest publication time, omitted when no version has one.
#[must_use]
pub fn abbreviated_packument(
    full_name: &str,
    versions: &[PackumentVersion<'_>],
    dist_tags: &BTreeMap<String, String>,
) -> Value {
    let mut documents = Map::new();
    for version in versions {
        // Only the fields copied are cloned, not the whole manifest (readmes can be large).
        let made;
        let manifest = match version.manifest {
            Some(Value::Object(manifest)) => manifest,
            _ => {
                made = manifest_from_metadata(version.metadata);
                &made
            }
        };
        let mut abbreviated = Map::new();
        abbreviated.insert("name".into(), json!(full_name));
        abbreviated.insert("version".into(), json!(version.version));
        for field in ABBREVIATED_FIELDS {
            if let Some(value) = manifest.get(field) {
                abbreviated.insert(field.into(), value.clone());
            }
        }
        if !abbreviated.contains_key("hasInstallScript") && has_install_script(manifest) {
            abbreviated.insert("hasInstallScript".into(), Value::Bool(true));
        }
        abbreviated.insert("dist".into(), dist(version, manifest));
        documents.insert(version.version.to_owned(), Value::Object(abbreviated));
    }

    let mut root = Map::new();
    root.insert("name".into(), json!(full_name));
    if let Some((_, modified)) = time_range(versions) {
        root.insert("modified".into(), json!(modified));
    }
    root.insert("dist-tags".into(), json!(dist_tags));
    root.insert("versions".into(), Value::Object(documents));
    Value::Object(root)
}

/// A version's manifest with our `_id`, `name`, `version` and `dist`.
fn version_document(full_name: &str, version: &PackumentVersion<'_>) -> Map<String, Value> {
    let mut document = match version.manifest {
        Some(Value::Object(manifest)) => manifest.clone(),
        _ => manifest_from_metadata(version.metadata),
    };
    let dist = dist(version, &document);
    document.insert(
        "_id".into(),
        json!(format!("{full_name}@{}", version.version)),
    );
    document.insert("name".into(), json!(full_name));
    document.insert("version".into(), json!(version.version));
    document.insert("dist".into(), dist);
    document
}

/// Our `dist`: `tarball`, `shasum` and `integrity` of this registry, and of the manifest's own
/// `dist` only `fileCount` and `unpackedSize`.
fn dist(version: &PackumentVersion<'_>, manifest: &Map<String, Value>) -> Value {
    let mut dist = Map::new();
    if let Some(Value::Object(old)) = manifest.get("dist") {
        for kept in ["fileCount", "unpackedSize"] {
            if let Some(value) = old.get(kept) {
                dist.insert(kept.into(), value.clone());
            }
        }
    }
    dist.insert("tarball".into(), json!(version.tarball_url));
    dist.insert("shasum".into(), json!(version.shasum));
    if !version.integrity.is_empty() {
        dist.insert("integrity".into(), json!(version.integrity));
    }
    Value::Object(dist)
}

/// A manifest for a version stored without one, from its metadata.
fn manifest_from_metadata(metadata: &VersionMetadata) -> Map<String, Value> {
    let mut manifest = Map::new();
    if let Some(summary) = &metadata.summary {
        manifest.insert("description".into(), json!(summary));
    }
    if let Some(home_page) = &metadata.home_page {
        manifest.insert("homepage".into(), json!(home_page));
    }
    if let Some(repository) = &metadata.source_code_repository {
        manifest.insert("repository".into(), json!(repository));
    }
    if let Some(license) = metadata.licenses.iter().find_map(|l| l.name.as_ref()) {
        manifest.insert("license".into(), json!(license));
    }
    if let Some(readme) = &metadata.readme {
        manifest.insert("readme".into(), json!(readme));
    }
    for (field, kind) in DEPENDENCY_KINDS {
        let deps: Map<String, Value> = metadata
            .dependencies
            .iter()
            .filter(|d| d.dependency_type.as_deref() == Some(kind))
            .map(|d| {
                let name = join_name(d.namespace.as_deref(), &d.package);
                let range = d.version_requirement.as_deref().unwrap_or("*");
                (name, json!(range))
            })
            .collect();
        if !deps.is_empty() {
            manifest.insert(field.into(), Value::Object(deps));
        }
    }
    manifest
}

fn has_install_script(manifest: &Map<String, Value>) -> bool {
    manifest
        .get("scripts")
        .and_then(Value::as_object)
        .is_some_and(|scripts| {
            ["preinstall", "install", "postinstall"]
                .iter()
                .any(|s| scripts.contains_key(*s))
        })
}

/// The earliest and latest publication times.
fn time_range<'v>(versions: &'v [PackumentVersion<'_>]) -> Option<(&'v str, &'v str)> {
    let times = versions.iter().filter_map(|v| v.published.as_deref());
    let earliest = times.clone().min()?;
    let latest = times.max()?;
    Some((earliest, latest))
}

fn latest<'v, 'a>(
    versions: &'v [PackumentVersion<'a>],
    dist_tags: &BTreeMap<String, String>,
) -> Option<&'v PackumentVersion<'a>> {
    dist_tags
        .get("latest")
        .and_then(|tag| versions.iter().find(|v| v.version == tag.as_str()))
        .or_else(|| {
            versions
                .iter()
                .filter(|v| v.published.is_some())
                .max_by(|a, b| a.published.cmp(&b.published))
        })
        .or_else(|| versions.last())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reliquary_types::Dependency;

    const NAME: &str = "@myscope/demo-pkg";

    fn manifests() -> (Value, Value) {
        let one = json!({
            "name": NAME,
            "version": "1.0.0",
            "description": "first",
            "readme": "# one",
            "license": "MIT",
            "dependencies": {"left-pad": "^1.3.0"},
            "scripts": {"test": "node test.js"},
            "_id": "@myscope/demo-pkg@1.0.0",
            "_npmVersion": "11.0.0",
            "dist": {
                "tarball": "https://registry.npmjs.org/@myscope/demo-pkg/-/demo-pkg-1.0.0.tgz",
                "shasum": "upstream-sha1",
                "integrity": "sha512-upstream",
                "fileCount": 3,
                "unpackedSize": 1234,
                "signatures": [{"keyid": "x", "sig": "y"}],
            },
        });
        let two = json!({
            "name": NAME,
            "version": "2.0.0",
            "description": "second",
            "readme": "# two",
            "homepage": "https://example.com",
            "license": "MIT",
            "dependencies": {"@types/node": "22.x"},
            "peerDependencies": {"react": ">=18"},
            "peerDependenciesMeta": {"react": {"optional": true}},
            "engines": {"node": ">=18"},
            "os": ["linux"],
            "cpu": ["x64"],
            "bin": {"demo": "cli.js"},
            "deprecated": "use 3",
            "scripts": {"postinstall": "node setup.js"},
            "_hasShrinkwrap": false,
        });
        (one, two)
    }

    fn metadata(manifest: &Value) -> VersionMetadata {
        super::super::version_metadata(manifest, NAME)
    }

    fn entry<'a>(
        version: &'a str,
        manifest: Option<&'a Value>,
        metadata: &'a VersionMetadata,
        published: Option<&str>,
    ) -> PackumentVersion<'a> {
        PackumentVersion {
            version,
            manifest,
            metadata,
            tarball_url: format!(
                "http://localhost:8787/npm/d/demo-111122223333/repo/{NAME}/-/demo-pkg-{version}.tgz"
            ),
            shasum: "0123456789abcdef0123456789abcdef01234567",
            integrity: integrity_from_sha512_hex(&"ab".repeat(64)),
            published: published.map(str::to_owned),
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|&(t, v)| (t.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn integrity_is_base64_of_the_digest_bytes() {
        let integrity = integrity_from_sha512_hex(&"ab".repeat(64));
        assert_eq!(
            integrity,
            format!(
                "sha512-{}",
                base64::engine::general_purpose::STANDARD.encode([0xab_u8; 64])
            )
        );
        assert_eq!(integrity.len(), "sha512-".len() + 88);
        assert_eq!(integrity_from_sha512_hex("not hex"), "");
    }

    #[test]
    fn the_full_packument_has_our_dist_times_and_tags() {
        let (one, two) = manifests();
        let (meta_one, meta_two) = (metadata(&one), metadata(&two));
        let versions = [
            entry(
                "1.0.0",
                Some(&one),
                &meta_one,
                Some("2024-01-01T00:00:00.000Z"),
            ),
            entry(
                "2.0.0",
                Some(&two),
                &meta_two,
                Some("2024-02-01T00:00:00.000Z"),
            ),
        ];
        let dist_tags = tags(&[("latest", "1.0.0"), ("next", "2.0.0")]);
        let doc = packument(NAME, &versions, &dist_tags);

        assert_eq!(doc["_id"], NAME);
        assert_eq!(doc["name"], NAME);
        assert_eq!(
            doc["dist-tags"],
            json!({"latest": "1.0.0", "next": "2.0.0"})
        );
        // Top-level fields follow the `latest` tag, not the newest version.
        assert_eq!(doc["description"], "first");
        assert_eq!(doc["readme"], "# one");
        assert_eq!(doc["license"], "MIT");
        assert!(doc.get("homepage").is_none());
        assert_eq!(
            doc["time"],
            json!({
                "created": "2024-01-01T00:00:00.000Z",
                "modified": "2024-02-01T00:00:00.000Z",
                "1.0.0": "2024-01-01T00:00:00.000Z",
                "2.0.0": "2024-02-01T00:00:00.000Z",
            })
        );

        let v1 = &doc["versions"]["1.0.0"];
        assert_eq!(v1["_id"], "@myscope/demo-pkg@1.0.0");
        assert_eq!(v1["name"], NAME);
        assert_eq!(v1["version"], "1.0.0");
        assert_eq!(v1["_npmVersion"], "11.0.0");
        assert_eq!(v1["dependencies"], json!({"left-pad": "^1.3.0"}));
        assert!(v1.get("readme").is_none());
        assert_eq!(
            v1["dist"],
            json!({
                "tarball": "http://localhost:8787/npm/d/demo-111122223333/repo/@myscope/demo-pkg/-/demo-pkg-1.0.0.tgz",
                "shasum": "0123456789abcdef0123456789abcdef01234567",
                "integrity": integrity_from_sha512_hex(&"ab".repeat(64)),
                "fileCount": 3,
                "unpackedSize": 1234,
            })
        );
        let v2 = &doc["versions"]["2.0.0"];
        assert_eq!(v2["_id"], "@myscope/demo-pkg@2.0.0");
        assert_eq!(v2["deprecated"], "use 3");
        assert_eq!(
            v2["dist"]["shasum"],
            "0123456789abcdef0123456789abcdef01234567"
        );
    }

    #[test]
    fn the_latest_falls_back_to_the_last_published() {
        let (one, two) = manifests();
        let (meta_one, meta_two) = (metadata(&one), metadata(&two));
        let versions = [
            entry(
                "2.0.0",
                Some(&two),
                &meta_two,
                Some("2024-02-01T00:00:00.000Z"),
            ),
            entry(
                "1.0.0",
                Some(&one),
                &meta_one,
                Some("2024-01-01T00:00:00.000Z"),
            ),
        ];
        let doc = packument(NAME, &versions, &BTreeMap::new());
        assert_eq!(doc["description"], "second");
        assert_eq!(doc["homepage"], "https://example.com");
        assert_eq!(doc["dist-tags"], json!({}));

        let doc = packument(NAME, &[], &BTreeMap::new());
        assert_eq!(
            doc,
            json!({"_id": NAME, "name": NAME, "dist-tags": {}, "versions": {}, "time": {}})
        );
    }

    #[test]
    fn a_version_without_a_manifest_gets_one_from_its_metadata() {
        let meta = VersionMetadata {
            summary: Some("from metadata".into()),
            dependencies: vec![
                Dependency {
                    namespace: Some("types".into()),
                    package: "node".into(),
                    dependency_type: Some("regular".into()),
                    version_requirement: Some("22.x".into()),
                },
                Dependency {
                    namespace: None,
                    package: "jest".into(),
                    dependency_type: Some("dev".into()),
                    version_requirement: None,
                },
            ],
            ..VersionMetadata::default()
        };
        let versions = [entry("0.1.0", None, &meta, None)];
        let doc = packument(NAME, &versions, &tags(&[("latest", "0.1.0")]));
        let v = &doc["versions"]["0.1.0"];
        assert_eq!(v["description"], "from metadata");
        assert_eq!(v["dependencies"], json!({"@types/node": "22.x"}));
        assert_eq!(v["devDependencies"], json!({"jest": "*"}));
        assert_eq!(v["version"], "0.1.0");
        assert_eq!(doc["time"], json!({}));
        assert_eq!(doc["description"], "from metadata");
    }

    #[test]
    fn the_abbreviated_packument_copies_only_install_fields() {
        let (one, two) = manifests();
        let (meta_one, meta_two) = (metadata(&one), metadata(&two));
        let versions = [
            entry(
                "1.0.0",
                Some(&one),
                &meta_one,
                Some("2024-01-01T00:00:00.000Z"),
            ),
            entry(
                "2.0.0",
                Some(&two),
                &meta_two,
                Some("2024-02-01T00:00:00.000Z"),
            ),
        ];
        let dist_tags = tags(&[("latest", "2.0.0")]);
        let doc = abbreviated_packument(NAME, &versions, &dist_tags);
        let dist = |v: &str| {
            json!({
                "tarball": format!("http://localhost:8787/npm/d/demo-111122223333/repo/{NAME}/-/demo-pkg-{v}.tgz"),
                "shasum": "0123456789abcdef0123456789abcdef01234567",
                "integrity": integrity_from_sha512_hex(&"ab".repeat(64)),
            })
        };
        let mut dist_one = dist("1.0.0");
        dist_one["fileCount"] = json!(3);
        dist_one["unpackedSize"] = json!(1234);
        assert_eq!(
            doc,
            json!({
                "name": NAME,
                "modified": "2024-02-01T00:00:00.000Z",
                "dist-tags": {"latest": "2.0.0"},
                "versions": {
                    "1.0.0": {
                        "name": NAME,
                        "version": "1.0.0",
                        "dependencies": {"left-pad": "^1.3.0"},
                        "dist": dist_one,
                    },
                    "2.0.0": {
                        "name": NAME,
                        "version": "2.0.0",
                        "dependencies": {"@types/node": "22.x"},
                        "peerDependencies": {"react": ">=18"},
                        "peerDependenciesMeta": {"react": {"optional": true}},
                        "engines": {"node": ">=18"},
                        "os": ["linux"],
                        "cpu": ["x64"],
                        "bin": {"demo": "cli.js"},
                        "deprecated": "use 3",
                        "hasInstallScript": true,
                        "_hasShrinkwrap": false,
                        "dist": dist("2.0.0"),
                    },
                },
            })
        );
    }
}
