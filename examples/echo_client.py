"""The Echo client from "Writing Clients", with ClientFactory callbacks.

    python examples/echo_client.py [--host 127.0.0.1] [--port 8000]
                                   [--message "hello, world"]

Sends the message to an echo server, prints what comes back, and closes.
The factory prints each connection event: startedConnecting,
buildProtocol ("Connected."), clientConnectionLost and
clientConnectionFailed (exit status 1).
"""

import argparse
import sys

from torsion.internet import reactor
from torsion.internet.protocol import ClientFactory, Protocol


class Echo(Protocol):
    """Sends the factory's message and waits for all of it to come back."""

    def connectionMade(self):
        self.received = b""
        self.transport.write(self.factory.message)

    def dataReceived(self, data):
        self.received += data
        if len(self.received) >= len(self.factory.message):
            print("Received:", self.received)
            self.transport.loseConnection()


class EchoClientFactory(ClientFactory):
    """Reports the state of the connection as it changes."""

    failed = False

    def __init__(self, message):
        self.message = message

    def startedConnecting(self, connector):
        print("Started to connect.")

    def buildProtocol(self, addr):
        print("Connected.")
        protocol = Echo()
        protocol.factory = self
        return protocol

    def clientConnectionLost(self, connector, reason):
        print("Lost connection.  Reason:", reason)
        reactor.stop()

    def clientConnectionFailed(self, connector, reason):
        print("Connection failed. Reason:", reason)
        self.failed = True
        reactor.stop()


def main(argv=None):
    """Connect, echo once, and exit."""
    parser = argparse.ArgumentParser(description="An echo client.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--message", default="hello, world")
    args = parser.parse_args(argv)
    factory = EchoClientFactory(args.message.encode("utf-8"))
    reactor.connectTCP(args.host, args.port, factory)
    reactor.run()
    sys.exit(1 if factory.failed else 0)


if __name__ == "__main__":
    main()
