"""Stream endpoints and the endpoint description strings (mirrors
twisted.internet.endpoints).

Endpoints describe where to listen or connect; ``listen(factory)`` and
``connect(factory)`` return Deferreds. ``serverFromString`` and
``clientFromString`` build them from Twisted's strings such as
``"tcp:8080:interface=127.0.0.1"`` or ``"tcp:host=example.com:port=80"``.

Supported string types: ``tcp``, ``tcp6`` and ``unix`` for servers, ``tcp``
and ``unix`` for clients (as in Twisted, there is no ``tcp6`` client
string).  The other types Twisted knows (``ssl``, ``tls``, ``systemd``,
``stdio``, ``haproxy``) raise a ValueError saying they are not supported by
torsion yet; plugins are not loaded.
"""

from __future__ import annotations

import socket
import warnings
from collections.abc import Callable, Iterator
from typing import Any
from unicodedata import normalize

from zope.interface import directlyProvides, implementer

from torsion.internet import defer, error, interfaces
from torsion.internet._resolver import HostResolution
from torsion.internet.address import HostnameAddress, IPv4Address, IPv6Address
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IReactorPluggableNameResolver,
    IResolutionReceiver,
)
from torsion.internet.protocol import ClientFactory, Factory, Protocol
from torsion.internet.task import LoopingCall
from torsion.internet.threads import deferToThread, deferToThreadPool
from torsion.logger import Logger
from torsion.python.failure import Failure

_log = Logger()

__all__ = [
    "TCP4ServerEndpoint",
    "TCP6ServerEndpoint",
    "TCP4ClientEndpoint",
    "TCP6ClientEndpoint",
    "UNIXServerEndpoint",
    "UNIXClientEndpoint",
    "HostnameEndpoint",
    "connectProtocol",
    "serverFromString",
    "clientFromString",
    "quoteStringArgument",
]


def _isIPv6Address(addr: Any) -> bool:
    if isinstance(addr, bytes):
        try:
            addr = addr.decode("ascii")
        except UnicodeDecodeError:
            return False
    try:
        socket.inet_pton(socket.AF_INET6, addr.split("%", 1)[0])
    except (OSError, ValueError):
        return False
    return True


def _idnaBytes(text: str) -> bytes:
    try:
        import idna
    except ImportError:
        return text.encode("idna")
    return bytes(idna.encode(text))


def _idnaText(octets: bytes) -> str:
    try:
        import idna
    except ImportError:
        return octets.decode("idna")
    return str(idna.decode(octets))


# The wrapping protocol and factory: they turn the first connectionMade (or
# the connection failure) into the result of ``connect()``'s Deferred.


class _WrappingProtocol(Protocol):
    """Stands between the transport and the user's protocol: connects the
    user's protocol, then fires the connect Deferred with it."""

    def __init__(self, connectedDeferred: Deferred[Any], wrappedProtocol: Any):
        self._connectedDeferred = connectedDeferred
        self._wrappedProtocol = wrappedProtocol
        for iface in (
            interfaces.IHalfCloseableProtocol,
            interfaces.IFileDescriptorReceiver,
            interfaces.IHandshakeListener,
        ):
            if iface.providedBy(wrappedProtocol):
                directlyProvides(self, iface)

    def logPrefix(self) -> str:
        """The wrapped protocol's log prefix (or its class name)."""
        inner = self._wrappedProtocol
        if interfaces.ILoggingContext.providedBy(inner):
            return str(inner.logPrefix())
        return inner.__class__.__name__

    def connectionMade(self) -> None:
        """Connect the wrapped protocol to the transport, then fire the Deferred."""
        self._wrappedProtocol.makeConnection(self.transport)
        self._connectedDeferred.callback(self._wrappedProtocol)

    def dataReceived(self, data: bytes) -> Any:
        """Passed to the wrapped protocol."""
        return self._wrappedProtocol.dataReceived(data)

    def fileDescriptorReceived(self, descriptor: int) -> Any:
        """Passed to the wrapped protocol."""
        return self._wrappedProtocol.fileDescriptorReceived(descriptor)

    def connectionLost(self, reason: Failure) -> Any:  # type: ignore[override]
        """Passed to the wrapped protocol."""
        return self._wrappedProtocol.connectionLost(reason)

    def readConnectionLost(self) -> None:
        """Passed to the wrapped protocol (IHalfCloseableProtocol)."""
        self._wrappedProtocol.readConnectionLost()

    def writeConnectionLost(self) -> None:
        """Passed to the wrapped protocol (IHalfCloseableProtocol)."""
        self._wrappedProtocol.writeConnectionLost()

    def handshakeCompleted(self) -> None:
        """Passed to the wrapped protocol (IHandshakeListener)."""
        self._wrappedProtocol.handshakeCompleted()


