"""DCC (``DccFileReceive``, ``DccSendProtocol``/``DccSendFactory``,
``DccChat``/``DccChatFactory``, ``fileSize``, ``dccDescribe``) over real
loopback connections on torsion and on Twisted (``flavor``), with exact
bytes, acknowledgements, files on disk and logged errors; the helpers
compared with Twisted's on the same inputs."""

from __future__ import annotations

import importlib
import io
import os
import pickle
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import spin, wait
from test_irc_parse_compat import outcome
from torsion.words.protocols import irc as x_irc
from twisted.words.protocols import irc as t_irc


def irc(flavor: SimpleNamespace) -> Any:
    """The flavor's irc module."""
    return importlib.import_module(f"{flavor.name}.words.protocols.irc")


@contextmanager
def loggedErrors(flavor: SimpleNamespace) -> Iterator[list[str]]:
    """The names of the exception types logged as errors meanwhile."""
    log = importlib.import_module(f"{flavor.name}.python.log")
    names: list[str] = []

    def observe(event: dict[str, Any]) -> None:
        failure = event.get("failure")
        if event.get("isError") and failure is not None:
            names.append(failure.type.__name__)

    log.addObserver(observe)
    try:
        yield names
    finally:
        log.removeObserver(observe)
        if flavor.name == "torsion":
            from torsion.internet.testing import flushLoggedErrors

            flushLoggedErrors()


PIECES = [b"x", b"yz", bytes(range(256)) * 4, b"\r\n\x00end"]


class Sender:
    """A DCC SEND peer written for the test: sends ``pieces`` one at a time,
    each once the previous one is fully acknowledged (counting from
    ``start``, the receiver's resume offset), records every acknowledgement
    and closes after the last."""

    def __init__(
        self, flavor: SimpleNamespace, pieces: list[bytes], start: int
    ) -> None:
        self.pieces = list(pieces)
        self.acks: list[int] = []
        self.sent = start
        self.closed = False
        outer = self

        class Protocol(flavor.protocol.Protocol):
            def connectionMade(self) -> None:
                self.pending = b""
                outer.next(self.transport)

            def dataReceived(self, data: bytes) -> None:
                self.pending += data
                while len(self.pending) >= 4:
                    (total,) = struct.unpack("!i", self.pending[:4])
                    self.pending = self.pending[4:]
                    outer.acks.append(total)
                    if total == outer.sent:
                        outer.next(self.transport)

            def connectionLost(self, reason: Any) -> None:
                outer.closed = True

        self.factory = flavor.protocol.Factory.forProtocol(Protocol)

    def next(self, transport: Any) -> None:
        if not self.pieces:
            transport.loseConnection()
            return
        piece = self.pieces.pop(0)
        self.sent += len(piece)
        transport.write(piece)


def receive(
    flavor: SimpleNamespace, receiver: Any, pieces: list[bytes], start: int = 0
) -> Sender:
    """Serve ``pieces`` with a Sender on loopback and connect ``receiver``
    (a protocol instance) to it; return the sender when both ends closed."""
    reactor = flavor.reactor
    sender = Sender(flavor, pieces, start)
    port = reactor.listenTCP(0, sender.factory, interface="127.0.0.1")
    lost: list[Any] = []
    receiver.connectionLost = lambda reason, lose=receiver.connectionLost: (
        lost.append(reason.type),
        lose(reason),
    )
    creator = flavor.protocol.ClientCreator(reactor, lambda: receiver)
    creator.connectTCP("127.0.0.1", port.getHost().port)
    try:
        spin(reactor, lambda: sender.closed and bool(lost))
    finally:
        port.stopListening()
    return sender


def totals(pieces: list[bytes], start: int = 0) -> list[int]:
    """The running totals after each piece."""
    result, total = [], start
    for piece in pieces:
        total += len(piece)
        result.append(total)
    return result


def checkAcks(acks: list[int], expected: list[int]) -> None:
    """Acknowledgements grow, and include every piece's running total (a
    piece split by the kernel is acknowledged once per read)."""
    assert acks == sorted(acks)
    assert set(expected) <= set(acks)
    assert acks[-1] == expected[-1]


def test_receive_file(flavor, tmp_path):
    """A DccFileReceive writes exactly what was sent to destDir/filename
    and acknowledges the running total after each read."""
    receiver = irc(flavor).DccFileReceive(
        "got.bin",
        fileSize=1033,
        queryData=("nick!u@h", "me", "SEND"),
        destDir=str(tmp_path),
    )
    sender = receive(flavor, receiver, PIECES)
    assert (tmp_path / "got.bin").read_bytes() == b"".join(PIECES)
    checkAcks(sender.acks, totals(PIECES))
    assert receiver.bytesReceived == 1033
    assert receiver.file.closed
    assert receiver.fromUser == "nick!u@h"
    assert str(receiver).startswith("<Unconnected DccFileReceive object at ")


