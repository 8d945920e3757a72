"""A loopback TCP proxy that a test can stall or cut on command.

Put it between a client and the apiserver (point the client's kubeconfig at
``https://127.0.0.1:<proxy port>``; the apiserver's certificate is valid for
127.0.0.1 on any port) and then:

* ``pause()``   stop moving bytes in both directions, sockets stay open (a
  silent stall: the client sees no error, just nothing); ``resume()`` goes on
  where it stopped, nothing is lost;
* ``stall_current()`` silence only the connections open now (a half-open
  peer); new connections flow, so a client that reconnects recovers;
* ``cut()``     close every current connection and refuse new ones (or, with
  ``hold_new=True``, accept and park them without forwarding) until
  ``restore()``;
* ``stop()``    close everything.

Thread based, so it works from plain synchronous tests. Each connection has
two pump threads; only the accept thread opens or closes the listening socket,
and a connection's sockets are closed only by its own pump threads, so no file
descriptor is ever closed under another thread's feet.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from types import TracebackType
from typing import Final, Self

_CHUNK: Final = 65536
_TICK: Final = 0.05


class _Connection:
    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.upstream: socket.socket | None = None
        self._lock = threading.Lock()
        self._closing = False
        self._pumps_left = 2
        self._done = threading.Event()
        # Cleared by TcpProxy.stall_current(): this connection alone goes silent.
        self.flowing = threading.Event()
        self.flowing.set()

    @property
    def closing(self) -> bool:
        return self._closing

    def shut(self) -> None:
        """Ask the pumps to end; wakes any blocked recv/send/select."""
        with self._lock:
            self._closing = True
            socks = [s for s in (self.client, self.upstream) if s is not None]
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def attach(self, upstream: socket.socket) -> bool:
        """Record the upstream socket; False if the connection is closing."""
        with self._lock:
            self.upstream = upstream
            return not self._closing

    def pump_finished(self) -> bool:
        """Note one pump ended; the last one closes both sockets (True)."""
        with self._lock:
            self._pumps_left -= 1
            last = self._pumps_left <= 0
        if last:
            for sock in (self.client, self.upstream):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()
            self._done.set()
        return last

    def close_unstarted(self) -> None:
        """Close a connection whose pumps never ran."""
        with self._lock:
            self._closing = True
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self._done.set()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)


class TcpProxy:
    """Forward 127.0.0.1:<port> to ``target_host:target_port``."""

    def __init__(
        self,
        target_port: int,
        target_host: str = "127.0.0.1",
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        connect_timeout: float = 5.0,
    ) -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self._port = listen_port
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._flowing = threading.Event()
        self._flowing.set()
        self._stopped = threading.Event()
        self._conns: set[_Connection] = set()
        self._held: list[socket.socket] = []
        # What the accept thread should do: "open", "refuse" or "hold".
        self._mode = "open"
        self._listener_changed = threading.Condition(self._lock)
        self._listening = False
        self._accept_thread: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self.accepted = 0

    # -- control -----------------------------------------------------------

    def start(self) -> int:
        """Start listening; return the port."""
        with self._lock:
            if self._accept_thread is not None:
                return self._port
            listener = self._bind()
            self._port = int(listener.getsockname()[1])
            self._listening = True
            self._accept_thread = threading.Thread(
                target=self._accept_loop,
                args=(listener,),
                name="tcpproxy-accept",
                daemon=True,
            )
            self._accept_thread.start()
            return self._port

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("proxy not started")
        return self._port

    @property
    def url(self) -> str:
        return f"https://{self.listen_host}:{self.port}"

    @property
    def paused(self) -> bool:
        return not self._flowing.is_set()

    @property
    def is_cut(self) -> bool:
        return self._mode != "open"

    @property
    def active_connections(self) -> int:
        with self._lock:
            return len(self._conns) + len(self._held)

    def pause(self) -> None:
        """Stop forwarding bytes; keep every socket open."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def stall_current(self) -> int:
        """Silence every open connection for good, as a half-open TCP peer would.

        New connections flow normally, so a client that gives up on a silent
        stream and reconnects recovers; returns how many were stalled.
        """
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            conn.flowing.clear()
        return len(conns)

    def cut(self, *, hold_new: bool = False, timeout: float = 5.0) -> None:
        """Close all current connections; refuse (or hold) new ones.

        Returns once the listener is closed (refuse) so a connect made after
        this call is refused.
        """
        with self._lock:
            self._mode = "hold" if hold_new else "refuse"
            conns = list(self._conns)
            self._listener_changed.notify_all()
            if not hold_new:
                self._listener_changed.wait_for(
                    lambda: not self._listening or self._stopped.is_set(), timeout
                )
        for conn in conns:
            conn.shut()
        for conn in conns:
            conn.wait(timeout)

    def restore(self, timeout: float = 5.0) -> None:
        """Accept and forward again (held connections start flowing)."""
        with self._lock:
            self._mode = "open"
            held, self._held = self._held, []
            self._listener_changed.notify_all()
            self._listener_changed.wait_for(
                lambda: self._listening or self._stopped.is_set(), timeout
            )
            if not self._listening and not self._stopped.is_set():
                raise RuntimeError(f"proxy could not listen on port {self._port} again")
        for client in held:
            self._serve(client)

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every connection; join the threads."""
        self._stopped.set()
        self._flowing.set()
        with self._lock:
            conns = list(self._conns)
            held, self._held = self._held, []
            self._listener_changed.notify_all()
        for client in held:
            with contextlib.suppress(OSError):
                client.close()
        for conn in conns:
            conn.shut()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout)
        for thread in list(self._threads):
            thread.join(timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------

    def _bind(self) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.listen_host, self._port))
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        return listener

    def _accept_loop(self, listener: socket.socket | None) -> None:
        try:
            while not self._stopped.is_set():
                with self._lock:
                    mode = self._mode
                if mode == "refuse" and listener is not None:
                    listener.close()
                    listener = None
                    self._set_listening(False)
                elif mode != "refuse" and listener is None:
                    try:
                        listener = self._bind()
                    except OSError:
                        with self._lock:
                            self._listener_changed.wait(_TICK)
                        continue
                    self._set_listening(True)
                if listener is None:
                    with self._lock:
                        self._listener_changed.wait(_TICK)
                    continue
                ready, _, _ = select.select([listener], [], [], _TICK)
                if not ready:
                    continue
                try:
                    client, _ = listener.accept()
                except OSError:
                    continue
                self._admit(client)
        finally:
            if listener is not None:
                listener.close()
            self._set_listening(False)

    def _set_listening(self, value: bool) -> None:
        with self._lock:
            self._listening = value
            self._listener_changed.notify_all()

    def _admit(self, client: socket.socket) -> None:
        with self._lock:
            self.accepted += 1
            mode = self._mode
            if mode == "hold":
                self._held.append(client)
                return
        if mode == "open" and not self._stopped.is_set():
            self._serve(client)
        else:
            client.close()

    def _serve(self, client: socket.socket) -> None:
        conn = _Connection(client)
        with self._lock:
            self._conns.add(conn)
        thread = threading.Thread(
            target=self._run_connection,
            args=(conn,),
            name="tcpproxy-conn",
            daemon=True,
        )
        self._track(thread)
        thread.start()

    def _track(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)

    def _run_connection(self, conn: _Connection) -> None:
        try:
            upstream = socket.create_connection(self.target, self._connect_timeout)
        except OSError:
            conn.close_unstarted()
            self._forget(conn)
            return
        upstream.settimeout(None)
        if not conn.attach(upstream) or self._stopped.is_set():
            conn.close_unstarted()
            self._forget(conn)
            return
        back = threading.Thread(
            target=self._pump,
            args=(conn, upstream, conn.client),
            name="tcpproxy-pump",
            daemon=True,
        )
        self._track(back)
        back.start()
        self._pump(conn, conn.client, upstream)

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            self._conns.discard(conn)

    def _pump(self, conn: _Connection, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not conn.closing:
                if not self._flowing.wait(_TICK) or not conn.flowing.wait(_TICK):
                    continue
                ready, _, _ = select.select([src], [], [], _TICK)
                if not ready:
                    continue
                data = src.recv(_CHUNK)
                if not data:
                    # Pass the half-close on; the other pump ends on its own.
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                    return
                # Bytes read just before a pause are held until resume.
                while not self._flowing.wait(_TICK) or not conn.flowing.wait(_TICK):
                    if conn.closing:
                        return
                dst.sendall(data)
        except (OSError, ValueError):
            conn.shut()
        finally:
            if conn.pump_finished():
                self._forget(conn)
