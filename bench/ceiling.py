"""The ceiling: each package format's read path, Reliquary against nginx serving the same bytes.

    .venv/bin/python bench/ceiling.py [--packages 200 --versions 10] [--duration 10] [--backend sqlite|postgres]

1. Starts a release `reliquary serve` (SQLite in a fresh temp data dir; `--backend postgres`: a fresh
   database on the tests' PostgreSQL server, dropped at the end) with one domain `bench` holding two
   repositories, `npm` and `pypi`, and publishes --packages npm packages x --versions versions into the
   first (bench/npm.py's generate + populate: the body `npm publish` sends) and --packages PyPI projects
   x --versions wheels into the second (bench/pypi.py's wheels + upload_all: twine's upload form).
2. Reads back from Reliquary exactly what a client reads, for every package: the abbreviated packument
   (npm install's Accept header), the tarball of the newest version (the URL that packument gives), the
   project page (pip's Accept header, so PEP 691 JSON) and the newest wheel (the URL that page gives).
3. Writes those bytes into an nginx document root under the temp dir, at the same URL paths, one root
   per case, and starts nginx: not a daemon, `worker_processes 1`, `access_log off`, `sendfile on`, its
   pid, error log and temp files in the temp dir, one `server` per case on a free 127.0.0.1 port whose
   every answer carries the Content-Type Reliquary sent. Checks that nginx serves the same bytes.
4. Per case, `wrk -t2 -c16 -d10s` (configurable) against nginx and against Reliquary (order alternating
   between cases), rotating over every package with a generated Lua script. Reliquary's requests carry
   the token (npm: `Bearer`, PyPI: Basic `aws:<token>`); nginx's a dummy header of the same size.
   Meanwhile the CPU time of nginx (master + worker), of Reliquary and of wrk is read, to tell which
   side was bound by what.
Prints markdown tables and writes bench/results/ceiling.md. nginx and Reliquary are stopped at the end,
each by its own pid."""

from __future__ import annotations

import sys

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import urljoin, urlsplit

import requests

from common import Conditions, cpu_seconds, free_port, release_binary, run_and_report, run_wrk, table, \
    wrk_available

import npm as npm_bench  # bench/npm.py: the npm corpus and publishing
import pypi as pypi_bench  # bench/pypi.py: the wheels and uploading
import npm_support  # (tests/e2e, put on sys.path by common)
import pypi_support
import support

DOMAIN = "bench"
NPM_REPOSITORY = "npm"
PYPI_REPOSITORY = "pypi"
DUMMY_HEADER = "X-Padding-Hdr"  # as long as "Authorization"
assert len(DUMMY_HEADER) == len("Authorization")
INDEX_FILE = "page"  # what nginx serves for a path ending with `/` (PyPI project pages)
READY_TIMEOUT_S = 30
CASES = ("npm packument", "npm tarball", "pypi simple page", "pypi file")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- what a client reads


@dataclass
class Case:
    """One read path: the URL paths wrk rotates over, the headers a client sends, and the bytes and
    Content-Type Reliquary answered for each path."""

    name: str
    accept: str | None
    authorization: str  # the value of Reliquary's Authorization header
    content_type: str = ""
    bodies: dict[str, bytes] = field(default_factory=dict)  # URL path -> body, in rotation order
    results: dict[str, dict] = field(default_factory=dict)  # "nginx" / "reliquary" -> wrk result + CPU

    def headers(self, server: str) -> dict[str, str]:
        sent = {"Accept": self.accept} if self.accept else {}
        if server == "reliquary":
            sent["Authorization"] = self.authorization
        else:
            sent[DUMMY_HEADER] = "x" * len(self.authorization)
        return sent

    @property
    def paths(self) -> list[str]:
        return list(self.bodies)

    @property
    def slug(self) -> str:
        return slug(self.name)


def read(session: requests.Session, case: Case, base: str, path: str) -> requests.Response:
    """GET one path from Reliquary as a client would; keeps body and Content-Type in `case`."""
    response = session.get(base + path, headers=case.headers("reliquary"), timeout=30, allow_redirects=False)
    if response.status_code != 200:
        raise RuntimeError(f"Reliquary answers {response.status_code} to {path}: {response.text[:300]}")
    content_type = response.headers.get("Content-Type", "")
    if case.content_type and content_type != case.content_type:
        raise RuntimeError(f"{case.name}: Content-Type {content_type!r} for {path}, {case.content_type!r} before")
    case.content_type = content_type
    if "%" in path or ".." in path:
        raise RuntimeError(f"{path}: an escaped path would not map to the same file name in nginx")
    case.bodies[path] = response.content
    return response


