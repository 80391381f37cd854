"""End-to-end echo over loopback, the same scenario on torsion and Twisted."""

from conftest import run_until


def test_echo_roundtrip_and_clean_close(flavor):
    """A client writes, the echo server answers, the client closes; both
    sides see ConnectionDone and the client factory is told."""
    protocol, error = flavor.protocol, flavor.error
    events = []

    class Echo(protocol.Protocol):
        def dataReceived(self, data):
            self.transport.write(data)

        def connectionLost(self, reason):
            events.append(("server lost", reason.type))

    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"hello")

        def dataReceived(self, data):
            events.append(("client got", data))
            self.transport.loseConnection()

        def connectionLost(self, reason):
            events.append(("client lost", reason.type))

    class ClientFactory(protocol.ClientFactory):
        def buildProtocol(self, addr):
            events.append(("client addr", addr.host, addr.port == port.getHost().port))
            return Client()

        def clientConnectionLost(self, connector, reason):
            events.append(("factory lost", reason.type))

    factory = protocol.Factory.forProtocol(Echo)
    port = flavor.reactor.listenTCP(0, factory, interface="127.0.0.1")
    flavor.reactor.connectTCP("127.0.0.1", port.getHost().port, ClientFactory())
    run_until(flavor.reactor, lambda: len(events) == 5)
    assert events[:3] == [
        ("client addr", "127.0.0.1", True),
        ("client got", b"hello"),
        ("client lost", error.ConnectionDone),
    ]
    assert sorted(events[3:]) == sorted(
        [("factory lost", error.ConnectionDone), ("server lost", error.ConnectionDone)]
    )
