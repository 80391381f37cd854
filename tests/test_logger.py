"""torsion.logger: levels, Logger, formatting, observers, the stdlib bridge.

Formatting is compared with twisted.logger on the same events.
"""

from __future__ import annotations

import io
import logging
import time
import warnings

import pytest
import torsion.logger as tl
import twisted.logger as tlogger
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torsion.logger import (
    FileLogObserver,
    FilteringLogObserver,
    LimitedHistoryLogObserver,
    LogBeginner,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    LogPublisher,
    PredicateResult,
    eventAsText,
    formatEvent,
    formatTime,
    globalLogPublisher,
    textFileLogObserver,
)
from torsion.logger._global import stdlibLoggerName
from torsion.python.failure import Failure


@pytest.fixture
def events():
    """Events published globally during the test."""
    collected: list[dict] = []
    globalLogPublisher.addObserver(collected.append)
    yield collected
    globalLogPublisher.removeObserver(collected.append)


@pytest.fixture
def records(caplog):
    """stdlib records of the "torsion" logger tree, all levels."""
    caplog.set_level(logging.DEBUG, logger="torsion")
    return caplog


def _raiser():
    raise ZeroDivisionError("oops")


def _failure():
    try:
        _raiser()
    except ZeroDivisionError:
        return Failure()


# LogLevel --------------------------------------------------------------------


def test_levels_match_twisted():
    """Same names, order and repr as Twisted's LogLevel."""
    ours = list(LogLevel.iterconstants())
    theirs = list(tlogger.LogLevel.iterconstants())
    assert [lv.name for lv in ours] == [lv.name for lv in theirs]
    assert [repr(lv) for lv in ours] == [repr(lv) for lv in theirs]
    assert (
        LogLevel.debug
        < LogLevel.info
        < LogLevel.warn
        < LogLevel.error
        < LogLevel.critical
    )
    assert LogLevel.critical >= LogLevel.critical
    assert not LogLevel.error <= LogLevel.warn
    assert LogLevel.lookupByName("warn") is LogLevel.warn
    assert LogLevel.levelWithName("error") is LogLevel.error


def test_bad_level_names():
    """Unknown names: ValueError from lookupByName, InvalidLogLevelError from levelWithName."""
    with pytest.raises(ValueError):
        LogLevel.lookupByName("warning")
    with pytest.raises(tl.InvalidLogLevelError) as e:
        LogLevel.levelWithName("loud")
    assert e.value.level == "loud"
    assert str(e.value) == "loud"


# Logger ----------------------------------------------------------------------


class Thing:
    log = Logger()

    def hello(self):
        self.log.info("hello {who}", who="you")


def test_default_namespace_is_calling_module():
    """Logger() takes the module of the code that creates it as namespace."""
    assert Logger().namespace == __name__
    assert repr(Logger("a.b")) == "<Logger 'a.b'>"


def test_descriptor_namespace_and_source(events):
    """A class attribute Logger names itself module.Class; source is the instance/class."""
    t = Thing()
    t.hello()
    (event,) = events
    assert event["log_namespace"] == f"{Thing.__module__}.Thing"
    assert event["log_source"] is t
    assert event["who"] == "you"
    assert event["log_level"] is LogLevel.info
    assert event["log_format"] == "hello {who}"
    assert abs(event["log_time"] - time.time()) < 5
    assert event["log_logger"].namespace == event["log_namespace"]
    assert Thing.log.source is Thing
    assert Thing.log.observer is globalLogPublisher


@pytest.mark.parametrize("level", ["debug", "info", "warn", "error", "critical"])
def test_level_methods(level):
    """Each level method emits at its level to the given observer."""
    seen = []
    log = Logger("ns", observer=seen.append)
    getattr(log, level)("msg {n}", n=3)
    assert seen[0]["log_level"] is getattr(LogLevel, level)
    assert formatEvent(seen[0]) == "msg 3"
    assert seen[0]["log_source"] is None


