"""The CTCP half of ``IRCClient``: queries and replies between clients.

A mixin of ``IRCClient`` (which provides ``msg``, ``notice``,
``quirkyMessage``, ``action``, ``pong`` and the CTCP reply attributes).
Queries arrive through ``ctcpQuery`` and are answered as Twisted's client
answers them: ACTION, PING, FINGER, VERSION, SOURCE, USERINFO, CLIENTINFO,
ERRMSG, TIME and the DCC offers.  ``CLIENTINFO <tag>`` replies with the
handler's docstring, so the ``ctcpQuery_*`` handlers whose Twisted
counterparts have none have none either.
"""

from __future__ import annotations

import random
import shlex
import string
import time
import types
from typing import Any

from torsion.python import log
from torsion.words.protocols._ircmessage import IRCBadMessage
from torsion.words.protocols._ircquote import ctcpStringify

_PING_KEY_CHARACTERS = string.ascii_letters + string.digits + string.punctuation


def _nick(user: str) -> str:
    """The nickname part of ``nick!user@host``."""
    return user.split("!")[0]


def _prefixedMethodNames(cls: type, prefix: str) -> list[str]:
    """The names, without ``prefix``, of the functions defined on ``cls``
    or its bases whose names begin with ``prefix`` (and go on)."""
    found: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if (
                type(value) is types.FunctionType
                and name.startswith(prefix)
                and len(name) > len(prefix)
            ):
                found[name[len(prefix) :]] = None
    return list(found)


def dccParseAddress(address: str) -> str:
    """A DCC address as dotted quad: an address with a dot is kept, a
    decimal integer is converted; anything else raises IRCBadMessage."""
    if "." in address:
        return address
    try:
        number = int(address)
    except ValueError:
        raise IRCBadMessage(f"Indecipherable address {address!r}") from None
    return _dottedQuad(number)


def _dottedQuad(number: int) -> str:
    """The low 32 bits of ``number`` as a dotted-quad IPv4 address."""
    octets = [(number >> shift) & 0xFF for shift in (24, 16, 8, 0)]
    return ".".join(map(str, octets))


