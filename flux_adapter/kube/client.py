"""The API server through kubernetes-asyncio: its configuration loaders, credentials and transport.

The library reads the kubeconfig or the service account (exec plugins,
client certificates, OIDC, `proxy-url`, `HTTPS_PROXY`, `tls-server-name`, the
kubelet's token rotation) and carries each request on its `ApiClient`. This
module adds what the library leaves to its caller, each a measured pitfall
(`docs/design.md`, "The Kubernetes client"):

- a timeout on every call (the library sets none unless `_request_timeout`
  is passed, and a half-open socket then hangs for ever);
- bodies stay raw (`_preload_content=False`, never the generated models), so
  an HTTP error comes back as a status to check, not an exception: callers
  read `response.status`, and `fetch` returns it;
- an exec plugin's token is fetched again (by the library's own exec
  provider) shortly before its `expirationTimestamp` and after a 401; the
  library's refresh only runs on a fixed 60 s cycle;
- the choice and vetting of the kubeconfig (`source.py`), and the loading
  (`connect.py`).
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import aiohttp
import structlog

from flux_adapter import __version__
from flux_adapter.kube.lazy_import import install
from flux_adapter.kube.source import Source
from flux_adapter.observe.redact import remember_secret

install()

from kubernetes_asyncio.client import ApiClient, Configuration  # noqa: E402
from kubernetes_asyncio.config.config_exception import ConfigException  # noqa: E402
from kubernetes_asyncio.config.kube_config import KubeConfigLoader  # noqa: E402

log = structlog.get_logger(__name__)

DEFAULT_REQUEST_TIMEOUT = 30.0
"""Seconds for one ordinary request, connection and whole body included."""

REFRESH_AHEAD_LIMIT = 60.0
"""At most this many seconds before expiry an exec credential is fetched again."""


class CredentialsError(Exception):
    """The credential plugin failed to hand out a token; a later run may succeed."""


TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    aiohttp.ClientError,
    TimeoutError,
    OSError,
    CredentialsError,
)
"""What a conversation with the API server can fail with that a later attempt may not."""


def remember_credentials(configuration: Configuration) -> None:
    """Have the logs mask the bearer token and password `configuration` holds, in any form."""
    token = configuration.api_key.get("BearerToken")
    if isinstance(token, str):
        # The library keeps the scheme in the value for some sources.
        scheme, _, rest = token.partition(" ")
        remember_secret(rest if scheme.lower() == "bearer" and rest else token)
    password = getattr(configuration, "password", None)
    if isinstance(password, str):
        remember_secret(password)


def refresh_at(fetched: float, expires: float) -> float:
    """When to fetch an exec credential again: a quarter of its life, at most a minute, early.

    Both arguments and the result are Unix times in seconds.
    """
    return expires - min(REFRESH_AHEAD_LIMIT, max(0.0, expires - fetched) / 4)


def _unix(moment: datetime.datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


class KubeApi:
    """One API server, one identity, one connection pool; the owner closes it."""

    def __init__(
        self,
        client: ApiClient,
        *,
        source: Source,
        namespace: str,
        loader: KubeConfigLoader | None = None,
        execs: bool = False,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        self.source = source
        self.namespace = namespace
        self.request_timeout = request_timeout
        self._client = client
        self._client.user_agent = f"flux-adapter/{__version__}"
        self._loader = loader
        self._refresh_lock = asyncio.Lock()
        self._stale = False
        self._fetched = time.time()
        self.execs = execs and loader is not None
        remember_credentials(client.configuration)
        if self.execs:
            client.configuration.refresh_api_key_hook = self._before_request

    def __repr__(self) -> str:
        return f"KubeApi(server={self.server!r}, source={self.source.name!r})"

    @property
    def server(self) -> str:
        return str(self._client.configuration.host)

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
        await self._client.close()

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

        The status is not checked: that is the caller's (a watch reads a 410
        differently from a Lease write). `client_timeout` replaces the
        whole-request default (`request_timeout` seconds), for a watch whose
        body lasts minutes. Raises `TRANSIENT_ERRORS`.
        """
        timeout = client_timeout or aiohttp.ClientTimeout(total=self.request_timeout)
        try:
            response: aiohttp.ClientResponse = await self._client.call_api(
                path,
                method,
                query_params=list((params or {}).items()),
                header_params={"Accept": "application/json", "Content-Type": "application/json"},
                body=json,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=timeout,
            )
        except ConfigException as err:
            raise CredentialsError(str(err)) from err
        if response.status == 401:
            self._stale = True
        return response

    async def fetch(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, json: Any = None
    ) -> tuple[int, bytes]:
        """(status, body) of one short request, read whole under the request timeout."""
        response = await self.request(method, path, params=params, json=json)
        async with response:
            async with asyncio.timeout(self.request_timeout):
                return response.status, await response.read()

    def _due(self) -> bool:
        if self._stale:
            return True
        expiry = getattr(self._loader, "exec_plugin_expiry", None)
        if not isinstance(expiry, datetime.datetime):
            return False
        return time.time() >= refresh_at(self._fetched, _unix(expiry))

    async def _before_request(self, configuration: Configuration) -> None:
        if self._due():
            await self.refresh_credentials()

    async def refresh_credentials(self) -> None:
        """Run the exec plugin again through the library's provider, if still due.

        Raises `CredentialsError` when the plugin fails.
        """
        loader = self._loader
        if loader is None:
            return
        async with self._refresh_lock:
            if not self._due():
                return
            # The library re-runs the plugin only once it thinks the token expired.
            loader.__dict__.pop("exec_plugin_expiry", None)
            try:
                # The library runs the plugin without a deadline.
                async with asyncio.timeout(self.request_timeout):
                    await loader.load_from_exec_plugin()
            except TimeoutError as err:
                raise CredentialsError(
                    f"exec credential plugin gave no answer within {self.request_timeout}s"
                ) from err
            except (ConfigException, OSError, ValueError) as err:
                raise CredentialsError(f"exec credential plugin failed: {err}") from err
            self._client.configuration.api_key["BearerToken"] = loader.token
            remember_credentials(self._client.configuration)
            self._fetched = time.time()
            self._stale = False
            expiry = getattr(loader, "exec_plugin_expiry", None)
            log.debug(
                "kube_credentials_refreshed",
                expires=expiry.isoformat() if isinstance(expiry, datetime.datetime) else None,
            )

    async def keep_credentials_fresh(self) -> None:
        """Until cancelled, fetch an expiring exec credential before it expires, requests or not."""
        while True:
            expiry = getattr(self._loader, "exec_plugin_expiry", None)
            if not self.execs or not isinstance(expiry, datetime.datetime):
                await asyncio.sleep(REFRESH_AHEAD_LIMIT)
                continue
            await asyncio.sleep(max(0.0, refresh_at(self._fetched, _unix(expiry)) - time.time()))
            try:
                await self.refresh_credentials()
            except CredentialsError as err:
                log.warning("kube_credentials_refresh_failed", error=str(err))
                await asyncio.sleep(1.0)
