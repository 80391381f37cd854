"""Tests for the helpers in torsion.internet.defer: succeed, fail, maybeDeferred,
DeferredList, gatherResults, inlineCallbacks, race, locks and queues."""

from __future__ import annotations

import contextvars
import warnings
from typing import Any

import pytest
from torsion.internet import defer
from torsion.internet.defer import (
    CancelledError,
    Deferred,
    DeferredList,
    DeferredLock,
    DeferredQueue,
    DeferredSemaphore,
    FailureGroup,
    FirstError,
    QueueOverflow,
    QueueUnderflow,
)
from torsion.python.failure import Failure


def outcome(d: Deferred[Any]) -> Any:
    """The current result of ``d``, consuming a failure so it is not logged."""
    box: list[Any] = []
    d.addBoth(box.append)
    assert len(box) == 1, "Deferred has no result"
    return box[0]


# succeed / fail / execute / maybeDeferred


def test_succeed():
    """succeed(x) is already called with x."""
    d = defer.succeed("x")
    assert d.called
    assert d.result == "x"


def test_fail_with_exception_and_failure():
    """fail() accepts an exception, a Failure, or the current exception."""
    err = KeyError("k")
    assert outcome(defer.fail(err)).value is err
    f = Failure(ValueError())
    assert outcome(defer.fail(f)) is f
    try:
        raise OSError("now")
    except OSError:
        d = defer.fail()
    assert outcome(d).type is OSError


def test_execute():
    """execute calls now and wraps the result or the exception."""
    assert defer.execute(lambda a, b=0: a + b, 1, b=2).result == 3
    assert outcome(defer.execute(lambda: 1 / 0)).type is ZeroDivisionError


def test_maybe_deferred_variants():
    """maybeDeferred wraps values, Failures, exceptions, coroutines; passes Deferreds."""
    d: Deferred[int] = Deferred()
    assert defer.maybeDeferred(lambda: d) is d
    assert defer.maybeDeferred(lambda x: x * 2, 4).result == 8
    f = Failure(KeyError())
    assert outcome(defer.maybeDeferred(lambda: f)) is f
    assert outcome(defer.maybeDeferred(lambda: {}["x"])).type is KeyError

    async def coro(v: int) -> int:
        return v + 1

    assert defer.maybeDeferred(coro, 1).result == 2


def test_passthru_and_log_error():
    """passthru returns its argument; logError returns the Failure."""
    assert defer.passthru(5) == 5
    f = Failure(ValueError("logged on purpose"))
    assert defer.logError(f) is f


# DeferredList


def test_deferred_list_all_results_in_order():
    """DeferredList fires with (success, result) pairs in list order."""
    a: Deferred[str] = Deferred()
    b: Deferred[str] = Deferred()
    c: Deferred[str] = Deferred()
    dl = DeferredList([a, b, c], consumeErrors=True)
    c.callback("c")
    a.callback("a")
    assert not dl.called
    err = KeyError("b")
    b.errback(err)
    result = dl.result
    assert result[0] == (True, "a")
    assert result[2] == (True, "c")
    assert result[1][0] is False
    assert result[1][1].value is err
    assert b.result is None


def test_deferred_list_without_consume_errors_leaves_failure():
    """Without consumeErrors the failure stays in the original Deferred."""
    b: Deferred[str] = Deferred()
    DeferredList([b])
    b.errback(KeyError())
    assert outcome(b).type is KeyError


def test_deferred_list_empty():
    """An empty DeferredList fires with []; with fireOnOneCallback never fires."""
    assert DeferredList([]).result == []
    assert not DeferredList([], fireOnOneCallback=True).called


def test_deferred_list_fire_on_one_callback():
    """fireOnOneCallback fires with (result, index) of the first success."""
    a: Deferred[str] = Deferred()
    b: Deferred[str] = Deferred()
    dl = DeferredList([a, b], fireOnOneCallback=True, consumeErrors=True)
    a.errback(ValueError())
    assert not dl.called
    b.callback("b")
    assert dl.result == ("b", 1)


