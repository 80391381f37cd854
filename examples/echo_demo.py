"""Starts an echo server, drives it with a client, and prints what happened.

    python examples/echo_demo.py

Both run on one torsion reactor in this process, over real loopback TCP.
"""

from torsion.internet import protocol, reactor

MESSAGES = [b"hello", b"from", b"torsion"]


class Echo(protocol.Protocol):
    def connectionMade(self):
        print(f"server: connection from {self.transport.getPeer()}")

    def dataReceived(self, data):
        self.transport.write(data)

    def connectionLost(self, reason):
        print(f"server: connection closed ({reason.type.__name__})")


class EchoClient(protocol.Protocol):
    def connectionMade(self):
        self.pending = list(MESSAGES)
        self.received = b""
        self.sendNext()

    def sendNext(self):
        message = self.pending.pop(0)
        print(f"client: sent {message!r}")
        self.transport.write(message)
        self.expected = message

    def dataReceived(self, data):
        self.received += data
        if self.received == self.expected:
            print(f"client: got back {self.received!r}")
            self.received = b""
            if self.pending:
                self.sendNext()
            else:
                self.transport.loseConnection()

    def connectionLost(self, reason):
        print(f"client: connection closed ({reason.type.__name__})")


class EchoClientFactory(protocol.ClientFactory):
    protocol = EchoClient

    def clientConnectionFailed(self, connector, reason):
        print(f"client: connection failed: {reason.getErrorMessage()}")
        reactor.stop()

    def clientConnectionLost(self, connector, reason):
        reactor.callLater(0.05, reactor.stop)


def main() -> None:
    port = reactor.listenTCP(
        0, protocol.Factory.forProtocol(Echo), interface="127.0.0.1"
    )
    print(f"server: listening on {port.getHost()}")
    reactor.connectTCP("127.0.0.1", port.getHost().port, EchoClientFactory())
    reactor.run()
    print("done")


if __name__ == "__main__":
    main()
