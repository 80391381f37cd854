"""IReactorThreads on the real reactor with real threads: callFromThread
(exactly once, per-thread order, prompt wake-up), the thread pool
(callInThread, getThreadPool, suggestThreadPoolSize, stopped at shutdown),
deferToThread, and the GIL released while the loop waits; compared with
Twisted's EPollReactor via ``flavor``."""

from __future__ import annotations

import statistics
import sys
import threading
import time

import pytest
from conftest import run_until


@pytest.fixture(autouse=True)
def _flushLoggedErrors():
    """Errors these tests provoke on purpose are checked where they matter;
    drop them afterwards so they do not reach later tests' collectors."""
    yield
    from torsion.internet.testing import flushLoggedErrors

    flushLoggedErrors()


def _run(reactor) -> None:
    reactor.run(installSignalHandlers=False)


def test_callFromThread_many_threads_once_each_in_order(flavor):
    """Calls from several threads each run once, in the reactor thread, in
    the order each thread made them."""
    reactor = flavor.reactor
    threads, perThread = 4, 500
    seen: list = []
    reactorThread = []

    def record(tid, n):
        seen.append((tid, n))
        if threading.current_thread() is not reactorThread[0]:
            seen.append("wrong thread")

    def worker(tid):
        for n in range(perThread):
            reactor.callFromThread(record, tid, n)
            if n % 50 == 0:
                time.sleep(0.001)

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]

    def start():
        reactorThread.append(threading.current_thread())
        for w in workers:
            w.start()

    reactor.callWhenRunning(start)
    run_until(reactor, lambda: len(seen) >= threads * perThread)
    for w in workers:
        w.join()
    assert "wrong thread" not in seen
    assert len(seen) == threads * perThread
    for tid in range(threads):
        assert [n for t, n in seen if t == tid] == list(range(perThread))


def test_callFromThread_before_run_runs_once_started(flavor):
    """Calls queued before run() run once the loop turns, with their
    arguments, in order."""
    reactor = flavor.reactor
    seen: list = []
    reactor.callFromThread(seen.append, 1)
    reactor.callFromThread(lambda *a, **k: seen.append((a, k)), 2, x=3)
    run_until(reactor, lambda: len(seen) == 2)
    assert seen == [1, ((2,), {"x": 3})]


def test_callFromThread_from_reactor_thread_runs_next_turn(flavor):
    """callFromThread inside a thread call does not run in the same pass."""
    reactor = flavor.reactor
    seen: list = []

    def first():
        seen.append("first")
        reactor.callFromThread(seen.append, "queued by first")

    reactor.callFromThread(first)
    reactor.callFromThread(seen.append, "second")
    reactor.iterate(0)
    assert seen == ["first", "second"]
    reactor.iterate(0)
    assert seen == ["first", "second", "queued by first"]


def test_callFromThread_wakes_a_sleeping_loop(flavor):
    """A call from another thread runs within milliseconds even though the
    loop has nothing else to do (no timer shortens its sleep)."""
    reactor = flavor.reactor
    latencies: list = []

    def caller():
        time.sleep(0.1)
        for _ in range(10):
            ran = threading.Event()
            sent = time.monotonic()
            reactor.callFromThread(
                lambda s=sent, e=ran: (latencies.append(time.monotonic() - s), e.set())
            )
            ran.wait(5)
            time.sleep(0.03)
        reactor.callFromThread(reactor.stop)

    worker = threading.Thread(target=caller)
    reactor.callWhenRunning(worker.start)
    _run(reactor)
    worker.join()
    assert len(latencies) == 10
    assert statistics.median(latencies) < 0.04


def test_raising_thread_call_does_not_stop_the_others(flavor):
    """A thread call that raises is logged; the next ones still run."""
    reactor = flavor.reactor
    seen: list = []

    def boom():
        raise KeyError("thread call")

    reactor.callFromThread(seen.append, 1)
    reactor.callFromThread(boom)
    reactor.callFromThread(seen.append, 2)
    reactor.iterate(0)
    assert seen == [1, 2]


def test_gil_released_while_loop_waits(flavor):
    """While the loop sleeps in a long poll, another Python thread keeps
    running: a counter it increments advances a lot."""
    reactor = flavor.reactor
    counter = [0]
    stop = threading.Event()
    marks: list = []

    def spin():
        while not stop.is_set():
            counter[0] += 1

    spinner = threading.Thread(target=spin)
    reactor.callWhenRunning(spinner.start)
    reactor.callLater(0.1, lambda: marks.append(counter[0]))
    reactor.callLater(0.6, lambda: (marks.append(counter[0]), reactor.stop()))
    _run(reactor)
    stop.set()
    spinner.join()
    assert marks[1] - marks[0] > 100_000


# the thread pool


def test_callInThread_runs_in_a_pool_thread(flavor):
    """callInThread runs the callable in a thread other than the reactor's,
    with its arguments."""
    reactor = flavor.reactor
    seen: list = []

    def work(a, b=0):
        seen.append((a + b, threading.current_thread() is not threading.main_thread()))

    reactor.callInThread(work, 1, b=2)
    run_until(reactor, lambda: seen)
    assert seen == [(3, True)]


