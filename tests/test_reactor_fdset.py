"""IReactorFDSet with plain Python descriptors over real socketpairs:
add/remove/get readers and writers, removeAll, Twisted's level-triggered
doRead/doWrite, and what a returned reason or an exception leads to;
every scenario runs on torsion and on Twisted's EPollReactor (``flavor``)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
from conftest import run_until
from zope.interface import implementer


@pytest.fixture(autouse=True)
def _flushLoggedErrors():
    """Errors these tests provoke on purpose are checked where they matter;
    drop them afterwards so they do not reach later tests' collectors."""
    yield
    from torsion.internet.testing import flushLoggedErrors

    flushLoggedErrors()


class Descriptor:
    """A reader/writer around one end of a socketpair that records every
    call; ``onRead``/``onWrite`` decide what doRead/doWrite do."""

    def __init__(self, events: list, name: str = "d") -> None:
        self.events = events
        self.name = name
        self.sock, self.peer = socket.socketpair()
        self.sock.setblocking(False)
        self.fd = self.sock.fileno()
        self.onRead: Any = None
        self.onWrite: Any = None
        self.reasons: list = []

    def fileno(self) -> int:
        return self.fd

    def doRead(self) -> Any:
        self.events.append((self.name, "read"))
        return self.onRead() if self.onRead is not None else None

    def doWrite(self) -> Any:
        self.events.append((self.name, "write"))
        return self.onWrite() if self.onWrite is not None else None

    def connectionLost(self, reason: Any) -> None:
        self.reasons.append(reason)
        self.events.append((self.name, "lost", reason.type, reason.value))

    def logPrefix(self) -> str:
        return self.name

    def close(self) -> None:
        self.sock.close()
        self.peer.close()


@pytest.fixture
def made(flavor):
    """Collects Descriptors to unregister and close after the test."""
    items: list[Descriptor] = []
    yield items
    for d in items:
        d.fd = d.sock.fileno()
        flavor.reactor.removeReader(d)
        flavor.reactor.removeWriter(d)
        d.close()


def _new(made: list, events: list, name: str = "d") -> Descriptor:
    d = Descriptor(events, name)
    made.append(d)
    return d


def _readers(reactor: Any) -> list:
    internal = getattr(reactor, "_internalReaders", set())
    return [r for r in reactor.getReaders() if r not in internal]


def _turns(reactor: Any, n: int) -> None:
    for _ in range(n):
        reactor.iterate(0)


def test_add_get_remove(flavor, made):
    """addReader/addWriter show in getReaders/getWriters, remove* take them
    out; adding twice or removing what is absent is harmless."""
    reactor = flavor.reactor
    events: list = []
    r, w = _new(made, events, "r"), _new(made, events, "w")
    assert _readers(reactor) == [] and reactor.getWriters() == []
    reactor.addReader(r)
    reactor.addReader(r)
    reactor.addWriter(w)
    assert _readers(reactor) == [r]
    assert reactor.getWriters() == [w]
    reactor.removeWriter(r)
    reactor.removeReader(w)
    assert _readers(reactor) == [r]
    assert reactor.getWriters() == [w]
    reactor.removeReader(r)
    reactor.removeReader(r)
    assert _readers(reactor) == []
    assert reactor.getWriters() == [w]
    reactor.removeWriter(w)
    assert reactor.getWriters() == []


def test_removeAll(flavor, made):
    """removeAll returns every descriptor once (even one that both reads
    and writes) and leaves nothing registered."""
    reactor = flavor.reactor
    events: list = []
    both, r, w = (_new(made, events, n) for n in ("both", "r", "w"))
    reactor.addReader(both)
    reactor.addWriter(both)
    reactor.addReader(r)
    reactor.addWriter(w)
    removed = reactor.removeAll()
    assert len(removed) == 3
    assert {id(x) for x in removed} == {id(both), id(r), id(w)}
    assert _readers(reactor) == [] and reactor.getWriters() == []
    _turns(reactor, 2)
    assert events == []


def test_doRead_is_level_triggered(flavor, made):
    """doRead runs on every turn while data stays unread, and stops once
    it is read."""
    reactor = flavor.reactor
    events: list = []
    d = _new(made, events)
    d.peer.send(b"x")
    reactor.addReader(d)
    _turns(reactor, 3)
    assert events == [("d", "read")] * 3
    d.onRead = lambda: events.append(("got", d.sock.recv(10)))
    _turns(reactor, 3)
    assert events == [("d", "read")] * 4 + [("got", b"x")]


