"""Fidelity audit of torsion's networking API against Twisted 26.10.

Every test runs one scenario on Twisted and on torsion and asserts the
values Twisted gives (recorded from Twisted 26.10): reactor-based scenarios
use the ``flavor`` fixture over real loopback sockets; the others use the
``impl`` fixture below, which hands out the matching module set.
"""

from __future__ import annotations

import functools
import gc
import importlib
import random
import re
import types
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from conftest import run_until
from zope.interface import implementer

# ---------------------------------------------------------------------------
# helpers


_MODULES = {
    "basic": "protocols.basic",
    "policies": "protocols.policies",
    "portforward": "protocols.portforward",
    "protocol": "internet.protocol",
    "testing": "internet.testing",
    "task": "internet.task",
    "defer": "internet.defer",
    "error": "internet.error",
    "address": "internet.address",
    "endpoints": "internet.endpoints",
    "main": "internet.main",
    "service": "application.service",
    "appinternet": "application.internet",
    "failure": "python.failure",
    "log": "python.log",
}


def _modules(root: str) -> types.SimpleNamespace:
    ns = types.SimpleNamespace(name=root)
    for key, path in _MODULES.items():
        setattr(ns, key, importlib.import_module(f"{root}.{path}"))
    return ns


def _impls() -> list[str]:
    """Parameters for ``impl``: Twisted, then torsion."""
    return ["twisted", "torsion"]


@pytest.fixture
def impl(request: pytest.FixtureRequest) -> types.SimpleNamespace:
    """The module set of the framework named by the parametrization."""
    return _modules(request.param)


def _outcome(function: Callable[[], Any]) -> Any:
    """The value returned, or (exception type name, message)."""
    try:
        return function()
    except Exception as e:
        return (type(e).__name__, str(e))


def _noAddress(text: str) -> str:
    return re.sub(r"0x[0-9a-f]+", "0xX", text)


def _noPort(text: str, port: int) -> str:
    return text.replace(str(port), "PORT")


class _Recorder:
    """A pair of connected protocols (server and client) over loopback that
    record their events in one list; ``hooks`` run user actions."""

    def __init__(
        self,
        flavor: Any,
        server: dict[str, Callable[..., Any]] | None = None,
        client: dict[str, Callable[..., Any]] | None = None,
        events: list[Any] | None = None,
    ) -> None:
        self.flavor = flavor
        self.events: list[Any] = [] if events is None else events
        self.lost: list[str] = []
        self.serverClass = self._make("S", server or {})
        self.clientClass = self._make("C", client or {})

    def _make(self, side: str, hooks: dict[str, Callable[..., Any]]) -> type:
        recorder = self
        events = self.events

        class Side(self.flavor.protocol.Protocol):
            def connectionMade(self) -> None:
                events.append((side, "made"))
                if "made" in hooks:
                    hooks["made"](self)

            def dataReceived(self, data: bytes) -> None:
                events.append((side, "data", data))
                if "data" in hooks:
                    hooks["data"](self, data)

            def connectionLost(self, reason: Any) -> None:
                events.append(
                    (side, "lost", reason.type.__name__, reason.getErrorMessage())
                )
                if "lost" in hooks:
                    hooks["lost"](self, reason)
                recorder.lost.append(side)

        Side.__name__ = Side.__qualname__ = "Side"
        return Side

    def run(
        self, until: Callable[[], bool] | None = None, timeout: float = 5.0
    ) -> list[Any]:
        reactor = self.flavor.reactor
        protocol = self.flavor.protocol
        port = reactor.listenTCP(
            0, protocol.Factory.forProtocol(self.serverClass), interface="127.0.0.1"
        )
        self.port = port.getHost().port
        reactor.connectTCP(
            "127.0.0.1", self.port, protocol.ClientFactory.forProtocol(self.clientClass)
        )
        try:
            run_until(reactor, until or (lambda: len(self.lost) >= 2), timeout)
        finally:
            port.stopListening()
        return self.events


def _record(events: list[Any], tag: str, function: Callable[[], Any]) -> None:
    events.append((tag, _outcome(function)))


DONE = ("lost", "ConnectionDone", "Connection was closed cleanly.")
ABORTED = (
    "lost",
    "ConnectionAborted",
    "Connection was aborted locally using ITCPTransport.abortConnection.",
)
LOST = (
    "lost",
    "ConnectionLost",
    "Connection to the other side was lost in a non-clean fashion.",
)


# ---------------------------------------------------------------------------
# TCP transport: closing orders and reasons


def _writeThenAbort(p: Any) -> None:
    p.transport.write(b"x" * 10)
    p.transport.abortConnection()


def _loseThenAbort(p: Any) -> None:
    p.transport.loseConnection()
    p.transport.abortConnection()


def _abortThenLose(p: Any) -> None:
    p.transport.abortConnection()
    p.transport.loseConnection()


def _abortTwice(p: Any) -> None:
    p.transport.abortConnection()
    p.transport.abortConnection()


@pytest.mark.parametrize(
    "server, client, expected",
    [
        (
            {},
            {"made": _writeThenAbort},
            [("S", "made"), ("C", "made"), ("C", *ABORTED), ("S", *LOST)],
        ),
        (
            {"made": _abortTwice},
            {},
            [("S", "made"), ("C", "made"), ("S", *ABORTED), ("C", *LOST)],
        ),
        (
            {"made": _loseThenAbort},
            {},
            [("S", "made"), ("C", "made"), ("S", *ABORTED), ("C", *LOST)],
        ),
        (
            {"made": _abortThenLose},
            {},
            [("S", "made"), ("C", "made"), ("S", *ABORTED), ("C", *LOST)],
        ),
        (
            {},
            {"made": lambda p: p.transport.loseConnection()},
            [("S", "made"), ("C", "made"), ("C", *DONE), ("S", *DONE)],
        ),
    ],
    ids=[
        "client-write-abort",
        "abort-twice",
        "lose-then-abort",
        "abort-then-lose",
        "client-lose",
    ],
)
def test_close_orders_and_reasons(flavor, server, client, expected):
    """Who sees connectionLost first, with which reason and message, for
    each combination of loseConnection/abortConnection."""
    assert _Recorder(flavor, server, client).run() == expected


def test_flags_through_lose_connection(flavor):
    """connected/disconnecting/disconnected of the transport and the
    protocol's connected, before and after loseConnection and inside
    connectionLost on both sides."""
    events: list[Any] = []

    def flags(p: Any, tag: str) -> None:
        t = p.transport
        events.append((tag, t.connected, t.disconnecting, t.disconnected, p.connected))

    def made(p: Any) -> None:
        flags(p, "m1")
        p.transport.loseConnection()
        flags(p, "m2")

    rec = _Recorder(
        flavor,
        {"made": made, "lost": lambda p, r: flags(p, "sl")},
        {"lost": lambda p, r: flags(p, "cl")},
    )
    rec.run()
    assert events == [
        ("m1", 1, 0, 0, 1),
        ("m2", 1, 1, 0, 1),
        ("sl", 0, 1, 1, 1),
        ("cl", 0, 0, 1, 1),
    ]


def test_flags_through_abort_connection(flavor):
    """abortConnection does not set disconnecting; inside connectionLost
    the transport is disconnected."""
    events: list[Any] = []

    def flags(p: Any, tag: str) -> None:
        t = p.transport
        events.append((tag, t.connected, t.disconnecting, t.disconnected))

    def made(p: Any) -> None:
        p.transport.abortConnection()
        flags(p, "m")

    _Recorder(flavor, {"made": made, "lost": lambda p, r: flags(p, "sl")}).run()
    assert events == [("m", 1, 0, 0), ("sl", 0, 0, 1)]


def test_close_calls_inside_connection_lost_are_harmless(flavor):
    """loseConnection and abortConnection from inside connectionLost do
    nothing more; the peer still sees a clean close."""
    events: list[Any] = []

    def lost(p: Any, reason: Any) -> None:
        p.transport.loseConnection()
        p.transport.abortConnection()
        events.append((p.transport.connected, p.transport.disconnecting))

    rec = _Recorder(
        flavor, {"made": lambda p: p.transport.loseConnection(), "lost": lost}
    )
    assert rec.run() == [("S", "made"), ("C", "made"), ("S", *DONE), ("C", *DONE)]
    assert events == [(0, 1)]


def test_write_inside_connection_lost_is_dropped(flavor):
    """write() after the connection is gone returns None and sends
    nothing."""
    events: list[Any] = []
    rec = _Recorder(
        flavor,
        {
            "made": lambda p: p.transport.loseConnection(),
            "lost": lambda p, r: _record(events, "w", lambda: p.transport.write(b"zz")),
        },
    )
    assert rec.run() == [("S", "made"), ("C", "made"), ("S", *DONE), ("C", *DONE)]
    assert events == [("w", None)]


