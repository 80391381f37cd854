"""Tests for torsion.python.threadpool.ThreadPool with real threads."""

from __future__ import annotations

import gc
import pickle
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from torsion.internet.testing import flushLoggedErrors
from torsion.python.failure import Failure
from torsion.python.threadpool import ThreadPool

WAIT = 10.0


@pytest.fixture
def pool() -> Iterator[ThreadPool]:
    p = ThreadPool(2, 4, name="test")
    yield p
    p.stop()


def _failureOf(event: dict[str, Any]) -> Any:
    """The Failure an error event carries, new-style or legacy."""
    if event.get("log_failure") is not None:
        return event["log_failure"]
    if event.get("isError") and "failure" in event:
        return event["failure"]
    return None


def test_defaults() -> None:
    """Defaults match Twisted: min 5, max 20, not started, not joined."""
    p = ThreadPool()
    assert (p.min, p.max, p.name) == (5, 20, None)
    assert p.started is False
    assert p.joined is False
    assert p.workers == 0
    assert p.threads == []


def test_bad_bounds() -> None:
    """Negative minimum or min > max is refused."""
    with pytest.raises(AssertionError):
        ThreadPool(-1, 5)
    with pytest.raises(AssertionError):
        ThreadPool(6, 5)


def test_start_creates_min_workers(pool: ThreadPool) -> None:
    """start() makes ``min`` daemon workers named after the pool."""
    pool.start()
    assert pool.started is True
    assert pool.workers == 2
    assert len(pool.threads) == 2
    assert all(t.daemon for t in pool.threads)
    assert [t.name for t in pool.threads] == ["PoolThread-test-0", "PoolThread-test-1"]
    assert len(pool.waiters) == 2
    assert pool.working == []


def test_call_in_thread_runs_in_other_thread(pool: ThreadPool) -> None:
    """callInThread runs the call in a pool thread with args and kwargs."""
    pool.start()
    seen: list[tuple[Any, ...]] = []
    done = threading.Event()

    def work(a: int, b: int = 0) -> None:
        seen.append((a, b, threading.current_thread() in pool.threads))
        done.set()

    pool.callInThread(work, 1, b=2)
    assert done.wait(WAIT)
    assert seen == [(1, 2, True)]


def test_callback_with_result(pool: ThreadPool) -> None:
    """onResult gets (True, value), called in the worker thread."""
    pool.start()
    out: list[Any] = []
    done = threading.Event()

    def onResult(ok: bool, result: object) -> None:
        out.append((ok, result, threading.current_thread() is not main))
        done.set()

    main = threading.current_thread()
    pool.callInThreadWithCallback(onResult, lambda x: x * 2, 21)
    assert done.wait(WAIT)
    assert out == [(True, 42, True)]


def test_callback_with_failure(pool: ThreadPool) -> None:
    """onResult gets (False, Failure) when the call raises."""
    pool.start()
    out: list[Any] = []
    done = threading.Event()

    def onResult(ok: bool, result: Any) -> None:
        out.append((ok, result))
        done.set()

    def boom() -> None:
        raise ValueError("bad")

    pool.callInThreadWithCallback(onResult, boom)
    assert done.wait(WAIT)
    ok, failure = out[0]
    assert ok is False
    assert isinstance(failure, Failure)
    assert failure.type is ValueError
    assert str(failure.value) == "bad"


def test_work_queued_before_start_runs_on_start() -> None:
    """Work given before start() waits and runs once the pool starts."""
    p = ThreadPool(0, 3)
    order: list[int] = []
    done = threading.Event()
    p.callInThread(order.append, 1)
    p.callInThread(lambda: done.set())
    assert p.workers == 0
    assert p.q.qsize() == 2
    p.start()
    try:
        assert done.wait(WAIT)
    finally:
        p.stop()
    assert order == [1]
    assert p.workers == 0


