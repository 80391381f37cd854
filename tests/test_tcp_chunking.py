"""Byte streams over real TCP in every chunking: whatever way the peer cuts
the stream (one byte at a time, random sizes, one big block), the
concatenation of dataReceived's arguments is the stream, exactly; and what
the transport is given in many small writes reaches a plain socket whole.

The peer is a plain blocking socket driven from a thread."""

import hashlib
import random
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture
def flavor(flavor, stream_kind):
    """Each scenario on torsion and Twisted, over TCP and over UNIX sockets
    (``flavor.kind``, see stream_kinds)."""
    flavor.kind = stream_kind
    return flavor


def spin(reactor, done, timeout=20.0):
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


def stream(size, seed):
    """``size`` pseudo-random bytes, reproducible from ``seed``."""
    return random.Random(seed).randbytes(size)


def serve_one_sender(flavor, protocol_class, pieces, done, timeout=20.0, pause=0.0):
    """Listen with ``protocol_class``, let a thread connect with a plain
    socket, send ``pieces`` one sendall each (sleeping ``pause`` between
    them) and close; run until ``done()``. Returns the sender's socket
    errors."""
    port = flavor.kind.listen(
        flavor.reactor, flavor.protocol.Factory.forProtocol(protocol_class)
    )
    failures = []

    def send():
        try:
            with flavor.kind.rawConnect(port, timeout=10, noDelay=True) as s:
                for piece in pieces:
                    s.sendall(piece)
                    if pause:
                        time.sleep(pause)
        except OSError as e:
            failures.append(e)

    thread = threading.Thread(target=send)
    thread.start()
    try:
        spin(flavor.reactor, done, timeout=timeout)
    finally:
        thread.join(10)
    stop_listening(flavor.reactor, port)
    return failures


def receive_from_plain_peer(flavor, pieces, pause=0.0):
    """serve_one_sender with a protocol that collects what it gets; returns
    (what dataReceived got, in order, and the reason type)."""
    received = []
    ended = []

    class Collect(flavor.protocol.Protocol):
        def dataReceived(self, data):
            assert type(data) is bytes
            received.append(data)

        def connectionLost(self, reason):
            ended.append(reason.type)

    failures = serve_one_sender(flavor, Collect, pieces, lambda: ended, pause=pause)
    assert failures == []
    return received, ended


def test_one_byte_at_a_time(flavor):
    """One byte per send with small sleeps: every byte arrives, in order."""
    data = stream(300, 1)
    received, ended = receive_from_plain_peer(
        flavor, [data[i : i + 1] for i in range(len(data))], pause=0.0005
    )
    assert b"".join(received) == data
    assert all(received)
    assert ended == [flavor.error.ConnectionDone]


def test_random_chunk_sizes(flavor):
    """1 MiB cut into random sizes from 1 byte to 100 KB."""
    data = stream(1 << 20, 2)
    rng = random.Random(3)
    pieces = []
    at = 0
    while at < len(data):
        n = rng.choice([1, 2, 7, 100, 1460, 4096, 65535, 65536, 65537, 100_000])
        pieces.append(data[at : at + n])
        at += n
    received, ended = receive_from_plain_peer(flavor, pieces)
    assert hashlib.sha256(b"".join(received)).digest() == hashlib.sha256(data).digest()
    assert sum(map(len, received)) == len(data)
    assert ended == [flavor.error.ConnectionDone]


def test_one_big_chunk(flavor):
    """8 MiB in one sendall: arrives whole; no dataReceived call is empty or
    larger than the transport's 64 KiB read size."""
    data = stream(8 << 20, 4)
    received, ended = receive_from_plain_peer(flavor, [data])
    assert b"".join(received) == data
    assert all(0 < len(chunk) <= 65536 for chunk in received)
    assert ended == [flavor.error.ConnectionDone]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=70_000), min_size=1, max_size=30)
)
def test_any_chunking_arrives_exactly(stream_kind, reactor, sizes):
    """Hypothesis: any list of chunk sizes, sent by a plain socket, arrives
    as exactly the stream."""
    import types

    from torsion.internet import error, protocol

    data = stream(sum(sizes), len(sizes))
    pieces = []
    at = 0
    for n in sizes:
        pieces.append(data[at : at + n])
        at += n
    ns = types.SimpleNamespace(
        reactor=reactor, protocol=protocol, error=error, kind=stream_kind
    )
    received, ended = receive_from_plain_peer(ns, pieces)
    assert b"".join(received) == data
    assert ended == [error.ConnectionDone]


