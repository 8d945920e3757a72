"""The emitter through the flow server's faults: outages, refusals, lost memory, stale state."""

from __future__ import annotations

import aiohttp
from structlog.testing import capture_logs

from tests.conftest import MakeRig, MakeServer
from tests.fakes.flow_server import FlowServer
from tests.support import eventually
from tests.support.objects import PROGRESSING, SUCCEEDED, UPGRADE_FAILED
from tests.support.rig import FLOW_ID, REGION, Rig

KEYCLOAK_DEPS = ("bp-cnpg", "bp-cert-manager", "bp-external-secrets")


def failed_requests(server: FlowServer) -> int:
    return sum(1 for seen in server.requests if seen.status >= 500)


async def synced(rig: Rig) -> None:
    await rig.start_synced()


async def test_outage_is_retried_until_the_server_returns_without_stale_values(
    rig: Rig, flow_server: FlowServer
) -> None:
    await rig.start_synced()
    flow_server.fail(500)

    rig.apply("bp-keycloak", family="identity", depends_on=KEYCLOAK_DEPS, message="superseded")
    await eventually(lambda: failed_requests(flow_server) >= 2, "two failed attempts")
    rig.apply(
        "bp-keycloak",
        family="identity",
        depends_on=KEYCLOAK_DEPS,
        ready=UPGRADE_FAILED,
        message="current",
    )
    rig.apply("bp-harbor", family="registry", ready=PROGRESSING)

    def carrying_current() -> list[int]:
        return [i for i, seen in enumerate(flow_server.requests) if b"current" in seen.body]

    # A retry already on the wire when the change landed may still carry the old
    # value; every attempt that starts after it diffs afresh.
    await eventually(lambda: len(carrying_current()) >= 2, "retries after the new change")
    flow_server.heal()
    await rig.settle()

    assert rig.converged()
    first_current = carrying_current()[0]
    assert not any(b"superseded" in seen.body for seen in flow_server.requests[first_current:])
    assert not any(b"superseded" in seen.body for seen in flow_server.posts() if seen.status == 200)
    assert rig.metrics.value("flux_adapter_post_retries_total") >= 2


async def test_refused_connections_are_retried_until_the_server_listens_again(
    rig: Rig, flow_server: FlowServer
) -> None:
    await rig.start_synced()
    await flow_server.refuse()

    rig.apply("bp-openbao", family="security", ready=UPGRADE_FAILED)
    await eventually(
        lambda: rig.metrics.value("flux_adapter_post_retries_total") >= 3, "three retries"
    )
    await flow_server.accept()
    await rig.settle()

    assert rig.converged()


