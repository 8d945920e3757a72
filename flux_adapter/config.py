"""Settings from the environment, validated all at once before any network work.

Operators see one line per bad variable naming it and the problem, never a
pydantic traceback; the process then exits with status 2.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flux_adapter.durations import DurationError, parse_duration

EXIT_CONFIG = 2


def _seconds(value: object) -> object:
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except DurationError as err:
            raise ValueError(str(err)) from err
    return value


PositiveSeconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]


@dataclass(frozen=True, slots=True)
class ListenAddr:
    host: str
    port: int


def parse_listen_addr(text: str) -> ListenAddr:
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"expected host:port or :port, got {text!r}")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range")
    host = host.strip("[]") or "0.0.0.0"
    return ListenAddr(host=host, port=port)


class ConfigError(Exception):
    """Every problem found in the environment, one line each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    flow_server_url: str | None = None
    flow_id: str
    region_key: str
    namespace_filter: str = "flux-system"
    emit_interval: PositiveSeconds = 0.2
    post_timeout: PositiveSeconds = 10.0
    health_listen_addr: str = ":8081"
    resync_interval: PositiveSeconds = 60.0
    watch_inactivity_timeout: PositiveSeconds = 90.0
    shutdown_timeout: PositiveSeconds = 5.0
    lease_duration: PositiveSeconds = 15.0
    lease_renew_deadline: PositiveSeconds = 10.0
    lease_retry_period: PositiveSeconds = 2.0
    flow_server_token_file: str | None = None
    flow_server_ca_file: str | None = None
    leader_election: bool = True
    lease_name: str = "flux-adapter"
    pod_namespace: str | None = None
    pod_name: str = Field(default_factory=socket.gethostname)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"

    @field_validator("flow_server_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"scheme must be http or https, got {parts.scheme or 'none'!r}")
        if not parts.hostname:
            raise ValueError("URL has no host")
        return value.strip().rstrip("/")

    @field_validator("flow_id", "lease_name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("region_key")
    @classmethod
    def _region(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        if "/" in value:
            raise ValueError("must not contain '/' (node ids are <REGION_KEY>/<release>)")
        return value.strip()

    @field_validator("namespace_filter")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return value.strip()

    @field_validator("health_listen_addr")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen_addr(value)
        return value

    @field_validator("flow_server_token_file", "flow_server_ca_file", "pod_namespace")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return value.strip()

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def listen(self) -> ListenAddr:
        return parse_listen_addr(self.health_listen_addr)

    @property
    def namespace(self) -> str | None:
        """The namespace to watch; None means all namespaces."""
        return self.namespace_filter or None


def _cross_checks(settings: Settings, dry_run: bool) -> list[str]:
    lines: list[str] = []
    if not dry_run and settings.flow_server_url is None:
        lines.append("FLOW_SERVER_URL: required (or run with --dry-run)")
    if settings.leader_election and not dry_run:
        lease, renew, retry = (
            settings.lease_duration,
            settings.lease_renew_deadline,
            settings.lease_retry_period,
        )
        for name, value in (
            ("LEASE_DURATION", lease),
            ("LEASE_RENEW_DEADLINE", renew),
            ("LEASE_RETRY_PERIOD", retry),
        ):
            if value < 1:
                lines.append(f"{name}: must be at least 1s for leader election, got {value:g}s")
        if lease <= renew:
            lines.append(
                "LEASE_DURATION: must be longer than LEASE_RENEW_DEADLINE "
                f"({lease:g}s <= {renew:g}s)"
            )
        if renew <= 1.2 * retry:
            lines.append(
                "LEASE_RENEW_DEADLINE: must be longer than 1.2 x LEASE_RETRY_PERIOD "
                f"({renew:g}s <= {1.2 * retry:g}s)"
            )
    for name, path in (
        ("FLOW_SERVER_TOKEN_FILE", settings.flow_server_token_file),
        ("FLOW_SERVER_CA_FILE", settings.flow_server_ca_file),
    ):
        if path is not None and not os.path.isfile(path):
            lines.append(f"{name}: no such file: {path}")
    return lines


def _describe(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        variable = str(item["loc"][0]).upper() if item["loc"] else "environment"
        message = item["msg"]
        if item["type"] == "missing":
            message = "required"
        message = message.removeprefix("Value error, ")
        lines.append(f"{variable}: {message}")
    return lines


def load_settings(dry_run: bool = False) -> Settings:
    """Read and check the environment; raise ConfigError listing every problem."""
    try:
        settings = Settings()
    except ValidationError as err:
        raise ConfigError(_describe(err)) from None
    problems = _cross_checks(settings, dry_run)
    if problems:
        raise ConfigError(problems)
    return settings
