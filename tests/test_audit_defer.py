"""Fidelity audit: Deferreds, Failure, task, testing helpers and logging, each
scenario run on torsion and on Twisted 26.10 and checked against the values
Twisted produces (written out literally, so that both halves are checked).

Module names in reprs are normalised to ``PKG.`` and object addresses to
``0xADDR``; nothing else is normalised.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import pickle
import re
import subprocess
import sys
import threading
import types
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

IMPLS = ("torsion", "twisted")


def _namespace(name: str) -> types.SimpleNamespace:
    def mod(path: str) -> Any:
        return importlib.import_module(f"{name}.{path}")

    return types.SimpleNamespace(
        name=name,
        defer=mod("internet.defer"),
        task=mod("internet.task"),
        testing=mod("internet.testing"),
        threads=mod("internet.threads"),
        protocol=mod("internet.protocol"),
        failure=mod("python.failure"),
        Failure=mod("python.failure").Failure,
        log=mod("python.log"),
        logger=mod("logger"),
        threadpool=mod("python.threadpool"),
    )


NS = {name: _namespace(name) for name in IMPLS}


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest) -> types.SimpleNamespace:
    """The torsion or the Twisted set of modules."""
    return NS[request.param]


PENDING = "<pending>"


def norm(impl: Any, x: Any) -> Any:
    """Module prefix -> PKG., addresses -> 0xADDR (recursively in containers)."""
    if isinstance(x, str):
        x = x.replace(f"{impl.name}.", "PKG.")
        return re.sub(r"0x[0-9a-fA-F]+", "0xADDR", x)
    if isinstance(x, tuple):
        return tuple(norm(impl, i) for i in x)
    if isinstance(x, list):
        return [norm(impl, i) for i in x]
    return x


def outcome(x: Any) -> Any:
    """A Failure as ("F", type name, message); anything else unchanged."""
    if isinstance(x, (NS["torsion"].Failure, NS["twisted"].Failure)):
        return ("F", x.type.__name__, x.getErrorMessage())
    return x


def take(d: Any) -> Any:
    """Consume the current result of ``d`` (PENDING if it has none)."""
    box: list[Any] = []
    d.addBoth(box.append)
    return box[0] if box else PENDING


def result(d: Any) -> Any:
    """take(d), with a Failure summarised by ``outcome``."""
    return outcome(take(d))


def attempt(fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
    """("ok", value) or (exception type name, str, args).

    Only the first line of str(e) and of string args is kept: under pytest,
    torsion's modules are assertion-rewritten (see
    test_library_assertion_messages_are_not_rewritten), which appends lines.
    """
    try:
        return ("ok", fn(*a, **kw))
    except BaseException as e:
        args = tuple(x.split("\n")[0] if isinstance(x, str) else x for x in e.args)
        return (type(e).__name__, str(e).split("\n")[0], args)


def boom(_: object = None) -> None:
    raise ValueError("bad")


def frameNames(f: Any) -> list[str]:
    return [frame[0] for frame in f.frames]


def scrubTraceback(text: str) -> list[str]:
    """Lines of a traceback with file names and line numbers hidden."""
    text = re.sub(r'File "[^"]*", line \d+', 'File "F", line N', text)
    text = re.sub(r"\S+\.py:\d+", "F:N", text)
    return text.splitlines()


class _NoCancel:
    def cancel(self) -> None:
        pass


class _ManualScheduler:
    """A Cooperator scheduler whose steps the test runs one by one."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def __call__(self, f: Callable[[], None]) -> _NoCancel:
        self.pending.append(f)
        return _NoCancel()

    def run(self, limit: int = 20) -> int:
        steps = 0
        while self.pending and steps < limit:
            self.pending.pop(0)()
            steps += 1
        return steps


# --- Deferred: reprs and errors --------------------------------------------


def test_repr_of_each_state(impl: Any) -> None:
    D = impl.defer
    waiting = D.Deferred()
    waiting.callback(0)
    inner = D.Deferred()
    waiting.addCallback(lambda _: inner)
    failed = D.fail(ValueError("x"))
    reprs = [repr(D.Deferred()), repr(D.succeed(3)), repr(waiting), str(waiting)]
    reprs.append(repr(failed))
    take(failed)
    reprs.append(repr(failed))
    assert norm(impl, reprs) == [
        "<Deferred at 0xADDR>",
        "<Deferred at 0xADDR current result: 3>",
        "<Deferred at 0xADDR waiting on Deferred at 0xADDR>",
        "<Deferred at 0xADDR waiting on Deferred at 0xADDR>",
        "<Deferred at 0xADDR current result: "
        "<PKG.python.failure.Failure builtins.ValueError: x>>",
        "<Deferred at 0xADDR current result: None>",
    ]
    inner.callback(None)


def test_already_called_error_has_no_message(impl: Any) -> None:
    d = impl.defer.succeed(1)
    assert attempt(d.callback, 2) == ("AlreadyCalledError", "", ())
    assert attempt(d.errback, ValueError()) == ("AlreadyCalledError", "", ())
    assert take(d) == 1


def test_debug_already_called_message_names_both_calls(impl: Any) -> None:
    D = impl.defer
    D.setDebugging(True)
    try:
        d = D.Deferred()
        d.callback(1)
        with pytest.raises(D.AlreadyCalledError) as info:
            d.callback(2)
    finally:
        D.setDebugging(False)
    text = str(info.value)
    headers = [
        line
        for line in text.splitlines()
        if "File" not in line and not line.startswith((" C:    ", " I:    "))
    ]
    assert headers == ["", " C: Deferred was created:", " I: First Invoker was:"]
    assert any(line.startswith(" I:  File") for line in text.splitlines())


def test_errback_without_exception(impl: Any) -> None:
    assert attempt(impl.defer.Deferred().errback) == ("NoCurrentExceptionError", "", ())
    assert attempt(impl.defer.fail) == ("NoCurrentExceptionError", "", ())


def test_cancelled_failure_text(impl: Any) -> None:
    d = impl.defer.Deferred()
    d.cancel()
    f = take(d)
    assert (f.type.__name__, f.value.args, f.getErrorMessage()) == (
        "CancelledError",
        (),
        "",
    )
    assert norm(impl, str(f)) == (
        "[Failure instance: Traceback (failure with no frames): "
        "<class 'PKG.internet.defer.CancelledError'>: \n]"
    )


def test_cancel_twice_calls_canceller_once(impl: Any) -> None:
    calls: list[Any] = []
    d = impl.defer.Deferred(calls.append)
    d.cancel()
    d.cancel()
    assert calls == [d]
    assert result(d) == ("F", "CancelledError", "")


def test_canceller_exception_propagates_and_deferred_stays_unfired(impl: Any) -> None:
    def canceller(d: Any) -> None:
        raise ZeroDivisionError("c")

    d = impl.defer.Deferred(canceller)
    assert attempt(d.cancel)[0] == "ZeroDivisionError"
    assert d.called is False


def test_extra_unpause_makes_pause_count_negative(impl: Any) -> None:
    """An unmatched unpause leaves paused at -1, which blocks callbacks."""
    d = impl.defer.Deferred()
    d.unpause()
    d.unpause()
    d.pause()
    d.callback(1)
    seen: list[Any] = []
    d.addCallback(seen.append)
    assert (d.paused, seen) == (-1, [])


def test_succeed_with_a_deferred_does_not_chain(impl: Any) -> None:
    inner = impl.defer.succeed(5)
    outer = impl.defer.succeed(inner)
    assert take(outer) is inner


def test_chain_deferred_result(impl: Any) -> None:
    a, b = impl.defer.Deferred(), impl.defer.Deferred()
    returned = a.chainDeferred(b)
    a.callback(3)
    assert (returned is b, take(b), a.result) == (False, 3, None)


def test_chain_to_paused_deferred(impl: Any) -> None:
    a, b = impl.defer.Deferred(), impl.defer.Deferred()
    b.pause()
    a.chainDeferred(b)
    a.callback(1)
    assert (b.called, b.paused, b.result) == (True, 1, 1)
    b.unpause()
    assert take(b) == 1


def test_callback_fired_from_a_callback_runs_first(impl: Any) -> None:
    log: list[Any] = []
    a, b = impl.defer.Deferred(), impl.defer.Deferred()
    a.addCallback(lambda r: (b.callback(r + 1), log.append(("a", r)))[1])
    b.addCallback(lambda r: log.append(("b", r)))
    a.callback(1)
    assert log == [("b", 2), ("a", 1)]


def test_returned_failed_deferred_is_consumed(impl: Any) -> None:
    inner = impl.defer.Deferred()
    outer = impl.defer.succeed(1)
    outer.addCallback(lambda _: inner)
    inner.errback(ValueError("in"))
    assert norm(impl, repr(inner)) == "<Deferred at 0xADDR current result: None>"
    assert result(outer) == ("F", "ValueError", "in")


def test_class_subscription_repr(impl: Any) -> None:
    assert (
        norm(impl, repr(impl.defer.Deferred[int])) == "PKG.internet.defer.Deferred[int]"
    )


def test_callback_failure_frames(impl: Any) -> None:
    d = impl.defer.succeed(1)
    d.addCallback(boom)
    f = take(d)
    assert frameNames(f) == ["_runCallbacks", "boom"]
    lines = [line for line in f.getTraceback().splitlines() if line.startswith("  F")]
    assert len(lines) == 2
    assert lines[0].endswith("in _runCallbacks")
    tb, names = f.getTracebackObject(), []
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert names == ["_runCallbacks", "boom"]


def test_maybe_deferred_failure_frames(impl: Any) -> None:
    f = take(impl.defer.maybeDeferred(boom, 1))
    assert frameNames(f) == ["maybeDeferred", "boom"]


# --- DeferredList, gatherResults, race -----------------------------------


def test_deferred_list_result_shape_and_repr(impl: Any) -> None:
    D = impl.defer
    later = D.Deferred()
    dl = D.DeferredList(
        [D.succeed(1), D.fail(ValueError("v")), later], consumeErrors=True
    )
    later.callback(3)
    assert norm(impl, repr(dl)).startswith("<DeferredList at 0xADDR current result: [")
    shape = [(ok, outcome(v)) for ok, v in take(dl)]
    assert shape == [(True, 1), (False, ("F", "ValueError", "v")), (True, 3)]
    assert norm(impl, repr(dl)) == "<DeferredList at 0xADDR current result: None>"
    assert (dl.finishedCount, dl.fireOnOneCallback, dl.fireOnOneErrback) == (
        3,
        False,
        False,
    )


