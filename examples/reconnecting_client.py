"""The Echo client with a ReconnectingClientFactory, from "Writing Clients".

    python examples/reconnecting_client.py [--host 127.0.0.1] [--port 8007]
        [--connections 3] [--max-retries N] [--max-delay 3600]

Prints what each connection receives (point it at the QOTD server, which
hangs up after its quote) and reconnects whenever the connection is lost
or fails, waiting longer after each failure (at most ``--max-delay``
seconds). A successful connection resets the delay. Stops after
``--connections`` connections, or gives up after ``--max-retries`` retries
in a row (exit status 1).
"""

import argparse
import sys

from torsion.internet import reactor
from torsion.internet.protocol import Protocol, ReconnectingClientFactory


class Echo(Protocol):
    """Collects what the server sends and prints it when the connection ends."""

    def connectionMade(self):
        self.received = b""

    def dataReceived(self, data):
        self.received += data

    def connectionLost(self, reason):
        print("Received:", self.received)


class EchoClientFactory(ReconnectingClientFactory):
    """Reconnects with exponential backoff, reporting each event."""

    gaveUp = False

    def __init__(self, connections):
        self.connections = connections
        self.made = 0

    def startedConnecting(self, connector):
        print("Started to connect.")

    def buildProtocol(self, addr):
        print("Connected.")
        print("Resetting reconnection delay")
        self.resetDelay()
        self.made += 1
        return Echo()

    def clientConnectionLost(self, connector, reason):
        print("Lost connection.  Reason:", reason)
        if self.made >= self.connections:
            self.stopTrying()
            reactor.stop()
            return
        ReconnectingClientFactory.clientConnectionLost(self, connector, reason)

    def clientConnectionFailed(self, connector, reason):
        print("Connection failed. Reason:", reason)
        ReconnectingClientFactory.clientConnectionFailed(self, connector, reason)
        if self.maxRetries is not None and self.retries > self.maxRetries:
            print(f"Giving up after {self.maxRetries} retries.")
            self.gaveUp = True
            reactor.stop()


def main(argv=None):
    """Connect and reconnect until done."""
    parser = argparse.ArgumentParser(description="A reconnecting client.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8007)
    parser.add_argument("--connections", type=int, default=3)
    parser.add_argument("--max-retries", type=int, default=None)
    parser.add_argument("--max-delay", type=float, default=3600)
    args = parser.parse_args(argv)
    factory = EchoClientFactory(args.connections)
    factory.maxRetries = args.max_retries
    factory.maxDelay = args.max_delay
    reactor.connectTCP(args.host, args.port, factory)
    reactor.run()
    sys.exit(1 if factory.gaveUp else 0)


if __name__ == "__main__":
    main()
