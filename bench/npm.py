"""npm registry reads, Reliquary against Verdaccio, side by side in one run.

    .venv/bin/python bench/npm.py [--packages 200 --versions 20] [--only verdaccio|reliquary]

1. Installs Verdaccio 6.8.0 into bench/npm/verdaccio/ (package.json there pins it with the
   node-fetch 2.7.0 override; `npm install` runs only when node_modules is missing) and starts it on
   127.0.0.1 (a free port; config, htpasswd and storage under bench/npm/verdaccio/storage/, wiped
   first; no uplinks; reads and publishes need a token, JWT api tokens). Starts a release `reliquary serve` on
   SQLite (a fresh temp data dir; `cargo build --release -p reliquary` first if stale).
2. Populates both with the same --packages × --versions tiny packages (`bench-pkg-NNN`, versions
   1.0.0 … 1.<versions-1>.0; tarballs generated once in Python), PUT through the registry API with
   the body npm sends (base64 attachment), --workers threads, each publishing whole packages in
   version order.
3. `npm install` of a project depending on --deps of them (`^1.0.0`, so the newest version), with a
   hermetic npm (own user config with the token, no audit/fund): cold = fresh cache, no
   node_modules, no lockfile; warm = the cache of a previous install kept, node_modules and the
   lockfile removed (so packuments are revalidated, tarballs come from the cache). --runs runs of
   each, servers interleaved, median reported.
4. wrk (-t2 -c16 -d10s by default, the token via -H) on packument GETs (with the Accept header npm
   install sends) and on tarball GETs, rotating over every package (a generated Lua script).
Prints a markdown table with the ratios Reliquary/Verdaccio and writes bench/results/npm.md.
Everything started is stopped at the end (by its own pid). If Verdaccio cannot be installed, the
report says so and carries the Reliquary numbers alone."""

from __future__ import annotations

import sys

import argparse
import contextlib
import json
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import requests

from common import BENCH_DIR, REPO_ROOT, Conditions, free_port, release_binary, run_wrk, table, wrk_available, \
    write_results

import support  # (tests/e2e, put on sys.path by common)
from npm_support import (
    ABBREVIATED_ACCEPT,
    Npm,
    auth_token,
    escaped_name,
    make_tarball,
    new_project,
    npm_endpoint,
    put_publish,
    tarball_basename,
)

VERDACCIO_DIR = BENCH_DIR / "npm" / "verdaccio"
VERDACCIO_BIN = VERDACCIO_DIR / "node_modules" / ".bin" / "verdaccio"
VERDACCIO_STATE = VERDACCIO_DIR / "storage"
VERDACCIO_USER = ("bench", "bench-pass-0123456789")
DOMAIN = "bench"
REPOSITORY = "npm"
READY_TIMEOUT_S = 60


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the two registries


@dataclass
class Registry:
    """One server under test: its npm registry URL (ending with /) and a token for it."""

    label: str
    registry: str
    token: str
    publish_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def install_verdaccio() -> None:
    if VERDACCIO_BIN.exists():
        return
    log(f"installing Verdaccio into {VERDACCIO_DIR.relative_to(REPO_ROOT)} (npm install) ...")
    # The machine's own npm configuration (its registry) is what installs it: not hermetic on purpose.
    proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-update-notifier", "--no-package-lock"],
                          cwd=VERDACCIO_DIR, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    if proc.returncode != 0 or not VERDACCIO_BIN.exists():
        raise RuntimeError(f"npm install of Verdaccio failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-4000:]}")


def verdaccio_version() -> str:
    try:
        manifest = VERDACCIO_DIR / "node_modules" / "verdaccio" / "package.json"
        return json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "?"


