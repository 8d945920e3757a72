"""Properties of the mapper, the graph and the diff over generated inputs."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapper.contract import STATUSES, FlowNode, Relationship
from mapper.diff import diff
from mapper.graph import Graph
from mapper.objects import ObjectKey, parse_chart, parse_release
from mapper.slim import slim
from mapper.state import GraphState, Keys
from tests.mapper.objects import chart
from tests.mapper.server_fold import fold_bodies, server_view
from tests.support.objects import condition, helm_release

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)

anything_at = st.one_of(json_values, st.sampled_from(["", "x", "2026-11-20T09:00:00Z", "a/b"]))


@st.composite
def near_releases(draw: st.DrawFn) -> dict[str, Any]:
    """Releases whose known fields are sometimes of the wrong type: deeper than pure noise."""
    obj = helm_release(draw(st.sampled_from(["bp-a", "bp-b"])))
    paths: list[tuple[str, ...]] = [
        ("metadata", "labels"),
        ("metadata", "creationTimestamp"),
        ("metadata", "generation"),
        ("spec", "dependsOn"),
        ("spec", "suspend"),
        ("spec", "chartRef"),
        ("spec", "chartRef", "kind"),
        ("status", "conditions"),
        ("status", "helmChart"),
        ("status", "observedGeneration"),
        ("status", "lastAttemptedRevision"),
    ]
    if draw(st.booleans()):
        obj["spec"]["chartRef"] = {"kind": "HelmChart", "name": "c1"}
    for path in draw(st.lists(st.sampled_from(paths), max_size=3)):
        target = obj
        for part in path[:-1]:
            target = target.setdefault(part, {})
        if isinstance(target, dict):
            target[path[-1]] = draw(anything_at)
    return obj


@given(json_values)
def test_parsing_arbitrary_json_never_raises(value: Any) -> None:
    parse_release(value)
    parse_chart(value)


@given(st.dictionaries(st.sampled_from(["metadata", "spec", "status", "kind"]), json_values))
def test_graph_apply_of_arbitrary_objects_never_raises(obj: dict[str, Any]) -> None:
    g = Graph("r", "f")
    g.apply("HelmRelease", ("ns", "n"), obj)
    g.apply("HelmChart", ("ns", "n"), obj)
    slim("HelmRelease", obj)
    slim("HelmChart", obj)


@given(near_releases())
def test_near_valid_releases_map_or_report_never_raise(obj: dict[str, Any]) -> None:
    g = Graph("r", "f")
    applied = g.apply("HelmRelease", ("flux-system", obj["metadata"]["name"]), obj)
    assert bool(applied.touched) != bool(applied.problems)


@given(near_releases())
def test_slimming_never_changes_what_the_mapper_sees(obj: dict[str, Any]) -> None:
    key = ("flux-system", obj["metadata"]["name"])
    full, slimmed = Graph("r", "f"), Graph("r", "f")
    full.apply("HelmRelease", key, obj)
    slimmed.apply("HelmRelease", key, slim("HelmRelease", obj))
    assert (full.nodes, full.rels) == (slimmed.nodes, slimmed.rels)


condition_lists = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["Ready", "Stalled", "Released", "", 3])},
        optional={
            "status": st.sampled_from(["True", "False"]) | json_values,
            "reason": json_values,
            "lastTransitionTime": st.just("2026-11-20T09:00:00Z") | json_values,
            "observedGeneration": json_values,
        },
    )
    | json_values,
    max_size=4,
)
"""Conditions of read and unread types, some malformed, some not even objects."""


@given(condition_lists)
def test_slimming_never_changes_what_the_mapper_sees_whatever_the_conditions(
    conditions: list[Any],
) -> None:
    obj = helm_release("bp-a", conditions=conditions)
    key = ("flux-system", "bp-a")
    full, slimmed = Graph("r", "f"), Graph("r", "f")
    full.apply("HelmRelease", key, obj)
    slimmed.apply("HelmRelease", key, slim("HelmRelease", obj))
    assert (full.nodes, full.rels) == (slimmed.nodes, slimmed.rels)


statuses = st.sampled_from(STATUSES)
ids = st.sampled_from([f"r/n{i}" for i in range(8)])


@st.composite
def states(draw: st.DrawFn) -> GraphState:
    nodes = {
        node_id: FlowNode(
            id=node_id,
            flow_id="f",
            label=node_id,
            status=draw(statuses),
            meta={"v": draw(st.integers(0, 2))},
        )
        for node_id in draw(st.sets(ids))
    }
    rels: dict[tuple[str, str, str], Relationship] = {}
    for _ in range(draw(st.integers(0, 10))):
        rel = Relationship(
            from_id=draw(ids),
            to_id=draw(ids),
            type=draw(st.sampled_from(["contains", "finish-to-start"])),
            condition=draw(st.sampled_from([None, "on-success"])),
        )
        rels[rel.key] = rel
    return GraphState(nodes=nodes, rels=rels)


@given(states(), states(), st.integers(300, 2_000))
def test_folding_the_diff_into_a_gives_exactly_b(a: GraphState, b: GraphState, limit: int) -> None:
    out = diff(a, b, max_bytes=limit)
    assert all(batch.size <= limit for batch in out)
    assert fold_bodies(a, [batch.body for batch in out]) == server_view(b)


@given(states(), states())
def test_the_diff_never_sends_what_is_already_equal(a: GraphState, b: GraphState) -> None:
    upserted_nodes: set[str] = set()
    upserted_rels: set[tuple[str, str, str]] = set()
    deleted_nodes: set[str] = set()
    deleted_rels: set[tuple[str, str, str]] = set()
    for batch in diff(a, b):
        envelope = batch.envelope
        if envelope.type == "upsert-nodes":
            upserted_nodes |= {n.id for n in envelope.nodes}
            assert all(a.nodes.get(n.id) != n for n in envelope.nodes)
        elif envelope.type == "upsert-rels":
            upserted_rels |= {r.key for r in envelope.relationships}
            assert all(a.rels.get(r.key) != r for r in envelope.relationships)
        elif envelope.type == "delete-nodes":
            deleted_nodes |= set(envelope.ids)
            assert all(i in a.nodes for i in envelope.ids)
        elif envelope.type == "delete-rels":
            deleted_rels |= {p.key for p in envelope.pairs}
            assert all(p.key in a.rels for p in envelope.pairs)
    assert not upserted_nodes & deleted_nodes
    assert not upserted_rels & deleted_rels


@given(states(), states(), st.sets(ids), st.data())
def test_a_restricted_diff_changes_only_the_given_keys(
    a: GraphState, b: GraphState, only_nodes: set[str], data: st.DataObject
) -> None:
    all_rels = sorted(a.rels.keys() | b.rels.keys())
    only_rels = set(data.draw(st.lists(st.sampled_from(all_rels)))) if all_rels else set()
    out = diff(a, b, only=Keys(nodes=only_nodes, rels=only_rels))
    nodes, rels = fold_bodies(a, [batch.body for batch in out])
    want_nodes, want_rels = server_view(b)
    have_nodes, have_rels = server_view(a)
    for node_id in nodes.keys() | want_nodes.keys() | have_nodes.keys():
        expected = want_nodes if node_id in only_nodes else have_nodes
        assert nodes.get(node_id) == expected.get(node_id)
    for key in rels.keys() | want_rels.keys() | have_rels.keys():
        expected_rels = want_rels if key in only_rels else have_rels
        assert rels.get(key) == expected_rels.get(key)


RELEASE_NAMES = ["bp-a", "bp-b", "bp-c"]
NAMESPACES = ["flux-system", "team"]


@st.composite
def operations(draw: st.DrawFn) -> tuple[str, ObjectKey, dict[str, Any] | None]:
    kind = draw(st.sampled_from(["HelmRelease", "HelmChart"]))
    namespace = draw(st.sampled_from(NAMESPACES))
    if kind == "HelmRelease":
        name = draw(st.sampled_from(RELEASE_NAMES))
        obj = helm_release(
            name,
            namespace,
            created=draw(st.sampled_from(["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"])),
            depends_on=[{"name": n} for n in draw(st.lists(st.sampled_from(RELEASE_NAMES)))],
            conditions=[
                condition(
                    "Ready",
                    draw(st.sampled_from(["True", "False", "Unknown"])),
                    "InstallFailed",
                    generation=draw(st.sampled_from([None, 1, 2])),
                )
            ],
            generation=draw(st.sampled_from([1, 2])),
            helm_chart=draw(st.sampled_from(["", "flux-system/c1", "team/c2"])) or False,
            chart_ref=draw(
                st.sampled_from(
                    [
                        None,
                        {"kind": "HelmChart", "name": "c1"},
                        {"kind": "HelmChart", "name": "c2", "namespace": "team"},
                        {"kind": "OCIRepository", "name": "c1"},
                    ]
                )
            ),
            suspend=draw(st.sampled_from([None, True])),
        )
    else:
        name = draw(st.sampled_from(["c1", "c2"]))
        owner = (draw(st.sampled_from(NAMESPACES)), draw(st.sampled_from(RELEASE_NAMES)))
        obj = chart(
            name,
            namespace,
            owner=owner,
            version=draw(st.sampled_from(["1", "2"])),
            stalled=draw(st.sampled_from([None, ("InvalidChartReference", "no such version")])),
        )
    gone = draw(st.booleans())
    return kind, (namespace, name), None if gone else obj


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations(), max_size=25))
def test_incremental_graph_equals_a_graph_built_from_the_final_objects(
    ops: list[tuple[str, ObjectKey, dict[str, Any] | None]],
) -> None:
    live = Graph("r", "f")
    final: dict[tuple[str, ObjectKey], dict[str, Any] | None] = {}
    for kind, key, obj in ops:
        before = live.copy()
        applied = live.apply(kind, key, obj)  # type: ignore[arg-type]
        changed_nodes = {
            i
            for i in before.nodes.keys() | live.nodes.keys()
            if before.nodes.get(i) != live.nodes.get(i)
        }
        changed_rels = {
            k
            for k in before.rels.keys() | live.rels.keys()
            if before.rels.get(k) != live.rels.get(k)
        }
        assert applied.touched == Keys(nodes=changed_nodes, rels=changed_rels)
        final[(kind, key)] = obj
    scratch = Graph("r", "f")
    for (kind, key), obj in sorted(final.items(), key=lambda item: item[0][0] != "HelmChart"):
        if obj is not None:
            scratch.apply(kind, key, obj)  # type: ignore[arg-type]
    assert live.nodes == scratch.nodes
    assert live.rels == scratch.rels