def test_deferred_list_fire_on_one_callback(impl: Any) -> None:
    a, b = impl.defer.Deferred(), impl.defer.Deferred()
    dl = impl.defer.DeferredList([a, b], fireOnOneCallback=True)
    b.callback("B")
    a.callback("A")
    assert take(dl) == ("B", 1)


def test_deferred_list_fire_on_one_errback(impl: Any) -> None:
    a, b = impl.defer.Deferred(), impl.defer.Deferred()
    dl = impl.defer.DeferredList([a, b], fireOnOneErrback=True, consumeErrors=True)
    b.errback(KeyError("k"))
    a.callback("A")
    f = take(dl)
    err = f.value
    assert (f.type.__name__, err.index, err.subFailure.type.__name__) == (
        "FirstError",
        1,
        "KeyError",
    )
    assert repr(err) == "FirstError[#1, KeyError('k')]"
    assert str(err) == (
        "FirstError[#1, [Failure instance: Traceback (failure with no frames): "
        "<class 'KeyError'>: 'k'\n]]"
    )
    assert f.getErrorMessage() == str(err)
    assert (a.result, b.result) == ("A", None)


def test_deferred_list_accepts_generator_and_rejects_non_deferreds(impl: Any) -> None:
    D = impl.defer
    dl = D.DeferredList(D.succeed(i) for i in range(3))
    assert take(dl) == [(True, 0), (True, 1), (True, 2)]
    assert attempt(D.DeferredList, [1])[0] == "AttributeError"


def test_gather_results_first_error(impl: Any) -> None:
    a, b = impl.defer.Deferred(), impl.defer.Deferred()
    g = impl.defer.gatherResults([a, b], consumeErrors=True)
    b.errback(ValueError("bad"))
    a.errback(TypeError("t"))
    f = take(g)
    err = f.value
    assert (f.type.__name__, err.index, err.subFailure.getErrorMessage()) == (
        "FirstError",
        1,
        "bad",
    )
    assert err.args == (err.subFailure, 1)
    assert repr(err) == "FirstError[#1, ValueError('bad')]"


def test_gather_results_empty_and_generator(impl: Any) -> None:
    D = impl.defer
    assert take(D.gatherResults([])) == []
    assert take(D.gatherResults(D.succeed(i) for i in range(3))) == [0, 1, 2]


def test_first_error_comparison(impl: Any) -> None:
    f = impl.Failure(ValueError("x"))
    e1, e2 = impl.defer.FirstError(f, 1), impl.defer.FirstError(f, 1)
    e3 = impl.defer.FirstError(f, 2)
    assert (e1 == e2, e1 == e3, e1 != e2, e1 == (1, f)) == (True, False, False, False)


def test_gather_results_cancel(impl: Any) -> None:
    cancelled: list[str] = []
    a = impl.defer.Deferred(lambda d: cancelled.append("a"))
    b = impl.defer.Deferred(lambda d: cancelled.append("b"))
    g = impl.defer.gatherResults([a, b], consumeErrors=True)
    g.cancel()
    f = take(g)
    assert cancelled == ["a", "b"]
    assert (f.type.__name__, f.value.index, f.value.subFailure.type.__name__) == (
        "FirstError",
        0,
        "CancelledError",
    )


def test_deferred_list_cancel_keeps_fired_members(impl: Any) -> None:
    pending = impl.defer.Deferred()
    dl = impl.defer.DeferredList([pending, impl.defer.succeed(1)], consumeErrors=True)
    dl.cancel()
    assert [(ok, outcome(v)) for ok, v in take(dl)] == [
        (False, ("F", "CancelledError", "")),
        (True, 1),
    ]


def test_race(impl: Any) -> None:
    D = impl.defer
    cancelled: list[str] = []
    a = D.Deferred(lambda d: cancelled.append("a"))
    b = D.Deferred(lambda d: cancelled.append("b"))
    r = D.race([a, b])
    b.callback("B")
    assert (take(r), cancelled) == ((1, "B"), ["a"])
    assert (a.called, take(a)) == (True, None)
    empty = D.race([])
    assert (empty.called, take(empty)) == (False, PENDING)
    lost = D.race([D.fail(ValueError("a")), D.fail(KeyError("b"))])
    f = take(lost)
    assert (f.type.__name__, [x.type.__name__ for x in f.value.failures]) == (
        "FailureGroup",
        ["ValueError", "KeyError"],
    )
    assert str(f.value) == ""


# --- inlineCallbacks ----------------------------------------------------------


def test_return_value_from_nested_helper(impl: Any) -> None:
    D = impl.defer

    def helper() -> None:
        D.returnValue(5)

    @D.inlineCallbacks
    def gen() -> Any:
        yield None
        helper()
        return 7

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert take(gen()) == 5


