"""A CA bundle (PEM) loaded into a TLS context, refused early when it cannot be used."""

from __future__ import annotations

import ssl
from pathlib import Path


class CaBundleError(ValueError):
    """The file is missing, unreadable, or holds no certificate OpenSSL accepts."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"CA bundle {path}: {detail}")
        self.path = path
        self.detail = detail


def load_ca_bundle(path: Path) -> ssl.SSLContext:
    """The system's trust store plus the PEM certificates in `path`.

    Raises `CaBundleError` naming the path when the file cannot be opened or
    OpenSSL finds no certificate in it (a DER file, a key, plain text).
    """
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=str(path))
    except ssl.SSLError as err:
        # Before OSError, of which SSLError is a subclass.
        raise CaBundleError(path, f"not a PEM certificate bundle ({err.reason})") from err
    except OSError as err:
        raise CaBundleError(path, err.strerror or type(err).__name__) from err
    return context
