"""torsion.internet.address compared with twisted.internet.address."""

from __future__ import annotations

import os
import socket

import pytest
import twisted.internet.address as taddress
from hypothesis import given, settings
from hypothesis import strategies as st
from torsion.internet import address
from torsion.internet.interfaces import IAddress
from zope.interface.verify import verifyObject

hosts = st.sampled_from(["127.0.0.1", "10.0.0.1", "0.0.0.0", "::1", "fe80::1"])
ports = st.integers(min_value=0, max_value=65535)
types = st.sampled_from(["TCP", "UDP"])


@settings(max_examples=200)
@given(types, hosts, ports, types, hosts, ports)
def test_ipv4_value_semantics_match_twisted(t1, h1, p1, t2, h2, p2):
    """repr, ==, != and ordering of IPv4Address agree with Twisted's."""
    a, b = address.IPv4Address(t1, h1, p1), address.IPv4Address(t2, h2, p2)
    ta, tb = taddress.IPv4Address(t1, h1, p1), taddress.IPv4Address(t2, h2, p2)
    assert repr(a) == repr(ta)
    assert (a == b) == (ta == tb)
    assert (a != b) == (ta != tb)
    assert (a < b) == (ta < tb)
    assert (a <= b) == (ta <= tb)
    if a == b:
        assert hash(a) == hash(b)


@settings(max_examples=200)
@given(types, hosts, ports, st.integers(0, 2**20), st.integers(0, 16) | st.just("eth0"))
def test_ipv6_repr_and_eq_match_twisted(t, h, p, flow, scope):
    """IPv6Address shows flowInfo and scopeID like Twisted's."""
    a = address.IPv6Address(t, h, p, flow, scope)
    ta = taddress.IPv6Address(t, h, p, flow, scope)
    assert repr(a) == repr(ta)
    assert a == address.IPv6Address(t, h, p, flow, scope)
    assert hash(a) == hash(address.IPv6Address(t, h, p, flow, scope))


def test_fields_and_defaults():
    """Fields are named as Twisted's, with IPv6 defaults of 0."""
    a = address.IPv4Address("TCP", "127.0.0.1", 8080)
    assert (a.type, a.host, a.port) == ("TCP", "127.0.0.1", 8080)
    b = address.IPv6Address("UDP", "::1", 53)
    assert (b.flowInfo, b.scopeID) == (0, 0)
    assert (
        repr(b) == "IPv6Address(type='UDP', host='::1', port=53, flowInfo=0, scopeID=0)"
    )
    c = address.IPv4Address(type="TCP", host="h", port=1)
    assert c == address.IPv4Address("TCP", "h", 1)


def test_different_classes_are_not_equal():
    """IPv4Address never equals an IPv6Address or a tuple, as with attrs."""
    assert address.IPv4Address("TCP", "::1", 1) != address.IPv6Address("TCP", "::1", 1)
    assert address.IPv4Address("TCP", "1.2.3.4", 1) != ("TCP", "1.2.3.4", 1)
    assert address.IPv4Address("TCP", "1.2.3.4", 1).__eq__(object()) is NotImplemented


def test_bad_type_rejected_like_twisted():
    """A type other than TCP/UDP raises ValueError with attrs' message first."""
    with pytest.raises(ValueError) as ours:
        address.IPv4Address("SCTP", "1.2.3.4", 1)
    with pytest.raises(ValueError) as theirs:
        taddress.IPv4Address("SCTP", "1.2.3.4", 1)
    assert ours.value.args[0] == theirs.value.args[0]
    with pytest.raises(ValueError):
        address.IPv6Address("tcp", "::1", 1)


def test_usable_as_dict_keys():
    """Equal addresses hash alike (they are used as dict keys)."""
    d = {address.IPv4Address("TCP", "127.0.0.1", 1): "x"}
    assert d[address.IPv4Address("TCP", "127.0.0.1", 1)] == "x"
    assert {address.HostnameAddress(b"example.com", 80)} == {
        address.HostnameAddress(b"example.com", 80)
    }


def test_hostname_address():
    """HostnameAddress has hostname (bytes) and port and Twisted's repr."""
    h = address.HostnameAddress(b"example.com", 443)
    assert repr(h) == repr(taddress.HostnameAddress(b"example.com", 443))
    assert h != address.HostnameAddress(b"example.com", 80)


@pytest.mark.parametrize(
    "obj",
    [
        address.IPv4Address("TCP", "1.2.3.4", 5),
        address.IPv6Address("TCP", "::1", 5),
        address.UNIXAddress(b"/tmp/s"),
        address.HostnameAddress(b"h", 1),
        address._ProcessAddress(),
    ],
)
def test_provides_IAddress(obj):
    """Every address class implements IAddress."""
    assert verifyObject(IAddress, obj)


@pytest.mark.parametrize("name", [b"/tmp/sock", "/tmp/sock", "/tmp/\xe9t\xe9", None])
def test_unix_repr_and_name_match_twisted(name):
    """UNIXAddress stores bytes and shows text, as Twisted's does."""
    ours = address.UNIXAddress(name)
    theirs = taddress.UNIXAddress(name)
    assert ours.name == theirs.name
    assert repr(ours) == repr(theirs)


def test_unix_equality_and_hash(tmp_path):
    """UNIXAddress equality follows the file: two names of one socket are equal."""
    path = os.fsencode(tmp_path / "sock")
    link = os.fsencode(tmp_path / "link")
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(path)
        os.symlink(path, link)
        a, b = address.UNIXAddress(path), address.UNIXAddress(link)
        assert a == b
        assert hash(a) == hash(b)
        assert taddress.UNIXAddress(path) == taddress.UNIXAddress(link)
    finally:
        s.close()
    assert address.UNIXAddress(b"/nonexistent/a") != address.UNIXAddress(
        b"/nonexistent/b"
    )
    assert address.UNIXAddress(None) == address.UNIXAddress(None)
    assert hash(address.UNIXAddress(None)) == hash(address.UNIXAddress(None))
    assert address.UNIXAddress(b"/x") != address.IPv4Address("TCP", "1.2.3.4", 1)


def test_unix_abstract_namespace():
    """Linux abstract socket names (leading NUL) compare and hash without error."""
    a = address.UNIXAddress(b"\0abstract")
    assert a == address.UNIXAddress(b"\0abstract")
    assert a != address.UNIXAddress(b"\0other")
    assert hash(a) == hash(address.UNIXAddress(b"\0abstract"))
