"""Domain size: a package-endpoint read costs the same in a domain of 3 repositories and of 500.

    .venv/bin/python bench/domain_size.py [--sizes 1,500] [--backend sqlite|postgres|both] [--rounds 3]

Per backend and round, one fresh release `reliquary serve` per size S, all running side by side
(SQLite: a fresh temp data dir each; PostgreSQL: a fresh database each on the tests' server, dropped
at the end), each with one domain `bench`:
  - `store`, holding --packages npm packages x --versions versions (`bench-pkg-NNN`, 1.0.0 ...
    1.<versions-1>.0; bench/npm.py's corpus, PUT with the body `npm publish` sends);
  - `app`, whose only upstream is `store` (app -> store): every read below goes through `app`;
  - S other repositories `other-NNNN`, unrelated to app: chains of --chain (other-0000 ->
    other-0001 -> ... -> other-0004, other-0005 -> ...), created with boto3 from each chain's tail,
    each holding --other-versions npm versions of a package named like app's packages
    (`bench-pkg-<i mod packages>`, version 9.<i>.<j>), which app must never show.
Then, in this order, each GET with the token and (packuments) npm install's abbreviated Accept
header, one keep-alive client per server, times taken client-side around each request. Every step
goes to all the servers request by request (package i to S=1 then S=500, package i+1 to S=500 then
S=1, ...), so that what else the machine does hits every size alike:
  1. first packument GET of every package through app: each is a miss of the rendered-document
     cache (merged listing over app's upstream graph: app's listing, the upstream closure, store's
     listing); p50, p90 and the sum. Each document is checked: the --versions versions, `latest`,
     nothing of the other repositories;
  2. the same GETs again (served from the rendered-document cache): p50;
  3. `wrk -t2 -c16 -d10s` rotating over every package's packument (the same headers), one server
     after the other, --wrk-runs runs per server in ABBA order (S=1, S=500, S=500, S=1; the next
     round starts with S=500): req/s, p50, and the server's CPU per request (utime + stime of the
     reliquary process / requests completed), averaged over the runs;
  4. first GET of every tarball (every version of every package) through app: resolved through the
     upstream graph, then retained into app (a write); bytes checked; p50 and p90. Then each again;
  5. --tags times: PUT /-/package/<name>/dist-tags/bench-<i> into `store` (where the versions live)
     with a JSON version string, then GET the packument through `app`, asserting it carries the new
     tag (the write must invalidate the cached document of another repository); latency of both.
--rounds repeats all of it with fresh servers; samples are pooled over rounds, req/s averaged.
Prints markdown tables with the ratio of each size to the first and writes
bench/results/domain-size.md. Every server is stopped at the end (by its own pid)."""

from __future__ import annotations

import sys

import argparse
import contextlib
import json
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

from common import Conditions, cpu_seconds, mean, percentile, release_binary, run_and_report, run_wrk, \
    table, wrk_available

import npm as npm_bench  # bench/npm.py: the npm corpus and publishing
import support  # (tests/e2e, put on sys.path by common)
from npm_support import (
    ABBREVIATED_ACCEPT,
    auth_token,
    bearer,
    dist_tags_url,
    make_tarball,
    npm_endpoint,
    packument_url,
    put_publish,
    tarball_url,
)

DOMAIN = "bench"
APP = "app"
STORE = "store"
DEFAULT_REPOSITORIES_PER_DOMAIN = 1000  # the server's default quota
TARGET_RPS_RATIO = 0.90


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def other_name(index: int) -> str:
    return f"other-{index:04d}"


def other_version(index: int, j: int) -> str:
    return f"9.{index}.{j}"


@dataclass
class Sample:
    """What one (backend, size, round) measured."""

    backend: str
    size: int
    round: int
    setup_s: float = 0.0
    repositories: int = 0
    first_packument_ms: list[float] = field(default_factory=list)
    hit_packument_ms: list[float] = field(default_factory=list)
    wrk: list[dict] = field(default_factory=list)  # one per wrk run

    def wrk_mean(self, key: str) -> float:
        return mean([run[key] for run in self.wrk])
    first_tarball_ms: list[float] = field(default_factory=list)
    hit_tarball_ms: list[float] = field(default_factory=list)
    tag_put_ms: list[float] = field(default_factory=list)
    tag_get_ms: list[float] = field(default_factory=list)


