"""listenTCP over real loopback sockets: ports, addresses, errors, the
factory's start/stop calls and refused or failed protocol construction.

Most scenarios run on torsion and on Twisted's EPollReactor (``flavor``)
and assert the same observable results."""

import contextlib
import errno
import logging
import socket

import pytest


def spin(reactor, done, timeout=10.0):
    """Run ``reactor`` until ``done()`` is true (fail after ``timeout``
    seconds); crash() rather than stop() so the test may run it again."""
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


def stop_listening(reactor, port):
    """Stop ``port`` and run until its Deferred fired; returns the result."""
    results = []
    port.stopListening().addBoth(results.append)
    spin(reactor, lambda: results)
    return results[0]


def _ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _ipv6_available(), reason="no IPv6 loopback")


@contextlib.contextmanager
def logged_failures(flavor):
    """Collect the Failures logged (log.err and Logger.failure) while the
    block runs, from the flavor's own global log publisher."""
    if flavor.name == "torsion":
        from torsion.logger import globalLogPublisher
    else:
        from twisted.logger import globalLogPublisher
    failures = []

    def observe(event):
        f = event.get("log_failure")
        if f is None and event.get("isError"):
            f = event.get("failure")
        if f is not None:
            failures.append(f)

    globalLogPublisher.addObserver(observe)
    try:
        yield failures
    finally:
        globalLogPublisher.removeObserver(observe)


def _unhandled(caplog):
    return [
        r
        for r in caplog.records
        if r.name == "torsion"
        and r.levelno == logging.CRITICAL
        and r.getMessage().startswith("Unhandled Error")
    ]


def test_port_zero_picks_a_free_port(flavor):
    """Port 0 listens on a port the kernel chose, reported by getHost()."""
    port = flavor.reactor.listenTCP(
        0,
        flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol),
        interface="127.0.0.1",
    )
    host = port.getHost()
    assert type(host) is flavor.address.IPv4Address
    assert host.type == "TCP"
    assert host.host == "127.0.0.1"
    assert 0 < host.port < 65536
    assert host == flavor.address.IPv4Address("TCP", "127.0.0.1", host.port)
    assert flavor.interfaces.IListeningPort.providedBy(port)
    probe = socket.create_connection(("127.0.0.1", host.port), timeout=5)
    probe.close()
    stop_listening(flavor.reactor, port)


def test_two_ports_get_different_numbers(flavor):
    """Two listeners on port 0 get two distinct ports."""
    factory = flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    a = flavor.reactor.listenTCP(0, factory, interface="127.0.0.1")
    b = flavor.reactor.listenTCP(0, factory, interface="127.0.0.1")
    assert a.getHost().port != b.getHost().port
    stop_listening(flavor.reactor, a)
    stop_listening(flavor.reactor, b)


def test_default_interface_listens_on_all_ipv4(flavor):
    """The default interface '' reports 0.0.0.0 and accepts on loopback."""
    port = flavor.reactor.listenTCP(
        0, flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    )
    host = port.getHost()
    assert (type(host), host.host) == (flavor.address.IPv4Address, "0.0.0.0")
    probe = socket.create_connection(("127.0.0.1", host.port), timeout=5)
    probe.close()
    stop_listening(flavor.reactor, port)


@needs_ipv6
def test_ipv6_interface(flavor):
    """Listening on '::1' gives IPv6Address objects for the port and both
    ends of an accepted connection."""
    protocol, address = flavor.protocol, flavor.address
    seen = {}

    class Server(protocol.Protocol):
        def connectionMade(self):
            seen["server host"] = self.transport.getHost()
            seen["server peer"] = self.transport.getPeer()

    class Client(protocol.Protocol):
        def connectionMade(self):
            seen["client peer"] = self.transport.getPeer()
            seen["client host"] = self.transport.getHost()

    port = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(Server), interface="::1"
    )
    number = port.getHost().port
    assert port.getHost() == address.IPv6Address("TCP", "::1", number)
    connector = flavor.reactor.connectTCP(
        "::1", number, protocol.ClientFactory.forProtocol(Client)
    )
    assert connector.getDestination() == address.IPv6Address("TCP", "::1", number)
    spin(flavor.reactor, lambda: len(seen) == 4)
    assert seen["server host"] == address.IPv6Address("TCP", "::1", number)
    assert seen["client peer"] == address.IPv6Address("TCP", "::1", number)
    client_port = seen["client host"].port
    assert seen["server peer"] == address.IPv6Address("TCP", "::1", client_port)
    assert seen["client host"] == address.IPv6Address("TCP", "::1", client_port)
    stop_listening(flavor.reactor, port)


