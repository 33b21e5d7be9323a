//! Behaviour of `BlobStore` on the memory and local-filesystem backends.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::{Stream, TryStreamExt, stream};
use reliquary_blob::{BlobError, BlobInfo, BlobStore, Hashes, S3Settings, StagedBlob};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const NO_LIMIT: u64 = u64::MAX;
/// Small multipart parts, so that modest test data spans many parts (hashing is slow in debug
/// builds).
const SMALL_PART: usize = 64 * 1024;

/// A body yielding `data` in pieces whose sizes cycle through `sizes`.
fn body(
    data: &[u8],
    sizes: &[usize],
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + use<> {
    let mut chunks = Vec::new();
    let mut rest = Bytes::copy_from_slice(data);
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].min(rest.len());
        chunks.push(Ok(rest.split_to(n)));
        i += 1;
    }
    stream::iter(chunks)
}

fn one_chunk(
    data: &[u8],
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + use<> {
    body(data, &[usize::MAX])
}

/// Deterministic, non-repeating-looking test data.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

async fn read_all(
    store: &BlobStore,
    sha256: &str,
    range: Option<std::ops::Range<u64>>,
) -> Result<Vec<u8>, BlobError> {
    let reader = store.get(sha256, range).await?;
    let expected = reader.content_length();
    let chunks: Vec<Bytes> = reader.try_collect().await?;
    let data = chunks.concat();
    assert_eq!(data.len() as u64, expected);
    Ok(data)
}

async fn put(store: &BlobStore, data: &[u8]) -> Result<StagedBlob, BlobError> {
    let staged = store.put_staged(one_chunk(data), NO_LIMIT).await?;
    store.commit(&staged).await?;
    Ok(staged)
}

async fn listed(store: &BlobStore) -> Result<Vec<BlobInfo>, BlobError> {
    let mut all: Vec<BlobInfo> = store.list().try_collect().await?;
    all.sort_by(|a, b| a.sha256.cmp(&b.sha256));
    Ok(all)
}

/// Files under `dir`, recursively, as paths relative to it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if let Ok(rel) = path.strip_prefix(base) {
                out.push(rel.to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn set_mtime(path: &Path, time: SystemTime) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .set_modified(time)
}

fn blob_file(root: &Path, sha256: &str) -> PathBuf {
    root.join("blobs")
        .join(&sha256[0..2])
        .join(&sha256[2..4])
        .join(sha256)
}

fn an_hour_ago() -> SystemTime {
    SystemTime::now() - Duration::from_secs(3600)
}

struct Backends {
    _dir: tempfile::TempDir,
    root: PathBuf,
    stores: Vec<(&'static str, BlobStore)>,
}

fn backends() -> Result<Backends, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("blobs-root");
    let local = BlobStore::local(&root)?.with_part_size(SMALL_PART);
    Ok(Backends {
        root: std::fs::canonicalize(&root)?,
        _dir: dir,
        stores: vec![
            ("memory", BlobStore::memory().with_part_size(SMALL_PART)),
            ("local", local),
        ],
    })
}

#[tokio::test]
async fn known_vectors_through_put_staged() -> TestResult {
    let store = BlobStore::memory();
    let empty = store.put_staged(one_chunk(b""), NO_LIMIT).await?;
    assert_eq!(empty.size, 0);
    assert_eq!(empty.hashes.md5, "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(
        empty.hashes.sha1,
        "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    );
    assert_eq!(
        empty.hashes.sha256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        empty.hashes.sha512,
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
         47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
    );

    // "abc" split across three chunks.
    let abc = store.put_staged(body(b"abc", &[1]), NO_LIMIT).await?;
    assert_eq!(abc.size, 3);
    assert_eq!(abc.hashes.md5, "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(abc.hashes.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_eq!(
        abc.hashes.sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        abc.hashes.sha512,
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
         2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    );
    Ok(())
}

#[tokio::test]
async fn round_trip() -> TestResult {
    let b = backends()?;
    for (name, store) in &b.stores {
        let data = b"hello, reliquary".to_vec();
        let staged = store.put_staged(one_chunk(&data), NO_LIMIT).await?;
        assert!(
            !store.exists(staged.sha256()).await?,
            "{name}: visible before commit"
        );
        store.commit(&staged).await?;
        assert!(store.exists(staged.sha256()).await?, "{name}");
        let reader = store.get(staged.sha256(), None).await?;
        assert_eq!(reader.size, data.len() as u64);
        assert_eq!(reader.range, 0..data.len() as u64);
        assert_eq!(
            read_all(store, staged.sha256(), None).await?,
            data,
            "{name}"
        );

        // Empty content is a blob like any other.
        let empty = put(store, b"").await?;
        assert_eq!(read_all(store, empty.sha256(), None).await?, b"", "{name}");

        // Committing the same StagedBlob again is harmless.
        store.commit(&staged).await?;
        assert_eq!(store.sweep_staging(Duration::ZERO).await?, 0, "{name}");
    }
    // On disk: exactly the two blobs at their content addresses, nothing else.
    let mut expected = vec![
        blob_file(Path::new(""), &Hashes::of(b"hello, reliquary").sha256),
        blob_file(Path::new(""), &Hashes::of(b"").sha256),
    ];
    expected.sort();
    assert_eq!(files_under(&b.root), expected);
    Ok(())
}

#[tokio::test]
async fn missing_blobs() -> TestResult {
    let b = backends()?;
    for (name, store) in &b.stores {
        let absent = Hashes::of(b"never stored").sha256;
        assert!(!store.exists(&absent).await?);
        assert!(
            matches!(store.get(&absent, None).await, Err(BlobError::NotFound)),
            "{name}"
        );
        assert!(
            matches!(
                store.get(&absent, Some(0..1)).await,
                Err(BlobError::NotFound)
            ),
            "{name}"
        );
        store.delete(&absent).await?;
        for malformed in ["", "abc", "../../../../etc/passwd", &"A".repeat(64)] {
            assert!(!store.exists(malformed).await?);
            assert!(matches!(
                store.get(malformed, None).await,
                Err(BlobError::NotFound)
            ));
            store.delete(malformed).await?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn range_reads() -> TestResult {
    let b = backends()?;
    // Larger than the local reader's chunk so ranges span several reads.
    let data = pattern(700_000);
    for (name, store) in &b.stores {
        let staged = put(store, &data).await?;
        let sha = staged.sha256();
        for range in [
            0..1,
            0..700_000,
            5..6,
            123..456_789,
            262_143..262_145,
            699_999..700_000,
        ] {
            let got = read_all(store, sha, Some(range.clone())).await?;
            let (s, e) = (range.start as usize, range.end as usize);
            assert_eq!(got, &data[s..e], "{name} {range:?}");
            let reader = store.get(sha, Some(range.clone())).await?;
            assert_eq!(reader.size, 700_000);
            assert_eq!(reader.range, range);
        }
        // An end past the blob is clamped, as in HTTP.
        let reader = store.get(sha, Some(699_000..10_000_000)).await?;
        assert_eq!(reader.range, 699_000..700_000);
        assert_eq!(
            read_all(store, sha, Some(699_000..u64::MAX)).await?,
            &data[699_000..]
        );
        // Ranges that select nothing.
        for range in [700_000..700_001, 800_000..900_000, 10..10] {
            assert!(
                matches!(
                    store.get(sha, Some(range.clone())).await,
                    Err(BlobError::RangeNotSatisfiable { size: 700_000 })
                ),
                "{name} {range:?}"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn too_large_leaves_no_staging_object() -> TestResult {
    let b = backends()?;
    // Several parts are uploaded before the limit trips.
    let data = pattern(10 * SMALL_PART + 17);
    for (name, store) in &b.stores {
        let limit = data.len() as u64 - 1;
        let result = store.put_staged(body(&data, &[10_000]), limit).await;
        assert!(
            matches!(result, Err(BlobError::TooLarge { limit: l }) if l == limit),
            "{name}"
        );
        assert_eq!(store.sweep_staging(Duration::ZERO).await?, 0, "{name}");
        assert!(listed(store).await?.is_empty());

        // Exactly at the limit is fine.
        let staged = store
            .put_staged(body(&data, &[10_000]), data.len() as u64)
            .await?;
        assert_eq!(staged.size, data.len() as u64);
        store.discard(&staged).await?;

        // Limit 0 admits only the empty body.
        assert!(matches!(
            store.put_staged(one_chunk(b"x"), 0).await,
            Err(BlobError::TooLarge { limit: 0 })
        ));
        assert_eq!(store.put_staged(one_chunk(b""), 0).await?.size, 0);
        assert_eq!(store.sweep_staging(Duration::ZERO).await?, 1, "{name}");
    }
    // Not even a multipart temporary is left on disk.
    assert_eq!(files_under(&b.root), Vec::<PathBuf>::new());
    Ok(())
}

#[tokio::test]
async fn body_error_leaves_no_staging_object() -> TestResult {
    let b = backends()?;
    for (name, store) in &b.stores {
        let chunks = vec![
            Ok(Bytes::from(pattern(5 * SMALL_PART + 1))),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "client went away",
            )),
        ];
        let result = store.put_staged(stream::iter(chunks), NO_LIMIT).await;
        assert!(
            matches!(result, Err(BlobError::Body(ref e)) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{name}"
        );
        assert_eq!(store.sweep_staging(Duration::ZERO).await?, 0, "{name}");
    }
    assert_eq!(files_under(&b.root), Vec::<PathBuf>::new());
    Ok(())
}

#[tokio::test]
async fn committing_same_content_twice_keeps_one_blob_and_refreshes_mtime() -> TestResult {
    let b = backends()?;
    let data = pattern(100_000);
    let sha = Hashes::of(&data).sha256;
    for (name, store) in &b.stores {
        put(store, &data).await?;
        let first = listed(store).await?;
        assert_eq!(first.len(), 1, "{name}");

        if *name == "local" {
            // Age the committed copy so a refresh is unmistakable.
            set_mtime(&blob_file(&b.root, &sha), an_hour_ago())?;
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let before = listed(store).await?[0].last_modified;

        // A second upload of the same content, in different chunks.
        let again = store
            .put_staged(body(&data, &[333, 4096]), NO_LIMIT)
            .await?;
        assert_eq!(again.sha256(), sha);
        let commit_time = SystemTime::now();
        store.commit(&again).await?;

        let after = listed(store).await?;
        assert_eq!(after.len(), 1, "{name}: one blob per content");
        assert_eq!(after[0].sha256, sha);
        assert_eq!(after[0].size, data.len() as u64);
        assert!(
            after[0].last_modified > before,
            "{name}: mtime not refreshed"
        );
        if *name == "local" {
            assert!(
                after[0].last_modified + Duration::from_secs(60) > commit_time,
                "{name}"
            );
        }
        assert_eq!(
            store.sweep_staging(Duration::ZERO).await?,
            0,
            "{name}: staging left"
        );
        assert_eq!(read_all(store, &sha, None).await?, data);
    }
    assert_eq!(files_under(&b.root), vec![blob_file(Path::new(""), &sha)]);
    Ok(())
}

#[tokio::test]
async fn a_staged_upload_reads_back_before_it_is_committed() -> TestResult {
    let b = backends()?;
    let data = pattern(200 * 1024);
    for (name, store) in &b.stores {
        let staged = store.put_staged(body(&data, &[7, 4096]), NO_LIMIT).await?;
        let reader = store.get_staged(&staged).await?;
        assert_eq!(reader.size, data.len() as u64, "{name}");
        let chunks: Vec<Bytes> = reader.try_collect().await?;
        assert_eq!(chunks.concat(), data, "{name}");
        assert!(
            !store.exists(staged.sha256()).await?,
            "{name}: reading does not commit"
        );
        store.commit(&staged).await?;
        assert!(
            matches!(store.get_staged(&staged).await, Err(BlobError::NotFound)),
            "{name}: a committed upload is no longer staged"
        );
        let again = store.put_staged(one_chunk(b"discarded"), NO_LIMIT).await?;
        store.discard(&again).await?;
        assert!(
            matches!(store.get_staged(&again).await, Err(BlobError::NotFound)),
            "{name}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn discard_removes_the_staging_object() -> TestResult {
    let b = backends()?;
    for (name, store) in &b.stores {
        let staged = store.put_staged(one_chunk(b"discard me"), NO_LIMIT).await?;
        store.discard(&staged).await?;
        store.discard(&staged).await?; // idempotent
        assert!(!store.exists(staged.sha256()).await?);
        assert_eq!(store.sweep_staging(Duration::ZERO).await?, 0, "{name}");
        // A discarded upload cannot be committed.
        assert!(
            matches!(store.commit(&staged).await, Err(BlobError::NotFound)),
            "{name}"
        );
        assert!(listed(store).await?.is_empty());
    }
    assert_eq!(files_under(&b.root), Vec::<PathBuf>::new());
    Ok(())
}

#[tokio::test]
async fn list_and_delete() -> TestResult {
    let b = backends()?;
    for (name, store) in &b.stores {
        assert!(listed(store).await?.is_empty(), "{name}: empty store");
        let mut expected = Vec::new();
        for i in 0..5usize {
            let data = pattern(i * 1000 + 1);
            let staged = put(store, &data).await?;
            expected.push((staged.hashes.sha256.clone(), data.len() as u64));
        }
        // Staged, uncommitted uploads are not blobs.
        let pending = store.put_staged(one_chunk(b"pending"), NO_LIMIT).await?;
        expected.sort();
        let got: Vec<(String, u64)> = listed(store)
            .await?
            .into_iter()
            .map(|info| (info.sha256, info.size))
            .collect();
        assert_eq!(got, expected, "{name}");

        let (victim, _) = &expected[2];
        store.delete(victim).await?;
        store.delete(victim).await?; // idempotent
        assert!(!store.exists(victim).await?);
        assert_eq!(listed(store).await?.len(), 4, "{name}");

        // Conditional delete for the garbage sweep.
        let (young, _) = &expected[0];
        assert!(
            !store
                .delete_if_unmodified_since(young, an_hour_ago())
                .await?
        );
        assert!(store.exists(young).await?);
        assert!(
            store
                .delete_if_unmodified_since(young, SystemTime::now() + Duration::from_secs(1))
                .await?
        );
        assert!(!store.exists(young).await?);
        assert!(
            !store
                .delete_if_unmodified_since(young, SystemTime::now())
                .await?
        );
        store.discard(&pending).await?;
    }
    Ok(())
}

#[tokio::test]
async fn sweep_staging_removes_only_old_staging_objects() -> TestResult {
    let b = backends()?;
    // Local: age files on disk, including a multipart temporary left by a crash mid-upload.
    let local = BlobStore::local(&b.root)?;
    let old = local.put_staged(one_chunk(b"old"), NO_LIMIT).await?;
    let fresh = local.put_staged(one_chunk(b"fresh"), NO_LIMIT).await?;
    let committed = put(&local, b"committed").await?;
    let staging_dir = b.root.join("staging");
    let staged_files = files_under(&staging_dir);
    assert_eq!(staged_files.len(), 2);
    let crash_leftover = staging_dir.join(format!("{}#1", uuid_like()));
    std::fs::write(&crash_leftover, b"partial")?;
    set_mtime(&crash_leftover, an_hour_ago())?;
    // Find which staging file is `old` by its content.
    for file in &staged_files {
        if std::fs::read(staging_dir.join(file))? == b"old" {
            set_mtime(&staging_dir.join(file), an_hour_ago())?;
        }
    }
    // Old committed blobs are not staging objects.
    set_mtime(&blob_file(&b.root, committed.sha256()), an_hour_ago())?;

    assert_eq!(local.sweep_staging(Duration::from_secs(600)).await?, 2);
    assert!(!crash_leftover.exists());
    assert!(matches!(local.commit(&old).await, Err(BlobError::NotFound)));
    local.commit(&fresh).await?;
    assert!(local.exists(fresh.sha256()).await?);
    assert!(local.exists(committed.sha256()).await?);
    assert_eq!(local.sweep_staging(Duration::ZERO).await?, 0);

    // Memory: ages come from the clock.
    let memory = BlobStore::memory();
    let a = memory.put_staged(one_chunk(b"a"), NO_LIMIT).await?;
    put(&memory, b"kept").await?;
    tokio::time::sleep(Duration::from_millis(30)).await;
    let c = memory.put_staged(one_chunk(b"c"), NO_LIMIT).await?;
    assert_eq!(memory.sweep_staging(Duration::from_secs(3600)).await?, 0);
    assert_eq!(memory.sweep_staging(Duration::from_millis(15)).await?, 1);
    assert!(matches!(memory.commit(&a).await, Err(BlobError::NotFound)));
    memory.commit(&c).await?;
    assert_eq!(listed(&memory).await?.len(), 2);
    Ok(())
}

fn uuid_like() -> String {
    "0b6a4f0e-2d1c-4e57-9a8b-3c2d1e0f9a8b".to_owned()
}

#[tokio::test]
async fn odd_chunking_hashes_like_the_whole_buffer() -> TestResult {
    let b = backends()?;
    // Crosses many part boundaries at odd offsets.
    let data = pattern(17 * SMALL_PART + 12_345);
    let whole = Hashes::of(&data);
    let chunkings: [&[usize]; 5] = [
        &[1, 7, 4093, 65_537, 100_003, 3],
        &[SMALL_PART],
        &[SMALL_PART + 1],
        &[300_000],
        &[usize::MAX],
    ];
    for (name, store) in &b.stores {
        for sizes in chunkings {
            let staged = store.put_staged(body(&data, sizes), NO_LIMIT).await?;
            assert_eq!(staged.hashes, whole, "{name} {sizes:?}");
            assert_eq!(staged.size, data.len() as u64);
            store.commit(&staged).await?;
        }
        let back = read_all(store, &whole.sha256, None).await?;
        assert!(back == data, "{name}: content differs");
        assert_eq!(Hashes::of(&back), whole);
        assert_eq!(listed(store).await?.len(), 1);
    }
    Ok(())
}

#[tokio::test]
async fn urls_and_ping() -> TestResult {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("via-url");
    let url = format!("file://{}", root.display());
    let store = BlobStore::from_url(&url, &S3Settings::default())?;
    assert!(root.is_dir(), "file:// store creates its directory");
    store.ping().await?;
    let staged = put(&store, b"via url").await?;
    assert!(blob_file(&std::fs::canonicalize(&root)?, staged.sha256()).is_file());

    let memory = BlobStore::from_url("memory://", &S3Settings::default())?;
    memory.ping().await?;

    std::fs::remove_dir_all(&root)?;
    assert!(matches!(store.ping().await, Err(BlobError::Unavailable(_))));
    Ok(())
}

#[tokio::test]
async fn default_part_size_boundary() -> TestResult {
    // One upload across the real 8 MiB part boundary, in odd chunks, on the local store.
    let dir = tempfile::tempdir()?;
    let store = BlobStore::local(dir.path())?;
    let data = pattern(reliquary_blob::DEFAULT_PART_SIZE + 4099);
    let staged = store
        .put_staged(body(&data, &[1_000_003, 7, 65_537]), NO_LIMIT)
        .await?;
    assert_eq!(staged.size, data.len() as u64);
    store.commit(&staged).await?;
    let back = read_all(&store, staged.sha256(), None).await?;
    assert!(back == data, "content differs");
    assert_eq!(staged.hashes, Hashes::of(&data));
    Ok(())
}

#[tokio::test]
async fn small_blobs_read_again_from_memory_answer_as_from_disk() -> TestResult {
    let b = backends()?;
    let data = pattern(10_000);
    for (name, store) in &b.stores {
        let sha = put(store, &data).await?.sha256().to_owned();
        // A partial read first must not leave a partial blob behind for whole reads.
        assert_eq!(
            read_all(store, &sha, Some(0..10)).await?,
            &data[..10],
            "{name}"
        );
        for _ in 0..2 {
            assert_eq!(read_all(store, &sha, None).await?, data, "{name}");
            assert_eq!(
                read_all(store, &sha, Some(9_990..20_000)).await?,
                &data[9_990..],
                "{name}"
            );
            assert!(matches!(
                store.get(&sha, Some(10_000..10_001)).await,
                Err(BlobError::RangeNotSatisfiable { size: 10_000 })
            ));
        }
        // Deleted is gone, from memory too.
        store.delete(&sha).await?;
        assert!(
            matches!(store.get(&sha, None).await, Err(BlobError::NotFound)),
            "{name}"
        );
    }
    Ok(())
}
