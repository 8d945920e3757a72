"""Where the cluster is and who we are to it: a kubeconfig or the pod's service account.

This reads the same files `kubectl` reads and resolves them the way client-go
does (the first file of a KUBECONFIG list wins each name and the current
context; relative paths are relative to the file that names them), so a
local run and `kubectl` always talk to the same cluster as the same user.
Nothing here opens a connection; `kube.py` does that.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

IN_CLUSTER = "in-cluster"
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class KubeConfigError(RuntimeError):
    """No usable Kubernetes credentials: says where it looked and what was wrong."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"cannot configure the Kubernetes client from {source}: {problem}")
        self.source = source
        self.problem = problem


@dataclass(frozen=True)
class ExecPlugin:
    """A credential plugin (`users[].user.exec`), as cloud kubeconfigs use."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = "client.authentication.k8s.io/v1"


@dataclass(frozen=True)
class ClusterAccess:
    """Everything needed to reach one API server; secrets are kept out of the repr."""

    source: str
    server: str
    namespace: str = "default"
    ca_data: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    client_cert_data: str | None = field(default=None, repr=False)
    client_cert_file: Path | None = None
    client_key_data: str | None = field(default=None, repr=False)
    client_key_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    exec_plugin: ExecPlugin | None = None


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


def load_access(
    kubeconfig: str | None = None,
    *,
    environ: Mapping[str, str] = os.environ,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> ClusterAccess:
    source = config_source(kubeconfig, environ)
    if source == IN_CLUSTER:
        return in_cluster_access(environ, service_account_dir)
    return kubeconfig_access(source, read_kubeconfigs(source))


def in_cluster_access(environ: Mapping[str, str], service_account_dir: Path) -> ClusterAccess:
    """The pod's service account; its token file is re-read as the kubelet rotates it."""
    host = environ.get("KUBERNETES_SERVICE_HOST", "")
    port = environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise KubeConfigError(
            IN_CLUSTER, "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set"
        )
    if ":" in host:
        host = f"[{host}]"
    token_file = service_account_dir / "token"
    ca_file = service_account_dir / "ca.crt"
    for needed in (token_file, ca_file):
        if not needed.is_file():
            raise KubeConfigError(IN_CLUSTER, f"{needed} is missing (is a token mounted?)")
    try:
        namespace = (service_account_dir / "namespace").read_text().strip() or "default"
    except OSError as err:
        raise KubeConfigError(IN_CLUSTER, f"cannot read the pod's namespace: {err}") from err
    return ClusterAccess(
        source=IN_CLUSTER,
        server=f"https://{host}:{port}",
        namespace=namespace,
        ca_file=ca_file,
        token_file=token_file,
    )


Document = tuple[Path, Mapping[str, Any]]


def read_kubeconfigs(source: str) -> list[Document]:
    """Each file of a `:`-separated list, parsed; missing list members are skipped like kubectl."""
    paths = [Path(p) for p in source.split(os.pathsep) if p]
    documents: list[Document] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if len(paths) == 1:
                raise KubeConfigError(source, f"{path} does not exist") from None
            continue
        except OSError as err:
            raise KubeConfigError(source, f"cannot read {path}: {err.strerror}") from err
        try:
            loaded = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            raise KubeConfigError(source, f"{path} is not YAML: {err}") from err
        if not isinstance(loaded, Mapping):
            raise KubeConfigError(source, f"{path} is not a kubeconfig mapping")
        documents.append((path, loaded))
    if not documents:
        raise KubeConfigError(source, "none of the files exist")
    return documents