# --------------------------------------------------------------------------- set-up


def create_others(client, size: int, chain: int, workers: int) -> None:
    """`size` repositories in chains of `chain`, each upstream of the one before it in its chain."""
    chains = [list(range(start, min(start + chain, size))) for start in range(0, size, chain)]

    def create_chain(members: list[int]) -> None:
        upstream = None
        for index in reversed(members):  # the tail first: an upstream must exist
            kwargs = {"upstreams": [{"repositoryName": other_name(upstream)}]} if upstream is not None else {}
            client.create_repository(domain=DOMAIN, repository=other_name(index), **kwargs)
            upstream = index

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(create_chain, chains))


def publish_others(endpoint_of, token: str, size: int, per_repository: int, packages: int, workers: int) -> None:
    def publish(index: int) -> None:
        with requests.Session() as session:
            for j in range(per_repository):
                name = npm_bench.package_name(index % packages)
                tarball, manifest = make_tarball(name, other_version(index, j), {"description": "unrelated"})
                response = put_publish(endpoint_of(other_name(index)), token, manifest, tarball, session=session)
                if response.status_code not in (200, 201):
                    raise RuntimeError(f"{other_name(index)}: {name}@{manifest['version']}: "
                                       f"{response.status_code} {response.text[:200]}")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(publish, range(size)))


def count_repositories(client) -> int:
    paginator = client.get_paginator("list_repositories_in_domain")
    return sum(len(page["repositories"]) for page in paginator.paginate(domain=DOMAIN))


# --------------------------------------------------------------------------- measuring


def timed_get(session: requests.Session, url: str, headers: dict[str, str]) -> tuple[float, requests.Response]:
    started = time.perf_counter()
    response = session.get(url, headers=headers, timeout=60, allow_redirects=False)
    elapsed = (time.perf_counter() - started) * 1000.0
    return elapsed, response


def check_packument(response: requests.Response, name: str, expected: list[str]) -> dict:
    if response.status_code != 200:
        raise RuntimeError(f"packument of {name}: {response.status_code} {response.text[:300]}")
    document = response.json()
    if sorted(document["versions"]) != sorted(expected):
        raise RuntimeError(f"packument of {name} through {APP} lists {sorted(document['versions'])}, "
                           f"expected {sorted(expected)}")
    if document["dist-tags"].get("latest") != expected[-1]:
        raise RuntimeError(f"packument of {name}: dist-tags {document['dist-tags']}")
    return document


@dataclass
class Target:
    """One size's server, set up: where app and store are, the token, and what was measured."""

    server: support.RunningServer
    app: str
    store: str
    token: str
    sample: Sample
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)

    @property
    def packument_headers(self) -> dict[str, str]:
        return {**self.auth, "Accept": ABBREVIATED_ACCEPT}


def set_up(args, stack: contextlib.ExitStack, backend: str, size: int, round_: int, corpus: dict,
           workdir: Path) -> Target:
    needed = size + 2
    quotas = {"repositories_per_domain": needed} if needed > DEFAULT_REPOSITORIES_PER_DOMAIN else None
    server = stack.enter_context(support.running_server(backend, workdir, quotas=quotas))
    sample = Sample(backend, size, round_)
    client = support.make_client(server.url)
    started = time.monotonic()
    client.create_domain(domain=DOMAIN)
    client.create_repository(domain=DOMAIN, repository=STORE)
    client.create_repository(domain=DOMAIN, repository=APP, upstreams=[{"repositoryName": STORE}])
    create_others(client, size, args.chain, args.workers)
    token = auth_token(client, DOMAIN)
    app = npm_endpoint(client, DOMAIN, APP)
    store = npm_endpoint(client, DOMAIN, STORE)
    base = app[: -len(f"{APP}/")]

    def endpoint_of(repository: str) -> str:
        return f"{base}{repository}/"

    npm_bench.populate(npm_bench.Registry(f"{STORE} ({backend}, S = {size})", store, token), corpus, args.workers)
    publish_others(endpoint_of, token, size, args.other_versions, args.packages, args.workers)
    sample.setup_s = time.monotonic() - started
    sample.repositories = count_repositories(client)
    if sample.repositories != needed:
        raise RuntimeError(f"{sample.repositories} repositories in {DOMAIN}, expected {needed}")
    log(f"  {backend}, S = {size}, round {round_}: {sample.repositories} repositories, set up in "
        f"{sample.setup_s:.1f} s")
    target = Target(server, app, store, token, sample)
    stack.callback(target.session.close)
    return target


