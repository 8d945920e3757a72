"""Playing the bootstrap against the real Flux controllers while watching the flow server.

The demo does only what a Flux user does: it applies the kit's HelmReleases
(as kustomize-controller would), publishes a fixed chart version and points
the failing release at it, and deletes one release at the end.
helm-controller and source-controller do the rest. Between two steps the
demo keeps reading both sides, so the view shows helm-controller's ``Ready``
messages as they change and the adapter's nodes as the flow server holds them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

from demo.bootstrap import (
    FIXED_VERSION,
    NAMESPACE,
    SOURCE,
    Sample,
    publish_fix,
    release_object,
    sample_named,
)
from demo.flux import ReadyLog
from demo.graph import FlowGraph
from demo.view import Ui
from localcluster import HELMRELEASE, HELMREPOSITORY, KubeClient
from localcluster.chartrepo import ChartRepository

POLL_INTERVAL: Final = 0.25
PAUSE: Final = 3.0
"""Seconds the demo lets a newcomer look at a stage (the failure, all green) before acting."""


class StuckError(RuntimeError):
    """A stage of the play did not come within its timeout; the message says what Flux said."""


class Observer:
    """Reads what Flux wrote and what the flow server holds, shows both, keeps the play's clock."""

    def __init__(
        self,
        ui: Ui,
        kube: KubeClient,
        read: Callable[[], FlowGraph],
        check: Callable[[], None],
        started: float,
    ) -> None:
        self.ui = ui
        self.kube = kube
        self._read = read
        self._check = check
        self.started = started
        self.graph = FlowGraph.from_snapshot(None)
        self.flux = ReadyLog()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def refresh(self) -> FlowGraph:
        """Read and show both sides once; raise ``ChildError`` if a process the demo needs died."""
        self._check()
        releases = self.kube.list(HELMRELEASE, NAMESPACE)["items"]
        for name, ready in self.flux.changes(releases):
            self.ui.flux_event(self.elapsed, name, ready)
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


class Player:
    """The Flux user's side of the bootstrap: apply, notice the failure, fix it, delete one."""

    def __init__(
        self,
        kube: KubeClient,
        repo: ChartRepository,
        samples: Sequence[Sample],
        observer: Observer,
        *,
        region: str,
        failing: str,
        deleted: str,
        timeout: float,
        pause: float = PAUSE,
    ) -> None:
        self.kube = kube
        self.repo = repo
        self.samples = tuple(samples)
        self.observer = observer
        self.region = region
        self.failing = sample_named(samples, failing)
        self.deleted = sample_named(samples, deleted)
        self.timeout = timeout
        self.pause = pause

    def _event(self, text: str) -> None:
        self.observer.ui.cluster_event(self.observer.elapsed, text)

    def _node(self, name: str) -> str:
        return f"{self.region}/{name}"

    def run(self) -> None:
        """Play every stage; ``StuckError`` when one does not come within ``timeout`` seconds."""
        self.apply_kit()
        failing = self._node(self.failing.name)
        self._wait(
            lambda graph: graph.statuses().get(failing) == "failed",
            f"the flow server showing {self.failing.name} failed",
        )
        self.observer.until(time.monotonic() + self.pause)
        self.fix()
        everyone = [self._node(s.name) for s in self.samples]
        self._wait(
            lambda graph: all(graph.statuses().get(n) == "succeeded" for n in everyone),
            "the flow server showing every release succeeded",
        )
        self.observer.until(time.monotonic() + self.pause)
        self.kube.delete(HELMRELEASE, NAMESPACE, self.deleted.name)
        self._event(f"deleted HelmRelease {self.deleted.name}")

    def apply_kit(self) -> None:
        for slot, sample in enumerate(self.samples, start=1):
            self.kube.create(release_object(sample, slot))
            deps = f" (dependsOn {', '.join(sample.depends_on)})" if sample.depends_on else ""
            self._event(f"created HelmRelease {sample.name}{deps}")

    def fix(self) -> None:
        """Publish a chart version that installs, have source-controller see it, point at it."""
        sample = self.failing
        publish_fix(self.repo, sample)
        self._event(f"published chart {sample.chart} {FIXED_VERSION} on {self.repo.url}")
        stamp = datetime.now(UTC).isoformat()
        self.kube.patch(
            HELMREPOSITORY,
            NAMESPACE,
            SOURCE,
            {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": stamp}}},
        )
        self._event(f"asked source-controller to fetch HelmRepository {SOURCE}'s index again")
        self._wait(
            lambda _: self._handled(stamp),
            f"source-controller fetching HelmRepository {SOURCE}'s index",
        )
        self.kube.patch(
            HELMRELEASE,
            NAMESPACE,
            sample.name,
            {"spec": {"chart": {"spec": {"version": FIXED_VERSION}}}},
        )
        self._event(
            f"edited HelmRelease {sample.name}: chart {sample.chart} "
            f"{sample.version} -> {FIXED_VERSION}"
        )

    def _handled(self, stamp: str) -> bool:
        repository = self.kube.get(HELMREPOSITORY, NAMESPACE, SOURCE)
        return bool(repository.get("status", {}).get("lastHandledReconcileAt") == stamp)

    def _wait(self, done: Callable[[FlowGraph], bool], what: str) -> None:
        if self.observer.until(time.monotonic() + self.timeout, done):
            return
        waiting = [
            f"  {name}: {ready}"
            for name, ready in sorted(self.observer.flux.last.items())
            if ready.status != "True"
        ]
        said = "\n".join(waiting) or "  every release is Ready=True"
        raise StuckError(
            f"no sign of {what} within {self.timeout:g}s; what helm-controller says:\n{said}"
        )
