"""What a hostile flow server costs the adapter: memory and loop stalls, and re-sends (issue 25).

Two measurements, each against the fake flow server's hostile mode:

- `snapshot`: the peak RSS of a fresh process while `HttpSink` reads a
  snapshot at the limit (`FLOW_SERVER_SNAPSHOT_LIMIT`, 64 MiB by default),
  a 200 MB and a 1 GB one, and a 500 with a 200 MB body; with the longest
  stall of its event loop (the liveness probe fails past 10 s). For
  comparison, the same at-limit snapshot read whole and decoded with
  `json.loads`, as the adapter did before.
- `alternating`: the emitter, with its production defaults, follows a
  stream whose ids alternate every 50 ms between a large number and small
  ones (2^64, not a sequence number, and 2^40, one), for `--seconds`;
  counted are full re-sends (`flow_restarts`),
  suspicions, snapshot GETs and POSTs. Then the server restarts for real
  while the stream goes on, and the time until the graph is whole again
  is measured.

Run from the repository root: `.venv/bin/python -m bench.hostile snapshot`
(or `alternating`, or `all`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import sys
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
import structlog

from flux_adapter.emit.answers import SNAPSHOT_LIMIT
from flux_adapter.emit.emitter import Emitter
from flux_adapter.emit.http_sink import HttpSink
from flux_adapter.emit.sink import SinkError
from flux_adapter.observe.metrics import Metrics
from mapper import FlowNode, Graph, batches
from tests.fakes.flow_server import FlowServer
from tests.support import eventually
from tests.support.objects import NAMESPACE, SUCCEEDED, helm_release

REGION = "bench-1"
FLOW_ID = "bench"
MB = 1 << 20


def rss_mb() -> float:
    """The process's resident set now (MiB)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / MB


