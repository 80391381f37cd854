"""Reactor core: run/stop/crash, the running flag, system event triggers,
iterate() and name resolution, on torsion and (via ``flavor``) on Twisted's
EPollReactor, over real sockets and threads."""

from __future__ import annotations

import socket
import threading
import time
import warnings
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


def _run(reactor: Any) -> None:
    reactor.run(installSignalHandlers=False)


def _stopSoon(reactor: Any, delay: float = 0.0) -> None:
    reactor.callLater(delay, reactor.stop)


# run / stop / crash


def test_stop_when_never_run(flavor):
    """stop() on a reactor that never ran raises ReactorNotRunning."""
    with pytest.raises(flavor.error.ReactorNotRunning) as info:
        flavor.reactor.stop()
    assert str(info.value) == "Can't stop reactor that isn't running."


def test_stop_after_run_returned(flavor):
    """Once run() has returned, stop() raises ReactorNotRunning."""
    reactor = flavor.reactor
    _stopSoon(reactor)
    _run(reactor)
    with pytest.raises(flavor.error.ReactorNotRunning):
        reactor.stop()


def test_stop_twice_while_running(flavor):
    """A second stop() before shutdown raises ReactorNotRunning; the
    reactor still stops once."""
    reactor = flavor.reactor
    seen = []

    def twice():
        reactor.stop()
        try:
            reactor.stop()
        except flavor.error.ReactorNotRunning:
            seen.append("second stop refused")

    reactor.addSystemEventTrigger("after", "shutdown", seen.append, "shutdown")
    reactor.callWhenRunning(twice)
    _run(reactor)
    assert seen == ["second stop refused", "shutdown"]


def test_run_after_stop_is_not_restartable(flavor):
    """run() after a stopped run raises ReactorNotRestartable."""
    reactor = flavor.reactor
    _stopSoon(reactor)
    _run(reactor)
    with pytest.raises(flavor.error.ReactorNotRestartable):
        _run(reactor)
    assert reactor.running is False


def test_run_while_running_raises(flavor):
    """run() from inside a running reactor raises ReactorAlreadyRunning."""
    reactor = flavor.reactor
    seen = []

    def nested():
        try:
            _run(reactor)
        except flavor.error.ReactorAlreadyRunning:
            seen.append("already running")
        reactor.stop()

    reactor.callWhenRunning(nested)
    _run(reactor)
    assert seen == ["already running"]


def test_crash_then_run_again(flavor):
    """crash() leaves run() without shutdown triggers; run() works again,
    startup runs again, and a later stop() fires shutdown once."""
    reactor = flavor.reactor
    events = []
    reactor.addSystemEventTrigger(
        "during", "startup", lambda: events.append(("startup", reactor.running))
    )
    reactor.addSystemEventTrigger("before", "shutdown", events.append, "shutdown")
    reactor.callWhenRunning(events.append, "first run")
    reactor.callLater(0, reactor.crash)
    _run(reactor)
    events.append(("crashed", reactor.running))
    reactor.callWhenRunning(events.append, "second run")
    reactor.callLater(0, reactor.stop)
    _run(reactor)
    events.append(("stopped", reactor.running))
    assert events == [
        ("startup", True),
        "first run",
        ("crashed", False),
        "second run",
        "shutdown",
        ("stopped", False),
    ]


def test_running_flag_and_trigger_order(flavor):
    """Startup and shutdown triggers run before/during/after, with
    ``running`` as Twisted sets it in each phase."""
    reactor = flavor.reactor
    events = []
    reactor.callWhenRunning(lambda: events.append(("callWhenRunning", reactor.running)))
    for phase in ("before", "during", "after"):
        for event in ("startup", "shutdown"):
            reactor.addSystemEventTrigger(
                phase,
                event,
                lambda p=phase, e=event: events.append((e, p, reactor.running)),
            )
    reactor.callLater(0.01, reactor.stop)
    events.append(("before run", reactor.running))
    _run(reactor)
    events.append(("after run", reactor.running))
    assert events == [
        ("before run", False),
        ("startup", "before", False),
        ("startup", "during", True),
        ("callWhenRunning", True),
        ("startup", "after", True),
        ("shutdown", "before", True),
        ("shutdown", "during", False),
        ("shutdown", "after", False),
        ("after run", False),
    ]


def test_callWhenRunning_before_and_during_run(flavor):
    """Before run(), callWhenRunning defers the call and returns a trigger
    ID; while running it calls at once and returns None."""
    reactor = flavor.reactor
    events = []
    early = reactor.callWhenRunning(events.append, "early")
    removed = reactor.callWhenRunning(events.append, "removed")
    reactor.removeSystemEventTrigger(removed)

    def during():
        result = reactor.callWhenRunning(events.append, "now")
        events.append(("returned", result))
        reactor.stop()

    reactor.callWhenRunning(during)
    assert early is not None
    _run(reactor)
    assert events == ["early", "now", ("returned", None)]


