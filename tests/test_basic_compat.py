"""The same byte streams and chunkings fed to Twisted's and torsion's
protocols.basic classes: recorded callbacks and transport state must agree."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from io import BytesIO
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torsion.internet import testing as x_testing
from torsion.protocols import basic as x_basic
from twisted.internet import testing as t_testing
from twisted.protocols import basic as t_basic

TWISTED = SimpleNamespace(basic=t_basic, testing=t_testing, name="twisted")
TORSION = SimpleNamespace(basic=x_basic, testing=x_testing, name="torsion")

Scenario = Callable[[SimpleNamespace], list[Any]]


def both(scenario: Scenario) -> list[Any]:
    """Run ``scenario`` on both libraries, assert equal records, return one."""
    expected = scenario(TWISTED)
    actual = scenario(TORSION)
    assert actual == expected
    return actual


def chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    """Cut ``data`` into pieces whose sizes cycle through ``sizes``."""
    pieces, position, index = [], 0, 0
    while position < len(data):
        size = sizes[index % len(sizes)]
        pieces.append(data[position : position + size])
        position += size
        index += 1
    return pieces


def chunkings(data: bytes) -> Iterator[list[bytes]]:
    """Whole, one byte at a time, a few fixed sizes, every two-way split."""
    yield [data]
    for size in (1, 2, 3, 4, 7):
        yield chunked(data, [size])
    for cut in range(1, len(data)):
        yield [data[:cut], data[cut:]]


def deliver(record: list[Any], call: Callable[[], Any]) -> None:
    """Call ``call``, recording a non-None result or the exception raised."""
    try:
        result = call()
    except Exception as e:
        record.append(("raised", type(e).__name__, str(e)))
    else:
        if result is not None:
            record.append(("returned", repr(result)))


def transportState(transport: Any) -> tuple[Any, ...]:
    """What a StringTransport shows: bytes written, closing, producer state."""
    return (transport.value(), transport.disconnecting, transport.producerState)


# LineReceiver


def lineScenario(chunks: list[bytes], maxLength: int = 8) -> Scenario:
    """A LineReceiver whose lines are commands that exercise every way a
    callback can change the parser's state."""

    def scenario(lib: SimpleNamespace) -> list[Any]:
        record: list[Any] = []

        class Commanded(lib.basic.LineReceiver):
            MAX_LENGTH = maxLength

            def lineReceived(self, line: bytes) -> Any:
                record.append(("line", line))
                if line == b"raw":
                    self.setRawMode()
                elif line == b"quit":
                    self.transport.loseConnection()
                elif line == b"pause":
                    self.pauseProducing()
                elif line == b"clear":
                    record.append(("cleared", self.clearLineBuffer()))
                elif line == b"nl":
                    self.delimiter = b"\n"
                elif line == b"crlf":
                    self.delimiter = b"\r\n"
                elif line == b"max3":
                    self.MAX_LENGTH = 3
                elif line == b"ret":
                    return "ret"
                elif line == b"boom":
                    raise ValueError("boom")
                elif line == b"feed":
                    self.dataReceived(b"fed\r\n")
                return None

            def rawDataReceived(self, data: bytes) -> Any:
                record.append(("raw", data))
                if b"!" in data:
                    return self.setLineMode(data.split(b"!", 1)[1])
                if b"?" in data:
                    return "rawret"
                return None

            def lineLengthExceeded(self, line: bytes) -> Any:
                record.append(("long", line))
                if line.startswith(b"k"):
                    return self.setLineMode(line[-4:])
                return lib.basic.LineReceiver.lineLengthExceeded(self, line)

        proto = Commanded()
        transport = lib.testing.StringTransport()
        proto.makeConnection(transport)
        for chunk in chunks:
            deliver(record, lambda chunk=chunk: proto.dataReceived(chunk))
        for _ in range(20):
            if not proto.paused or transport.disconnecting:
                break
            record.append("resume")
            deliver(record, proto.resumeProducing)
        record.append(("rest", proto.clearLineBuffer()))
        record.append(
            (proto.line_mode, proto.paused, proto.delimiter, proto.MAX_LENGTH)
        )
        record.append(transportState(transport))
        return record

    return scenario


