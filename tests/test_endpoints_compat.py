"""Endpoints over real loopback sockets, the same scenario on torsion and on
Twisted (the ``flavor`` fixture), comparing what the user observes."""

from __future__ import annotations

import importlib
import socket

import pytest
from zope.interface import implementer


def run_until(reactor, done, timeout=10.0):
    """Run ``reactor`` until ``done()`` is true (fail after ``timeout``
    seconds); crash() rather than stop(), so connections survive and the
    test may run it again."""
    timed_out = []

    def check():
        if done():
            reactor.crash()
        else:
            reactor.callLater(0.001, check)

    def expire():
        timed_out.append(True)
        reactor.crash()

    reactor.callWhenRunning(check)
    guard = reactor.callLater(timeout, expire)
    reactor.run(installSignalHandlers=False)
    if guard.active():
        guard.cancel()
    assert not timed_out, f"condition not reached within {timeout}s"


def ep(flavor):
    """The flavor's endpoints module."""
    return importlib.import_module(f"{flavor.name}.internet.endpoints")


def outcome(d):
    """Collect a Deferred's result as ('ok', value) or ('failed', Failure)."""
    box = []

    def ok(result):
        box.append(("ok", result))
        return result

    def failed(reason):
        box.append(("failed", reason))

    d.addCallbacks(ok, failed)
    return box


def stop_listening(reactor, port):
    done = []
    flavor_defer = importlib.import_module(
        type(reactor).__module__.split(".")[0] + ".internet.defer"
    )
    flavor_defer.maybeDeferred(port.stopListening).addBoth(done.append)
    run_until(reactor, lambda: done)


def refused_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    number = s.getsockname()[1]
    s.close()
    return number


def recording(flavor, events, name):
    class Recorder(flavor.protocol.Protocol):
        def connectionMade(self):
            events.append((name, "made", self.transport is not None))

        def dataReceived(self, data):
            events.append((name, "data", data))

        def connectionLost(self, reason):
            events.append((name, "lost", reason.type))

    return Recorder


def test_listen_connect_roundtrip(flavor):
    """listen fires with the IListeningPort; connect fires with the user's
    protocol after its connectionMade; data flows; both ends close cleanly."""
    endpoints, protocol, error = ep(flavor), flavor.protocol, flavor.error
    events = []

    class Echo(protocol.Protocol):
        def dataReceived(self, data):
            self.transport.write(data)

    server = endpoints.TCP4ServerEndpoint(flavor.reactor, 0, interface="127.0.0.1")
    listening = outcome(server.listen(protocol.Factory.forProtocol(Echo)))
    assert listening[0][0] == "ok"
    port = listening[0][1]
    assert flavor.interfaces.IListeningPort.providedBy(port)
    assert port.getHost().host == "127.0.0.1"
    number = port.getHost().port

    client = endpoints.TCP4ClientEndpoint(flavor.reactor, "127.0.0.1", number)
    Client = recording(flavor, events, "client")
    factory = protocol.Factory.forProtocol(Client)
    d = client.connect(factory)
    connected = outcome(d)
    d.addCallback(lambda p: events.append(("fired", type(p).__name__)))
    assert connected == []
    run_until(flavor.reactor, lambda: connected)
    proto = connected[0][1]
    assert isinstance(proto, Client)
    assert proto.factory is factory
    assert events == [("client", "made", True), ("fired", "Recorder")]
    assert proto.transport.getPeer().port == number
    proto.transport.write(b"ping")
    run_until(flavor.reactor, lambda: len(events) == 3)
    proto.transport.loseConnection()
    run_until(flavor.reactor, lambda: len(events) == 4)
    assert events[2:] == [
        ("client", "data", b"ping"),
        ("client", "lost", error.ConnectionDone),
    ]
    stop_listening(flavor.reactor, port)


def test_listen_on_busy_port_fails_with_cannot_listen(flavor):
    """listen on a port in use: the Deferred fails with CannotListenError
    (listenTCP's exception becomes the failure; nothing is raised)."""
    endpoints, error = ep(flavor), flavor.error
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    number = busy.getsockname()[1]
    try:
        factory = flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
        result = outcome(
            endpoints.TCP4ServerEndpoint(
                flavor.reactor, number, interface="127.0.0.1"
            ).listen(factory)
        )
    finally:
        busy.close()
    assert result[0][0] == "failed"
    failure = result[0][1]
    assert failure.type is error.CannotListenError
    assert failure.value.interface == "127.0.0.1"
    assert failure.value.port == number
    assert str(failure.value) == (
        f"Couldn't listen on 127.0.0.1:{number}: [Errno 98] Address already in use."
    )


