"""Logs are JSON events with fields, and never carry a secret."""

from __future__ import annotations

import base64
import io
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, quote_plus

import pytest
import structlog
from kubernetes_asyncio.client import Configuration

from flux_adapter.kube.client import remember_credentials
from flux_adapter.observe.logs import configure_logging
from flux_adapter.observe.redact import MASK, redact_text, remember_secret


def test_events_are_one_json_object_per_line_with_fields() -> None:
    out = io.StringIO()
    configure_logging("info", "json", out)
    structlog.get_logger().info("posted", envelopes=3)
    line = json.loads(out.getvalue().strip())
    assert line["event"] == "posted"
    assert line["envelopes"] == 3
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")


@pytest.fixture
def tokyo_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local zone is UTC+9 (a POSIX TZ string, no tz database needed)."""
    monkeypatch.setenv("TZ", "JST-9")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("tokyo_local_time")
def test_timestamps_are_utc_whatever_the_local_time_zone() -> None:
    out = io.StringIO()
    configure_logging("info", "json", out)
    structlog.get_logger().info("posted")
    stamp = datetime.fromisoformat(json.loads(out.getvalue())["timestamp"])
    assert stamp.utcoffset() == timedelta(0)
    assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=1)


def test_tokens_and_url_credentials_are_redacted() -> None:
    out = io.StringIO()
    configure_logging("info", "json", out)
    structlog.get_logger().info(
        "config", token="s3cret", url="https://bob:s3cret@flow/v1", token_file="/var/run/token"
    )
    line = json.loads(out.getvalue())
    assert "s3cret" not in out.getvalue()
    assert line["token"] == MASK
    assert line["url"] == f"https://{MASK}@flow/v1"
    assert line["token_file"] == "/var/run/token"


def test_stdlib_library_logs_are_rendered_and_redacted_too() -> None:
    out = io.StringIO()
    configure_logging("info", "json", out)
    logging.getLogger("aiohttp.client").warning("sent Authorization: Bearer abc.def-ghi")
    line = json.loads(out.getvalue())
    assert line["logger"] == "aiohttp.client"
    assert "abc.def" not in line["event"]


def test_debug_events_are_dropped_at_info_level() -> None:
    out = io.StringIO()
    configure_logging("info", "json", out)
    structlog.get_logger().debug("noise")
    assert out.getvalue() == ""


def test_redact_text_leaves_plain_urls_alone() -> None:
    assert redact_text("http://flow:8080/v1/flows/x") == "http://flow:8080/v1/flows/x"


def every_echo(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        f"Bearer {secret}",
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(b"adapter:" + raw).decode(),
    ]


def leaks(output: str, secret: str) -> list[str]:
    """Forms of `secret` still readable in `output` (their first 12 characters suffice)."""
    return [echo for echo in every_echo(secret) if echo.removeprefix("Bearer ")[:12] in output]


SECRET = "flow-token/Zm9v+bar=baz&qux"


def test_a_remembered_token_is_masked_in_every_form_in_fields_and_structures() -> None:
    out = io.StringIO()
    configure_logging("info", "json", out)
    remember_secret(SECRET)
    log = structlog.get_logger()
    for echo in every_echo(SECRET):
        log.warning("snapshot_check_failed", detail=f"credentials refused: {echo}")
        log.warning("answer", body={"echo": [echo]})
    assert out.getvalue().count("\n") == 2 * len(every_echo(SECRET))
    assert leaks(out.getvalue(), SECRET) == []


def test_a_remembered_token_is_masked_in_library_logs_and_tracebacks() -> None:
    out = io.StringIO()
    configure_logging("info", "json", out)
    remember_secret(SECRET)
    for echo in every_echo(SECRET):
        logging.getLogger("aiohttp.client").warning("sent %s", echo)
        try:
            raise ValueError(echo)
        except ValueError:
            structlog.get_logger().exception("task_failed")
    assert leaks(out.getvalue(), SECRET) == []


def test_the_kubernetes_credentials_loaded_are_masked() -> None:
    out = io.StringIO()
    configure_logging("info", "json", out)
    configuration = Configuration()
    configuration.api_key["BearerToken"] = "Bearer kube-sa-token-0123456789"
    configuration.password = "kube-basic-password"
    remember_credentials(configuration)
    structlog.get_logger().warning("echo", detail="kube-sa-token-0123456789 kube-basic-password")
    assert "kube-sa-token" not in out.getvalue()
    assert "kube-basic-password" not in out.getvalue()
