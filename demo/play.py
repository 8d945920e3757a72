"""Playing the timeline against the real apiserver while watching the flow server.

The demo stands in for Flux's controllers: it creates the releases as
kustomize-controller would, writes their status through the status
subresource as helm-controller does, and creates each release's HelmChart
with the status source-controller gives it. Between two steps it keeps
reading the flow server, so the view moves as the adapter delivers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from demo.bootstrap import NAMESPACE, Sample, chart_object, release_object
from demo.conditions import chart_status, release_status
from demo.graph import FlowGraph
from demo.schedule import Step
from demo.view import Ui
from localcluster import HELMCHART, HELMRELEASE, KubeClient

POLL_INTERVAL: Final = 0.25
GATE_TIMEOUT: Final = 60.0
"""How long the retry waits for the server to show the failure before going on."""

Json = dict[str, Any]


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Observer:
    """Reads the flow server, shows what it read, and keeps the play's clock."""

    def __init__(
        self,
        ui: Ui,
        read: Callable[[], FlowGraph],
        check: Callable[[], None],
        started: float,
    ) -> None:
        self.ui = ui
        self._read = read
        self._check = check
        self.started = started
        self.graph = FlowGraph.from_snapshot(None)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def refresh(self) -> FlowGraph:
        """Read and show the server's graph once; raise if a process the demo needs died."""
        self._check()
        self.graph = self._read()
        self.ui.show(self.elapsed, self.graph)
        return self.graph

    def until(self, deadline: float, done: Callable[[FlowGraph], bool] | None = None) -> bool:
        """Keep the view fresh until ``deadline`` (monotonic) or until ``done`` holds."""
        while True:
            graph = self.refresh()
            if done is not None and done(graph):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(POLL_INTERVAL, left))


def _ready(status: Json) -> str:
    for cond in status.get("conditions", []):
        if cond.get("type") == "Ready":
            return f"Ready={cond['status']} {cond['reason']}: {cond['message']}"
    return "no Ready condition"


class Player:
    """Applies each step at its tick, ``tick`` seconds apart."""

    def __init__(
        self,
        kube: KubeClient,
        samples: Sequence[Sample],
        observer: Observer,
        *,
        tick: float,
        region: str,
    ) -> None:
        self.kube = kube
        self.samples: Mapping[str, Sample] = {s.name: s for s in samples}
        self.slots = {s.name: i + 1 for i, s in enumerate(samples)}
        self.observer = observer
        self.tick = tick
        self.region = region
        self._conditions: dict[str, dict[str, Json]] = {}

    def _event(self, text: str) -> None:
        self.observer.ui.cluster_event(self.observer.elapsed, text)

    def run(self, steps: Sequence[Step]) -> None:
        due = time.monotonic()
        previous = 0
        for step in steps:
            due += (step.at - previous) * self.tick
            previous = step.at
            if step.action == "retrying":
                due = max(due, self._await_failure(step.name))
            self.observer.until(due)
            self.apply(step)
        self.observer.refresh()

    def _await_failure(self, name: str) -> float:
        """Hold the retry until the server shows the failure, so nobody misses it."""
        node_id = f"{self.region}/{name}"
        seen = self.observer.until(
            time.monotonic() + GATE_TIMEOUT,
            lambda graph: graph.statuses().get(node_id) == "failed",
        )
        if not seen:
            self._event(f"{name}: the flow server never showed it failed; retrying anyway")
        return time.monotonic() + self.tick

    def apply(self, step: Step) -> None:
        sample = self.samples[step.name]
        if step.action == "create":
            self.kube.create(release_object(sample, self.slots[sample.name]))
            deps = f" (dependsOn {', '.join(sample.depends_on)})" if sample.depends_on else ""
            self._event(f"created HelmRelease {sample.name}{deps}")
        elif step.action == "delete":
            self.kube.delete(HELMRELEASE, NAMESPACE, sample.name)
            self.kube.delete(HELMCHART, NAMESPACE, sample.chart_object_name)
            self._event(f"deleted HelmRelease {sample.name} and its HelmChart")
        else:
            now = utc_now()
            if sample.name not in self._conditions:
                self.kube.create(chart_object(sample))
                self.kube.patch_status(
                    HELMCHART, NAMESPACE, sample.chart_object_name, chart_status(sample, now)
                )
            previous = self._conditions.get(sample.name, {})
            status = release_status(sample, step.action, now, previous)
            self.kube.patch_status(HELMRELEASE, NAMESPACE, sample.name, status)
            self._conditions[sample.name] = {c["type"]: c for c in status["conditions"]}
            self._event(f"{sample.name:<20} {_ready(status)}")