def test_deferred_list_fire_on_one_errback():
    """fireOnOneErrback fails with FirstError(failure, index)."""
    a: Deferred[str] = Deferred()
    b: Deferred[str] = Deferred()
    dl = DeferredList([a, b], fireOnOneErrback=True, consumeErrors=True)
    a.callback("a")
    err = KeyError("b")
    b.errback(err)
    f = outcome(dl)
    assert f.type is FirstError
    assert f.value.index == 1
    assert f.value.subFailure.value is err
    assert repr(f.value) == "FirstError[#1, KeyError('b')]"
    assert str(f.value).startswith("FirstError[#1, [Failure instance: Traceback")


def test_deferred_list_already_fired_inputs():
    """Already-fired Deferreds are counted at construction."""
    dl = DeferredList([defer.succeed(1), defer.succeed(2)])
    assert dl.result == [(True, 1), (True, 2)]
    assert dl.finishedCount == 2


def test_deferred_list_cancel():
    """Cancelling a DeferredList cancels every pending member."""
    a: Deferred[str] = Deferred()
    b: Deferred[str] = Deferred()
    dl = DeferredList([a, b], consumeErrors=True)
    dl.cancel()
    assert a.called and b.called
    result = dl.result
    assert [(ok, r.type) for ok, r in result] == [
        (False, CancelledError),
        (False, CancelledError),
    ]


def test_deferred_list_cancel_after_fire_noop():
    """cancel() on a fired DeferredList does nothing to members."""
    a: Deferred[str] = Deferred()
    b: Deferred[str] = Deferred()
    dl = DeferredList([a, b], fireOnOneCallback=True)
    a.callback("a")
    dl.cancel()
    assert not b.called


def test_first_error_equality():
    """FirstErrors compare by index and sub-failure."""
    f = Failure(ValueError())
    assert FirstError(f, 1) == FirstError(f, 1)
    assert FirstError(f, 1) != FirstError(f, 2)
    assert FirstError(f, 1) != "x"


def test_deferred_list_subclass_member():
    """Members that are Deferred subclasses are handled through addCallbacks."""

    class Sub(Deferred):
        pass

    s = Sub()
    dl = DeferredList([s])
    s.callback(9)
    assert dl.result == [(True, 9)]


# gatherResults


def test_gather_results():
    """gatherResults fires with plain results in order."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    g = defer.gatherResults([a, b])
    b.callback(2)
    a.callback(1)
    assert g.result == [1, 2]


def test_gather_results_failure_is_first_error():
    """A failure fails gatherResults with FirstError; consumeErrors clears it."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    g = defer.gatherResults([a, b], consumeErrors=True)
    err = KeyError("k")
    b.errback(err)
    f = outcome(g)
    assert f.type is FirstError
    assert f.value.index == 1
    assert f.value.subFailure.value is err
    assert b.result is None
    a.callback(1)
    assert a.result == 1


def test_gather_results_cancel():
    """Cancelling gatherResults cancels the members."""
    a: Deferred[int] = Deferred()
    g = defer.gatherResults([a], consumeErrors=True)
    g.cancel()
    f = outcome(g)
    assert f.type is FirstError
    assert f.value.subFailure.type is CancelledError


# inlineCallbacks


def test_inline_callbacks_plain_return():
    """A plain return value fires the Deferred."""
    d: Deferred[int] = Deferred()

    @defer.inlineCallbacks
    def gen():
        x = yield d
        y = yield 10
        return x + y

    result = gen()
    assert not result.called
    d.callback(5)
    assert result.result == 15


def test_inline_callbacks_return_value_deprecated():
    """returnValue works and warns that it is deprecated."""

    @defer.inlineCallbacks
    def gen():
        yield defer.succeed(None)
        defer.returnValue("rv")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = gen()
    assert d.result == "rv"
    assert [w.category for w in caught] == [DeprecationWarning]
    assert "returnValue is deprecated" in str(caught[0].message)


