"""Server memory (RSS) while large or many transfers go through it, against the 64 MiB target.

    .venv/bin/python bench/memory.py [--case generic|external|npm-publish|concurrent|bounds ...] [--size-mib 1024]
        [--external-mib 1024] [--npm-mib 200] [--clients 64 --seconds 30 --asset-kib 1024] [--bomb-gib 8 --field-mib 1024] [--output memory]

Every case starts its own release `reliquary serve` on SQLite (fresh temp data dir), takes an idle
baseline after a small warm-up transfer of the same kind (so first-request set-up is not counted),
then runs its transfer. Cases (all by default, in this order; `--case` picks some):
  generic      PublishPackageVersion of a --size-mib body generated chunk by chunk and sent with a raw
               SigV4-signed http.client request (tests/e2e/test_durability.StreamingPublish): never whole
               in memory on either side; then GetPackageVersionAsset of it through boto3, read in 1 MiB
               chunks, hashed and discarded.
  external     A second server stands in for PyPI: a --external-mib sdist is uploaded to it (twine's
               form, streamed). The measured server has a repository whose external connection is
               public:pypi pointed at the second one (RELIQUARY_EXTERNAL_PYPI_URL/_TOKEN); the file is
               read through that repository as pip reads it (project page, then the file, streamed and
               hashed), so the measured server ingests it from the second.
  npm-publish  The request `npm publish` sends for a --npm-mib tarball (JSON, the tarball base64 in it),
               streamed from a tarball built on disk, with requests.
  concurrent   --clients concurrent clients (wrk -t2 -c<clients>) downloading one --asset-kib PyPI file
               for --seconds; the RSS after is the highest sample in the 2 s after wrk ends.
  bounds       Two npm publishes at once of a small tarball inflating to --bomb-gib GiB (refused at the
               inflated bound), then a twine upload with a --field-mib MiB description (refused at the
               form-field bound); /health is probed every 100 ms meanwhile.
The measured server's VmRSS (/proc/<pid>/status) is sampled every 50 ms by a thread; growth = the
highest sample during a phase minus the RSS right before it. VmHWM at the end is the lifetime peak, as a
cross-check of the sampling. Prints a markdown table and writes bench/results/memory.md."""

from __future__ import annotations

import sys

import argparse
import base64
import contextlib
import gzip
import hashlib
import io
import itertools
import json
import random
import tarfile
import tempfile
import threading
from multiprocessing.pool import ThreadPool
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urljoin, urlsplit

import requests

from common import KIB, MIB, Conditions, release_binary, run_and_report, run_wrk, table, wrk_available

import npm_support  # (tests/e2e, put on sys.path by common)
import pypi_support
import support
from test_durability import StreamingPublish, body_chunks  # tests/e2e: raw signed streaming upload

