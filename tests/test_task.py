"""Tests for LoopingCall, deferLater, react and Cooperator in torsion.internet.task."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from torsion.internet import error, task
from torsion.internet.defer import CancelledError, Deferred, fail, succeed
from torsion.internet.task import Clock, LoopingCall
from torsion.internet.testing import (
    assertNoResult,
    failureResultOf,
    flushLoggedErrors,
    successResultOf,
)
from torsion.python.failure import Failure


@pytest.fixture(autouse=True)
def _noLeftoverErrors() -> Iterator[None]:
    flushLoggedErrors()
    yield
    assert flushLoggedErrors() == []


def looping(clock: Clock, f: Callable[..., object], *a: Any, **kw: Any) -> LoopingCall:
    lc = LoopingCall(f, *a, **kw)
    lc.clock = clock
    return lc


# LoopingCall


def test_basic_schedule_now() -> None:
    """start(now=True) calls at once, then every interval, with args and kw."""
    clock = Clock()
    calls: list[tuple[float, Any, Any]] = []
    lc = looping(clock, lambda a, b=None: calls.append((clock.seconds(), a, b)), 1, b=2)
    d = lc.start(1.0)
    assert lc.running is True
    assert calls == [(0.0, 1, 2)]
    clock.pump([0.5, 0.5, 1, 1])
    assert [c[0] for c in calls] == [0.0, 1.0, 2.0, 3.0]
    assertNoResult(d)
    lc.stop()
    assert lc.running is False
    assert successResultOf(d) is lc
    assert clock.getDelayedCalls() == []


def test_delayed_start() -> None:
    """start(now=False) waits one interval before the first call."""
    clock = Clock()
    times: list[float] = []
    lc = looping(clock, lambda: times.append(clock.seconds()))
    lc.start(2, now=False)
    assert times == []
    clock.advance(2)
    assert times == [2]
    clock.advance(2)
    assert times == [2, 4]
    lc.stop()


def test_stop_before_delayed_start_fires_deferred() -> None:
    """Stopping before the first call fires the Deferred without calling f."""
    clock = Clock()
    ran: list[int] = []
    lc = looping(clock, ran.append, 1)
    d = lc.start(5, now=False)
    lc.stop()
    assert successResultOf(d) is lc
    clock.advance(10)
    assert ran == []


def test_stop_inside_call_fires_after_call() -> None:
    """stop() from within f fires the Deferred once f returns."""
    clock = Clock()
    order: list[str] = []

    def f() -> None:
        order.append("call")
        lc.stop()
        order.append("stopped")

    lc = looping(clock, f)
    d = lc.start(1)
    d.addCallback(lambda r: order.append("fired"))
    assert order == ["call", "stopped", "fired"]
    assert clock.getDelayedCalls() == []


def test_bad_interval_and_double_start() -> None:
    """A negative interval is a ValueError; starting twice an AssertionError."""
    clock = Clock()
    lc = looping(clock, lambda: None)
    with pytest.raises(ValueError, match="interval must be >= 0"):
        lc.start(-1)
    assert lc.running is False
    lc.start(1)
    with pytest.raises(AssertionError):
        lc.start(1)
    lc.stop()
    with pytest.raises(AssertionError):
        lc.stop()
    with pytest.raises(AssertionError):
        lc.reset()


def test_failure_errbacks_and_stops() -> None:
    """f raising errbacks the start Deferred and stops the loop."""
    clock = Clock()
    count = [0]

    def f() -> None:
        count[0] += 1
        if count[0] == 3:
            raise ZeroDivisionError("third")

    lc = looping(clock, f)
    d = lc.start(1)
    clock.pump([1, 1, 1, 1])
    failure = failureResultOf(d, ZeroDivisionError)
    assert str(failure.value) == "third"
    assert lc.running is False
    assert count[0] == 3
    assert clock.getDelayedCalls() == []


def test_failure_on_first_call() -> None:
    """An error on the immediate first call errbacks before start returns."""
    clock = Clock()
    lc = looping(clock, lambda: 1 / 0)
    d = lc.start(1)
    failureResultOf(d, ZeroDivisionError)
    assert lc.running is False


def test_waits_for_returned_deferred() -> None:
    """A Deferred returned by f delays the next call until it fires."""
    clock = Clock()
    pending: list[Deferred[None]] = []
    times: list[float] = []

    def f() -> Deferred[None]:
        times.append(clock.seconds())
        d: Deferred[None] = Deferred()
        pending.append(d)
        return d

    lc = looping(clock, f)
    lc.start(1)
    clock.advance(5)
    assert times == [0.0]
    assert clock.getDelayedCalls() == []
    clock.advance(0.25)
    pending[-1].callback(None)
    assert [c.getTime() for c in clock.getDelayedCalls()] == [6.0]
    clock.advance(0.75)
    assert times == [0.0, 6.0]
    lc.stop()


def test_returned_deferred_failing_errbacks() -> None:
    """A failing returned Deferred errbacks the start Deferred."""
    clock = Clock()
    lc = looping(clock, lambda: fail(KeyError("k")))
    d = lc.start(1)
    failureResultOf(d, KeyError)
    assert lc.running is False


def test_stop_while_waiting_on_deferred() -> None:
    """Stopping while f's Deferred is pending fires once that Deferred does."""
    clock = Clock()
    inner: Deferred[None] = Deferred()
    lc = looping(clock, lambda: inner)
    d = lc.start(1)
    lc.stop()
    assertNoResult(d)
    inner.callback(None)
    assert successResultOf(d) is lc
    assert clock.getDelayedCalls() == []


