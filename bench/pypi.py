"""The PyPI endpoint side by side with pypiserver: simple-page throughput and `pip download` time.

    .venv/bin/python bench/pypi.py [--projects 500 --files 10] [--servers reliquary,pypiserver]

Servers (both on 127.0.0.1, both stopped at the end by their own PID):
  - Reliquary: the release binary (cargo build --release when stale, or $RELIQUARY_BIN) on SQLite in a
    fresh temp data dir; one domain `bench` with one repository `pypi`.
  - pypiserver 2.4.2 in its own venv `bench/pypi/venv` (created on first use with
    `pip install 'pypiserver[passlib]==2.4.2'`; bench/pypi/ is gitignored by its own .gitignore),
    started as `pypi-server run -i 127.0.0.1 -p PORT -P <htpasswd> -a update --disable-fallback <dir>`
    (user `aws`, the password written to the htpasswd with passlib). Its WSGI server and package backend
    are whatever that install picks (printed in the results).
Both get the SAME --projects x --files tiny wheels (`bench-pkg-NNNN`, versions 1.0.0 ... 1.0.<files-1>,
made once into bench/pypi/wheels-PxF/ by tests/e2e/pypi_support.make_wheel), uploaded through the
legacy upload form (POST multipart, `:action=file_upload`, Basic aws:<secret>) by --workers threads.
Then, per server:
  - `wrk -t2 -c16 -d10s` on one project page (`simple/bench-pkg-<middle>/`) with the Basic header,
    once with `Accept: text/html` and once with the Accept header pip sends (Reliquary answers that one
    with PEP 691 JSON; pypiserver always answers HTML);
  - `pip download --no-deps --no-cache-dir -d <fresh dir>` of --pip-packages projects (spread over the
    range, latest version of each) in ONE pip invocation, --runs times, the two servers alternating;
    the median is reported.
Writes bench/results/pypi.md (ratios are Reliquary / pypiserver)."""

from __future__ import annotations

import os
import sys

import argparse
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from common import BENCH_DIR, Conditions, cpu_model, free_port, loadavg, release_binary, table, write_results

import requests

import pypi_support  # (tests/e2e, put on sys.path by common)
import support

PYPI_DIR = BENCH_DIR / "pypi"
PYPISERVER_VERSION = "2.4.2"
PYPISERVER_VENV = PYPI_DIR / "venv"
USER = "aws"
PYPISERVER_PASSWORD = "bench-secret-0123"
WRK_THREADS = 2
WRK_CONNECTIONS = 16
SERVERS = ("reliquary", "pypiserver")


# --------------------------------------------------------------------------- the distributions


def project_name(index: int) -> str:
    return f"bench-pkg-{index:04d}"


def versions(files: int) -> list[str]:
    return [f"1.0.{k}" for k in range(files)]


def own_folder() -> None:
    """bench/pypi/, ignored by git through its own .gitignore."""
    PYPI_DIR.mkdir(parents=True, exist_ok=True)
    ignore = PYPI_DIR / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")


def wheels(projects: int, files: int) -> list[Path]:
    """The wheels of every project and version, made once into bench/pypi/wheels-PxF/."""
    own_folder()
    folder = PYPI_DIR / f"wheels-{projects}x{files}"
    done = folder / ".complete"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        for index in range(projects):
            for version in versions(files):
                pypi_support.make_wheel(project_name(index), version, summary=f"benchmark project {index}").write(folder)
        done.touch()
    found = sorted(folder.glob("*.whl"))
    assert len(found) == projects * files, f"{folder}: {len(found)} wheels, expected {projects * files}"
    return found


def dist_of(path: Path) -> pypi_support.Dist:
    """A Dist for a wheel file made by wheels() (name and version from the filename)."""
    base, version = path.name.split("-")[:2]
    name = base.replace("_", "-")
    metadata = pypi_support.core_metadata(name, version)  # not uploaded, only needed to build the Dist
    return pypi_support.Dist(name, version, path.name, path.read_bytes(), metadata, "bdist_wheel",
                             {"summary": None})


# --------------------------------------------------------------------------- servers


