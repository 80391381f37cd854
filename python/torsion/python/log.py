"""The classic ``twisted.python.log`` API (``msg``, ``err``, ``startLogging``) for torsion.

Old-style events are dicts with ``message`` (a tuple of strings), ``isError``,
``system``, ``time`` and, for errors, ``failure`` and ``why``. They are
published through ``torsion.logger.globalLogPublisher``, so they reach stdlib
``logging`` (logger "torsion") and both old- and new-style observers.

``log.err(failure, "Unhandled Error")`` is how torsion reports an exception
raised by a user callback; an old-style observer's text for it is
``"Unhandled Error\\nTraceback (most recent call last):\\n..."`` as in Twisted.

``startLogging(file)`` follows Twisted (``setStdout`` defaults to true and
replaces sys.stdout/sys.stderr with logging files), except that while a
pytest test is running sys.stdout and sys.stderr are never replaced.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from io import UnsupportedOperation
from typing import Any, NoReturn

from zope.interface import Interface

from torsion.logger import (
    LegacyLogObserverWrapper,
    LogBeginner,
    LoggingFile,
    LogLevel,
    globalLogBeginner,
    globalLogPublisher,
)
from torsion.logger import Logger as _NewLogger
from torsion.logger import (
    LogPublisher as _NewPublisher,
)
from torsion.logger import STDLibLogObserver as _NewSTDLibLogObserver
from torsion.logger._legacy import publishToNewObserver
from torsion.python.failure import Failure

EventDict = dict[str, Any]


class ILogContext:
    """The key of the default fields (such as ``system``) added to every event."""


class ILogObserver(Interface):
    """An old-style observer: a callable taking an event dict."""

    def __call__(eventDict: EventDict) -> None:
        """Handle one old-style event."""


_DEFAULT_CONTEXT: dict[str, Any] = {"system": "-"}
_logContext: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "torsion_log_context", default=None
)


def _currentContext() -> dict[str, Any]:
    """The fields callWithContext has set for the running code; inside a
    callback the reactor makes for a transport, port or descriptor, system
    is that selectable's logPrefix() (Twisted's callWithLogger)."""
    context = _logContext.get()
    if context is not None:
        return context
    selectable = _dispatching()
    if selectable is None:
        return _DEFAULT_CONTEXT
    try:
        prefix = selectable.logPrefix()
    except Exception:
        prefix = "(buggy logPrefix method)"
    return {"system": prefix}


def _dispatching() -> Any:
    """The selectable whose event the reactor is handling (see
    rust/py/dispatch.rs), or None."""
    global _dispatchingOf
    if _dispatchingOf is None:
        try:
            from torsion._torsion import _dispatching as current
        except ImportError:
            return None
        _dispatchingOf = current
    return _dispatchingOf()


_dispatchingOf: Callable[[], Any] | None = None


def callWithContext(
    ctx: dict[str, Any], func: Callable[..., Any], *args: Any, **kw: Any
) -> Any:
    """Call ``func`` with ``ctx`` merged into the fields added to events it logs."""
    merged = dict(_currentContext())
    merged.update(ctx)
    token = _logContext.set(merged)
    try:
        return func(*args, **kw)
    finally:
        _logContext.reset(token)


def callWithLogger(logger: Any, func: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Call ``func`` with system = ``logger.logPrefix()``, logging (not raising) errors.

    KeyboardInterrupt propagates; any other exception is logged with ``err``
    and None is returned.
    """
    try:
        prefix = logger.logPrefix()
    except KeyboardInterrupt:
        raise
    except BaseException:
        prefix = "(buggy logPrefix method)"
        err(system=prefix)
    try:
        return callWithContext({"system": prefix}, func, *args, **kw)
    except KeyboardInterrupt:
        raise
    except BaseException:
        err(system=prefix)
    return None


def err(_stuff: Any = None, _why: str | None = None, **kw: Any) -> None:
    """Log a failure: a Failure, an exception, or (default) the one being handled.

    The event has ``isError=1`` (critical level) and ``why`` as its header,
    "Unhandled Error" when none is given.
    """
    if _stuff is None:
        _stuff = Failure()
    if isinstance(_stuff, Failure):
        msg(failure=_stuff, why=_why, isError=1, **kw)
    elif isinstance(_stuff, Exception):
        msg(failure=Failure(_stuff), why=_why, isError=1, **kw)
    else:
        msg(repr(_stuff), why=_why, isError=1, **kw)