def interleaved(targets: list[Target], step: int) -> list[Target]:
    """The targets in the order for the step-th request: alternating, so drift hits every size alike."""
    return targets if step % 2 == 0 else list(reversed(targets))


def measure_round(args, backend: str, round_: int, corpus: dict, workdir: Path) -> list[Sample]:
    names = list(corpus)
    expected = [npm_bench.version_of(v) for v in range(args.versions)]
    with contextlib.ExitStack() as stack:
        targets = [set_up(args, stack, backend, size, round_, corpus, workdir / f"S{size}") for size in args.sizes]

        # 1. first packument GETs: misses of the rendered-document cache; 2. again: hits
        for attribute in ("first_packument_ms", "hit_packument_ms"):
            for step, name in enumerate(names):
                for target in interleaved(targets, step):
                    elapsed, response = timed_get(target.session, packument_url(target.app, name),
                                                  target.packument_headers)
                    check_packument(response, name, expected)
                    getattr(target.sample, attribute).append(elapsed)
        for target in targets:
            log(f"    S = {target.sample.size}: first packument GET p50 "
                f"{percentile(target.sample.first_packument_ms, 50):.2f} ms, again p50 "
                f"{percentile(target.sample.hit_packument_ms, 50):.2f} ms")

        # 3. wrk on the warm packuments, one server at a time: --wrk-runs per server, in ABBA order
        for target in [t for run in range(args.wrk_runs) for t in interleaved(targets, round_ - 1 + run)]:
            paths = [urlsplit(packument_url(target.app, name)).path for name in names]
            pid = target.server.process.proc.pid
            log(f"    S = {target.sample.size}: wrk packuments ({args.duration} s) ...")
            before = cpu_seconds([pid])
            result = run_wrk(target.server.url, paths, target.packument_headers, args.threads, args.connections,
                             args.duration, workdir, f"{backend}-{target.sample.size}-{round_}")
            result["server_cpu_s"] = cpu_seconds([pid]) - before
            done = re.search(r"(\d+) requests in", result["raw"])
            done = int(done[1]) if done else result["rps"] * args.duration
            result["cpu_us_per_request"] = 1e6 * result["server_cpu_s"] / max(done, 1)
            target.sample.wrk.append(result)
            log(f"      {result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
                f"{result['cpu_us_per_request']:.0f} us CPU/request, non-2xx {result['non_2xx']}")
            if result["non_2xx"] or result["socket_errors"]:
                raise RuntimeError(f"wrk: {result['non_2xx']} non-2xx, socket errors {result['socket_errors']}")

        # 4. first tarball GETs: resolved through the upstream graph and retained into app; then again
        tarballs = [(name, tarball, manifest["version"]) for name in names for tarball, manifest in corpus[name]]
        for attribute in ("first_tarball_ms", "hit_tarball_ms"):
            for step, (name, tarball, version) in enumerate(tarballs):
                for target in interleaved(targets, step):
                    elapsed, response = timed_get(target.session, tarball_url(target.app, name, version),
                                                  target.auth)
                    if response.status_code != 200 or response.content != tarball:
                        raise RuntimeError(f"tarball {name}@{version} through {APP}: {response.status_code}, "
                                           f"{len(response.content)} bytes")
                    getattr(target.sample, attribute).append(elapsed)
        for target in targets:
            log(f"    S = {target.sample.size}: first tarball GET p50 "
                f"{percentile(target.sample.first_tarball_ms, 50):.2f} ms, again p50 "
                f"{percentile(target.sample.hit_tarball_ms, 50):.2f} ms")

        # 5. write into store, read through app
        for index in range(args.tags):
            name = names[index % len(names)]
            tag, version = f"bench-{index}", npm_bench.version_of(index % args.versions)
            for target in interleaved(targets, index):
                started_put = time.perf_counter()
                put = target.session.put(dist_tags_url(target.store, name, tag), data=json.dumps(version),
                                         headers={**target.auth, "Content-Type": "application/json"}, timeout=60)
                target.sample.tag_put_ms.append((time.perf_counter() - started_put) * 1000.0)
                if put.status_code not in (200, 201):
                    raise RuntimeError(f"PUT dist-tag {tag} of {name} into {STORE}: {put.status_code} "
                                       f"{put.text[:200]}")
                elapsed, response = timed_get(target.session, packument_url(target.app, name),
                                              target.packument_headers)
                document = check_packument(response, name, expected)
                if document["dist-tags"].get(tag) != version:
                    raise RuntimeError(f"after PUT {tag}={version} into {STORE}, {APP}'s packument of {name} "
                                       f"has dist-tags {document['dist-tags']}: a stale cached document")
                target.sample.tag_get_ms.append(elapsed)
        for target in targets:
            log(f"    S = {target.sample.size}: packument GET after a dist-tag PUT p50 "
                f"{percentile(target.sample.tag_get_ms, 50):.2f} ms ({args.tags} tags, each seen)")
    return [target.sample for target in targets]


