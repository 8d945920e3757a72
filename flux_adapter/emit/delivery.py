"""Posting envelopes: each bounded by the fence, a 413 split and learned, a 400 set aside.

A part of `Emitter` (`emitter.py`), which holds the state it works on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import structlog

from flux_adapter.emit.emitter_state import (
    MIN_REQUEST_SECONDS,
    EmitterState,
    FencedError,
    shown_key,
)
from flux_adapter.emit.rejections import sent_values
from flux_adapter.emit.sink import (
    RejectedError,
    TooLargeError,
    TransientError,
)
from mapper import Batch, split

log = structlog.get_logger("flux_adapter.emit.emitter")


class Delivery(EmitterState):
    def _may_post(self) -> bool:
        return self._fence() >= MIN_REQUEST_SECONDS

    @contextlib.asynccontextmanager
    async def _deadline(self, operation: str) -> AsyncIterator[None]:
        """The smaller of `post_timeout` and the time left before the fence closes.

        Running out is a transient failure like any other; with less than
        `MIN_REQUEST_SECONDS` left the request is not started (`FencedError`).
        """
        left = self._fence()
        if left < MIN_REQUEST_SECONDS:
            raise FencedError(operation)
        limit = min(self._post_timeout, left)
        try:
            async with asyncio.timeout(limit):
                yield
        except TimeoutError as err:
            raise TransientError(operation, f"no answer within {limit:.3g} s") from err

    async def _send(self, batches: list[Batch]) -> bool:
        """Post each batch in order; False when the fence closed before all were sent."""
        for index, batch in enumerate(batches):
            if not self._may_post():
                log.info("posting_fenced", envelopes_left=len(batches) - index)
                return False
            if not await self._post(batch):
                return False
        return True

    async def _post(self, batch: Batch) -> bool:
        started = time.monotonic()
        ring = self._ring
        epoch, mark = (ring.numbers.epoch, ring.numbers.latest) if ring is not None else (0, 0)
        try:
            async with self._deadline("post"):
                seq = await self._sink.post(batch)
        except TransientError:
            self._metrics.envelopes.labels(type=batch.type, outcome="failed").inc()
            # An outage may have cost the server its memory: look before resending.
            self._check_wanted = True
            raise
        except TooLargeError:
            self._metrics.envelopes.labels(type=batch.type, outcome="too_large").inc()
            return await self._send_smaller(batch)
        except RejectedError as err:
            self._reject(batch, err)
            return True
        except FencedError:
            log.info("posting_fenced", envelopes_left=1)
            return False
        finally:
            self._metrics.post_latency.observe(time.monotonic() - started)
        self._flush_bytes += len(batch.body)
        self._metrics.envelopes.labels(type=batch.type, outcome="acked").inc()
        self._metrics.last_post_success.set(time.time())
        values = sent_values(batch.envelope)
        if ring is not None:
            if ring.numbers.epoch != epoch:
                # The server lost the flow while this was in flight: on which
                # side of the loss it landed is unknown, so it is not counted
                # as held. The full re-send that follows carries it again.
                log.info("post_answered_across_a_loss", seq=seq, envelope_type=batch.type)
                return True
            if seq is not None and ring.numbers.heard(seq, mark + 1, time.monotonic()):
                self._lost("post", seq, mark)
            self._count_refreshed(values)
        self._acked.fold(batch.envelope)
        if ring is not None:
            ring.acknowledged(
                [key for key, value in values.items() if value is not None],
                [key for key, value in values.items() if value is None],
                seq,
                mark,
            )
            self._show_ring()
        acked_at = time.monotonic()
        for key in values:
            arrived = self._inflight.pop(key, None)
            if arrived is not None:
                self._metrics.change_latency.observe(acked_at - arrived)
        return True

    async def _send_smaller(self, batch: Batch) -> bool:
        """After a 413: learn a smaller limit and resend in pieces, or hold a lone item."""
        if len(batch.items()) <= 1:
            self._oversized.record(batch.envelope)
            for key in sent_values(batch.envelope):
                self._inflight.pop(key, None)
            log.error(
                "envelope_item_too_large",
                keys=[shown_key(key) for key in sent_values(batch.envelope)],
                envelope_type=batch.type,
                envelope_bytes=batch.size,
                limit_bytes=self._limit,
                retry="at each snapshot check",
            )
            return True
        limit = max(1, batch.size // 2)
        if limit < self._limit:
            self._limit = limit
            self._metrics.envelope_limit.set(limit)
            log.warning("envelope_limit_learned", limit_bytes=limit, refused_bytes=batch.size)
        return await self._send(split(batch, min(limit, self._limit)))

    def _reject(self, batch: Batch, err: RejectedError) -> None:
        self._metrics.envelopes.labels(type=batch.type, outcome="rejected").inc()
        self._refused.record(batch.envelope)
        for key in sent_values(batch.envelope):
            self._inflight.pop(key, None)
        log.error(
            "envelope_rejected",
            status=err.status,
            body=err.body,
            envelope_type=batch.type,
            envelope_bytes=batch.size,
        )
