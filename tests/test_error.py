"""torsion.internet.error against twisted.internet.error: names, hierarchy, messages."""

from __future__ import annotations

import errno
import inspect
import pickle
import socket

import pytest
import torsion.internet.error as error
import twisted.internet.error as terror


def _exceptionClasses(module):
    return {
        name: obj
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == module.__name__
    }


TWISTED = _exceptionClasses(terror)
OURS = _exceptionClasses(error)

# Constructor arguments for classes whose __init__ needs them.
ARGS = {
    "CannotListenError": [("127.0.0.1", 80, OSError(98, "Address already in use"))],
    "ProcessDone": [(0,)],
    "ProcessTerminated": [(), (1,), (None, 9), (2, 15, 512)],
    "ConnectingCancelledError": [("addr",)],
    "InvalidAddressError": [("1.2.3", "not an address")],
}
GENERIC_ARGS = [(), ("one",), ("one", "two")]
CONNECT_ARGS = [(), (None, "text"), (111, "refused"), (0, ""), (None, "")]


def _cases():
    for name, cls in sorted(TWISTED.items()):
        if name in ARGS:
            argSets = ARGS[name]
        elif issubclass(cls, terror.ConnectError):
            argSets = CONNECT_ARGS
        else:
            argSets = GENERIC_ARGS
        for args in argSets:
            yield name, args


def test_same_class_names():
    """Every exception class of twisted.internet.error exists in torsion's."""
    assert set(TWISTED) == set(OURS)


@pytest.mark.parametrize("name", sorted(TWISTED))
def test_same_bases(name):
    """Each class has the same base classes (by name) as Twisted's."""
    ours = [b.__name__ for b in OURS[name].__mro__]
    theirs = [b.__name__ for b in TWISTED[name].__mro__]
    assert ours == theirs


# Twisted's ProcessTerminated.MESSAGE is its whole docstring; only its first
# line is ever shown (and str() is compared below), so torsion keeps just that.
@pytest.mark.parametrize(
    "name",
    sorted(
        n
        for n in TWISTED
        if hasattr(TWISTED[n], "MESSAGE") and n != "ProcessTerminated"
    ),
)
def test_same_message_attribute(name):
    """MESSAGE class attributes are identical."""
    assert OURS[name].MESSAGE == TWISTED[name].MESSAGE


def test_process_terminated_message_first_line():
    """ProcessTerminated.MESSAGE is the first line of Twisted's."""
    first = TWISTED["ProcessTerminated"].MESSAGE.strip().splitlines()[0]
    assert error.ProcessTerminated.MESSAGE == first


@pytest.mark.parametrize(("name", "args"), list(_cases()))
def test_same_str_and_args(name, args):
    """str() and .args agree with Twisted's for the same constructor arguments."""
    theirs = TWISTED[name](*args)
    ours = OURS[name](*args)
    assert str(ours) == str(theirs)
    assert ours.args == theirs.args
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("name", ["ConnectionLost", "ConnectionDone", "BindError"])
def test_nonstring_args_fail_like_twisted(name):
    """Twisted joins args with spaces, so a non-str argument makes str() raise TypeError."""
    with pytest.raises(TypeError):
        str(TWISTED[name](1))
    with pytest.raises(TypeError):
        str(OURS[name](1))


def test_known_messages():
    """Spot-check the exact text users see."""
    assert str(error.ConnectionDone()) == "Connection was closed cleanly."
    assert (
        str(error.ConnectionLost())
        == "Connection to the other side was lost in a non-clean fashion."
    )
    assert (
        str(error.ConnectionLost("reset"))
        == "Connection to the other side was lost in a non-clean fashion: reset."
    )
    assert (
        str(error.ConnectionAborted())
        == "Connection was aborted locally using ITCPTransport.abortConnection."
    )
    assert (
        str(error.ConnectionRefusedError(111, "Connection refused"))
        == "Connection was refused by other side: 111: Connection refused."
    )
    assert str(error.TimeoutError()) == "User timeout caused connection failure."
    assert (
        str(error.CannotListenError(None, 80, "denied"))
        == "Couldn't listen on any:80: denied."
    )
    assert (
        str(error.ProcessTerminated(1, None, 256))
        == "A process has ended with a probable error condition: "
        "process ended with exit code 1."
    )


