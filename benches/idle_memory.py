"""Resident memory per idle TCP connection: torsion against Twisted.

Each server runs in a child process of its own: the plainest echo protocol
(``dataReceived`` writes the data back) listening on 127.0.0.1. This
process opens the connections, holds them idle, and reads the child's
VmRSS from /proc before and after; the child's descriptor count in
/proc/PID/fd tells when every connection has been accepted.

    .venv/bin/python benches/idle_memory.py [--conns 10000] [--runs 3]

Prints a markdown table; the per-connection figure is the median over the
runs of (RSS with the connections held - RSS before) / connections, after a
warm-up of a few hundred connections opened and closed.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import time

SERVER = """
import sys
flavor = sys.argv[1]
if flavor == "torsion":
    from torsion.internet import protocol, reactor
else:
    from twisted.internet import epollreactor
    epollreactor.install()
    from twisted.internet import protocol, reactor

class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)

port = reactor.listenTCP(
    0, protocol.Factory.forProtocol(Echo), backlog=4096, interface="127.0.0.1"
)
# Printed once the loop runs, so that its own descriptors already exist.
reactor.callWhenRunning(print, port.getHost().port, flush=True)
reactor.run()
"""


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_fds(pid: int, want: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while fd_count(pid) != want:
        if time.monotonic() > deadline:
            raise RuntimeError(f"server {pid}: {fd_count(pid)} fds, expected {want}")
        time.sleep(0.01)


def settle(pid: int) -> int:
    """RSS once it has stopped moving (two equal readings 100 ms apart,
    at most 2 s)."""
    last = rss(pid)
    for _ in range(20):
        time.sleep(0.1)
        now = rss(pid)
        if now == last:
            break
        last = now
    return last


def connect_many(port: int, n: int) -> list[socket.socket]:
    socks = []
    try:
        for _ in range(n):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def measure(flavor: str, conns: int, warmup: int) -> dict[str, float]:
    child = subprocess.Popen(
        [sys.executable, "-c", SERVER, flavor],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(child.stdout.readline())
        base_fds = fd_count(child.pid)
        for s in connect_many(port, warmup):
            s.close()
        wait_fds(child.pid, base_fds)
        before = settle(child.pid)
        held = connect_many(port, conns)
        try:
            wait_fds(child.pid, base_fds + conns)
            after = settle(child.pid)
        finally:
            for s in held:
                s.close()
        wait_fds(child.pid, base_fds)
    finally:
        child.terminate()
        child.wait(timeout=10)
        child.stdout.close()
    return {"before": before, "after": after, "per": (after - before) / conns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conns", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=500)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < args.conns + 200:
        sys.exit(f"RLIMIT_NOFILE hard limit {hard} is too low for {args.conns}")
    # The children inherit this.
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    rows = []
    for flavor in ("torsion", "twisted"):
        runs = [measure(flavor, args.conns, args.warmup) for _ in range(args.runs)]
        rows.append((flavor, runs))

    print(f"{args.conns} idle connections, echo protocol, {args.runs} runs each\n")
    print(
        "| server | RSS before (MiB) | RSS with connections (MiB) "
        "| bytes per connection (each run) | median bytes per connection |"
    )
    print("|---|---|---|---|---|")
    for flavor, runs in rows:
        per = [r["per"] for r in runs]
        print(
            f"| {flavor} | {statistics.median(r['before'] for r in runs) / 2**20:.1f} "
            f"| {statistics.median(r['after'] for r in runs) / 2**20:.1f} "
            f"| {', '.join(f'{p:.0f}' for p in per)} "
            f"| {statistics.median(per):.0f} |"
        )


if __name__ == "__main__":
    main()
