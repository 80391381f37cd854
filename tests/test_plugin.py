"""Tests for torsion's pytest plugin (torsion.testing_plugin).

Each test writes a small test module, runs pytest on it (in-process when the
run does not touch process-wide state, in a subprocess for the global
reactor and for pytest-timeout's SIGALRM) and checks outcomes and messages.
A parity test runs the same scenarios under Twisted's trial and checks that
the plugin flags the same tests for the same reasons.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from torsion import testing_plugin

pytest_plugins = ["pytester"]

INI = "[pytest]\naddopts = -p no:cacheprovider -p no:benchmark -p no:hypothesispytest\n"

RECORDER = """
import json

box = {}


def pytest_sessionfinish(session):
    found = {key: get() for key, get in box.items()}
    with open("box.json", "w") as f:
        json.dump(found, f)
"""


def recorded(pytester: pytest.Pytester) -> dict[str, Any]:
    """What the inner run's conftest ``box`` held once the session ended."""
    return json.loads((pytester.path / "box.json").read_text())


def write(pytester: pytest.Pytester, source: str, ini: str = "", **files: str) -> None:
    """Write test_it.py (plus any ``files``) and a pytest.ini under pytester."""
    pytester.makeini(INI + ini)
    pytester.makepyfile(test_it=textwrap.dedent(source))
    for name, text in files.items():
        pytester.makepyfile(**{name: textwrap.dedent(text)})


def run(
    pytester: pytest.Pytester, source: str, ini: str = "", *args: str, **files: str
) -> Any:
    """Run ``source`` in-process and return pytest's RunResult."""
    write(pytester, source, ini, **files)
    return pytester.runpytest(*args)


PREIMPORT = """
import torsion.internet._reactor
import torsion.internet.testing
"""


def runSubprocess(
    pytester: pytest.Pytester, source: str, ini: str = "", *args: str
) -> Any:
    """Run ``source`` in a child pytest and return its RunResult.

    The child imports the reactor before any test starts, so that a short
    pytest-timeout limit is not spent loading the extension.
    """
    write(pytester, source, ini, conftest=PREIMPORT)
    return pytester.runpytest_subprocess(*args, timeout=120)


# Deferred-returning and async tests


def test_deferred_returning_test_runs_on_the_reactor(pytester: pytest.Pytester) -> None:
    """A test returning an unfired Deferred passes once the reactor fires it."""
    result = run(
        pytester,
        """
        from torsion.internet import task

        def test_later(reactor):
            seen = []
            d = task.deferLater(reactor, 0.01, lambda: 42)
            d.addCallback(seen.append)
            d.addCallback(lambda _: seen == [42] or 1 / 0)
            return d
        """,
    )
    result.assert_outcomes(passed=1)


def test_async_test_awaits_deferreds_with_the_reactor_running(
    pytester: pytest.Pytester,
) -> None:
    """An ``async def`` test starts inside the running reactor and awaits
    Deferreds; pytest does not warn about it."""
    result = run(
        pytester,
        """
        from torsion.internet import task

        async def test_await(reactor):
            assert reactor.running
            value = await task.deferLater(reactor, 0.01, lambda: "x")
            assert value == "x"
            assert reactor.running
        """,
        "filterwarnings = error\n",
    )
    result.assert_outcomes(passed=1)


