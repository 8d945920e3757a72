"""Tables, targets and the JSON record of a run, with the machine they were measured on.

A benchmark figure without its machine, versions and load is not worth
keeping, so every printed report and every JSON file starts with them.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flux_adapter
from bench.regions import RegionsLoad, RegionsRun
from bench.ring import LABELS, RingRun
from bench.scenarios import POSTERS, ChurnRun, MemoryRun, NoopRun, Settings, SyncRun
from localcluster import KubeClient, LocalCluster
from localcluster.peers import ensure_peer

RSS_LIMIT_MB = 120.0
SYNC_POSTS = 20
SYNC_SECONDS = 3.0
MB = 1e6
RING_ENVELOPES = 1.5
"""The new behaviour may send at most this many times the previous one's envelopes."""
REGIONS_DOWNLOAD_MB = 15.0
"""Issue 24: at the largest N, each adapter downloads at most this much an hour (MB)."""
REGIONS_RSS_MB = 3.0
"""Issue 24: peak RSS at the largest N within this of the smallest N's (MB)."""
REGIONS_FACTOR = 1.5
"""Issue 24: per-adapter figures at the largest N within this factor of the smallest N's."""


@dataclass
class Results:
    sync: list[SyncRun] = dataclasses.field(default_factory=list)
    churn: list[ChurnRun] = dataclasses.field(default_factory=list)
    noop: list[NoopRun] = dataclasses.field(default_factory=list)
    memory: list[MemoryRun] = dataclasses.field(default_factory=list)
    ring: list[RingRun] = dataclasses.field(default_factory=list)
    regions: list[RegionsRun] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class Check:
    name: str
    target: str
    measured: str
    met: bool


def _first(runs: Iterable[Any], poster: str, releases: int | None = None) -> Any:
    for run in runs:
        if run.poster == poster and releases in (None, run.releases):
            return run
    return None


def _check(name: str, wanted: str, measured: float, fmt: str, met: bool) -> Check:
    return Check(name, wanted, format(measured, fmt), met)


def checks(results: Results, settings: Settings, quick: bool) -> list[Check]:
    """The issue's targets for what was run; in quick mode only the counts, never times."""
    found: list[Check] = []
    if results.sync:
        size = max(settings.sync_sizes)
        sync = _first(results.sync, "adapter", size)
        name = f"initial sync of {size:,}"
        posts = sync.posts
        found.append(_check(f"{name}: POSTs", f"<= {SYNC_POSTS}", posts, "d", posts <= SYNC_POSTS))
        if not quick:
            seconds = sync.from_list_s
            wanted = f"< {SYNC_SECONDS:g}"
            found.append(
                _check(f"{name}: s after the LISTs", wanted, seconds, ".2f", seconds < SYNC_SECONDS)
            )
    if results.churn:
        ours, theirs = _first(results.churn, "adapter"), _first(results.churn, "baseline")
        factor = 10 if quick else 20
        ratio = theirs.posts / ours.posts if ours.posts else math.inf
        name = "churn: baseline POSTs / adapter POSTs"
        found.append(_check(name, f">= {factor}", ratio, ".1f", ratio >= factor))
        if not quick:
            limit = (settings.emit_interval + 0.1) * 1000
            for name, p99 in (
                ("churn: p99 ms from the status write", ours.from_write_ms.p99),
                ("churn: p99 ms from the event's arrival", ours.from_arrival_ms.p99),
            ):
                found.append(_check(name, f"<= {limit:.0f}", p99, ".0f", p99 <= limit))
    if results.noop:
        posts = _first(results.noop, "adapter").posts
        found.append(_check("no-op churn: POSTs", "0", posts, "d", posts == 0))
    if results.ring:
        found += ring_checks(results.ring)
    if results.regions:
        found += regions_checks(results.regions, quick)
    if results.memory and not quick:
        size = max(settings.memory_sizes)
        rss = _first(results.memory, "adapter", size).rss_mb
        name = f"RSS MB at {size:,} releases"
        found.append(_check(name, f"< {RSS_LIMIT_MB:g}", rss, ".1f", rss < RSS_LIMIT_MB))
    return found


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (readable as printed text too), right-aligned numbers."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def _ratio(theirs: float, ours: float) -> str:
    if ours == 0:
        return "∞" if theirs else "-"
    return f"{theirs / ours:.1f}x"


