"""Process-wide logging state: the global publisher, its stdlib bridge, the beginner.

Every event published to ``globalLogPublisher`` first goes to the standard
``logging`` module, to the logger ``"torsion"`` or ``"torsion.<namespace>"``,
at the mapped level, with the failure's traceback as ``exc_info``; nothing is
formatted unless that logger is enabled for the level. Then the event goes to
the observers added with ``addObserver``.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from io import UnsupportedOperation
from typing import IO, Any, NoReturn

from torsion.logger._format import formatEvent
from torsion.logger._levels import LogLevel
from torsion.logger._logger import Logger
from torsion.logger._observer import (
    LimitedHistoryLogObserver,
    LogEvent,
    LogPublisher,
    _failureParts,
    toStdlibLogLevelMapping,
)

_ROOT = "torsion"
_MAX_CACHED_LOGGERS = 4096
_stdlibLoggers: dict[Any, logging.Logger] = {}
_unsafe = re.compile(r"[^\w.\-]")


def stdlibLoggerName(namespace: object) -> str:
    """The stdlib logger name for a namespace: "torsion" or "torsion.<namespace>"."""
    if not isinstance(namespace, str) or namespace in ("", "log_legacy"):
        return _ROOT
    cleaned = ".".join(p for p in _unsafe.sub("", namespace).split(".") if p)
    if not cleaned:
        return _ROOT
    if cleaned == _ROOT or cleaned.startswith(_ROOT + "."):
        return cleaned
    return _ROOT + "." + cleaned


def _stdlibLogger(namespace: object) -> logging.Logger:
    """The (cached) stdlib logger for ``namespace``."""
    try:
        return _stdlibLoggers[namespace]
    except KeyError:
        pass
    except TypeError:
        return logging.getLogger(_ROOT)
    logger = logging.getLogger(stdlibLoggerName(namespace))
    if len(_stdlibLoggers) < _MAX_CACHED_LOGGERS:
        _stdlibLoggers[namespace] = logger
    return logger


def _stdlibLevel(event: LogEvent) -> int:
    """The stdlib level of an event (critical for legacy errors, info by default)."""
    level = event.get("log_level")
    if level is not None:
        try:
            return toStdlibLogLevelMapping[level]
        except (KeyError, TypeError):
            pass
    if event.get("isError"):
        return logging.CRITICAL
    return logging.INFO


def _legacyWhy(event: LogEvent) -> str:
    """The header of a legacy ``log.err`` event: its ``why`` or "Unhandled Error"."""
    why = event.get("why")
    if why:
        try:
            return str(why)
        except Exception:
            return "Unhandled Error"
    return "Unhandled Error"


def _toStdlib(event: LogEvent) -> None:
    """Hand one event to the stdlib logger for its namespace, if it is enabled."""
    try:
        logger = _stdlibLogger(event.get("log_namespace"))
        level = _stdlibLevel(event)
        if not logger.isEnabledFor(level):
            return
        failure = event.get("log_failure")
        if failure is not None:
            message = formatEvent(event)
        elif (
            event.get("isError")
            and event.get("failure") is not None
            and not event.get("message")
        ):
            failure = event["failure"]
            message = _legacyWhy(event)
        else:
            message = formatEvent(event)
        excInfo: Any = None
        if failure is not None:
            excInfo, tbText = _failureParts(failure)
            if tbText is not None:
                message = message + "\n" + tbText
        logger.log(level, "%s", message, exc_info=excInfo)
    except Exception:
        pass


class _GlobalLogPublisher(LogPublisher):
    """The process-wide publisher: the stdlib bridge, then the added observers."""

    def __call__(self, event: LogEvent) -> None:
        """Send ``event`` to stdlib logging, then to every observer."""
        _toStdlib(event)
        LogPublisher.__call__(self, event)

    def _withoutObserver(self, observer: Any) -> LogPublisher:
        """Report a broken observer to stdlib logging and the other observers."""
        return LogPublisher(
            _toStdlib, *(o for o in self._observers if o is not observer)
        )


def _underPytest() -> bool:
    """Whether a pytest test is running (then stdio and warnings are left alone)."""
    return "PYTEST_CURRENT_TEST" in os.environ


class LoggingFile:
    """A write-only file whose complete lines become log events (``{log_io}``)."""

    def __init__(
        self, logger: Logger, level: Any = LogLevel.info, encoding: str | None = None
    ) -> None:
        self.level = level
        self.log = logger
        self._encoding = sys.getdefaultencoding() if encoding is None else encoding
        self._buffer = ""
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._closed

    @property
    def encoding(self) -> str:
        """The encoding used to decode bytes written."""
        return self._encoding

    @property
    def mode(self) -> str:
        """Always "w"."""
        return "w"

    @property
    def newlines(self) -> None:
        """Always None."""
        return None

    @property
    def name(self) -> str:
        """A description such as ``<LoggingFile stdout#info>``."""
        return f"<{self.__class__.__name__} {self.log.namespace}#{self.level.name}>"

    def close(self) -> None:
        """Refuse further writes."""
        self._closed = True

    def flush(self) -> None:
        """Nothing to flush (an incomplete line waits for its newline)."""

    def fileno(self) -> NoReturn:
        """There is no file descriptor."""
        raise UnsupportedOperation("LoggingFile has no file descriptor.")

    def isatty(self) -> bool:
        """Not a terminal."""
        return False

    def write(self, message: str | bytes) -> None:
        """Log each complete line of what has been written so far."""
        if self._closed:
            raise ValueError("I/O operation on closed file")
        text = message.decode(self._encoding) if isinstance(message, bytes) else message
        lines = (self._buffer + text).split("\n")
        self._buffer = lines.pop()
        for line in lines:
            self.log.emit(self.level, format="{log_io}", log_io=line)

    def writelines(self, lines: Iterable[str | bytes]) -> None:
        """Write each of ``lines``."""
        for line in lines:
            self.write(line)

    def _unsupported(self, *args: object) -> None:
        """Reading and seeking are not supported."""
        raise OSError("unsupported operation")

    read = _unsupported
    next = _unsupported
    readline = _unsupported
    readlines = _unsupported
    xreadlines = _unsupported
    seek = _unsupported
    tell = _unsupported
    truncate = _unsupported


