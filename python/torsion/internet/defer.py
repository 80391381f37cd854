"""Deferred: a result that is not available yet, and the helpers built on it.

This mirrors ``twisted.internet.defer``. Callback chains run in a loop rather
than by recursion, so chains of any length and Deferreds nested to any depth
run without ``RecursionError``.
"""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Callable, Generator, Iterable
from collections.abc import Coroutine as _CoroutineABC
from contextvars import Context, copy_context
from functools import wraps
from sys import exc_info
from types import CoroutineType, GeneratorType, MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, NoReturn, TypeVar

from torsion.python.failure import Failure, _extraneous

if TYPE_CHECKING:
    from asyncio import AbstractEventLoop, Future

__all__ = [
    "FAILURE",
    "SUCCESS",
    "AlreadyCalledError",
    "AlreadyTryingToLockError",
    "CancelledError",
    "DebugInfo",
    "Deferred",
    "DeferredFilesystemLock",
    "DeferredList",
    "DeferredLock",
    "DeferredQueue",
    "DeferredSemaphore",
    "FailureGroup",
    "FirstError",
    "NotACoroutineError",
    "QueueOverflow",
    "QueueUnderflow",
    "TimeoutError",
    "ensureDeferred",
    "execute",
    "fail",
    "gatherResults",
    "getDebugging",
    "inlineCallbacks",
    "logError",
    "maybeDeferred",
    "passthru",
    "race",
    "returnValue",
    "setDebugging",
    "succeed",
    "timeout",
]

_T = TypeVar("_T")
_R = TypeVar("_R")

SUCCESS = True
"""Marks a successful result in a DeferredList's ``(success, result)`` pairs."""
FAILURE = False
"""Marks a failed result in a DeferredList's ``(success, result)`` pairs."""


class AlreadyCalledError(Exception):
    """A Deferred's ``callback`` or ``errback`` was called a second time."""


class CancelledError(Exception):
    """A Deferred was cancelled."""


class TimeoutError(Exception):
    """A Deferred timed out."""


class NotACoroutineError(TypeError):
    """A coroutine (or generator) was expected and something else was given."""


class AlreadyTryingToLockError(Exception):
    """DeferredFilesystemLock.deferUntilLocked was called while a previous
    call was still waiting."""


def _log() -> Any:
    """Return a ``torsion.logger.Logger``, or None while that module is absent."""
    try:
        from torsion.logger import Logger
    except ImportError:
        return None
    return Logger()


def _logFailureFallback(fmt: str, failure: Failure) -> None:
    """Report ``failure`` through the standard ``logging`` module directly."""
    import logging

    excInfo: Any = (failure.type, failure.value, failure.getTracebackObject())
    logging.getLogger("torsion").critical(fmt, exc_info=excInfo)


def logError(err: Failure) -> Failure:
    """Log ``err`` and return it unchanged, for use as an errback."""
    log = _log()
    if log is None:
        _logFailureFallback("", err)
    else:
        log.failure("", err)
    return err


def passthru(arg: _T) -> _T:
    """Return ``arg``; the identity callback."""
    return arg


def _failthru(arg: Failure) -> Failure:
    return arg


def setDebugging(on: bool) -> None:
    """Turn Deferred debugging on or off (records creation and invocation stacks)."""
    Deferred.debug = bool(on)


def getDebugging() -> bool:
    """Whether Deferred debugging is on."""
    return Deferred.debug


