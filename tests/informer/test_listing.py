"""The paged LIST as a plain function: pages in order, and a continue token that expired."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from flux_adapter.informer.listing import Page, list_pages, parse_page
from flux_adapter.kube.errors import ApiError, ProtocolError

WHERE = {"resource": "helmreleases", "namespace": "flux-system"}


class Relist:
    """Collects what a LIST fed it; `commit` is the caller's, so it is never called here."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def add(self, obj: Any) -> None:
        self.items.append(obj)

    def commit(self) -> None:
        raise AssertionError("list_pages must leave the commit to its caller")


def expired() -> ApiError:
    return ApiError(
        verb="list",
        resource="helmreleases",
        namespace="flux-system",
        status=410,
        reason="Expired",
        message="continue token too old",
    )


class Server:
    """Answers each page request with the next answer, and remembers what was asked."""

    def __init__(self, *answers: Page | ApiError) -> None:
        self.answers = list(answers)
        self.asked: list[dict[str, str]] = []

    async def page(self, params: Mapping[str, str]) -> Page:
        self.asked.append(dict(params))
        answer = self.answers.pop(0)
        if isinstance(answer, ApiError):
            raise answer
        return answer


def relists() -> tuple[list[Relist], Callable[[], Relist]]:
    started: list[Relist] = []

    def start() -> Relist:
        started.append(Relist())
        return started[-1]

    return started, start


async def test_pages_are_read_in_order_with_their_continue_tokens() -> None:
    server = Server(Page(["a", "b"], "10", "t1"), Page(["c"], "10", None))
    started, start = relists()

    listed = await list_pages(server.page, start, page_limit=2, where=WHERE)

    assert server.asked == [{"limit": "2"}, {"limit": "2", "continue": "t1"}]
    assert (listed.version, listed.pages) == ("10", 2)
    assert started[0].items == ["a", "b", "c"]


async def test_an_expired_continue_token_starts_the_list_over_once() -> None:
    server = Server(Page(["a"], "10", "t1"), expired(), Page(["a", "b"], "12", None))
    started, start = relists()

    listed = await list_pages(server.page, start, page_limit=1, where=WHERE)

    assert server.asked == [{"limit": "1"}, {"limit": "1", "continue": "t1"}, {"limit": "1"}]
    assert (listed.version, listed.pages) == ("12", 1)
    assert [r.items for r in started] == [["a"], ["a", "b"]]
    assert listed.relist is started[1]


async def test_a_second_expired_continue_token_is_raised() -> None:
    server = Server(
        Page(["a"], "10", "t1"), expired(), Page(["a"], "12", "t2"), expired(), Page([], "13", None)
    )
    _, start = relists()

    with pytest.raises(ApiError):
        await list_pages(server.page, start, page_limit=1, where=WHERE)


async def test_an_expired_first_page_is_raised() -> None:
    _, start = relists()

    with pytest.raises(ApiError):
        await list_pages(Server(expired()).page, start, page_limit=1, where=WHERE)


def test_a_page_body_is_read_for_its_items_version_and_token() -> None:
    body = b'{"metadata": {"resourceVersion": "7", "continue": "t"}, "items": [{"a": 1}]}'

    assert parse_page(body, "helmreleases") == Page([{"a": 1}], "7", "t")


def test_an_empty_continue_token_ends_the_list() -> None:
    body = b'{"metadata": {"resourceVersion": "7", "continue": ""}, "items": []}'

    assert parse_page(body, "helmreleases").token is None


@pytest.mark.parametrize(
    "body",
    [b"[]", b'{"items": []}', b'{"metadata": {}, "items": []}', b"not json"],
    ids=["not-an-object", "no-metadata", "no-version", "not-json"],
)
def test_a_body_that_is_not_a_list_page_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_page(body, "helmreleases")
