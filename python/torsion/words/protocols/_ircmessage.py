"""Pieces of an IRC message: splitting a line, splitting text, mode strings.

These are the protocol-level helpers of ``twisted.words.protocols.irc``
with its names and its results, exceptions included: a prefix with no
command after it raises ``ValueError`` and a line with no command raises
``IndexError``, exactly where Twisted's ``parsemsg`` does.
"""

from __future__ import annotations

import textwrap
from typing import Any

from torsion.python import log

NUL = chr(0)
CR = chr(0o15)
NL = chr(0o12)
LF = NL
SPC = chr(0o40)

# RFC 2812 section 2.3: a message is at most 512 bytes, CRLF included.
MAX_COMMAND_LENGTH = 512

CHANNEL_PREFIXES = "&#!+"


class IRCBadMessage(Exception):
    """A message from the peer could not be made sense of."""


class IRCPasswordMismatch(Exception):
    """The server refused the password given at registration."""


class IRCBadModes(ValueError):
    """A mode string, or the parameters that go with it, is malformed."""


class UnhandledCommand(RuntimeError):
    """A dispatcher found neither a handler nor an ``unknown`` fallback."""


def parsemsg(s: str) -> tuple[str, str, list[str]]:
    """Split one IRC line (without its line ending) into
    ``(prefix, command, params)``.

    The prefix is ``""`` when the line has none; a parameter introduced by
    ``" :"`` is the last one and keeps its spaces.  An empty line raises
    ``IRCBadMessage``.
    """
    if not s:
        raise IRCBadMessage("Empty line.")
    prefix = ""
    if s[0:1] == ":":
        prefix, s = s[1:].split(" ", 1)
    cut = s.find(" :")
    if cut == -1:
        args = s.split()
    else:
        args = s[:cut].split()
        args.append(s[cut + 2 :])
    command = args.pop(0)
    return prefix, command, args


def split(str: str, length: int = 80) -> list[str]:
    """Cut text into lines of at most ``length`` characters, breaking at
    newlines and preferably at whitespace; empty lines are dropped."""
    chunks: list[str] = []
    for line in str.split("\n"):
        chunks.extend(textwrap.wrap(line, length))
    return chunks


def _intOrDefault(value: Any, default: Any = None) -> Any:
    """``int(value)`` when ``value`` is non-empty and converts, else
    ``default``."""
    if value:
        try:
            return int(value)
        except (TypeError, ValueError):
            pass
    return default


class _HandleCommandMixin:
    """``handleCommand`` as both ends of IRC have it."""

    irc_unknown: Any

    def handleCommand(self, command: str, prefix: str, params: list[str]) -> None:
        """Call ``irc_<command>(prefix, params)``, or ``irc_unknown``; log
        whatever the handler raises."""
        handler = getattr(self, "irc_" + command, None)
        try:
            if handler is None:
                self.irc_unknown(prefix, command, params)
            else:
                handler(prefix, params)
        except BaseException:
            log.deferr()


class _CommandDispatcherMixin:
    """Call ``<prefix>_<name>`` for a command name, or ``<prefix>_unknown``
    with the name first when there is no such method."""

    prefix: str | None = None

    def dispatch(self, commandName: str, *args: Any) -> Any:
        """Run the handler for ``commandName`` with ``args``; raise
        ``UnhandledCommand`` if neither it nor the fallback exists."""
        handler = getattr(self, f"{self.prefix}_{commandName}", None)
        if handler is not None:
            return handler(*args)
        fallback = getattr(self, f"{self.prefix}_unknown", None)
        if fallback is None:
            wanted = f"{self.prefix}_{commandName}"
            raise UnhandledCommand(f"No handler for {wanted!r} could be found")
        return fallback(commandName, *args)


def parseModes(
    modes: str, params: list[str], paramModes: Any = ("", "")
) -> tuple[list[tuple[str, str | None]], list[tuple[str, str | None]]]:
    """Read a mode string such as ``"+ov-k"`` with its parameters.

    Returns ``(added, removed)``, each a list of ``(mode, param)`` where
    ``param`` is None for a mode that takes none.  ``paramModes`` is a pair
    of strings: the modes that take a parameter when added, and when
    removed.  Parameters are consumed from ``params`` in order; a missing
    or left-over parameter, an empty mode string, one that does not begin
    with a direction, or a direction with no mode raises ``IRCBadModes``.
    """
    if not modes:
        raise IRCBadModes("Empty mode string")
    if modes[0] not in "+-":
        raise IRCBadModes(f"Malformed modes string: {modes!r}")
    added: list[tuple[str, str | None]] = []
    removed: list[tuple[str, str | None]] = []
    target = added
    taking = paramModes[0]
    sinceDirection = -1
    for ch in modes:
        if ch == "+" or ch == "-":
            if sinceDirection == 0:
                raise IRCBadModes(f"Empty mode sequence: {modes!r}")
            adding = ch == "+"
            target = added if adding else removed
            taking = paramModes[0] if adding else paramModes[1]
            sinceDirection = 0
            continue
        param = None
        if ch in taking:
            if not params:
                raise IRCBadModes(f"Not enough parameters: {ch!r}")
            param = params.pop(0)
        target.append((ch, param))
        sinceDirection += 1
    if params:
        raise IRCBadModes(f"Too many parameters: {modes!r} {params!r}")
    if sinceDirection == 0:
        raise IRCBadModes(f"Empty mode sequence: {modes!r}")
    return added, removed
