"""DCC SEND: files sent between clients over a direct connection.

The receiver acknowledges every chunk with the total received so far (a
signed 32-bit big-endian integer); the sender sends a block at a time.
As in Twisted's module, these classes are bare: ``DccSendProtocol`` only
opens a file given by name (as text), and reads the peer's acknowledgement
as a 1-tuple that cannot be compared with ``bytesSent``, so without a
subclass a transfer stops with a TypeError after the first block.
"""

from __future__ import annotations

import errno
import os
import struct
from typing import IO, Any

from torsion.internet import protocol
from torsion.persisted import styles
from torsion.python import log


class DccFileReceiveBasic(protocol.Protocol, styles.Ephemeral):
    """Receives a DCC SEND stream and acknowledges each chunk; does nothing
    with the data (override ``dataReceived``).  With ``resumeOffset`` the
    count starts there and ``resume`` is true."""

    bytesReceived = 0

    def __init__(self, resumeOffset: int = 0) -> None:
        self.bytesReceived = resumeOffset
        self.resume = resumeOffset != 0

    def dataReceived(self, data: bytes) -> None:
        """Count ``data`` and send the new total."""
        self.bytesReceived = self.bytesReceived + len(data)
        self.transport.write(struct.pack("!i", self.bytesReceived))


class DccFileReceive(DccFileReceiveBasic):
    """Receives a DCC SEND into ``destDir/filename``.

    An existing file is replaced only after ``set_overwrite(True)``; with
    ``resumeOffset`` the existing file is cut there and appended to (it
    must exist).  The refusals are OSErrors raised from ``connectionMade``.
    ``queryData`` is the CTCP query's ``(user, channel, data)``; its user
    becomes ``fromUser``.
    """

    filename = "dcc"
    fileSize = -1
    destDir = "."
    overwrite: Any = 0
    fromUser: Any = None
    queryData: Any = None

    def __init__(
        self,
        filename: str,
        fileSize: int = -1,
        queryData: Any = None,
        destDir: str = ".",
        resumeOffset: int = 0,
    ) -> None:
        super().__init__(resumeOffset=resumeOffset)
        self.filename = filename
        self.destDir = destDir
        self.fileSize = fileSize
        self._resumeOffset = resumeOffset
        if queryData:
            self.queryData = queryData
            self.fromUser = queryData[0]

    def set_directory(self, directory: str) -> None:
        """Receive into ``directory``: it must exist, be a directory, and
        be writable and searchable (OSError otherwise)."""
        if not os.path.exists(directory):
            raise OSError(errno.ENOENT, "You see no directory there.", directory)
        if not os.path.isdir(directory):
            raise OSError(
                errno.ENOTDIR,
                "You cannot put a file into something which is not a directory.",
                directory,
            )
        if not os.access(directory, os.X_OK | os.W_OK):
            raise OSError(
                errno.EACCES, "This directory is too hard to write in to.", directory
            )
        self.destDir = directory

    def set_filename(self, filename: str) -> None:
        """Save under ``filename`` instead of the sender's name."""
        self.filename = filename

    def set_overwrite(self, boolean: Any) -> None:
        """Whether an existing file may be replaced."""
        self.overwrite = boolean

    def connectionMade(self) -> None:
        """Open the destination: resumed, replaced, or new."""
        target = os.path.abspath(os.path.join(self.destDir, self.filename))
        exists = os.path.exists(target)
        if self.resume:
            if not exists:
                raise OSError(
                    errno.ENOENT,
                    "You cannot resume writing to a file that does not exist!",
                    target,
                )
            self.file: IO[bytes] = open(target, "rb+")  # noqa: SIM115
            self.file.seek(self._resumeOffset)
            self.file.truncate()
            log.msg(
                f"Attempting to resume {self.file} - starting from "
                f"{self.file.tell()} bytes"
            )
        elif self.overwrite or not exists:
            self.file = open(target, "wb")  # noqa: SIM115
        else:
            raise OSError(
                errno.EEXIST,
                "There's a file in the way.  Perhaps that's why you cannot open it.",
                target,
            )

    def dataReceived(self, data: bytes) -> None:
        """Write ``data`` to the file, then acknowledge it."""
        self.file.write(data)
        super().dataReceived(data)

    def connectionLost(self, reason: Any = protocol.connectionDone) -> None:
        """Close the file, if one was opened."""
        self.connected = 0
        received = getattr(self, "file", None)
        if received is not None and hasattr(received, "close"):
            received.close()

    def __str__(self) -> str:
        if not self.connected:
            return f"<Unconnected DccFileReceive object at {id(self):x}>"
        peer = str(self.transport.getPeer())
        if self.fromUser is not None:
            peer = f"{self.fromUser!r} ({peer})"
        return f"DCC transfer of '{self.filename}' from {peer}"

    def __repr__(self) -> str:
        return f"<{self.__class__} at {id(self):x}: GET {self.filename}>"


