"""Failure: an exception captured as a value, to be passed along errback chains.

Behaves like ``twisted.python.failure``: a :class:`Failure` wraps the exception
being handled (or one given explicitly), keeps its traceback object, and only
turns the traceback into frame tuples when somebody asks for them.
"""

from __future__ import annotations

import builtins
import linecache
import sys
import warnings
from collections.abc import Callable, Iterable
from io import StringIO
from types import TracebackType
from typing import Any, NoReturn, TypeVar

__all__ = [
    "DefaultException",
    "Failure",
    "NoCurrentExceptionError",
    "format_frames",
    "startDebugMode",
]

_F = TypeVar("_F", bound=Callable[..., object])

count = 0
"""How many Failures have been created; each Failure records its number."""

traceupLength = 4
"""Kept for compatibility with Twisted; not used."""

EXCEPTION_CAUGHT_HERE = "--- <exception caught here> ---"
"""Kept for compatibility with Twisted; not used."""

DO_POST_MORTEM = True
"""When debug mode is on, whether creating a Failure starts pdb."""


class DefaultException(Exception):
    """A generic exception, kept for compatibility with Twisted."""


class NoCurrentExceptionError(Exception):
    """Raised by ``Failure()`` when no exception is being handled."""


def _qual(cls: Any) -> str:
    """Return ``module.name`` for a class, as Twisted's ``reflect.qual``."""
    return cls.__module__ + "." + cls.__name__


def _safeFormat(formatter: Callable[[object], str], o: object) -> str:
    """Describe ``o`` and the exception its ``str``/``repr`` raised."""
    io = StringIO()
    import traceback

    traceback.print_exc(file=io)
    try:
        className = type(o).__name__
    except BaseException:
        className = f"<BROKEN CLASS AT 0x{id(type(o)):x}>"
    return f"<{className} instance at 0x{id(o):x} with {formatter.__name__} error:\n {io.getvalue()}>"


def _safeStr(o: object) -> str:
    """``str(o)`` that never raises; UTF-8 bytes are decoded."""
    if isinstance(o, bytes):
        try:
            return o.decode("utf-8")
        except BaseException:
            pass
    try:
        return str(o)
    except BaseException:
        return _safeFormat(str, o)


def _safeRepr(o: object) -> str:
    """``repr(o)`` that never raises."""
    try:
        return repr(o)
    except BaseException:
        return _safeFormat(repr, o)


def format_frames(
    frames: Iterable[Any], write: Callable[[str], object], detail: str = "default"
) -> None:
    """Write ``frames`` (Failure.frames tuples) through ``write`` at ``detail``."""
    if detail not in ("default", "brief", "verbose", "verbose-vars-not-captured"):
        raise ValueError(
            "Detail must be default, brief, verbose, or "
            f"verbose-vars-not-captured. (not {detail!r})"
        )
    if detail == "brief":
        for name, filename, lineno, _l, _g in frames:
            write(f"{filename}:{lineno}:{name}\n")
    elif detail == "default":
        for name, filename, lineno, _l, _g in frames:
            write(f'  File "{filename}", line {lineno}, in {name}\n')
            write(f"    {linecache.getline(filename, lineno).strip()}\n")
    elif detail == "verbose-vars-not-captured":
        for name, filename, lineno, _l, _g in frames:
            write(f"{filename}:{lineno:d}: {name}(...)\n")
        write(" [Capture of Locals and Globals disabled (use captureVars=True)]\n")
    else:
        for name, filename, lineno, localVars, globalVars in frames:
            write(f"{filename}:{lineno:d}: {name}(...)\n")
            write(" [ Locals ]\n")
            for key, val in localVars:
                write(f"  {key} : {val!r}\n")
            write(" ( Globals )\n")
            for key, val in globalVars:
                write(f"  {key} : {val!r}\n")


