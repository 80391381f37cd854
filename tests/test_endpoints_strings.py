"""Endpoint description strings: serverFromString, clientFromString, the
tokenizer and quoteStringArgument, each compared with Twisted's result
(the endpoint built, or the exception type and message)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torsion.internet import endpoints
from torsion.internet._reactor import TorsionReactor
from twisted.internet import endpoints as tw_endpoints
from twisted.internet.epollreactor import EPollReactor

SERVER_STRINGS = [
    "tcp:8080",
    "tcp:8080:interface=127.0.0.1:backlog=100",
    "tcp:port=80",
    "tcp:80:1.2.3.4",
    "tcp:80:1.2.3.4:5",
    "tcp:  80",
    "tcp:-1",
    "tcp:8_0",
    "tcp:\\80",
    "tcp:80:interface=a=b",
    "tcp:80:interface=\\:\\:1",
    "tcp:80:interface=",
    "tcp6:8080",
    "tcp6:8080:interface=\\:\\:1",
    "tcp6:8080:::1",
    "tcp6:0:backlog=7:interface=127.0.0.1",
    "Tcp6:80",
    "TCP6:port=80",
    b"tcp6:80",
    # malformed
    "tcp:abc",
    "tcp:0x50",
    "tcp:80:backlog=x",
    "tcp:80:backlog=",
    "tcp",
    "tcp:",
    "tcp:80:foo=1",
    "tcp:80:1.2.3.4:5:6",
    "tcp:80=3",
    "tcp:80:port=81",
    "tcp:80:interface=::1",
    "tcp6:abc",
    "tcp6",
    "tcp6:80:bogus=1",
    "tcp6:80:backlog=z",
    "unix:/var/run/x.sock",
    "unix:/p:mode=660:lockfile=1",
    "unix:address=/p:backlog=7:lockfile=0",
    "unix:/p:mode=0o600",
    "unix:/a\\:b",
    "unix:\0abstract",
    "unix:",
    "unix:/p:mode=9",
    "unix:/p:lockfile=x",
    "unix:/p:backlog=",
    "unix:/p:bogus=1",
    "unix",
    "xyz:80",
    "XYZ:80",
    "TCP:80",
    "UNIX:/tmp/x",
    "SSL:443",
    "",
    "=tcp",
    ":80",
    "tcp:80\\",
    "tcp:80:interface=\\",
    b"tcp:80",
    b"unix:/x",
]

CLIENT_STRINGS = [
    "tcp:host=example.com:port=80:timeout=5",
    "tcp:example.com:80",
    "tcp:host=example.com:80",
    "tcp:example.com:port=80",
    "tcp:example.com:80:bindAddress=1.2.3.4",
    "tcp:h:80:bindAddress=1.2.3.4\\:5",
    "tcp:\\:\\:1:80",
    "tcp:host=\\:\\:1:port=80",
    "tcp:h:80:host=x",
    "TCP:h:1",
    "Tcp:h:1:timeout=0",
    "tcp:h:080",
    "tcp:h: 80 ",
    "unix:path=/path:timeout=5:checkPID=1",
    "unix:/p",
    "unix:/p:lockfile=1:timeout=9",
    "unix:/p:lockfile=0",
    "Unix:path=/p:checkPID=0",
    "UNIX:/p",
    "unix:",
    # malformed
    "unix:path=/p:timeout=x",
    "unix:/p:lockfile=z",
    "unix:/p:bogus=1",
    "unix:/a:/b",
    "unix",
    "tcp:example.com",
    "tcp:port=80",
    "tcp:example.com:80:timeout=x",
    "tcp:h:80:timeout=2.5",
    "tcp:example.com:abc",
    "tcp:port=abc:host=h",
    "tcp:a:1:2",
    "tcp:example.com:80:foo=1",
    "tcp:h=1=2:80",
    "tcp",
    "tcp6:example.com:80",
    "xyz:1",
    "",
    "=tcp",
    "tcp:h:80\\",
    b"tcp:h:80",
]


def _outcome(module, reactor, function, description):
    try:
        endpoint = getattr(module, function)(reactor, description)
    except Exception as e:
        return ("raised", type(e).__name__, str(e))
    state = {k: v for k, v in vars(endpoint).items() if k != "_reactor"}
    assert endpoint._reactor is reactor
    return ("built", type(endpoint).__name__, state)


@pytest.fixture(scope="module")
def reactors():
    return TorsionReactor(), EPollReactor()


@pytest.mark.parametrize("description", SERVER_STRINGS)
def test_server_string_like_twisted(reactors, description):
    """serverFromString builds the same endpoint as Twisted, or raises the
    same exception type with the same message."""
    ours = _outcome(endpoints, reactors[0], "serverFromString", description)
    theirs = _outcome(tw_endpoints, reactors[1], "serverFromString", description)
    assert ours == theirs


@pytest.mark.parametrize("description", CLIENT_STRINGS)
def test_client_string_like_twisted(reactors, description):
    """clientFromString builds the same endpoint as Twisted, or raises the
    same exception type with the same message."""
    ours = _outcome(endpoints, reactors[0], "clientFromString", description)
    theirs = _outcome(tw_endpoints, reactors[1], "clientFromString", description)
    assert ours == theirs


@pytest.mark.parametrize(
    "description, expected",
    [
        ("tcp:8080:interface=127.0.0.1:backlog=100", (8080, 100, "127.0.0.1")),
        ("tcp:port=80", (80, 50, "")),
        ("tcp:443:::1", None),
        ("tcp6:443", (443, 50, "::")),
        ("tcp6:443:interface=\\:\\:1", (443, 50, "::1")),
    ],
)
def test_server_string_values(reactors, description, expected):
    """The parsed values, spelled out (not only "same as Twisted")."""
    if expected is None:
        with pytest.raises(
            TypeError, match=r"^_parseTCP\(\) takes from 2 to 4 positional"
        ):
            endpoints.serverFromString(reactors[0], description)
        return
    e = endpoints.serverFromString(reactors[0], description)
    assert (e._port, e._backlog, e._interface) == expected
    wanted = (
        endpoints.TCP6ServerEndpoint
        if description.startswith("tcp6")
        else endpoints.TCP4ServerEndpoint
    )
    assert type(e) is wanted


def test_client_string_values(reactors):
    """host, port, timeout and bindAddress are coerced as Twisted does."""
    e = endpoints.clientFromString(
        reactors[0], "tcp:host=example.com:port=80:timeout=5:bindAddress=10.0.0.1"
    )
    assert type(e) is endpoints.TCP4ClientEndpoint
    assert (e._host, e._port, e._timeout, e._bindAddress) == (
        "example.com",
        80,
        5,
        ("10.0.0.1", 0),
    )


@pytest.mark.parametrize(
    "function, description, error, message",
    [
        ("serverFromString", "xyz:80", ValueError, "Unknown endpoint type: 'xyz'"),
        ("clientFromString", "XYZ:80", ValueError, "Unknown endpoint type: 'xyz'"),
        ("serverFromString", "tcp:abc", ValueError, "invalid literal for int()"),
        ("serverFromString", "tcp", TypeError, "missing 1 required positional"),
        ("serverFromString", "tcp:80:foo=1", TypeError, "unexpected keyword"),
        ("clientFromString", "tcp:h", TypeError, "argument: 'port'"),
        ("clientFromString", "tcp:h:80:to=1", TypeError, "argument 'to'"),
        ("clientFromString", "tcp:h:x", ValueError, "'x'"),
    ],
)
def test_errors_name_the_bad_part(reactors, function, description, error, message):
    """TypeError for unknown or missing parameters, ValueError for bad
    values or types; the message names the culprit."""
    with pytest.raises(error) as info:
        getattr(endpoints, function)(reactors[0], description)
    assert message in str(info.value)
    assert type(info.value) is error


@pytest.mark.parametrize(
    "function, description, name",
    [
        ("serverFromString", "ssl:443:privateKey=k.pem", "ssl"),
        ("serverFromString", "tls:443", "tls"),
        ("serverFromString", "systemd:domain=INET:index=0", "systemd"),
        ("serverFromString", "stdio:", "stdio"),
        ("serverFromString", "HAProxy:tcp:80", "haproxy"),
        ("clientFromString", "SSL:h:443", "ssl"),
        ("clientFromString", "tls:h:443", "tls"),
    ],
)
def test_unsupported_types_say_so(reactors, function, description, name):
    """Types Twisted provides but torsion does not yet raise a ValueError
    (also a NotImplementedError) that names the type."""
    with pytest.raises(ValueError) as info:
        getattr(endpoints, function)(reactors[0], description)
    assert str(info.value) == f"Endpoint type '{name}' is not supported by torsion yet"
    assert isinstance(info.value, NotImplementedError)


@pytest.mark.parametrize(
    "description, tokens, parsed",
    [
        ("a:b", [(1, "a"), (0, ":"), (1, "b")], (["a", "b"], {})),
        ("a\\:b", [(1, "a:b")], (["a:b"], {})),
        ("a\\=b", [(1, "a=b")], (["a=b"], {})),
        ("a=b=c", [(1, "a"), (0, "="), (1, "b=c")], ([], {"a": "b=c"})),
        ("x:y=z:w", None, (["x", "w"], {"y": "z"})),
        ("\\\\", [(1, "\\")], (["\\"], {})),
        ("a::b", None, (["a", "", "b"], {})),
        (":", [(1, ""), (0, ":"), (1, "")], (["", ""], {})),
        ("=", [(1, ""), (0, "="), (1, "")], ([], {"": ""})),
        ("a:=b", None, (["a"], {"": "b"})),
        ("k=1:k=2", None, ([], {"k": "2"})),
        (b"a=b:c", [(1, b"a"), (0, b"="), (1, b"b"), (0, b":"), (1, b"c")], None),
        (b"a=b:c", None, ([b"c"], {"a": b"b"})),
    ],
)
def test_tokenize_and_parse(description, tokens, parsed):
    """The tokenizer's and the parser's results, spelled out."""
    if tokens is not None:
        assert list(endpoints._tokenize(description)) == tokens
    if parsed is not None:
        assert endpoints._parse(description) == parsed


def test_non_ascii_keyword_is_a_unicode_error():
    """A keyword name must be ASCII (Twisted's nativeString); a value need not."""
    assert endpoints._parse("k=\u00e9") == ([], {"k": "\u00e9"})
    with pytest.raises(UnicodeEncodeError):
        endpoints._parse("\u00e9=1")


def test_trailing_backslash_is_twisteds_runtime_error():
    """A description ending in a lone backslash: Twisted's tokenizer fails
    with RuntimeError (StopIteration inside a generator); so does ours."""
    for module in (endpoints, tw_endpoints):
        with pytest.raises(RuntimeError, match="generator raised StopIteration"):
            module._parse("tcp:80\\")


def _tokens_with(module):
    def run(description):
        return module._parse(description), list(module._tokenize(description))

    return run


def _both_parsers(description):
    out = []
    for module in (endpoints, tw_endpoints):
        try:
            out.append(("ok", _tokens_with(module)(description)))
        except Exception as e:
            out.append(("raised", type(e).__name__, str(e)))
    return out


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="ab:=\\ é", max_size=14))
def test_parse_matches_twisted_on_any_string(description):
    """_parse and _tokenize agree with Twisted's on arbitrary strings."""
    ours, theirs = _both_parsers(description)
    assert ours == theirs


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=12).map(lambda b: b.replace(b"\x00", b":")))
def test_parse_matches_twisted_on_bytes(description):
    """Byte strings tokenize and parse as in Twisted."""
    ours, theirs = _both_parsers(description)
    assert ours == theirs


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab:=\\é", max_size=12))
def test_quote_round_trips(argument):
    """A quoted argument parses back to itself, and the quoting is Twisted's."""
    quoted = endpoints.quoteStringArgument(argument)
    assert quoted == tw_endpoints.quoteStringArgument(argument)
    if "=" not in argument:
        assert endpoints._parse("x:" + quoted) == (["x", argument], {})
    assert endpoints._parse("k=" + quoted) == ([], {"k": argument})


def test_quote_examples():
    """Backslashes are doubled and colons escaped."""
    assert endpoints.quoteStringArgument("C:\\key.pem") == "C\\:\\\\key.pem"
    assert endpoints.quoteStringArgument("") == ""
    assert endpoints.quoteStringArgument("a=b") == "a=b"
