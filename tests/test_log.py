"""torsion.python.log (the classic msg/err API) compared with twisted.python.log."""

from __future__ import annotations

import io
import logging
import sys
import threading

import pytest
import twisted.python.failure as tfailure
import twisted.python.log as tlog
from torsion.logger import LogLevel, formatEvent, globalLogPublisher
from torsion.python import failure, log


@pytest.fixture
def legacy():
    """Old-style events received through torsion's log.addObserver."""
    seen: list[dict] = []
    log.addObserver(seen.append)
    yield seen
    log.removeObserver(seen.append)


@pytest.fixture
def twistedLegacy():
    """Old-style events received through Twisted's log.addObserver."""
    seen: list[dict] = []
    tlog.addObserver(seen.append)
    yield seen
    tlog.removeObserver(seen.append)


def _raiser():
    raise ValueError("bad")


def _errScenario(module, failureModule):
    """Log the same errors in every supported way."""
    try:
        _raiser()
    except ValueError:
        module.err()
    try:
        _raiser()
    except ValueError:
        module.err(None, "Unhandled Error")
    try:
        _raiser()
    except ValueError as e:
        module.err(failureModule.Failure(e), "while testing")
    module.err(ValueError("no traceback"), "plain exception")
    module.err("not an exception", "odd")
    module.msg("hello", "world", system="sys")
    module.msg("with %(n)s", n=1)
    module.msg(format="fmt %(n)s", n=2)
    module.msg(b"bytes \xc3\xa9")


KEYS = ("message", "isError", "system", "why", "format", "printed")


def test_err_and_msg_match_twisted(legacy, twistedLegacy):
    """Old-style observers see the same text and keys for the same calls as on Twisted."""
    _errScenario(log, failure)
    _errScenario(tlog, tfailure)
    ours = [log.textFromEventDict(e) for e in legacy]
    theirs = [tlog.textFromEventDict(e) for e in twistedLegacy]
    assert ours == theirs
    assert [sorted(e) for e in legacy] == [sorted(e) for e in twistedLegacy]
    for mine, other in zip(legacy, twistedLegacy, strict=True):
        for key in KEYS:
            if key != "format":
                assert mine.get(key) == other.get(key), key
        assert mine["log_level"].name == other["log_level"].name
        assert mine["log_namespace"] == other["log_namespace"]


def test_unhandled_error_text(legacy):
    """log.err(failure, "Unhandled Error") reads "Unhandled Error\\nTraceback ..."."""
    try:
        _raiser()
    except ValueError:
        f = failure.Failure()
    log.err(f, "Unhandled Error")
    (event,) = legacy
    text = log.textFromEventDict(event)
    assert text == "Unhandled Error\n" + f.getTraceback()
    assert text.startswith("Unhandled Error\nTraceback (most recent call last):\n")
    assert (event["isError"], event["failure"], event["why"]) == (
        1,
        f,
        "Unhandled Error",
    )
    assert event["log_level"] is LogLevel.critical


def test_err_without_exception():
    """err() outside an except block fails as Failure() does."""
    with pytest.raises(failure.NoCurrentExceptionError):
        log.err()


def test_new_style_observers_see_legacy_events():
    """msg/err events reach new-style observers with log_* keys (namespace log_legacy)."""
    seen: list[dict] = []
    globalLogPublisher.addObserver(seen.append)
    try:
        log.msg("hi", system="S")
        log.err(ValueError("x"), "why")
    finally:
        globalLogPublisher.removeObserver(seen.append)
    assert [formatEvent(e) for e in seen][0] == "hi"
    assert seen[0]["log_system"] == "S"
    assert seen[0]["log_level"] is LogLevel.info
    assert seen[1]["log_level"] is LogLevel.critical
    assert formatEvent(seen[1]).startswith("why\nTraceback (most recent call last):")


