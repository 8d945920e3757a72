"""How long a watch loop waits before asking a failing API server again.

Jitter spreads the reconnects of every adapter in a fleet after an API server
restart; forgetting after a quiet period means one blip a day never costs the
full cap, while a server failing continuously is asked at most once per cap.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class ReconnectBackoff:
    def __init__(
        self,
        *,
        initial: float = 0.8,
        cap: float = 30.0,
        reset_after: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial <= cap:
            raise ValueError(f"backoff needs 0 < initial <= cap, got {initial} and {cap}")
        self.initial = initial
        self.cap = cap
        self.reset_after = reset_after
        self._clock = clock
        self._rng = rng or random.Random()
        self._attempt = 0
        self._last_failure: float | None = None

    def reset(self) -> None:
        """Forget past failures: the next one waits the initial step again."""
        self._attempt = 0
        self._last_failure = None

    def failure(self, *, at_cap: bool = False) -> float:
        """Record a failure and return how long to wait before the next attempt.

        The wait is drawn from the upper half of the step ("equal jitter"), so
        it never drops near zero: a failing peer is never hammered.
        """
        now = self._clock()
        if self._last_failure is not None and now - self._last_failure >= self.reset_after:
            self._attempt = 0
        self._last_failure = now
        step = self.cap if at_cap else min(self.cap, self.initial * 2.0**self._attempt)
        if step < self.cap:
            self._attempt += 1
        return self._rng.uniform(step / 2, step)
