"""The message-level helpers of torsion.words.protocols.irc against
Twisted's on the same inputs: fixed corner cases, then hypothesis (random
text and mutated real lines). Results, and exceptions (type and message),
must be equal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torsion.words.protocols import irc as x_irc
from twisted.words.protocols import irc as t_irc


def outcome(call: Callable[[], Any]) -> Any:
    """The result of ``call()``, or the exception it raised as
    ``("raised", type name, message)``."""
    try:
        return ("returned", call())
    except Exception as e:
        return ("raised", type(e).__name__, str(e))


def same(name: str, *args: Any) -> Any:
    """Call ``name`` from both modules with copies of ``args``; assert the
    outcomes are equal and return torsion's."""
    copy = lambda: [list(a) if isinstance(a, list) else a for a in args]  # noqa: E731
    expected = outcome(lambda: getattr(t_irc, name)(*copy()))
    actual = outcome(lambda: getattr(x_irc, name)(*copy()))
    assert actual == expected, (name, args)
    return actual


LINES = [
    ":irc.example.net 001 alice :Welcome to the network alice!a@h",
    ":nick!user@host PRIVMSG #chan :hello there",
    ":nick!user@host PRIVMSG #chan ::starts with colon",
    ":nick!user@host PRIVMSG #chan :",
    ":nick!user@host PRIVMSG #chan : ",
    "PING :irc.example.net",
    "PING irc.example.net",
    ":server 005 me CHANTYPES=# PREFIX=(ov)@+ :are supported",
    ":server 353 me = #chan :@op +voice plain",
    "@time=2020-01-01T00:00:00Z;id=1 :nick!u@h PRIVMSG #c :tagged",
    "@tag :pfx CMD",
    ":prefixonly",
    ":",
    ": ",
    ":pfx ",
    ":pfx  CMD  a  b ",
    "CMD a b c ",
    "CMD   ",
    "   ",
    "",
    "CMD :",
    "CMD a :b :c",
    "CMD\ta\tb",
    "CMD a\x0bb",
    "CMD a\u3000b\u00a0c",
    ":a b c d e f g h i j k l m n o p q r s t u v",
    "CMD " + "x" * 600,
]


@pytest.mark.parametrize("line", LINES)
def test_parsemsg_cases(line):
    """Malformed prefixes, empty and whitespace parameters, tags, trailing
    spaces, unusual whitespace and over-long lines parse (or fail) as in
    Twisted."""
    same("parsemsg", line)


def test_parsemsg_exact():
    """A few results spelled out."""
    assert x_irc.parsemsg(":n!u@h PRIVMSG #c :hi there") == (
        "n!u@h",
        "PRIVMSG",
        ["#c", "hi there"],
    )
    assert x_irc.parsemsg("PING :x") == ("", "PING", ["x"])
    with pytest.raises(x_irc.IRCBadMessage, match="Empty line."):
        x_irc.parsemsg("")
    with pytest.raises(ValueError):
        x_irc.parsemsg(":nocommand")
    with pytest.raises(IndexError):
        x_irc.parsemsg(":pfx ")


def mutate(line: str, data: st.DataObject) -> str:
    """``line`` with a few characters inserted, deleted or replaced."""
    alphabet = st.sampled_from(list(" :!@#\r\n\x00\x01\x10\\a,=;+-") + ["\u00e9"])
    for _ in range(data.draw(st.integers(0, 4))):
        if not line:
            line = data.draw(alphabet)
            continue
        at = data.draw(st.integers(0, len(line) - 1))
        how = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        if how == "insert":
            line = line[:at] + data.draw(alphabet) + line[at:]
        elif how == "delete":
            line = line[:at] + line[at + 1 :]
        else:
            line = line[:at] + data.draw(alphabet) + line[at + 1 :]
    return line


IRC_TEXT = st.text(
    alphabet=st.sampled_from(
        list(" :!@#&abcXYZ019\t\r\n\x00\x01\x10\\,=;+-()") + ["é"]
    ),
    max_size=60,
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(IRC_TEXT, st.text(max_size=40)))
def test_parsemsg_random(line):
    """Random text parses as in Twisted."""
    same("parsemsg", line)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(LINES), st.data())
def test_parsemsg_mutated(line, data):
    """Real lines with random damage parse as in Twisted."""
    same("parsemsg", mutate(line, data))


@settings(max_examples=300, deadline=None)
@given(IRC_TEXT)
def test_quoting_random(text):
    """Low-level and CTCP quoting, dequoting and extraction agree with
    Twisted, and quoting round-trips."""
    for name in ("lowQuote", "lowDequote", "ctcpQuote", "ctcpDequote", "ctcpExtract"):
        same(name, text)
    assert x_irc.lowDequote(x_irc.lowQuote(text)) == text
    assert x_irc.ctcpDequote(x_irc.ctcpQuote(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "\x10",
        "a\x10",
        "\x10z",
        "\x10\x10\x10",
        "\x100\x10n\x10r",
        "\\",
        "\\a\\\\\\q",
        "\x01ACTION waves\x01",
        "\x01\x01",
        "before\x01VERSION\x01after\x01PING 123\x01",
        "\x01TAG \x01",
        "\x01TAG  two  spaces\x01",
        "\x01unterminated",
    ],
)
def test_quoting_cases(text):
    """Escapes at the edges, unknown escapes, empty and unterminated CTCP."""
    for name in ("lowQuote", "lowDequote", "ctcpQuote", "ctcpDequote", "ctcpExtract"):
        same(name, text)


