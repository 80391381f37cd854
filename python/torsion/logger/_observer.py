"""Log observers: the publisher that fans events out, buffers, filters, files, stdlib."""

from __future__ import annotations

import io
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import IO, Any

from zope.interface import Interface, implementer

from torsion.logger._format import (
    formatEvent,
    formatEventAsClassicLogText,
    formatTime,
    timeFormatRFC3339,
)
from torsion.logger._levels import InvalidLogLevelError, LogLevel, _Level
from torsion.logger._logger import Logger

LogEvent = dict[str, Any]
"""A log event: a dict of fields, the ``log_*`` ones set by the logging system."""


class ILogObserver(Interface):
    """Something that receives log events."""

    def __call__(event: LogEvent) -> None:
        """Handle one log event."""


OBSERVER_DISABLED = (
    "Temporarily disabling observer {observer} due to exception: {log_failure}"
)


@implementer(ILogObserver)
class LogPublisher:
    """An observer that forwards each event to every observer added to it.

    An observer that raises is reported (to the others) and kept.
    """

    def __init__(self, *observers: Any) -> None:
        self._observers = list(observers)
        self.log = Logger(observer=self)

    def addObserver(self, observer: Any) -> None:
        """Add ``observer`` (a callable taking an event), once."""
        if not callable(observer):
            raise TypeError(f"Observer is not callable: {observer!r}")
        if observer not in self._observers:
            self._observers.append(observer)

    def removeObserver(self, observer: Any) -> None:
        """Remove ``observer`` if present."""
        try:
            self._observers.remove(observer)
        except ValueError:
            pass

    def __call__(self, event: LogEvent) -> None:
        """Forward ``event`` to each observer in turn."""
        trace = event.get("log_trace") if "log_trace" in event else None
        broken = []
        for observer in list(self._observers):
            if trace is not None:
                trace.append((self, observer))
            try:
                observer(event)
            except Exception:
                from torsion.python.failure import Failure

                broken.append((observer, Failure()))
        for observer, failure in broken:
            Logger(observer=self._withoutObserver(observer)).failure(
                OBSERVER_DISABLED, failure=failure, observer=observer
            )

    def _withoutObserver(self, observer: Any) -> LogPublisher:
        """A publisher to every observer but ``observer`` (to report its failure)."""
        return LogPublisher(*(o for o in self._observers if o is not observer))


@implementer(ILogObserver)
def bitbucketLogObserver(event: LogEvent) -> None:
    """An observer that ignores every event."""


@implementer(ILogObserver)
class LimitedHistoryLogObserver:
    """Keeps the last ``size`` events (all if None) to replay them later."""

    def __init__(self, size: int | None = 64 * 1024) -> None:
        self._buffer: deque[LogEvent] = deque(maxlen=size)

    def __call__(self, event: LogEvent) -> None:
        """Remember ``event``."""
        self._buffer.append(event)

    def replayTo(self, otherObserver: Any) -> None:
        """Send every remembered event to ``otherObserver``, oldest first."""
        for event in self._buffer:
            otherObserver(event)


def _isBinary(f: Any) -> bool:
    """Whether a file-like object wants bytes rather than text."""
    if isinstance(f, io.TextIOBase):
        return False
    if isinstance(f, (io.RawIOBase, io.BufferedIOBase)):
        return True
    mode = getattr(f, "mode", "")
    return isinstance(mode, str) and "b" in mode


@implementer(ILogObserver)
class FileLogObserver:
    """Writes each event, formatted by ``formatEvent``, to a file, then flushes."""

    def __init__(
        self, outFile: IO[Any], formatEvent: Callable[[LogEvent], Any]
    ) -> None:
        self._encoding = "utf-8" if _isBinary(outFile) else None
        self._outFile = outFile
        self.formatEvent = formatEvent

    def __call__(self, event: LogEvent) -> None:
        """Format and write ``event`` (nothing if it formats to nothing)."""
        text = self.formatEvent(event)
        if text:
            if self._encoding is None:
                self._outFile.write(text)
            else:
                self._outFile.write(text.encode(self._encoding))
            self._outFile.flush()


def textFileLogObserver(
    outFile: IO[Any], timeFormat: str | None = timeFormatRFC3339
) -> FileLogObserver:
    """A FileLogObserver writing classic ``time [system] message`` lines."""

    def format(event: LogEvent) -> str | None:
        return formatEventAsClassicLogText(
            event, formatTime=lambda when: formatTime(when, timeFormat)
        )

    return FileLogObserver(outFile, format)