@dataclass
class Target:
    label: str
    upload_url: str      # where the legacy upload form goes
    simple_root: str     # `.../simple/`
    secret: str          # the Basic password (user aws)
    notes: list[str] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return pypi_support.basic(self.secret, USER)

    def index_url(self) -> str:
        return pypi_support.with_credentials(self.simple_root, self.secret, USER)


def pypiserver_python() -> Path:
    """bench/pypi/venv/bin/python with pypiserver[passlib] installed (created when missing)."""
    own_folder()
    python = PYPISERVER_VENV / "bin" / "python"
    probe = [str(python), "-c", f"import pypiserver, passlib; assert pypiserver.__version__ == '{PYPISERVER_VERSION}'"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"installing pypiserver {PYPISERVER_VERSION} into {PYPISERVER_VENV} ...", file=sys.stderr, flush=True)
    shutil.rmtree(PYPISERVER_VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(PYPISERVER_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"pypiserver[passlib]=={PYPISERVER_VERSION}"],
                   check=True)
    subprocess.run(probe, check=True)
    return python


def importable(python: Path, module: str) -> bool:
    return subprocess.run([str(python), "-c", f"import {module}"], capture_output=True).returncode == 0


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 within {timeout}s")
        time.sleep(0.1)


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def pypiserver(workdir: Path) -> Iterator[Target]:
    python = pypiserver_python()
    packages = workdir / "packages"
    packages.mkdir(parents=True)
    htpasswd = workdir / "htpasswd"
    subprocess.run([str(python), "-c", "import sys\nfrom passlib.apache import HtpasswdFile\n"
                    "h = HtpasswdFile(sys.argv[1], new=True)\nh.set_password(sys.argv[2], sys.argv[3])\nh.save()",
                    str(htpasswd), USER, PYPISERVER_PASSWORD], check=True)
    port = free_port()
    log = open(workdir / "pypiserver.log", "wb")
    argv = [str(PYPISERVER_VENV / "bin" / "pypi-server"), "run", "-i", "127.0.0.1", "-p", str(port),
            "-P", str(htpasswd), "-a", "update", "--disable-fallback", str(packages)]
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/"
        wait_http(f"{base}health")
        server = next((name for name in ("waitress", "paste", "twisted", "cherrypy", "cheroot")
                       if importable(python, name)), "wsgiref")
        backend = "cached-dir" if importable(python, "watchdog") else "simple-dir"
        notes = [f"pypiserver {PYPISERVER_VERSION} (pid {proc.pid}): `{' '.join(argv[1:])}`",
                 f"pypiserver WSGI server picked by `--server auto`: {server}; package backend: {backend}"]
        yield Target("pypiserver", base, f"{base}simple/", PYPISERVER_PASSWORD, notes)
    finally:
        stop_process(proc)
        log.close()


@contextmanager
def reliquary(workdir: Path) -> Iterator[Target]:
    with support.running_server("sqlite", workdir) as running:
        client = support.make_client(running.url)
        client.create_domain(domain="bench")
        client.create_repository(domain="bench", repository="pypi")
        endpoint = pypi_support.pypi_endpoint(client, "bench", "pypi")
        token = pypi_support.auth_token(client, "bench")
        notes = [f"Reliquary (pid {running.process.proc.pid}) on SQLite, endpoint `{endpoint}`"]
        yield Target("reliquary", endpoint, pypi_support.simple_url(endpoint), token, notes)


# --------------------------------------------------------------------------- measurements


def upload_all(target: Target, paths: list[Path], workers: int) -> float:
    """Upload every wheel through the legacy form with `workers` threads; returns uploads/s."""
    local = threading.local()

    def one(path: Path) -> tuple[str, int, str]:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = pypi_support.post_upload(target.upload_url, dist_of(path), headers=target.auth,
                                            session=local.session)
        return path.name, response.status_code, response.text[:200]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, paths))
    elapsed = time.perf_counter() - started
    failed = [r for r in results if r[1] != 200]
    if failed:
        raise RuntimeError(f"{target.label}: {len(failed)} of {len(paths)} uploads failed, e.g. {failed[:3]}")
    return len(paths) / elapsed


def check_page(target: Target, project: str, files: int) -> None:
    page = pypi_support.http_get(f"{target.simple_root}{project}/", headers=target.auth, accept="text/html")
    assert page.status_code == 200, (target.label, page.status_code, page.text[:300])
    found = [a for a in pypi_support.anchors(page.text) if a.text.endswith(".whl")]
    assert len(found) == files, (target.label, project, len(found))


