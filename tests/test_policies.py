"""torsion.protocols.policies beside twisted.protocols.policies.

Timing logic runs on a task.Clock with in-memory transports; wrapping,
connection limits and throttling also run over loopback sockets, on both
reactors (``flavor``), with the same expected values.
"""

from __future__ import annotations

import importlib
import types

import pytest
from zope.interface import implementer


def _namespace(name: str) -> types.SimpleNamespace:
    def mod(path: str) -> types.ModuleType:
        return importlib.import_module(f"{name}.{path}")

    return types.SimpleNamespace(
        name=name,
        policies=mod("protocols.policies"),
        protocol=mod("internet.protocol"),
        testing=mod("internet.testing"),
        task=mod("internet.task"),
        error=mod("internet.error"),
        address=mod("internet.address"),
        interfaces=mod("internet.interfaces"),
        failure=mod("python.failure"),
        log=mod("python.log"),
    )


@pytest.fixture(params=["torsion", "twisted"])
def impl(request):
    """The policies module and its companions, from torsion or Twisted."""
    return _namespace(request.param)


@pytest.fixture
def net(flavor):
    """``flavor`` plus the matching policies and task modules."""
    ns = _namespace(flavor.name)
    flavor.policies = ns.policies
    flavor.task = ns.task
    flavor.log = ns.log
    return flavor


def spin(reactor, done, timeout=10.0):
    """Run ``reactor`` until ``done()`` is true (fail after ``timeout``
    seconds); crash() rather than stop() so the test may run it again."""
    timedOut = []

    def check():
        if done():
            reactor.crash()
        else:
            reactor.callLater(0.001, check)

    def expire():
        timedOut.append(True)
        reactor.crash()

    reactor.callWhenRunning(check)
    guard = reactor.callLater(timeout, expire)
    reactor.run(installSignalHandlers=False)
    if guard.active():
        guard.cancel()
    assert not timedOut, f"condition not reached within {timeout}s"


def stopListening(reactor, port):
    """Stop ``port`` and run until it is closed."""
    results = []
    port.stopListening().addBoth(results.append)
    spin(reactor, lambda: results)


def _isReading(ns, transport):
    if ns.name == "torsion":
        return transport._isReading()
    return transport in ns.reactor.getReaders()


def _recordingProtocol(protocolModule, events, tag=""):
    class Recording(protocolModule.Protocol):
        def connectionMade(self):
            events.append((tag + "made", self.transport.__class__.__name__))

        def dataReceived(self, data):
            events.append((tag + "data", data))

        def connectionLost(self, reason):
            events.append((tag + "lost", reason.type.__name__))

    return Recording


# Pure logic, in memory


def test_logPrefix_names_wrapper_and_wrapped(impl):
    """Wrapper prefixes are "<wrapped prefix> (<wrapper class>)"; a wrapped
    object without ILoggingContext is named by its class."""

    class Inner(impl.protocol.Protocol):
        pass

    class Plain:
        pass

    factory = impl.policies.WrappingFactory(impl.protocol.Factory.forProtocol(Inner))
    wrapper = factory.buildProtocol(None)
    assert factory.logPrefix() == "Factory (WrappingFactory)"
    assert wrapper.logPrefix() == "Inner (ProtocolWrapper)"
    assert impl.policies.WrappingFactory(Plain()).logPrefix() == (
        "Plain (WrappingFactory)"
    )
    assert impl.policies.ProtocolWrapper(factory, Plain()).logPrefix() == (
        "Plain (ProtocolWrapper)"
    )


