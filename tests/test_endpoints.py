"""HostnameEndpoint's attempt logic and the wrapping protocol, on the
testing fakes (MemoryReactorClock, StringTransport) of torsion and of
Twisted side by side; plus torsion-only checks on a real reactor."""

from __future__ import annotations

import importlib
import socket
import types
import warnings

import pytest
from conftest import run_until
from zope.interface import implementer


@pytest.fixture(params=["torsion", "twisted"])
def fake(request):
    """The flavor's endpoints, testing, address, error, defer, failure,
    protocol and interfaces modules, and a MemoryReactorClock."""
    name = request.param

    def mod(path):
        return importlib.import_module(f"{name}.{path}")

    ns = types.SimpleNamespace(
        name=name,
        endpoints=mod("internet.endpoints"),
        testing=mod("internet.testing"),
        address=mod("internet.address"),
        error=mod("internet.error"),
        defer=mod("internet.defer"),
        failure=mod("python.failure"),
        protocol=mod("internet.protocol"),
        interfaces=mod("internet.interfaces"),
    )
    ns.reactor = ns.testing.MemoryReactorClock()
    return ns


def outcome(d):
    """Collect a Deferred's result as ('ok', value) or ('failed', Failure)."""
    box = []

    def ok(result):
        box.append(("ok", result))

    d.addCallbacks(ok, lambda f: box.append(("failed", f)))
    return box


def install_resolver(fake, hosts, complete=True):
    """Resolve every name to ``hosts``; with ``complete=False`` the
    resolution never ends. Returns the list of (name, port) asked."""
    asked = []

    @implementer(fake.interfaces.IHostnameResolver)
    class Resolver:
        def resolveHostName(
            self,
            receiver,
            hostName,
            portNumber=0,
            addressTypes=None,
            transportSemantics="TCP",
        ):
            asked.append((hostName, portNumber))
            receiver.resolutionBegan(None)
            for host in hosts:
                cls = (
                    fake.address.IPv6Address
                    if ":" in host
                    else fake.address.IPv4Address
                )
                receiver.addressResolved(cls("TCP", host, portNumber))
            if complete:
                receiver.resolutionComplete()
            else:
                asked.append(receiver)

    fake.reactor.installNameResolver(Resolver())
    return asked


def started(fake):
    return [(host, port) for host, port, *_ in fake.reactor.tcpClients]


def refuse(fake, index):
    """Fail the attempt number ``index`` as a refused connection."""
    _, _, factory, _, _ = fake.reactor.tcpClients[index]
    reason = fake.failure.Failure(fake.error.ConnectionRefusedError(str(index)))
    factory.clientConnectionFailed(fake.reactor.connectors[index], reason)
    return reason


def accept(fake, index):
    """Complete the attempt number ``index``: build and connect its protocol."""
    host, port, factory, _, _ = fake.reactor.tcpClients[index]
    cls = fake.address.IPv6Address if ":" in host else fake.address.IPv4Address
    proto = factory.buildProtocol(cls("TCP", host, port))
    transport = fake.testing.StringTransport()
    proto.makeConnection(transport)
    return proto, transport


class Recorder:
    """Protocol class factory recording its calls."""

    @staticmethod
    def make(fake, events):
        class P(fake.protocol.Protocol):
            def connectionMade(self):
                events.append("made")

            def dataReceived(self, data):
                events.append(("data", data))

            def connectionLost(self, reason):
                events.append(("lost", reason.type))

        return P


def test_attempts_are_staggered_and_the_winner_cancels_the_rest(fake):
    """One attempt per resolved address, in the resolver's order, started
    every attemptDelay (0.3 s by default); the first success fires the
    Deferred and the attempts still pending are stopped."""
    asked = install_resolver(fake, ["::2", "10.0.0.1", "10.0.0.2", "::3"])
    events = []
    factory = fake.protocol.Factory.forProtocol(Recorder.make(fake, events))
    endpoint = fake.endpoints.HostnameEndpoint(fake.reactor, "example.test", 8080)
    result = outcome(endpoint.connect(factory))
    assert asked == [("example.test", 8080)]
    assert started(fake) == [("::2", 8080)]
    fake.reactor.advance(0.29)
    assert len(started(fake)) == 1
    fake.reactor.advance(0.01)
    assert started(fake) == [("::2", 8080), ("10.0.0.1", 8080)]
    fake.reactor.advance(0.3)
    assert len(started(fake)) == 3
    assert result == []
    wrapper, transport = accept(fake, 1)
    assert result[0][0] == "ok"
    assert result[0][1] is wrapper._wrappedProtocol
    assert events == ["made"]
    assert result[0][1].transport is transport
    stopped = [c.stoppedConnecting for c in fake.reactor.connectors]
    assert stopped == [True, False, True]
    assert fake.reactor.getDelayedCalls() == []
    fake.reactor.advance(1)
    assert len(started(fake)) == 3
    timeouts = [(t, b) for _, _, _, t, b in fake.reactor.tcpClients]
    assert timeouts == [(30, None)] * 3


