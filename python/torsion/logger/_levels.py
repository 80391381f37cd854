"""Log levels: ordered named constants, as Twisted's ``LogLevel``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class InvalidLogLevelError(Exception):
    """A log level (or level name) that the logging system does not know."""

    def __init__(self, level: Any) -> None:
        super().__init__(str(level))
        self.level = level


class _Level:
    """One log level: has a ``name``, orders by severity, shows as ``<LogLevel=name>``."""

    __slots__ = ("name", "_index")

    def __init__(self, name: str, index: int) -> None:
        self.name = name
        self._index = index

    def __repr__(self) -> str:
        return f"<LogLevel={self.name}>"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, _Level):
            return NotImplemented
        return self._index < other._index

    def __le__(self, other: object) -> bool:
        if not isinstance(other, _Level):
            return NotImplemented
        return self._index <= other._index

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, _Level):
            return NotImplemented
        return self._index > other._index

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, _Level):
            return NotImplemented
        return self._index >= other._index

    def __reduce__(self) -> Any:
        return (getattr, (LogLevel, self.name))


class LogLevel:
    """The five log levels, least to most severe: debug, info, warn, error, critical."""

    debug = _Level("debug", 0)
    info = _Level("info", 1)
    warn = _Level("warn", 2)
    error = _Level("error", 3)
    critical = _Level("critical", 4)

    _byName = {level.name: level for level in (debug, info, warn, error, critical)}

    def __init__(self) -> None:
        raise TypeError("LogLevel is a container of constants; do not instantiate it")

    @classmethod
    def iterconstants(cls) -> Iterator[_Level]:
        """Iterate over the levels from least to most severe."""
        return iter(cls._byName.values())

    @classmethod
    def lookupByName(cls, name: str) -> _Level:
        """Return the level called ``name``; ValueError if there is none."""
        try:
            return cls._byName[name]
        except (KeyError, TypeError):
            raise ValueError(name) from None

    @classmethod
    def levelWithName(cls, name: str) -> _Level:
        """Return the level called ``name``; InvalidLogLevelError if there is none."""
        try:
            return cls.lookupByName(name)
        except ValueError:
            raise InvalidLogLevelError(name) from None
