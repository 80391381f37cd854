"""Producers and consumers on real TCP connections: the transport as a push
producer (pause = not reading), push and pull producers registered on a
transport, and their calls at the exact points Twisted makes them.

Scenarios run on torsion and on Twisted's EPollReactor (``flavor``) and
assert the same observable results."""

import pytest
from zope.interface import implementer

CHUNK = 4096
HIGH_WATER = 65536
# The write that takes the queue past 64 KiB is the one that pauses.
WRITES_BEFORE_PAUSE = HIGH_WATER // CHUNK + 1


@pytest.fixture
def flavor(flavor, stream_kind):
    """Each scenario on torsion and Twisted, over TCP and over UNIX sockets
    (``flavor.kind``, see stream_kinds)."""
    flavor.kind = stream_kind
    return flavor


def spin(reactor, done, timeout=10.0):
    """Run ``reactor`` until ``done()`` is true (fail after ``timeout``
    seconds); crash() rather than stop() so the test may run it again."""
    timed_out = []

    def check():
        if done():
            reactor.crash()
        else:
            reactor.callLater(0.001, check)

    def expire():
        timed_out.append(True)
        reactor.crash()

    reactor.callWhenRunning(check)
    guard = reactor.callLater(timeout, expire)
    reactor.run(installSignalHandlers=False)
    if guard.active():
        guard.cancel()
    assert not timed_out, f"condition not reached within {timeout}s"


def wait(reactor, seconds):
    """Run ``reactor`` for ``seconds``."""
    flag = []
    reactor.callLater(seconds, flag.append, True)
    spin(reactor, lambda: flag)


def stop_listening(reactor, port):
    """Stop ``port`` and run until its Deferred fired."""
    results = []
    port.stopListening().addBoth(results.append)
    spin(reactor, lambda: results)


def pair(flavor, server_class, client_class):
    """Listen with ``server_class`` and connect with ``client_class``;
    returns the listening port."""
    protocol = flavor.protocol
    port = flavor.kind.listen(
        flavor.reactor, protocol.Factory.forProtocol(server_class)
    )
    flavor.kind.connect(
        flavor.reactor, port, protocol.ClientFactory.forProtocol(client_class)
    )
    return port


def collector(flavor, results):
    """A protocol class that accumulates what it receives and, on
    connectionLost, appends (bytes received, reason type) to ``results``."""

    class Collect(flavor.protocol.Protocol):
        def connectionMade(self):
            self.chunks = []

        def dataReceived(self, data):
            self.chunks.append(data)

        def connectionLost(self, reason):
            results.append((b"".join(self.chunks), reason.type))

    return Collect


def test_transport_pause_stops_reading_until_resume(flavor):
    """pauseProducing() on a transport stops reading: the peer's data waits
    in the kernel and arrives, whole, after resumeProducing()."""
    received = []
    servers = []

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            servers.append(self)
            self.transport.pauseProducing()

        def dataReceived(self, data):
            received.append(data)

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"waiting data")

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: servers)
    wait(flavor.reactor, 0.2)
    assert received == []
    servers[0].transport.resumeProducing()
    spin(flavor.reactor, lambda: b"".join(received) == b"waiting data")
    servers[0].transport.pauseProducing()
    servers[0].transport.pauseProducing()
    servers[0].transport.resumeProducing()
    servers[0].transport.loseConnection()
    stop_listening(flavor.reactor, port)


def test_transport_pause_holds_back_eof(flavor):
    """A paused transport does not notice the peer closing until resumed."""
    events = []
    servers = []

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            servers.append(self)
            self.transport.pauseProducing()

        def dataReceived(self, data):
            events.append(data)

        def connectionLost(self, reason):
            events.append(reason.type)

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"last words")
            self.transport.loseConnection()

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: servers)
    wait(flavor.reactor, 0.2)
    assert events == []
    servers[0].transport.resumeProducing()
    spin(flavor.reactor, lambda: len(events) == 2)
    assert events == [b"last words", flavor.error.ConnectionDone]
    stop_listening(flavor.reactor, port)


