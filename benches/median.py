"""Medians of several runs of benches/run.py, as one markdown table.

    for i in 1 2 3; do python benches/run.py --json run$i.json; done
    python benches/median.py run1.json run2.json run3.json

Each cell is the median over the runs of that (workload, server); the ratio
columns divide medians of work per server CPU-second; the last column lists
every run's figure, since on a shared machine they can differ a lot. When
the runs include run.py's ``-base`` servers (``--baseline``), a "vs base"
column divides each server's median by its ``-base`` twin's.
``benches/run.py --rounds N`` prints the same table for its own rounds.
"""

from __future__ import annotations

import json
import statistics
import sys
from typing import Any


def _figures(workload: str, report: dict[str, Any]) -> tuple[float, float]:
    """(work per server CPU-second, rate) in the workload's own unit."""
    if workload.startswith("stream"):
        return report["mb_per_server_cpu_s"], report["mb_per_s"]
    if workload.startswith("churn"):
        return report["requests_per_server_cpu_s"], report["connections_per_s"]
    return report["requests_per_server_cpu_s"], report["requests_per_s"]


def _median(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _units(workload: str) -> tuple[str, str]:
    if workload.startswith("stream"):
        return "MB/s", "MB"
    if workload.startswith("churn"):
        return "conn/s", "conn"
    return "req/s", "req"


def table(paths: list[str]) -> str:
    runs: list[dict[str, Any]] = []
    for path in paths:
        with open(path) as f:
            runs.extend(json.load(f)["runs"])
    return table_of_runs(runs)


def table_of_runs(runs: list[dict[str, Any]]) -> str:
    """The median table of run.py's JSON "runs" entries (any number of
    rounds of any workloads)."""
    cells: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for run in runs:
        report = run["report"]
        if report is None:
            continue
        key = (run["workload"], run["server"])
        eff, rate = _figures(run["workload"], report)
        latency = report.get("latency_us") or {}
        cells.setdefault(key, []).append(
            (eff, rate, latency.get("p50"), latency.get("p99"))
        )
    # With run.py --baseline, each torsion row is also divided by its
    # "-base" twin: the before/after figure.
    based = any(server.endswith("-base") for _, server in cells)
    head = "| workload | server | rate | per server CPU-s | p50 / p99 µs "
    head += (
        "| vs Twisted | vs uvloop | vs base " if based else "| vs Twisted | vs uvloop "
    )
    lines = [head + "| runs (per CPU-s) |", "|---" * (9 if based else 8) + "|"]
    for (workload, server), values in cells.items():
        eff = _median([v[0] for v in values])
        rate = _median([v[1] for v in values])
        p50 = _median([v[2] for v in values])
        p99 = _median([v[3] for v in values])
        ratios = []
        for peer in ["twisted", "uvloop"] + ([f"{server}-base"] if based else []):
            peer_values = cells.get((workload, peer))
            peer_eff = _median([v[0] for v in peer_values]) if peer_values else None
            ratios.append(f"{eff / peer_eff:.2f}x" if eff and peer_eff else "—")
        unit, eff_unit = _units(workload)
        latency = f"{p50:,.1f} / {p99:,.1f}" if p50 and p99 else "—"
        c_values = cells.get((workload, "c"))
        c_p50 = _median([v[2] for v in c_values]) if c_values else None
        if p50 and c_p50 and server != "c":
            # The latency target is set against the C server's p50.
            latency += f" (p50 {p50 / c_p50:.2f}x C)"
        if workload.startswith("stream"):
            each = ", ".join(f"{v[0]:,.0f}" for v in values)
        else:
            each = ", ".join(f"{v[0] / 1000:.1f}k" for v in values)
        lines.append(
            f"| {workload} | {server} | {rate:,.0f} {unit} | {eff:,.0f} {eff_unit} "
            f"| {latency} | {' | '.join(ratios)} | {each} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    print(table(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
