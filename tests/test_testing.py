"""Tests for torsion.internet.testing: fakes, and the result/log assertions."""

from __future__ import annotations

import re
import socket
import unittest
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from torsion.internet import defer, error, interfaces, protocol, testing
from torsion.internet.address import IPv4Address, IPv6Address, UNIXAddress
from torsion.internet.testing import (
    AccumulatingProtocol,
    EventLoggingObserver,
    MemoryReactor,
    MemoryReactorClock,
    NonStreamingProducer,
    RaisingMemoryReactor,
    StringTransport,
    StringTransportWithDisconnection,
    assertNoResult,
    failureResultOf,
    flushLoggedErrors,
    successResultOf,
)
from torsion.logger import Logger, globalLogPublisher
from torsion.python import log
from torsion.python.failure import Failure
from twisted.internet import defer as t_defer
from twisted.internet import testing as t_testing
from twisted.python import log as t_log
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyClass, verifyObject


@pytest.fixture(autouse=True)
def _noLeftoverErrors() -> Iterator[None]:
    flushLoggedErrors()
    yield
    assert flushLoggedErrors() == []


# StringTransport


def test_string_transport_write_value_clear() -> None:
    """write/writeSequence buffer bytes; value returns them; clear empties."""
    t = StringTransport()
    assert t.value() == b""
    t.write(b"ab")
    t.writeSequence([b"c", b"de"])
    assert t.value() == b"abcde"
    t.clear()
    assert t.value() == b""
    t.write(b"x")
    assert t.value() == b"x"


@pytest.mark.parametrize("bad", ["text", bytearray(b"x"), memoryview(b"x"), 1])
def test_string_transport_write_rejects_non_bytes(bad: Any) -> None:
    """Anything but bytes is a TypeError('Data must be bytes')."""
    t = StringTransport()
    with pytest.raises(TypeError, match="^Data must be bytes$"):
        t.write(bad)
    assert t.value() == b""


def test_string_transport_lose_and_abort() -> None:
    """loseConnection sets disconnecting; abortConnection also disconnected."""
    t = StringTransport()
    assert (t.connected, t.disconnecting, t.disconnected) == (True, False, False)
    t.loseConnection()
    assert (t.disconnecting, t.disconnected) == (True, False)
    t2 = StringTransport()
    t2.abortConnection()
    assert (t2.disconnecting, t2.disconnected) == (True, True)


def test_string_transport_addresses() -> None:
    """Default peer/host addresses are Twisted's; given ones are returned."""
    t = StringTransport()
    assert t.getPeer() == IPv4Address("TCP", "192.168.1.1", 54321)
    assert t.getHost() == IPv4Address("TCP", "10.0.0.1", 12345)
    host = IPv4Address("TCP", "127.0.0.1", 1)
    peer = IPv6Address("TCP", "::1", 2)
    t2 = StringTransport(hostAddress=host, peerAddress=peer)
    assert t2.getHost() is host
    assert t2.getPeer() is peer


def test_string_transport_producer_registration() -> None:
    """One producer at a time; unregistering needs a registered producer."""
    t = StringTransport()
    producer = object()
    assert (t.producer, t.streaming) == (None, None)
    t.registerProducer(producer, True)
    assert (t.producer, t.streaming) == (producer, True)
    with pytest.raises(RuntimeError, match="^Cannot register two producers$"):
        t.registerProducer(object(), False)
    t.unregisterProducer()
    assert (t.producer, t.streaming) == (None, None)
    with pytest.raises(
        RuntimeError,
        match="^Cannot unregister a producer unless one is registered$",
    ):
        t.unregisterProducer()


def test_string_transport_producer_state() -> None:
    """pause/resume/stop move producerState; stopped cannot resume."""
    t = StringTransport()
    assert t.producerState == "producing"
    t.pauseProducing()
    assert t.producerState == "paused"
    t.resumeProducing()
    assert t.producerState == "producing"
    t.stopProducing()
    assert t.producerState == "stopped"
    with pytest.raises(RuntimeError, match="^Cannot resume a stopped producer$"):
        t.resumeProducing()
    with pytest.raises(RuntimeError, match="^Cannot resume a stopped producer$"):
        t.pauseProducing()


def test_string_transport_resume_after_lose() -> None:
    """After loseConnection, pause/resume raise unless lenient."""
    t = StringTransport()
    t.loseConnection()
    with pytest.raises(
        RuntimeError, match="^Cannot resume producing after loseConnection$"
    ):
        t.resumeProducing()
    lenient = StringTransport(lenient=True)
    lenient.loseConnection()
    lenient.pauseProducing()
    lenient.resumeProducing()
    assert lenient.producerState == "producing"


