"""When the emitter reads the server's snapshot, and what it concludes from it."""

from __future__ import annotations

from structlog.testing import capture_logs

from tests.conftest import MakeRig
from tests.fakes.flow_server import FlowServer
from tests.support.objects import PROGRESSING
from tests.support.rig import FLOW_ID
from tests.support.timed import caught_up, synced, timed_rig


async def test_a_post_answered_while_a_check_is_out_is_no_false_loss(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig, clock = timed_rig(make_rig, flow_server, follow_stream=False)
    await synced(rig, clock)
    flow_server.slow_snapshots()
    await clock.advance(61.0)  # the resync interval: a check goes out, folded now, answered late
    await clock.until(lambda: flow_server.hanging == 1, "the snapshot GET held")
    posts = len(flow_server.posts(FLOW_ID))
    with capture_logs() as logs:
        rig.apply("bp-harbor", family="registry", ready=PROGRESSING)
        await clock.until(lambda: len(flow_server.posts(FLOW_ID)) > posts, "the change posted")
        answered = len(flow_server.posts(FLOW_ID))
        flow_server.heal()
        await caught_up(rig, clock)
    checked = [e for e in logs if e["event"] == "snapshot_checked"]
    assert [(e["outcome"], e["lost_nodes"]) for e in checked] == [("in_sync", 0)]
    assert len(flow_server.posts(FLOW_ID)) == answered  # nothing sent again
    assert rig.converged()
