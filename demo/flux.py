"""What Flux wrote: each HelmRelease's ``Ready`` condition, and which ones changed since a look.

The demo shows helm-controller's own words beside the adapter's node, so it
reads them from the cluster as ``kubectl get helmrelease`` does: the
``Ready`` condition's status, reason and message, nothing interpreted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class Ready:
    """A release's ``Ready`` condition: ``status`` is ``"True"``, ``"False"`` or ``"Unknown"``."""

    status: str
    reason: str
    message: str

    def __str__(self) -> str:
        if not self.status:
            return "no Ready condition yet"
        return f"Ready={self.status} {self.reason}: {self.message}"


NOT_YET = Ready("", "", "")
"""A release helm-controller has not written a ``Ready`` condition for."""


def ready_of(obj: Mapping[str, Any]) -> Ready:
    """The ``Ready`` condition of a Flux object (HelmRelease, HelmRepository), or ``NOT_YET``."""
    status = obj.get("status")
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    for cond in conditions or []:
        if isinstance(cond, Mapping) and cond.get("type") == "Ready":
            return Ready(
                str(cond.get("status", "")),
                str(cond.get("reason", "")),
                " ".join(str(cond.get("message", "")).split()),
            )
    return NOT_YET


class ReadyLog:
    """Remembers each release's last ``Ready`` and reports what changed, look after look."""

    def __init__(self) -> None:
        self.last: dict[str, Ready] = {}

    def changes(self, releases: Iterable[Mapping[str, Any]]) -> list[tuple[str, Ready | None]]:
        """``(name, Ready)`` for each release whose condition changed since the previous look,
        ``(name, None)`` for each one that is gone, in name order.

        ``releases`` are HelmRelease objects, as a list of the namespace returns them.
        """
        now = {str(r["metadata"]["name"]): ready_of(r) for r in releases}
        found: list[tuple[str, Ready | None]] = []
        for name in sorted(now.keys() | self.last.keys()):
            before, after = self.last.get(name), now.get(name)
            if after is None:
                found.append((name, None))
            elif after != before and after != NOT_YET:
                found.append((name, after))
        self.last = now
        return found
