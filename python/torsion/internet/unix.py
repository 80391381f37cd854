"""UNIX stream sockets: transports, listening ports and connectors
(mirrors twisted.internet.unix).

A UNIX connection is the same Rust stream transport as a TCP one, with
UNIX addresses; as in Twisted, the classes derive from their TCP
counterparts. A name starting with a NUL byte is in Linux's abstract
namespace: no file is created for it, so none is chmod-ed or removed.
"""

from __future__ import annotations

import os
import socket
import stat
from typing import Any

from zope.interface import implementer

from torsion import _torsion
from torsion.internet import error, tcp
from torsion.internet.abstract import logPrefixOf
from torsion.internet.address import UNIXAddress
from torsion.internet.base import BaseConnector
from torsion.internet.interfaces import IUNIXTransport
from torsion.logger import Logger
from torsion.python import lockfile
from torsion.python.failure import Failure

_log = Logger()

__all__ = ["Client", "Connector", "Port", "Server"]


def _inFilesystemNamespace(path: bytes | str) -> bool:
    """Whether ``path`` names a file (False for an abstract name)."""
    return path[:1] not in (b"\0", "\0")


def _pathText(path: bytes) -> str:
    """A socket path as Twisted shows it in logs and reprs."""
    return os.fsdecode(path)


class _SendsDescriptors:
    """What the UNIX transports add to a stream: passing descriptors."""

    def sendFileDescriptor(self, fileno: int) -> None:
        """Send a copy of descriptor ``fileno`` to the peer, along with the
        next byte written (as Twisted does, each descriptor needs one)."""
        self._sendFileDescriptor(fileno)  # type: ignore[attr-defined]


class _NoTcpOptions:
    """Twisted's UNIX transports inherit its TCP ones: TCP_NODELAY reads as
    off and setting it does nothing."""

    def getTcpNoDelay(self) -> bool:
        """Always False: there is no Nagle algorithm on a UNIX socket."""
        return False

    def setTcpNoDelay(self, enabled: Any) -> None:
        """Ignored."""


@implementer(IUNIXTransport)
class Server(_SendsDescriptors, _NoTcpOptions, tcp.Server):
    """The server side of an accepted UNIX connection."""

    @property
    def hostname(self) -> Any:  # type: ignore[override]
        """The peer's name as accept() gave it: '' when the peer is unnamed,
        the path as text, or an abstract name as bytes (from the address
        the core kept at accept)."""
        name = self._peerAddress().name
        if not name:
            return ""
        return name if name.startswith(b"\0") else os.fsdecode(name)

    def getHost(self) -> UNIXAddress:  # type: ignore[override]
        """The listening socket's name (read once by the core, without a
        duplicate socket object)."""
        self._requireSocket()
        return self._hostAddress()

    def getPeer(self) -> UNIXAddress:  # type: ignore[override]
        """The peer's name; UNIXAddress(None) for an unnamed peer."""
        address = self._peerAddress()
        return address if address.name else UNIXAddress(None)


@implementer(IUNIXTransport)
class Client(_SendsDescriptors, _NoTcpOptions, tcp.BaseClient):
    """The client side of a connection made by connectUNIX."""

    addr: bytes = b""

    @property
    def realAddress(self) -> bytes:
        """The path connected to, as bytes (Twisted's attribute)."""
        return self.addr

    def getPeer(self) -> UNIXAddress:  # type: ignore[override]
        """The path given to connectUNIX."""
        return UNIXAddress(self.addr)

    def getHost(self) -> UNIXAddress:  # type: ignore[override]
        """UNIXAddress(None): a connecting socket has no name."""
        return UNIXAddress(None)

    __repr__ = object.__repr__


# Each concrete class gets its own ``write`` (see tcp.py).
_torsion._install_fast_write(Server)
_torsion._install_fast_write(Client)


