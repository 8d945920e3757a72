"""One poster per cluster: a coordination.k8s.io Lease, fenced by our own clock.

The election follows client-go's rules (see `lease.py`); what is added is the
fence: a copy may post only while `now < last successful renewal + renew
deadline`, measured from when that renewal was *sent*. A standby takes the
lease only after it has seen the same record unchanged for the lease
duration, which is longer than the renew deadline, so two copies never post
at once, however slow a request or a node is.

While it leads, a copy renews with a single PUT carrying the resourceVersion
of its own last write; only when that conflicts does it read the lease again.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from flux_adapter.election.lease import (
    LeaseRecord,
    MalformedLeaseError,
    claim,
    held_by_another,
    lease_object,
    read_record,
    released,
)
from flux_adapter.kube.client import TRANSIENT_ERRORS, KubeApi
from flux_adapter.observe.clock import MONOTONIC, SLEEP, Clock, Sleep, deadline
from flux_adapter.observe.metrics import Metrics

log = structlog.get_logger(__name__)

LEASE_GROUP = "coordination.k8s.io"
LEASE_RESOURCE = "leases"
LEASE_VERBS = ("get", "create", "update")
JITTER = 1.2
"""client-go's factor: a standby retries every retry period to 1.2 retry periods."""


class LeaseRequestError(Exception):
    """A Lease call got an answer that is neither success nor a conflict to resolve."""

    def __init__(self, verb: str, status: int, body: bytes) -> None:
        super().__init__(f"{verb} lease: HTTP {status}: {body[:300].decode('utf-8', 'replace')}")
        self.verb = verb
        self.status = status


LEASE_ERRORS: tuple[type[Exception], ...] = (
    *TRANSIENT_ERRORS,
    LeaseRequestError,
    MalformedLeaseError,
)


