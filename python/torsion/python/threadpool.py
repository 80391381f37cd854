"""A pool of worker threads to which blocking calls are handed (Twisted's API)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["ThreadPool", "WorkerStop"]

WorkerStop = object()


def _logFailure(failure: Any) -> None:
    from torsion.python import log

    log.err(failure)


def _logCurrentError() -> None:
    from torsion.python import log

    log.err()


class _Backlog:
    """Answers ``qsize()`` with the amount of work not yet given to a worker."""

    def __init__(self, pool: ThreadPool) -> None:
        self._pool = pool

    def qsize(self) -> int:
        """Return the number of queued calls waiting for a free worker."""
        return self._pool._stats()[2]


class ThreadPool:
    """Runs callables in worker threads; between ``min`` and ``max`` of them.

    Work given before ``start()`` is kept and run once the pool starts.  A new
    thread is made whenever work arrives, no worker is free and fewer than
    ``max`` exist.  ``stop()`` lets queued work finish, then joins the threads.
    """

    min = 5
    max = 20
    joined = False
    started = False
    name: str | None = None
    threadFactory: Callable[..., threading.Thread] = threading.Thread

    def __init__(
        self, minthreads: int = 5, maxthreads: int = 20, name: str | None = None
    ) -> None:
        if minthreads < 0:
            raise AssertionError("minimum is negative")
        if minthreads > maxthreads:
            raise AssertionError("minimum is greater than maximum")
        self.min = minthreads
        self.max = maxthreads
        self.name = name
        self.threads: list[threading.Thread] = []
        self._cond = threading.Condition(threading.Lock())
        self._pending: deque[Callable[[], None]] = deque()
        self._outstanding = 0
        self._workerCount = 0
        self._toShrink = 0
        self._quitting = False

    def _stats(self) -> tuple[int, int, int]:
        with self._cond:
            workers = self._workerCount
            busy = min(self._outstanding, workers)
            return workers - busy, busy, self._outstanding - busy

    @property
    def workers(self) -> int:
        """The number of worker threads, idle or busy."""
        return self._workerCount

    @property
    def working(self) -> list[None]:
        """One ``None`` per busy worker (Twisted's legacy shape)."""
        return [None] * self._stats()[1]

    @property
    def waiters(self) -> list[None]:
        """One ``None`` per idle worker (Twisted's legacy shape)."""
        return [None] * self._stats()[0]

    @property
    def _queue(self) -> _Backlog:
        return _Backlog(self)

    q = _queue

    def _spawn(self, count: int) -> None:
        """Create up to ``count`` workers within ``max``; the lock is held."""
        for _ in range(count):
            if self._workerCount >= self.max:
                return
            thread = self.threadFactory(
                target=self._work,
                name=f"PoolThread-{self.name or id(self)}-{self._workerCount}",
            )
            thread.daemon = True
            self.threads.append(thread)
            self._workerCount += 1
            thread.start()

    def _work(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while True:
                    if self._toShrink > 0:
                        self._toShrink -= 1
                        if self._pending:
                            cond.notify()
                        return
                    if self._pending:
                        task = self._pending.popleft()
                        break
                    if self._quitting:
                        self._workerCount -= 1
                        return
                    cond.wait()
            try:
                task()
            except BaseException:
                _logCurrentError()
            del task
            with cond:
                self._outstanding -= 1

    def start(self) -> None:
        """Start the pool: make ``min`` workers, and more for queued work."""
        with self._cond:
            self.joined = False
            self.started = True
            self._quitting = False
        self.adjustPoolsize()
        with self._cond:
            backlog = self._outstanding - self._workerCount
            if backlog > 0:
                self._spawn(backlog)

    def startAWorker(self) -> None:
        """Add one worker, within ``max``."""
        with self._cond:
            self._spawn(1)

    def stopAWorker(self) -> None:
        """Retire one worker as soon as it is idle."""
        with self._cond:
            self._shrink(1)

    def _shrink(self, count: int) -> None:
        count = min(count, self._workerCount)
        self._workerCount -= count
        self._toShrink += count
        self._cond.notify_all()

    def callInThread(self, func: Callable[..., object], *args: Any, **kw: Any) -> None:
        """Run ``func(*args, **kw)`` in a worker thread."""
        self.callInThreadWithCallback(None, func, *args, **kw)

    def callInThreadWithCallback(
        self,
        onResult: Callable[[bool, Any], object] | None,
        func: Callable[..., object],
        *args: Any,
        **kw: Any,
    ) -> None:
        """Run ``func`` in a worker, then call ``onResult(ok, result)`` there.

        ``result`` is the return value, or a Failure if ``func`` raised.  With
        no ``onResult`` an error is logged instead.  Ignored after ``stop()``.
        """
        if self.joined:
            return
        job = _Job(onResult, func, args, kw)
        with self._cond:
            self._pending.append(job.run)
            self._outstanding += 1
            if self.started and self._outstanding > self._workerCount:
                self._spawn(1)
            self._cond.notify()

    def stop(self) -> None:
        """Finish queued work, end every worker and join them; idempotent."""
        with self._cond:
            self.joined = True
            self.started = False
            self._quitting = True
            self._cond.notify_all()
        current = threading.current_thread()
        for thread in list(self.threads):
            if thread is not current:
                thread.join()

    def adjustPoolsize(
        self, minthreads: int | None = None, maxthreads: int | None = None
    ) -> None:
        """Set new bounds and, if started, add or retire workers to fit them."""
        if minthreads is None:
            minthreads = self.min
        if maxthreads is None:
            maxthreads = self.max
        if minthreads < 0:
            raise AssertionError("minimum is negative")
        if minthreads > maxthreads:
            raise AssertionError("minimum is greater than maximum")
        with self._cond:
            self.min = minthreads
            self.max = maxthreads
            if not self.started:
                return
            if self._workerCount > self.max:
                self._shrink(self._workerCount - self.max)
            if self._workerCount < self.min:
                self._spawn(self.min - self._workerCount)

    def dumpStats(self) -> None:
        """Log the numbers of idle, busy and total workers."""
        from torsion.python import log

        log.msg(f"waiters: {self.waiters}")
        log.msg(f"workers: {self.working}")
        log.msg(f"total: {self.threads}")

    def __getstate__(self) -> dict[str, int]:
        return {"min": self.min, "max": self.max}

    def __setstate__(self, state: dict[str, int]) -> None:
        self.__dict__.update(state)
        ThreadPool.__init__(self, self.min, self.max)


class _Job:
    """One call handed to the pool; drops its references once done."""

    __slots__ = ("onResult", "func", "args", "kw")

    def __init__(
        self,
        onResult: Callable[[bool, Any], object] | None,
        func: Callable[..., object],
        args: tuple[Any, ...],
        kw: dict[str, Any],
    ) -> None:
        self.onResult = onResult
        self.func = func
        self.args = args
        self.kw = kw

    def run(self) -> None:
        func, args, kw = self.func, self.args, self.kw
        self.func = self.args = self.kw = None  # type: ignore[assignment]
        try:
            result: Any = func(*args, **kw)
            ok = True
        except BaseException:
            from torsion.python.failure import Failure

            result = Failure()
            ok = False
        del func, args, kw
        onResult, self.onResult = self.onResult, None
        if onResult is not None:
            onResult(ok, result)
        elif not ok:
            _logFailure(result)
