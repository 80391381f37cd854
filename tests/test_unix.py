"""listenUNIX and connectUNIX over real UNIX sockets: addresses, the socket
file's mode and removal, lock files (wantPID/checkPID), abstract names and
the errors for bad paths.

Every scenario runs on torsion and on Twisted's EPollReactor (``flavor``)
and asserts the same observable results."""

import errno
import os
import socket
import stat

import pytest
from conftest import spin
from unix_helpers import dead_pid, socket_directory, unprivileged


@pytest.fixture
def sockdir():
    with socket_directory() as path:
        yield path


def stop_listening(reactor, port):
    """Stop ``port`` and run until its Deferred fired."""
    results = []
    port.stopListening().addBoth(results.append)
    spin(reactor, lambda: results)


class Recorder:
    """A protocol class (made per test) that records what it sees."""

    @staticmethod
    def make(flavor, seen, name):
        class Recording(flavor.protocol.Protocol):
            def connectionMade(self):
                t = self.transport
                seen[name] = {
                    "peer": t.getPeer(),
                    "host": t.getHost(),
                    "prefix": t.logPrefix(),
                    "repr": repr(t),
                    "protocol": self,
                }

            def dataReceived(self, data):
                seen.setdefault(name + " data", b"")
                seen[name + " data"] += data

            def connectionLost(self, reason):
                seen[name + " lost"] = reason.type

        return Recording


def recording_factories(flavor, seen):
    """A server factory and a client factory whose protocols record into
    ``seen``, and which record the address given to buildProtocol."""
    protocol = flavor.protocol

    class Server(protocol.Factory):
        def buildProtocol(self, addr):
            seen["server addr"] = addr
            return Recorder.make(flavor, seen, "server")()

    class Client(protocol.ClientFactory):
        def buildProtocol(self, addr):
            seen["client addr"] = addr
            return Recorder.make(flavor, seen, "client")()

        def clientConnectionFailed(self, connector, reason):
            seen["failed"] = reason

    return Server(), Client()


def connect_pair(flavor, path, **listen_options):
    """Listen on ``path``, connect to it, run until both ends are made;
    returns (port, seen)."""
    seen = {}
    serverFactory, clientFactory = recording_factories(flavor, seen)
    port = flavor.reactor.listenUNIX(path, serverFactory, **listen_options)
    flavor.reactor.connectUNIX(path, clientFactory)
    spin(flavor.reactor, lambda: "server" in seen and "client" in seen)
    return port, seen


def close_pair(flavor, port, seen):
    seen["client"]["protocol"].transport.loseConnection()
    spin(flavor.reactor, lambda: "server lost" in seen and "client lost" in seen)
    stop_listening(flavor.reactor, port)


@pytest.mark.parametrize("kind", [str, bytes])
def test_addresses_of_both_ends(flavor, sockdir, kind):
    """Server end: peer UNIXAddress(None), host the path; client end: peer
    the path, host UNIXAddress(None); the server factory is given
    UNIXAddress(''), the client factory the path. Names are bytes."""
    path = os.path.join(sockdir, "s")
    given = path if kind is str else os.fsencode(path)
    UNIXAddress = flavor.address.UNIXAddress
    port, seen = connect_pair(flavor, given)
    assert seen["server addr"] == UNIXAddress(b"")
    assert repr(seen["server addr"]) == "UNIXAddress('')"
    assert seen["client addr"] == UNIXAddress(os.fsencode(path))
    server, client = seen["server"], seen["client"]
    assert server["peer"] == UNIXAddress(None)
    assert server["peer"].name is None
    assert server["host"].name == os.fsencode(path)
    assert client["peer"].name == os.fsencode(path)
    assert client["host"] == UNIXAddress(None)
    assert port.getHost() == UNIXAddress(path)
    assert port.getHost().name == os.fsencode(path)
    close_pair(flavor, port, seen)
    assert seen["server lost"] is flavor.error.ConnectionDone
    assert seen["client lost"] is flavor.error.ConnectionDone


