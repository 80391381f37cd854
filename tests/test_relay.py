"""The relay (a torsion extension): two stream transports forwarding bytes
to each other in Rust, as ProxyFactory uses it. Against plain blocking
sockets driven from threads, over every pair of kinds (``kinds``: the
client's connection to the proxy, then the proxy's to the backend; TCP on
loopback or UNIX sockets)."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import types

import pytest
from conftest import run_until
from stream_kinds import KINDS, streamKind
from torsion.internet import endpoints, error, protocol
from torsion.protocols import portforward

HIGH_WATER = 64 * 1024


@pytest.fixture(
    params=[(front, back) for front in KINDS for back in KINDS],
    ids=lambda pair: f"{pair[0]}-to-{pair[1]}",
)
def kinds(request):
    """``front``: the kind of the clients' connections to the proxy;
    ``back``: the kind of the proxy's connections to the backend."""
    front, back = request.param
    with streamKind(front) as frontKind, streamKind(back) as backKind:
        yield types.SimpleNamespace(front=frontKind, back=backKind)


class Backend:
    """A plain listening socket of ``kind``, served by a thread; ``target``
    is where portforward reaches it ((host, port), or a path)."""

    def __init__(self, serve, kind):
        self.listener = kind.rawListener()
        self.target = kind.proxyTarget(self.listener)
        self.result: dict = {}
        self.thread = threading.Thread(target=self._run, args=(serve,), daemon=True)
        self.thread.start()

    def _run(self, serve):
        conn, _ = self.listener.accept()
        with conn:
            serve(conn, self.result)
        self.listener.close()


def recv_all(sock):
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def connect_onward(reactor, factory, target):
    """Point a ProxyFactory at ``target``: a TCP (host, port) as Twisted's
    ProxyFactory has it, or a UNIX path through an endpoint."""
    if isinstance(target, tuple):
        factory.host, factory.port = target
    else:
        factory.endpoint = endpoints.UNIXClientEndpoint(reactor, target)


class RecordingProxyFactory(portforward.ProxyFactory):
    """Records the proxy protocols' connectionLost reasons."""

    def __init__(self, target, reactor, lost):
        super().__init__(None, None)
        connect_onward(reactor, self, target)
        self.reactor = reactor
        factory = self

        class Server(portforward.ProxyServer):
            def connectionLost(self, reason):
                lost.append(("server", reason.type))
                super().connectionLost(reason)

        class ClientFactory(portforward.ProxyClientFactory):
            class protocol(portforward.ProxyClient):  # noqa: N801
                def connectionMade(self):
                    super().connectionMade()
                    factory.relayed.append(self.transport._relayPeer is not None)

                def connectionLost(self, reason):
                    lost.append(("client", reason.type))
                    super().connectionLost(reason)

        Server.clientProtocolFactory = ClientFactory
        self.protocol = Server
        self.relayed: list[bool] = []


def start_proxy(reactor, kinds, backend, lost):
    """A recording proxy to ``backend``, listening with ``kinds.front``;
    returns (factory, listening port)."""
    factory = RecordingProxyFactory(backend.target, reactor, lost)
    return factory, kinds.front.listen(reactor, factory)


def test_proxy_relays_large_transfer_both_ways(kinds, reactor):
    """5 MiB each way through the relayed proxy arrive intact, and the
    protocols see one ConnectionDone each when the client closes."""
    payload = os.urandom(5 * 1024 * 1024)

    def echo(conn, result):
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)

    backend = Backend(echo, kinds.back)
    lost: list = []
    factory, proxy = start_proxy(reactor, kinds, backend, lost)
    got = {}

    def client():
        with kinds.front.rawConnect(proxy, timeout=30) as s:
            sender = threading.Thread(
                target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR))
            )
            sender.start()
            got["data"] = recv_all(s)
            sender.join()

    t = threading.Thread(target=client, daemon=True)
    t.start()
    run_until(reactor, lambda: len(lost) == 2, timeout=30)
    t.join(5)
    assert factory.relayed == [True]
    assert hashlib.sha256(got["data"]).digest() == hashlib.sha256(payload).digest()
    assert sorted(lost) == [
        ("client", error.ConnectionDone),
        ("server", error.ConnectionDone),
    ]