def test_transport_stop_producing_loses_connection(flavor):
    """stopProducing() on a transport closes it: both ends ConnectionDone."""
    received = []
    lost = []

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"bye")
            self.transport.stopProducing()

        def connectionLost(self, reason):
            lost.append(reason.type)

    port = pair(flavor, Server, collector(flavor, received))
    spin(flavor.reactor, lambda: received and lost)
    assert received == [(b"bye", flavor.error.ConnectionDone)]
    assert lost == [flavor.error.ConnectionDone]
    stop_listening(flavor.reactor, port)


def push_producer(flavor, transport, log, rounds):
    """A push producer writing CHUNK-sized blocks until paused, for
    ``rounds`` resumptions, then unregistering and closing."""

    @implementer(flavor.interfaces.IPushProducer)
    class Producer:
        def __init__(self):
            self.paused = False
            self.written = 0
            self.resumed = 0

        def pump(self):
            # Bounded, so that a producer that is never paused fails the test
            # instead of hanging it.
            while not self.paused and self.written < 8 * HIGH_WATER:
                transport.write(b"p" * CHUNK)
                self.written += CHUNK

        def pauseProducing(self):
            log.append(("pause", self.written + CHUNK))
            self.paused = True

        def resumeProducing(self):
            log.append(("resume",))
            self.paused = False
            self.resumed += 1
            if self.resumed == rounds:
                transport.unregisterProducer()
                transport.loseConnection()
                return
            self.pump()

        def stopProducing(self):
            log.append(("stop",))

    return Producer()


def test_push_producer_paused_inside_write_and_resumed_when_drained(flavor):
    """A push producer is paused from inside write() by the write that takes
    the queue past 64 KiB, so `while not paused: write()` stops at once; it
    is resumed when the queue has drained; the peer gets every byte."""
    log = []
    received = []
    producers = []

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            producer = push_producer(flavor, self.transport, log, rounds=4)
            producers.append(producer)
            self.transport.registerProducer(producer, True)
            assert log == []
            producer.pump()
            log.append(("pump returned", producer.written))

    port = pair(flavor, Server, collector(flavor, received))
    spin(flavor.reactor, lambda: received)
    step = WRITES_BEFORE_PAUSE * CHUNK
    # The fourth resume unregisters and closes instead of writing.
    assert log == [
        ("pause", step),
        ("pump returned", step),
        ("resume",),
        ("pause", 2 * step),
        ("resume",),
        ("pause", 3 * step),
        ("resume",),
        ("pause", 4 * step),
        ("resume",),
    ]
    assert received == [(b"p" * (4 * step), flavor.error.ConnectionDone)]
    stop_listening(flavor.reactor, port)


def test_streaming_producer_never_paused_is_never_resumed(flavor):
    """A push producer whose writes stay under 64 KiB is neither paused nor
    resumed; it is stopped when the connection ends."""
    log = []
    received = []

    @implementer(flavor.interfaces.IPushProducer)
    class Quiet:
        def pauseProducing(self):
            log.append("pause")

        def resumeProducing(self):
            log.append("resume")

        def stopProducing(self):
            log.append("stop")

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.registerProducer(Quiet(), True)
            self.transport.write(b"q" * HIGH_WATER)
            log.append("written")

        def connectionLost(self, reason):
            log.append("connectionLost")

    class Client(collector(flavor, received)):
        def dataReceived(self, data):
            super().dataReceived(data)
            if sum(map(len, self.chunks)) == HIGH_WATER:
                self.transport.loseConnection()

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: received and "connectionLost" in log)
    assert log == ["written", "stop", "connectionLost"]
    assert received == [(b"q" * HIGH_WATER, flavor.error.ConnectionDone)]
    stop_listening(flavor.reactor, port)