def test_failure_logs_current_exception():
    """failure() with no Failure wraps the exception being handled, at critical."""
    seen = []
    log = Logger("ns", observer=seen.append)
    try:
        _raiser()
    except ZeroDivisionError:
        log.failure("while {doing}", doing="dividing")
    (event,) = seen
    assert event["log_level"] is LogLevel.critical
    assert event["log_failure"].check(ZeroDivisionError)
    text = eventAsText(event, includeTimestamp=False, includeSystem=False)
    assert text.startswith("while dividing\nTraceback (most recent call last):\n")
    assert "_raiser" in text
    assert text.rstrip().endswith("ZeroDivisionError: oops")


def test_failure_with_explicit_failure_and_level():
    """failure() accepts a Failure and a level."""
    seen = []
    f = _failure()
    Logger("ns", observer=seen.append).failure("x", f, LogLevel.warn)
    assert seen[0]["log_failure"] is f
    assert seen[0]["log_level"] is LogLevel.warn


def test_invalid_level_reports_failure():
    """emit() with an unknown level logs an InvalidLogLevelError failure instead."""
    seen = []
    log = Logger("ns", observer=seen.append)
    log.emit("loud", "x")
    (event,) = seen
    assert event["log_failure"].check(tl.InvalidLogLevelError)
    assert formatEvent(event) == "Got invalid log level 'loud' in <Logger 'ns'>.emit()."


def test_failuresHandled():
    """failuresHandled logs and swallows; the operation reports success or failure."""
    seen = []
    log = Logger("ns", observer=seen.append)
    with log.failuresHandled("doing {x}", x=1) as op:
        _raiser()
    assert op.failed and not op.succeeded
    assert op.failure.check(ZeroDivisionError)
    assert formatEvent(seen[0]) == "doing 1"
    with log.failuresHandled("fine") as op2:
        pass
    assert op2.succeeded and not op2.failed
    assert len(seen) == 1
    handler = log.failureHandler("static")
    with handler:
        _raiser()
    with handler:
        pass
    assert len(seen) == 2 and formatEvent(seen[1]) == "static"


def test_log_trace():
    """log_trace records each logger/publisher/observer an event passes through."""
    seen = []
    pub = LogPublisher(seen.append)
    log = Logger("ns", observer=pub)
    trace: list = []
    log.info("x", log_trace=trace)
    assert trace == [(log, pub), (pub, seen.append)]


# Formatting ------------------------------------------------------------------


class Obj:
    x = 5

    def m(self):
        return "called"

    def __repr__(self):
        return "<Obj>"


FORMAT_CASES = [
    {
        "log_format": "hi {a!r} {a.x} {a.m()} {b[0]} {c()}",
        "a": Obj(),
        "b": [1],
        "c": lambda: 7,
    },
    {"log_format": "{missing}"},
    {"log_format": b"bytes {a}", "a": 1},
    {},
    {"log_format": None},
    {"log_format": 3},
    {"log_format": "{a:>5}|{a!s:<3}|", "a": "x"},
    {"log_format": "{a.nope}", "a": 1},
    {"log_format": "{}"},
    {"log_format": "{{literal}} {n:.2f}", "n": 1.0 / 3},
]


@pytest.mark.parametrize("event", FORMAT_CASES)
def test_formatEvent_matches_twisted(event):
    """formatEvent gives Twisted's text, including for broken events."""
    assert formatEvent(dict(event)) == tlogger.formatEvent(dict(event))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(alphabet="ab{}!r:.0x ", max_size=12),
    st.dictionaries(
        st.sampled_from(["a", "b", "x"]),
        st.integers(-5, 5) | st.sampled_from(["", "z", "{", "1.5"]),
    ),
)
def test_formatEvent_fuzz_matches_twisted(fmt, fields):
    """Arbitrary format strings and fields format identically (or fail identically)."""
    event = dict(fields, log_format=fmt)
    assert formatEvent(dict(event)) == tlogger.formatEvent(dict(event))


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_formatTime_matches_twisted(monkeypatch, tz):
    """formatTime agrees with Twisted's in several time zones and formats."""
    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        for when in (0, 1e9, 1.7e9 + 0.5, 1720000000):
            for fmt in (None, "%Y-%m-%d %H:%M %Z", tl.timeFormatRFC3339):
                assert formatTime(when, fmt) == tlogger.formatTime(when, fmt)
        assert formatTime(None) == "-"
        assert formatTime(None, default="?") == "?"
    finally:
        monkeypatch.undo()
        time.tzset()


