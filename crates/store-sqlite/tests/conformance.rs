//! The store conformance suite on SQLite: a fresh database file per case.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reliquary_store::conformance::{self, Fixture};
use reliquary_store::{KeyStore, Store};
use reliquary_store_sqlite::SqliteStore;
use sqlx::Connection as _;
use sqlx::sqlite::SqliteConnection;

struct SqliteFixture {
    path: PathBuf,
    store: Arc<SqliteStore>,
}

impl Fixture for SqliteFixture {
    async fn setup() -> Self {
        let path = std::env::temp_dir().join(format!("reliquary-test-{}.db", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}", path.display());
        let store = SqliteStore::connect(&url)
            .await
            .expect("open SQLite test database");
        Self {
            path,
            store: Arc::new(store),
        }
    }

    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn teardown(self) {
        self.store.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            // Absent files (no WAL left behind) are fine.
            let _ = std::fs::remove_file(file);
        }
    }
}

reliquary_store::conformance_tests!(SqliteFixture);

/// Links `cc -> aa` behind the store's back (it refuses to make a cycle itself).
const CLOSE_THE_CYCLE: &str = "INSERT INTO repository_upstreams (repository_id, position, upstream_id) \
     SELECT c.id, 0, a.id FROM repositories a JOIN repositories c ON c.domain_id = a.domain_id \
     WHERE a.name = 'aa' AND c.name = 'cc'";

#[tokio::test]
async fn upstream_closure_survives_a_cycle() {
    let fixture = SqliteFixture::setup().await;
    let store = fixture.store();
    let domain = conformance::upstream_chain_for_a_cycle(&*store).await;
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", fixture.path.display()))
        .await
        .expect("open a second connection");
    sqlx::query(CLOSE_THE_CYCLE)
        .execute(&mut conn)
        .await
        .expect("link cc -> aa");
    conn.close().await.expect("close the second connection");
    conformance::upstream_closure_survives_a_cycle(&*store, &domain).await;
    fixture.teardown().await;
}

fn migration_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read migrations directory")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn migrations_match_postgres() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sqlite = migration_names(&here.join("migrations"));
    let postgres = migration_names(&here.join("../store-postgres/migrations"));
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
}

#[tokio::test]
async fn in_memory_database_is_shared() {
    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("open in-memory database");
    let key = store.signing_key("p", b"k").await.expect("key");
    // Several reads at once all see the one database.
    let reads = (0..4).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.signing_key("p", b"other").await })
    });
    for read in reads {
        assert_eq!(read.await.expect("task").expect("key"), key);
    }
    store.ping().await.expect("ping");
}

#[tokio::test]
async fn reopening_keeps_data_and_migrations_are_idempotent() {
    let path = std::env::temp_dir().join(format!("reliquary-test-{}.db", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::connect(&url).await.expect("create");
    store.signing_key("p", b"first").await.expect("key");
    store.migrate().await.expect("migrate again");
    store.close().await;
    let store = SqliteStore::connect(&url).await.expect("reopen");
    assert_eq!(
        store.signing_key("p", b"second").await.expect("key"),
        b"first"
    );
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
    store.close().await;
    assert!(matches!(
        store.ping().await,
        Err(reliquary_store::StoreError::Unavailable(_))
    ));
}
