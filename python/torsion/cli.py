"""The ``torsion`` command: small servers on torsion's reactor.

``torsion echo``, ``torsion chat`` and ``torsion portforward`` listen on an
endpoint string (``--listen tcp:8080:interface=127.0.0.1``, or
``--listen unix:/run/echo.sock``); ``portforward --to`` takes ``HOST:PORT``
or a client endpoint string (``--to unix:/run/app.sock``). They log one line
per connection opened or closed (standard ``logging``, to stderr), and stop
cleanly with exit status 0 on Ctrl-C or SIGTERM. Bad arguments exit with
status 2 and a message naming the problem; a port that cannot be opened
exits with status 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from torsion.internet.protocol import Factory, Protocol
from torsion.protocols.basic import LineReceiver
from torsion.protocols.portforward import (
    EndpointProxyFactory,
    ProxyFactory,
    ProxyServer,
)

__all__ = ["main", "buildParser", "parseTarget"]

_log = logging.getLogger("torsion.cli")

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _addressText(address: Any) -> str:
    """An address as the log lines show it: ``host:port``, ``[ipv6]:port``,
    or ``unix:PATH`` (``unix:`` alone for an unnamed UNIX socket)."""
    host = getattr(address, "host", None)
    if host is None:
        if hasattr(address, "name"):
            name = address.name
            return "unix:" + (os.fsdecode(name) if name else "")
        return str(address)
    if ":" in host:
        return f"[{host}]:{address.port}"
    return f"{host}:{address.port}"


def _peerText(transport: Any) -> str:
    return _addressText(transport.getPeer())


class _LoggedConnection:
    """Mixin: log the opening and the closing of each connection."""

    transport: Any
    _peer = "?"

    def connectionMade(self) -> None:
        """Log the new connection, then carry on as the protocol would."""
        self._peer = _peerText(self.transport)
        _log.info("connection from %s opened", self._peer)
        super().connectionMade()  # type: ignore[misc]

    def connectionLost(self, reason: Any = None) -> None:
        """Log why the connection ended, then carry on as the protocol would."""
        message = reason.getErrorMessage() if reason is not None else "closed"
        _log.info("connection from %s closed: %s", self._peer, message)
        super().connectionLost(reason)  # type: ignore[misc]


class Echo(_LoggedConnection, Protocol):
    """Writes back every byte it receives."""

    def dataReceived(self, data: bytes) -> None:
        """Echo ``data``."""
        self.transport.write(data)


class Chat(_LoggedConnection, LineReceiver):
    """One user of the chat server: asks for a name, then relays lines."""

    def __init__(self, users: dict[bytes, Chat]) -> None:
        self.users = users
        self.name: bytes | None = None
        self.state = "GETNAME"

    def connectionMade(self) -> None:
        """Log the connection and ask for a name."""
        super().connectionMade()
        self.sendLine(b"What's your name?")

    def connectionLost(self, reason: Any = None) -> None:
        """Free the user's name and log the close."""
        if self.name is not None and self.users.get(self.name) is self:
            del self.users[self.name]
        super().connectionLost(reason)

    def lineReceived(self, line: bytes) -> None:
        """A name while unregistered, a message after."""
        if self.state == "GETNAME":
            self.handle_GETNAME(line)
        else:
            self.handle_CHAT(line)

    def handle_GETNAME(self, name: bytes) -> None:
        """Register ``name`` unless another user has it."""
        if name in self.users:
            self.sendLine(b"Name taken, please choose another.")
            return
        self.sendLine(b"Welcome, %s!" % (name,))
        self.name = name
        self.users[name] = self
        self.state = "CHAT"
        _log.info("%s registered as %r", self._peer, name.decode("utf-8", "replace"))

    def handle_CHAT(self, message: bytes) -> None:
        """Send ``<name> message`` to every other user."""
        line = b"<%s> %s" % (self.name, message)
        for protocol in list(self.users.values()):
            if protocol is not self:
                protocol.sendLine(line)


class ChatFactory(Factory):
    """Holds the registered users, shared by every connection."""

    noisy = False

    def __init__(self) -> None:
        self.users: dict[bytes, Chat] = {}

    def buildProtocol(self, addr: Any) -> Chat:
        """A Chat sharing this factory's users."""
        protocol = Chat(self.users)
        protocol.factory = self
        return protocol


class LoggedProxyServer(_LoggedConnection, ProxyServer):
    """A port-forwarding server connection that logs its lifetime."""


def parseTarget(text: str) -> tuple[str, int]:
    """``"host:port"`` or ``"[ipv6]:port"`` as ``(host, port)``; ValueError
    naming the problem otherwise."""
    host, sep, portText = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"write an IPv6 host in brackets ([::1]:80), got {text!r}")
    if not host:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    if not portText.isdigit() or not 0 < int(portText) < 65536:
        raise ValueError(f"port must be a number from 1 to 65535, got {portText!r}")
    return host, int(portText)


# Client endpoint types ``--to`` takes as endpoint strings.
_TARGET_TYPES = ("tcp", "unix")


def _isEndpointString(text: str) -> bool:
    """Whether ``--to`` names a client endpoint (``unix:/path``,
    ``tcp:host=h:port=80``) rather than ``HOST:PORT``; ``tcp:80`` stays a
    host named "tcp"."""
    kind, sep, rest = text.partition(":")
    return bool(sep) and kind.lower() in _TARGET_TYPES and not rest.isdigit()


