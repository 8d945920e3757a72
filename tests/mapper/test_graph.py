"""The desired graph, one object at a time."""

from __future__ import annotations

from typing import Any

import pytest

from mapper.graph import Collision, Graph
from mapper.objects import ReleaseView, Unmappable
from mapper.release import MappedRelease, map_release
from mapper.state import Keys
from tests.fixtures import bootstrap_kit, ready_chart, upgrade_failed_release
from tests.mapper.objects import chart
from tests.support.objects import condition, helm_release

REGION = "eu-west-1"
NS = "flux-system"


def graph() -> Graph:
    return Graph(REGION, "bootstrap")


def contains(name: str) -> tuple[str, str, str]:
    return (f"{REGION}/{name}", REGION, "contains")


def dep(source: str, target: str) -> tuple[str, str, str]:
    return (f"{REGION}/{source}", f"{REGION}/{target}", "finish-to-start")


def test_an_empty_graph_holds_only_a_pending_region_node() -> None:
    g = graph()
    assert list(g.nodes) == [REGION]
    assert g.nodes[REGION].status == "pending"
    assert g.nodes[REGION].label == REGION
    assert g.rels == {}


def test_bootstrap_kit_maps_to_thirty_nodes_and_seventy_six_edges() -> None:
    g = graph()
    for obj in bootstrap_kit():
        g.apply("HelmRelease", (NS, obj["metadata"]["name"]), obj)
    assert len(g.nodes) == 31
    kinds = [key[2] for key in g.rels]
    assert kinds.count("contains") == 30
    assert kinds.count("finish-to-start") == 46


def test_bootstrap_kit_dependency_declared_later_still_links() -> None:
    g = graph()
    for obj in bootstrap_kit():
        g.apply("HelmRelease", (NS, obj["metadata"]["name"]), obj)
    assert dep("bp-k8s-ws-proxy", "bp-guacamole") in g.rels


def test_adding_a_release_touches_its_node_edges_and_region() -> None:
    g = graph()
    applied = g.apply(
        "HelmRelease", (NS, "bp-x"), helm_release("bp-x", depends_on=[{"name": "bp-y"}])
    )
    assert applied.touched == Keys(
        nodes={f"{REGION}/bp-x"}, rels={contains("bp-x"), dep("bp-y", "bp-x")}
    )
    assert applied.problems == []


def test_region_is_touched_only_when_its_status_changes() -> None:
    g = graph()
    g.apply("HelmRelease", (NS, "bp-a"), helm_release("bp-a"))
    applied = g.apply("HelmRelease", (NS, "bp-b"), helm_release("bp-b"))
    assert g.nodes[REGION].status == "pending"
    assert REGION not in applied.touched.nodes


def test_reapplying_an_unchanged_object_touches_nothing() -> None:
    g = graph()
    obj = upgrade_failed_release()
    g.apply("HelmRelease", (NS, "bp-keycloak"), obj)
    obj["metadata"]["resourceVersion"] = "999"
    obj["metadata"]["annotations"] = {"touched": "yes"}
    assert not g.apply("HelmRelease", (NS, "bp-keycloak"), obj).touched


def test_a_status_change_touches_the_node_and_not_its_edges() -> None:
    g = graph()
    g.apply("HelmRelease", (NS, "bp-x"), helm_release("bp-x", depends_on=[{"name": "bp-y"}]))
    ready = helm_release(
        "bp-x", depends_on=[{"name": "bp-y"}], conditions=[condition("Ready", "True", "Ok")]
    )
    applied = g.apply("HelmRelease", (NS, "bp-x"), ready)
    assert applied.touched == Keys(nodes={f"{REGION}/bp-x", REGION}, rels=set())
    assert g.nodes[REGION].status == "succeeded"


def test_removing_a_depends_on_entry_removes_only_that_edge() -> None:
    g = graph()
    g.apply(
        "HelmRelease", (NS, "bp-x"), helm_release("bp-x", depends_on=[{"name": "a"}, {"name": "b"}])
    )
    applied = g.apply("HelmRelease", (NS, "bp-x"), helm_release("bp-x", depends_on=[{"name": "b"}]))
    assert applied.touched == Keys(rels={dep("a", "bp-x")})
    assert dep("a", "bp-x") not in g.rels
    assert dep("b", "bp-x") in g.rels


