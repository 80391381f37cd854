"""Installing the global reactor, each case in a fresh interpreter:
``from torsion.internet import reactor``, installReactor, and the
epollreactor/pollreactor/selectreactor/default install() functions."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PYTHON_DIR = str(Path(__file__).resolve().parent.parent / "python")


def _run(code: str) -> list[str]:
    """Run ``code`` in a new interpreter; return its stdout lines."""
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_import_installs_torsion_reactor():
    """``from torsion.internet import reactor`` gives one TorsionReactor,
    the same object as the module entry and the package attribute; a
    second installReactor raises ReactorAlreadyInstalledError."""
    out = _run(
        """
        import sys
        import torsion.internet
        print("reactor" in vars(torsion.internet), "torsion.internet.reactor" in sys.modules)
        from torsion.internet import reactor
        from torsion.internet._reactor import TorsionReactor
        import torsion.internet.reactor as again
        print(type(reactor) is TorsionReactor, again is reactor)
        print(sys.modules["torsion.internet.reactor"] is reactor)
        print(torsion.internet.reactor is reactor)
        from torsion.internet import error, main
        try:
            main.installReactor(TorsionReactor())
        except error.ReactorAlreadyInstalledError as e:
            print("refused", str(e))
        from torsion.internet import reactor as third
        print(third is reactor)
        """
    )
    assert out == [
        "False False",
        "True True",
        "True",
        "True",
        "refused reactor already installed",
        "True",
    ]


def test_library_imports_do_not_install_a_reactor():
    """Importing torsion's other modules installs no reactor."""
    out = _run(
        """
        import sys
        import torsion.internet.defer, torsion.internet.protocol
        import torsion.internet.task, torsion.internet.threads
        import torsion.internet.base, torsion.internet.tcp
        import torsion.protocols.basic, torsion.python.log
        print("torsion.internet.reactor" in sys.modules)
        """
    )
    assert out == ["False"]


@pytest.mark.parametrize(
    "module", ["epollreactor", "pollreactor", "selectreactor", "default"]
)
def test_install_functions_install_torsion(module):
    """<module>.install() installs torsion's reactor: the later import gets
    it, and installing again is refused."""
    out = _run(
        f"""
        from torsion.internet import {module}
        {module}.install()
        from torsion.internet import reactor, error
        from torsion.internet._reactor import TorsionReactor
        print(type(reactor).__name__, type(reactor) is TorsionReactor)
        try:
            {module}.install()
        except error.ReactorAlreadyInstalledError:
            print("second install refused")
        from torsion.internet import reactor as same
        print(same is reactor)
        """
    )
    assert out == ["TorsionReactor True", "second install refused", "True"]


def test_installReactor_custom_then_import():
    """A reactor installed with main.installReactor is what a later
    ``from torsion.internet import reactor`` returns."""
    out = _run(
        """
        from torsion.internet import main
        from torsion.internet._reactor import TorsionReactor
        mine = TorsionReactor()
        main.installReactor(mine)
        from torsion.internet import reactor
        print(reactor is mine)
        """
    )
    assert out == ["True"]


def test_installed_reactor_runs_with_deferToThread():
    """The installed reactor runs: a timer, deferToThread and
    callFromThread all work on it, and stop() ends run()."""
    out = _run(
        """
        import threading
        from torsion.internet import reactor, threads

        def start():
            d = threads.deferToThread(lambda: threading.current_thread() is not threading.main_thread())
            d.addCallback(lambda inWorker: print("in worker", inWorker))
            d.addCallback(lambda _: reactor.callLater(0.01, reactor.stop))

        reactor.callWhenRunning(start)
        reactor.addSystemEventTrigger("after", "shutdown", print, "shut down")
        reactor.run()
        print("running", reactor.running)
        """
    )
    assert out == ["in worker True", "shut down", "running False"]