def test_string_transport_interfaces() -> None:
    """StringTransport provides ITransport, IConsumer and IPushProducer."""
    t = StringTransport()
    for iface in (
        interfaces.ITransport,
        interfaces.IConsumer,
        interfaces.IPushProducer,
    ):
        assert verifyObject(iface, t)


def test_with_disconnection_calls_connection_lost_once() -> None:
    """loseConnection tells the protocol once, with ConnectionDone('Bye.')."""
    t = StringTransportWithDisconnection()
    proto = AccumulatingProtocol()
    t.protocol = proto
    proto.makeConnection(t)
    t.loseConnection()
    t.loseConnection()
    assert t.connected is False
    assert proto.closed == 1
    assert isinstance(proto.closedReason, Failure)
    assert proto.closedReason.check(error.ConnectionDone)
    assert str(proto.closedReason.value) == "Connection was closed cleanly: Bye.."
    assert t.disconnecting is False


# AccumulatingProtocol


def test_accumulating_protocol() -> None:
    """Records data, connection made/lost and fires its Deferreds."""
    factory = protocol.Factory.forProtocol(AccumulatingProtocol)
    made: defer.Deferred[Any] = defer.Deferred()
    factory.protocolConnectionMade = made
    proto = factory.buildProtocol(None)
    closed: defer.Deferred[None] = defer.Deferred()
    proto.closedDeferred = closed
    assert (proto.made, proto.closed, proto.data) == (0, 0, b"")
    proto.makeConnection(StringTransport())
    assert proto.made == 1
    assert successResultOf(made) is proto
    assert factory.protocolConnectionMade is None
    proto.dataReceived(b"ab")
    proto.dataReceived(b"c")
    assert proto.data == b"abc"
    reason = Failure(error.ConnectionLost())
    proto.connectionLost(reason)
    assert proto.closed == 1
    assert proto.closedReason is reason
    assert successResultOf(closed) is None
    assert proto.closedDeferred is None


def test_accumulating_protocol_without_factory() -> None:
    """Without a factory, connectionMade only sets made."""
    proto = AccumulatingProtocol()
    proto.makeConnection(StringTransport())
    assert proto.made == 1


def test_line_sending_protocol() -> None:
    """LineSendingProtocol sends its lines on connect and records responses."""
    proto = testing.LineSendingProtocol([b"one", b"two"])
    t = StringTransport()
    proto.makeConnection(t)
    assert t.value() == b"one\r\ntwo\r\n"
    proto.dataReceived(b"reply\r\n")
    assert proto.response == [b"reply"]
    proto.connectionLost(Failure(error.ConnectionDone()))
    assert proto.lostConn is True
    waiting = testing.LineSendingProtocol([b"hi"], start=False)
    t2 = StringTransport()
    waiting.makeConnection(t2)
    assert t2.value() == b""
    waiting.dataReceived(b"hello\r\n")
    assert t2.value() == b"hi\r\n"
    assert waiting.lines == []


def test_small_fakes() -> None:
    """FakeDatagramTransport records writes; StringIOWithoutClosing stays open."""
    dt = testing.FakeDatagramTransport()
    dt.write(b"p", ("1.2.3.4", 5))
    dt.write(b"q")
    assert dt.written == [(b"p", ("1.2.3.4", 5)), (b"q", dt.noAddr)]
    io = testing.StringIOWithoutClosing()
    io.write(b"x")
    io.close()
    assert io.getvalue() == b"x"


# MemoryReactor


class _RecordingClientFactory(protocol.ClientFactory):
    def __init__(self) -> None:
        self.connectors: list[Any] = []

    def startedConnecting(self, connector: Any) -> None:
        self.connectors.append(connector)