def test_log_prefixes_and_reprs(flavor, sockdir):
    """Twisted's forms: the server transport "<Recording #0 on None>" and
    "Recording,0,"; the client "Recording,client"; the port names its
    factory and path, then "(not listening)"."""
    path = os.path.join(sockdir, "s")
    port, seen = connect_pair(flavor, path)
    assert seen["server"]["repr"] == "<Recording #0 on None>"
    assert seen["server"]["prefix"] == "Recording,0,"
    assert seen["client"]["prefix"] == "Recording,client"
    assert seen["client"]["repr"].startswith(f"<{flavor.name}.internet.unix.Client ")
    factoryName = "test_unix.Server"
    assert repr(port) == f"<{factoryName} on {path!r}>"
    close_pair(flavor, port, seen)
    assert repr(port) == f"<{factoryName} (not listening)>"
    with pytest.raises(AttributeError):
        port.getHost()


def test_transports_are_unix_and_tcp_transports(flavor, sockdir):
    """As in Twisted, both ends provide IUNIXTransport and (inherited)
    ITCPTransport; TCP_NODELAY reads False and setting it is ignored;
    getHandle() is an AF_UNIX socket."""
    port, seen = connect_pair(flavor, os.path.join(sockdir, "s"))
    interfaces = flavor.interfaces
    for end in ("server", "client"):
        transport = seen[end]["protocol"].transport
        assert interfaces.IUNIXTransport.providedBy(transport)
        assert interfaces.ITCPTransport.providedBy(transport)
        assert interfaces.IHalfCloseableDescriptor.providedBy(transport)
        assert transport.getTcpNoDelay() is False
        assert transport.setTcpNoDelay(True) is None
        assert transport.getTcpNoDelay() is False
        assert transport.getHandle().family == socket.AF_UNIX
        assert transport.getHandle().type == socket.SOCK_STREAM
    close_pair(flavor, port, seen)


def test_data_both_ways(flavor, sockdir):
    """Bytes written at either end arrive whole at the other."""
    port, seen = connect_pair(flavor, os.path.join(sockdir, "s"))
    blob = bytes(range(256)) * 4096
    seen["client"]["protocol"].transport.write(blob)
    seen["server"]["protocol"].transport.write(b"back")
    spin(
        flavor.reactor,
        lambda: (
            len(seen.get("server data", b"")) == len(blob)
            and seen.get("client data") == b"back"
        ),
    )
    assert seen["server data"] == blob
    close_pair(flavor, port, seen)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o666, 0o777])
def test_mode_applied_to_socket_file(flavor, sockdir, mode):
    """The socket file gets exactly ``mode`` (the umask does not apply)."""
    path = os.path.join(sockdir, "s")
    port = flavor.reactor.listenUNIX(
        path, flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol), mode=mode
    )
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == mode
    stop_listening(flavor.reactor, port)


def test_default_mode_is_666(flavor, sockdir):
    path = os.path.join(sockdir, "s")
    old = os.umask(0o077)
    try:
        port = flavor.reactor.listenUNIX(
            path, flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
        )
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666
    stop_listening(flavor.reactor, port)


@pytest.mark.parametrize("wantPID", [0, 1])
def test_stop_listening_removes_socket_and_lock(flavor, sockdir, wantPID):
    """stopListening removes the socket file, and the lock file it took;
    while listening with wantPID the lock names this process."""
    path = os.path.join(sockdir, "s")
    port = flavor.reactor.listenUNIX(
        path,
        flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol),
        wantPID=wantPID,
    )
    expected = ["s", "s.lock"] if wantPID else ["s"]
    assert sorted(os.listdir(sockdir)) == expected
    if wantPID:
        assert os.readlink(path + ".lock") == str(os.getpid())
    stop_listening(flavor.reactor, port)
    assert os.listdir(sockdir) == []


def test_stale_socket_of_dead_owner_is_taken_over(flavor, sockdir):
    """A socket file left by a dead process whose pid the .lock names is
    removed and listened on again; the lock then names this process."""
    path = os.path.join(sockdir, "s")
    with socket.socket(socket.AF_UNIX) as leftover:
        leftover.bind(path)
    os.symlink(str(dead_pid()), path + ".lock")
    seen = {}
    serverFactory, clientFactory = recording_factories(flavor, seen)
    port = flavor.reactor.listenUNIX(path, serverFactory, wantPID=1)
    assert os.readlink(path + ".lock") == str(os.getpid())
    assert port.lockFile.clean is False
    flavor.reactor.connectUNIX(path, clientFactory, checkPID=1)
    spin(flavor.reactor, lambda: "server" in seen and "client" in seen)
    close_pair(flavor, port, seen)
    assert os.listdir(sockdir) == []


