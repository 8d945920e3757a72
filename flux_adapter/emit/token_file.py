"""A bearer token read from a file that may be rotated under the process.

Kubernetes projects tokens and mounted secrets as files and replaces them in
place (a symlink swap) when they rotate, so the token is looked up again
whenever the file's identity or timestamp moves, rather than read once at
start-up and kept until it expires. The value is never part of a message,
repr or log line: only the path is, and each value read is remembered by
the log redaction, so a server echoing it back is masked too.
"""

from __future__ import annotations

import os
from pathlib import Path

from flux_adapter.observe.redact import remember_secret


class TokenFileError(Exception):
    """The token file could not be read or holds no token."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"token file {path}: {detail}")
        self.path = path
        self.detail = detail


class TokenFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int, int] | None = None
        self._token = ""

    def __repr__(self) -> str:
        return f"TokenFile({str(self.path)!r})"

    def current(self) -> str:
        """The token as the file holds it now, re-read only when the file changed."""
        try:
            info = os.stat(self.path)
            signature = (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)
            if signature != self._seen:
                token = self.path.read_text(encoding="utf-8").strip()
                if not token:
                    raise TokenFileError(self.path, "is empty")
                remember_secret(token)
                self._token, self._seen = token, signature
        except OSError as err:
            raise TokenFileError(self.path, err.strerror or type(err).__name__) from err
        return self._token
