"""The Maven endpoint: artifact and maven-metadata.xml reads against nginx serving the same bytes, and
the deploy time of a multi-module `mvn deploy`.

    .venv/bin/python bench/maven.py [--packages 200 --versions 10] [--duration 10] [--modules 50]

1. Starts a release `reliquary serve` (SQLite in a fresh temp data dir; `--backend postgres` for the
   tests' PostgreSQL) with one domain `bench` and one repository `maven`, and deploys --packages
   artifacts (`org.bench:lib-NNNN`) x --versions versions (`1.0.<n>`) over HTTP as `mvn deploy` does
   (jar of --jar-bytes, POM, each with its `.sha1`; then the artifact's maven-metadata.xml naming
   every version), with --workers threads.
2. Reads back what a Maven client reads: each artifact's generated maven-metadata.xml and its newest
   jar, then serves those bytes from nginx at the same paths (bench/ceiling.py's nginx, its Case,
   its checks and its `wrk` measure, reused) and runs `wrk -t2 -c16 -d10s` on each side, rotating
   over every artifact, Reliquary's requests with Basic `aws:<token>`.
3. With `mvn` and Debian's plugin packages installed (see tests/e2e/test_maven.py): generates a
   parent POM with --modules one-class jar modules, fills a local repository with one `mvn package`,
   then times `mvn deploy` into a fresh Reliquary repository, and the same `mvn deploy` into a
   `file://` directory (Maven's own floor: compiling, packaging, checksums), --runs times each.
Prints markdown and writes bench/results/maven.md."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import requests

from common import Conditions, release_binary, run_and_report, table, wrk_available

import ceiling  # bench/ceiling.py: nginx, Case, read, measure
import support

DOMAIN = "bench"
REPOSITORY = "maven"
GROUP = "org.bench"
PLUGIN_REPO = Path("/usr/share/maven-repo")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def basic(token: str) -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"aws:{token}".encode()).decode()}


def artifact(i: int) -> str:
    return f"lib-{i:04d}"


def versions(count: int) -> list[str]:
    return [f"1.0.{n}" for n in range(count)]


def pom(name: str, version: str) -> bytes:
    return (f"<project><modelVersion>4.0.0</modelVersion><groupId>{GROUP}</groupId><artifactId>{name}</artifactId>"
            f"<version>{version}</version><description>bench artifact</description></project>").encode()


def deploy_all(endpoint: str, token: str, packages: int, count: int, jar_bytes: int, workers: int) -> float:
    """Deploys every artifact as mvn does; returns files (jar + POM) per second."""
    local = threading.local()
    headers = basic(token)
    group_path = GROUP.replace(".", "/")

    def put(url: str, data: bytes) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = local.session.put(url, data=data, headers=headers, timeout=60)
        if response.status_code != 201:
            raise RuntimeError(f"PUT {url}: {response.status_code} {response.text[:200]}")

    def one(i: int) -> None:
        name = artifact(i)
        for version in versions(count):
            directory = f"{endpoint}{group_path}/{name}/{version}/"
            jar = (f"{name}-{version}".encode() * (jar_bytes // 16 + 1))[:jar_bytes]
            for file, data in ((f"{name}-{version}.jar", jar), (f"{name}-{version}.pom", pom(name, version))):
                put(directory + file, data)
                put(directory + file + ".sha1", hashlib.sha1(data).hexdigest().encode())
        listed = "".join(f"<version>{v}</version>" for v in versions(count))
        put(f"{endpoint}{group_path}/{name}/maven-metadata.xml",
            f"<metadata><groupId>{GROUP}</groupId><artifactId>{name}</artifactId><versioning><versions>{listed}"
            f"</versions></versioning></metadata>".encode())

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(packages)))
    return packages * count * 2 / (time.perf_counter() - started)


def read_cases(base: str, endpoint: str, token: str, packages: int, count: int) -> list[ceiling.Case]:
    auth = basic(token)["Authorization"]
    metadata = ceiling.Case("maven metadata", None, auth)
    jars = ceiling.Case("maven artifact", None, auth)
    prefix = urlsplit(endpoint).path + GROUP.replace(".", "/")
    newest = versions(count)[-1]
    with requests.Session() as session:
        for i in range(packages):
            name = artifact(i)
            ceiling.read(session, metadata, base, f"{prefix}/{name}/maven-metadata.xml")
            ceiling.read(session, jars, base, f"{prefix}/{name}/{newest}/{name}-{newest}.jar")
    return [jars, metadata]


# --------------------------------------------------------------------------- mvn deploy of a multi-module build


def multi_module(root: Path, modules: int, deploy_to: str) -> Path:
    names = [f"module-{m:02d}" for m in range(modules)]
    root.mkdir(parents=True, exist_ok=True)
    module_list = "".join(f"<module>{n}</module>" for n in names)
    (root / "pom.xml").write_text(f"""<project><modelVersion>4.0.0</modelVersion>
