//! The official Rust SDK (`aws-sdk-codeartifact`, unchanged; the lean set: no aws-config, no
//! TLS) against a spawned `reliquary serve` (`RELIQUARY_BIN`, which `scripts/test` builds and
//! exports), on SQLite and PostgreSQL (`RELIQUARY_TEST_POSTGRES_URL`): a publish streamed from a
//! file (`ByteStream::from_path`), the same typed error boto3 gets for a SHA-256 mismatch, a copy,
//! and the typed errors the SDK parses (the tag quota's `resourceType` among them). Over plain
//! HTTP this SDK version signs the file's hash; the `UNSIGNED-PAYLOAD` signature it may send
//! elsewhere is pinned by `tests/e2e/test_sigv4.py`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use aws_credential_types::Credentials;
use aws_sdk_codeartifact::config::Region;
use aws_sdk_codeartifact::primitives::ByteStream;
use aws_sdk_codeartifact::types::{PackageFormat, ResourceType, Tag};
use aws_sdk_codeartifact::{Client, Config};
use sha2::{Digest as _, Sha256};

const ACCOUNT: &str = "111122223333";
const KEY: &str = "AKIDRELIQUARYSDK0000";
const SECRET: &str = "reliquary-sdk-e2e-secret-0123456789abcdef";

/// A running server, stopped (SIGTERM, then reaped) when dropped; its PostgreSQL database, if
/// any, dropped after.
struct Server {
    child: Child,
    url: String,
    _data: tempfile::TempDir,
    database: Option<(String, String)>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        if let Some((base, name)) = &self.database {
            let _ = Command::new("psql")
                .args([base, "-qc", &format!("DROP DATABASE IF EXISTS {name}")])
                .status();
        }
    }
}

fn binary() -> PathBuf {
    std::env::var_os("RELIQUARY_BIN").map_or_else(
        || {
            let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
                || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
                PathBuf::from,
            );
            target.join("debug/reliquary")
        },
        PathBuf::from,
    )
}

fn start(backend: &str) -> Server {
    let data = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(binary());
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("RELIQUARY_ACCOUNT_ID", ACCOUNT)
        .env("RELIQUARY_ACCESS_KEY_ID", KEY)
        .env("RELIQUARY_SECRET_ACCESS_KEY", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut database = None;
    if backend == "postgres" {
        let base = std::env::var("RELIQUARY_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
        let name = format!("reliquary_sdk_{}", std::process::id());
        let created = Command::new("psql")
            .args([
                &format!("{base}/postgres"),
                "-qc",
                &format!("CREATE DATABASE {name}"),
            ])
            .status()
            .expect("psql runs");
        assert!(created.success(), "CREATE DATABASE {name}");
        command.args(["--database-url", &format!("{base}/{name}")]);
        database = Some((format!("{base}/postgres"), name));
    }
    let mut child = command.spawn().unwrap_or_else(|e| {
        panic!(
            "starting {} (build it first, or set RELIQUARY_BIN): {e}",
            binary().display()
        )
    });
    let stdout = child.stdout.take().expect("piped stdout");
    let url = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("Reliquary listening on ")
                .map(str::to_owned)
        })
        .expect("the server says where it listens");
    Server {
        child,
        url,
        _data: data,
        database,
    }
}

fn client(url: &str) -> Client {
    let config = Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-west-2"))
        .credentials_provider(Credentials::new(KEY, SECRET, None, None, "test"))
        .endpoint_url(url)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}

async fn publish(
    client: &Client,
    repository: &str,
    sha256: &str,
    body: ByteStream,
) -> Result<
    (),
    aws_sdk_codeartifact::error::SdkError<
        aws_sdk_codeartifact::operation::publish_package_version::PublishPackageVersionError,
    >,
> {
    client
        .publish_package_version()
        .domain("sdk")
        .repository(repository)
        .format(PackageFormat::Generic)
        .namespace("ns")
        .package("streamed")
        .package_version("1.0.0")
        .asset_name("blob.bin")
        .asset_sha256(sha256)
        .asset_content(body)
        .send()
        .await
        .map(|_| ())
}

