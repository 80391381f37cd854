"""A slow poetry server, for the poetry client to download from.

    python examples/poetry_server.py [POEMFILE] [--num-bytes 10] [--delay 0.01]
                                     [--port 10000] [--interface 127.0.0.1]

Sends the poem (POEMFILE, or a short built-in one) to each client
``--num-bytes`` bytes at a time, one chunk every ``--delay`` seconds, then
closes the connection.
"""

import argparse

from torsion.internet import reactor
from torsion.internet.protocol import Factory, Protocol

DEFAULT_POEM = b"""\
Once upon a midnight dreary, while I pondered, weak and weary,
Over many a quaint and curious volume of forgotten lore,
While I nodded, nearly napping, suddenly there came a tapping,
As of some one gently rapping, rapping at my chamber door.
"""


class SlowPoetry(Protocol):
    """Sends the factory's poem in small timed chunks, then hangs up."""

    def connectionMade(self):
        self.offset = 0
        self.pending = reactor.callLater(0, self.sendChunk)

    def sendChunk(self):
        poem = self.factory.poem
        chunk = poem[self.offset : self.offset + self.factory.numBytes]
        self.offset += len(chunk)
        if chunk:
            self.transport.write(chunk)
        if self.offset >= len(poem):
            self.pending = None
            self.transport.loseConnection()
        else:
            self.pending = reactor.callLater(self.factory.delay, self.sendChunk)

    def connectionLost(self, reason):
        if self.pending is not None and self.pending.active():
            self.pending.cancel()
        self.pending = None


class PoetryFactory(Factory):
    """The poem and the pace to send it at."""

    protocol = SlowPoetry

    def __init__(self, poem, numBytes, delay):
        self.poem = poem
        self.numBytes = numBytes
        self.delay = delay


def main(argv=None):
    """Serve the poem until stopped."""
    parser = argparse.ArgumentParser(description="A slow poetry server.")
    parser.add_argument("poemfile", nargs="?")
    parser.add_argument("--num-bytes", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.01)
    parser.add_argument("--interface", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=10000)
    args = parser.parse_args(argv)
    if args.poemfile is None:
        poem = DEFAULT_POEM
    else:
        with open(args.poemfile, "rb") as f:
            poem = f.read()
    factory = PoetryFactory(poem, args.num_bytes, args.delay)
    port = reactor.listenTCP(args.port, factory, interface=args.interface)
    address = port.getHost()
    print(f"Listening on {address.host}:{address.port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