def test_return_value_outside_inline_callbacks(impl: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        name, _, args = attempt(impl.defer.returnValue, 3)
    assert (name, args) == ("_DefGen_Return", (3,))


def test_inline_callbacks_yields_plain_values_and_failures(impl: Any) -> None:
    D = impl.defer

    @D.inlineCallbacks
    def gen() -> Any:
        x = yield 5
        y = yield D.succeed(6)
        try:
            yield D.fail(KeyError("k"))
        except KeyError as e:
            z = repr(e)
        return (x, y, z)

    assert take(gen()) == (5, 6, "KeyError('k')")


def test_inline_callbacks_requires_generator(impl: Any) -> None:
    def notGen() -> int:
        return 1

    name, text, _ = attempt(impl.defer.inlineCallbacks(notGen))
    assert name == "TypeError"
    assert norm(impl, text) == (
        "inlineCallbacks requires <function "
        "test_inline_callbacks_requires_generator.<locals>.notGen at 0xADDR> "
        "to produce a generator; instead got 1"
    )


def test_inline_callbacks_exceptions(impl: Any) -> None:
    D = impl.defer

    def make(exc: BaseException) -> Any:
        @D.inlineCallbacks
        def gen() -> Any:
            yield None
            raise exc

        return gen

    assert result(make(ValueError("boom"))()) == ("F", "ValueError", "boom")
    assert result(make(StopIteration(3))()) == (
        "F",
        "RuntimeError",
        "generator raised StopIteration",
    )
    assert result(make(KeyboardInterrupt())()) == ("F", "KeyboardInterrupt", "")
    assert result(make(GeneratorExit())()) == ("F", "GeneratorExit", "")


def test_inline_callbacks_returns_or_yields_failure(impl: Any) -> None:
    D = impl.defer

    @D.inlineCallbacks
    def returns() -> Any:
        yield None
        return impl.Failure(ValueError("x"))

    @D.inlineCallbacks
    def yields() -> Any:
        yield impl.Failure(ValueError("y"))

    assert result(returns()) == ("F", "ValueError", "x")
    assert result(yields()) == ("F", "ValueError", "y")


def test_inline_callbacks_returning_deferred_is_the_result(impl: Any) -> None:
    D = impl.defer
    inner = D.succeed(5)

    @D.inlineCallbacks
    def gen() -> Any:
        yield None
        return inner

    assert take(gen()) is inner


def test_inline_callbacks_cancel_seen_by_generator(impl: Any) -> None:
    D = impl.defer
    inner = D.Deferred()
    seen: list[Any] = []

    @D.inlineCallbacks
    def gen() -> Any:
        try:
            yield inner
        except D.CancelledError as e:
            seen.append((type(e).__name__, e.args))
            raise

    d = gen()
    d.cancel()
    assert (result(d), seen, inner.called) == (
        ("F", "CancelledError", ""),
        [("CancelledError", ())],
        True,
    )


def test_inline_callbacks_cancel_swallowed_or_answered(impl: Any) -> None:
    D = impl.defer

    @D.inlineCallbacks
    def swallow() -> Any:
        try:
            yield D.Deferred()
        except D.CancelledError:
            pass
        return "recovered"

    @D.inlineCallbacks
    def answered() -> Any:
        x = yield D.Deferred(lambda d: d.callback("from canceller"))
        return ("got", x)

    first, second = swallow(), answered()
    first.cancel()
    second.cancel()
    assert (take(first), take(second)) == ("recovered", ("got", "from canceller"))


def test_inline_callbacks_cancel_reaches_nested_leaf(impl: Any) -> None:
    D = impl.defer
    leaf = D.Deferred()

    @D.inlineCallbacks
    def inner() -> Any:
        return (yield leaf)

    @D.inlineCallbacks
    def outer() -> Any:
        return (yield inner())

    d = outer()
    d.cancel()
    assert (result(d), leaf.called, result(leaf)) == (
        ("F", "CancelledError", ""),
        True,
        None,
    )


def test_inline_callbacks_ordering(impl: Any) -> None:
    D = impl.defer
    log: list[Any] = []
    a = D.Deferred()

    @D.inlineCallbacks
    def gen() -> Any:
        log.append("start")
        x = yield a
        log.append(("got", x))
        return x

    d = gen()
    log.append("after call")
    d.addCallback(lambda r: log.append(("cb", r)))
    a.callback(1)
    log.append("end")
    assert log == ["start", "after call", ("got", 1), ("cb", 1), "end"]


def test_inline_callbacks_yield_coroutine(impl: Any) -> None:
    D = impl.defer

    async def coro() -> int:
        return 4

    @D.inlineCallbacks
    def gen() -> Any:
        return (yield coro())

    assert take(gen()) == 4


def test_inline_callbacks_wrapper_metadata(impl: Any) -> None:
    def gen(a: int, b: int = 2) -> Any:
        "doc"
        yield None

    wrapped = impl.defer.inlineCallbacks(gen)
    assert (wrapped.__name__, wrapped.__doc__, wrapped.__wrapped__ is gen) == (
        "gen",
        "doc",
        True,
    )


def test_inline_callbacks_failure_user_frames(impl: Any) -> None:
    """The frames below the first (the driver's own) are the user's."""
    D = impl.defer

    @D.inlineCallbacks
    def gen() -> Any:
        yield D.succeed(1)
        boom()

    f = take(gen())
    assert frameNames(f)[1:] == ["gen", "boom"]


# --- coroutines ----------------------------------------------------------------


def test_not_a_coroutine_errors(impl: Any) -> None:
    D = impl.defer
    name, text, _ = attempt(D.ensureDeferred, 3)
    assert (name, text) == ("NotACoroutineError", "3 is not a coroutine or a Deferred")
    assert issubclass(D.NotACoroutineError, TypeError)
    name, text, _ = attempt(D.Deferred.fromCoroutine, 3)
    assert (name, text) == ("NotACoroutineError", "3 is not a coroutine")


def test_from_coroutine_and_ensure_deferred_accept_generators(impl: Any) -> None:
    def gen() -> Any:
        yield 1

    assert take(impl.defer.Deferred.fromCoroutine(gen())) is None
    assert take(impl.defer.ensureDeferred(gen())) is None


def test_await_same_deferred_twice(impl: Any) -> None:
    D = impl.defer
    a = D.Deferred()

    async def coro() -> Any:
        return (await a, await a)

    d = D.ensureDeferred(coro())
    a.callback(5)
    assert (take(d), a.result) == ((5, 5), None)


def test_await_failed_deferred_keeps_its_failure(impl: Any) -> None:
    D = impl.defer
    a = D.fail(ValueError("v"))

    async def coro() -> Any:
        try:
            await a
        except ValueError as e:
            return ("caught", str(e))

    assert take(D.ensureDeferred(coro())) == ("caught", "v")
    assert norm(impl, repr(a)) == (
        "<Deferred at 0xADDR current result: "
        "<PKG.python.failure.Failure builtins.ValueError: v>>"
    )
    take(a)


def test_coroutine_returning_deferred(impl: Any) -> None:
    D = impl.defer
    inner = D.succeed(9)

    async def coro() -> Any:
        return inner

    assert take(D.ensureDeferred(coro())) is inner


def test_cancel_coroutine_deferred(impl: Any) -> None:
    D = impl.defer
    log: list[str] = []
    a = D.Deferred(lambda d: log.append("cancel a"))

    async def coro() -> Any:
        try:
            await a
        except D.CancelledError:
            log.append("caught")
            return "swallowed"

    d = D.ensureDeferred(coro())
    d.cancel()
    assert (take(d), log) == ("swallowed", ["cancel a", "caught"])


def test_coroutine_failure_user_frames(impl: Any) -> None:
    D = impl.defer
    a = D.Deferred()

    async def coro() -> None:
        await a
        boom()

    d = D.ensureDeferred(coro())
    a.callback(1)
    assert frameNames(take(d))[1:] == ["coro", "boom"]


def test_await_protocol(impl: Any) -> None:
    d = impl.defer.Deferred()
    it = d.__await__()
    first = next(it)
    d.callback(3)
    with pytest.raises(StopIteration) as info:
        next(it)
    assert (first is d, info.value.value) == (True, 3)


def test_as_future(impl: Any) -> None:
    D = impl.defer
    loop = asyncio.new_event_loop()
    try:
        ok = D.Deferred()
        f1 = ok.asFuture(loop)
        ok.callback(4)
        bad = D.Deferred()
        f2 = bad.asFuture(loop)
        bad.errback(ValueError("z"))
        cancelled = D.Deferred()
        f3 = cancelled.asFuture(loop)
        f3.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        assert (f1.result(), repr(f2.exception())) == (4, "ValueError('z')")
        assert take(cancelled) is None
    finally:
        loop.close()


def test_from_future(impl: Any) -> None:
    D = impl.defer
    loop = asyncio.new_event_loop()
    try:
        futures = [loop.create_future() for _ in range(4)]
        ds = [D.Deferred.fromFuture(f) for f in futures]
        futures[0].set_result(2)
        futures[1].set_exception(KeyError("q"))
        futures[2].cancel()
        ds[3].cancel()
        loop.run_until_complete(asyncio.sleep(0))
        assert [result(d) for d in ds] == [
            2,
            ("F", "KeyError", "'q'"),
            ("F", "CancelledError", ""),
            ("F", "CancelledError", ""),
        ]
        assert futures[3].cancelled() is True
    finally:
        loop.close()


# --- addTimeout -----------------------------------------------------------------


def test_add_timeout_error(impl: Any) -> None:
    clock = impl.task.Clock()
    d = impl.defer.Deferred()
    d.addTimeout(5, clock)
    clock.advance(4.9)
    assert d.called is False
    clock.advance(0.1)
    f = take(d)
    assert (f.type is impl.defer.TimeoutError, f.value.args) == (True, (5, "Deferred"))
    assert (str(f.value), f.getErrorMessage()) == ("(5, 'Deferred')", "(5, 'Deferred')")
    assert clock.getDelayedCalls() == []


def test_add_timeout_float_and_two_timeouts(impl: Any) -> None:
    clock = impl.task.Clock()
    d = impl.defer.Deferred()
    d.addTimeout(0.5, clock)
    d.addTimeout(3, clock)
    clock.advance(1)
    assert result(d) == ("F", "TimeoutError", "(0.5, 'Deferred')")
    assert clock.getDelayedCalls() == []


def test_add_timeout_on_timeout_cancel(impl: Any) -> None:
    clock = impl.task.Clock()
    seen: list[Any] = []

    def onTimeoutCancel(res: Any, timeout: float) -> Any:
        seen.append((outcome(res), timeout))
        return "replaced"

    d = impl.defer.Deferred()
    d.addTimeout(2, clock, onTimeoutCancel=onTimeoutCancel)
    clock.advance(2)
    assert (seen, take(d)) == ([(("F", "CancelledError", ""), 2)], "replaced")

    ok = impl.defer.Deferred(lambda d: d.callback("fine"))
    ok.addTimeout(2, clock, onTimeoutCancel=lambda r, t: (r, t))
    clock.advance(2)
    assert take(ok) == ("fine", 2)


def test_add_timeout_when_already_fired(impl: Any) -> None:
    clock = impl.task.Clock()
    d = impl.defer.Deferred()
    assert d.addTimeout(2, clock) is d
    d.callback(1)
    assert (clock.getDelayedCalls(), take(d)) == ([], 1)
    fired = impl.defer.succeed(1)
    fired.addTimeout(2, clock)
    assert (clock.getDelayedCalls(), take(fired)) == ([], 1)


def test_add_timeout_earlier_errbacks_see_cancelled(impl: Any) -> None:
    clock = impl.task.Clock()
    seen: list[str] = []
    d = impl.defer.Deferred()
    d.addErrback(lambda f: seen.append(f.type.__name__) or "handled")
    d.addTimeout(1, clock)
    clock.advance(1)
    assert (seen, take(d)) == (["CancelledError"], "handled")


# --- locks, semaphores, queues ---------------------------------------------------


def test_queue_errors(impl: Any) -> None:
    q = impl.defer.DeferredQueue(size=1, backlog=1)
    assert attempt(q.put, 1) == ("ok", None)
    assert attempt(q.put, 2) == ("QueueOverflow", "", ())
    assert take(q.get()) == 1
    waiting = q.get()
    assert attempt(q.get) == ("QueueUnderflow", "", ())
    assert (q.size, q.backlog, q.pending, len(q.waiting)) == (1, 1, [], 1)
    q.put(3)
    assert take(waiting) == 3


def test_queue_limits_of_zero(impl: Any) -> None:
    assert attempt(impl.defer.DeferredQueue(backlog=0).get) == (
        "QueueUnderflow",
        "",
        (),
    )
    q = impl.defer.DeferredQueue(size=0)
    assert attempt(q.put, 1) == ("QueueOverflow", "", ())
    q2 = impl.defer.DeferredQueue(size=0)
    waiter = q2.get()
    assert (attempt(q2.put, 1), take(waiter)) == (("ok", None), 1)


def test_queue_cancelled_get_is_skipped(impl: Any) -> None:
    q = impl.defer.DeferredQueue()
    d1, d2 = q.get(), q.get()
    d1.cancel()
    q.put("x")
    assert (result(d1), take(d2), q.pending, q.waiting) == (
        ("F", "CancelledError", ""),
        "x",
        [],
        [],
    )


def test_lock_sequence(impl: Any) -> None:
    lock = impl.defer.DeferredLock()
    assert lock.locked is False
    a, b = lock.acquire(), lock.acquire()
    assert (lock.locked, take(a) is lock, b.called, len(lock.waiting)) == (
        True,
        True,
        False,
        1,
    )
    lock.release()
    assert (take(b) is lock, lock.locked) == (True, True)
    lock.release()
    assert lock.locked is False
    assert attempt(lock.release) == (
        "AssertionError",
        "Tried to release an unlocked lock",
        ("Tried to release an unlocked lock",),
    )


def test_lock_cancel_after_acquire_is_noop(impl: Any) -> None:
    lock = impl.defer.DeferredLock()
    d = lock.acquire()
    d.cancel()
    assert (lock.locked, take(d) is lock) == (True, True)


def test_lock_run_releases_on_failure(impl: Any) -> None:
    D = impl.defer
    lock = D.DeferredLock()
    assert result(lock.run(lambda x: 1 / x, 0)) == (
        "F",
        "ZeroDivisionError",
        "division by zero",
    )
    assert result(lock.run(lambda: D.fail(KeyError("z")))) == ("F", "KeyError", "'z'")
    assert lock.locked is False


def test_semaphore(impl: Any) -> None:
    sem = impl.defer.DeferredSemaphore(2)
    sem.acquire()
    sem.acquire()
    third = sem.acquire()
    assert (sem.tokens, sem.limit, len(sem.waiting), third.called) == (0, 2, 1, False)
    sem.release()
    assert (take(third) is sem, sem.tokens) == (True, 0)
    sem.release()
    sem.release()
    assert sem.tokens == 2
    message = "Someone released me too many times: too many tokens!"
    assert attempt(sem.release) == ("AssertionError", message, (message,))


def test_semaphore_bad_tokens_and_cancel(impl: Any) -> None:
    message = "DeferredSemaphore requires tokens >= 1"
    for tokens in (0, -1):
        assert attempt(impl.defer.DeferredSemaphore, tokens) == (
            "ValueError",
            message,
            (message,),
        )
    sem = impl.defer.DeferredSemaphore(1)
    sem.acquire()
    waiter = sem.acquire()
    waiter.cancel()
    sem.release()
    assert (result(waiter), sem.tokens, sem.waiting) == (
        ("F", "CancelledError", ""),
        1,
        [],
    )


def _primitives_trace(impl: Any, ops: list[tuple[str, int]]) -> list[Any]:
    """Run random operations on a queue, a lock and a semaphore; record what
    every call and every Deferred did."""
    D = impl.defer
    q = D.DeferredQueue(size=3, backlog=2)
    lock = D.DeferredLock()
    sem = D.DeferredSemaphore(2)
    trace: list[Any] = []
    handed: list[Any] = []

    def watch(d: Any, tag: str) -> None:
        handed.append(d)
        n = len(handed)

        def record(r: Any) -> None:
            value = tag if (r is lock or r is sem) else outcome(r)
            trace.append((tag, n, "fired", value))

        d.addBoth(record)

    for op, arg in ops:
        if op == "put":
            trace.append(("put", arg, attempt(q.put, arg)[0]))
        elif op == "get":
            got = attempt(q.get)
            trace.append(("get", got[0]))
            if got[0] == "ok":
                watch(got[1], "get")
        elif op == "lock":
            watch(lock.acquire(), "lock")
        elif op == "unlock":
            trace.append(("unlock", attempt(lock.release)[0]))
        elif op == "sem":
            watch(sem.acquire(), "sem")
        elif op == "unsem":
            trace.append(("unsem", attempt(sem.release)[0]))
        elif op == "cancel" and handed:
            handed[arg % len(handed)].cancel()
        trace.append(("state", len(q.pending), len(q.waiting), lock.locked, sem.tokens))
    return trace


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["put", "get", "lock", "unlock", "sem", "unsem", "cancel"]),
            st.integers(0, 20),
        ),
        max_size=25,
    )
)
def test_primitives_random_operations_match_twisted(ops: list[tuple[str, int]]) -> None:
    assert _primitives_trace(NS["torsion"], ops) == _primitives_trace(
        NS["twisted"], ops
    )