def test_getThreadPool_lifecycle(flavor):
    """getThreadPool returns one pool (0..10 threads), started when the
    reactor starts and stopped (and dropped) at shutdown."""
    reactor = flavor.reactor
    pool = reactor.getThreadPool()
    assert reactor.getThreadPool() is pool
    assert reactor.threadpool is pool
    assert (pool.min, pool.max) == (0, 10)
    assert not pool.started
    phases: list = []
    reactor.callWhenRunning(lambda: phases.append(("running", pool.started)))
    reactor.addSystemEventTrigger(
        "before", "shutdown", lambda: phases.append(("before shutdown", pool.joined))
    )
    reactor.callInThread(time.sleep, 0.01)
    reactor.callLater(0.05, reactor.stop)
    _run(reactor)
    assert phases == [("running", True), ("before shutdown", False)]
    assert pool.joined
    assert [t.is_alive() for t in pool.threads] == [False] * len(pool.threads)
    assert reactor.threadpool is None


def test_suggestThreadPoolSize_limits_concurrency(flavor):
    """suggestThreadPoolSize(n) sets the pool's maximum: no more than n
    jobs run at once."""
    reactor = flavor.reactor
    reactor.suggestThreadPoolSize(2)
    assert reactor.getThreadPool().max == 2
    lock = threading.Lock()
    active = [0]
    peak = [0]
    done: list = []

    def job(n):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.03)
        with lock:
            active[0] -= 1
        reactor.callFromThread(done.append, n)

    for n in range(6):
        reactor.callInThread(job, n)
    run_until(reactor, lambda: len(done) == 6)
    assert sorted(done) == list(range(6))
    assert peak[0] == 2


def test_deferToThreadPool_on_the_reactor(flavor):
    """deferToThreadPool with the reactor's pool fires in the reactor
    thread with the result, or with a Failure of the exception."""
    from importlib import import_module

    threads = import_module(flavor.name + ".internet.threads")
    reactor = flavor.reactor
    results: list = []

    def onResult(value):
        results.append((value, threading.current_thread() is threading.main_thread()))

    def fails():
        raise ValueError("in thread")

    pool = reactor.getThreadPool()
    threads.deferToThreadPool(reactor, pool, lambda x: x * 2, 21).addCallback(onResult)
    threads.deferToThreadPool(reactor, pool, fails).addErrback(
        lambda f: onResult((f.type, str(f.value)))
    )
    run_until(reactor, lambda: len(results) == 2)
    assert sorted(results, key=repr) == sorted(
        [(42, True), ((ValueError, "in thread"), True)], key=repr
    )


def test_deferToThread_uses_the_installed_reactor(reactor, monkeypatch):
    """torsion.internet.threads.deferToThread runs on the installed real
    reactor's pool and fires back in the reactor thread."""
    from torsion.internet import threads

    monkeypatch.setitem(sys.modules, "torsion.internet.reactor", reactor)
    results: list = []
    d = threads.deferToThread(lambda: threading.current_thread().name)
    d.addCallback(lambda name: results.append((name, threading.current_thread().name)))
    run_until(reactor, lambda: results)
    [(workerName, firedIn)] = results
    assert workerName != firedIn
    assert firedIn == threading.main_thread().name


@pytest.mark.parametrize("count", [1, 50])
def test_blockingCallFromThread_on_the_reactor(reactor, count):
    """blockingCallFromThread from a pool thread gets the reactor-thread
    result (here a Deferred's) back, every time."""
    from torsion.internet import defer, threads

    got: list = []

    def inReactor(n):
        d = defer.Deferred()
        reactor.callLater(0, d.callback, n * 10)
        return d

    def inThread():
        for n in range(count):
            got.append(threads.blockingCallFromThread(reactor, inReactor, n))

    reactor.callInThread(inThread)
    run_until(reactor, lambda: len(got) == count)
    assert got == [n * 10 for n in range(count)]


def test_thread_call_flood_does_not_hold_back_io(reactor):
    """30,000 calls queued from a thread run in order, but spread over
    several turns: a descriptor that is readable meanwhile is read before
    the last of them runs (torsion runs at most 10,000 per turn)."""
    import socket as socketmod

    seen: list[int] = []
    read_at: list[int] = []
    a, b = socketmod.socketpair()

    class Reader:
        def fileno(self):
            return a.fileno()

        def doRead(self):
            a.recv(1)
            read_at.append(len(seen))
            reactor.removeReader(self)

        def connectionLost(self, reason):
            pass

        def logPrefix(self):
            return "reader"

    def flood():
        for i in range(30_000):
            reactor.callFromThread(seen.append, i)

    t = threading.Thread(target=flood)
    t.start()
    t.join()
    b.send(b"x")
    reactor.addReader(Reader())
    try:
        run_until(reactor, lambda: len(seen) == 30_000 and read_at)
    finally:
        a.close()
        b.close()
    assert seen == list(range(30_000))
    assert read_at and read_at[0] < 30_000
