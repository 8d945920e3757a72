"""A fake OpenovaFlow server that behaves as `docs/contract.md` says the real one does.

It is written from the contract alone, on raw JSON, and shares no code with
`mapper/`: a test that checks the adapter against it checks the adapter's
reading of the contract against a second, independent reading.

What it keeps, like the real server: per flow, a ring of the last N
accepted envelopes with their sequence numbers (counted from 1 per flow,
answered as `{"seq": N}`), folded into a snapshot on every GET (so evicted
envelopes take their effect with them), in memory only. It serves the
event stream ("The event stream"): a `snapshot` event numbered with the
flow's newest number, then every accepted envelope under its type and
number, a heartbeat every 15 s, no resume, and only the 16 newest events
kept for a reader that falls behind. A restart ends every stream. Upserts replace by
key, `delete-nodes` leaves the edges of the deleted nodes in place. It
checks only what the real one checks (a variant's list is non-empty, the
body is under 1 MiB); where the contract is silent it refuses what it could
not key (a node without a string id), since it could not store that.

For tests it also records every request and can be told to misbehave: fail
with a status (optionally with `Retry-After`), hang, stop listening, or stand
behind a proxy whose body limit is below the server's own (`limit_bodies`:
413 with the proxy's HTML page, as an ingress answers).
Stream connections are recorded apart from other requests (`streams`), and
injected faults do not touch them; `end_streams()` ends them, and
`stream_enabled = False` answers 404 as a proxy without SSE would.

`attack` turns it hostile, one way at a time (`ATTACKS`, issue 25's table):
answers a client must not believe, bodies it must not read whole, and a
403 that echoes the bearer token. `behave()` ends the attack and every
stream opened under it (over HTTP: `/_fake/attack` with `{"attack": null}`).

Run it as a process with `python -m tests.fakes.flow_server --port P`; the
same controls are then reachable over HTTP under `/_fake/`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import signal
import sys
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

MAX_BODY = 1_048_576
RING_SIZE = 4096
HEARTBEAT = 15.0
STREAM_BUFFER = 16

LIST_FIELD = {
    "upsert-nodes": "nodes",
    "upsert-rels": "relationships",
    "delete-rels": "pairs",
    "delete-nodes": "ids",
}

Json = dict[str, Any]

ATTACKS = (
    "huge_seq",
    "superscript_id",
    "deep_nesting",
    "huge_snapshot",
    "huge_error",
    "alternating_ids",
    "echo_token",
)
"""The ways `FlowServer.attack` misbehaves:

- `huge_seq`: a POST is applied, and answered `{"seq": <a 400-digit integer>}`;
- `superscript_id`: a stream's events carry `id: ²`;
- `deep_nesting`: POSTs are applied and answered with 200,000 nested
  arrays; the snapshot nests as deep inside its `nodes`;