@dataclass(frozen=True)
class Column:
    """One figure of a side-by-side table: how to read it off a run and print it."""

    header: str
    value: Callable[[Any], float]
    fmt: str
    ratio: bool = True


def side_by_side(ours: Any, theirs: Any, columns: Sequence[Column]) -> list[list[str]]:
    """The adapter's row, the baseline's row, and their ratio (baseline ÷ adapter)."""
    rows = [[run.poster, *(format(c.value(run), c.fmt) for c in columns)] for run in (ours, theirs)]
    ratios = [_ratio(c.value(theirs), c.value(ours)) if c.ratio else "" for c in columns]
    return [*rows, ["baseline ÷ adapter", *ratios]]


def _by_size(runs: Sequence[Any], columns: Sequence[Column]) -> list[list[str]]:
    rows: list[list[str]] = []
    for size in sorted({run.releases for run in runs}):
        pair = side_by_side(_first(runs, "adapter", size), _first(runs, "baseline", size), columns)
        rows += [[f"{size:,}", *row] for row in pair]
    return rows


SYNC_COLUMNS = (
    Column("POSTs", lambda r: r.posts, ","),
    Column("MB sent", lambda r: r.bytes / 1e6, ".2f"),
    Column("s from start", lambda r: r.from_start_s, ".2f"),
    Column("s from LIST", lambda r: r.from_list_s, ".2f"),
    Column("CPU s", lambda r: r.cpu_s, ".1f"),
    Column("RSS MB", lambda r: r.rss_mb, ".0f"),
)


def sync_table(runs: Sequence[SyncRun]) -> str:
    headers = ["releases", "poster", *(c.header for c in SYNC_COLUMNS)]
    return table(headers, _by_size(runs, SYNC_COLUMNS))


CHURN_COLUMNS = (
    Column("changes", lambda r: r.changes, ",", ratio=False),
    Column("over s", lambda r: r.write_seconds, ".1f", ratio=False),
    Column("POSTs", lambda r: r.posts, ","),
    Column("POSTs/change", lambda r: r.posts_per_change, ".3f"),
    Column("bytes/change", lambda r: r.bytes_per_change, ",.0f"),
    Column("never carried", lambda r: r.never_carried, "d", ratio=False),
    Column("CPU s/1k events", lambda r: r.cpu_per_1000_events, ".2f"),
)


def churn_table(runs: Sequence[ChurnRun]) -> str:
    """Request economy and cost per change, side by side."""
    rows = side_by_side(_first(runs, "adapter"), _first(runs, "baseline"), CHURN_COLUMNS)
    return table(["poster", *(c.header for c in CHURN_COLUMNS)], rows)


def latency_table(runs: Sequence[ChurnRun]) -> str:
    """Where a change's time goes, in ms: the API server's write, then the poster."""
    ours, theirs = _first(runs, "adapter"), _first(runs, "baseline")
    rows = []
    for run in (ours, theirs):
        arrival = run.from_arrival_ms.row()
        if not run.arrival_exact:
            arrival[-1] = "≤ " + arrival[-1]
        rows.append([run.poster, "status write → POST carrying it", *run.from_write_ms.row()])
        how = "exact" if run.arrival_exact else "histogram"
        rows.append([run.poster, f"event arrival → ack ({how})", *arrival])
        rows.append(
            [run.poster, "the status write's own round trip", *run.write_round_trip_ms.row()]
        )
    rows.append(
        [
            "baseline ÷ adapter",
            "status write → POST",
            _ratio(theirs.from_write_ms.p50, ours.from_write_ms.p50),
            _ratio(theirs.from_write_ms.p95, ours.from_write_ms.p95),
            _ratio(theirs.from_write_ms.p99, ours.from_write_ms.p99),
            _ratio(theirs.from_write_ms.max, ours.from_write_ms.max),
        ]
    )
    return table(["poster", "from → to", "p50", "p95", "p99", "max"], rows)


