"""The same Deferred and Failure scenarios run on Twisted and on torsion; the
traces they record must be equal."""

from __future__ import annotations

import asyncio
import re
import warnings
from types import SimpleNamespace
from typing import Any

import pytest
import torsion.internet.defer as to_defer
import torsion.internet.task as to_task
import torsion.python.failure as to_failure
import twisted.internet.defer as tw_defer
import twisted.internet.task as tw_task
import twisted.python.failure as tw_failure

IMPLS = {
    "twisted": SimpleNamespace(
        defer=tw_defer, Failure=tw_failure.Failure, Clock=tw_task.Clock
    ),
    "torsion": SimpleNamespace(
        defer=to_defer, Failure=to_failure.Failure, Clock=to_task.Clock
    ),
}


def norm(x: Any) -> Any:
    """Turn results into comparable, implementation-neutral values."""
    if isinstance(x, (tw_failure.Failure, to_failure.Failure)):
        return ("Failure", x.type.__name__, norm(x.value))
    if isinstance(x, (tw_defer.FirstError, to_defer.FirstError)):
        return ("FirstError", x.index, norm(x.subFailure))
    if isinstance(x, (tw_defer.FailureGroup, to_defer.FailureGroup)):
        return ("FailureGroup", [norm(f) for f in x.failures])
    if isinstance(x, BaseException):
        return (type(x).__name__, tuple(norm(a) for a in x.args))
    if isinstance(x, (tw_defer.Deferred, to_defer.Deferred)):
        return ("Deferred", x.called, x.paused)
    if isinstance(x, (tw_defer.DeferredLock, to_defer.DeferredLock)):
        return "Lock"
    if isinstance(x, (tw_defer.DeferredSemaphore, to_defer.DeferredSemaphore)):
        return "Semaphore"
    if isinstance(x, tuple):
        return tuple(norm(i) for i in x)
    if isinstance(x, list):
        return [norm(i) for i in x]
    if isinstance(x, str):
        return re.sub(r"0x[0-9a-f]+", "0x?", x)
    return x


def state(d: Any) -> Any:
    """called, paused, and the result (or a marker) of a Deferred."""
    return (d.called, d.paused, norm(getattr(d, "result", "<no result>")))


def drain(d: Any) -> Any:
    """Consume and return the result of a Deferred (so nothing is logged)."""
    box: list[Any] = []
    d.addBoth(box.append)
    return norm(box[0]) if box else "<pending>"


def attempt(fn: Any, *args: Any) -> Any:
    """Call fn, returning ("ok", value) or ("raised", exception name)."""
    try:
        return ("ok", norm(fn(*args)))
    except BaseException as e:
        return ("raised", type(e).__name__)


# scenarios: each takes an implementation namespace and returns a trace


def s_basic_chain(ns):
    trace = []
    d = ns.defer.Deferred()
    d.addCallback(lambda r: trace.append(("cb1", r)) or r + 1)
    d.addCallback(lambda r: 1 / 0)
    d.addCallback(lambda r: trace.append("skipped"))
    d.addErrback(lambda f: trace.append(("eb", norm(f))) or f)
    d.addCallbacks(lambda r: trace.append("no"), lambda f: f.trap(ZeroDivisionError))
    d.addCallback(lambda r: trace.append(("cb after trap", norm(r))) or "end")
    d.addBoth(lambda r: trace.append(("both", r)) or ns.Failure(KeyError("k")))
    d.callback(1)
    trace.append(drain(d))
    return trace


def s_args_kwargs(ns):
    trace = []
    d = ns.defer.Deferred()
    d.addCallback(lambda r, *a, **k: trace.append((r, a, sorted(k.items()))), 1, 2, x=3)
    d.addCallbacks(
        lambda r, *a, **k: trace.append(("c", r, a, sorted(k.items()))) or 1 / 0,
        callbackArgs=(4,),
        callbackKeywords={"y": 5},
    )
    d.addErrback(lambda f, *a, **k: trace.append(("e", a, sorted(k.items()))), 6, z=7)
    d.addBoth(lambda r, *a: trace.append(("b", r, a)), 8)
    d.callback("go")
    return trace


