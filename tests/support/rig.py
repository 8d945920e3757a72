"""An emitter wired to the fake flow server the way the process will wire it.

Tests drive the cluster side through `apply`/`remove` (Graph.apply, then
`notify`, exactly the watch layer's contract), flip the `ready` and
`may_post` gates, and compare the fake server's snapshot with the nodes and
edges those releases must show, written out as literals and folded by the
fake server's own rule: the expectation owes nothing to the mapper or the diff.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flux_adapter.emit.emitter import Emitter
from flux_adapter.emit.http_sink import HttpSink
from flux_adapter.emit.sink import Sink
from flux_adapter.observe.metrics import Metrics
from mapper import Graph
from tests.fakes.flow_server import FlowServer, Json, fold
from tests.support import eventually
from tests.support.objects import (
    BOOTSTRAP_KIT,
    NAMESPACE,
    PROGRESSING,
    SUCCEEDED,
    UPGRADE_FAILED,
    Condition,
    helm_release,
)

REGION = "eu-central-1"
FLOW_ID = "bootstrap"

FAST = {
    "emit_interval": 0.05,
    "post_timeout": 2.0,
    "resync_interval": 60.0,
    "shutdown_timeout": 5.0,
    "backoff_start": 0.01,
    "backoff_cap": 0.2,
}
"""Tunables that keep tests quick; a test overrides the one it is about."""


@dataclass(frozen=True)
class View:
    """One region's nodes and edges as JSON, keyed the way the server merges them."""

    nodes: dict[str, Json]
    rels: dict[tuple[str, str, str], Json]


def region_view(snapshot: Json | None, region: str = REGION) -> View:
    """This region's share of a snapshot, by the contract's ownership rule."""
    snapshot = snapshot or {}

    def ours(node_id: str) -> bool:
        return node_id == region or node_id.startswith(region + "/")

    nodes = {n["id"]: n for n in snapshot.get("nodes", []) if ours(n["id"])}
    rels = {
        (r["fromId"], r["toId"], r["type"]): r
        for r in snapshot.get("relationships", [])
        if ours(r["toId"])
    }
    return View(nodes, rels)


STATUS: dict[Condition | None, str] = {
    SUCCEEDED: "succeeded",
    PROGRESSING: "running",
    UPGRADE_FAILED: "failed",
    None: "pending",
}
"""The canvas status each Ready the rig writes must show (docs/design.md, "Status folding")."""

WORST_FIRST = ("failed", "running", "pending", "succeeded")
CREATED_MS = 1_795_161_600_000
"""`helm_release`'s creationTimestamp, 2026-11-20T08:00:00Z, in Unix milliseconds."""
READY_SINCE_MS = 1_795_165_200_000
"""`helm_release`'s conditions' lastTransitionTime, 2026-11-20T09:00:00Z."""


@dataclass(frozen=True)
class Written:
    """What the rig wrote for one release: what its node and edges must show."""

    depends_on: tuple[str, ...]
    ready: Condition | None
    family: str
    message: str


def release_node(name: str, release: Written) -> Json:
    """The node a release written by `Rig.apply` must have on the server (docs/contract.md)."""
    status = STATUS[release.ready]
    meta: Json = {
        "namespace": NAMESPACE,
        "generation": 1,
        "observedGeneration": 1,
        "lastAttemptedRevision": "1.2.3",
        "slot": "7",
    }
    node: Json = {
        "id": f"{REGION}/{name}",
        "flowId": FLOW_ID,
        "label": name,
        "status": status,
        "family": release.family,
        "region": REGION,
        "startedAt": CREATED_MS,
        "meta": meta,
    }
    if release.ready is not None:
        meta["readyReason"] = release.ready[1]
        meta["readyMessage"] = release.message
    if status in ("succeeded", "failed"):
        node["endedAt"] = READY_SINCE_MS
    return node


def release_edges(name: str, release: Written) -> list[Json]:
    own = f"{REGION}/{name}"
    edges: list[Json] = [{"fromId": own, "toId": REGION, "type": "contains"}]
    edges += [
        {
            "fromId": f"{REGION}/{dep}",
            "toId": own,
            "type": "finish-to-start",
            "condition": "on-success",
        }
        for dep in release.depends_on
    ]
    return edges


