"""Exceptions raised by user callbacks on TCP connections: what happens to
the connection, what connectionLost receives, and what is logged.

Scenarios run on torsion and on Twisted's EPollReactor (``flavor``) and
assert the same observable results; the stdlib logging checks (logger
"torsion", CRITICAL, "Unhandled Error") are torsion's own."""

import contextlib
import logging
import socket
import types

import pytest
from stream_kinds import tcp_only


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


def pair(flavor, server_class, client_factory):
    """Listen with ``server_class`` and connect ``client_factory`` (a
    factory, or a protocol class); returns the listening port."""
    protocol = flavor.protocol
    port = flavor.kind.listen(
        flavor.reactor, protocol.Factory.forProtocol(server_class)
    )
    if isinstance(client_factory, type):
        client_factory = protocol.ClientFactory.forProtocol(client_factory)
    flavor.kind.connect(flavor.reactor, port, client_factory)
    return port


@contextlib.contextmanager
def logged_failures(flavor):
    """Collect the Failures logged while the block runs (log.err's and
    Logger.failure's events), from the flavor's global log publisher."""
    if flavor.name == "torsion":
        from torsion.logger import globalLogPublisher
    else:
        from twisted.logger import globalLogPublisher
    failures = []

    def observe(event):
        f = event.get("log_failure")
        if f is None and event.get("isError"):
            f = event.get("failure")
        if f is not None:
            failures.append(f)

    globalLogPublisher.addObserver(observe)
    try:
        yield failures
    finally:
        globalLogPublisher.removeObserver(observe)


def unhandled_records(caplog):
    """The stdlib records of Unhandled Errors on the "torsion" logger."""
    return [
        r
        for r in caplog.records
        if r.name == "torsion"
        and r.levelno == logging.CRITICAL
        and r.getMessage().startswith("Unhandled Error")
    ]


def record_text(record):
    """A record's message with its formatted exception, if any."""
    text = record.getMessage()
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    return text


def data_received_raising(flavor, caplog):
    """The server's dataReceived raises; returns (server log, client log,
    logged failures, Unhandled Error records)."""
    protocol = flavor.protocol
    server_log = []
    client_log = []
    raised = []

    class Server(protocol.Protocol):
        def dataReceived(self, data):
            server_log.append(data)
            error = ValueError(f"bad input {data!r}")
            raised.append(error)
            raise error

        def connectionLost(self, reason):
            server_log.append(
                (
                    "connectionLost",
                    reason.type,
                    reason.value is raised[0],
                    bool(self.connected),
                )
            )

    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"poison")

        def dataReceived(self, data):
            client_log.append(data)

        def connectionLost(self, reason):
            client_log.append(("connectionLost", reason.type))

    with (
        caplog.at_level(logging.INFO, logger="torsion"),
        logged_failures(flavor) as failures,
    ):
        port = pair(flavor, Server, Client)
        spin(flavor.reactor, lambda: len(server_log) == 2 and client_log)
    stop_listening(flavor.reactor, port)
    return server_log, client_log, failures, unhandled_records(caplog)


def test_data_received_raising_closes_the_connection(flavor, caplog):
    """dataReceived raising: the connection is closed, its connectionLost
    gets a Failure of that very exception, the peer sees an orderly close
    (ConnectionDone), and the error is logged once."""
    server_log, client_log, failures, records = data_received_raising(flavor, caplog)
    assert server_log == [b"poison", ("connectionLost", ValueError, True, True)]
    assert client_log == [("connectionLost", flavor.error.ConnectionDone)]
    assert [(f.type, str(f.value)) for f in failures] == [
        (ValueError, "bad input b'poison'")
    ]
    if flavor.name == "torsion":
        assert len(records) == 1
        assert "ValueError: bad input b'poison'" in record_text(records[0])


