//! The PostgreSQL backend of the metadata store (`reliquary_store` traits).
//!
//! Several server processes may share one database, so every write transaction that checks before
//! it writes takes a lock first: the domain's row (`SELECT … FOR UPDATE`) for anything inside a
//! domain — repositories, upstreams, connections, tags — and a transaction-scoped advisory lock on
//! the owner account for creating a domain (whose quota counts the owner's domains). Transactions
//! run at READ COMMITTED, so each statement after the lock sees everything committed before it.
//! Serialization failures and deadlocks surface as `Contention` and are retried a few times.
//! Reads run in a REPEATABLE READ, READ ONLY transaction for a consistent snapshot.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
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
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, QueryBuilder, Transaction};

mod packages;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

const MAX_CONNECTIONS: u32 = 10;
/// The advisory lock every node's garbage sweep takes (`pg_try_advisory_lock`): "RELIQGC" in
/// ASCII.
pub const SWEEP_LOCK_KEY: i64 = 0x0052_454c_4951_4743;
const STATEMENT_TIMEOUT: &str = "30s";
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts of a write transaction that ends in `Contention` before giving up.
const ATTEMPTS: u32 = 5;
/// Namespaces this crate's advisory locks (two-key form) away from anyone else's.
const LOCK_CLASS_DOMAIN_OWNER: i32 = 0x5245_4c01;

/// The metadata store on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    changes: Arc<AtomicU64>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:5432/db`) with a bounded pool (at most ten
    /// connections, a 30 s `statement_timeout` on each) and applies pending migrations.
    ///
    /// # Errors
    /// `Unavailable` if the server cannot be reached, `Internal` if the URL is malformed or a
    /// migration fails.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(format!("invalid PostgreSQL URL: {e}")))?
            .options([("statement_timeout", STATEMENT_TIMEOUT)]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(db_err)?;
        let store = Self {
            pool,
            changes: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations (idempotent, safe to run from several processes at once;
    /// [`PostgresStore::connect`] already calls it).
    ///
    /// # Errors
    /// `Internal` if a migration fails, `Unavailable` if the server cannot be reached.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await.map_err(migrate_err)
    }

    /// Closes every connection; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn write(&self) -> Result<WriteTx<Postgres>> {
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(db_err)?;
        // Delivered to every listening node at commit, and only if the transaction commits.
        sqlx::query("SELECT pg_notify('reliquary_changes', '')")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        Ok(WriteTx::new(tx, Arc::clone(&self.changes)))
    }

    async fn read(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(db_err)
    }
}

/// Runs `attempt` until it ends in something other than `Contention`, at most [`ATTEMPTS`] times.
async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(StoreError::Contention) if tries < ATTEMPTS => {
                tracing::debug!(tries, "store contention, retrying");
                tokio::time::sleep(Duration::from_millis(10 << tries)).await;
                tries += 1;
            }
            outcome => return outcome,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match code.as_str() {
                // serialization_failure, deadlock_detected, lock_not_available
                "40001" | "40P01" | "55P03" => StoreError::Contention,
                // query_canceled (statement_timeout), too_many_connections, the server going away
                "57014" | "53300" | "57P01" | "57P02" | "57P03" => {
                    StoreError::Unavailable(db.to_string())
                }
                c if c.starts_with("08") => StoreError::Unavailable(db.to_string()),
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
     (SELECT COALESCE(SUM(a.size), 0)::BIGINT FROM assets a WHERE a.domain_id = d.id) \
     AS asset_size_bytes \
     FROM domains d";

/// The same columns without the domain's asset total, which grows with the domain: the lookup
/// every operation makes (only DescribeDomain shows the total).
const DOMAIN_LOOKUP: &str = "SELECT d.id, d.owner, d.name, d.encryption_key, d.created_ms, \
     (SELECT COUNT(*) FROM repositories r WHERE r.domain_id = d.id) AS repository_count, \
     0::BIGINT AS asset_size_bytes \
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
         WHERE d.owner = $1 AND d.name = $2 AND r.name = $3 \
         UNION \
         SELECT u.upstream_id, reach.depth + 1 \
         FROM reach JOIN repository_upstreams u ON u.repository_id = reach.id \
         WHERE reach.depth < $4 \
     ) \
     SELECT r.id, d.owner AS domain_owner, d.name AS domain_name, r.name, \
     r.administrator_account, r.description, r.created_ms, \
     u.position::BIGINT AS upstream_position, t.name AS upstream, c.name AS external_connection \
     FROM (SELECT DISTINCT id FROM reach) AS reached \
     JOIN repositories r ON r.id = reached.id \
     JOIN domains d ON d.id = r.domain_id \
     LEFT JOIN repository_upstreams u ON u.repository_id = r.id \
     LEFT JOIN repositories t ON t.id = u.upstream_id \
     LEFT JOIN repository_external_connections c ON c.repository_id = r.id";

