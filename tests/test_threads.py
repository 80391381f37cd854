"""Tests for torsion.internet.threads, on real threads and a tiny reactor.

``ThreadsReactor`` below is a minimal IReactorThreads provider written for
these tests (a queue of calls from threads, drained by ``runUntil`` in the
test's thread); the Rust reactor is tested against the same functions
elsewhere.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torsion.internet
from torsion.internet import defer, threads
from torsion.internet.interfaces import IReactorThreads
from torsion.internet.testing import (
    assertNoResult,
    failureResultOf,
    flushLoggedErrors,
    successResultOf,
)
from torsion.python.threadpool import ThreadPool
from zope.interface import implementer

WAIT = 10.0


@implementer(IReactorThreads)
class ThreadsReactor:
    """Calls from other threads are queued and run by ``runUntil``."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[..., object], Any, Any]] = (
            queue.SimpleQueue()
        )
        self._pool: ThreadPool | None = None
        self.thread = threading.current_thread()
        self.ranInReactor: list[bool] = []

    def callFromThread(self, f: Callable[..., object], *a: Any, **kw: Any) -> None:
        self._calls.put((f, a, kw))

    def getThreadPool(self) -> ThreadPool:
        if self._pool is None:
            self._pool = ThreadPool(0, 4, name="test-reactor")
            self._pool.start()
        return self._pool

    def callInThread(self, f: Callable[..., object], *a: Any, **kw: Any) -> None:
        self.getThreadPool().callInThread(f, *a, **kw)

    def suggestThreadPoolSize(self, size: int) -> None:
        self.getThreadPool().adjustPoolsize(maxthreads=size)

    def runUntil(self, done: Callable[[], bool]) -> None:
        """Run queued calls in this thread until ``done()`` or a timeout."""
        deadline = time.monotonic() + WAIT
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("timed out waiting in runUntil")
            try:
                f, a, kw = self._calls.get(timeout=min(remaining, 0.1))
            except queue.Empty:
                continue
            self.ranInReactor.append(threading.current_thread() is self.thread)
            f(*a, **kw)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.stop()


@pytest.fixture
def reactor() -> Iterator[ThreadsReactor]:
    r = ThreadsReactor()
    yield r
    r.shutdown()


@pytest.fixture
def installed(
    reactor: ThreadsReactor, monkeypatch: pytest.MonkeyPatch
) -> ThreadsReactor:
    """Install the test reactor as ``torsion.internet.reactor``."""
    monkeypatch.setitem(sys.modules, "torsion.internet.reactor", reactor)
    monkeypatch.setattr(torsion.internet, "reactor", reactor, raising=False)
    return reactor


@pytest.fixture(autouse=True)
def _noLeftoverErrors() -> Iterator[None]:
    flushLoggedErrors()
    yield
    assert flushLoggedErrors() == []


def _fired(d: defer.Deferred[Any]) -> Callable[[], bool]:
    return lambda: d.called


def test_defer_to_thread_pool_success(reactor: ThreadsReactor) -> None:
    """The result arrives through callFromThread, in the reactor thread."""
    pool = reactor.getThreadPool()
    where: list[bool] = []

    def work(a: int, b: int = 0) -> int:
        where.append(threading.current_thread() is reactor.thread)
        return a + b

    d = threads.deferToThreadPool(reactor, pool, work, 2, b=3)
    seen: list[bool] = []
    d.addCallback(
        lambda r: seen.append(threading.current_thread() is reactor.thread) or r
    )
    reactor.runUntil(_fired(d))
    assert successResultOf(d) == 5
    assert where == [False]
    assert seen == [True]
    assert reactor.ranInReactor == [True]


def test_defer_to_thread_pool_waits_for_reactor(reactor: ThreadsReactor) -> None:
    """Nothing fires until the reactor runs the queued call."""
    done = threading.Event()

    def work() -> str:
        done.set()
        return "r"

    d = threads.deferToThreadPool(reactor, reactor.getThreadPool(), work)
    assert done.wait(WAIT)
    time.sleep(0.01)
    assertNoResult(d)
    reactor.runUntil(_fired(d))
    assert successResultOf(d) == "r"


def test_defer_to_thread_pool_failure(reactor: ThreadsReactor) -> None:
    """An exception in the thread becomes the Deferred's failure."""

    def work() -> None:
        raise ValueError("in thread")

    d = threads.deferToThreadPool(reactor, reactor.getThreadPool(), work)
    reactor.runUntil(_fired(d))
    f = failureResultOf(d, ValueError)
    assert str(f.value) == "in thread"
    assert "in thread" in f.getTraceback()


