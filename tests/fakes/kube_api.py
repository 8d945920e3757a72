"""A kube-apiserver for custom resources, faithful where a list/watch client looks.

What it reproduces, because the watch loop depends on each: one global
resourceVersion counter shared by all resources; LIST as a consistent
snapshot paged with `limit`/`continue`; WATCH that replays the events after
the version asked for and then streams live ones as newline-delimited JSON;
`timeoutSeconds` ending the stream cleanly; bookmarks only when asked for;
compaction, after which an old version is answered `410 Expired` either as
the HTTP status or as an ERROR event in a 200 stream (servers do both), and
an old continue token is refused the same way; Status bodies for every
failure. Faults are injected per request (any status) or on the open streams
(drop, go silent, close, expire, send garbage). Every request is recorded so
a test can count LISTs and WATCHes.

Routes live in one table (`add_route`) so other fakes of the same server
(a Lease endpoint) can be added to it before `start()`.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web

from flux_adapter.kube.resources import WATCHED, Resource

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ExpiredAs = Literal["status", "event"]

_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
FIRST_VERSION = 100


def status_body(code: int, reason: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
        **extra,
    }


def status_response(code: int, reason: str, message: str, **extra: Any) -> web.Response:
    return web.json_response(status_body(code, reason, message, **extra), status=code)


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request the fake answered (or refused)."""

    verb: str
    plural: str
    namespace: str | None
    query: dict[str, str]


@dataclass
class Fault:
    """Answer matching requests with `status` instead of serving them."""

    verb: str
    status: int
    plural: str | None = None
    times: int | None = 1
    continued: bool = False

    def matches(self, verb: str, plural: str, query: dict[str, str]) -> bool:
        if self.verb != verb or (self.plural is not None and self.plural != plural):
            return False
        return not self.continued or bool(query.get("continue"))


@dataclass
class _Event:
    version: int
    resource: Resource
    type: str
    object: dict[str, Any]


@dataclass(eq=False)
class _Stream:
    """One open WATCH: what the handler must write next, in order."""

    resource: Resource
    namespace: str | None
    bookmarks: bool
    queue: asyncio.Queue[tuple[str, bytes]] = field(default_factory=asyncio.Queue)
    stalled: bool = False

    def wants(self, resource: Resource, obj: dict[str, Any]) -> bool:
        if resource != self.resource:
            return False
        return self.namespace is None or obj["metadata"].get("namespace") == self.namespace


def _line(event_type: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": event_type, "object": obj}).encode() + b"\n"


def _encode_token(version: int, start: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"rv": version, "start": start}).encode()).decode()


def _decode_token(token: str) -> tuple[int, int]:
    raw = json.loads(base64.urlsafe_b64decode(token.encode()))
    return int(raw["rv"]), int(raw["start"])


