"""torsion.internet.protocol: factories, protocols, reconnection, ClientCreator.

Where behaviour is subtle (start/stop counting, back-off arithmetic, the
ClientCreator Deferred) the same scenario also runs on Twisted's classes and
the results are compared.
"""

from __future__ import annotations

import io
import pickle
import random

import pytest
import twisted.internet.protocol as tprotocol
import twisted.internet.task as ttask
from hypothesis import given, settings
from hypothesis import strategies as st
from torsion.internet import defer, error, interfaces, protocol, task
from torsion.logger import globalLogPublisher
from torsion.python.failure import Failure
from twisted.internet import defer as tdefer
from twisted.internet.testing import MemoryReactorClock as TMemoryReactorClock
from zope.interface import implementer
from zope.interface.verify import verifyClass, verifyObject


@pytest.fixture
def events():
    """Collect events published to the global log publisher during the test."""
    collected: list[dict] = []
    globalLogPublisher.addObserver(collected.append)
    yield collected
    globalLogPublisher.removeObserver(collected.append)


class Recorder(protocol.Protocol):
    """A protocol that records its callbacks."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def connectionMade(self) -> None:
        self.calls.append(("made", self.transport))

    def dataReceived(self, data: bytes) -> None:
        self.calls.append(("data", data))

    def connectionLost(self, reason=protocol.connectionDone) -> None:
        self.calls.append(("lost", reason))


# Factory ---------------------------------------------------------------------


def test_factory_builds_protocol_with_factory_set():
    """buildProtocol calls the protocol class and sets .factory."""
    f = protocol.Factory()
    f.protocol = Recorder
    p = f.buildProtocol(None)
    assert type(p) is Recorder
    assert p.factory is f


def test_forProtocol_passes_arguments():
    """forProtocol builds cls(*args, **kwargs) with .protocol set."""

    class F(protocol.ServerFactory):
        def __init__(self, a, b=None):
            self.a, self.b = a, b

    f = F.forProtocol(Recorder, 1, b=2)
    assert type(f) is F
    assert (f.a, f.b, f.protocol) == (1, 2, Recorder)


def test_factory_subscriptable():
    """Factory[P] works at runtime, as Twisted's generic Factory."""
    assert protocol.Factory[Recorder] is not None
    assert protocol.ClientFactory[Recorder] is not None


def test_factory_interfaces_and_defaults():
    """Factories provide IProtocolFactory and ILoggingContext; logPrefix is the class name."""
    assert verifyClass(interfaces.IProtocolFactory, protocol.Factory)
    assert verifyClass(interfaces.ILoggingContext, protocol.Factory)

    class MyFactory(protocol.ClientFactory):
        pass

    f = MyFactory()
    assert f.logPrefix() == "MyFactory"
    assert (f.numPorts, f.noisy, f.protocol) == (0, True, None)
    assert f.startedConnecting(None) is None
    assert f.clientConnectionFailed(None, None) is None
    assert f.clientConnectionLost(None, None) is None


def _runStartStop(module, ops):
    calls = []

    class F(module.Factory):
        noisy = False

        def startFactory(self):
            calls.append(("start", self.numPorts))

        def stopFactory(self):
            calls.append(("stop", self.numPorts))

    f = F()
    for op in ops:
        getattr(f, op)()
        calls.append(("count", f.numPorts))
    return calls


@settings(max_examples=200)
@given(st.lists(st.sampled_from(["doStart", "doStop"]), max_size=12))
def test_doStart_doStop_match_twisted(ops):
    """startFactory/stopFactory run once around the first start and last stop."""
    assert _runStartStop(protocol, ops) == _runStartStop(tprotocol, ops)


def test_doStart_doStop_counting():
    """Spelled out: two ports start once, stop once; extra doStop is ignored."""
    assert _runStartStop(
        protocol, ["doStart", "doStart", "doStop", "doStop", "doStop"]
    ) == [
        ("start", 0),
        ("count", 1),
        ("count", 2),
        ("count", 1),
        ("stop", 0),
        ("count", 0),
        ("count", 0),
    ]


def test_noisy_factory_logs_start_and_stop(events):
    """A noisy factory logs "Starting factory" / "Stopping factory" with itself as source."""
    from torsion.logger import formatEvent

    class Noisy(protocol.Factory):
        def __repr__(self):
            return "<Noisy>"

    f = Noisy()
    f.doStart()
    f.doStop()
    mine = [e for e in events if e.get("log_source") is f]
    assert [formatEvent(e) for e in mine] == [
        "Starting factory <Noisy>",
        "Stopping factory <Noisy>",
    ]
    assert mine[0]["log_namespace"] == f"{__name__}.Noisy"
    assert mine[0]["factory"] is f
    assert mine[0]["log_level"].name == "info"


