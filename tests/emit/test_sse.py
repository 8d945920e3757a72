"""Reading the flow server's event stream for names and ids, in chunks cut anywhere."""

from __future__ import annotations

from flux_adapter.emit.sse import FIELD_LIMIT, Event, EventReader

STREAM = (
    b'event: snapshot\nid: 41\ndata: {"type":"snapshot"}\n\n'
    b'event: upsert-nodes\nid: 42\ndata: {"type":"upsert-nodes","nodes":[]}\n\n'
    b": a comment\n\n"
    b"event: heartbeat\ndata: {}\n\n"
)
EXPECTED = [
    Event("snapshot", "41"),
    Event("upsert-nodes", "42"),
    Event("heartbeat", None),
]


def test_events_are_named_with_their_own_ids() -> None:
    assert EventReader().feed(STREAM) == EXPECTED


def test_chunks_cut_anywhere_give_the_same_events() -> None:
    for size in (1, 2, 3, 7, 64):
        reader = EventReader()
        events = []
        for start in range(0, len(STREAM), size):
            events += reader.feed(STREAM[start : start + size])
        assert events == EXPECTED, size


def test_crlf_and_lone_cr_end_lines_too() -> None:
    reader = EventReader()
    assert reader.feed(b"event: a\r\nid: 1\r\n\r\nevent: b\rid: 2\r\r") == [
        Event("a", "1"),
        Event("b", "2"),
    ]
    # A CRLF split between two chunks is one line end, not two.
    assert reader.feed(b"id: 3\r") == []
    assert reader.feed(b"\n\r\n") == [Event("message", "3")]


def test_a_huge_data_line_is_skipped_without_being_kept() -> None:
    reader = EventReader()
    assert reader.feed(b"event: snapshot\nid: 7\ndata: ") == []
    for _ in range(100):
        assert reader.feed(b"x" * 1_000_000) == []
        assert len(reader._line) <= FIELD_LIMIT
    assert reader.feed(b"\n\n") == [Event("snapshot", "7")]


def test_an_id_is_not_carried_over_to_the_next_event() -> None:
    assert EventReader().feed(b"id: 5\nevent: a\n\nevent: b\n\n") == [
        Event("a", "5"),
        Event("b", None),
    ]