def test_missed_intervals_are_skipped() -> None:
    """After a long pause, one call runs and the schedule stays on the grid."""
    clock = Clock()
    times: list[float] = []
    lc = looping(clock, lambda: times.append(clock.seconds()))
    lc.start(1)
    clock.advance(3.5)
    assert times == [0.0, 3.5]
    assert [c.getTime() for c in clock.getDelayedCalls()] == [4.0]
    clock.advance(0.5)
    assert times == [0.0, 3.5, 4.0]
    lc.stop()


def test_slow_call_skips_intervals() -> None:
    """A call that takes several intervals makes the next one land on the grid."""
    clock = Clock()
    times: list[float] = []

    def slow() -> None:
        times.append(clock.seconds())
        clock.rightNow += 2.5

    lc = looping(clock, slow)
    lc.start(1)
    assert [c.getTime() for c in clock.getDelayedCalls()] == [3.0]
    clock.advance(0.5)
    assert times == [0.0, 3.0]
    assert [c.getTime() for c in clock.getDelayedCalls()] == [6.0]
    lc.stop()


def test_on_boundary_schedules_a_full_interval() -> None:
    """When now falls exactly on the grid, the next call is a full interval."""
    clock = Clock()
    times: list[float] = []
    lc = looping(clock, lambda: times.append(clock.seconds()))
    lc.start(2)
    clock.advance(2)
    assert [c.getTime() for c in clock.getDelayedCalls()] == [4.0]
    lc.stop()


def test_negligible_remainder_uses_full_interval() -> None:
    """A remainder too small to move a large time uses a whole interval."""
    clock = Clock()
    clock.rightNow = 1e16
    lc = looping(clock, lambda: None)
    lc.starttime = 0.0
    lc.interval = 3.0
    assert lc._delayFrom(1e16 + 2) == 3.0
    assert lc._delayFrom(1.0) == 2.0


def test_zero_interval() -> None:
    """Interval 0 reschedules with delay 0 each time."""
    clock = Clock()
    count = [0]

    def f() -> None:
        count[0] += 1
        if count[0] == 5:
            lc.stop()

    lc = looping(clock, f)
    d = lc.start(0)
    assert [c.getTime() for c in clock.getDelayedCalls()] == [0.0]
    clock.advance(0)
    assert count[0] == 5
    assert successResultOf(d) is lc


def test_reset() -> None:
    """reset restarts the interval from now, skipping the pending call."""
    clock = Clock()
    times: list[float] = []
    lc = looping(clock, lambda: times.append(clock.seconds()))
    lc.start(2, now=False)
    clock.advance(1)
    lc.reset()
    assert lc.starttime == 1
    clock.advance(1.5)
    assert times == []
    clock.advance(0.5)
    assert times == [3]
    lc.stop()


