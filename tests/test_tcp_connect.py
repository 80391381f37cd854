"""connectTCP over real loopback sockets: the IConnector, the client
factory's callbacks in order, refused / timed out / unresolvable / stopped
attempts, reconnecting and bindAddress.

Scenarios run on torsion and on Twisted's EPollReactor (``flavor``) and
assert the same observable results."""

import socket
import types

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
    """Stop ``port`` and run until its Deferred fired."""
    results = []
    port.stopListening().addBoth(results.append)
    spin(reactor, lambda: results)


def recording_factory(flavor, events, protocol_class=None):
    """A ClientFactory that appends every callback (with the connector's
    state at that moment) to ``events``."""
    base = flavor.protocol

    class Recording(base.ClientFactory):
        protocol = protocol_class or base.Protocol

        def startFactory(self):
            events.append("startFactory")

        def stopFactory(self):
            events.append("stopFactory")

        def startedConnecting(self, connector):
            events.append(("startedConnecting", connector.state))

        def buildProtocol(self, addr):
            events.append(("buildProtocol", type(addr).__name__, addr.host, addr.port))
            return base.ClientFactory.buildProtocol(self, addr)

        def clientConnectionFailed(self, connector, reason):
            events.append(("failed", connector.state, reason.type, str(reason.value)))

        def clientConnectionLost(self, connector, reason):
            events.append(("lost", connector.state, reason.type))

    return Recording()


