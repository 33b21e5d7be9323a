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
    /// Directory for the embedded database, blobs and generated credentials.
    #[arg(long, env = "RELIQUARY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// `sqlite://…` or `postgres://…`; default SQLite at `<data-dir>/reliquary.db`.
    #[arg(long, env = "RELIQUARY_DATABASE_URL")]
    database_url: Option<String>,
    /// `file://…` or `s3://bucket/prefix`; default `<data-dir>/blobs`.
    #[arg(long, env = "RELIQUARY_BLOB_STORE")]
    blob_store: Option<String>,
    /// Base URL clients reach this server at, used in repository endpoints.
    #[arg(long, env = "RELIQUARY_PUBLIC_URL")]
    public_url: Option<String>,
    /// A TOML file with any of the settings above and `[quotas]`.
    #[arg(long, env = "RELIQUARY_CONFIG")]
    config: Option<PathBuf>,
    /// The region written into ARNs.
    #[arg(long, env = "RELIQUARY_REGION")]
    region: Option<String>,
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
    #[serde(default)]
    quotas: FileQuotas,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileQuotas {
    domains_per_account: Option<u32>,
    repositories_per_domain: Option<u32>,
    tags_per_resource: Option<u32>,
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
    pub public_url: Option<String>,
    pub region: String,
    pub quotas: Quotas,
}

impl Settings {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => FileSettings::default(),
        };
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./reliquary-data"));
        let database_url = match args.database_url.or(file.database_url) {
            Some(url) => DatabaseUrl::parse(&url)?,
            None => DatabaseUrl::Sqlite(format!(
                "sqlite://{}",
                absolute(&data_dir.join("reliquary.db"))?.display()
            )),
        };
        let blob_store = args.blob_store.or(file.blob_store);
        if let Some(blob_store) = &blob_store
            && !blob_store.starts_with("file://")
            && !blob_store.starts_with("s3://")
        {
            bail!("unsupported blob store {blob_store} (expected file://… or s3://bucket/prefix)");
        }
        let defaults = Quotas::default();
        Ok(Self {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:8787".to_owned()),
            data_dir,
            database_url,
            public_url: args.public_url.or(file.public_url),
            region: args
                .region
                .or(file.region)
                .unwrap_or_else(|| "us-east-1".to_owned()),
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
            },
        })
    }
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    Ok(if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()?.join(path)
    })
}
