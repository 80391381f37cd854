"""Small helpers from ``twisted.python.util`` that torsion's modules use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar


class FancyEqMixin:
    """Equality by the attributes named in ``compareAttributes``.

    Two objects are equal when one is an instance of the other's class and
    every named attribute compares equal; with no names, only an object is
    equal to itself.  Against an unrelated class the comparison is left to
    the other operand (``NotImplemented``).
    """

    compareAttributes: ClassVar[Sequence[str]] = ()

    def __eq__(self, other: object) -> bool:
        names = self.compareAttributes
        if not names:
            return self is other
        if not isinstance(self, other.__class__):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in names)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        if equal is NotImplemented:
            return NotImplemented
        return not equal
