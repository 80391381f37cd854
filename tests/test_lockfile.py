"""FilesystemLock, isLocked and DeferredFilesystemLock, each scenario run on
torsion and on Twisted and checked against the values Twisted gives.

A lock held by "another live process" is a symlink to the parent process's
id (alive, and ours to signal); a stale one points at a process that has
exited and been reaped.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import types
from pathlib import Path
from typing import Any

import pytest
from conftest import framework_modules, run_until


@pytest.fixture(params=["twisted", "torsion"])
def impl(request: pytest.FixtureRequest) -> types.SimpleNamespace:
    return framework_modules(
        request.param,
        lockfile="python.lockfile",
        defer="internet.defer",
        task="internet.task",
        error="internet.error",
    )


@pytest.fixture
def name(tmp_path: Path) -> str:
    return str(tmp_path / "the.lock")


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def waiting_lock(impl: Any, name: str) -> tuple[Any, Any]:
    """A Clock, and a DeferredFilesystemLock on it for a lock that another
    live process holds."""
    os.symlink(str(os.getppid()), name)
    clock = impl.task.Clock()
    return clock, impl.defer.DeferredFilesystemLock(name, clock)


def assert_taken(got: list[Any], lock: Any, clock: Any) -> None:
    """The wait fired with None, the lock is held and no retry is left."""
    assert got == [("ok", None)]
    assert lock.locked is True
    assert clock.getDelayedCalls() == []


def outcome(d: Any) -> list[Any]:
    got: list[Any] = []
    d.addCallbacks(
        lambda r: got.append(("ok", r)),
        lambda f: got.append(("fail", f.type.__name__, str(f.value))),
    )
    return got


def test_lock_and_unlock(impl, name):
    lock = impl.lockfile.FilesystemLock(name)
    assert (lock.locked, lock.clean) == (False, None)
    assert lock.lock() is True
    assert (lock.locked, lock.clean) == (True, True)
    assert os.readlink(name) == str(os.getpid())
    # The same process, through another object: the owner is alive.
    assert impl.lockfile.FilesystemLock(name).lock() is False
    assert impl.lockfile.isLocked(name) is True
    lock.unlock()
    assert lock.locked is False
    assert not os.path.lexists(name)
    assert impl.lockfile.isLocked(name) is False
    assert not os.path.lexists(name)


def test_lock_held_by_a_live_process(impl, name):
    os.symlink(str(os.getppid()), name)
    lock = impl.lockfile.FilesystemLock(name)
    assert lock.lock() is False
    assert (lock.locked, lock.clean) == (False, None)
    assert impl.lockfile.isLocked(name) is True
    with pytest.raises(ValueError) as info:
        lock.unlock()
    assert str(info.value) == f"Lock {name!r} not owned by this process"
    assert os.readlink(name) == str(os.getppid())


def test_stale_lock_is_taken_over_and_marked_unclean(impl, name):
    os.symlink(str(dead_pid()), name)
    lock = impl.lockfile.FilesystemLock(name)
    assert lock.lock() is True
    assert (lock.locked, lock.clean) == (True, False)
    assert os.readlink(name) == str(os.getpid())
    lock.unlock()
    assert lock.lock() is True
    assert lock.clean is True


def test_bad_lock_contents_and_paths_raise(impl, name, tmp_path):
    os.symlink("not-a-pid", name)
    with pytest.raises(ValueError):
        impl.lockfile.FilesystemLock(name).lock()
    missing = str(tmp_path / "no-such-dir" / "the.lock")
    with pytest.raises(FileNotFoundError):
        impl.lockfile.FilesystemLock(missing).lock()
    with pytest.raises(FileNotFoundError):
        impl.lockfile.FilesystemLock(missing).unlock()


def test_defer_until_locked_fires_at_once_when_free(impl, name):
    clock = impl.task.Clock()
    lock = impl.defer.DeferredFilesystemLock(name, clock)
    got = outcome(lock.deferUntilLocked())
    assert_taken(got, lock, clock)


def test_defer_until_locked_retries_every_interval(impl, name):
    clock, lock = waiting_lock(impl, name)
    got = outcome(lock.deferUntilLocked())
    clock.advance(1)
    clock.advance(1)
    assert got == []
    assert [c.getTime() for c in clock.getDelayedCalls()] == [3.0]
    second = outcome(lock.deferUntilLocked())
    assert second == [
        (
            "fail",
            "AlreadyTryingToLockError",
            "deferUntilLocked isn't safe for concurrent use.",
        )
    ]
    os.remove(name)
    clock.advance(0.5)
    assert got == []
    clock.advance(0.5)
    assert_taken(got, lock, clock)


def test_defer_until_locked_times_out(impl, name):
    clock, lock = waiting_lock(impl, name)
    got = outcome(lock.deferUntilLocked(timeout=2.5))
    assert sorted(c.getTime() for c in clock.getDelayedCalls()) == [1.0, 2.5]
    clock.advance(2)
    assert got == []
    clock.advance(0.5)
    assert got == [
        ("fail", "TimeoutError", f"Timed out acquiring lock: {name} after 2.500000s")
    ]
    assert clock.getDelayedCalls() == []
    # As in Twisted, the spent timeout call is kept: a later wait gets no
    # timeout of its own and goes on retrying, and when it takes the lock,
    # cancelling that spent call raises AlreadyCalled before the Deferred
    # fires.
    later = outcome(lock.deferUntilLocked(timeout=1))
    clock.advance(5)
    assert later == []
    assert [c.getTime() for c in clock.getDelayedCalls()] == [8.5]
    os.remove(name)
    with pytest.raises(impl.error.AlreadyCalled):
        clock.advance(1)
    assert later == []
    assert lock.locked is True


def test_last_try_at_the_timeout_can_still_succeed(impl, name):
    clock, lock = waiting_lock(impl, name)
    got = outcome(lock.deferUntilLocked(timeout=0.5))
    os.remove(name)
    clock.advance(0.5)
    assert_taken(got, lock, clock)


def test_cancel_stops_the_retries(impl, name):
    clock, lock = waiting_lock(impl, name)
    d = lock.deferUntilLocked(timeout=10)
    got = outcome(d)
    d.cancel()
    assert got == [("fail", "CancelledError", "")]
    assert clock.getDelayedCalls() == []
    # Cancelling when the lock has come free takes it instead.
    os.remove(name)
    os.symlink(str(os.getppid()), name)
    d = lock.deferUntilLocked()
    got = outcome(d)
    os.remove(name)
    d.cancel()
    assert got == [("ok", None)]
    assert lock.locked is True


def test_waits_on_a_real_reactor(flavor, name):
    lockfile = importlib.import_module(f"{flavor.name}.python.lockfile")
    os.symlink(str(os.getppid()), name)
    lock = flavor.defer.DeferredFilesystemLock(name, flavor.reactor)
    lock._interval = 0.01
    got = outcome(lock.deferUntilLocked(timeout=5))
    flavor.reactor.callLater(0.05, os.remove, name)
    run_until(flavor.reactor, lambda: bool(got))
    assert got == [("ok", None)]
    assert lockfile.isLocked(name) is True
    lock.unlock()
    assert lockfile.isLocked(name) is False


def test_default_scheduler_is_the_global_reactor(name):
    """(torsion only: importing Twisted's global reactor would install it
    for the rest of the run.)"""
    from torsion.internet import defer, reactor

    assert defer.DeferredFilesystemLock(name)._scheduler is reactor


def test_exported_from_defer(impl):
    cls = impl.defer.DeferredFilesystemLock
    assert cls.__module__ == f"{impl.name}.internet.defer"
    assert issubclass(cls, impl.lockfile.FilesystemLock)
    assert "DeferredFilesystemLock" in impl.defer.__all__
    assert impl.lockfile.__all__ == ["FilesystemLock", "isLocked"]