def test_write_type_errors(flavor):
    """write and writeSequence of str (or of a str inside) raise
    TypeError("Data must be bytes"); writeSequence(None) the iteration
    error; a bytes subclass is sent."""
    events: list[Any] = []

    def made(p: Any) -> None:
        t = p.transport
        _record(events, "str", lambda: t.write("zz"))
        _record(events, "seq of ints", lambda: t.writeSequence(b"ab"))
        _record(events, "seq str", lambda: t.writeSequence("ab"))
        _record(events, "none", lambda: t.writeSequence(None))
        _record(events, "subclass", lambda: t.write(type("B", (bytes,), {})(b"sub")))
        t.loseConnection()

    rec = _Recorder(flavor, {"made": made})
    assert rec.run() == [
        ("S", "made"),
        ("C", "made"),
        ("S", *DONE),
        ("C", "data", b"sub"),
        ("C", *DONE),
    ]
    assert events == [
        ("str", ("TypeError", "Data must be bytes")),
        ("seq of ints", ("TypeError", "Data must be bytes")),
        ("seq str", ("TypeError", "Data must be bytes")),
        ("none", ("TypeError", "'NoneType' object is not iterable")),
        ("subclass", None),
    ]


def test_write_after_lose_write_connection_is_still_sent(flavor):
    """Twisted sends data written after loseWriteConnection() (it is
    queued before the FIN); disconnecting stays false."""
    events: list[Any] = []

    def made(p: Any) -> None:
        p.transport.write(b"a")
        p.transport.loseWriteConnection()
        _record(events, "w", lambda: p.transport.write(b"b"))
        events.append(("disconnecting", p.transport.disconnecting))

    rec = _Recorder(
        flavor, {"made": made}, {"data": lambda p, d: p.transport.loseConnection()}
    )
    assert rec.run() == [
        ("S", "made"),
        ("C", "made"),
        ("C", "data", b"ab"),
        ("C", *DONE),
        ("S", *DONE),
    ]
    assert events == [("w", None), ("disconnecting", 0)]


@pytest.mark.parametrize("method", ["stopReading", "pauseProducing"])
def test_paused_reading_holds_data_and_close(flavor, method):
    """While reading is paused the server sees neither the data nor the
    peer's close; resuming delivers both, in order."""
    events: list[Any] = []
    resume = {"stopReading": "startReading", "pauseProducing": "resumeProducing"}[
        method
    ]

    def made(p: Any) -> None:
        getattr(p.transport, method)()

        def later() -> None:
            events.append("resume")
            getattr(p.transport, resume)()

        flavor.reactor.callLater(0.2, later)

    def clientMade(p: Any) -> None:
        p.transport.write(b"hi")
        p.transport.loseConnection()

    rec = _Recorder(flavor, {"made": made}, {"made": clientMade}, events)
    assert rec.run() == [
        ("S", "made"),
        ("C", "made"),
        ("C", *DONE),
        "resume",
        ("S", "data", b"hi"),
        ("S", *DONE),
    ]


def test_stop_producing_closes_cleanly(flavor):
    """transport.stopProducing() is a clean loseConnection."""
    rec = _Recorder(flavor, {"made": lambda p: p.transport.stopProducing()})
    assert rec.run() == [("S", "made"), ("C", "made"), ("S", *DONE), ("C", *DONE)]


