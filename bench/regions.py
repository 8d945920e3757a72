"""The regions scenario: N adapters, a region each, post into one flow; what does each pay to read?

Issue 24's benchmark. For each N in `RegionsLoad.counts`, a fresh flow-server
stand-in (`bench.ring_server`, the default ring of 4,096, the stream) and N
real adapter processes (`python -m flux_adapter`), each with a namespace of
its own on the one real kube-apiserver (`NAMESPACE_FILTER`), a region of its
own (`REGION_KEY`), no leader election, and the one `FLOW_ID`. Each adapter
is given the stand-in's URL under a path prefix naming its region, so the
stand-in counts every request, answer byte and stream byte per adapter.

Once every region is whole in the flow, the window opens: each region gets
one status change every `change_every` seconds (a real PATCH of the
HelmRelease status, the regions staggered evenly over the period) for
`seconds`. Over the window, per adapter: envelopes posted and their bytes,
snapshot GETs and their bytes, stream connections, bytes and events lost
for reading too slowly, CPU seconds (`/proc/PID/stat`), and each write's
time to the POST that carried it; for the whole run: peak RSS (`VmHWM`) and
the node- and edge-seconds its region was missing from the snapshot (the
stand-in's exact accounting, `bench.holes`, per region).
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.cluster import Bench
from bench.kube import Write
from bench.procs import Adapter, usage
from bench.ring import stand_in
from bench.stats import Spread, spread, write_latencies
from bench.workload import Plans, relationship_count

FLOW = "regions"
"""The one flow every adapter posts into."""
HOUR = 3600.0
MB = 1e6


@dataclass(frozen=True)
class RegionsLoad:
    """How the regions scenario is sized; `--quick` shrinks it for CI."""

    counts: tuple[int, ...] = (2, 5, 10, 20)
    """The numbers of regions (adapters) run one after the other."""
    releases: int = 200
    """Releases per region."""
    change_every: float = 5.0
    """Seconds between two status changes of one region."""
    seconds: float = 180.0
    """The measured window of each run (s), after every region is whole in the flow."""
    capacity: int = 4096
    """The stand-in's ring, and the adapters' `FLOW_SERVER_RING_CAPACITY`."""
    sync_deadline: float = 600.0
    """Seconds every region may take to appear whole before the run is abandoned."""
    project_regions: int = 50
    project_releases: int = 500


QUICK_REGIONS = RegionsLoad(counts=(2,), releases=50, change_every=2.0, seconds=30.0)


def region_name(index: int) -> str:
    return f"region-{index:02d}"


@dataclass(frozen=True)
class AdapterFigures:
    """One adapter in one run: window counts, whole-run peak memory and holes."""

    region: str
    changes: int
    """Status writes to its namespace the API server applied in the window."""
    never_carried: int
    """Of those, writes no POST of this adapter ever carried."""
    from_write_ms: Spread
    """From each write to the POST that carried it (ms)."""
    envelopes: int
    posted_bytes: int
    snapshot_gets: int
    snapshot_bytes: int
    streams: int
    """Stream connections opened in the window."""
    stream_bytes: int
    stream_dropped: int
    """Stream events lost in the window because it read more than 16 behind."""
    cpu_s: float
    """CPU seconds in the window (user + system)."""
    peak_rss_mb: float
    """VmHWM at the end of the run (MB, 10^6 bytes): the peak since it started."""
    node_seconds: float
    edge_seconds: float
    longest_hole: float


@dataclass(frozen=True)
class RegionsRun:
    """One N: its adapters' figures and what the machine and stand-in did meanwhile."""

    regions: int
    releases: int
    seconds: float
    """The window's length (s)."""
    sync_s: float
    """From starting the adapters to every region whole in the flow (s)."""
    flow_sequence: int
    snapshot_size: int
    """Bytes of the snapshot at the window's end: every region, whole."""
    stand_in_cpu_s: float
    machine_busy: float
    """Fraction of all cores busy in the window (`/proc/stat`, everyone's work included)."""
    load: tuple[float, float]
    """1-minute load average at the window's start and end."""
    from_write_ms: Spread
    """Every adapter's writes together: from the write to the POST that carried it (ms)."""
    adapters: list[AdapterFigures] = field(default_factory=list)

    def per_hour(self, value: float) -> float:
        return value * HOUR / self.seconds if self.seconds else math.nan

    def mean(self, value: Callable[[AdapterFigures], float]) -> float:
        """The mean over the adapters of `value(adapter)`."""
        values = [value(a) for a in self.adapters]
        return sum(values) / len(values) if values else math.nan

    def hourly(self, value: Callable[[AdapterFigures], float]) -> float:
        """The mean per adapter of `value(adapter)`, per hour of the window."""
        return self.per_hour(self.mean(value))