class _WrappingFactory(ClientFactory):
    """Wraps the user's factory for one connection attempt; its
    ``_onConnection`` Deferred is what ``connect()`` returns."""

    protocol = _WrappingProtocol  # type: ignore[assignment]
    _connector: Any = None

    def __init__(self, wrappedFactory: Any) -> None:
        self._wrappedFactory = wrappedFactory
        self._onConnection: Deferred[Any] = Deferred(canceller=self._canceller)

    def startedConnecting(self, connector: Any) -> None:
        """Remember the connector, to cancel it later if asked."""
        self._connector = connector

    def _canceller(self, deferred: Deferred[Any]) -> None:
        deferred.errback(
            error.ConnectingCancelledError(self._connector.getDestination())
        )
        self._connector.stopConnecting()

    def doStart(self) -> None:
        """Passed to the wrapped factory."""
        self._wrappedFactory.doStart()

    def doStop(self) -> None:
        """Passed to the wrapped factory."""
        self._wrappedFactory.doStop()

    def buildProtocol(self, addr: Any) -> Any:
        """Wrap the wrapped factory's protocol; if it raises or returns None
        (NoProtocol), fail the connect Deferred and refuse the connection."""
        try:
            built = self._wrappedFactory.buildProtocol(addr)
            if built is None:
                raise error.NoProtocol()
        except BaseException:
            self._onConnection.errback()
            return None
        return self.protocol(self._onConnection, built)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """Fail the connect Deferred, unless it already has a result."""
        if not self._onConnection.called:
            self._onConnection.errback(reason)


# TCP endpoints


@implementer(interfaces.IStreamServerEndpoint)
class _TCPServerEndpoint:
    """Listens with ``reactor.listenTCP``."""

    def __init__(self, reactor: Any, port: int, backlog: int, interface: str):
        self._reactor = reactor
        self._port = port
        self._backlog = backlog
        self._interface = interface

    def listen(self, protocolFactory: Any) -> Deferred[Any]:
        """A Deferred firing with the IListeningPort, or failing with
        CannotListenError."""
        return defer.execute(
            self._reactor.listenTCP,
            self._port,
            protocolFactory,
            backlog=self._backlog,
            interface=self._interface,
        )


class TCP4ServerEndpoint(_TCPServerEndpoint):
    """A TCP server endpoint on IPv4 (all interfaces by default)."""

    def __init__(
        self, reactor: Any, port: int, backlog: int = 50, interface: str = ""
    ) -> None:
        _TCPServerEndpoint.__init__(self, reactor, port, backlog, interface)


class TCP6ServerEndpoint(_TCPServerEndpoint):
    """A TCP server endpoint on IPv6 (``::`` by default)."""

    def __init__(
        self, reactor: Any, port: int, backlog: int = 50, interface: str = "::"
    ) -> None:
        _TCPServerEndpoint.__init__(self, reactor, port, backlog, interface)


def _wrappedConnect(
    protocolFactory: Any, connect: Callable[[_WrappingFactory], Any]
) -> Deferred[Any]:
    """``connect(wrapper)`` with ``protocolFactory`` wrapped; the Deferred
    of the connected protocol (a failed one if ``connect`` raises)."""
    try:
        wrapper = _WrappingFactory(protocolFactory)
        connect(wrapper)
        return wrapper._onConnection
    except BaseException:
        return defer.fail()


