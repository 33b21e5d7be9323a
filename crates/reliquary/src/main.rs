//! `reliquary`: the command line. Reads flags, environment and the TOML file once, wires the
//! store and the HTTP surfaces together, and runs until SIGTERM.

mod config;
mod identity;
mod listen;

use std::io::Write as _;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::config::{GcArgs, ServeArgs, Settings};

/// glibc's malloc showed up as a fifth of the CPU time of serving npm packuments (many small,
/// short-lived JSON values across worker threads); mimalloc is built for that pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "reliquary",
    version,
    about = "A self-hostable package repository server that speaks the AWS CodeArtifact API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Run one garbage sweep: delete blobs no package version references, then exit.
    Gc(GcArgs),
}

/// The most threads the runtime's blocking pool may run at once.
const BLOCKING_THREADS: usize = 32;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // File reads, large hashes and staging run on the blocking pool. Tokio's default lets it grow
    // to 512 threads, and each thread that ever served a download keeps its allocator's buffers:
    // 64 concurrent downloads took RSS from ~60 to ~600 MiB. A bounded pool keeps memory flat
    // under concurrency (requests queue for a thread instead), and idle threads exit sooner.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .thread_keep_alive(std::time::Duration::from_secs(10))
        .build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Gc(args) => runtime.block_on(gc(args)),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(args)?;
    create_private_dir(&settings.data_dir)?;
    let identity = identity::Identity::load_or_generate(&settings.data_dir)?;

    let store = open_store(&settings.database_url).await?;
    // Other nodes' writes invalidate this node's read caches (PostgreSQL LISTEN/NOTIFY).
    store
        .watch_changes()
        .await
        .map_err(|e| anyhow::anyhow!("listening for other nodes' changes: {e}"))?;
    let blobs = open_blobs(&settings)?;
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    let local = listener.local_addr()?;
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"))
        .trim_end_matches('/')
        .to_owned();

    let service = reliquary_core::Service::new(
        store,
        blobs,
        reliquary_core::Config {
            region: settings.region.clone(),
            public_url,
            quotas: settings.quotas,
            external_document_max_age: settings.external_cache,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("starting the service: {e}"))?;
    let credentials = reliquary_http::Credentials::single(
        identity.access_key_id.clone(),
        identity.secret_access_key.clone(),
        identity.account_id.clone(),
    );
    let credentials = Arc::new(credentials);
    let principals: reliquary_core::PrincipalCheck = {
        let credentials = Arc::clone(&credentials);
        Arc::new(move |account, access_key_id| {
            credentials
                .account(access_key_id)
                .is_some_and(|a| a.as_str() == account)
        })
    };
    let formats = reliquary_formats::all();
    let service = formats
        .iter()
        .fold(service, |service, format| {
            service.with_format(format.rules())
        })
        .with_external_registry(Arc::new(remote_registries()?))
        .with_principals(principals);
    let service = Arc::new(service);
    tokio::spawn(sweep_periodically(Arc::clone(&service)));
    let app = reliquary_http::router(
        reliquary_http::AppState::new(service, credentials)
            .with_health_timeout(settings.health_timeout),
        &formats,
    );

    let mut out = std::io::stdout().lock();
    if identity.generated {
        writeln!(
            out,
            "Generated root credentials (stored in {}); shown once:",
            identity.path.display()
        )?;
        writeln!(out, "export AWS_ACCESS_KEY_ID={}", identity.access_key_id)?;
        writeln!(
            out,
            "export AWS_SECRET_ACCESS_KEY={}",
            identity.secret_access_key
        )?;
        writeln!(out, "export AWS_REGION={}", settings.region)?;
        writeln!(out, "export AWS_DEFAULT_REGION={}", settings.region)?;
        writeln!(out, "export AWS_ENDPOINT_URL=http://{local}")?;
    }
    writeln!(out, "Reliquary listening on http://{local}")?;
    out.flush()?;
    drop(out);
    tracing::info!(listen = %local, database = settings.database_url.redacted(), "serving");

    listen::serve(listener, app, settings.http, shutdown_signal()).await;
    tracing::info!("drained; exiting");
    Ok(())
}

/// Runs a garbage sweep every hour. Blobs younger than an hour are never swept, so an upload
/// whose metadata is still being written keeps its blob.
async fn sweep_periodically(service: Arc<reliquary_core::Service>) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
    let mut interval = tokio::time::interval(EVERY);
    interval.tick().await;
    loop {
        interval.tick().await;
        match service.sweep_garbage(EVERY).await {
            Ok(Some(removed)) => tracing::info!(blobs.removed = removed, "garbage sweep"),
            Ok(None) => tracing::info!("garbage sweep skipped: another node is sweeping"),
            Err(e) => tracing::warn!(error = %e, "garbage sweep failed"),
        }
    }
}

