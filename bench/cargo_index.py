"""Cargo's read path: index-file GETs (and `.crate` downloads), Reliquary against nginx serving the same bytes.

    .venv/bin/python bench/cargo_index.py [--crates 200 --versions 10] [--duration 10] [--backend sqlite|postgres]

1. Starts a release `reliquary serve` (bench/common.py's binary; SQLite in a fresh temp data dir, or a
   fresh PostgreSQL database) with one domain `bench` and a repository `cargo`, and publishes --crates
   crates x --versions versions into it with the body `cargo publish` sends (tests/e2e/cargo_support.py:
   length-prefixed JSON and a `.crate` built in code; each version has two dependencies and features).
2. Reads back what cargo reads, for every crate: its sparse index file (`ab/cd/name`, Bearer token,
   `Accept: text/plain` as cargo 1.95 sends) and the newest version's
   `.crate` at `dl`.
3. Serves those bytes from nginx at the same paths (bench/ceiling.py's harness: one worker,
   `access_log off`, `sendfile on`, the Content-Type Reliquary sent), checks it serves the same bytes,
   then runs `wrk -t2 -c16 -d10s` per case against each, rotating over every crate.
Goal (issue 13): index reads at >= 0.5x nginx. Prints markdown and writes bench/results/cargo-index.md.
nginx and Reliquary are stopped at the end, each by its own pid."""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import requests

from common import Conditions, release_binary, run_and_report, table, wrk_available
from ceiling import Case, check_nginx, log, measure, nginx_binary, read, running_nginx, slug

import cargo_support  # (tests/e2e, put on sys.path by common)
import support

DOMAIN = "bench"
REPOSITORY = "cargo"
CASES = ("cargo index file", "cargo .crate")


def crate_name(index: int) -> str:
    return f"bench-crate-{index:04d}"


def version_of(index: int) -> str:
    return f"1.{index}.0"


def publish_all(endpoint: str, token: str, crates: int, versions: int, workers: int) -> None:
    deps = [{"name": "serde", "version_req": "^1.0", "features": ["derive"], "optional": False,
             "default_features": True, "target": None, "kind": "normal", "registry": None},
            {"name": "libc", "version_req": "^0.2", "features": [], "optional": True,
             "default_features": True, "target": "cfg(unix)", "kind": "normal", "registry": None}]
    features = {"default": ["std"], "std": [], "unix": ["dep:libc"]}

    def one(name: str) -> None:
        for v in range(versions):
            cargo_support.publish_ok(endpoint, token, name, version_of(v), deps=deps, features=features)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, [crate_name(i) for i in range(crates)]))


def read_cargo(base: str, endpoint: str, token: str, crates: int, newest: str) -> tuple[Case, Case]:
    prefix = urlsplit(endpoint).path
    auth = cargo_support.bearer(token)["Authorization"]
    index = Case("cargo index file", "text/plain", auth)
    downloads = Case("cargo .crate", None, auth)
    with requests.Session() as session:
        for i in range(crates):
            name = crate_name(i)
            read(session, index, base, prefix + cargo_support.index_path(name))
            read(session, downloads, base, f"{prefix}api/v1/crates/{name}/{newest}/download")
    return index, downloads


