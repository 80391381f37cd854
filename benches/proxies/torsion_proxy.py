"""TCP forwarder on torsion's portforward, for loadgen's proxy mode.

Usage: python torsion_proxy.py PORT --backend-port B [--backend-host H]
       [--host 127.0.0.1] [--no-relay] [--port-file PATH] [--stats-file PATH]

By default it is ``torsion.protocols.portforward.ProxyFactory`` unchanged,
so each connected pair is handed to the Rust relay. ``--no-relay`` uses a
ProxyServer whose dataReceived only calls the inherited one: the bytes then
take the plain Python path (dataReceived -> peer.transport.write), which is
what any subclass that looks at the data gets.

Prints nothing. With PORT 0, ``--port-file`` receives the bound port. At
shutdown (SIGTERM or SIGINT) ``--stats-file`` receives one JSON object:
``{"pairs": N, "relayed": R}``, the connected pairs and how many of them
went to the relay, so a caller can check which path it measured.
"""

from __future__ import annotations

import argparse
import json
import os

from torsion.internet import reactor
from torsion.protocols import portforward

STATS = {"pairs": 0, "relayed": 0}


class CountingClient(portforward.ProxyClient):
    """A ProxyClient that counts pairs and whether the relay took each one.

    It leaves dataReceived alone, so it does not stop the relay."""

    def connectionMade(self) -> None:
        super().connectionMade()
        STATS["pairs"] += 1
        if getattr(self.transport, "_relayPeer", None) is not None:
            STATS["relayed"] += 1


class CountingClientFactory(portforward.ProxyClientFactory):
    protocol = CountingClient


class RelayServer(portforward.ProxyServer):
    """The stock server side; only the client factory counts."""

    clientProtocolFactory = CountingClientFactory


class PythonPathServer(RelayServer):
    """Overrides dataReceived (calling the inherited one), which turns the
    Rust relay off for its pairs."""

    def dataReceived(self, data: bytes) -> None:
        super().dataReceived(data)


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` so that a reader never sees a partial file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main() -> None:
    """Listen, forward, and run the reactor until a signal stops it."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("port", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--backend-host", default="127.0.0.1")
    p.add_argument("--backend-port", type=int, required=True)
    p.add_argument("--no-relay", action="store_true")
    p.add_argument("--port-file")
    p.add_argument("--stats-file")
    a = p.parse_args()
    factory = portforward.ProxyFactory(a.backend_host, a.backend_port)
    factory.protocol = PythonPathServer if a.no_relay else RelayServer
    port = reactor.listenTCP(a.port, factory, backlog=1024, interface=a.host)
    if a.port_file:
        write_atomically(a.port_file, f"{port.getHost().port}\n")
    if a.stats_file:
        stats_file = a.stats_file
        reactor.addSystemEventTrigger(
            "before",
            "shutdown",
            lambda: write_atomically(stats_file, json.dumps(STATS)),
        )
    reactor.run()


if __name__ == "__main__":
    main()
