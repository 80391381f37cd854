"""Resource-limiting policies: wrappers that sit between a transport and a
protocol (mirrors ``twisted.protocols.policies``).

A ``WrappingFactory`` wraps another factory; each protocol it builds is a
``ProtocolWrapper`` that is the real transport's protocol *and* the wrapped
protocol's transport, so a policy can watch or change every call in either
direction.  The policies here count connections (``ThrottlingFactory``,
``LimitConnectionsByPeer``, ``LimitTotalConnectionsFactory``), limit
bandwidth (``ThrottlingFactory``), close idle connections
(``TimeoutFactory``, ``TimeoutMixin``) and log traffic (``SpewingFactory``,
``TrafficLoggingFactory``).

Where Twisted's class is broken on Python 3 (``LimitConnectionsByPeer``
indexes an address object; ``ThrottlingProtocol.throttleWrites`` without a
producer calls ``None.pauseProducing``; ``TrafficLoggingProtocol`` appends a
``str`` to ``bytes``), torsion does what the class documents instead.
"""

from __future__ import annotations

import sys
from typing import Any

from zope.interface import directlyProvides, providedBy

from torsion.internet import error
from torsion.internet.interfaces import ILoggingContext
from torsion.internet.protocol import (
    ClientFactory,
    Protocol,
    ServerFactory,
    connectionDone,
)
from torsion.python import log

__all__ = [
    "LimitConnectionsByPeer",
    "LimitTotalConnectionsFactory",
    "ProtocolWrapper",
    "SpewingFactory",
    "SpewingProtocol",
    "ThrottlingFactory",
    "ThrottlingProtocol",
    "TimeoutFactory",
    "TimeoutMixin",
    "TimeoutProtocol",
    "TrafficLoggingFactory",
    "TrafficLoggingProtocol",
    "WrappingFactory",
]


def _wrappedLogPrefix(wrapper: Any, wrapped: Any) -> str:
    """``"<wrapped's prefix> (<wrapper's class>)"``."""
    if ILoggingContext.providedBy(wrapped):
        inner = wrapped.logPrefix()
    else:
        inner = type(wrapped).__name__
    return f"{inner} ({type(wrapper).__name__})"


def _globalCallLater(period: float, func: Any) -> Any:
    """``reactor.callLater`` on the global reactor, imported on first use."""
    from torsion.internet import reactor

    return reactor.callLater(period, func)  # type: ignore[attr-defined]


class ProtocolWrapper(Protocol):
    """The protocol of the real transport and the transport of the wrapped
    protocol: calls in both directions pass through it.

    Once connected it provides every interface the real transport provides,
    and attributes it does not define are looked up on the real transport.
    """

    disconnecting = 0

    def __init__(self, factory: Any, wrappedProtocol: Any) -> None:
        self.wrappedProtocol = wrappedProtocol
        self.factory = factory

    def logPrefix(self) -> str:
        """The wrapped protocol's prefix followed by this wrapper's class."""
        return _wrappedLogPrefix(self, self.wrappedProtocol)

    def makeConnection(self, transport: Any) -> None:
        """Take on the transport's interfaces, register with the factory, and
        connect the wrapped protocol with this wrapper as its transport."""
        directlyProvides(self, providedBy(transport))
        Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)
        self.wrappedProtocol.makeConnection(self)

    def write(self, data: bytes) -> None:
        """Write to the real transport."""
        self.transport.write(data)

    def writeSequence(self, data: Any) -> None:
        """Write a sequence of bytes to the real transport."""
        self.transport.writeSequence(data)

    def loseConnection(self) -> None:
        """Mark this wrapper disconnecting and close the real transport."""
        self.disconnecting = 1
        self.transport.loseConnection()

    def getPeer(self) -> Any:
        """The real transport's peer address."""
        return self.transport.getPeer()

    def getHost(self) -> Any:
        """The real transport's local address."""
        return self.transport.getHost()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Register ``producer`` with the real transport."""
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        """Unregister the real transport's producer."""
        self.transport.unregisterProducer()

    def stopConsuming(self) -> None:
        """Pass ``stopConsuming`` to the real transport."""
        self.transport.stopConsuming()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)

    def dataReceived(self, data: bytes) -> None:
        """Hand received bytes to the wrapped protocol."""
        self.wrappedProtocol.dataReceived(data)

    def connectionLost(self, reason: Any = connectionDone) -> None:
        """Unregister from the factory, tell the wrapped protocol, and drop
        the reference to it."""
        self.factory.unregisterProtocol(self)
        self.wrappedProtocol.connectionLost(reason)
        self.wrappedProtocol = None


