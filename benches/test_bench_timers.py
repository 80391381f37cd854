"""Timer throughput, torsion's reactor beside Twisted's epoll reactor.

Run: .venv/bin/python -m pytest benches/test_bench_timers.py -o timeout=0 \
     --benchmark-only

Each round builds a fresh reactor, schedules 200,000 callLater timers at
delays spread uniformly over 0-50 ms (the same fixed-seed delays for both),
cancels every 4th one, then runs the reactor until the other 150,000 have
fired. The time covers scheduling, cancelling and firing; 200,000 divided by
it is the "timers handled per second" in ``extra_info``. Every round checks
that exactly the uncancelled timers fired, each once.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from typing import Any

import pytest

COUNT = 200_000
MAX_DELAY = 0.050
SEED = 20240605
_rng = random.Random(SEED)
DELAYS = [_rng.uniform(0.0, MAX_DELAY) for _ in range(COUNT)]
EXPECTED = [i for i in range(COUNT) if i % 4 != 0]
GUARD_SECONDS = 60.0


def _torsion_reactor() -> Any:
    from torsion.internet._reactor import TorsionReactor

    return TorsionReactor()


def _twisted_reactor() -> Any:
    from twisted.internet.epollreactor import EPollReactor

    return EPollReactor()


REACTORS: dict[str, Callable[[], Any]] = {
    "twisted": _twisted_reactor,
    "torsion": _torsion_reactor,
}


class _AsyncioAsReactor:
    """The three reactor methods a round uses, on an asyncio event loop
    (asyncio's own, uvloop or rloop)."""

    def __init__(self, loop: Any) -> None:
        self.loop = loop
        self.callLater = loop.call_later
        self.stop = loop.stop

    def run(self, installSignalHandlers: bool = False) -> None:
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()


def _asyncio_loop(kind: str) -> Callable[[], Any]:
    def make() -> Any:
        import asyncio

        module = asyncio if kind == "asyncio" else importlib.import_module(kind)
        return _AsyncioAsReactor(module.new_event_loop())

    return make


REACTORS.update({k: _asyncio_loop(k) for k in ("asyncio", "uvloop", "rloop")})


def schedule_cancel_fire(reactor: Any) -> list[int]:
    """Schedule every timer, cancel each 4th, run until the rest fired;
    returns the indexes in the order they fired."""
    fired: list[int] = []
    append = fired.append
    target = len(EXPECTED)

    def fire(i: int) -> None:
        append(i)
        if len(fired) == target:
            reactor.stop()

    call_later = reactor.callLater
    calls = [call_later(delay, fire, i) for i, delay in enumerate(DELAYS)]
    for call in calls[::4]:
        call.cancel()
    guard = reactor.callLater(GUARD_SECONDS, reactor.stop)
    reactor.run(installSignalHandlers=False)
    if len(fired) == target:
        guard.cancel()
    return fired


# rloop 0.5's close() leaves its wake-up socketpair to the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("impl", list(REACTORS))
def test_timers(benchmark: Any, impl: str) -> None:
    """200,000 timers, a quarter cancelled, on a fresh reactor (or asyncio
    loop: asyncio's own, uvloop, rloop, each skipped when not installed) per
    round."""
    if impl in ("uvloop", "rloop"):
        pytest.importorskip(impl)
    make = REACTORS[impl]
    benchmark.group = "200,000 timers, every 4th cancelled"
    fired = benchmark.pedantic(
        schedule_cancel_fire,
        setup=lambda: ((make(),), {}),
        rounds=5,
        iterations=1,
        warmup_rounds=1,
    )
    assert len(fired) == len(EXPECTED)
    assert sorted(fired) == EXPECTED
    stats = benchmark.stats.stats
    benchmark.extra_info["timers_per_s_best"] = round(COUNT / stats.min)
    benchmark.extra_info["timers_per_s_mean"] = round(COUNT / stats.mean)
