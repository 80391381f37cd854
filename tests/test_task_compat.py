"""The same Clock, LoopingCall, deferLater and Cooperator scenarios on Twisted
and on torsion: their observable outputs must be equal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torsion.internet import defer as x_defer
from torsion.internet import error as x_error
from torsion.internet import task as x_task
from twisted.internet import defer as t_defer
from twisted.internet import error as t_error
from twisted.internet import task as t_task

TWISTED = SimpleNamespace(task=t_task, defer=t_defer, error=t_error, name="twisted")
TORSION = SimpleNamespace(task=x_task, defer=x_defer, error=x_error, name="torsion")

Scenario = Callable[[SimpleNamespace], list[Any]]


def both(scenario: Scenario) -> list[Any]:
    """Run ``scenario`` on both libraries, assert equal outputs, return one."""
    expected = scenario(TWISTED)
    actual = scenario(TORSION)
    assert actual == expected
    return actual


def outcome(lib: SimpleNamespace, d: Any) -> Any:
    """Describe a Deferred's state in library-neutral terms; consumes failures."""
    box: list[Any] = []

    def keep(result: Any) -> Any:
        box.append(result)
        return None if type(result).__name__ == "Failure" else result

    d.addBoth(keep)
    if not box:
        return ("pending",)
    result = box[0]
    failureType = type(result)
    if failureType.__name__ == "Failure":
        return ("failure", result.type.__name__, str(result.value))
    if isinstance(result, lib.task.LoopingCall):
        return ("success", "the LoopingCall")
    return ("success", result)


def test_clock_ordering_with_reset_delay_cancel() -> None:
    """Equal deadlines, resets inside calls, delays and cancels agree."""

    def scenario(lib: SimpleNamespace) -> list[Any]:
        clock = lib.task.Clock()
        log: list[Any] = []

        def note(name: str) -> None:
            log.append((name, clock.seconds()))

        calls = {
            n: clock.callLater(d, note, n)
            for n, d in zip("abcde", [1, 1, 2, 2, 3], strict=True)
        }
        calls["a"].reset(2)
        calls["c"].delay(-1.5)
        calls["e"].cancel()

        def inner() -> None:
            note("inner")
            calls["d"].reset(0.5)
            clock.callLater(0, note, "zero")

        clock.callLater(1, inner)
        clock.pump([0.25] * 12)
        for call in calls.values():
            log.append((call.active(), call.called, call.cancelled))
        for exc_name, op in (
            ("cancel", "cancel"),
            ("reset", "reset"),
            ("delay", "delay"),
        ):
            for key in "ae":
                try:
                    method = getattr(calls[key], op)
                    method() if op == "cancel" else method(1)
                except Exception as e:
                    log.append((exc_name, key, type(e).__name__, str(e)))
        return log

    both(scenario)


def test_clock_exception_leaves_later_calls() -> None:
    """An exception from a call propagates identically."""

    def scenario(lib: SimpleNamespace) -> list[Any]:
        clock = lib.task.Clock()
        log: list[Any] = []
        clock.callLater(1, log.append, "first")
        clock.callLater(1, lambda: 1 / 0)
        clock.callLater(1, log.append, "third")
        try:
            clock.advance(1)
        except ZeroDivisionError:
            log.append("raised")
        log.append(len(clock.getDelayedCalls()))
        clock.advance(0)
        log.append(len(clock.getDelayedCalls()))
        return log

    assert both(scenario) == ["first", "raised", 1, "third", 0]


def test_looping_call_lifecycle() -> None:
    """Calls, skips, stop inside f, and the start Deferred agree."""

    def scenario(lib: SimpleNamespace) -> list[Any]:
        clock = lib.task.Clock()
        log: list[Any] = []

        def f(tag: str) -> None:
            log.append((tag, clock.seconds()))
            if clock.seconds() >= 9:
                lc.stop()

        lc = lib.task.LoopingCall(f, "x")
        lc.clock = clock
        d = lc.start(1.5)
        for step in [0.5, 1, 3.2, 0.1, 0.3, 2.9, 4]:
            clock.advance(step)
            log.append(("times", [c.getTime() for c in clock.getDelayedCalls()]))
        log.append(outcome(lib, d))
        log.append(lc.running)
        return log

    both(scenario)