def _twistedLevel(level):
    return None if level is None else getattr(tlogger.LogLevel, level.name)


@pytest.mark.parametrize(
    "fields",
    [
        {
            "log_format": "x",
            "log_time": 0,
            "log_namespace": "n",
            "log_level": LogLevel.info,
        },
        {"log_format": "x\ny", "log_time": 1e9, "log_system": "sys"},
        {"log_format": "x"},
        {"log_format": ""},
        {},
    ],
)
def test_classic_text_matches_twisted(fields):
    """eventAsText and formatEventAsClassicLogText agree with Twisted's."""
    theirs = dict(fields)
    if "log_level" in theirs:
        theirs["log_level"] = _twistedLevel(theirs["log_level"])
    assert eventAsText(dict(fields)) == tlogger.eventAsText(theirs)
    assert tl.formatEventAsClassicLogText(
        dict(fields)
    ) == tlogger.formatEventAsClassicLogText(dict(theirs))


def test_eventAsText_with_failure():
    """A log_failure appends the traceback unless includeTraceback is false."""
    f = _failure()
    event = {"log_format": "boom", "log_failure": f, "log_system": "S", "log_time": 0}
    text = eventAsText(event, formatTime=lambda t: "T")
    assert text == "T [S] boom\n" + f.getTraceback()
    assert (
        eventAsText(event, includeTraceback=False, includeTimestamp=False) == "[S] boom"
    )

    class Bad:
        def getTraceback(self):
            raise RuntimeError("nope")

    assert eventAsText(
        {"log_failure": Bad()}, includeTimestamp=False, includeSystem=False
    ) == ("\n(UNABLE TO OBTAIN TRACEBACK FROM EVENT):nope")


# Observers -------------------------------------------------------------------


def test_text_file_observer_matches_twisted():
    """textFileLogObserver writes the same lines as Twisted's, to text or bytes files."""
    fields = {"log_format": "a {b}\nc", "b": 1, "log_time": 0, "log_system": "S"}
    for make in (io.StringIO, io.BytesIO):
        ours, theirs = make(), make()
        textFileLogObserver(ours)(dict(fields))
        tlogger.textFileLogObserver(theirs)(dict(fields))
        assert ours.getvalue() == theirs.getvalue()
    out = io.StringIO()
    textFileLogObserver(out, timeFormat=None)(dict(fields))
    assert out.getvalue() == "- [S] a 1\n\tc\n"
    empty = io.StringIO()
    FileLogObserver(empty, lambda e: None)({})
    assert empty.getvalue() == ""


def test_publisher_add_remove():
    """Observers are added once, removed silently if absent, and must be callable."""
    seen = []
    pub = LogPublisher()
    pub.addObserver(seen.append)
    pub.addObserver(seen.append)
    pub({"n": 1})
    assert seen == [{"n": 1}]
    pub.removeObserver(seen.append)
    pub.removeObserver(seen.append)
    pub({"n": 2})
    assert seen == [{"n": 1}]
    with pytest.raises(TypeError, match="Observer is not callable: 3"):
        pub.addObserver(3)


def test_publisher_survives_broken_observer():
    """A raising observer is reported to the others and keeps receiving events."""
    seen = []
    calls = []

    def broken(event):
        calls.append(event)
        raise ValueError("observer bug")

    pub = LogPublisher(broken, seen.append)
    pub({"log_format": "one"})
    assert len(calls) == 1
    assert seen[0] == {"log_format": "one"}
    report = seen[1]
    assert report["observer"] is broken
    assert report["log_failure"].check(ValueError)
    assert formatEvent(report).startswith(
        f"Temporarily disabling observer {broken} due to exception: "
    )
    pub({"log_format": "two"})
    assert len(calls) == 2


