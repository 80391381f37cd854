"""IReactorTime on the real reactor: callLater and the DelayedCall API,
timer order, turns, getDelayedCalls, seconds(), a million pending timers,
and raising timers; compared with Twisted's EPollReactor via ``flavor``."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from conftest import run_until


@pytest.fixture(autouse=True)
def _flushLoggedErrors():
    """Errors these tests provoke on purpose are checked where they matter;
    drop them afterwards so they do not reach later tests' collectors."""
    yield
    from torsion.internet.testing import flushLoggedErrors

    flushLoggedErrors()


# the DelayedCall object


def test_delayedcall_attributes_while_pending(flavor):
    """A pending call is active, not cancelled/called (0), and exposes its
    func, args and kw (an empty dict when no keywords were given)."""
    reactor = flavor.reactor

    def f(*a, **k):
        pass

    call = reactor.callLater(5, f, 1, "two", x=3)
    plain = reactor.callLater(5, f)
    assert call.active() is True
    assert (call.cancelled, call.called) == (0, 0)
    assert call.func is f
    assert call.args == (1, "two")
    assert call.kw == {"x": 3}
    assert plain.args == ()
    assert plain.kw == {}
    assert call in reactor.getDelayedCalls()


def test_getTime_is_seconds_plus_delay(flavor):
    """getTime() is reactor.seconds() at scheduling plus the delay."""
    reactor = flavor.reactor
    before = reactor.seconds()
    call = reactor.callLater(2.5, lambda: None)
    after = reactor.seconds()
    assert before + 2.5 <= call.getTime() + 1e-6
    assert call.getTime() <= after + 2.5 + 1e-6


def test_cancel(flavor):
    """cancel() makes the call inactive, sets cancelled to 1, forgets
    func/args/kw, removes it from getDelayedCalls, and it never runs."""
    reactor = flavor.reactor
    events: list = []
    call = reactor.callLater(0, events.append, "ran")
    call.cancel()
    assert call.active() is False
    assert (call.cancelled, call.called) == (1, 0)
    for name in ("func", "args", "kw"):
        with pytest.raises(AttributeError):
            getattr(call, name)
    assert call not in reactor.getDelayedCalls()
    reactor.iterate(0)
    reactor.iterate(0)
    assert events == []


@pytest.mark.parametrize(
    "method, args", [("cancel", ()), ("reset", (1,)), ("delay", (1,))]
)
def test_cancelled_call_refuses_changes(flavor, method, args):
    """cancel/reset/delay on a cancelled call raise AlreadyCancelled."""
    call = flavor.reactor.callLater(5, lambda: None)
    call.cancel()
    with pytest.raises(flavor.error.AlreadyCancelled):
        getattr(call, method)(*args)


@pytest.mark.parametrize("state", ["cancelled", "called"])
def test_already_error_is_the_bare_class(flavor, request, state):
    """Twisted raises AlreadyCancelled/AlreadyCalled with no arguments:
    str() is exactly the class message."""
    reactor = flavor.reactor
    call = reactor.callLater(0, lambda: None)
    if state == "cancelled":
        call.cancel()
        expected = (flavor.error.AlreadyCancelled, "already-cancelled")
    else:
        reactor.iterate(0)
        expected = (flavor.error.AlreadyCalled, "already-called")
    with pytest.raises(expected[0]) as info:
        call.cancel()
    assert info.value.args == ()
    assert str(info.value) == f"Tried to cancel an {expected[1]} event."


@pytest.mark.parametrize(
    "method, args", [("cancel", ()), ("reset", (1,)), ("delay", (1,))]
)
def test_called_call_refuses_changes(flavor, method, args):
    """cancel/reset/delay on a call that ran raise AlreadyCalled; it keeps
    func/args/kw and reports called == 1."""
    reactor = flavor.reactor
    events: list = []
    call = reactor.callLater(0, events.append, "ran")
    reactor.iterate(0)
    assert events == ["ran"]
    assert (call.active(), call.cancelled, call.called) == (False, 0, 1)
    assert call.args == ("ran",)
    assert call.kw == {}
    with pytest.raises(flavor.error.AlreadyCalled):
        getattr(call, method)(*args)


