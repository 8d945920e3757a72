"""An HTTP CONNECT proxy that knows names the client cannot resolve, as a corporate proxy does.

A kubeconfig's `proxy-url` sends every request through such a proxy: the
client asks it to `CONNECT kubernetes.default.svc:6443` and the proxy, which
can resolve that name, opens the tunnel. Here the proxy's "DNS" is the
`routes` it is given; a name it does not know is answered 502. Every tunnel
asked for is recorded, so a test can prove the proxy was used.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Mapping
from types import TracebackType

BUFFER = 65536
HEAD_LIMIT = 16384


class ConnectProxy:
    def __init__(self, routes: Mapping[str, tuple[str, int]], *, timeout: float = 5.0) -> None:
        """`routes`: host name → (address, port) the proxy connects to for it."""
        self.routes = dict(routes)
        self.timeout = timeout
        self.tunnels: list[str] = []
        """The `host:port` of every CONNECT received, in order."""
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="connect-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ConnectProxy:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._thread.join(self.timeout)

    def __enter__(self) -> ConnectProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            client.settimeout(self.timeout)
            try:
                head = b""
                while b"\r\n\r\n" not in head and len(head) < HEAD_LIMIT:
                    chunk = client.recv(4096)
                    if not chunk:
                        return
                    head += chunk
            except OSError:
                return
            method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
            authority = rest.split(" ", 1)[0]
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            self.tunnels.append(authority)
            host = authority.rpartition(":")[0].strip("[]")
            target = self.routes.get(host)
            if target is None:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            try:
                upstream = socket.create_connection(target, timeout=self.timeout)
            except OSError:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            with upstream:
                client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                client.settimeout(None)
                upstream.settimeout(None)
                back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
                back.start()
                _pipe(client, upstream)
                back.join(self.timeout)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes until either side closes, then close the sink's write half."""
    try:
        while data := source.recv(BUFFER):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