deferr = err


class Logger:
    """Old-style base class for objects that name themselves in logs."""

    def logPrefix(self) -> str:
        """The ``system`` for events logged on this object's behalf."""
        return "-"


class NullFile:
    """A file that discards everything written to it."""

    softspace = 0

    def read(self) -> None:
        """Return nothing."""

    def write(self, bytes: Any) -> None:
        """Discard ``bytes``."""

    def flush(self) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Do nothing."""


class LogPublisher:
    """Old-style publisher: wraps old-style observers for a new-style publisher."""

    def __init__(
        self,
        observerPublisher: Any = None,
        publishPublisher: Any = None,
        logBeginner: Any = None,
        warningsModule: Any = warnings,
    ) -> None:
        if publishPublisher is None:
            publishPublisher = _NewPublisher()
            if observerPublisher is None:
                observerPublisher = publishPublisher
        if observerPublisher is None:
            observerPublisher = _NewPublisher()
        self._observerPublisher = observerPublisher
        self._publishPublisher = publishPublisher
        self._legacyObservers: list[LegacyLogObserverWrapper] = []
        if logBeginner is None:
            beginnerPublisher = _NewPublisher()
            beginnerPublisher.addObserver(observerPublisher)
            logBeginner = LogBeginner(beginnerPublisher, NullFile(), sys, warnings)  # type: ignore[arg-type]
        self._logBeginner = logBeginner
        self._warningsModule = warningsModule
        self._oldshowwarning = warningsModule.showwarning
        self.showwarning = self._logBeginner.showwarning
        self._lock = threading.RLock()

    @property
    def observers(self) -> list[Any]:
        """The old-style observers added to this publisher."""
        return [w.legacyObserver for w in self._legacyObservers]

    def _startLogging(self, other: Any, setStdout: Any) -> None:
        """Begin logging to ``other`` through the log beginner."""
        wrapped = LegacyLogObserverWrapper(other)
        self._legacyObservers.append(wrapped)
        self._logBeginner.beginLoggingTo([wrapped], True, setStdout)

    def _stopLogging(self) -> None:
        """Undo the warnings redirection done when logging began."""
        if self._warningsModule.showwarning == self.showwarning:
            self._warningsModule.showwarning = self._oldshowwarning

    def addObserver(self, other: Any) -> None:
        """Add an old-style observer."""
        wrapped = LegacyLogObserverWrapper(other)
        self._legacyObservers.append(wrapped)
        self._observerPublisher.addObserver(wrapped)

    def removeObserver(self, other: Any) -> None:
        """Remove an old-style observer added with addObserver."""
        for wrapped in self._legacyObservers:
            if wrapped.legacyObserver == other:
                self._legacyObservers.remove(wrapped)
                self._observerPublisher.removeObserver(wrapped)
                break

    def msg(self, *message: Any, **kw: Any) -> None:
        """Log ``message`` (joined with spaces) with ``kw`` as extra event fields."""
        event: EventDict = dict(_currentContext())
        event.update(kw)
        event["message"] = message
        event["time"] = time.time()
        if "isError" not in event:
            event["isError"] = 0
        with self._lock:
            publishToNewObserver(self._publishPublisher, event, textFromEventDict)


theLogPublisher = LogPublisher(
    observerPublisher=globalLogPublisher,
    publishPublisher=globalLogPublisher,
    logBeginner=globalLogBeginner,
)
"""The process-wide old-style publisher (feeds torsion.logger.globalLogPublisher)."""

addObserver = theLogPublisher.addObserver
removeObserver = theLogPublisher.removeObserver
msg = theLogPublisher.msg
showwarning = theLogPublisher.showwarning


def _safeStr(obj: object) -> str:
    """str() that never raises (bytes are decoded as UTF-8 when possible)."""
    if isinstance(obj, bytes):
        try:
            return obj.decode("utf-8")
        except UnicodeDecodeError:
            pass
    try:
        return str(obj)
    except BaseException as e:
        try:
            name = type(obj).__name__
        except BaseException:
            name = "object"
        return f"<{name} instance at 0x{id(obj):x} with str error {type(e).__name__}>"


def _safeFormat(fmtString: str, fmtDict: dict[str, Any]) -> str:
    """``fmtString % fmtDict``, or a description of why that failed; never raises."""
    try:
        return fmtString % fmtDict
    except KeyboardInterrupt:
        raise
    except BaseException:
        try:
            return (
                "Invalid format string or unformattable object in "
                f"log message: {fmtString!r}, {fmtDict}"
            )
        except BaseException:
            try:
                return (
                    f"UNFORMATTABLE OBJECT WRITTEN TO LOG with fmt {fmtString!r}, "
                    "MESSAGE LOST"
                )
            except BaseException:
                return (
                    "PATHOLOGICAL ERROR IN BOTH FORMAT STRING AND "
                    "MESSAGE DETAILS, MESSAGE LOST"
                )


def textFromEventDict(eventDict: EventDict) -> str | None:
    """The text of an old-style event, or None if it has nothing to show.

    The message items joined by spaces; for an error without message, the
    ``why`` (default "Unhandled Error"), a newline and the traceback; else the
    ``format`` %-applied to the event.
    """
    message = eventDict["message"]
    if message:
        return " ".join(map(_safeStr, message))
    if eventDict["isError"] and "failure" in eventDict:
        why = eventDict.get("why")
        why = _safeStr(why) if why else "Unhandled Error"
        try:
            tb = eventDict["failure"].getTraceback()
        except Exception as e:
            tb = "(unable to obtain traceback): " + str(e)
        return why + "\n" + tb
    if "format" in eventDict:
        return _safeFormat(eventDict["format"], eventDict)
    return None


def _retrying(f: Callable[..., Any], *args: Any) -> Any:
    """Call ``f``, retrying when it is interrupted by a signal (EINTR)."""
    while True:
        try:
            return f(*args)
        except InterruptedError:
            continue


class _GlobalStartStopObserver:
    """Mix-in: ``start()``/``stop()`` add/remove ``emit`` as a global observer."""

    def emit(self, eventDict: EventDict) -> None:
        """Handle one event."""
        raise NotImplementedError

    def start(self) -> None:
        """Start observing global log events."""
        addObserver(self.emit)

    def stop(self) -> None:
        """Stop observing global log events."""
        removeObserver(self.emit)


class FileLogObserver(_GlobalStartStopObserver):
    """Writes ``<time> [<system>] <text>`` lines to a file (continuations tab-indented)."""

    timeFormat: str | None = None

    def __init__(self, f: Any) -> None:
        self.write = f.write
        self.flush = f.flush

    def getTimezoneOffset(self, when: float) -> int:
        """Seconds west of UTC of the local time zone at ``when``."""
        offset = datetime.fromtimestamp(when, UTC).replace(
            tzinfo=None
        ) - datetime.fromtimestamp(when)
        return offset.days * 86400 + offset.seconds

    def formatTime(self, when: float) -> str:
        """``YYYY-MM-DD HH:MM:SS+HHMM`` in local time, or ``timeFormat`` if set."""
        if self.timeFormat is not None:
            return datetime.fromtimestamp(when).strftime(self.timeFormat)
        tzOffset = -self.getTimezoneOffset(when)
        local = datetime.fromtimestamp(when + tzOffset, UTC)
        hours = abs(int(tzOffset / 60 / 60))
        minutes = abs(int(tzOffset / 60 % 60))
        sign = "-" if tzOffset < 0 else "+"
        return (
            f"{local.year}-{local.month:02d}-{local.day:02d} "
            f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
            f"{sign}{hours:02d}{minutes:02d}"
        )

    def emit(self, eventDict: EventDict) -> None:
        """Write one event as a line and flush."""
        text = textFromEventDict(eventDict)
        if text is None:
            return
        stamp = self.formatTime(eventDict["time"])
        line = _safeFormat(
            "[%(system)s] %(text)s\n",
            {"system": eventDict["system"], "text": text.replace("\n", "\n\t")},
        )
        _retrying(self.write, stamp + " " + line)
        _retrying(self.flush)


class PythonLoggingObserver(_GlobalStartStopObserver):
    """Sends old-style events to a stdlib logger (default "torsion")."""

    def __init__(self, loggerName: str = "torsion") -> None:
        self._newObserver = _NewSTDLibLogObserver(loggerName)

    def emit(self, eventDict: EventDict) -> None:
        """Forward one event to the stdlib logger."""
        if "log_format" in eventDict:
            publishToNewObserver(self._newObserver, eventDict, textFromEventDict)


class StdioOnnaStick:
    """A stand-in for stdout/stderr that logs each line written."""

    closed = 0
    softspace = 0
    mode = "wb"
    name = "<stdio (log)>"

    def __init__(self, isError: int = 0, encoding: str | None = None) -> None:
        self.isError = isError
        self.encoding = sys.getdefaultencoding() if encoding is None else encoding
        self.buf = ""

    def close(self) -> None:
        """Do nothing."""

    def fileno(self) -> NoReturn:
        """There is no file descriptor."""
        raise UnsupportedOperation("StdioOnnaStick has no file descriptor.")

    def flush(self) -> None:
        """Do nothing."""

    def read(self) -> NoReturn:
        """Reading is not possible."""
        raise OSError("can't read from the log!")

    readline = read
    readlines = read
    seek = read
    tell = read

    def write(self, data: str) -> None:
        """Log each complete line."""
        lines = (self.buf + data).split("\n")
        self.buf = lines.pop()
        for line in lines:
            msg(line, printed=1, isError=self.isError)

    def writelines(self, lines: Any) -> None:
        """Log each of ``lines``."""
        for line in lines:
            msg(line, printed=1, isError=self.isError)


def startLoggingWithObserver(
    observer: Callable[[EventDict], None], setStdout: Any = 1
) -> None:
    """Begin logging to an old-style observer, then log "Log opened."."""
    theLogPublisher._startLogging(observer, setStdout)
    msg("Log opened.")


def startLogging(file: Any, *a: Any, **kw: Any) -> FileLogObserver | None:
    """Begin logging to ``file`` with a FileLogObserver, which is returned."""
    if isinstance(file, LoggingFile):
        return None
    flo = FileLogObserver(file)
    startLoggingWithObserver(flo.emit, *a, **kw)
    return flo


def discardLogs() -> None:
    """Make the module-level ``logfile`` discard what is written to it."""
    global logfile
    logfile = NullFile()  # type: ignore[assignment]


logfile = LoggingFile(
    logger=_NewLogger(),
    level=LogLevel.info,
    encoding=getattr(sys.stdout, "encoding", None),
)
"""A file whose lines are logged at info level."""

logerr = LoggingFile(
    logger=_NewLogger(),
    level=LogLevel.error,
    encoding=getattr(sys.stderr, "encoding", None),
)
"""A file whose lines are logged at error level."""


class DefaultObserver(_GlobalStartStopObserver):
    """Writes the text of error events to stderr (not started by default)."""

    stderr = sys.stderr

    def emit(self, eventDict: EventDict) -> None:
        """Write an error event's text to stderr; ignore other events."""
        if eventDict["isError"]:
            text = textFromEventDict(eventDict)
            if text is not None:
                self.stderr.write(text)
            self.stderr.flush()


defaultObserver = DefaultObserver()
"""The DefaultObserver instance (as in Twisted; inactive unless started)."""

__all__ = [
    "ILogContext",
    "ILogObserver",
    "callWithContext",
    "callWithLogger",
    "err",
    "deferr",
    "Logger",
    "LogPublisher",
    "theLogPublisher",
    "addObserver",
    "removeObserver",
    "msg",
    "showwarning",
    "textFromEventDict",
    "FileLogObserver",
    "PythonLoggingObserver",
    "StdioOnnaStick",
    "startLogging",
    "startLoggingWithObserver",
    "NullFile",
    "discardLogs",
    "logfile",
    "logerr",
    "DefaultObserver",
    "defaultObserver",
]
