"""Tests for the Deferred class in torsion.internet.defer."""

from __future__ import annotations

import asyncio
import collections.abc
import gc
import logging
import sys
import warnings
from typing import Any

import pytest
from torsion.internet import defer
from torsion.internet.defer import (
    AlreadyCalledError,
    CancelledError,
    Deferred,
    TimeoutError,
)
from torsion.internet.task import Clock
from torsion.python.failure import Failure, NoCurrentExceptionError


@pytest.fixture(autouse=True)
def _debugging_off():
    """Every test starts and ends with debugging off."""
    defer.setDebugging(False)
    yield
    defer.setDebugging(False)


def outcome(d: Deferred[Any]) -> Any:
    """The current result of ``d``, consuming a failure so it is not logged."""
    box: list[Any] = []
    d.addBoth(box.append)
    assert len(box) == 1, "Deferred has no result"
    return box[0]


def raiser(exc: BaseException):
    """A callback that raises ``exc``."""

    def cb(_):
        raise exc

    return cb


# callback / errback basics


def test_not_called_initially():
    """A new Deferred is not called and has no result attribute."""
    d: Deferred[int] = Deferred()
    assert d.called is False
    assert d.paused == 0
    with pytest.raises(AttributeError):
        d.result  # noqa: B018


def test_callback_runs_chain_in_order():
    """Callbacks receive the previous result, in the order added."""
    seen = []
    d: Deferred[int] = Deferred()
    d.addCallback(lambda r: seen.append(("a", r)) or r + 1)
    d.addCallback(lambda r: seen.append(("b", r)) or r * 10)
    d.callback(1)
    assert seen == [("a", 1), ("b", 2)]
    assert d.called is True
    assert d.result == 20


def test_callbacks_added_after_fire_run_at_once():
    """A callback added to a fired Deferred runs immediately."""
    d = defer.succeed(3)
    seen = []
    d.addCallback(seen.append)
    assert seen == [3]
    assert d.result is None


def test_extra_args_and_kwargs():
    """Extra positional and keyword arguments are passed after the result."""
    seen = []
    d: Deferred[str] = Deferred()
    d.addCallback(lambda r, a, b=None: seen.append((r, a, b)), 1, b=2)
    d.addCallback(lambda r, a: seen.append((r, a)), "x")
    d.addCallback(lambda r, k: seen.append((r, k)), k="kw")
    d.callback("go")
    assert seen == [("go", 1, 2), (None, "x"), (None, "kw")]


def test_add_callbacks_with_args():
    """addCallbacks passes callbackArgs/Keywords and errbackArgs/Keywords."""
    seen = []
    d: Deferred[int] = Deferred()
    d.addCallbacks(
        lambda r, a, k=None: seen.append(("cb", r, a, k)),
        lambda f, a, k=None: seen.append(("eb", a, k)),
        callbackArgs=(1,),
        callbackKeywords={"k": 2},
        errbackArgs=(3,),
        errbackKeywords={"k": 4},
    )
    d.callback(0)
    e: Deferred[int] = Deferred()
    e.addCallbacks(
        lambda r, a: seen.append(("cb", r, a)),
        lambda f, a, k=None: seen.append(("eb", f.type, a, k)),
        callbackArgs=(1,),
        errbackArgs=(3,),
        errbackKeywords={"k": 4},
    )
    e.errback(KeyError())
    assert seen == [("cb", 0, 1, 2), ("eb", KeyError, 3, 4)]


def test_add_callbacks_none_args_accepted():
    """Explicit None for the args/keywords parameters is accepted."""
    seen = []
    d: Deferred[int] = Deferred()
    d.addCallbacks(seen.append, None, None, None, None, None)
    d.callback(5)
    assert seen == [5]


def test_raise_switches_to_errback():
    """An exception in a callback becomes a Failure on the errback path."""
    err = ValueError("bad")
    seen = []
    d: Deferred[int] = Deferred()
    d.addCallback(raiser(err))
    d.addCallback(lambda r: seen.append("skipped"))
    d.addErrback(lambda f: seen.append(f) or "recovered")
    d.addCallback(lambda r: seen.append(r))
    d.callback(1)
    assert isinstance(seen[0], Failure)
    assert seen[0].value is err
    assert seen[1:] == ["recovered"]


