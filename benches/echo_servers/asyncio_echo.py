"""Echo server on asyncio (optionally uvloop) for loadgen comparisons.

Usage: python asyncio_echo.py PORT [--host 127.0.0.1] [--loop asyncio|uvloop]
       [--port-file PATH] [--unix SOCKET_PATH]

Prints nothing; with PORT 0, ``--port-file`` receives the bound port. With
``--unix`` it listens on that UNIX stream socket instead (PORT is ignored)
and the port file receives the socket's path.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal


class Echo(asyncio.Protocol):
    """Writes back every chunk as it arrives."""

    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport for writing."""
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        """Echo the chunk."""
        self.transport.write(data)


def write_port_file(path: str, where: object) -> None:
    """Write the port (or path) atomically so a reader never sees a partial
    file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{where}\n")
    os.replace(tmp, path)


async def serve(a: argparse.Namespace) -> None:
    """Listen and serve until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    if a.unix:
        server = await loop.create_unix_server(Echo, a.unix, backlog=1024)
        where: object = a.unix
    else:
        server = await loop.create_server(Echo, a.host, a.port, backlog=1024)
        where = server.sockets[0].getsockname()[1]
    if a.port_file:
        write_port_file(a.port_file, where)
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
    p.add_argument("--loop", choices=["asyncio", "uvloop", "rloop"], default="asyncio")
    p.add_argument("--port-file")
    p.add_argument("--unix", metavar="SOCKET_PATH")
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