TARGET_MIB = 64
SAMPLE_EVERY_S = 0.05
DOMAIN = "bench-memory"
REPOSITORY = "repo"
PACKAGE = "big"
CASES = ("generic", "external", "npm-publish", "concurrent", "bounds")
HTTP_TIMEOUT = (5, 900)  # connect, read: a large ingestion answers only once the file is in


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def proc_status_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of `pid`, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def thread_count(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    """VmRSS of one process every 50 ms; `window()` opens a phase and returns its samples."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, int]] = []  # (monotonic time, VmRSS KiB)
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                rss = proc_status_kib(self.pid)["VmRSS"]
            except (OSError, KeyError):
                return
            with self.lock:
                self.samples.append((time.monotonic(), rss))
            self.stopping.wait(SAMPLE_EVERY_S)

    def between(self, start: float, end: float) -> list[int]:
        with self.lock:
            return [rss for at, rss in self.samples if start <= at <= end]

    def peak(self, start: float, end: float, floor: int) -> int:
        """The highest sample in [start, end], at least `floor` (KiB)."""
        return max(self.between(start, end) + [floor])

    def idle_rss(self, seconds: float = 1.0) -> int:
        """Wait `seconds` and return the highest sample taken meanwhile (KiB)."""
        start = time.monotonic()
        time.sleep(seconds)
        return max(self.between(start, time.monotonic()))

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


@contextlib.contextmanager
def sampling(pid: int) -> Iterator[RssSampler]:
    sampler = RssSampler(pid)
    sampler.start()
    try:
        yield sampler
    finally:
        sampler.stop()


def mib(kib: float) -> float:
    return kib / 1024


def idle_row(label: str, kib: int) -> list[str]:
    return [label, f"{mib(kib):.1f}", "", "", "", "", ""]


def phase_row(label: str, before: int, peak: int, moved_mib: float, seconds: float) -> list[str]:
    growth = mib(peak - before)
    return [label, f"{mib(before):.1f}", f"{mib(peak):.1f}", f"{growth:.1f}", f"{moved_mib / seconds:.0f}",
            f"{seconds:.1f}", "yes" if growth < TARGET_MIB else "**no**"]


@dataclass
class Outcome:
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- request bodies


class SizedBody:
    """A request body of known length made chunk by chunk: requests sends it with Content-Length
    (it takes the length from len()) and iterates it, so it is never whole in memory."""

    def __init__(self, chunks: Callable[[], Iterator[bytes]], length: int):
        self.chunks, self.length = chunks, length

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self.chunks():
            sent += len(chunk)
            yield chunk
        assert sent == self.length, f"body of {sent} bytes, {self.length} announced"


class ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (what tarfile copies a member from)."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks, self.pending = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            self.pending = next(self.chunks, b"")
            if not self.pending:
                return 0
        count = min(len(buffer), len(self.pending))
        buffer[:count] = self.pending[:count]
        self.pending = self.pending[count:]
        return count


def file_chunks(path: Path, size: int = 3 * MIB) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def pypi_sdist_stub(name: str, version: str) -> pypi_support.Dist:
    """An sdist's name and form fields without its bytes (those are streamed)."""
    filename = f"{pypi_support.dist_name(name)}-{version}.tar.gz"
    return pypi_support.Dist(name, version, filename, b"", b"", "sdist", {"summary": "memory benchmark"})


def streaming_upload(endpoint: str, token: str, stub: pypi_support.Dist, chunks: Callable[[], Iterator[bytes]],
                     size: int, sha256: str, blake2_256: str) -> requests.Response:
    """twine's upload form with a `content` of `size` bytes from `chunks`, streamed."""
    boundary = f"reliquary-bench-{uuid.uuid4().hex}"
    head = b""
    for key, value in pypi_support.upload_fields(stub, sha256_digest=sha256, blake2_256_digest=blake2_256).items():
        for item in value if isinstance(value, list) else [value]:
            head += f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{item}\r\n'.encode()
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{stub.filename}"\r\n'
             "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    body = SizedBody(lambda: itertools.chain([head], chunks(), [tail]), len(head) + size + len(tail))
    headers = {**pypi_support.basic(token), "Content-Type": f"multipart/form-data; boundary={boundary}"}
    return requests.post(endpoint, data=body, headers=headers, timeout=HTTP_TIMEOUT)


def pypi_file_url(endpoint: str, token: str, project: str, filename: str) -> str:
    """The URL of `filename` on the project page pip reads (PEP 691 JSON)."""
    page_url = pypi_support.simple_url(endpoint, project)
    page = pypi_support.http_get(page_url, token, accept=pypi_support.PIP_ACCEPT)
    if page.status_code != 200:
        raise RuntimeError(f"{page_url} answered {page.status_code}: {page.text[:300]}")
    found = [f for f in page.json()["files"] if f["filename"] == filename]
    if not found:
        raise RuntimeError(f"{filename} is not on {page_url}: {page.text[:300]}")
    return urljoin(page_url, found[0]["url"]).split("#", 1)[0]


def streamed_get(url: str, token: str) -> tuple[int, str, float]:
    """GET `url` (Basic aws:<token>), read in 1 MiB chunks, hashed and discarded: (bytes, sha256, seconds
    until the first byte)."""
    started = time.monotonic()
    first_byte = None
    received = 0
    digest = hashlib.sha256()
    with requests.get(url, headers=pypi_support.basic(token), stream=True, timeout=HTTP_TIMEOUT) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:300]}")
        for chunk in response.iter_content(chunk_size=MIB):
            if first_byte is None:
                first_byte = time.monotonic() - started
            digest.update(chunk)
            received += len(chunk)
    return received, digest.hexdigest(), first_byte or 0.0


