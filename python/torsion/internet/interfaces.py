# mypy: ignore-errors
# (zope.interface methods omit ``self``; plain mypy misreads them. With the
# mypy-zope plugin configured this file type-checks and the line can go.)
"""zope.interface declarations of the reactor, transport and protocol APIs.

The interfaces, their bases, attribute names and method signatures follow
``twisted.internet.interfaces`` so that code written against Twisted's
interfaces (``IProtocol.providedBy(p)``, ``@implementer(IPushProducer)``)
works unchanged with torsion.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zope.interface import Attribute, Interface


class IAddress(Interface):
    """An address of a connection endpoint (host and port, socket path, ...)."""


class IConnector(Interface):
    """A client connection attempt made by ``connectTCP`` and its kin."""

    def stopConnecting() -> None:
        """Stop the connection attempt that is in progress."""

    def disconnect() -> None:
        """Close the connection, or stop the attempt if it is not connected yet."""

    def connect() -> None:
        """Try to connect again (for example after a failure)."""

    def getDestination() -> IAddress:
        """Return the address this connector connects to."""


class IResolverSimple(Interface):
    """Resolves a host name to one IPv4 address."""

    def getHostByName(name: str, timeout: Sequence[int] = ()) -> Any:
        """Return a Deferred firing with an address for ``name``."""


class IHostResolution(Interface):
    """An ongoing host name resolution, which may be cancelled."""

    name = Attribute("The host name being resolved.")

    def cancel() -> None:
        """Stop the resolution."""


class IResolutionReceiver(Interface):
    """Receives the results of an IHostnameResolver resolution, one by one."""

    def resolutionBegan(resolutionInProgress: IHostResolution) -> None:
        """Called once, when the resolution starts."""

    def addressResolved(address: IAddress) -> None:
        """Called for each address found."""

    def resolutionComplete() -> None:
        """Called once, after the last address."""


class IHostnameResolver(Interface):
    """Resolves a host name to addresses of several families."""

    def resolveHostName(
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[IAddress]] | None = None,
        transportSemantics: str = "TCP",
    ) -> IResolutionReceiver:
        """Start resolving ``hostName``, reporting to ``resolutionReceiver``."""


class IResolver(IResolverSimple):
    """A full DNS resolver, one method per record type."""

    def query(query: Any, timeout: Sequence[int]) -> Any:
        """Send a DNS query and return a Deferred of its answer."""

    def lookupAddress(name: str, timeout: Sequence[int]) -> Any:
        """Look up A records."""

    def lookupAddress6(name: str, timeout: Sequence[int]) -> Any:
        """Look up A6 records."""

    def lookupIPV6Address(name: str, timeout: Sequence[int]) -> Any:
        """Look up AAAA records."""

    def lookupMailExchange(name: str, timeout: Sequence[int]) -> Any:
        """Look up MX records."""

    def lookupNameservers(name: str, timeout: Sequence[int]) -> Any:
        """Look up NS records."""

    def lookupCanonicalName(name: str, timeout: Sequence[int]) -> Any:
        """Look up CNAME records."""

    def lookupMailBox(name: str, timeout: Sequence[int]) -> Any:
        """Look up MB records."""

    def lookupMailGroup(name: str, timeout: Sequence[int]) -> Any:
        """Look up MG records."""

    def lookupMailRename(name: str, timeout: Sequence[int]) -> Any:
        """Look up MR records."""

    def lookupPointer(name: str, timeout: Sequence[int]) -> Any:
        """Look up PTR records."""

    def lookupAuthority(name: str, timeout: Sequence[int]) -> Any:
        """Look up SOA records."""

    def lookupNull(name: str, timeout: Sequence[int]) -> Any:
        """Look up NULL records."""

    def lookupWellKnownServices(name: str, timeout: Sequence[int]) -> Any:
        """Look up WKS records."""

    def lookupHostInfo(name: str, timeout: Sequence[int]) -> Any:
        """Look up HINFO records."""

    def lookupMailboxInfo(name: str, timeout: Sequence[int]) -> Any:
        """Look up MINFO records."""

    def lookupText(name: str, timeout: Sequence[int]) -> Any:
        """Look up TXT records."""

    def lookupResponsibility(name: str, timeout: Sequence[int]) -> Any:
        """Look up RP records."""

    def lookupAFSDatabase(name: str, timeout: Sequence[int]) -> Any:
        """Look up AFSDB records."""

    def lookupService(name: str, timeout: Sequence[int]) -> Any:
        """Look up SRV records."""

    def lookupAllRecords(name: str, timeout: Sequence[int]) -> Any:
        """Look up records of every type (ALL_RECORDS)."""

    def lookupSenderPolicy(name: str, timeout: Sequence[int]) -> Any:
        """Look up SPF records."""

    def lookupNamingAuthorityPointer(name: str, timeout: Sequence[int]) -> Any:
        """Look up NAPTR records."""

    def lookupZone(name: str, timeout: Sequence[int]) -> Any:
        """Perform a zone transfer (AXFR)."""


@dataclass(frozen=True, init=False)
class _Binding:
    """How to bind a socket locally: address (None or "" for every
    interface), port, and whether to set SO_REUSEADDR and SO_REUSEPORT.
    Made by ``torsion.internet.tcp.makeBinding``; immutable, compared and
    hashed by value, as Twisted's attrs class is (whose constructor, like
    this one, takes the names without their underscore)."""

    _address: str | None
    _port: int
    _reuseAddress: bool
    _reusePort: bool

    def __init__(
        self,
        address: str | None = None,
        port: int = 0,
        reuseAddress: bool = False,
        reusePort: bool = False,
    ) -> None:
        object.__setattr__(self, "_address", address)
        object.__setattr__(self, "_port", port)
        object.__setattr__(self, "_reuseAddress", reuseAddress)
        object.__setattr__(self, "_reusePort", reusePort)


def Binding(binding: _Binding) -> _Binding:
    """Twisted's ``NewType("Binding", _Binding)``: returns ``binding``."""
    return binding