def test_async_test_failure_is_the_test_error(pytester: pytest.Pytester) -> None:
    """An exception after an await fails the test with the test's own line."""
    result = run(
        pytester,
        """
        from torsion.internet import task

        async def test_raise(reactor):
            await task.deferLater(reactor, 0.01, lambda: None)
            raise KeyError("late")
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '>       raise KeyError("late")',
            "E       KeyError: 'late'",
            "test_it.py:5: KeyError",
            "FAILED test_it.py::test_raise - KeyError: 'late'",
        ]
    )


def test_failed_deferred_is_raised(pytester: pytest.Pytester) -> None:
    """A Deferred that fails (now or later) fails the test with its exception."""
    result = run(
        pytester,
        """
        from torsion.internet import defer, task

        def test_now():
            return defer.fail(ValueError("boom"))

        def test_later(reactor):
            def explode():
                raise OSError(5, "later")
            return task.deferLater(reactor, 0.01, explode)
        """,
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines_random(
        [
            "FAILED test_it.py::test_now - ValueError: boom",
            "FAILED test_it.py::test_later - OSError: [[]Errno 5[]] later",
        ]
    )


def test_fired_deferred_does_not_run_the_reactor(pytester: pytest.Pytester) -> None:
    """A Deferred that already has a result is used as it is."""
    result = run(
        pytester,
        """
        import pytest
        from torsion.internet import defer

        @pytest.fixture
        def started(reactor):
            calls = []
            reactor.callWhenRunning(calls.append, "started")
            yield
            assert calls == []

        def test_fired(reactor, started):
            return defer.succeed("done")
        """,
    )
    result.assert_outcomes(passed=1)


def test_inline_callbacks_test(pytester: pytest.Pytester) -> None:
    """An @inlineCallbacks test (a Deferred-returning function) is supported."""
    result = run(
        pytester,
        """
        from torsion.internet import defer, task

        @defer.inlineCallbacks
        def test_gen(reactor):
            value = yield task.deferLater(reactor, 0.01, lambda: 7)
            assert value == 7
            yield task.deferLater(reactor, 0.01, lambda: None)
            assert value == 8
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([">       assert value == 8", "E       assert 7 == 8"])


def test_plain_return_values_still_warn(pytester: pytest.Pytester) -> None:
    """Other return values reach pytest's own PytestReturnNotNoneWarning
    (an error here, with filterwarnings = error)."""
    result = run(
        pytester,
        """
        def test_returns():
            return 3
        """,
        "filterwarnings = error\n",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "FAILED test_it.py::test_returns - pytest.PytestReturnNotNoneWarning: "
            "Test fun*"
        ]
    )


def test_async_tests_marked_for_another_loop_are_left_alone(
    pytester: pytest.Pytester,
) -> None:
    """``async def`` tests marked asyncio/anyio/trio belong to those plugins."""
    result = run(
        pytester,
        """
        import pytest

        @pytest.mark.asyncio
        async def test_other():
            pass
        """,
        "markers = asyncio\n",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*async def functions are not natively supported*"])


# Timeouts


def test_torsion_timeout_fails_a_hanging_test(pytester: pytest.Pytester) -> None:
    """After torsion_timeout the test's Deferred is cancelled (its finally
    blocks run) and the test fails with defer.TimeoutError."""
    result = run(
        pytester,
        """
        from torsion.internet import defer

        async def test_hang(reactor):
            try:
                await defer.Deferred()
            finally:
                print("finally ran")

        def test_next(reactor):
            assert not reactor.running
        """,
        "torsion_timeout = 0.2\n",
    )
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*torsion.internet.defer.CancelledError",
            "The above exception was the direct cause of the following exception:",
            "E   torsion.internet.defer.TimeoutError: "
            "test_it.py::test_hang did not finish within 0.2 seconds",
            "finally ran",
        ]
    )


def test_timeout_marker_wins_over_torsion_timeout(pytester: pytest.Pytester) -> None:
    """pytest-timeout's per-test marker sets the limit for that test."""
    result = run(
        pytester,
        """
        import pytest
        from torsion.internet import defer

        @pytest.mark.timeout(0.3)
        def test_hang():
            return defer.Deferred()
        """,
        "torsion_timeout = 30\n",
        "-p",
        "no:timeout",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   torsion.internet.defer.TimeoutError: "
            "test_it.py::test_hang did not finish within 0.3 seconds"
        ]
    )


def test_pytest_timeout_setting_is_used_and_fires_first(
    pytester: pytest.Pytester,
) -> None:
    """Without torsion_timeout, pytest-timeout's value is the limit, and the
    plugin gives up a little before pytest-timeout's alarm would."""
    result = runSubprocess(
        pytester,
        """
        from torsion.internet import defer

        async def test_hang(reactor):
            await defer.Deferred()
        """,
        "timeout = 1\n",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   torsion.internet.defer.TimeoutError: "
            "test_it.py::test_hang did not finish within 1 seconds"
        ]
    )
    result.stdout.no_fnmatch_line("*from pytest-timeout*")


def test_zero_torsion_timeout_means_no_limit(pytester: pytest.Pytester) -> None:
    """torsion_timeout = 0 sets no limit: only pytest-timeout ends the test."""
    result = runSubprocess(
        pytester,
        """
        from torsion.internet import defer

        def test_hang(reactor):
            return defer.Deferred()

        def test_after(reactor):
            assert reactor.getDelayedCalls() == []
        """,
        "timeout = 1\ntorsion_timeout = 0\n",
    )
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        ["FAILED test_it.py::test_hang - Failed: Timeout (>1.0s) from pytest-timeout."]
    )