def test_call_is_inactive_inside_its_own_callback(flavor):
    """While running, a call is already 'called': active() is False and
    cancelling it raises AlreadyCalled."""
    reactor = flavor.reactor
    seen = []

    def inside():
        seen.append((holder[0].active(), holder[0].called))
        try:
            holder[0].cancel()
        except flavor.error.AlreadyCalled:
            seen.append("AlreadyCalled")

    holder = [reactor.callLater(0, inside)]
    reactor.iterate(0)
    assert seen == [(False, 1), "AlreadyCalled"]


def test_reset_and_delay_move_the_call(flavor):
    """reset(s) puts the call s seconds from now; delay(s) adds s to its
    time (negative moves it earlier); timeout() follows."""
    reactor = flavor.reactor
    call = reactor.callLater(10, lambda: None)
    start = call.getTime()
    call.delay(2.5)
    assert call.getTime() - start == pytest.approx(2.5, abs=1e-6)
    call.delay(-5)
    assert call.getTime() - start == pytest.approx(-2.5, abs=1e-6)
    assert reactor.timeout() == pytest.approx(7.5, abs=0.1)
    call.reset(3)
    assert call.getTime() - reactor.seconds() == pytest.approx(3, abs=0.1)
    assert reactor.timeout() == pytest.approx(3, abs=0.1)


def test_reset_and_delay_reorder_calls(flavor):
    """Moving a call changes when it runs relative to the others."""
    reactor = flavor.reactor
    events: list = []
    first = reactor.callLater(0.01, events.append, "first")
    reactor.callLater(0.02, events.append, "second")
    third = reactor.callLater(0.2, events.append, "third")
    first.reset(0.05)
    third.delay(-0.17)
    run_until(reactor, lambda: len(events) == 3)
    assert events == ["second", "third", "first"]


def test_callLater_parameter_names(flavor):
    """callLater's parameters are Twisted's (delay, callable): they can be
    passed by keyword, and ``f=`` is an ordinary keyword for the call."""
    reactor = flavor.reactor
    seen: list = []
    reactor.callLater(delay=0, callable=lambda x: seen.append(x), x="by keyword")
    reactor.callLater(0, lambda **kw: seen.append(kw), f=1, func=2)
    reactor.iterate(0)
    assert seen == ["by keyword", {"f": 1, "func": 2}]


def test_negative_delay_is_refused(flavor):
    """callLater with a negative delay raises AssertionError naming it."""
    with pytest.raises(AssertionError) as info:
        flavor.reactor.callLater(-1, lambda: None)
    assert str(info.value) == "-1 is not greater than or equal to 0 seconds"
    assert flavor.reactor.getDelayedCalls() == []


def test_negative_float_delay_message_matches_twisted(reactor):
    """The AssertionError text uses Python's str() of the delay, as Twisted's."""
    for delay, text in [(-1.0, "-1.0"), (float("nan"), "nan"), (-1e-07, "-1e-07")]:
        with pytest.raises(AssertionError) as info:
            reactor.callLater(delay, lambda: None)
        assert str(info.value) == f"{text} is not greater than or equal to 0 seconds"


def test_delayedcall_is_hashable(flavor, request):
    """DelayedCalls hash and compare equal by identity, so they can be kept
    in sets and dict keys (Twisted's define only __lt__/__le__)."""
    reactor = flavor.reactor
    a = reactor.callLater(1, lambda: None)
    b = reactor.callLater(1, lambda: None)
    assert a == a and a != b
    assert len({a, b, a}) == 2
    assert {a: 1}[a] == 1