def test_looping_call_deferred_results() -> None:
    """Returned Deferreds delay the schedule; a failure ends the loop."""

    def scenario(lib: SimpleNamespace) -> list[Any]:
        clock = lib.task.Clock()
        log: list[Any] = []
        pending: list[Any] = []

        def f() -> Any:
            log.append(("call", clock.seconds()))
            d = lib.defer.Deferred()
            pending.append(d)
            return d

        lc = lib.task.LoopingCall(f)
        lc.clock = clock
        d = lc.start(1, now=False)
        clock.advance(1)
        clock.advance(2.5)
        pending[-1].callback(None)
        log.append(("next", [c.getTime() for c in clock.getDelayedCalls()]))
        clock.advance(0.5)
        pending[-1].errback(ValueError("no"))
        log.append(outcome(lib, d))
        log.append(lc.running)
        return log

    both(scenario)


def test_looping_call_reset_and_repr_interval() -> None:
    """reset() timing agrees."""

    def scenario(lib: SimpleNamespace) -> list[Any]:
        clock = lib.task.Clock()
        log: list[Any] = []
        lc = lib.task.LoopingCall(lambda: log.append(clock.seconds()))
        lc.clock = clock
        lc.start(2)
        clock.advance(1.25)
        lc.reset()
        clock.pump([1, 1, 1, 1])
        lc.stop()
        log.append(repr(lc).split("(")[0])
        return log

    both(scenario)


def test_with_count() -> None:
    """withCount counts agree over an irregular schedule."""

    def scenario(lib: SimpleNamespace) -> list[Any]:
        clock = lib.task.Clock()
        counts: list[Any] = []
        lc = lib.task.LoopingCall.withCount(
            lambda n: counts.append((n, clock.seconds()))
        )
        lc.clock = clock
        lc.start(0.1, now=True)
        clock.pump([0.1] * 5 + [0.35, 0.05, 1.0] + [0.1] * 5)
        lc.stop()
        return counts

    both(scenario)


def test_defer_later() -> None:
    """deferLater success, failure and cancellation agree."""

    def scenario(lib: SimpleNamespace) -> list[Any]:
        clock = lib.task.Clock()
        ok = lib.task.deferLater(clock, 1, lambda a, b: a * b, 6, b=7)
        bad = lib.task.deferLater(clock, 2, lambda: {}["k"])
        cancelled = lib.task.deferLater(clock, 3)
        plain = lib.task.deferLater(clock, 0.5)
        log = [outcome(lib, ok)]
        clock.advance(2)
        cancelled.cancel()
        log += [outcome(lib, d) for d in (ok, bad, cancelled, plain)]
        log.append(len(clock.getDelayedCalls()))
        return log

    log = both(scenario)
    assert log[0] == ("pending",)
    assert log[1] == ("success", 42)


def _cooperatorScenario(lib: SimpleNamespace) -> list[Any]:
    clock = lib.task.Clock()
    budget = [0]

    def factory() -> Callable[[], bool]:
        budget[0] = 3

        def done() -> bool:
            budget[0] -= 1
            return budget[0] <= 0

        return done

    coop = lib.task.Cooperator(
        terminationPredicateFactory=factory,
        scheduler=lambda f: clock.callLater(0.01, f),
    )
    log: list[Any] = []
    gate = lib.defer.Deferred()

    def worker(name: str, n: int, wait: Any = None) -> Iterator[Any]:
        for i in range(n):
            log.append((name, i))
            if wait is not None and i == 1:
                yield wait
            else:
                yield None

    def broken() -> Iterator[Any]:
        log.append(("broken", 0))
        yield None
        raise RuntimeError("boom")

    ta = coop.cooperate(worker("a", 4))
    tb = coop.cooperate(worker("b", 3, gate))
    dc = coop.coiterate(broken())
    td = coop.cooperate(worker("d", 10))
    results = {
        "a": ta.whenDone(),
        "b": tb.whenDone(),
        "c": dc,
        "d": td.whenDone(),
    }
    clock.advance(0.01)
    td.pause()
    clock.pump([0.01] * 2)
    gate.callback(None)
    td.resume()
    clock.pump([0.01] * 2)
    td.stop()
    for op in (td.stop, td.pause, td.resume):
        try:
            op()
        except Exception as e:
            log.append(("error", type(e).__name__))
    clock.pump([0.01] * 3)
    for key, d in results.items():
        o = outcome(lib, d)
        log.append((key, o[0], o[1] if o[0] == "failure" else None))
    late = coop.coiterate(worker("late", 2))
    coop.stop()
    log.append(("late", outcome(lib, late)[:2]))
    log.append(("running", coop.running))
    log.append(("pending", len(clock.getDelayedCalls())))
    return log


