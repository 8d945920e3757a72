"""A scene where the real Flux controllers make every status, from charts served on 127.0.0.1.

The controllers run for the whole session with Flux's own sharding flag
(``--watch-label-selector``), so they reconcile only the objects labelled
``SHARD``: the HelmRepository and HelmReleases built here carry it (and pass
it to the HelmChart helm-controller creates, through
``spec.chart.metadata.labels``); the scenes that write statuses by hand to
provoke faults stay untouched in the same cluster.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from localcluster import HELMCHART, HELMRELEASE, HELMREPOSITORY, ApiError, ResourceType
from localcluster.chartrepo import ChartRepository, ChartVersion
from tests.e2e.harness import wait_until
from tests.e2e.scene import Scene

SHARD_LABEL: Final = "sharding.fluxcd.io/key"
SHARD_VALUE: Final = "e2e-real-flux"
SHARD: Final = f"{SHARD_LABEL}={SHARD_VALUE}"
"""The controllers' ``--watch-label-selector``: the label key Flux's sharding guide uses."""

REPOSITORY: Final = "charts"
"""The name of each scene's HelmRepository."""

FIXTURES: Final = Path(__file__).resolve().parents[1] / "fixtures" / "flux"
"""Where ``record`` keeps the objects the controllers wrote (``FLUX_ADAPTER_RECORD_FIXTURES=1``)."""


@dataclass
class Observation:
    """One look at a release: seconds since the mark, the adapter's node, Flux's own words."""

    at: float
    status: str | None
    ready: tuple[str, str, str] | None
    stalled: bool
    install_failures: int


