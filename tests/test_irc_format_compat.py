"""mIRC formatting (``attributes``, ``assembleFormattedText``,
``parseFormattedText``, ``stripFormatting``) against Twisted's on the same
inputs: the same assembled text, the same parse trees (compared by their
repr, which names each attribute class and its fields) and the same
errors, on fixed corner cases and on hypothesis-generated text and trees."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_irc_parse_compat import outcome
from torsion.words.protocols import irc as x_irc
from twisted.words.protocols import irc as t_irc

MODULES = (x_irc, t_irc)


def steady(call: Any) -> Any:
    """``outcome(call)``, without the message of a RecursionError (which
    depends on where the stack ran out)."""
    result = outcome(call)
    return result[:2] if result[1:2] == ("RecursionError",) else result


def parsed(module: Any, text: Any) -> Any:
    """What each formatting function makes of ``text`` in ``module``: the
    parse tree's repr, the tree assembled again, and the stripped text
    (each a result or the error raised)."""
    return (
        steady(lambda: repr(module.parseFormattedText(text))),
        steady(lambda: module.assembleFormattedText(module.parseFormattedText(text))),
        steady(lambda: module.stripFormatting(text)),
    )


def assertParsesAlike(text: Any) -> None:
    """torsion and Twisted agree on everything about ``text``."""
    assert parsed(x_irc, text) == parsed(t_irc, text), text


CASES = [
    "",
    "hello",
    "\x0301yay\x03",
    "\x0301,02yay\x03",
    "\x0301yay\x0302yipee\x03",
    "\x031kinda valid",
    "\x03999,999kinda valid",
    "\x031,2kinda valid",
    "\x031,999kinda valid",
    "\x031,242 is a special number",
    "\x03,02oops\x03",
    "\x03wrong",
    "\x031,hello",
    "\x03\x03",
    "\x0301yay\x03reset",
    "\x0301,02yay\x0freset",
    "\x02\x1fyay\x0freset",
    "\x02a\x1fb\x16c\x0fd",
    "\x02bold\x02 plain \x02bold again",
    "\x0312",
    "\x0312,",
    "\x0312,3",
    "\x0312,34",
    "\x03,",
    "\x0399text",
    "\x0316red? no, white",
    "\x03\u0663\u0664arabic digits",
    "\x03\u00b2",
    "\x03\u00b2x",
    "\x031,\u00b2x",
    "\x0f\x0f\x0f",
    "\x02\x02\x02",
    "\x16\x1f\x02\x1f\x16",
    "\x0301a\x0302b",
    "\x0301a\x02b",
    "plain \x1funder\x1f plain",
    b"bytes",
    ["a", "\x02", "b"],
]


@pytest.mark.parametrize("text", CASES, ids=repr)
def test_parse_cases(text):
    """Twisted's documented cases and its quirks: colour codes of one to
    three digits, a dropped comma, digits left at the end kept as text,
    a reused colour attribute making a tree that cannot be assembled
    (RecursionError), digits ``int`` refuses (ValueError), bytes."""
    assertParsesAlike(text)


def test_parse_exact():
    """Results spelled out."""
    A = x_irc.attributes
    assert x_irc.parseFormattedText("hello") == A.normal["hello"]
    assert x_irc.parseFormattedText("\x0301,02yay\x03") == A.fg.black[A.bg.blue["yay"]]
    assert (
        x_irc.parseFormattedText("\x0301yay\x0302yipee\x03")
        == (A.fg.black["yay", A.fg.blue["yipee"]])
    )
    assert x_irc.parseFormattedText("") == A.normal
    assert x_irc.stripFormatting("\x0312,x\x0fy\x0345") == "xy45"
    assert x_irc.stripFormatting("\x02a\x1fb\x02\x1fc") == "abc"
    tree = x_irc.parseFormattedText("\x0301a\x02b")
    assert tree.children[:2] == ["a", "b"]
    assert tree.children[2].children[0] is tree
    with pytest.raises(RecursionError):
        x_irc.assembleFormattedText(tree)
    with pytest.raises(RecursionError):
        x_irc.stripFormatting("\x0301a\x02b")
    with pytest.raises(ValueError, match="invalid literal"):
        x_irc.parseFormattedText("\x03\u00b2x")


def test_assemble_exact():
    """Assembled text spelled out: ``off`` before every run of text."""
    A = x_irc.attributes
    assemble = x_irc.assembleFormattedText
    assert assemble(A.normal) == ""
    assert assemble(A.bold[""]) == "\x0f\x02"
    assert assemble(A.bg.blue["hello"]) == "\x0f\x03,02hello"
    assert assemble(A.fg.red[A.bg.blue["hello"]]) == "\x0f\x0305,02hello"
    assert (
        assemble(A.bold["hello", A.underline[" world"]])
        == "\x0f\x02hello\x0f\x02\x1f world"
    )
    assert (
        assemble(A.normal[A.fg.red[A.bg.green["hi"], " x"], A.reverseVideo[" y"]])
        == "\x0f\x0305,03hi\x0f\x0305 x\x0f\x16 y"
    )
    assert assemble(A.bold[-A.bold["not bold"]]) == "\x0fnot bold"
    assert assemble(A.underline[A.normal["reset"]]) == "\x0freset"


def test_attribute_objects():
    """Each access builds a new attribute; indexing appends and returns the
    same object; equality compares fields and children; unknown names
    raise AttributeError; an item of another type fails the assertion."""
    A = x_irc.attributes
    assert A.bold is not A.bold
    bold = A.bold
    assert bold["a"] is bold
    assert bold[("b", "c")][["d"]].children == ["a", "b", "c", "d"]
    assert A.fg.red["x"] == A.fg.red["x"]
    assert A.fg.red["x"] != A.bg.red["x"]
    assert A.bold["x"] != A.underline["x"]
    assert (-A.bold["x"]).attrvalue is False
    assert A.fg.ground is not None and A.fg.attrs["lightGray"] == 15
    for lookup in (lambda: A.italic, lambda: A.fg.purple, lambda: A.bg.normal):
        assert outcome(lookup)[:2] == ("raised", "AttributeError")
    with pytest.raises(AssertionError):
        A.bold[3]
    assert repr(A.fg.red["x"]) == (
        "<_ForegroundColorAttr {'children': ['x'], 'color': 5, 'ground': 'foreground'}>"
    )


def test_formatting_state():
    """``_FormattingState`` equality and codes, as Twisted's tests state."""
    state = x_irc._FormattingState
    assert state() == state(off=False)
    assert state(bold=True) != state(bold=False)
    assert state(bold=True, foreground=2) == state(bold=True, foreground=2)
    assert state().toMIRCControlCodes() == "\x0f"
    assert (
        state(True, True, True, True, 1, 12).toMIRCControlCodes()
        == "\x0f\x02\x1f\x16\x0301,12"
    )
    assert x_irc._foldr(lambda x, acc: x - acc, 0, [1, 2, 3, 4]) == -2


