"""TorsionReactor: the reactor class users get from torsion.internet.reactor.

The loop, timers, thread-call queue and sockets are in the Rust base class
(``_torsion.ReactorBase``); this subclass carries Twisted's Python-level API:
run/stop/crash, system event triggers, signals, TCP, UDP, UNIX sockets,
threads and names.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

from zope.interface import classImplements, implementer

from torsion import _torsion
from torsion.internet import _hooks, error, main, udp, unix
from torsion.internet._resolver import (
    ComplexResolverSimplifier,
    GAIResolver,
    SimpleResolverComplexifier,
)
from torsion.internet._signals import SignalHandling
from torsion.internet.base import _ThreePhaseEvent
from torsion.internet.defer import Deferred, succeed
from torsion.internet.interfaces import (
    IDelayedCall,
    IHalfCloseableDescriptor,
    IReactorCore,
    IReactorFDSet,
    IReactorPluggableNameResolver,
    IReactorPluggableResolver,
    IReactorTCP,
    IReactorThreads,
    IReactorTime,
    IReactorUDP,
    IReactorUNIX,
)
from torsion.internet.tcp import Connector, Port, _isIPv4
from torsion.logger import Logger
from torsion.python import log
from torsion.python.failure import Failure

_log = Logger()

classImplements(_torsion.DelayedCall, IDelayedCall)

_NO_FILEDESC = error.ConnectionFdescWentAway("File descriptor lost")

# As Twisted, a descriptor ended by ConnectionDone/ConnectionLost gets one
# shared Failure of a fresh instance, not the exception doRead returned.
_SHARED_REASONS = {
    error.ConnectionDone: _hooks.reasonDone,
    error.ConnectionLost: _hooks.reasonLost,
}


@implementer(
    IReactorCore,
    IReactorTime,
    IReactorTCP,
    IReactorUDP,
    IReactorUNIX,
    IReactorFDSet,
    IReactorThreads,
    IReactorPluggableNameResolver,
    IReactorPluggableResolver,
)
class TorsionReactor(_torsion.ReactorBase):
    """Twisted's reactor API on torsion's Rust event loop."""

    __name__ = "torsion.internet.reactor"
    installed = False
    usingThreads = False
    _exitSignal: int | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> TorsionReactor:
        # The Rust core takes the hooks it calls Python through when it is
        # built (never later, so that no path can run without them).
        return super().__new__(cls, _hooks)

    def __init__(self) -> None:
        self._stopped = True
        self._startedBefore = False
        self._installSignalHandlers = False
        self._signals: SignalHandling | None = None
        self._eventTriggers: dict[str, _ThreePhaseEvent] = {}
        self.threadpool: Any = None
        self._threadpoolStartupID: Any = None
        self.threadpoolShutdownID: Any = None
        self._nameResolver: Any = GAIResolver(self, self.getThreadPool)
        self.resolver: Any = ComplexResolverSimplifier(self._nameResolver)
        self.usingThreads = True
        self.addSystemEventTrigger("during", "startup", self._reallyStartRunning)
        self.addSystemEventTrigger("during", "shutdown", self.crash)
        self.addSystemEventTrigger("during", "shutdown", self.disconnectAll)

    # IReactorCore

    def run(self, installSignalHandlers: bool = True) -> None:
        """Run the loop until stop() (or crash()); fires the startup event."""
        self.startRunning(installSignalHandlers=installSignalHandlers)
        try:
            self._mainLoop()
        finally:
            if self._signals is not None:
                self._signals.uninstall()
                self._signals = None
        _log.info("Main loop terminated.")

    def mainLoop(self) -> None:
        """Twisted's mainLoop: run turns until the reactor stops."""
        self._mainLoop()

    def startRunning(self, installSignalHandlers: bool = True) -> None:
        """Prepare to run and fire the startup event (run() calls this)."""
        if self._started:
            raise error.ReactorAlreadyRunning()
        if self._startedBefore:
            raise error.ReactorNotRestartable()
        self._installSignalHandlers = installSignalHandlers
        self._started = True
        self._stopped = False
        self.fireSystemEvent("startup")

    def _reallyStartRunning(self) -> None:
        self.running = True
        if self._installSignalHandlers and self._signals is None:
            self._signals = SignalHandling(self)
            self._signals.install()

    def stop(self) -> None:
        """Stop the loop after firing the shutdown event."""
        if self._stopped:
            raise error.ReactorNotRunning("Can't stop reactor that isn't running.")
        self._stopped = True
        self._justStopped = True
        self._startedBefore = True

    def crash(self) -> None:
        """Stop the loop at once, without shutdown triggers; run() may be
        called again afterwards."""
        self._started = False
        self.running = False
        self.addSystemEventTrigger("during", "startup", self._reallyStartRunning)

    def sigInt(self, number: int, frame: Any = None) -> None:
        """SIGINT: stop gracefully."""
        _log.info("Received SIGINT, shutting down.")
        self.callFromThread(self.stop)
        self._exitSignal = number

    def sigTerm(self, number: int, frame: Any = None) -> None:
        """SIGTERM: stop gracefully."""
        _log.info("Received SIGTERM, shutting down.")
        self.callFromThread(self.stop)
        self._exitSignal = number

    sigBreak = sigInt

    def fireSystemEvent(self, eventType: str) -> None:
        """Run the triggers of ``eventType`` in their three phases."""
        event = self._eventTriggers.get(eventType)
        if event is not None:
            event.fireEvent()

    def addSystemEventTrigger(
        self,
        phase: str,
        eventType: str,
        callable: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Call ``callable`` in ``phase`` ("before", "during", "after") of
        ``eventType``; returns an ID for removeSystemEventTrigger."""
        if not _isCallable(callable):
            raise AssertionError(f"{callable} is not callable")
        if eventType not in self._eventTriggers:
            self._eventTriggers[eventType] = _ThreePhaseEvent()
        return (
            eventType,
            self._eventTriggers[eventType].addTrigger(phase, callable, *args, **kwargs),
        )

    def removeSystemEventTrigger(self, triggerID: Any) -> None:
        """Remove a trigger added with addSystemEventTrigger."""
        eventType, handle = triggerID
        self._eventTriggers[eventType].removeTrigger(handle)

    def callWhenRunning(
        self, callable: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """Call now if running, else once the reactor has started."""
        if self.running:
            callable(*args, **kwargs)
            return None
        return self.addSystemEventTrigger("after", "startup", callable, *args, **kwargs)

    def disconnectAll(self) -> None:
        """Close every connection and port (part of shutdown)."""
        for selectable in self.removeAll():
            log.callWithLogger(
                selectable, selectable.connectionLost, Failure(main.CONNECTION_LOST)
            )

    # Level-triggered descriptors added with addReader/addWriter.

    def _doReadOrWrite(
        self,
        selectable: Any,
        fd: int,
        readable: bool,
        writable: bool,
        hangup: bool,
        isReader: bool,
    ) -> None:
        why: Any = None
        inRead = False
        if hangup and not readable:
            if isReader:
                inRead = True
                why = error.ConnectionDone()
            else:
                why = error.ConnectionLost()
        else:
            try:
                if selectable.fileno() == -1:
                    why = _NO_FILEDESC
                else:
                    if readable:
                        why = selectable.doRead()
                        inRead = True
                    if not why and writable and selectable.fileno() == fd:
                        why = selectable.doWrite()
                        inRead = False
            except BaseException:
                why = sys.exc_info()[1]
                log.err()
        if why:
            self._disconnectSelectable(selectable, why, inRead)

    def _disconnectSelectable(self, selectable: Any, why: Any, isRead: bool) -> None:
        self.removeReader(selectable)
        if isinstance(why, Failure):
            why = why.value
        shared = _SHARED_REASONS.get(why.__class__)
        if shared is not None:
            if (
                isRead
                and why.__class__ is error.ConnectionDone
                and IHalfCloseableDescriptor.providedBy(selectable)
            ):
                selectable.readConnectionLost(shared)
                return
            self.removeWriter(selectable)
            selectable.connectionLost(shared)
        else:
            self.removeWriter(selectable)
            selectable.connectionLost(Failure(why))

    # IReactorTCP

    def listenTCP(
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> Port:
        """Listen for TCP connections; returns the IListeningPort."""
        p = Port(port, factory, backlog, interface, self)
        p.startListening()
        return p

    def connectTCP(
        self,
        host: str,
        port: int,
        factory: Any,
        timeout: float = 30,
        bindAddress: Any = None,
    ) -> Connector:
        """Connect to host:port; returns the IConnector."""
        c = Connector(host, port, factory, timeout, bindAddress, self)
        c.connect()
        return c

    # IReactorUDP

    def listenUDP(
        self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192
    ) -> udp.Port:
        """Receive datagrams on ``port`` for ``protocol``; returns the port
        (IListeningPort and IUDPTransport)."""
        p = udp.Port(port, protocol, interface, maxPacketSize, self)
        p.startListening()
        return p

    # IReactorUNIX

    def listenUNIX(
        self,
        address: bytes | str,
        factory: Any,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: int = 0,
    ) -> unix.Port:
        """Listen on the UNIX socket ``address``; returns the IListeningPort."""
        p = unix.Port(address, factory, backlog, mode, self, wantPID)
        p.startListening()
        return p

    def connectUNIX(
        self,
        address: bytes | str,
        factory: Any,
        timeout: float = 30,
        checkPID: int = 0,
    ) -> unix.Connector:
        """Connect to the UNIX socket ``address``; returns the IConnector."""
        c = unix.Connector(address, factory, timeout, self, checkPID)
        c.connect()
        return c

    # IReactorThreads

    def getThreadPool(self) -> Any:
        """The reactor's thread pool, started with the reactor and stopped
        at shutdown."""
        if self.threadpool is None:
            from torsion.python.threadpool import ThreadPool

            self.threadpool = ThreadPool(0, 10, "torsion.internet.reactor")
            self._threadpoolStartupID = self.callWhenRunning(self.threadpool.start)
            self.threadpoolShutdownID = self.addSystemEventTrigger(
                "during", "shutdown", self._stopThreadPool
            )
        return self.threadpool

    def _stopThreadPool(self) -> None:
        triggers = [self._threadpoolStartupID, self.threadpoolShutdownID]
        for trigger in filter(None, triggers):
            try:
                self.removeSystemEventTrigger(trigger)
            except ValueError:
                pass
        self._threadpoolStartupID = None
        self.threadpoolShutdownID = None
        pool, self.threadpool = self.threadpool, None
        if pool is not None:
            pool.stop()

    def callInThread(
        self, callable: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        """Run ``callable`` on the thread pool."""
        self.getThreadPool().callInThread(callable, *args, **kwargs)

    def suggestThreadPoolSize(self, size: int) -> None:
        """Set the thread pool's maximum size."""
        self.getThreadPool().adjustPoolsize(maxthreads=size)

    # Names

    def resolve(
        self, name: str, timeout: Sequence[int] = (1, 3, 11, 45)
    ) -> Deferred[str]:
        """An IPv4 address for ``name`` (DNSLookupError if there is none)."""
        if not name:
            return succeed("0.0.0.0")
        if _isIPv4(name):
            return succeed(name)
        return self.resolver.getHostByName(name, timeout)

    @property
    def nameResolver(self) -> Any:
        """The IHostnameResolver used by endpoints (getaddrinfo on threads)."""
        return self._nameResolver

    def installNameResolver(self, resolver: Any) -> Any:
        """Replace the name resolver; returns the previous one."""
        previous = self._nameResolver
        self._nameResolver = resolver
        self.resolver = ComplexResolverSimplifier(resolver)
        return previous

    def installResolver(self, resolver: Any) -> Any:
        """Replace the simple resolver (getHostByName); returns the previous."""
        previous = self.resolver
        self.resolver = resolver
        self._nameResolver = SimpleResolverComplexifier(resolver)
        return previous

    def __repr__(self) -> str:
        return f"<{self.__class__.__module__}.{self.__class__.__qualname__} object at 0x{id(self):x}>"


def _isCallable(obj: object) -> bool:
    """The builtin ``callable``, which methods taking a parameter named
    ``callable`` (as Twisted's do) cannot reach by name."""
    return callable(obj)


__all__ = ["TorsionReactor", "socket"]
