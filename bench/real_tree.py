"""Real package trees installed through Reliquary against straight from the public registries.

    .venv/bin/python bench/real_tree.py [--case npm|pip] [--runs 2] [--backend sqlite|postgres] [--small]

OPT-IN: this benchmark reaches registry.npmjs.org, pypi.org and files.pythonhosted.org (directly,
and through Reliquary's `public:npmjs` / `public:pypi` external connections). Neither CI nor
scripts/test runs it; its numbers move with the network and with the registries' own state.

Per case and run, in this order (the public side goes first in runs 1, 3, ... and last in runs 2, 4, ...):
  public  the client straight against the public registry: a fresh project, an empty cache;
  cold    a fresh release Reliquary (SQLite in a temp dir, or a fresh PostgreSQL database), domain
          `bench`, repository `npm-store` (`pypi-store`) holding the `public:npmjs` (`public:pypi`)
          external connection and repository `app` with that one as its upstream; the client
          against `app` with a fresh project and an empty cache. Every packument / project page
          and file is fetched from the public registry by Reliquary;
  second  the same server right after: a fresh project (no node_modules, no lockfile), an empty
          client cache. Reliquary now has every version retained in `app` and the registry's
          documents in its memory cache (`--external-cache-seconds`, default 300 s).
The cases:
  npm     `npm install webpack@5 eslint@8 jest@29 @types/node --ignore-scripts --no-audit --no-fund
          --loglevel http --timing` (hermetic npm: own npmrc, global npmrc and cache; no update
          notifier; npm's `--loglevel http` lines give every request it made with its duration,
          `--timing` how long it spent resolving the tree and fetching + unpacking tarballs);
  pip     `pip download --no-cache-dir -d <fresh dir> requests boto3 pandas flask sqlalchemy` with the
          venv's pip (hermetic: no config file, no keyring, no version check; its `Collecting` and
          `Downloading` lines count the pages and files it asked for).
Also recorded per phase: the requests Reliquary served (its log at RUST_LOG=info,reliquary_http=debug,hyper_util=debug),
the requests it sent to the public registry (hyper-util's connection lines at debug), and the
bytes that went over the machine's non-loopback interfaces (/proc/net/dev; during `second` that is
Reliquary talking to the registry, plus whatever else the machine downloaded).

Prints markdown tables (medians, ratios Reliquary / public) and writes bench/results/real-tree.md.
`--small` installs small trees (chalk@4 / requests) for trying the script out; `--keep DIR` keeps the
server logs and client outputs."""

from __future__ import annotations

import sys

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import REPO_ROOT, Conditions, percentile, release_binary, table, write_results

import support  # (tests/e2e, put on sys.path by common)
from npm_support import Npm, auth_token, new_project, npm_endpoint
import pypi_support

NPM_PUBLIC = "https://registry.npmjs.org/"
PYPI_PUBLIC = "https://pypi.org/simple/"
NPM_TREE = ["webpack@5", "eslint@8", "jest@29", "@types/node"]
NPM_SMALL = ["chalk@4"]
PIP_TREE = ["requests", "boto3", "pandas", "flask", "sqlalchemy"]
PIP_SMALL = ["requests"]
DOMAIN = "bench"
CLIENT_TIMEOUT_S = 1200
SERVER_LOG = "info,reliquary_http=debug,hyper_util=debug"
CASES = ("npm", "pip")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- what a phase measured


