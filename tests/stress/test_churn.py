"""Churn without leaks: 100,000 connect-send-echo-close cycles against a
torsion echo server leave no descriptors, DelayedCalls or memory behind.

The client is the Rust load generator (target/release/loadgen, churn mode),
run in chunks of a few seconds each until the server has counted 100,000
complete cycles; each chunk checks every echo byte and reports errors.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from torsion.internet import protocol

from ._stress import open_fds, rss_bytes, spin, stop_listening, wait

CYCLES = 100_000
SIZE = 64
WORKERS = 32
LOADGEN = Path(__file__).resolve().parents[2] / "target" / "release" / "loadgen"


class Tally:
    def __init__(self) -> None:
        self.made = 0
        self.lost = 0
        self.lostTwice = 0
        # Connections that echoed exactly SIZE bytes before closing.
        self.complete = 0
        self.open = 0


class ChurnEcho(protocol.Protocol):
    tally: Tally

    def connectionMade(self) -> None:
        self.tally.made += 1
        self.tally.open += 1
        self.received = 0
        self.gone = False

    def dataReceived(self, data: bytes) -> None:
        self.received += len(data)
        self.transport.write(data)

    def connectionLost(self, reason: object = None) -> None:
        if self.gone:
            self.tally.lostTwice += 1
            return
        self.gone = True
        self.tally.lost += 1
        self.tally.open -= 1
        if self.received == SIZE:
            self.tally.complete += 1


@pytest.mark.timeout(150)
def test_hundred_thousand_cycles_leave_nothing_behind(reactor):
    assert LOADGEN.exists(), f"{LOADGEN} missing: cargo build --release -p loadgen"
    tally = Tally()
    proto = type("Echo", (ChurnEcho,), {"tally": tally})
    port = reactor.listenTCP(
        0, protocol.Factory.forProtocol(proto), backlog=1024, interface="127.0.0.1"
    )
    portno = port.getHost().port
    wait(reactor, 0.05)
    fds_before = open_fds()
    calls_before = reactor.getDelayedCalls()
    assert calls_before == []

    rss_at_10k: list[int] = []
    reports = []
    started = time.monotonic()
    rate = 10_000.0
    while tally.complete < CYCLES:
        remaining = CYCLES - tally.complete
        seconds = min(10.0, max(1.0, remaining / rate * 1.1))
        gen = subprocess.Popen(
            [
                str(LOADGEN),
                "--port",
                str(portno),
                "--mode",
                "churn",
                "--conns",
                str(WORKERS),
                "--size",
                str(SIZE),
                "--duration",
                f"{seconds:.2f}",
                "--warmup",
                "0",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            chunk_start, done_before = time.monotonic(), tally.complete

            def finished(gen: subprocess.Popen = gen) -> bool:
                if not rss_at_10k and tally.complete >= 10_000:
                    rss_at_10k.append(rss_bytes())
                return gen.poll() is not None

            spin(reactor, finished, timeout=seconds + 20)
            out, err = gen.communicate(timeout=10)
        finally:
            if gen.poll() is None:
                gen.kill()
                gen.communicate()
        assert gen.returncode == 0, (gen.returncode, out, err)
        report = json.loads(out)
        reports.append(report)
        rate = max(
            500.0, (tally.complete - done_before) / (time.monotonic() - chunk_start)
        )
        assert len(reports) < 40, "churn far too slow"

    # Let the last connections of the last chunk finish closing.
    spin(reactor, lambda: tally.open == 0, timeout=10)
    elapsed = time.monotonic() - started
    wait(reactor, 0.1)
    rss_end = rss_bytes()
    fds_after = open_fds()

    print(
        f"\nchurn: {tally.complete} complete cycles ({tally.made} connections) "
        f"in {elapsed:.1f}s = {tally.complete / elapsed:.0f} cycles/s over "
        f"{len(reports)} loadgen runs; fds {len(fds_before)} -> {len(fds_after)}; "
        f"RSS after 10k {rss_at_10k[0] / 2**20:.1f} MiB, at end "
        f"{rss_end / 2**20:.1f} MiB"
    )
    assert tally.complete >= CYCLES
    assert tally.made == tally.lost
    assert tally.lostTwice == 0
    # Every connection loadgen finished was a complete cycle on the server.
    assert sum(r["connections"] for r in reports) <= tally.complete
    assert sum(r["verify_errors"] for r in reports) == 0
    assert sum(r["disconnects"] for r in reports) == 0
    assert sum(r["connect_errors"] for r in reports) == 0
    assert fds_after == fds_before
    assert reactor.getDelayedCalls() == []
    assert abs(rss_end - rss_at_10k[0]) < 10 * 2**20
    stop_listening(reactor, port)
