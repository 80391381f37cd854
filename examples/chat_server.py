"""The multi-user chat server from "Writing Servers".

    python examples/chat_server.py [--port 8123] [--interface 127.0.0.1]

Asks each client "What's your name?"; a name already in use gets "Name
taken, please choose another."; a free one gets "Welcome, NAME!". After
that, every line a user sends reaches all the other users as
"<NAME> line". Shared state (the users) lives in the factory; each
protocol is a small state machine (GETNAME, then CHAT).
"""

import argparse

from torsion.internet import reactor
from torsion.internet.protocol import Factory
from torsion.protocols.basic import LineReceiver


class Chat(LineReceiver):
    """One user's connection."""

    def __init__(self, users):
        self.users = users
        self.name = None
        self.state = "GETNAME"

    def connectionMade(self):
        self.sendLine(b"What's your name?")

    def connectionLost(self, reason):
        if self.name in self.users:
            del self.users[self.name]

    def lineReceived(self, line):
        if self.state == "GETNAME":
            self.handle_GETNAME(line)
        else:
            self.handle_CHAT(line)

    def handle_GETNAME(self, name):
        """Register the name if it is free."""
        if name in self.users:
            self.sendLine(b"Name taken, please choose another.")
            return
        self.sendLine(b"Welcome, %s!" % (name,))
        self.name = name
        self.users[name] = self
        self.state = "CHAT"

    def handle_CHAT(self, message):
        """Send the message to every other user."""
        message = b"<%s> %s" % (self.name, message)
        for protocol in self.users.values():
            if protocol != self:
                protocol.sendLine(message)


class ChatFactory(Factory):
    """Holds the users registered by name."""

    def __init__(self):
        self.users = {}

    def buildProtocol(self, addr):
        return Chat(self.users)


def main(argv=None):
    """Serve until stopped."""
    parser = argparse.ArgumentParser(description="A multi-user chat server.")
    parser.add_argument("--interface", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args(argv)
    port = reactor.listenTCP(args.port, ChatFactory(), interface=args.interface)
    address = port.getHost()
    print(f"Listening on {address.host}:{address.port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
