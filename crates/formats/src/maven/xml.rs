//! The XML Maven speaks: POMs (coordinates, description fields, dependencies) and
//! `maven-metadata.xml` (read when a client uploads one or an external repository serves one;
//! rendered at artifact and SNAPSHOT-version level). Parsing is bounded: callers cap the input
//! ([`MAX_POM_BYTES`], [`MAX_METADATA_BYTES`]) and quick-xml expands no external entities.

use std::collections::BTreeMap;

use quick_xml::events::Event;
use reliquary_types::{Dependency, License, VersionMetadata};

use super::{Build, MavenError};

/// Largest POM read at deploy or ingestion.
pub const MAX_POM_BYTES: u64 = 4 * 1024 * 1024;
/// Largest `maven-metadata.xml` read from a client or an external repository.
pub const MAX_METADATA_BYTES: u64 = 4 * 1024 * 1024;
/// Deepest element nesting accepted.
const MAX_DEPTH: usize = 64;

/// One element's text, addressed by its path of local names from the root.
struct Element {
    path: Vec<String>,
    text: String,
}

/// Reads a document into the text of each element (in document order), checking it is
/// well-formed, complete and rooted at `root`.
fn elements(bytes: &[u8], document: &'static str, root: &str) -> Result<Vec<Element>, MavenError> {
    let invalid = |reason: String| MavenError::InvalidDocument { document, reason };
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("not UTF-8".to_owned()))?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<String> = Vec::new();
    // The text of each open element, collected across text, CDATA and references.
    let mut texts: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut seen_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| invalid(format!("not well-formed XML: {e}")))?;
        match event {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if stack.is_empty() {
                    if seen_root {
                        return Err(invalid("more than one root element".to_owned()));
                    }
                    if name != root {
                        return Err(invalid(format!("the root element is not <{root}>")));
                    }
                    seen_root = true;
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(invalid("elements nest too deep".to_owned()));
                }
                stack.push(name);
                texts.push(String::new());
            }
            Event::Empty(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if stack.is_empty() {
                    if name != root || seen_root {
                        return Err(invalid(format!("the root element is not <{root}>")));
                    }
                    seen_root = true;
                    continue;
                }
                let mut path = stack.clone();
                path.push(name);
                out.push(Element {
                    path,
                    text: String::new(),
                });
            }
            Event::End(_) => {
                let text = texts.pop().unwrap_or_default();
                out.push(Element {
                    path: stack.clone(),
                    text: text.trim().to_owned(),
                });
                stack.pop();
            }
            Event::Text(t) => {
                let decoded = t
                    .xml10_content()
                    .map_err(|e| invalid(format!("undecodable text: {e}")))?;
                match texts.last_mut() {
                    Some(current) => current.push_str(&decoded),
                    None if decoded.trim().is_empty() => {}
                    None => return Err(invalid("text outside the root element".to_owned())),
                }
            }
            Event::CData(c) => {
                if let Some(current) = texts.last_mut() {
                    current.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .ok()
                        .flatten()
                        .ok_or_else(|| invalid("an invalid character reference".to_owned()))?
                } else {
                    match r.decode().map_err(|e| invalid(e.to_string()))?.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(invalid(format!("unknown entity &{other};"))),
                    }
                };
                if let Some(current) = texts.last_mut() {
                    current.push(resolved);
                }
            }
            Event::DocType(_) => {
                return Err(invalid(
                    "document type declarations are not accepted".to_owned(),
                ));
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(invalid("the document is truncated".to_owned()));
    }
    if !seen_root {
        return Err(invalid(format!("no <{root}> element")));
    }
    Ok(out)
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// What a POM says that the server uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pom {
    /// Its own `groupId`, else its parent's.
    pub group: Option<String>,
    pub artifact: Option<String>,
    /// Its own `version`, else its parent's.
    pub version: Option<String>,
    pub metadata: VersionMetadata,
}

#[derive(Default)]
struct DependencyFields {
    group: String,
    artifact: String,
    version: String,
    scope: String,
    optional: bool,
}