@pytest.mark.parametrize(
    "messages",
    [
        [("ACTION", "waves")],
        [("VERSION", None)],
        [("PING", "")],
        [("DCC", ["SEND", "file name", 3232235777, 1024])],
        [("X", b"ab")],
        [("X", 12)],
        [("SOURCE", "http://x/"), ("SOURCE", None)],
        [("A", "back\\slash\x01delim")],
    ],
)
def test_ctcpStringify(messages):
    """Tags alone, strings, lists, bytes and other objects as data."""
    same("ctcpStringify", messages)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.integers(1, 120))
def test_split_random(text, length):
    """split() cuts text as Twisted's does."""
    same("split", text, length)


MODE_PARAMS = [("", ""), ("ov", "ov"), ("ovbkl", "ovbk"), ["b", ""]]


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="+-ovbklimnt", max_size=8),
    st.lists(st.sampled_from(["a", "b", "10", "*!*@*"]), max_size=4),
    st.sampled_from(MODE_PARAMS),
)
def test_parseModes_random(modes, params, paramModes):
    """Mode strings with too few or too many parameters, or missing
    directions, give Twisted's results and errors."""
    same("parseModes", modes, params, paramModes)


ISUPPORT = [
    "CHANTYPES=#&+",
    "PREFIX=(qaohv)~&@%+",
    "PREFIX=",
    "PREFIX=ov",
    "PREFIX=(ov",
    "CHANMODES=beI,k,l,imnt",
    "CHANMODES=a,b,c,d,e",
    "CHANLIMIT=#&:10,+:",
    "CHANNELLEN=50",
    "CHANNELLEN=x",
    "NICKLEN=16",
    "NICKLEN=",
    "MAXLIST=beI:50",
    "TARGMAX=PRIVMSG:4,NOTICE:,JOIN:",
    "EXCEPTS",
    "EXCEPTS=E",
    "INVEX",
    "IDCHAN=!:5",
    "KICKLEN=400",
    "MODES=",
    "NETWORK=Test\\x20Net",
    "NETWORK=bad\\xZZ",
    "SAFELIST",
    "STATUSMSG=@+",
    "TOPICLEN=490",
    "UNKNOWN=a,b,c",
    "FNC",
    "-NICKLEN",
    "-MISSING",
]


def features(module: Any, params: list[str]) -> Any:
    """The features after parsing ``params`` one at a time, or the error."""
    supported = module.ServerSupportedFeatures()

    def parse() -> Any:
        for param in params:
            supported.parse([param])
        return supported._features

    return outcome(parse)


@pytest.mark.parametrize("param", ISUPPORT)
def test_isupport_each(param):
    """Each ISUPPORT parameter, alone, gives Twisted's features."""
    assert features(x_irc, [param]) == features(t_irc, [param])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(ISUPPORT), max_size=8))
def test_isupport_sequences(params):
    """Any sequence of parameters (redefinitions, removals) agrees."""
    assert features(x_irc, params) == features(t_irc, params)


def test_isupport_exact():
    """Values spelled out, and the defaults."""
    supported = x_irc.ServerSupportedFeatures()
    assert supported.getFeature("CHANTYPES") == ("#", "&")
    assert supported.getFeature("PREFIX") == {
        "o": ("@", 0),
        "v": ("+", 1),
        "h": ("%", 2),
    }
    supported.parse(["PREFIX=(qov)~@+", "TARGMAX=PRIVMSG:4,JOIN:", "-NICKLEN"])
    assert supported.getFeature("PREFIX") == {
        "q": ("~", 0),
        "o": ("@", 1),
        "v": ("+", 2),
    }
    assert supported.getFeature("TARGMAX") == {"PRIVMSG": 4, "JOIN": None}
    assert not supported.hasFeature("NICKLEN")
    assert supported.getFeature("NICKLEN", 30) == 30


def test_numerics_and_names():
    """Every numeric constant and both maps are Twisted's."""
    names = [n for n in dir(t_irc) if n.startswith(("RPL_", "ERR_"))]
    assert {n: getattr(x_irc, n) for n in names} == {
        n: getattr(t_irc, n) for n in names
    }
    assert x_irc.symbolic_to_numeric == t_irc.symbolic_to_numeric
    assert x_irc.numeric_to_symbolic == t_irc.numeric_to_symbolic
    for name in ("NUL", "CR", "NL", "LF", "SPC", "X_DELIM", "X_QUOTE", "M_QUOTE"):
        assert getattr(x_irc, name) == getattr(t_irc, name)
    assert x_irc.MAX_COMMAND_LENGTH == 512
    assert x_irc.CHANNEL_PREFIXES == "&#!+"
