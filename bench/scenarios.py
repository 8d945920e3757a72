"""The four workloads, each run through the adapter and then through the baseline.

Both posters get a fresh process, a flow id of their own on the same
recorder, the same namespace of releases and the same seeded plan of
writes, one after the other on the same machine, so every figure has a
like-for-like partner and the ratio between them means something.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bench.cluster import Bench
from bench.kube import Write
from bench.procs import Adapter, Baseline, Child, Usage, usage
from bench.regions import QUICK_REGIONS, RegionsLoad
from bench.ring import QUICK_RING, RingLoad
from bench.stats import (
    Spread,
    counter_delta,
    histogram_delta,
    histogram_quantile,
    spread,
    write_latencies,
)
from bench.workload import REGION, Change, Plans, relationship_count

Poster = Literal["adapter", "baseline"]
POSTERS: tuple[Poster, ...] = ("adapter", "baseline")
LATENCY = "flux_adapter_change_to_ack_seconds"
STALLED = 30.0
EVENTS = "flux_adapter_watch_events_total{resource=HelmRelease,type=MODIFIED}"


@dataclass(frozen=True)
class Settings:
    """How big each workload is; `--quick` shrinks them for CI."""

    sync_sizes: tuple[int, ...] = (500, 2000, 5000)
    churn_releases: int = 2000
    rate: float = 200.0
    churn_seconds: float = 60.0
    noop_seconds: float = 60.0
    memory_sizes: tuple[int, ...] = (0, 2000, 10000)
    emit_interval: float = 0.2
    sync_deadline: float = 600.0
    ring: RingLoad = field(default_factory=RingLoad)
    regions: RegionsLoad = field(default_factory=RegionsLoad)


QUICK = Settings(
    sync_sizes=(2000,),
    churn_seconds=5.0,
    noop_seconds=3.0,
    memory_sizes=(2000,),
    sync_deadline=120.0,
    ring=QUICK_RING,
    regions=QUICK_REGIONS,
)


@dataclass(frozen=True)
class SyncRun:
    poster: Poster
    releases: int
    posts: int
    bytes: int
    from_start_s: float
    from_list_s: float
    cpu_s: float
    rss_mb: float


@dataclass(frozen=True)
class _Load:
    """What a poster spent on a stream of watch events."""

    events: int
    cpu_s: float

    @property
    def cpu_per_1000_events(self) -> float:
        return self.cpu_s / self.events * 1000 if self.events else 0.0


@dataclass(frozen=True)
class ChurnRun(_Load):
    poster: Poster
    releases: int
    changes: int
    failed_writes: int
    write_seconds: float
    posts: int
    bytes: int
    from_write_ms: Spread
    write_round_trip_ms: Spread
    never_carried: int
    from_arrival_ms: Spread
    arrival_exact: bool
    machine_cpu_s: dict[str, float]

    @property
    def posts_per_change(self) -> float:
        return self.posts / self.changes if self.changes else 0.0

    @property
    def bytes_per_change(self) -> float:
        return self.bytes / self.changes if self.changes else 0.0


@dataclass(frozen=True)
class NoopRun(_Load):
    poster: Poster
    releases: int
    updates: int
    failed_writes: int
    posts: int
    bytes: int


@dataclass(frozen=True)
class MemoryRun:
    poster: Poster
    releases: int
    rss_mb: float
    peak_mb: float


class Harness:
    def __init__(self, bench: Bench, settings: Settings, logs: Path) -> None:
        self.bench = bench
        self.settings = settings
        self.logs = logs
        self.plans = Plans(settings.churn_releases)

    def _spawn(self, poster: Poster, flow_id: str, namespace: str) -> Child:
        if poster == "adapter":
            return Adapter(
                self.bench,
                flow_id=flow_id,
                namespace=namespace,
                emit_interval=self.settings.emit_interval,
                logs=self.logs,
            )
        return Baseline(self.bench, flow_id=flow_id, namespace=namespace, logs=self.logs)

    async def _synced(self, poster: Poster, flow_id: str, releases: int) -> Child:
        namespace = await self.bench.populated(releases)
        child = self._spawn(poster, flow_id, namespace)
        try:
            region = 1 if poster == "adapter" else 0
            await self.bench.holds(
                flow_id,
                nodes=releases + region,
                rels=relationship_count(releases),
                deadline=self.settings.sync_deadline,
                alive=child.check,
            )
            while isinstance(child, Baseline) and not child.said("synced"):
                child.check()
                await asyncio.sleep(0.05)
            # Whatever is still on its way (a last envelope, the answer) lands now.
            await self._quiet(flow_id, child)
        except BaseException:
            child.stop()
            raise
        return child

    async def _quiet(self, flow_id: str, child: Child, period: float = 1.0) -> int:
        """Wait until `flow_id` has had no POST for `period` seconds; answer the POST count.

        A poster that never falls quiet (one resending in a loop) fails the
        run after the sync deadline rather than hanging it.
        """
        give_up = time.monotonic() + self.settings.sync_deadline
        last = -1
        while True:
            child.check()
            count = (await self.bench.summary(flow_id))["posts"]
            if count == last:
                return count
            if time.monotonic() > give_up:
                raise TimeoutError(
                    f"{flow_id}: still posting after {self.settings.sync_deadline} s"
                )
            last = count
            await asyncio.sleep(period)

    async def _carried(self, flow_id: str, child: Child, writes: list[Write], mark: int) -> None:
        """Wait until every write has reached the recorder, or until none has for 30 s.

        A poster with a backlog (the baseline) keeps draining it after the
        load stops, so there is no fixed deadline; one that stopped making
        progress is reported with the writes it never carried.
        """
        last, progressed = -1, time.monotonic()
        while True:
            child.check()
            posts = await self.bench.posts(flow_id, since=mark)
            _, missing = write_latencies(writes, posts, REGION)
            if missing == 0:
                return
            if missing != last:
                last, progressed = missing, time.monotonic()
            elif time.monotonic() - progressed > STALLED:
                return
            await asyncio.sleep(0.5)

    async def _drive(
        self, flow_id: str, child: Child, changes: list[Change]
    ) -> tuple[_Window, list[Write]]:
        """Open the measuring window, then send `changes` at the configured rate."""
        window = await _Window.open(self.bench, flow_id, child)
        namespace = await self.bench.populated(self.settings.churn_releases)
        async with self.bench.kube() as kube:
            writes = await kube.paced(namespace, changes, self.settings.rate)
        return window, writes

    async def sync(self, poster: Poster, releases: int) -> SyncRun:
        flow_id = f"{poster}-sync-{releases}"
        child = await self._synced(poster, flow_id, releases)
        try:
            use = child.usage()
            posts = await self.bench.posts(flow_id)
            done = max(float(post["answered"]) for post in posts)
            listed = _listed(child)
        finally:
            child.stop()
        return SyncRun(
            poster=poster,
            releases=releases,
            posts=len(posts),
            bytes=sum(int(post["bytes"]) for post in posts),
            from_start_s=done - child.started,
            from_list_s=done - listed,
            cpu_s=use.cpu,
            rss_mb=use.rss_mb,
        )

    async def churn(self, poster: Poster) -> ChurnRun:
        releases = self.settings.churn_releases
        flow_id = f"{poster}-churn"
        child = await self._synced(poster, flow_id, releases)
        try:
            count = int(self.settings.rate * self.settings.churn_seconds)
            window, writes = await self._drive(flow_id, child, self.plans.status_changes(count))
            ok = [write for write in writes if write.ok]
            await self._carried(flow_id, child, ok, window.mark)
            await self._quiet(flow_id, child)
            closed = await window.close()
            posts = await self.bench.posts(flow_id, since=window.mark)
        finally:
            child.stop()
        latencies, missing = write_latencies(ok, posts, REGION)
        arrival, exact, events = closed.arrival(len(ok))
        return ChurnRun(
            poster=poster,
            releases=releases,
            changes=len(ok),
            failed_writes=len(writes) - len(ok),
            write_seconds=max(w.sent for w in writes) - min(w.sent for w in writes),
            posts=len(posts),
            bytes=sum(int(post["bytes"]) for post in posts),
            from_write_ms=spread(latencies),
            write_round_trip_ms=spread([write.done - write.sent for write in ok]),
            never_carried=missing,
            from_arrival_ms=arrival,
            arrival_exact=exact,
            events=events,
            cpu_s=closed.cpu,
            machine_cpu_s=closed.machine(),
        )

    async def noop(self, poster: Poster) -> NoopRun:
        releases = self.settings.churn_releases
        flow_id = f"{poster}-noop"
        child = await self._synced(poster, flow_id, releases)
        try:
            count = int(self.settings.rate * self.settings.noop_seconds)
            window, writes = await self._drive(flow_id, child, self.plans.no_ops(count))
            # Give a poster that would send something every chance to: two
            # debounce windows and then some.
            await asyncio.sleep(max(2.0, 10 * self.settings.emit_interval))
            await self._quiet(flow_id, child)
            closed = await window.close()
            posts = await self.bench.posts(flow_id, since=window.mark)
        finally:
            child.stop()
        ok = sum(1 for write in writes if write.ok)
        _, _, events = closed.arrival(ok)
        return NoopRun(
            poster=poster,
            releases=releases,
            updates=ok,
            failed_writes=len(writes) - ok,
            posts=len(posts),
            bytes=sum(int(post["bytes"]) for post in posts),
            events=events,
            cpu_s=closed.cpu,
        )

    async def memory(self, poster: Poster, releases: int) -> MemoryRun:
        flow_id = f"{poster}-memory-{releases}"
        child = await self._synced(poster, flow_id, releases)
        try:
            await asyncio.sleep(2.0)
            use = child.usage()
        finally:
            child.stop()
        return MemoryRun(poster=poster, releases=releases, rss_mb=use.rss_mb, peak_mb=use.peak_mb)


def _neighbour_cpu(bench: Bench) -> dict[str, float]:
    return {role: usage(pid).cpu for role, pid in bench.neighbours().items()}


def _listed(child: Child) -> float:
    if isinstance(child, Adapter):
        listed = child.listed_at()
        if listed is None:
            raise RuntimeError("the adapter never logged its initial lists")
        return listed
    if isinstance(child, Baseline):
        return float(child.said("listed")[0]["at"])
    raise TypeError(f"not a poster: {child!r}")


@dataclass
class _Window:
    """A poster's counters at the start of a load, to be differenced at its end."""

    bench: Bench
    flow_id: str
    child: Child
    mark: int
    started: float
    before: Usage
    metrics: dict[str, float]
    neighbours: dict[str, float]
    cpu: float = 0.0
    after_metrics: dict[str, float] | None = None
    seconds: float = 0.0

    @classmethod
    async def open(cls, bench: Bench, flow_id: str, child: Child) -> _Window:
        mark = (await bench.summary(flow_id))["posts"]
        metrics = child.metrics() if isinstance(child, Adapter) else {}
        return cls(
            bench,
            flow_id,
            child,
            mark,
            time.monotonic(),
            child.usage(),
            metrics,
            _neighbour_cpu(bench),
        )

    async def close(self) -> _Window:
        self.cpu = self.child.usage().cpu - self.before.cpu
        self.seconds = time.monotonic() - self.started
        after = _neighbour_cpu(self.bench)
        self.neighbours = {role: after[role] - cpu for role, cpu in self.neighbours.items()}
        if isinstance(self.child, Adapter):
            self.after_metrics = self.child.metrics()
        return self

    def machine(self) -> dict[str, float]:
        """CPU seconds each process on the machine spent in the window, and the window's length."""
        poster = self.child.name.split("-")[0]
        return {
            f"{poster} (under test)": self.cpu,
            **self.neighbours,
            "window (wall s)": self.seconds,
        }

    def arrival(self, writes: int) -> tuple[Spread, bool, int]:
        """Latency from each event's arrival at the poster, whether it is exact, and the events.

        The adapter's figure comes from its change-to-ack histogram, so it is
        interpolated within buckets; the baseline logs every event.
        """
        if isinstance(self.child, Adapter) and self.after_metrics is not None:
            buckets = histogram_delta(self.metrics, self.after_metrics, LATENCY)
            events = int(counter_delta(self.metrics, self.after_metrics, EVENTS))

            def q(level: float) -> float:
                return histogram_quantile(buckets, level) * 1000

            total = buckets.get(float("inf"), 0.0)
            finite = [bound for bound, count in buckets.items() if count >= total]
            top = min(finite) * 1000 if total else float("nan")
            return Spread(int(total), q(0.5), q(0.95), q(0.99), top), False, events
        if isinstance(self.child, Baseline):
            acked = [
                record
                for record in self.child.said("acked")
                if float(record["received"]) >= self.started
            ]
            seconds = [float(r["acked"]) - float(r["received"]) for r in acked]
            return spread(seconds), True, len(acked)
        return spread([]), True, writes
