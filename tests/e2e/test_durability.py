"""Crash safety with the real binary: `kill -9` in the middle of an upload and of a copy, then a
restart on the same data dir and database. Each test starts (and kills) its own servers, on SQLite
and on PostgreSQL."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import random
import threading
import time
from typing import Iterator
from urllib.parse import quote, urlencode, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from support import (
    ACCESS_KEY_ID,
    BACKENDS,
    CLIENT_REGION,
    NAMESPACE,
    SECRET_ACCESS_KEY,
    download,
    expect_error,
    kill9,
    list_assets,
    list_versions,
    make_client,
    publish,
    publish_versions,
    server_storage,
    stop_cleanly,
    stored_versions,
    unique,
)

pytestmark = pytest.mark.durability

MIB = 1 << 20
UPLOAD_SIZE = 300 * MIB
KILL_AFTER = 50 * MIB


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def storage(request, tmp_path):
    with server_storage(request.param, tmp_path) as created:
        yield created


@contextlib.contextmanager
def serving(storage):
    """A server on `storage`; stopped cleanly at the end unless the test killed it."""
    server = storage.start()
    try:
        yield server
    finally:
        if server.process.proc is not None and server.process.proc.poll() is None:
            stop_cleanly(server)


def body_chunks(total: int, seed: int = 300) -> Iterator[bytes]:
    """`total` bytes of incompressible, reproducible content in 1 MiB chunks."""
    block = random.Random(seed).randbytes(MIB)
    for index in range(0, total // MIB):
        yield index.to_bytes(8, "big") + block[8:]


class StreamingPublish(threading.Thread):
    """PublishPackageVersion of a large generated body, signed with botocore's SigV4Auth (the
    header x-amz-content-sha256 = the real hash, which is also the payload hash) and sent chunk by
    chunk with http.client, counting the bytes handed to the socket."""

    def __init__(self, url: str, params: dict[str, str], sha256: str, total: int):
        super().__init__(daemon=True)
        self.url, self.params, self.sha256, self.total = url, params, sha256, total
        self.sent = 0
        self.done = False
        self.status: int | None = None
        self.body = b""
        self.error: BaseException | None = None
        self.progress = threading.Condition()

    def run(self) -> None:
        try:
            parts = urlsplit(self.url)
            target = "/v1/package/version/publish?" + urlencode(self.params, quote_via=quote)
            request = AWSRequest(method="POST", url=f"{self.url}{target}", headers={
                "Host": parts.netloc,
                "Content-Length": str(self.total),
                "x-amz-content-sha256": self.sha256,
            })
            SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "codeartifact", CLIENT_REGION).add_auth(request)
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            connection.putrequest("POST", target, skip_host=True, skip_accept_encoding=True)
            for name, value in request.headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            for chunk in body_chunks(self.total):
                connection.send(chunk)
                with self.progress:
                    self.sent += len(chunk)
                    self.progress.notify_all()
            response = connection.getresponse()
            self.status, self.body = response.status, response.read()
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            self.error = error
        finally:
            with self.progress:
                self.done = True
                self.progress.notify_all()

    def wait_sent(self, count: int, timeout: float) -> None:
        with self.progress:
            self.progress.wait_for(lambda: self.sent >= count or self.done, timeout=timeout)
        assert self.sent >= count, (
            f"the upload stopped after {self.sent} bytes: status={self.status} error={self.error!r} "
            f"body={self.body[:500]!r}")


def assert_every_listed_asset_downloads(client, domain: str, repo: str) -> int:
    """Every asset of every version in `repo` is there, with the bytes its summary promises."""
    checked = 0
    for page in client.get_paginator("list_packages").paginate(domain=domain, repository=repo):
        for package in page["packages"]:
            namespace = package.get("namespace", NAMESPACE)
            for version in list_versions(client, domain, repo, package["package"], namespace):
                if version["status"] not in ("Published", "Unlisted"):
                    continue
                for asset in list_assets(client, domain, repo, package["package"], version["version"], namespace):
                    body, _ = download(client, domain, repo, package["package"], version["version"],
                                       asset["name"], namespace)
                    assert len(body) == asset["size"], (version["version"], asset["name"])
                    assert hashlib.sha256(body).hexdigest() == asset["hashes"]["SHA-256"]
                    checked += 1
    return checked


def test_kill_during_an_upload_leaves_no_trace(storage):
    domain = unique()
    small = {"1.0.0": os.urandom(1000), "1.1.0": os.urandom(70_000)}
    digest = hashlib.sha256()
    for chunk in body_chunks(UPLOAD_SIZE):
        digest.update(chunk)

    with serving(storage) as server:
        client = make_client(server.url)
        client.create_domain(domain=domain)
        client.create_repository(domain=domain, repository="repo")
        for version, content in small.items():
            publish(client, domain, "repo", "pkg", version, {"small.bin": content})

        params = {"domain": domain, "repository": "repo", "format": "generic", "namespace": NAMESPACE,
                  "package": "pkg", "version": "9.0.0", "asset": "huge.bin"}
        upload = StreamingPublish(server.url, params, digest.hexdigest(), UPLOAD_SIZE)
        upload.start()
        upload.wait_sent(KILL_AFTER, timeout=120)
        kill9(server)
        upload.join(timeout=60)
        assert not upload.is_alive()
        assert upload.status is None, f"the upload finished before the kill ({upload.status})"

    with serving(storage) as server:
        client = make_client(server.url)
        response = expect_error(client, "ResourceNotFoundException", 404, client.describe_package_version,
                                domain=domain, repository="repo", format="generic", namespace=NAMESPACE,
                                package="pkg", packageVersion="9.0.0")
        assert response["resourceType"] == "package-version"
        assert sorted(v["version"] for v in list_versions(client, domain, "repo", "pkg")) == sorted(small)
        for version, content in small.items():
            body, _ = download(client, domain, "repo", "pkg", version, "small.bin")
            assert body == content
        assert assert_every_listed_asset_downloads(client, domain, "repo") == len(small)
        assert client.describe_domain(domain=domain)["domain"]["assetSizeBytes"] == sum(map(len, small.values()))


def test_kill_during_a_copy_leaves_all_or_nothing(storage):
    domain = unique()
    versions = [f"1.0.{i}" for i in range(100)]
    rng = random.Random(100)
    outcomes = []

    server = storage.start()
    try:
        client = make_client(server.url)
        client.create_domain(domain=domain)
        client.create_repository(domain=domain, repository="staging")
        revisions = publish_versions(client, domain, "staging", "pkg", versions)

        for attempt in range(3):
            destination = f"release-{attempt}"
            client.create_repository(domain=domain, repository=destination)
            copier_client = make_client(server.url)

            def fire(copier=copier_client, destination=destination):
                with contextlib.suppress(Exception):  # the server dies under it
                    copier.copy_package_versions(domain=domain, sourceRepository="staging",
                                                 destinationRepository=destination, format="generic",
                                                 namespace=NAMESPACE, package="pkg", versions=versions)

            thread = threading.Thread(target=fire, daemon=True)
            delay = rng.uniform(0, 0.05)
            thread.start()
            time.sleep(delay)
            kill9(server)
            thread.join(timeout=60)

            server = storage.start()
            client = make_client(server.url)
            copied = stored_versions(client, domain, destination, "pkg")
            outcomes.append((round(delay * 1000), len(copied)))
            assert len(copied) in (0, len(versions)), f"attempt {attempt}: {len(copied)} versions after a kill " \
                                                      f"{delay * 1000:.0f} ms into the copy"
            for version, (status, revision) in copied.items():
                assert (status, revision) == ("Published", revisions[version])
        assert stored_versions(client, domain, "staging", "pkg") == {v: ("Published", r) for v, r in revisions.items()}
    finally:
        if server.process.proc is not None and server.process.proc.poll() is None:
            stop_cleanly(server)
    print(f"kill delays (ms) and versions found afterwards: {outcomes}")