async fn walkthrough(backend: &str) {
    let server = start(backend);
    let client = client(&server.url);
    client
        .create_domain()
        .domain("sdk")
        .send()
        .await
        .expect("CreateDomain");
    for repository in ["staging", "release"] {
        client
            .create_repository()
            .domain("sdk")
            .repository(repository)
            .send()
            .await
            .expect("CreateRepository");
    }

    // A 3 MiB body streamed from a file: the SDK signs it UNSIGNED-PAYLOAD.
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    let content: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    file.write_all(&content).expect("write");
    let sha256 = hex::encode(Sha256::digest(&content));
    let wrong = hex::encode(Sha256::digest(b"other bytes"));

    let refused = publish(
        &client,
        "staging",
        &wrong,
        ByteStream::from_path(file.path()).await.expect("stream"),
    )
    .await
    .expect_err("a SHA-256 that does not match the body is refused");
    assert!(
        refused
            .as_service_error()
            .is_some_and(|e| e.is_validation_exception()),
        "{backend}: the same ValidationException boto3 gets, not a signature error: {refused:?}"
    );
    publish(
        &client,
        "staging",
        &sha256,
        ByteStream::from_path(file.path()).await.expect("stream"),
    )
    .await
    .unwrap_or_else(|e| panic!("{backend}: streamed publish: {e:?}"));
    let assets = client
        .list_package_version_assets()
        .domain("sdk")
        .repository("staging")
        .format(PackageFormat::Generic)
        .namespace("ns")
        .package("streamed")
        .package_version("1.0.0")
        .send()
        .await
        .expect("ListPackageVersionAssets");
    let listed: Vec<(&str, i64)> = assets
        .assets()
        .iter()
        .map(|a| (a.name(), a.size().unwrap_or_default()))
        .collect();
    assert_eq!(listed, [("blob.bin", 3 * 1024 * 1024)], "{backend}");

    let copied = client
        .copy_package_versions()
        .domain("sdk")
        .source_repository("staging")
        .destination_repository("release")
        .format(PackageFormat::Generic)
        .namespace("ns")
        .package("streamed")
        .versions("1.0.0")
        .send()
        .await
        .expect("CopyPackageVersions");
    assert!(
        copied
            .successful_versions()
            .is_some_and(|s| s.contains_key("1.0.0")),
        "{backend}"
    );

    // Typed errors: not found, and the tag quota naming a resource type of the model's enum.
    let missing = client
        .describe_domain()
        .domain("no-such-domain")
        .send()
        .await
        .expect_err("missing domain");
    assert!(
        missing
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{backend}"
    );
    let arn = client
        .describe_repository()
        .domain("sdk")
        .repository("release")
        .send()
        .await
        .expect("DescribeRepository")
        .repository()
        .and_then(|r| r.arn())
        .expect("an ARN")
        .to_owned();
    let tags: Vec<Tag> = (0..51)
        .map(|i| {
            Tag::builder()
                .key(format!("k{i:02}"))
                .value("v")
                .build()
                .expect("tag")
        })
        .collect();
    let quota = client
        .tag_resource()
        .resource_arn(&arn)
        .set_tags(Some(tags))
        .send()
        .await
        .expect_err("51 tags");
    let quota = quota.into_service_error();
    assert!(
        quota.is_service_quota_exceeded_exception(),
        "{backend}: {quota:?}"
    );
    if let aws_sdk_codeartifact::operation::tag_resource::TagResourceError::ServiceQuotaExceededException(e) = quota {
        assert_eq!(e.resource_type(), Some(&ResourceType::Repository), "{backend}");
        assert_eq!(e.resource_id(), Some("release"), "{backend}");
    }
}

#[tokio::test]
async fn the_rust_sdk_on_sqlite() {
    walkthrough("sqlite").await;
}

#[tokio::test]
async fn the_rust_sdk_on_postgres() {
    walkthrough("postgres").await;
}