def test_data_received_raising_logs_the_traceback(stream_kind, reactor, caplog):
    """The Unhandled Error record and the logged Failure carry the
    traceback through dataReceived (as Twisted's do)."""
    from torsion.internet import error, protocol

    ns = types.SimpleNamespace(
        name="torsion",
        reactor=reactor,
        protocol=protocol,
        error=error,
        kind=stream_kind,
    )
    _, _, failures, records = data_received_raising(ns, caplog)
    assert len(records) == 1
    text = record_text(records[0])
    assert "in dataReceived" in text
    assert "raise error" in text
    assert failures[0].frames
    assert failures[0].frames[-1][0] == "dataReceived"


def test_connection_lost_failure_has_frames_like_twisted(flavor):
    """The Failure that dataReceived's exception becomes, as given to
    connectionLost, has a traceback whose last frame is dataReceived."""
    protocol = flavor.protocol
    reasons = []

    class Server(protocol.Protocol):
        def dataReceived(self, data):
            raise ValueError("x")

        def connectionLost(self, reason):
            reasons.append(reason)

    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"x")

    port = pair(flavor, Server, Client)
    spin(flavor.reactor, lambda: reasons)
    assert reasons[0].frames[-1][0] == "dataReceived"
    stop_listening(flavor.reactor, port)


def test_data_received_raising_leaves_other_connections_alone(flavor):
    """One connection's dataReceived raising closes only that connection;
    another keeps echoing."""
    protocol = flavor.protocol
    log = []

    class Server(protocol.Protocol):
        def dataReceived(self, data):
            if data == b"bad":
                raise RuntimeError("only me")
            self.transport.write(data.upper())

    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(self.factory.message)

        def dataReceived(self, data):
            log.append((self.factory.message, data))
            self.transport.loseConnection()

        def connectionLost(self, reason):
            log.append((self.factory.message, reason.type))

    def client(message):
        f = protocol.ClientFactory.forProtocol(Client)
        f.message = message
        return f

    with logged_failures(flavor) as failures:
        port = pair(flavor, Server, client(b"bad"))
        flavor.kind.connect(flavor.reactor, port, client(b"good"))
        spin(flavor.reactor, lambda: len(log) == 3)
    done = flavor.error.ConnectionDone
    assert sorted(log, key=repr) == sorted(
        [(b"bad", done), (b"good", b"GOOD"), (b"good", done)], key=repr
    )
    assert [f.type for f in failures] == [RuntimeError]
    stop_listening(flavor.reactor, port)


# Twisted's UNIX client connects from a timed call, where an exception
# from buildProtocol or connectionMade is only logged and the connection
# stays open; over TCP (and in torsion over either) the attempt fails or
# the connection closes. These two stay on TCP, where the frameworks agree.
@tcp_only
def test_client_connection_made_raising_closes_it(flavor, caplog):
    """A client's connectionMade raising: the connection is closed, the
    protocol's connectionLost and the factory's clientConnectionLost get a
    Failure of that exception, the server sees ConnectionDone; logged once."""
    protocol = flavor.protocol
    log = []

    class Client(protocol.Protocol):
        def connectionMade(self):
            log.append("connectionMade")
            raise OSError("client setup failed")

        def connectionLost(self, reason):
            log.append(("connectionLost", reason.type, str(reason.value)))

    class Factory(protocol.ClientFactory):
        protocol = Client

        def clientConnectionLost(self, connector, reason):
            log.append(("clientConnectionLost", reason.type, str(reason.value)))

        def clientConnectionFailed(self, connector, reason):
            log.append(("clientConnectionFailed", reason.type))

    class Server(protocol.Protocol):
        def connectionLost(self, reason):
            log.append(("server", reason.type))

    with (
        caplog.at_level(logging.INFO, logger="torsion"),
        logged_failures(flavor) as failures,
    ):
        port = pair(flavor, Server, Factory())
        spin(flavor.reactor, lambda: len(log) == 4)
    wait(flavor.reactor, 0.05)
    assert log[:3] == [
        "connectionMade",
        ("connectionLost", OSError, "client setup failed"),
        ("clientConnectionLost", OSError, "client setup failed"),
    ]
    assert log[3:] == [("server", flavor.error.ConnectionDone)]
    assert [f.type for f in failures] == [OSError]
    if flavor.name == "torsion":
        records = unhandled_records(caplog)
        assert len(records) == 1
        assert "OSError: client setup failed" in record_text(records[0])
    stop_listening(flavor.reactor, port)


