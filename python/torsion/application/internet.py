"""Services that use the reactor: servers, clients and timers (Twisted's set).

``StreamServerEndpointService`` listens on any IStreamServerEndpoint while it
runs; ``ClientService`` keeps one connection to an IStreamClientEndpoint open,
reconnecting with a backoff policy; ``TimerService`` calls a function every
few seconds. ``TCPServer``, ``TCPClient`` and friends pass their arguments
straight to ``reactor.listenXXX``/``connectXXX``.
"""

from __future__ import annotations

from collections.abc import Callable
from random import random as _jitterRandom
from typing import Any, ClassVar

from torsion.application import service
from torsion.internet import task
from torsion.internet.defer import (
    CancelledError,
    Deferred,
    fail,
    maybeDeferred,
    succeed,
)
from torsion.internet.interfaces import IProtocol
from torsion.logger import Logger
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "TimerService",
    "CooperatorService",
    "MulticastServer",
    "StreamServerEndpointService",
    "UDPServer",
    "ClientService",
    "TCPServer",
    "TCPClient",
    "UNIXServer",
    "UNIXClient",
    "SSLServer",
    "SSLClient",
    "UNIXDatagramServer",
    "UNIXDatagramClient",
    "backoffPolicy",
]


def _maybeGlobalReactor(maybeReactor: Any) -> Any:
    """``maybeReactor``, or the installed global reactor when it is None."""
    if maybeReactor is None:
        from torsion.internet import reactor

        return reactor
    return maybeReactor


class _VolatileDataService(service.Service):
    """A service whose ``volatile`` attributes are left out when pickled."""

    volatile: ClassVar[list[str]] = []

    def __getstate__(self) -> dict[str, Any]:
        """Pickle state without the volatile attributes."""
        state = service.Service.__getstate__(self)
        for name in self.volatile:
            state.pop(name, None)
        return state


class _AbstractServer(_VolatileDataService):
    """Calls ``reactor.listen<method>(*args, **kwargs)`` while running."""

    volatile: ClassVar[list[str]] = ["_port"]
    method = ""
    reactor: Any = None
    _port: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        if "reactor" in kwargs:
            self.reactor = kwargs.pop("reactor")
        self.kwargs = kwargs

    def privilegedStartService(self) -> None:
        """Listen now (before privileges are dropped)."""
        service.Service.privilegedStartService(self)
        self._port = self._getPort()

    def startService(self) -> None:
        """Mark running and listen, unless privilegedStartService already did."""
        service.Service.startService(self)
        if self._port is None:
            self._port = self._getPort()

    def stopService(self) -> Any:
        """Stop listening; returns the port's stopListening result."""
        service.Service.stopService(self)
        if self._port is not None:
            stopping = self._port.stopListening()
            del self._port
            return stopping
        return None

    def _getPort(self) -> Any:
        reactor = _maybeGlobalReactor(self.reactor)
        return getattr(reactor, f"listen{self.method}")(*self.args, **self.kwargs)


class _AbstractClient(_VolatileDataService):
    """Calls ``reactor.connect<method>(*args, **kwargs)`` when started."""

    volatile: ClassVar[list[str]] = ["_connection"]
    method = ""
    reactor: Any = None
    _connection: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        if "reactor" in kwargs:
            self.reactor = kwargs.pop("reactor")
        self.kwargs = kwargs

    def startService(self) -> None:
        """Mark running and connect."""
        service.Service.startService(self)
        self._connection = self._getConnection()

    def stopService(self) -> None:
        """Mark stopped and disconnect the connector."""
        service.Service.stopService(self)
        if self._connection is not None:
            self._connection.disconnect()
            del self._connection

    def _getConnection(self) -> Any:
        reactor = _maybeGlobalReactor(self.reactor)
        return getattr(reactor, f"connect{self.method}")(*self.args, **self.kwargs)


class TCPServer(_AbstractServer):
    """Listens with ``reactor.listenTCP(*args, **kwargs)`` while running."""

    method = "TCP"


class TCPClient(_AbstractClient):
    """Connects with ``reactor.connectTCP(*args, **kwargs)`` when started."""

    method = "TCP"


class UNIXServer(_AbstractServer):
    """Listens with ``reactor.listenUNIX(*args, **kwargs)`` while running."""

    method = "UNIX"


class UNIXClient(_AbstractClient):
    """Connects with ``reactor.connectUNIX(*args, **kwargs)`` when started."""

    method = "UNIX"


class SSLServer(_AbstractServer):
    """Listens with ``reactor.listenSSL(*args, **kwargs)`` while running."""

    method = "SSL"


