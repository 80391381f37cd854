"""An inter-process mutex held as a symbolic link in the filesystem.

The lock at ``name`` is a symlink whose target is the owner's process id
(the target need not exist). Creating a symlink either succeeds or fails
because one is there already, in one step, so two processes cannot both
take the lock. A lock left by a process that no longer exists is taken
over, and ``clean`` then says so.
"""

from __future__ import annotations

import errno
import os
import time

__all__ = ["FilesystemLock", "isLocked"]


def unique() -> str:
    """A string that changes every millisecond (Twisted keeps one here)."""
    return str(int(time.time() * 1000))


class FilesystemLock:
    """A lock named by a filesystem path.

    ``locked`` is whether this object holds the lock. ``clean`` is, after
    ``lock()`` returned True, whether the previous owner released it (False
    when it had to be taken from a dead process); None before that.
    """

    clean: bool | None = None
    locked: bool = False

    def __init__(self, name: str) -> None:
        self.name = name

    def lock(self) -> bool:
        """Take the lock: True if this process now holds it, False if a live
        process does. OSErrors other than the lock existing propagate."""
        clean = True
        while True:
            try:
                os.symlink(str(os.getpid()), self.name)
            except FileExistsError:
                pass
            else:
                self.locked = True
                self.clean = clean
                return True
            try:
                owner = os.readlink(self.name)
            except FileNotFoundError:
                continue  # released meanwhile: try again
            if _alive(int(owner)):
                return False
            try:
                os.remove(self.name)
            except FileNotFoundError:
                continue  # another process removed the stale lock first
            clean = False

    def unlock(self) -> None:
        """Release the lock; ValueError if another process holds it."""
        owner = os.readlink(self.name)
        if int(owner) != os.getpid():
            raise ValueError(f"Lock {self.name!r} not owned by this process")
        os.remove(self.name)
        self.locked = False


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (signal 0 only checks). Errors other
    than "no such process" (EPERM: it exists, under another user) are
    raised, as Twisted does."""
    try:
        os.kill(pid, 0)
    except OSError as e:
        if e.errno == errno.ESRCH:
            return False
        raise
    return True


def isLocked(name: str) -> bool:
    """Whether a live process holds the lock at ``name`` (found by trying to
    take it, and releasing it at once if that worked)."""
    probe = FilesystemLock(name)
    acquired = probe.lock()
    if acquired:
        probe.unlock()
    return not acquired
