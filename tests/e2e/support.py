"""Plumbing shared by the end-to-end suite: spawning `reliquary serve`, the aws CLI runner and
assertion helpers. Fixtures live in conftest.py; this module holds only plain functions/classes so
that tests which start their own servers (lifecycle, quotas) can use the same code.

Nothing here reads anything outside the repository."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parents[2]

# The identity every shared test server runs as (see conftest.py).
ACCOUNT_ID = "111122223333"
ACCESS_KEY_ID = "AKIDRELIQUARYTEST00"
SECRET_ACCESS_KEY = "reliquary-e2e-secret-key-0123456789abcdef"
SERVER_REGION = "us-east-1"  # RELIQUARY_REGION: the region written into ARNs
CLIENT_REGION = "us-west-2"  # clients may sign for any region

OTHER_ACCOUNT_ID = "999988887777"

BACKENDS = ["sqlite", "postgres"]

# The small-quota server (conftest.quota_server) and what it holds from the start.
PUBLIC_URL = "http://reliquary.example:9999"
QUOTA_DOMAIN = "q-shared"
QUOTA_REPOSITORY = "endpoint-repo"

STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 20.0

LISTENING_LINE = re.compile(r"Reliquary listening on http://(?P<host>[0-9.]+|\[[0-9a-fA-F:]+\]|localhost):(?P<port>\d+)")
EXPORT_LINE = re.compile(r"^export (?P<name>[A-Z_]+)=(?P<value>\S+)\s*$")


def reliquary_binary() -> Path:
    if os.environ.get("RELIQUARY_BIN"):
        return Path(os.environ["RELIQUARY_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
    return target / "debug" / "reliquary"


def postgres_base_url() -> str:
    return os.environ.get("RELIQUARY_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")


def unique(prefix: str = "t") -> str:
    """A name valid as a domain *and* a repository name, unique across the whole session."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def domain_arn(domain: str, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:codeartifact:{SERVER_REGION}:{account}:domain/{domain}"


def repository_arn(domain: str, repository: str, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:codeartifact:{SERVER_REGION}:{account}:repository/{domain}/{repository}"


def tags(**pairs: str) -> list[dict]:
    return [{"key": k, "value": v} for k, v in pairs.items()]


def tag_dict(tag_list: Iterable[dict]) -> dict[str, str]:
    out: dict[str, str] = {}
    for tag in tag_list:
        assert tag["key"] not in out, f"tag key {tag['key']!r} listed twice"
        out[tag["key"]] = tag["value"]
    return out


def upstream_names(repository: dict) -> list[str]:
    return [u["repositoryName"] for u in repository.get("upstreams") or []]


def assert_recent(ts: datetime, within: timedelta = timedelta(minutes=5)) -> None:
    assert isinstance(ts, datetime), f"expected a datetime, got {ts!r}"
    assert ts.tzinfo is not None
    now = datetime.now(timezone.utc)
    assert abs(now - ts) < within, f"{ts} is not within {within} of {now}"


# --------------------------------------------------------------------------- errors


def expect_error(client, code: str, status: int, call: Callable, /, **kwargs) -> dict:
    """Call `call(**kwargs)`, require a ClientError with `code` and HTTP `status`, and return the
    botocore error response (modelled members such as resourceType/resourceId/reason are top-level
    keys of it). For modelled shapes also require boto3's generated exception class."""
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    response = excinfo.value.response
    assert response["Error"]["Code"] == code, response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status, response
    assert response["Error"].get("Message"), f"error without a message: {response}"
    assert response["ResponseMetadata"].get("RequestId"), f"no x-amzn-RequestId: {response}"
    modelled = getattr(client.exceptions, code, None)
    if modelled is not None:
        assert isinstance(excinfo.value, modelled), type(excinfo.value)
    return response


def assert_validation_message(message: str, value: str, member: str) -> None:
    """AWS's format: one clause per violated constraint (a too-long name that also breaks the
    pattern violates two), each naming the value and the member."""
    count = message.count(f"Value '{value}' at '{member}' failed to satisfy constraint: ")
    assert count >= 1, message
    noun = "error" if count == 1 else "errors"
    assert message.startswith(f"{count} validation {noun} detected: Value '{value}' at '{member}'"), message


# --------------------------------------------------------------------------- clients


def make_client(url: str, access_key: str = ACCESS_KEY_ID, secret_key: str = SECRET_ACCESS_KEY,
                region: str = CLIENT_REGION):
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
    )
    # total_max_attempts=1: no retry at all, so a 5xx surfaces immediately.
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)
    return session.client("codeartifact", endpoint_url=url, config=config)