def test_before_shutdown_deferred_delays_shutdown(flavor):
    """A "before" shutdown trigger returning a Deferred holds "during" and
    "after" (and run()'s return) until it fires; the loop keeps turning."""
    reactor = flavor.reactor
    events = []
    waiting = flavor.defer.Deferred()

    def before():
        events.append("before")
        reactor.callLater(0.02, events.append, "timer while waiting")
        reactor.callLater(0.05, waiting.callback, None)
        waiting.addCallback(lambda _: events.append(("fired", reactor.running)))
        return waiting

    reactor.addSystemEventTrigger("before", "shutdown", before)
    reactor.addSystemEventTrigger("before", "shutdown", events.append, "before 2")
    reactor.addSystemEventTrigger("during", "shutdown", events.append, "during")
    reactor.addSystemEventTrigger("after", "shutdown", events.append, "after")
    reactor.callWhenRunning(reactor.stop)
    started = time.monotonic()
    _run(reactor)
    elapsed = time.monotonic() - started
    assert events == [
        "before",
        "before 2",
        "timer while waiting",
        ("fired", True),
        "during",
        "after",
    ]
    assert 0.04 <= elapsed < 5


def test_before_startup_deferred_delays_running(flavor):
    """A "before" startup trigger returning a Deferred keeps ``running``
    False (timers still run) until it fires; callWhenRunning calls made
    meanwhile run once started."""
    reactor = flavor.reactor
    events = []
    waiting = flavor.defer.Deferred()

    def before():
        events.append(("before", reactor.running))
        reactor.callLater(
            0.02,
            lambda: (events.append(("timer", reactor.running)), waiting.callback(None)),
        )
        return waiting

    def whenRunning():
        events.append(("running", reactor.running))
        reactor.callWhenRunning(events.append, "nested")
        reactor.stop()

    reactor.addSystemEventTrigger("before", "startup", before)
    reactor.callWhenRunning(whenRunning)
    reactor.addSystemEventTrigger(
        "before",
        "startup",
        lambda: reactor.callWhenRunning(events.append, "added while starting"),
    )
    _run(reactor)
    assert events == [
        ("before", False),
        ("timer", False),
        ("running", True),
        "nested",
        "added while starting",
    ]


def test_removeSystemEventTrigger(flavor):
    """A removed trigger does not run; removing it again is a ValueError."""
    reactor = flavor.reactor
    events = []
    reactor.addSystemEventTrigger("before", "custom", events.append, 1)
    gone = reactor.addSystemEventTrigger("before", "custom", events.append, 2)
    reactor.addSystemEventTrigger("during", "custom", events.append, 3)
    goneToo = reactor.addSystemEventTrigger("after", "custom", events.append, 4)
    reactor.removeSystemEventTrigger(gone)
    reactor.removeSystemEventTrigger(goneToo)
    with pytest.raises(ValueError):
        reactor.removeSystemEventTrigger(gone)
    reactor.fireSystemEvent("custom")
    assert events == [1, 3]


def test_remove_fired_before_trigger_during_event_warns(flavor):
    """Removing a "before" trigger that already ran, while the event waits
    on a Deferred, warns DeprecationWarning instead of failing."""
    reactor = flavor.reactor
    holder = flavor.defer.Deferred()
    ids = []
    ids.append(reactor.addSystemEventTrigger("before", "custom", lambda: holder))
    reactor.fireSystemEvent("custom")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reactor.removeSystemEventTrigger(ids[0])
    holder.callback(None)
    assert [w.category for w in caught] == [DeprecationWarning]
    assert "Removing already-fired system event triggers" in str(caught[0].message)


def test_addSystemEventTrigger_bad_arguments(flavor):
    """An unknown phase is a KeyError, a non-callable an AssertionError."""
    reactor = flavor.reactor
    with pytest.raises(KeyError):
        reactor.addSystemEventTrigger("sometime", "custom", lambda: None)
    with pytest.raises(AssertionError):
        reactor.addSystemEventTrigger("before", "custom", "not callable")


def test_fireSystemEvent_custom_event(flavor):
    """A custom event runs its triggers in phase order, with their
    arguments, once: firing it again runs nothing."""
    reactor = flavor.reactor
    events = []

    def record(*args, **kwargs):
        events.append((args, kwargs))

    reactor.addSystemEventTrigger("after", "custom", record, "after")
    reactor.addSystemEventTrigger("during", "custom", record, "during", k=1)
    reactor.addSystemEventTrigger("before", "custom", record, "before", 2)
    reactor.addSystemEventTrigger("during", "other", record, "other")
    reactor.fireSystemEvent("custom")
    reactor.fireSystemEvent("custom")
    reactor.fireSystemEvent("never added")
    assert events == [
        (("before", 2), {}),
        (("during",), {"k": 1}),
        (("after",), {}),
    ]


