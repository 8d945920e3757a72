"""One request under the fence and its timeout, and what each answer means."""

from __future__ import annotations

import asyncio
import math

import pytest
from structlog.testing import capture_logs

from flux_adapter.emit.answers import BadAnswerError
from flux_adapter.emit.poster import (
    MIN_REQUEST_SECONDS,
    Acknowledged,
    Fenced,
    FencedError,
    Poster,
    Rejected,
    TooLarge,
)
from flux_adapter.emit.sink import RejectedError, Snapshot, TooLargeError, TransientError
from flux_adapter.observe.metrics import Metrics
from mapper import Batch, FlowNode, UpsertNodes
from tests.support.clock import FakeClock

ENVELOPE = UpsertNodes(nodes=[FlowNode(id="eu", flow_id="f", label="eu", status="pending")])
BATCH = Batch(ENVELOPE, ENVELOPE.wire())


class ScriptedSink:
    """Answers each request with the next of `answers`: a number, an error, or `hang`."""

    hang = object()

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.asked = 0

    async def _answer(self) -> object:
        self.asked += 1
        answer = self.answers.pop(0)
        if answer is self.hang:
            await asyncio.Event().wait()
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def post(self, batch: Batch) -> int | None:
        answer = await self._answer()
        assert answer is None or isinstance(answer, int)
        return answer

    async def snapshot(self, region: str) -> Snapshot | None:
        answer = await self._answer()
        assert answer is None or isinstance(answer, dict)
        return answer

    async def close(self) -> None:
        pass


def poster(
    sink: ScriptedSink, clock: FakeClock, *, left: float = math.inf, timeout: float = 10.0
) -> tuple[Poster, Metrics]:
    metrics = Metrics()
    made = Poster(
        sink,
        fence=lambda: left,
        post_timeout=timeout,
        metrics=metrics,
        clock=clock,
        sleep=clock.sleep,
    )
    return made, metrics


def counted(metrics: Metrics, outcome: str) -> float:
    return metrics.value(
        "flux_adapter_envelopes_total", {"type": "upsert-nodes", "outcome": outcome}
    )


async def test_a_2xx_is_acknowledged_with_the_flows_number() -> None:
    made, metrics = poster(ScriptedSink(7), FakeClock())

    assert await made.post(BATCH) == Acknowledged(7)
    assert counted(metrics, "acked") == 1


async def test_a_400_is_rejected_and_counted() -> None:
    refusal = RejectedError("post", 400, "nodes[0]: bad")
    made, metrics = poster(ScriptedSink(refusal), FakeClock())

    assert await made.post(BATCH) == Rejected(refusal)
    assert counted(metrics, "rejected") == 1


async def test_a_413_is_too_large() -> None:
    made, metrics = poster(ScriptedSink(TooLargeError("post", "too big", status=413)), FakeClock())

    assert await made.post(BATCH) == TooLarge()
    assert counted(metrics, "too_large") == 1


async def test_a_transient_failure_is_raised_for_a_retry() -> None:
    made, metrics = poster(ScriptedSink(TransientError("post", "503", status=503)), FakeClock())

    with pytest.raises(TransientError):
        await made.post(BATCH)
    assert counted(metrics, "failed") == 1


async def test_with_less_than_the_minimum_left_nothing_is_sent() -> None:
    sink = ScriptedSink(1)
    made, _ = poster(sink, FakeClock(), left=MIN_REQUEST_SECONDS / 2)

    assert not made.may_post()
    assert await made.post(BATCH) == Fenced()
    assert sink.asked == 0


async def test_a_post_that_hangs_fails_at_its_timeout() -> None:
    clock = FakeClock()
    made, _ = poster(ScriptedSink(ScriptedSink.hang), clock, timeout=3.0)

    post = asyncio.create_task(made.post(BATCH))
    await clock.advance(2.9)
    assert not post.done()
    await clock.advance(0.1)
    with pytest.raises(TransientError, match="no answer within 3 s"):
        await post


async def test_a_post_is_given_no_longer_than_the_fence_has_left() -> None:
    clock = FakeClock()
    made, _ = poster(ScriptedSink(ScriptedSink.hang), clock, left=1.5, timeout=30.0)

    post = asyncio.create_task(made.post(BATCH))
    await clock.advance(1.5)
    with pytest.raises(TransientError, match=r"no answer within 1\.5 s"):
        await post


async def test_a_snapshot_is_read_under_the_same_limits() -> None:
    clock = FakeClock()
    made, _ = poster(ScriptedSink({"type": "snapshot"}, ScriptedSink.hang), clock, timeout=2.0)

    assert await made.snapshot("eu") == {"type": "snapshot"}
    read = asyncio.create_task(made.snapshot("eu"))
    await clock.advance(2.0)
    with pytest.raises(TransientError, match="no answer within 2 s"):
        await read


async def test_a_snapshot_is_not_asked_for_when_fenced() -> None:
    sink = ScriptedSink(None)
    made, _ = poster(sink, FakeClock(), left=0.0)

    with pytest.raises(FencedError):
        await made.snapshot("eu")
    assert sink.asked == 0


def bad_seq() -> BadAnswerError:
    return BadAnswerError("post", "seq", "an integer of 400 digits is outside [0, 2^63)")


async def test_a_bad_answer_is_raised_as_transient_and_counted_each_time() -> None:
    made, metrics = poster(ScriptedSink(bad_seq(), bad_seq()), FakeClock())

    for _ in range(2):
        with pytest.raises(TransientError):
            await made.post(BATCH)

    labels = {"operation": "post", "kind": "seq"}
    assert metrics.value("flux_adapter_bad_answers_total", labels) == 2
    assert counted(metrics, "failed") == 2


async def test_a_bad_answer_is_a_warning_once_per_kind_and_debug_after() -> None:
    deep = BadAnswerError("snapshot", "too_deep", "nested deeper than 64")
    made, _ = poster(ScriptedSink(bad_seq(), bad_seq(), deep), FakeClock())

    with capture_logs() as logs:
        for _ in range(2):
            with pytest.raises(TransientError):
                await made.post(BATCH)
        with pytest.raises(TransientError):
            await made.snapshot("eu")

    levels = [(e["log_level"], e["kind"]) for e in logs if e["event"] == "flow_server_bad_answer"]
    assert levels == [("warning", "seq"), ("debug", "seq"), ("warning", "too_deep")]
