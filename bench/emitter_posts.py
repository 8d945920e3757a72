"""How many POSTs the emitter needs, against a poster that sends each event as it comes.

Two workloads, each run against a fresh fake flow server:
- the initial sync of 5,000 HelmReleases (each depending on the one before);
- 1,000 status changes to random releases, spread evenly over 10 seconds.

The emitter runs with its production defaults (200 ms window, 1 MiB
envelopes). The naive poster sends two envelopes per change, one POST each:
the release's node plus its edges at start-up, its node plus the region
node afterwards. Every figure is counted by the server, not estimated.

Run from the repository root: `.venv/bin/python -m bench.emitter_posts`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass

import aiohttp
import structlog

from flux_adapter.emit.emitter import Emitter
from flux_adapter.emit.http_sink import HttpSink
from flux_adapter.observe.metrics import Metrics
from mapper import Graph, Keys
from tests.fakes.flow_server import FlowServer
from tests.support import eventually
from tests.support.objects import NAMESPACE, PROGRESSING, SUCCEEDED, helm_release

REGION = "bench-1"
FLOW_ID = "bench"
LATENCY = "flux_adapter_change_to_ack_seconds"

Plan = list[tuple[int, bool]]


@dataclass
class Count:
    posts: int
    bytes: int
    seconds: float


def name(index: int) -> str:
    return f"release-{index:05d}"


def apply(graph: Graph, index: int, running: bool = False) -> Keys:
    """Map one release into the graph, as the watch layer does; answer the touched keys."""
    obj = helm_release(
        name(index),
        labels={"app.kubernetes.io/part-of": "bootstrap-kit", "catalyst.openova.io/slot": "7"},
        depends_on=(name(index - 1),) if index else (),
        ready=PROGRESSING if running else SUCCEEDED,
        message="Helm upgrade succeeded",
        revision="1.2.3",
    )
    return graph.apply("HelmRelease", (NAMESPACE, name(index)), obj).touched


async def pace(started: float, step: int, plan: Plan, spread: float) -> None:
    """Sleep until change `step + 1` is due, so the plan spreads evenly over `spread` s."""
    await asyncio.sleep(max(0.0, started + (step + 1) * spread / len(plan) - time.monotonic()))


def counted(server: FlowServer, since: int, started: float) -> Count:
    posts = server.posts(FLOW_ID)[since:]
    assert all(seen.status == 200 for seen in posts), "the server refused something"
    return Count(len(posts), sum(len(seen.body) for seen in posts), time.monotonic() - started)


def changes(releases: int, count: int, seed: int) -> Plan:
    """(release, running?) pairs: each change flips one release's status."""
    rng = random.Random(seed)
    running: set[int] = set()
    plan = []
    for _ in range(count):
        index = rng.randrange(releases)
        running ^= {index}
        plan.append((index, index in running))
    return plan


async def emitter_run(releases: int, plan: Plan, spread: float) -> tuple[Count, Count, float]:
    """POSTs for both workloads, and the mean change-to-ack latency during the changes."""
    server = FlowServer()
    await server.start()
    graph = Graph(REGION, FLOW_ID)
    metrics = Metrics()
    emitter = Emitter(graph, HttpSink(server.url, FLOW_ID), metrics=metrics, ready=lambda: True)
    try:
        for index in range(releases):
            emitter.notify(apply(graph, index))
        started = time.monotonic()
        runner = asyncio.create_task(emitter.run())
        await eventually(lambda: emitter.caught_up, "the initial sync", deadline=600)
        initial = counted(server, 0, started)

        latency_sum = metrics.value(LATENCY + "_sum")
        latency_count = metrics.value(LATENCY + "_count")
        since, started = len(server.posts(FLOW_ID)), time.monotonic()
        for step, (index, running) in enumerate(plan):
            emitter.notify(apply(graph, index, running))
            await pace(started, step, plan, spread)
        await eventually(lambda: emitter.caught_up, "the last change", deadline=600)
        churn = counted(server, since, started)
        latency_sum = metrics.value(LATENCY + "_sum") - latency_sum
        latency_count = metrics.value(LATENCY + "_count") - latency_count
        await emitter.stop()
        await asyncio.wait({runner})
        return initial, churn, latency_sum / latency_count
    finally:
        await server.close()


def naive_bodies(graph: Graph, index: int, touched: Keys | None = None) -> list[bytes]:
    """One release's node, then its edges (first sight) or the region node (a change)."""
    node = json.loads(graph.nodes[f"{REGION}/{name(index)}"].wire())
    if touched is None:
        second = {"type": "upsert-nodes", "nodes": [json.loads(graph.nodes[REGION].wire())]}
    else:
        rels = [json.loads(graph.rels[key].wire()) for key in touched.rels]
        second = {"type": "upsert-rels", "relationships": rels}
    first = {"type": "upsert-nodes", "nodes": [node]}
    return [json.dumps(first).encode(), json.dumps(second).encode()]


async def naive_run(releases: int, plan: Plan, spread: float) -> tuple[Count, Count]:
    server = FlowServer()
    await server.start()
    graph = Graph(REGION, FLOW_ID)
    url = f"{server.url}/v1/flows/{FLOW_ID}/events"
    try:
        async with aiohttp.ClientSession(headers={"Content-Type": "application/json"}) as session:

            async def post(bodies: list[bytes]) -> None:
                for body in bodies:
                    async with session.post(url, data=body) as answer:
                        await answer.read()

            started = time.monotonic()
            for index in range(releases):
                await post(naive_bodies(graph, index, apply(graph, index)))
            initial = counted(server, 0, started)

            since, started = len(server.posts(FLOW_ID)), time.monotonic()
            for step, (index, running) in enumerate(plan):
                apply(graph, index, running)
                await post(naive_bodies(graph, index))
                await pace(started, step, plan, spread)
            return initial, counted(server, since, started)
    finally:
        await server.close()


async def main(releases: int, count: int, spread: float, seed: int) -> None:
    plan = changes(releases, count, seed)
    emitted_initial, emitted_churn, latency = await emitter_run(releases, plan, spread)
    naive_initial, naive_churn = await naive_run(releases, plan, spread)
    rows = [
        (f"initial sync, {releases} releases", emitted_initial, naive_initial),
        (f"{count} status changes over {spread:g} s", emitted_churn, naive_churn),
    ]
    print(f"{'workload':40} {'emitter POSTs':>14} {'naive POSTs':>12} {'MB':>6} {'naive MB':>9}")
    for label, ours, theirs in rows:
        print(
            f"{label:40} {ours.posts:>14} {theirs.posts:>12} "
            f"{ours.bytes / 1e6:>6.2f} {theirs.bytes / 1e6:>9.2f}"
        )
    print(
        f"emitter: initial sync in {emitted_initial.seconds:.2f} s, "
        f"mean change-to-ack latency during the changes {latency * 1000:.0f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=5000)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=10.0, help="seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(main(args.releases, args.changes, args.spread, args.seed))
