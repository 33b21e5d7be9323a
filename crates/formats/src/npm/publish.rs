//! The document `npm publish`, `npm deprecate` and `npm unpublish` PUT, and the checks of a
//! published version against its tarball (received apart from the document: see `stream`).

use std::collections::BTreeMap;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Component, Path};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;
use sha2::{Digest as _, Sha384};

use super::{NpmError, parse_name, tarball_filename};
use crate::archive::{TarBounds, TarError, read_at_most, walk_tar_gz};

/// The largest `package.json` read out of a tarball.
const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;
/// The most tar content (inflated) read looking for `package.json`, a bound on what a gzip bomb
/// costs. npm packs files ordered by extension, so `package.json` comes after every `.js` file.
const MAX_INFLATED_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// The most tar entries read looking for `package.json`.
const MAX_TAR_ENTRIES: usize = 1_000_000;

/// Standard alphabet, padding optional: npm pads, other tools may not.
pub(super) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A parsed `npm publish` / `npm deprecate` / `npm unpublish` PUT body: the whole packument
/// document npm sends. Fields not listed here (`_id`, `readme`, `time` …) are ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishDocument {
    /// The full package name, `@scope/name` or `name`, validated with [`parse_name`].
    pub name: String,
    /// `_rev`: the packument revision the client was shown, which `npm deprecate` and
    /// `npm unpublish pkg@v` send back (a publish sends none).
    pub rev: Option<String>,
    /// Version → its manifest, as sent.
    pub versions: BTreeMap<String, Value>,
    /// `dist-tags`: tag → version.
    pub dist_tags: BTreeMap<String, String>,
    /// `_attachments`: file name (npm sends `"<full name>-<version>.tgz"`) → what the document
    /// says of it (its content was streamed out of the body: see [`ReceivedTarball`]).
    pub attachments: BTreeMap<String, Attachment>,
}

/// One entry of `_attachments`, but its `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub length: Option<u64>,
    pub content_type: Option<String>,
}

/// What was received as one attachment's content: its size and digests (lowercase hex,
/// computed while it was staged) and what [`inspect_tarball`] read in it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedTarball {
    pub size: u64,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
    /// Computed only when a `dist.integrity` needs it ([`needs_sha384`]).
    pub sha384: Option<String>,
    /// Its `package.json`, or why it could not be read.
    pub package_json: Result<Value, NpmError>,
}

/// Parses a publish body's skeleton: the body as [`PublishReader`](super::PublishReader) keeps
/// it, each attachment's `data` streamed out and left as `""`. `versions`, `dist-tags` and
/// `_attachments` may be absent (deprecate and unpublish send no attachments); when present they
/// must be objects, dist-tag values strings, and each attachment must have a `data` string.
///
/// # Errors
/// [`NpmError::InvalidDocument`] for a shape error, [`NpmError::InvalidName`] for a bad `name`.
pub fn parse_publish(body: &[u8]) -> Result<PublishDocument, NpmError> {
    let bad = |why: String| NpmError::InvalidDocument(why);
    let doc: Value = serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))?;
    let Value::Object(mut doc) = doc else {
        return Err(bad("not a JSON object".into()));
    };
    let name = match doc.get("name") {
        Some(Value::String(name)) => name.clone(),
        _ => return Err(bad("\"name\" is missing or not a string".into())),
    };
    parse_name(&name)?;
    let rev = match doc.get("_rev") {
        None | Some(Value::Null) => None,
        Some(Value::String(rev)) => Some(rev.clone()),
        Some(_) => return Err(bad("\"_rev\" is not a string".into())),
    };

    let versions_sent = !matches!(doc.get("versions"), None | Some(Value::Null));
    let versions = match doc.remove("versions") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(map)) => map.into_iter().collect(),
        Some(_) => return Err(bad("\"versions\" is not an object".into())),
    };

    let mut dist_tags = BTreeMap::new();
    match doc.remove("dist-tags") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (tag, version) in map {
                let Value::String(version) = version else {
                    return Err(bad(format!("dist-tag {tag:?} is not a string")));
                };
                dist_tags.insert(tag, version);
            }
        }
        Some(_) => return Err(bad("\"dist-tags\" is not an object".into())),
    }

    let mut attachments = BTreeMap::new();
    match doc.remove("_attachments") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (file, attachment) in map {
                let parsed = parse_attachment(&attachment)
                    .map_err(|why| bad(format!("attachment {file:?}: {why}")))?;
                attachments.insert(file, parsed);
            }
        }
        Some(_) => return Err(bad("\"_attachments\" is not an object".into())),
    }
    // Without attachments the PUT edits the versions it lists (deprecate, unpublish): one that
    // lists none would read as "unpublish everything", which no npm command sends.
    if attachments.is_empty() && !versions_sent {
        return Err(bad(
            "\"versions\" is missing: a metadata update sends back the package's versions".into(),
        ));
    }

    Ok(PublishDocument {
        name,
        rev,
        versions,
        dist_tags,
        attachments,
    })
}