def test_no_doRead_without_data(flavor, made):
    """A reader whose descriptor has nothing to read is not called."""
    reactor = flavor.reactor
    events: list = []
    reactor.addReader(_new(made, events))
    _turns(reactor, 3)
    assert events == []


def test_doWrite_while_registered_and_writable(flavor, made):
    """doWrite runs each turn while registered (and writable); not after
    removeWriter."""
    reactor = flavor.reactor
    events: list = []
    d = _new(made, events)
    reactor.addWriter(d)
    _turns(reactor, 3)
    assert events == [("d", "write")] * 3
    reactor.removeWriter(d)
    _turns(reactor, 2)
    assert events == [("d", "write")] * 3


def test_read_then_write_in_one_turn(flavor, made):
    """A descriptor both readable and writable gets doRead then doWrite in
    the same turn."""
    reactor = flavor.reactor
    events: list = []
    d = _new(made, events)
    d.peer.send(b"x")
    reactor.addReader(d)
    reactor.addWriter(d)
    _turns(reactor, 2)
    assert events == [("d", "read"), ("d", "write")] * 2


def test_readiness_wakes_the_running_loop(flavor, made):
    """Data arriving while the loop sleeps reaches doRead promptly."""
    reactor = flavor.reactor
    events: list = []
    d = _new(made, events)
    times: list = []

    def read():
        times.append(time.monotonic())
        d.sock.recv(10)

    d.onRead = read
    sent: list = []

    def send():
        time.sleep(0.05)
        sent.append(time.monotonic())
        d.peer.send(b"x")

    worker = threading.Thread(target=send)
    reactor.addReader(d)
    reactor.callWhenRunning(worker.start)
    run_until(reactor, lambda: times)
    worker.join()
    assert times[0] - sent[0] < 0.05


def test_doRead_returning_ConnectionDone(flavor, made):
    """doRead returning ConnectionDone(): connectionLost gets Twisted's one
    shared Failure(ConnectionDone) (not the returned instance) and the
    descriptor is removed for reading and writing."""
    reactor = flavor.reactor
    events: list = []
    a, b = _new(made, events, "a"), _new(made, events, "b")
    for d in (a, b):
        d.peer.send(b"x")
        d.onRead = flavor.error.ConnectionDone
        reactor.addReader(d)
        reactor.addWriter(d)
    _turns(reactor, 3)
    assert sorted(e[:3] for e in events) == [
        ("a", "lost", flavor.error.ConnectionDone),
        ("a", "read"),
        ("b", "lost", flavor.error.ConnectionDone),
        ("b", "read"),
    ]
    assert len(events) == 4
    assert a.reasons[0] is b.reasons[0]
    assert _readers(reactor) == [] and reactor.getWriters() == []


def test_peer_close_then_doRead_reads_eof(flavor, made):
    """The peer closing makes the descriptor readable; doRead reading b""
    and returning ConnectionDone ends it with that reason."""
    reactor = flavor.reactor
    events: list = []
    d = _new(made, events)

    def read():
        data = d.sock.recv(10)
        events.append(("data", data))
        return None if data else flavor.error.ConnectionDone()

    d.onRead = read
    d.peer.send(b"last")
    d.peer.close()
    reactor.addReader(d)
    _turns(reactor, 3)
    assert events[:4] == [
        ("d", "read"),
        ("data", b"last"),
        ("d", "read"),
        ("data", b""),
    ]
    assert events[4][:3] == ("d", "lost", flavor.error.ConnectionDone)
    assert len(events) == 5


def test_unconsumed_eof_keeps_calling_doRead(flavor, made):
    """A reader that ignores EOF is called on every turn, as Twisted's."""
    reactor = flavor.reactor
    events: list = []
    d = _new(made, events)
    d.peer.close()
    reactor.addReader(d)
    _turns(reactor, 3)
    assert events == [("d", "read")] * 3


def test_doRead_returning_another_reason(flavor, made):
    """Any other returned exception is the Failure given to connectionLost."""
    reactor = flavor.reactor
    events: list = []
    d = _new(made, events)
    d.peer.send(b"x")
    reason = ValueError("v")
    d.onRead = lambda: reason
    reactor.addReader(d)
    _turns(reactor, 2)
    assert events == [("d", "read"), ("d", "lost", ValueError, reason)]
    assert _readers(reactor) == []


