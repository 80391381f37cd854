"""Protocols and factories: the classes users subclass, as in Twisted.

``Protocol`` receives a connection's events (``connectionMade``,
``dataReceived``, ``connectionLost``); a ``Factory`` builds one protocol per
connection; ``ClientFactory`` also hears about connection attempts, and
``ReconnectingClientFactory`` retries with Twisted's exponential back-off.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from zope.interface import implementer, providedBy
from zope.interface.adapter import AdapterRegistry
from zope.interface.interface import adapter_hooks

from torsion.internet import error, interfaces
from torsion.logger import _loggerFor
from torsion.python import log
from torsion.python.failure import Failure

P = TypeVar("P")


@implementer(interfaces.IProtocolFactory, interfaces.ILoggingContext)
class Factory(Generic[P]):
    """Builds a protocol per connection from the ``protocol`` class attribute."""

    protocol: Callable[..., P] | None = None
    numPorts = 0
    noisy = True

    @classmethod
    def forProtocol(cls, protocol: Callable[..., P], *args: Any, **kwargs: Any) -> Any:
        """Make ``cls(*args, **kwargs)`` with its ``protocol`` set to ``protocol``."""
        factory = cls(*args, **kwargs)
        factory.protocol = protocol
        return factory

    def logPrefix(self) -> str:
        """Name this factory in log messages (its class name)."""
        return self.__class__.__name__

    def doStart(self) -> None:
        """Count a new port or connector; call startFactory for the first one."""
        if not self.numPorts:
            if self.noisy:
                _loggerFor(self).info("Starting factory {factory!r}", factory=self)
            self.startFactory()
        self.numPorts = self.numPorts + 1

    def doStop(self) -> None:
        """Count a port or connector gone; call stopFactory after the last one."""
        if self.numPorts == 0:
            return
        self.numPorts = self.numPorts - 1
        if not self.numPorts:
            if self.noisy:
                _loggerFor(self).info("Stopping factory {factory!r}", factory=self)
            self.stopFactory()

    def startFactory(self) -> None:
        """Hook run once before the factory is first used; does nothing here."""

    def stopFactory(self) -> None:
        """Hook run once after the factory's last use; does nothing here."""

    def buildProtocol(self, addr: Any) -> P | None:
        """Return ``self.protocol()`` with its ``factory`` set to this factory."""
        if self.protocol is None:
            # Bare, as Twisted's assert gives it.
            raise AssertionError()
        proto = self.protocol()
        proto.factory = self  # type: ignore[attr-defined]
        return proto


class ClientFactory(Factory[P]):
    """A factory for outgoing connections, told about each attempt's fate."""

    def startedConnecting(self, connector: Any) -> None:
        """Called when a connection attempt starts; does nothing here."""

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """Called when a connection attempt fails; does nothing here."""

    def clientConnectionLost(self, connector: Any, reason: Failure) -> None:
        """Called when an established connection ends; does nothing here."""


class _InstanceFactory(ClientFactory):
    """The one-shot factory behind ClientCreator: hands out one ready instance."""

    noisy = False
    pending: Any = None

    def __init__(self, reactor: Any, instance: Any, deferred: Any) -> None:
        self.reactor = reactor
        self.instance = instance
        self.deferred = deferred

    def __repr__(self) -> str:
        return f"<ClientCreator factory: {self.instance!r}>"

    def buildProtocol(self, addr: Any) -> Any:
        """Return the instance; fire the Deferred with it on the next turn."""
        self.pending = self.reactor.callLater(
            0, self.fire, self.deferred.callback, self.instance
        )
        self.deferred = None
        return self.instance

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """Errback the Deferred with ``reason`` on the next turn."""
        self.pending = self.reactor.callLater(
            0, self.fire, self.deferred.errback, reason
        )
        self.deferred = None

    def fire(self, func: Callable[[Any], object], value: Any) -> None:
        """Forget the pending call, then call ``func(value)``."""
        self.pending = None
        func(value)