def s_trap_no_match(ns):
    d = ns.defer.fail(KeyError("k"))
    d.addErrback(lambda f: f.trap(ValueError))
    return [drain(d)]


def s_nested_pending(ns):
    trace = []
    outer = ns.defer.Deferred()
    inner = ns.defer.Deferred()
    inner2 = ns.defer.Deferred()
    outer.addCallback(lambda r: inner)
    outer.addCallback(lambda r: trace.append(("after inner", r)) or inner2)
    outer.addCallback(lambda r: trace.append(("after inner2", norm(r))) or r)
    outer.callback(0)
    trace.append(state(outer))
    inner2.errback(ValueError("v"))
    trace.append(state(inner2))
    inner.callback("i")
    trace.append(state(outer))
    trace.append(state(inner))
    trace.append(state(inner2))
    trace.append(drain(outer))
    return trace


def s_nested_fired(ns):
    outer = ns.defer.Deferred()
    inner = ns.defer.succeed("x")
    failing = ns.defer.fail(KeyError())
    outer.addCallback(lambda r: inner)
    outer.addCallback(lambda r: failing)
    outer.callback(0)
    return [state(inner), state(failing), drain(outer)]


def s_returned_paused_deferred(ns):
    trace = []
    inner = ns.defer.succeed("x")
    inner.pause()
    outer = ns.defer.Deferred()
    outer.addCallback(lambda r: inner)
    outer.callback(0)
    trace.append(state(outer))
    inner.unpause()
    trace.append(state(outer))
    trace.append(state(inner))
    return trace


def s_succeed_with_deferred(ns):
    inner = ns.defer.Deferred()
    wrapped = ns.defer.succeed(inner)
    outer = ns.defer.Deferred()
    outer.addCallback(lambda r: wrapped)
    outer.callback(0)
    trace = [state(outer), state(wrapped)]
    inner.callback(5)
    trace += [state(outer), state(wrapped), state(inner)]
    return trace


def s_pause_unpause(ns):
    trace = []
    d = ns.defer.Deferred()
    d.pause()
    d.addCallback(lambda r: trace.append(("cb", r)) or r)
    d.callback(1)
    trace.append(state(d))
    d.pause()
    d.unpause()
    trace.append(state(d))
    d.unpause()
    trace.append(state(d))
    d.unpause()
    trace.append(state(d))
    return trace


def s_pause_inside_callback(ns):
    trace = []
    d = ns.defer.Deferred()
    d.addCallback(lambda r: d.pause() or r + 1)
    d.addCallback(lambda r: trace.append(("second", r)) or r)
    d.callback(1)
    trace.append(state(d))
    d.addCallback(lambda r: trace.append(("third", r)))
    trace.append(state(d))
    d.unpause()
    trace.append(state(d))
    return trace


def s_reentrant_fire(ns):
    trace = []
    a = ns.defer.Deferred()
    b = ns.defer.Deferred()
    a.addCallback(lambda r: b.callback(r * 2) or r)
    b.addCallback(lambda r: a)
    a.addCallback(lambda r: trace.append(("a2", r)) or "a-end")
    a.callback(3)
    trace += [state(a), state(b)]
    return trace


def s_add_callback_while_running(ns):
    trace = []
    d = ns.defer.Deferred()

    def cb(r):
        d.addCallback(lambda r2: trace.append(("added", r2)) or "x")
        trace.append(state(d))
        return r + 1

    d.addCallback(cb)
    d.addCallback(lambda r: trace.append(("next", r)) or r)
    d.callback(0)
    trace.append(state(d))
    return trace


def s_cancel_variants(ns):
    trace = []
    d1 = ns.defer.Deferred()
    d1.cancel()
    trace.append(attempt(d1.callback, "late"))
    trace.append(attempt(d1.callback, "later"))
    trace.append(drain(d1))

    d2 = ns.defer.Deferred(lambda d: d.callback("by canceller"))
    d2.cancel()
    trace.append(attempt(d2.callback, "late"))
    trace.append(drain(d2))

    calls = []
    d3 = ns.defer.Deferred(calls.append)
    d3.cancel()
    trace.append(len(calls))
    trace.append(attempt(d3.errback, ValueError()))
    trace.append(drain(d3))

    d4 = ns.defer.Deferred(lambda d: d.errback(KeyError("c")))
    d4.cancel()
    trace.append(drain(d4))

    inner = ns.defer.Deferred()
    outer = ns.defer.Deferred()
    outer.addCallback(lambda r: inner)
    outer.callback(None)
    outer.cancel()
    trace += [state(inner), drain(outer)]

    fired = ns.defer.succeed(1)
    fired.cancel()
    trace.append(state(fired))
    return trace


