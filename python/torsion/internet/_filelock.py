"""DeferredFilesystemLock: a filesystem lock waited for with a Deferred.

It is exported by ``torsion.internet.defer`` (as Twisted's is by
``twisted.internet.defer``) and lives here to keep that module to Deferred
itself.
"""

from __future__ import annotations

from typing import Any

from torsion.internet.defer import (
    AlreadyTryingToLockError,
    CancelledError,
    Deferred,
    TimeoutError,
    fail,
)
from torsion.python import lockfile
from torsion.python.failure import Failure


class DeferredFilesystemLock(lockfile.FilesystemLock):
    """A FilesystemLock whose ``deferUntilLocked`` retries, every
    ``_interval`` seconds on ``scheduler`` (the reactor by default), until
    the lock is taken."""

    __module__ = "torsion.internet.defer"
    _interval = 1
    _tryLockCall: Any = None
    _timeoutCall: Any = None

    def __init__(self, name: str, scheduler: Any = None) -> None:
        super().__init__(name)
        if scheduler is None:
            from torsion.internet import reactor

            scheduler = reactor
        self._scheduler = scheduler

    def deferUntilLocked(self, timeout: float | None = None) -> Deferred[None]:
        """A Deferred that fires with None once this object holds the lock.

        With ``timeout``, it fails with TimeoutError after that many seconds
        (unless one last try takes the lock). Cancelling it stops the
        retries, with the same last try. A second call while one is waiting
        fails at once with AlreadyTryingToLockError.
        """
        if self._tryLockCall is not None:
            return fail(
                AlreadyTryingToLockError(
                    "deferUntilLocked isn't safe for concurrent use."
                )
            )

        def giveUp(reason: Failure | Exception) -> None:
            self._tryLockCall.cancel()
            self._tryLockCall = None
            # The timeout's own call finds itself no longer active and is
            # kept, as in Twisted: a later wait then gets no new timeout.
            if self._timeoutCall is not None and self._timeoutCall.active():
                self._timeoutCall.cancel()
                self._timeoutCall = None
            if self.lock():
                waiting.callback(None)
            else:
                waiting.errback(reason)

        waiting: Deferred[None] = Deferred(lambda _: giveUp(CancelledError()))

        def attempt() -> None:
            if self.lock():
                if self._timeoutCall is not None:
                    self._timeoutCall.cancel()
                    self._timeoutCall = None
                self._tryLockCall = None
                waiting.callback(None)
                return
            if timeout is not None and self._timeoutCall is None:
                expired = Failure(
                    TimeoutError(
                        f"Timed out acquiring lock: {self.name} after {timeout:f}s"
                    )
                )
                self._timeoutCall = self._scheduler.callLater(timeout, giveUp, expired)
            self._tryLockCall = self._scheduler.callLater(self._interval, attempt)

        attempt()
        return waiting