class SSLClient(_AbstractClient):
    """Connects with ``reactor.connectSSL(*args, **kwargs)`` when started."""

    method = "SSL"


class UDPServer(_AbstractServer):
    """Listens with ``reactor.listenUDP(*args, **kwargs)`` while running."""

    method = "UDP"


class UNIXDatagramServer(_AbstractServer):
    """Listens with ``reactor.listenUNIXDatagram(*args, **kwargs)`` while running."""

    method = "UNIXDatagram"


class UNIXDatagramClient(_AbstractClient):
    """Connects with ``reactor.connectUNIXDatagram(*args, **kwargs)`` when started."""

    method = "UNIXDatagram"


class MulticastServer(_AbstractServer):
    """Listens with ``reactor.listenMulticast(*args, **kwargs)`` while running."""

    method = "Multicast"


class TimerService(_VolatileDataService):
    """Calls ``callable(*args, **kwargs)`` every ``step`` seconds while running.

    The first call is made when the service starts. ``clock`` (None: the
    global reactor) may be set before starting.
    """

    volatile: ClassVar[list[str]] = ["_loop", "_loopFinished"]

    def __init__(
        self, step: float, callable: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        self.step = step
        self.call = (callable, args, kwargs)
        self.clock: Any = None

    def startService(self) -> None:
        """Start a fresh LoopingCall, calling at once."""
        service.Service.startService(self)
        callable, args, kwargs = self.call
        self._loop = task.LoopingCall(callable, *args, **kwargs)
        self._loop.clock = _maybeGlobalReactor(self.clock)
        self._loopFinished = self._loop.start(self.step, now=True)
        self._loopFinished.addErrback(self._failed)

    def _failed(self, why: Failure) -> None:
        self._loop.running = False
        log.err(why)

    def stopService(self) -> Deferred[Any]:
        """Stop the loop; the Deferred fires once a call in progress has finished."""
        if self._loop.running:
            self._loop.stop()
        self._loopFinished.addCallback(lambda _: service.Service.stopService(self))
        return self._loopFinished


class CooperatorService(service.Service):
    """Runs a task.Cooperator while the service is running."""

    def __init__(self) -> None:
        self.coop = task.Cooperator(started=False)

    def coiterate(self, iterator: Any) -> Deferred[Any]:
        """Cooperatively iterate over ``iterator`` (see Cooperator.coiterate)."""
        return self.coop.coiterate(iterator)

    def startService(self) -> None:
        """Start the cooperator."""
        self.coop.start()

    def stopService(self) -> None:
        """Stop the cooperator."""
        self.coop.stop()


class StreamServerEndpointService(service.Service):
    """Listens on ``endpoint`` with ``factory`` while the service runs.

    A failure to listen is logged, unless ``_raiseSynchronously`` is set and
    the failure is known at once, in which case the start call raises it.
    """

    _raiseSynchronously = False

    def __init__(self, endpoint: Any, factory: Any) -> None:
        self.endpoint = endpoint
        self.factory = factory
        self._waitingForPort: Deferred[Any] | None = None

    def privilegedStartService(self) -> None:
        """Start listening on the endpoint."""
        service.Service.privilegedStartService(self)
        waiting = self.endpoint.listen(self.factory)
        self._waitingForPort = waiting
        raisedNow: list[Failure] = []

        def handle(failure: Failure) -> None:
            if self._raiseSynchronously:
                raisedNow.append(failure)
            elif not failure.check(CancelledError):
                log.err(failure)

        waiting.addErrback(handle)
        if raisedNow:
            raisedNow[0].raiseException()
        self._raiseSynchronously = False

    def startService(self) -> None:
        """Mark running and listen, unless privilegedStartService already did."""
        service.Service.startService(self)
        if self._waitingForPort is None:
            self.privilegedStartService()

    def stopService(self) -> Deferred[Any]:
        """Stop listening (or cancel the listen); fires with None when done."""
        assert self._waitingForPort is not None
        self._waitingForPort.cancel()

        def stopListening(port: Any) -> Any:
            if port is not None:
                return port.stopListening()
            return None

        def markStopped(result: Any) -> Any:
            self.running = False
            return result

        waiting = self._waitingForPort.addCallback(stopListening)
        waiting.addBoth(markStopped)
        return waiting


def backoffPolicy(
    initialDelay: float = 1.0,
    maxDelay: float = 60.0,
    factor: float = 1.5,
    jitter: Callable[[], float] = _jitterRandom,
) -> Callable[[int], float]:
    """A retry policy: ``min(initialDelay * factor ** attempt, maxDelay) + jitter()``.

    The exponent is capped at 100; an overflow gives ``maxDelay``.
    """

    def policy(attempt: int) -> float:
        try:
            delay = min(initialDelay * (factor ** min(100, attempt)), maxDelay)
        except OverflowError:
            delay = maxDelay
        return delay + jitter()

    return policy


_defaultPolicy = backoffPolicy()


class _ReconnectingProtocolProxy:
    """Wraps a client protocol and reports its connectionLost to the service."""

    def __init__(
        self, protocol: Any, lostNotification: Callable[[Failure], None]
    ) -> None:
        self._protocol = protocol
        self._lostNotification = lostNotification

    def makeConnection(self, transport: Any) -> None:
        """Remember the transport and connect the wrapped protocol."""
        self._transport = transport
        self._protocol.makeConnection(transport)

    def connectionLost(self, reason: Failure) -> Any:
        """Tell the wrapped protocol, then (even if it raised) the service."""
        try:
            return self._protocol.connectionLost(reason)
        finally:
            self._lostNotification(reason)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._protocol, name)

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} wrapping {self._protocol!r}>"