@contextlib.contextmanager
def running_verdaccio() -> Iterator[Registry]:
    shutil.rmtree(VERDACCIO_STATE, ignore_errors=True)
    (VERDACCIO_STATE / "data").mkdir(parents=True)
    port = free_port()
    config = VERDACCIO_STATE / "config.yaml"
    config.write_text("\n".join([
        f"storage: {VERDACCIO_STATE / 'data'}",
        "auth:",
        "  htpasswd:",
        f"    file: {VERDACCIO_STATE / 'htpasswd'}",
        "    max_users: 1000",
        "uplinks: {}",
        "packages:",
        "  '**':",
        "    access: $authenticated",
        "    publish: $authenticated",
        "    unpublish: $authenticated",
        "security:",  # JWT api tokens: verified by signature like Reliquary's; legacy tokens re-run bcrypt
        "  api:",
        "    jwt:",
        "      sign:",
        "        expiresIn: 7d",
        "web:",
        "  enable: false",
        "max_body_size: 10mb",
        f"listen: 127.0.0.1:{port}",
        "log: { type: stdout, format: pretty, level: error }",
        "",
    ]))
    log_file = open(VERDACCIO_STATE / "verdaccio.log", "wb")
    proc = subprocess.Popen([str(VERDACCIO_BIN), "--config", str(config)], cwd=VERDACCIO_STATE,
                            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"Verdaccio exited {proc.returncode}: "
                                   f"{(VERDACCIO_STATE / 'verdaccio.log').read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{base}-/ping", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"Verdaccio not ready within {READY_TIMEOUT_S} s")
            time.sleep(0.2)
        name, password = VERDACCIO_USER
        created = requests.put(f"{base}-/user/org.couchdb.user:{name}", json={"name": name, "password": password},
                               timeout=10)
        created.raise_for_status()
        yield Registry(f"Verdaccio {verdaccio_version()}", base, created.json()["token"])
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log_file.close()


@contextlib.contextmanager
def running_reliquary(workdir: Path) -> Iterator[Registry]:
    with support.running_server("sqlite", workdir) as server:
        client = support.make_client(server.url)
        client.create_domain(domain=DOMAIN)
        client.create_repository(domain=DOMAIN, repository=REPOSITORY)
        yield Registry("Reliquary (SQLite)", npm_endpoint(client, DOMAIN, REPOSITORY), auth_token(client, DOMAIN))


# --------------------------------------------------------------------------- population


def package_name(index: int) -> str:
    return f"bench-pkg-{index:03d}"


def version_of(index: int) -> str:
    return f"1.{index}.0"


def generate(packages: int, versions: int) -> dict[str, list[tuple[bytes, dict]]]:
    return {package_name(p): [make_tarball(package_name(p), version_of(v), {"description": f"bench package {p}"})
                              for v in range(versions)]
            for p in range(packages)}


def populate(registry: Registry, corpus: dict[str, list[tuple[bytes, dict]]], workers: int) -> None:
    names = list(corpus)
    failures: list[str] = []
    done = [0]
    lock = threading.Lock()
    total = sum(len(v) for v in corpus.values())

    def worker(slot: int) -> None:
        session = requests.Session()
        for name in names[slot::workers]:
            for tarball, manifest in corpus[name]:
                response = put_publish(registry.registry, registry.token, manifest, tarball, session=session)
                with lock:
                    done[0] += 1
                    if response.status_code not in (200, 201):
                        failures.append(f"{name}@{manifest['version']}: {response.status_code} {response.text[:200]}")
                        return
        session.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(slot,), daemon=True) for slot in range(workers)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        time.sleep(2)
        log(f"  {registry.label}: {done[0]}/{total} published")
    registry.publish_seconds = time.monotonic() - started
    if failures:
        raise RuntimeError(f"publishing into {registry.label} failed: " + "; ".join(failures[:5]))


# --------------------------------------------------------------------------- npm install


def timed_install(registry: Registry, project: Path, cache: Path, home: Path) -> float:
    for leftover in ("node_modules", "package-lock.json"):
        path = project / leftover
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    npm = Npm(registry.registry, registry.token, home, cache=cache)
    started = time.monotonic()
    npm.run("install", "--ignore-scripts", "--prefer-online", cwd=project)
    elapsed = time.monotonic() - started
    if not (project / "node_modules").is_dir():
        raise RuntimeError(f"npm install against {registry.label} left no node_modules")
    return elapsed


def measure_installs(registries: list[Registry], deps: list[str], runs: int, workdir: Path) -> dict[str, dict]:
    results: dict[str, dict] = {r.label: {"cold": [], "warm": []} for r in registries}
    projects = {}
    for index, registry in enumerate(registries):
        root = workdir / f"install-{index}"
        projects[registry.label] = (root, new_project(root, {name: "^1.0.0" for name in deps}))
    for run in range(runs):
        for registry in registries:
            root, project = projects[registry.label]
            cache = root / f"cache-cold-{run}"
            seconds = timed_install(registry, project, cache, root / "npm")
            results[registry.label]["cold"].append(seconds)
            log(f"  {registry.label}: cold install {run + 1}/{runs}: {seconds:.2f} s")
    for registry in registries:  # the warm cache: one install first (not counted)
        root, project = projects[registry.label]
        timed_install(registry, project, root / "cache-warm", root / "npm")
    for run in range(runs):
        for registry in registries:
            root, project = projects[registry.label]
            seconds = timed_install(registry, project, root / "cache-warm", root / "npm")
            results[registry.label]["warm"].append(seconds)
            log(f"  {registry.label}: warm install {run + 1}/{runs}: {seconds:.2f} s")
    return results


