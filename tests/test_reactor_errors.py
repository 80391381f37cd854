"""User errors inside reactor callbacks (issue 2, part 10): an exception
raised by a timer, a thread call, a system event trigger or a descriptor's
doRead is logged once, with its traceback, to the stdlib logger "torsion"
at CRITICAL and to torsion.logger observers; the loop goes on, even for
KeyboardInterrupt and SystemExit. Observer-side parity with Twisted via
``flavor``."""

from __future__ import annotations

import importlib
import logging
import socket
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


SOURCES = ["timer", "thread call", "trigger", "doRead"]

# The header Twisted's reactor logs above the traceback, per kind of call.
HEADERS = {
    "timer": "while handling timed call",
    "thread call": "while calling from thread",
    "trigger": "While calling system event trigger handler",
    "doRead": "Unhandled Error",
}

# Where the Rust core calls Python itself (timers, thread calls), the
# exception reaches the log without its traceback.


def boom(exc: BaseException) -> None:
    """The user callback that fails (its name is looked for in tracebacks)."""
    raise exc


class _Reader:
    """A descriptor whose doRead raises ``exc`` on a readable socketpair."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.sock, self.peer = socket.socketpair()
        self.peer.send(b"x")
        self.lost: list = []

    def fileno(self) -> int:
        return self.sock.fileno()

    def doRead(self) -> None:
        boom(self.exc)

    def connectionLost(self, reason: Any) -> None:
        self.lost.append(reason)

    def logPrefix(self) -> str:
        return "raising reader"

    def close(self) -> None:
        self.sock.close()
        self.peer.close()


def _provoke(reactor: Any, source: str, exc: BaseException, after: list) -> Any:
    """Make ``source`` raise ``exc`` on the next turn; append "after" to
    ``after`` once a later callback of the same kind ran."""
    if source == "timer":
        reactor.callLater(0, boom, exc)
        reactor.callLater(0, after.append, "after")
    elif source == "thread call":
        reactor.callFromThread(boom, exc)
        reactor.callFromThread(after.append, "after")
    elif source == "trigger":
        reactor.addSystemEventTrigger("during", "custom", boom, exc)
        reactor.addSystemEventTrigger("during", "custom", after.append, "after")
        reactor.callLater(0, reactor.fireSystemEvent, "custom")
    else:
        reader = _Reader(exc)
        reactor.addReader(reader)
        reactor.callLater(0, after.append, "after")
        return reader
    return None


def _failureOf(event: dict) -> Any:
    failure = event.get("log_failure")
    if failure is None and event.get("isError"):
        failure = event.get("failure")
    return failure


class _Observed:
    """Events published to a framework's global log publisher."""

    def __init__(self, flavorName: str) -> None:
        logger = importlib.import_module(flavorName + ".logger")
        self.publisher = logger.globalLogPublisher
        self.events: list = []
        self.publisher.addObserver(self.events.append)

    def failures(self) -> list:
        return [f for f in map(_failureOf, self.events) if f is not None]

    def close(self) -> None:
        self.publisher.removeObserver(self.events.append)


def _provokeAndObserve(flavor: Any, source: str, exc: BaseException) -> Any:
    """Make ``source`` raise ``exc`` once, run until a later callback of the
    same kind ran; returns the events published meanwhile (an _Observed)
    and the raising reader, if any (for its connectionLost reasons)."""
    reactor = flavor.reactor
    observed = _Observed(flavor.name)
    after: list = []
    reader = _provoke(reactor, source, exc, after)
    try:
        run_until(reactor, lambda: after)
    finally:
        observed.close()
        if reader is not None:
            reactor.removeReader(reader)
            reader.close()
    assert after == ["after"]
    return observed, reader


@pytest.mark.parametrize("source", SOURCES)
def test_error_published_once_and_loop_goes_on(flavor, source):
    """The exception reaches the log observers exactly once, as a Failure
    of that very exception; later callbacks still run."""
    exc = ZeroDivisionError(f"from {source}")
    observed, reader = _provokeAndObserve(flavor, source, exc)
    [failure] = observed.failures()
    assert failure.value is exc
    assert failure.type is ZeroDivisionError
    if reader is not None:
        assert [r.value for r in reader.lost] == [exc]


@pytest.mark.parametrize("source", SOURCES)
def test_logged_failure_has_the_traceback(flavor, source):
    """The logged Failure carries the traceback down to the raising
    function."""
    observed, _ = _provokeAndObserve(flavor, source, ValueError("tb"))
    [failure] = observed.failures()
    assert ", in boom\n" in failure.getTraceback()