def test_half_close_passes_through(kinds, reactor):
    """The client's end of stream reaches the backend as end of stream;
    the backend can still answer, and then both sides close cleanly."""

    def serve(conn, result):
        result["request"] = recv_all(conn)
        conn.sendall(b"answer:" + result["request"])

    backend = Backend(serve, kinds.back)
    lost: list = []
    _, proxy = start_proxy(reactor, kinds, backend, lost)
    got = {}

    def client():
        with kinds.front.rawConnect(proxy, timeout=30) as s:
            s.sendall(b"question")
            s.shutdown(socket.SHUT_WR)
            got["reply"] = recv_all(s)

    t = threading.Thread(target=client, daemon=True)
    t.start()
    run_until(reactor, lambda: len(lost) == 2, timeout=10)
    t.join(5)
    assert backend.result["request"] == b"question"
    assert got["reply"] == b"answer:question"
    assert sorted(lost) == [
        ("client", error.ConnectionDone),
        ("server", error.ConnectionDone),
    ]


def test_stalled_backend_bounds_the_queue(kinds, reactor):
    """While the backend does not read, the relay stops reading from the
    client: the proxy's queue stays near the high-water mark; when the
    backend reads again, every byte arrives."""
    payload = os.urandom(24 * 1024 * 1024)
    release = threading.Event()

    def slow(conn, result):
        release.wait(20)
        result["data"] = recv_all(conn)

    backend = Backend(slow, kinds.back)
    lost: list = []
    _, proxy = start_proxy(reactor, kinds, backend, lost)

    def client():
        with kinds.front.rawConnect(proxy, timeout=30) as s:
            s.sendall(payload)

    t = threading.Thread(target=client, daemon=True)
    t.start()
    peak = [0]
    stalled_at: list = []

    def progress():
        relayed = [tr for tr in _transports(reactor) if tr._relayPeer is not None]
        for tr in relayed:
            peak[0] = max(peak[0], tr._queuedBytes())
        now = reactor.seconds()
        if not stalled_at:
            # Stalled once something is queued and a side stopped reading.
            # (the throttled side is in neither getReaders nor getWriters)
            if any(
                tr._queuedBytes() > 0 and not tr._relayPeer._isReading()
                for tr in relayed
            ):
                stalled_at.append(now)
        elif not release.is_set() and now - stalled_at[0] > 0.3:
            # Nothing more may have piled up meanwhile.
            stalled_at.append(peak[0])
            release.set()
        return len(lost) == 2

    run_until(reactor, progress, timeout=30)
    t.join(10)
    backend.thread.join(10)
    assert stalled_at[1] <= HIGH_WATER + 65536, stalled_at
    assert (
        hashlib.sha256(backend.result["data"]).digest()
        == hashlib.sha256(payload).digest()
    )
    assert sorted(lost) == [
        ("client", error.ConnectionDone),
        ("server", error.ConnectionDone),
    ]


def _transports(reactor):
    from torsion.internet.abstract import NativeStream

    return [
        s
        for s in reactor.getReaders() + reactor.getWriters()
        if isinstance(s, NativeStream)
    ]


# A reset is TCP's: a UNIX backend cannot send one.
@pytest.mark.parametrize(
    "kinds",
    [("tcp", "tcp"), ("unix", "tcp")],
    ids=["tcp-to-tcp", "unix-to-tcp"],
    indirect=True,
)
def test_backend_reset_closes_the_client_side(kinds, reactor):
    """A reset from the backend ends the relay: the backend-side protocol
    sees ConnectionLost, the client-side one ConnectionDone, once each,
    and the client sees its connection closed."""

    def reset(conn, result):
        conn.recv(5)
        conn.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )

    backend = Backend(reset, kinds.back)
    lost: list = []
    _, proxy = start_proxy(reactor, kinds, backend, lost)
    got = {}

    def client():
        with kinds.front.rawConnect(proxy, timeout=30) as s:
            s.sendall(b"hello")
            try:
                got["data"] = recv_all(s)
            except ConnectionResetError:
                got["data"] = "reset"

    t = threading.Thread(target=client, daemon=True)
    t.start()
    run_until(reactor, lambda: len(lost) == 2, timeout=10)
    t.join(5)
    assert sorted(lost) == [
        ("client", error.ConnectionLost),
        ("server", error.ConnectionDone),
    ]
    assert got["data"] == b""


def test_overriding_dataReceived_keeps_python_forwarding(kinds, reactor):
    """A proxy subclass that rewrites data is not relayed."""

    def serve(conn, result):
        result["request"] = recv_all(conn)

    backend = Backend(serve, kinds.back)
    relayed = []

    class Upper(portforward.ProxyClient):
        def connectionMade(self):
            super().connectionMade()
            relayed.append(self.transport._relayPeer is not None)

    class UpperServer(portforward.ProxyServer):
        def dataReceived(self, data):
            super().dataReceived(data.upper())

    class ClientFactory(portforward.ProxyClientFactory):
        protocol = Upper

    UpperServer.clientProtocolFactory = ClientFactory
    factory = portforward.ProxyFactory(None, None)
    connect_onward(reactor, factory, backend.target)
    factory.protocol = UpperServer
    factory.reactor = reactor
    port = kinds.front.listen(reactor, factory)

    def client():
        with kinds.front.rawConnect(port, timeout=30) as s:
            s.sendall(b"shout")

    threading.Thread(target=client, daemon=True).start()
    run_until(reactor, lambda: "request" in backend.result, timeout=10)
    assert relayed == [False]
    assert backend.result["request"] == b"SHOUT"