class IReactorTCP(Interface):
    """A reactor that can listen for and make TCP connections."""

    def listenTCP(
        port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> IListeningPort:
        """Listen on ``port`` (0 for any free port); return the listening port."""

    def connectTCP(
        host: str,
        port: int,
        factory: Any,
        timeout: float = 30.0,
        bindAddress: tuple[str, int] | None = None,
    ) -> IConnector:
        """Connect to ``host``:``port``; return the connector."""


class IReactorTCP2(IReactorTCP):
    """IReactorTCP taking a ``makeBinding`` result as the port to listen on
    and as the address to bind a client to."""

    def listenTCP(
        port: _Binding | int,
        factory: Any,
        backlog: int = 50,
        interface: str | None = None,
    ) -> IListeningPort:
        """Listen as ``port`` (a binding) says; ``interface`` is unused."""

    def connectTCP(
        host: str,
        port: int,
        factory: Any,
        timeout: float = 30.0,
        bindAddress: _Binding | tuple[str, int] | None = None,
    ) -> IConnector:
        """Connect to ``host``:``port``; return the connector."""


class IReactorSSL(Interface):
    """A reactor that can listen for and make TLS connections."""

    def connectSSL(
        host: str,
        port: int,
        factory: Any,
        contextFactory: Any,
        timeout: float,
        bindAddress: tuple[str, int] | None,
    ) -> IConnector:
        """Connect to ``host``:``port`` over TLS."""

    def listenSSL(
        port: int,
        factory: Any,
        contextFactory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> IListeningPort:
        """Listen for TLS connections on ``port``."""


class IReactorUNIX(Interface):
    """A reactor that can listen on and connect to UNIX stream sockets."""

    def connectUNIX(
        address: str, factory: Any, timeout: float = 30, checkPID: bool = False
    ) -> IConnector:
        """Connect to the UNIX socket at ``address``."""

    def listenUNIX(
        address: str,
        factory: Any,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: bool = False,
    ) -> IListeningPort:
        """Listen on the UNIX socket path ``address``."""


class IReactorUNIXDatagram(Interface):
    """A reactor that can use UNIX datagram sockets."""

    def connectUNIXDatagram(
        address: str,
        protocol: Any,
        maxPacketSize: int,
        mode: int,
        bindAddress: Any,
    ) -> IConnector:
        """Connect a datagram protocol to the UNIX socket at ``address``."""

    def listenUNIXDatagram(
        address: str, protocol: Any, maxPacketSize: int, mode: int
    ) -> IListeningPort:
        """Listen for datagrams on the UNIX socket path ``address``."""


class IReactorWin32Events(Interface):
    """A reactor that can wait on Windows event objects."""

    def addEvent(event: object, fd: Any, action: str) -> None:
        """Call ``fd.<action>()`` whenever ``event`` is signalled."""

    def removeEvent(event: object) -> None:
        """Stop watching ``event``."""


class IReactorUDP(Interface):
    """A reactor that can use UDP sockets."""

    def listenUDP(
        port: int, protocol: Any, interface: str, maxPacketSize: int
    ) -> IListeningPort:
        """Bind a datagram protocol to ``port``."""


class IReactorMulticast(Interface):
    """A reactor that can use multicast UDP sockets."""

    def listenMulticast(
        port: int,
        protocol: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        listenMultiple: bool = False,
    ) -> IListeningPort:
        """Bind a datagram protocol to ``port`` with multicast support."""


class IReactorSocket(Interface):
    """A reactor that can take over sockets created elsewhere."""

    def adoptStreamPort(fileDescriptor: int, addressFamily: Any, factory: Any) -> Any:
        """Start accepting connections on an already listening socket."""

    def adoptStreamConnection(
        fileDescriptor: int, addressFamily: Any, factory: Any
    ) -> None:
        """Run a protocol from ``factory`` over an already connected socket."""

    def adoptDatagramPort(
        fileDescriptor: int, addressFamily: Any, protocol: Any, maxPacketSize: int
    ) -> Any:
        """Start receiving datagrams on an already bound socket."""


class IReactorProcess(Interface):
    """A reactor that can start child processes."""

    def spawnProcess(
        processProtocol: Any,
        executable: bytes | str,
        args: Sequence[bytes | str],
        env: Mapping[Any, Any] | None = None,
        path: bytes | str | None = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: bool = False,
        childFDs: Mapping[int, Any] | None = None,
    ) -> IProcessTransport:
        """Start ``executable`` and connect ``processProtocol`` to it."""


class IReactorTime(Interface):
    """A reactor that can call functions later."""

    def seconds() -> float:
        """Return the current time in seconds, on the clock used by callLater."""

    def callLater(
        delay: float, callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> IDelayedCall:
        """Call ``callable(*args, **kwargs)`` after ``delay`` seconds."""

    def getDelayedCalls() -> Sequence[IDelayedCall]:
        """Return every delayed call that is scheduled and not yet run."""


class IDelayedCall(Interface):
    """A call scheduled by ``callLater``."""

    def getTime() -> float:
        """Return the time at which the call will run."""

    def cancel() -> None:
        """Unschedule the call; AlreadyCalled/AlreadyCancelled if too late."""

    def delay(secondsLater: float) -> None:
        """Push the call ``secondsLater`` seconds further into the future."""

    def reset(secondsFromNow: float) -> None:
        """Reschedule the call to ``secondsFromNow`` seconds from now."""

    def active() -> bool:
        """Return True while the call is neither run nor cancelled."""


class IReactorFromThreads(Interface):
    """A reactor that accepts calls from other threads."""

    def callFromThread(
        callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> None:
        """Run ``callable(*args, **kwargs)`` in the reactor thread, soon."""


class IReactorInThreads(Interface):
    """A reactor that can run calls in its thread pool."""

    def callInThread(
        callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> None:
        """Run ``callable(*args, **kwargs)`` in a thread of the pool."""


class IReactorThreads(IReactorFromThreads, IReactorInThreads):
    """A reactor with a thread pool and a thread-safe call queue."""

    def getThreadPool() -> Any:
        """Return the reactor's thread pool."""

    def suggestThreadPoolSize(size: int) -> None:
        """Set the maximum number of pool threads."""


class IReactorCore(Interface):
    """The reactor's life cycle: running, stopping and system event triggers."""

    running = Attribute("True from the start of run() until the reactor has stopped.")

    def resolve(name: str, timeout: Sequence[int] = (1, 3, 11, 45)) -> Any:
        """Return a Deferred firing with an IP address for ``name``."""

    def run() -> None:
        """Run the event loop until stop() is called."""

    def stop() -> None:
        """Stop the event loop after the shutdown triggers have run."""

    def crash() -> None:
        """Stop the event loop at once, without shutdown triggers."""

    def iterate(delay: float) -> None:
        """Run one turn of the event loop (for tests)."""

    def fireSystemEvent(eventType: str) -> None:
        """Run the before/during/after triggers of ``eventType``."""

    def addSystemEventTrigger(
        phase: str,
        eventType: str,
        callable: Callable[..., Any],
        *args: object,
        **kwargs: object,
    ) -> Any:
        """Register a trigger for ``phase`` of ``eventType``; return its id."""

    def removeSystemEventTrigger(triggerID: Any) -> None:
        """Remove the trigger with the id returned by addSystemEventTrigger."""

    def callWhenRunning(
        callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> Any:
        """Call now if running, else as soon as the reactor starts."""


class IReactorPluggableResolver(Interface):
    """A reactor whose IResolverSimple can be replaced."""

    def installResolver(resolver: IResolverSimple) -> IResolverSimple:
        """Install ``resolver``; return the one it replaces."""


class IReactorPluggableNameResolver(Interface):
    """A reactor whose IHostnameResolver can be replaced."""

    nameResolver = Attribute("The IHostnameResolver the reactor uses.")

    def installNameResolver(resolver: IHostnameResolver) -> IHostnameResolver:
        """Install ``resolver``; return the one it replaces."""


class IReactorDaemonize(Interface):
    """A reactor that must be told around a daemonizing fork."""

    def beforeDaemonize() -> None:
        """Called before the process daemonizes."""

    def afterDaemonize() -> None:
        """Called after the process has daemonized."""


class IReactorFDSet(Interface):
    """A reactor that watches file descriptors given by user code."""

    def addReader(reader: IReadDescriptor) -> None:
        """Call ``reader.doRead()`` whenever it is readable."""

    def addWriter(writer: IWriteDescriptor) -> None:
        """Call ``writer.doWrite()`` whenever it is writable."""

    def removeReader(reader: IReadDescriptor) -> None:
        """Stop watching ``reader`` for reading."""

    def removeWriter(writer: IWriteDescriptor) -> None:
        """Stop watching ``writer`` for writing."""

    def removeAll() -> list[IReadDescriptor | IWriteDescriptor]:
        """Stop watching every descriptor; return those that were watched."""

    def getReaders() -> list[IReadDescriptor]:
        """Return the descriptors watched for reading."""

    def getWriters() -> list[IWriteDescriptor]:
        """Return the descriptors watched for writing."""


class IListeningPort(Interface):
    """A port that accepts connections."""

    def startListening() -> None:
        """Start accepting connections (normally done by listenTCP)."""

    def stopListening() -> Any:
        """Stop accepting; may return a Deferred that fires once closed."""

    def getHost() -> IAddress:
        """Return the address the port is bound to."""


class ILoggingContext(Interface):
    """An object that names itself in log messages."""

    def logPrefix() -> str:
        """Return the prefix for log messages about this object."""


class IFileDescriptor(ILoggingContext):
    """An object wrapping a file descriptor the reactor can watch."""

    def fileno() -> int:
        """Return the descriptor number (-1 once closed)."""

    def connectionLost(reason: Any) -> None:
        """Called when the descriptor is closed or fails."""


class IReadDescriptor(IFileDescriptor):
    """A file descriptor watched for reading."""

    def doRead() -> Any:
        """Read what is available; return a Failure or exception to close."""


class IWriteDescriptor(IFileDescriptor):
    """A file descriptor watched for writing."""

    def doWrite() -> Any:
        """Write what is pending; return a Failure or exception to close."""


class IReadWriteDescriptor(IReadDescriptor, IWriteDescriptor):
    """A file descriptor watched for both reading and writing."""


class IHalfCloseableDescriptor(Interface):
    """A descriptor whose read and write sides may close separately."""

    def writeConnectionLost(reason: Any) -> None:
        """The write side was closed."""

    def readConnectionLost(reason: Any) -> None:
        """The read side was closed."""


class ISystemHandle(Interface):
    """An object that exposes its operating system handle."""

    def getHandle() -> object:
        """Return the underlying socket or handle."""


class IConsumer(Interface):
    """A destination for data, which may throttle a producer."""

    def registerProducer(producer: IProducer, streaming: bool) -> None:
        """Attach a push (streaming=True) or pull producer."""

    def unregisterProducer() -> None:
        """Detach the producer."""

    def write(data: bytes) -> None:
        """Consume ``data``."""


class IProducer(Interface):
    """A source of data for a consumer."""

    def stopProducing() -> None:
        """Stop producing for good."""


class IPushProducer(IProducer):
    """A producer that writes on its own until paused."""

    def pauseProducing() -> None:
        """Stop writing until resumeProducing is called."""

    def resumeProducing() -> None:
        """Start writing again."""


class IPullProducer(IProducer):
    """A producer that writes once each time it is asked."""

    def resumeProducing() -> None:
        """Write some data to the consumer, once."""


class IProtocol(Interface):
    """A connection-oriented protocol driven by a transport."""

    def dataReceived(data: bytes) -> None:
        """Called with each chunk of bytes received."""

    def connectionLost(reason: Any) -> None:
        """Called once when the connection ends, with a Failure."""

    def makeConnection(transport: ITransport) -> None:
        """Attach the transport, then call connectionMade."""

    def connectionMade() -> None:
        """Called once the connection is established."""


class IProcessProtocol(Interface):
    """A protocol that talks to a child process."""

    def makeConnection(process: IProcessTransport) -> None:
        """Attach the process transport."""

    def childDataReceived(childFD: int, data: bytes) -> None:
        """Called with data read from the child's descriptor ``childFD``."""

    def childConnectionLost(childFD: int) -> None:
        """The child's descriptor ``childFD`` was closed."""

    def processExited(reason: Any) -> None:
        """The child process exited."""

    def processEnded(reason: Any) -> None:
        """The child exited and all its descriptors are closed."""


class IHalfCloseableProtocol(Interface):
    """A protocol that can be told each direction closed separately."""

    def readConnectionLost() -> None:
        """The peer will send no more data."""

    def writeConnectionLost() -> None:
        """We can send no more data."""


class IHandshakeListener(Interface):
    """A protocol told when the TLS handshake is complete."""

    def handshakeCompleted() -> None:
        """The TLS handshake finished."""


class IFileDescriptorReceiver(Interface):
    """A protocol that can receive file descriptors over a UNIX socket."""

    def fileDescriptorReceived(descriptor: int) -> None:
        """A file descriptor arrived."""


class IProtocolFactory(Interface):
    """Builds protocols for connections."""

    def buildProtocol(addr: IAddress) -> IProtocol | None:
        """Return a protocol for a connection with ``addr``, or None to refuse."""

    def doStart() -> None:
        """Called each time a port or connector starts using the factory."""

    def doStop() -> None:
        """Called each time a port or connector stops using the factory."""


class ITransport(Interface):
    """The write side and addresses of a connection."""

    def write(data: bytes) -> None:
        """Queue ``data`` to be sent, without blocking."""

    def writeSequence(data: Iterable[bytes]) -> None:
        """Queue each bytes object of ``data``."""

    def loseConnection() -> None:
        """Close after everything queued has been sent."""

    def getPeer() -> IAddress:
        """Return the remote address."""

    def getHost() -> IAddress:
        """Return the local address."""


class ITCPTransport(ITransport):
    """A TCP connection's transport."""

    def loseWriteConnection() -> None:
        """Shut down the write side once the queue is flushed (half-close)."""

    def abortConnection() -> None:
        """Close now, discarding anything queued."""

    def getTcpNoDelay() -> bool:
        """Return whether TCP_NODELAY is set."""

    def setTcpNoDelay(enabled: bool) -> None:
        """Set or clear TCP_NODELAY."""

    def getTcpKeepAlive() -> bool:
        """Return whether SO_KEEPALIVE is set."""

    def setTcpKeepAlive(enabled: bool) -> None:
        """Set or clear SO_KEEPALIVE."""

    def getHost() -> IAddress:
        """Return the local IPv4Address or IPv6Address."""

    def getPeer() -> IAddress:
        """Return the remote IPv4Address or IPv6Address."""


class IUNIXTransport(ITransport):
    """A UNIX stream socket's transport."""

    def sendFileDescriptor(descriptor: int) -> None:
        """Send a file descriptor along with the next bytes written."""


class IOpenSSLServerConnectionCreator(Interface):
    """Makes server-side TLS connection objects."""

    def serverConnectionForTLS(tlsProtocol: Any) -> Any:
        """Return a TLS connection for the server side of ``tlsProtocol``."""


class IOpenSSLClientConnectionCreator(Interface):
    """Makes client-side TLS connection objects."""

    def clientConnectionForTLS(tlsProtocol: Any) -> Any:
        """Return a TLS connection for the client side of ``tlsProtocol``."""


class IProtocolNegotiationFactory(Interface):
    """A factory that offers protocols for ALPN/NPN negotiation."""

    def acceptableProtocols() -> list[bytes]:
        """Return the protocol names to offer, in preference order."""


class IOpenSSLContextFactory(Interface):
    """Makes TLS contexts."""

    def getContext() -> Any:
        """Return a TLS context."""


class ITLSTransport(ITCPTransport):
    """A TCP transport that can switch to TLS."""

    def startTLS(contextFactory: Any) -> None:
        """Start TLS on this connection."""


class ISSLTransport(ITCPTransport):
    """A TLS connection's transport."""

    def getPeerCertificate() -> Any:
        """Return the peer's certificate."""


class INegotiated(ISSLTransport):
    """A TLS transport that reports the negotiated application protocol."""

    negotiatedProtocol = Attribute("The protocol agreed with the peer, or None.")


class ICipher(Interface):
    """A TLS cipher."""

    fullName = Attribute("The cipher's full name.")


class IAcceptableCiphers(Interface):
    """Chooses ciphers from those available."""

    def selectCiphers(availableCiphers: tuple[ICipher, ...]) -> tuple[ICipher, ...]:
        """Return the acceptable subset of ``availableCiphers``."""


class IProcessTransport(ITransport):
    """The transport of a child process."""

    pid = Attribute("The child's process id, or None once it has ended.")

    def closeStdin() -> None:
        """Close the child's standard input."""

    def closeStdout() -> None:
        """Close the child's standard output."""

    def closeStderr() -> None:
        """Close the child's standard error."""

    def closeChildFD(descriptor: int) -> None:
        """Close the child descriptor ``descriptor``."""

    def writeToChild(childFD: int, data: bytes) -> None:
        """Write ``data`` to the child descriptor ``childFD``."""

    def loseConnection() -> None:
        """Close every descriptor to the child."""

    def signalProcess(signalID: str | int) -> None:
        """Send a signal ('KILL', 'INT', 'TERM' or a number) to the child."""


class IServiceCollection(Interface):
    """A collection of named services."""

    def getServiceNamed(serviceName: str) -> Any:
        """Return the service called ``serviceName``."""

    def addService(service: Any) -> None:
        """Add ``service``."""

    def removeService(service: Any) -> None:
        """Remove ``service``."""


class IUDPTransport(Interface):
    """A UDP socket's transport."""

    def write(packet: bytes, addr: tuple[str, int] | None) -> None:
        """Send ``packet`` to ``addr`` (or to the connected peer)."""

    def connect(host: str, port: int) -> None:
        """Send to and receive from only ``host``:``port``."""

    def getHost() -> IAddress:
        """Return the local address."""

    def stopListening() -> Any:
        """Close the socket."""

    def setBroadcastAllowed(enabled: bool) -> None:
        """Set or clear SO_BROADCAST."""

    def getBroadcastAllowed() -> bool:
        """Return whether SO_BROADCAST is set."""


class IUNIXDatagramTransport(Interface):
    """A UNIX datagram socket's transport."""

    def write(packet: bytes, addr: str) -> None:
        """Send ``packet`` to the socket path ``addr``."""

    def getHost() -> IAddress:
        """Return the local address."""


class IUNIXDatagramConnectedTransport(Interface):
    """A connected UNIX datagram socket's transport."""

    def write(packet: bytes) -> None:
        """Send ``packet`` to the connected peer."""

    def getHost() -> IAddress:
        """Return the local address."""

    def getPeer() -> IAddress:
        """Return the peer's address."""


class IMulticastTransport(IUDPTransport):
    """A UDP transport with multicast controls."""

    def getOutgoingInterface() -> str:
        """Return the interface used for outgoing multicast."""

    def setOutgoingInterface(addr: str) -> Any:
        """Set the interface used for outgoing multicast."""

    def getLoopbackMode() -> bool:
        """Return whether our own multicast packets are looped back."""

    def setLoopbackMode(mode: bool) -> None:
        """Set whether our own multicast packets are looped back."""

    def getTTL() -> int:
        """Return the multicast time-to-live."""

    def setTTL(ttl: int) -> None:
        """Set the multicast time-to-live."""

    def joinGroup(addr: str, interface: str = "") -> Any:
        """Join the multicast group ``addr``."""

    def leaveGroup(addr: str, interface: str = "") -> Any:
        """Leave the multicast group ``addr``."""


class IStreamClientEndpoint(Interface):
    """Somewhere a stream client can connect to."""

    def connect(protocolFactory: IProtocolFactory) -> Any:
        """Connect; return a Deferred firing with the connected protocol."""


class IStreamServerEndpoint(Interface):
    """Somewhere a stream server can listen."""

    def listen(protocolFactory: IProtocolFactory) -> Any:
        """Listen; return a Deferred firing with an IListeningPort."""


class IStreamServerEndpointStringParser(Interface):
    """A plugin that builds server endpoints from description strings."""

    prefix = Attribute("The description prefix this parser handles, e.g. 'tcp'.")

    def parseStreamServer(reactor: Any, *args: object, **kwargs: object) -> Any:
        """Return an IStreamServerEndpoint for the parsed description."""


class IStreamClientEndpointStringParserWithReactor(Interface):
    """A plugin that builds client endpoints from description strings."""

    prefix = Attribute("The description prefix this parser handles, e.g. 'tcp'.")

    def parseStreamClient(reactor: Any, *args: object, **kwargs: object) -> Any:
        """Return an IStreamClientEndpoint for the parsed description."""


class _ISupportsExitSignalCapturing(Interface):
    """A reactor that records the signal that stopped it."""

    _exitSignal = Attribute("The signal number that stopped the reactor, or None.")
