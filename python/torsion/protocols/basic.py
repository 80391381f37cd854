"""Line, netstring and length-prefixed protocols, and a file producer.

The public names and their behaviour follow ``twisted.protocols.basic``:
callbacks are made in the same order, with the same arguments, and see the
same buffer state while they run.  The parsers differ from Twisted's only in
cost: every chunk is scanned with an offset into one ``bytes`` object, so a
chunk holding many messages is parsed in time linear in its size.
"""

from __future__ import annotations

import math
import re
from struct import calcsize, pack, unpack_from
from typing import Any

from zope.interface import implementer

from torsion.internet import defer, interfaces, protocol

DEBUG = 0


def _formatNetstring(data: bytes) -> bytes:
    """Frame ``data`` as a netstring: ``<decimal length>:<data>,``."""
    return b"".join((b"%d" % len(data), b":", data, b","))


class NetstringParseError(ValueError):
    """The bytes received do not form a valid netstring."""


class IncompleteNetstring(Exception):
    """More bytes are needed before the current netstring is complete."""


_NO_PARTS: tuple[bytes, ...] = ()
_LENGTH_STATE, _PAYLOAD_STATE = range(2)

# Sizes in bytes of the windows LineReceiver splits into lines at once.
_FIRST_WINDOW = 2048
_LARGEST_WINDOW = 1 << 14


