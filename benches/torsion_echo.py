"""Echo server on torsion, for the load generator.

python benches/torsion_echo.py PORT [--port-file FILE]
"""

import argparse

from torsion.internet import protocol, reactor


class Echo(protocol.Protocol):
    def connectionMade(self):
        # Every server compared runs with Nagle off: asyncio, uvloop and
        # rloop turn it off by default and the C server does so itself;
        # Twisted's default, which torsion keeps, leaves it on.
        self.transport.setTcpNoDelay(True)

    def dataReceived(self, data):
        self.transport.write(data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--port-file")
    args = parser.parse_args()
    port = reactor.listenTCP(
        args.port,
        protocol.Factory.forProtocol(Echo),
        backlog=1024,
        interface="127.0.0.1",
    )
    if args.port_file:
        with open(args.port_file, "w") as f:
            f.write(str(port.getHost().port))
    reactor.run()


if __name__ == "__main__":
    main()
