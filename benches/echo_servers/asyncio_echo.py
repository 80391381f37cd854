"""Echo server on asyncio (optionally uvloop) for loadgen comparisons.

Usage: python asyncio_echo.py PORT [--host 127.0.0.1] [--loop asyncio|uvloop]
       [--port-file PATH]

Prints nothing; with PORT 0, ``--port-file`` receives the bound port.
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


def write_port_file(path: str, port: int) -> None:
    """Write the port atomically so a reader never sees a partial file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


async def serve(host: str, port: int, port_file: str | None) -> None:
    """Listen and serve until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, host, port, backlog=1024)
    if port_file:
        write_port_file(port_file, server.sockets[0].getsockname()[1])
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
    a = p.parse_args()
    if a.loop == "uvloop":
        import uvloop

        uvloop.run(serve(a.host, a.port, a.port_file))
    elif a.loop == "rloop":
        import rloop

        with asyncio.Runner(loop_factory=rloop.new_event_loop) as runner:
            runner.run(serve(a.host, a.port, a.port_file))
    else:
        asyncio.run(serve(a.host, a.port, a.port_file))


if __name__ == "__main__":
    main()