def test_cooperator() -> None:
    """Round robin, pause/resume, yielded Deferreds, errors and stop agree."""
    both(_cooperatorScenario)


def test_cooperator_stop_with_many_tasks() -> None:
    """stop() with several tasks leaves the same ones failed/pending."""

    def scenario(lib: SimpleNamespace) -> list[Any]:
        clock = lib.task.Clock()
        coop = lib.task.Cooperator(scheduler=lambda f: clock.callLater(0.1, f))
        ds = [coop.coiterate(iter(range(3))) for _ in range(5)]
        paused = coop.cooperate(iter(range(3)))
        paused.pause()
        pausedDone = paused.whenDone()
        coop.stop()
        return [outcome(lib, d)[:2] for d in [*ds, pausedDone]]

    both(scenario)


@settings(max_examples=150, deadline=None)
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("call"), st.integers(0, 8).map(lambda n: n / 4)),
            st.tuples(st.just("cancel"), st.integers(0, 20)),
            st.tuples(st.just("reset"), st.integers(0, 20), st.integers(0, 8)),
            st.tuples(st.just("delay"), st.integers(0, 20), st.integers(-8, 8)),
            st.tuples(st.just("advance"), st.integers(0, 8).map(lambda n: n / 4)),
        ),
        max_size=40,
    )
)
def test_clock_random_operations(ops: list[tuple[Any, ...]]) -> None:
    """Random callLater/cancel/reset/delay/advance sequences agree."""

    def scenario(lib: SimpleNamespace) -> list[Any]:
        clock = lib.task.Clock()
        log: list[Any] = []
        calls: list[Any] = []
        for op in ops:
            kind = op[0]
            if kind == "call":
                n = len(calls)
                calls.append(
                    clock.callLater(op[1], lambda n=n: log.append((n, clock.seconds())))
                )
            elif kind == "advance":
                clock.advance(op[1])
            elif calls:
                call = calls[op[1] % len(calls)]
                try:
                    if kind == "cancel":
                        call.cancel()
                    elif kind == "reset":
                        call.reset(op[2] / 4)
                    else:
                        call.delay(op[2] / 4)
                except (lib.error.AlreadyCalled, lib.error.AlreadyCancelled) as e:
                    log.append(type(e).__name__)
        clock.advance(100)
        log.append([c.getTime() for c in clock.getDelayedCalls()])
        return log

    both(scenario)


@settings(max_examples=150, deadline=None)
@given(
    interval=st.integers(0, 12).map(lambda n: n / 4),
    now=st.booleans(),
    steps=st.lists(st.integers(0, 40).map(lambda n: n / 8), max_size=25),
    counting=st.booleans(),
)
def test_looping_call_random_schedule(
    interval: float, now: bool, steps: list[float], counting: bool
) -> None:
    """Random intervals and advances give the same call times and counts."""

    def scenario(lib: SimpleNamespace) -> list[Any]:
        clock = lib.task.Clock()
        log: list[Any] = []
        calls = [0]

        def f(*count: int) -> None:
            calls[0] += 1
            log.append((count, clock.seconds()))
            if calls[0] > 200:
                lc.stop()

        lc = lib.task.LoopingCall.withCount(f) if counting else lib.task.LoopingCall(f)
        lc.clock = clock
        d = lc.start(interval, now=now)
        for step in steps:
            if not lc.running:
                break
            clock.advance(step)
        if lc.running:
            lc.stop()
        log.append(outcome(lib, d))
        return log

    both(scenario)


@pytest.mark.parametrize("lib", [TWISTED, TORSION], ids=lambda lib: lib.name)
def test_scenarios_are_not_vacuous(lib: SimpleNamespace) -> None:
    """The shared scenario produces the expected concrete output."""
    log = _cooperatorScenario(lib)
    assert log[:3] == [("a", 0), ("b", 0), ("broken", 0)]
    assert ("c", "failure", "RuntimeError") in log
    assert ("d", "failure", "TaskStopped") in log
    assert ("a", "success", None) in log
    assert ("late", ("failure", "SchedulerStopped")) in log