def test_quiet_factory_does_not_log(events):
    """noisy = False suppresses the start/stop messages."""
    f = protocol.Factory()
    f.noisy = False
    f.doStart()
    f.doStop()
    assert [e for e in events if e.get("log_source") is f] == []


# Protocol --------------------------------------------------------------------


def test_makeConnection():
    """makeConnection sets connected and transport, then calls connectionMade."""
    p = Recorder()
    assert (p.connected, p.transport, p.factory) == (0, None, None)
    t = object()
    p.makeConnection(t)
    assert p.connected == 1
    assert p.transport is t
    assert p.calls == [("made", t)]


def test_protocol_defaults():
    """The default callbacks accept their arguments and return None."""
    p = protocol.Protocol()
    assert p.connectionMade() is None
    assert p.dataReceived(b"x") is None
    assert p.connectionLost() is None
    assert p.connectionLost(Failure(error.ConnectionLost())) is None
    assert p.logPrefix() == "Protocol"

    class Named(protocol.Protocol):
        pass

    assert Named().logPrefix() == "Named"


def test_protocol_interfaces():
    """Protocol provides IProtocol and ILoggingContext."""
    assert verifyObject(interfaces.IProtocol, protocol.Protocol())
    assert verifyObject(interfaces.ILoggingContext, protocol.Protocol())
    assert verifyObject(interfaces.IProcessProtocol, protocol.ProcessProtocol())
    assert verifyObject(interfaces.ITransport, protocol.FileWrapper(io.BytesIO()))
    assert verifyObject(interfaces.ILoggingContext, protocol.DatagramProtocol())


def test_connectionDone():
    """connectionDone is a cleaned Failure of ConnectionDone, the default reason."""
    cd = protocol.connectionDone
    assert isinstance(cd, Failure)
    assert cd.type is error.ConnectionDone
    assert isinstance(cd.value, error.ConnectionDone)
    assert cd.check(error.ConnectionClosed) is error.ConnectionClosed
    assert cd.getErrorMessage() == "Connection was closed cleanly."
    assert cd.tb is None
    assert protocol.Protocol.connectionLost.__defaults__ == (cd,)


def test_base_protocol_hierarchy():
    """Protocol and ProcessProtocol share BaseProtocol, as in Twisted."""
    assert issubclass(protocol.Protocol, protocol.BaseProtocol)
    assert issubclass(protocol.ProcessProtocol, protocol.BaseProtocol)
    assert issubclass(protocol.ServerFactory, protocol.Factory)
    assert issubclass(protocol.ReconnectingClientFactory, protocol.ClientFactory)
    assert issubclass(protocol.ConnectedDatagramProtocol, protocol.DatagramProtocol)


# Adapters --------------------------------------------------------------------


def test_protocol_adapts_to_consumer():
    """IConsumer(protocol) writes go to dataReceived."""
    p = Recorder()
    consumer = interfaces.IConsumer(p)
    assert isinstance(consumer, protocol.ProtocolToConsumerAdapter)
    consumer.write(b"abc")
    consumer.registerProducer(object(), True)
    consumer.unregisterProducer()
    assert p.calls == [("data", b"abc")]


def test_consumer_adapts_to_protocol():
    """IProtocol(consumer) dataReceived goes to write."""

    @implementer(interfaces.IConsumer)
    class Sink:
        def __init__(self):
            self.written = []

        def registerProducer(self, producer, streaming):
            pass

        def unregisterProducer(self):
            pass

        def write(self, data):
            self.written.append(data)

    sink = Sink()
    p = interfaces.IProtocol(sink)
    assert isinstance(p, protocol.ConsumerToProtocolAdapter)
    p.makeConnection(None)
    p.connectionMade()
    p.dataReceived(b"xyz")
    p.connectionLost(None)
    assert sink.written == [b"xyz"]


def test_unrelated_object_does_not_adapt():
    """Objects providing neither interface are not adapted."""
    assert interfaces.IConsumer(object(), None) is None


# ProcessProtocol and datagram protocols -------------------------------------