def test_with_count_after_delay() -> None:
    """withCount passes the number of intervals elapsed since the last call."""
    clock = Clock()
    counts: list[int] = []
    lc = LoopingCall.withCount(counts.append)
    lc.clock = clock
    lc.start(1)
    assert counts == [1]
    clock.advance(1)
    assert counts == [1, 1]
    clock.advance(3)
    assert counts == [1, 1, 3]
    clock.advance(0.5)
    clock.advance(0.5)
    assert counts == [1, 1, 3, 1]
    lc.stop()


def test_with_count_delayed_start() -> None:
    """With now=False, the first count is 1 at the first interval."""
    clock = Clock()
    counts: list[int] = []
    lc = LoopingCall.withCount(counts.append)
    lc.clock = clock
    lc.start(2, now=False)
    clock.advance(7)
    assert counts == [3]
    lc.stop()


def test_with_count_float_boundary() -> None:
    """withCount never passes 0 and the counts sum to the intervals elapsed."""
    clock = Clock()
    counts: list[int] = []
    lc = LoopingCall.withCount(counts.append)
    lc.clock = clock
    interval = 0.1
    lc.start(interval, now=False)
    for _ in range(10):
        clock.advance(interval)
    total = 0.0
    for _ in range(10):
        total += interval
    clock.advance(1.0 - total)
    assert 0 not in counts
    assert sum(counts) == 10
    lc.stop()


def test_with_count_zero_interval() -> None:
    """With interval 0 the count is always 1."""
    clock = Clock()
    counts: list[int] = []

    def f(n: int) -> None:
        counts.append(n)
        if len(counts) == 3:
            lc.stop()

    lc = LoopingCall.withCount(f)
    lc.clock = clock
    lc.start(0)
    clock.advance(5)
    assert counts == [1, 1, 1]


def test_repr() -> None:
    """repr shows interval, function name, args and kwargs."""

    def tick(x: int, y: int = 0) -> None:
        pass

    lc = LoopingCall(tick, 1, y=2)
    assert repr(lc) == "LoopingCall<None>(test_repr.<locals>.tick, *(1,), **{'y': 2})"
    lc.clock = Clock()
    lc.start(5)
    assert repr(lc).startswith("LoopingCall<5>(")
    lc.stop()


def test_deferred_attribute_is_deprecated() -> None:
    """Reading .deferred warns with DeprecationWarning and returns it."""
    lc = looping(Clock(), lambda: None)
    d = lc.start(1)
    with pytest.warns(DeprecationWarning, match="deferred returned by start"):
        assert lc.deferred is d
    lc.stop()


def test_default_clock_is_lazy() -> None:
    """Creating a LoopingCall does not touch the reactor; assigning clock works."""
    lc = LoopingCall(lambda: None)
    clock = Clock()
    lc.clock = clock
    assert lc.clock is clock


# deferLater


def test_defer_later_calls_function() -> None:
    """deferLater fires with the function's result after the delay."""
    clock = Clock()
    d = task.deferLater(clock, 3, lambda a, b: a + b, 1, b=2)
    clock.advance(2.9)
    assertNoResult(d)
    clock.advance(0.1)
    assert successResultOf(d) == 3


def test_defer_later_without_function() -> None:
    """With no callable the Deferred fires with None."""
    clock = Clock()
    d = task.deferLater(clock, 1)
    clock.advance(1)
    assert successResultOf(d) is None


def test_defer_later_error() -> None:
    """An exception from the function becomes the failure."""
    clock = Clock()
    d = task.deferLater(clock, 1, lambda: 1 / 0)
    clock.advance(1)
    failureResultOf(d, ZeroDivisionError)


def test_defer_later_cancel() -> None:
    """Cancelling fails with CancelledError and removes the timer."""
    clock = Clock()
    ran: list[int] = []
    d = task.deferLater(clock, 1, ran.append, 1)
    d.cancel()
    failureResultOf(d, CancelledError)
    assert clock.getDelayedCalls() == []
    clock.advance(2)
    assert ran == []


# react


