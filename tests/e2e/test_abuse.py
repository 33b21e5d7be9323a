"""The standing abuse suite (issue: hardening): each hole a security review found, as a black-box
test through HTTP on SQLite and PostgreSQL, so that a regression shows."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import stat
import subprocess
import time

import pytest
import requests

from npm_support import auth_token, npm_endpoint
from support import ACCOUNT_ID, BACKENDS, make_client, server_storage, stop_cleanly, unique


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signing_key(server) -> bytes:
    """The token signing key, read from the server's database as a local user with access could."""
    query = "SELECT key FROM signing_keys WHERE purpose = 'auth-token'"
    if server.database_url is None:
        with sqlite3.connect(server.data_dir / "reliquary.db") as db:
            return bytes(db.execute(query).fetchone()[0])
    hex_key = subprocess.run(
        ["psql", server.database_url, "-Atc", query.replace("SELECT key", "SELECT encode(key, 'hex')")],
        check=True, capture_output=True, text=True).stdout.strip()
    return bytes.fromhex(hex_key)


def mint(key: bytes, claims: dict) -> str:
    """A token as the server signs one: base64url(JSON claims) "." base64url(HMAC-SHA256)."""
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return f"{b64url(payload)}.{b64url(hmac.new(key, payload, hashlib.sha256).digest())}"


def packument_status(endpoint: str, token: str) -> int:
    response = requests.get(f"{endpoint}no-such-package", headers={"Authorization": f"Bearer {token}"},
                            timeout=30)
    return response.status_code


@pytest.mark.parametrize("backend", BACKENDS)
def test_tokens_are_bounded_to_their_lifetime_and_their_principal(backend, tmp_path):
    """A token whose expiry lies beyond the 12-hour maximum is refused even when its signature is
    good (the key leaked, or a bug minted it); so is a token whose principal is gone (the server's
    credentials were rotated) — on the next request, not at expiry (compatibility S1)."""
    with server_storage(backend, tmp_path) as storage:
        server = storage.start()
        try:
            client = make_client(server.url)
            domain = unique("t")
            client.create_domain(domain=domain)
            client.create_repository(domain=domain, repository="repo")
            endpoint = npm_endpoint(client, domain, "repo")
            token = auth_token(client, domain)
            assert packument_status(endpoint, token) == 404  # authenticated: the package is missing

            key = signing_key(server)
            now = int(time.time())
            claims = {"a": ACCOUNT_ID, "p": "AKIDRELIQUARYTEST00", "o": ACCOUNT_ID, "d": domain}
            assert packument_status(endpoint, mint(key, {**claims, "e": now + 3600})) == 404  # the format is right
            assert packument_status(endpoint, mint(key, {**claims, "e": now + 43_200 + 3600})) == 401
            assert packument_status(endpoint, mint(key, {**claims, "e": now + 10 * 365 * 86_400})) == 401
            assert packument_status(endpoint, mint(key, {**claims, "p": "AKIDSOMEONEELSE000", "e": now + 3600})) \
                == 401
        finally:
            stop_cleanly(server)

        # The same data, other root credentials: tokens of the old principal stop working at once.
        rotated = storage.start(RELIQUARY_ACCESS_KEY_ID="AKIDRELIQUARYROTATED",
                                RELIQUARY_SECRET_ACCESS_KEY="rotated-secret-0123456789abcdef")
        try:
            assert packument_status(endpoint.replace(server.url, rotated.url), token) == 401
            fresh = auth_token(make_client(rotated.url, "AKIDRELIQUARYROTATED", "rotated-secret-0123456789abcdef"),
                               domain)
            assert packument_status(endpoint.replace(server.url, rotated.url), fresh) == 404
        finally:
            stop_cleanly(rotated)


def test_the_data_directory_and_database_are_private(tmp_path):
    """The data directory (0700) and the SQLite database files (0600) hold the token signing key:
    no other local user may read them, whatever the umask (compatibility S2)."""
    with server_storage("sqlite", tmp_path) as storage:
        storage.data_dir.chmod(0o755)  # as a user's mkdir leaves it
        server = storage.start()
        try:
            client = make_client(server.url)
            client.create_domain(domain=unique("t"))  # a write: the WAL exists
            assert stat.S_IMODE(storage.data_dir.stat().st_mode) == 0o700
            files = sorted(storage.data_dir.glob("reliquary.db*"))
            assert [f.name for f in files][:1] == ["reliquary.db"], files
            for f in files:
                assert stat.S_IMODE(f.stat().st_mode) == 0o600, (f, oct(f.stat().st_mode))
        finally:
            stop_cleanly(server)


