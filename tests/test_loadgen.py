"""Runs the Rust load generator (benches/loadgen) against small echo servers.

The generator is built with ``cargo build --release -p loadgen`` when its
binary is missing or older than its sources; the tests are skipped with a
reason when neither the binary nor cargo is available.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOADGEN_SRC = ROOT / "benches" / "loadgen"
ECHO_DIR = ROOT / "benches" / "echo_servers"
TORSION_ECHO = ROOT / "benches" / "torsion_echo.py"

# A cold release build (fat LTO) on a shared two-core machine can take a while.
pytestmark = pytest.mark.timeout(300)

REPORT_KEYS = {
    "tool",
    "mode",
    "host",
    "port",
    "unix",
    "conns",
    "size",
    "window",
    "duration_s",
    "warmup_s",
    "elapsed_s",
    "requests",
    "requests_per_s",
    "connections",
    "connections_per_s",
    "bytes_sent",
    "bytes_received",
    "mb_per_s",
    "latency_us",
    "verify_errors",
    "disconnects",
    "connect_errors",
    "errors",
    "conns_open",
    "cpu",
    "server_pid",
    "server_cpu_s",
    "requests_per_server_cpu_s",
    "mb_per_server_cpu_s",
    "client_cpu_s",
    "client_cpu_util",
}
LATENCY_KEYS = {"count", "min", "p50", "p90", "p99", "p999", "max", "mean"}

# The test's own echo server. argv[1] picks its behaviour: "echo" returns
# every byte, "corrupt" flips the first byte of every chunk, "close" hangs up
# on the first chunk, "batch" holds what it reads until it has 2 MiB, then
# returns all of it. It listens on TCP, or on the UNIX path in argv[2], prints
# its port (0 for a UNIX path), then serves until terminated.
ECHO_SERVER = r"""
import asyncio, sys

MODE = sys.argv[1]
BATCH = 2 << 20

class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.held = bytearray()

    def data_received(self, data):
        if MODE == "close":
            self.transport.close()
        elif MODE == "corrupt":
            self.transport.write(bytes([data[0] ^ 0xFF]) + data[1:])
        elif MODE == "batch":
            self.held += data
            if len(self.held) >= BATCH:
                self.transport.write(bytes(self.held))
                self.held.clear()
        else:
            self.transport.write(data)

async def main():
    loop = asyncio.get_running_loop()
    if len(sys.argv) > 2:
        await loop.create_unix_server(Echo, sys.argv[2])
        print(0, flush=True)
    else:
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _target_dir() -> Path:
    """Where cargo puts build outputs for this workspace."""
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def _newest_source_mtime() -> float:
    """Latest modification time among the generator's sources."""
    files = [LOADGEN_SRC / "Cargo.toml", *LOADGEN_SRC.glob("src/*.rs")]
    return max(f.stat().st_mtime for f in files)