def test_custom_attempt_delay_timeout_and_bind_address(fake):
    """attemptDelay, timeout and bindAddress reach each connectTCP; a
    bindAddress given as a host becomes (host, 0), bytes are decoded."""
    install_resolver(fake, ["10.0.0.1", "10.0.0.2"])
    endpoint = fake.endpoints.HostnameEndpoint(
        fake.reactor,
        b"example.test",
        80,
        timeout=7,
        bindAddress=b"10.9.9.9",
        attemptDelay=1.5,
    )
    endpoint.connect(fake.protocol.Factory.forProtocol(fake.protocol.Protocol))
    fake.reactor.advance(1.4)
    assert len(started(fake)) == 1
    fake.reactor.advance(0.1)
    assert [(t, b) for _, _, _, t, b in fake.reactor.tcpClients] == [
        (7, ("10.9.9.9", 0)),
        (7, ("10.9.9.9", 0)),
    ]


def test_failures_move_on_and_the_last_failure_is_reported(fake):
    """A failed attempt does not start the next one early; when every
    attempt has failed, the Deferred fails with the last failure."""
    install_resolver(fake, ["10.0.0.1", "10.0.0.2", "10.0.0.3"])
    endpoint = fake.endpoints.HostnameEndpoint(fake.reactor, "example.test", 80)
    result = outcome(
        endpoint.connect(fake.protocol.Factory.forProtocol(fake.protocol.Protocol))
    )
    refuse(fake, 0)
    assert len(started(fake)) == 1
    fake.reactor.advance(0.3)
    fake.reactor.advance(0.3)
    assert len(started(fake)) == 3
    refuse(fake, 2)
    assert result == []
    last = refuse(fake, 1)
    assert result == []
    fake.reactor.advance(0.3)
    assert result[0][0] == "failed"
    assert result[0][1] is last
    assert str(result[0][1].value) == ("Connection was refused by other side: 1.")
    assert fake.reactor.getDelayedCalls() == []


def test_no_address_is_a_dns_lookup_error(fake):
    """A resolution without addresses fails at once with DNSLookupError."""
    install_resolver(fake, [])
    endpoint = fake.endpoints.HostnameEndpoint(fake.reactor, "void.test", 80)
    result = outcome(
        endpoint.connect(fake.protocol.Factory.forProtocol(fake.protocol.Protocol))
    )
    assert result[0][1].type is fake.error.DNSLookupError
    assert str(result[0][1].value) == (
        "DNS lookup failed: no results for hostname lookup: void.test."
    )
    assert fake.reactor.tcpClients == []


def test_cancel_during_resolution_is_a_dns_lookup_error(fake):
    """Cancelling before the name is resolved fails the Deferred with
    DNSLookupError (as Twisted does); a late resolution is ignored."""
    asked = install_resolver(fake, ["10.0.0.1"], complete=False)
    endpoint = fake.endpoints.HostnameEndpoint(fake.reactor, "slow.test", 80)
    d = endpoint.connect(fake.protocol.Factory.forProtocol(fake.protocol.Protocol))
    result = outcome(d)
    d.cancel()
    assert result[0][1].type is fake.error.DNSLookupError
    assert str(result[0][1].value) == (
        "DNS lookup failed: Couldn't find the hostname 'slow.test'."
    )
    asked[1].resolutionComplete()
    assert len(result) == 1
    assert fake.reactor.tcpClients == []


def test_cancel_while_attempting(fake):
    """Cancelling after the attempts started: ConnectingCancelledError with
    the HostnameAddress; every pending attempt is stopped, no timer left."""
    install_resolver(fake, ["10.0.0.1", "10.0.0.2", "10.0.0.3"])
    endpoint = fake.endpoints.HostnameEndpoint(fake.reactor, "example.test", 80)
    d = endpoint.connect(fake.protocol.Factory.forProtocol(fake.protocol.Protocol))
    result = outcome(d)
    fake.reactor.advance(0.3)
    d.cancel()
    assert result[0][1].type is fake.error.ConnectingCancelledError
    assert result[0][1].value.address == fake.address.HostnameAddress(
        b"example.test", 80
    )
    assert [c.stoppedConnecting for c in fake.reactor.connectors] == [True, True]
    assert fake.reactor.getDelayedCalls() == []
    fake.reactor.advance(5)
    assert len(started(fake)) == 2