def test_doWrite_returning_ConnectionLost(flavor, made):
    """doWrite returning ConnectionLost() disconnects the descriptor with
    the shared Failure(ConnectionLost), as a lost peer does."""
    reactor = flavor.reactor
    events: list = []
    a, b = _new(made, events, "a"), _new(made, events, "b")
    a.onWrite = flavor.error.ConnectionLost
    reactor.addReader(a)
    reactor.addWriter(a)
    b.peer.close()
    reactor.addWriter(b)
    _turns(reactor, 2)
    assert sorted(e[:3] for e in events) == [
        ("a", "lost", flavor.error.ConnectionLost),
        ("a", "write"),
        ("b", "lost", flavor.error.ConnectionLost),
    ]
    assert a.reasons[0] is b.reasons[0]
    assert _readers(reactor) == [] and reactor.getWriters() == []


def test_doRead_raising(flavor, made):
    """doRead raising: connectionLost gets a Failure of that very exception
    (it is also logged) and the descriptor is removed."""
    reactor = flavor.reactor
    events: list = []
    d = _new(made, events)
    d.peer.send(b"x")
    exc = ZeroDivisionError("in doRead")

    def boom():
        raise exc

    d.onRead = boom
    reactor.addReader(d)
    _turns(reactor, 2)
    assert events == [("d", "read"), ("d", "lost", ZeroDivisionError, exc)]
    assert _readers(reactor) == []


def test_doWrite_raising(flavor, made):
    """doWrite raising disconnects the writer with that exception."""
    reactor = flavor.reactor
    events: list = []
    d = _new(made, events)
    exc = OSError("in doWrite")

    def boom():
        raise exc

    d.onWrite = boom
    reactor.addWriter(d)
    _turns(reactor, 2)
    assert events == [("d", "write"), ("d", "lost", OSError, exc)]
    assert reactor.getWriters() == []


def test_writer_only_peer_gone(flavor, made):
    """A writer (not reader) whose peer is gone gets connectionLost with
    ConnectionLost, without doWrite."""
    reactor = flavor.reactor
    events: list = []
    d = _new(made, events)
    d.peer.close()
    reactor.addWriter(d)
    _turns(reactor, 2)
    assert len(events) == 1
    assert events[0][:3] == ("d", "lost", flavor.error.ConnectionLost)
    assert reactor.getWriters() == []


def test_fileno_minus_one_is_descriptor_gone(flavor, made):
    """A descriptor whose fileno() becomes -1 is disconnected with
    ConnectionFdescWentAway('File descriptor lost')."""
    reactor = flavor.reactor
    events: list = []
    d = _new(made, events)
    d.peer.send(b"x")

    def forget():
        d.fd = -1

    d.onRead = forget
    reactor.addReader(d)
    _turns(reactor, 3)
    assert len(events) == 2
    assert events[1][:3] == ("d", "lost", flavor.error.ConnectionFdescWentAway)
    assert str(events[1][3]) == "Uh: File descriptor lost."
    assert _readers(reactor) == []


def test_half_closeable_reader_gets_readConnectionLost(flavor, made):
    """An IHalfCloseableDescriptor whose doRead returns ConnectionDone gets
    readConnectionLost, stops reading, and keeps writing."""
    reactor = flavor.reactor
    events: list = []

    @implementer(flavor.interfaces.IHalfCloseableDescriptor)
    class Half(Descriptor):
        def readConnectionLost(self, reason):
            self.events.append((self.name, "readConnectionLost", reason.type))

    d = Half(events, "h")
    made.append(d)
    d.peer.send(b"x")
    d.onRead = lambda: flavor.error.ConnectionDone()
    reactor.addReader(d)
    reactor.addWriter(d)
    _turns(reactor, 3)
    assert events == [
        ("h", "read"),
        ("h", "readConnectionLost", flavor.error.ConnectionDone),
        ("h", "write"),
        ("h", "write"),
    ]
    assert _readers(reactor) == []
    assert reactor.getWriters() == [d]


def test_reader_removing_another_ready_reader(flavor, made):
    """A doRead that removes another reader ready in the same turn keeps
    that reader from being called."""
    reactor = flavor.reactor
    events: list = []
    a, b = _new(made, events, "a"), _new(made, events, "b")
    for d, other in ((a, b), (b, a)):
        d.peer.send(b"x")
        d.onRead = lambda other=other: reactor.removeReader(other)
        reactor.addReader(d)
    _turns(reactor, 3)
    assert len(events) == 3
    assert events[0] in (("a", "read"), ("b", "read"))
    assert events[1:] == [events[0]] * 2