def test_deleting_a_release_removes_its_node_and_edges_and_rolls_up() -> None:
    g = graph()
    failed = [condition("Ready", "False", "InstallFailed")]
    g.apply(
        "HelmRelease", (NS, "bp-ok"), helm_release("bp-ok", conditions=[condition("Ready", "True")])
    )
    g.apply(
        "HelmRelease",
        (NS, "bp-x"),
        helm_release("bp-x", depends_on=[{"name": "a"}], conditions=failed),
    )
    assert g.nodes[REGION].status == "failed"
    applied = g.apply("HelmRelease", (NS, "bp-x"), None)
    assert applied.touched == Keys(
        nodes={f"{REGION}/bp-x", REGION}, rels={contains("bp-x"), dep("a", "bp-x")}
    )
    assert set(g.nodes) == {REGION, f"{REGION}/bp-ok"}
    assert g.nodes[REGION].status == "succeeded"


def test_deleting_an_unknown_release_is_a_no_op() -> None:
    assert not graph().apply("HelmRelease", (NS, "ghost"), None).touched


def test_a_malformed_update_keeps_the_last_good_node_and_reports() -> None:
    g = graph()
    g.apply("HelmRelease", (NS, "bp-x"), helm_release("bp-x"))
    before = dict(g.nodes)
    broken = helm_release("bp-x")
    broken["spec"]["dependsOn"] = "bp-y"
    applied = g.apply("HelmRelease", (NS, "bp-x"), broken)
    assert not applied.touched
    assert len(applied.problems) == 1
    assert isinstance(applied.problems[0], Unmappable)
    assert "dependsOn" in applied.problems[0].reason
    assert g.nodes == before


def test_an_object_under_the_wrong_key_is_refused() -> None:
    applied = graph().apply("HelmRelease", (NS, "other"), helm_release("bp-x"))
    assert isinstance(applied.problems[0], Unmappable)
    assert not applied.touched


def test_chart_linked_by_labels_enriches_its_release() -> None:
    g = graph()
    g.apply("HelmRelease", (NS, "bp-x"), helm_release("bp-x"))
    applied = g.apply(
        "HelmChart", (NS, "flux-system-bp-x"), chart("flux-system-bp-x", owner=(NS, "bp-x"))
    )
    assert applied.touched == Keys(nodes={f"{REGION}/bp-x"})
    meta = g.nodes[f"{REGION}/bp-x"].meta or {}
    assert meta["chart"] == {
        "ref": "flux-system/flux-system-bp-x",
        "name": "podinfo",
        "version": "6.5.0",
        "ready": "True",
        "reason": "ChartPullSucceeded",
    }


def test_chart_linked_by_status_helm_chart_without_labels() -> None:
    g = graph()
    g.apply("HelmChart", ("sources", "custom"), chart("custom", "sources", version="1.2.3"))
    g.apply("HelmRelease", (NS, "bp-x"), helm_release("bp-x", helm_chart="sources/custom"))
    assert (g.nodes[f"{REGION}/bp-x"].meta or {})["chart"] == {
        "ref": "sources/custom",
        "name": "podinfo",
        "version": "1.2.3",
        "ready": "True",
        "reason": "ChartPullSucceeded",
    }


def test_chart_arriving_before_its_release_is_applied_when_the_release_comes() -> None:
    g = graph()
    g.apply("HelmChart", (NS, "flux-system-bp-keycloak"), ready_chart())
    g.apply("HelmRelease", (NS, "bp-keycloak"), upgrade_failed_release())
    chart_meta = (g.nodes[f"{REGION}/bp-keycloak"].meta or {})["chart"]
    assert isinstance(chart_meta, dict)
    assert chart_meta["version"] == "7.1.3"


def test_chart_update_and_delete_follow_into_meta() -> None:
    g = graph()
    g.apply("HelmRelease", (NS, "bp-keycloak"), upgrade_failed_release())
    updated = ready_chart()
    updated["status"]["artifact"]["revision"] = "7.1.4"
    g.apply("HelmChart", (NS, "flux-system-bp-keycloak"), updated)
    chart_meta = (g.nodes[f"{REGION}/bp-keycloak"].meta or {})["chart"]
    assert isinstance(chart_meta, dict)
    assert chart_meta["version"] == "7.1.4"
    applied = g.apply("HelmChart", (NS, "flux-system-bp-keycloak"), None)
    assert applied.touched == Keys(nodes={f"{REGION}/bp-keycloak"})
    assert "chart" not in (g.nodes[f"{REGION}/bp-keycloak"].meta or {})


def test_chart_relabelled_to_another_release_moves_its_enrichment() -> None:
    g = graph()
    g.apply("HelmRelease", (NS, "a"), helm_release("a"))
    g.apply("HelmRelease", (NS, "b"), helm_release("b"))
    g.apply("HelmChart", (NS, "c"), chart("c", owner=(NS, "a")))
    applied = g.apply("HelmChart", (NS, "c"), chart("c", owner=(NS, "b")))
    assert applied.touched == Keys(nodes={f"{REGION}/a", f"{REGION}/b"})
    assert "chart" not in (g.nodes[f"{REGION}/a"].meta or {})
    assert "chart" in (g.nodes[f"{REGION}/b"].meta or {})


