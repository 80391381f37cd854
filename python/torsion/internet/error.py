"""Exception classes raised by torsion.internet, named and arranged as Twisted's.

Each class keeps Twisted's name, base classes and ``str()`` output, so code
that catches ``twisted.internet.error.ConnectionDone`` (and friends) or shows
their messages behaves the same after switching its imports to torsion.
"""

from __future__ import annotations

import errno
import socket
from typing import Any


def _messageStr(self: Any) -> str:
    """Render ``MESSAGE``, then the arguments joined by spaces, then a period."""
    text = self.MESSAGE
    if self.args:
        text = text + ": " + " ".join(self.args)
    return text + "."


def _firstLineStr(self: Any) -> str:
    """Like _messageStr, but use only the first line of the stripped MESSAGE."""
    text = "".join(self.MESSAGE.strip().splitlines()[:1])
    if self.args:
        text = text + ": " + " ".join(self.args)
    return text + "."


class BindError(Exception):
    """Binding a socket to a local interface failed."""

    MESSAGE = "An error occurred binding to an interface"
    __str__ = _messageStr


class CannotListenError(BindError):
    """A port could not start listening on the requested interface and port."""

    def __init__(self, interface: Any, port: Any, socketError: Any) -> None:
        BindError.__init__(self, interface, port, socketError)
        self.interface = interface
        self.port = port
        self.socketError = socketError

    def __str__(self) -> str:
        where = self.interface or "any"
        return f"Couldn't listen on {where}:{self.port}: {self.socketError}."


class MulticastJoinError(Exception):
    """Joining a multicast group failed."""


class MessageLengthError(Exception):
    """A datagram was too large to be sent."""

    MESSAGE = "Message is too long to send"
    __str__ = _messageStr


class DNSLookupError(IOError):
    """A host name could not be resolved."""

    MESSAGE = "DNS lookup failed"
    __str__ = _messageStr


class ConnectInProgressError(Exception):
    """A connection attempt has been started and has not finished yet."""


class ConnectError(Exception):
    """Base class of the errors reported when an outgoing connection fails."""

    MESSAGE = "An error occurred while connecting"

    def __init__(self, osError: Any = None, string: Any = "") -> None:
        self.osError = osError
        Exception.__init__(self, string)

    def __str__(self) -> str:
        text = self.MESSAGE
        if self.osError:
            text = f"{text}: {self.osError}"
        if self.args[0]:
            text = f"{text}: {self.args[0]}"
        return text + "."


class ConnectBindError(ConnectError):
    """The local address for an outgoing connection could not be bound."""

    MESSAGE = "Couldn't bind"


class UnknownHostError(ConnectError):
    """The host name of an outgoing connection could not be resolved."""

    MESSAGE = "Hostname couldn't be looked up"


class NoRouteError(ConnectError):
    """The network reported that the destination cannot be reached."""

    MESSAGE = "No route to host"


class ConnectionRefusedError(ConnectError):
    """The remote side refused the connection (nothing listening)."""

    MESSAGE = "Connection was refused by other side"


class TCPTimedOutError(ConnectError):
    """The kernel gave up on the TCP handshake."""

    MESSAGE = "TCP connection timed out"


class BadFileError(ConnectError):
    """The path given for a UNIX socket cannot be used."""

    MESSAGE = "File used for UNIX socket is no good"


class ServiceNameUnknownError(ConnectError):
    """A service name given in place of a port number is not known."""

    MESSAGE = "Service name given as port is unknown"


class UserError(ConnectError):
    """The connection attempt was stopped by the application."""

    MESSAGE = "User aborted connection"


class TimeoutError(UserError):
    """The connection attempt took longer than the timeout the user gave."""

    MESSAGE = "User timeout caused connection failure"


class SSLError(ConnectError):
    """A TLS error happened while connecting."""

    MESSAGE = "An SSL error occurred"


class VerifyError(Exception):
    """A signature or certificate check failed."""

    MESSAGE = "Could not verify something that was supposed to be signed."


class PeerVerifyError(VerifyError):
    """The peer did not accept our verification."""

    MESSAGE = "The peer rejected our verify error."


class CertificateError(Exception):
    """An expected certificate was missing."""

    MESSAGE = "We did not find a certificate where we expected to find one."


errnoMapping: dict[int, type[ConnectError]] = {
    errno.ENETUNREACH: NoRouteError,
    errno.ECONNREFUSED: ConnectionRefusedError,
    errno.ETIMEDOUT: TCPTimedOutError,
}
"""Maps a connect() errno to the ConnectError subclass that reports it."""


def getConnectError(e: Any) -> ConnectError:
    """Translate a socket error (or an ``(errno, text)`` pair) into a ConnectError."""
    args = e.args if isinstance(e, Exception) else e
    try:
        number, string = args
    except ValueError:
        return ConnectError(string=e)
    if isinstance(e, socket.gaierror):
        cls: type[ConnectError] = UnknownHostError
    else:
        cls = errnoMapping.get(number, ConnectError)
    return cls(number, string)


class ConnectionClosed(Exception):
    """Base class for a connection ending, cleanly or not."""


