"""What the copy that posts runs: reflectors → store → graph → emitter → sink, built in that order.

A pipeline holds every cache and every watch of the process. With leader
election only the leader has one: a standby holds its Lease candidacy and
nothing else, so a hundred copies cost the API server one LIST and one WATCH
per Flux resource, not a hundred (`docs/design.md`, "Running many copies").
Gaining the Lease builds a fresh pipeline (LIST, sync, post); losing it
drops the pipeline with its caches and watches.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from flux_adapter.emit.dry_run import DryRunSink
from flux_adapter.emit.emitter import Emitter
from flux_adapter.emit.sink import Sink
from flux_adapter.informer.reflector import Watcher
from flux_adapter.informer.store import KINDS, Store
from flux_adapter.kube.client import KubeApi
from flux_adapter.kube.resources import WATCHED
from flux_adapter.observe.metrics import Metrics
from flux_adapter.runtime.settings import Settings
from flux_adapter.runtime.supervisor import SupervisedTasks, supervise
from mapper import Graph


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        api: KubeApi,
        sink: Sink,
        metrics: Metrics,
        *,
        fence: Callable[[], float],
    ) -> None:
        """Build the stages; nothing runs before `run()`.

        `fence` is the elector's seconds-left (infinity without election);
        the emitter bounds every request by it.
        """
        s = settings
        self.graph = Graph(s.region_key, s.flow_id)
        self.emitter = Emitter(
            self.graph,
            sink,
            metrics=metrics,
            ready=self.synced,
            fence=fence,
            emit_interval=s.emit_interval,
            post_timeout=s.post_timeout,
            resync_interval=s.resync_interval,
            shutdown_timeout=s.shutdown_timeout,
            # Stdout has no ring to keep ahead of.
            ring_capacity=None if isinstance(sink, DryRunSink) else s.flow_server_ring_capacity,
            follow_stream=s.flow_server_stream,
        )
        self.store = Store(self.graph, self.emitter, metrics)
        self.watchers = [
            Watcher(
                api,
                resource,
                self.store,
                metrics,
                namespace=s.namespace,
                inactivity_timeout=s.watch_inactivity_timeout,
            )
            for resource in WATCHED
        ]
        metrics.nodes_held.set(len(self.graph.nodes))
        self._watching: list[asyncio.Task[Any]] = []

    def synced(self) -> bool:
        """Both resources completed their first LIST (the emitter sends releases only then)."""
        return self.store.all_synced()

    def not_ready(self) -> str | None:
        """Why this pipeline cannot yet show the cluster: a watch the API server does not serve,
        or a first LIST not done; None when it can.
        """
        reasons = [f"{w.resource.kind}: {w.trouble}" for w in self.watchers if w.trouble]
        missing = [kind for kind in KINDS if not self.store.synced(kind)]
        if missing:
            reasons.append(f"not listed yet: {', '.join(missing)}")
        return "; ".join(reasons) or None

    async def run(self, tasks: SupervisedTasks) -> None:
        """Watch and post until cancelled; a loop that gives up ends it with `GaveUpError`."""
        async with asyncio.TaskGroup() as group:
            self._watching = [
                group.create_task(
                    supervise(w.resource.name, w.run, tasks=tasks), name=w.resource.name
                )
                for w in self.watchers
            ]
            group.create_task(supervise("emitter", self.emitter.run, tasks=tasks), name="emitter")

    async def stop_watching(self) -> None:
        """Cancel the reflectors, so nothing changes while the last flush runs."""
        for task in self._watching:
            task.cancel()
        for task in self._watching:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def stop(self) -> None:
        """Stop watching, then flush within `SHUTDOWN_TIMEOUT` (if still fenced in) and close."""
        await self.stop_watching()
        await self.emitter.stop()
