"""Fakes and assertions for unit tests of code written against torsion.

Transports, reactors and protocols that record what was done to them, and
the result helpers Twisted's test cases offer (``successResultOf``,
``failureResultOf``, ``assertNoResult``, ``flushLoggedErrors``), here both as
plain functions (for pytest) and as ``TestCaseMixin`` methods (for unittest).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from io import BytesIO
from typing import Any, NoReturn, TypeVar, overload

from zope.interface import implementer

from torsion.internet import address, error, protocol, task
from torsion.internet.address import IPv4Address, IPv6Address, UNIXAddress
from torsion.internet.defer import Deferred, ensureDeferred
from torsion.internet.error import UnsupportedAddressFamily
from torsion.internet.interfaces import (
    IConnector,
    IConsumer,
    IHostnameResolver,
    IHostResolution,
    IListeningPort,
    IPushProducer,
    IReactorCore,
    IReactorFDSet,
    IReactorPluggableNameResolver,
    IReactorSocket,
    IReactorSSL,
    IReactorTCP,
    IReactorUNIX,
    ITransport,
    IUDPTransport,
)
from torsion.internet.task import Clock
from torsion.python import failure

__all__ = [
    "AccumulatingProtocol",
    "LineSendingProtocol",  # noqa: F822 (made on first access)
    "FakeDatagramTransport",
    "StringTransport",
    "StringTransportWithDisconnection",
    "StringIOWithoutClosing",
    "MemoryReactor",
    "MemoryReactorClock",
    "RaisingMemoryReactor",
    "NonStreamingProducer",
    "SynchronousResolver",
    "waitUntilAllDisconnected",
    "EventLoggingObserver",
    "successResultOf",
    "failureResultOf",
    "assertNoResult",
    "flushLoggedErrors",
    "TestCaseMixin",
]

_T = TypeVar("_T")


def _isIPv6(addr: object) -> bool:
    if isinstance(addr, bytes):
        try:
            addr = addr.decode("ascii")
        except UnicodeDecodeError:
            return False
    if not isinstance(addr, str):
        return False
    try:
        socket.inet_pton(socket.AF_INET6, addr.split("%", 1)[0])
    except (ValueError, OSError):
        return False
    return True


class AccumulatingProtocol(protocol.Protocol):
    """A protocol that keeps what it receives and notes connect/disconnect.

    ``made``/``closed`` become 1; ``data`` accumulates; ``closedReason`` is
    the Failure given to ``connectionLost``; ``closedDeferred`` (if set)
    fires then, and the factory's ``protocolConnectionMade`` Deferred (if
    set) fires with the protocol on ``connectionMade``.
    """

    made = 0
    closed = 0
    closedReason: failure.Failure | None = None
    closedDeferred: Deferred[None] | None = None
    data = b""
    factory: Any = None

    def connectionMade(self) -> None:
        """Mark the connection made and fire the factory's Deferred."""
        self.made = 1
        factory = self.factory
        if factory is not None and factory.protocolConnectionMade is not None:
            d = factory.protocolConnectionMade
            factory.protocolConnectionMade = None
            d.callback(self)

    def dataReceived(self, data: bytes) -> None:
        """Append ``data`` to ``self.data``."""
        self.data += data

    def connectionLost(self, reason: Any = None) -> None:
        """Record the reason and fire ``closedDeferred``."""
        self.closed = 1
        self.closedReason = reason
        if self.closedDeferred is not None:
            d, self.closedDeferred = self.closedDeferred, None
            d.callback(None)


def _makeLineSendingProtocol() -> type:
    from torsion.protocols import basic

    class LineSendingProtocol(basic.LineReceiver):  # type: ignore[misc,name-defined]
        """Sends ``lines`` on connect (or after the first line received)."""

        lostConn = False

        def __init__(self, lines: list[bytes], start: bool = True) -> None:
            self.lines = lines[:]
            self.response: list[bytes] = []
            self.start = start

        def connectionMade(self) -> None:
            """Send the lines now if ``start`` is true."""
            if self.start:
                for line in self.lines:
                    self.sendLine(line)

        def lineReceived(self, line: bytes) -> None:
            """Record the line; send ours first if we were waiting to."""
            if not self.start:
                for ours in self.lines:
                    self.sendLine(ours)
                self.lines = []
            self.response.append(line)

        def connectionLost(self, reason: Any = None) -> None:
            """Note that the connection is gone."""
            self.lostConn = True

    LineSendingProtocol.__module__ = __name__
    LineSendingProtocol.__qualname__ = "LineSendingProtocol"
    return LineSendingProtocol