def unused_port():
    """A socket bound (not listening) to a loopback port: connecting to that
    port is refused while the socket is open."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s


def test_connector_interface_and_callback_order(flavor):
    """IConnector, getDestination(), and the factory's callbacks in Twisted's
    order with the connector's state at each: started, connecting, built
    with the peer address, connected, lost, stopped."""
    protocol, error, address = flavor.protocol, flavor.error, flavor.address
    events = []

    class Client(protocol.Protocol):
        def connectionMade(self):
            events.append(("connectionMade", connector.state))
            self.transport.loseConnection()

    server = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(protocol.Protocol), interface="127.0.0.1"
    )
    number = server.getHost().port
    connector = flavor.reactor.connectTCP(
        "127.0.0.1", number, recording_factory(flavor, events, Client)
    )
    assert flavor.interfaces.IConnector.providedBy(connector)
    assert connector.state == "connecting"
    assert connector.getDestination() == address.IPv4Address("TCP", "127.0.0.1", number)
    assert events == ["startFactory", ("startedConnecting", "connecting")]
    spin(flavor.reactor, lambda: "stopFactory" in events)
    assert events == [
        "startFactory",
        ("startedConnecting", "connecting"),
        ("buildProtocol", "IPv4Address", "127.0.0.1", number),
        ("connectionMade", "connected"),
        ("lost", "disconnected", error.ConnectionDone),
        "stopFactory",
    ]
    assert connector.state == "disconnected"
    stop_listening(flavor.reactor, server)


def test_connection_refused(flavor):
    """A closed port: clientConnectionFailed with ConnectionRefusedError, no
    protocol built, then the factory stops."""
    error = flavor.error
    events = []
    closed = unused_port()
    number = closed.getsockname()[1]
    try:
        connector = flavor.reactor.connectTCP(
            "127.0.0.1", number, recording_factory(flavor, events)
        )
        spin(flavor.reactor, lambda: "stopFactory" in events)
    finally:
        closed.close()
    assert events == [
        "startFactory",
        ("startedConnecting", "connecting"),
        (
            "failed",
            "disconnected",
            error.ConnectionRefusedError,
            "Connection was refused by other side: 111: Connection refused.",
        ),
        "stopFactory",
    ]
    assert connector.state == "disconnected"


def test_connect_timeout(flavor):
    """A listener whose backlog is full drops the SYN: the attempt times out
    with TimeoutError after ``timeout`` seconds."""
    error = flavor.error
    events = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    number = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", number), timeout=5)
    try:
        flavor.reactor.connectTCP(
            "127.0.0.1", number, recording_factory(flavor, events), timeout=0.3
        )
        started = flavor.reactor.seconds()
        spin(flavor.reactor, lambda: "stopFactory" in events)
        elapsed = flavor.reactor.seconds() - started
    finally:
        filler.close()
        listener.close()
    assert events == [
        "startFactory",
        ("startedConnecting", "connecting"),
        (
            "failed",
            "disconnected",
            error.TimeoutError,
            "User timeout caused connection failure.",
        ),
        "stopFactory",
    ]
    assert 0.25 <= elapsed < 3


def test_stop_connecting(flavor):
    """stopConnecting() before the connection is made fails the attempt with
    UserError; a second call raises NotConnectingError."""
    error = flavor.error
    events = []
    server = flavor.reactor.listenTCP(
        0,
        flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol),
        interface="127.0.0.1",
    )
    connector = flavor.reactor.connectTCP(
        "127.0.0.1", server.getHost().port, recording_factory(flavor, events)
    )
    connector.stopConnecting()
    assert connector.state == "disconnected"
    with pytest.raises(error.NotConnectingError):
        connector.stopConnecting()
    spin(flavor.reactor, lambda: "stopFactory" in events)
    # Give a late connect completion the chance to show up.
    waited = []
    flavor.reactor.callLater(0.1, waited.append, True)
    spin(flavor.reactor, lambda: waited)
    assert events == [
        "startFactory",
        ("startedConnecting", "connecting"),
        (
            "failed",
            "disconnected",
            error.UserError,
            "User aborted connection.",
        ),
        "stopFactory",
    ]
    stop_listening(flavor.reactor, server)


def test_disconnect_while_connecting_and_connected(flavor):
    """disconnect() while connecting is stopConnecting (UserError); while
    connected it closes the connection (ConnectionDone)."""
    protocol, error = flavor.protocol, flavor.error
    events = []
    server = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(protocol.Protocol), interface="127.0.0.1"
    )
    number = server.getHost().port
    first = flavor.reactor.connectTCP(
        "127.0.0.1", number, recording_factory(flavor, events)
    )
    first.disconnect()
    spin(flavor.reactor, lambda: "stopFactory" in events)
    assert events[2][:3] == ("failed", "disconnected", error.UserError)

    events.clear()
    made = []

    class Client(protocol.Protocol):
        def connectionMade(self):
            made.append(True)

    second = flavor.reactor.connectTCP(
        "127.0.0.1", number, recording_factory(flavor, events, Client)
    )
    spin(flavor.reactor, lambda: made)
    assert second.state == "connected"
    second.disconnect()
    spin(flavor.reactor, lambda: "stopFactory" in events)
    assert events[-2:] == [
        ("lost", "disconnected", error.ConnectionDone),
        "stopFactory",
    ]
    stop_listening(flavor.reactor, server)


def _unresolvable_events(flavor):
    events = []
    connector = flavor.reactor.connectTCP(
        "nonexistent.invalid", 80, recording_factory(flavor, events)
    )
    assert connector.getDestination().host == "nonexistent.invalid"
    spin(flavor.reactor, lambda: "stopFactory" in events)
    return events


def test_unresolvable_host(flavor):
    """A name that cannot resolve fails with DNSLookupError."""
    events = _unresolvable_events(flavor)
    assert events[:2] == ["startFactory", ("startedConnecting", "connecting")]
    assert events[3:] == ["stopFactory"]
    assert events[2][:3] == ("failed", "disconnected", flavor.error.DNSLookupError)


def test_unresolvable_host_message_matches_twisted(reactor):
    """The DNSLookupError text is Twisted's default resolver's, word for word
    (checked on Twisted by test_unresolvable_host_message_on_twisted)."""
    from torsion.internet import protocol

    ns = types.SimpleNamespace(reactor=reactor, protocol=protocol)
    events = _unresolvable_events(ns)
    assert events[2][3] == "DNS lookup failed: nonexistent.invalid."


def test_unresolvable_host_message_on_twisted():
    """Pins Twisted's text that the torsion test above expects."""
    from twisted.internet import protocol
    from twisted.internet.epollreactor import EPollReactor

    reactor = EPollReactor()
    ns = types.SimpleNamespace(reactor=reactor, protocol=protocol)
    try:
        events = _unresolvable_events(ns)
    finally:
        reactor.threadpool.stop()
    assert events[2][3] == "DNS lookup failed: nonexistent.invalid."


