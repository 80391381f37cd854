"""The TCP transport over real loopback sockets: write and writeSequence,
loseConnection and abortConnection, addresses, socket options, flags at each
stage, connectionLost exactly once, calls made from inside callbacks, and
descriptor reuse.

Most scenarios run on torsion and on Twisted's EPollReactor (``flavor``) and
assert the same observable results."""

import gc
import hashlib
import socket
import threading

import pytest
from stream_kinds import tcp_only

BIG = 10 * 1024 * 1024


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


def collector(flavor, results):
    """A protocol class that accumulates what it receives and, on
    connectionLost, appends (bytes received, reason type) to ``results``."""

    class Collect(flavor.protocol.Protocol):
        def connectionMade(self):
            self.chunks = []

        def dataReceived(self, data):
            self.chunks.append(data)

        def connectionLost(self, reason):
            results.append((b"".join(self.chunks), reason.type))

    return Collect


@pytest.mark.parametrize("bad", ["text", bytearray(b"ba"), memoryview(b"mv"), 7, None])
def test_write_accepts_bytes_only(flavor, bad):
    """write() of anything but bytes raises TypeError("Data must be bytes")
    at once and queues nothing; the connection goes on."""
    outcome = []
    received = []

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            try:
                self.transport.write(bad)
            except TypeError as e:
                outcome.append(str(e))
            self.transport.write(b"after")
            self.transport.loseConnection()

    port = pair(flavor, collector(flavor, received), Client)
    spin(flavor.reactor, lambda: received)
    assert outcome == ["Data must be bytes"]
    assert received == [(b"after", flavor.error.ConnectionDone)]
    stop_listening(flavor.reactor, port)


def test_write_call_forms(flavor):
    """write(data=...) sends as write(data) does; a call with no data, two
    values or an unknown keyword raises Python's TypeError for it and sends
    nothing. (torsion defines write on each concrete transport class, so
    these forms are checked on the classes the reactor really uses.)"""
    outcome = []
    received = []

    def attempt(call):
        try:
            call()
        except TypeError as e:
            outcome.append(str(e).split(".", 1)[-1])

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            t = self.transport
            t.write(data=b"keyword ")
            attempt(lambda: t.write())
            attempt(lambda: t.write(b"x", data=b"y"))
            attempt(lambda: t.write(dat=b"z"))
            t.write(b"positional")
            t.loseConnection()

    port = pair(flavor, collector(flavor, received), Client)
    spin(flavor.reactor, lambda: received)
    assert outcome == [
        "write() missing 1 required positional argument: 'data'",
        "write() got multiple values for argument 'data'",
        "write() got an unexpected keyword argument 'dat'",
    ]
    assert received == [(b"keyword positional", flavor.error.ConnectionDone)]
    stop_listening(flavor.reactor, port)


def test_concrete_transport_classes_define_write():
    """Server and Client each define write themselves (CPython 3.11 calls a
    C method directly only for instances of the class that defines it);
    other classes are refused."""
    from torsion import _torsion
    from torsion.internet import tcp

    assert "write" in vars(tcp.Server)
    assert "write" in vars(tcp.Client)
    assert vars(tcp.Server)["write"].__doc__ == "Queues `data` (bytes only) to be sent."
    with pytest.raises(TypeError, match="takes a subclass of Stream"):
        _torsion._install_fast_write(_torsion.Stream)
    with pytest.raises(TypeError, match="takes a subclass of Stream"):
        _torsion._install_fast_write(int)


def test_write_sequence(flavor):
    """writeSequence sends its items in order; an item that is not bytes
    raises TypeError before anything of that call is queued."""
    outcome = []
    received = []

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.writeSequence([b"one ", b"", b"two "])
            self.transport.writeSequence((b"three ",))
            try:
                self.transport.writeSequence([b"lost ", "text"])
            except TypeError as e:
                outcome.append(str(e))
            self.transport.writeSequence([])
            self.transport.writeSequence((b"four",))
            self.transport.loseConnection()

    port = pair(flavor, collector(flavor, received), Client)
    spin(flavor.reactor, lambda: received)
    assert outcome == ["Data must be bytes"]
    assert received == [(b"one two three four", flavor.error.ConnectionDone)]
    stop_listening(flavor.reactor, port)


