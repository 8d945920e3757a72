"""The DaemonSet: configured the way the adapter reads its settings, probed where it answers,
locked down, and on every node."""

from __future__ import annotations

import posixpath
from typing import Any

import pytest

from flux_adapter.observe.durations import parse_duration
from flux_adapter.observe.metrics import Metrics
from flux_adapter.runtime.health import HealthServer
from flux_adapter.runtime.settings import Settings, parse_listen_addr
from flux_adapter.runtime.settings_check import load_settings
from tests.chart.rendering import (
    NAMESPACE,
    Manifest,
    container,
    daemonset,
    env,
    only,
    render,
)

SETTINGS = frozenset(name.upper() for name in Settings.model_fields)
"""Every environment variable the adapter reads."""

UNSET_BY_DEFAULT = frozenset({"FLOW_SERVER_TOKEN_FILE", "FLOW_SERVER_CA_FILE"})
"""Settings the chart sets only when their source (a Secret, a CA bundle) is given."""

WITH_FILES: dict[str, Any] = {
    "flowServer": {"tokenSecret": {"name": "flow-token"}, "caBundle": {"configMapName": "flow-ca"}}
}


def pod_spec(override: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = daemonset(override)["spec"]["template"]["spec"]
    return spec


def served_paths() -> set[str]:
    """The GET paths the adapter's health server routes."""
    router = HealthServer("127.0.0.1", 0, [], lambda: None, Metrics()).app().router
    return {
        route.resource.canonical
        for route in router.routes()
        if route.method == "GET" and route.resource is not None
    }


def mounted_file(override: dict[str, Any], variable: str) -> tuple[dict[str, Any], str]:
    """The pod volume holding the file the variable names, and the file's key in the volume."""
    path = env(override)[variable]["value"]
    directory, filename = posixpath.split(path)
    mounts = [m for m in container(override)["volumeMounts"] if m["mountPath"] == directory]
    assert len(mounts) == 1
    assert mounts[0]["readOnly"] is True
    volume = next(v for v in pod_spec(override)["volumes"] if v["name"] == mounts[0]["name"])
    return volume, filename


def test_with_a_token_and_a_ca_bundle_the_pods_set_every_setting_the_adapter_reads() -> None:
    assert set(env(WITH_FILES)) == SETTINGS


def test_by_default_only_the_file_settings_are_left_to_the_adapters_default_of_none() -> None:
    assert set(env()) == SETTINGS - UNSET_BY_DEFAULT
    for name in UNSET_BY_DEFAULT:
        assert Settings.model_fields[name.lower()].default is None


def test_the_adapter_accepts_the_rendered_environment_and_keeps_its_own_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    expected = Settings(
        flow_server_url="https://flow.example.com",
        flow_id="bootstrap",
        region_key="eu-west-1",
        pod_name="flux-adapter-x7k2p",
        pod_namespace=NAMESPACE,
    )
    downward = {"metadata.name": "flux-adapter-x7k2p", "metadata.namespace": NAMESPACE}
    for name, item in env().items():
        if "valueFrom" in item:
            monkeypatch.setenv(name, downward[item["valueFrom"]["fieldRef"]["fieldPath"]])
        else:
            monkeypatch.setenv(name, item["value"])
    assert load_settings().model_dump() == expected.model_dump()


@pytest.mark.parametrize(
    ("override", "variable", "value"),
    [
        ({"flowId": "canary"}, "FLOW_ID", "canary"),
        ({"regionKey": "us-east-2"}, "REGION_KEY", "us-east-2"),
        ({"namespaceFilter": ""}, "NAMESPACE_FILTER", ""),
        ({"emitInterval": "1s"}, "EMIT_INTERVAL", "1s"),
        ({"postTimeout": 3}, "POST_TIMEOUT", "3"),
        ({"resyncInterval": "5m"}, "RESYNC_INTERVAL", "5m"),
        ({"flowServer": {"ringCapacity": 1024}}, "FLOW_SERVER_RING_CAPACITY", "1024"),
        ({"flowServer": {"stream": False}}, "FLOW_SERVER_STREAM", "false"),
        ({"watchInactivityTimeout": "2m"}, "WATCH_INACTIVITY_TIMEOUT", "2m"),
        ({"shutdownTimeout": "8s"}, "SHUTDOWN_TIMEOUT", "8s"),
        ({"leaderElection": {"enabled": False}}, "LEADER_ELECTION", "false"),
        ({"leaderElection": {"leaseName": "leader"}}, "LEASE_NAME", "leader"),
        ({"leaderElection": {"leaseDuration": "30s"}}, "LEASE_DURATION", "30s"),
        ({"leaderElection": {"renewDeadline": "12s"}}, "LEASE_RENEW_DEADLINE", "12s"),
        ({"leaderElection": {"retryPeriod": "3s"}}, "LEASE_RETRY_PERIOD", "3s"),
        (
            {"leaderElection": {"standbyRetryPeriod": "10s"}},
            "LEASE_STANDBY_RETRY_PERIOD",
            "10s",
        ),
        ({"health": {"port": 9100}}, "HEALTH_LISTEN_ADDR", ":9100"),
        ({"logLevel": "debug"}, "LOG_LEVEL", "debug"),
        ({"logFormat": "console"}, "LOG_FORMAT", "console"),
    ],
)
def test_each_value_reaches_its_environment_variable(
    override: dict[str, Any], variable: str, value: str
) -> None:
    assert env(override)[variable] == {"name": variable, "value": value}


def test_the_lease_is_named_after_the_release_by_default() -> None:
    manifests = render()
    assert env()["LEASE_NAME"]["value"] == only(manifests, "DaemonSet")["metadata"]["name"]


@pytest.mark.parametrize(
    ("variable", "field"),
    [("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")],
)
def test_the_pod_learns_its_name_and_namespace_from_the_downward_api(
    variable: str, field: str
) -> None:
    assert env()[variable] == {"name": variable, "valueFrom": {"fieldRef": {"fieldPath": field}}}


def test_the_token_comes_from_the_named_secret_as_a_mounted_file() -> None:
    volume, filename = mounted_file(WITH_FILES, "FLOW_SERVER_TOKEN_FILE")
    assert volume["secret"]["secretName"] == "flow-token"
    assert volume["secret"]["items"] == [{"key": "token", "path": filename}]


def test_the_token_key_inside_the_secret_can_be_chosen() -> None:
    override = {"flowServer": {"tokenSecret": {"name": "flow-token", "key": "bearer"}}}
    volume, filename = mounted_file(override, "FLOW_SERVER_TOKEN_FILE")
    assert volume["secret"]["items"] == [{"key": "bearer", "path": filename}]


def test_no_secret_ever_reaches_the_environment() -> None:
    spec = container(WITH_FILES)
    assert "envFrom" not in spec
    assert [e["name"] for e in spec["env"] if "secretKeyRef" in e.get("valueFrom", {})] == []


@pytest.mark.parametrize(
    ("source", "volume_field", "name_field"),
    [("configMapName", "configMap", "name"), ("secretName", "secret", "secretName")],
)
def test_the_ca_bundle_comes_from_a_config_map_or_a_secret_as_a_mounted_file(
    source: str, volume_field: str, name_field: str
) -> None:
    override = {"flowServer": {"caBundle": {source: "flow-ca"}}}
    volume, filename = mounted_file(override, "FLOW_SERVER_CA_FILE")
    assert volume[volume_field][name_field] == "flow-ca"
    assert volume[volume_field]["items"] == [{"key": "ca.crt", "path": filename}]


def test_without_a_token_or_ca_bundle_nothing_is_mounted() -> None:
    assert "volumes" not in pod_spec()
    assert "volumeMounts" not in container()


def test_liveness_and_readiness_probe_endpoints_the_adapter_serves() -> None:
    spec = container()
    assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"/healthz", "/readyz"} <= served_paths()