def test_client_connection_lost_when_server_closes(flavor):
    """The server closing: the client's connectionLost and the factory's
    clientConnectionLost both get ConnectionDone."""
    protocol, error = flavor.protocol, flavor.error
    events = []

    class Closing(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"bye")
            self.transport.loseConnection()

    class Client(protocol.Protocol):
        def dataReceived(self, data):
            events.append(("data", data))

        def connectionLost(self, reason):
            events.append(("connectionLost", reason.type))

    server = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(Closing), interface="127.0.0.1"
    )
    flavor.reactor.connectTCP(
        "127.0.0.1", server.getHost().port, recording_factory(flavor, events, Client)
    )
    spin(flavor.reactor, lambda: "stopFactory" in events)
    assert events[3:] == [
        ("data", b"bye"),
        ("connectionLost", error.ConnectionDone),
        ("lost", "disconnected", error.ConnectionDone),
        "stopFactory",
    ]
    stop_listening(flavor.reactor, server)


def test_reconnect_from_client_connection_lost(flavor):
    """connector.connect() from clientConnectionLost reconnects; the factory
    is started once and stopped once, after the last connection."""
    protocol, error = flavor.protocol, flavor.error
    accepted = []
    events = []

    class Closing(protocol.Protocol):
        def connectionMade(self):
            accepted.append(self.transport.getPeer().port)
            self.transport.loseConnection()

    class Again(flavor.protocol.ClientFactory):
        protocol = flavor.protocol.Protocol

        def startFactory(self):
            events.append("startFactory")

        def stopFactory(self):
            events.append("stopFactory")

        def clientConnectionLost(self, connector, reason):
            events.append(("lost", reason.type))
            if len(accepted) < 3:
                connector.connect()
                events.append(("reconnecting", connector.state))

    server = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(Closing), interface="127.0.0.1"
    )
    flavor.reactor.connectTCP("127.0.0.1", server.getHost().port, Again())
    spin(flavor.reactor, lambda: "stopFactory" in events)
    assert len(accepted) == 3
    assert len(set(accepted)) == 3
    assert events == [
        "startFactory",
        ("lost", error.ConnectionDone),
        ("reconnecting", "connecting"),
        ("lost", error.ConnectionDone),
        ("reconnecting", "connecting"),
        ("lost", error.ConnectionDone),
        "stopFactory",
    ]
    stop_listening(flavor.reactor, server)


def test_reconnect_from_client_connection_failed(flavor):
    """connector.connect() from clientConnectionFailed retries; the factory
    stops only after the last failure."""
    protocol, error = flavor.protocol, flavor.error
    events = []

    class Retry(protocol.ClientFactory):
        def startFactory(self):
            events.append("startFactory")

        def stopFactory(self):
            events.append("stopFactory")

        def clientConnectionFailed(self, connector, reason):
            events.append(("failed", reason.type))
            if len(events) < 4:
                connector.connect()

    closed = unused_port()
    try:
        flavor.reactor.connectTCP("127.0.0.1", closed.getsockname()[1], Retry())
        spin(flavor.reactor, lambda: "stopFactory" in events)
    finally:
        closed.close()
    assert events == [
        "startFactory",
        ("failed", error.ConnectionRefusedError),
        ("failed", error.ConnectionRefusedError),
        ("failed", error.ConnectionRefusedError),
        "stopFactory",
    ]


def test_connect_in_wrong_state_raises(flavor):
    """connect() on a connector that is already connecting raises
    RuntimeError."""
    server = flavor.reactor.listenTCP(
        0,
        flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol),
        interface="127.0.0.1",
    )
    events = []
    connector = flavor.reactor.connectTCP(
        "127.0.0.1", server.getHost().port, recording_factory(flavor, events)
    )
    with pytest.raises(RuntimeError) as info:
        connector.connect()
    assert str(info.value) == "can't connect in this state"
    connector.stopConnecting()
    spin(flavor.reactor, lambda: "stopFactory" in events)
    stop_listening(flavor.reactor, server)