def peak_rss_mb() -> float:
    """The process's peak resident set so far (MiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _watch_stalls(stalls: list[float]) -> None:
    """Record how late each 10 ms tick of the loop came."""
    while True:
        before = time.monotonic()
        await asyncio.sleep(0.01)
        stalls.append(time.monotonic() - before - 0.01)


async def _read(url: str, how: str, limit: int) -> dict[str, Any]:
    """One read in this (fresh) process: its outcome, time, longest stall and memory."""
    stalls: list[float] = []
    watcher = asyncio.create_task(_watch_stalls(stalls))
    session = aiohttp.ClientSession()
    # Opening the session and a connection is not the read's cost.
    async with session.get(f"{url}/healthz") as answer:
        await answer.read()
    sink = HttpSink(url, FLOW_ID, snapshot_limit=limit, session=session)
    base = rss_mb()
    started = time.monotonic()
    outcome = "ok"
    try:
        if how == "whole":
            async with session.get(f"{url}/v1/flows/{FLOW_ID}/snapshot") as answer:
                json.loads(await answer.read())
        elif how == "post":
            node = FlowNode(id=REGION, flow_id=FLOW_ID, label=REGION, status="pending")
            await sink.post(next(batches("upsert-nodes", [node])))
        else:
            await sink.snapshot(REGION)
    except SinkError as err:
        outcome = f"{type(err).__name__}: {err.detail[:60]}"
    seconds = time.monotonic() - started
    watcher.cancel()
    await session.close()
    return {
        "outcome": outcome,
        "seconds": round(seconds, 2),
        "max_stall_ms": round(max(stalls, default=0.0) * 1000),
        "base_rss_mb": round(base),
        "peak_rss_mb": round(peak_rss_mb()),
    }


async def _child(url: str, how: str, limit: int) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.hostile",
        "read",
        "--url",
        url,
        "--how",
        how,
        "--limit",
        str(limit),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    found: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return found


async def snapshot_bench(limit: int) -> None:
    server = FlowServer()
    await server.start()
    cases = [
        (f"snapshot at the limit ({limit / MB:g} MiB)", "huge_snapshot", limit - 1024, "stream"),
        ("the same read whole, json.loads (before)", "huge_snapshot", limit - 1024, "whole"),
        ("a 200 MB snapshot", "huge_snapshot", 200 * 10**6, "stream"),
        ("a 1 GB snapshot", "huge_snapshot", 10**9, "stream"),
        ("a 500 with a 200 MB body (POST)", "huge_error", 200 * 10**6, "post"),
    ]
    print(f"{'case':44} {'peak RSS':>9} {'before':>7} {'time':>7} {'stall':>7}  outcome")
    try:
        for label, attack, size, how in cases:
            server.attack = attack
            server.attack_bytes = size
            found = await _child(server.url, how, limit)
            print(
                f"{label:44} {found['peak_rss_mb']:>6} MiB {found['base_rss_mb']:>3} MiB "
                f"{found['seconds']:>5.2f} s {found['max_stall_ms']:>4} ms  {found['outcome']}"
            )
    finally:
        server.behave()
        await server.close()


async def alternating_bench(seconds: float, high: int, releases: int) -> None:
    server = FlowServer()
    await server.start()
    graph = Graph(REGION, FLOW_ID)
    metrics = Metrics()
    emitter = Emitter(graph, HttpSink(server.url, FLOW_ID), metrics=metrics, ready=lambda: True)
    for index in range(releases):
        obj = helm_release(f"release-{index:03d}", ready=SUCCEEDED)
        emitter.notify(graph.apply("HelmRelease", (NAMESPACE, f"release-{index:03d}"), obj).touched)
    runner = asyncio.create_task(emitter.run())

    def count(name: str, **labels: str) -> float:
        return sum(
            metrics.value(name, {"source": source, **labels}) for source in ("post", "stream")
        )

    def whole() -> bool:
        snap = server.snapshot(FLOW_ID) or {}
        return sum(1 for node in snap.get("nodes", []) if node["id"].startswith(REGION)) == len(
            graph.nodes
        )

    try:
        await eventually(lambda: emitter.caught_up and whole(), "synced", deadline=60)
        server.attack_high = high
        server.attack = "alternating_ids"
        server.end_streams()
        posts, gets = len(server.posts()), _gets(server)
        await asyncio.sleep(seconds)
        print(
            f"{seconds:g} s of ids alternating between {high} and small numbers every "
            f"{server.attack_period * 1000:g} ms ({server.attacked} events):"
        )
        print(
            f"  full re-sends {count('flux_adapter_flow_restarts_total'):g}, suspicions checked "
            f"{count('flux_adapter_flow_loss_suspicions_total', verdict='not_confirmed'):g} "
            f"(not confirmed) + "
            f"{count('flux_adapter_flow_loss_suspicions_total', verdict='confirmed'):g} "
            f"(confirmed), snapshot GETs {_gets(server) - gets}, "
            f"POSTs {len(server.posts()) - posts}"
        )
        restarted = time.monotonic()
        server.restart()
        await eventually(whole, "repaired after the real restart", deadline=120)
        print(
            f"  a real restart during it: the graph whole again after "
            f"{time.monotonic() - restarted:.1f} s; full re-sends now "
            f"{count('flux_adapter_flow_restarts_total'):g}"
        )
    finally:
        server.behave()
        runner.cancel()
        await asyncio.wait({runner})
        await emitter.stop()
        await server.close()


def _gets(server: FlowServer) -> int:
    return sum(1 for seen in server.requests if seen.method == "GET")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile")
    parser.add_argument("what", choices=["snapshot", "alternating", "all", "read"])
    parser.add_argument("--limit", type=int, default=SNAPSHOT_LIMIT, help="snapshot limit, bytes")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--high",
        type=int,
        nargs="+",
        default=[2**64, 2**40],
        help="the large ids of the stream: one run each (2^64 is a bad answer, 2^40 is not)",
    )
    parser.add_argument("--releases", type=int, default=100)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--how", default="stream", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    if args.what == "read":
        print(json.dumps(asyncio.run(_read(args.url, args.how, args.limit))))
        return 0
    if args.what in ("snapshot", "all"):
        asyncio.run(snapshot_bench(args.limit))
    if args.what in ("alternating", "all"):
        for high in args.high:
            asyncio.run(alternating_bench(args.seconds, high, args.releases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
