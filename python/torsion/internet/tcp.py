"""TCP: the transport classes, listening ports and client connectors
(mirrors twisted.internet.tcp).

The data path of a connection is in Rust (the stream transport under
``abstract.FileDescriptor``); these subclasses declare the interfaces and add
what is particular to TCP: its addresses and options.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion import _torsion
from torsion.internet import error
from torsion.internet.abstract import FileDescriptor, logPrefixOf
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.base import BaseConnector
from torsion.internet.defer import Deferred, succeed
from torsion.internet.interfaces import (
    Binding,
    IListeningPort,
    ILoggingContext,
    ITCPTransport,
    _Binding,
)
from torsion.internet.protocol import Protocol
from torsion.logger import Logger
from torsion.python import log
from torsion.python.failure import Failure

_log = Logger()


def _hostText(host: str | bytes) -> str:
    """A host as text (Twisted also accepts bytes host names)."""
    return host.decode("ascii", "replace") if isinstance(host, bytes) else host


def _isIPv6(host: str | bytes) -> bool:
    host = _hostText(host)
    if "%" in host:
        host = host.split("%", 1)[0]
    try:
        socket.inet_pton(socket.AF_INET6, host)
    except (OSError, ValueError):
        return False
    return True


def _isIPv4(host: str | bytes) -> bool:
    host = _hostText(host)
    try:
        socket.inet_pton(socket.AF_INET, host)
    except (OSError, ValueError):
        return False
    return True


@implementer(ITCPTransport)
class Connection(FileDescriptor):
    """A TCP connection (ITCPTransport)."""

    # Twisted's flag from its TLS mixin: this transport does not speak TLS.
    TLS = False

    def getPeer(self) -> IPv4Address | IPv6Address:
        """The remote address."""
        return self._peerAddress()

    def getHost(self) -> IPv4Address | IPv6Address:
        """The local address."""
        self._requireSocket()
        return self._hostAddress()

    def getTcpNoDelay(self) -> bool:
        """Whether TCP_NODELAY is set."""
        self._requireSocket()
        return self._getBoolOption(socket.IPPROTO_TCP, socket.TCP_NODELAY)

    def setTcpNoDelay(self, enabled: Any) -> None:
        """Set TCP_NODELAY; like socket.setsockopt, an int (or bool) turns
        it on when non-zero, and other values raise as setsockopt does."""
        self._setOption(socket.IPPROTO_TCP, socket.TCP_NODELAY, enabled)

    def getTcpKeepAlive(self) -> bool:
        """Whether SO_KEEPALIVE is set."""
        self._requireSocket()
        return self._getBoolOption(socket.SOL_SOCKET, socket.SO_KEEPALIVE)

    def setTcpKeepAlive(self, enabled: Any) -> None:
        """Set SO_KEEPALIVE (values as for setTcpNoDelay)."""
        self._setOption(socket.SOL_SOCKET, socket.SO_KEEPALIVE, enabled)

    def _setOption(self, level: int, name: int, enabled: Any) -> None:
        """An int sets the boolean option natively."""
        self._requireSocket()
        if isinstance(enabled, int):
            self._setBoolOption(level, name, enabled)
            return
        # Anything else goes to setsockopt itself, for its behaviour and
        # its errors (a bytes-like value is passed through as it is).
        self.getHandle().setsockopt(level, name, enabled)


class Server(Connection):
    """The server side of an accepted connection."""

    server: Any = None
    sessionno = 0

    @property
    def hostname(self) -> str:
        """The peer's host, as Twisted's Server has it."""
        return self.getPeer().host

    _protocolPrefix = "-"
    _logstr: str | None = None

    def logPrefix(self) -> str:
        """Twisted's "<protocol prefix>,<session number>,<peer host>", fixed
        when the connection was accepted."""
        if self._logstr is None:
            self._logstr = f"{self._protocolPrefix},{self.sessionno},{self.hostname}"
        return self._logstr

    _repstr = ""

    def __repr__(self) -> str:
        # Fixed when accepted, as Twisted's: it still names the protocol
        # and port after the connection and the port are closed.
        return self._repstr


class BaseClient(Connection):
    """The client side of a connection this process made (what connectTCP
    and connectUNIX share)."""

    _logstr = "Uninitialized"

    def logPrefix(self) -> str:
        """Twisted's "<protocol prefix>,client", fixed once connected."""
        return self._logstr


class Client(BaseClient):
    """The client side of a connection made by connectTCP."""

    _addr: tuple[Any, int] | None = None
    # Twisted reports the IPv4 host as connectTCP was given it, which for
    # bytes is not what the socket says.
    _givenPeer: IPv4Address | None = None

    def getPeer(self) -> IPv4Address | IPv6Address:
        """The remote address."""
        if self._givenPeer is not None:
            return self._givenPeer
        return self._peerAddress()

    def __repr__(self) -> str:
        return f"<{self.__class__} to {self._addr!r} at {id(self):x}>"