def test_memory_reactor_tcp() -> None:
    """listenTCP/connectTCP are recorded; fake port and connector behave."""
    r = MemoryReactor()
    f = protocol.Factory()
    port = r.listenTCP(8080, f)
    assert r.tcpServers == [(8080, f, 50, "")]
    assert port.getHost() == IPv4Address("TCP", "0.0.0.0", 8080)
    port6 = r.listenTCP(1, f, backlog=5, interface="::1")
    assert port6.getHost() == IPv6Address("TCP", "::1", 1)
    assert r.tcpServers[1] == (1, f, 5, "::1")
    cf = _RecordingClientFactory()
    conn = r.connectTCP("example.com", 80, cf, timeout=3, bindAddress=("h", 0))
    assert r.tcpClients == [("example.com", 80, cf, 3, ("h", 0))]
    assert cf.connectors == [conn]
    assert r.connectors == [conn]
    assert conn.getDestination() == IPv4Address("TCP", "example.com", 80)
    conn6 = r.connectTCP("::1", 81, cf)
    assert conn6.getDestination() == IPv6Address("TCP", "::1", 81)
    assert conn.stoppedConnecting is False
    conn.stopConnecting()
    assert conn.stoppedConnecting is True
    conn.disconnect()
    assert conn._disconnected is True
    port.startListening()
    port.stopListening()


def test_memory_reactor_ssl_unix_udp() -> None:
    """SSL, UNIX and UDP calls are recorded with their defaults."""
    r = MemoryReactor()
    f = protocol.Factory()
    cf = _RecordingClientFactory()
    ctx = object()
    assert r.listenSSL(443, f, ctx).getHost() == IPv4Address("TCP", "0.0.0.0", 443)
    assert r.sslServers == [(443, f, ctx, 50, "")]
    c = r.connectSSL("h", 443, cf, ctx)
    assert r.sslClients == [("h", 443, cf, ctx, 30, None)]
    assert c.getDestination() == IPv4Address("TCP", "h", 443)
    assert r.listenUNIX("/tmp/s", f).getHost() == UNIXAddress("/tmp/s")
    assert r.unixServers == [("/tmp/s", f, 50, 0o666, 0)]
    u = r.connectUNIX("/tmp/s", cf)
    assert r.unixClients == [("/tmp/s", cf, 30, 0)]
    assert u.getDestination() == UNIXAddress("/tmp/s")
    assert cf.connectors == [c, u]
    p = (
        protocol.DatagramProtocol()
        if hasattr(protocol, "DatagramProtocol")
        else object()
    )
    assert r.listenUDP(53, p).getHost() == IPv4Address("UDP", "0.0.0.0", 53)
    assert r.udpPorts == [(53, p, "", 8192)]


def test_memory_reactor_adopt() -> None:
    """adoptStreamPort/adoptDatagramPort/adoptStreamConnection are recorded."""
    r = MemoryReactor()
    f = protocol.Factory()
    port = r.adoptStreamPort(7, socket.AF_INET, f)
    assert port.getHost() == IPv4Address("TCP", "0.0.0.0", 1234)
    port6 = r.adoptStreamPort(8, socket.AF_INET6, f)
    assert port6.getHost() == IPv6Address("TCP", "::", 1234)
    with pytest.raises(error.UnsupportedAddressFamily):
        r.adoptStreamPort(9, socket.AF_UNIX, f)
    udp = r.adoptDatagramPort(10, socket.AF_INET, "proto")
    assert udp.getHost() == IPv4Address("UDP", "0.0.0.0", 1234)
    r.adoptStreamConnection(11, socket.AF_INET, f)
    assert r.adoptedPorts == [
        (7, socket.AF_INET, f),
        (8, socket.AF_INET6, f),
        (10, socket.AF_INET, "proto", 8192),
    ]
    assert r.adoptedStreamConnections == [(11, socket.AF_INET, f)]


def test_memory_reactor_run_stop_crash() -> None:
    """run calls the when-running hooks then stops; crash sets running None."""
    r = MemoryReactor()
    seen: list[Any] = []
    r.callWhenRunning(seen.append, 1)
    assert seen == []
    assert (r.running, r.hasRun, r.hasStopped) == (False, False, False)
    r.run()
    assert seen == [1]
    assert (r.running, r.hasRun, r.hasStopped) == (False, True, True)
    r.callWhenRunning(seen.append, 2)
    assert seen == [1, 2]
    r.crash()
    assert (r.running, r.hasCrashed) == (None, True)
    r.install()
    assert r.hasInstalled is True


def test_memory_reactor_triggers_and_fds() -> None:
    """Triggers are recorded by phase and event; readers/writers are sets."""
    r = MemoryReactor()
    r.addSystemEventTrigger("before", "shutdown", print, 1, x=2)
    r.addSystemEventTrigger("before", "shutdown", len)
    assert r.triggers == {
        "before": {"shutdown": [(print, (1,), {"x": 2}), (len, (), {})]}
    }
    r.addReader("a")
    r.addReader("a")
    r.addWriter("b")
    assert r.getReaders() == ["a"]
    assert r.getWriters() == ["b"]
    r.removeReader("missing")
    assert sorted(r.removeAll()) == ["a", "b"]
    assert (r.getReaders(), r.getWriters()) == ([], [])


