"""Interrupted watches resume from the last version seen, without a new LIST."""

from __future__ import annotations

from flux_adapter.kube.resources import HELM_CHARTS, HELM_RELEASES
from tests.conftest import Harness
from tests.support import eventually, node
from tests.support.objects import helm_release


async def synced_and_watching(harness: Harness) -> None:
    await eventually(lambda: harness.store.synced("HelmRelease"), "first list applied")
    await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 1, "watch open")


async def test_watch_asks_for_bookmarks_and_a_server_timeout_of_five_to_ten_minutes(
    harness: Harness,
) -> None:
    harness.start()
    await synced_and_watching(harness)

    watch = next(r for r in harness.kube.requests if r.verb == "watch")
    listed = next(r for r in harness.kube.requests if r.verb == "list")
    assert watch.query["allowWatchBookmarks"].lower() == "true"
    assert 300 <= int(watch.query["timeoutSeconds"]) <= 600
    assert watch.query["resourceVersion"] == str(harness.kube.version)
    assert "timeoutSeconds" not in listed.query


async def test_server_closed_stream_resumes_from_last_version_without_relist(
    harness: Harness,
) -> None:
    harness.start()
    await synced_and_watching(harness)
    seen = harness.kube.create(HELM_RELEASES, helm_release("a"))
    await eventually(lambda: node("a") in harness.graph.nodes, "event before the close")

    harness.kube.close_streams()
    harness.kube.create(HELM_RELEASES, helm_release("b"))
    await eventually(lambda: node("b") in harness.graph.nodes, "event after the close")

    watches = [r for r in harness.kube.requests if r.verb == "watch"]
    assert len(watches) == 2
    assert watches[1].query["resourceVersion"] == seen["metadata"]["resourceVersion"]
    assert harness.kube.count("list") == 1
    assert harness.metric("watch_restarts", resource="HelmRelease", reason="closed") == 1


async def test_bookmark_moves_the_resume_version_past_a_compaction(harness: Harness) -> None:
    watcher = harness.start()
    await synced_and_watching(harness)
    for name in ("x", "y", "z"):  # other resources move the shared version counter
        harness.kube.create(HELM_CHARTS, {"metadata": {"name": name, "namespace": "flux-system"}})

    harness.kube.bookmark(HELM_RELEASES)
    await eventually(
        lambda: watcher.resource_version == str(harness.kube.version), "bookmark applied"
    )
    harness.kube.compact()
    harness.kube.close_streams()
    harness.kube.create(HELM_RELEASES, helm_release("after-compaction"))

    await eventually(lambda: node("after-compaction") in harness.graph.nodes, "resumed")
    assert harness.kube.count("list") == 1, "the bookmark's version was still valid"


async def test_dropped_connection_backs_off_and_resumes_without_relist(harness: Harness) -> None:
    harness.start()
    await synced_and_watching(harness)

    harness.kube.drop_streams()
    harness.kube.create(HELM_RELEASES, helm_release("during-the-drop"))

    await eventually(lambda: node("during-the-drop") in harness.graph.nodes, "replayed event")
    assert harness.kube.count("list") == 1
    assert harness.metric("watch_restarts", resource="HelmRelease", reason="error") == 1


async def test_silent_stall_is_dropped_at_the_inactivity_deadline_and_resumed(
    harness: Harness,
) -> None:
    harness.start(inactivity_timeout=0.3)
    await synced_and_watching(harness)

    harness.kube.stall_streams()
    harness.kube.create(HELM_RELEASES, helm_release("sent-while-stalled"))

    await eventually(lambda: node("sent-while-stalled") in harness.graph.nodes, "recovered")
    assert harness.metric("watch_restarts", resource="HelmRelease", reason="inactivity") >= 1
    assert harness.kube.count("list") == 1


async def test_quiet_watch_is_reopened_at_the_deadline_without_a_relist(
    harness: Harness,
) -> None:
    harness.start(inactivity_timeout=0.2)
    await synced_and_watching(harness)

    await eventually(lambda: harness.kube.count("watch") >= 3, "quiet watch re-opened")

    assert harness.kube.count("list") == 1


async def test_bookmarks_count_as_activity(harness: Harness) -> None:
    harness.kube.bookmark_interval = 0.02
    harness.start(inactivity_timeout=1.0)
    await synced_and_watching(harness)

    await eventually(
        lambda: harness.metric("watch_events", resource="HelmRelease", type="BOOKMARK") >= 100,
        "bookmarks for longer than the inactivity deadline",
    )

    assert harness.metric("watch_restarts", resource="HelmRelease", reason="inactivity") == 0
    assert harness.kube.count("watch") == 1