# --------------------------------------------------------------------------- generic: PublishPackageVersion and GetPackageVersionAsset


def case_generic(args, workdir: Path) -> Outcome:
    size_mib = args.size_mib
    total = size_mib * MIB
    log(f"generic: hashing the {size_mib} MiB body (generated, streamed) ...")
    digest = hashlib.sha256()
    for chunk in body_chunks(total):
        digest.update(chunk)
    sha256 = digest.hexdigest()

    with support.running_server("sqlite", workdir) as server, sampling(server.process.proc.pid) as sampler:
        pid = server.process.proc.pid
        client = support.make_client(server.url)
        cold = sampler.idle_rss()
        client.create_domain(domain=DOMAIN)
        client.create_repository(domain=DOMAIN, repository=REPOSITORY)
        support.publish(client, DOMAIN, REPOSITORY, PACKAGE, "0.0.1", {"warm.bin": b"w" * 1024})
        body, _ = support.download(client, DOMAIN, REPOSITORY, PACKAGE, "0.0.1", "warm.bin")
        assert body == b"w" * 1024
        baseline = sampler.idle_rss()

        # ---- upload
        log(f"generic: PublishPackageVersion of {size_mib} MiB ...")
        params = {"domain": DOMAIN, "repository": REPOSITORY, "format": "generic",
                  "namespace": support.NAMESPACE, "package": PACKAGE, "version": "1.0.0",
                  "asset": "big.bin"}
        before_upload = baseline
        upload = StreamingPublish(server.url, params, sha256, total)
        start = time.monotonic()
        upload.start()
        upload.join()
        end = time.monotonic()
        if upload.error is not None or upload.status != 200:
            raise RuntimeError(f"upload failed: status={upload.status} error={upload.error!r} "
                               f"body={upload.body[:500]!r}")
        peak_upload = sampler.peak(start, end, before_upload)
        upload_s = end - start

        # ---- download
        log(f"generic: GetPackageVersionAsset of {size_mib} MiB ...")
        before_download = sampler.idle_rss()
        start = time.monotonic()
        response = client.get_package_version_asset(**support.generic(DOMAIN, REPOSITORY, PACKAGE),
                                                    packageVersion="1.0.0", asset="big.bin")
        received = 0
        check = hashlib.sha256()
        with contextlib.closing(response["asset"]) as stream:
            for chunk in stream.iter_chunks(chunk_size=MIB):
                check.update(chunk)
                received += len(chunk)
        end = time.monotonic()
        if received != total or check.hexdigest() != sha256:
            raise RuntimeError(f"download mismatch: {received} bytes, sha256 {check.hexdigest()}")
        peak_download = sampler.peak(start, end, before_download)
        download_s = end - start
        after = sampler.idle_rss()
        hwm = proc_status_kib(pid)["VmHWM"]

    return Outcome(
        rows=[
            idle_row("idle, just started", cold),
            idle_row("idle, after a 1 KiB publish + download (baseline)", baseline),
            phase_row(f"PublishPackageVersion, {size_mib} MiB streamed", before_upload, peak_upload, size_mib,
                      upload_s),
            phase_row(f"GetPackageVersionAsset, {size_mib} MiB streamed", before_download, peak_download, size_mib,
                      download_s),
            idle_row("idle, after both", after),
        ],
        notes=[
            f"generic: cross-check: the lifetime peak VmHWM read at the end is {mib(hwm):.1f} MiB, "
            f"{mib(hwm - baseline):.1f} MiB above the baseline (the kernel updates these counters in batches, so "
            "VmHWM can read a few hundred KiB below a sampled VmRSS).",
            "generic: upload: one raw SigV4-signed http.client request, body generated in 1 MiB chunks; timed from "
            "the request to the response. Download: boto3, read in 1 MiB chunks, SHA-256 verified, discarded; timed "
            "from the request to the last byte.",
        ])


