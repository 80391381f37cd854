"""Structured logging with Twisted's ``twisted.logger`` API, bridged to stdlib logging.

``Logger`` emits events (dicts) to ``globalLogPublisher``. Each event goes to
the standard ``logging`` module (logger ``"torsion"`` or
``"torsion.<namespace>"``, traceback attached for failures) and to every
observer added with ``globalLogPublisher.addObserver``. Events can be written
to and read from files as JSON (``jsonFileLogObserver``,
``eventsFromJSONLogFile``), in the same format as Twisted's.
"""

from torsion.logger._flatten import extractField
from torsion.logger._format import (
    eventAsText,
    formatEvent,
    formatEventAsClassicLogText,
    formatTime,
    formatWithCall,
    timeFormatRFC3339,
)
from torsion.logger._global import (
    LogBeginner,
    LoggingFile,
    capturedLogs,
    globalLogBeginner,
    globalLogPublisher,
    stdlibLoggerName,
)
from torsion.logger._json import (
    eventAsJSON,
    eventFromJSON,
    eventsFromJSONLogFile,
    jsonFileLogObserver,
)
from torsion.logger._legacy import LegacyLogObserverWrapper
from torsion.logger._levels import InvalidLogLevelError, LogLevel
from torsion.logger._logger import Logger, Operation, _loggerFor
from torsion.logger._observer import (
    FileLogObserver,
    FilteringLogObserver,
    ILogFilterPredicate,
    ILogObserver,
    LimitedHistoryLogObserver,
    LogEvent,
    LogLevelFilterPredicate,
    LogPublisher,
    PredicateResult,
    STDLibLogObserver,
    bitbucketLogObserver,
    textFileLogObserver,
)

__all__ = [
    "InvalidLogLevelError",
    "LogLevel",
    "formatEvent",
    "formatEventAsClassicLogText",
    "formatTime",
    "formatWithCall",
    "timeFormatRFC3339",
    "eventAsText",
    "ILogObserver",
    "LogEvent",
    "Logger",
    "Operation",
    "_loggerFor",
    "LogPublisher",
    "LimitedHistoryLogObserver",
    "FileLogObserver",
    "textFileLogObserver",
    "PredicateResult",
    "ILogFilterPredicate",
    "FilteringLogObserver",
    "LogLevelFilterPredicate",
    "STDLibLogObserver",
    "LoggingFile",
    "LegacyLogObserverWrapper",
    "globalLogPublisher",
    "globalLogBeginner",
    "LogBeginner",
    "capturedLogs",
    "bitbucketLogObserver",
    "stdlibLoggerName",
    "extractField",
    "eventAsJSON",
    "eventFromJSON",
    "jsonFileLogObserver",
    "eventsFromJSONLogFile",
]