class _DisconnectFactory:
    """Wraps a protocol factory so that its protocols report connectionLost."""

    def __init__(
        self, protocolFactory: Any, protocolDisconnected: Callable[[Failure], None]
    ) -> None:
        self._protocolFactory = protocolFactory
        self._protocolDisconnected = protocolDisconnected

    def buildProtocol(self, addr: Any) -> Any:
        """Build the wrapped factory's protocol and wrap it (None stays None)."""
        built = self._protocolFactory.buildProtocol(addr)
        if built is None:
            return None
        return _ReconnectingProtocolProxy(built, self._protocolDisconnected)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._protocolFactory, name)

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} wrapping {self._protocolFactory!r}>"


class _NoTransition(Exception):
    """The client state machine got an input its current state does not accept."""

    def __init__(self, state: str, symbol: str) -> None:
        self.state = state
        self.symbol = symbol
        super().__init__(f"no transition for {symbol} in {state}")


# States that carry data, made on entry by the named method.
_DATA_FACTORIES = {
    "Connecting": "_attemptConnection",
    "Waiting": "_waitForRetry",
    "Connected": "_rememberConnection",
}

# (state, input) -> (next state, method or None, whether the method skips the
# old state's data).  Inputs that return a Deferred may not be called while
# another input is being handled; the others are queued until it is done.
_TRANSITIONS: dict[tuple[str, str], tuple[str, str | None, bool]] = {
    ("Init", "start"): ("Connecting", None, False),
    ("Connecting", "start"): ("Connecting", None, False),
    ("Connecting", "_connectionMade"): ("Connected", None, False),
    ("Waiting", "start"): ("Waiting", None, False),
    ("Waiting", "_reconnect"): ("Connecting", None, False),
    ("Connected", "_connectionFailed"): ("Waiting", None, False),
    ("Connected", "start"): ("Connected", None, False),
    ("Connected", "_clientDisconnected"): ("Waiting", None, False),
    ("Disconnecting", "start"): ("Restarting", None, False),
    ("Restarting", "start"): ("Restarting", None, False),
    ("Stopped", "start"): ("Connecting", None, False),
    ("Init", "stop"): ("Stopped", "_immediateStop", False),
    ("Stopped", "stop"): ("Stopped", "_immediateStop", False),
    ("Connecting", "stop"): ("Disconnecting", "_connectingStop", False),
    ("Connecting", "_connectionFailed"): ("Waiting", "_failedWhenConnecting", True),
    ("Waiting", "stop"): ("Stopped", "_stopWaiting", False),
    ("Connected", "stop"): ("Disconnecting", "_stopWhileConnected", False),
    ("Connected", "whenConnected"): ("Connected", "_whenConnectedConnected", False),
    ("Disconnecting", "stop"): ("Disconnecting", "_waitForStop", False),
    ("Restarting", "stop"): ("Disconnecting", "_waitForStop", False),
    ("Disconnecting", "_connectionFailed"): (
        "Stopped",
        "_disconnectingFinished",
        False,
    ),
    ("Disconnecting", "_clientDisconnected"): (
        "Stopped",
        "_disconnectingFinished",
        False,
    ),
    ("Connecting", "whenConnected"): ("Connecting", "_awaitConnection", True),
    ("Waiting", "whenConnected"): ("Waiting", "_awaitConnection", True),
    ("Init", "whenConnected"): ("Init", "_awaitConnection", False),
    ("Restarting", "whenConnected"): ("Restarting", "_awaitConnection", False),
    ("Disconnecting", "whenConnected"): ("Disconnecting", "_awaitConnection", False),
    ("Restarting", "_clientDisconnected"): ("Connecting", "_restartDone", False),
    ("Stopped", "whenConnected"): ("Stopped", "_notGoingToConnect", False),
}