class _Code:
    """A stand-in code object for a frame rebuilt from Failure.frames."""

    def __init__(self, name: str, filename: str) -> None:
        self.co_name = name
        self.co_filename = filename
        self.co_lnotab = b""
        self.co_firstlineno = 0
        self.co_argcount = 0
        self.co_varnames: list[str] = []
        self.co_code = b""
        self.co_cellvars = ()
        self.co_consts = ()
        self.co_flags = 0
        self.co_freevars = ()
        self.co_posonlyargcount = 0
        self.co_kwonlyargcount = 0
        self.co_names = ()
        self.co_nlocals = 0
        self.co_stacksize = 0

    def co_positions(self) -> tuple[tuple[None, None, None, None], ...]:
        """No column information is kept."""
        return ((None, None, None, None),)


class _Frame:
    """A stand-in frame object, linked towards the caller through f_back."""

    def __init__(self, info: Any, back: _Frame | None) -> None:
        name, filename, lineno, localz, globalz = info
        self.f_code = _Code(name, filename)
        self.f_lineno = lineno
        self.f_globals = dict(globalz or {})
        self.f_locals = dict(localz or {})
        self.f_back = back
        self.f_lasti = 0
        self.f_builtins = vars(builtins).copy()
        self.f_trace = None


class _TracebackFrame:
    """A stand-in traceback entry accepted by the ``traceback`` module."""

    def __init__(self, frame: _Frame) -> None:
        self.tb_frame = frame
        self.tb_lineno = frame.f_lineno
        self.tb_lasti = frame.f_lasti
        self.tb_next: _TracebackFrame | None = None


def _Traceback(frames: list[Any]) -> _TracebackFrame:
    """Build a chain of stand-in traceback entries from frame tuples."""
    if not frames:
        raise ValueError("Must pass some frames")
    frame = _Frame(frames[0], None)
    head = tail = _TracebackFrame(frame)
    for info in frames[1:]:
        frame = _Frame(info, frame)
        tail.tb_next = _TracebackFrame(frame)
        tail = tail.tb_next
    return head


_inlineCallbacksExtraneous: list[Any] = []


def _extraneous(f: _F) -> _F:
    """Mark ``f`` as framework plumbing (kept for Twisted compatibility)."""
    _inlineCallbacksExtraneous.append(f.__code__)
    return f


def _newFailure() -> Failure:
    """Create an empty Failure; used when unpickling."""
    return Failure.__new__(Failure)