def test_default_timeout_is_sixty_seconds(pytester: pytest.Pytester) -> None:
    """With nothing configured, a Deferred test may wait 60 seconds."""
    pytester.makeini(INI)
    item = pytester.getitem("def test_func(): pass")
    assert testing_plugin._timeoutFor(item) == (60.0, False)
    assert testing_plugin.DEFAULT_TIMEOUT == 60.0


def test_reactor_stopped_by_the_test(pytester: pytest.Pytester) -> None:
    """If the test stops the reactor while waiting, the test fails saying so."""
    result = run(
        pytester,
        """
        from torsion.internet import defer

        def test_stops(reactor):
            reactor.callLater(0.01, reactor.stop)
            return defer.Deferred()
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   RuntimeError: the reactor stopped before test_it.py::test_stops "
            "finished: reactor.stop() or crash() was called while the test was "
            "still waiting"
        ]
    )


# The reactor fixture


def test_fresh_reactor_per_test(pytester: pytest.Pytester) -> None:
    """By default every test gets a new TorsionReactor, not the global one."""
    result = run(
        pytester,
        """
        import sys
        from torsion.internet._reactor import TorsionReactor

        seen = []

        def test_one(reactor):
            assert type(reactor) is TorsionReactor
            assert reactor is not sys.modules.get("torsion.internet.reactor")
            seen.append(reactor)

        def test_two(reactor):
            assert reactor is not seen[0]
        """,
    )
    result.assert_outcomes(passed=2)


def test_conftest_reactor_fixture_overrides_the_plugin(
    pytester: pytest.Pytester,
) -> None:
    """A conftest ``reactor`` fixture wins; the plugin runs that reactor for
    Deferred tests and leaves its hygiene to the conftest."""
    pytester.makeconftest(
        """
        import pytest
        from torsion.internet._reactor import TorsionReactor

        made = []

        @pytest.fixture
        def reactor():
            r = TorsionReactor()
            made.append(r)
            return r
        """
    )
    result = run(
        pytester,
        """
        from torsion.internet import task
        import conftest

        async def test_uses_conftest(reactor):
            assert reactor is conftest.made[-1]
            await task.deferLater(reactor, 0.01, lambda: None)
            reactor.callLater(60, lambda: None)
        """,
    )
    result.assert_outcomes(passed=1)


def test_global_reactor_mode(pytester: pytest.Pytester) -> None:
    """torsion_reactor = global: the installed reactor for every test,
    crashed (not stopped) between tests; stop() inside a test only ends
    the wait; leftovers are still reported and cleaned."""
    result = runSubprocess(
        pytester,
        """
        from torsion.internet import defer, protocol, task, threads

        seen = []

        def test_installed(reactor):
            from torsion.internet import reactor as installed
            assert reactor is installed
            seen.append(reactor)
            return task.deferLater(reactor, 0.01, lambda: None)

        async def test_same_object(reactor):
            assert reactor is seen[0]
            assert reactor.running
            await task.deferLater(reactor, 0.01, lambda: None)

        async def test_stop_only_crashes(reactor):
            reactor.callLater(0.01, reactor.stop)
            await defer.Deferred()

        async def test_runs_again(reactor):
            assert reactor.stop == reactor.crash
            assert await threads.deferToThread(lambda: 5) == 5

        def test_stop_is_restored(reactor):
            assert "stop" not in reactor.__dict__

        def test_leaves_a_port(reactor):
            factory = protocol.Factory.forProtocol(protocol.Protocol)
            reactor.listenTCP(0, factory, interface="127.0.0.1")

        def test_port_was_cleaned(reactor):
            assert reactor.getReaders() == []

        def test_no_fixture():
            from torsion.internet import reactor
            return task.deferLater(reactor, 0.01, lambda: None)
        """,
        "torsion_reactor = global\n",
    )
    result.assert_outcomes(passed=7, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaves_a_port*",
            "Reactor was unclean after test_it.py::test_leaves_a_port:",
            "Selectables: (stopListening() or loseConnection() them before the "
            "test ends)",
            "<*<class 'torsion.internet.protocol.Factory'> on *>",
        ]
    )
    result.stdout.fnmatch_lines(
        ["FAILED test_it.py::test_stop_only_crashes - RuntimeError: the reactor*"]
    )


def test_fresh_mode_timeout_points_at_the_global_reactor(
    pytester: pytest.Pytester,
) -> None:
    """A fresh-mode test whose work sits on the global reactor times out
    with a hint naming the fixture and the global mode."""
    result = runSubprocess(
        pytester,
        """
        from torsion.internet import task

        def test_uses_global():
            from torsion.internet import reactor
            return task.deferLater(reactor, 0.01, lambda: None)
        """,
        "torsion_timeout = 0.2\n",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   torsion.internet.defer.TimeoutError: test_it.py::test_uses_global "
            "did not finish within 0.2 seconds; it ran on a fresh reactor while "
            "the global torsion.internet.reactor has pending work: take the "
            "`reactor` fixture, or set torsion_reactor = global"
        ]
    )


def test_fresh_reactor_thread_pool_is_stopped(pytester: pytest.Pytester) -> None:
    """The thread pool of a fresh reactor is stopped after its test."""
    result = run(
        pytester,
        """
        import threading
        import conftest
        from torsion.internet import threads

        def poolThreads():
            return sorted(
                t.name for t in threading.enumerate() if "PoolThread" in t.name
            )

        conftest.box["threads"] = poolThreads

        async def test_thread(reactor):
            pool = reactor.getThreadPool()
            value = await threads.deferToThreadPool(reactor, pool, lambda: 3)
            assert value == 3
            assert poolThreads() == ["PoolThread-torsion.internet.reactor-0"]
        """,
        conftest=RECORDER,
    )
    result.assert_outcomes(passed=1)
    assert recorded(pytester) == {"threads": []}


def test_bad_reactor_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """Unknown torsion_reactor values stop pytest with a usage error."""
    result = run(pytester, "def test_x(): pass\n", "torsion_reactor = bogus\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*torsion_reactor must be 'fresh' or 'global', not 'bogus'*"]
    )


def test_bad_timeout_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """A torsion_timeout that is not a number stops pytest with a usage error."""
    result = run(pytester, "def test_x(): pass\n", "torsion_timeout = soon\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*torsion_timeout must be a number of seconds, not 'soon'*"]
    )


# Hygiene checks


def test_pending_delayed_call_is_reported_and_cancelled(
    pytester: pytest.Pytester,
) -> None:
    """A DelayedCall left pending is an error at teardown naming it; it is
    cancelled afterwards."""
    result = run(
        pytester,
        """
        import conftest

        def test_dirty(reactor):
            call = reactor.callLater(30, print, "never")
            conftest.box["cancelled"] = lambda: call.cancelled
        """,
        conftest=RECORDER,
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_dirty*",
            "Reactor was unclean after test_it.py::test_dirty:",
            "DelayedCalls: (cancel them before the test ends)",
            "<DelayedCall 0x* called=0 cancelled=0 print('never')>",
        ]
    )
    result.stdout.fnmatch_lines(
        ["ERROR test_it.py::test_dirty - torsion.testing_plugin.DirtyReactorError: *"]
    )
    assert recorded(pytester) == {"cancelled": 1}


def test_calls_due_now_are_given_a_turn(pytester: pytest.Pytester) -> None:
    """As trial does, two loop turns run before the check, so a zero-delay
    call (a stopped port's close, say) is not a leftover."""
    result = run(
        pytester,
        """
        from torsion.internet import protocol

        def test_soon(reactor):
            reactor.callLater(0, lambda: None)
            factory = protocol.Factory.forProtocol(protocol.Protocol)
            port = reactor.listenTCP(0, factory, interface="127.0.0.1")
            port.stopListening()
        """,
    )
    result.assert_outcomes(passed=1)


def test_listening_port_is_reported_and_closed(pytester: pytest.Pytester) -> None:
    """A port left listening is named in the error and closed afterwards."""
    result = run(
        pytester,
        """
        import conftest
        from torsion.internet import protocol

        def test_listen(reactor):
            factory = protocol.Factory.forProtocol(protocol.Protocol)
            port = reactor.listenTCP(0, factory, interface="127.0.0.1")
            # Read now: once closed, a port has no host (as in Twisted).
            number = port.getHost().port
            conftest.box["number"] = lambda: number
        """,
        conftest=RECORDER,
    )
    result.assert_outcomes(passed=1, errors=1)
    number = recorded(pytester)["number"]
    result.stdout.fnmatch_lines(
        [
            "Reactor was unclean after test_it.py::test_listen:",
            "Selectables: (stopListening() or loseConnection() them before the "
            "test ends)",
            f"<*<class 'torsion.internet.protocol.Factory'> on {number}>",
        ]
    )
    import socket

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", number), timeout=5).close()


def test_open_connections_are_reported(pytester: pytest.Pytester) -> None:
    """Connections still open after the test are named, each side once, and
    their protocols see connectionLost during the cleanup."""
    result = run(
        pytester,
        """
        import conftest
        from torsion.internet import defer, protocol

        class Keep(protocol.Protocol):
            def connectionMade(self):
                self.factory.made.callback(self)

            def connectionLost(self, reason):
                lost.append(type(reason.value).__name__)

        lost = []
        conftest.box["lost"] = lambda: lost

        async def test_connect(reactor):
            server = protocol.Factory.forProtocol(Keep)
            server.made = defer.Deferred()
            port = reactor.listenTCP(0, server, interface="127.0.0.1")
            client = protocol.ClientFactory.forProtocol(Keep)
            client.made = defer.Deferred()
            reactor.connectTCP("127.0.0.1", port.getHost().port, client)
            await defer.gatherResults([server.made, client.made])
            await port.stopListening()
        """,
        conftest=RECORDER,
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "Reactor was unclean after test_it.py::test_connect:",
            "Selectables: (stopListening() or loseConnection() them before the "
            "test ends)",
        ]
    )
    lines = result.stdout.lines
    start = lines.index(
        "Selectables: (stopListening() or loseConnection() them before the test ends)"
    )
    assert lines[start + 3].startswith("=====")
    assert recorded(pytester) == {"lost": ["ConnectionLost", "ConnectionLost"]}


def test_unflushed_logged_error_is_reported(pytester: pytest.Pytester) -> None:
    """An error logged during the test and not flushed is an error at
    teardown with its traceback; flushed errors are fine."""
    result = run(
        pytester,
        """
        from torsion.internet.testing import flushLoggedErrors
        from torsion.python import log

        def boom():
            return 1 / 0

        def test_logged(reactor):
            reactor.callLater(0, boom)

        def test_flushed(reactor):
            try:
                boom()
            except ZeroDivisionError:
                log.err(None, "expected")
            assert len(flushLoggedErrors(ZeroDivisionError)) == 1
        """,
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_logged*",
            "Reactor was unclean after test_it.py::test_logged:",
            "Logged errors: (flush the expected ones with flushLoggedErrors())",
            "Traceback (most recent call last):",
            "*builtins.ZeroDivisionError: division by zero",
        ]
    )
    result.stdout.no_fnmatch_line("*ERROR at teardown of test_flushed*")


