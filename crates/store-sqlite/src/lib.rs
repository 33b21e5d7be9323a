//! The SQLite backend of the metadata store (`reliquary_store` traits).
//!
//! One writer connection (a pool of size 1) serves every write transaction, opened with
//! `BEGIN IMMEDIATE` so a transaction holds the write lock from its first statement and never has
//! to upgrade a read lock; a pool of four connections serves reads, each read a deferred
//! transaction for a consistent snapshot. The database runs in WAL mode, so readers never block
//! the writer. An in-memory database (`sqlite::memory:`) uses one connection for everything.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use reliquary_store::sql::{
    ClosureRow, RepositoryRow, WriteTx, closure_repositories, corrupt, upstream_closure_depth,
};
use reliquary_store::{
    Domain, DomainKey, DomainStore, KeyStore, NewDomain, NewRepository, Repository,
    RepositoryCursor, RepositoryFilter, RepositoryKey, RepositoryStore, RepositoryUpdate,
    ResourceKind, Result, Store, StoreError, SweepLease, Tag, TagStore, TaggedResource,
};
use reliquary_types::{AccountId, DomainName, RepositoryName, Timestamp, find_cycle};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, Transaction};

mod packages;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

const READERS: u32 = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The metadata store on a SQLite database file (or in memory).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    changes: Arc<AtomicU64>,
    /// Held by the running garbage sweep.
    sweeping: Arc<tokio::sync::Mutex<()>>,
}

/// Makes the database file and its WAL and shared-memory files readable by their owner only
/// (0600): the database holds the token signing key. SQLite creates later WAL files with the
/// database file's mode.
fn restrict_to_owner(database: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    for suffix in ["", "-wal", "-shm"] {
        let mut path = database.as_os_str().to_owned();
        path.push(suffix);
        match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot make {} private (0600): {e}",
                    std::path::Path::new(&path).display()
                )));
            }
        }
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` — `sqlite:///abs/path.db`,
    /// `sqlite://relative.db` or `sqlite::memory:` — and applies pending migrations. The
    /// database's files are made private to their owner (0600).
    ///
    /// # Errors
    /// `Unavailable` if the database cannot be opened, `Internal` if the URL is malformed or a
    /// migration fails.
    pub async fn connect(url: &str) -> Result<Self> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(format!("invalid SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Normal);
        let store = if in_memory {
            // An in-memory database lives as long as a connection to it: keep exactly one open.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options.journal_mode(SqliteJournalMode::Memory))
                .await
                .map_err(db_err)?;
            Self {
                writer: pool.clone(),
                reader: pool,
                changes: Arc::default(),
                sweeping: Arc::default(),
            }
        } else {
            let options = options.journal_mode(SqliteJournalMode::Wal);
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await
                .map_err(db_err)?;
            restrict_to_owner(options.get_filename())?;
            let reader = SqlitePoolOptions::new()
                .max_connections(READERS)
                .connect_with(options)
                .await
                .map_err(db_err)?;
            Self {
                writer,
                reader,
                changes: Arc::default(),
                sweeping: Arc::default(),
            }
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations (idempotent; [`SqliteStore::connect`] already calls it).
    ///
    /// # Errors
    /// `Internal` if a migration fails, `Unavailable` if the database cannot be reached.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.writer).await.map_err(migrate_err)
    }

    /// Closes every connection; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    async fn write(&self) -> Result<WriteTx<Sqlite>> {
        let tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)?;
        Ok(WriteTx::new(tx, Arc::clone(&self.changes)))
    }

    async fn read(&self) -> Result<Transaction<'static, Sqlite>> {
        self.reader.begin().await.map_err(db_err)
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) => {
            let code = db
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .unwrap_or_default();
            match code & 0xff {
                // SQLITE_BUSY, SQLITE_LOCKED: another writer held the lock past busy_timeout.
                5 | 6 => StoreError::Contention,
                // SQLITE_CANTOPEN, SQLITE_NOTADB
                14 | 26 => StoreError::Unavailable(db.to_string()),
                // A unique key taken by a concurrent writer despite the checks before it.
                _ if db.is_unique_violation() => StoreError::Contention,
                _ => StoreError::Internal(db.to_string()),
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        other => StoreError::Internal(other.to_string()),
    }
}