fn parse_attachment(value: &Value) -> Result<Attachment, String> {
    let Value::Object(fields) = value else {
        return Err("not an object".into());
    };
    if !matches!(fields.get("data"), Some(Value::String(_))) {
        return Err("\"data\" is missing or not a string".into());
    }
    let length = match fields.get("length") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_u64().ok_or("\"length\" is not a size")?),
        Some(Value::String(s)) => Some(s.parse().map_err(|_| "\"length\" is not a size")?),
        Some(_) => return Err("\"length\" is not a number".into()),
    };
    let content_type = match fields.get("content_type") {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    Ok(Attachment {
        length,
        content_type,
    })
}

/// Checks one version of a publish against what was `received` (attachment name → its content)
/// and returns the name of its attachment:
/// - the version has a manifest whose `name` is the document's and whose `version` is the key
///   ([`NpmError::InvalidDocument`] when it is absent, [`NpmError::ManifestMismatch`] otherwise);
/// - an attachment `"<full name>-<version>.tgz"` (as npm sends) or `"<name>-<version>.tgz"`
///   exists and was received ([`NpmError::MissingAttachment`]);
/// - its `length`, when given, and `dist.shasum` (SHA-1 hex) and `dist.integrity` (SRI, e.g.
///   `sha512-<base64>`), each when present, match what was received
///   ([`NpmError::IntegrityMismatch`]); at least one of the two digests must be present
///   ([`NpmError::InvalidDocument`]);
/// - the tarball's `package.json` (the first entry `<top dir>/package.json`) has the manifest's
///   name and version ([`NpmError::InvalidTarball`], [`NpmError::ManifestMismatch`]).
///
/// # Errors
/// As listed above.
pub fn verify_version<'a>(
    doc: &'a PublishDocument,
    version: &str,
    received: &BTreeMap<String, ReceivedTarball>,
) -> Result<&'a str, NpmError> {
    let manifest = doc
        .versions
        .get(version)
        .ok_or_else(|| NpmError::InvalidDocument(format!("no manifest for version {version:?}")))?;
    let manifest_name = manifest.get("name").and_then(Value::as_str);
    if manifest_name.map(str::trim) != Some(doc.name.as_str()) {
        return Err(NpmError::ManifestMismatch(format!(
            "manifest of {version} names {manifest_name:?}, the document {:?}",
            doc.name
        )));
    }
    let manifest_version = manifest.get("version").and_then(Value::as_str);
    if manifest_version.map(clean_version) != Some(clean_version(version)) {
        return Err(NpmError::ManifestMismatch(format!(
            "manifest of {version} has version {manifest_version:?}"
        )));
    }

    let npm_key = format!("{}-{version}.tgz", doc.name);
    let (file, attachment) = doc
        .attachments
        .get_key_value(&npm_key)
        .or_else(|| {
            doc.attachments
                .get_key_value(&tarball_filename(&doc.name, version))
        })
        .ok_or_else(|| NpmError::MissingAttachment(npm_key.clone()))?;
    let tarball = received
        .get(file)
        .ok_or_else(|| NpmError::MissingAttachment(npm_key.clone()))?;

    if let Some(length) = attachment.length
        && length != tarball.size
    {
        return Err(NpmError::IntegrityMismatch(format!(
            "{npm_key}: length {length} stated, {} received",
            tarball.size
        )));
    }

    let dist = manifest.get("dist");
    let shasum = dist.and_then(|d| d.get("shasum")).and_then(Value::as_str);
    let integrity = dist
        .and_then(|d| d.get("integrity"))
        .and_then(Value::as_str);
    if shasum.is_none() && integrity.is_none() {
        return Err(NpmError::InvalidDocument(format!(
            "manifest of {version} has neither dist.shasum nor dist.integrity"
        )));
    }
    if let Some(shasum) = shasum {
        let actual = &tarball.sha1;
        if !actual.eq_ignore_ascii_case(shasum.trim()) {
            return Err(NpmError::IntegrityMismatch(format!(
                "{npm_key}: dist.shasum {shasum} stated, {actual} computed"
            )));
        }
    }
    if let Some(integrity) = integrity {
        check_integrity(integrity, tarball)
            .map_err(|why| NpmError::IntegrityMismatch(format!("{npm_key}: {why}")))?;
    }

    let packaged = tarball.package_json.as_ref().map_err(Clone::clone)?;
    let packaged_name = packaged.get("name").and_then(Value::as_str);
    if packaged_name.map(str::trim) != Some(doc.name.as_str()) {
        return Err(NpmError::ManifestMismatch(format!(
            "the tarball's package.json names {packaged_name:?}, the manifest {:?}",
            doc.name
        )));
    }
    let packaged_version = packaged.get("version").and_then(Value::as_str);
    if packaged_version.map(clean_version) != Some(clean_version(version)) {
        return Err(NpmError::ManifestMismatch(format!(
            "the tarball's package.json has version {packaged_version:?}, the manifest {version:?}"
        )));
    }
    Ok(file)
}