def test_raising_trigger_does_not_stop_the_others(flavor):
    """A trigger that raises is logged; the rest of every phase runs."""
    reactor = flavor.reactor
    events = []

    def boom():
        events.append("boom")
        raise RuntimeError("trigger failed")

    reactor.addSystemEventTrigger("before", "custom", boom)
    reactor.addSystemEventTrigger("before", "custom", events.append, "before")
    reactor.addSystemEventTrigger("during", "custom", boom)
    reactor.addSystemEventTrigger("during", "custom", events.append, "during")
    reactor.addSystemEventTrigger("after", "custom", events.append, "after")
    reactor.fireSystemEvent("custom")
    assert events == ["boom", "before", "boom", "during", "after"]


def test_raising_shutdown_trigger_still_stops(flavor):
    """A raising shutdown trigger does not keep the reactor running."""
    reactor = flavor.reactor
    events = []

    def boom():
        raise ValueError("no")

    reactor.addSystemEventTrigger("before", "shutdown", boom)
    reactor.addSystemEventTrigger("after", "shutdown", events.append, "after")
    reactor.callWhenRunning(reactor.stop)
    _run(reactor)
    assert events == ["after"]
    assert reactor.running is False


def test_stop_from_a_thread(flavor):
    """reactor.callFromThread(reactor.stop) from another thread ends run()."""
    reactor = flavor.reactor
    events = []
    reactor.addSystemEventTrigger("after", "shutdown", events.append, "after")
    worker = threading.Thread(
        target=lambda: (time.sleep(0.05), reactor.callFromThread(reactor.stop))
    )
    reactor.callWhenRunning(worker.start)
    guard = reactor.callLater(10, reactor.crash)
    _run(reactor)
    worker.join()
    assert guard.active()
    guard.cancel()
    assert events == ["after"]


def test_stop_inside_a_timer(flavor):
    """stop() inside a timer: the other timers due in that turn still run,
    then shutdown; a timer added by a shutdown trigger stays pending."""
    reactor = flavor.reactor
    events = []

    def first():
        events.append("first")
        reactor.stop()
        events.append(("after stop", reactor.running))

    reactor.callLater(0, first)
    reactor.callLater(0, events.append, "second")
    reactor.addSystemEventTrigger(
        "before",
        "shutdown",
        lambda: (events.append("before"), reactor.callLater(0, events.append, "late")),
    )
    reactor.addSystemEventTrigger("after", "shutdown", events.append, "after")
    _run(reactor)
    assert events == ["first", ("after stop", True), "second", "before", "after"]
    assert len(reactor.getDelayedCalls()) == 1


# iterate()


class _AlwaysReadable:
    """A reader on a socketpair with unread data: readable on every turn."""

    def __init__(self, events: list, name: str = "read") -> None:
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

    def connectionLost(self, reason: Any) -> None:
        self.events.append((self.name, "lost"))

    def logPrefix(self) -> str:
        return "AlwaysReadable"

    def close(self) -> None:
        self.a.close()
        self.b.close()


def test_iterate_runs_thread_calls_then_timers_then_io(flavor):
    """One iterate(): thread calls, then the timers due at the turn's start
    (including ones a thread call added), then one poll's I/O; a timer
    added by a timer waits for the next turn."""
    reactor = flavor.reactor
    events = []
    reader = _AlwaysReadable(events)

    def timerA():
        events.append("A")
        reactor.callLater(0, events.append, "B")

    def threadCall():
        events.append("T")
        reactor.callLater(0, events.append, "T-timer")

    reactor.callLater(0, timerA)
    reactor.callLater(0, events.append, "A2")
    reactor.callFromThread(threadCall)
    reactor.addReader(reader)
    try:
        for turn in range(3):
            events.append(("turn", turn))
            reactor.iterate(0)
    finally:
        reactor.removeReader(reader)
        reader.close()
    assert events == [
        ("turn", 0),
        "T",
        "A",
        "A2",
        "T-timer",
        "read",
        ("turn", 1),
        "B",
        "read",
        ("turn", 2),
        "read",
    ]


def test_reentrant_iterate_from_a_timer(flavor):
    """iterate() called inside a timer runs the rest of the due timers
    and then the timer added just before, as Twisted does."""
    reactor = flavor.reactor
    events = []

    def outer():
        events.append("outer")
        reactor.callLater(0, events.append, "inner timer")
        reactor.iterate(0)
        events.append("outer done")

    reactor.callLater(0, outer)
    reactor.callLater(0, events.append, "sibling")
    reactor.iterate(0)
    reactor.iterate(0)
    assert events == ["outer", "sibling", "inner timer", "outer done"]


