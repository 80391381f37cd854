"""Scheduling helpers: LoopingCall, Clock, deferLater, react, Cooperator."""

from __future__ import annotations

import importlib
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, NoReturn, TypeVar, cast

from zope.interface import implementer

from torsion.internet._delayedcall import DelayedCall, callableName, safeRepr
from torsion.internet.defer import Deferred, ensureDeferred, maybeDeferred
from torsion.internet.error import ReactorNotRunning
from torsion.internet.interfaces import IReactorTime
from torsion.python.failure import Failure

__all__ = [
    "LoopingCall",
    "Clock",
    "SchedulerStopped",
    "Cooperator",
    "coiterate",
    "deferLater",
    "react",
]

_T = TypeVar("_T")


def _installedReactor() -> Any:
    return importlib.import_module("torsion.internet.reactor")


class LoopingCall:
    """Call ``f(*a, **kw)`` every ``interval`` seconds until stopped.

    If ``f`` returns a Deferred, the next call is scheduled only once it has
    fired.  ``clock`` is the IReactorTime used (the global reactor unless
    assigned before ``start``).
    """

    call: Any = None
    running = False
    _deferred: Deferred[LoopingCall] | None = None
    interval: float | None = None
    _runAtStart = False
    starttime: float | None = None
    _realLastTime: float | None = None
    _clock: Any = None

    def __init__(self, f: Callable[..., object], *a: object, **kw: object) -> None:
        self.f = f
        self.a = a
        self.kw = kw

    @property
    def clock(self) -> Any:
        """The IReactorTime provider; defaults to the installed reactor."""
        if self._clock is None:
            self._clock = _installedReactor()
        return self._clock

    @clock.setter
    def clock(self, value: Any) -> None:
        self._clock = value

    @property
    def deferred(self) -> Deferred[LoopingCall] | None:
        """Deprecated: the Deferred returned by ``start``."""
        warnings.warn(
            "torsion.internet.task.LoopingCall.deferred was deprecated in "
            "Twisted 16.0.0; please use the deferred returned by start() instead",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._deferred

    @classmethod
    def withCount(cls, countCallable: Callable[[int], object]) -> LoopingCall:
        """Make a LoopingCall passing how many intervals elapsed since last call."""

        def counter() -> object:
            now = lc.clock.seconds()
            if lc.interval == 0:
                lc._realLastTime = now
                return countCallable(1)
            previous = lc._realLastTime
            if previous is None:
                if lc.starttime is None:
                    raise AssertionError("LoopingCall called before it was started")
                previous = lc.starttime
                if lc._runAtStart:
                    if lc.interval is None:
                        raise AssertionError("Looping call called with None interval")
                    previous -= lc.interval
            count = lc._intervalOf(now) - lc._intervalOf(previous)
            if count > 0:
                lc._realLastTime = now
                return countCallable(count)
            return None

        lc = cls(counter)
        return lc

    def _intervalOf(self, t: float) -> int:
        assert self.starttime is not None
        assert self.interval is not None
        return int((t - self.starttime) / self.interval)

    def start(self, interval: float, now: bool = True) -> Deferred[LoopingCall]:
        """Start calling; the Deferred fires with self on ``stop()``.

        It errbacks if ``f`` raises or a Deferred it returned fails.
        """
        if self.running:
            raise AssertionError("Tried to start an already running LoopingCall.")
        if interval < 0:
            raise ValueError("interval must be >= 0")
        self.running = True
        d: Deferred[LoopingCall] = Deferred()
        self._deferred = d
        self.starttime = self.clock.seconds()
        self.interval = interval
        self._runAtStart = now
        if now:
            self()
        else:
            self._scheduleFrom(self.starttime)
        return d

    def stop(self) -> None:
        """Stop calling ``f``; fires the start Deferred unless a call is pending."""
        if not self.running:
            raise AssertionError("Tried to stop a LoopingCall that was not running.")
        self.running = False
        if self.call is not None:
            self.call.cancel()
            self.call = None
            d, self._deferred = self._deferred, None
            assert d is not None
            d.callback(self)

    def reset(self) -> None:
        """Skip the next call and restart the interval timer from now."""
        if not self.running:
            raise AssertionError("Tried to reset a LoopingCall that was not running.")
        if self.call is not None:
            self.call.cancel()
            self.call = None
            self.starttime = self.clock.seconds()
            self._scheduleFrom(self.starttime)

    def __call__(self) -> None:
        """Run one iteration (called by the clock)."""

        def done(result: object) -> None:
            if self.running:
                self._scheduleFrom(self.clock.seconds())
            else:
                d, self._deferred = self._deferred, None
                assert d is not None
                d.callback(self)

        def failed(failure: Failure) -> None:
            self.running = False
            d, self._deferred = self._deferred, None
            assert d is not None
            d.errback(failure)

        self.call = None
        result = maybeDeferred(self.f, *self.a, **self.kw)
        result.addCallback(done)
        result.addErrback(failed)

    def _scheduleFrom(self, when: float) -> None:
        self.call = self.clock.callLater(self._delayFrom(when), self)

    def _delayFrom(self, when: float) -> float:
        interval = self.interval
        assert interval is not None
        if interval == 0:
            return 0
        assert self.starttime is not None
        remaining = interval - ((when - self.starttime) % interval)
        if when == when + remaining:
            return interval
        return remaining

    def __repr__(self) -> str:
        return (
            f"LoopingCall<{self.interval!r}>({callableName(self.f)}, "
            f"*{safeRepr(self.a)}, **{safeRepr(self.kw)})"
        )


class SchedulerError(Exception):
    """Base of the errors about a Cooperator or task in the wrong state."""


class SchedulerStopped(SchedulerError):
    """The Cooperator was stopped, or is stopped."""


class TaskFinished(SchedulerError):
    """The task has already finished, one way or another."""


class TaskDone(TaskFinished):
    """The task already completed normally."""


class TaskStopped(TaskFinished):
    """The task was stopped."""


class TaskFailed(TaskFinished):
    """The task's iterator raised an exception."""


class NotPaused(SchedulerError):
    """``resume()`` was called on a task that was not paused."""


class _Timer:
    MAX_SLICE = 0.01

    def __init__(self) -> None:
        self.end = time.time() + self.MAX_SLICE

    def __call__(self) -> bool:
        return time.time() >= self.end


_EPSILON = 0.00000001


def _defaultScheduler(callable: Callable[[], None]) -> Any:
    return _installedReactor().callLater(_EPSILON, callable)


_I = TypeVar("_I", bound=Iterator[object])


class CooperativeTask(Generic[_I]):
    """A task in a Cooperator: can be paused, resumed, stopped and awaited.

    Create it with ``Cooperator.cooperate``.
    """

    def __init__(self, iterator: _I, cooperator: Cooperator) -> None:
        self._iterator = iterator
        self._cooperator = cooperator
        self._deferreds: list[Deferred[_I]] = []
        self._pauseCount = 0
        self._completionState: SchedulerError | None = None
        self._completionResult: Any = None
        cooperator._addTask(self)

    def whenDone(self) -> Deferred[_I]:
        """A Deferred firing with the iterator when done, or failing."""
        d: Deferred[_I] = Deferred()
        if self._completionState is None:
            self._deferreds.append(d)
        else:
            d.callback(self._completionResult)
        return d

    def pause(self) -> None:
        """Pause the task; each pause needs a matching ``resume``."""
        self._checkFinish()
        self._pauseCount += 1
        if self._pauseCount == 1:
            self._cooperator._removeTask(self)

    def resume(self) -> None:
        """Undo one ``pause``; NotPaused if the task is not paused."""
        if self._pauseCount == 0:
            raise NotPaused()
        self._pauseCount -= 1
        if self._pauseCount == 0 and self._completionState is None:
            self._cooperator._addTask(self)

    def _completeWith(self, state: SchedulerError, result: Any) -> None:
        self._completionState = state
        self._completionResult = result
        if not self._pauseCount:
            self._cooperator._removeTask(self)
        for d in self._deferreds:
            d.callback(result)

    def stop(self) -> None:
        """Stop the task; its ``whenDone`` Deferreds fail with TaskStopped."""
        self._checkFinish()
        self._completeWith(TaskStopped(), Failure(TaskStopped()))

    def _checkFinish(self) -> None:
        if self._completionState is not None:
            raise self._completionState

    def _oneWorkUnit(self) -> None:
        try:
            result = next(self._iterator)
        except StopIteration:
            self._completeWith(TaskDone(), self._iterator)
        except BaseException:
            self._completeWith(TaskFailed(), Failure())
        else:
            if isinstance(result, Deferred):
                self.pause()

                def failLater(failure: Failure) -> None:
                    self._completeWith(TaskFailed(), failure)

                result.addCallbacks(lambda _: self.resume(), failLater)


class Cooperator:
    """Runs iterators a step at a time, sharing time slices between them.

    An iterator yielding a Deferred is paused until that Deferred fires.
    """

    _mustScheduleOnStart = False

    def __init__(
        self,
        terminationPredicateFactory: Callable[[], Callable[[], bool]] = _Timer,
        scheduler: Callable[[Callable[[], None]], Any] = _defaultScheduler,
        started: bool = True,
    ) -> None:
        self._tasks: list[CooperativeTask[Any]] = []
        self._metarator: Iterator[CooperativeTask[Any]] = iter(())
        self._terminationPredicateFactory = terminationPredicateFactory
        self._scheduler = scheduler
        self._delayedCall: Any = None
        self._stopped = False
        self._started = started

    def coiterate(
        self, iterator: _I, doneDeferred: Deferred[_I] | None = None
    ) -> Deferred[_I]:
        """Cooperate on ``iterator``; return a Deferred firing when it is done."""
        if doneDeferred is None:
            doneDeferred = Deferred()
        CooperativeTask(iterator, self).whenDone().chainDeferred(doneDeferred)
        return doneDeferred

    def cooperate(self, iterator: _I) -> CooperativeTask[_I]:
        """Start running ``iterator`` as a task; return its CooperativeTask."""
        return CooperativeTask(iterator, self)

    def _addTask(self, task: CooperativeTask[Any]) -> None:
        self._tasks.append(task)
        if self._stopped:
            task._completeWith(SchedulerStopped(), Failure(SchedulerStopped()))
        else:
            self._reschedule()

    def _removeTask(self, task: CooperativeTask[Any]) -> None:
        self._tasks.remove(task)
        if not self._tasks and self._delayedCall:
            self._delayedCall.cancel()
            self._delayedCall = None

    def _tasksWhileNotStopped(self) -> Iterator[CooperativeTask[Any]]:
        terminator = self._terminationPredicateFactory()
        while self._tasks:
            for task in self._metarator:
                yield task
                if terminator():
                    return
            self._metarator = iter(self._tasks)

    def _tick(self) -> None:
        self._delayedCall = None
        for task in self._tasksWhileNotStopped():
            task._oneWorkUnit()
        self._reschedule()

    def _reschedule(self) -> None:
        if not self._started:
            self._mustScheduleOnStart = True
            return
        if self._delayedCall is None and self._tasks:
            self._delayedCall = self._scheduler(self._tick)

    def start(self) -> None:
        """Begin (or resume) scheduling steps."""
        self._stopped = False
        self._started = True
        if self._mustScheduleOnStart:
            del self._mustScheduleOnStart
            self._reschedule()

    def stop(self) -> None:
        """Stop scheduling; every task's Deferreds fail with SchedulerStopped."""
        self._stopped = True
        for task in self._tasks:
            task._completeWith(SchedulerStopped(), Failure(SchedulerStopped()))
        self._tasks = []
        if self._delayedCall is not None:
            self._delayedCall.cancel()
            self._delayedCall = None

    @property
    def running(self) -> bool:
        """True if started and not stopped."""
        return self._started and not self._stopped


_theCooperator = Cooperator()


def coiterate(iterator: _I) -> Deferred[_I]:
    """Run ``iterator`` on the global Cooperator; a Deferred fires when done."""
    return _theCooperator.coiterate(iterator)


def cooperate(iterator: _I) -> CooperativeTask[_I]:
    """Run ``iterator`` on the global Cooperator; return its task."""
    return _theCooperator.cooperate(iterator)


@implementer(IReactorTime)
class Clock:
    """A fake IReactorTime whose time moves only when ``advance`` is called.

    Calls due at the same time run in the order they were scheduled.
    """

    rightNow = 0.0

    def __init__(self) -> None:
        self.calls: list[DelayedCall] = []

    def seconds(self) -> float:
        """Return this clock's current time."""
        return self.rightNow

    def _sortCalls(self) -> None:
        self.calls.sort(key=lambda call: call.getTime())

    def callLater(
        self, delay: float, callable: Callable[..., object], *args: object, **kw: object
    ) -> DelayedCall:
        """Schedule ``callable(*args, **kw)`` ``delay`` seconds from now."""
        call = DelayedCall(
            self.seconds() + delay,
            callable,
            args,
            kw,
            self.calls.remove,
            lambda c: None,
            self.seconds,
        )
        self.calls.append(call)
        self._sortCalls()
        return call

    def getDelayedCalls(self) -> Sequence[DelayedCall]:
        """Return the pending calls, soonest first."""
        return self.calls

    def advance(self, amount: float) -> None:
        """Move time forward by ``amount`` and run every call now due."""
        self.rightNow += amount
        self._sortCalls()
        while self.calls and self.calls[0].getTime() <= self.seconds():
            call = self.calls.pop(0)
            call.called = 1
            call.func(*call.args, **call.kw)
            self._sortCalls()

    def pump(self, timings: Iterable[float]) -> None:
        """Advance by each amount in ``timings`` in turn."""
        for amount in timings:
            self.advance(amount)


def deferLater(
    clock: Any,
    delay: float,
    callable: Callable[..., _T] | None = None,
    *args: object,
    **kw: object,
) -> Deferred[_T]:
    """Return a Deferred firing with ``callable(*args, **kw)`` after ``delay``.

    Without a callable it fires with None.  Cancelling it cancels the timer.
    """

    def cancelTimer(deferred: Deferred[Any]) -> None:
        delayedCall.cancel()

    def invoke(ignored: object) -> Any:
        if callable is None:
            return None
        return callable(*args, **kw)

    d: Deferred[Any] = Deferred(cancelTimer)
    d.addCallback(invoke)
    delayedCall = clock.callLater(delay, d.callback, None)
    return d


def react(
    main: Callable[..., Any], argv: Iterable[object] = (), _reactor: Any = None
) -> NoReturn:
    """Run ``main(reactor, *argv)`` until its result fires, then exit.

    The process exits with 0 on success, 1 on failure (after logging it), or
    the code of a SystemExit the result failed with.
    """
    if _reactor is None:
        _reactor = _installedReactor()
    reactor = _reactor
    finished = ensureDeferred(main(reactor, *argv))
    code: Any = 0
    stopping = False

    def onShutdown() -> None:
        nonlocal stopping
        stopping = True

    reactor.addSystemEventTrigger("before", "shutdown", onShutdown)

    def stop(result: object, stopReactor: bool) -> None:
        nonlocal code
        if stopReactor:
            try:
                reactor.stop()
            except ReactorNotRunning:
                pass
        if isinstance(result, Failure):
            if result.check(SystemExit) is not None:
                code = cast(SystemExit, result.value).code
            else:
                from torsion.python import log

                log.err(result, "main function encountered error")
                code = 1

    def whenFinished(result: object) -> None:
        if stopping:
            stop(result, False)
        else:
            reactor.callWhenRunning(stop, result, True)

    finished.addBoth(whenFinished)
    reactor.run()
    sys.exit(code)