# --------------------------------------------------------------------------- external: ingestion through public:pypi


def case_external(args, workdir: Path) -> Outcome:
    size_mib = args.external_mib
    size = size_mib * MIB
    log(f"external: hashing the {size_mib} MiB file (generated, streamed) ...")
    sha256, blake2 = hashlib.sha256(), hashlib.blake2b(digest_size=32)
    for chunk in body_chunks(size, seed=301):
        sha256.update(chunk)
        blake2.update(chunk)
    big = pypi_sdist_stub("bench-big", "1.0")
    warm = pypi_support.make_sdist("bench-warm", "1.0")

    with support.running_server("sqlite", workdir / "public") as public, \
            sampling(public.process.proc.pid) as public_sampler:
        public_client = support.make_client(public.url)
        public_client.create_domain(domain="registry")
        public_client.create_repository(domain="registry", repository="pypi")
        public_endpoint = pypi_support.pypi_endpoint(public_client, "registry", "pypi")
        public_token = pypi_support.auth_token(public_client, "registry")
        pypi_support.upload_ok(public_endpoint, public_token, warm)
        log(f"external: uploading the {size_mib} MiB file to the stand-in for PyPI ...")
        started = time.monotonic()
        response = streaming_upload(public_endpoint, public_token, big, lambda: body_chunks(size, seed=301), size,
                                    sha256.hexdigest(), blake2.hexdigest())
        if response.status_code != 200:
            raise RuntimeError(f"upload to the public server: {response.status_code} {response.text[:300]}")
        public_upload_s = time.monotonic() - started

        with support.running_server_with_env("sqlite", workdir / "private",
                                             RELIQUARY_EXTERNAL_PYPI_URL=pypi_support.simple_url(public_endpoint),
                                             RELIQUARY_EXTERNAL_PYPI_TOKEN=public_token) as private, \
                sampling(private.process.proc.pid) as sampler:
            client = support.make_client(private.url)
            client.create_domain(domain=DOMAIN)
            client.create_repository(domain=DOMAIN, repository="pypi-store")
            client.associate_external_connection(domain=DOMAIN, repository="pypi-store",
                                                 externalConnection="public:pypi")
            endpoint = pypi_support.pypi_endpoint(client, DOMAIN, "pypi-store")
            token = pypi_support.auth_token(client, DOMAIN)
            cold = sampler.idle_rss()
            received, digest, _ = streamed_get(pypi_file_url(endpoint, token, "bench-warm", warm.filename), token)
            if digest != warm.sha256:
                raise RuntimeError(f"warm-up file: {received} bytes, sha256 {digest}")
            baseline = sampler.idle_rss()
            public_before = public_sampler.idle_rss(0.1)

            log(f"external: reading the {size_mib} MiB file through public:pypi ...")
            start = time.monotonic()
            received, digest, first_byte = streamed_get(pypi_file_url(endpoint, token, "bench-big", big.filename),
                                                        token)
            end = time.monotonic()
            if received != size or digest != sha256.hexdigest():
                raise RuntimeError(f"ingested file: {received} bytes, sha256 {digest}")
            peak = sampler.peak(start, end, baseline)
            public_peak = public_sampler.peak(start, end, public_before)
            after = sampler.idle_rss()
            hwm = proc_status_kib(private.process.proc.pid)["VmHWM"]

    return Outcome(
        rows=[
            idle_row("external: idle, after a small file through public:pypi (baseline)", baseline),
            phase_row(f"external: {size_mib} MiB file ingested through public:pypi", baseline, peak, size_mib,
                      end - start),
            idle_row("external: idle, after", after),
        ],
        notes=[
            f"external: the measured server ({mib(cold):.1f} MiB just started) read the {size_mib} MiB sdist from a "
            f"second Reliquary (it took {public_upload_s:.1f} s to upload there, twine's form streamed); the client "
            f"read the project page, then the file, streamed and SHA-256 verified: its first byte came "
            f"{first_byte:.1f} s after the file request, of {end - start:.1f} s in all. Lifetime VmHWM of the measured "
            f"server: {mib(hwm):.1f} MiB. The second server, streaming the file out, grew "
            f"{mib(public_peak - public_before):.1f} MiB.",
        ])