# --------------------------------------------------------------------------- wrk


def measure_wrk(registries: list[Registry], names: list[str], latest: str, args, workdir: Path) -> dict[str, dict]:
    results: dict[str, dict] = {}
    for registry in registries:
        base = registry.registry
        prefix = "/" + base.split("/", 3)[3]  # the registry's path, e.g. /npm/d/bench-111122223333/npm/
        kinds = {
            "packument": ([prefix + escaped_name(n) for n in names], {"Accept": ABBREVIATED_ACCEPT}),
            "tarball": ([f"{prefix}{n}/-/{tarball_basename(n, latest)}" for n in names], {}),
        }
        for kind, (paths, headers) in kinds.items():
            check = requests.get(base.rstrip("/") + paths[0][len(prefix) - 1:],
                                 headers={"Authorization": f"Bearer {registry.token}", **headers}, timeout=10)
            if check.status_code != 200:
                raise RuntimeError(f"{registry.label} answers {check.status_code} to {paths[0]}: {check.text[:200]}")
            log(f"  wrk {registry.label} {kind} ({args.duration} s) ...")
            result = run_wrk(base, paths, {"Authorization": f"Bearer {registry.token}", **headers},
                             args.threads, args.connections, args.duration, workdir, f"{registry.label}-{kind}")
            results.setdefault(registry.label, {})[kind] = result
            log(f"    {result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, non-2xx {result['non_2xx']}")
    return results


# --------------------------------------------------------------------------- report


def ratio(reliquary: float | None, verdaccio: float | None) -> str:
    if not reliquary or not verdaccio:
        return "—"
    return f"{reliquary / verdaccio:.2f}×"


def report(args, registries: list[Registry], installs: dict, wrk: dict, conditions: Conditions | None,
           problems: list[str]) -> str:
    labels = [r.label for r in registries]
    verdaccio = next((label for label in labels if label.startswith("Verdaccio")), None)
    reliquary = next((label for label in labels if label.startswith("Reliquary")), None)
    columns = labels + (["Reliquary / Verdaccio"] if verdaccio and reliquary else [])

    def row(title: str, values: dict[str, float | None], fmt: str) -> list[object]:
        cells: list[object] = [title] + [fmt.format(values[label]) if values.get(label) is not None else "—"
                                         for label in labels]
        if verdaccio and reliquary:
            cells.append(ratio(values.get(reliquary), values.get(verdaccio)))
        return cells

    rows = []
    rows.append(row(f"populate: {args.packages}×{args.versions} PUTs, {args.workers} workers (s)",
                    {r.label: r.publish_seconds for r in registries}, "{:.1f}"))
    rows.append(row("populate: publishes/s", {r.label: args.packages * args.versions / r.publish_seconds
                                              for r in registries if r.publish_seconds}, "{:.0f}"))
    for kind in ("cold", "warm"):
        if installs:
            rows.append(row(f"npm install, {args.deps} deps, {kind} (median of {args.runs}, s)",
                            {label: statistics.median(installs[label][kind]) for label in installs
                             if installs[label][kind]}, "{:.2f}"))
    for kind in ("packument", "tarball"):
        if wrk:
            rows.append(row(f"{kind} GET (req/s, wrk -t{args.threads} -c{args.connections} -d{args.duration}s)",
                            {label: wrk[label][kind]["rps"] for label in wrk if kind in wrk[label]}, "{:.0f}"))
            rows.append(row(f"{kind} GET p50 latency (ms)",
                            {label: wrk[label][kind]["p50_ms"] for label in wrk if kind in wrk[label]}, "{:.2f}"))
    lines = [
        "# npm registry: Reliquary vs Verdaccio",
        "",
        f"`.venv/bin/python bench/npm.py --packages {args.packages} --versions {args.versions} --deps {args.deps}"
        f" --runs {args.runs}`" + (f" `--only {args.only}`" if args.only else ""),
        "",
        table(["measure"] + columns, rows),
        "",
        "Ratios are Reliquary / Verdaccio: above 1× is better for req/s and publishes/s, below 1× is better"
        " for seconds.",
        "",
        "- Both servers run at once on 127.0.0.1 with the same packages; wrk, npm and the servers share the"
        " machine's cores. Every request carries a token (Verdaccio: `access: $authenticated`).",
        "- cold: fresh npm cache, no node_modules, no lockfile. warm: npm cache of a previous install kept,"
        " node_modules and package-lock.json removed (packuments revalidated, tarballs from the cache).",
        "- wrk rotates over all packages: packuments with npm install's Accept header (abbreviated if the"
        " server has it), tarballs of the newest version.",
    ]
    for label in wrk:
        for kind, result in wrk[label].items():
            if result["non_2xx"] or result["socket_errors"]:
                lines.append(f"- **{label} {kind}: {result['non_2xx']} non-2xx responses, socket errors:"
                             f" {result['socket_errors'] or 'none'}**")
    if installs:
        lines.append("- install runs (s): " + "; ".join(
            f"{label} cold {', '.join(f'{s:.2f}' for s in installs[label]['cold'])}"
            f" / warm {', '.join(f'{s:.2f}' for s in installs[label]['warm'])}" for label in installs))
    for problem in problems:
        lines.append(f"- **{problem}**")
    if conditions is not None:
        lines += ["", "## Conditions", "", conditions.markdown()]
    return "\n".join(lines)