def test_stdlib_receives_unhandled_error(caplog):
    """log.err reaches logging "torsion" at CRITICAL with exc_info; msg at INFO."""
    caplog.set_level(logging.DEBUG, logger="torsion")
    try:
        _raiser()
    except ValueError:
        log.err()
    log.msg("note", logLevel=logging.WARNING)
    log.msg("info")
    err, warn, info = caplog.records
    assert (err.name, err.levelno, err.getMessage()) == (
        "torsion",
        logging.CRITICAL,
        "Unhandled Error",
    )
    assert err.exc_info[0] is ValueError
    assert "_raiser" in logging.Formatter().format(err)
    assert (warn.levelno, warn.getMessage()) == (logging.WARNING, "note")
    assert (info.levelno, info.getMessage()) == (logging.INFO, "info")


def test_callWithContext_sets_system(legacy):
    """callWithContext adds fields to events logged inside, nested and restored."""

    def inner():
        log.msg("inner")
        return "result"

    def outer():
        log.msg("outer")
        return log.callWithContext({"system": "inner-sys", "extra": 1}, inner)

    assert log.callWithContext({"system": "outer-sys"}, outer) == "result"
    log.msg("after")
    assert [(e["system"], e.get("extra")) for e in legacy] == [
        ("outer-sys", None),
        ("inner-sys", 1),
        ("-", None),
    ]


def test_callWithContext_is_per_thread(legacy):
    """Context set in one thread does not leak into another."""
    done = threading.Event()

    def other():
        log.msg("from thread")
        done.set()

    def body():
        t = threading.Thread(target=other)
        t.start()
        assert done.wait(10)
        t.join(10)

    log.callWithContext({"system": "main"}, body)
    assert [e["system"] for e in legacy] == ["-"]


class Named:
    def logPrefix(self):
        return "NamedPrefix"


def test_callWithLogger_logs_and_swallows(legacy):
    """callWithLogger returns the result, or logs the error with system=logPrefix."""
    assert log.callWithLogger(Named(), lambda a, b=0: a + b, 1, b=2) == 3
    assert log.callWithLogger(Named(), _raiser) is None
    (event,) = legacy
    assert event["system"] == "NamedPrefix"
    assert event["isError"] == 1
    assert event["failure"].check(ValueError)


def test_callWithLogger_matches_twisted(legacy, twistedLegacy):
    """Same events as Twisted's, including for a broken logPrefix."""

    class Buggy:
        def logPrefix(self):
            raise RuntimeError("prefix")

    for module in (log, tlog):
        module.callWithLogger(Buggy(), lambda m=module: m.msg("inside"))
        module.callWithLogger(Named(), _raiser)
    ours = [(e["system"], e["isError"], e["message"]) for e in legacy]
    theirs = [(e["system"], e["isError"], e["message"]) for e in twistedLegacy]
    assert ours == theirs
    assert ours[0] == ("(buggy logPrefix method)", 1, ())


def test_callWithLogger_lets_keyboard_interrupt_through():
    """KeyboardInterrupt is not swallowed."""

    def interrupt():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        log.callWithLogger(Named(), interrupt)


@pytest.mark.parametrize(
    "event",
    [
        {"message": ("a", "b"), "isError": 0},
        {"message": (), "isError": 0},
        {"message": (), "isError": 1},
        {"message": (), "isError": 0, "format": "%(x)s!", "x": 3},
        {"message": (), "isError": 0, "format": "%(missing)s"},
        {"message": (), "isError": 0, "format": "%d", "x": 3},
        {"message": (1, None, b"b"), "isError": 0},
        {"message": (), "isError": 1, "why": "w", "format": "ignored"},
    ],
)
def test_textFromEventDict_matches_twisted(event):
    """textFromEventDict agrees with Twisted's."""
    assert log.textFromEventDict(dict(event)) == tlog.textFromEventDict(dict(event))


def test_textFromEventDict_bad_traceback():
    """A failure whose traceback cannot be formatted is described, not raised."""

    class Bad:
        def getTraceback(self):
            raise RuntimeError("no tb")

    text = log.textFromEventDict({"message": (), "isError": 1, "failure": Bad()})
    assert text == "Unhandled Error\n(unable to obtain traceback): no tb"


