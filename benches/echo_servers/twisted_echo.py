"""Echo server on Twisted's default reactor for loadgen comparisons.

Usage: python twisted_echo.py PORT [--host 127.0.0.1] [--port-file PATH]

Prints nothing; with PORT 0, ``--port-file`` receives the bound port.
"""

from __future__ import annotations

import argparse
import os

from twisted.internet import protocol, reactor


class Echo(protocol.Protocol):
    """Writes back every chunk as it arrives."""

    def connectionMade(self) -> None:
        """Turn Nagle off, as every other server compared runs."""
        self.transport.setTcpNoDelay(True)

    def dataReceived(self, data: bytes) -> None:
        """Echo the chunk."""
        self.transport.write(data)


class EchoFactory(protocol.Factory):
    """Builds an Echo per connection, without Factory's start/stop log lines."""

    protocol = Echo
    noisy = False


def main() -> None:
    """Listen on the given port and run the reactor until a signal stops it."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("port", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port-file")
    a = p.parse_args()
    port = reactor.listenTCP(a.port, EchoFactory(), backlog=1024, interface=a.host)
    if a.port_file:
        tmp = f"{a.port_file}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{port.getHost().port}\n")
        os.replace(tmp, a.port_file)
    reactor.run()


if __name__ == "__main__":
    main()
