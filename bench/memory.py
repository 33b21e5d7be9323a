"""Server memory while streaming one large asset in and out.

    .venv/bin/python bench/memory.py [--size-mib 1024] [--output memory]

Starts a release `reliquary serve` on SQLite (fresh temp data dir), then:
  1. idle baseline (after one 1 KiB publish + download, so first-request set-up is not counted);
  2. PublishPackageVersion of a --size-mib body generated chunk by chunk and sent with a raw
     SigV4-signed http.client request (tests/e2e/test_durability.StreamingPublish): never whole in
     memory on either side;
  3. GetPackageVersionAsset of it through boto3, read in 1 MiB chunks, hashed and discarded.
The server's VmRSS (/proc/<pid>/status) is sampled every 50 ms by a thread; growth = the highest
sample during a phase minus the RSS right before it. VmHWM at the end is the lifetime peak, as a
cross-check of the sampling. Prints a markdown table and writes bench/results/memory.md."""

from __future__ import annotations

import sys

import argparse
import contextlib
import hashlib
import tempfile
import threading
import time
import traceback
from pathlib import Path

from common import MIB, Conditions, release_binary, table, write_results

import support  # (put on sys.path by common)
from test_durability import StreamingPublish, body_chunks  # tests/e2e: raw signed streaming upload

TARGET_MIB = 64
SAMPLE_EVERY_S = 0.05
DOMAIN = "bench-memory"
REPOSITORY = "repo"
PACKAGE = "big"


def proc_status_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of `pid`, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


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

    def idle_rss(self, seconds: float = 1.0) -> int:
        """Wait `seconds` and return the highest sample taken meanwhile (KiB)."""
        start = time.monotonic()
        time.sleep(seconds)
        return max(self.between(start, time.monotonic()))

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


def mib(kib: float) -> float:
    return kib / 1024


def run(size_mib: int) -> str:
    total = size_mib * MIB
    binary = release_binary()
    conditions = Conditions(binary)

    print(f"hashing the {size_mib} MiB body (generated, streamed) ...", file=sys.stderr, flush=True)
    digest = hashlib.sha256()
    for chunk in body_chunks(total):
        digest.update(chunk)
    sha256 = digest.hexdigest()

    with tempfile.TemporaryDirectory(prefix="reliquary-bench-memory-") as tmp, \
            support.running_server("sqlite", Path(tmp)) as server:
        pid = server.process.proc.pid
        client = support.make_client(server.url)
        sampler = RssSampler(pid)
        sampler.start()
        try:
            cold = sampler.idle_rss()
            client.create_domain(domain=DOMAIN)
            client.create_repository(domain=DOMAIN, repository=REPOSITORY)
            support.publish(client, DOMAIN, REPOSITORY, PACKAGE, "0.0.1", {"warm.bin": b"w" * 1024})
            body, _ = support.download(client, DOMAIN, REPOSITORY, PACKAGE, "0.0.1", "warm.bin")
            assert body == b"w" * 1024
            baseline = sampler.idle_rss()

            # ---- upload
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
            peak_upload = max(sampler.between(start, end) + [before_upload])
            upload_s = end - start

            # ---- download
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
            peak_download = max(sampler.between(start, end) + [before_download])
            download_s = end - start
            after = sampler.idle_rss()
            hwm = proc_status_kib(pid)["VmHWM"]
        finally:
            sampler.stop()

    conditions.finish()
    rows = [
        ["idle, just started", f"{mib(cold):.1f}", "", "", "", "", ""],
        ["idle, after a 1 KiB publish + download (baseline)", f"{mib(baseline):.1f}", "", "", "", "", ""],
        [f"PublishPackageVersion, {size_mib} MiB streamed", f"{mib(before_upload):.1f}", f"{mib(peak_upload):.1f}",
         f"{mib(peak_upload - before_upload):.1f}", f"{size_mib / upload_s:.0f}", f"{upload_s:.1f}",
         "yes" if mib(peak_upload - before_upload) < TARGET_MIB else "**no**"],
        [f"GetPackageVersionAsset, {size_mib} MiB streamed", f"{mib(before_download):.1f}",
         f"{mib(peak_download):.1f}", f"{mib(peak_download - before_download):.1f}",
         f"{size_mib / download_s:.0f}", f"{download_s:.1f}",
         "yes" if mib(peak_download - before_download) < TARGET_MIB else "**no**"],
        ["idle, after both", f"{mib(after):.1f}", "", "", "", "", ""],
    ]
    headers = ["server phase (SQLite)", "RSS before (MiB)", "peak RSS (MiB)", "growth (MiB)", "MiB/s",
               "time (s)", f"growth < {TARGET_MIB} MiB"]
    markdown = "\n".join([
        f"### Memory: {size_mib} MiB asset up and down (`{' '.join(['bench/memory.py'] + sys.argv[1:])}`)",
        "",
        table(headers, rows),
        "",
        f"- VmRSS sampled every {int(SAMPLE_EVERY_S * 1000)} ms. Cross-check: the lifetime peak VmHWM read at "
        f"the end is {mib(hwm):.1f} MiB, {mib(hwm - baseline):.1f} MiB above the baseline (the kernel updates "
        "these counters in batches, so VmHWM can read a few hundred KiB below a sampled VmRSS).",
        "- Upload: one raw SigV4-signed http.client request, body generated in 1 MiB chunks; timed from the "
        "request to the response. Download: boto3, read in 1 MiB chunks, SHA-256 verified, discarded; timed "
        "from the request to the last byte.",
        "- Client and server on the same machine, over 127.0.0.1; the client's hashing and generation share "
        "the cores with the server.",
        conditions.markdown(),
    ])
    return markdown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the asset (default 1024)")
    parser.add_argument("--output", default="memory", help="results file name: bench/results/NAME.md")
    args = parser.parse_args()
    support.isolate_from_ambient_aws_config()
    try:
        markdown = run(args.size_mib)
    except BaseException:  # noqa: BLE001 - support reports failures through pytest.fail (a BaseException)
        traceback.print_exc()
        return 1
    print(markdown)
    print(f"\nwritten to {write_results(args.output, markdown)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