def test_pull_producer_resumed_each_time_the_queue_empties(flavor):
    """A pull producer gets resumeProducing() at registration and again each
    time the queue has been sent."""
    log = []
    received = []

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            transport = self.transport

            @implementer(flavor.interfaces.IPullProducer)
            class Pull:
                count = 0

                def resumeProducing(self):
                    self.count += 1
                    log.append(("resume", self.count))
                    transport.write(b"%02d" % self.count + b"." * (self.count * 30000))
                    if self.count == 5:
                        transport.unregisterProducer()
                        transport.loseConnection()

                def stopProducing(self):
                    log.append(("stop",))

            self.transport.registerProducer(Pull(), False)
            log.append(("registered",))

    port = pair(flavor, Server, collector(flavor, received))
    spin(flavor.reactor, lambda: received)
    assert log == [("resume", 1), ("registered",)] + [
        ("resume", i) for i in range(2, 6)
    ]
    expected = b"".join(b"%02d" % i + b"." * (i * 30000) for i in range(1, 6))
    assert received == [(expected, flavor.error.ConnectionDone)]
    stop_listening(flavor.reactor, port)


@pytest.mark.parametrize("streaming", [0, 1, "", "yes"])
def test_register_producer_takes_any_truth_value(flavor, streaming):
    """``streaming`` is read for its truth, as Twisted reads it (Twisted's
    own Chargen passes 0): a false value registers a pull producer, which
    is resumed at once; a true one a push producer, which is not."""
    calls = []

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            @implementer(flavor.interfaces.IPushProducer)
            class Producer:
                def resumeProducing(self):
                    calls.append("resume")

                def pauseProducing(self):
                    calls.append("pause")

                def stopProducing(self):
                    calls.append("stop")

            self.transport.registerProducer(Producer(), streaming)
            calls.append(("streaming", bool(self.transport.streamingProducer)))
            self.transport.unregisterProducer()
            self.transport.loseConnection()

    received = []
    port = pair(flavor, Server, collector(flavor, received))
    spin(flavor.reactor, lambda: received)
    expected = [] if streaming else ["resume"]
    assert calls == [*expected, ("streaming", bool(streaming))]
    stop_listening(flavor.reactor, port)


def test_second_register_producer_raises(flavor):
    """Registering a producer while one is registered raises RuntimeError
    naming both; after unregisterProducer a new one may register."""
    outcome = []

    class Named:
        def __init__(self, name):
            self.name = name

        def __repr__(self):
            return f"<producer {self.name}>"

        def pauseProducing(self):
            pass

        def resumeProducing(self):
            pass

        def stopProducing(self):
            pass

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.registerProducer(Named("one"), True)
            try:
                self.transport.registerProducer(Named("two"), True)
            except RuntimeError as e:
                outcome.append(str(e))
            outcome.append(self.transport.producer.name)
            self.transport.unregisterProducer()
            outcome.append(self.transport.producer)
            self.transport.registerProducer(Named("three"), True)
            outcome.append(self.transport.producer.name)
            self.transport.unregisterProducer()
            self.transport.loseConnection()

    port = pair(flavor, Server, flavor.protocol.Protocol)
    spin(flavor.reactor, lambda: len(outcome) == 4)
    assert outcome == [
        "Cannot register producer <producer two>, because producer "
        "<producer one> was never unregistered.",
        "one",
        None,
        "three",
    ]
    stop_listening(flavor.reactor, port)


@pytest.mark.parametrize("streaming", [True, False])
def test_producer_stopped_on_connection_loss(flavor, streaming):
    """When the connection ends, the registered producer's stopProducing()
    is called once, before the protocol's connectionLost."""
    log = []

    class Producer:
        def pauseProducing(self):
            log.append("pause")

        def resumeProducing(self):
            log.append("resume")

        def stopProducing(self):
            log.append("stop")

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.registerProducer(Producer(), streaming)

        def connectionLost(self, reason):
            log.append(("connectionLost", reason.type))

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.loseConnection()

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: log and isinstance(log[-1], tuple))
    expected = [] if streaming else ["resume"]
    assert log == expected + ["stop", ("connectionLost", flavor.error.ConnectionDone)]
    stop_listening(flavor.reactor, port)