<groupId>org.bench.multi</groupId><artifactId>parent</artifactId><version>1.0</version><packaging>pom</packaging>
<properties><maven.compiler.source>17</maven.compiler.source><maven.compiler.target>17</maven.compiler.target>
<project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
<modules>{module_list}</modules>
<distributionManagement><repository><id>reliquary</id><url>{deploy_to}</url></repository></distributionManagement>
</project>""")
    for name in names:
        source = root / name / "src/main/java/org/bench/multi"
        source.mkdir(parents=True, exist_ok=True)
        cls = name.replace("-", "_").capitalize()
        (source / f"{cls}.java").write_text(f"package org.bench.multi; public class {cls} {{ }}\n")
        (root / name / "pom.xml").write_text(f"""<project><modelVersion>4.0.0</modelVersion>
<parent><groupId>org.bench.multi</groupId><artifactId>parent</artifactId><version>1.0</version></parent>
<artifactId>{name}</artifactId></project>""")
    return root


def mvn(project: Path, settings: Path, *goals: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAVEN_")}
    started = time.perf_counter()
    result = subprocess.run(["mvn", "-B", "-q", "-s", str(settings), "-Dmaven.test.skip=true", *goals],
                            cwd=project, env=env, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"mvn {' '.join(goals)} failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return elapsed


def deploy_times(client, workdir: Path, token: str, modules: int, runs: int) -> tuple[list[float], list[float]]:
    settings = workdir / "settings.xml"
    settings.write_text(f"""<settings><localRepository>{workdir / 'm2'}</localRepository>