class _ClockReactor:
    """A minimal IReactorCore+IReactorTime on a Clock, for react()."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.callLater = self.clock.callLater
        self.seconds = self.clock.seconds
        self.running = False
        self.stopCalls = 0
        self._whenRunning: list[Any] | None = []
        self._before: list[Any] = []

    def callWhenRunning(self, f: Callable[..., object], *a: Any, **kw: Any) -> None:
        if self._whenRunning is None:
            f(*a, **kw)
        else:
            self._whenRunning.append((f, a, kw))

    def addSystemEventTrigger(
        self, phase: str, event: str, f: Callable[..., object], *a: Any
    ) -> None:
        assert (phase, event) == ("before", "shutdown")
        self._before.append((f, a))

    def run(self) -> None:
        self.running = True
        hooks, self._whenRunning = self._whenRunning or [], None
        for f, a, kw in hooks:
            f(*a, **kw)
        while self.running:
            calls = self.clock.getDelayedCalls()
            if not calls:
                raise RuntimeError("No DelayedCalls left")
            self.clock.advance(calls[0].getTime() - self.clock.seconds())
        for f, a in self._before:
            f(*a)

    def stop(self) -> None:
        self.stopCalls += 1
        if not self.running:
            raise error.ReactorNotRunning()
        self.running = False


def _react(main: Callable[..., Any], argv: Any = (), reactor: Any = None) -> Any:
    reactor = reactor or _ClockReactor()
    with pytest.raises(SystemExit) as info:
        task.react(main, argv, _reactor=reactor)
    return info.value.code, reactor


def test_react_async_success() -> None:
    """react runs until main's Deferred fires, then exits with 0."""

    def main(reactor: Any) -> Deferred[None]:
        return task.deferLater(reactor, 2, lambda: None)

    code, reactor = _react(main)
    assert code == 0
    assert reactor.seconds() == 2
    assert reactor.stopCalls == 1


def test_react_sync_success() -> None:
    """An already-fired Deferred stops the reactor once it runs."""
    code, reactor = _react(lambda reactor: succeed(None))
    assert code == 0
    assert reactor.stopCalls == 1


def test_react_failure_logs_and_exits_1() -> None:
    """A failure is logged and the exit code is 1."""

    def main(reactor: Any) -> Deferred[None]:
        return task.deferLater(reactor, 1, lambda: 1 / 0)

    code, _ = _react(main)
    assert code == 1
    assert [f.type for f in flushLoggedErrors(ZeroDivisionError)] == [ZeroDivisionError]


def test_react_system_exit_code() -> None:
    """A SystemExit failure gives its code, without logging."""

    def main(reactor: Any) -> Deferred[None]:
        return fail(SystemExit(7))

    code, _ = _react(main)
    assert code == 7
    assert flushLoggedErrors() == []


def test_react_arguments() -> None:
    """main gets the reactor followed by argv."""
    seen: list[Any] = []

    def main(reactor: Any, *args: Any) -> Deferred[None]:
        seen.append((reactor, args))
        return succeed(None)

    reactor = _ClockReactor()
    _react(main, ("a", 2), reactor)
    assert seen == [(reactor, ("a", 2))]


def test_react_coroutine() -> None:
    """main may be a coroutine function."""

    async def main(reactor: Any) -> str:
        await task.deferLater(reactor, 1)
        return "ok"

    code, reactor = _react(main)
    assert (code, reactor.seconds()) == (0, 1)


def test_react_reactor_stopped_externally() -> None:
    """If shutdown began elsewhere, react does not stop the reactor again."""

    def main(reactor: Any) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        reactor.callLater(
            0, reactor.addSystemEventTrigger, "before", "shutdown", d.callback, None
        )
        reactor.callLater(1, reactor.stop)
        return d

    code, reactor = _react(main)
    assert code == 0
    assert reactor.stopCalls == 1


# Cooperator


def _tickLimit(n: int) -> Callable[[], Callable[[], bool]]:
    def factory() -> Callable[[], bool]:
        left = [n]

        def done() -> bool:
            left[0] -= 1
            return left[0] <= 0

        return done

    return factory


def _clockCooperator(
    clock: Clock, units: int = 1, started: bool = True
) -> task.Cooperator:
    return task.Cooperator(
        terminationPredicateFactory=_tickLimit(units),
        scheduler=lambda f: clock.callLater(0.1, f),
        started=started,
    )