def makeBinding(
    interface: str = "",
    port: int = 0,
    reuseAddress: bool = False,
    reusePort: bool = False,
) -> _Binding:
    """How to bind a socket: for ``listenTCP`` as its port, or for
    ``connectTCP`` as its ``bindAddress``. ``reuseAddress`` sets
    SO_REUSEADDR and ``reusePort`` SO_REUSEPORT on the socket."""
    return Binding(_Binding(interface, port, reuseAddress, reusePort))


def _clientBinding(bindAddress: Any) -> _Binding | None:
    """connectTCP's ``bindAddress``: None, a (host, port) tuple or a
    binding; anything else fails an assertion, as in Twisted."""
    if bindAddress is None:
        return None
    if isinstance(bindAddress, tuple):
        bindAddress = makeBinding(*bindAddress)
    assert isinstance(bindAddress, _Binding)
    return bindAddress


def _setReuseOptions(skt: socket.socket, binding: _Binding) -> None:
    if binding._reuseAddress:
        skt.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if binding._reusePort:
        skt.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)


# Each concrete class gets its own ``write`` so that CPython can call it
# directly from ``self.transport.write(data)`` (see rust/py/fast_write.rs).
_torsion._install_fast_write(Server)
_torsion._install_fast_write(Client)


class BaseAttempt:
    """One connection attempt for a connector: starts a non-blocking
    connect on a socket, hands it to the Rust transport, and reports the
    outcome to the connector. Subclasses make the socket (``_begin``, run on
    the next turn) and say which transport class to build."""

    def __init__(self, connector: Any, reactor: Any) -> None:
        self.connector = connector
        self.reactor = reactor
        self.connected = False
        self.done = False
        self._transport: BaseClient | None = None
        reactor.callLater(0, self._begin)

    def _begin(self) -> None:
        raise NotImplementedError

    def _connectSocket(
        self, skt: socket.socket, prepare: Callable[[socket.socket], Any]
    ) -> None:
        """Make ``skt`` non-blocking, ``prepare`` it (bind it if it must be;
        it returns the address to connect to, or None once it has reported
        a failure), and connect; on success the transport from
        ``_newTransport`` takes the descriptor over. ``skt`` is closed on
        any failure."""
        try:
            skt.setblocking(False)
            target = prepare(skt)
            if target is None:
                skt.close()
                return
            result = skt.connect_ex(target)
        except OSError as e:
            skt.close()
            self.failIfNotConnected(error.getConnectError(e))
            return
        except BaseException:
            # A port out of range (OverflowError) reaches the connector's
            # errback as it is, as in Twisted; the socket must not leak.
            skt.close()
            raise
        if result not in (0, errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK):
            skt.close()
            self.failIfNotConnected(
                error.getConnectError((result, os.strerror(result)))
            )
            return
        transport = self._newTransport(skt.detach())
        self._transport = transport
        transport._start(self._connectDone, self._connectionLost)

    def _newTransport(self, fd: int) -> BaseClient:
        raise NotImplementedError

    def _connectDone(self, errno: int | None) -> None:
        transport = self._transport
        if transport is not None and errno is None:
            # Twisted logs what happens here under the prefix the transport
            # had when the event began: "Uninitialized".
            log.callWithContext(
                {"system": transport.logPrefix()}, self._connected, transport
            )
            return
        self._connected(transport, errno)

    def _connected(self, transport: Any, errno: int | None = None) -> None:
        if errno is not None:
            self._transport = None
            self.failIfNotConnected(error.getConnectError((errno, os.strerror(errno))))
            return
        assert transport is not None
        try:
            protocol = self.connector.buildProtocol(transport.getPeer())
        except BaseException:
            # Twisted: logged, the socket closed, and the attempt reported
            # as failed (ConnectError), not as a lost connection.
            reason = Failure()
            log.err(reason)
            self._transport = None
            transport.loseConnection()
            self.failIfNotConnected(error.ConnectError(string=reason))
            return
        self.connected = True
        self.done = True
        self.connector.transport = transport
        if protocol is None:
            # Twisted: a stand-in protocol receives connectionLost, but is
            # never connected.
            transport.protocol = Protocol()
            transport.loseConnection()
            return
        transport.protocol = protocol
        transport._logstr = f"{logPrefixOf(protocol)},client"
        protocol.makeConnection(transport)

    def _connectionLost(self, reason: Failure) -> None:
        if self.connected:
            self.connector.connectionLost(reason)

    def failIfNotConnected(self, err: Any) -> None:
        """Abandon the attempt and report ``err`` to the connector."""
        if self.connected or self.done:
            return
        self.done = True
        if self._transport is not None:
            self._transport._abortConnecting()
            self._transport = None
        if isinstance(err, Failure):
            reason = err
        else:
            reason = Failure(err)
        self.connector.connectionFailed(reason)

    def stopConnecting(self) -> None:
        """Abandon the attempt (UserError)."""
        self.failIfNotConnected(error.UserError())

    def loseConnection(self) -> None:
        """Close the connection if the attempt succeeded."""
        if self._transport is not None and self.connected:
            self._transport.loseConnection()


