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
