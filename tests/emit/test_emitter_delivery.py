"""Delivery through a path that misbehaves: body limits, odd statuses, a failing snapshot."""

from __future__ import annotations

import time

import pytest
from structlog.testing import capture_logs

from mapper import MAX_ENVELOPE_BYTES
from tests.conftest import MakeRig
from tests.fakes.flow_server import FlowServer
from tests.support import eventually
from tests.support.objects import PROGRESSING, SUCCEEDED, UPGRADE_FAILED, Condition
from tests.support.rig import FAST, FLOW_ID, Rig
from tests.support.timed import synced, timed_rig

INGRESS_LIMIT = 64 * 1024
REJECTED_NODES = {"type": "upsert-nodes", "outcome": "rejected"}


def load_many(rig: Rig, count: int, ready: Condition = SUCCEEDED) -> None:
    for index in range(count):
        rig.apply(f"bp-app-{index:03}", family="apps", ready=ready)


def accepted_sizes(server: FlowServer) -> list[int]:
    return [len(seen.body) for seen in server.posts(FLOW_ID) if seen.status == 200]


async def test_300_releases_converge_behind_a_64_kib_ingress_limit(
    rig: Rig, flow_server: FlowServer
) -> None:
    flow_server.limit_bodies(INGRESS_LIMIT)
    load_many(rig, 300)
    started = time.monotonic()
    with capture_logs() as logs:
        await rig.start()
        await eventually(rig.converged, "300 releases on the server", deadline=60)
    assert time.monotonic() - started < 60
    assert max(accepted_sizes(flow_server)) <= INGRESS_LIMIT
    limit = rig.metrics.value("flux_adapter_envelope_limit_bytes")
    assert 0 < limit <= INGRESS_LIMIT
    learned = [entry for entry in logs if entry["event"] == "envelope_limit_learned"]
    assert learned
    assert learned[-1]["limit_bytes"] == limit
    too_large = {"type": "upsert-nodes", "outcome": "too_large"}
    assert rig.metrics.value("flux_adapter_envelopes_total", too_large) >= 1
    assert not [seen for seen in flow_server.posts(FLOW_ID) if seen.status == 400]


