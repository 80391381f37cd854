"""The LineReceiver "Answer" server from "Writing Servers".

    python examples/answer_server.py [--port 8000] [--interface 127.0.0.1]

Reads CRLF-terminated lines; answers "How are you?" with "Fine" and any
other line with "I don't know what you mean".
"""

import argparse

from torsion.internet import reactor
from torsion.internet.protocol import Factory
from torsion.protocols.basic import LineReceiver


class Answer(LineReceiver):
    """Answers each line it knows, and says so when it does not."""

    answers = {b"How are you?": b"Fine", None: b"I don't know what you mean"}

    def lineReceived(self, line):
        if line in self.answers:
            self.sendLine(self.answers[line])
        else:
            self.sendLine(self.answers[None])


def main(argv=None):
    """Serve until stopped."""
    parser = argparse.ArgumentParser(description="A line-answering server.")
    parser.add_argument("--interface", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    factory = Factory.forProtocol(Answer)
    port = reactor.listenTCP(args.port, factory, interface=args.interface)
    address = port.getHost()
    print(f"Listening on {address.host}:{address.port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
