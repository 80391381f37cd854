"""Tests for torsion.application.internet: servers, clients, timers and
ClientService, over loopback sockets, each scenario also run on Twisted's."""

from __future__ import annotations

import gc
import importlib
import types
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import run_until
from hypothesis import given, settings
from hypothesis import strategies as st
from torsion.internet.testing import flushLoggedErrors


@pytest.fixture(autouse=True)
def _noLeftoverErrors() -> Iterator[None]:
    flushLoggedErrors()
    yield
    gc.collect()
    assert flushLoggedErrors() == []


@pytest.fixture
def ns(flavor: types.SimpleNamespace) -> Iterator[types.SimpleNamespace]:
    """``flavor`` plus its application modules, task, testing, and a list of
    the log events emitted while the test runs (``ns.events``)."""
    name = flavor.name
    flavor.internet = importlib.import_module(f"{name}.application.internet")
    flavor.service = importlib.import_module(f"{name}.application.service")
    flavor.task = importlib.import_module(f"{name}.internet.task")
    flavor.testing = importlib.import_module(f"{name}.internet.testing")
    flavor.endpoints = importlib.import_module(f"{name}.internet.endpoints")
    logger = importlib.import_module(f"{name}.logger")
    flavor.events = []
    logger.globalLogPublisher.addObserver(flavor.events.append)
    yield flavor
    logger.globalLogPublisher.removeObserver(flavor.events.append)


def errors(ns: types.SimpleNamespace) -> list[Any]:
    """Types of the failures logged so far (and flush torsion's collector)."""
    found = [
        (e.get("log_failure") or e["failure"]).type
        for e in ns.events
        if "log_failure" in e or "failure" in e
    ]
    if ns.name == "torsion":
        flushLoggedErrors()
    return found


def formatted(ns: types.SimpleNamespace, start: str) -> list[str]:
    """Formatted text of the logged events whose format starts with ``start``."""
    logger = importlib.import_module(f"{ns.name}.logger")
    return [
        logger.formatEvent(e)
        for e in ns.events
        if (e.get("log_format") or "").startswith(start)
    ]


# Small endpoints of our own over the fixture reactor's listenTCP/connectTCP.


def server_endpoint(ns: types.SimpleNamespace, port: int = 0) -> Any:
    """An IStreamServerEndpoint listening on 127.0.0.1:port."""

    class Endpoint:
        listened: list[Any] = []

        def listen(self, factory: Any) -> Any:
            try:
                p = ns.reactor.listenTCP(port, factory, interface="127.0.0.1")
            except Exception:
                return ns.defer.fail()
            self.listened.append(p)
            return ns.defer.succeed(p)

    return Endpoint()


def client_endpoint(ns: types.SimpleNamespace, port: int) -> Any:
    """An IStreamClientEndpoint connecting to 127.0.0.1:port; its Deferred
    fires with the factory's protocol once connected, and cancelling it stops
    the attempt."""
    P = ns.protocol

    class Wrapping(P.Protocol):
        def __init__(self, inner: Any, d: Any) -> None:
            self.inner, self.d = inner, d

        def makeConnection(self, transport: Any) -> None:
            self.transport = transport
            self.inner.makeConnection(transport)
            if not self.d.called:
                self.d.callback(self.inner)

        def dataReceived(self, data: bytes) -> None:
            self.inner.dataReceived(data)

        def connectionLost(self, reason: Any) -> None:
            self.inner.connectionLost(reason)

    class WrappingFactory(P.ClientFactory):
        def __init__(self, factory: Any, d: Any) -> None:
            self.factory, self.d = factory, d

        def buildProtocol(self, addr: Any) -> Any:
            return Wrapping(self.factory.buildProtocol(addr), self.d)

        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            if not self.d.called:
                self.d.errback(reason)

    class Endpoint:
        attempts = 0

        def connect(self, factory: Any) -> Any:
            self.attempts += 1
            holder: list[Any] = []
            d = ns.defer.Deferred(lambda _: holder[0].stopConnecting())
            holder.append(
                ns.reactor.connectTCP("127.0.0.1", port, WrappingFactory(factory, d))
            )
            return d

        def __repr__(self) -> str:
            return "<test endpoint>"

    return Endpoint()


