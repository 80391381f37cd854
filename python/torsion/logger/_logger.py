"""``Logger``: emits structured log events to an observer (by default the global one)."""

from __future__ import annotations

import sys
from time import time
from types import TracebackType
from typing import Any

from torsion.logger._levels import InvalidLogLevelError, LogLevel

_LEVELS = frozenset(LogLevel.iterconstants())


def _newFailure() -> Any:
    """A Failure of the exception being handled."""
    from torsion.python.failure import Failure

    return Failure()


def _failureOf(exc: BaseException) -> Any:
    """A Failure wrapping ``exc``."""
    from torsion.python.failure import Failure

    return Failure(exc)


class _FailureContext:
    """Context manager that logs (and swallows) an exception raised in its body.

    Inside the block ``succeeded``, ``failed`` and ``failure`` report the outcome.
    """

    succeeded: bool = False
    failure: Any = None

    def __init__(self, report: Any) -> None:
        self._report = report

    @property
    def failed(self) -> bool:
        """True if the block raised."""
        return self.failure is not None

    def __enter__(self) -> _FailureContext:
        return self

    def __exit__(
        self,
        excType: type[BaseException] | None,
        excValue: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> bool:
        if excType is None:
            self.succeeded = True
            return True
        self.failure = _newFailure()
        self._report(self.failure)
        return True


class _ReusableFailureContext:
    """A shareable context manager that logs and swallows exceptions."""

    def __init__(self, report: Any) -> None:
        self._report = report

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        excType: type[BaseException] | None,
        excValue: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> bool:
        if excType is not None:
            self._report(_newFailure())
        return True


Operation = _FailureContext


class Logger:
    """Emits log events with a namespace and source to an observer.

    Used as a class attribute (``log = Logger()``), each access gives a logger
    whose namespace is ``"module.Class"`` and whose source is the instance (or
    the class when accessed on the class).
    """

    @staticmethod
    def _namespaceFromCallingContext() -> str:
        """The module name of the code that called the caller."""
        try:
            return sys._getframe(2).f_globals["__name__"]
        except (KeyError, ValueError):
            return "<unknown>"

    def __init__(
        self, namespace: str | None = None, source: object = None, observer: Any = None
    ) -> None:
        if namespace is None:
            namespace = self._namespaceFromCallingContext()
        self.namespace = namespace
        self.source = source
        if observer is None:
            from torsion.logger._global import globalLogPublisher

            observer = globalLogPublisher
        self.observer = observer

    def __get__(self, instance: object, owner: type | None = None) -> Logger:
        """Bind to the class it is an attribute of, with the instance as source."""
        assert owner is not None
        source = owner if instance is None else instance
        return self.__class__(
            owner.__module__ + "." + owner.__name__, source, observer=self.observer
        )

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} {self.namespace!r}>"

    def emit(self, level: Any, format: str | None = None, **kwargs: object) -> None:
        """Send an event with ``level``, ``format`` and ``kwargs`` to the observer."""
        if level not in _LEVELS:
            self.failure(
                "Got invalid log level {invalidLevel!r} in {logger}.emit().",
                _failureOf(InvalidLogLevelError(level)),
                invalidLevel=level,
                logger=self,
            )
            return
        event: dict[str, Any] = kwargs
        event["log_logger"] = self
        event["log_level"] = level
        event["log_namespace"] = self.namespace
        event["log_source"] = self.source
        event["log_format"] = format
        event["log_time"] = time()
        if "log_trace" in event:
            event["log_trace"].append((self, self.observer))
        self.observer(event)

    def failure(
        self,
        format: str,
        failure: Any = None,
        level: Any = LogLevel.critical,
        **kwargs: object,
    ) -> None:
        """Log ``failure`` (default: the exception being handled) with its traceback."""
        if failure is None:
            failure = _newFailure()
        self.emit(level, format, log_failure=failure, **kwargs)

    def debug(self, format: str | None = None, **kwargs: object) -> None:
        """Emit at LogLevel.debug."""
        self.emit(LogLevel.debug, format, **kwargs)

    def info(self, format: str | None = None, **kwargs: object) -> None:
        """Emit at LogLevel.info."""
        self.emit(LogLevel.info, format, **kwargs)

    def warn(self, format: str | None = None, **kwargs: object) -> None:
        """Emit at LogLevel.warn."""
        self.emit(LogLevel.warn, format, **kwargs)

    def error(self, format: str | None = None, **kwargs: object) -> None:
        """Emit at LogLevel.error."""
        self.emit(LogLevel.error, format, **kwargs)

    def critical(self, format: str | None = None, **kwargs: object) -> None:
        """Emit at LogLevel.critical."""
        self.emit(LogLevel.critical, format, **kwargs)

    def failuresHandled(
        self, format: str, level: Any = LogLevel.critical, **kwargs: object
    ) -> _FailureContext:
        """A context manager that logs an exception from its block and goes on."""
        return _FailureContext(lambda f: self.failure(format, f, level, **kwargs))

    def failureHandler(
        self, staticMessage: str, level: Any = LogLevel.critical
    ) -> _ReusableFailureContext:
        """A reusable context manager that logs exceptions with a fixed message."""
        return _ReusableFailureContext(lambda f: self.failure(staticMessage, f, level))


def _loggerFor(obj: object) -> Logger:
    """A logger named after ``obj``'s class, with ``obj`` as source."""
    cls = obj.__class__
    return Logger(cls.__module__ + "." + cls.__name__, obj)