class NetstringReceiver(protocol.Protocol):
    """Receive and send netstrings (``12:hello world!,``).

    Override ``stringReceived``.  A malformed netstring, or one whose declared
    length is above ``MAX_LENGTH``, makes the receiver set ``brokenPeer`` and
    call ``transport.loseConnection()``; an over-long length is refused as
    soon as its digits show it, before any of the payload is buffered.
    """

    MAX_LENGTH = 99999
    _LENGTH = re.compile(rb"(0|[1-9]\d*)(:)")
    _LENGTH_PREFIX = re.compile(rb"(0|[1-9]\d*)$")

    _MISSING_LENGTH = (
        "The received netstring does not start with a length specification."
    )
    _OVERFLOW = (
        "The length specification of the received netstring cannot be "
        "represented in Python - it causes an OverflowError!"
    )
    _TOO_LONG = (
        "The received netstring is longer than the maximum %s specified by "
        "self.MAX_LENGTH"
    )
    _MISSING_COMMA = "The received netstring is not terminated by a comma."

    _PARSING_LENGTH, _PARSING_PAYLOAD = _LENGTH_STATE, _PAYLOAD_STATE

    brokenPeer = 0
    _state = _PARSING_LENGTH
    _expectedPayloadSize = 0
    _currentPayloadSize = 0
    # Unparsed input is _nsData[_nsOffset:]; the pieces of a payload that
    # spans several chunks wait in _nsParts.
    _nsData = b""
    _nsOffset = 0
    _nsParts: Any = _NO_PARTS

    def makeConnection(self, transport: Any) -> None:
        """Connect to ``transport`` and reset the parser to its initial state."""
        protocol.Protocol.makeConnection(self, transport)
        self._nsData = b""
        self._nsOffset = 0
        self._nsParts = []
        self._currentPayloadSize = 0
        self._expectedPayloadSize = 0
        self._state = self._PARSING_LENGTH
        self.brokenPeer = 0

    @property
    def _remainingData(self) -> bytes:
        """The received bytes not yet consumed by the parser."""
        offset = self._nsOffset
        return self._nsData[offset:] if offset else self._nsData

    @_remainingData.setter
    def _remainingData(self, value: bytes) -> None:
        self._nsData = value
        self._nsOffset = 0

    def sendString(self, string: bytes) -> None:
        """Write ``string`` to the transport framed as one netstring."""
        self.transport.write(_formatNetstring(string))

    def stringReceived(self, string: bytes) -> None:
        """Handle one complete netstring payload; subclasses override this."""
        raise NotImplementedError()

    def dataReceived(self, data: bytes) -> None:
        """Parse ``data`` and call ``stringReceived`` for each whole netstring."""
        buf = self._nsData
        pos = self._nsOffset
        if data:
            buf = (buf[pos:] if pos else buf) + data
            pos = 0
            self._nsData = buf
            self._nsOffset = 0
        end = len(buf)
        try:
            while pos < end:
                if self._state == _LENGTH_STATE:
                    match = self._LENGTH.match(buf, pos)
                    if match is None:
                        self._checkPartialLength(buf, pos)
                        return
                    digitsEnd = match.end(1)
                    size = self._extractLength(buf[pos:digitsEnd]) + 1
                    pos = digitsEnd + 1
                    self._nsOffset = pos
                    self._expectedPayloadSize = size
                    self._currentPayloadSize = 0
                    self._nsParts = []
                    self._state = _PAYLOAD_STATE
                    need = size
                else:
                    size = self._expectedPayloadSize
                    need = size - self._currentPayloadSize
                available = end - pos
                if available < need:
                    if available:
                        self._nsParts.append(buf[pos:] if pos else buf)
                        self._currentPayloadSize += available
                        pos = end
                        self._nsOffset = end
                    return
                stop = pos + need
                if need != size:
                    parts = self._nsParts
                    parts.append(buf[pos:stop])
                    whole = b"".join(parts)
                    complete = whole[-1:] == b","
                    string = whole[:-1]
                    if not complete:
                        self._nsParts = [whole]
                else:
                    complete = buf[stop - 1] == 44
                    string = buf[pos : stop - 1]
                    if not complete:
                        self._nsParts = [buf[pos:stop]]
                self._currentPayloadSize = size
                pos = stop
                self._nsOffset = stop
                if not complete:
                    raise NetstringParseError(self._MISSING_COMMA)
                self._state = _LENGTH_STATE
                self.stringReceived(string)
                buf = self._nsData
                pos = self._nsOffset
                end = len(buf)
        except IncompleteNetstring:
            return
        except NetstringParseError:
            self._handleParseError()

    def _checkPartialLength(self, buf: bytes, pos: int) -> None:
        """Accept the digits at ``buf[pos:]`` as a length still being received,
        or raise NetstringParseError."""
        prefix = self._LENGTH_PREFIX.match(buf, pos)
        if prefix is None:
            raise NetstringParseError(self._MISSING_LENGTH)
        self._extractLength(prefix.group(1))

    def _maxLengthSize(self) -> int:
        """How many digits a length may have before it is refused unread."""
        return math.ceil(math.log10(self.MAX_LENGTH)) + 1

    def _checkStringSize(self, lengthAsString: bytes) -> None:
        """Refuse a length written with more digits than ``MAX_LENGTH`` allows."""
        if len(lengthAsString) > self._maxLengthSize():
            raise NetstringParseError(self._TOO_LONG % (self.MAX_LENGTH,))

    def _extractLength(self, lengthAsString: bytes) -> int:
        """Return the integer length, or raise NetstringParseError if too big."""
        self._checkStringSize(lengthAsString)
        length = int(lengthAsString)
        if length > self.MAX_LENGTH:
            raise NetstringParseError(self._TOO_LONG % (self.MAX_LENGTH,))
        return length

    def _checkPartialLengthSpecification(self) -> None:
        """Check that the unparsed data is a prefix of an acceptable length."""
        self._checkPartialLength(self._nsData, self._nsOffset)

    def _processLength(self, lengthMatch: re.Match[bytes]) -> None:
        """Record the length matched at the start of the unparsed data and
        consume the length and its colon."""
        remaining = self._remainingData
        digits = remaining[: lengthMatch.end(1)]
        self._expectedPayloadSize = self._extractLength(digits) + 1
        self._remainingData = remaining[lengthMatch.end(2) :]

    def _consumeLength(self) -> None:
        """Consume a length specification from the unparsed data.

        Raises IncompleteNetstring if only part of one has arrived, and
        NetstringParseError if it is malformed or above ``MAX_LENGTH``.
        """
        match = self._LENGTH.match(self._remainingData)
        if match is None:
            self._checkPartialLengthSpecification()
            raise IncompleteNetstring()
        self._processLength(match)

    def _prepareForPayloadConsumption(self) -> None:
        """Enter the payload state with nothing of the payload received yet."""
        self._state = self._PARSING_PAYLOAD
        self._currentPayloadSize = 0
        self._nsParts = []

    def _payloadComplete(self) -> bool:
        """Whether enough bytes are here to finish the current payload."""
        return (
            len(self._remainingData) + self._currentPayloadSize
            >= self._expectedPayloadSize
        )

    def _handleParseError(self) -> None:
        """Drop the connection after malformed input and mark the peer broken."""
        self.transport.loseConnection()
        self.brokenPeer = 1


