"""A real IRC server for the tests: ngircd on loopback, in the foreground.

``running_ngircd(tmp_path)`` writes a configuration (a free port on
127.0.0.1, no DNS, ident or PAM lookups, penalties off, an operator
``oper``/``operpass`` allowed to KILL), starts ``ngircd --nodaemon``, waits
until it accepts connections and stops it afterwards.  Where ngircd is not
installed the test fails saying so (``scripts/_env.sh`` installs it from
``scripts/debian-packages.txt``); it is never skipped.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

SERVER_NAME = "irc.torsion.test"
OPER_NAME = "oper"
OPER_PASSWORD = "operpass"
START_TIMEOUT = 10.0


def ngircdPath() -> str:
    """Where ngircd is, or fail the test with how to install it."""
    for candidate in ("ngircd", "/usr/sbin/ngircd"):
        found = shutil.which(candidate)
        if found:
            return found
    pytest.fail(
        "ngircd (the IRC daemon these tests run against) is not installed: "
        "run `bash -c 'source scripts/_env.sh'` or `apt-get install ngircd`"
    )


def freePort() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def configuration(directory: Path, port: int) -> str:
    """The ngircd.conf text for a private test server."""
    motd = directory / "motd"
    motd.write_text("Welcome to the torsion test server\nSecond line\n")
    return f"""\
[Global]
    Name = {SERVER_NAME}
    Info = torsion test server
    Listen = 127.0.0.1
    Ports = {port}
    MotdFile = {motd}
    PidFile = {directory / "ngircd.pid"}
    ServerUID = {os.getuid()}
    ServerGID = {os.getgid()}
[Limits]
    ConnectRetry = 60
    MaxConnectionsIP = 0
    MaxJoins = 0
    MaxNickLength = 16
    MaxPenaltyTime = 0
    PingTimeout = 120
    PongTimeout = 20
[Options]
    DNS = no
    Ident = no
    PAM = no
    OperCanUseMode = yes
    SyslogFacility = local7
[Operator]
    Name = {OPER_NAME}
    Password = {OPER_PASSWORD}
"""


class Ngircd:
    """A running ngircd: its port and process."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port


def _waitUntilListening(process: subprocess.Popen[bytes], port: int) -> None:
    """Poll until ``port`` accepts a connection (fail if ngircd exits or
    takes longer than START_TIMEOUT)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"ngircd exited with {process.returncode}: {err.decode()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"ngircd did not listen on port {port} in time")
        time.sleep(0.02)


@contextmanager
def running_ngircd(directory: Path) -> Iterator[Ngircd]:
    """Run a private ngircd for the duration of the ``with`` block."""
    binary = ngircdPath()
    port = freePort()
    conf = directory / "ngircd.conf"
    conf.write_text(configuration(directory, port))
    process = subprocess.Popen(
        [binary, "--nodaemon", "--passive", "--config", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _waitUntilListening(process, port)
        yield Ngircd(process, port)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.communicate(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
        else:
            process.communicate()


class Peer:
    """A plain blocking IRC client for the tests' side of a conversation:
    it registers, answers PINGs, and waits for lines it is told to expect."""

    def __init__(self, port: int, nickname: str, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buffer = b""
        self.seen: list[str] = []
        self.nickname = nickname
        self.send(f"NICK {nickname}")
        self.send(f"USER {nickname} 0 * :{nickname} the peer")
        self.expect(lambda line: f" 001 {nickname} " in line)

    def send(self, line: str) -> None:
        """Send one line, CRLF added."""
        self.sock.sendall(line.encode("utf-8") + b"\r\n")

    def line(self) -> str:
        """The next line from the server (PINGs answered, not returned)."""
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\r\n" not in self.buffer:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = self.sock.recv(65536)
                assert chunk, f"server closed; last lines: {self.seen[-5:]}"
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\r\n", 1)
            text = raw.decode("utf-8")
            if text.startswith("PING "):
                self.send("PONG " + text[5:])
                continue
            self.seen.append(text)
            return text

    def expect(self, matches: Any, what: str = "") -> str:
        """Read lines until one satisfies ``matches`` (a predicate, or a
        substring); return it. Fails after ``timeout`` seconds."""
        test = matches if callable(matches) else (lambda line: matches in line)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                text = self.line()
            except TimeoutError:
                break
            if test(text):
                return text
        pytest.fail(f"never saw {what or matches!r}; last lines: {self.seen[-8:]}")

    def close(self) -> None:
        """Quit and close the socket."""
        try:
            self.send("QUIT :done")
        except OSError:
            pass
        self.sock.close()
