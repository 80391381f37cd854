"""Signal handling while the reactor runs: SIGINT and SIGTERM stop it.

Python runs signal handlers only between bytecodes of the main thread, and
the loop sleeps in Rust with the GIL released; so the handlers are paired
with ``signal.set_wakeup_fd``: the interpreter's C-level handler writes a
byte to a socket the loop watches, the loop wakes, and runs them at once.
"""

from __future__ import annotations

import signal
import socket
import threading
from typing import Any


class SignalHandling:
    """Installs and uninstalls the reactor's signal handlers."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._previous: dict[int, Any] = {}
        self._pair: tuple[socket.socket, socket.socket] | None = None
        self._oldWakeup: int | None = None

    def install(self) -> None:
        """Route SIGINT (if still Python's default) and SIGTERM to stop()."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous[signal.SIGINT] = signal.signal(
                signal.SIGINT, self._reactor.sigInt
            )
        self._previous[signal.SIGTERM] = signal.signal(
            signal.SIGTERM, self._reactor.sigTerm
        )
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        self._pair = (reader, writer)
        self._oldWakeup = signal.set_wakeup_fd(
            writer.fileno(), warn_on_full_buffer=False
        )
        self._reactor._setSignalFd(reader.fileno())

    def uninstall(self) -> None:
        """Put back what install() replaced."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        if self._pair is not None:
            self._reactor._setSignalFd(None)
            signal.set_wakeup_fd(self._oldWakeup if self._oldWakeup is not None else -1)
            for s in self._pair:
                s.close()
            self._pair = None
            self._oldWakeup = None
