"""The Kubernetes client against the real kube-apiserver: proxies, exec plugins, standbys."""

from __future__ import annotations

import itertools
import json
import ssl
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster.apiserver import ADMIN_USER
from localcluster.connect_proxy import ConnectProxy
from tests.e2e.harness import wait_until
from tests.e2e.scene import Scene

pytestmark = pytest.mark.e2e

UNRESOLVABLE = "kubernetes.default.svc"
"""A name the apiserver's certificate carries but this machine cannot resolve."""


def edit_kubeconfig(path: Path, cluster: dict[str, Any], user: dict[str, Any]) -> Path:
    config = yaml.safe_load(path.read_text())
    config["clusters"][0]["cluster"].update(cluster)
    config["users"][0]["user"] = user
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_server_reachable_only_through_proxy_url_is_reached(scene: Scene) -> None:
    port = int(scene.cluster.url.rsplit(":", 1)[1])
    server = f"https://{UNRESOLVABLE}:{port}"
    scene.release("a")
    with ConnectProxy({UNRESOLVABLE: ("127.0.0.1", port)}) as proxy:
        path = scene.cluster.write_kubeconfig(scene.workdir / "proxied", server_url=server)
        user = {"token": scene.cluster.token_for(ADMIN_USER)}
        kubeconfig = edit_kubeconfig(path, {"proxy-url": proxy.url}, user)
        scene.adapter(kubeconfig=kubeconfig, name="proxied")
        wait_until(lambda: scene.node("a") in scene.graph()[0], "a shown through the proxy")
        assert f"{UNRESOLVABLE}:{port}" in proxy.tunnels


PLUGIN = """
import datetime, json, os, pathlib, sys, time
runs, token, lifetime = pathlib.Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
now = time.time()
with runs.open("a") as out:
    out.write(json.dumps([now, now + lifetime]) + "\\n")
stamp = datetime.datetime.fromtimestamp(now + lifetime, datetime.timezone.utc)
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                  "status": {"token": token,
                             "expirationTimestamp": stamp.strftime("%Y-%m-%dT%H:%M:%SZ")}}))
"""


def test_an_exec_plugin_with_15_s_tokens_is_run_before_each_expires(scene: Scene) -> None:
    script = scene.workdir / "plugin.py"
    script.write_text(PLUGIN)
    runs = scene.workdir / "runs"
    path = scene.cluster.write_kubeconfig(scene.workdir / "exec")
    plugin = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": sys.executable,
        "args": [str(script), str(runs), scene.cluster.token_for(ADMIN_USER), "15"],
    }
    kubeconfig = edit_kubeconfig(path, {}, {"exec": plugin})
    scene.release("a")
    scene.adapter(kubeconfig=kubeconfig, name="exec")
    wait_until(lambda: scene.node("a") in scene.graph()[0], "a shown")
    time.sleep(35)
    scene.ready("a", "False", "UpgradeFailed")
    wait_until(lambda: scene.statuses()[scene.node("a")] == "failed", "a change after 35 s")

    recorded = [json.loads(line) for line in runs.read_text().splitlines()]
    assert len(recorded) >= 3
    for (_, expired), (ran, _) in itertools.pairwise(recorded):
        assert ran < expired, "each run came before the previous token expired"


PLURALS = {"HelmRelease": "helmreleases", "HelmChart": "helmcharts"}


def registered_watchers(scene: Scene, kind: str) -> float:
    """Open WATCHes on one Flux kind: the API server's `apiserver_longrunning_requests` gauge.

    (`apiserver_registered_watchers` counts only watches served from the
    watch cache, which the local cluster runs without.)
    """
    request = urllib.request.Request(
        scene.cluster.url + "/metrics",
        headers={"Authorization": f"Bearer {scene.cluster.token_for(ADMIN_USER)}"},
    )
    trust = ssl.create_default_context(cafile=str(scene.cluster.ca_file))
    with urllib.request.urlopen(request, context=trust, timeout=10) as got:
        text = got.read().decode()
    total = 0.0
    for line in text.splitlines():
        if (
            line.startswith("apiserver_longrunning_requests{")
            and f'resource="{PLURALS[kind]}"' in line
            and 'verb="WATCH"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_two_copies_hold_one_watch_per_flux_resource_and_hand_over(scene: Scene) -> None:
    lease = scene.lease_env(
        LEASE_DURATION="4s",
        LEASE_RENEW_DEADLINE="3s",
        LEASE_RETRY_PERIOD="1s",
        LEASE_STANDBY_RETRY_PERIOD="2s",
    )
    before = {kind: registered_watchers(scene, kind) for kind in ("HelmRelease", "HelmChart")}
    scene.release("a")
    first = scene.adapter(lease | {"POD_NAME": "pod-1"}, name="pod-1")
    second = scene.adapter(lease | {"POD_NAME": "pod-2"}, name="pod-2")
    wait_until(lambda: scene.node("a") in scene.graph()[0], "a shown")
    time.sleep(3)
    assert {kind: registered_watchers(scene, kind) - before[kind] for kind in before} == {
        "HelmRelease": 1,
        "HelmChart": 1,
    }

    leader, standby = (
        (first, second) if first.metric("flux_adapter_leader") == 1 else (second, first)
    )
    assert standby.metric("flux_adapter_relists_total") == 0
    leader.proc.kill()
    killed = time.monotonic()
    scene.release("b")
    wait_until(lambda: scene.node("b") in scene.graph()[0], "the standby took over", timeout=30)
    assert time.monotonic() - killed < 4 + 2 * 1.2 + 5
    assert standby.metric("flux_adapter_leader") == 1
