"""The emitter's everyday behaviour against the fake flow server: order, debounce, batching."""

from __future__ import annotations

import asyncio

from flux_adapter.emit.http_sink import HttpSink
from flux_adapter.emit.sink import Snapshot
from mapper import MAX_ENVELOPE_BYTES, Batch
from tests.conftest import MakeRig
from tests.fakes.flow_server import FlowServer
from tests.support.objects import PROGRESSING, SUCCEEDED, UPGRADE_FAILED
from tests.support.rig import FLOW_ID, REGION, Rig


def node_ids(envelope: dict[str, object]) -> list[str]:
    nodes = envelope.get("nodes")
    assert isinstance(nodes, list)
    return [node["id"] for node in nodes]


async def test_region_node_goes_first_even_without_releases(rig: Rig) -> None:
    await rig.start()
    await rig.settle()

    assert rig.posts() == [
        {
            "type": "upsert-nodes",
            "nodes": [
                {
                    "id": REGION,
                    "flowId": FLOW_ID,
                    "label": REGION,
                    "status": "pending",
                    "region": REGION,
                }
            ],
        }
    ]


async def test_region_node_leads_the_first_envelope_of_a_full_cluster(rig: Rig) -> None:
    await rig.start_synced()

    assert node_ids(rig.posts()[0])[0] == REGION
    assert rig.converged()


async def test_initial_sync_of_a_bootstrap_takes_one_envelope_per_kind(rig: Rig) -> None:
    await rig.start_synced()

    assert [envelope["type"] for envelope in rig.posts()] == ["upsert-nodes", "upsert-rels"]
    assert len(rig.on_server().nodes) == 31
    assert len(rig.on_server().rels) == 30 + 46


async def test_a_burst_of_changes_is_coalesced_into_one_post(rig: Rig) -> None:
    await rig.start_synced()
    before = len(rig.posts())

    for round_ in range(50):
        rig.apply(
            "bp-keycloak",
            family="identity",
            depends_on=("bp-cnpg", "bp-cert-manager", "bp-external-secrets"),
            ready=PROGRESSING if round_ % 2 else SUCCEEDED,
            message=f"reconcile {round_}",
        )
    await rig.settle()

    sent = rig.posts()[before:]
    assert len(sent) == 1
    assert sorted(node_ids(sent[0])) == [REGION, f"{REGION}/bp-keycloak"]
    assert rig.converged()


async def test_a_change_back_to_the_acknowledged_value_sends_nothing(rig: Rig) -> None:
    await rig.start_synced()
    before = len(rig.server.requests)

    rig.apply("bp-cilium", family="network", ready=UPGRADE_FAILED)
    rig.apply("bp-cilium", family="network", ready=SUCCEEDED)
    await rig.settle()

    assert len(rig.server.requests) == before
    assert rig.converged()


async def test_steady_churn_still_flushes_every_interval(make_rig: MakeRig) -> None:
    rig = make_rig(emit_interval=0.1)
    await rig.start_synced()
    before = len(rig.posts())

    # If churn extended the window, nothing would be posted until it stopped.
    flips = 0
    while len(rig.posts()) < before + 3:
        assert flips < 2000, "no flush while changes kept coming"
        rig.apply("bp-cilium", family="network", message=f"reconcile {flips}")
        flips += 1
        await asyncio.sleep(0.02)
    await rig.settle()

    assert rig.converged()


class HeldSink:
    """An HTTP sink whose next POST waits until the test lets it go."""

    def __init__(self, inner: HttpSink) -> None:
        self.inner = inner
        self.hold = False
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def post(self, batch: Batch) -> None:
        if self.hold:
            self.hold = False
            self.holding.set()
            await self.release.wait()
        await self.inner.post(batch)

    async def snapshot(self, region: str) -> Snapshot | None:
        return await self.inner.snapshot(region)

    async def close(self) -> None:
        await self.inner.close()