def test_lose_connection_flushes_then_both_ends_done(flavor):
    """loseConnection() sends everything queued, then closes; both ends see
    ConnectionDone."""
    done = flavor.error.ConnectionDone
    server_results = []
    client_results = []

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            for i in range(100):
                self.transport.write(b"%04d" % i)
            self.transport.loseConnection()

        def connectionLost(self, reason):
            client_results.append(reason.type)

    port = pair(flavor, collector(flavor, server_results), Client)
    spin(flavor.reactor, lambda: server_results and client_results)
    expected = b"".join(b"%04d" % i for i in range(100))
    assert server_results == [(expected, done)]
    assert client_results == [done]
    stop_listening(flavor.reactor, port)


def test_ten_megabytes_then_lose_connection_arrive_whole(flavor):
    """A 10 MB write followed at once by loseConnection arrives whole."""
    payload = bytes(range(256)) * (BIG // 256)
    digest = hashlib.sha256(payload).hexdigest()
    summary = []

    class Hashing(flavor.protocol.Protocol):
        def connectionMade(self):
            self.hash = hashlib.sha256()
            self.count = 0

        def dataReceived(self, data):
            self.hash.update(data)
            self.count += len(data)

        def connectionLost(self, reason):
            summary.append((self.count, self.hash.hexdigest(), reason.type))

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.write(payload)
            self.transport.loseConnection()

    port = pair(flavor, Hashing, Client)
    spin(flavor.reactor, lambda: summary, timeout=30)
    assert summary == [(BIG, digest, flavor.error.ConnectionDone)]
    stop_listening(flavor.reactor, port)


# The peer's ConnectionLost comes from TCP's reset; a UNIX peer sees
# ConnectionDone (test_unix covers it).
@tcp_only
def test_abort_connection_drops_queue(flavor):
    """abortConnection() right after a big write: the queue is dropped, the
    local reason is ConnectionAborted (a ConnectionLost), the peer sees
    ConnectionLost; the aborting side gets no more dataReceived."""
    error = flavor.error
    server_results = []
    client_results = []

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            self.count = 0

        def dataReceived(self, data):
            self.count += len(data)

        def connectionLost(self, reason):
            server_results.append((self.count, reason.type))

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"x" * BIG)
            self.transport.abortConnection()
            self.transport.abortConnection()
            self.transport.loseConnection()

        def dataReceived(self, data):
            client_results.append(("data", data))

        def connectionLost(self, reason):
            client_results.append(
                ("lost", reason.type, reason.check(error.ConnectionLost))
            )

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: server_results and client_results)
    assert client_results == [("lost", error.ConnectionAborted, error.ConnectionLost)]
    assert issubclass(error.ConnectionAborted, error.ConnectionLost)
    [(count, reason)] = server_results
    assert count < BIG
    assert reason is error.ConnectionLost
    stop_listening(flavor.reactor, port)


def test_write_after_lose_connection_is_sent(flavor):
    """Data written after loseConnection() but before the close is still
    sent; a write after the connection is lost is dropped silently."""
    received = []
    late = []

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"before ")
            self.transport.loseConnection()
            self.transport.write(b"after ")
            self.transport.writeSequence([b"sequence"])

        def connectionLost(self, reason):
            self.transport.write(b"too late")
            self.transport.writeSequence([b"too late"])
            late.append(reason.type)

    port = pair(flavor, collector(flavor, received), Client)
    spin(flavor.reactor, lambda: received and late)
    assert received == [(b"before after sequence", flavor.error.ConnectionDone)]
    assert late == [flavor.error.ConnectionDone]
    stop_listening(flavor.reactor, port)


def test_write_after_disconnect_from_outside_is_dropped(flavor):
    """Once connectionLost ran, write() and loseConnection() on the old
    transport do nothing and raise nothing."""
    kept = []

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            kept.append(self.transport)
            self.transport.loseConnection()

        def connectionLost(self, reason):
            kept.append(reason.type)

    port = pair(flavor, flavor.protocol.Protocol, Client)
    spin(flavor.reactor, lambda: len(kept) == 2)
    transport = kept[0]
    transport.write(b"nothing")
    transport.writeSequence([b"nothing"])
    transport.loseConnection()
    waited = []
    flavor.reactor.callLater(0.05, waited.append, True)
    spin(flavor.reactor, lambda: waited)
    assert kept[1:] == [flavor.error.ConnectionDone]
    stop_listening(flavor.reactor, port)