def machine_table(runs: Sequence[ChurnRun]) -> str:
    """CPU seconds every process on the machine spent while each poster took the churn."""
    roles: list[str] = []
    for run in runs:
        roles += [role for role in run.machine_cpu_s if role not in roles]
    # The posters first, the window's length last.
    roles.sort(key=lambda role: (not role.endswith("(under test)"), role.startswith("window")))
    by_poster = {run.poster: run.machine_cpu_s for run in runs}
    rows = [
        [role, *(f"{by_poster[p].get(role, 0.0):.1f}" if p in by_poster else "" for p in POSTERS)]
        for role in roles
    ]
    return table(["process", *(f"{p} run" for p in POSTERS)], rows)


NOOP_COLUMNS = (
    Column("updates", lambda r: r.updates, ",", ratio=False),
    Column("events seen", lambda r: r.events, ",", ratio=False),
    Column("POSTs", lambda r: r.posts, ","),
    Column("bytes", lambda r: r.bytes, ","),
    Column("CPU s/1k events", lambda r: r.cpu_per_1000_events, ".2f"),
)


def noop_table(runs: Sequence[NoopRun]) -> str:
    rows = side_by_side(_first(runs, "adapter"), _first(runs, "baseline"), NOOP_COLUMNS)
    return table(["poster", *(c.header for c in NOOP_COLUMNS)], rows)


MEMORY_COLUMNS = (
    Column("RSS MB", lambda r: r.rss_mb, ".1f"),
    Column("peak RSS MB", lambda r: r.peak_mb, ".1f"),
)


def memory_table(runs: Sequence[MemoryRun]) -> str:
    headers = ["releases", "poster", *(c.header for c in MEMORY_COLUMNS)]
    return table(headers, _by_size(runs, MEMORY_COLUMNS))


def _variant(runs: Sequence[RingRun], variant: str) -> RingRun:
    return next(run for run in runs if run.variant == variant)


def ring_checks(runs: Sequence[RingRun]) -> list[Check]:
    """Issue 18's targets: no hole at all, at most 1.5x the envelopes, no more snapshot GETs."""
    new, old = _variant(runs, "new"), _variant(runs, "previous")
    ratio = new.envelopes / old.envelopes if old.envelopes else math.inf
    return [
        _check("ring: node-seconds missing", "0", new.node_seconds, ".1f", new.node_seconds == 0),
        _check("ring: edge-seconds missing", "0", new.edge_seconds, ".1f", new.edge_seconds == 0),
        _check(
            "ring: envelopes, new / previous",
            f"<= {RING_ENVELOPES:g}",
            ratio,
            ".2f",
            ratio <= RING_ENVELOPES,
        ),
        _check(
            "ring: snapshot GETs, new vs previous",
            # The check at start and the two probes that verify the ring come
            # however short the run; a minute of the previous cadence has two.
            f"<= {max(old.snapshot_gets, 3)}",
            new.snapshot_gets,
            "d",
            new.snapshot_gets <= max(old.snapshot_gets, 3),
        ),
    ]


RING_COLUMNS = (
    Column("node-s missing", lambda r: r.node_seconds, ",.1f"),
    Column("edge-s missing", lambda r: r.edge_seconds, ",.1f"),
    Column("longest hole s", lambda r: r.longest_hole, ".1f"),
    Column("holes", lambda r: r.holes, ","),
    Column("envelopes", lambda r: r.envelopes, ","),
    Column("MB posted", lambda r: r.bytes / 1e6, ".2f"),
    Column("snapshot GETs", lambda r: r.snapshot_gets, ","),
    Column("snapshot MB", lambda r: r.snapshot_bytes / 1e6, ".2f"),
    Column("streams", lambda r: r.stream_connections, ","),
    Column("stream MB", lambda r: r.stream_bytes / 1e6, ".2f"),
)


