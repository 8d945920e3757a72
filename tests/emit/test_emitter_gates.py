"""What the emitter holds back: all but the region before the first LIST, all while fenced."""

from __future__ import annotations

from structlog.testing import capture_logs

from flux_adapter.emit.poster import MIN_REQUEST_SECONDS
from tests.conftest import MakeRig
from tests.fakes.flow_server import FlowServer
from tests.support import eventually
from tests.support.objects import PROGRESSING
from tests.support.rig import REGION
from tests.support.timed import synced, timed_rig


async def test_only_the_region_node_is_sent_before_ready(make_rig: MakeRig) -> None:
    rig = make_rig(ready=False)
    rig.load_kit()
    await rig.start()
    await eventually(lambda: REGION in rig.on_server().nodes, "the region node is sent")
    asked = rig.ready_asked
    await eventually(lambda: rig.ready_asked >= asked + 5, "several more windows")

    assert [[node["id"] for node in envelope["nodes"]] for envelope in rig.posts()] == [[REGION]]

    rig.ready = True
    await rig.settle()
    assert rig.converged()


async def test_an_empty_cache_never_deletes_the_servers_graph(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    previous = make_rig()
    await previous.start_synced()
    await previous.stop()
    held = previous.on_server()

    rig = make_rig(ready=False)
    await rig.start()
    asked = rig.ready_asked
    await eventually(lambda: rig.ready_asked >= asked + 5, "several windows before ready")

    assert rig.on_server().nodes.keys() == held.nodes.keys()
    assert rig.on_server().rels == held.rels
    assert not any(envelope["type"].startswith("delete") for envelope in rig.posts())


async def test_nothing_is_sent_while_posting_is_fenced(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig = make_rig(may_post=False)
    rig.load_kit()
    await rig.start()
    await eventually(lambda: rig.gate_asked >= 5, "several windows while fenced")

    assert flow_server.requests == []
    assert flow_server.streams == [], "a standby does not follow the flow's stream"

    rig.may_post = True
    rig.emitter.request_resync()
    await rig.settle()
    assert rig.converged()
    await eventually(lambda: len(flow_server.streams) == 1, "the leader follows the stream")


async def test_losing_the_lease_stops_posting_mid_flush(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig = make_rig(max_bytes=4096, post_budget=3)
    rig.load_kit()
    await rig.start()
    await eventually(lambda: len(flow_server.posts()) >= 3, "the lease allowed three POSTs")
    asked = rig.gate_asked
    await eventually(lambda: rig.gate_asked >= asked + 10, "the emitter kept asking for the lease")

    posted = flow_server.posts()
    assert len(posted) == 3
    assert rig.emitter.acknowledged.nodes.keys() == rig.on_server().nodes.keys()
    assert rig.emitter.acknowledged.rels.keys() == rig.on_server().rels.keys()

    rig.post_budget = None
    rig.emitter.request_resync()
    await rig.settle()
    assert rig.converged()


async def test_a_new_leader_sends_only_what_the_old_one_did_not(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    old_leader = make_rig()
    await old_leader.start_synced()
    await old_leader.stop()

    standby = make_rig(may_post=False)
    standby.load_kit()
    standby.apply(
        "bp-tempo", family="observability", depends_on=("bp-seaweedfs",), ready=PROGRESSING
    )
    await standby.start()
    await eventually(lambda: standby.gate_asked >= 3, "the standby waited for the lease")
    before = len(flow_server.requests)

    standby.may_post = True
    standby.emitter.request_resync()
    await standby.settle()

    sent = flow_server.requests[before:]
    assert [seen.method for seen in sent] == ["GET", "POST"]
    assert [node["id"] for node in sent[1].envelope()["nodes"]] == [REGION, f"{REGION}/bp-tempo"]
    assert standby.converged()


async def test_no_request_outlives_the_fence(make_rig: MakeRig, flow_server: FlowServer) -> None:
    """A POST started 1.5 s before the renew deadline is abandoned at the deadline, not later."""
    rig, clock = timed_rig(make_rig, flow_server, post_timeout=30.0)
    await synced(rig, clock)
    deadline = clock.now + 1.5
    rig.time_left = lambda: max(0.0, deadline - clock.now)
    flow_server.hang(method="POST")
    with capture_logs() as logs:
        rig.apply("bp-harbor", family="registry", ready=PROGRESSING)
        gave_up = await clock.until(
            lambda: any(e["event"] == "flow_server_unavailable" for e in logs),
            "the POST gave up",
            step=0.01,
        )
    flow_server.heal()
    assert gave_up <= deadline + 0.01
    [failed] = [e for e in logs if e["event"] == "flow_server_unavailable"]
    assert "no answer within 1." in failed["detail"]


async def test_with_less_than_a_useful_minimum_left_no_request_is_started(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    emit_interval = 0.05
    rig, clock = timed_rig(make_rig, flow_server, emit_interval=emit_interval)
    await synced(rig, clock)
    before = len(flow_server.requests)
    rig.time_left = lambda: MIN_REQUEST_SECONDS / 2
    rig.apply("bp-harbor", family="registry", ready=PROGRESSING)
    await clock.advance(10 * emit_interval)
    assert flow_server.requests[before:] == []
