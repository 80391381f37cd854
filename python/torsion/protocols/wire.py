"""The small standard TCP services, mirroring ``twisted.protocols.wire``.

Echo (RFC 862), Discard (RFC 863), Chargen (RFC 864), Quote of the Day
(RFC 865), active users (RFC 866), Daytime (RFC 867) and Time (RFC 868),
the protocols inetd used to provide.  Serve one with a plain factory::

    factory = protocol.Factory.forProtocol(wire.Daytime)
    reactor.listenTCP(8013, factory)

``Time`` sends what Twisted's sends: the seconds since the Unix epoch
(not RFC 868's 1900 epoch) as a signed 32-bit big-endian integer.
``Daytime`` sends ``time.asctime`` of the UTC time and CRLF, as ASCII;
Twisted's adds ``bytes`` to ``str`` there and so fails on Python 3.
"""

from __future__ import annotations

import struct
import time

from zope.interface import implementer

from torsion.internet import interfaces, protocol

__all__ = ["Echo", "Discard", "Chargen", "QOTD", "Who", "Daytime", "Time"]


class Echo(protocol.Protocol):
    """Send back whatever is received (RFC 862)."""

    def dataReceived(self, data: bytes) -> None:
        """Write ``data`` back."""
        self.transport.write(data)


class Discard(protocol.Protocol):
    """Read and ignore everything (RFC 863)."""

    def dataReceived(self, data: bytes) -> None:
        """Drop ``data``."""


@implementer(interfaces.IProducer)
class Chargen(protocol.Protocol):
    """Send the printable characters over and over (RFC 864), as a pull
    producer: the transport asks for more each time its buffer drains."""

    noise = (
        rb"@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefghijklmnopqrstuvwxyz{|}~"
        rb' !"#$%&?'
    )

    def connectionMade(self) -> None:
        # False, not Twisted's 0: the Rust transport's registerProducer
        # accepts only a bool for ``streaming`` (reported; not changed here).
        self.transport.registerProducer(self, False)

    def resumeProducing(self) -> None:
        """Write one more copy of ``noise``."""
        self.transport.write(self.noise)

    def pauseProducing(self) -> None:
        """Nothing to do: a pull producer writes only when asked."""

    def stopProducing(self) -> None:
        """Nothing to release."""


class QOTD(protocol.Protocol):
    """Send a quote, then hang up (RFC 865)."""

    def connectionMade(self) -> None:
        self.transport.write(self.getQuote())
        self.transport.loseConnection()

    def getQuote(self) -> bytes:
        """The quote to send; override to choose another."""
        return b"An apple a day keeps the doctor away.\r\n"


class Who(protocol.Protocol):
    """Send the list of users logged in, then hang up (RFC 866)."""

    def connectionMade(self) -> None:
        self.transport.write(self.getUsers())
        self.transport.loseConnection()

    def getUsers(self) -> bytes:
        """The users to report; override to report real ones."""
        return b"root\r\n"


class Daytime(protocol.Protocol):
    """Send the date and time in words, then hang up (RFC 867)."""

    def connectionMade(self) -> None:
        now = time.asctime(time.gmtime(time.time()))
        self.transport.write(now.encode("ascii") + b"\r\n")
        self.transport.loseConnection()


class Time(protocol.Protocol):
    """Send the time as a 4-byte binary number, then hang up (RFC 868;
    Unix epoch, signed, network byte order, as Twisted's)."""

    def connectionMade(self) -> None:
        self.transport.write(struct.pack("!i", int(time.time())))
        self.transport.loseConnection()
