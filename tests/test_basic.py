"""Tests for torsion.protocols.basic: line, netstring and length-prefixed
parsers fed in every chunking, hostile input, and FileSender."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator
from io import BytesIO
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torsion.internet import error
from torsion.internet.interfaces import IProducer, IPullProducer
from torsion.internet.testing import (
    StringTransport,
    StringTransportWithDisconnection,
)
from torsion.protocols import basic
from torsion.python import log
from zope.interface.verify import verifyObject


def chunkings(
    data: bytes, sizes: tuple[int, ...] = (1, 2, 3, 5, 7)
) -> Iterator[list[bytes]]:
    """Yield ways to cut ``data``: whole, fixed sizes, and every two-way split."""
    yield [data]
    for size in sizes:
        yield [data[i : i + size] for i in range(0, len(data), size)]
    for cut in range(1, len(data)):
        yield [data[:cut], data[cut:]]


def feed(proto: Any, chunks: list[bytes]) -> None:
    """Deliver each chunk to ``proto.dataReceived`` in order."""
    for chunk in chunks:
        proto.dataReceived(chunk)


Action = Callable[[Any], Any]


class LineRecorder(basic.LineReceiver):
    """Records every callback; ``actions`` maps a line to what it triggers."""

    def __init__(self, actions: dict[bytes, Action] | None = None) -> None:
        self.events: list[tuple[str, bytes]] = []
        self.actions = actions or {}

    def lineReceived(self, line: bytes) -> Any:
        self.events.append(("line", line))
        action = self.actions.get(line)
        if action is not None:
            return action(self)
        return None

    def rawDataReceived(self, data: bytes) -> None:
        self.events.append(("raw", data))

    def lineLengthExceeded(self, line: bytes) -> Any:
        self.events.append(("long", line))
        return basic.LineReceiver.lineLengthExceeded(self, line)


def connected(proto: Any, transport: Any = None) -> Any:
    """Connect ``proto`` to a new StringTransport and return the protocol."""
    proto.makeConnection(transport if transport is not None else StringTransport())
    return proto


def lines(proto: LineRecorder) -> list[bytes]:
    """The lines ``proto`` received, in order."""
    return [value for kind, value in proto.events if kind == "line"]


# LineReceiver


def test_lines_in_every_chunking() -> None:
    """Lines are the same however the stream is cut; the tail stays buffered."""
    stream = b"alpha\r\nbeta\r\n\r\ngamma delta\r\n\rx\n\r\npartial"
    for chunks in chunkings(stream):
        proto = connected(LineRecorder())
        feed(proto, chunks)
        assert lines(proto) == [b"alpha", b"beta", b"", b"gamma delta", b"\rx\n"]
        assert proto.clearLineBuffer() == b"partial"
        assert not proto.transport.disconnecting


def test_multibyte_delimiter_split_across_chunks() -> None:
    """A long delimiter cut at every position is still found."""
    stream = b"one<END>two<EN<END>three<END><END>"
    for chunks in chunkings(stream):
        proto = LineRecorder()
        proto.delimiter = b"<END>"
        connected(proto)
        feed(proto, chunks)
        assert lines(proto) == [b"one", b"two<EN", b"three", b""]
        assert proto.clearLineBuffer() == b""


def test_overlapping_delimiter_matches_left_to_right() -> None:
    """A self-overlapping delimiter is matched leftmost first, without overlap."""
    for chunks in chunkings(b"xaaayaaaaz"):
        proto = LineRecorder()
        proto.delimiter = b"aa"
        connected(proto)
        feed(proto, chunks)
        assert lines(proto) == [b"x", b"ay", b""]
        assert proto.clearLineBuffer() == b"z"


def test_line_of_exactly_max_length_is_delivered() -> None:
    """A line of MAX_LENGTH bytes is accepted; the connection stays up."""
    proto = LineRecorder()
    proto.MAX_LENGTH = 5
    connected(proto)
    proto.dataReceived(b"12345\r\n")
    assert proto.events == [("line", b"12345")]
    assert not proto.transport.disconnecting


def test_line_over_max_length_drops_connection_with_rest_of_buffer() -> None:
    """An over-long line goes to lineLengthExceeded with all that follows it,
    the default handler drops the connection, and the buffer is emptied."""
    for chunks in ([b"ok\r\n123456\r\nnext\r\n"], [b"ok\r\n123456\r", b"\nnext\r\n"]):
        proto = LineRecorder()
        proto.MAX_LENGTH = 5
        connected(proto)
        proto.dataReceived(chunks[0])
        assert proto.transport.disconnecting
        assert proto.clearLineBuffer() == b""
    proto = LineRecorder()
    proto.MAX_LENGTH = 5
    connected(proto)
    proto.dataReceived(b"ok\r\n123456\r\nnext\r\n")
    assert proto.events == [("line", b"ok"), ("long", b"123456\r\nnext\r\n")]


def test_unterminated_line_limit_counts_the_delimiter() -> None:
    """Without a delimiter, MAX_LENGTH + len(delimiter) - 1 bytes may wait
    (they could still end in a delimiter); one more byte is refused."""
    proto = LineRecorder()
    proto.MAX_LENGTH = 5
    connected(proto)
    proto.dataReceived(b"12345\r")
    assert proto.events == []
    assert not proto.transport.disconnecting
    proto.dataReceived(b"x")
    assert proto.events == [("long", b"12345\rx")]
    assert proto.transport.disconnecting
    assert proto.clearLineBuffer() == b""


def test_partial_delimiter_completing_a_max_length_line() -> None:
    """A MAX_LENGTH line whose delimiter arrives in two pieces is accepted."""
    proto = LineRecorder()
    proto.MAX_LENGTH = 4
    connected(proto)
    for chunk in (b"xxxx", b"\r", b"\nyyy"):
        proto.dataReceived(chunk)
    assert proto.events == [("line", b"xxxx")]
    assert not proto.transport.disconnecting


def test_endless_line_never_buffers_more_than_the_limit() -> None:
    """A peer sending bytes without a delimiter is cut off as soon as the
    buffer passes the limit; the buffer never grows past limit + one chunk."""
    proto = connected(LineRecorder())
    limit = proto.MAX_LENGTH + len(proto.delimiter)
    largest = 0
    for _ in range(200):
        proto.dataReceived(b"A" * 1000)
        largest = max(largest, len(proto._buffer))
    assert largest == limit - 1 - (limit - 1) % 1000
    longs = [value for kind, value in proto.events if kind == "long"]
    assert [len(value) for value in longs] == [17000] * 11
    assert proto.transport.disconnecting


def test_huge_chunk_without_delimiter_dropped_at_once() -> None:
    """One 8 MiB chunk with no delimiter is refused in a single call."""
    proto = connected(LineRecorder())
    proto.dataReceived(b"B" * (8 << 20))
    assert [kind for kind, _ in proto.events] == ["long"]
    assert len(proto.events[0][1]) == 8 << 20
    assert proto._buffer == b""
    assert proto.transport.disconnecting


def test_lose_connection_stops_the_rest_of_the_chunk() -> None:
    """After a callback calls loseConnection no further line of that chunk is
    delivered; the undelivered bytes stay in the buffer."""
    proto = connected(LineRecorder({b"quit": lambda p: p.transport.loseConnection()}))
    proto.dataReceived(b"a\r\nquit\r\nb\r\nc\r\n")
    assert lines(proto) == [b"a", b"quit"]
    assert proto.clearLineBuffer() == b"b\r\nc\r\n"


def test_clear_line_buffer_from_a_callback() -> None:
    """clearLineBuffer inside lineReceived returns the rest and discards it."""
    rests: list[bytes] = []
    proto = LineRecorder({b"foo": lambda p: rests.append(p.clearLineBuffer())})
    proto.dataReceived(b"foo\r\nbar\r\nbaz")
    assert lines(proto) == [b"foo"]
    assert rests == [b"bar\r\nbaz"]
    proto.dataReceived(b"quux\r\n")
    assert lines(proto) == [b"foo", b"quux"]
    assert proto.clearLineBuffer() == b""


def test_raw_mode_receives_the_rest_of_the_chunk() -> None:
    """setRawMode from lineReceived sends the rest of the buffer, and later
    data, to rawDataReceived."""
    proto = connected(LineRecorder({b"HEAD": lambda p: p.setRawMode()}))
    proto.dataReceived(b"x\r\nHEAD\r\nbody\r\nmore")
    proto.dataReceived(b"tail\r\n")
    assert proto.events == [
        ("line", b"x"),
        ("line", b"HEAD"),
        ("raw", b"body\r\nmore"),
        ("raw", b"tail\r\n"),
    ]
    assert proto.line_mode == 0


class LengthPrefixed(basic.LineReceiver):
    """Reads "len N" lines, then N raw bytes, then goes back to lines."""

    delimiter = b"\n"

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes]] = []
        self.wanted = 0

    def lineReceived(self, line: bytes) -> None:
        self.events.append(("line", line))
        if line.startswith(b"len "):
            self.wanted = int(line[4:])
            self.setRawMode()

    def rawDataReceived(self, data: bytes) -> None:
        body, rest = data[: self.wanted], data[self.wanted :]
        self.wanted -= len(body)
        self.events.append(("raw", body))
        if self.wanted == 0:
            self.setLineMode(rest)


def test_set_line_mode_reparses_extra_in_every_chunking() -> None:
    """Bytes handed back with setLineMode(extra) are parsed as lines, in
    order with the data that follows, whatever the chunking."""
    stream = b"hi\nlen 3\nabcone\nlen 0\ntwo\nlen 4\n\n\n\n\nthree\n"
    for chunks in chunkings(stream):
        proto = connected(LengthPrefixed())
        feed(proto, chunks)
        joined: list[tuple[str, bytes]] = []
        for kind, value in proto.events:
            if joined and kind == "raw" and joined[-1][0] == "raw":
                joined[-1] = ("raw", joined[-1][1] + value)
            else:
                joined.append((kind, value))
        assert [event for event in joined if event != ("raw", b"")] == [
            ("line", b"hi"),
            ("line", b"len 3"),
            ("raw", b"abc"),
            ("line", b"one"),
            ("line", b"len 0"),
            ("line", b"two"),
            ("line", b"len 4"),
            ("raw", b"\n\n\n\n"),
            ("line", b"three"),
        ]


def test_set_line_mode_outside_data_received_parses_extra() -> None:
    """setLineMode(extra) called from outside delivers the lines in extra."""
    proto = connected(LineRecorder())
    proto.setRawMode()
    proto.dataReceived(b"raw bytes")
    proto.setLineMode(b"a\r\nb\r\nc")
    assert proto.events == [("raw", b"raw bytes"), ("line", b"a"), ("line", b"b")]
    assert proto.clearLineBuffer() == b"c"


def test_pause_in_callback_holds_lines_until_resume() -> None:
    """pauseProducing in lineReceived stops delivery and pauses the
    transport; resumeProducing delivers what was held back."""
    proto = connected(LineRecorder({b"p": lambda p: p.pauseProducing()}))
    proto.dataReceived(b"a\r\np\r\nb\r\nc")
    assert lines(proto) == [b"a", b"p"]
    assert proto.paused
    assert proto.transport.producerState == "paused"
    proto.dataReceived(b"\r\nd\r\n")
    assert lines(proto) == [b"a", b"p"]
    proto.resumeProducing()
    assert lines(proto) == [b"a", b"p", b"b", b"c", b"d"]
    assert not proto.paused
    assert proto.transport.producerState == "producing"


def test_stop_producing_stops_delivery() -> None:
    """stopProducing from a callback stops delivery and stops the transport."""
    proto = connected(LineRecorder({b"stop": lambda p: p.stopProducing()}))
    proto.dataReceived(b"a\r\nstop\r\nb\r\n")
    assert lines(proto) == [b"a", b"stop"]
    assert proto.paused
    assert proto.transport.producerState == "stopped"


def test_pause_every_line_of_a_large_chunk() -> None:
    """A protocol that pauses after every line still gets every line, in
    order, one per resume (and in linear time: this would take minutes if
    each resume copied or re-split the rest of the chunk)."""
    count = 100_000

    class Consumer(LineRecorder):
        def lineReceived(self, line: bytes) -> None:
            self.events.append(("line", line))
            self.pauseProducing()

    proto = connected(Consumer())
    proto.dataReceived(b"".join(b"%d\r\n" % i for i in range(count)))
    resumes = 0
    while proto.paused:
        proto.resumeProducing()
        resumes += 1
    assert resumes == count
    assert lines(proto) == [b"%d" % i for i in range(count)]


def test_delimiter_change_applies_to_the_next_line() -> None:
    """A delimiter changed in a callback splits the rest of the chunk."""
    proto = connected(
        LineRecorder({b"switch": lambda p: setattr(p, "delimiter", b"\n")})
    )
    proto.dataReceived(b"x\r\nswitch\r\ny\r\nz\n")
    assert lines(proto) == [b"x", b"switch", b"y\r", b"z"]


def test_max_length_change_applies_to_the_next_line() -> None:
    """MAX_LENGTH lowered in a callback applies from the next line on."""
    proto = connected(LineRecorder({b"tight": lambda p: setattr(p, "MAX_LENGTH", 3)}))
    proto.dataReceived(b"abcdef\r\ntight\r\nabc\r\nabcd\r\nz\r\n")
    assert proto.events == [
        ("line", b"abcdef"),
        ("line", b"tight"),
        ("line", b"abc"),
        ("long", b"abcd\r\nz\r\n"),
    ]


def test_truthy_return_from_line_received_stops_and_is_returned() -> None:
    """A true value returned by lineReceived ends dataReceived and is its
    return value; the rest stays buffered."""
    reason = RuntimeError("enough")
    proto = connected(LineRecorder({b"b": lambda p: reason}))
    assert proto.dataReceived(b"a\r\nb\r\nc\r\n") is reason
    assert lines(proto) == [b"a", b"b"]
    assert proto.clearLineBuffer() == b"c\r\n"


def test_truthy_return_from_raw_data_received_is_returned() -> None:
    """dataReceived returns what rawDataReceived returned, if true."""
    proto = connected(basic.LineReceiver())
    proto.rawDataReceived = lambda data: data.upper()  # type: ignore[method-assign]
    proto.setRawMode()
    assert proto.dataReceived(b"data") == b"DATA"


def test_reentrant_data_received_appends() -> None:
    """dataReceived called from a callback queues its bytes behind the rest."""
    proto = connected(LineRecorder({b"a": lambda p: p.dataReceived(b"inner\r\n")}))
    proto.dataReceived(b"a\r\nb\r\n")
    assert lines(proto) == [b"a", b"b", b"inner"]


def test_exception_in_callback_keeps_the_rest() -> None:
    """An exception from lineReceived propagates; the line is consumed and
    the rest is delivered by the next call."""

    def boom(proto: Any) -> None:
        raise ValueError("bad line")

    proto = connected(LineRecorder({b"b": boom}))
    with pytest.raises(ValueError, match="bad line"):
        proto.dataReceived(b"a\r\nb\r\nc\r\n")
    proto.dataReceived(b"")
    assert lines(proto) == [b"a", b"b", b"c"]


def test_empty_delimiter_never_matches() -> None:
    """An empty delimiter finds no line; the length limit still applies."""
    proto = LineRecorder()
    proto.delimiter = b""
    proto.MAX_LENGTH = 4
    connected(proto)
    proto.dataReceived(b"abc")
    assert proto.events == []
    proto.dataReceived(b"d")
    assert proto.events == [("long", b"abcd")]


def test_long_and_short_lines_across_windows() -> None:
    """Lines longer than the parser's split window, mixed with short ones,
    come out whole in any chunk size."""
    parts = [b"s", b"L" * 5000, b"", b"M" * 70000, b"t" * 3, b"N" * 2047, b"u"]
    stream = b"".join(part + b"\r\n" for part in parts) + b"rest"
    for size in (1000, 2048, 4096, 65536, len(stream)):
        proto = LineRecorder()
        proto.MAX_LENGTH = 100_000
        connected(proto)
        feed(proto, [stream[i : i + size] for i in range(0, len(stream), size)])
        assert lines(proto) == parts
        assert proto.clearLineBuffer() == b"rest"


def test_too_long_line_after_many_short_ones() -> None:
    """An over-long line deep in a large chunk is found after every short
    line before it has been delivered."""
    short = [b"%d" % i for i in range(5000)]
    stream = b"".join(s + b"\r\n" for s in short) + b"X" * 20000 + b"\r\nafter\r\n"
    proto = connected(LineRecorder())
    proto.dataReceived(stream)
    assert lines(proto) == short
    assert proto.events[-1] == ("long", b"X" * 20000 + b"\r\nafter\r\n")
    assert proto.transport.disconnecting


def test_many_lines_in_one_chunk_is_fast() -> None:
    """200,000 short lines in one chunk are parsed in well under a second
    (Twisted's quadratic parser needs several seconds for this)."""
    proto = connected(LineRecorder())
    stream = b"".join(b"line %d\r\n" % i for i in range(200_000))
    started = time.perf_counter()
    proto.dataReceived(stream)
    elapsed = time.perf_counter() - started
    assert len(proto.events) == 200_000
    assert proto.events[-1] == ("line", b"line 199999")
    assert elapsed < 2.0


def test_send_line_writes_line_and_delimiter() -> None:
    """sendLine writes the line followed by the delimiter."""
    proto = connected(basic.LineReceiver())
    proto.sendLine(b"hello")
    proto.delimiter = b"\n"
    proto.sendLine(b"")
    assert proto.transport.value() == b"hello\r\n\n"


def test_unimplemented_callbacks_raise() -> None:
    """The callbacks subclasses must override raise NotImplementedError."""
    with pytest.raises(NotImplementedError):
        basic.LineReceiver().lineReceived(b"x")
    with pytest.raises(NotImplementedError):
        basic.LineReceiver().rawDataReceived(b"x")
    with pytest.raises(NotImplementedError):
        basic.LineOnlyReceiver().lineReceived(b"x")
    with pytest.raises(NotImplementedError):
        basic.NetstringReceiver().stringReceived(b"x")
    with pytest.raises(NotImplementedError):
        basic.Int32StringReceiver().stringReceived(b"x")


def test_class_defaults() -> None:
    """Defaults are Twisted's."""
    assert basic.LineReceiver.delimiter == b"\r\n"
    assert basic.LineReceiver.MAX_LENGTH == 16384
    assert basic.LineReceiver.line_mode == 1
    assert basic.LineReceiver.paused is False
    assert basic.LineOnlyReceiver.delimiter == b"\r\n"
    assert basic.LineOnlyReceiver.MAX_LENGTH == 16384
    assert basic.NetstringReceiver.MAX_LENGTH == 99999
    assert basic.IntNStringReceiver.MAX_LENGTH == 99999
    assert basic.FileSender.CHUNK_SIZE == 16384
    assert issubclass(basic.StringTooLongError, AssertionError)
    assert issubclass(basic.NetstringParseError, ValueError)
    assert (
        basic.Int8StringReceiver.prefixLength,
        basic.Int16StringReceiver.prefixLength,
        basic.Int32StringReceiver.prefixLength,
    ) == (1, 2, 4)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(max_size=12).filter(lambda b: b"\r\n" not in b), max_size=30),
    st.binary(max_size=10),
    st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=10),
)
def test_property_any_chunking(body: list[bytes], tail: bytes, cuts: list[int]) -> None:
    """Any lines, any tail, any chunk sizes: the lines come out as written."""
    stream = b"".join(line + b"\r\n" for line in body) + tail
    chunks, position, index = [], 0, 0
    while position < len(stream):
        size = cuts[index % len(cuts)]
        chunks.append(stream[position : position + size])
        position += size
        index += 1
    proto = connected(LineRecorder())
    feed(proto, chunks)
    expected = stream.split(b"\r\n")
    assert lines(proto) == expected[:-1]
    assert proto.clearLineBuffer() == expected[-1]


