"""A TCP port forwarder (mirrors ``twisted.protocols.portforward``).

``ProxyFactory(host, port)`` listens for clients; for each one a
``ProxyServer`` stops reading from the client, connects to ``host:port``
and, once that connection (a ``ProxyClient``) is made, forwards bytes both
ways.  Each transport is registered as the other's streaming producer, so a
side that reads slowly pauses reading on the fast side and the proxy's
memory stays bounded.  Closing either connection closes the other once its
queued bytes are written.

The reactor used to connect is, in order: the ``ProxyServer``'s ``reactor``
attribute, the ``ProxyFactory``'s ``reactor`` attribute, the global reactor.
The data path is ``Proxy.dataReceived``; a subclass may override it.

A torsion extension: ``EndpointProxyFactory(endpoint)`` forwards to any
client endpoint instead of a TCP host and port, for instance a UNIX socket
(``UNIXClientEndpoint(reactor, "/run/app.sock")``); the relay works across
kinds, so a TCP client relayed to a UNIX socket moves its bytes in Rust too.
"""

from __future__ import annotations

from typing import Any

from torsion.internet import protocol

__all__ = [
    "Proxy",
    "ProxyClient",
    "ProxyClientFactory",
    "EndpointProxyFactory",
    "ProxyFactory",
    "ProxyServer",
]


class Proxy(protocol.Protocol):
    """One side of a forwarded connection; ``peer`` is the other side."""

    noisy = True
    peer: Proxy | None = None

    def setPeer(self, peer: Proxy | None) -> None:
        """Set the protocol of the other connection."""
        self.peer = peer

    def connectionLost(self, reason: Any = protocol.connectionDone) -> None:
        """Close the other connection (after it has written what it holds)."""
        peer = self.peer
        if peer is not None:
            peer.transport.loseConnection()
            self.peer = None

    def dataReceived(self, data: bytes) -> None:
        """Forward ``data`` to the other connection."""
        self.peer.transport.write(data)  # type: ignore[union-attr]


class ProxyClient(Proxy):
    """The connection from the proxy to the forwarded-to server."""

    def connectionMade(self) -> None:
        """Pair with the server side, wire flow control both ways, and let the
        server side read again. When both sides are plain torsion stream
        transports (TCP or UNIX) and neither protocol overrides
        dataReceived, the bytes are relayed in Rust instead (torsion's
        relay, see README)."""
        peer = self.peer
        assert peer is not None
        peer.setPeer(self)
        if _canRelay(self, peer):
            self.transport.startRelay(peer.transport)
            return
        self.transport.registerProducer(peer.transport, True)
        peer.transport.registerProducer(self.transport, True)
        peer.transport.resumeProducing()


def _canRelay(client: Proxy, server: Proxy) -> bool:
    """Whether the relay can carry this pair's bytes unchanged."""
    try:
        from torsion.internet.abstract import NativeStream
    except ImportError:
        return False
    for side in (client, server):
        if type(side).dataReceived is not Proxy.dataReceived:
            return False
        transport = side.transport
        if not isinstance(transport, NativeStream) or transport.producer is not None:
            return False
    return True


class ProxyClientFactory(protocol.ClientFactory[ProxyClient]):
    """Builds the ProxyClient for one ProxyServer (set with setServer)."""

    protocol = ProxyClient
    server: Any = None

    def setServer(self, server: Any) -> None:
        """Set the ProxyServer this connection forwards for."""
        self.server = server

    def buildProtocol(self, addr: Any) -> ProxyClient:
        """A ProxyClient whose peer is the server side."""
        client = super().buildProtocol(addr)
        if client is None:
            raise AssertionError("peer must build protocol")
        client.setPeer(self.server)
        return client

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        """The forwarded-to server is unreachable: close the client."""
        self.server.transport.loseConnection()


class ProxyServer(Proxy):
    """The connection from a client to the proxy."""

    clientProtocolFactory: Any = ProxyClientFactory
    reactor: Any = None
    factory: Any

    def _reactor(self) -> Any:
        if self.reactor is None:
            chosen = getattr(self.factory, "reactor", None)
            if chosen is None:
                from torsion.internet import reactor as chosen
            self.reactor = chosen
        return self.reactor

    def connectionMade(self) -> None:
        """Stop reading until the onward connection is made, then connect to
        the factory's host and port (or its endpoint)."""
        self.transport.pauseProducing()
        client = self.clientProtocolFactory()
        client.setServer(self)
        endpoint = getattr(self.factory, "endpoint", None)
        if endpoint is None:
            self._reactor().connectTCP(self.factory.host, self.factory.port, client)
            return
        connecting = endpoint.connect(client)
        connecting.addErrback(
            lambda reason: client.clientConnectionFailed(None, reason)
        )


class ProxyFactory(protocol.Factory[ProxyServer]):
    """Forwards each accepted connection to ``host:port``."""

    protocol = ProxyServer
    reactor: Any = None

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port


class EndpointProxyFactory(ProxyFactory):
    """Forwards each accepted connection to ``endpoint`` (an
    IStreamClientEndpoint), e.g. a UNIX socket; a torsion extension."""

    def __init__(self, endpoint: Any) -> None:
        super().__init__(None, None)  # type: ignore[arg-type]
        self.endpoint = endpoint
