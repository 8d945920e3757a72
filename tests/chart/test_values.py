"""A broken install cannot render: each mistake stops Helm with the value to fix."""

from __future__ import annotations

import re
from typing import Any

import pytest
from helm_python import HelmRenderError, HelmValuesError

from tests.chart.rendering import chart, container, render_files, with_required

REQUIRED_PATHS = ("flowServer.url", "flowId", "regionKey")


def at(path: str, value: object) -> dict[str, Any]:
    """The values that set only the dotted `path` to `value`."""
    *parents, leaf = path.split(".")
    values: dict[str, Any] = {leaf: value}
    for key in reversed(parents):
        values = {key: values}
    return values


@pytest.mark.parametrize("path", REQUIRED_PATHS)
@pytest.mark.parametrize("empty", ["", "   "], ids=["empty", "blank"])
def test_a_required_value_left_empty_fails_the_render_naming_it(path: str, empty: str) -> None:
    with pytest.raises(
        HelmRenderError,
        match=rf"{re.escape(path)} is required: set it to .*--set {re.escape(path)}=",
    ):
        render_files(with_required(at(path, empty)))


@pytest.mark.parametrize(
    "url", ["flow.example.com", "ftp://flow.example.com", "https://", "HTTPS//flow:8080"]
)
def test_a_flow_server_url_that_is_not_http_or_https_fails_the_render(url: str) -> None:
    with pytest.raises(
        HelmRenderError, match=re.escape("flowServer.url must start with http:// or https://")
    ):
        render_files(with_required({"flowServer": {"url": url}}))


@pytest.mark.parametrize(
    "url", ["http://flow:8080", "https://flow.example.com/base/", "HTTPS://FLOW.example.com"]
)
def test_http_and_https_urls_are_accepted_without_a_trailing_slash(url: str) -> None:
    env = {e["name"]: e.get("value") for e in container({"flowServer": {"url": url}})["env"]}
    assert env["FLOW_SERVER_URL"] == url.rstrip("/")


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ({"flowId": 42}, "/flowId"),
        ({"regionKey": True}, "/regionKey"),
        ({"regionKey": "eu/west"}, "/regionKey"),
        ({"health": {"port": "8081"}}, "/health/port"),
        ({"health": {"port": 70000}}, "/health/port"),
        ({"leaderElection": {"enabled": "yes"}}, "/leaderElection/enabled"),
        ({"emitInterval": "soon"}, "/emitInterval"),
        ({"shutdownTimeout": -1}, "/shutdownTimeout"),
        ({"terminationGracePeriodSeconds": "30s"}, "/terminationGracePeriodSeconds"),
        ({"logLevel": "verbose"}, "/logLevel"),
        ({"logFormat": "text"}, "/logFormat"),
        ({"tolerations": {"operator": "Exists"}}, "/tolerations"),
        ({"updateStrategy": {"maxUnavailable": 0}}, "/updateStrategy/maxUnavailable"),
        ({"image": {"digest": "latest"}}, "/image/digest"),
        ({"flowServer": {"tokenSecret": {"name": "Not_A_Name"}}}, "/flowServer/tokenSecret/name"),
    ],
)
def test_a_value_of_the_wrong_type_or_form_is_refused_by_the_schema(
    override: dict[str, Any], where: str
) -> None:
    with pytest.raises(HelmValuesError, match=f"at '{where}'"):
        render_files(with_required(override))


@pytest.mark.parametrize(
    ("override", "where"),
    [({"flowserver": {"url": "https://flow"}}, "''"), ({"image": {"tags": "1"}}, "'/image'")],
)
def test_a_misspelt_key_is_refused_rather_than_ignored(
    override: dict[str, Any], where: str
) -> None:
    with pytest.raises(HelmValuesError, match=f"at {where}: additional properties"):
        render_files(with_required(override))


def test_the_schema_is_checked_before_any_template_runs() -> None:
    with pytest.raises(HelmValuesError, match="at '/flowId'"):
        render_files(with_required({"flowId": 42, "regionKey": ""}))


def test_a_shutdown_timeout_as_long_as_the_grace_period_names_both_values() -> None:
    override = {"shutdownTimeout": "30s", "terminationGracePeriodSeconds": 30}
    message = r"terminationGracePeriodSeconds \(30\) must be longer than shutdownTimeout \(30s\)"
    with pytest.raises(HelmRenderError, match=message):
        render_files(with_required(override))


@pytest.mark.parametrize("shutdown", ["29s", "29.5", 29, "500ms", "29s999ms"])
def test_a_shutdown_timeout_shorter_than_the_grace_period_renders(shutdown: str | int) -> None:
    values = with_required({"shutdownTimeout": shutdown, "terminationGracePeriodSeconds": 30})
    assert render_files(values)


@pytest.mark.parametrize("shutdown", ["30s", "1m", "0.5m", "1h", "29s1000ms", 31])
def test_a_shutdown_timeout_not_shorter_than_the_grace_period_fails(shutdown: str | int) -> None:
    values = with_required({"shutdownTimeout": shutdown, "terminationGracePeriodSeconds": 30})
    with pytest.raises(HelmRenderError, match="terminationGracePeriodSeconds"):
        render_files(values)


@pytest.mark.parametrize(
    ("election", "message"),
    [
        ({"leaseDuration": "10s"}, r"leaseDuration \(10s\) must be longer than .*renewDeadline"),
        ({"renewDeadline": "2400ms"}, r"renewDeadline \(2400ms\) must be longer than 1.2 x"),
        ({"retryPeriod": "500ms"}, r"leaderElection.retryPeriod must be at least 1s, got 0.5s"),
    ],
)
def test_lease_timings_the_adapter_would_refuse_fail_the_render(
    election: dict[str, Any], message: str
) -> None:
    with pytest.raises(HelmRenderError, match=message):
        render_files(with_required({"leaderElection": election}))


def test_lease_timings_are_not_checked_without_leader_election() -> None:
    election = {"enabled": False, "retryPeriod": "500ms"}
    assert render_files(with_required({"leaderElection": election}))


def test_a_ca_bundle_from_both_a_config_map_and_a_secret_fails_the_render() -> None:
    ca = {"configMapName": "ca", "secretName": "ca"}
    with pytest.raises(HelmRenderError, match="set configMapName or secretName, not both"):
        render_files(with_required({"flowServer": {"caBundle": ca}}))


def test_the_image_tag_defaults_to_the_charts_app_version() -> None:
    assert (
        container()["image"] == f"ghcr.io/openova-io/flux-adapter:{chart().metadata['appVersion']}"
    )


def test_the_image_repository_can_point_at_a_mirror_with_its_own_tag() -> None:
    image = {"repository": "mirror.internal:5000/flux-adapter", "tag": "0.1.0-rc1"}
    assert container({"image": image})["image"] == "mirror.internal:5000/flux-adapter:0.1.0-rc1"


def test_a_digest_pins_the_image_and_the_tag_is_ignored() -> None:
    digest = "sha256:" + "ab" * 32
    image = {"tag": "ignored", "digest": digest}
    assert container({"image": image})["image"] == f"ghcr.io/openova-io/flux-adapter@{digest}"


def test_several_deployment_replicas_without_leader_election_fail_the_render() -> None:
    override = {
        "workload": {"kind": "Deployment", "replicas": 2},
        "leaderElection": {"enabled": False},
    }
    with pytest.raises(HelmRenderError, match="every copy would post"):
        render_files(with_required(override))
