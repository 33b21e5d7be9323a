"""Plumbing shared by the benchmarks in bench/: the release binary, the machine's conditions,
percentiles, markdown tables and the results files.

Servers, PostgreSQL databases, boto3 clients and publishing come from tests/e2e/support.py
(imported here, not duplicated); this module only points support at the *release* binary."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
E2E_DIR = REPO_ROOT / "tests" / "e2e"

if str(E2E_DIR) not in sys.path:
    sys.path.insert(0, str(E2E_DIR))



MIB = 1 << 20
KIB = 1 << 10

BINARY_GIVEN = False  # set by release_binary(): whether RELIQUARY_BIN named the binary

# What a change to can make the release binary stale.
SOURCE_GLOBS = ["crates/**/*.rs", "crates/**/*.sql", "crates/**/Cargo.toml", "Cargo.toml", "Cargo.lock",
                "rust-toolchain.toml"]


def _newest_source_mtime() -> float:
    newest = 0.0
    for pattern in SOURCE_GLOBS:
        for path in REPO_ROOT.glob(pattern):
            if path.is_file():
                newest = max(newest, path.stat().st_mtime)
    return newest


def release_binary() -> Path:
    """The binary to benchmark: $RELIQUARY_BIN if set, else target/release/reliquary, built first
    with `cargo build --release -p reliquary` when missing or older than the sources. Exports
    RELIQUARY_BIN so that support.running_server starts this binary."""
    global BINARY_GIVEN
    BINARY_GIVEN = bool(os.environ.get("RELIQUARY_BIN"))
    if BINARY_GIVEN:
        binary = Path(os.environ["RELIQUARY_BIN"]).resolve()
        if not binary.is_file():
            sys.exit(f"RELIQUARY_BIN={binary} is not a file")
    else:
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
        binary = (target / "release" / "reliquary").resolve()
        if not binary.is_file() or binary.stat().st_mtime < _newest_source_mtime():
            print(f"building {binary} (cargo build --release -p reliquary) ...", file=sys.stderr, flush=True)
            built = subprocess.run(["cargo", "build", "--release", "-p", "reliquary"], cwd=REPO_ROOT)
            if built.returncode != 0:
                sys.exit(f"cargo build --release -p reliquary failed ({built.returncode}); fix the build "
                         "or point RELIQUARY_BIN at a reliquary binary")
        if not binary.is_file():
            sys.exit(f"{binary} is still missing after cargo build --release")
    os.environ["RELIQUARY_BIN"] = str(binary)
    return binary


def percentile(samples: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); p in [0, 100]."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * p / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def mean(samples: list[float]) -> float:
    return sum(samples) / len(samples) if samples else float("nan")


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A markdown table; the first column is left-aligned, the others right-aligned."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        padded = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        return "| " + " | ".join(padded) + " |"

    rule = "| " + " | ".join([":" + "-" * (widths[0] - 1)] + ["-" * (w - 1) + ":" for w in widths[1:]]) + " |"
    return "\n".join([line(cells[0]), rule] + [line(row) for row in cells[1:]])


def loadavg() -> str:
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _cpu_ticks() -> dict[int, tuple[str, int, int]]:
    """{pid: (name, ppid, utime + stime ticks)} of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1: raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        found[int(entry.name)] = (name, int(fields[1]), int(fields[11]) + int(fields[12]))
    return found


def _busy_seconds() -> float:
    """CPU seconds spent by the whole machine since boot (every state but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class OtherLoad(threading.Thread):
    """Every 2 s: the CPU the machine used minus what this process and its children (the server,
    psql, cargo) used, i.e. what other work took; averaged in cores over the run. Also the names of
    other processes above 10% of a core in some interval."""

    INTERVAL_S = 2.0

    def __init__(self):
        super().__init__(daemon=True)
        self.stopping = threading.Event()
        self.busy: set[str] = set()
        self.other_seconds = 0.0
        self.elapsed = 0.0

    @staticmethod
    def _ours(processes: dict[int, tuple[str, int, int]]) -> float:
        """CPU seconds of this process, its reaped children and its live children."""
        hz = os.sysconf("SC_CLK_TCK")
        me = os.getpid()
        times = os.times()
        live = sum(ticks for _, ppid, ticks in processes.values() if ppid == me) / hz
        return times.user + times.system + times.children_user + times.children_system + live

    def run(self) -> None:
        hz = os.sysconf("SC_CLK_TCK")
        me = os.getpid()
        previous = _cpu_ticks()
        machine, ours, at = _busy_seconds(), self._ours(previous), time.monotonic()
        while not self.stopping.wait(self.INTERVAL_S):
            current = _cpu_ticks()
            machine_now, ours_now, now = _busy_seconds(), self._ours(current), time.monotonic()
            self.other_seconds += max(0.0, (machine_now - machine) - (ours_now - ours))
            self.elapsed += now - at
            for pid, (name, ppid, ticks) in current.items():
                if pid == me or ppid == me or pid not in previous:
                    continue
                if (ticks - previous[pid][2]) / hz / (now - at) > 0.10:
                    self.busy.add(name)
            previous, machine, ours, at = current, machine_now, ours_now, now

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)

    def describe(self) -> str:
        if self.elapsed <= 0:
            return "not measured"
        cores = self.other_seconds / self.elapsed
        names = ", ".join(sorted(self.busy)) if self.busy else "no single process above 10% of a core"
        return f"{cores:.2f} of {os.cpu_count()} cores on average ({names})"


class Conditions:
    """What the machine was doing during a benchmark: load average at the start and the end, and
    the CPU other processes used meanwhile."""

    def __init__(self, binary: Path):
        self.binary = binary
        self.given = BINARY_GIVEN
        self.binary_built = datetime.fromtimestamp(binary.stat().st_mtime, timezone.utc)
        self.started = datetime.now(timezone.utc)
        self.load_start = loadavg()
        self.wall_start = time.monotonic()
        self.others = OtherLoad()
        self.others.start()

    def finish(self) -> None:
        self.load_end = loadavg()
        self.others.stop()
        self.wall = time.monotonic() - self.wall_start

    def markdown(self) -> str:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                                text=True).stdout.strip() or "?"
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "crates"], cwd=REPO_ROOT,
                               capture_output=True, text=True).stdout.strip()
        shown = self.binary.relative_to(REPO_ROOT) if self.binary.is_relative_to(REPO_ROOT) else self.binary
        if self.given:
            binary = f"`{shown}` (given as RELIQUARY_BIN, built {self.binary_built:%Y-%m-%d %H:%M} UTC)"
        else:
            binary = (f"`{shown}`, cargo build --release of the work tree at git {commit}"
                      + (" + uncommitted changes under crates/" if dirty else ""))
        lines = [
            f"- taken {self.started:%Y-%m-%d %H:%M} UTC, {self.wall:.0f} s wall",
            f"- binary: {binary}",
            f"- machine: {os.cpu_count()} cores ({cpu_model()}), Linux {platform.release()}, Python "
            f"{platform.python_version()}",
            f"- load average (1/5/15 min) at start {self.load_start}, at end {self.load_end}",
            "- CPU used by processes other than the benchmark and the reliquary server it started (PostgreSQL "
            "counts as other) during the run: "
            + self.others.describe(),
        ]
        return "\n".join(lines)


def write_results(name: str, markdown: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.md"
    path.write_text(markdown.rstrip() + "\n")
    return path
