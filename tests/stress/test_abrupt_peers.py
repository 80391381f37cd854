"""Abrupt peers (issue 6, part 5): a torsion server facing plain-socket
clients that reset mid-transfer, half-close, say nothing, or trickle one
byte at a time.

Every scenario runs on torsion and on Twisted's EPollReactor (``flavor``)
and asserts the same events: exactly one connectionLost per connection,
with the reason Twisted gives, and nothing logged as an error.
"""

from __future__ import annotations

import importlib
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import spin, wait
from zope.interface import implementer

BIG = 16 << 20  # more than loopback's socket buffers can absorb


class LoggedErrors:
    """Failures published to the flavor's global log publisher."""

    def __init__(self, name: str) -> None:
        logger = importlib.import_module(name + ".logger")
        self.publisher = logger.globalLogPublisher
        self.failures: list[Any] = []
        self.publisher.addObserver(self.observe)

    def observe(self, event: dict) -> None:
        found = event.get("log_failure")
        if found is None and event.get("isError"):
            found = event.get("failure")
        if found is not None:
            self.failures.append(found)

    def close(self) -> None:
        self.publisher.removeObserver(self.observe)


@pytest.fixture
def logged(flavor: Any) -> Iterator[LoggedErrors]:
    """Errors logged during the test; must stay empty."""
    if flavor.name == "torsion":
        from torsion.internet.testing import flushLoggedErrors

        flushLoggedErrors()
    errors = LoggedErrors(flavor.name)
    try:
        yield errors
    finally:
        errors.close()
    assert [f.getTraceback() for f in errors.failures] == []
    if flavor.name == "torsion":
        from torsion.internet.testing import flushLoggedErrors

        assert flushLoggedErrors() == []