def test_process_protocol_routing():
    """childDataReceived/childConnectionLost route fds 0, 1, 2 to the named callbacks."""
    seen = []

    class P(protocol.ProcessProtocol):
        def outReceived(self, data):
            seen.append(("out", data))

        def errReceived(self, data):
            seen.append(("err", data))

        def inConnectionLost(self):
            seen.append("in lost")

        def outConnectionLost(self):
            seen.append("out lost")

        def errConnectionLost(self):
            seen.append("err lost")

    p = P()
    p.childDataReceived(1, b"o")
    p.childDataReceived(2, b"e")
    p.childDataReceived(3, b"ignored")
    for fd in (0, 1, 2, 3):
        p.childConnectionLost(fd)
    assert seen == [("out", b"o"), ("err", b"e"), "in lost", "out lost", "err lost"]
    assert p.processExited(None) is None
    assert p.processEnded(None) is None


def test_datagram_protocol_start_stop(events):
    """makeConnection/doStop call startProtocol/stopProtocol once, and log if noisy."""
    calls = []

    class D(protocol.DatagramProtocol):
        def startProtocol(self):
            calls.append("start")

        def stopProtocol(self):
            calls.append("stop")

        def __str__(self):
            return "D!"

    d = D()
    transport = object()
    d.makeConnection(transport)
    assert d.transport is transport
    assert calls == ["start"]
    d.doStop()
    assert d.transport is None
    assert calls == ["start", "stop"]
    texts = [
        e.get("log_text") for e in events if e.get("log_namespace") == "log_legacy"
    ]
    assert "Starting protocol D!" in texts
    assert "Stopping protocol D!" in texts
    with pytest.raises(AssertionError):
        d.doStop()
    assert d.logPrefix() == "D"
    assert d.connectionRefused() is None
    state = d.__getstate__()
    assert state["transport"] is None


# FileWrapper -----------------------------------------------------------------


def test_file_wrapper():
    """FileWrapper writes to its file and reports Twisted's placeholder addresses."""
    f = io.BytesIO()
    w = protocol.FileWrapper(f)
    w.write(b"a")
    w.writeSequence([b"b", b"c"])
    assert f.getvalue() == b"abc"
    assert w.getPeer() == ("file", "file")
    assert w.getHost() == "file"

    class Pull:
        resumed = 0

        def resumeProducing(self):
            self.resumed += 1

    producer = Pull()
    w.registerProducer(producer, False)
    assert producer.resumed == 1
    w._checkProducer()
    assert producer.resumed == 2
    w.unregisterProducer()
    assert w.producer is None
    w.loseConnection()
    assert w.closed == 1
    assert f.closed


def test_file_wrapper_swallows_write_errors():
    """A write error goes to handleException instead of propagating."""
    handled = []

    class Broken:
        def write(self, data):
            raise OSError("disk full")

    w = protocol.FileWrapper(Broken())
    w.handleException = lambda: handled.append(True)
    w.write(b"x")
    assert handled == [True]


# ReconnectingClientFactory ---------------------------------------------------


class FakeConnector:
    """Records what the factory asks of its connector."""

    def __init__(self, stopRaises=False):
        self.connects = 0
        self.stops = 0
        self.stopRaises = stopRaises

    def connect(self):
        self.connects += 1

    def stopConnecting(self):
        self.stops += 1
        if self.stopRaises:
            raise self.stopRaises

    def __repr__(self):
        return "<FakeConnector>"


def _backoff(module, clockClass, seed, steps, **settings_):
    random.seed(seed)
    f = module.ReconnectingClientFactory()
    f.noisy = False
    for key, value in settings_.items():
        setattr(f, key, value)
    clock = clockClass()
    f.clock = clock
    connector = FakeConnector()
    trace = []
    for _ in range(steps):
        f.clientConnectionFailed(connector, None)
        pending = [c.getTime() for c in clock.getDelayedCalls()]
        trace.append((f.retries, round(f.delay, 9), [round(t, 9) for t in pending]))
        if pending:
            clock.advance(pending[0] - clock.seconds())
        trace.append(connector.connects)
    return trace


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    jitter=st.sampled_from([0, 0.119626565582, 0.5]),
    maxRetries=st.none() | st.integers(0, 6),
    maxDelay=st.sampled_from([3600, 5, 0.5]),
)
def test_backoff_matches_twisted(seed, jitter, maxRetries, maxDelay):
    """Same random seed, same settings: same delays, retries and reconnects as Twisted."""
    kw = {"jitter": jitter, "maxRetries": maxRetries, "maxDelay": maxDelay}
    ours = _backoff(protocol, task.Clock, seed, 8, **kw)
    theirs = _backoff(tprotocol, ttask.Clock, seed, 8, **kw)
    assert ours == theirs