def s_already_called(ns):
    d = ns.defer.Deferred()
    d.callback(1)
    return [
        attempt(d.callback, 2),
        attempt(d.errback, ValueError()),
        attempt(ns.defer.Deferred().errback),
        state(d),
    ]


def s_chain_deferred(ns):
    a = ns.defer.Deferred()
    b = ns.defer.Deferred()
    c = ns.defer.Deferred()
    a.chainDeferred(b)
    b.chainDeferred(c)
    a.errback(KeyError("k"))
    return [state(a), state(b), drain(c)]


def s_timeout(ns):
    trace = []
    clock = ns.Clock()
    d1 = ns.defer.Deferred()
    d1.addTimeout(5, clock)
    clock.advance(5)
    trace.append(drain(d1))
    d2 = ns.defer.Deferred()
    d2.addTimeout(5, clock)
    d2.callback("ok")
    trace += [drain(d2), len(clock.getDelayedCalls())]
    d3 = ns.defer.Deferred(lambda d: d.callback("cancelled into value"))
    d3.addTimeout(1, clock, onTimeoutCancel=lambda r, t: (r, t))
    clock.advance(1)
    trace.append(drain(d3))
    d4 = ns.defer.Deferred()
    d4.addCallback(lambda r: 1 / 0)
    d4.addTimeout(1, clock)
    d4.callback(0)
    trace.append(drain(d4))
    d5 = ns.defer.Deferred()
    d5.addTimeout(3, clock)
    d5.cancel()
    trace += [drain(d5), len(clock.getDelayedCalls())]
    return trace


def s_deferred_list(ns):
    trace = []
    DL = ns.defer.DeferredList
    a, b, c = ns.defer.Deferred(), ns.defer.Deferred(), ns.defer.Deferred()
    dl = DL([a, b, c])
    c.callback("c")
    b.errback(KeyError("b"))
    a.callback("a")
    trace += [drain(dl), state(b)]
    drain(b)

    a, b = ns.defer.Deferred(), ns.defer.Deferred()
    dl = DL([a, b], fireOnOneCallback=True)
    a.errback(ValueError())
    b.callback("b")
    trace += [drain(dl), drain(a)]

    a, b = ns.defer.Deferred(), ns.defer.Deferred()
    dl = DL([a, b], fireOnOneErrback=True, consumeErrors=True)
    b.errback(ValueError("x"))
    a.callback(1)
    trace += [drain(dl), state(a), state(b)]

    trace.append(drain(DL([])))
    trace.append(state(DL([], fireOnOneCallback=True)))
    trace.append(
        drain(DL([ns.defer.succeed(1), ns.defer.fail(KeyError())], consumeErrors=True))
    )

    a, b = ns.defer.Deferred(), ns.defer.Deferred()
    dl = DL([a, b], consumeErrors=True)
    dl.cancel()
    trace.append(drain(dl))
    return trace


def s_gather(ns):
    trace = []
    a, b = ns.defer.Deferred(), ns.defer.Deferred()
    g = ns.defer.gatherResults([a, b])
    b.callback(2)
    a.callback(1)
    trace.append(drain(g))
    a, b = ns.defer.Deferred(), ns.defer.Deferred()
    g = ns.defer.gatherResults([a, b], consumeErrors=True)
    a.errback(KeyError("first"))
    b.errback(ValueError("second"))
    trace += [drain(g), state(a), state(b)]
    trace.append(drain(ns.defer.gatherResults([])))
    fe = ns.defer.FirstError(ns.Failure(KeyError("k")), 3)
    trace += [repr(fe), fe == ns.defer.FirstError(fe.subFailure, 3), fe == "x"]
    return trace


