"""Which credentials to use, and the few places the library must be made to agree with kubectl.

kubernetes-asyncio reads kubeconfigs and service accounts; this module only
decides which of them applies and vets a merged kubeconfig before the
library sees it. Each rule is kubectl's (or controller-runtime's), and each
place where the library would quietly differ is either corrected here or
refused with a message:

- precedence, as controller-runtime: `--kubeconfig`, then `KUBECONFIG`, then
  the pod's service account, then `~/.kube/config`;
- a `KUBECONFIG` list: the first file that sets `current-context` wins (the
  library takes the last);
- a user with both `tokenFile` and `token`: the file wins (the library takes
  the token);
- impersonation (`as`, `as-groups`, `as-uid`, `as-user-extra`): refused, the
  library would silently ignore it and act as the user itself;
- `insecure-skip-tls-verify` together with a CA: refused, as kubectl does
  (the library would silently skip verification);
- an exec plugin with `provideClusterInfo`: refused, the library does not
  pass the cluster to the plugin as kubectl does.

Nothing here opens a connection or reads a credential.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

IN_CLUSTER = "in-cluster"
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
HOME_KUBECONFIG = "~/.kube/config"
IMPERSONATION = ("as", "as-groups", "as-uid", "as-user-extra")


class KubeConfigError(RuntimeError):
    """No usable Kubernetes credentials: says where it looked and what was wrong."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"cannot configure the Kubernetes client from {source}: {problem}")
        self.source = source
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Source:
    """Where credentials come from: the service account (`paths` empty) or kubeconfig files."""

    name: str
    paths: tuple[Path, ...] = ()

    @property
    def in_cluster(self) -> bool:
        return not self.paths


def in_cluster_available(environ: Mapping[str, str], service_account_dir: Path) -> bool:
    """Whether this process runs in a pod with a service account token mounted."""
    return bool(
        environ.get("KUBERNETES_SERVICE_HOST")
        and environ.get("KUBERNETES_SERVICE_PORT")
        and (service_account_dir / "token").is_file()
    )


def choose_source(
    flag: str | None,
    environ: Mapping[str, str],
    *,
    in_cluster: bool,
    home: Path | None = None,
) -> Source:
    """controller-runtime's order: `--kubeconfig`, `KUBECONFIG`, in-cluster, `~/.kube/config`.

    Raises `KubeConfigError` when none applies.
    """
    if flag:
        return Source(f"--kubeconfig {flag}", (Path(flag).expanduser(),))
    listed = environ.get("KUBECONFIG", "")
    paths = tuple(Path(p).expanduser() for p in listed.split(os.pathsep) if p)
    if paths:
        return Source(f"KUBECONFIG={listed}", paths)
    if in_cluster:
        return Source(IN_CLUSTER)
    fallback = (home or Path.home()) / ".kube" / "config"
    if fallback.is_file():
        return Source(HOME_KUBECONFIG, (fallback,))
    raise KubeConfigError(
        "the environment",
        "no --kubeconfig, no KUBECONFIG, not in a pod, and no ~/.kube/config",
    )


def read_documents(source: Source) -> list[tuple[Path, Mapping[str, Any]]]:
    """Each existing kubeconfig file of `source`, parsed; missing files are skipped as kubectl does.

    Raises `KubeConfigError` when a file cannot be read or parsed, or none exists.
    """
    documents = []
    for path in source.paths:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except OSError as err:
            raise KubeConfigError(source.name, f"cannot read {path}: {err.strerror}") from err
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise KubeConfigError(source.name, f"{path} is not YAML: {err}") from err
        if not isinstance(loaded, Mapping):
            raise KubeConfigError(source.name, f"{path} is not a kubeconfig mapping")
        documents.append((path, loaded))
    if not documents:
        missing = "the file does not exist" if len(source.paths) == 1 else "none of the files exist"
        raise KubeConfigError(source.name, missing)
    return documents


def first_current_context(documents: Sequence[tuple[Path, Mapping[str, Any]]]) -> str | None:
    """kubectl's current context for a list of files: the first file that sets one wins."""
    for _, document in documents:
        context = document.get("current-context")
        if isinstance(context, str) and context:
            return context
    return None


