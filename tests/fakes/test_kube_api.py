"""The fake API server speaks the real one's wire format where the adapter reads it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from flux_adapter.kube.resources import HELM_RELEASES
from tests.fakes.kube_api import FakeKubeApi
from tests.support.objects import helm_release

RELEASES = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/flux-system/helmreleases"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


async def get_json(
    http: aiohttp.ClientSession, url: str, **params: str
) -> tuple[int, dict[str, Any]]:
    async with http.get(url, params=params) as response:
        body: dict[str, Any] = await response.json()
        return response.status, body


async def test_list_items_carry_api_version_and_kind_and_pages_carry_continue(
    kube_api: FakeKubeApi, http: aiohttp.ClientSession
) -> None:
    for name in ("a", "b", "c"):
        kube_api.create(HELM_RELEASES, helm_release(name))

    status, page = await get_json(http, kube_api.url + RELEASES, limit="2")

    assert status == 200
    assert page["kind"] == "HelmReleaseList"
    assert page["metadata"]["resourceVersion"] == str(kube_api.version)
    assert page["metadata"]["remainingItemCount"] == 1
    assert [i["metadata"]["name"] for i in page["items"]] == ["a", "b"]
    assert {(i["apiVersion"], i["kind"]) for i in page["items"]} == {
        ("helm.toolkit.fluxcd.io/v2", "HelmRelease")
    }
    _, rest = await get_json(
        http, kube_api.url + RELEASES, limit="2", **{"continue": page["metadata"]["continue"]}
    )
    assert [i["metadata"]["name"] for i in rest["items"]] == ["c"]
    assert "continue" not in rest["metadata"]


async def test_watch_replays_events_after_the_version_then_ends_at_timeout_seconds(
    kube_api: FakeKubeApi, http: aiohttp.ClientSession
) -> None:
    start = kube_api.version
    kube_api.create(HELM_RELEASES, helm_release("a"))
    kube_api.delete(HELM_RELEASES, "flux-system", "a")

    params = {"watch": "true", "resourceVersion": str(start), "timeoutSeconds": "1"}
    async with http.get(kube_api.url + RELEASES, params=params) as response:
        lines = [json.loads(line) async for line in response.content]

    assert [e["type"] for e in lines] == ["ADDED", "DELETED"]
    assert lines[1]["object"]["metadata"]["resourceVersion"] == str(kube_api.version)


async def test_too_old_version_is_410_expired_as_status_or_as_error_event(
    kube_api: FakeKubeApi, http: aiohttp.ClientSession
) -> None:
    kube_api.create(HELM_RELEASES, helm_release("a"))
    kube_api.compact()
    params = {"watch": "true", "resourceVersion": "1"}

    status, body = await get_json(http, kube_api.url + RELEASES, **params)
    assert status == 410
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "Expired", 410)

    kube_api.expired_as = "event"
    async with http.get(kube_api.url + RELEASES, params=params) as response:
        assert response.status == 200
        lines = [json.loads(line) async for line in response.content]
    assert lines == [
        {
            "type": "ERROR",
            "object": {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f"too old resource version: 1 ({kube_api.compacted})",
                "reason": "Expired",
                "code": 410,
            },
        }
    ]


async def test_horizon_keeps_only_the_newest_versions(
    kube_api: FakeKubeApi, http: aiohttp.ClientSession
) -> None:
    kube_api.horizon = 2
    first = kube_api.create(HELM_RELEASES, helm_release("a"))["metadata"]["resourceVersion"]
    for name in ("b", "c", "d"):
        kube_api.create(HELM_RELEASES, helm_release(name))

    status, body = await get_json(http, kube_api.url + RELEASES, watch="1", resourceVersion=first)

    assert (status, body["reason"]) == (410, "Expired")
    assert kube_api.compacted == kube_api.version - 2


async def test_refusals_are_status_objects(
    kube_api: FakeKubeApi, http: aiohttp.ClientSession
) -> None:
    kube_api.fail("list", 403)
    status, forbidden = await get_json(http, kube_api.url + RELEASES)
    assert (status, forbidden["reason"], forbidden["code"]) == (403, "Forbidden", 403)
    assert 'cannot list resource "helmreleases"' in forbidden["message"]

    status, unknown = await get_json(http, kube_api.url + "/apis/example.com/v1/widgets")
    assert (status, unknown["kind"], unknown["reason"]) == (404, "Status", "NotFound")
