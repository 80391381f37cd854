"""IRCClient against a real IRC server (ngircd on loopback), on torsion's
reactor and on Twisted's: registration with a nickname collision, joining,
talking both ways, CTCP, an error raised by a callback, a KILL followed by
a reconnection and a rejoin. A second, plain client checks what the
server passed on."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

from conftest import spin, wait
from ircd import OPER_NAME, OPER_PASSWORD, Peer, running_ngircd


def botClasses(flavor: SimpleNamespace, record: list[Any]) -> Any:
    """A recording bot and a factory that reconnects it whenever the
    connection is lost."""
    irc = importlib.import_module(f"{flavor.name}.words.protocols.irc")

    class Bot(irc.IRCClient):
        nickname = "bot"
        realname = "Torsion Bot"
        versionName = "torsion-test"
        heartbeatInterval = None

        def signedOn(self) -> None:
            record.append(("signedOn", self.nickname))
            self.join(self.factory.channel)

        def joined(self, channel: str) -> None:
            record.append(("joined", channel))

        def privmsg(self, user: str, channel: str, message: str) -> None:
            record.append(("privmsg", user.split("!")[0], channel, message))
            if message == "boom":
                raise RuntimeError("raised by privmsg")
            if message.startswith(self.nickname + ":"):
                self.say(channel, "you said " + message.split(":", 1)[1].strip())

        def action(self, user: str, channel: str, data: str) -> None:
            record.append(("action", user.split("!")[0], channel, data))

        def noticed(self, user: str, channel: str, message: str) -> None:
            if "!" in user:
                record.append(("noticed", user.split("!")[0], channel, message))

        def userRenamed(self, oldname: str, newname: str) -> None:
            record.append(("userRenamed", oldname, newname))

        def topicUpdated(self, user: str, channel: str, newTopic: str) -> None:
            record.append(("topicUpdated", channel, newTopic))

        def modeChanged(self, user, channel, set, modes, args):  # type: ignore[no-untyped-def]
            record.append(("modeChanged", channel, set, modes, args))

        def receivedMOTD(self, motd: list[str]) -> None:
            record.append(("receivedMOTD", motd))

        def connectionLost(self, reason: Any) -> None:
            record.append(("connectionLost", reason.type.__name__))
            irc.IRCClient.connectionLost(self, reason)

    class Factory(flavor.protocol.ClientFactory):
        protocol = Bot
        channel = "#room"

        def buildProtocol(self, addr: Any) -> Any:
            self.bot = flavor.protocol.ClientFactory.buildProtocol(self, addr)
            return self.bot

        def clientConnectionLost(self, connector: Any, reason: Any) -> None:
            connector.connect()

    return Factory


def test_client_against_ngircd(flavor, tmp_path):
    """The whole scenario; the bot's record and the peers' views are
    spelled out."""
    record: list[Any] = []
    reactor = flavor.reactor
    errors: list[str] = []
    log = importlib.import_module(f"{flavor.name}.python.log")

    def observe(event: dict[str, Any]) -> None:
        if event.get("isError") and event.get("failure") is not None:
            errors.append(event["failure"].getErrorMessage())

    log.addObserver(observe)
    with running_ngircd(tmp_path) as ircd:
        holder = Peer(ircd.port, "bot")
        watcher = Peer(ircd.port, "watcher")
        try:
            watcher.send(f"OPER {OPER_NAME} {OPER_PASSWORD}")
            watcher.expect(" 381 watcher ")
            watcher.send("JOIN #room")
            watcher.expect(" 366 watcher #room ")
            factory = botClasses(flavor, record)()
            reactor.connectTCP("127.0.0.1", ircd.port, factory)
            spin(reactor, lambda: ("joined", "#room") in record)
            assert record[:3] == [
                ("signedOn", "bot_"),
                (
                    "receivedMOTD",
                    [
                        "irc.torsion.test message of the day",
                        "Welcome to the torsion test server",
                        "Second line",
                    ],
                ),
                ("joined", "#room"),
            ]
            assert factory.bot.supported.getFeature("NICKLEN") == 16
            assert factory.bot.supported.getFeature("PREFIX")["o"] == ("@", 2)
            watcher.expect(":bot_!~bot@127.0.0.1 JOIN :#room")

            watcher.send("PRIVMSG #room :boom")
            watcher.send("PRIVMSG #room :bot_: ping me")
            watcher.send("PRIVMSG #room :\x01ACTION waves\x01")
            watcher.send("PRIVMSG bot_ :\x01VERSION\x01")
            watcher.send("NOTICE #room :a notice")
            watcher.send("TOPIC #room :fresh topic")
            watcher.send("MODE #room +v bot_")
            spin(reactor, lambda: record[-1][0] == "modeChanged")
            assert record[3:] == [
                ("privmsg", "watcher", "#room", "boom"),
                ("privmsg", "watcher", "#room", "bot_: ping me"),
                ("action", "watcher", "#room", "waves"),
                ("noticed", "watcher", "#room", "a notice"),
                ("topicUpdated", "#room", "fresh topic"),
                ("modeChanged", "#room", True, "v", ("bot_",)),
            ]
            assert errors == ["raised by privmsg"]
            assert watcher.expect("PRIVMSG #room") == (
                ":bot_!~bot@127.0.0.1 PRIVMSG #room :you said ping me"
            )
            assert watcher.expect("NOTICE watcher") == (
                ":bot_!~bot@127.0.0.1 NOTICE watcher :\x01VERSION torsion-test::\x01"
            )
            watcher.send("NICK watcher2")
            spin(reactor, lambda: record[-1] == ("userRenamed", "watcher", "watcher2"))

            bot = factory.bot
            bot.describe("#room", "leaves for a while")
            bot.msg("#room", "x" * 300 + " " + "y" * 300, length=200)
            wait(reactor, 0.3)
            watcher.expect("ACTION leaves for a while")
            # 200 minus "PRIVMSG #room :" and CRLF leaves 183 characters.
            expected = ["x" * 183, "x" * 117 + " " + "y" * 65, "y" * 183, "y" * 52]
            got = [watcher.expect("PRIVMSG #room :") for _ in expected]
            assert got == [f":bot_!~bot@127.0.0.1 PRIVMSG #room :{p}" for p in expected]

            del record[:]
            watcher.send("KILL bot_ :enough")
            spin(reactor, lambda: ("topicUpdated", "#room", "fresh topic") in record)
            assert [entry[0] for entry in record] == [
                "connectionLost",
                "signedOn",
                "receivedMOTD",
                "joined",
                "topicUpdated",
            ]
            assert record[0] == ("connectionLost", "ConnectionDone")
            assert record[1] == ("signedOn", "bot_")
            watcher.expect(lambda line: line.startswith(":bot_!") and " QUIT " in line)
            watcher.expect(":bot_!~bot@127.0.0.1 JOIN :#room")
            factory.bot.quit("bye")
            spin(reactor, lambda: ("connectionLost", "ConnectionDone") in record[2:])
            factory.clientConnectionLost = lambda connector, reason: None
        finally:
            log.removeObserver(observe)
            holder.close()
            watcher.close()