class _Marker:
    """A private sentinel object with a readable repr."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_NO_RESULT: Any = _Marker("_NO_RESULT")
_CONTINUE: Any = _Marker("_CONTINUE")

_NONE_KWARGS: Any = MappingProxyType({})


class DebugInfo:
    """Holds a Deferred's unhandled Failure and debug stacks; logs the Failure
    when garbage collected."""

    __slots__ = ("failResult", "creator", "invoker")

    def __init__(self) -> None:
        self.failResult: Failure | None = None
        self.creator: list[str] | None = None
        self.invoker: list[str] | None = None

    def _getDebugTracebacks(self) -> str:
        info = ""
        if self.creator is not None:
            info += " C: Deferred was created:\n C:"
            info += "".join(self.creator).rstrip().replace("\n", "\n C:")
            info += "\n"
        if self.invoker is not None:
            info += " I: First Invoker was:\n I:"
            info += "".join(self.invoker).rstrip().replace("\n", "\n I:")
            info += "\n"
        return info

    def __del__(self) -> None:
        failure = self.failResult
        if failure is None:
            return
        self.failResult = None
        # Two events, as Twisted logs them: a header, then the failure itself
        # (with the creator/invoker stacks when debugging is on).
        header = "Unhandled error in Deferred:"
        debugInfo = self._getDebugTracebacks()
        fmt = "(debug: {debugInfo})" if debugInfo else ""
        log = _log()
        if log is None:
            text = f"{header}\n(debug: {debugInfo})" if debugInfo else header
            _logFailureFallback(text, failure)
        else:
            log.critical(header, isError=True)
            log.failure(fmt, failure, debugInfo=debugInfo)


def _cancelledToTimedOutError(value: Any, timeout: float) -> Any:
    """Turn a CancelledError Failure into a TimeoutError; pass other values."""
    if isinstance(value, Failure):
        value.trap(CancelledError)
        raise TimeoutError(timeout, "Deferred")
    return value


class Deferred(Generic[_T]):
    """A result that will arrive later, with a chain of callbacks and errbacks.

    Works as Twisted's Deferred: ``callback``/``errback`` fire it once; callbacks
    run in order, a raised exception or returned Failure switches to the errback
    path; a callback returning a Deferred pauses the chain until that fires.
    """

    __slots__ = (
        "result",
        "called",
        "paused",
        "_callbacks",
        "_canceller",
        "_runningCallbacks",
        "_suppressAlreadyCalled",
        "_chainedTo",
        "_debugInfo",
        "__weakref__",
        "__dict__",
    )

    debug = False

    def __init__(
        self, canceller: Callable[[Deferred[Any]], None] | None = None
    ) -> None:
        self.called = False
        self.paused = 0
        self._callbacks: list[tuple[Any, ...]] = []
        self._canceller = canceller
        self._runningCallbacks = False
        self._suppressAlreadyCalled = False
        self._chainedTo: Deferred[Any] | None = None
        self._debugInfo: DebugInfo | None = None
        if self.debug:
            info = self._debugInfo = DebugInfo()
            info.creator = traceback.format_stack()[:-1]

    @property
    def callbacks(self) -> list[Any]:
        """Deprecated: the pending callback pairs, in Twisted's format."""
        warnings.warn(
            "torsion.internet.defer.Deferred.callbacks is deprecated",
            DeprecationWarning,
            stacklevel=2,
        )
        pairs: list[Any] = []
        for cb, a, kw, eb, ea, ekw in self._callbacks:
            if cb is _CONTINUE:
                pairs.append(((cb, (a,), _NONE_KWARGS), (cb, (a,), _NONE_KWARGS)))
                continue
            pairs.append(
                (
                    (cb, a or (), kw or _NONE_KWARGS),
                    (eb, ea or (), ekw or _NONE_KWARGS),
                )
            )
        return pairs

    def addCallbacks(
        self,
        callback: Callable[..., Any],
        errback: Callable[..., Any] | None = None,
        callbackArgs: tuple[Any, ...] = (),
        callbackKeywords: Any = _NONE_KWARGS,
        errbackArgs: tuple[Any, ...] = (),
        errbackKeywords: Any = _NONE_KWARGS,
    ) -> Deferred[Any]:
        """Add a callback and an errback at the same point of the chain."""
        if errback is None:
            errback = _failthru
        self._callbacks.append(
            (
                callback,
                callbackArgs or None,
                callbackKeywords or None,
                errback,
                errbackArgs or None,
                errbackKeywords or None,
            )
        )
        if self.called:
            self._runCallbacks()
        return self

    def addCallback(
        self, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Deferred[Any]:
        """Add a callback; failures pass by it unchanged."""
        self._callbacks.append(
            (callback, args or None, kwargs or None, _failthru, None, None)
        )
        if self.called:
            self._runCallbacks()
        return self

    def addErrback(
        self, errback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Deferred[Any]:
        """Add an errback; results pass by it unchanged."""
        self._callbacks.append(
            (passthru, None, None, errback, args or None, kwargs or None)
        )
        if self.called:
            self._runCallbacks()
        return self

    def addBoth(
        self, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Deferred[Any]:
        """Add one callable as both callback and errback."""
        args = args or None  # type: ignore[assignment]
        kw = kwargs or None
        self._callbacks.append((callback, args, kw, callback, args, kw))
        if self.called:
            self._runCallbacks()
        return self

    def addTimeout(
        self,
        timeout: float,
        clock: Any,
        onTimeoutCancel: Callable[[Any, float], Any] | None = None,
    ) -> Deferred[Any]:
        """Cancel this Deferred if it has not fired ``timeout`` seconds from now.

        On timeout the chain sees ``TimeoutError`` (or whatever
        ``onTimeoutCancel(result, timeout)`` returns).
        """
        timedOut = False

        def timeItOut() -> None:
            nonlocal timedOut
            timedOut = True
            self.cancel()

        delayedCall = clock.callLater(timeout, timeItOut)

        def convertCancelled(result: Any) -> Any:
            if timedOut:
                return (onTimeoutCancel or _cancelledToTimedOutError)(result, timeout)
            return result

        def cancelTimeout(result: Any) -> Any:
            if delayedCall.active():
                delayedCall.cancel()
            return result

        return self.addBoth(convertCancelled).addBoth(cancelTimeout)

    def chainDeferred(self, d: Deferred[Any]) -> Deferred[Any]:
        """Fire ``d`` with this Deferred's result at this point of the chain."""
        d._chainedTo = self
        return self.addCallbacks(d.callback, d.errback)

    def callback(self, result: Any) -> None:
        """Fire with a result and run the callbacks (errbacks if it is a Failure)."""
        if self.called:
            self._alreadyCalled()
            return
        if self.debug:
            info = self._debugInfo
            if info is None:
                info = self._debugInfo = DebugInfo()
            info.invoker = traceback.format_stack()[:-1]
        self.called = True
        self._canceller = None
        self.result = result
        self._runCallbacks()

    def errback(self, fail: Failure | BaseException | None = None) -> None:
        """Fire with a Failure (the current exception if none is given)."""
        if fail is None:
            fail = Failure(captureVars=self.debug)
        elif not isinstance(fail, Failure):
            fail = Failure(fail)
        if self.called:
            self._alreadyCalled()
            return
        if self.debug:
            info = self._debugInfo
            if info is None:
                info = self._debugInfo = DebugInfo()
            info.invoker = traceback.format_stack()[:-1]
        self.called = True
        self._canceller = None
        self.result = fail
        self._runCallbacks()

    def _alreadyCalled(self) -> None:
        if self._suppressAlreadyCalled:
            self._suppressAlreadyCalled = False
            return
        if self.debug:
            info = self._debugInfo
            if info is None:
                info = self._debugInfo = DebugInfo()
            raise AlreadyCalledError("\n" + info._getDebugTracebacks())
        raise AlreadyCalledError()

    def pause(self) -> None:
        """Stop running callbacks until a matching ``unpause``."""
        self.paused += 1

    def unpause(self) -> None:
        """Undo one ``pause``; run pending callbacks when none remain."""
        self.paused -= 1
        if self.paused:
            return
        if self.called:
            self._runCallbacks()

    def cancel(self) -> None:
        """Cancel: call the canceller (or errback with CancelledError) if not fired;
        if waiting on another Deferred, cancel that one."""
        if not self.called:
            canceller = self._canceller
            if canceller:
                canceller(self)
            else:
                self._suppressAlreadyCalled = True
            if not self.called:
                self.errback(Failure(CancelledError()))
        elif isinstance(self.result, Deferred):
            self.result.cancel()

    def _runCallbacks(self) -> None:
        if self._runningCallbacks:
            return
        debug = self.debug
        subclasses = _DEFERRED_SUBCLASSES
        stack: list[Deferred[Any]] | None = None
        current: Deferred[Any] = self
        while True:
            if current.paused:
                return
            current._chainedTo = None
            callbacks = current._callbacks
            result = current.result
            chainee: Deferred[Any] | None = None
            if callbacks:
                i = 0
                current._runningCallbacks = True
                try:
                    while i < len(callbacks):
                        cb, args, kw, eb, eargs, ekw = callbacks[i]
                        i += 1
                        if cb is _CONTINUE:
                            chainee = args
                            break
                        if isinstance(result, Failure):
                            if eb is _failthru:
                                continue
                            cb = eb
                            args = eargs
                            kw = ekw
                        elif cb is passthru:
                            continue
                        try:
                            if args is None:
                                if kw is None:
                                    result = cb(result)
                                else:
                                    result = cb(result, **kw)
                            elif kw is None:
                                result = cb(result, *args)
                            else:
                                result = cb(result, *args, **kw)
                            if result is current:
                                _warnSelfReturn(cb)
                        except BaseException:
                            result = Failure(captureVars=debug)
                        current.result = result
                        if type(result) in subclasses:
                            inner = getattr(result, "result", _NO_RESULT)
                            if (
                                inner is _NO_RESULT
                                or type(inner) in subclasses
                                or result.paused
                            ):
                                current._runningCallbacks = False
                                current.pause()
                                current._chainedTo = result
                                result._callbacks.append(
                                    (_CONTINUE, current, None, _CONTINUE, current, None)
                                )
                                break
                            result.result = None
                            info = result._debugInfo
                            if info is not None:
                                info.failResult = None
                            result = inner
                            current.result = result
                finally:
                    current._runningCallbacks = False
                    del callbacks[:i]
            if chainee is not None:
                chainee.result = result
                current.result = None
                if current._debugInfo is not None:
                    current._debugInfo.failResult = None
                chainee.paused -= 1
                if stack is None:
                    stack = [current]
                else:
                    stack.append(current)
                current = chainee
                continue
            if isinstance(result, Failure):
                info = current._debugInfo
                if info is None:
                    info = current._debugInfo = DebugInfo()
                info.failResult = result
            elif current._debugInfo is not None:
                current._debugInfo.failResult = None
            if not stack:
                return
            current = stack.pop()

    def __str__(self) -> str:
        cname = self.__class__.__name__
        result = getattr(self, "result", _NO_RESULT)
        if self._chainedTo is not None:
            text = f" waiting on Deferred at 0x{id(self._chainedTo):x}"
        elif result is _NO_RESULT:
            text = ""
        else:
            text = f" current result: {result!r}"
        return f"<{cname} at 0x{id(self):x}{text}>"

    __repr__ = __str__

    def __iter__(self) -> Generator[Deferred[_T], Any, _T]:
        while True:
            if not self.called or self.paused:
                yield self
                continue
            result = self.result
            if isinstance(result, Failure):
                info = self._debugInfo
                if info is not None:
                    info.failResult = None
                result.raiseException()
            return result

    __await__ = __iter__

    def asFuture(self, loop: AbstractEventLoop) -> Future[_T]:
        """An asyncio Future on ``loop`` that completes when this Deferred fires.

        This consumes the result: the Deferred's result becomes None.
        """
        future = loop.create_future()

        def checkCancel(f: Future[_T]) -> None:
            if f.cancelled():
                self.cancel()

        def maybeFail(failure: Failure) -> None:
            if not future.cancelled():
                future.set_exception(failure.value)

        def maybeSucceed(result: Any) -> None:
            if not future.cancelled():
                future.set_result(result)

        self.addCallbacks(maybeSucceed, maybeFail)
        future.add_done_callback(checkCancel)
        return future

    @classmethod
    def fromFuture(cls, future: Future[Any]) -> Deferred[Any]:
        """A Deferred that fires when the asyncio ``future`` completes."""
        marker = object()
        actual: Deferred[Any]

        def adapt(f: Future[Any]) -> None:
            try:
                value: Any = f.result()
            except BaseException:
                value = Failure()
            actual.callback(value)

        def cancel(d: Deferred[Any]) -> None:
            future.cancel()
            d.callback(marker)

        self = cls(cancel)
        actual = self

        def uncancel(result: Any) -> Any:
            nonlocal actual
            if result is marker:
                actual = Deferred()
                return actual
            return result

        self.addCallback(uncancel)
        future.add_done_callback(adapt)
        return self

    @classmethod
    def fromCoroutine(cls, coro: Any) -> Deferred[Any]:
        """Run a coroutine (or generator) that awaits Deferreds; return its Deferred."""
        if _isCoroutine(coro):
            return _cancellableInlineCallbacks(coro)
        raise NotACoroutineError(f"{coro!r} is not a coroutine")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _DEFERRED_SUBCLASSES.add(cls)


_DEFERRED_SUBCLASSES: set[type] = {Deferred}


def _warnSelfReturn(cb: Any) -> None:
    """Warn, as Twisted does, that a callback returned its own Deferred."""
    message = (
        "Callback returned the Deferred it was attached to; this breaks the "
        "callback chain and will raise an exception in the future."
    )
    code = getattr(cb, "__code__", None)
    if code is None:
        warnings.warn(message, DeprecationWarning, stacklevel=3)
        return
    from dis import findlinestarts

    lines = [line for _, line in findlinestarts(code) if line is not None]
    warnings.warn_explicit(
        message,
        DeprecationWarning,
        code.co_filename,
        max(lines) if lines else code.co_firstlineno,
        module=getattr(cb, "__module__", None) or "torsion",
    )


def _isCoroutine(obj: object) -> bool:
    t = type(obj)
    if t is CoroutineType or t is GeneratorType:
        return True
    return isinstance(obj, (CoroutineType, GeneratorType, _CoroutineABC))


def succeed(result: _T) -> Deferred[_T]:
    """A Deferred that has already fired with ``result``."""
    d: Deferred[_T] = Deferred()
    d.result = result
    d.called = True
    return d


def fail(result: Failure | BaseException | None = None) -> Deferred[Any]:
    """A Deferred that has already failed with ``result`` (default: current exception)."""
    d: Deferred[Any] = Deferred()
    d.errback(result)
    return d


def execute(callable: Callable[..., _T], *args: Any, **kwargs: Any) -> Deferred[_T]:
    """Call ``callable`` now; return a fired Deferred of its result or exception."""
    try:
        result = callable(*args, **kwargs)
    except BaseException:
        return fail()
    return succeed(result)


def maybeDeferred(f: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred[Any]:
    """Call ``f``; wrap its result, Failure, coroutine or exception in a Deferred."""
    try:
        result = f(*args, **kwargs)
    except BaseException:
        return fail(Failure(captureVars=Deferred.debug))
    if type(result) in _DEFERRED_SUBCLASSES:
        return result
    if isinstance(result, Failure):
        return fail(result)
    if type(result) is CoroutineType:
        return Deferred.fromCoroutine(result)
    return succeed(result)


def timeout(deferred: Deferred[Any]) -> None:
    """Deprecated: errback ``deferred`` with TimeoutError("Callback timed out")."""
    warnings.warn(
        "torsion.internet.defer.timeout is deprecated; use Deferred.addTimeout",
        DeprecationWarning,
        stacklevel=2,
    )
    deferred.errback(Failure(TimeoutError("Callback timed out")))


def ensureDeferred(coro: Any) -> Deferred[Any]:
    """Return ``coro`` if it is a Deferred, else run the coroutine as a Deferred."""
    if type(coro) in _DEFERRED_SUBCLASSES:
        return coro
    try:
        return Deferred.fromCoroutine(coro)
    except NotACoroutineError:
        raise NotACoroutineError(f"{coro!r} is not a coroutine or a Deferred") from None


class FirstError(Exception):
    """The first failure in a DeferredList with ``fireOnOneErrback``.

    ``subFailure`` is that Failure and ``index`` the position of its Deferred.
    """

    def __init__(self, failure: Failure, index: int) -> None:
        Exception.__init__(self, failure, index)
        self.subFailure = failure
        self.index = index

    def __repr__(self) -> str:
        return f"FirstError[#{self.index:d}, {self.subFailure.value!r}]"

    def __str__(self) -> str:
        return f"FirstError[#{self.index:d}, {self.subFailure}]"

    def _key(self) -> tuple[int, Failure]:
        return (self.index, self.subFailure)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FirstError):
            return self._key() == other._key()
        return False

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = Exception.__hash__


class DeferredList(Deferred[list[tuple[bool, Any]]]):
    """Fire when all the given Deferreds have fired, with ``(success, result)`` pairs.

    ``fireOnOneCallback`` fires with ``(result, index)`` on the first success,
    ``fireOnOneErrback`` fails with FirstError on the first failure and
    ``consumeErrors`` turns failures in the given Deferreds into None.
    """

    fireOnOneCallback = False
    fireOnOneErrback = False

    def __init__(
        self,
        deferredList: Iterable[Deferred[Any]],
        fireOnOneCallback: bool = False,
        fireOnOneErrback: bool = False,
        consumeErrors: bool = False,
    ) -> None:
        self._deferredList = deferreds = list(deferredList)
        self.resultList: list[Any] = [None] * len(deferreds)
        Deferred.__init__(self)
        if not deferreds and not fireOnOneCallback:
            self.callback([])
        self.fireOnOneCallback = fireOnOneCallback
        self.fireOnOneErrback = fireOnOneErrback
        self.consumeErrors = consumeErrors
        self.finishedCount = 0
        cb = self._cbDeferred
        plain = Deferred
        for index, d in enumerate(deferreds):
            if type(d) is plain:
                d._callbacks.append(
                    (cb, (index, SUCCESS), None, cb, (index, FAILURE), None)
                )
                if d.called:
                    d._runCallbacks()
            else:
                d.addCallbacks(
                    cb,
                    cb,
                    callbackArgs=(index, SUCCESS),
                    errbackArgs=(index, FAILURE),
                )

    def _cbDeferred(self, result: Any, index: int, succeeded: bool) -> Any:
        self.resultList[index] = (succeeded, result)
        self.finishedCount += 1
        if not self.called:
            if succeeded:
                if self.fireOnOneCallback:
                    self.callback((result, index))
                elif self.finishedCount == len(self.resultList):
                    self.callback(self.resultList)
            elif self.fireOnOneErrback:
                self.errback(Failure(FirstError(result, index)))
            elif self.finishedCount == len(self.resultList):
                self.callback(self.resultList)
        if not succeeded and self.consumeErrors:
            return None
        return result

    def cancel(self) -> None:
        """If not fired yet, cancel every Deferred in the list."""
        if self.called:
            return
        for d in self._deferredList:
            try:
                d.cancel()
            except BaseException:
                log = _log()
                if log is None:
                    _logFailureFallback(
                        "Exception raised from user supplied canceller", Failure()
                    )
                else:
                    log.failure("Exception raised from user supplied canceller")


def _parseDeferredListResult(
    resultList: list[Any], fireOnOneErrback: bool = False, /
) -> list[Any]:
    return [pair[1] for pair in resultList]


def gatherResults(
    deferredList: Iterable[Deferred[Any]], consumeErrors: bool = False
) -> Deferred[list[Any]]:
    """Fire with the list of results, or fail with FirstError on the first failure."""
    return DeferredList(
        deferredList, fireOnOneErrback=True, consumeErrors=consumeErrors
    ).addCallback(_parseDeferredListResult)


class FailureGroup(Exception):
    """All the Deferreds given to :func:`race` failed; ``failures`` lists them."""

    def __init__(self, failures: list[Failure]) -> None:
        super().__init__()
        self.failures = failures


def race(ds: Iterable[Deferred[_T]]) -> Deferred[tuple[int, _T]]:
    """Fire with ``(index, result)`` of the first success and cancel the others.

    If every Deferred fails, fail with FailureGroup (failures in index order).
    Cancelling the returned Deferred cancels them all.
    """
    winner: Deferred[_T] | None = None
    failures: list[tuple[int, Failure]] = []

    def cancelAll(result: Deferred[Any]) -> None:
        for d in pending:
            d.cancel()

    final: Deferred[tuple[int, _T]] = Deferred(canceller=cancelAll)

    def succeeded(value: _T, index: int) -> None:
        nonlocal winner
        if winner is not None:
            return
        winner = pending[index]
        for d in pending:
            if d is not winner:
                d.cancel()
        final.callback((index, value))

    def failed(failure: Failure, index: int) -> None:
        failures.append((index, failure))
        if len(failures) == len(pending):
            failures.sort(key=lambda pair: pair[0])
            final.errback(FailureGroup([f for _, f in failures]))

    pending = list(ds)
    for index, d in enumerate(pending):
        d.addCallbacks(succeeded, failed, callbackArgs=(index,), errbackArgs=(index,))
    return final


class _DefGen_Return(BaseException):
    def __init__(self, value: object) -> None:
        self.value = value


def returnValue(val: object) -> NoReturn:
    """Deprecated: end an ``inlineCallbacks`` generator with ``val`` (use ``return``)."""
    warnings.warn(
        "torsion.internet.defer.returnValue is deprecated; "
        "please use standard return statement instead",
        DeprecationWarning,
        stacklevel=2,
    )
    raise _DefGen_Return(val)


class _InternalInlineCallbacksCancelledError(Exception):
    """Marks the cancellation of an inlineCallbacks Deferred."""


class _InlineCallbacksRun:
    """One run of an inlineCallbacks generator or coroutine.

    ``deferred`` is the Deferred the run reports to and ``waitingOn`` the one
    it is waiting for (what cancellation is forwarded to).
    """

    __slots__ = ("deferred", "waitingOn", "gen", "context", "waiting", "value")

    def __init__(self, gen: Any, context: Context) -> None:
        self.deferred: Deferred[Any] = Deferred(self._cancel)
        self.waitingOn: Deferred[Any] | None = None
        self.gen = gen
        self.context = context
        self.waiting = True
        self.value: Any = None

    def _cancel(self, it: Deferred[Any]) -> None:
        pending = it._callbacks
        it._callbacks = [
            (passthru, None, None, _handleCancelInlineCallbacks, (self,), None)
        ]
        it._callbacks.extend(pending)
        it.errback(_InternalInlineCallbacksCancelledError())

    def gotResult(self, r: object) -> None:
        if self.waiting:
            self.waiting = False
            self.value = r
        else:
            self.step(r)

    @_extraneous
    def step(self, result: Any) -> None:
        self.waiting = True
        gen = self.gen
        send = gen.send
        run = self.context.run
        subclasses = _DEFERRED_SUBCLASSES
        plain = Deferred
        while True:
            isFailure = isinstance(result, Failure)
            finished = False
            try:
                if isFailure:
                    result = run(result.throwExceptionIntoGenerator, gen)
                else:
                    result = run(send, result)
            except StopIteration as e:
                finished = True
                result = e.value
            except _DefGen_Return as e:
                _checkReturnValueFrame(exc_info()[2], isFailure)
                finished = True
                result = e.value
            except BaseException:
                self.deferred.errback()
                return
            if finished:
                self.deferred.callback(result)
                return

            t = type(result)
            if t is plain:
                d: Any = result
                if not d.called:
                    got = self.gotResult
                    d._callbacks.append((got, None, None, got, None, None))
                    self.waiting = False
                    self.waitingOn = d
                    return
                if not d.paused and not d._callbacks and not d._runningCallbacks:
                    result = d.result
                    d.result = None
                    info = d._debugInfo
                    if info is not None:
                        info.failResult = None
                    continue
            elif t not in subclasses:
                if not _isCoroutine(result):
                    continue
                result = _cancellableInlineCallbacks(result)

            result.addBoth(self.gotResult)
            if self.waiting:
                self.waiting = False
                self.waitingOn = result
                return
            result = self.value
            self.value = None
            self.waiting = True


def _checkReturnValueFrame(tb: TracebackType | None, isFailure: bool) -> None:
    """Warn when returnValue() was called from a function other than the generator."""
    app = tb.tb_next if tb is not None else None
    if isFailure and app is not None:
        app = app.tb_next
    if app is None:
        return
    caller = app
    while caller.tb_next is not None and caller.tb_next.tb_next is not None:
        caller = caller.tb_next
    if caller is app:
        return
    warnings.warn_explicit(
        f"returnValue() in {caller.tb_frame.f_code.co_name!r} causing {app.tb_frame.f_code.co_name!r} to exit: "
        "returnValue should only be invoked by functions decorated "
        "with inlineCallbacks",
        DeprecationWarning,
        caller.tb_frame.f_code.co_filename,
        caller.tb_lineno,
    )


def _handleCancelInlineCallbacks(
    result: Failure, run: _InlineCallbacksRun, /
) -> Deferred[Any]:
    result.trap(_InternalInlineCallbacksCancelledError)
    run.deferred = Deferred(run._cancel)
    awaited = run.waitingOn
    assert awaited is not None
    awaited.cancel()
    return run.deferred


def _cancellableInlineCallbacks(gen: Any) -> Deferred[Any]:
    run = _InlineCallbacksRun(gen, copy_context())
    deferred = run.deferred
    run.step(None)
    return deferred


def inlineCallbacks(
    f: Callable[..., Generator[Any, Any, _T]],
) -> Callable[..., Deferred[_T]]:
    """Decorate a generator function so that each yielded Deferred is waited for.

    The generator is resumed with the Deferred's result (or has the exception
    thrown in); its ``return`` value fires the returned Deferred. Cancelling
    that Deferred cancels the one being waited on.
    """

    @wraps(f)
    def unwindGenerator(*args: Any, **kwargs: Any) -> Deferred[_T]:
        try:
            gen = f(*args, **kwargs)
        except _DefGen_Return:
            raise TypeError(
                f"inlineCallbacks requires {f!r} to produce a generator; instead"
                "caught returnValue being used in a non-generator"
            ) from None
        if not isinstance(gen, GeneratorType):
            raise TypeError(
                f"inlineCallbacks requires {f!r} to produce a generator; "
                f"instead got {gen!r}"
            )
        return _cancellableInlineCallbacks(gen)

    return unwindGenerator


class _ConcurrencyPrimitive:
    """Shared parts of DeferredLock and DeferredSemaphore."""

    def __init__(self) -> None:
        self.waiting: list[Deferred[Any]] = []

    def _releaseAndReturn(self, r: _R) -> _R:
        self.release()
        return r

    def run(self, f: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Deferred[Any]:
        """Acquire, call ``f(*args, **kwargs)``, release once its result is ready."""

        def execute(ignored: object) -> Deferred[Any]:
            return maybeDeferred(f, *args, **kwargs).addBoth(self._releaseAndReturn)

        return self.acquire().addCallback(execute)

    def __aenter__(self) -> Deferred[Any]:
        """Acquire, for ``async with``."""
        return self.acquire()

    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> Deferred[Literal[False]]:
        """Release, for ``async with``; exceptions propagate."""
        self.release()
        return succeed(False)

    def acquire(self) -> Deferred[Any]:
        """Return a Deferred that fires with this object once acquired."""
        raise NotImplementedError

    def release(self) -> None:
        """Give back what ``acquire`` took."""
        raise NotImplementedError


class DeferredLock(_ConcurrencyPrimitive):
    """A lock for event-driven code: ``acquire`` returns a Deferred."""

    locked = False

    def _cancelAcquire(self, d: Deferred[Any]) -> None:
        self.waiting.remove(d)

    def acquire(self) -> Deferred[DeferredLock]:
        """A Deferred firing with the lock when it is ours (cancellable while waiting)."""
        d: Deferred[DeferredLock] = Deferred(canceller=self._cancelAcquire)
        if self.locked:
            self.waiting.append(d)
        else:
            self.locked = True
            d.callback(self)
        return d

    def release(self) -> None:
        """Release the lock, handing it to the first waiter if any."""
        if not self.locked:
            raise AssertionError("Tried to release an unlocked lock")
        self.locked = False
        if self.waiting:
            self.locked = True
            self.waiting.pop(0).callback(self)


class DeferredSemaphore(_ConcurrencyPrimitive):
    """A semaphore for event-driven code: at most ``limit`` holders at a time."""

    def __init__(self, tokens: int) -> None:
        _ConcurrencyPrimitive.__init__(self)
        if tokens < 1:
            raise ValueError("DeferredSemaphore requires tokens >= 1")
        self.tokens = tokens
        self.limit = tokens

    def _cancelAcquire(self, d: Deferred[Any]) -> None:
        self.waiting.remove(d)

    def acquire(self) -> Deferred[DeferredSemaphore]:
        """A Deferred firing with the semaphore when a token is ours."""
        if self.tokens < 0:
            raise AssertionError(
                "Internal inconsistency??  tokens should never be negative"
            )
        d: Deferred[DeferredSemaphore] = Deferred(canceller=self._cancelAcquire)
        if not self.tokens:
            self.waiting.append(d)
        else:
            self.tokens -= 1
            d.callback(self)
        return d

    def release(self) -> None:
        """Return a token, handing it to the first waiter if any."""
        if self.tokens >= self.limit:
            raise AssertionError("Someone released me too many times: too many tokens!")
        self.tokens += 1
        if self.waiting:
            self.tokens -= 1
            self.waiting.pop(0).callback(self)


class QueueOverflow(Exception):
    """A DeferredQueue already holds ``size`` objects."""


class QueueUnderflow(Exception):
    """A DeferredQueue already has ``backlog`` pending gets."""


class DeferredQueue(Generic[_T]):
    """A queue whose ``get`` returns a Deferred; ``size`` and ``backlog`` bound it."""

    def __init__(self, size: int | None = None, backlog: int | None = None) -> None:
        self.waiting: list[Deferred[_T]] = []
        self.pending: list[_T] = []
        self.size = size
        self.backlog = backlog

    def _cancelGet(self, d: Deferred[_T]) -> None:
        self.waiting.remove(d)

    def put(self, obj: _T) -> None:
        """Give ``obj`` to the first waiting get, or queue it (QueueOverflow if full)."""
        if self.waiting:
            self.waiting.pop(0).callback(obj)
        elif self.size is None or len(self.pending) < self.size:
            self.pending.append(obj)
        else:
            raise QueueOverflow()

    def get(self) -> Deferred[_T]:
        """A Deferred of the next object (QueueUnderflow if the backlog is full)."""
        if self.pending:
            return succeed(self.pending.pop(0))
        if self.backlog is None or len(self.waiting) < self.backlog:
            d: Deferred[_T] = Deferred(canceller=self._cancelGet)
            self.waiting.append(d)
            return d
        raise QueueUnderflow()


# At the end: the lock's module takes Deferred and its helpers from here.
from torsion.internet._filelock import DeferredFilesystemLock  # noqa: E402
