"""What needs a transport's or a port's socket once it is gone, socket
options given odd values, and the ``TLS`` and ``logstr`` attributes: each
scenario on torsion and on Twisted over loopback, asserting Twisted's
values."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import run_until


def _outcome(function: Any) -> Any:
    try:
        return ("ok", function())
    except Exception as e:
        return (type(e).__name__, str(e))


def _serve_one(flavor: Any, protocol_class: type) -> tuple[Any, Any]:
    """Listen with ``protocol_class``, connect a plain Protocol client;
    return the port and the client's protocol list (filled on connect)."""
    reactor = flavor.reactor
    port = reactor.listenTCP(
        0, flavor.protocol.Factory.forProtocol(protocol_class), interface="127.0.0.1"
    )
    clients: list[Any] = []

    class Client(flavor.protocol.Protocol):
        def connectionMade(self) -> None:
            clients.append(self)

    reactor.connectTCP(
        "127.0.0.1",
        port.getHost().port,
        flavor.protocol.ClientFactory.forProtocol(Client),
    )
    return port, clients


def test_socket_calls_inside_connection_lost(flavor):
    seen: dict[str, Any] = {}

    class Server(flavor.protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.loseConnection()

        def connectionLost(self, reason: Any) -> None:
            t = self.transport
            seen["getHost"] = _outcome(t.getHost)
            seen["getHandle"] = _outcome(t.getHandle)
            seen["getTcpNoDelay"] = _outcome(t.getTcpNoDelay)
            seen["setTcpKeepAlive"] = _outcome(lambda: t.setTcpKeepAlive(1))
            seen["hasSocket"] = hasattr(t, "socket")
            seen["peer"] = t.getPeer().host
            seen["fileno"] = t.fileno()

    port, _ = _serve_one(flavor, Server)
    try:
        run_until(flavor.reactor, lambda: "fileno" in seen)
    finally:
        port.stopListening()
    gone = ("AttributeError", "'Server' object has no attribute 'socket'")
    assert seen == {
        "getHost": gone,
        "getHandle": gone,
        "getTcpNoDelay": gone,
        "setTcpKeepAlive": gone,
        "hasSocket": False,
        "peer": "127.0.0.1",
        "fileno": -1,
    }


def test_socket_option_values_and_attributes(flavor):
    seen: dict[str, Any] = {}

    class Server(flavor.protocol.Protocol):
        def connectionMade(self) -> None:
            t = self.transport
            steps = [
                ("nodelay 2", lambda: t.setTcpNoDelay(2)),
                ("nodelay is", t.getTcpNoDelay),
                ("nodelay 0", lambda: t.setTcpNoDelay(0)),
                ("nodelay now", t.getTcpNoDelay),
                ("nodelay str", lambda: t.setTcpNoDelay("yes")),
                ("nodelay float", lambda: t.setTcpNoDelay(1.5)),
                ("keepalive True", lambda: t.setTcpKeepAlive(True)),
                ("keepalive is", t.getTcpKeepAlive),
                ("keepalive None", lambda: t.setTcpKeepAlive(None)),
                ("TLS", lambda: t.TLS),
                ("logstr", lambda: t.logstr),
            ]
            for name, step in steps:
                seen[name] = _outcome(step)
            t.loseConnection()

    port, clients = _serve_one(flavor, Server)
    try:
        run_until(flavor.reactor, lambda: "logstr" in seen and clients)
    finally:
        port.stopListening()
    assert seen == {
        "nodelay 2": ("ok", None),
        "nodelay is": ("ok", True),
        "nodelay 0": ("ok", None),
        "nodelay now": ("ok", False),
        "nodelay str": ("TypeError", "a bytes-like object is required, not 'str'"),
        "nodelay float": (
            "TypeError",
            "a bytes-like object is required, not 'float'",
        ),
        "keepalive True": ("ok", None),
        "keepalive is": ("ok", True),
        "keepalive None": (
            "TypeError",
            "a bytes-like object is required, not 'NoneType'",
        ),
        "TLS": ("ok", False),
        "logstr": ("ok", "Server,0,127.0.0.1"),
    }
    assert clients[0].transport.logstr == "Client,client"


def test_port_get_host_once_stopped(flavor):
    reactor = flavor.reactor
    port = reactor.listenTCP(
        0,
        flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol),
        interface="127.0.0.1",
    )
    number = port.getHost().port
    stopped: list[Any] = []
    port.stopListening().addBoth(stopped.append)
    # Until the stop completes (next turn), the socket is still there.
    assert port.getHost().port == number
    run_until(reactor, lambda: stopped)
    with pytest.raises(AttributeError) as info:
        port.getHost()
    assert str(info.value) == "'Port' object has no attribute 'socket'"
    assert port.fileno() == -1