LINE_STREAMS = [
    b"a\r\nraw\r\nraw data\r\n!b\r\nc\r\n",
    b"one\r\nquit\r\ntwo\r\nthree\r\n",
    b"x\r\npause\r\ny\r\npause\r\nz\r\n",
    b"p\r\nclear\r\nlost\r\nfound",
    b"a\r\nnl\r\nb\r\nc\nd\ncrlf\ne\r\n",
    b"abcdefgh\r\nmax3\r\nabc\r\nabcd\r\n",
    b"a\r\nret\r\nb\r\n",
    b"a\r\nboom\r\nb\r\n",
    b"feed\r\nafter\r\n",
    b"toolongline\r\nnext\r\n",
    b"kkkkkkkkkkkk\r\nz\r\n",
    b"raw\r\nno bang?\r\nx",
    b"123456789",
]


@pytest.mark.parametrize("stream", LINE_STREAMS)
def test_line_receiver_every_chunking(stream: bytes) -> None:
    """Each command stream, in every chunking, records the same on both."""
    for chunks in chunkings(stream):
        both(lineScenario(chunks))


def test_line_receiver_default_limit_hostile() -> None:
    """Default MAX_LENGTH: an endless line and a long line after many short
    ones are refused identically."""
    both(lineScenario(chunked(b"A" * 40000, [1000]), maxLength=16384))
    stream = b"".join(b"%d\r\n" % i for i in range(3000)) + b"B" * 17000 + b"\r\nx\r\n"
    both(lineScenario([stream], maxLength=16384))


def test_line_receiver_pause_each_line_of_a_big_chunk() -> None:
    """Pausing on every line of a chunk of 3,000 lines, resumed one by one."""
    stream = b"pause\r\n" * 3000 + b"end\r\n"

    def scenario(lib: SimpleNamespace) -> list[Any]:
        record: list[Any] = []

        class Slow(lib.basic.LineReceiver):
            def lineReceived(self, line: bytes) -> None:
                record.append(line)
                self.pauseProducing()

        proto = Slow()
        proto.makeConnection(lib.testing.StringTransport())
        proto.dataReceived(stream)
        while proto.paused:
            proto.resumeProducing()
        return record

    assert len(both(scenario)) == 3001


LINE_TOKENS = [
    b"a",
    b"bc",
    b"\r",
    b"\n",
    b"\r\n",
    b"\r\n",
    b"\r\n",
    b"raw",
    b"quit",
    b"pause",
    b"clear",
    b"nl",
    b"crlf",
    b"max3",
    b"ret",
    b"boom",
    b"feed",
    b"!",
    b"?",
    b"kkkkkk",
    b"xxxxxxxxxx",
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(LINE_TOKENS), max_size=40),
    st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=6),
)
def test_line_receiver_random_commands(tokens: list[bytes], sizes: list[int]) -> None:
    """Random command streams in random chunkings record the same on both."""
    both(lineScenario(chunked(b"".join(tokens), sizes)))


# LineOnlyReceiver


def lineOnlyScenario(chunks: list[bytes]) -> Scenario:
    """A LineOnlyReceiver that quits, raises, or shrinks its limit on command."""

    def scenario(lib: SimpleNamespace) -> list[Any]:
        record: list[Any] = []

        class Commanded(lib.basic.LineOnlyReceiver):
            MAX_LENGTH = 8

            def lineReceived(self, line: bytes) -> None:
                record.append(("line", line))
                if line == b"quit":
                    self.transport.loseConnection()
                elif line == b"max3":
                    self.MAX_LENGTH = 3
                elif line == b"boom":
                    raise ValueError("boom")

            def lineLengthExceeded(self, line: bytes) -> Any:
                record.append(("long", line))
                if line.startswith(b"k"):
                    return None
                return lib.basic.LineOnlyReceiver.lineLengthExceeded(self, line)

        proto = Commanded()
        transport = lib.testing.StringTransport()
        proto.makeConnection(transport)
        for chunk in chunks:
            deliver(record, lambda chunk=chunk: proto.dataReceived(chunk))
        proto.sendLine(b"bye")
        record.append(("rest", proto._buffer))
        record.append(transportState(transport))
        return record

    return scenario


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [b"a", b"\r", b"\n", b"\r\n", b"\r\n", b"quit", b"max3", b"boom", b"kkkkk"]
        ),
        max_size=40,
    ),
    st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=6),
)
def test_line_only_random(tokens: list[bytes], sizes: list[int]) -> None:
    """LineOnlyReceiver agrees on random streams and chunkings."""
    both(lineOnlyScenario(chunked(b"".join(tokens), sizes)))


