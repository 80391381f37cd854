"""torsion.internet.interfaces declares what twisted.internet.interfaces declares."""

from __future__ import annotations

import pytest
import twisted.internet.interfaces as tinterfaces
from torsion.internet import interfaces
from zope.interface import Interface, implementer
from zope.interface.exceptions import BrokenImplementation
from zope.interface.interface import InterfaceClass, Method
from zope.interface.verify import verifyClass, verifyObject


def _declared(module):
    result = {}
    for name, obj in vars(module).items():
        if isinstance(obj, InterfaceClass) and obj.__module__ == module.__name__:
            result[name] = obj
    return result


TWISTED = _declared(tinterfaces)
OURS = _declared(interfaces)


def _describe(iface):
    members = {}
    for name in iface.names():
        member = iface[name]
        if isinstance(member, Method):
            members[name] = ("method", member.getSignatureString())
        else:
            members[name] = ("attribute", None)
    return members


def test_same_interface_names():
    """Every interface Twisted declares is declared, and no others."""
    assert sorted(OURS) == sorted(TWISTED)


@pytest.mark.parametrize("name", sorted(TWISTED))
def test_same_bases(name):
    """Each interface extends the same interfaces (by name)."""
    assert [b.__name__ for b in OURS[name].__bases__] == [
        b.__name__ for b in TWISTED[name].__bases__
    ]


@pytest.mark.parametrize("name", sorted(TWISTED))
def test_same_members_and_signatures(name):
    """Each interface has the same attributes and method signatures."""
    assert _describe(OURS[name]) == _describe(TWISTED[name])


@pytest.mark.parametrize("name", sorted(OURS))
def test_documented(name):
    """Every interface has a docstring."""
    assert OURS[name].__doc__


def test_inheritance_is_real():
    """Extending interfaces are really extensions (so providedBy works up the chain)."""
    assert interfaces.ITCPTransport.extends(interfaces.ITransport)
    assert interfaces.IReactorThreads.extends(interfaces.IReactorFromThreads)
    assert interfaces.IReadWriteDescriptor.extends(interfaces.IFileDescriptor)
    assert interfaces.IFileDescriptor.extends(interfaces.ILoggingContext)
    assert interfaces.IPushProducer.extends(interfaces.IProducer)
    assert not interfaces.IPullProducer.extends(interfaces.IPushProducer)


def test_verify_rejects_incomplete_provider():
    """verifyObject uses the declared methods: a provider missing one is rejected."""

    @implementer(interfaces.IPushProducer)
    class Half:
        def pauseProducing(self):
            pass

        def stopProducing(self):
            pass

    with pytest.raises(BrokenImplementation):
        verifyObject(interfaces.IPushProducer, Half())

    @implementer(interfaces.IPushProducer)
    class Whole(Half):
        def resumeProducing(self):
            pass

    assert verifyObject(interfaces.IPushProducer, Whole())
    assert verifyClass(interfaces.IProducer, Whole)


def test_plain_interfaces():
    """Interfaces are zope.interface interfaces."""
    for iface in OURS.values():
        assert iface.isOrExtends(Interface)