def test_names_match():
    """The colour table and control codes are Twisted's."""
    assert x_irc._IRC_COLORS == t_irc._IRC_COLORS
    assert x_irc._IRC_COLOR_NAMES == t_irc._IRC_COLOR_NAMES
    for name in ("_OFF", "_BOLD", "_COLOR", "_REVERSE_VIDEO", "_UNDERLINE"):
        assert getattr(x_irc, name) == getattr(t_irc, name)


FORMATTING = st.text(
    alphabet=st.sampled_from(
        list("\x02\x03\x0f\x16\x1f0123456789,,ab ") + ["\u00b2", "\u0663", "\u00e9"]
    ),
    max_size=40,
)


@settings(max_examples=400, deadline=None)
@given(FORMATTING)
def test_parse_random(text):
    """Random text made mostly of codes, digits and commas parses,
    assembles and strips as in Twisted (errors included)."""
    assertParsesAlike(text)


NAMES = ["normal", "bold", "underline", "reverseVideo"]
COLORS = sorted(t_irc._IRC_COLORS)

TREES = st.recursive(
    st.text(alphabet="ab \x02", max_size=3),
    lambda inner: st.tuples(
        st.one_of(
            st.sampled_from(NAMES),
            st.tuples(st.sampled_from(["fg", "bg"]), st.sampled_from(COLORS)),
            st.tuples(st.just("-"), st.sampled_from(NAMES[1:])),
        ),
        st.lists(inner, max_size=3),
    ),
    max_leaves=12,
)


def build(module: Any, spec: Any) -> Any:
    """The attribute tree ``spec`` describes, made with ``module``'s
    ``attributes``: a string, or ``(attribute, children)`` where the
    attribute is a name, ``(ground, colour)`` or ``("-", name)``."""
    if isinstance(spec, str):
        return spec
    how, children = spec
    A = module.attributes
    if isinstance(how, str):
        node = getattr(A, how)
    elif how[0] == "-":
        node = -getattr(A, how[1])
    else:
        node = getattr(getattr(A, how[0]), how[1])
    return node[[build(module, child) for child in children]]


@settings(max_examples=300, deadline=None)
@given(TREES)
def test_assemble_random(spec):
    """Random trees (nested attributes, colours, negated attributes)
    assemble to Twisted's text, and that text parses alike."""
    trees = [build(module, spec) for module in MODULES]
    texts = [
        steady(lambda m=m, t=t: m.assembleFormattedText(t))
        for m, t in zip(MODULES, trees, strict=True)
    ]
    assert texts[0] == texts[1]
    assert repr(trees[0]) == repr(trees[1])
    if texts[0][0] == "returned":
        assertParsesAlike(texts[0][1])
