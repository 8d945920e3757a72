"""410 Gone / Expired: LIST again, replace the store, report each vanished object once."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from flux_adapter.kube.resources import HELM_RELEASES
from tests.conftest import Harness
from tests.fakes.kube_api import ExpiredAs
from tests.support import eventually, node
from tests.support.objects import PROGRESSING, SUCCEEDED, helm_release


@pytest.mark.parametrize("expired_as", ["status", "event"])
async def test_relist_after_expiry_reports_a_delete_in_the_gap_once(
    harness: Harness, expired_as: ExpiredAs
) -> None:
    kube = harness.kube
    kube.expired_as = expired_as
    kube.create(HELM_RELEASES, helm_release("kept", ready=PROGRESSING))
    kube.create(HELM_RELEASES, helm_release("gone"))
    harness.start()
    await eventually(lambda: kube.open_streams(HELM_RELEASES) == 1, "watching")
    before = len(harness.sink.calls)

    # The watcher is cut off while a release is deleted and history is compacted.
    kube.fail("watch", 500, times=None)
    kube.drop_streams()
    kube.delete(HELM_RELEASES, "flux-system", "gone")
    kube.update(HELM_RELEASES, helm_release("kept", ready=SUCCEEDED))
    kube.compact()
    kube.heal()

    await eventually(lambda: node("gone") not in harness.graph.nodes, "delete found by relist")
    assert harness.graph.nodes[node("kept")].status == "succeeded"
    assert harness.metric("relists", resource="HelmRelease", reason="expired") == 1
    assert kube.count("list") == 2

    # Later relists and events must not report the deletion again.
    await eventually(lambda: kube.open_streams(HELM_RELEASES) == 1, "watching again")
    kube.expire_streams()
    await eventually(
        lambda: harness.metric("relists", resource="HelmRelease", reason="expired") == 2,
        "second relist",
    )
    kube.create(HELM_RELEASES, helm_release("later"))
    await eventually(lambda: node("later") in harness.graph.nodes, "loop carried on")
    assert sum(node("gone") in keys.nodes for keys in harness.sink.calls[before:]) == 1


async def test_error_event_mid_stream_relists_and_an_unchanged_cluster_notifies_nothing(
    harness: Harness,
) -> None:
    harness.kube.create(HELM_RELEASES, helm_release("a", ready=SUCCEEDED))
    harness.kube.create(HELM_RELEASES, helm_release("b", depends_on=("a",)))
    harness.start()
    await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 1, "watching")
    notified = len(harness.sink.calls)

    harness.kube.expire_streams()
    await eventually(
        lambda: harness.metric("relists", resource="HelmRelease", reason="expired") == 1,
        "relisted",
    )

    assert harness.kube.count("list") == 2
    assert len(harness.sink.calls) == notified


async def test_expiry_right_after_a_list_backs_off_instead_of_relisting_at_once(
    harness: Harness,
) -> None:
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    harness.kube.create(HELM_RELEASES, helm_release("a"))
    harness.kube.fail("watch", 410, times=None)  # a server refusing the version it just listed
    harness.start(sleep=record)

    await eventually(lambda: harness.kube.count("list") >= 4, "several rounds")
    assert len(delays) >= harness.kube.count("list") - 1
    assert all(delay > 0 for delay in delays)


async def test_the_first_410_after_a_reconnect_relists_at_once(harness: Harness) -> None:
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)
        await asyncio.sleep(0)

    harness.kube.create(HELM_RELEASES, helm_release("a"))
    harness.start(sleep=record)
    await eventually(lambda: harness.kube.open_streams(HELM_RELEASES) == 1, "watching")
    await harness.kube.refuse()
    await eventually(lambda: len(delays) >= 3, "the server is away")
    harness.kube.create(HELM_RELEASES, helm_release("b"))
    harness.kube.compact()
    with structlog.testing.capture_logs() as logs:
        await harness.kube.accept()
        await eventually(lambda: node("b") in harness.graph.nodes, "relisted")

    assert harness.metric("relists", resource="HelmRelease", reason="expired") == 1
    [expired] = [e for e in logs if e["event"] == "resource_version_expired"]
    assert expired["retry_in"] == 0.0
