"""SIGINT and SIGTERM against a reactor running in a child process: a
graceful stop with shutdown triggers and exit code 0, noticed promptly while
the loop is idle; the same script on Twisted's EPollReactor for comparison;
and what happens with installSignalHandlers=False."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

PYTHON_DIR = str(Path(__file__).resolve().parent.parent / "python")

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, time
    flavor, install, mode = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
    if flavor == "torsion":
        from torsion.internet._reactor import TorsionReactor as Reactor
    else:
        from twisted.internet.epollreactor import EPollReactor as Reactor
    reactor = Reactor()

    def say(*words):
        print(*words, flush=True)

    if mode == "user-sigint":
        signal.signal(signal.SIGINT, lambda n, f: say("user handler", n))
    for phase in ("before", "during", "after"):
        reactor.addSystemEventTrigger(
            phase, "shutdown", lambda p=phase: say("shutdown", p, repr(time.monotonic()))
        )
    reactor.callWhenRunning(lambda: say("running", repr(time.monotonic())))
    try:
        reactor.run(installSignalHandlers=install)
    except BaseException as e:
        say("run raised", type(e).__name__)
        raise
    say("run returned", reactor._exitSignal)
    say(
        "handlers",
        signal.getsignal(signal.SIGINT) is signal.default_int_handler,
        signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
    )
    """
)


class Child:
    """A reactor script in a subprocess, read line by line."""

    def __init__(self, tmp_path: Path, flavor: str, install: bool, mode: str = "-"):
        script = tmp_path / "reactor_child.py"
        script.write_text(SCRIPT)
        env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
        self.proc = subprocess.Popen(
            [sys.executable, str(script), flavor, "1" if install else "0", mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []

    def readline(self) -> str:
        line = self.proc.stdout.readline().strip()
        self.lines.append(line)
        return line

    def waitRunning(self) -> None:
        line = self.readline()
        assert line.startswith("running"), (line, self.proc.stderr.read())

    def finish(self, timeout: float = 10) -> tuple[list[str], int, str]:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            self.lines.append("TIMEOUT")
        self.lines.extend(line for line in out.splitlines() if line)
        return self.lines, self.proc.returncode, err


def _stopBySignal(tmp_path, flavor, signum):
    child = Child(tmp_path, flavor, install=True)
    child.waitRunning()
    time.sleep(0.3)
    sent = time.monotonic()
    child.proc.send_signal(signum)
    lines, code, err = child.finish()
    return lines, code, err, sent


@pytest.mark.parametrize("flavor", ["torsion", "twisted"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_gracefully(tmp_path, flavor, signum):
    """SIGINT/SIGTERM to an idle reactor fire the shutdown triggers in
    order, run() returns (recording the signal) and the process exits 0;
    the signal is noticed well within a second."""
    lines, code, err, sent = _stopBySignal(tmp_path, flavor, signum)
    assert code == 0, err
    assert [line.split()[:2] for line in lines[1:4]] == [
        ["shutdown", "before"],
        ["shutdown", "during"],
        ["shutdown", "after"],
    ]
    assert lines[4:5] == [f"run returned {int(signum)}"]
    noticed = float(lines[1].split()[2])
    assert 0 <= noticed - sent < 1.0


def test_handlers_restored_after_run(tmp_path):
    """After run() returns, SIGINT and SIGTERM have their previous handlers
    again (Python's default ones here)."""
    lines, code, err, _ = _stopBySignal(tmp_path, "torsion", signal.SIGTERM)
    assert code == 0, err
    assert lines[-1] == "handlers True True"


def test_user_sigint_handler_is_kept(tmp_path):
    """A SIGINT handler the program installed itself is left alone: SIGINT
    calls it and the reactor keeps running; SIGTERM still stops it."""
    child = Child(tmp_path, "torsion", install=True, mode="user-sigint")
    child.waitRunning()
    child.proc.send_signal(signal.SIGINT)
    assert child.readline() == f"user handler {int(signal.SIGINT)}"
    child.proc.send_signal(signal.SIGTERM)
    lines, code, err = child.finish()
    assert code == 0, err
    assert [line.split()[:2] for line in lines[2:5]] == [
        ["shutdown", "before"],
        ["shutdown", "during"],
        ["shutdown", "after"],
    ]


def test_no_handlers_sigterm_kills(tmp_path):
    """With installSignalHandlers=False, SIGTERM keeps its default action:
    the process dies of it and no shutdown trigger runs."""
    child = Child(tmp_path, "torsion", install=False)
    child.waitRunning()
    child.proc.send_signal(signal.SIGTERM)
    lines, code, _ = child.finish()
    assert code == -signal.SIGTERM
    assert lines == [lines[0]]


def test_no_handlers_sigint_raises_out_of_run(tmp_path):
    """With installSignalHandlers=False, SIGINT is Python's
    KeyboardInterrupt: it ends run() without shutdown triggers.
    (Twisted 26 instead logs it as an "Unexpected error in main loop" and
    keeps running.)"""
    child = Child(tmp_path, "torsion", install=False)
    child.waitRunning()
    time.sleep(0.2)
    sent = time.monotonic()
    child.proc.send_signal(signal.SIGINT)
    lines, code, err = child.finish()
    ended = time.monotonic()
    assert lines[1:] == ["run raised KeyboardInterrupt"]
    assert code == -signal.SIGINT
    assert "KeyboardInterrupt" in err
    assert ended - sent < 5


def test_signal_handlers_not_installed_off_main_thread(flavor):
    """run(installSignalHandlers=True) in a non-main thread runs without
    touching the process's signal handlers."""
    reactor = flavor.reactor
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    seen: list = []

    def during():
        seen.append((signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)))
        reactor.stop()

    reactor.callWhenRunning(during)
    worker = threading.Thread(target=reactor.run)
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    assert seen == [before]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