@pytest.mark.parametrize("mode", ["small writes", "writeSequence", "mixed sizes"])
def test_transport_writes_reach_plain_socket_whole(flavor, mode):
    """Many writes of assorted sizes, then loseConnection: a plain socket
    reading until EOF gets exactly the concatenation."""
    rng = random.Random(mode)
    if mode == "small writes":
        pieces = [bytes([i % 256]) * rng.randint(1, 20) for i in range(5000)]
    elif mode == "writeSequence":
        pieces = [stream(rng.randint(1, 3000), i) for i in range(500)]
    else:
        pieces = [stream(rng.choice([1, 10, 70_000, 300_000]), i) for i in range(40)]
    expected = b"".join(pieces)

    class Sender(flavor.protocol.Protocol):
        def connectionMade(self):
            if mode == "writeSequence":
                for i in range(0, len(pieces), 50):
                    self.transport.writeSequence(pieces[i : i + 50])
            else:
                for piece in pieces:
                    self.transport.write(piece)
            self.transport.loseConnection()

    port = flavor.kind.listen(
        flavor.reactor, flavor.protocol.Factory.forProtocol(Sender)
    )
    got = []

    def reader():
        chunks = []
        with flavor.kind.rawConnect(port, timeout=10) as s:
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        got.append(b"".join(chunks))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        spin(flavor.reactor, lambda: got)
    finally:
        thread.join(10)
    assert len(got[0]) == len(expected)
    assert got[0] == expected
    stop_listening(flavor.reactor, port)


def test_both_directions_at_once(flavor):
    """Each end writes 2 MiB while reading the other's 2 MiB: neither side
    deadlocks and both get the exact stream."""
    size = 2 << 20
    a_data, b_data = stream(size, 10), stream(size, 11)
    results = {}

    def make(name, outgoing):
        class Side(flavor.protocol.Protocol):
            def connectionMade(self):
                self.chunks = []
                for i in range(0, size, 50_000):
                    self.transport.write(outgoing[i : i + 50_000])

            def dataReceived(self, data):
                self.chunks.append(data)
                if sum(map(len, self.chunks)) == size:
                    results[name] = b"".join(self.chunks)
                    self.transport.loseConnection()

        return Side

    port = flavor.kind.listen(
        flavor.reactor, flavor.protocol.Factory.forProtocol(make("server", a_data))
    )
    flavor.kind.connect(
        flavor.reactor,
        port,
        flavor.protocol.ClientFactory.forProtocol(make("client", b_data)),
    )
    spin(flavor.reactor, lambda: len(results) == 2)
    assert results["server"] == b_data
    assert results["client"] == a_data
    stop_listening(flavor.reactor, port)


def pausing_each_call(flavor, base, while_paused):
    """A subclass of ``base`` whose dataReceived hands the chunk to
    ``handle`` (to be defined), then pauses the transport and resumes it a
    turn later; the size of any call made while paused goes to
    ``while_paused``."""

    class PausingEachCall(base):
        paused = False

        def dataReceived(self, chunk):
            if self.paused:
                while_paused.append(len(chunk))
            self.handle(chunk)
            self.paused = True
            self.transport.pauseProducing()
            flavor.reactor.callLater(0, self.resume)

        def resume(self):
            self.paused = False
            if self.transport.connected:
                self.transport.resumeProducing()

    return PausingEachCall


def test_pausing_inside_data_received_holds_the_rest(flavor):
    """A stream to a protocol that pauses the transport in every
    dataReceived and resumes it a turn later: no call arrives while paused,
    none is over 64 KiB, and the stream arrives whole, then ConnectionDone."""
    data = stream(8 << 20, 7)
    received = []
    ended = []
    while_paused = []

    class Pausing(pausing_each_call(flavor, flavor.protocol.Protocol, while_paused)):
        def handle(self, chunk):
            received.append(chunk)

        def connectionLost(self, reason):
            ended.append(reason.type)

    failures = serve_one_sender(flavor, Pausing, [data], lambda: ended, timeout=60)
    assert failures == []
    assert while_paused == []
    assert all(0 < len(c) <= 65536 for c in received)
    assert b"".join(received) == data
    assert ended == [flavor.error.ConnectionDone]


def test_lose_connection_inside_data_received_stops_delivery(flavor):
    """A protocol that calls loseConnection in its first dataReceived of a
    large stream gets no further dataReceived, then one connectionLost."""
    data = stream(4 << 20, 8)
    calls = []
    ended = []

    class Quitter(flavor.protocol.Protocol):
        def dataReceived(self, chunk):
            calls.append(len(chunk))
            self.transport.loseConnection()

        def connectionLost(self, reason):
            ended.append(reason.type)

    # (the sender may see a reset: the server closes with data unread)
    serve_one_sender(flavor, Quitter, [data], lambda: ended, timeout=30)
    assert len(calls) == 1
    assert 0 < calls[0] <= 65536
    assert len(ended) == 1