def test_grows_up_to_max(pool: ThreadPool) -> None:
    """Blocked workers make the pool grow to ``max`` and then queue work."""
    pool.start()
    gate = threading.Event()
    started = threading.Semaphore(0)

    def block() -> None:
        started.release()
        gate.wait(WAIT)

    for _ in range(6):
        pool.callInThread(block)
    for _ in range(4):
        assert started.acquire(timeout=WAIT)
    assert pool.workers == 4
    assert len(pool.working) == 4
    assert pool.q.qsize() == 2
    gate.set()
    for _ in range(2):
        assert started.acquire(timeout=WAIT)
    pool.stop()
    assert pool.workers == 0


def test_stop_joins_and_finishes_queued_work() -> None:
    """stop() lets queued work finish and joins every thread."""
    p = ThreadPool(1, 1)
    p.start()
    gate = threading.Event()
    ran: list[int] = []
    p.callInThread(gate.wait, WAIT)
    for i in range(5):
        p.callInThread(ran.append, i)
    threading.Timer(0.05, gate.set).start()
    p.stop()
    assert ran == [0, 1, 2, 3, 4]
    assert p.joined is True
    assert p.started is False
    assert not any(t.is_alive() for t in p.threads)


def test_stop_twice_is_safe(pool: ThreadPool) -> None:
    """A second stop() does nothing harmful."""
    pool.start()
    pool.stop()
    pool.stop()
    assert pool.joined is True


def test_calls_after_stop_are_ignored(pool: ThreadPool) -> None:
    """After stop(), work is silently dropped."""
    pool.start()
    pool.stop()
    ran: list[int] = []
    pool.callInThread(ran.append, 1)
    assert pool.q.qsize() == 0
    assert ran == []


def test_restart_after_stop() -> None:
    """A stopped pool can be started again."""
    p = ThreadPool(1, 2)
    p.start()
    p.stop()
    p.start()
    done = threading.Event()
    p.callInThread(done.set)
    try:
        assert done.wait(WAIT)
        assert p.workers >= 1
    finally:
        p.stop()


def test_adjust_poolsize(pool: ThreadPool) -> None:
    """adjustPoolsize grows to the new min and retires workers above max."""
    pool.adjustPoolsize(1, 3)
    assert (pool.min, pool.max) == (1, 3)
    assert pool.workers == 0
    pool.start()
    assert pool.workers == 1
    pool.adjustPoolsize(3, 5)
    assert pool.workers == 3
    pool.adjustPoolsize(0, 1)
    assert pool.workers == 1
    with pytest.raises(AssertionError):
        pool.adjustPoolsize(4, 2)
    done = threading.Event()
    pool.callInThread(done.set)
    assert done.wait(WAIT)


def test_start_and_stop_a_worker(pool: ThreadPool) -> None:
    """startAWorker/stopAWorker change the worker count by one."""
    pool.start()
    pool.startAWorker()
    assert pool.workers == 3
    pool.stopAWorker()
    pool.stopAWorker()
    assert pool.workers == 1
    done = threading.Event()
    pool.callInThread(done.set)
    assert done.wait(WAIT)


def test_error_without_callback_is_logged(pool: ThreadPool) -> None:
    """A raising call with no onResult is logged as an error, pool goes on."""
    from torsion.logger import globalLogPublisher

    failures: list[Any] = []
    logged = threading.Event()

    def observer(event: dict[str, Any]) -> None:
        if _failureOf(event) is not None:
            failures.append(_failureOf(event))
            logged.set()

    globalLogPublisher.addObserver(observer)
    try:
        pool.start()

        def boom() -> None:
            raise KeyError("k")

        pool.callInThread(boom)
        assert logged.wait(WAIT)
        done = threading.Event()
        pool.callInThread(done.set)
        assert done.wait(WAIT)
    finally:
        globalLogPublisher.removeObserver(observer)
    assert failures[0].type is KeyError
    assert [f.type for f in flushLoggedErrors(KeyError)] == [KeyError]