@dataclass
class WrkResult:
    requests_per_s: float
    latency_avg_ms: float
    latency_p99_ms: float
    non_2xx: int
    errors: str


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, headers: dict[str, str], duration: int) -> WrkResult:
    argv = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{duration}s", "--latency"]
    for key, value in headers.items():
        argv += ["-H", f"{key}: {value}"]
    out = subprocess.run(argv + [url], capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    avg = to_ms(re.search(r"Latency\s+([\d.]+\w+)", out)[1])
    p99 = to_ms(re.search(r"^\s+99%\s+([\d.]+\w+)", out, re.M)[1])
    non_2xx = int(m[1]) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)) else 0
    errors = m[0].strip() if (m := re.search(r"Socket errors:.*", out)) else ""
    return WrkResult(rps, avg, p99, non_2xx, errors)


def pip_download(target: Target, projects: list[str], scratch: Path) -> float:
    """One `pip download --no-deps --no-cache-dir` of every project into a fresh folder; seconds."""
    dest = Path(tempfile.mkdtemp(prefix=f"pip-{target.label}-", dir=scratch))
    argv = pypi_support.pip_argv("download", "--no-deps", "--no-cache-dir", "--progress-bar", "off",
                                 "-d", str(dest), "--index-url", target.index_url(), *projects)
    started = time.perf_counter()
    proc = subprocess.run(argv, env=pypi_support.hermetic_env(), capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"pip download from {target.label} exited {proc.returncode}\n{proc.stderr[-2000:]}")
    got = len(list(dest.glob("*.whl")))
    assert got == len(projects), f"{target.label}: pip downloaded {got} wheels, expected {len(projects)}"
    shutil.rmtree(dest)
    return elapsed


# --------------------------------------------------------------------------- main


@dataclass
class Side:
    target: Target | None = None
    error: str = ""
    upload_rate: float = 0.0
    wrk: dict[str, WrkResult] = field(default_factory=dict)
    pip_runs: list[float] = field(default_factory=list)


ACCEPTS = {"text/html": "text/html", "pip's Accept": pypi_support.PIP_ACCEPT}


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if ours and theirs else "n/a"