def test_errors_logged_by_earlier_tests_are_not_blamed(
    pytester: pytest.Pytester,
) -> None:
    """Only errors logged while a reactor test runs count against it; tests
    that never used the plugin's reactor are not checked."""
    result = run(
        pytester,
        """
        from torsion.internet.testing import _loggedErrors
        from torsion.python import log

        def test_no_reactor():
            log.err(ValueError("outside"))
            assert any(f.check(ValueError) for f in _loggedErrors.errors())

        def test_reactor(reactor):
            pass
        """,
    )
    result.assert_outcomes(passed=2)


def test_allow_dirty_marker(pytester: pytest.Pytester) -> None:
    """@pytest.mark.torsion_allow_dirty turns the checks off (the marker is
    registered: --strict-markers accepts it)."""
    result = run(
        pytester,
        """
        import pytest
        from torsion.python import log

        @pytest.mark.torsion_allow_dirty
        def test_messy(reactor):
            reactor.callLater(30, lambda: None)
            log.err(ValueError("tolerated"))

        def test_next(reactor):
            assert reactor.getDelayedCalls() == []
        """,
        "",
        "--strict-markers",
    )
    result.assert_outcomes(passed=2)
    markers = pytester.runpytest("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.torsion_allow_dirty: do not fail*"])


