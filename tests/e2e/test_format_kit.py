"""What the format kit gives every format, checked through npm and PyPI against a stub public
registry that counts what it is asked (a stand-in for registry.npmjs.org and pypi.org/simple on
127.0.0.1): the one upstream-BLOCK rule (nothing listed, served or fetched from external
connections), the external-document cache (revalidated after its maximum age, served while the
registry is down), and the download responses (ETag/304, Range, HEAD).
One stub and one server per backend for the module; each test has its own domain and names."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from npm_support import (
    Npm,
    auth_token,
    http_get,
    make_tarball,
    new_project,
    packument_url,
    npm_endpoint,
    npm_versions_in,
    set_npm_origin,
    tarball_url,
)
from pypi_support import (
    anchors_by_text,
    make_wheel,
    pip_install,
    pip_install_fails,
    pypi_endpoint,
    pypi_versions_in,
    set_pypi_origin,
    simple_url,
    upload_ok,
    index_url,
    installed_version,
)
from support import BACKENDS, make_client, running_server_with_env, unique

CACHE_SECONDS = 3


class Stub:
    """A public registry on 127.0.0.1: npm packuments and tarballs under /npm/, PEP 691 pages and
    files under /simple/. It records every request (path, If-None-Match) and can be taken down."""

    def __init__(self) -> None:
        self.documents: dict[str, tuple[bytes, str]] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.down = False
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                with stub.lock:
                    stub.requests.append((self.path, self.headers.get("If-None-Match")))
                    found = stub.documents.get(self.path)
                    down = stub.down
                if down:
                    self.send_response(503)
                    self.end_headers()
                    return
                if found is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body, content_type = found
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def put(self, path: str, body: bytes, content_type: str) -> None:
        with self.lock:
            self.documents[path] = (body, content_type)

    def forget(self) -> None:
        with self.lock:
            self.requests.clear()

    def asked(self, prefix: str) -> list[tuple[str, str | None]]:
        with self.lock:
            return [r for r in self.requests if r[0].startswith(prefix)]

    def npm_package(self, name: str, version: str) -> bytes:
        """Publishes `name@version` on the stub; returns its tarball."""
        tarball, manifest = make_tarball(name, version)
        url = f"{self.url}/npm/{name}/-/{name}-{version}.tgz"
        manifest = dict(manifest, dist={"tarball": url, "shasum": hashlib.sha1(tarball).hexdigest()})
        packument = {"name": name, "dist-tags": {"latest": version}, "versions": {version: manifest},
                     "time": {version: "2026-01-01T00:00:00.000Z"}}
        self.put(f"/npm/{name}", json.dumps(packument).encode(), "application/json")
        self.put(f"/npm/{name}/-/{name}-{version}.tgz", tarball, "application/octet-stream")
        return tarball

    def pypi_project(self, name: str, version: str) -> None:
        wheel = make_wheel(name, version)
        url = f"{self.url}/files/{wheel.filename}"
        page = {"meta": {"api-version": "1.0"}, "name": name,
                "files": [{"filename": wheel.filename, "url": url, "hashes": {"sha256": wheel.sha256}}]}
        self.put(f"/simple/{name}/", json.dumps(page).encode(), "application/vnd.pypi.simple.v1+json")
        self.put(f"/files/{wheel.filename}", wheel.content, "application/octet-stream")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def stub():
    registry = Stub()
    yield registry
    registry.close()


@pytest.fixture(scope="module", params=BACKENDS, ids=BACKENDS)
def kit_server(request, stub, tmp_path_factory):
    workdir = tmp_path_factory.mktemp(f"kit-{request.param}")
    with running_server_with_env(request.param, workdir,
                                 RELIQUARY_EXTERNAL_NPMJS_URL=f"{stub.url}/npm",
                                 RELIQUARY_EXTERNAL_PYPI_URL=f"{stub.url}/simple",
                                 RELIQUARY_EXTERNAL_CACHE_SECONDS=str(CACHE_SECONDS)) as running:
        yield running


@pytest.fixture
def kit(kit_server):
    """A fresh domain with `store` (both public connections are not allowed on one repository,
    so `npm-store` and `pypi-store`) and `app` upstream of nothing but them."""
    client = make_client(kit_server.url)
    domain = unique("k")
    client.create_domain(domain=domain)
    for store, connection in (("npm-store", "public:npmjs"), ("pypi-store", "public:pypi")):
        client.create_repository(domain=domain, repository=store)
        client.associate_external_connection(domain=domain, repository=store, externalConnection=connection)
    return client, domain


def test_upstream_block_lists_serves_and_fetches_nothing_external_for_npm(kit, stub, tmp_path):
    client, domain = kit
    name = unique("blk")
    stub.npm_package(name, "1.0.0")
    npm = Npm(npm_endpoint(client, domain, "npm-store"), auth_token(client, domain), tmp_path / "npm")
    # published here first: publish ALLOW, upstream BLOCK
    npm.publish_new(tmp_path / "pkg", name, "2.0.0")
    stub.forget()  # before the package existed here, the registry was free to be asked
    assert sorted(npm.view(name)["versions"]) == ["2.0.0"]
    failed = npm.fails("install", f"{name}@1.0.0", cwd=new_project(tmp_path / "blocked"))
    assert "1.0.0" in failed.output
    assert http_get(tarball_url(npm.registry, name, "1.0.0"), npm.token).status_code == 404
    assert stub.asked(f"/npm/{name}") == [], "nothing is fetched for a package under upstream BLOCK"
    assert npm_versions_in(client, domain, "npm-store", name) == {"2.0.0": "Published"}

    set_npm_origin(client, domain, "npm-store", name, publish="ALLOW", upstream="ALLOW")
    assert sorted(npm.view(name)["versions"]) == ["1.0.0", "2.0.0"]
    assert http_get(tarball_url(npm.registry, name, "1.0.0"), npm.token).status_code == 200


def test_upstream_block_lists_serves_and_fetches_nothing_external_for_pypi(kit, stub, tmp_path):
    client, domain = kit
    name = unique("blk")
    stub.pypi_project(name, "1.0")
    endpoint, token = pypi_endpoint(client, domain, "pypi-store"), auth_token(client, domain)
    upload_ok(endpoint, token, make_wheel(name, "2.0"))
    stub.forget()  # before the package existed here, the index was free to be asked
    page = requests.get(simple_url(endpoint, name), auth=("aws", token))
    assert set(anchors_by_text(page.text)) == {make_wheel(name, "2.0").filename}
    pip_install_fails(index_url(endpoint, token), tmp_path / "blocked", f"{name}==1.0")
    remote = make_wheel(name, "1.0").filename
    assert http_get(f"{endpoint}files/{name}/1.0/{remote}", token).status_code == 404
    assert stub.asked(f"/simple/{name}") == [] and stub.asked("/files/") == [], \
        "nothing is fetched for a package under upstream BLOCK"
    assert set(pypi_versions_in(client, domain, "pypi-store", name)) == {"2.0"}

    set_pypi_origin(client, domain, "pypi-store", name, publish="ALLOW", upstream="ALLOW")
    pip_install(index_url(endpoint, token), tmp_path / "allowed", f"{name}==1.0")
    assert installed_version(tmp_path / "allowed", name) == "1.0"


def test_external_documents_are_cached_revalidated_and_served_while_the_registry_is_down(kit, stub, tmp_path):
    client, domain = kit
    name = unique("cache")
    stub.npm_package(name, "1.0.0")
    npm = Npm(npm_endpoint(client, domain, "npm-store"), auth_token(client, domain), tmp_path / "npm")
    assert npm.view(name)["version"] == "1.0.0"
    for _ in range(3):
        assert http_get(packument_url(npm.registry, name), npm.token).status_code == 200
    assert len(stub.asked(f"/npm/{name}")) == 1, "a fresh cached packument is not fetched again"

    time.sleep(CACHE_SECONDS + 0.5)
    assert npm.view(name)["version"] == "1.0.0"
    asked = stub.asked(f"/npm/{name}")
    assert len(asked) == 2 and asked[1][1] is not None, "an expired copy is revalidated with If-None-Match"

    time.sleep(CACHE_SECONDS + 0.5)
    stub.down = True
    try:
        assert npm.view(name)["version"] == "1.0.0", "the cached copy is served while the registry is down"
    finally:
        stub.down = False


def test_downloads_carry_etag_ranges_and_head(kit, stub, tmp_path):
    client, domain = kit
    name = unique("dl")
    npm = Npm(npm_endpoint(client, domain, "npm-store"), auth_token(client, domain), tmp_path / "npm")
    npm.publish_new(tmp_path / "pkg", name, "1.0.0")
    url = tarball_url(npm.registry, name, "1.0.0")
    whole = http_get(url, npm.token)
    assert whole.status_code == 200 and whole.headers["Accept-Ranges"] == "bytes"
    etag = whole.headers["ETag"]
    assert etag == '"' + hashlib.sha256(whole.content).hexdigest() + '"'
    assert http_get(url, npm.token, headers={"If-None-Match": etag}).status_code == 304

    part = http_get(url, npm.token, headers={"Range": "bytes=2-9"})
    assert part.status_code == 206 and part.content == whole.content[2:10]
    assert part.headers["Content-Range"] == f"bytes 2-9/{len(whole.content)}"
    suffix = http_get(url, npm.token, headers={"Range": "bytes=-5"})
    assert suffix.status_code == 206 and suffix.content == whole.content[-5:]
    beyond = http_get(url, npm.token, headers={"Range": f"bytes={len(whole.content)}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(whole.content)}"

    head = requests.head(url, headers={"Authorization": f"Bearer {npm.token}"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(whole.content))


def test_an_encoded_path_segment_never_moves_the_split(kit, tmp_path):
    client, domain = kit
    npm = Npm(npm_endpoint(client, domain, "npm-store"), auth_token(client, domain), tmp_path / "npm")
    npm.publish_new(tmp_path / "pkg", "demo", "1.0.0")
    # `%64` is `d`: the domain segment decodes to the same domain, and the package stays `demo`
    encoded = npm.registry.replace(f"/d/{domain}-", f"/d/%{ord(domain[0]):02x}{domain[1:]}-")
    assert encoded != npm.registry
    response = http_get(f"{encoded}demo", npm.token)
    assert response.status_code == 200 and response.json()["name"] == "demo"


def test_an_external_file_is_fetched_only_under_its_own_version_and_from_the_connections_host(kit, stub):
    """Abuse suite items 1 and 5: a PyPI file asked under a version its filename does not name (or
    one the model's pattern refuses) is not fetched or ingested (compatibility K5); a page naming a
    file on another host (here `localhost` for the stub's 127.0.0.1) is not followed (K6)."""
    client, domain = kit
    name = unique("ing")
    stub.pypi_project(name, "1.0")
    endpoint, token = pypi_endpoint(client, domain, "pypi-store"), auth_token(client, domain)
    remote = make_wheel(name, "1.0").filename
    stub.forget()
    for version in ("9.9.9", "1.0%20%3Cb%3E"):
        assert http_get(f"{endpoint}files/{name}/{version}/{remote}", token).status_code in (400, 404)
    assert stub.asked("/files/") == [], "nothing is fetched under another version"
    assert pypi_versions_in(client, domain, "pypi-store", name) == {}

    elsewhere = unique("far")
    wheel = make_wheel(elsewhere, "1.0")
    port = stub.url.rsplit(":", 1)[1]
    page = {"meta": {"api-version": "1.0"}, "name": elsewhere,
            "files": [{"filename": wheel.filename, "url": f"http://localhost:{port}/files/{wheel.filename}",
                       "hashes": {"sha256": wheel.sha256}}]}
    stub.put(f"/simple/{elsewhere}/", json.dumps(page).encode(), "application/vnd.pypi.simple.v1+json")
    stub.put(f"/files/{wheel.filename}", wheel.content, "application/octet-stream")
    stub.forget()
    assert http_get(f"{endpoint}files/{elsewhere}/1.0/{wheel.filename}", token).status_code == 404
    assert stub.asked("/files/") == [], "a file on a host not configured for the connection is not fetched"