# LineOnlyReceiver


class LineOnlyRecorder(basic.LineOnlyReceiver):
    """Records lines and over-long lines."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes]] = []

    def lineReceived(self, line: bytes) -> None:
        self.events.append(("line", line))
        if line == b"quit":
            self.transport.loseConnection()

    def lineLengthExceeded(self, line: bytes) -> Any:
        self.events.append(("long", line))
        return basic.LineOnlyReceiver.lineLengthExceeded(self, line)


def test_line_only_every_chunking() -> None:
    """LineOnlyReceiver delivers the same lines however the stream is cut."""
    stream = b"foo\r\n\r\nbar baz\r\n\rq\r\ntail"
    for chunks in chunkings(stream):
        proto = connected(LineOnlyRecorder())
        feed(proto, chunks)
        assert proto.events == [
            ("line", b"foo"),
            ("line", b""),
            ("line", b"bar baz"),
            ("line", b"\rq"),
        ]
        assert proto._buffer == b"tail"


def test_line_only_long_line_and_long_tail() -> None:
    """A complete over-long line is passed alone; an unterminated tail over
    MAX_LENGTH is passed as is; both drop the connection."""
    proto = LineOnlyRecorder()
    proto.MAX_LENGTH = 3
    connected(proto)
    proto.dataReceived(b"abc\r\nabcd\r\nx\r\n")
    assert proto.events == [("line", b"abc"), ("long", b"abcd")]
    assert proto.transport.disconnecting
    proto = LineOnlyRecorder()
    proto.MAX_LENGTH = 3
    connected(proto)
    proto.dataReceived(b"ab\r\nabcd")
    assert proto.events == [("line", b"ab"), ("long", b"abcd")]
    assert proto.transport.disconnecting


def test_line_only_stops_when_disconnecting() -> None:
    """No line is delivered once the transport is disconnecting."""
    proto = connected(LineOnlyRecorder())
    proto.dataReceived(b"a\r\nquit\r\nb\r\n")
    proto.dataReceived(b"c\r\n")
    assert proto.events == [("line", b"a"), ("line", b"quit")]


def test_line_only_send_line_uses_write_sequence() -> None:
    """LineOnlyReceiver.sendLine writes line and delimiter."""
    written: list[Any] = []
    transport = StringTransport()
    transport.writeSequence = written.append  # type: ignore[method-assign]
    proto = connected(basic.LineOnlyReceiver(), transport)
    proto.sendLine(b"hi")
    assert written == [(b"hi", b"\r\n")]


# NetstringReceiver


class NetstringRecorder(basic.NetstringReceiver):
    """Records strings and the reason given to connectionLost."""

    def __init__(self) -> None:
        self.strings: list[bytes] = []
        self.lost: list[Any] = []

    def stringReceived(self, string: bytes) -> None:
        self.strings.append(string)

    def connectionLost(self, reason: Any = None) -> None:
        self.lost.append(reason)


STRINGS = [b"hello", b"", b"1:a,", b":,", b"x" * 300, b"\x00\xff"]


def test_netstring_round_trip_every_chunking() -> None:
    """sendString's framing, fed back in any chunking, gives the strings."""
    sender = connected(basic.NetstringReceiver())
    for string in STRINGS:
        sender.sendString(string)
    stream = sender.transport.value()
    assert stream.startswith(b"5:hello,0:,4:1:a,,2::,,300:")
    for chunks in chunkings(stream, sizes=(1, 2, 3, 299, 301)):
        proto = connected(NetstringRecorder())
        feed(proto, chunks)
        assert proto.strings == STRINGS
        assert not proto.transport.disconnecting
        assert proto.brokenPeer == 0


