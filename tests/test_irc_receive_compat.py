"""IRCClient's receiving loop when a callback changes how the rest of the
data must be read: it pauses, switches to raw mode, empties or reads the
line buffer, feeds more data in, changes the delimiter, disconnects, or
replaces ``handleCommand``/``lineReceived`` on the instance.  Each is run
beside Twisted's IRCClient on the same bytes in several chunkings (down to
one byte, and all at once, where the whole stream is one fast batch); the
records (calls, bytes written, what was raw, the buffer seen) must be
equal."""

from __future__ import annotations

from typing import Any

import pytest
from test_irc_client_compat import TORSION, TWISTED, chunked


def client(lib: Any, record: list[Any], action: str) -> Any:
    """A client recording privmsg, rawDataReceived and badMessage; the
    message ``do`` makes it perform ``action``."""

    class Client(lib.irc.IRCClient):
        heartbeatInterval = None

        def privmsg(self, user: str, channel: str, message: str) -> None:
            record.append(("privmsg", message))
            if message == "do":
                getattr(self, "do_" + action)()

        def rawDataReceived(self, data: bytes) -> None:
            record.append(("raw", data))

        def badMessage(self, line: str, *exc: Any) -> None:
            record.append(("bad", line, exc[0].__name__))

        def do_pause(self) -> None:
            self.pauseProducing()

        def do_raw(self) -> None:
            self.setRawMode()

        def do_rawAndBack(self) -> None:
            self.setRawMode()
            self.setLineMode(b":q!q@q PRIVMSG #c :extra\n")

        def do_clear(self) -> None:
            record.append(("cleared", self.clearLineBuffer()))

        def do_reenter(self) -> None:
            self.dataReceived(b":r!r@r PRIVMSG #c :reentered\r\n")

        def do_delimiter(self) -> None:
            self.delimiter = b"!"

        def do_lose(self) -> None:
            self.transport.loseConnection()

        def do_handleCommand(self) -> None:
            def handle(command: str, prefix: str, params: list[str]) -> None:
                record.append(("handled", command, params))

            self.handleCommand = handle

        def do_lineReceived(self) -> None:
            self.lineReceived = lambda line: record.append(("line", line))

    return Client()


ASCII = (
    b":a!b@c PRIVMSG #c :one\r\n"
    b":a!b@c PRIVMSG #c :do\r\n"
    b":a!b@c PRIVMSG #c :after\r\n"
    b":a!b@c PRIVMSG #c :\x10n quoted\r\n"
    b"\r\n"
    b":a!b@c PRIVMSG #c :three!four\r\n"
    b":a!b@c PRIVMSG #c :tail"
)
# Not ASCII: read line by line by LineReceiver, not as one batch.
STREAM = ASCII.replace(b":after", b":after \xc3\xa9")

ACTIONS = [
    "pause",
    "raw",
    "rawAndBack",
    "clear",
    "reenter",
    "delimiter",
    "lose",
    "handleCommand",
    "lineReceived",
]


def play(lib: Any, action: str, chunks: list[bytes]) -> list[Any]:
    """Feed ``chunks`` (until one raises); resume if paused."""
    record: list[Any] = []
    c = client(lib, record, action)
    transport = lib.testing.StringTransport()
    c.makeConnection(transport)
    transport.clear()
    for chunk in chunks:
        try:
            c.dataReceived(chunk)
        except Exception as e:
            record.append(("raised", type(e).__name__, str(e)))
            break
        record.append(("wrote", transport.value(), transport.disconnecting))
    if c.paused:
        c.resumeProducing()
        record.append(("resumed",))
    record.append(("buffer", c.clearLineBuffer()))
    return record


@pytest.mark.parametrize("stream", [ASCII, STREAM], ids=["ascii", "utf8"])
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("size", [None, 1, 9, 40])
def test_state_changes(action, size, stream):
    """The same records as Twisted's for every action and chunking."""
    chunks = [stream] if size is None else chunked(stream, size)
    expected = play(TWISTED, action, chunks)
    assert play(TORSION, action, chunks) == expected
    assert ("privmsg", "do") in expected


def test_state_changes_exact():
    """Two outcomes spelled out (all at once): pausing holds the rest until
    resumed; a raw switch hands the rest over raw, CRs removed."""
    paused = play(TORSION, "pause", [ASCII])
    assert paused[:3] == [
        ("privmsg", "one"),
        ("privmsg", "do"),
        ("wrote", b"", False),
    ]
    assert paused[3] == ("privmsg", "after")
    raw = play(TORSION, "raw", [ASCII])
    assert raw[2] == ("raw", ASCII.replace(b"\r", b"")[45:])
