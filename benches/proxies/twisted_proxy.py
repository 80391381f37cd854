"""TCP forwarder on Twisted's portforward (default reactor), for loadgen's
proxy mode.

Usage: python twisted_proxy.py PORT --backend-port B [--backend-host H]
       [--host 127.0.0.1] [--port-file PATH]

``twisted.protocols.portforward.ProxyFactory`` as it ships: every chunk goes
through ProxyServer/ProxyClient.dataReceived and the peer's write, with the
two transports registered as each other's producers. Prints nothing; with
PORT 0, ``--port-file`` receives the bound port.
"""

from __future__ import annotations

import argparse
import os

from twisted.internet import reactor
from twisted.protocols import portforward


def main() -> None:
    """Listen, forward, and run the reactor until a signal stops it."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("port", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--backend-host", default="127.0.0.1")
    p.add_argument("--backend-port", type=int, required=True)
    p.add_argument("--port-file")
    a = p.parse_args()
    factory = portforward.ProxyFactory(a.backend_host, a.backend_port)
    port = reactor.listenTCP(a.port, factory, backlog=1024, interface=a.host)
    if a.port_file:
        tmp = f"{a.port_file}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{port.getHost().port}\n")
        os.replace(tmp, a.port_file)
    reactor.run()


if __name__ == "__main__":
    main()