def test_delayedcall_ordering_by_time(flavor):
    """DelayedCalls compare by their time with < and <=."""
    reactor = flavor.reactor
    early = reactor.callLater(1, lambda: None)
    late = reactor.callLater(2, lambda: None)
    assert early < late and early <= late and early <= early
    assert not (late < early) and not (early < early)


# order and turns


def test_calls_run_in_deadline_order(flavor):
    """Timers run in deadline order whatever the order they were added."""
    reactor = flavor.reactor
    events: list = []
    for delay in (0.03, 0.01, 0.05, 0.02, 0.04):
        reactor.callLater(delay, events.append, delay)
    run_until(reactor, lambda: len(events) == 5)
    assert events == [0.01, 0.02, 0.03, 0.04, 0.05]


def test_equal_delays_run_in_call_order(flavor):
    """Calls with the same delay run in the order callLater was called."""
    reactor = flavor.reactor
    events: list = []
    for i in range(200):
        reactor.callLater(0.01, events.append, i)
    run_until(reactor, lambda: len(events) == 200)
    assert events == list(range(200))


def test_timer_does_not_run_early(flavor):
    """A call runs no sooner than its delay after callLater."""
    reactor = flavor.reactor
    times: list = []
    started = time.monotonic()
    reactor.callLater(0.05, lambda: times.append(time.monotonic() - started))
    run_until(reactor, lambda: times)
    assert 0.049 <= times[0] < 2


def test_timer_cancelling_a_due_timer(flavor):
    """A timer may cancel (or reset) another one due in the same turn;
    the cancelled one does not run, the reset one runs later."""
    reactor = flavor.reactor
    events: list = []

    def first():
        events.append("first")
        victim.cancel()
        moved.reset(0.05)

    reactor.callLater(0, first)
    victim = reactor.callLater(0, events.append, "victim")
    moved = reactor.callLater(0, events.append, "moved")
    reactor.callLater(0, events.append, "last")
    reactor.iterate(0)
    assert events == ["first", "last"]
    run_until(reactor, lambda: "moved" in events)
    assert events == ["first", "last", "moved"]


class _Reader:
    """Level-triggered reader over a socketpair with one unread byte."""

    def __init__(self, events: list, name: str) -> None:
        self.events = events
        self.name = name
        self.a, self.b = socket.socketpair()
        self.b.send(b"x")
        self.onRead: Any = None

    def fileno(self) -> int:
        return self.a.fileno()

    def doRead(self) -> None:
        self.events.append(self.name)
        if self.onRead is not None:
            self.onRead()
            self.onRead = None

    def connectionLost(self, reason: Any) -> None:
        self.events.append((self.name, "lost"))

    def logPrefix(self) -> str:
        return self.name

    def close(self) -> None:
        self.a.close()
        self.b.close()


def test_callLater_zero_from_timer_runs_next_turn(flavor):
    """callLater(0) inside a timer runs on the next turn, after that
    turn's I/O, not in the same pass over due timers."""
    reactor = flavor.reactor
    events: list = []
    reader = _Reader(events, "io")

    def timer():
        events.append("timer")
        reactor.callLater(0, events.append, "next")

    reactor.callLater(0, timer)
    reactor.addReader(reader)
    try:
        for _ in range(2):
            reactor.iterate(0)
    finally:
        reactor.removeReader(reader)
        reader.close()
    assert events == ["timer", "io", "next", "io"]


def test_callLater_zero_from_io_runs_after_the_turns_io(flavor):
    """callLater(0, f) from an I/O callback runs after every other I/O
    callback of that turn, at the start of the next."""
    reactor = flavor.reactor
    events: list = []
    readers = [_Reader(events, "r1"), _Reader(events, "r2")]
    for r in readers:
        r.onRead = lambda: reactor.callLater(0, events.append, "later")
        reactor.addReader(r)
    try:
        for _ in range(2):
            reactor.iterate(0)
    finally:
        for r in readers:
            reactor.removeReader(r)
            r.close()
    assert sorted(events[:2]) == ["r1", "r2"]
    assert events[2:4] == ["later", "later"]
    assert sorted(events[4:]) == ["r1", "r2"]