def ring_table(runs: Sequence[RingRun]) -> str:
    """Every behaviour side by side, with the load they shared."""
    rows = [
        [LABELS[run.variant], *(format(c.value(run), c.fmt) for c in RING_COLUMNS)]
        for run in sorted(runs, key=lambda run: list(LABELS).index(run.variant))
    ]
    new = _variant(runs, "new")
    load = (
        f"\nring {new.capacity:,}; {new.releases} releases, {new.changes} status changes; "
        f"{new.foreign:,} other regions' envelopes into each flow in {new.seconds:.0f} s; "
        f"each flow's sequence at the end: "
        + ", ".join(f"{run.flow_sequence:,} ({run.variant})" for run in runs)
    )
    return table(["behaviour", *(c.header for c in RING_COLUMNS)], rows) + load


def _hourly_download(run: RegionsRun) -> float:
    """MB an adapter downloads from the flow server per hour, snapshots and stream (mean)."""
    return run.hourly(lambda a: a.snapshot_bytes + a.stream_bytes) / MB


def regions_checks(runs: Sequence[RegionsRun], quick: bool) -> list[Check]:
    """Counts in quick mode (nothing missing, every write carried); issue 24's targets otherwise."""
    missing = sum(a.node_seconds + a.edge_seconds for run in runs for a in run.adapters)
    never = sum(a.never_carried for run in runs for a in run.adapters)
    silent = sum(1 for run in runs for a in run.adapters if a.envelopes == 0)
    found = [
        _check(
            "regions: node- and edge-seconds missing, every N", "0", missing, ".1f", not missing
        ),
        _check("regions: status writes never carried", "0", never, "d", never == 0),
        _check("regions: adapters that posted nothing in the window", "0", silent, "d", not silent),
    ]
    if quick or len(runs) < 2:
        return found
    low, high = min(runs, key=lambda r: r.regions), max(runs, key=lambda r: r.regions)
    at = f"N = {high.regions}"
    download = _hourly_download(high)
    found.append(
        _check(
            f"regions: MB an adapter downloads per hour, {at}",
            f"<= {REGIONS_DOWNLOAD_MB:g}",
            download,
            ".1f",
            download <= REGIONS_DOWNLOAD_MB,
        )
    )
    grown = high.mean(lambda a: a.peak_rss_mb) - low.mean(lambda a: a.peak_rss_mb)
    found.append(
        _check(
            f"regions: peak RSS MB, {at} minus N = {low.regions}",
            f"<= {REGIONS_RSS_MB:g}",
            grown,
            ".1f",
            grown <= REGIONS_RSS_MB,
        )
    )
    for name, value in (
        ("snapshot GETs", lambda a: a.snapshot_gets),
        ("snapshot bytes", lambda a: a.snapshot_bytes),
        ("envelopes", lambda a: a.envelopes),
        ("CPU s", lambda a: a.cpu_s),
    ):
        theirs, ours = high.hourly(value), low.hourly(value)
        ratio = theirs / ours if ours else (1.0 if not theirs else math.inf)
        found.append(
            _check(
                f"regions: {name} per adapter per hour, {at} / N = {low.regions}",
                f"<= {REGIONS_FACTOR:g}",
                ratio,
                ".2f",
                ratio <= REGIONS_FACTOR,
            )
        )
    return found


REGIONS_COLUMNS = (
    Column(
        "snapshot GETs per adapter per hour", lambda r: r.hourly(lambda a: a.snapshot_gets), ".0f"
    ),
    Column(
        "snapshot MB per adapter per hour",
        lambda r: r.hourly(lambda a: a.snapshot_bytes) / MB,
        ",.1f",
    ),
    Column(
        "stream MB per adapter per hour", lambda r: r.hourly(lambda a: a.stream_bytes) / MB, ",.1f"
    ),
    Column(
        "adapter peak RSS MB (highest)", lambda r: max(a.peak_rss_mb for a in r.adapters), ".1f"
    ),
    Column(
        "all adapters' snapshot MB per hour",
        lambda r: r.per_hour(sum(a.snapshot_bytes for a in r.adapters)) / MB,
        ",.0f",
    ),
    Column("node-seconds missing", lambda r: sum(a.node_seconds for a in r.adapters), ",.1f"),
    Column("envelopes per adapter per hour", lambda r: r.hourly(lambda a: a.envelopes), ",.0f"),
    Column("CPU s per adapter per hour", lambda r: r.hourly(lambda a: a.cpu_s), ",.1f"),
)