async fn gc(args: GcArgs) -> anyhow::Result<()> {
    let grace = std::time::Duration::from_secs(args.grace_seconds);
    let settings = Settings::resolve(args.serve)?;
    let store = open_store(&settings.database_url).await?;
    let blobs = open_blobs(&settings)?;
    let service = reliquary_core::Service::new(
        store,
        blobs,
        reliquary_core::Config {
            region: settings.region.clone(),
            public_url: String::new(),
            quotas: settings.quotas,
            external_document_max_age: settings.external_cache,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("starting the service: {e}"))?;
    match service
        .sweep_garbage(grace)
        .await
        .map_err(|e| anyhow::anyhow!("garbage sweep: {e}"))?
    {
        Some(removed) => println!("removed {removed} blobs"),
        None => {
            println!("another garbage sweep is running (on this or another node): nothing done")
        }
    }
    Ok(())
}

/// The URL (and optional token) of each external connection: `RELIQUARY_EXTERNAL_<NAME>_URL`
/// and `RELIQUARY_EXTERNAL_<NAME>_TOKEN`, `<NAME>` being the connection name after `public:`,
/// upper-cased, `-` as `_` (`NPMJS`, `PYPI`, `MAVEN_CENTRAL` …).
fn remote_registries() -> anyhow::Result<reliquary_http::RemoteRegistries> {
    let mut upstreams = std::collections::HashMap::new();
    for connection in reliquary_types::ExternalConnection::ALL {
        let suffix = connection
            .name()
            .trim_start_matches("public:")
            .to_uppercase()
            .replace('-', "_");
        let var = |name: String| std::env::var(name).ok().filter(|v| !v.is_empty());
        let default = match connection {
            reliquary_types::ExternalConnection::Npmjs => Some("https://registry.npmjs.org"),
            reliquary_types::ExternalConnection::Pypi => Some("https://pypi.org/simple"),
            reliquary_types::ExternalConnection::CratesIo => Some("https://index.crates.io"),
            reliquary_types::ExternalConnection::MavenCentral => {
                Some("https://repo.maven.apache.org/maven2")
            }
            reliquary_types::ExternalConnection::MavenGoogleAndroid => {
                Some("https://maven.google.com")
            }
            reliquary_types::ExternalConnection::MavenGradlePlugins => {
                Some("https://plugins.gradle.org/m2")
            }
            reliquary_types::ExternalConnection::MavenCommonsware => {
                Some("https://repo.commonsware.com")
            }
            reliquary_types::ExternalConnection::MavenClojars => Some("https://repo.clojars.org"),
            _ => None,
        };
        if let Some(url) =
            var(format!("RELIQUARY_EXTERNAL_{suffix}_URL")).or(default.map(str::to_owned))
        {
            let token = var(format!("RELIQUARY_EXTERNAL_{suffix}_TOKEN"));
            // Other hosts the registry's documents may name files on: configured, or for the
            // public registry itself its known file host.
            let file_origins = match var(format!("RELIQUARY_EXTERNAL_{suffix}_FILE_ORIGINS")) {
                Some(list) => list.split(',').map(|o| o.trim().to_owned()).collect(),
                None if default.is_some_and(|d| d == url) => match connection {
                    reliquary_types::ExternalConnection::Pypi => {
                        vec!["https://files.pythonhosted.org".to_owned()]
                    }
                    reliquary_types::ExternalConnection::CratesIo => {
                        vec!["https://static.crates.io".to_owned()]
                    }
                    _ => Vec::new(),
                },
                None => Vec::new(),
            };
            upstreams.insert(
                connection,
                reliquary_http::Upstream {
                    url,
                    token,
                    file_origins,
                },
            );
        }
    }
    Ok(reliquary_http::RemoteRegistries::new(upstreams)?)
}

fn open_blobs(settings: &Settings) -> anyhow::Result<reliquary_core::BlobStore> {
    reliquary_core::BlobStore::from_url(&settings.blob_store, &settings.s3)
        .map_err(|e| anyhow::anyhow!("opening the blob store {}: {e}", settings.blob_store))
}

/// Creates the data directory, private to this user (0700): it holds the database (with the token
/// signing key) and the blobs. An existing one is made private too.
fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making the data directory {} private (0700)", dir.display()))
}

async fn open_store(url: &config::DatabaseUrl) -> anyhow::Result<Arc<dyn reliquary_store::Store>> {
    Ok(match url {
        config::DatabaseUrl::Sqlite(url) => Arc::new(
            reliquary_store_sqlite::SqliteStore::connect(url)
                .await
                .map_err(|e| anyhow::anyhow!("opening SQLite database {url}: {e}"))?,
        ),
        config::DatabaseUrl::Postgres(url) => Arc::new(
            reliquary_store_postgres::PostgresStore::connect(url)
                .await
                .map_err(|e| anyhow::anyhow!("opening PostgreSQL database: {e}"))?,
        ),
    })
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = terminate => tracing::info!("SIGTERM received, draining"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received, draining"),
    }
}
