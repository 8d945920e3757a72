"""The flow server's answers read as untrusted input: sequence numbers, POST answers, snapshots.

Pure: bytes and text in, values or a `BadAnswerError` out; no I/O. Every
limit a hostile or broken server could push past is checked here, so no
decoding failure (`ValueError`, `RecursionError`, `OverflowError`, a wrong
shape) ever leaves this module as anything but a `BadAnswerError`.

A snapshot is read incrementally (`SnapshotReader`, on ijson's push parser):
bytes are fed as they arrive, and only this region's nodes and
relationships are kept, so a snapshot of the whole flow costs the memory of
one entry at a time plus this region's share.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import ijson

from flux_adapter.emit.sink import Snapshot, TransientError

SEQ_LIMIT = 1 << 63
"""Sequence numbers are below this: a signed 64-bit counter, as the server keeps them."""

POST_ANSWER_LIMIT = 4096
"""Bytes of a POST's answer read at most: `{"seq": N}` needs a few dozen."""

ERROR_BODY_LIMIT = 2048
"""Bytes of an error answer kept: enough to explain a 400, never a whole page."""

SNAPSHOT_LIMIT = 32 << 20
"""The default limit on a snapshot's body (bytes); `FLOW_SERVER_SNAPSHOT_LIMIT` sets it."""

MAX_DEPTH = 64
"""Nesting a snapshot may reach; the contract's deepest is a node's `meta`, four levels down."""

LISTS = ("nodes", "relationships")
ITEM_DEPTH = 3
"""An entry of `nodes` or `relationships`: in the envelope's object, in the list."""

_DIGITS = re.compile(r"[0-9]{1,19}")


class BadAnswerError(TransientError):
    """The server answered something that cannot be read or breaks the contract.

    `kind` names what was wrong (`seq`, `json`, `shape`, `too_large`,
    `too_deep`), one label of `flux_adapter_bad_answers_total`. It is
    transient: the same request is asked again later, and nothing the answer
    said is believed.
    """

    def __init__(self, operation: str, kind: str, detail: str) -> None:
        super().__init__(operation, f"bad answer ({kind}): {detail}")
        self.kind = kind


def _sample(raw: bytes | str, length: int = 40) -> str:
    """A short quote of what came, for a log line: never the whole body."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return repr(text[:length]) + ("..." if len(text) > length else "")


def checked_seq(value: object, operation: str) -> int:
    """A decoded JSON value as a sequence number: an int in `[0, 2^63)`, else `BadAnswerError`."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < SEQ_LIMIT:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        shown = f"an integer of {len(str(abs(value)))} digits" if value else "0"
        raise BadAnswerError(operation, "seq", f"{shown} is outside [0, 2^63)")
    raise BadAnswerError(operation, "seq", f"a {type(value).__name__} is not a sequence number")


def seq_from_text(text: str | None, operation: str = "stream") -> int | None:
    """An SSE `id` as a sequence number; `None` when the event carries none (absent or empty).

    Only ASCII digits count (`str.isdigit()` also takes `²`), and the value
    must be below 2^63. Raises `BadAnswerError` otherwise.
    """
    if text is None or text == "":
        return None
    if _DIGITS.fullmatch(text) is None:
        raise BadAnswerError(operation, "seq", f"id {_sample(text)} is not a decimal number")
    return checked_seq(int(text), operation)


def decode_json(raw: bytes, operation: str) -> object:
    """`raw` as JSON; `BadAnswerError` for anything `json` refuses or cannot nest that deep."""
    try:
        return json.loads(raw)
    except RecursionError as err:
        raise BadAnswerError(operation, "too_deep", "nested deeper than the decoder goes") from err
    except ValueError as err:  # UnicodeDecodeError and the digit limit included
        raise BadAnswerError(operation, "json", f"not JSON ({err}): {_sample(raw)}") from err


def seq_from_post_answer(raw: bytes) -> int | None:
    """The number a POST's answer `{"seq": N}` gives; `None` for an empty body or no `seq`.

    Raises `BadAnswerError` for a body that is not a JSON object, or a
    `seq` that is not an integer in `[0, 2^63)`.
    """
    if not raw.strip():
        return None
    answer = decode_json(raw, "post")
    if not isinstance(answer, Mapping):
        raise BadAnswerError("post", "shape", f"a {type(answer).__name__}, not an object")
    if "seq" not in answer:
        return None
    return checked_seq(answer["seq"], "post")


