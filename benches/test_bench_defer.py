"""Deferred micro benchmarks, torsion beside Twisted in the same run.

Run: PYTHONPATH=python .venv/bin/python -m pytest benches/test_bench_defer.py \
     --benchmark-only -p no:timeout

Targets: torsion at least 1.3x Twisted on the 10-step chain and the
DeferredList of 1,000, and no slower on inlineCallbacks with 1,000 yields.
"""

from __future__ import annotations

from typing import Any

import pytest
import torsion.internet.defer as to_defer
import twisted.internet.defer as tw_defer

IMPLS = {"twisted": tw_defer, "torsion": to_defer}


def _inc(r: int) -> int:
    return r + 1


def chain_of_ten(defer: Any):
    """Create a Deferred, add 10 callbacks, fire it."""
    Deferred = defer.Deferred

    def run() -> int:
        d = Deferred()
        for _ in range(10):
            d.addCallback(_inc)
        d.callback(0)
        return d.result

    return run


def deferred_list_of_1000(defer: Any):
    """Build a DeferredList over 1,000 Deferreds and fire them all."""
    Deferred = defer.Deferred
    DeferredList = defer.DeferredList

    def run() -> list[Any]:
        ds = [Deferred() for _ in range(1000)]
        dl = DeferredList(ds)
        for i, d in enumerate(ds):
            d.callback(i)
        return dl.result

    return run


def inline_callbacks_1000(defer: Any):
    """An inlineCallbacks generator yielding 1,000 fired Deferreds."""
    succeed = defer.succeed

    @defer.inlineCallbacks
    def gen():
        total = 0
        for i in range(1000):
            total += yield succeed(i)
        return total

    def run() -> int:
        return gen().result

    return run


def inline_callbacks_1000_pending(defer: Any):
    """An inlineCallbacks generator waiting on 1,000 Deferreds fired later."""
    Deferred = defer.Deferred

    def run() -> int:
        box: list[Any] = []

        @defer.inlineCallbacks
        def gen():
            total = 0
            for _ in range(1000):
                d = Deferred()
                box.append(d)
                total += yield d
            return total

        result = gen()
        i = 0
        while box:
            box.pop().callback(i)
            i += 1
        return result.result

    return run


CASES = {
    "chain10": (chain_of_ten, 10),
    "deferredlist1000": (
        deferred_list_of_1000,
        list(zip([True] * 1000, range(1000), strict=True)),
    ),
    "inlinecallbacks1000": (inline_callbacks_1000, sum(range(1000))),
    "inlinecallbacks1000_pending": (inline_callbacks_1000_pending, sum(range(1000))),
}


@pytest.mark.parametrize("impl", ["twisted", "torsion"])
@pytest.mark.parametrize("case", list(CASES))
def test_bench(benchmark, case, impl):
    """Time one case on one implementation; the result is checked too."""
    factory, expected = CASES[case]
    benchmark.group = case
    assert benchmark(factory(IMPLS[impl])) == expected
