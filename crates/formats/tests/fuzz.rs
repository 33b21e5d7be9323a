//! Property tests of every parser that reads bytes a client or an upstream registry sends: each
//! returns a value or an error for any input, never panics, and stays within its bounds.
//!
//! `scripts/test` runs them with proptest's default case count (256 per property, a few seconds);
//! for a longer run: `PROPTEST_CASES=100000 cargo test -p reliquary-formats --test fuzz --release`.

use std::io::{Cursor, Write as _};

use proptest::prelude::*;
use reliquary_formats::{archive, cargo, maven, npm, pypi};

/// Bytes that are sometimes JSON-ish, sometimes anything.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        "[\\{\\}\\[\\]\":,a-z0-9 _\\-\\.@/\\\\]{0,256}".prop_map(String::into_bytes),
    ]
}

/// A gzip member of `body`.
fn gzipped(body: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(body).expect("gzip");
    gz.finish().expect("gzip")
}

proptest! {
    #[test]
    fn npm_publish_documents(body in jsonish()) {
        let _ = npm::parse_publish(&body);
    }

    #[test]
    fn npm_publish_bodies_stream_in_any_chunking(body in jsonish(), cut in 1usize..64) {
        let mut reader = npm::PublishReader::new(4096, 4);
        let mut out = Vec::new();
        let mut rest: &[u8] = &body;
        let mut steps = 0;
        'feed: while !rest.is_empty() {
            let chunk = &rest[..cut.min(rest.len())];
            let mut at = 0;
            while at < chunk.len() {
                match reader.feed(&chunk[at..], &mut out) {
                    Ok((used, _)) => at += used,
                    Err(_) => break 'feed,
                }
                steps += 1;
                prop_assert!(steps < 100_000, "the reader makes progress");
            }
            rest = &rest[chunk.len()..];
        }
        prop_assert!(out.len() <= body.len(), "decoded data never exceeds its base64");
    }

    #[test]
    fn npm_names_and_accept_headers(raw in ".{0,80}") {
        let _ = npm::parse_name(&raw);
        let _ = npm::wants_abbreviated(Some(&raw));
    }

    #[test]
    fn npm_tarballs(bytes in proptest::collection::vec(any::<u8>(), 0..2048), sha384 in any::<bool>()) {
        let _ = npm::inspect_tarball(&mut &bytes[..], sha384);
        let _ = npm::inspect_tarball(&mut &gzipped(&bytes)[..], sha384);
    }

    #[test]
    fn pypi_pages(body in jsonish(), html in any::<bool>()) {
        let content_type = if html { "text/html" } else { "application/vnd.pypi.simple.v1+json" };
        let _ = pypi::parse_project_page(&body, content_type, "https://example.test/simple/x/");
    }

    #[test]
    fn pypi_filenames_and_forms(
        filename in "[a-zA-Z0-9_\\.\\-]{0,60}",
        project in "[a-zA-Z0-9_\\.\\-]{0,20}",
        fields in proptest::collection::vec(("[a-z_:]{1,20}", ".{0,40}"), 0..24),
    ) {
        let _ = pypi::version_from_filename(&filename, &project);
        let _ = pypi::check_filename(&filename, &project, "1.0");
        let _ = pypi::parse_upload_form(&fields);
        let _ = pypi::negotiate(Some(&filename));
        let _ = pypi::normalize(&project);
    }

    #[test]
    fn wheels_and_zip_end_records(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = pypi::wheel_metadata(Cursor::new(&bytes));
        let _ = archive::zip_entry_count(&mut Cursor::new(&bytes));
        // A real end record followed by garbage, and garbage followed by one.
        let mut tail = bytes.clone();
        tail.extend_from_slice(b"PK\x05\x06\0\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\0\0");
        let _ = pypi::wheel_metadata(Cursor::new(&tail));
        let _ = archive::zip_entry_count(&mut Cursor::new(&tail));
    }

    #[test]
    fn maven_poms_metadata_and_paths(
        xml in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..512),
            r#"[<>/a-zA-Z0-9 ="\.\-!\[\]&;:?]{0,300}"#.prop_map(String::into_bytes),
        ],
        segments in proptest::collection::vec(r"[a-zA-Z0-9_\.\-]{0,12}", 0..8),
        version in r"[0-9A-Za-z\.\-]{0,24}",
    ) {
        let _ = maven::parse_pom(&xml);
        let _ = maven::parse_metadata(&xml);
        let raw = segments.join("/");
        let _ = maven::MavenPath::parse(&raw, &segments);
        let _ = maven::compare_versions(&version, &raw);
        let _ = maven::is_snapshot(&version);
    }

    #[test]
    fn cargo_publish_metadata_and_index_files(body in jsonish()) {
        let _ = cargo::parse_new_crate(&body);
        let _ = cargo::parse_index_file(&body);
    }

    #[test]
    fn cargo_crates(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = cargo::inspect_crate(&mut &bytes[..], "demo", "0.1.0", None);
        let _ = cargo::inspect_crate(&mut &gzipped(&bytes)[..], "demo", "0.1.0", Some("../../x"));
    }

    #[test]
    fn cargo_names_and_paths(name in ".{0,70}", segments in proptest::collection::vec("[a-z0-9_\\-\\.]{0,6}", 0..5)) {
        let _ = cargo::check_name(&name);
        let _ = cargo::check_version(&name);
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let _ = cargo::name_from_index_path(&segments);
    }
}

/// Bombs stay within the bounds whatever they claim: a tarball whose one file inflates to 64 MiB
/// (64 KiB gzipped) is cut at the walk's inflated-byte bound, not inflated whole; npm and Cargo
/// refuse it.
#[test]
fn a_gzip_bomb_is_cut_at_the_inflated_bound() {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let size = 64 * 1024 * 1024;
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    tar.append_data(
        &mut header,
        "package/zeros",
        std::io::Read::take(std::io::repeat(0), size),
    )
    .expect("tar");
    let bomb = tar.into_inner().expect("tar").finish().expect("gzip");
    assert!(bomb.len() < 1024 * 1024, "{} bytes", bomb.len());

    let bounds = archive::TarBounds {
        max_inflated: 4 * 1024 * 1024,
        max_entries: 10,
    };
    let walked = archive::walk_tar_gz(&bomb[..], bounds, |_, entry| {
        std::io::copy(entry, &mut std::io::sink()).map_err(|e| e.to_string())?;
        Ok(std::ops::ControlFlow::Continue(()))
    });
    assert_eq!(walked, Err(archive::TarError::TooLarge(4 * 1024 * 1024)));
    let (package_json, _) = npm::inspect_tarball(&mut &bomb[..], true);
    assert!(package_json.is_err());
    assert!(cargo::inspect_crate(&mut &bomb[..], "demo", "0.1.0", None).is_err());
}
