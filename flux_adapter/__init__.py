"""The flux-adapter process: watches Flux and keeps a flow server's graph right."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("flux-adapter")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