/// The version as npm normalizes it (`semver.clean`'s prefix rule): spaces and a leading
/// `=`/`v` dropped, so a `package.json` saying `v1.0.0` matches the manifest's `1.0.0`.
fn clean_version(version: &str) -> &str {
    version.trim().trim_start_matches(['=', 'v']).trim()
}

/// The SRI algorithms this knows, strongest first.
const SRI_ALGORITHMS: [&str; 4] = ["sha512", "sha384", "sha256", "sha1"];

/// The entries of an SRI string this knows: (rank in [`SRI_ALGORITHMS`], base64 digest).
fn sri_entries(integrity: &str) -> Vec<(usize, &str)> {
    integrity
        .split_ascii_whitespace()
        .filter_map(|token| {
            let (algorithm, rest) = token.split_once('-')?;
            let rank = SRI_ALGORITHMS
                .iter()
                .position(|a| a.eq_ignore_ascii_case(algorithm))?;
            // Options follow a `?` and are not part of the digest.
            Some((rank, rest.split('?').next().unwrap_or(rest)))
        })
        .collect()
}

/// Whether some version's `dist.integrity` is checked with SHA-384 (its strongest hash), which
/// the blob store does not compute: [`inspect_tarball`] must then.
#[must_use]
pub fn needs_sha384(doc: &PublishDocument) -> bool {
    doc.versions.values().any(|manifest| {
        manifest
            .get("dist")
            .and_then(|d| d.get("integrity"))
            .and_then(Value::as_str)
            .and_then(|i| sri_entries(i).iter().map(|&(rank, _)| rank).min())
            == Some(1)
    })
}

/// Checks an SRI string against the received digests: its hashes of the strongest algorithm
/// this knows (sha512 > sha384 > sha256 > sha1) are compared and one of them must match.
fn check_integrity(integrity: &str, tarball: &ReceivedTarball) -> Result<(), String> {
    let entries = sri_entries(integrity);
    let Some(strongest) = entries.iter().map(|&(rank, _)| rank).min() else {
        return Err(format!(
            "dist.integrity {integrity:?} has no supported hash"
        ));
    };
    let algorithm = SRI_ALGORITHMS[strongest];
    let actual = match algorithm {
        "sha512" => Some(&tarball.sha512),
        "sha384" => tarball.sha384.as_ref(),
        "sha256" => Some(&tarball.sha256),
        _ => Some(&tarball.sha1),
    }
    .and_then(|digest| hex::decode(digest).ok())
    .ok_or_else(|| format!("dist.integrity {integrity}: no {algorithm} digest was computed"))?;
    let matches = entries
        .iter()
        .filter(|&&(rank, _)| rank == strongest)
        .any(|&(_, digest)| BASE64.decode(digest).is_ok_and(|d| d == actual));
    if matches {
        Ok(())
    } else {
        Err(format!(
            "dist.integrity {integrity} stated, {algorithm}-{} computed",
            base64::engine::general_purpose::STANDARD.encode(&actual)
        ))
    }
}

