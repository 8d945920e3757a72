"""The process: builds every component from the settings and supervises them.

One TaskGroup holds the heartbeat, the elector and the pipeline (reflectors,
store, graph, emitter), which only the copy holding the Lease runs; the
health endpoints answer from their own thread. SIGTERM/SIGINT stop it in the
order that loses nothing: stop watching, flush the emitter within its
deadline, release the Lease (so a standby takes over at once), then close
the rest.
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

from flux_adapter.election.elector import LeaderElector
from flux_adapter.emit.dry_run import DryRunSink
from flux_adapter.emit.http_sink import HttpSink
from flux_adapter.emit.poster import unfenced
from flux_adapter.emit.sink import Sink
from flux_adapter.kube.client import KubeApi
from flux_adapter.kube.connect import api_client
from flux_adapter.observe.metrics import Metrics
from flux_adapter.runtime.health import HealthServer, Heartbeat
from flux_adapter.runtime.pipeline import Pipeline
from flux_adapter.runtime.settings import Settings
from flux_adapter.runtime.supervisor import SupervisedTasks, supervise

log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1


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
        self.stopping = asyncio.Event()
        self.health: HealthServer | None = None
        self.pipeline: Pipeline | None = None
        """What this copy runs while it posts; None while it stands by."""
        self._gained = asyncio.Event()
        self._lost = asyncio.Event()

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
            snapshot_limit=int(self.settings.flow_server_snapshot_limit),
        )

    def request_stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stop_requested")
        self.stopping.set()

    async def run(self) -> int:
        api = await api_client(self.kubeconfig)
        try:
            return await self._run(api)
        finally:
            await api.close()

    def _pipeline(self, api: KubeApi, fence: Callable[[], float]) -> Pipeline:
        return Pipeline(self.settings, api, self._sink(), self.metrics, fence=fence)

    def _elector(self, api: KubeApi) -> LeaderElector:
        s = self.settings
        return LeaderElector(
            api,
            name=s.lease_name,
            namespace=s.pod_namespace or api.namespace,
            identity=s.pod_name,
            lease_duration=s.lease_duration,
            renew_deadline=s.lease_renew_deadline,
            retry_period=s.lease_retry_period,
            standby_retry_period=s.lease_standby_retry_period,
            metrics=self.metrics,
            on_gain=self._gained.set,
            on_loss=self._lost.set,
        )

    def _not_ready(self, elector: LeaderElector | None) -> str | None:
        """Readiness: a standby is ready to take over while it can read the Lease; the
        copy that posts is ready once its caches are filled and both watches are served.
        """
        if elector is not None and not elector.leading:
            return elector.trouble
        pipeline = self.pipeline
        if pipeline is None:
            return "starting"
        return pipeline.not_ready()

    async def _lead(self, api: KubeApi, tasks: SupervisedTasks) -> None:
        """Without leader election: one pipeline for the life of the process."""
        self.metrics.leader.set(1)
        self.pipeline = self._pipeline(api, unfenced)
        await self.pipeline.run(tasks)

    async def _follow(self, elector: LeaderElector, api: KubeApi, tasks: SupervisedTasks) -> None:
        """With leader election: a fresh pipeline each time the Lease is won, dropped when lost."""
        while True:
            await self._gained.wait()
            self._gained.clear()
            self._lost.clear()
            pipeline = self.pipeline = self._pipeline(api, elector.time_left)
            running = asyncio.create_task(pipeline.run(tasks), name="pipeline")
            lost = asyncio.create_task(self._lost.wait(), name="lease-lost")
            try:
                await asyncio.wait({running, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                lost.cancel()
                if not running.done():
                    # Fenced already: the emitter's last flush sends nothing.
                    await pipeline.stop()
                    await _cancel([running])
            running.result()
            self.pipeline = None
            self.metrics.nodes_held.set(0)
            log.info("caches_dropped", reason="lease lost")

    async def _supervise(
        self,
        group: asyncio.TaskGroup,
        api: KubeApi,
        elector: LeaderElector | None,
        heartbeat: Heartbeat,
        tasks: SupervisedTasks,
    ) -> None:
        """Start every loop in `group`, wait for a stop, and stop them in the order that loses
        nothing: stop watching, flush, release the Lease, then the rest.
        """
        side = [group.create_task(heartbeat.run(), name="heartbeat")]
        if api.execs:
            side.append(
                group.create_task(
                    supervise("kube-credentials", api.keep_credentials_fresh, tasks=tasks),
                    name="kube-credentials",
                )
            )
        if elector is None:
            work = group.create_task(self._lead(api, tasks), name="pipeline")
            electing = None
        else:
            work = group.create_task(self._follow(elector, api, tasks), name="follow")
            electing = group.create_task(
                supervise("elector", elector.run, tasks=tasks), name="elector"
            )
        await self.stopping.wait()
        pipeline = self.pipeline
        if pipeline is not None:
            await pipeline.stop()
        await _cancel([work])
        if electing is not None and elector is not None:
            await _cancel([electing])
            await elector.release()
        await _cancel(side)

    async def _run(self, api: KubeApi) -> int:
        s = self.settings
        elector = self._elector(api) if s.leader_election and not self.dry_run else None
        heartbeat = Heartbeat()
        tasks = SupervisedTasks()
        listen = s.listen
        self.health = HealthServer(
            listen.host,
            listen.port,
            [heartbeat.check, tasks.check],
            lambda: self._not_ready(elector),
            self.metrics,
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
            kube=repr(api),
        )
        try:
            async with asyncio.TaskGroup() as group:
                await self._supervise(group, api, elector, heartbeat, tasks)
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
            if self.pipeline is not None:
                await self.pipeline.emitter.stop()
            return EXIT_FAILED
        log.info("adapter_stopped")
        return EXIT_OK


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
