"""makeBinding: the port given to listenTCP and the bindAddress given to
connectTCP as a binding with socket options (Twisted 26.10's API), over
real loopback sockets on torsion and on Twisted."""

from __future__ import annotations

import gc
import importlib
import os
import socket
from typing import Any

import pytest
from conftest import run_until


def tcp(flavor: Any) -> Any:
    return importlib.import_module(f"{flavor.name}.internet.tcp")


def option(fd: int, name: int) -> int:
    with socket.socket(fileno=os.dup(fd)) as s:
        return s.getsockopt(socket.SOL_SOCKET, name)


def factory(flavor: Any) -> Any:
    return flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)


def test_make_binding_values(flavor):
    make = tcp(flavor).makeBinding
    assert repr(make()) == (
        "_Binding(_address='', _port=0, _reuseAddress=False, _reusePort=False)"
    )
    b = make("127.0.0.1", 8080, reuseAddress=True, reusePort=True)
    assert (b._address, b._port, b._reuseAddress, b._reusePort) == (
        "127.0.0.1",
        8080,
        True,
        True,
    )
    assert b == make("127.0.0.1", 8080, True, True)
    assert hash(b) == hash(make("127.0.0.1", 8080, True, True))
    assert b != make("127.0.0.1", 8080, True, False)
    assert isinstance(b, flavor.interfaces._Binding)
    with pytest.raises(AttributeError):
        b._port = 1


def test_listen_on_a_binding(flavor):
    make = tcp(flavor).makeBinding
    reactor = flavor.reactor
    plain = reactor.listenTCP(0, factory(flavor), interface="127.0.0.1")
    bound = reactor.listenTCP(make("127.0.0.1", 0), factory(flavor))
    reusing = reactor.listenTCP(
        make("127.0.0.1", 0, reuseAddress=True, reusePort=True), factory(flavor)
    )
    try:
        # A number gets SO_REUSEADDR, as before; a binding gets what it says.
        assert option(plain.fileno(), socket.SO_REUSEADDR) == 1
        assert option(plain.fileno(), socket.SO_REUSEPORT) == 0
        assert option(bound.fileno(), socket.SO_REUSEADDR) == 0
        assert option(bound.fileno(), socket.SO_REUSEPORT) == 0
        assert option(reusing.fileno(), socket.SO_REUSEADDR) == 1
        assert option(reusing.fileno(), socket.SO_REUSEPORT) == 1
        assert (bound.port, bound.interface) == (0, "127.0.0.1")
        host = bound.getHost()
        assert (host.type, host.host) == ("TCP", "127.0.0.1")
        assert host.port > 0
    finally:
        for p in (plain, bound, reusing):
            p.stopListening()


def test_reuse_port_lets_two_ports_share_a_number(flavor):
    make = tcp(flavor).makeBinding
    reactor = flavor.reactor
    first = reactor.listenTCP(make("127.0.0.1", 0, reusePort=True), factory(flavor))
    number = first.getHost().port
    second = reactor.listenTCP(
        make("127.0.0.1", number, reusePort=True), factory(flavor)
    )
    try:
        assert second.getHost().port == number
        with pytest.raises(flavor.error.CannotListenError):
            reactor.listenTCP(make("127.0.0.1", number), factory(flavor))
        connected: list[Any] = []

        class Recorder(flavor.protocol.Protocol):
            def connectionMade(self) -> None:
                connected.append(self.transport.getPeer().port)
                self.transport.loseConnection()

        client = flavor.protocol.ClientFactory.forProtocol(Recorder)
        reactor.connectTCP("127.0.0.1", number, client)
        run_until(reactor, lambda: connected)
        assert connected == [number]
    finally:
        first.stopListening()
        second.stopListening()


def test_binding_and_interface_must_agree(flavor):
    make = tcp(flavor).makeBinding
    reactor = flavor.reactor
    with pytest.raises(ValueError) as info:
        reactor.listenTCP(make("127.0.0.1", 0), factory(flavor), interface="::1")
    assert str(info.value) == "Inconsistent interface vs Binding specifiers"
    same = reactor.listenTCP(
        make("127.0.0.1", 0), factory(flavor), interface="127.0.0.1"
    )
    same.stopListening()
    with pytest.raises(AssertionError) as assertion:
        reactor.listenTCP("0", factory(flavor))
    # (First line only: pytest rewrites asserts in torsion, a pytest plugin,
    # and adds its explanation below.)
    assert str(assertion.value).splitlines()[0] == "Binding is 0"


def test_connect_from_a_binding(flavor):
    make = tcp(flavor).makeBinding
    reactor = flavor.reactor
    peers: list[Any] = []

    class Server(flavor.protocol.Protocol):
        def connectionMade(self) -> None:
            peers.append(self.transport.getPeer())
            self.transport.loseConnection()

    port = reactor.listenTCP(
        0, flavor.protocol.Factory.forProtocol(Server), interface="127.0.0.1"
    )
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    local = spare.getsockname()[1]
    spare.close()
    try:
        client = flavor.protocol.ClientFactory.forProtocol(flavor.protocol.Protocol)
        reactor.connectTCP(
            "127.0.0.1",
            port.getHost().port,
            client,
            bindAddress=make("127.0.0.1", local, reuseAddress=True),
        )
        run_until(reactor, lambda: peers)
        assert (peers[0].host, peers[0].port) == ("127.0.0.1", local)
    finally:
        port.stopListening()


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_connect_rejects_other_bind_addresses(flavor):
    reactor = flavor.reactor
    client = flavor.protocol.ClientFactory.forProtocol(flavor.protocol.Protocol)
    for bad in ("127.0.0.1", flavor.address.IPv4Address("TCP", "127.0.0.1", 0)):
        with pytest.raises(AssertionError):
            reactor.connectTCP("127.0.0.1", 1, client, bindAddress=bad)
    # Twisted has made the client's socket by then and leaves it to the
    # garbage collector (torsion checks first): collected here, under the
    # filter above.
    gc.collect()