def test_getDelayedCalls(flavor):
    """getDelayedCalls lists exactly the calls that neither ran nor were
    cancelled."""
    reactor = flavor.reactor
    ran = reactor.callLater(0, lambda: None)
    cancelled = reactor.callLater(5, lambda: None)
    pending = [reactor.callLater(5, lambda: None), reactor.callLater(10, lambda: None)]
    cancelled.cancel()
    reactor.iterate(0)
    calls = reactor.getDelayedCalls()
    assert len(calls) == 2
    assert all(any(c is p for p in pending) for c in calls)
    assert not any(c is ran or c is cancelled for c in calls)


def test_seconds_is_wall_clock(flavor):
    """reactor.seconds() is time.time()."""
    before = time.time()
    now = flavor.reactor.seconds()
    after = time.time()
    assert before - 0.01 <= now <= after + 0.01


def test_raising_timer_does_not_stop_the_others(flavor):
    """A timer that raises is logged; later timers of the same turn and of
    later turns still run."""
    reactor = flavor.reactor
    events: list = []

    def boom():
        events.append("boom")
        raise ZeroDivisionError("timer")

    reactor.callLater(0, events.append, 1)
    reactor.callLater(0, boom)
    reactor.callLater(0, events.append, 2)
    reactor.callLater(0.01, events.append, 3)
    run_until(reactor, lambda: 3 in events)
    assert events == [1, "boom", 2, 3]


@pytest.mark.timeout(180)
def test_a_million_pending_timers():
    """A million pending timers: schedule, cancel half; the other half all
    run exactly once, each delay's calls in the order they were made, and
    none stay pending. (About 3 s on an idle machine with a debug build.)"""
    from torsion.internet._reactor import TorsionReactor

    reactor = TorsionReactor()
    fired: list = []
    calls = [
        reactor.callLater(0.001 * (i % 50), fired.append, i) for i in range(1_000_000)
    ]
    for call in calls[::2]:
        call.cancel()
    assert len(reactor.getDelayedCalls()) == 500_000
    run_until(reactor, lambda: len(fired) == 500_000, timeout=60)
    assert len(fired) == 500_000
    assert set(fired) == set(range(1, 1_000_000, 2))
    buckets: dict[int, list[int]] = {}
    for i in fired:
        buckets.setdefault(i % 50, []).append(i)
    assert sorted(buckets) == list(range(1, 50, 2))
    assert all(b == sorted(b) for b in buckets.values())
    assert reactor.getDelayedCalls() == []
    assert sum(c.called for c in calls) == 500_000
    assert sum(c.cancelled for c in calls) == 500_000


@pytest.mark.parametrize("ending", ["called", "cancelled"])
def test_delayed_call_cycles_are_collected(reactor, ending):
    """An object holding the DelayedCall of its own bound method forms a
    cycle; once the call ran or was cancelled, the garbage collector frees
    it (pending calls are kept off the collector's lists while queued)."""
    import gc
    import weakref

    class Owner:
        def __init__(self):
            self.call = reactor.callLater(0, self.ring)

        def ring(self):
            self.rung = True

    owner = Owner()
    if ending == "cancelled":
        owner.call.cancel()
    else:
        reactor.iterate(0)
        assert owner.rung
    gone = weakref.ref(owner)
    del owner
    gc.collect()
    assert gone() is None


def test_pending_delayed_call_survives_collection(reactor):
    """A queued call whose only other reference is dropped still runs after
    a full collection."""
    import gc

    seen = []
    reactor.callLater(0, lambda: seen.append("ran"))
    gc.collect()
    reactor.iterate(0)
    assert seen == ["ran"]