MORE_THAN_ONCE_WARNING = (
    "Warning: primary log target selected twice at <{fileNow}:{lineNow}> - "
    "previously selected at <{fileThen}:{lineThen}>.  Remove one of the calls "
    "to beginLoggingTo."
)


class LogBeginner:
    """Buffers early events until ``beginLoggingTo`` names the real observers.

    Unlike Twisted's, it does not print critical events to stderr before
    logging begins: the stdlib bridge already makes them visible. Under pytest,
    sys.stdout/sys.stderr and warnings.showwarning are never replaced.
    """

    _DEFAULT_BUFFER_SIZE = 200

    def __init__(
        self,
        publisher: LogPublisher,
        errorStream: IO[Any] | None,
        stdio: Any,
        warningsModule: Any,
        initialBufferSize: int | None = None,
    ) -> None:
        if initialBufferSize is None:
            initialBufferSize = self._DEFAULT_BUFFER_SIZE
        self._initialBuffer = LimitedHistoryLogObserver(size=initialBufferSize)
        self._publisher = publisher
        self._log = Logger(observer=publisher)
        self._stdio = stdio
        self._warningsModule = warningsModule
        self._temporaryObserver: Any = self._initialBuffer
        self._previousBegin: tuple[str, int] = ("", 0)
        publisher.addObserver(self._temporaryObserver)
        self._oldshowwarning = warningsModule.showwarning

    def _mayReplaceGlobals(self, module: Any, real: Any) -> bool:
        """Whether ``module`` may be patched (never the real one under pytest)."""
        return module is not real or not _underPytest()

    def beginLoggingTo(
        self,
        observers: Iterable[Any],
        discardBuffer: bool = False,
        redirectStandardIO: bool = True,
    ) -> None:
        """Add ``observers``, replay the buffered events to them, stop buffering."""
        caller = sys._getframe(1)
        filename, lineno = caller.f_code.co_filename, caller.f_lineno
        for observer in observers:
            self._publisher.addObserver(observer)
        if self._temporaryObserver is not None:
            self._publisher.removeObserver(self._temporaryObserver)
            if not discardBuffer:
                self._initialBuffer.replayTo(self._publisher)
            self._temporaryObserver = None
            if self._mayReplaceGlobals(self._warningsModule, warnings):
                self._warningsModule.showwarning = self.showwarning
        else:
            previousFile, previousLine = self._previousBegin
            self._log.warn(
                MORE_THAN_ONCE_WARNING,
                fileNow=filename,
                lineNow=lineno,
                fileThen=previousFile,
                lineThen=previousLine,
            )
        self._previousBegin = (filename, lineno)
        if not redirectStandardIO or not self._mayReplaceGlobals(self._stdio, sys):
            return
        for stream, level in (("stdout", LogLevel.info), ("stderr", LogLevel.error)):
            old = getattr(self._stdio, stream)
            setattr(
                self._stdio,
                stream,
                LoggingFile(
                    logger=Logger(namespace=stream, observer=self._publisher),
                    level=level,
                    encoding=getattr(old, "encoding", None),
                ),
            )

    def showwarning(
        self,
        message: Any,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: IO[Any] | None = None,
        line: str | None = None,
    ) -> None:
        """Log a warning (or write it to ``file`` the standard way if one is given)."""
        if file is None:
            self._log.warn(
                "{filename}:{lineno}: {category}: {warning}",
                warning=message,
                category=f"{category.__module__}.{category.__qualname__}",
                filename=filename,
                lineno=lineno,
            )
        else:
            self._oldshowwarning(message, category, filename, lineno, file, line)


globalLogPublisher = _GlobalLogPublisher()
"""The publisher every Logger sends to by default (bridged to stdlib logging)."""

globalLogBeginner = LogBeginner(globalLogPublisher, sys.stderr, sys, warnings)
"""Starts logging to chosen observers: ``globalLogBeginner.beginLoggingTo([...])``."""


@contextmanager
def capturedLogs() -> Iterator[Sequence[LogEvent]]:
    """Collect the events published globally inside the ``with`` block."""
    events: list[LogEvent] = []
    globalLogPublisher.addObserver(events.append)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(events.append)
