"""The flow server over HTTP: one POST per envelope, one GET per snapshot check, the stream.

A single `aiohttp.ClientSession` carries every request, so connections are
kept alive between the many small POSTs of a busy cluster instead of paying
a handshake each time. The server's answers are sorted into the sink's two
failure kinds as `docs/contract.md` ("How the adapter reads the answers")
draws the line: a value the server calls invalid (400), a body too large
for the path (413), or a transient fault (everything else, timeouts and
connection errors included).

Each POST's answer `{"seq": N}` is read for the sequence number, and the
flow's event stream can be followed for the numbers other adapters' envelopes
get (`docs/contract.md`, "Sequence numbers and the ring", "The event stream").

Every body is read against a limit and parsed by `answers.py` as untrusted
input (`docs/design.md`, "The flow server's answers are untrusted"): an
error answer keeps `ERROR_BODY_LIMIT` bytes, a POST's answer may have
`POST_ANSWER_LIMIT`, the snapshot `snapshot_limit`, read as it arrives with
only one region's share kept. What cannot be read is a `BadAnswerError`.
"""

from __future__ import annotations

import asyncio
import base64
import math
import ssl
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aiohttp

from flux_adapter import __version__
from flux_adapter.emit.answers import (
    ERROR_BODY_LIMIT,
    POST_ANSWER_LIMIT,
    SNAPSHOT_LIMIT,
    BadAnswerError,
    SnapshotReader,
    seq_from_post_answer,
    seq_from_text,
)
from flux_adapter.emit.ca_bundle import CaBundleError, load_ca_bundle
from flux_adapter.emit.sink import Heard, RejectedError, Snapshot, TooLargeError, TransientError
from flux_adapter.emit.sse import EventReader
from flux_adapter.emit.token_file import TokenFile, TokenFileError
from flux_adapter.observe.redact import redact_url, remember_secret
from mapper import Batch

T = TypeVar("T")

READ_CHUNK = 64 << 10
"""Bytes read at a time from a snapshot; the loop runs other work between two."""


class HttpSinkConfigError(ValueError):
    """The sink's settings cannot work (bad URL, unreadable CA bundle, two kinds of auth)."""


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds the server asked us to wait, from either form RFC 9110 allows; `None` if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - now)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


async def read_prefix(content: aiohttp.StreamReader, limit: int) -> bytes:
    """At most `limit` bytes of a body; the rest is never read (the connection is dropped)."""
    kept = bytearray()
    while len(kept) < limit:
        chunk = await content.read(limit - len(kept))
        if not chunk:
            break
        kept += chunk
    return bytes(kept)


async def read_bounded(content: aiohttp.StreamReader, limit: int, operation: str) -> bytes:
    """A whole body of at most `limit` bytes; `BadAnswerError` as soon as it is longer."""
    raw = await read_prefix(content, limit + 1)
    if len(raw) > limit:
        raise BadAnswerError(operation, "too_large", f"answer longer than {limit} bytes")
    return raw


def _ssl_context(ca_file: Path) -> ssl.SSLContext:
    try:
        return load_ca_bundle(ca_file)
    except CaBundleError as err:
        raise HttpSinkConfigError(str(err)) from err


def _failure(operation: str, status: int, retry_after: str | None, body: str) -> Exception:
    """Sort a failed answer (`docs/contract.md`, "How the adapter reads the answers").

    Only a 400 speaks about the values sent. A 413 speaks about the size;
    404 and 405 mean the request went somewhere it should not (a wrong base
    URL, a proxy routing badly) and heal when that is fixed; 401 and 403 come
    from an auth layer and heal when the token is rotated; everything else
    (408, 425, 429, 5xx, any other status) is the path or the server in trouble.
    """
    if status == 400:
        return RejectedError(operation, status, body)
    if status == 413:
        return TooLargeError(operation, body or "body too large", status=status)
    if status in (401, 403):
        return TransientError(operation, "credentials refused: " + body, status=status)
    if status in (404, 405):
        return TransientError(operation, "wrong URL or a proxy fault: " + body, status=status)
    return TransientError(
        operation,
        body or "server fault",
        status=status,
        retry_after=parse_retry_after(retry_after, time.time()),
    )