def test_lose_write_then_lose_connection(flavor):
    """A half-closeable client sees the data, then readConnectionLost,
    then closes itself; the server's loseConnection after its
    loseWriteConnection ends it at once."""
    events: list[Any] = []
    interfaces = importlib.import_module(flavor.name + ".internet.interfaces")

    @implementer(interfaces.IHalfCloseableProtocol)
    class Client(flavor.protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            events.append(("C", "data", data))

        def readConnectionLost(self) -> None:
            events.append(("C", "rcl", self.transport.disconnecting))
            self.transport.loseConnection()

        def writeConnectionLost(self) -> None:
            events.append(("C", "wcl"))

        def connectionLost(self, reason: Any) -> None:
            events.append(("C", "lost", reason.type.__name__))

    class Server(flavor.protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.write(b"a")
            self.transport.loseWriteConnection()
            self.transport.loseConnection()

        def connectionLost(self, reason: Any) -> None:
            events.append(("S", "lost", reason.type.__name__))

    reactor = flavor.reactor
    port = reactor.listenTCP(
        0, flavor.protocol.Factory.forProtocol(Server), interface="127.0.0.1"
    )
    reactor.connectTCP(
        "127.0.0.1",
        port.getHost().port,
        flavor.protocol.ClientFactory.forProtocol(Client),
    )
    try:
        run_until(reactor, lambda: len([e for e in events if e[1] == "lost"]) == 2)
    finally:
        port.stopListening()
    assert events == [
        ("S", "lost", "ConnectionDone"),
        ("C", "data", b"a"),
        ("C", "rcl", 0),
        ("C", "lost", "ConnectionDone"),
    ]


# ---------------------------------------------------------------------------
# TCP transport: names, reprs and the log system of protocol callbacks


def test_server_transport_log_prefix_and_repr(flavor):
    """A server transport's logPrefix is "<protocol>,<session>,<peer
    host>" and its repr "<protocol #session on port>"."""
    seen: list[Any] = []

    def look(p: Any) -> None:
        seen.append((p.transport.logPrefix(), repr(p.transport), str(p.transport)))
        p.transport.loseConnection()

    rec = _Recorder(flavor, {"made": look})
    rec.run()
    assert [tuple(_noPort(x, rec.port) for x in s) for s in seen] == [
        ("Side,0,127.0.0.1", "<Side #0 on PORT>", "<Side #0 on PORT>")
    ]


def test_server_transport_log_prefix_inside_connection_lost(flavor, request):
    """Twisted's server logPrefix is fixed at accept: still the
    protocol's name inside connectionLost."""
    seen: list[Any] = []
    rec = _Recorder(
        flavor,
        {
            "made": lambda p: p.transport.loseConnection(),
            "lost": lambda p, r: seen.append(p.transport.logPrefix()),
        },
    )
    rec.run()
    assert seen == ["Side,0,127.0.0.1"]


def test_client_transport_log_prefix(flavor, request):
    """Twisted's client transport logPrefix is "<protocol>,client"."""
    seen: list[Any] = []
    rec = _Recorder(
        flavor,
        client={
            "made": lambda p: (
                seen.append(p.transport.logPrefix()),
                p.transport.loseConnection(),
            )
        },
    )
    rec.run()
    assert seen == ["Side,client"]


def test_client_transport_repr(flavor, request):
    """Twisted: "<<class '...tcp.Client'> to ('127.0.0.1', port) at hex id>"."""
    seen: list[Any] = []
    rec = _Recorder(
        flavor,
        client={
            "made": lambda p: (
                seen.append(repr(p.transport)),
                p.transport.loseConnection(),
            )
        },
    )
    rec.run()
    [text] = seen
    expected = (
        f"<<class '{flavor.name}.internet.tcp.Client'> to ('127.0.0.1', {rec.port}) at "
    )
    assert text.startswith(expected)
    assert re.fullmatch(r"[0-9a-f]+>", text[len(expected) :])


def test_transport_protocol_inside_connection_lost(flavor):
    """Inside connectionLost the transport's fileno() is -1."""
    seen: list[Any] = []
    rec = _Recorder(
        flavor,
        {
            "made": lambda p: p.transport.loseConnection(),
            "lost": lambda p, r: seen.append(p.transport.fileno()),
        },
        {"lost": lambda p, r: seen.append(p.transport.fileno())},
    )
    rec.run()
    assert seen == [-1, -1]


class _LegacyLog:
    """Events of the framework's twisted.python.log-style publisher."""

    def __init__(self, flavor: Any) -> None:
        self.log = importlib.import_module(flavor.name + ".python.log")
        self.events: list[dict[str, Any]] = []
        self.log.addObserver(self.events.append)

    def close(self) -> None:
        self.log.removeObserver(self.events.append)


@pytest.mark.parametrize("side", ["S", "C"])
def test_log_system_of_error_in_data_received(flavor, request, side):
    """An exception raised by dataReceived is logged with system = the
    transport's logPrefix()."""
    observed = _LegacyLog(flavor)

    def boom(p: Any, data: bytes) -> None:
        raise ValueError("boom")

    writer = {"made": lambda p: p.transport.write(b"x")}
    raiser = {"data": boom}
    try:
        if side == "S":
            _Recorder(flavor, raiser, writer).run()
        else:
            _Recorder(flavor, writer, raiser).run()
    finally:
        observed.close()
    systems = [
        (e["system"], e["failure"].getErrorMessage())
        for e in observed.events
        if e.get("isError")
    ]
    assert systems == [({"S": "Side,0,127.0.0.1", "C": "Side,client"}[side], "boom")]


def test_log_system_of_messages_from_protocol_callbacks(flavor, request):
    """log.msg() inside dataReceived/connectionLost carries the
    transport's logPrefix() as system."""
    observed = _LegacyLog(flavor)
    log = observed.log

    def clientData(p: Any, data: bytes) -> None:
        log.msg("C data")
        p.transport.loseConnection()

    try:
        _Recorder(
            flavor,
            {
                "made": lambda p: p.transport.write(b"x"),
                "lost": lambda p, r: log.msg("S lost"),
            },
            {"data": clientData, "lost": lambda p, r: log.msg("C lost")},
        ).run()
    finally:
        observed.close()
    mine = [
        (e["system"], e["message"][0])
        for e in observed.events
        if e.get("message") and e["message"][0] in ("C data", "C lost", "S lost")
    ]
    assert mine == [
        ("Side,client", "C data"),
        ("Side,client", "C lost"),
        ("Side,0,127.0.0.1", "S lost"),
    ]


def test_reactor_shutdown_reason_of_open_connections(flavor, request):
    """Stopping the reactor closes open connections with Twisted's
    main.CONNECTION_LOST, ConnectionLost("Connection lost")."""
    rec = _Recorder(flavor)
    rec.run(until=lambda: len(rec.events) == 2)
    assert sorted(rec.events) == [
        ("C", "lost", "ConnectionLost", LOST[2][:-1] + ": Connection lost."),
        ("C", "made"),
        ("S", "lost", "ConnectionLost", LOST[2][:-1] + ": Connection lost."),
        ("S", "made"),
    ]


@pytest.mark.parametrize(
    "impl",
    _impls(),
    indirect=True,
)
def test_main_connection_constants(impl):
    """twisted.internet.main.CONNECTION_DONE/CONNECTION_LOST."""
    done = impl.main.CONNECTION_DONE
    lost = impl.main.CONNECTION_LOST
    assert (type(done), done.args, str(done)) == (
        impl.error.ConnectionDone,
        ("Connection done",),
        "Connection was closed cleanly: Connection done.",
    )
    assert (type(lost), lost.args) == (impl.error.ConnectionLost, ("Connection lost",))


# ---------------------------------------------------------------------------
# producers on a TCP transport


class _Producer:
    def __init__(self, events: list[Any], name: str = "P") -> None:
        self.events = events
        self.name = name

    def pauseProducing(self) -> None:
        self.events.append("pause")

    def resumeProducing(self) -> None:
        self.events.append("resume")

    def stopProducing(self) -> None:
        self.events.append("stop")

    def __repr__(self) -> str:
        return f"<producer {self.name}>"


def test_register_producer_twice_message(flavor):
    """A second registerProducer raises RuntimeError naming both
    producers; the first is stopped when the connection closes."""
    events: list[Any] = []

    def made(p: Any) -> None:
        _record(
            events,
            "reg",
            lambda: p.transport.registerProducer(_Producer(events, "A"), True),
        )
        _record(
            events,
            "reg2",
            lambda: p.transport.registerProducer(_Producer(events, "B"), True),
        )
        p.transport.loseConnection()

    _Recorder(flavor, {"made": made}, events=events).run()
    assert events == [
        ("S", "made"),
        ("reg", None),
        (
            "reg2",
            (
                "RuntimeError",
                "Cannot register producer <producer B>, because producer "
                "<producer A> was never unregistered.",
            ),
        ),
        ("C", "made"),
        "stop",
        ("S", *DONE),
        ("C", *DONE),
    ]


@pytest.mark.parametrize(
    "action, expected",
    [
        (
            "lose",
            [
                ("S", "made"),
                ("reg", None),
                ("C", "made"),
                "stop",
                ("S", *DONE),
                ("C", *DONE),
            ],
        ),
        (
            "abort",
            [
                ("S", "made"),
                ("reg", None),
                ("C", "made"),
                "stop",
                ("S", *ABORTED),
                ("C", *LOST),
            ],
        ),
        (
            "unregister",
            [
                ("S", "made"),
                ("reg", None),
                ("unreg", None),
                ("unreg2", None),
                ("C", "made"),
                ("S", *DONE),
                ("C", *DONE),
            ],
        ),
        (
            "lose-first",
            [
                ("S", "made"),
                ("reg", None),
                ("C", "made"),
                "stop",
                ("S", *DONE),
                ("C", *DONE),
            ],
        ),
    ],
)
def test_streaming_producer_is_stopped_on_close(flavor, action, expected):
    """A registered streaming producer gets stopProducing when the
    connection closes, not if it was unregistered (twice is harmless), and
    also when registered after loseConnection."""
    events: list[Any] = []

    def made(p: Any) -> None:
        t = p.transport
        if action == "lose-first":
            t.loseConnection()
        _record(events, "reg", lambda: t.registerProducer(_Producer(events), True))
        if action == "abort":
            t.abortConnection()
        elif action == "unregister":
            _record(events, "unreg", t.unregisterProducer)
            _record(events, "unreg2", t.unregisterProducer)
            t.loseConnection()
        elif action == "lose":
            t.loseConnection()

    _Recorder(flavor, {"made": made}, events=events).run()
    assert events == expected


def test_producer_stopped_when_peer_closes(flavor):
    """The peer's close stops the producer before connectionLost."""
    events: list[Any] = []
    _Recorder(
        flavor,
        {"made": lambda p: p.transport.registerProducer(_Producer(events), True)},
        {"made": lambda p: p.transport.loseConnection()},
        events,
    ).run()
    assert events == [
        ("S", "made"),
        ("C", "made"),
        ("C", *DONE),
        "stop",
        ("S", *DONE),
    ]


def test_register_producer_inside_connection_lost_stops_it(flavor):
    """Registering on a closed transport stops the producer at once."""
    events: list[Any] = []

    def lost(p: Any, reason: Any) -> None:
        _record(
            events, "reg", lambda: p.transport.registerProducer(_Producer(events), True)
        )

    _Recorder(
        flavor,
        {"made": lambda p: p.transport.loseConnection(), "lost": lost},
        {},
        events,
    ).run()
    assert events == [
        ("S", "made"),
        ("C", "made"),
        ("S", *DONE),
        "stop",
        ("reg", None),
        ("C", *DONE),
    ]


def test_pull_producer_keeps_lose_connection_waiting(flavor):
    """With a pull producer registered, loseConnection waits: the
    producer is asked for more until it unregisters; then the connection
    closes cleanly after the data."""
    events: list[Any] = []

    def made(p: Any) -> None:
        t = p.transport

        class Pull:
            count = 0

            def resumeProducing(self) -> None:
                self.count += 1
                events.append(("resume", self.count))
                if self.count < 3:
                    t.write(b"p%d" % self.count)
                else:
                    t.unregisterProducer()

            def stopProducing(self) -> None:
                events.append("stop")

        t.registerProducer(Pull(), False)
        t.loseConnection()

    rec = _Recorder(flavor, {"made": made}, {}, events)
    rec.run()
    received = b"".join(e[2] for e in events if e[:2] == ("C", "data"))
    assert received == b"p1p2"
    assert [e for e in events if e[:2] != ("C", "data")] == [
        ("S", "made"),
        ("resume", 1),
        ("C", "made"),
        ("resume", 2),
        ("resume", 3),
        ("S", *DONE),
        ("C", *DONE),
    ]


def test_streaming_producer_paused_by_a_large_write(flavor):
    """Writing more than the buffer holds pauses a streaming producer
    (once) before write() returns."""
    events: list[Any] = []
    pauses: list[int] = []

    def made(p: Any) -> None:
        t = p.transport
        t.registerProducer(_Producer(events), True)
        t.write(b"x" * (8 * 1024 * 1024))
        pauses.append(events.count("pause"))
        t.unregisterProducer()
        t.loseConnection()

    received: list[int] = []
    _Recorder(
        flavor, {"made": made}, {"data": lambda p, d: received.append(len(d))}
    ).run()
    assert pauses == [1]
    assert sum(received) == 8 * 1024 * 1024
    assert "stop" not in events


# ---------------------------------------------------------------------------
# listening ports and connectors


def test_listening_port_repr_host_and_stop(flavor):
    """The port's repr while listening and after, its getHost(), the
    factory's numPorts, and the Deferred of stopListening."""
    reactor = flavor.reactor
    factory = flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    number = port.getHost().port
    mod = flavor.name
    assert _noPort(repr(port), number) == (
        f"<<class '{mod}.internet.tcp.Port'> of <class '{mod}.internet.protocol.Factory'> on PORT>"
    )
    assert str(port) == repr(port)
    assert (
        repr(port.getHost())
        == f"IPv4Address(type='TCP', host='127.0.0.1', port={number})"
    )
    assert (port.connected, factory.numPorts) == (True, 1)
    fired: list[Any] = []
    port.stopListening().addBoth(fired.append)
    run_until(reactor, lambda: fired)
    assert fired == [None]
    assert (port.connected, factory.numPorts) == (False, 0)
    assert repr(port) == (
        f"<<class '{mod}.internet.tcp.Port'> of "
        f"<class '{mod}.internet.protocol.Factory'> (not listening)>"
    )


def test_listening_port_disconnected_flag(flavor, request):
    """Twisted's Port has FileDescriptor's ``disconnected`` flag: 0 while
    listening, 1 once stopped."""
    reactor = flavor.reactor
    port = reactor.listenTCP(
        0,
        flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol),
        interface="127.0.0.1",
    )
    seen = [port.disconnected]
    fired: list[Any] = []
    port.stopListening().addBoth(fired.append)
    run_until(reactor, lambda: fired)
    seen.append(port.disconnected)
    assert seen == [0, 1]


def test_cannot_listen_error_attributes(flavor):
    """Listening on a port in use: CannotListenError with interface, port,
    socketError and Twisted's message."""
    reactor = flavor.reactor
    factory = flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    number = port.getHost().port
    try:
        with pytest.raises(flavor.error.CannotListenError) as info:
            reactor.listenTCP(number, factory, interface="127.0.0.1")
    finally:
        port.stopListening()
    e = info.value
    assert (e.interface, e.port, type(e.socketError), e.socketError.errno) == (
        "127.0.0.1",
        number,
        OSError,
        98,
    )
    assert (
        str(e)
        == f"Couldn't listen on 127.0.0.1:{number}: [Errno 98] Address already in use."
    )
    assert factory.numPorts == 1


@pytest.mark.parametrize(
    "interface, expected",
    [
        ("localhost", ("IPv4Address", "127.0.0.1")),
        ("", ("IPv4Address", "0.0.0.0")),
        ("127.1", ("IPv4Address", "127.0.0.1")),
        ("::1", ("IPv6Address", "::1")),
        (
            " 127.0.0.1",
            (
                "CannotListenError",
                "Couldn't listen on  127.0.0.1:0: [Errno -2] Name or service not known.",
            ),
        ),
        (
            "1.2.3.4",
            (
                "CannotListenError",
                "Couldn't listen on 1.2.3.4:0: [Errno 99] Cannot assign requested address.",
            ),
        ),
    ],
)
def test_listen_interfaces(flavor, interface, expected):
    """Names and short forms are resolved; unusable ones give
    CannotListenError with the resolver's or bind's message."""
    factory = flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)

    def listen() -> Any:
        port = flavor.reactor.listenTCP(0, factory, interface=interface)
        try:
            return (type(port.getHost()).__name__, port.getHost().host)
        finally:
            port.stopListening()

    assert _outcome(listen) == expected


