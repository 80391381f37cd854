"""The programs in examples/, run as subprocesses over loopback TCP.

Every scenario runs twice: on torsion (``python examples/x.py``) and on
Twisted (the same file, with ``torsion.*`` imports resolved to the matching
``twisted.*`` modules by a small import shim that is active only when
``TORSION_EXAMPLE_IMPL=twisted``). Both runs must produce exactly the same
expected output (ports and the package name in class paths normalized).
"""

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
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SHIM = """
import importlib, importlib.abc, importlib.machinery, os, runpy, sys, types

class AliasTorsionToTwisted(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name == "torsion" or name.startswith("torsion."):
            return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec):
        return types.ModuleType(spec.name)

    def exec_module(self, module):
        target = "twisted" + module.__name__[len("torsion"):]
        sys.modules[module.__name__] = importlib.import_module(target)

if os.environ.get("TORSION_EXAMPLE_IMPL") == "twisted":
    sys.meta_path.insert(0, AliasTorsionToTwisted())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

LISTENING = re.compile(r"Listening on 127\.0\.0\.1:(\d+)\n")
TIMEOUT = 10.0


def command(impl: str, name: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run one example on ``impl``."""
    env = dict(os.environ)
    env.pop("TORSION_EXAMPLE_IMPL", None)
    path = str(EXAMPLES / f"{name}.py")
    if impl == "torsion":
        return [sys.executable, path, *args], env
    env["TORSION_EXAMPLE_IMPL"] = "twisted"
    return [sys.executable, "-c", SHIM, path, *args], env


def run(impl: str, name: str, *args: str, timeout: float = TIMEOUT):
    """Run an example to completion; return the finished process."""
    argv, env = command(impl, name, *args)
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def normalize(text: str) -> str:
    """Make Twisted's output comparable with torsion's: class paths."""
    return text.replace("<class 'twisted.", "<class 'torsion.")


class Server:
    """A running example server: its process and the port it printed."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port
        self.stdout = ""
        self.stderr = ""

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal the server, wait for it, and return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        out, err = self.process.communicate(timeout=TIMEOUT)
        self.stdout += out
        self.stderr += err
        return self.process.returncode


def readLine(process: subprocess.Popen[str], timeout: float = TIMEOUT) -> str:
    """One line of the process's stdout, waiting at most ``timeout``. Reads
    the descriptor a byte at a time, so nothing is left in a buffer that a
    later ``communicate()`` would not see."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], deadline - time.monotonic())
        assert ready, f"no complete line from the example in time: {line!r}"
        byte = os.read(fd, 1)
        assert byte, f"EOF after {line!r}"
        line += byte
    return line.decode()


