"""UDP over loopback sockets: listenUDP, DatagramProtocol and the port's
IUDPTransport, each scenario run on torsion and on Twisted (``flavor``)."""

from __future__ import annotations

import importlib
import socket
import time
import types
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import run_until, spin, wait
from torsion.internet.testing import flushLoggedErrors

LOCAL = "127.0.0.1"


@pytest.fixture
def ns(flavor: types.SimpleNamespace) -> Iterator[types.SimpleNamespace]:
    """``flavor`` plus the failures logged while the test runs
    (``ns.failures``) and its application modules."""
    name = flavor.name
    flavor.internet = importlib.import_module(f"{name}.application.internet")
    logger = importlib.import_module(f"{name}.logger")
    flavor.failures = []

    def observe(event: dict[str, Any]) -> None:
        failure = event.get("log_failure") or event.get("failure")
        if failure is not None:
            flavor.failures.append(failure)

    logger.globalLogPublisher.addObserver(observe)
    yield flavor
    logger.globalLogPublisher.removeObserver(observe)
    if name == "torsion":
        flushLoggedErrors()


def recorder(ns: types.SimpleNamespace) -> Any:
    """A DatagramProtocol that records what happens to it in ``events``."""

    class Recorder(ns.protocol.DatagramProtocol):
        noisy = False

        def __init__(self) -> None:
            self.events: list[Any] = []

        def startProtocol(self) -> None:
            self.events.append("start")

        def stopProtocol(self) -> None:
            self.events.append("stop")

        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            self.events.append((datagram, addr))

        def connectionRefused(self) -> None:
            self.events.append("refused")

    return Recorder()


def echo(ns: types.SimpleNamespace) -> Any:
    """A DatagramProtocol that sends each datagram back to its source."""

    class Echo(ns.protocol.DatagramProtocol):
        noisy = False

        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            self.transport.write(datagram, addr)

    return Echo()


def closedPort(family: int = socket.AF_INET, host: str = LOCAL) -> int:
    """A UDP port number nothing listens on (just released)."""
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]  # type: ignore[no-any-return]


def stopAll(ns: types.SimpleNamespace, *ports: Any) -> None:
    """Stop listening on ``ports`` and run until every one is closed."""
    ds = [p.stopListening() for p in ports]
    fired: list[Any] = []
    for d in ds:
        d.addCallback(fired.append)
    spin(ns.reactor, lambda: len(fired) == len(ds))


def test_echo_both_ways(ns: types.SimpleNamespace) -> None:
    """Datagrams go out with write(data, addr) and come back with their
    source as a (host, port) tuple."""
    server = ns.reactor.listenUDP(0, echo(ns), interface=LOCAL)
    client = recorder(ns)
    port = ns.reactor.listenUDP(0, client, interface=LOCAL)
    serverPort, clientPort = server.getHost().port, port.getHost().port
    for data in (b"one", b"", b"three"):
        port.write(data, (LOCAL, serverPort))
    spin(ns.reactor, lambda: len(client.events) == 4)
    source = (LOCAL, serverPort)
    assert client.events == [
        "start",
        (b"one", source),
        (b"", source),
        (b"three", source),
    ]
    assert clientPort != serverPort
    stopAll(ns, server, port)
    assert client.events[-1] == "stop"


def test_sizes_up_to_the_limit_and_one_over(ns: types.SimpleNamespace) -> None:
    """Every size up to maxPacketSize arrives whole; longer datagrams are
    cut to maxPacketSize."""
    limit = 64
    receiver = recorder(ns)
    port = ns.reactor.listenUDP(0, receiver, interface=LOCAL, maxPacketSize=limit)
    sender = ns.reactor.listenUDP(0, recorder(ns), interface=LOCAL)
    dest = (LOCAL, port.getHost().port)
    sizes = [*range(limit + 1), limit + 1, 1000]
    for n in sizes:
        sender.write(bytes(i % 251 for i in range(n)), dest)
    spin(ns.reactor, lambda: len(receiver.events) == len(sizes) + 1)
    got = [len(d) for d, _ in receiver.events[1:]]
    assert got == [min(n, limit) for n in sizes]
    assert receiver.events[-1][0] == bytes(range(limit))
    stopAll(ns, port, sender)