_RETURNS_DEFERRED = {
    "stop": f"{Deferred.__module__}.Deferred[None]",
    "whenConnected": f"{Deferred.__module__}.Deferred[{IProtocol!r}]",
}


class _ClientMachine:
    """The connection state machine behind ClientService.

    States: Init, Connecting (data: the attempt's Deferred), Waiting (the
    retry DelayedCall), Connected (the protocol proxy), Disconnecting,
    Restarting, Stopped.  On entering a data state its data is made first;
    then the transition's method runs with the old state's data.
    """

    def __init__(
        self,
        endpoint: Any,
        factory: Any,
        retryPolicy: Callable[[int], float],
        clock: Any,
        prepareConnection: Callable[[Any], object] | None,
        log: Logger,
    ) -> None:
        self._endpoint = endpoint
        self._factory = factory
        self._timeoutForAttempt = retryPolicy
        self._clock = clock
        self._prepareConnection = prepareConnection
        self._log = log
        self._stopWaiters: list[Deferred[None]] = []
        self._awaitingConnected: list[tuple[Deferred[Any], int | None]] = []
        self._failedAttempts = 0
        self._state = "Init"
        self._data: Any = None
        self._postponed: list[Callable[[], None]] | None = None

    def _input(self, symbol: str, *args: Any) -> Any:
        if self._postponed is not None:
            if symbol in _RETURNS_DEFERRED:
                raise RuntimeError(
                    f"attempting to reentrantly run _Client.{symbol} but it wants "
                    f"to return {_RETURNS_DEFERRED[symbol]} not None"
                )
            self._postponed.append(lambda: self._input(symbol, *args))
            return None
        old = self._state
        dataAtStart = self._data
        try:
            new, method, nodata = _TRANSITIONS[(old, symbol)]
        except KeyError:
            raise _NoTransition(old, symbol) from None
        postponed: list[Callable[[], None]] = []
        self._postponed = postponed
        try:
            self._state = new
            if new != old and new in _DATA_FACTORIES:
                self._data = getattr(self, _DATA_FACTORIES[new])(*args)
            result = None
            if method is not None:
                behaviour = getattr(self, method)
                if old in _DATA_FACTORIES and not nodata:
                    result = behaviour(dataAtStart, *args)
                else:
                    result = behaviour(*args)
        finally:
            self._postponed = None
        while postponed:
            postponed.pop(0)()
        return result

    def start(self) -> None:
        """Start connecting (or keep going)."""
        self._input("start")

    def stop(self) -> Deferred[None]:
        """Stop; the Deferred fires once any connection or attempt is gone."""
        return self._input("stop")

    def whenConnected(self, failAfterFailures: int | None = None) -> Deferred[Any]:
        """The connected protocol now, or a Deferred for the next one."""
        return self._input("whenConnected", failAfterFailures)

    def _connectionMade(self, protocol: _ReconnectingProtocolProxy) -> None:
        self._input("_connectionMade", protocol)

    def _connectionFailed(self, failure: Failure) -> None:
        self._input("_connectionFailed", failure)

    def _reconnect(self, failure: Failure | None = None) -> None:
        self._input("_reconnect", failure)

    def _clientDisconnected(self, failure: Failure | None = None) -> None:
        self._input("_clientDisconnected", failure)

    def _waitForStopDeferred(self) -> Deferred[None]:
        waiter: Deferred[None] = Deferred()
        self._stopWaiters.append(waiter)
        return waiter

    def _unawait(self, value: Any) -> None:
        waiting, self._awaitingConnected = self._awaitingConnected, []
        for waiter, _remaining in waiting:
            waiter.callback(value)

    def _cancelConnectWaiters(self) -> None:
        self._unawait(Failure(CancelledError()))

    def _finishStopping(self) -> None:
        waiting, self._stopWaiters = self._stopWaiters, []
        for waiter in waiting:
            waiter.callback(None)

    def _waitForRetry(self, failure: Failure | None = None) -> Any:
        self._failedAttempts += 1
        delay = self._timeoutForAttempt(self._failedAttempts)
        self._log.info(
            "Scheduling retry {attempt} to connect {endpoint} in {delay} seconds.",
            attempt=self._failedAttempts,
            endpoint=self._endpoint,
            delay=delay,
        )
        return self._clock.callLater(delay, self._reconnect)

    def _rememberConnection(
        self, protocol: _ReconnectingProtocolProxy
    ) -> _ReconnectingProtocolProxy:
        self._failedAttempts = 0
        self._unawait(protocol._protocol)
        return protocol

    def _attemptConnection(self, failure: Failure | None = None) -> Deferred[Any]:
        factoryProxy = _DisconnectFactory(self._factory, self._clientDisconnected)
        attempt: Deferred[Any] = self._endpoint.connect(factoryProxy)
        prepareConnection = self._prepareConnection

        def prepare(protocol: _ReconnectingProtocolProxy) -> Deferred[Any]:
            if prepareConnection is not None:
                return maybeDeferred(prepareConnection, protocol).addCallback(
                    lambda _: protocol
                )
            return succeed(protocol)

        attempt.addCallback(prepare).addCallback(self._connectionMade).addErrback(
            self._connectionFailed
        )
        return attempt

    def _immediateStop(self) -> Deferred[None]:
        return succeed(None)

    def _connectingStop(self, attempt: Deferred[Any]) -> Deferred[None]:
        waited = self._waitForStopDeferred()
        attempt.cancel()
        return waited

    def _failedWhenConnecting(self, failure: Failure) -> None:
        ready = []
        notReady: list[tuple[Deferred[Any], int | None]] = []
        for waiter, remaining in self._awaitingConnected:
            if remaining is None:
                notReady.append((waiter, remaining))
            elif remaining <= 1:
                ready.append(waiter)
            else:
                notReady.append((waiter, remaining - 1))
        self._awaitingConnected = notReady
        for waiter in ready:
            waiter.callback(failure)

    def _stopWaiting(self, futureRetry: Any) -> Deferred[None]:
        waited = self._waitForStopDeferred()
        self._cancelConnectWaiters()
        futureRetry.cancel()
        self._finishStopping()
        return waited

    def _stopWhileConnected(
        self, protocol: _ReconnectingProtocolProxy
    ) -> Deferred[None]:
        waited = self._waitForStopDeferred()
        protocol._transport.loseConnection()
        return waited

    def _whenConnectedConnected(
        self, protocol: _ReconnectingProtocolProxy, failAfterFailures: int | None = None
    ) -> Deferred[Any]:
        return succeed(protocol._protocol)

    def _waitForStop(self) -> Deferred[None]:
        return self._waitForStopDeferred()

    def _disconnectingFinished(self, failure: Failure | None = None) -> None:
        self._cancelConnectWaiters()
        self._finishStopping()

    def _awaitConnection(self, failAfterFailures: int | None = None) -> Deferred[Any]:
        result: Deferred[Any] = Deferred()
        self._awaitingConnected.append((result, failAfterFailures))
        return result

    def _restartDone(self, failure: Failure | None = None) -> None:
        self._finishStopping()

    def _notGoingToConnect(self, failAfterFailures: int | None = None) -> Deferred[Any]:
        return fail(CancelledError())