@pytest.mark.parametrize(
    "stream",
    [
        b"abc",
        b":abc,",
        b"01:a,",
        b"3:abcd,",
        b"0:a,",
        b"3abc,",
        b"-1:,",
        b" 1:a,",
        b"4294967296:",
        b"4294967295:xyz",
        b"9" * 40,
        b"100000:",
        b"1:a,2:bc;",
    ],
)
def test_malformed_netstrings_drop_the_connection(stream: bytes) -> None:
    """Malformed input or a length above MAX_LENGTH, in one chunk or byte by
    byte, sets brokenPeer and loses the connection."""
    for chunks in ([stream], [stream[i : i + 1] for i in range(len(stream))]):
        proto = connected(NetstringRecorder())
        feed(proto, chunks)
        assert proto.transport.disconnecting
        assert proto.brokenPeer == 1
        assert proto.strings == ([b"a"] if stream.startswith(b"1:a,") else [])


def test_netstring_length_refused_before_the_colon() -> None:
    """Digits already above MAX_LENGTH are refused as they arrive, before
    the colon and long before any payload would be buffered."""
    proto = connected(NetstringRecorder())
    proto.dataReceived(b"99999")
    assert not proto.transport.disconnecting
    proto.dataReceived(b"9")
    assert proto.transport.disconnecting
    assert proto._remainingData == b"999999"