def __getattr__(name: str) -> Any:
    if name == "LineSendingProtocol":
        cls = _makeLineSendingProtocol()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@implementer(IUDPTransport)
class FakeDatagramTransport:
    """Records ``(packet, addr)`` pairs written to it in ``written``."""

    noAddr = object()

    def __init__(self) -> None:
        self.written: list[tuple[bytes, Any]] = []

    def write(self, packet: bytes, addr: Any = noAddr) -> None:
        """Record a datagram."""
        self.written.append((packet, addr))


@implementer(ITransport, IConsumer, IPushProducer)
class StringTransport:
    """A transport that keeps written bytes in memory and records its state.

    ``disconnecting`` becomes True on ``loseConnection``; ``disconnected`` on
    ``abortConnection``; ``producer``/``streaming`` hold the registered
    producer; ``producerState`` is 'producing', 'paused' or 'stopped'.
    """

    disconnecting = False
    disconnected = False
    producer: Any = None
    streaming: Any = None
    hostAddr: Any = None
    peerAddr: Any = None
    producerState = "producing"

    def __init__(
        self, hostAddress: Any = None, peerAddress: Any = None, lenient: bool = False
    ) -> None:
        self.clear()
        if hostAddress is not None:
            self.hostAddr = hostAddress
        if peerAddress is not None:
            self.peerAddr = peerAddress
        self.connected = True
        self._lenient = lenient

    def clear(self) -> None:
        """Forget everything written so far."""
        self.io = BytesIO()

    def value(self) -> bytes:
        """Return all bytes written since the last ``clear``."""
        return self.io.getvalue()

    def write(self, data: bytes) -> None:
        """Buffer ``data``; TypeError unless it is bytes."""
        if not isinstance(data, bytes):
            raise TypeError("Data must be bytes")
        self.io.write(data)

    def writeSequence(self, data: Sequence[bytes]) -> None:
        """Buffer the concatenation of ``data``."""
        self.io.write(b"".join(data))

    def loseConnection(self) -> None:
        """Record the request to close: sets ``disconnecting``."""
        self.disconnecting = True

    def abortConnection(self) -> None:
        """Record an abort: sets ``disconnected`` and ``disconnecting``."""
        self.disconnected = True
        self.loseConnection()

    def getPeer(self) -> Any:
        """Return ``peerAddr``, or IPv4Address('TCP', '192.168.1.1', 54321)."""
        if self.peerAddr is None:
            return address.IPv4Address("TCP", "192.168.1.1", 54321)
        return self.peerAddr

    def getHost(self) -> Any:
        """Return ``hostAddr``, or IPv4Address('TCP', '10.0.0.1', 12345)."""
        if self.hostAddr is None:
            return address.IPv4Address("TCP", "10.0.0.1", 12345)
        return self.hostAddr

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Register a producer; RuntimeError if one already is."""
        if self.producer is not None:
            raise RuntimeError("Cannot register two producers")
        self.producer = producer
        self.streaming = streaming

    def unregisterProducer(self) -> None:
        """Unregister the producer; RuntimeError if none is registered."""
        if self.producer is None:
            raise RuntimeError("Cannot unregister a producer unless one is registered")
        self.producer = None
        self.streaming = None

    def _checkState(self) -> None:
        if self.disconnecting and not self._lenient:
            raise RuntimeError("Cannot resume producing after loseConnection")
        if self.producerState == "stopped":
            raise RuntimeError("Cannot resume a stopped producer")

    def pauseProducing(self) -> None:
        """Move to the 'paused' state."""
        self._checkState()
        self.producerState = "paused"

    def stopProducing(self) -> None:
        """Move to the 'stopped' state."""
        self.producerState = "stopped"

    def resumeProducing(self) -> None:
        """Move to the 'producing' state."""
        self._checkState()
        self.producerState = "producing"


class StringTransportWithDisconnection(StringTransport):
    """A StringTransport whose ``loseConnection`` calls the protocol's
    ``connectionLost`` with ConnectionDone, once."""

    protocol: Any

    def loseConnection(self) -> None:
        """Disconnect and tell ``self.protocol``, the first time only."""
        if self.connected:
            self.connected = False
            self.protocol.connectionLost(failure.Failure(error.ConnectionDone("Bye.")))


class StringIOWithoutClosing(BytesIO):
    """A BytesIO whose ``close`` does nothing."""

    def close(self) -> None:
        """Do nothing."""


@implementer(IListeningPort)
class _FakePort:
    def __init__(self, hostAddress: Any) -> None:
        self._hostAddress = hostAddress

    def startListening(self) -> None:
        """Do nothing."""

    def stopListening(self) -> None:
        """Do nothing."""

    def getHost(self) -> Any:
        """Return the address given at creation."""
        return self._hostAddress


@implementer(IConnector)
class _FakeConnector:
    _disconnected = False
    stoppedConnecting = False

    def __init__(self, address: Any) -> None:
        self._address = address

    def stopConnecting(self) -> None:
        """Record that connecting was stopped."""
        self.stoppedConnecting = True

    def disconnect(self) -> None:
        """Record a disconnect."""
        self._disconnected = True

    def connect(self) -> None:
        """Do nothing."""

    def getDestination(self) -> Any:
        """Return the address given at creation."""
        return self._address


@implementer(IHostResolution)
class _SynchronousResolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _SynchronousResolution):
            return NotImplemented
        return self.name == other.name

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"_SynchronousResolution(name={self.name!r})"

    def cancel(self) -> None:
        """Cannot happen: resolution is already complete."""
        raise Exception("already resolved")


@implementer(IHostnameResolver)
class SynchronousResolver:
    """Resolves every name at once to 127.0.0.1, keeping the port."""

    def resolveHostName(
        self,
        resolutionReceiver: Any,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Any = None,
        transportSemantics: str = "TCP",
    ) -> Any:
        """Deliver IPv4Address('TCP', '127.0.0.1', portNumber) and finish."""
        resolution = _SynchronousResolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        resolutionReceiver.addressResolved(IPv4Address("TCP", "127.0.0.1", portNumber))
        resolutionReceiver.resolutionComplete()
        return resolution


@implementer(
    IReactorCore,
    IReactorTCP,
    IReactorSSL,
    IReactorUNIX,
    IReactorSocket,
    IReactorFDSet,
    IReactorPluggableNameResolver,
)
class MemoryReactor:
    """A fake reactor recording listen/connect calls; connections never happen.

    ``tcpServers``, ``tcpClients``, ``sslServers``, ``sslClients``,
    ``unixServers``, ``unixClients``, ``adoptedPorts`` and
    ``adoptedStreamConnections`` hold the arguments of each call.
    """

    def __init__(self) -> None:
        self.hasInstalled = False
        self.running: bool | None = False
        self.hasRun = False
        self.hasStopped = False
        self.hasCrashed = False
        self.whenRunningHooks: list[tuple[Callable[..., object], Any, Any]] = []
        self.triggers: dict[str, dict[str, list[Any]]] = {}
        self.tcpClients: list[tuple[Any, ...]] = []
        self.tcpServers: list[tuple[Any, ...]] = []
        self.sslClients: list[tuple[Any, ...]] = []
        self.sslServers: list[tuple[Any, ...]] = []
        self.unixClients: list[tuple[Any, ...]] = []
        self.unixServers: list[tuple[Any, ...]] = []
        self.udpPorts: list[tuple[Any, ...]] = []
        self.adoptedPorts: list[tuple[Any, ...]] = []
        self.adoptedStreamConnections: list[tuple[Any, ...]] = []
        self.connectors: list[_FakeConnector] = []
        self.readers: set[Any] = set()
        self.writers: set[Any] = set()
        self.nameResolver: Any = SynchronousResolver()

    def installNameResolver(self, resolver: Any) -> Any:
        """Use ``resolver``; return the previous one."""
        previous, self.nameResolver = self.nameResolver, resolver
        return previous

    def install(self) -> None:
        """Record installation (sets ``hasInstalled``)."""
        self.hasInstalled = True

    def resolve(self, name: str, timeout: int = 10) -> NoReturn:
        """Not implemented."""
        raise NotImplementedError()

    def run(self) -> None:
        """Run the ``callWhenRunning`` hooks, then stop at once."""
        assert self.running is False
        self.running = True
        self.hasRun = True
        for f, args, kwargs in self.whenRunningHooks:
            f(*args, **kwargs)
        self.stop()

    def stop(self) -> None:
        """Record a stop: ``running`` False, ``hasStopped`` True."""
        self.running = False
        self.hasStopped = True

    def crash(self) -> None:
        """Record a crash: ``running`` None, ``hasCrashed`` True."""
        self.running = None
        self.hasCrashed = True

    def iterate(self, delay: float = 0) -> NoReturn:
        """Not implemented."""
        raise NotImplementedError()

    def fireSystemEvent(self, eventType: str) -> NoReturn:
        """Not implemented."""
        raise NotImplementedError()

    def addSystemEventTrigger(
        self,
        phase: str,
        eventType: str,
        callable: Callable[..., object],
        *args: Any,
        **kw: Any,
    ) -> None:
        """Record the trigger in ``triggers[phase][eventType]``."""
        byEvent = self.triggers.setdefault(phase, {})
        byEvent.setdefault(eventType, []).append((callable, args, kw))

    def removeSystemEventTrigger(self, triggerID: Any) -> NoReturn:
        """Not implemented."""
        raise NotImplementedError()

    def callWhenRunning(
        self, callable: Callable[..., object], *args: Any, **kw: Any
    ) -> None:
        """Call now if the reactor has ever run, else keep for ``run``."""
        if self.running or self.hasRun:
            callable(*args, **kw)
            return None
        self.whenRunningHooks.append((callable, args, kw))
        return None

    def adoptStreamPort(self, fileno: int, addressFamily: int, factory: Any) -> Any:
        """Record the call; return a fake port on port 1234."""
        if addressFamily == socket.AF_INET:
            addr: Any = IPv4Address("TCP", "0.0.0.0", 1234)
        elif addressFamily == socket.AF_INET6:
            addr = IPv6Address("TCP", "::", 1234)
        else:
            raise UnsupportedAddressFamily()
        self.adoptedPorts.append((fileno, addressFamily, factory))
        return _FakePort(addr)

    def adoptStreamConnection(
        self, fileDescriptor: int, addressFamily: int, factory: Any
    ) -> None:
        """Record the call."""
        self.adoptedStreamConnections.append((fileDescriptor, addressFamily, factory))

    def adoptDatagramPort(
        self, fileno: int, addressFamily: int, protocol: Any, maxPacketSize: int = 8192
    ) -> Any:
        """Record the call; return a fake UDP port on port 1234."""
        if addressFamily == socket.AF_INET:
            addr: Any = IPv4Address("UDP", "0.0.0.0", 1234)
        elif addressFamily == socket.AF_INET6:
            addr = IPv6Address("UDP", "::", 1234)
        else:
            raise UnsupportedAddressFamily()
        self.adoptedPorts.append((fileno, addressFamily, protocol, maxPacketSize))
        return _FakePort(addr)

    def listenTCP(
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> Any:
        """Record ``(port, factory, backlog, interface)``; return a fake port."""
        self.tcpServers.append((port, factory, backlog, interface))
        if _isIPv6(interface):
            return _FakePort(IPv6Address("TCP", interface, port))
        return _FakePort(IPv4Address("TCP", "0.0.0.0", port))

    def connectTCP(
        self,
        host: str,
        port: int,
        factory: Any,
        timeout: float = 30,
        bindAddress: Any = None,
    ) -> Any:
        """Record the call, tell the factory it started connecting, return
        the connector."""
        self.tcpClients.append((host, port, factory, timeout, bindAddress))
        if _isIPv6(host):
            conn = _FakeConnector(IPv6Address("TCP", host, port))
        else:
            conn = _FakeConnector(IPv4Address("TCP", host, port))
        factory.startedConnecting(conn)
        self.connectors.append(conn)
        return conn

    def listenSSL(
        self,
        port: int,
        factory: Any,
        contextFactory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> Any:
        """Record the call; return a fake port."""
        self.sslServers.append((port, factory, contextFactory, backlog, interface))
        return _FakePort(IPv4Address("TCP", "0.0.0.0", port))

    def connectSSL(
        self,
        host: str,
        port: int,
        factory: Any,
        contextFactory: Any,
        timeout: float = 30,
        bindAddress: Any = None,
    ) -> Any:
        """Record the call; return a fake connector."""
        self.sslClients.append(
            (host, port, factory, contextFactory, timeout, bindAddress)
        )
        conn = _FakeConnector(IPv4Address("TCP", host, port))
        factory.startedConnecting(conn)
        self.connectors.append(conn)
        return conn

    def listenUNIX(
        self,
        address: Any,
        factory: Any,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: int = 0,
    ) -> Any:
        """Record the call; return a fake port."""
        self.unixServers.append((address, factory, backlog, mode, wantPID))
        return _FakePort(UNIXAddress(address))

    def connectUNIX(
        self, address: Any, factory: Any, timeout: float = 30, checkPID: int = 0
    ) -> Any:
        """Record the call; return a fake connector."""
        self.unixClients.append((address, factory, timeout, checkPID))
        conn = _FakeConnector(UNIXAddress(address))
        factory.startedConnecting(conn)
        self.connectors.append(conn)
        return conn

    def listenUDP(
        self,
        port: int,
        protocol: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
    ) -> Any:
        """Record ``(port, protocol, interface, maxPacketSize)`` in ``udpPorts``."""
        self.udpPorts.append((port, protocol, interface, maxPacketSize))
        if _isIPv6(interface):
            return _FakePort(IPv6Address("UDP", interface, port))
        return _FakePort(IPv4Address("UDP", "0.0.0.0", port))

    def addReader(self, reader: Any) -> None:
        """Add to ``readers``."""
        self.readers.add(reader)

    def removeReader(self, reader: Any) -> None:
        """Remove from ``readers`` if present."""
        self.readers.discard(reader)

    def addWriter(self, writer: Any) -> None:
        """Add to ``writers``."""
        self.writers.add(writer)

    def removeWriter(self, writer: Any) -> None:
        """Remove from ``writers`` if present."""
        self.writers.discard(writer)

    def getReaders(self) -> list[Any]:
        """Return the readers as a list."""
        return list(self.readers)

    def getWriters(self) -> list[Any]:
        """Return the writers as a list."""
        return list(self.writers)

    def removeAll(self) -> list[Any]:
        """Remove every reader and writer; return them."""
        removed = list(self.readers | self.writers)
        self.readers.clear()
        self.writers.clear()
        return removed


class MemoryReactorClock(MemoryReactor, Clock):
    """A MemoryReactor that is also a Clock (``callLater``, ``advance``)."""

    def __init__(self) -> None:
        MemoryReactor.__init__(self)
        Clock.__init__(self)


@implementer(
    IReactorTCP,
    IReactorSSL,
    IReactorUNIX,
    IReactorSocket,
    IReactorPluggableNameResolver,
)
class RaisingMemoryReactor:
    """A fake reactor whose listen methods raise ``listenException`` and
    connect methods raise ``connectException``."""

    def __init__(
        self,
        listenException: BaseException | None = None,
        connectException: BaseException | None = None,
    ) -> None:
        self._listenException = listenException
        self._connectException = connectException
        self.nameResolver: Any = SynchronousResolver()

    def installNameResolver(self, nameResolver: Any) -> Any:
        """Use ``nameResolver``; return the previous one."""
        previous, self.nameResolver = self.nameResolver, nameResolver
        return previous

    def _listenFails(self, *args: Any, **kw: Any) -> NoReturn:
        raise self._listenException  # type: ignore[misc]

    def _connectFails(self, *args: Any, **kw: Any) -> NoReturn:
        raise self._connectException  # type: ignore[misc]

    def adoptStreamPort(
        self, fileno: int, addressFamily: int, factory: Any
    ) -> NoReturn:
        """Raise the listen exception."""
        self._listenFails()

    def listenTCP(
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> NoReturn:
        """Raise the listen exception."""
        self._listenFails()

    def connectTCP(
        self,
        host: str,
        port: int,
        factory: Any,
        timeout: float = 30,
        bindAddress: Any = None,
    ) -> NoReturn:
        """Raise the connect exception."""
        self._connectFails()

    def listenSSL(
        self,
        port: int,
        factory: Any,
        contextFactory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> NoReturn:
        """Raise the listen exception."""
        self._listenFails()

    def connectSSL(
        self,
        host: str,
        port: int,
        factory: Any,
        contextFactory: Any,
        timeout: float = 30,
        bindAddress: Any = None,
    ) -> NoReturn:
        """Raise the connect exception."""
        self._connectFails()

    def listenUNIX(
        self,
        address: Any,
        factory: Any,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: int = 0,
    ) -> NoReturn:
        """Raise the listen exception."""
        self._listenFails()

    def connectUNIX(
        self, address: Any, factory: Any, timeout: float = 30, checkPID: int = 0
    ) -> NoReturn:
        """Raise the connect exception."""
        self._connectFails()

    def adoptDatagramPort(
        self, fileDescriptor: int, addressFamily: int, protocol: Any, maxPacketSize: int
    ) -> NoReturn:
        """Raise the connect exception."""
        self._connectFails()

    def adoptStreamConnection(
        self, fileDescriptor: int, addressFamily: int, factory: Any
    ) -> NoReturn:
        """Raise the connect exception."""
        self._connectFails()


class NonStreamingProducer:
    """A pull producer that writes b'0'..b'9' to its consumer, then ends.

    ``result`` fires with None when it is done or stopped.
    """

    counter = 0
    stopped = False

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.result: Deferred[None] = Deferred()

    def resumeProducing(self) -> None:
        """Write the next number; after the tenth, unregister and finish."""
        if self.consumer is None or self.counter >= 10:
            raise RuntimeError("BUG: resume after unregister/stop.")
        self.consumer.write(b"%d" % (self.counter,))
        self.counter += 1
        if self.counter == 10:
            self.consumer.unregisterProducer()
            self._done()

    def pauseProducing(self) -> NoReturn:
        """Never valid for a pull producer: raises RuntimeError."""
        raise RuntimeError("BUG: pause should never be called.")

    def _done(self) -> None:
        self.consumer = None
        d = self.result
        del self.result
        d.callback(None)

    def stopProducing(self) -> None:
        """Stop and finish."""
        self.stopped = True
        self._done()


def waitUntilAllDisconnected(reactor: Any, protocols: Sequence[Any]) -> Deferred[Any]:
    """Return a Deferred firing once no protocol's transport is connected."""
    loop: task.LoopingCall

    def check() -> None:
        if True not in [p.transport.connected for p in protocols]:
            loop.stop()

    loop = task.LoopingCall(check)
    loop.clock = reactor
    return loop.start(0.01, now=True)