class _Result:
    """One predicate result constant."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<PredicateResult={self.name}>"


class PredicateResult:
    """What a filter predicate says about an event: yes, no or maybe."""

    yes = _Result("yes")
    no = _Result("no")
    maybe = _Result("maybe")

    @classmethod
    def iterconstants(cls) -> Iterable[_Result]:
        """Iterate over yes, no, maybe."""
        return iter((cls.yes, cls.no, cls.maybe))


class ILogFilterPredicate(Interface):
    """Decides whether an event should be logged."""

    def __call__(event: LogEvent) -> Any:
        """Return a PredicateResult for ``event``."""


def shouldLogEvent(predicates: Iterable[Any], event: LogEvent) -> bool:
    """Apply predicates in order: first yes/no decides; all maybe means yes."""
    for predicate in predicates:
        result = predicate(event)
        if result is PredicateResult.yes:
            return True
        if result is PredicateResult.no:
            return False
        if result is PredicateResult.maybe:
            continue
        raise TypeError(f"Invalid predicate result: {result!r}")
    return True


@implementer(ILogObserver)
class FilteringLogObserver:
    """Forwards events the predicates accept; the rest go to ``negativeObserver``."""

    def __init__(
        self,
        observer: Any,
        predicates: Iterable[Any],
        negativeObserver: Any = bitbucketLogObserver,
    ) -> None:
        self._observer = observer
        self._predicates = list(predicates)
        self._negativeObserver = negativeObserver

    def __call__(self, event: LogEvent) -> None:
        """Forward ``event`` to the observer it belongs to."""
        if shouldLogEvent(self._predicates, event):
            if "log_trace" in event:
                event["log_trace"].append((self, self._observer))
            self._observer(event)
        else:
            self._negativeObserver(event)


@implementer(ILogFilterPredicate)
class LogLevelFilterPredicate:
    """Drops events below the level set for their namespace (or its parents)."""

    def __init__(self, defaultLogLevel: Any = LogLevel.info) -> None:
        self._levels: dict[str, Any] = {}
        self.defaultLogLevel = defaultLogLevel
        self.clearLogLevels()

    def logLevelForNamespace(self, namespace: str) -> Any:
        """The level for ``namespace``: its own, its nearest parent's, or the default."""
        if not namespace:
            return self._levels[""]
        if namespace in self._levels:
            return self._levels[namespace]
        segments = namespace.split(".")
        for end in range(len(segments) - 1, 0, -1):
            parent = ".".join(segments[:end])
            if parent in self._levels:
                return self._levels[parent]
        return self._levels[""]

    def setLogLevelForNamespace(self, namespace: str, level: Any) -> None:
        """Set the minimum level for ``namespace`` and its children."""
        if not isinstance(level, _Level):
            raise InvalidLogLevelError(level)
        self._levels[namespace or ""] = level

    def clearLogLevels(self) -> None:
        """Forget every namespace's level."""
        self._levels.clear()
        self._levels[""] = self.defaultLogLevel

    def __call__(self, event: LogEvent) -> Any:
        """``no`` for events without level or namespace or below the level."""
        level = event.get("log_level", None)
        if level is None:
            return PredicateResult.no
        namespace = event.get("log_namespace", "")
        if not namespace:
            return PredicateResult.no
        if level < self.logLevelForNamespace(namespace):
            return PredicateResult.no
        return PredicateResult.maybe


toStdlibLogLevelMapping: Mapping[Any, int] = {
    LogLevel.debug: logging.DEBUG,
    LogLevel.info: logging.INFO,
    LogLevel.warn: logging.WARNING,
    LogLevel.error: logging.ERROR,
    LogLevel.critical: logging.CRITICAL,
}
"""LogLevel -> stdlib logging level."""

fromStdlibLogLevelMapping: Mapping[Any, Any] = {
    key: level
    for level, number in toStdlibLogLevelMapping.items()
    for key in (number, logging.getLevelName(number))
}
"""stdlib logging level (number or name) -> LogLevel."""


def _failureParts(failure: Any) -> tuple[Any, str | None]:
    """``(exc_info, None)`` for a failure with a real traceback, else ``(None, text)``.

    A cleaned Failure has no traceback object that stdlib ``logging`` can
    format, so its traceback travels as text in the message instead.
    """
    value = getattr(failure, "value", None)
    if not isinstance(value, BaseException):
        if isinstance(failure, BaseException):
            return (type(failure), failure, failure.__traceback__), None
        return None, None
    tb = getattr(failure, "tb", None)
    if tb is None:
        tb = value.__traceback__
    if isinstance(tb, TracebackType):
        return (getattr(failure, "type", type(value)), value, tb), None
    try:
        text = failure.getTraceback()
    except Exception:
        text = f"{type(value).__name__}: {value}"
    return None, text


class StringifiableFromEvent:
    """Formats its event only when converted to str (for lazy log records)."""

    def __init__(self, event: LogEvent) -> None:
        self.event = event

    def __str__(self) -> str:
        return formatEvent(self.event)

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8")


@implementer(ILogObserver)
class STDLibLogObserver:
    """Forwards every event to one stdlib ``logging`` logger (default "torsion")."""

    def __init__(self, name: str = "torsion", stackDepth: int = 4) -> None:
        self.logger = logging.getLogger(name)
        self.stackDepth = stackDepth

    def __call__(self, event: LogEvent) -> None:
        """Log ``event`` at its mapped level, with its failure's traceback."""
        level = toStdlibLogLevelMapping.get(event.get("log_level"), logging.INFO)
        if not self.logger.isEnabledFor(level):
            return
        failure = event.get("log_failure")
        if failure is None:
            self.logger.log(level, StringifiableFromEvent(event))
            return
        excInfo, tbText = _failureParts(failure)
        message = formatEvent(event)
        if tbText is not None:
            message = message + "\n" + tbText
        self.logger.log(level, "%s", message, exc_info=excInfo)