def test_global_publisher_reports_broken_observer_to_stdlib(records):
    """A broken global observer is reported through stdlib logging too."""

    def broken(event):
        raise ValueError("observer bug")

    globalLogPublisher.addObserver(broken)
    try:
        Logger("torsion.test").info("hello")
    finally:
        globalLogPublisher.removeObserver(broken)
    messages = [r.getMessage() for r in records.records]
    assert "hello" in messages
    disabled = [
        r for r in records.records if "Temporarily disabling observer" in r.getMessage()
    ]
    assert len(disabled) == 1
    assert disabled[0].levelno == logging.CRITICAL
    assert disabled[0].exc_info[0] is ValueError


def test_limited_history():
    """LimitedHistoryLogObserver keeps the last N events, in order."""
    h = LimitedHistoryLogObserver(3)
    for n in range(5):
        h({"n": n})
    out = []
    h.replayTo(out.append)
    assert out == [{"n": 2}, {"n": 3}, {"n": 4}]


def test_filtering_by_namespace_level():
    """LogLevelFilterPredicate applies the level of the nearest configured namespace."""
    kept, dropped = [], []
    pred = LogLevelFilterPredicate(defaultLogLevel=LogLevel.warn)
    pred.setLogLevelForNamespace("a.b", LogLevel.debug)
    obs = FilteringLogObserver(kept.append, [pred], dropped.append)

    def ev(ns, level):
        return {"log_namespace": ns, "log_level": level}

    for e in (
        ev("a.b.c", LogLevel.debug),
        ev("a", LogLevel.info),
        ev("a", LogLevel.error),
        ev("", LogLevel.critical),
        {"log_namespace": "x"},
    ):
        obs(e)
    assert [e.get("log_namespace") for e in kept] == ["a.b.c", "a"]
    assert len(dropped) == 3
    assert pred.logLevelForNamespace("a.b.zz") is LogLevel.debug
    assert pred.logLevelForNamespace("q") is LogLevel.warn
    pred.clearLogLevels()
    assert pred.logLevelForNamespace("a.b") is LogLevel.warn
    with pytest.raises(tl.InvalidLogLevelError):
        pred.setLogLevelForNamespace("x", "loud")


def test_filter_predicate_results():
    """yes short-circuits to log, no to drop; junk results raise TypeError."""
    kept = []
    FilteringLogObserver(kept.append, [lambda e: PredicateResult.yes, lambda e: 1 / 0])(
        {}
    )
    assert kept == [{}]
    with pytest.raises(TypeError):
        FilteringLogObserver(kept.append, [lambda e: "yes"])({})


def test_captured_logs():
    """capturedLogs collects the events logged inside the block only."""
    log = Logger("ns")
    with tl.capturedLogs() as captured:
        log.info("in")
    log.info("out")
    assert [formatEvent(e) for e in captured] == ["in"]


# stdlib bridge -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "name"),
    [
        (None, "torsion"),
        ("", "torsion"),
        ("log_legacy", "torsion"),
        ("torsion", "torsion"),
        ("torsion.internet.tcp", "torsion.internet.tcp"),
        ("myapp.Echo", "torsion.myapp.Echo"),
        ("<unknown>", "torsion.unknown"),
        ("a..b. ", "torsion.a.b"),
        ("stdout", "torsion.stdout"),
    ],
)
def test_stdlib_logger_names(namespace, name):
    """Namespaces map to "torsion" or "torsion.<namespace>" (sanitized)."""
    assert stdlibLoggerName(namespace) == name