def late_reader(flavor, ended):
    """A Protocol class that starts reading only once the stream has filled
    the socket buffers (so that reads come back full and, on torsion, the
    second is batched), and records each connectionLost reason's type in
    ``ended``."""

    class LateReader(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.pauseProducing()
            flavor.reactor.callLater(0.3, self.transport.resumeProducing)

        def connectionLost(self, reason):
            ended.append(reason.type)

    return LateReader


def test_lose_connection_while_paused_mid_stream(flavor):
    """A protocol that pauses in its second dataReceived of a large stream
    (a read that held more chunks back, on torsion) and then calls
    loseConnection while paused gets no further dataReceived, and one
    connectionLost with ConnectionDone."""
    data = stream(4 << 20, 9)
    calls = []
    ended = []

    class PauseThenQuit(late_reader(flavor, ended)):
        def dataReceived(self, chunk):
            calls.append(len(chunk))
            if len(calls) == 2:
                self.transport.pauseProducing()
                flavor.reactor.callLater(0.05, self.transport.loseConnection)

    # (the sender may see a reset: the server closes with data unread)
    serve_one_sender(flavor, PauseThenQuit, [data], lambda: ended, timeout=30)
    assert calls == [65536, 65536]
    assert ended == [flavor.error.ConnectionDone]


@pytest.mark.parametrize(
    ("size", "total"), [(1, 3000), (1000, 100_000), (200_000, 8 << 20)]
)
def test_buffer_size_bounds_each_call(flavor, size, total):
    """``transport.bufferSize`` set in connectionMade bounds every
    dataReceived call, as in Twisted (where it is the size given to recv):
    with the stream waiting in the socket, calls fill it exactly, and a
    size over 64 KiB gives calls over 64 KiB."""
    data = stream(total, size)
    received = []
    ended = []
    defaults = []

    class Sized(late_reader(flavor, ended)):
        def connectionMade(self):
            t = self.transport
            defaults.append((t.bufferSize, type(t).bufferSize))
            t.bufferSize = size
            super().connectionMade()

        def dataReceived(self, chunk):
            received.append(chunk)

    failures = serve_one_sender(flavor, Sized, [data], lambda: ended, timeout=60)
    assert failures == []
    assert defaults == [(65536, 65536)]
    assert b"".join(received) == data
    largest = max(map(len, received))
    if size < 65536:
        assert largest == size
    else:
        assert 65536 < largest <= size
    assert all(len(c) <= size for c in received)
    if size == 1:
        assert len(received) == total
    assert ended == [flavor.error.ConnectionDone]


def test_buffer_size_rejects_what_recv_could_not_take(stream_kind, reactor):
    """torsion checks bufferSize when it is set (Twisted would fail in its
    next recv instead): an int of at least 1, or TypeError/ValueError, and
    the previous value stays."""
    from torsion.internet import protocol

    results = {}

    class Check(protocol.Protocol):
        def connectionMade(self):
            t = self.transport
            for bad, kind in [
                (0, ValueError),
                (-5, ValueError),
                ("4096", TypeError),
                (1.5, TypeError),
                (True, TypeError),
                (None, TypeError),
            ]:
                try:
                    t.bufferSize = bad
                except kind as e:
                    results[repr(bad)] = str(e)
            try:
                del t.bufferSize
            except AttributeError as e:
                results["del"] = str(e)
            results["after"] = t.bufferSize
            t.bufferSize = 10**12
            results["huge"] = t.bufferSize
            t.loseConnection()

    port = stream_kind.listen(reactor, protocol.Factory.forProtocol(Check))
    with stream_kind.rawConnect(port, timeout=10):
        spin(reactor, lambda: "huge" in results)
    stop_listening(reactor, port)
    assert results == {
        "0": "bufferSize must be at least 1, not 0",
        "-5": "bufferSize must be at least 1, not -5",
        "'4096'": "bufferSize must be an int, not str",
        "1.5": "bufferSize must be an int, not float",
        "True": "bufferSize must be an int, not bool",
        "None": "bufferSize must be an int, not NoneType",
        "del": "bufferSize cannot be deleted",
        "after": 65536,
        "huge": 10**12,
    }


def test_lowering_buffer_size_mid_stream_bounds_the_next_calls(flavor):
    """A protocol that lowers bufferSize in its second dataReceived (on
    torsion, the first chunk of a batched read, with more 64 KiB chunks
    already read) gets no later call over the new size, and the stream
    whole."""
    data = stream(2 << 20, 12)
    sizes = []
    received = []
    ended = []

    class Lowering(late_reader(flavor, ended)):
        def dataReceived(self, chunk):
            sizes.append(len(chunk))
            received.append(chunk)
            if len(sizes) == 2:
                self.transport.bufferSize = 1000

    failures = serve_one_sender(flavor, Lowering, [data], lambda: ended, timeout=60)
    assert failures == []
    assert sizes[:2] == [65536, 65536]
    assert max(sizes[2:]) == 1000
    assert b"".join(received) == data
    assert ended == [flavor.error.ConnectionDone]
