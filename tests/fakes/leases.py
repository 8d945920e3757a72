"""The coordination.k8s.io/v1 Lease endpoints, added to the fake API server.

Faithful where leader election looks: 404 for a missing lease, 409
AlreadyExists on a create race, 409 Conflict on a replace carrying a stale
resourceVersion, and a resourceVersion bumped on every write. `freeze()`
makes every lease call hang until `thaw()`, as a partitioned API server would.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.kube_api import FakeKubeApi, status_response

BASE = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"


class FakeLeases:
    def __init__(self, api: FakeKubeApi) -> None:
        self.leases: dict[tuple[str, str], dict[str, Any]] = {}
        self.writes: list[tuple[str, str | None]] = []
        """(verb, holderIdentity) of every successful create or replace."""
        self.reads = 0
        self.refusals: list[tuple[int, str, str]] = []
        """(code, reason, message) Statuses answered, in order, to the next lease calls."""
        self._open = asyncio.Event()
        self._open.set()
        self._version = 1
        api.add_route("GET", BASE + "/{name}", self._get)
        api.add_route("POST", BASE, self._create)
        api.add_route("PUT", BASE + "/{name}", self._replace)

    def holder(self, namespace: str, name: str) -> str | None:
        lease = self.leases.get((namespace, name))
        if lease is None:
            return None
        holder = lease.get("spec", {}).get("holderIdentity")
        return holder if isinstance(holder, str) else None

    def put(self, namespace: str, name: str, *, holder: str, duration: int) -> None:
        """A Lease held by `holder`, renewed now, as another copy would have written it."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        spec = {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration,
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": 0,
        }
        self._stamp(namespace, name, {"metadata": {"name": name}, "spec": spec})

    @property
    def frozen(self) -> bool:
        """Lease calls hang (`freeze()`) until `thaw()`."""
        return not self._open.is_set()

    def freeze(self) -> None:
        self._open.clear()

    def thaw(self) -> None:
        self._open.set()

    async def _stall(self) -> web.Response | None:
        """Hold the call while frozen; then the next queued refusal, if any, answers it."""
        await self._open.wait()
        if self.refusals:
            return status_response(*self.refusals.pop(0))
        return None

    def _stamp(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self._version += 1
        lease = copy.deepcopy(body)
        lease["apiVersion"] = "coordination.k8s.io/v1"
        lease["kind"] = "Lease"
        meta = lease.setdefault("metadata", {})
        old = self.leases.get((namespace, name), {}).get("metadata", {})
        meta.update(
            name=name,
            namespace=namespace,
            resourceVersion=str(self._version),
            uid=old.get("uid", str(uuid.uuid4())),
            creationTimestamp=old.get(
                "creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            ),
        )
        self.leases[(namespace, name)] = lease
        return lease

    async def _get(self, request: web.Request) -> web.Response:
        refused = await self._stall()
        if refused is not None:
            return refused
        self.reads += 1
        key = (request.match_info["namespace"], request.match_info["name"])
        lease = self.leases.get(key)
        if lease is None:
            return status_response(
                404, "NotFound", f'leases.coordination.k8s.io "{key[1]}" not found'
            )
        return web.json_response(lease)

    async def _create(self, request: web.Request) -> web.Response:
        refused = await self._stall()
        if refused is not None:
            return refused
        body = await request.json()
        namespace = request.match_info["namespace"]
        name = body.get("metadata", {}).get("name", "")
        if (namespace, name) in self.leases:
            return status_response(
                409, "AlreadyExists", f'leases.coordination.k8s.io "{name}" already exists'
            )
        lease = self._stamp(namespace, name, body)
        self.writes.append(("create", lease.get("spec", {}).get("holderIdentity")))
        return web.json_response(lease, status=201)

    async def _replace(self, request: web.Request) -> web.Response:
        refused = await self._stall()
        if refused is not None:
            return refused
        body = await request.json()
        key = (request.match_info["namespace"], request.match_info["name"])
        current = self.leases.get(key)
        if current is None:
            return status_response(
                404, "NotFound", f'leases.coordination.k8s.io "{key[1]}" not found'
            )
        sent = body.get("metadata", {}).get("resourceVersion")
        if sent != current["metadata"]["resourceVersion"]:
            return status_response(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on leases.coordination.k8s.io "{key[1]}": '
                "the object has been modified; please apply your changes to the latest version "
                "and try again",
            )
        lease = self._stamp(*key, body)
        self.writes.append(("replace", lease.get("spec", {}).get("holderIdentity")))
        return web.json_response(lease)
