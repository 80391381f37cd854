"""UNIXServerEndpoint and UNIXClientEndpoint over real sockets, built
directly and from description strings, on torsion and on Twisted."""

import os
import stat

import pytest
from conftest import framework_modules, spin
from unix_helpers import socket_directory


@pytest.fixture
def net(flavor):
    flavor.endpoints = framework_modules(
        flavor.name, endpoints="internet.endpoints"
    ).endpoints
    with socket_directory() as directory:
        flavor.directory = directory
        yield flavor


def result_of(reactor, d):
    results = []
    d.addBoth(results.append)
    spin(reactor, lambda: results)
    return results[0]


def echo_factory(net):
    class Echo(net.protocol.Protocol):
        def dataReceived(self, data):
            self.transport.write(data)

    return net.protocol.Factory.forProtocol(Echo)


def collecting(net, received):
    class Collect(net.protocol.Protocol):
        def dataReceived(self, data):
            received.append(data)

    return net.protocol.Factory.forProtocol(Collect)


def round_trip(net, server, client):
    """Listen with ``server``, connect with ``client``, echo one message;
    returns (port, protocol)."""
    port = result_of(net.reactor, server.listen(echo_factory(net)))
    received = []
    protocol = result_of(net.reactor, client.connect(collecting(net, received)))
    protocol.transport.write(b"ping")
    spin(net.reactor, lambda: b"".join(received) == b"ping")
    return port, protocol


def finish(net, port, protocol):
    protocol.transport.loseConnection()
    assert result_of(net.reactor, port.stopListening()) is None


def test_endpoints_built_directly(net):
    path = os.path.join(net.directory, "s")
    server = net.endpoints.UNIXServerEndpoint(net.reactor, path, mode=0o600, wantPID=1)
    client = net.endpoints.UNIXClientEndpoint(net.reactor, path, timeout=5, checkPID=1)
    port, protocol = round_trip(net, server, client)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.readlink(path + ".lock") == str(os.getpid())
    assert protocol.transport.getPeer() == net.address.UNIXAddress(path)
    finish(net, port, protocol)
    assert os.listdir(net.directory) == []


def test_endpoints_from_strings(net):
    """The strings of the issue: mode in octal, lockfile for wantPID; the
    client's path, timeout and checkPID."""
    path = os.path.join(net.directory, "s")
    server = net.endpoints.serverFromString(
        net.reactor, f"unix:{path}:mode=660:lockfile=1"
    )
    client = net.endpoints.clientFromString(
        net.reactor, f"unix:path={path}:timeout=5:checkPID=1"
    )
    port, protocol = round_trip(net, server, client)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
    assert os.path.islink(path + ".lock")
    finish(net, port, protocol)


def test_listen_failure_is_cannot_listen(net):
    path = os.path.join(net.directory, "missing", "s")
    server = net.endpoints.UNIXServerEndpoint(net.reactor, path)
    failure = result_of(net.reactor, server.listen(echo_factory(net)))
    assert failure.type is net.error.CannotListenError
    assert failure.value.port == os.fsencode(path)


def test_connect_failure_errbacks(net):
    path = os.path.join(net.directory, "missing")
    client = net.endpoints.UNIXClientEndpoint(net.reactor, path)
    failure = result_of(net.reactor, client.connect(echo_factory(net)))
    assert failure.type is net.error.ConnectError
    assert failure.value.osError == 2


def test_connect_with_lockfile_and_no_lock_is_bad_file(net):
    path = os.path.join(net.directory, "s")
    port = result_of(
        net.reactor,
        net.endpoints.UNIXServerEndpoint(net.reactor, path).listen(echo_factory(net)),
    )
    client = net.endpoints.clientFromString(net.reactor, f"unix:{path}:lockfile=1")
    failure = result_of(net.reactor, client.connect(echo_factory(net)))
    assert failure.type is net.error.BadFileError
    assert result_of(net.reactor, port.stopListening()) is None
