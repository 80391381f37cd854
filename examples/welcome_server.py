"""The server from "Writing Servers" that counts open connections in its factory.

    python examples/welcome_server.py [--max-connections 100] [--port 8000]
                                      [--interface 127.0.0.1]

Greets each client with "Welcome! There are currently N open connections."
and then echoes what it receives. Past ``--max-connections`` open
connections, a new client is told "Too many connections, try later" and
disconnected. The count lives in the factory (``numProtocols``), shared by
every connection; the protocol is built by an overridden buildProtocol.
"""

import argparse

from torsion.internet import reactor
from torsion.internet.protocol import Factory, Protocol


class Echo(Protocol):
    """Keeps the factory's count of open connections, greets, and echoes."""

    def __init__(self, factory):
        self.factory = factory

    def connectionMade(self):
        self.factory.numProtocols = self.factory.numProtocols + 1
        if self.factory.numProtocols > self.factory.maxProtocols:
            self.transport.write(b"Too many connections, try later\n")
            self.transport.loseConnection()
            return
        self.transport.write(
            b"Welcome! There are currently %d open connections.\n"
            % (self.factory.numProtocols,)
        )

    def connectionLost(self, reason):
        self.factory.numProtocols = self.factory.numProtocols - 1

    def dataReceived(self, data):
        self.transport.write(data)


class EchoFactory(Factory):
    """Shared state: how many connections are open, and how many are allowed."""

    numProtocols = 0

    def __init__(self, maxProtocols=100):
        self.maxProtocols = maxProtocols

    def buildProtocol(self, addr):
        return Echo(self)


def main(argv=None):
    """Serve until stopped."""
    parser = argparse.ArgumentParser(description="A connection-counting server.")
    parser.add_argument("--max-connections", type=int, default=100)
    parser.add_argument("--interface", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    factory = EchoFactory(args.max_connections)
    port = reactor.listenTCP(args.port, factory, interface=args.interface)
    address = port.getHost()
    print(f"Listening on {address.host}:{address.port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