/// Maps a unique violation of an insert to `AlreadyExists` of what was inserted.
fn insert_err(kind: ResourceKind, id: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists {
            kind,
            id: id.to_owned(),
        },
        _ => db_err(e),
    }
}

fn migrate_err(e: sqlx::migrate::MigrateError) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::Execute(e) => match db_err(e) {
            StoreError::Unavailable(m) => StoreError::Unavailable(m),
            other => StoreError::Internal(format!("migration failed: {other}")),
        },
        other => StoreError::Internal(format!("migration failed: {other}")),
    }
}

fn domain_not_found(key: &DomainKey) -> StoreError {
    StoreError::NotFound {
        kind: ResourceKind::Domain,
        id: key.name.to_string(),
    }
}

fn repository_not_found(name: &RepositoryName) -> StoreError {
    StoreError::NotFound {
        kind: ResourceKind::Repository,
        id: name.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Rows

#[derive(sqlx::FromRow)]
struct DomainRow {
    id: i64,
    owner: String,
    name: String,
    encryption_key: String,
    created_ms: i64,
    repository_count: i64,
    asset_size_bytes: i64,
}

impl DomainRow {
    fn key(&self) -> Result<DomainKey> {
        Ok(DomainKey {
            owner: AccountId::parse(&self.owner).map_err(|e| corrupt("domain owner", e))?,
            name: DomainName::parse(&self.name).map_err(|e| corrupt("domain name", e))?,
        })
    }

    fn into_domain(self) -> Result<Domain> {
        Ok(Domain {
            key: self.key()?,
            encryption_key: self.encryption_key,
            created: Timestamp(self.created_ms),
            repository_count: self.repository_count,
            asset_size_bytes: self.asset_size_bytes,
        })
    }
}

const DOMAIN_SELECT: &str = "SELECT d.id, d.owner, d.name, d.encryption_key, d.created_ms, \
     (SELECT COUNT(*) FROM repositories r WHERE r.domain_id = d.id) AS repository_count, \
     (SELECT COALESCE(SUM(a.size), 0) FROM assets a WHERE a.domain_id = d.id) AS asset_size_bytes \
     FROM domains d";

/// The same columns without the domain's asset total, which grows with the domain: the lookup
/// every operation makes (only DescribeDomain shows the total).
const DOMAIN_LOOKUP: &str = "SELECT d.id, d.owner, d.name, d.encryption_key, d.created_ms, \
     (SELECT COUNT(*) FROM repositories r WHERE r.domain_id = d.id) AS repository_count, \
     0 AS asset_size_bytes \
     FROM domains d";

const REPOSITORY_SELECT: &str = "SELECT r.id, d.owner AS domain_owner, d.name AS domain_name, \
     r.name, r.administrator_account, r.description, r.created_ms \
     FROM repositories r JOIN domains d ON d.id = r.domain_id";

/// A repository (bound: domain owner, domain name, repository name) and the repositories its
/// upstream links reach, transitively, within a number of links (bound fourth). The recursion
/// walks (repository, distance) pairs, each once (UNION), so it ends at the limit even through a
/// cycle. Each repository of the closure comes in one row per upstream (one with nulls when it
/// has none), with its external connection ([`reliquary_store::sql::ClosureRow`]).
const UPSTREAM_CLOSURE: &str = "WITH RECURSIVE reach (id, depth) AS ( \
         SELECT r.id, 0 FROM repositories r JOIN domains d ON d.id = r.domain_id \
         WHERE d.owner = ? AND d.name = ? AND r.name = ? \
         UNION \
         SELECT u.upstream_id, reach.depth + 1 \
         FROM reach JOIN repository_upstreams u ON u.repository_id = reach.id \
         WHERE reach.depth < ? \
     ) \
     SELECT r.id, d.owner AS domain_owner, d.name AS domain_name, r.name, \
     r.administrator_account, r.description, r.created_ms, \
     u.position AS upstream_position, t.name AS upstream, c.name AS external_connection \
     FROM (SELECT DISTINCT id FROM reach) AS reached \
     JOIN repositories r ON r.id = reached.id \
     JOIN domains d ON d.id = r.domain_id \
     LEFT JOIN repository_upstreams u ON u.repository_id = r.id \
     LEFT JOIN repositories t ON t.id = u.upstream_id \
     LEFT JOIN repository_external_connections c ON c.repository_id = r.id";

// ---------------------------------------------------------------------------------------------
// Queries shared by the operations

async fn find_domain(conn: &mut SqliteConnection, key: &DomainKey) -> Result<Option<DomainRow>> {
    sqlx::query_as::<_, DomainRow>(&format!("{DOMAIN_LOOKUP} WHERE d.owner = ? AND d.name = ?"))
        .bind(key.owner.as_str())
        .bind(key.name.as_str())
        .fetch_optional(conn)
        .await
        .map_err(db_err)
}

async fn find_domain_totals(
    conn: &mut SqliteConnection,
    key: &DomainKey,
) -> Result<Option<DomainRow>> {
    sqlx::query_as::<_, DomainRow>(&format!("{DOMAIN_SELECT} WHERE d.owner = ? AND d.name = ?"))
        .bind(key.owner.as_str())
        .bind(key.name.as_str())
        .fetch_optional(conn)
        .await
        .map_err(db_err)
}

async fn require_domain(conn: &mut SqliteConnection, key: &DomainKey) -> Result<DomainRow> {
    find_domain(conn, key)
        .await?
        .ok_or_else(|| domain_not_found(key))
}

async fn find_repository(
    conn: &mut SqliteConnection,
    domain_id: i64,
    name: &str,
) -> Result<Option<RepositoryRow>> {
    sqlx::query_as::<_, RepositoryRow>(&format!(
        "{REPOSITORY_SELECT} WHERE r.domain_id = ? AND r.name = ?"
    ))
    .bind(domain_id)
    .bind(name)
    .fetch_optional(conn)
    .await
    .map_err(db_err)
}

/// The domain's row and the repository's row; `NotFound` (domain, then repository) otherwise.
async fn require_repository(
    conn: &mut SqliteConnection,
    domain: &DomainKey,
    name: &RepositoryName,
) -> Result<(DomainRow, RepositoryRow)> {
    let domain_row = require_domain(conn, domain).await?;
    let row = find_repository(conn, domain_row.id, name.as_str())
        .await?
        .ok_or_else(|| repository_not_found(name))?;
    Ok((domain_row, row))
}

/// Completes repository rows with their ordered upstreams and external connections.
async fn load_repositories(
    conn: &mut SqliteConnection,
    rows: Vec<RepositoryRow>,
) -> Result<Vec<Repository>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut upstreams: HashMap<i64, Vec<String>> = HashMap::new();
    let mut connections: HashMap<i64, Vec<String>> = HashMap::new();

    let mut q = QueryBuilder::<Sqlite>::new(
        "SELECT u.repository_id, t.name FROM repository_upstreams u \
         JOIN repositories t ON t.id = u.upstream_id WHERE u.repository_id IN (",
    );
    let mut ids = q.separated(", ");
    for row in &rows {
        ids.push_bind(row.id);
    }
    q.push(") ORDER BY u.repository_id, u.position");
    let pairs: Vec<(i64, String)> = q
        .build_query_as()
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    for (id, name) in pairs {
        upstreams.entry(id).or_default().push(name);
    }

    let mut q = QueryBuilder::<Sqlite>::new(
        "SELECT repository_id, name FROM repository_external_connections \
         WHERE repository_id IN (",
    );
    let mut ids = q.separated(", ");
    for row in &rows {
        ids.push_bind(row.id);
    }
    q.push(") ORDER BY repository_id, name");
    let pairs: Vec<(i64, String)> = q
        .build_query_as()
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    for (id, name) in pairs {
        connections.entry(id).or_default().push(name);
    }

    rows.into_iter()
        .map(|row| {
            let upstreams = upstreams.remove(&row.id).unwrap_or_default();
            let connections = connections.remove(&row.id).unwrap_or_default();
            row.into_repository(upstreams, connections)
        })
        .collect()
}

async fn load_repository(conn: &mut SqliteConnection, row: RepositoryRow) -> Result<Repository> {
    load_repositories(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| StoreError::Internal("repository vanished while loading".to_owned()))
}

async fn reload_repository(
    conn: &mut SqliteConnection,
    domain_id: i64,
    name: &str,
) -> Result<Repository> {
    let row = find_repository(conn, domain_id, name)
        .await?
        .ok_or_else(|| StoreError::Internal("repository vanished while loading".to_owned()))?;
    load_repository(conn, row).await
}

/// The ids of `names` in the domain, in order; `UpstreamNotFound` for the first one missing.
async fn resolve_upstreams(
    conn: &mut SqliteConnection,
    domain_id: i64,
    names: &[RepositoryName],
) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        let id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM repositories WHERE domain_id = ? AND name = ?")
                .bind(domain_id)
                .bind(name.as_str())
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
        ids.push(id.ok_or_else(|| StoreError::UpstreamNotFound(name.to_string()))?);
    }
    Ok(ids)
}

