"""Echo server on torsion, for the load generator.

python benches/torsion_echo.py PORT [--port-file FILE] [--unix PATH]

With ``--unix PATH`` it listens on a UNIX stream socket at PATH instead
(PORT is then ignored) and the port file receives the path.
"""

import argparse
import os
import socket

from torsion import _torsion
from torsion.internet import protocol, reactor, tcp


class Echo(protocol.Protocol):
    def connectionMade(self):
        # Every server compared runs with Nagle off: asyncio, uvloop and
        # rloop turn it off by default and the C server does so itself;
        # Twisted's default, which torsion keeps, leaves it on.
        if self.factory.tcp:
            self.transport.setTcpNoDelay(True)

    def dataReceived(self, data):
        self.transport.write(data)


class _UNIXPort(tcp.Port):
    """For builds without ``reactor.listenUNIX``: torsion's TCP port machinery
    accepting on a listening UNIX socket (the accepted connections are
    TCP transports over UNIX sockets, which is all an echo needs)."""

    def __init__(self, path, factory):
        super().__init__(0, factory, backlog=1024, reactor=reactor)
        self.path = path

    def startListening(self):
        skt = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        skt.bind(self.path)
        skt.listen(self.backlog)
        skt.setblocking(False)
        self._realPortNumber = self.path
        self.factory.doStart()
        self.connected = True
        self._native = _torsion.ListeningPort(
            self.reactor, skt.detach(), self.factory, self._buildTransport, self
        )
        self._native.startReading()


def listen_unix(path, factory):
    """``reactor.listenUNIX`` where torsion has it, else ``_UNIXPort``."""
    listen = getattr(reactor, "listenUNIX", None)
    if listen is not None:
        return listen(path, factory, backlog=1024)
    port = _UNIXPort(path, factory)
    port.startListening()
    return port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--port-file")
    parser.add_argument("--unix", metavar="PATH")
    args = parser.parse_args()
    factory = protocol.Factory.forProtocol(Echo)
    factory.tcp = args.unix is None
    if args.unix:
        listen_unix(args.unix, factory)
        where = args.unix
    else:
        port = reactor.listenTCP(
            args.port, factory, backlog=1024, interface="127.0.0.1"
        )
        where = str(port.getHost().port)
    if args.port_file:
        # Whole or not at all: the runner polls this file.
        with open(f"{args.port_file}.tmp", "w") as f:
            f.write(where)
        os.replace(f"{args.port_file}.tmp", args.port_file)
    reactor.run()


if __name__ == "__main__":
    main()