def test_netstring_near_2_32_never_buffers_payload() -> None:
    """A length near 2**32 is refused at once; the payload is not kept."""
    proto = connected(NetstringRecorder())
    proto.dataReceived(b"4294967295:")
    assert proto.transport.disconnecting
    assert proto._state == proto._PARSING_LENGTH
    assert proto._remainingData == b"4294967295:"


def test_netstring_exactly_max_length() -> None:
    """A netstring of exactly MAX_LENGTH bytes is accepted, one more is not."""
    proto = NetstringRecorder()
    proto.MAX_LENGTH = 5
    connected(proto)
    proto.dataReceived(b"5:abcde,")
    assert proto.strings == [b"abcde"]
    proto.dataReceived(b"6:")
    assert proto.transport.disconnecting


def test_netstring_error_gives_connection_done() -> None:
    """Malformed input closes with loseConnection: connectionLost receives
    ConnectionDone."""
    transport = StringTransportWithDisconnection()
    proto = NetstringRecorder()
    transport.protocol = proto
    connected(proto, transport)
    proto.dataReceived(b"2:ok,nonsense")
    assert proto.strings == [b"ok"]
    assert len(proto.lost) == 1
    assert proto.lost[0].check(error.ConnectionDone) is error.ConnectionDone


def test_netstring_large_payload_byte_by_byte() -> None:
    """A 99,999-byte payload fed one byte at a time is assembled once."""
    payload = bytes(range(256)) * 390 + b"abc"
    assert len(payload) == 99_843
    proto = connected(NetstringRecorder())
    stream = b"%d:%s," % (len(payload), payload)
    for i in range(len(stream)):
        proto.dataReceived(stream[i : i + 1])
    assert proto.strings == [payload]


