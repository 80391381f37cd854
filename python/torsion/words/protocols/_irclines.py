"""How ``IRCClient`` receives: bytes to lines, lines to ``irc_*`` calls.

Every CR is removed, lines are cut at LF by ``LineReceiver`` and each is
decoded as UTF-8, low-level dequoted, split as ``parsemsg`` splits it,
renamed from a numeric to its symbolic name, and handed to
``handleCommand`` (``irc_<COMMAND>``, else ``irc_unknown``).

The common case skips ``LineReceiver``'s per-line loop: when every
complete line in the buffer is ASCII and within ``MAX_LENGTH``, and no
subclass replaced ``lineReceived``, the lines are decoded and split at
once and handled in one loop that keeps ``LineReceiver``'s state as its
own loop would (the buffer offset before each line, and a stop when a
handler disconnects, pauses, switches to raw mode, changes the delimiter
or touches the buffer, or sets ``lineReceived`` on the instance);
``LineReceiver`` then carries on from there.  (A method replaced on the
class itself while a batch is being handled takes effect from the next
batch.)
"""

from __future__ import annotations

import sys
from typing import Any

from torsion.protocols import basic
from torsion.words.protocols._ircmessage import (
    IRCBadMessage,
    _HandleCommandMixin,
    parsemsg,
)
from torsion.words.protocols._ircnumerics import numeric_to_symbolic
from torsion.words.protocols._ircquote import M_QUOTE, lowDequote


class _IRCLineReceiver(_HandleCommandMixin, basic.LineReceiver):
    """The receiving half of ``IRCClient``."""

    delimiter = b"\n"
    # Provided by IRCClient.
    badMessage: Any

    def dataReceived(self, data: Any) -> Any:
        """Remove every CR from ``data`` and handle the complete lines."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        data = data.replace(b"\r", b"")
        if self._busyReceiving or not self._plainLines():
            return basic.LineReceiver.dataReceived(self, data)
        offset = self._lrOffset
        held = self._lrData
        buf = (held[offset:] if offset else held) + data
        self._lrData = buf
        self._lrOffset = 0
        cut = buf.rfind(b"\n") + 1
        block = buf[:cut]
        if cut and block.isascii():
            lines = block.decode("ascii").split("\n")
            del lines[-1]
            if max(map(len, lines)) <= self.MAX_LENGTH:
                self._busyReceiving = True
                try:
                    if self._handleLines(lines, buf, b"\x10" in block):
                        return None
                finally:
                    self._busyReceiving = False
        return basic.LineReceiver.dataReceived(self, b"")

    def _plainLines(self) -> bool:
        """Whether lines are cut at LF and handled by this class's
        ``lineReceived``, with nothing paused."""
        return bool(
            self.line_mode
            and not self.paused
            and self.delimiter == b"\n"
            and type(self).lineReceived is _lineReceived
            and "lineReceived" not in self.__dict__
        )

    def lineReceived(self, line: Any) -> None:
        """Decode one line and handle it; a line that is not UTF-8 raises
        (and ends the connection), as in Twisted."""
        if isinstance(line, bytes):
            line = line.decode("utf-8")
        self._handleLines([line], None, M_QUOTE in line)

    def _handleLines(self, lines: list[str], buf: bytes | None, quoted: bool) -> bool:
        """Dequote, parse and dispatch each line; one ``parsemsg`` rejects
        goes to ``badMessage``.  ``quoted``: whether any line holds
        ``M_QUOTE`` (to dequote).

        With ``buf`` (the buffer the lines were cut from), keep
        ``LineReceiver``'s offset after each line and stop after one that
        disconnects (True) or changes how the rest must be read (False).
        """
        state = self.__dict__
        pos = 0
        for line in lines:
            if buf is not None:
                pos += len(line) + 1
                self._lrOffset = pos
            if quoted and M_QUOTE in line:
                line = lowDequote(line)
            try:
                if line[:1] == ":":
                    space = line.find(" ")
                    if space < 0:
                        parsemsg(line)
                    prefix = line[1:space]
                    rest = line[space + 1 :]
                else:
                    prefix = ""
                    rest = line
                cut = rest.find(" :")
                if cut < 0:
                    params = rest.split()
                else:
                    params = rest[:cut].split()
                    params.append(rest[cut + 2 :])
                if not params:
                    parsemsg(line)
                command = params.pop(0)
                command = numeric_to_symbolic.get(command, command)
                self.handleCommand(command, prefix, params)
            except IRCBadMessage:
                self.badMessage(line, *sys.exc_info())
            if buf is not None:
                transport = self.transport
                if transport and transport.disconnecting:
                    return True
                if (
                    self._lrData is not buf
                    or self.paused
                    or not self.line_mode
                    or self.delimiter != b"\n"
                    or "lineReceived" in state
                ):
                    return False
        return False


_lineReceived = _IRCLineReceiver.lineReceived