@contextmanager
def server(impl: str, name: str, *args: str) -> Iterator[Server]:
    """Start an example server on a free port and stop it with SIGTERM;
    it must exit with status 0 and write nothing to stderr."""
    argv, env = command(impl, name, "--port", "0", *args)
    process = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = readLine(process)
        match = LISTENING.fullmatch(line)
        assert match, (line, process.stderr and process.stderr.read())
        running = Server(process, int(match.group(1)))
        yield running
        assert running.stop() == 0, running.stderr
        assert running.stderr == ""
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
    """Exactly ``size`` bytes from ``sock`` (fails on EOF before that)."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"EOF after {data!r}"
        data += chunk
    return data


def recvAll(sock: socket.socket) -> bytes:
    """Everything ``sock`` receives until the peer closes."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def refusedPort() -> tuple[socket.socket, int]:
    """A port bound on 127.0.0.1 but not listening: connections are refused.
    Keep the returned socket open for as long as the port must stay so."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


impls = pytest.mark.parametrize("impl", ["torsion", "twisted"])

DONE = (
    "[Failure instance: Traceback (failure with no frames): "
    "<class 'torsion.internet.error.ConnectionDone'>: "
    "Connection was closed cleanly.\n]"
)
REFUSED = (
    "[Failure instance: Traceback (failure with no frames): "
    "<class 'torsion.internet.error.ConnectionRefusedError'>: "
    "Connection was refused by other side: 111: Connection refused.\n]"
)


@impls
def test_echo_server(impl):
    """Echoes each write back; two clients at once are kept apart."""
    with server(impl, "echo_server") as srv:
        first, second = connect(srv.port), connect(srv.port)
        first.sendall(b"hello")
        second.sendall(b"x" * 100_000)
        assert recvExactly(first, 5) == b"hello"
        assert recvExactly(second, 100_000) == b"x" * 100_000
        for byte in b"one byte at a time":
            first.sendall(bytes([byte]))
        assert recvExactly(first, 18) == b"one byte at a time"
        first.close()
        second.close()
    assert srv.stdout == ""


@impls
@pytest.mark.parametrize(
    ("args", "quote"),
    [
        ((), b"An apple a day keeps the doctor away"),
        (("--quote", "configurable quote"), b"configurable quote"),
    ],
)
def test_qotd(impl, args, quote):
    """Each client gets the quote and CRLF, then the server hangs up."""
    with server(impl, "qotd", *args) as srv:
        for _ in range(3):
            with connect(srv.port) as sock:
                assert recvAll(sock) == quote + b"\r\n"


@impls
def test_qotd_cannot_listen(impl):
    """A port in use: the listening Deferred fails, the reason is printed and
    the reactor stops."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(impl, "qotd", "--port", str(port))
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == (
        f"Cannot listen: Couldn't listen on 127.0.0.1:{port}: "
        "[Errno 98] Address already in use.\n"
    )


def welcome(count: int) -> bytes:
    """The counting server's greeting."""
    return b"Welcome! There are currently %d open connections.\n" % count


@impls
def test_welcome_server_counts_and_refuses(impl):
    """The factory counts open connections; one too many is refused, and
    closed connections stop counting."""
    with server(impl, "welcome_server", "--max-connections", "2") as srv:
        first = connect(srv.port)
        assert recvExactly(first, len(welcome(1))) == welcome(1)
        second = connect(srv.port)
        assert recvExactly(second, len(welcome(2))) == welcome(2)
        with connect(srv.port) as third:
            assert recvAll(third) == b"Too many connections, try later\n"
        second.sendall(b"echo me")
        assert recvExactly(second, 7) == b"echo me"
        first.close()
        deadline = time.monotonic() + TIMEOUT
        while True:
            with connect(srv.port) as fourth:
                greeting = fourth.recv(100)
                if greeting == welcome(2):
                    break
                assert greeting.startswith(b"Too many"), greeting
                assert recvAll(fourth) == b""
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second.close()


QUESTIONS = b"How are you?\r\nWhat?\r\nHow are you?\r\n"
ANSWERS = b"Fine\r\nI don't know what you mean\r\nFine\r\n"


@impls
def test_answer_server(impl):
    """LineReceiver answers known and unknown lines, however the bytes are
    split on the wire."""
    with server(impl, "answer_server") as srv:
        for size in (len(QUESTIONS), 1, 2, 5, 13):
            with connect(srv.port) as sock:
                for i in range(0, len(QUESTIONS), size):
                    sock.sendall(QUESTIONS[i : i + size])
                    if size < len(QUESTIONS):
                        time.sleep(0.001)
                assert recvExactly(sock, len(ANSWERS)) == ANSWERS


def openFiles(pid: int) -> list[str]:
    """Where the descriptors of process ``pid`` point (``socket:[...]`` for
    sockets, a path for files)."""
    links = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            links.append(os.readlink(fd))
        except FileNotFoundError:
            pass
    return links


def serverSideConnections(port: int) -> int:
    """How many TCP connections on local port ``port`` are still open on the
    server's side (neither listening nor in TIME_WAIT), from /proc/net/tcp."""
    count = 0
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = row.split()[1], row.split()[3]
        if int(local.split(":")[1], 16) == port and state not in ("0A", "06"):
            count += 1
    return count