def expected_view(releases: dict[str, Written]) -> View:
    """The server's fold of the literal nodes and edges these releases must show."""
    statuses = {STATUS[release.ready] for release in releases.values()}
    worst = next((status for status in WORST_FIRST if status in statuses), "pending")
    region = {"id": REGION, "flowId": FLOW_ID, "label": REGION, "status": worst, "region": REGION}
    nodes = [region] + [release_node(name, release) for name, release in releases.items()]
    rels = [edge for name, release in releases.items() for edge in release_edges(name, release)]
    return region_view(
        fold(
            [
                {"type": "upsert-nodes", "nodes": nodes},
                {"type": "upsert-rels", "relationships": rels},
            ]
        )
    )


class Rig:
    def __init__(
        self,
        server: FlowServer,
        *,
        ready: bool = True,
        may_post: bool = True,
        token_file: Path | None = None,
        sink: Sink | None = None,
        post_budget: int | None = None,
        **tunables: Any,
    ) -> None:
        self.server = server
        self.graph = Graph(REGION, FLOW_ID)
        self.metrics = Metrics()
        self.ready = ready
        self.may_post = may_post
        self.ready_asked = 0
        self.gate_asked = 0
        self.post_budget = post_budget
        self.time_left: Callable[[], float] | None = None
        self.sink = sink or HttpSink(server.url, FLOW_ID, token_file=token_file)
        self.emitter = Emitter(
            self.graph,
            self.sink,
            metrics=self.metrics,
            ready=self._ready,
            fence=self._fence,
            **{**FAST, **tunables},
        )
        self._task: asyncio.Task[None] | None = None
        self.stopped = False
        self.releases: dict[str, Written] = {}

    def _ready(self) -> bool:
        self.ready_asked += 1
        return self.ready

    def _fence(self) -> float:
        """Seconds left on the lease as the test holds it: `time_left`, else all or none."""
        if self.time_left is not None:
            return self.time_left()
        return math.inf if self._may_post() else 0.0

    def _may_post(self) -> bool:
        """The lease, as a test holds it; `post_budget` loses it after that many POSTs."""
        self.gate_asked += 1
        if self.post_budget is not None and len(self.server.posts()) >= self.post_budget:
            return False
        return self.may_post

    def apply(
        self,
        name: str,
        *,
        depends_on: tuple[str, ...] = (),
        ready: Condition | None = SUCCEEDED,
        family: str | None = None,
        message: str = "Helm upgrade succeeded",
    ) -> None:
        labels = {"app.kubernetes.io/part-of": "bootstrap-kit", "catalyst.openova.io/slot": "7"}
        if family is not None:
            labels["catalyst.openova.io/family"] = family
        obj = helm_release(
            name,
            labels=labels,
            depends_on=depends_on,
            ready=ready,
            message=message,
            observed=1,
            revision="1.2.3",
            helm_chart=f"{NAMESPACE}/{NAMESPACE}-{name}",
        )
        applied = self.graph.apply("HelmRelease", (NAMESPACE, name), obj)
        assert not applied.problems, applied.problems
        self.releases[name] = Written(
            depends_on, ready, family or name.removeprefix("bp-"), message
        )
        self.emitter.notify(applied.touched)

    def remove(self, name: str) -> None:
        applied = self.graph.apply("HelmRelease", (NAMESPACE, name), None)
        self.releases.pop(name, None)
        self.emitter.notify(applied.touched)

    def load_kit(self) -> None:
        for name, family, depends_on in BOOTSTRAP_KIT:
            self.apply(name, family=family, depends_on=depends_on)

    async def start(self) -> None:
        self._task = asyncio.create_task(self.emitter.run())

    async def start_synced(self) -> None:
        """Start on the bootstrap kit and wait for the first sync to finish."""
        self.load_kit()
        await self.start()
        await self.settle()

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            await self.emitter.stop()

    async def settle(self) -> None:
        """Wait until the emitter has nothing left to send."""
        await eventually(lambda: self.emitter.caught_up, "the emitter caught up")

    def posts(self) -> list[Json]:
        """Every envelope the server answered 2xx, in arrival order."""
        return [seen.envelope() for seen in self.server.posts(FLOW_ID) if seen.status == 200]

    def on_server(self) -> View:
        return region_view(self.server.snapshot(FLOW_ID))

    def expected(self) -> View:
        return expected_view(self.releases)

    def converged(self) -> bool:
        return self.on_server() == self.expected()
