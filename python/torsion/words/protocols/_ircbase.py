"""``IRC``: the line protocol both ends of IRC share, as Twisted's.

It sends messages (``sendMessage``, ``sendCommand`` with IRCv3 tags) and
dispatches each received line to ``irc_<COMMAND>``, falling back to
``irc_unknown``.  Received bytes are decoded as UTF-8 chunk by chunk and cut
at LF, with an optional CR before it removed, as Twisted's server does; an
exception raised by a handler is logged and the connection goes on.  The
server-side helpers (``privmsg``, ``names``, ``whois``, ...) format the
replies a server sends.
"""

from __future__ import annotations

import socket
from typing import Any

from torsion.internet import protocol
from torsion.python import log
from torsion.words.protocols._ircmessage import CR, LF, _HandleCommandMixin, parsemsg
from torsion.words.protocols._ircnumerics import (
    RPL_CHANNELMODEIS,
    RPL_ENDOFNAMES,
    RPL_ENDOFWHO,
    RPL_ENDOFWHOIS,
    RPL_NAMREPLY,
    RPL_NOTOPIC,
    RPL_TOPIC,
    RPL_WHOISCHANNELS,
    RPL_WHOISIDLE,
    RPL_WHOISOPERATOR,
    RPL_WHOISSERVER,
    RPL_WHOISUSER,
    RPL_WHOREPLY,
)
from torsion.words.protocols._ircquote import lowQuote

# The characters a tag name may hold besides letters and digits.
_TAG_NAME_EXTRA = ("-", "/", ".")
_TAG_VALUE_ESCAPES = (
    ("\\", "\\\\"),
    (";", "\\:"),
    (" ", "\\s"),
    ("\r", "\\r"),
    ("\n", "\\n"),
)