# NetstringReceiver


def netstringScenario(chunks: list[bytes], transportFactory: str = "plain") -> Scenario:
    """A NetstringReceiver recording strings, parser state and transport."""

    def scenario(lib: SimpleNamespace) -> list[Any]:
        record: list[Any] = []

        class Recorder(lib.basic.NetstringReceiver):
            MAX_LENGTH = 20

            def stringReceived(self, string: bytes) -> None:
                record.append(("string", string))
                if string == b"quit":
                    self.transport.loseConnection()
                elif string == b"boom":
                    raise ValueError("boom")
                elif string == b"echo":
                    self.sendString(string)

            def connectionLost(self, reason: Any = None) -> None:
                record.append(("lost", reason.type.__name__))

        proto = Recorder()
        if transportFactory == "plain":
            transport = lib.testing.StringTransport()
        else:
            transport = lib.testing.StringTransportWithDisconnection()
            transport.protocol = proto
        proto.makeConnection(transport)
        for chunk in chunks:
            deliver(record, lambda chunk=chunk: proto.dataReceived(chunk))
            record.append(
                (
                    proto.brokenPeer,
                    proto._state,
                    proto._remainingData,
                    proto._expectedPayloadSize,
                    proto._currentPayloadSize,
                )
            )
        record.append(transportState(transport))
        return record

    return scenario


NETSTRING_STREAMS = [
    b"5:hello,0:,4:1:a,,",
    b"3:abc,4:quit,3:def,",
    b"4:boom,1:x,",
    b"4:echo,",
    b"abc",
    b"01:a,",
    b"3:abcd,1:a,",
    b"20:aaaaaaaaaaaaaaaaaaaa,",
    b"21:",
    b"4294967296:",
    b"2:ab,999",
    b"12\n",
    b"12\nx",
    b"1:a,2:bc;1:z,",
]


@pytest.mark.parametrize("stream", NETSTRING_STREAMS)
def test_netstring_every_chunking(stream: bytes) -> None:
    """Each stream, in every chunking, leaves both parsers in the same state."""
    for chunks in chunkings(stream):
        both(netstringScenario(chunks))


def test_netstring_errors_reach_connection_lost() -> None:
    """With a transport that disconnects, connectionLost gets ConnectionDone."""
    record = both(netstringScenario([b"2:ok,x"], transportFactory="disconnecting"))
    assert ("lost", "ConnectionDone") in record


def netstringTokens() -> st.SearchStrategy[bytes]:
    """Valid netstrings, some over the limit, and stray bytes."""
    payload = st.sampled_from(
        [b"", b"a", b"quit", b"echo", b"boom", b"x" * 20, b"y" * 21]
    )
    framed = payload.map(lambda p: b"%d:%s," % (len(p), p))
    stray = st.sampled_from(
        [b"0", b"1", b"9", b":", b",", b"a", b"\n", b"01", b"99999"]
    )
    return st.one_of(framed, framed, framed, stray)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(netstringTokens(), max_size=12),
    st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=5),
)
def test_netstring_random(tokens: list[bytes], sizes: list[int]) -> None:
    """Random netstring streams and chunkings leave the same state on both."""
    both(netstringScenario(chunked(b"".join(tokens), sizes)))


# Int8/16/32StringReceiver


def intScenario(className: str, chunks: list[bytes]) -> Scenario:
    """A length-prefixed receiver recording strings, refusals, recvd."""

    def scenario(lib: SimpleNamespace) -> list[Any]:
        record: list[Any] = []
        base = getattr(lib.basic, className)

        class Recorder(base):  # type: ignore[misc, valid-type]
            MAX_LENGTH = 10

            def stringReceived(self, string: bytes) -> None:
                record.append(("string", string, self.recvd))
                if string == b"p":
                    self.pauseProducing()
                elif string == b"skip":
                    self.recvd = self.recvd[1:]
                elif string == b"boom":
                    raise ValueError("boom")

            def lengthLimitExceeded(self, length: int) -> None:
                record.append(("refused", length, self.recvd))
                base.lengthLimitExceeded(self, length)

        proto = Recorder()
        transport = lib.testing.StringTransport()
        proto.makeConnection(transport)
        for chunk in chunks:
            deliver(record, lambda chunk=chunk: proto.dataReceived(chunk))
        for _ in range(20):
            if not proto.paused or transport.disconnecting:
                break
            deliver(record, proto.resumeProducing)
        record.append(("recvd", proto.recvd))
        deliver(record, lambda: proto.sendString(b"z" * 300))
        record.append(transportState(transport))
        return record

    return scenario