async def test_changes_made_during_a_flush_go_to_the_next_window(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    sink = HeldSink(HttpSink(flow_server.url, FLOW_ID))
    rig = make_rig(sink=sink)
    await rig.start_synced()
    before = len(rig.posts())

    sink.hold = True
    rig.apply("bp-trivy", family="policy", depends_on=("bp-kyverno",), ready=PROGRESSING)
    await sink.holding.wait()
    rig.apply("bp-velero", family="storage", depends_on=("bp-seaweedfs",), ready=PROGRESSING)
    sink.release.set()
    await rig.settle()

    sent = rig.posts()[before:]
    assert [node_ids(envelope) for envelope in sent] == [
        [REGION, f"{REGION}/bp-trivy"],
        [f"{REGION}/bp-velero"],
    ]
    assert rig.converged()


async def test_envelopes_stay_under_one_mebibyte_with_20000_nodes(rig: Rig) -> None:
    for index in range(20_000):
        rig.apply(f"release-{index:05d}", depends_on=(f"release-{index - 1:05d}",) if index else ())
    await rig.start()
    await rig.settle()

    posts = rig.server.posts(FLOW_ID)
    assert all(seen.status == 200 for seen in posts)
    assert max(len(seen.body) for seen in posts) <= MAX_ENVELOPE_BYTES
    assert len(rig.on_server().nodes) == 20_001
    assert rig.converged()


async def test_removed_depends_on_entry_is_deleted_with_delete_rels(rig: Rig) -> None:
    await rig.start_synced()
    before = len(rig.posts())

    rig.apply("bp-harbor", family="registry", depends_on=("bp-cnpg", "bp-keycloak"))
    await rig.settle()

    assert rig.posts()[before:] == [
        {
            "type": "delete-rels",
            "pairs": [
                {
                    "fromId": f"{REGION}/bp-dragonfly",
                    "toId": f"{REGION}/bp-harbor",
                    "type": "finish-to-start",
                },
                {
                    "fromId": f"{REGION}/bp-seaweedfs",
                    "toId": f"{REGION}/bp-harbor",
                    "type": "finish-to-start",
                },
            ],
        }
    ]
    assert rig.converged()


async def test_deleted_release_takes_its_edges_then_its_node(rig: Rig) -> None:
    await rig.start_synced()
    before = len(rig.posts())

    rig.remove("bp-velero")
    await rig.settle()

    assert rig.posts()[before:] == [
        {
            "type": "delete-rels",
            "pairs": [
                {
                    "fromId": f"{REGION}/bp-seaweedfs",
                    "toId": f"{REGION}/bp-velero",
                    "type": "finish-to-start",
                },
                {"fromId": f"{REGION}/bp-velero", "toId": REGION, "type": "contains"},
            ],
        },
        {"type": "delete-nodes", "ids": [f"{REGION}/bp-velero"]},
    ]
    assert rig.converged()


async def test_stop_flushes_what_is_pending(make_rig: MakeRig) -> None:
    rig = make_rig(emit_interval=60.0)
    await rig.start_synced()

    rig.apply("bp-grafana", family="observability", ready=UPGRADE_FAILED)
    await rig.stop()

    assert rig.converged()


async def test_stop_gives_up_at_its_deadline_when_the_server_is_gone(
    make_rig: MakeRig, flow_server: FlowServer
) -> None:
    rig = make_rig(shutdown_timeout=0.5)
    await rig.start_synced()

    await flow_server.refuse()
    rig.apply("bp-grafana", family="observability", ready=UPGRADE_FAILED)
    await rig.stop()

    assert not rig.emitter.caught_up
    assert rig.metrics.value("flux_adapter_pending_diff_keys") > 0


async def test_acknowledged_changes_are_measured(rig: Rig) -> None:
    await rig.start_synced()

    rig.apply("bp-loki", family="observability", depends_on=("bp-seaweedfs",), ready=PROGRESSING)
    await rig.settle()

    value = rig.metrics.value
    assert value("flux_adapter_change_to_ack_seconds_count") == 31 + 76 + 2
    assert value("flux_adapter_envelopes_total", {"type": "upsert-nodes", "outcome": "acked"}) == 2
    assert value("flux_adapter_envelopes_total", {"type": "upsert-rels", "outcome": "acked"}) == 1
    assert value("flux_adapter_pending_diff_keys") == 0
    assert value("flux_adapter_nodes") == 31
    assert value("flux_adapter_last_successful_post_timestamp_seconds") > 0
