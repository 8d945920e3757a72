"""Dev tooling: a real kube-apiserver + etcd on loopback for e2e tests and demos.

Not part of the flux-adapter distribution. Needs the `kubernetes` package (the
`test` and `demo` extras) for `KubeClient`; the rest is standard library.
"""

from localcluster.apiserver import LocalCluster, ensure_apiserver_binary
from localcluster.client import (
    HELMCHART,
    HELMRELEASE,
    HELMREPOSITORY,
    ApiConnectionError,
    ApiError,
    KubeClient,
    ResourceType,
    helmchart,
    helmrelease,
)
from localcluster.errors import ClusterError, PeerBuildError
from localcluster.proxy import TcpProxy

__all__ = [
    "HELMCHART",
    "HELMRELEASE",
    "HELMREPOSITORY",
    "ApiConnectionError",
    "ApiError",
    "ClusterError",
    "KubeClient",
    "LocalCluster",
    "PeerBuildError",
    "ResourceType",
    "TcpProxy",
    "ensure_apiserver_binary",
    "helmchart",
    "helmrelease",
]
