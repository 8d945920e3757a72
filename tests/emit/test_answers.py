"""The flow server's answers read as untrusted input, from literal bytes and text."""

from __future__ import annotations

import json

import pytest

from flux_adapter.emit.answers import (
    MAX_DEPTH,
    BadAnswerError,
    SnapshotReader,
    decode_json,
    seq_from_post_answer,
    seq_from_text,
)
from flux_adapter.emit.sink import TransientError


@pytest.mark.parametrize(
    ("answer", "seq"),
    [
        (b'{"seq": 7}', 7),
        (b'{"seq": 0}', 0),
        (b'{"seq": 9223372036854775807}', 2**63 - 1),
        (b"", None),
        (b"  \n", None),
        (b'{"other": 1}', None),
    ],
)
def test_a_post_answer_gives_its_number_or_none_without_one(answer: bytes, seq: int | None) -> None:
    assert seq_from_post_answer(answer) == seq


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (b'{"seq": ' + b"9" * 400 + b"}", "seq"),
        (b'{"seq": 9223372036854775808}', "seq"),
        (b'{"seq": 18446744073709551616}', "seq"),
        (b'{"seq": -1}', "seq"),
        (b'{"seq": "7"}', "seq"),
        (b'{"seq": true}', "seq"),
        (b'{"seq": 7.0}', "seq"),
        (b"ok", "json"),
        (b"[7]", "shape"),
        (b"\xff\xfe", "json"),
        (b'{"seq": ' + b"9" * 5000 + b"}", "json"),
        (b"[" * 200_000 + b"]" * 200_000, "too_deep"),
    ],
)
def test_a_post_answer_that_breaks_the_contract_is_a_bad_answer(answer: bytes, kind: str) -> None:
    with pytest.raises(BadAnswerError) as raised:
        seq_from_post_answer(answer)
    assert raised.value.kind == kind
    assert raised.value.operation == "post"


def test_a_bad_answer_is_transient_so_the_request_is_asked_again() -> None:
    assert issubclass(BadAnswerError, TransientError)


def test_decoding_a_body_nested_too_deep_is_a_bad_answer_not_a_recursion_error() -> None:
    with pytest.raises(BadAnswerError, match="too_deep"):
        decode_json(b"[" * 200_000, "post")


@pytest.mark.parametrize(("text", "seq"), [(None, None), ("", None), ("0", 0), ("42", 42)])
def test_a_stream_id_gives_its_number(text: str | None, seq: int | None) -> None:
    assert seq_from_text(text) == seq


@pytest.mark.parametrize(
    "text",
    [
        *("²", "١٢", "\uff14\uff12"),
        *("+5", "-1", " 5", "5 ", "0x10", "1e3"),
        *(str(2**63), str(2**64)),
    ],
)
def test_a_stream_id_that_is_not_an_ascii_number_below_2_63_is_a_bad_answer(text: str) -> None:
    with pytest.raises(BadAnswerError) as raised:
        seq_from_text(text)
    assert raised.value.kind == "seq"


def region_snapshot() -> bytes:
    return json.dumps(
        {
            "type": "snapshot",
            "flow": {"id": "flow-1"},
            "nodes": [
                {"id": "eu", "status": "running"},
                {"id": "eu/a", "meta": {"chart": {"name": "a"}}},
                {"id": "us/b"},
                {"id": "europe/c"},
                "not an object",
                {"label": "no id"},
            ],
            "relationships": [
                {"fromId": "eu/a", "toId": "eu", "type": "contains"},
                {"fromId": "us/b", "toId": "us", "type": "contains"},
                {"fromId": "us/b", "toId": "eu/a", "type": "finish-to-start"},
            ],
        }
    ).encode()


def read(body: bytes, region: str = "eu", *, piece: int = 7, limit: int = 1 << 20) -> object:
    reader = SnapshotReader(region, limit=limit)
    for start in range(0, len(body), piece):
        reader.feed(body[start : start + piece])
    return reader.close()


def test_a_snapshot_keeps_only_the_regions_nodes_and_the_edges_into_them() -> None:
    assert read(region_snapshot()) == {
        "type": "snapshot",
        "nodes": [
            {"id": "eu", "status": "running"},
            {"id": "eu/a", "meta": {"chart": {"name": "a"}}},
        ],
        "relationships": [
            {"fromId": "eu/a", "toId": "eu", "type": "contains"},
            {"fromId": "us/b", "toId": "eu/a", "type": "finish-to-start"},
        ],
    }


def test_a_snapshot_reads_the_same_whatever_the_pieces() -> None:
    body = region_snapshot()
    assert read(body, piece=1) == read(body, piece=len(body))


def test_a_snapshot_without_lists_has_none_of_the_regions_entries() -> None:
    assert read(b'{"type": "snapshot"}') == {"type": "snapshot", "nodes": [], "relationships": []}


def test_a_snapshot_past_the_limit_is_a_bad_answer_before_the_rest_is_read() -> None:
    reader = SnapshotReader("eu", limit=100)
    reader.feed(b'{"type": "snapshot", "nodes": [' + b" " * 60)
    with pytest.raises(BadAnswerError) as raised:
        reader.feed(b" " * 60)
    assert raised.value.kind == "too_large"


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'{"type": "snapshot", "nodes": [' + b"[" * 200_000, "too_deep"),
        (b"[" * 200_000, "shape"),
        (b'{"type": "snapshot", "nodes": [{"id": "eu", "meta": ' + b"[" * 100, "too_deep"),
        (b"<html>502 Bad Gateway</html>", "json"),
        (b'{"type": "snapshot", "nodes": [', "json"),
        (b"", "json"),
        (b'{"type": "upsert-nodes", "nodes": []}', "shape"),
        (b'{"nodes": []}', "shape"),
        (b'"snapshot"', "shape"),
    ],
)
def test_a_snapshot_that_cannot_be_read_is_a_bad_answer(body: bytes, kind: str) -> None:
    with pytest.raises(BadAnswerError) as raised:
        read(body, piece=4096)
    assert raised.value.kind == kind
    assert raised.value.operation == "snapshot"


def test_a_snapshot_may_nest_as_deep_as_the_limit() -> None:
    meta = b"[" * (MAX_DEPTH - 4) + b"]" * (MAX_DEPTH - 4)
    body = b'{"type": "snapshot", "nodes": [{"id": "eu", "meta": {"x": ' + meta + b"}}]}"
    assert read(body) == {
        "type": "snapshot",
        "nodes": [{"id": "eu", "meta": {"x": json.loads(meta)}}],
        "relationships": [],
    }


def test_an_entry_is_judged_by_its_id_wherever_the_id_comes() -> None:
    body = json.dumps(
        {
            "nodes": [
                {"meta": {"id": "eu/inner", "x": [{"id": "eu/deeper"}]}, "id": "us/late"},
                {"meta": {"id": "us/inner"}, "label": "z", "id": "eu/late"},
                {"id": {"nested": "eu"}},
            ],
            "type": "snapshot",
        }
    ).encode()

    assert read(body) == {
        "type": "snapshot",
        "nodes": [{"meta": {"id": "us/inner"}, "label": "z", "id": "eu/late"}],
        "relationships": [],
    }