def test_receive_resume(flavor, tmp_path):
    """With resumeOffset the existing file is cut there and appended to;
    acknowledgements count from the offset."""
    (tmp_path / "part.bin").write_bytes(b"0123456789ABCDEFGHIJ")
    receiver = irc(flavor).DccFileReceive(
        "part.bin", destDir=str(tmp_path), resumeOffset=11
    )
    with loggedErrors(flavor) as errors:
        sender = receive(flavor, receiver, [b"resumed", b"!"], start=11)
    assert errors == []
    assert (tmp_path / "part.bin").read_bytes() == b"0123456789Aresumed!"
    checkAcks(sender.acks, [18, 19])
    assert receiver.resume is True


def test_receive_overwrite(flavor, tmp_path):
    """set_overwrite(True) replaces an existing file."""
    (tmp_path / "old.bin").write_bytes(b"old contents, longer than the new")
    receiver = irc(flavor).DccFileReceive("old.bin", destDir=str(tmp_path))
    receiver.set_overwrite(True)
    receive(flavor, receiver, [b"new"])
    assert (tmp_path / "old.bin").read_bytes() == b"new"


def test_receive_refused(flavor, tmp_path):
    """An existing file (without overwrite) is refused from connectionMade:
    the OSError is logged, the connection closes, nothing is written."""
    (tmp_path / "taken.bin").write_bytes(b"keep")
    receiver = irc(flavor).DccFileReceive("taken.bin", destDir=str(tmp_path))
    with loggedErrors(flavor) as errors:
        sender = receive(flavor, receiver, [b"data"])
    assert errors == ["FileExistsError"]
    assert (tmp_path / "taken.bin").read_bytes() == b"keep"
    assert sender.acks == []


def test_receive_basic_acks_big_counts(flavor):
    """DccFileReceiveBasic acknowledges without keeping anything, from its
    resume offset."""
    receiver = irc(flavor).DccFileReceiveBasic(resumeOffset=1000)
    sender = receive(flavor, receiver, [b"a" * 70000, b"b"], start=1000)
    checkAcks(sender.acks, [71000, 71001])
    assert receiver.resume is True


def refusal(module: Any, tmp_path: Any, name: str, **kwargs: Any) -> Any:
    """What DccFileReceive's connectionMade raises (errno, message and
    file name) for ``name`` in ``tmp_path``."""
    receiver = module.DccFileReceive(name, destDir=str(tmp_path), **kwargs)

    def connect() -> None:
        receiver.connectionMade()
        receiver.file.close()

    return outcome(connect)


def test_refusals_match_twisted(tmp_path):
    """Each refusal is Twisted's OSError, errno, message and path."""
    (tmp_path / "exists").write_bytes(b"")
    cases = [
        ("exists", {}, "FileExistsError"),
        ("missing", {"resumeOffset": 3}, "FileNotFoundError"),
    ]
    for name, kwargs, error in cases:
        mine = refusal(x_irc, tmp_path, name, **kwargs)
        assert mine[:2] == ("raised", error)
        assert mine == refusal(t_irc, tmp_path, name, **kwargs)


def test_set_directory_matches_twisted(tmp_path):
    """set_directory refuses a missing path, a file and an unwritable
    directory with Twisted's errors, and accepts a directory."""
    (tmp_path / "file").write_bytes(b"")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    results = []
    for where in ("missing", "file", "locked", "."):
        path = str(tmp_path / where)
        pair = []
        for module in (x_irc, t_irc):
            receiver = module.DccFileReceive("f")

            def move(receiver: Any = receiver, path: str = path) -> Any:
                receiver.set_directory(path)
                return receiver.destDir

            pair.append(outcome(move))
        assert pair[0] == pair[1]
        results.append(pair[0])
    assert results[0][:2] == ("raised", "FileNotFoundError")
    assert results[1][:2] == ("raised", "NotADirectoryError")
    if os.geteuid() != 0:
        assert results[2][:2] == ("raised", "PermissionError")
    assert results[3] == ("returned", str(tmp_path / "."))