def _named(documents: Sequence[tuple[Path, Mapping[str, Any]]], section: str, name: str) -> Any:
    """The first entry called `name` in `section` across the files (kubectl's merge rule)."""
    for _, document in documents:
        for entry in document.get(section) or ():
            if isinstance(entry, Mapping) and entry.get("name") == name:
                return entry.get(section[:-1]) or {}
    return None


def vet(source: Source, documents: Sequence[tuple[Path, Mapping[str, Any]]], context: str) -> None:
    """Refuse what the library would silently handle unlike kubectl.

    Raises `KubeConfigError` naming the setting.
    """
    ctx = _named(documents, "contexts", context)
    if not isinstance(ctx, Mapping):
        raise KubeConfigError(source.name, f"no context named {context!r}")
    cluster = _named(documents, "clusters", str(ctx.get("cluster", "")))
    if not isinstance(cluster, Mapping):
        raise KubeConfigError(source.name, f"context {context!r} names no cluster")
    if cluster.get("insecure-skip-tls-verify") and (
        cluster.get("certificate-authority") or cluster.get("certificate-authority-data")
    ):
        raise KubeConfigError(
            source.name,
            f"cluster {ctx.get('cluster')!r} sets insecure-skip-tls-verify together with a "
            "certificate authority; kubectl refuses this too: remove one of them",
        )
    user = _named(documents, "users", str(ctx.get("user", ""))) if ctx.get("user") else {}
    if not isinstance(user, Mapping):
        return
    used = [key for key in IMPERSONATION if user.get(key)]
    if used:
        raise KubeConfigError(
            source.name,
            f"user {ctx.get('user')!r} impersonates ({', '.join(used)}), which this adapter "
            "does not support: give it a user whose own rights are the adapter's",
        )
    plugin = user.get("exec")
    if isinstance(plugin, Mapping) and plugin.get("provideClusterInfo"):
        raise KubeConfigError(
            source.name,
            f"user {ctx.get('user')!r} runs an exec plugin with provideClusterInfo, which the "
            "Kubernetes client does not pass on (KUBERNETES_EXEC_INFO has no cluster): "
            "configure the plugin with arguments instead",
        )


def prefer_token_file(user: Mapping[str, Any]) -> dict[str, Any]:
    """The user without its `token` when it also names a `tokenFile` (client-go's rule)."""
    if user.get("tokenFile") and "token" in user:
        return {key: value for key, value in user.items() if key != "token"}
    return dict(user)


def uses_exec(documents: Sequence[tuple[Path, Mapping[str, Any]]], context: str) -> bool:
    """Whether the context's user gets its credential from an exec plugin."""
    ctx = _named(documents, "contexts", context)
    name = ctx.get("user") if isinstance(ctx, Mapping) else None
    user = _named(documents, "users", name) if isinstance(name, str) else None
    return isinstance(user, Mapping) and isinstance(user.get("exec"), Mapping)


def context_namespace(documents: Sequence[tuple[Path, Mapping[str, Any]]], context: str) -> str:
    """The namespace the context names, else `default` (kubectl's rule)."""
    ctx = _named(documents, "contexts", context)
    namespace = ctx.get("namespace") if isinstance(ctx, Mapping) else None
    return namespace if isinstance(namespace, str) and namespace else "default"


def vet_source(
    flag: str | None,
    environ: Mapping[str, str],
    *,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
    home: Path | None = None,
) -> Source:
    """Choose the credentials' source and vet it, reading files only: what `--check-config` checks.

    Raises `KubeConfigError` for everything a run would refuse before loading.
    """
    source = choose_source(
        flag,
        environ,
        in_cluster=in_cluster_available(environ, service_account_dir),
        home=home,
    )
    if not source.in_cluster:
        vetted_documents(source)
    return source


def vetted_documents(source: Source) -> tuple[list[tuple[Path, Mapping[str, Any]]], str]:
    """The kubeconfig files of `source` and kubectl's current context, once vetted.

    Raises `KubeConfigError` for a file that cannot be read, no current
    context, or anything `vet` refuses.
    """
    documents = read_documents(source)
    context = first_current_context(documents)
    if context is None:
        raise KubeConfigError(source.name, "no current-context is set")
    vet(source, documents, context)
    return documents, context
