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

    @property
    def expired(self) -> bool:
        """The version or continue token asked for is compacted away: only a fresh LIST helps."""
        return self.status == GONE or self.reason in ("Expired", "Gone")

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
    if isinstance(decoded, Mapping):
        code, reason, message = status_fields(decoded, http_status)
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
    )