@dataclass
class FluxScene:
    """A ``Scene`` and the shared chart repository, with helpers named for what a Flux user does."""

    scene: Scene
    repo: ChartRepository
    timings: list[tuple[str, float]] = field(default_factory=list)
    _mark: float = field(default_factory=time.monotonic)

    @property
    def namespace(self) -> str:
        return self.scene.namespace

    # -- what a Flux user writes ------------------------------------------------

    def publish(self, source: str, *, name: str, version: str) -> ChartVersion:
        """List ``name`` ``version``, packaged from ``localcluster/charts/<source>``.

        source-controller resolves charts against the index it last fetched,
        so the scene's HelmRepository is refreshed before this returns.
        """
        published = self.repo.publish(source, name=name, version=version)
        self.refresh_repository()
        return published

    def repository(self) -> None:
        """The scene's http HelmRepository, pointing at the shared chart repository."""
        self.scene.admin.create(
            {
                "apiVersion": HELMREPOSITORY.api_version,
                "kind": HELMREPOSITORY.kind,
                "metadata": {
                    "name": REPOSITORY,
                    "namespace": self.namespace,
                    "labels": {SHARD_LABEL: SHARD_VALUE},
                },
                "spec": {"url": self.repo.url, "interval": "10m", "timeout": "10s"},
            }
        )

    def refresh_repository(self) -> None:
        """Ask source-controller to fetch the index now, as ``flux reconcile source helm`` does.

        Waits until the HelmRepository's artifact reflects the request, so a
        version published just before is resolvable.
        """
        stamp = datetime.now(UTC).isoformat()
        self.scene.admin.patch(
            HELMREPOSITORY,
            self.namespace,
            REPOSITORY,
            {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": stamp}}},
        )
        wait_until(
            lambda: (
                self.get(HELMREPOSITORY, REPOSITORY).get("status", {}).get("lastHandledReconcileAt")
                == stamp
            ),
            "source-controller handling the refresh of the HelmRepository",
        )

    def release(
        self,
        name: str,
        *,
        chart: str,
        version: str,
        depends_on: tuple[str, ...] = (),
        labels: dict[str, str] | None = None,
        **spec: Any,
    ) -> None:
        """A HelmRelease of ``chart`` ``version`` from the scene's repository; ``spec`` adds fields.

        ``timeout`` (Helm's, per action) defaults to 30 s: kstatus-ready
        objects take a poll or two, and a failure should not wait five minutes.
        """
        obj: dict[str, Any] = {
            "apiVersion": HELMRELEASE.api_version,
            "kind": HELMRELEASE.kind,
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": {**(labels or {}), SHARD_LABEL: SHARD_VALUE},
            },
            "spec": {
                "interval": "10m",
                "timeout": "30s",
                "chart": {
                    "metadata": {"labels": {SHARD_LABEL: SHARD_VALUE}},
                    "spec": {
                        "chart": chart,
                        "version": version,
                        "sourceRef": {"kind": HELMREPOSITORY.kind, "name": REPOSITORY},
                        "interval": "10m",
                    },
                },
                **spec,
            },
        }
        if depends_on:
            obj["spec"]["dependsOn"] = [{"name": dep} for dep in depends_on]
        self.scene.admin.create(obj)

    def chart(self, name: str, *, chart: str, version: str) -> None:
        """A HelmChart of its own (not made by helm-controller), for releases' ``spec.chartRef``."""
        self.scene.admin.create(
            {
                "apiVersion": HELMCHART.api_version,
                "kind": HELMCHART.kind,
                "metadata": {
                    "name": name,
                    "namespace": self.namespace,
                    "labels": {SHARD_LABEL: SHARD_VALUE},
                },
                "spec": {
                    "chart": chart,
                    "version": version,
                    "sourceRef": {"kind": HELMREPOSITORY.kind, "name": REPOSITORY},
                    "interval": "10m",
                },
            }
        )

    def release_by_ref(self, name: str, ref: dict[str, str]) -> None:
        """A HelmRelease whose chart is ``spec.chartRef`` (a HelmChart or an OCIRepository)."""
        self.scene.admin.create(
            {
                "apiVersion": HELMRELEASE.api_version,
                "kind": HELMRELEASE.kind,
                "metadata": {
                    "name": name,
                    "namespace": self.namespace,
                    "labels": {SHARD_LABEL: SHARD_VALUE},
                },
                "spec": {"interval": "10m", "timeout": "30s", "chartRef": ref},
            }
        )

    def edit(self, name: str, change: dict[str, Any]) -> int:
        """A merge patch of the release's spec, as ``kubectl edit`` makes it; the new generation."""
        patched = self.scene.admin.patch(HELMRELEASE, self.namespace, name, {"spec": change})
        generation: int = patched["metadata"]["generation"]
        return generation

    def delete(self, name: str) -> None:
        self.scene.admin.delete(HELMRELEASE, self.namespace, name)

    # -- what is seen -------------------------------------------------------------

    def get(self, kind: ResourceType, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.scene.admin.get(kind, self.namespace, name)
        return found

    def exists(self, name: str) -> bool:
        try:
            self.get(HELMRELEASE, name)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def condition(self, name: str, ctype: str = "Ready") -> dict[str, Any] | None:
        """The release's condition of ``ctype`` as helm-controller wrote it, or None."""
        for cond in self.get(HELMRELEASE, name).get("status", {}).get("conditions") or []:
            if cond.get("type") == ctype:
                found: dict[str, Any] = cond
                return found
        return None

    def status(self, name: str) -> str | None:
        """The adapter's node for ``name`` on the flow server: its status, or None if absent."""
        node = self.scene.graph()[0].get(self.scene.node(name))
        return None if node is None else str(node["status"])

    def meta(self, name: str) -> dict[str, Any]:
        node = self.scene.graph()[0].get(self.scene.node(name)) or {}
        found: dict[str, Any] = node.get("meta", {})
        return found

    def observe(self, name: str) -> Observation:
        obj = self.get(HELMRELEASE, name)
        status = obj.get("status", {})
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        ready = conditions.get("Ready")
        return Observation(
            at=time.monotonic() - self._mark,
            status=self.status(name),
            ready=None if ready is None else (ready["status"], ready["reason"], ready["message"]),
            stalled=conditions.get("Stalled", {}).get("status") == "True",
            install_failures=int(status.get("installFailures") or 0),
        )

    def mark(self) -> None:
        """Start the clock the next ``took`` measures from."""
        self._mark = time.monotonic()

    def took(self, what: str) -> float:
        """Record the seconds since ``mark`` under ``what`` (reported at the end of the session)."""
        seconds = time.monotonic() - self._mark
        self.timings.append((what, seconds))
        return seconds

    def wait_status(
        self, name: str, expected: str | None, what: str, timeout: float = 120.0
    ) -> float:
        """Wait until the adapter's node for ``name`` shows ``expected``; record the time taken."""
        wait_until(lambda: self.status(name) == expected, what, timeout=timeout)
        return self.took(what)

    def record(self, fixture: str, *names: str, charts: tuple[str, ...] = ()) -> None:
        """Keep the releases (and HelmCharts) as the API server returns them now, as a fixture.

        Only with ``FLUX_ADAPTER_RECORD_FIXTURES=1``: the fixtures in
        ``tests/fixtures/flux/`` are what the unit tests of the status fold
        read, and are refreshed by running the e2e suite with it set.
        """
        import os

        if os.environ.get("FLUX_ADAPTER_RECORD_FIXTURES") != "1":
            return
        objects = [self.get(HELMRELEASE, name) for name in names]
        objects += [self.get(HELMCHART, chart) for chart in charts]
        FIXTURES.mkdir(parents=True, exist_ok=True)
        (FIXTURES / f"{fixture}.json").write_text(
            json.dumps(objects, indent=2, sort_keys=True) + "\n"
        )
