"""mIRC text formatting: bold, underline, reverse video and colours.

``attributes`` builds formatted text as a tree (``attributes.bold["hi"]``,
``attributes.fg.red[attributes.bg.blue["hi"]]``);
``assembleFormattedText`` turns a tree into text with mIRC control codes,
``parseFormattedText`` turns such text back into a tree and
``stripFormatting`` keeps only the text.  The results are Twisted's,
including how its parser shapes the tree: the first run of text becomes
the container of all later runs, a colour code read once is shared by
every later run it applies to, digits left in an unfinished colour code
at the end of the text are kept as text, and a comma after a foreground
colour is dropped when no background digit follows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torsion.python import _textattributes
from torsion.words.protocols._ircmessage import _CommandDispatcherMixin

_OFF = "\x0f"
_BOLD = "\x02"
_COLOR = "\x03"
_REVERSE_VIDEO = "\x16"
_UNDERLINE = "\x1f"

_IRC_COLORS = {
    name: number
    for number, name in enumerate(
        (
            "white",
            "black",
            "blue",
            "green",
            "lightRed",
            "red",
            "magenta",
            "orange",
            "yellow",
            "lightGreen",
            "cyan",
            "lightCyan",
            "lightBlue",
            "lightMagenta",
            "gray",
            "lightGray",
        )
    )
}
_IRC_COLOR_NAMES = {number: name for name, number in _IRC_COLORS.items()}


class _CharacterAttributes(_textattributes.CharacterAttributesMixin):
    """The attributes by name: ``normal``, ``bold``, ``underline``,
    ``reverseVideo``, and the colours as ``fg.<name>`` and ``bg.<name>``
    (``white``, ``black``, ``blue``, ..., ``lightGray``: mIRC's 0 to 15)."""

    fg = _textattributes._ColorAttribute(
        _textattributes._ForegroundColorAttr, _IRC_COLORS
    )
    bg = _textattributes._ColorAttribute(
        _textattributes._BackgroundColorAttr, _IRC_COLORS
    )
    attrs = {"bold": _BOLD, "reverseVideo": _REVERSE_VIDEO, "underline": _UNDERLINE}


attributes = _CharacterAttributes()


class _FormattingState(_textattributes._FormattingStateMixin):
    """The formatting of one character; renders as mIRC control codes."""

    compareAttributes = (
        "off",
        "bold",
        "underline",
        "reverseVideo",
        "foreground",
        "background",
    )

    def __init__(
        self,
        off: bool = False,
        bold: bool = False,
        underline: bool = False,
        reverseVideo: bool = False,
        foreground: int | None = None,
        background: int | None = None,
    ) -> None:
        self.off = off
        self.bold = bold
        self.underline = underline
        self.reverseVideo = reverseVideo
        self.foreground = foreground
        self.background = background

    def toMIRCControlCodes(self) -> str:
        """The codes that set this state from nothing: always ``off``
        first, then bold, underline, reverse video and the colour
        (``\\x03FF``, ``\\x03FF,BB`` or ``\\x03,BB``, two digits each)."""
        codes = [_OFF]
        for flag, code in (
            (self.bold, _BOLD),
            (self.underline, _UNDERLINE),
            (self.reverseVideo, _REVERSE_VIDEO),
        ):
            if flag:
                codes.append(code)
        if self.foreground is not None or self.background is not None:
            codes.append(_COLOR)
            # %02d as mIRC wants, truncating a float as Twisted does.
            if self.foreground is not None:
                codes.append("%02d" % (self.foreground,))  # noqa: UP031
            if self.background is not None:
                codes.append(",%02d" % (self.background,))  # noqa: UP031
        return "".join(codes)


def _foldr(f: Callable[[Any, Any], Any], z: Any, xs: Sequence[Any]) -> Any:
    """``f(xs[0], f(xs[1], ... f(xs[-1], z)))``: a fold from the right."""
    result = z
    for x in reversed(xs):
        result = f(x, result)
    return result


class _FormattingParser(_CommandDispatcherMixin):
    """Reads formatted text a character at a time (``process``) in one of
    three states: ``TEXT``, ``COLOR_FOREGROUND`` and ``COLOR_BACKGROUND``
    (up to two digits each); ``complete`` returns the tree."""

    prefix = "state"

    _formatCodes = {
        _OFF: "off",
        _BOLD: "bold",
        _COLOR: "color",
        _REVERSE_VIDEO: "reverseVideo",
        _UNDERLINE: "underline",
    }

    def __init__(self) -> None:
        self.state = "TEXT"
        self._buffer = ""
        # A set, as in Twisted: the nesting of attributes follows its order.
        self._attrs: set[str] = set()
        self._result: Any = None
        self.foreground: Any = None
        self.background: Any = None

    def process(self, ch: str) -> None:
        """Read one character."""
        self.dispatch(self.state, ch)

    def complete(self) -> Any:
        """The tree of everything read (``normal`` when there was no
        text), after adding the text read since the last code."""
        self.emit()
        if self._result is None:
            self._result = attributes.normal
        return self._result

    def emit(self) -> None:
        """Add the pending text, inside its attributes, to the tree: it
        becomes the tree if it is the first, a child of the tree after."""
        if not self._buffer:
            return
        wrappers = [getattr(attributes, name) for name in self._attrs]
        wrappers += [c for c in (self.foreground, self.background) if c]
        if not wrappers:
            wrappers.append(attributes.normal)
        node = _foldr(lambda wrapper, inner: wrapper[inner], self._buffer, wrappers)
        if self._result is None:
            self._result = node
        else:
            self._result[node]
        self._buffer = ""

    def state_TEXT(self, ch: str) -> None:
        """Text, or a code: off, bold, underline, reverse video toggle at
        once; a colour code starts its digits."""
        name = self._formatCodes.get(ch)
        if name is None:
            self._buffer += ch
            return
        self.emit()
        if name == "color":
            self.state = "COLOR_FOREGROUND"
        elif name == "off":
            self._attrs = set()
            self.foreground = self.background = None
        else:
            self._attrs.symmetric_difference_update([name])

    def _color(self, ground: Any) -> Any:
        """The colour of the digits read, wrapped around mIRC's 16."""
        return ground(int(self._buffer) % len(_IRC_COLORS))

    def state_COLOR_FOREGROUND(self, ch: str) -> None:
        """Foreground digits; no digits clears both colours.  A comma after
        digits starts the background, anything else is text."""
        if ch.isdigit() and len(self._buffer) < 2:
            self._buffer += ch
            return
        if self._buffer:
            self.foreground = self._color(_textattributes._ForegroundColorAttr)
        else:
            self.foreground = self.background = None
        wasColor = bool(self._buffer)
        self._buffer = ""
        if ch == "," and wasColor:
            self.state = "COLOR_BACKGROUND"
            return
        self.state = "TEXT"
        self.process(ch)

    def state_COLOR_BACKGROUND(self, ch: str) -> None:
        """Background digits; whatever follows them is text."""
        if ch.isdigit() and len(self._buffer) < 2:
            self._buffer += ch
            return
        if self._buffer:
            self.background = self._color(_textattributes._BackgroundColorAttr)
            self._buffer = ""
        self.state = "TEXT"
        self.process(ch)


def parseFormattedText(text: str) -> Any:
    """The attribute tree of ``text`` with mIRC codes; colour numbers wrap
    around 16."""
    parser = _FormattingParser()
    for ch in text:
        parser.process(ch)
    return parser.complete()


def assembleFormattedText(formatted: Any) -> str:
    """Text with mIRC codes for the tree ``formatted``; every run of text
    starts with ``off`` and the codes of all its attributes."""
    return _textattributes.flatten(formatted, _FormattingState(), "toMIRCControlCodes")


def stripFormatting(text: str) -> str:
    """``text`` without its mIRC formatting codes."""
    tree = parseFormattedText(text)
    return _textattributes.flatten(tree, _textattributes.DefaultFormattingState())
