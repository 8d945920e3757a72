"""Reconnect backoff: under a second at first, doubling, capped, forgotten after quiet."""

from __future__ import annotations

import random

import pytest

from flux_adapter.observe.backoff import ReconnectBackoff


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_waits_start_under_a_second_and_double_up_to_the_cap() -> None:
    backoff = ReconnectBackoff(clock=Clock(), rng=random.Random(1))
    steps = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0, 30.0]
    for step in steps:
        assert step / 2 <= backoff.failure() <= step


def test_jitter_spreads_copies_that_fail_together() -> None:
    first = [ReconnectBackoff(clock=Clock(), rng=random.Random(seed)) for seed in range(20)]
    assert len({round(b.failure(), 6) for b in first}) > 1


def test_quiet_period_resets_the_wait() -> None:
    clock = Clock()
    backoff = ReconnectBackoff(clock=clock, rng=random.Random(2))
    for _ in range(6):
        backoff.failure()
    clock.now += 119.0
    assert backoff.failure() > 15.0, "failures less than two minutes apart keep growing"

    clock.now += 120.0
    assert backoff.failure() <= 0.8


def test_a_reset_after_success_starts_the_next_failure_at_the_first_step() -> None:
    backoff = ReconnectBackoff(clock=Clock(), rng=random.Random(4))
    for _ in range(6):
        backoff.failure()
    backoff.reset()
    assert backoff.failure() <= 0.8


def test_at_cap_waits_the_cap_from_the_start() -> None:
    backoff = ReconnectBackoff(clock=Clock(), rng=random.Random(3), cap=30.0)
    assert 15.0 <= backoff.failure(at_cap=True) <= 30.0


def test_initial_above_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="initial <= cap"):
        ReconnectBackoff(initial=5.0, cap=1.0)
