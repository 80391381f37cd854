"""Shared fixtures: a fresh reactor per test, and parity runs on Twisted.

Each test gets its own reactor instance (not the global one), so a test
that stops its reactor does not affect the next. ``flavor`` runs a test
twice: once with torsion's modules and reactor, once with Twisted's.
"""

from __future__ import annotations

import gc
import importlib
import time
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from stream_kinds import KINDS, streamKind


def _torsion_namespace() -> types.SimpleNamespace:
    from torsion.internet._reactor import TorsionReactor

    return types.SimpleNamespace(
        name="torsion",
        reactor=TorsionReactor(),
        protocol=importlib.import_module("torsion.internet.protocol"),
        error=importlib.import_module("torsion.internet.error"),
        defer=importlib.import_module("torsion.internet.defer"),
        interfaces=importlib.import_module("torsion.internet.interfaces"),
        address=importlib.import_module("torsion.internet.address"),
        failure=importlib.import_module("torsion.python.failure"),
        basic=importlib.import_module("torsion.protocols.basic"),
    )


def framework_modules(root: str, **paths: str) -> types.SimpleNamespace:
    """A namespace for ``root`` ("torsion" or "twisted"): ``name`` is
    ``root``, and each keyword is the module ``root.<path>``, e.g.
    ``framework_modules("twisted", defer="internet.defer").defer``."""
    return types.SimpleNamespace(
        name=root,
        **{
            key: importlib.import_module(f"{root}.{path}")
            for key, path in paths.items()
        },
    )


def _twisted_namespace() -> types.SimpleNamespace:
    from twisted.internet.epollreactor import EPollReactor

    return types.SimpleNamespace(
        name="twisted",
        reactor=EPollReactor(),
        protocol=importlib.import_module("twisted.internet.protocol"),
        error=importlib.import_module("twisted.internet.error"),
        defer=importlib.import_module("twisted.internet.defer"),
        interfaces=importlib.import_module("twisted.internet.interfaces"),
        address=importlib.import_module("twisted.internet.address"),
        failure=importlib.import_module("twisted.python.failure"),
        basic=importlib.import_module("twisted.protocols.basic"),
    )


def run_until(
    reactor: Any,
    done: Callable[[], bool],
    timeout: float = 10.0,
) -> None:
    """Run ``reactor`` (no signal handlers) until ``done()`` is true, then
    stop it; fail the test if that takes longer than ``timeout`` seconds."""
    _runUntil(reactor, done, timeout, reactor.stop)


def spin(reactor: Any, done: Callable[[], bool], timeout: float = 10.0) -> None:
    """As run_until, but crash() the reactor instead of stopping it, so that
    it can run again with its connections kept."""
    if not done():
        _runUntil(reactor, done, timeout, reactor.crash)


def wait(reactor: Any, seconds: float) -> None:
    """Run ``reactor`` for ``seconds`` (see spin)."""
    deadline = time.monotonic() + seconds
    spin(reactor, lambda: time.monotonic() >= deadline, timeout=seconds + 10.0)


def _runUntil(
    reactor: Any, done: Callable[[], bool], timeout: float, end: Callable[[], Any]
) -> None:
    timed_out = []

    def check() -> None:
        if done():
            end()
        else:
            reactor.callLater(0.001, check)

    def expire() -> None:
        timed_out.append(True)
        end()

    reactor.callWhenRunning(check)
    guard = reactor.callLater(timeout, expire)
    reactor.run(installSignalHandlers=False)
    if guard.active():
        guard.cancel()
    assert not timed_out, f"condition not reached within {timeout}s"


def _cleanup(ns: types.SimpleNamespace) -> None:
    reactor = ns.reactor
    reason = ns.failure.Failure(ns.error.ConnectionLost())
    for call in reactor.getDelayedCalls():
        if call.active():
            call.cancel()
    for selectable in reactor.removeAll():
        try:
            selectable.connectionLost(reason)
        except Exception:
            pass
    pool = getattr(reactor, "threadpool", None)
    if pool is not None:
        pool.stop()


@pytest.fixture(autouse=True)
def _no_leaked_resources(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test that left a socket or file unclosed. Collecting here
    makes the ResourceWarning of an object caught in a reference cycle
    appear now, named after its test, rather than in whichever later test
    the garbage collector happens to run. What the Twisted half of a
    parity test leaves behind is Twisted's (its reactors and resolvers keep
    objects alive across tests): collected and not held against the test.

    Errors logged (and not flushed) by earlier tests are dropped first, so
    that a test's flushLoggedErrors() sees only its own."""
    from torsion.internet.testing import flushLoggedErrors

    flushLoggedErrors()
    yield
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    callspec = getattr(request.node, "callspec", None)
    if "[twisted" in request.node.name or (
        callspec is not None and callspec.params.get("flavor") == "twisted"
    ):
        return
    assert not leaks, f"left unclosed: {leaks}"


@pytest.fixture
def reactor() -> Iterator[Any]:
    """A fresh torsion reactor, cleaned up after the test."""
    ns = _torsion_namespace()
    yield ns.reactor
    _cleanup(ns)


@pytest.fixture(params=["torsion", "twisted"])
def flavor(request: pytest.FixtureRequest) -> Iterator[types.SimpleNamespace]:
    """The same scenario on torsion and on Twisted: a namespace with a fresh
    ``reactor`` and the matching ``protocol``, ``error``, ``defer``,
    ``interfaces``, ``address``, ``failure`` and ``basic`` modules."""
    ns = _torsion_namespace() if request.param == "torsion" else _twisted_namespace()
    yield ns
    _cleanup(ns)


@pytest.fixture(params=list(KINDS))
def stream_kind(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A kind of stream connection ("tcp" or "unix", see stream_kinds):
    ``listen``, ``connect``, ``rawListener`` and ``rawConnect`` helpers."""
    with streamKind(request.param) as kind:
        yield kind
