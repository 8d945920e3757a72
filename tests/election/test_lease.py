"""client-go's Lease rules, as pure functions of the record and the clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flux_adapter.election.lease import (
    LeaseRecord,
    MalformedLeaseError,
    claim,
    held_by_another,
    lease_object,
    micro_time,
    read_record,
    released,
)

T0 = datetime(2026, 11, 22, 2, 0, 0, 123456, tzinfo=UTC)
T1 = datetime(2026, 11, 22, 2, 0, 2, tzinfo=UTC)
HELD = LeaseRecord(
    holder="pod-a",
    duration=15,
    acquire_time="2026-11-22T01:00:00.000000Z",
    renew_time="2026-11-22T02:00:00.123456Z",
    transitions=4,
)


def test_micro_time_is_utc_with_six_fractional_digits() -> None:
    assert micro_time(T0) == "2026-11-22T02:00:00.123456Z"
    assert micro_time(T1) == "2026-11-22T02:00:02.000000Z"


def test_the_first_claim_starts_the_lease_history() -> None:
    assert claim(None, "pod-a", 15, T0) == LeaseRecord(
        "pod-a", 15, "2026-11-22T02:00:00.123456Z", "2026-11-22T02:00:00.123456Z", 0
    )


def test_a_renewal_keeps_the_acquire_time_and_the_transition_count() -> None:
    assert claim(HELD, "pod-a", 15, T1) == LeaseRecord(
        "pod-a", 15, "2026-11-22T01:00:00.000000Z", "2026-11-22T02:00:02.000000Z", 4
    )


def test_a_takeover_counts_a_transition_and_restarts_the_acquire_time() -> None:
    assert claim(HELD, "pod-b", 15, T1) == LeaseRecord(
        "pod-b", 15, "2026-11-22T02:00:02.000000Z", "2026-11-22T02:00:02.000000Z", 5
    )


def test_stepping_down_clears_the_holder_and_shortens_the_lease() -> None:
    assert released(HELD, T1) == LeaseRecord(
        None, 1, "2026-11-22T02:00:02.000000Z", "2026-11-22T02:00:02.000000Z", 4
    )


def test_another_holder_s_claim_stands_for_its_duration_from_when_we_saw_it() -> None:
    assert held_by_another(HELD, "pod-b", observed_at=100.0, now=114.9)
    assert not held_by_another(HELD, "pod-b", observed_at=100.0, now=115.0)


def test_our_own_claim_or_an_empty_holder_never_blocks_us() -> None:
    assert not held_by_another(HELD, "pod-a", observed_at=100.0, now=100.0)
    assert not held_by_another(released(HELD, T1), "pod-b", observed_at=100.0, now=100.0)


def test_a_lease_is_read_from_its_spec() -> None:
    lease = {
        "metadata": {"name": "flux-adapter", "resourceVersion": "7"},
        "spec": {
            "holderIdentity": "pod-a",
            "leaseDurationSeconds": 15,
            "acquireTime": "2026-11-22T01:00:00.000000Z",
            "renewTime": "2026-11-22T02:00:00.123456Z",
            "leaseTransitions": 4,
        },
    }
    assert read_record(lease) == HELD


def test_a_released_lease_reads_as_held_by_nobody() -> None:
    lease = {"spec": {"leaseDurationSeconds": 1, "holderIdentity": ""}}
    assert read_record(lease) == LeaseRecord(None, 1, None, None, 0)


@pytest.mark.parametrize(
    "spec",
    [
        "not an object",
        {"holderIdentity": 7},
        {"leaseDurationSeconds": "15"},
        {"leaseDurationSeconds": True},
        {"leaseTransitions": -1},
    ],
)
def test_a_malformed_lease_is_refused(spec: object) -> None:
    with pytest.raises(MalformedLeaseError):
        read_record({"spec": spec})


def test_the_lease_sent_keeps_the_metadata_it_was_read_with() -> None:
    base = {
        "metadata": {"name": "x", "resourceVersion": "7", "labels": {"team": "platform"}},
        "spec": {"holderIdentity": "pod-a"},
    }
    sent = lease_object("flux-adapter", "flux-system", released(HELD, T1), base)
    assert sent == {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": "flux-adapter",
            "namespace": "flux-system",
            "resourceVersion": "7",
            "labels": {"team": "platform"},
        },
        "spec": {
            "leaseDurationSeconds": 1,
            "leaseTransitions": 4,
            "acquireTime": "2026-11-22T02:00:02.000000Z",
            "renewTime": "2026-11-22T02:00:02.000000Z",
        },
    }
    assert base["metadata"] == {"name": "x", "resourceVersion": "7", "labels": {"team": "platform"}}
