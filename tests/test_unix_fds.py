"""Passing descriptors over UNIX connections: sendFileDescriptor on one end,
IFileDescriptorReceiver.fileDescriptorReceived on the other (SCM_RIGHTS),
delivered before the byte they were sent with, as Twisted does. Each
scenario runs on torsion and on Twisted."""

import os

import pytest
from conftest import spin
from unix_helpers import socket_directory
from zope.interface import implementer

both_flavors = pytest.mark.parametrize("flavor", ["torsion", "twisted"], indirect=True)


def connected(flavor, path, receiving):
    """Listen on ``path`` with a protocol recording into ``events`` (which
    provides IFileDescriptorReceiver if ``receiving``), connect; returns
    (server protocol, client protocol, port, events)."""
    protocol = flavor.protocol
    events = []
    made = {}

    class Server(protocol.Protocol):
        def connectionMade(self):
            made["server"] = self

        def dataReceived(self, data):
            events.append(("data", data))

        def connectionLost(self, reason):
            made["server lost"] = reason

    if receiving:

        @implementer(flavor.interfaces.IFileDescriptorReceiver)
        class Receiver(Server):
            def fileDescriptorReceived(self, descriptor):
                events.append(("fd", descriptor))

        serverClass = Receiver
    else:
        serverClass = Server

    class Client(protocol.Protocol):
        def connectionMade(self):
            made["client"] = self

        def connectionLost(self, reason):
            made["client lost"] = reason

    port = flavor.reactor.listenUNIX(path, protocol.Factory.forProtocol(serverClass))
    flavor.reactor.connectUNIX(path, protocol.ClientFactory.forProtocol(Client))
    spin(flavor.reactor, lambda: "server" in made and "client" in made)
    return made, port, events


def close(flavor, made, port):
    made["client"].transport.loseConnection()
    spin(flavor.reactor, lambda: "server lost" in made and "client lost" in made)
    done = []
    port.stopListening().addBoth(done.append)
    spin(flavor.reactor, lambda: done)


def pipe_holding(data):
    """The read end of a pipe that holds ``data`` and whose writer is closed."""
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    return r


def send_descriptors(flavor, transport, contents, data, done):
    """Send the read end of a pipe holding each of ``contents`` (in order),
    then write ``data``; run until ``done()``. The ends sent are closed
    here afterwards (the receiver has its own)."""
    ends = [pipe_holding(each) for each in contents]
    try:
        for fd in ends:
            transport.sendFileDescriptor(fd)
        transport.write(data)
        spin(flavor.reactor, done)
    finally:
        for fd in ends:
            os.close(fd)


def data_of(events):
    return b"".join(value for kind, value in events if kind == "data")


@both_flavors
def test_descriptor_arrives_before_its_byte(flavor):
    """A pipe's read end sent with one byte: the receiver gets a new
    descriptor for the same pipe, then the byte."""
    with socket_directory() as d:
        made, port, events = connected(flavor, os.path.join(d, "s"), True)
        send_descriptors(
            flavor,
            made["client"].transport,
            [b"through the pipe"],
            b"x",
            lambda: data_of(events) == b"x",
        )
        assert [kind for kind, _ in events] == ["fd", "data"]
        received = events[0][1]
        try:
            assert os.read(received, 100) == b"through the pipe"
        finally:
            os.close(received)
        close(flavor, made, port)


@both_flavors
def test_several_descriptors_in_order(flavor):
    with socket_directory() as d:
        made, port, events = connected(flavor, os.path.join(d, "s"), True)
        send_descriptors(
            flavor,
            made["client"].transport,
            [b"one", b"two"],
            b"ab",
            lambda: data_of(events) == b"ab",
        )
        fds = [value for kind, value in events if kind == "fd"]
        assert events[0][0] == "fd"
        try:
            assert [os.read(fd, 10) for fd in fds] == [b"one", b"two"]
        finally:
            for fd in fds:
                os.close(fd)
        close(flavor, made, port)


@both_flavors
def test_descriptor_to_a_protocol_that_cannot_receive_is_closed(flavor):
    """A receiver that does not provide IFileDescriptorReceiver still gets
    the bytes; the descriptor that came with them is closed."""
    with socket_directory() as d:
        made, port, events = connected(flavor, os.path.join(d, "s"), False)
        baseline = len(os.listdir("/proc/self/fd"))
        send_descriptors(
            flavor,
            made["client"].transport,
            [b"unused"],
            b"x",
            lambda: data_of(events) == b"x",
        )
        assert len(os.listdir("/proc/self/fd")) == baseline
        close(flavor, made, port)


@both_flavors
def test_more_descriptors_than_bytes_loses_the_connection(flavor):
    """Two descriptors and one byte: the sender's connection is lost with
    FileDescriptorOverrun."""
    with socket_directory() as d:
        made, port, events = connected(flavor, os.path.join(d, "s"), True)
        send_descriptors(
            flavor,
            made["client"].transport,
            [b"1", b"2"],
            b"x",
            lambda: "client lost" in made,
        )
        assert made["client lost"].type is flavor.error.FileDescriptorOverrun
        spin(flavor.reactor, lambda: "server lost" in made)
        for kind, value in events:
            if kind == "fd":
                os.close(value)
        done = []
        port.stopListening().addBoth(done.append)
        spin(flavor.reactor, lambda: done)
