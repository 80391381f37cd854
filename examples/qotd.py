"""The Quote Of The Day server from "Writing Servers", with a configurable quote.

    python examples/qotd.py [--quote TEXT] [--port 8007] [--interface 127.0.0.1]

Each client gets the quote followed by CRLF, then the server closes the
connection. Listens through an endpoint (TCP4ServerEndpoint), as the
document does.
"""

import argparse
import sys

from torsion.internet import reactor
from torsion.internet.endpoints import TCP4ServerEndpoint
from torsion.internet.protocol import Factory, Protocol

DEFAULT_QUOTE = "An apple a day keeps the doctor away"


class QOTD(Protocol):
    """Sends the factory's quote and hangs up."""

    def connectionMade(self):
        self.transport.write(self.factory.quote + b"\r\n")
        self.transport.loseConnection()


class QOTDFactory(Factory):
    """Holds the quote; the default buildProtocol makes a QOTD per client."""

    protocol = QOTD

    def __init__(self, quote=None):
        self.quote = quote or DEFAULT_QUOTE.encode("utf-8")


def reportListening(port):
    """Print the address the server listens on."""
    address = port.getHost()
    print(f"Listening on {address.host}:{address.port}", flush=True)


def reportFailure(reason):
    """Explain why the server could not listen, then stop."""
    print("Cannot listen:", reason.getErrorMessage(), file=sys.stderr)
    reactor.callWhenRunning(reactor.stop)


def main(argv=None):
    """Serve the quote until stopped."""
    parser = argparse.ArgumentParser(description="A Quote Of The Day server.")
    parser.add_argument("--quote", default=DEFAULT_QUOTE)
    parser.add_argument("--interface", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8007)
    args = parser.parse_args(argv)
    endpoint = TCP4ServerEndpoint(reactor, args.port, interface=args.interface)
    d = endpoint.listen(QOTDFactory(args.quote.encode("utf-8")))
    d.addCallbacks(reportListening, reportFailure)
    reactor.run()


if __name__ == "__main__":
    main()