def test_start_relay_refuses_bad_pairs(stream_kind, reactor):
    """Relaying to itself is a ValueError; a transport already relaying, or
    with a producer registered, is refused with RuntimeError; a closed one
    is refused too."""
    transports = []
    outcomes: list = []

    class Keep(protocol.Protocol):
        def connectionMade(self):
            transports.append(self.transport)
            if len(transports) == 3:
                outcomes.append(_try_bad_pairs(*transports))

    port = stream_kind.listen(reactor, protocol.Factory.forProtocol(Keep))
    clients = [stream_kind.rawConnect(port) for _ in range(3)]
    try:
        run_until(reactor, lambda: bool(outcomes), timeout=10)
    finally:
        for s in clients:
            s.close()
    assert outcomes == [
        [
            (ValueError, "cannot relay a transport to itself"),
            None,
            (RuntimeError, "transport is already relaying"),
            (RuntimeError, "unregister the producer before relaying"),
        ]
    ]
    a = transports[0]
    with pytest.raises(RuntimeError, match="both transports must be connected"):
        a.startRelay(transports[2])


def _try_bad_pairs(a, b, c):
    def attempt(f, *args):
        try:
            f(*args)
        except Exception as e:
            return (type(e), str(e))
        return None

    results = [attempt(a.startRelay, a), attempt(a.startRelay, b)]
    results.append(attempt(c.startRelay, a))
    c.registerProducer(protocol.Protocol(), True)
    results.append(attempt(c.startRelay, b))
    return results


def test_command_line_portforward_is_relayed():
    """The `torsion portforward` server protocol leaves dataReceived alone,
    so its connections take the relay."""
    from torsion.cli import LoggedProxyServer

    assert LoggedProxyServer.dataReceived is portforward.Proxy.dataReceived
    assert portforward.ProxyClient.dataReceived is portforward.Proxy.dataReceived


def test_chunks_held_back_by_a_pause_are_relayed_first(kinds, reactor):
    """A protocol reads part of a stream itself, pauses in the middle of a
    batched read, then hands the connection to the relay: the chunks read
    but not yet delivered go to the partner first, then the rest of the
    stream, and the partner's peer gets exactly what the protocol did not
    consume."""
    payload = os.urandom(4 * 1024 * 1024)

    def sink(conn, result):
        result["data"] = recv_all(conn)

    backend = Backend(sink, kinds.back)
    consumed: list[bytes] = []
    lost: list = []
    relayed: list = []

    class Partner(protocol.Protocol):
        def connectionLost(self, reason):
            lost.append(("partner", reason.type))

    class Taker(protocol.Protocol):
        def connectionMade(self):
            # Read only once the stream has filled the socket buffers, so
            # that the reads are full and the second one is a batch.
            self.transport.pauseProducing()
            reactor.callLater(0.3, self.transport.resumeProducing)

        def dataReceived(self, data):
            consumed.append(data)
            if len(consumed) == 2:
                # The second call is the first chunk of a batched read:
                # the batch's other chunks are held back by the pause.
                self.transport.pauseProducing()
                client = protocol.ClientCreator(reactor, Partner)
                if isinstance(backend.target, tuple):
                    d = client.connectTCP(*backend.target)
                else:
                    d = client.connectUNIX(backend.target)
                d.addCallback(self.relay)

        def relay(self, partner):
            self.transport.startRelay(partner.transport)
            relayed.append(True)

        def connectionLost(self, reason):
            lost.append(("taker", reason.type))

    port = kinds.front.listen(reactor, protocol.Factory.forProtocol(Taker))

    def send():
        with kinds.front.rawConnect(port, timeout=30) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            recv_all(s)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    run_until(reactor, lambda: len(lost) == 2, timeout=30)
    t.join(5)
    backend.thread.join(5)
    port.stopListening()
    assert relayed == [True]
    assert len(consumed) == 2
    assert all(len(c) == 65536 for c in consumed)
    rest = payload[len(b"".join(consumed)) :]
    assert len(backend.result["data"]) == len(rest)
    assert backend.result["data"] == rest
    assert sorted(lost) == [
        ("partner", error.ConnectionDone),
        ("taker", error.ConnectionDone),
    ]
