"""Half-close on real TCP connections: loseWriteConnection() and
IHalfCloseableProtocol's readConnectionLost / writeConnectionLost.

Scenarios run on torsion and on Twisted's EPollReactor (``flavor``) and
assert the same observable results, event by event."""

import socket

import pytest
from zope.interface import implementer


@pytest.fixture
def flavor(flavor, stream_kind):
    """Each scenario on torsion and Twisted, over TCP and over UNIX sockets
    (``flavor.kind``, see stream_kinds)."""
    flavor.kind = stream_kind
    return flavor


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


def wait(reactor, seconds):
    """Run ``reactor`` for ``seconds``."""
    flag = []
    reactor.callLater(seconds, flag.append, True)
    spin(reactor, lambda: flag)


def stop_listening(reactor, port):
    """Stop ``port`` and run until its Deferred fired."""
    results = []
    port.stopListening().addBoth(results.append)
    spin(reactor, lambda: results)


def pair(flavor, server_class, client_class):
    """Listen with ``server_class`` and connect with ``client_class``;
    returns the listening port."""
    protocol = flavor.protocol
    port = flavor.kind.listen(
        flavor.reactor, protocol.Factory.forProtocol(server_class)
    )
    flavor.kind.connect(
        flavor.reactor, port, protocol.ClientFactory.forProtocol(client_class)
    )
    return port


def test_lose_write_connection_then_peer_answers(flavor):
    """The client sends a request and half-closes; the half-closeable server
    reads it, gets readConnectionLost, and can still answer; the client gets
    writeConnectionLost, then the answer, then the end."""
    protocol, error = flavor.protocol, flavor.error
    client_log = []
    server_log = []

    @implementer(flavor.interfaces.IHalfCloseableProtocol)
    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"request")
            self.transport.loseWriteConnection()
            self.transport.write(b" and more")
            client_log.append("half-closed")

        def writeConnectionLost(self):
            client_log.append("writeConnectionLost")
            self.transport.write(b"dropped")

        def dataReceived(self, data):
            client_log.append(data)

        def readConnectionLost(self):
            client_log.append("readConnectionLost")
            self.transport.loseConnection()

        def connectionLost(self, reason):
            client_log.append(("connectionLost", reason.type))

    @implementer(flavor.interfaces.IHalfCloseableProtocol)
    class Server(protocol.Protocol):
        def connectionMade(self):
            self.request = b""

        def dataReceived(self, data):
            self.request += data

        def readConnectionLost(self):
            server_log.append(("readConnectionLost", self.request))
            self.transport.write(b"answer to " + self.request)
            self.transport.loseConnection()

        def writeConnectionLost(self):
            server_log.append("writeConnectionLost")

        def connectionLost(self, reason):
            server_log.append(("connectionLost", reason.type))

    port = pair(flavor, Server, Client)
    spin(
        flavor.reactor,
        lambda: (
            len(server_log) == 2 and client_log and isinstance(client_log[-1], tuple)
        ),
    )
    done = error.ConnectionDone
    assert server_log == [
        ("readConnectionLost", b"request and more"),
        ("connectionLost", done),
    ]
    assert client_log == [
        "half-closed",
        "writeConnectionLost",
        b"answer to request and more",
        "readConnectionLost",
        ("connectionLost", done),
    ]
    stop_listening(flavor.reactor, port)


def test_lose_connection_after_both_halves_closed_is_synchronous(flavor):
    """Twisted: loseConnection() on a transport whose write side is already
    shut calls connectionLost(ConnectionDone) before it returns."""
    protocol = flavor.protocol
    log = []

    @implementer(flavor.interfaces.IHalfCloseableProtocol)
    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.loseWriteConnection()

        def writeConnectionLost(self):
            log.append("writeConnectionLost")

        def readConnectionLost(self):
            log.append("readConnectionLost")
            self.transport.loseConnection()
            log.append("loseConnection returned")

        def connectionLost(self, reason):
            log.append(("connectionLost", reason.type))

    class Server(protocol.Protocol):
        pass

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: len(log) == 4)
    assert log == [
        "writeConnectionLost",
        "readConnectionLost",
        ("connectionLost", flavor.error.ConnectionDone),
        "loseConnection returned",
    ]
    stop_listening(flavor.reactor, port)


