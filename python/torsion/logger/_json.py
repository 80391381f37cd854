"""Log events as JSON, and files of them, compatible with Twisted's format.

An event is flattened (see ``_flatten``) before it is encoded, so that the
decoded event can still be formatted. Log levels and Failures are encoded as
JSON objects tagged with a ``__class_uuid__`` (the same UUIDs as Twisted's,
so that either library reads the other's files); bytes are decoded as
latin-1 ("charmap"); any other value JSON cannot hold becomes
``{"unpersistable": true}``, and keys that are not strings are dropped.

A file written by ``jsonFileLogObserver`` holds one record per event: a
record separator (``"\\x1e"`` by default, as in RFC 7464 JSON text
sequences), the JSON text, and a newline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import IO, Any
from uuid import UUID

from torsion.logger._flatten import flattenEvent
from torsion.logger._levels import LogLevel, _Level
from torsion.logger._logger import Logger
from torsion.logger._observer import FileLogObserver
from torsion.python.failure import Failure

log = Logger()

_LEVEL_UUID = UUID("02E59486-F24D-46AD-8224-3ACDF2A5732A")
_FAILURE_UUID = UUID("E76887E2-20ED-49BF-A8F8-BA25CC586F2D")

# Twisted's Failure state keys, in the order its __getstate__ gives them.
_STATE_HEAD = ("count", "type", "value", "captureVars", "tb")
_STATE_TAIL = ("parents", "stack")


def failureAsJSON(failure: Failure) -> dict[str, Any]:
    """A Failure's pickling state, with its type as ``{__module__, __name__}``."""
    state = failure.__getstate__()
    # Put the keys in the order Twisted's Failure has them, so that both
    # libraries write the same text for the same failure.
    if "pickled" in failure.__dict__:
        last: tuple[str, ...] = ("pickled", "frames")
    else:
        last = ("frames", "pickled")
    known = _STATE_HEAD + _STATE_TAIL + last
    ordered: dict[str, Any] = {k: state[k] for k in _STATE_HEAD if k in state}
    ordered.update((k, v) for k, v in state.items() if k not in known)
    ordered.update((k, state[k]) for k in _STATE_TAIL + last if k in state)
    ordered["type"] = {
        "__module__": failure.type.__module__,
        "__name__": failure.type.__name__,
    }
    return ordered


def failureFromJSON(failureDict: dict[str, Any]) -> Failure:
    """A Failure rebuilt from ``failureAsJSON``'s output (its type is a stand-in class)."""
    failure = Failure.__new__(Failure)
    typeInfo = failureDict["type"]
    failureDict["type"] = type(typeInfo["__name__"], (), typeInfo)
    failure.__setstate__(failureDict)
    return failure


def _isLevel(value: object) -> bool:
    return isinstance(value, _Level) and LogLevel._byName.get(value.name) is value


def _levelAsJSON(level: Any) -> dict[str, Any]:
    return {"name": level.name}


def _levelFromJSON(levelDict: dict[str, Any]) -> Any:
    return LogLevel._byName.get(levelDict["name"])


# (is this kind?, tag, encode, decode) for each kind of object given a tag.
classInfo: list[
    tuple[Callable[[Any], bool], UUID, Callable[..., Any], Callable[..., Any]]
] = [
    (_isLevel, _LEVEL_UUID, _levelAsJSON, _levelFromJSON),
    (lambda o: isinstance(o, Failure), _FAILURE_UUID, failureAsJSON, failureFromJSON),
]

uuidToLoader = {tag: decode for _kind, tag, _encode, decode in classInfo}


def objectLoadHook(aDict: dict[str, Any]) -> object:
    """``json`` object hook: a tagged object becomes what it encodes."""
    if "__class_uuid__" in aDict:
        return uuidToLoader[UUID(aDict["__class_uuid__"])](aDict)
    return aDict


def objectSaveHook(pythonObject: object) -> dict[str, Any]:
    """``json`` default hook: tagged JSON for levels and Failures, else unpersistable."""
    for isKind, tag, encode, _decode in classInfo:
        if isKind(pythonObject):
            encoded = encode(pythonObject)
            encoded["__class_uuid__"] = str(tag)
            return encoded
    return {"unpersistable": True}


def _default(value: object) -> Any:
    if isinstance(value, bytes):
        return value.decode("charmap")
    return objectSaveHook(value)


def eventAsJSON(event: dict[str, Any]) -> str:
    """The event as one line of JSON; flattens ``event`` in place first."""
    flattenEvent(event)
    return json.dumps(event, default=_default, skipkeys=True)


def eventFromJSON(eventText: str) -> dict[str, Any]:
    """An event decoded from ``eventAsJSON``'s text (levels and Failures restored)."""
    return json.loads(eventText, object_hook=objectLoadHook)  # type: ignore[no-any-return]


def jsonFileLogObserver(
    outFile: IO[Any], recordSeparator: str = "\x1e"
) -> FileLogObserver:
    """An observer writing ``recordSeparator + JSON + "\\n"`` for each event.

    A binary file gets UTF-8.
    """
    return FileLogObserver(
        outFile, lambda event: recordSeparator + eventAsJSON(event) + "\n"
    )


def _asBytes(data: str | bytes) -> bytes:
    return data if isinstance(data, bytes) else data.encode("utf-8")


def _decodeRecord(record: bytearray) -> Any:
    """The event in one record, or None (logged) if it is not UTF-8 JSON."""
    try:
        text = bytes(record).decode("utf-8")
    except UnicodeDecodeError:
        log.error(
            "Unable to decode UTF-8 for JSON record: {record!r}", record=bytes(record)
        )
        return None
    try:
        return eventFromJSON(text)
    except ValueError:
        log.error("Unable to read JSON record: {record!r}", record=bytes(record))
        return None


def _decodeTerminatedRecord(record: bytearray) -> Any:
    """As ``_decodeRecord``, but a record not ending in a newline is truncated."""
    if record[-1] == ord("\n"):
        return _decodeRecord(record)
    log.error("Unable to read truncated JSON record: {record!r}", record=bytes(record))
    return None


def eventsFromJSONLogFile(
    inFile: IO[Any], recordSeparator: str | None = None, bufferSize: int = 4096
) -> Iterator[dict[str, Any]]:
    """Iterate over the events of a file written by ``jsonFileLogObserver``.

    ``inFile`` may give str or UTF-8 bytes. With no ``recordSeparator`` it is
    detected from the first character: ``"\\x1e"`` if that is one, else the
    file is read as one JSON text per line. Records that are truncated (no
    final newline), not UTF-8 or not JSON are logged as errors and skipped.
    """
    if recordSeparator is None:
        first = _asBytes(inFile.read(1))
        separator = first if first == b"\x1e" else b""
    else:
        separator = _asBytes(recordSeparator)
        first = b""
    if separator == b"":
        separator = b"\n"
        decode = _decodeRecord
    else:
        decode = _decodeTerminatedRecord

    buffer = bytearray(first)
    while True:
        data = inFile.read(bufferSize)
        if not data:
            if buffer:
                event = decode(buffer)
                if event is not None:
                    yield event
            return
        buffer += _asBytes(data)
        *records, rest = buffer.split(separator)
        for record in records:
            if record:
                event = decode(record)
                if event is not None:
                    yield event
        buffer = rest