def test_wrapper_in_memory_relays_both_ways(impl):
    """The wrapped protocol's transport is the wrapper; writes, producers
    and unknown attributes reach the real transport; the wrapper takes on
    the transport's interfaces; it is registered while connected."""
    events = []
    Inner = _recordingProtocol(impl.protocol, events)
    factory = impl.policies.WrappingFactory(impl.protocol.Factory.forProtocol(Inner))
    wrapper = factory.buildProtocol(impl.address.IPv4Address("TCP", "1.2.3.4", 5))
    inner = wrapper.wrappedProtocol
    transport = impl.testing.StringTransport()
    transport.extra = "passed through"
    wrapper.makeConnection(transport)
    assert factory.protocols == {wrapper: 1}
    assert inner.transport is wrapper
    assert wrapper.transport is transport
    assert events == [("made", wrapper.__class__.__name__)]
    assert impl.interfaces.ITransport.providedBy(wrapper)
    assert impl.interfaces.IProtocol.providedBy(wrapper)
    assert wrapper.extra == "passed through"

    wrapper.dataReceived(b"in")
    inner.transport.write(b"out")
    inner.transport.writeSequence([b"1", b"2"])
    assert transport.value() == b"out12"
    assert events[-1] == ("data", b"in")
    assert wrapper.getPeer() == transport.getPeer()
    assert wrapper.getHost() == transport.getHost()

    producer = object()
    inner.transport.registerProducer(producer, True)
    assert (transport.producer, transport.streaming) == (producer, True)
    inner.transport.unregisterProducer()
    assert transport.producer is None

    assert wrapper.disconnecting == 0
    inner.transport.loseConnection()
    assert (wrapper.disconnecting, transport.disconnecting) == (1, True)
    wrapper.connectionLost(impl.failure.Failure(impl.error.ConnectionDone()))
    assert events[-1] == ("lost", "ConnectionDone")
    assert factory.protocols == {}
    assert wrapper.wrappedProtocol is None


def test_wrapping_factory_start_stop_and_client_callbacks(impl):
    """doStart/doStop start and stop the wrapped factory too; the client
    callbacks go to the wrapped factory with the same arguments."""
    calls = []

    class Inner(impl.protocol.ClientFactory):
        noisy = False

        def startFactory(self):
            calls.append("start")

        def stopFactory(self):
            calls.append("stop")

        def startedConnecting(self, connector):
            calls.append(("started", connector))

        def clientConnectionFailed(self, connector, reason):
            calls.append(("failed", connector, reason))

        def clientConnectionLost(self, connector, reason):
            calls.append(("lost", connector, reason))

    inner = Inner()
    factory = impl.policies.WrappingFactory(inner)
    factory.noisy = False
    factory.doStart()
    assert (inner.numPorts, factory.numPorts) == (1, 1)
    factory.startedConnecting("c")
    factory.clientConnectionFailed("c", "why")
    factory.clientConnectionLost("c", "because")
    factory.doStop()
    assert (inner.numPorts, factory.numPorts) == (0, 0)
    assert calls == [
        "start",
        ("started", "c"),
        ("failed", "c", "why"),
        ("lost", "c", "because"),
        "stop",
    ]


def test_throttling_max_connection_count(impl):
    """Beyond maxConnectionCount buildProtocol returns None; a closed
    connection frees its place."""
    factory = impl.policies.ThrottlingFactory(
        impl.protocol.Factory.forProtocol(impl.protocol.Protocol),
        maxConnectionCount=2,
    )
    first = factory.buildProtocol(None)
    second = factory.buildProtocol(None)
    assert factory.buildProtocol(None) is None
    assert factory.connectionCount == 2
    first.makeConnection(impl.testing.StringTransport())
    second.makeConnection(impl.testing.StringTransport())
    first.connectionLost(impl.failure.Failure(impl.error.ConnectionDone()))
    assert factory.connectionCount == 1
    assert list(factory.protocols) == [second]
    assert isinstance(factory.buildProtocol(None), impl.policies.ThrottlingProtocol)


def _throttled(impl, **limits):
    clock = impl.task.Clock()
    factory = impl.policies.ThrottlingFactory(
        impl.protocol.Factory.forProtocol(impl.protocol.Protocol), **limits
    )
    factory.callLater = clock.callLater
    return clock, factory


def test_throttling_reads_pause_transport_for_the_excess(impl):
    """25 bytes read against a limit of 10/s: at the next check the
    transport is paused for 25/10 - 1 = 1.5 s, then resumed."""
    clock, factory = _throttled(impl, readLimit=10)
    proto = factory.buildProtocol(None)
    transport = impl.testing.StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(b"x" * 25)
    assert factory.readThisSecond == 25
    clock.advance(1)
    assert factory.readThisSecond == 0
    assert transport.producerState == "paused"
    assert factory.unthrottleReadsID.getTime() == 2.5
    clock.advance(1)
    assert transport.producerState == "paused"
    clock.advance(0.5)
    assert transport.producerState == "producing"
    assert factory.unthrottleReadsID is None