def test_bridge_levels_and_messages(records):
    """Each event reaches its stdlib logger at the mapped level with the formatted text."""
    log = Logger("myapp.Thing")
    log.debug("d {n}", n=1)
    log.info("i")
    log.warn("w")
    log.error("e")
    log.critical("c")
    got = [(r.name, r.levelno, r.getMessage()) for r in records.records]
    assert got == [
        ("torsion.myapp.Thing", logging.DEBUG, "d 1"),
        ("torsion.myapp.Thing", logging.INFO, "i"),
        ("torsion.myapp.Thing", logging.WARNING, "w"),
        ("torsion.myapp.Thing", logging.ERROR, "e"),
        ("torsion.myapp.Thing", logging.CRITICAL, "c"),
    ]
    assert all(r.exc_info is None for r in records.records)


def test_bridge_failure_has_traceback(records):
    """A failure event carries exc_info, so handlers print the traceback."""
    try:
        _raiser()
    except ZeroDivisionError:
        Logger("myapp").failure("it broke")
    (record,) = records.records
    assert record.levelno == logging.CRITICAL
    assert record.getMessage() == "it broke"
    assert record.exc_info[0] is ZeroDivisionError
    text = logging.Formatter().format(record)
    assert "Traceback (most recent call last)" in text
    assert "_raiser" in text


def test_bridge_cleaned_failure_keeps_traceback_text(records):
    """A cleaned Failure (no traceback object) puts its traceback text in the message."""
    f = _failure()
    f.cleanFailure()
    Logger("myapp").failure("cleaned", f)
    (record,) = records.records
    assert record.getMessage().startswith("cleaned\nTraceback")
    assert "ZeroDivisionError: oops" in record.getMessage()


def test_bridge_is_lazy_when_disabled(caplog):
    """Nothing is formatted when the stdlib logger is not enabled for the level."""
    caplog.set_level(logging.WARNING, logger="torsion")
    formatted = []

    class Spy:
        def __format__(self, spec):
            formatted.append(spec)
            return "spy"

    log = Logger("lazy")
    log.info("{s}", s=Spy())
    assert formatted == []
    log.warn("{s}", s=Spy())
    assert formatted == [""]


def test_bridge_respects_logger_configuration(caplog):
    """Per-namespace stdlib configuration applies: a muted child logger gets nothing."""
    caplog.set_level(logging.DEBUG, logger="torsion")
    logging.getLogger("torsion.noisy").setLevel(logging.ERROR)
    try:
        Logger("noisy").info("hidden")
        Logger("noisy").error("shown")
        Logger("other").info("also shown")
    finally:
        logging.getLogger("torsion.noisy").setLevel(logging.NOTSET)
    assert [r.getMessage() for r in caplog.records] == ["shown", "also shown"]