def kubeconfig_access(source: str, documents: Sequence[Document]) -> ClusterAccess:
    context_name = next(
        (str(doc["current-context"]) for _, doc in documents if doc.get("current-context")),
        "",
    )
    if not context_name:
        raise KubeConfigError(source, "no current-context is set")
    _, context = _named(source, documents, "contexts", "context", context_name)
    cluster_name, user_name = context.get("cluster"), context.get("user")
    if not isinstance(cluster_name, str) or not cluster_name:
        raise KubeConfigError(source, f"context {context_name!r} names no cluster")
    cluster_base, cluster = _named(source, documents, "clusters", "cluster", cluster_name)
    if isinstance(user_name, str) and user_name:
        user_base, user = _named(source, documents, "users", "user", user_name)
    else:
        user_base, user = cluster_base, {}
    server = cluster.get("server")
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        raise KubeConfigError(source, f"cluster {cluster_name!r} has no http(s) server URL")
    namespace = context.get("namespace")
    if "auth-provider" in user:
        raise KubeConfigError(
            source,
            f"user {user_name!r} uses an auth-provider, which client-go has removed; "
            "use an exec credential plugin or a token",
        )
    reader = _Fields(source, user_base)
    cluster_reader = _Fields(source, cluster_base)
    return ClusterAccess(
        source=source,
        server=server.rstrip("/"),
        namespace=namespace if isinstance(namespace, str) and namespace else "default",
        ca_data=cluster_reader.pem(cluster, "certificate-authority-data"),
        ca_file=cluster_reader.path(cluster, "certificate-authority"),
        insecure=cluster.get("insecure-skip-tls-verify") is True,
        tls_server_name=cluster_reader.text(cluster, "tls-server-name"),
        token=reader.text(user, "token"),
        token_file=reader.path(user, "tokenFile"),
        client_cert_data=reader.pem(user, "client-certificate-data"),
        client_cert_file=reader.path(user, "client-certificate"),
        client_key_data=reader.pem(user, "client-key-data"),
        client_key_file=reader.path(user, "client-key"),
        username=reader.text(user, "username"),
        password=reader.text(user, "password"),
        exec_plugin=reader.exec_plugin(user),
    )


def _named(
    source: str, documents: Sequence[Document], section: str, inner: str, name: str
) -> tuple[Path, Mapping[str, Any]]:
    """The first entry called `name` in any file, with that file's directory."""
    for path, doc in documents:
        entries = doc.get(section) or []
        if not isinstance(entries, list):
            raise KubeConfigError(source, f"{path}: {section} is not a list")
        for entry in entries:
            if isinstance(entry, Mapping) and entry.get("name") == name:
                body = entry.get(inner) or {}
                if not isinstance(body, Mapping):
                    raise KubeConfigError(source, f"{section[:-1]} {name!r} is not a mapping")
                return path.parent, body
    raise KubeConfigError(source, f"no {section[:-1]} named {name!r}")


@dataclass(frozen=True)
class _Fields:
    source: str
    base: Path

    def text(self, section: Mapping[str, Any], key: str) -> str | None:
        value = section.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise KubeConfigError(self.source, f"{key} is not a string")
        return value

    def path(self, section: Mapping[str, Any], key: str) -> Path | None:
        value = self.text(section, key)
        if value is None:
            return None
        return Path(value) if os.path.isabs(value) else self.base / value

    def pem(self, section: Mapping[str, Any], key: str) -> str | None:
        value = self.text(section, key)
        if value is None:
            return None
        try:
            return base64.b64decode(value, validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError) as err:
            raise KubeConfigError(self.source, f"{key} is not base64-encoded PEM") from err

    def exec_plugin(self, user: Mapping[str, Any]) -> ExecPlugin | None:
        spec = user.get("exec")
        if spec is None:
            return None
        if not isinstance(spec, Mapping):
            raise KubeConfigError(self.source, "exec is not a mapping")
        command = self.text(spec, "command")
        if command is None:
            raise KubeConfigError(self.source, "exec names no command")
        if os.sep in command and not os.path.isabs(command):
            command = str(self.base / command)
        args = spec.get("args") or []
        env = spec.get("env") or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise KubeConfigError(self.source, "exec args is not a list of strings")
        if not isinstance(env, list) or not all(
            isinstance(e, Mapping) and isinstance(e.get("name"), str) for e in env
        ):
            raise KubeConfigError(self.source, "exec env is not a list of name/value pairs")
        return ExecPlugin(
            command=command,
            args=tuple(args),
            env=tuple((str(e["name"]), str(e.get("value", ""))) for e in env),
            api_version=self.text(spec, "apiVersion") or ExecPlugin.api_version,
        )
