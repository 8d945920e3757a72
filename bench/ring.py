"""The ring scenario: other regions turn the flow server's ring over; does the canvas keep ours?

Issue 18's reference run, side by side. One namespace of releases on the
real kube-apiserver, watched by two adapter processes at once, each posting
into a flow of its own on the same stand-in (`bench.ring_server`, a ring of
`ring_capacity` envelopes, with the sequence numbers and the stream
`docs/contract.md` describes):

- *previous*: the behaviour before issue 18 (loss is found and repaired by
  the snapshot check alone), at the default `RESYNC_INTERVAL` of 60 s and
  at 10 s, as the issue's table has it. The adapter has no switch for it:
  the stand-in answers these flows without sequence numbers or stream, so
  the adapter cannot tell when the ring turns over;
- *new*: the defaults (numbers kept per key, re-upserts ahead of eviction,
  the stream followed).

All get the same load at the same moments: one release's status flips
every `ring_change_every` seconds (a real PATCH; both adapters see it), and
other regions post one node per envelope into both flows, some at a steady
rate and some in bursts sent back to back. The stand-in computes each
flow's missing node- and edge-seconds at every envelope it accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp

from bench.cluster import Bench
from bench.procs import REPO_ROOT, Adapter
from bench.workload import REGION, Change, Plans, relationship_count

Variant = Literal["previous", "previous-10s", "new"]
VARIANTS: dict[Variant, dict[str, str]] = {
    "previous": {"FLOW_SERVER_STREAM": "false"},
    "previous-10s": {"FLOW_SERVER_STREAM": "false", "RESYNC_INTERVAL": "10s"},
    "new": {},
}
UNNUMBERED: tuple[Variant, ...] = ("previous", "previous-10s")
"""The variants whose flows the stand-in answers without numbers."""
LABELS: dict[Variant, str] = {
    "previous": "previous (no sequence numbers)",
    "previous-10s": "previous, RESYNC_INTERVAL=10s",
    "new": "new (defaults)",
}


@dataclass(frozen=True)
class RingLoad:
    """How the ring scenario is sized; `--quick` shrinks it for CI."""

    capacity: int = 1024
    releases: int = 200
    change_every: float = 5.0
    seconds: float = 300.0
    steady_regions: int = 6
    """Regions posting one envelope a second each."""
    burst_regions: int = 4
    burst_size: int = 50
    burst_every: float = 50.0
    """Each bursting region sends `burst_size` envelopes back to back this often (s)."""
    resync: str = "60s"
    told: int | None = None
    """The ring the adapters are told (`FLOW_SERVER_RING_CAPACITY`); `None`: the real one."""

    @property
    def foreign_rate(self) -> float:
        """Other regions' envelopes per second, on average."""
        return self.steady_regions + self.burst_regions * self.burst_size / self.burst_every


QUICK_RING = RingLoad(
    capacity=256,
    releases=50,
    change_every=2.0,
    seconds=60.0,
    burst_size=40,
    burst_every=40.0,
)


@dataclass(frozen=True)
class RingRun:
    """One variant's figures, as the stand-in counted them."""

    variant: Variant
    capacity: int
    releases: int
    seconds: float
    changes: int
    foreign: int
    flow_sequence: int
    node_seconds: float
    edge_seconds: float
    longest_hole: float
    holes: int
    envelopes: int
    bytes: int
    snapshot_gets: int
    snapshot_bytes: int
    stream_connections: int
    stream_bytes: int


class StandIn:
    """`bench.ring_server` as a child process, watching `regions` (by default the bench's own)."""

    def __init__(
        self,
        capacity: int,
        logs: Path,
        unnumbered: list[str],
        regions: Sequence[str] = (REGION,),
        name: str = "ring-server",
    ) -> None:
        self.capacity = capacity
        self.logs = logs
        self.unnumbered = unnumbered
        self.regions = list(regions)
        self.name = name
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not started"
        return self._proc.pid

    def start(self) -> None:
        with (self.logs / f"{self.name}.err").open("wb") as errors:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.ring_server",
                    "--ring-size",
                    str(self.capacity),
                    *(arg for region in self.regions for arg in ("--region", region)),
                    *(arg for flow in self.unnumbered for arg in ("--unnumbered", flow)),
                ],
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
            )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.startswith(b"listening "):
            self.stop()
            raise RuntimeError(f"the ring stand-in did not start: {line!r}")
        self.url = line.split()[1].decode()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


@contextlib.asynccontextmanager
async def stand_in(
    capacity: int,
    logs: Path,
    unnumbered: list[str],
    regions: Sequence[str] = (REGION,),
    name: str = "ring-server",
) -> AsyncIterator[StandIn]:
    """The stand-in started, stopped on the way out."""
    server = StandIn(capacity, logs, unnumbered, regions, name)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


