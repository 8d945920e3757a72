"""BASELINE, not the adapter: a naive poster that forwards each watch event as it arrives.

This is what the adapter is measured against, and it exists only in
`bench/`. It is the edge-triggered design `docs/design.md` rejects, written as a
careful engineer would write it in an afternoon: LIST, then WATCH from the
list's version; for every object (listed or changed) one `upsert-nodes`
with its node and one `upsert-rels` with its edges, one request in flight,
on a kept-alive connection. It maps with the adapter's own `mapper` and
reads the API server with the adapter's own library (kubernetes-asyncio,
through `bench.kube`), so the bytes per node and the client's cost are the
same on both sides and only the policy differs: no debounce, no
deduplication, no batching, no region roll-up.

It prints JSON lines on stdout: `listed` and `synced` once, then one
`acked` per watch event with when the event was read and when its node's
POST was answered (both `time.monotonic()`), so the harness can report its
latency from arrival like the adapter's histogram.

Run: `python -m bench.baseline --api URL --ca FILE --namespace NS
--flow-server URL --flow-id ID --region R`, with the bearer token in
`$BENCH_KUBE_TOKEN`.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

from bench.kube import Kube
from mapper import Batch, batches, map_release, parse_release
from mapper.objects import Unmappable


class Poster:
    """One kept-alive connection to the flow server; one request at a time."""

    def __init__(self, url: str, flow_id: str) -> None:
        parts = urlsplit(url)
        if parts.hostname is None:
            raise ValueError(f"no host in {url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._path = f"{parts.path.rstrip('/')}/v1/flows/{quote(flow_id, safe='')}/events"
        self._conn = http.client.HTTPConnection(self._host, self._port, timeout=30)

    def post(self, batch: Batch) -> None:
        for attempt in (1, 2):
            try:
                self._conn.request(
                    "POST", self._path, batch.body, {"Content-Type": "application/json"}
                )
                answer = self._conn.getresponse()
                answer.read()
            except (OSError, http.client.HTTPException):
                self._conn.close()
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=30)
                if attempt == 2:
                    raise
                continue
            if answer.status >= 300:
                raise RuntimeError(f"flow server answered {answer.status} to {batch.type}")
            return


class Baseline:
    def __init__(self, kube: Kube, poster: Poster, namespace: str, region: str, flow_id: str):
        self._kube = kube
        self._poster = poster
        self._namespace = namespace
        self._region = region
        self._flow_id = flow_id

    def forward(self, obj: Any) -> None:
        """Post this object's node, then its edges: the two envelopes every event costs."""
        view = parse_release(obj)
        if isinstance(view, Unmappable):
            return
        mapped = map_release(view, self._region, self._flow_id)
        for batch in batches("upsert-nodes", [mapped.node]):
            self._poster.post(batch)
        for batch in batches("upsert-rels", mapped.relationships):
            self._poster.post(batch)

    async def run(self, out: TextIO) -> None:
        """List, then watch for ever, forwarding each object as it comes.

        Posting blocks the event loop on purpose: one request in flight, and
        nothing else to do meanwhile; the watch waits in its socket.
        """
        listing = await self._kube.list_releases(self._namespace)
        say(out, "listed", objects=len(listing["items"]))
        for item in listing["items"]:
            self.forward(item)
        say(out, "synced")
        version = listing["metadata"]["resourceVersion"]
        while True:
            async for event in self._kube.watch_releases(
                self._namespace, version, timeout_seconds=300
            ):
                received = time.monotonic()
                obj = event.get("object", {})
                if event.get("type") == "ERROR":
                    raise RuntimeError(f"watch failed: {obj}")
                version = obj.get("metadata", {}).get("resourceVersion", version)
                if event.get("type") in ("ADDED", "MODIFIED"):
                    self.forward(obj)
                    say(out, "acked", received=received, acked=time.monotonic())


def say(out: TextIO, event: str, **fields: Any) -> None:
    out.write(json.dumps({"event": event, "at": time.monotonic(), **fields}) + "\n")
    out.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--api", required=True, help="kube-apiserver URL")
    parser.add_argument("--ca", required=True, help="the API server's CA bundle")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--flow-server", required=True)
    parser.add_argument("--flow-id", required=True)
    parser.add_argument("--region", required=True)
    args = parser.parse_args(argv)
    try:
        asyncio.run(_run(args))
    except KeyboardInterrupt:
        return 0
    return 0


async def _run(args: argparse.Namespace) -> None:
    kube = Kube(args.api, os.environ["BENCH_KUBE_TOKEN"], Path(args.ca), connections=1)
    async with kube:
        baseline = Baseline(
            kube, Poster(args.flow_server, args.flow_id), args.namespace, args.region, args.flow_id
        )
        await baseline.run(sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
