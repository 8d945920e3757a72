"""An HTTP Helm chart repository on 127.0.0.1, serving charts packaged from sources in the tree.

What source-controller reads from an ``http`` HelmRepository is an
``index.yaml`` (``apiVersion: v1``; ``entries``: per chart name, a list of
versions, each with ``urls``, the package's sha256 ``digest`` and
``created``) and the ``.tgz`` packages it points at (a gzipped tar whose
members sit under ``<chart name>/``, ``Chart.yaml`` among them). This module
writes both into a directory and serves it; ``publish`` adds a version
(packaging a chart source, with its name and version set as Helm's
``package --version`` sets them) and rewrites the index atomically, so a
HelmRepository reconciled afterwards sees it.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import os
import tarfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import yaml

CHART_SOURCES: Final = Path(__file__).resolve().parent / "charts"
"""The chart sources in the tree: ``settings`` (ready at once), ``rejected``, ``test-hook``."""

_EPOCH: Final = 946684800
"""Every packaged file's mtime (2000-01-01), so a package's digest depends on its content alone."""


@dataclass(frozen=True)
class ChartVersion:
    """One published chart version: its name, version, package file and sha256 digest (hex)."""

    name: str
    version: str
    package: Path
    digest: str


def package_chart(source: Path, out_dir: Path, *, name: str, version: str) -> ChartVersion:
    """Package the chart at ``source`` as ``<out_dir>/<name>-<version>.tgz``.

    ``Chart.yaml``'s ``name`` and ``version`` are replaced by the ones given.

    Raises:
        FileNotFoundError: ``source`` has no ``Chart.yaml``.
    """
    chart = yaml.safe_load((source / "Chart.yaml").read_text())
    chart["name"] = name
    chart["version"] = version
    members: list[tuple[str, bytes]] = [("Chart.yaml", yaml.safe_dump(chart).encode())]
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source).as_posix()
        if relative != "Chart.yaml":
            members.append((relative, path.read_bytes()))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for relative, data in members:
            info = tarfile.TarInfo(f"{name}/{relative}")
            info.size = len(data)
            info.mtime = _EPOCH
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    packaged = gzip.compress(raw.getvalue(), mtime=_EPOCH)
    out_dir.mkdir(parents=True, exist_ok=True)
    package = out_dir / f"{name}-{version}.tgz"
    package.write_bytes(packaged)
    return ChartVersion(name, version, package, hashlib.sha256(packaged).hexdigest())


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class ChartRepository:
    """A chart repository served from ``directory`` on 127.0.0.1 (a port chosen by the kernel).

    Use it as a context manager, or ``start()`` and ``stop()``::

        with ChartRepository(tmp_path) as repo:
            repo.publish("settings", version="1.0.0", name="cilium")
            # a HelmRepository with spec.url = repo.url now lists cilium 1.0.0
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._published: dict[str, dict[str, ChartVersion]] = {}
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The repository's base URL, as a HelmRepository's ``spec.url`` takes it."""
        if self._server is None:
            raise RuntimeError("chart repository is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        """Write an empty index and start serving."""
        with self._lock:
            if self._server is not None:
                return self
            self._directory.mkdir(parents=True, exist_ok=True)
            self._write_index()
            directory = str(self._directory)

            def handler(*args: Any, **kwargs: Any) -> _QuietHandler:
                return _QuietHandler(*args, directory=directory, **kwargs)

            self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="chart-repository", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
            thread, self._thread = self._thread, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5.0)

    def publish(self, source: str | Path, *, version: str, name: str | None = None) -> ChartVersion:
        """Package ``source`` as ``name`` ``version`` and list it in the index.

        ``source`` is a directory, or the name of one in ``CHART_SOURCES``;

        ``name`` defaults to the chart name in its ``Chart.yaml``.
        """
        path = Path(source) if isinstance(source, Path) else CHART_SOURCES / source
        chart_name = name or str(yaml.safe_load((path / "Chart.yaml").read_text())["name"])
        with self._lock:
            published = package_chart(path, self._directory, name=chart_name, version=version)
            self._published.setdefault(chart_name, {})[version] = published
            self._write_index()
        return published

    def _write_index(self) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        entries: dict[str, list[dict[str, Any]]] = {}
        for chart_name, versions in sorted(self._published.items()):
            for chart in versions.values():
                with tarfile.open(chart.package) as tar:
                    member = tar.extractfile(f"{chart_name}/Chart.yaml")
                    assert member is not None
                    metadata = yaml.safe_load(member.read())
                entries.setdefault(chart_name, []).append(
                    {
                        **metadata,
                        "created": now,
                        "digest": chart.digest,
                        "urls": [chart.package.name],
                    }
                )
        index = {"apiVersion": "v1", "entries": entries, "generated": now}
        staged = self._directory / f".index.yaml.{os.getpid()}"
        staged.write_text(yaml.safe_dump(index, sort_keys=True))
        staged.replace(self._directory / "index.yaml")
