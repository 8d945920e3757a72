"""The store: slim objects, one graph change per object, and nothing for nothing."""

from __future__ import annotations

from typing import Any

import structlog

from flux_adapter.informer.store import Store
from flux_adapter.observe.metrics import Metrics
from mapper import Graph
from tests.support import REGION, RecordingSink, node, ready_chart, upgrade_failed_release
from tests.support.objects import SUCCEEDED, helm_release


def make_store() -> tuple[Store, RecordingSink, Metrics]:
    sink = RecordingSink()
    metrics = Metrics()
    return Store(Graph(REGION, "flow-1"), sink, metrics), sink, metrics


def listed(store: Store, *objects: dict[str, Any]) -> None:
    relist = store.relist("HelmRelease")
    for obj in objects:
        relist.add(obj)
    relist.commit()


def with_version(obj: dict[str, Any], version: str) -> dict[str, Any]:
    obj["metadata"]["resourceVersion"] = version
    return obj


def test_store_keeps_only_what_the_mapper_reads() -> None:
    store, _, _ = make_store()
    store.upsert("HelmRelease", upgrade_failed_release())

    held = store.get("HelmRelease", ("flux-system", "bp-keycloak"))
    assert held is not None
    assert "managedFields" not in held["metadata"]
    assert "annotations" not in held["metadata"]
    assert "values" not in held["spec"]
    assert "history" not in held["status"]
    assert len(repr(held)) < len(repr(upgrade_failed_release())) / 4
    assert store.graph.nodes[node("bp-keycloak")].status == "failed"


def test_synced_flips_when_the_first_list_commits() -> None:
    store, _, _ = make_store()
    relist = store.relist("HelmRelease")
    relist.add(helm_release("a"))
    assert not store.synced("HelmRelease")

    relist.commit()

    assert store.synced("HelmRelease")
    assert not store.synced("HelmChart")
    chart_list = store.relist("HelmChart")
    chart_list.add(ready_chart())
    chart_list.commit()
    assert store.all_synced()


def test_upsert_and_delete_notify_the_touched_keys() -> None:
    store, sink, _ = make_store()
    store.upsert("HelmRelease", helm_release("a", ready=SUCCEEDED))
    assert sink.calls[-1].nodes == {node("a"), REGION}, "the region rolls up to succeeded"

    store.delete("HelmRelease", helm_release("a"))
    assert sink.calls[-1].nodes == {node("a"), REGION}
    assert node("a") not in store.graph.nodes
    assert store.get("HelmRelease", ("flux-system", "a")) is None


def test_resync_of_unchanged_objects_notifies_nothing() -> None:
    store, sink, _ = make_store()
    listed(
        store,
        with_version(helm_release("a", ready=SUCCEEDED), "7"),
        helm_release("b", depends_on=("a",)),
    )
    calls = len(sink.calls)

    listed(
        store,
        with_version(helm_release("a", ready=SUCCEEDED), "7"),
        helm_release("b", depends_on=("a",)),
    )
    store.upsert("HelmRelease", helm_release("b", depends_on=("a",)))

    assert len(sink.calls) == calls


def test_new_version_that_maps_the_same_notifies_nothing() -> None:
    store, sink, _ = make_store()
    store.upsert("HelmRelease", with_version(helm_release("a", ready=SUCCEEDED), "7"))
    calls = len(sink.calls)

    store.upsert("HelmRelease", with_version(helm_release("a", ready=SUCCEEDED), "8"))

    assert len(sink.calls) == calls


def test_relist_deletes_what_vanished_exactly_once() -> None:
    store, sink, _ = make_store()
    listed(store, helm_release("a"), helm_release("b"))

    listed(store, helm_release("a"))
    listed(store, helm_release("a"))

    assert sum(node("b") in keys.nodes for keys in sink.calls) == 2  # added, then deleted
    assert store.keys("HelmRelease") == {("flux-system", "a")}
    assert node("b") not in store.graph.nodes


def test_relist_notifies_once_for_the_whole_list() -> None:
    store, sink, _ = make_store()
    listed(store, helm_release("a"), helm_release("b"), helm_release("c"))
    assert len(sink.calls) == 1
    assert {node("a"), node("b"), node("c")} <= sink.calls[0].nodes


def test_unmappable_update_is_counted_and_keeps_the_last_good_node() -> None:
    store, _, metrics = make_store()
    store.upsert("HelmRelease", helm_release("a", ready=SUCCEEDED))
    broken = helm_release("a")
    broken["spec"]["dependsOn"] = "bp-cilium"

    with structlog.testing.capture_logs() as logs:
        store.upsert("HelmRelease", broken)

    assert store.graph.nodes[node("a")].status == "succeeded"
    assert metrics.value("flux_adapter_skipped_objects_total", {"resource": "HelmRelease"}) == 1
    assert logs[0]["event"] == "object_unmappable"
    assert logs[0]["name"] == "a"


def test_name_collision_across_namespaces_is_logged_and_counted() -> None:
    store, _, metrics = make_store()
    store.upsert("HelmRelease", helm_release("shared", namespace="flux-system"))

    with structlog.testing.capture_logs() as logs:
        store.upsert("HelmRelease", helm_release("shared", namespace="team-a"))

    assert logs[0]["event"] == "node_id_collision"
    assert logs[0]["ignored"] == "team-a/shared"
    assert metrics.value("flux_adapter_skipped_objects_total", {"resource": "HelmRelease"}) == 1


def test_objects_without_a_key_are_skipped() -> None:
    store, sink, metrics = make_store()
    with structlog.testing.capture_logs() as logs:
        store.upsert("HelmRelease", {"metadata": {"namespace": "flux-system"}})
        store.delete("HelmRelease", ["not", "an", "object"])
        listed(store, {"kind": "HelmRelease"})

    assert sink.calls == []
    assert [e["event"] for e in logs] == ["object_without_key"] * 3
    assert metrics.value("flux_adapter_skipped_objects_total", {"resource": "HelmRelease"}) == 3


def test_chart_change_touches_its_release() -> None:
    store, sink, _ = make_store()
    store.upsert("HelmRelease", upgrade_failed_release())

    store.upsert("HelmChart", ready_chart())

    assert sink.calls[-1].nodes == {node("bp-keycloak")}


def test_an_object_equal_in_another_key_order_is_not_a_change() -> None:
    store, sink, _ = make_store()
    obj = with_version(helm_release("a", ready=SUCCEEDED), "7")
    store.upsert("HelmRelease", obj)
    calls = len(sink.calls)

    store.upsert("HelmRelease", {key: obj[key] for key in reversed(list(obj))})

    assert len(sink.calls) == calls


def test_get_answers_a_copy_the_caller_may_change() -> None:
    store, _, _ = make_store()
    store.upsert("HelmRelease", helm_release("a", ready=SUCCEEDED))

    held = store.get("HelmRelease", ("flux-system", "a"))
    assert held is not None
    held["metadata"]["name"] = "changed"

    again = store.get("HelmRelease", ("flux-system", "a"))
    assert again is not None
    assert again["metadata"]["name"] == "a"
