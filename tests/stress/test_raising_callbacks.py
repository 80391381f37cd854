"""User code that raises (issue 6, part 6), in every callback the reactor
makes: buildProtocol, connectionMade, dataReceived, connectionLost,
readConnectionLost, a timer, a thread call, a system event trigger, and a
producer's pauseProducing.

The per-callback tests run on torsion and on Twisted (``flavor``): each
error is logged once with its traceback, and the connection is handled as
Twisted handles it.  The load test raises from all of them at once while
1,000 other connections, driven by plain sockets from another thread,
keep echoing.
"""

from __future__ import annotations

import importlib
import logging
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import run_until, spin, wait
from zope.interface import implementer


class Boom(Exception):
    """The exception user code raises here; ``kind`` says from where."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def explode(kind: str) -> None:
    """Raise Boom(kind); its name must show in the logged traceback."""
    raise Boom(kind)


class LoggedErrors:
    """Failures published to a framework's global log publisher."""

    def __init__(self, name: str, caplog: Any) -> None:
        logger = importlib.import_module(name + ".logger")
        self.name = name
        self.caplog = caplog
        self.publisher = logger.globalLogPublisher
        self.failures: list[Any] = []
        self.publisher.addObserver(self.observe)

    def stdlib(self) -> list[str]:
        """torsion also logs each error to the ``logging`` logger "torsion"
        at CRITICAL: the formatted records."""
        return [
            logging.Formatter().format(r)
            for r in self.caplog.records
            if r.name == "torsion" and r.levelno == logging.CRITICAL
        ]

    def observe(self, event: dict) -> None:
        found = event.get("log_failure")
        if found is None and event.get("isError"):
            found = event.get("failure")
        if found is not None:
            self.failures.append(found)

    def kinds(self) -> list[str]:
        """The Boom kinds logged, in order (anything else by type name)."""
        return [
            f.value.kind if isinstance(f.value, Boom) else f.type.__name__
            for f in self.failures
        ]

    def close(self) -> None:
        self.publisher.removeObserver(self.observe)


@pytest.fixture
def logged(request: pytest.FixtureRequest) -> Iterator[LoggedErrors]:
    """What the test logs, on the framework it runs on; torsion's
    flushLoggedErrors collector is emptied before and after."""
    name = "torsion"
    if "flavor" in request.fixturenames:
        name = request.getfixturevalue("flavor").name
    from torsion.internet.testing import flushLoggedErrors

    flushLoggedErrors()
    caplog = request.getfixturevalue("caplog")
    caplog.set_level(logging.CRITICAL, logger="torsion")
    errors = LoggedErrors(name, caplog)
    try:
        yield errors
    finally:
        errors.close()
        flushLoggedErrors()


def assert_logged_once_with_traceback(logged: LoggedErrors, kind: str) -> None:
    assert logged.kinds() == [kind]
    text = logged.failures[0].getTraceback()
    assert "explode" in text, text
    assert f"Boom: {kind}" in text, text
    if logged.name == "torsion":
        [record] = logged.stdlib()
        assert "Traceback" in record
        assert "explode" in record and f"Boom: {kind}" in record