def test_throttling_reads_at_the_limit_is_not_throttled(impl):
    """Exactly readLimit bytes in a second is allowed."""
    clock, factory = _throttled(impl, readLimit=10)
    proto = factory.buildProtocol(None)
    transport = impl.testing.StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(b"x" * 10)
    clock.advance(1)
    assert transport.producerState == "producing"
    assert factory.unthrottleReadsID is None


def test_throttling_writes_pause_the_registered_producer(impl):
    """30 bytes written against 10/s pause the producer for 2 s."""
    clock, factory = _throttled(impl, writeLimit=10)
    proto = factory.buildProtocol(None)
    proto.makeConnection(impl.testing.StringTransport())
    calls = []

    class Producer:
        def pauseProducing(self):
            calls.append(("pause", clock.seconds()))

        def resumeProducing(self):
            calls.append(("resume", clock.seconds()))

    proto.wrappedProtocol.transport.registerProducer(Producer(), True)
    proto.write(b"x" * 20)
    proto.writeSequence([b"y" * 5, b"z" * 5])
    assert factory.writtenThisSecond == 30
    clock.advance(1)
    clock.advance(1)
    clock.advance(1)
    assert calls == [("pause", 1), ("resume", 3)]
    proto.unregisterProducer()
    assert not hasattr(proto, "producer") or proto.producer is None


def test_throttling_checks_stop_after_last_connection(impl):
    """When the last connection goes, every pending check is cancelled; the
    next connection starts them again."""
    clock, factory = _throttled(impl, readLimit=10, writeLimit=10)
    proto = factory.buildProtocol(None)
    proto.makeConnection(impl.testing.StringTransport())
    proto.dataReceived(b"x" * 30)
    clock.advance(1)
    assert len(clock.getDelayedCalls()) == 3
    proto.connectionLost(impl.failure.Failure(impl.error.ConnectionDone()))
    assert clock.getDelayedCalls() == []
    factory.buildProtocol(None)
    assert sorted(c.getTime() for c in clock.getDelayedCalls()) == [2, 2]


def test_throttle_writes_without_producer_is_harmless():
    """torsion: throttling writes with no producer registered does nothing
    (Twisted's calls None.pauseProducing and stops the write checks)."""
    ns = _namespace("torsion")
    clock, factory = _throttled(ns, writeLimit=10)
    proto = factory.buildProtocol(None)
    proto.makeConnection(ns.testing.StringTransport())
    proto.write(b"x" * 50)
    clock.advance(1)
    clock.advance(4)
    assert [c.getTime() for c in clock.getDelayedCalls()] == [6]


def test_limit_total_connections_in_memory(impl):
    """connectionLimit caps the normal protocol; overflowProtocol (or None)
    serves the rest; each protocol's factory is the limiting factory."""

    class Normal(impl.protocol.Protocol):
        pass

    class Overflow(impl.protocol.Protocol):
        pass

    factory = impl.policies.LimitTotalConnectionsFactory()
    factory.protocol = Normal
    factory.connectionLimit = 1
    first = factory.buildProtocol(None)
    assert isinstance(first, impl.policies.ProtocolWrapper)
    assert type(first.wrappedProtocol) is Normal
    assert first.wrappedProtocol.factory is factory
    assert factory.buildProtocol(None) is None
    assert factory.connectionCount == 1
    factory.overflowProtocol = Overflow
    second = factory.buildProtocol(None)
    assert type(second.wrappedProtocol) is Overflow
    assert factory.connectionCount == 2
    for p in (first, second):
        p.makeConnection(impl.testing.StringTransport())
        p.connectionLost(impl.failure.Failure(impl.error.ConnectionDone()))
    assert factory.connectionCount == 0


def _timeoutProto(impl, period=3, protocolClass=None):
    clock = impl.task.Clock()
    events = []
    wrapped = impl.protocol.Factory.forProtocol(
        protocolClass or _recordingProtocol(impl.protocol, events)
    )
    factory = impl.policies.TimeoutFactory(wrapped, timeoutPeriod=period)
    factory.callLater = clock.callLater
    proto = factory.buildProtocol(None)
    transport = impl.testing.StringTransportWithDisconnection()
    transport.protocol = proto
    proto.makeConnection(transport)
    return clock, proto, transport, events