async def test_a_hung_request_times_out_and_is_retried(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig = make_rig(post_timeout=0.3)
    await rig.start_synced()
    flow_server.hang(times=1, method="POST")

    rig.apply("bp-kyverno", family="policy", depends_on=("bp-cert-manager",), ready=PROGRESSING)
    await rig.settle()

    assert rig.converged()
    failed = {"type": "upsert-nodes", "outcome": "failed"}
    assert rig.metrics.value("flux_adapter_envelopes_total", failed) == 1


async def test_retry_after_is_honoured(rig: Rig, flow_server: FlowServer) -> None:
    await rig.start_synced()
    flow_server.fail(429, times=1, method="POST", retry_after="1")

    rig.apply("bp-stunner", family="network", depends_on=("bp-cilium",), ready=PROGRESSING)
    await rig.settle()

    throttled = next(i for i, seen in enumerate(flow_server.requests) if seen.status == 429)
    gap = flow_server.requests[throttled + 1].at - flow_server.requests[throttled].at
    assert gap >= 0.95
    assert rig.converged()


async def test_rejected_envelope_is_logged_counted_and_not_retried(
    rig: Rig, flow_server: FlowServer
) -> None:
    await rig.start_synced()
    flow_server.fail(400, times=1, method="POST", body="nodes[1]: status is not allowed")

    with capture_logs() as logs:
        # One window with a node change (refused) and two removed edges (accepted).
        rig.apply("bp-keycloak", family="identity", depends_on=("bp-cnpg",), ready=PROGRESSING)
        await rig.settle()

    refused = [seen for seen in flow_server.posts() if seen.status == 400]
    assert len(refused) == 1
    assert refused[0].envelope()["type"] == "upsert-nodes"
    assert [entry for entry in logs if entry["event"] == "envelope_rejected"] == [
        {
            "event": "envelope_rejected",
            "log_level": "error",
            "status": 400,
            "body": "nodes[1]: status is not allowed",
            "envelope_type": "upsert-nodes",
            "envelope_bytes": len(refused[0].body),
        }
    ]
    rejected = {"type": "upsert-nodes", "outcome": "rejected"}
    assert rig.metrics.value("flux_adapter_envelopes_total", rejected) == 1
    assert (f"{REGION}/bp-cert-manager", f"{REGION}/bp-keycloak", "finish-to-start") not in (
        rig.on_server().rels
    )


async def test_rejected_value_waits_for_the_next_check_or_a_change(
    rig: Rig, flow_server: FlowServer
) -> None:
    await rig.start_synced()
    flow_server.fail(400, times=1, method="POST")
    rig.apply("bp-keycloak", family="identity", depends_on=KEYCLOAK_DEPS, ready=PROGRESSING)
    await rig.settle()
    posts_after_rejection = len(flow_server.posts())

    rig.apply("bp-harbor", family="registry", ready=PROGRESSING)
    await rig.settle()
    later = flow_server.posts()[posts_after_rejection:]
    assert later
    resent = [node["id"] for seen in later for node in seen.envelope().get("nodes", [])]
    assert f"{REGION}/bp-harbor" in resent
    assert f"{REGION}/bp-keycloak" not in resent

    rig.emitter.request_resync()
    await rig.settle()
    assert rig.converged()

    flow_server.fail(400, times=1, method="POST")
    rig.apply("bp-keycloak", family="identity", depends_on=KEYCLOAK_DEPS, ready=UPGRADE_FAILED)
    await rig.settle()
    rig.apply("bp-keycloak", family="identity", depends_on=KEYCLOAK_DEPS, ready=SUCCEEDED)
    await rig.settle()
    assert rig.converged()


async def test_server_restart_is_repaired_by_the_next_snapshot_check(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig = make_rig(resync_interval=0.3)
    await rig.start_synced()

    flow_server.restart()
    await eventually(rig.converged, "the graph is back on the restarted server")

    assert rig.metrics.value("flux_adapter_resyncs_total", {"outcome": "empty"}) >= 1


async def test_ring_eviction_is_repaired_by_the_next_snapshot_check(
    make_server: MakeServer, make_rig: MakeRig
) -> None:
    server = await make_server(ring_size=8)
    # Without the stream, the clock is all that brings a check.
    rig = make_rig(server, resync_interval=0.3, follow_stream=False)
    await rig.start_synced()

    # A neighbour region posts enough to push every one of our envelopes out of the ring.
    async with aiohttp.ClientSession() as neighbour:
        for index in range(8):
            node = {
                "id": f"us-east-1/app-{index}",
                "flowId": FLOW_ID,
                "label": "app",
                "status": "running",
            }
            envelope = {"type": "upsert-nodes", "nodes": [node]}
            async with neighbour.post(
                f"{server.url}/v1/flows/{FLOW_ID}/events", json=envelope
            ) as answer:
                assert answer.status == 200
    assert rig.on_server().nodes == {}

    await eventually(rig.converged, "the evicted graph is back")
    assert rig.metrics.value("flux_adapter_resyncs_total", {"outcome": "differed"}) >= 1


async def test_a_snapshot_check_in_sync_costs_one_get(rig: Rig, flow_server: FlowServer) -> None:
    await rig.start_synced()
    before = len(flow_server.requests)

    rig.emitter.request_resync()
    await rig.settle()

    assert [seen.method for seen in flow_server.requests[before:]] == ["GET"]
    assert rig.metrics.value("flux_adapter_resyncs_total", {"outcome": "in_sync"}) == 1


async def test_state_left_by_a_previous_run_is_corrected_at_start(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    previous = make_rig()
    await previous.start_synced()
    await previous.stop()

    # While no adapter ran, bp-velero was deleted and bp-loki started failing.
    rig = make_rig()
    rig.load_kit()
    rig.remove("bp-velero")
    rig.apply("bp-loki", family="observability", depends_on=("bp-seaweedfs",), ready=UPGRADE_FAILED)
    before = len(flow_server.posts())
    await rig.start()
    await rig.settle()

    assert rig.converged()
    assert [envelope["type"] for envelope in rig.posts()[before:]] == [
        "upsert-nodes",
        "delete-rels",
        "delete-nodes",
    ]


async def test_an_invalid_node_on_the_server_is_overwritten_or_deleted(
    rig: Rig, flow_server: FlowServer
) -> None:
    await rig.start_synced()
    # The server stores whatever it is given; someone gave it broken nodes of ours.
    broken = {
        "type": "upsert-nodes",
        "nodes": [{"id": f"{REGION}/bp-cilium"}, {"id": f"{REGION}/ghost", "status": 7}],
    }
    async with aiohttp.ClientSession() as other:
        url = f"{flow_server.url}/v1/flows/{FLOW_ID}/events"
        async with other.post(url, json=broken) as answer:
            assert answer.status == 200

    rig.emitter.request_resync()
    await rig.settle()

    assert rig.converged()


async def test_nodes_of_other_regions_are_left_alone(rig: Rig, flow_server: FlowServer) -> None:
    neighbour = {
        "type": "upsert-nodes",
        "nodes": [{"id": "us-east-1", "flowId": FLOW_ID, "label": "us-east-1", "status": "failed"}],
    }
    async with aiohttp.ClientSession() as other:
        url = f"{flow_server.url}/v1/flows/{FLOW_ID}/events"
        async with other.post(url, json=neighbour) as answer:
            assert answer.status == 200

    await rig.start_synced()
    rig.apply("bp-cilium", family="network", ready=SUCCEEDED, message="again")
    rig.emitter.request_resync()
    await rig.settle()

    snapshot = flow_server.snapshot(FLOW_ID)
    assert snapshot is not None
    assert neighbour["nodes"][0] in snapshot["nodes"]
    assert rig.converged()