class _CTCPClientMixin:
    """CTCP queries and replies for ``IRCClient``."""

    _pings: dict[tuple[str, str], float] | None = None
    _MAX_PINGRING = 12
    dcc_sessions: list[Any] | None = None
    dcc_destdir = "."

    # Provided by IRCClient.
    fingerReply: Any
    versionName: str | None
    versionNum: str | None
    versionEnv: str | None
    sourceURL: str | None
    userinfo: str | None
    msg: Any
    notice: Any
    quirkyMessage: Any
    action: Any
    pong: Any

    # Commands to other clients.

    def describe(self, channel: str, action: str) -> None:
        """Perform ``action`` (``/me``) in a channel or to a user."""
        self.ctcpMakeQuery(channel, [("ACTION", action)])

    def ping(self, user: str, text: str | None = None) -> None:
        """Ask ``user`` to echo a CTCP PING (a random key unless ``text`` is
        given); ``pong`` gets the round-trip time when the echo comes back.
        At most ``_MAX_PINGRING`` pings are remembered, the oldest dropped."""
        if self._pings is None:
            self._pings = {}
        if text is None:
            key = "".join(random.choice(_PING_KEY_CHARACTERS) for _ in range(12))
        else:
            key = str(text)
        self._pings[(user, key)] = time.time()
        self.ctcpMakeQuery(user, [("PING", key)])
        excess = len(self._pings) - self._MAX_PINGRING
        if excess > 0:
            oldest = sorted((sent, which) for which, sent in self._pings.items())
            for _, which in oldest[:excess]:
                del self._pings[which]

    def dccSend(self, user: str, file: Any) -> None:
        """Not supported (as in Twisted): raises NotImplementedError."""
        raise NotImplementedError(
            "dccSend needs a listening socket whose address it can offer; "
            "it is not implemented"
        )

    def dccResume(self, user: str, fileName: str, port: int, resumePos: int) -> None:
        """Ask ``user`` to resume sending ``fileName`` at ``resumePos``."""
        self.ctcpMakeQuery(user, [("DCC", ["RESUME", fileName, port, resumePos])])

    def dccAcceptResume(
        self, user: str, fileName: str, port: int, resumePos: int
    ) -> None:
        """Accept ``user``'s request to resume ``fileName``."""
        self.ctcpMakeQuery(user, [("DCC", ["ACCEPT", fileName, port, resumePos])])

    def ctcpMakeReply(self, user: str, messages: Any) -> None:
        """Send ``(tag, data)`` pairs to ``user`` as CTCP replies (a NOTICE)."""
        self.notice(user, ctcpStringify(messages))

    def ctcpMakeQuery(self, user: str, messages: Any) -> None:
        """Send ``(tag, data)`` pairs to ``user`` as CTCP queries (a PRIVMSG)."""
        self.msg(user, ctcpStringify(messages))

    # Queries received.

    def ctcpQuery(self, user: str, channel: str, messages: Any) -> None:
        """Dispatch each query to ``ctcpQuery_<TAG>`` (``ctcpUnknownQuery``
        when there is none); a tag repeated in one message is handled once."""
        seen: set[str] = set()
        for tag, data in messages:
            if tag not in seen:
                handler = getattr(self, f"ctcpQuery_{tag}", None)
                if handler is None:
                    self.ctcpUnknownQuery(user, channel, tag, data)
                else:
                    handler(user, channel, data)
            seen.add(tag)

    def ctcpUnknownQuery(self, user: str, channel: str, tag: str, data: Any) -> None:
        """Log a query with no handler; no ERRMSG is sent back, so that
        unknown queries cannot be used to flood."""
        log.msg(f"Unknown CTCP query from {user!r}: {tag!r} {data!r}")

    def _quirkIfData(self, user: str, data: Any, tag: str) -> None:
        """Report a query that carries data it should not."""
        if data is not None:
            self.quirkyMessage(f"Why did {user} send '{data}' with a {tag} query?")

    def ctcpQuery_ACTION(self, user, channel, data):  # type: ignore[no-untyped-def]
        self.action(user, channel, data)

    def ctcpQuery_PING(self, user, channel, data):  # type: ignore[no-untyped-def]
        self.ctcpMakeReply(_nick(user), [("PING", data)])

    def ctcpQuery_FINGER(self, user, channel, data):  # type: ignore[no-untyped-def]
        self._quirkIfData(user, data, "FINGER")
        if not self.fingerReply:
            return
        if callable(self.fingerReply):
            reply = self.fingerReply()
        else:
            reply = str(self.fingerReply)
        self.ctcpMakeReply(_nick(user), [("FINGER", reply)])

    def ctcpQuery_VERSION(self, user, channel, data):  # type: ignore[no-untyped-def]
        self._quirkIfData(user, data, "VERSION")
        if self.versionName:
            num, env = self.versionNum or "", self.versionEnv or ""
            version = f"{self.versionName}:{num}:{env}"
            self.ctcpMakeReply(_nick(user), [("VERSION", version)])

    def ctcpQuery_SOURCE(self, user, channel, data):  # type: ignore[no-untyped-def]
        # The CTCP spec asks for an FTP host:directory:file; like Twisted,
        # reply with a URL, then an empty SOURCE to end the list.
        self._quirkIfData(user, data, "SOURCE")
        if self.sourceURL:
            self.ctcpMakeReply(
                _nick(user), [("SOURCE", self.sourceURL), ("SOURCE", None)]
            )

    def ctcpQuery_USERINFO(self, user, channel, data):  # type: ignore[no-untyped-def]
        self._quirkIfData(user, data, "USERINFO")
        if self.userinfo:
            self.ctcpMakeReply(_nick(user), [("USERINFO", self.userinfo)])

    def ctcpQuery_CLIENTINFO(self, user: str, channel: str, data: Any) -> None:
        """Without an argument, reply with the CTCP tags this client
        handles, sorted; with a tag, reply with its handler's docstring."""
        nick = _nick(user)
        if not data:
            tags = sorted(_prefixedMethodNames(self.__class__, "ctcpQuery_"))
            self.ctcpMakeReply(nick, [("CLIENTINFO", " ".join(tags))])
            return
        asked = data.split()[0]
        handler = getattr(self, f"ctcpQuery_{asked}", None)
        if not handler:
            self.ctcpMakeReply(
                nick,
                [("ERRMSG", f"CLIENTINFO {data} :Unknown query '{asked}'")],
            )
            return
        self.ctcpMakeReply(nick, [("CLIENTINFO", getattr(handler, "__doc__", ""))])

    def ctcpQuery_ERRMSG(self, user, channel, data):  # type: ignore[no-untyped-def]
        # The CTCP spec's answer to an ERRMSG query (not reply).
        self.ctcpMakeReply(_nick(user), [("ERRMSG", f"{data} :No error has occurred.")])

    def ctcpQuery_TIME(self, user, channel, data):  # type: ignore[no-untyped-def]
        self._quirkIfData(user, data, "TIME")
        now = time.asctime(time.localtime(time.time()))
        self.ctcpMakeReply(_nick(user), [("TIME", f":{now}")])

    def ctcpQuery_DCC(self, user: str, channel: str, data: Any) -> None:
        """Direct Client Connection offers: dispatched to ``dcc_<TYPE>``;
        an unknown type gets an ERRMSG reply."""
        if not data:
            return
        dcctype = data.split(None, 1)[0].upper()
        handler = getattr(self, "dcc_" + dcctype, None)
        if handler:
            if self.dcc_sessions is None:
                self.dcc_sessions = []
            handler(user, channel, data[len(dcctype) + 1 :])
            return
        self.ctcpMakeReply(
            _nick(user), [("ERRMSG", f"DCC {data} :Unknown DCC type '{dcctype}'")]
        )
        self.quirkyMessage(f"{user} offered unknown DCC type {dcctype}")

    @staticmethod
    def _dccWords(data: str, what: str) -> list[str]:
        """Split a DCC request shell-style (file names may be quoted); fewer
        than three words is a malformed ``what`` request."""
        words = shlex.split(data)
        if len(words) < 3:
            raise IRCBadMessage(f"malformed {what} request: {words!r}")
        return words

    @staticmethod
    def _dccPort(port: str) -> int:
        """A DCC port number, or IRCBadMessage."""
        try:
            return int(port)
        except ValueError:
            raise IRCBadMessage(f"Indecipherable port {port!r}") from None

    def dcc_SEND(self, user: str, channel: str, data: str) -> None:
        """An offer to send a file: ``dccDoSend`` with the parsed values."""
        words = self._dccWords(data, "DCC SEND")
        filename, address, port = words[:3]
        host = dccParseAddress(address)
        number = self._dccPort(port)
        size = -1
        if len(words) >= 4:
            try:
                size = int(words[3])
            except ValueError:
                pass
        self.dccDoSend(user, host, number, filename, size, words)

    def _dccResumeValues(self, data: str, what: str) -> tuple[str, int, int] | None:
        """File name, port and position of a RESUME or ACCEPT request, or
        None when the numbers do not parse."""
        filename, port, resumePos = self._dccWords(data, what)[:3]
        try:
            return filename, int(port), int(resumePos)
        except ValueError:
            return None

    def dcc_ACCEPT(self, user: str, channel: str, data: str) -> None:
        """Our resume request was accepted: ``dccDoAcceptResume``."""
        values = self._dccResumeValues(data, "DCC SEND ACCEPT")
        if values is not None:
            self.dccDoAcceptResume(user, *values)

    def dcc_RESUME(self, user: str, channel: str, data: str) -> None:
        """A request to resume a file we offered: ``dccDoResume``."""
        values = self._dccResumeValues(data, "DCC SEND RESUME")
        if values is not None:
            self.dccDoResume(user, *values)

    def dcc_CHAT(self, user: str, channel: str, data: str) -> None:
        """An offer to chat directly: ``dccDoChat``."""
        words = self._dccWords(data, "DCC CHAT")
        host = dccParseAddress(words[1])
        number = self._dccPort(words[2])
        self.dccDoChat(user, channel, host, number, words)

    def dccDoSend(
        self, user: str, address: str, port: int, fileName: str, size: int, data: Any
    ) -> None:
        """A DCC SEND offer arrived (``size`` is -1 when not given); does
        nothing unless overridden."""

    def dccDoResume(self, user: str, file: str, port: int, resumePos: int) -> None:
        """A peer asks to resume a file we offered; answer with
        ``dccAcceptResume`` or ignore it (the default)."""

    def dccDoAcceptResume(
        self, user: str, file: str, port: int, resumePos: int
    ) -> None:
        """A peer accepted our resume request; does nothing by default."""

    def dccDoChat(
        self, user: str, channel: str, address: str, port: int, data: Any
    ) -> None:
        """A DCC CHAT offer arrived; does nothing by default."""

    # Replies received.

    def ctcpReply(self, user: str, channel: str, messages: Any) -> None:
        """Dispatch each reply to ``ctcpReply_<TAG>``, or
        ``ctcpUnknownReply``."""
        for tag, data in messages:
            handler = getattr(self, f"ctcpReply_{tag}", None)
            if handler:
                handler(user, channel, data)
            else:
                self.ctcpUnknownReply(user, channel, tag, data)

    def ctcpReply_PING(self, user: str, channel: str, data: Any) -> None:
        """The echo of one of our pings: ``pong`` with the round-trip time.
        An echo we did not ask for raises IRCBadMessage."""
        nick = user.split("!", 1)[0]
        if not self._pings or (nick, data) not in self._pings:
            raise IRCBadMessage(f"Bogus PING response from {user}: {data}")
        sent = self._pings[(nick, data)]
        self.pong(user, time.time() - sent)

    def ctcpUnknownReply(self, user: str, channel: str, tag: str, data: Any) -> None:
        """Log a reply with no handler."""
        log.msg(f"Unknown CTCP reply from {user}: {tag} {data}\n")
