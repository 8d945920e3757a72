"""Failures of the Kubernetes API, typed by what the watch loop must do about them.

The API server explains a refusal in a `Status` object, both as an HTTP body
and inside a watch stream as an ERROR event; both become one `ApiError`
carrying the request that failed, so a log line can say which verb on which
resource the cluster refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

GONE = 410
GATEWAY_TIMEOUT = 504
TOO_LARGE_RESOURCE_VERSION = "ResourceVersionTooLarge"
"""The cause a lagging API server gives for a version newer than its cache (504, reason Timeout)."""


class ApiError(Exception):
    """The API server answered a request with a failure Status."""

    def __init__(
        self,
        *,
        verb: str,
        resource: str,
        namespace: str | None,
        status: int,
        reason: str,
        message: str,
        causes: tuple[str, ...] = (),
    ) -> None:
        super().__init__(
            f"{verb} {resource} in {namespace or 'all namespaces'}: {status} {reason}: {message}"
        )
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.status = status
        self.reason = reason
        self.message = message
        self.causes = causes

    @property
    def expired(self) -> bool:
        """The version or continue token asked for is compacted away: only a fresh LIST helps."""
        return self.status == GONE or self.reason in ("Expired", "Gone")

    @property
    def version_too_large(self) -> bool:
        """An API server behind a load balancer has not caught up with the version asked for.

        client-go relists from etcd rather than asking the same server again
        (`details.causes[].reason` is `ResourceVersionTooLarge`, code 504).
        """
        return self.status == GATEWAY_TIMEOUT and (
            TOO_LARGE_RESOURCE_VERSION in self.causes
            or "too large resource version" in self.message.lower()
        )

    @property
    def denied(self) -> bool:
        return self.status in (401, 403)

    @property
    def not_found(self) -> bool:
        return self.status == 404


class ProtocolError(Exception):
    """The API server answered with something that is not a well-formed list or event.

    Only the size of the offending data is kept: objects may carry Helm
    values, and those can hold secrets that must not reach a log line.
    """

    def __init__(self, verb: str, resource: str, problem: str, data: bytes = b"") -> None:
        super().__init__(f"{verb} {resource}: {problem} ({len(data)} bytes)")
        self.verb = verb
        self.resource = resource
        self.problem = problem
        self.size = len(data)


def status_causes(status: Mapping[str, Any]) -> tuple[str, ...]:
    """The `reason` of each entry of a Status's `details.causes`, where there are any."""
    details = status.get("details")
    causes = details.get("causes") if isinstance(details, Mapping) else None
    if not isinstance(causes, list):
        return ()
    found = (cause.get("reason") for cause in causes if isinstance(cause, Mapping))
    return tuple(reason for reason in found if isinstance(reason, str))


def status_fields(status: Mapping[str, Any], http_status: int) -> tuple[int, str, str]:
    """(code, reason, message) from a Status object, falling back to the HTTP status."""
    code = status.get("code")
    reason = status.get("reason")
    message = status.get("message")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else http_status,
        reason if isinstance(reason, str) else "",
        message if isinstance(message, str) else "",
    )


def error_from_body(
    body: bytes, http_status: int, *, verb: str, resource: str, namespace: str | None
) -> ApiError:
    """An ApiError from a failed response, whether or not its body is a Status."""
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    causes: tuple[str, ...] = ()
    if isinstance(decoded, Mapping):
        code, reason, message = status_fields(decoded, http_status)
        causes = status_causes(decoded)
    else:
        code, reason = http_status, ""
        message = body[:200].decode("utf-8", errors="replace")
    return ApiError(
        verb=verb,
        resource=resource,
        namespace=namespace,
        status=code,
        reason=reason,
        message=message,
        causes=causes,
    )
