"""The command line: configuration errors before any work, --check-config, --version."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flux_adapter import __version__

CLEAN = {k: v for k, v in os.environ.items() if not k.startswith(("FLOW_", "REGION_", "LEASE_"))}


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flux_adapter", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=CLEAN | {"KUBECONFIG": "/nonexistent/kubeconfig"} | env,
    )


def test_version_prints_and_exits_zero_without_configuration() -> None:
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"flux-adapter {__version__}"


def test_an_empty_environment_names_all_three_required_variables_and_exits_2() -> None:
    done = run()
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "flux-adapter: config: FLOW_SERVER_URL: required (or run with --dry-run)",
        "flux-adapter: config: FLOW_ID: required",
        "flux-adapter: config: REGION_KEY: required",
    ]
    assert done.stdout == ""


def test_a_missing_flow_server_url_alone_is_named() -> None:
    done = run(FLOW_ID="f", REGION_KEY="eu")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "flux-adapter: config: FLOW_SERVER_URL: required (or run with --dry-run)"
    ]


def test_invalid_values_are_all_reported_before_any_network_work() -> None:
    done = run(
        FLOW_SERVER_URL="gopher://flow",
        FLOW_ID="f",
        REGION_KEY="eu/west",
        EMIT_INTERVAL="fast",
    )
    assert done.returncode == 2
    assert [line.split(": ")[2] for line in done.stderr.splitlines()] == [
        "FLOW_SERVER_URL",
        "REGION_KEY",
        "EMIT_INTERVAL",
    ]
    assert "Traceback" not in done.stderr


@pytest.fixture
def unusable_files(tmp_path: Path) -> dict[str, str]:
    """A directory where a token file is expected, and a CA "bundle" that is plain text."""
    (tmp_path / "token").mkdir()
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    return {"dir": str(tmp_path / "token"), "text": str(tmp_path / "ca.pem")}


@pytest.mark.parametrize("mode", [(), ("--check-config",)], ids=["run", "check-config"])
@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("FLOW_SERVER_CA_FILE", "text", "not a PEM certificate bundle"),
        ("FLOW_SERVER_TOKEN_FILE", "dir", "cannot be read"),
        ("LEASE_DURATION", "inf", "must be a finite duration"),
        ("LEASE_DURATION", "1e12", "int32 leaseDurationSeconds"),
        ("POST_TIMEOUT", "nan", "must be a finite duration"),
    ],
)
def test_an_unusable_value_exits_2_with_one_line_naming_its_variable(
    unusable_files: dict[str, str], mode: tuple[str, ...], variable: str, value: str, says: str
) -> None:
    done = run(
        *mode,
        FLOW_SERVER_URL="http://127.0.0.1:9",
        FLOW_ID="f",
        REGION_KEY="eu",
        **{variable: unusable_files.get(value, value)},
    )
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith(f"flux-adapter: config: {variable}: ")
    assert says in line
    assert done.stdout == ""


def test_check_config_prints_the_effective_settings_and_exits_zero() -> None:
    done = run("--check-config", FLOW_SERVER_URL="http://flow:8080/", FLOW_ID="f", REGION_KEY="eu")
    assert done.returncode == 0
    settings = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert settings["FLOW_SERVER_URL"] == "http://flow:8080"
    assert settings["NAMESPACE_FILTER"] == "flux-system"
    assert settings["EMIT_INTERVAL"] == "0.2"


def test_check_config_never_prints_the_token() -> None:
    done = run(
        "--check-config",
        FLOW_SERVER_URL="http://user:hunter2@flow:8080",
        FLOW_ID="f",
        REGION_KEY="eu",
    )
    assert done.returncode == 0
    assert "hunter2" not in done.stdout


def test_unusable_kubeconfig_exits_2_with_a_clear_message() -> None:
    done = run("--dry-run", FLOW_ID="f", REGION_KEY="eu", LOG_FORMAT="json")
    assert done.returncode == 2
    assert "kubeconfig_unusable" in done.stderr
    assert "/nonexistent/kubeconfig" in done.stderr