def test_primitives_trace_is_not_vacuous() -> None:
    ops = [
        ("get", 0),
        ("put", 1),
        ("lock", 0),
        ("lock", 0),
        ("cancel", 2),
        ("unlock", 0),
    ]
    trace = _primitives_trace(NS["twisted"], ops)
    assert ("get", 1, "fired", 1) in trace
    assert ("lock", 3, "fired", ("F", "CancelledError", "")) in trace
    assert trace[-1] == ("state", 0, 0, False, 2)


# --- small helpers ---------------------------------------------------------------


def test_maybe_deferred_variants(impl: Any) -> None:
    D = impl.defer

    async def double(x: int) -> int:
        return x * 2

    assert take(D.maybeDeferred(double, 3)) == 6
    failed = D.maybeDeferred(lambda: impl.Failure(KeyError("f")))
    assert result(failed) == ("F", "KeyError", "'f'")
    inner = D.succeed(1)
    assert D.maybeDeferred(lambda: inner) is inner
    assert result(D.execute(lambda: 1 / 0)) == (
        "F",
        "ZeroDivisionError",
        "division by zero",
    )


def test_succeed_does_not_wrap_a_coroutine(impl: Any) -> None:
    async def coro() -> int:
        return 1

    c = coro()
    try:
        assert take(impl.defer.succeed(c)) is c
    finally:
        c.close()


def test_fail_uses_current_exception(impl: Any) -> None:
    try:
        raise KeyError("cur")
    except KeyError:
        d = impl.defer.fail()
    assert result(d) == ("F", "KeyError", "'cur'")


def test_log_error_event(impl: Any) -> None:
    f = impl.Failure(KeyError("x"))
    events: list[dict[str, Any]] = []
    impl.log.addObserver(events.append)
    try:
        assert impl.defer.logError(f) is f
    finally:
        impl.log.removeObserver(events.append)
    assert len(events) == 1
    (event,) = events
    assert sorted(k for k in event if k not in ("log_logger", "log_source")) == [
        "failure",
        "format",
        "isError",
        "log_failure",
        "log_format",
        "log_legacy",
        "log_level",
        "log_namespace",
        "log_time",
        "message",
        "system",
        "time",
        "why",
    ]
    assert (event["why"], event["isError"], event["failure"] is f) == ("", 1, True)
    assert (event["log_format"], event["message"], event["format"]) == (
        "",
        (),
        "%(log_legacy)s",
    )


# --- Failure ---------------------------------------------------------------------


def _deepFailure(impl: Any) -> Any:
    def inner() -> None:
        raise ValueError("deep")

    try:
        inner()
    except ValueError:
        return impl.Failure()


def test_failure_basics(impl: Any) -> None:
    f = _deepFailure(impl)
    assert (f.getErrorMessage(), f.type, norm(impl, repr(f))) == (
        "deep",
        ValueError,
        "<PKG.python.failure.Failure builtins.ValueError: deep>",
    )
    assert f.check(KeyError, ValueError) is ValueError
    assert f.check("builtins.ValueError") == "builtins.ValueError"
    assert (f.check(Exception), f.check(BaseException)) == (Exception, None)
    assert f.parents[:3] == [
        "builtins.ValueError",
        "builtins.Exception",
        "builtins.BaseException",
    ]
    assert frameNames(f) == ["_deepFailure", "inner"]
    assert [(fr[3], fr[4]) for fr in f.frames] == [((), ()), ((), ())]


def test_failure_traceback_forms(impl: Any) -> None:
    f = _deepFailure(impl)
    assert scrubTraceback(f.getTraceback()) == [
        "Traceback (most recent call last):",
        '  File "F", line N, in _deepFailure',
        "    inner()",
        '  File "F", line N, in inner',
        '    raise ValueError("deep")',
        "builtins.ValueError: deep",
    ]
    assert f.getTraceback(elideFrameworkCode=True) == f.getTraceback()
    assert scrubTraceback(f.getBriefTraceback()) == [
        "Traceback: <class 'ValueError'>: deep",
        "F:N:_deepFailure",
        "F:N:inner",
    ]
    verbose = scrubTraceback(f.getTraceback(detail="verbose"))
    assert re.fullmatch(r"\*--- Failure #\d+ ---", verbose[0])
    assert verbose[1:3] == ["F:N: _deepFailure(...)", "F:N: inner(...)"]
    out = io.StringIO()
    f.printDetailedTraceback(out)
    assert scrubTraceback(out.getvalue())[3] == (
        " [Capture of Locals and Globals disabled (use captureVars=True)]"
    )
    assert str(f) == "[Failure instance: " + f.getBriefTraceback() + "]"


def test_failure_without_frames_printing(impl: Any) -> None:
    f = impl.Failure(ValueError("q"))
    assert (f.tb, f.frames, f.getTracebackObject()) == (None, [], None)
    out = io.StringIO()
    f.printTraceback(out)
    assert (
        out.getvalue()
        == "Traceback (most recent call last):\nFailure: builtins.ValueError: q\n"
    )
    out = io.StringIO()
    f.printBriefTraceback(out)
    assert (
        out.getvalue()
        == "Traceback (failure with no frames): <class 'ValueError'>: q\n"
    )
    out = io.StringIO()
    f.printDetailedTraceback(out)
    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"\*--- Failure #\d+ ---", lines[0])
    number = lines[0].split("#")[1].split()[0]
    assert lines[1:] == [
        "Failure: builtins.ValueError: q",
        f"*--- End of Failure #{number} ---",
    ]


def test_failure_messages_of_odd_exceptions(impl: Any) -> None:
    assert impl.Failure(KeyError("x")).getErrorMessage() == "'x'"
    empty = impl.Failure(RuntimeError())
    assert (empty.getErrorMessage(), norm(impl, repr(empty))) == (
        "",
        "<PKG.python.failure.Failure builtins.RuntimeError: >",
    )
    text = impl.Failure("a string")
    assert (text.type, text.getErrorMessage()) == (str, "a string")
    typed = impl.Failure(ValueError("a"), KeyError)
    assert (typed.type, repr(typed.value)) == (KeyError, "ValueError('a')")
    cls = impl.Failure(ValueError)
    assert (cls.type, cls.value) == (type, ValueError)


def test_failure_trap(impl: Any) -> None:
    f = _deepFailure(impl)
    assert f.trap(KeyError, ValueError) is ValueError
    with pytest.raises(ValueError) as info:
        f.trap(KeyError)
    assert info.value is f.value


def test_failure_clean_and_pickle(impl: Any) -> None:
    f = _deepFailure(impl)
    assert sorted(f.__getstate__()) == [
        "captureVars",
        "count",
        "frames",
        "parents",
        "pickled",
        "stack",
        "tb",
        "type",
        "value",
    ]
    copy = pickle.loads(pickle.dumps(f))
    assert (copy.type, copy.getErrorMessage(), copy.tb, copy.pickled) == (
        ValueError,
        "deep",
        None,
        1,
    )
    assert copy.getTraceback() == f.getTraceback()
    before = f.getTraceback()
    f.cleanFailure()
    assert (f.getTraceback() == before, f.tb, len(f.frames)) == (True, None, 2)


def test_failure_raise_exception_keeps_frames(impl: Any) -> None:
    import traceback

    d = impl.defer.succeed(1)
    d.addCallback(boom)
    f = take(d)
    with pytest.raises(ValueError) as info:
        f.raiseException()
    names = [x.name for x in traceback.extract_tb(info.value.__traceback__)]
    assert names[-3:] == ["raiseException", "_runCallbacks", "boom"]


def test_failure_of_chained_exception_shows_last_only(impl: Any) -> None:
    try:
        try:
            raise KeyError("a")
        except KeyError:
            raise ValueError("b")  # noqa: B904
    except ValueError:
        f = impl.Failure()
    lines = scrubTraceback(f.getTraceback())
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == "builtins.ValueError: b"
    assert len(lines) == 4


def test_failure_of_failure_and_count(impl: Any) -> None:
    inner = _deepFailure(impl)
    outer = impl.Failure(inner)
    assert (outer.getErrorMessage(), outer.type, outer.value is inner.value) == (
        "deep",
        ValueError,
        True,
    )
    later = _deepFailure(impl)
    assert (outer.count - inner.count, later.count - outer.count) == (0, 2)


def test_failure_throw_into_generator(impl: Any) -> None:
    def gen() -> Any:
        try:
            yield 1
        except ValueError as e:
            yield ("caught", str(e))

    g = gen()
    next(g)
    assert _deepFailure(impl).throwExceptionIntoGenerator(g) == ("caught", "deep")
    g.close()