def test_return_failure_switches_to_errback():
    """A callback returning a Failure continues on the errback path."""
    d: Deferred[int] = Deferred()
    f = Failure(KeyError("k"))
    d.addCallback(lambda r: f)
    d.callback(1)
    assert outcome(d) is f


def test_errback_returning_failure_stays_on_errback():
    """An errback returning its Failure keeps the chain failing."""
    seen = []
    d: Deferred[int] = Deferred()
    d.addErrback(lambda f: f)
    d.addCallbacks(lambda r: seen.append("cb"), lambda f: seen.append(f.type))
    d.errback(KeyError())
    assert seen == [KeyError]


def test_add_both_gets_both():
    """addBoth gets results and failures."""
    seen = []
    d1 = defer.succeed(1)
    d1.addBoth(seen.append)
    d2 = defer.fail(KeyError())
    d2.addBoth(lambda f: seen.append(f.type))
    assert seen == [1, KeyError]


def test_errback_with_exception_instance():
    """errback(exc) wraps exc in a Failure."""
    err = RuntimeError("x")
    d: Deferred[int] = Deferred()
    d.errback(err)
    f = outcome(d)
    assert isinstance(f, Failure)
    assert f.value is err


def test_errback_without_argument_uses_current_exception():
    """errback() in an except block wraps the exception being handled."""
    d: Deferred[int] = Deferred()
    try:
        {}["missing"]
    except KeyError:
        d.errback()
    f = outcome(d)
    assert f.type is KeyError
    assert f.tb is not None


def test_errback_without_exception_raises():
    """errback() with no current exception raises NoCurrentExceptionError."""
    d: Deferred[int] = Deferred()
    with pytest.raises(NoCurrentExceptionError):
        d.errback()
    assert d.called is False


def test_callback_with_failure_goes_to_errbacks():
    """callback(Failure) behaves like errback."""
    d: Deferred[int] = Deferred()
    seen = []
    d.addCallbacks(lambda r: seen.append("cb"), lambda f: seen.append("eb"))
    d.callback(Failure(ValueError()))
    assert seen == ["eb"]


def test_already_called():
    """A second callback or errback raises AlreadyCalledError."""
    d: Deferred[int] = Deferred()
    d.callback(1)
    with pytest.raises(AlreadyCalledError):
        d.callback(2)
    with pytest.raises(AlreadyCalledError):
        d.errback(ValueError())
    assert d.result == 1


def test_already_called_debug_message():
    """With debugging on, AlreadyCalledError names creator and invoker."""
    defer.setDebugging(True)
    assert defer.getDebugging() is True
    d: Deferred[int] = Deferred()
    d.callback(1)
    with pytest.raises(AlreadyCalledError) as info:
        d.callback(2)
    text = str(info.value)
    assert text.startswith("\n C: Deferred was created:\n C:")
    assert " I: First Invoker was:\n I:" in text
    assert "test_already_called_debug_message" in text


def test_set_debugging_coerces():
    """setDebugging stores a bool on Deferred.debug."""
    defer.setDebugging(1)  # type: ignore[arg-type]
    assert Deferred.debug is True
    defer.setDebugging(0)  # type: ignore[arg-type]
    assert Deferred.debug is False


def test_reentrant_add_callback_runs_after_current():
    """A callback added from inside a callback runs after the current one."""
    seen = []
    d: Deferred[int] = Deferred()

    def first(r):
        d.addCallback(lambda r2: seen.append(("inner", r2)))
        seen.append(("first", r))
        return r + 1

    d.addCallback(first)
    d.addCallback(lambda r: seen.append(("second", r)) or r)
    d.callback(0)
    assert seen == [("first", 0), ("second", 1), ("inner", 1)]


# Deferreds returned from callbacks