@dataclass
class Phase:
    case: str
    kind: str  # public | cold | second
    run: int
    seconds: float = 0.0
    packages: int = 0  # npm: "added N packages"; pip: files downloaded
    payload_bytes: int = 0  # pip: bytes of the downloaded files
    client: dict[str, list[float]] = field(default_factory=dict)  # request kind -> durations (ms; npm only)
    packument_ms: dict[str, float] = field(default_factory=dict)  # npm: package -> summed ms of its packument GETs
    client_counts: dict[str, int] = field(default_factory=dict)  # request kind -> count
    served: dict[str, int] = field(default_factory=dict)  # Reliquary: request kind -> count
    served_errors: int = 0
    outgoing: dict[str, int] = field(default_factory=dict)  # Reliquary -> registry: host -> requests
    new_connections: int = 0
    wan_rx: int = 0
    wan_tx: int = 0
    data_dir_bytes: int = 0  # Reliquary's data dir after the phase (blobs; the SQLite database)
    client_cpu_s: float = 0.0  # user + system CPU of the client (npm / pip and their children)
    server_cpu_s: float = 0.0  # user + system CPU of the Reliquary process during the phase
    npm_timers: dict[str, float] = field(default_factory=dict)  # npm --timing: idealTree, reify:unpack (s)


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of one live process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wan_bytes() -> tuple[int, int]:
    """(received, sent) bytes over every interface but loopback, since boot."""
    rx = tx = 0
    for line in Path("/proc/net/dev").read_text().splitlines()[2:]:
        name, _, data = line.partition(":")
        if name.strip() == "lo":
            continue
        fields = data.split()
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


