"""Helpers shared by the stress tests: descriptor limits, memory and
descriptor counts of this process, and running a reactor in phases.

Kept apart from conftest.py so that ``from conftest import run_until`` in
test modules still means tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
from collections.abc import Iterator
from typing import Any

# Re-exported: the stress tests take their helpers from here.
from conftest import spin as spin
from conftest import wait as wait
from torsion.internet import protocol


@contextlib.contextmanager
def nofile_limit(soft: int, hard: int | None = None) -> Iterator[tuple[int, int]]:
    """Set RLIMIT_NOFILE for the block, then restore what it was; yields the
    limits in force. ``hard`` is raised if the process may (CAP_SYS_RESOURCE;
    containers often withhold it even from root), and ``soft`` is capped at
    the hard limit: callers check the yielded soft limit is enough."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    new_hard = before[1]
    if hard is not None and hard > before[1]:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (before[0], hard))
            new_hard = hard
        except (ValueError, OSError):
            pass
    limits = (min(soft, new_hard), new_hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, limits)
    try:
        yield limits
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of process ``pid``, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def open_fds() -> list[int]:
    """The descriptors open in this process (without the one used to list
    them, which is closed again by the time it is checked)."""
    names = os.listdir("/proc/self/fd")
    fds = []
    for name in names:
        try:
            fcntl.fcntl(int(name), fcntl.F_GETFD)
        except OSError:
            continue
        fds.append(int(name))
    return sorted(fds)


def stop_listening(reactor: Any, port: Any, timeout: float = 5.0) -> None:
    """Stop ``port`` and run ``reactor`` until it has closed its socket."""
    fired: list[Any] = []
    d = port.stopListening()
    if d is None:
        return
    d.addBoth(fired.append)
    spin(reactor, lambda: bool(fired), timeout=timeout)


class LineReader:
    """Reads a child process's output pipe without blocking, line by line,
    so that a reactor in this process can keep running meanwhile."""

    def __init__(self, pipe: Any) -> None:
        self.fd = pipe.fileno()
        os.set_blocking(self.fd, False)
        self.buf = b""
        self.lines: list[str] = []
        self.eof = False

    def poll(self) -> list[str]:
        """Read what is available; returns all complete lines so far."""
        while not self.eof:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                self.eof = True
                break
            self.buf += chunk
        *complete, self.buf = self.buf.split(b"\n")
        self.lines.extend(line.decode() for line in complete)
        return self.lines

    def find(self, prefix: str) -> str | None:
        """The first line so far that starts with ``prefix``, or None."""
        for line in self.poll():
            if line.startswith(prefix):
                return line
        return None


class Counts:
    """What a CountingEcho factory's connections saw."""

    def __init__(self) -> None:
        self.made = 0
        self.lost = 0
        self.lostTwice = 0
        self.bytes = 0
        self.open: set[Any] = set()


class CountingEcho(protocol.Protocol):
    """Echoes, and counts connections made and lost (and losses reported
    more than once for the same connection)."""

    counts: Counts

    def connectionMade(self) -> None:
        self.counts.made += 1
        self.counts.open.add(self)
        self._lost = False

    def dataReceived(self, data: bytes) -> None:
        self.counts.bytes += len(data)
        self.transport.write(data)

    def connectionLost(self, reason: Any = None) -> None:
        if self._lost:
            self.counts.lostTwice += 1
            return
        self._lost = True
        self.counts.lost += 1
        self.counts.open.discard(self)


def counting_echo_factory() -> tuple[protocol.Factory, Counts]:
    """A factory of CountingEcho protocols and the Counts they share."""
    counts = Counts()
    proto = type("Echo", (CountingEcho,), {"counts": counts})
    return protocol.Factory.forProtocol(proto), counts
