"""One line of a watch stream, decoded and checked before the loop acts on it.

A line that is not a well-formed event is a `ProtocolError`: the loop cannot
know what it missed, so it drops the stream and resumes from the last version
it understood, which makes the server send the event again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from flux_adapter.kube.errors import ProtocolError

EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]
EVENT_TYPES: frozenset[str] = frozenset({"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"})


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: EventType
    object: Mapping[str, Any]

    @property
    def resource_version(self) -> str | None:
        meta = self.object.get("metadata")
        if not isinstance(meta, Mapping):
            return None
        version = meta.get("resourceVersion")
        return version if isinstance(version, str) and version else None


def parse_event(line: bytes, resource: str) -> WatchEvent:
    try:
        decoded = json.loads(line)
    except ValueError as err:
        raise ProtocolError("watch", resource, f"not JSON ({err})", line) from err
    if not isinstance(decoded, Mapping):
        raise ProtocolError("watch", resource, "event is not an object", line)
    event_type = decoded.get("type")
    obj = decoded.get("object")
    if event_type not in EVENT_TYPES:
        raise ProtocolError("watch", resource, f"unknown event type {event_type!r}", line)
    if not isinstance(obj, Mapping):
        raise ProtocolError("watch", resource, "event carries no object", line)
    return WatchEvent(type=cast(EventType, event_type), object=obj)
