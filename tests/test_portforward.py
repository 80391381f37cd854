"""torsion.protocols.portforward beside twisted.protocols.portforward, over
loopback: client -> ProxyFactory -> backend, on both reactors (``flavor``),
with the clients connected to the proxy over TCP and over UNIX sockets.

Covers large transfers both ways (checksums), flow control (a stalled side
pauses reading on the other, and the proxy's queue stays bounded), close in
either direction, an unreachable backend, data sent before the backend
connection exists, and a subclass that overrides ``dataReceived``.
"""

from __future__ import annotations

import hashlib
import importlib
import random

import pytest
from stream_kinds import tcp_only

MIB = 1024 * 1024
HIGH_WATER = 64 * 1024


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


def settle(reactor, seconds):
    """Run ``reactor`` for ``seconds``."""
    deadline = reactor.seconds() + seconds
    spin(reactor, lambda: reactor.seconds() >= deadline)


def quiesce(reactor, measure, quiet=0.15, turns=30, timeout=10.0):
    """Run ``reactor`` until ``measure()`` has not changed for ``quiet``
    seconds and ``turns`` checks (the kernel's buffers between the peers
    are full; counting checks keeps a descheduled process from passing)."""
    state = {"value": measure(), "since": reactor.seconds(), "checks": 0}

    def still():
        value, now = measure(), reactor.seconds()
        if value != state["value"]:
            state.update(value=value, since=now, checks=0)
        state["checks"] += 1
        return now - state["since"] >= quiet and state["checks"] >= turns

    spin(reactor, still, timeout)


def queued(ns, transport):
    """Bytes a transport holds that the kernel has not taken yet."""
    if ns.name == "torsion":
        return transport._queuedBytes()
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


def isReading(ns, transport):
    """Whether the reactor is reading from ``transport``."""
    if ns.name == "torsion":
        return transport._isReading()
    return transport in ns.reactor.getReaders()


def payload(size, seed):
    """``size`` pseudo-random bytes."""
    return random.Random(seed).randbytes(size)


def digest(data):
    """SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def net(flavor, stream_kind):
    """``flavor`` plus the matching portforward module, and the kind of the
    clients' connections to the proxy (``kind``: TCP or UNIX; the proxy
    reaches its backend over TCP, as Twisted's ProxyFactory does)."""
    flavor.portforward = importlib.import_module(f"{flavor.name}.protocols.portforward")
    flavor.kind = stream_kind
    return flavor


class Chain:
    """A backend server, a proxy in front of it, and clients of the proxy;
    protocol instances, connectionLost reasons and, for each chunk the
    proxy forwards, (chunk size, bytes then queued on the other side) are
    recorded."""

    def __init__(self, ns, backendProtocol, serverClass=None):
        self.ns = ns
        self.events = []
        self.servers = []
        self.clients = []
        self.backends = []
        self.users = []
        self.toBackend = []
        self.toUser = []
        pf = ns.portforward
        chain = self

        class Backend(backendProtocol):
            def connectionMade(self):
                chain.backends.append(self)
                super().connectionMade()

        self.backendPort = ns.reactor.listenTCP(
            0, ns.protocol.Factory.forProtocol(Backend), interface="127.0.0.1"
        )

        class Client(pf.ProxyClient):
            def connectionMade(self):
                chain.clients.append(self)
                super().connectionMade()

            def dataReceived(self, chunk):
                super().dataReceived(chunk)
                chain.toUser.append((len(chunk), queued(ns, self.peer.transport)))

            def connectionLost(self, reason):
                chain.events.append(("proxy client", reason.type.__name__))
                super().connectionLost(reason)

        class ClientFactory(pf.ProxyClientFactory):
            protocol = Client
            noisy = False

        base = serverClass or pf.ProxyServer

        class Server(base):
            reactor = ns.reactor
            clientProtocolFactory = ClientFactory

            def connectionMade(self):
                chain.servers.append(self)
                super().connectionMade()

            def dataReceived(self, chunk):
                super().dataReceived(chunk)
                chain.toBackend.append((len(chunk), queued(ns, self.peer.transport)))

            def connectionLost(self, reason):
                chain.events.append(("proxy server", reason.type.__name__))
                super().connectionLost(reason)

        self.factory = pf.ProxyFactory("127.0.0.1", self.backendPort.getHost().port)
        self.factory.protocol = Server
        self.factory.noisy = False
        self.proxyPort = ns.kind.listen(ns.reactor, self.factory)

    def connect(self, clientProtocol):
        """Connect an instance of ``clientProtocol`` to the proxy."""
        chain = self

        class User(clientProtocol):
            def connectionMade(self):
                chain.users.append(self)
                super().connectionMade()

        factory = self.ns.protocol.ClientFactory.forProtocol(User)
        factory.noisy = False
        self.ns.kind.connect(self.ns.reactor, self.proxyPort, factory)

    def close(self):
        """Stop both listening ports and wait until they are closed."""
        done = []
        for port in (self.proxyPort, self.backendPort):
            port.stopListening().addBoth(done.append)
        spin(self.ns.reactor, lambda: len(done) == 2)


