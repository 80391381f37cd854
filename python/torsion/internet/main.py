"""Reactor installation (mirrors twisted.internet.main)."""

from __future__ import annotations

import sys
from typing import Any

from torsion.internet import error

__all__ = ["CONNECTION_LOST", "CONNECTION_DONE", "installReactor"]

# The reasons Twisted's reactor gives (wrapped in a Failure) to connections
# it closes: cleanly, or at shutdown.
CONNECTION_DONE = error.ConnectionDone("Connection done")
CONNECTION_LOST = error.ConnectionLost("Connection lost")


def installReactor(reactor: Any) -> None:
    """Make ``reactor`` the one ``from torsion.internet import reactor``
    gives; ReactorAlreadyInstalledError if one is installed already."""
    import torsion.internet

    if "torsion.internet.reactor" in sys.modules:
        raise error.ReactorAlreadyInstalledError("reactor already installed")
    torsion.internet.reactor = reactor  # type: ignore[attr-defined]
    sys.modules["torsion.internet.reactor"] = reactor
    reactor.installed = True