@pytest.mark.parametrize("port", [8081, 9100])
def test_probes_reach_the_port_the_adapter_listens_on(port: int) -> None:
    override = {"health": {"port": port}}
    spec = container(override)
    listen = parse_listen_addr(env(override)["HEALTH_LISTEN_ADDR"]["value"])
    named = {p["name"]: p["containerPort"] for p in spec["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        assert named[spec[probe]["httpGet"]["port"]] == listen.port == port


def test_the_default_health_port_is_the_adapters_default() -> None:
    default = parse_listen_addr(str(Settings.model_fields["health_listen_addr"].default))
    assert env()["HEALTH_LISTEN_ADDR"]["value"] == f":{default.port}"


def test_the_pods_run_as_a_fixed_non_root_user_under_the_runtime_seccomp_profile() -> None:
    assert pod_spec()["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_the_container_cannot_escalate_write_its_root_or_use_any_capability() -> None:
    assert container()["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }


def test_only_the_pods_mount_the_service_account_token() -> None:
    manifests = render()
    assert only(manifests, "ServiceAccount")["automountServiceAccountToken"] is False
    assert pod_spec()["automountServiceAccountToken"] is True


def test_the_pods_run_as_the_charts_service_account() -> None:
    account = only(render(), "ServiceAccount")["metadata"]["name"]
    assert pod_spec()["serviceAccountName"] == account


def test_an_existing_service_account_can_be_named() -> None:
    override = {"serviceAccount": {"create": False, "name": "platform-reader"}}
    assert pod_spec(override)["serviceAccountName"] == "platform-reader"


def test_every_taint_is_tolerated_so_a_copy_runs_on_every_node() -> None:
    assert pod_spec()["tolerations"] == [{"operator": "Exists"}]


@pytest.mark.parametrize("unavailable", [1, "10%"])
def test_a_new_version_rolls_out_a_few_nodes_at_a_time(unavailable: int | str) -> None:
    strategy = daemonset({"updateStrategy": {"maxUnavailable": unavailable}})["spec"][
        "updateStrategy"
    ]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": unavailable}}


def test_the_grace_period_outlasts_the_shutdown_timeout_by_default() -> None:
    shutdown = parse_duration(env()["SHUTDOWN_TIMEOUT"]["value"])
    assert pod_spec()["terminationGracePeriodSeconds"] > shutdown


def test_the_container_requests_and_is_limited_in_cpu_and_memory() -> None:
    resources = container()["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


def test_the_selector_matches_the_pods_and_survives_upgrades() -> None:
    manifest = daemonset()
    selector = manifest["spec"]["selector"]["matchLabels"]
    assert selector.items() <= manifest["spec"]["template"]["metadata"]["labels"].items()
    assert set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"}


def test_prometheus_is_not_invited_by_default() -> None:
    manifests = render()
    assert "annotations" not in only(manifests, "DaemonSet")["spec"]["template"]["metadata"]
    assert [m for m in manifests if m["kind"] == "Service"] == []


def test_scrape_annotations_point_prometheus_at_the_metrics_endpoint() -> None:
    override = {"metrics": {"podAnnotations": True}, "health": {"port": 9100}}
    annotations = daemonset(override)["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9100",
        "prometheus.io/path": "/metrics",
    }
    assert annotations["prometheus.io/path"] in served_paths()


def test_the_metrics_service_forwards_to_the_pods_health_port() -> None:
    manifests = render({"metrics": {"service": {"enabled": True, "port": 9090}}})
    service: Manifest = only(manifests, "Service")
    pods = only(manifests, "DaemonSet")["spec"]["template"]
    assert service["spec"]["selector"].items() <= pods["metadata"]["labels"].items()
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "health", "protocol": "TCP"}
    ]
    assert "health" in {p["name"] for p in pods["spec"]["containers"][0]["ports"]}


def test_a_deployment_with_a_replica_count_can_replace_the_daemonset() -> None:
    manifests = render({"workload": {"kind": "Deployment", "replicas": 3}})
    deployment = only(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert "updateStrategy" not in deployment["spec"]
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert [m for m in manifests if m["kind"] == "DaemonSet"] == []
    pod = deployment["spec"]["template"]["spec"]
    assert pod == daemonset()["spec"]["template"]["spec"]


def test_the_default_is_one_copy_per_node() -> None:
    assert "replicas" not in daemonset()["spec"]