class ConnectionLost(ConnectionClosed):
    """The connection ended in a non-clean way (reset, error, abort)."""

    MESSAGE = "\n    Connection to the other side was lost in a non-clean fashion\n    "
    __str__ = _firstLineStr


class ConnectionAborted(ConnectionLost):
    """The connection was ended locally with ``abortConnection()``."""

    MESSAGE = "Connection was aborted locally using ITCPTransport.abortConnection"


class ConnectionDone(ConnectionClosed):
    """The connection was closed cleanly."""

    MESSAGE = "Connection was closed cleanly"
    __str__ = _messageStr


class FileDescriptorOverrun(ConnectionLost):
    """More file descriptors than bytes were sent over a UNIX connection."""

    MESSAGE = (
        "A mis-use of IUNIXTransport.sendFileDescriptor caused "
        "the connection to be closed."
    )


class ConnectionFdescWentAway(ConnectionLost):
    """The file descriptor behind a connection disappeared."""

    MESSAGE = "Uh"


class AlreadyCalled(ValueError):
    """A delayed call that already ran was cancelled or changed."""

    MESSAGE = "Tried to cancel an already-called event"
    __str__ = _messageStr


class AlreadyCancelled(ValueError):
    """A delayed call that was already cancelled was cancelled or changed."""

    MESSAGE = "Tried to cancel an already-cancelled event"
    __str__ = _messageStr


class ProcessDone(ConnectionDone):
    """A child process exited with status 0."""

    MESSAGE = "A process has ended without apparent errors"

    def __init__(self, status: Any) -> None:
        Exception.__init__(self, "process finished with exit code 0")
        self.exitCode = 0
        self.signal = None
        self.status = status


class ProcessTerminated(ConnectionLost):
    """A child process exited with a non-zero status or was killed by a signal."""

    MESSAGE = "A process has ended with a probable error condition"

    def __init__(
        self, exitCode: int | None = None, signal: int | None = None, status: Any = None
    ) -> None:
        self.exitCode = exitCode
        self.signal = signal
        self.status = status
        text = "process ended"
        if exitCode is not None:
            text += f" with exit code {exitCode}"
        if signal is not None:
            text += f" by signal {signal}"
        Exception.__init__(self, text)


class ProcessExitedAlready(Exception):
    """The operation needs a running process, and the process has exited."""


class NotConnectingError(RuntimeError):
    """``stopConnecting()`` was called on a connector that is not connecting."""

    MESSAGE = "The Connector was not connecting when it was asked to stop connecting"
    __str__ = _messageStr


class NotListeningError(RuntimeError):
    """``stopListening()`` was called on a port that is not listening."""

    MESSAGE = "The Port was not listening when it was asked to stop listening"
    __str__ = _messageStr


class ReactorNotRunning(RuntimeError):
    """The reactor was asked to stop while it was not running."""


class ReactorNotRestartable(RuntimeError):
    """The reactor was asked to run again after it had stopped."""


class ReactorAlreadyRunning(RuntimeError):
    """The reactor was asked to run while already running."""


class ReactorAlreadyInstalledError(AssertionError):
    """A reactor was installed when one was installed already."""


class ConnectingCancelledError(Exception):
    """A client endpoint's connection attempt was cancelled; ``address`` is its target."""

    def __init__(self, address: Any) -> None:
        Exception.__init__(self, address)
        self.address = address


class NoProtocol(Exception):
    """A client endpoint's factory returned None from ``buildProtocol``."""


class UnsupportedAddressFamily(Exception):
    """The reactor does not support the requested address family."""


class UnsupportedSocketType(Exception):
    """The reactor does not support the requested socket type."""


class AlreadyListened(Exception):
    """A file descriptor that can be listened on only once was listened on again."""


class InvalidAddressError(ValueError):
    """An address was neither IPv4 nor IPv6, or not the family expected."""

    def __init__(self, address: Any, message: str) -> None:
        self.address = address
        self.message = message


__all__ = [
    "BindError",
    "CannotListenError",
    "MulticastJoinError",
    "MessageLengthError",
    "DNSLookupError",
    "ConnectInProgressError",
    "ConnectError",
    "ConnectBindError",
    "UnknownHostError",
    "NoRouteError",
    "ConnectionRefusedError",
    "TCPTimedOutError",
    "BadFileError",
    "ServiceNameUnknownError",
    "UserError",
    "TimeoutError",
    "SSLError",
    "VerifyError",
    "PeerVerifyError",
    "CertificateError",
    "getConnectError",
    "ConnectionClosed",
    "ConnectionLost",
    "ConnectionAborted",
    "ConnectionDone",
    "FileDescriptorOverrun",
    "ConnectionFdescWentAway",
    "AlreadyCalled",
    "AlreadyCancelled",
    "ProcessDone",
    "ProcessTerminated",
    "ProcessExitedAlready",
    "NotConnectingError",
    "NotListeningError",
    "ReactorNotRunning",
    "ReactorNotRestartable",
    "ReactorAlreadyRunning",
    "ReactorAlreadyInstalledError",
    "ConnectingCancelledError",
    "NoProtocol",
    "UnsupportedAddressFamily",
    "UnsupportedSocketType",
    "AlreadyListened",
    "InvalidAddressError",
]
