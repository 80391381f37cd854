"""pytest plugin: Deferred-returning and ``async def`` tests on torsion's reactor.

Registered as the ``torsion`` pytest11 entry point, so it is active wherever
torsion is installed.  It provides:

- a ``reactor`` fixture: a fresh ``TorsionReactor`` per test (or the global
  ``torsion.internet.reactor`` with ``torsion_reactor = global`` in the ini);
- tests that return a Deferred, or are ``async def`` and await Deferreds, run
  on that reactor until the Deferred fires; a failure is raised as the test's
  error, and a test still waiting after the timeout (``torsion_timeout``, else
  pytest-timeout's setting, else 60 s) fails with ``defer.TimeoutError``;
- hygiene checks after every test that used the plugin's reactor: pending
  DelayedCalls, open connections or listening ports and unflushed logged
  errors are reported as an error at teardown, naming each of them (as
  trial's "Reactor was unclean"); ``@pytest.mark.torsion_allow_dirty`` turns
  the checks off for one test.

Nothing here imports the Rust extension or installs a reactor until a test
needs one.
"""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import pytest

__all__ = ["DirtyReactorError", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = 60.0
"""Seconds a Deferred test may wait when no timeout is configured."""

_MODES = ("fresh", "global")
_OTHER_ASYNC_MARKERS = ("asyncio", "anyio", "trio")
_MISSING = object()


_Failed: Any = pytest.fail.Exception


class DirtyReactorError(_Failed):
    """A test left DelayedCalls, connections, ports or logged errors behind."""


@dataclass
class _Use:
    """The plugin's reactor as one test used it."""

    reactor: Any
    isGlobal: bool
    checked: bool


@dataclass
class _Baseline:
    """What the logged-error collector held before the test started."""

    errors: list[Any] = field(default_factory=list)


_USE = pytest.StashKey[_Use]()
_BASELINE = pytest.StashKey[_Baseline]()
_MODE = pytest.StashKey[str]()
_STARTED = pytest.StashKey[float]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ``torsion_reactor`` and ``torsion_timeout`` ini options."""
    parser.addini(
        "torsion_reactor",
        "Reactor for the torsion plugin: 'fresh' (a new TorsionReactor per "
        "test, the default) or 'global' (the installed torsion.internet.reactor, "
        "crashed between tests)",
        default="fresh",
    )
    parser.addini(
        "torsion_timeout",
        "Seconds a Deferred-returning or async test may run on the torsion "
        "reactor (default: pytest-timeout's setting, else 60; 0 = no limit)",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker and validate the ini options."""
    config.addinivalue_line(
        "markers",
        "torsion_allow_dirty: do not fail the test when it leaves DelayedCalls, "
        "connections, listening ports or logged errors on the torsion reactor",
    )
    mode = str(config.getini("torsion_reactor")).strip().lower() or "fresh"
    if mode not in _MODES:
        raise pytest.UsageError(
            f"torsion_reactor must be 'fresh' or 'global', not {mode!r}"
        )
    config.stash[_MODE] = mode
    _configuredTimeout(config)


def _configuredTimeout(config: pytest.Config) -> float | None:
    raw = str(config.getini("torsion_timeout")).strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise pytest.UsageError(
            f"torsion_timeout must be a number of seconds, not {raw!r}"
        ) from None


def _timeoutFor(item: pytest.Item) -> tuple[float | None, bool]:
    """Seconds to wait for ``item``'s Deferred (None: no limit), and whether
    the value is pytest-timeout's.

    A ``timeout`` marker (pytest-timeout's) wins, then ``torsion_timeout``,
    then pytest-timeout's own setting, then DEFAULT_TIMEOUT.
    """
    value: Any = None
    fromPytestTimeout = False
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        value = marker.kwargs.get("timeout", marker.args[0] if marker.args else None)
        fromPytestTimeout = value is not None
    if value is None:
        value = _configuredTimeout(item.config)
    if value is None:
        value = getattr(item.config, "_env_timeout", None)
        fromPytestTimeout = value is not None
    if value is None:
        value = DEFAULT_TIMEOUT
    seconds = float(value)
    return (seconds if seconds > 0 else None), fromPytestTimeout


def _budget(item: pytest.Item, timeout: float, fromPytestTimeout: bool) -> float:
    """How long to run the reactor for a ``timeout``-second limit.

    pytest-timeout's clock starts before the fixtures are set up and its
    SIGALRM can land inside a reactor callback (where it would be logged,
    not raised); so, with its value, give up a little earlier than it would
    (and then disarm it).
    """
    if not fromPytestTimeout:
        return timeout
    started = item.stash.get(_STARTED, None)
    spent = time.monotonic() - started if started is not None else 0.0
    return max(timeout - spent - min(0.1 * timeout, 1.0), 0.0)


def _globalReactor() -> Any:
    from torsion.internet import reactor

    return reactor


def _pluginReactor(item: pytest.Item) -> Any:
    """The reactor the plugin gives ``item`` (created on first use)."""
    use = item.stash.get(_USE, None)
    if use is None:
        import torsion.internet.testing  # noqa: F401  (collects logged errors)

        if item.config.stash[_MODE] == "global":
            use = _Use(_globalReactor(), True, _checksWanted(item))
        else:
            from torsion.internet._reactor import TorsionReactor

            use = _Use(TorsionReactor(), False, _checksWanted(item))
        item.stash[_USE] = use
    return use.reactor


def _checksWanted(item: pytest.Item) -> bool:
    return item.get_closest_marker("torsion_allow_dirty") is None


@pytest.fixture
def reactor(request: pytest.FixtureRequest) -> Any:
    """torsion's reactor for this test: a fresh TorsionReactor (or the global
    one with ``torsion_reactor = global``), checked for leftovers afterwards."""
    return _pluginReactor(request.node)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Note when the test started and which logged errors predate it."""
    item.stash[_STARTED] = time.monotonic()
    testing = sys.modules.get("torsion.internet.testing")
    errors = testing._loggedErrors.errors() if testing is not None else []
    item.stash[_BASELINE] = _Baseline(errors)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
    """Run a returned Deferred or coroutine on the reactor until it fires."""
    original = pyfuncitem.obj
    if inspect.iscoroutinefunction(original) and any(
        pyfuncitem.get_closest_marker(name) for name in _OTHER_ASYNC_MARKERS
    ):
        return (yield)

    def runTest(**kwargs: Any) -> Any:
        __tracebackhide__ = True
        result = original(**kwargs)
        if _isDeferred(result) or inspect.iscoroutine(result):
            _waitFor(pyfuncitem, kwargs, result)
            return None
        return result

    __tracebackhide__ = True
    pyfuncitem.obj = runTest
    try:
        return (yield)
    finally:
        pyfuncitem.obj = original


def _isDeferred(result: object) -> bool:
    defer = sys.modules.get("torsion.internet.defer")
    return defer is not None and isinstance(result, defer.Deferred)


def _reactorFor(item: pytest.Function, kwargs: dict[str, Any]) -> Any:
    given = kwargs.get("reactor", _MISSING)
    if given is not _MISSING and callable(getattr(given, "callLater", None)):
        return given
    return _pluginReactor(item)


def _waitFor(item: pytest.Function, kwargs: dict[str, Any], result: Any) -> None:
    """Run the reactor until ``result`` (Deferred or coroutine) has a result;
    raise its failure, or TimeoutError once the timeout has passed."""
    __tracebackhide__ = True
    from torsion.internet import defer
    from torsion.python.failure import Failure

    outcome: list[Any] = []
    holder: list[Any] = []
    reactor: Any = None
    startTrigger: Any = None

    def finished(value: Any) -> None:
        outcome.append(value)
        if reactor is not None and (
            reactor.running or getattr(reactor, "_started", False)
        ):
            reactor.crash()

    def watch(d: Any) -> None:
        holder.append(d)
        d.addBoth(finished)

    if inspect.iscoroutine(result):
        coro = result

        def start() -> None:
            try:
                d = defer.Deferred.fromCoroutine(coro)
            except BaseException:
                d = defer.fail(Failure())
            watch(d)

        reactor = _reactorFor(item, kwargs)
        startTrigger = reactor.callWhenRunning(start)
    else:
        watch(result)
        if outcome:
            _raiseIfFailure(outcome[0], Failure)
            return
        reactor = _reactorFor(item, kwargs)

    timeout, fromPytestTimeout = _timeoutFor(item)
    timedOut: list[bool] = []

    def expire() -> None:
        timedOut.append(True)
        reactor.crash()

    guard = None
    if timeout is not None:
        guard = reactor.callLater(_budget(item, timeout, fromPytestTimeout), expire)
    isGlobal = _isPluginGlobal(item, reactor)
    previousStop = reactor.__dict__.get("stop", _MISSING) if isGlobal else _MISSING
    if isGlobal:
        reactor.stop = reactor.crash
    finishedInTime = False
    hint = ""
    try:
        reactor.run(installSignalHandlers=False)
    finally:
        if isGlobal:
            if previousStop is _MISSING:
                del reactor.stop
            else:
                reactor.stop = previousStop
        if guard is not None and guard.active():
            guard.cancel()
        if reactor.running or getattr(reactor, "_started", False):
            reactor.crash()
        finishedInTime = bool(outcome)
        if not outcome:
            hint = _globalHint(item, reactor) if timedOut else ""
            _abandon(reactor, holder, result, startTrigger)
    if finishedInTime:
        _raiseIfFailure(outcome[0], Failure)
        return
    cause = outcome[0] if outcome else None
    cause = cause.value if isinstance(cause, Failure) else None
    if timedOut:
        if fromPytestTimeout:
            _disarmPytestTimeout(item)
        raise defer.TimeoutError(
            f"{item.nodeid} did not finish within {timeout:g} seconds{hint}"
        ) from cause
    raise RuntimeError(
        f"the reactor stopped before {item.nodeid} finished: reactor.stop() or "
        "crash() was called while the test was still waiting"
    ) from cause


def _disarmPytestTimeout(item: pytest.Item) -> None:
    """This test has timed out already: keep pytest-timeout's alarm from
    firing again while the failure is being reported."""
    cancel = getattr(item.config.hook, "pytest_timeout_cancel_timer", None)
    if cancel is not None:
        cancel(item=item)


def _abandon(reactor: Any, holder: list[Any], result: Any, startTrigger: Any) -> None:
    """Cancel the test's Deferred (or close its coroutine if it never started)."""
    if holder:
        try:
            holder[0].cancel()
        except Exception:
            pass
        return
    if startTrigger is not None:
        try:
            reactor.removeSystemEventTrigger(startTrigger)
        except (KeyError, ValueError):
            pass
    if inspect.iscoroutine(result):
        result.close()


def _globalHint(item: pytest.Item, reactor: Any) -> str:
    """A hint for a fresh-reactor test whose work went to the global reactor."""
    installed = sys.modules.get("torsion.internet.reactor")
    if installed is None or installed is reactor or not hasattr(installed, "run"):
        return ""
    if not installed.getDelayedCalls() and not _selectables(installed):
        return ""
    return (
        "; it ran on a fresh reactor while the global torsion.internet.reactor "
        "has pending work: take the `reactor` fixture, or set "
        "torsion_reactor = global"
    )


def _raiseIfFailure(value: Any, failureType: type[Any]) -> None:
    __tracebackhide__ = True
    if isinstance(value, failureType):
        exc = value.value
        if value.tb is not None:
            raise exc.with_traceback(value.tb)
        raise exc


def _isPluginGlobal(item: pytest.Item, reactor: Any) -> bool:
    use = item.stash.get(_USE, None)
    return use is not None and use.isGlobal and use.reactor is reactor


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, None, None]:
    """After the fixtures are torn down: check the reactor, then clean it."""
    try:
        result = yield
    except BaseException:
        _release(item, check=False)
        raise
    problems = _release(item, check=True)
    if problems:
        raise DirtyReactorError(
            f"Reactor was unclean after {item.nodeid}:\n" + "\n".join(problems),
            pytrace=False,
        )
    return result