class IRC(_HandleCommandMixin, protocol.Protocol):
    """The IRC protocol as a server speaks it.

    ``MAX_LENGTH`` bounds a received line: a longer one (or an unterminated
    one that grows past it) goes to ``lineLengthExceeded``, which drops the
    connection.
    """

    buffer = ""
    MAX_LENGTH = 16384
    hostname: str | None = None
    encoding: str | None = None

    def connectionMade(self) -> None:
        """Start with no channels; name this host when no hostname is set."""
        self.channels: list[Any] = []
        if self.hostname is None:
            self.hostname = socket.getfqdn()

    def sendLine(self, line: Any) -> None:
        """Write ``line`` and CRLF, encoding text with ``encoding``
        (UTF-8 when unset)."""
        line = line + CR + LF
        if isinstance(line, str):
            line = line.encode(self.encoding or "utf-8")
        self.transport.write(line)

    @staticmethod
    def _checkCommand(command: str, complaint: str) -> None:
        """Refuse an empty command, or one that cannot be a command."""
        if not command:
            raise ValueError("IRC message requires a command.")
        if " " in command or command[0] == ":":
            raise ValueError(complaint)

    def _warnManyParameters(self, count: int, line: str) -> None:
        """RFC 1459 allows 15 parameters; log a line that has more."""
        if count > 15:
            log.msg(f"Message has {count} parameters (RFC allows 15):\n{line}")

    def sendMessage(self, command: str, *parameter_list: str, **prefix: str) -> None:
        """Send ``command`` with its parameters joined by spaces, after
        ``:<prefix>`` when the keyword ``prefix`` is given.  ``sendCommand``
        is preferred: it also sends tags."""
        self._checkCommand(
            command,
            "Somebody screwed up, 'cuz this doesn't"
            f" look like a command to me: {command}",
        )
        line = " ".join((command, *parameter_list))
        if "prefix" in prefix:
            line = f":{prefix['prefix']} {line}"
        self.sendLine(line)
        self._warnManyParameters(len(parameter_list), line)

    def sendCommand(
        self,
        command: str,
        parameters: Any,
        prefix: str | None = None,
        tags: dict[str, str | None] | None = None,
    ) -> None:
        """Send ``command`` and ``parameters``, after ``:<prefix>`` when one
        is given and after ``@<tags>`` when there are tags (name to
        unescaped value; a None or empty value sends the name alone)."""
        self._checkCommand(command, f'Invalid command: "{command}"')
        line = " ".join([command, *parameters])
        if prefix:
            line = f":{prefix} {line}"
        if tags:
            line = f"@{self._stringTags(tags)} {line}"
        self.sendLine(line)
        self._warnManyParameters(len(parameters), line)

    def _stringTags(self, tags: dict[str, str | None]) -> str:
        """The tags as IRCv3 text: ``name=escaped;name2``."""
        self._validateTags(tags)
        return ";".join(
            f"{name}={self._escapeTagValue(value)}" if value else name
            for name, value in tags.items()
        )

    def _validateTags(self, tags: dict[str, Any]) -> None:
        """Raise ValueError for an empty tag name or one with characters
        other than letters, digits, ``-``, ``/`` and ``.``."""
        for name in tags:
            if not name:
                raise ValueError("A tag name is required.")
            for char in name:
                if not char.isalnum() and char not in _TAG_NAME_EXTRA:
                    raise ValueError("Tag contains invalid characters.")

    def _escapeTagValue(self, value: str) -> str:
        """Escape a tag value as IRCv3 message tags require."""
        for plain, escaped in _TAG_VALUE_ESCAPES:
            value = value.replace(plain, escaped)
        return value

    def dataReceived(self, data: Any) -> None:
        """Decode ``data``, cut it into lines at LF (tolerating clients that
        send no CR) and handle each line of more than two characters."""
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        lines = (self.buffer + data).split(LF)
        self.buffer = lines.pop()
        if len(self.buffer) > self.MAX_LENGTH:
            pending, self.buffer = self.buffer, ""
            self.lineLengthExceeded(pending)
            return
        for line in lines:
            if len(line) > self.MAX_LENGTH:
                self.buffer = ""
                self.lineLengthExceeded(line)
                return
            if len(line) <= 2:
                continue
            if line[-1] == CR:
                line = line[:-1]
            prefix, command, params = parsemsg(line)
            self.handleCommand(command.upper(), prefix, params)

    def lineLengthExceeded(self, line: str) -> None:
        """A line longer than ``MAX_LENGTH`` arrived: drop the connection."""
        assert self.transport is not None
        self.transport.loseConnection()

    def irc_unknown(self, prefix: str, command: str, params: list[str]) -> None:
        """A command with no handler; subclasses override this."""
        raise NotImplementedError(command, prefix, params)

    # Replies a server sends to its clients.

    def privmsg(self, sender: str, recip: str, message: str) -> None:
        """Send ``message`` from ``sender`` (a full hostmask) to ``recip``."""
        self.sendCommand("PRIVMSG", (recip, f":{lowQuote(message)}"), sender)

    def notice(self, sender: str, recip: str, message: str) -> None:
        """Send a notice from ``sender`` to ``recip``."""
        self.sendCommand("NOTICE", (recip, f":{message}"), sender)

    def action(self, sender: str, recip: str, message: str) -> None:
        """Send an action from ``sender`` to ``recip``."""
        self.sendLine(f":{sender} ACTION {recip} :{message}")

    def topic(
        self, user: str, channel: str, topic: str | None, author: str | None = None
    ) -> None:
        """Tell ``user`` the topic of ``channel`` (none set when ``topic``
        is None); with ``author``, announce that ``author`` changed it."""
        if author is not None:
            quoted = lowQuote(topic)  # type: ignore[arg-type]
            self.sendLine(f":{author} TOPIC {channel} :{quoted}")
        elif topic is None:
            self._reply(RPL_NOTOPIC, user, channel, ":No topic is set.")
        else:
            self._reply(RPL_TOPIC, user, channel, f":{lowQuote(topic)}")

    def topicAuthor(self, user: str, channel: str, author: str, date: int) -> None:
        """Tell ``user`` who set the topic of ``channel`` and when (the
        non-standard 333 reply; ``date`` is a POSIX timestamp)."""
        self.sendLine(
            # %d as in Twisted: a float date is truncated, a string refused.
            ":%s %d %s %s %s %d"  # noqa: UP031
            % (self.hostname, 333, user, channel, author, date)
        )

    def _reply(self, numeric: str, *words: str) -> None:
        """Send ``:<hostname> <numeric> <words...>``."""
        self.sendLine(" ".join([f":{self.hostname}", numeric, *map(str, words)]))

    def names(self, user: str, channel: str, names: list[str]) -> None:
        """Send ``user`` the names in ``channel``, as many per reply as fit
        in a line, then the end of the list."""
        room = 512 - (len(channel) + len(user) + 10)
        batch: list[str] = []
        used = 0
        for name in names:
            if used + len(name) + 1 > room:
                self._reply(RPL_NAMREPLY, user, "=", channel, ":" + " ".join(batch))
                batch = [name]
                used = len(name)
            else:
                batch.append(name)
                used += len(name) + 1
        if batch:
            self._reply(RPL_NAMREPLY, user, "=", channel, ":" + " ".join(batch))
        self._reply(RPL_ENDOFNAMES, user, channel, ":End of /NAMES list")

    def who(self, user: str, channel: str, memberInfo: list[tuple[Any, ...]]) -> None:
        """Send ``user`` a WHO reply per member: each a tuple of username,
        hostmask, server, nickname, ``"H"`` or ``"G"``, hop count and real
        name."""
        for username, hostmask, server, nickname, flag, hops, realName in memberInfo:
            assert flag in ("H", "G")
            self.sendLine(
                ":%s %s %s %s %s %s %s %s %s :%d %s"  # noqa: UP031
                % (
                    self.hostname,
                    RPL_WHOREPLY,
                    user,
                    channel,
                    username,
                    hostmask,
                    server,
                    nickname,
                    flag,
                    hops,
                    realName,
                )
            )
        self._reply(RPL_ENDOFWHO, user, channel, ":End of /WHO list.")

    def whois(
        self,
        user: str,
        nick: str,
        username: str,
        hostname: str,
        realName: str,
        server: str,
        serverInfo: str,
        oper: bool,
        idle: int,
        signOn: int,
        channels: list[str],
    ) -> None:
        """Send ``user`` what is known of ``nick``: who they are, their
        server, operator status, idle and sign-on times and channels."""
        self._reply(RPL_WHOISUSER, user, nick, username, hostname, "*", f":{realName}")
        self._reply(RPL_WHOISSERVER, user, nick, server, f":{serverInfo}")
        if oper:
            self._reply(RPL_WHOISOPERATOR, user, nick, ":is an IRC operator")
        self.sendLine(
            ":%s %s %s %s %d %d :seconds idle, signon time"  # noqa: UP031
            % (self.hostname, RPL_WHOISIDLE, user, nick, idle, signOn)
        )
        self._reply(RPL_WHOISCHANNELS, user, nick, ":" + " ".join(channels))
        self._reply(RPL_ENDOFWHOIS, user, nick, ":End of WHOIS list.")

    def join(self, who: str, where: str) -> None:
        """Announce that ``who`` joined ``where``."""
        self.sendLine(f":{who} JOIN {where}")

    def part(self, who: str, where: str, reason: str | None = None) -> None:
        """Announce that ``who`` left ``where``, with ``reason`` if any."""
        if reason:
            self.sendLine(f":{who} PART {where} :{reason}")
        else:
            self.sendLine(f":{who} PART {where}")

    def channelMode(self, user: str, channel: str, mode: str, *args: str) -> None:
        """Tell ``user`` the modes of ``channel``."""
        self._reply(RPL_CHANNELMODEIS, user, channel, mode, " ".join(args))