def test_failure_capture_vars(impl: Any) -> None:
    try:
        local = 1  # noqa: F841
        raise ValueError()
    except ValueError:
        f = impl.Failure(captureVars=True)
    assert [(fr[0], [k for k, _ in fr[3]]) for fr in f.frames] == [
        ("test_failure_capture_vars", ["impl", "local", "f"])
    ]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(st.text(max_size=8), st.integers(), st.none(), st.binary(max_size=4)),
        max_size=3,
    ),
    st.sampled_from([ValueError, KeyError, OSError, RuntimeError, Exception]),
)
def test_failure_texts_match_twisted(args: list[Any], cls: type[Exception]) -> None:
    texts = []
    for name in IMPLS:
        f = NS[name].Failure(cls(*args))
        texts.append(
            norm(
                NS[name], [f.getErrorMessage(), str(f), repr(f), f.getBriefTraceback()]
            )
        )
    assert texts[0] == texts[1]


# --- task: LoopingCall, Clock, deferLater, Cooperator --------------------------------


def test_looping_call_errors(impl: Any) -> None:
    clock = impl.task.Clock()
    lc = impl.task.LoopingCall(lambda: None)
    lc.clock = clock
    notRunning = "Tried to stop a LoopingCall that was not running."
    assert attempt(lc.stop) == ("AssertionError", notRunning, (notRunning,))
    notRunningReset = "Tried to reset a LoopingCall that was not running."
    assert attempt(lc.reset) == ("AssertionError", notRunningReset, (notRunningReset,))
    negative = "interval must be >= 0"
    assert attempt(lc.start, -1) == ("ValueError", negative, (negative,))
    lc.start(1)
    twice = "Tried to start an already running LoopingCall."
    assert attempt(lc.start, 1) == ("AssertionError", twice, (twice,))
    lc.stop()
    assert attempt(lc.stop)[0] == "AssertionError"


def test_looping_call_with_count_after_jumps(impl: Any) -> None:
    clock = impl.task.Clock()
    counts: list[int] = []
    lc = impl.task.LoopingCall.withCount(counts.append)
    lc.clock = clock
    lc.start(1, now=True)
    for step in [0.5, 1.0, 3.2, 0.3, 0.5, 10.0, 1.0]:
        clock.advance(step)
    assert counts == [1, 1, 3, 1, 10, 1]
    later: list[int] = []
    lc2 = impl.task.LoopingCall.withCount(later.append)
    lc2.clock = clock
    lc2.start(2, now=False)
    for step in [5, 1, 1, 3.9, 0.1]:
        clock.advance(step)
    assert later == [2, 1, 2]


def test_looping_call_repr(impl: Any) -> None:
    def f(a: int, b: int = 1) -> None:
        pass

    lc = impl.task.LoopingCall(f, 1, b=2)
    lc.clock = impl.task.Clock()
    before = repr(lc)
    lc.start(3)
    assert (before, repr(lc)) == (
        "LoopingCall<None>(test_looping_call_repr.<locals>.f, *(1,), **{'b': 2})",
        "LoopingCall<3>(test_looping_call_repr.<locals>.f, *(1,), **{'b': 2})",
    )
    assert repr(impl.task.LoopingCall(print)) == "LoopingCall<None>(print, *(), **{})"
    lc.stop()


def test_looping_call_reset_and_stop_state(impl: Any) -> None:
    clock = impl.task.Clock()
    times: list[float] = []
    lc = impl.task.LoopingCall(lambda: times.append(clock.seconds()))
    lc.clock = clock
    d = lc.start(2)
    clock.advance(1.5)
    lc.reset()
    for step in (1, 1.0, 2):
        clock.advance(step)
    assert times == [0.0, 3.5, 5.5]
    lc.stop()
    assert (take(d) is lc, lc.running, lc.interval, lc.starttime, lc.call) == (
        True,
        False,
        2,
        1.5,
        None,
    )


def test_looping_call_failure_stops(impl: Any) -> None:
    clock = impl.task.Clock()
    count = [0]

    def f() -> None:
        count[0] += 1
        if count[0] == 3:
            raise ValueError("third")

    lc = impl.task.LoopingCall(f)
    lc.clock = clock
    d = lc.start(1)
    clock.pump([1, 1, 1, 1])
    assert (result(d), lc.running, count) == (("F", "ValueError", "third"), False, [3])


def test_looping_call_waits_for_returned_deferred(impl: Any) -> None:
    clock = impl.task.Clock()
    calls: list[int] = []
    pending = impl.defer.Deferred()
    lc = impl.task.LoopingCall(lambda: calls.append(1) or pending)
    lc.clock = clock
    d = lc.start(0)
    clock.advance(5)
    assert (len(calls), d.called) == (1, False)
    lc.stop()
    pending.callback(None)
    assert take(d) is lc


def test_clock_call_later_semantics(impl: Any) -> None:
    clock = impl.task.Clock()
    log: list[str] = []
    a = clock.callLater(2, log.append, "a")
    clock.callLater(1, log.append, "b")
    clock.callLater(1, log.append, "b2")
    clock.advance(0)
    clock.advance(1)
    assert log == ["b", "b2"]
    a.reset(5)
    a.delay(1)
    assert (a.getTime(), a.active()) == (7.0, True)
    clock.pump([3, 3])
    assert (log, a.active()) == (["b", "b2", "a"], False)
    assert attempt(a.cancel) == (
        "AlreadyCalled",
        "Tried to cancel an already-called event.",
        (),
    )
    assert attempt(a.reset, 1)[0] == "AlreadyCalled"
    assert attempt(a.delay, 1)[0] == "AlreadyCalled"


def test_clock_cancelled_call(impl: Any) -> None:
    clock = impl.task.Clock()
    call = clock.callLater(2, lambda: None)
    call.cancel()
    assert attempt(call.cancel) == (
        "AlreadyCancelled",
        "Tried to cancel an already-cancelled event.",
        (),
    )
    assert attempt(call.reset, 1)[0] == "AlreadyCancelled"
    assert (call.active(), call.cancelled, call.called, clock.getDelayedCalls()) == (
        False,
        1,
        0,
        [],
    )


def test_clock_calls_added_during_advance_run_in_same_advance(impl: Any) -> None:
    clock = impl.task.Clock()
    log: list[Any] = []

    def f() -> None:
        log.append(("f", clock.seconds()))
        clock.callLater(0, log.append, ("zero", clock.seconds()))

    clock.callLater(1, f)
    clock.advance(1)
    log.append("after")
    assert log == [("f", 1.0), ("zero", 1.0), "after"]


def test_clock_negative_advance_and_right_now(impl: Any) -> None:
    clock = impl.task.Clock()
    assert attempt(clock.advance, -1) == ("ok", None)
    assert clock.seconds() == -1.0
    other = impl.task.Clock()
    other.rightNow = 10.0
    assert other.callLater(1, lambda: None).getTime() == 11.0


def test_clock_exception_leaves_later_calls(impl: Any) -> None:
    clock = impl.task.Clock()
    log: list[str] = []
    clock.callLater(1, lambda: 1 / 0)
    clock.callLater(1, log.append, "second")
    assert attempt(clock.advance, 1)[0] == "ZeroDivisionError"
    assert (log, len(clock.getDelayedCalls())) == ([], 1)


def test_delayed_call_repr(impl: Any) -> None:
    def fn(x: int, y: int = 2) -> None:
        pass

    call = impl.task.Clock().callLater(1.5, fn, 1, y=3)
    expected = (
        "<DelayedCall 0xADDR [1.5s] called=0 cancelled=0 "
        "test_delayed_call_repr.<locals>.fn(1, y=3)>"
    )
    assert (norm(impl, repr(call)), norm(impl, str(call))) == (expected, expected)


def test_defer_later(impl: Any) -> None:
    T = impl.task
    clock = T.Clock()
    log: list[int] = []
    cancelled = T.deferLater(clock, 1, log.append, 1)
    cancelled.cancel()
    clock.advance(2)
    assert (result(cancelled), log, clock.getDelayedCalls()) == (
        ("F", "CancelledError", ""),
        [],
        [],
    )
    summed = T.deferLater(clock, 1, lambda x, y: x + y, 1, y=2)
    bare = T.deferLater(clock, 1)
    failing = T.deferLater(clock, 1, lambda: 1 / 0)
    inner = impl.defer.Deferred()
    waiting = T.deferLater(clock, 1, lambda: inner)
    clock.advance(1)
    assert (take(summed), take(bare), result(failing)) == (
        3,
        None,
        ("F", "ZeroDivisionError", "division by zero"),
    )
    assert waiting.called is True
    inner.callback("i")
    assert take(waiting) == "i"


def test_cooperator_round_robin(impl: Any) -> None:
    sched = _ManualScheduler()
    coop = impl.task.Cooperator(scheduler=sched)
    log: list[Any] = []

    def gen(name: str, k: int) -> Any:
        for i in range(k):
            log.append((name, i))
            yield None

    a = coop.cooperate(gen("a", 3))
    b = coop.cooperate(gen("b", 2))
    da, db = a.whenDone(), b.whenDone()
    assert sched.run() < 20
    assert log == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2)]
    assert (da.called, db.called) == (True, True)


def test_cooperative_task_state_errors(impl: Any) -> None:
    sched = _ManualScheduler()
    coop = impl.task.Cooperator(scheduler=sched)

    def gen() -> Any:
        yield None

    t = coop.cooperate(gen())
    names = [attempt(t.resume)[0]]
    t.pause()
    names += [attempt(t.resume)[0], attempt(t.resume)[0]]
    t.stop()
    names += [attempt(t.stop)[0], attempt(t.pause)[0], attempt(t.resume)[0]]
    assert names == [
        "NotPaused",
        "ok",
        "NotPaused",
        "TaskStopped",
        "TaskStopped",
        "NotPaused",
    ]
    assert result(t.whenDone()) == ("F", "TaskStopped", "")

    done = coop.cooperate(iter([]))
    sched.run()
    assert [attempt(done.pause)[0], attempt(done.stop)[0]] == ["TaskDone", "TaskDone"]

    def failing() -> Any:
        yield 1
        raise KeyError("k")

    bad = coop.cooperate(failing())
    d = bad.whenDone()
    sched.run()
    assert result(d) == ("F", "KeyError", "'k'")
    assert [attempt(bad.pause)[0], attempt(bad.stop)[0]] == ["TaskFailed", "TaskFailed"]


def test_cooperator_stop_and_not_started(impl: Any) -> None:
    sched = _ManualScheduler()
    coop = impl.task.Cooperator(scheduler=sched)
    t = coop.cooperate(iter([1, 2]))
    d = t.whenDone()
    coop.stop()
    after = coop.cooperate(iter([1]))
    assert (result(d), result(after.whenDone()), coop.running) == (
        ("F", "SchedulerStopped", ""),
        ("F", "SchedulerStopped", ""),
        False,
    )
    assert attempt(coop.stop) == ("ok", None)

    lazy = impl.task.Cooperator(scheduler=sched, started=False)
    log: list[int] = []

    def gen() -> Any:
        for i in range(3):
            log.append(i)
            yield None

    lazy.cooperate(gen())
    assert (len(sched.pending), log, lazy.running) == (1, [], False)
    sched.run()
    assert log == []
    lazy.start()
    sched.run()
    assert (log, lazy.running) == ([0, 1, 2], True)


