"""`/health` when what the server depends on stops answering: it probes the database and the blob
store at once, each within `--health-timeout-ms` (default 800), and answers 503 naming what did not
answer well inside a load balancer's probe timeout, then 200 again by itself once it is back.

The database goes away behind a TCP proxy that stops forwarding (a hung server, not a refused
port: the harder case); the blob store is an S3 endpoint that accepts connections and never
answers."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from support import ReliquaryProcess, postgres_database, server_env

# far above the 800 ms probe timeout, far below the 10 s the database pool waits before failing
ANSWERED_WITHIN_S = 3.0


class Blackhole:
    """A TCP proxy to `target` that can stop forwarding: bytes sent while it is down are dropped,
    so a client waits for answers that never come."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.up = True
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                if self.up:
                    sink.sendall(chunk)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.close()


def health(url: str) -> tuple[int, str, float]:
    started = time.monotonic()
    response = requests.get(f"{url}/health", timeout=30)
    return response.status_code, response.text, time.monotonic() - started


def wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if health(url)[0] == 200:
            return
        time.sleep(0.5)
    pytest.fail("the server did not become healthy again")


def test_a_hung_database_is_a_fast_503_and_service_resumes(tmp_path):
    with postgres_database() as url:
        parts = urlsplit(url)
        proxy = Blackhole((parts.hostname, parts.port or 5432))
        proxied = url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
        process = ReliquaryProcess(args=["--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"),
                                         "--database-url", proxied], env=server_env(), workdir=tmp_path).start()
        try:
            assert health(process.url)[0] == 200
            proxy.up = False
            status, body, took = health(process.url)
            assert status == 503 and "database" in body and "blob" not in body, (status, body)
            assert took < ANSWERED_WITHIN_S, took
            proxy.up = True
            wait_healthy(process.url)
        finally:
            code = process.stop()
            proxy.close()
        assert code == 0, process.diagnostics()


def test_a_hung_blob_store_is_a_fast_503(tmp_path):
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never answers
    try:
        env = server_env(RELIQUARY_S3_ENDPOINT=f"http://127.0.0.1:{silent.getsockname()[1]}",
                         RELIQUARY_S3_REGION="us-east-1", RELIQUARY_S3_ACCESS_KEY_ID="k",
                         RELIQUARY_S3_SECRET_ACCESS_KEY="s", RELIQUARY_S3_FORCE_PATH_STYLE="true",
                         RELIQUARY_HEALTH_TIMEOUT_MS="500")
        process = ReliquaryProcess(args=["--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"),
                                         "--blob-store", "s3://bucket"], env=env, workdir=tmp_path).start()
        try:
            status, body, took = health(process.url)
            assert status == 503 and "blob store" in body and "database" not in body, (status, body)
            assert took < ANSWERED_WITHIN_S, took
        finally:
            code = process.stop()
        assert code == 0, process.diagnostics()
    finally:
        silent.close()
