"""Many small transport.write() calls, torsion beside Twisted.

Run: .venv/bin/python -m pytest benches/test_bench_writes.py -o timeout=0 \
     --benchmark-only

Each round: a fresh reactor connects over loopback to a plain blocking
socket served by a reader thread. Once connected, the protocol makes
1,000,000 writes of 16 bytes, in batches of 10,000 per reactor turn (the
next batch is a callLater(0)), so that the reactor sends while the reader
drains. The round ends when the reader has received all 16,000,000 bytes
(it then stops the reactor with callFromThread); the reader checks every
byte against the pattern. The time covers the writes and their delivery;
``extra_info`` gives writes per second.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

WRITES = 1_000_000
BATCH = 10_000
CHUNK = b"0123456789abcdef"
TOTAL = WRITES * len(CHUNK)
READ_SIZE = 1 << 20
# Long enough that any read starting at offset k of the stream can be
# compared with PATTERN[k % 16 : k % 16 + n].
PATTERN = CHUNK * (READ_SIZE // len(CHUNK) + 2)
LIMIT_SECONDS = 60.0


def _torsion() -> tuple[Any, Any]:
    from torsion.internet import protocol
    from torsion.internet._reactor import TorsionReactor

    return TorsionReactor(), protocol


def _twisted() -> tuple[Any, Any]:
    from twisted.internet import protocol
    from twisted.internet.epollreactor import EPollReactor

    return EPollReactor(), protocol


IMPLS: dict[str, Callable[[], tuple[Any, Any]]] = {
    "twisted": _twisted,
    "torsion": _torsion,
}


class Reader(threading.Thread):
    """Accepts one connection and reads until TOTAL bytes or end of stream,
    checking the bytes; then calls ``done`` (from this thread)."""

    def __init__(self, listener: socket.socket, done: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.listener = listener
        self.done = done
        self.received = 0
        self.mismatches = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(LIMIT_SECONDS)
                while self.received < TOTAL:
                    data = conn.recv(READ_SIZE)
                    if not data:
                        break
                    start = self.received % len(CHUNK)
                    if data != PATTERN[start : start + len(data)]:
                        self.mismatches += 1
                    self.received += len(data)
        except BaseException as e:  # reported by the test
            self.error = e
        finally:
            self.done()


def write_million(impl: str) -> tuple[int, int]:
    """One round; returns (bytes the reader received, mismatched reads)."""
    reactor, protocol = IMPLS[impl]()
    written = [0]

    class Writer(protocol.Protocol):  # type: ignore[misc, name-defined]
        def connectionMade(self) -> None:
            self.batch()

        def batch(self) -> None:
            write = self.transport.write
            for _ in range(BATCH):
                write(CHUNK)
            written[0] += BATCH
            if written[0] < WRITES:
                reactor.callLater(0, self.batch)

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(LIMIT_SECONDS)
        reader = Reader(listener, lambda: reactor.callFromThread(reactor.stop))
        reader.start()
        try:
            factory = protocol.ClientFactory()
            factory.protocol = Writer
            reactor.connectTCP("127.0.0.1", listener.getsockname()[1], factory)
            guard = reactor.callLater(LIMIT_SECONDS, reactor.stop)
            reactor.run(installSignalHandlers=False)
            if guard.active():
                guard.cancel()
        finally:
            reader.join(LIMIT_SECONDS)
    assert reader.error is None, reader.error
    assert written[0] == WRITES
    return reader.received, reader.mismatches


@pytest.mark.parametrize("impl", list(IMPLS))
def test_small_writes(benchmark: Any, impl: str) -> None:
    """1,000,000 writes of 16 bytes, delivered to a reading peer."""
    benchmark.group = "1,000,000 writes of 16 B"
    received, mismatches = benchmark.pedantic(
        write_million, args=(impl,), rounds=5, iterations=1, warmup_rounds=1
    )
    assert (received, mismatches) == (TOTAL, 0)
    stats = benchmark.stats.stats
    benchmark.extra_info["writes_per_s_best"] = round(WRITES / stats.min)
    benchmark.extra_info["writes_per_s_mean"] = round(WRITES / stats.mean)
