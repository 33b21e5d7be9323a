"""CopyPackageVersions latency, and its independence from the assets' size.

    .venv/bin/python bench/copy_versions.py [--backend sqlite|postgres|both] [--iterations N]
                                   [--large-mib 50] [--large-per-version 1] [--workdir DIR]

Per backend, one release `reliquary serve` (SQLite: fresh temp data dir; PostgreSQL: a fresh
database, dropped at the end), and two domains, each with a `staging` repository holding one
generic package of 100 versions x 10 assets, published once with PublishPackageVersion (9 assets
with unfinished=True, then the 10th):
  - `small`: every asset 1 KiB, all distinct;
  - `large`: the same, except that the first --large-per-version assets of every version are
    --large-mib MiB blobs (one distinct blob per asset name, generated deterministically and
    written to temp files once; content-addressed storage keeps one copy of each). The 10th asset
    is always 1 KiB and distinct per version, so every version has its own revision.
Both get empty repositories `release-0` ... `release-<N-1>` up front. Then N iterations, each
timing (client-side, time.perf_counter around the boto3 call, nothing subtracted):
  - 3 DescribeRepository calls: the baseline, the cost of any round trip through boto3;
  - the copy of all 100 versions from `small/staging` to `small/release-<i>`;
  - the copy of all 100 versions from `large/staging` to `large/release-<i>`;
the two copies in alternating order. One untimed warm-up copy of each goes first. The data dir
size (du -sb) is taken around each copy (outside the timing), the number of blob files before and
after the timed loop.

Every upload is real (the server hashes every byte), so the `large` set-up costs
100 x --large-per-version x --large-mib MiB of uploads per backend: 4.9 GiB with the defaults,
44 GiB with --large-per-version 9 (7-8 minutes per backend on 2 cores).

Prints markdown tables and writes bench/results/copy.md (--output NAME: bench/results/NAME.md)."""

from __future__ import annotations

import sys

import argparse
import contextlib
import hashlib
import subprocess
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from common import KIB, MIB, Conditions, mean, percentile, release_binary, table, write_results

import support  # (put on sys.path by common)
from test_durability import body_chunks  # tests/e2e: reproducible incompressible 1 MiB chunks

PACKAGE = "pkg"
VERSIONS = [f"1.0.{i}" for i in range(100)]
ASSET_NAMES = [f"part-{k}.bin" for k in range(9)] + ["version.txt"]  # the last one is published last
SMALL_SIZE = KIB
BASELINE_CALLS_PER_ITERATION = 3
TARGET_P50_MS = 20.0