def _resourceWarnings(function: Callable[[], Any]) -> list[str]:
    """Run ``function``, collect garbage, and return the ResourceWarnings
    (unclosed sockets) raised meanwhile."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        function()
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.parametrize("number", [-1, 70000])
def test_listen_port_out_of_range(flavor, number):
    """OverflowError from bind for a port outside 0-65535. (Twisted, and
    torsion with it, leave the new socket to the garbage collector: that
    warning is collected here, not checked.)"""
    factory = flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    raised: list[Any] = []

    def listen() -> None:
        raised.append(_outcome(lambda: flavor.reactor.listenTCP(number, factory)))

    _resourceWarnings(listen)
    assert raised == [("OverflowError", "bind(): port must be 0-65535.")]
    assert factory.numPorts == 0


@pytest.mark.parametrize("number", [-1, 70000])
def test_connect_port_out_of_range_fails_without_leak(flavor, request, number):
    """Twisted fails the attempt with OverflowError through
    clientConnectionFailed and closes the socket it made."""
    events: list[Any] = []

    class F(flavor.protocol.ClientFactory):
        protocol = flavor.protocol.Protocol

        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            events.append((reason.type.__name__, reason.getErrorMessage()))

    def attempt() -> None:
        flavor.reactor.connectTCP("127.0.0.1", number, F(), timeout=2)
        run_until(flavor.reactor, lambda: events)

    leaks = _resourceWarnings(attempt)
    assert events == [("OverflowError", "connect_ex(): port must be 0-65535.")]
    assert leaks == []


def test_two_ports_one_factory_start_stop(flavor):
    """startFactory once for the first port, stopFactory once after the
    last port stopped; numPorts counts ports."""
    reactor = flavor.reactor
    events: list[Any] = []

    class F(flavor.protocol.Factory):
        protocol = flavor.protocol.Protocol

        def startFactory(self) -> None:
            events.append(("start", self.numPorts))

        def stopFactory(self) -> None:
            events.append(("stop", self.numPorts))

    factory = F()
    first = reactor.listenTCP(0, factory, interface="127.0.0.1")
    second = reactor.listenTCP(0, factory, interface="127.0.0.1")
    events.append(factory.numPorts)
    done: list[Any] = []

    def firstStopped(_: Any) -> None:
        events.append(("first", factory.numPorts))
        second.stopListening().addCallback(
            lambda _: (events.append(("second", factory.numPorts)), done.append(1))
        )

    first.stopListening().addCallback(firstStopped)
    events.append(("asked", factory.numPorts))
    run_until(reactor, lambda: done)
    assert events == [
        ("start", 0),
        2,
        ("asked", 2),
        ("first", 1),
        ("stop", 0),
        ("second", 0),
    ]


def test_connector_stop_connecting_then_connect_again(flavor):
    """stopConnecting fails the attempt with UserError at once; a second
    stopConnecting raises NotConnectingError; connect() on the same
    connector starts over (and, to a closed port, fails)."""
    reactor = flavor.reactor
    events: list[Any] = []

    class F(flavor.protocol.ClientFactory):
        protocol = flavor.protocol.Protocol

        def startedConnecting(self, connector: Any) -> None:
            events.append(("started", connector.state))

        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            events.append(("failed", reason.type.__name__, connector.state))
            failures.append(reason)

    failures: list[Any] = []
    connector = reactor.connectTCP("127.0.0.1", 1, F(), timeout=3)
    assert connector.state == "connecting"
    assert (
        repr(connector.getDestination())
        == "IPv4Address(type='TCP', host='127.0.0.1', port=1)"
    )
    connector.stopConnecting()
    assert connector.state == "disconnected"
    with pytest.raises(flavor.error.NotConnectingError) as info:
        connector.stopConnecting()
    assert str(info.value) == (
        "The Connector was not connecting when it was asked to stop connecting: "
        "we're not trying to connect."
    )
    assert events == [
        ("started", "connecting"),
        ("failed", "UserError", "disconnected"),
    ]
    connector.connect()
    run_until(reactor, lambda: len(events) == 4)
    # Twisted reports the second refusal as ConnectionRefusedError or (when
    # epoll gives the hang-up first) as a ConnectError: either is a ConnectError.
    assert events[2] == ("started", "connecting")
    assert (events[3][0], events[3][2]) == ("failed", "disconnected")
    assert failures[1].check(flavor.error.ConnectError) is not None


def test_connector_repr(flavor):
    """ "<...tcp.Connector instance at 0x... connecting IPv4Address(...)>"."""
    connector = flavor.reactor.connectTCP(
        "127.0.0.1",
        1,
        flavor.protocol.ClientFactory.forProtocol(flavor.protocol.Protocol),
    )
    try:
        assert _noAddress(repr(connector)) == (
            f"<{flavor.name}.internet.tcp.Connector instance at 0xX connecting "
            "IPv4Address(type='TCP', host='127.0.0.1', port=1)>"
        )
    finally:
        connector.stopConnecting()


def test_client_factory_start_stop_across_retries(flavor):
    """Reconnecting from clientConnectionFailed keeps the factory started:
    startFactory once, stopFactory after the last failure."""
    reactor = flavor.reactor
    events: list[Any] = []

    class F(flavor.protocol.ClientFactory):
        protocol = flavor.protocol.Protocol
        failures = 0

        def startFactory(self) -> None:
            events.append("startFactory")

        def stopFactory(self) -> None:
            events.append("stopFactory")

        def startedConnecting(self, connector: Any) -> None:
            events.append(("started", self.numPorts))

        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            events.append(("failed", self.numPorts))
            self.failures += 1
            if self.failures < 3:
                connector.connect()

    reactor.connectTCP("127.0.0.1", 1, F(), timeout=2)
    run_until(reactor, lambda: "stopFactory" in events)
    assert events == ["startFactory"] + [("started", 1), ("failed", 1)] * 3 + [
        "stopFactory"
    ]


def test_client_factory_start_stop_across_reconnects(flavor):
    """Reconnecting from clientConnectionLost: the factory is stopped and
    started again around each connection."""
    reactor = flavor.reactor
    events: list[Any] = []

    class Client(flavor.protocol.Protocol):
        def connectionMade(self) -> None:
            events.append(("made", self.factory.numPorts))
            self.transport.loseConnection()

    class F(flavor.protocol.ClientFactory):
        protocol = Client
        losses = 0

        def startFactory(self) -> None:
            events.append("startFactory")

        def stopFactory(self) -> None:
            events.append("stopFactory")

        def clientConnectionLost(self, connector: Any, reason: Any) -> None:
            events.append(("lost", self.numPorts, reason.type.__name__))
            self.losses += 1
            if self.losses < 2:
                connector.connect()

    port = reactor.listenTCP(
        0,
        flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol),
        interface="127.0.0.1",
    )
    try:
        reactor.connectTCP("127.0.0.1", port.getHost().port, F())
        run_until(reactor, lambda: "stopFactory" in events)
    finally:
        port.stopListening()
    assert events == [
        "startFactory",
        ("made", 1),
        ("lost", 1, "ConnectionDone"),
        ("made", 1),
        ("lost", 1, "ConnectionDone"),
        "stopFactory",
    ]


def test_connect_tcp_with_bytes_host(flavor):
    """Twisted connects to a bytes host and reports it, as given, as the
    peer's host."""
    reactor = flavor.reactor
    events: list[Any] = []

    class Client(flavor.protocol.Protocol):
        def connectionMade(self) -> None:
            events.append(("made", self.transport.getPeer().host))
            self.transport.loseConnection()

    class F(flavor.protocol.ClientFactory):
        protocol = Client

        def clientConnectionLost(self, connector: Any, reason: Any) -> None:
            events.append(("lost", reason.type.__name__))

    port = reactor.listenTCP(
        0,
        flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol),
        interface="127.0.0.1",
    )
    try:
        reactor.connectTCP(b"127.0.0.1", port.getHost().port, F())
        run_until(reactor, lambda: len(events) == 2)
    finally:
        port.stopListening()
    assert events == [("made", b"127.0.0.1"), ("lost", "ConnectionDone")]


