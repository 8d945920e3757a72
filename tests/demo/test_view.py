"""The live screen and the plain lines, rendered from a literal snapshot."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from demo.flux import Ready
from demo.graph import FlowGraph
from demo.view import LiveUi, PlainUi, render


def snapshot(c_status: str) -> dict[str, Any]:
    nodes = [
        {"id": "r", "label": "r", "status": c_status},
        {"id": "r/a", "label": "bp-a", "status": "succeeded", "family": "net"},
        {"id": "r/c", "label": "bp-c", "status": c_status, "family": "db"},
    ]
    rels = [
        {"fromId": "r/a", "toId": "r", "type": "contains"},
        {"fromId": "r/c", "toId": "r", "type": "contains"},
        {"fromId": "r/a", "toId": "r/c", "type": "finish-to-start"},
    ]
    return {"type": "snapshot", "nodes": nodes, "relationships": rels}


def test_live_screen_shows_the_region_its_releases_and_the_cluster_events() -> None:
    console = Console(file=io.StringIO(), width=120, record=True, color_system=None)
    graph = FlowGraph.from_snapshot(snapshot("failed"))

    console.print(render(graph, ["  1.0s  flux     bp-c  Ready=False InstallFailed"], 3.5, "GET x"))
    text = console.export_text()

    assert "the flow server holds (GET x)" in text
    assert "✘ region r  failed   1 succeeded · 1 failed" in text
    assert "✔ bp-a   succeeded  net" in text
    assert "✘   bp-c failed     db  needs bp-a" in text
    assert "1.0s  flux     bp-c  Ready=False InstallFailed" in text
    assert "3.5s" in text


def test_plain_lines_name_each_change_once() -> None:
    out = io.StringIO()
    ui = PlainUi(out)

    ui.show(1.0, FlowGraph.from_snapshot(snapshot("running")))
    ui.show(1.5, FlowGraph.from_snapshot(snapshot("running")))
    ui.cluster_event(2.0, "bp-c  Ready=True")
    ui.show(2.5, FlowGraph.from_snapshot(snapshot("succeeded")))
    ui.show(3.0, FlowGraph.from_snapshot(None))

    assert out.getvalue().splitlines() == [
        "[   1.0s] flow     r                          running",
        "[   1.0s] flow     r/a                        succeeded",
        "[   1.0s] flow     r/c                        running",
        "[   2.0s] cluster  bp-c  Ready=True",
        "[   2.5s] flow     r                          running -> succeeded",
        "[   2.5s] flow     r/c                        running -> succeeded",
        "[   3.0s] flow     r                          succeeded -> deleted",
        "[   3.0s] flow     r/a                        succeeded -> deleted",
        "[   3.0s] flow     r/c                        succeeded -> deleted",
    ]


def test_plain_lines_put_helm_controllers_words_beside_the_flow_servers_status() -> None:
    out = io.StringIO()
    ui = PlainUi(out)

    ui.cluster_event(0.1, "created HelmRelease bp-c")
    ui.flux_event(2.0, "bp-c", Ready("False", "InstallFailed", "Helm install failed"))
    ui.show(2.2, FlowGraph.from_snapshot(snapshot("failed")))
    ui.flux_event(9.0, "bp-c", None)

    assert out.getvalue().splitlines() == [
        "[   0.1s] cluster  created HelmRelease bp-c",
        "[   2.0s] flux     bp-c                 Ready=False InstallFailed: Helm install failed",
        "[   2.2s] flow     r                          failed",
        "[   2.2s] flow     r/a                        succeeded",
        "[   2.2s] flow     r/c                        failed",
        "[   9.0s] flux     bp-c                 gone from the cluster"
        " (helm-controller uninstalled it)",
    ]


def test_live_screen_lists_flux_messages_and_the_demos_writes_under_the_cluster() -> None:
    console = Console(file=io.StringIO(), width=140, record=True, color_system=None)
    ui = LiveUi("GET x", console)

    with ui.play():
        ui.cluster_event(0.1, "created HelmRelease bp-c")
        ui.flux_event(2.0, "bp-c", Ready("True", "InstallSucceeded", "Helm install succeeded"))
    text = console.export_text()

    assert "the cluster (what helm-controller wrote; what the demo did)" in text
    assert "0.1s  cluster  created HelmRelease bp-c" in text
    assert (
        "2.0s  flux     bp-c                 Ready=True InstallSucceeded: Helm install succeeded"
        in text
    )