def test_callback_returning_pending_deferred_waits():
    """A callback returning an unfired Deferred pauses the outer chain."""
    inner: Deferred[str] = Deferred()
    outer: Deferred[int] = Deferred()
    seen = []
    outer.addCallback(lambda r: inner)
    outer.addCallback(seen.append)
    outer.callback(1)
    assert seen == []
    assert outer.paused == 1
    assert repr(outer) == (
        f"<Deferred at 0x{id(outer):x} waiting on Deferred at 0x{id(inner):x}>"
    )
    inner.callback("inner result")
    assert seen == ["inner result"]
    assert outer.paused == 0
    assert inner.result is None


def test_callback_returning_fired_deferred_takes_result():
    """A callback returning a fired Deferred takes its result at once."""
    inner = defer.succeed("now")
    outer: Deferred[int] = Deferred()
    outer.addCallback(lambda r: inner)
    outer.callback(1)
    assert outer.result == "now"
    assert inner.result is None


def test_returned_deferred_failure_propagates_and_is_handled():
    """A failing inner Deferred fails the outer chain; the inner is cleared."""
    inner: Deferred[int] = Deferred()
    outer: Deferred[int] = Deferred()
    outer.addCallback(lambda r: inner)
    outer.callback(1)
    inner.errback(KeyError("k"))
    assert inner.result is None
    assert outcome(outer).type is KeyError


def test_deep_callback_chain_no_recursion_error():
    """10,000 callbacks on one Deferred run without RecursionError."""
    d: Deferred[int] = Deferred()
    for _ in range(10_000):
        d.addCallback(lambda r: r + 1)
    d.callback(0)
    assert d.result == 10_000


def test_nested_pending_deferreds_no_recursion_error():
    """10,000 Deferreds each waiting on the next unwind without recursion."""
    n = 10_000
    ds: list[Deferred[Any]] = [Deferred() for _ in range(n + 1)]
    for i in range(n):
        ds[i].addCallback(lambda _, nxt=ds[i + 1]: nxt)
    seen = []
    ds[0].addCallback(seen.append)
    for d in ds[:-1]:
        d.callback(None)
    assert seen == []
    ds[-1].callback("deep")
    assert seen == ["deep"]
    assert all(d.paused == 0 for d in ds)


def test_nested_fired_deferreds_no_recursion_error():
    """10,000 callbacks each returning a fired Deferred run without recursion."""
    d = defer.succeed(0)
    for i in range(10_000):
        d.addCallback(lambda r, i=i: defer.succeed(r + i))
    assert d.result == sum(range(10_000))


