"""The list/watch loop, as client-go's reflector runs it, for one resource.

LIST (in pages) replaces the store, WATCH from the list's version applies
each change, and the loop keeps the last version it understood so that any
interruption resumes exactly there. Only an expired version (410) or one a
lagging server has not reached yet (504 `ResourceVersionTooLarge`) costs a
new LIST. Nothing here knows which server it talks to: it reads HTTP
statuses, Status objects and newline-delimited events, as every
kube-apiserver sends.

Two backoffs, because they wait for different things: a server that cannot
be reached at all is probed again every few seconds (`connect_backoff_cap`),
so the loop is back within seconds of the server's return; a server that
answers with errors is asked again on a backoff that grows to
`backoff_cap` and is reset once a watch delivers again.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import NoReturn

import aiohttp
import structlog

from flux_adapter.informer.failures import decide
from flux_adapter.informer.lines import LineReader, LineTooLongError
from flux_adapter.informer.listing import Page, list_pages, parse_page
from flux_adapter.informer.store import Store
from flux_adapter.informer.watch_event import WatchEvent, parse_event
from flux_adapter.kube.client import TRANSIENT_ERRORS, KubeApi
from flux_adapter.kube.errors import ApiError, ProtocolError, error_from_body, status_fields
from flux_adapter.kube.resources import Resource
from flux_adapter.observe.backoff import ReconnectBackoff
from flux_adapter.observe.heap import return_free_memory
from flux_adapter.observe.metrics import Metrics

log = structlog.get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]
WATCH_ERRORS: tuple[type[Exception], ...] = (ProtocolError, *TRANSIENT_ERRORS)
UNREACHABLE_ERRORS: tuple[type[Exception], ...] = (
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    TimeoutError,
    OSError,
)
"""Failures in which the API server said nothing more: down, unreachable, cut off or silent."""


class Watcher:
    """Keeps one resource of the store equal to the cluster, until cancelled.

    Failure policy, chosen deliberately: every failure of the conversation
    with the API server (an error status, a refused, dropped or silent
    connection, a malformed answer) is expected in a cluster's life, so it is
    handled here by relisting, resuming or backing off, and the loop never
    gives up on it. Anything else (a bug in this process, a sink that raises)
    is not caught: `run()` ends with that exception, so the supervisor sees a
    dead task and liveness goes down. Retrying a bug would keep a process
    that looks healthy while its picture of the cluster is wrong.
    """

    def __init__(
        self,
        api: KubeApi,
        resource: Resource,
        store: Store,
        metrics: Metrics,
        *,
        namespace: str | None = None,
        page_limit: int = 500,
        inactivity_timeout: float = 90.0,
        server_timeout: tuple[int, int] = (300, 600),
        min_watch_duration: float = 1.0,
        backoff_initial: float = 0.8,
        backoff_cap: float = 30.0,
        connect_backoff_cap: float = 4.0,
        backoff_reset_after: float = 120.0,
        request_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.resource = resource
        self.namespace = namespace or None
        self.page_limit = page_limit
        self.inactivity_timeout = inactivity_timeout
        self.server_timeout = server_timeout
        self.min_watch_duration = min_watch_duration
        self.request_timeout = request_timeout
        self._api = api
        self._path = resource.path(self.namespace)
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._backoff = ReconnectBackoff(
            initial=backoff_initial,
            cap=backoff_cap,
            reset_after=backoff_reset_after,
            clock=clock,
            rng=self._rng,
        )
        self._connect_backoff = ReconnectBackoff(
            initial=min(backoff_initial, connect_backoff_cap),
            cap=connect_backoff_cap,
            reset_after=backoff_reset_after,
            clock=clock,
            rng=self._rng,
        )
        self._where = {"resource": resource.name, "namespace": self.namespace or "*"}
        self._version: str | None = None
        self._relist_reason = "initial"
        # True while the version in hand comes straight from a LIST: a 410 then
        # means the server refuses what it just gave, and waits; any 410 after
        # something else happened (events, a reconnect) relists at once.
        self._fresh_list = False
        self._trouble: str | None = "not listed yet"

    @property
    def trouble(self) -> str | None:
        """Why the API server is not serving this loop right now; None while it is.

        Set by every failed LIST or WATCH, cleared when a LIST completes or a
        watch opens: what readiness reports, never liveness.
        """
        return self._trouble

    @property
    def resource_version(self) -> str | None:
        """Where the next watch resumes; None while a LIST is due."""
        return self._version

    async def run(self) -> NoReturn:
        """List and watch until cancelled; ends only by cancellation or by a bug."""
        while True:
            delay = await self._attempt()
            if delay > 0:
                await self._sleep(delay)

    async def _attempt(self) -> float:
        """One LIST or one WATCH; returns how long to wait before the next attempt."""
        version = self._version
        verb = "list" if version is None else "watch"
        try:
            if version is None:
                await self._list()
                return 0.0
            return await self._watch(version)
        except ApiError as err:
            self._trouble = f"{err.verb} answered {err.status} {err.reason}".rstrip()
            delay = self._api_failed(err)
            self._fresh_list = False
            return delay
        except WATCH_ERRORS as err:
            self._fresh_list = False
            unreachable = isinstance(err, UNREACHABLE_ERRORS)
            backoff = self._connect_backoff if unreachable else self._backoff
            delay = backoff.failure()
            what = "API server unreachable" if unreachable else f"{verb} failed"
            self._trouble = f"{what}: {type(err).__name__}"
            if verb == "watch":
                self._metrics.watch_restarts.labels(
                    resource=self.resource.kind, reason="error"
                ).inc()
            log.warning(
                "kube_request_failed",
                **self._where,
                verb=verb,
                error=str(err) or type(err).__name__,
                error_type=type(err).__name__,
                retry_in=round(delay, 3),
            )
            return delay

    async def _list(self) -> None:
        listed = await list_pages(
            self._page,
            lambda: self._store.relist(self.resource.kind),
            page_limit=self.page_limit,
            where=self._where,
        )
        listed.relist.commit()
        return_free_memory()
        self._metrics.relists.labels(resource=self.resource.kind, reason=self._relist_reason).inc()
        log.info(
            "listed",
            **self._where,
            reason=self._relist_reason,
            resource_version=listed.version,
            objects=self._store.count(self.resource.kind),
            pages=listed.pages,
        )
        self._version = listed.version
        self._fresh_list = True
        self._trouble = None

    async def _page(self, params: Mapping[str, str]) -> Page:
        """One LIST page, read whole under the request timeout."""
        response = await self._request("list", params)
        try:
            async with asyncio.timeout(self.request_timeout):
                body = await response.read()
        finally:
            response.release()
        return parse_page(body, self.resource.name)

    def _api_failed(self, err: ApiError) -> float:
        """Carry out `failures.decide` for `err`; answers the seconds to wait."""
        decision = decide(err, self._fresh_list)
        if decision.relist is not None:
            self._version = None
            self._relist_reason = decision.relist
        if err.expired and err.verb == "watch":
            self._metrics.watch_restarts.labels(resource=self.resource.kind, reason="expired").inc()
        delay = self._backoff.failure() if decision.backoff else 0.0
        fields: dict[str, object] = {
            "verb": err.verb,
            "status": err.status,
            "reason": err.reason,
            "message": err.message,
        }
        if decision.event == "rbac_denied":
            fields.update(
                group=self.resource.group,
                plural=self.resource.plural,
                missing=f"{err.verb} {self.resource.name}",
            )
        report = {"info": log.info, "warning": log.warning, "error": log.error}[decision.level]
        report(decision.event, **self._where, retry_in=round(delay, 3), **fields)
        return delay

    async def _request(self, verb: str, params: Mapping[str, str]) -> aiohttp.ClientResponse:
        """Send one LIST or WATCH and return the open response once its status is 200.

        The status line is awaited under `request_timeout`; the body is the
        caller's to read under its own deadline, because a watch body lasts
        minutes.
        """
        if verb == "watch":
            timeout = aiohttp.ClientTimeout(
                connect=self.request_timeout, sock_connect=self.request_timeout
            )
        else:
            timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        async with asyncio.timeout(self.request_timeout):
            response = await self._api.request(
                "GET", self._path, params=params, client_timeout=timeout
            )
        self._connect_backoff.reset()
        if response.status == 200:
            if verb == "watch":
                self._trouble = None
            return response
        try:
            async with asyncio.timeout(self.request_timeout):
                body = await response.read()
        finally:
            response.close()
        raise error_from_body(
            body,
            response.status,
            verb=verb,
            resource=self.resource.name,
            namespace=self.namespace,
        )

    async def _watch(self, version: str) -> float:
        low, high = self.server_timeout
        response = await self._request(
            "watch",
            {
                "watch": "true",
                "resourceVersion": version,
                "allowWatchBookmarks": "true",
                "timeoutSeconds": str(self._rng.randint(low, high)),
            },
        )
        opened = self._clock()
        said = 0
        lines = LineReader(response.content.readany)
        try:
            while True:
                try:
                    # Not wait_for: on 3.11 it can swallow a cancel that races the timeout.
                    async with asyncio.timeout(self.inactivity_timeout):
                        line = await lines.readline()
                except TimeoutError:
                    return self._restart("inactivity", said)
                except LineTooLongError as err:
                    raise ProtocolError("watch", self.resource.name, str(err)) from err
                if not line:
                    if said == 0 and self._clock() - opened < self.min_watch_duration:
                        # client-go's rule: a watch that closes at once having said
                        # nothing is a failure, or a server doing that is a hot loop.
                        delay = self._backoff.failure()
                        log.warning("watch_closed_at_once", **self._where, retry_in=round(delay, 3))
                        self._metrics.watch_restarts.labels(
                            resource=self.resource.kind, reason="closed_empty"
                        ).inc()
                        return delay
                    return self._restart("closed", said)
                if not line.endswith(b"\n"):
                    raise ProtocolError("watch", self.resource.name, "truncated event", line)
                said += 1
                self._handle(parse_event(line, self.resource.name))
        finally:
            response.close()

    def _restart(self, reason: str, said: int) -> float:
        self._fresh_list = False
        self._metrics.watch_restarts.labels(resource=self.resource.kind, reason=reason).inc()
        log.info(
            "watch_reopen",
            **self._where,
            reason=reason,
            events=said,
            resource_version=self._version,
        )
        return 0.0

    def _handle(self, event: WatchEvent) -> None:
        self._metrics.watch_events.labels(resource=self.resource.kind, type=event.type).inc()
        if event.type == "ERROR":
            code, reason, message = status_fields(event.object, 500)
            raise ApiError(
                verb="watch",
                resource=self.resource.name,
                namespace=self.namespace,
                status=code,
                reason=reason,
                message=message,
            )
        if event.type == "DELETED":
            self._store.delete(self.resource.kind, event.object)
        elif event.type != "BOOKMARK":
            self._store.upsert(self.resource.kind, event.object)
        version = event.resource_version
        if version is not None:
            self._version = version
        # The watch delivers: whatever failed before has passed.
        self._fresh_list = False
        self._backoff.reset()
