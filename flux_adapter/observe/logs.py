"""Structured logs: one JSON (or console) event per line on stderr, secrets redacted.

stdout stays free for `--dry-run`'s envelopes. Libraries that log through the
standard `logging` module (aiohttp, asyncio) are rendered the same
way, so an operator's log pipeline sees one format.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from flux_adapter.observe.redact import MASK, redact_secrets, redact_text

_SECRET_KEYS = re.compile(r"token|password|secret|authorization|credential", re.IGNORECASE)


def _redact_value(key: str, value: Any) -> Any:
    if _SECRET_KEYS.search(key) and not key.endswith(("_file", "_path")):
        return MASK
    return _redact_nested(value)


def _redact_nested(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: _redact_value(str(key), item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_nested(item) for item in value]
    return value


class _RedactedRenderer:
    """A renderer whose every line is searched once more for a remembered secret.

    The processor above masks values field by field; this catches what it
    cannot see (a secret in a key, in a value's `repr`, in a traceback).
    """

    def __init__(self, renderer: Any) -> None:
        self._renderer = renderer

    def __call__(self, logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
        rendered = self._renderer(logger, method, event_dict)
        return redact_secrets(rendered) if isinstance(rendered, str) else rendered


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: no token or URL credential ever reaches a log line."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _redact_value(key, value)
    return event_dict


def configure_logging(level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    out = stream if stream is not None else sys.stderr
    renderer: Any = _RedactedRenderer(
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    numeric = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.INFO))