class ClientService(service.Service):
    """Keeps one connection to ``endpoint`` open while running, reconnecting.

    After a failed attempt or a lost connection it waits
    ``retryPolicy(failedAttemptsInARow)`` seconds (default: ``backoffPolicy()``)
    on ``clock`` (default: the global reactor) and tries again.
    ``prepareConnection(protocol)`` may return a Deferred; a connection is
    handed out by ``whenConnected`` only once it has succeeded, and its
    failure counts as a failed attempt.
    """

    _log = Logger()

    def __init__(
        self,
        endpoint: Any,
        factory: Any,
        retryPolicy: Callable[[int], float] | None = None,
        clock: Any = None,
        prepareConnection: Callable[[Any], object] | None = None,
    ) -> None:
        clock = _maybeGlobalReactor(clock)
        retryPolicy = _defaultPolicy if retryPolicy is None else retryPolicy
        self._machine = _ClientMachine(
            endpoint, factory, retryPolicy, clock, prepareConnection, self._log
        )

    def whenConnected(self, failAfterFailures: int | None = None) -> Deferred[Any]:
        """A Deferred firing with the connected protocol (now, or the next one).

        It fails with CancelledError when the service stops, or with the
        connection error after ``failAfterFailures`` failed attempts in a row.
        """
        return self._machine.whenConnected(failAfterFailures)

    def startService(self) -> None:
        """Start connecting; a second start while running only logs a warning."""
        if self.running:
            self._log.warn("Duplicate ClientService.startService {log_source}")
            return
        super().startService()
        self._machine.start()

    def stopService(self) -> Deferred[None]:
        """Stop retrying and disconnect; fires once the connection is gone."""
        super().stopService()
        return self._machine.stop()