class Port(tcp.Port):
    """A listening UNIX socket (IListeningPort)."""

    transport = Server
    addressFamily = socket.AF_UNIX
    _type = "UNIX"
    lockFile: lockfile.FilesystemLock | None = None

    def __init__(
        self,
        fileName: bytes | str,
        factory: Any,
        backlog: int = 50,
        mode: int = 0o666,
        reactor: Any = None,
        wantPID: int = 0,
    ) -> None:
        super().__init__(0, factory, backlog, reactor=reactor)
        name = UNIXAddress(fileName).name
        assert name is not None
        self._bindPath: bytes = name
        self.mode = mode
        self.wantPID = wantPID
        self._hostName: Any = None

    def __repr__(self) -> str:
        cls = self.factory.__class__
        factoryName = f"{cls.__module__}.{cls.__name__}"
        if self._hostName is None:
            return f"<{factoryName} (not listening)>"
        return f"<{factoryName} on {_pathText(self._bindPath)!r}>"

    def createInternetSocket(self) -> socket.socket:
        """A new AF_UNIX stream socket."""
        return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def startListening(self) -> None:
        """Take the lock if asked (removing a dead owner's socket file),
        bind, set the file's mode and listen; CannotListenError otherwise."""
        path = self._bindPath
        _log.info(
            "{prefix} starting on {path}",
            prefix=logPrefixOf(self.factory),
            path=repr(_pathText(path)),
        )
        if self.wantPID:
            self._lock()
        self.factory.doStart()
        skt = self.createInternetSocket()
        try:
            skt.bind(path)
        except OSError as le:
            skt.close()
            raise error.CannotListenError(None, path, le) from None
        if _inFilesystemNamespace(path):
            os.chmod(path, self.mode)
        skt.listen(self.backlog)
        skt.setblocking(False)
        self._hostName = skt.getsockname()
        self._startAccepting(skt, self.factory)

    def _lock(self) -> None:
        lock = lockfile.FilesystemLock(self._bindPath + b".lock")  # type: ignore[arg-type]
        if not lock.lock():
            raise error.CannotListenError(None, self._bindPath, "Cannot acquire lock")
        self.lockFile = lock
        if lock.clean:
            return
        # The previous owner died: its socket file is left over. Remove it
        # if it is a socket (never a file given by mistake); if that fails,
        # bind() reports the problem.
        try:
            if stat.S_ISSOCK(os.stat(self._bindPath).st_mode):
                os.remove(self._bindPath)
        except OSError:
            pass

    def _logConnectionLostMsg(self) -> None:
        _log.info("(UNIX Port {path} Closed)", path=_pathText(self._bindPath))

    def connectionLost(self, reason: Failure) -> None:
        """Remove the socket file and the lock, then close as TCP does (also
        when the file is already gone: the error still reaches the caller,
        as in Twisted, but the socket is closed)."""
        try:
            if self.connected:
                self._hostName = None
                if _inFilesystemNamespace(self._bindPath):
                    os.unlink(self._bindPath)
                if self.lockFile is not None:
                    self.lockFile.unlock()
        finally:
            super().connectionLost(reason)

    def getHost(self) -> UNIXAddress:  # type: ignore[override]
        """The name the socket listens on."""
        if self._hostName is None:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute 'socket'"
            )
        return UNIXAddress(self._hostName)


class _ClientAttempt(tcp.BaseAttempt):
    """A connectUNIX attempt."""

    def __init__(self, path: bytes, connector: Any, reactor: Any, checkPID: Any):
        self.path = path
        self._refusal: Exception | None = None
        if checkPID and not lockfile.isLocked(path + b".lock"):  # type: ignore[arg-type]
            self._refusal = error.BadFileError(path)
        super().__init__(connector, reactor)

    def _begin(self) -> None:
        if self.done:
            return
        if self._refusal is not None:
            self.failIfNotConnected(self._refusal)
            return
        skt = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._connectSocket(skt, lambda _: self.path)

    def _newTransport(self, fd: int) -> Client:
        transport = Client(self.reactor, fd, None, True)
        transport.addr = self.path
        return transport


class Connector(BaseConnector):
    """IConnector for connectUNIX."""

    def __init__(
        self,
        address: bytes | str,
        factory: Any,
        timeout: float | None,
        reactor: Any,
        checkPID: Any,
    ) -> None:
        super().__init__(factory, timeout, reactor)
        self.address = address
        self.checkPID = checkPID

    def _makeTransport(self) -> _ClientAttempt:
        path = UNIXAddress(self.address).name
        assert path is not None
        return _ClientAttempt(path, self, self.reactor, self.checkPID)

    def getDestination(self) -> UNIXAddress:
        """The path being connected to."""
        return UNIXAddress(self.address)
