"""IRCClient's timed behaviour: the heartbeat PINGs and lineRate spacing,
driven by a Clock."""

from __future__ import annotations

import importlib

import pytest
from torsion.internet import task
from torsion.internet.testing import StringTransport
from torsion.words.protocols import _ircclient
from torsion.words.protocols import irc as x_irc


@pytest.mark.parametrize("name", ["torsion", "twisted"])
def test_heartbeat(name):
    """After the welcome a PING to the server every heartbeatInterval
    seconds, the first one interval later; none after the connection is
    lost."""
    irc = importlib.import_module(f"{name}.words.protocols.irc")
    testing = importlib.import_module(f"{name}.internet.testing")
    clock = importlib.import_module(f"{name}.internet.task").Clock()
    client = irc.IRCClient()

    def heartbeat():
        call = irc.IRCClient._createHeartbeat(client)
        call.clock = clock
        return call

    client._createHeartbeat = heartbeat
    transport = testing.StringTransport()
    client.makeConnection(transport)
    client.dataReceived(b":irc.test 001 irc :Welcome\r\n")
    transport.clear()
    clock.advance(119)
    assert transport.value() == b""
    clock.advance(1)
    assert transport.value() == b"PING irc.test\r\n"
    clock.advance(120)
    assert transport.value() == b"PING irc.test\r\n" * 2
    client.connectionLost(None)
    assert clock.getDelayedCalls() == []


def test_line_rate(monkeypatch):
    """With lineRate set, the first line goes at once and each next one
    lineRate seconds after the previous."""
    clock = task.Clock()
    monkeypatch.setattr(_ircclient, "_callLater", clock.callLater)
    client = x_irc.IRCClient()
    client.lineRate = 0.5
    client.performLogin = 0
    transport = StringTransport()
    client.makeConnection(transport)
    client.msg("bob", "one\ntwo\nthree")
    assert transport.value() == b"PRIVMSG bob :one\r\n"
    clock.advance(0.49)
    assert transport.value() == b"PRIVMSG bob :one\r\n"
    clock.advance(0.01)
    assert transport.value() == b"PRIVMSG bob :one\r\nPRIVMSG bob :two\r\n"
    clock.advance(0.5)
    assert transport.value().endswith(b"PRIVMSG bob :three\r\n")
    clock.advance(0.5)
    assert client._queueEmptying is None
    assert clock.getDelayedCalls() == []
