"""What holding one release costs the adapter, pinned without a cluster.

The benchmark measures the process's RSS; this measures the part our code
decides, the store and the desired graph, on the benchmark's own objects,
so a change that makes every release dearer fails here in a second instead
of showing up later as a worse figure in BENCHMARKS.md.
"""

from __future__ import annotations

import gc
import json
import tracemalloc

from bench.workload import release, status
from flux_adapter.informer.store import Store
from flux_adapter.observe.metrics import Metrics
from mapper import Graph, Keys

RELEASES = 2000
BUDGET = 4000
"""Bytes per release: 6,700 before the store kept bytes and models shared field sets, 3,900
before slimming dropped what the mapper never reads and views interned their strings, 3,350
before the views were declared as nested slotted dataclasses, 3,200 now."""


class Discard:
    def notify(self, keys: Keys) -> None:
        pass


def listed(index: int) -> bytes:
    obj = release("bench", index)
    obj["status"] = status(0, ready=True)
    obj["metadata"].update(
        resourceVersion=str(1000 + index),
        uid=f"{index:08x}-0000-4000-8000-000000000000",
        generation=1,
        creationTimestamp="2026-01-01T00:00:00Z",
    )
    return json.dumps(obj).encode()


def test_a_listed_release_costs_the_store_and_graph_under_four_kilobytes() -> None:
    raw = [listed(index) for index in range(RELEASES)]
    store = Store(Graph("bench", "flow"), Discard(), Metrics())
    gc.collect()
    tracemalloc.start()
    try:
        relist = store.relist("HelmRelease")
        for body in raw:
            relist.add(json.loads(body))
        relist.commit()
        del relist
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(store.graph.nodes) == RELEASES + 1
    assert held / RELEASES < BUDGET, f"{held / RELEASES:.0f} bytes per release"
