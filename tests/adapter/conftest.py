"""Fixtures: a running fake API server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.kube_api import FakeKubeApi


@pytest.fixture
async def kube_api() -> AsyncIterator[FakeKubeApi]:
    fake = FakeKubeApi()
    await fake.start()
    yield fake
    await fake.close()