def test_netstring_many_in_one_chunk() -> None:
    """50,000 netstrings in one chunk are all delivered, in order."""
    strings = [b"%d" % i for i in range(50_000)]
    proto = connected(NetstringRecorder())
    started = time.perf_counter()
    proto.dataReceived(b"".join(b"%d:%s," % (len(s), s) for s in strings))
    assert proto.strings == strings
    assert time.perf_counter() - started < 2.0


def test_netstring_state_helpers() -> None:
    """_consumeLength and _payloadComplete behave as in Twisted."""
    proto = connected(NetstringRecorder())
    proto._remainingData = b"12:"
    proto._consumeLength()
    assert proto._expectedPayloadSize == 13
    assert proto._remainingData == b""
    proto.MAX_LENGTH = 11
    proto._remainingData = b"12:"
    with pytest.raises(basic.NetstringParseError):
        proto._consumeLength()
    proto._remainingData = b"1"
    with pytest.raises(basic.IncompleteNetstring):
        proto._consumeLength()
    proto = connected(NetstringRecorder())
    proto.dataReceived(b"1:a,1")
    assert proto._payloadComplete()
    assert proto._maxLengthSize() == 6


def test_netstring_lose_connection_in_callback_keeps_parsing_chunk() -> None:
    """As in Twisted, NetstringReceiver goes on with the rest of the chunk
    after a callback called loseConnection."""

    class Quitter(NetstringRecorder):
        def stringReceived(self, string: bytes) -> None:
            self.strings.append(string)
            self.transport.loseConnection()

    proto = connected(Quitter())
    proto.dataReceived(b"1:a,1:b,")
    assert proto.strings == [b"a", b"b"]