@pytest.mark.parametrize(
    ("className", "fmt"),
    [
        ("Int8StringReceiver", "!B"),
        ("Int16StringReceiver", "!H"),
        ("Int32StringReceiver", "!I"),
    ],
)
@settings(max_examples=100, deadline=None)
@given(
    payloads=st.lists(
        st.sampled_from([b"", b"a", b"p", b"skip", b"boom", b"x" * 10, b"y" * 11]),
        max_size=10,
    ),
    garbage=st.binary(max_size=6),
    sizes=st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=5),
)
def test_int_prefixed_random(
    className: str, fmt: str, payloads: list[bytes], garbage: bytes, sizes: list[int]
) -> None:
    """Random prefixed streams (some over MAX_LENGTH), pauses and recvd
    rewrites record the same on both."""
    stream = b"".join(struct.pack(fmt, len(p)) + p for p in payloads) + garbage
    both(intScenario(className, chunked(stream, sizes)))


def test_int32_length_near_2_32() -> None:
    """A prefix of 2**32 - 1 is refused the same way on both."""
    stream = b"\x00\x00\x00\x01a\xff\xff\xff\xffbbbb"
    for chunks in chunkings(stream):
        both(intScenario("Int32StringReceiver", chunks))


# FileSender


def test_file_sender_same_writes_and_result() -> None:
    """FileSender writes the same chunks and fires with the same value."""

    def scenario(lib: SimpleNamespace) -> list[Any]:
        record: list[Any] = []
        consumer = lib.testing.StringTransport()
        sender = lib.basic.FileSender()
        sender.CHUNK_SIZE = 5
        d = sender.beginFileTransfer(BytesIO(b"0123456789abc"), consumer, bytes.upper)
        d.addCallback(lambda last: record.append(("done", last)))
        record.append((consumer.producer is sender, consumer.streaming))
        for _ in range(6):
            if consumer.producer is None:
                break
            sender.resumeProducing()
            record.append(consumer.value())
        empty = lib.basic.FileSender()
        empty.beginFileTransfer(
            BytesIO(b""), lib.testing.StringTransport()
        ).addCallback(lambda last: record.append(("empty", last)))
        empty.resumeProducing()
        stopped = lib.basic.FileSender()
        stopped.beginFileTransfer(
            BytesIO(b"x"), lib.testing.StringTransport()
        ).addErrback(
            lambda f: record.append(("stopped", f.type.__name__, str(f.value)))
        )
        stopped.stopProducing()
        return record

    both(scenario)


# Over real sockets, on torsion's reactor and on Twisted's