def test_connect_tcp_service_name_port(flavor):
    """A port given as an unknown service name raises at once."""
    factory = flavor.protocol.ClientFactory.forProtocol(flavor.protocol.Protocol)
    with pytest.raises(flavor.error.ServiceNameUnknownError) as info:
        flavor.reactor.connectTCP("127.0.0.1", "1", factory)
    assert str(info.value) == (
        "Service name given as port is unknown: service/proto not found ('1')."
    )


@pytest.mark.parametrize("host", ["localhost", "::1", "127.0.0.1"])
def test_connection_refused_message(flavor, host):
    """A refused connection: ConnectionRefusedError with errno text."""
    events: list[Any] = []

    class F(flavor.protocol.ClientFactory):
        protocol = flavor.protocol.Protocol

        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            events.append((reason.type.__name__, reason.getErrorMessage()))

    flavor.reactor.connectTCP(host, 1, F(), timeout=2)
    run_until(flavor.reactor, lambda: events)
    assert events == [
        (
            "ConnectionRefusedError",
            "Connection was refused by other side: 111: Connection refused.",
        )
    ]


# ---------------------------------------------------------------------------
# reactor: DelayedCall reprs, callLater errors, run errors


class _Callable:
    def method(self, x: Any) -> None:
        pass

    def __call__(self) -> None:
        pass


def _delayedReprs(reactor: Any) -> list[str]:
    out = []
    for function, args, kwargs in [
        (_Callable().method, (1,), {}),
        (functools.partial(print, 1), (), {}),
        (print, ("s", b"b", [1]), {"k": object}),
        (len, (), {}),
    ]:
        call = reactor.callLater(1, function, *args, **kwargs)
        out.append(re.sub(r"\[[0-9.]+s\]", "[Ns]", _noAddress(str(call))))
        call.cancel()
        out.append(re.sub(r"\[[0-9.]+s\]", "[Ns]", _noAddress(repr(call))))
    return out


def test_delayed_call_reprs(flavor):
    """DelayedCall's str names the callable (qualname, or repr) and its
    arguments; a cancelled call drops them."""
    assert _delayedReprs(flavor.reactor) == [
        "<DelayedCall 0xX [Ns] called=0 cancelled=0 _Callable.method(1)>",
        "<DelayedCall 0xX [Ns] called=0 cancelled=1>",
        "<DelayedCall 0xX [Ns] called=0 cancelled=0 "
        "functools.partial(<built-in function print>, 1)()>",
        "<DelayedCall 0xX [Ns] called=0 cancelled=1>",
        "<DelayedCall 0xX [Ns] called=0 cancelled=0 print('s', b'b', [1], k=<class 'object'>)>",
        "<DelayedCall 0xX [Ns] called=0 cancelled=1>",
        "<DelayedCall 0xX [Ns] called=0 cancelled=0 len()>",
        "<DelayedCall 0xX [Ns] called=0 cancelled=1>",
    ]


def test_delayed_call_after_running(flavor):
    """Once run: called=1, a negative time left, and cancel/reset/delay
    raise AlreadyCalled with Twisted's message."""
    reactor = flavor.reactor
    seen: list[Any] = []

    def f() -> None:
        seen.append("ran")

    call = reactor.callLater(0, f)
    run_until(reactor, lambda: seen)
    text = _noAddress(repr(call))
    assert re.fullmatch(
        r"<DelayedCall 0xX \[-[0-9.e-]+s\] called=1 cancelled=0 "
        r"test_delayed_call_after_running\.<locals>\.f\(\)>",
        text,
    )
    outcomes = [
        _outcome(lambda: call.cancel()),
        _outcome(lambda: call.reset(1)),
        _outcome(lambda: call.delay(1)),
    ]
    assert (
        outcomes == [("AlreadyCalled", "Tried to cancel an already-called event.")] * 3
    )


@pytest.mark.parametrize("delay", ["1", None])
def test_call_later_with_a_non_number_delay(flavor, request, delay):
    """Twisted's TypeError comes from its ``delay >= 0`` check."""
    with pytest.raises(TypeError) as info:
        flavor.reactor.callLater(delay, print)
    name = type(delay).__name__
    assert (
        str(info.value) == f"'>=' not supported between instances of '{name}' and 'int'"
    )


def test_call_later_negative_and_non_callable(flavor):
    """A negative delay fails Twisted's assertion; a non-callable is
    accepted by callLater (and only fails when run)."""
    reactor = flavor.reactor
    assert _outcome(lambda: reactor.callLater(-1, print)) == (
        "AssertionError",
        "-1 is not greater than or equal to 0 seconds",
    )
    call = reactor.callLater(1, None)
    assert call.active()
    call.cancel()


def test_run_errors(flavor):
    """run() or startRunning() while running: ReactorAlreadyRunning;
    callWhenRunning while running calls at once and returns None; run()
    after stop: ReactorNotRestartable."""
    reactor = flavor.reactor
    seen: list[Any] = []

    def inside() -> None:
        seen.append(_outcome(reactor.run))
        seen.append(_outcome(reactor.startRunning))
        seen.append(reactor.callWhenRunning(seen.append, "now"))

    reactor.callWhenRunning(inside)
    run_until(reactor, lambda: len(seen) == 4)
    seen.append(_outcome(reactor.run))
    seen.append(_outcome(reactor.stop))
    assert seen == [
        ("ReactorAlreadyRunning", ""),
        ("ReactorAlreadyRunning", ""),
        "now",
        None,
        ("ReactorNotRestartable", ""),
        ("ReactorNotRunning", "Can't stop reactor that isn't running."),
    ]


def test_system_event_trigger_errors(flavor):
    """Bad phases and bad handles."""
    reactor = flavor.reactor
    outcomes = [
        _outcome(lambda: reactor.addSystemEventTrigger("bogus", "startup", print)),
        _outcome(lambda: reactor.removeSystemEventTrigger(None)),
        _outcome(lambda: reactor.removeSystemEventTrigger(("before", "nothing", 1))),
        _outcome(lambda: reactor.removeSystemEventTrigger(5)),
        _outcome(lambda: reactor.removeSystemEventTrigger(("x", "y"))),
    ]
    assert outcomes == [
        ("KeyError", "'invalid phase'"),
        ("TypeError", "cannot unpack non-iterable NoneType object"),
        ("ValueError", "too many values to unpack (expected 2)"),
        ("TypeError", "cannot unpack non-iterable int object"),
        ("KeyError", "'x'"),
    ]


_REWRITTEN = (
    "under pytest, torsion's assert statements carry pytest's assertion "
    "rewriting ('assert ...' text): the pytest11 entry point "
    "torsion.testing_plugin makes pytest rewrite every torsion module"
)


def test_non_callable_trigger_assertion_message(flavor):
    """addSystemEventTrigger with a non-callable: AssertionError whose
    message is exactly Twisted's."""
    with pytest.raises(AssertionError) as info:
        flavor.reactor.addSystemEventTrigger("before", "startup", 1)
    assert str(info.value) == "1 is not callable"


@pytest.mark.parametrize(
    "impl",
    _impls(),
    indirect=True,
)
def test_factory_without_protocol_assertion_message(impl):
    """Factory.buildProtocol with protocol None: a bare AssertionError."""
    with pytest.raises(AssertionError) as info:
        impl.protocol.Factory().buildProtocol(None)
    assert info.value.args == ()


@pytest.mark.parametrize("impl", _impls(), indirect=True)
def test_factory_start_stop_counts(impl):
    """doStart/doStop count ports; startFactory/stopFactory at the edges;
    doStop with no port is ignored."""
    events: list[Any] = []

    class F(impl.protocol.Factory):
        protocol = impl.protocol.Protocol

        def startFactory(self) -> None:
            events.append("start")

        def stopFactory(self) -> None:
            events.append("stop")

    f = F()
    f.doStop()
    events.append(f.numPorts)
    f.doStart()
    f.doStart()
    events.append(f.numPorts)
    f.doStop()
    events.append(f.numPorts)
    f.doStop()
    f.doStop()
    events.append(f.numPorts)
    assert events == [0, "start", 2, 1, "stop", 0]


@pytest.mark.parametrize("impl", _impls(), indirect=True)
def test_looping_call_started_twice_assertion_message(impl):
    """LoopingCall.start while running: Twisted's message only."""
    call = impl.task.LoopingCall(lambda: None)
    call.clock = impl.task.Clock()
    call.start(1)
    try:
        with pytest.raises(AssertionError) as info:
            call.start(1)
    finally:
        call.stop()
    assert str(info.value) == "Tried to start an already running LoopingCall."


# ---------------------------------------------------------------------------
# ClientCreator and endpoints over loopback