def test_cannot_listen_on_a_taken_port(flavor):
    """A port another socket listens on raises CannotListenError carrying the
    interface, the port and the OS error (EADDRINUSE)."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    number = taken.getsockname()[1]
    try:
        with pytest.raises(flavor.error.CannotListenError) as info:
            flavor.reactor.listenTCP(
                number,
                flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol),
                interface="127.0.0.1",
            )
    finally:
        taken.close()
    e = info.value
    assert (e.interface, e.port) == ("127.0.0.1", number)
    assert isinstance(e.socketError, OSError)
    assert e.socketError.errno == errno.EADDRINUSE
    assert str(e) == (f"Couldn't listen on 127.0.0.1:{number}: {e.socketError}.")


def test_cannot_listen_message_matches_twisted():
    """CannotListenError's text for the same taken port is identical."""
    from torsion.internet._reactor import TorsionReactor
    from torsion.internet.error import CannotListenError
    from torsion.internet.protocol import Factory
    from twisted.internet.epollreactor import EPollReactor
    from twisted.internet.error import CannotListenError as TwistedError
    from twisted.internet.protocol import Factory as TwistedFactory

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    number = taken.getsockname()[1]
    try:
        with pytest.raises(CannotListenError) as ours:
            TorsionReactor().listenTCP(number, Factory(), interface="127.0.0.1")
        with pytest.raises(TwistedError) as theirs:
            EPollReactor().listenTCP(number, TwistedFactory(), interface="127.0.0.1")
    finally:
        taken.close()
    assert str(ours.value) == str(theirs.value)
    assert ours.value.socketError.args == theirs.value.socketError.args


def test_stop_listening_fires_and_refuses_new_connections(flavor):
    """stopListening() returns a Deferred firing with None once the socket is
    closed; connecting afterwards is refused."""
    port = flavor.reactor.listenTCP(
        0,
        flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol),
        interface="127.0.0.1",
    )
    number = port.getHost().port
    d = port.stopListening()
    assert isinstance(d, flavor.defer.Deferred)
    results = []
    d.addBoth(results.append)
    assert results == []
    spin(flavor.reactor, lambda: results)
    assert results == [None]
    assert port.connected is False
    probe = socket.socket()
    try:
        with pytest.raises(ConnectionRefusedError):
            probe.connect(("127.0.0.1", number))
    finally:
        probe.close()


def test_factory_start_and_stop_wrap_first_start_and_last_stop(flavor):
    """One factory on two ports: startFactory at the first listen only,
    stopFactory after the last port stopped only; numPorts counts."""
    events = []

    class Counting(flavor.protocol.Factory):
        def startFactory(self):
            events.append(("start", self.numPorts))

        def stopFactory(self):
            events.append(("stop", self.numPorts))

    factory = Counting()
    a = flavor.reactor.listenTCP(0, factory, interface="127.0.0.1")
    b = flavor.reactor.listenTCP(0, factory, interface="127.0.0.1")
    assert events == [("start", 0)]
    assert factory.numPorts == 2
    fired = []
    a.stopListening().addCallback(fired.append)
    spin(flavor.reactor, lambda: fired)
    assert events == [("start", 0)]
    assert factory.numPorts == 1
    b.stopListening().addCallback(fired.append)
    spin(flavor.reactor, lambda: len(fired) == 2)
    assert events == [("start", 0), ("stop", 0)]
    assert factory.numPorts == 0


def test_build_protocol_returning_none_refuses(flavor):
    """A factory whose buildProtocol returns None: the client connects, then
    sees the connection closed cleanly; the server asked once."""
    protocol, error = flavor.protocol, flavor.error
    asked = []
    events = []

    class Refusing(protocol.Factory):
        def buildProtocol(self, addr):
            asked.append(addr.host)
            return None

    class Client(protocol.Protocol):
        def connectionMade(self):
            events.append("made")

        def dataReceived(self, data):
            events.append(data)

        def connectionLost(self, reason):
            events.append(reason.type)

    port = flavor.reactor.listenTCP(0, Refusing(), interface="127.0.0.1")
    flavor.reactor.connectTCP(
        "127.0.0.1", port.getHost().port, protocol.ClientFactory.forProtocol(Client)
    )
    spin(flavor.reactor, lambda: len(events) == 2)
    assert asked == ["127.0.0.1"]
    assert events == ["made", error.ConnectionDone]
    stop_listening(flavor.reactor, port)


def test_build_protocol_none_plain_socket_sees_eof(reactor):
    """With buildProtocol returning None the accepted socket is closed: a
    blocking client reads EOF promptly."""
    from torsion.internet.protocol import Factory

    class Refusing(Factory):
        def buildProtocol(self, addr):
            return None

    port = reactor.listenTCP(0, Refusing(), interface="127.0.0.1")
    client = socket.create_connection(("127.0.0.1", port.getHost().port), timeout=5)
    got = []
    reactor.callLater(0.05, lambda: got.append(client.recv(10)))
    spin(reactor, lambda: got)
    client.close()
    assert got == [b""]
    stop_listening(reactor, port)


