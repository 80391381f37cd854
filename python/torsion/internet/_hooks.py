"""The small set of Python objects the Rust core calls (see DESIGN.md).

The core never imports Python modules on its own hot path: it is handed
this module once, when the reactor is built, and looks these names up.
"""

from __future__ import annotations

from typing import Any

from zope.interface import providedBy

from torsion.internet import error
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.interfaces import IHalfCloseableProtocol
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "IPv4Address",
    "IPv6Address",
    "failureOf",
    "isHalfCloseable",
    "logError",
    "makeAborted",
    "reasonDone",
    "reasonLost",
]

# Twisted passes one shared Failure for every clean close and every lost
# connection; so do we (it also saves building one per connection).
reasonDone = Failure(error.ConnectionDone())
reasonDone.cleanFailure()
reasonLost = Failure(error.ConnectionLost())
reasonLost.cleanFailure()


def logError(exc: BaseException, why: str | None) -> None:
    """Log an exception raised by a user callback as an Unhandled Error."""
    log.err(Failure(exc), why)


def failureOf(exc: BaseException) -> Failure:
    """A Failure for an exception raised by a user callback."""
    return Failure(exc)


def makeAborted() -> Failure:
    """The local reason given to connectionLost after abortConnection()."""
    return Failure(error.ConnectionAborted())


def isHalfCloseable(protocol: Any) -> bool:
    """Whether a protocol wants readConnectionLost/writeConnectionLost."""
    return IHalfCloseableProtocol in providedBy(protocol)
