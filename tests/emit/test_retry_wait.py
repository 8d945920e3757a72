"""Retry waits: full jitter under a growing ceiling, the server's Retry-After as a floor."""

from __future__ import annotations

import pytest
from tenacity import RetryCallState, Retrying

from flux_adapter.emit.retry_wait import RETRY_AFTER_LIMIT, BackoffWait
from flux_adapter.emit.sink import TransientError


def failed(attempt: int, error: BaseException) -> RetryCallState:
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    return state


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 0.2), (2, 0.4), (4, 1.6), (20, 30.0)])
def test_waits_stay_under_a_doubling_ceiling_up_to_the_cap(attempt: int, ceiling: float) -> None:
    wait = BackoffWait(0.2, 30.0)
    state = failed(attempt, TransientError("post", "down"))

    assert all(0.0 <= wait(state) <= ceiling for _ in range(200))


def test_retry_after_is_a_floor_even_above_the_cap() -> None:
    wait = BackoffWait(0.2, 30.0)
    state = failed(1, TransientError("post", "slow down", status=429, retry_after=45.0))

    assert wait(state) == 45.0


def test_an_absurd_retry_after_is_cut_to_the_limit() -> None:
    wait = BackoffWait(0.2, 30.0)
    state = failed(1, TransientError("post", "slow down", status=503, retry_after=86_400.0))

    assert wait(state) == RETRY_AFTER_LIMIT


def test_a_start_above_the_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="start"):
        BackoffWait(5.0, 1.0)