@pytest.mark.parametrize("timeFormat", [None, "%H:%M"])
def test_file_log_observer_matches_twisted(timeFormat):
    """FileLogObserver writes Twisted's "time [system] text" lines."""
    events = [
        {"message": ("line",), "time": 0, "system": "S", "isError": 0},
        {"message": ("a\nb",), "time": 1e9, "system": "-", "isError": 0},
        {"message": (), "time": 1e9, "system": "-", "isError": 0},
    ]
    ours, theirs = io.StringIO(), io.StringIO()
    o, t = log.FileLogObserver(ours), tlog.FileLogObserver(theirs)
    o.timeFormat = t.timeFormat = timeFormat
    for e in events:
        o.emit(dict(e))
        t.emit(dict(e))
    assert ours.getvalue() == theirs.getvalue()
    if timeFormat is None:
        assert ours.getvalue().splitlines()[0] == "1970-01-01 00:00:00+0000 [S] line"


def test_startLogging_writes_and_keeps_stdout():
    """startLogging writes "Log opened." and later messages; sys.stdout stays put under pytest."""
    out = io.StringIO()
    before = (sys.stdout, sys.stderr)
    flo = log.startLogging(out)
    try:
        assert isinstance(flo, log.FileLogObserver)
        assert (sys.stdout, sys.stderr) == before
        log.msg("after start", system="sys")
        lines = out.getvalue().splitlines()
        assert lines[0].endswith(" [-] Log opened.")
        assert lines[-1].endswith(" [sys] after start")
        assert flo.emit in log.theLogPublisher.observers
    finally:
        log.removeObserver(flo.emit)
    log.msg("after stop")
    assert "after stop" not in out.getvalue()
    assert log.startLogging(log.logfile) is None


def test_start_stop_observer(legacy):
    """_GlobalStartStopObserver.start()/stop() add and remove emit."""
    out = io.StringIO()
    obs = log.FileLogObserver(out)
    obs.start()
    log.msg("seen")
    obs.stop()
    log.msg("unseen")
    assert "seen" in out.getvalue() and "unseen" not in out.getvalue()


def test_python_logging_observer(caplog):
    """PythonLoggingObserver forwards events to a chosen stdlib logger."""
    caplog.set_level(logging.DEBUG, logger="torsion-legacy-test")
    obs = log.PythonLoggingObserver("torsion-legacy-test")
    obs.start()
    try:
        log.msg("via observer")
    finally:
        obs.stop()
    assert [
        r.getMessage() for r in caplog.records if r.name == "torsion-legacy-test"
    ] == ["via observer"]


def test_stdio_onna_stick(legacy):
    """StdioOnnaStick turns written lines into msg events."""
    s = log.StdioOnnaStick(isError=1)
    s.write("one\ntw")
    s.write("o\n")
    s.writelines(["three"])
    assert [(e["message"], e["printed"], e["isError"]) for e in legacy] == [
        (("one",), 1, 1),
        (("two",), 1, 1),
        (("three",), 1, 1),
    ]
    with pytest.raises(OSError):
        s.read()


def test_logfile_and_default_observer(legacy):
    """logfile logs lines at info; DefaultObserver writes only errors to its stderr."""
    log.logfile.write("from logfile\n")
    assert legacy[-1]["log_io"] == "from logfile"
    d = log.DefaultObserver()
    d.stderr = io.StringIO()
    d.emit({"message": ("quiet",), "isError": 0})
    d.emit({"message": ("loud",), "isError": 1})
    assert d.stderr.getvalue() == "loud"


def test_legacy_publisher_standalone():
    """A separate legacy LogPublisher delivers only to its own observers."""
    pub = log.LogPublisher()
    seen: list[dict] = []
    pub.addObserver(seen.append)
    assert pub.observers == [seen.append]
    pub.msg("private")
    pub.removeObserver(seen.append)
    pub.msg("dropped")
    assert [e["message"] for e in seen] == [("private",)]


def test_msg_from_threads(legacy):
    """msg is safe from several threads: every event arrives exactly once."""

    def work(n):
        for i in range(50):
            log.msg(f"{n}-{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    got = sorted(e["message"][0] for e in legacy)
    assert got == sorted(f"{n}-{i}" for n in range(4) for i in range(50))