class Failure(BaseException):
    """An error that happened, as a value: the exception, its type and traceback.

    ``Failure()`` wraps the exception currently being handled; ``Failure(exc)``
    wraps ``exc`` and its ``__traceback__``. Frames are only extracted when
    :attr:`frames` or a formatting method is used.
    """

    pickled = 0
    _parents: list[Any] | None = None
    type: Any
    value: Any
    tb: Any

    def __init__(
        self,
        exc_value: object = None,
        exc_type: Any = None,
        exc_tb: TracebackType | None = None,
        captureVars: bool = False,
    ) -> None:
        global count
        count += 1
        self.count = count
        self.captureVars = captureVars
        tb = None
        if exc_value is None:
            etype, exc_value, tb = sys.exc_info()
            if etype is None:
                self.type = self.value = self.tb = None
                raise NoCurrentExceptionError()
            self.type = etype
        elif exc_type is None:
            self.type = type(exc_value)
        else:
            self.type = exc_type
        self.value = exc_value
        if isinstance(exc_value, Failure):
            self.__dict__ = dict(exc_value.__dict__)
            return
        if tb is None:
            if exc_tb:
                tb = exc_tb
            else:
                tb = getattr(exc_value, "__traceback__", None)
        self.tb = tb

    @staticmethod
    def _withoutTraceback(value: BaseException) -> Failure:
        """Create a Failure for ``value`` with no traceback, as fast as possible."""
        global count
        count += 1
        self = Failure.__new__(Failure)
        self.count = count
        self.captureVars = False
        self.value = value
        self.type = type(value)
        self.tb = None
        return self

    @property
    def frames(self) -> list[Any]:
        """Frame tuples ``(name, filename, lineno, locals, globals)``, outermost first."""
        try:
            return self.__dict__["_frames"]
        except KeyError:
            pass
        frames: list[Any] = []
        self._frames = frames
        tb = self.tb
        capture = self.captureVars
        while tb is not None:
            f = tb.tb_frame
            if capture:
                localz = dict(f.f_locals)
                globalz = {} if f.f_locals is f.f_globals else dict(f.f_globals)
                localz.pop("__builtins__", None)
                globalz.pop("__builtins__", None)
                lv: Any = list(localz.items())
                gv: Any = list(globalz.items())
            else:
                lv = gv = ()
            frames.append(
                (f.f_code.co_name, f.f_code.co_filename, tb.tb_lineno, lv, gv)
            )
            tb = tb.tb_next
        return frames

    @frames.setter
    def frames(self, frames: list[Any]) -> None:
        self._frames = frames

    @property
    def stack(self) -> list[Any]:
        """Deprecated and always empty, as in Twisted."""
        warnings.warn(
            "torsion.python.failure.Failure.stack is deprecated and always empty",
            DeprecationWarning,
            stacklevel=2,
        )
        return []

    @stack.setter
    def stack(self, stack: list[Any]) -> None:
        del stack

    @property
    def parents(self) -> list[Any]:
        """Qualified names of the exception's classes (its MRO)."""
        parents = self._parents
        if parents is None:
            t = self.type
            if isinstance(t, type) and issubclass(t, Exception):
                parents = [_qual(c) for c in t.__mro__]
            else:
                parents = [t]
            self._parents = parents
        return parents

    @parents.setter
    def parents(self, parents: list[Any]) -> None:
        self._parents = parents

    def trap(self, *errorTypes: Any) -> Any:
        """Return the matching type among ``errorTypes``, else re-raise the exception."""
        error = self.check(*errorTypes)
        if not error:
            self.raiseException()
        return error

    def check(self, *errorTypes: Any) -> Any:
        """Return the first of ``errorTypes`` (classes or qualified names) that matches."""
        parents = self.parents
        for error in errorTypes:
            key = error
            if isinstance(error, type) and issubclass(error, Exception):
                key = _qual(error)
            if key in parents:
                return error
        return None

    def raiseException(self) -> NoReturn:
        """Raise the wrapped exception again, with its traceback."""
        raise self.value.with_traceback(self.tb)

    @_extraneous
    def throwExceptionIntoGenerator(self, g: Any) -> Any:
        """Throw the wrapped exception into generator ``g``; return what it yields."""
        return g.throw(self.value.with_traceback(self.tb))

    def __repr__(self) -> str:
        return f"<{_qual(self.__class__)} {_qual(self.type)}: {self.getErrorMessage()}>"

    def __str__(self) -> str:
        return f"[Failure instance: {self.getBriefTraceback()}]"

    def __getstate__(self) -> dict[str, Any]:
        """State without live traceback objects, for pickling."""
        self.parents  # noqa: B018
        state = self.__dict__.copy()
        state["parents"] = state.pop("_parents")
        state["stack"] = []
        state.pop("_frames", None)
        if self.captureVars:
            state["frames"] = [
                [
                    f[0],
                    f[1],
                    f[2],
                    [(k, _safeRepr(v)) for k, v in f[3]],
                    [(k, _safeRepr(v)) for k, v in f[4]],
                ]
                for f in self.frames
            ]
        else:
            state["frames"] = self.frames
        state["tb"] = None
        state["pickled"] = 1
        return state

    def __setstate__(self, state: Any) -> None:
        state = dict(state)
        state.pop("stack", None)
        state["_parents"] = state.pop("parents")
        state["_frames"] = state.pop("frames")
        self.__dict__.update(state)

    def __reduce__(self) -> Any:
        return (_newFailure, (), self.__getstate__())

    def cleanFailure(self) -> None:
        """Drop references to frames and locals; keep their text for reports."""
        state = self.__getstate__()
        state["_frames"] = state.pop("frames")
        state["_parents"] = state.pop("parents")
        state.pop("stack", None)
        self.__dict__ = state
        if getattr(self.value, "__traceback__", None):
            self.value.__traceback__ = None

    def getTracebackObject(self) -> Any:
        """The traceback, a stand-in rebuilt from frames, or None."""
        if self.tb is not None:
            return self.tb
        frames = self.frames
        if frames:
            return _Traceback(frames)
        return None

    def getErrorMessage(self) -> str:
        """The ``str`` of the wrapped exception."""
        if isinstance(self.value, Failure):
            return self.value.getErrorMessage()
        return _safeStr(self.value)

    def getBriefTraceback(self) -> str:
        """The traceback in brief form, as a string."""
        io = StringIO()
        self.printBriefTraceback(file=io)
        return io.getvalue()

    def getTraceback(self, elideFrameworkCode: int = 0, detail: str = "default") -> str:
        """The traceback as a string, formatted like Python's own."""
        io = StringIO()
        self.printTraceback(
            file=io, elideFrameworkCode=elideFrameworkCode, detail=detail
        )
        return io.getvalue()

    def printTraceback(
        self, file: Any = None, elideFrameworkCode: Any = False, detail: str = "default"
    ) -> None:
        """Write the traceback to ``file`` (default: standard error)."""
        if file is None:
            file = sys.stderr
        w = file.write
        frames = self.frames
        formatDetail = detail
        if detail == "verbose" and not self.captureVars:
            formatDetail = "verbose-vars-not-captured"
        if detail == "verbose":
            w(
                f"*--- Failure #{self.count:d}"
                f"{(self.pickled and ' (pickled) ') or ' '}---\n"
            )
        elif detail == "brief":
            head = "Traceback" if frames else "Traceback (failure with no frames)"
            w(f"{head}: {_safeStr(self.type)}: {_safeStr(self.value)}\n")
        else:
            w("Traceback (most recent call last):\n")
        if frames:
            format_frames(frames, w, formatDetail)
        elif detail != "brief":
            w("Failure: ")
        if detail != "brief":
            w(f"{_qual(self.type)}: {_safeStr(self.value)}\n")
        if isinstance(self.value, Failure):
            file.write(" (chained Failure)\n")
            self.value.printTraceback(file, elideFrameworkCode, detail)
        if detail == "verbose":
            w(f"*--- End of Failure #{self.count:d} ---\n")

    def printBriefTraceback(
        self, file: Any = None, elideFrameworkCode: int = 0
    ) -> None:
        """Write a one-line-per-frame traceback to ``file``."""
        self.printTraceback(file, elideFrameworkCode, detail="brief")

    def printDetailedTraceback(
        self, file: Any = None, elideFrameworkCode: int = 0
    ) -> None:
        """Write a traceback with captured locals and globals to ``file``."""
        self.printTraceback(file, elideFrameworkCode, detail="verbose")


_originalInit = Failure.__init__


def _debuginit(
    self: Failure,
    exc_value: object = None,
    exc_type: Any = None,
    exc_tb: TracebackType | None = None,
    captureVars: bool = False,
) -> None:
    """Failure initialiser used in debug mode: post-mortem the current exception."""
    if exc_value is None and exc_type is None and exc_tb is None:
        etype, evalue, etb = sys.exc_info()
        if etype is not type(self) and DO_POST_MORTEM:
            try:
                text = str(evalue)
            except BaseException:
                text = "broken str"
            print(f"Jumping into debugger for post-mortem of exception '{text}':")
            import pdb

            pdb.post_mortem(etb)
    _originalInit(self, exc_value, exc_type, exc_tb, captureVars)


def startDebugMode() -> None:
    """Make every new ``Failure()`` open pdb on the exception being handled."""
    Failure.__init__ = _debuginit  # type: ignore[method-assign]