def _connectWrapped(
    reactor: Any,
    host: str,
    port: int,
    protocolFactory: Any,
    timeout: float,
    bindAddress: Any,
) -> Deferred[Any]:
    return _wrappedConnect(
        protocolFactory,
        lambda wrapper: reactor.connectTCP(
            host, port, wrapper, timeout=timeout, bindAddress=bindAddress
        ),
    )


@implementer(interfaces.IStreamClientEndpoint)
class TCP4ClientEndpoint:
    """A TCP client endpoint: ``connect`` uses ``reactor.connectTCP``."""

    def __init__(
        self,
        reactor: Any,
        host: str,
        port: int,
        timeout: float = 30,
        bindAddress: Any = None,
    ) -> None:
        self._reactor = reactor
        self._host = host
        self._port = port
        self._timeout = timeout
        self._bindAddress = bindAddress

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """A cancellable Deferred firing with the connected protocol."""
        return _connectWrapped(
            self._reactor,
            self._host,
            self._port,
            protocolFactory,
            self._timeout,
            self._bindAddress,
        )


@implementer(interfaces.IStreamClientEndpoint)
class TCP6ClientEndpoint:
    """A TCP client endpoint for an IPv6 literal, or a name resolved to its
    first IPv6 address (getaddrinfo on the reactor's thread pool)."""

    _getaddrinfo = staticmethod(socket.getaddrinfo)
    _deferToThread: Callable[..., Deferred[Any]] | None = None

    def __init__(
        self,
        reactor: Any,
        host: str,
        port: int,
        timeout: float = 30,
        bindAddress: Any = None,
    ) -> None:
        self._reactor = reactor
        self._host = host
        self._port = port
        self._timeout = timeout
        self._bindAddress = bindAddress

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """Resolve if needed, then connect; a Deferred of the protocol."""
        if _isIPv6Address(self._host):
            return self._resolvedHostConnect(self._host, protocolFactory)
        d = self._nameResolution(self._host)
        d.addCallback(lambda infos: infos[0][4][0])
        d.addCallback(self._resolvedHostConnect, protocolFactory)
        return d

    def _nameResolution(self, host: str) -> Deferred[Any]:
        if self._deferToThread is not None:
            return self._deferToThread(self._getaddrinfo, host, 0, socket.AF_INET6)
        return deferToThreadPool(
            self._reactor,
            self._reactor.getThreadPool(),
            self._getaddrinfo,
            host,
            0,
            socket.AF_INET6,
        )

    def _resolvedHostConnect(self, host: str, protocolFactory: Any) -> Deferred[Any]:
        return _connectWrapped(
            self._reactor,
            host,
            self._port,
            protocolFactory,
            self._timeout,
            self._bindAddress,
        )


# UNIX endpoints


@implementer(interfaces.IStreamServerEndpoint)
class UNIXServerEndpoint:
    """Listens with ``reactor.listenUNIX`` on the socket path ``address``."""

    def __init__(
        self,
        reactor: Any,
        address: bytes | str,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: int = 0,
    ) -> None:
        self._reactor = reactor
        self._address = address
        self._backlog = backlog
        self._mode = mode
        self._wantPID = wantPID

    def listen(self, protocolFactory: Any) -> Deferred[Any]:
        """A Deferred firing with the IListeningPort, or failing with
        CannotListenError."""
        return defer.execute(
            self._reactor.listenUNIX,
            self._address,
            protocolFactory,
            backlog=self._backlog,
            mode=self._mode,
            wantPID=self._wantPID,
        )


@implementer(interfaces.IStreamClientEndpoint)
class UNIXClientEndpoint:
    """Connects with ``reactor.connectUNIX`` to the socket at ``path``."""

    def __init__(
        self, reactor: Any, path: bytes | str, timeout: float = 30, checkPID: Any = 0
    ) -> None:
        self._reactor = reactor
        self._path = path
        self._timeout = timeout
        self._checkPID = checkPID

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """A cancellable Deferred firing with the connected protocol."""
        return _wrappedConnect(
            protocolFactory,
            lambda wrapper: self._reactor.connectUNIX(
                self._path, wrapper, timeout=self._timeout, checkPID=self._checkPID
            ),
        )


