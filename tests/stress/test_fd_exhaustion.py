"""Descriptor exhaustion: when accept() fails with EMFILE the listening port
logs once, does not spin, keeps existing connections served, closes the
connections waiting in its backlog at once (with the descriptor it keeps in
reserve), and accepts again when descriptors free up.

The test lowers its own RLIMIT_NOFILE soft limit so that exactly FREE
descriptor numbers remain, and creates every client socket it will need
beforehand (once the limit is reached the test process cannot create any).
"""

from __future__ import annotations

import errno
import os
import resource
import socket
import time

import pytest
from torsion.internet.testing import flushLoggedErrors

from ._stress import (
    counting_echo_factory,
    nofile_limit,
    open_fds,
    spin,
    stop_listening,
    wait,
)

FREE = 3
POOL = 10
ESTABLISHED = 3


def free_slots_below(limit: int, used: list[int]) -> int:
    taken = set(used)
    return sum(1 for n in range(limit) if n not in taken)


def limit_leaving(free: int, used: list[int]) -> int:
    """The smallest limit under which exactly ``free`` numbers are unused."""
    limit = 0
    while free_slots_below(limit, used) < free:
        limit += 1
    return limit


def closed_by_peer(s: socket.socket) -> bool:
    """True once the peer closed ``s`` (EOF or reset); False while open."""
    try:
        data = s.recv(4096)
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    assert data == b"", data
    return True


def echo_ok(reactor, s: socket.socket, payload: bytes) -> bool:
    """Send ``payload`` on ``s`` and run the reactor until it comes back."""
    s.sendall(payload)
    got = bytearray()

    def back() -> bool:
        try:
            got.extend(s.recv(4096))
        except BlockingIOError:
            pass
        return len(got) >= len(payload)

    spin(reactor, back, timeout=5)
    return bytes(got) == payload


@pytest.mark.timeout(60)
def test_accept_under_descriptor_exhaustion(reactor):
    factory, counts = counting_echo_factory()
    port = reactor.listenTCP(0, factory, backlog=64, interface="127.0.0.1")
    address = ("127.0.0.1", port.getHost().port)
    established: list[socket.socket] = []
    pool: list[socket.socket] = []
    flushLoggedErrors()
    try:
        for _ in range(ESTABLISHED):
            s = socket.create_connection(address, timeout=5)
            established.append(s)
            s.setblocking(False)
        spin(reactor, lambda: counts.made == ESTABLISHED, timeout=5)
        for i, s in enumerate(established):
            assert echo_ok(reactor, s, b"before %d" % i)
        for _ in range(POOL):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            pool.append(s)
            s.setblocking(False)
        wait(reactor, 0.05)

        used = open_fds()
        limit = limit_leaving(FREE, used)
        assert flushLoggedErrors() == []
        with nofile_limit(limit):
            assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == limit
            # Each connection accepted takes one of the FREE descriptors.
            # Once the last one is taken, the port's next accept() in the
            # same batch fails with EMFILE: that is logged, once.
            for i in range(FREE):
                assert pool[i].connect_ex(address) == errno.EINPROGRESS
                spin(reactor, lambda i=i: counts.made == ESTABLISHED + i + 1)

            # The next clients find the process out of descriptors: the port
            # closes their connections promptly instead of leaving them
            # waiting, and logs nothing more.
            refused = pool[FREE : FREE + 3]
            waits = []
            for s in refused:
                start = time.monotonic()
                assert s.connect_ex(address) == errno.EINPROGRESS
                spin(reactor, lambda s=s: closed_by_peer(s), timeout=5)
                waits.append(time.monotonic() - start)
            assert counts.made == ESTABLISHED + FREE
            logged = flushLoggedErrors()
            assert len(logged) == 1
            assert isinstance(logged[0].value, OSError)
            assert "Too many open files" in str(logged[0].value)
            assert max(waits) < 1.0

            # Exhausted, with one more client refused meanwhile: the loop
            # does not spin.
            cpu = time.process_time()
            late = pool[FREE + 3]
            assert late.connect_ex(address) == errno.EINPROGRESS
            wait(reactor, 0.5)
            cpu = time.process_time() - cpu
            assert closed_by_peer(late)
            assert cpu < 0.2
            assert flushLoggedErrors() == []

            # Existing connections are still served.
            for i, s in enumerate(established + pool[:FREE]):
                assert echo_ok(reactor, s, b"during %d" % i)

            # A connection ends: its descriptor (and the client's) are free
            # again, and the port accepts the next client.
            pool[0].close()
            spin(reactor, lambda: counts.lost == 1, timeout=5)
            again = pool[FREE + 4]
            assert again.connect_ex(address) == errno.EINPROGRESS
            spin(reactor, lambda: counts.made == ESTABLISHED + FREE + 1, timeout=5)
            assert echo_ok(reactor, again, b"after")
            assert flushLoggedErrors() == []
        print(
            f"\nexhaustion: limit {limit}, {len(used)} fds open; refused clients "
            f"told in {', '.join(f'{w * 1000:.1f}' for w in waits)} ms; "
            f"CPU over 0.5 s exhausted: {cpu * 1000:.1f} ms"
        )
        assert counts.lostTwice == 0
    finally:
        for s in established + pool:
            s.close()
    spin(reactor, lambda: counts.lost == counts.made, timeout=5)
    stop_listening(reactor, port)


@pytest.mark.timeout(30)
def test_exhaustion_is_logged_with_its_errno(reactor):
    factory, counts = counting_echo_factory()
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    address = ("127.0.0.1", port.getHost().port)
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setblocking(False)
    flushLoggedErrors()
    try:
        wait(reactor, 0.05)
        with nofile_limit(limit_leaving(1, open_fds())):
            # Accepting this one takes the last descriptor; the next
            # accept() of the batch fails with EMFILE and is logged.
            assert client.connect_ex(address) == errno.EINPROGRESS
            spin(reactor, lambda: counts.made == 1, timeout=5)
            logged = flushLoggedErrors()
        assert len(logged) == 1
        assert logged[0].value.errno == errno.EMFILE
        assert logged[0].value.strerror == os.strerror(errno.EMFILE)
    finally:
        client.close()
    spin(reactor, lambda: counts.lost == 1, timeout=5)
    stop_listening(reactor, port)