@impls
def test_logfile_server(impl, tmp_path):
    """The factory has its file open while listening (startFactory); lines
    from every client are appended, split however they arrive."""
    logfile = tmp_path / "lines.log"
    logfile.write_bytes(b"old\n")
    with server(impl, "logfile_server", str(logfile)) as srv:
        pid = srv.process.pid
        assert str(logfile) in openFiles(pid)
        with connect(srv.port) as sock:
            sock.sendall(b"first\r\nsec")
            time.sleep(0.01)
            sock.sendall(b"ond\r\nunterminated")
        with connect(srv.port) as sock:
            sock.sendall(b"third\r\n")
        # Each connection's lines are handled before its close is: once the
        # server has closed both connections, all lines are in.
        deadline = time.monotonic() + TIMEOUT
        while serverSideConnections(srv.port):
            assert time.monotonic() < deadline
            time.sleep(0.01)
    assert logfile.read_bytes() == b"old\nfirst\nsecond\nthird\n"


class ChatClient:
    """A line-oriented client of the chat server."""

    def __init__(self, port: int) -> None:
        self.sock = connect(port)
        self.buffer = b""

    def send(self, line: bytes) -> None:
        """Send one CRLF-terminated line."""
        self.sock.sendall(line + b"\r\n")

    def line(self) -> bytes:
        """The next line received, without its CRLF."""
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, f"EOF with {self.buffer!r} buffered"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line


@impls
def test_chat_server(impl):
    """The transcript from the document: names, a taken name, and messages
    relayed to every other user."""
    with server(impl, "chat_server") as srv:
        alice, bob = ChatClient(srv.port), ChatClient(srv.port)
        assert alice.line() == b"What's your name?"
        alice.send(b"alice")
        assert alice.line() == b"Welcome, alice!"
        assert bob.line() == b"What's your name?"
        bob.send(b"alice")
        assert bob.line() == b"Name taken, please choose another."
        bob.send(b"bob")
        assert bob.line() == b"Welcome, bob!"
        bob.send(b"hello")
        assert alice.line() == b"<bob> hello"
        alice.send(b"hi bob")
        assert bob.line() == b"<alice> hi bob"
        carol = ChatClient(srv.port)
        assert carol.line() == b"What's your name?"
        carol.send(b"carol")
        assert carol.line() == b"Welcome, carol!"
        carol.send(b"yeah, it's great")
        assert alice.line() == b"<carol> yeah, it's great"
        assert bob.line() == b"<carol> yeah, it's great"
        alice.sock.close()
        # alice's name is free again once her connection is gone.
        deadline = time.monotonic() + TIMEOUT
        while True:
            again = ChatClient(srv.port)
            assert again.line() == b"What's your name?"
            again.send(b"alice")
            if again.line() == b"Welcome, alice!":
                break
            again.sock.close()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        bob.send(b"welcome back")
        assert again.line() == b"<bob> welcome back"
        assert carol.line() == b"<bob> welcome back"
        for client in (again, bob, carol):
            client.sock.close()


