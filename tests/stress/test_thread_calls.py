"""Threads (issue 6, part 7): four threads each call
``reactor.callFromThread`` 250,000 times while the loop serves echo
traffic.  Every call runs exactly once, each thread's calls in the order
it made them, and the echo connections keep working meanwhile.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from conftest import run_until

THREADS = 4
CALLS = 250_000
CONNECTIONS = 3
MESSAGE = bytes(range(256)) * 4


def test_callFromThread_from_four_threads_under_traffic(reactor):
    expected = [0] * THREADS
    wrong: list[tuple[int, int, int]] = []
    finished: list[int] = []

    def record(tid: int, seq: int) -> None:
        # In order and once: each call must carry the next number.
        if seq != expected[tid]:
            wrong.append((tid, seq, expected[tid]))
        expected[tid] = seq + 1

    def hammer(tid: int) -> None:
        call = reactor.callFromThread
        for seq in range(CALLS):
            call(record, tid, seq)
        call(finished.append, tid)

    from torsion.internet import protocol

    class Echo(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    class PingPong(protocol.Protocol):
        """Sends MESSAGE, waits for all of it back, sends it again."""

        def connectionMade(self) -> None:
            self.buf = b""
            self.rounds = 0
            self.corrupt = False
            clients.append(self)
            self.transport.write(MESSAGE)

        def dataReceived(self, data: bytes) -> None:
            arrivals.append(time.monotonic())
            self.buf += data
            if len(self.buf) >= len(MESSAGE):
                if self.buf != MESSAGE:
                    self.corrupt = True
                self.buf = b""
                self.rounds += 1
                self.transport.write(MESSAGE)

    clients: list[Any] = []
    arrivals: list[float] = []
    server = protocol.Factory.forProtocol(Echo)
    server.noisy = False
    port = reactor.listenTCP(0, server, interface="127.0.0.1")
    for _ in range(CONNECTIONS):
        client = protocol.ClientFactory.forProtocol(PingPong)
        client.noisy = False
        reactor.connectTCP("127.0.0.1", port.getHost().port, client)

    threads = [
        threading.Thread(target=hammer, args=(tid,), daemon=True)
        for tid in range(THREADS)
    ]
    roundsBefore: list[int] = []
    timing: dict[str, float] = {}

    def start() -> None:
        # Start hammering once the echo traffic is flowing.
        if len(clients) < CONNECTIONS or min(c.rounds for c in clients) < 10:
            reactor.callLater(0.001, start)
            return
        roundsBefore.extend(c.rounds for c in clients)
        timing["start"] = time.monotonic()
        for thread in threads:
            thread.start()

    def done() -> bool:
        if len(finished) == THREADS and "end" not in timing:
            timing["end"] = time.monotonic()
            timing["roundsAt"] = min(
                c.rounds - before
                for c, before in zip(clients, roundsBefore, strict=True)
            )
        return len(finished) == THREADS

    reactor.callWhenRunning(start)
    try:
        run_until(reactor, done, timeout=50)
    finally:
        for thread in threads:
            if thread.is_alive():
                thread.join(timeout=20)
    elapsed = timing["end"] - timing["start"]
    during = [t for t in arrivals if timing["start"] <= t <= timing["end"]]
    edges = [timing["start"], *during, timing["end"]]
    longestGap = max(b - a for a, b in zip(edges, edges[1:], strict=False))
    print(
        f"\n{THREADS * CALLS} callFromThread calls from {THREADS} threads in "
        f"{elapsed:.2f}s ({THREADS * CALLS / elapsed:,.0f}/s); each echo "
        f"connection did >= {timing['roundsAt']} round trips meanwhile; "
        f"longest wait for echo data {longestGap * 1000:.0f} ms"
    )
    assert wrong == []
    assert expected == [CALLS] * THREADS
    assert sorted(finished) == list(range(THREADS))
    assert not any(c.corrupt for c in clients)
    # The loop kept serving the connections while the calls poured in.
    # Like Twisted, each turn runs every call queued before it began, so
    # while the threads outpace the loop a turn can be long (a few hundred
    # ms here; Twisted's slower callFromThread keeps its batches small):
    # only progress is required, not a latency.
    assert timing["roundsAt"] >= 1
    assert elapsed < 40
