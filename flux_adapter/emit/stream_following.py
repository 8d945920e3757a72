"""Following the flow's event stream for its sequence numbers, while this copy may post.

A part of `Emitter` (`emitter.py`), which holds the state it works on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from flux_adapter.emit.emitter_state import (
    FENCED_POLL,
    STREAM_SILENCE,
    EmitterState,
)
from flux_adapter.emit.sink import (
    Follows,
    Heard,
    SinkError,
)
from flux_adapter.observe.backoff import ReconnectBackoff

log = structlog.get_logger("flux_adapter.emit.emitter")


class StreamFollowing(EmitterState):
    def _set_following(self, following: bool) -> None:
        self._following = following
        self._metrics.stream_connected.set(1 if following else 0)

    def _reap_stream(self) -> None:
        """A bug in the stream task ends run() like any other bug."""
        task = self._stream_task
        if task is not None and task.done():
            self._stream_task = None
            task.result()

    async def _follow(self) -> None:
        """Follow the flow's event stream while this copy may post, reopening it when it ends.

        `docs/contract.md`, "The event stream": it opens with a `snapshot`
        event numbered with the flow's newest number, then numbers every
        envelope anyone posts; heartbeats every 15 s. It cannot resume, so
        each connection starts afresh; a number below what the server must
        already have passed means it lost the flow.
        """
        sink = self._sink
        if not isinstance(sink, Follows) or self._ring is None:
            return
        backoff = ReconnectBackoff(
            initial=self._backoff_start, cap=max(self._backoff_start, self._backoff_cap)
        )
        last_reason = ""
        while True:
            if not self._may_post():
                await asyncio.sleep(FENCED_POLL)
                continue
            reason, followed = await self._follow_once(sink)
            if followed:
                backoff.reset()
                last_reason = ""
            if reason == "fenced":
                continue
            delay = backoff.failure()
            # The same failure again (a proxy without SSE) is not news.
            report = log.info if reason != last_reason else log.debug
            report("stream_reopening", reason=reason, retry_in=round(delay, 3))
            last_reason = reason
            await asyncio.sleep(delay)

    async def _follow_once(self, sink: Follows) -> tuple[str, bool]:
        """One connection to the stream: why it ended, and whether it delivered anything."""
        ring = self._ring
        if ring is None:
            return "closed", False
        epoch, mark = ring.numbers.epoch, ring.numbers.latest
        followed = False
        try:
            async with contextlib.aclosing(sink.follow()) as stream:
                previous: int | None = None
                deadline = self._post_timeout
                while True:
                    async with asyncio.timeout(deadline):
                        heard = await anext(stream)
                    deadline = STREAM_SILENCE
                    if not self._following:
                        self._set_following(True)
                        followed = True
                        log.info("stream_following", seq=heard.seq)
                    if heard.seq is not None and heard.event != "heartbeat":
                        if previous is None:
                            at_least = mark if ring.numbers.epoch == epoch else 0
                        else:
                            at_least = previous
                        previous = heard.seq
                        self._heard(heard, at_least)
                    if not self._may_post():
                        return "fenced", followed
        except StopAsyncIteration:
            return "closed", followed
        except TimeoutError:
            return "silent", followed
        except SinkError as err:
            return f"failed: {err}", followed
        finally:
            self._set_following(False)

    def _heard(self, heard: Heard, at_least: int) -> None:
        ring = self._ring
        if ring is None or heard.seq is None:
            return
        now = time.monotonic()
        seen = ring.numbers.latest
        if ring.numbers.heard(heard.seq, at_least, now):
            self._lost("stream", heard.seq, seen)
            return
        self._show_ring()
        if ring.due(now, self._following):
            self._wake.set()