def test_attributes():
    """Constructor arguments are kept as the attributes Twisted documents."""
    e = error.CannotListenError("::1", 8080, "err")
    assert (e.interface, e.port, e.socketError) == ("::1", 8080, "err")
    c = error.ConnectError(5, "five")
    assert (c.osError, c.args) == (5, ("five",))
    d = error.ProcessDone(0)
    assert (d.exitCode, d.signal, d.status) == (0, None, 0)
    t = error.ProcessTerminated(None, 9, 9)
    assert (t.exitCode, t.signal, t.status) == (None, 9, 9)
    a = error.ConnectingCancelledError("dest")
    assert a.address == "dest"
    i = error.InvalidAddressError("x", "msg")
    assert (i.address, i.message) == ("x", "msg")


def test_hierarchy_catches():
    """The catch clauses users write work: ConnectionAborted is a ConnectionLost, etc."""
    assert issubclass(error.ConnectionAborted, error.ConnectionLost)
    assert issubclass(error.ConnectionLost, error.ConnectionClosed)
    assert issubclass(error.ConnectionDone, error.ConnectionClosed)
    assert issubclass(error.TimeoutError, error.UserError)
    assert issubclass(error.ConnectionRefusedError, error.ConnectError)
    assert issubclass(error.DNSLookupError, OSError)
    assert issubclass(error.AlreadyCalled, ValueError)
    assert issubclass(error.ReactorNotRunning, RuntimeError)
    assert issubclass(error.ReactorAlreadyInstalledError, AssertionError)
    assert not issubclass(error.ConnectionDone, error.ConnectionLost)


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.ECONNREFUSED, "Connection refused"),
        OSError(errno.ENETUNREACH, "Network is unreachable"),
        OSError(errno.ETIMEDOUT, "Connection timed out"),
        OSError(errno.EACCES, "Permission denied"),
        socket.gaierror(-2, "Name or service not known"),
        OSError("just one"),
        OSError(1, 2, 3),
    ],
)
def test_getConnectError_matches_twisted(exc):
    """getConnectError picks the same class and builds the same message."""
    theirs = terror.getConnectError(exc)
    ours = error.getConnectError(exc)
    assert type(ours).__name__ == type(theirs).__name__
    assert str(ours) == str(theirs)
    assert ours.osError == theirs.osError


def test_getConnectError_tuple():
    """A plain (errno, text) tuple is accepted too."""
    e = error.getConnectError((errno.ECONNREFUSED, "refused"))
    assert type(e) is error.ConnectionRefusedError
    assert str(e) == "Connection was refused by other side: 111: refused."


def test_errnoMapping():
    """The errno table has Twisted's entries."""
    assert error.errnoMapping[errno.ECONNREFUSED] is error.ConnectionRefusedError
    assert error.errnoMapping[errno.ENETUNREACH] is error.NoRouteError
    assert error.errnoMapping[errno.ETIMEDOUT] is error.TCPTimedOutError


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("ConnectionDone", ()),
        ("ConnectionLost", ("x",)),
        ("ConnectionRefusedError", (111, "refused")),
        ("DNSLookupError", ("host",)),
    ],
)
def test_pickle_roundtrip(name, args):
    """Pickling round-trips to the same class and the same str() as Twisted's does.

    (For ConnectError Twisted's round trip loses the text; torsion matches.)
    """
    ours = pickle.loads(pickle.dumps(OURS[name](*args)))
    theirs = pickle.loads(pickle.dumps(TWISTED[name](*args)))
    assert type(ours) is OURS[name]
    assert str(ours) == str(theirs)
    assert ours.args == theirs.args