# --------------------------------------------------------------------------- report


def pooled(samples: list[Sample], attribute: str) -> list[float]:
    return [value for s in samples for value in getattr(s, attribute)]


def report(args, results: dict[str, dict[int, list[Sample]]], conditions: Conditions) -> str:
    sizes = args.sizes
    first = sizes[0]
    command = (f"`.venv/bin/python bench/domain_size.py --sizes {','.join(map(str, sizes))} --backend {args.backend} "
               f"--rounds {args.rounds} --packages {args.packages} --versions {args.versions} --chain {args.chain} "
               f"--other-versions {args.other_versions} --tags {args.tags} --duration {args.duration} "
               f"--wrk-runs {args.wrk_runs}`")
    lines = [
        "# Domain size: package-endpoint reads through `app` in a domain of 3 repositories and of "
        f"{max(sizes) + 2}",
        "",
        command,
        "",
        f"One domain; `app` -> `store` ({args.packages} npm packages x {args.versions} versions in `store`), plus S "
        f"unrelated repositories in chains of {args.chain} (S = {', '.join(map(str, sizes))}), each holding "
        f"{args.other_versions} version(s) of a package named like app's. Every read goes through `app`. "
        "One server per size, all running side by side, measured request by request in alternating order "
        f"(wrk: one server after the other, {args.wrk_runs} run(s) each per round in ABBA order); {args.rounds} "
        "round(s), each "
        "with fresh servers; latencies pooled over rounds, req/s and sums averaged. Ratio = the size's value / "
        "size "
        f"{first}'s: for req/s the target is at least {TARGET_RPS_RATIO:.2f}, for latencies close to 1.",
    ]
    verdicts = []
    for backend, by_size in results.items():
        def cell(size: int, measure) -> float:
            return measure(by_size[size])

        measures = [
            (f"warm packument GET, wrk -t{args.threads} -c{args.connections} -d{args.duration}s (req/s)",
             lambda ss: mean([s.wrk_mean("rps") for s in ss]), "{:,.0f}"),
            ("warm packument GET under wrk, p50 (ms)", lambda ss: mean([s.wrk_mean("p50_ms") for s in ss]),
             "{:.2f}"),
            ("server CPU per warm packument GET (us)",
             lambda ss: mean([s.wrk_mean("cpu_us_per_request") for s in ss]), "{:,.0f}"),
            ("warm packument GET, one client, p50 (ms)",
             lambda ss: percentile(pooled(ss, "hit_packument_ms"), 50), "{:.2f}"),
            ("first packument GET (cache miss), p50 (ms)",
             lambda ss: percentile(pooled(ss, "first_packument_ms"), 50), "{:.2f}"),
            ("first packument GET (cache miss), p90 (ms)",
             lambda ss: percentile(pooled(ss, "first_packument_ms"), 90), "{:.2f}"),
            (f"first packument GETs, sum of {args.packages} (ms)",
             lambda ss: mean([sum(s.first_packument_ms) for s in ss]), "{:,.1f}"),
            ("first tarball GET (upstream + retention), p50 (ms)",
             lambda ss: percentile(pooled(ss, "first_tarball_ms"), 50), "{:.2f}"),
            ("first tarball GET (upstream + retention), p90 (ms)",
             lambda ss: percentile(pooled(ss, "first_tarball_ms"), 90), "{:.2f}"),
            ("tarball GET again (retained in app), p50 (ms)",
             lambda ss: percentile(pooled(ss, "hit_tarball_ms"), 50), "{:.2f}"),
            ("dist-tag PUT into store, p50 (ms)", lambda ss: percentile(pooled(ss, "tag_put_ms"), 50), "{:.2f}"),
            ("packument GET through app after the PUT, p50 (ms)",
             lambda ss: percentile(pooled(ss, "tag_get_ms"), 50), "{:.2f}"),
            ("packument GET through app after the PUT, p90 (ms)",
             lambda ss: percentile(pooled(ss, "tag_get_ms"), 90), "{:.2f}"),
        ]
        headers = ["measure"] + [f"S = {size}" for size in sizes] + [f"S = {size} / S = {first}" for size in sizes[1:]]
        rows = []
        for title, measure, fmt in measures:
            values = [cell(size, measure) for size in sizes]
            rows.append([title] + [fmt.format(v) for v in values]
                        + [f"{v / values[0]:.2f}" if values[0] else "—" for v in values[1:]])
        repositories = {size: by_size[size][0].repositories for size in sizes}
        label = "SQLite" if backend == "sqlite" else "PostgreSQL"
        lines += ["", f"## {label}", "",
                  "Repositories in the domain: " + ", ".join(f"{repositories[s]} (S = {s})" for s in sizes) + ".", "",
                  table(headers, rows)]
        for size in sizes[1:]:
            rps = {z: mean([s.wrk_mean("rps") for s in by_size[z]]) for z in (first, size)}
            cpu = {z: mean([s.wrk_mean("cpu_us_per_request") for s in by_size[z]]) for z in (first, size)}
            ratio = rps[size] / rps[first]
            per_round = [b.wrk_mean("rps") / a.wrk_mean("rps")
                         for a, b in zip(sorted(by_size[first], key=lambda s: s.round),
                                         sorted(by_size[size], key=lambda s: s.round))]
            runs = {z: [r["rps"] for s in by_size[z] for r in s.wrk] for z in (first, size)}
            verdicts.append(
                f"{label}: req/s at S = {size} / S = {first} = {ratio:.2f} "
                f"({'meets' if ratio >= TARGET_RPS_RATIO else '**misses**'} the {TARGET_RPS_RATIO:.2f} target); "
                f"per round {', '.join(f'{r:.2f}' for r in per_round)}; single wrk runs ranged "
                f"{min(runs[first]):,.0f}-{max(runs[first]):,.0f} req/s at S = {first} and "
                f"{min(runs[size]):,.0f}-{max(runs[size]):,.0f} at S = {size}. Server CPU per request "
                f"{cpu[size]:.0f} / {cpu[first]:.0f} us = {cpu[size] / cpu[first]:.2f}.")
    lines += ["", "## Verdict", ""] + [f"- {v}" for v in verdicts]

    round_rows = []
    for backend, by_size in results.items():
        for size in sizes:
            for s in sorted(by_size[size], key=lambda s: s.round):
                round_rows.append([
                    f"{backend}, S = {size}, round {s.round}", f"{s.setup_s:.1f}",
                    " / ".join(f"{r['rps']:,.0f}" for r in s.wrk),
                    " / ".join(f"{r['cpu_us_per_request']:,.0f}" for r in s.wrk), f"{percentile(s.first_packument_ms, 50):.2f}",
                    f"{sum(s.first_packument_ms):,.1f}", f"{percentile(s.first_tarball_ms, 50):.2f}",
                    f"{percentile(s.tag_get_ms, 50):.2f}",
                ])
    lines += [
        "", "## Each run", "",
        "Each row one server (each round a fresh set).", "",
        table(["backend, size, round", "set-up (s)", "req/s, each wrk run", "CPU/req (us), each run", "first packument p50 (ms)",
               "first packuments sum (ms)", "first tarball p50 (ms)", "GET after PUT p50 (ms)"], round_rows),
        "", "## Setup", "",
        f"- Per size: `store` gets {args.packages} x {args.versions} npm publishes ({args.workers} client threads, "
        "bench/npm.py's populate); the S other repositories are created with boto3 CreateRepository "
        f"({args.workers} threads, each creating whole chains) and get {args.other_versions} npm publish(es) each. "
        "Set-up time covers all of it.",
        "- Every packument GET carries `Authorization: Bearer <token>` and npm install's Accept header "
        f"(`{ABBREVIATED_ACCEPT}`); tarball GETs the token. One keep-alive `requests` session; latency is "
        "measured client-side around each request (Python's own overhead included, the same for every size).",
        "- Every packument read is checked: exactly the versions of `store`, `latest` the newest, none of the "
        "9.x versions the other repositories hold under the same names. Every tarball is compared byte for byte.",
        "- First packument GETs run right after set-up: no document of `app` was rendered yet, so each is a "
        "miss (the very first also resolves `app` itself). The first tarball GETs retain each version into "
        "`app` (a write), so every one of them runs with cold caches.",
        "- The dist-tag PUTs go to `store`, the GETs to `app`: a write in one repository must invalidate the "
        "cached documents of another. Each GET is asserted to show the new tag.",
        "- Server CPU per request: utime + stime of the reliquary process during the wrk run / requests "
        "completed (PostgreSQL's own processes not included; the warm path does not query the database).",
        "", "## Conditions", "", conditions.markdown(),
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def run(args) -> str:
    binary = release_binary()
    conditions = Conditions(binary)
    corpus = npm_bench.generate(args.packages, args.versions)
    backends = support.BACKENDS if args.backend == "both" else [args.backend]
    results: dict[str, dict[int, list[Sample]]] = {b: {s: [] for s in args.sizes} for b in backends}
    with tempfile.TemporaryDirectory(prefix="bench-domain-size-") as tmp:
        for backend in backends:
            for round_ in range(1, args.rounds + 1):
                log(f"{backend}, round {round_}/{args.rounds}: S = {', '.join(map(str, args.sizes))} ...")
                for sample in measure_round(args, backend, round_, corpus, Path(tmp) / f"{backend}-{round_}"):
                    results[backend][sample.size].append(sample)
    conditions.finish()
    return report(args, results, conditions)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--sizes", default="1,500",
                        help="comma-separated numbers of unrelated repositories besides app and store; ratios are "
                             "against the first (1,500)")
    parser.add_argument("--backend", choices=[*support.BACKENDS, "both"], default="both",
                        help="Reliquary's metadata store (both)")
    parser.add_argument("--rounds", type=int, default=3, help="times to repeat everything with fresh servers (3)")
    parser.add_argument("--packages", type=int, default=100, help="npm packages in store, read through app (100)")
    parser.add_argument("--versions", type=int, default=5, help="versions of each package (5)")
    parser.add_argument("--chain", type=int, default=5, help="length of the upstream chains of the other "
                        "repositories (5)")
    parser.add_argument("--other-versions", type=int, default=1,
                        help="npm versions published into each other repository (1)")
    parser.add_argument("--tags", type=int, default=20, help="dist-tag PUTs, each followed by a GET (20)")
    parser.add_argument("--duration", type=int, default=10, help="wrk -d seconds (10)")
    parser.add_argument("--wrk-runs", type=int, default=2,
                        help="wrk runs per server and round, the servers in ABBA order (2)")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (16)")
    parser.add_argument("--workers", type=int, default=4, help="client threads for set-up (4)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write bench/results/domain-size.md")
    args = parser.parse_args()
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes takes comma-separated integers")
    if not args.sizes or min(args.sizes) < 0 or len(set(args.sizes)) != len(args.sizes):
        parser.error("--sizes: distinct integers, at least 0")
    if min(args.rounds, args.packages, args.versions, args.chain, args.duration, args.wrk_runs, args.workers) < 1 \
            or min(args.other_versions, args.tags) < 0:
        parser.error("counts must be at least 1 (--other-versions and --tags at least 0)")
    if not wrk_available():
        sys.exit("wrk is missing: apt-get install -y wrk")
    return run_and_report(run, args, None if args.no_write else "domain-size")


if __name__ == "__main__":
    sys.exit(main())