/// Replaces `${name}` by a known property; unknown ones are left as they are.
fn interpolate(text: &str, properties: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match properties.get(name) {
                    Some(value) => out.push_str(value),
                    None => out.push_str(&rest[start..start + 3 + end]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses a POM: coordinates (inherited from `<parent>` where absent), the fields
/// DescribePackageVersion shows and the dependencies ListPackageVersionDependencies lists
/// (`dependencyType` = the scope, `compile` when absent; `optional` for optional ones; the
/// parent as `parent`).
///
/// # Errors
/// `InvalidDocument` unless it is a complete, well-formed `<project>`.
pub fn parse_pom(bytes: &[u8]) -> Result<Pom, MavenError> {
    let mut pom = Pom::default();
    let (mut parent_group, mut parent_artifact, mut parent_version) =
        (String::new(), String::new(), String::new());
    let mut properties = BTreeMap::new();
    let mut dependencies: Vec<DependencyFields> = Vec::new();
    let mut license = License::default();
    let mut metadata = VersionMetadata::default();
    for Element { path, text } in elements(bytes, "POM", "project")? {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        match p.as_slice() {
            ["project", "groupId"] => pom.group = non_empty(&text),
            ["project", "artifactId"] => pom.artifact = non_empty(&text),
            ["project", "version"] => pom.version = non_empty(&text),
            ["project", "name"] => metadata.display_name = non_empty(&text),
            ["project", "description"] => metadata.summary = non_empty(&text),
            ["project", "url"] => metadata.home_page = non_empty(&text),
            ["project", "scm", "url"] => metadata.source_code_repository = non_empty(&text),
            ["project", "parent", "groupId"] => parent_group = text,
            ["project", "parent", "artifactId"] => parent_artifact = text,
            ["project", "parent", "version"] => parent_version = text,
            ["project", "properties", name] => {
                properties.insert((*name).to_owned(), text);
            }
            ["project", "licenses", "license", "name"] => license.name = non_empty(&text),
            ["project", "licenses", "license", "url"] => license.url = non_empty(&text),
            ["project", "licenses", "license"]
                if license.name.is_some() || license.url.is_some() =>
            {
                metadata.licenses.push(std::mem::take(&mut license));
            }
            ["project", "dependencies", "dependency", field] => {
                if dependencies.is_empty() {
                    dependencies.push(DependencyFields::default());
                }
                if let Some(d) = dependencies.last_mut() {
                    match *field {
                        "groupId" => d.group = text,
                        "artifactId" => d.artifact = text,
                        "version" => d.version = text,
                        "scope" => d.scope = text,
                        "optional" => d.optional = text == "true",
                        _ => {}
                    }
                }
            }
            ["project", "dependencies", "dependency"] => {
                // Closed: the next dependency starts fresh.
                dependencies.push(DependencyFields::default());
            }
            _ => {}
        }
    }
    if pom.group.is_none() {
        pom.group = non_empty(&parent_group);
    }
    if pom.version.is_none() {
        pom.version = non_empty(&parent_version);
    }
    for (name, value) in [
        ("project.groupId", &pom.group),
        ("project.artifactId", &pom.artifact),
        ("project.version", &pom.version),
        ("pom.version", &pom.version),
        ("version", &pom.version),
    ] {
        if let Some(value) = value {
            properties
                .entry(name.to_owned())
                .or_insert_with(|| value.clone());
        }
    }
    if !parent_artifact.is_empty() {
        metadata.dependencies.push(Dependency {
            namespace: non_empty(&parent_group),
            package: parent_artifact,
            dependency_type: Some("parent".to_owned()),
            version_requirement: non_empty(&parent_version),
        });
    }
    for d in dependencies {
        if d.artifact.is_empty() {
            continue;
        }
        let kind = if d.optional {
            "optional".to_owned()
        } else if d.scope.is_empty() {
            "compile".to_owned()
        } else {
            d.scope
        };
        metadata.dependencies.push(Dependency {
            namespace: non_empty(&interpolate(&d.group, &properties)),
            package: interpolate(&d.artifact, &properties),
            dependency_type: Some(kind),
            version_requirement: non_empty(&interpolate(&d.version, &properties)),
        });
    }
    if metadata.display_name.is_none() {
        metadata.display_name.clone_from(&pom.artifact);
    }
    pom.metadata = metadata;
    Ok(pom)
}

/// What a `maven-metadata.xml` says (artifact or SNAPSHOT-version level).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactMetadata {
    pub group: Option<String>,
    pub artifact: Option<String>,
    /// The version-level document's `<version>`.
    pub version: Option<String>,
    /// `<versioning><versions>`, with `<latest>` and `<release>` if they are not in it.
    pub versions: Vec<String>,
    pub last_updated: Option<String>,
    /// A group-level document's `<plugins>` (prefixes of Maven plugins in the group).
    pub plugins: Vec<Plugin>,
    /// A SNAPSHOT version-level document's `<snapshot>`: the build it names.
    pub snapshot: Option<Build>,
}

/// A Maven plugin of a group-level `maven-metadata.xml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plugin {
    pub name: Option<String>,
    pub prefix: String,
    pub artifact: String,
}

/// Parses a `maven-metadata.xml`.
///
/// # Errors
/// `InvalidDocument` unless it is a complete, well-formed `<metadata>`.
pub fn parse_metadata(bytes: &[u8]) -> Result<ArtifactMetadata, MavenError> {
    let mut metadata = ArtifactMetadata::default();
    let mut named = Vec::new();
    let mut plugin = Plugin::default();
    let (mut timestamp, mut build_number) = (String::new(), None);
    for Element { path, text } in elements(bytes, "maven-metadata.xml", "metadata")? {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        match p.as_slice() {
            ["metadata", "versioning", "snapshot", "timestamp"] => timestamp = text,
            ["metadata", "versioning", "snapshot", "buildNumber"] => {
                build_number = text.parse::<u32>().ok();
            }
            ["metadata", "plugins", "plugin", "name"] => plugin.name = non_empty(&text),
            ["metadata", "plugins", "plugin", "prefix"] => plugin.prefix = text,
            ["metadata", "plugins", "plugin", "artifactId"] => plugin.artifact = text,
            ["metadata", "plugins", "plugin"] => {
                let done = std::mem::take(&mut plugin);
                if !done.prefix.is_empty() && !done.artifact.is_empty() {
                    metadata.plugins.push(done);
                }
            }
            ["metadata", "groupId"] => metadata.group = non_empty(&text),
            ["metadata", "artifactId"] => metadata.artifact = non_empty(&text),
            ["metadata", "version"] => metadata.version = non_empty(&text),
            ["metadata", "versioning", "versions", "version"] if !text.is_empty() => {
                metadata.versions.push(text);
            }
            ["metadata", "versioning", "latest" | "release"] if !text.is_empty() => {
                named.push(text);
            }
            ["metadata", "versioning", "lastUpdated"] => metadata.last_updated = non_empty(&text),
            _ => {}
        }
    }
    for version in named {
        if !metadata.versions.contains(&version) {
            metadata.versions.push(version);
        }
    }
    if let Some(number) = build_number
        && !timestamp.is_empty()
    {
        metadata.snapshot = Some(Build { number, timestamp });
    }
    Ok(metadata)
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// The artifact-level `maven-metadata.xml`: `versions` in Maven order, `latest` the highest,
/// `release` the highest that is not a SNAPSHOT, `lastUpdated` as given (`yyyyMMddHHmmss`).
#[must_use]
pub fn render_artifact_metadata(
    group: &str,
    artifact: &str,
    versions: &[String],
    last_updated: &str,
) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n");
    out.push_str(&format!("  <groupId>{}</groupId>\n", escape(group)));
    out.push_str(&format!(
        "  <artifactId>{}</artifactId>\n",
        escape(artifact)
    ));
    out.push_str("  <versioning>\n");
    if let Some(latest) = versions.last() {
        out.push_str(&format!("    <latest>{}</latest>\n", escape(latest)));
    }
    if let Some(release) = versions.iter().rev().find(|v| !super::is_snapshot(v)) {
        out.push_str(&format!("    <release>{}</release>\n", escape(release)));
    }
    out.push_str("    <versions>\n");
    for version in versions {
        out.push_str(&format!("      <version>{}</version>\n", escape(version)));
    }
    out.push_str("    </versions>\n");
    out.push_str(&format!("    <lastUpdated>{last_updated}</lastUpdated>\n"));
    out.push_str("  </versioning>\n</metadata>\n");
    out
}

/// A group-level `maven-metadata.xml`: the group's plugins and their prefixes.
#[must_use]
pub fn render_group_metadata(plugins: &[Plugin]) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <plugins>\n");
    for plugin in plugins {
        out.push_str("    <plugin>\n");
        if let Some(name) = &plugin.name {
            out.push_str(&format!("      <name>{}</name>\n", escape(name)));
        }
        out.push_str(&format!(
            "      <prefix>{}</prefix>\n      <artifactId>{}</artifactId>\n    </plugin>\n",
            escape(&plugin.prefix),
            escape(&plugin.artifact)
        ));
    }
    out.push_str("  </plugins>\n</metadata>\n");
    out
}

