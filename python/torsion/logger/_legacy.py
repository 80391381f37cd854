"""Bridging between ``torsion.python.log`` (old-style) events and new-style events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.logger._format import formatEvent
from torsion.logger._levels import LogLevel
from torsion.logger._observer import (
    ILogObserver,
    LogEvent,
    StringifiableFromEvent,
    fromStdlibLogLevelMapping,
)

_ERROR_LEVELS = (LogLevel.error, LogLevel.critical)


@implementer(ILogObserver)
class LegacyLogObserverWrapper:
    """Adapts an old-style observer: adds message/time/system/format/isError/why."""

    def __init__(self, legacyObserver: Callable[[LogEvent], None]) -> None:
        self.legacyObserver = legacyObserver

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.legacyObserver})"

    def __call__(self, event: LogEvent) -> None:
        """Fill in the old-style keys of ``event`` and pass it on."""
        if "message" not in event:
            event["message"] = ()
        if "time" not in event:
            event["time"] = event["log_time"]
        if "system" not in event:
            event["system"] = event.get("log_system", "-")
        if "format" not in event and event.get("log_format", None) is not None:
            event["format"] = "%(log_legacy)s"
            event["log_legacy"] = StringifiableFromEvent(event.copy())
            if not isinstance(event["message"], tuple):
                event["message"] = ()
        if "log_failure" in event:
            if "failure" not in event:
                event["failure"] = event["log_failure"]
            if "isError" not in event:
                event["isError"] = 1
            if "why" not in event:
                event["why"] = formatEvent(event)
        elif "isError" not in event:
            event["isError"] = 1 if event["log_level"] in _ERROR_LEVELS else 0
        self.legacyObserver(event)


def publishToNewObserver(
    observer: Callable[[LogEvent], None],
    eventDict: LogEvent,
    textFromEventDict: Callable[[LogEvent], str | None],
) -> None:
    """Add the new-style keys to an old-style event and send it to ``observer``."""
    if "log_time" not in eventDict:
        eventDict["log_time"] = eventDict["time"]
    if "log_format" not in eventDict:
        text = textFromEventDict(eventDict)
        if text is not None:
            eventDict["log_text"] = text
            eventDict["log_format"] = "{log_text}"
    if "log_level" not in eventDict:
        level: Any
        if "logLevel" in eventDict:
            try:
                level = fromStdlibLogLevelMapping[eventDict["logLevel"]]
            except (KeyError, TypeError):
                level = None
        elif "isError" in eventDict:
            level = LogLevel.critical if eventDict["isError"] else LogLevel.info
        else:
            level = LogLevel.info
        if level is not None:
            eventDict["log_level"] = level
    if "log_namespace" not in eventDict:
        eventDict["log_namespace"] = "log_legacy"
    if "log_system" not in eventDict and "system" in eventDict:
        eventDict["log_system"] = eventDict["system"]
    observer(eventDict)