@tcp_only
def test_addresses(flavor):
    """getPeer/getHost are IPv4Address objects that compare and hash as
    Twisted's do, and are the same on each call."""
    address = flavor.address
    seen = {}

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            seen["server"] = self.transport

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            seen["client"] = self.transport

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: len(seen) == 2)
    number = port.getHost().port
    server, client = seen["server"], seen["client"]
    assert (
        server.getHost()
        == client.getPeer()
        == address.IPv4Address("TCP", "127.0.0.1", number)
    )
    assert server.getPeer() == client.getHost()
    assert server.getPeer() == server.getPeer()
    assert hash(server.getHost()) == hash(
        address.IPv4Address("TCP", "127.0.0.1", number)
    )
    assert server.getHost() != address.IPv4Address("UDP", "127.0.0.1", number)
    assert server.getHost() != address.IPv4Address("TCP", "127.0.0.1", number + 1)
    assert (
        repr(server.getHost())
        == f"IPv4Address(type='TCP', host='127.0.0.1', port={number})"
    )
    stop_listening(flavor.reactor, port)


@tcp_only
def test_socket_options(flavor):
    """TCP_NODELAY and SO_KEEPALIVE: the defaults, then set and read back as
    bools, on both ends."""
    seen = {}

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            seen["server"] = self.transport

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            seen["client"] = self.transport

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: len(seen) == 2)
    for side in ("server", "client"):
        t = seen[side]
        observed = [(t.getTcpNoDelay(), t.getTcpKeepAlive())]
        t.setTcpNoDelay(True)
        t.setTcpKeepAlive(1)
        observed.append((t.getTcpNoDelay(), t.getTcpKeepAlive()))
        t.setTcpNoDelay(0)
        t.setTcpKeepAlive(False)
        observed.append((t.getTcpNoDelay(), t.getTcpKeepAlive()))
        assert observed == [(False, False), (True, True), (False, False)], side
        assert all(type(v) is bool for pair_ in observed for v in pair_)
    stop_listening(flavor.reactor, port)


@tcp_only
def test_get_handle(flavor):
    """getHandle() is a socket object for the connection's socket."""
    seen = {}

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            seen["server"] = self.transport

    port = pair(flavor, Server, flavor.protocol.Protocol)
    spin(flavor.reactor, lambda: seen)
    handle = seen["server"].getHandle()
    assert isinstance(handle, socket.socket)
    assert handle.family == socket.AF_INET
    assert handle.type == socket.SOCK_STREAM
    assert handle.getsockname() == ("127.0.0.1", port.getHost().port)
    peer = seen["server"].getPeer()
    assert handle.getpeername() == (peer.host, peer.port)
    stop_listening(flavor.reactor, port)


def test_interfaces(flavor):
    """Both ends provide ITCPTransport, IPushProducer, IConsumer,
    ISystemHandle and IHalfCloseableDescriptor."""
    interfaces = flavor.interfaces
    seen = []

    class Record(flavor.protocol.Protocol):
        def connectionMade(self):
            seen.append(self.transport)

    port = pair(flavor, Record, Record)
    spin(flavor.reactor, lambda: len(seen) == 2)
    for transport in seen:
        assert [
            i.providedBy(transport)
            for i in (
                interfaces.ITCPTransport,
                interfaces.ITransport,
                interfaces.IPushProducer,
                interfaces.IConsumer,
                interfaces.ISystemHandle,
                interfaces.IHalfCloseableDescriptor,
            )
        ] == [True] * 6
    stop_listening(flavor.reactor, port)


def test_flags_at_each_stage(flavor):
    """connected / disconnecting / disconnected (as bools) in connectionMade,
    after loseConnection, inside connectionLost and afterwards."""
    stages = []

    def flags(t):
        return (bool(t.connected), bool(t.disconnecting), bool(t.disconnected))

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            stages.append(("made", flags(self.transport), bool(self.connected)))
            self.transport.write(b"x")
            self.transport.loseConnection()
            stages.append(("losing", flags(self.transport), bool(self.connected)))

        def connectionLost(self, reason):
            stages.append(("lost", flags(self.transport), bool(self.connected)))
            flavor.protocol.Protocol.connectionLost(self, reason)
            self.kept = self.transport

    class Server(flavor.protocol.Protocol):
        def connectionLost(self, reason):
            stages.append(("server lost", flags(self.transport), bool(self.connected)))

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: len(stages) == 4)
    assert sorted(stages) == sorted(
        [
            ("made", (True, False, False), True),
            ("losing", (True, True, False), True),
            ("lost", (False, True, True), True),
            ("server lost", (False, False, True), True),
        ]
    )
    stop_listening(flavor.reactor, port)