class DccSendProtocol(protocol.Protocol, styles.Ephemeral):
    """Sends ``file`` a block at a time, the next block when the peer has
    acknowledged everything sent; closes when the file is exhausted
    (``completed``) or the peer claims more than was sent."""

    blocksize = 1024
    file: Any = None
    bytesSent = 0
    completed = 0
    connected = 0

    def __init__(self, file: Any) -> None:
        # Only a name is opened (as text, as in Twisted); anything else
        # leaves ``file`` unset for a subclass to provide.
        if type(file) is str:
            self.file = open(file)  # noqa: SIM115

    def connectionMade(self) -> None:
        """Send the first block."""
        self.connected = 1
        self.sendBlock()

    def dataReceived(self, data: bytes) -> None:
        """An acknowledgement: wait for more, give up on a peer that claims
        too much, or send the next block."""
        # unpack's 1-tuple is compared as Twisted compares it (a TypeError).
        acknowledged: Any = struct.unpack("!I", data)
        if acknowledged < self.bytesSent:
            return
        if acknowledged > self.bytesSent:
            self.transport.loseConnection()
            return
        self.sendBlock()

    def sendBlock(self) -> None:
        """Send the next ``blocksize`` bytes, or close when there are none."""
        block = self.file.read(self.blocksize)
        if not block:
            self.transport.loseConnection()
            self.completed = 1
            return
        self.transport.write(block)
        self.bytesSent = self.bytesSent + len(block)

    def connectionLost(self, reason: Any = protocol.connectionDone) -> None:
        """Close the file."""
        self.connected = 0
        if hasattr(self.file, "close"):
            self.file.close()


class DccSendFactory(protocol.Factory):  # type: ignore[type-arg]
    """Serves ``file`` with a ``DccSendProtocol`` per connection."""

    protocol = DccSendProtocol  # type: ignore[assignment]

    def __init__(self, file: Any) -> None:
        self.file = file

    def buildProtocol(self, connection: Any) -> Any:
        built = self.protocol(self.file)
        built.factory = self
        return built


def fileSize(file: Any) -> int | None:
    """The size of an open file, or None if it cannot be told: from its
    descriptor, else from its name on disk, else by seeking to its end
    (and back to its start).  A ``fileno`` that raises is not caught."""
    size = None
    if hasattr(file, "fileno"):
        descriptor = file.fileno()
        try:
            return os.fstat(descriptor).st_size
        except BaseException:  # noqa: BLE001, S110 (as Twisted: any failure)
            pass
    if hasattr(file, "name") and os.path.exists(file.name):
        try:
            return os.path.getsize(file.name)
        except BaseException:  # noqa: BLE001, S110
            pass
    if hasattr(file, "seek") and hasattr(file, "tell"):
        try:
            try:
                file.seek(0, 2)
                size = file.tell()
            finally:
                file.seek(0, 0)
        except BaseException:  # noqa: BLE001, S110
            pass
    return size
