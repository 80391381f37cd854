"""DCC CHAT: lines between two clients over a direct connection, and
``dccDescribe`` for the text of any DCC offer."""

from __future__ import annotations

from typing import Any

from torsion.internet import protocol
from torsion.persisted import styles
from torsion.protocols import basic
from torsion.python import log
from torsion.words.protocols._ircctcpclient import _dottedQuad
from torsion.words.protocols._ircmessage import CR, LF


class DccChat(basic.LineReceiver, styles.Ephemeral):
    """A DCC CHAT session: lines are sent with CRLF, and each received
    line is handed to the IRC client's ``privmsg`` as if the remote party
    had sent it to us.

    As Twisted's, ``dataReceived`` cuts its bytes with a text LF, which
    raises TypeError on Python 3 (the connection then ends); subclasses
    that receive override it.
    """

    queryData: Any = None
    delimiter = b"\r\n"
    client: Any = None
    remoteParty: Any = None
    buffer: Any = b""

    def __init__(self, client: Any, queryData: Any = None) -> None:
        self.client = client
        if queryData:
            self.queryData = queryData
            self.remoteParty = queryData[0]

    def dataReceived(self, data: Any) -> None:
        """Cut the buffered data at LF, dropping a CR before it, and hand
        each complete line to ``lineReceived``."""
        lines = (self.buffer + data).split(LF)
        self.buffer = lines.pop()
        for line in lines:
            self.lineReceived(line[:-1] if line[-1] == CR else line)

    def lineReceived(self, line: Any) -> None:
        """Log the line and pass it to the client's ``privmsg``."""
        log.msg(f"DCC CHAT<{self.remoteParty}> {line}")
        self.client.privmsg(self.remoteParty, self.client.nickname, line)


class DccChatFactory(protocol.ClientFactory):  # type: ignore[type-arg]
    """Connects a ``DccChat`` for ``client``; the factory leaves the
    client's ``dcc_sessions`` when the connection fails or ends."""

    protocol = DccChat  # type: ignore[assignment]
    noisy = False

    def __init__(self, client: Any, queryData: Any) -> None:
        self.client = client
        self.queryData = queryData

    def buildProtocol(self, addr: Any) -> Any:
        chat = self.protocol(client=self.client, queryData=self.queryData)
        chat.factory = self
        return chat

    def clientConnectionFailed(self, unused_connector: Any, unused_reason: Any) -> None:
        self.client.dcc_sessions.remove(self)

    def clientConnectionLost(self, unused_connector: Any, unused_reason: Any) -> None:
        self.client.dcc_sessions.remove(self)


def dccDescribe(data: Any) -> Any:
    """A sentence describing a DCC offer (``SEND name address port
    [size]`` or ``CHAT arg address port``), the address as a dotted quad;
    other offers, and offers of fewer than four words, are returned as
    given."""
    words = data.split()
    if len(words) < 4:
        return data
    dcctype, arg, address, port = words[:4]
    if "." not in address:
        try:
            address = _dottedQuad(int(address))
        except ValueError:
            pass
    if dcctype == "CHAT":
        return f"CHAT for host {address}, port {port}"
    if dcctype != "SEND":
        return data
    sizeText = ""
    if len(words) >= 5:
        try:
            sizeText = " of size %d bytes" % (int(words[4]),)  # noqa: UP031
        except ValueError:
            pass
    return f"SEND for file '{arg}'{sizeText} at host {address}, port {port}"