class FakeKubeApi:
    def __init__(
        self,
        resources: Iterable[Resource] = WATCHED,
        *,
        expired_as: ExpiredAs = "status",
        horizon: int | None = None,
        bookmark_interval: float | None = None,
    ) -> None:
        """`horizon`: keep only that many versions of history (None: until `compact()`)."""
        self.resources = tuple(resources)
        self.expired_as = expired_as
        self.horizon = horizon
        self.bookmark_interval = bookmark_interval
        self.version = FIRST_VERSION
        self.compacted = 0
        self.installed: set[str] = {r.plural for r in self.resources}
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
            r.plural: {} for r in self.resources
        }
        self.history: list[_Event] = []
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.empty_watches = 0
        """How many of the next watches are ended at once, having said nothing (a bad proxy)."""
        self._snapshots: dict[tuple[str, str | None, int], list[dict[str, Any]]] = {}
        self._streams: set[_Stream] = set()
        self.app = web.Application(middlewares=[self._status_for_unknown_paths])
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._port = 0
        self.url = ""
        for resource in self.resources:
            base = f"/apis/{resource.group}/{resource.version}"
            handler = self._collection_handler(resource)
            self.add_route("GET", f"{base}/namespaces/{{namespace}}/{resource.plural}", handler)
            self.add_route("GET", f"{base}/{resource.plural}", handler)

    # ---- server lifecycle -------------------------------------------------

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        self.app.router.add_route(method, path, handler)

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        await self.accept()
        return self.url

    async def refuse(self) -> None:
        """Stop listening and cut every open watch: the server is down or unreachable."""
        self._to_streams(None, ("drop", b""))
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def accept(self) -> None:
        """Listen (again, on the same port as before)."""
        if self._runner is None or self._site is not None:
            return
        self._site = web.TCPSite(self._runner, "127.0.0.1", self._port, reuse_address=True)
        await self._site.start()
        host, self._port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{self._port}"

    async def close(self) -> None:
        for stream in self._streams:
            stream.queue.put_nowait(("shutdown", b""))
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- writes, as a controller would make them ------------------------------

    def create(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        stored = copy.deepcopy(obj)
        stored["apiVersion"] = resource.api_version
        stored["kind"] = resource.kind
        meta = stored.setdefault("metadata", {})
        key = (meta.get("namespace", ""), meta["name"])
        if key in self.objects[resource.plural]:
            raise KeyError(f"{resource.plural} {key} already exists")
        meta["uid"] = str(uuid.uuid4())
        meta.setdefault("generation", 1)
        meta.setdefault("creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        return self._write(resource, "ADDED", key, stored)

    def update(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        old = self.objects[resource.plural][key]
        stored = copy.deepcopy(obj)
        stored["apiVersion"] = resource.api_version
        stored["kind"] = resource.kind
        for kept in ("uid", "creationTimestamp", "generation"):
            stored["metadata"][kept] = old["metadata"][kept]
        return self._write(resource, "MODIFIED", key, stored)

    def delete(self, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
        gone = copy.deepcopy(self.objects[resource.plural][(namespace, name)])
        return self._write(resource, "DELETED", (namespace, name), gone)

    def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
        return copy.deepcopy(self.objects[resource.plural][(namespace, name)])

    def _write(
        self, resource: Resource, event_type: str, key: tuple[str, str], obj: dict[str, Any]
    ) -> dict[str, Any]:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        if event_type == "DELETED":
            del self.objects[resource.plural][key]
        else:
            self.objects[resource.plural][key] = obj
        self.history.append(_Event(self.version, resource, event_type, copy.deepcopy(obj)))
        if self.horizon is not None:
            self.compact(self.version - self.horizon)
        line = _line(event_type, obj)
        for stream in self._streams:
            if stream.wants(resource, obj):
                stream.queue.put_nowait(("line", line))
        return copy.deepcopy(obj)

    def compact(self, version: int | None = None) -> None:
        """Forget history up to `version` (default: now); older versions answer 410."""
        self.compacted = max(self.compacted, self.version if version is None else version)
        self.history = [event for event in self.history if event.version > self.compacted]

    def install(self, resource: Resource) -> None:
        self.installed.add(resource.plural)

    def uninstall(self, resource: Resource) -> None:
        """Remove the CRD: its objects are deleted (watchers see it), then its paths answer 404."""
        for namespace, name in list(self.objects[resource.plural]):
            self.delete(resource, namespace, name)
        self.installed.discard(resource.plural)
        self._to_streams(resource, ("close", b""))

    # ---- faults -------------------------------------------------------------

    def fail(
        self,
        verb: str,
        status: int,
        *,
        resource: Resource | None = None,
        times: int | None = 1,
        continued: bool = False,
    ) -> Fault:
        """Refuse the next `times` matching requests (None: until `heal()`)."""
        fault = Fault(verb, status, resource.plural if resource else None, times, continued)
        self.faults.append(fault)
        return fault

    def heal(self) -> None:
        self.faults.clear()

    def drop_streams(self, resource: Resource | None = None) -> None:
        """Cut open watch connections without ending the HTTP response."""
        self._to_streams(resource, ("drop", b""))

    def stall_streams(self, resource: Resource | None = None) -> None:
        """Open watch connections go silent, as a dead TCP peer does: nothing, not even a close."""
        for stream in self._matching(resource):
            stream.stalled = True

    def close_streams(self, resource: Resource | None = None) -> None:
        """End open watches cleanly, as `timeoutSeconds` does."""
        self._to_streams(resource, ("close", b""))

    def expire_streams(self, resource: Resource | None = None) -> None:
        """Send the ERROR event an etcd compaction causes mid-stream, then end the stream."""
        message = f"too old resource version: {self.compacted} ({self.version})"
        error = _line("ERROR", status_body(410, "Expired", message))
        self._to_streams(resource, ("line", error))
        self._to_streams(resource, ("close", b""))

    def send_raw(self, data: bytes, resource: Resource | None = None) -> None:
        self._to_streams(resource, ("line", data))

    def bookmark(self, resource: Resource | None = None) -> None:
        """A BOOKMARK at the current version to every open watch that asked for bookmarks."""
        for stream in self._matching(resource):
            if stream.bookmarks:
                stream.queue.put_nowait(("line", self._bookmark_line(stream.resource)))

    def open_streams(self, resource: Resource | None = None) -> int:
        return len(self._matching(resource))

    def count(self, verb: str, resource: Resource | None = None) -> int:
        return sum(
            1
            for req in self.requests
            if req.verb == verb and (resource is None or req.plural == resource.plural)
        )

    def _matching(self, resource: Resource | None) -> list[_Stream]:
        return [s for s in self._streams if resource is None or s.resource == resource]

    def _to_streams(self, resource: Resource | None, action: tuple[str, bytes]) -> None:
        for stream in self._matching(resource):
            stream.queue.put_nowait(action)

    def _bookmark_line(self, resource: Resource) -> bytes:
        obj = {
            "kind": resource.kind,
            "apiVersion": resource.api_version,
            "metadata": {"resourceVersion": str(self.version), "creationTimestamp": None},
        }
        return _line("BOOKMARK", obj)

    # ---- HTTP ---------------------------------------------------------------

    @web.middleware
    async def _status_for_unknown_paths(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return status_response(
                404, "NotFound", "the server could not find the requested resource"
            )

    def _collection_handler(self, resource: Resource) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            namespace = request.match_info.get("namespace")
            query = dict(request.query)
            watching = query.get("watch", "") in _TRUE
            verb = "watch" if watching else "list"
            self.requests.append(Recorded(verb, resource.plural, namespace, query))
            refused = self._refusal(verb, resource, namespace, query)
            if refused is not None:
                return refused
            if watching:
                return await self._watch(request, resource, namespace, query)
            return self._list(resource, namespace, query)

        return handle

    def _refusal(
        self, verb: str, resource: Resource, namespace: str | None, query: dict[str, str]
    ) -> web.Response | None:
        for fault in self.faults:
            if fault.matches(verb, resource.plural, query):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return self._fault_response(fault.status, verb, resource, namespace)
        if resource.plural not in self.installed:
            return status_response(
                404, "NotFound", "the server could not find the requested resource"
            )
        return None

    @staticmethod
    def _fault_response(
        status: int, verb: str, resource: Resource, namespace: str | None
    ) -> web.Response:
        if status == 403:
            where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            message = (
                f'{resource.name} is forbidden: User "system:serviceaccount:flux-system:'
                f'flux-adapter" cannot {verb} resource "{resource.plural}" in API group '
                f'"{resource.group}" {where}'
            )
            details = {"group": resource.group, "kind": resource.plural}
            return status_response(403, "Forbidden", message, details=details)
        if status == 401:
            return status_response(401, "Unauthorized", "Unauthorized")
        if status == 404:
            return status_response(
                404, "NotFound", "the server could not find the requested resource"
            )
        if status == 410 and verb == "list":
            message = (
                "The provided continue parameter is too old to display a consistent list result."
            )
            return status_response(410, "Expired", message)
        if status == 410:
            return status_response(410, "Expired", "too old resource version: 1 (2)")
        if status == 504:
            # What a kube-apiserver whose watch cache lags behind the version says.
            causes = [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ]
            return status_response(
                504,
                "Timeout",
                "Timeout: Too large resource version: 99, current: 3",
                details={"causes": causes, "retryAfterSeconds": 1},
            )
        return status_response(
            status, "InternalError", f"Internal error occurred: injected {status}"
        )

    def _list(
        self, resource: Resource, namespace: str | None, query: dict[str, str]
    ) -> web.Response:
        token = query.get("continue")
        if token:
            version, start = _decode_token(token)
            if (
                version < self.compacted
                or (resource.plural, namespace, version) not in self._snapshots
            ):
                return self._fault_response(410, "list", resource, namespace)
            items = self._snapshots[(resource.plural, namespace, version)]
        else:
            version, start = self.version, 0
            items = [
                copy.deepcopy(obj)
                for key, obj in sorted(self.objects[resource.plural].items())
                if namespace is None or key[0] == namespace
            ]
            self._snapshots[(resource.plural, namespace, version)] = items
        limit = int(query.get("limit") or 0)
        end = len(items) if limit <= 0 else min(len(items), start + limit)
        meta: dict[str, Any] = {"resourceVersion": str(version)}
        if end < len(items):
            meta["continue"] = _encode_token(version, end)
            meta["remainingItemCount"] = len(items) - end
        body = {
            "apiVersion": resource.api_version,
            "kind": resource.list_kind,
            "metadata": meta,
            "items": items[start:end],
        }
        return web.json_response(body)

    async def _watch(
        self,
        request: web.Request,
        resource: Resource,
        namespace: str | None,
        query: dict[str, str],
    ) -> web.StreamResponse:
        since = int(query.get("resourceVersion") or 0)
        if since and since < self.compacted:
            message = f"too old resource version: {since} ({self.compacted})"
            if self.expired_as == "status":
                return status_response(410, "Expired", message)
            response = await self._open_stream(request)
            await response.write(_line("ERROR", status_body(410, "Expired", message)))
            await response.write_eof()
            return response
        if self.empty_watches > 0:
            self.empty_watches -= 1
            response = await self._open_stream(request)
            await response.write_eof()
            return response
        stream = _Stream(resource, namespace, query.get("allowWatchBookmarks", "") in _TRUE)
        if since:
            backlog = [
                e for e in self.history if e.version > since and stream.wants(e.resource, e.object)
            ]
            replay = [_line(e.type, e.object) for e in backlog]
        else:
            current = sorted(self.objects[resource.plural].items())
            replay = [_line("ADDED", o) for k, o in current if namespace in (None, k[0])]
        self._streams.add(stream)
        try:
            response = await self._open_stream(request)
            for line in replay:
                await response.write(line)
            await self._serve(request, response, stream, float(query.get("timeoutSeconds") or 0))
            return response
        finally:
            self._streams.discard(stream)

    @staticmethod
    async def _open_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        return response

    async def _serve(
        self,
        request: web.Request,
        response: web.StreamResponse,
        stream: _Stream,
        seconds: float,
    ) -> None:
        """Write the stream's actions until `seconds` (the client's timeoutSeconds) pass."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds if seconds > 0 else None
        while True:
            try:
                action, data = await asyncio.wait_for(
                    stream.queue.get(), self._wait(stream, deadline, loop.time())
                )
            except TimeoutError:
                if stream.stalled:
                    continue
                if deadline is not None and loop.time() >= deadline:
                    await response.write_eof()
                    return
                await response.write(self._bookmark_line(stream.resource))
                continue
            if action == "shutdown":
                return
            if action == "drop":
                if request.transport is not None:
                    request.transport.abort()
                return
            if stream.stalled:
                continue
            if action == "close":
                await response.write_eof()
                return
            await response.write(data)

    def _wait(self, stream: _Stream, deadline: float | None, now: float) -> float | None:
        """How long the stream may sit idle: until its deadline or its next bookmark."""
        if stream.stalled:
            return None
        waits = [] if deadline is None else [max(0.0, deadline - now)]
        if self.bookmark_interval is not None and stream.bookmarks:
            waits.append(self.bookmark_interval)
        return min(waits) if waits else None
