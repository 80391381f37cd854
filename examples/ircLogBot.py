"""The IRC log bot from "Writing Clients" (Twisted Words' ircLogBot.py).

    python examples/ircLogBot.py CHANNEL LOGFILE [--host irc.freenode.net]
        [--port 6667]

Connects to an IRC server as ``twistedbot``, joins ``#CHANNEL`` and appends
everything said there to LOGFILE, one ``[HH:MM:SS] message`` line each:
messages, actions (``/me``), nickname changes, and its own joins,
connections and disconnections.  Addressed as ``twistedbot: ...`` in the
channel it answers ``NICK: I am a log bot``; sent a private message it asks
not to be whispered to.  If its nickname is taken it tries ``twistedbot^``.
When the connection is lost (the server kills it, say) the factory
reconnects at once.  Twisted's log goes to standard output.
"""

import argparse
import sys
import time

from torsion.internet import protocol, reactor
from torsion.python import log
from torsion.words.protocols import irc


class MessageLogger:
    """Writes timestamped lines to a file: the application's side, kept
    apart from the protocol."""

    def __init__(self, file):
        self.file = file

    def log(self, message):
        """Append ``message`` with the time of day, and flush."""
        timestamp = time.strftime("[%H:%M:%S]", time.localtime(time.time()))
        self.file.write(f"{timestamp} {message}\n")
        self.file.flush()

    def close(self):
        self.file.close()


class LogBot(irc.IRCClient):
    """An IRC bot that logs one channel."""

    nickname = "twistedbot"

    def connectionMade(self):
        irc.IRCClient.connectionMade(self)
        self.logger = MessageLogger(open(self.factory.filename, "a"))
        now = time.asctime(time.localtime(time.time()))
        self.logger.log(f"[connected at {now}]")

    def connectionLost(self, reason):
        irc.IRCClient.connectionLost(self, reason)
        now = time.asctime(time.localtime(time.time()))
        self.logger.log(f"[disconnected at {now}]")
        self.logger.close()

    # Events of the connection and the channel.

    def signedOn(self):
        """Registered with the server: join the channel."""
        self.join(self.factory.channel)

    def joined(self, channel):
        """The bot is in ``channel``."""
        self.logger.log(f"[I have joined {channel}]")

    def privmsg(self, user, channel, msg):
        """Log a message; answer a private one, or one addressed to us."""
        user = user.split("!", 1)[0]
        self.logger.log(f"<{user}> {msg}")

        if channel == self.nickname:
            self.msg(user, "It isn't nice to whisper!  Play nice with the group.")
            return

        if msg.startswith(self.nickname + ":"):
            reply = f"{user}: I am a log bot"
            self.msg(channel, reply)
            self.logger.log(f"<{self.nickname}> {reply}")

    def action(self, user, channel, msg):
        """Log an action (``/me waves``)."""
        user = user.split("!", 1)[0]
        self.logger.log(f"* {user} {msg}")

    # A raw IRC command handler, overriding the client's own.

    def irc_NICK(self, prefix, params):
        """Log a change of nickname."""
        old_nick = prefix.split("!")[0]
        new_nick = params[0]
        self.logger.log(f"{old_nick} is now known as {new_nick}")

    def alterCollidedNick(self, nickname):
        """On a nickname collision, try a caret after the name (the default
        adds an underscore)."""
        return nickname + "^"


class LogBotFactory(protocol.ClientFactory):
    """Makes a LogBot for each connection and holds what outlives one:
    the channel and the log file's name."""

    def __init__(self, channel, filename):
        self.channel = channel
        self.filename = filename

    def buildProtocol(self, addr):
        p = LogBot()
        p.factory = self
        return p

    def clientConnectionLost(self, connector, reason):
        """Reconnect whenever the connection is lost."""
        connector.connect()

    def clientConnectionFailed(self, connector, reason):
        print("connection failed:", reason)
        reactor.stop()


def main(argv=None):
    """Log the channel until stopped."""
    parser = argparse.ArgumentParser(description="An IRC bot that logs a channel.")
    parser.add_argument("channel", help="the channel to log (# is added)")
    parser.add_argument("logfile", help="the file the log is appended to")
    parser.add_argument("--host", default="irc.freenode.net")
    parser.add_argument("--port", type=int, default=6667)
    args = parser.parse_args(argv)

    log.startLogging(sys.stdout)
    f = LogBotFactory(args.channel, args.logfile)
    reactor.connectTCP(args.host, args.port, f)
    reactor.run()


if __name__ == "__main__":
    main()