class SnapshotReader:
    """A snapshot envelope read from bytes fed in pieces, keeping only one region's entries.

    `feed` each piece as it arrives, then `close` for the envelope:
    `{"type": "snapshot", "nodes": [...], "relationships": [...]}` with
    only the nodes whose id is the region or under `<region>/`, and the
    relationships pointing at one of them (`docs/contract.md`: a snapshot
    lists them in no particular order, so each entry is judged alone).
    Raises `BadAnswerError` as soon as the body passes `limit` bytes, nests
    deeper than `MAX_DEPTH`, is not JSON, or is not a snapshot envelope.
    """

    def __init__(self, region: str, *, limit: int = SNAPSHOT_LIMIT) -> None:
        self._region = region
        self._prefix = region + "/"
        self._limit = limit
        self._read = 0
        self._events: Any = ijson.sendable_list()
        self._parser: Any = ijson.basic_parse_coro(self._events, use_float=True)
        self._depth = 0
        self._started = False
        self._type: object = None
        self._nodes: list[Mapping[str, object]] = []
        self._rels: list[Mapping[str, object]] = []
        self._key: str | None = None
        self._in_list = False
        self._entry: list[tuple[str, object]] | None = None
        self._deciding = False
        self._skipping = False
        self._builder: Any = None

    def feed(self, chunk: bytes) -> None:
        """Take the next piece of the body."""
        self._read += len(chunk)
        if self._read > self._limit:
            raise BadAnswerError(
                "snapshot", "too_large", f"body passed the limit of {self._limit} bytes"
            )
        try:
            self._parser.send(chunk)
        except (ijson.JSONError, ValueError) as err:
            raise BadAnswerError("snapshot", "json", f"not JSON: {err}") from err
        self._take_events()

    def close(self) -> Snapshot:
        """The region's share of the envelope, once the whole body was fed."""
        try:
            self._parser.close()
        except (ijson.JSONError, ValueError) as err:
            raise BadAnswerError("snapshot", "json", f"not JSON: {err}") from err
        self._take_events()
        if self._type != "snapshot":
            raise BadAnswerError("snapshot", "shape", "the answer is not a snapshot envelope")
        return {"type": "snapshot", "nodes": self._nodes, "relationships": self._rels}

    def _take_events(self) -> None:
        # One tight loop over ijson's basic events (they carry no path: the
        # prefixed ones grow with the nesting, which a hostile body turns
        # into quadratic memory). An entry is buffered only until its `id`
        # (a node) or `toId` (an edge) shows whether it is this region's;
        # other regions' entries are then skipped, counting depth alone.
        depth = self._depth
        for event, value in self._events:
            if event == "start_map" or event == "start_array":
                depth += 1
                if self._opened(event, depth):
                    continue
            elif event == "end_map" or event == "end_array":
                depth -= 1
                if depth == ITEM_DEPTH - 1 and self._in_entry():
                    self._entry_ended(event, value)
                    continue
            elif depth == 0:
                raise BadAnswerError("snapshot", "shape", "the answer is not a JSON object")
            if not self._skipping:
                self._take(event, value, depth)
        self._depth = depth
        del self._events[:]

    def _opened(self, event: str, depth: int) -> bool:
        """A container opened at `depth`; true for the envelope's own object."""
        if depth > MAX_DEPTH:
            raise BadAnswerError("snapshot", "too_deep", f"nested deeper than {MAX_DEPTH}")
        if depth == 1:
            if event != "start_map" or self._started:
                raise BadAnswerError("snapshot", "shape", "the answer is not a JSON object")
            self._started = True
            return True
        if depth == ITEM_DEPTH - 1:
            self._in_list = event == "start_array" and self._key in LISTS
        elif depth == ITEM_DEPTH and self._in_list and event == "start_map":
            self._entry = []
            self._deciding = False
        return False

    def _take(self, event: str, value: object, depth: int) -> None:
        if self._builder is not None:
            self._builder.event(event, value)
        elif self._entry is not None:
            self._entry.append((event, value))
            if depth == ITEM_DEPTH:
                self._decide(event, value)
        elif depth == 1:
            if event == "map_key":
                self._key = value if isinstance(value, str) else None
            elif self._key == "type":
                self._type = value

    def _in_entry(self) -> bool:
        return self._skipping or self._builder is not None or self._entry is not None

    def _decide(self, event: str, value: object) -> None:
        """At an entry's own level: its id, once seen, says whether the entry is kept."""
        if event == "map_key":
            self._deciding = value == ("id" if self._key == "nodes" else "toId")
            return
        if not self._deciding or self._entry is None:
            return
        entry, self._entry = self._entry, None
        if not self._ours(value):
            self._skipping = True
            return
        self._builder = ijson.ObjectBuilder()
        for buffered in entry:
            self._builder.event(*buffered)

    def _entry_ended(self, event: str, value: object) -> None:
        builder = self._builder
        self._entry = self._builder = None
        self._skipping = False
        if builder is None:
            return  # not this region's, or without an id
        builder.event(event, value)
        (self._nodes if self._key == "nodes" else self._rels).append(builder.value)

    def _ours(self, node_id: object) -> bool:
        return isinstance(node_id, str) and (
            node_id == self._region or node_id.startswith(self._prefix)
        )
