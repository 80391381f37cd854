"""``IRCClient``: an IRC client protocol, Twisted's API and behaviour.

Subclass it, set ``nickname`` (and ``password``, ``realname``, ...), and
override the callbacks (``signedOn``, ``joined``, ``privmsg``, ...); call
the commands (``join``, ``msg``, ``quit``, ...).  Lines are received as
UTF-8 text with every CR removed and cut at LF; each is low-level
dequoted, split with ``parsemsg``, numerics are renamed to their symbolic
names, and the line is dispatched to ``irc_<COMMAND>`` (``irc_unknown``
otherwise).  An exception raised while handling a line is logged and the
connection goes on; a line that cannot be decoded ends it, as in Twisted.
Outgoing lines are low-level quoted, UTF-8 encoded and end in CRLF;
``lineRate`` spaces them out.  Receiving is in ``_irclines``.
"""

from __future__ import annotations

import traceback
from typing import Any

from torsion.internet import task
from torsion.protocols import basic
from torsion.python import log
from torsion.words.protocols._ircctcpclient import _CTCPClientMixin
from torsion.words.protocols._irclines import _IRCLineReceiver
from torsion.words.protocols._ircmessage import (
    CHANNEL_PREFIXES,
    MAX_COMMAND_LENGTH,
    IRCBadModes,
    IRCPasswordMismatch,
    parseModes,
    split,
)
from torsion.words.protocols._ircquote import (
    X_DELIM,
    ctcpExtract,
    lowQuote,
)
from torsion.words.protocols._ircsupport import ServerSupportedFeatures


def _callLater(delay: float, func: Any) -> Any:
    """``callLater`` on the global reactor (imported on first use), as
    Twisted's client uses its global reactor for ``lineRate``."""
    from torsion.internet import reactor

    return reactor.callLater(delay, func)  # type: ignore[attr-defined]


def _channel(name: str) -> str:
    """``name`` with ``#`` put in front unless it begins with a channel
    prefix."""
    return name if name[0] in CHANNEL_PREFIXES else "#" + name


