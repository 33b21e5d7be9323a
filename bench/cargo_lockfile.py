"""`cargo generate-lockfile` of a consumer with 100 registry dependencies: Reliquary's sparse index
against cargo-http-registry's git index.

    .venv/bin/python bench/cargo_lockfile.py [--crates 100] [--rounds 3] [--backend sqlite|postgres]
                                             [--chr /path/to/cargo-http-registry]

1. Starts a release `reliquary serve` (bench/common.py's binary) with a domain `bench` and a repository
   `cargo`, and `cargo-http-registry` (`cargo install cargo-http-registry --locked`; found on PATH, in
   ~/.cargo/bin, or given with --chr) on a fresh root; publishes the same --crates crates (one version
   each, no dependencies) to both with the body `cargo publish` sends (tests/e2e/cargo_support.py).
2. Writes a consumer depending on all of them and runs `cargo generate-lockfile` --rounds times per
   registry, each with a fresh CARGO_HOME (cold: cargo knows nothing of the index), then --rounds times
   with the last CARGO_HOME kept and Cargo.lock removed (warm: cargo revalidates what it has; sparse
   index files with `If-None-Match`, the git index with a fetch).
cargo-http-registry's index is a git repository read as `file://` (as its README sets it up); Reliquary's
is sparse over HTTP with the token. Prints markdown and writes bench/results/cargo-lockfile.md; both
servers are stopped at the end, each by its own pid."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from common import Conditions, free_port, release_binary, run_and_report, table

import cargo_support  # (tests/e2e, put on sys.path by common)
import support

DOMAIN = "bench"
REPOSITORY = "cargo"
READY_TIMEOUT_S = 30


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def chr_binary(given: str | None) -> str:
    candidates = [given, shutil.which("cargo-http-registry"), str(Path.home() / ".cargo/bin/cargo-http-registry")]
    found = next((c for c in candidates if c and Path(c).is_file()), None)
    if not found:
        sys.exit("cargo-http-registry is missing: cargo install cargo-http-registry --locked (or --chr PATH)")
    return found


def crate_name(index: int) -> str:
    return f"lock-dep-{index:03d}"


@contextlib.contextmanager
def running_chr(binary: str, root: Path) -> Iterator[str]:
    """cargo-http-registry on a free port; yields its base URL (`http://127.0.0.1:PORT/`)."""
    port = free_port()
    root.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(root.parent / "chr.log", "wb")
    proc = subprocess.Popen([binary, "-a", f"127.0.0.1:{port}", str(root)], stdout=log_file,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not (root / "config.json").is_file():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"cargo-http-registry did not start: {(root.parent / 'chr.log').read_text()}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log_file.close()


def publish(base: str, token: str, crates: int) -> None:
    for i in range(crates):
        name = crate_name(i)
        body = cargo_support.publish_body(cargo_support.new_crate(name, "1.0.0"),
                                          cargo_support.make_crate(name, "1.0.0"))
        response = cargo_support.put_new(base, token, body)
        if response.status_code != 200 or "errors" in response.text:
            raise RuntimeError(f"publishing {name} to {base}: {response.status_code} {response.text[:300]}")


def consumer(root: Path, registry: str, crates: int) -> Path:
    path = root / f"consumer-{registry}"
    (path / "src").mkdir(parents=True, exist_ok=True)
    deps = "".join(f'{crate_name(i)} = {{ version = "1", registry = "{registry}" }}\n' for i in range(crates))
    (path / "Cargo.toml").write_text(cargo_support.manifest("consumer", "0.1.0", f"publish = false\n\n[dependencies]\n{deps}"))
    (path / "src" / "lib.rs").write_text("")
    return path


def home(root: Path, label: str, registry: str, index: str, token: str | None) -> Path:
    path = root / label
    path.mkdir(parents=True)
    config = f'[registries.{registry}]\nindex = "{index}"\n'
    if token:
        config += f'credential-provider = "cargo:token"\ntoken = "Bearer {token}"\n'
    (path / "config.toml").write_text(config + "[net]\nretry = 0\n")
    return path


def generate(cargo_home: Path, project: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_")}
    env.update(CARGO_HOME=str(cargo_home), CARGO_TERM_COLOR="never")
    (project / "Cargo.lock").unlink(missing_ok=True)
    started = time.monotonic()
    out = subprocess.run([cargo_support.CARGO, "generate-lockfile"], cwd=project, env=env, capture_output=True,
                         text=True, timeout=600)
    elapsed = time.monotonic() - started
    if out.returncode != 0:
        raise RuntimeError(f"cargo generate-lockfile in {project} failed: {out.stderr[-2000:]}")
    if (project / "Cargo.lock").read_text().count("[[package]]") < 2:
        raise RuntimeError(f"{project}: the lockfile lists no dependencies")
    return elapsed


def measure(root: Path, registry: str, index: str, token: str | None, project: Path, rounds: int) -> dict:
    cold = []
    for r in range(rounds):
        cargo_home = home(root, f"home-{registry}-{r}", registry, index, token)
        cold.append(generate(cargo_home, project))
    warm = [generate(cargo_home, project) for _ in range(rounds)]
    log(f"  {registry}: cold {cold}, warm {warm}")
    return {"cold": cold, "warm": warm}


def run(args) -> str:
    binary = release_binary()
    chr_path = chr_binary(args.chr)
    conditions = Conditions(binary)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cargo-lock-") as tmp:
        workdir = Path(tmp)
        with support.running_server(args.backend, workdir / "reliquary") as server, \
                running_chr(chr_path, workdir / "chr" / "root") as chr_url:
            client = support.make_client(server.url)
            client.create_domain(domain=DOMAIN)
            client.create_repository(domain=DOMAIN, repository=REPOSITORY)
            endpoint = cargo_support.cargo_endpoint(client, DOMAIN, REPOSITORY)
            token = cargo_support.auth_token(client, DOMAIN)
            log(f"publishing {args.crates} crates to each registry ...")
            publish(endpoint, token, args.crates)
            publish(chr_url, "dummy", args.crates)
            log("cargo generate-lockfile ...")
            results["Reliquary (sparse over HTTP)"] = measure(
                workdir, "reliq", f"sparse+{endpoint}", token, consumer(workdir, "reliq", args.crates), args.rounds)
            results["cargo-http-registry 0.1.8 (git, file://)"] = measure(
                workdir, "chr", (workdir / "chr" / "root").as_uri(), None, consumer(workdir, "chr", args.crates),
                args.rounds)
    conditions.finish()
    rows = [[name, f"{statistics.median(r['cold']):.2f}", f"{min(r['cold']):.2f}", f"{statistics.median(r['warm']):.2f}",
             f"{min(r['warm']):.2f}"] for name, r in results.items()]
    cargo_version = subprocess.run([cargo_support.CARGO, "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"# `cargo generate-lockfile` with {args.crates} registry dependencies",
        "",
        f"`.venv/bin/python bench/cargo_lockfile.py --crates {args.crates} --rounds {args.rounds} "
        f"--backend {args.backend}`",
        "",
        table(["registry", "cold median (s)", "cold best (s)", "warm median (s)", "warm best (s)"], rows),
        "",
        "## Setup",
        "",
        f"- {cargo_version}; a consumer depending on {args.crates} crates (`version = \"1\"`), each published once "
        "with the body `cargo publish` sends, no dependencies of their own.",
        "- cold: a fresh CARGO_HOME per round; warm: the last one kept, Cargo.lock removed between rounds.",
        "- Reliquary: release build, " + args.backend + ", index `sparse+<endpoint>` with the token (`Bearer`). "
        "cargo-http-registry: its git index read as `file://` (its README's set-up).",
        "",
        "## Conditions",
        "",
        conditions.markdown(),
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--crates", type=int, default=100, help="dependencies of the consumer (100)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per registry, cold and warm (3)")
    parser.add_argument("--backend", choices=support.BACKENDS, default="sqlite", help="metadata store (sqlite)")
    parser.add_argument("--chr", help="the cargo-http-registry binary")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write bench/results/")
    args = parser.parse_args()
    if min(args.crates, args.rounds) < 1:
        parser.error("counts must be at least 1")
    if cargo_support.CARGO is None:
        sys.exit("cargo is missing")
    return run_and_report(run, args, None if args.no_write else "cargo-lockfile")


if __name__ == "__main__":
    sys.exit(main())
