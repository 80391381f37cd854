"""Tests for torsion.internet.task.Clock and the pure-Python DelayedCall."""

from __future__ import annotations

import re

import pytest
from torsion.internet import error
from torsion.internet._delayedcall import DelayedCall, callableName, safeRepr
from torsion.internet.interfaces import IReactorTime
from torsion.internet.task import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_provides_ireactortime(clock: Clock) -> None:
    """Clock declares IReactorTime."""
    assert IReactorTime.providedBy(clock)


def test_delayed_call_provides_idelayedcall(clock: Clock) -> None:
    """callLater's result declares and verifies against IDelayedCall."""
    from torsion.internet.interfaces import IDelayedCall
    from zope.interface.verify import verifyObject

    assert verifyObject(IDelayedCall, clock.callLater(1, print))


def test_seconds_starts_at_zero_and_advances(clock: Clock) -> None:
    """seconds() is 0.0 at first and moves only with advance()."""
    assert clock.seconds() == 0.0
    clock.advance(1.5)
    assert clock.seconds() == 1.5
    clock.advance(0)
    assert clock.seconds() == 1.5


def test_call_later_attributes(clock: Clock) -> None:
    """callLater returns a pending DelayedCall carrying func, args and kw."""
    clock.advance(10)

    def f(*a: object, **kw: object) -> None:
        pass

    call = clock.callLater(3, f, 1, 2, x=3)
    assert isinstance(call, DelayedCall)
    assert call.getTime() == 13
    assert call.func is f
    assert call.args == (1, 2)
    assert call.kw == {"x": 3}
    assert call.active() is True
    assert call.called == 0
    assert call.cancelled == 0
    assert clock.getDelayedCalls() == [call]


def test_advance_runs_only_due_calls(clock: Clock) -> None:
    """advance runs calls due at or before the new time, leaving later ones."""
    ran: list[str] = []
    clock.callLater(1, ran.append, "a")
    late = clock.callLater(2, ran.append, "b")
    clock.advance(0.5)
    assert ran == []
    clock.advance(0.5)
    assert ran == ["a"]
    assert clock.getDelayedCalls() == [late]
    clock.advance(5)
    assert ran == ["a", "b"]
    assert clock.getDelayedCalls() == []
    assert late.called == 1
    assert late.active() is False


def test_equal_times_run_in_call_order(clock: Clock) -> None:
    """Calls due at the same time run in the order they were scheduled."""
    ran: list[int] = []
    for i in range(20):
        clock.callLater(1, ran.append, i)
    clock.callLater(0.5, ran.append, -1)
    clock.advance(1)
    assert ran == [-1, *range(20)]


def test_deadline_order(clock: Clock) -> None:
    """Calls run in deadline order, whatever the scheduling order."""
    ran: list[float] = []
    for delay in (3, 1, 2, 0.5, 2.5):
        clock.callLater(delay, ran.append, delay)
    assert [c.getTime() for c in clock.getDelayedCalls()] == [0.5, 1, 2, 2.5, 3]
    clock.advance(10)
    assert ran == [0.5, 1, 2, 2.5, 3]


def test_call_scheduled_during_advance_for_now_runs_in_same_advance(
    clock: Clock,
) -> None:
    """A zero-delay call added by a running call runs within the same advance."""
    ran: list[str] = []

    def first() -> None:
        ran.append("first")
        clock.callLater(0, ran.append, "nested")
        clock.callLater(1, ran.append, "later")

    clock.callLater(1, first)
    clock.advance(1)
    assert ran == ["first", "nested"]
    clock.advance(1)
    assert ran == ["first", "nested", "later"]


def test_called_flag_set_before_call_runs(clock: Clock) -> None:
    """While the function runs, the call is already marked called."""
    seen: list[tuple[int, bool]] = []
    holder: list[DelayedCall] = []

    def f() -> None:
        seen.append((holder[0].called, holder[0].active()))

    holder.append(clock.callLater(1, f))
    clock.advance(1)
    assert seen == [(1, False)]


def test_exception_propagates_and_call_is_removed(clock: Clock) -> None:
    """An exception raised by a call leaves advance(); the call is gone."""

    def boom() -> None:
        raise ZeroDivisionError("x")

    ran: list[int] = []
    clock.callLater(1, boom)
    clock.callLater(1, ran.append, 1)
    with pytest.raises(ZeroDivisionError):
        clock.advance(1)
    assert ran == []
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(0)
    assert ran == [1]


def test_cancel(clock: Clock) -> None:
    """cancel removes the call and drops func/args/kw."""
    ran: list[int] = []
    call = clock.callLater(1, ran.append, 1)
    call.cancel()
    assert call.cancelled == 1
    assert call.active() is False
    assert clock.getDelayedCalls() == []
    assert not hasattr(call, "func")
    assert not hasattr(call, "args")
    assert not hasattr(call, "kw")
    clock.advance(2)
    assert ran == []


def test_cancel_twice_raises_already_cancelled(clock: Clock) -> None:
    """Cancelling a cancelled call raises AlreadyCancelled."""
    call = clock.callLater(1, lambda: None)
    call.cancel()
    with pytest.raises(error.AlreadyCancelled):
        call.cancel()
    with pytest.raises(error.AlreadyCancelled):
        call.reset(1)
    with pytest.raises(error.AlreadyCancelled):
        call.delay(1)