def isolate_from_ambient_aws_config() -> None:
    """Make sure nothing from the developer's ~/.aws or AWS_* environment leaks into the suite."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            del os.environ[key]
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


class AwsCliError(AssertionError):
    def __init__(self, args: list[str], returncode: int, stdout: str, stderr: str):
        self.args_ = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(f"aws {' '.join(args)} exited {returncode}: {stderr.strip()}")


@dataclass
class AwsCli:
    """Runs the aws CLI (v1, installed in the same venv as pytest) against one server.

    `aws("codeartifact", "describe-domain", "--domain", d)` returns the parsed JSON (None for an
    empty output); `aws(..., output="text")` returns stripped text. A non-zero exit raises
    AwsCliError carrying returncode/stdout/stderr."""

    endpoint_url: str
    access_key: str = ACCESS_KEY_ID
    secret_key: str = SECRET_ACCESS_KEY
    region: str = CLIENT_REGION

    def command(self) -> list[str]:
        script = Path(sys.executable).parent / "aws"
        return [str(script)] if script.exists() else [sys.executable, "-m", "awscli"]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=self.access_key,
            AWS_SECRET_ACCESS_KEY=self.secret_key,
            AWS_DEFAULT_REGION=self.region,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_MAX_ATTEMPTS="1",
            AWS_RETRY_MODE="standard",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_PAGER="",
        )
        return env

    def __call__(self, *args: str, output: str = "json"):
        argv = [*args, "--endpoint-url", self.endpoint_url, "--output", output]
        proc = subprocess.run(
            [*self.command(), *argv], env=self.env(), capture_output=True, text=True, timeout=120
        )
        if proc.returncode != 0:
            raise AwsCliError(argv, proc.returncode, proc.stdout, proc.stderr)
        if output != "json":
            return proc.stdout.strip()
        return json.loads(proc.stdout) if proc.stdout.strip() else None


# --------------------------------------------------------------------------- server process


@dataclass
class ReliquaryProcess:
    """One `reliquary serve` child process. stdout is drained by a thread into `stdout_lines`
    (so the child never blocks on a full pipe); stderr goes to `<workdir>/stderr-N.log`."""

    args: list[str]
    env: dict[str, str]
    workdir: Path
    stdout_lines: list[str] = field(default_factory=list)
    url: str = ""
    port: int = 0
    proc: subprocess.Popen | None = None
    _lines_changed: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> "ReliquaryProcess":
        binary = reliquary_binary()
        if not binary.exists():
            pytest.fail(f"{binary} does not exist: run `cargo build -p reliquary` (or scripts/test), "
                        "or point RELIQUARY_BIN at the binary")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = self.workdir / f"stderr-{len(list(self.workdir.glob('stderr-*.log')))}.log"
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [str(binary), "serve", *self.args],
            stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL,
            env=self.env, cwd=self.workdir, text=True, bufsize=1,
        )
        ready: queue.Queue = queue.Queue()

        def drain() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            announced = False
            for line in self.proc.stdout:
                with self._lines_changed:
                    self.stdout_lines.append(line.rstrip("\n"))
                    self._lines_changed.notify_all()
                match = LISTENING_LINE.search(line)
                if match and not announced:
                    announced = True
                    ready.put(match)
            ready.put(None)

        threading.Thread(target=drain, daemon=True).start()
        try:
            match = ready.get(timeout=STARTUP_TIMEOUT_S)
        except queue.Empty:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"no 'Reliquary listening on' line within {STARTUP_TIMEOUT_S}s\n{self.diagnostics()}")
        if match is None:
            code = self.proc.wait()
            pytest.fail(f"reliquary serve exited with {code} before listening\n{self.diagnostics()}")
        self.url = f"http://{match['host']}:{match['port']}"
        self.port = int(match["port"])
        return self

    def wait_for_stdout(self, pattern: str, timeout: float = 10.0) -> str:
        """Block until a stdout line matching `pattern` (regex) has been printed; return it."""
        regex = re.compile(pattern)

        def found():
            return next((line for line in self.stdout_lines if regex.search(line)), None)

        with self._lines_changed:
            if not self._lines_changed.wait_for(found, timeout=timeout):
                pytest.fail(f"no stdout line matching {pattern!r} within {timeout}s\n{self.diagnostics()}")
            return found()

    def exports(self) -> dict[str, str]:
        """The `export NAME=value` lines printed so far."""
        found = {}
        for line in self.stdout_lines:
            match = EXPORT_LINE.match(line.strip())
            if match:
                found[match["name"]] = match["value"].strip("'\"")
        return found

    def stop(self) -> int:
        """SIGTERM, wait for the drain, return the exit code; kill and fail on timeout."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._stderr.close()
                pytest.fail(f"reliquary serve did not exit within {SHUTDOWN_TIMEOUT_S}s of SIGTERM\n{self.diagnostics()}")
        self._stderr.close()
        return self.proc.returncode

    def diagnostics(self) -> str:
        try:
            err = self.stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            err = "(no stderr)"
        out = "\n".join(self.stdout_lines[-40:])
        return f"--- stdout ---\n{out}\n--- stderr (tail) ---\n{err}"