def test_inline_callbacks_return_value_from_helper_warns():
    """returnValue called from a helper function warns about the non-local exit."""

    def helper():
        defer.returnValue(1)

    @defer.inlineCallbacks
    def gen():
        yield None
        helper()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = gen()
    assert d.result == 1
    messages = [str(w.message) for w in caught]
    assert (
        "returnValue() in 'helper' causing 'gen' to exit: returnValue should "
        "only be invoked by functions decorated with inlineCallbacks"
    ) in messages


def test_inline_callbacks_exception_thrown_into_generator():
    """A failed Deferred raises its exception at the yield."""
    err = KeyError("k")

    @defer.inlineCallbacks
    def gen():
        try:
            yield defer.fail(err)
        except KeyError as e:
            return e
        return None

    assert gen().result is err


def test_inline_callbacks_unhandled_exception_fails():
    """An exception leaving the generator fails the Deferred."""

    @defer.inlineCallbacks
    def gen():
        yield None
        raise ValueError("out")

    f = outcome(gen())
    assert f.type is ValueError
    assert f.getErrorMessage() == "out"


def test_inline_callbacks_requires_generator():
    """Decorating a non-generator function raises TypeError when called."""

    @defer.inlineCallbacks
    def notgen():
        return 1

    with pytest.raises(TypeError, match="inlineCallbacks requires"):
        notgen()


def test_inline_callbacks_many_sync_yields_no_recursion():
    """Thousands of already-fired yields do not grow the stack."""

    @defer.inlineCallbacks
    def gen():
        total = 0
        for i in range(5000):
            total += yield defer.succeed(i)
        return total

    assert gen().result == sum(range(5000))


def test_inline_callbacks_many_async_yields():
    """Thousands of yields resumed later, one by one, all complete."""
    pending: list[Deferred[int]] = []

    @defer.inlineCallbacks
    def gen():
        total = 0
        for _ in range(3000):
            d: Deferred[int] = Deferred()
            pending.append(d)
            total += yield d
        return total

    result = gen()
    i = 0
    while pending:
        pending.pop().callback(i)
        i += 1
    assert result.result == sum(range(3000))


def test_inline_callbacks_yield_coroutine():
    """A yielded coroutine is run as a Deferred."""

    async def coro() -> str:
        return "from coro"

    @defer.inlineCallbacks
    def gen():
        value = yield coro()
        return value

    assert gen().result == "from coro"


def test_inline_callbacks_cancel_cancels_awaited():
    """Cancelling the outer Deferred cancels the awaited one; the generator sees
    CancelledError at the yield."""
    awaited: Deferred[int] = Deferred()
    seen = []

    @defer.inlineCallbacks
    def gen():
        try:
            yield awaited
        except CancelledError:
            seen.append("cancelled")
            raise
        return None

    d = gen()
    d.cancel()
    assert awaited.called
    assert seen == ["cancelled"]
    assert outcome(d).type is CancelledError


def test_inline_callbacks_cancel_suppressed_by_generator():
    """If the generator handles the cancellation, its return value wins."""
    awaited: Deferred[int] = Deferred()
    later: Deferred[str] = Deferred()

    @defer.inlineCallbacks
    def gen():
        try:
            yield awaited
        except CancelledError:
            value = yield later
            return value
        return "no"

    d = gen()
    d.cancel()
    assert d.paused == 1
    later.callback("kept going")
    assert d.result == "kept going"


def test_inline_callbacks_contextvars_isolated():
    """Context variables set in the generator stay inside it."""
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="outer")
    d: Deferred[None] = Deferred()

    @defer.inlineCallbacks
    def gen():
        var.set("inner")
        yield d
        return var.get()

    result = gen()
    assert var.get() == "outer"
    d.callback(None)
    assert result.result == "inner"
    assert var.get() == "outer"