class HttpSink:
    def __init__(
        self,
        url: str,
        flow_id: str,
        *,
        token_file: Path | None = None,
        ca_file: Path | None = None,
        session: aiohttp.ClientSession | None = None,
        snapshot_limit: int = SNAPSHOT_LIMIT,
    ) -> None:
        """Post to the flow server at `url` (scheme, host, optional path prefix).

        `token_file` holds a bearer token, re-read when it changes; `ca_file`
        adds a CA bundle to the system's for https; `snapshot_limit` is the
        most bytes of a snapshot read before the check fails as a bad answer.
        A `session` passed in is shared and left open on `close()`; without
        one the sink makes its own on first use (it must be made inside the
        running event loop).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpSinkConfigError(f"flow server URL {redact_url(url)!r} is not http(s)://host")
        if not flow_id:
            raise HttpSinkConfigError("flow id is empty")
        self._basic: str | None = None
        if parts.username is not None or parts.password is not None:
            if token_file is not None:
                raise HttpSinkConfigError(
                    "the flow server URL carries credentials and a token file is set: use one"
                )
            remember_secret(unquote(parts.password or ""))
            pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            self._basic = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        base = urlunsplit(parts).rstrip("/")
        flow = quote(flow_id, safe="")
        self.target = redact_url(url)
        self._events_url = f"{base}/v1/flows/{flow}/events"
        self._snapshot_url = f"{base}/v1/flows/{flow}/snapshot"
        self._stream_url = f"{base}/v1/flows/{flow}/stream"
        self._token = TokenFile(token_file) if token_file is not None else None
        self._ssl: ssl.SSLContext | bool = _ssl_context(ca_file) if ca_file is not None else True
        self._session = session
        self._owns_session = session is None
        self._snapshot_limit = snapshot_limit

    def __repr__(self) -> str:
        return f"HttpSink({self.target!r})"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    def _headers(self, operation: str) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": f"flux-adapter/{__version__}"}
        if operation == "post":
            headers["Content-Type"] = "application/json"
        if self._basic is not None:
            headers["Authorization"] = self._basic
        if self._token is not None:
            try:
                headers["Authorization"] = "Bearer " + self._token.current()
            except TokenFileError as err:
                raise TransientError(operation, str(err)) from err
        return headers

    async def _exchange(
        self,
        operation: str,
        method: str,
        url: str,
        body: bytes | None,
        read: Callable[[aiohttp.StreamReader], Awaitable[T]],
        *,
        absent_ok: bool,
    ) -> T | None:
        """One request: `read` applied to a 2xx's body; `None` for a 404 when `absent_ok`.

        Raises as `_failure` sorts any other status, keeping `ERROR_BODY_LIMIT`
        bytes of its body; a transport failure or timeout is a `TransientError`.
        """
        headers = self._headers(operation)
        try:
            async with self._client().request(
                method,
                url,
                data=body,
                headers=headers,
                ssl=self._ssl,
                allow_redirects=False,
            ) as response:
                if 200 <= response.status < 300:
                    return await read(response.content)
                if absent_ok and response.status == 404:
                    return None
                retry_after = response.headers.get("Retry-After")
                raw = await read_prefix(response.content, ERROR_BODY_LIMIT)
                text = raw.decode("utf-8", errors="replace")
                raise _failure(operation, response.status, retry_after, text)
        except aiohttp.ClientError as err:
            raise TransientError(operation, f"{type(err).__name__}: {err}") from err
        except TimeoutError as err:
            raise TransientError(operation, "timed out") from err

    async def post(self, batch: Batch) -> int | None:
        """POST one envelope; the number its answer gives (`BadAnswerError` for a bad one)."""

        async def seq(content: aiohttp.StreamReader) -> int | None:
            return seq_from_post_answer(await read_bounded(content, POST_ANSWER_LIMIT, "post"))

        return await self._exchange(
            "post", "POST", self._events_url, batch.body, seq, absent_ok=False
        )

    async def snapshot(self, region: str) -> Snapshot | None:
        """`region`'s share of the flow's snapshot, read as it arrives (`answers.SnapshotReader`).

        Raises `BadAnswerError` past `snapshot_limit` bytes or for a body that
        is not a snapshot envelope.
        """

        async def share(content: aiohttp.StreamReader) -> Snapshot:
            reader = SnapshotReader(region, limit=self._snapshot_limit)
            while chunk := await content.read(READ_CHUNK):
                reader.feed(chunk)
                # A body already buffered is read without a pause: yield so
                # the heartbeat and the watches run between two pieces.
                await asyncio.sleep(0)
            return reader.close()

        return await self._exchange(
            "snapshot", "GET", self._snapshot_url, None, share, absent_ok=True
        )

    async def follow(self) -> AsyncGenerator[Heard, None]:
        """The flow's event stream, each event's name and number (`docs/contract.md`).

        No deadline of its own, not even aiohttp's default one: the stream is
        meant to stay open, and the caller bounds each wait. An `id` that is
        not a sequence number ends it with a `BadAnswerError`.
        """
        headers = self._headers("stream")
        headers["Accept"] = "text/event-stream"
        reader = EventReader()
        try:
            async with self._client().get(
                self._stream_url,
                headers=headers,
                ssl=self._ssl,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=None),
            ) as response:
                if response.status != 200:
                    raw = await read_prefix(response.content, ERROR_BODY_LIMIT)
                    text = raw.decode("utf-8", errors="replace")
                    raise _failure(
                        "stream", response.status, response.headers.get("Retry-After"), text
                    )
                async for chunk in response.content.iter_any():
                    for event in reader.feed(chunk):
                        yield Heard(event.name, seq_from_text(event.id))
        except aiohttp.ClientError as err:
            raise TransientError("stream", f"{type(err).__name__}: {err}") from err

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