def test_live_lock_is_refused(flavor, sockdir):
    """A .lock naming a live process: CannotListenError(None, path,
    "Cannot acquire lock"), and the existing files are left alone."""
    path = os.path.join(sockdir, "s")
    with socket.socket(socket.AF_UNIX) as other:
        other.bind(path)
        os.symlink(str(os.getpid()), path + ".lock")
        with pytest.raises(flavor.error.CannotListenError) as info:
            flavor.reactor.listenUNIX(
                path,
                flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol),
                wantPID=1,
            )
    assert info.value.args == (None, os.fsencode(path), "Cannot acquire lock")
    assert str(info.value) == (
        f"Couldn't listen on any:{os.fsencode(path)!r}: Cannot acquire lock."
    )
    assert sorted(os.listdir(sockdir)) == ["s", "s.lock"]


def test_regular_file_with_dead_lock_is_not_removed(flavor, sockdir):
    """Only a socket file is removed for a dead owner: a regular file at
    the path stays, and bind fails with EADDRINUSE."""
    path = os.path.join(sockdir, "f")
    with open(path, "w") as f:
        f.write("keep")
    os.symlink(str(dead_pid()), path + ".lock")
    with pytest.raises(flavor.error.CannotListenError) as info:
        flavor.reactor.listenUNIX(
            path,
            flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol),
            wantPID=1,
        )
    assert info.value.socketError.errno == errno.EADDRINUSE
    with open(path) as f:
        assert f.read() == "keep"


def test_taken_path_without_lock(flavor, sockdir):
    """A path in use: CannotListenError(None, path as bytes, the OSError)."""
    path = os.path.join(sockdir, "s")
    factory = flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    port = flavor.reactor.listenUNIX(path, factory)
    with pytest.raises(flavor.error.CannotListenError) as info:
        flavor.reactor.listenUNIX(path, factory)
    error = info.value
    assert error.interface is None
    assert error.port == os.fsencode(path)
    assert error.socketError.errno == errno.EADDRINUSE
    assert str(error) == (
        f"Couldn't listen on any:{os.fsencode(path)!r}: "
        "[Errno 98] Address already in use."
    )
    stop_listening(flavor.reactor, port)


def _listen_error_with(flavor, factory, path, **options):
    with pytest.raises(flavor.error.CannotListenError) as info:
        flavor.reactor.listenUNIX(path, factory, **options)
    return info.value


def _listen_error(flavor, path):
    factory = flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    return _listen_error_with(flavor, factory, path)


def test_missing_directory(flavor, sockdir):
    error = _listen_error(flavor, os.path.join(sockdir, "nowhere", "s"))
    assert error.socketError.errno == errno.ENOENT
    assert type(error.socketError) is FileNotFoundError


def test_parent_is_a_file(flavor, sockdir):
    parent = os.path.join(sockdir, "file")
    open(parent, "w").close()
    error = _listen_error(flavor, os.path.join(parent, "s"))
    assert error.socketError.errno == errno.ENOTDIR


def test_path_too_long(flavor, sockdir):
    path = os.path.join(sockdir, "x" * 120)
    error = _listen_error(flavor, path)
    assert error.port == os.fsencode(path)
    assert str(error.socketError) == "AF_UNIX path too long"


def test_unwritable_directory(flavor, sockdir):
    """A directory the user may not write to: EACCES."""
    locked = os.path.join(sockdir, "ro")
    os.mkdir(locked, 0o555)
    with unprivileged():
        error = _listen_error(flavor, os.path.join(locked, "s"))
    assert error.socketError.errno == errno.EACCES
    assert os.listdir(locked) == []