def test_cooperator_pause_counts_and_when_done(impl: Any) -> None:
    sched = _ManualScheduler()
    coop = impl.task.Cooperator(scheduler=sched)
    log: list[int] = []

    def gen() -> Any:
        for i in range(3):
            log.append(i)
            yield None

    t = coop.cooperate(gen())
    t.pause()
    t.pause()
    t.resume()
    sched.run()
    assert log == []
    t.resume()
    sched.run()
    assert log == [0, 1, 2]
    it = iter([1])
    t2 = coop.cooperate(it)
    first, second = t2.whenDone(), t2.whenDone()
    sched.run()
    assert (first is second, take(first) is it, take(second) is it) == (
        False,
        True,
        True,
    )


def test_cooperator_yielded_deferred_pauses(impl: Any) -> None:
    sched = _ManualScheduler()
    coop = impl.task.Cooperator(scheduler=sched)
    inner = impl.defer.Deferred()
    log: list[Any] = []

    def gen() -> Any:
        x = yield inner
        log.append(("x", x))
        yield 2

    t = coop.cooperate(gen())
    d = t.whenDone()
    sched.run(3)
    assert (log, d.called) == ([], False)
    inner.callback("v")
    sched.run()
    assert (log, d.called) == ([("x", None)], True)


_REACT_SCRIPT = """
import sys
from {pkg}.internet import defer, task
case = sys.argv[1]

def main(reactor):
    if case == "value":
        return defer.succeed(5)
    if case == "fail":
        return defer.fail(ValueError("x"))
    if case == "exit3":
        raise SystemExit(3)
    if case == "exitstr":
        raise SystemExit("bye")
    if case == "exitdeferred":
        return defer.fail(SystemExit(7))
    if case == "exitnone":
        raise SystemExit()
    if case == "later":
        return task.deferLater(reactor, 0.01, lambda: None)
    if case == "stopped":
        reactor.callLater(0.01, reactor.stop)
        return defer.Deferred()
    if case == "coroutine":
        async def c():
            return 1
        return c()

task.react(main)
"""


@pytest.mark.parametrize(
    ("case", "code", "stderr"),
    [
        ("value", 0, []),
        (
            "fail",
            1,
            [
                "main function encountered error",
                "Traceback (most recent call last):",
                "Failure: builtins.ValueError: x",
            ],
        ),
        ("exit3", 3, []),
        ("exitstr", 1, ["bye"]),
        ("exitdeferred", 7, []),
        ("exitnone", 0, []),
        ("later", 0, []),
        ("stopped", 0, []),
        ("coroutine", 0, []),
    ],
)
def test_react_exit_codes(impl: Any, case: str, code: int, stderr: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _REACT_SCRIPT.format(pkg=impl.name), case],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == code
    assert [line for line in proc.stderr.splitlines() if line] == stderr


# --- testing: StringTransport, MemoryReactor ------------------------------------------


def test_string_transport_basics(impl: Any) -> None:
    t = impl.testing.StringTransport()
    assert (t.value(), t.connected, t.disconnecting) == (b"", True, False)
    assert (
        repr(t.getPeer()) == "IPv4Address(type='TCP', host='192.168.1.1', port=54321)"
    )
    assert repr(t.getHost()) == "IPv4Address(type='TCP', host='10.0.0.1', port=12345)"
    t.write(b"ab")
    t.writeSequence([b"c", b"d"])
    assert (t.value(), t.io.getvalue()) == (b"abcd", b"abcd")
    t.clear()
    assert t.value() == b""
    assert attempt(t.write, "str")[0] == "TypeError"
    assert attempt(t.writeSequence, ["str"])[0] == "TypeError"
    t.loseConnection()
    t.write(b"after")
    assert (t.disconnecting, t.value()) == (True, b"after")
    assert attempt(t.abortConnection) == ("ok", None)
    other = impl.testing.StringTransport(hostAddress="h", peerAddress="p")
    assert (other.getHost(), other.getPeer()) == ("h", "p")


def test_string_transport_producer_state(impl: Any) -> None:
    t = impl.testing.StringTransport()

    class Producer:
        def __init__(self) -> None:
            self.log: list[str] = []

        def pauseProducing(self) -> None:
            self.log.append("pause")

        def resumeProducing(self) -> None:
            self.log.append("resume")

        def stopProducing(self) -> None:
            self.log.append("stop")

    p = Producer()
    t.registerProducer(p, True)
    assert (t.producer is p, t.streaming, t.producerState) == (True, True, "producing")
    message = "Cannot register two producers"
    assert attempt(t.registerProducer, Producer(), True) == (
        "RuntimeError",
        message,
        (message,),
    )
    t.pauseProducing()
    assert t.producerState == "paused"
    t.resumeProducing()
    assert t.producerState == "producing"
    t.stopProducing()
    assert t.producerState == "stopped"
    assert attempt(t.resumeProducing)[0] == "RuntimeError"
    assert attempt(t.pauseProducing)[0] == "RuntimeError"
    t.unregisterProducer()
    assert (t.producer, t.streaming) == (None, None)
    assert attempt(t.unregisterProducer)[0] == "RuntimeError"
    assert p.log == []
    t.registerProducer(p, False)
    t.loseConnection()
    assert (p.log, t.producer is p) == ([], True)


def test_string_transport_with_disconnection(impl: Any) -> None:
    lost: list[Any] = []

    class Proto(impl.protocol.Protocol):
        def connectionLost(self, reason: Any) -> None:
            lost.append((reason.type.__name__, reason.getErrorMessage()))

    t = impl.testing.StringTransportWithDisconnection()
    p = Proto()
    t.protocol = p
    p.makeConnection(t)
    t.loseConnection()
    t.loseConnection()
    assert (lost, t.connected, t.disconnecting) == (
        [("ConnectionDone", "Connection was closed cleanly: Bye..")],
        False,
        False,
    )


class _ClientFactory:
    def __init__(self) -> None:
        self.log: list[Any] = []

    def startedConnecting(self, connector: Any) -> None:
        self.log.append("started")


def test_memory_reactor_tcp(impl: Any) -> None:
    reactor = impl.testing.MemoryReactor()
    f = _ClientFactory()
    port = reactor.listenTCP(1234, f, backlog=10, interface="127.0.0.1")
    conn = reactor.connectTCP("host", 80, f, timeout=5, bindAddress=("b", 0))
    assert reactor.tcpServers == [(1234, f, 10, "127.0.0.1")]
    assert [c[:2] + c[3:] for c in reactor.tcpClients] == [("host", 80, 5, ("b", 0))]
    assert repr(port.getHost()) == "IPv4Address(type='TCP', host='0.0.0.0', port=1234)"
    assert (
        repr(conn.getDestination()) == "IPv4Address(type='TCP', host='host', port=80)"
    )
    assert f.log == ["started"]
    default = reactor.listenTCP(0, None)
    assert reactor.tcpServers[-1] == (0, None, 50, "")
    assert repr(default.getHost()) == "IPv4Address(type='TCP', host='0.0.0.0', port=0)"
    six = reactor.listenTCP(1, f, interface="::1")
    assert repr(six.getHost()) == (
        "IPv6Address(type='TCP', host='::1', port=1, flowInfo=0, scopeID=0)"
    )
    assert repr(reactor.connectTCP("::1", 80, f).getDestination()) == (
        "IPv6Address(type='TCP', host='::1', port=80, flowInfo=0, scopeID=0)"
    )


def test_memory_reactor_connector_and_port_state(impl: Any) -> None:
    reactor = impl.testing.MemoryReactor()
    f = _ClientFactory()
    c = reactor.connectTCP("h", 1, f)
    states = [set(vars(c))]
    c.stopConnecting()
    states.append(dict(vars(c), _address=None))
    c.connect()
    states.append(dict(vars(c), _address=None))
    c.disconnect()
    states.append(dict(vars(c), _address=None))
    assert states == [
        {"_address"},
        {"_address": None, "stoppedConnecting": True},
        {"_address": None, "stoppedConnecting": True},
        {"_address": None, "stoppedConnecting": True, "_disconnected": True},
    ]
    port = reactor.listenTCP(5, None)
    assert (port.stopListening(), set(vars(port))) == (None, {"_hostAddress"})


def test_memory_reactor_other_listeners(impl: Any) -> None:
    import socket

    reactor = impl.testing.MemoryReactor()
    f = _ClientFactory()
    unixPort = reactor.listenUNIX("/x", f)
    unixConn = reactor.connectUNIX("/y", f)
    assert (reactor.unixServers, reactor.unixClients) == (
        [("/x", f, 50, 438, 0)],
        [("/y", f, 30, 0)],
    )
    assert (repr(unixPort.getHost()), repr(unixConn.getDestination())) == (
        "UNIXAddress('/x')",
        "UNIXAddress('/y')",
    )
    reactor.listenSSL(443, f, "ctx", 5, "i")
    reactor.connectSSL("h", 1, f, "cf", 3, None)
    assert (reactor.sslServers, reactor.sslClients) == (
        [(443, f, "ctx", 5, "i")],
        [("h", 1, f, "cf", 3, None)],
    )
    adopted = reactor.adoptStreamPort(3, socket.AF_INET, None)
    reactor.adoptStreamConnection(4, socket.AF_INET6, None)
    reactor.adoptDatagramPort(5, socket.AF_INET, None, 100)
    assert reactor.adoptedPorts == [
        (3, socket.AF_INET, None),
        (5, socket.AF_INET, None, 100),
    ]
    assert reactor.adoptedStreamConnections == [(4, socket.AF_INET6, None)]
    assert (
        repr(adopted.getHost()) == "IPv4Address(type='TCP', host='0.0.0.0', port=1234)"
    )
    assert (
        attempt(reactor.adoptStreamPort, 3, "INET", None)[0]
        == "UnsupportedAddressFamily"
    )


