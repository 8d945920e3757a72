"""The process: builds every component from the settings and supervises them.

One TaskGroup holds the watchers, the emitter, the elector and the health
server. SIGTERM/SIGINT stop it in the order that loses nothing: stop
watching, flush the emitter within its deadline, release the lease (so a
standby takes over at once), then close the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import structlog

from flux_adapter.config import Settings
from flux_adapter.dry_run import DryRunSink
from flux_adapter.emitter import Emitter
from flux_adapter.health import HealthServer, Heartbeat
from flux_adapter.http_sink import HttpSink
from flux_adapter.kube import KubeApi, api_client
from flux_adapter.leader import LeaderElector
from flux_adapter.metrics import Metrics
from flux_adapter.resources import WATCHED
from flux_adapter.sink import Sink
from flux_adapter.store import KINDS, Store
from flux_adapter.supervisor import SupervisedTasks, supervise
from flux_adapter.watch import Watcher
from mapper import Graph

log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1


def _always() -> bool:
    return True


class Adapter:
    def __init__(
        self,
        settings: Settings,
        *,
        dry_run: bool = False,
        kubeconfig: str | None = None,
        stdout: TextIO | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.dry_run = dry_run
        self.kubeconfig = kubeconfig
        self.stdout = stdout if stdout is not None else sys.stdout
        self.metrics = metrics if metrics is not None else Metrics()
        self.graph = Graph(settings.region_key, settings.flow_id)
        self.stopping = asyncio.Event()
        self.health: HealthServer | None = None

    def _sink(self) -> Sink:
        if self.dry_run:
            return DryRunSink(self.stdout)
        url = self.settings.flow_server_url
        if url is None:  # load_settings(dry_run=False) refuses this already
            raise ValueError("FLOW_SERVER_URL is required without --dry-run")
        token = self.settings.flow_server_token_file
        ca = self.settings.flow_server_ca_file
        return HttpSink(
            url,
            self.settings.flow_id,
            token_file=Path(token) if token else None,
            ca_file=Path(ca) if ca else None,
        )

    def request_stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stop_requested")
        self.stopping.set()

    async def run(self) -> int:
        s = self.settings
        api = await api_client(self.kubeconfig)
        try:
            return await self._run(s, api)
        finally:
            await api.close()

    async def _run(self, s: Settings, api: KubeApi) -> int:
        store_ref: list[Store] = []
        emitter_gate: Callable[[], bool] = _always
        elector: LeaderElector | None = None
        emitter = Emitter(
            self.graph,
            self._sink(),
            metrics=self.metrics,
            ready=lambda: bool(store_ref) and store_ref[0].all_synced(),
            may_post=lambda: emitter_gate(),
            emit_interval=s.emit_interval,
            post_timeout=s.post_timeout,
            resync_interval=s.resync_interval,
            shutdown_timeout=s.shutdown_timeout,
            ring_capacity=s.flow_server_ring_capacity,
            ring_refresh=s.ring_refresh,
            follow_stream=s.flow_server_stream,
        )
        store = Store(self.graph, emitter, self.metrics)
        store_ref.append(store)
        watchers = [
            Watcher(
                api,
                resource,
                store,
                self.metrics,
                namespace=s.namespace,
                inactivity_timeout=s.watch_inactivity_timeout,
            )
            for resource in WATCHED
        ]
        if s.leader_election and not self.dry_run:
            namespace = s.pod_namespace or api.access.namespace
            elector = LeaderElector(
                api,
                name=s.lease_name,
                namespace=namespace,
                identity=s.pod_name,
                lease_duration=s.lease_duration,
                renew_deadline=s.lease_renew_deadline,
                retry_period=s.lease_retry_period,
                metrics=self.metrics,
                on_gain=emitter.request_resync,
                on_loss=lambda: None,
            )
            emitter_gate = elector.may_post
        else:
            self.metrics.leader.set(1)

        heartbeat = Heartbeat()
        tasks = SupervisedTasks()

        def ready() -> str | None:
            reasons = [f"{w.resource.kind}: {w.trouble}" for w in watchers if w.trouble]
            missing = [kind for kind in KINDS if not store.synced(kind)]
            if missing:
                reasons.append(f"not listed yet: {', '.join(missing)}")
            return "; ".join(reasons) or None

        listen = s.listen
        self.health = HealthServer(
            listen.host, listen.port, [heartbeat.check, tasks.check], ready, self.metrics
        )
        try:
            await self.health.start()
        except OSError as err:
            log.error(
                "health_listen_failed",
                addr=s.health_listen_addr,
                error=str(err),
                hint="set HEALTH_LISTEN_ADDR to a free host:port",
            )
            return EXIT_FAILED

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop)
        log.info(
            "adapter_starting",
            region=s.region_key,
            flow_id=s.flow_id,
            namespace=s.namespace or "*",
            dry_run=self.dry_run,
            leader_election=elector is not None,
        )
        try:
            async with asyncio.TaskGroup() as group:
                watch_tasks = [
                    group.create_task(
                        supervise(w.resource.name, w.run, tasks=tasks), name=w.resource.name
                    )
                    for w in watchers
                ]
                emit_task = group.create_task(
                    supervise("emitter", emitter.run, tasks=tasks), name="emitter"
                )
                side_tasks = [group.create_task(heartbeat.run(), name="heartbeat")]
                if elector is not None:
                    side_tasks.append(
                        group.create_task(
                            supervise("elector", elector.run, tasks=tasks), name="elector"
                        )
                    )
                await self.stopping.wait()
                await _cancel(watch_tasks)
                await emitter.stop()
                await _cancel([emit_task])
                if elector is not None:
                    await _cancel(side_tasks[1:])
                    await elector.release()
                await _cancel(side_tasks)
        except* Exception as group_failure:
            for failure in group_failure.exceptions:
                log.error("adapter_failed", error=repr(failure))
            failed = True
        else:
            failed = False
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            await self.health.stop()
        if failed:
            await emitter.stop()
            return EXIT_FAILED
        log.info("adapter_stopped")
        return EXIT_OK


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