class EventLoggingObserver(Sequence[dict[str, Any]]):
    """A log observer keeping every event it sees, readable as a sequence."""

    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self._events)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> Any:
        return self._events[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._events)

    def __call__(self, event: dict[str, Any]) -> None:
        """Keep ``event``."""
        self._events.append(event)

    @classmethod
    def createWithCleanup(
        cls, testInstance: Any, publisher: Any
    ) -> EventLoggingObserver:
        """Observe ``publisher`` until ``testInstance``'s cleanups run."""
        observer = cls()
        publisher.addObserver(observer)
        testInstance.addCleanup(lambda: publisher.removeObserver(observer))
        return observer


def _markLogObserver() -> None:
    try:
        from torsion.logger import ILogObserver
    except ImportError:
        return
    implementer(ILogObserver)(EventLoggingObserver)


_markLogObserver()


class _LoggedErrors:
    """Collects the Failures carried by log events, for ``flushLoggedErrors``."""

    def __init__(self) -> None:
        self._errors: list[failure.Failure] = []
        self._lock = threading.Lock()
        self._installed = False

    def install(self) -> None:
        """Start observing torsion's global log publisher (once)."""
        if self._installed:
            return
        from torsion.logger import globalLogPublisher

        globalLogPublisher.addObserver(self)
        self._installed = True

    def __call__(self, event: dict[str, Any]) -> None:
        found = event.get("log_failure")
        if found is None and event.get("isError") and "failure" in event:
            found = event["failure"]
        if isinstance(found, failure.Failure):
            with self._lock:
                self._errors.append(found)

    def errors(self) -> list[failure.Failure]:
        """Return the Failures collected and not yet flushed."""
        with self._lock:
            return list(self._errors)

    def flush(self, *errorTypes: Any) -> list[failure.Failure]:
        """Remove and return the collected Failures of the given types (all)."""
        with self._lock:
            if not errorTypes:
                everything, self._errors = self._errors, []
                return everything
            flushed: list[failure.Failure] = []
            kept: list[failure.Failure] = []
            for f in self._errors:
                (flushed if f.check(*errorTypes) else kept).append(f)
            self._errors = kept
            return flushed


