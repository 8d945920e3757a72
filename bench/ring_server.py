"""The flow-server stand-in of the ring and regions benchmarks: a real ring, the stream, holes.

It is `tests.fakes.flow_server` (written from `docs/contract.md` alone: the
ring of the last N envelopes folded on demand, sequence numbers counted
from 1 per flow, the event stream with heartbeats and a 16-event buffer),
run as its own process so no other part of the benchmark can stall it, and
told which regions to watch. At every envelope it accepts it updates each
watched region's missing time per flow exactly (`bench.holes`), and counts
what the watched posters cost: envelopes and bytes, snapshot GETs and their
bytes, stream connections and their bytes.

Several posters into one flow are told apart by the path prefix of the URL
each is given: `{url}/c/{client}/v1/flows/...` is the flow API as at
`{url}/v1/...`, with every request, answer byte and stream byte counted
for `client` (`GET /_bench/regions/{flowId}`). A stream reader that falls
more than the stream's buffer behind loses the oldest events, as on the
real server; the stand-in counts them per client, since a starved poster
shows there first.

Flows named with `--unnumbered` are answered without sequence numbers and
without a stream, as a server before the ring contract: a poster then has
only its snapshot check to find what the ring evicted (the benchmark's
*previous* behaviour).

`python -m bench.ring_server --ring-size N --region R [--region R2 ...]`
prints the URL it listens on; `GET /_bench/ring/{flowId}` answers the first
region's figures so far, and how many of its nodes and edges the snapshot
shows now (without counting as a snapshot GET); `GET
/_bench/regions/{flowId}` answers the same for every region, with each
client's counts and the snapshot's size now, and `GET
/_bench/regions/{flowId}/posts?client=C` the POSTs one client made
(arrival time and body).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from aiohttp import web

from bench.holes import Holes
from localcluster.processes import free_ports
from tests.fakes.flow_server import (
    STREAM_BUFFER,
    FlowServer,
    Json,
    _Reader,
    fold,
    serve_until_signalled,
    sse,
)

FLOW_API = "/v1/flows/{flow_id}"
CLIENT_PREFIX = "/c/{client}"


@dataclass
class ClientCounts:
    """What one client (a URL path prefix) cost the stand-in; bytes are answer or event bodies."""

    posts: int = 0
    post_bytes: int = 0
    """Bytes of the envelopes it posted."""
    snapshot_gets: int = 0
    snapshot_bytes: int = 0
    streams: int = 0
    """Stream connections opened."""
    stream_bytes: int = 0
    stream_events: int = 0
    stream_dropped: int = 0
    """Events its stream lost because it read more than the buffer behind."""


class _CountingReader(_Reader):
    def __init__(self, counts: ClientCounts) -> None:
        super().__init__()
        self.counts = counts

    def push(self, event: bytes) -> None:
        if len(self.pending) == STREAM_BUFFER:
            self.counts.stream_dropped += 1
        super().push(event)


class RingStandIn(FlowServer):
    def __init__(
        self,
        *,
        regions: Sequence[str],
        ring_size: int,
        host: str,
        port: int,
        unnumbered: Sequence[str] = (),
    ) -> None:
        super().__init__(ring_size=ring_size, host=host, port=port)
        if not regions:
            raise ValueError("watch at least one region")
        self.regions = list(regions)
        self.unnumbered = frozenset(unnumbered)
        self.holes: dict[str, dict[str, Holes]] = {}
        """Per flow, per region."""
        self.clients: dict[str, ClientCounts] = {}
        self._size = 0

    def app(self) -> web.Application:
        app = super().app()
        prefixed = CLIENT_PREFIX + FLOW_API
        app.router.add_post(prefixed + "/events", self._post_events)
        app.router.add_get(prefixed + "/snapshot", self._get_snapshot)
        app.router.add_get(prefixed + "/stream", self._get_stream)
        app.router.add_get("/_bench/ring/{flow_id}", self._figures)
        app.router.add_get("/_bench/regions/{flow_id}", self._regions)
        app.router.add_get("/_bench/regions/{flow_id}/posts", self._client_posts)
        return app

    def _flow_holes(self, flow_id: str) -> dict[str, Holes]:
        found = self.holes.get(flow_id)
        if found is None:
            found = self.holes[flow_id] = {region: Holes(region) for region in self.regions}
        return found

    def _counts(self, request: web.Request) -> ClientCounts | None:
        client = request.match_info.get("client")
        return None if client is None else self.clients.setdefault(client, ClientCounts())

    async def _post_events(self, request: web.Request) -> web.StreamResponse:
        response = await super()._post_events(request)
        counts = self._counts(request)
        if counts is not None:
            counts.posts += 1
            counts.post_bytes += len(self.requests[-1].body)
        return response

    async def _get_snapshot(self, request: web.Request) -> web.StreamResponse:
        response = await super()._get_snapshot(request)
        counts = self._counts(request)
        if counts is not None:
            counts.snapshot_gets += 1
            counts.snapshot_bytes += self.requests[-1].answered
        return response

    def _ingest(self, flow_id: str, body: bytes) -> web.Response:
        # Synchronous from here to `accepted`: no other request interleaves.
        self._size = len(body)
        answer = super()._ingest(flow_id, body)
        if flow_id in self.unnumbered and answer.status == 200:
            return web.json_response({})
        return answer

    async def _get_stream(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["flow_id"] in self.unnumbered:
            return web.Response(status=404, text="no stream for this flow")
        counts = self._counts(request)
        if counts is None or not self.stream_enabled:
            return await super()._get_stream(request)
        return await self._counted_stream(request, counts)

    async def _counted_stream(
        self, request: web.Request, counts: ClientCounts
    ) -> web.StreamResponse:
        """`FlowServer._get_stream`, with what is written and dropped counted for the client."""
        arrived = time.monotonic()
        flow_id = request.match_info["flow_id"]
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        self._record(request, b"", 200, arrived, into=self.streams)
        counts.streams += 1
        reader = _CountingReader(counts)
        readers = self._readers.setdefault(flow_id, set())
        readers.add(reader)
        snapshot = self.snapshot(flow_id)
        reader.push(sse("snapshot", self.sequence(flow_id), snapshot or fold([])))
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
                counts.stream_bytes += len(event)
                counts.stream_events += 1
                await response.write(event)
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            readers.discard(reader)
        return response

    def accepted(
        self, flow_id: str, seq: int, envelope: Json, evicted: tuple[int, Json] | None
    ) -> None:
        now = time.monotonic()
        for holes in self._flow_holes(flow_id).values():
            holes.accepted(seq, envelope, evicted, now, self._size)

    def lost(self, flow_id: str) -> None:
        now = time.monotonic()
        for holes in self._flow_holes(flow_id).values():
            holes.lost(now)

    def _region_figures(self, flow_id: str, region: str, snapshot: Json) -> Json:
        """One region's holes so far and how many of its nodes and edges the snapshot shows."""

        def mine(node_id: str) -> bool:
            return node_id == region or node_id.startswith(region + "/")

        return {
            **asdict(self._flow_holes(flow_id)[region].figures(time.monotonic())),
            "shown_nodes": sum(1 for n in snapshot.get("nodes", []) if mine(n["id"])),
            "shown_rels": sum(1 for r in snapshot.get("relationships", []) if mine(r["toId"])),
        }

    async def _figures(self, request: web.Request) -> web.Response:
        flow_id = request.match_info["flow_id"]
        gets = [
            seen
            for seen in self.requests
            if seen.flow_id == flow_id and seen.method == "GET" and seen.path.endswith("/snapshot")
        ]
        snapshot = self.snapshot(flow_id) or {}
        return web.json_response(
            {
                **self._region_figures(flow_id, self.regions[0], snapshot),
                "flow_sequence": self.sequence(flow_id),
                "snapshot_gets": len(gets),
                "snapshot_bytes": sum(seen.answered for seen in gets),
                "stream_connections": sum(1 for seen in self.streams if seen.flow_id == flow_id),
                "stream_bytes": self.stream_bytes.get(flow_id, 0),
            }
        )

    async def _regions(self, request: web.Request) -> web.Response:
        flow_id = request.match_info["flow_id"]
        snapshot = self.snapshot(flow_id)
        return web.json_response(
            {
                "at": time.monotonic(),
                "flow_sequence": self.sequence(flow_id),
                "snapshot_size": 0 if snapshot is None else len(json.dumps(snapshot)),
                "regions": {
                    region: self._region_figures(flow_id, region, snapshot or {})
                    for region in self.regions
                },
                "clients": {client: asdict(counts) for client, counts in self.clients.items()},
            }
        )

    async def _client_posts(self, request: web.Request) -> web.Response:
        flow_id = request.match_info["flow_id"]
        prefix = CLIENT_PREFIX.format(client=request.query["client"]) + "/"
        return web.json_response(
            {
                "posts": [
                    {"arrived": seen.at, "status": seen.status, "body": seen.body.decode()}
                    for seen in self.requests
                    if seen.method == "POST"
                    and seen.flow_id == flow_id
                    and seen.path.startswith(prefix)
                ]
            }
        )


async def serve(
    host: str, port: int, ring_size: int, regions: Sequence[str], unnumbered: Sequence[str]
) -> None:
    stand_in = RingStandIn(
        regions=regions, ring_size=ring_size, host=host, port=port, unnumbered=unnumbered
    )
    await serve_until_signalled(stand_in)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ring-size", type=int, required=True)
    parser.add_argument(
        "--region",
        action="append",
        required=True,
        help="a region whose holes are measured (repeatable; the first is /_bench/ring's)",
    )
    parser.add_argument(
        "--unnumbered",
        action="append",
        default=[],
        metavar="FLOW",
        help="a flow answered without sequence numbers or stream (repeatable)",
    )
    args = parser.parse_args(argv)
    port = args.port or free_ports(1, args.host)[0]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, port, args.ring_size, args.region, args.unnumbered))
    return 0


if __name__ == "__main__":
    sys.exit(main())
