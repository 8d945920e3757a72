"""Following the flow's event stream for its sequence numbers, while this copy may post.

`docs/contract.md`, "The event stream": a connection opens with a
`snapshot` event numbered with the flow's newest number, then numbers every
envelope anyone posts; heartbeats come every 15 s. It cannot resume, so each
connection starts afresh. The follower hands each number on with the lowest
one the server could give unless it counted again from 1 (a lost flow): the
newest known when the connection opened, then the previous event's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from flux_adapter.emit.answers import BadAnswerError
from flux_adapter.emit.bad_answers import BadAnswers
from flux_adapter.emit.ring_keeper import Mark
from flux_adapter.emit.sink import Follows, SinkError
from flux_adapter.observe.backoff import ReconnectBackoff
from flux_adapter.observe.clock import Sleep, deadline
from flux_adapter.observe.metrics import Metrics

log = structlog.get_logger("flux_adapter.emit.emitter")

STREAM_SILENCE = 45.0
"""Seconds without a stream event (heartbeats come every 15 s) before it is reopened."""

BAD_ANSWER = "bad answer"
"""Why a connection ended when the server sent what cannot be read (`BadAnswerError`)."""

FENCED_POLL = 1.0
"""Seconds between looks at the fence while it keeps this copy from following the stream."""


class StreamFollower:
    def __init__(
        self,
        sink: Follows,
        *,
        may_post: Callable[[], bool],
        mark: Callable[[], Mark],
        heard: Callable[[int, int], None],
        changed: Callable[[bool], None],
        open_timeout: float,
        backoff: ReconnectBackoff,
        metrics: Metrics,
        sleep: Sleep,
        bad_answers: BadAnswers | None = None,
    ) -> None:
        """Follow `sink`'s stream while `may_post()`; each number goes to `heard(seq, at_least)`.

        `mark` answers where the flow's count stands (asked when a connection
        opens). `changed(following)` is told each time the stream starts or
        stops being followed. `open_timeout`: the wait for a connection's
        first event (s); `backoff` spaces reconnections; a connection ended by
        an answer that cannot be read (reported to `bad_answers`) does not
        reset it, so a server that sends nothing readable is asked ever less
        often.
        """
        self._sink = sink
        self._may_post = may_post
        self._mark = mark
        self._heard = heard
        self._changed = changed
        self._open_timeout = open_timeout
        self._backoff = backoff
        self._metrics = metrics
        self._sleep = sleep
        self._bad_answers = bad_answers if bad_answers is not None else BadAnswers(metrics)
        self._following = False
        self._task: asyncio.Task[None] | None = None

    @property
    def following(self) -> bool:
        """A connection is open and has delivered its first event."""
        return self._following

    def start(self) -> None:
        """Follow in a task of its own until `stop()`."""
        self._task = asyncio.create_task(self._follow(), name="flow-stream")

    def reap(self) -> None:
        """A bug in the stream task ends the emitter like any other bug: it is raised here."""
        task = self._task
        if task is not None and task.done():
            self._task = None
            task.result()

    async def stop(self) -> None:
        """Close the stream and wait for the task to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
        self._set_following(False)

    def _set_following(self, following: bool) -> None:
        if following == self._following:
            return
        self._following = following
        self._metrics.stream_connected.set(1 if following else 0)
        self._changed(following)

    async def _follow(self) -> None:
        last_reason = ""
        while True:
            if not self._may_post():
                await self._sleep(FENCED_POLL)
                continue
            reason, followed = await self._follow_once()
            if followed and reason != BAD_ANSWER:
                self._backoff.reset()
                last_reason = ""
            if reason == "fenced":
                continue
            delay = self._backoff.failure()
            # The same failure again (a proxy without SSE) is not news.
            report = log.info if reason != last_reason else log.debug
            report("stream_reopening", reason=reason, retry_in=round(delay, 3))
            last_reason = reason
            await self._sleep(delay)

    async def _follow_once(self) -> tuple[str, bool]:
        """One connection to the stream: why it ended, and whether it delivered anything."""
        opened = self._mark()
        followed = False
        try:
            async with contextlib.aclosing(self._sink.follow()) as stream:
                previous: int | None = None
                wait = self._open_timeout
                while True:
                    async with deadline(self._sleep, wait):
                        heard = await anext(stream)
                    wait = STREAM_SILENCE
                    if not self._following:
                        self._set_following(True)
                        followed = True
                        log.info("stream_following", seq=heard.seq)
                    if heard.seq is not None and heard.event != "heartbeat":
                        if previous is None:
                            lost = self._mark().epoch != opened.epoch
                            at_least = 0 if lost else opened.latest
                        else:
                            at_least = previous
                        previous = heard.seq
                        self._heard(heard.seq, at_least)
                    if not self._may_post():
                        return "fenced", followed
        except StopAsyncIteration:
            return "closed", followed
        except TimeoutError:
            return "silent", followed
        except BadAnswerError as err:
            self._bad_answers.report(err)
            return BAD_ANSWER, followed
        except SinkError as err:
            return f"failed: {err}", followed
        finally:
            self._set_following(False)