class ClientCreator:
    """Connects a single protocol instance without a user-written factory."""

    def __init__(
        self, reactor: Any, protocolClass: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        self.reactor = reactor
        self.protocolClass = protocolClass
        self.args = args
        self.kwargs = kwargs

    def _connect(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Start a connection with ``method``; return a cancellable Deferred."""
        from torsion.internet import defer

        def cancel(deferred: Any) -> None:
            connector.disconnect()
            if factory.pending is not None:
                factory.pending.cancel()

        d: defer.Deferred[Any] = defer.Deferred(cancel)
        factory = _InstanceFactory(
            self.reactor, self.protocolClass(*self.args, **self.kwargs), d
        )
        connector = method(*args, factory=factory, **kwargs)
        return d

    def connectTCP(
        self,
        host: str,
        port: int,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> Any:
        """Connect over TCP; the Deferred fires with the connected protocol."""
        return self._connect(
            self.reactor.connectTCP,
            host,
            port,
            timeout=timeout,
            bindAddress=bindAddress,
        )

    def connectUNIX(
        self, address: str, timeout: float = 30, checkPID: bool = False
    ) -> Any:
        """Connect to a UNIX socket; the Deferred fires with the protocol."""
        return self._connect(
            self.reactor.connectUNIX, address, timeout=timeout, checkPID=checkPID
        )

    def connectSSL(
        self,
        host: str,
        port: int,
        contextFactory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> Any:
        """Connect over TLS; the Deferred fires with the connected protocol."""
        return self._connect(
            self.reactor.connectSSL,
            host,
            port,
            contextFactory=contextFactory,
            timeout=timeout,
            bindAddress=bindAddress,
        )


class ReconnectingClientFactory(ClientFactory):
    """A client factory that reconnects after failures with exponential back-off.

    Each retry waits ``delay`` seconds (perturbed by a normal distribution of
    relative width ``jitter``), then multiplies ``delay`` by ``factor`` up to
    ``maxDelay``. Call ``resetDelay()`` once connected and ``stopTrying()`` to
    give up. ``clock`` (default: the reactor) schedules the retries.
    """

    maxDelay = 3600
    initialDelay = 1.0
    factor = 2.7182818284590451
    jitter = 0.119626565582
    delay = initialDelay
    retries = 0
    maxRetries: int | None = None
    _callID: Any = None
    connector: Any = None
    clock: Any = None
    continueTrying = 1

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """Schedule a retry unless stopTrying() was called."""
        if self.continueTrying:
            self.connector = connector
            self.retry()

    def clientConnectionLost(self, connector: Any, unused_reason: Failure) -> None:
        """Schedule a reconnection unless stopTrying() was called."""
        if self.continueTrying:
            self.connector = connector
            self.retry()

    def retry(self, connector: Any = None) -> None:
        """Schedule ``connector.connect()`` after the current delay, then grow it."""
        if not self.continueTrying:
            if self.noisy:
                log.msg(f"Abandoning {connector} on explicit request")
            return
        if connector is None:
            if self.connector is None:
                raise ValueError("no connector to retry")
            connector = self.connector

        self.retries += 1
        if self.maxRetries is not None and self.retries > self.maxRetries:
            if self.noisy:
                log.msg(f"Abandoning {connector} after {int(self.retries)} retries.")
            return

        if self.jitter:
            self.delay = random.normalvariate(self.delay, self.delay * self.jitter)
        if self.noisy:
            log.msg(f"{connector} will retry in {int(self.delay)} seconds")

        def reconnect() -> None:
            self._callID = None
            connector.connect()

        if self.clock is None:
            from torsion.internet import reactor

            self.clock = reactor
        self._callID = self.clock.callLater(self.delay, reconnect)
        self.delay = min(self.delay * self.factor, self.maxDelay)

    def stopTrying(self) -> None:
        """Cancel a scheduled retry, stop the attempt in progress, retry no more."""
        if self._callID:
            self._callID.cancel()
            self._callID = None
        self.continueTrying = 0
        if self.connector:
            try:
                self.connector.stopConnecting()
            except error.NotConnectingError:
                pass

    def resetDelay(self) -> None:
        """After a successful connection: back to initialDelay and zero retries."""
        self.delay = self.initialDelay
        self.retries = 0
        self._callID = None
        self.continueTrying = 1

    def __getstate__(self) -> dict[str, Any]:
        """Pickle only the configuration, not the state of connection attempts."""
        state = self.__dict__.copy()
        for key in ("connector", "retries", "delay", "continueTrying", "_callID"):
            state.pop(key, None)
        state.pop("clock", None)
        return state


class ServerFactory(Factory[P]):
    """A factory meant only for listening ports."""


class BaseProtocol:
    """The root of Protocol and ProcessProtocol: holds the transport."""

    connected = 0
    transport: Any = None

    def makeConnection(self, transport: Any) -> None:
        """Store the transport, mark connected and call connectionMade."""
        self.connected = 1
        self.transport = transport
        self.connectionMade()

    def connectionMade(self) -> None:
        """Called once the connection is established; does nothing here."""


connectionDone = Failure(error.ConnectionDone())
"""The reason given to connectionLost for a clean close (no traceback)."""
connectionDone.cleanFailure()


@implementer(interfaces.IProtocol, interfaces.ILoggingContext)
class Protocol(BaseProtocol):
    """The base class for stream protocols: override dataReceived and friends."""

    factory: Any = None

    def logPrefix(self) -> str:
        """Name this protocol in log messages (its class name)."""
        return self.__class__.__name__

    def dataReceived(self, data: bytes) -> None:
        """Called with each chunk of bytes received; does nothing here."""

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """Called once when the connection ends; does nothing here."""


_adapters = AdapterRegistry()


def _adapterHook(iface: Any, ob: Any) -> Any:
    """Let ``IFoo(obj)`` find the adapters registered in this module."""
    factory = _adapters.lookup1(providedBy(ob), iface)
    if factory is None:
        return None
    return factory(ob)


adapter_hooks.append(_adapterHook)


class _Adapter:
    """Base of the adapters here: keeps the adapted object as ``original``."""

    def __init__(self, original: Any) -> None:
        self.original = original


@implementer(interfaces.IConsumer)
class ProtocolToConsumerAdapter(_Adapter):
    """Presents a protocol as a consumer: ``write`` feeds ``dataReceived``."""

    def write(self, data: bytes) -> None:
        """Pass ``data`` to the protocol's dataReceived."""
        self.original.dataReceived(data)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Ignored."""

    def unregisterProducer(self) -> None:
        """Ignored."""


@implementer(interfaces.IProtocol)
class ConsumerToProtocolAdapter(_Adapter):
    """Presents a consumer as a protocol: ``dataReceived`` feeds ``write``."""

    def dataReceived(self, data: bytes) -> None:
        """Pass ``data`` to the consumer's write."""
        self.original.write(data)

    def connectionLost(self, reason: Failure) -> None:
        """Ignored."""

    def makeConnection(self, transport: Any) -> None:
        """Ignored."""

    def connectionMade(self) -> None:
        """Ignored."""


_adapters.register(
    [interfaces.IProtocol], interfaces.IConsumer, "", ProtocolToConsumerAdapter
)
_adapters.register(
    [interfaces.IConsumer], interfaces.IProtocol, "", ConsumerToProtocolAdapter
)


@implementer(interfaces.IProcessProtocol)
class ProcessProtocol(BaseProtocol):
    """A protocol for a child process; routes fds 0/1/2 to named callbacks."""

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        """Route stdout data to outReceived and stderr data to errReceived."""
        if childFD == 1:
            self.outReceived(data)
        elif childFD == 2:
            self.errReceived(data)

    def outReceived(self, data: bytes) -> None:
        """Data from the child's stdout; does nothing here."""

    def errReceived(self, data: bytes) -> None:
        """Data from the child's stderr; does nothing here."""

    def childConnectionLost(self, childFD: int) -> None:
        """Route the closing of fd 0/1/2 to in/out/errConnectionLost."""
        if childFD == 0:
            self.inConnectionLost()
        elif childFD == 1:
            self.outConnectionLost()
        elif childFD == 2:
            self.errConnectionLost()

    def inConnectionLost(self) -> None:
        """The child's stdin was closed; does nothing here."""

    def outConnectionLost(self) -> None:
        """The child's stdout was closed; does nothing here."""

    def errConnectionLost(self) -> None:
        """The child's stderr was closed; does nothing here."""

    def processExited(self, reason: Failure) -> None:
        """The child exited; does nothing here."""

    def processEnded(self, reason: Failure) -> None:
        """The child exited and its fds are closed; does nothing here."""


class AbstractDatagramProtocol:
    """Base class of datagram protocols, started and stopped by their ports."""

    transport: Any = None
    numPorts = 0
    noisy = True

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the transport."""
        state = self.__dict__.copy()
        state["transport"] = None
        return state

    def doStart(self) -> None:
        """Count a new port; call startProtocol for the first one."""
        if not self.numPorts:
            if self.noisy:
                log.msg(f"Starting protocol {self}")
            self.startProtocol()
        self.numPorts = self.numPorts + 1

    def doStop(self) -> None:
        """Count a port gone, drop the transport; stopProtocol after the last."""
        if self.numPorts <= 0:
            raise AssertionError()
        self.numPorts = self.numPorts - 1
        self.transport = None
        if not self.numPorts:
            if self.noisy:
                log.msg(f"Stopping protocol {self}")
            self.stopProtocol()

    def startProtocol(self) -> None:
        """Called once when the first port starts; does nothing here."""

    def stopProtocol(self) -> None:
        """Called once after the last port stops; does nothing here."""

    def makeConnection(self, transport: Any) -> None:
        """Store the transport and call doStart."""
        if self.transport is not None:
            raise AssertionError()
        self.transport = transport
        self.doStart()

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        """Called with each datagram and its source; does nothing here."""


@implementer(interfaces.ILoggingContext)
class DatagramProtocol(AbstractDatagramProtocol):
    """The base class for UDP protocols."""

    def logPrefix(self) -> str:
        """Name this protocol in log messages (its class name)."""
        return self.__class__.__name__

    def connectionRefused(self) -> None:
        """An ICMP error answered an earlier write; does nothing here."""


class ConnectedDatagramProtocol(DatagramProtocol):
    """A datagram protocol for a connected transport (kept for compatibility)."""

    def datagramReceived(self, datagram: bytes) -> None:  # type: ignore[override]
        """Called with each datagram; does nothing here."""

    def connectionFailed(self, failure: Failure) -> None:
        """Connecting failed; does nothing here."""


@implementer(interfaces.ITransport)
class FileWrapper:
    """A transport that writes to a file-like object (handy for debugging)."""

    closed = 0
    disconnecting = 0
    producer: Any = None
    streamingProducer = 0

    def __init__(self, file: Any) -> None:
        self.file = file

    def write(self, data: bytes) -> None:
        """Write ``data`` to the file; errors go to handleException."""
        try:
            self.file.write(data)
        except BaseException:
            self.handleException()

    def _checkProducer(self) -> None:
        """Ask a registered producer for more data."""
        if self.producer:
            self.producer.resumeProducing()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Register ``producer``; a pull producer is asked for data at once."""
        self.producer = producer
        self.streamingProducer = streaming
        if not streaming:
            producer.resumeProducing()

    def unregisterProducer(self) -> None:
        """Forget the producer."""
        self.producer = None

    def stopConsuming(self) -> None:
        """Forget the producer and close."""
        self.unregisterProducer()
        self.loseConnection()

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        """Write the concatenation of ``iovec``."""
        self.write(b"".join(iovec))

    def loseConnection(self) -> None:
        """Mark closed and close the file."""
        self.closed = 1
        try:
            self.file.close()
        except OSError:
            self.handleException()

    def getPeer(self) -> Any:
        """Return ``("file", "file")`` (as Twisted does; not an IAddress)."""
        return "file", "file"

    def getHost(self) -> Any:
        """Return ``"file"`` (as Twisted does; not an IAddress)."""
        return "file"

    def handleException(self) -> None:
        """Called when writing or closing fails; ignores the error."""

    def resumeProducing(self) -> None:
        """Nothing to resume: a FileWrapper never produces."""

    def pauseProducing(self) -> None:
        """Nothing to pause: a FileWrapper never produces."""

    def stopProducing(self) -> None:
        """Close."""
        self.loseConnection()


__all__ = [
    "Factory",
    "ClientFactory",
    "ReconnectingClientFactory",
    "connectionDone",
    "Protocol",
    "ProcessProtocol",
    "FileWrapper",
    "ServerFactory",
    "AbstractDatagramProtocol",
    "DatagramProtocol",
    "ConnectedDatagramProtocol",
    "ClientCreator",
    "BaseProtocol",
    "ProtocolToConsumerAdapter",
    "ConsumerToProtocolAdapter",
]
