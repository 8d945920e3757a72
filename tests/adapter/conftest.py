"""Fixtures shared by the adapter tests: the fake flow server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.fakes.flow_server import FlowServer

MakeServer = Callable[..., Awaitable[FlowServer]]


@pytest.fixture
async def make_server() -> AsyncIterator[MakeServer]:
    """Start fake flow servers with the given settings; all are closed after the test."""
    servers: list[FlowServer] = []

    async def make(**settings: Any) -> FlowServer:
        server = FlowServer(**settings)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.close()


@pytest.fixture
async def flow_server(make_server: MakeServer) -> FlowServer:
    return await make_server()
