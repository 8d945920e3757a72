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
- the choice and vetting of the kubeconfig (`kube_source.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import structlog

from flux_adapter import __version__
from flux_adapter.kube.lazy_import import install
from flux_adapter.kube.source import (
    SERVICE_ACCOUNT_DIR,
    KubeConfigError,
    Source,
    choose_source,
    context_namespace,
    first_current_context,
    in_cluster_available,
    prefer_token_file,
    read_documents,
    uses_exec,
    vet,
)

install()

from kubernetes_asyncio.client import ApiClient, Configuration  # noqa: E402
from kubernetes_asyncio.config import kube_config  # noqa: E402
from kubernetes_asyncio.config.config_exception import ConfigException  # noqa: E402
from kubernetes_asyncio.config.incluster_config import InClusterConfigLoader  # noqa: E402
from kubernetes_asyncio.config.kube_config import (  # noqa: E402
    KubeConfigLoader,
    KubeConfigMerger,
)

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


async def _configured(
    source: Source, environ: Mapping[str, str], service_account_dir: Path, scratch: str
) -> tuple[Configuration, str, KubeConfigLoader | None, bool]:
    """The library's configuration for `source`; inline key material goes to `scratch`."""
    configuration = type.__call__(Configuration)
    if source.in_cluster:
        InClusterConfigLoader(
            token_filename=str(service_account_dir / "token"),
            cert_filename=str(service_account_dir / "ca.crt"),
            environ=dict(environ),
        ).load_and_set(configuration)
        namespace_file = service_account_dir / "namespace"
        namespace = namespace_file.read_text().strip() if namespace_file.is_file() else ""
        return configuration, namespace or "default", None, False
    documents = read_documents(source)
    context = first_current_context(documents)
    if context is None:
        raise KubeConfigError(source.name, "no current-context is set")
    vet(source, documents, context)
    merged = KubeConfigMerger(os.pathsep.join(str(path) for path, _ in documents)).config
    if merged is None:
        raise KubeConfigError(source.name, "none of the files could be merged")
    for entry in merged.value.get("users") or ():
        user = entry.value.get("user")
        if isinstance(user, Mapping):
            entry.value["user"] = prefer_token_file(user)
    loader = KubeConfigLoader(
        config_dict=merged,
        active_context=context,
        config_base_path=None,
        temp_file_path=scratch,
    )
    await loader.load_and_set(configuration)
    token = configuration.api_key.get("BearerToken")
    if isinstance(token, str):
        # The library keeps a tokenFile's trailing newline, which aiohttp refuses
        # in a header; client-go trims it.
        configuration.api_key["BearerToken"] = token.strip()
    return (
        configuration,
        context_namespace(documents, context),
        loader,
        uses_exec(documents, context),
    )


@contextlib.contextmanager
def _scratch_for_key_material() -> Iterator[str]:
    """A private folder for the library's copies of inline key material, gone on exit.

    The library remembers each copy by its content for the life of the
    process (`kube_config._temp_files`) and would hand a later client the
    name of a file already deleted; the folder's entries are forgotten too.
    """
    with tempfile.TemporaryDirectory(prefix="flux-adapter-kube-") as scratch:
        try:
            yield scratch
        finally:
            remembered = kube_config._temp_files
            for content, name in list(remembered.items()):
                if Path(name).parent == Path(scratch):
                    del remembered[content]


async def api_client(
    kubeconfig: str | None = None,
    *,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    environ: Mapping[str, str] = os.environ,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
    home: Path | None = None,
) -> KubeApi:
    """A client for the cluster; the caller closes it (`async with` or `await client.close()`).

    Raises `KubeConfigError` naming the source when no usable configuration is found.
    """
    source = choose_source(
        kubeconfig,
        environ,
        in_cluster=in_cluster_available(environ, service_account_dir),
        home=home,
    )
    # The library writes inline certificates and keys to files for OpenSSL;
    # they live in a private folder only until the TLS context has read them.
    with _scratch_for_key_material() as scratch:
        try:
            async with asyncio.timeout(request_timeout):
                configuration, namespace, loader, execs = await _configured(
                    source, environ, service_account_dir, scratch
                )
        except KubeConfigError:
            raise
        except TimeoutError as err:
            raise KubeConfigError(
                source.name, f"loading credentials took longer than {request_timeout}s"
            ) from err
        except (ConfigException, AssertionError, KeyError, TypeError, ValueError, OSError) as err:
            raise KubeConfigError(source.name, f"{type(err).__name__}: {err}") from err
        try:
            client = ApiClient(configuration)
        except (OSError, ValueError) as err:  # the TLS set-up reads the CA and key files
            raise KubeConfigError(source.name, f"TLS set-up failed: {err}") from err
    return KubeApi(
        client,
        source=source,
        namespace=namespace,
        loader=loader,
        execs=execs,
        request_timeout=request_timeout,
    )
