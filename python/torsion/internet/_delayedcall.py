"""A pure-Python DelayedCall with Twisted's API, used by the fake Clock."""

from __future__ import annotations

import time as _time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from zope.interface import implementer

from torsion.internet.interfaces import IDelayedCall

__all__ = ["DelayedCall", "safeRepr", "callableName"]


def safeRepr(obj: object) -> str:
    """Return ``repr(obj)``, or a description of the error if repr raised."""
    try:
        return repr(obj)
    except BaseException:
        details = traceback.format_exc()
        cls = getattr(type(obj), "__qualname__", "<unknown>")
        return f"<{cls} instance at 0x{id(obj):x} with repr error:\n {details}>"


def callableName(func: object) -> str:
    """Name a callable for a repr: its qualified name, else a safe repr."""
    name = getattr(func, "__qualname__", None)
    if name is None:
        name = getattr(func, "__name__", None)
        if name is not None:
            owner = getattr(func, "im_class", None)
            if owner is not None:
                name = f"{owner}.{name}"
    if name is None:
        name = safeRepr(func)
    return name


def _errors() -> Any:
    from torsion.internet import error

    return error


@implementer(IDelayedCall)
class DelayedCall:
    """A call scheduled for a later time; returned by ``callLater``.

    ``cancelled`` and ``called`` are the integers 0 or 1, as in Twisted.
    """

    debug = False
    creator: Sequence[str] | None = None
    _repr: str | None = None

    def __init__(
        self,
        time: float,
        func: Callable[..., Any],
        args: Sequence[object],
        kw: dict[str, object],
        cancel: Callable[[DelayedCall], None],
        reset: Callable[[DelayedCall], None],
        seconds: Callable[[], float] = _time.time,
    ) -> None:
        self.time = time
        self.func = func
        self.args = args
        self.kw = kw
        self.canceller = cancel
        self.resetter = reset
        self.seconds = seconds
        self.cancelled = 0
        self.called = 0
        self.delayed_time = 0.0
        if self.debug:
            self.creator = traceback.format_stack()[:-2]

    def getTime(self) -> float:
        """Return the absolute time at which this call is due."""
        return self.time + self.delayed_time

    def _checkPending(self) -> None:
        if self.cancelled:
            raise _errors().AlreadyCancelled
        if self.called:
            raise _errors().AlreadyCalled

    def cancel(self) -> None:
        """Unschedule the call; AlreadyCancelled/AlreadyCalled if not pending."""
        self._checkPending()
        self.canceller(self)
        self.cancelled = 1
        if self.debug:
            self._repr = repr(self)
        del self.func, self.args, self.kw

    def reset(self, secondsFromNow: float) -> None:
        """Reschedule the call to ``secondsFromNow`` seconds after now."""
        self._checkPending()
        target = self.seconds() + secondsFromNow
        if target < self.time:
            self.delayed_time = 0.0
            self.time = target
            self.resetter(self)
        else:
            self.delayed_time = target - self.time

    def delay(self, secondsLater: float) -> None:
        """Push the call ``secondsLater`` seconds further (may be negative)."""
        self._checkPending()
        self.delayed_time += secondsLater
        if self.delayed_time < 0.0:
            self.activate_delay()
            self.resetter(self)

    def activate_delay(self) -> None:
        """Fold the accumulated delay into ``time``."""
        self.time += self.delayed_time
        self.delayed_time = 0.0

    def active(self) -> bool:
        """Return True while the call is neither made nor cancelled."""
        return not (self.cancelled or self.called)

    def __lt__(self, other: DelayedCall) -> bool:
        return self.time < other.time

    def __le__(self, other: DelayedCall) -> bool:
        return self.time <= other.time

    def __repr__(self) -> str:
        if self._repr is not None:
            return self._repr
        parts = [
            f"<DelayedCall 0x{id(self):x} [{self.time - self.seconds()}s] "
            f"called={self.called} cancelled={self.cancelled}"
        ]
        if hasattr(self, "func"):
            parts.append(f" {callableName(self.func)}(")
            rendered = [safeRepr(a) for a in self.args]
            rendered.extend(f"{k}={safeRepr(v)}" for k, v in self.kw.items())
            parts.append(", ".join(rendered))
            parts.append(")")
        if self.creator is not None:
            stack = "    ".join(self.creator)
            parts.append(f"\n\ntraceback at creation: \n\n{stack}")
        parts.append(">")
        return "".join(parts)