def test_many_datagrams_all_delivered(ns: types.SimpleNamespace) -> None:
    """More datagrams than one read batch takes are all delivered, in order."""
    receiver = recorder(ns)
    port = ns.reactor.listenUDP(0, receiver, interface=LOCAL)
    port.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    dest = (LOCAL, port.getHost().port)
    count = 600
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(count):
            s.sendto(b"%d" % i, dest)
    spin(ns.reactor, lambda: len(receiver.events) == count + 1)
    assert [d for d, _ in receiver.events[1:]] == [b"%d" % i for i in range(count)]
    stopAll(ns, port)


def test_message_too_long(ns: types.SimpleNamespace) -> None:
    """A datagram longer than UDP allows raises MessageLengthError."""
    port = ns.reactor.listenUDP(0, recorder(ns), interface=LOCAL)
    with pytest.raises(ns.error.MessageLengthError) as caught:
        port.write(b"x" * 70000, (LOCAL, closedPort()))
    assert caught.value.args == ("message too long",)
    port.connect(LOCAL, closedPort())
    with pytest.raises(ns.error.MessageLengthError):
        port.write(b"x" * 70000)
    stopAll(ns, port)


def test_bad_addresses(ns: types.SimpleNamespace) -> None:
    """Host names, the wrong family and a missing address are refused as
    Twisted refuses them."""
    port = ns.reactor.listenUDP(0, recorder(ns), interface=LOCAL)
    cases = [
        (("localhost", 9), "write() only accepts IP addresses, not hostnames"),
        (("::1", 9), "IPv4 port write() called with IPv6 address"),
    ]
    for addr, message in cases:
        with pytest.raises(ns.error.InvalidAddressError) as caught:
            port.write(b"x", addr)
        assert (caught.value.address, caught.value.message) == (addr[0], message)
    with pytest.raises(AssertionError):
        port.write(b"x")
    with pytest.raises(ns.error.InvalidAddressError) as caught:
        port.connect("localhost", 9)
    assert caught.value.message == "not an IPv4 or IPv6 address."
    with pytest.raises(ns.error.InvalidAddressError) as caught:
        ns.reactor.listenUDP(0, recorder(ns), interface="localhost")
    assert caught.value.address == "localhost"
    port.connect(LOCAL, 9)
    with pytest.raises(RuntimeError, match="already connected"):
        port.connect(LOCAL, 10)
    with pytest.raises(AssertionError):
        port.write(b"x", (LOCAL, 10))
    stopAll(ns, port)


def test_cannot_listen_on_a_taken_port(ns: types.SimpleNamespace) -> None:
    """Binding a port already bound raises CannotListenError."""
    port = ns.reactor.listenUDP(0, recorder(ns), interface=LOCAL)
    number = port.getHost().port
    with pytest.raises(ns.error.CannotListenError) as caught:
        ns.reactor.listenUDP(number, recorder(ns), interface=LOCAL)
    assert (caught.value.interface, caught.value.port) == (LOCAL, number)
    stopAll(ns, port)


def test_connect_then_refused_on_write(ns: types.SimpleNamespace) -> None:
    """On a connected port, the refusal of an earlier datagram makes a later
    write call connectionRefused."""
    proto = recorder(ns)
    port = ns.reactor.listenUDP(0, proto, interface=LOCAL)
    port.connect(LOCAL, closedPort())
    port.write(b"ping")
    time.sleep(0.1)
    port.write(b"again")
    assert proto.events == ["start", "refused"]
    stopAll(ns, port)
    assert proto.events == ["start", "refused", "stop"]


def test_connect_then_refused_on_read(ns: types.SimpleNamespace) -> None:
    """The refusal noticed by the loop calls connectionRefused and the port
    stays open, as Twisted documents; Twisted's epoll reactor instead
    closes the port on that error (a known Twisted bug, see issue 16)."""
    proto = recorder(ns)
    port = ns.reactor.listenUDP(0, proto, interface=LOCAL)
    peer = ns.reactor.listenUDP(0, recorder(ns), interface=LOCAL)
    port.connect(LOCAL, closedPort())
    port.write(b"ping")
    wait(ns.reactor, 0.2)
    if ns.name == "twisted":
        assert proto.events == ["start", "stop"]
        assert not port.connected
        stopAll(ns, peer)
        return
    assert proto.events == ["start", "refused"]
    assert port.connected
    stopAll(ns, port, peer)


def test_connected_port_receives_from_its_peer(ns: types.SimpleNamespace) -> None:
    """After connect, write() needs no address and replies arrive."""
    server = ns.reactor.listenUDP(0, echo(ns), interface=LOCAL)
    proto = recorder(ns)
    port = ns.reactor.listenUDP(0, proto, interface=LOCAL)
    port.connect(LOCAL, server.getHost().port)
    port.write(b"hi")
    port.write(b"there", (LOCAL, server.getHost().port))
    spin(ns.reactor, lambda: len(proto.events) == 3)
    source = (LOCAL, server.getHost().port)
    assert proto.events == ["start", (b"hi", source), (b"there", source)]
    stopAll(ns, server, port)


