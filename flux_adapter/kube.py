"""A kubernetes-asyncio client configured the way the adapter runs: in a pod or beside a kubeconfig.

kubernetes-asyncio sends each request with an empty `aiohttp.ClientTimeout`
unless the caller passes `_request_timeout`, so one forgotten argument (for
instance inside the library's own leader election) leaves a request that a
half-open socket can hang forever. `TimedApiClient` fills in a default for
every request that does not bring its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.config import (
    ConfigException,
    list_kube_config_contexts,
    load_incluster_config,
    load_kube_config,
)

DEFAULT_REQUEST_TIMEOUT = 30.0
"""Seconds for one ordinary request, connection and whole body included."""

IN_CLUSTER = "in-cluster"


class KubeConfigError(RuntimeError):
    """No usable Kubernetes credentials: says where it looked and what was wrong."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"cannot configure the Kubernetes client from {source}: {problem}")
        self.source = source
        self.problem = problem


class TimedApiClient(ApiClient):
    def __init__(self, configuration: Configuration, request_timeout: float) -> None:
        super().__init__(configuration=configuration)
        self.request_timeout = request_timeout

    def request(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("_request_timeout") is None:
            kwargs["_request_timeout"] = aiohttp.ClientTimeout(total=self.request_timeout)
        return super().request(*args, **kwargs)


def config_source(kubeconfig: str | None, environ: Mapping[str, str]) -> str:
    """An explicit kubeconfig path, else the pod's service account, else KUBECONFIG.

    A path given by the operator always wins; inside a pod the service account
    is the identity RBAC was written for, so it beats a stray KUBECONFIG.
    """
    if kubeconfig:
        return kubeconfig
    if environ.get("KUBERNETES_SERVICE_HOST"):
        return IN_CLUSTER
    return environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")


async def api_client(
    kubeconfig: str | None = None,
    *,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    environ: Mapping[str, str] = os.environ,
) -> TimedApiClient:
    """A client for the cluster; the caller closes it (`async with` or `await client.close()`)."""
    source = config_source(kubeconfig, environ)
    configuration = Configuration()
    try:
        if source == IN_CLUSTER:
            load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            await load_kube_config(
                config_file=source, client_configuration=configuration, persist_config=False
            )
    except (ConfigException, OSError, ValueError) as err:
        raise KubeConfigError(source, str(err)) from err
    return TimedApiClient(configuration, request_timeout)


SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def default_namespace(
    kubeconfig: str | None = None,
    *,
    environ: Mapping[str, str] = os.environ,
    service_account_file: Path = SERVICE_ACCOUNT_NAMESPACE,
) -> str:
    """Where the lease lives when POD_NAMESPACE is unset: the pod's, else the context's.

    Mirrors what `kubectl` would use, so a local run and a pod agree on one
    lease per cluster namespace.
    """
    source = config_source(kubeconfig, environ)
    if source == IN_CLUSTER:
        try:
            return service_account_file.read_text().strip() or "default"
        except OSError as err:
            raise KubeConfigError(source, f"cannot read the pod's namespace: {err}") from err
    try:
        _, active = list_kube_config_contexts(config_file=source)
    except (ConfigException, OSError) as err:
        raise KubeConfigError(source, str(err)) from err
    context = (active or {}).get("context") or {}
    namespace = context.get("namespace")
    return namespace if isinstance(namespace, str) and namespace else "default"