# Length-prefixed strings


class IntRecorder:
    """Mixin recording strings and refused lengths."""

    def __init__(self) -> None:
        self.strings: list[bytes] = []
        self.refused: list[int] = []

    def stringReceived(self, string: bytes) -> None:
        self.strings.append(string)

    def lengthLimitExceeded(self, length: int) -> None:
        self.refused.append(length)
        basic.IntNStringReceiver.lengthLimitExceeded(self, length)  # type: ignore[arg-type]


class Int8Recorder(IntRecorder, basic.Int8StringReceiver):
    """Int8StringReceiver recorder."""


class Int16Recorder(IntRecorder, basic.Int16StringReceiver):
    """Int16StringReceiver recorder."""


class Int32Recorder(IntRecorder, basic.Int32StringReceiver):
    """Int32StringReceiver recorder."""


INT_CLASSES = [Int8Recorder, Int16Recorder, Int32Recorder]


@pytest.mark.parametrize("cls", INT_CLASSES)
def test_int_prefixed_round_trip_every_chunking(cls: type) -> None:
    """sendString's framing, fed back in any chunking, gives the strings."""
    strings = [b"a", b"", b"b" * 16, b"\x00\x01\x02", b"c" * 255]
    sender = connected(cls())
    for string in strings:
        sender.sendString(string)
    stream = sender.transport.value()
    width = cls.prefixLength
    assert stream[: width + 1] == (1).to_bytes(width, "big") + b"a"
    for chunks in chunkings(stream, sizes=(1, 2, 3, 4, 5)):
        proto = connected(cls())
        feed(proto, chunks)
        assert proto.strings == strings
        assert proto.recvd == b""


