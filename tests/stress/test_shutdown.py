"""Shutdown under load: SIGTERM to a torsion server holding 1,000
connections whose clients are all sending runs the shutdown triggers, ends
every connection with exactly one connectionLost, and exits with status 0
within 2 seconds.

The server is tests/stress/_shutdown_server.py in a child process; the
clients are the Rust load generator in stream mode (each connection writes
continuously and reads the echo).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CONNS = 1000
SERVER = Path(__file__).with_name("_shutdown_server.py")
LOADGEN = Path(__file__).resolve().parents[2] / "target" / "release" / "loadgen"


def read_line(pipe, prefix: str, timeout: float, seen: list[str]) -> str:
    """Read lines from ``pipe`` (appending them to ``seen``) until one
    starts with ``prefix``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {prefix!r} line within {timeout}s; got {seen}"
        ready, _, _ = select.select([pipe], [], [], left)
        if not ready:
            continue
        line = pipe.readline()
        assert line, f"server output ended before {prefix!r}; got {seen}"
        seen.append(line.rstrip("\n"))
        if line.startswith(prefix):
            return seen[-1]


def fields(line: str) -> dict[str, int]:
    return {k: int(v) for k, v in (w.split("=") for w in line.split()[1:])}


@pytest.mark.timeout(90)
def test_sigterm_with_a_thousand_busy_connections():
    assert LOADGEN.exists(), f"{LOADGEN} missing: cargo build --release -p loadgen"
    server = subprocess.Popen(
        [sys.executable, str(SERVER), str(CONNS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    gen = None
    seen: list[str] = []
    try:
        port = int(read_line(server.stdout, "port", 30, seen).split()[1])
        gen = subprocess.Popen(
            [
                str(LOADGEN),
                "--port",
                str(port),
                "--mode",
                "stream",
                "--conns",
                str(CONNS),
                "--size",
                "4k",
                "--duration",
                "60",
                "--warmup",
                "0",
                "--connect-timeout",
                "20",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        read_line(server.stdout, "connected", 30, seen)
        # Every connection has had data (on a busy machine that can take
        # more than a second), then the transfers run a moment longer.
        read_line(server.stdout, "fed", 30, seen)
        time.sleep(0.3)
        assert server.poll() is None
        assert gen.poll() is None

        signalled = time.monotonic()
        os.kill(server.pid, signal.SIGTERM)
        status = server.wait(timeout=10)
        took = time.monotonic() - signalled
        out = server.stdout.read()
        seen.extend(out.splitlines())
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        server.stdout.close()
        if gen is not None and gen.poll() is None:
            gen.kill()
            gen.wait()

    before = [line for line in seen if line.startswith("before-shutdown")]
    exits = [line for line in seen if line.startswith("exit")]
    print(f"\nSIGTERM to exit: {took * 1000:.0f} ms; {before} {exits}")
    assert status == 0
    assert took < 2.0
    # The before-shutdown trigger ran once, with all connections open, each
    # of them having sent data, and transfers going on at the time.
    assert len(before) == 1
    b = fields(before[0])
    assert b["open"] == CONNS
    assert b["fed"] == CONNS
    assert b["active"] > 0
    assert b["bytes"] > 0
    # Every connection ended exactly once.
    assert exits == [f"exit made={CONNS} lost={CONNS} twice=0"]