def test_stop_listening_order(ns: types.SimpleNamespace) -> None:
    """stopListening returns a Deferred that fires after stopProtocol, on a
    later turn; a port that stopped gives None."""
    proto = recorder(ns)
    port = ns.reactor.listenUDP(0, proto, interface=LOCAL)
    d = port.stopListening()
    assert isinstance(d, ns.defer.Deferred)
    assert proto.events == ["start"]
    d.addCallback(lambda result: proto.events.append(("fired", result)))
    spin(ns.reactor, lambda: len(proto.events) == 3)
    assert proto.events == ["start", "stop", ("fired", None)]
    assert proto.transport is None
    assert port.stopListening() is None
    assert (port.connected, port.disconnected) == (0, 1)


def test_stop_listening_inside_datagram_received(ns: types.SimpleNamespace) -> None:
    """A protocol stopping its port from datagramReceived still gets the
    datagrams of the read under way (Twisted's doRead reads on until the
    port closes on the next turn); then the Deferred fires."""

    class StopAtFirst(ns.protocol.DatagramProtocol):
        noisy = False

        def __init__(self) -> None:
            self.got: list[bytes] = []
            self.stopped: Any = None

        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            self.got.append(datagram)
            if self.stopped is None:
                self.stopped = self.transport.stopListening()

    proto = StopAtFirst()
    port = ns.reactor.listenUDP(0, proto, interface=LOCAL)
    dest = (LOCAL, port.getHost().port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for data in (b"a", b"b", b"c"):
            s.sendto(data, dest)
    fired: list[Any] = []
    spin(ns.reactor, lambda: proto.stopped is not None)
    proto.stopped.addCallback(fired.append)
    spin(ns.reactor, lambda: fired == [None])
    assert proto.got == [b"a", b"b", b"c"]


def test_raising_datagram_received_is_logged(ns: types.SimpleNamespace) -> None:
    """An exception from datagramReceived is logged and the next datagram
    is still delivered."""

    class Flaky(ns.protocol.DatagramProtocol):
        noisy = False

        def __init__(self) -> None:
            self.got: list[bytes] = []

        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            self.got.append(datagram)
            if datagram == b"boom":
                raise ZeroDivisionError("boom")

    proto = Flaky()
    port = ns.reactor.listenUDP(0, proto, interface=LOCAL)
    sender = ns.reactor.listenUDP(0, recorder(ns), interface=LOCAL)
    dest = (LOCAL, port.getHost().port)
    for data in (b"first", b"boom", b"after"):
        sender.write(data, dest)
    spin(ns.reactor, lambda: len(proto.got) == 3)
    assert proto.got == [b"first", b"boom", b"after"]
    assert [f.type for f in ns.failures] == [ZeroDivisionError]
    if ns.name == "torsion":
        assert len(flushLoggedErrors(ZeroDivisionError)) == 1
    stopAll(ns, port, sender)


def test_ipv6_loopback(ns: types.SimpleNamespace) -> None:
    """A port on ::1 echoes, names its host as IPv6Address, and refuses an
    IPv4 destination."""
    server = ns.reactor.listenUDP(0, echo(ns), interface="::1")
    proto = recorder(ns)
    port = ns.reactor.listenUDP(0, proto, interface="::1")
    host = server.getHost()
    assert isinstance(host, ns.address.IPv6Address)
    assert (host.type, host.host) == ("UDP", "::1")
    port.write(b"six", ("::1", host.port))
    spin(ns.reactor, lambda: len(proto.events) == 2)
    assert proto.events == ["start", (b"six", ("::1", host.port))]
    for bad in (LOCAL, "<broadcast>"):
        with pytest.raises(ns.error.InvalidAddressError) as caught:
            port.write(b"x", (bad, 9))
        assert caught.value.message == (
            "IPv6 port write() called with IPv4 or broadcast address"
        )
    stopAll(ns, server, port)


def test_broadcast_flag(ns: types.SimpleNamespace) -> None:
    """setBroadcastAllowed / getBroadcastAllowed round trip (off at first)."""
    port = ns.reactor.listenUDP(0, recorder(ns), interface=LOCAL)
    assert port.getBroadcastAllowed() is False
    port.setBroadcastAllowed(True)
    assert port.getBroadcastAllowed() is True
    port.setBroadcastAllowed(False)
    assert port.getBroadcastAllowed() is False
    with pytest.raises(PermissionError):
        port.write(b"b", ("<broadcast>", 9))
    port.setBroadcastAllowed(True)
    assert port.write(b"b", ("<broadcast>", 9)) == 1
    stopAll(ns, port)


def test_host_names_and_bytes_hosts(ns: types.SimpleNamespace) -> None:
    """A host name is refused on an IPv6 port too; an IP address given as
    bytes is taken."""
    v6 = ns.reactor.listenUDP(0, recorder(ns), interface="::1")
    with pytest.raises(ns.error.InvalidAddressError) as caught:
        v6.write(b"x", ("localhost", 9))
    assert caught.value.message == "write() only accepts IP addresses, not hostnames"
    receiver = recorder(ns)
    port = ns.reactor.listenUDP(0, receiver, interface=LOCAL)
    number = port.getHost().port
    assert port.write(b"bytes host", (LOCAL.encode(), number)) == 10
    spin(ns.reactor, lambda: len(receiver.events) == 2)
    assert receiver.events[1] == (b"bytes host", (LOCAL, number))
    stopAll(ns, v6, port)


def test_host_repr_and_interfaces(ns: types.SimpleNamespace) -> None:
    """getHost, repr, logPrefix and the interfaces the port provides."""
    proto = recorder(ns)
    port = ns.reactor.listenUDP(0, proto, interface=LOCAL)
    number = port.getHost().port
    assert port.getHost() == ns.address.IPv4Address("UDP", LOCAL, number)
    assert repr(port) == f"<{proto.__class__} on {number}>"
    assert port.logPrefix() == "Recorder (UDP)"
    assert ns.interfaces.IListeningPort.providedBy(port)
    assert ns.interfaces.IUDPTransport.providedBy(port)
    assert ns.interfaces.IReactorUDP.providedBy(ns.reactor)
    assert proto.transport is port
    assert port.fileno() >= 0
    stopAll(ns, port)
    assert repr(port) == f"<{proto.__class__} not connected>"
    with pytest.raises(AttributeError):
        port.getHost()


def test_any_interface_host(ns: types.SimpleNamespace) -> None:
    """Without an interface the port binds every IPv4 address."""
    port = ns.reactor.listenUDP(0, recorder(ns))
    assert port.getHost().host == "0.0.0.0"
    stopAll(ns, port)


def test_one_protocol_one_port(ns: types.SimpleNamespace) -> None:
    """A protocol already started on a port cannot start on another."""
    proto = recorder(ns)
    port = ns.reactor.listenUDP(0, proto, interface=LOCAL)
    other = ns.protocol.DatagramProtocol()
    other.transport = port
    with pytest.raises(AssertionError):
        other.makeConnection(port)
    with pytest.raises(AssertionError):
        proto.makeConnection(port)
    stopAll(ns, port)


def test_lose_connection_is_deprecated(ns: types.SimpleNamespace) -> None:
    """loseConnection warns and stops listening (without a Deferred)."""
    proto = recorder(ns)
    port = ns.reactor.listenUDP(0, proto, interface=LOCAL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert port.loseConnection() is None
    assert [str(w.message) for w in caught] == [
        "Please use stopListening() to disconnect port"
    ]
    spin(ns.reactor, lambda: proto.events == ["start", "stop"])


def test_udp_server_service(ns: types.SimpleNamespace) -> None:
    """application.internet.UDPServer listens while running."""
    proto = recorder(ns)
    service = ns.internet.UDPServer(0, proto, interface=LOCAL, reactor=ns.reactor)
    service.startService()
    number = service._port.getHost().port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOCAL, 0))
        s.sendto(b"svc", (LOCAL, number))
        source = s.getsockname()
    spin(ns.reactor, lambda: len(proto.events) == 2)
    assert proto.events == ["start", (b"svc", source)]
    d = service.stopService()
    done: list[Any] = []
    d.addCallback(done.append)
    run_until(ns.reactor, lambda: done == [None])
    assert proto.events[-1] == "stop"