- `huge_snapshot`: the snapshot is `attack_bytes` long (other regions' nodes);
- `huge_error`: every flow request is answered 500 with `attack_bytes` of body;
- `alternating_ids`: a stream numbers an event every `attack_period` seconds,
  alternately 2^64 and small numbers (`attack_high` sets the large one);
- `echo_token`: every flow request is answered 403 with a body echoing the
  bearer token bare, after `Bearer`, URL-encoded and base64.
"""

HUGE_SEQ = "9" * 400
DEEP = 200_000


@dataclass(frozen=True)
class Seen:
    """One request as it reached the server, and what it was answered."""

    at: float
    method: str
    path: str
    flow_id: str
    body: bytes
    status: int
    authorization: str | None
    content_type: str | None
    answered: int = 0
    """Bytes of the answer's body."""

    def envelope(self) -> Json:
        parsed: Json = json.loads(self.body)
        return parsed


@dataclass
class _Fault:
    status: int | None
    """The status to answer; `None` hangs the request instead."""
    remaining: int | None
    method: str | None
    retry_after: str | None
    body: str

    def matches(self, method: str) -> bool:
        return self.method is None or self.method == method


class _Flow:
    def __init__(self, ring_size: int) -> None:
        self.ring: deque[tuple[int, Json]] = deque()
        self.size = ring_size
        self.seq = 0

    def accept(self, envelope: Json) -> tuple[int, tuple[int, Json] | None]:
        """Number the envelope, keep it, and answer its number and the envelope it evicted."""
        self.seq += 1
        self.ring.append((self.seq, envelope))
        evicted = self.ring.popleft() if len(self.ring) > self.size else None
        return self.seq, evicted

    def envelopes(self) -> list[Json]:
        return [envelope for _, envelope in self.ring]


class _Reader:
    """One open stream: the events not yet written, the oldest dropped past `STREAM_BUFFER`."""

    def __init__(self) -> None:
        self.pending: deque[bytes] = deque(maxlen=STREAM_BUFFER)
        self.wake = asyncio.Event()
        self.ended = False

    def push(self, event: bytes) -> None:
        self.pending.append(event)
        self.wake.set()

    def end(self) -> None:
        self.ended = True
        self.wake.set()


def sse(event: str, seq: int | None, data: object) -> bytes:
    """One Server-Sent Event; JSON data is written on one line."""
    head = f"event: {event}\n" + (f"id: {seq}\n" if seq is not None else "")
    return (head + "data: " + json.dumps(data, separators=(",", ":")) + "\n\n").encode()


def _rel_key(item: Json) -> tuple[str, str, str]:
    return (item["fromId"], item["toId"], item["type"])


def _item_problem(field: str, item: object) -> str | None:
    if field == "ids":
        return None if isinstance(item, str) else "ids must be strings"
    if not isinstance(item, dict):
        return f"{field} entries must be objects"
    if field == "nodes":
        return None if isinstance(item.get("id"), str) else "a node needs a string id"
    if all(isinstance(item.get(k), str) for k in ("fromId", "toId", "type")):
        return None
    return f"{field} entries need string fromId, toId and type"


def problem(envelope: object) -> str | None:
    """Why the server would answer 400 to this envelope, or `None` when it accepts it."""
    if not isinstance(envelope, dict):
        return "envelope must be a JSON object"
    kind = envelope.get("type")
    if not isinstance(kind, str):
        return "envelope needs a string type"
    if kind == "upsert-flow":
        return None if isinstance(envelope.get("flow"), dict) else "upsert-flow needs a flow"
    field = LIST_FIELD.get(kind)
    if field is None:
        return f"unknown envelope type {kind!r}"
    items = envelope.get(field)
    if not isinstance(items, list) or not items:
        return f"{kind} needs a non-empty {field} list"
    for item in items:
        found = _item_problem(field, item)
        if found is not None:
            return found
    return None


def _apply(envelope: Json, nodes: dict[str, Json], rels: dict[tuple[str, str, str], Json]) -> None:
    """Fold one list envelope into the snapshot's nodes and relationships."""
    kind = envelope["type"]
    if kind == "upsert-nodes":
        nodes.update((node["id"], node) for node in envelope["nodes"])
    elif kind == "upsert-rels":
        rels.update((_rel_key(rel), rel) for rel in envelope["relationships"])
    elif kind == "delete-rels":
        for pair in envelope["pairs"]:
            rels.pop(_rel_key(pair), None)
    elif kind == "delete-nodes":
        for node_id in envelope["ids"]:
            nodes.pop(node_id, None)


def fold(envelopes: Iterable[Json]) -> Json:
    """The snapshot envelope for a ring: later envelopes win, lists omitted when empty."""
    nodes: dict[str, Json] = {}
    rels: dict[tuple[str, str, str], Json] = {}
    flow: Json | None = None
    for envelope in envelopes:
        if envelope["type"] == "upsert-flow":
            flow = envelope["flow"]
        else:
            _apply(envelope, nodes, rels)
    snapshot: Json = {"type": "snapshot"}
    if flow is not None:
        snapshot["flow"] = flow
    # The contract promises no order; answering newest first keeps clients honest.
    if nodes:
        snapshot["nodes"] = list(reversed(nodes.values()))
    if rels:
        snapshot["relationships"] = list(reversed(rels.values()))
    return snapshot


class FlowServer:
    def __init__(
        self,
        *,
        ring_size: int = RING_SIZE,
        max_body: int = MAX_BODY,
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat: float = HEARTBEAT,
    ) -> None:
        self.ring_size = ring_size
        self.max_body = max_body
        self.host = host
        self.port = port
        self.heartbeat = heartbeat
        self.requests: list[Seen] = []
        self.streams: list[Seen] = []
        """Stream connections, apart from `requests`."""
        self.stream_bytes: dict[str, int] = {}
        """Bytes written on streams, per flow."""
        self.stream_enabled = True
        self.hanging = 0
        """Requests held unanswered by `hang()` or `slow_snapshots()` right now."""
        self._slow_snapshots = False
        self._readers: dict[str, set[_Reader]] = {}
        self._flows: dict[str, _Flow] = {}
        self._faults: list[_Fault] = []
        self.proxy_limit: int | None = None
        self._unhang = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._reopen: asyncio.Task[None] | None = None
        self._stream_generation = 0
        self.attack: str | None = None
        self.attack_bytes = 200 << 20
        self.attack_period = 0.05
        self.attack_high = 2**64
        self.attacked = 0
        """Requests answered by an attack so far."""
        self.attack_written = 0
        """Bytes of large attacking bodies written so far (the client stops reading them)."""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body * 4)
        app.router.add_post("/v1/flows/{flow_id}/events", self._post_events)
        app.router.add_get("/v1/flows/{flow_id}/snapshot", self._get_snapshot)
        app.router.add_get("/v1/flows/{flow_id}/stream", self._get_stream)
        app.router.add_delete("/v1/flows/{flow_id}", self._delete_flow)
        app.router.add_get("/healthz", self._ok)
        app.router.add_get("/readyz", self._ok)
        app.router.add_post("/_fake/restart", self._admin_restart)
        app.router.add_post("/_fake/fail", self._admin_fail)
        app.router.add_post("/_fake/hang", self._admin_hang)
        app.router.add_post("/_fake/heal", self._admin_heal)
        app.router.add_post("/_fake/refuse", self._admin_refuse)
        app.router.add_post("/_fake/limit", self._admin_limit)
        app.router.add_post("/_fake/end-streams", self._admin_end_streams)
        app.router.add_post("/_fake/attack", self._admin_attack)
        app.router.add_get("/_fake/requests", self._admin_requests)
        return app

    async def start(self) -> str:
        """Listen on `host:port` (a free port when 0); return the base URL."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await self.accept()
        return self.url

    async def close(self) -> None:
        self.end_streams()
        self._unhang.set()
        if self._reopen is not None:
            self._reopen.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = self._site = None

    async def refuse(self) -> None:
        """Stop listening and drop open connections: clients now get connection errors."""
        self.end_streams()
        if self._site is not None:
            await self._site.stop()
            self._site = None
        server = self._runner.server if self._runner is not None else None
        for connection in server.connections if server is not None else ():
            connection.force_close()

    async def accept(self) -> None:
        """Listen again, on the same port as before."""
        if self._runner is None or self._site is not None:
            return
        self._site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await self._site.start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]

    def restart(self) -> None:
        """Forget every flow and end every stream, as a restarted real server does.

        Recordings and faults stay.
        """
        self.end_streams()
        for flow_id in list(self._flows):
            self.lost(flow_id)
        self._flows.clear()

    def delete_flow(self, flow_id: str) -> None:
        """Drop one flow; its count starts again at 1 (open streams stay open)."""
        if self._flows.pop(flow_id, None) is not None:
            self.lost(flow_id)

    def end_streams(self) -> None:
        """End every open stream, as a dropped connection would."""
        self._stream_generation += 1
        for readers in self._readers.values():
            for reader in readers:
                reader.end()

    def accepted(
        self, flow_id: str, seq: int, envelope: Json, evicted: tuple[int, Json] | None
    ) -> None:
        """Called for every envelope accepted, with the one it evicted: a hook for benchmarks."""

    def lost(self, flow_id: str) -> None:
        """Called when a flow is forgotten (restart or delete): a hook for benchmarks."""

    def sequence(self, flow_id: str) -> int:
        """The flow's newest number (0 for a flow the server does not hold)."""
        flow = self._flows.get(flow_id)
        return 0 if flow is None else flow.seq

    def fail(
        self,
        status: int = 500,
        *,
        times: int | None = None,
        method: str | None = None,
        retry_after: str | None = None,
        body: str = "injected fault",
    ) -> None:
        """Answer `status` to the next `times` flow requests (all of them when `None`)."""
        self._faults.append(_Fault(status, times, method, retry_after, body))

    def hang(self, *, times: int | None = None, method: str | None = None) -> None:
        """Hold the next `times` flow requests unanswered until `heal()` (then 503, unapplied)."""
        self._faults.append(_Fault(None, times, method, None, ""))

    def slow_snapshots(self) -> None:
        """Fold each snapshot when its GET arrives, then hold the answer until `heal()`.

        What a real server does with a large flow: the answer is written from
        the state at arrival, and a POST can be acknowledged before it ends.
        """
        self._slow_snapshots = True

    def limit_bodies(self, limit: int | None) -> None:
        """Put a proxy in front that answers 413 to bodies over `limit` bytes; `None` lifts it."""
        self.proxy_limit = limit

    def behave(self) -> None:
        """End the attack, and the streams opened under it."""
        self.attack = None
        self.end_streams()

    def heal(self) -> None:
        """Drop every injected fault and release hung requests."""
        self._faults.clear()
        self._slow_snapshots = False
        self._unhang.set()
        self._unhang = asyncio.Event()

    def snapshot(self, flow_id: str) -> Json | None:
        """What `GET /v1/flows/{flow_id}/snapshot` answers now (`None` for 404)."""
        flow = self._flows.get(flow_id)
        return None if flow is None else fold(flow.envelopes())

    def posts(self, flow_id: str | None = None) -> list[Seen]:
        return [
            seen
            for seen in self.requests
            if seen.method == "POST" and flow_id in (None, seen.flow_id)
        ]

    def _fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(method):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    async def _faulty(self, request: web.Request) -> web.Response | None:
        fault = self._fault(request.method)
        if fault is None:
            return None
        if fault.status is None:
            self.hanging += 1
            try:
                await self._unhang.wait()
            finally:
                self.hanging -= 1
            return web.Response(status=503, text="hung request released")
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        return web.Response(status=fault.status, text=fault.body, headers=headers)

    def _record(
        self,
        request: web.Request,
        body: bytes,
        status: int,
        at: float,
        answered: int = 0,
        into: list[Seen] | None = None,
    ) -> None:
        (self.requests if into is None else into).append(
            Seen(
                at=at,
                method=request.method,
                path=request.path,
                flow_id=request.match_info.get("flow_id", ""),
                body=body,
                status=status,
                authorization=request.headers.get("Authorization"),
                content_type=request.headers.get("Content-Type"),
                answered=answered,
            )
        )

    async def _post_events(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        body = await request.read()
        refused = await self._hostile_refusal(request)
        response = (
            refused
            or self._proxy_refusal(body)
            or await self._faulty(request)
            or self._ingest(request.match_info["flow_id"], body)
        )
        if refused is None and response.status == 200:
            response = self._hostile_post_answer(response)
        self._record(request, body, response.status, arrived)
        return response

    # Attacks (`ATTACKS`).

    async def _hostile_refusal(self, request: web.Request) -> web.StreamResponse | None:
        """The answer to any flow request under `huge_error` or `echo_token`, else `None`."""
        if self.attack == "huge_error":
            self.attacked += 1
            return await self._large(request, 500, b"", b"x" * 65536, b"")
        if self.attack == "echo_token":
            self.attacked += 1
            header = request.headers.get("Authorization", "")
            token = header.partition(" ")[2]
            encoded = base64.b64encode(token.encode()).decode()
            text = (
                f"forbidden: {header} refused; token {token}; "
                f"as a query ?token={quote(token, safe='')}; base64 {encoded}"
            )
            return web.Response(status=403, text=text)
        return None

    def _hostile_post_answer(self, response: web.StreamResponse) -> web.StreamResponse:
        if self.attack == "huge_seq":
            self.attacked += 1
            return web.json_response(text='{"seq": ' + HUGE_SEQ + "}")
        if self.attack == "deep_nesting":
            self.attacked += 1
            return web.json_response(text="[" * DEEP + "]" * DEEP)
        return response

    async def _hostile_snapshot(self, request: web.Request) -> web.StreamResponse | None:
        if self.attack == "deep_nesting":
            self.attacked += 1
            nested = "[" * DEEP + "]" * DEEP
            return web.json_response(text='{"type": "snapshot", "nodes": [' + nested + "]}")
        if self.attack == "huge_snapshot":
            self.attacked += 1
            node = b'{"id":"other/n","flowId":"f","label":"n","status":"running"},'
            filler = node * (65536 // len(node))
            head, tail = b'{"type":"snapshot","nodes":[', b'{"id":"other/last"}]}'
            return await self._large(request, 200, head, filler, tail)
        return None

    async def _large(
        self, request: web.Request, status: int, head: bytes, filler: bytes, tail: bytes
    ) -> web.StreamResponse:
        """A body of about `attack_bytes`, written as the client reads it, never held whole."""
        response = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
        await response.prepare(request)
        written = 0
        with contextlib.suppress(ConnectionError):
            await response.write(head)
            written += len(head)
            while written + len(filler) + len(tail) <= self.attack_bytes:
                await response.write(filler)
                written += len(filler)
                self.attack_written += len(filler)
            await response.write(tail)
            await response.write_eof()
        return response

    async def _hostile_stream(self, request: web.Request) -> web.StreamResponse:
        """A stream under `superscript_id` or `alternating_ids`, until the attack ends."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        attack, generation = self.attack, self._stream_generation
        small = itertools.cycle((3, 1, 4, 1, 5, 9, 2, 6))
        with contextlib.suppress(ConnectionError):
            if attack == "superscript_id":
                self.attacked += 1
                await response.write("event: snapshot\nid: \u00b2\ndata: {}\n\n".encode())
            for turn in itertools.count():
                if self.attack != attack or self._stream_generation != generation:
                    break
                if attack == "alternating_ids":
                    seq = self.attack_high if turn % 2 == 0 else next(small)
                    self.attacked += 1
                    await response.write(sse("upsert-nodes", seq, {}))
                await asyncio.sleep(self.attack_period)
        return response

    def _proxy_refusal(self, body: bytes) -> web.Response | None:
        if self.proxy_limit is None or len(body) <= self.proxy_limit:
            return None
        page = "<html><head><title>413 Request Entity Too Large</title></head></html>"
        return web.Response(status=413, text=page, content_type="text/html")

    def _ingest(self, flow_id: str, body: bytes) -> web.Response:
        if len(body) > self.max_body:
            return web.Response(status=413, text=f"body over {self.max_body} bytes")
        try:
            envelope: object = json.loads(body)
        except ValueError as err:
            return web.Response(status=400, text=f"malformed JSON: {err}")
        found = problem(envelope)
        if found is not None or not isinstance(envelope, dict):
            return web.Response(status=400, text=found or "envelope must be a JSON object")
        flow = self._flows.setdefault(flow_id, _Flow(self.ring_size))
        seq, evicted = flow.accept(envelope)
        self.accepted(flow_id, seq, envelope, evicted)
        event = sse(str(envelope["type"]), seq, envelope)
        for reader in self._readers.get(flow_id, ()):
            reader.push(event)
        return web.json_response({"seq": seq})

    async def _get_snapshot(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        hostile = await self._hostile_refusal(request) or await self._hostile_snapshot(request)
        if hostile is not None:
            self._record(request, b"", hostile.status, arrived)
            return hostile
        response = await self._faulty(request)
        if response is None:
            snapshot = self.snapshot(request.match_info["flow_id"])
            if snapshot is None:
                response = web.Response(status=404, text="no such flow")
            else:
                response = web.json_response(text=json.dumps(snapshot))
            if self._slow_snapshots:
                self.hanging += 1
                try:
                    await self._unhang.wait()
                finally:
                    self.hanging -= 1
        answered = len(response.body) if isinstance(response.body, bytes) else 0
        self._record(request, b"", response.status, arrived, answered)
        return response

    async def _get_stream(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        flow_id = request.match_info["flow_id"]
        if not self.stream_enabled:
            self._record(request, b"", 404, arrived, into=self.streams)
            return web.Response(status=404, text="no stream here")
        refused = await self._hostile_refusal(request)
        if refused is not None:
            self._record(request, b"", refused.status, arrived, into=self.streams)
            return refused
        if self.attack in ("superscript_id", "alternating_ids"):
            self._record(request, b"", 200, arrived, into=self.streams)
            return await self._hostile_stream(request)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        self._record(request, b"", 200, arrived, into=self.streams)
        reader = _Reader()
        readers = self._readers.setdefault(flow_id, set())
        readers.add(reader)
        flow = self._flows.get(flow_id)
        reader.push(
            sse(
                "snapshot",
                0 if flow is None else flow.seq,
                fold([]) if flow is None else fold(flow.envelopes()),
            )
        )
        try:
            while not reader.ended:
                if not reader.pending:
                    reader.wake.clear()
                    try:
                        async with asyncio.timeout(self.heartbeat):
                            await reader.wake.wait()
                    except TimeoutError:
                        reader.push(sse("heartbeat", None, {}))
                    continue
                event = reader.pending.popleft()
                self.stream_bytes[flow_id] = self.stream_bytes.get(flow_id, 0) + len(event)
                await response.write(event)
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            readers.discard(reader)
        return response

    async def _delete_flow(self, request: web.Request) -> web.Response:
        self.delete_flow(request.match_info["flow_id"])
        return web.Response(status=204)

    async def _ok(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _admin_restart(self, request: web.Request) -> web.Response:
        self.restart()
        return web.Response(text="ok")

    async def _admin_fail(self, request: web.Request) -> web.Response:
        spec = await request.json()
        self.fail(
            int(spec.get("status", 500)),
            times=spec.get("times"),
            method=spec.get("method"),
            retry_after=spec.get("retryAfter"),
            body=str(spec.get("body", "injected fault")),
        )
        return web.Response(text="ok")

    async def _admin_hang(self, request: web.Request) -> web.Response:
        spec = await request.json()
        self.hang(times=spec.get("times"), method=spec.get("method"))
        return web.Response(text="ok")

    async def _admin_heal(self, request: web.Request) -> web.Response:
        self.heal()
        return web.Response(text="ok")

    async def _admin_refuse(self, request: web.Request) -> web.Response:
        seconds = float((await request.json()).get("seconds", 1.0))

        async def refuse_for() -> None:
            # Let this answer leave before its own connection is dropped.
            await asyncio.sleep(0.05)
            await self.refuse()
            await asyncio.sleep(seconds)
            await self.accept()

        self._reopen = asyncio.ensure_future(refuse_for())
        return web.Response(text="ok")

    async def _admin_limit(self, request: web.Request) -> web.Response:
        limit = (await request.json()).get("bytes")
        self.limit_bodies(None if limit is None else int(limit))
        return web.Response(text="ok")

    async def _admin_attack(self, request: web.Request) -> web.Response:
        spec = await request.json()
        attack = spec.get("attack")
        if attack is not None and attack not in ATTACKS:
            return web.Response(status=400, text=f"unknown attack {attack!r}")
        if "bytes" in spec:
            self.attack_bytes = int(spec["bytes"])
        if attack is None:
            self.behave()
        else:
            self.attack = attack
            self.end_streams()
        return web.Response(text="ok")

    async def _admin_end_streams(self, request: web.Request) -> web.Response:
        self.end_streams()
        return web.Response(text="ok")

    async def _admin_requests(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "requests": [
                    {
                        "at": seen.at,
                        "method": seen.method,
                        "flowId": seen.flow_id,
                        "status": seen.status,
                        "bytes": len(seen.body),
                        "envelope": seen.envelope()
                        if seen.method == "POST" and seen.status == 200
                        else None,
                    }
                    for seen in self.requests
                ]
            }
        )


async def serve(host: str, port: int, ring_size: int) -> None:
    await serve_until_signalled(FlowServer(ring_size=ring_size, host=host, port=port))


async def serve_until_signalled(server: FlowServer) -> None:
    """Listen, say where on stdout, and serve until SIGINT or SIGTERM."""
    await server.start()
    print(f"listening {server.url}", flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    try:
        await stopped.wait()
    finally:
        await server.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A fake OpenovaFlow server for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ring-size", type=int, default=RING_SIZE)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.ring_size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
