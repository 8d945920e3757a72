"""What a failure status from the API server makes the reflector do: relist or resume, wait or not.

`decide` is a function of the error and of whether the version in hand came
straight from a LIST; the reflector carries the decision out (drops its
version, draws a wait from its backoff, logs, counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flux_adapter.kube.errors import ApiError

Level = Literal["info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do after a failure status.

    - `relist`: why the next attempt is a fresh LIST (`expired`, `lagging`,
      `error`), or `None` to resume from the version in hand;
    - `backoff`: wait on the error backoff first, rather than go again at once;
    - `event`, `level`: how the failure is logged.
    """

    relist: Literal["expired", "lagging", "error"] | None
    backoff: bool
    event: str
    level: Level


def decide(err: ApiError, fresh_list: bool) -> Decision:
    """The reflector's answer to `err`; `fresh_list`: the version in hand is a LIST's own."""
    if err.expired:
        # A version that expires right after a fresh LIST means the server
        # keeps refusing what it just gave: wait, or this would be a hot loop.
        return Decision("expired", fresh_list, "resource_version_expired", "info")
    if err.version_too_large:
        # client-go's answer to a lagging server: a consistent LIST, not the same version.
        return Decision("lagging", True, "resource_version_too_large", "info")
    if err.denied:
        # A restarting API server answers 403 until it has loaded its RBAC:
        # retried on the ordinary backoff, so that passes within seconds.
        return Decision(None, True, "rbac_denied", "error")
    if err.not_found:
        # The CRD is missing; whatever comes back after it is a new set of
        # objects, so list afresh. The store is kept meanwhile: a restarting
        # API server answers 404 for custom resources until it has loaded
        # their CRDs, and emptying the canvas for that would be a lie.
        return Decision("error", True, "resource_not_found", "warning")
    return Decision(None, True, "kube_api_error", "warning")