def test_chained_deferred_resumes_remaining_callbacks():
    """After the inner Deferred fires, the outer's later callbacks run."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    c: Deferred[int] = Deferred()
    seen = []
    a.addCallback(lambda r: b)
    a.addCallback(lambda r: seen.append(("a", r)) or c)
    a.addCallback(lambda r: seen.append(("a2", r)))
    a.callback(0)
    b.callback(1)
    assert seen == [("a", 1)]
    c.callback(2)
    assert seen == [("a", 1), ("a2", 2)]


def test_callback_returning_own_deferred_warns():
    """Returning the Deferred a callback is attached to warns (DeprecationWarning)."""
    d: Deferred[int] = Deferred()

    def selfish(r):
        return d

    d.addCallback(selfish)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d.callback(1)
    assert [w.category for w in caught] == [DeprecationWarning]
    assert "Callback returned the Deferred it was attached to" in str(caught[0].message)


def test_self_return_warning_as_error_becomes_failure():
    """With warnings as errors (this suite), the warning becomes the Failure."""
    d: Deferred[int] = Deferred()
    d.addCallback(lambda r: d)
    d.callback(1)
    assert outcome(d).type is DeprecationWarning


# pause / unpause


def test_pause_unpause():
    """Callbacks do not run while paused; unpause runs them."""
    seen = []
    d: Deferred[int] = Deferred()
    d.pause()
    d.pause()
    d.addCallback(seen.append)
    d.callback(1)
    assert seen == []
    d.unpause()
    assert seen == []
    d.unpause()
    assert seen == [1]


def test_unpause_before_fire_does_nothing():
    """unpause of an unfired Deferred only lowers the count."""
    d: Deferred[int] = Deferred()
    d.pause()
    d.unpause()
    assert d.paused == 0
    assert d.called is False


# cancellation


def test_cancel_without_canceller():
    """cancel() errbacks with CancelledError and swallows one later callback."""
    d: Deferred[int] = Deferred()
    d.cancel()
    assert d.called
    d.callback("late")
    with pytest.raises(AlreadyCalledError):
        d.callback("later")
    assert outcome(d).type is CancelledError


def test_cancel_with_canceller_that_fires():
    """A canceller that fires the Deferred decides the result."""
    calls = []

    def canceller(d):
        calls.append(d)
        d.callback("cancelled nicely")

    d: Deferred[str] = Deferred(canceller)
    d.cancel()
    assert calls == [d]
    assert d.result == "cancelled nicely"
    with pytest.raises(AlreadyCalledError):
        d.callback("late")


def test_cancel_with_canceller_that_does_not_fire():
    """If the canceller does not fire it, CancelledError is used and later
    callbacks raise AlreadyCalledError."""
    calls = []
    d: Deferred[str] = Deferred(calls.append)
    d.cancel()
    assert calls == [d]
    assert outcome(d).type is CancelledError
    with pytest.raises(AlreadyCalledError):
        d.callback("late")


def test_cancel_fired_deferred_is_noop():
    """cancel() after firing changes nothing."""
    d = defer.succeed(1)
    d.cancel()
    assert d.result == 1


def test_cancel_forwards_to_awaited_deferred():
    """Cancelling a Deferred waiting on another cancels the other."""
    inner: Deferred[int] = Deferred()
    outer: Deferred[int] = Deferred()
    outer.addCallback(lambda r: inner)
    outer.callback(None)
    outer.cancel()
    assert inner.called
    assert outcome(outer).type is CancelledError


def test_canceller_cleared_after_fire():
    """The canceller is dropped once the Deferred fires."""
    calls = []
    d: Deferred[int] = Deferred(calls.append)
    d.callback(1)
    assert d._canceller is None
    d.cancel()
    assert calls == []


# chainDeferred / addTimeout


def test_chain_deferred():
    """chainDeferred fires the second Deferred with the first's result."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    assert a.chainDeferred(b) is a
    assert b._chainedTo is a
    a.callback(7)
    assert b.result == 7
    assert a.result is None


def test_chain_deferred_failure():
    """chainDeferred forwards failures."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    a.chainDeferred(b)
    a.errback(KeyError())
    assert outcome(b).type is KeyError
    assert a.result is None


def test_add_timeout_times_out():
    """addTimeout errbacks with TimeoutError(timeout, 'Deferred') after the delay."""
    clock = Clock()
    d: Deferred[int] = Deferred()
    d.addTimeout(10, clock)
    clock.advance(9.9)
    assert not d.called
    clock.advance(0.1)
    f = outcome(d)
    assert f.type is TimeoutError
    assert f.value.args == (10, "Deferred")


def test_add_timeout_fires_in_time():
    """A Deferred that fires in time cancels the timeout call."""
    clock = Clock()
    d: Deferred[int] = Deferred()
    d.addTimeout(10, clock)
    d.callback(5)
    assert d.result == 5
    assert clock.getDelayedCalls() == []


def test_add_timeout_with_canceller_result():
    """If the canceller fires with a value, the timeout passes it on."""
    clock = Clock()
    d: Deferred[str] = Deferred(lambda d: d.callback("by canceller"))
    d.addTimeout(1, clock)
    clock.advance(1)
    assert d.result == "by canceller"


def test_add_timeout_on_timeout_cancel():
    """onTimeoutCancel receives the result and the timeout."""
    clock = Clock()
    seen = []
    d: Deferred[int] = Deferred()
    d.addTimeout(2, clock, onTimeoutCancel=lambda r, t: seen.append((r.type, t)) or "x")
    clock.advance(2)
    assert seen == [(CancelledError, 2)]
    assert d.result == "x"


def test_add_timeout_user_cancel_not_translated():
    """A user cancel before the timeout stays a CancelledError."""
    clock = Clock()
    d: Deferred[int] = Deferred()
    d.addTimeout(2, clock)
    d.cancel()
    assert outcome(d).type is CancelledError
    assert clock.getDelayedCalls() == []


# coroutines


def test_await_deferred_in_coroutine():
    """``await d`` inside ``async def`` gets the Deferred's result."""
    d: Deferred[int] = Deferred()

    async def main() -> int:
        value = await d
        return value * 2

    result = Deferred.fromCoroutine(main())
    assert not result.called
    d.callback(21)
    assert result.result == 42