def test_server_connection_made_raising_is_logged_and_stays_open(flavor, caplog):
    """A server's connectionMade raising is logged once; the connection stays
    open and works."""
    protocol = flavor.protocol
    log = []

    class Server(protocol.Protocol):
        def connectionMade(self):
            log.append("connectionMade")
            raise ArithmeticError("server setup failed")

        def dataReceived(self, data):
            log.append(data)
            self.transport.write(b"echo " + data)

        def connectionLost(self, reason):
            log.append(("server lost", reason.type))

    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"still there?")

        def dataReceived(self, data):
            log.append(data)
            self.transport.loseConnection()

        def connectionLost(self, reason):
            log.append(("client lost", reason.type))

    with (
        caplog.at_level(logging.INFO, logger="torsion"),
        logged_failures(flavor) as failures,
    ):
        port = pair(flavor, Server, Client)
        spin(flavor.reactor, lambda: len(log) == 5)
    done = flavor.error.ConnectionDone
    assert log[:3] == ["connectionMade", b"still there?", b"echo still there?"]
    assert sorted(log[3:]) == sorted([("client lost", done), ("server lost", done)])
    assert [f.type for f in failures] == [ArithmeticError]
    if flavor.name == "torsion":
        records = unhandled_records(caplog)
        assert len(records) == 1
        assert "ArithmeticError: server setup failed" in record_text(records[0])
    stop_listening(flavor.reactor, port)


def test_connection_lost_raising_is_logged(flavor, caplog):
    """connectionLost raising (server side) is logged once; the reactor and
    the listening port go on."""
    protocol = flavor.protocol
    log = []

    class Server(protocol.Protocol):
        def connectionLost(self, reason):
            log.append(("server lost", reason.type))
            raise TypeError("teardown failed")

    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.loseConnection()

        def connectionLost(self, reason):
            log.append(("client lost", reason.type))

    with (
        caplog.at_level(logging.INFO, logger="torsion"),
        logged_failures(flavor) as failures,
    ):
        port = pair(flavor, Server, Client)
        spin(flavor.reactor, lambda: len(log) == 2)
        wait(flavor.reactor, 0.05)
    done = flavor.error.ConnectionDone
    assert sorted(log) == sorted([("client lost", done), ("server lost", done)])
    assert [(f.type, str(f.value)) for f in failures] == [
        (TypeError, "teardown failed")
    ]
    if flavor.name == "torsion":
        records = unhandled_records(caplog)
        assert len(records) == 1
        assert "TypeError: teardown failed" in record_text(records[0])
    # The port still accepts.
    flavor.kind.connect(
        flavor.reactor, port, protocol.ClientFactory.forProtocol(Client)
    )
    spin(flavor.reactor, lambda: len(log) == 4)
    stop_listening(flavor.reactor, port)


def test_client_connection_lost_raising_still_tells_the_factory(
    stream_kind, reactor, caplog
):
    """A client protocol's connectionLost raising is logged, and the factory's
    clientConnectionLost is still called.  (Twisted skips it, because the
    exception escapes BaseClient.connectionLost before it reaches the
    connector; torsion deliberately keeps the connector's state right.)"""
    from torsion.internet.error import ConnectionDone
    from torsion.internet.protocol import ClientFactory, Factory, Protocol

    log = []

    class Client(Protocol):
        def connectionMade(self):
            self.transport.loseConnection()

        def connectionLost(self, reason):
            log.append("connectionLost")
            raise TypeError("client teardown failed")

    class Clients(ClientFactory):
        protocol = Client

        def clientConnectionLost(self, connector, reason):
            log.append(("clientConnectionLost", reason.type, connector.state))

    port = stream_kind.listen(reactor, Factory.forProtocol(Protocol))
    with caplog.at_level(logging.INFO, logger="torsion"):
        stream_kind.connect(reactor, port, Clients())
        spin(reactor, lambda: len(log) == 2)
    assert log == [
        "connectionLost",
        ("clientConnectionLost", ConnectionDone, "disconnected"),
    ]
    assert len(unhandled_records(caplog)) == 1
    stop_listening(reactor, port)