def render(args, sides: dict[str, Side], conditions_md: str) -> str:
    rel, pps = sides.get("reliquary", Side()), sides.get("pypiserver", Side())

    def cell(side: Side, value: float, fmt: str) -> str:
        return fmt.format(value) if side.target and not side.error and value else "n/a"

    rows = [["uploads/s (legacy form, " f"{args.workers} workers)",
             cell(rel, rel.upload_rate, "{:.0f}"), cell(pps, pps.upload_rate, "{:.0f}"),
             ratio(rel.upload_rate, pps.upload_rate)]]
    for label in ACCEPTS:
        ours, theirs = rel.wrk.get(label), pps.wrk.get(label)
        rows.append([f"simple page req/s, {label}", cell(rel, ours.requests_per_s if ours else 0, "{:.0f}"),
                     cell(pps, theirs.requests_per_s if theirs else 0, "{:.0f}"),
                     ratio(ours.requests_per_s if ours else 0, theirs.requests_per_s if theirs else 0)])
        rows.append([f"simple page latency avg / p99 ms, {label}",
                     f"{ours.latency_avg_ms:.1f} / {ours.latency_p99_ms:.1f}" if ours else "n/a",
                     f"{theirs.latency_avg_ms:.1f} / {theirs.latency_p99_ms:.1f}" if theirs else "n/a", ""])
    ours = statistics.median(rel.pip_runs) if rel.pip_runs else 0
    theirs = statistics.median(pps.pip_runs) if pps.pip_runs else 0
    rows.append([f"pip download of {args.pip_packages} packages, median of {args.runs} s",
                 cell(rel, ours, "{:.2f}"), cell(pps, theirs, "{:.2f}"), ratio(ours, theirs)])
    lines = [
        "# PyPI: Reliquary vs pypiserver",
        "",
        f"`.venv/bin/python bench/pypi.py --projects {args.projects} --files {args.files}` "
        f"(servers: {', '.join(args.servers)}). Both servers hold the same {args.projects} projects x "
        f"{args.files} wheels. Throughput: `wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{args.duration}s` on "
        f"`simple/{project_name(args.projects // 2)}/` with the Basic header; pip: one `pip download --no-deps "
        f"--no-cache-dir` of {args.pip_packages} projects, {args.runs} runs alternating between the servers. "
        "Ratios are Reliquary / pypiserver (above 1 is better for Reliquary in req/s and uploads/s, below 1 "
        "is better for Reliquary in seconds).",
        "",
        table(["measure", "Reliquary", "pypiserver", "ratio"], rows),
        "",
        "## Runs",
        "",
    ]
    for name, side in sides.items():
        if side.pip_runs:
            lines.append(f"- {name} pip download runs: " + ", ".join(f"{t:.2f} s" for t in side.pip_runs))
        for label, result in side.wrk.items():
            extra = f"; {result.non_2xx} non-2xx" if result.non_2xx else ""
            extra += f"; {result.errors}" if result.errors else ""
            lines.append(f"- {name} wrk ({label}): {result.requests_per_s:.0f} req/s{extra}")
        if side.error:
            lines.append(f"- **{name} not measured**: {side.error}")
    lines += ["", "## Servers", ""]
    for side in sides.values():
        if side.target:
            lines += [f"- {note}" for note in side.target.notes]
    lines += ["", "## Conditions", "", conditions_md]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--duration", type=int, default=10, help="wrk seconds per run")
    parser.add_argument("--pip-packages", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help="comma-separated subset of reliquary,pypiserver")
    args = parser.parse_args()
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(args.servers) - set(SERVERS)
    if unknown or not args.servers:
        parser.error(f"--servers: unknown {sorted(unknown)}")
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y --no-install-recommends wrk")

    conditions = None
    if "reliquary" in args.servers:
        conditions = Conditions(release_binary())
    started, load_start = time.monotonic(), loadavg()
    paths = wheels(args.projects, args.files)
    step = max(1, args.projects // args.pip_packages)
    pip_projects = [project_name(i) for i in range(0, args.projects, step)][:args.pip_packages]
    page_project = project_name(args.projects // 2)

    sides = {name: Side() for name in args.servers}
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-pypi-") as scratch_dir:
        scratch = Path(scratch_dir)
        for name in args.servers:
            try:
                start = reliquary if name == "reliquary" else pypiserver
                target = stack.enter_context(start(scratch / name))
                sides[name].target = target
                print(f"{name}: uploading {len(paths)} wheels ...", file=sys.stderr, flush=True)
                sides[name].upload_rate = upload_all(target, paths, args.workers)
                check_page(target, page_project, args.files)
                for label, accept in ACCEPTS.items():
                    print(f"{name}: wrk ({label}) ...", file=sys.stderr, flush=True)
                    sides[name].wrk[label] = run_wrk(f"{target.simple_root}{page_project}/",
                                                     {**target.auth, "Accept": accept}, args.duration)
            except Exception as error:  # noqa: BLE001  one side failing must not hide the other's numbers
                traceback.print_exc()
                sides[name].error = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
        live = [name for name in args.servers if sides[name].target and not sides[name].error]
        for run in range(args.runs):
            for name in (live if run % 2 == 0 else list(reversed(live))):
                try:
                    print(f"{name}: pip download run {run + 1} ...", file=sys.stderr, flush=True)
                    sides[name].pip_runs.append(pip_download(sides[name].target, pip_projects, scratch))
                except Exception as error:  # noqa: BLE001
                    traceback.print_exc()
                    sides[name].error = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
                    live.remove(name)

    if conditions is not None:
        conditions.finish()
        conditions_md = conditions.markdown()
    else:
        conditions_md = "\n".join([
            f"- {time.monotonic() - started:.0f} s wall; Reliquary not run (--servers {','.join(args.servers)})",
            f"- machine: {os.cpu_count()} cores ({cpu_model()})",
            f"- load average (1/5/15 min) at start {load_start}, at end {loadavg()}",
        ])
    markdown = render(args, sides, conditions_md)
    print(markdown)
    path = write_results("pypi", markdown)
    print(f"\nwritten to {path}", file=sys.stderr)
    return 1 if any(side.error for side in sides.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
