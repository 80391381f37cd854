"""The small set of Python objects the Rust core calls (see DESIGN.md).

The core never imports Python modules on its own hot path: it is handed
this module once, when the reactor is built, and looks these names up.
"""

from __future__ import annotations

import os
from typing import Any

from zope.interface import providedBy

from torsion.internet import error
from torsion.internet.address import IPv4Address, IPv6Address, UNIXAddress
from torsion.internet.interfaces import (
    IFileDescriptorReceiver,
    IHalfCloseableProtocol,
    ILoggingContext,
)
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "IPv4Address",
    "IPv6Address",
    "UNIXAddress",
    "failureOf",
    "isAborted",
    "isHalfCloseable",
    "logError",
    "makeAborted",
    "makeDescriptorOverrun",
    "reasonDone",
    "reasonLost",
    "receiveDescriptors",
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


def makeDescriptorOverrun() -> Failure:
    """The reason a stream closes when more descriptors were queued with
    sendFileDescriptor than bytes to carry them."""
    return Failure(error.FileDescriptorOverrun())


def isAborted(reason: Any) -> bool:
    """Whether a reason given to connectionLost is an abort (the socket is
    then reset rather than shut down)."""
    try:
        return bool(reason.check(error.ConnectionAborted))
    except Exception:
        return False


def receiveDescriptors(transport: Any, protocol: Any, fds: list[int]) -> None:
    """Descriptors that came with a read: each goes to the protocol's
    fileDescriptorReceived; a protocol without IFileDescriptorReceiver
    gets none, and they are logged and closed, as Twisted does."""
    if IFileDescriptorReceiver.providedBy(protocol):
        for fd in fds:
            protocol.fileDescriptorReceived(fd)
        return
    if ILoggingContext.providedBy(protocol):
        name = protocol.logPrefix()
    else:
        name = protocol.__class__.__name__
    log.msg(
        format=(
            "%(protocolName)s (on %(hostAddress)r) does not provide "
            "IFileDescriptorReceiver; closing file descriptor received "
            "(from %(peerAddress)r)."
        ),
        hostAddress=transport.getHost(),
        peerAddress=transport.getPeer(),
        protocolName=name,
    )
    for fd in fds:
        os.close(fd)
