"""What dataReceived is given stays what was read, whatever the protocol
does with it.

torsion refills a bytes object that came back from dataReceived (and from
the write queue) unshared with a later read of about its size, instead of
freeing it and allocating the next one. These scenarios run on torsion and
on Twisted, over loopback, and check that no object a protocol still holds
(itself, through a memoryview, or in the write queue) ever changes, that
hashes are those of the new contents, and that every byte arrives once and
in order."""

import hashlib

from conftest import run_until

# Message sizes around and across the reuse rules: small objects (from
# CPython's own allocator), 1 KiB echoes, lengths within and beyond a
# quarter of a previous object's size, and full 64 KiB reads.
SIZES = [
    1024,
    1024,
    1024,
    700,
    513,
    512,
    511,
    1000,
    4000,
    3001,
    65536,
    1024,
    60000,
    64,
    2048,
]


def message(i: int, size: int) -> bytes:
    """``size`` bytes that differ from every other message's."""
    block = hashlib.sha256(i.to_bytes(4, "big")).digest()
    return (block * (size // len(block) + 1))[:size]


def test_kept_chunks_and_hashes_survive_later_reads(flavor):
    """A pingpong of messages of varied sizes. The server hashes every
    chunk, keeps every third chunk itself and a memoryview of every fifth,
    and echoes each one back. Everything kept still equals what it was
    when received, each hash equals the hash of an independent copy, and
    the client gets back exactly what it sent."""
    protocol = flavor.protocol
    messages = [message(i, SIZES[i % len(SIZES)]) for i in range(120)]
    records = []
    kept = []
    views = []
    echoed = []

    class Keeper(protocol.Protocol):
        def dataReceived(self, data):
            copy = bytes(bytearray(data))
            records.append((copy, hash(data)))
            n = len(records)
            if n % 3 == 0:
                kept.append((data, copy))
            if n % 5 == 0:
                views.append((memoryview(data), copy))
            self.transport.write(data)

    class PingPong(protocol.Protocol):
        def connectionMade(self):
            self.index = 0
            self.pending = b""
            self.transport.write(messages[0])

        def dataReceived(self, data):
            # A copy: the chunk itself goes back for reuse, possibly by
            # the server's next read.
            self.pending += bytes(bytearray(data))
            expected = messages[self.index]
            if len(self.pending) < len(expected):
                return
            echoed.append(self.pending)
            self.pending = b""
            self.index += 1
            if self.index == len(messages):
                self.transport.loseConnection()
            else:
                self.transport.write(messages[self.index])

    port = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(Keeper), interface="127.0.0.1"
    )
    flavor.reactor.connectTCP(
        "127.0.0.1", port.getHost().port, protocol.ClientFactory.forProtocol(PingPong)
    )
    run_until(flavor.reactor, lambda: len(echoed) == len(messages))
    port.stopListening()

    assert echoed == messages
    assert b"".join(copy for copy, _ in records) == b"".join(messages)
    assert [h for _, h in records] == [hash(copy) for copy, _ in records]
    assert len(kept) == len(records) // 3
    assert all(chunk == copy for chunk, copy in kept)
    assert all(view.tobytes() == copy for view, copy in views)


def test_chunks_queued_behind_a_full_socket_are_not_refilled(flavor):
    """The server writes every chunk it gets twice to a peer that does not
    read for a while: the chunks wait in the write queue while more reads
    arrive. The peer then reads exactly each chunk doubled."""
    protocol = flavor.protocol
    blocks = [message(i, 1024 + (i % 7) * 100) for i in range(2000)]
    total = sum(map(len, blocks))
    copies = []
    received = []
    server_done = []

    class Doubler(protocol.Protocol):
        def dataReceived(self, data):
            copies.append(bytes(bytearray(data)))
            self.transport.write(data)
            self.transport.write(data)

        def connectionLost(self, reason):
            server_done.append(True)

    class Sender(protocol.Protocol):
        def connectionMade(self):
            self.transport.pauseProducing()
            for block in blocks:
                self.transport.write(block)
            flavor.reactor.callLater(0.3, self.transport.resumeProducing)

        def dataReceived(self, data):
            received.append(data)
            if sum(map(len, received)) == 2 * total:
                self.transport.loseConnection()

    port = flavor.reactor.listenTCP(
        0, protocol.Factory.forProtocol(Doubler), interface="127.0.0.1"
    )
    flavor.reactor.connectTCP(
        "127.0.0.1", port.getHost().port, protocol.ClientFactory.forProtocol(Sender)
    )
    run_until(flavor.reactor, lambda: server_done)
    port.stopListening()
    assert b"".join(copies) == b"".join(blocks)
    assert b"".join(received) == b"".join(copy + copy for copy in copies)
