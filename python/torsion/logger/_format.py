"""Turning log events into text, as Twisted's logger formats them."""

from __future__ import annotations

import io
import string
import traceback
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from torsion.logger._flatten import flatFormat

timeFormatRFC3339 = "%Y-%m-%dT%H:%M:%S%z"
"""The default timestamp format of text log files (RFC 3339 style)."""

_formatter = string.Formatter()


def _className(obj: object) -> str:
    """The name of ``obj``'s class, however broken the class is."""
    try:
        cls = obj.__class__
    except BaseException:
        cls = type(obj)
    try:
        return str(cls.__name__)
    except BaseException:
        try:
            return str(cls)
        except BaseException:
            return f"<BROKEN CLASS AT 0x{id(cls):x}>"


def _safeRepr(obj: object) -> str:
    """repr() that never raises: a failing repr gives the class, address and traceback."""
    try:
        return repr(obj)
    except BaseException:
        text = io.StringIO()
        traceback.print_exc(file=text)
        return (
            f"<{_className(obj)} instance at 0x{id(obj):x} with repr error:\n"
            f" {text.getvalue()}>"
        )


class _FixedOffset(tzinfo):
    """A time zone with a constant UTC offset, named like ``UTC+0100``."""

    def __init__(self, offset: timedelta) -> None:
        self._offset = offset

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return self._offset

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return datetime.fromtimestamp(0, self).strftime("UTC%z")


def _localZone(when: float) -> _FixedOffset:
    """The local time zone's offset at the instant ``when``."""
    local = datetime.fromtimestamp(when)
    utc = datetime.fromtimestamp(when, UTC).replace(tzinfo=None)
    return _FixedOffset(local - utc)


def formatTime(
    when: float | None, timeFormat: str | None = timeFormatRFC3339, default: str = "-"
) -> str:
    """Format the timestamp ``when`` in local time; ``default`` if either is None."""
    if timeFormat is None or when is None:
        return default
    return str(datetime.fromtimestamp(when, _localZone(when)).strftime(timeFormat))


class _CallWrapper:
    """Wraps a value so that ``{obj.method()}`` in a format calls the method."""

    def __init__(self, wrapped: object) -> None:
        self._wrapped = wrapped

    def __getattr__(self, name: str) -> object:
        return _keycall(name, lambda key: getattr(self._wrapped, key))

    def __getitem__(self, key: Any) -> object:
        return _CallWrapper(self._wrapped[key])  # type: ignore[index]

    def __format__(self, spec: str) -> str:
        return format(self._wrapped, spec)

    def __repr__(self) -> str:
        return repr(self._wrapped)

    def __str__(self) -> str:
        return str(self._wrapped)


def _keycall(key: str, getter: Callable[[str], Any]) -> _CallWrapper:
    """Fetch ``key`` (calling the result when the key ends in ``()``)."""
    if key.endswith("()"):
        return _CallWrapper(getter(key[:-2])())
    return _CallWrapper(getter(key))


class _CallMapping(Mapping[str, Any]):
    """A read-only view of an event where ``name()`` keys call the value."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self._event = event

    def __getitem__(self, key: str) -> Any:
        return _keycall(key, self._event.__getitem__)

    def __iter__(self) -> Iterator[str]:
        return iter(self._event)

    def __len__(self) -> int:
        return len(self._event)


def formatWithCall(formatString: str, mapping: Mapping[str, Any]) -> str:
    """``str.format_map`` where a field ending in ``()`` is called first."""
    return str(_formatter.vformat(formatString, (), _CallMapping(mapping)))


def formatUnformattableEvent(event: Mapping[str, Any], error: BaseException) -> str:
    """Describe an event whose format failed, naming the error.

    If even the event's repr fails, the text keeps what can be shown of each
    key and value and ends with the Failure raised while describing it.
    """
    try:
        return f"Unable to format event {event!r}: {error}"
    except BaseException:
        from torsion.python.failure import Failure

        failure = Failure()
        pairs = ", ".join(
            f"{_safeRepr(key)} = {_safeRepr(value)}" for key, value in event.items()
        )
        return (
            f"MESSAGE LOST: unformattable object logged: {_safeRepr(error)}\n"
            f"Recoverable data: {pairs}\n"
            f"Exception during formatting:\n{failure}"
        )


def _formatMessage(event: Mapping[str, Any]) -> str:
    """Render ``event["log_format"]`` with the event's fields; never raises."""
    try:
        if "log_flattened" in event:
            return flatFormat(event)
        fmt = event.get("log_format", None)
        if fmt is None:
            return ""
        if isinstance(fmt, bytes):
            fmt = fmt.decode("utf-8")
        elif not isinstance(fmt, str):
            raise TypeError(f"Log format must be str, not {fmt!r}")
        return formatWithCall(fmt, event)
    except BaseException as e:
        return formatUnformattableEvent(event, e)


def formatEvent(event: Mapping[str, Any]) -> str:
    """The event's message: its ``log_format`` filled from its fields."""
    return eventAsText(
        event, includeTraceback=False, includeTimestamp=False, includeSystem=False
    )


def _formatTraceback(failure: Any) -> str:
    """The failure's traceback text, or a note saying it could not be had."""
    try:
        return failure.getTraceback()
    except BaseException as e:
        return "(UNABLE TO OBTAIN TRACEBACK FROM EVENT):" + str(e)


def _formatSystem(event: Mapping[str, Any]) -> str:
    """``log_system`` if set, else ``namespace#level``."""
    system = event.get("log_system", None)
    if system is None:
        level = event.get("log_level", None)
        levelName = "-" if level is None else level.name
        return "{}#{}".format(event.get("log_namespace", "-"), levelName)
    try:
        return str(system)
    except Exception:
        return "UNFORMATTABLE"


def eventAsText(
    event: Mapping[str, Any],
    includeTraceback: bool = True,
    includeTimestamp: bool = True,
    includeSystem: bool = True,
    formatTime: Callable[[Any], str] = formatTime,
) -> str:
    """Render an event as ``"<time> [<system>] <message>\\n<traceback>"``."""
    text = _formatMessage(event)
    if includeTraceback and "log_failure" in event:
        text = text + "\n" + _formatTraceback(event["log_failure"])
    if not text:
        return text
    parts = []
    if includeTimestamp:
        parts.append(formatTime(event.get("log_time", None)) + " ")
    if includeSystem:
        parts.append("[" + _formatSystem(event) + "] ")
    parts.append(text)
    return "".join(parts)


def formatEventAsClassicLogText(
    event: Mapping[str, Any], formatTime: Callable[[Any], str] = formatTime
) -> str | None:
    """One log-file line (continuation lines tab-indented), or None if empty."""
    text = eventAsText(event, formatTime=formatTime)
    if not text:
        return None
    return text.replace("\n", "\n\t") + "\n"