def test_fixture_cleanup_counts(pytester: pytest.Pytester) -> None:
    """The checks run after the test's fixtures are torn down, so a fixture
    that closes what it opened keeps the test clean."""
    result = run(
        pytester,
        """
        import pytest
        from torsion.internet import protocol

        @pytest.fixture
        def port(reactor):
            factory = protocol.Factory.forProtocol(protocol.Protocol)
            p = reactor.listenTCP(0, factory, interface="127.0.0.1")
            yield p
            p.stopListening()

        def test_uses_port(port, reactor):
            assert port in reactor.getReaders()
        """,
    )
    result.assert_outcomes(passed=1)


# Parity with trial


TRIAL_CASES = """
from twisted.internet import defer, protocol, reactor, task
from twisted.python import log
from twisted.trial import unittest


class Simple(unittest.TestCase):
    def test_ok_deferred(self):
        return task.deferLater(reactor, 0.01, lambda: None)

    async def test_ok_async(self):
        await task.deferLater(reactor, 0.01, lambda: None)

    def test_failing_deferred(self):
        return task.deferLater(reactor, 0.01, lambda: 1 / 0)

    def test_pending_call(self):
        reactor.callLater(30, lambda: None)

    def test_logged_error(self):
        try:
            {}["k"]
        except KeyError:
            log.err()

    def test_flushed_error(self):
        try:
            {}["k"]
        except KeyError:
            log.err()
        self.flushLoggedErrors(KeyError)

    def test_timeout(self):
        return defer.Deferred()

    test_timeout.timeout = 0.2


class Port(unittest.TestCase):
    def test_port_left(self):
        reactor.listenTCP(0, protocol.Factory(), interface="127.0.0.1")
"""