@pytest.mark.parametrize("case", ["connected", "refused", "cancelled"])
def test_client_creator(flavor, case):
    """ClientCreator builds the protocol with its arguments (and a
    factory attribute); failures and cancellation errback."""
    reactor = flavor.reactor
    events: list[Any] = []
    port = reactor.listenTCP(
        0,
        flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol),
        interface="127.0.0.1",
    )

    class Client(flavor.protocol.Protocol):
        def __init__(self, a: Any, b: Any = 0) -> None:
            self.a, self.b = a, b

        def connectionMade(self) -> None:
            events.append(("made", self.a, self.b, hasattr(self, "factory")))

    def result(value: Any) -> None:
        if isinstance(value, flavor.failure.Failure):
            events.append(("failed", value.type.__name__, value.getErrorMessage()))
        else:
            events.append(("connected", type(value).__name__))
            value.transport.loseConnection()

    creator = flavor.protocol.ClientCreator(reactor, Client, 1, b=2)
    target = 1 if case == "refused" else port.getHost().port
    d = creator.connectTCP("127.0.0.1", target)
    d.addBoth(result)
    if case == "cancelled":
        d.cancel()
    try:
        run_until(reactor, lambda: any(e[0] in ("connected", "failed") for e in events))
    finally:
        port.stopListening()
    assert (
        events
        == {
            "connected": [("made", 1, 2, True), ("connected", "Client")],
            "refused": [
                (
                    "failed",
                    "ConnectionRefusedError",
                    "Connection was refused by other side: 111: Connection refused.",
                )
            ],
            "cancelled": [("failed", "CancelledError", "")],
        }[case]
    )


def _endpoints(flavor: Any) -> Any:
    return importlib.import_module(flavor.name + ".internet.endpoints")


@pytest.mark.parametrize(
    "host, expected",
    [
        ("example.com", ("<HostnameEndpoint example.com:80>", "example.com")),
        (b"example.com", ("<HostnameEndpoint example.com:80>", "example.com")),
        ("::1", ("<HostnameEndpoint [::1]:80>", "::1")),
        ("\u00e9x.com", ("<HostnameEndpoint xn--x-9fa.com:80>", "\u00e9x.com")),
        ("exa mple", ("<HostnameEndpoint exa mple:80>", "exa mple")),
    ],
)
def test_hostname_endpoint_repr(flavor, host, expected):
    """The repr uses the IDNA-encoded host, brackets IPv6 literals; the
    host text is kept as Unicode."""
    e = _endpoints(flavor).HostnameEndpoint(flavor.reactor, host, 80)
    assert (repr(e), e._hostText) == expected


def _connectOutcome(
    flavor: Any, endpoint: Any, factory: Any, cancel: bool = False
) -> Any:
    results: list[Any] = []
    d = endpoint.connect(factory)
    d.addBoth(results.append)
    if cancel:
        d.cancel()
    run_until(flavor.reactor, lambda: results)
    [value] = results
    if isinstance(value, flavor.failure.Failure):
        return (value.type.__name__, value.getErrorMessage())
    value.transport.loseConnection()
    return type(value).__name__


@pytest.mark.parametrize(
    "kind, host, expected",
    [
        (
            "hostname",
            "127.0.0.1",
            (
                "ConnectionRefusedError",
                "Connection was refused by other side: 111: Connection refused.",
            ),
        ),
        (
            "hostname",
            "nonexistent.invalid",
            (
                "DNSLookupError",
                "DNS lookup failed: no results for hostname lookup: nonexistent.invalid.",
            ),
        ),
        ("hostname", "", ("ValueError", "invalid hostname: ")),
        (
            "tcp4",
            "127.0.0.1",
            (
                "ConnectionRefusedError",
                "Connection was refused by other side: 111: Connection refused.",
            ),
        ),
        (
            "tcp4",
            "nonexistent.invalid",
            ("DNSLookupError", "DNS lookup failed: nonexistent.invalid."),
        ),
    ],
)
def test_endpoint_connect_failures(flavor, kind, host, expected):
    """Refused and unresolvable targets: error type and message."""
    ep = _endpoints(flavor)
    if kind == "hostname":
        endpoint = ep.HostnameEndpoint(flavor.reactor, host, 1, timeout=2)
    else:
        endpoint = ep.TCP4ClientEndpoint(flavor.reactor, host, 1, timeout=2)
    factory = flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    assert _connectOutcome(flavor, endpoint, factory) == expected


@pytest.mark.parametrize("kind", ["hostname", "tcp4"])
@pytest.mark.parametrize("build", ["none", "raises", "cancel"])
def test_endpoint_connect_to_a_listener(flavor, kind, build):
    """A factory building None fails with NoProtocol, one raising fails
    with its exception; cancelling the attempt at once fails with
    ConnectingCancelledError (TCP4) or Twisted's DNSLookupError
    (HostnameEndpoint, cancelled while resolving)."""
    ep = _endpoints(flavor)
    reactor = flavor.reactor
    ports: list[Any] = []
    ep.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
        flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    ).addCallback(ports.append)
    number = ports[0].getHost().port

    class F(flavor.protocol.Factory):
        protocol = flavor.protocol.Protocol

        def buildProtocol(self, addr: Any) -> Any:
            if build == "none":
                return None
            if build == "raises":
                raise ValueError("boom")
            return super().buildProtocol(addr)

    if kind == "hostname":
        endpoint = ep.HostnameEndpoint(reactor, b"127.0.0.1", number)
    else:
        endpoint = ep.TCP4ClientEndpoint(reactor, "127.0.0.1", number)
    try:
        outcome = _connectOutcome(flavor, endpoint, F(), cancel=build == "cancel")
    finally:
        ports[0].stopListening()
    expected = {
        "none": ("NoProtocol", ""),
        "raises": ("ValueError", "boom"),
        "cancel": {
            "hostname": (
                "DNSLookupError",
                "DNS lookup failed: Couldn't find the hostname '127.0.0.1'.",
            ),
            "tcp4": (
                "ConnectingCancelledError",
                f"IPv4Address(type='TCP', host='127.0.0.1', port={number})",
            ),
        }[kind],
    }[build]
    assert outcome == expected


@pytest.mark.parametrize(
    "cls, interface, expected",
    [
        (
            "TCP4ServerEndpoint",
            "1.2.3.4",
            (
                "CannotListenError",
                "Couldn't listen on 1.2.3.4:0: [Errno 99] Cannot assign requested address.",
            ),
        ),
        (
            "TCP6ServerEndpoint",
            "1.2.3.4",
            (
                "CannotListenError",
                "Couldn't listen on 1.2.3.4:0: [Errno 99] Cannot assign requested address.",
            ),
        ),
        ("TCP4ServerEndpoint", "::1", ("IPv6Address", "::1")),
        ("TCP6ServerEndpoint", "::1", ("IPv6Address", "::1")),
    ],
)
def test_server_endpoint_listen(flavor, cls, interface, expected):
    """listen() fires with the port (the address family follows the
    interface, not the class) or fails with CannotListenError."""
    endpoint = getattr(_endpoints(flavor), cls)(flavor.reactor, 0, 50, interface)
    results: list[Any] = []
    endpoint.listen(
        flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    ).addBoth(results.append)
    [value] = results
    if isinstance(value, flavor.failure.Failure):
        assert (value.type.__name__, value.getErrorMessage()) == expected
    else:
        try:
            assert (type(value.getHost()).__name__, value.getHost().host) == expected
        finally:
            value.stopListening()


# ---------------------------------------------------------------------------
# pure parity: protocols.basic, factories, policies, services, addresses


def _lineEvents(
    impl: Any,
    chunks: list[bytes],
    cls: str = "LineReceiver",
    maxLength: int | None = None,
) -> Any:
    out: list[Any] = []

    class P(getattr(impl.basic, cls)):
        def lineReceived(self, line: bytes) -> None:
            out.append(("line", line))

        def rawDataReceived(self, data: bytes) -> None:
            out.append(("raw", data))

        def lineLengthExceeded(self, line: bytes) -> Any:
            out.append(("exceeded", line))
            return super().lineLengthExceeded(line)

    p = P()
    if maxLength is not None:
        p.MAX_LENGTH = maxLength
    t = impl.testing.StringTransport()
    p.makeConnection(t)
    for chunk in chunks:
        p.dataReceived(chunk)
    return out, t.disconnecting


@pytest.mark.parametrize("impl", _impls(), indirect=True)
@pytest.mark.parametrize(
    "cls, chunks, expected",
    [
        ("LineReceiver", [b"abcde\r\n"], [("line", b"abcde")]),
        ("LineReceiver", [b"abcdef\r\n"], [("exceeded", b"abcdef\r\n")]),
        ("LineReceiver", [b"abc", b"def", b"\r\n"], [("exceeded", b"abcdef\r\n")]),
        ("LineReceiver", [b"abcde\r", b"\n"], [("line", b"abcde")]),
        ("LineReceiver", [b"abcde\r"], []),
        (
            "LineReceiver",
            [b"ab\r\nabcdefghij"],
            [("line", b"ab"), ("exceeded", b"abcdefghij")],
        ),
        ("LineOnlyReceiver", [b"abcdefghij\r\nxx\r\n"], [("exceeded", b"abcdefghij")]),
        ("LineOnlyReceiver", [b"abcde\r"], [("exceeded", b"abcde\r")]),
        ("LineOnlyReceiver", [b"abcde\r\n"], [("line", b"abcde")]),
    ],
)
def test_line_length_limits(impl, cls, chunks, expected):
    """MAX_LENGTH=5: what reaches lineReceived and lineLengthExceeded (and
    that exceeding closes the transport), per chunking."""
    out, closed = _lineEvents(impl, chunks, cls, maxLength=5)
    assert out == expected
    assert closed == any(e[0] == "exceeded" for e in expected)