def test_memory_reactor_not_implemented() -> None:
    """The unimplemented methods raise NotImplementedError."""
    r = MemoryReactor()
    for call in (
        lambda: r.iterate(),
        lambda: r.resolve("x"),
        lambda: r.fireSystemEvent("shutdown"),
        lambda: r.removeSystemEventTrigger(None),
    ):
        with pytest.raises(NotImplementedError):
            call()


def test_memory_reactor_name_resolver() -> None:
    """The default resolver answers 127.0.0.1 synchronously, keeping the port."""
    r = MemoryReactor()
    events: list[Any] = []

    class Receiver:
        def resolutionBegan(self, resolution: Any) -> None:
            events.append(("began", resolution.name))

        def addressResolved(self, address: Any) -> None:
            events.append(("address", address))

        def resolutionComplete(self) -> None:
            events.append("complete")

    r.nameResolver.resolveHostName(Receiver(), "example.com", 80)
    assert events == [
        ("began", "example.com"),
        ("address", IPv4Address("TCP", "127.0.0.1", 80)),
        "complete",
    ]
    new = object()
    old = r.installNameResolver(new)
    assert isinstance(old, testing.SynchronousResolver)
    assert r.nameResolver is new


@pytest.mark.parametrize(
    "cls", [MemoryReactor, MemoryReactorClock, RaisingMemoryReactor, StringTransport]
)
def test_declared_interfaces_verify(cls: type) -> None:
    """Every interface a fake declares is fully provided."""
    from zope.interface import implementedBy

    declared = list(implementedBy(cls))
    assert declared
    for iface in declared:
        assert verifyClass(iface, cls)


def test_memory_reactor_clock() -> None:
    """MemoryReactorClock records connections and schedules on its clock."""
    r = MemoryReactorClock()
    ran: list[int] = []
    r.callLater(2, ran.append, 1)
    r.listenTCP(1, protocol.Factory())
    r.advance(2)
    assert ran == [1]
    assert r.seconds() == 2
    assert len(r.tcpServers) == 1
    assert interfaces.IReactorTime.providedBy(r)
    assert interfaces.IReactorTCP.providedBy(r)


def test_raising_memory_reactor() -> None:
    """Listen methods raise the listen exception, connect the connect one."""
    listenExc = error.CannotListenError("", 1, OSError("x"))
    connectExc = error.ConnectError("y")
    r = RaisingMemoryReactor(listenExc, connectExc)
    f = protocol.Factory()
    for call in (
        lambda: r.listenTCP(1, f),
        lambda: r.listenSSL(1, f, None),
        lambda: r.listenUNIX("/x", f),
        lambda: r.adoptStreamPort(1, socket.AF_INET, f),
    ):
        with pytest.raises(error.CannotListenError) as info:
            call()
        assert info.value is listenExc
    for call in (
        lambda: r.connectTCP("h", 1, f),
        lambda: r.connectSSL("h", 1, f, None),
        lambda: r.connectUNIX("/x", f),
        lambda: r.adoptDatagramPort(1, socket.AF_INET, None, 10),
        lambda: r.adoptStreamConnection(1, socket.AF_INET, f),
    ):
        with pytest.raises(error.ConnectError) as info2:
            call()
        assert info2.value is connectExc
    assert r.installNameResolver("n") is not None
    assert r.nameResolver == "n"


def test_non_streaming_producer() -> None:
    """Writes 0..9 when pulled, unregisters itself and fires result."""
    t = StringTransport()
    p = NonStreamingProducer(t)
    t.registerProducer(p, False)
    result = p.result
    for _ in range(10):
        assertNoResult(result)
        p.resumeProducing()
    assert t.value() == b"0123456789"
    assert t.producer is None
    assert successResultOf(result) is None
    with pytest.raises(RuntimeError, match="resume after unregister/stop"):
        p.resumeProducing()
    with pytest.raises(RuntimeError, match="pause should never be called"):
        p.pauseProducing()


def test_non_streaming_producer_stop() -> None:
    """stopProducing marks it stopped and fires result."""
    p = NonStreamingProducer(StringTransport())
    result = p.result
    p.stopProducing()
    assert p.stopped is True
    assert p.consumer is None
    assert successResultOf(result) is None


