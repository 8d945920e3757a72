"""The tests' and the demo's Kubernetes client: a thin layer over the official `kubernetes` package.

The official synchronous client (kubernetes-asyncio's twin, pinned in
pyproject's `test` and `demo` extras) builds the TLS context, adds the bearer
token, pools connections and carries each request through
`ApiClient.call_api`; this module only names paths, keeps bodies raw JSON
(`_preload_content=False`, never the generated models), passes a timeout on
every call, and turns the library's failures into `ApiError` (an HTTP error
status, with its body) or `ApiConnectionError` (no answer, or none in time).
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from http.client import HTTPException
from typing import TYPE_CHECKING, Any, Final

import urllib3
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException

from localcluster.crds import flux_crds, served_version

if TYPE_CHECKING:
    from localcluster.apiserver import LocalCluster

JsonObj = dict[str, Any]

_TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, HTTPException, OSError)
"""What urllib3 raises when the server cannot be reached, stalls, or cuts a body short."""


@dataclass(frozen=True)
class ResourceType:
    """Where a kind lives in the API."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{urllib.parse.quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{urllib.parse.quote(name, safe='')}"
        return base


HELMRELEASE: Final = ResourceType("HelmRelease", "helm.toolkit.fluxcd.io", "v2", "helmreleases")
HELMCHART: Final = ResourceType("HelmChart", "source.toolkit.fluxcd.io", "v1", "helmcharts")
HELMREPOSITORY: Final = ResourceType(
    "HelmRepository", "source.toolkit.fluxcd.io", "v1", "helmrepositories"
)

KINDS: Final[dict[str, ResourceType]] = {
    rt.kind: rt
    for rt in (
        HELMRELEASE,
        HELMCHART,
        HELMREPOSITORY,
        ResourceType("Namespace", "", "v1", "namespaces", namespaced=False),
        ResourceType("ConfigMap", "", "v1", "configmaps"),
        ResourceType("Secret", "", "v1", "secrets"),
        ResourceType("ServiceAccount", "", "v1", "serviceaccounts"),
        ResourceType("Role", "rbac.authorization.k8s.io", "v1", "roles"),
        ResourceType("RoleBinding", "rbac.authorization.k8s.io", "v1", "rolebindings"),
        ResourceType("ClusterRole", "rbac.authorization.k8s.io", "v1", "clusterroles", False),
        ResourceType(
            "ClusterRoleBinding",
            "rbac.authorization.k8s.io",
            "v1",
            "clusterrolebindings",
            False,
        ),
        ResourceType(
            "CustomResourceDefinition",
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            False,
        ),
    )
}


