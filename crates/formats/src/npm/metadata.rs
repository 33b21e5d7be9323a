//! The stored metadata of an npm version, taken from its manifest.

use reliquary_types::{Dependency, License, VersionMetadata};
use serde_json::Value;

/// The manifest fields holding dependencies, with the `dependency_type` each maps to.
pub(crate) const DEPENDENCY_KINDS: [(&str, &str); 4] = [
    ("dependencies", "regular"),
    ("devDependencies", "dev"),
    ("peerDependencies", "peer"),
    ("optionalDependencies", "optional"),
];

/// The stored metadata of a version from its manifest (`versions[v]` of a publish document):
/// - `summary` ← `description`, `home_page` ← `homepage`, `readme` ← `readme` (strings only);
/// - `source_code_repository` ← `repository`, a string or `{url}`;
/// - `licenses` ← `license` (a string, or `{type, url}`) followed by `licenses` (a list of
///   either form);
/// - `dependencies` ← `dependencies`, `devDependencies`, `peerDependencies`,
///   `optionalDependencies` in that order, as `regular`/`dev`/`peer`/`optional`, each with
///   `namespace` = the scope without `@`, `package` = the unscoped name and
///   `version_requirement` = the range (when a string);
/// - `display_name` = `full_name`; `extra` = the whole manifest, npm-internal fields included.
#[must_use]
pub fn version_metadata(manifest: &Value, full_name: &str) -> VersionMetadata {
    let string = |key: &str| manifest.get(key).and_then(Value::as_str).map(str::to_owned);
    VersionMetadata {
        display_name: Some(full_name.to_owned()),
        summary: string("description"),
        home_page: string("homepage"),
        source_code_repository: manifest.get("repository").and_then(repository_url),
        licenses: licenses(manifest),
        dependencies: dependencies(manifest),
        readme: string("readme"),
        extra: Some(manifest.clone()),
    }
}

fn repository_url(repository: &Value) -> Option<String> {
    match repository {
        Value::String(url) => Some(url.clone()),
        Value::Object(fields) => fields.get("url").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn license(value: &Value) -> Option<License> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let license = match value {
        Value::String(name) => License {
            name: Some(name.clone()),
            url: None,
        },
        Value::Object(fields) => License {
            name: text(fields.get("type")).or_else(|| text(fields.get("name"))),
            url: text(fields.get("url")),
        },
        _ => return None,
    };
    (license.name.is_some() || license.url.is_some()).then_some(license)
}

fn licenses(manifest: &Value) -> Vec<License> {
    let mut found: Vec<License> = manifest
        .get("license")
        .and_then(license)
        .into_iter()
        .collect();
    if let Some(Value::Array(list)) = manifest.get("licenses") {
        found.extend(list.iter().filter_map(license));
    }
    found
}

fn dependencies(manifest: &Value) -> Vec<Dependency> {
    let mut found = Vec::new();
    for (field, kind) in DEPENDENCY_KINDS {
        let Some(Value::Object(deps)) = manifest.get(field) else {
            continue;
        };
        for (name, range) in deps {
            let (namespace, package) = split_dependency_name(name);
            found.push(Dependency {
                namespace,
                package,
                dependency_type: Some(kind.to_owned()),
                version_requirement: range.as_str().map(str::to_owned),
            });
        }
    }
    found
}

/// `"@scope/name"` → (`Some("scope")`, `"name"`); anything else is taken as an unscoped name.
fn split_dependency_name(name: &str) -> (Option<String>, String) {
    match name.strip_prefix('@').and_then(|rest| rest.split_once('/')) {
        Some((scope, package)) => (Some(scope.to_owned()), package.to_owned()),
        None => (None, name.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dep(namespace: Option<&str>, package: &str, kind: &str, range: &str) -> Dependency {
        Dependency {
            namespace: namespace.map(str::to_owned),
            package: package.to_owned(),
            dependency_type: Some(kind.to_owned()),
            version_requirement: Some(range.to_owned()),
        }
    }

    #[test]
    fn every_field_kind_is_read() {
        let manifest = json!({
            "name": "@myscope/demo-pkg",
            "version": "1.2.3",
            "description": "A demo",
            "homepage": "https://example.com/demo",
            "repository": {"type": "git", "url": "git+https://example.com/demo.git"},
            "license": {"type": "MIT", "url": "https://example.com/MIT"},
            "licenses": ["Apache-2.0", {"type": "BSD-3-Clause"}],
            "readme": "# demo",
            "dependencies": {"@types/node": "22.x", "left-pad": "^1.3.0"},
            "devDependencies": {"typescript": "~5.6.0"},
            "peerDependencies": {"@myscope/peer": ">=2"},
            "optionalDependencies": {"fsevents": "*"},
            "dist": {"shasum": "abc", "tarball": "https://registry.example/x.tgz"},
            "_id": "@myscope/demo-pkg@1.2.3",
            "_npmVersion": "11.0.0",
        });
        let meta = version_metadata(&manifest, "@myscope/demo-pkg");
        assert_eq!(meta.display_name.as_deref(), Some("@myscope/demo-pkg"));
        assert_eq!(meta.summary.as_deref(), Some("A demo"));
        assert_eq!(meta.home_page.as_deref(), Some("https://example.com/demo"));
        assert_eq!(
            meta.source_code_repository.as_deref(),
            Some("git+https://example.com/demo.git")
        );
        assert_eq!(meta.readme.as_deref(), Some("# demo"));
        assert_eq!(
            meta.licenses,
            [
                License {
                    name: Some("MIT".into()),
                    url: Some("https://example.com/MIT".into())
                },
                License {
                    name: Some("Apache-2.0".into()),
                    url: None
                },
                License {
                    name: Some("BSD-3-Clause".into()),
                    url: None
                },
            ]
        );
        assert_eq!(
            meta.dependencies,
            [
                dep(Some("types"), "node", "regular", "22.x"),
                dep(None, "left-pad", "regular", "^1.3.0"),
                dep(None, "typescript", "dev", "~5.6.0"),
                dep(Some("myscope"), "peer", "peer", ">=2"),
                dep(None, "fsevents", "optional", "*"),
            ]
        );
        assert_eq!(meta.extra.as_ref(), Some(&manifest));
    }

    #[test]
    fn string_forms_and_absent_fields() {
        let manifest = json!({
            "name": "demo",
            "version": "1.0.0",
            "license": "ISC",
            "repository": "github:someone/demo",
            "readme": {"not": "a string"},
            "dependencies": {"x": {"not": "a range"}},
        });
        let meta = version_metadata(&manifest, "demo");
        assert_eq!(
            meta.licenses,
            [License {
                name: Some("ISC".into()),
                url: None
            }]
        );
        assert_eq!(
            meta.source_code_repository.as_deref(),
            Some("github:someone/demo")
        );
        assert_eq!(meta.summary, None);
        assert_eq!(meta.home_page, None);
        assert_eq!(meta.readme, None);
        assert_eq!(
            meta.dependencies,
            [Dependency {
                namespace: None,
                package: "x".into(),
                dependency_type: Some("regular".into()),
                version_requirement: None,
            }]
        );
    }
}
