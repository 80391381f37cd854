"""UDP ports (mirrors twisted.internet.udp).

Receiving is in Rust (``_torsion.DatagramPort``): it drains the socket in
batches and calls ``protocol.datagramReceived(data, (host, port))`` for each
datagram. This class binds the socket, checks addresses and translates
errors as Twisted's ``udp.Port`` does.
"""

from __future__ import annotations

import errno
import os
import socket
import warnings
from typing import Any

from zope.interface import implementer

from torsion import _torsion
from torsion.internet import error
from torsion.internet.abstract import logPrefixOf
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IListeningPort,
    ILoggingContext,
    ISystemHandle,
    IUDPTransport,
)
from torsion.internet.tcp import _hostText, _isIPv4, _isIPv6
from torsion.python import log


def _bytesOf(data: Any) -> bytes:
    """``data`` as bytes: any bytes-like object is taken, as by sendto."""
    if type(data) is bytes:
        return data
    try:
        return bytes(memoryview(data))
    except TypeError:
        raise TypeError(
            f"a bytes-like object is required, not '{type(data).__name__}'"
        ) from None


_BROADCAST = -1
_families: dict[Any, int] = {}


def _hostFamily(host: Any) -> int:
    """AF_INET or AF_INET6 for an IP address, _BROADCAST for
    "<broadcast>", 0 for anything else (remembered: a port usually writes
    to few hosts, many times)."""
    family = _families.get(host)
    if family is None:
        if host == "<broadcast>":
            family = _BROADCAST
        elif _isIPv4(host):
            family = socket.AF_INET
        elif _isIPv6(host):
            family = socket.AF_INET6
        else:
            family = 0
        if len(_families) >= 4096:
            _families.clear()
        _families[host] = family
    return family


