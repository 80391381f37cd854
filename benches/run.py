"""Runs the echo and proxy load benchmarks and prints one markdown table.

    python benches/run.py [--duration 5] [--only echo,proxy] [--quick]
                          [--servers torsion,twisted,...] [--markdown FILE]
                          [--json FILE] [--rounds N] [--baseline DIR]

Each server runs in its own process pinned to one core (``--server-cpu``,
default 0); ``target/release/loadgen`` runs pinned to another
(``--client-cpu``, default 1) with ``--server-pid`` so that it reports the
server's CPU seconds over the measured window. A fresh server is started
for every (workload, server) pair and stopped afterwards.

Workloads (``--only`` takes these names or the groups ``echo`` and
``proxy``):

    echo-1k          pingpong, 1 KiB, 50 connections
    echo-16k         pingpong, 16 KiB, 50 connections
    stream-64k       stream, 64 KiB chunks, 4 connections (loadgen's default
                     window: at most 1 MiB unechoed per connection)
    stream-64k-deep  the same with 4 MiB unechoed per connection
    churn-64         churn, 64 B, 20 workers (connect, echo, close)
    latency-64       pingpong, 64 B, 1 connection
    echo-1k-unix     pingpong, 1 KiB, 50 connections over a UNIX socket
    proxy-1k         loadgen proxy mode, 1 KiB, 50 connections, through a
                     proxy (pinned like a server) to an echo backend that
                     shares the generator's core

Echo servers: torsion, twisted (default reactor, epoll), asyncio, uvloop
and rloop (each when importable), c (the C epoll server, when gcc can
build it). Proxies: torsion-relay (portforward.ProxyFactory, Rust relay),
torsion-py (the same with dataReceived overridden, so bytes go through
Python), twisted (twisted.protocols.portforward), asyncio, uvloop and rloop
(benches/proxies/asyncio_proxy.py), c (echo_servers/c_proxy.c, when
built). The backend is the C echo server if it was built, else torsion's.

``--baseline DIR`` adds torsion-base (echo), torsion-relay-base and
torsion-py-base (proxy): the same scripts run with ``PYTHONPATH=DIR`` first,
DIR holding an older build of the package (``DIR/torsion`` with its
compiled extension), for before/after comparisons in interleaved rounds.
Every torsion server is checked, through ``/proc/PID/maps``, to have loaded
the extension its name says (the baseline's or not).

The ratio columns divide work per server CPU-second by the same figure for
Twisted (or uvloop) on the same workload, so they are steadier than the
rates on a busy machine. ``--rounds N`` runs every server N times per
workload, taking turns, and prints medians: the README's table.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import median  # noqa: E402  (benches/median.py, beside this file)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
LOADGEN = TARGET / "release" / "loadgen"
C_ECHO = TARGET / "echo_servers" / "c_echo"
C_PROXY = TARGET / "echo_servers" / "c_proxy"


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    group: str
    mode: str
    conns: int
    size: str
    unit: str  # "req", "MB" or "conn": what the rate counts
    window: str | None = None  # stream mode's in-flight limit (loadgen --window)
    unix: bool = False  # over a UNIX stream socket instead of TCP


WORKLOADS = [
    Workload("echo-1k", "echo", "pingpong", 50, "1k", "req"),
    Workload("echo-16k", "echo", "pingpong", 50, "16k", "req"),
    Workload("stream-64k", "echo", "stream", 4, "64k", "MB"),
    Workload("stream-64k-deep", "echo", "stream", 4, "64k", "MB", window="4m"),
    Workload("churn-64", "echo", "churn", 20, "64", "conn"),
    Workload("latency-64", "echo", "pingpong", 1, "64", "req"),
    Workload("echo-1k-unix", "echo", "pingpong", 50, "1k", "req", unix=True),
    Workload("proxy-1k", "proxy", "proxy", 50, "1k", "req"),
]

ECHO_SERVERS = ["torsion", "torsion-base", "twisted", "asyncio", "uvloop", "rloop", "c"]
PROXY_SERVERS = [
    "torsion-relay",
    "torsion-relay-base",
    "torsion-py",
    "torsion-py-base",
    "twisted",
    "asyncio",
    "uvloop",
    "rloop",
    "c",
]


@dataclasses.dataclass
class Result:
    workload: Workload
    server: str
    report: dict[str, Any] | None = None
    notes: list[str] = dataclasses.field(default_factory=list)


# -- environment ----------------------------------------------------------


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _newer_than(paths: list[Path], target: Path) -> bool:
    """Whether ``target`` is missing or older than any of ``paths``."""
    if not target.exists():
        return True
    built = target.stat().st_mtime
    return any(p.stat().st_mtime > built for p in paths if p.exists())


def ensure_loadgen() -> Path:
    """The loadgen binary, built with cargo if missing or out of date."""
    sources = sorted((HERE / "loadgen" / "src").glob("*.rs"))
    sources.append(HERE / "loadgen" / "Cargo.toml")
    if _newer_than(sources, LOADGEN):
        if shutil.which("cargo") is None:
            raise SystemExit(f"{LOADGEN} is missing and cargo is not installed")
        _log("building loadgen (cargo build --release -p loadgen)")
        subprocess.run(
            ["cargo", "build", "--release", "-q", "-p", "loadgen"], cwd=ROOT, check=True
        )
    return LOADGEN


def ensure_c_echo() -> Path | None:
    """The C echo server (and beside it the C forwarder), built with build.sh
    when gcc is there; else None."""
    sources = [HERE / "echo_servers" / f"c_{name}.c" for name in ("echo", "proxy")]
    if not any(_newer_than([source], C_ECHO) for source in sources) and not (
        sources[1].exists() and _newer_than([sources[1]], C_PROXY)
    ):
        return C_ECHO
    if shutil.which(os.environ.get("CC", "gcc")) is None:
        return None
    result = subprocess.run(
        [str(HERE / "echo_servers" / "build.sh"), str(C_ECHO)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        _log(f"C echo server did not build:\n{result.stderr.strip()}")
        return None
    return C_ECHO


def importable(python: str, module: str) -> bool:
    """Whether ``python`` can import ``module``."""
    result = subprocess.run(
        [python, "-c", f"import {module}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return result.returncode == 0


def package_versions(python: str) -> str:
    """Versions of the compared packages as installed for ``python``."""
    code = (
        "import importlib.metadata as m\n"
        "for n in ('torsion', 'twisted', 'uvloop', 'rloop'):\n"
        "    try: print(n, m.version(n))\n"
        "    except m.PackageNotFoundError: pass\n"
    )
    result = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return ", ".join(line for line in result.stdout.splitlines() if line)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def git_commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() or "unknown"


def machine_line(python: str, args: argparse.Namespace, pinned: bool) -> str:
    allowed = len(os.sched_getaffinity(0))
    py = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    placement = (
        f"server on core {args.server_cpu}, loadgen on core {args.client_cpu}"
        if pinned
        else "not pinned (fewer than two usable cores)"
    )
    return (
        f"Machine: {cpu_model()}, {os.cpu_count()} cores ({allowed} usable), "
        f"Linux {platform.release()}, Python {py}, {package_versions(python)}; "
        f"commit {git_commit()}; {args.duration:g} s window after "
        f"{args.warmup:g} s warmup; {placement}."
    )


# -- processes --------------------------------------------------------------


def _pinner(cpu: int | None) -> Callable[[], None] | None:
    if cpu is None:
        return None

    def pin() -> None:
        os.sched_setaffinity(0, {cpu})

    return pin


class Children:
    """Every process started, so that all of them are stopped at the end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        argv: list[str],
        cpu: int | None,
        stderr_path: Path,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        with open(stderr_path, "wb") as err:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                preexec_fn=_pinner(cpu),
                cwd=ROOT,
                env=env,
            )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> int:
        """SIGTERM, then SIGKILL after 5 s; returns the exit status."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc in self.procs:
            self.procs.remove(proc)
        return proc.returncode

    def stop_all(self) -> None:
        for proc in list(self.procs):
            with contextlib.suppress(Exception):
                self.stop(proc)


def wait_for_port(proc: subprocess.Popen[bytes], port_file: Path, limit: float) -> str:
    """What a child wrote to ``port_file`` once listening: its port, or its
    UNIX socket's path; raises if it exits or takes longer than ``limit``
    seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with status {proc.returncode} before listening")
        with contextlib.suppress(OSError):
            text = port_file.read_text().strip()
            if text:
                return text
        time.sleep(0.02)
    raise RuntimeError(f"did not listen within {limit:g} s")