@implementer(interfaces.IHostnameResolver)
class _GetaddrinfoNameResolver:
    """The name resolver used when the reactor has no ``nameResolver``."""

    def __init__(self, lookup: Callable[[str, int], Deferred[Any]]) -> None:
        self._lookup = lookup

    def resolveHostName(
        self,
        resolutionReceiver: Any,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Any = None,
        transportSemantics: str = "TCP",
    ) -> Any:
        """Resolve with the lookup callable; errors end with no addresses."""
        resolution = HostResolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)

        def deliver(infos: Any) -> None:
            for family, _stype, _proto, _canon, sockaddr in infos:
                if family == socket.AF_INET6:
                    resolutionReceiver.addressResolved(IPv6Address("TCP", *sockaddr))
                elif family == socket.AF_INET:
                    resolutionReceiver.addressResolved(IPv4Address("TCP", *sockaddr))

        def logIt(f: Failure) -> None:
            _log.failure(
                "while looking up {name} with {callable}",
                f,
                name=hostName,
                callable=self._lookup,
            )

        d = self._lookup(hostName, portNumber)
        d.addCallbacks(deliver, logIt)
        d.addBoth(lambda _: resolutionReceiver.resolutionComplete())
        return resolution


@implementer(IResolutionReceiver)
class _AddressCollector:
    """Collects resolved addresses; fires ``deferred`` with them at the end."""

    def __init__(self) -> None:
        self.addresses: list[Any] = []
        self.deferred: Deferred[list[Any]] = Deferred()

    def resolutionBegan(self, resolutionInProgress: Any) -> None:
        """Nothing to do."""

    def addressResolved(self, address: Any) -> None:
        """Remember one address."""
        self.addresses.append(address)

    def resolutionComplete(self) -> None:
        """Fire the Deferred with every address, in resolver order."""
        self.deferred.callback(self.addresses)