def test_register_producer_after_disconnect_stops_it(flavor):
    """Registering a producer on a transport that is already disconnected
    calls its stopProducing() at once."""
    log = []
    kept = []

    class Producer:
        def resumeProducing(self):
            log.append("resume")

        def stopProducing(self):
            log.append("stop")

    class Server(flavor.protocol.Protocol):
        def connectionLost(self, reason):
            kept.append(self.transport)

    class Client(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.loseConnection()

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: kept)
    kept[0].registerProducer(Producer(), False)
    assert log == ["stop"]
    assert kept[0].producer is None
    stop_listening(flavor.reactor, port)


def test_lose_connection_waits_for_pull_producer(flavor):
    """loseConnection() with a pull producer registered keeps the connection
    open, resuming the producer each time the queue empties, until
    unregisterProducer(); then everything is sent and it closes."""
    log = []
    received = []

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            transport = self.transport

            class Pull:
                count = 0

                def resumeProducing(self):
                    self.count += 1
                    log.append(("resume", self.count, bool(transport.connected)))
                    transport.write(b"<%d>" % self.count)
                    if self.count == 4:
                        transport.unregisterProducer()

                def stopProducing(self):
                    log.append("stop")

            self.transport.registerProducer(Pull(), False)
            self.transport.loseConnection()
            log.append("loseConnection called")

        def connectionLost(self, reason):
            log.append(("connectionLost", reason.type))

    port = pair(flavor, Server, collector(flavor, received))
    spin(flavor.reactor, lambda: received and isinstance(log[-1], tuple))
    done = flavor.error.ConnectionDone
    assert log == [
        ("resume", 1, True),
        "loseConnection called",
        ("resume", 2, True),
        ("resume", 3, True),
        ("resume", 4, True),
        ("connectionLost", done),
    ]
    assert received == [(b"<1><2><3><4>", done)]
    stop_listening(flavor.reactor, port)


def test_pause_producing_raising_propagates_out_of_write(flavor):
    """A push producer's pauseProducing() raising: the exception comes out
    of the write() that triggered it; the data of that write is queued."""
    outcome = []
    received = []

    class Exploding:
        def pauseProducing(self):
            raise ValueError("cannot pause")

        def resumeProducing(self):
            outcome.append("resume")

        def stopProducing(self):
            outcome.append("stop")

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.registerProducer(Exploding(), True)
            writes = 0
            try:
                while writes < 100:
                    writes += 1
                    self.transport.write(b"e" * CHUNK)
            except ValueError as e:
                outcome.append((writes, str(e)))
            self.transport.unregisterProducer()
            self.transport.loseConnection()

    port = pair(flavor, Server, collector(flavor, received))
    spin(flavor.reactor, lambda: received)
    assert outcome == [(WRITES_BEFORE_PAUSE, "cannot pause")]
    assert received == [
        (b"e" * (WRITES_BEFORE_PAUSE * CHUNK), flavor.error.ConnectionDone)
    ]
    stop_listening(flavor.reactor, port)


def test_write_sequence_pauses_push_producer(flavor):
    """writeSequence() pauses a push producer as write() does."""
    log = []
    received = []

    class Producer:
        def pauseProducing(self):
            log.append("pause")

        def resumeProducing(self):
            log.append("resume")

        def stopProducing(self):
            log.append("stop")

    class Server(flavor.protocol.Protocol):
        def connectionMade(self):
            self.transport.registerProducer(Producer(), True)
            self.transport.writeSequence([b"s" * HIGH_WATER])
            log.append("at the mark")
            self.transport.writeSequence([b"s"])
            log.append("past the mark")

        def connectionLost(self, reason):
            log.append("connectionLost")

    class Client(collector(flavor, received)):
        def dataReceived(self, data):
            super().dataReceived(data)
            if sum(map(len, self.chunks)) == HIGH_WATER + 1:
                self.transport.loseConnection()

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: received and "connectionLost" in log)
    assert log == [
        "at the mark",
        "pause",
        "past the mark",
        "resume",
        "stop",
        "connectionLost",
    ]
    stop_listening(flavor.reactor, port)
