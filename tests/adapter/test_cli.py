"""The command line: configuration errors before any work, --check-config, --version."""

from __future__ import annotations

import os
import subprocess
import sys

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


def test_missing_variables_exit_2_with_one_line_each_and_no_traceback() -> None:
    done = run()
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "flux-adapter: config: FLOW_ID: required",
        "flux-adapter: config: REGION_KEY: required",
    ]
    assert done.stdout == ""


def test_missing_flow_server_url_is_named_after_the_field_checks_pass() -> None:
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