def test_timeout_protocol_closes_idle_connection(impl):
    """An idle connection is closed after timeoutPeriod; reads and writes
    restart the countdown."""
    clock, proto, transport, events = _timeoutProto(impl)
    assert proto.timeoutPeriod == 3
    clock.advance(2)
    proto.dataReceived(b"a")
    clock.advance(2)
    proto.write(b"b")
    clock.advance(2)
    proto.writeSequence([b"c"])
    clock.advance(2.9)
    assert transport.connected and not proto.disconnecting
    clock.advance(0.1)
    assert not transport.connected
    assert proto.disconnecting == 1
    assert events[-1] == ("lost", "ConnectionDone")
    assert proto.timeoutCall is None
    assert clock.getDelayedCalls() == []
    assert transport.value() == b"bc"


def test_timeout_protocol_set_and_cancel(impl):
    """setTimeout replaces the countdown; setTimeout() and cancelTimeout()
    stop it (twice is harmless); connectionLost cancels it."""
    clock, proto, transport, events = _timeoutProto(impl)
    proto.setTimeout(10)
    clock.advance(9)
    assert transport.connected
    proto.setTimeout()
    assert (proto.timeoutPeriod, proto.timeoutCall) == (None, None)
    proto.cancelTimeout()
    proto.resetTimeout()
    clock.advance(100)
    assert transport.connected
    proto.setTimeout(1)
    proto.connectionLost(impl.failure.Failure(impl.error.ConnectionLost()))
    assert clock.getDelayedCalls() == []
    assert events[-1] == ("lost", "ConnectionLost")


def test_timeout_protocol_timeoutFunc_override(impl):
    """A subclass's timeoutFunc replaces the close."""
    fired = []

    class Quiet(impl.policies.TimeoutProtocol):
        def timeoutFunc(self):
            fired.append(self.timeoutPeriod)

    clock = impl.task.Clock()
    factory = impl.policies.TimeoutFactory(
        impl.protocol.Factory.forProtocol(impl.protocol.Protocol), timeoutPeriod=2
    )
    factory.protocol = Quiet
    factory.callLater = clock.callLater
    proto = factory.buildProtocol(None)
    transport = impl.testing.StringTransport()
    proto.makeConnection(transport)
    clock.advance(2)
    assert fired == [2]
    assert not transport.disconnecting
    proto.cancelTimeout()


def test_timeout_factory_default_period(impl):
    """TimeoutFactory's default period is 30 minutes."""
    factory = impl.policies.TimeoutFactory(impl.protocol.Factory())
    assert factory.timeoutPeriod == 1800


def _mixinProto(impl):
    clock = impl.task.Clock()

    class Timing(impl.policies.TimeoutMixin, impl.protocol.Protocol):
        callLater = clock.callLater

    proto = Timing()
    transport = impl.testing.StringTransport()
    proto.makeConnection(transport)
    return clock, proto, transport


def test_timeout_mixin_set_returns_previous_and_closes(impl):
    """setTimeout returns the previous period; at expiry the transport is
    asked to loseConnection (not abort)."""
    clock, proto, transport = _mixinProto(impl)
    assert proto.setTimeout(5) is None
    clock.advance(4)
    assert proto.setTimeout(2) == 5
    clock.advance(1.5)
    proto.resetTimeout()
    clock.advance(1.9)
    assert not transport.disconnecting
    clock.advance(0.1)
    assert transport.disconnecting and not transport.disconnected
    assert clock.getDelayedCalls() == []
    proto.resetTimeout()
    assert proto.setTimeout(None) == 2
    assert clock.getDelayedCalls() == []


def test_timeout_mixin_disable_and_override(impl):
    """setTimeout(None) cancels; resetTimeout with no timeout does nothing;
    timeoutConnection can be overridden."""
    clock = impl.task.Clock()
    fired = []

    class Timing(impl.policies.TimeoutMixin, impl.protocol.Protocol):
        callLater = clock.callLater
        timeOut = 7

        def timeoutConnection(self):
            fired.append(clock.seconds())

    proto = Timing()
    proto.resetTimeout()
    assert clock.getDelayedCalls() == []
    assert proto.setTimeout(1) == 7
    assert proto.setTimeout(None) == 1
    assert clock.getDelayedCalls() == []
    proto.setTimeout(3)
    clock.advance(3)
    assert fired == [3]
    assert proto.setTimeout(4) == 3
    clock.advance(4)
    assert fired == [3, 7]


