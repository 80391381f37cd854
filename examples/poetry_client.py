"""The poetry client: download from several servers at once.

    python examples/poetry_client.py HOST:PORT [HOST:PORT ...]

Connects to every server at the same time with one PoetryClientFactory.
Each connection's protocol numbers itself (its task number, given by the
factory's buildProtocol), reports each chunk it receives, and tells the
factory when its poem is finished; a connection that fails is reported by
the factory. When every download has ended, prints the poems in the order
the servers were given and exits.
"""

import argparse

from torsion.internet import reactor
from torsion.internet.protocol import ClientFactory, Protocol


class PoetryProtocol(Protocol):
    """Downloads one poem: everything the server sends until it hangs up."""

    poem = b""
    task_num = 0

    def dataReceived(self, data):
        self.poem += data
        peer = self.transport.getPeer()
        msg = "Task %d: got %d bytes of poetry from %s:%d"
        print(msg % (self.task_num, len(data), peer.host, peer.port))

    def connectionLost(self, reason):
        self.poemReceived(self.poem)

    def poemReceived(self, poem):
        """Hand the finished poem to the factory."""
        peer = self.transport.getPeer()
        self.factory.poem_finished(self.task_num, (peer.host, peer.port), poem)


class PoetryClientFactory(ClientFactory):
    """Numbers the downloads and collects the poems; stops when all are done."""

    task_num = 1

    protocol = PoetryProtocol

    def __init__(self, poetry_count):
        self.poetry_count = poetry_count
        self.poems = {}

    def buildProtocol(self, address):
        proto = ClientFactory.buildProtocol(self, address)
        proto.task_num = self.task_num
        self.task_num += 1
        return proto

    def poem_finished(self, task_num=None, address=None, poem=None):
        """One download has ended (``task_num`` is None if it failed)."""
        if task_num is not None:
            print(f"Task {task_num}: poem finished, {len(poem)} bytes")
            self.poems[address] = poem
        self.poetry_count -= 1
        if self.poetry_count == 0:
            reactor.stop()

    def clientConnectionFailed(self, connector, reason):
        print("Failed to connect to:", connector.getDestination())
        self.poem_finished()


def parseAddress(text):
    """``"host:port"`` or ``"port"`` (on 127.0.0.1) as a (host, port) pair."""
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv=None):
    """Download every poem, then print them."""
    parser = argparse.ArgumentParser(description="Download poems concurrently.")
    parser.add_argument("servers", nargs="+", metavar="HOST:PORT")
    args = parser.parse_args(argv)
    addresses = [parseAddress(text) for text in args.servers]
    factory = PoetryClientFactory(len(addresses))
    for host, port in addresses:
        reactor.connectTCP(host, port, factory)
    reactor.run()
    for host, port in addresses:
        poem = factory.poems.get((host, port))
        if poem is not None:
            print(f"Poem from {host}:{port}:")
            print(poem.decode("utf-8"), end="")


if __name__ == "__main__":
    main()
