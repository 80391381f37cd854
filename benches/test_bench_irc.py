"""IRCClient parsing speed, torsion beside Twisted: a recorded-style busy
channel stream of 100,000 lines (mostly PRIVMSG, with joins, parts, quits,
actions, notices and mode changes from 50 users) fed in 4 KiB chunks.

Run with:  PYTHONPATH=python .venv/bin/python -m pytest benches/test_bench_irc.py \
    --benchmark-only
The issue's target is 2x Twisted's lines per second; see the README for
what was measured.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from torsion.words.protocols import irc as torsion_irc
from twisted.words.protocols import irc as twisted_irc

IMPLEMENTATIONS = {"twisted": twisted_irc, "torsion": torsion_irc}
LINES = 100_000
CHUNK = 4096
WORDS = "the quick brown fox jumps over a lazy dog hello world irc channel".split()


def busyChannel(count: int = LINES, seed: int = 17) -> bytes:
    """``count`` server lines of a busy channel, the same for every run."""
    rnd = random.Random(seed)
    nicks = [f"user{i}" for i in range(50)]
    lines = []
    for _ in range(count):
        nick = rnd.choice(nicks)
        who = f":{nick}!~{nick}@host{rnd.randint(1, 9)}.example.net"
        text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 15)))
        kind = rnd.random()
        if kind < 0.80:
            lines.append(f"{who} PRIVMSG #busy :{text}")
        elif kind < 0.85:
            lines.append(f"{who} JOIN :#busy")
        elif kind < 0.90:
            lines.append(f"{who} PART #busy :bye")
        elif kind < 0.93:
            lines.append(f"{who} QUIT :Quit: leaving")
        elif kind < 0.96:
            lines.append(f"{who} PRIVMSG #busy :\x01ACTION {rnd.choice(WORDS)}\x01")
        elif kind < 0.98:
            lines.append(f"{who} NOTICE #busy :{text}")
        else:
            lines.append(f"{who} MODE #busy +v {rnd.choice(nicks)}")
    return ("\r\n".join(lines) + "\r\n").encode()


STREAM = busyChannel()
CHUNKS = [STREAM[i : i + CHUNK] for i in range(0, len(STREAM), CHUNK)]


class _Transport:
    """What the client touches on its transport while receiving."""

    disconnecting = False

    def write(self, data: bytes) -> None:
        pass


def parseAll(irc: Any) -> Any:
    """A callable feeding the whole stream to a fresh, counting client."""

    class Counting(irc.IRCClient):
        heartbeatInterval = None
        seen = 0

        def privmsg(self, user: str, channel: str, message: str) -> None:
            self.seen += 1

    def run() -> int:
        client = Counting()
        client.makeConnection(_Transport())
        for chunk in CHUNKS:
            client.dataReceived(chunk)
        return client.seen

    return run


@pytest.mark.parametrize("impl", sorted(IMPLEMENTATIONS))
def test_busy_channel(benchmark, impl):
    """100,000 lines through IRCClient (one round is the whole stream)."""
    benchmark.group = "irc busy channel, 100,000 lines"
    seen = benchmark.pedantic(parseAll(IMPLEMENTATIONS[impl]), rounds=5, iterations=1)
    assert seen == parseAll(twisted_irc)()