class _ClientAttempt(BaseAttempt):
    """A connectTCP attempt: resolves the host, binds if asked, connects."""

    def __init__(
        self, host: str, port: int, bindAddress: Any, connector: Any, reactor: Any
    ):
        self.host = host
        self.port = port
        self.bindAddress = _clientBinding(bindAddress)
        super().__init__(connector, reactor)

    def _begin(self) -> None:
        if self.done:
            return
        if _isIPv4(self.host) or _isIPv6(self.host):
            d = succeed(self.host)
        else:
            d = self.reactor.resolve(self.host)
        d.addCallback(self._connect)
        d.addErrback(self.failIfNotConnected)

    def _connect(self, address: str | bytes) -> None:
        if self.done:
            return
        family = socket.AF_INET6 if _isIPv6(address) else socket.AF_INET
        self._address = address

        def prepare(skt: socket.socket) -> Any:
            binding = self.bindAddress
            if binding is not None:
                try:
                    _setReuseOptions(skt, binding)
                    if _isIPv6(binding._address):
                        local: tuple[Any, ...] = socket.getaddrinfo(
                            binding._address,
                            binding._port,
                            socket.AF_INET6,
                            socket.SOCK_STREAM,
                        )[0][4]
                    else:
                        local = (binding._address, binding._port)
                    skt.bind(local)
                except OSError as e:
                    self.failIfNotConnected(error.ConnectBindError(*e.args[:2]))
                    return None
            if family == socket.AF_INET6:
                return socket.getaddrinfo(
                    address, self.port, family, socket.SOCK_STREAM
                )[0][4]
            return (address, self.port)

        self._connectSocket(socket.socket(family, socket.SOCK_STREAM), prepare)

    def _newTransport(self, fd: int) -> Client:
        transport = Client(self.reactor, fd, None, True)
        transport._addr = (self.host, self.port)
        address = self._address
        if isinstance(address, bytes) and not _isIPv6(address):
            transport._givenPeer = IPv4Address("TCP", address, self.port)
        return transport


class Connector(BaseConnector):
    """IConnector for connectTCP."""

    def __init__(
        self,
        host: str,
        port: int | str,
        factory: Any,
        timeout: float | None,
        bindAddress: Any,
        reactor: Any,
    ) -> None:
        if isinstance(port, str):
            try:
                port = socket.getservbyname(port, "tcp")
            except OSError as e:
                raise error.ServiceNameUnknownError(string=f"{e} ({port!r})") from None
        self.host, self.port = host, port
        self._addressType = IPv6Address if _isIPv6(host) else IPv4Address
        self.bindAddress = bindAddress
        super().__init__(factory, timeout, reactor)

    def _makeTransport(self) -> _ClientAttempt:
        return _ClientAttempt(
            self.host, self.port, self.bindAddress, self, self.reactor
        )

    def getDestination(self) -> IPv4Address | IPv6Address:
        """The address being connected to."""
        return self._addressType("TCP", self.host, self.port)


