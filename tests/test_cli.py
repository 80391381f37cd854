"""The ``torsion`` command line, run as ``python -m torsion`` subprocesses
over loopback TCP: echo, chat, portforward, help, bad arguments, signals."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from torsion.cli import main, parseTarget
from unix_helpers import socket_directory

TIMEOUT = 10.0
LOCAL = "tcp:0:interface=127.0.0.1"
LOGLINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (\w+) ([\w.]+): (.*)\n")


def torsion(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run ``python -m torsion ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "torsion", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Command:
    """A running ``torsion`` server and the log lines it has written."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.port = 0
        self.listening = ""
        self.finalLog: list[str] = []

    def logLine(self, timeout: float = TIMEOUT) -> tuple[str, str, str]:
        """The next line logged on stderr as (level, logger, message)."""
        assert self.process.stderr is not None
        fd = self.process.stderr.fileno()
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0))
            assert ready, f"no complete log line in time: {line!r}"
            byte = os.read(fd, 1)
            assert byte, f"EOF after {line!r}"
            line += byte
        match = LOGLINE.fullmatch(line.decode())
        assert match, line
        return match[1], match[2], match[3]


def nextMessage(command: Command) -> str:
    """The next line logged, which must be the command's own at info level."""
    level, name, message = command.logLine()
    assert (level, name) == ("INFO", "torsion.cli"), message
    return message


