"""Tests for torsion.python.failure.Failure."""

from __future__ import annotations

import pickle
import sys
import traceback
from io import StringIO

import pytest
from torsion.python import failure
from torsion.python.failure import Failure, NoCurrentExceptionError


class MyError(ValueError):
    """A local exception class for check/trap tests."""


def _raise(exc: BaseException) -> None:
    raise exc


def _caught(exc: BaseException) -> Failure:
    try:
        _raise(exc)
    except BaseException:
        return Failure()
    raise AssertionError("unreachable")


def test_wraps_current_exception():
    """Failure() wraps the exception being handled, with its traceback."""
    err = KeyError("k")
    f = _caught(err)
    assert f.type is KeyError
    assert f.value is err
    assert f.tb is err.__traceback__
    assert f.getTracebackObject() is f.tb


def test_no_current_exception():
    """Failure() outside an except block raises NoCurrentExceptionError."""
    with pytest.raises(NoCurrentExceptionError):
        Failure()


def test_given_exception_takes_its_traceback():
    """Failure(exc) uses exc.__traceback__ when exc_tb is not given."""
    try:
        _raise(ValueError("v"))
    except ValueError as e:
        exc = e
    f = Failure(exc)
    assert f.type is ValueError
    assert f.tb is exc.__traceback__
    assert [fr[0] for fr in f.frames] == [
        "test_given_exception_takes_its_traceback",
        "_raise",
    ]


def test_given_exception_without_traceback_has_no_frames():
    """An exception never raised gives a Failure with tb None and no frames."""
    f = Failure(ValueError("x"))
    assert f.tb is None
    assert f.frames == []
    assert f.getTracebackObject() is None


def test_explicit_type_and_traceback():
    """exc_type and exc_tb override what is derived from the value."""
    try:
        _raise(RuntimeError("r"))
    except RuntimeError:
        tb = sys.exc_info()[2]
    f = Failure(ValueError("v"), KeyError, tb)
    assert f.type is KeyError
    assert f.tb is tb


def test_failure_of_failure_copies():
    """Failure(otherFailure) copies the other's state."""
    inner = _caught(ValueError("v"))
    outer = Failure(inner)
    assert outer.value is inner.value
    assert outer.type is ValueError
    assert outer.tb is inner.tb
    assert outer.count == inner.count


def test_count_increases():
    """Each Failure gets the next number."""
    a = Failure(ValueError())
    b = Failure(ValueError())
    assert b.count == a.count + 1
    assert failure.count == b.count


def test_check_matches_class_and_name():
    """check() returns the first matching class or qualified name, else None."""
    f = Failure(MyError("m"))
    assert f.check(KeyError) is None
    assert f.check(KeyError, ValueError) is ValueError
    assert f.check(MyError) is MyError
    assert f.check(Exception) is Exception
    assert f.check("builtins.ValueError") == "builtins.ValueError"
    assert f.check("builtins.KeyError") is None
    assert f.parents[0] == f"{__name__}.MyError"
    assert f.parents[-1] == "builtins.object"


def test_check_base_exception_quirks():
    """As in Twisted: non-Exception classes match only by identity of type."""
    assert Failure(ValueError()).check(BaseException) is None
    f = Failure(KeyboardInterrupt())
    assert f.check(KeyboardInterrupt) is KeyboardInterrupt
    assert f.check(BaseException) is None
    assert f.parents == [KeyboardInterrupt]


def test_trap_returns_match():
    """trap() returns the matching type."""
    f = Failure(MyError("m"))
    assert f.trap(KeyError, MyError) is MyError


def test_trap_reraises_original_exception():
    """trap() with no match raises the original exception (not the Failure)."""
    err = MyError("m")
    f = _caught(err)
    with pytest.raises(MyError) as info:
        f.trap(KeyError)
    assert info.value is err


def test_raise_exception_keeps_traceback():
    """raiseException() raises the value with the original traceback."""
    f = _caught(ValueError("v"))
    with pytest.raises(ValueError) as info:
        f.raiseException()
    names = [entry.name for entry in info.traceback]
    assert "_raise" in names


def test_get_error_message():
    """getErrorMessage() is str(value); chained Failures are unwrapped."""
    assert Failure(ValueError("boom")).getErrorMessage() == "boom"
    inner = Failure(KeyError("k"))
    assert Failure(inner, Failure).getErrorMessage() == "'k'"
    assert Failure(ValueError(b"bytes")).getErrorMessage() == "b'bytes'"


def test_get_error_message_broken_str():
    """A broken __str__ does not make getErrorMessage() raise."""

    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str")

    message = Failure(Broken()).getErrorMessage()
    assert message.startswith("<Broken instance at 0x")
    assert "with str error:" in message


def test_repr_and_str():
    """repr and str follow Twisted's formats."""
    f = Failure(ValueError("v"))
    assert repr(f) == "<torsion.python.failure.Failure builtins.ValueError: v>"
    assert str(f) == (
        "[Failure instance: Traceback (failure with no frames): "
        "<class 'ValueError'>: v\n]"
    )


def test_get_traceback_no_frames():
    """Without frames the traceback says 'Failure:' before the exception."""
    f = Failure(ValueError("v"))
    assert f.getTraceback() == (
        "Traceback (most recent call last):\nFailure: builtins.ValueError: v\n"
    )


