"""Server side of the shutdown stress test, run as a child process.

Usage: _shutdown_server.py EXPECTED

An echo server on 127.0.0.1 (port chosen by the system) on the global
torsion reactor, with the default SIGINT/SIGTERM handling. It prints, one
line each:

- ``port N`` once the reactor runs;
- ``connected EXPECTED`` when that many connections are open;
- ``fed EXPECTED`` when that many connections have received data;
- ``before-shutdown open=O fed=F active=A bytes=B`` from a "before"
  "shutdown" trigger: connections open, how many of them have received
  data, how many received some in the last half second, bytes received in
  all;
- ``exit made=M lost=L twice=T`` after reactor.run() returned: connections
  made, connectionLost calls, and connectionLost calls beyond the first
  for a connection.
"""

from __future__ import annotations

import sys
import time

from torsion.internet import protocol, reactor

EXPECTED = int(sys.argv[1])
state = {"made": 0, "lost": 0, "twice": 0, "bytes": 0, "fed": 0}
live: set[Echo] = set()


class Echo(protocol.Protocol):
    def connectionMade(self) -> None:
        self.gone = False
        self.lastData = 0.0
        state["made"] += 1
        live.add(self)
        if len(live) == EXPECTED:
            print("connected", EXPECTED, flush=True)

    def dataReceived(self, data: bytes) -> None:
        state["bytes"] += len(data)
        if not self.lastData:
            state["fed"] += 1
            if state["fed"] == EXPECTED:
                print("fed", EXPECTED, flush=True)
        self.lastData = time.monotonic()
        self.transport.write(data)

    def connectionLost(self, reason: object = None) -> None:
        if self.gone:
            state["twice"] += 1
            return
        self.gone = True
        state["lost"] += 1
        live.discard(self)


def beforeShutdown() -> None:
    recent = time.monotonic() - 0.5
    fed = sum(1 for p in live if p.lastData > 0)
    active = sum(1 for p in live if p.lastData >= recent)
    print(
        f"before-shutdown open={len(live)} fed={fed} active={active} "
        f"bytes={state['bytes']}",
        flush=True,
    )


reactor.addSystemEventTrigger("before", "shutdown", beforeShutdown)
port = reactor.listenTCP(
    0, protocol.Factory.forProtocol(Echo), backlog=2048, interface="127.0.0.1"
)
reactor.callWhenRunning(print, "port", port.getHost().port, flush=True)
reactor.run()
print(
    f"exit made={state['made']} lost={state['lost']} twice={state['twice']}",
    flush=True,
)