def test_coiterate_runs_to_completion() -> None:
    """coiterate steps the iterator once per tick; fires with the iterator."""
    clock = Clock()
    coop = _clockCooperator(clock)
    seen: list[int] = []

    def gen() -> Iterator[None]:
        for i in range(3):
            seen.append(i)
            yield None

    it = gen()
    d = coop.coiterate(it)
    assert seen == []
    clock.advance(0.1)
    assert seen == [0]
    clock.pump([0.1, 0.1])
    assert seen == [0, 1, 2]
    assertNoResult(d)
    clock.advance(0.1)
    assert successResultOf(d) is it
    assert clock.getDelayedCalls() == []


def test_coiterate_done_deferred() -> None:
    """A given doneDeferred is the one returned and fired."""
    clock = Clock()
    coop = _clockCooperator(clock, units=10)
    done: Deferred[Any] = Deferred()
    it = iter([1, 2])
    assert coop.coiterate(it, done) is done
    clock.advance(0.1)
    assert successResultOf(done) is it


def test_tasks_round_robin() -> None:
    """Several tasks take turns within a tick."""
    clock = Clock()
    coop = _clockCooperator(clock, units=4)
    order: list[str] = []

    def gen(name: str) -> Iterator[None]:
        for i in range(3):
            order.append(f"{name}{i}")
            yield None

    coop.cooperate(gen("a"))
    coop.cooperate(gen("b"))
    clock.advance(0.1)
    assert order == ["a0", "b0", "a1", "b1"]
    clock.advance(0.1)
    assert order == ["a0", "b0", "a1", "b1", "a2", "b2"]


def test_yielded_deferred_pauses_task() -> None:
    """A yielded Deferred pauses the task until it fires."""
    clock = Clock()
    coop = _clockCooperator(clock, units=10)
    gate: Deferred[None] = Deferred()
    seen: list[str] = []

    def gen() -> Iterator[Any]:
        seen.append("before")
        yield gate
        seen.append("after")

    t = coop.cooperate(gen())
    clock.advance(0.1)
    assert seen == ["before"]
    assert clock.getDelayedCalls() == []
    gate.callback(None)
    clock.advance(0.1)
    assert seen == ["before", "after"]
    successResultOf(t.whenDone())


def test_yielded_deferred_failure_fails_task() -> None:
    """A yielded Deferred that fails ends the task with that failure."""
    clock = Clock()
    coop = _clockCooperator(clock)
    gate: Deferred[None] = Deferred()
    t = coop.cooperate(iter([gate]))
    d = t.whenDone()
    clock.advance(0.1)
    gate.errback(ValueError("v"))
    assert str(failureResultOf(d, ValueError).value) == "v"
    with pytest.raises(task.TaskFailed):
        t.pause()


def test_iterator_error_fails_task() -> None:
    """An iterator raising makes whenDone fail and the task TaskFailed."""
    clock = Clock()
    coop = _clockCooperator(clock)

    def gen() -> Iterator[None]:
        yield None
        raise OSError("disk")

    t = coop.cooperate(gen())
    d = t.whenDone()
    clock.pump([0.1, 0.1])
    failureResultOf(d, OSError)
    with pytest.raises(task.TaskFailed):
        t.stop()
    failureResultOf(t.whenDone(), OSError)


def test_pause_resume() -> None:
    """A paused task does no work until resumed as often as paused."""
    clock = Clock()
    coop = _clockCooperator(clock)
    seen: list[int] = []
    t = coop.cooperate(iter(seen.append(i) for i in range(5)))
    t.pause()
    t.pause()
    clock.advance(1)
    assert seen == []
    t.resume()
    clock.advance(1)
    assert seen == []
    t.resume()
    clock.advance(0.1)
    assert seen == [0]
    with pytest.raises(task.NotPaused):
        t.resume()