class LogSlice:
    """The lines a server wrote to its stderr log between `start()` and `lines()`."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0

    def start(self) -> None:
        self.offset = self.path.stat().st_size

    def lines(self) -> list[str]:
        with open(self.path, "rb") as file:
            file.seek(self.offset)
            text = file.read().decode(errors="replace")
        return [ANSI.sub("", line) for line in text.splitlines()]


SERVED = re.compile(r"package request.*\bmethod=(?P<method>\S+) path=(?P<path>\S+) status=(?P<status>\d+)")
SERVED_FAILED = re.compile(r"package request failed")
POOL_REUSE = re.compile(r"hyper_util::client::legacy::pool: reuse idle connection for \(\"?\w+\"?, (?P<host>[^)]+)\)")
CONNECTING = re.compile(r"hyper_util::client::legacy::connect::http: connecting to (?P<addr>\S+)")


def read_server_log(phase: Phase, lines: list[str]) -> None:
    """Requests served (by kind), and requests sent to a registry. hyper-util (behind reqwest)
    logs at debug "connecting to" for each new connection, whose first request it carries, and
    "reuse idle connection for (scheme, host)" for every further request over a pooled one
    (HTTP/1.1 keep-alive or a shared HTTP/2 connection): their sum is the requests sent."""
    for line in lines:
        if match := SERVED.search(line):
            path = match["path"]
            if "/-/" in path and path.endswith(".tgz"):
                kind = "tarball"
            elif "/files/" in path:
                kind = "file"
            elif "/simple/" in path:
                kind = "page"
            else:
                kind = "packument"
            phase.served[kind] = phase.served.get(kind, 0) + 1
            if int(match["status"]) >= 400:
                phase.served_errors += 1
        elif SERVED_FAILED.search(line):
            phase.served_errors += 1
        elif match := POOL_REUSE.search(line):
            host = match["host"].strip().strip('"')
            phase.outgoing[host] = phase.outgoing.get(host, 0) + 1
        elif CONNECTING.search(line):
            phase.new_connections += 1


# --------------------------------------------------------------------------- Reliquary


@contextlib.contextmanager
def reliquary(case: str, backend: str, workdir: Path):
    """A fresh server with `<format>-store` (the external connection) upstream of `app`; yields
    (server, client, app endpoint, token)."""
    fmt = "npm" if case == "npm" else "pypi"
    connection = "public:npmjs" if case == "npm" else "public:pypi"
    with support.running_server_with_env(backend, workdir, RUST_LOG=SERVER_LOG) as server:
        client = support.make_client(server.url)
        client.create_domain(domain=DOMAIN)
        store = f"{fmt}-store"
        client.create_repository(domain=DOMAIN, repository=store)
        client.associate_external_connection(domain=DOMAIN, repository=store, externalConnection=connection)
        client.create_repository(domain=DOMAIN, repository="app", upstreams=[{"repositoryName": store}])
        if case == "npm":
            endpoint = npm_endpoint(client, DOMAIN, "app")
        else:
            endpoint = pypi_support.pypi_endpoint(client, DOMAIN, "app")
        yield server, endpoint, auth_token(client, DOMAIN)


# --------------------------------------------------------------------------- npm


NPM_FETCH = re.compile(r"^npm http fetch (?P<method>\w+) (?P<status>\d+) (?P<url>\S+) (?P<ms>\d+)ms")
NPM_ADDED = re.compile(r"added (\d+) packages?")
NPM_TIMING = re.compile(r"^npm timing (?P<timer>idealTree|reify:unpack|reify) Completed in (?P<ms>\d+)ms")


def run_npm(phase: Phase, registry: str, token: str | None, specs: list[str], root: Path) -> str:
    """One `npm install <specs>` into a fresh project with an empty cache; fills `phase`."""
    project = new_project(root)
    npm = Npm(registry, token, root / "npm")  # fresh npmrc and cache under root/npm
    argv = ["npm", "install", *specs, "--ignore-scripts", "--no-audit", "--no-fund", "--no-update-notifier",
            "--loglevel", "http", "--timing"]
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=project, env=npm.env(), capture_output=True, text=True,
                          timeout=CLIENT_TIMEOUT_S, stdin=subprocess.DEVNULL)
    phase.seconds = time.monotonic() - started
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"npm install ({phase.kind}) exited {proc.returncode}:\n{output[-4000:]}")
    if added := NPM_ADDED.search(proc.stdout):
        phase.packages = int(added[1])
    for line in output.splitlines():
        if match := NPM_FETCH.match(line):
            url = match["url"]
            kind = "tarball" if "/-/" in url and url.endswith(".tgz") else "packument"
            phase.client.setdefault(kind, []).append(float(match["ms"]))
            if kind == "packument":
                name = url.rstrip("/").rsplit("/", 2)
                name = "/".join(name[-2:]) if name[-2].startswith("@") else name[-1]
                name = name.replace("%2f", "/").replace("%2F", "/")
                phase.packument_ms[name] = phase.packument_ms.get(name, 0.0) + float(match["ms"])
            phase.client_counts[kind] = phase.client_counts.get(kind, 0) + 1
        elif match := NPM_TIMING.match(line):
            phase.npm_timers[match["timer"]] = int(match["ms"]) / 1000
    return output


# --------------------------------------------------------------------------- pip


PIP_COLLECTING = re.compile(r"^Collecting (?P<name>[A-Za-z0-9._-]+)", re.M)  # a project (again when backtracking)
PIP_DOWNLOADING = re.compile(r"^\s*Downloading ", re.M)  # one file each


def run_pip(phase: Phase, index: str, requirements: list[str], root: Path) -> str:
    """One `pip download --no-cache-dir` of `requirements` (with their dependencies) into a fresh
    folder; fills `phase`."""
    dest = root / "downloads"
    root.mkdir(parents=True, exist_ok=True)
    argv = pypi_support.pip_argv("download", "--no-cache-dir", "--progress-bar", "off", "--disable-pip-version-check",
                                 "-d", str(dest), "--index-url", index, *requirements)
    started = time.monotonic()
    proc = subprocess.run(argv, env=pypi_support.hermetic_env(), capture_output=True, text=True,
                          timeout=CLIENT_TIMEOUT_S, stdin=subprocess.DEVNULL, cwd=root)
    phase.seconds = time.monotonic() - started
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"pip download ({phase.kind}) exited {proc.returncode}:\n{output[-4000:]}")
    files = [p for p in dest.iterdir() if p.is_file()]
    phase.packages = len(files)
    phase.payload_bytes = sum(p.stat().st_size for p in files)
    # pip fetches a project's page once per run, however often it collects the project.
    phase.client_counts["page"] = len({pypi_support.normalize(name) for name in PIP_COLLECTING.findall(proc.stdout)})
    phase.client_counts["file"] = len(PIP_DOWNLOADING.findall(proc.stdout))
    return output


# --------------------------------------------------------------------------- one run of a case


def measure(case: str, kind: str, run: int, keep: Path | None, work: Path, target: str, token: str | None,
            tree: list[str], server: support.RunningServer | None = None) -> Phase:
    phase = Phase(case, kind, run)
    root = work / f"{case}-{run}-{kind}"
    root.mkdir(parents=True)
    server_log = LogSlice(server.process.stderr_path) if server else None
    server_pid = server.process.proc.pid if server else None
    if server_log:
        server_log.start()
    server_cpu = process_cpu_seconds(server_pid) if server_pid else 0.0
    client_cpu = children_cpu_seconds()
    rx, tx = wan_bytes()
    if case == "npm":
        output = run_npm(phase, target, token, tree, root)
    else:
        index = pypi_support.index_url(target, token) if token else target
        output = run_pip(phase, index, tree, root)
    rx2, tx2 = wan_bytes()
    phase.wan_rx, phase.wan_tx = rx2 - rx, tx2 - tx
    phase.client_cpu_s = children_cpu_seconds() - client_cpu
    if server_pid:
        phase.server_cpu_s = process_cpu_seconds(server_pid) - server_cpu
    if server_log:
        read_server_log(phase, server_log.lines())
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
        (keep / f"{case}-{run}-{kind}.client.log").write_text(output)
        if server_log:
            (keep / f"{case}-{run}-{kind}.server.log").write_text("\n".join(server_log.lines()) + "\n")
    served = sum(phase.served.values())
    log(f"  {case} run {run + 1} {kind}: {phase.seconds:.2f} s, {phase.packages} "
        f"{'packages' if case == 'npm' else 'files'}, client requests {phase.client_counts}"
        + (f", served {phase.served} ({phase.served_errors} errors), to the registry {phase.outgoing}"
           f" ({phase.new_connections} new connections)" if server_log else "")
        + f", WAN rx {phase.wan_rx / 1e6:.1f} MB tx {phase.wan_tx / 1e6:.2f} MB"
        + f", CPU client {phase.client_cpu_s:.1f} s server {phase.server_cpu_s:.1f} s"
        + (f" [{served} served]" if server_log else ""))
    shutil.rmtree(root, ignore_errors=True)
    return phase


def run_case(case: str, run: int, args, work: Path) -> list[Phase]:
    tree = (NPM_SMALL if args.small else NPM_TREE) if case == "npm" else (PIP_SMALL if args.small else PIP_TREE)
    public = NPM_PUBLIC if case == "npm" else PYPI_PUBLIC
    phases: list[Phase] = []

    def public_phase() -> None:
        phases.append(measure(case, "public", run, args.keep, work, public, None, tree))

    if run % 2 == 0:
        public_phase()
    with reliquary(case, args.backend, work / f"reliquary-{case}-{run}") as (server, endpoint, token):
        phases.append(measure(case, "cold", run, args.keep, work, endpoint, token, tree, server))
        phases.append(measure(case, "second", run, args.keep, work, endpoint, token, tree, server))
        phases[-1].data_dir_bytes = sum(f.stat().st_size for f in server.data_dir.rglob("*") if f.is_file())
    if run % 2 == 1:
        public_phase()
    return phases


# --------------------------------------------------------------------------- report


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def case_report(case: str, phases: list[Phase], args) -> list[str]:
    by_kind = {kind: [ph for ph in phases if ph.case == case and ph.kind == kind] for kind in ("public", "cold", "second")}
    if not all(by_kind.values()):
        return []
    med = {kind: median([ph.seconds for ph in group]) for kind, group in by_kind.items()}
    unit = "packages installed" if case == "npm" else "files downloaded"
    tree = (NPM_SMALL if args.small else NPM_TREE) if case == "npm" else (PIP_SMALL if args.small else PIP_TREE)
    if case == "npm":
        command = f"`npm install {' '.join(tree)} --ignore-scripts`"
    else:
        command = f"`pip download --no-cache-dir {' '.join(tree)}`"
    columns = ["measure", "public registry", "Reliquary cold", "Reliquary second"]
    rows: list[list[object]] = [
        [f"{command}, median of {len(by_kind['public'])} (s)", f"{med['public']:.2f}", f"{med['cold']:.2f}",
         f"{med['second']:.2f}"],
        ["ratio to the public registry", "1.00", f"{med['cold'] / med['public']:.2f}",
         f"{med['second'] / med['public']:.2f}"],
        ["runs (s)"] + [", ".join(f"{ph.seconds:.2f}" for ph in by_kind[k]) for k in ("public", "cold", "second")],
        [unit] + [", ".join(sorted({str(ph.packages) for ph in by_kind[k]})) for k in ("public", "cold", "second")],
    ]
    if case == "npm":
        for timer, title in (("idealTree", "npm `idealTree` (resolving: packuments)"),
                             ("reify:unpack", "npm `reify:unpack` (tarballs fetched and unpacked)")):
            rows.append([f"{title}, median (s)"] + [
                f"{median([ph.npm_timers.get(timer, float('nan')) for ph in by_kind[k]]):.2f}"
                for k in ("public", "cold", "second")])
    if case == "pip":
        rows.append(["MB downloaded by pip"] + [f"{median([ph.payload_bytes / 1e6 for ph in by_kind[k]]):.1f}"
                                                  for k in ("public", "cold", "second")])
    kinds = ["packument", "tarball"] if case == "npm" else ["page", "file"]
    for kind in kinds:
        rows.append([f"client {kind} requests"] + [
            f"{median([ph.client_counts.get(kind, 0) for ph in by_kind[k]]):.0f}" for k in ("public", "cold", "second")])
    if case == "npm":
        for kind in kinds:
            def cell(k: str) -> str:
                ms = [m for ph in by_kind[k] for m in ph.client.get(kind, [])]
                if not ms:
                    return "—"
                return f"{percentile(ms, 50):.0f} / {percentile(ms, 90):.0f} / {max(ms):.0f}"
            rows.append([f"npm's {kind} request time p50 / p90 / max (ms, all runs)"] +
                        [cell(k) for k in ("public", "cold", "second")])
    rows.append([f"CPU of {'npm' if case == 'npm' else 'pip'} (s, median)"] + [
        f"{median([ph.client_cpu_s for ph in by_kind[k]]):.1f}" for k in ("public", "cold", "second")])
    rows.append(["CPU of Reliquary (s, median)", "—"] + [
        f"{median([ph.server_cpu_s for ph in by_kind[k]]):.1f}" for k in ("cold", "second")])
    rows.append(["requests Reliquary served (median)", "—"] + [
        f"{median([sum(ph.served.values()) for ph in by_kind[k]]):.0f}" for k in ("cold", "second")])
    rows.append(["requests Reliquary sent to the registry (median)", "—"] + [
        f"{median([sum(ph.outgoing.values()) + ph.new_connections for ph in by_kind[k]]):.0f}"
        for k in ("cold", "second")])
    rows.append(["of which on new connections (median)", "—"] + [
        f"{median([ph.new_connections for ph in by_kind[k]]):.0f}" for k in ("cold", "second")])
    rows.append(["non-loopback MB received during the phase (median)"] + [
        f"{median([ph.wan_rx / 1e6 for ph in by_kind[k]]):.1f}" for k in ("public", "cold", "second")])
    errors = [ph.served_errors for k in ("cold", "second") for ph in by_kind[k]]
    lines = [f"## {case}", "", table(columns, rows), ""]
    if case == "npm":
        slowest = sorted({name for ph in by_kind["second"] for name in ph.packument_ms},
                         key=lambda n: -median([ph.packument_ms.get(n, 0.0) for ph in by_kind["second"]]))[:8]
        slow_rows = [[f"`{name}`"] + [f"{median([ph.packument_ms.get(name, 0.0) for ph in by_kind[k]]):.0f}"
                                       for k in ("public", "cold", "second")] for name in slowest]
        lines += ["The packuments npm waited longest for in the second install (npm's own duration, summed over"
                  " its GETs of that packument in one install, median over the runs, ms):", "",
                  table(["packument", "public registry", "Reliquary cold", "Reliquary second"], slow_rows), ""]
    if any(errors):
        lines.append(f"- **Reliquary answered {sum(errors)} requests with 4xx/5xx**")
    hosts: dict[str, dict[str, int]] = {}
    for k in ("cold", "second"):
        for ph in by_kind[k]:
            for host, count in ph.outgoing.items():
                hosts.setdefault(k, {}).setdefault(host, 0)
                hosts[k][host] += count
    if hosts:
        lines.append("- requests over pooled connections, by host, summed over the runs: " + "; ".join(
            f"{k}: " + ", ".join(f"{h} {c}" for h, c in sorted(v.items())) for k, v in hosts.items()))
    stored = [ph.data_dir_bytes for ph in by_kind["second"]]
    if any(stored):
        lines.append(f"- Reliquary's data dir after the second install: {median(stored) / 1e6:.1f} MB")
    lines.append("")
    return lines


def report(args, phases: list[Phase], conditions: Conditions, problems: list[str]) -> str:
    lines = [
        "# Real package trees: through Reliquary against straight from the public registries",
        "",
        f"`.venv/bin/python bench/real_tree.py --runs {args.runs} --backend {args.backend}"
        + "".join(f" --case {c}" for c in args.case) + (" --small" if args.small else "") + "`",
        "",
        "Opt-in (never run by CI or scripts/test): it reaches registry.npmjs.org, pypi.org and "
        "files.pythonhosted.org. public = the client straight against the public registry; cold = a fresh "
        f"Reliquary ({args.backend}), `app` → `<format>-store` holding `public:npmjs` / `public:pypi`, "
        "everything fetched from the registry by Reliquary; second = the same server right after, "
        "every version retained in `app`, the registry's documents in Reliquary's memory cache. Every "
        "phase starts from an empty client cache and a fresh project (no node_modules, no lockfile). "
        "Ratios are Reliquary / public: below 1 is faster.",
        "",
    ]
    for case in args.case:
        lines += case_report(case, phases, args)
    lines += [
        "- Requests the client made: npm's `--loglevel http` `fetch GET` lines (with npm's duration of each); "
        "pip's `Collecting` lines (distinct projects: one page each) and `Downloading` lines. Requests Reliquary sent to the "
        "registry: hyper-util's debug lines, \"connecting to\" (a new connection, carrying its first request) "
        "plus \"reuse idle connection\" (every further request on a pooled HTTP/1.1 or HTTP/2 connection).",
        "- Non-loopback MB: /proc/net/dev over every interface but `lo` during the phase; it includes "
        "anything else the machine downloaded meanwhile.",
    ]
    for problem in problems:
        lines.append(f"- **{problem}**")
    lines += ["", "## Conditions", "", conditions.markdown()]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--case", action="append", choices=CASES, help="npm and/or pip (default both)")
    parser.add_argument("--runs", type=int, default=2, help="public/cold/second triples per case (2)")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite",
                        help="Reliquary's metadata store (sqlite: a temp data dir)")
    parser.add_argument("--small", action="store_true", help="small trees (chalk@4, requests), for development")
    parser.add_argument("--keep", type=Path, help="keep server logs and client outputs in this directory")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write bench/results/real-tree.md")
    args = parser.parse_args()
    args.case = args.case or list(CASES)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if "npm" in args.case and not shutil.which("npm"):
        parser.error("npm is not installed")
    support.isolate_from_ambient_aws_config()
    conditions = Conditions(release_binary())
    phases: list[Phase] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-real-tree-") as tmp:
        work = Path(tmp)
        for case in args.case:
            for run in range(args.runs):
                log(f"{case}: run {run + 1}/{args.runs} ...")
                try:
                    phases += run_case(case, run, args, work)
                except Exception as error:  # noqa: BLE001 - a failed run is reported, the others go on
                    problems.append(f"{case} run {run + 1} failed: {str(error)[:600]}")
                    log(problems[-1])
    conditions.finish()
    markdown = report(args, phases, conditions, problems)
    print(markdown)
    if not args.no_write:
        path = write_results("real-tree", markdown)
        log(f"wrote {path.relative_to(REPO_ROOT)}")
    if args.keep:
        (args.keep / "phases.json").write_text(json.dumps([ph.__dict__ for ph in phases], indent=1))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