def regions_table(runs: Sequence[RegionsRun]) -> str:
    """Issue 24's table: one row per N, per-adapter figures as means over its adapters."""
    rows = [
        [str(run.regions), *(format(c.value(run), c.fmt) for c in REGIONS_COLUMNS)] for run in runs
    ]
    return table(["regions N", *(c.header for c in REGIONS_COLUMNS)], rows)


def regions_keeping_up_table(runs: Sequence[RegionsRun]) -> str:
    """Whether the machine kept up: delivery times, lost stream events, how busy the cores were."""
    rows = [
        [
            str(run.regions),
            f"{run.sync_s:.0f}",
            *run.from_write_ms.row(),
            f"{sum(a.never_carried for a in run.adapters):d}",
            f"{sum(a.stream_dropped for a in run.adapters):,}",
            f"{sum(a.streams for a in run.adapters):d}",
            f"{sum(a.edge_seconds for a in run.adapters):,.1f}",
            f"{run.machine_busy * 100:.0f}",
            f"{sum(a.cpu_s for a in run.adapters) / run.seconds * 100:.1f}",
            f"{run.per_hour(run.stand_in_cpu_s):,.0f}",
            f"{run.load[0]:.1f} → {run.load[1]:.1f}",
            f"{run.flow_sequence:,}",
            f"{run.snapshot_size / 1e3:,.0f}",
        ]
        for run in runs
    ]
    headers = [
        "regions N",
        "sync s",
        "write→POST p50 ms",
        "p95",
        "p99",
        "max",
        "never carried",
        "stream events lost",
        "streams opened",
        "edge-seconds missing",
        "machine busy %",
        "adapters' CPU, % of a core",
        "stand-in CPU s per hour",
        "load avg",
        "flow sequence",
        "snapshot KB",
    ]
    return table(headers, rows)


def regions_projection(
    runs: Sequence[RegionsRun], load: RegionsLoad
) -> tuple[dict[str, float], str]:
    """Issue 24's projection from the largest N's figures: the values, and the arithmetic as text.

    Snapshot bytes scale with regions x releases; snapshot GETs per adapter
    per hour are the measured rate; the stream carries every region's
    changes, so its bytes per region scale with the number of regions. Ring
    refreshes (each region re-sends its graph every 3/4 of the ring's turns)
    are computed, not measured: no run here turns the ring of 4,096 over.
    """
    run = max(runs, key=lambda r: r.regions)
    regions, releases = load.project_regions, load.project_releases
    per_release = run.snapshot_size / (run.regions * run.releases)
    size = per_release * regions * releases
    gets = run.hourly(lambda a: a.snapshot_gets)
    snapshots = gets * size
    stream_region = run.hourly(lambda a: a.stream_bytes) / run.regions
    stream = stream_region * regions
    envelopes_region = run.hourly(lambda a: a.envelopes)
    turnover = regions * envelopes_region / (0.75 * load.capacity)
    refresh = turnover * size
    download = snapshots + stream
    egress = regions * download
    values = {
        "regions": float(regions),
        "releases": float(releases),
        "from_n": float(run.regions),
        "snapshot_bytes_per_release": per_release,
        "snapshot_mb": size / MB,
        "snapshot_gets_per_adapter_per_hour": gets,
        "snapshot_mb_per_adapter_per_hour": snapshots / MB,
        "stream_mb_per_adapter_per_hour": stream / MB,
        "download_mb_per_adapter_per_hour": download / MB,
        "egress_gb_per_hour": egress / 1e9,
        "ring_refreshes_per_hour": turnover,
        "refresh_stream_mb_per_adapter_per_hour": refresh / MB,
    }
    n, r = run.regions, run.releases
    text = "\n".join(
        [
            f"projection to {regions} regions of {releases} releases, from N = {n}:",
            f"- snapshot: {run.snapshot_size:,} B for {n} x {r} releases = "
            f"{per_release:,.0f} B a release; x {regions} x {releases} = {size / MB:,.1f} MB",
            f"- each adapter's snapshot download: {gets:.0f} GETs an hour x {size / MB:,.1f} MB"
            f" = {snapshots / MB:,.0f} MB an hour",
            f"- its stream: {run.hourly(lambda a: a.stream_bytes) / MB:,.2f} MB an hour at N = {n}"
            f", ÷ {n} = {stream_region / MB:,.3f} MB per region; x {regions} = "
            f"{stream / MB:,.1f} MB an hour",
            f"- each adapter downloads {snapshots / MB:,.0f} + {stream / MB:,.1f} = "
            f"{download / MB:,.0f} MB an hour; the server's egress: {regions} x "
            f"{download / MB:,.0f} MB = {egress / 1e9:,.1f} GB an hour",
            f"- not in these runs, computed: {regions} regions x {envelopes_region:,.0f} envelopes"
            f" an hour turn the ring of {load.capacity:,} over, and each region re-sends its"
            f" graph every 3/4 turn: {turnover:.1f} times an hour x {size / MB:,.1f} MB ="
            f" {refresh / MB:,.0f} MB more an hour on every adapter's stream",
        ]
    )
    return values, text


