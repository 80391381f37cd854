"""LineReceiver parsing speed, torsion beside Twisted, for 1,000, 10,000 and
100,000 short lines delivered in one chunk.

Run with:  PYTHONPATH=python .venv/bin/python -m pytest benches/test_bench_linereceiver.py
The benchmarks of one size share a group, so the table puts the two
implementations side by side; ``test_speedup_over_twisted`` checks the
targets (faster at every size, at least 10x at 100,000 lines).
"""

from __future__ import annotations

import timeit
from types import ModuleType
from typing import Any

import pytest
from torsion.protocols import basic as torsion_basic
from twisted.protocols import basic as twisted_basic

IMPLEMENTATIONS = {"twisted": twisted_basic, "torsion": torsion_basic}
SIZES = [1_000, 10_000, 100_000]


class _Transport:
    """The least a LineReceiver reads from its transport."""

    disconnecting = False


def _chunk(count: int) -> bytes:
    return b"".join(b"line %d\r\n" % i for i in range(count))


def _receiver(basic: ModuleType) -> Any:
    class Counter(basic.LineReceiver):  # type: ignore[misc, name-defined]
        count = 0

        def lineReceived(self, line: bytes) -> None:
            self.count += 1

    proto = Counter()
    proto.makeConnection(_Transport())
    return proto


def _parse(proto: Any, data: bytes) -> int:
    proto.dataReceived(data)
    return proto.count


@pytest.mark.parametrize("count", SIZES)
@pytest.mark.parametrize("name", list(IMPLEMENTATIONS))
def test_lines_in_one_chunk(benchmark: Any, name: str, count: int) -> None:
    """Parse ``count`` short lines delivered in a single dataReceived."""
    basic = IMPLEMENTATIONS[name]
    data = _chunk(count)
    benchmark.group = f"{count} lines in one chunk"
    benchmark.extra_info["lines"] = count
    rounds = 3 if (name == "twisted" and count == 100_000) else max(5, 200_000 // count)
    result = benchmark.pedantic(
        _parse,
        setup=lambda: ((_receiver(basic), data), {}),
        rounds=rounds,
        iterations=1,
    )
    assert result == count


def _best(basic: ModuleType, data: bytes, repeat: int) -> float:
    timer = timeit.Timer(
        "proto.dataReceived(data)",
        setup="proto = make(basic)",
        globals={"make": _receiver, "basic": basic, "data": data},
    )
    return min(timer.repeat(repeat=repeat, number=1))


def test_speedup_over_twisted() -> None:
    """torsion is faster than Twisted at every size and at least 10x faster
    at 100,000 lines; its time per line stays flat as the chunk grows."""
    ratios = {}
    perLine = {}
    for count in SIZES:
        data = _chunk(count)
        repeat = 3 if count == 100_000 else 15
        twisted = _best(twisted_basic, data, repeat)
        torsion = _best(torsion_basic, data, max(repeat, 5))
        ratios[count] = twisted / torsion
        perLine[count] = torsion / count
    print({count: f"{ratio:.1f}x" for count, ratio in ratios.items()})
    assert all(ratio > 1 for ratio in ratios.values()), ratios
    assert ratios[100_000] >= 10, ratios
    assert perLine[100_000] < 3 * perLine[1_000], perLine