@pytest.fixture(scope="module")
def loadgen() -> Path:
    """Path to an up-to-date release build of the generator."""
    binary = _target_dir() / "release" / "loadgen"
    fresh = binary.exists() and binary.stat().st_mtime >= _newest_source_mtime()
    if fresh:
        return binary
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed and no fresh target/release/loadgen exists")
    build = subprocess.run(
        [cargo, "build", "--release", "-p", "loadgen"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    assert binary.exists()
    return binary


def _stop(proc: subprocess.Popen[str]) -> str:
    """Terminate a server process (killing it if it lingers); returns its stdout."""
    if proc.poll() is None:
        proc.terminate()
    try:
        out, _ = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=5)
    return out or ""


Server = tuple[int, int]
BenchServer = tuple[int | str, int]


@pytest.fixture
def echo_server() -> Iterator[Callable[[str], Server]]:
    """Starts the test's asyncio echo server; returns (port, pid)."""
    procs: list[subprocess.Popen[str]] = []

    def start(mode: str = "echo", *unix_path: str) -> Server:
        proc = subprocess.Popen(
            [sys.executable, "-c", ECHO_SERVER, mode, *unix_path],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip().isdigit(), f"echo server did not start: {line!r}"
        return int(line), proc.pid

    yield start
    for p in procs:
        _stop(p)


def _wait_for_port_file(path: Path, proc: subprocess.Popen[str]) -> int | str:
    """Wait (bounded) for a server to write its port file; returns the port,
    or the UNIX socket path the server wrote there instead."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if path.exists():
            text = path.read_text().strip()
            return int(text) if text.isdigit() else text
        assert proc.poll() is None, f"server exited with {proc.returncode}"
        time.sleep(0.05)
    raise AssertionError(f"no port file {path} after 20 s")


@pytest.fixture
def bench_server(tmp_path: Path) -> Iterator[Callable[[list[str]], BenchServer]]:
    """Starts one of benches/echo_servers with a port file; returns (port or
    UNIX path, pid)."""
    procs: list[subprocess.Popen[str]] = []

    def start(argv: list[str]) -> BenchServer:
        port_file = tmp_path / f"port{len(procs)}"
        proc = subprocess.Popen(
            [*argv, str(port_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return _wait_for_port_file(port_file, proc), proc.pid

    yield start
    for p in procs:
        assert _stop(p) == "", "echo servers must print nothing"


def _run(
    binary: Path, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Runs the generator and returns the finished process."""
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=timeout
    )


def _report(binary: Path, port: int | str, *args: str, expect_rc: int = 0) -> dict:
    """Runs the generator with --json for 1 s and returns its parsed report;
    a str ``port`` is a UNIX socket path."""
    target = ("--unix", port) if isinstance(port, str) else ("--port", str(port))
    proc = _run(
        binary,
        *target,
        "--duration",
        "1",
        "--warmup",
        "0.2",
        "--json",
        *args,
    )
    assert proc.returncode == expect_rc, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    report = json.loads(lines[0])
    assert set(report) == REPORT_KEYS
    assert set(report["latency_us"]) == LATENCY_KEYS
    assert report["tool"] == "loadgen"
    assert report["host"] == "127.0.0.1"
    if isinstance(port, str):
        assert (report["port"], report["unix"]) == (0, port)
    else:
        assert (report["port"], report["unix"]) == (port, None)
    assert report["errors"] == (
        report["verify_errors"] + report["disconnects"] + report["connect_errors"]
    )
    return report


def _check_window(r: dict) -> None:
    """The measured window lasted as long as asked (plus one loop turn)."""
    assert r["duration_s"] == 1.0
    assert r["warmup_s"] == 0.2
    assert 1.0 <= r["elapsed_s"] < 1.5


def _check_latency(r: dict, count: int) -> None:
    """Latency percentiles are ordered and cover `count` observations."""
    lat = r["latency_us"]
    assert lat["count"] == count
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"]
    assert lat["p99"] <= lat["p999"] <= lat["max"]
    assert lat["min"] <= lat["mean"] <= lat["max"]


def test_pingpong_reports_requests_latency_and_server_cpu(loadgen, echo_server):
    """pingpong counts echoed messages, their latencies and the server's CPU."""
    port, pid = echo_server()
    r = _report(
        loadgen,
        port,
        "--mode",
        "pingpong",
        "--conns",
        "8",
        "--size",
        "1k",
        "--server-pid",
        str(pid),
    )
    assert (r["mode"], r["conns"], r["size"], r["server_pid"]) == (
        "pingpong",
        8,
        1024,
        pid,
    )
    _check_window(r)
    assert r["errors"] == 0
    assert r["conns_open"] == 8
    assert r["requests"] > 100
    _check_latency(r, r["requests"])
    assert r["requests_per_s"] == pytest.approx(
        r["requests"] / r["elapsed_s"], rel=0.01
    )
    # Bytes in the window differ from whole messages by at most one message
    # in flight per connection at each edge.
    assert abs(r["bytes_received"] - r["requests"] * 1024) <= 8 * 1024
    assert abs(r["bytes_sent"] - r["bytes_received"]) <= 8 * 1024
    assert r["mb_per_s"] == pytest.approx(
        r["bytes_received"] / 1e6 / r["elapsed_s"], rel=0.01, abs=0.002
    )
    assert (r["connections"], r["connections_per_s"]) == (0, 0.0)
    assert 0 < r["server_cpu_s"] < 2.0
    assert r["requests_per_server_cpu_s"] == pytest.approx(
        r["requests"] / r["server_cpu_s"], rel=0.01
    )
    assert r["client_cpu_s"] >= 0.0
    assert r["cpu"] is None


def test_stream_reports_throughput(loadgen, echo_server):
    """stream reports MB/s received; chunks count as requests, no latencies."""
    port, _ = echo_server()
    r = _report(loadgen, port, "--mode", "stream", "--conns", "4", "--size", "16k")
    assert r["mode"] == "stream"
    _check_window(r)
    assert r["errors"] == 0
    assert r["conns_open"] == 4
    assert r["bytes_received"] > 1_000_000
    assert r["requests"] == r["bytes_received"] // 16384
    assert r["mb_per_s"] == pytest.approx(
        r["bytes_received"] / 1e6 / r["elapsed_s"], rel=0.01
    )
    assert r["latency_us"]["count"] == 0
    assert r["window"] == 1 << 20
    assert r["server_cpu_s"] is None
    assert r["requests_per_server_cpu_s"] is None
    assert r["mb_per_server_cpu_s"] is None


def test_window_sets_how_much_a_stream_keeps_unechoed(loadgen, echo_server):
    """A server that answers only once it holds 2 MiB stalls a stream under
    the default 1 MiB window and is kept busy by a 4 MiB one."""
    port, _ = echo_server("batch")
    stalled = _report(
        loadgen, port, "--mode", "stream", "--conns", "2", "--size", "64k"
    )
    assert stalled["window"] == 1 << 20
    assert (stalled["bytes_received"], stalled["errors"]) == (0, 0)
    deep = _report(
        loadgen,
        port,
        "--mode",
        "stream",
        "--conns",
        "2",
        "--size",
        "64k",
        "--window",
        "4m",
    )
    assert deep["window"] == 4 << 20
    assert deep["errors"] == 0
    assert deep["bytes_received"] >= 2 << 20


@pytest.mark.parametrize("mode", ["pingpong", "stream", "churn"])
def test_every_mode_runs_over_a_unix_socket(loadgen, echo_server, tmp_path, mode):
    """--unix PATH replaces --port: the same traffic over a UNIX socket."""
    path = str(tmp_path / "echo.sock")
    echo_server("echo", path)
    r = _report(loadgen, path, "--mode", mode, "--conns", "4", "--size", "4k")
    _check_window(r)
    assert r["errors"] == 0
    assert r["bytes_received"] > 100_000
    assert r["window"] == (1 << 20 if mode == "stream" else None)


@pytest.mark.parametrize(
    ("mode", "size"),
    [("stream", "1"), ("pingpong", "256k"), ("churn", "256k")],
)
def test_extreme_sizes_stay_correct_and_on_time(loadgen, echo_server, mode, size):
    """Tiny chunks cannot stall the loop past the window; big messages are
    split over many reads and writes and still verify."""
    port, _ = echo_server()
    r = _report(loadgen, port, "--mode", mode, "--conns", "2", "--size", size)
    _check_window(r)
    assert r["errors"] == 0
    assert r["bytes_received"] > 0
    if mode != "stream":
        assert r["requests"] > 0
        assert abs(r["bytes_received"] - r["requests"] * 262144) <= 2 * 262144


def test_churn_reports_connections(loadgen, echo_server):
    """churn counts whole connect/echo/close cycles as connections."""
    port, pid = echo_server()
    r = _report(
        loadgen,
        port,
        "--mode",
        "churn",
        "--conns",
        "4",
        "--size",
        "100",
        "--server-pid",
        str(pid),
    )
    assert r["mode"] == "churn"
    _check_window(r)
    assert r["errors"] == 0
    assert r["connections"] > 50
    assert r["requests"] == r["connections"]
    _check_latency(r, r["connections"])
    assert r["connections_per_s"] == pytest.approx(
        r["connections"] / r["elapsed_s"], rel=0.01
    )
    assert r["server_cpu_s"] > 0
    assert r["requests_per_server_cpu_s"] == pytest.approx(
        r["connections"] / r["server_cpu_s"], rel=0.01
    )


def test_proxy_is_pingpong_with_its_own_label(loadgen, echo_server):
    """proxy mode runs pingpong traffic and labels the report 'proxy'."""
    port, _ = echo_server()
    r = _report(loadgen, port, "--mode", "proxy", "--conns", "2", "--size", "10")
    assert r["mode"] == "proxy"
    assert r["errors"] == 0
    assert r["requests"] > 100
    _check_latency(r, r["requests"])


def test_text_output_by_default(loadgen, echo_server):
    """Without --json the report is a few readable lines."""
    port, _ = echo_server()
    proc = _run(
        loadgen,
        "--port",
        str(port),
        "--duration",
        "0.3",
        "--warmup",
        "0",
        "--conns",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"loadgen pingpong 127.0.0.1:{port} conns=2 size=1024")
    assert lines[1].strip().startswith("requests/s")
    assert "errors         verify 0  disconnects 0  connect 0" in proc.stdout


def test_corrupted_echo_is_detected(loadgen, echo_server):
    """A server that alters bytes is caught: verify_errors and exit status 3."""
    port, _ = echo_server("corrupt")
    r = _report(loadgen, port, "--conns", "2", "--size", "64", expect_rc=3)
    assert r["verify_errors"] > 0
    assert r["disconnects"] == 0


def test_server_hanging_up_ends_the_run_early(loadgen, echo_server):
    """When every connection is closed by the server the run stops at once."""
    port, _ = echo_server("close")
    started = time.monotonic()
    proc = _run(
        loadgen, "--port", str(port), "--conns", "4", "--duration", "20", "--json"
    )
    assert time.monotonic() - started < 10
    assert proc.returncode == 3, proc.stderr
    r = json.loads(proc.stdout)
    assert (r["disconnects"], r["conns_open"], r["requests"]) == (4, 0, 0)
    assert r["elapsed_s"] == 0.0


def test_cannot_connect_is_a_clear_failure(loadgen):
    """A port with no listener gives exit status 1 and a message naming it."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        for mode in ("pingpong", "churn"):
            proc = _run(loadgen, "--port", str(port), "--mode", mode, "--duration", "1")
            assert proc.returncode == 1
            assert proc.stdout == ""
            assert proc.stderr.startswith(
                f"loadgen: cannot connect to 127.0.0.1:{port}"
            )


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.1", "8.8.8.8", "0.0.0.0"])
def test_non_loopback_hosts_are_refused(loadgen, host):
    """Only loopback targets are allowed; anything else is a usage error."""
    proc = _run(loadgen, "--host", host, "--port", "80")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"loadgen: refusing host {host}: only loopback")


def test_usage_errors(loadgen):
    """Bad options exit with status 2 and say what was wrong."""
    cases = {
        ("--mode", "udp", "--port", "1"): "unknown mode",
        ("--conns", "1"): "one of --port and --unix is required",
        ("--port", "1", "--window", "0"): "--window",
        ("--port", "1", "--size", "0"): "--size",
        ("--port", "1", "--duration", "0"): "--duration",
    }
    for argv, text in cases.items():
        proc = _run(loadgen, *argv)
        assert proc.returncode == 2, argv
        assert text in proc.stderr, (argv, proc.stderr)
    helped = _run(loadgen, "--help")
    assert helped.returncode == 0
    assert helped.stdout.startswith("usage: loadgen (--port P | --unix PATH)")


def test_pinning_to_a_core(loadgen, echo_server):
    """--cpu pins the generator; a core that does not exist is an error."""
    port, _ = echo_server()
    r = _report(loadgen, port, "--conns", "2", "--cpu", "0")
    assert r["cpu"] == 0
    assert r["errors"] == 0
    bad = _run(loadgen, "--port", str(port), "--cpu", "1000")
    assert bad.returncode == 1
    assert bad.stderr.startswith("loadgen: cannot pin to core 1000")


def test_missing_server_pid_is_refused(loadgen, echo_server):
    """--server-pid must name a live process before any traffic is sent."""
    port, _ = echo_server()
    proc = _run(loadgen, "--port", str(port), "--server-pid", "4194304")
    assert proc.returncode == 1
    assert "cannot read /proc/4194304/stat" in proc.stderr


def _c_echo(tmp_path: Path) -> list[str]:
    """Builds the C echo server into tmp_path; skips without a C compiler."""
    if shutil.which(os.environ.get("CC", "gcc")) is None:
        pytest.skip("no C compiler to build benches/echo_servers/c_echo.c")
    out = tmp_path / "c_echo"
    subprocess.run(
        ["sh", str(ECHO_DIR / "build.sh"), str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return [str(out), "0", "127.0.0.1"]


def _uvloop_available() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def _bench_argv(server: str, tmp_path: Path, unix: str | None) -> list[str]:
    """The command line of one benchmark echo server, listening on a free
    port or on the UNIX path ``unix``, up to its port file argument."""
    if server == "c":
        c_echo = _c_echo(tmp_path)
        return [c_echo[0], "--unix", unix] if unix else c_echo
    if server == "uvloop" and not _uvloop_available():
        pytest.skip("uvloop is not installed")
    scripts = {"twisted": ECHO_DIR / "twisted_echo.py", "torsion": TORSION_ECHO}
    script = scripts.get(server, ECHO_DIR / "asyncio_echo.py")
    argv = [sys.executable, str(script), "0"]
    if server in ("asyncio", "uvloop"):
        argv += ["--loop", server]
    if unix:
        argv += ["--unix", unix]
    return [*argv, "--port-file"]


@pytest.mark.parametrize("unix", [False, True], ids=["tcp", "unix"])
@pytest.mark.parametrize("server", ["asyncio", "uvloop", "twisted", "c", "torsion"])
def test_bench_echo_servers_echo_faithfully(
    loadgen, bench_server, tmp_path, server, unix
):
    """Each comparison echo server passes a pingpong and a stream run
    cleanly, over TCP and over a UNIX socket."""
    path = str(tmp_path / "echo.sock") if unix else None
    target, pid = bench_server(_bench_argv(server, tmp_path, path))
    assert target == (path or target)
    r = _report(loadgen, target, "--conns", "16", "--server-pid", str(pid))
    assert r["errors"] == 0
    assert r["requests"] > 100
    assert r["server_cpu_s"] > 0
    s = _report(loadgen, target, "--mode", "stream", "--conns", "4", "--size", "64k")
    assert s["errors"] == 0
    assert s["bytes_received"] > 1_000_000