def bounded(samples):
    """Whether no forwarded chunk left more than 64 KiB plus the largest
    chunk queued (the transport pauses its producer past 64 KiB)."""
    largest = max(n for n, _ in samples)
    return max(q for _, q in samples) <= HIGH_WATER + largest


def collecting(ns, events, name, send=b"", closeAfter=None, pause=False):
    """A protocol class that sends ``send`` on connect, collects what it
    receives, closes once it has ``closeAfter`` bytes, and records its
    connectionLost reason in ``events``; ``pause`` stops it reading."""

    class Collect(ns.protocol.Protocol):
        def connectionMade(self):
            self.chunks = []
            self.size = 0
            if pause:
                self.transport.pauseProducing()
            if send:
                self.transport.write(send)

        def dataReceived(self, data):
            self.chunks.append(data)
            self.size += len(data)
            if closeAfter is not None and self.size >= closeAfter:
                self.transport.loseConnection()

        def connectionLost(self, reason):
            events.append((name, reason.type.__name__))

        def received(self):
            return b"".join(self.chunks)

    return Collect


def test_echo_through_proxy_large_transfer_and_close(net):
    """3 MiB through the proxy to an echo server and back arrive intact; the
    client's close reaches the backend; all four connections end with
    ConnectionDone."""
    data = payload(3 * MIB, 1)
    events = []

    class Echo(net.protocol.Protocol):
        def dataReceived(self, chunk):
            self.transport.write(chunk)

        def connectionLost(self, reason):
            events.append(("backend", reason.type.__name__))

    chain = Chain(net, Echo)
    chain.events = events
    chain.connect(collecting(net, events, "client", send=data, closeAfter=len(data)))
    spin(net.reactor, lambda: len(events) == 4)
    assert sorted(events) == [
        ("backend", "ConnectionDone"),
        ("client", "ConnectionDone"),
        ("proxy client", "ConnectionDone"),
        ("proxy server", "ConnectionDone"),
    ]
    user = chain.users[0]
    assert user.size == len(data)
    assert digest(user.received()) == digest(data)
    assert chain.servers[0].peer is None and chain.clients[0].peer is None
    assert bounded(chain.toBackend) and bounded(chain.toUser)
    chain.close()


def test_stalled_backend_pauses_client_side_and_memory_stays_bounded(net):
    """While the backend does not read, the proxy's connection to it fills
    past 64 KiB and pauses reading from the client, holding at most 64 KiB
    plus one chunk; once the backend reads, all 12 MiB arrive intact and the
    client side reads again."""
    data = payload(12 * MIB, 2)
    chain = Chain(net, collecting(net, [], "backend", pause=True))
    chain.connect(collecting(net, chain.events, "client", send=data))

    spin(net.reactor, lambda: chain.toBackend)
    quiesce(net.reactor, lambda: len(chain.toBackend))
    forwardedAtPause = sum(n for n, _ in chain.toBackend)
    settle(net.reactor, 0.05)
    server, client = chain.servers[0], chain.clients[0]
    assert client.transport.producerPaused
    assert not isReading(net, server.transport)
    assert sum(n for n, _ in chain.toBackend) == forwardedAtPause
    assert forwardedAtPause < len(data)
    assert bounded(chain.toBackend)
    assert server.transport.producer is client.transport
    assert client.transport.producer is server.transport

    backend = chain.backends[0]
    backend.transport.resumeProducing()
    spin(net.reactor, lambda: backend.size == len(data))
    assert digest(backend.received()) == digest(data)
    spin(net.reactor, lambda: not client.transport.producerPaused)
    assert isReading(net, server.transport)
    assert bounded(chain.toBackend)
    backend.transport.loseConnection()
    spin(net.reactor, lambda: ("client", "ConnectionDone") in chain.events)
    chain.close()


def test_stalled_client_pauses_backend_side(net):
    """The other way: a client that does not read makes the proxy stop
    reading from the backend; when it reads, all 12 MiB arrive intact and
    closing the backend closes the client after the last byte."""
    data = payload(12 * MIB, 3)
    chain = Chain(net, collecting(net, [], "backend", send=data))
    chain.connect(collecting(net, chain.events, "client", pause=True))

    spin(net.reactor, lambda: chain.toUser)
    quiesce(net.reactor, lambda: len(chain.toUser))
    forwardedAtPause = sum(n for n, _ in chain.toUser)
    settle(net.reactor, 0.05)
    server, client = chain.servers[0], chain.clients[0]
    assert server.transport.producerPaused
    assert not isReading(net, client.transport)
    assert sum(n for n, _ in chain.toUser) == forwardedAtPause
    assert forwardedAtPause < len(data)
    assert bounded(chain.toUser)

    user = chain.users[0]
    user.transport.resumeProducing()
    chain.backends[0].transport.loseConnection()
    spin(net.reactor, lambda: ("client", "ConnectionDone") in chain.events)
    assert user.size == len(data)
    assert digest(user.received()) == digest(data)
    assert bounded(chain.toUser)
    chain.close()


