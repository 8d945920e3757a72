"""A small HTTP client for the API server: the adapter needs list, watch and Lease, nothing more.

A generated client library loads hundreds of model modules (about 65 MB of
resident memory) to offer thousands of calls this process never makes, and
sends requests with no timeout unless each caller remembers one. Here every
request has a deadline by default, bodies stay raw bytes for the caller to
decode as it needs, and the connection pool is one aiohttp session.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from flux_adapter import __version__
from flux_adapter.kube_auth import Credentials, CredentialsError
from flux_adapter.kubeconfig import (
    SERVICE_ACCOUNT_DIR,
    ClusterAccess,
    KubeConfigError,
    load_access,
)

DEFAULT_REQUEST_TIMEOUT = 30.0
"""Seconds for one ordinary request, connection and whole body included."""

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    aiohttp.ClientError,
    TimeoutError,
    OSError,
    CredentialsError,
)
"""What a conversation with the API server can fail with that a later attempt may not."""


class KubeApi:
    """One API server, one identity, one connection pool; the owner closes it."""

    def __init__(
        self,
        access: ClusterAccess,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.access = access
        self.request_timeout = request_timeout
        self._credentials = Credentials(access, environ=environ)
        self._ssl = tls_context(access) if access.server.startswith("https://") else None
        self._session = aiohttp.ClientSession(
            headers={"Accept": "application/json", "User-Agent": f"flux-adapter/{__version__}"},
            connector=aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else True),
            timeout=aiohttp.ClientTimeout(total=request_timeout),
            raise_for_status=False,
        )

    def __repr__(self) -> str:
        return f"KubeApi(server={self.access.server!r}, source={self.access.source!r})"

    async def __aenter__(self) -> KubeApi:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        client_timeout: aiohttp.ClientTimeout | None = None,
    ) -> aiohttp.ClientResponse:
        """Send one request and return the response with its body unread; the caller releases it.

        `client_timeout` replaces the whole-request default, for a watch whose body
        lasts minutes.
        """
        headers = {}
        authorization = await self._credentials.authorization()
        if authorization is not None:
            headers["Authorization"] = authorization
        kwargs: dict[str, Any] = {}
        if self.access.tls_server_name:
            kwargs["server_hostname"] = self.access.tls_server_name
        response = await self._session.request(
            method,
            self.access.server + path,
            params=params,
            json=json,
            headers=headers,
            timeout=client_timeout or aiohttp.ClientTimeout(total=self.request_timeout),
            **kwargs,
        )
        if response.status == 401:
            self._credentials.rejected()
        return response

    async def fetch(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, json: Any = None
    ) -> tuple[int, bytes]:
        """(status, body) of one short request, read whole under the request timeout."""
        async with await self.request(method, path, params=params, json=json) as response:
            return response.status, await response.read()


def tls_context(access: ClusterAccess) -> ssl.SSLContext:
    """Trust the cluster's CA (else the system's); present a client certificate if one is set."""
    try:
        if access.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context = ssl.create_default_context(
                cafile=str(access.ca_file) if access.ca_file else None,
                cadata=access.ca_data,
            )
        cert, key = access.client_cert_data, access.client_key_data
        if access.client_cert_file or cert:
            _load_client_cert(context, access, cert, key)
    except (OSError, ssl.SSLError, ValueError) as err:
        raise KubeConfigError(access.source, f"TLS set-up failed: {err}") from err
    return context


def _load_client_cert(
    context: ssl.SSLContext, access: ClusterAccess, cert: str | None, key: str | None
) -> None:
    """ssl loads a key pair only from files, so inline data passes through a private temp dir."""
    with tempfile.TemporaryDirectory(prefix="flux-adapter-tls-") as tmp:
        cert_path = access.client_cert_file or _private(Path(tmp) / "cert.pem", cert)
        key_path = access.client_key_file or (_private(Path(tmp) / "key.pem", key) if key else None)
        context.load_cert_chain(str(cert_path), str(key_path) if key_path else None)


def _private(path: Path, data: str | None) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(data or "")
    return path


async def api_client(
    kubeconfig: str | None = None,
    *,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    environ: Mapping[str, str] = os.environ,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> KubeApi:
    """A client for the cluster; the caller closes it (`async with` or `await client.close()`)."""
    access = load_access(kubeconfig, environ=environ, service_account_dir=service_account_dir)
    return KubeApi(access, request_timeout=request_timeout, environ=environ)