def test_wait_until_all_disconnected() -> None:
    """Fires once every protocol's transport is no longer connected."""
    r = MemoryReactorClock()
    protos = []
    for _ in range(2):
        proto = AccumulatingProtocol()
        proto.makeConnection(StringTransport())
        protos.append(proto)
    d = testing.waitUntilAllDisconnected(r, protos)
    r.advance(0.05)
    assertNoResult(d)
    protos[0].transport.connected = False
    r.advance(0.05)
    assertNoResult(d)
    protos[1].transport.connected = False
    r.advance(0.01)
    successResultOf(d)
    assert r.getDelayedCalls() == []


def test_event_logging_observer() -> None:
    """EventLoggingObserver keeps events and reads as a sequence."""
    obs = EventLoggingObserver()
    globalLogPublisher.addObserver(obs)
    try:
        Logger(namespace="t").info("hello {who}", who="you")
    finally:
        globalLogPublisher.removeObserver(obs)
    assert len(obs) == 1
    assert obs[0]["who"] == "you"
    assert [e["log_format"] for e in obs] == ["hello {who}"]
    assert list(obs[0:1]) == [obs[0]]


def test_event_logging_observer_with_cleanup() -> None:
    """createWithCleanup removes the observer when the test case cleans up."""
    seen: list[int] = []

    class Case(unittest.TestCase):
        def test_it(self) -> None:
            obs = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
            Logger().info("one")
            seen.append(len(obs))
            self.obs = obs

    case = Case("test_it")
    result = unittest.TestResult()
    case.run(result)
    assert result.wasSuccessful()
    Logger().info("two")
    assert seen == [1]
    assert len(case.obs) == 1


# result assertions


def test_success_result_of() -> None:
    """Returns the current success result."""
    assert successResultOf(defer.succeed(3)) == 3


def test_success_result_of_coroutine() -> None:
    """Accepts a coroutine that completes synchronously."""

    async def f() -> int:
        return await defer.succeed(5)

    assert successResultOf(f()) == 5


def test_failure_result_of() -> None:
    """Returns the current Failure, optionally checking its type."""
    f = failureResultOf(defer.fail(KeyError("k")))
    assert f.type is KeyError
    f2 = failureResultOf(defer.fail(KeyError("k")), ValueError, LookupError)
    assert f2.type is KeyError


def test_assert_no_result() -> None:
    """Passes for a pending Deferred and leaves it usable."""
    d: defer.Deferred[int] = defer.Deferred()
    assertNoResult(d)
    d.callback(1)
    assert successResultOf(d) == 1


def test_assert_no_result_consumes_failure() -> None:
    """When the Deferred has a failure, it is consumed as the assertion fails."""
    d = defer.fail(KeyError("k"))
    with pytest.raises(AssertionError):
        assertNoResult(d)
    assert successResultOf(d) is None


def _normalize(text: str) -> str:
    text = re.sub(r"0x[0-9a-f]+", "0xADDR", text)
    return text.replace("twisted.python.failure", "torsion.python.failure")


def _messages(lib: Any, call: Callable[..., Any]) -> list[str]:
    out = []
    cases: list[tuple[str, Callable[[], Any], tuple[Any, ...]]] = [
        ("successResultOf", lambda: lib.Deferred(), ()),
        ("successResultOf", lambda: lib.fail(KeyError("x")), ()),
        ("failureResultOf", lambda: lib.succeed(3), ()),
        ("failureResultOf", lambda: lib.Deferred(), ()),
        ("failureResultOf", lambda: lib.fail(KeyError("x")), (ValueError, TypeError)),
        ("assertNoResult", lambda: lib.succeed("v"), ()),
        ("assertNoResult", lambda: lib.fail(KeyError("x")), ()),
    ]
    for name, make, extra in cases:
        try:
            call(name, make(), *extra)
        except AssertionError as e:
            out.append(_normalize(str(e)))
        else:
            out.append("no error")
    return out


def test_assertion_messages_match_twisted() -> None:
    """The failure messages equal trial's, addresses aside."""
    trial = SynchronousTestCase()
    expected = _messages(t_defer, lambda n, *a: getattr(trial, n)(*a))
    actual = _messages(defer, lambda n, *a: getattr(testing, n)(*a))
    assert actual == expected
    assert (
        actual[0]
        == "Success result expected on <Deferred at 0xADDR>, found no result instead"
    )
    assert actual[5] == (
        "No result expected on <Deferred at 0xADDR current result: 'v'>, "
        "found 'v' instead"
    )