def test_inline_callbacks_yield_paused_deferred():
    """A paused, fired Deferred is waited on until unpaused."""
    d = defer.succeed(3)
    d.pause()

    @defer.inlineCallbacks
    def gen():
        value = yield d
        return value

    result = gen()
    assert not result.called
    d.unpause()
    assert result.result == 3


# race


def test_race_first_success_wins_others_cancelled():
    """race fires with (index, result) and cancels the losers."""
    a: Deferred[str] = Deferred()
    b: Deferred[str] = Deferred()
    c: Deferred[str] = Deferred()
    seen: list[Any] = []
    a.addErrback(lambda f: seen.append(("a", f.type)) or f)
    c.addErrback(lambda f: seen.append(("c", f.type)) or f)
    r = defer.race([a, b, c])
    b.callback("b")
    assert r.result == (1, "b")
    assert seen == [("a", CancelledError), ("c", CancelledError)]
    assert (a.called, a.result, c.called, c.result) == (True, None, True, None)
    assert b.result is None


def test_race_all_fail():
    """If all fail, race fails with FailureGroup in index order."""
    a: Deferred[str] = Deferred()
    b: Deferred[str] = Deferred()
    r = defer.race([a, b])
    b.errback(KeyError())
    a.errback(ValueError())
    f = outcome(r)
    assert f.type is FailureGroup
    assert [x.type for x in f.value.failures] == [ValueError, KeyError]


def test_race_cancel():
    """Cancelling race cancels all the inputs."""
    a: Deferred[str] = Deferred()
    b: Deferred[str] = Deferred()
    r = defer.race([a, b])
    r.cancel()
    assert a.called and b.called
    f = outcome(r)
    assert f.type is FailureGroup
    assert [x.type for x in f.value.failures] == [CancelledError, CancelledError]


# DeferredLock / DeferredSemaphore


def test_lock_acquire_release_order():
    """Waiters get the lock in FIFO order."""
    lock = DeferredLock()
    order = []
    first = lock.acquire()
    assert first.result is lock and lock.locked
    second = lock.acquire()
    third = lock.acquire()
    second.addCallback(lambda lk: order.append("second"))
    third.addCallback(lambda lk: order.append("third"))
    lock.release()
    assert order == ["second"]
    lock.release()
    assert order == ["second", "third"]
    lock.release()
    assert not lock.locked


def test_lock_release_unlocked_asserts():
    """Releasing an unlocked lock is an AssertionError."""
    with pytest.raises(AssertionError, match="Tried to release an unlocked lock"):
        DeferredLock().release()


def test_lock_cancel_waiting():
    """Cancelling a waiting acquire removes it from the queue."""
    lock = DeferredLock()
    lock.acquire()
    waiting = lock.acquire()
    waiting.cancel()
    assert outcome(waiting).type is CancelledError
    assert lock.waiting == []
    lock.release()
    assert not lock.locked


def test_lock_run_releases_after_deferred():
    """run() holds the lock until the function's Deferred fires."""
    lock = DeferredLock()
    inner: Deferred[str] = Deferred()
    d = lock.run(lambda x: inner, 1)
    assert lock.locked
    inner.callback("done")
    assert d.result == "done"
    assert not lock.locked


def test_lock_run_releases_after_error():
    """run() releases the lock when the function raises."""
    lock = DeferredLock()
    d = lock.run(lambda: 1 / 0)
    assert outcome(d).type is ZeroDivisionError
    assert not lock.locked


def test_lock_async_with():
    """The lock works as an async context manager."""
    lock = DeferredLock()

    async def main() -> bool:
        async with lock:
            held = lock.locked
        return held and not lock.locked

    assert defer.ensureDeferred(main()).result is True