@implementer(interfaces.IStreamClientEndpoint)
class HostnameEndpoint:
    """Connects to a host name: resolves it with ``reactor.nameResolver``,
    then starts one connection attempt per address (in the resolver's order)
    every ``attemptDelay`` seconds until one succeeds; the winner cancels the
    others.  Fails with DNSLookupError when the name has no address, or with
    the last attempt's failure when every attempt fails."""

    _getaddrinfo = staticmethod(socket.getaddrinfo)
    _deferToThread: Callable[..., Deferred[Any]] | None = None
    _DEFAULT_ATTEMPT_DELAY = 0.3

    def __init__(
        self,
        reactor: Any,
        host: str | bytes,
        port: int,
        timeout: float = 30,
        bindAddress: Any = None,
        attemptDelay: float | None = None,
    ) -> None:
        self._reactor = reactor
        self._getNameResolverAndMaybeWarn(reactor)
        self._badHostname, self._hostBytes, self._hostText = self._hostAsBytesAndText(
            host
        )
        self._port = port
        self._timeout = timeout
        if isinstance(bindAddress, (bytes, str)):
            bindAddress = (bindAddress, 0)
        if isinstance(bindAddress, (tuple, list)) and isinstance(bindAddress[0], bytes):
            bindAddress = (bindAddress[0].decode(), bindAddress[1])
        self._bindAddress = bindAddress
        if attemptDelay is None:
            attemptDelay = self._DEFAULT_ATTEMPT_DELAY
        self._attemptDelay = attemptDelay

    def __repr__(self) -> str:
        if self._badHostname:
            host = self._hostText
        elif _isIPv6Address(self._hostText):
            host = f"[{self._hostText}]"
        else:
            host = self._hostBytes.decode("ascii")
        return f"<HostnameEndpoint {host}:{self._port}>"

    def _getNameResolverAndMaybeWarn(self, reactor: Any) -> Any:
        if IReactorPluggableNameResolver.providedBy(reactor):
            return reactor.nameResolver
        cls = reactor.__class__
        warnings.warn(
            "Passing HostnameEndpoint a reactor that does not provide "
            f"IReactorPluggableNameResolver ({cls.__module__}.{cls.__qualname__})"
            " was deprecated in Twisted 17.5.0; please use a reactor that "
            "provides IReactorPluggableNameResolver instead",
            DeprecationWarning,
            stacklevel=3,
        )
        return _GetaddrinfoNameResolver(self._fallbackNameResolution)

    def _fallbackNameResolution(self, host: str, port: int) -> Deferred[Any]:
        args = (self._getaddrinfo, host, port, 0, socket.SOCK_STREAM)
        if self._deferToThread is not None:
            return self._deferToThread(*args)
        return deferToThread(*args)

    @staticmethod
    def _hostAsBytesAndText(host: str | bytes) -> tuple[bool, bytes, str]:
        bad = False
        if isinstance(host, bytes):
            hostBytes = host
            try:
                hostText = _idnaText(hostBytes)
            except UnicodeError:
                hostText = hostBytes.decode("charmap")
                bad = not _isIPv6Address(hostText)
        else:
            hostText = normalize("NFC", host)
            if _isIPv6Address(hostText):
                hostBytes = hostText.encode("ascii")
            else:
                try:
                    hostBytes = _idnaBytes(hostText)
                except UnicodeError:
                    bad = True
        if bad:
            hostBytes = hostText.encode("ascii", "backslashreplace")
            hostText = hostBytes.decode("ascii")
        return bad, hostBytes, hostText

    def _endpointFor(self, address: Any) -> Any:
        cls: Any
        if isinstance(address, IPv6Address):
            cls = TCP6ClientEndpoint
        elif isinstance(address, IPv4Address):
            cls = TCP4ClientEndpoint
        else:
            return None
        return cls(
            self._reactor, address.host, address.port, self._timeout, self._bindAddress
        )

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """A cancellable Deferred firing with the first protocol connected."""
        if self._badHostname:
            return defer.fail(ValueError(f"invalid hostname: {self._hostText}"))
        collector = _AddressCollector()
        self._getNameResolverAndMaybeWarn(self._reactor).resolveHostName(
            collector, self._hostText, portNumber=self._port
        )
        hostText = self._hostText
        result = collector.deferred

        def lookupFailed(_: Failure) -> Deferred[Any]:
            return defer.fail(
                error.DNSLookupError(f"Couldn't find the hostname '{hostText}'")
            )

        result.addErrback(lookupFailed)

        def toEndpoints(addresses: list[Any]) -> list[Any]:
            found = (self._endpointFor(each) for each in addresses)
            return [each for each in found if each is not None]

        result.addCallback(toEndpoints)
        result.addCallback(self._race, protocolFactory)
        return result

    def _race(self, endpoints: list[Any], protocolFactory: Any) -> Deferred[Any]:
        if not endpoints:
            raise error.DNSLookupError(
                f"no results for hostname lookup: {self._hostText}"
            )
        return _Race(self, endpoints, protocolFactory).start()


class _Race:
    """One HostnameEndpoint.connect after resolution: staggered attempts,
    first success wins."""

    def __init__(self, owner: HostnameEndpoint, endpoints: list[Any], factory: Any):
        self._owner = owner
        self._remaining: Iterator[Any] = iter(endpoints)
        self._factory = factory
        self._pending: list[Deferred[Any]] = []
        self._failures: list[Failure] = []
        self._finished = False
        self._exhausted = False
        destination = HostnameAddress(owner._hostBytes, owner._port)

        def cancelled(d: Deferred[Any]) -> None:
            d.errback(error.ConnectingCancelledError(destination))

        self._winner: Deferred[Any] = Deferred(canceller=cancelled)
        self._loop = LoopingCall(self._next)
        self._loop.clock = owner._reactor

    def start(self) -> Deferred[Any]:
        self._loop.start(self._owner._attemptDelay)
        return self._winner.addBoth(self._settle)

    def _checkDone(self) -> None:
        if self._pending or self._finished or not self._exhausted:
            return
        self._winner.errback(self._failures.pop())

    def _next(self) -> None:
        endpoint = next(self._remaining, None)
        if endpoint is None:
            self._exhausted = True
            self._checkDone()
            return
        attempt = endpoint.connect(self._factory)
        self._pending.append(attempt)

        def noLongerPending(result: Any) -> Any:
            self._pending.remove(attempt)
            return result

        def failed(reason: Failure) -> None:
            self._failures.append(reason)
            self._checkDone()

        attempt.addBoth(noLongerPending)
        attempt.addCallback(self._winner.callback)
        attempt.addErrback(failed)

    def _settle(self, result: Any) -> Any:
        self._finished = True
        for each in self._pending[:]:
            each.cancel()
        if self._loop.running:
            self._loop.stop()
        return result