class VerdaccioOnlyConditions(Conditions):
    """Conditions without a Reliquary binary (--only verdaccio)."""

    def markdown(self) -> str:
        return "\n".join(line for line in super().markdown().splitlines() if not line.startswith("- binary:")) + \
            "\n- Reliquary not run (--only verdaccio)"


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--packages", type=int, default=200, help="packages published into each server (200)")
    parser.add_argument("--versions", type=int, default=20, help="versions per package (20)")
    parser.add_argument("--deps", type=int, default=100, help="dependencies of the installed project (100)")
    parser.add_argument("--runs", type=int, default=3, help="npm install runs per kind and server (3)")
    parser.add_argument("--workers", type=int, default=4, help="parallel publishing threads (4)")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (16)")
    parser.add_argument("--duration", type=int, default=10, help="wrk -d seconds (10)")
    parser.add_argument("--only", choices=["verdaccio", "reliquary"], help="run one server only")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write bench/results/npm.md")
    args = parser.parse_args()
    args.deps = min(args.deps, args.packages)
    if min(args.packages, args.versions, args.deps, args.runs, args.workers) < 1:
        parser.error("counts must be at least 1")

    problems: list[str] = []
    support.isolate_from_ambient_aws_config()
    want_verdaccio = args.only != "reliquary"
    want_reliquary = args.only != "verdaccio"
    if want_verdaccio:
        try:
            install_verdaccio()
        except Exception as error:  # noqa: BLE001 - reported, the Reliquary half still runs
            problems.append(f"Verdaccio could not be installed, Reliquary numbers only: {str(error)[:300]}")
            want_verdaccio = False
            log(problems[-1])
    if not want_verdaccio and not want_reliquary:
        log("nothing to run")
        return 1
    if want_reliquary:
        conditions: Conditions = Conditions(release_binary())
    else:
        conditions = VerdaccioOnlyConditions(VERDACCIO_BIN.resolve())  # any existing file: its line is dropped
    if not wrk_available():
        problems.append("wrk is not installed (apt-get install -y wrk): no req/s numbers")

    log(f"generating {args.packages}×{args.versions} tarballs ...")
    corpus = generate(args.packages, args.versions)
    names = list(corpus)
    latest = version_of(args.versions - 1)

    with tempfile.TemporaryDirectory(prefix="bench-npm-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        registries: list[Registry] = []
        if want_verdaccio:
            log("starting Verdaccio ...")
            registries.append(stack.enter_context(running_verdaccio()))
        if want_reliquary:
            log("starting Reliquary ...")
            registries.append(stack.enter_context(running_reliquary(workdir / "reliquary")))
        for registry in registries:
            log(f"populating {registry.label} at {registry.registry} ...")
            populate(registry, corpus, args.workers)
            log(f"  {registry.publish_seconds:.1f} s")
        log(f"npm install of {args.deps} packages ...")
        installs = measure_installs(registries, names[:args.deps], args.runs, workdir)
        wrk = measure_wrk(registries, names, latest, args, workdir) if wrk_available() else {}
    conditions.finish()

    markdown = report(args, registries, installs, wrk, conditions, problems)
    print(markdown)
    if not args.no_write:
        path = write_results("npm", markdown)
        log(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