/// One file of a SNAPSHOT build, for the version-level document's `<snapshotVersions>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    pub classifier: Option<String>,
    pub extension: String,
}

/// The SNAPSHOT-version-level `maven-metadata.xml` naming `build` and its files.
#[must_use]
pub fn render_version_metadata(
    group: &str,
    artifact: &str,
    version: &str,
    build: &Build,
    files: &[SnapshotFile],
) -> String {
    let updated = build.timestamp.replace('.', "");
    let value = build.version(version);
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata modelVersion=\"1.1.0\">\n",
    );
    out.push_str(&format!("  <groupId>{}</groupId>\n", escape(group)));
    out.push_str(&format!(
        "  <artifactId>{}</artifactId>\n",
        escape(artifact)
    ));
    out.push_str(&format!("  <version>{}</version>\n", escape(version)));
    out.push_str("  <versioning>\n    <snapshot>\n");
    out.push_str(&format!(
        "      <timestamp>{}</timestamp>\n      <buildNumber>{}</buildNumber>\n",
        build.timestamp, build.number
    ));
    out.push_str("    </snapshot>\n");
    out.push_str(&format!("    <lastUpdated>{updated}</lastUpdated>\n"));
    out.push_str("    <snapshotVersions>\n");
    for file in files {
        out.push_str("      <snapshotVersion>\n");
        if let Some(classifier) = &file.classifier {
            out.push_str(&format!(
                "        <classifier>{}</classifier>\n",
                escape(classifier)
            ));
        }
        out.push_str(&format!(
            "        <extension>{}</extension>\n        <value>{}</value>\n        <updated>{updated}</updated>\n",
            escape(&file.extension),
            escape(&value)
        ));
        out.push_str("      </snapshotVersion>\n");
    }
    out.push_str("    </snapshotVersions>\n  </versioning>\n</metadata>\n");
    out
}

