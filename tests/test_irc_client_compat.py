"""IRCClient fed the same server bytes as Twisted's, in every chunking:
the callbacks (name and arguments, in order), what it writes, whether it
disconnects, the exceptions dataReceived raises and the errors it logs
must be the same."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torsion.internet import testing as x_testing
from torsion.python import log as x_log
from torsion.words.protocols import irc as x_irc
from twisted.internet import testing as t_testing
from twisted.python import log as t_log
from twisted.words.protocols import irc as t_irc

TWISTED = SimpleNamespace(irc=t_irc, testing=t_testing, log=t_log, name="twisted")
TORSION = SimpleNamespace(irc=x_irc, testing=x_testing, log=x_log, name="torsion")

CALLBACKS = [
    "signedOn", "joined", "left", "privmsg", "noticed", "action", "userJoined",
    "userLeft", "userQuit", "userKicked", "userRenamed", "nickChanged",
    "topicUpdated", "modeChanged", "receivedMOTD", "bounce", "isupport",
    "created", "yourHost", "myInfo", "luserClient", "luserChannels", "luserOp",
    "luserMe", "kickedFrom", "pong", "irc_unknown", "ctcpQuery", "ctcpReply",
    "ctcpUnknownQuery", "ctcpUnknownReply", "quirkyMessage", "dccDoSend",
    "dccDoResume", "dccDoAcceptResume", "dccDoChat", "lineLengthExceeded",
]  # fmt: skip


def recordingClient(lib: SimpleNamespace, record: list[Any]) -> Any:
    """An IRCClient of ``lib`` whose callbacks append ``(name, args)`` to
    ``record`` before doing what the base class does."""

    def wrap(name: str) -> Any:
        base = getattr(lib.irc.IRCClient, name)

        def recorded(self: Any, *args: Any) -> Any:
            record.append((name, args))
            return base(self, *args)

        return recorded

    namespace: dict[str, Any] = {name: wrap(name) for name in CALLBACKS}
    namespace["heartbeatInterval"] = None
    namespace["versionName"] = "recorder"
    namespace["versionNum"] = "1.0"
    namespace["userinfo"] = "a test"
    namespace["fingerReply"] = "finger reply"

    def badMessage(self: Any, line: str, excType: Any, excValue: Any, tb: Any) -> None:
        record.append(("badMessage", (line, excType.__name__, str(excValue))))

    namespace["badMessage"] = badMessage
    return type("Recorder", (lib.irc.IRCClient,), namespace)


def play(lib: SimpleNamespace, chunks: list[bytes], nickname: str = "me") -> list[Any]:
    """Connect a recording client to a StringTransport, feed it ``chunks``
    and return everything observable, in order."""
    record: list[Any] = []
    client = recordingClient(lib, record)()
    client.nickname = nickname
    transport = lib.testing.StringTransport()

    def observe(event: dict[str, Any]) -> None:
        if event.get("isError"):
            failure = event.get("failure")
            record.append(("logged", failure.type.__name__ if failure else None))

    lib.log.addObserver(observe)
    try:
        client.makeConnection(transport)
        record.append(("wrote", transport.value()))
        transport.clear()
        for chunk in chunks:
            if transport.disconnecting:
                break
            try:
                client.dataReceived(chunk)
            except Exception as e:
                record.append(("raised", type(e).__name__, str(e)))
                break
            if transport.value():
                record.append(("wrote", transport.value()))
                transport.clear()
    finally:
        lib.log.removeObserver(observe)
    record.append(("disconnecting", transport.disconnecting))
    record.append(("nickname", client.nickname))
    return record


def both(chunks: list[bytes], nickname: str = "me") -> list[Any]:
    """Play ``chunks`` on both libraries; assert equal records."""
    expected = play(TWISTED, chunks, nickname)
    actual = play(TORSION, chunks, nickname)
    assert actual == expected
    return actual


def chunked(data: bytes, size: int) -> list[bytes]:
    """``data`` in pieces of ``size`` bytes."""
    return [data[i : i + size] for i in range(0, len(data), size)]


SESSION = (
    b":irc.test 433 * me :Nickname is already in use\r\n"
    b":irc.test 432 * me_ :Erroneous nickname\r\n"
    b":irc.test 001 defaultnick :Welcome to the Internet Relay Network\r\n"
    b":irc.test 002 defaultnick :Your host is irc.test, running version x\r\n"
    b":irc.test 003 defaultnick :This server has been started today\r\n"
    b":irc.test 004 defaultnick irc.test ngircd-26.1 abBcC abehiIk\r\n"
    b":irc.test 005 defaultnick PREFIX=(qaohv)~&@%+ CHANTYPES=#&+ "
    b"CHANMODES=beI,k,l,imMnOPQRstVz NICKLEN=16 :are supported\r\n"
    b":irc.test 010 defaultnick other.test 6667 :bounce\r\n"
    b":irc.test 251 defaultnick :There are 2 users\r\n"
    b":irc.test 252 defaultnick 1 :operator(s) online\r\n"
    b":irc.test 252 defaultnick x :operator(s) online\r\n"
    b":irc.test 254 defaultnick 3 :channels formed\r\n"
    b":irc.test 255 defaultnick :I have 2 users\r\n"
    b":irc.test 375 defaultnick :- irc.test message of the day\r\n"
    b":irc.test 372 defaultnick :- line one\r\n"
    b":irc.test 372 defaultnick :line two\r\n"
    b":irc.test 376 defaultnick :End of MOTD command\r\n"
    b"PING :irc.test\r\n"
    b":defaultnick!~u@h JOIN :#chan\r\n"
    b":irc.test 332 defaultnick #chan :the topic\r\n"
    b":irc.test 331 defaultnick #empty :No topic is set\r\n"
    b":alice!~a@h JOIN #chan\r\n"
    b":alice!~a@h PRIVMSG #chan :hello \xc3\xa9 world\r\n"
    b":alice!~a@h PRIVMSG defaultnick :\x01VERSION\x01\r\n"
    b":alice!~a@h PRIVMSG defaultnick :\x01PING 12345\x01\r\n"
    b":alice!~a@h PRIVMSG defaultnick :\x01USERINFO\x01\x01FINGER\x01\r\n"
    b":alice!~a@h PRIVMSG defaultnick :\x01SOURCE\x01\x01ERRMSG oops\x01\r\n"
    b":alice!~a@h PRIVMSG defaultnick :\x01CLIENTINFO\x01\r\n"
    b":alice!~a@h PRIVMSG defaultnick :\x01CLIENTINFO NOPE\x01\r\n"
    b":alice!~a@h PRIVMSG defaultnick :\x01VERSION extra\x01\r\n"
    b":alice!~a@h PRIVMSG defaultnick :\x01BOGUS x\x01\x01BOGUS y\x01\r\n"
    b":alice!~a@h PRIVMSG #chan :\x01ACTION waves\x01 and \x01ACTION again\x01\r\n"
    b":alice!~a@h PRIVMSG #chan :\r\n"
    b":alice!~a@h PRIVMSG #chan :\x01DCC SEND file.txt 3232235777 5000 1024\x01\r\n"
    b":alice!~a@h PRIVMSG #chan :\x01DCC SEND onlytwo 1\x01\r\n"
    b":alice!~a@h PRIVMSG #chan :\x01DCC RESUME f 5000 10\x01\r\n"
    b":alice!~a@h PRIVMSG #chan :\x01DCC ACCEPT f 5000 x\x01\r\n"
    b":alice!~a@h PRIVMSG #chan :\x01DCC CHAT chat 127.0.0.1 5001\x01\r\n"
    b":alice!~a@h PRIVMSG #chan :\x01DCC WHAT\x01\r\n"
    b":alice!~a@h NOTICE defaultnick :\x01PING nope\x01\r\n"
    b":alice!~a@h NOTICE defaultnick :\x01VERSION x:y:z\x01 and text\r\n"
    b":alice!~a@h NOTICE #chan :a notice\r\n"
    b":alice!~a@h MODE #chan +o-v+l defaultnick alice 10\r\n"
    b":alice!~a@h MODE #chan +kb key *!*@*\r\n"
    b":alice!~a@h MODE #chan -k key\r\n"
    b":alice!~a@h MODE #chan +o\r\n"
    b":irc.test MODE defaultnick :+i\r\n"
    b":alice!~a@h TOPIC #chan :new topic\r\n"
    b":alice!~a@h NICK :alice2\r\n"
    b":alice2!~a@h KICK #chan bob :bye bob\r\n"
    b":alice2!~a@h KICK #chan DefaultNick :bye you\r\n"
    b":alice2!~a@h PART #chan :leaving\r\n"
    b":defaultnick!~u@h PART #chan\r\n"
    b":defaultnick!~u@h NICK :newnick\r\n"
    b":bob!~b@h QUIT :Quit: gone\r\n"
    b":irc.test 999 newnick :unknown numeric\r\n"
    b":irc.test WEIRD a b :c d\r\n"
    b":irc.test 464 newnick :Password incorrect\r\n"
    b"\r\n"
    b":x!y@z PRIVMSG #chan :low \x10n quoted \x10\x10 \x10r\r\n"
    b":x!y@z PRIVMSG #chan :carriage\rin the middle\n"
    b":irc.test ERROR :Closing Link\r\n"
)


@pytest.mark.parametrize("size", [len(SESSION), 1, 2, 3, 7, 64, 500])
def test_recorded_session(size):
    """A whole server session, including registration troubles, every
    sign-on numeric, MOTD, CTCP queries and replies, DCC offers, modes,
    kicks, renames, unknown commands and odd lines, fed in pieces of
    ``size`` bytes down to one: the same calls in the same order."""
    record = both(chunked(SESSION, size))
    names = [entry[0] for entry in record]
    assert names.count("privmsg") == 4
    assert ("signedOn", ()) in record
    assert ("nickname", "newnick") in record
    assert (
        "modeChanged",
        ("alice!~a@h", "#chan", True, "ol", ("defaultnick", "10")),
    ) in record
    assert ("modeChanged", ("alice!~a@h", "#chan", False, "v", ("alice",))) in record
    assert (
        "receivedMOTD",
        (["irc.test message of the day", "line one", "line two"],),
    ) in record
    assert ("logged", "IRCPasswordMismatch") in record
    assert ("logged", "IRCBadMessage") in record
    assert ("logged", "IRCBadModes") in record


def test_session_wire_bytes():
    """What the client sends during the session, spelled out for the first
    steps (registration, the nick retries, PONG)."""
    record = both([SESSION])
    wrote = b"".join(entry[1] for entry in record if entry[0] == "wrote")
    assert wrote.startswith(
        b"NICK me\r\nUSER me foo bar :None\r\nNICK me_\r\nNICK defaultnick\r\n"
        b"PONG irc.test\r\n"
    )
    assert b"NOTICE alice :\x01VERSION recorder:1.0:\x01\r\n" in wrote
    assert b"NOTICE alice :\x01PING 12345\x01\r\n" in wrote


BAD_STREAMS = [
    b":irc.test 001 me :hi\r\n:irc.test 002 me :\xff\xfe bad utf-8\r\nPING :x\r\n",
    b":prefixonly\r\nPING :x\r\n",
    b":pfx \r\nPING :x\r\n",
    b"PING :a\r\n" + b"x" * 20000 + b"\r\nPING :b\r\n",
    b"PING :a\r\n" + b"y" * 17000,
    b"PING :a\r\nQUIT\r\n:me!u@h QUIT\r\n",
    b":a!b@c MODE\r\n:a!b@c MODE #x\r\n:a!b@c KICK #x\r\n:a!b@c NOTICE #x :\r\n",
    b":a!b@c JOIN\r\n:a!b@c PRIVMSG\r\n:irc.test 332 me\r\n:irc.test 004 me\r\n",
    b"\n\n\r\r\n \r\n:a!b@c PRIVMSG me :\x10",
]


@pytest.mark.parametrize("stream", BAD_STREAMS)
@pytest.mark.parametrize("size", [None, 1, 5])
def test_bad_input(stream, size):
    """Undecodable bytes, lines with no command or missing parameters and
    over-long lines end or go on exactly as with Twisted."""
    both([stream] if size is None else chunked(stream, size))


SAMPLE_LINES = [line + b"\r\n" for line in SESSION.split(b"\r\n") if line]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_random_sessions(data):
    """Random sequences of session lines, some damaged, cut at random
    places: the same record."""
    lines = data.draw(st.lists(st.sampled_from(SAMPLE_LINES), max_size=12))
    stream = bytearray(b"".join(lines))
    for _ in range(data.draw(st.integers(0, 3))):
        if stream:
            at = data.draw(st.integers(0, len(stream) - 1))
            stream[at] = data.draw(st.sampled_from(b" :\r\n\x01\x10!#0"))
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(stream)), max_size=6))))
    pieces, start = [], 0
    for cut in [*cuts, len(stream)]:
        pieces.append(bytes(stream[start:cut]))
        start = cut
    both([p for p in pieces if p])


def sent(lib: SimpleNamespace, action: Any) -> bytes:
    """What a connected (unregistered) client writes when ``action(client)``
    runs."""
    client = lib.irc.IRCClient()
    client.performLogin = 0
    transport = lib.testing.StringTransport()
    client.makeConnection(transport)
    try:
        action(client)
    except Exception as e:
        return f"raised {type(e).__name__}: {e}".encode()
    return transport.value()


COMMANDS = [
    lambda c: c.join("chan"),
    lambda c: c.join("#chan", "key"),
    lambda c: c.join("&local"),
    lambda c: c.leave("chan", "bye now"),
    lambda c: c.part("+chan"),
    lambda c: c.kick("chan", "bob"),
    lambda c: c.kick("chan", "bob", "reason"),
    lambda c: c.invite("bob", "chan"),
    lambda c: c.topic("chan"),
    lambda c: c.topic("chan", ""),
    lambda c: c.topic("chan", "new topic"),
    lambda c: c.mode("#chan", True, "l", limit=10),
    lambda c: c.mode("#chan", False, "o", user="bob"),
    lambda c: c.mode("#chan", True, "b", mask="*!*@*"),
    lambda c: c.mode("me", True, "i"),
    lambda c: c.say("chan", "hello"),
    lambda c: c.msg("bob", "line one\nline two\n\nline three"),
    lambda c: c.msg("bob", "word " * 200),
    lambda c: c.msg("bob", "abcdefghij " * 10, 40),
    lambda c: c.msg("bob", "x", 15),
    lambda c: c.msg("bob", "xy z", 17),
    lambda c: c.notice("bob", "a notice " * 80),
    lambda c: c.describe("#chan", "waves"),
    lambda c: c.away("lunch"),
    lambda c: c.back(),
    lambda c: c.whois("bob"),
    lambda c: c.whois("bob", "irc.test"),
    lambda c: c.setNick("other"),
    lambda c: c.quit("bye"),
    lambda c: c.quit(),
    lambda c: c.register("nick"),
    lambda c: c.msg("bob", "nul\x00 cr\r quote\x10 é"),
    lambda c: c.ctcpMakeQuery("bob", [("VERSION", None), ("PING", "1 2")]),
    lambda c: c.ctcpMakeReply("bob", [("TIME", ":now")]),
    lambda c: c.dccResume("bob", "file", 5000, 100),
    lambda c: c.dccAcceptResume("bob", "file", 5000, 100),
    lambda c: c.dccSend("bob", "file"),
]


@pytest.mark.parametrize("index", range(len(COMMANDS)))
def test_commands_on_the_wire(index):
    """Each command writes Twisted's bytes (or raises its exception)."""
    action = COMMANDS[index]
    expected = sent(TWISTED, action)
    actual = sent(TORSION, action)
    if expected.startswith(b"raised "):
        assert actual.split(b":")[0] == expected.split(b":")[0]
    else:
        assert actual == expected


def test_commands_exact():
    """A few lines spelled out."""
    assert sent(TORSION, COMMANDS[0]) == b"JOIN #chan\r\n"
    assert sent(TORSION, COMMANDS[16]) == (
        b"PRIVMSG bob :line one\r\nPRIVMSG bob :line two\r\nPRIVMSG bob :line three\r\n"
    )
    assert sent(TORSION, COMMANDS[22]) == b"PRIVMSG #chan :\x01ACTION waves\x01\r\n"
    assert sent(TORSION, COMMANDS[31]) == (
        # split() (textwrap) turns the CR into a space before quoting.
        "PRIVMSG bob :nul\x100 cr  quote\x10\x10 é\r\n".encode()
    )
    assert sent(TORSION, COMMANDS[19]).startswith(b"raised ValueError")
