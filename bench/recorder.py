"""The flow server stand-in for benchmarks: answers as the contract says, remembers each POST.

It runs as its own process (`python -m bench.recorder`), so the time a POST
arrives is taken by a process that neither the load generator nor the
poster under test can stall. Times are `time.monotonic()`, which on Linux is
one clock for every process on the machine.

Unlike `tests.fakes.flow_server` it keeps each flow as a folded graph rather
than a ring: a benchmark sends tens of thousands of envelopes, and the
adapter's snapshot check must not see state evicted by the baseline's
traffic or pay for folding a long ring. Validation is the fake's own.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from localcluster.processes import free_ports
from tests.fakes.flow_server import MAX_BODY, problem

Json = dict[str, Any]


@dataclass
class _Flow:
    nodes: dict[str, Json] = field(default_factory=dict)
    rels: dict[tuple[str, str, str], Json] = field(default_factory=dict)
    posts: list[Json] = field(default_factory=list)

    def fold(self, envelope: Json) -> None:
        kind = envelope["type"]
        if kind == "upsert-nodes":
            for node in envelope["nodes"]:
                self.nodes[node["id"]] = node
        elif kind == "upsert-rels":
            for rel in envelope["relationships"]:
                self.rels[(rel["fromId"], rel["toId"], rel["type"])] = rel
        elif kind == "delete-rels":
            for pair in envelope["pairs"]:
                self.rels.pop((pair["fromId"], pair["toId"], pair["type"]), None)
        elif kind == "delete-nodes":
            for node_id in envelope["ids"]:
                self.nodes.pop(node_id, None)


class Recorder:
    def __init__(self) -> None:
        self._flows: dict[str, _Flow] = {}

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY * 4)
        app.router.add_post("/v1/flows/{flow_id}/events", self._events)
        app.router.add_get("/v1/flows/{flow_id}/snapshot", self._snapshot)
        app.router.add_get("/_bench/flows/{flow_id}", self._summary)
        app.router.add_get("/_bench/flows/{flow_id}/posts", self._posts)
        return app

    async def _events(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        body = await request.read()
        flow = self._flows.setdefault(request.match_info["flow_id"], _Flow())
        status, text = self._ingest(flow, body)
        flow.posts.append(
            {
                "arrived": arrived,
                "answered": time.monotonic(),
                "bytes": len(body),
                "status": status,
                "body": body.decode("utf-8", errors="replace"),
            }
        )
        return web.Response(status=status, text=text, content_type="application/json")

    def _ingest(self, flow: _Flow, body: bytes) -> tuple[int, str]:
        if len(body) > MAX_BODY:
            return 413, json.dumps({"error": "body over 1 MiB"})
        try:
            envelope: object = json.loads(body)
        except ValueError as err:
            return 400, json.dumps({"error": f"malformed JSON: {err}"})
        found = problem(envelope)
        if found is not None or not isinstance(envelope, dict):
            return 400, json.dumps({"error": found})
        flow.fold(envelope)
        return 200, json.dumps({"seq": len(flow.posts) + 1})

    async def _snapshot(self, request: web.Request) -> web.Response:
        flow = self._flows.get(request.match_info["flow_id"])
        if flow is None or not (flow.nodes or flow.rels):
            return web.Response(status=404, text="no such flow")
        snapshot: Json = {"type": "snapshot"}
        if flow.nodes:
            snapshot["nodes"] = list(flow.nodes.values())
        if flow.rels:
            snapshot["relationships"] = list(flow.rels.values())
        return web.json_response(snapshot)

    async def _summary(self, request: web.Request) -> web.Response:
        flow = self._flows.get(request.match_info["flow_id"], _Flow())
        return web.json_response(
            {"posts": len(flow.posts), "nodes": len(flow.nodes), "rels": len(flow.rels)}
        )

    async def _posts(self, request: web.Request) -> web.Response:
        flow = self._flows.get(request.match_info["flow_id"], _Flow())
        since = int(request.query.get("since", "0"))
        return web.json_response({"posts": flow.posts[since:]})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    port = args.port or free_ports(1, args.host)[0]
    web.run_app(
        Recorder().app(),
        host=args.host,
        port=port,
        access_log=None,
        shutdown_timeout=1.0,
        print=lambda _: print(f"listening http://{args.host}:{port}", flush=True),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