def test_await_failing_deferred_raises():
    """Awaiting a failed Deferred raises its exception in the coroutine."""

    async def main() -> str:
        try:
            await defer.fail(KeyError("k"))
        except KeyError as e:
            return f"caught {e!r}"
        return "no"

    assert defer.ensureDeferred(main()).result == "caught KeyError('k')"


def test_coroutine_exception_fails_deferred():
    """An exception escaping the coroutine fails its Deferred."""

    async def main() -> None:
        raise ValueError("out")

    assert outcome(defer.ensureDeferred(main())).type is ValueError


def test_ensure_deferred_passes_deferred_and_rejects_others():
    """ensureDeferred returns Deferreds as is and rejects non-coroutines."""
    d: Deferred[int] = Deferred()
    assert defer.ensureDeferred(d) is d
    with pytest.raises(
        defer.NotACoroutineError, match="is not a coroutine or a Deferred"
    ):
        defer.ensureDeferred(1)  # type: ignore[arg-type]
    with pytest.raises(defer.NotACoroutineError, match="is not a coroutine$"):
        Deferred.fromCoroutine(1)  # type: ignore[arg-type]


def test_cancel_coroutine_deferred_cancels_awaited():
    """Cancelling fromCoroutine's Deferred cancels the awaited Deferred."""
    awaited: Deferred[int] = Deferred()

    async def main() -> str:
        try:
            await awaited
        except CancelledError:
            return "saw cancel"
        return "no"

    d = Deferred.fromCoroutine(main())
    d.cancel()
    assert awaited.called
    assert d.result == "saw cancel"


def test_await_deferred_in_asyncio():
    """asFuture/fromFuture bridge to asyncio."""

    async def main() -> tuple[Any, Any]:
        loop = asyncio.get_running_loop()
        d: Deferred[int] = Deferred()
        fut = d.asFuture(loop)
        loop.call_soon(d.callback, 3)
        got = await fut
        fut2 = loop.create_future()
        d2 = Deferred.fromFuture(fut2)
        fut2.set_result("from future")
        await asyncio.sleep(0)
        return got, d2.result

    assert asyncio.run(main()) == (3, "from future")


def test_from_future_cancel():
    """Cancelling a fromFuture Deferred cancels the future; the Deferred then
    fails with asyncio's CancelledError (as in Twisted)."""

    async def main() -> tuple[bool, Any]:
        fut = asyncio.get_running_loop().create_future()
        d = Deferred.fromFuture(fut)
        d.cancel()
        await asyncio.sleep(0)
        return fut.cancelled(), outcome(d).type

    assert asyncio.run(main()) == (True, asyncio.CancelledError)


# typing, repr


def test_generic_subscription():
    """Deferred[int] is a usable generic alias."""
    alias = Deferred[int]
    d = alias()
    assert type(d) is Deferred
    assert alias.__args__ == (int,)
    assert isinstance(d, collections.abc.Awaitable)


def test_repr():
    """repr shows the current result or nothing."""
    d: Deferred[int] = Deferred()
    assert repr(d) == f"<Deferred at 0x{id(d):x}>"
    d.callback(5)
    assert str(d) == f"<Deferred at 0x{id(d):x} current result: 5>"


def test_subclass_registered_as_deferred():
    """A subclass returned from a callback is chained like a Deferred."""

    class MyDeferred(Deferred):
        pass

    inner = MyDeferred()
    outer: Deferred[int] = Deferred()
    outer.addCallback(lambda r: inner)
    outer.callback(0)
    assert outer.paused == 1
    inner.callback("sub")
    assert outer.result == "sub"


def test_weakref_and_attributes():
    """Deferreds can be weakly referenced and carry extra attributes."""
    import weakref

    d: Deferred[int] = Deferred()
    d.note = "x"  # type: ignore[attr-defined]
    ref = weakref.ref(d)
    assert ref() is d
    assert d.note == "x"  # type: ignore[attr-defined]


