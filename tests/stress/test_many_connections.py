"""Many connections: one torsion reactor holds 10,000 idle TCP connections,
keeps answering new clients promptly, and accounts for every connection.

The idle clients live in a child process (tests/stress/_idle_clients.py),
so the descriptors and the resident memory measured here are the server's
alone. benches/idle_memory.py compares the memory figure with Twisted's.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from ._stress import (
    LineReader,
    counting_echo_factory,
    nofile_limit,
    open_fds,
    rss_bytes,
    spin,
    stop_listening,
    wait,
)

IDLE = 10_000
PROBES = 5
CLIENTS = Path(__file__).with_name("_idle_clients.py")


@pytest.mark.timeout(180)
def test_ten_thousand_idle_connections(reactor):
    # 10,000 accepted sockets here, 10,000 client sockets in the child
    # (which inherits the limit).
    with nofile_limit(65536, 65536) as (soft, _):
        assert soft >= IDLE + 1000, f"RLIMIT_NOFILE {soft} too low for {IDLE}"
        factory, counts = counting_echo_factory()
        port = reactor.listenTCP(0, factory, backlog=4096, interface="127.0.0.1")
        portno = port.getHost().port
        wait(reactor, 0.05)
        fds_before = len(open_fds())
        rss_before = rss_bytes()

        child = subprocess.Popen(
            [sys.executable, str(CLIENTS), str(portno), str(IDLE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        try:
            out = LineReader(child.stdout)
            spin(
                reactor,
                lambda: counts.made == IDLE and out.find("connected") is not None,
                timeout=90,
            )
            assert out.find("connected") == f"connected {IDLE}"
            rss_held = rss_bytes()
            fds_held = len(open_fds())
            per_conn = (rss_held - rss_before) / IDLE
            print(
                f"\nidle connections: {IDLE}; RSS {rss_before / 2**20:.1f} MiB -> "
                f"{rss_held / 2**20:.1f} MiB; {per_conn:.0f} bytes per connection"
            )
            # Exactly one descriptor per accepted connection (and the two
            # pipes to the child).
            assert fds_held - fds_before == IDLE + 2
            assert counts.made == IDLE
            assert counts.lost == 0
            assert per_conn < 4096

            # A new client is answered promptly while the 10,000 are held.
            child.stdin.write(f"probe {PROBES}\n".encode())
            child.stdin.flush()
            spin(
                reactor,
                lambda: out.find("probe") is not None and counts.lost == PROBES,
                timeout=30,
            )
            times = [float(t) for t in out.find("probe").split()[1:]]
            print(
                "new client connect+echo round trips (ms): "
                + ", ".join(f"{t * 1000:.2f}" for t in times)
            )
            assert len(times) == PROBES
            assert statistics.median(times) < 0.050
            assert counts.made == IDLE + PROBES

            # Closing them all: every connectionLost fires, once each.
            child.stdin.write(b"close\n")
            child.stdin.flush()
            spin(
                reactor,
                lambda: counts.lost == IDLE + PROBES and out.find("closed") is not None,
                timeout=60,
            )
            wait(reactor, 0.1)
            assert counts.made == IDLE + PROBES
            assert counts.lost == IDLE + PROBES
            assert counts.lostTwice == 0
            assert counts.open == set()
            assert len(open_fds()) == fds_before + 2
        finally:
            child.stdin.close()
            try:
                child.wait(timeout=10)
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
                child.stdout.close()
        assert child.returncode == 0
        stop_listening(reactor, port)
