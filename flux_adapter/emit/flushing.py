"""One flush: diff the changed keys, send them, retry transient failures until it goes through.

A part of `Emitter` (`emitter.py`), which holds the state it works on.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_never

from flux_adapter.emit.emitter_state import (
    TRIM_AFTER_BYTES,
    EmitterState,
    each_key,
)
from flux_adapter.emit.sink import (
    TransientError,
)
from flux_adapter.observe.heap import return_free_memory
from mapper import Keys, diff

log = structlog.get_logger("flux_adapter.emit.emitter")


class Flushing(EmitterState):
    async def _flush(self) -> None:
        """One flush, retried on transient failures until it goes through; never gives up."""
        self._window = None
        self._flush_now = False
        self._flushing = True
        self._flush_bytes = 0
        self._refresh_planned = False
        held = False
        try:
            async for attempt in AsyncRetrying(
                stop=stop_never,
                wait=self._backoff,
                retry=retry_if_exception_type(TransientError),
                before_sleep=self._before_retry,
                reraise=True,
            ):
                with attempt:
                    held = await self._attempt()
        finally:
            self._flushing = False
            self._metrics.pending_keys.set(self._pending())
            self._metrics.nodes_held.set(len(self._desired.nodes))
            if self._flush_bytes >= TRIM_AFTER_BYTES:
                return_free_memory()
        now = time.monotonic()
        if held:
            # Something is waiting on `ready` or the fence, which do not wake
            # us: look again after another window.
            self._open_window(now)
        if (
            (held or self._refresh_planned)
            and self._ring is not None
            and self._ring.due(now, self._following)
        ):
            # A refresh that could not go (fenced, not ready, nothing it may
            # send) is tried again a window later, not in a loop.
            self._refresh_not_before = now + self._emit_interval

    def _before_retry(self, state: RetryCallState) -> None:
        self._metrics.post_retries.inc()
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        if isinstance(error, TransientError):
            log.warning(
                "flow_server_unavailable",
                operation=error.operation,
                status=error.status,
                detail=error.detail,
                attempt=state.attempt_number,
                retry_in=round(wait, 3),
            )

    async def _attempt(self) -> bool:
        """Check if due, then diff and send; true when something had to be held back."""
        if not self._may_post():
            return True
        self._start_check_if_due()
        if not self._verified and self._check_task is not None and self._checking:
            await asyncio.wait({self._check_task})
        ready = self._ready()
        full = ready and self._full_needed
        epoch = self._ring.numbers.epoch if self._ring is not None else 0
        refresh = self._refresh_plan() if ready else None
        self._refresh_planned = refresh is not None
        only: Keys | None
        if ready:
            taken = self._take(self._dirty)
            only = None if full else taken
        else:
            taken = self._take(Keys(nodes=self._dirty.nodes & {self._region}))
            only = Keys(nodes={self._region})
        try:
            for held in (self._refused, self._oversized):
                if held:
                    only = held.admit(
                        only if only is not None else self._every_key(), self._desired
                    )
            batches = diff(
                self._acked,
                self._desired,
                only=only,
                region=self._region,
                max_bytes=self._limit,
                resend=refresh,
            )
            complete = await self._send(batches)
        except BaseException:
            self._give_back(taken)
            raise
        if not complete:
            self._give_back(taken)
            return True
        self._inflight.clear()
        lost = self._ring is not None and self._ring.numbers.epoch != epoch
        if full and not lost:
            self._full_needed = False
        if refresh is not None and self._ring is not None and not lost:
            self._refreshed(refresh)
        if batches:
            log.debug("flushed", envelopes=len(batches), keys=len(taken), full=full)
        return not ready

    def _every_key(self) -> Keys:
        return Keys(
            nodes=set(self._acked.nodes) | set(self._desired.nodes),
            rels=set(self._acked.rels) | set(self._desired.rels),
        )

    def _take(self, keys: Keys) -> Keys:
        taken = Keys(nodes=set(keys.nodes), rels=set(keys.rels))
        self._dirty.nodes -= taken.nodes
        self._dirty.rels -= taken.rels
        for key in each_key(taken):
            arrived = self._arrived.pop(key, None)
            if arrived is not None:
                self._inflight[key] = arrived
        return taken

    def _give_back(self, taken: Keys) -> None:
        self._dirty.update(taken)
        for key, arrived in self._inflight.items():
            self._arrived[key] = min(arrived, self._arrived.get(key, arrived))
        self._inflight.clear()

    def _pending(self) -> int:
        return len(self._arrived) + len(self._inflight)

    def _open_window(self, now: float) -> None:
        if self._window is None:
            self._window = now + self._emit_interval
            self._wake.set()