def _cpu_times() -> tuple[float, float]:
    """The machine's busy and total jiffies so far (`/proc/stat`, all cores)."""
    with open("/proc/stat") as stat:
        fields = [float(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


async def _figures(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(f"{url}/_bench/regions/{FLOW}") as answer:
        answer.raise_for_status()
        found: dict[str, Any] = await answer.json()
        return found


async def _posts(session: aiohttp.ClientSession, url: str, region: str) -> list[dict[str, Any]]:
    async with session.get(f"{url}/_bench/regions/{FLOW}/posts", params={"client": region}) as a:
        a.raise_for_status()
        found: list[dict[str, Any]] = (await a.json())["posts"]
        return found


async def _synced(
    session: aiohttp.ClientSession,
    url: str,
    regions: Sequence[str],
    load: RegionsLoad,
    adapters: Sequence[Adapter],
) -> None:
    """Wait until the flow shows every region whole, or raise after `load.sync_deadline`."""
    give_up = time.monotonic() + load.sync_deadline
    nodes, rels = load.releases + 1, relationship_count(load.releases)
    while True:
        for adapter in adapters:
            adapter.check()
        shown = (await _figures(session, url))["regions"]
        behind = {
            region: (shown[region]["shown_nodes"], shown[region]["shown_rels"])
            for region in regions
            if (shown[region]["shown_nodes"], shown[region]["shown_rels"]) != (nodes, rels)
        }
        if not behind:
            return
        if time.monotonic() > give_up:
            raise TimeoutError(f"want {nodes} nodes and {rels} edges per region; have {behind}")
        await asyncio.sleep(0.5)


class Regions:
    """The scenario's state across its runs: namespaces made once, plans that carry on."""

    def __init__(self, bench: Bench, load: RegionsLoad, emit_interval: float, logs: Path) -> None:
        self.bench = bench
        self.load = load
        self.emit_interval = emit_interval
        self.logs = logs
        # One plan per region for the whole scenario, so sequence numbers only
        # grow and a write's number is never one a previous run already showed.
        self.plans: dict[str, Plans] = {}

    async def namespaces(self, count: int) -> list[str]:
        """The first `count` regions' namespaces, populated (made once)."""
        return list(
            await asyncio.gather(
                *(
                    self.bench.populated(self.load.releases, namespace=f"regions-{i:02d}")
                    for i in range(count)
                )
            )
        )

    async def _writes(self, regions: Sequence[str], namespaces: Sequence[str]) -> list[list[Write]]:
        """Each region's status changes over the window, staggered evenly over one period."""
        load = self.load
        count = int(load.seconds / load.change_every)

        async def one(index: int, region: str, namespace: str) -> list[Write]:
            plans = self.plans.setdefault(region, Plans(load.releases, seed=24 + index))
            changes = plans.status_changes(count)
            await asyncio.sleep(index * load.change_every / len(regions))
            async with self.bench.kube() as kube:
                return await kube.paced(namespace, changes, 1.0 / load.change_every)

        return list(
            await asyncio.gather(
                *(one(i, r, ns) for i, (r, ns) in enumerate(zip(regions, namespaces, strict=True)))
            )
        )

    async def run(self, count: int) -> RegionsRun:
        """N = `count`: start the stand-in and the adapters, sync, measure the window, stop."""
        load = self.load
        namespaces = await self.namespaces(count)
        regions = [region_name(i) for i in range(count)]
        async with (
            stand_in(load.capacity, self.logs, [], regions, f"ring-server-n{count}") as server,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session,
        ):
            adapters: list[Adapter] = []
            try:
                started = time.monotonic()
                for region, namespace in zip(regions, namespaces, strict=True):
                    adapters.append(
                        Adapter(
                            self.bench,
                            flow_id=FLOW,
                            namespace=namespace,
                            emit_interval=self.emit_interval,
                            logs=self.logs,
                            flow_server=f"{server.url}/c/{region}",
                            settings={"FLOW_SERVER_RING_CAPACITY": str(load.capacity)},
                            region=region,
                            name=f"adapter-n{count}-{region}",
                        )
                    )
                await _synced(session, server.url, regions, load, adapters)
                return await self._window(
                    session,
                    server.url,
                    server.pid,
                    regions,
                    namespaces,
                    adapters,
                    time.monotonic() - started,
                )
            finally:
                for adapter in adapters:
                    adapter.stop()

    async def _window(
        self,
        session: aiohttp.ClientSession,
        url: str,
        server_pid: int,
        regions: Sequence[str],
        namespaces: Sequence[str],
        adapters: Sequence[Adapter],
        sync_s: float,
    ) -> RegionsRun:
        before = await _figures(session, url)
        cpu_before = [adapter.usage().cpu for adapter in adapters]
        server_before = usage(server_pid).cpu
        busy_before, total_before = _cpu_times()
        load_before = os.getloadavg()[0]
        opened = time.monotonic()
        writes = await self._writes(regions, namespaces)
        await asyncio.sleep(max(0.0, opened + self.load.seconds - time.monotonic()))
        # The last change's envelope lands; then everything is read at one moment.
        await asyncio.sleep(max(1.0, 5 * self.emit_interval))
        after = await _figures(session, url)
        seconds = time.monotonic() - opened
        used = [adapter.usage() for adapter in adapters]
        server_cpu = usage(server_pid).cpu - server_before
        busy_after, total_after = _cpu_times()
        figures = []
        every: list[float] = []
        for index, region in enumerate(regions):
            posts = await _posts(session, url, region)
            latencies, never = write_latencies(writes[index], posts, region)
            every += latencies
            start = before["clients"].get(region, {})
            end = after["clients"][region]
            holes = after["regions"][region]

            def grew(key: str, start: dict[str, int] = start, end: dict[str, int] = end) -> int:
                return end[key] - start.get(key, 0)

            figures.append(
                AdapterFigures(
                    region=region,
                    changes=sum(1 for write in writes[index] if write.ok),
                    never_carried=never,
                    from_write_ms=spread(latencies),
                    envelopes=grew("posts"),
                    posted_bytes=grew("post_bytes"),
                    snapshot_gets=grew("snapshot_gets"),
                    snapshot_bytes=grew("snapshot_bytes"),
                    streams=grew("streams"),
                    stream_bytes=grew("stream_bytes"),
                    stream_dropped=grew("stream_dropped"),
                    cpu_s=used[index].cpu - cpu_before[index],
                    peak_rss_mb=used[index].peak_mb,
                    node_seconds=float(holes["node_seconds"]),
                    edge_seconds=float(holes["edge_seconds"]),
                    longest_hole=float(holes["longest"]),
                )
            )
        return RegionsRun(
            regions=len(regions),
            releases=self.load.releases,
            seconds=seconds,
            sync_s=sync_s,
            flow_sequence=int(after["flow_sequence"]),
            snapshot_size=int(after["snapshot_size"]),
            stand_in_cpu_s=server_cpu,
            machine_busy=(busy_after - busy_before) / max(1.0, total_after - total_before),
            load=(load_before, os.getloadavg()[0]),
            from_write_ms=spread(every),
            adapters=figures,
        )


async def regions_runs(
    bench: Bench,
    load: RegionsLoad,
    emit_interval: float,
    logs: Path,
    each: Callable[[RegionsRun], None] = lambda run: None,
) -> list[RegionsRun]:
    """Run every N in `load.counts`, one after the other; `each` hears each run as it ends."""
    scenario = Regions(bench, load, emit_interval, logs)
    runs = []
    for count in load.counts:
        runs.append(await scenario.run(count))
        each(runs[-1])
    return runs