TORSION_CASES = """
from torsion.internet import defer, protocol, task
from torsion.internet.testing import flushLoggedErrors
from torsion.python import log


def test_ok_deferred(reactor):
    return task.deferLater(reactor, 0.01, lambda: None)

async def test_ok_async(reactor):
    await task.deferLater(reactor, 0.01, lambda: None)

def test_failing_deferred(reactor):
    return task.deferLater(reactor, 0.01, lambda: 1 / 0)

def test_pending_call(reactor):
    reactor.callLater(30, lambda: None)

def test_logged_error(reactor):
    try:
        {}["k"]
    except KeyError:
        log.err()

def test_flushed_error(reactor):
    try:
        {}["k"]
    except KeyError:
        log.err()
    flushLoggedErrors(KeyError)

def test_timeout(reactor):
    return defer.Deferred()

def test_port_left(reactor):
    reactor.listenTCP(0, protocol.Factory(), interface="127.0.0.1")
"""

TRIAL_SUMMARY = """
import json
from twisted.trial import reporter, runner

suite = runner.TestLoader().loadByName("trialcases", recurse=True)
result = reporter.TestResult()
suite.run(result)
verdicts = {}
for test, failure in result.errors + result.failures:
    name = test.id().rsplit(".", 1)[-1]
    verdicts.setdefault(name, []).append(failure.type.__name__)
print(json.dumps(verdicts))
"""


def _trialVerdicts(path: Path) -> dict[str, list[str]]:
    (path / "trialcases.py").write_text(TRIAL_CASES)
    (path / "trial_summary.py").write_text(TRIAL_SUMMARY)
    env = dict(os.environ, PYTHONPATH=str(path))
    done = subprocess.run(
        [sys.executable, "trial_summary.py"],
        cwd=path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    reasons = {"DirtyReactorAggregateError": "unclean", "TimeoutError": "timeout"}
    return {
        name: sorted(reasons.get(kind, "error:" + kind) for kind in kinds)
        for name, kinds in raw.items()
    }


def _pluginVerdicts(pytester: pytest.Pytester) -> dict[str, list[str]]:
    pytester.makeini(INI + "torsion_timeout = 0.2\n")
    pytester.makepyfile(torsioncases=TORSION_CASES)
    records = pytester.inline_run("torsioncases.py")
    verdicts: dict[str, list[str]] = {}
    for report in records.getreports("pytest_runtest_logreport"):
        if report.passed or report.skipped:
            continue
        name = report.nodeid.rsplit("::", 1)[-1]
        text = report.longreprtext
        found = verdicts.setdefault(name, [])
        if report.when == "teardown":
            if "DelayedCalls:" in text or "Selectables:" in text:
                found.append("unclean")
            for line in text.splitlines():
                if "builtins." in line:
                    kind = line.split("builtins.", 1)[1].split(":")[0]
                    found.append("error:" + kind)
        else:
            crash = report.longrepr.reprcrash.message.split(":")[0]
            kind = crash.rsplit(".", 1)[-1]
            found.append("timeout" if kind == "TimeoutError" else "error:" + kind)
        found.sort()
    return verdicts


def test_same_verdicts_as_trial(pytester: pytest.Pytester) -> None:
    """The same scenarios under trial (Twisted's reactor) and under the plugin
    (torsion's) flag the same tests for the same reasons."""
    expected = {
        "test_failing_deferred": ["error:ZeroDivisionError"],
        "test_logged_error": ["error:KeyError"],
        "test_pending_call": ["unclean"],
        "test_port_left": ["unclean"],
        "test_timeout": ["timeout"],
    }
    assert _trialVerdicts(pytester.path) == expected
    assert _pluginVerdicts(pytester) == expected
