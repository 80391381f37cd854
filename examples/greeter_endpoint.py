"""The connectProtocol greeter from "Writing Clients" (endpoints).

    python examples/greeter_endpoint.py [--host 127.0.0.1] [--port 1234]
                                        [--delay 1.0]

Connects a Greeter protocol instance through a TCP4ClientEndpoint, sends
"MESSAGE Hello", another message ``--delay`` seconds later, and hangs up
after twice that. Exits when the connection ends (status 1 if it could not
be made).
"""

import argparse
import sys

from torsion.internet import reactor
from torsion.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from torsion.internet.protocol import Protocol


class Greeter(Protocol):
    """Sends messages, one per line, and stops the program when disconnected."""

    def sendMessage(self, msg):
        self.transport.write(b"MESSAGE %s\n" % msg)
        print("Sent:", msg.decode("utf-8"))

    def connectionLost(self, reason):
        print("Disconnected.")
        reactor.stop()


def gotProtocol(p, delay):
    """Greet now, say more after ``delay`` seconds, and hang up after that."""
    p.sendMessage(b"Hello")
    reactor.callLater(delay, p.sendMessage, b"This is sent in a second")
    reactor.callLater(2 * delay, p.transport.loseConnection)


failures = []


def connectFailed(reason):
    """Report why there is no connection, and stop."""
    print("Connection failed:", reason.getErrorMessage())
    failures.append(reason)
    reactor.stop()


def main(argv=None):
    """Connect and greet."""
    parser = argparse.ArgumentParser(description="A greeter using endpoints.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1234)
    parser.add_argument("--delay", type=float, default=1.0)
    args = parser.parse_args(argv)
    point = TCP4ClientEndpoint(reactor, args.host, args.port)
    d = connectProtocol(point, Greeter())
    d.addCallbacks(gotProtocol, connectFailed, callbackArgs=(args.delay,))
    reactor.run()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