async def test_a_lifted_limit_is_noticed_after_the_next_snapshot_check(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig = make_rig(resync_interval=0.5, follow_stream=False)
    flow_server.limit_bodies(INGRESS_LIMIT)
    load_many(rig, 300)
    await rig.start()
    await eventually(rig.converged, "300 releases behind the limit")

    flow_server.limit_bodies(None)
    await eventually(
        lambda: rig.metrics.value("flux_adapter_envelope_limit_bytes") == MAX_ENVELOPE_BYTES,
        "a periodic snapshot check offers the full size again",
    )
    load_many(rig, 300, ready=PROGRESSING)
    await eventually(rig.converged, "every release running")
    assert max(accepted_sizes(flow_server)) > INGRESS_LIMIT


async def test_an_item_larger_than_the_limit_is_held_and_retried_at_each_check(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    resync = 1.0
    rig, clock = timed_rig(make_rig, flow_server, resync_interval=resync, follow_stream=False)
    await synced(rig, clock)
    flow_server.limit_bodies(300)
    with capture_logs() as logs:
        rig.apply("bp-keycloak", family="identity", ready=UPGRADE_FAILED, message="x" * 400)
        await clock.until(
            lambda: any(e["event"] == "envelope_item_too_large" for e in logs),
            "the oversized node is reported",
        )
    held = next(e for e in logs if e["event"] == "envelope_item_too_large")
    assert held["log_level"] == "error"
    assert held["keys"] == ["eu-central-1/bp-keycloak"]
    assert not rig.converged()

    flow_server.limit_bodies(None)
    lifted = clock.now
    sent = await clock.until(rig.converged, "the held node is sent after a check")
    # The next check comes a resync interval after the last one, then a flush window.
    assert sent - lifted <= resync + FAST["emit_interval"]


@pytest.mark.parametrize("status", [404, 405, 408, 425, 429])
async def test_these_statuses_on_a_post_are_transient_and_retried(
    rig: Rig, flow_server: FlowServer, status: int
) -> None:
    await rig.start_synced()
    flow_server.fail(status, times=2, method="POST")
    rig.apply("bp-harbor", family="registry", ready=UPGRADE_FAILED)
    await eventually(rig.converged, f"the change delivered after two {status}s")
    failed = {"type": "upsert-nodes", "outcome": "failed"}
    assert rig.metrics.value("flux_adapter_envelopes_total", failed) == 2


async def test_a_404_on_a_post_is_logged_as_a_wrong_url_or_proxy_fault(
    rig: Rig, flow_server: FlowServer
) -> None:
    await rig.start_synced()
    flow_server.fail(404, times=1, method="POST")
    with capture_logs() as logs:
        rig.apply("bp-harbor", family="registry", ready=UPGRADE_FAILED)
        await eventually(rig.converged, "the change delivered after the 404")
    [warning] = [e for e in logs if e["event"] == "flow_server_unavailable"]
    assert "wrong URL or a proxy fault" in warning["detail"]


async def test_a_value_refused_with_400_is_retried_at_the_next_snapshot_check(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig = make_rig(resync_interval=0.5, follow_stream=False)
    await rig.start_synced()
    flow_server.fail(400, times=1, method="POST")
    rig.apply("bp-keycloak", family="identity", ready=PROGRESSING)
    await eventually(
        lambda: rig.metrics.value("flux_adapter_envelopes_total", REJECTED_NODES) == 1,
        "the refusal",
    )
    await eventually(rig.converged, "the refused value resent after the check")


async def test_a_failing_snapshot_endpoint_never_holds_back_changes(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    emit_interval = 0.1
    rig, clock = timed_rig(
        make_rig, flow_server, resync_interval=0.3, emit_interval=emit_interval, follow_stream=False
    )
    await synced(rig, clock)
    flow_server.fail(500, method="GET")

    for step in range(5):
        ready = UPGRADE_FAILED if step % 2 == 0 else SUCCEEDED
        rig.apply("bp-harbor", family="registry", ready=ready, message=f"change {step}")
        changed = clock.now
        delivered = await clock.until(rig.converged, f"change {step} delivered", step=0.01)
        assert delivered - changed <= emit_interval + 0.01
        await clock.advance(0.4)

    assert rig.metrics.value("flux_adapter_resyncs_total", {"outcome": "failed"}) >= 2


async def test_a_hung_snapshot_request_never_holds_back_changes(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    emit_interval = 0.05
    rig, clock = timed_rig(
        make_rig, flow_server, resync_interval=0.3, post_timeout=5.0, emit_interval=emit_interval
    )
    await synced(rig, clock)
    flow_server.hang(method="GET")
    await clock.until(lambda: flow_server.hanging == 1, "a snapshot GET hangs")

    rig.apply("bp-harbor", family="registry", ready=UPGRADE_FAILED)
    changed = clock.now
    delivered = await clock.until(rig.converged, "the change delivered while the GET hangs")
    assert delivered - changed <= emit_interval + 0.05
    assert flow_server.hanging == 1
    flow_server.heal()


async def test_a_failing_snapshot_check_is_retried_with_backoff_not_in_a_loop(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig, clock = timed_rig(
        make_rig, flow_server, resync_interval=60.0, backoff_start=0.1, backoff_cap=0.4
    )
    await synced(rig, clock)
    flow_server.fail(500, method="GET")
    before = len(flow_server.requests)
    rig.emitter.request_resync()
    await clock.advance(2.0)
    gets = [seen for seen in flow_server.requests[before:] if seen.method == "GET"]
    # Waits of at least 0.05, 0.1, then 0.2 s each: no more than 12 GETs in 2 s.
    assert 2 <= len(gets) <= 12

    flow_server.heal()
    await clock.until(
        lambda: rig.metrics.value("flux_adapter_resyncs_total", {"outcome": "in_sync"}) >= 1,
        "the check succeeds once the endpoint heals",
    )