def server_env(identity: bool = True, **extra: str) -> dict[str, str]:
    """A clean environment for the server: no RELIQUARY_*/AWS_* from the caller, plus the fixed
    test identity unless identity=False (first-start credential generation)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELIQUARY_", "AWS_"))}
    env["RELIQUARY_REGION"] = SERVER_REGION
    if identity:
        env.update(
            RELIQUARY_ACCOUNT_ID=ACCOUNT_ID,
            RELIQUARY_ACCESS_KEY_ID=ACCESS_KEY_ID,
            RELIQUARY_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        )
    env.update(extra)
    return env


def write_config(path: Path, quotas: dict[str, int]) -> Path:
    lines = ["[quotas]"] + [f"{key} = {value}" for key, value in quotas.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def psql(sql: str) -> None:
    """Run one statement against the admin database `test` (always present, trust auth)."""
    proc = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", f"{postgres_base_url()}/test", "-c", sql],
        capture_output=True, text=True, timeout=60,
    )
    if proc.returncode != 0:
        pytest.fail(f"psql {sql!r} failed ({proc.returncode}): {proc.stderr.strip()}")


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database; yields its URL and drops it afterwards."""
    name = f"reliquary_e2e_{uuid.uuid4().hex[:12]}"
    psql(f'CREATE DATABASE "{name}"')
    try:
        yield f"{postgres_base_url()}/{name}"
    finally:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class RunningServer:
    backend: str
    url: str
    data_dir: Path
    process: ReliquaryProcess
    public_url: str | None = None
    database_url: str | None = None  # postgres only; SQLite lives at <data_dir>/reliquary.db

    @property
    def endpoint_base(self) -> str:
        return (self.public_url or self.url).rstrip("/")


@contextlib.contextmanager
def running_server(backend: str, workdir: Path, quotas: dict[str, int] | None = None,
                   public_url: str | None = None) -> Iterator[RunningServer]:
    """Start `reliquary serve` on 127.0.0.1:0 with the fixed test identity on `backend`
    ("sqlite" = the default database in the data dir, "postgres" = a fresh database), stop it
    with SIGTERM at the end and require exit code 0."""
    assert backend in BACKENDS, backend
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)  # creating a missing one is test_lifecycle's business
    args = ["--listen", "127.0.0.1:0", "--data-dir", str(data_dir)]
    if quotas:
        args += ["--config", str(write_config(workdir / "reliquary.toml", quotas))]
    if public_url:
        args += ["--public-url", public_url]
    with contextlib.ExitStack() as stack:
        database_url = None
        if backend == "postgres":
            database_url = stack.enter_context(postgres_database())
            args += ["--database-url", database_url]
        process = ReliquaryProcess(args=args, env=server_env(), workdir=workdir).start()
        try:
            yield RunningServer(backend, process.url, data_dir, process, public_url, database_url)
        finally:
            code = process.stop()
        assert code == 0, f"reliquary serve exited {code} after SIGTERM\n{process.diagnostics()}"