@implementer(IListeningPort, ILoggingContext)
class Port:
    """A listening TCP port (IListeningPort)."""

    transport = Server
    addressFamily = socket.AF_INET
    _type = "TCP"

    def __init__(
        self,
        port: int | _Binding,
        factory: Any,
        backlog: int = 50,
        interface: str = "",
        reactor: Any = None,
    ) -> None:
        if port is None or isinstance(port, int):
            binding = makeBinding(interface, port, reuseAddress=True)  # type: ignore[arg-type]
        else:
            assert isinstance(port, _Binding), f"Binding is {port}"
            binding = port
            if interface != "" and binding._address != interface:
                raise ValueError("Inconsistent interface vs Binding specifiers")
        self.port = binding._port
        self.interface = "" if binding._address is None else binding._address
        self._binding = binding
        self.factory = factory
        self.backlog = backlog
        # As in Twisted, the family follows the ``interface`` argument, not
        # the binding's address.
        if _isIPv6(interface):
            self.addressFamily = socket.AF_INET6
            self._addressType: type = IPv6Address
        else:
            self._addressType = IPv4Address
        self.reactor = reactor
        self.connected = False
        self.disconnecting = False
        # Twisted's flag: 1 once the port has stopped listening.
        self.disconnected = 0
        self._realPortNumber: int | None = None
        self._hostTuple: tuple[Any, ...] | None = None
        self._native: Any = None
        self.sessionno = 0
        self.deferred: Deferred[None] | None = None

    def __repr__(self) -> str:
        if self._realPortNumber is not None:
            return f"<{self.__class__} of {self.factory.__class__} on {self._realPortNumber}>"
        return f"<{self.__class__} of {self.factory.__class__} (not listening)>"

    def createInternetSocket(self) -> socket.socket:
        """A new socket of this port's family, close-on-exec, with the
        binding's options (SO_REUSEADDR for a port given as a number)."""
        s = socket.socket(self.addressFamily, socket.SOCK_STREAM)
        _setReuseOptions(s, self._binding)
        return s

    def startListening(self) -> None:
        """Bind and listen; CannotListenError with the OS reason on failure."""
        skt: socket.socket | None = None
        try:
            skt = self.createInternetSocket()
            if self.addressFamily == socket.AF_INET6:
                addr: tuple[Any, ...] = socket.getaddrinfo(
                    self.interface, self.port, socket.AF_INET6, socket.SOCK_STREAM
                )[0][4]
            else:
                addr = (self.interface, self.port)
            skt.bind(addr)
        except OSError as le:
            if skt is not None:
                skt.close()
            raise error.CannotListenError(self.interface, self.port, le) from None
        skt.listen(self.backlog)
        skt.setblocking(False)
        self._hostTuple = skt.getsockname()
        self._realPortNumber = self._hostTuple[1]
        _log.info(
            "{prefix} starting on {port}",
            prefix=logPrefixOf(self.factory),
            port=self._realPortNumber,
        )
        self.factory.doStart()
        self._startAccepting(skt, self.factory)

    def _startAccepting(self, skt: socket.socket, factory: Any) -> None:
        """Hand the listening socket to the Rust port, which calls
        ``factory.buildProtocol`` for each connection it accepts."""
        self.connected = True
        self._native = _torsion.ListeningPort(
            self.reactor, skt.detach(), factory, self._buildTransport, self
        )
        self._native.startReading()

    def _buildTransport(self, reactor: Any, fd: int, protocol: Any) -> Server:
        transport = self.transport(reactor, fd, protocol)
        transport.server = self
        transport.sessionno = self.sessionno
        transport._protocolPrefix = logPrefixOf(protocol)
        transport._repstr = f"<{protocol.__class__.__name__} #{self.sessionno} on {self._realPortNumber}>"
        self.sessionno += 1
        return transport

    def startReading(self) -> None:
        """Resume accepting connections."""
        if self._native is not None and self.connected:
            self._native.startReading()

    def stopReading(self) -> None:
        """Stop accepting connections (the socket stays open)."""
        if self._native is not None:
            self._native.stopReading()

    def loseConnection(self, connDone: Any = None) -> Deferred[None] | None:
        """Stop listening; the Deferred fires once the port is closed."""
        from torsion.internet.task import deferLater

        self.disconnecting = True
        self.stopReading()
        if self.connected:
            reason = (
                connDone if connDone is not None else Failure(error.ConnectionDone())
            )
            self.deferred = deferLater(self.reactor, 0, self.connectionLost, reason)
            return self.deferred
        return None

    stopListening = loseConnection

    def connectionLost(self, reason: Failure) -> None:
        """Close the socket and stop the factory."""
        if not self.connected:
            return
        self._logConnectionLostMsg()
        self._realPortNumber = None
        self._hostTuple = None
        self.connected = False
        self.disconnected = 1
        if self._native is not None:
            self._native.close()
        try:
            self.factory.doStop()
        finally:
            self.disconnecting = False

    def _logConnectionLostMsg(self) -> None:
        _log.info(
            "({type} Port {port} Closed)", type=self._type, port=self._realPortNumber
        )

    def logPrefix(self) -> str:
        """The factory's class, qualified."""
        cls = self.factory.__class__
        return f"{cls.__module__}.{cls.__qualname__}"

    def getHost(self) -> IPv4Address | IPv6Address:
        """The address the port listens on."""
        if self._hostTuple is None:
            # Twisted's Port has no socket before it listens or once it
            # has stopped, and says so.
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute 'socket'"
            )
        return self._addressType("TCP", *self._hostTuple[:2])

    def fileno(self) -> int:
        """The listening descriptor, or -1."""
        return self._native.fileno() if self._native is not None else -1


__all__ = ["Client", "Connection", "Connector", "Port", "Server", "log"]