def test_spewing_factory_logs_traffic(impl):
    """SpewingProtocol logs "Received: <repr>" and "Sending: <repr>"."""
    messages = []

    def observer(event):
        messages.append("".join(str(m) for m in event.get("message", ())))

    class Echo(impl.protocol.Protocol):
        def dataReceived(self, data):
            self.transport.write(data.upper())

    factory = impl.policies.SpewingFactory(impl.protocol.Factory.forProtocol(Echo))
    proto = factory.buildProtocol(None)
    transport = impl.testing.StringTransport()
    proto.makeConnection(transport)
    impl.log.addObserver(observer)
    try:
        proto.dataReceived(b"hi")
    finally:
        impl.log.removeObserver(observer)
    assert messages == ["Received: b'hi'", "Sending: b'HI'"]
    assert transport.value() == b"HI"


def test_traffic_logging_factory_files(impl, tmp_path):
    """Each connection logs to <prefix>-<n>: '*', 'C n: data', 'S n: data',
    'SV n: [...]', 'S n: *', and the lost reason."""
    prefix = str(tmp_path / "traffic")

    class Echo(impl.protocol.Protocol):
        def dataReceived(self, data):
            self.transport.write(data)
            self.transport.writeSequence([b"a", b"b"])
            self.transport.loseConnection()

    factory = impl.policies.TrafficLoggingFactory(
        impl.protocol.Factory.forProtocol(Echo), prefix
    )
    for expected in (1, 2):
        proto = factory.buildProtocol(None)
        proto.makeConnection(impl.testing.StringTransport())
        proto.dataReceived(b"x")
        proto.logfile.close()
        with open(f"{prefix}-{expected}") as f:
            lines = f.read().splitlines()
        n = expected
        assert lines == [
            "*",
            f"C {n}: b'x'",
            f"S {n}: b'x'",
            f"SV {n}: [b'a', b'b']",
        ] + [f"S {n}: *"]
    factory.resetCounter()
    again = factory.buildProtocol(None)
    again.logfile.close()
    assert again._number == 1


def test_traffic_logging_elides_long_data(tmp_path):
    """torsion: data over lengthLimit is cut to lengthLimit-12 bytes plus
    b'<... elided>' (Twisted's appends a str to bytes and raises)."""
    ns = _namespace("torsion")
    prefix = str(tmp_path / "t")
    factory = ns.policies.TrafficLoggingFactory(
        ns.protocol.Factory.forProtocol(ns.protocol.Protocol), prefix, lengthLimit=15
    )
    proto = factory.buildProtocol(None)
    proto.makeConnection(ns.testing.StringTransport())
    proto.dataReceived(b"0123456789abcdef")
    proto.dataReceived(b"short")
    proto.logfile.close()
    with open(f"{prefix}-1") as f:
        assert f.read().splitlines()[1:] == [
            "C 1: b'012<... elided>'",
            "C 1: b'short'",
        ]


def test_limit_connections_by_peer_in_memory():
    """torsion: at most maxConnectionsPerPeer per host (Twisted's indexes the
    address object and raises TypeError)."""
    ns = _namespace("torsion")
    factory = ns.policies.LimitConnectionsByPeer(
        ns.protocol.Factory.forProtocol(ns.protocol.Protocol)
    )
    factory.maxConnectionsPerPeer = 2
    factory.startFactory()
    a = ns.address.IPv4Address("TCP", "10.0.0.1", 1)
    b = ns.address.IPv4Address("TCP", "10.0.0.2", 1)
    protos = [factory.buildProtocol(a), factory.buildProtocol(a)]
    assert factory.buildProtocol(a) is None
    assert factory.buildProtocol(b) is not None
    assert factory.peerConnections == {"10.0.0.1": 2, "10.0.0.2": 1}
    for p in protos:
        p.makeConnection(ns.testing.StringTransport(peerAddress=a))
    protos[0].connectionLost(ns.failure.Failure(ns.error.ConnectionDone()))
    assert factory.peerConnections == {"10.0.0.1": 1, "10.0.0.2": 1}
    assert factory.buildProtocol(a) is not None
    assert factory.protocols == {protos[1]: 1}


