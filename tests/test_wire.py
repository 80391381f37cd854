"""torsion.protocols.wire over real loopback connections, each scenario run
on torsion and on Twisted (``flavor``) and checked byte for byte."""

from __future__ import annotations

import calendar
import importlib
import struct
import time
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import spin

NOISE = b'@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~ !"#$%&?'


def wire(flavor: SimpleNamespace) -> Any:
    """The flavor's wire module."""
    return importlib.import_module(f"{flavor.name}.protocols.wire")


def exchange(
    flavor: SimpleNamespace,
    serverProtocol: type,
    send: list[bytes] = (),  # type: ignore[assignment]
    closeAfter: int | None = None,
    waitFor: int | None = None,
) -> SimpleNamespace:
    """Serve ``serverProtocol`` on loopback, connect, write ``send`` one
    piece per reactor turn, and collect what comes back until the server
    closes (or, with ``closeAfter``, until that many bytes arrived, then
    close). Returns the bytes and how the connection ended."""
    reactor = flavor.reactor
    result = SimpleNamespace(data=b"", reason=None, done=False)

    class Client(flavor.protocol.Protocol):
        def connectionMade(self) -> None:
            pieces = list(send)

            def next() -> None:
                if pieces and self.transport.connected:
                    self.transport.write(pieces.pop(0))
                    reactor.callLater(0, next)

            next()

        def dataReceived(self, data: bytes) -> None:
            result.data += data
            if closeAfter is not None and len(result.data) >= closeAfter:
                self.transport.loseConnection()
            if waitFor is not None and len(result.data) >= waitFor:
                self.transport.loseConnection()

        def connectionLost(self, reason: Any) -> None:
            result.reason = reason.type
            result.done = True

    port = reactor.listenTCP(
        0, flavor.protocol.Factory.forProtocol(serverProtocol), interface="127.0.0.1"
    )
    creator = flavor.protocol.ClientCreator(reactor, Client)
    creator.connectTCP("127.0.0.1", port.getHost().port)
    try:
        spin(reactor, lambda: result.done)
    finally:
        port.stopListening()
    return result


def test_echo(flavor):
    """Every byte comes back, in order, however it was split."""
    payload = bytes(range(256)) * 40
    pieces = [payload[i : i + 997] for i in range(0, len(payload), 997)]
    result = exchange(flavor, wire(flavor).Echo, pieces, waitFor=len(payload))
    assert result.data == payload


def test_discard(flavor):
    """Nothing comes back; the server keeps the connection open until the
    client hangs up."""
    w = wire(flavor)

    class Closing(w.Discard):
        def dataReceived(self, data: bytes) -> None:
            w.Discard.dataReceived(self, data)
            if data.endswith(b"end"):
                self.transport.write(b"!")

    result = exchange(flavor, Closing, [b"x" * 1000, b"y" * 10, b"end"], waitFor=1)
    assert result.data == b"!"
    assert w.Discard().dataReceived(b"ignored") is None


def test_chargen(flavor):
    """The noise line repeated, as much as the client reads; the server
    goes on until the client hangs up."""
    result = exchange(flavor, wire(flavor).Chargen, closeAfter=200_000)
    assert len(result.data) >= 200_000
    assert len(result.data) % len(NOISE) == 0
    assert result.data == NOISE * (len(result.data) // len(NOISE))
    assert wire(flavor).Chargen.noise == NOISE


@pytest.mark.parametrize(
    ("name", "expected"),
    [("QOTD", b"An apple a day keeps the doctor away.\r\n"), ("Who", b"root\r\n")],
)
def test_one_shot(flavor, name, expected):
    """QOTD and Who send their text and close the connection cleanly."""
    result = exchange(flavor, getattr(wire(flavor), name))
    assert result.data == expected
    assert result.reason is flavor.error.ConnectionDone


def test_overridable(flavor):
    """getQuote and getUsers are the hooks for other text."""
    w = wire(flavor)

    class Quote(w.QOTD):
        def getQuote(self) -> bytes:
            return b"other\r\n"

    class Users(w.Who):
        def getUsers(self) -> bytes:
            return b"alice\r\nbob\r\n"

    assert exchange(flavor, Quote).data == b"other\r\n"
    assert exchange(flavor, Users).data == b"alice\r\nbob\r\n"


def test_time(flavor):
    """Four bytes: the Unix time, signed big-endian (Twisted's choice of
    epoch, not RFC 868's), then the server closes."""
    before = int(time.time())
    result = exchange(flavor, wire(flavor).Time)
    after = int(time.time())
    assert len(result.data) == 4
    (sent,) = struct.unpack("!i", result.data)
    assert before <= sent <= after
    assert result.reason is flavor.error.ConnectionDone


def test_daytime(reactor):
    """torsion's Daytime sends asctime of UTC and CRLF. (Twisted's raises
    TypeError on Python 3: it adds bytes to str.)"""
    from torsion.internet import error, protocol
    from torsion.protocols import wire as x_wire

    flavor = SimpleNamespace(name="torsion", reactor=reactor, protocol=protocol)
    before = time.time()
    result = exchange(flavor, x_wire.Daytime)
    after = time.time()
    assert result.reason is error.ConnectionDone
    assert result.data.endswith(b"\r\n")
    text = result.data[:-2].decode("ascii")
    sent = calendar.timegm(time.strptime(text, "%a %b %d %H:%M:%S %Y"))
    assert int(before) <= sent <= after
    assert text == time.asctime(time.gmtime(sent))