# --------------------------------------------------------------------------- pagination


def walk_pages_with_inserts(pages: Iterable[dict], result_key: str, originals: list[str],
                            insert: Callable[[], None], page_size: int) -> tuple[list[str], bool]:
    """Walk a boto3 page iterator (lazy: each page is requested after the previous one was
    consumed), collecting item names. After the first page that leaves some but not all of
    `originals` seen — i.e. the cursor sits inside our own items — call `insert()` once.
    Returns (names in order, whether insert ran)."""
    seen: list[str] = []
    inserted = False
    for page in pages:
        items = page.get(result_key, [])
        assert len(items) <= page_size, f"page of {len(items)} > {page_size}"
        seen += [item["name"] for item in items]
        got = sum(1 for name in originals if name in seen)
        if not inserted and 0 < got < len(originals):
            insert()
            inserted = True
    return seen, inserted


def assert_insert_safe_listing(seen: list[str], originals: list[str], after: str, before: str) -> None:
    duplicates = sorted({n for n in seen if seen.count(n) > 1})
    assert not duplicates, f"listed more than once: {duplicates}"
    missing = [n for n in originals if n not in seen]
    assert not missing, f"never listed: {missing}"
    assert after in seen, f"{after} was created between pages, sorts after the cursor, and was never listed"
    assert seen.count(before) <= 1


def walk_pages_with_inserts_by(pages: Iterable[dict], result_key: str, name_of: Callable[[dict], str],
                               originals: list[str], insert: Callable[[], None],
                               page_size: int) -> tuple[list[str], bool]:
    """walk_pages_with_inserts for items whose name is not `item["name"]` (ListPackages:
    `item["package"]`): `name_of(item)` gives it."""
    seen: list[str] = []
    inserted = False
    for page in pages:
        items = page.get(result_key, [])
        assert len(items) <= page_size, f"page of {len(items)} > {page_size}"
        seen += [name_of(item) for item in items]
        got = sum(1 for name in originals if name in seen)
        if not inserted and 0 < got < len(originals):
            insert()
            inserted = True
    return seen, inserted


# --------------------------------------------------------------------------- packages and versions

NAMESPACE = "ns"  # the generic namespace package tests use unless they say otherwise
HASH_ALGORITHMS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def asset_hashes(data: bytes) -> dict[str, str]:
    """The `hashes` map an AssetSummary of `data` must carry (all four, lowercase hex)."""
    return {name: hashlib.new(algorithm, data).hexdigest() for name, algorithm in HASH_ALGORITHMS.items()}


def generic(domain: str, repository: str, package: str, namespace: str = NAMESPACE) -> dict:
    """The coordinates every package-scoped call takes, for a generic package."""
    return {"domain": domain, "repository": repository, "format": "generic", "namespace": namespace,
            "package": package}


def publish_asset(client, domain: str, repository: str, package: str, version: str, name: str,
                  content: bytes, unfinished: bool = False, namespace: str = NAMESPACE,
                  sha256: str | None = None) -> dict:
    """One PublishPackageVersion call. `sha256` overrides the (correct) assetSHA256 header."""
    kwargs = dict(generic(domain, repository, package, namespace), packageVersion=version, assetName=name,
                  assetContent=content, assetSHA256=sha256 if sha256 is not None else sha256_hex(content))
    if unfinished:
        kwargs["unfinished"] = True
    return client.publish_package_version(**kwargs)


def publish(client, domain: str, repo: str, package: str, version: str, assets: dict[str, bytes],
            unfinished: bool = False, namespace: str = NAMESPACE) -> dict:
    """Publish every asset of `assets` in order into one generic version: all but the last with
    unfinished=True, the last one with `unfinished`. Returns the last response."""
    assert assets, "publish needs at least one asset"
    items = list(assets.items())
    response: dict = {}
    for index, (name, content) in enumerate(items):
        last = index == len(items) - 1
        response = publish_asset(client, domain, repo, package, version, name, content,
                                 unfinished=unfinished or not last, namespace=namespace)
    return response


def version_content(package: str, version: str, salt: str = "") -> bytes:
    """The deterministic content publish_versions gives `<version>.txt`."""
    return f"{package} {version} {salt}".encode()