def s_maybe_deferred(ns):
    async def coro():
        return "c"

    f = ns.Failure(KeyError("k"))
    return [
        drain(ns.defer.maybeDeferred(lambda: 1)),
        drain(ns.defer.maybeDeferred(lambda: 1 / 0)),
        drain(ns.defer.maybeDeferred(lambda: f)),
        drain(ns.defer.maybeDeferred(coro)),
        drain(ns.defer.maybeDeferred(lambda: ns.defer.succeed(2))),
        drain(ns.defer.execute(lambda x: x, 3)),
        drain(ns.defer.execute(lambda: {}[0])),
    ]


def s_inline_callbacks(ns):
    trace = []
    d1 = ns.defer.Deferred()

    @ns.defer.inlineCallbacks
    def gen(x):
        try:
            y = yield d1
        except KeyError as e:
            trace.append(("caught", norm(e)))
            y = 10
        z = yield x + y
        w = yield ns.defer.succeed(z * 2)
        if w > 100:
            raise ValueError("big")
        return w

    r = gen(1)
    trace.append(state(r))
    d1.errback(KeyError("k"))
    trace.append(drain(r))
    d2 = ns.defer.Deferred()
    d1 = d2
    r2 = gen(100)
    d2.callback(5)
    trace.append(drain(r2))
    return trace


def s_inline_cancel(ns):
    trace = []
    awaited = ns.defer.Deferred(lambda d: trace.append("inner canceller"))
    later = ns.defer.Deferred()

    @ns.defer.inlineCallbacks
    def gen():
        try:
            yield awaited
        except Exception as e:
            trace.append(("gen saw", type(e).__name__))
            v = yield later
            return v
        return "never"

    r = gen()
    r.addBoth(lambda x: trace.append(("outer fired", norm(x))) or x)
    r.cancel()
    trace.append(state(r))
    later.callback("later value")
    trace.append(drain(r))

    @ns.defer.inlineCallbacks
    def gen2():
        yield ns.defer.Deferred()

    r2 = gen2()
    r2.cancel()
    trace.append(drain(r2))
    return trace


def s_coroutines(ns):
    trace = []
    d = ns.defer.Deferred()

    async def inner():
        return await d

    async def main():
        try:
            await ns.defer.fail(KeyError("k"))
        except KeyError:
            trace.append("caught")
        return (await inner()) + 1

    r = ns.defer.ensureDeferred(main())
    trace.append(state(r))
    d.callback(1)
    trace.append(drain(r))
    trace.append(attempt(ns.defer.ensureDeferred, 3))
    trace.append(attempt(ns.defer.Deferred.fromCoroutine, 3))
    return trace


def s_race(ns):
    trace = []
    a, b, c = ns.defer.Deferred(), ns.defer.Deferred(), ns.defer.Deferred()
    for name, d in (("a", a), ("c", c)):
        d.addErrback(lambda f, name=name: trace.append((name, norm(f))) or f)
    r = ns.defer.race([a, b, c])
    b.callback("b")
    trace += [drain(r), state(a), state(c)]
    a, b = ns.defer.Deferred(), ns.defer.Deferred()
    r = ns.defer.race([a, b])
    b.errback(KeyError())
    a.errback(ValueError())
    trace.append(drain(r))
    a, b = ns.defer.Deferred(), ns.defer.Deferred()
    r = ns.defer.race([a, b])
    r.cancel()
    trace.append(drain(r))
    return trace


def s_lock_semaphore_queue(ns):
    trace = []
    lock = ns.defer.DeferredLock()
    d1, d2, d3 = lock.acquire(), lock.acquire(), lock.acquire()
    d2.cancel()
    trace += [state(d1), drain(d2), state(d3), len(lock.waiting)]
    lock.release()
    trace += [state(d3), lock.locked]
    lock.release()
    trace += [lock.locked, attempt(lock.release)]
    inner = ns.defer.Deferred()
    r = lock.run(lambda: inner)
    trace.append(lock.locked)
    inner.callback("ran")
    trace += [drain(r), lock.locked]

    sem = ns.defer.DeferredSemaphore(2)
    ds = [sem.acquire() for _ in range(4)]
    trace.append([d.called for d in ds])
    sem.release()
    trace += [[d.called for d in ds], sem.tokens]
    trace.append(attempt(ns.defer.DeferredSemaphore, 0))

    q = ns.defer.DeferredQueue(size=2, backlog=1)
    q.put(1)
    q.put(2)
    trace.append(attempt(q.put, 3))
    trace += [drain(q.get()), drain(q.get())]
    g = q.get()
    trace.append(attempt(q.get))
    q.put(4)
    trace.append(drain(g))
    g2 = q.get()
    g2.cancel()
    trace += [drain(g2), len(q.waiting)]
    return trace


