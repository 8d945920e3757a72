"""Whole lines off a byte stream, whatever the chunking, up to a Kubernetes-sized limit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

import pytest

from flux_adapter.informer.lines import LineReader, LineTooLongError


def chunks(*parts: bytes) -> Callable[[], Awaitable[bytes]]:
    queue = list(parts)

    async def read() -> bytes:
        return queue.pop(0) if queue else b""

    return read


async def all_lines(reader: LineReader) -> list[bytes]:
    out = []
    while line := await reader.readline():
        out.append(line)
    return out


async def test_a_line_split_across_chunks_comes_out_whole() -> None:
    reader = LineReader(chunks(b'{"type":', b'"ADDED"', b"}\n"))
    assert await all_lines(reader) == [b'{"type":"ADDED"}\n']


async def test_several_lines_in_one_chunk_come_out_one_at_a_time() -> None:
    reader = LineReader(chunks(b"a\nb\nc", b"\n"))
    assert await all_lines(reader) == [b"a\n", b"b\n", b"c\n"]


async def test_the_end_gives_the_unterminated_rest_then_nothing() -> None:
    reader = LineReader(chunks(b"a\ntrunc"))
    assert await reader.readline() == b"a\n"
    assert await reader.readline() == b"trunc"
    assert await reader.readline() == b""


async def test_a_line_longer_than_the_limit_is_refused() -> None:
    reader = LineReader(chunks(b"x" * 40, b"x" * 40, b"\n"), limit=64)
    with pytest.raises(LineTooLongError):
        await reader.readline()


async def test_a_line_of_exactly_the_limit_is_read() -> None:
    reader = LineReader(chunks(b"x" * 32, b"x" * 31 + b"\n"), limit=64)
    assert await reader.readline() == b"x" * 63 + b"\n"


def queued(items: Iterable[bytes] = ()) -> tuple[asyncio.Queue[bytes], LineReader]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    return queue, LineReader(queue.get)


async def test_a_cancelled_wait_loses_none_of_the_bytes_already_read() -> None:
    queue, reader = queued([b'{"half":'])
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readline(), 0.05)
    queue.put_nowait(b'"event"}\n')
    assert await reader.readline() == b'{"half":"event"}\n'