def test_backoff_without_jitter_is_exact():
    """Without jitter each delay is the previous times e, capped at maxDelay."""
    f = protocol.ReconnectingClientFactory()
    f.noisy = False
    f.jitter = 0
    f.maxDelay = 10
    f.clock = task.Clock()
    c = FakeConnector()
    delays = []
    for _ in range(5):
        f.clientConnectionLost(c, None)
        (call,) = f.clock.getDelayedCalls()
        delays.append(call.getTime() - f.clock.seconds())
        f.clock.advance(delays[-1])
    assert delays == pytest.approx([1.0, 2.718281828459045, 7.38905609893065, 10, 10])
    assert c.connects == 5
    assert f.retries == 5


def test_max_retries_abandons(events):
    """After maxRetries failures no further attempt is scheduled (and it is logged)."""
    f = protocol.ReconnectingClientFactory()
    f.maxRetries = 2
    f.clock = task.Clock()
    c = FakeConnector()
    for _ in range(3):
        f.clientConnectionFailed(c, None)
        f.clock.advance(10000)
    assert c.connects == 2
    assert f.clock.getDelayedCalls() == []
    texts = [e.get("log_text") for e in events]
    assert "Abandoning <FakeConnector> after 3 retries." in texts
    assert any(t and t.startswith("<FakeConnector> will retry in ") for t in texts)


def test_stopTrying_cancels_and_stops_connecting():
    """stopTrying cancels the pending retry, calls stopConnecting, and stops retrying."""
    f = protocol.ReconnectingClientFactory()
    f.noisy = False
    f.clock = task.Clock()
    c = FakeConnector(stopRaises=error.NotConnectingError())
    f.clientConnectionFailed(c, None)
    assert len(f.clock.getDelayedCalls()) == 1
    f.stopTrying()
    assert f.clock.getDelayedCalls() == []
    assert c.stops == 1
    assert f.continueTrying == 0
    f.clientConnectionLost(c, None)
    assert f.clock.getDelayedCalls() == []
    f.clock.advance(10000)
    assert c.connects == 0