def test_connection_lost_exactly_once(flavor):
    """However many ways a connection is closed at once (loseConnection,
    abortConnection, the peer closing too), connectionLost runs once on
    each end."""
    calls = []

    class Closer(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"data")
            self.transport.loseConnection()
            self.transport.abortConnection()
            self.transport.loseConnection()

        def connectionLost(self, reason):
            calls.append(("client", reason.type))

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.loseConnection()

        def connectionLost(self, reason):
            calls.append(("server", reason.type))

    port = pair(flavor, Server, Closer)
    spin(flavor.reactor, lambda: len(calls) == 2)
    waited = []
    flavor.reactor.callLater(0.1, waited.append, True)
    spin(flavor.reactor, lambda: waited)
    assert sorted(c[0] for c in calls) == ["client", "server"]
    assert dict(calls)["client"] is flavor.error.ConnectionAborted
    stop_listening(flavor.reactor, port)


@pytest.mark.parametrize(
    "callback", ["connectionMade", "dataReceived", "connectionLost"]
)
def test_calls_from_inside_callbacks(flavor, callback):
    """write, loseConnection and reactor.stop called from inside
    connectionMade / dataReceived / connectionLost all work."""
    reactor = flavor.reactor
    log = []

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            self.chunks = []
            if callback == "connectionMade":
                self.transport.write(b"from made")
                self.transport.loseConnection()
                reactor.stop()

        def dataReceived(self, data):
            self.chunks.append(data)
            if callback == "dataReceived" and b"".join(self.chunks) == b"ping":
                self.transport.write(b"from data")
                self.transport.loseConnection()
                reactor.stop()

        def connectionLost(self, reason):
            log.append(("server lost", reason.type))
            if callback == "connectionLost":
                self.transport.write(b"ignored")
                self.transport.loseConnection()
                reactor.stop()

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            self.chunks = []
            self.transport.write(b"ping")
            if callback == "connectionLost":
                self.transport.loseConnection()

        def dataReceived(self, data):
            self.chunks.append(data)

        def connectionLost(self, reason):
            log.append(("client got", b"".join(self.chunks), reason.type))

    pair(flavor, Server, Client)
    guard = reactor.callLater(10, reactor.stop)
    reactor.run(installSignalHandlers=False)
    assert guard.active()
    guard.cancel()
    done, lost = flavor.error.ConnectionDone, flavor.error.ConnectionLost
    if callback == "connectionLost":
        assert log == [("client got", b"", done), ("server lost", done)]
    else:
        # reactor.stop() ends the run; shutdown's disconnectAll closes what
        # is left.  Twisted loses the unsent reply (both ends ConnectionLost);
        # torsion may already have flushed and closed the server side.
        assert sorted(entry[0] for entry in log) == ["client got", "server lost"]
        entries = dict((entry[0], entry[1:]) for entry in log)
        assert entries["client got"][0] in (b"", b"from " + callback[:4].encode())
        assert entries["client got"][-1] in (done, lost)
        assert entries["server lost"][0] in (done, lost)


def test_reused_descriptor_gets_no_stale_events(stream_kind, reactor):
    """Close a connection, open a new one that reuses the same descriptor
    number: the old protocol hears nothing more, the new one gets its data."""
    from torsion.internet.protocol import Factory, Protocol

    servers = []

    class Server(Protocol):
        def connectionMade(self):
            self.events = []
            servers.append(self)

        def dataReceived(self, data):
            self.events.append(data)

        def connectionLost(self, reason):
            self.events.append(reason.type.__name__)

    port = stream_kind.listen(reactor, Factory.forProtocol(Server))
    first = stream_kind.rawConnect(port, timeout=5)
    spin(reactor, lambda: len(servers) == 1)
    old = servers[0]
    old_fd = old.transport.fileno()
    first.sendall(b"first")
    spin(reactor, lambda: old.events == [b"first"])
    # The next client socket takes its descriptor now, so that the next
    # accepted connection gets the lowest free number: the one freed here.
    second = socket.socket(stream_kind.family)
    old.transport.loseConnection()
    spin(reactor, lambda: len(old.events) == 2)
    assert old.events == [b"first", "ConnectionDone"]
    assert old.transport.fileno() == -1

    second.settimeout(5)
    second.connect(stream_kind.target(port))
    spin(reactor, lambda: len(servers) == 2)
    new = servers[1]
    assert new.transport.fileno() == old_fd
    second.sendall(b"second")
    first.close()
    spin(reactor, lambda: new.events == [b"second"])
    second.close()
    spin(reactor, lambda: len(new.events) == 2)
    assert new.events == [b"second", "ConnectionDone"]
    assert old.events == [b"first", "ConnectionDone"]
    stop_listening(reactor, port)


