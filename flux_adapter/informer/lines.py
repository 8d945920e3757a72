"""Newline-delimited lines from a stream, each as large as a Kubernetes object may be.

aiohttp's own `readline()` refuses a line longer than twice its read buffer
(128 KiB by default), and a HelmRelease with a large `spec.values` is a
watch event bigger than that: the loop would reconnect, be sent the same
event again and never get past it. Here the limit is the API server's, and
the buffer grows only to the line actually being read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

MAX_LINE_BYTES = 16 * 2**20
"""Far above the largest object etcd accepts (1.5 MiB by default), wrapped in its event."""


class LineTooLongError(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"a line exceeds {limit} bytes")
        self.limit = limit


class LineReader:
    """Reads whole lines off `read_chunk`, which returns b"" at the end of the stream.

    Cancelling `readline()` while it waits loses nothing: bytes already
    received stay in the buffer for the next call.
    """

    def __init__(
        self, read_chunk: Callable[[], Awaitable[bytes]], limit: int = MAX_LINE_BYTES
    ) -> None:
        self._read_chunk = read_chunk
        self._limit = limit
        self._buffer = bytearray()
        self._searched = 0
        self._ended = False

    async def readline(self) -> bytes:
        """The next line with its b"\\n"; at the end, what is left without one, then b""."""
        while True:
            end = self._buffer.find(b"\n", self._searched)
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                self._searched = 0
                return line
            if len(self._buffer) > self._limit:
                raise LineTooLongError(self._limit)
            if self._ended:
                rest = bytes(self._buffer)
                self._buffer.clear()
                self._searched = 0
                return rest
            self._searched = len(self._buffer)
            chunk = await self._read_chunk()
            if chunk:
                self._buffer += chunk
            else:
                self._ended = True