class WrappingFactory(ClientFactory[Any]):
    """Wraps a factory: each protocol it builds is ``protocol(self,
    wrappedFactory.buildProtocol(addr))``; ``protocols`` holds the connected
    wrappers (as dict keys)."""

    protocol: Any = ProtocolWrapper

    def __init__(self, wrappedFactory: Any) -> None:
        self.wrappedFactory = wrappedFactory
        self.protocols: dict[Any, int] = {}

    def logPrefix(self) -> str:
        """The wrapped factory's prefix followed by this factory's class."""
        return _wrappedLogPrefix(self, self.wrappedFactory)

    def doStart(self) -> None:
        """Start the wrapped factory, then this one."""
        self.wrappedFactory.doStart()
        ClientFactory.doStart(self)

    def doStop(self) -> None:
        """Stop the wrapped factory, then this one."""
        self.wrappedFactory.doStop()
        ClientFactory.doStop(self)

    def startedConnecting(self, connector: Any) -> None:
        """Pass to the wrapped factory."""
        self.wrappedFactory.startedConnecting(connector)

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        """Pass to the wrapped factory."""
        self.wrappedFactory.clientConnectionFailed(connector, reason)

    def clientConnectionLost(self, connector: Any, reason: Any) -> None:
        """Pass to the wrapped factory."""
        self.wrappedFactory.clientConnectionLost(connector, reason)

    def buildProtocol(self, addr: Any) -> Any:
        """A wrapper around the wrapped factory's protocol for ``addr``."""
        return self.protocol(self, self.wrappedFactory.buildProtocol(addr))

    def registerProtocol(self, p: Any) -> None:
        """Record a connected wrapper."""
        self.protocols[p] = 1

    def unregisterProtocol(self, p: Any) -> None:
        """Forget a wrapper whose connection is gone."""
        del self.protocols[p]