def _release(item: pytest.Item, check: bool) -> list[str]:
    """Inspect and clean the plugin's reactor after ``item``; return the
    problem report's lines (empty when clean or not checked)."""
    use = item.stash.get(_USE, None)
    if use is None:
        return []
    del item.stash[_USE]
    baseline = item.stash.get(_BASELINE, _Baseline())
    reactor = use.reactor
    check = check and use.checked
    if use.checked:
        _settle(reactor)
    problems: list[str] = []
    calls = [c for c in reactor.getDelayedCalls() if c.active()]
    selectables = _selectables(reactor)
    errors = _newErrors(baseline)
    if check:
        if calls:
            problems.append("DelayedCalls: (cancel them before the test ends)")
            problems.extend(str(c) for c in calls)
        if selectables:
            problems.append(
                "Selectables: (stopListening() or loseConnection() them before "
                "the test ends)"
            )
            problems.extend(repr(s) for s in selectables)
        if errors:
            problems.append(
                "Logged errors: (flush the expected ones with flushLoggedErrors())"
            )
            problems.extend(f.getTraceback().rstrip("\n") for f in errors)
    if not use.isGlobal or use.checked:
        _clean(reactor, calls, stopThreads=not use.isGlobal)
    if errors:
        sys.modules["torsion.internet.testing"]._loggedErrors.flush()
    return problems