class ApiError(Exception):
    """The apiserver answered with an HTTP error status; `body` is its text."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.body = body
        self.reason = ""
        self.message = body[:500]
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            self.reason = str(parsed.get("reason", ""))
            self.message = str(parsed.get("message", self.message))
        super().__init__(f"{method} {path}: HTTP {status} {self.reason}: {self.message}")


class ApiConnectionError(Exception):
    """The apiserver could not be reached, or did not answer in time."""


def _resource(kind: str | ResourceType) -> ResourceType:
    if isinstance(kind, ResourceType):
        return kind
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; pass a ResourceType") from None


class KubeClient:
    """One apiserver and one bearer token (or none) over the library's `ApiClient`.

    `timeout` is in seconds: the limit for connecting (TLS handshake
    included) and for each read of an answer; `request` and `stream` take
    their own. Every method raises `ApiError` or `ApiConnectionError`.
    """

    def __init__(
        self,
        url: str,
        token: str | None,
        ca_file: str | os.PathLike[str] | None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        configuration = Configuration(host=self.url)
        if token:
            configuration.api_key = {"BearerToken": token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
        configuration.ssl_ca_cert = None if ca_file is None else os.fspath(ca_file)
        # The library takes HTTP(S)_PROXY from the environment; the local
        # cluster is on loopback, which client-go never sends through a proxy.
        configuration.proxy = None
        # urllib3 would otherwise retry each failure three times, hiding a
        # refused connection or a stall behind three more timeouts.
        configuration.retries = False
        self._api = ApiClient(configuration)
        self._api.user_agent = "localcluster"

    @classmethod
    def for_cluster(
        cls, cluster: LocalCluster, user: str = "admin", *, timeout: float = 10.0
    ) -> KubeClient:
        return cls(cluster.url, cluster.token_for(user), cluster.ca_file, timeout=timeout)

    # -- raw -------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> urllib3.BaseHTTPResponse:
        """Send one request; the answer's body is left unread for the caller.

        Raises `ApiError` for a status outside 2xx (the library raises those
        even with `_preload_content=False`), `ApiConnectionError` otherwise.
        """
        limit = self.timeout if timeout is None else timeout
        try:
            response: urllib3.BaseHTTPResponse = self._api.call_api(
                path,
                method,
                query_params=list((query or {}).items()),
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=(limit, limit),
            )
        except ApiException as exc:
            if not exc.status:  # a TLS failure: the library reports it as status 0
                raise ApiConnectionError(f"{method} {self.url}{path}: {exc.reason}") from exc
            raise ApiError(method, path, exc.status, _text(exc.body)) from None
        except AttributeError as exc:
            # The library decodes every ApiException's body, and a status-0
            # one (a TLS failure) has none.
            cause = exc.__context__
            if isinstance(cause, ApiException) and not cause.status:
                raise ApiConnectionError(f"{method} {self.url}{path}: {cause.reason}") from cause
            raise
        except _TRANSPORT_ERRORS as exc:
            raise ApiConnectionError(f"{method} {self.url}{path}: {exc!r}") from exc
        return response

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON answer (or None when it is empty).

        `timeout` (seconds) replaces the client's for this call.
        """
        response = self._call(
            method, path, body, query=query, content_type=content_type, timeout=timeout
        )
        try:
            raw = response.read()
        except _TRANSPORT_ERRORS as exc:
            raise ApiConnectionError(f"{method} {path}: {exc!r}") from exc
        finally:
            response.release_conn()
        if not raw:
            return None
        return json.loads(raw)

    def readyz(self) -> str:
        """The apiserver's `/readyz` answer as text (`ok` when ready)."""
        response = self._call("GET", "/readyz")
        try:
            return response.read().decode(errors="replace")
        except _TRANSPORT_ERRORS as exc:
            raise ApiConnectionError(f"GET /readyz: {exc!r}") from exc
        finally:
            response.release_conn()

    def stream(
        self,
        path: str,
        query: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> Generator[JsonObj, None, None]:
        """GET `path` and yield each newline-delimited JSON object.

        The request is sent at the first `next()`. `timeout` (seconds)
        bounds each read; a read timing out, or the connection cut between
        two events, raises `ApiConnectionError`, as does a stream that ends
        mid-line. The stream ends when the server ends it.
        """
        response = self._call("GET", path, query=query, timeout=timeout)
        pending = b""
        try:
            try:
                # Chunked (as every watch is): one piece per chunk as it arrives.
                for piece in response.stream(None):
                    pending += piece
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        if line.strip():
                            yield json.loads(line)
            except _TRANSPORT_ERRORS as exc:  # incl. read timeouts
                raise ApiConnectionError(f"GET {path}: {exc!r}") from exc
            if pending.strip():
                raise ApiConnectionError(f"GET {path}: stream cut mid-line")
        finally:
            response.close()
            response.release_conn()

    def watch(
        self,
        kind: str | ResourceType,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        timeout_seconds: int = 30,
        read_timeout: float | None = None,
    ) -> Generator[JsonObj, None, None]:
        """Watch `kind`: yields raw watch events (`type`, `object`).

        The server ends the watch after `timeout_seconds`; each read waits at
        most `read_timeout` seconds (default: `timeout_seconds` + 5).
        """
        query = {"watch": "1", "timeoutSeconds": str(timeout_seconds)}
        if resource_version is not None:
            query["resourceVersion"] = resource_version
        return self.stream(
            _resource(kind).path(namespace),
            query,
            timeout=read_timeout if read_timeout is not None else timeout_seconds + 5,
        )

    # -- typed helpers ---------------------------------------------------

    def create(self, obj: JsonObj) -> JsonObj:
        rt = _resource(obj["kind"])
        ns = obj.get("metadata", {}).get("namespace") if rt.namespaced else None
        if rt.namespaced and not ns:
            raise ValueError("namespaced object needs metadata.namespace")
        result: JsonObj = self.request("POST", rt.path(ns), obj)
        return result

    def get(self, kind: str | ResourceType, namespace: str | None, name: str) -> JsonObj:
        result: JsonObj = self.request("GET", _resource(kind).path(namespace, name))
        return result

    def list(
        self,
        kind: str | ResourceType,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> JsonObj:
        """Return the List object (``items``, ``metadata.resourceVersion``)."""
        query = {"labelSelector": label_selector} if label_selector else None
        result: JsonObj = self.request("GET", _resource(kind).path(namespace), query=query)
        return result

    def replace(self, obj: JsonObj) -> JsonObj:
        rt = _resource(obj["kind"])
        meta = obj["metadata"]
        ns = meta.get("namespace") if rt.namespaced else None
        result: JsonObj = self.request("PUT", rt.path(ns, meta["name"]), obj)
        return result

    def patch(
        self,
        kind: str | ResourceType,
        namespace: str | None,
        name: str,
        patch: JsonObj,
        *,
        subresource: str | None = None,
    ) -> JsonObj:
        """JSON merge patch (RFC 7386) of an object or a subresource."""
        path = _resource(kind).path(namespace, name)
        if subresource:
            path += f"/{subresource}"
        result: JsonObj = self.request(
            "PATCH", path, patch, content_type="application/merge-patch+json"
        )
        return result

    def patch_status(
        self, kind: str | ResourceType, namespace: str, name: str, status: JsonObj
    ) -> JsonObj:
        """Write ``status`` through the ``/status`` subresource.

        Like helm-controller, this sends a merge patch to ``.../status``:
        only ``.status`` changes, lists in it (conditions) are replaced
        whole, ``metadata.generation`` stays put.
        """
        return self.patch(kind, namespace, name, {"status": status}, subresource="status")

    def replace_status(self, obj: JsonObj) -> JsonObj:
        """PUT the whole object to ``/status`` (needs metadata.resourceVersion)."""
        rt = _resource(obj["kind"])
        meta = obj["metadata"]
        ns = meta.get("namespace") if rt.namespaced else None
        result: JsonObj = self.request("PUT", rt.path(ns, meta["name"]) + "/status", obj)
        return result

    def delete(self, kind: str | ResourceType, namespace: str | None, name: str) -> JsonObj | None:
        result: JsonObj | None = self.request("DELETE", _resource(kind).path(namespace, name))
        return result

    def create_namespace(self, name: str, *, exist_ok: bool = True) -> JsonObj:
        """Create a namespace with its ``default`` ServiceAccount.

        No controller-manager runs beside the local API server, so nothing
        else creates that account, and the ServiceAccount admission plugin
        refuses a Pod in a namespace without it.
        """
        obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        try:
            created = self.create(obj)
        except ApiError as exc:
            if exc.status == 409 and exist_ok:
                created = self.get("Namespace", None, name)
            else:
                raise
        account = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": name},
        }
        try:
            self.create(account)
        except ApiError as exc:
            if exc.status != 409:
                raise
        return created

    def apply_crds(self, timeout: float = 60.0, crds: Sequence[JsonObj] | None = None) -> None:
        """Create (or update) CRDs and wait until they are Established.

        ``crds`` defaults to the real Flux CRDs (``localcluster.crds.flux_crds``).
        """
        crds = flux_crds() if crds is None else crds
        for crd in crds:
            name = crd["metadata"]["name"]
            try:
                self.create(crd)
            except ApiError as exc:
                if exc.status != 409:
                    raise
                current = self.get("CustomResourceDefinition", None, name)
                updated = dict(crd)
                updated["metadata"] = {
                    **crd["metadata"],
                    "resourceVersion": current["metadata"]["resourceVersion"],
                }
                self.replace(updated)
        deadline = time.monotonic() + timeout
        for crd in crds:
            name = crd["metadata"]["name"]
            while not self._crd_ready(crd):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"CRD {name} not Established in {timeout}s")
                time.sleep(0.1)

    def _crd_ready(self, crd: JsonObj) -> bool:
        name = crd["metadata"]["name"]
        current = self.get("CustomResourceDefinition", None, name)
        conditions = current.get("status", {}).get("conditions") or []
        established = any(
            c.get("type") == "Established" and c.get("status") == "True" for c in conditions
        )
        if not established:
            return False
        # Established can precede the new endpoint being routable; a list
        # answering 200 proves it is.
        spec = crd["spec"]
        rt = ResourceType(
            spec["names"]["kind"],
            spec["group"],
            served_version(crd),
            spec["names"]["plural"],
        )
        try:
            self.list(rt)
        except ApiError as exc:
            # 429 "storage is (re)initializing": the watch cache of a new
            # resource is still filling (kube-apiserver >= 1.31 says so).
            if exc.status in (404, 429):
                return False
            raise
        return True

    def grant(
        self,
        user: str,
        *,
        resources: Sequence[str],
        verbs: Sequence[str],
        api_groups: Sequence[str],
        namespace: str | None = None,
        name: str | None = None,
    ) -> None:
        """Give ``user`` ``verbs`` on ``resources`` via a (Cluster)Role+Binding.

        With ``namespace`` a Role/RoleBinding there, otherwise cluster-wide.
        """
        rbac = "rbac.authorization.k8s.io/v1"
        role_name = name or f"test-{user}-{'-'.join(resources)}".replace("/", "-")
        meta: JsonObj = {"name": role_name}
        if namespace is not None:
            meta["namespace"] = namespace
        role_kind = "Role" if namespace is not None else "ClusterRole"
        self.create(
            {
                "apiVersion": rbac,
                "kind": role_kind,
                "metadata": dict(meta),
                "rules": [
                    {
                        "apiGroups": [*api_groups],
                        "resources": [*resources],
                        "verbs": [*verbs],
                    }
                ],
            }
        )
        self.create(
            {
                "apiVersion": rbac,
                "kind": "RoleBinding" if namespace is not None else "ClusterRoleBinding",
                "metadata": dict(meta),
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": role_kind,
                    "name": role_name,
                },
                "subjects": [
                    {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "User",
                        "name": user,
                    }
                ],
            }
        )


