"""The dry-run sink: the whole graph printed once as JSON lines, then only changes."""

from __future__ import annotations

import asyncio
import io
import json

from flux_adapter.emit.dry_run import DryRunSink
from flux_adapter.emit.emitter import Emitter
from flux_adapter.observe.metrics import Metrics
from mapper import Graph
from tests.support import eventually
from tests.support.objects import (
    BOOTSTRAP_KIT,
    NAMESPACE,
    SUCCEEDED,
    UPGRADE_FAILED,
    helm_release,
)
from tests.support.rig import FLOW_ID, REGION


async def test_dry_run_prints_the_graph_once_then_only_changes() -> None:
    out = io.StringIO()
    graph = Graph(REGION, FLOW_ID)
    for name, _, depends_on in BOOTSTRAP_KIT:
        graph.apply(
            "HelmRelease",
            (NAMESPACE, name),
            helm_release(name, depends_on=depends_on, ready=SUCCEEDED),
        )
    emitter = Emitter(
        graph, DryRunSink(out), metrics=Metrics(), ready=lambda: True, emit_interval=0.01
    )
    runner = asyncio.create_task(emitter.run())
    await eventually(lambda: emitter.caught_up, "the first sync")
    emitter.request_resync()
    await eventually(lambda: emitter.caught_up, "a snapshot check")
    applied = graph.apply(
        "HelmRelease",
        (NAMESPACE, "bp-flux"),
        helm_release("bp-flux", depends_on=("bp-cilium",), ready=UPGRADE_FAILED),
    )
    emitter.notify(applied.touched)
    await emitter.stop()

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["type"] for line in lines] == ["upsert-nodes", "upsert-rels", "upsert-nodes"]
    assert lines[0]["nodes"][0]["id"] == REGION
    assert [node["id"] for node in lines[2]["nodes"]] == [REGION, f"{REGION}/bp-flux"]
    assert runner.done()