def count_mapping(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the name of every release the graph maps, in order."""
    mapped: list[str] = []

    def counting(release_view: ReleaseView, *args: Any) -> MappedRelease:
        mapped.append(release_view.name)
        return map_release(release_view, *args)

    monkeypatch.setattr("mapper.graph.map_release", counting)
    return mapped


def test_a_chart_event_maps_only_the_releases_that_use_it(monkeypatch: pytest.MonkeyPatch) -> None:
    g = graph()
    for i in range(300):
        g.apply("HelmChart", (NS, f"c{i}"), chart(f"c{i}", owner=(NS, f"bp-{i}")))
        g.apply("HelmRelease", (NS, f"bp-{i}"), helm_release(f"bp-{i}", helm_chart=f"{NS}/c{i}"))
    shared_ref = {"kind": "HelmChart", "name": "shared", "namespace": "sources"}
    for name in ("bp-a", "bp-b"):
        g.apply("HelmRelease", (NS, name), helm_release(name, chart_ref=shared_ref))
    mapped = count_mapping(monkeypatch)

    stalled = chart("shared", "sources", stalled=("InvalidChartReference", "no such version"))
    applied = g.apply("HelmChart", ("sources", "shared"), stalled)

    assert sorted(mapped) == ["bp-a", "bp-b"]
    assert applied.touched.nodes == {f"{REGION}/bp-a", f"{REGION}/bp-b", REGION}


def test_a_release_that_drops_a_chart_is_no_longer_mapped_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    g = graph()
    g.apply("HelmRelease", (NS, "bp-a"), helm_release("bp-a", helm_chart=f"{NS}/old"))
    g.apply(
        "HelmRelease",
        (NS, "bp-a"),
        helm_release("bp-a", chart_ref={"kind": "HelmChart", "name": "new"}),
    )
    mapped = count_mapping(monkeypatch)
    g.apply("HelmChart", (NS, "old"), chart("old", stalled=("InvalidChartReference", "gone")))
    assert mapped == []
    assert g.nodes[f"{REGION}/bp-a"].status == "pending"
    g.apply("HelmChart", (NS, "new"), chart("new", stalled=("InvalidChartReference", "gone")))
    assert mapped == ["bp-a"]
    assert g.nodes[f"{REGION}/bp-a"].status == "failed"


def test_a_chart_for_no_known_release_touches_nothing() -> None:
    assert not graph().apply("HelmChart", (NS, "c"), chart("c", owner=(NS, "ghost"))).touched


def test_same_name_in_two_namespaces_keeps_the_older_and_reports_once() -> None:
    g = graph()
    younger = helm_release("bp-x", "team-b", created="2026-11-21T00:00:00Z", labels={"v": "b"})
    older = helm_release("bp-x", "team-a", created="2026-11-20T00:00:00Z", labels={"v": "a"})
    g.apply("HelmRelease", ("team-b", "bp-x"), younger)
    applied = g.apply("HelmRelease", ("team-a", "bp-x"), older)
    assert applied.problems == [Collision(f"{REGION}/bp-x", ("team-a", "bp-x"), ("team-b", "bp-x"))]
    assert (g.nodes[f"{REGION}/bp-x"].meta or {})["namespace"] == "team-a"
    again = g.apply("HelmRelease", ("team-b", "bp-x"), younger | {"spec": {"suspend": True}})
    assert again.problems == []
    assert not again.touched
    assert (g.nodes[f"{REGION}/bp-x"].meta or {})["namespace"] == "team-a"


def test_equal_age_collision_is_won_by_the_first_namespace() -> None:
    g = graph()
    g.apply("HelmRelease", ("zeta", "bp-x"), helm_release("bp-x", "zeta"))
    g.apply("HelmRelease", ("alpha", "bp-x"), helm_release("bp-x", "alpha"))
    assert (g.nodes[f"{REGION}/bp-x"].meta or {})["namespace"] == "alpha"


def test_when_the_collision_winner_goes_the_other_release_takes_the_node() -> None:
    g = graph()
    g.apply(
        "HelmRelease",
        ("team-a", "bp-x"),
        helm_release("bp-x", "team-a", created="2026-01-01T00:00:00Z"),
    )
    g.apply("HelmRelease", ("team-b", "bp-x"), helm_release("bp-x", "team-b"))
    applied = g.apply("HelmRelease", ("team-a", "bp-x"), None)
    assert f"{REGION}/bp-x" in applied.touched.nodes
    assert (g.nodes[f"{REGION}/bp-x"].meta or {})["namespace"] == "team-b"
    assert g.release_count == 1