# --------------------------------------------------------------------------- slow and broken clients

import hashlib as _hashlib  # noqa: E402
import socket  # noqa: E402
from urllib.parse import quote, urlencode, urlsplit  # noqa: E402

from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

import cargo_support  # noqa: E402
import pypi_support  # noqa: E402
from npm_support import make_tarball, publish_document  # noqa: E402
from support import ACCESS_KEY_ID, CLIENT_REGION, SECRET_ACCESS_KEY, running_server_with_env  # noqa: E402

LIMITS = {"RELIQUARY_HEADER_TIMEOUT_SECONDS": "1", "RELIQUARY_BODY_TIMEOUT_SECONDS": "1",
          "RELIQUARY_MAX_CONNECTIONS": "4"}
WAIT_S = 10  # far beyond the 1 s timeouts: only a server that never times out reaches it


@pytest.fixture(scope="module", params=BACKENDS, ids=BACKENDS)
def limited(request, tmp_path_factory):
    """A server with 1-second header and body timeouts and at most 4 connections."""
    with running_server_with_env(request.param, tmp_path_factory.mktemp(f"limited-{request.param}"),
                                 **LIMITS) as server:
        client = make_client(server.url)
        domain = unique("t")
        client.create_domain(domain=domain)
        client.create_repository(domain=domain, repository="repo")
        yield server, client, domain


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=WAIT_S)
    return sock


def closed_by_server(sock: socket.socket) -> bytes:
    """Reads until the server closes; what it sent before closing (b"" or a short error response)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def test_trickled_headers_and_idle_connections_are_closed(limited):
    """Slowloris: headers that never finish, and a connection that never sends a byte, are closed
    after the header timeout (compatibility S3)."""
    server, _, _ = limited
    idle = connect(server.url)
    trickle = connect(server.url)
    trickle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    for _ in range(int(WAIT_S / 0.25)):
        try:
            trickle.sendall(b"X")
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(0.25)
    assert time.monotonic() - started < WAIT_S - 1, "the trickling client was never cut off"
    assert not closed_by_server(trickle).startswith(b"HTTP/1.1 200")
    assert closed_by_server(idle) in (b"",) or b" 408 " in closed_by_server(idle)
    trickle.close()
    idle.close()


def test_connections_beyond_the_limit_wait_for_a_free_one(limited):
    """With at most 4 connections, a fifth is served only once one of the four goes (here: closed by
    the header timeout); it is queued, not refused (compatibility S3)."""
    server, _, _ = limited
    holders = [connect(server.url) for _ in range(4)]
    time.sleep(0.2)  # all four accepted
    fifth = connect(server.url)
    fifth.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    fifth.settimeout(0.5)
    with pytest.raises(socket.timeout):
        fifth.recv(1)  # not served while four connections are open
    fifth.settimeout(WAIT_S)
    assert closed_by_server(fifth).startswith(b"HTTP/1.1 200")
    for sock in holders:
        sock.close()


def send_partial(url: str, method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
    """Sends the headers and the first half of `body` (Content-Length says all of it), then stops:
    the server's body timeout must answer."""
    sock = connect(url)
    head = f"{method} {target} HTTP/1.1\r\nHost: {urlsplit(url).netloc}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() not in ("host", "content-length"))
    sock.sendall(head.encode() + b"\r\n" + body[: len(body) // 2])
    started = time.monotonic()
    response = closed_by_server(sock)
    sock.close()
    assert time.monotonic() - started < WAIT_S - 1
    return response


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def test_a_body_that_stops_is_a_400_and_stores_nothing(limited):
    """A request body that stops mid-way (the client stalled or broke) is the client's error on every
    write path: 400, never a 5xx, and nothing of it is stored (compatibility S4)."""
    server, client, domain = limited
    # control plane (signed for the whole body; the signature is checked before the body is read)
    body = json.dumps({"description": "x" * 4000}).encode()
    url = f"{server.url}/v1/domain?domain={domain}-x"
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "codeartifact", CLIENT_REGION).add_auth(request)
    response = send_partial(server.url, "POST", f"/v1/domain?domain={domain}-x", dict(request.headers), body)
    assert status_of(response) == 400, response[:300]

    # PublishPackageVersion, streamed into staging
    asset = b"a" * 200_000
    params = {"domain": domain, "repository": "repo", "format": "generic", "namespace": "ns", "package": "cut",
              "version": "1.0.0", "asset": "cut.bin"}
    target = "/v1/package/version/publish?" + urlencode(params, quote_via=quote)
    request = AWSRequest(method="POST", url=f"{server.url}{target}", data=asset,
                         headers={"x-amz-content-sha256": _hashlib.sha256(asset).hexdigest()})
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "codeartifact", CLIENT_REGION).add_auth(request)
    response = send_partial(server.url, "POST", target, dict(request.headers), asset)
    assert status_of(response) == 400, response[:300]

    token = auth_token(client, domain)
    # npm publish
    npm = npm_endpoint(client, domain, "repo")
    tarball, manifest = make_tarball("cut-npm", "1.0.0")
    body = json.dumps(publish_document(npm, manifest, tarball)).encode()
    response = send_partial(server.url, "PUT", urlsplit(npm).path + "cut-npm",
                            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, body)
    assert status_of(response) == 400, response[:300]

    # twine upload
    pypi = pypi_support.pypi_endpoint(client, domain, "repo")
    dist = pypi_support.make_sdist("cut-pypi", "1.0.0")
    prepared = requests.Request("POST", pypi, files=[
        *[(k, (None, str(v))) for k, v in pypi_support.upload_fields(dist).items() if not isinstance(v, list)],
        ("content", (dist.filename, dist.content + b"\0" * 50_000, "application/octet-stream"))],
        headers=pypi_support.basic(token)).prepare()
    response = send_partial(server.url, "POST", urlsplit(pypi).path, dict(prepared.headers), prepared.body)
    assert status_of(response) == 400, response[:300]

    # cargo publish (length-prefixed JSON, then the .crate streamed into staging)
    cargo = cargo_support.cargo_endpoint(client, domain, "repo")
    crate = cargo_support.make_crate("cut-cargo", "1.0.0", files={"pad": b"".join(
        _hashlib.sha512(str(i).encode()).digest() for i in range(1000))})  # incompressible: the cut is in the .crate
    body = cargo_support.publish_body(cargo_support.new_crate("cut-cargo", "1.0.0"), crate)
    response = send_partial(server.url, "PUT", urlsplit(cargo).path + "api/v1/crates/new",
                            {"Authorization": f"Bearer {token}"}, body)
    assert status_of(response) == 400, response[:300]

    listed = client.list_packages(domain=domain, repository="repo")["packages"]
    assert listed == [], listed
    assert [d["name"] for d in client.list_domains()["domains"] if d["name"] == f"{domain}-x"] == []


