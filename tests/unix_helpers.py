"""Helpers for the UNIX socket tests: short socket directories, dead and
live process ids for lock files, and running as an unprivileged user."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def socket_directory() -> Iterator[str]:
    """A fresh directory with a short path (AF_UNIX names are limited to
    107 bytes, which pytest's tmp_path can exceed), removed afterwards."""
    path = tempfile.mkdtemp(prefix="tx", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def dead_pid() -> int:
    """The id of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    """Run the block without root's right to write anywhere: as root, with
    the effective user id of ``nobody``; otherwise as we are."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