def test_iterate_waits_at_most_delay(flavor):
    """iterate(delay) with nothing to do sleeps about ``delay``; a call
    from another thread ends the sleep early and runs on the next turn."""
    reactor = flavor.reactor
    started = time.monotonic()
    reactor.iterate(0.2)
    idle = time.monotonic() - started
    assert 0.15 <= idle < 2

    done = []
    worker = threading.Thread(
        target=lambda: (time.sleep(0.05), reactor.callFromThread(done.append, 1))
    )
    worker.start()
    started = time.monotonic()
    reactor.iterate(5)
    woken = time.monotonic() - started
    worker.join()
    assert done == []
    reactor.iterate(0)
    assert done == [1]
    assert woken < 2


def test_iterate_zero_does_not_sleep(flavor):
    """iterate() (delay 0) returns at once even with a far timer pending."""
    reactor = flavor.reactor
    reactor.callLater(30, lambda: None)
    started = time.monotonic()
    for _ in range(10):
        reactor.iterate()
    assert time.monotonic() - started < 0.5


# names


def test_resolve_localhost(flavor):
    """reactor.resolve('localhost') gives '127.0.0.1' (via the thread pool)."""
    reactor = flavor.reactor
    results = []
    reactor.resolve("localhost").addBoth(results.append)
    run_until(reactor, lambda: results)
    assert results == ["127.0.0.1"]


def test_resolve_ip_and_empty_fire_at_once(flavor):
    """An IPv4 address, or the empty name, resolves synchronously."""
    reactor = flavor.reactor
    results = []
    reactor.resolve("10.1.2.3").addBoth(results.append)
    reactor.resolve("").addBoth(results.append)
    assert results == ["10.1.2.3", "0.0.0.0"]


def test_resolve_unknown_name_fails(flavor):
    """A name that cannot resolve fails with DNSLookupError naming it."""
    reactor = flavor.reactor
    results = []
    reactor.resolve("nonexistent.invalid").addBoth(results.append)
    run_until(reactor, lambda: results, timeout=30)
    [failure] = results
    assert failure.type is flavor.error.DNSLookupError
    assert str(failure.value) == "DNS lookup failed: nonexistent.invalid."


def _receiver(events: list) -> Any:
    class Receiver:
        def resolutionBegan(self, resolution):
            events.append(("began", resolution.name))

        def addressResolved(self, address):
            events.append(
                (
                    "address",
                    type(address).__name__,
                    address.type,
                    address.host,
                    address.port,
                )
            )

        def resolutionComplete(self):
            events.append("complete")

    return Receiver()


def test_nameResolver_resolveHostName(flavor):
    """nameResolver.resolveHostName tells a receiver began / each address /
    complete; an unknown name completes with no address."""
    reactor = flavor.reactor
    good: list = []
    bad: list = []
    resolution = reactor.nameResolver.resolveHostName(
        _receiver(good), "localhost", 8080, [flavor.address.IPv4Address]
    )
    reactor.nameResolver.resolveHostName(_receiver(bad), "nonexistent.invalid", 80)
    assert resolution.name == "localhost"
    assert good == [("began", "localhost")]
    run_until(reactor, lambda: "complete" in good and "complete" in bad, timeout=30)
    assert good == [
        ("began", "localhost"),
        ("address", "IPv4Address", "TCP", "127.0.0.1", 8080),
        "complete",
    ]
    assert bad == [("began", "nonexistent.invalid"), "complete"]


def test_installNameResolver_returns_previous(flavor):
    """installNameResolver returns the previous resolver; the new one is
    used by nameResolver and by resolve()."""
    reactor = flavor.reactor
    original = reactor.nameResolver
    calls = []

    class Fixed:
        def resolveHostName(
            self,
            receiver,
            hostName,
            portNumber=0,
            addressTypes=None,
            transportSemantics="TCP",
        ):
            calls.append(hostName)
            receiver.resolutionBegan(None)
            receiver.addressResolved(
                flavor.address.IPv4Address("TCP", "192.0.2.7", portNumber)
            )
            receiver.resolutionComplete()

    fixed = Fixed()
    assert reactor.installNameResolver(fixed) is original
    assert reactor.nameResolver is fixed
    results = []
    reactor.resolve("example.test").addBoth(results.append)
    assert results == ["192.0.2.7"]
    assert calls == ["example.test"]
    assert reactor.installNameResolver(original) is fixed


def test_reactor_uses_threads(flavor):
    """Like Twisted's, the reactor says it uses threads and resolves names
    with the thread pool."""
    assert flavor.reactor.usingThreads is True