def test_defer_to_thread_uses_installed_reactor(installed: ThreadsReactor) -> None:
    """deferToThread runs on the installed reactor's thread pool."""
    names: list[str] = []

    def work() -> int:
        names.append(threading.current_thread().name)
        return 7

    d = threads.deferToThread(work)
    installed.runUntil(_fired(d))
    assert successResultOf(d) == 7
    assert names[0].startswith("PoolThread-test-reactor-")


def test_defer_to_thread_many(installed: ThreadsReactor) -> None:
    """Fifty concurrent calls all deliver their own results."""
    ds = [threads.deferToThread(lambda i=i: i * i) for i in range(50)]
    gathered = defer.gatherResults(ds)
    installed.runUntil(_fired(gathered))
    assert successResultOf(gathered) == [i * i for i in range(50)]


def test_call_multiple_in_thread(installed: ThreadsReactor) -> None:
    """The calls run in order, all in one pool thread."""
    seen: list[tuple[str, Any]] = []
    finished = threading.Event()

    def record(tag: str, *, extra: int = 0) -> None:
        seen.append((tag, threading.current_thread().ident, extra))

    threads.callMultipleInThread(
        [
            (record, ("a",), {}),
            (record, ("b",), {"extra": 2}),
            (finished.set, (), {}),
        ]
    )
    assert finished.wait(WAIT)
    assert [(s[0], s[2]) for s in seen] == [("a", 0), ("b", 2)]
    assert seen[0][1] == seen[1][1] != threading.current_thread().ident


def _inThread(reactor: ThreadsReactor, f: Callable[[], Any]) -> dict[str, Any]:
    """Run ``f`` in a new thread while this thread runs the reactor."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = f()
        except BaseException as e:
            out["error"] = e

    t = threading.Thread(target=target)
    t.start()
    reactor.runUntil(lambda: not t.is_alive())
    t.join()
    return out


def test_blocking_call_from_thread_value(reactor: ThreadsReactor) -> None:
    """Returns f's value; f runs in the reactor thread."""
    where: list[bool] = []

    def f(a: int, b: int) -> int:
        where.append(threading.current_thread() is reactor.thread)
        return a * b

    out = _inThread(reactor, lambda: threads.blockingCallFromThread(reactor, f, 6, b=7))
    assert out == {"value": 42}
    assert where == [True]


def test_blocking_call_from_thread_waits_for_deferred(reactor: ThreadsReactor) -> None:
    """If f returns a Deferred, its eventual result is returned."""
    pending: list[defer.Deferred[str]] = []

    def f() -> defer.Deferred[str]:
        d: defer.Deferred[str] = defer.Deferred()
        pending.append(d)
        reactor.callFromThread(d.callback, "later")
        return d

    out = _inThread(reactor, lambda: threads.blockingCallFromThread(reactor, f))
    assert out == {"value": "later"}


def test_blocking_call_from_thread_raises(reactor: ThreadsReactor) -> None:
    """An exception raised by f is raised in the calling thread."""

    def f() -> None:
        raise KeyError("sync")

    out = _inThread(reactor, lambda: threads.blockingCallFromThread(reactor, f))
    assert type(out["error"]) is KeyError
    assert out["error"].args == ("sync",)


def test_blocking_call_from_thread_failed_deferred(reactor: ThreadsReactor) -> None:
    """A failing Deferred's exception is raised in the calling thread."""

    def f() -> defer.Deferred[None]:
        return defer.fail(OSError(5, "io"))

    out = _inThread(reactor, lambda: threads.blockingCallFromThread(reactor, f))
    assert type(out["error"]) is OSError
    assert out["error"].errno == 5


def test_blocking_call_from_thread_coroutine(reactor: ThreadsReactor) -> None:
    """A coroutine result is awaited like Twisted's maybeDeferred does."""

    async def f() -> str:
        return "coro"

    out = _inThread(reactor, lambda: threads.blockingCallFromThread(reactor, f))
    assert out == {"value": "coro"}


def test_defer_to_thread_pool_with_stopped_pool(reactor: ThreadsReactor) -> None:
    """A stopped pool drops the work: the Deferred never fires."""
    pool = ThreadPool(0, 1)
    pool.start()
    pool.stop()
    d = threads.deferToThreadPool(reactor, pool, lambda: 1)
    time.sleep(0.02)
    assertNoResult(d)
