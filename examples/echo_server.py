"""The echo server from Twisted's "Writing Servers", on torsion.

    python examples/echo_server.py [--port 8000] [--interface 127.0.0.1]

Sends back every byte it receives. Prints "Listening on HOST:PORT" once the
port is open (``--port 0`` picks a free port). Ctrl-C stops it.
"""

import argparse

from torsion.internet import reactor
from torsion.internet.protocol import Factory, Protocol


class Echo(Protocol):
    """Writes back whatever it reads."""

    def dataReceived(self, data):
        self.transport.write(data)


class EchoFactory(Factory):
    """Builds one Echo per connection."""

    protocol = Echo


def main(argv=None):
    """Listen on the given port and interface and serve until stopped."""
    parser = argparse.ArgumentParser(description="An echo server.")
    parser.add_argument("--interface", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    port = reactor.listenTCP(args.port, EchoFactory(), interface=args.interface)
    address = port.getHost()
    print(f"Listening on {address.host}:{address.port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