/// The classifier and extension of a file after its `artifact-version` prefix (`.jar`,
/// `-sources.jar`, `.pom.asc`).
#[must_use]
pub fn classifier_and_extension(tail: &str) -> SnapshotFile {
    if let Some(rest) = tail.strip_prefix('-') {
        match rest.split_once('.') {
            Some((classifier, extension)) => SnapshotFile {
                classifier: Some(classifier.to_owned()),
                extension: extension.to_owned(),
            },
            None => SnapshotFile {
                classifier: Some(rest.to_owned()),
                extension: String::new(),
            },
        }
    } else {
        SnapshotFile {
            classifier: None,
            extension: tail.trim_start_matches('.').to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent><groupId>com.example</groupId><artifactId>parent</artifactId><version>2.0</version></parent>
  <artifactId>lib</artifactId>
  <name>Lib &amp; co</name>
  <description><![CDATA[A <small> library]]></description>
  <url>https://example.com/lib</url>
  <licenses><license><name>Apache-2.0</name><url>https://www.apache.org/licenses/LICENSE-2.0</url></license></licenses>
  <scm><url>https://git.example.com/lib</url></scm>
  <properties><guava.version>33.0</guava.version></properties>
  <dependencies>
    <dependency><groupId>com.google.guava</groupId><artifactId>guava</artifactId><version>${guava.version}</version></dependency>
    <dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>4.13</version><scope>test</scope></dependency>
    <dependency><groupId>${project.groupId}</groupId><artifactId>extra</artifactId><version>${project.version}</version><optional>true</optional></dependency>
  </dependencies>
  <dependencyManagement><dependencies><dependency><groupId>x</groupId><artifactId>managed</artifactId></dependency></dependencies></dependencyManagement>
</project>"#;

    #[test]
    fn a_pom_gives_coordinates_fields_and_dependencies() {
        let pom = parse_pom(POM.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pom.group.as_deref(), Some("com.example"));
        assert_eq!(pom.artifact.as_deref(), Some("lib"));
        assert_eq!(pom.version.as_deref(), Some("2.0"));
        let m = &pom.metadata;
        assert_eq!(m.display_name.as_deref(), Some("Lib & co"));
        assert_eq!(m.summary.as_deref(), Some("A <small> library"));
        assert_eq!(m.home_page.as_deref(), Some("https://example.com/lib"));
        assert_eq!(
            m.source_code_repository.as_deref(),
            Some("https://git.example.com/lib")
        );
        assert_eq!(m.licenses.len(), 1);
        assert_eq!(m.licenses[0].name.as_deref(), Some("Apache-2.0"));
        let deps: Vec<(String, String, String)> = m
            .dependencies
            .iter()
            .map(|d| {
                (
                    d.package.clone(),
                    d.dependency_type.clone().unwrap_or_default(),
                    d.version_requirement.clone().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            deps,
            [
                ("parent".into(), "parent".into(), "2.0".into()),
                ("guava".into(), "compile".into(), "33.0".into()),
                ("junit".into(), "test".into(), "4.13".into()),
                ("extra".into(), "optional".into(), "2.0".into()),
            ]
        );
        assert_eq!(m.dependencies[3].namespace.as_deref(), Some("com.example"));
    }

    #[test]
    fn broken_documents_are_refused() {
        for bad in [
            "",
            "not xml at all",
            "{}",
            "<project><artifactId>lib</artifactId>",
            "<metadata></metadata>",
            "<project><a></b></project>",
            "<!DOCTYPE project [<!ENTITY x \"y\">]><project>&x;</project>",
            "<project>&unknown;</project>",
            "<project/><project/>",
        ] {
            assert!(parse_pom(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(parse_metadata(b"<metadata><versioning>").is_err());
        assert!(parse_metadata(b"<project/>").is_err());
    }

    #[test]
    fn metadata_is_read_and_rendered() {
        let versions = vec!["1.0".to_owned(), "1.1-SNAPSHOT".to_owned()];
        let xml = render_artifact_metadata("com.example", "lib", &versions, "20261129101500");
        let parsed = parse_metadata(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.group.as_deref(), Some("com.example"));
        assert_eq!(parsed.versions, versions);
        assert!(xml.contains("<latest>1.1-SNAPSHOT</latest>"));
        assert!(xml.contains("<release>1.0</release>"));
        let build = Build {
            number: 3,
            timestamp: "20261129.101500".to_owned(),
        };
        let files = [
            classifier_and_extension(".jar"),
            classifier_and_extension("-sources.jar"),
        ];
        let xml = render_version_metadata("com.example", "lib", "1.0-SNAPSHOT", &build, &files);
        assert!(xml.contains("<buildNumber>3</buildNumber>"));
        assert!(xml.contains("<classifier>sources</classifier>"));
        assert!(xml.contains("<value>1.0-20261129.101500-3</value>"));
        let parsed = parse_metadata(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.version.as_deref(), Some("1.0-SNAPSHOT"));
        assert_eq!(parsed.snapshot, Some(build));
        let plugins = vec![Plugin {
            name: Some("Apache Maven Help Plugin".to_owned()),
            prefix: "help".to_owned(),
            artifact: "maven-help-plugin".to_owned(),
        }];
        let xml = render_group_metadata(&plugins);
        let parsed = parse_metadata(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.plugins, plugins);
        assert!(parsed.versions.is_empty());
    }
}