<mirrors><mirror><id>debian</id><mirrorOf>*,!reliquary</mirrorOf><url>file://{PLUGIN_REPO}</url></mirror></mirrors>
<servers><server><id>reliquary</id><username>aws</username><password>{token}</password></server></servers>
</settings>""")
    project = multi_module(workdir / "multi", modules, "http://unused.invalid/")
    log(f"mvn package of {modules} modules (fills the local repository) ...")
    mvn(project, settings, "package")
    ours, floor = [], []
    for run in range(runs):
        repository = f"multi-{run}"
        client.create_repository(domain=DOMAIN, repository=repository)
        endpoint = client.get_repository_endpoint(domain=DOMAIN, repository=repository,
                                                  format="maven")["repositoryEndpoint"]
        target = workdir / f"floor-{run}"
        log(f"run {run + 1}/{runs}: mvn deploy -> file:// and -> Reliquary ...")
        floor.append(mvn(project, settings, "deploy", f"-DaltDeploymentRepository=local::default::file://{target}"))
        ours.append(mvn(project, settings, "deploy", f"-DaltDeploymentRepository=reliquary::default::{endpoint}"))
        statuses = client.list_package_versions(domain=DOMAIN, repository=repository, format="maven",
                                                namespace="org.bench.multi", package="module-00")["versions"]
        if [v["status"] for v in statuses] != ["Published"]:
            raise RuntimeError(f"module-00 after mvn deploy: {statuses}")
    return ours, floor


# --------------------------------------------------------------------------- main


def run(args) -> str:
    binary = release_binary()
    conditions = Conditions(binary)
    notes: list[str] = []
    deploy_rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-maven-") as tmp:
        workdir = Path(tmp)
        with support.running_server(args.backend, workdir / "reliquary",
                                    quotas={"repositories_per_domain": 1000}) as server:
            client = support.make_client(server.url)
            client.create_domain(domain=DOMAIN)
            client.create_repository(domain=DOMAIN, repository=REPOSITORY)
            endpoint = client.get_repository_endpoint(domain=DOMAIN, repository=REPOSITORY,
                                                      format="maven")["repositoryEndpoint"]
            token = client.get_authorization_token(domain=DOMAIN)["authorizationToken"]
            log(f"deploying {args.packages}x{args.versions} versions ...")
            rate = deploy_all(endpoint, token, args.packages, args.versions, args.jar_bytes, args.workers)
            notes.append(f"Deploying ({args.workers} client threads): {args.packages * args.versions * 2} files "
                         f"(jar + POM, each with a .sha1, then one maven-metadata.xml per artifact) at {rate:.0f} "
                         "files/s.")
            cases = read_cases(server.url, endpoint, token, args.packages, args.versions)
            with ceiling.running_nginx(workdir / "nginx", cases) as nginx:
                ceiling.check_nginx(nginx, cases)
                for index, case in enumerate(cases):
                    order = ["nginx", "reliquary"] if index % 2 == 0 else ["reliquary", "nginx"]
                    for side in order:
                        if side == "nginx":
                            ceiling.measure(case, "nginx", nginx.url(case), nginx.pids(), args, workdir)
                        else:
                            ceiling.measure(case, "reliquary", server.url, [server.process.proc.pid], args, workdir)
                nginx_version = nginx.version
            if args.modules and shutil.which("mvn") and (PLUGIN_REPO / "org/apache/maven/plugins").is_dir():
                ours, floor = deploy_times(client, workdir, token, args.modules, args.runs)
                deploy_rows.append([f"`mvn deploy`, {args.modules} modules (s, median of {args.runs})",
                                    f"{statistics.median(floor):.1f}", f"{statistics.median(ours):.1f}",
                                    f"{statistics.median(ours) - statistics.median(floor):+.1f}"])
            else:
                notes.append("mvn deploy not measured: --modules 0, or mvn / Debian's plugin packages missing.")
    conditions.finish()
    rows = []
    for case in cases:
        ours, theirs = case.results["reliquary"], case.results["nginx"]
        rows.append([case.name, f"{theirs['rps']:,.0f}", f"{ours['rps']:,.0f}", f"{ours['rps'] / theirs['rps']:.2f}",
                     f"{theirs['p50_ms']:.2f}", f"{ours['p50_ms']:.2f}",
                     f"{1e6 * ours['server_cpu_s'] / max(ours['requests'], 1):.0f}"])
    lines = [
        "# Maven endpoint: reads against nginx, mvn deploy time", "",
        f"`.venv/bin/python bench/maven.py --packages {args.packages} --versions {args.versions} "
        f"--duration {args.duration} --modules {args.modules} --backend {args.backend}`; "
        f"`wrk -t{args.threads} -c{args.connections} -d{args.duration}s`, nginx {nginx_version} serving the bytes "
        "Reliquary served at the same paths.", "",
        table(["case", "nginx req/s", "Reliquary req/s", "Reliquary / nginx", "nginx p50 (ms)",
               "Reliquary p50 (ms)", "Reliquary CPU µs/req"], rows), "",
    ]
    if deploy_rows:
        lines += [table(["measure", "to file://", "to Reliquary", "difference"], deploy_rows), ""]
    lines += [f"- {note}" for note in notes]
    lines += ["", "## Conditions", "", conditions.markdown()]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--packages", type=int, default=200, help="artifacts deployed and rotated over (200)")
    parser.add_argument("--versions", type=int, default=10, help="versions of each artifact (10)")
    parser.add_argument("--jar-bytes", type=int, default=8192, help="size of each jar (8192)")
    parser.add_argument("--backend", choices=support.BACKENDS, default="sqlite")
    parser.add_argument("--duration", type=int, default=10, help="wrk -d seconds per case and server (10)")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (16)")
    parser.add_argument("--workers", type=int, default=4, help="client threads deploying (4)")
    parser.add_argument("--modules", type=int, default=50, help="modules of the mvn deploy build, 0 to skip (50)")
    parser.add_argument("--runs", type=int, default=3, help="mvn deploy runs to each target (3)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write bench/results/maven.md")
    args = parser.parse_args()
    if min(args.packages, args.versions, args.duration, args.workers, args.runs) < 1:
        parser.error("counts must be at least 1")
    if not wrk_available():
        sys.exit("wrk is missing: apt-get install -y wrk")
    ceiling.nginx_binary()
    return run_and_report(run, args, None if args.no_write else "maven")


if __name__ == "__main__":
    sys.exit(main())