def test_abstract_namespace(flavor):
    """A name starting with NUL: no file, addresses keep the NUL (bytes),
    a bound peer is named by its abstract name in getPeer and logPrefix."""
    name = f"\0torsion-test-{os.getpid()}-{flavor.name}"
    UNIXAddress = flavor.address.UNIXAddress
    seen = {}
    serverFactory, clientFactory = recording_factories(flavor, seen)
    port = flavor.reactor.listenUNIX(name, serverFactory, mode=0o600)
    assert port.getHost().name == os.fsencode(name)
    assert repr(port.getHost()) == f"UNIXAddress({name!r})"
    peerName = b"\0torsion-test-peer-" + flavor.name.encode()
    with socket.socket(socket.AF_UNIX) as raw:
        raw.bind(peerName)
        raw.connect(name)
        spin(flavor.reactor, lambda: "server" in seen)
        server = seen["server"]
        assert server["peer"] == UNIXAddress(peerName)
        assert server["host"].name == os.fsencode(name)
        assert server["prefix"] == f"Recording,0,{peerName!r}"
    spin(flavor.reactor, lambda: "server lost" in seen)
    flavor.reactor.connectUNIX(name, clientFactory)
    spin(flavor.reactor, lambda: "client" in seen)
    assert seen["client"]["peer"].name == os.fsencode(name)
    assert seen["client"]["host"] == UNIXAddress(None)
    close_pair(flavor, port, seen)


def test_peer_bound_to_a_path(flavor, sockdir):
    """A client socket bound to a path is the server end's peer, by text name."""
    path, clientPath = os.path.join(sockdir, "s"), os.path.join(sockdir, "c")
    seen = {}
    serverFactory, _ = recording_factories(flavor, seen)
    port = flavor.reactor.listenUNIX(path, serverFactory)
    with socket.socket(socket.AF_UNIX) as raw:
        raw.bind(clientPath)
        raw.connect(path)
        spin(flavor.reactor, lambda: "server" in seen)
    assert seen["server"]["peer"] == flavor.address.UNIXAddress(clientPath)
    assert seen["server"]["prefix"] == f"Recording,0,{clientPath}"
    spin(flavor.reactor, lambda: "server lost" in seen)
    stop_listening(flavor.reactor, port)


def connect_failure(flavor, path, **options):
    """connectUNIX to ``path``; the Failure given to clientConnectionFailed."""
    seen = {}
    _, clientFactory = recording_factories(flavor, seen)
    connector = flavor.reactor.connectUNIX(path, clientFactory, **options)
    assert connector.getDestination() == flavor.address.UNIXAddress(path)
    spin(flavor.reactor, lambda: "failed" in seen)
    return seen["failed"].value


def test_connect_to_missing_path(flavor, sockdir):
    error = connect_failure(flavor, os.path.join(sockdir, "missing"))
    assert type(error) is flavor.error.ConnectError
    assert error.osError == errno.ENOENT
    assert str(error) == (
        "An error occurred while connecting: 2: No such file or directory."
    )


def test_connect_refused(flavor, sockdir):
    """A socket file nobody listens on: ConnectionRefusedError."""
    path = os.path.join(sockdir, "dead")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(path)
    error = connect_failure(flavor, path)
    assert type(error) is flavor.error.ConnectionRefusedError
    assert str(error) == (
        "Connection was refused by other side: 111: Connection refused."
    )


def test_connect_refused_abstract(flavor):
    error = connect_failure(flavor, f"\0torsion-test-nobody-{os.getpid()}")
    assert type(error) is flavor.error.ConnectionRefusedError


@pytest.mark.parametrize("owner", ["none", "dead"])
def test_check_pid_without_live_lock(flavor, sockdir, owner):
    """checkPID with no lock, or a dead owner's: BadFileError(path bytes)."""
    path = os.path.join(sockdir, "s")
    port = flavor.reactor.listenUNIX(
        path, flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    )
    if owner == "dead":
        os.symlink(str(dead_pid()), path + ".lock")
    error = connect_failure(flavor, path, checkPID=1)
    assert type(error) is flavor.error.BadFileError
    assert error.args == ("",)
    assert str(error) == (
        f"File used for UNIX socket is no good: {os.fsencode(path)!r}."
    )
    stop_listening(flavor.reactor, port)