def test_semaphore_limits():
    """A semaphore admits ``tokens`` holders and queues the rest."""
    sem = DeferredSemaphore(2)
    a, b, c = sem.acquire(), sem.acquire(), sem.acquire()
    assert a.called and b.called and not c.called
    assert sem.tokens == 0 and sem.limit == 2
    sem.release()
    assert c.result is sem
    assert sem.tokens == 0
    sem.release()
    sem.release()
    assert sem.tokens == 2
    with pytest.raises(AssertionError, match="too many tokens"):
        sem.release()


def test_semaphore_requires_positive_tokens():
    """Zero tokens is a ValueError."""
    with pytest.raises(ValueError, match="DeferredSemaphore requires tokens >= 1"):
        DeferredSemaphore(0)


def test_semaphore_run_and_cancel():
    """run() acquires and releases; cancelling a waiter dequeues it."""
    sem = DeferredSemaphore(1)
    held = sem.acquire()
    waiter = sem.run(lambda: "ran")
    assert not waiter.called
    waiter.cancel()
    assert outcome(waiter).type is CancelledError
    assert sem.waiting == []
    sem.release()
    assert held.called
    assert sem.run(lambda: "ran").result == "ran"
    assert sem.tokens == 1


# DeferredQueue


def test_queue_put_then_get():
    """Objects put first are returned by get in order."""
    q: DeferredQueue[int] = DeferredQueue()
    q.put(1)
    q.put(2)
    assert q.get().result == 1
    assert q.get().result == 2


def test_queue_get_then_put():
    """A pending get is fired by the next put."""
    q: DeferredQueue[str] = DeferredQueue()
    d1, d2 = q.get(), q.get()
    q.put("a")
    assert d1.result == "a" and not d2.called
    q.put("b")
    assert d2.result == "b"
    assert q.pending == [] and q.waiting == []


def test_queue_overflow_and_underflow():
    """size bounds pending objects, backlog bounds pending gets."""
    q: DeferredQueue[int] = DeferredQueue(size=1, backlog=1)
    q.put(1)
    with pytest.raises(QueueOverflow):
        q.put(2)
    assert q.get().result == 1
    q.get()
    with pytest.raises(QueueUnderflow):
        q.get()


def test_queue_cancel_get():
    """A cancelled get leaves the waiting list."""
    q: DeferredQueue[int] = DeferredQueue()
    d = q.get()
    d.cancel()
    assert outcome(d).type is CancelledError
    assert q.waiting == []
    q.put(3)
    assert q.pending == [3]


def test_timeout_function_deprecated():
    """The old timeout() helper warns and errbacks with TimeoutError."""
    d: Deferred[int] = Deferred()
    with pytest.warns(DeprecationWarning):
        defer.timeout(d)
    f = outcome(d)
    assert f.type is defer.TimeoutError
    assert f.getErrorMessage() == "Callback timed out"


def test_return_value_after_thrown_exception_is_local():
    """returnValue in an except block after a failed yield gives only the
    deprecation warning, not the non-local exit warning."""

    @defer.inlineCallbacks
    def gen():
        try:
            yield defer.fail(KeyError())
        except KeyError:
            defer.returnValue(5)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = gen()
    assert d.result == 5
    assert len(caught) == 1
    assert "returnValue is deprecated" in str(caught[0].message)


def test_from_coroutine_accepts_generator():
    """Deferred.fromCoroutine also runs a plain generator yielding Deferreds."""

    def gen():
        x = yield defer.succeed(2)
        return x * 3

    assert Deferred.fromCoroutine(gen()).result == 6


def test_debug_mode_failures_capture_vars():
    """With debugging on, failures from callbacks capture frame locals."""
    defer.setDebugging(True)
    try:
        d: Deferred[int] = Deferred()

        def boom(r):
            marker = "local value"
            raise ValueError(marker)

        d.addCallback(boom)
        d.callback(1)
        f = outcome(d)
    finally:
        defer.setDebugging(False)
    assert f.captureVars is True
    assert ("marker", "local value") in f.frames[-1][3]