@pytest.mark.parametrize("impl", _impls(), indirect=True)
def test_line_receiver_modes_and_return_value(impl):
    """setRawMode hands the rest of the chunk to rawDataReceived; a
    non-None return from lineReceived stops processing and is returned,
    keeping the unparsed rest in the buffer."""
    out: list[Any] = []

    class P(impl.basic.LineReceiver):
        def lineReceived(self, line: bytes) -> Any:
            out.append(("line", line))
            if line == b"raw":
                self.setRawMode()
            if line == b"stop":
                return "stopped"
            return None

        def rawDataReceived(self, data: bytes) -> None:
            out.append(("raw", data))
            self.setLineMode(b"extra\r\nstop\r\nleft\r\n")

    p = P()
    p.makeConnection(impl.testing.StringTransport())
    result = p.dataReceived(b"x\r\nraw\r\nab\r\n")
    assert out == [
        ("line", b"x"),
        ("line", b"raw"),
        ("raw", b"ab\r\n"),
        ("line", b"extra"),
        ("line", b"stop"),
    ]
    # setLineMode's nested dataReceived stopped with "stopped", and that
    # value comes back out of the outer dataReceived.
    assert (result, p.line_mode, p._buffer) == ("stopped", 1, b"left\r\n")


@pytest.mark.parametrize("impl", _impls(), indirect=True)
def test_line_receiver_pause_and_stop(impl):
    """pauseProducing inside lineReceived holds further lines (also new
    data) until resumeProducing; stopProducing drops what follows."""
    out: list[bytes] = []

    class P(impl.basic.LineReceiver):
        def lineReceived(self, line: bytes) -> None:
            out.append(line)
            if line == b"p":
                self.pauseProducing()

    p = P()
    t = impl.testing.StringTransport()
    p.makeConnection(t)
    p.dataReceived(b"a\r\np\r\nb\r\nc")
    first = (list(out), p.paused, t.producerState)
    p.dataReceived(b"\r\nd\r\n")
    second = list(out)
    p.resumeProducing()
    third = (list(out), p.paused, t.producerState)
    p.stopProducing()
    p.dataReceived(b"e\r\n")
    assert first == ([b"a", b"p"], True, "paused")
    assert second == [b"a", b"p"]
    assert third == ([b"a", b"p", b"b", b"c", b"d"], False, "producing")
    assert (out, t.disconnecting) == ([b"a", b"p", b"b", b"c", b"d"], False)


@pytest.mark.parametrize("impl", _impls(), indirect=True)
@pytest.mark.parametrize(
    "data, strings, broken",
    [
        (b"3:abc,3:de", [b"abc"], 0),
        (b"0:,", [b""], 0),
        (b"03:abc,", [], 1),
        (b"3:abcd", [], 1),
        (b" 3:abc,", [], 1),
        (b"-1:a,", [], 1),
        (b"6:abcdef,", [], 1),
        (b"5:abcde,", [b"abcde"], 0),
        (b"12", [], 1),
    ],
)
def test_netstring_parsing(impl, data, strings, broken):
    """Netstrings with MAX_LENGTH=5: what is delivered and when the peer
    is declared broken (and the connection closed)."""
    out: list[bytes] = []

    class P(impl.basic.NetstringReceiver):
        MAX_LENGTH = 5

        def stringReceived(self, s: bytes) -> None:
            out.append(s)

    p = P()
    t = impl.testing.StringTransport()
    p.makeConnection(t)
    for i in range(len(data)):
        p.dataReceived(data[i : i + 1])
    assert (out, p.brokenPeer, t.disconnecting) == (strings, broken, bool(broken))


@pytest.mark.parametrize("impl", _impls(), indirect=True)
@pytest.mark.parametrize(
    "cls, expected",
    [
        (
            "Int8StringReceiver",
            [
                b"\x02hi",
                ("StringTooLongError", "Try to send 256 bytes whereas maximum is 256"),
                ("TypeError", "can't concat str to bytes"),
            ],
        ),
        (
            "Int16StringReceiver",
            [b"\x00\x02hi", 262, ("TypeError", "can't concat str to bytes")],
        ),
    ],
)
def test_int_string_send_limits(impl, cls, expected):
    """sendString: the prefix, the too-long error and its message, and
    the TypeError of a str."""
    p = getattr(impl.basic, cls)()
    t = impl.testing.StringTransport()
    p.makeConnection(t)
    p.sendString(b"hi")
    results: list[Any] = [t.value()]

    def big() -> int:
        p.sendString(b"x" * 256)
        return len(t.value())

    results.append(_outcome(big))
    results.append(_outcome(lambda: p.sendString("str")))
    assert results == expected


@pytest.mark.parametrize("impl", _impls(), indirect=True)
def test_reconnecting_client_factory_backoff(impl):
    """Without jitter the delay grows by e per failure up to maxDelay;
    maxRetries stops retrying; resetDelay and stopTrying."""
    clock = impl.task.Clock()
    f = impl.protocol.ReconnectingClientFactory()
    f.clock = clock
    f.jitter = 0

    class Connector:
        count = 0

        def connect(self) -> None:
            self.count += 1

        def stopConnecting(self) -> None:
            pass

    connector = Connector()
    assert (f.maxDelay, f.initialDelay, f.factor, f.jitter, f.delay, f.retries) == (
        3600,
        1.0,
        2.718281828459045,
        0,
        1.0,
        0,
    )
    delays = []
    for _ in range(10):
        f.clientConnectionFailed(connector, None)
        delays.append(round(f.delay, 6))
        clock.advance(f.delay + 1)
    assert delays == [
        2.718282,
        7.389056,
        20.085537,
        54.59815,
        148.413159,
        403.428793,
        1096.633158,
        2980.957987,
        3600,
        3600,
    ]
    assert (connector.count, f.retries) == (10, 10)
    f.resetDelay()
    assert (f.delay, f.retries, f._callID, f.continueTrying) == (1.0, 0, None, 1)
    f.maxRetries = 2
    scheduled = []
    for _ in range(4):
        f.clientConnectionLost(connector, None)
        scheduled.append((f.retries, f._callID is not None))
        clock.advance(100)
    assert scheduled == [(1, True), (2, True), (3, False), (4, False)]
    f.stopTrying()
    assert (f.continueTrying, f._callID, f.connector) == (0, None, connector)


@pytest.mark.parametrize("impl", _impls(), indirect=True)
def test_reconnecting_client_factory_jitter_sequence(impl):
    """With jitter, the same random seed gives the same delays (the
    normal variate is drawn the way Twisted draws it)."""
    clock = impl.task.Clock()
    f = impl.protocol.ReconnectingClientFactory()
    f.clock = clock

    class Connector:
        def connect(self) -> None:
            pass

    state = random.getstate()
    random.seed(5)
    try:
        seen = []
        for _ in range(4):
            f.retry(Connector())
            seen.append(round(f.delay, 6))
            clock.advance(10000)
    finally:
        random.setstate(state)
    assert seen == [2.983803, 6.643724, 17.907359, 49.703298]
    assert _outcome(lambda: impl.protocol.ReconnectingClientFactory().retry()) == (
        "ValueError",
        "no connector to retry",
    )


@pytest.mark.parametrize("impl", _impls(), indirect=True)
def test_timeout_mixin_sequence(impl):
    """setTimeout returns the previous value; resetTimeout pushes the
    deadline; a timeout closes the transport; None disables."""
    clock = impl.task.Clock()
    fired: list[float] = []

    class P(impl.protocol.Protocol, impl.policies.TimeoutMixin):
        def callLater(self, *a: Any, **kw: Any) -> Any:
            return clock.callLater(*a, **kw)

        def timeoutConnection(self) -> None:
            fired.append(clock.seconds())
            super().timeoutConnection()

    p = P()
    t = impl.testing.StringTransport()
    p.makeConnection(t)
    results = [p.setTimeout(5), p.setTimeout(3), p.timeOut]
    clock.advance(2)
    p.resetTimeout()
    clock.advance(2.5)
    results.append(list(fired))
    clock.advance(0.5)
    results += [list(fired), t.disconnecting, p.setTimeout(None), p.setTimeout(None)]
    results.append(len(clock.getDelayedCalls()))
    assert results == [None, 5, 3, [], [5.0], True, 3, None, 0]


@pytest.mark.parametrize("impl", _impls(), indirect=True)
def test_wrapping_factory_names_and_relay(impl):
    """WrappingFactory's logPrefix, the wrapper's logPrefix and
    forwarding both ways; the wrapper is counted while connected."""
    events: list[Any] = []

    class Inner(impl.protocol.Protocol):
        def connectionMade(self) -> None:
            events.append(("made", type(self.transport).__name__))

        def dataReceived(self, data: bytes) -> None:
            events.append(("data", data))
            self.transport.write(data.upper())

        def connectionLost(self, reason: Any) -> None:
            events.append(("lost", reason.type.__name__))

    f = impl.policies.WrappingFactory(impl.protocol.Factory.forProtocol(Inner))
    f.doStart()
    w = f.buildProtocol(None)
    t = impl.testing.StringTransport()
    w.makeConnection(t)
    names = (f.logPrefix(), w.logPrefix(), len(f.protocols))
    w.dataReceived(b"ab")
    w.writeSequence([b"y", b"z"])
    w.connectionLost(impl.failure.Failure(impl.error.ConnectionDone()))
    f.doStop()
    assert names == ("Factory (WrappingFactory)", "Inner (ProtocolWrapper)", 1)
    assert (t.value(), len(f.protocols)) == (b"AByz", 0)
    assert events == [
        ("made", "ProtocolWrapper"),
        ("data", b"ab"),
        ("lost", "ConnectionDone"),
    ]