def test_get_traceback_with_frames():
    """With frames the default format matches Python's traceback lines."""
    f = _caught(ValueError("v"))
    line_caught = _caught.__code__.co_firstlineno + 2
    line_raise = _raise.__code__.co_firstlineno + 1
    assert f.getTraceback() == (
        "Traceback (most recent call last):\n"
        f'  File "{__file__}", line {line_caught}, in _caught\n'
        "    _raise(exc)\n"
        f'  File "{__file__}", line {line_raise}, in _raise\n'
        "    raise exc\n"
        "builtins.ValueError: v\n"
    )


def test_brief_and_verbose_traceback():
    """Brief and verbose details use Twisted's layouts."""
    f = _caught(ValueError("v"))
    line_caught = _caught.__code__.co_firstlineno + 2
    line_raise = _raise.__code__.co_firstlineno + 1
    assert f.getBriefTraceback() == (
        "Traceback: <class 'ValueError'>: v\n"
        f"{__file__}:{line_caught}:_caught\n"
        f"{__file__}:{line_raise}:_raise\n"
    )
    assert f.getTraceback(detail="verbose") == (
        f"*--- Failure #{f.count} ---\n"
        f"{__file__}:{line_caught}: _caught(...)\n"
        f"{__file__}:{line_raise}: _raise(...)\n"
        " [Capture of Locals and Globals disabled (use captureVars=True)]\n"
        "builtins.ValueError: v\n"
        f"*--- End of Failure #{f.count} ---\n"
    )


def test_bad_detail():
    """An unknown detail level raises ValueError."""
    f = _caught(ValueError("v"))
    with pytest.raises(ValueError, match="Detail must be default"):
        f.getTraceback(detail="nope")


def test_capture_vars():
    """captureVars=True records locals of each frame."""

    def boom(marker):
        raise ValueError(marker)

    try:
        boom("here")
    except ValueError:
        f = Failure(captureVars=True)
    last = f.frames[-1]
    assert last[0] == "boom"
    assert ("marker", "here") in last[3]
    text = f.getTraceback(detail="verbose")
    assert "  marker : 'here'\n" in text
    assert " [ Locals ]\n" in text


def test_print_traceback_to_file():
    """printTraceback writes the same text as getTraceback."""
    f = _caught(ValueError("v"))
    io = StringIO()
    f.printTraceback(io)
    assert io.getvalue() == f.getTraceback()
    io = StringIO()
    f.printBriefTraceback(io)
    assert io.getvalue() == f.getBriefTraceback()
    io = StringIO()
    f.printDetailedTraceback(io)
    assert io.getvalue() == f.getTraceback(detail="verbose")


def test_frames_are_lazy():
    """Frames are not extracted until asked for."""
    f = _caught(ValueError("v"))
    assert "_frames" not in f.__dict__
    frames = f.frames
    assert f.__dict__["_frames"] is frames
    assert [fr[0] for fr in frames] == ["_caught", "_raise"]
    assert frames[0][3:] == ((), ())


def test_clean_failure_drops_traceback_keeps_text():
    """cleanFailure() drops tb objects but the traceback text survives."""
    f = _caught(ValueError("v"))
    before = f.getTraceback()
    f.cleanFailure()
    assert f.tb is None
    assert f.value.__traceback__ is None
    assert f.getTraceback() == before
    fake = f.getTracebackObject()
    assert fake is not None
    assert [e.name for e in traceback.extract_tb(fake)] == ["_caught", "_raise"]


def test_pickle_roundtrip():
    """A pickled Failure keeps type, value, frames and is marked pickled."""
    f = _caught(ValueError("v"))
    copy = pickle.loads(pickle.dumps(f))
    assert copy.type is ValueError
    assert copy.value.args == ("v",)
    assert copy.tb is None
    assert copy.pickled == 1
    assert copy.frames == f.frames
    assert copy.getErrorMessage() == "v"
    assert copy.check(ValueError) is ValueError


def test_throw_into_generator():
    """throwExceptionIntoGenerator throws the value at the yield."""
    seen = []

    def gen():
        try:
            yield 1
        except ValueError as e:
            seen.append(e)
            yield 2

    g = gen()
    next(g)
    err = ValueError("x")
    assert Failure(err).throwExceptionIntoGenerator(g) == 2
    assert seen == [err]


def test_failure_is_base_exception():
    """Failure subclasses BaseException like Twisted's."""
    assert issubclass(Failure, BaseException)
    assert not issubclass(Failure, Exception)


def test_without_traceback_fast_constructor():
    """_withoutTraceback builds an equivalent Failure."""
    err = KeyError("k")
    f = Failure._withoutTraceback(err)
    assert (f.type, f.value, f.tb, f.captureVars) == (KeyError, err, None, False)
    assert f.check(LookupError) is LookupError


def test_arbitrary_object_value():
    """Non-exception values are allowed, as in Twisted."""
    f = Failure("text")
    assert f.type is str
    assert f.getErrorMessage() == "text"
    assert f.parents == [str]


def test_stack_is_deprecated_and_empty():
    """The stack attribute is deprecated and empty."""
    f = Failure(ValueError())
    with pytest.warns(DeprecationWarning):
        assert f.stack == []