def test_upload_form_text_fields_are_bounded(limited):
    """twine's form: a 5 MiB text field, or more than 1,000 fields, is 400 before anything is stored
    (compatibility S5)."""
    server, client, domain = limited
    pypi = pypi_support.pypi_endpoint(client, domain, "repo")
    token = auth_token(client, domain)
    dist = pypi_support.make_sdist("formlimits", "1.0.0")
    big = pypi_support.upload(pypi, token, dist, description="d" * (5 * 1024 * 1024))
    assert big.status_code == 400 and "exceeds" in big.text, big.text[:300]
    many = pypi_support.upload(pypi, token, dist, classifiers=[f"Topic :: {i}" for i in range(1001)])
    assert many.status_code == 400 and "more than 1000 fields" in many.text, many.text[:300]
    assert client.list_packages(domain=domain, repository="repo", format="pypi")["packages"] == []


def test_concurrent_publishes_of_one_version_succeed_exactly_once(limited):
    """Eight npm publishes of one version, the same tarball, different manifests, at once: exactly one
    is 201, the others 409, and the version holds the winner's manifest (compatibility S6)."""
    from concurrent.futures import ThreadPoolExecutor

    from npm_support import put_publish

    _, client, domain = limited
    token = auth_token(client, domain)
    npm = npm_endpoint(client, domain, "repo")
    tarball, manifest = make_tarball("racer", "1.0.0")

    def publish(i: int) -> tuple[int, int]:
        return i, put_publish(npm, token, {**manifest, "description": f"publisher {i}"}, tarball).status_code

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(publish, range(8)))
    winners = [i for i, status in results if status in (200, 201)]
    assert len(winners) == 1 and sorted(s for _, s in results if s not in (200, 201)) == [409] * 7, results
    described = client.describe_package_version(domain=domain, repository="repo", format="npm", package="racer",
                                                packageVersion="1.0.0")["packageVersion"]
    assert described["summary"] == f"publisher {winners[0]}"