def test_raising_on_result_is_logged(pool: ThreadPool) -> None:
    """An onResult that raises is logged and the worker survives."""
    from torsion.logger import globalLogPublisher

    failures: list[Any] = []
    logged = threading.Event()

    def observer(event: dict[str, Any]) -> None:
        if _failureOf(event) is not None:
            failures.append(_failureOf(event))
            logged.set()

    def onResult(ok: bool, result: object) -> None:
        raise RuntimeError("in callback")

    globalLogPublisher.addObserver(observer)
    try:
        pool.start()
        pool.callInThreadWithCallback(onResult, int, "3")
        assert logged.wait(WAIT)
    finally:
        globalLogPublisher.removeObserver(observer)
    assert failures[0].type is RuntimeError
    assert [f.type for f in flushLoggedErrors(RuntimeError)] == [RuntimeError]
    done = threading.Event()
    pool.callInThread(done.set)
    assert done.wait(WAIT)


def test_references_dropped_after_call(pool: ThreadPool) -> None:
    """The pool keeps no reference to the function, its args or its result."""

    class Thing:
        pass

    thing = Thing()
    result = Thing()
    refs = [weakref.ref(thing), weakref.ref(result)]
    done = threading.Event()

    def f(arg: Thing) -> Thing:
        return holder.pop()

    holder = [result]
    del result

    def onResult(ok: bool, value: object) -> None:
        done.set()

    pool.start()
    pool.callInThreadWithCallback(onResult, f, thing)
    del thing
    assert done.wait(WAIT)
    pool.stop()
    gc.collect()
    assert [r() for r in refs] == [None, None]


def test_pickle_keeps_bounds() -> None:
    """A pool pickles as its bounds and unpickles as a fresh, stopped pool."""
    p = ThreadPool(3, 7)
    q = pickle.loads(pickle.dumps(p))
    assert (q.min, q.max, q.started, q.workers) == (3, 7, False, 0)


def test_concurrency_many_calls(pool: ThreadPool) -> None:
    """1,000 calls from several threads all run exactly once."""
    pool.start()
    counter = [0]
    lock = threading.Lock()
    done = threading.Semaphore(0)

    def inc() -> None:
        with lock:
            counter[0] += 1
        done.release()

    def submit() -> None:
        for _ in range(250):
            pool.callInThread(inc)

    submitters = [threading.Thread(target=submit) for _ in range(4)]
    for t in submitters:
        t.start()
    for t in submitters:
        t.join()
    for _ in range(1000):
        assert done.acquire(timeout=WAIT)
    assert counter[0] == 1000
    assert pool.workers <= 4


def _poolScenario(cls: Any) -> list[Any]:
    """Drive a pool through start, saturation, drain, resize and stop."""
    p = cls(2, 3, name="cmp")
    gate = threading.Event()
    started = threading.Semaphore(0)
    out: list[Any] = []

    def state() -> tuple[Any, ...]:
        return (
            p.workers,
            len(p.working),
            len(p.waiters),
            p.q.qsize(),
            p.started,
            p.joined,
        )

    def settle(predicate: Any) -> None:
        deadline = time.monotonic() + WAIT
        while not predicate() and time.monotonic() < deadline:
            time.sleep(0.005)

    def block() -> None:
        started.release()
        gate.wait(WAIT)

    try:
        for _ in range(4):
            p.callInThread(block)
        out.append(state())
        p.start()
        for _ in range(3):
            assert started.acquire(timeout=WAIT)
        out.append(state())
        out.append(sorted(t.name for t in p.threads))
        gate.set()
        assert started.acquire(timeout=WAIT)
        settle(lambda: len(p.waiters) == 3)
        out.append(state())
        p.adjustPoolsize(1, 1)
        settle(lambda: p.workers == 1)
        out.append(state())
    finally:
        p.stop()
    out.append(state())
    p.callInThread(print)
    out.append(state())
    return out


def test_pool_states_match_twisted() -> None:
    """Worker, busy, idle and backlog counts follow Twisted's ThreadPool."""
    from twisted.python.threadpool import ThreadPool as TwistedThreadPool

    expected = _poolScenario(TwistedThreadPool)
    assert _poolScenario(ThreadPool) == expected
    assert expected[0] == (0, 0, 0, 4, False, False)
    assert expected[1] == (3, 3, 0, 1, True, False)