class LineOnlyReceiver(protocol.Protocol):
    """A line receiver without raw mode, for protocols made only of lines.

    ``lineReceived`` is called for each line; a line longer than
    ``MAX_LENGTH`` goes to ``lineLengthExceeded``, which drops the connection.
    """

    _buffer = b""
    delimiter = b"\r\n"
    MAX_LENGTH = 16384

    def dataReceived(self, data: bytes) -> Any:
        """Split the buffered bytes into lines and deliver each whole one."""
        pending = self._buffer + data
        lines = pending.split(self.delimiter)
        self._buffer = lines.pop()
        for line in lines:
            if self.transport.disconnecting:
                return None
            if len(line) > self.MAX_LENGTH:
                return self.lineLengthExceeded(line)
            self.lineReceived(line)
        if len(self._buffer) > self.MAX_LENGTH:
            return self.lineLengthExceeded(self._buffer)
        return None

    def lineReceived(self, line: bytes) -> None:
        """Handle one line, delimiter removed; subclasses override this."""
        raise NotImplementedError

    def sendLine(self, line: bytes) -> Any:
        """Write ``line`` followed by the delimiter to the transport."""
        return self.transport.writeSequence((line, self.delimiter))

    def lineLengthExceeded(self, line: bytes) -> Any:
        """React to a line longer than ``MAX_LENGTH``: drop the connection."""
        return self.transport.loseConnection()


class _PauseableMixin:
    """Producer methods that also hold back parsing while paused."""

    paused = False
    transport: Any

    def pauseProducing(self) -> None:
        """Stop delivering messages and pause the transport."""
        self.paused = True
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        """Resume the transport and deliver what was held back."""
        self.paused = False
        self.transport.resumeProducing()
        self.dataReceived(b"")  # type: ignore[attr-defined]

    def stopProducing(self) -> None:
        """Stop delivering messages and stop the transport."""
        self.paused = True
        self.transport.stopProducing()


