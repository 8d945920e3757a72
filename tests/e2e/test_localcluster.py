"""Smoke tests of the local cluster tooling (localcluster/) itself."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcluster import (
    HELMCHART,
    HELMRELEASE,
    ApiConnectionError,
    ApiError,
    KubeClient,
    LocalCluster,
    TcpProxy,
    helmchart,
    helmrelease,
)

pytestmark = pytest.mark.e2e


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); treat it as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_cluster_is_up(cluster: LocalCluster, admin: KubeClient) -> None:
    version = admin.request("GET", "/version")
    assert version["major"] == "1"
    # A current release, stamped: Helm reads this as .Capabilities.KubeVersion.
    assert int(version["minor"]) >= 34, version
    assert version["gitVersion"].startswith(f"v1.{version['minor']}."), version
    assert cluster.url.startswith("https://127.0.0.1:")
    assert cluster.start_seconds is not None
    for log in cluster.logs.values():
        assert log.exists()


def test_serving_cert_verifies_for_loopback_ip(cluster: LocalCluster) -> None:
    ctx = ssl.create_default_context(cafile=str(cluster.ca_file))
    assert ctx.check_hostname
    with (
        socket.create_connection(("127.0.0.1", cluster.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() is not None


def test_crds_are_served(admin: KubeClient) -> None:
    discovery = admin.request("GET", "/apis/helm.toolkit.fluxcd.io/v2")
    (hr,) = [r for r in discovery["resources"] if r["name"] == "helmreleases"]
    assert hr["kind"] == "HelmRelease"
    assert hr["shortNames"] == ["hr"]
    assert any(r["name"] == "helmreleases/status" for r in discovery["resources"])
    discovery = admin.request("GET", "/apis/source.toolkit.fluxcd.io/v1")
    names = {r["name"] for r in discovery["resources"]}
    assert {"helmcharts", "helmcharts/status"} <= names
    # Applying again is harmless.
    admin.apply_crds()


def test_helmrelease_status_roundtrip(admin: KubeClient, namespace: str) -> None:
    created = admin.create(helmrelease("podinfo", namespace))
    assert created["metadata"]["generation"] == 1
    # The real CRD's default: no reconcile has observed any generation yet.
    assert created["status"] == {"observedGeneration": -1}

    status: dict[str, Any] = {
        "observedGeneration": 1,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "InstallSucceeded",
                "message": "Helm install succeeded",
                "lastTransitionTime": "2024-01-01T00:00:00Z",
                "observedGeneration": 1,
            }
        ],
        "lastAttemptedRevision": "6.5.4",
    }
    patched = admin.patch_status(HELMRELEASE, namespace, "podinfo", status)
    assert patched["status"] == status

    got = admin.get(HELMRELEASE, namespace, "podinfo")
    assert got["status"] == status
    assert got["metadata"]["generation"] == 1  # status writes don't bump it
    assert got["spec"] == created["spec"]

    # A spec change via the main resource bumps generation, keeps status.
    got["spec"]["suspend"] = True
    got["status"] = {"observedGeneration": 99}
    replaced = admin.replace(got)
    assert replaced["metadata"]["generation"] == 2
    assert replaced["status"] == status

    listed = admin.list(HELMRELEASE, namespace)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["podinfo"]
    assert listed["metadata"]["resourceVersion"]

    chart = admin.create(helmchart(f"{namespace}-podinfo", namespace))
    admin.patch_status(HELMCHART, namespace, chart["metadata"]["name"], {"observedChartName": "x"})
    admin.delete(HELMRELEASE, namespace, "podinfo")
    with pytest.raises(ApiError) as err:
        admin.get(HELMRELEASE, namespace, "podinfo")
    assert err.value.status == 404
    assert err.value.reason == "NotFound"


def test_watch_from_compacted_revision_gets_410(admin: KubeClient, namespace: str) -> None:
    obj = admin.create(helmrelease("old", namespace))
    old_rv = obj["metadata"]["resourceVersion"]
    for i in range(3):
        admin.patch_status(HELMRELEASE, namespace, "old", {"attempt": i})

    # Compaction runs every 5 s and compacts to the revision seen one
    # interval before, so the old revision is gone within ~10-15 s.
    deadline = time.monotonic() + 45
    first: dict[str, Any] = {}
    while time.monotonic() < deadline:
        events = admin.watch(
            HELMRELEASE,
            namespace,
            resource_version=old_rv,
            timeout_seconds=2,
            read_timeout=10,
        )
        first = next(iter(events), {})
        events.close()
        if first.get("type") == "ERROR":
            break
        time.sleep(1)
    assert first.get("type") == "ERROR", f"no 410 within 45 s, last event {first}"
    assert first["object"]["code"] == 410
    assert first["object"]["reason"] == "Expired"


def test_kill_and_restart_apiserver_keeps_data(
    cluster: LocalCluster, admin: KubeClient, namespace: str
) -> None:
    obj = admin.create(helmrelease("survivor", namespace))
    cluster.kill_apiserver()
    assert not cluster.running
    with pytest.raises(ApiConnectionError):
        admin.get(HELMRELEASE, namespace, "survivor")
    cluster.start_apiserver()
    assert cluster.running
    again = admin.get(HELMRELEASE, namespace, "survivor")
    assert again["metadata"]["uid"] == obj["metadata"]["uid"]


def test_user_without_groups_is_forbidden(
    cluster: LocalCluster, admin: KubeClient, namespace: str
) -> None:
    alice = KubeClient.for_cluster(cluster, "alice")
    with pytest.raises(ApiError) as err:
        alice.list(HELMRELEASE, namespace)
    assert err.value.status == 403
    assert err.value.reason == "Forbidden"

    bob = KubeClient.for_cluster(cluster, "bob")
    admin.grant(
        "bob",
        namespace=namespace,
        api_groups=["helm.toolkit.fluxcd.io"],
        resources=["helmreleases"],
        verbs=["get", "list", "watch"],
    )
    deadline = time.monotonic() + 10
    while True:  # RBAC caches are updated asynchronously
        try:
            assert bob.list(HELMRELEASE, namespace)["items"] == []
            break
        except ApiError as exc:
            if exc.status != 403 or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with pytest.raises(ApiError) as err:
        bob.list(HELMRELEASE)  # cluster-wide is still denied
    assert err.value.status == 403


def test_bad_token_is_unauthorized(cluster: LocalCluster) -> None:
    client = KubeClient(cluster.url, "not-a-token", cluster.ca_file)
    with pytest.raises(ApiError) as err:
        client.list(HELMRELEASE)
    assert err.value.status == 401


def test_untrusted_certificate_is_a_connection_error(cluster: LocalCluster, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.crt"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=other", "-keyout", str(tmp_path / "key"), "-out", str(other_ca)),
        ],
        check=True,
        capture_output=True,
    )
    client = KubeClient(cluster.url, cluster.admin_token, other_ca)
    with pytest.raises(ApiConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        client.list(HELMRELEASE)


def test_write_kubeconfig(cluster: LocalCluster, tmp_path: Path) -> None:
    path = cluster.write_kubeconfig(
        tmp_path / "kubeconfig", user="alice", server_url="https://127.0.0.1:1"
    )
    text = path.read_text()
    assert 'server: "https://127.0.0.1:1"' in text
    assert f'token: "{cluster.token_for("alice")}"' in text
    assert "certificate-authority-data:" in text
    assert path.stat().st_mode & 0o077 == 0


def _proxied(cluster: LocalCluster, proxy: TcpProxy, timeout: float) -> KubeClient:
    return KubeClient(proxy.url, cluster.admin_token, cluster.ca_file, timeout=timeout)


def _watch_through(
    proxy: TcpProxy,
    cluster: LocalCluster,
    admin: KubeClient,
    namespace: str,
    name: str,
    timeout: float,
) -> tuple[KubeClient, Iterator[dict[str, Any]]]:
    """A new release, and a watch on it opened through the proxy from its creation."""
    client = _proxied(cluster, proxy, timeout=timeout)
    start = admin.create(helmrelease(name, namespace))
    events = client.watch(
        HELMRELEASE,
        namespace,
        resource_version=start["metadata"]["resourceVersion"],
        timeout_seconds=30,
        read_timeout=timeout,
    )
    return client, events


def test_proxy_pause_stalls_and_resume_delivers(
    cluster: LocalCluster, admin: KubeClient, namespace: str
) -> None:
    with TcpProxy(cluster.port) as proxy:
        client, events = _watch_through(proxy, cluster, admin, namespace, "paused", 1.0)
        assert client.request("GET", "/version")["major"] == "1"
        admin.patch_status(HELMRELEASE, namespace, "paused", {"n": 1})
        assert next(events)["type"] == "MODIFIED"

        proxy.pause()
        admin.patch_status(HELMRELEASE, namespace, "paused", {"n": 2})
        with pytest.raises(ApiConnectionError):  # silent stall: read times out
            client.request("GET", "/version")
        assert proxy.active_connections >= 1

        proxy.resume()
        assert client.request("GET", "/version")["major"] == "1"


def test_proxy_pause_holds_bytes_on_open_stream(
    cluster: LocalCluster, admin: KubeClient, namespace: str
) -> None:
    with TcpProxy(cluster.port) as proxy:
        _, events = _watch_through(proxy, cluster, admin, namespace, "held", 5.0)
        received: list[dict[str, Any]] = []
        reader = threading.Thread(target=lambda: received.append(next(events)), daemon=True)
        proxy.pause()
        reader.start()
        admin.patch_status(HELMRELEASE, namespace, "held", {"lastAttemptedRevision": "1.0.1"})
        reader.join(1.0)
        assert received == []  # nothing got through the paused proxy
        proxy.resume()
        reader.join(5.0)
        assert [e["type"] for e in received] == ["MODIFIED"]
        assert received[0]["object"]["status"]["lastAttemptedRevision"] == "1.0.1"


def test_proxy_cut_and_restore(cluster: LocalCluster, admin: KubeClient, namespace: str) -> None:
    with TcpProxy(cluster.port) as proxy:
        client, events = _watch_through(proxy, cluster, admin, namespace, "cut", 5.0)
        admin.patch_status(HELMRELEASE, namespace, "cut", {"n": 1})
        assert next(events)["type"] == "MODIFIED"

        began = time.monotonic()
        proxy.cut()
        # The open stream ends promptly, not by read timeout: as an error,
        # or (FIN between two chunks) as a plain end of the iterator.
        with pytest.raises((ApiConnectionError, StopIteration)):
            next(events)
        # New connections are refused at once.
        with pytest.raises(ApiConnectionError) as err:
            client.request("GET", "/version")
        assert "refused" in str(err.value).lower()
        assert time.monotonic() - began < 4.0

        proxy.restore()
        assert client.request("GET", "/version")["major"] == "1"

        # hold_new: new connections hang until restore, then go through.
        proxy.cut(hold_new=True)
        result: list[Any] = []
        caller = threading.Thread(
            target=lambda: result.append(client.request("GET", "/version")),
            daemon=True,
        )
        caller.start()
        caller.join(1.0)
        assert caller.is_alive()
        assert result == []
        proxy.restore()
        caller.join(5.0)
        assert len(result) == 1
        assert result[0]["major"] == "1"


def _crash_inside(local: LocalCluster, seen: dict[str, Any]) -> None:
    with local:
        seen["pids"] = local.pids
        seen["alive"] = [_alive(p) for p in local.pids]
        seen["workdir"] = local.workdir
        seen["port"] = local.port
        raise RuntimeError("boom")


def test_stop_leaves_no_process_even_on_error(cluster: LocalCluster) -> None:
    binary = os.environ.get("KUBE_APISERVER_BINARY") or None
    seen: dict[str, Any] = {}
    with pytest.raises(RuntimeError, match="boom"):
        _crash_inside(LocalCluster(binary), seen)
    assert seen["alive"] == [True, True]
    assert seen["port"] != cluster.port
    assert not any(_alive(p) for p in seen["pids"])
    assert not seen["workdir"].exists()
    assert cluster.running  # the session cluster is untouched


def test_proxy_stall_current_silences_open_streams_but_not_new_connections(
    cluster: LocalCluster, admin: KubeClient, namespace: str
) -> None:
    with TcpProxy(cluster.port) as proxy:
        _, events = _watch_through(proxy, cluster, admin, namespace, "half-open", 1.0)
        admin.patch_status(HELMRELEASE, namespace, "half-open", {"n": 1})
        assert next(events)["type"] == "MODIFIED"

        assert proxy.stall_current() >= 1
        admin.patch_status(HELMRELEASE, namespace, "half-open", {"n": 2})
        with pytest.raises(ApiConnectionError):  # the old stream says nothing
            next(events)
        fresh = _proxied(cluster, proxy, timeout=5.0)
        assert fresh.request("GET", "/version")["major"] == "1"