def test_memory_reactor_core(impl: Any) -> None:
    reactor = impl.testing.MemoryReactor()
    flags = [reactor.hasRun, reactor.running, reactor.hasStopped, reactor.hasCrashed]
    reactor.run()
    flags += [reactor.hasRun, reactor.running]
    reactor.stop()
    flags += [reactor.running, reactor.hasStopped]
    assert flags == [False, False, False, False, True, False, False, True]
    assert attempt(reactor.stop) == ("ok", None)
    log: list[int] = []
    assert reactor.addSystemEventTrigger("before", "shutdown", log.append, 1) is None
    assert reactor.triggers == {"before": {"shutdown": [(log.append, (1,), {})]}}
    assert reactor.callWhenRunning(log.append, 2) is None
    assert (reactor.whenRunningHooks, log) == ([], [2])
    fresh = impl.testing.MemoryReactor()
    fresh.callWhenRunning(log.append, 3)
    assert (fresh.whenRunningHooks, log) == ([(log.append, (3,), {})], [2])
    fresh.run()
    assert log == [2, 3]
    assert type(reactor.nameResolver).__name__ == "SynchronousResolver"
    assert attempt(reactor.resolve, "x")[0] == "NotImplementedError"


def test_memory_reactor_descriptors_and_clock(impl: Any) -> None:
    reactor = impl.testing.MemoryReactorClock()

    class FD:
        def fileno(self) -> int:
            return 3

    fd = FD()
    reactor.addReader(fd)
    reactor.addWriter(fd)
    assert (reactor.getReaders(), reactor.getWriters()) == ([fd], [fd])
    reactor.removeReader(fd)
    assert (reactor.getReaders(), reactor.removeAll(), reactor.getWriters()) == (
        [],
        [fd],
        [],
    )
    log: list[int] = []
    reactor.callLater(1, log.append, 1)
    reactor.advance(1)
    assert (log, reactor.seconds(), reactor.getDelayedCalls()) == ([1], 1.0, [])


def test_failure_result_message_for_wrong_types(impl: Any) -> None:
    """The message trial's failureResultOf gives, which torsion copies."""
    from twisted.trial.unittest import SynchronousTestCase

    d = impl.defer.fail(KeyError("k"))
    if impl.name == "twisted":
        with pytest.raises(SynchronousTestCase.failureException) as info:
            SynchronousTestCase().failureResultOf(d, ValueError, OSError)
    else:
        with pytest.raises(AssertionError) as info:
            impl.testing.failureResultOf(d, ValueError, OSError)
    text = norm(impl, str(info.value))
    assert text.startswith(
        "Failure of type (builtins.ValueError or builtins.OSError) expected on "
        "<Deferred at 0xADDR current result: None>, found type <class 'KeyError'> "
        "instead: Traceback (most recent call last):\n"
        "Failure: builtins.KeyError: 'k'\n"
    )


# --- logging ------------------------------------------------------------------------


def _captureLegacy(impl: Any, fn: Callable[[], None]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    impl.log.addObserver(events.append)
    try:
        fn()
    finally:
        impl.log.removeObserver(events.append)
    return events


_VOLATILE = {
    "log_time",
    "time",
    "log_logger",
    "log_source",
    "log_legacy",
    "failure",
    "log_failure",
}


def _stable(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in _VOLATILE}


def test_log_msg_event(impl: Any) -> None:
    events = _captureLegacy(
        impl, lambda: impl.log.msg("hello", "world", system="sys", extra=1)
    )
    assert [_stable(e) for e in events] == [
        {
            "system": "sys",
            "extra": 1,
            "message": ("hello", "world"),
            "isError": 0,
            "log_text": "hello world",
            "log_format": "{log_text}",
            "log_level": impl.logger.LogLevel.info,
            "log_namespace": "log_legacy",
            "log_system": "sys",
            "format": "%(log_legacy)s",
        }
    ]
    assert sorted(events[0]) == sorted(
        [*_stable(events[0]), "log_time", "time", "log_legacy"]
    )
    assert str(events[0]["log_legacy"]) == "hello world"


def test_log_msg_format_and_empty(impl: Any) -> None:
    events = _captureLegacy(
        impl, lambda: impl.log.msg(format="%(a)s-%(b)d", a="x", b=3)
    )
    assert [impl.log.textFromEventDict(e) for e in events] == ["x-3"]
    assert (events[0]["log_text"], events[0]["message"]) == ("x-3", ())
    empty = _captureLegacy(impl, lambda: impl.log.msg())
    assert [impl.log.textFromEventDict(e) for e in empty] == [None]
    assert "log_text" not in empty[0]


def test_log_err_events(impl: Any) -> None:
    def withCurrent() -> None:
        try:
            raise ZeroDivisionError("division by zero")
        except ZeroDivisionError:
            impl.log.err(None, "why text")

    (event,) = _captureLegacy(impl, withCurrent)
    assert (event["why"], event["isError"], event["log_level"]) == (
        "why text",
        1,
        impl.logger.LogLevel.critical,
    )
    assert event["failure"].type is ZeroDivisionError
    assert scrubTraceback(event["log_text"]) == [
        "why text",
        "Traceback (most recent call last):",
        '  File "F", line N, in withCurrent',
        '    raise ZeroDivisionError("division by zero")',
        "builtins.ZeroDivisionError: division by zero",
    ]

    (event,) = _captureLegacy(impl, lambda: impl.log.err(KeyError("k"), "because"))
    assert event["log_text"] == (
        "because\nTraceback (most recent call last):\nFailure: builtins.KeyError: 'k'\n"
    )
    (event,) = _captureLegacy(impl, lambda: impl.log.err("just a string"))
    assert (event["message"], event["why"], "failure" in event) == (
        ("'just a string'",),
        None,
        False,
    )
    (event,) = _captureLegacy(
        impl, lambda: impl.log.err(impl.Failure(KeyError("k")), system="S", x=1)
    )
    assert (event["system"], event["log_system"], event["x"]) == ("S", "S", 1)
    assert impl.log.textFromEventDict(event) == (
        "Unhandled Error\nTraceback (most recent call last):\nFailure: builtins.KeyError: 'k'\n"
    )


def test_text_from_event_dict_requires_is_error(impl: Any) -> None:
    text = impl.log.textFromEventDict
    assert attempt(text, {"message": ()}) == ("KeyError", "'isError'", ("isError",))
    assert text({"message": ("a", 1), "isError": 0}) == "a 1"
    assert text({"message": (), "format": "%(x)s", "x": 1, "isError": 0}) == "1"


def test_logger_emit_events(impl: Any) -> None:
    L = impl.logger
    events: list[dict[str, Any]] = []
    log = L.Logger(namespace="ns", observer=events.append)
    log.info("hi {x}", x=1)
    log.emit(L.LogLevel.warn, "w {y}", y=2)
    log.debug("d")
    assert [_stable(e) for e in events] == [
        {
            "x": 1,
            "log_level": L.LogLevel.info,
            "log_namespace": "ns",
            "log_format": "hi {x}",
        },
        {
            "y": 2,
            "log_level": L.LogLevel.warn,
            "log_namespace": "ns",
            "log_format": "w {y}",
        },
        {"log_level": L.LogLevel.debug, "log_namespace": "ns", "log_format": "d"},
    ]
    assert [L.formatEvent(e) for e in events] == ["hi 1", "w 2", "d"]
    assert [(e["log_logger"] is log, e["log_source"]) for e in events] == [
        (True, None)
    ] * 3


def test_logger_failure_events(impl: Any) -> None:
    L = impl.logger
    events: list[dict[str, Any]] = []
    log = L.Logger(namespace="ns", observer=events.append)
    try:
        raise ZeroDivisionError()
    except ZeroDivisionError:
        log.failure("oops {z}", z=5)
    log.failure("explicit", failure=impl.Failure(KeyError("k")), level=L.LogLevel.error)
    assert [_stable(e) for e in events] == [
        {
            "z": 5,
            "log_level": L.LogLevel.critical,
            "log_namespace": "ns",
            "log_format": "oops {z}",
        },
        {
            "log_level": L.LogLevel.error,
            "log_namespace": "ns",
            "log_format": "explicit",
        },
    ]
    assert [e["log_failure"].type for e in events] == [ZeroDivisionError, KeyError]


def test_logger_emit_invalid_level(impl: Any) -> None:
    L = impl.logger
    events: list[dict[str, Any]] = []
    log = L.Logger(namespace="ns", observer=events.append)
    log.emit("notalevel", "msg {x}", x=1)
    (event,) = events
    assert (event["invalidLevel"], event["log_level"], event["log_format"]) == (
        "notalevel",
        L.LogLevel.critical,
        "Got invalid log level {invalidLevel!r} in {logger}.emit().",
    )
    assert event["log_failure"].type is L.InvalidLogLevelError
    assert (
        L.formatEvent(event)
        == "Got invalid log level 'notalevel' in <Logger 'ns'>.emit()."
    )


def test_format_event_corners(impl: Any) -> None:
    F = impl.logger.formatEvent
    assert F({"log_format": "{a!r}", "a": "s"}) == "'s'"
    assert F({"log_format": "{x:>5}", "x": 1}) == "    1"
    assert F({"log_format": "{{}}"}) == "{}"
    assert F({}) == ""
    assert F({"log_format": None}) == ""
    assert F({"log_format": b"bytes {x}", "x": 1}) == "bytes 1"
    assert F({"log_format": "{x()}", "x": lambda: 9}) == "9"
    assert F({"log_format": "{x[0]}", "x": [7]}) == "7"
    assert F({"log_format": "{a.b}", "a": 1}) == (
        "Unable to format event {'log_format': '{a.b}', 'a': 1}: "
        "'int' object has no attribute 'b'"
    )
    assert F({"log_format": "{missing}"}) == (
        "Unable to format event {'log_format': '{missing}'}: 'missing'"
    )
    assert (
        F({"log_format": 3})
        == "Unable to format event {'log_format': 3}: "
        + (F({"log_format": 3}).split(": ", 2)[-1])
    )


def test_format_event_unformattable_and_unrepresentable(
    impl: Any, request: pytest.FixtureRequest
) -> None:

    class Broken:
        def __repr__(self) -> str:
            raise ValueError("no")

        def __str__(self) -> str:
            raise ValueError("no")

    lines = impl.logger.formatEvent({"log_format": "{b}", "b": Broken()}).splitlines()
    assert lines[0] == "MESSAGE LOST: unformattable object logged: ValueError('no')"
    assert norm(impl, lines[1]) == (
        "Recoverable data: 'log_format' = '{b}', 'b' = <Broken instance at 0xADDR "
        "with repr error:"
    )
    assert "Exception during formatting:" in lines


def test_log_levels(impl: Any) -> None:
    L = impl.logger.LogLevel
    assert (repr(L.info), str(L.info), L.levelWithName("warn") is L.warn) == (
        "<LogLevel=info>",
        "<LogLevel=info>",
        True,
    )
    assert attempt(L.levelWithName, "nope")[:2] == ("InvalidLogLevelError", "nope")
    assert [level.name for level in L.iterconstants()] == [
        "debug",
        "info",
        "warn",
        "error",
        "critical",
    ]
    assert L.info < L.warn < L.critical


def test_legacy_event_reaches_new_observers(impl: Any) -> None:
    events: list[dict[str, Any]] = []
    impl.logger.globalLogPublisher.addObserver(events.append)
    try:
        impl.log.msg("legacy", "x")
    finally:
        impl.logger.globalLogPublisher.removeObserver(events.append)
    assert [impl.logger.formatEvent(e) for e in events] == ["legacy x"]
    assert events[0]["log_namespace"] == "log_legacy"


def test_new_events_reach_legacy_observers(impl: Any) -> None:
    def emit() -> None:
        log = impl.logger.Logger(namespace="nn")
        log.info("new {x}", x=1)
        log.error("e {x}", x=2)
        log.failure("nf", impl.Failure(KeyError(1)))

    events = _captureLegacy(impl, emit)
    assert [(e["isError"], e["message"], e["system"], e["format"]) for e in events] == [
        (0, (), "-", "%(log_legacy)s"),
        (1, (), "-", "%(log_legacy)s"),
        (1, (), "-", "%(log_legacy)s"),
    ]
    assert [impl.log.textFromEventDict(e) for e in events] == [
        "new 1",
        "e 2",
        "nf\nTraceback (most recent call last):\nFailure: builtins.KeyError: 1\n",
    ]
    assert (events[2]["why"], events[2]["failure"] is events[2]["log_failure"]) == (
        "nf",
        True,
    )


# --- API surface ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "eventAsJSON",
        "eventFromJSON",
        "jsonFileLogObserver",
        "eventsFromJSONLogFile",
        "extractField",
    ],
)
def test_logger_json_and_extract_field_exist(
    impl: Any, request: pytest.FixtureRequest, name: str
) -> None:
    assert name in impl.logger.__all__
    assert callable(getattr(impl.logger, name))