def loaded_torsion(pid: int) -> str | None:
    """The path of the torsion extension that process ``pid`` has mapped,
    which says which build it really imported."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
            path = line.split(maxsplit=5)[-1]
            if "/_torsion." in path and path.endswith(".so"):
                return path
    return None


def _tail(path: Path, lines: int = 6) -> str:
    with contextlib.suppress(OSError):
        text = path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])
    return ""


# -- the runs ---------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, children: Children):
        self.args = args
        self.tmp = tmp
        self.children = children
        self.python = args.python
        self.loadgen = str(ensure_loadgen())
        self.c_echo = ensure_c_echo()
        self.has_uvloop = importable(self.python, "uvloop")
        self.has_rloop = importable(self.python, "rloop")
        self.has_twisted = importable(self.python, "twisted")
        usable = os.sched_getaffinity(0)
        self.pinned = args.server_cpu in usable and args.client_cpu in usable
        self.server_cpu = args.server_cpu if self.pinned else None
        self.client_cpu = args.client_cpu if self.pinned else None
        self.counter = 0

    def echo_argv(
        self, name: str, port_file: Path, unix: Path | None = None
    ) -> list[str] | None:
        """The server's command line: listening on a free TCP port, or on
        the UNIX socket ``unix``, and writing the port file once it does."""
        py = self.python
        echo = HERE / "echo_servers"
        listen = ["0", "--port-file", str(port_file)]
        if unix is not None:
            listen += ["--unix", str(unix)]
        if name in ("torsion", "torsion-base") and self.baseline_available(name):
            return [py, str(HERE / "torsion_echo.py"), *listen]
        if name == "twisted" and self.has_twisted:
            return [py, str(echo / "twisted_echo.py"), *listen]
        if self.asyncio_loop_available(name):
            return [py, str(echo / "asyncio_echo.py"), *listen, "--loop", name]
        if name == "c" and self.c_echo is not None:
            where = ["--unix", str(unix)] if unix else ["0", "127.0.0.1"]
            return [str(self.c_echo), *where, str(port_file)]
        return None

    def proxy_argv(
        self, name: str, backend: int, port_file: Path, stats_file: Path
    ) -> list[str] | None:
        py = self.python
        proxies = HERE / "proxies"
        common = ["0", "--backend-port", str(backend), "--port-file", str(port_file)]
        torsion = name.removesuffix("-base")
        if torsion in ("torsion-relay", "torsion-py") and self.baseline_available(name):
            argv = [py, str(proxies / "torsion_proxy.py"), *common]
            argv += ["--stats-file", str(stats_file)]
            if torsion == "torsion-py":
                argv.append("--no-relay")
            return argv
        if name == "twisted" and self.has_twisted:
            return [py, str(proxies / "twisted_proxy.py"), *common]
        if self.asyncio_loop_available(name):
            return [py, str(proxies / "asyncio_proxy.py"), *common, "--loop", name]
        if name == "c" and self.c_echo is not None and C_PROXY.exists():
            return [str(C_PROXY), "0", str(backend), str(port_file)]
        return None

    def asyncio_loop_available(self, name: str) -> bool:
        """asyncio's own loop, or uvloop / rloop when installed."""
        return (
            name == "asyncio"
            or (name == "uvloop" and self.has_uvloop)
            or (name == "rloop" and self.has_rloop)
        )

    def baseline_available(self, name: str) -> bool:
        """A ``-base`` server runs only when ``--baseline`` gave a build."""
        return not name.endswith("-base") or self.args.baseline is not None

    def env(self, name: str) -> dict[str, str] | None:
        """A ``-base`` server's environment: ``PYTHONPATH`` starts with the
        ``--baseline`` directory, so ``import torsion`` finds that build."""
        if not name.endswith("-base"):
            return None
        env = dict(os.environ)
        paths = [self.args.baseline, env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        return env

    def check_torsion(self, name: str, pid: int) -> None:
        """Raises unless a torsion server runs the build its name says: the
        ``--baseline`` one for ``-base`` names, another one otherwise."""
        if not name.startswith("torsion"):
            return
        loaded = loaded_torsion(pid)
        baseline = self.args.baseline
        from_baseline = (
            loaded is not None
            and baseline is not None
            and Path(loaded).resolve().is_relative_to(Path(baseline).resolve())
        )
        if loaded is None or from_baseline != name.endswith("-base"):
            raise RuntimeError(f"{name} runs the wrong torsion: {loaded}")
        _log(f"  {name} runs {loaded}")

    def available(self, workload: Workload, name: str) -> bool:
        dummy = self.tmp / "probe"
        if workload.group == "proxy":
            return self.proxy_argv(name, 1, dummy, dummy) is not None
        return self.echo_argv(name, dummy) is not None

    def _files(self, label: str) -> tuple[Path, Path, Path, Path]:
        """The port, stderr, stats and UNIX socket paths of one server."""
        self.counter += 1
        stem = self.tmp / f"{self.counter:03d}-{label}"
        return (
            stem.with_suffix(".port"),
            stem.with_suffix(".err"),
            stem.with_suffix(".stats"),
            stem.with_suffix(".sock"),
        )

    def loadgen_run(
        self, workload: Workload, target: str, pid: int
    ) -> tuple[dict | None, str]:
        """Runs loadgen against ``target``, a port or (for a UNIX
        workload) a socket path."""
        argv = [
            self.loadgen,
            "--unix" if workload.unix else "--port", target,
            "--mode", workload.mode,
            "--conns", str(workload.conns),
            "--size", workload.size,
            "--duration", f"{self.args.duration}",
            "--warmup", f"{self.args.warmup}",
            "--server-pid", str(pid),
            "--json",
        ]  # fmt: skip
        if workload.window is not None:
            argv += ["--window", workload.window]
        if self.client_cpu is not None:
            argv += ["--cpu", str(self.client_cpu)]
        limit = self.args.duration + self.args.warmup + 30
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            return None, f"loadgen did not finish within {limit:g} s"
        report = None
        with contextlib.suppress(ValueError):
            report = json.loads(done.stdout)
        if report is None:
            return None, f"loadgen exit {done.returncode}: {done.stderr.strip()}"
        note = "" if done.returncode == 0 else f"loadgen exit {done.returncode}"
        return report, note

    def run_one(self, workload: Workload, name: str) -> Result:
        result = Result(workload, name)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            if workload.group == "proxy":
                server, target, err, stats = self._start_proxy(name, procs)
            else:
                port_file, err, stats, sock = self._files(name)
                argv = self.echo_argv(name, port_file, sock if workload.unix else None)
                assert argv is not None
                server = self.children.start(argv, self.server_cpu, err, self.env(name))
                procs.append(server)
                target = wait_for_port(server, port_file, 15)
            self.check_torsion(name, server.pid)
            report, note = self.loadgen_run(workload, target, server.pid)
            result.report = report
            if note:
                result.notes.append(note)
            if server.poll() is not None:
                result.notes.append(f"server exited with status {server.returncode}")
            for proc in reversed(procs):
                self.children.stop(proc)
            if stats.exists():
                counts = json.loads(stats.read_text())
                result.notes.append(
                    f"relayed {counts['relayed']}/{counts['pairs']} pairs"
                )
            tail = _tail(err)
            if tail:
                result.notes.append(f"server stderr: {tail}")
        except RuntimeError as e:
            result.notes.append(str(e))
        finally:
            for proc in reversed(procs):
                self.children.stop(proc)
        return result

    def _start_proxy(
        self, name: str, procs: list[subprocess.Popen[bytes]]
    ) -> tuple[subprocess.Popen[bytes], str, Path, Path]:
        backend_port_file, backend_err, _, _ = self._files("backend")
        if self.c_echo is not None:
            argv = [str(self.c_echo), "0", "127.0.0.1", str(backend_port_file)]
        else:
            argv = self.echo_argv("torsion", backend_port_file)
            assert argv is not None
        backend = self.children.start(argv, self.client_cpu, backend_err)
        procs.append(backend)
        try:
            backend_port = int(wait_for_port(backend, backend_port_file, 15))
        except RuntimeError as e:
            raise RuntimeError(f"backend {e}: {_tail(backend_err)}") from None
        port_file, err, stats, _ = self._files(name)
        argv = self.proxy_argv(name, backend_port, port_file, stats)
        assert argv is not None
        proxy = self.children.start(argv, self.server_cpu, err, self.env(name))
        procs.append(proxy)
        try:
            port = wait_for_port(proxy, port_file, 15)
        except RuntimeError as e:
            raise RuntimeError(f"proxy {e}: {_tail(err)}") from None
        return proxy, port, err, stats


# -- the table ----------------------------------------------------------------


def _rate(r: Result) -> float | None:
    rep = r.report
    if rep is None or not rep.get("elapsed_s"):
        return None
    unit = r.workload.unit
    if unit == "MB":
        return rep["mb_per_s"]
    if unit == "conn":
        return rep["connections_per_s"]
    return rep["requests_per_s"]


def _efficiency(r: Result) -> float | None:
    rep = r.report
    if rep is None or not rep.get("elapsed_s"):
        return None
    if r.workload.unit == "MB":
        return rep.get("mb_per_server_cpu_s")
    # In churn mode a request is one completed connection.
    return rep.get("requests_per_server_cpu_s")


def _num(x: float | None, unit: str) -> str:
    if x is None:
        return "—"
    if unit == "MB":
        return f"{x:,.1f} {unit}"
    return f"{x:,.0f} {unit}"


def _ratio(x: float | None, ref: float | None) -> str:
    if x is None or not ref:
        return "—"
    return f"{x / ref:.2f}x"


def table(results: list[Result]) -> str:
    head = (
        "| workload | server | rate | per server CPU-s | p50 / p99 µs "
        "| vs Twisted | vs uvloop | gen CPU | errors | notes |"
    )
    lines = [head, "|" + "---|" * 10]
    by_workload: dict[str, dict[str, Result]] = {}
    for r in results:
        by_workload.setdefault(r.workload.name, {})[r.server] = r
    for r in results:
        peers = by_workload[r.workload.name]
        eff = _efficiency(r)
        refs = [peers.get(name) for name in ("twisted", "uvloop")]
        ratios = [_ratio(eff, _efficiency(ref) if ref else None) for ref in refs]
        rep = r.report or {}
        lat = rep.get("latency_us") or {}
        latency = f"{lat['p50']:,.0f} / {lat['p99']:,.0f}" if lat.get("count") else "—"
        unit = r.workload.unit
        util = rep.get("client_cpu_util")
        gen = f"{util:.2f}" if util is not None else "—"
        errors = str(rep["errors"]) if "errors" in rep else "—"
        notes = "; ".join(n.replace("|", "/") for n in r.notes)
        lines.append(
            f"| {r.workload.name} | {r.server} | {_num(_rate(r), unit + '/s')} "
            f"| {_num(eff, unit)} | {latency} | {ratios[0]} | {ratios[1]} "
            f"| {gen} | {errors} | {notes} |"
        )
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--duration", type=float, default=5.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds")
    p.add_argument("--quick", action="store_true", help="1.5 s window, 0.5 s warmup")
    p.add_argument("--only", default="echo,proxy", help="workloads or groups")
    p.add_argument("--servers", default="", help="limit to these server names")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--python", default=sys.executable, help="runs the servers")
    p.add_argument(
        "--baseline",
        metavar="DIR",
        help="a directory holding an older build of the torsion package "
        "(DIR/torsion with its compiled extension): adds the servers "
        "torsion-base, torsion-relay-base and torsion-py-base, which run "
        "the torsion scripts with PYTHONPATH=DIR first",
    )
    p.add_argument("--markdown", help="also write the header and table here")
    p.add_argument("--json", help="write the raw loadgen reports here")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every server this many times per workload, interleaved, "
        "and print the medians (see benches/median.py)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = 1.5, 0.5
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    if args.baseline is not None and not (Path(args.baseline) / "torsion").is_dir():
        p.error(f"--baseline {args.baseline}: no torsion package in it")
    return args