class _Others:
    """The other regions, posting one node per envelope into every flow at once."""

    def __init__(self, session: aiohttp.ClientSession, url: str, flows: list[str]) -> None:
        self.session = session
        self.urls = [f"{url}/v1/flows/{flow}/events" for flow in flows]
        self.sent = 0

    async def post(self, region: int, index: int) -> None:
        node = {
            "id": f"other-{region}/app-{index % 20}",
            "flowId": "ring",
            "label": f"app-{index % 20}",
            "status": "running" if index % 2 else "succeeded",
            "region": f"other-{region}",
        }
        envelope = {"type": "upsert-nodes", "nodes": [node]}
        for url in self.urls:
            async with self.session.post(url, json=envelope) as answer:
                answer.raise_for_status()
                await answer.read()
        self.sent += 1

    async def steady(self, region: int, until: float) -> None:
        index = 0
        start = time.monotonic()
        while (due := start + index) < until:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await self.post(region, index)
            index += 1

    async def bursts(self, region: int, load: RingLoad, until: float) -> None:
        # Staggered, so the bursting regions take turns.
        start = time.monotonic() + load.burst_every * (region + 1) / (load.burst_regions + 1)
        index = 0
        while (due := start + index * load.burst_every) < until:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            for item in range(load.burst_size):
                await self.post(load.steady_regions + region, index * load.burst_size + item)
            index += 1


async def _figures(session: aiohttp.ClientSession, url: str, flow_id: str) -> dict[str, Any]:
    async with session.get(f"{url}/_bench/ring/{flow_id}") as answer:
        answer.raise_for_status()
        found: dict[str, Any] = await answer.json()
        return found


async def ring_runs(
    bench: Bench, load: RingLoad, emit_interval: float, logs: Path
) -> list[RingRun]:
    """Run every variant side by side under the same load; answer their figures."""
    namespace = await bench.populated(load.releases)
    flows = {variant: f"ring-{variant}" for variant in VARIANTS}
    async with (
        stand_in(load.capacity, logs, [flows[variant] for variant in UNNUMBERED]) as server,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session,
    ):
        adapters = [
            Adapter(
                bench,
                flow_id=flows[variant],
                namespace=namespace,
                emit_interval=emit_interval,
                logs=logs,
                flow_server=server.url,
                settings={
                    "FLOW_SERVER_RING_CAPACITY": str(load.told or load.capacity),
                    "RESYNC_INTERVAL": load.resync,
                    **extra,
                },
            )
            for variant, extra in VARIANTS.items()
        ]
        try:
            await _synced(session, server.url, list(flows.values()), load, adapters)
            started = time.monotonic()
            until = started + load.seconds
            others = _Others(session, server.url, list(flows.values()))
            changes = Plans(load.releases, seed=18).status_changes(
                int(load.seconds / load.change_every)
            )
            async with asyncio.TaskGroup() as group:
                for region in range(load.steady_regions):
                    group.create_task(others.steady(region, until))
                for region in range(load.burst_regions):
                    group.create_task(others.bursts(region, load, until))
                writes = group.create_task(_paced(bench, namespace, changes, load.change_every))
            for adapter in adapters:
                adapter.check()
            # The last change's envelope lands; then the figures are read at one moment.
            await asyncio.sleep(max(1.0, 5 * emit_interval))
            found = {v: await _figures(session, server.url, flows[v]) for v in VARIANTS}
            seconds = time.monotonic() - started
        finally:
            for adapter in adapters:
                adapter.stop()
    applied = sum(1 for write in writes.result() if write)
    return [
        RingRun(
            variant=variant,
            capacity=load.capacity,
            releases=load.releases,
            seconds=seconds,
            changes=applied,
            foreign=others.sent,
            flow_sequence=int(figures["flow_sequence"]),
            node_seconds=float(figures["node_seconds"]),
            edge_seconds=float(figures["edge_seconds"]),
            longest_hole=float(figures["longest"]),
            holes=int(figures["holes"]),
            envelopes=int(figures["envelopes"]),
            bytes=int(figures["bytes"]),
            snapshot_gets=int(figures["snapshot_gets"]),
            snapshot_bytes=int(figures["snapshot_bytes"]),
            stream_connections=int(figures["stream_connections"]),
            stream_bytes=int(figures["stream_bytes"]),
        )
        for variant, figures in found.items()
    ]


async def _synced(
    session: aiohttp.ClientSession,
    url: str,
    flows: list[str],
    load: RingLoad,
    adapters: list[Adapter],
) -> None:
    """Wait until every flow shows the whole region (at most 120 s)."""
    give_up = time.monotonic() + 120.0
    nodes, rels = load.releases + 1, relationship_count(load.releases)
    while True:
        for adapter in adapters:
            adapter.check()
        shown = [await _figures(session, url, flow) for flow in flows]
        if all(f["shown_nodes"] == nodes and f["shown_rels"] == rels for f in shown):
            return
        if time.monotonic() > give_up:
            raise TimeoutError(f"want {nodes} nodes and {rels} edges in each flow; have {shown}")
        await asyncio.sleep(0.2)


async def _paced(bench: Bench, namespace: str, changes: list[Change], every: float) -> list[bool]:
    async with bench.kube() as kube:
        writes = await kube.paced(namespace, changes, 1.0 / every)
    return [write.ok for write in writes]
