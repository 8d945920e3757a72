"""The HTTP sink: what it sends, and how it sorts the server's answers into retry or not."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from flux_adapter.emit.answers import ERROR_BODY_LIMIT, BadAnswerError
from flux_adapter.emit.http_sink import HttpSink, HttpSinkConfigError, parse_retry_after
from flux_adapter.emit.sink import Follows, Heard, RejectedError, TooLargeError, TransientError
from flux_adapter.observe.redact import redact_url
from mapper import Batch, FlowNode, batches
from tests.fakes.flow_server import FlowServer

FLOW_ID = "bootstrap"


def one_node() -> Batch:
    node = FlowNode(id="eu/a", flow_id=FLOW_ID, label="a", status="running")
    return next(batches("upsert-nodes", [node]))


@pytest.fixture
async def sink(flow_server: FlowServer) -> AsyncIterator[HttpSink]:
    sink = HttpSink(flow_server.url, FLOW_ID)
    yield sink
    await sink.close()


async def test_post_sends_the_exact_body_as_json(sink: HttpSink, flow_server: FlowServer) -> None:
    batch = one_node()
    await sink.post(batch)

    [seen] = flow_server.requests
    assert (seen.method, seen.path, seen.body) == (
        "POST",
        f"/v1/flows/{FLOW_ID}/events",
        batch.body,
    )
    assert seen.content_type == "application/json"


async def test_post_answers_the_sequence_number_the_server_gave(sink: HttpSink) -> None:
    assert await sink.post(one_node()) == 1
    assert await sink.post(one_node()) == 2


async def test_following_the_stream_gives_each_event_and_its_number(
    sink: HttpSink, flow_server: FlowServer
) -> None:
    assert isinstance(sink, Follows)
    await sink.post(one_node())
    stream = sink.follow()
    try:
        assert await anext(stream) == Heard("snapshot", 1)
        await sink.post(one_node())
        assert await anext(stream) == Heard("upsert-nodes", 2)
        flow_server.restart()
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
    finally:
        await stream.aclose()
    assert flow_server.streams[0].path == f"/v1/flows/{FLOW_ID}/stream"


async def test_a_stream_refused_is_transient(sink: HttpSink, flow_server: FlowServer) -> None:
    flow_server.stream_enabled = False
    stream = sink.follow()
    with pytest.raises(TransientError) as raised:
        await anext(stream)
    assert raised.value.status == 404


async def test_flow_id_is_escaped_into_one_path_segment(flow_server: FlowServer) -> None:
    sink = HttpSink(flow_server.url + "/", "team a/b")
    await sink.post(one_node())
    await sink.close()

    assert flow_server.requests[0].flow_id == "team a/b"


async def test_a_400_is_a_rejection_with_status_and_body(
    sink: HttpSink, flow_server: FlowServer
) -> None:
    flow_server.fail(400, body="nodes: must be a non-empty list")

    with pytest.raises(RejectedError) as raised:
        await sink.post(one_node())

    assert (raised.value.status, raised.value.body) == (400, "nodes: must be a non-empty list")


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408, 425, 404, 405, 409, 422])
async def test_every_other_failure_status_is_transient(
    sink: HttpSink, flow_server: FlowServer, status: int
) -> None:
    flow_server.fail(status)

    with pytest.raises(TransientError) as raised:
        await sink.post(one_node())

    assert raised.value.status == status


async def test_a_413_from_a_proxy_says_the_body_is_too_large(
    sink: HttpSink, flow_server: FlowServer
) -> None:
    flow_server.limit_bodies(10)

    with pytest.raises(TooLargeError) as raised:
        await sink.post(one_node())

    assert raised.value.status == 413


async def test_retry_after_is_read_from_the_answer(sink: HttpSink, flow_server: FlowServer) -> None:
    flow_server.fail(429, retry_after="7")

    with pytest.raises(TransientError) as raised:
        await sink.post(one_node())

    assert raised.value.retry_after == 7.0


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_are_transient(
    sink: HttpSink, flow_server: FlowServer, status: int
) -> None:
    flow_server.fail(status)

    with pytest.raises(TransientError):
        await sink.post(one_node())


async def test_a_closed_port_is_transient(sink: HttpSink, flow_server: FlowServer) -> None:
    await flow_server.refuse()

    with pytest.raises(TransientError):
        await sink.post(one_node())


async def test_snapshot_of_an_empty_server_is_none(sink: HttpSink) -> None:
    assert await sink.snapshot("eu") is None


async def test_snapshot_returns_the_servers_envelope(sink: HttpSink) -> None:
    await sink.post(one_node())

    assert await sink.snapshot("eu") == {
        "type": "snapshot",
        "nodes": [{"id": "eu/a", "flowId": FLOW_ID, "label": "a", "status": "running"}],
        "relationships": [],
    }


async def test_credentials_in_the_url_become_basic_auth_and_stay_out_of_its_name(
    flow_server: FlowServer,
) -> None:
    url = flow_server.url.replace("http://", "http://adapter:pa55word@")
    sink = HttpSink(url, FLOW_ID)
    await sink.post(one_node())
    await sink.close()

    expected = "Basic " + base64.b64encode(b"adapter:pa55word").decode()
    assert flow_server.requests[0].authorization == expected
    assert "pa55word" not in repr(sink)


def test_credentials_in_the_url_and_a_token_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(HttpSinkConfigError):
        HttpSink("https://a:b@flow.example", FLOW_ID, token_file=tmp_path / "token")


@pytest.mark.parametrize("url", ["flow.example:8080", "ftp://flow.example", "http://"])
def test_a_url_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(HttpSinkConfigError):
        HttpSink(url, FLOW_ID)


def test_an_unreadable_ca_bundle_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate")

    with pytest.raises(HttpSinkConfigError):
        HttpSink("https://flow.example", FLOW_ID, ca_file=bundle)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), (" 0 ", 0.0), ("1.5", 1.5), ("-3", None), ("soon", None), ("", None)],
)
def test_retry_after_seconds(header: str, seconds: float | None) -> None:
    assert parse_retry_after(header, now=0.0) == seconds


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(datetime(2026, 11, 21, 12, 0, 30, tzinfo=UTC), usegmt=True)

    assert parse_retry_after(header, now=now.timestamp()) == 30.0


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:secret@flow.example/base", "https://***@flow.example/base"),
        ("https://token@flow.example", "https://***@flow.example"),
        ("http://flow.example:8080", "http://flow.example:8080"),
    ],
)
def test_credentials_are_masked_in_urls(url: str, shown: str) -> None:
    assert redact_url(url) == shown


async def test_an_error_answer_is_kept_to_a_few_kib_and_the_rest_is_never_read(
    sink: HttpSink, flow_server: FlowServer
) -> None:
    flow_server.attack = "huge_error"
    flow_server.attack_bytes = 200 << 20

    with pytest.raises(TransientError) as raised:
        await sink.post(one_node())
    assert raised.value.status == 500
    assert len(raised.value.detail) <= ERROR_BODY_LIMIT
    await asyncio.sleep(0.2)
    assert flow_server.attack_written < 50 << 20


async def test_a_post_answer_with_a_number_past_2_63_is_a_bad_answer(
    sink: HttpSink, flow_server: FlowServer
) -> None:
    flow_server.attack = "huge_seq"

    with pytest.raises(BadAnswerError) as raised:
        await sink.post(one_node())
    assert raised.value.kind == "seq"


async def test_a_snapshot_past_its_limit_is_a_bad_answer_and_the_rest_is_never_read(
    flow_server: FlowServer,
) -> None:
    sink = HttpSink(flow_server.url, FLOW_ID, snapshot_limit=1 << 20)
    flow_server.attack = "huge_snapshot"
    flow_server.attack_bytes = 200 << 20
    try:
        with pytest.raises(BadAnswerError) as raised:
            await sink.snapshot("eu")
    finally:
        await sink.close()
    assert raised.value.kind == "too_large"
    await asyncio.sleep(0.2)
    assert flow_server.attack_written < 50 << 20


async def test_a_snapshot_keeps_only_the_regions_share(
    sink: HttpSink, flow_server: FlowServer
) -> None:
    other = FlowNode(id="us/b", flow_id=FLOW_ID, label="b", status="running")
    await sink.post(one_node())
    await sink.post(next(batches("upsert-nodes", [other])))

    snapshot = await sink.snapshot("eu")

    assert snapshot is not None
    assert snapshot["nodes"] == [
        {"id": "eu/a", "flowId": FLOW_ID, "label": "a", "status": "running"}
    ]


async def test_a_stream_id_that_is_not_an_ascii_number_ends_the_stream_as_a_bad_answer(
    sink: HttpSink, flow_server: FlowServer
) -> None:
    flow_server.attack = "superscript_id"
    stream = sink.follow()
    try:
        with pytest.raises(BadAnswerError) as raised:
            await anext(stream)
    finally:
        await stream.aclose()
        flow_server.behave()
    assert raised.value.operation == "stream"