def read_npm(base: str, endpoint: str, token: str, names: list[str]) -> tuple[Case, Case]:
    prefix = urlsplit(endpoint).path
    auth = npm_support.bearer(token)["Authorization"]
    packuments = Case("npm packument", npm_support.ABBREVIATED_ACCEPT, auth)
    tarballs = Case("npm tarball", None, auth)
    with requests.Session() as session:
        for name in names:
            document = read(session, packuments, base, prefix + npm_support.escaped_name(name)).json()
            latest = document["dist-tags"]["latest"]
            read(session, tarballs, base, urlsplit(document["versions"][latest]["dist"]["tarball"]).path)
    return packuments, tarballs


def read_pypi(base: str, endpoint: str, token: str, projects: list[str], newest: str) -> tuple[Case, Case]:
    auth = pypi_support.basic(token)["Authorization"]
    pages = Case("pypi simple page", pypi_support.PIP_ACCEPT, auth)
    files = Case("pypi file", None, auth)
    with requests.Session() as session:
        for project in projects:
            page_url = pypi_support.simple_url(endpoint, project)
            page = read(session, pages, base, urlsplit(page_url).path).json()
            wheel = [f for f in page["files"] if f["filename"].endswith(".whl")
                     and f["filename"].split("-")[1] == newest]
            if len(wheel) != 1:
                raise RuntimeError(f"{project}: {len(wheel)} wheels of {newest} on its page")
            read(session, files, base, urlsplit(urljoin(page_url, wheel[0]["url"])).path)
    return pages, files


# --------------------------------------------------------------------------- nginx


@dataclass
class Nginx:
    proc: subprocess.Popen
    ports: dict[str, int]  # case name -> port
    version: str

    def url(self, case: Case) -> str:
        return f"http://127.0.0.1:{self.ports[case.name]}"

    def pids(self) -> list[int]:
        """The master and its workers."""
        master = self.proc.pid
        workers = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    raw = (entry / "stat").read_text()
                    if int(raw[raw.rindex(")") + 2:].split()[1]) == master:
                        workers.append(int(entry.name))
        return [master] + workers


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                           if Path(p).is_file()), None)
    if not found:
        sys.exit("nginx is missing: apt-get install -y nginx")
    return found


def write_docroot(root: Path, cases: list[Case]) -> None:
    for case in cases:
        for path, body in case.bodies.items():
            target = root / case.slug / path.lstrip("/")
            if path.endswith("/"):
                target = target / INDEX_FILE
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)


def nginx_config(workdir: Path, root: Path, cases: list[Case], ports: dict[str, int]) -> str:
    temp = workdir / "temp"
    servers = "\n".join(f"""
    server {{
        listen 127.0.0.1:{ports[case.name]};
        root {root / case.slug};
        default_type "{case.content_type}";
        index {INDEX_FILE};
    }}""" for case in cases)
    return f"""# generated by bench/ceiling.py
worker_processes 1;
daemon off;
pid {workdir / 'nginx.pid'};
error_log {workdir / 'error.log'} warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    sendfile on;
    types {{ }}
    keepalive_requests 1000000;
    client_body_temp_path {temp / 'body'};
    proxy_temp_path {temp / 'proxy'};
    fastcgi_temp_path {temp / 'fastcgi'};
    uwsgi_temp_path {temp / 'uwsgi'};
    scgi_temp_path {temp / 'scgi'};
{servers}
}}
"""


