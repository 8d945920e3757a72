"""Server-Sent Events read for their names and ids only, whatever the size of their data.

The flow server's stream (`docs/contract.md`, "The event stream") opens with
the whole flow as one `snapshot` event and then repeats every envelope any
adapter posts. The adapter wants only each event's name and id (the flow's
sequence number), so data is counted past, never kept: a snapshot of many
megabytes costs no memory here. Lines end with LF, CRLF or a lone CR, as the
SSE format allows; an event ends at a blank line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FIELD_LIMIT = 256
"""Bytes of a line kept: enough for any field name and id; the rest of a data line is skipped."""

_LINE_END = re.compile(rb"[\r\n]")


@dataclass(frozen=True, slots=True)
class Event:
    """One event as dispatched: its name (`message` when none was given) and its own id."""

    name: str
    id: str | None


class EventReader:
    """Turns the stream's bytes, in chunks of any size, into events."""

    def __init__(self) -> None:
        self._line = bytearray()
        self._after_cr = False
        self._name: str | None = None
        self._id: str | None = None
        self._fields = 0

    def feed(self, chunk: bytes) -> list[Event]:
        """The events completed by `chunk`, in order."""
        events: list[Event] = []
        start = 0
        for found in _LINE_END.finditer(chunk):
            index = found.start()
            if self._after_cr and index == start and chunk[index] == 0x0A:
                # The LF of a CRLF whose CR ended the previous line.
                self._after_cr = False
                start = index + 1
                continue
            self._keep(chunk[start:index])
            self._after_cr = chunk[index] == 0x0D
            start = index + 1
            event = self._line_ended()
            if event is not None:
                events.append(event)
        if start < len(chunk):
            self._after_cr = False
            self._keep(chunk[start:])
        return events

    def _keep(self, part: bytes) -> None:
        room = FIELD_LIMIT - len(self._line)
        if room > 0:
            self._line += part[:room]

    def _line_ended(self) -> Event | None:
        line = bytes(self._line).decode("utf-8", errors="replace")
        self._line.clear()
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        self._fields += 1
        if name == "event":
            self._name = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> Event | None:
        if not self._fields:
            return None
        event = Event(self._name or "message", self._id)
        self._name = self._id = None
        self._fields = 0
        return event