def s_failure_api(ns):
    F = ns.Failure

    def thrower():
        raise ValueError("thrown")

    try:
        thrower()
    except ValueError:
        f = F()
    plain = F(KeyError("k"))
    text = f.getTraceback().replace(ns.Failure.__module__, "<mod>")
    return [
        plain.check(KeyError, LookupError),
        plain.check(LookupError),
        plain.check(BaseException),
        plain.check("builtins.KeyError"),
        F(KeyboardInterrupt()).check(KeyboardInterrupt),
        F(KeyboardInterrupt()).check(BaseException),
        plain.parents,
        plain.getErrorMessage(),
        F(ValueError(b"b")).getErrorMessage(),
        F(plain).getErrorMessage(),
        repr(plain).replace(ns.Failure.__module__, "<mod>"),
        str(plain),
        plain.getTraceback(),
        plain.getBriefTraceback(),
        text,
        f.getBriefTraceback(),
        re.sub(r"#\d+", "#N", f.getTraceback(detail="verbose")),
        [fr[:3] for fr in f.frames],
        attempt(plain.trap, ValueError),
        attempt(F),
        F("string").type.__name__,
        F("string").parents,
    ]


def s_failure_clean(ns):
    def thrower():
        raise ValueError("thrown")

    try:
        thrower()
    except ValueError:
        f = ns.Failure(captureVars=True)
    before = f.getTraceback()
    f.cleanFailure()
    return [
        f.tb is None,
        f.getTraceback() == before,
        f.frames[-1][:3],
        sorted(k for k, v in f.frames[-1][3]),
        f.check(ValueError),
    ]


def s_future_cancel(ns):
    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        d = ns.defer.Deferred.fromFuture(fut)
        d.cancel()
        await asyncio.sleep(0)
        fut2 = loop.create_future()
        d2 = ns.defer.Deferred.fromFuture(fut2)
        fut2.set_exception(KeyError("f"))
        await asyncio.sleep(0)
        d3 = ns.defer.Deferred()
        fut3 = d3.asFuture(loop)
        d3.errback(ValueError("v"))
        try:
            await fut3
        except ValueError as e:
            tail = norm(e)
        return [fut.cancelled(), drain(d), drain(d2), tail, state(d3)]

    return asyncio.run(main())


def s_repr(ns):
    d = ns.defer.Deferred()
    t = [repr(d)]
    inner = ns.defer.Deferred()
    d.addCallback(lambda r: inner)
    d.callback(0)
    t.append(repr(d))
    inner.callback([1])
    t.append(repr(d))
    return [norm(x) for x in t]


def s_self_return(ns):
    d = ns.defer.Deferred()

    def selfish(r):
        return d

    d.addCallback(selfish)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d.callback(1)
    return [[(w.category.__name__, str(w.message)) for w in caught], state(d)]


SCENARIOS = [
    s_basic_chain,
    s_args_kwargs,
    s_trap_no_match,
    s_nested_pending,
    s_nested_fired,
    s_returned_paused_deferred,
    s_succeed_with_deferred,
    s_pause_unpause,
    s_pause_inside_callback,
    s_reentrant_fire,
    s_add_callback_while_running,
    s_cancel_variants,
    s_already_called,
    s_chain_deferred,
    s_timeout,
    s_deferred_list,
    s_gather,
    s_maybe_deferred,
    s_inline_callbacks,
    s_inline_cancel,
    s_coroutines,
    s_race,
    s_lock_semaphore_queue,
    s_failure_api,
    s_failure_clean,
    s_future_cancel,
    s_repr,
    s_self_return,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__[2:])
def test_same_trace_as_twisted(scenario):
    """The scenario records the same trace on Twisted and on torsion."""
    expected = scenario(IMPLS["twisted"])
    got = scenario(IMPLS["torsion"])
    assert got == expected