# Over loopback sockets, both reactors


def _connect(ns, port, events, tag, data=None):
    protocol = ns.protocol

    class Client(protocol.Protocol):
        def connectionMade(self):
            events.append((tag, "made"))
            if data is not None:
                self.transport.write(data)

        def dataReceived(self, received):
            events.append((tag, received))

        def connectionLost(self, reason):
            events.append((tag, reason.type.__name__))

    clients = []

    class F(protocol.ClientFactory):
        noisy = False

        def buildProtocol(self, addr):
            p = Client()
            clients.append(p)
            return p

    ns.reactor.connectTCP("127.0.0.1", port.getHost().port, F())
    return clients


def test_wrapping_factory_over_tcp(net):
    """Echo through a WrappingFactory: the inner protocol's transport is the
    wrapper, which provides the TCP transport's interfaces; the wrapper is
    registered while connected and both sides see ConnectionDone."""
    seen = {}
    events = []
    factoryHolder = []

    class Echo(net.protocol.Protocol):
        def connectionMade(self):
            t = self.transport
            seen["wrapper"] = isinstance(t, net.policies.ProtocolWrapper)
            seen["tcp"] = net.interfaces.ITCPTransport.providedBy(t)
            seen["peer"] = t.getPeer().host
            seen["registered"] = list(factoryHolder[0].protocols) == [t]
            seen["nodelay"] = t.getTcpNoDelay() in (True, False, 0, 1)

        def dataReceived(self, data):
            self.transport.write(data)

        def connectionLost(self, reason):
            events.append(("server", reason.type.__name__))

    factory = net.policies.WrappingFactory(net.protocol.Factory.forProtocol(Echo))
    factory.noisy = False
    factoryHolder.append(factory)
    port = net.reactor.listenTCP(0, factory, interface="127.0.0.1")
    clients = _connect(net, port, events, "client", b"ping")
    spin(net.reactor, lambda: ("client", b"ping") in events)
    clients[0].transport.loseConnection()
    spin(net.reactor, lambda: len(events) == 4)
    assert seen == {
        "wrapper": True,
        "tcp": True,
        "peer": "127.0.0.1",
        "registered": True,
        "nodelay": True,
    }
    assert sorted(events[2:]) == [
        ("client", "ConnectionDone"),
        ("server", "ConnectionDone"),
    ]
    assert factory.protocols == {}
    stopListening(net.reactor, port)


def test_wrapped_half_closeable_protocol_is_closed_on_peer_half_close(net):
    """As in Twisted: the wrapper does not provide IHalfCloseableProtocol,
    so a peer's half-close ends the whole connection with ConnectionDone
    and the wrapped protocol's readConnectionLost is never called."""
    events = []

    @implementer(net.interfaces.IHalfCloseableProtocol)
    class Half(net.protocol.Protocol):
        def readConnectionLost(self):
            events.append(("server", "readConnectionLost"))

        def writeConnectionLost(self):
            events.append(("server", "writeConnectionLost"))

        def dataReceived(self, data):
            events.append(("server", data))

        def connectionLost(self, reason):
            events.append(("server", reason.type.__name__))

    factory = net.policies.WrappingFactory(net.protocol.Factory.forProtocol(Half))
    factory.noisy = False
    port = net.reactor.listenTCP(0, factory, interface="127.0.0.1")
    clients = _connect(net, port, events, "client", b"x")
    spin(net.reactor, lambda: ("server", b"x") in events)
    clients[0].transport.loseWriteConnection()
    spin(net.reactor, lambda: ("server", "ConnectionDone") in events)
    assert ("server", "readConnectionLost") not in events
    stopListening(net.reactor, port)


def test_wrapping_client_factory_over_tcp(net):
    """connectTCP with a WrappingFactory: the wrapped client factory hears
    startedConnecting and a refused connection's failure."""
    calls = []

    class Inner(net.protocol.ClientFactory):
        noisy = False

        def startedConnecting(self, connector):
            calls.append("started")

        def clientConnectionFailed(self, connector, reason):
            calls.append(reason.type.__name__)

    probe = net.reactor.listenTCP(0, net.protocol.Factory(), interface="127.0.0.1")
    closedPort = probe.getHost().port
    probe.stopListening()
    spin(net.reactor, lambda: not probe.connected)
    factory = net.policies.WrappingFactory(Inner())
    factory.noisy = False
    net.reactor.connectTCP("127.0.0.1", closedPort, factory)
    spin(net.reactor, lambda: len(calls) == 2)
    assert calls == ["started", "ConnectionRefusedError"]