/// Reads a gzipped tarball as a stream, for a [`ReceivedTarball`]: its `package.json` (reading
/// no further than that entry) and, when `sha384`, its SHA-384 (then reading to the end). Both
/// are bounded in memory whatever the tarball's size; reading is CPU work, for a blocking thread.
pub fn inspect_tarball(
    tgz: &mut dyn Read,
    sha384: bool,
) -> (Result<Value, NpmError>, Option<String>) {
    let mut reader = Digesting {
        inner: tgz,
        sha384: sha384.then(Sha384::new),
    };
    let package_json = read_package_json(&mut reader);
    let sha384 =
        if reader.sha384.is_some() && std::io::copy(&mut reader, &mut std::io::sink()).is_ok() {
            reader.sha384.map(|hasher| hex::encode(hasher.finalize()))
        } else {
            None
        };
    (package_json, sha384)
}

/// A reader computing the SHA-384 of what is read through it, when asked to.
struct Digesting<'a> {
    inner: &'a mut dyn Read,
    sha384: Option<Sha384>,
}

impl Read for Digesting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(hasher) = &mut self.sha384 {
            hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Reads and parses the first `<top dir>/package.json` of a gzipped tarball.
fn read_package_json<R: Read>(tgz: R) -> Result<Value, NpmError> {
    read_package_json_within(tgz, MAX_INFLATED_BYTES, MAX_TAR_ENTRIES)
}

/// [`read_package_json`], reading at most `max_inflated` bytes of tar and `max_entries` entries.
fn read_package_json_within<R: Read>(
    tgz: R,
    max_inflated: u64,
    max_entries: usize,
) -> Result<Value, NpmError> {
    let bad = |why: String| NpmError::InvalidTarball(why);
    let mut found = None;
    let bounds = TarBounds {
        max_inflated,
        max_entries,
    };
    let walked = walk_tar_gz(tgz, bounds, |path, entry| {
        if !is_top_level_package_json(path) {
            return Ok(ControlFlow::Continue(()));
        }
        let bytes = read_at_most(entry, MAX_MANIFEST_BYTES)
            .map_err(|e| format!("unreadable package.json: {e}"))?
            .ok_or("package.json is too large")?;
        found = Some(bytes);
        Ok(ControlFlow::Break(()))
    });
    match walked {
        Ok(()) => {}
        Err(TarError::TooLarge(max)) => {
            return Err(bad(format!(
                "no package/package.json in its first {max} bytes"
            )));
        }
        Err(TarError::TooManyEntries(max)) => {
            return Err(bad(format!(
                "no package/package.json in its first {max} entries"
            )));
        }
        Err(TarError::Malformed(e)) => return Err(bad(format!("not a gzipped tar: {e}"))),
        Err(TarError::Visitor(e)) => return Err(bad(e)),
    }
    let bytes = found.ok_or_else(|| bad("no package/package.json".into()))?;
    serde_json::from_slice(&bytes).map_err(|e| bad(format!("package.json is not JSON: {e}")))
}

fn is_top_level_package_json(path: &Path) -> bool {
    let mut parts = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir));
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(Component::Normal(_)), Some(Component::Normal(file)), None) if file == "package.json"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sha1::Sha1;
    use sha2::{Sha256, Sha512};

    /// Which error a refused case must give.
    type Expect = fn(&NpmError) -> bool;

    use crate::archive::tgz;

    fn package_tgz(top: &str, name: &str, version: &str) -> Vec<u8> {
        let package_json = json!({"name": name, "version": version, "main": "index.js"});
        let package_json = serde_json::to_vec_pretty(&package_json).expect("json");
        tgz(&[
            (&format!("{top}/index.js"), b"module.exports = 42;\n"),
            (&format!("{top}/lib/package.json"), b"{\"name\":\"other\"}"),
            (&format!("{top}/package.json"), &package_json),
        ])
    }

    fn sha1_hex(data: &[u8]) -> String {
        hex::encode(Sha1::digest(data))
    }

    fn sri512(data: &[u8]) -> String {
        format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(Sha512::digest(data))
        )
    }

    /// The body `npm publish` sends for `name@version` with `tarball` attached.
    fn publish_body(name: &str, version: &str, tarball: &[u8], key: &str) -> Value {
        json!({
            "_id": name,
            "name": name,
            "description": "a demo",
            "dist-tags": {"latest": version},
            "versions": {
                version: {
                    "name": name,
                    "version": version,
                    "description": "a demo",
                    "_id": format!("{name}@{version}"),
                    "_nodeVersion": "22.0.0",
                    "_npmVersion": "11.0.0",
                    "dist": {
                        "shasum": sha1_hex(tarball),
                        "integrity": sri512(tarball),
                        "tarball": format!("http://localhost/{name}/-/{}", tarball_filename(name, version)),
                    },
                },
            },
            "access": null,
            "_attachments": {
                key: {
                    "content_type": "application/octet-stream",
                    "data": base64::engine::general_purpose::STANDARD.encode(tarball),
                    "length": tarball.len(),
                },
            },
        })
    }

    /// A body as the server takes it: read by the streaming reader (its attachments' content
    /// apart), the skeleton parsed, each attachment's content inspected as a staged one is.
    fn receive_bytes(
        body: &[u8],
    ) -> Result<(PublishDocument, BTreeMap<String, ReceivedTarball>), NpmError> {
        let (skeleton, attachments) = super::super::stream::tests::read(body)?;
        let doc = parse_publish(&skeleton)?;
        let sha384 = needs_sha384(&doc);
        let received = attachments
            .into_iter()
            .map(|(file, content)| (file, received_from(&content, sha384)))
            .collect();
        Ok((doc, received))
    }

    fn receive(body: &Value) -> (PublishDocument, BTreeMap<String, ReceivedTarball>) {
        receive_bytes(&serde_json::to_vec(body).expect("json")).expect("receive publish")
    }

    fn received_from(content: &[u8], sha384: bool) -> ReceivedTarball {
        let (package_json, sha384) = inspect_tarball(&mut &content[..], sha384);
        ReceivedTarball {
            size: content.len() as u64,
            sha1: hex::encode(Sha1::digest(content)),
            sha256: hex::encode(Sha256::digest(content)),
            sha512: hex::encode(Sha512::digest(content)),
            sha384,
            package_json,
        }
    }

    /// Receives `body` and verifies `version`: the attachment it names.
    fn verify(body: &Value, version: &str) -> Result<String, NpmError> {
        let (doc, received) = receive(body);
        verify_version(&doc, version, &received).map(str::to_owned)
    }

    const NAME: &str = "@myscope/demo-pkg";

    fn good() -> (Vec<u8>, Value) {
        let tarball = package_tgz("package", NAME, "1.0.0");
        let body = publish_body(NAME, "1.0.0", &tarball, "@myscope/demo-pkg-1.0.0.tgz");
        (tarball, body)
    }

    #[test]
    fn a_publish_body_parses() {
        let (tarball, body) = good();
        let (doc, received) = receive(&body);
        assert_eq!(doc.name, NAME);
        assert_eq!(doc.rev, None);
        assert_eq!(doc.versions.keys().collect::<Vec<_>>(), ["1.0.0"]);
        assert_eq!(
            doc.dist_tags.get("latest").map(String::as_str),
            Some("1.0.0")
        );
        let attachment = &doc.attachments["@myscope/demo-pkg-1.0.0.tgz"];
        assert_eq!(
            received["@myscope/demo-pkg-1.0.0.tgz"],
            received_from(&tarball, false)
        );
        assert_eq!(attachment.length, Some(tarball.len() as u64));
        assert_eq!(
            attachment.content_type.as_deref(),
            Some("application/octet-stream")
        );
    }

    #[test]
    fn a_deprecate_body_without_attachments_parses() {
        let body = json!({
            "_id": "demo", "_rev": "3-abc", "name": "demo",
            "versions": {"1.0.0": {"name": "demo", "version": "1.0.0", "deprecated": "use 2"}},
        });
        let (doc, received) = receive(&body);
        assert!(doc.attachments.is_empty() && received.is_empty());
        assert!(doc.dist_tags.is_empty());
        assert_eq!(doc.rev.as_deref(), Some("3-abc"));
        assert_eq!(doc.versions["1.0.0"]["deprecated"], "use 2");
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let cases: &[(&[u8], Expect)] = &[
            (b"not json", |e| matches!(e, NpmError::InvalidDocument(_))),
            (b"[]", |e| matches!(e, NpmError::InvalidDocument(_))),
            (b"{}", |e| matches!(e, NpmError::InvalidDocument(_))),
            (br#"{"name":"_bad"}"#, |e| {
                matches!(e, NpmError::InvalidName(_))
            }),
            (br#"{"name":"a","_rev":1}"#, |e| {
                matches!(e, NpmError::InvalidDocument(_))
            }),
            (br#"{"name":"a","versions":[]}"#, |e| {
                matches!(e, NpmError::InvalidDocument(_))
            }),
            (br#"{"name":"a","dist-tags":{"latest":1}}"#, |e| {
                matches!(e, NpmError::InvalidDocument(_))
            }),
            (
                br#"{"name":"a","_attachments":{"a-1.tgz":{"data":"@@@"}}}"#,
                |e| matches!(e, NpmError::InvalidDocument(_)),
            ),
            (
                br#"{"name":"a","_attachments":{"a-1.tgz":{"length":3}}}"#,
                |e| matches!(e, NpmError::InvalidDocument(_)),
            ),
        ];
        for (body, expected) in cases {
            let err = receive_bytes(body).expect_err(&String::from_utf8_lossy(body));
            assert!(expected(&err), "{}: {err:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn verify_accepts_what_npm_sends() {
        let (_, body) = good();
        assert_eq!(
            verify(&body, "1.0.0").expect("verifies"),
            "@myscope/demo-pkg-1.0.0.tgz"
        );
    }

    #[test]
    fn verify_accepts_variants_npm_and_other_tools_produce() {
        // Unscoped, attachment keyed by the short file name, another top directory, only one of
        // the two digests, unpadded base64, a `v`-prefixed version in package.json.
        let tarball = package_tgz("demo", "demo", "v2.0.0");
        let mut body = publish_body("demo", "2.0.0", &tarball, "demo-2.0.0.tgz");
        body["versions"]["2.0.0"]["dist"]
            .as_object_mut()
            .expect("dist")
            .remove("shasum");
        body["_attachments"]["demo-2.0.0.tgz"]["data"] =
            json!(base64::engine::general_purpose::STANDARD_NO_PAD.encode(&tarball));
        assert!(verify(&body, "2.0.0").is_ok());

        let tarball = package_tgz("package", NAME, "1.0.0");
        let mut body = publish_body(NAME, "1.0.0", &tarball, "demo-pkg-1.0.0.tgz");
        let dist = body["versions"]["1.0.0"]["dist"]
            .as_object_mut()
            .expect("dist");
        dist.remove("integrity");
        body["_attachments"]["demo-pkg-1.0.0.tgz"]
            .as_object_mut()
            .expect("attachment")
            .remove("length");
        assert!(verify(&body, "1.0.0").is_ok());

        // A multi-hash SRI string: the strongest algorithm decides.
        let (tarball, mut body) = good();
        body["versions"]["1.0.0"]["dist"]["integrity"] =
            json!(format!("sha1-AAAA {} sha512-AAAA", sri512(&tarball)));
        assert!(verify(&body, "1.0.0").is_ok());

        // SHA-384 and SHA-256 SRI strings (SHA-384 is computed only when one asks for it).
        let sri = |algorithm: &str, digest: &[u8]| {
            json!(format!(
                "{algorithm}-{}",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ))
        };
        for (algorithm, digest) in [
            ("sha384", Sha384::digest(&tarball).to_vec()),
            ("sha256", Sha256::digest(&tarball).to_vec()),
        ] {
            let dist = &mut body["versions"]["1.0.0"]["dist"];
            dist["integrity"] = sri(algorithm, &digest);
            assert_eq!(needs_sha384(&receive(&body).0), algorithm == "sha384");
            assert!(verify(&body, "1.0.0").is_ok(), "{algorithm}");
            body["versions"]["1.0.0"]["dist"]["integrity"] = sri(algorithm, &vec![0; digest.len()]);
            assert!(
                matches!(verify(&body, "1.0.0"), Err(NpmError::IntegrityMismatch(_))),
                "{algorithm}"
            );
        }
    }

    /// Incompressible bytes.
    fn noise(len: usize) -> Vec<u8> {
        let mut x: u32 = 0x9e37_79b9;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[3]
            })
            .collect()
    }

    /// A reader counting what is read through it.
    struct Counting<'a> {
        inner: &'a [u8],
        read: usize,
    }

    impl Read for Counting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read += n;
            Ok(n)
        }
    }

    #[test]
    fn inspecting_a_tarball_reads_no_further_than_its_package_json() {
        let manifest = br#"{"name":"a","version":"1.0.0"}"#;
        let tarball = tgz(&[
            ("package/package.json", manifest),
            ("package/big.bin", &noise(4 * 1024 * 1024)),
        ]);
        let mut counting = Counting {
            inner: &tarball,
            read: 0,
        };
        let (package_json, sha384) = inspect_tarball(&mut counting, false);
        assert_eq!(package_json, Ok(json!({"name": "a", "version": "1.0.0"})));
        assert_eq!(sha384, None);
        assert!(counting.read < 256 * 1024, "read {} bytes", counting.read);

        let mut counting = Counting {
            inner: &tarball,
            read: 0,
        };
        let (package_json, sha384) = inspect_tarball(&mut counting, true);
        assert!(package_json.is_ok());
        assert_eq!(sha384, Some(hex::encode(Sha384::digest(&tarball))));
        assert_eq!(counting.read, tarball.len());

        // Not a tarball at all: the digest is still computed.
        let (package_json, sha384) = inspect_tarball(&mut &b"plain bytes"[..], true);
        assert!(matches!(package_json, Err(NpmError::InvalidTarball(_))));
        assert_eq!(sha384, Some(hex::encode(Sha384::digest(b"plain bytes"))));
    }

    #[test]
    fn the_search_for_package_json_is_bounded() {
        let filler = vec![0; 64 * 1024];
        let mut files: Vec<(String, &[u8])> = (0..20)
            .map(|i| (format!("package/f{i}.js"), filler.as_slice()))
            .collect();
        files.push((
            "package/package.json".into(),
            br#"{"name":"a","version":"1.0.0"}"#,
        ));
        let files: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (p.as_str(), *c)).collect();
        let tarball = tgz(&files);
        assert!(
            tarball.len() < 64 * 1024,
            "a small tarball inflating to more"
        );
        assert!(read_package_json_within(&tarball[..], u64::MAX, usize::MAX).is_ok());
        assert!(matches!(
            read_package_json_within(&tarball[..], 512 * 1024, usize::MAX),
            Err(NpmError::InvalidTarball(m)) if m.contains("bytes")
        ));
        assert!(matches!(
            read_package_json_within(&tarball[..], u64::MAX, 10),
            Err(NpmError::InvalidTarball(m)) if m.contains("entries")
        ));
    }

    #[test]
    fn verify_refuses_each_kind_of_mismatch() {
        type Case = (&'static str, Box<dyn Fn(&mut Value)>, Expect);
        // A valid tarball of the same name and version, but other bytes than the digests'.
        let other = tgz(&[(
            "package/package.json",
            br#"{"name":"@myscope/demo-pkg","version":"1.0.0","private":true}"#,
        )]);
        let other_b64 = base64::engine::general_purpose::STANDARD.encode(&other);
        let cases: Vec<Case> = vec![
            (
                "wrong shasum",
                Box::new(|b| b["versions"]["1.0.0"]["dist"]["shasum"] = json!("0".repeat(40))),
                |e| matches!(e, NpmError::IntegrityMismatch(_)),
            ),
            (
                "wrong integrity",
                Box::new(|b| {
                    b["versions"]["1.0.0"]["dist"]["integrity"] = json!(sri512(b"other bytes"));
                }),
                |e| matches!(e, NpmError::IntegrityMismatch(_)),
            ),
            (
                "unsupported integrity",
                Box::new(|b| b["versions"]["1.0.0"]["dist"]["integrity"] = json!("md5-AAAA")),
                |e| matches!(e, NpmError::IntegrityMismatch(_)),
            ),
            (
                "wrong length",
                Box::new(|b| b["_attachments"]["@myscope/demo-pkg-1.0.0.tgz"]["length"] = json!(1)),
                |e| matches!(e, NpmError::IntegrityMismatch(_)),
            ),
            (
                "other bytes than the digests describe",
                Box::new(move |b| {
                    let a = &mut b["_attachments"]["@myscope/demo-pkg-1.0.0.tgz"];
                    a["data"] = json!(other_b64.clone());
                    a["length"] = json!(other.len());
                }),
                |e| matches!(e, NpmError::IntegrityMismatch(_)),
            ),
            (
                "no digests",
                Box::new(|b| b["versions"]["1.0.0"]["dist"] = json!({})),
                |e| matches!(e, NpmError::InvalidDocument(_)),
            ),
            (
                "missing attachment",
                Box::new(|b| b["_attachments"] = json!({})),
                |e| matches!(e, NpmError::MissingAttachment(_)),
            ),
            (
                "attachment of another version",
                Box::new(|b| {
                    let a = b["_attachments"]["@myscope/demo-pkg-1.0.0.tgz"].take();
                    b["_attachments"] = json!({"@myscope/demo-pkg-1.0.1.tgz": a});
                }),
                |e| matches!(e, NpmError::MissingAttachment(_)),
            ),
            (
                "manifest names another package",
                Box::new(|b| b["versions"]["1.0.0"]["name"] = json!("@myscope/other")),
                |e| matches!(e, NpmError::ManifestMismatch(_)),
            ),
            (
                "manifest has another version",
                Box::new(|b| b["versions"]["1.0.0"]["version"] = json!("1.0.1")),
                |e| matches!(e, NpmError::ManifestMismatch(_)),
            ),
        ];
        for (what, edit, expected) in cases {
            let (_, mut body) = good();
            edit(&mut body);
            let err = verify(&body, "1.0.0").expect_err(what);
            assert!(expected(&err), "{what}: {err:?}");
        }

        let (_, body) = good();
        assert!(matches!(
            verify(&body, "9.9.9"),
            Err(NpmError::InvalidDocument(_))
        ));
    }

    #[test]
    fn verify_refuses_a_tarball_that_disagrees_with_the_manifest() {
        let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
            (
                "tarball names another package",
                package_tgz("package", "@myscope/other", "1.0.0"),
                |e| matches!(e, NpmError::ManifestMismatch(_)),
            ),
            (
                "tarball has another version",
                package_tgz("package", NAME, "1.0.1"),
                |e| matches!(e, NpmError::ManifestMismatch(_)),
            ),
            (
                "package.json only deeper down",
                tgz(&[("package/lib/package.json", b"{}")]),
                |e| matches!(e, NpmError::InvalidTarball(_)),
            ),
            (
                "package.json not JSON",
                tgz(&[("package/package.json", b"{nope")]),
                |e| matches!(e, NpmError::InvalidTarball(_)),
            ),
            ("not gzip", b"plain bytes".to_vec(), |e| {
                matches!(e, NpmError::InvalidTarball(_))
            }),
        ];
        for (what, tarball, expected) in cases {
            let body = publish_body(NAME, "1.0.0", &tarball, "@myscope/demo-pkg-1.0.0.tgz");
            let err = verify(&body, "1.0.0").expect_err(what);
            assert!(expected(&err), "{what}: {err:?}");
        }
    }
}
