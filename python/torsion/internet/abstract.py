"""What every stream transport shares (the role of twisted.internet.abstract).

A TCP or UNIX connection, and later a TLS session, a child's pipe or
standard I/O, is one Rust stream transport with a Python subclass on top.
``FileDescriptor`` is that subclass's common base: the read size
(``bufferSize``), the socket handle, the log prefix, repr, and Twisted's
half-close hooks. Subclasses add their own addresses and options.
"""

from __future__ import annotations

import os
import socket
import weakref
from typing import Any

from zope.interface import implementer

from torsion import _torsion
from torsion.internet.interfaces import (
    IConsumer,
    IHalfCloseableDescriptor,
    ILoggingContext,
    IPushProducer,
    ISystemHandle,
)
from torsion.python.failure import Failure

# The Rust stream transport. This is the only line naming it: every Python
# transport class derives from it through FileDescriptor below.
NativeStream = _torsion.Stream


def logPrefixOf(obj: Any) -> str:
    """``obj.logPrefix()`` if it provides ILoggingContext, else its class
    name (what Twisted logs a protocol or factory under)."""
    if ILoggingContext.providedBy(obj):
        return obj.logPrefix()
    return obj.__class__.__name__


class _BufferSize:
    """Twisted's ``bufferSize``: 65536 on the class, as Twisted's class
    attribute reads; on a transport, the most one read takes (kept in Rust,
    checked when set)."""

    def __init__(self) -> None:
        # (an instance attribute: on the class it would be bound as a
        # descriptor itself)
        self._native: Any = NativeStream.bufferSize

    def __get__(self, obj: Any, cls: type | None = None) -> int:
        if obj is None:
            return 65536
        return self._native.__get__(obj, cls)

    def __set__(self, obj: Any, value: int) -> None:
        self._native.__set__(obj, value)

    def __delete__(self, obj: Any) -> None:
        raise AttributeError("bufferSize cannot be deleted")


@implementer(
    ISystemHandle,
    IConsumer,
    IPushProducer,
    IHalfCloseableDescriptor,
    ILoggingContext,
)
class FileDescriptor(NativeStream):
    """The base of torsion's stream transports."""

    bufferSize = _BufferSize()
    _handle: socket.socket | None = None
    _logstr: str | None

    def _requireSocket(self) -> None:
        """Twisted deletes a transport's ``socket`` before telling the
        protocol that the connection is lost: from then on what needs the
        socket raises AttributeError, and so does torsion's."""
        if self.disconnected:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute 'socket'"
            )

    def getHandle(self) -> socket.socket:
        """A socket object for this connection (a duplicate descriptor,
        made on first use; closing it does not close the connection)."""
        self._requireSocket()
        if self._handle is None:
            fd = self.fileno()
            if fd < 0:
                raise OSError("connection is closed")
            self._handle = socket.socket(fileno=os.dup(fd))
            # The duplicate is ours: close it when the transport goes away
            # (the connection itself is shut down by the loop on close).
            weakref.finalize(self, self._handle.close)
        return self._handle

    @property
    def socket(self) -> socket.socket:
        """Twisted's ``transport.socket``: see getHandle()."""
        return self.getHandle()

    def logPrefix(self) -> str:
        """The protocol's log prefix."""
        protocol = self.protocol
        return logPrefixOf(protocol) if protocol is not None else "-"

    @property
    def logstr(self) -> str:
        """Twisted's attribute behind logPrefix()."""
        return self.logPrefix()

    @logstr.setter
    def logstr(self, value: str) -> None:
        self._logstr = value

    def readConnectionLost(self, reason: Failure) -> None:
        """Twisted's hook for the end of the read side (not used by torsion's
        own loop, which calls the protocol directly)."""
        self.connectionLost(reason)

    def writeConnectionLost(self, reason: Failure) -> None:
        """Twisted's hook for the end of the write side."""
        self.connectionLost(reason)

    def __repr__(self) -> str:
        return (
            f"<{self.__class__.__name__} fd={self.fileno()} protocol={self.protocol!r}>"
        )


__all__ = ["FileDescriptor", "NativeStream", "logPrefixOf"]
