"""Leader election against the fake API server's Lease endpoints, on a fake clock.

Lease periods pass on the clock the electors are given, not in real time;
the clock waits for every Lease call on its way to be answered before it
moves on, unless the test froze the Lease endpoints on purpose.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
import structlog.testing

from flux_adapter.election.elector import JITTER, LeaderElector
from flux_adapter.kube.client import KubeApi
from flux_adapter.kube.connect import api_client
from flux_adapter.observe.metrics import Metrics
from tests.conftest import write_kubeconfig
from tests.fakes.kube_api import FakeKubeApi
from tests.fakes.leases import FakeLeases
from tests.support.clock import FakeClock

NS = "flux-system"
LEASE = "flux-adapter"
LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 3.0, 2.0, 1.0


class CountedApi:
    """A client whose Lease calls under way are counted, so the fake clock waits for them."""

    def __init__(self, inner: KubeApi) -> None:
        self.inner = inner
        self.under_way = 0

    async def fetch(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, json: Any = None
    ) -> tuple[int, bytes]:
        self.under_way += 1
        try:
            return await self.inner.fetch(method, path, params=params, json=json)
        finally:
            self.under_way -= 1


@dataclass
class Rig:
    api: FakeKubeApi
    leases: FakeLeases
    kubeconfig: Path
    clock: FakeClock = field(default_factory=FakeClock)
    clients: list[KubeApi] = field(default_factory=list)
    counted: list[CountedApi] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clock.busy = self.busy

    def busy(self) -> bool:
        """A Lease call is on its way and will be answered (the endpoints are not frozen)."""
        return not self.leases.frozen and any(api.under_way for api in self.counted)

    async def counted_client(self) -> KubeApi:
        client = await api_client(str(self.kubeconfig), request_timeout=5.0)
        self.clients.append(client)
        counted = CountedApi(client)
        self.counted.append(counted)
        return cast(KubeApi, counted)

    async def candidate(self, identity: str) -> tuple[LeaderElector, Metrics, list[str]]:
        client = await self.counted_client()
        gains: list[str] = []
        metrics = Metrics()
        elector = LeaderElector(
            client,
            name=LEASE,
            namespace=NS,
            identity=identity,
            request_timeout=1.0,
            metrics=metrics,
            on_gain=lambda: gains.append(identity),
            on_loss=lambda: None,
            lease_duration=LEASE_DURATION,
            renew_deadline=RENEW_DEADLINE,
            retry_period=RETRY_PERIOD,
            standby_retry_period=RETRY_PERIOD,
            clock=self.clock,
            sleep=self.clock.sleep,
        )
        self.tasks.append(asyncio.create_task(elector.run()))
        return elector, metrics, gains


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    api = FakeKubeApi()
    leases = FakeLeases(api)
    await api.start()
    setup = Rig(api, leases, write_kubeconfig(tmp_path / "kubeconfig", api.url))
    yield setup
    for task in setup.tasks:
        task.cancel()
    await asyncio.gather(*setup.tasks, return_exceptions=True)
    for client in setup.clients:
        await client.close()
    await api.close()


async def test_of_two_candidates_exactly_one_may_post(rig: Rig) -> None:
    first, first_metrics, _ = await rig.candidate("pod-a")
    second, second_metrics, _ = await rig.candidate("pod-b")
    await rig.clock.until(lambda: first.may_post() or second.may_post(), "a leader is elected")
    await rig.clock.advance(LEASE_DURATION)
    assert [first.may_post(), second.may_post()].count(True) == 1
    leader = "pod-a" if first.may_post() else "pod-b"
    assert rig.leases.holder(NS, LEASE) == leader
    assert (
        first_metrics.value("flux_adapter_leader") + second_metrics.value("flux_adapter_leader")
        == 1
    )


async def test_gaining_leadership_calls_back_once(rig: Rig) -> None:
    elector, _, gains = await rig.candidate("pod-a")
    await rig.clock.until(elector.may_post, "pod-a leads")
    await rig.clock.advance(LEASE_DURATION)
    assert gains == ["pod-a"]


async def test_a_killed_leader_is_replaced_within_the_lease_duration(rig: Rig) -> None:
    first, _, _ = await rig.candidate("pod-a")
    await rig.clock.until(first.may_post, "pod-a leads")
    second, _, gains = await rig.candidate("pod-b")
    rig.tasks[0].cancel()  # as SIGKILL: no release, the lease just stops being renewed
    died = rig.clock.now
    took_over = await rig.clock.until(second.may_post, "pod-b takes over")
    assert took_over - died < LEASE_DURATION + 2 * RETRY_PERIOD + 1.0
    assert gains == ["pod-b"]


async def test_release_hands_over_at_once(rig: Rig) -> None:
    first, _, _ = await rig.candidate("pod-a")
    await rig.clock.until(first.may_post, "pod-a leads")
    second, _, _ = await rig.candidate("pod-b")
    await rig.clock.advance(RETRY_PERIOD * 1.5)
    rig.tasks[0].cancel()
    await first.release()
    assert not first.may_post()
    assert rig.leases.holder(NS, LEASE) is None
    released = rig.clock.now
    took_over = await rig.clock.until(second.may_post, "pod-b takes over after the release")
    assert took_over - released <= RETRY_PERIOD * JITTER
    assert rig.leases.writes[-1] == ("replace", "pod-b")


async def test_a_leader_cut_off_from_the_api_stops_posting_before_its_lease_expires(
    rig: Rig,
) -> None:
    elector, _, _ = await rig.candidate("pod-a")
    await rig.clock.until(elector.may_post, "pod-a leads")
    renewed = elector.renewed_at
    rig.leases.freeze()
    fenced = await rig.clock.until(lambda: not elector.may_post(), "pod-a fences itself")
    assert renewed is not None
    assert fenced - renewed == pytest.approx(RENEW_DEADLINE, abs=0.05)
    assert fenced - renewed < LEASE_DURATION
    rig.leases.thaw()
    await rig.clock.until(elector.may_post, "pod-a leads again once the API answers")


async def test_release_without_leadership_writes_nothing(rig: Rig) -> None:
    first, _, _ = await rig.candidate("pod-a")
    await rig.clock.until(first.may_post, "pod-a leads")
    second, _, _ = await rig.candidate("pod-b")
    writes = len(rig.leases.writes)
    await second.release()
    assert rig.leases.holder(NS, LEASE) == "pod-a"
    assert all(verb != "replace" or holder for verb, holder in rig.leases.writes[writes:])


async def test_a_leader_renews_with_one_write_and_no_read(rig: Rig) -> None:
    elector, _, _ = await rig.candidate("pod-a")
    await rig.clock.until(elector.may_post, "pod-a leads")
    reads, writes = rig.leases.reads, len(rig.leases.writes)
    await rig.clock.advance(RETRY_PERIOD * 3.5)
    assert rig.leases.reads == reads
    renewals = rig.leases.writes[writes:]
    assert len(renewals) == 3
    assert set(renewals) == {("replace", "pod-a")}


async def test_a_renewal_that_conflicts_reads_the_lease_and_yields_to_the_new_holder(
    rig: Rig,
) -> None:
    elector, _, _ = await rig.candidate("pod-a")
    await rig.clock.until(elector.may_post, "pod-a leads")
    lease = rig.leases.leases[(NS, LEASE)]
    lease["spec"]["holderIdentity"] = "intruder"
    lease["metadata"]["resourceVersion"] = "999999"
    await rig.clock.until(lambda: not elector.may_post(), "pod-a stops posting")
    assert rig.leases.holder(NS, LEASE) == "intruder"


async def test_a_refused_lease_call_is_logged_with_its_body_and_tried_again(rig: Rig) -> None:
    rig.leases.refusals = [
        (403, "Forbidden", 'leases.coordination.k8s.io "flux-adapter" is forbidden')
    ] * 2
    with structlog.testing.capture_logs() as logs:
        elector, _, _ = await rig.candidate("pod-a")
        await rig.clock.until(elector.may_post, "pod-a leads once allowed")
    failures = [e for e in logs if e["event"] == "lease_attempt_failed"]
    assert len(failures) == 2
    assert "HTTP 403" in failures[0]["error"]
    assert "is forbidden" in failures[0]["error"]


async def test_a_malformed_lease_is_logged_and_the_candidate_keeps_standing(rig: Rig) -> None:
    rig.leases.leases[(NS, LEASE)] = {
        "metadata": {"name": LEASE, "namespace": NS, "resourceVersion": "5"},
        "spec": {"holderIdentity": ["not", "a", "string"]},
    }
    with structlog.testing.capture_logs() as logs:
        elector, _, _ = await rig.candidate("pod-a")
        await rig.clock.until(
            lambda: any(e["event"] == "lease_attempt_failed" for e in logs), "failure logged"
        )
        assert not elector.may_post()
        assert not rig.tasks[-1].done()
        del rig.leases.leases[(NS, LEASE)]
        await rig.clock.until(elector.may_post, "pod-a leads once the lease is sane")


async def test_a_standby_reads_the_lease_at_most_once_per_standby_period(rig: Rig) -> None:
    rig.leases.put(NS, LEASE, holder="someone-else", duration=3600)
    standby = LeaderElector(
        await rig.counted_client(),
        name=LEASE,
        namespace=NS,
        identity="pod-b",
        metrics=Metrics(),
        on_gain=lambda: None,
        on_loss=lambda: None,
        retry_period=0.05,
        standby_retry_period=0.5,
        clock=rig.clock,
        sleep=rig.clock.sleep,
    )
    rig.tasks.append(asyncio.create_task(standby.run()))
    await rig.clock.advance(2.2)
    # At 0 s, then every 0.5 to 0.6 s: four or five reads by 2.2 s.
    assert 4 <= rig.leases.reads <= 5
    assert not standby.may_post()
    assert standby.trouble is None


def test_the_fence_counts_down_from_the_last_renewal_sent() -> None:
    clock = [100.0]
    elector = LeaderElector(
        cast(KubeApi, None),
        name=LEASE,
        namespace=NS,
        identity="pod-a",
        metrics=Metrics(),
        on_gain=lambda: None,
        on_loss=lambda: None,
        renew_deadline=10.0,
        clock=lambda: clock[0],
    )
    assert elector.time_left() == 0.0
    elector.leading, elector.renewed_at = True, 100.0
    clock[0] = 104.0
    assert elector.time_left() == 6.0
    clock[0] = 111.0
    assert elector.time_left() == 0.0
    assert not elector.may_post()
