"""Property tests: random callback/errback chains give the result a plain model
of the chain predicts, on torsion and on Twisted alike."""

from __future__ import annotations

from typing import Any

import torsion.internet.defer as to_defer
import torsion.python.failure as to_failure
import twisted.internet.defer as tw_defer
import twisted.python.failure as tw_failure
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

IMPLS = [(to_defer, to_failure.Failure), (tw_defer, tw_failure.Failure)]


class BoomA(Exception):
    """Raised for even tags."""


class BoomB(Exception):
    """Raised for odd tags."""


def make_exc(tag: int) -> Exception:
    """The exception carrying ``tag``."""
    return (BoomA if tag % 2 == 0 else BoomB)(tag)


# An op is what a callback or errback does with its input.
ops = st.one_of(
    st.tuples(st.just("value"), st.integers(0, 50)),
    st.tuples(st.just("inc"), st.integers(1, 5)),
    st.tuples(st.just("raise"), st.integers(0, 9)),
    st.tuples(st.just("failure"), st.integers(0, 9)),
    st.tuples(st.just("succeed"), st.integers(0, 50)),
    st.tuples(st.just("fail"), st.integers(0, 9)),
    st.tuples(st.just("pending"), st.integers(0, 50)),
    st.tuples(st.just("pending_fail"), st.integers(0, 9)),
    st.tuples(st.just("pending_inc"), st.integers(1, 5)),
    st.tuples(st.just("trap_a"), st.just(0)),
)

steps = st.one_of(
    st.tuples(st.just("cb"), ops),
    st.tuples(st.just("eb"), ops),
    st.tuples(st.just("both"), ops),
    st.tuples(st.just("pair"), ops, ops),
)

chains = st.tuples(
    st.one_of(
        st.tuples(st.just("ok"), st.integers(0, 50)),
        st.tuples(st.just("fail"), st.integers(0, 9)),
    ),
    st.lists(steps, max_size=12),
    st.integers(0, 12),
    st.booleans(),
)


def model_op(op: tuple[Any, ...], state: tuple[str, Any]) -> tuple[str, Any]:
    """What ``op`` turns ``state`` into, by the rules of the Deferred docs."""
    kind, arg = op
    if kind in ("value", "succeed", "pending"):
        return ("ok", arg)
    if kind in ("raise", "failure", "fail", "pending_fail"):
        return ("fail", arg)
    if kind in ("inc", "pending_inc"):
        if state[0] == "ok":
            return ("ok", state[1] + arg)
        return ("ok", -1)
    if kind == "trap_a":
        if state[0] == "fail":
            return ("ok", 100) if state[1] % 2 == 0 else state
        return ("ok", 200)
    raise AssertionError(kind)


def model(start: tuple[str, Any], chain: list[tuple[Any, ...]]) -> tuple[str, Any]:
    """Run the chain on plain values."""
    state = start
    for step in chain:
        kind = step[0]
        ok = state[0] == "ok"
        if kind == "cb":
            if ok:
                state = model_op(step[1], state)
        elif kind == "eb":
            if not ok:
                state = model_op(step[1], state)
        elif kind == "both":
            state = model_op(step[1], state)
        else:
            state = model_op(step[1] if ok else step[2], state)
    return state


def real_op(op: tuple[Any, ...], defer: Any, Failure: Any, pending: list[Any]):
    """A callable doing ``op`` with a real Deferred implementation."""
    kind, arg = op

    def run(result: Any) -> Any:
        isFailure = isinstance(result, Failure)
        if kind == "value":
            return arg
        if kind == "inc":
            return -1 if isFailure else result + arg
        if kind == "raise":
            raise make_exc(arg)
        if kind == "failure":
            return Failure(make_exc(arg))
        if kind == "succeed":
            return defer.succeed(arg)
        if kind == "fail":
            return defer.fail(make_exc(arg))
        if kind == "trap_a":
            if not isFailure:
                return 200
            result.trap(BoomA)
            return 100
        d = defer.Deferred()
        if kind == "pending":
            pending.append((d, arg))
        elif kind == "pending_fail":
            pending.append((d, make_exc(arg)))
        else:
            d.addCallback(lambda r: -1 if r is None else r + arg)
            pending.append((d, None if isFailure else result))
        return d

    return run