@implementer(IListeningPort, IUDPTransport, ISystemHandle, ILoggingContext)
class Port:
    """A UDP port: receives datagrams for its protocol and sends its writes."""

    addressFamily: socket.AddressFamily = socket.AF_INET
    socketType: socket.SocketKind = socket.SOCK_DGRAM
    maxThroughput = 256 * 1024

    _realPortNumber: int | None = None

    def __init__(
        self,
        port: int,
        proto: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        reactor: Any = None,
    ) -> None:
        if reactor is None:
            from torsion.internet import reactor as globalReactor

            reactor = globalReactor
        self.reactor = reactor
        self.port = port
        self.protocol = proto
        self.maxPacketSize = maxPacketSize
        self.interface = interface
        self.connected = 0
        self.disconnected = 0
        self.disconnecting = False
        self._connectedAddr: tuple[str, int] | None = None
        self._native: Any = None
        self._handle: socket.socket | None = None
        self._stopped: Deferred[None] | None = None
        self.logstr = f"{logPrefixOf(proto)} (UDP)"
        if _isIPv6(interface):
            self.addressFamily = socket.AF_INET6
        elif _isIPv4(interface):
            self.addressFamily = socket.AF_INET
        elif interface:
            raise error.InvalidAddressError(interface, "not an IPv4 or IPv6 address.")

    def __repr__(self) -> str:
        if self._realPortNumber is not None:
            return f"<{self.protocol.__class__} on {self._realPortNumber}>"
        return f"<{self.protocol.__class__} not connected>"

    def createInternetSocket(self) -> socket.socket:
        """A new non-blocking datagram socket of this port's family."""
        skt = socket.socket(self.addressFamily, self.socketType)
        skt.setblocking(False)
        return skt

    def startListening(self) -> None:
        """Bind the socket, start the protocol, and begin receiving."""
        self._bindSocket()
        self._connectToProtocol()

    def _bindSocket(self) -> None:
        skt: socket.socket | None = None
        try:
            skt = self.createInternetSocket()
            skt.bind((self.interface, self.port))
        except OSError as le:
            if skt is not None:
                skt.close()
            raise error.CannotListenError(self.interface, self.port, le) from None
        self._realPortNumber = skt.getsockname()[1]
        log.msg(f"{logPrefixOf(self.protocol)} starting on {self._realPortNumber}")
        self.connected = 1
        self._native = _torsion.DatagramPort(
            self.reactor, skt.detach(), self.protocol, self, self.maxPacketSize
        )

    def _connectToProtocol(self) -> None:
        self.protocol.makeConnection(self)
        self.startReading()

    def startReading(self) -> None:
        """Deliver datagrams to the protocol."""
        if self._native is not None and self.connected:
            self._native.startReading()

    def stopReading(self) -> None:
        """Stop delivering datagrams (the socket stays open)."""
        if self._native is not None:
            self._native.stopReading()

    def _requireSocket(self) -> Any:
        native = self._native
        if native is None or self.disconnected:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute 'socket'"
            )
        return native

    def fileno(self) -> int:
        """The socket's descriptor."""
        return self._requireSocket().fileno()  # type: ignore[no-any-return]

    def getHandle(self) -> socket.socket:
        """A socket object for this port (a duplicate descriptor, made on
        first use and closed with the port)."""
        native = self._requireSocket()
        if self._handle is None:
            self._handle = socket.socket(
                self.addressFamily, self.socketType, fileno=os.dup(native.fileno())
            )
        return self._handle

    @property
    def socket(self) -> socket.socket:
        """Twisted's ``port.socket``: see getHandle()."""
        return self.getHandle()

    def write(self, datagram: bytes, addr: tuple[str, int] | None = None) -> Any:
        """Send ``datagram`` to ``addr`` (a (host, port) with an IP address),
        or to the connected peer."""
        datagram = _bytesOf(datagram)
        if self._connectedAddr:
            if addr not in (None, self._connectedAddr):
                raise AssertionError()
            native = self._requireSocket()
            try:
                return native.write(datagram)
            except OSError as se:
                if se.errno == errno.EMSGSIZE:
                    raise error.MessageLengthError("message too long") from None
                if se.errno == errno.ECONNREFUSED:
                    self.protocol.connectionRefused()
                    return None
                raise
        if addr is None:
            raise AssertionError()
        host = addr[0]
        family = _hostFamily(host)
        if family == _BROADCAST:
            if self.addressFamily == socket.AF_INET6:
                raise error.InvalidAddressError(
                    host, "IPv6 port write() called with IPv4 or broadcast address"
                )
            host = "255.255.255.255"
        elif family != self.addressFamily:
            if family == socket.AF_INET:
                raise error.InvalidAddressError(
                    host, "IPv6 port write() called with IPv4 or broadcast address"
                )
            if family == socket.AF_INET6:
                raise error.InvalidAddressError(
                    host, "IPv4 port write() called with IPv6 address"
                )
            raise error.InvalidAddressError(
                host, "write() only accepts IP addresses, not hostnames"
            )
        native = self._requireSocket()
        try:
            return native.write(datagram, _hostText(host), addr[1])
        except OSError as se:
            if se.errno == errno.EMSGSIZE:
                raise error.MessageLengthError("message too long") from None
            if se.errno == errno.ECONNREFUSED:
                return None
            raise

    def writeSequence(self, seq: Any, addr: tuple[str, int] | None) -> None:
        """Send the concatenation of ``seq`` as one datagram."""
        self.write(b"".join(seq), addr)

    def connect(self, host: str, port: int) -> None:
        """Send to, and receive from, ``host``:``port`` only."""
        if self._connectedAddr:
            raise RuntimeError(
                "already connected, reconnecting is not currently supported"
            )
        if not _isIPv4(host) and not _isIPv6(host):
            raise error.InvalidAddressError(host, "not an IPv4 or IPv6 address.")
        self._connectedAddr = (host, port)
        self._requireSocket().connect(host, port)

    def stopListening(self) -> Deferred[None] | None:
        """Stop receiving and close; the Deferred fires once closed."""
        result: Deferred[None] | None = None
        if self.connected:
            result = self._stopped = Deferred()
        self.stopReading()
        if self.connected:
            self.reactor.callLater(0, self.connectionLost)
        return result

    def loseConnection(self) -> None:
        """Deprecated in Twisted: stopListening() without its Deferred."""
        warnings.warn(
            "Please use stopListening() to disconnect port",
            DeprecationWarning,
            stacklevel=2,
        )
        self.stopListening()

    def connectionLost(self, reason: Any = None) -> None:
        """Close the socket and stop the protocol."""
        if self.disconnected:
            return
        log.msg(f"(UDP Port {self._realPortNumber} Closed)")
        self._realPortNumber = None
        self.maxThroughput = -1
        self.disconnected = 1
        self.connected = 0
        self.stopReading()
        try:
            self.protocol.doStop()
        finally:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
            if self._native is not None:
                self._native.close()
        stopped, self._stopped = self._stopped, None
        if stopped is not None:
            stopped.callback(None)

    def logPrefix(self) -> str:
        """The protocol's prefix, followed by " (UDP)"."""
        return self.logstr

    def getHost(self) -> IPv4Address | IPv6Address:
        """The local address."""
        addr = self.getHandle().getsockname()
        if self.addressFamily == socket.AF_INET6:
            return IPv6Address("UDP", *addr[:2])
        return IPv4Address("UDP", *addr)

    def setBroadcastAllowed(self, enabled: Any) -> None:
        """Allow (or forbid) sending to broadcast addresses."""
        self.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, enabled)

    def getBroadcastAllowed(self) -> bool:
        """Whether sending to broadcast addresses is allowed."""
        return bool(self.getHandle().getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST))


__all__ = ["Port"]