def test_throttling_over_tcp(net):
    """maxConnectionCount=1 closes a second connection unanswered; reads over
    readLimit pause the real transport until the computed time."""
    events = []
    received = []

    class Sink(net.protocol.Protocol):
        def dataReceived(self, data):
            received.append(data)

    clock = net.task.Clock()
    factory = net.policies.ThrottlingFactory(
        net.protocol.Factory.forProtocol(Sink), maxConnectionCount=1, readLimit=1000
    )
    factory.noisy = False
    factory.callLater = clock.callLater
    port = net.reactor.listenTCP(0, factory, interface="127.0.0.1")
    clients = _connect(net, port, events, "a", b"x" * 3000)
    spin(net.reactor, lambda: sum(map(len, received)) == 3000)
    _connect(net, port, events, "b")
    spin(net.reactor, lambda: ("b", "ConnectionDone") in events)
    assert factory.connectionCount == 1
    (server,) = factory.protocols
    clock.advance(1)
    assert not _isReading(net, server.transport)
    clients[0].transport.write(b"late")
    deadline = net.reactor.seconds() + 0.2
    spin(net.reactor, lambda: net.reactor.seconds() > deadline)
    assert sum(map(len, received)) == 3000
    clock.advance(1.9)
    assert not _isReading(net, server.transport)
    clock.advance(0.1)
    assert _isReading(net, server.transport)
    spin(net.reactor, lambda: sum(map(len, received)) == 3004)
    assert b"".join(received)[-4:] == b"late"
    clients[0].transport.loseConnection()
    spin(net.reactor, lambda: factory.connectionCount == 0)
    assert clock.getDelayedCalls() == []
    stopListening(net.reactor, port)


def test_limit_total_connections_over_tcp(net):
    """With connectionLimit=1 the second client is served by the overflow
    protocol; the count returns to 0 when both are gone."""
    events = []

    class Hello(net.protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"hello")

    class Busy(net.protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"busy")
            self.transport.loseConnection()

    factory = net.policies.LimitTotalConnectionsFactory()
    factory.noisy = False
    factory.protocol = Hello
    factory.overflowProtocol = Busy
    factory.connectionLimit = 1
    port = net.reactor.listenTCP(0, factory, interface="127.0.0.1")
    first = _connect(net, port, events, "a")
    spin(net.reactor, lambda: ("a", b"hello") in events)
    _connect(net, port, events, "b")
    spin(net.reactor, lambda: ("b", "ConnectionDone") in events)
    assert [e for e in events if e[0] == "b"] == [
        ("b", "made"),
        ("b", b"busy"),
        ("b", "ConnectionDone"),
    ]
    first[0].transport.loseConnection()
    spin(net.reactor, lambda: factory.connectionCount == 0)
    stopListening(net.reactor, port)


def test_timeout_factory_over_tcp(net):
    """An idle connection through TimeoutFactory is closed by the server;
    the client sees ConnectionDone after what the server wrote."""
    events = []

    class Greeter(net.protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"hi")

        def connectionLost(self, reason):
            events.append(("server", reason.type.__name__))

    factory = net.policies.TimeoutFactory(
        net.protocol.Factory.forProtocol(Greeter), timeoutPeriod=0.05
    )
    factory.noisy = False
    factory.callLater = net.reactor.callLater
    port = net.reactor.listenTCP(0, factory, interface="127.0.0.1")
    _connect(net, port, events, "client")
    spin(net.reactor, lambda: len(events) == 4, timeout=5)
    assert events[:2] == [("client", "made"), ("client", b"hi")]
    assert sorted(events[2:]) == [
        ("client", "ConnectionDone"),
        ("server", "ConnectionDone"),
    ]
    stopListening(net.reactor, port)