_loggedErrors = _LoggedErrors()
_loggedErrors.install()


def _raise(message: str) -> NoReturn:
    raise AssertionError(message)


def _successResultOf(deferred: Any, fail: Callable[[str], NoReturn]) -> Any:
    deferred = ensureDeferred(deferred)
    results: list[Any] = []
    deferred.addBoth(results.append)
    if not results:
        fail(f"Success result expected on {deferred!r}, found no result instead")
    result = results[0]
    if isinstance(result, failure.Failure):
        fail(
            f"Success result expected on {deferred!r}, "
            f"found failure result instead:\n{result.getTraceback()}"
        )
    return result


def _failureResultOf(
    deferred: Any, expected: tuple[Any, ...], fail: Callable[[str], NoReturn]
) -> failure.Failure:
    deferred = ensureDeferred(deferred)
    results: list[Any] = []
    deferred.addBoth(results.append)
    if not results:
        fail(f"Failure result expected on {deferred!r}, found no result instead")
    result = results[0]
    if not isinstance(result, failure.Failure):
        fail(
            f"Failure result expected on {deferred!r}, "
            f"found success result ({result!r}) instead"
        )
    if expected and not result.check(*expected):
        names = " or ".join(f"{t.__module__}.{t.__name__}" for t in expected)
        fail(
            f"Failure of type ({names}) expected on {deferred!r}, "
            f"found type {result.type!r} instead: {result.getTraceback()}"
        )
    return result