def report(args, cases: list[Case], nginx_version: str, notes: list[str], conditions: Conditions) -> str:
    rows = []
    for case in cases:
        ours, theirs = case.results.get("reliquary"), case.results.get("nginx")
        if not ours or not theirs:
            continue
        mean_bytes = sum(map(len, case.bodies.values())) / len(case.bodies)
        rows.append([case.name, f"{mean_bytes:,.0f}", f"{theirs['rps']:,.0f}", f"{ours['rps']:,.0f}",
                     f"{ours['rps'] / theirs['rps']:.2f}", f"{theirs['p50_ms']:.2f}", f"{ours['p50_ms']:.2f}",
                     f"{1e6 * ours['server_cpu_s'] / max(ours['requests'], 1):.0f}",
                     f"{ours['non_2xx']} / {theirs['non_2xx']}"])
    lines = [
        f"# Cargo reads: Reliquary ({args.backend}) against nginx {nginx_version} serving the same bytes",
        "",
        f"`.venv/bin/python bench/cargo_index.py --crates {args.crates} --versions {args.versions} "
        f"--duration {args.duration} --backend {args.backend}`",
        "",
        f"`wrk -t{args.threads} -c{args.connections} -d{args.duration}s` per case and server, rotating over "
        f"{args.crates} crates of {args.versions} versions each. Goal (issue 13): index reads >= 0.5x nginx.",
        "",
        table(["case", "body bytes (mean)", "nginx req/s", "Reliquary req/s", "Reliquary / nginx",
               "nginx p50 (ms)", "Reliquary p50 (ms)", "Reliquary CPU per request (us)",
               "non-2xx (Reliquary / nginx)"], rows),
        "",
        "## Setup",
        "",
        "- What is served: for each crate, its sparse index file as cargo 1.95 asks for it (`Accept: text/plain`, "
        "`Authorization: Bearer <token>`), and the newest version's `.crate` at `dl`. nginx serves the very bytes "
        "Reliquary answered, from files at the same paths, with the same Content-Type (bench/ceiling.py's nginx: "
        "one worker, `access_log off`, `sendfile on`); first, middle and last path checked byte for byte.",
        "- Reliquary's requests carry the token; nginx's a header of the same length. Index files come from "
        "Reliquary's rendered-document cache (the store's change counter unchanged during the run), after the "
        "token check on every request.",
    ]
    lines += [f"- {note}" for note in notes]
    lines += ["", "## Conditions", "", conditions.markdown()]
    return "\n".join(lines)


def run(args) -> str:
    binary = release_binary()
    conditions = Conditions(binary)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-cargo-") as tmp:
        workdir = Path(tmp)
        with support.running_server(args.backend, workdir / "reliquary") as server:
            client = support.make_client(server.url)
            client.create_domain(domain=DOMAIN)
            client.create_repository(domain=DOMAIN, repository=REPOSITORY)
            endpoint = cargo_support.cargo_endpoint(client, DOMAIN, REPOSITORY)
            token = cargo_support.auth_token(client, DOMAIN)
            log(f"publishing {args.crates}x{args.versions} crate versions ...")
            publish_all(endpoint, token, args.crates, args.versions, args.workers)
            log("reading what cargo reads ...")
            cases = [c for c in read_cargo(server.url, endpoint, token, args.crates, version_of(args.versions - 1))
                     if slug(c.name) in args.cases]
            with running_nginx(workdir / "nginx", cases) as nginx:
                check_nginx(nginx, cases)
                notes.append(f"nginx {nginx.version} (pid {nginx.proc.pid}); Reliquary pid {server.process.proc.pid}.")
                for index, case in enumerate(cases):
                    order = ["nginx", "reliquary"] if index % 2 == 0 else ["reliquary", "nginx"]
                    for side in order:
                        if side == "nginx":
                            measure(case, "nginx", nginx.url(case), nginx.pids(), args, workdir)
                        else:
                            measure(case, "reliquary", server.url, [server.process.proc.pid], args, workdir)
                nginx_version = nginx.version
    conditions.finish()
    return report(args, cases, nginx_version, notes, conditions)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--crates", type=int, default=200, help="crates published and rotated over (200)")
    parser.add_argument("--versions", type=int, default=10, help="versions of each crate (10)")
    parser.add_argument("--backend", choices=support.BACKENDS, default="sqlite", help="metadata store (sqlite)")
    parser.add_argument("--duration", type=int, default=10, help="wrk -d seconds per case and server (10)")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (16)")
    parser.add_argument("--workers", type=int, default=4, help="client threads publishing (4)")
    parser.add_argument("--case", dest="cases", action="append", choices=[slug(c) for c in CASES],
                        help="measure only this case (repeatable; default: both)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write bench/results/")
    args = parser.parse_args()
    args.cases = [slug(c) for c in CASES if not args.cases or slug(c) in args.cases]
    if min(args.crates, args.versions, args.duration, args.workers) < 1:
        parser.error("counts must be at least 1")
    if not wrk_available():
        sys.exit("wrk is missing: apt-get install -y wrk")
    nginx_binary()
    return run_and_report(run, args, None if args.no_write else "cargo-index")


if __name__ == "__main__":
    sys.exit(main())