def test_deprecated_callbacks_attribute():
    """Deferred.callbacks is deprecated and lists pending pairs."""
    d: Deferred[int] = Deferred()
    d.addCallback(str)
    with pytest.warns(DeprecationWarning):
        pairs = d.callbacks
    assert pairs == [((str, (), {}), (defer._failthru, (), {}))]


# unhandled errors


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def torsion_records():
    """Collect records sent to the standard logger "torsion" and children."""
    handler = _Records()
    logger = logging.getLogger("torsion")
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(old)


def _lose_failure() -> None:
    d: Deferred[int] = Deferred()
    d.addCallback(raiser(ZeroDivisionError("lost")))
    d.callback(1)


def _unhandled_records(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """The header record and the record after it (two events, as in Twisted)."""
    starts = [
        i
        for i, r in enumerate(records)
        if r.getMessage() == "Unhandled error in Deferred:"
    ]
    assert len(starts) == 1
    return records[starts[0] : starts[0] + 2]


def test_unhandled_failure_logged_on_gc(torsion_records):
    """A Deferred collected while holding a Failure logs it with its traceback:
    a header record, then a record carrying the failure (Twisted's two events)."""
    _lose_failure()
    gc.collect()
    header, failure = _unhandled_records(torsion_records)
    assert (header.levelno, header.exc_info, header.name) == (
        logging.CRITICAL,
        None,
        "torsion.internet.defer",
    )
    assert (failure.levelno, failure.getMessage(), failure.name) == (
        logging.CRITICAL,
        "",
        "torsion.internet.defer",
    )
    assert failure.exc_info is not None
    assert failure.exc_info[0] is ZeroDivisionError
    text = logging.Formatter().format(failure)
    assert "ZeroDivisionError: lost" in text
    assert "Traceback (most recent call last):" in text


def test_unhandled_failure_logged_with_debug_info(torsion_records):
    """With debugging on, the log names where the Deferred was created and fired."""
    defer.setDebugging(True)
    _lose_failure()
    gc.collect()
    _, failure = _unhandled_records(torsion_records)
    message = failure.getMessage()
    assert message.startswith("(debug:  C: Deferred was created:\n C:")
    assert " I: First Invoker was:\n I:" in message
    assert "_lose_failure" in message
    assert failure.exc_info is not None
    assert failure.exc_info[0] is ZeroDivisionError


def test_handled_failure_not_logged(torsion_records):
    """A Failure that an errback handled is not logged."""
    d: Deferred[int] = Deferred()
    d.addCallback(raiser(ValueError()))
    d.addErrback(lambda f: None)
    d.callback(1)
    del d
    gc.collect()
    assert [r for r in torsion_records if "Unhandled" in r.getMessage()] == []


def test_awaited_failure_not_logged(torsion_records):
    """A Failure consumed by ``await`` is not logged."""

    async def main() -> None:
        try:
            await defer.fail(ValueError())
        except ValueError:
            pass

    defer.ensureDeferred(main())
    gc.collect()
    assert [r for r in torsion_records if "Unhandled" in r.getMessage()] == []


def test_failure_keeps_exception_identity_through_chain():
    """The same exception object reaches every errback."""
    err = OSError(5, "io")
    d: Deferred[int] = Deferred()
    seen = []
    d.addErrback(lambda f: seen.append(f.value) or f)
    d.addErrback(lambda f: seen.append(f.value))
    d.errback(err)
    assert seen == [err, err]


def test_base_exception_in_callback_is_caught():
    """Even KeyboardInterrupt raised in a callback becomes a Failure."""
    d: Deferred[int] = Deferred()
    d.addCallback(raiser(KeyboardInterrupt()))
    d.callback(1)
    assert outcome(d).type is KeyboardInterrupt


def test_module_importable_without_reactor():
    """Importing defer does not import the reactor or the Rust extension."""
    import subprocess

    code = (
        "import sys; import torsion.internet.defer, torsion.python.failure;"
        "print('torsion._torsion' in sys.modules, 'torsion.internet.reactor' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False False"
