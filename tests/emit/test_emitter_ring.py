"""Staying ahead of the flow server's ring: other regions' envelopes never push ours out.

Each test gives the fake flow server a small ring and the emitter the same
capacity, then lets another region post into the flow and looks at the
server's snapshot right after every foreign envelope was accepted.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator

import aiohttp
import pytest
from structlog.testing import capture_logs

from flux_adapter.emit.ring import horizon, margin
from tests.conftest import MakeRig, MakeServer
from tests.fakes.flow_server import FlowServer, Json
from tests.support import eventually
from tests.support.objects import PROGRESSING, SUCCEEDED
from tests.support.rig import FAST, FLOW_ID, REGION, Rig

RING = 32
KIT_NODES = 31
KIT_RELS = 76


class Neighbour:
    """Another region posting one node per envelope into the same flow."""

    def __init__(self, server: FlowServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session
        self.sent = 0

    async def post(self) -> int:
        node = {
            "id": f"us-east-1/app-{self.sent % 5}",
            "flowId": FLOW_ID,
            "label": "app",
            "status": "running",
            "region": "us-east-1",
        }
        self.sent += 1
        url = f"{self.server.url}/v1/flows/{FLOW_ID}/events"
        async with self.session.post(url, json={"type": "upsert-nodes", "nodes": [node]}) as answer:
            assert answer.status == 200
            seq: int = json.loads(await answer.read())["seq"]
            return seq


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
async def small_ring(make_server: MakeServer) -> FlowServer:
    return await make_server(ring_size=RING)


def items(envelope: Json) -> list[Json]:
    """The nodes or relationships an upsert carries."""
    field = "nodes" if "nodes" in envelope else "relationships"
    listed: list[Json] = envelope.get(field) or []
    return listed


def owner(item: Json) -> str:
    node_id: str = item["id"] if "id" in item else item["toId"]
    return node_id.split("/")[0]


def ours(rig: Rig) -> list[Json]:
    """Our envelopes, as the server accepted them."""
    return [
        envelope
        for envelope in rig.posts()
        if any(owner(item) == REGION for item in items(envelope))
    ]


def missing(rig: Rig) -> bool:
    """Some node or edge of ours is not on the server at all (a change not sent yet is no hole)."""
    held, wanted = rig.on_server(), rig.expected()
    return bool(wanted.nodes.keys() - held.nodes.keys() or wanted.rels.keys() - held.rels.keys())


async def heard(rig: Rig, seq: int) -> None:
    """Wait until the emitter knows the flow reached `seq` and has nothing left to do."""
    await eventually(
        lambda: rig.emitter.flow_sequence >= seq and rig.emitter.caught_up,
        f"the emitter heard {seq} and caught up",
    )


async def test_our_graph_never_leaves_the_snapshot_while_another_region_turns_the_ring_over(
    small_ring: FlowServer, make_rig: MakeRig, session: aiohttp.ClientSession
) -> None:
    rig = make_rig(small_ring, ring_capacity=RING)
    await rig.start_synced()
    neighbour = Neighbour(small_ring, session)

    for _ in range(4 * RING):
        seq = await neighbour.post()
        assert rig.converged(), f"a hole after foreign envelope {seq}"
        await heard(rig, seq)

    # Each re-upsert carried the whole graph of its kind: one envelope of
    # nodes and one of edges per refresh, and a refresh only every
    # (ring - margin - horizon) envelopes at most.
    refreshes = ours(rig)[2:]
    assert refreshes
    for envelope in refreshes:
        assert len(items(envelope)) in (
            KIT_NODES,
            KIT_RELS,
        )
    most = 2 * math.ceil(4 * RING / (RING - 1 - margin(RING) - horizon(RING)))
    assert len(refreshes) <= most


async def test_bursts_within_the_margin_open_no_hole_even_unheard(
    small_ring: FlowServer, make_rig: MakeRig, session: aiohttp.ClientSession
) -> None:
    rig = make_rig(small_ring, ring_capacity=RING)
    await rig.start_synced()
    neighbour = Neighbour(small_ring, session)

    for _ in range(8):
        # Back to back: the emitter may hear none of these before the next.
        for _ in range(margin(RING)):
            seq = await neighbour.post()
            assert rig.converged(), f"a hole after foreign envelope {seq}"
        await heard(rig, seq)


async def test_without_the_stream_its_own_post_answers_keep_it_ahead(
    small_ring: FlowServer, make_rig: MakeRig, session: aiohttp.ClientSession
) -> None:
    small_ring.stream_enabled = False
    rig = make_rig(small_ring, ring_capacity=RING)
    await rig.start_synced()
    neighbour = Neighbour(small_ring, session)

    for round_ in range(6):
        for _ in range(margin(RING)):
            await neighbour.post()
            assert rig.converged()
        # A change of ours is answered with the flow's number: the emitter
        # learns how far the ring turned, and re-upserts what must go.
        rig.apply("bp-cilium", family="network", message=f"reconcile {round_}")
        await rig.settle()
    assert rig.metrics.value("flux_adapter_stream_connected") == 0
    assert rig.metrics.value("flux_adapter_ring_refreshed_keys_total", {"kind": "node"}) > 0


async def test_a_restarted_adapter_counts_what_it_finds_as_the_oldest(
    small_ring: FlowServer, make_rig: MakeRig, session: aiohttp.ClientSession
) -> None:
    previous = make_rig(small_ring, ring_capacity=RING)
    await previous.start_synced()
    neighbour = Neighbour(small_ring, session)
    for _ in range(RING - 2):
        await neighbour.post()
    await previous.stop()
    assert previous.converged(), "nothing evicted yet"

    # A fresh copy finds everything on the server under numbers it never saw.
    rig = make_rig(small_ring, ring_capacity=RING)
    before = len(rig.posts())
    rig.load_kit()
    await rig.start()
    await heard(rig, RING)

    assert [envelope["type"] for envelope in ours(rig)[-2:]] == ["upsert-nodes", "upsert-rels"]
    assert len(rig.posts()) == before + 2
    for _ in range(RING):
        seq = await neighbour.post()
        assert rig.converged(), f"a hole after foreign envelope {seq}"
        await heard(rig, seq)


async def test_a_lower_number_in_a_post_answer_resends_everything_at_once(
    flow_server: FlowServer, make_rig: MakeRig
) -> None:
    rig = make_rig(resync_interval=3600.0, follow_stream=False)
    await rig.start_synced()

    flow_server.restart()
    rig.apply("bp-cilium", family="network", ready=PROGRESSING)
    await eventually(
        rig.converged, "everything back after the restart", deadline=FAST["emit_interval"] + 1.0
    )
    assert rig.metrics.value("flux_adapter_flow_restarts_total", {"source": "post"}) == 1
    assert rig.metrics.value("flux_adapter_resyncs_total", {"outcome": "empty"}) == 1


async def test_a_restart_seen_on_the_stream_resends_everything_at_once(
    flow_server: FlowServer, make_rig: MakeRig
) -> None:
    rig = make_rig(resync_interval=3600.0)
    await rig.start_synced()
    await eventually(lambda: rig.metrics.value("flux_adapter_stream_connected") == 1, "following")

    empty = rig.metrics.value("flux_adapter_resyncs_total", {"outcome": "empty"})

    flow_server.restart()
    await eventually(
        rig.converged, "everything back after the restart", deadline=FAST["emit_interval"] + 1.0
    )
    # The restart closed the stream: that doubt brought a check, which found the flow empty.
    assert rig.metrics.value("flux_adapter_resyncs_total", {"outcome": "empty"}) == empty + 1


async def test_a_deleted_flow_is_seen_on_the_open_stream_and_refilled(
    flow_server: FlowServer, make_rig: MakeRig, session: aiohttp.ClientSession
) -> None:
    rig = make_rig(resync_interval=3600.0)
    await rig.start_synced()
    await eventually(lambda: rig.metrics.value("flux_adapter_stream_connected") == 1, "following")

    flow_server.delete_flow(FLOW_ID)
    # The count starts again at 1 with whoever posts next.
    await Neighbour(flow_server, session).post()
    await eventually(
        rig.converged, "everything back after the delete", deadline=FAST["emit_interval"] + 1.0
    )


async def test_refreshes_respect_the_size_limit_a_proxy_taught(
    small_ring: FlowServer, make_rig: MakeRig, session: aiohttp.ClientSession
) -> None:
    small_ring.limit_bodies(6_000)
    rig = make_rig(small_ring, ring_capacity=RING)
    await rig.start_synced()
    taught = len(small_ring.posts())
    neighbour = Neighbour(small_ring, session)

    for _ in range(2 * RING):
        seq = await neighbour.post()
        assert rig.converged(), f"a hole after foreign envelope {seq}"
        await heard(rig, seq)

    later = [seen for seen in small_ring.posts()[taught:] if seen.status != 200]
    assert later == [], "a refresh was larger than the limit learned"


async def test_a_ring_smaller_than_configured_is_learned_and_opens_no_hole_after(
    make_server: MakeServer, make_rig: MakeRig, session: aiohttp.ClientSession
) -> None:
    """Told a ring four times the server's: the first probe finds the hole, then none opens."""
    server = await make_server(ring_size=RING)
    rig = make_rig(server, ring_capacity=4 * RING)
    await rig.start_synced()
    neighbour = Neighbour(server, session)
    kit = list(rig.releases)
    holes_after_learning = 0
    with capture_logs() as logs:
        for index in range(12 * RING):
            if index % 4 == 0:  # our region changes too, a release at a time
                name = kit[(index // 4) % len(kit)]
                rig.apply(name, ready=PROGRESSING if (index // 4) % 2 else SUCCEEDED)
            seq = await neighbour.post()
            learned = [e for e in logs if e["event"] == "ring_capacity_learned"]
            if learned and missing(rig):
                holes_after_learning += 1
            await heard(rig, seq)
    assert [(e["configured"], e["learned"] >= RING) for e in learned] == [(4 * RING, True)]
    assert rig.metrics.value("flux_adapter_ring_capacity_envelopes") < 4 * RING
    assert holes_after_learning == 0


async def test_lower_numbers_the_snapshot_contradicts_resend_nothing(
    flow_server: FlowServer, make_rig: MakeRig
) -> None:
    rig = make_rig(resync_interval=3600.0)
    await rig.start_synced()
    await eventually(lambda: rig.metrics.value("flux_adapter_stream_connected") == 1, "following")
    before = len(rig.posts())

    # Valid numbers, alternately far ahead and far behind, every 50 ms.
    flow_server.attack_high = 2**40
    flow_server.attack = "alternating_ids"
    flow_server.end_streams()
    await eventually(lambda: flow_server.attacked >= 40, "two seconds of alternating numbers")
    flow_server.behave()
    await rig.settle()

    def counted(name: str, **labels: str) -> float:
        return sum(
            rig.metrics.value(name, {"source": source, **labels}) for source in ("post", "stream")
        )

    assert counted("flux_adapter_flow_loss_suspicions_total", verdict="not_confirmed") >= 1
    assert counted("flux_adapter_flow_restarts_total") == 0
    # At most one refresh of the ring (the number far ahead ages every key), never a re-send
    # per lower number.
    assert len(rig.posts()) - before <= 2
    assert rig.converged()