def echo_factory(ns: types.SimpleNamespace, closeOn: bytes | None = None) -> Any:
    """A server factory echoing data; it drops the connection on ``closeOn``."""

    class Echo(ns.protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            if data == closeOn:
                self.transport.loseConnection()
            else:
                self.transport.write(data)

    return ns.protocol.Factory.forProtocol(Echo)


def client_factory(ns: types.SimpleNamespace, events: list[Any]) -> Any:
    """A client factory whose protocols number themselves and record events."""
    made = []

    class Client(ns.protocol.Protocol):
        def connectionMade(self) -> None:
            made.append(self)
            self.n = len(made)
            events.append(("made", self.n))

        def dataReceived(self, data: bytes) -> None:
            events.append(("data", self.n, data))

        def connectionLost(self, reason: Any) -> None:
            events.append(("lost", self.n, reason.type.__name__))

    return ns.protocol.Factory.forProtocol(Client)


def refused_port(ns: types.SimpleNamespace) -> int:
    """A loopback port number nothing listens on."""
    p = ns.reactor.listenTCP(0, ns.protocol.Factory(), interface="127.0.0.1")
    number = p.getHost().port
    p.stopListening()
    return number


def results(d: Any) -> list[Any]:
    """A list that will hold what ``d`` fires with (a Failure on errback)."""
    out: list[Any] = []
    d.addBoth(out.append)
    return out


def drive(ns: types.SimpleNamespace, main: Any, timeout: float = 10.0) -> Any:
    """Run the reactor (once: reactors do not restart) until the coroutine
    ``main()`` finishes; re-raise its exception, else return its result."""
    box: list[Any] = []
    ns.reactor.callWhenRunning(
        lambda: ns.defer.ensureDeferred(main()).addBoth(box.append)
    )
    run_until(ns.reactor, lambda: bool(box), timeout)
    if isinstance(box[0], ns.failure.Failure):
        box[0].raiseException()
    return box[0]


def turn(ns: types.SimpleNamespace) -> Any:
    """A Deferred firing on a later reactor turn (ClientService refuses stop
    and whenConnected calls made from inside its own whenConnected callbacks)."""
    return ns.task.deferLater(ns.reactor, 0, lambda: None)


def until(ns: types.SimpleNamespace, condition: Any) -> Any:
    """A Deferred firing once ``condition()`` is true (polled every ms)."""
    d = ns.defer.Deferred()

    def check() -> None:
        if condition():
            d.callback(None)
        else:
            ns.reactor.callLater(0.001, check)

    check()
    return d


# StreamServerEndpointService


def test_stream_server_service_listens_while_running(ns: types.SimpleNamespace) -> None:
    """Start listens (echo works over loopback); stop stops listening and its
    Deferred fires with None; a later connection is refused."""
    endpoint = server_endpoint(ns)
    svc = ns.internet.StreamServerEndpointService(endpoint, echo_factory(ns))
    events: list[Any] = []

    async def main() -> None:
        svc.startService()
        assert svc.running == 1
        [port] = endpoint.listened
        number = port.getHost().port
        cs = ns.internet.ClientService(
            client_endpoint(ns, number), client_factory(ns, events), clock=ns.reactor
        )
        cs.startService()
        cs.whenConnected().addCallback(lambda p: p.transport.write(b"hi"))
        await until(ns, lambda: ("data", 1, b"hi") in events)
        assert await cs.stopService() is None
        assert await svc.stopService() is None
        assert svc.running is False
        failed = results(client_endpoint(ns, number).connect(ns.protocol.Factory()))
        await until(ns, lambda: bool(failed))
        assert failed[0].type is ns.error.ConnectionRefusedError

    drive(ns, main)
    assert events == [("made", 1), ("data", 1, b"hi"), ("lost", 1, "ConnectionDone")]


def test_stream_server_privileged_start_listens_once(ns: types.SimpleNamespace) -> None:
    """privilegedStartService listens; the following startService does not again."""
    endpoint = server_endpoint(ns)
    svc = ns.internet.StreamServerEndpointService(endpoint, echo_factory(ns))
    svc.privilegedStartService()
    assert len(endpoint.listened) == 1
    assert svc.running == 0
    svc.startService()
    assert len(endpoint.listened) == 1
    assert svc.running == 1
    done = results(svc.stopService())
    run_until(ns.reactor, lambda: bool(done))


def test_stream_server_listen_failure_logged(ns: types.SimpleNamespace) -> None:
    """A listen failure (port in use) is logged, not raised; stop then fires None."""
    busy = ns.reactor.listenTCP(0, ns.protocol.Factory(), interface="127.0.0.1")
    svc = ns.internet.StreamServerEndpointService(
        server_endpoint(ns, busy.getHost().port), echo_factory(ns)
    )
    svc.startService()
    assert errors(ns) == [ns.error.CannotListenError]
    assert results(svc.stopService()) == [None]
    assert svc.running is False
    busy.stopListening()


def test_stream_server_raise_synchronously(ns: types.SimpleNamespace) -> None:
    """With _raiseSynchronously, a failure known at once is raised by the start
    call (and not logged); the flag stays set after raising."""
    busy = ns.reactor.listenTCP(0, ns.protocol.Factory(), interface="127.0.0.1")
    svc = ns.internet.StreamServerEndpointService(
        server_endpoint(ns, busy.getHost().port), echo_factory(ns)
    )
    svc._raiseSynchronously = True
    with pytest.raises(ns.error.CannotListenError):
        svc.privilegedStartService()
    assert svc._raiseSynchronously is True
    assert errors(ns) == []
    ok = ns.internet.StreamServerEndpointService(server_endpoint(ns), echo_factory(ns))
    ok._raiseSynchronously = True
    ok.startService()
    assert ok._raiseSynchronously is False
    stopped = results(ok.stopService())
    run_until(ns.reactor, lambda: bool(stopped))
    assert stopped == [None]
    busy.stopListening()


def test_stream_server_stop_cancels_pending_listen(ns: types.SimpleNamespace) -> None:
    """Stopping while listen has not finished cancels it; the CancelledError is
    not logged and stop fires with None."""
    cancelled: list[Any] = []

    class Slow:
        def listen(self, factory: Any) -> Any:
            return ns.defer.Deferred(cancelled.append)

    svc = ns.internet.StreamServerEndpointService(Slow(), echo_factory(ns))
    svc.startService()
    assert results(svc.stopService()) == [None]
    assert len(cancelled) == 1
    assert errors(ns) == []
    assert svc.running is False


def test_stream_server_stop_waits_for_stop_listening(ns: types.SimpleNamespace) -> None:
    """stopService returns the port's stopListening Deferred, chained."""
    port_stopped = ns.defer.Deferred()

    class Port:
        def stopListening(self) -> Any:
            return port_stopped

    class Ready:
        def listen(self, factory: Any) -> Any:
            return ns.defer.succeed(Port())

    svc = ns.internet.StreamServerEndpointService(Ready(), echo_factory(ns))
    svc.startService()
    done = results(svc.stopService())
    assert done == []
    assert svc.running == 1
    port_stopped.callback("gone")
    assert done == ["gone"]
    assert svc.running is False


# TCPServer / TCPClient


def test_tcp_server_and_client_services(ns: types.SimpleNamespace) -> None:
    """TCPServer passes its arguments to listenTCP, TCPClient to connectTCP;
    stopping the client disconnects, stopping the server stops listening."""
    server = ns.internet.TCPServer(
        0, echo_factory(ns), interface="127.0.0.1", reactor=ns.reactor
    )
    server.startService()
    number = server._port.getHost().port
    events: list[Any] = []

    class Factory(ns.protocol.ClientFactory):
        def buildProtocol(self, addr: Any) -> Any:
            p = client_factory(ns, events).buildProtocol(addr)
            return p

        def clientConnectionLost(self, connector: Any, reason: Any) -> None:
            events.append(("factory lost", reason.type.__name__))

    client = ns.internet.TCPClient("127.0.0.1", number, Factory(), reactor=ns.reactor)

    async def main() -> None:
        client.startService()
        await until(ns, lambda: ("made", 1) in events)
        assert client.stopService() is None
        assert client.running == 0
        await until(ns, lambda: len(events) == 3)
        assert await server.stopService() is None

    drive(ns, main)
    assert events == [
        ("made", 1),
        ("lost", 1, "ConnectionDone"),
        ("factory lost", "ConnectionDone"),
    ]
    assert not hasattr(server, "_port") or server._port is None


# TimerService


def test_timer_service_on_clock(ns: types.SimpleNamespace) -> None:
    """TimerService calls at once and every step with args; stop fires None and
    ends the calls; a restart calls at once again."""
    clock = ns.task.Clock()
    calls: list[Any] = []
    timer = ns.internet.TimerService(2, lambda *a, **kw: calls.append((a, kw)), 1, k=2)
    timer.clock = clock
    timer.startService()
    assert calls == [((1,), {"k": 2})]
    clock.advance(1.9)
    assert len(calls) == 1
    clock.advance(0.1)
    clock.advance(2)
    assert len(calls) == 3
    done = results(timer.stopService())
    assert done == [None]
    assert timer.running == 0
    clock.advance(10)
    assert len(calls) == 3
    assert clock.getDelayedCalls() == []
    timer.startService()
    assert len(calls) == 4
    assert results(timer.stopService()) == [None]


def test_timer_service_stop_waits_for_running_call(ns: types.SimpleNamespace) -> None:
    """If the call returned an unfired Deferred, stop waits for it."""
    clock = ns.task.Clock()
    pending = ns.defer.Deferred()
    timer = ns.internet.TimerService(1, lambda: pending)
    timer.clock = clock
    timer.startService()
    done = results(timer.stopService())
    assert done == []
    assert timer.running == 1
    pending.callback(None)
    assert done == [None]
    assert timer.running == 0


def test_timer_service_call_raising_is_logged(ns: types.SimpleNamespace) -> None:
    """A raising call is logged, ends the loop, and stop still fires None."""
    clock = ns.task.Clock()

    def boom() -> None:
        raise ZeroDivisionError()

    timer = ns.internet.TimerService(1, boom)
    timer.clock = clock
    timer.startService()
    assert errors(ns) == [ZeroDivisionError]
    assert clock.getDelayedCalls() == []
    assert results(timer.stopService()) == [None]
    assert timer.running == 0


def test_timer_service_on_real_reactor(ns: types.SimpleNamespace) -> None:
    """On the reactor: about one call per step; none after stop."""
    calls: list[float] = []
    timer = ns.internet.TimerService(0.01, lambda: calls.append(ns.reactor.seconds()))
    timer.clock = ns.reactor

    async def main() -> int:
        timer.startService()
        await until(ns, lambda: len(calls) >= 5)
        assert results(timer.stopService()) == [None]
        count = len(calls)
        await ns.task.deferLater(ns.reactor, 0.05, lambda: None)
        return count

    assert drive(ns, main) == len(calls)
    assert calls[4] - calls[0] >= 0.035


# backoffPolicy


def test_backoff_policy_default_values(ns: types.SimpleNamespace) -> None:
    """Defaults: 1.0 * 1.5**attempt capped at 60, plus jitter."""
    policy = ns.internet.backoffPolicy(jitter=lambda: 0)
    assert [policy(n) for n in range(0, 4)] == [1.0, 1.5, 2.25, 3.375]
    assert policy(10) == 1.5**10
    assert policy(11) == 60.0
    assert policy(10**6) == 60.0
    jittered = ns.internet.backoffPolicy(jitter=lambda: 0.25)
    assert jittered(1) == 1.75
    random_policy = ns.internet.backoffPolicy()
    assert all(1.5 <= random_policy(1) < 2.5 for _ in range(20))


def test_backoff_policy_overflow_gives_max(ns: types.SimpleNamespace) -> None:
    """A factor whose power overflows yields maxDelay."""
    policy = ns.internet.backoffPolicy(factor=1e300, maxDelay=7.0, jitter=lambda: 0)
    assert policy(100) == 7.0


@settings(max_examples=60, deadline=None)
@given(
    initial=st.floats(0, 100),
    maxDelay=st.floats(0, 1000),
    factor=st.floats(1, 1e10),
    attempt=st.integers(0, 500),
)
def test_backoff_policy_matches_twisted(
    initial: float, maxDelay: float, factor: float, attempt: int
) -> None:
    """Same numbers as Twisted's backoffPolicy for any parameters."""
    from torsion.application.internet import backoffPolicy as ours
    from twisted.application.internet import backoffPolicy as theirs

    args = dict(
        initialDelay=initial, maxDelay=maxDelay, factor=factor, jitter=lambda: 0.5
    )
    assert ours(**args)(attempt) == theirs(**args)(attempt)


# ClientService over loopback


def test_client_service_connects_and_stops(ns: types.SimpleNamespace) -> None:
    """whenConnected (asked before start) fires with the factory's protocol, not
    a wrapper; asked again it fires at once with the same one; stopService
    closes the connection and fires only after connectionLost."""
    server = ns.reactor.listenTCP(0, echo_factory(ns), interface="127.0.0.1")
    events: list[Any] = []
    factory = client_factory(ns, events)
    cs = ns.internet.ClientService(
        client_endpoint(ns, server.getHost().port), factory, clock=ns.reactor
    )
    first = cs.whenConnected()

    async def main() -> None:
        cs.startService()
        assert cs.running == 1
        proto = await first
        await turn(ns)
        assert type(proto) is factory.protocol
        assert proto.transport is not None
        assert results(cs.whenConnected()) == [proto]
        proto.transport.write(b"ping")
        await until(ns, lambda: len(events) == 2)
        stopped = results(cs.stopService())
        assert cs.running == 0
        assert stopped == []
        await until(ns, lambda: bool(stopped))
        events.append("stop fired")
        assert stopped == [None]

    drive(ns, main)
    assert events == [
        ("made", 1),
        ("data", 1, b"ping"),
        ("lost", 1, "ConnectionDone"),
        "stop fired",
    ]
    assert results(cs.whenConnected())[0].type is ns.defer.CancelledError
    server.stopListening()


def test_client_service_reconnects_after_loss(ns: types.SimpleNamespace) -> None:
    """After the server drops the connection the service waits
    retryPolicy(1) seconds on its clock, then connects again; a successful
    connection resets the failure count."""
    server = ns.reactor.listenTCP(
        0, echo_factory(ns, closeOn=b"bye"), interface="127.0.0.1"
    )
    clock = ns.task.Clock()
    asked: list[int] = []

    def policy(attempt: int) -> float:
        asked.append(attempt)
        return 0.5 * attempt

    events: list[Any] = []
    endpoint = client_endpoint(ns, server.getHost().port)
    cs = ns.internet.ClientService(
        endpoint, client_factory(ns, events), retryPolicy=policy, clock=clock
    )

    async def main() -> None:
        cs.startService()
        for n in (1, 2, 3):
            proto = await cs.whenConnected()
            await turn(ns)
            assert proto.n == n
            proto.transport.write(b"bye")
            await until(ns, lambda n=n: ("lost", n, "ConnectionDone") in events)
            assert [c.getTime() - clock.seconds() for c in clock.getDelayedCalls()] == [
                0.5
            ]
            assert endpoint.attempts == n
            clock.advance(0.49)
            assert endpoint.attempts == n
            clock.advance(0.01)
            assert endpoint.attempts == n + 1
        await cs.whenConnected()
        await turn(ns)
        await cs.stopService()

    drive(ns, main)
    assert asked == [1, 1, 1]
    assert (
        formatted(ns, "Scheduling retry")
        == ["Scheduling retry 1 to connect <test endpoint> in 0.5 seconds."] * 3
    )
    server.stopListening()


def test_client_service_refused_fail_after_failures(ns: types.SimpleNamespace) -> None:
    """Refused attempts: failAfterFailures=1 fails on the first, =2 on the
    second, None waits until stop (CancelledError); the delays grow with the
    attempt count; stopping while waiting cancels the retry and fires at once."""
    clock = ns.task.Clock()
    asked: list[int] = []

    def policy(attempt: int) -> float:
        asked.append(attempt)
        return attempt / 4

    endpoint = client_endpoint(ns, refused_port(ns))
    cs = ns.internet.ClientService(
        endpoint, client_factory(ns, []), retryPolicy=policy, clock=clock
    )
    one = results(cs.whenConnected(failAfterFailures=1))
    two = results(cs.whenConnected(failAfterFailures=2))
    forever = results(cs.whenConnected())

    async def main() -> None:
        cs.startService()
        await until(ns, lambda: bool(one))
        assert one[0].type is ns.error.ConnectionRefusedError
        assert two == [] and forever == []
        assert asked == [1]
        clock.advance(0.25)
        assert endpoint.attempts == 2
        await until(ns, lambda: bool(two))

    drive(ns, main)
    assert two[0].type is ns.error.ConnectionRefusedError
    assert asked == [1, 2]
    assert [c.getTime() for c in clock.getDelayedCalls()] == [0.25 + 0.5]
    late = results(cs.whenConnected(failAfterFailures=1))
    assert late == []
    assert results(cs.stopService()) == [None]
    assert clock.getDelayedCalls() == []
    assert forever[0].type is ns.defer.CancelledError
    assert late[0].type is ns.defer.CancelledError
    assert formatted(ns, "Scheduling retry") == [
        "Scheduling retry 1 to connect <test endpoint> in 0.25 seconds.",
        "Scheduling retry 2 to connect <test endpoint> in 0.5 seconds.",
    ]
    assert errors(ns) == []


def test_client_service_stop_while_connecting(ns: types.SimpleNamespace) -> None:
    """Stopping during an attempt cancels it; stop fires at once, waiters get
    CancelledError, and a restart makes a new attempt."""
    attempts: list[Any] = []

    class Pending:
        def connect(self, factory: Any) -> Any:
            d = ns.defer.Deferred(lambda d: attempts.append("cancelled"))
            attempts.append(d)
            return d

    cs = ns.internet.ClientService(
        Pending(), client_factory(ns, []), clock=ns.task.Clock()
    )
    cs.startService()
    waiting = results(cs.whenConnected())
    assert results(cs.stopService()) == [None]
    assert attempts[1:] == ["cancelled"]
    assert waiting[0].type is ns.defer.CancelledError
    assert errors(ns) == []
    cs.startService()
    assert len(attempts) == 3
    assert results(cs.stopService()) == [None]


def fake_connect_endpoint(ns: types.SimpleNamespace, made: list[Any]) -> Any:
    """An endpoint that connects at once to a StringTransport."""

    class Instant:
        def connect(self, factory: Any) -> Any:
            proto = factory.buildProtocol(None)
            proto.makeConnection(ns.testing.StringTransport())
            made.append(proto)
            return ns.defer.succeed(proto)

    return Instant()


def test_client_service_state_quirks(ns: types.SimpleNamespace) -> None:
    """Twisted's exact state machine: stop before start fires at once and leaves
    earlier whenConnected waiters pending (they fire on the next connection);
    once stopped, whenConnected fails at once; a synchronous connect works."""
    made: list[Any] = []
    events: list[Any] = []
    cs = ns.internet.ClientService(
        fake_connect_endpoint(ns, made),
        client_factory(ns, events),
        clock=ns.task.Clock(),
    )
    early = results(cs.whenConnected())
    assert results(cs.stopService()) == [None]
    assert early == []
    assert results(cs.whenConnected())[0].type is ns.defer.CancelledError
    cs.startService()
    assert len(made) == 1
    assert early == [made[0]._protocol]
    assert events == [("made", 1)]


def test_client_service_restart_while_disconnecting(ns: types.SimpleNamespace) -> None:
    """start during a pending stop: the stop Deferred fires when the old
    connection is gone and a new attempt is made at that moment."""
    made: list[Any] = []
    events: list[Any] = []
    cs = ns.internet.ClientService(
        fake_connect_endpoint(ns, made),
        client_factory(ns, events),
        clock=ns.task.Clock(),
    )
    cs.startService()
    stopping = results(cs.stopService())
    assert made[0].transport.disconnecting
    assert stopping == []
    cs.startService()
    again = results(cs.stopService())
    cs.startService()
    assert len(made) == 1
    made[0].connectionLost(ns.failure.Failure(ns.error.ConnectionDone()))
    assert stopping == [None] and again == [None]
    assert len(made) == 2
    assert results(cs.whenConnected()) == [made[1]._protocol]
    assert events == [("made", 1), ("lost", 1, "ConnectionDone"), ("made", 2)]


def test_client_service_reentrant_stop_from_when_connected(
    ns: types.SimpleNamespace,
) -> None:
    """Calling stopService from a whenConnected callback while the connection is
    being recorded raises RuntimeError inside that callback (as Twisted's
    state machine does); the Deferred holds the error."""
    made: list[Any] = []
    cs = ns.internet.ClientService(
        fake_connect_endpoint(ns, made), client_factory(ns, []), clock=ns.task.Clock()
    )
    d = cs.whenConnected()
    d.addCallback(lambda p: cs.stopService())
    out = results(d)
    cs.startService()
    assert out[0].type is RuntimeError
    assert str(out[0].value) == (
        "attempting to reentrantly run _Client.stop but it wants to return "
        f"{ns.name}.internet.defer.Deferred[None] not None"
    )


def test_client_service_duplicate_start_warns(ns: types.SimpleNamespace) -> None:
    """A second startService while running only logs a warning."""
    made: list[Any] = []
    cs = ns.internet.ClientService(
        fake_connect_endpoint(ns, made), client_factory(ns, []), clock=ns.task.Clock()
    )
    cs.startService()
    cs.startService()
    assert len(made) == 1
    warnings = [e for e in ns.events if e.get("log_format", "").startswith("Duplicate")]
    assert [(e["log_level"].name, e["log_source"]) for e in warnings] == [("warn", cs)]


def test_client_service_prepare_connection(ns: types.SimpleNamespace) -> None:
    """prepareConnection gets the connected protocol (through a proxy); its
    Deferred delays whenConnected; a failure counts as a failed attempt."""
    made: list[Any] = []
    prepared: list[Any] = []
    gates: list[Any] = []

    def prepare(proto: Any) -> Any:
        prepared.append(proto)
        if len(prepared) == 1:
            raise ValueError("bad handshake")
        gates.append(ns.defer.Deferred())
        return gates[-1]

    clock = ns.task.Clock()
    cs = ns.internet.ClientService(
        fake_connect_endpoint(ns, made),
        client_factory(ns, []),
        retryPolicy=lambda n: 3.0,
        clock=clock,
        prepareConnection=prepare,
    )
    first = results(cs.whenConnected(failAfterFailures=1))
    later = results(cs.whenConnected())
    cs.startService()
    assert first[0].type is ValueError
    assert prepared[0].transport is made[0].transport
    assert prepared[0].n == 1
    clock.advance(3)
    assert len(made) == 2
    assert later == []
    gates[0].callback("ignored")
    assert later == [made[1]._protocol]
    assert later[0].n == 2


# ClientService and StreamServerEndpointService with the real endpoints


def test_real_endpoints_server_and_reconnecting_client(
    ns: types.SimpleNamespace,
) -> None:
    """TCP4ServerEndpoint + TCP4ClientEndpoint: the client reconnects after the
    server drops it, and both services stop cleanly."""
    ep = ns.endpoints
    server = ns.internet.StreamServerEndpointService(
        ep.TCP4ServerEndpoint(ns.reactor, 0, interface="127.0.0.1"),
        echo_factory(ns, closeOn=b"bye"),
    )
    events: list[Any] = []

    async def main() -> Any:
        server.startService()
        port = results(server._waitingForPort)[0]
        cs = ns.internet.ClientService(
            ep.TCP4ClientEndpoint(ns.reactor, "127.0.0.1", port.getHost().port),
            client_factory(ns, events),
            retryPolicy=lambda n: 0.01,
            clock=ns.reactor,
        )
        cs.startService()
        first = await cs.whenConnected()
        await turn(ns)
        first.transport.write(b"bye")
        await until(ns, lambda: ("made", 2) in events)
        second = results(cs.whenConnected())
        assert second[0].n == 2
        second[0].transport.write(b"echo")
        await until(ns, lambda: ("data", 2, b"echo") in events)
        await turn(ns)
        return await ns.defer.gatherResults(
            [cs.stopService(), server.stopService()], consumeErrors=True
        )

    assert drive(ns, main) == [None, None]
    assert events == [
        ("made", 1),
        ("lost", 1, "ConnectionDone"),
        ("made", 2),
        ("data", 2, b"echo"),
        ("lost", 2, "ConnectionDone"),
    ]


# Tied to the reactor's lifecycle


def test_services_follow_reactor_lifecycle(ns: types.SimpleNamespace) -> None:
    """callWhenRunning(startService) and a before-shutdown trigger on
    stopService: reactor.stop waits for the services' Deferreds, so the
    client's connection is closed and a slow service has finished before the
    during-shutdown triggers run."""
    order: list[Any] = []

    class Slow(ns.service.Service):
        def stopService(self) -> Any:
            super().stopService()
            d = ns.defer.Deferred()
            ns.reactor.callLater(
                0.05, lambda: (order.append("slow stopped"), d.callback(None))
            )
            return d

    top = ns.service.MultiService()
    server = ns.internet.StreamServerEndpointService(
        server_endpoint(ns), echo_factory(ns)
    )
    server.setServiceParent(top)
    Slow().setServiceParent(top)
    events: list[Any] = []
    holder: list[Any] = []

    def startClient() -> None:
        port = results(server._waitingForPort)[0]
        cs = ns.internet.ClientService(
            client_endpoint(ns, port.getHost().port),
            client_factory(ns, events),
            clock=ns.reactor,
        )
        cs.setServiceParent(top)
        holder.append(cs)
        cs.whenConnected().addCallback(lambda p: p.transport.write(b"x"))

    ns.reactor.callWhenRunning(top.startService)
    ns.reactor.callWhenRunning(startClient)
    ns.reactor.addSystemEventTrigger("before", "shutdown", top.stopService)
    ns.reactor.addSystemEventTrigger("during", "shutdown", order.append, "during")
    guard = ns.reactor.callLater(5, ns.reactor.stop)

    def check() -> None:
        if ("data", 1, b"x") in events:
            ns.reactor.stop()
        else:
            ns.reactor.callLater(0.001, check)

    ns.reactor.callWhenRunning(check)
    ns.reactor.run(installSignalHandlers=False)
    assert guard.active()
    guard.cancel()
    assert order == ["slow stopped", "during"]
    assert events == [("made", 1), ("data", 1, b"x"), ("lost", 1, "ConnectionDone")]
    assert top.running == 0 and holder[0].running == 0


def test_client_service_with_task_react(reactor: Any) -> None:
    """task.react with no Application: main starts a ClientService, awaits the
    connection, stops the service and returns; react exits with 0."""
    from torsion.application.internet import ClientService, StreamServerEndpointService
    from torsion.internet import defer, task
    from torsion.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint

    tns = types.SimpleNamespace(
        protocol=importlib.import_module("torsion.internet.protocol")
    )
    events: list[Any] = []

    async def main(r: Any) -> None:
        server = StreamServerEndpointService(
            TCP4ServerEndpoint(r, 0, interface="127.0.0.1"), echo_factory(tns)
        )
        server.startService()
        port = await server._waitingForPort
        cs = ClientService(
            TCP4ClientEndpoint(r, "127.0.0.1", port.getHost().port),
            client_factory(tns, events),
            clock=r,
        )
        cs.startService()
        proto = await cs.whenConnected()
        proto.transport.write(b"react")
        await task.deferLater(r, 0.05, lambda: None)
        await defer.gatherResults([cs.stopService(), server.stopService()])

    with pytest.raises(SystemExit) as exit:
        task.react(lambda r: defer.ensureDeferred(main(r)), _reactor=reactor)
    assert exit.value.code == 0
    assert events == [("made", 1), ("data", 1, b"react"), ("lost", 1, "ConnectionDone")]


def test_client_service_proxy_forwards_interfaces(ns: types.SimpleNamespace) -> None:
    """The protocol seen by the transport and prepareConnection provides the
    same interfaces as the factory's protocol and forwards its attributes."""
    from zope.interface import implementer

    @implementer(ns.interfaces.IHalfCloseableProtocol)
    class HalfClose(ns.protocol.Protocol):
        marker = "here"

        def readConnectionLost(self) -> None:
            pass

        def writeConnectionLost(self) -> None:
            pass

    seen: list[Any] = []
    made: list[Any] = []
    cs = ns.internet.ClientService(
        fake_connect_endpoint(ns, made),
        ns.protocol.Factory.forProtocol(HalfClose),
        clock=ns.task.Clock(),
        prepareConnection=seen.append,
    )
    cs.startService()
    [proxy] = seen
    assert proxy is made[0]
    assert ns.interfaces.IHalfCloseableProtocol.providedBy(proxy)
    assert ns.interfaces.IProtocol.providedBy(proxy)
    assert proxy.marker == "here"
    assert type(proxy) is not HalfClose
    inner = results(cs.whenConnected())[0]
    assert type(inner) is HalfClose
    assert repr(proxy) == f"<_ReconnectingProtocolProxy wrapping {inner!r}>"
    assert results(cs.stopService()) == []
    proxy.connectionLost(ns.failure.Failure(ns.error.ConnectionDone()))


def test_unix_server_and_client_services(ns: types.SimpleNamespace) -> None:
    """UNIXServer passes its arguments to listenUNIX (the socket file gets
    the mode), UNIXClient to connectUNIX; stopping the server removes the
    socket file."""
    import os
    import stat

    from unix_helpers import socket_directory

    with socket_directory() as directory:
        path = os.path.join(directory, "s")
        server = ns.internet.UNIXServer(
            path, echo_factory(ns), mode=0o640, reactor=ns.reactor
        )
        server.startService()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
        events: list[Any] = []

        class Factory(ns.protocol.ClientFactory):
            def buildProtocol(self, addr: Any) -> Any:
                events.append(("addr", addr))
                return client_factory(ns, events).buildProtocol(addr)

            def clientConnectionLost(self, connector: Any, reason: Any) -> None:
                events.append(("factory lost", reason.type.__name__))

        client = ns.internet.UNIXClient(path, Factory(), reactor=ns.reactor)

        async def main() -> None:
            client.startService()
            await until(ns, lambda: ("made", 1) in events)
            client.stopService()
            await until(ns, lambda: len(events) == 4)
            assert await server.stopService() is None

        drive(ns, main)
        assert events == [
            ("addr", ns.address.UNIXAddress(path)),
            ("made", 1),
            ("lost", 1, "ConnectionDone"),
            ("factory lost", "ConnectionDone"),
        ]
        assert os.listdir(directory) == []