// ---------------------------------------------------------------------------------------------
// Queries shared by the operations

async fn find_domain(conn: &mut PgConnection, key: &DomainKey) -> Result<Option<DomainRow>> {
    sqlx::query_as::<_, DomainRow>(&format!(
        "{DOMAIN_LOOKUP} WHERE d.owner = $1 AND d.name = $2"
    ))
    .bind(key.owner.as_str())
    .bind(key.name.as_str())
    .fetch_optional(conn)
    .await
    .map_err(db_err)
}

async fn find_domain_totals(conn: &mut PgConnection, key: &DomainKey) -> Result<Option<DomainRow>> {
    sqlx::query_as::<_, DomainRow>(&format!(
        "{DOMAIN_SELECT} WHERE d.owner = $1 AND d.name = $2"
    ))
    .bind(key.owner.as_str())
    .bind(key.name.as_str())
    .fetch_optional(conn)
    .await
    .map_err(db_err)
}

async fn require_domain(conn: &mut PgConnection, key: &DomainKey) -> Result<DomainRow> {
    find_domain(conn, key)
        .await?
        .ok_or_else(|| domain_not_found(key))
}

/// Takes the domain's row lock for the rest of the write transaction: every write inside a domain
/// takes it first, so its checks and writes are serialized with every other process's. Taken in
/// its own statement, so the statements after it (READ COMMITTED) see what the holder committed.
async fn lock_domain(conn: &mut PgConnection, key: &DomainKey) -> Result<()> {
    sqlx::query("SELECT id FROM domains WHERE owner = $1 AND name = $2 FOR UPDATE")
        .bind(key.owner.as_str())
        .bind(key.name.as_str())
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Serializes the creation of domains by one owner (the quota counts them), across processes.
async fn lock_domain_owner(conn: &mut PgConnection, owner: &AccountId) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(LOCK_CLASS_DOMAIN_OWNER)
        .bind(owner.as_str())
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

fn domain_of(resource: &TaggedResource) -> &DomainKey {
    match resource {
        TaggedResource::Domain(key) | TaggedResource::Repository(key, _) => key,
    }
}

async fn find_repository(
    conn: &mut PgConnection,
    domain_id: i64,
    name: &str,
) -> Result<Option<RepositoryRow>> {
    sqlx::query_as::<_, RepositoryRow>(&format!(
        "{REPOSITORY_SELECT} WHERE r.domain_id = $1 AND r.name = $2"
    ))
    .bind(domain_id)
    .bind(name)
    .fetch_optional(conn)
    .await
    .map_err(db_err)
}

/// The domain's row and the repository's row; `NotFound` (domain, then repository) otherwise.
async fn require_repository(
    conn: &mut PgConnection,
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
    conn: &mut PgConnection,
    rows: Vec<RepositoryRow>,
) -> Result<Vec<Repository>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut upstreams: HashMap<i64, Vec<String>> = HashMap::new();
    let mut connections: HashMap<i64, Vec<String>> = HashMap::new();

    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let pairs: Vec<(i64, String)> = sqlx::query_as(
        "SELECT u.repository_id, t.name FROM repository_upstreams u \
         JOIN repositories t ON t.id = u.upstream_id WHERE u.repository_id = ANY($1) \
         ORDER BY u.repository_id, u.position",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    for (id, name) in pairs {
        upstreams.entry(id).or_default().push(name);
    }
    let pairs: Vec<(i64, String)> = sqlx::query_as(
        "SELECT repository_id, name FROM repository_external_connections \
         WHERE repository_id = ANY($1) ORDER BY repository_id, name",
    )
    .bind(&ids)
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

async fn load_repository(conn: &mut PgConnection, row: RepositoryRow) -> Result<Repository> {
    load_repositories(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| StoreError::Internal("repository vanished while loading".to_owned()))
}

async fn reload_repository(
    conn: &mut PgConnection,
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
    conn: &mut PgConnection,
    domain_id: i64,
    names: &[RepositoryName],
) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        let id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM repositories WHERE domain_id = $1 AND name = $2")
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
    conn: &mut PgConnection,
    repository_id: i64,
    upstream_ids: &[i64],
) -> Result<()> {
    for (position, upstream_id) in (0_i32..).zip(upstream_ids) {
        sqlx::query(
            "INSERT INTO repository_upstreams (repository_id, position, upstream_id) \
             VALUES ($1, $2, $3)",
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
    conn: &mut PgConnection,
    domain_id: i64,
) -> Result<BTreeMap<String, Vec<String>>> {
    let edges: Vec<(String, String)> = sqlx::query_as(
        "SELECT r.name, t.name FROM repository_upstreams u \
         JOIN repositories r ON r.id = u.repository_id \
         JOIN repositories t ON t.id = u.upstream_id \
         WHERE r.domain_id = $1 ORDER BY r.name, u.position",
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

async fn resolve_tagged(conn: &mut PgConnection, resource: &TaggedResource) -> Result<TagOwner> {
    match resource {
        TaggedResource::Domain(key) => Ok(TagOwner::Domain(require_domain(conn, key).await?.id)),
        TaggedResource::Repository(key, name) => {
            let (_, row) = require_repository(conn, key, name).await?;
            Ok(TagOwner::Repository(row.id))
        }
    }
}

async fn upsert_tags(conn: &mut PgConnection, owner: TagOwner, tags: &[Tag]) -> Result<()> {
    let (table, column, id) = owner.table_and_column();
    let sql = format!(
        "INSERT INTO {table} ({column}, key, value) VALUES ($1, $2, $3) \
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

async fn count_tags(conn: &mut PgConnection, owner: TagOwner) -> Result<i64> {
    let (table, column, id) = owner.table_and_column();
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1"))
        .bind(id)
        .fetch_one(conn)
        .await
        .map_err(db_err)
}

// ---------------------------------------------------------------------------------------------
// One attempt of each write, in its own transaction

impl PostgresStore {
    async fn create_domain_once(&self, domain: &NewDomain) -> Result<Domain> {
        let mut tx = self.write().await?;
        lock_domain_owner(&mut tx, &domain.key.owner).await?;
        if find_domain(&mut tx, &domain.key).await?.is_some() {
            return Err(StoreError::AlreadyExists {
                kind: ResourceKind::Domain,
                id: domain.key.name.to_string(),
            });
        }
        let owned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM domains WHERE owner = $1")
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
             VALUES ($1, $2, $3, $4) RETURNING id",
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

    async fn delete_domain_once(&self, key: &DomainKey) -> Result<Domain> {
        let mut tx = self.write().await?;
        lock_domain(&mut tx, key).await?;
        let row = require_domain(&mut tx, key).await?;
        if row.repository_count > 0 {
            return Err(StoreError::DomainNotEmpty {
                domain: key.name.to_string(),
                count: row.repository_count,
            });
        }
        // No repositories, so no version references any asset row left in the domain.
        packages::remove_unreferenced_domain_assets(&mut tx, row.id).await?;
        sqlx::query("DELETE FROM domains WHERE id = $1")
            .bind(row.id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let deleted = row.into_domain()?;
        tx.commit().await.map_err(db_err)?;
        Ok(deleted)
    }

    async fn create_repository_once(&self, repository: &NewRepository) -> Result<Repository> {
        let mut tx = self.write().await?;
        lock_domain(&mut tx, &repository.domain).await?;
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
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
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

    async fn update_repository_once(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
        update: &RepositoryUpdate,
    ) -> Result<Repository> {
        let mut tx = self.write().await?;
        lock_domain(&mut tx, domain).await?;
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
            sqlx::query("DELETE FROM repository_upstreams WHERE repository_id = $1")
                .bind(row.id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            insert_upstreams(&mut tx, row.id, &upstream_ids).await?;
        }
        if let Some(description) = &update.description {
            sqlx::query("UPDATE repositories SET description = $1 WHERE id = $2")
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

    async fn delete_repository_once(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
    ) -> Result<Repository> {
        let mut tx = self.write().await?;
        lock_domain(&mut tx, domain).await?;
        let (_, row) = require_repository(&mut tx, domain, name).await?;
        let downstreams: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT r.name FROM repository_upstreams u \
             JOIN repositories r ON r.id = u.repository_id \
             WHERE u.upstream_id = $1 ORDER BY r.name",
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
        sqlx::query("DELETE FROM repositories WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        packages::remove_unreferenced_assets(&mut tx, &released).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(deleted)
    }

    async fn associate_once(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
        connection: &str,
    ) -> Result<Repository> {
        let mut tx = self.write().await?;
        lock_domain(&mut tx, domain).await?;
        let (domain_row, row) = require_repository(&mut tx, domain, name).await?;
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT name FROM repository_external_connections WHERE repository_id = $1",
        )
        .bind(row.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(existing) = existing {
            return Err(StoreError::ExternalConnectionExists(existing));
        }
        sqlx::query(
            "INSERT INTO repository_external_connections (repository_id, name) VALUES ($1, $2)",
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

    async fn disassociate_once(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
        connection: &str,
    ) -> Result<Repository> {
        let mut tx = self.write().await?;
        lock_domain(&mut tx, domain).await?;
        let (domain_row, row) = require_repository(&mut tx, domain, name).await?;
        let removed = sqlx::query(
            "DELETE FROM repository_external_connections WHERE repository_id = $1 AND name = $2",
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

    async fn tag_once(&self, resource: &TaggedResource, tags: &[Tag], max_tags: u32) -> Result<()> {
        let mut tx = self.write().await?;
        lock_domain(&mut tx, domain_of(resource)).await?;
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

    async fn untag_once(&self, resource: &TaggedResource, keys: &[String]) -> Result<()> {
        let mut tx = self.write().await?;
        lock_domain(&mut tx, domain_of(resource)).await?;
        let owner = resolve_tagged(&mut tx, resource).await?;
        let (table, column, id) = owner.table_and_column();
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE {column} = $1 AND key = ANY($2)"
        ))
        .bind(id)
        .bind(keys)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn signing_key_once(&self, purpose: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO signing_keys (purpose, key) VALUES ($1, $2) \
             ON CONFLICT (purpose) DO NOTHING",
        )
        .bind(purpose)
        .bind(candidate)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let key: Vec<u8> = sqlx::query_scalar("SELECT key FROM signing_keys WHERE purpose = $1")
            .bind(purpose)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(key)
    }
}

// ---------------------------------------------------------------------------------------------
// The traits

#[async_trait]
impl DomainStore for PostgresStore {
    async fn create_domain(&self, domain: NewDomain) -> Result<Domain> {
        retrying(|| self.create_domain_once(&domain)).await
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
        let mut q = QueryBuilder::<Postgres>::new(DOMAIN_SELECT);
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
        retrying(|| self.delete_domain_once(key)).await
    }
}

#[async_trait]
impl RepositoryStore for PostgresStore {
    async fn create_repository(&self, repository: NewRepository) -> Result<Repository> {
        retrying(|| self.create_repository_once(&repository)).await
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
        retrying(|| self.update_repository_once(domain, name, &update)).await
    }

    async fn delete_repository(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
    ) -> Result<Repository> {
        retrying(|| self.delete_repository_once(domain, name)).await
    }

    async fn list_repositories(
        &self,
        filter: &RepositoryFilter,
        after: Option<&RepositoryCursor>,
        limit: u32,
    ) -> Result<Vec<Repository>> {
        let mut tx = self.read().await?;
        let mut q = QueryBuilder::<Postgres>::new(REPOSITORY_SELECT);
        q.push(" WHERE TRUE");
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
            q.push(" AND left(r.name, length(")
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
        retrying(|| self.associate_once(domain, name, connection)).await
    }

    async fn disassociate_external_connection(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
        connection: &str,
    ) -> Result<Repository> {
        retrying(|| self.disassociate_once(domain, name, connection)).await
    }
}

#[async_trait]
impl TagStore for PostgresStore {
    async fn tags(&self, resource: &TaggedResource) -> Result<Vec<Tag>> {
        let mut tx = self.read().await?;
        let owner = resolve_tagged(&mut tx, resource).await?;
        let (table, column, id) = owner.table_and_column();
        let rows: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT key, value FROM {table} WHERE {column} = $1 ORDER BY key"
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
        retrying(|| self.tag_once(resource, tags, max_tags)).await
    }

    async fn untag_resource(&self, resource: &TaggedResource, keys: &[String]) -> Result<()> {
        retrying(|| self.untag_once(resource, keys)).await
    }
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn signing_key(&self, purpose: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        retrying(|| self.signing_key_once(purpose, candidate)).await
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    async fn try_sweep_lease(&self) -> Result<Option<SweepLease>> {
        // A session advisory lock on a connection taken out of the pool: held as long as the
        // connection lives, released by PostgreSQL when the lease drops it (even if this node
        // dies mid-sweep).
        let mut connection = self.pool.acquire().await.map_err(db_err)?.detach();
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(SWEEP_LOCK_KEY)
            .fetch_one(&mut connection)
            .await
            .map_err(db_err)?;
        Ok(locked.then(|| SweepLease::new(std::sync::Mutex::new(connection))))
    }

    /// Follows every node's committed writes: each write transaction sends `NOTIFY
    /// reliquary_changes`; a listener task moves this node's counter on every notification,
    /// and on every reconnection (notifications may have been missed while disconnected).
    async fn watch_changes(&self) -> Result<()> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool)
            .await
            .map_err(db_err)?;
        listener.listen("reliquary_changes").await.map_err(db_err)?;
        let changes = Arc::clone(&self.changes);
        tokio::spawn(async move {
            loop {
                match listener.try_recv().await {
                    Ok(Some(_)) => {
                        changes.fetch_add(1, Ordering::SeqCst);
                    }
                    // The connection dropped: sqlx reconnects on the next call. Anything
                    // could have changed meanwhile.
                    Ok(None) => {
                        changes.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => {
                        changes.fetch_add(1, Ordering::SeqCst);
                        tracing::warn!(error = %e, "listening for other nodes' writes failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}