class Peer:
    """A plain client socket, non-blocking once connected; ``pump()`` reads
    whatever has arrived (call it from the reactor's loop)."""

    def __init__(self, port: int, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if rcvbuf is not None:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.connect(("127.0.0.1", port))
        except BaseException:
            self.sock.close()
            raise
        self.sock.setblocking(False)
        self.received = bytearray()
        self.eof = False

    def pump(self) -> None:
        for _ in range(1000):
            if self.eof:
                return
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                return
            if not chunk:
                self.eof = True
                return
            self.received += chunk

    def reset(self) -> None:
        """Close with SO_LINGER 0: the kernel sends RST, not FIN."""
        self.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


def listen(flavor: Any, protocolClass: type) -> Any:
    factory = flavor.protocol.Factory.forProtocol(protocolClass)
    factory.noisy = False
    return flavor.reactor.listenTCP(0, factory, interface="127.0.0.1")


def stop_listening(reactor: Any, port: Any) -> None:
    results: list = []
    port.stopListening().addBoth(results.append)
    spin(reactor, lambda: results)


def policies(flavor: Any) -> Any:
    return importlib.import_module(flavor.name + ".protocols.policies")


def test_reset_during_large_write(flavor, logged):
    """The server writes 16 MiB (pausing its registered push producer); the
    client reads a little and resets.  The server's connectionLost gets
    ConnectionLost, once; the producer is stopped, never resumed."""
    reactor, error = flavor.reactor, flavor.error
    events: list = []
    servers: list = []

    @implementer(flavor.interfaces.IPushProducer)
    class Producer:
        def pauseProducing(self) -> None:
            events.append("pause")

        def resumeProducing(self) -> None:
            events.append("resume")

        def stopProducing(self) -> None:
            events.append("stop")

    class Sender(flavor.protocol.Protocol):
        def connectionMade(self) -> None:
            servers.append(self)
            self.transport.registerProducer(Producer(), True)
            self.transport.write(b"x" * BIG)
            events.append("wrote")

        def connectionLost(self, reason: Any) -> None:
            events.append(("connectionLost", reason.type))

    port = listen(flavor, Sender)
    peer = Peer(port.getHost().port, rcvbuf=4096)
    try:
        spin(reactor, lambda: "wrote" in events)
        # Let the kernel buffers fill, read some of it, then reset.
        wait(reactor, 0.1)
        spin(reactor, lambda: (peer.pump(), len(peer.received) > 0)[1])
        assert events == ["pause", "wrote"]
        peer.reset()
        spin(reactor, lambda: len(events) > 2)
        wait(reactor, 0.1)
    finally:
        peer.close()
    assert events == [
        "pause",
        "wrote",
        "stop",
        ("connectionLost", error.ConnectionLost),
    ]
    assert 0 < len(peer.received) < BIG
    assert set(peer.received) == {ord("x")}
    stop_listening(reactor, port)


def test_half_close_half_closeable_protocol(flavor, logged):
    """The client sends a question and shuts its write side.  A
    half-closeable server gets readConnectionLost, still writes its answer
    (now and 50 ms later), then closes: connectionLost(ConnectionDone)."""
    reactor, error = flavor.reactor, flavor.error
    events: list = []

    @implementer(flavor.interfaces.IHalfCloseableProtocol)
    class Answerer(flavor.protocol.Protocol):
        question = b""

        def dataReceived(self, data: bytes) -> None:
            self.question += data

        def readConnectionLost(self) -> None:
            events.append(("readConnectionLost", self.question))
            self.transport.write(b"answer to " + self.question)
            reactor.callLater(0.05, self.later)

        def later(self) -> None:
            self.transport.write(b"; and later")
            events.append("wrote later")
            self.transport.loseConnection()

        def writeConnectionLost(self) -> None:
            events.append("writeConnectionLost")

        def connectionLost(self, reason: Any) -> None:
            events.append(("connectionLost", reason.type))

    port = listen(flavor, Answerer)
    peer = Peer(port.getHost().port)
    try:
        peer.sock.sendall(b"what is it?")
        peer.sock.shutdown(socket.SHUT_WR)
        spin(reactor, lambda: (peer.pump(), peer.eof)[1])
        spin(reactor, lambda: len(events) >= 3)
        wait(reactor, 0.05)
    finally:
        peer.close()
    assert bytes(peer.received) == b"answer to what is it?; and later"
    assert events == [
        ("readConnectionLost", b"what is it?"),
        "wrote later",
        ("connectionLost", error.ConnectionDone),
    ]
    stop_listening(reactor, port)


def test_half_close_plain_protocol(flavor, logged):
    """A protocol that is not half-closeable sees the peer's half-close as
    the end: the data, then connectionLost(ConnectionDone), once; the
    client reads EOF."""
    reactor, error = flavor.reactor, flavor.error
    events: list = []

    class Plain(flavor.protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            events.append(data)

        def connectionLost(self, reason: Any) -> None:
            events.append(("connectionLost", reason.type))

    port = listen(flavor, Plain)
    peer = Peer(port.getHost().port)
    try:
        peer.sock.sendall(b"bye")
        peer.sock.shutdown(socket.SHUT_WR)
        spin(reactor, lambda: (peer.pump(), peer.eof and len(events) >= 2)[1])
        wait(reactor, 0.05)
    finally:
        peer.close()
    assert events == [b"bye", ("connectionLost", error.ConnectionDone)]
    assert bytes(peer.received) == b""
    stop_listening(reactor, port)


def test_silent_peer_timed_out(flavor, logged):
    """A client that connects and sends nothing is closed by TimeoutMixin
    (0.3 s): timeoutConnection once, then connectionLost(ConnectionDone);
    the client reads EOF within a bound."""
    reactor, error = flavor.reactor, flavor.error
    events: list = []

    class Idle(policies(flavor).TimeoutMixin, flavor.protocol.Protocol):
        callLater = reactor.callLater

        def connectionMade(self) -> None:
            self.started = time.monotonic()
            self.setTimeout(0.3)

        def dataReceived(self, data: bytes) -> None:
            events.append(data)

        def timeoutConnection(self) -> None:
            events.append(("timeoutConnection", time.monotonic() - self.started))
            super().timeoutConnection()

        def connectionLost(self, reason: Any) -> None:
            events.append(("connectionLost", reason.type))
            self.setTimeout(None)

    port = listen(flavor, Idle)
    peer = Peer(port.getHost().port)
    try:
        began = time.monotonic()
        spin(reactor, lambda: (peer.pump(), peer.eof)[1], timeout=5)
        closedAfter = time.monotonic() - began
        spin(reactor, lambda: len(events) >= 2)
        wait(reactor, 0.05)
    finally:
        peer.close()
    assert [e[0] for e in events] == ["timeoutConnection", "connectionLost"]
    assert 0.3 <= events[0][1] < 1.3
    assert events[1] == ("connectionLost", error.ConnectionDone)
    assert 0.29 <= closedAfter < 1.5
    assert bytes(peer.received) == b""
    stop_listening(reactor, port)


def test_trickling_peer_kept_alive(flavor, logged):
    """A client sending one byte every 0.2 s, ten times, under a 1 s
    TimeoutMixin timeout that each byte resets: the connection stays up,
    every byte arrives in order; once the client stops, the timeout closes
    it, at least 1 s after the last byte."""
    reactor, error = flavor.reactor, flavor.error
    events: list = []
    received: list[tuple[float, bytes]] = []
    sent: list[float] = []

    class Patient(policies(flavor).TimeoutMixin, flavor.protocol.Protocol):
        callLater = reactor.callLater

        def connectionMade(self) -> None:
            self.setTimeout(1.0)

        def dataReceived(self, data: bytes) -> None:
            received.append((time.monotonic(), data))
            self.resetTimeout()

        def timeoutConnection(self) -> None:
            events.append(("timeoutConnection", time.monotonic()))
            super().timeoutConnection()

        def connectionLost(self, reason: Any) -> None:
            events.append(("connectionLost", reason.type))
            self.setTimeout(None)

    port = listen(flavor, Patient)
    peer = Peer(port.getHost().port)
    payload = b"0123456789"

    def send_next() -> None:
        if peer.eof or len(sent) == len(payload):
            return
        peer.sock.send(payload[len(sent) : len(sent) + 1])
        sent.append(time.monotonic())
        if len(sent) < len(payload):
            reactor.callLater(0.2, send_next)

    try:
        reactor.callLater(0, send_next)
        spin(reactor, lambda: (peer.pump(), peer.eof)[1], timeout=10)
        spin(reactor, lambda: len(events) >= 2)
        wait(reactor, 0.05)
    finally:
        peer.close()
    assert len(sent) == len(payload)
    assert b"".join(data for _, data in received) == payload
    assert [e[0] for e in events] == ["timeoutConnection", "connectionLost"]
    assert events[0][1] - received[-1][0] >= 0.99
    assert events[0][1] - sent[-1] < 2.5
    assert events[1] == ("connectionLost", error.ConnectionDone)
    stop_listening(reactor, port)
