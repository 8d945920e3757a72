"""The reflector's decision on a failure status, from the error and whether the list was fresh."""

from __future__ import annotations

from flux_adapter.informer.failures import Decision, decide
from flux_adapter.kube.errors import ApiError


def error(
    status: int, reason: str, message: str = "", causes: tuple[str, ...] = (), verb: str = "watch"
) -> ApiError:
    return ApiError(
        verb=verb,
        resource="helmreleases.helm.toolkit.fluxcd.io",
        namespace="flux-system",
        status=status,
        reason=reason,
        message=message,
        causes=causes,
    )


GONE = error(410, "Expired", "too old resource version: 1 (2)")


def test_an_expired_version_relists_at_once_after_events() -> None:
    assert decide(GONE, fresh_list=False) == Decision(
        "expired", False, "resource_version_expired", "info"
    )


def test_an_expired_version_right_after_a_list_waits_before_relisting() -> None:
    assert decide(GONE, fresh_list=True) == Decision(
        "expired", True, "resource_version_expired", "info"
    )


def test_a_gone_reason_counts_as_expired_whatever_the_code() -> None:
    assert decide(error(500, "Gone"), fresh_list=False).relist == "expired"


def test_a_lagging_server_is_answered_with_a_new_list_after_a_wait() -> None:
    lagging = error(504, "Timeout", "Too large resource version", ("ResourceVersionTooLarge",))

    assert decide(lagging, fresh_list=False) == Decision(
        "lagging", True, "resource_version_too_large", "info"
    )


def test_a_plain_504_resumes_after_a_wait() -> None:
    assert decide(error(504, "Timeout", "timed out"), fresh_list=False) == Decision(
        None, True, "kube_api_error", "warning"
    )


def test_a_denied_request_keeps_the_version_and_is_logged_as_an_error() -> None:
    assert decide(error(403, "Forbidden"), fresh_list=True) == Decision(
        None, True, "rbac_denied", "error"
    )


def test_a_missing_resource_relists_after_a_wait() -> None:
    assert decide(error(404, "NotFound", verb="list"), fresh_list=False) == Decision(
        "error", True, "resource_not_found", "warning"
    )


def test_any_other_error_resumes_after_a_wait() -> None:
    assert decide(error(500, "InternalError"), fresh_list=True) == Decision(
        None, True, "kube_api_error", "warning"
    )
