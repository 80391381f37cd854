"""The classic Twisted echo server, on torsion: only the imports changed.

python examples/echoserv.py [port]
"""

import sys

from torsion.internet import protocol, reactor


class Echo(protocol.Protocol):
    """Sends back whatever it receives."""

    def dataReceived(self, data):
        self.transport.write(data)


def main(port: int = 8000) -> None:
    factory = protocol.Factory()
    factory.protocol = Echo
    reactor.listenTCP(port, factory)
    reactor.run()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