# --------------------------------------------------------------------------- npm publish of a large tarball


def build_tarball(path: Path, name: str, version: str, size: int) -> dict:
    """An npm tarball at `path`: package/package.json first, then package/big.bin of `size`
    incompressible bytes, written as it is generated. Returns the manifest."""
    manifest = {"name": name, "version": version, "main": "index.js", "description": "memory benchmark"}
    package_json = (json.dumps(manifest, indent=2) + "\n").encode()
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as packed, \
            tarfile.open(fileobj=packed, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
        for member, length, content in (("package/package.json", len(package_json), io.BytesIO(package_json)),
                                         ("package/big.bin", size, ChunkReader(body_chunks(size, seed=302)))):
            info = tarfile.TarInfo(member)
            info.size, info.mode, info.mtime = length, 0o644, npm_support.TARBALL_MTIME
            tar.addfile(info, content)
    return manifest


def npm_publish_body(endpoint: str, manifest: dict, tarball: Path) -> SizedBody:
    """npm_support.publish_document's body for the tarball at `tarball`, its base64 streamed from the file."""
    sha512, sha1, length = hashlib.sha512(), hashlib.sha1(), 0
    for chunk in file_chunks(tarball):
        sha512.update(chunk)
        sha1.update(chunk)
        length += len(chunk)
    document = npm_support.publish_document(endpoint, manifest, b"")
    version = document["versions"][manifest["version"]]
    version["dist"]["integrity"] = "sha512-" + base64.b64encode(sha512.digest()).decode()
    version["dist"]["shasum"] = sha1.hexdigest()
    (attachment,) = document["_attachments"].values()
    marker = f"@@{uuid.uuid4().hex}@@"
    attachment.update(data=marker, length=length)
    head, tail = (part.encode() for part in json.dumps(document).split(marker))

    def chunks() -> Iterator[bytes]:
        yield head
        for chunk in file_chunks(tarball):  # 3 MiB: a multiple of 3, so the pieces join into one base64
            yield base64.b64encode(chunk)
        yield tail

    return SizedBody(chunks, len(head) + 4 * ((length + 2) // 3) + len(tail))


def case_npm_publish(args, workdir: Path) -> Outcome:
    size_mib = args.npm_mib
    tarball = workdir / "big.tgz"
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"npm-publish: building a {size_mib} MiB tarball ...")
    manifest = build_tarball(tarball, "bench-big", "1.0.0", size_mib * MIB)
    tarball_mib = tarball.stat().st_size / MIB

    with support.running_server("sqlite", workdir / "server") as server, \
            sampling(server.process.proc.pid) as sampler:
        client = support.make_client(server.url)
        client.create_domain(domain=DOMAIN)
        client.create_repository(domain=DOMAIN, repository="npm")
        endpoint = npm_support.npm_endpoint(client, DOMAIN, "npm")
        token = npm_support.auth_token(client, DOMAIN)
        cold = sampler.idle_rss()
        small, small_manifest = npm_support.make_tarball("bench-warm", "1.0.0")
        warm = npm_support.put_publish(endpoint, token, small_manifest, small)
        if warm.status_code not in (200, 201):
            raise RuntimeError(f"warm-up publish: {warm.status_code} {warm.text[:300]}")
        baseline = sampler.idle_rss()

        body = npm_publish_body(endpoint, manifest, tarball)
        log(f"npm-publish: PUT of {len(body) / MIB:.0f} MiB ...")
        start = time.monotonic()
        response = requests.put(npm_support.packument_url(endpoint, manifest["name"]), data=body, timeout=HTTP_TIMEOUT,
                                headers={"Content-Type": "application/json", "npm-command": "publish",
                                         **npm_support.bearer(token)})
        end = time.monotonic()
        if response.status_code not in (200, 201):
            raise RuntimeError(f"publish: {response.status_code} {response.text[:300]}")
        peak = sampler.peak(start, end, baseline)
        after = sampler.idle_rss()
        hwm = proc_status_kib(server.process.proc.pid)["VmHWM"]
        versions = npm_support.http_get(npm_support.packument_url(endpoint, manifest["name"]), token,
                                        accept=npm_support.ABBREVIATED).json()["versions"]
        if manifest["version"] not in versions:
            raise RuntimeError(f"published, yet the packument lists {sorted(versions)}")

    return Outcome(
        rows=[
            idle_row("npm publish: idle, after a 1 KiB publish (baseline)", baseline),
            phase_row(f"npm publish: {tarball_mib:.0f} MiB tarball, {len(body) / MIB:.0f} MiB JSON body", baseline,
                      peak, len(body) / MIB, end - start),
            idle_row("npm publish: idle, after", after),
        ],
        notes=[
            f"npm-publish: the body npm sends (npm_support.publish_document's shape; the tarball base64 in "
            f"`_attachments`), {len(body) / MIB:.1f} MiB, sent by requests with Content-Length from a generator "
            f"reading the tarball from disk; timed from the request to the response. Measured server "
            f"{mib(cold):.1f} MiB just started; lifetime VmHWM {mib(hwm):.1f} MiB.",
        ])


# --------------------------------------------------------------------------- many concurrent downloads


def case_concurrent(args, workdir: Path) -> Outcome:
    size = args.asset_kib * KIB
    content = random.Random(303).randbytes(size)
    dist = pypi_support.Dist("bench-one", "1.0", f"{pypi_support.dist_name('bench-one')}-1.0.tar.gz", content,
                             b"", "sdist", {"summary": "memory benchmark"})
    with support.running_server("sqlite", workdir / "server") as server, \
            sampling(server.process.proc.pid) as sampler:
        pid = server.process.proc.pid
        client = support.make_client(server.url)
        client.create_domain(domain=DOMAIN)
        client.create_repository(domain=DOMAIN, repository="pypi")
        endpoint = pypi_support.pypi_endpoint(client, DOMAIN, "pypi")
        token = pypi_support.auth_token(client, DOMAIN)
        pypi_support.upload_ok(endpoint, token, dist)
        url = pypi_file_url(endpoint, token, dist.name, dist.filename)
        cold = sampler.idle_rss()
        received, digest, _ = streamed_get(url, token)
        if digest != dist.sha256:
            raise RuntimeError(f"warm-up download: {received} bytes, sha256 {digest}")
        baseline = sampler.idle_rss()
        threads_before = thread_count(pid)

        log(f"concurrent: wrk -t2 -c{args.clients} -d{args.seconds}s on one {args.asset_kib} KiB file ...")
        start = time.monotonic()
        result = run_wrk(server.url, [urlsplit(url).path], pypi_support.basic(token), 2, args.clients,
                         args.seconds, workdir, "concurrent")
        end = time.monotonic()
        threads_after = thread_count(pid)
        peak = sampler.peak(start, end, baseline)
        after = sampler.idle_rss(2.0)
        hwm = proc_status_kib(pid)["VmHWM"]

    moved_mib = result["rps"] * (end - start) * size / MIB
    notes = [
        f"concurrent: wrk -t2 -c{args.clients} -d{args.seconds}s on the file's URL (what pip GETs, Basic "
        f"aws:<token>): {result['rps']:,.0f} req/s, p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
        f"{result['non_2xx']} non-2xx" + (f", socket errors {result['socket_errors']}" if result["socket_errors"] else "")
        + f". Server threads {threads_before} before, {threads_after} right after. Measured server "
        f"{mib(cold):.1f} MiB just started; lifetime VmHWM {mib(hwm):.1f} MiB.",
    ]
    return Outcome(
        rows=[
            idle_row("concurrent: idle, after one download (baseline)", baseline),
            phase_row(f"concurrent: {args.clients} clients x one {args.asset_kib} KiB file, {args.seconds} s",
                      baseline, peak, moved_mib, end - start),
            idle_row("concurrent: idle, 2 s after", after),
        ],
        notes=notes)


# --------------------------------------------------------------------------- the hardening bounds


def bomb_tarball(path: Path, inflated: int) -> None:
    """A gzipped tar whose one file, package/zeros, inflates to `inflated` bytes (no package.json)."""
    import tarfile
    with path.open("wb") as out:
        gz = gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1, mtime=0)
        with tarfile.open(fileobj=gz, mode="w") as tar:
            info = tarfile.TarInfo("package/zeros")
            info.size = inflated

            class Zeros(io.RawIOBase):
                def __init__(self) -> None:
                    self.left = inflated

                def readable(self) -> bool:
                    return True

                def readinto(self, buf) -> int:
                    n = min(len(buf), self.left)
                    buf[:n] = bytes(n)
                    self.left -= n
                    return n

            tar.addfile(info, io.BufferedReader(Zeros(), 1024 * 1024))
        gz.close()


def case_bounds(args, workdir: Path) -> Outcome:
    """Two npm publishes of a tarball bomb at once (a small body inflating to --bomb-gib GiB), then a
    twine upload with a --field-mib MiB description field; /health is probed every 100 ms meanwhile."""
    workdir.mkdir(parents=True, exist_ok=True)
    bomb = workdir / "bomb.tgz"
    log(f"bounds: building a tarball inflating to {args.bomb_gib} GiB ...")
    bomb_tarball(bomb, args.bomb_gib * 1024 * MIB)
    bomb_bytes = bomb.read_bytes()
    manifest = {"name": "bench-bomb", "version": "1.0.0"}
    with support.running_server("sqlite", workdir / "server") as server, \
            sampling(server.process.proc.pid) as sampler:
        client = support.make_client(server.url)
        client.create_domain(domain=DOMAIN)
        client.create_repository(domain=DOMAIN, repository="repo")
        npm_endpoint = npm_support.npm_endpoint(client, DOMAIN, "repo")
        pypi_endpoint = pypi_support.pypi_endpoint(client, DOMAIN, "repo")
        token = npm_support.auth_token(client, DOMAIN)
        small, small_manifest = npm_support.make_tarball("bench-warm", "1.0.0")
        npm_support.put_publish(npm_endpoint, token, small_manifest, small)
        baseline = sampler.idle_rss()

        health: list[float] = []
        stop = threading.Event()

        def probe() -> None:
            while not stop.is_set():
                t0 = time.monotonic()
                requests.get(f"{server.url}/health", timeout=60)
                health.append(time.monotonic() - t0)
                time.sleep(0.1)

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        log("bounds: two bomb publishes at once ...")
        start = time.monotonic()
        with ThreadPool(2) as pool:
            statuses = pool.map(lambda i: npm_support.put_publish(
                npm_endpoint, token, dict(manifest, version=f"1.0.{i}"), bomb_bytes).status_code, range(2))
        end = time.monotonic()
        bomb_peak = sampler.peak(start, end, baseline)
        bomb_health = max(health) if health else float("nan")
        health.clear()

        before_field = sampler.idle_rss()
        log(f"bounds: a twine upload with a {args.field_mib} MiB description ...")
        dist = pypi_support.make_sdist("bench-field", "1.0")
        fstart = time.monotonic()
        field = pypi_support.upload(pypi_endpoint, token, dist, description="d" * (args.field_mib * MIB))
        fend = time.monotonic()
        field_peak = sampler.peak(fstart, fend, before_field)
        field_health = max(health) if health else float("nan")
        stop.set()
        prober.join()
    return Outcome(
        rows=[
            idle_row("bounds: idle, after a 1 KiB publish (baseline)", baseline),
            phase_row(f"bounds: 2 npm publishes of a {len(bomb_bytes) / MIB:.1f} MiB tarball inflating to "
                      f"{args.bomb_gib} GiB, at once (answers {sorted(statuses)})", baseline, bomb_peak,
                      2 * len(bomb_bytes) / MIB, end - start),
            phase_row(f"bounds: twine upload, {args.field_mib} MiB description field (answer {field.status_code})",
                      before_field, field_peak, args.field_mib, fend - fstart),
        ],
        notes=[
            f"bounds: the slowest /health while the bombs inflated took {bomb_health * 1000:.0f} ms, while the "
            f"big field was refused {field_health * 1000:.0f} ms (probed every 100 ms; the review saw 7.6 s with "
            "two bombs inflating on the async workers).",
        ])


# --------------------------------------------------------------------------- main


RUNNERS = {"generic": case_generic, "external": case_external, "npm-publish": case_npm_publish,
           "concurrent": case_concurrent, "bounds": case_bounds}


def run(args) -> str:
    binary = release_binary()
    conditions = Conditions(binary)
    outcome = Outcome()
    for name in CASES:
        if name not in args.cases:
            continue
        with tempfile.TemporaryDirectory(prefix=f"reliquary-bench-memory-{name}-") as tmp:
            result = RUNNERS[name](args, Path(tmp))
        outcome.rows += result.rows
        outcome.notes += result.notes
    conditions.finish()

    headers = ["server phase (SQLite)", "RSS before (MiB)", "peak RSS (MiB)", "growth (MiB)", "MiB/s",
               "time (s)", f"growth < {TARGET_MIB} MiB"]
    markdown = "\n".join([
        f"### Memory: server RSS per case (`{' '.join(['bench/memory.py'] + sys.argv[1:])}`)",
        "",
        table(headers, outcome.rows),
        "",
        f"- Each case on its own fresh server. VmRSS sampled every {int(SAMPLE_EVERY_S * 1000)} ms; growth = the "
        "highest sample during the phase minus the RSS right before it.",
        *[f"- {note}" for note in outcome.notes],
        "- Client and server on the same machine, over 127.0.0.1; the client's hashing and generation share "
        "the cores with the server.",
        conditions.markdown(),
    ])
    return markdown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--case", dest="cases", action="append", choices=CASES,
                        help="run only this case (repeatable; default: all)")
    parser.add_argument("--size-mib", type=int, default=1024, help="generic: size of the asset (default 1024)")
    parser.add_argument("--external-mib", type=int, default=1024,
                        help="external: size of the file ingested through public:pypi (default 1024, the server's "
                        "limit for an external file)")
    parser.add_argument("--npm-mib", type=int, default=200, help="npm-publish: size of the tarball's content (200)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent: wrk connections (64)")
    parser.add_argument("--seconds", type=int, default=30, help="concurrent: wrk duration (30)")
    parser.add_argument("--asset-kib", type=int, default=1024, help="concurrent: size of the file (1024 KiB)")
    parser.add_argument("--bomb-gib", type=int, default=8, help="bounds: what the npm tarball bomb inflates to (8 GiB)")
    parser.add_argument("--field-mib", type=int, default=1024, help="bounds: the twine description field (1024 MiB)")
    parser.add_argument("--output", default="memory", help="results file name: bench/results/NAME.md")
    args = parser.parse_args()
    args.cases = args.cases or list(CASES)
    if min(args.size_mib, args.external_mib, args.npm_mib, args.clients, args.seconds, args.asset_kib) < 1:
        parser.error("sizes and counts must be at least 1")
    if "concurrent" in args.cases and not wrk_available():
        sys.exit("the concurrent case needs wrk: apt-get install -y wrk")
    return run_and_report(run, args, args.output)


if __name__ == "__main__":
    sys.exit(main())