def publish_versions(client, domain: str, repo: str, package: str, versions: Iterable[str],
                     namespace: str = NAMESPACE, salt: str = "", pause: float = 0.0) -> dict[str, str]:
    """Publish each version with one asset `<version>.txt` (version_content); `pause` seconds
    between versions (publishedTime has millisecond resolution). Returns {version: revision}."""
    revisions = {}
    for index, version in enumerate(versions):
        if index and pause:
            time.sleep(pause)
        response = publish(client, domain, repo, package, version,
                           {f"{version}.txt": version_content(package, version, salt)}, namespace=namespace)
        revisions[version] = response["versionRevision"]
    return revisions


def describe_version(client, domain: str, repo: str, package: str, version: str,
                     namespace: str = NAMESPACE) -> dict:
    return client.describe_package_version(**generic(domain, repo, package, namespace),
                                           packageVersion=version)["packageVersion"]


def list_versions(client, domain: str, repo: str, package: str, namespace: str = NAMESPACE,
                  **filters) -> list[dict]:
    """Every PackageVersionSummary of a generic package (all pages), in the server's order."""
    paginator = client.get_paginator("list_package_versions")
    return [item for page in paginator.paginate(**generic(domain, repo, package, namespace), **filters)
            for item in page["versions"]]


def version_statuses(client, domain: str, repo: str, package: str, namespace: str = NAMESPACE) -> dict[str, str]:
    return {v["version"]: v["status"] for v in list_versions(client, domain, repo, package, namespace)}


def list_assets(client, domain: str, repo: str, package: str, version: str,
                namespace: str = NAMESPACE) -> list[dict]:
    """Every AssetSummary of a generic version (all pages), in the server's order."""
    paginator = client.get_paginator("list_package_version_assets")
    pages = paginator.paginate(**generic(domain, repo, package, namespace), packageVersion=version)
    return [item for page in pages for item in page["assets"]]


def download(client, domain: str, repo: str, package: str, version: str, asset: str,
             namespace: str = NAMESPACE, **kwargs) -> tuple[bytes, dict]:
    """GetPackageVersionAsset: (body bytes, the response with assetName/packageVersion/...)."""
    response = client.get_package_version_asset(**generic(domain, repo, package, namespace),
                                                packageVersion=version, asset=asset, **kwargs)
    with contextlib.closing(response["asset"]) as body:
        return body.read(), response


def list_package_names(client, domain: str, repo: str, **filters) -> list[str]:
    """Names (`package`) of every ListPackages item (all pages), in the server's order."""
    paginator = client.get_paginator("list_packages")
    return [item["package"] for page in paginator.paginate(domain=domain, repository=repo, **filters)
            for item in page["packages"]]


def restrictions(publish: str, upstream: str) -> dict:
    return {"publish": publish, "upstream": upstream}


def set_origin(client, domain: str, repo: str, package: str, publish: str, upstream: str,
               format: str = "generic", namespace: str | None = NAMESPACE) -> dict:
    """PutPackageOriginConfiguration; returns its originConfiguration."""
    kwargs = {"domain": domain, "repository": repo, "format": format, "package": package,
              "restrictions": restrictions(publish, upstream)}
    if namespace is not None:
        kwargs["namespace"] = namespace
    return client.put_package_origin_configuration(**kwargs)["originConfiguration"]


def asset_size_bytes(client, domain: str) -> int:
    return client.describe_domain(domain=domain)["domain"]["assetSizeBytes"]


def failed_codes(result: dict) -> dict[str, str]:
    """{version: errorCode} of a batch result's failedVersions."""
    return {version: error["errorCode"] for version, error in (result.get("failedVersions") or {}).items()}


# --------------------------------------------------------------------------- garbage collection