def test_bytes_like_datagrams(ns: types.SimpleNamespace) -> None:
    """write() takes any bytes-like object, and refuses str as sendto does."""
    receiver = recorder(ns)
    port = ns.reactor.listenUDP(0, receiver, interface=LOCAL)
    dest = (LOCAL, port.getHost().port)
    assert port.write(bytearray(b"ba"), dest) == 2
    assert port.write(memoryview(b"xmvx")[1:3], dest) == 2
    with pytest.raises(TypeError) as caught:
        port.write("text", dest)  # type: ignore[arg-type]
    assert str(caught.value) == "a bytes-like object is required, not 'str'"
    spin(ns.reactor, lambda: len(receiver.events) == 3)
    assert [d for d, _ in receiver.events[1:]] == [b"ba", b"mv"]
    stopAll(ns, port)


def test_reactor_shutdown_closes_the_port(ns: types.SimpleNamespace) -> None:
    """A listening port is a reader; stopping the reactor closes it and
    stops its protocol, logging under the port's prefix."""
    proto = recorder(ns)
    proto.noisy = True
    port = ns.reactor.listenUDP(0, proto, interface=LOCAL)
    number = port.getHost().port
    assert port in ns.reactor.getReaders()
    logger = importlib.import_module(f"{ns.name}.logger")
    events: list[dict[str, Any]] = []
    logger.globalLogPublisher.addObserver(events.append)
    try:
        run_until(ns.reactor, lambda: True)
    finally:
        logger.globalLogPublisher.removeObserver(events.append)
    assert proto.events == ["start", "stop"]
    assert (port.connected, port.disconnected) == (0, 1)
    assert port not in ns.reactor.getReaders()
    closing = [e for e in events if "Closed" in str(e.get("message", ""))]
    assert [(e["system"], e["message"]) for e in closing] == [
        ("Recorder (UDP)", (f"(UDP Port {number} Closed)",))
    ]


