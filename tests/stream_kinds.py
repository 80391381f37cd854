"""The kinds of stream connection the stream tests run over: TCP on the
loopback interface and UNIX sockets in a temporary directory.

A test that asks for the ``stream_kind`` fixture (see conftest) runs once
per kind; a stream test module overrides ``flavor`` so that each of its
scenarios runs per kind as well (``flavor.kind``). ``tcp_only`` keeps a
test about TCP itself (its options, its IPv4 addresses) on TCP."""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from unix_helpers import socket_directory

KINDS = ("tcp", "unix")

tcp_only = pytest.mark.parametrize("stream_kind", ["tcp"], indirect=True)


class TCPKind:
    """Streams over TCP on 127.0.0.1, on a port the system picks."""

    name = "tcp"
    family = socket.AF_INET

    def listen(self, reactor: Any, factory: Any, **options: Any) -> Any:
        """Listen with ``factory``; returns the listening port."""
        return reactor.listenTCP(0, factory, interface="127.0.0.1", **options)

    def connect(self, reactor: Any, port: Any, factory: Any, **options: Any) -> Any:
        """Connect ``factory`` to ``port`` (made by listen); the connector."""
        return reactor.connectTCP("127.0.0.1", port.getHost().port, factory, **options)

    def rawListener(self) -> socket.socket:
        """A plain listening socket (not a reactor's)."""
        return socket.create_server(("127.0.0.1", 0))

    def target(self, where: Any) -> Any:
        """The socket address of ``where``: a port made by listen, or a raw
        listener."""
        if isinstance(where, socket.socket):
            return where.getsockname()
        return ("127.0.0.1", where.getHost().port)

    def rawConnect(
        self, where: Any, timeout: float | None = 10.0, noDelay: bool = False
    ) -> socket.socket:
        """A blocking socket connected to ``where`` (as for target), with
        TCP_NODELAY set if ``noDelay``."""
        sock = socket.create_connection(self.target(where), timeout=timeout)
        if noDelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def proxyTarget(self, listener: socket.socket) -> Any:
        """How portforward reaches a raw listener: (host, port)."""
        return listener.getsockname()


class UNIXKind:
    """Streams over UNIX sockets, each listener on a new path in
    ``directory``."""

    name = "unix"
    family = socket.AF_UNIX

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._numbers = itertools.count()

    def _newPath(self) -> str:
        return os.path.join(self.directory, f"s{next(self._numbers)}")

    def listen(self, reactor: Any, factory: Any, **options: Any) -> Any:
        """Listen with ``factory``; returns the listening port."""
        return reactor.listenUNIX(self._newPath(), factory, **options)

    def connect(self, reactor: Any, port: Any, factory: Any, **options: Any) -> Any:
        """Connect ``factory`` to ``port`` (made by listen); the connector."""
        return reactor.connectUNIX(port.getHost().name, factory, **options)

    def rawListener(self) -> socket.socket:
        """A plain listening socket (not a reactor's)."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self._newPath())
        listener.listen()
        return listener

    def target(self, where: Any) -> Any:
        """The socket address of ``where``: a port made by listen, or a raw
        listener."""
        if isinstance(where, socket.socket):
            return where.getsockname()
        return where.getHost().name

    def rawConnect(
        self, where: Any, timeout: float | None = 10.0, noDelay: bool = False
    ) -> socket.socket:
        """A blocking socket connected to ``where`` (as for target);
        ``noDelay`` has no meaning here (there is no Nagle algorithm)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(self.target(where))
        except BaseException:
            sock.close()
            raise
        return sock

    def proxyTarget(self, listener: socket.socket) -> Any:
        """How portforward reaches a raw listener: its path."""
        return listener.getsockname()


@contextlib.contextmanager
def streamKind(name: str) -> Iterator[TCPKind | UNIXKind]:
    """The kind called ``name``, with its resources for the duration."""
    if name == "tcp":
        yield TCPKind()
        return
    with socket_directory() as directory:
        yield UNIXKind(directory)