def serve(
    flavor: SimpleNamespace, factory: Any, client: bool, until: Any = None
) -> SimpleNamespace:
    """Serve ``factory`` on loopback, connect a protocol that collects the
    bytes and, when ``client`` is true, acknowledges them as a DCC receiver
    does; return what arrived once the connection is closed (or, given
    ``until``, once ``until()`` is true and 0.2 s more have passed; the
    client then closes)."""
    reactor = flavor.reactor
    result = SimpleNamespace(data=b"", reason=None, open=[])
    base = irc(flavor).DccFileReceiveBasic if client else flavor.protocol.Protocol

    class Collector(base):  # type: ignore[misc, valid-type]
        def connectionMade(self) -> None:
            result.open.append(self.transport)

        def dataReceived(self, data: bytes) -> None:
            result.data += data
            if client:
                super().dataReceived(data)

        def connectionLost(self, reason: Any) -> None:
            result.reason = reason.type.__name__

    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    flavor.protocol.ClientCreator(reactor, Collector).connectTCP(
        "127.0.0.1", port.getHost().port
    )
    try:
        if until is not None:
            spin(reactor, until)
            wait(reactor, 0.2)
            result.stillOpen = result.reason is None
            result.open[0].loseConnection()
        spin(reactor, lambda: result.reason is not None)
    finally:
        port.stopListening()
    return result


def test_send_by_name_is_text(flavor, tmp_path):
    """DccSendFactory given a file name opens it as text (as Twisted does):
    the first write of a str raises TypeError in connectionMade, which is
    logged; nothing is sent and the server leaves the connection open."""
    path = tmp_path / "out.txt"
    path.write_bytes(b"some text")
    factory = irc(flavor).DccSendFactory(str(path))
    with loggedErrors(flavor) as errors:
        result = serve(flavor, factory, client=True, until=lambda: bool(errors))
    assert (result.data, errors, result.stillOpen) == (b"", ["TypeError"], True)


def binarySender(flavor: SimpleNamespace, built: list[Any]) -> type:
    """A DccSendProtocol that opens its file name in binary."""

    class Binary(irc(flavor).DccSendProtocol):  # type: ignore[misc]
        def __init__(self, file: str) -> None:
            self.file = open(file, "rb")  # noqa: SIM115
            built.append(self)

    return Binary


def test_send_stops_after_first_block(flavor, tmp_path):
    """A binary DccSendProtocol sends one 1024-byte block; the receiver's
    acknowledgement is compared as a tuple (Twisted's behaviour), which
    raises TypeError: logged, and the connection closes."""
    path = tmp_path / "big.bin"
    path.write_bytes(bytes(range(256)) * 10)
    built: list[Any] = []
    factory = irc(flavor).DccSendFactory(str(path))
    factory.protocol = binarySender(flavor, built)
    with loggedErrors(flavor) as errors:
        result = serve(flavor, factory, client=True)
    assert result.data == bytes(range(256)) * 4
    assert errors == ["TypeError"]
    (sender,) = built
    assert (sender.bytesSent, sender.completed, sender.connected) == (1024, 0, 0)
    assert sender.file.closed and sender.factory is factory


def test_send_empty_file_completes(flavor, tmp_path):
    """An empty file: nothing to send, the connection closes cleanly and
    the transfer is complete."""
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    built: list[Any] = []
    factory = irc(flavor).DccSendFactory(str(path))
    factory.protocol = binarySender(flavor, built)
    with loggedErrors(flavor) as errors:
        result = serve(flavor, factory, client=False)
    assert (result.data, result.reason, errors) == (b"", "ConnectionDone", [])
    assert (built[0].completed, built[0].bytesSent) == (1, 0)


class ChatClient:
    """The IRC client side a DccChat talks to."""

    nickname = "me"

    def __init__(self) -> None:
        self.dcc_sessions: list[Any] = []
        self.messages: list[Any] = []

    def privmsg(self, user: str, channel: str, message: str) -> None:
        self.messages.append((user, channel, message))