@tcp_only
def test_client_build_protocol_raising(flavor, caplog):
    """A client factory's buildProtocol raising is logged once and reported
    as Twisted does: clientConnectionFailed with ConnectError."""
    protocol = flavor.protocol
    log = []

    class Clients(protocol.ClientFactory):
        def buildProtocol(self, addr):
            log.append("buildProtocol")
            raise NameError("no client protocol")

        def clientConnectionLost(self, connector, reason):
            log.append(("clientConnectionLost", reason.type))

        def clientConnectionFailed(self, connector, reason):
            log.append(("clientConnectionFailed", reason.type, connector.state))

    class Server(protocol.Protocol):
        def connectionLost(self, reason):
            log.append(("server", reason.type))

    with (
        caplog.at_level(logging.INFO, logger="torsion"),
        logged_failures(flavor) as failures,
    ):
        port = pair(flavor, Server, Clients())
        spin(flavor.reactor, lambda: len(log) == 3)
    assert log[:2] == [
        "buildProtocol",
        ("clientConnectionFailed", flavor.error.ConnectError, "disconnected"),
    ]
    assert log[2] == ("server", flavor.error.ConnectionDone)
    assert [f.type for f in failures] == [NameError]
    stop_listening(flavor.reactor, port)


def test_client_connection_failed_raising_is_logged(reactor, caplog):
    """clientConnectionFailed raising is logged once and the factory is told
    once.  (Twisted calls clientConnectionFailed a second time, with a
    ConnectError, because the exception escapes before it forgets the
    connector; torsion deliberately does not.)"""
    from torsion.internet.error import ConnectionRefusedError
    from torsion.internet.protocol import ClientFactory

    log = []

    class Clients(ClientFactory):
        def clientConnectionFailed(self, connector, reason):
            log.append(("failed", reason.type))
            raise UnicodeError("in clientConnectionFailed")

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    try:
        with caplog.at_level(logging.INFO, logger="torsion"):
            reactor.connectTCP("127.0.0.1", closed.getsockname()[1], Clients())
            spin(reactor, lambda: log)
            wait(reactor, 0.05)
    finally:
        closed.close()
    assert log == [("failed", ConnectionRefusedError)]
    records = unhandled_records(caplog)
    assert len(records) == 1
    assert "UnicodeError: in clientConnectionFailed" in record_text(records[0])


@pytest.mark.parametrize("close", ["abortConnection", "loseConnection"])
def test_close_then_raise_in_data_received(flavor, close):
    """dataReceived closing the transport and then raising: connectionLost
    runs once, with the exception as its reason."""
    protocol = flavor.protocol
    log = []

    class Server(protocol.Protocol):
        def dataReceived(self, data):
            getattr(self.transport, close)()
            raise ValueError("after " + close)

        def connectionLost(self, reason):
            log.append((reason.type, str(reason.value)))

    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"go")

    with logged_failures(flavor) as failures:
        port = pair(flavor, Server, Client)
        spin(flavor.reactor, lambda: log)
        wait(flavor.reactor, 0.05)
    assert log == [(ValueError, "after " + close)]
    assert [f.type for f in failures] == [ValueError]
    stop_listening(flavor.reactor, port)


def test_socket_option_errors_carry_errno(reactor):
    """An OSError raised from the Rust core has errno and strerror set, as
    Python's own socket calls' do (so code checking ``e.errno`` works)."""
    import errno

    from torsion._torsion import Stream

    with pytest.raises(OSError) as info:
        Stream(reactor, 10_000)
    assert (info.value.errno, info.value.strerror) == (
        errno.EBADF,
        "Bad file descriptor",
    )