def selected_workloads(only: str) -> list[Workload]:
    wanted = {w.strip() for w in only.split(",") if w.strip()}
    known = {w.name for w in WORKLOADS} | {w.group for w in WORKLOADS}
    unknown = wanted - known
    if unknown:
        raise SystemExit(f"unknown workload(s): {', '.join(sorted(unknown))}")
    return [w for w in WORKLOADS if w.name in wanted or w.group in wanted]


def plan(
    bench: Bench, workloads: list[Workload], servers: str, rounds: int = 1
) -> Iterator[tuple]:
    """(workload, server) pairs: per workload, every available server in
    turn, `rounds` times over, so that a slow spell of a shared machine
    falls on all of them rather than on one."""
    limit = {s.strip() for s in servers.split(",") if s.strip()}
    for w in workloads:
        names = PROXY_SERVERS if w.group == "proxy" else ECHO_SERVERS
        chosen = []
        for name in names:
            if limit and name not in limit:
                continue
            if name.endswith("-base") and bench.args.baseline is None:
                continue
            if bench.available(w, name):
                chosen.append(name)
            else:
                _log(f"skipping {name} for {w.name}: not available")
        for _ in range(rounds):
            for name in chosen:
                yield w, name


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workloads = selected_workloads(args.only)
    # A SIGTERM to the runner still runs the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    children = Children()
    results: list[Result] = []
    try:
        with tempfile.TemporaryDirectory(prefix="torsion-bench-") as tmp:
            bench = Bench(args, Path(tmp), children)
            header = machine_line(args.python, args, bench.pinned)
            _log(header)
            for w, name in list(plan(bench, workloads, args.servers, args.rounds)):
                _log(f"{w.name}: {name} ...")
                result = bench.run_one(w, name)
                rate = _rate(result)
                _log(f"  {_num(rate, w.unit + '/s')} {'; '.join(result.notes)}")
                results.append(result)
    finally:
        children.stop_all()
    raw = [
        {
            "workload": r.workload.name,
            "server": r.server,
            "report": r.report,
            "notes": r.notes,
        }
        for r in results
    ]
    if args.rounds > 1:
        header += f" Medians of {args.rounds} interleaved rounds."
        body = median.table_of_runs(raw)
    else:
        body = table(results)
    text = f"{header}\n\n{body}\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"machine": header, "runs": raw}, indent=1)
        )
    failed = [r for r in results if r.report is None or r.report.get("errors")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
