"""The flow-server stand-in for the ring benchmark: a real ring, numbers, the stream, and holes.

It is `tests.fakes.flow_server` (written from `docs/contract.md` alone: the
ring of the last N envelopes folded on demand, sequence numbers counted
from 1 per flow, the event stream with heartbeats and a 16-event buffer),
run as its own process so no other part of the benchmark can stall it, and
told which region to watch. At every envelope it accepts it updates that
region's missing time per flow exactly (`bench.holes`), and counts what the
watched poster cost: envelopes and bytes, snapshot GETs and their bytes,
stream connections and their bytes.

Flows named with `--unnumbered` are answered without sequence numbers and
without a stream, as a server before the ring contract: a poster then has
only its snapshot check to find what the ring evicted (the benchmark's
*previous* behaviour).

`python -m bench.ring_server --ring-size N --region R` prints the URL it
listens on; `GET /_bench/ring/{flowId}` answers the figures so far, and how
many of the region's nodes and edges the snapshot shows now (without
counting as a snapshot GET).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict

from aiohttp import web

from bench.holes import Holes
from localcluster.processes import free_ports
from tests.fakes.flow_server import FlowServer, Json, serve_until_signalled


class RingStandIn(FlowServer):
    def __init__(
        self,
        *,
        region: str,
        ring_size: int,
        host: str,
        port: int,
        unnumbered: Sequence[str] = (),
    ) -> None:
        super().__init__(ring_size=ring_size, host=host, port=port)
        self.region = region
        self.unnumbered = frozenset(unnumbered)
        self.holes: dict[str, Holes] = {}
        self._size = 0

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_get("/_bench/ring/{flow_id}", self._figures)
        return app

    def _flow_holes(self, flow_id: str) -> Holes:
        return self.holes.setdefault(flow_id, Holes(self.region))

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
        return await super()._get_stream(request)

    def accepted(
        self, flow_id: str, seq: int, envelope: Json, evicted: tuple[int, Json] | None
    ) -> None:
        self._flow_holes(flow_id).accepted(seq, envelope, evicted, time.monotonic(), self._size)

    def lost(self, flow_id: str) -> None:
        self._flow_holes(flow_id).lost(time.monotonic())

    async def _figures(self, request: web.Request) -> web.Response:
        flow_id = request.match_info["flow_id"]
        figures = self._flow_holes(flow_id).figures(time.monotonic())
        gets = [
            seen
            for seen in self.requests
            if seen.flow_id == flow_id and seen.method == "GET" and seen.path.endswith("/snapshot")
        ]
        snapshot = self.snapshot(flow_id) or {}
        region = self.region

        def mine(node_id: str) -> bool:
            return node_id == region or node_id.startswith(region + "/")

        return web.json_response(
            {
                **asdict(figures),
                "shown_nodes": sum(1 for n in snapshot.get("nodes", []) if mine(n["id"])),
                "shown_rels": sum(1 for r in snapshot.get("relationships", []) if mine(r["toId"])),
                "flow_sequence": self.sequence(flow_id),
                "snapshot_gets": len(gets),
                "snapshot_bytes": sum(seen.answered for seen in gets),
                "stream_connections": sum(1 for seen in self.streams if seen.flow_id == flow_id),
                "stream_bytes": self.stream_bytes.get(flow_id, 0),
            }
        )


async def serve(
    host: str, port: int, ring_size: int, region: str, unnumbered: Sequence[str]
) -> None:
    stand_in = RingStandIn(
        region=region, ring_size=ring_size, host=host, port=port, unnumbered=unnumbered
    )
    await serve_until_signalled(stand_in)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ring-size", type=int, required=True)
    parser.add_argument("--region", required=True, help="the region whose holes are measured")
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