def connectProtocol(endpoint: Any, protocol: Any) -> Deferred[Any]:
    """Connect ``endpoint`` with a one-shot factory that returns ``protocol``."""

    class OneShotFactory(Factory[Any]):
        def buildProtocol(self, addr: Any) -> Any:
            return protocol

    return endpoint.connect(OneShotFactory())  # type: ignore[no-any-return]


# Endpoint description strings


_OP, _STRING = range(2)


def _tokenize(description: Any) -> Iterator[tuple[int, Any]]:
    """Yield ``(_STRING, text)`` and ``(_OP, ':' or '=')`` tokens; a backslash
    takes the next character literally, ``=`` is an operator only once per
    colon-separated part."""
    isBytes = isinstance(description, bytes)

    def char(c: str) -> Any:
        return c.encode("ascii") if isBytes else c

    empty, colon, equals, backslash = char(""), char(":"), char("="), char("\\")
    chars: Iterator[Any] = (
        iter(description[i : i + 1] for i in range(len(description)))
        if isBytes
        else iter(description)
    )
    accepted: tuple[Any, ...] = (colon, equals)
    current = empty
    for c in chars:
        if c in accepted:
            yield _STRING, current
            yield _OP, c
            current = empty
            accepted = (colon, equals) if c == colon else (colon,)
        elif c == backslash:
            current += next(chars)
        else:
            current += c
    yield _STRING, current


def _keyName(key: Any) -> str:
    if isinstance(key, bytes):
        return key.decode("ascii")
    key.encode("ascii")
    return str(key)


