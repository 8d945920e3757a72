"""The Authorization header: fresh from rotated files and credential plugins, never stale."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from flux_adapter.kube_auth import Credentials, CredentialsError, parse_exec_credential
from flux_adapter.kubeconfig import ClusterAccess, ExecPlugin

SERVER = "https://10.0.0.1:6443"

PLUGIN = """
import json, os, pathlib, sys
calls = pathlib.Path(sys.argv[1])
calls.write_text(calls.read_text() + "x" if calls.exists() else "x")
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
assert info["kind"] == "ExecCredential" and info["spec"]["interactive"] is False
status = {"token": "tok-%d-%s" % (len(calls.read_text()), os.environ.get("PROFILE", ""))}
if os.environ.get("EXPIRES"):
    status["expirationTimestamp"] = os.environ["EXPIRES"]
if os.environ.get("FAIL"):
    print("no credentials for this profile", file=sys.stderr)
    sys.exit(3)
print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential", "status": status}))
"""


def plugin(tmp_path: Path, **env: str) -> tuple[ExecPlugin, Path]:
    script = tmp_path / "plugin.py"
    script.write_text(PLUGIN)
    calls = tmp_path / "calls"
    return (
        ExecPlugin(
            command=sys.executable,
            args=(str(script), str(calls)),
            env=(("PROFILE", "prod"), *env.items()),
        ),
        calls,
    )


async def test_a_static_token_is_sent_as_bearer() -> None:
    access = ClusterAccess(source="test", server=SERVER, token="t0k")
    assert await Credentials(access).authorization() == "Bearer t0k"


async def test_a_token_file_is_read_again_after_rotation(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    credentials = Credentials(ClusterAccess(source="test", server=SERVER, token_file=token))
    assert await credentials.authorization() == "Bearer first"
    rotated = tmp_path / "token.new"
    rotated.write_text("second\n")
    rotated.replace(token)
    assert await credentials.authorization() == "Bearer second"


async def test_a_vanished_token_file_is_a_credentials_error(tmp_path: Path) -> None:
    access = ClusterAccess(source="test", server=SERVER, token_file=tmp_path / "gone")
    with pytest.raises(CredentialsError, match="gone"):
        await Credentials(access).authorization()


async def test_basic_auth_from_username_and_password() -> None:
    access = ClusterAccess(source="test", server=SERVER, username="me", password="pw")
    assert await Credentials(access).authorization() == "Basic bWU6cHc="


async def test_no_credentials_sends_no_header() -> None:
    assert await Credentials(ClusterAccess(source="test", server=SERVER)).authorization() is None


async def test_an_exec_plugin_token_is_kept_until_near_its_expiry(tmp_path: Path) -> None:
    exec_plugin, calls = plugin(tmp_path, EXPIRES="2026-11-22T03:00:00Z")
    now = [1795314000.0]  # 02:20:00Z on that day
    credentials = Credentials(
        ClusterAccess(source="test", server=SERVER, exec_plugin=exec_plugin),
        environ={},
        clock=lambda: now[0],
    )
    assert await credentials.authorization() == "Bearer tok-1-prod"
    assert await credentials.authorization() == "Bearer tok-1-prod"
    now[0] += 40 * 60 - 5  # 02:59:55Z: inside the safety margin
    assert await credentials.authorization() == "Bearer tok-2-prod"
    assert calls.read_text() == "xx"


async def test_a_rejected_plugin_token_is_fetched_anew(tmp_path: Path) -> None:
    exec_plugin, _ = plugin(tmp_path)
    credentials = Credentials(
        ClusterAccess(source="test", server=SERVER, exec_plugin=exec_plugin), environ={}
    )
    assert await credentials.authorization() == "Bearer tok-1-prod"
    assert await credentials.authorization() == "Bearer tok-1-prod", "no expiry: kept"
    credentials.rejected()
    assert await credentials.authorization() == "Bearer tok-2-prod"


async def test_a_failing_plugin_reports_its_exit_code_and_last_line(tmp_path: Path) -> None:
    exec_plugin, _ = plugin(tmp_path, FAIL="1")
    credentials = Credentials(
        ClusterAccess(source="kc", server=SERVER, exec_plugin=exec_plugin), environ={}
    )
    with pytest.raises(CredentialsError, match="exited with 3: no credentials for this profile"):
        await credentials.authorization()


async def test_a_missing_plugin_command_is_a_credentials_error() -> None:
    access = ClusterAccess(
        source="kc", server=SERVER, exec_plugin=ExecPlugin(command="/nonexistent/plugin")
    )
    with pytest.raises(CredentialsError, match="cannot run /nonexistent/plugin"):
        await Credentials(access, environ={}).authorization()


def test_an_exec_credential_with_a_certificate_only_is_refused_clearly() -> None:
    out = json.dumps({"status": {"clientCertificateData": "x", "clientKeyData": "y"}}).encode()
    with pytest.raises(CredentialsError, match="client certificates from a plugin"):
        parse_exec_credential(out, "kc")


def test_an_exec_credential_that_is_not_json_is_refused() -> None:
    with pytest.raises(CredentialsError, match="did not print an ExecCredential"):
        parse_exec_credential(b"Please log in", "kc")


def test_the_credentials_repr_holds_no_secret() -> None:
    access = ClusterAccess(source="kc", server=SERVER, token="s3cr3t")
    assert "s3cr3t" not in repr(Credentials(access))
