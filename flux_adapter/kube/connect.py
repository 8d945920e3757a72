"""Connecting: the credentials chosen and vetted, loaded by kubernetes-asyncio, into a `KubeApi`.

The choice and the vetting are `source.py`'s; this module hands the result
to the library's loaders (`InClusterConfigLoader`, `KubeConfigLoader`) and
works around two of their habits, each said where it is done: the trailing
newline of a `tokenFile`, and inline key material kept on disk for the life
of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from flux_adapter.kube.client import DEFAULT_REQUEST_TIMEOUT, KubeApi
from flux_adapter.kube.lazy_import import install
from flux_adapter.kube.source import (
    SERVICE_ACCOUNT_DIR,
    KubeConfigError,
    Source,
    choose_source,
    context_namespace,
    in_cluster_available,
    prefer_token_file,
    uses_exec,
    vetted_documents,
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
    documents, context = vetted_documents(source)
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