async fn insert_upstreams(
    conn: &mut SqliteConnection,
    repository_id: i64,
    upstream_ids: &[i64],
) -> Result<()> {
    for (position, upstream_id) in (0_i64..).zip(upstream_ids) {
        sqlx::query(
            "INSERT INTO repository_upstreams (repository_id, position, upstream_id) \
             VALUES (?, ?, ?)",
        )
        .bind(repository_id)
        .bind(position)
        .bind(upstream_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

/// Every repository of the domain with its ordered upstreams.
async fn upstream_graph(
    conn: &mut SqliteConnection,
    domain_id: i64,
) -> Result<BTreeMap<String, Vec<String>>> {
    let edges: Vec<(String, String)> = sqlx::query_as(
        "SELECT r.name, t.name FROM repository_upstreams u \
         JOIN repositories r ON r.id = u.repository_id \
         JOIN repositories t ON t.id = u.upstream_id \
         WHERE r.domain_id = ? ORDER BY r.name, u.position",
    )
    .bind(domain_id)
    .fetch_all(conn)
    .await
    .map_err(db_err)?;
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (from, to) in edges {
        graph.entry(from).or_default().push(to);
    }
    Ok(graph)
}

/// Where a resource's tags live.
#[derive(Clone, Copy)]
enum TagOwner {
    Domain(i64),
    Repository(i64),
}

impl TagOwner {
    fn table_and_column(self) -> (&'static str, &'static str, i64) {
        match self {
            Self::Domain(id) => ("domain_tags", "domain_id", id),
            Self::Repository(id) => ("repository_tags", "repository_id", id),
        }
    }
}

async fn resolve_tagged(
    conn: &mut SqliteConnection,
    resource: &TaggedResource,
) -> Result<TagOwner> {
    match resource {
        TaggedResource::Domain(key) => Ok(TagOwner::Domain(require_domain(conn, key).await?.id)),
        TaggedResource::Repository(key, name) => {
            let (_, row) = require_repository(conn, key, name).await?;
            Ok(TagOwner::Repository(row.id))
        }
    }
}

async fn upsert_tags(conn: &mut SqliteConnection, owner: TagOwner, tags: &[Tag]) -> Result<()> {
    let (table, column, id) = owner.table_and_column();
    let sql = format!(
        "INSERT INTO {table} ({column}, key, value) VALUES (?, ?, ?) \
         ON CONFLICT ({column}, key) DO UPDATE SET value = excluded.value"
    );
    for tag in tags {
        sqlx::query(&sql)
            .bind(id)
            .bind(&tag.key)
            .bind(&tag.value)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

async fn count_tags(conn: &mut SqliteConnection, owner: TagOwner) -> Result<i64> {
    let (table, column, id) = owner.table_and_column();
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {column} = ?"))
        .bind(id)
        .fetch_one(conn)
        .await
        .map_err(db_err)
}

// ---------------------------------------------------------------------------------------------
// The traits

#[async_trait]
impl DomainStore for SqliteStore {
    async fn create_domain(&self, domain: NewDomain) -> Result<Domain> {
        let mut tx = self.write().await?;
        if find_domain(&mut tx, &domain.key).await?.is_some() {
            return Err(StoreError::AlreadyExists {
                kind: ResourceKind::Domain,
                id: domain.key.name.to_string(),
            });
        }
        let owned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM domains WHERE owner = ?")
            .bind(domain.key.owner.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        if owned >= i64::from(domain.max_domains_per_account) {
            return Err(StoreError::QuotaExceeded {
                kind: ResourceKind::Domain,
                limit: domain.max_domains_per_account,
            });
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO domains (owner, name, encryption_key, created_ms) \
             VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(domain.key.owner.as_str())
        .bind(domain.key.name.as_str())
        .bind(&domain.encryption_key)
        .bind(domain.created.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(insert_err(ResourceKind::Domain, domain.key.name.as_str()))?;
        upsert_tags(&mut tx, TagOwner::Domain(id), &domain.tags).await?;
        let created = require_domain(&mut tx, &domain.key).await?.into_domain()?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn domain(&self, key: &DomainKey) -> Result<Option<Domain>> {
        let mut tx = self.read().await?;
        find_domain_totals(&mut tx, key)
            .await?
            .map(DomainRow::into_domain)
            .transpose()
    }

    async fn list_domains(
        &self,
        owner: &AccountId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Domain>> {
        let mut tx = self.read().await?;
        let mut q = QueryBuilder::<Sqlite>::new(DOMAIN_SELECT);
        q.push(" WHERE d.owner = ").push_bind(owner.as_str());
        if let Some(after) = after {
            q.push(" AND d.name > ").push_bind(after);
        }
        q.push(" ORDER BY d.name LIMIT ")
            .push_bind(i64::from(limit));
        let rows: Vec<DomainRow> = q
            .build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(DomainRow::into_domain).collect()
    }

    async fn delete_domain(&self, key: &DomainKey) -> Result<Domain> {
        let mut tx = self.write().await?;
        let row = require_domain(&mut tx, key).await?;
        if row.repository_count > 0 {
            return Err(StoreError::DomainNotEmpty {
                domain: key.name.to_string(),
                count: row.repository_count,
            });
        }
        // No repositories, so no version references any asset row left in the domain.
        packages::remove_unreferenced_domain_assets(&mut tx, row.id).await?;
        sqlx::query("DELETE FROM domains WHERE id = ?")
            .bind(row.id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let deleted = row.into_domain()?;
        tx.commit().await.map_err(db_err)?;
        Ok(deleted)
    }
}

#[async_trait]
impl RepositoryStore for SqliteStore {
    async fn create_repository(&self, repository: NewRepository) -> Result<Repository> {
        let mut tx = self.write().await?;
        let domain = require_domain(&mut tx, &repository.domain).await?;
        if find_repository(&mut tx, domain.id, repository.name.as_str())
            .await?
            .is_some()
        {
            return Err(StoreError::AlreadyExists {
                kind: ResourceKind::Repository,
                id: repository.name.to_string(),
            });
        }
        let upstream_ids = resolve_upstreams(&mut tx, domain.id, &repository.upstreams).await?;
        if domain.repository_count >= i64::from(repository.max_repositories_per_domain) {
            return Err(StoreError::QuotaExceeded {
                kind: ResourceKind::Repository,
                limit: repository.max_repositories_per_domain,
            });
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO repositories \
             (domain_id, name, administrator_account, description, created_ms) \
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(domain.id)
        .bind(repository.name.as_str())
        .bind(repository.administrator_account.as_str())
        .bind(repository.description.as_deref())
        .bind(repository.created.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(insert_err(
            ResourceKind::Repository,
            repository.name.as_str(),
        ))?;
        insert_upstreams(&mut tx, id, &upstream_ids).await?;
        upsert_tags(&mut tx, TagOwner::Repository(id), &repository.tags).await?;
        let created = reload_repository(&mut tx, domain.id, repository.name.as_str()).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn repository(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
    ) -> Result<Option<Repository>> {
        let mut tx = self.read().await?;
        let Some(domain_row) = find_domain(&mut tx, domain).await? else {
            return Ok(None);
        };
        match find_repository(&mut tx, domain_row.id, name.as_str()).await? {
            Some(row) => Ok(Some(load_repository(&mut tx, row).await?)),
            None => Ok(None),
        }
    }

    async fn upstream_closure(&self, start: &RepositoryKey) -> Result<Vec<Repository>> {
        let mut tx = self.read().await?;
        let rows: Vec<ClosureRow> = sqlx::query_as(UPSTREAM_CLOSURE)
            .bind(start.domain.owner.as_str())
            .bind(start.domain.name.as_str())
            .bind(start.name.as_str())
            .bind(upstream_closure_depth())
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        closure_repositories(rows)
    }

    async fn update_repository(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
        update: RepositoryUpdate,
    ) -> Result<Repository> {
        let mut tx = self.write().await?;
        let (domain_row, row) = require_repository(&mut tx, domain, name).await?;
        if let Some(upstreams) = &update.upstreams {
            if upstreams.contains(name) {
                return Err(StoreError::UpstreamCycle(vec![
                    name.to_string(),
                    name.to_string(),
                ]));
            }
            let upstream_ids = resolve_upstreams(&mut tx, domain_row.id, upstreams).await?;
            let mut graph = upstream_graph(&mut tx, domain_row.id).await?;
            graph.insert(
                name.to_string(),
                upstreams.iter().map(ToString::to_string).collect(),
            );
            if let Some(cycle) = find_cycle(&graph, name.as_str()) {
                return Err(StoreError::UpstreamCycle(cycle));
            }
            sqlx::query("DELETE FROM repository_upstreams WHERE repository_id = ?")
                .bind(row.id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            insert_upstreams(&mut tx, row.id, &upstream_ids).await?;
        }
        if let Some(description) = &update.description {
            sqlx::query("UPDATE repositories SET description = ? WHERE id = ?")
                .bind(description.as_deref())
                .bind(row.id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        let updated = reload_repository(&mut tx, domain_row.id, name.as_str()).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(updated)
    }

    async fn delete_repository(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
    ) -> Result<Repository> {
        let mut tx = self.write().await?;
        let (_, row) = require_repository(&mut tx, domain, name).await?;
        let downstreams: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT r.name FROM repository_upstreams u \
             JOIN repositories r ON r.id = u.repository_id \
             WHERE u.upstream_id = ? ORDER BY r.name",
        )
        .bind(row.id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        if !downstreams.is_empty() {
            return Err(StoreError::RepositoryIsUpstream {
                repository: name.to_string(),
                downstreams,
            });
        }
        let id = row.id;
        let deleted = load_repository(&mut tx, row).await?;
        let released = packages::asset_ids_of_repository(&mut tx, id).await?;
        // Cascades to its packages, versions, asset references and dist-tags.
        sqlx::query("DELETE FROM repositories WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        packages::remove_unreferenced_assets(&mut tx, &released).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(deleted)
    }

    async fn list_repositories(
        &self,
        filter: &RepositoryFilter,
        after: Option<&RepositoryCursor>,
        limit: u32,
    ) -> Result<Vec<Repository>> {
        let mut tx = self.read().await?;
        let mut q = QueryBuilder::<Sqlite>::new(REPOSITORY_SELECT);
        q.push(" WHERE 1 = 1");
        if let Some(domain) = &filter.domain {
            q.push(" AND d.owner = ").push_bind(domain.owner.as_str());
            q.push(" AND d.name = ").push_bind(domain.name.as_str());
        }
        if let Some(administrator) = &filter.administrator {
            q.push(" AND r.administrator_account = ")
                .push_bind(administrator.as_str());
        }
        if let Some(prefix) = &filter.name_prefix {
            // A range start for the index plus an exact prefix test: `_` and `%` stay literal.
            q.push(" AND r.name >= ").push_bind(prefix.as_str());
            q.push(" AND substr(r.name, 1, length(")
                .push_bind(prefix.as_str())
                .push(")) = ")
                .push_bind(prefix.as_str());
        }
        if let Some(cursor) = after {
            q.push(" AND (r.name, d.owner, d.name) > (")
                .push_bind(cursor.name.as_str())
                .push(", ")
                .push_bind(cursor.domain_owner.as_str())
                .push(", ")
                .push_bind(cursor.domain_name.as_str())
                .push(")");
        }
        q.push(" ORDER BY r.name, d.owner, d.name LIMIT ")
            .push_bind(i64::from(limit));
        let rows: Vec<RepositoryRow> = q
            .build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        load_repositories(&mut tx, rows).await
    }

    async fn associate_external_connection(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
        connection: &str,
    ) -> Result<Repository> {
        let mut tx = self.write().await?;
        let (domain_row, row) = require_repository(&mut tx, domain, name).await?;
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT name FROM repository_external_connections WHERE repository_id = ?",
        )
        .bind(row.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(existing) = existing {
            return Err(StoreError::ExternalConnectionExists(existing));
        }
        sqlx::query(
            "INSERT INTO repository_external_connections (repository_id, name) VALUES (?, ?)",
        )
        .bind(row.id)
        .bind(connection)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let updated = reload_repository(&mut tx, domain_row.id, name.as_str()).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(updated)
    }

    async fn disassociate_external_connection(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
        connection: &str,
    ) -> Result<Repository> {
        let mut tx = self.write().await?;
        let (domain_row, row) = require_repository(&mut tx, domain, name).await?;
        let removed = sqlx::query(
            "DELETE FROM repository_external_connections WHERE repository_id = ? AND name = ?",
        )
        .bind(row.id)
        .bind(connection)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if removed == 0 {
            return Err(StoreError::NotFound {
                kind: ResourceKind::Repository,
                id: connection.to_owned(),
            });
        }
        let updated = reload_repository(&mut tx, domain_row.id, name.as_str()).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(updated)
    }
}

#[async_trait]
impl TagStore for SqliteStore {
    async fn tags(&self, resource: &TaggedResource) -> Result<Vec<Tag>> {
        let mut tx = self.read().await?;
        let owner = resolve_tagged(&mut tx, resource).await?;
        let (table, column, id) = owner.table_and_column();
        let rows: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT key, value FROM {table} WHERE {column} = ? ORDER BY key"
        ))
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(key, value)| Tag { key, value })
            .collect())
    }

    async fn tag_resource(
        &self,
        resource: &TaggedResource,
        tags: &[Tag],
        max_tags: u32,
    ) -> Result<()> {
        let mut tx = self.write().await?;
        let owner = resolve_tagged(&mut tx, resource).await?;
        upsert_tags(&mut tx, owner, tags).await?;
        if count_tags(&mut tx, owner).await? > i64::from(max_tags) {
            // Dropping the transaction rolls the upserts back.
            return Err(StoreError::QuotaExceeded {
                kind: ResourceKind::Tag,
                limit: max_tags,
            });
        }
        tx.commit().await.map_err(db_err)
    }

    async fn untag_resource(&self, resource: &TaggedResource, keys: &[String]) -> Result<()> {
        let mut tx = self.write().await?;
        let owner = resolve_tagged(&mut tx, resource).await?;
        let (table, column, id) = owner.table_and_column();
        let sql = format!("DELETE FROM {table} WHERE {column} = ? AND key = ?");
        for key in keys {
            sqlx::query(&sql)
                .bind(id)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn signing_key(&self, purpose: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO signing_keys (purpose, key) VALUES (?, ?) ON CONFLICT (purpose) DO NOTHING")
            .bind(purpose)
            .bind(candidate)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let key: Vec<u8> = sqlx::query_scalar("SELECT key FROM signing_keys WHERE purpose = ?")
            .bind(purpose)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(key)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn try_sweep_lease(&self) -> Result<Option<SweepLease>> {
        // One process owns an SQLite database (with local files): a lock in this process.
        Ok(Arc::clone(&self.sweeping)
            .try_lock_owned()
            .ok()
            .map(SweepLease::new))
    }
}