def test_check_pid_with_live_lock_connects(flavor, sockdir):
    path = os.path.join(sockdir, "s")
    seen = {}
    serverFactory, clientFactory = recording_factories(flavor, seen)
    port = flavor.reactor.listenUNIX(path, serverFactory, wantPID=True)
    flavor.reactor.connectUNIX(path, clientFactory, checkPID=1)
    spin(flavor.reactor, lambda: "server" in seen and "client" in seen)
    close_pair(flavor, port, seen)


def test_reactor_provides_ireactorunix(flavor):
    assert flavor.interfaces.IReactorUNIX.providedBy(flavor.reactor)


def test_abort_connection(flavor, sockdir):
    """abortConnection with a large queue: the aborting end gets
    ConnectionAborted and stops hearing; with no reset on a UNIX socket, the
    peer sees the stream end cleanly (ConnectionDone) after part of it."""
    port, seen = connect_pair(flavor, os.path.join(sockdir, "s"))
    client = seen["client"]["protocol"].transport
    client.write(b"x" * (8 * 1024 * 1024))
    client.abortConnection()
    spin(flavor.reactor, lambda: "server lost" in seen and "client lost" in seen)
    assert seen["client lost"] is flavor.error.ConnectionAborted
    assert seen["server lost"] is flavor.error.ConnectionDone
    assert len(seen.get("server data", b"")) < 8 * 1024 * 1024
    stop_listening(flavor.reactor, port)


def test_socket_file_removed_by_someone_else(flavor, sockdir):
    """The socket file deleted while listening: stopListening's Deferred
    fails with FileNotFoundError (Twisted's unlink). torsion closes the port
    all the same; Twisted leaves it listening (a leak torsion does not
    copy)."""
    path = os.path.join(sockdir, "s")
    port = flavor.reactor.listenUNIX(
        path, flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    )
    os.unlink(path)
    results = []
    port.stopListening().addBoth(results.append)
    spin(flavor.reactor, lambda: results)
    assert results[0].type is FileNotFoundError
    if flavor.name == "torsion":
        assert port.connected is False
        assert flavor.reactor.getReaders() == []
    else:
        assert port.connected is True


def test_build_protocol_gets_a_bound_peers_name(flavor, sockdir):
    """The server factory's buildProtocol is given the name accept()
    returned: a bound peer's path (unnamed peers give UNIXAddress(''))."""
    path, clientPath = os.path.join(sockdir, "s"), os.path.join(sockdir, "c")
    seen = {}
    serverFactory, _ = recording_factories(flavor, seen)
    port = flavor.reactor.listenUNIX(path, serverFactory)
    try:
        with socket.socket(socket.AF_UNIX) as raw:
            raw.bind(clientPath)
            raw.connect(path)
            spin(flavor.reactor, lambda: "server" in seen)
        spin(flavor.reactor, lambda: "server lost" in seen)
        assert seen["server addr"] == flavor.address.UNIXAddress(clientPath)
    finally:
        stop_listening(flavor.reactor, port)


def test_addresses_after_the_connection_is_lost(flavor, sockdir):
    """Once lost: the server end still names its peer, but has no socket
    for getHost (AttributeError); the client end needs none."""
    port, seen = connect_pair(flavor, os.path.join(sockdir, "s"))
    server = seen["server"]["protocol"].transport
    client = seen["client"]["protocol"].transport
    close_pair(flavor, port, seen)
    assert server.getPeer() == flavor.address.UNIXAddress(None)
    with pytest.raises(AttributeError):
        server.getHost()
    assert client.getPeer() == seen["client"]["peer"]
    assert client.getHost() == flavor.address.UNIXAddress(None)


def test_factory_started_before_bind(flavor, sockdir):
    """As in Twisted, the factory is started before bind(), and stays
    started when bind fails; a refused lock stops before starting it."""
    factory = flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    _listen_error_with(flavor, factory, os.path.join(sockdir, "no", "s"))
    assert factory.numPorts == 1
    path = os.path.join(sockdir, "s")
    os.symlink(str(os.getpid()), path + ".lock")
    other = flavor.protocol.Factory.forProtocol(flavor.protocol.Protocol)
    _listen_error_with(flavor, other, path, wantPID=1)
    assert other.numPorts == 0