def test_backend_close_reaches_client_after_its_data(net):
    """The backend answers and closes: the client gets the answer, then
    ConnectionDone; both proxy sides end with ConnectionDone."""

    class Answer(net.protocol.Protocol):
        def dataReceived(self, data):
            self.transport.write(b"bye:" + data)
            self.transport.loseConnection()

    chain = Chain(net, Answer)
    chain.connect(collecting(net, chain.events, "client", send=b"hello"))
    spin(net.reactor, lambda: len(chain.events) == 3)
    assert sorted(chain.events) == [
        ("client", "ConnectionDone"),
        ("proxy client", "ConnectionDone"),
        ("proxy server", "ConnectionDone"),
    ]
    assert chain.users[0].received() == b"bye:hello"
    chain.close()


# Over a UNIX socket, the proxy closing with the client's bytes unread is
# a reset for the client (ConnectionLost, in both frameworks).
@tcp_only
def test_unreachable_backend_closes_client(net):
    """If the backend refuses, the client's connection is closed cleanly and
    nothing is received."""
    chain = Chain(net, net.protocol.Protocol)
    done = []
    chain.backendPort.stopListening().addBoth(done.append)
    spin(net.reactor, lambda: done)
    chain.connect(collecting(net, chain.events, "client", send=b"anyone?"))
    spin(net.reactor, lambda: len(chain.events) == 2)
    assert sorted(chain.events) == [
        ("client", "ConnectionDone"),
        ("proxy server", "ConnectionDone"),
    ]
    assert chain.users[0].received() == b""
    assert chain.clients == []
    stopped = []
    chain.proxyPort.stopListening().addBoth(stopped.append)
    spin(net.reactor, lambda: stopped)


def test_data_and_close_before_backend_connects_are_forwarded(net):
    """A client that writes and closes at once: the proxy holds both until
    the backend connection exists, then forwards the data and the close."""
    backendEvents = []
    chain = Chain(net, collecting(net, backendEvents, "backend"))

    class WriteAndGo(net.protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"early")
            self.transport.loseConnection()

    chain.connect(WriteAndGo)
    spin(net.reactor, lambda: backendEvents)
    assert backendEvents == [("backend", "ConnectionDone")]
    assert chain.backends[0].received() == b"early"
    chain.close()


def test_subclass_overriding_dataReceived_transforms(net):
    """A ProxyServer subclass that overrides dataReceived (here: upper-case)
    still forwards through the same flow-controlled connection."""
    pf = net.portforward

    class Shouting(pf.ProxyServer):
        def dataReceived(self, data):
            self.peer.transport.write(data.upper())

    backendEvents = []
    chain = Chain(net, collecting(net, backendEvents, "backend"), Shouting)
    chain.connect(collecting(net, chain.events, "client", send=b"quiet please"))
    spin(net.reactor, lambda: chain.backends and chain.backends[0].size == 12)
    assert chain.backends[0].received() == b"QUIET PLEASE"
    chain.users[0].transport.loseConnection()
    spin(net.reactor, lambda: backendEvents)
    assert backendEvents == [("backend", "ConnectionDone")]
    chain.close()


def test_factory_reactor_attribute_is_used(reactor):
    """torsion: with no reactor on the ProxyServer, the factory's ``reactor``
    attribute is used; with neither, the global reactor."""
    from torsion.internet import protocol
    from torsion.protocols import portforward

    got = []

    class Backend(protocol.Protocol):
        def dataReceived(self, data):
            got.append(data)

    backendPort = reactor.listenTCP(
        0, protocol.Factory.forProtocol(Backend), interface="127.0.0.1"
    )
    factory = portforward.ProxyFactory("127.0.0.1", backendPort.getHost().port)
    factory.noisy = False
    factory.reactor = reactor
    proxyPort = reactor.listenTCP(0, factory, interface="127.0.0.1")

    class Hi(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"hi")

    clientFactory = protocol.ClientFactory.forProtocol(Hi)
    reactor.connectTCP("127.0.0.1", proxyPort.getHost().port, clientFactory)
    spin(reactor, lambda: got)
    assert got == [b"hi"]
    stopped = []
    for port in (proxyPort, backendPort):
        port.stopListening().addBoth(stopped.append)
    spin(reactor, lambda: len(stopped) == 2)

    from torsion.internet import reactor as globalReactor

    bare = portforward.ProxyServer()
    bare.factory = portforward.ProxyFactory("127.0.0.1", 1)
    assert bare._reactor() is globalReactor
    assert portforward.ProxyServer.reactor is None
