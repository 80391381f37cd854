"""Reactor building blocks that are pure Python: system event triggers,
name resolvers and the client connector (mirrors twisted.internet.base)."""

from __future__ import annotations

import socket
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.defer import Deferred, DeferredList, fail, succeed
from torsion.internet.interfaces import IConnector, IResolverSimple
from torsion.python import log
from torsion.python.failure import Failure

_PHASES = ("before", "during", "after")


# What Twisted logs above the traceback of a trigger that raised.
_TRIGGER_FAILED = "While calling system event trigger handler"


class _ThreePhaseEvent:
    """The triggers of one system event ("startup", "shutdown", ...), run
    in three phases; Deferreds returned by "before" triggers delay the rest."""

    def __init__(self) -> None:
        self.before: list[tuple[Callable[..., Any], tuple, dict]] = []
        self.during: list[tuple[Callable[..., Any], tuple, dict]] = []
        self.after: list[tuple[Callable[..., Any], tuple, dict]] = []
        self.state = "BASE"
        self.finishedBefore: list[tuple[Callable[..., Any], tuple, dict]] = []

    def addTrigger(
        self, phase: str, callable: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> tuple[str, Callable[..., Any], tuple, dict]:
        """Add a trigger to a phase; returns a handle for removeTrigger."""
        if phase not in _PHASES:
            raise KeyError("invalid phase")
        getattr(self, phase).append((callable, args, kwargs))
        return (phase, callable, args, kwargs)

    def removeTrigger(self, handle: Any) -> None:
        """Remove a trigger added earlier (ValueError if it is not there)."""
        if self.state == "BEFORE":
            self._removeWhileBefore(handle)
        else:
            self._removeNow(handle)

    def _removeNow(self, handle: Any) -> None:
        try:
            phase, callable, args, kwargs = handle
        except (TypeError, ValueError):
            raise ValueError("invalid trigger handle") from None
        if phase not in _PHASES:
            raise KeyError("invalid phase")
        getattr(self, phase).remove((callable, args, kwargs))

    def _removeWhileBefore(self, handle: Any) -> None:
        phase, callable, args, kwargs = handle
        if phase != "before":
            self._removeNow(handle)
        elif (callable, args, kwargs) in self.finishedBefore:
            warnings.warn(
                "Removing already-fired system event triggers will raise an "
                "exception in a future version of Twisted.",
                category=DeprecationWarning,
                stacklevel=3,
            )
        else:
            self._removeNow(handle)

    def fireEvent(self) -> None:
        """Run the "before" triggers, then (once their Deferreds fire) the
        "during" and "after" ones."""
        self.state = "BEFORE"
        self.finishedBefore = []
        waiting: list[Deferred[Any]] = []
        while self.before:
            callable, args, kwargs = self.before.pop(0)
            self.finishedBefore.append((callable, args, kwargs))
            try:
                result = callable(*args, **kwargs)
            except BaseException:
                log.err(None, _TRIGGER_FAILED)
                continue
            if isinstance(result, Deferred):
                waiting.append(result)
        DeferredList(waiting).addCallback(self._continueFiring)

    def _continueFiring(self, ignored: object) -> None:
        self.state = "BASE"
        self.finishedBefore = []
        for phase in (self.during, self.after):
            while phase:
                callable, args, kwargs = phase.pop(0)
                try:
                    callable(*args, **kwargs)
                except BaseException:
                    log.err(None, _TRIGGER_FAILED)


@implementer(IResolverSimple)
class ThreadedResolver:
    """Resolves names with socket.gethostbyname on the reactor's thread
    pool, with its own timeout (the sum of ``timeout``)."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self._runningQueries: dict[Deferred[str], tuple[Deferred[str], Any]] = {}

    def _fail(self, name: str, err: str) -> Failure:
        return Failure(error.DNSLookupError(f"address {name!r} not found: {err}"))

    def _cleanup(self, name: str, lookupDeferred: Deferred[str]) -> None:
        userDeferred, _ = self._runningQueries.pop(lookupDeferred)
        userDeferred.errback(self._fail(name, "timeout error"))

    def _checkTimeout(
        self, result: Any, name: str, lookupDeferred: Deferred[str]
    ) -> None:
        entry = self._runningQueries.pop(lookupDeferred, None)
        if entry is None:
            return
        userDeferred, cancelCall = entry
        cancelCall.cancel()
        if isinstance(result, Failure):
            userDeferred.errback(self._fail(name, result.getErrorMessage()))
        else:
            userDeferred.callback(result)

    def getHostByName(
        self, name: str, timeout: Sequence[int] = (1, 3, 11, 45)
    ) -> Deferred[str]:
        """A Deferred firing with the IPv4 address of ``name``, or failing
        with DNSLookupError."""
        from torsion.internet.threads import deferToThreadPool

        timeoutDelay = sum(timeout) if timeout else 60
        userDeferred: Deferred[str] = Deferred()
        lookupDeferred = deferToThreadPool(
            self.reactor,
            self.reactor.getThreadPool(),
            socket.gethostbyname,
            name,
        )
        cancelCall = self.reactor.callLater(
            timeoutDelay, self._cleanup, name, lookupDeferred
        )
        self._runningQueries[lookupDeferred] = (userDeferred, cancelCall)
        lookupDeferred.addBoth(self._checkTimeout, name, lookupDeferred)
        return userDeferred


@implementer(IResolverSimple)
class BlockingResolver:
    """Resolves names synchronously (blocks the loop; for tests and tools)."""

    def getHostByName(
        self, name: str, timeout: Sequence[int] = (1, 3, 11, 45)
    ) -> Deferred[str]:
        """Resolve ``name`` now; the Deferred has already fired."""
        try:
            address = socket.gethostbyname(name)
        except OSError:
            msg = f"address {name!r} not found"
            return fail(error.DNSLookupError(msg))
        return succeed(address)


@implementer(IConnector)
class BaseConnector:
    """IConnector: one client connection's life, reconnectable with
    connect(); tells the factory what happened (Twisted's BaseConnector)."""

    timeoutID: Any = None
    factoryStarted = 0
    transport: Any = None

    def __init__(self, factory: Any, timeout: float | None, reactor: Any) -> None:
        self.state = "disconnected"
        self.reactor = reactor
        self.factory = factory
        self.timeout = timeout

    def _makeTransport(self) -> Any:
        raise NotImplementedError

    def disconnect(self) -> None:
        """Stop connecting, or drop the connection if there is one."""
        if self.state == "connecting":
            self.stopConnecting()
        elif self.state == "connected":
            self.transport.loseConnection()

    def connect(self) -> None:
        """Start connecting (again)."""
        if self.state != "disconnected":
            raise RuntimeError("can't connect in this state")
        self.state = "connecting"
        if not self.factoryStarted:
            self.factory.doStart()
            self.factoryStarted = 1
        self.transport = self._makeTransport()
        if self.timeout is not None:
            self.timeoutID = self.reactor.callLater(
                self.timeout, self.transport.failIfNotConnected, error.TimeoutError()
            )
        self.factory.startedConnecting(self)

    def stopConnecting(self) -> None:
        """Abandon a connection attempt in progress."""
        if self.state != "connecting":
            raise error.NotConnectingError("we're not trying to connect")
        self.state = "disconnected"
        self.transport.failIfNotConnected(error.UserError())
        self.transport = None

    def cancelTimeout(self) -> None:
        """Cancel the connection timeout, if it is pending."""
        if self.timeoutID is not None:
            try:
                self.timeoutID.cancel()
            except (ValueError, error.AlreadyCalled, error.AlreadyCancelled):
                pass
            self.timeoutID = None

    def buildProtocol(self, addr: Any) -> Any:
        """The connection is up: build the protocol from the factory."""
        self.state = "connected"
        self.cancelTimeout()
        return self.factory.buildProtocol(addr)

    def connectionFailed(self, reason: Failure) -> None:
        """The attempt failed: tell the factory, stop it unless it retried."""
        self.cancelTimeout()
        self.transport = None
        self.state = "disconnected"
        self.factory.clientConnectionFailed(self, reason)
        if self.state == "disconnected":
            self.factory.doStop()
            self.factoryStarted = 0

    def connectionLost(self, reason: Failure) -> None:
        """The connection ended: tell the factory, stop it unless it retried."""
        self.state = "disconnected"
        self.factory.clientConnectionLost(self, reason)
        if self.state == "disconnected":
            self.factory.doStop()
            self.factoryStarted = 0

    def getDestination(self) -> Any:
        """The address being connected to."""
        raise NotImplementedError

    def __repr__(self) -> str:
        cls = self.__class__
        return (
            f"<{cls.__module__}.{cls.__qualname__} instance at 0x{id(self):x} "
            f"{self.state} {self.getDestination()}>"
        )