def test_stopTrying_propagates_other_errors():
    """Only NotConnectingError is swallowed by stopTrying."""
    f = protocol.ReconnectingClientFactory()
    f.connector = FakeConnector(stopRaises=RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        f.stopTrying()


def test_retry_after_stopTrying_logs(events):
    """retry() after stopTrying logs "Abandoning ... on explicit request"."""
    f = protocol.ReconnectingClientFactory()
    f.stopTrying()
    f.retry(FakeConnector())
    texts = [e.get("log_text") for e in events]
    assert "Abandoning <FakeConnector> on explicit request" in texts


def test_retry_without_connector():
    """retry() with no connector known raises ValueError."""
    f = protocol.ReconnectingClientFactory()
    with pytest.raises(ValueError, match="no connector to retry"):
        f.retry()


def test_resetDelay():
    """resetDelay restores initialDelay, zero retries and continueTrying."""
    f = protocol.ReconnectingClientFactory()
    f.noisy = False
    f.clock = task.Clock()
    f.clientConnectionFailed(FakeConnector(), None)
    f.stopTrying()
    f.resetDelay()
    assert (f.delay, f.retries, f.continueTrying, f._callID) == (1.0, 0, 1, None)


def test_class_defaults_match_twisted():
    """The back-off constants are Twisted's."""
    for name in (
        "maxDelay",
        "initialDelay",
        "factor",
        "jitter",
        "delay",
        "retries",
        "maxRetries",
        "continueTrying",
        "clock",
        "connector",
    ):
        assert getattr(protocol.ReconnectingClientFactory, name) == getattr(
            tprotocol.ReconnectingClientFactory, name
        ), name


def test_getstate_drops_connection_state():
    """Pickling keeps configuration, drops connector/retries/delay/clock."""
    f = protocol.ReconnectingClientFactory()
    f.noisy = False
    f.maxRetries = 3
    f.clock = task.Clock()
    f.clientConnectionFailed(FakeConnector(), None)
    f.stopTrying()
    state = f.__getstate__()
    for key in ("connector", "retries", "delay", "continueTrying", "_callID", "clock"):
        assert key not in state
    assert state["maxRetries"] == 3
    assert state["noisy"] is False
    g = pickle.loads(pickle.dumps(protocol.ReconnectingClientFactory()))
    assert g.delay == 1.0


# ClientCreator ---------------------------------------------------------------


def _memoryReactor(module):
    if module is tprotocol:
        return TMemoryReactorClock()
    from torsion.internet.testing import MemoryReactorClock

    return MemoryReactorClock()


class Greeter:
    """Stand-in protocol class recording its constructor arguments."""

    def __init__(self, *args, **kw):
        self.args, self.kw = args, kw


def _results(d):
    out = []
    d.addBoth(out.append)
    return out


@pytest.mark.parametrize("module", [protocol, tprotocol], ids=["torsion", "twisted"])
def test_client_creator_success(module):
    """The Deferred fires with the instance one reactor turn after buildProtocol."""
    reactor = _memoryReactor(module)
    cc = module.ClientCreator(reactor, Greeter, 1, k=2)
    d = cc.connectTCP("127.0.0.1", 1234, timeout=7, bindAddress=("127.0.0.1", 0))
    (host, port, factory, timeout, bind) = reactor.tcpClients[0]
    assert (host, port, timeout, bind) == ("127.0.0.1", 1234, 7, ("127.0.0.1", 0))
    assert factory.noisy is False
    assert repr(factory).startswith("<ClientCreator factory: <")
    out = _results(d)
    proto = factory.buildProtocol(None)
    assert isinstance(proto, Greeter)
    assert (proto.args, proto.kw) == ((1,), {"k": 2})
    assert out == []
    reactor.advance(0)
    assert out == [proto]
    assert factory.pending is None


@pytest.mark.parametrize("module", [protocol, tprotocol], ids=["torsion", "twisted"])
def test_client_creator_failure(module):
    """clientConnectionFailed errbacks the Deferred on the next turn."""
    reactor = _memoryReactor(module)
    d = module.ClientCreator(reactor, Greeter).connectTCP("h", 1)
    factory = reactor.tcpClients[0][2]
    out = _results(d)
    reason = module.Failure(ValueError("no")) if hasattr(module, "Failure") else None
    reason = (
        Failure
        if module is protocol
        else __import__("twisted.python.failure", fromlist=["Failure"]).Failure
    )(ValueError("no"))
    factory.clientConnectionFailed(None, reason)
    assert out == []
    reactor.advance(0)
    assert out == [reason]
    out[0].trap(ValueError)


@pytest.mark.parametrize("module", [protocol, tprotocol], ids=["torsion", "twisted"])
def test_client_creator_cancel_before_connect(module):
    """Cancelling disconnects the connector and fails with CancelledError."""
    reactor = _memoryReactor(module)
    d = module.ClientCreator(reactor, Greeter).connectTCP("h", 1)
    connector = reactor.connectors[0]
    disconnects = []
    connector.disconnect = lambda: disconnects.append(True)
    out = _results(d)
    d.cancel()
    assert disconnects == [True]
    assert len(out) == 1
    cancelled = defer.CancelledError if module is protocol else tdefer.CancelledError
    assert out[0].check(cancelled)


@pytest.mark.parametrize("module", [protocol, tprotocol], ids=["torsion", "twisted"])
def test_client_creator_cancel_after_build(module):
    """Cancelling between buildProtocol and the firing cancels the pending call."""
    reactor = _memoryReactor(module)
    d = module.ClientCreator(reactor, Greeter).connectTCP("h", 1)
    factory = reactor.tcpClients[0][2]
    out = _results(d)
    factory.buildProtocol(None)
    assert len(reactor.getDelayedCalls()) == 1
    d.cancel()
    assert reactor.getDelayedCalls() == []
    cancelled = defer.CancelledError if module is protocol else tdefer.CancelledError
    assert len(out) == 1 and out[0].check(cancelled)
    reactor.advance(1)
    assert len(out) == 1


def test_client_creator_other_methods():
    """connectUNIX and connectSSL pass Twisted's keyword arguments."""
    from torsion.internet.testing import MemoryReactorClock

    reactor = MemoryReactorClock()
    cc = protocol.ClientCreator(reactor, Greeter)
    cc.connectUNIX("/tmp/sock", timeout=3, checkPID=True)
    assert reactor.unixClients[0][0] == "/tmp/sock"
    assert reactor.unixClients[0][2:] == (3, True)
    ctx = object()
    cc.connectSSL("h", 443, ctx, timeout=4, bindAddress=None)
    (host, port, factory, contextFactory, timeout, bind) = reactor.sslClients[0]
    assert (host, port, contextFactory, timeout, bind) == ("h", 443, ctx, 4, None)