def test_chat(flavor):
    """A DccChatFactory connects a DccChat (registered in the client's
    dcc_sessions) that sends CRLF lines; receiving bytes raises TypeError
    in DccChat.dataReceived, as in Twisted, which ends the connection and
    removes the factory from dcc_sessions."""
    reactor = flavor.reactor
    heard = SimpleNamespace(data=b"")

    class Peer(flavor.protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            heard.data += data
            if heard.data.endswith(b"bye\r\n"):
                self.transport.write(b"hi there\r\n")

    port = reactor.listenTCP(
        0, flavor.protocol.Factory.forProtocol(Peer), interface="127.0.0.1"
    )
    client = ChatClient()
    factory = irc(flavor).DccChatFactory(client, ("friend!u@h", "me", "CHAT"))
    client.dcc_sessions.append(factory)
    chats: list[Any] = []
    build = factory.buildProtocol
    factory.buildProtocol = lambda addr: chats.append(build(addr)) or chats[-1]
    reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
    try:
        spin(reactor, lambda: bool(chats) and chats[0].connected)
        chats[0].sendLine(b"hello")
        chats[0].sendLine(b"bye")
        with loggedErrors(flavor) as errors:
            spin(reactor, lambda: not client.dcc_sessions)
    finally:
        port.stopListening()
    assert heard.data == b"hello\r\nbye\r\n"
    assert errors == ["TypeError"]
    assert client.messages == []
    assert (chats[0].remoteParty, chats[0].factory) == ("friend!u@h", factory)


def test_chat_connection_failed(flavor):
    """A refused connection removes the factory from dcc_sessions."""
    reactor = flavor.reactor
    port = reactor.listenTCP(
        0, flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    )
    number = port.getHost().port
    port.stopListening()
    client = ChatClient()
    factory = irc(flavor).DccChatFactory(client, None)
    client.dcc_sessions.append(factory)
    reactor.connectTCP("127.0.0.1", number, factory)
    spin(reactor, lambda: not client.dcc_sessions)
    assert factory.noisy is False


def test_chat_line_received():
    """A received line goes to the client's privmsg from the remote party
    to the client's nickname, and is logged; both as in Twisted."""
    for module in (x_irc, t_irc):
        client = ChatClient()
        chat = module.DccChat(client, ("friend!u@h", "me", "CHAT 1 2"))
        chat.lineReceived("a line")
        assert client.messages == [("friend!u@h", "me", "a line")]
        assert chat.delimiter == b"\r\n"
        assert outcome(lambda chat=chat: chat.dataReceived(b"x\n"))[:2] == (
            "raised",
            "TypeError",
        )
        assert module.DccChat(client).remoteParty is None


def test_ephemeral_pickles_as_nothing():
    """DCC protocols pickle as a bare Ephemeral, as Twisted's do."""
    from torsion.persisted.styles import Ephemeral

    restored = pickle.loads(pickle.dumps(x_irc.DccFileReceive("f")))
    assert type(restored) is Ephemeral
    assert isinstance(x_irc.DccChat(None), Ephemeral)
    assert isinstance(x_irc.DccSendProtocol(None), Ephemeral)


class NamedOnly:
    """A file-like object with only a name."""

    def __init__(self, name: str) -> None:
        self.name = name


class Unseekable(io.RawIOBase):
    """Seeks fail."""

    def seek(self, *args: Any) -> int:
        raise OSError("no seeking")


def test_fileSize_matches_twisted(tmp_path):
    """fileSize of a real file, of a name, of a seekable buffer (fileno
    raises there, uncaught, as in Twisted), of an object with nothing to
    go on: Twisted's answers."""
    path = tmp_path / "sized"
    path.write_bytes(b"12345")
    with open(path, "rb") as real:
        real.seek(2)
        cases = [
            real,
            NamedOnly(str(path)),
            NamedOnly(str(tmp_path / "gone")),
            io.BytesIO(b"abc"),
            Unseekable(),
            object(),
        ]
        for case in cases:
            assert outcome(lambda c=case: x_irc.fileSize(c)) == outcome(
                lambda c=case: t_irc.fileSize(c)
            )
        assert x_irc.fileSize(real) == 5
        assert real.tell() == 2
    assert x_irc.fileSize(NamedOnly(str(path))) == 5
    assert x_irc.fileSize(object()) is None


DESCRIBE = [
    "CHAT arg 3232235522 6666",
    "CHAT chat 127.0.0.1 6666",
    "SEND file.txt 2130706433 5000 1234",
    "SEND file.txt 2130706433 5000 big",
    "SEND file.txt 2130706433 5000",
    "SEND file.txt host.example 5000 12",
    "SEND file.txt notanumber 5000 12",
    "SEND file.txt -1 5000 12",
    "RESUME file.txt 5000 100",
    "send lower 1 2 3",
    "CHAT too short",
    "",
    "  CHAT  a   1    2  ",
]


@pytest.mark.parametrize("data", DESCRIBE)
def test_dccDescribe(data):
    """dccDescribe gives Twisted's sentence (or the data back)."""
    assert x_irc.dccDescribe(data) == t_irc.dccDescribe(data)


def test_dccDescribe_exact():
    """Sentences spelled out; bytes with four words fail as in Twisted."""
    assert x_irc.dccDescribe("CHAT arg 3232235522 6666") == (
        "CHAT for host 192.168.0.2, port 6666"
    )
    assert x_irc.dccDescribe("SEND f 2130706433 5000 12") == (
        "SEND for file 'f' of size 12 bytes at host 127.0.0.1, port 5000"
    )
    assert x_irc.dccDescribe(b"x") == b"x"
    data = b"SEND f 1 2"
    assert outcome(lambda: x_irc.dccDescribe(data)) == outcome(
        lambda: t_irc.dccDescribe(data)
    )
