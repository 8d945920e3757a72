"""When the emitter reads the server's snapshot, and what it concludes from it."""

from __future__ import annotations

from structlog.testing import capture_logs

from flux_adapter.emit.emitter import TRUSTED_RESYNC_INTERVAL
from tests.conftest import MakeRig
from tests.fakes.flow_server import FlowServer
from tests.support.clock import FakeClock
from tests.support.objects import PROGRESSING, SUCCEEDED
from tests.support.rig import FLOW_ID, Rig
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


def snapshot_gets(server: FlowServer) -> int:
    return sum(
        1 for seen in server.requests if seen.method == "GET" and seen.path.endswith("/snapshot")
    )


async def following(rig: Rig, clock: FakeClock) -> None:
    await clock.until(
        lambda: rig.metrics.value("flux_adapter_stream_connected") == 1, "the stream followed"
    )


async def followed(make_rig: MakeRig, server: FlowServer) -> tuple[Rig, FakeClock, int]:
    """A synced rig on a fake clock that follows the stream, and the snapshot GETs so far."""
    rig, clock = timed_rig(make_rig, server, resync_interval=60.0)
    await synced(rig, clock)
    await following(rig, clock)
    return rig, clock, snapshot_gets(server)


async def changing(rig: Rig, clock: FakeClock, seconds: float) -> None:
    """Let `seconds` pass with a status change every 30 s (its envelope keeps the stream busy:
    the fake's heartbeats run on the real clock)."""
    for step in range(int(seconds // 30)):
        rig.apply("bp-harbor", family="registry", ready=PROGRESSING if step % 2 else SUCCEEDED)
        await clock.advance(30.0)


async def test_no_snapshot_is_read_while_the_stream_is_followed_and_nothing_is_in_doubt(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig, clock, before = await followed(make_rig, flow_server)

    await changing(rig, clock, 10 * 60.0)  # ten resync intervals

    assert snapshot_gets(flow_server) == before
    assert rig.converged()


async def test_without_the_stream_the_snapshot_is_read_every_resync_interval(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig, clock = timed_rig(make_rig, flow_server, resync_interval=60.0, follow_stream=False)
    await synced(rig, clock)
    before = snapshot_gets(flow_server)

    await clock.advance(10 * 60.0 + 1.0)

    assert snapshot_gets(flow_server) - before == 10


async def test_the_backstop_still_reads_the_snapshot_while_the_stream_is_followed(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig, clock, before = await followed(make_rig, flow_server)

    await changing(rig, clock, TRUSTED_RESYNC_INTERVAL + 30.0)

    assert snapshot_gets(flow_server) - before == 1


async def doubted(rig: Rig, clock: FakeClock, server: FlowServer, before: int) -> float:
    """Run the clock until a snapshot GET beyond `before` went out; the seconds it took."""
    start = clock.now
    await clock.until(lambda: snapshot_gets(server) > before, "a snapshot check", step=0.01)
    return clock.now - start


async def test_a_stream_that_ends_brings_a_check_at_once(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig, clock, before = await followed(make_rig, flow_server)

    flow_server.end_streams()

    assert await doubted(rig, clock, flow_server, before) < 1.0


async def test_a_post_answered_without_a_number_brings_a_check_at_once(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig, clock, before = await followed(make_rig, flow_server)
    flow_server.fail(200, times=1, method="POST", body="{}")

    rig.apply("bp-harbor", family="registry", ready=PROGRESSING)

    assert await doubted(rig, clock, flow_server, before) < 1.0
    await caught_up(rig, clock)
    assert rig.converged()  # the answer without a number was not applied; the check saw it


async def test_a_smaller_size_limit_learned_brings_a_check_at_once(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig, clock, before = await followed(make_rig, flow_server)
    flow_server.limit_bodies(2_000)

    for name in ("bp-harbor", "bp-keycloak", "bp-grafana", "bp-loki"):
        rig.apply(name, ready=PROGRESSING, message="m" * 300)

    assert await doubted(rig, clock, flow_server, before) < 1.0
    await caught_up(rig, clock)
    assert rig.metrics.value("flux_adapter_envelope_limit_bytes") < 2_000
    assert rig.converged()


async def test_a_takeover_brings_a_check_at_once(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig, clock, before = await followed(make_rig, flow_server)

    rig.emitter.request_resync()

    assert await doubted(rig, clock, flow_server, before) < 1.0
