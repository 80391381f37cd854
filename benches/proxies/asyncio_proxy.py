"""TCP forwarder on asyncio Protocols (optionally on uvloop), for loadgen's
proxy mode.

Usage: python asyncio_proxy.py PORT --backend-port B [--backend-host H]
       [--host 127.0.0.1] [--loop asyncio|uvloop] [--port-file PATH]

The plain way to write it with asyncio's protocol API, shaped like
Twisted's portforward: the accepted side stops reading until its onward
connection is made; each chunk is written to the other side as it arrives;
flow control pauses reading on one side while the other side's write
buffer is over its high-water mark (pause_writing/resume_writing); when
either side closes, the other is closed after it flushes. Prints nothing;
with PORT 0, ``--port-file`` receives the bound port.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal


class Side(asyncio.Protocol):
    """One connection of a forwarded pair; ``peer`` is the other one."""

    transport: asyncio.Transport
    peer: Side | None = None
    lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        """Forward the chunk."""
        self.peer.transport.write(data)  # type: ignore[union-attr]

    def pause_writing(self) -> None:
        """Our outgoing buffer is full: stop reading what fills it."""
        peer = self.peer
        if peer is not None and not peer.transport.is_closing():
            peer.transport.pause_reading()

    def resume_writing(self) -> None:
        """Our outgoing buffer drained: read from the other side again."""
        peer = self.peer
        if peer is not None and not peer.transport.is_closing():
            peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        """Close the other side once it has written what it holds."""
        self.lost = True
        peer = self.peer
        if peer is not None:
            self.peer = None
            peer.peer = None
            peer.transport.close()


class ClientSide(Side):
    """The connection from the proxy to the backend."""

    def __init__(self, server: ServerSide) -> None:
        self.server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Pair with the accepted side and let it read."""
        super().connection_made(transport)
        server = self.server
        if server.lost:
            transport.close()
            return
        self.peer = server
        server.peer = self
        if server.early:
            transport.writelines(server.early)  # type: ignore[attr-defined]
            server.early.clear()
        server.transport.resume_reading()


class ServerSide(Side):
    """The connection from a client to the proxy."""

    def __init__(self, host: str, port: int) -> None:
        self.backend = (host, port)
        self.early: list[bytes] = []

    def data_received(self, data: bytes) -> None:
        """Forward the chunk, or hold it while the backend is not connected
        (pause_reading inside connection_made is not honoured by uvloop nor
        by Python 3.11's asyncio: CPython gh-103607)."""
        peer = self.peer
        if peer is None:
            self.early.append(data)
        else:
            peer.transport.write(data)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Hold the client's bytes until the backend connection is made."""
        super().connection_made(transport)
        self.transport.pause_reading()
        # Kept so that the task cannot be collected while it runs.
        self.connecting = asyncio.get_running_loop().create_task(self.connect())

    async def connect(self) -> None:
        """Open the onward connection; close the client if that fails."""
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: ClientSide(self), *self.backend)
        except OSError:
            self.transport.close()


def write_port_file(path: str, port: int) -> None:
    """Write the port atomically so a reader never sees a partial file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


async def serve(a: argparse.Namespace) -> None:
    """Listen and forward until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: ServerSide(a.backend_host, a.backend_port),
        a.host,
        a.port,
        backlog=1024,
    )
    if a.port_file:
        write_port_file(a.port_file, server.sockets[0].getsockname()[1])
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    """Parse arguments and run the chosen loop."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("port", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--backend-host", default="127.0.0.1")
    p.add_argument("--backend-port", type=int, required=True)
    p.add_argument("--loop", choices=["asyncio", "uvloop", "rloop"], default="asyncio")
    p.add_argument("--port-file")
    a = p.parse_args()
    if a.loop == "uvloop":
        import uvloop

        uvloop.run(serve(a))
    elif a.loop == "rloop":
        import rloop

        with asyncio.Runner(loop_factory=rloop.new_event_loop) as runner:
            runner.run(serve(a))
    else:
        asyncio.run(serve(a))


if __name__ == "__main__":
    main()