def test_bad_hostname_fails_without_resolving(fake):
    """A host that is not valid IDNA: connect fails with ValueError at once."""
    asked = install_resolver(fake, ["10.0.0.1"])
    endpoint = fake.endpoints.HostnameEndpoint(fake.reactor, b"\xff.test", 80)
    result = outcome(
        endpoint.connect(fake.protocol.Factory.forProtocol(fake.protocol.Protocol))
    )
    assert result[0][1].type is ValueError
    assert str(result[0][1].value) == "invalid hostname: \\xff.test"
    assert asked == []


def test_default_memory_resolver(fake):
    """MemoryReactorClock's own resolver answers 127.0.0.1 with the port."""
    endpoint = fake.endpoints.HostnameEndpoint(fake.reactor, "anything", 4321)
    endpoint.connect(fake.protocol.Factory.forProtocol(fake.protocol.Protocol))
    assert started(fake) == [("127.0.0.1", 4321)]


@pytest.mark.parametrize(
    "host, text",
    [
        ("example.com", "<HostnameEndpoint example.com:80>"),
        (b"example.com", "<HostnameEndpoint example.com:80>"),
        ("::1", "<HostnameEndpoint [::1]:80>"),
        ("fe80::1%eth0", "<HostnameEndpoint [fe80::1%eth0]:80>"),
        ("\u00e9x.com", "<HostnameEndpoint xn--x-9fa.com:80>"),
        (b"\xff", "<HostnameEndpoint \\xff:80>"),
        ("a..b", "<HostnameEndpoint a..b:80>"),
        ("1.2.3.4", "<HostnameEndpoint 1.2.3.4:80>"),
    ],
)
def test_hostname_endpoint_repr(fake, host, text):
    """repr shows the punycoded host, IPv6 in brackets, bad bytes escaped."""
    assert repr(fake.endpoints.HostnameEndpoint(fake.reactor, host, 80)) == text


def test_reactor_without_name_resolver_warns(fake):
    """A reactor without IReactorPluggableNameResolver: DeprecationWarning
    naming its class, as Twisted words it."""
    from torsion.internet.task import Clock

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fake.endpoints.HostnameEndpoint(Clock(), "example.com", 80)
    assert [w.category for w in caught] == [DeprecationWarning]
    assert str(caught[0].message) == (
        "Passing HostnameEndpoint a reactor that does not provide "
        "IReactorPluggableNameResolver (torsion.internet.task.Clock) was "
        "deprecated in Twisted 17.5.0; please use a reactor that provides "
        "IReactorPluggableNameResolver instead"
    )
    assert caught[0].filename == __file__