def test_callback_errors_are_logged_under_the_port(ns: types.SimpleNamespace) -> None:
    """What datagramReceived raises is logged with the port's log prefix."""

    class Broken(ns.protocol.DatagramProtocol):
        noisy = False

        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            raise ValueError(datagram)

    logger = importlib.import_module(f"{ns.name}.logger")
    events: list[dict[str, Any]] = []
    logger.globalLogPublisher.addObserver(events.append)
    port = ns.reactor.listenUDP(0, Broken(), interface=LOCAL)
    try:
        port.write(b"bad", (LOCAL, port.getHost().port))
        spin(ns.reactor, lambda: len(ns.failures) == 1)
    finally:
        logger.globalLogPublisher.removeObserver(events.append)
    failed = [e for e in events if "log_failure" in e or "failure" in e]
    assert [e.get("log_system") for e in failed] == ["Broken (UDP)"]
    assert ns.failures[0].value.args == (b"bad",)
    stopAll(ns, port)


@pytest.mark.parametrize("limit", [0, 1, 65535])
def test_packet_size_limits(ns: types.SimpleNamespace, limit: int) -> None:
    """maxPacketSize 0 delivers empty datagrams; 1 the first byte; 65535
    (more than fits the receive buffer twice) whole datagrams."""
    receiver = recorder(ns)
    port = ns.reactor.listenUDP(0, receiver, interface=LOCAL, maxPacketSize=limit)
    dest = (LOCAL, port.getHost().port)
    sizes = [0, 1, 2, 60000, 3]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for n in sizes:
            s.sendto(b"y" * n, dest)
    spin(ns.reactor, lambda: len(receiver.events) == len(sizes) + 1)
    assert [d for d, _ in receiver.events[1:]] == [b"y" * min(n, limit) for n in sizes]
    stopAll(ns, port)


def linkLocal() -> tuple[str, str] | None:
    """A link-local IPv6 address of this machine and its interface."""
    try:
        with open("/proc/net/if_inet6") as table:
            rows = [line.split() for line in table]
    except OSError:
        return None
    for row in rows:
        if row[0].startswith("fe80"):
            packed = bytes.fromhex(row[0])
            return socket.inet_ntop(socket.AF_INET6, packed), row[5]
    return None


def test_link_local_source_has_no_scope(ns: types.SimpleNamespace) -> None:
    """A datagram from a scoped link-local address names its source
    without the scope, as Python's recvfrom (and so Twisted) does."""
    found = linkLocal()
    if found is None:
        pytest.skip("no link-local IPv6 address")
    address, interface = found
    proto = recorder(ns)
    port = ns.reactor.listenUDP(0, proto, interface="::")
    number = port.getHost().port
    port.write(b"ll", (f"{address}%{interface}", number))
    spin(ns.reactor, lambda: len(proto.events) == 2)
    assert proto.events == ["start", (b"ll", (address, number))]
    stopAll(ns, port)
