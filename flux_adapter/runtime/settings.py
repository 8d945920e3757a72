"""Each setting read from the environment and validated on its own, before any network work.

A value that is well-formed but cannot work (a CA bundle OpenSSL refuses, a
token file that cannot be read, a duration too large for the field it ends
up in) is refused here too, not at the first request. The rules joining
variables, and the one line per problem, are in `settings_check.py`.
"""

from __future__ import annotations

import math
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, ByteSize, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flux_adapter.emit.answers import SNAPSHOT_LIMIT
from flux_adapter.emit.ca_bundle import CaBundleError, load_ca_bundle
from flux_adapter.emit.token_file import TokenFile, TokenFileError
from flux_adapter.observe.durations import DurationError, parse_duration

MIN_SNAPSHOT_LIMIT = 1 << 20
"""A snapshot limit below one envelope's size (1 MiB) could refuse a single region's graph."""

INT32_MAX = 2**31 - 1
"""The Lease's `spec.leaseDurationSeconds` is an int32 (coordination.k8s.io/v1)."""

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
"""A Kubernetes name part (RFC 1123 label): what the API server accepts for a namespace."""
DNS_RULE = "lowercase letters, digits and '-', at most 63, starting and ending alphanumeric"


def _namespace_name(value: str) -> str:
    if not DNS_LABEL.fullmatch(value):
        raise ValueError(f"{value!r} is not a namespace name (RFC 1123 label: {DNS_RULE})")
    return value


MIN_RING_CAPACITY = 16
"""The smallest flow-server ring the adapter agrees to keep ahead of, in envelopes."""


def _seconds(value: object) -> object:
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except DurationError as err:
            raise ValueError(str(err)) from err
    return value


def _finite_positive(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"must be a finite duration, got {value}")
    if value <= 0:
        raise ValueError(f"must be positive, got {value:g}s")
    return value


def _fits_a_lease(value: float) -> float:
    if math.ceil(value) > INT32_MAX:
        raise ValueError(
            f"must be at most {INT32_MAX}s, the range of the Lease's int32 "
            f"leaseDurationSeconds, got {value:g}s"
        )
    return value


def _whole(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            raise ValueError(f"must be a whole number of envelopes, got {value!r}")
        return int(text)
    return value


def _ring_sized(value: int) -> int:
    if value < MIN_RING_CAPACITY:
        raise ValueError(f"must be at least {MIN_RING_CAPACITY} envelopes, got {value}")
    return value


RingCapacity = Annotated[int, BeforeValidator(_whole), AfterValidator(_ring_sized)]
"""The flow server's ring, in envelopes: a whole number, at least `MIN_RING_CAPACITY`."""

PositiveSeconds = Annotated[float, BeforeValidator(_seconds), AfterValidator(_finite_positive)]
"""A duration in seconds: a Go duration string or a plain number, finite and > 0."""


def _snapshot_sized(value: ByteSize) -> ByteSize:
    if value < MIN_SNAPSHOT_LIMIT:
        raise ValueError(f"must be at least {MIN_SNAPSHOT_LIMIT} bytes (1 MiB), got {int(value)}")
    return value


SnapshotLimit = Annotated[ByteSize, AfterValidator(_snapshot_sized)]
"""The most bytes of a snapshot read: a whole number or a size (`64MiB`), at least 1 MiB."""

LeaseSeconds = Annotated[PositiveSeconds, AfterValidator(_fits_a_lease)]
"""A lease timing: a `PositiveSeconds` that fits the Lease's whole-second int32 field."""


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
    flow_server_ring_capacity: RingCapacity = 4096
    flow_server_stream: bool = True
    flow_server_snapshot_limit: SnapshotLimit = ByteSize(SNAPSHOT_LIMIT)
    watch_inactivity_timeout: PositiveSeconds = 90.0
    shutdown_timeout: PositiveSeconds = 5.0
    lease_duration: LeaseSeconds = 15.0
    lease_renew_deadline: LeaseSeconds = 10.0
    lease_retry_period: LeaseSeconds = 2.0
    lease_standby_retry_period: LeaseSeconds = 5.0
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
        value = value.strip()
        return _namespace_name(value) if value else value

    @field_validator("lease_name")
    @classmethod
    def _lease_name(cls, value: str) -> str:
        if len(value) > 253 or not all(DNS_LABEL.fullmatch(part) for part in value.split(".")):
            raise ValueError(f"{value!r} is not a Lease name (RFC 1123 subdomain: {DNS_RULE})")
        return value

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

    @field_validator("pod_namespace")
    @classmethod
    def _pod_namespace(cls, value: str | None) -> str | None:
        return None if value is None else _namespace_name(value)

    @field_validator("flow_server_token_file")
    @classmethod
    def _token_readable(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                TokenFile(Path(value)).current()
            except TokenFileError as err:
                raise ValueError(f"cannot be read: {value}: {err.detail}") from None
        return value

    @field_validator("flow_server_ca_file")
    @classmethod
    def _ca_loads(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                load_ca_bundle(Path(value))
            except CaBundleError as err:
                raise ValueError(f"cannot be used: {value}: {err.detail}") from None
        return value

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
