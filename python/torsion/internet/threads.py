"""Running blocking calls in threads and reactor calls from threads."""

from __future__ import annotations

import importlib
import queue
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from torsion.internet import defer
from torsion.python import failure

__all__ = [
    "deferToThread",
    "deferToThreadPool",
    "callMultipleInThread",
    "blockingCallFromThread",
]

_R = TypeVar("_R")


def _installedReactor() -> Any:
    return importlib.import_module("torsion.internet.reactor")


def deferToThreadPool(
    reactor: Any,
    threadpool: Any,
    f: Callable[..., _R],
    *args: Any,
    **kwargs: Any,
) -> defer.Deferred[_R]:
    """Run ``f`` in ``threadpool``; its result fires a Deferred in the reactor.

    The Deferred errbacks with a Failure if ``f`` raises.
    """
    d: defer.Deferred[_R] = defer.Deferred()

    def onResult(ok: bool, result: Any) -> None:
        reactor.callFromThread(d.callback if ok else d.errback, result)

    threadpool.callInThreadWithCallback(onResult, f, *args, **kwargs)
    return d


def deferToThread(
    f: Callable[..., _R], *args: Any, **kwargs: Any
) -> defer.Deferred[_R]:
    """Run ``f`` in the installed reactor's thread pool; return a Deferred."""
    reactor = _installedReactor()
    return deferToThreadPool(reactor, reactor.getThreadPool(), f, *args, **kwargs)


def _runMultiple(tupleList: Iterable[tuple[Callable[..., object], Any, Any]]) -> None:
    for f, args, kwargs in tupleList:
        f(*args, **kwargs)


def callMultipleInThread(
    tupleList: Iterable[tuple[Callable[..., object], Any, Any]],
) -> None:
    """Run each ``(f, args, kwargs)`` in order, all in one pool thread."""
    _installedReactor().callInThread(_runMultiple, tupleList)


def blockingCallFromThread(
    reactor: Any, f: Callable[..., Any], *a: Any, **kw: Any
) -> Any:
    """From a non-reactor thread, run ``f`` in the reactor and wait for it.

    If ``f`` returns a Deferred, wait for its result.  A failure is raised
    here as its exception.
    """
    results: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def inReactor() -> None:
        defer.maybeDeferred(f, *a, **kw).addBoth(results.put)

    reactor.callFromThread(inReactor)
    result = results.get()
    if isinstance(result, failure.Failure):
        result.raiseException()
    return result