def test_many_connections_keep_their_own_data(stream_kind, reactor):
    """Fifty connections at once, each sending its own bytes from a thread:
    every server protocol receives exactly its own client's bytes."""
    from torsion.internet.protocol import Factory, Protocol

    results = {}

    class Server(Protocol):
        def connectionMade(self):
            self.chunks = []

        def dataReceived(self, data):
            self.chunks.append(data)

        def connectionLost(self, reason):
            data = b"".join(self.chunks)
            results[data[:4]] = data

    port = stream_kind.listen(reactor, Factory.forProtocol(Server))

    def client(i):
        with stream_kind.rawConnect(port, timeout=5) as s:
            s.sendall(b"%04d" % i + bytes([i]) * (1000 * i))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    spin(reactor, lambda: len(results) == 50)
    for t in threads:
        t.join()
    for i in range(50):
        assert results[b"%04d" % i] == b"%04d" % i + bytes([i]) * (1000 * i)
    stop_listening(reactor, port)
    gc.collect()


def test_peer_address_inside_connection_lost(flavor):
    """getPeer() still answers inside connectionLost, on both ends, and
    write(b"") is a no-op."""
    seen = []

    class Record(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"")
            self.peer = self.transport.getPeer()

        def connectionLost(self, reason):
            seen.append(self.transport.getPeer() == self.peer)

    class Closer(Record):
        def connectionMade(self):
            super().connectionMade()
            self.transport.loseConnection()

    port = pair(flavor, Record, Closer)
    spin(flavor.reactor, lambda: len(seen) == 2)
    assert seen == [True, True]
    stop_listening(flavor.reactor, port)


# A reset is TCP's; a UNIX socket has none.
@tcp_only
def test_peer_reset_is_connection_lost(flavor):
    """A peer that resets (SO_LINGER 0, then close) gives connectionLost a
    ConnectionLost, after any data it sent first."""
    import struct

    log = []

    class Server(flavor.protocol.Protocol):
        def dataReceived(self, data):
            log.append(data)

        def connectionLost(self, reason):
            log.append(reason.type)

    port = flavor.kind.listen(
        flavor.reactor, flavor.protocol.Factory.forProtocol(Server)
    )
    peer = flavor.kind.rawConnect(port, timeout=5)
    peer.sendall(b"hello")
    spin(flavor.reactor, lambda: log)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()
    spin(flavor.reactor, lambda: len(log) == 2)
    assert log == [b"hello", flavor.error.ConnectionLost]
    stop_listening(flavor.reactor, port)


def test_writing_to_a_reset_peer_is_connection_lost(flavor):
    """Writing to a peer that has reset: the error surfaces later as
    connectionLost(ConnectionLost), never from write() itself."""
    import struct

    log = []
    servers = []

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            servers.append(self)

        def connectionLost(self, reason):
            log.append(reason.type)

    port = flavor.kind.listen(
        flavor.reactor, flavor.protocol.Factory.forProtocol(Server)
    )
    peer = flavor.kind.rawConnect(port, timeout=5)
    spin(flavor.reactor, lambda: servers)
    servers[0].transport.pauseProducing()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()
    rounds = []

    def keep_writing():
        if log or len(rounds) > 500:
            return
        rounds.append(True)
        servers[0].transport.write(b"w" * 10000)
        flavor.reactor.callLater(0.001, keep_writing)

    keep_writing()
    spin(flavor.reactor, lambda: log)
    assert log == [flavor.error.ConnectionLost]
    stop_listening(flavor.reactor, port)
