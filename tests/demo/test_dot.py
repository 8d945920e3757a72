"""The picture's DOT source and the reading of a snapshot behind it, from literals."""

from __future__ import annotations

from typing import Any

from demo.dot import to_dot
from demo.graph import FlowGraph, Release


def node(node_id: str, status: str, **extra: Any) -> dict[str, Any]:
    label = node_id.split("/")[-1]
    return {"id": node_id, "flowId": "f", "label": label, "status": status, **extra}


def rel(src: str, dst: str, kind: str) -> dict[str, Any]:
    return {"fromId": src, "toId": dst, "type": kind}


SNAPSHOT: dict[str, Any] = {
    "type": "snapshot",
    # Newest first, as the fake server answers: order must not matter.
    "nodes": [
        node("r/c", "failed", family="db", meta={"readyReason": "InstallFailed"}),
        node("r/b", "running", family="web", meta={"chart": {"name": "b-chart", "version": "1.2"}}),
        node("r/a", "succeeded", family="net"),
        node("r", "failed", region="r"),
    ],
    "relationships": [
        rel("r/a", "r", "contains"),
        rel("r/b", "r", "contains"),
        rel("r/c", "r", "contains"),
        rel("r/a", "r/b", "finish-to-start"),
        rel("r/b", "r/c", "finish-to-start"),
        rel("r/a", "r/c", "finish-to-start"),
        # Left behind by a delete-nodes without its delete-rels: canvases hide it.
        rel("r/gone", "r/c", "finish-to-start"),
    ],
}


def test_snapshot_reads_as_a_region_of_releases_in_dependency_order() -> None:
    graph = FlowGraph.from_snapshot(SNAPSHOT)

    (region,) = graph.regions
    assert (region.id, region.status) == ("r", "failed")
    assert region.releases == (
        Release("r/a", "a", "succeeded", "net", None, None, (), 0),
        Release("r/b", "b", "running", "web", "b-chart 1.2", None, ("a",), 1),
        Release("r/c", "c", "failed", "db", None, "InstallFailed", ("a", "b"), 2),
    )
    assert graph.loose == ()
    assert graph.edges == (("r/a", "r/b"), ("r/a", "r/c"), ("r/b", "r/c"))
    assert graph.statuses() == {
        "r": "failed",
        "r/a": "succeeded",
        "r/b": "running",
        "r/c": "failed",
    }


def test_independent_chains_stay_together_ordered_by_their_root() -> None:
    snapshot = {
        "type": "snapshot",
        "nodes": [
            node("r", "running"),
            node("r/zeta", "pending"),
            node("r/omega", "pending"),
            node("r/alpha", "running"),
            node("r/beta", "running"),
        ],
        "relationships": [
            *(rel(f"r/{n}", "r", "contains") for n in ("zeta", "omega", "alpha", "beta")),
            rel("r/beta", "r/zeta", "finish-to-start"),
            rel("r/omega", "r/alpha", "finish-to-start"),
        ],
    }

    (region,) = FlowGraph.from_snapshot(snapshot).regions

    assert [(r.label, r.depth) for r in region.releases] == [
        ("beta", 0),
        ("zeta", 1),
        ("omega", 0),
        ("alpha", 1),
    ]


def test_404_is_the_empty_graph() -> None:
    graph = FlowGraph.from_snapshot(None)

    assert graph.regions == ()
    assert graph.statuses() == {}
    assert "->" not in to_dot(graph, "empty")


def test_dot_colours_each_release_by_status_inside_its_region_cluster() -> None:
    dot = to_dot(FlowGraph.from_snapshot(SNAPSHOT), "flow f")
    lines = [line.strip() for line in dot.splitlines()]

    assert lines[0] == "digraph flow {"
    assert lines[-1] == "}"
    assert "subgraph cluster_0 {" in lines
    assert (
        'label=<<b>region r</b> · failed>; labeljust=l; fontsize=15; style="rounded"; '
        'color="#c62828"; penwidth=2;'
    ) in lines
    assert (
        '"r/a" [label=<<b>a</b><br/><font point-size="10" color="#455a64">net</font>>, '
        'fillcolor="#c8e6c9", color="#2e7d32"];'
    ) in lines
    assert (
        '"r/b" [label=<<b>b</b><br/><font point-size="10" color="#455a64">web · b-chart 1.2'
        '</font>>, fillcolor="#bbdefb", color="#1565c0"];'
    ) in lines
    assert (
        '"r/c" [label=<<b>c</b><br/><font point-size="10" color="#455a64">db · InstallFailed'
        '</font>>, fillcolor="#ffcdd2", color="#c62828"];'
    ) in lines
    # The releases sit inside the cluster: between its opening and its closing brace.
    start = lines.index("subgraph cluster_0 {")
    end = lines.index("}", start)
    assert all(any(line.startswith(f'"r/{n}" [') for line in lines[start:end]) for n in "abc")


def test_dot_draws_dependencies_as_arrows_and_never_the_contains_edges() -> None:
    dot = to_dot(FlowGraph.from_snapshot(SNAPSHOT), "flow f")
    arrows = [line.strip() for line in dot.splitlines() if "->" in line]

    assert arrows == ['"r/a" -> "r/b";', '"r/a" -> "r/c";', '"r/b" -> "r/c";']
    assert '"r" [' not in dot
    assert "r/gone" not in dot


def test_dot_title_carries_a_legend_of_every_status_colour() -> None:
    dot = to_dot(FlowGraph.from_snapshot(SNAPSHOT), "flow <f> & co")

    assert "<b>flow &lt;f&gt; &amp; co</b>" in dot
    for fill, word in (
        ("#eceff1", "pending"),
        ("#bbdefb", "running"),
        ("#c8e6c9", "succeeded"),
        ("#ffcdd2", "failed"),
    ):
        assert f'<td bgcolor="{fill}"' in dot
        assert f"&nbsp;{word}&nbsp;</td>" in dot


def test_dot_escapes_what_would_break_it() -> None:
    snapshot = {
        "type": "snapshot",
        "nodes": [node('r/we"ird', "pending", label="a<b>&c"), node("r", "pending")],
        "relationships": [rel('r/we"ird', "r", "contains")],
    }

    dot = to_dot(FlowGraph.from_snapshot(snapshot), "t")

    assert '"r/we\\"ird" [label=<<b>a&lt;b&gt;&amp;c</b>>, ' in dot


def test_release_outside_any_region_is_still_drawn() -> None:
    snapshot = {"type": "snapshot", "nodes": [node("x/lonely", "running")]}

    graph = FlowGraph.from_snapshot(snapshot)
    dot = to_dot(graph, "t")

    assert [r.id for r in graph.loose] == ["x/lonely"]
    assert "cluster_" not in dot
    assert '  "x/lonely" [label=<<b>lonely</b>>, fillcolor="#bbdefb", color="#1565c0"];' in dot
