"""The command line: configuration errors before any work, --check-config, --version."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from flux_adapter import __version__

CLEAN = {k: v for k, v in os.environ.items() if not k.startswith(("FLOW_", "REGION_", "LEASE_"))}
KUBECONFIG = Path(tempfile.mkdtemp(prefix="flux-adapter-cli-")) / "kubeconfig"
KUBECONFIG.write_text(
    "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
    "clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:9\n"
    "users:\n- name: u\n  user:\n    token: t\n"
    "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n"
)
"""A usable kubeconfig for a server that is not there: no test here reaches the network."""


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flux_adapter", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=CLEAN | {"KUBECONFIG": str(KUBECONFIG)} | env,
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


@pytest.mark.parametrize("mode", [(), ("--check-config",)], ids=["run", "check-config"])
def test_unusable_kubeconfig_exits_2_with_a_clear_message(mode: tuple[str, ...]) -> None:
    done = run(*mode, "--dry-run", FLOW_ID="f", REGION_KEY="eu", KUBECONFIG="/nonexistent/k")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "flux-adapter: config: cannot configure the Kubernetes client from "
        "KUBECONFIG=/nonexistent/k: the file does not exist"
    ]


def test_an_impersonating_kubeconfig_is_named_beside_the_bad_settings(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(KUBECONFIG.read_text().replace("token: t", "token: t\n    as: admin"))
    done = run("--check-config", REGION_KEY="eu", KUBECONFIG=str(config))
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0] == "flux-adapter: config: FLOW_SERVER_URL: required (or run with --dry-run)"
    assert lines[1] == "flux-adapter: config: FLOW_ID: required"
    assert "impersonates" in lines[2]
    assert len(lines) == 3