class IRCClient(_CTCPClientMixin, _IRCLineReceiver):
    """An IRC client: registration, commands, callbacks and CTCP.

    Registration sends ``PASS`` (when ``password`` is set), ``NICK`` and
    ``USER`` on connection (unless ``performLogin`` is false).  After the
    server's welcome, ``signedOn`` is called and a ``PING`` is sent every
    ``heartbeatInterval`` seconds (None: never).  ``supported`` holds the
    server's ISUPPORT features.  A taken nickname is retried as
    ``alterCollidedNick(nick)``; an erroneous one, before registration, as
    ``erroneousNickFallback``.
    """

    hostname: str | None = None
    motd: list[str] | None = None
    nickname = "irc"
    password: str | None = None
    realname: str | None = None
    username: str | None = None
    userinfo: str | None = None
    fingerReply: Any = None
    versionName: str | None = None
    versionNum: str | None = None
    versionEnv: str | None = None
    sourceURL: str | None = "http://twistedmatrix.com/downloads/"
    performLogin = 1
    lineRate: float | None = None
    _queue: list[Any] | None = None
    _queueEmptying: Any = None
    _registered = False
    _attemptedNick = ""
    erroneousNickFallback = "defaultnick"
    _heartbeat: Any = None
    heartbeatInterval: float | None = 120

    # Sending.

    def _reallySendLine(self, line: Any) -> Any:
        """Quote, encode and write one line, ending it with CRLF."""
        quoted = lowQuote(line)
        if isinstance(quoted, str):
            quoted = quoted.encode("utf-8")
        return basic.LineReceiver.sendLine(self, quoted + b"\r")

    def sendLine(self, line: Any) -> None:
        """Send ``line`` now, or queue it when ``lineRate`` is set."""
        if self.lineRate is None:
            self._reallySendLine(line)
            return
        assert self._queue is not None
        self._queue.append(line)
        if not self._queueEmptying:
            self._sendLine()

    def _sendLine(self) -> None:
        """Send the oldest queued line and schedule the next one."""
        if self._queue:
            self._reallySendLine(self._queue.pop(0))
            self._queueEmptying = _callLater(self.lineRate, self._sendLine)
        else:
            self._queueEmptying = None

    # The connection.

    def connectionMade(self) -> None:
        """Reset the server's features and register unless told not to."""
        self.supported = ServerSupportedFeatures()
        self._queue = []
        if self.performLogin:
            self.register(self.nickname)

    def connectionLost(self, reason: Any) -> None:
        """Stop the heartbeat."""
        basic.LineReceiver.connectionLost(self, reason)
        self.stopHeartbeat()

    def __getstate__(self) -> dict[str, Any]:
        """The state to pickle, without DCC sessions and pending pings."""
        state = self.__dict__.copy()
        state["dcc_sessions"] = None
        state["_pings"] = None
        return state

    # The heartbeat.

    def _createHeartbeat(self) -> Any:
        """The LoopingCall that sends the heartbeat."""
        return task.LoopingCall(self._sendHeartbeat)

    def _sendHeartbeat(self) -> None:
        """Ping the server to keep the connection alive."""
        self.sendLine("PING " + self.hostname)  # type: ignore[operator]

    def stopHeartbeat(self) -> None:
        """Stop pinging the server."""
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None

    def startHeartbeat(self) -> None:
        """Ping the server every ``heartbeatInterval`` seconds, the first
        time one interval from now."""
        self.stopHeartbeat()
        if self.heartbeatInterval is None:
            return
        self._heartbeat = self._createHeartbeat()
        self._heartbeat.start(self.heartbeatInterval, now=False)

    # Callbacks about the server, usually at sign-on.

    def created(self, when: str) -> None:
        """The server's creation date (RPL_CREATED)."""

    def yourHost(self, info: str) -> None:
        """The server's name and version (RPL_YOURHOST)."""

    def myInfo(
        self,
        servername: str | None,
        version: str | None,
        umodes: str | None,
        cmodes: str | None,
    ) -> None:
        """The server's name, version and user and channel modes
        (RPL_MYINFO); a missing word is None."""

    def luserClient(self, info: str) -> None:
        """How many users and servers there are (RPL_LUSERCLIENT)."""

    def bounce(self, info: str) -> None:
        """Where the server suggests reconnecting (RPL_BOUNCE)."""

    def isupport(self, options: list[str]) -> None:
        """ISUPPORT parameters (``NAME`` or ``NAME=VALUE``), already
        recorded in ``supported``."""

    def luserChannels(self, channels: int) -> None:
        """How many channels exist (RPL_LUSERCHANNELS)."""

    def luserOp(self, ops: int) -> None:
        """How many operators are online (RPL_LUSEROP)."""

    def luserMe(self, info: str) -> None:
        """How many clients and servers this server has (RPL_LUSERME)."""

    # Callbacks about this client.

    def privmsg(self, user: str, channel: str, message: str) -> None:
        """A message from ``user`` to ``channel`` (or to this client)."""

    def joined(self, channel: str) -> None:
        """This client joined ``channel``."""

    def left(self, channel: str) -> None:
        """This client left ``channel``."""

    def noticed(self, user: str, channel: str, message: str) -> None:
        """A notice from ``user``; the RFC forbids automatic replies."""

    def modeChanged(
        self, user: str, channel: str, set: bool, modes: str, args: tuple[Any, ...]
    ) -> None:
        """``user`` set (``set`` true) or cleared ``modes`` on ``channel``
        (a channel or a nickname); ``args`` has one entry per mode, None
        for a mode without a parameter.  A MODE that both adds and removes
        gives one call for each."""

    def pong(self, user: str, secs: float) -> None:
        """``user`` answered our CTCP PING after ``secs`` seconds."""

    def signedOn(self) -> None:
        """Registration succeeded."""

    def kickedFrom(self, channel: str, kicker: str, message: str) -> None:
        """``kicker`` kicked this client out of ``channel``."""

    def nickChanged(self, nick: str) -> None:
        """This client's nickname is now ``nick``."""
        self.nickname = nick

    # Callbacks about other users.

    def userJoined(self, user: str, channel: str) -> None:
        """``user`` joined ``channel``."""

    def userLeft(self, user: str, channel: str) -> None:
        """``user`` left ``channel``."""

    def userQuit(self, user: str, quitMessage: str) -> None:
        """``user`` left the network."""

    def userKicked(self, kickee: str, channel: str, kicker: str, message: str) -> None:
        """``kicker`` kicked ``kickee`` out of ``channel``."""

    def action(self, user: str, channel: str, data: str) -> None:
        """``user`` performed an action (``/me``) in ``channel``."""

    def topicUpdated(self, user: str, channel: str, newTopic: str) -> None:
        """The topic of ``channel`` is ``newTopic`` (changed, or reported on
        joining)."""

    def userRenamed(self, oldname: str, newname: str) -> None:
        """Another user changed nickname."""

    def receivedMOTD(self, motd: list[str] | None) -> None:
        """The message of the day, one string per line the server sent."""

    # Commands to the server.

    def join(self, channel: str, key: str | None = None) -> None:
        """Join ``channel`` (``#`` added when it has no prefix), with
        ``key`` if given."""
        channel = _channel(channel)
        self.sendLine(f"JOIN {channel} {key}" if key else f"JOIN {channel}")

    def leave(self, channel: str, reason: str | None = None) -> None:
        """Leave ``channel``, giving ``reason`` if any."""
        channel = _channel(channel)
        self.sendLine(f"PART {channel} :{reason}" if reason else f"PART {channel}")

    part = leave

    def kick(self, channel: str, user: str, reason: str | None = None) -> None:
        """Kick ``user`` out of ``channel``, giving ``reason`` if any."""
        channel = _channel(channel)
        if reason:
            self.sendLine(f"KICK {channel} {user} :{reason}")
        else:
            self.sendLine(f"KICK {channel} {user}")

    def invite(self, user: str, channel: str) -> None:
        """Invite ``user`` to ``channel``."""
        self.sendLine(f"INVITE {user} {_channel(channel)}")

    def topic(self, channel: str, topic: str | None = None) -> None:
        """Set the topic of ``channel``, or ask for it when ``topic`` is
        None."""
        channel = _channel(channel)
        if topic is None:
            self.sendLine(f"TOPIC {channel}")
        else:
            self.sendLine(f"TOPIC {channel} :{topic}")

    def mode(
        self,
        chan: str,
        set: bool,
        modes: str,
        limit: int | None = None,
        user: str | None = None,
        mask: str | None = None,
    ) -> None:
        """Set (``set`` true) or clear ``modes`` on a channel or user, with
        one of ``limit``, ``user`` or ``mask`` as the parameter."""
        line = f"MODE {chan} {'+' if set else '-'}{modes}"
        if limit is not None:
            line = "%s %d" % (line, limit)  # noqa: UP031 (%d truncates floats)
        elif user is not None:
            line = f"{line} {user}"
        elif mask is not None:
            line = f"{line} {mask}"
        self.sendLine(line)

    def say(self, channel: str, message: str, length: int | None = None) -> None:
        """Send ``message`` to ``channel`` (``#`` added when it has no
        prefix); see ``msg``."""
        self.msg(_channel(channel), message, length)

    def _safeMaximumLineLength(self, command: str) -> int:
        """A line length the server cannot overflow when it puts the
        longest possible ``:nick!user@host`` in front of ``command``."""
        longestNick = self.supported.getFeature("NICKLEN")
        # Observed user lengths stay within 10; RFC 2812 2.3.1 limits host
        # names to 63; 10 more for luck.
        longestPrefix = 1 + longestNick + 1 + 10 + 1 + 63 + 1
        return MAX_COMMAND_LENGTH - (longestPrefix + len(command)) - 10

    def _sendMessage(
        self, msgType: str, user: str, message: str, length: int | None = None
    ) -> None:
        """Send ``message`` as ``msgType`` lines: one per line of the
        message, long lines split so that no command exceeds ``length``
        (by default ``_safeMaximumLineLength``)."""
        head = f"{msgType} {user} :"
        if length is None:
            length = self._safeMaximumLineLength(head)
        minimumLength = len(head) + 2
        if length <= minimumLength:
            raise ValueError(
                f"Maximum length must exceed {minimumLength} for message to {user}"
            )
        for piece in split(message, length - minimumLength):
            self.sendLine(head + piece)

    def msg(self, user: str, message: str, length: int | None = None) -> None:
        """Send ``message`` to a user or channel, one PRIVMSG per line and
        long lines split to fit ``length`` (see ``_sendMessage``)."""
        self._sendMessage("PRIVMSG", user, message, length)

    def notice(self, user: str, message: str, length: int | None = None) -> None:
        """Send a notice, split as ``msg`` splits."""
        self._sendMessage("NOTICE", user, message, length)

    def away(self, message: str = "") -> None:
        """Mark this client away, with ``message``."""
        self.sendLine(f"AWAY :{message}")

    def back(self) -> None:
        """Clear the away mark."""
        self.away()

    def whois(self, nickname: str, server: str | None = None) -> None:
        """Ask about ``nickname``, of ``server`` when given."""
        if server is None:
            self.sendLine("WHOIS " + nickname)
        else:
            self.sendLine(f"WHOIS {server} {nickname}")

    def register(
        self, nickname: str, hostname: str = "foo", servername: str = "bar"
    ) -> None:
        """Send PASS (if ``password`` is set), NICK and USER; ``username``
        defaults to the nickname."""
        if self.password is not None:
            self.sendLine(f"PASS {self.password}")
        self.setNick(nickname)
        if self.username is None:
            self.username = nickname
        self.sendLine(f"USER {self.username} {hostname} {servername} :{self.realname}")

    def setNick(self, nickname: str) -> None:
        """Ask for ``nickname``."""
        self._attemptedNick = nickname
        self.sendLine(f"NICK {nickname}")

    def quit(self, message: str = "") -> None:
        """Leave the server, with ``message``."""
        self.sendLine(f"QUIT :{message}")

    # Messages from the server.

    def irc_ERR_NICKNAMEINUSE(self, prefix: str, params: list[str]) -> None:
        """The nickname is taken: try ``alterCollidedNick`` of it."""
        self._attemptedNick = self.alterCollidedNick(self._attemptedNick)
        self.setNick(self._attemptedNick)

    def alterCollidedNick(self, nickname: str) -> str:
        """The nickname to try after ``nickname`` was taken: an underscore
        appended."""
        return nickname + "_"

    def irc_ERR_ERRONEUSNICKNAME(self, prefix: str, params: list[str]) -> None:
        """The nickname is not allowed: before registration, fall back to
        ``erroneousNickFallback`` (registration would stall otherwise)."""
        if not self._registered:
            self.setNick(self.erroneousNickFallback)

    def irc_ERR_PASSWDMISMATCH(self, prefix: str, params: list[str]) -> None:
        """The password was refused."""
        raise IRCPasswordMismatch("Password Incorrect.")

    def irc_RPL_WELCOME(self, prefix: str, params: list[str]) -> None:
        """Registered: remember the server and nickname, call ``signedOn``
        and start the heartbeat."""
        self.hostname = prefix
        self._registered = True
        self.nickname = self._attemptedNick
        self.signedOn()
        self.startHeartbeat()

    def irc_JOIN(self, prefix: str, params: list[str]) -> None:
        """Someone joined: ``joined`` if it is us, else ``userJoined``."""
        nick = prefix.split("!")[0]
        channel = params[-1]
        if nick == self.nickname:
            self.joined(channel)
        else:
            self.userJoined(nick, channel)

    def irc_PART(self, prefix: str, params: list[str]) -> None:
        """Someone left: ``left`` if it is us, else ``userLeft``."""
        nick = prefix.split("!")[0]
        channel = params[0]
        if nick == self.nickname:
            self.left(channel)
        else:
            self.userLeft(nick, channel)

    def irc_QUIT(self, prefix: str, params: list[str]) -> None:
        """Someone left the network."""
        self.userQuit(prefix.split("!")[0], params[0])

    def irc_MODE(self, user: str, params: list[str]) -> None:
        """Modes changed: ``modeChanged`` once for the added modes and once
        for the removed ones; a MODE that does not parse is logged."""
        channel, modes, args = params[0], params[1], params[2:]
        if modes[0] not in "-+":
            modes = "+" + modes
        if channel == self.nickname:
            paramModes = self.getUserModeParams()
        else:
            paramModes = self.getChannelModeParams()
        try:
            added, removed = parseModes(modes, args, paramModes)
        except IRCBadModes:
            log.err(
                None,
                "An error occurred while parsing the following "
                f"MODE message: MODE {' '.join(params)}",
            )
            return
        for isSet, changes in ((True, added), (False, removed)):
            if changes:
                letters, values = zip(*changes, strict=True)
                self.modeChanged(user, channel, isSet, "".join(letters), values)

    def irc_PING(self, prefix: str, params: list[str]) -> None:
        """Answer the server's PING."""
        self.sendLine(f"PONG {params[-1]}")

    def irc_PRIVMSG(self, prefix: str, params: list[str]) -> None:
        """A message: CTCP queries go to ``ctcpQuery``, the rest (if any)
        to ``privmsg``; an empty message is ignored."""
        channel = params[0]
        message = params[-1]
        if not message:
            return
        if message[0] == X_DELIM:
            parts = ctcpExtract(message)
            if parts["extended"]:
                self.ctcpQuery(prefix, channel, parts["extended"])
            if not parts["normal"]:
                return
            message = " ".join(parts["normal"])
        self.privmsg(prefix, channel, message)

    def irc_NOTICE(self, prefix: str, params: list[str]) -> None:
        """A notice: CTCP replies go to ``ctcpReply``, the rest to
        ``noticed``."""
        channel = params[0]
        message = params[-1]
        if message[0] == X_DELIM:
            parts = ctcpExtract(message)
            if parts["extended"]:
                self.ctcpReply(prefix, channel, parts["extended"])
            if not parts["normal"]:
                return
            message = " ".join(parts["normal"])
        self.noticed(prefix, channel, message)

    def irc_NICK(self, prefix: str, params: list[str]) -> None:
        """A nickname changed: ours (``nickChanged``) or another user's
        (``userRenamed``)."""
        nick = prefix.split("!", 1)[0]
        if nick == self.nickname:
            self.nickChanged(params[0])
        else:
            self.userRenamed(nick, params[0])

    def irc_KICK(self, prefix: str, params: list[str]) -> None:
        """Someone was kicked: us (``kickedFrom``) or another user
        (``userKicked``); nicknames compared without case."""
        kicker = prefix.split("!")[0]
        channel = params[0]
        kicked = params[1]
        message = params[-1]
        if kicked.lower() == self.nickname.lower():
            self.kickedFrom(channel, kicker, message)
        else:
            self.userKicked(kicked, channel, kicker, message)

    def irc_TOPIC(self, prefix: str, params: list[str]) -> None:
        """Someone set a channel's topic."""
        self.topicUpdated(prefix.split("!")[0], params[0], params[1])

    def irc_RPL_TOPIC(self, prefix: str, params: list[str]) -> None:
        """The topic of a channel, reported by the server."""
        self.topicUpdated(prefix.split("!")[0], params[1], params[2])

    def irc_RPL_NOTOPIC(self, prefix: str, params: list[str]) -> None:
        """A channel has no topic."""
        self.topicUpdated(prefix.split("!")[0], params[1], "")

    @staticmethod
    def _motdLine(params: list[str]) -> str:
        """The text of an MOTD line, without the ``"- "`` servers put
        first (also removed from ``params``, as Twisted does)."""
        if params[-1].startswith("- "):
            params[-1] = params[-1][2:]
        return params[-1]

    def irc_RPL_MOTDSTART(self, prefix: str, params: list[str]) -> None:
        """The message of the day begins."""
        self.motd = [self._motdLine(params)]

    def irc_RPL_MOTD(self, prefix: str, params: list[str]) -> None:
        """One line of the message of the day."""
        line = self._motdLine(params)
        if self.motd is None:
            self.motd = []
        self.motd.append(line)

    def irc_RPL_ENDOFMOTD(self, prefix: str, params: list[str]) -> None:
        """The message of the day is complete: ``receivedMOTD``."""
        motd, self.motd = self.motd, None
        self.receivedMOTD(motd)

    def irc_RPL_CREATED(self, prefix: str, params: list[str]) -> None:
        """See ``created``."""
        self.created(params[1])

    def irc_RPL_YOURHOST(self, prefix: str, params: list[str]) -> None:
        """See ``yourHost``."""
        self.yourHost(params[1])

    def irc_RPL_MYINFO(self, prefix: str, params: list[str]) -> None:
        """See ``myInfo``: the first four words of the reply's second
        parameter (the rest stays with the fourth), padded with None."""
        info: list[Any] = params[1].split(None, 3)
        info.extend([None] * (4 - len(info)))
        self.myInfo(*info)

    def irc_RPL_BOUNCE(self, prefix: str, params: list[str]) -> None:
        """See ``bounce``."""
        self.bounce(params[1])

    def irc_RPL_ISUPPORT(self, prefix: str, params: list[str]) -> None:
        """Record the features in ``supported``, then call ``isupport``."""
        options = params[1:-1]
        self.supported.parse(options)
        self.isupport(options)

    def irc_RPL_LUSERCLIENT(self, prefix: str, params: list[str]) -> None:
        """See ``luserClient``."""
        self.luserClient(params[1])

    def irc_RPL_LUSEROP(self, prefix: str, params: list[str]) -> None:
        """See ``luserOp``; a count that is not a number is ignored."""
        try:
            count = int(params[1])
        except ValueError:
            return
        self.luserOp(count)

    def irc_RPL_LUSERCHANNELS(self, prefix: str, params: list[str]) -> None:
        """See ``luserChannels``; a count that is not a number is ignored."""
        try:
            count = int(params[1])
        except ValueError:
            return
        self.luserChannels(count)

    def irc_RPL_LUSERME(self, prefix: str, params: list[str]) -> None:
        """See ``luserMe``."""
        self.luserMe(params[1])

    def irc_unknown(self, prefix: str, command: str, params: list[str]) -> None:
        """A message this client has no handler for: ignored."""

    # Mode parameters.

    def getUserModeParams(self) -> list[str]:
        """The user modes that take a parameter, as ``[adding, removing]``."""
        return ["", ""]

    def getChannelModeParams(self) -> list[str]:
        """The channel modes that take a parameter, as ``[adding,
        removing]``: the PREFIX modes and the list and parameter classes
        of CHANMODES both ways, and its set-only class when adding."""
        prefixes = self.supported.getFeature("PREFIX", {})
        both = "".join(prefixes.keys())
        adding = removing = both
        chanmodes = self.supported.getFeature("CHANMODES")
        if chanmodes is not None:
            removing = (
                both + chanmodes.get("addressModes", "") + chanmodes.get("param", "")
            )
            adding = removing + chanmodes.get("setParam", "")
        return [adding, removing]

    # Reporting odd input.

    def badMessage(self, line: str, excType: Any, excValue: Any, tb: Any) -> None:
        """Log a line that could not be parsed, with the exception."""
        log.msg(line)
        log.msg("".join(traceback.format_exception(excType, excValue, tb)))

    def quirkyMessage(self, s: str) -> None:
        """Log a message that is odd but understood."""
        log.msg(s + "\n")
