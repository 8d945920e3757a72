"""The newcomer's demo: a real kube-apiserver, the real Flux controllers, the adapter, live.

Dev tooling at the repository root, like ``localcluster/``: it is not shipped
in the wheel, because it needs etcd, a locally built kube-apiserver,
locally built Flux controllers and the test suite's flow server stand-in,
none of which belong in a cluster.
Run it with ``scripts/demo``.
"""