def _serve_and_send(flavor: Any, serverProtocol: type, payload: bytes) -> list[Any]:
    """Listen with ``serverProtocol``, connect a client that writes
    ``payload`` and records what comes back; run until both sides closed."""
    from conftest import run_until

    protocol = flavor.protocol
    events: list[Any] = []
    received: list[bytes] = []

    class Client(protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.write(payload)

        def dataReceived(self, data: bytes) -> None:
            received.append(data)

        def connectionLost(self, reason: Any = None) -> None:
            events.append(("client lost", reason.type.__name__))

    class Server(serverProtocol):  # type: ignore[misc, valid-type]
        def connectionLost(self, reason: Any = None) -> None:
            events.append(("server lost", reason.type.__name__))
            serverProtocol.connectionLost(self, reason)

    def build(addr: Any) -> Any:
        server = Server()
        server.events = events
        return server

    factory = protocol.ServerFactory()
    factory.buildProtocol = build
    port = flavor.reactor.listenTCP(0, factory, interface="127.0.0.1")
    client = protocol.ClientCreator(flavor.reactor, Client)
    client.connectTCP("127.0.0.1", port.getHost().port)
    run_until(
        flavor.reactor,
        lambda: len([e for e in events if "lost" in e[0]]) == 2,
        timeout=5,
    )
    port.stopListening()
    return [e for e in events if "lost" not in e[0]] + [
        ("received", b"".join(received)),
        ("lost", sorted(e for e in events if "lost" in e[0])),
    ]


def test_malformed_netstring_over_tcp(flavor: Any) -> None:
    """A malformed netstring makes the server lose the connection: both ends
    see ConnectionDone, and the good netstring before it was delivered."""

    class Server(flavor.basic.NetstringReceiver):
        def stringReceived(self, string: bytes) -> None:
            self.events.append(("string", string))
            self.sendString(string.upper())

    result = _serve_and_send(flavor, Server, b"3:abc,3:xyz;")
    assert result == [
        ("string", b"abc"),
        ("received", b"3:ABC,"),
        (
            "lost",
            [("client lost", "ConnectionDone"), ("server lost", "ConnectionDone")],
        ),
    ]


def test_over_long_line_over_tcp(flavor: Any) -> None:
    """A line over MAX_LENGTH drops the connection after the short lines."""

    class Server(flavor.basic.LineReceiver):
        MAX_LENGTH = 100

        def lineReceived(self, line: bytes) -> None:
            self.events.append(("line", line))
            self.sendLine(b"ok " + line)

    result = _serve_and_send(
        flavor, Server, b"one\r\ntwo\r\n" + b"x" * 500 + b"\r\nz\r\n"
    )
    assert result == [
        ("line", b"one"),
        ("line", b"two"),
        ("received", b"ok one\r\nok two\r\n"),
        (
            "lost",
            [("client lost", "ConnectionDone"), ("server lost", "ConnectionDone")],
        ),
    ]


def test_int32_length_near_2_32_over_tcp(flavor: Any) -> None:
    """A 32-bit length prefix of 2**32 - 1 is refused and the connection
    dropped, without waiting for (or buffering) the announced payload."""

    class Server(flavor.basic.Int32StringReceiver):
        def stringReceived(self, string: bytes) -> None:
            self.events.append(("string", string))

        def lengthLimitExceeded(self, length: int) -> None:
            self.events.append(("refused", length))
            flavor.basic.Int32StringReceiver.lengthLimitExceeded(self, length)

    result = _serve_and_send(flavor, Server, b"\x00\x00\x00\x02hi\xff\xff\xff\xff")
    assert result == [
        ("string", b"hi"),
        ("refused", 2**32 - 1),
        ("received", b""),
        (
            "lost",
            [("client lost", "ConnectionDone"), ("server lost", "ConnectionDone")],
        ),
    ]


def test_many_lines_echoed_over_tcp(flavor: Any) -> None:
    """10,000 lines written at once are each echoed, in order."""
    lines = [b"line %d" % i for i in range(10_000)]

    class Server(flavor.basic.LineReceiver):
        def lineReceived(self, line: bytes) -> None:
            self.sendLine(line)
            if line == lines[-1]:
                self.transport.loseConnection()

    result = _serve_and_send(flavor, Server, b"".join(line + b"\r\n" for line in lines))
    assert result == [
        ("received", b"".join(line + b"\r\n" for line in lines)),
        (
            "lost",
            [("client lost", "ConnectionDone"), ("server lost", "ConnectionDone")],
        ),
    ]


def test_file_sender_over_tcp(flavor: Any) -> None:
    """FileSender streams a file through a real transport (a pull producer)
    and fires with the last byte; then the server closes."""
    content = bytes(range(256)) * 1000 + b"end!"

    class Server(flavor.protocol.Protocol):
        def connectionMade(self) -> None:
            sender = flavor.basic.FileSender()
            d = sender.beginFileTransfer(BytesIO(content), self.transport)
            d.addCallback(self.finished)

        def finished(self, last: bytes) -> None:
            self.events.append(("last", last))
            self.transport.loseConnection()

    result = _serve_and_send(flavor, Server, b"")
    assert result == [
        ("last", b"!"),
        ("received", content),
        (
            "lost",
            [("client lost", "ConnectionDone"), ("server lost", "ConnectionDone")],
        ),
    ]