def test_mixin_uses_failure_exception() -> None:
    """TestCaseMixin reports through self.fail / failureException."""

    class Custom(AssertionError):
        pass

    outcomes: dict[str, Any] = {}

    class Case(testing.TestCaseMixin, unittest.TestCase):
        failureException = Custom

        def test_it(self) -> None:
            outcomes["value"] = self.successResultOf(defer.succeed(1))
            outcomes["failure"] = self.failureResultOf(defer.fail(OSError()), OSError)
            self.assertNoResult(defer.Deferred())
            with self.assertRaises(Custom) as info:
                self.successResultOf(defer.Deferred())
            outcomes["message"] = str(info.exception)
            with self.assertRaises(Custom):
                self.failureResultOf(defer.succeed(1))
            with self.assertRaises(Custom):
                self.assertNoResult(defer.succeed(1))
            try:
                raise ValueError("logged")
            except ValueError:
                log.err()
            outcomes["flushed"] = self.flushLoggedErrors(ValueError)

    result = unittest.TestResult()
    Case("test_it").run(result)
    assert result.wasSuccessful(), result.errors + result.failures
    assert outcomes["value"] == 1
    assert outcomes["failure"].type is OSError
    assert outcomes["message"].startswith("Success result expected on <Deferred at")
    assert [f.type for f in outcomes["flushed"]] == [ValueError]


def test_mixin_failure_is_reported_as_test_failure() -> None:
    """A failing helper makes the unittest test fail, not error."""

    class Case(testing.TestCaseMixin, unittest.TestCase):
        def test_it(self) -> None:
            self.successResultOf(defer.Deferred())

    result = unittest.TestResult()
    Case("test_it").run(result)
    assert len(result.failures) == 1
    assert result.errors == []


# flushLoggedErrors


def test_flush_logged_errors_all_and_by_type() -> None:
    """Flushing by type keeps the others; flushing with no types takes all."""
    try:
        raise ValueError("v")
    except ValueError:
        log.err(None, "why")
    log.err(Failure(KeyError("k")))
    Logger().failure("failed", Failure(OSError("o")))
    log.msg("not an error")
    assert [f.type for f in flushLoggedErrors(KeyError)] == [KeyError]
    assert [f.type for f in flushLoggedErrors(LookupError, ZeroDivisionError)] == []
    assert [f.type for f in flushLoggedErrors()] == [ValueError, OSError]
    assert flushLoggedErrors() == []


def test_flush_logged_errors_sees_unhandled_deferred_errors() -> None:
    """A Deferred garbage-collected with a failure is collected."""
    import gc

    d = defer.fail(ZeroDivisionError("gc"))
    del d
    gc.collect()
    flushed = flushLoggedErrors(ZeroDivisionError)
    assert [str(f.value) for f in flushed] == ["gc"]


def test_flush_matches_twisted_trial() -> None:
    """Twisted's trial flushes the same errors for the same logging."""

    def scenario(logmod: Any, FailureCls: Any, flush: Callable[..., list[Any]]) -> Any:
        logmod.err(FailureCls(KeyError("a")))
        logmod.err(ValueError("b"))
        logmod.err(FailureCls(KeyError("c")), "why")
        first = [str(f.value) for f in flush(LookupError)]
        rest = [str(f.value) for f in flush()]
        return first, rest

    from twisted.python.failure import Failure as TFailure
    from twisted.trial._synctest import _logObserver

    _logObserver._add()
    try:
        _logObserver.flushErrors()
        expected = scenario(t_log, TFailure, _logObserver.flushErrors)
    finally:
        _logObserver._remove()
    actual = scenario(log, Failure, flushLoggedErrors)
    assert actual == expected == (["'a'", "'c'"], ["b"])


def test_twisted_string_transport_parity() -> None:
    """Same sequence of operations, same state, as Twisted's StringTransport."""

    def scenario(mod: Any) -> list[Any]:
        t = mod.StringTransport()
        out: list[Any] = []
        t.write(b"a")
        t.writeSequence([b"b", b"c"])
        out.append(t.value())
        for op in ("pauseProducing", "resumeProducing", "stopProducing"):
            getattr(t, op)()
            out.append(t.producerState)
        try:
            t.resumeProducing()
        except RuntimeError as e:
            out.append(str(e))
        t.loseConnection()
        out.append((t.disconnecting, t.disconnected, t.connected))
        t.abortConnection()
        out.append((t.disconnecting, t.disconnected, t.connected))
        out.append((t.getPeer().host, t.getPeer().port, t.getHost().host))
        return out

    assert scenario(testing) == scenario(t_testing)
