"""The first LIST, its pages, and what it puts in the store and the graph."""

from __future__ import annotations

import structlog

from flux_adapter.kube.resources import HELM_CHARTS, HELM_RELEASES
from tests.conftest import Harness
from tests.support import bootstrap_kit, eventually, node, ready_chart, upgrade_failed_release
from tests.support.objects import PROGRESSING, SUCCEEDED, helm_release


async def test_initial_list_fills_store_and_graph_and_marks_synced(harness: Harness) -> None:
    harness.kube.create(HELM_RELEASES, helm_release("bp-cilium", ready=SUCCEEDED))
    harness.kube.create(HELM_RELEASES, helm_release("bp-cert-manager", depends_on=("bp-cilium",)))
    assert not harness.store.synced("HelmRelease")

    harness.start()
    await eventually(lambda: harness.store.synced("HelmRelease"), "first list applied")

    assert harness.store.keys("HelmRelease") == {
        ("flux-system", "bp-cilium"),
        ("flux-system", "bp-cert-manager"),
    }
    assert harness.graph.nodes[node("bp-cilium")].status == "succeeded"
    assert harness.graph.nodes[node("bp-cert-manager")].status == "pending"
    assert (node("bp-cilium"), node("bp-cert-manager"), "finish-to-start") in harness.graph.rels
    assert harness.sink.calls, "the first list notifies the emitter"
    assert harness.metric("relists", resource="HelmRelease", reason="initial") == 1


async def test_synced_flips_after_an_empty_first_list(harness: Harness) -> None:
    harness.start()
    await eventually(lambda: harness.store.synced("HelmRelease"), "empty list applied")
    assert not harness.store.synced("HelmChart")
    assert not harness.store.all_synced()
    assert harness.sink.calls == [], "an empty cluster changes nothing"


async def test_list_follows_continue_over_several_pages(harness: Harness) -> None:
    for obj in bootstrap_kit():
        harness.kube.create(HELM_RELEASES, obj)

    harness.start(page_limit=7)
    await eventually(lambda: harness.store.synced("HelmRelease"), "paged list applied")

    assert harness.store.count("HelmRelease") == 30
    assert harness.graph.release_count == 30
    lists = [r for r in harness.kube.requests if r.verb == "list"]
    assert len(lists) == 5
    assert all(r.query["limit"] == "7" for r in lists)
    assert [bool(r.query.get("continue")) for r in lists] == [False, True, True, True, True]


async def test_expired_continue_token_restarts_the_list(harness: Harness) -> None:
    for name in ("a", "b", "c", "d", "e"):
        harness.kube.create(HELM_RELEASES, helm_release(name))
    harness.kube.fail("list", 410, resource=HELM_RELEASES, continued=True)

    with structlog.testing.capture_logs() as logs:
        harness.start(page_limit=2)
        await eventually(lambda: harness.store.synced("HelmRelease"), "restarted list applied")

    assert harness.store.count("HelmRelease") == 5
    # first page, refused continue, then a full list of three pages
    assert harness.kube.count("list") == 5
    assert harness.metric("relists", resource="HelmRelease", reason="initial") == 1
    assert any(e["event"] == "list_continue_expired" for e in logs)


async def test_watch_applies_add_update_and_delete(harness: Harness) -> None:
    harness.start()
    await eventually(lambda: harness.store.synced("HelmRelease"), "first list applied")

    harness.kube.create(HELM_RELEASES, helm_release("bp-harbor", ready=PROGRESSING))
    await eventually(lambda: node("bp-harbor") in harness.graph.nodes, "added")
    assert harness.graph.nodes[node("bp-harbor")].status == "running"

    harness.kube.update(HELM_RELEASES, helm_release("bp-harbor", ready=SUCCEEDED))
    await eventually(
        lambda: harness.graph.nodes[node("bp-harbor")].status == "succeeded", "updated"
    )

    harness.kube.delete(HELM_RELEASES, "flux-system", "bp-harbor")
    await eventually(lambda: node("bp-harbor") not in harness.graph.nodes, "deleted")
    assert harness.store.get("HelmRelease", ("flux-system", "bp-harbor")) is None
    assert harness.kube.count("list") == 1


async def test_release_is_enriched_by_its_chart_from_the_other_loop(harness: Harness) -> None:
    harness.kube.create(HELM_RELEASES, upgrade_failed_release())
    harness.kube.create(HELM_CHARTS, ready_chart())

    harness.start(HELM_RELEASES)
    harness.start(HELM_CHARTS)
    await eventually(harness.store.all_synced, "both resources listed")

    keycloak = harness.graph.nodes[node("bp-keycloak")]
    assert keycloak.status == "failed"
    assert keycloak.meta is not None
    assert keycloak.meta["chart"] == {
        "ref": "flux-system/flux-system-bp-keycloak",
        "name": "keycloakx",
        "version": ready_chart()["status"]["artifact"]["revision"],
        "ready": "True",
        "reason": "ChartPullSucceeded",
    }


async def test_namespace_filter_sees_only_its_namespace(harness: Harness) -> None:
    harness.kube.create(HELM_RELEASES, helm_release("mine"))
    harness.kube.create(HELM_RELEASES, helm_release("theirs", namespace="team-a"))

    harness.start(namespace="flux-system")
    await eventually(lambda: harness.store.synced("HelmRelease"), "first list applied")
    assert harness.store.keys("HelmRelease") == {("flux-system", "mine")}

    harness.kube.create(HELM_RELEASES, helm_release("theirs-later", namespace="team-a"))
    harness.kube.create(HELM_RELEASES, helm_release("mine-later"))
    await eventually(lambda: node("mine-later") in harness.graph.nodes, "own namespace event")
    assert harness.store.keys("HelmRelease") == {
        ("flux-system", "mine"),
        ("flux-system", "mine-later"),
    }
    assert {r.namespace for r in harness.kube.requests} == {"flux-system"}


async def test_empty_namespace_watches_all_namespaces(harness: Harness) -> None:
    harness.kube.create(HELM_RELEASES, helm_release("mine"))
    harness.kube.create(HELM_RELEASES, helm_release("theirs", namespace="team-a"))

    harness.start(namespace="")
    await eventually(lambda: harness.store.count("HelmRelease") == 2, "both namespaces listed")

    harness.kube.create(HELM_RELEASES, helm_release("later", namespace="team-b"))
    await eventually(lambda: node("later") in harness.graph.nodes, "any namespace event")
    assert {r.namespace for r in harness.kube.requests} == {None}


async def test_an_event_larger_than_aiohttp_s_line_limit_is_applied_on_the_same_stream(
    harness: Harness,
) -> None:
    harness.start()
    await eventually(lambda: harness.store.synced("HelmRelease"), "first list applied")
    await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 1, "watching")
    big = helm_release("bp-kube-prometheus-stack", ready=SUCCEEDED)
    big["spec"]["values"] = {f"key-{i}": "v" * 1000 for i in range(600)}  # about 600 KB

    harness.kube.create(HELM_RELEASES, big)

    await eventually(lambda: node("bp-kube-prometheus-stack") in harness.graph.nodes, "applied")
    assert harness.kube.count("watch") == 1, "the stream was kept"
    assert harness.kube.count("list") == 1