def small_content(domain: str, version: str, asset: str) -> bytes:
    """1 KiB, distinct for every (domain, version, asset)."""
    seed = hashlib.sha256(f"{domain}/{version}/{asset}".encode()).digest()
    return (seed * (SMALL_SIZE // len(seed) + 1))[:SMALL_SIZE]


def du_bytes(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def pg_database_bytes(url: str) -> int:
    out = subprocess.run(["psql", "-X", "-A", "-t", "-d", url, "-c", "SELECT pg_database_size(current_database())"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return int(out.strip())


def fmt_bytes(count: int) -> str:
    sign = "-" if count < 0 else ""
    count = abs(count)
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", MIB), ("KiB", KIB)):
        if count >= size:
            return f"{sign}{count / size:.1f} {unit}"
    return f"{sign}{count} B"


@dataclass
class LargeBlob:
    name: str
    path: Path
    size: int
    sha256: str


def write_large_blobs(directory: Path, count: int, size_mib: int) -> list[LargeBlob]:
    """`count` large assets, one temp file each, streamed to disk (never whole in memory)."""
    blobs = []
    for k, name in enumerate(ASSET_NAMES[:count]):
        path = directory / name
        digest = hashlib.sha256()
        with open(path, "wb") as out:
            for chunk in body_chunks(size_mib * MIB, seed=1000 + k):
                digest.update(chunk)
                out.write(chunk)
        blobs.append(LargeBlob(name, path, size_mib * MIB, digest.hexdigest()))
    return blobs


def publish_small(client, domain: str) -> None:
    for version in VERSIONS:
        support.publish(client, domain, "staging", PACKAGE, version,
                        {name: small_content(domain, version, name) for name in ASSET_NAMES})


def publish_large(client, domain: str, blobs: list[LargeBlob]) -> float:
    """Each version: the large blobs (open files, streamed by botocore), then the small assets.
    Returns the seconds spent in the large uploads."""
    coordinates = support.generic(domain, "staging", PACKAGE)
    large_s = 0.0
    for version in VERSIONS:
        for blob in blobs:
            with open(blob.path, "rb") as body:
                start = time.monotonic()
                client.publish_package_version(**coordinates, packageVersion=version, assetName=blob.name,
                                               assetContent=body, assetSHA256=blob.sha256, unfinished=True)
                large_s += time.monotonic() - start
        support.publish(client, domain, "staging", PACKAGE, version,
                        {name: small_content(domain, version, name) for name in ASSET_NAMES[len(blobs):]})
    return large_s


def timed_copy(client, domain: str, destination: str) -> float:
    start = time.perf_counter()
    result = client.copy_package_versions(domain=domain, sourceRepository="staging",
                                          destinationRepository=destination, format="generic",
                                          namespace=support.NAMESPACE, package=PACKAGE, versions=VERSIONS)
    elapsed = (time.perf_counter() - start) * 1000
    if result.get("failedVersions") or len(result.get("successfulVersions") or {}) != len(VERSIONS):
        raise RuntimeError(f"copy into {domain}/{destination} did not copy all {len(VERSIONS)} versions: "
                           f"{len(result.get('successfulVersions') or {})} ok, failed={result.get('failedVersions')}")
    return elapsed


def timed_describe(client, domain: str) -> float:
    start = time.perf_counter()
    client.describe_repository(domain=domain, repository="staging")
    return (time.perf_counter() - start) * 1000


@dataclass
class BackendResult:
    backend: str
    small_ms: list[float] = field(default_factory=list)
    large_ms: list[float] = field(default_factory=list)
    baseline_ms: list[float] = field(default_factory=list)
    publish_small_s: float = 0.0
    publish_large_s: float = 0.0
    large_uploads_s: float = 0.0  # the part of publish_large_s spent in the large uploads
    data_before: int = 0
    data_after: int = 0
    small_growth: int = 0  # sum of the data dir's growth across each 1 KiB copy
    large_growth: int = 0  # sum of the data dir's growth across each large copy
    blobs_before: int = 0
    blobs_after: int = 0
    db_before: int | None = None  # PostgreSQL database size
    db_after: int | None = None
    large_bytes_per_copy: int = 0


def bench_backend(backend: str, workdir: Path, iterations: int, blobs: list[LargeBlob]) -> BackendResult:
    out = BackendResult(backend)
    out.large_bytes_per_copy = len(VERSIONS) * (sum(b.size for b in blobs)
                                                 + (len(ASSET_NAMES) - len(blobs)) * SMALL_SIZE)
    with support.running_server(backend, workdir) as server:
        client = support.make_client(server.url)
        for domain in ("small", "large"):
            client.create_domain(domain=domain)
            for repository in ["staging", "warmup"] + [f"release-{i}" for i in range(iterations)]:
                client.create_repository(domain=domain, repository=repository)

        print(f"[{backend}] publishing 100 x 10 x 1 KiB ...", file=sys.stderr, flush=True)
        start = time.monotonic()
        publish_small(client, "small")
        out.publish_small_s = time.monotonic() - start
        print(f"[{backend}] publishing 100 x ({len(blobs)} x {blobs[0].size // MIB} MiB + "
              f"{len(ASSET_NAMES) - len(blobs)} x 1 KiB) ...", file=sys.stderr, flush=True)
        start = time.monotonic()
        out.large_uploads_s = publish_large(client, "large", blobs)
        out.publish_large_s = time.monotonic() - start

        timed_copy(client, "small", "warmup")
        timed_copy(client, "large", "warmup")
        for _ in range(BASELINE_CALLS_PER_ITERATION):
            timed_describe(client, "small")

        out.data_before = du_bytes(server.data_dir)
        out.blobs_before = len(support.blob_files(server.data_dir))
        if server.database_url:
            out.db_before = pg_database_bytes(server.database_url)
        print(f"[{backend}] timing {iterations} iterations ...", file=sys.stderr, flush=True)
        for i in range(iterations):
            for _ in range(BASELINE_CALLS_PER_ITERATION):
                out.baseline_ms.append(timed_describe(client, "small"))
            for kind in (("small", "large") if i % 2 == 0 else ("large", "small")):
                # du around both kinds alike, so that neither copy alone follows a fork of du.
                before = du_bytes(server.data_dir)
                elapsed = timed_copy(client, kind, f"release-{i}")
                growth = du_bytes(server.data_dir) - before
                if kind == "small":
                    out.small_ms.append(elapsed)
                    out.small_growth += growth
                else:
                    out.large_ms.append(elapsed)
                    out.large_growth += growth
        out.data_after = du_bytes(server.data_dir)
        out.blobs_after = len(support.blob_files(server.data_dir))
        if server.database_url:
            out.db_after = pg_database_bytes(server.database_url)

        # The copies really reference the large assets.
        assets = support.list_assets(client, "large", f"release-{iterations - 1}", PACKAGE, VERSIONS[-1])
        sizes = sorted(a["size"] for a in assets)
        expected = sorted([b.size for b in blobs] + [SMALL_SIZE] * (len(ASSET_NAMES) - len(blobs)))
        if sizes != expected:
            raise RuntimeError(f"large/release-{iterations - 1} {VERSIONS[-1]} lists asset sizes {sizes}")
    return out


def report(results: list[BackendResult], args: argparse.Namespace, conditions: Conditions) -> str:
    def ms(value: float) -> str:
        return f"{value:.1f}"

    n, large_mib, large_count = args.iterations, args.large_mib, args.large_per_version
    layout = f"{large_count} x {large_mib} MiB + {len(ASSET_NAMES) - large_count} x 1 KiB"
    latency_rows = []
    for r in results:
        p50, base_p50 = percentile(r.small_ms, 50), percentile(r.baseline_ms, 50)
        latency_rows.append([
            r.backend, ms(p50), ms(percentile(r.small_ms, 90)), ms(percentile(r.small_ms, 99)),
            ms(mean(r.small_ms)), ms(min(r.small_ms)), ms(max(r.small_ms)), ms(base_p50),
            f"{p50 / base_p50:.1f}x", "yes" if p50 < TARGET_P50_MS else "**no**",
        ])
    size_rows = []
    for r in results:
        small, large = percentile(r.small_ms, 50), percentile(r.large_ms, 50)
        db = ""
        if r.db_before is not None:
            db = f"; database {fmt_bytes(r.db_before)} -> {fmt_bytes(r.db_after)}"
        size_rows.append([
            r.backend, ms(small), ms(large), f"{large / small:.2f}",
            f"{fmt_bytes(r.data_before)} -> {fmt_bytes(r.data_after)}{db}",
            f"{r.small_growth:,} B", f"{r.large_growth:,} B", f"{r.blobs_after - r.blobs_before}",
            fmt_bytes(r.large_bytes_per_copy * n),
        ])
    setup_rows = [[r.backend, f"{r.publish_small_s:.1f}", f"{r.publish_large_s:.1f}",
                   f"{len(VERSIONS) * large_count * large_mib / r.large_uploads_s:.0f}"] for r in results]
    command = " ".join(["bench/copy_versions.py"] + sys.argv[1:])
    return "\n".join([
        f"### CopyPackageVersions: 100 versions x 10 assets (`{command}`)",
        "",
        f"Latency of one copy of all 100 versions (10 assets of 1 KiB each) into an empty repository, {n} "
        f"copies, ms, client-side around the boto3 call; baseline = DescribeRepository in the same run "
        f"({BASELINE_CALLS_PER_ITERATION * n} calls):",
        "",
        table(["backend", "p50", "p90", "p99", "mean", "min", "max", "DescribeRepository p50",
               "copy p50 / baseline", f"p50 < {TARGET_P50_MS:.0f} ms"], latency_rows),
        "",
        f"Asset-size independence: the same copy where every version's 10 assets are {layout} "
        f"({fmt_bytes(results[0].large_bytes_per_copy)} of assets per copy), interleaved with the 1 KiB copies:",
        "",
        table(["backend", "p50 1 KiB assets (ms)", f"p50 {large_mib} MiB assets (ms)", "ratio",
               "data dir before -> after all timed copies",
               f"data dir growth across the {n} 1 KiB copies", f"... across the {n} {large_mib} MiB copies",
               "new blob files",
               "asset bytes those copies reference"], size_rows),
        "",
        "Set-up (not part of the numbers above): publishing the two staging packages, seconds, and the "
        "throughput of the large uploads alone (each a PublishPackageVersion through boto3 from an open file):",
        "",
        table(["backend", "100 x 10 x 1 KiB", f"100 x ({layout})", f"{large_mib} MiB uploads, MiB/s"], setup_rows),
        "",
        f"- p99 of {n} samples is interpolated between the two slowest copies.",
        "- Client (boto3) and server on the same machine, over 127.0.0.1: the client's own CPU time "
        "(signing, JSON) is inside every number, the baseline shows how much.",
        conditions.markdown(),
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--iterations", type=int, default=30, help="timed copies per backend (default 30)")
    parser.add_argument("--large-mib", type=int, default=50, help="size of each large asset (default 50)")
    parser.add_argument("--large-per-version", type=int, default=1, choices=range(1, 10), metavar="1..9",
                        help="how many of each version's 10 assets are large (default 1)")
    parser.add_argument("--workdir", type=Path,
                        help="keep data dirs and server logs (stderr-0.log) here instead of a deleted temp dir")
    parser.add_argument("--output", default="copy", help="results file name: bench/results/NAME.md")
    args = parser.parse_args()
    if args.iterations < 1 or args.large_mib < 1:
        parser.error("--iterations and --large-mib must be positive")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    support.isolate_from_ambient_aws_config()
    try:
        binary = release_binary()
        conditions = Conditions(binary)
        with contextlib.ExitStack() as stack:
            if args.workdir:
                workdir = args.workdir.resolve()
                workdir.mkdir(parents=True, exist_ok=False)
            else:
                workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reliquary-bench-copy-")))
            blob_dir = workdir / "large-assets"
            blob_dir.mkdir()
            blobs = write_large_blobs(blob_dir, args.large_per_version, args.large_mib)
            results = [bench_backend(backend, workdir / backend, args.iterations, blobs) for backend in backends]
            if args.workdir:
                for blob in blobs:
                    blob.path.unlink()
        conditions.finish()
        markdown = report(results, args, conditions)
    except BaseException:  # noqa: BLE001 - support reports failures through pytest.fail (a BaseException)
        traceback.print_exc()
        return 1
    print(markdown)
    print(f"\nwritten to {write_results(args.output, markdown)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