def test_connect_refused(flavor):
    """Nothing listening: the Deferred fails with ConnectionRefusedError."""
    endpoints, error = ep(flavor), flavor.error
    factory = flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    result = outcome(
        endpoints.TCP4ClientEndpoint(
            flavor.reactor, "127.0.0.1", refused_port()
        ).connect(factory)
    )
    run_until(flavor.reactor, lambda: result)
    assert result[0][0] == "failed"
    assert result[0][1].type is error.ConnectionRefusedError
    assert (
        result[0][1].getErrorMessage()
        == "Connection was refused by other side: 111: Connection refused."
    )


def full_listener():
    """A listener whose backlog is full: the next SYN is dropped."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    number = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", number), timeout=5)
    return listener, filler, number


def test_connect_timeout(flavor):
    """An attempt that never completes fails with TimeoutError after
    ``timeout`` seconds."""
    endpoints, error = ep(flavor), flavor.error
    listener, filler, number = full_listener()
    try:
        factory = flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
        started = flavor.reactor.seconds()
        result = outcome(
            endpoints.TCP4ClientEndpoint(
                flavor.reactor, "127.0.0.1", number, timeout=0.2
            ).connect(factory)
        )
        run_until(flavor.reactor, lambda: result)
        elapsed = flavor.reactor.seconds() - started
    finally:
        filler.close()
        listener.close()
    assert result[0][1].type is error.TimeoutError
    assert result[0][1].getErrorMessage() == "User timeout caused connection failure."
    assert 0.15 <= elapsed < 3


def test_cancel_while_connecting(flavor):
    """cancel() before the connection is made fails the Deferred with
    ConnectingCancelledError carrying the destination; the factory's
    protocol is never built."""
    endpoints, error = ep(flavor), flavor.error
    built = []
    listener, filler, number = full_listener()
    try:

        class Factory(flavor.protocol.Factory):
            def buildProtocol(self, addr):
                built.append(addr)

        d = endpoints.TCP4ClientEndpoint(flavor.reactor, "127.0.0.1", number).connect(
            Factory()
        )
        result = outcome(d)
        waited = []
        flavor.reactor.callLater(0.05, waited.append, True)
        run_until(flavor.reactor, lambda: waited)
        assert result == []
        d.cancel()
        assert result[0][0] == "failed"
        failure = result[0][1]
        assert failure.type is error.ConnectingCancelledError
        assert failure.value.address == flavor.address.IPv4Address(
            "TCP", "127.0.0.1", number
        )
        flavor.reactor.callLater(0.05, waited.append, True)
        run_until(flavor.reactor, lambda: len(waited) == 2)
    finally:
        filler.close()
        listener.close()
    assert built == []
    assert flavor.reactor.getDelayedCalls() == []


def test_cancel_at_once_on_open_port(flavor):
    """cancel() right after connect() on a listening port: the Deferred
    fails with ConnectingCancelledError and no connection is made."""
    endpoints, error, protocol = ep(flavor), flavor.error, flavor.protocol
    accepted = []

    class Server(protocol.Protocol):
        def connectionMade(self):
            accepted.append(True)

    port = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(Server), interface="127.0.0.1"
    )
    made = []
    Client = recording(flavor, made, "client")
    d = endpoints.TCP4ClientEndpoint(
        flavor.reactor, "127.0.0.1", port.getHost().port
    ).connect(protocol.Factory.forProtocol(Client))
    result = outcome(d)
    d.cancel()
    waited = []
    flavor.reactor.callLater(0.1, waited.append, True)
    run_until(flavor.reactor, lambda: waited)
    assert result[0][1].type is error.ConnectingCancelledError
    assert made == []
    stop_listening(flavor.reactor, port)


def test_cancel_after_connected_is_a_no_op(flavor):
    """Once connected, cancel() changes nothing: the result stays the protocol."""
    endpoints, protocol = ep(flavor), flavor.protocol
    port = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(protocol.Protocol), interface="127.0.0.1"
    )
    d = endpoints.TCP4ClientEndpoint(
        flavor.reactor, "127.0.0.1", port.getHost().port
    ).connect(protocol.Factory.forProtocol(protocol.Protocol))
    result = outcome(d)
    run_until(flavor.reactor, lambda: result)
    d.cancel()
    assert len(result) == 1 and result[0][0] == "ok"
    assert result[0][1].transport.connected
    result[0][1].transport.loseConnection()
    stop_listening(flavor.reactor, port)


@pytest.mark.parametrize("how", ["none", "raise"])
def test_build_protocol_none_or_raising_fails_the_deferred(flavor, how):
    """A factory whose buildProtocol returns None fails the Deferred with
    NoProtocol; one that raises fails it with that exception; in both cases
    the connection is closed and nothing is logged as unhandled."""
    endpoints, protocol, error = ep(flavor), flavor.protocol, flavor.error
    server_events = []

    class Server(protocol.Protocol):
        def connectionLost(self, reason):
            server_events.append(reason.type)

    class Refusing(protocol.Factory):
        def buildProtocol(self, addr):
            if how == "raise":
                raise ZeroDivisionError("no")
            return None

    port = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(Server), interface="127.0.0.1"
    )
    result = outcome(
        endpoints.TCP4ClientEndpoint(
            flavor.reactor, "127.0.0.1", port.getHost().port
        ).connect(Refusing())
    )
    run_until(flavor.reactor, lambda: result and server_events)
    expected = error.NoProtocol if how == "none" else ZeroDivisionError
    assert result[0][0] == "failed"
    assert result[0][1].type is expected
    assert server_events == [error.ConnectionDone]
    stop_listening(flavor.reactor, port)


def test_factory_start_and_stop_pass_through(flavor):
    """The user's factory gets doStart when connecting and doStop when the
    connection ends, through the wrapping factory."""
    endpoints, protocol = ep(flavor), flavor.protocol
    events = []

    class Factory(protocol.Factory):
        protocol = flavor.protocol.Protocol

        def startFactory(self):
            events.append("start")

        def stopFactory(self):
            events.append("stop")

    port = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(protocol.Protocol), interface="127.0.0.1"
    )
    factory = Factory()
    result = outcome(
        endpoints.TCP4ClientEndpoint(
            flavor.reactor, "127.0.0.1", port.getHost().port
        ).connect(factory)
    )
    assert events == ["start"]
    run_until(flavor.reactor, lambda: result)
    assert factory.numPorts == 1
    result[0][1].transport.loseConnection()
    run_until(flavor.reactor, lambda: len(events) == 2)
    assert events == ["start", "stop"]
    assert factory.numPorts == 0
    stop_listening(flavor.reactor, port)


def test_half_close_passes_through(flavor):
    """A wrapped protocol providing IHalfCloseableProtocol gets
    readConnectionLost when the server half-closes (and may still write),
    and writeConnectionLost when it half-closes its own side."""
    endpoints, protocol, interfaces = ep(flavor), flavor.protocol, flavor.interfaces
    events = []

    class Server(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"bye")
            self.transport.loseWriteConnection()

        def dataReceived(self, data):
            events.append(("server got", data))

        def connectionLost(self, reason):
            events.append(("server lost", reason.type))

    @implementer(interfaces.IHalfCloseableProtocol)
    class Client(protocol.Protocol):
        def dataReceived(self, data):
            events.append(("client got", data))

        def readConnectionLost(self):
            events.append("readConnectionLost")
            self.transport.write(b"last words")
            self.transport.loseWriteConnection()

        def writeConnectionLost(self):
            events.append("writeConnectionLost")
            self.transport.loseConnection()

        def connectionLost(self, reason):
            events.append(("client lost", reason.type))

    port = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(Server), interface="127.0.0.1"
    )
    result = outcome(
        endpoints.TCP4ClientEndpoint(
            flavor.reactor, "127.0.0.1", port.getHost().port
        ).connect(protocol.Factory.forProtocol(Client))
    )
    run_until(flavor.reactor, lambda: len(events) == 6)
    assert result[0][0] == "ok"
    assert events[:3] == [
        ("client got", b"bye"),
        "readConnectionLost",
        "writeConnectionLost",
    ]
    done = flavor.error.ConnectionDone
    assert sorted(events[3:], key=repr) == sorted(
        [("server got", b"last words"), ("server lost", done), ("client lost", done)],
        key=repr,
    )
    assert events.index(("server got", b"last words")) < events.index(
        ("server lost", done)
    )
    stop_listening(flavor.reactor, port)


def test_connect_protocol(flavor):
    """connectProtocol connects the given instance and fires with it."""
    endpoints, protocol = ep(flavor), flavor.protocol
    port = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(protocol.Protocol), interface="127.0.0.1"
    )
    mine = protocol.Protocol()
    result = outcome(
        endpoints.connectProtocol(
            endpoints.TCP4ClientEndpoint(
                flavor.reactor, "127.0.0.1", port.getHost().port
            ),
            mine,
        )
    )
    run_until(flavor.reactor, lambda: result)
    assert result == [("ok", mine)]
    assert mine.transport is not None and mine.connected
    mine.transport.loseConnection()
    stop_listening(flavor.reactor, port)


def _ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
def test_tcp6_endpoints(flavor):
    """TCP6ServerEndpoint listens on ::1, TCP6ClientEndpoint connects to the
    literal, and to a name resolved to ::1 (resolution hook replaced)."""
    endpoints, protocol, defer = ep(flavor), flavor.protocol, flavor.defer
    server = endpoints.TCP6ServerEndpoint(flavor.reactor, 0, interface="::1")
    port = outcome(server.listen(protocol.Factory.forProtocol(protocol.Protocol)))[0][1]
    assert port.getHost().host == "::1"
    number = port.getHost().port
    result = outcome(
        endpoints.TCP6ClientEndpoint(flavor.reactor, "::1", number).connect(
            protocol.Factory.forProtocol(protocol.Protocol)
        )
    )
    run_until(flavor.reactor, lambda: result)
    assert result[0][1].transport.getPeer().host == "::1"
    result[0][1].transport.loseConnection()

    lookups = []

    def fakeDeferToThread(f, *args):
        lookups.append(args)
        return defer.succeed(
            [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", 0, 0, 0))]
        )

    named = endpoints.TCP6ClientEndpoint(flavor.reactor, "ip6-name", number)
    named._deferToThread = fakeDeferToThread
    result = outcome(named.connect(protocol.Factory.forProtocol(protocol.Protocol)))
    run_until(flavor.reactor, lambda: result)
    assert lookups == [("ip6-name", 0, socket.AF_INET6)]
    assert result[0][1].transport.getPeer().host == "::1"
    result[0][1].transport.loseConnection()
    stop_listening(flavor.reactor, port)


# HostnameEndpoint over real sockets, with a resolver that answers at once.


def fixed_resolver(flavor, addresses, names):
    """An IHostnameResolver that reports ``addresses`` (host strings) for
    any name, synchronously, and records the names asked."""
    address = flavor.address

    @implementer(flavor.interfaces.IHostnameResolver)
    class Fixed:
        def resolveHostName(
            self,
            receiver,
            hostName,
            portNumber=0,
            addressTypes=None,
            transportSemantics="TCP",
        ):
            names.append((hostName, portNumber))
            receiver.resolutionBegan(None)
            for host in addresses:
                cls = address.IPv6Address if ":" in host else address.IPv4Address
                receiver.addressResolved(cls("TCP", host, portNumber))
            receiver.resolutionComplete()

    return Fixed()


def test_hostname_endpoint_skips_refused_address(flavor):
    """The first address refuses, the next is tried after attemptDelay and
    wins; no timer is left behind."""
    endpoints, protocol = ep(flavor), flavor.protocol
    port = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(protocol.Protocol), interface="127.0.0.1"
    )
    number = port.getHost().port
    names = []
    flavor.reactor.installNameResolver(
        fixed_resolver(flavor, ["127.0.0.2", "127.0.0.1"], names)
    )
    endpoint = endpoints.HostnameEndpoint(
        flavor.reactor, "example.test", number, attemptDelay=0.05
    )
    result = outcome(endpoint.connect(protocol.Factory.forProtocol(protocol.Protocol)))
    run_until(flavor.reactor, lambda: result)
    assert names == [("example.test", number)]
    assert result[0][0] == "ok"
    peer = result[0][1].transport.getPeer()
    assert (peer.host, peer.port) == ("127.0.0.1", number)
    assert [c for c in flavor.reactor.getDelayedCalls() if c.active()] == []
    result[0][1].transport.loseConnection()
    stop_listening(flavor.reactor, port)


def test_hostname_endpoint_all_refused_reports_last_failure(flavor):
    """Every address refuses: the Deferred fails with the last attempt's
    failure (ConnectionRefusedError)."""
    endpoints = ep(flavor)
    names = []
    flavor.reactor.installNameResolver(
        fixed_resolver(flavor, ["127.0.0.2", "127.0.0.3"], names)
    )
    endpoint = endpoints.HostnameEndpoint(
        flavor.reactor, "example.test", refused_port(), attemptDelay=0.02
    )
    result = outcome(
        endpoint.connect(flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol))
    )
    run_until(flavor.reactor, lambda: result)
    assert result[0][1].type is flavor.error.ConnectionRefusedError
    assert result[0][1].getErrorMessage() == (
        "Connection was refused by other side: 111: Connection refused."
    )
    assert [c for c in flavor.reactor.getDelayedCalls() if c.active()] == []


def test_hostname_endpoint_no_addresses_is_dns_lookup_error(flavor):
    """A name with no address: DNSLookupError naming it."""
    endpoints = ep(flavor)
    flavor.reactor.installNameResolver(fixed_resolver(flavor, [], []))
    endpoint = endpoints.HostnameEndpoint(flavor.reactor, "nowhere.test", 80)
    result = outcome(
        endpoint.connect(flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol))
    )
    assert result[0][1].type is flavor.error.DNSLookupError
    assert str(result[0][1].value) == (
        "DNS lookup failed: no results for hostname lookup: nowhere.test."
    )


def test_hostname_endpoint_localhost_with_the_real_resolver(flavor):
    """With the reactor's own resolver, "localhost" reaches a server on
    127.0.0.1 (whatever order the addresses come in)."""
    endpoints, protocol = ep(flavor), flavor.protocol
    port = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(protocol.Protocol), interface="127.0.0.1"
    )
    endpoint = endpoints.HostnameEndpoint(
        flavor.reactor, "localhost", port.getHost().port, attemptDelay=0.05
    )
    result = outcome(endpoint.connect(protocol.Factory.forProtocol(protocol.Protocol)))
    run_until(flavor.reactor, lambda: result)
    assert result[0][0] == "ok", result[0][1]
    assert result[0][1].transport.getPeer().host == "127.0.0.1"
    result[0][1].transport.loseConnection()
    stop_listening(flavor.reactor, port)


def test_hostname_endpoint_cancel_while_attempting(flavor):
    """cancel() while an attempt hangs: ConnectingCancelledError with the
    HostnameAddress; the pending attempt and the attempt timer are dropped."""
    endpoints, error = ep(flavor), flavor.error
    listener, filler, number = full_listener()
    try:
        flavor.reactor.installNameResolver(fixed_resolver(flavor, ["127.0.0.1"], []))
        endpoint = endpoints.HostnameEndpoint(flavor.reactor, b"hang.test", number)
        built = []

        class Factory(flavor.protocol.Factory):
            def buildProtocol(self, addr):
                built.append(addr)

        d = endpoint.connect(Factory())
        result = outcome(d)
        waited = []
        flavor.reactor.callLater(0.05, waited.append, True)
        run_until(flavor.reactor, lambda: waited)
        assert result == []
        d.cancel()
        assert result[0][1].type is error.ConnectingCancelledError
        assert result[0][1].value.address == flavor.address.HostnameAddress(
            b"hang.test", number
        )
        assert [c for c in flavor.reactor.getDelayedCalls() if c.active()] == []
    finally:
        filler.close()
        listener.close()
    assert built == []


def test_hostname_endpoint_second_address_wins_over_a_hanging_one(flavor):
    """The first address hangs (full backlog), the second (started
    attemptDelay later) connects and wins; the hanging attempt is cancelled
    and its timeout timer removed."""
    endpoints, protocol = ep(flavor), flavor.protocol
    listener, filler, number = full_listener()
    try:
        server = flavor.reactor.listenTCP(
            number,
            protocol.Factory.forProtocol(protocol.Protocol),
            interface="127.0.0.2",
        )
        flavor.reactor.installNameResolver(
            fixed_resolver(flavor, ["127.0.0.1", "127.0.0.2"], [])
        )
        endpoint = endpoints.HostnameEndpoint(
            flavor.reactor, "race.test", number, attemptDelay=0.05
        )
        started = flavor.reactor.seconds()
        result = outcome(
            endpoint.connect(protocol.Factory.forProtocol(protocol.Protocol))
        )
        run_until(flavor.reactor, lambda: result)
        elapsed = flavor.reactor.seconds() - started
        assert result[0][0] == "ok"
        assert result[0][1].transport.getPeer().host == "127.0.0.2"
        assert 0.04 <= elapsed < 3
        assert [c for c in flavor.reactor.getDelayedCalls() if c.active()] == []
        result[0][1].transport.loseConnection()
        stop_listening(flavor.reactor, server)
    finally:
        filler.close()
        listener.close()


def test_unresolvable_host_is_dns_lookup_error(flavor):
    """TCP4ClientEndpoint to a name that does not resolve: DNSLookupError."""
    endpoints = ep(flavor)
    result = outcome(
        endpoints.TCP4ClientEndpoint(flavor.reactor, "nonexistent.invalid", 80).connect(
            flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
        )
    )
    run_until(flavor.reactor, lambda: result)
    assert result[0][1].type is flavor.error.DNSLookupError