def test_cancel_after_call_raises_already_called(clock: Clock) -> None:
    """Cancelling, resetting or delaying a call that ran raises AlreadyCalled."""
    call = clock.callLater(1, lambda: None)
    clock.advance(1)
    with pytest.raises(error.AlreadyCalled):
        call.cancel()
    with pytest.raises(error.AlreadyCalled):
        call.reset(1)
    with pytest.raises(error.AlreadyCalled):
        call.delay(1)


def test_reset_later(clock: Clock) -> None:
    """reset to a later time moves the deadline without touching ``time``."""
    ran: list[int] = []
    call = clock.callLater(2, ran.append, 1)
    clock.advance(1)
    call.reset(5)
    assert call.getTime() == 6
    assert call.time == 2
    assert call.delayed_time == 4
    clock.advance(4)
    assert ran == []
    clock.advance(1)
    assert ran == [1]


def test_reset_earlier(clock: Clock) -> None:
    """reset to an earlier time changes ``time`` and clears the delay."""
    ran: list[str] = []
    call = clock.callLater(10, ran.append, "x")
    clock.callLater(3, ran.append, "y")
    call.reset(2)
    assert call.time == 2
    assert call.delayed_time == 0.0
    assert call.getTime() == 2
    clock.advance(2)
    assert ran == ["x"]


def test_delay(clock: Clock) -> None:
    """delay adds to the deadline; a negative total folds into ``time``."""
    call = clock.callLater(5, lambda: None)
    call.delay(3)
    assert (call.time, call.delayed_time, call.getTime()) == (5, 3, 8)
    call.delay(-4)
    assert (call.time, call.delayed_time, call.getTime()) == (4, 0.0, 4)


def test_delay_reorders_pending_calls(clock: Clock) -> None:
    """A delayed call runs after calls that became earlier than it."""
    ran: list[str] = []
    a = clock.callLater(1, ran.append, "a")
    clock.callLater(2, ran.append, "b")
    a.delay(2)
    clock.advance(3)
    assert ran == ["b", "a"]


def test_pump(clock: Clock) -> None:
    """pump advances by each amount in turn."""
    times: list[float] = []
    for delay in (1, 2, 3):
        clock.callLater(delay, lambda: times.append(clock.seconds()))
    clock.pump([0.5, 1, 1, 1])
    assert times == [1.5, 2.5, 3.5]
    assert clock.seconds() == 3.5


def test_get_delayed_calls_is_live_list(clock: Clock) -> None:
    """getDelayedCalls returns the clock's own list of pending calls."""
    assert clock.getDelayedCalls() is clock.calls


def test_independent_clocks() -> None:
    """Each Clock has its own time and calls."""
    a, b = Clock(), Clock()
    a.callLater(1, lambda: None)
    a.advance(0.5)
    assert b.seconds() == 0.0
    assert b.getDelayedCalls() == []


def test_repr_pending(clock: Clock) -> None:
    """repr names the function, its arguments and the time left."""

    def target(a: object, b: object = None) -> None:
        pass

    call = clock.callLater(2, target, 1, b="x")
    text = repr(call)
    assert re.fullmatch(
        r"<DelayedCall 0x[0-9a-f]+ \[2\.0s\] called=0 cancelled=0 "
        r"test_repr_pending\.<locals>\.target\(1, b='x'\)>",
        text,
    ), text
    clock.advance(0.5)
    assert "[1.5s]" in repr(call)


def test_repr_cancelled(clock: Clock) -> None:
    """A cancelled call's repr has no function part."""
    call = clock.callLater(1, print)
    call.cancel()
    assert re.fullmatch(
        r"<DelayedCall 0x[0-9a-f]+ \[1\.0s\] called=0 cancelled=1>", repr(call)
    )


def test_repr_kwargs_only(clock: Clock) -> None:
    """Keyword-only arguments render without a leading comma."""
    call = clock.callLater(1, dict, a=1)
    assert repr(call).endswith(" dict(a=1)>")


def test_lt_le_compare_time_only() -> None:
    """Ordering compares ``time``, not the adjusted deadline."""
    a = DelayedCall(1, print, (), {}, lambda c: None, lambda c: None, lambda: 0)
    b = DelayedCall(2, print, (), {}, lambda c: None, lambda c: None, lambda: 0)
    a.delay(5)
    assert a < b
    assert a <= b
    assert not b < a


def test_delayed_call_callbacks() -> None:
    """cancel calls the canceller before marking; reset calls the resetter."""
    events: list[tuple[str, int]] = []
    now = [0.0]
    call = DelayedCall(
        10,
        print,
        (),
        {},
        lambda c: events.append(("cancel", c.cancelled)),
        lambda c: events.append(("reset", int(c.time))),
        lambda: now[0],
    )
    call.reset(20)
    assert events == []
    call.reset(5)
    call.delay(-1)
    assert events == [("reset", 5), ("reset", 4)]
    call.cancel()
    assert events[-1] == ("cancel", 0)


def test_debug_mode_records_creator() -> None:
    """With debug set, the creation stack is kept and shown in repr."""

    class DebugCall(DelayedCall):
        debug = True

    call = DebugCall(1, print, (), {}, lambda c: None, lambda c: None, lambda: 0)
    assert call.creator is not None
    assert "traceback at creation" in repr(call)
    call.cancel()
    assert "print" in repr(call)


def test_safe_repr_of_broken_object() -> None:
    """safeRepr survives a raising __repr__."""

    class Broken:
        def __repr__(self) -> str:
            raise ValueError("nope")

    text = safeRepr(Broken())
    assert text.startswith("<test_safe_repr_of_broken_object.<locals>.Broken instance")
    assert "ValueError: nope" in text
    assert callableName(Broken()).startswith("<")
