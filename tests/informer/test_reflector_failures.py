"""Failures the loop survives (and the ones it must not hide)."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
import structlog

from flux_adapter.informer.reflector import Watcher
from flux_adapter.informer.store import Store
from flux_adapter.kube.resources import HELM_RELEASES
from mapper import Keys
from tests.conftest import FAST, Harness
from tests.support import eventually, node
from tests.support.objects import helm_release


class RecordedSleeps:
    """Stands in for asyncio.sleep: remembers each backoff and yields without waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


async def test_500s_back_off_doubling_to_the_cap_without_a_hot_loop(harness: Harness) -> None:
    sleeps = RecordedSleeps()
    harness.kube.fail("list", 500, times=None)
    harness.start(sleep=sleeps, backoff_initial=0.5, backoff_cap=4.0, rng=random.Random(7))

    await eventually(lambda: len(sleeps.delays) >= 8, "several failed attempts")
    harness.kube.heal()
    await eventually(lambda: harness.store.synced("HelmRelease"), "recovered")

    assert harness.kube.count("list") == len(sleeps.delays) + 1, "one wait per failure"
    for attempt, delay in enumerate(sleeps.delays):
        step = min(4.0, 0.5 * 2**attempt)
        assert step / 2 <= delay <= step


async def test_streams_that_end_at_once_empty_are_backed_off_not_hammered(
    harness: Harness,
) -> None:
    sleeps = RecordedSleeps()
    harness.start(sleep=sleeps, backoff_initial=0.5, backoff_cap=4.0)
    await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 1, "watching")
    harness.kube.create(HELM_RELEASES, helm_release("before"))
    await eventually(lambda: node("before") in harness.graph.nodes, "a stream that said something")
    harness.kube.empty_watches = 3
    harness.kube.close_streams()
    harness.kube.create(HELM_RELEASES, helm_release("after"))

    await eventually(lambda: node("after") in harness.graph.nodes, "watching again")
    assert harness.metric("watch_restarts", resource="HelmRelease", reason="closed_empty") == 3
    assert len(sleeps.delays) == 3
    assert sleeps.delays[2] >= 1.0, "the waits grow"
    assert harness.kube.count("list") == 1


async def test_forbidden_logs_the_verb_and_resource_and_retries_on_a_growing_backoff(
    harness: Harness,
) -> None:
    sleeps = RecordedSleeps()
    harness.kube.fail("watch", 403, times=3)

    with structlog.testing.capture_logs() as logs:
        harness.start(sleep=sleeps, backoff_initial=0.8, backoff_cap=8.0, rng=random.Random(5))
        await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 1, "allowed at last")

    denied = [e for e in logs if e["event"] == "rbac_denied"]
    assert len(denied) == 3
    assert denied[0]["verb"] == "watch"
    assert denied[0]["resource"] == "helmreleases.helm.toolkit.fluxcd.io"
    assert denied[0]["missing"] == "watch helmreleases.helm.toolkit.fluxcd.io"
    assert denied[0]["namespace"] == "flux-system"
    assert denied[0]["log_level"] == "error"
    assert "cannot watch resource" in denied[0]["message"]
    assert len(sleeps.delays) == 3
    for attempt, delay in enumerate(sleeps.delays):
        step = 0.8 * 2**attempt
        assert step / 2 <= delay <= step


async def test_an_unreachable_server_is_probed_every_few_seconds_not_at_the_cap(
    harness: Harness,
) -> None:
    sleeps = RecordedSleeps()
    harness.start(sleep=sleeps, backoff_initial=0.8, backoff_cap=30.0, connect_backoff_cap=4.0)
    await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 1, "watching")
    await harness.kube.refuse()
    await eventually(lambda: len(sleeps.delays) >= 10, "ten refused attempts")
    await harness.kube.accept()
    assert max(sleeps.delays) <= 4.0


async def test_a_403_as_the_server_returns_is_retried_within_a_second(
    harness: Harness,
) -> None:
    sleeps = RecordedSleeps()
    harness.start(sleep=sleeps, backoff_initial=0.8, backoff_cap=30.0, rng=random.Random(6))
    await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 1, "watching")
    await harness.kube.refuse()
    await eventually(lambda: len(sleeps.delays) >= 8, "the server is away a while")
    harness.kube.fail("watch", 403, times=1)
    with structlog.testing.capture_logs() as logs:
        await harness.kube.accept()
        await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 1, "watching again")

    [denied] = [e for e in logs if e["event"] == "rbac_denied"]
    assert denied["retry_in"] <= 0.8, "the 403 waits the first step, not the cap"


