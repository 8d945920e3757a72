"""Bad answers of the flow server counted, and logged once per kind rather than at every retry.

A broken or hostile server can answer the same unreadable thing to every
request; the retries already back off, and a log line per retry would say
nothing new. The first answer of each kind (per operation) is a warning, the
rest are debug lines, and every one is counted in
`flux_adapter_bad_answers_total`.
"""

from __future__ import annotations

import structlog

from flux_adapter.emit.answers import BadAnswerError
from flux_adapter.observe.metrics import Metrics

log = structlog.get_logger("flux_adapter.emit.emitter")


class BadAnswers:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._seen: set[tuple[str, str]] = set()

    def report(self, err: BadAnswerError) -> None:
        """Count `err`; log it as a warning the first time its operation and kind are seen."""
        self._metrics.bad_answers.labels(operation=err.operation, kind=err.kind).inc()
        first = (err.operation, err.kind) not in self._seen
        self._seen.add((err.operation, err.kind))
        report = log.warning if first else log.debug
        report(
            "flow_server_bad_answer",
            operation=err.operation,
            kind=err.kind,
            detail=err.detail,
            action="treated as a transient failure; logged once per kind",
        )
