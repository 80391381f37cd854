"""LogfileFactory from "Writing Servers": a factory with startup and shutdown.

    python examples/logfile_server.py LOGFILE [--port 8000] [--interface 127.0.0.1]

Appends every line a client sends (CRLF-terminated) to LOGFILE, one line
per line. The factory opens the file in ``startFactory`` (when the port
starts listening) and closes it in ``stopFactory`` (when the port stops,
for example on Ctrl-C), not in ``__init__`` or ``__del__``.
"""

import argparse

from torsion.internet import reactor
from torsion.internet.protocol import Factory
from torsion.protocols.basic import LineReceiver


class LoggingProtocol(LineReceiver):
    """Writes each received line to the factory's file."""

    def lineReceived(self, line):
        self.factory.fp.write(line + b"\n")


class LogfileFactory(Factory):
    """Owns the log file for as long as it is listening."""

    protocol = LoggingProtocol

    def __init__(self, fileName):
        self.file = fileName

    def startFactory(self):
        self.fp = open(self.file, "ab")

    def stopFactory(self):
        self.fp.close()


def main(argv=None):
    """Serve until stopped."""
    parser = argparse.ArgumentParser(description="A server that logs lines.")
    parser.add_argument("logfile")
    parser.add_argument("--interface", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    factory = LogfileFactory(args.logfile)
    port = reactor.listenTCP(args.port, factory, interface=args.interface)
    address = port.getHost()
    print(f"Listening on {address.host}:{address.port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