def _parse(description: Any) -> tuple[list[Any], dict[str, Any]]:
    """Split a description into positional values and ``key=value`` pairs."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    colon = b":" if isinstance(description, bytes) else ":"
    part: list[Any] = []

    def finish() -> None:
        if len(part) == 1:
            args.append(part[0])
        else:
            kwargs[_keyName(part[0])] = part[1]

    for kind, value in _tokenize(description):
        if kind == _STRING:
            part.append(value)
        elif value == colon:
            finish()
            part = []
    finish()
    return args, kwargs


def _sameType(text: str, like: Any) -> Any:
    return text.encode("ascii") if isinstance(like, bytes) else text


_NOT_YET = "Endpoint type '{}' is not supported by torsion yet"


class _UnsupportedEndpointType(ValueError, NotImplementedError):
    """An endpoint type Twisted knows but torsion does not provide yet."""


def _unknownType(endpointType: Any, known: tuple[str, ...]) -> Exception:
    lowered = endpointType.lower()
    for prefix in known:
        if _sameType(prefix, lowered) == lowered:
            return _UnsupportedEndpointType(_NOT_YET.format(prefix))
    return ValueError(f"Unknown endpoint type: '{lowered}'")


def _parseTCP(
    factory: Any, port: Any, interface: Any = "", backlog: Any = 50
) -> tuple[tuple[int, Any], dict[str, Any]]:
    """Coerce the ``tcp:`` server arguments: ``port`` and ``backlog`` to int."""
    return (int(port), factory), {"interface": interface, "backlog": int(backlog)}


def _parseUNIX(
    factory: Any,
    address: Any,
    mode: Any = "666",
    backlog: Any = 50,
    lockfile: Any = True,
) -> tuple[tuple[Any, Any], dict[str, Any]]:
    """Coerce the ``unix:`` server arguments: ``mode`` is octal, ``backlog``
    an int, and ``lockfile`` ('0' or '1') becomes ``wantPID``."""
    options = {
        "mode": int(mode, 8),
        "backlog": int(backlog),
        "wantPID": bool(int(lockfile)),
    }
    return (address, factory), options


class _TCP6ServerParser:
    """The ``tcp6:`` server string type."""

    prefix = "tcp6"

    def _parseServer(
        self, reactor: Any, port: Any, backlog: Any = 50, interface: Any = "::"
    ) -> TCP6ServerEndpoint:
        return TCP6ServerEndpoint(reactor, int(port), int(backlog), interface)

    def parseStreamServer(self, reactor: Any, *args: Any, **kwargs: Any) -> Any:
        """A TCP6ServerEndpoint from the parsed arguments."""
        return self._parseServer(reactor, *args, **kwargs)


# For each built-in server type: how its arguments are coerced, and the
# endpoint class they are given to.
_serverParsers: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "tcp": (_parseTCP, TCP4ServerEndpoint),
    "unix": (_parseUNIX, UNIXServerEndpoint),
}
_serverPlugins = (_TCP6ServerParser(),)
_serverNotYet = ("ssl",)
_serverPluginsNotYet = ("systemd", "stdio", "tls", "haproxy")


def serverFromString(reactor: Any, description: str) -> Any:
    """A server endpoint from a description such as
    ``"tcp:8080:interface=127.0.0.1:backlog=100"`` or ``"tcp6:8080"``."""
    args, kwargs = _parse(description)
    endpointType = args[0]
    builtin = _serverParsers.get(endpointType)
    if builtin is not None:
        parser, endpointClass = builtin
        (where, _factory), options = parser(None, *args[1:], **kwargs)
        return endpointClass(reactor, where, **options)
    if endpointType in _serverNotYet:
        raise _UnsupportedEndpointType(_NOT_YET.format(endpointType))
    lowered = endpointType.lower()
    for plugin in _serverPlugins:
        if _sameType(plugin.prefix, lowered) == lowered:
            return plugin.parseStreamServer(reactor, *args[1:], **kwargs)
    raise _unknownType(endpointType, _serverPluginsNotYet)


def _parseClientTCP(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Coerce the ``tcp:`` client arguments (host and port may be
    positional; ``port`` and ``timeout`` to int; ``bindAddress`` to a
    ``(host, 0)`` tuple)."""
    if len(args) == 2:
        kwargs["host"], kwargs["port"] = args[0], int(args[1])
    elif len(args) == 1:
        kwargs["port" if "host" in kwargs else "host"] = args[0]
    for key in ("port", "timeout"):
        if key in kwargs:
            kwargs[key] = int(kwargs[key])
    if "bindAddress" in kwargs:
        kwargs["bindAddress"] = (kwargs["bindAddress"], 0)
    return kwargs


def _parseClientUNIX(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Coerce the ``unix:`` client arguments: the path may be positional,
    ``lockfile`` ('0' or '1') becomes ``checkPID``, ``timeout`` an int;
    anything else is passed on as it is."""
    if len(args) == 1:
        kwargs["path"] = args[0]
    if "lockfile" in kwargs:
        kwargs["checkPID"] = bool(int(kwargs.pop("lockfile")))
    if "timeout" in kwargs:
        kwargs["timeout"] = int(kwargs["timeout"])
    return kwargs


# For each built-in client type: how its arguments are coerced, and the
# endpoint class they are given to.
_clientParsers: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "TCP": (_parseClientTCP, TCP4ClientEndpoint),
    "UNIX": (_parseClientUNIX, UNIXClientEndpoint),
}
_clientNotYet = ("SSL",)


def clientFromString(reactor: Any, description: str) -> Any:
    """A client endpoint from a description such as
    ``"tcp:host=example.com:port=80:timeout=5"``, ``"tcp:example.com:80"``
    or ``"unix:path=/run/app.sock:timeout=5"``."""
    args, kwargs = _parse(description)
    name = args.pop(0).upper()
    builtin = _clientParsers.get(name)
    if builtin is not None:
        parser, endpointClass = builtin
        return endpointClass(reactor, **parser(*args, **kwargs))
    if name in _clientNotYet:
        raise _UnsupportedEndpointType(_NOT_YET.format(name.lower()))
    raise _unknownType(name, ("tls",))


def quoteStringArgument(argument: str) -> str:
    """Escape backslashes and colons so ``argument`` survives as one value
    in a description string."""
    return argument.replace("\\", "\\\\").replace(":", "\\:")