def regions_json(run: RegionsRun) -> dict[str, Any]:
    """A run's figures, with the table's per-hour values beside the raw counts."""
    out = dataclasses.asdict(run)
    out["per_hour"] = {c.header: c.value(run) for c in REGIONS_COLUMNS}
    out["download_mb_per_adapter_per_hour"] = _hourly_download(run)
    return out


def checks_table(found: Sequence[Check]) -> str:
    rows = [[c.name, c.target, c.measured, "met" if c.met else "MISSED"] for c in found]
    return table(["target", "wanted", "measured", ""], rows)


def _command(args: Sequence[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    except OSError as err:
        return f"unavailable ({err})"
    return (
        (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else ""
    )


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def _memory_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024 / 1e9
    return math.nan


def machine(cluster: LocalCluster) -> dict[str, Any]:
    """Where and with what the figures were measured."""
    repo = Path(__file__).resolve().parent.parent
    revision = _command(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    dirty = _command(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"])
    version = KubeClient.for_cluster(cluster).request("GET", "/version")
    suffix = " with uncommitted changes" if dirty else ""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)),
        "memory_gb": round(_memory_gb(), 1),
        "cpu": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "kube_apiserver": version.get("gitVersion", "?"),
        "etcd": _command([str(ensure_peer("etcd").binary), "--version"]),
        "adapter": f"flux-adapter {flux_adapter.__version__} ({revision}{suffix})",
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }


def to_json(
    results: Results, found: Sequence[Check], settings: Settings, info: dict[str, Any]
) -> dict[str, Any]:
    def plain(run: Any) -> dict[str, Any]:
        out = dataclasses.asdict(run)
        for name in ("posts_per_change", "bytes_per_change", "cpu_per_1000_events"):
            if hasattr(run, name):
                out[name] = getattr(run, name)
        return out

    return {
        "machine": info,
        "settings": dataclasses.asdict(settings),
        "initial_sync": [plain(run) for run in results.sync],
        "churn": [plain(run) for run in results.churn],
        "noop_churn": [plain(run) for run in results.noop],
        "memory": [plain(run) for run in results.memory],
        "ring": [plain(run) for run in results.ring],
        "regions": [regions_json(run) for run in results.regions],
        "regions_projection": (
            regions_projection(results.regions, settings.regions)[0] if results.regions else None
        ),
        "checks": [dataclasses.asdict(check) for check in found],
    }