def test_limit_connections_by_peer_over_tcp(reactor):
    """torsion: the third connection from 127.0.0.1 is closed at once while
    two are open; after one closes, a new one is accepted."""
    ns = _namespace("torsion")
    ns.reactor = reactor
    events = []

    class Hello(ns.protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"hello")

    factory = ns.policies.LimitConnectionsByPeer(ns.protocol.Factory.forProtocol(Hello))
    factory.noisy = False
    factory.maxConnectionsPerPeer = 2
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    a = _connect(ns, port, events, "a")
    _connect(ns, port, events, "b")
    spin(reactor, lambda: ("a", b"hello") in events and ("b", b"hello") in events)
    _connect(ns, port, events, "c")
    spin(reactor, lambda: ("c", "ConnectionDone") in events)
    assert [e for e in events if e[0] == "c"] == [
        ("c", "made"),
        ("c", "ConnectionDone"),
    ]
    assert factory.peerConnections == {"127.0.0.1": 2}
    a[0].transport.loseConnection()
    spin(reactor, lambda: factory.peerConnections == {"127.0.0.1": 1})
    _connect(ns, port, events, "d")
    spin(reactor, lambda: ("d", b"hello") in events)
    stopListening(reactor, port)


def test_timeout_mixin_over_tcp(net):
    """A TimeoutMixin protocol on the real reactor: data resets the
    countdown; once idle, the server closes and the client sees
    ConnectionDone."""
    events = []
    reactor = net.reactor

    class Idle(net.policies.TimeoutMixin, net.protocol.Protocol):
        callLater = reactor.callLater

        def connectionMade(self):
            self.setTimeout(0.1)

        def dataReceived(self, data):
            events.append(("server", data))
            self.resetTimeout()

        def connectionLost(self, reason):
            events.append(("server", reason.type.__name__))
            self.setTimeout(None)

    factory = net.protocol.Factory.forProtocol(Idle)
    factory.noisy = False
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    clients = _connect(net, port, events, "client")
    spin(reactor, lambda: clients and clients[0].transport is not None)
    sends = []

    def send():
        if len(sends) < 3:
            sends.append(reactor.seconds())
            clients[0].transport.write(b"k")
            reactor.callLater(0.05, send)

    send()
    spin(reactor, lambda: ("client", "ConnectionDone") in events, timeout=5)
    spin(reactor, lambda: ("server", "ConnectionDone") in events, timeout=5)
    assert [e for e in events if e[0] == "server"] == [
        ("server", b"k"),
        ("server", b"k"),
        ("server", b"k"),
        ("server", "ConnectionDone"),
    ]
    stopListening(reactor, port)


def test_producer_registered_through_wrapper_is_paused_by_transport(net):
    """A wrapped protocol's streaming producer, registered on the wrapper,
    is paused by the real transport once over 64 KiB is queued to a peer
    that does not read, resumed when the peer reads, stopped at the end."""
    states = []

    @implementer(net.interfaces.IPushProducer)
    class Pump(net.protocol.Protocol):
        def connectionMade(self):
            self.transport.registerProducer(self, True)
            self.transport.write(b"z" * (8 * 1024 * 1024))

        def pauseProducing(self):
            states.append("pause")

        def resumeProducing(self):
            states.append("resume")

        def stopProducing(self):
            states.append("stop")

    factory = net.policies.WrappingFactory(net.protocol.Factory.forProtocol(Pump))
    factory.noisy = False
    port = net.reactor.listenTCP(0, factory, interface="127.0.0.1")

    class Sink(net.protocol.Protocol):
        def connectionMade(self):
            self.size = 0
            self.transport.pauseProducing()

        def dataReceived(self, data):
            self.size += len(data)

    sinks = []

    class F(net.protocol.ClientFactory):
        noisy = False

        def buildProtocol(self, addr):
            sinks.append(Sink())
            return sinks[-1]

    net.reactor.connectTCP("127.0.0.1", port.getHost().port, F())
    spin(net.reactor, lambda: states)
    assert states == ["pause"]
    (wrapper,) = factory.protocols
    assert wrapper.transport.producer is wrapper.wrappedProtocol
    sinks[0].transport.resumeProducing()
    spin(net.reactor, lambda: sinks[0].size == 8 * 1024 * 1024)
    spin(net.reactor, lambda: states == ["pause", "resume"])
    sinks[0].transport.loseConnection()
    spin(net.reactor, lambda: not factory.protocols)
    assert states == ["pause", "resume", "stop"]
    stopListening(net.reactor, port)
