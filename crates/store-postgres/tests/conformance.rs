//! The store conformance suite on PostgreSQL: a fresh database per case.
//!
//! Connects to `RELIQUARY_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//! creates `reliquary_t_<random>` for each case and drops it afterwards. PostgreSQL is expected
//! to be running: when it is unreachable these tests fail rather than skip.

use std::path::Path;
use std::sync::Arc;

use reliquary_store::conformance::{self, Fixture};
use reliquary_store::{KeyStore, Store, StoreError};
use reliquary_store_postgres::PostgresStore;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn admin_url() -> String {
    std::env::var("RELIQUARY_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

async fn admin() -> PgConnection {
    let url = admin_url();
    PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must be reachable at {url}: {e}"))
}

struct TestDatabase {
    name: String,
}

impl TestDatabase {
    async fn create() -> Self {
        let name = format!("reliquary_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin().await;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        conn.close().await.expect("close admin connection");
        Self { name }
    }

    fn url(&self) -> String {
        with_database(&admin_url(), &self.name)
    }

    async fn drop_database(self) {
        let mut conn = admin().await;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await
        .expect("drop test database");
        conn.close().await.expect("close admin connection");
    }
}

struct PostgresFixture {
    database: TestDatabase,
    store: Arc<PostgresStore>,
}

impl Fixture for PostgresFixture {
    async fn setup() -> Self {
        let database = TestDatabase::create().await;
        let store = PostgresStore::connect(&database.url())
            .await
            .expect("connect to the test database");
        Self {
            database,
            store: Arc::new(store),
        }
    }

    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn teardown(self) {
        self.store.close().await;
        self.database.drop_database().await;
    }
}

reliquary_store::conformance_tests!(PostgresFixture);

/// Links `cc -> aa` behind the store's back (it refuses to make a cycle itself).
const CLOSE_THE_CYCLE: &str = "INSERT INTO repository_upstreams (repository_id, position, upstream_id) \
     SELECT c.id, 0, a.id FROM repositories a JOIN repositories c ON c.domain_id = a.domain_id \
     WHERE a.name = 'aa' AND c.name = 'cc'";

#[tokio::test]
async fn upstream_closure_survives_a_cycle() {
    let fixture = PostgresFixture::setup().await;
    let store = fixture.store();
    let domain = conformance::upstream_chain_for_a_cycle(&*store).await;
    let mut conn = PgConnection::connect(&fixture.database.url())
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
fn migrations_match_sqlite() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let postgres = migration_names(&here.join("migrations"));
    let sqlite = migration_names(&here.join("../store-sqlite/migrations"));
    assert!(!postgres.is_empty());
    assert_eq!(postgres, sqlite);
}

#[test]
fn test_urls_replace_the_database() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "x"),
        "postgres://h:5432/x"
    );
}

#[tokio::test]
async fn two_stores_on_one_database_share_state() {
    let database = TestDatabase::create().await;
    let url = database.url();
    // Two "processes" connecting (and migrating) at once.
    let (a, b) = tokio::join!(PostgresStore::connect(&url), PostgresStore::connect(&url));
    let (a, b) = (a.expect("connect a"), b.expect("connect b"));
    let key = a.signing_key("auth-token", b"from a").await.expect("key");
    assert_eq!(
        b.signing_key("auth-token", b"from b").await.expect("key"),
        key
    );
    b.migrate().await.expect("migrations are idempotent");
    a.close().await;
    b.close().await;
    database.drop_database().await;
}

#[tokio::test]
async fn unreachable_server_is_unavailable() {
    // Nothing listens on port 1.
    let result = PostgresStore::connect("postgres://postgres@127.0.0.1:1/none").await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let database = TestDatabase::create().await;
    let store = PostgresStore::connect(&database.url())
        .await
        .expect("connect");
    store.close().await;
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    database.drop_database().await;
}
