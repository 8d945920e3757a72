"""Configuration from the environment: every problem named, all at once."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from flux_adapter.runtime.settings import ListenAddr, parse_listen_addr
from flux_adapter.runtime.settings_check import ConfigError, load_settings

REQUIRED = {
    "FLOW_SERVER_URL": "http://flow:8080",
    "FLOW_ID": "bootstrap",
    "REGION_KEY": "eu-west-1",
}
ALL_VARS = [
    *REQUIRED,
    "NAMESPACE_FILTER",
    "EMIT_INTERVAL",
    "POST_TIMEOUT",
    "HEALTH_LISTEN_ADDR",
    "RESYNC_INTERVAL",
    "FLOW_SERVER_RING_CAPACITY",
    "FLOW_SERVER_STREAM",
    "WATCH_INACTIVITY_TIMEOUT",
    "SHUTDOWN_TIMEOUT",
    "LEASE_DURATION",
    "LEASE_RENEW_DEADLINE",
    "LEASE_RETRY_PERIOD",
    "FLOW_SERVER_TOKEN_FILE",
    "FLOW_SERVER_CA_FILE",
    "LEADER_ELECTION",
    "LEASE_NAME",
    "POD_NAMESPACE",
    "POD_NAME",
    "LOG_LEVEL",
    "LOG_FORMAT",
]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def problems(dry_run: bool = False) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(dry_run=dry_run)
    return caught.value.lines


def test_three_variables_are_enough_and_defaults_match_the_documentation(
    env: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()
    assert settings.flow_server_url == "http://flow:8080"
    assert settings.namespace == "flux-system"
    assert settings.emit_interval == pytest.approx(0.2)
    assert settings.post_timeout == 10
    assert settings.listen == ListenAddr("0.0.0.0", 8081)
    assert settings.resync_interval == 60
    assert settings.flow_server_ring_capacity == 4096
    assert settings.flow_server_stream is True
    assert settings.watch_inactivity_timeout == 90
    assert settings.shutdown_timeout == 5
    assert (
        settings.lease_duration,
        settings.lease_renew_deadline,
        settings.lease_retry_period,
    ) == (
        15,
        10,
        2,
    )
    assert settings.leader_election is True
    assert settings.lease_name == "flux-adapter"
    assert (settings.log_level, settings.log_format) == ("info", "json")


@pytest.mark.parametrize("missing", list(REQUIRED))
def test_each_missing_required_variable_is_named(env: pytest.MonkeyPatch, missing: str) -> None:
    env.delenv(missing)
    assert problems() == [
        f"{missing}: required"
        + (" (or run with --dry-run)" if missing == "FLOW_SERVER_URL" else "")
    ]


def test_all_problems_are_reported_at_once_one_line_each(env: pytest.MonkeyPatch) -> None:
    env.delenv("FLOW_ID")
    env.setenv("REGION_KEY", "eu/west")
    env.setenv("EMIT_INTERVAL", "-1s")
    env.setenv("FLOW_SERVER_URL", "ftp://flow")
    lines = problems()
    assert [line.split(":")[0] for line in lines] == [
        "FLOW_SERVER_URL",
        "FLOW_ID",
        "REGION_KEY",
        "EMIT_INTERVAL",
    ]
    assert all("\n" not in line and "pydantic" not in line for line in lines)


@pytest.mark.parametrize("url", ["ftp://flow", "flow:8080", "http://", "unix:///sock"])
def test_flow_server_url_must_be_http_or_https_with_a_host(
    env: pytest.MonkeyPatch, url: str
) -> None:
    env.setenv("FLOW_SERVER_URL", url)
    assert problems()[0].startswith("FLOW_SERVER_URL: ")


def test_flow_server_url_loses_its_trailing_slash(env: pytest.MonkeyPatch) -> None:
    env.setenv("FLOW_SERVER_URL", "https://flow.example:8443/base/")
    assert load_settings().flow_server_url == "https://flow.example:8443/base"


@pytest.mark.parametrize("region", ["", "   ", "eu/west"])
def test_blank_or_slashed_region_keys_are_refused(env: pytest.MonkeyPatch, region: str) -> None:
    env.setenv("REGION_KEY", region)
    assert problems()[0].startswith("REGION_KEY: ")


@pytest.mark.parametrize(
    "variable",
    [
        "EMIT_INTERVAL",
        "POST_TIMEOUT",
        "RESYNC_INTERVAL",
        "WATCH_INACTIVITY_TIMEOUT",
        "SHUTDOWN_TIMEOUT",
    ],
)
def test_negative_or_garbled_durations_are_refused(env: pytest.MonkeyPatch, variable: str) -> None:
    env.setenv(variable, "-3s")
    assert problems() == [f"{variable}: negative duration '-3s'"]
    env.setenv(variable, "soon")
    assert problems()[0].startswith(f"{variable}: not a duration")


def test_durations_accept_go_strings_and_plain_seconds(env: pytest.MonkeyPatch) -> None:
    env.setenv("EMIT_INTERVAL", "1m30s")
    env.setenv("POST_TIMEOUT", "2.5")
    settings = load_settings()
    assert (settings.emit_interval, settings.post_timeout) == (90, 2.5)


def test_empty_namespace_filter_means_all_namespaces(env: pytest.MonkeyPatch) -> None:
    env.setenv("NAMESPACE_FILTER", "")
    assert load_settings().namespace is None


def test_dry_run_needs_no_flow_server_url(env: pytest.MonkeyPatch) -> None:
    env.delenv("FLOW_SERVER_URL")
    assert load_settings(dry_run=True).flow_server_url is None


def test_lease_timings_must_nest(env: pytest.MonkeyPatch) -> None:
    env.setenv("LEASE_DURATION", "5s")
    env.setenv("LEASE_RETRY_PERIOD", "9s")
    assert problems() == [
        "LEASE_DURATION: must be longer than LEASE_RENEW_DEADLINE (5s <= 10s)",
        "LEASE_RENEW_DEADLINE: must be longer than 1.2 x LEASE_RETRY_PERIOD (10s <= 10.8s)",
    ]


def test_lease_timings_are_not_checked_without_leader_election(env: pytest.MonkeyPatch) -> None:
    env.setenv("LEADER_ELECTION", "false")
    env.setenv("LEASE_DURATION", "5s")
    assert load_settings().leader_election is False


def test_missing_token_and_ca_files_are_named(env: pytest.MonkeyPatch) -> None:
    env.setenv("FLOW_SERVER_TOKEN_FILE", "/nonexistent/token")
    env.setenv("FLOW_SERVER_CA_FILE", "/nonexistent/ca.pem")
    assert problems() == [
        "FLOW_SERVER_TOKEN_FILE: cannot be read: /nonexistent/token: No such file or directory",
        "FLOW_SERVER_CA_FILE: cannot be used: /nonexistent/ca.pem: No such file or directory",
    ]


def test_an_empty_token_file_is_refused(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n")
    env.setenv("FLOW_SERVER_TOKEN_FILE", str(tmp_path / "token"))
    assert problems() == [f"FLOW_SERVER_TOKEN_FILE: cannot be read: {tmp_path}/token: is empty"]


def test_a_readable_token_file_and_a_real_ca_bundle_are_accepted(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    env.setenv("FLOW_SERVER_TOKEN_FILE", str(tmp_path / "token"))
    env.setenv("FLOW_SERVER_CA_FILE", self_signed_ca(tmp_path))
    settings = load_settings()
    assert settings.flow_server_token_file == str(tmp_path / "token")


def self_signed_ca(folder: Path) -> str:
    """A real PEM certificate, made with the openssl command line."""
    cert = folder / "ca.pem"
    key = folder / "ca.key"
    command = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    command += ["-nodes", "-keyout", str(key), "-out", str(cert)]
    command += ["-days", "1", "-subj", "/CN=flow-ca"]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
    )
    return str(cert)


@pytest.mark.parametrize("value", ["inf", "1e400", "nan", "0", "0s"])
def test_durations_must_be_finite_and_positive(env: pytest.MonkeyPatch, value: str) -> None:
    env.setenv("RESYNC_INTERVAL", value)
    [line] = problems()
    assert line.startswith("RESYNC_INTERVAL: must be ")


@pytest.mark.parametrize(
    "variable", ["LEASE_DURATION", "LEASE_RENEW_DEADLINE", "LEASE_RETRY_PERIOD"]
)
def test_lease_timings_must_fit_the_leases_int32_seconds(
    env: pytest.MonkeyPatch, variable: str
) -> None:
    env.setenv("LEADER_ELECTION", "false")
    env.setenv(variable, "1e12")
    assert problems() == [
        f"{variable}: must be at most 2147483647s, the range of the Lease's int32 "
        "leaseDurationSeconds, got 1e+12s"
    ]


def test_rules_joining_variables_are_reported_beside_an_unrelated_bad_variable(
    env: pytest.MonkeyPatch,
) -> None:
    env.delenv("FLOW_ID")
    env.delenv("FLOW_SERVER_URL")
    env.setenv("LEASE_DURATION", "5s")
    assert problems() == [
        "FLOW_SERVER_URL: required (or run with --dry-run)",
        "FLOW_ID: required",
        "LEASE_DURATION: must be longer than LEASE_RENEW_DEADLINE (5s <= 10s)",
    ]


def test_a_rule_is_not_reported_about_a_variable_already_named_as_invalid(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("LEASE_DURATION", "soon")
    [line] = problems()
    assert line.startswith("LEASE_DURATION: not a duration")


def test_credentials_in_the_url_and_a_token_file_are_refused_together(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text("s3cret")
    env.setenv("FLOW_SERVER_URL", "https://bob:pw@flow")
    env.setenv("FLOW_SERVER_TOKEN_FILE", str(tmp_path / "token"))
    [line] = problems()
    assert line.startswith("FLOW_SERVER_URL: carries credentials while FLOW_SERVER_TOKEN_FILE")


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("8", "FLOW_SERVER_RING_CAPACITY: must be at least 16 envelopes, got 8"),
        ("4k", "FLOW_SERVER_RING_CAPACITY: must be a whole number of envelopes, got '4k'"),
        ("-4096", "FLOW_SERVER_RING_CAPACITY: must be a whole number of envelopes, got '-4096'"),
        ("1e3", "FLOW_SERVER_RING_CAPACITY: must be a whole number of envelopes, got '1e3'"),
    ],
)
def test_the_ring_capacity_is_a_whole_number_of_envelopes(
    env: pytest.MonkeyPatch, value: str, line: str
) -> None:
    env.setenv("FLOW_SERVER_RING_CAPACITY", value)
    assert problems() == [line]


def test_the_ring_settings_are_read(env: pytest.MonkeyPatch) -> None:
    env.setenv("FLOW_SERVER_RING_CAPACITY", " 1024 ")
    env.setenv("FLOW_SERVER_STREAM", "false")
    settings = load_settings()
    assert settings.flow_server_ring_capacity == 1024
    assert settings.flow_server_stream is False


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "loud"),
        ("LEADER_ELECTION", "maybe"),
        ("FLOW_SERVER_STREAM", "2"),
    ],
)
def test_enumerations_refuse_unknown_words(
    env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    env.setenv(variable, value)
    assert problems()[0].startswith(f"{variable}: ")


@pytest.mark.parametrize(
    ("text", "addr"),
    [
        (":8081", ListenAddr("0.0.0.0", 8081)),
        ("127.0.0.1:9000", ListenAddr("127.0.0.1", 9000)),
        ("[::1]:80", ListenAddr("::1", 80)),
    ],
)
def test_listen_addresses_parse(text: str, addr: ListenAddr) -> None:
    assert parse_listen_addr(text) == addr


@pytest.mark.parametrize("text", ["8081", "host:", ":99999", "host:port"])
def test_bad_listen_addresses_are_refused(env: pytest.MonkeyPatch, text: str) -> None:
    env.setenv("HEALTH_LISTEN_ADDR", text)
    assert problems()[0].startswith("HEALTH_LISTEN_ADDR: ")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LEASE_NAME", "Bad_Name"),
        ("POD_NAMESPACE", "x/y"),
        ("NAMESPACE_FILTER", "x/y"),
        ("NAMESPACE_FILTER", "Flux-System"),
    ],
)
def test_kubernetes_names_the_api_server_would_refuse_are_refused_up_front(
    env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    env.setenv(variable, value)
    [line] = problems()
    assert line.startswith(f"{variable}: {value!r} is not a ")