class LineReceiver(protocol.Protocol, _PauseableMixin):
    """Receive lines (``lineReceived``) or raw data (``rawDataReceived``).

    ``setRawMode`` and ``setLineMode`` switch between the two; a switch made
    from a callback applies to the rest of the data already received.  A
    line longer than ``MAX_LENGTH`` goes to ``lineLengthExceeded``, which
    drops the connection.  Once the transport is disconnecting, no more
    lines from the same chunk are delivered.
    """

    line_mode = 1
    _busyReceiving = False
    delimiter = b"\r\n"
    MAX_LENGTH = 16384
    # Buffered input is _lrData[_lrOffset:]; the offset moves past each line
    # so that a chunk is never copied once per line.
    _lrData = b""
    _lrOffset = 0

    @property
    def _buffer(self) -> bytes:
        """The received bytes not yet delivered."""
        offset = self._lrOffset
        return self._lrData[offset:] if offset else self._lrData

    @_buffer.setter
    def _buffer(self, value: bytes) -> None:
        self._lrData = value
        self._lrOffset = 0

    def clearLineBuffer(self) -> bytes:
        """Empty the buffer and return what it held."""
        offset = self._lrOffset
        held = self._lrData[offset:] if offset else self._lrData
        self._lrData = b""
        self._lrOffset = 0
        return held

    def dataReceived(self, data: bytes) -> Any:
        """Deliver ``data`` as lines or raw data, according to the mode."""
        if self._busyReceiving:
            # Called from one of our own callbacks: the running loop below
            # will reach these bytes.
            if data:
                offset = self._lrOffset
                held = self._lrData[offset:] if offset else self._lrData
                self._lrData = held + data
                self._lrOffset = 0
            return None
        self._busyReceiving = True
        try:
            buf = self._lrData
            pos = self._lrOffset
            if data:
                buf = (buf[pos:] if pos else buf) + data
                pos = 0
                self._lrData = buf
                self._lrOffset = 0
            end = len(buf)
            # Lines are cut from windows of the buffer that double in size
            # while no callback changes the parsing state, and shrink back to
            # a single line after one does: a long run of lines costs one
            # split per window, an interruption wastes at most one window.
            window = 0
            while pos < end and not self.paused:
                if not self.line_mode:
                    rest = buf[pos:] if pos else buf
                    self._lrData = b""
                    self._lrOffset = 0
                    why = self.rawDataReceived(rest)
                    if why:
                        return why
                    buf = self._lrData
                    pos = self._lrOffset
                    end = len(buf)
                    window = 0
                    continue
                delimiter = self.delimiter
                width = len(delimiter)
                if window and width:
                    stop = pos + window
                    if stop >= end:
                        lines = (buf[pos:] if pos else buf).split(delimiter)
                    else:
                        lines = buf[pos:stop].split(delimiter)
                    del lines[-1]
                    if lines:
                        limit = self.MAX_LENGTH
                        for line in lines:
                            size = len(line)
                            if size > limit:
                                rest = buf[pos:] if pos else buf
                                self._lrData = b""
                                self._lrOffset = 0
                                return self.lineLengthExceeded(rest)
                            pos += size + width
                            self._lrOffset = pos
                            why = self.lineReceived(line)
                            if why:
                                return why
                            transport = self.transport
                            if transport and transport.disconnecting:
                                return why
                            if (
                                self._lrData is not buf
                                or self.paused
                                or not self.line_mode
                                or self.delimiter is not delimiter
                            ):
                                break
                            limit = self.MAX_LENGTH
                        else:
                            if window < _LARGEST_WINDOW:
                                window <<= 1
                            continue
                        window = 0
                        if self._lrData is not buf:
                            buf = self._lrData
                            pos = self._lrOffset
                            end = len(buf)
                        continue
                    # No whole delimiter inside the window.
                    if stop >= end:
                        found = -1
                    else:
                        found = buf.find(delimiter, max(pos, stop - width + 1))
                else:
                    found = buf.find(delimiter, pos) if width else -1
                if found < 0:
                    if end - pos >= self.MAX_LENGTH + width:
                        rest = buf[pos:] if pos else buf
                        self._lrData = b""
                        self._lrOffset = 0
                        return self.lineLengthExceeded(rest)
                    return None
                if found - pos > self.MAX_LENGTH:
                    rest = buf[pos:] if pos else buf
                    self._lrData = b""
                    self._lrOffset = 0
                    return self.lineLengthExceeded(rest)
                line = buf[pos:found]
                pos = found + width
                self._lrOffset = pos
                why = self.lineReceived(line)
                if why:
                    return why
                transport = self.transport
                if transport and transport.disconnecting:
                    return why
                if self._lrData is not buf:
                    buf = self._lrData
                    pos = self._lrOffset
                    end = len(buf)
                    window = 0
                elif not window:
                    window = _FIRST_WINDOW
            return None
        finally:
            self._busyReceiving = False
            offset = self._lrOffset
            if offset:
                held = self._lrData
                # Drop the delivered prefix when that costs no more than the
                # bytes delivered since the last trim (linear overall).
                if len(held) - offset <= offset:
                    self._lrData = held[offset:]
                    self._lrOffset = 0

    def setLineMode(self, extra: bytes = b"") -> Any:
        """Switch to line mode; ``extra`` bytes are parsed as received data."""
        self.line_mode = 1
        if extra:
            return self.dataReceived(extra)
        return None

    def setRawMode(self) -> None:
        """Switch to raw mode: further data goes to ``rawDataReceived``."""
        self.line_mode = 0

    def rawDataReceived(self, data: bytes) -> Any:
        """Handle data received in raw mode; subclasses override this."""
        raise NotImplementedError

    def lineReceived(self, line: bytes) -> Any:
        """Handle one line, delimiter removed; subclasses override this."""
        raise NotImplementedError

    def sendLine(self, line: bytes) -> Any:
        """Write ``line`` followed by the delimiter to the transport."""
        return self.transport.write(line + self.delimiter)

    def lineLengthExceeded(self, line: bytes) -> Any:
        """React to an over-long line: drop the connection.

        ``line`` is the whole remaining buffer, starting with the long line.
        """
        return self.transport.loseConnection()


class StringTooLongError(AssertionError):
    """A string is too long for the length prefix of the protocol sending it."""


class _RecvdCompatHack:
    """The ``recvd`` attribute of IntNStringReceiver: the unparsed bytes.

    Only ``__get__`` is defined, so assigning ``recvd`` on an instance stores
    a replacement buffer that ``dataReceived`` then parses instead.
    """

    def __get__(self, oself: Any, type: Any = None) -> Any:
        if oself is None:
            return self
        return oself._unprocessed[oself._compatibilityOffset :]


