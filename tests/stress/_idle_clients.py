"""Client side of the many-connections test, run as a child process so that
its descriptors and memory are not the server's.

Usage: _idle_clients.py PORT COUNT

Opens COUNT connections to 127.0.0.1:PORT and holds them idle, then prints
``connected COUNT`` and obeys commands read from stdin, one per line:

- ``probe K``: K times, open a new connection, send 16 bytes, read the echo
  and close; print ``probe`` and each round trip in seconds;
- ``close``: close the idle connections; print ``closed``;
- ``exit`` (or end of input): exit.

The descriptor limit is inherited from the parent.
"""

from __future__ import annotations

import socket
import sys
import time


def probe(port: int) -> float:
    payload = b"0123456789abcdef"
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = s.recv(64)
            if not chunk:
                break
            got += chunk
    elapsed = time.perf_counter() - start
    if got != payload:
        raise SystemExit(f"probe echo mismatch: {got!r}")
    return elapsed


def main() -> None:
    port, count = int(sys.argv[1]), int(sys.argv[2])
    idle: list[socket.socket] = []
    try:
        for _ in range(count):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        print("connected", len(idle), flush=True)
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] == "exit":
                break
            if words[0] == "probe":
                times = [probe(port) for _ in range(int(words[1]))]
                print("probe", *(f"{t:.6f}" for t in times), flush=True)
            elif words[0] == "close":
                for s in idle:
                    s.close()
                idle.clear()
                print("closed", flush=True)
    finally:
        for s in idle:
            s.close()


if __name__ == "__main__":
    main()