@pytest.mark.parametrize(
    ("cls", "prefix"),
    [
        (Int8Recorder, b"\xff"),
        (Int16Recorder, b"\xff\xff"),
        (Int32Recorder, b"\xff\xff\xff\xff"),
        (Int32Recorder, b"\x00\x01\x86\xa0"),
    ],
)
def test_length_above_limit_refused_before_buffering(cls: type, prefix: bytes) -> None:
    """A prefix above MAX_LENGTH goes to lengthLimitExceeded as soon as the
    prefix is complete; the string is never delivered."""
    length = int.from_bytes(prefix, "big")
    for chunks in ([prefix + b"xyz"], [prefix[i : i + 1] for i in range(len(prefix))]):
        proto = cls()
        proto.MAX_LENGTH = min(99999, length - 1)
        connected(proto)
        feed(proto, chunks)
        assert proto.refused == [length]
        assert proto.strings == []
        assert proto.transport.disconnecting


def test_int32_limit_is_inclusive() -> None:
    """A string of exactly MAX_LENGTH bytes is accepted."""
    proto = Int32Recorder()
    proto.MAX_LENGTH = 3
    connected(proto)
    proto.dataReceived(b"\x00\x00\x00\x03abc\x00\x00\x00\x04")
    assert proto.strings == [b"abc"]
    assert proto.refused == [4]


@pytest.mark.parametrize("cls", INT_CLASSES[:2])
def test_send_string_too_long(cls: type) -> None:
    """sendString refuses a string whose length does not fit the prefix."""
    proto = connected(cls())
    limit = 2 ** (8 * cls.prefixLength)
    with pytest.raises(basic.StringTooLongError) as caught:
        proto.sendString(b"x" * limit)
    assert str(caught.value) == f"Try to send {limit} bytes whereas maximum is {limit}"
    proto.sendString(b"x" * (limit - 1))
    assert len(proto.transport.value()) == limit - 1 + cls.prefixLength


def test_recvd_is_the_unparsed_rest() -> None:
    """recvd seen from stringReceived holds the bytes after the string."""
    seen: list[bytes] = []
    proto = connected(Int16Recorder())
    proto.stringReceived = lambda s: seen.append(proto.recvd)  # type: ignore[method-assign]
    proto.dataReceived(b"\x00\x01a\x00\x02b")
    assert seen == [b"\x00\x02b"]
    assert proto.recvd == b"\x00\x02b"


def test_recvd_assignment_replaces_the_buffer() -> None:
    """Assigning recvd in stringReceived makes parsing continue from it."""
    got: list[bytes] = []
    proto = connected(Int8Recorder())

    def stringReceived(string: bytes) -> None:
        if not got:
            proto.recvd = b"\x01z"
        got.append(string)

    proto.stringReceived = stringReceived  # type: ignore[method-assign]
    proto.dataReceived(b"\x01a\x01b")
    assert got == [b"a", b"z"]
    assert proto.recvd == b""