def _record_text(record):
    text = record.getMessage()
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    return text


def _broken_factory_scenario(reactor, caplog):
    """Connect twice to a port whose factory raises the first time; returns
    (client events, buildProtocol calls, Unhandled Error records)."""
    from torsion.internet.error import ConnectionDone
    from torsion.internet.protocol import ClientFactory, Factory, Protocol

    calls = []
    events = []

    class Broken(Factory):
        def buildProtocol(self, addr):
            calls.append(addr.port)
            if len(calls) == 1:
                raise ZeroDivisionError("no protocol for you")
            return Protocol()

    class Client(Protocol):
        def connectionMade(self):
            events.append("made")

        def connectionLost(self, reason):
            events.append(reason.type)

    port = reactor.listenTCP(0, Broken(), interface="127.0.0.1")
    number = port.getHost().port
    clients = ClientFactory.forProtocol(Client)
    reactor.connectTCP("127.0.0.1", number, clients)
    with caplog.at_level(logging.INFO, logger="torsion"):
        spin(reactor, lambda: len(events) == 2)
    assert events == ["made", ConnectionDone]
    records = _unhandled(caplog)
    reactor.connectTCP("127.0.0.1", number, clients)
    spin(reactor, lambda: len(calls) == 2 and len(events) == 3)
    stop_listening(reactor, port)
    return events, calls, records


def test_build_protocol_raising_is_logged_and_socket_closed(reactor, caplog):
    """buildProtocol raising: logged once as an Unhandled Error, the accepted
    socket closed at once (the client sees ConnectionDone) and the port
    keeps accepting.  (Twisted leaves the socket to the garbage collector,
    and its log buffer keeps the traceback alive, so its client hangs:
    torsion deliberately closes.)"""
    events, calls, records = _broken_factory_scenario(reactor, caplog)
    assert events[2] == "made"
    assert len(calls) == 2
    assert len(records) == 1
    assert "ZeroDivisionError: no protocol for you" in _record_text(records[0])


def test_build_protocol_raising_logs_the_traceback(reactor, caplog):
    """The logged Unhandled Error carries the traceback through buildProtocol."""
    _, _, records = _broken_factory_scenario(reactor, caplog)
    assert len(records) == 1
    text = _record_text(records[0])
    assert "in buildProtocol" in text
    assert 'raise ZeroDivisionError("no protocol for you")' in text


def test_accepted_connection_addresses(flavor):
    """The server's transport reports the listening address as its host and
    the client's address as its peer, and both ends agree."""
    protocol, address = flavor.protocol, flavor.address
    seen = {}

    class Server(protocol.Protocol):
        def connectionMade(self):
            seen["server"] = (self.transport.getHost(), self.transport.getPeer())

    class Client(protocol.Protocol):
        def connectionMade(self):
            seen["client"] = (self.transport.getHost(), self.transport.getPeer())

    port = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(Server), interface="127.0.0.1"
    )
    number = port.getHost().port
    flavor.reactor.connectTCP(
        "127.0.0.1", number, protocol.ClientFactory.forProtocol(Client)
    )
    spin(flavor.reactor, lambda: len(seen) == 2)
    server_host, server_peer = seen["server"]
    client_host, client_peer = seen["client"]
    assert server_host == address.IPv4Address("TCP", "127.0.0.1", number)
    assert client_peer == server_host
    assert server_peer == client_host
    assert type(server_peer) is address.IPv4Address
    assert server_peer.host == "127.0.0.1"
    assert server_peer.port != number
    stop_listening(flavor.reactor, port)


def test_server_transport_repr_kept_after_close(flavor):
    """An accepted transport's repr names its protocol class, session number
    and port, and keeps doing so after the connection and port closed."""
    reactor = flavor.reactor
    transports = []

    class Kept(flavor.protocol.Protocol):
        def connectionMade(self):
            transports.append(self.transport)

    port = reactor.listenTCP(
        0, flavor.protocol.Factory.forProtocol(Kept), interface="127.0.0.1"
    )
    number = port.getHost().port
    clients = [socket.create_connection(("127.0.0.1", number)) for _ in range(2)]
    try:
        spin(reactor, lambda: len(transports) == 2)
        before = [repr(t) for t in transports]
        for t in transports:
            t.loseConnection()
        stop_listening(reactor, port)
        spin(reactor, lambda: all(not t.connected for t in transports))
    finally:
        for c in clients:
            c.close()
    assert before == [f"<Kept #0 on {number}>", f"<Kept #1 on {number}>"]
    assert [repr(t) for t in transports] == before