class LeaderElector:
    def __init__(
        self,
        api: KubeApi,
        *,
        name: str,
        namespace: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        standby_retry_period: float = 5.0,
        request_timeout: float = 5.0,
        metrics: Metrics,
        on_gain: Callable[[], None],
        on_loss: Callable[[], None],
        clock: Clock = MONOTONIC,
        sleep: Sleep = SLEEP,
        rng: random.Random | None = None,
    ) -> None:
        """Stand for the Lease `namespace`/`name` as `identity`; nothing happens before `run()`.

        Durations are in seconds. `on_gain` and `on_loss` are called as this
        copy starts and stops leading. `clock` and `sleep` are time as the
        elector reads and waits it (monotonic); a test passes a fake pair.
        """
        self._api = api
        self.name = name
        self.namespace = namespace
        self.identity = identity
        # The Lease stores whole seconds; rounding up never shortens a claim.
        self._lease_duration = math.ceil(lease_duration)
        self._renew_deadline = renew_deadline
        self._retry_period = retry_period
        self._standby_retry_period = standby_retry_period
        self._request_timeout = request_timeout
        self._metrics = metrics
        self._on_gain = on_gain
        self._on_loss = on_loss
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._collection = f"/apis/{LEASE_GROUP}/v1/namespaces/{namespace}/{LEASE_RESOURCE}"
        self._path = f"{self._collection}/{name}"
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0
        self._lease: Mapping[str, Any] | None = None
        self.renewed_at: float | None = None
        self.leading = False
        self.trouble: str | None = "the Lease was not read yet"
        """Why the last attempt on the Lease failed; None when the Lease answered."""

    def time_left(self) -> float:
        """Seconds before the fence closes: until the last renewal sent + the renew deadline.

        0 while this copy does not lead. The emitter bounds each request by it,
        so no request of a leader outlives its fence.
        """
        renewed = self.renewed_at
        if not self.leading or renewed is None:
            return 0.0
        return max(0.0, renewed + self._renew_deadline - self._clock())

    def may_post(self) -> bool:
        return self.time_left() > 0

    async def run(self) -> None:
        """Stand for election, lead until a renewal deadline is missed, and stand again."""
        while True:
            while True:
                if await self._attempt():
                    break
                # A standby costs the API server one GET per period, no more.
                await self._sleep(self._standby_retry_period * self._rng.uniform(1.0, JITTER))
            self._gain()
            while True:
                await self._sleep(self._retry_period)
                if await self._attempt():
                    continue
                if (
                    self.renewed_at is None
                    or self._clock() >= self.renewed_at + self._renew_deadline
                ):
                    self._lose("renewal failed")
                    break

    def _gain(self) -> None:
        self.leading = True
        self._metrics.leader.set(1)
        log.info("leadership_gained", lease=self.name, identity=self.identity)
        self._on_gain()

    def _lose(self, why: str) -> None:
        if self.leading:
            log.warning("leadership_lost", lease=self.name, identity=self.identity, why=why)
        self.leading = False
        self._metrics.leader.set(0)
        self._on_loss()

    async def _attempt(self) -> bool:
        """One try to take or keep the lease, under the request timeout; True if it is ours."""
        sent = self._clock()
        try:
            async with deadline(self._sleep, self._request_timeout):
                ours = await self._acquire_or_renew()
        except LEASE_ERRORS as err:
            self.trouble = f"Lease {self.namespace}/{self.name}: {type(err).__name__}"
            log.warning(
                "lease_attempt_failed",
                lease=self.name,
                namespace=self.namespace,
                error=str(err) or type(err).__name__,
                error_type=type(err).__name__,
            )
            return False
        self.trouble = None
        if ours:
            self.renewed_at = sent
        return ours

    async def _acquire_or_renew(self) -> bool:
        now = datetime.now(UTC)
        if self._lease is not None and self._observed and self._observed.holder == self.identity:
            record = claim(self._observed, self.identity, self._lease_duration, now)
            if await self._write("PUT", record, self._lease):
                return True
        lease = await self._call("GET", self._path, expected=404)
        if lease is None:
            record = claim(None, self.identity, self._lease_duration, now)
            return await self._write("POST", record, None)
        observed = self._observe(lease)
        if held_by_another(observed, self.identity, self._observed_at, self._clock()):
            return False
        record = claim(observed, self.identity, self._lease_duration, now)
        return await self._write("PUT", record, lease)

    def _observe(self, lease: Mapping[str, Any]) -> LeaseRecord:
        record = read_record(lease)
        if record != self._observed:
            self._observed = record
            self._observed_at = self._clock()
        self._lease = lease
        return record

    async def _write(
        self, method: str, record: LeaseRecord, base: Mapping[str, Any] | None
    ) -> bool:
        """Create or replace; False when another writer got there first (409)."""
        body = lease_object(self.name, self.namespace, record, base)
        path = self._collection if method == "POST" else self._path
        lease = await self._call(method, path, body, expected=409)
        if lease is None:
            return False
        self._observe(lease)
        return True

    async def _call(
        self, method: str, path: str, body: Any = None, *, expected: int
    ) -> Mapping[str, Any] | None:
        """The Lease of a 2xx answer, None for the one refusal the caller expects (404 or 409).

        Any other answer raises with the server's text, so it is logged as sent.
        """
        status, raw = await self._api.fetch(method, path, json=body)
        if status == expected:
            return None
        if not 200 <= status < 300:
            raise LeaseRequestError(method.lower(), status, raw)
        try:
            decoded = json.loads(raw)
        except ValueError as err:
            raise MalformedLeaseError(f"{method} answered with non-JSON") from err
        if not isinstance(decoded, Mapping) or not isinstance(decoded.get("metadata"), Mapping):
            raise MalformedLeaseError(f"{method} answered with something that is not a Lease")
        return decoded

    async def release(self) -> None:
        """Clear the holder so a standby takes over at once instead of after the lease."""
        was_leading = self.leading
        self.leading = False
        self._metrics.leader.set(0)
        if not was_leading or self._observed is None:
            return
        try:
            async with deadline(self._sleep, self._request_timeout):
                step_down = released(self._observed, datetime.now(UTC))
                done = await self._write("PUT", step_down, self._lease)
                if not done:
                    lease = await self._call("GET", self._path, expected=404)
                    if lease is None:
                        return
                    observed = self._observe(lease)
                    if observed.holder != self.identity:
                        return
                    done = await self._write("PUT", released(observed, datetime.now(UTC)), lease)
            if done:
                log.info("lease_released", lease=self.name, identity=self.identity)
            else:
                log.warning("lease_release_failed", lease=self.name, error="conflict")
        except LEASE_ERRORS as err:
            log.warning("lease_release_failed", lease=self.name, error=str(err) or repr(err))