def _parseForwardTarget(text: str, reactor: Any) -> Any:
    """``--to``: a client endpoint for an endpoint string, else the
    ``(host, port)`` of parseTarget; ValueError naming the problem."""
    if not _isEndpointString(text):
        return parseTarget(text)
    from torsion.internet import endpoints

    try:
        return endpoints.clientFromString(reactor, text)
    except Exception as e:
        raise ValueError(f"invalid endpoint {text!r} ({e})") from None


def buildParser() -> argparse.ArgumentParser:
    """The argument parser of the ``torsion`` command."""
    parser = argparse.ArgumentParser(
        prog="torsion",
        description="Small servers on torsion's reactor.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    listenHelp = "server endpoint string to listen on (default: %(default)s)"

    echo = commands.add_parser(
        "echo",
        help="echo server: sends back every byte it receives",
        description="Echo server: sends back every byte it receives.",
    )
    echo.add_argument(
        "--listen",
        default="tcp:8000:interface=127.0.0.1",
        metavar="ENDPOINT",
        help=listenHelp,
    )
    echo.set_defaults(commandParser=echo)

    chat = commands.add_parser(
        "chat",
        help="line-based chat server: pick a name, then talk to everyone",
        description=(
            "Line-based chat server: each client picks a name, then every "
            "line it sends reaches all the other clients as '<name> line'."
        ),
    )
    chat.add_argument(
        "--listen",
        default="tcp:8123:interface=127.0.0.1",
        metavar="ENDPOINT",
        help=listenHelp,
    )
    chat.set_defaults(commandParser=chat)

    forward = commands.add_parser(
        "portforward",
        help="forward every connection to HOST:PORT",
        description=(
            "Forward every accepted connection to HOST:PORT (or a client "
            "endpoint string such as unix:/run/app.sock), both ways."
        ),
    )
    forward.add_argument(
        "--listen",
        required=True,
        metavar="ENDPOINT",
        help="server endpoint string to listen on, such as tcp:8080:interface=127.0.0.1",
    )
    forward.add_argument(
        "--to",
        required=True,
        metavar="HOST:PORT",
        help="where to forward to: HOST:PORT, [IPv6]:PORT, or a client endpoint "
        "string such as unix:/run/app.sock or tcp:host=example.com:port=80",
    )
    forward.set_defaults(commandParser=forward)
    return parser


def _echoFactory(args: argparse.Namespace, reactor: Any) -> Factory:
    return Factory.forProtocol(Echo)


def _chatFactory(args: argparse.Namespace, reactor: Any) -> Factory:
    return ChatFactory()


def _forwardFactory(args: argparse.Namespace, reactor: Any) -> Factory:
    if isinstance(args.target, tuple):
        host, port = args.target
        factory = ProxyFactory(host, port)
    else:
        factory = EndpointProxyFactory(args.target)
    factory.protocol = LoggedProxyServer
    factory.reactor = reactor
    return factory


_FACTORIES: dict[str, Callable[[argparse.Namespace, Any], Factory]] = {
    "echo": _echoFactory,
    "chat": _chatFactory,
    "portforward": _forwardFactory,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``torsion`` command with ``argv`` (default: sys.argv[1:]);
    return the exit status."""
    parser = buildParser()
    args = parser.parse_args(argv)
    if args.command == "portforward" and not _isEndpointString(args.to):
        try:
            args.target = parseTarget(args.to)
        except ValueError as e:
            args.commandParser.error(f"argument --to: {e}")

    from torsion.internet import endpoints
    from torsion.internet import reactor as installed

    reactor: Any = installed
    if args.command == "portforward" and _isEndpointString(args.to):
        try:
            args.target = _parseForwardTarget(args.to, reactor)
        except ValueError as e:
            args.commandParser.error(f"argument --to: {e}")

    try:
        endpoint = endpoints.serverFromString(reactor, args.listen)
    except Exception as e:
        args.commandParser.error(
            f"argument --listen: invalid endpoint {args.listen!r} ({e}); "
            "expected a server endpoint such as tcp:8080:interface=127.0.0.1"
        )

    logging.basicConfig(level=logging.WARNING, format=_LOG_FORMAT, stream=sys.stderr)
    _log.setLevel(logging.INFO)
    status = [0]

    def listening(port: Any) -> None:
        where = _addressText(port.getHost())
        if args.command == "portforward":
            target = args.target
            if isinstance(target, tuple):
                target = f"{target[0]}:{target[1]:d}"
            else:
                target = args.to
            _log.info("portforward listening on %s, forwarding to %s", where, target)
        else:
            _log.info("%s listening on %s", args.command, where)

    def cannotListen(reason: Any) -> None:
        _log.error("cannot listen on %s: %s", args.listen, reason.getErrorMessage())
        status[0] = 1
        reactor.callWhenRunning(reactor.stop)

    factory = _FACTORIES[args.command](args, reactor)
    endpoint.listen(factory).addCallbacks(listening, cannotListen)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    reactor.addSystemEventTrigger("before", "shutdown", _log.info, "stopping")
    reactor.run()
    if status[0] == 0:
        _log.info("stopped")
    return status[0]