async def test_a_version_too_large_for_a_lagging_server_relists(harness: Harness) -> None:
    harness.kube.create(HELM_RELEASES, helm_release("a"))
    harness.start()
    await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 1, "watching")
    harness.kube.fail("watch", 504, times=1)
    harness.kube.close_streams()

    await eventually(
        lambda: harness.metric("relists", resource="HelmRelease", reason="lagging") == 1,
        "relisted for the lagging server",
    )
    assert harness.kube.count("list") >= 2


async def test_missing_crd_is_logged_and_retried_until_it_appears(harness: Harness) -> None:
    harness.kube.uninstall(HELM_RELEASES)

    with structlog.testing.capture_logs() as logs:
        harness.start()
        await eventually(lambda: harness.kube.count("list") >= 3, "retrying the list")
        harness.kube.install(HELM_RELEASES)
        harness.kube.create(HELM_RELEASES, helm_release("first"))
        await eventually(lambda: node("first") in harness.graph.nodes, "listed after install")

    missing = [e for e in logs if e["event"] == "resource_not_found"]
    assert missing
    assert missing[0]["verb"] == "list"
    assert missing[0]["status"] == 404


async def test_crd_removed_under_a_watch_empties_the_store_and_relists_when_back(
    harness: Harness,
) -> None:
    harness.kube.create(HELM_RELEASES, helm_release("a"))
    harness.start()
    await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 1, "watching")

    harness.kube.uninstall(HELM_RELEASES)
    await eventually(lambda: harness.store.count("HelmRelease") == 0, "deletes seen")
    await eventually(lambda: harness.kube.count("list") >= 2, "relisting while missing")
    harness.kube.install(HELM_RELEASES)
    harness.kube.create(HELM_RELEASES, helm_release("b"))

    await eventually(lambda: node("b") in harness.graph.nodes, "back")
    assert harness.metric("relists", resource="HelmRelease", reason="error") == 1


async def test_unmappable_object_is_logged_counted_and_skipped(harness: Harness) -> None:
    harness.start()
    await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 1, "watching")
    broken = helm_release("broken")
    broken["status"] = {"conditions": "not a list"}

    with structlog.testing.capture_logs() as logs:
        harness.kube.create(HELM_RELEASES, broken)
        harness.kube.create(HELM_RELEASES, helm_release("fine"))
        await eventually(lambda: node("fine") in harness.graph.nodes, "later event applied")

    assert node("broken") not in harness.graph.nodes
    assert harness.metric("skipped_objects", resource="HelmRelease") == 1
    unmappable = [e for e in logs if e["event"] == "object_unmappable"]
    assert unmappable[0]["name"] == "broken"
    assert ".status.conditions" in unmappable[0]["reason"]
    assert harness.kube.count("watch") == 1, "the stream was kept"


async def test_event_for_an_object_without_a_name_is_skipped(harness: Harness) -> None:
    harness.start()
    await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 1, "watching")

    nameless = {"type": "ADDED", "object": {"metadata": {"namespace": "flux-system"}}}
    harness.kube.send_raw(json.dumps(nameless).encode() + b"\n")
    harness.kube.create(HELM_RELEASES, helm_release("fine"))

    await eventually(lambda: node("fine") in harness.graph.nodes, "later event applied")
    assert harness.metric("skipped_objects", resource="HelmRelease") == 1
    assert harness.kube.count("watch") == 1


async def test_malformed_line_resumes_from_the_last_good_version(harness: Harness) -> None:
    harness.start()
    await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 1, "watching")
    good = harness.kube.create(HELM_RELEASES, helm_release("before"))
    await eventually(lambda: node("before") in harness.graph.nodes, "event before the garbage")

    with structlog.testing.capture_logs() as logs:
        harness.kube.send_raw(b"{this is not json\n")
        await eventually(lambda: harness.kube.count("watch") == 2, "stream re-opened")

    resumed = [r for r in harness.kube.requests if r.verb == "watch"][1]
    assert resumed.query["resourceVersion"] == good["metadata"]["resourceVersion"]
    assert any(e.get("error_type") == "ProtocolError" for e in logs)
    assert harness.kube.count("list") == 1


class ExplodingSink:
    def notify(self, keys: Keys) -> None:
        raise RuntimeError("a bug downstream")


async def test_a_bug_downstream_ends_the_loop_loudly(harness: Harness) -> None:
    store = Store(harness.graph, ExplodingSink(), harness.metrics)
    harness.kube.create(HELM_RELEASES, helm_release("a"))
    watcher = Watcher(harness.api, HELM_RELEASES, store, harness.metrics, **FAST)

    with pytest.raises(RuntimeError, match="a bug downstream"):
        await asyncio.wait_for(watcher.run(), 15)


async def test_cancellation_propagates_and_closes_the_stream(harness: Harness) -> None:
    watcher = harness.watcher()
    task: asyncio.Task[Any] = asyncio.create_task(watcher.run())
    await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 1, "watching")

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 0, "stream closed")