def run_gc(server: "RunningServer", grace_seconds: int = 0) -> int:
    """`reliquary gc` once against the server's data dir and database (while it keeps running);
    requires exit 0 and a `removed N blobs` line; returns N."""
    args = [str(reliquary_binary()), "gc", "--data-dir", str(server.data_dir)]
    if server.database_url:
        args += ["--database-url", server.database_url]
    args += ["--grace-seconds", str(grace_seconds)]
    proc = subprocess.run(args, env=server_env(), capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"reliquary gc exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    match = re.search(r"removed (\d+) blobs?\b", proc.stdout)
    assert match, f"no 'removed N blobs' line in the output of reliquary gc:\n{proc.stdout}\n{proc.stderr}"
    return int(match[1])


def blob_files(data_dir: Path) -> list[Path]:
    """Every file under `<data_dir>/blobs/` (content-addressed: named by the SHA-256)."""
    root = data_dir / "blobs"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --------------------------------------------------------------------------- servers a test kills


@dataclass
class ServerStorage:
    """A data dir (and, on postgres, a database) that outlives the server processes started on it,
    so a test can kill -9 one and start the next on the same state."""

    backend: str
    workdir: Path
    data_dir: Path
    database_url: str | None = None

    def start(self, quotas: dict[str, int] | None = None, **env: str) -> RunningServer:
        args = ["--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir)]
        if self.database_url:
            args += ["--database-url", self.database_url]
        if quotas:
            args += ["--config", str(write_config(self.workdir / "reliquary.toml", quotas))]
        process = ReliquaryProcess(args=args, env=server_env(**env), workdir=self.workdir).start()
        return RunningServer(self.backend, process.url, self.data_dir, process, None, self.database_url)


@contextlib.contextmanager
def server_storage(backend: str, workdir: Path) -> Iterator[ServerStorage]:
    """A fresh ServerStorage on `backend`; the postgres database is dropped afterwards."""
    assert backend in BACKENDS, backend
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    if backend == "postgres":
        with postgres_database() as url:
            yield ServerStorage(backend, workdir, data_dir, url)
    else:
        yield ServerStorage(backend, workdir, data_dir)


def kill9(server: RunningServer) -> None:
    """SIGKILL the server process and reap it: no drain, no shutdown hooks."""
    process = server.process
    assert process.proc is not None
    if process.proc.poll() is None:
        process.proc.kill()
    process.proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
    process._stderr.close()


def stop_cleanly(server: RunningServer) -> None:
    code = server.process.stop()
    assert code == 0, f"reliquary serve exited {code} after SIGTERM\n{server.process.diagnostics()}"


def set_status(client, domain: str, repo: str, package: str, version: str, status: str,
               namespace: str = NAMESPACE) -> dict:
    """Move one generic version to `status`: Disposed through DisposePackageVersions, Deleted
    through DeletePackageVersions, anything else through UpdatePackageVersionsStatus. Requires
    success and returns the batch result."""
    coordinates = generic(domain, repo, package, namespace)
    if status == "Disposed":
        result = client.dispose_package_versions(**coordinates, versions=[version])
    elif status == "Deleted":
        result = client.delete_package_versions(**coordinates, versions=[version])
    else:
        result = client.update_package_versions_status(**coordinates, versions=[version], targetStatus=status)
    assert result["successfulVersions"][version]["status"] == status, result
    assert not result.get("failedVersions"), result
    return result


def stored_versions(client, domain: str, repo: str, package: str,
                    namespace: str = NAMESPACE) -> dict[str, tuple[str, str]]:
    """{version: (status, revision)} of a generic package in `repo`; {} when the package does not
    exist there (ListPackageVersions answers ResourceNotFound)."""
    try:
        return {v["version"]: (v["status"], v["revision"])
                for v in list_versions(client, domain, repo, package, namespace)}
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return {}
        raise


@contextlib.contextmanager
def running_server_with_env(backend: str, workdir: Path, **env: str) -> Iterator[RunningServer]:
    """Like running_server (fresh data dir; on postgres a fresh database), with extra server
    environment (e.g. RELIQUARY_EXTERNAL_NPMJS_URL); SIGTERM and exit code 0 at the end."""
    with server_storage(backend, workdir) as storage:
        args = ["--listen", "127.0.0.1:0", "--data-dir", str(storage.data_dir)]
        if storage.database_url:
            args += ["--database-url", storage.database_url]
        process = ReliquaryProcess(args=args, env=server_env(**env), workdir=workdir).start()
        try:
            yield RunningServer(backend, process.url, storage.data_dir, process, None, storage.database_url)
        finally:
            code = process.stop()
        assert code == 0, f"reliquary serve exited {code} after SIGTERM\n{process.diagnostics()}"