def test_extract_field(impl: Any, request: pytest.FixtureRequest) -> None:
    event = {"log_format": "{a.b} {c}", "a": types.SimpleNamespace(b=3), "c": 4}
    assert (
        impl.logger.extractField("a.b", event),
        impl.logger.extractField("c", event),
    ) == (
        3,
        4,
    )


def test_json_round_trip(impl: Any, request: pytest.FixtureRequest) -> None:
    L = impl.logger
    event = {
        "log_format": "hi {x}",
        "x": 1,
        "log_level": L.LogLevel.warn,
        "log_namespace": "n",
    }
    back = L.eventFromJSON(L.eventAsJSON(event))
    assert (back["x"], back["log_level"] is L.LogLevel.warn, L.formatEvent(back)) == (
        1,
        True,
        "hi 1",
    )


def test_deferred_filesystem_lock_exists(impl: Any) -> None:
    assert "DeferredFilesystemLock" in impl.defer.__all__
    assert hasattr(impl.defer, "DeferredFilesystemLock")


# --- threads -----------------------------------------------------------------------------


class _RecordingReactor:
    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.event = threading.Event()

    def callFromThread(self, f: Callable[..., Any], *a: Any) -> None:
        self.calls.append((f, a))
        self.event.set()


def test_defer_to_thread_pool_delivers_via_call_from_thread(impl: Any) -> None:
    pool = impl.threadpool.ThreadPool(1, 1)
    reactor = _RecordingReactor()
    pool.start()
    try:
        ok = impl.threads.deferToThreadPool(reactor, pool, lambda x: x + 1, 1)
        assert reactor.event.wait(5)
        reactor.event.clear()
        bad = impl.threads.deferToThreadPool(reactor, pool, boom)
        assert reactor.event.wait(5)
    finally:
        pool.stop()
    assert (ok.called, bad.called) == (False, False)
    assert [f.__name__ for f, _ in reactor.calls] == ["callback", "errback"]
    for f, a in reactor.calls:
        f(*a)
    assert (take(ok), result(bad)) == (2, ("F", "ValueError", "bad"))


def test_thread_pool_arguments(impl: Any) -> None:
    TP = impl.threadpool.ThreadPool
    pool = TP(1, 3, name="nm")
    assert (pool.min, pool.max, pool.name, pool.started, pool.joined) == (
        1,
        3,
        "nm",
        False,
        False,
    )
    message = "minimum is greater than maximum"
    assert attempt(TP, 5, 2) == ("AssertionError", message, (message,))
    assert attempt(pool.adjustPoolsize, 3, 1)[:2] == ("AssertionError", message)
    pool.adjustPoolsize(1, 4)
    assert (pool.min, pool.max) == (1, 4)


# --- unhandled errors and assertion messages ----------------------------------------------


def test_unhandled_failure_log_events(
    impl: Any, request: pytest.FixtureRequest
) -> None:
    """Twisted logs a garbage-collected unhandled failure as two critical
    events: the header (isError, no failure), then the failure itself with an
    empty format and debugInfo."""
    import gc

    events: list[dict[str, Any]] = []
    impl.logger.globalLogPublisher.addObserver(events.append)
    try:
        d = impl.defer.fail(ValueError("gc"))
        del d
        gc.collect()
    finally:
        impl.logger.globalLogPublisher.removeObserver(events.append)
    shapes = [
        (
            e["log_format"],
            e.get("isError"),
            e["log_level"].name,
            "log_failure" in e,
            e.get("debugInfo"),
        )
        for e in events
    ]
    assert shapes == [
        ("Unhandled error in Deferred:", True, "critical", False, None),
        ("", None, "critical", True, ""),
    ]
    assert events[1]["log_failure"].getErrorMessage() == "gc"
    assert events[0]["log_namespace"] == f"{impl.name}.internet.defer"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda D: D.DeferredLock().release, "Tried to release an unlocked lock"),
        (
            lambda D: D.DeferredSemaphore(1).release,
            "Someone released me too many times: too many tokens!",
        ),
    ],
)
def test_library_assertion_messages_are_not_rewritten(
    impl: Any, make: Any, message: str
) -> None:
    """A user's pytest test sees the library's AssertionError text as is.
    torsion's distribution registers a pytest11 plugin, so pytest loads every
    torsion module through its assertion rewriter: the library raises these
    errors explicitly rather than with ``assert``, whose message would grow
    an "assert ... where ..." explanation."""
    with pytest.raises(AssertionError) as info:
        make(impl.defer)()
    assert (str(info.value), info.value.args) == (message, (message,))


# --- re-entrancy and timing corners -------------------------------------------------------


def test_reentrant_calls_from_a_callback(impl: Any) -> None:
    D = impl.defer
    seen: list[Any] = []
    d = D.Deferred()
    d.addCallback(lambda r: seen.append(attempt(d.callback, 2)) or r)
    d.callback(1)
    assert (seen, take(d)) == ([("AlreadyCalledError", "", ())], 1)

    cancelled = D.Deferred()
    cancelled.addCallback(lambda r: (cancelled.cancel(), r)[1])
    cancelled.callback(1)
    assert take(cancelled) == 1

    paused = D.Deferred()
    log: list[int] = []
    paused.addCallback(lambda r: (paused.pause(), r)[1])
    paused.addCallback(lambda r: log.append(r) or r)
    paused.callback(1)
    assert (log, paused.paused) == ([1], 1)
    paused.unpause()
    assert take(paused) == 1


def test_callback_args_and_odd_results(impl: Any) -> None:
    D = impl.defer
    d = D.succeed(1)
    d.addCallbacks(lambda r, *a: (r, a), callbackArgs=[1, 2])
    assert take(d) == (1, (1, 2))
    returned = D.succeed(1)
    returned.addCallback(lambda r: ValueError("not raised"))
    assert type(take(returned)) is ValueError
    odd = D.Deferred()
    odd.errback("string")
    assert result(odd) == ("F", "str", "string")


def test_deferred_list_flags_with_fired_inputs(impl: Any) -> None:
    D = impl.defer
    first = D.DeferredList([D.succeed(1), D.succeed(2)], fireOnOneCallback=True)
    assert take(first) == (1, 0)
    both = D.DeferredList(
        [D.fail(ValueError(1)), D.succeed(2)],
        fireOnOneErrback=True,
        fireOnOneCallback=True,
        consumeErrors=True,
    )
    f = take(both)
    assert (f.type.__name__, f.value.index, f.value.subFailure.getErrorMessage()) == (
        "FirstError",
        0,
        "1",
    )


def test_clock_order_cancel_and_float_steps(impl: Any) -> None:
    clock = impl.task.Clock()
    log: list[Any] = []
    a = clock.callLater(1, log.append, "a")
    clock.callLater(1, log.append, "b")
    a.reset(1)
    clock.advance(1)
    assert log == ["a", "b"]

    other = impl.task.Clock()
    order: list[str] = []
    victim: list[Any] = []

    def first() -> None:
        order.append("first")
        victim[0].cancel()

    other.callLater(1, first)
    victim.append(other.callLater(1, order.append, "second"))
    other.advance(1)
    assert (order, other.getDelayedCalls()) == (["first"], [])
    assert (
        norm(impl, repr(victim[0]))
        == "<DelayedCall 0xADDR [0.0s] called=0 cancelled=1>"
    )

    steps = impl.task.Clock()
    fired: list[int] = []
    for i in range(10):
        steps.callLater(0.1 * i, fired.append, i)
    steps.pump([0.1] * 9)
    assert (fired, steps.seconds()) == (list(range(9)), 0.8999999999999999)


def test_looping_call_float_interval_times(impl: Any) -> None:
    clock = impl.task.Clock()
    times: list[float] = []
    lc = impl.task.LoopingCall(lambda: times.append(clock.seconds()))
    lc.clock = clock
    lc.start(0.1)
    for _ in range(10):
        clock.advance(0.1)
    lc.stop()
    assert times == [
        0.0,
        0.1,
        0.2,
        0.30000000000000004,
        0.4,
        0.5,
        0.6,
        0.7,
        0.7999999999999999,
        0.8999999999999999,
        0.9999999999999999,
    ]