def _assertNoResult(deferred: Any, fail: Callable[[str], NoReturn]) -> None:
    deferred = ensureDeferred(deferred)
    results: list[Any] = []

    def keep(result: Any) -> Any:
        results.append(result)
        return result

    deferred.addBoth(keep)
    if results:
        deferred.addErrback(lambda _: None)
        fail(f"No result expected on {deferred!r}, found {results[0]!r} instead")


def successResultOf(deferred: Any) -> Any:
    """Return the success result ``deferred`` has now; AssertionError otherwise.

    Accepts a Deferred or a coroutine.  The Deferred's result becomes None.
    """
    return _successResultOf(deferred, _raise)


def failureResultOf(deferred: Any, *expectedExceptionTypes: Any) -> failure.Failure:
    """Return the Failure ``deferred`` has now; AssertionError if it has none,
    or if it is not one of ``expectedExceptionTypes`` (when given)."""
    return _failureResultOf(deferred, expectedExceptionTypes, _raise)


def assertNoResult(deferred: Any) -> None:
    """Raise AssertionError if ``deferred`` already has a result.

    When it has, a failure result is consumed so that it is not logged.
    """
    _assertNoResult(deferred, _raise)


def flushLoggedErrors(*errorTypes: Any) -> list[failure.Failure]:
    """Remove and return the Failures logged so far (only those of
    ``errorTypes`` if given), so that they are not reported as unhandled."""
    return _loggedErrors.flush(*errorTypes)


class TestCaseMixin:
    """Adds Twisted's result helpers to a ``unittest.TestCase`` subclass.

    Failures are reported with ``self.fail`` (``self.failureException``).
    """

    def _torsionFail(self, message: str) -> NoReturn:
        fail = getattr(self, "fail", None)
        if fail is None:
            _raise(message)
        fail(message)
        raise AssertionError(message)

    def successResultOf(self, deferred: Any) -> Any:
        """See the module-level ``successResultOf``."""
        return _successResultOf(deferred, self._torsionFail)

    def failureResultOf(
        self, deferred: Any, *expectedExceptionTypes: Any
    ) -> failure.Failure:
        """See the module-level ``failureResultOf``."""
        return _failureResultOf(deferred, expectedExceptionTypes, self._torsionFail)

    def assertNoResult(self, deferred: Any) -> None:
        """See the module-level ``assertNoResult``."""
        _assertNoResult(deferred, self._torsionFail)

    def flushLoggedErrors(self, *errorTypes: Any) -> list[failure.Failure]:
        """See the module-level ``flushLoggedErrors``."""
        return flushLoggedErrors(*errorTypes)