def test_stdlib_observer():
    """STDLibLogObserver sends events to a chosen stdlib logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    target = logging.getLogger("torsion-test-stdlib")
    target.addHandler(handler)
    target.setLevel(logging.DEBUG)
    target.propagate = False
    try:
        obs = tl.STDLibLogObserver("torsion-test-stdlib")
        obs({"log_format": "x {y}", "y": 2, "log_level": LogLevel.warn})
        obs({"log_format": "f", "log_failure": _failure(), "log_level": LogLevel.error})
    finally:
        target.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "torsion-test-stdlib WARNING x 2"
    assert lines[1] == "torsion-test-stdlib ERROR f"
    assert lines[2] == "Traceback (most recent call last):"
    assert lines[-1] == "ZeroDivisionError: oops"


# LogBeginner and LoggingFile ---------------------------------------------------


class FakeStdio:
    def __init__(self):
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()


class FakeWarnings:
    def __init__(self):
        self.showwarning = self._orig
        self.shown = []

    def _orig(self, *args):
        self.shown.append(args)


def test_beginner_buffers_and_replays():
    """Events before beginLoggingTo are replayed to the new observers."""
    pub = LogPublisher()
    stdio, warn = FakeStdio(), FakeWarnings()
    beginner = LogBeginner(pub, io.StringIO(), stdio, warn, initialBufferSize=2)
    log = Logger("early", observer=pub)
    for n in range(3):
        log.info("e{n}", n=n)
    seen = []
    beginner.beginLoggingTo([seen.append], redirectStandardIO=False)
    assert [formatEvent(e) for e in seen] == ["e1", "e2"]
    log.info("later")
    assert formatEvent(seen[-1]) == "later"
    assert warn.showwarning == beginner.showwarning
    assert isinstance(stdio.stdout, io.StringIO)


def test_beginner_discard_redirect_and_twice():
    """discardBuffer skips the replay; stdio is redirected; a second begin warns."""
    pub = LogPublisher()
    stdio, warn = FakeStdio(), FakeWarnings()
    beginner = LogBeginner(pub, io.StringIO(), stdio, warn)
    Logger("early", observer=pub).info("dropped")
    seen = []
    beginner.beginLoggingTo([seen.append], discardBuffer=True)
    assert seen == []
    assert isinstance(stdio.stdout, tl.LoggingFile)
    print("to stdout", file=stdio.stdout)
    print("to stderr", file=stdio.stderr)
    assert [(e["log_namespace"], e["log_level"], e["log_io"]) for e in seen] == [
        ("stdout", LogLevel.info, "to stdout"),
        ("stderr", LogLevel.error, "to stderr"),
    ]
    beginner.beginLoggingTo([], redirectStandardIO=False)
    assert formatEvent(seen[-1]).startswith(
        "Warning: primary log target selected twice at <"
    )
    beginner.showwarning("careful", UserWarning, "f.py", 3)
    assert formatEvent(seen[-1]) == "f.py:3: builtins.UserWarning: careful"
    beginner.showwarning("x", UserWarning, "f.py", 3, file=io.StringIO())
    assert len(warn.shown) == 1


def test_beginner_leaves_real_stdio_alone_under_pytest():
    """Under pytest the real sys.stdout and warnings.showwarning are never replaced."""
    import sys

    pub = LogPublisher()
    before = (sys.stdout, sys.stderr, warnings.showwarning)
    LogBeginner(pub, io.StringIO(), sys, warnings).beginLoggingTo([])
    assert (sys.stdout, sys.stderr, warnings.showwarning) == before


def test_logging_file():
    """LoggingFile logs complete lines, decodes bytes and refuses reads."""
    seen = []
    f = tl.LoggingFile(Logger("ns", observer=seen.append), LogLevel.warn)
    f.write("a\nb")
    f.write(b"c\n")
    f.writelines(["d\n", "e"])
    assert [e["log_io"] for e in seen] == ["a", "bc", "d"]
    assert all(e["log_level"] is LogLevel.warn for e in seen)
    assert f.name == "<LoggingFile ns#warn>"
    assert (f.mode, f.newlines, f.isatty(), f.closed) == ("w", None, False, False)
    with pytest.raises(OSError):
        f.read()
    with pytest.raises(io.UnsupportedOperation):
        f.fileno()
    f.close()
    with pytest.raises(ValueError):
        f.write("x")


def test_legacy_wrapper_matches_twisted():
    """LegacyLogObserverWrapper adds the same old-style keys as Twisted's."""
    ours, theirs = [], []
    base = {"log_format": "hi {x}", "x": 1, "log_time": 5.0, "log_level": None}
    e1 = dict(base, log_level=LogLevel.error)
    e2 = dict(base, log_level=tlogger.LogLevel.error)
    tl.LegacyLogObserverWrapper(ours.append)(e1)
    tlogger.LegacyLogObserverWrapper(theirs.append)(e2)
    keys = ("message", "time", "system", "format", "isError")
    assert [ours[0][k] for k in keys] == [theirs[0][k] for k in keys]
    assert str(ours[0]["log_legacy"]) == str(theirs[0]["log_legacy"]) == "hi 1"
    f = _failure()
    tl.LegacyLogObserverWrapper(ours.append)(
        {
            "log_format": "why {x}",
            "x": 2,
            "log_time": 1,
            "log_failure": f,
            "log_level": LogLevel.critical,
        }
    )
    assert ours[1]["failure"] is f
    assert (ours[1]["isError"], ours[1]["why"]) == (1, "why 2")
    assert repr(tl.LegacyLogObserverWrapper(print)).startswith(
        "LegacyLogObserverWrapper("
    )