@pytest.mark.parametrize("impl", _impls(), indirect=True)
def test_limit_total_connections(impl):
    """connectionLimit 1: the second connection gets no protocol, or the
    overflow protocol (still counted)."""
    f = impl.policies.LimitTotalConnectionsFactory()
    f.protocol = impl.protocol.Protocol
    f.connectionLimit = 1
    first = f.buildProtocol(None)
    second = f.buildProtocol(None)

    class Overflow(impl.protocol.Protocol):
        pass

    f.overflowProtocol = Overflow
    third = f.buildProtocol(None)
    assert (type(first).__name__, second, f.connectionCount) == (
        "ProtocolWrapper",
        None,
        2,
    )
    assert type(third.wrappedProtocol).__name__ == "Overflow"


@pytest.mark.parametrize("impl", _impls(), indirect=True)
def test_service_naming_errors(impl):
    """Renaming with a parent, duplicate names, lookups, removal of a
    stranger, re-parenting and disowning."""
    S = impl.service
    results: list[Any] = []
    s = S.Service()
    s.setName("a")
    m = S.MultiService()
    s.setServiceParent(m)
    results.append(_outcome(lambda: s.setName("b")))
    twin = S.Service()
    twin.setName("a")
    results.append(_outcome(lambda: twin.setServiceParent(m)))
    results.append((twin.parent is m, len(list(m))))
    results.append(_outcome(lambda: m.getServiceNamed("zz")))
    results.append(_outcome(lambda: m.removeService(twin)))
    other = S.Service()
    other.setServiceParent(m)
    m2 = S.MultiService()
    other.setServiceParent(m2)
    results.append((len(list(m)), len(list(m2)), other.parent is m2))
    results.append(_outcome(lambda: S.Service().disownServiceParent()))
    assert results == [
        ("RuntimeError", "cannot change name when parent exists"),
        ("RuntimeError", "cannot have two services with same name 'a'"),
        (True, 1),
        ("KeyError", "'zz'"),
        ("ValueError", "list.remove(x): x not in list"),
        (1, 1, True),
        ("AttributeError", "'NoneType' object has no attribute 'removeService'"),
    ]


@pytest.mark.parametrize("impl", _impls(), indirect=True)
def test_multiservice_start_stop_order(impl):
    """Children start in order and stop in reverse (a child added while
    running is started at once and stopped first); stopService waits for
    every child's Deferred."""
    S = impl.service
    events: list[Any] = []

    class Child(S.Service):
        def __init__(self, n: str, d: Any = None) -> None:
            self.n, self.d = n, d

        def privilegedStartService(self) -> None:
            events.append(("priv", self.n))
            super().privilegedStartService()

        def startService(self) -> None:
            events.append(("start", self.n))
            super().startService()

        def stopService(self) -> Any:
            events.append(("stop", self.n))
            super().stopService()
            return self.d

    m = S.MultiService()
    da, dc = impl.defer.Deferred(), impl.defer.Deferred()
    for child in (Child("a", da), Child("b"), Child("c", dc)):
        child.setServiceParent(m)
    m.privilegedStartService()
    m.startService()
    Child("late").setServiceParent(m)
    stopped: list[Any] = []
    m.stopService().addBoth(stopped.append)
    before = list(stopped)
    da.callback(1)
    middle = list(stopped)
    dc.callback(2)
    assert events == [
        ("priv", "a"),
        ("priv", "b"),
        ("priv", "c"),
        ("start", "a"),
        ("start", "b"),
        ("start", "c"),
        ("priv", "late"),
        ("start", "late"),
        ("stop", "late"),
        ("stop", "c"),
        ("stop", "b"),
        ("stop", "a"),
    ]
    assert (before, middle, len(stopped)) == ([], [], 1)
    assert [c.running for c in m] == [0, 0, 0, 0]


def _clientService(impl: Any) -> Any:
    clock = impl.task.Clock()
    attempts: list[Any] = []

    class Endpoint:
        def connect(self, factory: Any) -> Any:
            d = impl.defer.Deferred()
            attempts.append((d, factory))
            return d

    factory = impl.protocol.Factory.forProtocol(impl.protocol.Protocol)
    service = impl.appinternet.ClientService(
        Endpoint(), factory, retryPolicy=lambda n: n * 1.5 + 1, clock=clock
    )
    return service, clock, attempts


@pytest.mark.parametrize("impl", _impls(), indirect=True)
def test_client_service_when_connected_and_failures(impl):
    """whenConnected(failAfterFailures=n) fails after n failed attempts;
    the retry policy's delays; a connection fires the waiting callers
    with the protocol; stopService disconnects it."""
    service, clock, attempts = _clientService(impl)
    events: list[Any] = []

    def record(tag: str) -> Callable[[Any], None]:
        def f(x: Any) -> None:
            if isinstance(x, impl.failure.Failure):
                events.append((tag, "failed", x.getErrorMessage()))
            else:
                events.append((tag, type(x).__name__))

        return f

    service.whenConnected().addBoth(record("w0"))
    service.startService()
    service.whenConnected(failAfterFailures=2).addBoth(record("w2"))
    service.whenConnected(failAfterFailures=1).addBoth(record("w1"))
    attempts[0][0].errback(Exception("nope"))
    events.append(("delays", [c.getTime() for c in clock.getDelayedCalls()]))
    clock.advance(2.5)
    attempts[1][0].errback(Exception("nope2"))
    events.append(("delays", [c.getTime() for c in clock.getDelayedCalls()]))
    clock.advance(4)
    protocol = attempts[2][1].buildProtocol(None)
    transport = impl.testing.StringTransport()
    protocol.makeConnection(transport)
    attempts[2][0].callback(protocol)
    service.whenConnected(failAfterFailures=0).addBoth(record("w3"))
    service.stopService().addBoth(record("stop"))
    events.append(("disconnecting", transport.disconnecting))
    protocol.connectionLost(impl.failure.Failure(impl.error.ConnectionDone()))
    assert events == [
        ("w1", "failed", "nope"),
        ("delays", [2.5]),
        ("w2", "failed", "nope2"),
        ("delays", [6.5]),
        ("w0", "Protocol"),
        ("w3", "Protocol"),
        ("disconnecting", True),
        ("stop", "NoneType"),
    ]
    assert len(attempts) == 3


@pytest.mark.parametrize("impl", _impls(), indirect=True)
def test_client_service_stop_while_connecting(impl):
    """Stopping cancels the attempt in progress; a later whenConnected
    fails with CancelledError; starting again makes a new attempt."""
    service, clock, attempts = _clientService(impl)
    events: list[Any] = []
    service.startService()
    service.stopService().addBoth(lambda x: events.append(("stopped", x)))
    events.append(attempts[0][0].called)
    service.whenConnected().addBoth(lambda x: events.append(("when", x.type.__name__)))
    service.startService()
    assert events == [("stopped", None), True, ("when", "CancelledError")]
    assert len(attempts) == 2


@pytest.mark.parametrize("impl", _impls(), indirect=True)
def test_address_bad_type_error_args(impl):
    """Twisted's attrs validator raises ValueError(message, attribute,
    allowed, value); torsion gives the dataclass field as the attribute."""
    with pytest.raises(ValueError) as info:
        impl.address.IPv4Address("tcp", "1.2.3.4", 5)
    assert info.value.args[0] == "'type' must be in ['TCP', 'UDP'] (got 'tcp')"
    assert info.value.args[1].name == "type"
    assert info.value.args[2:] == (["TCP", "UDP"], "tcp")


@pytest.mark.parametrize("impl", _impls(), indirect=True)
def test_address_reprs_and_equality(impl):
    """reprs, equality, hashing and ordering of the address classes."""
    A = impl.address
    a = A.IPv4Address("TCP", "1.2.3.4", 5)
    b = A.IPv6Address("TCP", "::1", 5, 1, 2)
    assert repr(a) == str(a) == "IPv4Address(type='TCP', host='1.2.3.4', port=5)"
    assert (
        repr(b) == "IPv6Address(type='TCP', host='::1', port=5, flowInfo=1, scopeID=2)"
    )
    assert a == A.IPv4Address("TCP", "1.2.3.4", 5)
    assert hash(a) == hash(A.IPv4Address("TCP", "1.2.3.4", 5))
    assert a != b
    assert a < A.IPv4Address("TCP", "1.2.3.5", 5)
    assert repr(A.HostnameAddress(b"example.com", 80)) == (
        "HostnameAddress(hostname=b'example.com', port=80)"
    )
    assert [repr(A.UNIXAddress(x)) for x in ("/tmp/x", None, b"/tmp/y")] == [
        "UNIXAddress('/tmp/x')",
        "UNIXAddress(None)",
        "UNIXAddress('/tmp/y')",
    ]