def test_int_pause_and_resume() -> None:
    """A paused IntN receiver holds strings until resumed."""
    proto = connected(Int8Recorder())
    proto.pauseProducing()
    proto.dataReceived(b"\x01a\x01b")
    assert proto.strings == []
    assert proto.transport.producerState == "paused"
    proto.resumeProducing()
    assert proto.strings == [b"a", b"b"]


def test_many_int32_strings_in_one_chunk() -> None:
    """100,000 length-prefixed strings in one chunk are delivered in order."""
    strings = [b"%d" % i for i in range(100_000)]
    proto = connected(Int32Recorder())
    proto.dataReceived(b"".join(struct.pack("!I", len(s)) + s for s in strings))
    assert proto.strings == strings


# StatefulStringProtocol


class Stateful(basic.StatefulStringProtocol, basic.Int8StringReceiver):
    """Walks init -> second -> done."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []

    def proto_init(self, string: bytes) -> str:
        self.seen.append(("init", string))
        return "second"

    def proto_second(self, string: bytes) -> str:
        self.seen.append(("second", string))
        return "done" if string == b"bye" else "second"


def test_stateful_string_protocol() -> None:
    """Each string goes to proto_<state>; the state "done" disconnects."""
    proto = connected(Stateful())
    proto.dataReceived(b"\x01a\x01b")
    assert proto.seen == [("init", b"a"), ("second", b"b")]
    assert not proto.transport.disconnecting
    proto.dataReceived(b"\x03bye")
    assert proto.state == "done"
    assert proto.transport.disconnecting


def test_stateful_unknown_state_is_logged() -> None:
    """A state without a handler is logged and the string dropped."""
    events: list[dict[str, Any]] = []
    log.addObserver(events.append)
    try:
        proto = connected(Stateful())
        proto.state = "nowhere"
        proto.dataReceived(b"\x01a")
    finally:
        log.removeObserver(events.append)
    assert proto.seen == []
    assert proto.state == "nowhere"
    assert [e.get("message") for e in events] == [("callback", "nowhere", "not found")]


# FileSender


def test_file_sender_provides_iproducer() -> None:
    """FileSender declares and implements IProducer."""
    sender = basic.FileSender()
    assert verifyObject(IProducer, sender)
    assert not IPullProducer.providedBy(sender)


def test_file_sender_streams_in_chunks() -> None:
    """Each resumeProducing writes one CHUNK_SIZE read; the Deferred fires
    with the last byte after the read that finds the end of the file."""
    consumer = StringTransport()
    sender = basic.FileSender()
    sender.CHUNK_SIZE = 4
    results: list[Any] = []
    d = sender.beginFileTransfer(BytesIO(b"Test content"), consumer)
    d.addCallback(results.append)
    assert consumer.producer is sender
    assert consumer.streaming is False
    written = []
    for _ in range(3):
        sender.resumeProducing()
        written.append(consumer.value())
    assert written == [b"Test", b"Test con", b"Test content"]
    assert results == []
    sender.resumeProducing()
    assert results == [b"t"]
    assert consumer.producer is None


def test_file_sender_transform() -> None:
    """The transform is applied to each chunk before it is written."""
    consumer = StringTransport()
    results: list[Any] = []
    sender = basic.FileSender()
    sender.beginFileTransfer(
        BytesIO(b"abc" * 10000), consumer, bytes.upper
    ).addCallback(results.append)
    while consumer.producer is not None:
        sender.resumeProducing()
    assert consumer.value() == b"ABC" * 10000
    assert results == [b"C"]


def test_file_sender_empty_file_fires_with_empty_str() -> None:
    """An empty file finishes at once with Twisted's initial lastSent, ''."""
    consumer = StringTransport()
    results: list[Any] = []
    sender = basic.FileSender()
    sender.beginFileTransfer(BytesIO(b""), consumer).addCallback(results.append)
    sender.resumeProducing()
    assert results == [""]


def test_file_sender_stop_producing_fails_the_deferred() -> None:
    """stopProducing before the end errbacks with Twisted's message."""
    consumer = StringTransport()
    failures: list[Any] = []
    sender = basic.FileSender()
    sender.beginFileTransfer(BytesIO(b"data"), consumer).addErrback(failures.append)
    sender.stopProducing()
    assert len(failures) == 1
    assert failures[0].type is Exception
    assert str(failures[0].value) == "Consumer asked us to stop producing"
    sender.stopProducing()
    assert len(failures) == 1


def test_delivered_lines_are_not_retained() -> None:
    """After a large chunk, only the undelivered tail stays referenced."""
    proto = connected(LineRecorder())
    proto.dataReceived(b"".join(b"line %d\r\n" % i for i in range(50_000)) + b"tail")
    assert len(proto.events) == 50_000
    assert proto._lrData == b"tail"
    assert proto._lrOffset == 0
