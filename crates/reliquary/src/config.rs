//! Settings: flags beat environment variables beat the TOML file beat defaults (`design.md` §1.1).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;
use reliquary_core::Quotas;
use serde::Deserialize;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "RELIQUARY_LISTEN")]
    listen: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
    /// Base URL clients reach this server at, used in repository endpoints.
    #[arg(long, env = "RELIQUARY_PUBLIC_URL")]
    public_url: Option<String>,
    /// The region written into ARNs.
    #[arg(long, env = "RELIQUARY_REGION")]
    region: Option<String>,
    /// Seconds a document fetched through an external connection (a packument, a project page)
    /// is served from memory before it is revalidated with the registry (default 300).
    #[arg(long, env = "RELIQUARY_EXTERNAL_CACHE_SECONDS")]
    external_cache_seconds: Option<u64>,
    /// Open connections at most; more clients wait to be accepted (default 4096).
    #[arg(long, env = "RELIQUARY_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Seconds a client has to send a request's headers, also how long an idle keep-alive
    /// connection stays open (default 30).
    #[arg(long, env = "RELIQUARY_HEADER_TIMEOUT_SECONDS")]
    header_timeout_seconds: Option<u64>,
    /// Seconds a request body may pause between two chunks (default 60).
    #[arg(long, env = "RELIQUARY_BODY_TIMEOUT_SECONDS")]
    body_timeout_seconds: Option<u64>,
    /// Milliseconds `/health` waits for the database and the blob store (default 800).
    #[arg(long, env = "RELIQUARY_HEALTH_TIMEOUT_MS")]
    health_timeout_ms: Option<u64>,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Only blobs last written longer ago than this are swept.
    #[arg(long, default_value_t = 3600)]
    pub grace_seconds: u64,
}

