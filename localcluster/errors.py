"""The local cluster tooling's errors: one base, so a caller catches every set-up failure."""

from __future__ import annotations


class ClusterError(RuntimeError):
    """The local cluster (or a peer beside it) could not be built, started or reached."""


class PeerBuildError(ClusterError):
    """A peer could not be built or found; the message names the module and version."""