# --------------------------------------------------------------------------- what the review saw refused, kept refused


def operations():
    import boto3
    model = boto3.session.Session().client("codeartifact", region_name="us-east-1").meta.service_model
    for name in model.operation_names:
        http = model.operation_model(name).http
        yield name, http["method"], http["requestUri"].split("?")[0]


def test_every_operation_unsigned_is_refused(server):
    """All 48 operations of the model, on their own method and path, without a signature: 403
    MissingAuthenticationTokenException, with or without a body."""
    for name, method, path in operations():
        for body in (None, b'{"domain": "x"}'):
            response = requests.request(method, f"{server.url}{path}", data=body, timeout=30)
            assert response.status_code == 403, (name, body, response.status_code, response.text[:200])
            assert response.headers.get("x-amzn-ErrorType", "").startswith("MissingAuthenticationTokenException"), \
                (name, response.headers)


@pytest.mark.parametrize("path", [
    "/npm/d/{d}/repo/../other/demo",
    "/npm/d/{d}/repo/%2e%2e/other/demo",
    "/npm/d/{d}/repo//demo",
    "/npm/d/{d}/..%2f..%2fetc%2fpasswd",
    "/pypi/d/{d}/repo/simple/..%2f..%2f/",
    "/pypi/d/{d}/repo/files/demo/1.0/..%2F..%2Fblobs",
    "/maven/d/{d}/repo/com/example/../../../blobs/x.jar",
    "/cargo/d/{d}/repo/de/mo/..%2fdemo",
    "/v1/domain/../health",
    "/%2e%2e/%2e%2e/etc/passwd",
])
def test_path_tricks_are_client_errors_and_serve_nothing_else(client, server, domain, path):
    """Traversal and normalization tricks in package and control-plane paths: a 4xx (or the one
    asked thing's 404), never a 5xx, never another repository's or the disk's bytes."""
    token = auth_token(client, domain)
    owner = client.describe_domain(domain=domain)["domain"]["owner"]
    url = server.url + path.format(d=f"{domain}-{owner}")
    response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30,
                            allow_redirects=False)
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:200])
    assert b"root:" not in response.content


@pytest.mark.parametrize("field,value", [
    ("domain", "../etc"), ("domain", "a/b"), ("repository", "..%2fother"), ("repository", "a\\b"),
    ("package", "../../blobs"), ("namespace", "../x"), ("packageVersion", "1.0/../../x"),
])
def test_traversal_in_names_is_a_validation_error(client, domain, field, value):
    """Names with separators or dot segments never reach a path: ValidationException (or, for a
    name the model allows, simply not found)."""
    from botocore.exceptions import ClientError, ParamValidationError
    kwargs = {"domain": domain, "repository": "repo", "format": "generic", "namespace": "ns", "package": "pkg",
              "packageVersion": "1.0"}
    kwargs[field] = value
    try:
        client.describe_package_version(**kwargs)
    except ParamValidationError:
        return  # botocore refuses it before sending: the model's pattern
    except ClientError as error:
        assert error.response["Error"]["Code"] in ("ValidationException", "ResourceNotFoundException"), error.response
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 404)
    else:
        pytest.fail("a traversal name was answered")


def test_oversized_headers_and_uris_and_malformed_json_are_4xx(client, server, domain):
    """A 200 KiB header, a 100 KiB URI, and control-plane bodies that are not the model's JSON: each
    is a 4xx, never a 5xx or a hang."""
    big_header = requests.get(f"{server.url}/health", headers={"X-Big": "a" * 200_000}, timeout=30)
    assert 400 <= big_header.status_code < 500, big_header.status_code
    long_uri = requests.get(f"{server.url}/health?" + "a" * 100_000, timeout=30)
    assert long_uri.status_code < 500, long_uri.status_code
    from test_sigv4 import send, sign
    for body in (b"{", b"[]", b'{"encryptionKey": 5}', b"\xff\xfe", b'{"tags": "x"}', b'{"tags": [{"key": 1}]}'):
        request = sign("POST", f"{server.url}/v1/domain?domain={domain}-j", body)
        response = send(request)
        assert response.status_code == 400, (body, response.status_code, response.text[:200])
        assert response.headers.get("x-amzn-ErrorType"), response.headers