/// Where the data lives; shared by `serve` and `gc`.
#[derive(Debug, Args)]
pub struct StorageArgs {
    /// Directory for the embedded database, blobs and generated credentials.
    #[arg(long, env = "RELIQUARY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// `sqlite://…` or `postgres://…`; default SQLite at `<data-dir>/reliquary.db`.
    #[arg(long, env = "RELIQUARY_DATABASE_URL")]
    database_url: Option<String>,
    /// `file://…` or `s3://bucket/prefix`; default `<data-dir>/blobs`.
    #[arg(long, env = "RELIQUARY_BLOB_STORE")]
    blob_store: Option<String>,
    /// A TOML file with any of the settings above and `[quotas]`.
    #[arg(long, env = "RELIQUARY_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    blob_store: Option<String>,
    public_url: Option<String>,
    region: Option<String>,
    external_cache_seconds: Option<u64>,
    max_connections: Option<usize>,
    header_timeout_seconds: Option<u64>,
    body_timeout_seconds: Option<u64>,
    health_timeout_ms: Option<u64>,
    #[serde(default)]
    quotas: FileQuotas,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileQuotas {
    domains_per_account: Option<u32>,
    repositories_per_domain: Option<u32>,
    tags_per_resource: Option<u32>,
    assets_per_version: Option<u32>,
    asset_size_bytes: Option<u64>,
}

#[derive(Debug, Clone)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    fn parse(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(url.to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else {
            bail!("unsupported database URL (expected sqlite://… or postgres://…)")
        }
    }

    /// For logs: the scheme only, never credentials.
    pub fn redacted(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

#[derive(Debug)]
pub struct Settings {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: DatabaseUrl,
    /// `file://…`, `s3://bucket/prefix` or `memory://`.
    pub blob_store: String,
    pub s3: reliquary_core::S3Settings,
    pub public_url: Option<String>,
    pub region: String,
    pub quotas: Quotas,
    pub external_cache: std::time::Duration,
    pub http: crate::listen::HttpLimits,
    pub health_timeout: std::time::Duration,
}

impl Settings {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Self> {
        let storage = args.storage;
        let file = match &storage.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => FileSettings::default(),
        };
        let data_dir = storage
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./reliquary-data"));
        let database_url = match storage.database_url.or(file.database_url) {
            Some(url) => DatabaseUrl::parse(&url)?,
            None => DatabaseUrl::Sqlite(format!(
                "sqlite://{}",
                absolute(&data_dir.join("reliquary.db"))?.display()
            )),
        };
        let blob_store = match storage.blob_store.or(file.blob_store) {
            Some(url) => url,
            None => format!("file://{}", absolute(&data_dir.join("blobs"))?.display()),
        };
        if !["file://", "s3://", "memory://"]
            .iter()
            .any(|scheme| blob_store.starts_with(scheme))
        {
            bail!(
                "unsupported blob store {blob_store} (expected file://…, s3://bucket/prefix or memory://)"
            );
        }
        let defaults = Quotas::default();
        let seconds = |value: Option<u64>, default: u64, what: &str| {
            let value = value.unwrap_or(default);
            if value == 0 {
                bail!("{what} must be at least 1 second");
            }
            Ok(std::time::Duration::from_secs(value))
        };
        let http = crate::listen::HttpLimits {
            max_connections: match args
                .max_connections
                .or(file.max_connections)
                .unwrap_or(4096)
            {
                0 => bail!("max_connections must be at least 1"),
                n => n,
            },
            header_timeout: seconds(
                args.header_timeout_seconds.or(file.header_timeout_seconds),
                30,
                "header_timeout_seconds",
            )?,
            body_timeout: seconds(
                args.body_timeout_seconds.or(file.body_timeout_seconds),
                60,
                "body_timeout_seconds",
            )?,
        };
        let health_timeout = match args.health_timeout_ms.or(file.health_timeout_ms) {
            None => reliquary_http::DEFAULT_HEALTH_TIMEOUT,
            Some(0) => bail!("health_timeout_ms must be at least 1"),
            Some(ms) => std::time::Duration::from_millis(ms),
        };
        Ok(Self {
            http,
            health_timeout,
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:8787".to_owned()),
            data_dir,
            database_url,
            blob_store,
            s3: s3_settings(),
            public_url: args.public_url.or(file.public_url),
            region: args
                .region
                .or(file.region)
                .unwrap_or_else(|| "us-east-1".to_owned()),
            external_cache: std::time::Duration::from_secs(
                args.external_cache_seconds
                    .or(file.external_cache_seconds)
                    .unwrap_or(300),
            ),
            quotas: Quotas {
                domains_per_account: file
                    .quotas
                    .domains_per_account
                    .unwrap_or(defaults.domains_per_account),
                repositories_per_domain: file
                    .quotas
                    .repositories_per_domain
                    .unwrap_or(defaults.repositories_per_domain),
                tags_per_resource: file
                    .quotas
                    .tags_per_resource
                    .unwrap_or(defaults.tags_per_resource),
                assets_per_version: file
                    .quotas
                    .assets_per_version
                    .unwrap_or(defaults.assets_per_version),
                asset_size_bytes: file
                    .quotas
                    .asset_size_bytes
                    .unwrap_or(defaults.asset_size_bytes),
            },
        })
    }
}

/// `RELIQUARY_S3_*`: the S3 connection when the blob store is `s3://…`.
fn s3_settings() -> reliquary_core::S3Settings {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    reliquary_core::S3Settings {
        endpoint: var("RELIQUARY_S3_ENDPOINT"),
        region: var("RELIQUARY_S3_REGION"),
        access_key_id: var("RELIQUARY_S3_ACCESS_KEY_ID"),
        secret_access_key: var("RELIQUARY_S3_SECRET_ACCESS_KEY"),
        force_path_style: var("RELIQUARY_S3_FORCE_PATH_STYLE")
            .is_some_and(|v| v == "true" || v == "1"),
    }
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    Ok(if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()?.join(path)
    })
}