def test_stop_task() -> None:
    """stop() fails whenDone with TaskStopped; later calls raise TaskStopped."""
    clock = Clock()
    coop = _clockCooperator(clock)
    t = coop.cooperate(iter(range(5)))
    d = t.whenDone()
    t.stop()
    failureResultOf(d, task.TaskStopped)
    with pytest.raises(task.TaskStopped):
        t.stop()
    with pytest.raises(task.TaskStopped):
        t.pause()
    assert clock.getDelayedCalls() == []


def test_done_task_raises_task_done() -> None:
    """Pausing or stopping a finished task raises TaskDone."""
    clock = Clock()
    coop = _clockCooperator(clock, units=10)
    t = coop.cooperate(iter(()))
    clock.advance(0.1)
    with pytest.raises(task.TaskDone):
        t.pause()
    with pytest.raises(task.TaskDone):
        t.stop()


def test_stop_paused_task_then_resume() -> None:
    """A task stopped while paused is not rescheduled by resume."""
    clock = Clock()
    coop = _clockCooperator(clock)
    seen: list[int] = []
    t = coop.cooperate(iter(seen.append(i) for i in range(5)))
    t.pause()
    t.stop()
    t.resume()
    clock.advance(1)
    assert seen == []


def test_cooperator_stop() -> None:
    """Cooperator.stop fails tasks with SchedulerStopped, and new ones too.

    As in Twisted, stop() removes tasks from the list it iterates, so only
    every second task is failed; the others are dropped and stay pending.
    """
    clock = Clock()
    coop = _clockCooperator(clock)
    ds = [coop.coiterate(iter(range(3))) for _ in range(4)]
    assert coop.running is True
    coop.stop()
    assert coop.running is False
    failureResultOf(ds[0], task.SchedulerStopped)
    assertNoResult(ds[1])
    failureResultOf(ds[2], task.SchedulerStopped)
    assertNoResult(ds[3])
    assert clock.getDelayedCalls() == []
    failureResultOf(coop.coiterate(iter(range(3))), task.SchedulerStopped)


def test_cooperator_not_started() -> None:
    """With started=False nothing is scheduled until start()."""
    clock = Clock()
    coop = _clockCooperator(clock, started=False)
    seen: list[int] = []
    coop.cooperate(iter(seen.append(i) for i in range(2)))
    assert coop.running is False
    assert clock.getDelayedCalls() == []
    coop.start()
    assert coop.running is True
    clock.pump([0.1] * 3)
    assert seen == [0, 1]


def test_stop_from_when_done_callback() -> None:
    """Stopping the cooperator from a whenDone callback is safe."""
    clock = Clock()
    coop = _clockCooperator(clock, units=10)
    other = coop.coiterate(iter(range(100)))
    coop.coiterate(iter(())).addCallback(lambda _: coop.stop())
    clock.advance(0.1)
    failureResultOf(other, task.SchedulerStopped)


def test_default_time_slice() -> None:
    """The default termination predicate is a 10ms timer."""
    timer = task._Timer()
    assert timer() is False
    timer.end = 0
    assert timer() is True
    assert task._Timer.MAX_SLICE == 0.01


def test_scheduler_error_hierarchy() -> None:
    """The scheduler errors subclass as in Twisted."""
    assert issubclass(task.SchedulerStopped, task.SchedulerError)
    assert issubclass(task.TaskDone, task.TaskFinished)
    assert issubclass(task.TaskStopped, task.TaskFinished)
    assert issubclass(task.TaskFailed, task.TaskFinished)
    assert issubclass(task.TaskFinished, task.SchedulerError)
    assert issubclass(task.NotPaused, task.SchedulerError)
    assert issubclass(task.SchedulerError, Exception)


def test_global_cooperator() -> None:
    """The module-level cooperate/coiterate use one shared Cooperator."""
    assert isinstance(task._theCooperator, task.Cooperator)
    assert task._theCooperator.running is True


def test_failure_from_task_is_the_original() -> None:
    """The whenDone failure carries the iterator's own exception object."""
    clock = Clock()
    coop = _clockCooperator(clock)
    exc = LookupError("x")

    def gen() -> Iterator[None]:
        raise exc
        yield None

    d = coop.coiterate(gen())
    clock.advance(0.1)
    f = failureResultOf(d)
    assert isinstance(f, Failure)
    assert f.value is exc
    assert re.search("LookupError", f.getTraceback())