def run_real(defer: Any, Failure: Any, start, chain, fire_at: int, pause: bool):
    """Build and fire the chain; return the final state like the model."""
    pending: list[Any] = []
    d = defer.Deferred()
    fire_at = min(fire_at, len(chain))
    if pause:
        d.pause()

    def add(step: tuple[Any, ...]) -> None:
        kind = step[0]
        if kind == "cb":
            d.addCallback(real_op(step[1], defer, Failure, pending))
        elif kind == "eb":
            d.addErrback(real_op(step[1], defer, Failure, pending))
        elif kind == "both":
            d.addBoth(real_op(step[1], defer, Failure, pending))
        else:
            d.addCallbacks(
                real_op(step[1], defer, Failure, pending),
                real_op(step[2], defer, Failure, pending),
            )

    for step in chain[:fire_at]:
        add(step)
    if start[0] == "ok":
        d.callback(start[1])
    else:
        d.errback(make_exc(start[1]))
    for step in chain[fire_at:]:
        add(step)
        fire_pending(pending)
    if pause:
        d.unpause()
    fire_pending(pending)
    box: list[Any] = []
    d.addBoth(box.append)
    assert len(box) == 1
    final = box[0]
    if isinstance(final, Failure):
        assert type(final.value) is type(make_exc(final.value.args[0]))
        return ("fail", final.value.args[0])
    return ("ok", final)


def fire_pending(pending: list[Any]) -> None:
    """Fire the Deferreds returned by callbacks, oldest first, until none remain."""
    while pending:
        d, value = pending.pop(0)
        if isinstance(value, Exception):
            d.errback(value)
        else:
            d.callback(value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chains)
def test_random_chain_matches_model(case):
    """torsion and Twisted both compute what the model predicts."""
    start, chain, fire_at, pause = case
    expected = model(start, chain)
    for defer, Failure in IMPLS:
        assert run_real(defer, Failure, start, chain, fire_at, pause) == expected


yields = st.lists(
    st.one_of(
        st.tuples(st.just("ok"), st.integers(0, 20)),
        st.tuples(st.just("fail"), st.integers(0, 9)),
        st.tuples(st.just("later"), st.integers(0, 20)),
        st.tuples(st.just("later_fail"), st.integers(0, 9)),
        st.tuples(st.just("plain"), st.integers(0, 20)),
    ),
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(yields)
def test_inline_callbacks_matches_model(plan):
    """An inlineCallbacks generator summing yielded results, catching BoomA and
    letting BoomB escape, matches the model."""
    total = 0
    expected: tuple[str, Any] | None = None
    for kind, arg in plan:
        if kind in ("ok", "later", "plain"):
            total += arg
        elif arg % 2 == 0:
            total += 1000
        else:
            expected = ("fail", arg)
            break
    if expected is None:
        expected = ("ok", total)

    for defer, Failure in IMPLS:
        waiting: list[Any] = []

        @defer.inlineCallbacks
        def gen(defer=defer, waiting=waiting):
            acc = 0
            for kind, arg in plan:
                if kind == "ok":
                    item = defer.succeed(arg)
                elif kind == "fail":
                    item = defer.fail(make_exc(arg))
                elif kind == "plain":
                    item = arg
                else:
                    item = defer.Deferred()
                    waiting.append((item, arg if kind == "later" else make_exc(arg)))
                try:
                    acc += yield item
                except BoomA:
                    acc += 1000
            return acc

        d = gen()
        fire_pending(waiting)
        box: list[Any] = []
        d.addBoth(box.append)
        final = box[0]
        got = (
            ("fail", final.value.args[0])
            if isinstance(final, Failure)
            else ("ok", final)
        )
        assert got == expected