def helmrelease(
    name: str,
    namespace: str,
    *,
    chart: str = "podinfo",
    version: str = "6.5.4",
    source: str = "podinfo",
    interval: str = "5m",
    labels: Mapping[str, str] | None = None,
) -> JsonObj:
    """A small, valid-looking HelmRelease v2 literal."""
    meta: JsonObj = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    return {
        "apiVersion": HELMRELEASE.api_version,
        "kind": HELMRELEASE.kind,
        "metadata": meta,
        "spec": {
            "interval": interval,
            "chart": {
                "spec": {
                    "chart": chart,
                    "version": version,
                    "sourceRef": {"kind": "HelmRepository", "name": source},
                }
            },
        },
    }


def helmchart(
    name: str,
    namespace: str,
    *,
    chart: str = "podinfo",
    version: str = "6.5.4",
    source: str = "podinfo",
) -> JsonObj:
    """A small HelmChart v1 literal, as helm-controller would create it."""
    return {
        "apiVersion": HELMCHART.api_version,
        "kind": HELMCHART.kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "chart": chart,
            "version": version,
            "interval": "5m",
            "sourceRef": {"kind": "HelmRepository", "name": source},
        },
    }


def _text(body: object) -> str:
    if isinstance(body, bytes):
        return body.decode(errors="replace")
    return "" if body is None else str(body)