def _settle(reactor: Any) -> None:
    """Two loop turns without waiting, as trial does, so that calls due now
    (a port's close, a connection's teardown) can finish."""
    if reactor.running:
        return
    for _ in range(2):
        reactor.iterate(0)


def _selectables(reactor: Any) -> list[Any]:
    seen: dict[int, Any] = {}
    for s in list(reactor.getReaders()) + list(reactor.getWriters()):
        if "Waker" not in type(s).__name__:
            seen.setdefault(id(s), s)
    return list(seen.values())


def _newErrors(baseline: _Baseline) -> list[Any]:
    testing = sys.modules.get("torsion.internet.testing")
    if testing is None:
        return []
    before = {id(f) for f in baseline.errors}
    return [f for f in testing._loggedErrors.errors() if id(f) not in before]


def _clean(reactor: Any, calls: list[Any], stopThreads: bool) -> None:
    from torsion.internet import error
    from torsion.python.failure import Failure

    for c in calls:
        if c.active():
            c.cancel()
    reason = Failure(error.ConnectionLost("cleaned up by torsion's pytest plugin"))
    for selectable in reactor.removeAll():
        try:
            selectable.connectionLost(reason)
        except Exception:
            pass
    if stopThreads and getattr(reactor, "threadpool", None) is not None:
        reactor._stopThreadPool()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """With the global reactor, stop its thread pool when the run ends."""
    if session.config.stash.get(_MODE, "fresh") != "global":
        return
    installed = sys.modules.get("torsion.internet.reactor")
    stopPool: Callable[[], None] | None = getattr(installed, "_stopThreadPool", None)
    if stopPool is not None and getattr(installed, "threadpool", None) is not None:
        stopPool()