@impls
def test_echo_client(impl):
    """The ClientFactory reports starting, connecting and losing the
    connection, and the echo comes back."""
    with server(impl, "echo_server") as srv:
        result = run(impl, "echo_client", "--port", str(srv.port), "--message", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert normalize(result.stdout) == (
        "Started to connect.\n"
        "Connected.\n"
        "Received: b'hi'\n"
        f"Lost connection.  Reason: {DONE}\n"
    )


@impls
def test_echo_client_connection_failed(impl):
    """A refused connection is reported to clientConnectionFailed."""
    sock, port = refusedPort()
    with sock:
        result = run(impl, "echo_client", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr == ""
    assert normalize(result.stdout) == (
        f"Started to connect.\nConnection failed. Reason: {REFUSED}\n"
    )


@impls
def test_reconnecting_client_reconnects_after_each_loss(impl):
    """QOTD hangs up after each quote; the client reconnects each time,
    resetting its delay, until it has had three connections."""
    quote = "to be reconnected"
    with server(impl, "qotd", "--quote", quote) as srv:
        result = run(
            impl,
            "reconnecting_client",
            "--port",
            str(srv.port),
            "--connections",
            "3",
            "--max-delay",
            "0.05",
        )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    one = (
        "Started to connect.\n"
        "Connected.\n"
        "Resetting reconnection delay\n"
        f"Received: b'{quote}\\r\\n'\n"
        f"Lost connection.  Reason: {DONE}\n"
    )
    assert normalize(result.stdout) == one * 3


@impls
def test_reconnecting_client_gives_up(impl):
    """Refused every time: one attempt plus two retries, then it gives up."""
    sock, port = refusedPort()
    with sock:
        result = run(
            impl,
            "reconnecting_client",
            "--port",
            str(port),
            "--max-retries",
            "2",
            "--max-delay",
            "0.05",
        )
    assert result.returncode == 1
    assert result.stderr == ""
    failed = f"Started to connect.\nConnection failed. Reason: {REFUSED}\n"
    assert normalize(result.stdout) == failed * 3 + "Giving up after 2 retries.\n"


@impls
def test_reconnecting_client_waits_for_server(impl):
    """Started before its server exists, the client keeps retrying and
    connects once the server is listening."""
    holder, port = refusedPort()
    argv, env = command(
        impl, "reconnecting_client", "--port", str(port), "--connections", "1"
    )
    argv += ["--max-delay", "0.05"]
    client = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert readLine(client) == "Started to connect.\n"
        assert normalize(readLine(client) + readLine(client)) == (
            f"Connection failed. Reason: {REFUSED}\n"
        )
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.listen()
        accepted, _ = holder.accept()
        accepted.sendall(b"finally")
        accepted.close()
        out, err = client.communicate(timeout=TIMEOUT)
    finally:
        holder.close()
        if client.poll() is None:
            client.kill()
            client.communicate()
    assert client.returncode == 0
    assert err == ""
    tail = (
        "Started to connect.\n"
        "Connected.\n"
        "Resetting reconnection delay\n"
        "Received: b'finally'\n"
        f"Lost connection.  Reason: {DONE}\n"
    )
    assert normalize(out).endswith(tail)
    attempts = normalize(out)[: -len(tail)].split("Started to connect.\n")
    assert attempts[0] == ""
    assert all(a == f"Connection failed. Reason: {REFUSED}\n" for a in attempts[1:])


def greetingServer() -> tuple[socket.socket, int]:
    """A plain listening socket for the greeters to talk to."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.settimeout(TIMEOUT)
    return sock, sock.getsockname()[1]


@impls
@pytest.mark.parametrize("name", ["greeter_endpoint", "greeter_clientcreator"])
def test_greeter(impl, name):
    """The greeter connects, sends two messages a delay apart and hangs up."""
    listener, port = greetingServer()
    with listener:
        argv, env = command(impl, name, "--port", str(port), "--delay", "0.1")
        client = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            accepted, _ = listener.accept()
            with accepted:
                first = recvExactly(accepted, len(b"MESSAGE Hello\n"))
                started = time.monotonic()
                rest = recvAll(accepted)
                elapsed = time.monotonic() - started
            out, err = client.communicate(timeout=TIMEOUT)
        finally:
            if client.poll() is None:
                client.kill()
                client.communicate()
    assert first == b"MESSAGE Hello\n"
    assert rest == b"MESSAGE This is sent in a second\n"
    assert elapsed >= 0.15
    assert client.returncode == 0
    assert err == ""
    assert out == ("Sent: Hello\nSent: This is sent in a second\nDisconnected.\n")


@impls
@pytest.mark.parametrize("name", ["greeter_endpoint", "greeter_clientcreator"])
def test_greeter_connection_refused(impl, name):
    """No server: the connecting Deferred fails with the refusal."""
    sock, port = refusedPort()
    with sock:
        result = run(impl, name, "--port", str(port))
    assert result.returncode == 1
    assert result.stderr == ""
    assert result.stdout == (
        "Connection failed: Connection was refused by other side: "
        "111: Connection refused.\n"
    )


POEMS = [
    b"The first poem\nhas two lines.\n",
    "The second poem is longer, and not all ASCII: caf\u00e9.\n".encode() * 20,
    b"",
]


@impls
def test_poetry_client(impl, tmp_path):
    """Downloads from three slow servers at once (one sending nothing) and a
    refused address; each download is numbered, its chunks add up to the
    poem, and the poems come out exactly in the order given."""
    files = []
    for i, poem in enumerate(POEMS):
        path = tmp_path / f"poem{i}.txt"
        path.write_bytes(poem)
        files.append(str(path))
    refused, badPort = refusedPort()
    with (
        refused,
        server(impl, "poetry_server", files[0], "--num-bytes", "7") as one,
        server(impl, "poetry_server", files[1], "--num-bytes", "50") as two,
        server(impl, "poetry_server", files[2]) as three,
    ):
        addresses = [f"127.0.0.1:{s.port}" for s in (one, two, three)]
        result = run(impl, "poetry_client", addresses[0], str(badPort), *addresses[1:])
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines(keepends=True)
    failed = f"Failed to connect to: IPv4Address(type='TCP', host='127.0.0.1', port={badPort})\n"
    assert lines.count(failed) == 1
    chunks: dict[int, list[tuple[str, int]]] = {}
    finished: dict[int, int] = {}
    position = 0
    for index, line in enumerate(lines):
        position = index
        if match := re.fullmatch(
            r"Task (\d): got (\d+) bytes of poetry from (127\.0\.0\.1:\d+)\n", line
        ):
            chunks.setdefault(int(match[1]), []).append((match[3], int(match[2])))
        elif match := re.fullmatch(r"Task (\d): poem finished, (\d+) bytes\n", line):
            finished[int(match[1])] = int(match[2])
        elif line != failed:
            break
    else:
        position = len(lines)
    assert sorted(finished) == [1, 2, 3]
    bySource = {}
    for task, got in chunks.items():
        assert len({source for source, _ in got}) == 1
        assert sum(size for _, size in got) == finished[task]
        bySource[got[0][0]] = finished[task]
    assert bySource == {addresses[0]: len(POEMS[0]), addresses[1]: len(POEMS[1])}
    expected = "".join(
        f"Poem from {address}:\n{poem.decode()}"
        for address, poem in zip(addresses, POEMS, strict=True)
    )
    assert "".join(lines[position:]) == expected


@pytest.mark.parametrize(
    "name",
    sorted(
        p.stem for p in EXAMPLES.glob("*.py") if p.stem not in {"echo_demo", "echoserv"}
    ),
)
def test_runs_with_python_dash_m(name):
    """Every example runs as ``python -m NAME`` from the examples directory
    (shown by its --help, which names the program)."""
    result = subprocess.run(
        [sys.executable, "-m", name, "--help"],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {name}.py ")


def test_python_dash_m_serves():
    """A server started with ``python -m`` from the examples directory serves."""
    process = subprocess.Popen(
        [sys.executable, "-m", "qotd", "--port", "0", "--quote", "via -m"],
        cwd=EXAMPLES,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        match = LISTENING.fullmatch(readLine(process))
        assert match
        with connect(int(match[1])) as sock:
            assert recvAll(sock) == b"via -m\r\n"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert (out, err) == ("", "")


LOGBOT_TIMESTAMP = re.compile(r"^\[\d\d:\d\d:\d\d\] ", re.MULTILINE)
ASCTIME = re.compile(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}")


def logBotScenario(impl: str, tmp_path: Path) -> str:
    """Run examples/ircLogBot.py on ``impl`` against a private ngircd and
    drive it from two plain clients: one holds the bot's nickname (a
    collision), the other talks in the channel, whispers, acts, renames
    itself and finally KILLs the bot as an IRC operator. Returns the bot's
    log file, timestamps replaced, once the bot has rejoined and logged
    the last message."""
    from ircd import OPER_NAME, OPER_PASSWORD, Peer, running_ngircd

    tmp_path.mkdir()
    logfile = tmp_path / f"{impl}.log"
    with running_ngircd(tmp_path) as ircd:
        holder = Peer(ircd.port, "twistedbot")
        watcher = Peer(ircd.port, "watcher")
        watcher.send(f"OPER {OPER_NAME} {OPER_PASSWORD}")
        watcher.expect(" 381 watcher ", "RPL_YOUREOPER")
        watcher.send("JOIN #logtest")
        watcher.expect(" 366 watcher #logtest ", "end of NAMES")
        argv, env = command(
            impl, "ircLogBot", "logtest", str(logfile), "--host", "127.0.0.1",
            "--port", str(ircd.port),
        )  # fmt: skip
        bot = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            watcher.expect(":twistedbot^!~twistedbot@127.0.0.1 JOIN :#logtest")
            watcher.send("PRIVMSG #logtest :hello world")
            watcher.send("PRIVMSG #logtest :twistedbot^: are you there?")
            assert watcher.expect("PRIVMSG #logtest") == (
                ":twistedbot^!~twistedbot@127.0.0.1 PRIVMSG #logtest "
                ":watcher: I am a log bot"
            )
            watcher.send("PRIVMSG twistedbot^ :psst")
            assert watcher.expect("PRIVMSG watcher") == (
                ":twistedbot^!~twistedbot@127.0.0.1 PRIVMSG watcher "
                ":It isn't nice to whisper!  Play nice with the group."
            )
            watcher.send("PRIVMSG #logtest :\x01ACTION waves\x01")
            watcher.send("NICK watcher2")
            watcher.expect(":watcher!~watcher@127.0.0.1 NICK :watcher2")
            # The bot has handled everything sent so far once it answers.
            watcher.send("PRIVMSG #logtest :twistedbot^: still there?")
            watcher.expect(":watcher2: I am a log bot")
            watcher.send("KILL twistedbot^ :enough")
            watcher.expect(
                lambda line: line.startswith(":twistedbot^!") and " QUIT " in line
            )
            watcher.expect(":twistedbot^!~twistedbot@127.0.0.1 JOIN :#logtest")
            watcher.send("PRIVMSG #logtest :twistedbot^: back again?")
            watcher.expect(":watcher2: I am a log bot")
            log = logfile.read_text()
        finally:
            bot.terminate()
            out, err = bot.communicate(timeout=TIMEOUT)
            holder.close()
            watcher.close()
    assert "Traceback" not in out + err, out + err
    return ASCTIME.sub("DATE", LOGBOT_TIMESTAMP.sub("[T] ", log))


LOGBOT_LOG = """\
[T] [connected at DATE]
[T] [I have joined #logtest]
[T] <watcher> hello world
[T] <watcher> twistedbot^: are you there?
[T] <twistedbot^> watcher: I am a log bot
[T] <watcher> psst
[T] * watcher waves
[T] watcher is now known as watcher2
[T] <watcher2> twistedbot^: still there?
[T] <twistedbot^> watcher2: I am a log bot
[T] [disconnected at DATE]
[T] [connected at DATE]
[T] [I have joined #logtest]
[T] <watcher2> twistedbot^: back again?
[T] <twistedbot^> watcher2: I am a log bot
"""


def test_irc_log_bot(tmp_path):
    """The IRC log bot against a real server (ngircd), on torsion and on
    Twisted: it takes twistedbot^ when twistedbot is taken, joins, logs
    messages, actions and renames, answers when addressed or whispered to,
    and reconnects and rejoins after being KILLed; both logs are the same
    line for line (timestamps aside)."""
    torsionLog = logBotScenario("torsion", tmp_path / "torsion")
    twistedLog = logBotScenario("twisted", tmp_path / "twisted")
    assert torsionLog == LOGBOT_LOG
    assert twistedLog == torsionLog