def test_fallback_resolution_without_name_resolver(fake):
    """Without a nameResolver, getaddrinfo results (through the
    ``_deferToThread`` hook) are tried in order."""
    reactor = fake.reactor
    del reactor.nameResolver
    calls = []

    @implementer(fake.interfaces.IReactorTCP, fake.interfaces.IReactorTime)
    class Plain:
        def __getattr__(self, name):
            return getattr(reactor, name)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        endpoint = fake.endpoints.HostnameEndpoint(Plain(), "example.test", 99)

        def deferToThread(f, *args):
            calls.append(args)
            return fake.defer.succeed(
                [
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.1.1", 99)),
                    (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::5", 99, 0, 0)),
                ]
            )

        endpoint._deferToThread = deferToThread
        endpoint.connect(fake.protocol.Factory.forProtocol(fake.protocol.Protocol))
        reactor.advance(0.3)
    assert calls == [("example.test", 99, 0, socket.SOCK_STREAM)]
    assert started(fake) == [("10.1.1.1", 99), ("::5", 99)]


def test_wrapping_protocol_passes_interfaces_and_calls(fake):
    """The wrapper declares the wrapped protocol's IHalfCloseableProtocol
    (and not what the wrapped protocol lacks) and forwards every call;
    logPrefix is the wrapped protocol's."""
    interfaces = fake.interfaces
    events = []

    @implementer(interfaces.IHalfCloseableProtocol)
    class Inner(fake.protocol.Protocol):
        def logPrefix(self):
            return "inner!"

        def readConnectionLost(self):
            events.append("read lost")

        def writeConnectionLost(self):
            events.append("write lost")

        def handshakeCompleted(self):
            events.append("handshake")

        def dataReceived(self, data):
            events.append(data)

        def connectionLost(self, reason):
            events.append(reason.type)

    factory = fake.endpoints._WrappingFactory(fake.protocol.Factory.forProtocol(Inner))
    wrapper = factory.buildProtocol(None)
    assert interfaces.IHalfCloseableProtocol.providedBy(wrapper)
    assert not interfaces.IHandshakeListener.providedBy(wrapper)
    assert not interfaces.IFileDescriptorReceiver.providedBy(wrapper)
    assert wrapper.logPrefix() == "inner!"
    result = outcome(factory._onConnection)
    wrapper.makeConnection(fake.testing.StringTransport())
    inner = result[0][1]
    assert isinstance(inner, Inner)
    wrapper.dataReceived(b"x")
    wrapper.readConnectionLost()
    wrapper.writeConnectionLost()
    wrapper.handshakeCompleted()
    wrapper.connectionLost(fake.failure.Failure(fake.error.ConnectionDone()))
    assert events == [
        b"x",
        "read lost",
        "write lost",
        "handshake",
        fake.error.ConnectionDone,
    ]

    plain = fake.endpoints._WrappingFactory(
        fake.protocol.Factory.forProtocol(fake.protocol.Protocol)
    ).buildProtocol(None)
    assert not interfaces.IHalfCloseableProtocol.providedBy(plain)
    assert plain.logPrefix() == "Protocol"


def test_wrapping_protocol_keeps_only_the_last_interface(fake):
    """Twisted's quirk, kept: each passthrough interface replaces the one
    before, so a protocol with both IHalfCloseableProtocol and
    IHandshakeListener is wrapped as an IHandshakeListener only."""
    interfaces = fake.interfaces

    @implementer(interfaces.IHalfCloseableProtocol, interfaces.IHandshakeListener)
    class Both(fake.protocol.Protocol):
        pass

    wrapper = fake.endpoints._WrappingFactory(
        fake.protocol.Factory.forProtocol(Both)
    ).buildProtocol(None)
    assert interfaces.IHandshakeListener.providedBy(wrapper)
    assert not interfaces.IHalfCloseableProtocol.providedBy(wrapper)


def test_connect_failure_after_success_is_ignored(fake):
    """clientConnectionFailed after the Deferred fired changes nothing."""
    factory = fake.endpoints._WrappingFactory(
        fake.protocol.Factory.forProtocol(fake.protocol.Protocol)
    )
    result = outcome(factory._onConnection)
    factory.buildProtocol(None).makeConnection(fake.testing.StringTransport())
    factory.clientConnectionFailed(None, fake.failure.Failure(ValueError()))
    assert len(result) == 1 and result[0][0] == "ok"


def test_endpoints_declare_their_interfaces(fake):
    """Server endpoints provide IStreamServerEndpoint, clients
    IStreamClientEndpoint."""
    e, i, r = fake.endpoints, fake.interfaces, fake.reactor
    for server in (e.TCP4ServerEndpoint(r, 0), e.TCP6ServerEndpoint(r, 0)):
        assert i.IStreamServerEndpoint.providedBy(server)
    for client in (
        e.TCP4ClientEndpoint(r, "h", 1),
        e.TCP6ClientEndpoint(r, "::1", 1),
        e.HostnameEndpoint(r, "h", 1),
    ):
        assert i.IStreamClientEndpoint.providedBy(client)


def test_listen_passes_arguments(fake):
    """listen calls listenTCP with port, backlog and interface."""
    e, r = fake.endpoints, fake.reactor
    factory = fake.protocol.Factory()
    outcome(
        e.TCP4ServerEndpoint(r, 81, backlog=3, interface="10.0.0.1").listen(factory)
    )
    outcome(e.TCP6ServerEndpoint(r, 82).listen(factory))
    outcome(e.TCP4ServerEndpoint(r, 83).listen(factory))
    assert r.tcpServers == [
        (81, factory, 3, "10.0.0.1"),
        (82, factory, 50, "::"),
        (83, factory, 50, ""),
    ]


def test_connect_raising_synchronously_is_a_failed_deferred(fake):
    """connectTCP raising is turned into a failed Deferred, not raised."""
    reactor = fake.testing.RaisingMemoryReactor(connectException=OSError("boom"))
    d = fake.endpoints.TCP4ClientEndpoint(reactor, "h", 1).connect(
        fake.protocol.Factory()
    )
    result = outcome(d)
    assert result[0][1].type is OSError
    assert str(result[0][1].value) == "boom"


# Torsion only, on the real reactor.


def test_tcp6_client_resolves_on_the_reactor_thread_pool(reactor):
    """A TCP6ClientEndpoint with a name resolves it with getaddrinfo
    (AF_INET6) on the reactor's own thread pool; a name without an IPv6
    address fails with socket.gaierror."""
    from torsion.internet import endpoints, protocol

    threads = []

    def lookup(host, port, family):
        import threading

        threads.append(threading.current_thread().name)
        return socket.getaddrinfo(host, port, family)

    endpoint = endpoints.TCP6ClientEndpoint(reactor, "127.0.0.1", 80)
    endpoint._getaddrinfo = lookup
    result = outcome(endpoint.connect(protocol.Factory()))
    run_until(reactor, lambda: result)
    assert result[0][1].type is socket.gaierror
    assert len(threads) == 1 and threads[0].startswith("PoolThread")