@contextmanager
def running(
    *args: str,
    stopWith: int = signal.SIGTERM,
    ipv6: bool = False,
    unixPath: str | None = None,
) -> Iterator[Command]:
    """Start ``python -m torsion ARGS``; wait for its listening line (on
    the UNIX socket ``unixPath`` if given); on leaving, signal it and
    require exit status 0 within 2 seconds with "stopping" and "stopped" as
    its last log lines."""
    process = subprocess.Popen(
        [sys.executable, "-m", "torsion", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        command = Command(process)
        first = nextMessage(command)
        if unixPath is not None:
            where = re.escape(f"unix:{unixPath}")
            assert re.fullmatch(rf"\w+ listening on {where}(, .*)?", first), first
        else:
            host = r"\[::1\]" if ipv6 else r"127\.0\.0\.1"
            match = re.fullmatch(rf"\w+ listening on {host}:(\d+).*", first)
            assert match, first
            command.port = int(match[1])
        command.listening = first
        yield command
        process.send_signal(stopWith)
        started = time.monotonic()
        out, err = process.communicate(timeout=TIMEOUT)
        elapsed = time.monotonic() - started
        assert process.returncode == 0, err
        assert elapsed < 2.0
        assert out == ""
        tail = [LOGLINE.fullmatch(line + "\n") for line in err.splitlines()]
        assert all(tail), err
        messages = [m[3] for m in tail]
        assert "stopping" in messages and messages[-1] == "stopped", err
        command.finalLog = messages[messages.index("stopping") + 1 : -1]
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def connect(port: int) -> socket.socket:
    """A blocking client socket connected to 127.0.0.1:port."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recvExactly(sock: socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes from ``sock``."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(min(size - len(data), 1 << 20))
        assert chunk, f"EOF after {len(data)} bytes"
        data += chunk
    return data


def peerOf(sock: socket.socket) -> str:
    """How the server names this client in its log: host:port."""
    host, port = sock.getsockname()
    return f"{host}:{port}"


def test_echo_round_trip_and_connection_log():
    """Echoes in every chunking; one log line per open and per close."""
    with running("echo", "--listen", LOCAL) as cmd:
        assert cmd.listening == f"echo listening on 127.0.0.1:{cmd.port}"
        sock = connect(cmd.port)
        assert nextMessage(cmd) == f"connection from {peerOf(sock)} opened"
        payload = bytes(range(256)) * 40
        for size in (1, 7, 1000, len(payload)):
            for i in range(0, len(payload), size):
                sock.sendall(payload[i : i + size])
            assert recvExactly(sock, len(payload)) == payload
        name = peerOf(sock)
        sock.close()
        assert nextMessage(cmd) == (
            f"connection from {name} closed: Connection was closed cleanly."
        )


def test_echo_on_ipv6_endpoint():
    """A tcp6 endpoint string (escaped colons) listens on ::1."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    with running("echo", "--listen", r"tcp6:0:interface=\:\:1", ipv6=True) as cmd:
        assert cmd.listening == f"echo listening on [::1]:{cmd.port}"
        with socket.create_connection(("::1", cmd.port), timeout=TIMEOUT) as sock:
            sock.sendall(b"six")
            assert recvExactly(sock, 3) == b"six"


class LineClient:
    """A client of the chat command that reads CRLF lines."""

    def __init__(self, port: int) -> None:
        self.sock = connect(port)
        self.buffer = b""

    def send(self, line: bytes) -> None:
        """Send ``line`` and CRLF."""
        self.sock.sendall(line + b"\r\n")

    def line(self) -> bytes:
        """The next line, without CRLF."""
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, self.buffer
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line


def test_chat_between_two_clients():
    """Two users register (one name is refused) and talk to each other;
    a user's name is free again after it leaves."""
    with running("chat", "--listen", LOCAL) as cmd:
        assert cmd.listening == f"chat listening on 127.0.0.1:{cmd.port}"
        alice = LineClient(cmd.port)
        assert alice.line() == b"What's your name?"
        assert nextMessage(cmd) == f"connection from {peerOf(alice.sock)} opened"
        alice.send(b"alice")
        assert alice.line() == b"Welcome, alice!"
        assert nextMessage(cmd) == f"{peerOf(alice.sock)} registered as 'alice'"
        bob = LineClient(cmd.port)
        assert bob.line() == b"What's your name?"
        assert nextMessage(cmd) == f"connection from {peerOf(bob.sock)} opened"
        bob.send(b"alice")
        assert bob.line() == b"Name taken, please choose another."
        bob.send(b"bob")
        assert bob.line() == b"Welcome, bob!"
        assert nextMessage(cmd) == f"{peerOf(bob.sock)} registered as 'bob'"
        alice.send(b"hi bob")
        assert bob.line() == b"<alice> hi bob"
        bob.send(b"hello alice")
        assert alice.line() == b"<bob> hello alice"
        name = peerOf(alice.sock)
        alice.sock.close()
        assert nextMessage(cmd) == (
            f"connection from {name} closed: Connection was closed cleanly."
        )
        again = LineClient(cmd.port)
        assert again.line() == b"What's your name?"
        nextMessage(cmd)
        again.send(b"alice")
        assert again.line() == b"Welcome, alice!"
        bob.send(b"welcome back")
        assert again.line() == b"<bob> welcome back"
        again.sock.close()
        bob.sock.close()


def test_portforward_to_echo_server():
    """portforward relays both ways to an echo command and logs each
    forwarded connection; the backend sees the proxy's connection."""
    with running("echo", "--listen", LOCAL) as backend:
        target = f"127.0.0.1:{backend.port}"
        with running("portforward", "--listen", LOCAL, "--to", target) as proxy:
            assert proxy.listening == (
                f"portforward listening on 127.0.0.1:{proxy.port}, "
                f"forwarding to {target}"
            )
            sock = connect(proxy.port)
            assert nextMessage(proxy) == f"connection from {peerOf(sock)} opened"
            payload = os.urandom(1 << 20)
            sock.sendall(b"ping")
            assert recvExactly(sock, 4) == b"ping"
            assert re.fullmatch(
                r"connection from 127\.0\.0\.1:\d+ opened", nextMessage(backend)
            )
            sock.sendall(payload)
            assert recvExactly(sock, len(payload)) == payload
            name = peerOf(sock)
            sock.close()
            assert nextMessage(proxy) == (
                f"connection from {name} closed: Connection was closed cleanly."
            )
            assert re.fullmatch(
                r"connection from 127\.0\.0\.1:\d+ closed: "
                r"Connection was closed cleanly\.",
                nextMessage(backend),
            )


def unix_client(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(TIMEOUT)
    sock.connect(path)
    return sock


def test_echo_listening_on_a_unix_socket():
    """echo --listen unix:PATH: serves on the socket file, logs the unnamed
    peer as "unix:", removes the file when stopped."""
    with socket_directory() as directory:
        path = os.path.join(directory, "echo.sock")
        with running("echo", "--listen", f"unix:{path}", unixPath=path) as cmd:
            assert cmd.listening == f"echo listening on unix:{path}"
            with unix_client(path) as sock:
                assert nextMessage(cmd) == "connection from unix: opened"
                sock.sendall(b"over unix")
                assert recvExactly(sock, 9) == b"over unix"
            assert nextMessage(cmd) == (
                "connection from unix: closed: Connection was closed cleanly."
            )
        assert os.listdir(directory) == []


@pytest.mark.parametrize("form", ["unix:{}", "unix:path={}:timeout=5"])
def test_portforward_from_tcp_to_a_unix_socket(form):
    """portforward --to unix:PATH relays a TCP client to a UNIX echo server
    (1 MiB each way) and logs the target as given."""
    with socket_directory() as directory:
        path = os.path.join(directory, "backend.sock")
        with running("echo", "--listen", f"unix:{path}", unixPath=path) as backend:
            target = form.format(path)
            with running("portforward", "--listen", LOCAL, "--to", target) as proxy:
                assert proxy.listening == (
                    f"portforward listening on 127.0.0.1:{proxy.port}, "
                    f"forwarding to {target}"
                )
                with connect(proxy.port) as sock:
                    assert nextMessage(proxy) == (
                        f"connection from {peerOf(sock)} opened"
                    )
                    assert nextMessage(backend) == "connection from unix: opened"
                    payload = os.urandom(1 << 20)
                    sock.sendall(payload)
                    assert recvExactly(sock, len(payload)) == payload
                    sock.shutdown(socket.SHUT_WR)
                    assert sock.recv(10) == b""
                assert nextMessage(backend) == (
                    "connection from unix: closed: Connection was closed cleanly."
                )


def test_bad_unix_target_is_a_usage_error():
    result = torsion("portforward", "--listen", LOCAL, "--to", "unix:/p:bogus=1")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "torsion portforward: error: argument --to: invalid endpoint "
        "'unix:/p:bogus=1' (UNIXClientEndpoint.__init__() got an unexpected "
        "keyword argument 'bogus')"
    )


@contextmanager
def refused_tcp_target() -> Iterator[str]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{holder.getsockname()[1]}"


@contextmanager
def missing_unix_target() -> Iterator[str]:
    with socket_directory() as directory:
        yield f"unix:{os.path.join(directory, 'missing')}"


@pytest.mark.parametrize("unreachable", [refused_tcp_target, missing_unix_target])
def test_portforward_to_nothing_closes_the_client(unreachable):
    """A refused backend (or a missing UNIX socket): the client's
    connection is closed."""
    with unreachable() as target:
        with running("portforward", "--listen", LOCAL, "--to", target) as proxy:
            with connect(proxy.port) as sock:
                assert sock.recv(10) == b""
            nextMessage(proxy)
            assert nextMessage(proxy).endswith(
                " closed: Connection was closed cleanly."
            )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly_with_a_connection_open(signum):
    """SIGINT or SIGTERM: exit 0 within 2 s, even with a client connected,
    whose connection is closed (ConnectionLost, as Twisted at shutdown)."""
    with running("echo", "--listen", LOCAL, stopWith=signum) as cmd:
        sock = connect(cmd.port)
        nextMessage(cmd)
    try:
        assert cmd.finalLog == [
            f"connection from {peerOf(sock)} closed: "
            "Connection to the other side was lost in a non-clean fashion: "
            "Connection lost."
        ]
        sock.settimeout(TIMEOUT)
        assert sock.recv(10) == b""
    finally:
        sock.close()


def test_help():
    """--help for the command and each subcommand: exit 0, usage on stdout."""
    result = torsion("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: torsion [-h] COMMAND ...\n")
    for name in ("echo", "chat", "portforward"):
        assert f"\n    {name}" in result.stdout
    echo = torsion("echo", "--help")
    assert echo.returncode == 0
    assert echo.stdout.startswith("usage: torsion echo [-h] [--listen ENDPOINT]\n")
    assert "tcp:8000:interface=127.0.0.1" in echo.stdout
    chat = torsion("chat", "--help")
    assert chat.returncode == 0
    assert chat.stdout.startswith("usage: torsion chat [-h] [--listen ENDPOINT]\n")
    assert "tcp:8123:interface=127.0.0.1" in chat.stdout
    forward = torsion("portforward", "--help")
    assert forward.returncode == 0
    assert forward.stdout.startswith(
        "usage: torsion portforward [-h] --listen ENDPOINT --to HOST:PORT\n"
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((), "torsion: error: the following arguments are required: COMMAND"),
        (("serve",), "torsion: error: argument COMMAND: invalid choice: 'serve'"),
        (
            ("echo", "--listen", "foo:8000"),
            "torsion echo: error: argument --listen: invalid endpoint 'foo:8000' "
            "(Unknown endpoint type: 'foo')",
        ),
        (
            ("chat", "--listen", "tcp:port"),
            "torsion chat: error: argument --listen: invalid endpoint 'tcp:port'",
        ),
        (
            ("portforward", "--listen", LOCAL),
            "torsion portforward: error: the following arguments are required: --to",
        ),
        (
            ("portforward", "--listen", LOCAL, "--to", "nowhere"),
            "torsion portforward: error: argument --to: expected HOST:PORT, "
            "got 'nowhere'",
        ),
        (
            ("portforward", "--listen", LOCAL, "--to", "host:http"),
            "torsion portforward: error: argument --to: port must be a number "
            "from 1 to 65535, got 'http'",
        ),
        (
            ("portforward", "--listen", "bogus", "--to", "127.0.0.1:80"),
            "torsion portforward: error: argument --listen: invalid endpoint 'bogus'",
        ),
    ],
)
def test_bad_arguments_exit_2(args, error):
    """Bad arguments: exit 2, usage, and a message naming the problem."""
    result = torsion(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: torsion")
    assert error in result.stderr


def test_port_in_use_exits_1():
    """A port that cannot be opened is logged as an error; exit status 1."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = torsion("echo", "--listen", f"tcp:{port}:interface=127.0.0.1")
    assert result.returncode == 1
    lines = [LOGLINE.fullmatch(line + "\n") for line in result.stderr.splitlines()]
    assert all(lines), result.stderr
    assert [(m[1], m[2], m[3]) for m in lines] == [
        (
            "ERROR",
            "torsion.cli",
            f"cannot listen on tcp:{port}:interface=127.0.0.1: "
            f"Couldn't listen on 127.0.0.1:{port}: [Errno 98] Address already in use.",
        ),
        ("INFO", "torsion.cli", "stopping"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:80", ("127.0.0.1", 80)),
        ("example.com:65535", ("example.com", 65535)),
        ("[::1]:8080", ("::1", 8080)),
        ("h:1", ("h", 1)),
    ],
)
def test_parse_target(text, expected):
    """HOST:PORT and [IPv6]:PORT."""
    assert parseTarget(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected HOST:PORT, got ''"),
        (":80", "expected HOST:PORT, got ':80'"),
        ("[]:80", "expected HOST:PORT, got '[]:80'"),
        ("host:", "port must be a number from 1 to 65535, got ''"),
        ("host:0", "port must be a number from 1 to 65535, got '0'"),
        ("host:65536", "port must be a number from 1 to 65535, got '65536'"),
        ("host:-1", "port must be a number from 1 to 65535, got '-1'"),
        ("::1:80", "write an IPv6 host in brackets ([::1]:80), got '::1:80'"),
    ],
)
def test_parse_target_errors(text, message):
    """Each bad target is named precisely."""
    with pytest.raises(ValueError) as caught:
        parseTarget(text)
    assert str(caught.value) == message


def test_main_in_process_rejects_bad_target(capsys):
    """main() itself exits 2 on a bad --to, before touching the reactor."""
    with pytest.raises(SystemExit) as exited:
        main(["portforward", "--listen", LOCAL, "--to", "x"])
    assert exited.value.code == 2
    assert "argument --to: expected HOST:PORT, got 'x'" in capsys.readouterr().err