def test_bind_address(flavor):
    """bindAddress sets the client's local address: the server sees that
    port as the peer, the client as its host."""
    protocol = flavor.protocol
    seen = {}
    reserve = socket.socket()
    reserve.bind(("127.0.0.1", 0))
    local = reserve.getsockname()[1]
    reserve.close()

    class Server(protocol.Protocol):
        def connectionMade(self):
            seen["server peer"] = self.transport.getPeer()

    class Client(protocol.Protocol):
        def connectionMade(self):
            seen["client host"] = self.transport.getHost()

    server = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(Server), interface="127.0.0.1"
    )
    flavor.reactor.connectTCP(
        "127.0.0.1",
        server.getHost().port,
        protocol.ClientFactory.forProtocol(Client),
        bindAddress=("127.0.0.1", local),
    )
    spin(flavor.reactor, lambda: len(seen) == 2)
    expected = flavor.address.IPv4Address("TCP", "127.0.0.1", local)
    assert seen == {"server peer": expected, "client host": expected}
    stop_listening(flavor.reactor, server)


def test_bind_address_in_use_fails_the_attempt(reactor):
    """A bindAddress already in use fails the attempt through
    clientConnectionFailed with Twisted's ConnectBindError, and the socket is
    closed.  (Twisted's own client leaks its socket here, so this runs on
    torsion only.)"""
    from torsion.internet import error, protocol
    from torsion.internet.protocol import Factory, Protocol

    ns = types.SimpleNamespace(reactor=reactor, protocol=protocol)
    events = []
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    server = reactor.listenTCP(0, Factory.forProtocol(Protocol), interface="127.0.0.1")
    try:
        reactor.connectTCP(
            "127.0.0.1",
            server.getHost().port,
            recording_factory(ns, events),
            bindAddress=busy.getsockname(),
        )
        spin(reactor, lambda: "stopFactory" in events)
    finally:
        busy.close()
    assert events[2] == (
        "failed",
        "disconnected",
        error.ConnectBindError,
        "Couldn't bind: 98: Address already in use.",
    )
    stop_listening(reactor, server)


def test_client_build_protocol_none_closes(flavor):
    """A client factory returning None from buildProtocol: the connection is
    closed and clientConnectionLost gets ConnectionDone; the server sees
    the connection end cleanly."""
    protocol, error = flavor.protocol, flavor.error
    events = []
    server_events = []

    class Server(protocol.Protocol):
        def connectionLost(self, reason):
            server_events.append(reason.type)

    class Nothing(protocol.ClientFactory):
        def buildProtocol(self, addr):
            events.append("buildProtocol")
            return None

        def clientConnectionLost(self, connector, reason):
            events.append(("lost", reason.type))

    server = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(Server), interface="127.0.0.1"
    )
    flavor.reactor.connectTCP("127.0.0.1", server.getHost().port, Nothing())
    spin(flavor.reactor, lambda: len(events) == 2 and server_events)
    assert events == ["buildProtocol", ("lost", error.ConnectionDone)]
    assert server_events == [error.ConnectionDone]
    stop_listening(flavor.reactor, server)


def test_stop_connecting_while_the_socket_is_connecting(flavor):
    """stopConnecting() while the connect() is in flight (the listener's
    backlog is full, so it hangs) fails it with UserError at once; nothing
    else is reported later."""
    error = flavor.error
    events = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    number = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", number), timeout=5)
    try:
        connector = flavor.reactor.connectTCP(
            "127.0.0.1", number, recording_factory(flavor, events), timeout=1
        )
        flavor.reactor.callLater(0.2, connector.stopConnecting)
        spin(flavor.reactor, lambda: "stopFactory" in events)
        waited = []
        flavor.reactor.callLater(1.2, waited.append, True)
        spin(flavor.reactor, lambda: waited)
    finally:
        filler.close()
        listener.close()
    assert events == [
        "startFactory",
        ("startedConnecting", "connecting"),
        ("failed", "disconnected", error.UserError, "User aborted connection."),
        "stopFactory",
    ]