class Peer:
    """A plain client socket, non-blocking once connected."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.received = bytearray()
        self.end: str | None = None

    def pump(self) -> bool:
        """Read what has arrived; True once the server has closed."""
        for _ in range(1000):
            if self.end:
                break
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                break
            except ConnectionResetError:
                self.end = "reset"
                break
            if not chunk:
                self.end = "eof"
                break
            self.received += chunk
        return self.end is not None

    def close(self) -> None:
        self.sock.close()


def listen(flavor: Any, factory: Any) -> Any:
    factory.noisy = False
    return flavor.reactor.listenTCP(0, factory, interface="127.0.0.1")


def stop_listening(reactor: Any, port: Any) -> None:
    results: list = []
    port.stopListening().addBoth(results.append)
    spin(reactor, lambda: results)


def recording(flavor: Any, events: list, raiseIn: str, base: Any = None) -> type:
    """A protocol that records its callbacks, echoes, and raises Boom from
    the callback named ``raiseIn``."""
    base = base or flavor.protocol.Protocol

    class Recorder(base):
        def connectionMade(self) -> None:
            events.append("connectionMade")
            if raiseIn == "connectionMade":
                explode(raiseIn)

        def dataReceived(self, data: bytes) -> None:
            events.append(("dataReceived", data))
            if raiseIn == "dataReceived":
                explode(raiseIn)
            self.transport.write(data)

        def connectionLost(self, reason: Any) -> None:
            events.append(("connectionLost", reason.type, reason.value))
            if raiseIn == "connectionLost":
                explode(raiseIn)

    return Recorder


# ------------------------------------------------ per callback, vs Twisted


def test_connectionMade_raises(flavor, logged):
    """Twisted logs the error and keeps the connection: it is registered
    for reading before connectionMade runs, so data still arrives and is
    echoed; it ends normally when the peer closes."""
    reactor, error = flavor.reactor, flavor.error
    events: list = []
    proto = recording(flavor, events, "connectionMade")
    port = listen(flavor, flavor.protocol.Factory.forProtocol(proto))
    peer = Peer(port.getHost().port)
    try:
        spin(reactor, lambda: events)
        peer.sock.send(b"still there?")
        spin(reactor, lambda: (peer.pump(), len(peer.received) == 12)[1])
        peer.sock.shutdown(socket.SHUT_WR)
        spin(reactor, lambda: peer.pump() and len(events) == 3)
        wait(reactor, 0.05)
    finally:
        peer.close()
    assert events == [
        "connectionMade",
        ("dataReceived", b"still there?"),
        ("connectionLost", error.ConnectionDone, events[2][2]),
    ]
    assert bytes(peer.received) == b"still there?"
    assert peer.end == "eof"
    assert_logged_once_with_traceback(logged, "connectionMade")
    stop_listening(reactor, port)


def test_dataReceived_raises(flavor, logged):
    """The error is logged once, the connection closed (the peer reads
    EOF), and connectionLost gets a Failure of that very exception."""
    reactor = flavor.reactor
    events: list = []
    proto = recording(flavor, events, "dataReceived")
    port = listen(flavor, flavor.protocol.Factory.forProtocol(proto))
    peer = Peer(port.getHost().port)
    try:
        peer.sock.send(b"trigger")
        spin(reactor, lambda: peer.pump() and len(events) == 3)
        wait(reactor, 0.05)
    finally:
        peer.close()
    assert events[:2] == ["connectionMade", ("dataReceived", b"trigger")]
    assert events[2][:2] == ("connectionLost", Boom)
    assert events[2][2] is logged.failures[0].value
    assert len(events) == 3
    assert bytes(peer.received) == b""
    assert peer.end == "eof"
    assert_logged_once_with_traceback(logged, "dataReceived")
    stop_listening(reactor, port)


def test_connectionLost_raises(flavor, logged):
    """Logged once; the reactor goes on (the port still accepts)."""
    reactor, error = flavor.reactor, flavor.error
    events: list = []
    proto = recording(flavor, events, "connectionLost")
    port = listen(flavor, flavor.protocol.Factory.forProtocol(proto))
    for _ in range(2):
        peer = Peer(port.getHost().port)
        try:
            count = len(events)
            spin(reactor, lambda c=count: len(events) > c)
            peer.sock.shutdown(socket.SHUT_WR)
            spin(reactor, lambda c=count: len(events) == c + 2)
        finally:
            peer.close()
    wait(reactor, 0.05)
    done = ("connectionLost", error.ConnectionDone)
    assert [e if isinstance(e, str) else e[:2] for e in events] == [
        "connectionMade",
        done,
        "connectionMade",
        done,
    ]
    assert logged.kinds() == ["connectionLost", "connectionLost"]
    assert "explode" in logged.failures[0].getTraceback()
    stop_listening(reactor, port)


def test_readConnectionLost_raises(flavor, logged):
    """Twisted logs the error and closes the connection: connectionLost
    gets a Failure of the exception, once."""
    reactor = flavor.reactor
    events: list = []

    @implementer(flavor.interfaces.IHalfCloseableProtocol)
    class HalfCloser(recording(flavor, events, "none")):
        def readConnectionLost(self) -> None:
            events.append("readConnectionLost")
            explode("readConnectionLost")

        def writeConnectionLost(self) -> None:
            events.append("writeConnectionLost")

    port = listen(flavor, flavor.protocol.Factory.forProtocol(HalfCloser))
    peer = Peer(port.getHost().port)
    try:
        peer.sock.send(b"half")
        peer.sock.shutdown(socket.SHUT_WR)
        spin(reactor, lambda: peer.pump() and len(events) == 4)
        wait(reactor, 0.05)
    finally:
        peer.close()
    assert events[:3] == [
        "connectionMade",
        ("dataReceived", b"half"),
        "readConnectionLost",
    ]
    assert events[3][:2] == ("connectionLost", Boom)
    assert events[3][2] is logged.failures[0].value
    assert len(events) == 4
    # The echo of b"half": torsion sends it from write() at once; Twisted
    # queues it for the next writable event, which never comes, because
    # the same poll also reports the EOF and the read is handled first.
    assert bytes(peer.received) == (b"half" if flavor.name == "torsion" else b"")
    assert peer.end == "eof"
    assert_logged_once_with_traceback(logged, "readConnectionLost")
    stop_listening(reactor, port)


def test_buildProtocol_raises(reactor, logged):
    """torsion only: Twisted leaves the accepted socket to the garbage
    collector (a ResourceWarning here), torsion closes it at once (see the
    README).  Logged once; the peer reads EOF; the port goes on."""
    from torsion.internet import protocol

    built: list = []

    class Picky(protocol.Factory):
        noisy = False

        def buildProtocol(self, addr: Any) -> Any:
            built.append(addr)
            if len(built) == 1:
                explode("buildProtocol")
            return protocol.Factory.buildProtocol(self, addr)

    factory = Picky()
    factory.protocol = protocol.Protocol
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    first = Peer(port.getHost().port)
    second = None
    clientPorts = [first.sock.getsockname()[1]]
    try:
        spin(reactor, lambda: first.pump())
        second = Peer(port.getHost().port)
        clientPorts.append(second.sock.getsockname()[1])
        spin(reactor, lambda: len(built) == 2)
        wait(reactor, 0.05)
        assert not second.pump()
    finally:
        first.close()
        if second is not None:
            second.close()
    assert first.end in ("eof", "reset")
    assert [a.port for a in built] == clientPorts
    assert_logged_once_with_traceback(logged, "buildProtocol")
    stop_listening(reactor, port)


@pytest.mark.parametrize("source", ["timer", "thread call", "trigger"])
def test_reactor_call_raises(flavor, logged, source):
    """A timer, a thread call and a system event trigger that raise: logged
    once with the traceback; the next call of the same kind still runs."""
    reactor = flavor.reactor
    after: list = []
    if source == "timer":
        reactor.callLater(0, explode, source)
        reactor.callLater(0, after.append, source)
    elif source == "thread call":
        thread = threading.Thread(
            target=lambda: (
                reactor.callFromThread(explode, source),
                reactor.callFromThread(after.append, source),
            )
        )
        reactor.callWhenRunning(thread.start)
    else:
        reactor.addSystemEventTrigger("during", "custom", explode, source)
        reactor.addSystemEventTrigger("during", "custom", after.append, source)
        reactor.callLater(0, reactor.fireSystemEvent, "custom")
    spin(reactor, lambda: after)
    if source == "thread call":
        thread.join(timeout=10)
    assert after == [source]
    assert_logged_once_with_traceback(logged, source)


def test_pauseProducing_raises_out_of_write(flavor, logged):
    """A push producer whose pauseProducing raises: the exception comes out
    of the write() that crossed the high-water mark, as in Twisted; nothing
    is logged; the data written is still delivered."""
    reactor = flavor.reactor
    caught: list = []
    events: list = []

    @implementer(flavor.interfaces.IPushProducer)
    class Touchy:
        def pauseProducing(self) -> None:
            events.append("pause")
            explode("pauseProducing")

        def resumeProducing(self) -> None:
            events.append("resume")

        def stopProducing(self) -> None:
            events.append("stop")

    class Writer(flavor.protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.registerProducer(Touchy(), True)
            for i in range(40):
                try:
                    self.transport.write(bytes([65 + i % 26]) * 4096)
                except Boom as e:
                    caught.append((i, e.kind))
            self.transport.unregisterProducer()
            self.transport.loseConnection()

        def connectionLost(self, reason: Any) -> None:
            events.append(("connectionLost", reason.type))

    port = listen(flavor, flavor.protocol.Factory.forProtocol(Writer))
    peer = Peer(port.getHost().port)
    try:
        spin(reactor, lambda: peer.pump() and len(events) >= 2)
        wait(reactor, 0.05)
    finally:
        peer.close()
    assert caught and caught[0][1] == "pauseProducing"
    assert len(caught) == events.count("pause")
    assert events[-1] == ("connectionLost", flavor.error.ConnectionDone)
    assert bytes(peer.received) == b"".join(
        bytes([65 + i % 26]) * 4096 for i in range(40)
    )
    assert peer.end == "eof"
    assert logged.kinds() == []
    stop_listening(reactor, port)


# ------------------------------------------------ all of them, under load


class EchoLoad(threading.Thread):
    """``count`` plain client sockets, driven from this thread with a
    selector: each sends ``rounds`` distinct messages, one at a time, and
    checks that each comes back whole before sending the next."""

    def __init__(self, port: int, count: int, rounds: int, deadline: float) -> None:
        super().__init__(daemon=True)
        self.address = ("127.0.0.1", port)
        self.count = count
        self.rounds = rounds
        self.deadline = deadline
        self.completed = 0
        self.problems: list[str] = []
        self.finished = threading.Event()

    def message(self, i: int, r: int) -> bytes:
        return b"%d/%d:" % (i, r) + bytes([97 + (i + r) % 26]) * 40 + b"\n"

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        socks: list[socket.socket] = []
        try:
            self.drive(selector, socks)
        except BaseException as e:
            self.problems.append(f"driver crashed: {e!r}")
        finally:
            for sock in socks:
                sock.close()
            selector.close()
            self.finished.set()

    def drive(self, selector: Any, socks: list[socket.socket]) -> None:
        # Per connection: [round, bytes left to send, bytes received].
        state: dict[int, list] = {}
        for i in range(self.count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setblocking(False)
            sock.connect_ex(self.address)
            state[i] = [0, self.message(i, 0), bytearray()]
            selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, i)
        while self.completed + len(self.problems) < self.count:
            if time.monotonic() > self.deadline:
                self.problems.append(
                    f"timed out with {self.completed} of {self.count} done"
                )
                return
            for key, mask in selector.select(timeout=0.1):
                i = key.data
                sock = key.fileobj
                entry = state[i]
                if mask & selectors.EVENT_WRITE and entry[1]:
                    try:
                        sent = sock.send(entry[1])
                    except BlockingIOError:
                        sent = 0
                    entry[1] = entry[1][sent:]
                    if not entry[1]:
                        selector.modify(sock, selectors.EVENT_READ, i)
                if mask & selectors.EVENT_READ:
                    try:
                        chunk = sock.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError as e:
                        self.problems.append(f"connection {i}: {e!r}")
                        selector.unregister(sock)
                        continue
                    if not chunk:
                        self.problems.append(f"connection {i}: closed early")
                        selector.unregister(sock)
                        continue
                    entry[2] += chunk
                    expected = self.message(i, entry[0])
                    if len(entry[2]) < len(expected):
                        continue
                    if entry[2] != expected:
                        self.problems.append(f"connection {i}: got {bytes(entry[2])!r}")
                        selector.unregister(sock)
                        continue
                    entry[0] += 1
                    entry[2] = bytearray()
                    if entry[0] == self.rounds:
                        self.completed += 1
                        selector.unregister(sock)
                    else:
                        entry[1] = self.message(i, entry[0])
                        selector.modify(
                            sock, selectors.EVENT_READ | selectors.EVENT_WRITE, i
                        )


def test_every_callback_raises_while_1000_connections_echo(reactor, logged):
    """While 1,000 plain-socket clients each do three echo round trips, user
    code raises in buildProtocol, connectionMade, dataReceived,
    connectionLost, readConnectionLost, a timer, a thread call and a system
    event trigger, repeatedly: each error is logged once with its
    traceback, each troubled connection is handled as in the tests above,
    and every echo comes back intact."""
    from torsion.internet import error, interfaces, protocol

    class Echo(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    echoFactory = protocol.Factory.forProtocol(Echo)
    echoFactory.noisy = False
    echoPort = reactor.listenTCP(0, echoFactory, backlog=1024, interface="127.0.0.1")
    load = EchoLoad(echoPort.getHost().port, 1000, 3, time.monotonic() + 40)

    lost: dict[str, list] = {}

    class Troubled(protocol.Protocol):
        """Raises from the callback its factory names."""

        def connectionMade(self) -> None:
            if self.factory.kind == "connectionMade":
                explode("connectionMade")

        def dataReceived(self, data: bytes) -> None:
            if self.factory.kind == "dataReceived":
                explode("dataReceived")
            self.transport.write(data)

        def connectionLost(self, reason: Any) -> None:
            lost.setdefault(self.factory.kind, []).append(reason)
            if self.factory.kind == "connectionLost":
                explode("connectionLost")

    @implementer(interfaces.IHalfCloseableProtocol)
    class HalfTroubled(Troubled):
        def readConnectionLost(self) -> None:
            explode("readConnectionLost")

    class TroubledFactory(protocol.Factory):
        noisy = False

        def __init__(self, kind: str) -> None:
            self.kind = kind
            self.protocol = HalfTroubled if kind == "readConnectionLost" else Troubled

        def buildProtocol(self, addr: Any) -> Any:
            if self.kind == "buildProtocol":
                explode("buildProtocol")
            return protocol.Factory.buildProtocol(self, addr)

    tcpKinds = [
        "buildProtocol",
        "connectionMade",
        "dataReceived",
        "connectionLost",
        "readConnectionLost",
    ]
    ports = {
        kind: reactor.listenTCP(0, TroubledFactory(kind), interface="127.0.0.1")
        for kind in tcpKinds
    }
    # Rounds of trouble, every 50 ms until the echo load is done (5 at
    # least), so that the errors happen while the echoes are in flight.
    rounds: list[int] = []
    peers: list[Peer] = []
    callers: list[threading.Thread] = []
    others = ["timer", "thread call", "trigger"]

    def troubleAgain() -> None:
        # One troubled connection of each kind, plus one of each reactor
        # call; the peers send, then half-close their side.
        for kind, port in ports.items():
            peer = Peer(port.getHost().port)
            peers.append(peer)
            if kind != "buildProtocol":
                peer.sock.send(b"x")
                peer.sock.shutdown(socket.SHUT_WR)
        reactor.callLater(0, explode, "timer")
        caller = threading.Thread(
            target=reactor.callFromThread, args=(explode, "thread call")
        )
        callers.append(caller)
        caller.start()
        # As in Twisted, firing an event uses up its triggers: add anew.
        reactor.addSystemEventTrigger("during", "custom", explode, "trigger")
        reactor.fireSystemEvent("custom")
        rounds.append(len(rounds) + 1)
        if len(rounds) < 5 or not load.finished.is_set():
            reactor.callLater(0.05, troubleAgain)
        else:
            rounds.append(0)  # the last round was made

    reactor.callWhenRunning(load.start)
    reactor.callWhenRunning(troubleAgain)
    try:
        run_until(
            reactor,
            lambda: (
                load.finished.is_set()
                and all(peer.pump() for peer in peers)
                and rounds[-1] == 0
                and len(logged.failures) >= (len(rounds) - 1) * 8
            ),
            timeout=50,
        )
    finally:
        load.finished.wait(timeout=20)
        for caller in callers:
            caller.join(timeout=10)
        for peer in peers:
            peer.close()
    REPEAT = len(rounds) - 1
    assert len(peers) == REPEAT * len(tcpKinds)
    print(f"\n{REPEAT} rounds of errors while the echo load ran")
    assert load.problems == []
    assert load.completed == 1000
    kinds = logged.kinds()
    assert sorted(set(kinds)) == sorted([*tcpKinds, *others])
    assert {kind: kinds.count(kind) for kind in set(kinds)} == dict.fromkeys(
        set(kinds), REPEAT
    )
    for failure in logged.failures:
        assert "explode" in failure.getTraceback()
    # How each troubled connection ended (as in the tests above).
    assert sorted(lost) == [
        "connectionLost",
        "connectionMade",
        "dataReceived",
        "readConnectionLost",
    ]
    for kind, reasons in lost.items():
        assert len(reasons) == REPEAT, kind
        for reason in reasons:
            if kind in ("dataReceived", "readConnectionLost"):
                assert reason.type is Boom and reason.value.kind == kind
            else:
                assert reason.type is error.ConnectionDone
    assert all(peer.end in ("eof", "reset") for peer in peers)
