"""Echo server on Twisted's default reactor for loadgen comparisons.

Usage: python twisted_echo.py PORT [--host 127.0.0.1] [--port-file PATH]
       [--unix SOCKET_PATH]

Prints nothing; with PORT 0, ``--port-file`` receives the bound port. With
``--unix`` it listens on that UNIX stream socket instead (PORT is ignored)
and the port file receives the socket's path.
"""

from __future__ import annotations

import argparse
import os

from twisted.internet import protocol, reactor


class Echo(protocol.Protocol):
    """Writes back every chunk as it arrives."""

    def connectionMade(self) -> None:
        """Turn Nagle off, as every other server compared runs (TCP only)."""
        if self.factory.tcp:
            self.transport.setTcpNoDelay(True)

    def dataReceived(self, data: bytes) -> None:
        """Echo the chunk."""
        self.transport.write(data)


class EchoFactory(protocol.Factory):
    """Builds an Echo per connection, without Factory's start/stop log lines."""

    protocol = Echo
    noisy = False
    tcp = True


def main() -> None:
    """Listen on the given port and run the reactor until a signal stops it."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("port", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port-file")
    p.add_argument("--unix", metavar="SOCKET_PATH")
    a = p.parse_args()
    factory = EchoFactory()
    if a.unix:
        factory.tcp = False
        reactor.listenUNIX(a.unix, factory, backlog=1024)
        where = a.unix
    else:
        port = reactor.listenTCP(a.port, factory, backlog=1024, interface=a.host)
        where = port.getHost().port
    if a.port_file:
        tmp = f"{a.port_file}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{where}\n")
        os.replace(tmp, a.port_file)
    reactor.run()


if __name__ == "__main__":
    main()