def test_peer_half_close_without_half_closeable_protocol(flavor):
    """A protocol that is not half-closeable gets connectionLost with
    ConnectionDone when the peer half-closes, after the data."""
    protocol = flavor.protocol
    server_log = []
    client_log = []

    class Server(protocol.Protocol):
        def dataReceived(self, data):
            server_log.append(data)

        def connectionLost(self, reason):
            server_log.append(("connectionLost", reason.type))

    @implementer(flavor.interfaces.IHalfCloseableProtocol)
    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"one way")
            self.transport.loseWriteConnection()

        def writeConnectionLost(self):
            client_log.append("writeConnectionLost")

        def readConnectionLost(self):
            client_log.append("readConnectionLost")
            # Both halves are shut: only loseConnection() ends it now.
            self.transport.loseConnection()

        def connectionLost(self, reason):
            client_log.append(("connectionLost", reason.type))

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: len(server_log) == 2 and len(client_log) == 3)
    wait(flavor.reactor, 0.05)
    assert server_log == [b"one way", ("connectionLost", flavor.error.ConnectionDone)]
    assert client_log == [
        "writeConnectionLost",
        "readConnectionLost",
        ("connectionLost", flavor.error.ConnectionDone),
    ]
    stop_listening(flavor.reactor, port)


def test_lose_write_connection_without_half_closeable_protocol(flavor):
    """loseWriteConnection() from a protocol that is not half-closeable
    still sends what is queued and then the FIN; the protocol keeps reading
    and sees the peer's answer before its own connectionLost."""
    protocol = flavor.protocol
    client_log = []

    @implementer(flavor.interfaces.IHalfCloseableProtocol)
    class Server(protocol.Protocol):
        def connectionMade(self):
            self.request = b""

        def dataReceived(self, data):
            self.request += data

        def readConnectionLost(self):
            self.transport.write(self.request.upper())
            self.transport.loseConnection()

    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"shout")
            self.transport.loseWriteConnection()

        def dataReceived(self, data):
            client_log.append(data)

        def connectionLost(self, reason):
            client_log.append(("connectionLost", reason.type))

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: client_log and isinstance(client_log[-1], tuple))
    assert client_log == [b"SHOUT", ("connectionLost", flavor.error.ConnectionDone)]
    stop_listening(flavor.reactor, port)


def test_half_close_from_plain_socket_peer(flavor):
    """A plain socket peer shuts down its write side: the half-closeable
    server gets readConnectionLost and its answer reaches the peer, which
    then reads EOF."""
    protocol = flavor.protocol
    log = []

    @implementer(flavor.interfaces.IHalfCloseableProtocol)
    class Server(protocol.Protocol):
        def connectionMade(self):
            self.request = b""

        def dataReceived(self, data):
            self.request += data

        def readConnectionLost(self):
            log.append(("readConnectionLost", self.request))
            self.transport.write(self.request[::-1])
            self.transport.loseConnection()

        def connectionLost(self, reason):
            log.append(("connectionLost", reason.type))

    port = flavor.kind.listen(flavor.reactor, protocol.Factory.forProtocol(Server))
    peer = flavor.kind.rawConnect(port, timeout=5)
    peer.sendall(b"stressed")
    peer.shutdown(socket.SHUT_WR)
    spin(flavor.reactor, lambda: len(log) == 2)
    answer = b""
    while True:
        chunk = peer.recv(100)
        if not chunk:
            break
        answer += chunk
    peer.close()
    assert answer == b"desserts"
    assert log == [
        ("readConnectionLost", b"stressed"),
        ("connectionLost", flavor.error.ConnectionDone),
    ]
    stop_listening(flavor.reactor, port)


def test_write_connection_lost_raising_closes(flavor):
    """writeConnectionLost raising: the connection is closed and
    connectionLost gets a Failure of that exception."""
    protocol = flavor.protocol
    log = []

    @implementer(flavor.interfaces.IHalfCloseableProtocol)
    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.loseWriteConnection()

        def writeConnectionLost(self):
            log.append("writeConnectionLost")
            raise KeyError("write side")

        def readConnectionLost(self):
            log.append("readConnectionLost")

        def connectionLost(self, reason):
            log.append(("connectionLost", reason.type, str(reason.value)))

    class Server(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"x")

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: len(log) == 2)
    wait(flavor.reactor, 0.05)
    assert log == ["writeConnectionLost", ("connectionLost", KeyError, "'write side'")]
    stop_listening(flavor.reactor, port)


def test_read_connection_lost_raising_closes(flavor):
    """readConnectionLost raising: the connection is closed and
    connectionLost gets a Failure of that exception."""
    protocol = flavor.protocol
    log = []

    @implementer(flavor.interfaces.IHalfCloseableProtocol)
    class Server(protocol.Protocol):
        def readConnectionLost(self):
            log.append("readConnectionLost")
            raise LookupError("read side")

        def writeConnectionLost(self):
            log.append("writeConnectionLost")

        def connectionLost(self, reason):
            log.append(("connectionLost", reason.type, str(reason.value)))

    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.loseWriteConnection()

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: len(log) == 2)
    wait(flavor.reactor, 0.05)
    assert log == ["readConnectionLost", ("connectionLost", LookupError, "read side")]
    stop_listening(flavor.reactor, port)
