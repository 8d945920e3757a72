"""What each answer of a failing API server makes the reflector do: relist, resume or wait.

A part of `Watcher` (`reflector.py`), which holds the state it works on.
"""

from __future__ import annotations

import structlog

from flux_adapter.informer.reflector_state import ReflectorState
from flux_adapter.kube.errors import ApiError

log = structlog.get_logger("flux_adapter.informer.reflector")


class FailurePolicy(ReflectorState):
    def _api_failed(self, err: ApiError) -> float:
        fields = {
            "verb": err.verb,
            "status": err.status,
            "reason": err.reason,
            "message": err.message,
        }
        if err.expired:
            fresh = self._fresh_list
            self._version = None
            self._relist_reason = "expired"
            if err.verb == "watch":
                self._metrics.watch_restarts.labels(
                    resource=self.resource.kind, reason="expired"
                ).inc()
            # A version that expires right after a fresh LIST means the server
            # keeps refusing what it just gave: wait, or this would be a hot loop.
            delay = self._backoff.failure() if fresh else 0.0
            log.info("resource_version_expired", **self._where, retry_in=round(delay, 3), **fields)
            return delay
        if err.version_too_large:
            # client-go's answer to a lagging server: a consistent LIST, not the same version.
            self._version = None
            self._relist_reason = "lagging"
            delay = self._backoff.failure()
            log.info(
                "resource_version_too_large", **self._where, retry_in=round(delay, 3), **fields
            )
            return delay
        if err.denied:
            # A restarting API server answers 403 until it has loaded its RBAC:
            # retried on the ordinary backoff, so that passes within seconds.
            delay = self._backoff.failure()
            log.error(
                "rbac_denied",
                **self._where,
                group=self.resource.group,
                plural=self.resource.plural,
                missing=f"{err.verb} {self.resource.name}",
                retry_in=round(delay, 3),
                **fields,
            )
            return delay
        delay = self._backoff.failure()
        if err.not_found:
            # The CRD is missing; whatever comes back after it is a new set of
            # objects, so list afresh. The store is kept meanwhile: a restarting
            # API server answers 404 for custom resources until it has loaded
            # their CRDs, and emptying the canvas for that would be a lie.
            self._version = None
            self._relist_reason = "error"
            log.warning("resource_not_found", **self._where, retry_in=round(delay, 3), **fields)
            return delay
        log.warning("kube_api_error", **self._where, retry_in=round(delay, 3), **fields)
        return delay
