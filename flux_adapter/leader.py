"""One poster per cluster: a coordination.k8s.io Lease, fenced by our own clock.

kubernetes-asyncio's elector gives up leadership only after its renew
deadline, and a hung call can hold it longer, so posting is fenced here: a
copy may post only while `now < last successful renewal + renew deadline`,
measured from when that renewal was *sent*. A standby can take the lease only
after `lease duration > renew deadline` has passed since that renewal, so
two copies never post at once.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import structlog
from kubernetes_asyncio import client
from kubernetes_asyncio.client.api_client import ApiClient
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.leaderelection.electionconfig import Config
from kubernetes_asyncio.leaderelection.leaderelection import LeaderElection
from kubernetes_asyncio.leaderelection.leaderelectionrecord import LeaderElectionRecord
from kubernetes_asyncio.leaderelection.resourcelock.leaselock import LeaseLock

from flux_adapter.metrics import Metrics

log = structlog.get_logger(__name__)

LEASE_GROUP = "coordination.k8s.io"
LEASE_RESOURCE = "leases"
LEASE_VERBS = ("get", "create", "update")


def _transient(reason: str) -> ApiException:
    """An ApiException the library treats as 'try again later' rather than 'create'."""
    err = ApiException(status=503, reason=reason)
    err.body = json.dumps({"code": 503, "reason": reason}).encode()
    return err


class FencedLeaseLock(LeaseLock):
    """A LeaseLock whose calls time out and which remembers its last successful write."""

    def __init__(
        self,
        name: str,
        namespace: str,
        identity: str,
        api_client: ApiClient,
        request_timeout: float,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(name, namespace, identity, api_client)
        self._timeout = request_timeout
        self._clock = clock
        self.renewed_at: float | None = None

    async def get(self, name: str, namespace: str) -> tuple[bool, Any]:
        try:
            async with asyncio.timeout(self._timeout):
                result: tuple[bool, Any] = await super().get(name, namespace)
                return result
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            log.warning("lease_read_failed", lease=name, namespace=namespace, error=repr(err))
            return False, _transient(type(err).__name__)

    async def _write(self, call: Any, *args: Any) -> bool:
        sent = self._clock()
        try:
            async with asyncio.timeout(self._timeout):
                ok: bool = await call(*args)
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            log.warning("lease_write_failed", lease=self.name, error=repr(err))
            return False
        if ok:
            self.renewed_at = sent
        return ok

    async def create(
        self, name: str, namespace: str, election_record: LeaderElectionRecord
    ) -> bool:
        return await self._write(super().create, name, namespace, election_record)

    async def update(self, name: str, namespace: str, updated_record: LeaderElectionRecord) -> bool:
        return await self._write(super().update, name, namespace, updated_record)


class LeaderElector:
    def __init__(
        self,
        api_client: ApiClient,
        *,
        name: str,
        namespace: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        request_timeout: float = 5.0,
        metrics: Metrics,
        on_gain: Callable[[], None],
        on_loss: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api_client = api_client
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self._lease_duration = lease_duration
        self._renew_deadline = renew_deadline
        self._retry_period = retry_period
        self._request_timeout = request_timeout
        self._metrics = metrics
        self._on_gain = on_gain
        self._on_loss = on_loss
        self._clock = clock
        self._lock = FencedLeaseLock(name, namespace, identity, api_client, request_timeout, clock)
        self.leading = False

    def may_post(self) -> bool:
        renewed = self._lock.renewed_at
        return (
            self.leading and renewed is not None and self._clock() < renewed + self._renew_deadline
        )

    async def _started(self) -> None:
        self.leading = True
        self._metrics.leader.set(1)
        log.info("leadership_gained", lease=self.name, identity=self.identity)
        self._on_gain()

    async def _stopped(self) -> None:
        self._lose("renewal failed")

    def _lose(self, why: str) -> None:
        if self.leading:
            log.warning("leadership_lost", lease=self.name, identity=self.identity, why=why)
        self.leading = False
        self._metrics.leader.set(0)
        self._on_loss()

    async def run(self) -> None:
        """Stand for election forever; the library's run() returns on every loss."""
        config = Config(
            self._lock,
            # The Lease stores whole seconds and the library formats the value
            # with str() before int(): hand it an int, rounded up to stay safe.
            lease_duration=math.ceil(self._lease_duration),
            renew_deadline=self._renew_deadline,
            retry_period=self._retry_period,
            onstarted_leading=self._started,
            onstopped_leading=self._stopped,
        )
        while True:
            try:
                await LeaderElection(config).run()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the library raises on odd API answers; stand again
                log.warning("leader_election_error", lease=self.name, error=repr(err))
                self._lose(f"election error: {err!r}")
            await asyncio.sleep(self._retry_period)

    async def release(self) -> None:
        """Clear the holder so a standby takes over at once instead of after the lease."""
        was_leading = self.leading
        self.leading = False
        self._metrics.leader.set(0)
        if not was_leading:
            return
        api = client.CoordinationV1Api(api_client=self._api_client)
        try:
            async with asyncio.timeout(self._request_timeout):
                lease = await api.read_namespaced_lease(self.name, self.namespace)
                if lease.spec is None or lease.spec.holder_identity != self.identity:
                    return
                lease.spec = client.V1LeaseSpec(
                    acquire_time=lease.spec.acquire_time,
                    lease_duration_seconds=1,
                    renew_time=datetime.now(UTC),
                )
                await api.replace_namespaced_lease(self.name, self.namespace, lease)
            log.info("lease_released", lease=self.name, identity=self.identity)
        except (TimeoutError, aiohttp.ClientError, OSError, ApiException) as err:
            log.warning("lease_release_failed", lease=self.name, error=repr(err))