@pytest.mark.parametrize("source", SOURCES)
def test_logged_header_matches_twisted(flavor, source):
    """The text of the logged event (its header line, then the traceback)
    starts with the same words on both frameworks."""
    logger = importlib.import_module(flavor.name + ".logger")
    observed, _ = _provokeAndObserve(flavor, source, ValueError("header"))
    [event] = [e for e in observed.events if _failureOf(e) is not None]
    text = logger.eventAsText(event, includeTimestamp=False, includeSystem=False)
    assert text.startswith(HEADERS[source] + "\nTraceback (most recent call last):")
    assert text.rstrip().endswith("ValueError: header")


def _text(record: logging.LogRecord) -> str:
    """What a plain handler writes for the record: message, then traceback."""
    return logging.Formatter("%(message)s").format(record)


def _torsionRecords(caplog: Any) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "torsion" or r.name.startswith("torsion.")
    ]


@pytest.mark.parametrize("source", SOURCES)
def test_error_logged_to_stdlib_torsion_logger(reactor, source, caplog):
    """One CRITICAL record on the "torsion" logger: Twisted's header for
    that kind of call, then the traceback text ending with the exception."""
    caplog.set_level(logging.DEBUG, logger="torsion")
    after: list = []
    reader = _provoke(reactor, source, KeyError("stdlib"), after)
    try:
        run_until(reactor, lambda: after)
    finally:
        if reader is not None:
            reactor.removeReader(reader)
            reader.close()
    errors = [r for r in _torsionRecords(caplog) if r.levelno >= logging.WARNING]
    assert [(r.name, r.levelno) for r in errors] == [("torsion", logging.CRITICAL)]
    message = _text(errors[0])
    assert message.startswith(
        HEADERS[source] + "\nTraceback (most recent call last):\n"
    )
    assert message.rstrip().endswith("KeyError: 'stdlib'")


@pytest.mark.parametrize("source", ["timer", "thread call"])
def test_stdlib_record_has_the_traceback(reactor, source, caplog):
    """The stdlib record's text shows the raising function's frame."""
    caplog.set_level(logging.DEBUG, logger="torsion")
    after: list = []
    _provoke(reactor, source, KeyError("stdlib"), after)
    run_until(reactor, lambda: after)
    [record] = [r for r in _torsionRecords(caplog) if r.levelno == logging.CRITICAL]
    assert ", in boom\n" in _text(record)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_keyboardinterrupt_and_systemexit_in_callbacks(
    reactor, source, exc_type, caplog
):
    """KeyboardInterrupt or SystemExit raised inside a callback is logged
    like any error; run() does not end because of it."""
    caplog.set_level(logging.DEBUG, logger="torsion")
    exc = exc_type()
    after: list = []
    reader = _provoke(reactor, source, exc, after)
    try:
        run_until(reactor, lambda: after)
    finally:
        if reader is not None:
            reactor.removeReader(reader)
            reader.close()
    assert after == ["after"]
    critical = [r for r in _torsionRecords(caplog) if r.levelno == logging.CRITICAL]
    assert len(critical) == 1
    assert _text(critical[0]).startswith(HEADERS[source] + "\n")
    assert exc_type.__name__ in _text(critical[0])


def test_errors_while_running_never_end_run(reactor, caplog):
    """A run with failing timers, thread calls and triggers keeps going
    until stop(); every error is logged once."""
    caplog.set_level(logging.DEBUG, logger="torsion")
    ticks: list = []

    def tick(n: int) -> None:
        ticks.append(n)
        if n < 5:
            reactor.callLater(0.001, tick, n + 1)
            reactor.callLater(0, boom, RuntimeError(f"timer {n}"))
            reactor.callFromThread(boom, RuntimeError(f"thread {n}"))
        else:
            reactor.stop()

    reactor.addSystemEventTrigger(
        "before", "shutdown", boom, RuntimeError("shutdown trigger")
    )
    reactor.callWhenRunning(tick, 0)
    guard = reactor.callLater(10, reactor.crash)
    reactor.run(installSignalHandlers=False)
    assert guard.active()
    guard.cancel()
    assert ticks == [0, 1, 2, 3, 4, 5]
    messages = sorted(
        _text(r).rstrip().rsplit("\n", 1)[-1].rsplit(".", 1)[-1]
        for r in _torsionRecords(caplog)
        if r.levelno == logging.CRITICAL
    )
    expected = sorted(
        [f"RuntimeError: timer {n}" for n in range(5)]
        + [f"RuntimeError: thread {n}" for n in range(5)]
        + ["RuntimeError: shutdown trigger"]
    )
    assert messages == expected
