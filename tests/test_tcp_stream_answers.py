"""A stream to a protocol that answers what it reads.

torsion reads a stream one bufferSize chunk at a time for a protocol that
writes while handling it, sending each chunk's answer before the next read,
and in one readv of several chunks for a protocol that only consumes. These
scenarios run on both frameworks and check that, whichever way the stream
is read, what Twisted promises holds: every byte answered in order, no call
over bufferSize, none after loseConnection or while paused, and a protocol
that stops answering halfway still gets the rest of the stream.

The server starts reading only once the peer has filled the socket buffers,
so that its reads come back full and torsion treats the connection as a
stream from the first read. The peer is a plain socket: one thread sends,
another reads until the server closes. The peer ends its stream only once
every answer it expects has come back: Twisted drops the answers still
queued when a protocol that is not IHalfCloseableProtocol sees the end of
the stream."""

import socket
import threading

import pytest
from test_tcp_chunking import (
    late_reader,
    pausing_each_call,
    spin,
    stop_listening,
    stream,
)


@pytest.fixture
def flavor(flavor, stream_kind):
    """Each scenario on torsion and Twisted, over TCP and over UNIX sockets
    (``flavor.kind``, see stream_kinds)."""
    flavor.kind = stream_kind
    return flavor


class Peer:
    """A plain client that sends ``data`` while reading everything the
    server sends until it closes. Once it has sent everything and received
    ``expect`` bytes back it shuts down its write side (with ``expect``
    None it never does: the server is to close)."""

    def __init__(self, sock, data, expect):
        self.sock = sock
        self.received = bytearray()
        self.errors = []
        self.expect = expect
        self.answered = threading.Event()
        self.sender = threading.Thread(target=self._send, args=(data,))
        self.reader = threading.Thread(target=self._read)
        self.sender.start()
        self.reader.start()

    def _send(self, data):
        try:
            self.sock.sendall(data)
            if self.expect is not None and self.answered.wait(30):
                self.sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            self.errors.append(e)

    def _read(self):
        try:
            while chunk := self.sock.recv(1 << 16):
                self.received += chunk
                if self.expect is not None and len(self.received) >= self.expect:
                    self.answered.set()
        except OSError as e:
            self.errors.append(e)

    def join(self):
        self.answered.set()
        self.sender.join(30)
        self.reader.join(30)
        self.sock.close()


def serve(flavor, protocol_class, data, done, expect):
    """Listen with ``protocol_class`` (a ``late_reader`` one), connect a Peer
    sending ``data`` and expecting ``expect`` bytes back, and run until
    ``done()``; returns the Peer once both its threads ended."""
    port = flavor.kind.listen(
        flavor.reactor, flavor.protocol.Factory.forProtocol(protocol_class)
    )
    peer = Peer(flavor.kind.rawConnect(port, timeout=30), data, expect)
    try:
        spin(flavor.reactor, done, timeout=60)
    except BaseException:
        peer.sock.shutdown(socket.SHUT_RDWR)
        raise
    finally:
        peer.join()
    stop_listening(flavor.reactor, port)
    return peer


def test_echoed_stream_comes_back_whole(flavor):
    """8 MiB echoed chunk by chunk come back exactly, in calls of at most
    64 KiB; the peer's end of stream then ends the connection with
    ConnectionDone."""
    data = stream(8 << 20, 21)
    sizes = []
    ended = []

    class Echo(late_reader(flavor, ended)):
        def dataReceived(self, chunk):
            sizes.append(len(chunk))
            self.transport.write(chunk)

    peer = serve(flavor, Echo, data, lambda: ended, len(data))
    assert peer.errors == []
    assert bytes(peer.received) == data
    assert max(sizes) == 65536
    assert sum(sizes) == len(data)
    assert ended == [flavor.error.ConnectionDone]


def test_small_answers_to_a_stream_arrive_in_order(flavor):
    """Each chunk answered in 1,000-byte writes (which torsion queues
    rather than sends at once): the answers arrive whole and in order."""
    data = stream(4 << 20, 22)
    ended = []

    class Pieces(late_reader(flavor, ended)):
        def dataReceived(self, chunk):
            for at in range(0, len(chunk), 1000):
                self.transport.write(chunk[at : at + 1000])

    peer = serve(flavor, Pieces, data, lambda: ended, len(data))
    assert peer.errors == []
    assert bytes(peer.received) == data
    assert ended == [flavor.error.ConnectionDone]


def test_lose_connection_after_answering_stops_delivery(flavor):
    """A protocol that answers three chunks and calls loseConnection in the
    third gets exactly three calls and then ConnectionDone; what the peer
    gets back is the start of its stream."""
    data = stream(4 << 20, 23)
    sizes = []
    ended = []

    class Three(late_reader(flavor, ended)):
        def dataReceived(self, chunk):
            sizes.append(len(chunk))
            self.transport.write(chunk)
            if len(sizes) == 3:
                self.transport.loseConnection()

    # (the peer may see a reset: the server closes with data unread)
    peer = serve(flavor, Three, data, lambda: ended, None)
    assert len(sizes) == 3
    assert all(0 < size <= 65536 for size in sizes)
    # Closing with the rest of the stream unread resets the connection,
    # and a reset can overtake answers the peer had not read yet.
    assert len(peer.received) <= sum(sizes)
    assert data.startswith(peer.received)
    assert ended == [flavor.error.ConnectionDone]


def test_pausing_after_answering_holds_the_rest(flavor):
    """A protocol that answers every chunk, then pauses the transport and
    resumes it a turn later: no call arrives while paused, and the whole
    stream comes back in order."""
    data = stream(4 << 20, 24)
    while_paused = []
    ended = []

    class PauseEach(
        pausing_each_call(flavor, late_reader(flavor, ended), while_paused)
    ):
        def handle(self, chunk):
            self.transport.write(chunk)

    peer = serve(flavor, PauseEach, data, lambda: ended, len(data))
    assert peer.errors == []
    assert while_paused == []
    assert bytes(peer.received) == data
    assert ended == [flavor.error.ConnectionDone]


def test_protocol_that_stops_answering_gets_the_rest(flavor):
    """A protocol that echoes the first MiB and then only counts: it is
    handed every remaining byte, in calls of at most 64 KiB, and the peer
    gets exactly the first MiB back."""
    data = stream(6 << 20, 25)
    sizes = []
    ended = []
    echoed = 1 << 20

    class EchoThenCount(late_reader(flavor, ended)):
        seen = 0

        def dataReceived(self, chunk):
            sizes.append(len(chunk))
            if self.seen < echoed:
                self.transport.write(chunk[: echoed - self.seen])
            self.seen += len(chunk)

    peer = serve(flavor, EchoThenCount, data, lambda: ended, echoed)
    assert peer.errors == []
    assert sum(sizes) == len(data)
    assert max(sizes) == 65536
    assert bytes(peer.received) == data[:echoed]
    assert ended == [flavor.error.ConnectionDone]
