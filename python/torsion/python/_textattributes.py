"""Text with character attributes, as a tree, and its serialization.

Mirrors ``twisted.python._textattributes``.  An attribute object (bold, a
colour, "normal") collects children by indexing: ``bold["a", fg.red["b"]]``
appends to the attribute and returns it.  ``flatten`` walks the tree
depth-first with a formatting state: each attribute hands its children a
copy of the state with its own attribute set ("normal" clears the copy),
and before each piece of text the state's renderer method writes the
control codes for that state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from torsion.python.util import FancyEqMixin


class _Attribute(FancyEqMixin):
    """An attribute with children: strings and other attributes."""

    compareAttributes: ClassVar[Sequence[str]] = ("children",)

    def __init__(self) -> None:
        self.children: list[Any] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {vars(self)!r}>"

    def __getitem__(self, item: Any) -> _Attribute:
        """Add ``item`` (a string or attribute) as a child, or the
        elements of a list or tuple; return this attribute."""
        assert isinstance(item, (list, tuple, _Attribute, str))
        if isinstance(item, (list, tuple)):
            self.children += item
        else:
            self.children.append(item)
        return self

    def serialize(
        self,
        write: Callable[[str], Any],
        attrs: Any = None,
        attributeRenderer: str = "toVT102",
    ) -> None:
        """Write the children in order, in this attribute's state (see
        ``_childState``): an attribute child serializes itself with a copy
        of that state; a text child is written after what the state's
        ``attributeRenderer`` method returns."""
        state = self._childState(attrs)
        for child in self.children:
            if isinstance(child, _Attribute):
                child.serialize(write, state.copy(), attributeRenderer)
                continue
            write(getattr(state, attributeRenderer)())
            write(child)

    def _childState(self, attrs: Any) -> Any:
        """The state the children are written in: ``attrs``, or a
        ``DefaultFormattingState`` when there is none."""
        return DefaultFormattingState() if attrs is None else attrs


class _NormalAttr(_Attribute):
    """No attributes: the children start from a cleared state."""

    def _childState(self, attrs: Any) -> Any:
        attrs.__init__()
        return super()._childState(attrs)


class _OtherAttr(_Attribute):
    """A named attribute (bold, underline, ...) set to ``attrvalue``;
    ``-attr`` is the same attribute with the opposite value."""

    compareAttributes = ("attrname", "attrvalue", "children")

    def __init__(self, attrname: str, attrvalue: Any) -> None:
        super().__init__()
        self.attrname = attrname
        self.attrvalue = attrvalue

    def __neg__(self) -> _OtherAttr:
        opposite = _OtherAttr(self.attrname, not self.attrvalue)
        opposite.children += self.children
        return opposite

    def _childState(self, attrs: Any) -> Any:
        return attrs._withAttribute(self.attrname, self.attrvalue)


class _ColorAttr(_Attribute):
    """A colour: ``color`` for the state attribute named ``ground``."""

    compareAttributes = ("color", "ground", "children")

    def __init__(self, color: Any, ground: str) -> None:
        super().__init__()
        self.color = color
        self.ground = ground

    def _childState(self, attrs: Any) -> Any:
        return attrs._withAttribute(self.ground, self.color)


class _ForegroundColorAttr(_ColorAttr):
    """A foreground colour."""

    def __init__(self, color: Any) -> None:
        super().__init__(color, "foreground")


class _BackgroundColorAttr(_ColorAttr):
    """A background colour."""

    def __init__(self, color: Any) -> None:
        super().__init__(color, "background")


class _ColorAttribute:
    """Colours by name: ``fg.red`` is ``ground(attrs["red"])``, a new
    colour attribute on each access; an unknown name raises
    AttributeError."""

    def __init__(self, ground: Callable[[Any], _ColorAttr], attrs: Any) -> None:
        self.ground = ground
        self.attrs = attrs

    def __getattr__(self, name: str) -> _ColorAttr:
        try:
            value = self.attrs[name]
        except KeyError:
            raise AttributeError(name) from None
        return self.ground(value)


class CharacterAttributesMixin:
    """Attributes by name: ``normal``, or any name in the class's
    ``attrs``, each access a new attribute object."""

    attrs: Any

    def __getattr__(self, name: str) -> _Attribute:
        if name == "normal":
            return _NormalAttr()
        if name in self.attrs:
            return _OtherAttr(name, True)
        raise AttributeError(name)


class DefaultFormattingState(FancyEqMixin):
    """A state that renders nothing: flattening with it gives the text
    alone."""

    compareAttributes: ClassVar[Sequence[str]] = ("_dummy",)
    _dummy = 0

    def copy(self) -> Any:
        """A fresh state of the same class."""
        return type(self)()

    def _withAttribute(self, name: str, value: Any) -> Any:
        """A copy of this state with ``name`` set to ``value`` (this class
        keeps no attributes, so a plain copy)."""
        return self.copy()

    def toVT102(self) -> str:
        """The control codes for this state: none."""
        return ""


class _FormattingStateMixin(DefaultFormattingState):
    """A state whose attributes are instance variables, copied along."""

    def copy(self) -> Any:
        duplicate = DefaultFormattingState.copy(self)
        duplicate.__dict__.update(vars(self))
        return duplicate

    def _withAttribute(self, name: str, value: Any) -> Any:
        duplicate = self.copy()
        if getattr(self, name) != value:
            duplicate._subtracting = not value
            setattr(duplicate, name, value)
        return duplicate


def flatten(output: Any, attrs: Any, attributeRenderer: str = "toVT102") -> str:
    """The text of the attribute tree ``output`` with the control codes
    that ``attrs``'s ``attributeRenderer`` method gives before each piece
    of text."""
    pieces: list[str] = []
    output.serialize(pieces.append, attrs, attributeRenderer)
    return "".join(pieces)


__all__ = ["CharacterAttributesMixin", "DefaultFormattingState", "flatten"]