class IntNStringReceiver(protocol.Protocol, _PauseableMixin):
    """Receive and send strings prefixed by a fixed-size integer length.

    Subclasses set ``structFormat`` and ``prefixLength``.  A prefix above
    ``MAX_LENGTH`` is passed to ``lengthLimitExceeded`` (which drops the
    connection) and the string is never buffered.
    """

    MAX_LENGTH = 99999
    structFormat: str
    prefixLength: int
    _unprocessed = b""
    _compatibilityOffset = 0

    recvd = _RecvdCompatHack()

    def stringReceived(self, string: bytes) -> None:
        """Handle one complete string, prefix removed; subclasses override this."""
        raise NotImplementedError

    def lengthLimitExceeded(self, length: int) -> None:
        """React to a length prefix above ``MAX_LENGTH``: drop the connection."""
        self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        """Parse ``data`` and call ``stringReceived`` for each whole string."""
        pending = self._unprocessed + data
        start = 0
        width = self.prefixLength
        fmt = self.structFormat
        self._unprocessed = pending
        total = len(pending)
        while total >= start + width and not self.paused:
            (length,) = unpack_from(fmt, pending, start)
            if length > self.MAX_LENGTH:
                self._unprocessed = pending
                self._compatibilityOffset = start
                self.lengthLimitExceeded(length)
                return
            bodyStart = start + width
            bodyEnd = bodyStart + length
            if bodyEnd > total:
                break
            string = pending[bodyStart:bodyEnd]
            start = bodyEnd
            self._compatibilityOffset = start
            self.stringReceived(string)
            attrs = self.__dict__
            if "recvd" in attrs:
                # The callback assigned a new buffer to parse from here on.
                pending = attrs.pop("recvd")
                self._unprocessed = pending
                self._compatibilityOffset = start = 0
                total = len(pending)
                if not pending:
                    return
        self._unprocessed = pending[start:]
        self._compatibilityOffset = 0

    def sendString(self, string: bytes) -> None:
        """Write ``string`` with its length prefix to the transport.

        Raises StringTooLongError if the length does not fit the prefix.
        """
        limit = 2 ** (8 * self.prefixLength)
        if len(string) >= limit:
            raise StringTooLongError(
                f"Try to send {len(string)} bytes whereas maximum is {limit}"
            )
        self.transport.write(pack(self.structFormat, len(string)) + string)


class Int32StringReceiver(IntNStringReceiver):
    """Strings prefixed by a 32-bit unsigned length in network byte order."""

    structFormat = "!I"
    prefixLength = calcsize(structFormat)


class Int16StringReceiver(IntNStringReceiver):
    """Strings prefixed by a 16-bit unsigned length in network byte order."""

    structFormat = "!H"
    prefixLength = calcsize(structFormat)


class Int8StringReceiver(IntNStringReceiver):
    """Strings prefixed by an 8-bit unsigned length."""

    structFormat = "!B"
    prefixLength = calcsize(structFormat)


class StatefulStringProtocol:
    """Mixin dispatching each received string to ``proto_<state>``.

    The handler's return value becomes the next state; the state ``"done"``
    closes the connection.
    """

    state = "init"
    transport: Any

    def stringReceived(self, string: bytes) -> None:
        """Call the handler for the current state and move to its result."""
        try:
            handler = getattr(self, "proto_" + self.state)
        except AttributeError:
            from torsion.python import log

            log.msg("callback", self.state, "not found")
            return
        self.state = handler(string)
        if self.state == "done":
            self.transport.loseConnection()


@implementer(interfaces.IProducer)
class FileSender:
    """A pull producer that writes a file's contents to a consumer."""

    CHUNK_SIZE = 2**14

    lastSent: Any = ""
    deferred: Any = None

    def beginFileTransfer(
        self, file: Any, consumer: Any, transform: Any = None
    ) -> defer.Deferred[Any]:
        """Start sending ``file`` to ``consumer``, each chunk passed through
        ``transform`` if given.

        Returns a Deferred that fires with the last byte written once the
        whole file has been sent.
        """
        self.file = file
        self.consumer = consumer
        self.transform = transform
        result: defer.Deferred[Any] = defer.Deferred()
        self.deferred = result
        self.consumer.registerProducer(self, False)
        return result

    def resumeProducing(self) -> None:
        """Write the next chunk, or finish if the file is exhausted."""
        chunk: Any = ""
        if self.file:
            chunk = self.file.read(self.CHUNK_SIZE)
        if not chunk:
            self.file = None
            self.consumer.unregisterProducer()
            if self.deferred:
                self.deferred.callback(self.lastSent)
                self.deferred = None
            return
        if self.transform:
            chunk = self.transform(chunk)
        self.consumer.write(chunk)
        self.lastSent = chunk[-1:]

    def pauseProducing(self) -> None:
        """Nothing to do: a pull producer only writes when asked."""

    def stopProducing(self) -> None:
        """Abandon the transfer; the Deferred fails."""
        if self.deferred:
            self.deferred.errback(Exception("Consumer asked us to stop producing"))
            self.deferred = None
