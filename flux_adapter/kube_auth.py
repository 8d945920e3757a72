"""The Authorization header for each request to the API server, kept fresh.

A pod's projected token rotates every hour and a cloud kubeconfig's exec
plugin hands out tokens that live minutes, so the header is derived per
request: a token file is re-read when it changes, a plugin's token is kept
until shortly before its stated expiry (or until the server answers 401).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flux_adapter.kubeconfig import ClusterAccess, ExecPlugin
from flux_adapter.token_file import TokenFile, TokenFileError

EXEC_TIMEOUT = 30.0
EXPIRY_MARGIN = 10.0
"""Seconds before a plugin token's expiry at which it is fetched anew."""


class CredentialsError(Exception):
    """No credential could be produced for a request; the request was not sent."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"credentials from {source}: {detail}")
        self.source = source
        self.detail = detail


class Credentials:
    def __init__(
        self,
        access: ClusterAccess,
        *,
        environ: Mapping[str, str] = os.environ,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._access = access
        self._token_file = TokenFile(access.token_file) if access.token_file else None
        self._environ = environ
        self._clock = clock
        self._exec_token: str | None = None
        self._exec_expires = 0.0
        self._exec_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"Credentials(source={self._access.source!r})"

    async def authorization(self) -> str | None:
        access = self._access
        if access.token:
            return "Bearer " + access.token
        if self._token_file is not None:
            try:
                return "Bearer " + self._token_file.current()
            except TokenFileError as err:
                raise CredentialsError(access.source, str(err)) from err
        if access.exec_plugin is not None:
            return "Bearer " + await self._from_plugin(access.exec_plugin)
        if access.username is not None:
            pair = f"{access.username}:{access.password or ''}".encode()
            return "Basic " + base64.b64encode(pair).decode("ascii")
        return None

    def rejected(self) -> None:
        """The server answered 401: a plugin's token is dropped so the next request asks anew."""
        self._exec_token = None

    async def _from_plugin(self, plugin: ExecPlugin) -> str:
        async with self._exec_lock:
            if self._exec_token is not None and self._clock() < self._exec_expires:
                return self._exec_token
            token, expires = await run_plugin(plugin, self._environ, self._access.source)
            self._exec_token = token
            self._exec_expires = expires - EXPIRY_MARGIN if expires is not None else float("inf")
            return token


async def run_plugin(
    plugin: ExecPlugin, environ: Mapping[str, str], source: str
) -> tuple[str, float | None]:
    """(token, expiry as a Unix time or None) from one run of the plugin."""
    info = {
        "apiVersion": plugin.api_version,
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }
    env = {**environ, **dict(plugin.env), "KUBERNETES_EXEC_INFO": json.dumps(info)}
    try:
        process = await asyncio.create_subprocess_exec(
            plugin.command,
            *plugin.args,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as err:
        raise CredentialsError(source, f"cannot run {plugin.command}: {err.strerror}") from err
    try:
        async with asyncio.timeout(EXEC_TIMEOUT):
            out, err_out = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise CredentialsError(
            source, f"{plugin.command} did not answer in {EXEC_TIMEOUT:g}s"
        ) from None
    if process.returncode != 0:
        last = err_out.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise CredentialsError(
            source, f"{plugin.command} exited with {process.returncode}: {last[0][:200]}"
        )
    return parse_exec_credential(out, source)


def parse_exec_credential(out: bytes, source: str) -> tuple[str, float | None]:
    try:
        decoded: Any = json.loads(out)
    except ValueError as err:
        raise CredentialsError(source, "the plugin did not print an ExecCredential") from err
    status = decoded.get("status") if isinstance(decoded, Mapping) else None
    if not isinstance(status, Mapping):
        raise CredentialsError(source, "the plugin's ExecCredential has no status")
    token = status.get("token")
    if not isinstance(token, str) or not token:
        detail = (
            "client certificates from a plugin are not supported; use a token"
            if "clientCertificateData" in status
            else "the plugin's ExecCredential carries no token"
        )
        raise CredentialsError(source, detail)
    expiry = status.get("expirationTimestamp")
    if expiry is None:
        return token, None
    try:
        return token, datetime.fromisoformat(str(expiry)).timestamp()
    except ValueError as err:
        raise CredentialsError(source, f"bad expirationTimestamp {expiry!r}") from err