@contextlib.contextmanager
def running_nginx(workdir: Path, cases: list[Case]) -> Iterator[Nginx]:
    binary = nginx_binary()
    version = subprocess.run([binary, "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]
    root = workdir / "root"
    write_docroot(root, cases)
    # The worker may run as another user (nginx started as root): let it reach the document root
    # (mkdtemp made the temp dir private; what is under it has the umask's modes).
    for folder in (workdir.parent, workdir):
        folder.chmod(0o755)
    (workdir / "temp").mkdir()
    ports = {case.name: free_port() for case in cases}
    config = workdir / "nginx.conf"
    config.write_text(nginx_config(workdir, root, cases, ports))
    stderr = open(workdir / "stderr.log", "wb")
    proc = subprocess.Popen([binary, "-p", str(workdir), "-c", str(config), "-e", str(workdir / "error.log")],
                            stdout=stderr, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    nginx = Nginx(proc, ports, version)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        for case in cases:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"nginx exited {proc.returncode}: "
                                       f"{(workdir / 'error.log').read_text(errors='replace')[-2000:]}")
                with contextlib.suppress(requests.RequestException):
                    requests.get(nginx.url(case) + case.paths[0], timeout=2)
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nginx not listening within {READY_TIMEOUT_S} s")
                time.sleep(0.1)
        yield nginx
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        stderr.close()


def check_nginx(nginx: Nginx, cases: list[Case]) -> None:
    """nginx answers the bytes and Content-Type Reliquary did (first, middle and last path)."""
    with requests.Session() as session:
        for case in cases:
            paths = case.paths
            for path in {paths[0], paths[len(paths) // 2], paths[-1]}:
                response = session.get(nginx.url(case) + path, headers=case.headers("nginx"), timeout=10)
                if response.status_code != 200 or response.content != case.bodies[path]:
                    raise RuntimeError(f"nginx answers {response.status_code} with {len(response.content)} bytes "
                                       f"to {path}, Reliquary {len(case.bodies[path])}")
                if response.headers.get("Content-Type") != case.content_type:
                    raise RuntimeError(f"nginx: Content-Type {response.headers.get('Content-Type')!r} for {path}, "
                                       f"Reliquary {case.content_type!r}")


# --------------------------------------------------------------------------- measuring


def measure(case: Case, server: str, base: str, pids: list[int], args, workdir: Path) -> dict:
    log(f"  wrk {case.name} -> {server} ({args.duration} s) ...")
    before = cpu_seconds(pids)
    result = run_wrk(base, case.paths, case.headers(server), args.threads, args.connections, args.duration,
                     workdir, f"{server}-{case.slug}")
    result["server_cpu_s"] = cpu_seconds(pids) - before
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", result["raw"])
    result["requests"] = int(done[1]) if done else round(result["rps"] * args.duration)
    result["wall_s"] = (float(done[2]) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[done[3]]
                        if done else float(args.duration))
    log(f"    {result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, server {result['server_cpu_s']:.1f} CPU s, "
        f"wrk {result['wrk_cpu_s']:.1f} CPU s, non-2xx {result['non_2xx']}")
    case.results[server] = result
    return result


# --------------------------------------------------------------------------- report


def report(args, cases: list[Case], nginx_version: str, notes: list[str], conditions: Conditions) -> str:
    main_rows, cpu_rows = [], []
    for case in cases:
        ours, theirs = case.results.get("reliquary"), case.results.get("nginx")
        if not ours or not theirs:
            continue
        main_rows.append([case.name, f"{theirs['rps']:,.0f}", f"{ours['rps']:,.0f}", f"{ours['rps'] / theirs['rps']:.2f}",
                          f"{theirs['p50_ms']:.2f}", f"{ours['p50_ms']:.2f}"])
        for server, label, result in (("nginx", f"nginx {nginx_version}", theirs), ("reliquary", "Reliquary", ours)):
            cpu_rows.append([
                f"{case.name}, {label}",
                f"{sum(map(len, case.bodies.values())) / len(case.bodies):,.0f}",
                f"{result['p99_ms']:.2f}",
                f"{result['server_cpu_s'] / result['wall_s']:.2f}",
                f"{result['wrk_cpu_s'] / result['wall_s']:.2f}",
                f"{1e6 * result['server_cpu_s'] / max(result['requests'], 1):.0f}",
                f"{result['non_2xx']}" + (f"; {result['socket_errors']}" if result["socket_errors"] else ""),
            ])
    command = (f"`.venv/bin/python bench/ceiling.py --packages {args.packages} --versions {args.versions} "
               f"--duration {args.duration} --backend {args.backend}"
               + "".join(f" --case {slug(c)}" for c in args.cases if len(args.cases) < len(CASES)) + "`")
    lines = [
        f"# The ceiling: Reliquary ({args.backend}) against nginx {nginx_version} serving the same bytes",
        "",
        command,
        "",
        f"`wrk -t{args.threads} -c{args.connections} -d{args.duration}s` per case and server, rotating over "
        f"{args.packages} packages ({args.packages} npm packages x {args.versions} versions, {args.packages} PyPI "
        f"projects x {args.versions} wheels in the repositories). Reliquary / nginx is the ratio of req/s: 1.00 "
        "would be as fast as a static file server answering the same bytes.",
        "",
        table(["case", "nginx req/s", "Reliquary req/s", "Reliquary / nginx", "nginx p50 (ms)",
               "Reliquary p50 (ms)"], main_rows),
        "",
        "## Where the CPU went",
        "",
        "CPU in cores = CPU seconds the process used during the wrk run / the run's wall time (the machine has "
        f"{os.cpu_count()}); CPU per request = the server's CPU seconds / requests completed.",
        "",
        table(["case, server", "body bytes (mean)", "p99 (ms)", "server CPU (cores)", "wrk CPU (cores)",
               "server CPU per request (us)", "non-2xx; socket errors"], cpu_rows),
        "",
        "## Setup",
        "",
        "- What is served: for each package, what a client reads from Reliquary: the abbreviated packument "
        "(npm install's Accept header), the newest version's tarball (URL from that packument), the project page "
        "(pip's Accept header: PEP 691 JSON) and the newest wheel (URL from that page). nginx serves those very "
        "bytes, fetched from Reliquary after publishing, from files at the same URL paths, with the same "
        "Content-Type; the first, middle and last path of each case are checked byte for byte.",
        "- Requests: the same paths and Accept header to both; Reliquary's carry `Authorization` (npm `Bearer`, "
        f"PyPI Basic `aws:<token>`), nginx's an `{DUMMY_HEADER}` header of the same length.",
        "- nginx: one master and `worker_processes 1`, `access_log off`, `sendfile on`, `keepalive_requests "
        "1000000` (Reliquary does not close kept-alive connections either), otherwise defaults (ETag and "
        "Last-Modified on). Reliquary: release build, its default runtime (one worker thread per core).",
        "- Server, nginx and wrk share the machine's cores; each wrk run drives one server while the other idles. "
        "The order alternates between cases (nginx first for the 1st and 3rd).",
    ]
    lines += [f"- {note}" for note in notes]
    for case in cases:
        for server, result in case.results.items():
            if result["non_2xx"] or result["socket_errors"]:
                lines.append(f"- **{case.name}, {server}: {result['non_2xx']} non-2xx responses, socket errors: "
                             f"{result['socket_errors'] or 'none'}**")
    lines += ["", "## Conditions", "", conditions.markdown()]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def run(args) -> str:
    binary = release_binary()
    conditions = Conditions(binary)
    log(f"generating {args.packages}x{args.versions} npm tarballs and PyPI wheels ...")
    corpus = npm_bench.generate(args.packages, args.versions)
    wheels = pypi_bench.wheels(args.packages, args.versions)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-ceiling-") as tmp:
        workdir = Path(tmp)
        with support.running_server(args.backend, workdir / "reliquary") as server:
            client = support.make_client(server.url)
            client.create_domain(domain=DOMAIN)
            for repository in (NPM_REPOSITORY, PYPI_REPOSITORY):
                client.create_repository(domain=DOMAIN, repository=repository)
            npm_endpoint = npm_support.npm_endpoint(client, DOMAIN, NPM_REPOSITORY)
            pypi_endpoint = pypi_support.pypi_endpoint(client, DOMAIN, PYPI_REPOSITORY)
            token = npm_support.auth_token(client, DOMAIN)

            log(f"publishing {args.packages}x{args.versions} npm versions ...")
            registry = npm_bench.Registry("Reliquary", npm_endpoint, token)
            npm_bench.populate(registry, corpus, args.workers)
            log(f"uploading {len(wheels)} wheels ...")
            target = pypi_bench.Target("reliquary", pypi_endpoint, pypi_support.simple_url(pypi_endpoint), token)
            rate = pypi_bench.upload_all(target, wheels, args.workers)
            notes.append(f"Populating ({args.workers} client threads): {args.packages * args.versions} npm publishes "
                         f"in {registry.publish_seconds:.1f} s, {len(wheels)} PyPI uploads at {rate:.0f}/s.")

            log("reading what the clients read ...")
            wanted = [c for c in CASES if c in args.cases]
            cases: list[Case] = []
            if any(c.startswith("npm") for c in wanted):
                cases += read_npm(server.url, npm_endpoint, token, list(corpus))
            if any(c.startswith("pypi") for c in wanted):
                newest = pypi_bench.versions(args.versions)[-1]
                cases += read_pypi(server.url, pypi_endpoint, token,
                                   [pypi_bench.project_name(i) for i in range(args.packages)], newest)
            cases = [c for c in cases if c.name in wanted]

            with running_nginx(workdir / "nginx", cases) as nginx:
                check_nginx(nginx, cases)
                notes.append(f"nginx {nginx.version} (pid {nginx.proc.pid}, workers {nginx.pids()[1:]}); Reliquary "
                             f"pid {server.process.proc.pid}.")
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
    parser.add_argument("--packages", type=int, default=200,
                        help="npm packages and PyPI projects published, and rotated over (200)")
    parser.add_argument("--versions", type=int, default=10, help="versions of each npm package, wheels of each "
                        "PyPI project (10)")
    parser.add_argument("--backend", choices=support.BACKENDS, default="sqlite",
                        help="Reliquary's metadata store (sqlite)")
    parser.add_argument("--duration", type=int, default=10, help="wrk -d seconds per case and server (10)")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (16)")
    parser.add_argument("--workers", type=int, default=4, help="client threads publishing (4)")
    parser.add_argument("--case", dest="cases", action="append", choices=[slug(c) for c in CASES],
                        help="measure only this case (repeatable; default: all four)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write bench/results/ceiling.md")
    args = parser.parse_args()
    args.cases = [c for c in CASES if not args.cases or slug(c) in args.cases]
    if min(args.packages, args.versions, args.duration, args.workers) < 1:
        parser.error("counts must be at least 1")
    if not wrk_available():
        sys.exit("wrk is missing: apt-get install -y wrk")
    nginx_binary()
    return run_and_report(run, args, None if args.no_write else "ceiling")


if __name__ == "__main__":
    sys.exit(main())
