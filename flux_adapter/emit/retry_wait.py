"""How long to wait before asking a failing flow server again.

Full jitter (a uniform draw below an exponentially growing ceiling) spreads
the retries of many adapters that lost the same server at the same moment,
so they do not come back in lock-step when it returns. When the server says
how long to wait (`Retry-After` on 429/503), that is obeyed as a floor, even
above the backoff cap: the server knows its own load. Only an absurd hint is
cut down, to `RETRY_AFTER_LIMIT`, so a misconfigured proxy cannot park the
adapter for hours.
"""

from __future__ import annotations

from tenacity import RetryCallState
from tenacity.wait import wait_base, wait_random_exponential

from flux_adapter.emit.sink import TransientError

RETRY_AFTER_LIMIT = 300.0


class BackoffWait(wait_base):
    def __init__(self, start: float, cap: float) -> None:
        if start <= 0 or cap < start:
            raise ValueError(f"backoff needs 0 < start <= cap, got start={start}, cap={cap}")
        self._jitter = wait_random_exponential(multiplier=start, max=cap)

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = float(self._jitter(retry_state))
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            wait = max(wait, min(error.retry_after, RETRY_AFTER_LIMIT))
        return wait