class ThrottlingProtocol(ProtocolWrapper):
    """The wrapper ``ThrottlingFactory`` builds: counts bytes both ways and
    pauses reads (the transport) or writes (the registered producer)."""

    def write(self, data: bytes) -> None:
        """Count the bytes, then write them."""
        self.factory.registerWritten(len(data))
        ProtocolWrapper.write(self, data)

    def writeSequence(self, seq: Any) -> None:
        """Count the bytes, then write them."""
        self.factory.registerWritten(sum(map(len, seq)))
        ProtocolWrapper.writeSequence(self, seq)

    def dataReceived(self, data: bytes) -> None:
        """Count the bytes, then deliver them."""
        self.factory.registerRead(len(data))
        ProtocolWrapper.dataReceived(self, data)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Remember the producer (to pause it when writes are throttled)."""
        self.producer = producer
        ProtocolWrapper.registerProducer(self, producer, streaming)

    def unregisterProducer(self) -> None:
        """Forget the producer."""
        del self.producer
        ProtocolWrapper.unregisterProducer(self)

    def throttleReads(self) -> None:
        """Stop reading from the transport."""
        self.transport.pauseProducing()

    def unthrottleReads(self) -> None:
        """Read from the transport again."""
        self.transport.resumeProducing()

    def _ownProducer(self) -> Any:
        return self.__dict__.get("producer")

    def throttleWrites(self) -> None:
        """Pause the registered producer, if there is one."""
        producer = self._ownProducer()
        if producer is not None:
            producer.pauseProducing()

    def unthrottleWrites(self) -> None:
        """Resume the registered producer, if there is one."""
        producer = self._ownProducer()
        if producer is not None:
            producer.resumeProducing()


class ThrottlingFactory(WrappingFactory):
    """Limits the number of connections and the bytes read and written per
    second across all of them.

    Each second the counts are compared with ``readLimit``/``writeLimit``;
    over the limit, all connections are throttled for ``count / limit - 1``
    seconds.  Writes are throttled only through a registered producer.
    """

    protocol = ThrottlingProtocol

    def __init__(
        self,
        wrappedFactory: Any,
        maxConnectionCount: int = sys.maxsize,
        readLimit: float | None = None,
        writeLimit: float | None = None,
    ) -> None:
        WrappingFactory.__init__(self, wrappedFactory)
        self.connectionCount = 0
        self.maxConnectionCount = maxConnectionCount
        self.readLimit = readLimit
        self.writeLimit = writeLimit
        self.readThisSecond = 0
        self.writtenThisSecond = 0
        self.unthrottleReadsID: Any = None
        self.checkReadBandwidthID: Any = None
        self.unthrottleWritesID: Any = None
        self.checkWriteBandwidthID: Any = None

    def callLater(self, period: float, func: Any) -> Any:
        """Schedule ``func`` on the global reactor; replace (for example with
        a ``task.Clock``'s ``callLater``) to use another clock."""
        return _globalCallLater(period, func)

    def registerWritten(self, length: int) -> None:
        """Count ``length`` more bytes written this second."""
        self.writtenThisSecond += length

    def registerRead(self, length: int) -> None:
        """Count ``length`` more bytes read this second."""
        self.readThisSecond += length

    def checkReadBandwidth(self) -> None:
        """Throttle reads if this second's count passed ``readLimit``; reset
        the count and check again in a second."""
        assert self.readLimit is not None
        if self.readThisSecond > self.readLimit:
            self.throttleReads()
            pause = float(self.readThisSecond) / self.readLimit - 1.0
            self.unthrottleReadsID = self.callLater(pause, self.unthrottleReads)
        self.readThisSecond = 0
        self.checkReadBandwidthID = self.callLater(1, self.checkReadBandwidth)

    def checkWriteBandwidth(self) -> None:
        """Throttle writes if this second's count passed ``writeLimit``; reset
        the count and check again in a second."""
        assert self.writeLimit is not None
        if self.writtenThisSecond > self.writeLimit:
            self.throttleWrites()
            pause = float(self.writtenThisSecond) / self.writeLimit - 1.0
            self.unthrottleWritesID = self.callLater(pause, self.unthrottleWrites)
        self.writtenThisSecond = 0
        self.checkWriteBandwidthID = self.callLater(1, self.checkWriteBandwidth)

    def throttleReads(self) -> None:
        """Stop reading on every connection."""
        log.msg(f"Throttling reads on {self}")
        for p in list(self.protocols):
            p.throttleReads()

    def unthrottleReads(self) -> None:
        """Read again on every connection."""
        self.unthrottleReadsID = None
        log.msg(f"Stopped throttling reads on {self}")
        for p in list(self.protocols):
            p.unthrottleReads()

    def throttleWrites(self) -> None:
        """Pause every connection's producer."""
        log.msg(f"Throttling writes on {self}")
        for p in list(self.protocols):
            p.throttleWrites()

    def unthrottleWrites(self) -> None:
        """Resume every connection's producer."""
        self.unthrottleWritesID = None
        log.msg(f"Stopped throttling writes on {self}")
        for p in list(self.protocols):
            p.unthrottleWrites()

    def buildProtocol(self, addr: Any) -> Any:
        """Start the bandwidth checks with the first connection; refuse
        (None) beyond ``maxConnectionCount``."""
        if self.connectionCount == 0:
            if self.readLimit is not None:
                self.checkReadBandwidth()
            if self.writeLimit is not None:
                self.checkWriteBandwidth()
        if self.connectionCount < self.maxConnectionCount:
            self.connectionCount += 1
            return WrappingFactory.buildProtocol(self, addr)
        log.msg("Max connection count reached!")
        return None

    def unregisterProtocol(self, p: Any) -> None:
        """Forget ``p``; after the last connection, cancel the checks."""
        WrappingFactory.unregisterProtocol(self, p)
        self.connectionCount -= 1
        if self.connectionCount == 0:
            for call in (
                self.unthrottleReadsID,
                self.checkReadBandwidthID,
                self.unthrottleWritesID,
                self.checkWriteBandwidthID,
            ):
                if call is not None:
                    call.cancel()


class SpewingProtocol(ProtocolWrapper):
    """Logs every chunk received and written."""

    def dataReceived(self, data: bytes) -> None:
        """Log the bytes, then deliver them."""
        log.msg(f"Received: {data!r}")
        ProtocolWrapper.dataReceived(self, data)

    def write(self, data: bytes) -> None:
        """Log the bytes, then write them."""
        log.msg(f"Sending: {data!r}")
        ProtocolWrapper.write(self, data)


class SpewingFactory(WrappingFactory):
    """A WrappingFactory whose connections log their traffic."""

    protocol = SpewingProtocol


def _peerHost(addr: Any) -> Any:
    host = getattr(addr, "host", None)
    if host is not None:
        return host
    return addr[0]


class LimitConnectionsByPeer(WrappingFactory):
    """Refuses (builds no protocol for) a connection from a host that already
    has ``maxConnectionsPerPeer`` connections open."""

    maxConnectionsPerPeer = 5

    def startFactory(self) -> None:
        """Start with no connections counted."""
        self.peerConnections: dict[Any, int] = {}

    def buildProtocol(self, addr: Any) -> Any:
        """A wrapper, or None if ``addr``'s host is at its limit."""
        host = _peerHost(addr)
        count = self.peerConnections.get(host, 0)
        if count >= self.maxConnectionsPerPeer:
            return None
        self.peerConnections[host] = count + 1
        return WrappingFactory.buildProtocol(self, addr)

    def unregisterProtocol(self, p: Any) -> None:
        """Count one connection fewer for ``p``'s peer host."""
        self.protocols.pop(p, None)
        host = _peerHost(p.getPeer())
        self.peerConnections[host] -= 1
        if self.peerConnections[host] == 0:
            del self.peerConnections[host]


class LimitTotalConnectionsFactory(ServerFactory[Any]):
    """A factory that allows at most ``connectionLimit`` connections (None:
    no limit).  Beyond it, a connection gets ``overflowProtocol`` or, if that
    is None, is closed at once."""

    connectionCount = 0
    connectionLimit: int | None = None
    overflowProtocol: Any = None

    def buildProtocol(self, addr: Any) -> Any:
        """The protocol (or the overflow protocol) inside a ProtocolWrapper
        that keeps ``connectionCount``."""
        if self.connectionLimit is None or self.connectionCount < self.connectionLimit:
            assert self.protocol is not None
            inner = self.protocol()
        elif self.overflowProtocol is None:
            return None
        else:
            inner = self.overflowProtocol()
        inner.factory = self
        wrapper = ProtocolWrapper(self, inner)
        self.connectionCount += 1
        return wrapper

    def registerProtocol(self, p: Any) -> None:
        """Nothing to record (the count grows in buildProtocol)."""

    def unregisterProtocol(self, p: Any) -> None:
        """Count one connection fewer."""
        self.connectionCount -= 1


class TimeoutProtocol(ProtocolWrapper):
    """Closes the connection when nothing is read or written for
    ``timeoutPeriod`` seconds."""

    def __init__(self, factory: Any, wrappedProtocol: Any, timeoutPeriod: Any) -> None:
        ProtocolWrapper.__init__(self, factory, wrappedProtocol)
        self.timeoutCall: Any = None
        self.timeoutPeriod: Any = None
        self.setTimeout(timeoutPeriod)

    def setTimeout(self, timeoutPeriod: Any = None) -> None:
        """Cancel the current timeout and, unless ``timeoutPeriod`` is None,
        start a new one of that many seconds."""
        self.cancelTimeout()
        self.timeoutPeriod = timeoutPeriod
        if timeoutPeriod is not None:
            self.timeoutCall = self.factory.callLater(timeoutPeriod, self.timeoutFunc)

    def cancelTimeout(self) -> None:
        """Cancel the timeout, if there is one."""
        self.timeoutPeriod = None
        call = self.timeoutCall
        if call:
            try:
                call.cancel()
            except (error.AlreadyCalled, error.AlreadyCancelled):
                pass
            self.timeoutCall = None

    def resetTimeout(self) -> None:
        """Start the current timeout period over."""
        if self.timeoutCall:
            self.timeoutCall.reset(self.timeoutPeriod)

    def write(self, data: bytes) -> None:
        """Reset the timeout, then write."""
        self.resetTimeout()
        ProtocolWrapper.write(self, data)

    def writeSequence(self, seq: Any) -> None:
        """Reset the timeout, then write."""
        self.resetTimeout()
        ProtocolWrapper.writeSequence(self, seq)

    def dataReceived(self, data: bytes) -> None:
        """Reset the timeout, then deliver."""
        self.resetTimeout()
        ProtocolWrapper.dataReceived(self, data)

    def connectionLost(self, reason: Any = connectionDone) -> None:
        """Cancel the timeout, then pass the loss on."""
        self.cancelTimeout()
        ProtocolWrapper.connectionLost(self, reason)

    def timeoutFunc(self) -> None:
        """Called when the timeout expires: ``loseConnection()``; override to
        do something else."""
        self.loseConnection()


class TimeoutFactory(WrappingFactory):
    """Wraps each connection in a TimeoutProtocol of ``timeoutPeriod``
    seconds (30 minutes by default)."""

    protocol = TimeoutProtocol

    def __init__(self, wrappedFactory: Any, timeoutPeriod: Any = 30 * 60) -> None:
        self.timeoutPeriod = timeoutPeriod
        WrappingFactory.__init__(self, wrappedFactory)

    def buildProtocol(self, addr: Any) -> Any:
        """A TimeoutProtocol around the wrapped factory's protocol."""
        return self.protocol(
            self,
            self.wrappedFactory.buildProtocol(addr),
            timeoutPeriod=self.timeoutPeriod,
        )

    def callLater(self, period: float, func: Any) -> Any:
        """Schedule ``func`` on the global reactor; replace to use another
        clock."""
        return _globalCallLater(period, func)


class TrafficLoggingProtocol(ProtocolWrapper):
    """Writes a line per event (connect, data each way, close) to
    ``logfile``; data longer than ``lengthLimit`` is shortened."""

    def __init__(
        self,
        factory: Any,
        wrappedProtocol: Any,
        logfile: Any,
        lengthLimit: int | None = None,
        number: int = 0,
    ) -> None:
        ProtocolWrapper.__init__(self, factory, wrappedProtocol)
        self.logfile = logfile
        self.lengthLimit = lengthLimit
        self._number = number

    def _log(self, line: str) -> None:
        self.logfile.write(line + "\n")
        self.logfile.flush()

    def _mungeData(self, data: bytes) -> bytes:
        limit = self.lengthLimit
        if limit and len(data) > limit:
            data = data[: limit - 12] + b"<... elided>"
        return data

    def connectionMade(self) -> None:
        """Log ``*``."""
        self._log("*")
        return ProtocolWrapper.connectionMade(self)

    def dataReceived(self, data: bytes) -> None:
        """Log ``C <n>: <data>``, then deliver."""
        self._log(f"C {self._number}: {self._mungeData(data)!r}")
        return ProtocolWrapper.dataReceived(self, data)

    def connectionLost(self, reason: Any = connectionDone) -> None:
        """Log ``C <n>: <reason>``, then pass the loss on."""
        self._log(f"C {self._number}: {reason!r}")
        return ProtocolWrapper.connectionLost(self, reason)

    def write(self, data: bytes) -> None:
        """Log ``S <n>: <data>``, then write."""
        self._log(f"S {self._number}: {self._mungeData(data)!r}")
        return ProtocolWrapper.write(self, data)

    def writeSequence(self, iovec: Any) -> None:
        """Log ``SV <n>: [<data>, ...]``, then write."""
        self._log(f"SV {self._number}: {[self._mungeData(d) for d in iovec]!r}")
        return ProtocolWrapper.writeSequence(self, iovec)

    def loseConnection(self) -> None:
        """Log ``S <n>: *``, then close."""
        self._log(f"S {self._number}: *")
        return ProtocolWrapper.loseConnection(self)


class TrafficLoggingFactory(WrappingFactory):
    """Logs each connection's traffic to its own file,
    ``<logfilePrefix>-<n>`` (n counts from 1)."""

    protocol = TrafficLoggingProtocol

    _counter = 0

    def __init__(
        self, wrappedFactory: Any, logfilePrefix: str, lengthLimit: int | None = None
    ) -> None:
        self.logfilePrefix = logfilePrefix
        self.lengthLimit = lengthLimit
        WrappingFactory.__init__(self, wrappedFactory)

    def open(self, name: str) -> Any:
        """Open the log file ``name`` for writing (text)."""
        return open(name, "w")  # noqa: SIM115

    def buildProtocol(self, addr: Any) -> Any:
        """A TrafficLoggingProtocol writing to the next numbered file."""
        self._counter += 1
        logfile = self.open(f"{self.logfilePrefix}-{self._counter}")
        return self.protocol(
            self,
            self.wrappedFactory.buildProtocol(addr),
            logfile,
            self.lengthLimit,
            self._counter,
        )

    def resetCounter(self) -> None:
        """Number the next connection 1 again."""
        self._counter = 0


class TimeoutMixin:
    """For protocols with one idle timeout: ``setTimeout(seconds)`` starts or
    changes it, ``resetTimeout()`` restarts it on activity, and when it runs
    out ``timeoutConnection()`` is called (by default it calls
    ``transport.loseConnection()``)."""

    timeOut: Any = None

    __timeoutCall: Any = None

    def callLater(self, period: float, func: Any) -> Any:
        """Schedule ``func`` on the global reactor; replace (for example with
        a ``task.Clock``'s ``callLater``) to use another clock."""
        return _globalCallLater(period, func)

    def resetTimeout(self) -> None:
        """Restart the countdown, unless the timeout is off or has fired."""
        if self.__timeoutCall is not None and self.timeOut is not None:
            self.__timeoutCall.reset(self.timeOut)

    def setTimeout(self, period: Any) -> Any:
        """Set the timeout to ``period`` seconds (None turns it off) and
        return the previous period."""
        previous = self.timeOut
        self.timeOut = period
        call = self.__timeoutCall
        if call is not None:
            if period is None:
                try:
                    call.cancel()
                except (error.AlreadyCancelled, error.AlreadyCalled):
                    pass
                self.__timeoutCall = None
            else:
                call.reset(period)
        elif period is not None:
            self.__timeoutCall = self.callLater(period, self.__timedOut)
        return previous

    def __timedOut(self) -> None:
        self.__timeoutCall = None
        self.timeoutConnection()

    def timeoutConnection(self) -> None:
        """Called when the timeout runs out: ``transport.loseConnection()``;
        override to do something else."""
        self.transport.loseConnection()  # type: ignore[attr-defined]
