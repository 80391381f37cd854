"""IRCClient on the busy-channel stream, torsion and Twisted in alternating
rounds of one process, so that both see the same machine speed.

    PYTHONPATH=python .venv/bin/python benches/irc_interleaved.py [ROUNDS]

Each round parses the 100,000 lines of ``test_bench_irc.py`` once on each
(the order alternating); times are CPU seconds of this process.  Printed:
each side's minimum, median and maximum, and the distribution of the
per-round ratio Twisted/torsion.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_bench_irc import IMPLEMENTATIONS, LINES, parseAll  # noqa: E402


def main(rounds: int) -> None:
    runs = {name: parseAll(module) for name, module in IMPLEMENTATIONS.items()}
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    ratios = []
    for index in range(rounds):
        order = sorted(runs, reverse=bool(index % 2))
        took = {}
        for name in order:
            start = time.process_time()
            runs[name]()
            took[name] = time.process_time() - start
            times[name].append(took[name])
        ratios.append(took["twisted"] / took["torsion"])
    for name, spent in times.items():
        median = statistics.median(spent)
        print(
            f"{name}: min {min(spent) * 1e3:.0f} ms, median {median * 1e3:.0f} ms, "
            f"max {max(spent) * 1e3:.0f} ms ({LINES / median:,.0f} lines/s)"
        )
    quartiles = statistics.quantiles(ratios, n=4)
    print(
        f"Twisted/torsion per round: min {min(ratios):.2f}, "
        f"quartiles {quartiles[0]:.2f} / {quartiles[1]:.2f} / {quartiles[2]:.2f}, "
        f"max {max(ratios):.2f} ({rounds} rounds)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 21)
