"""Address objects for connection endpoints, with Twisted's fields and behaviour.

IPv4Address, IPv6Address and HostnameAddress are plain value objects: they
compare equal field by field (only to the same class), hash consistently with
that, order like tuples of their fields and show as ``Name(field=value, ...)``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, fields
from typing import Literal

from zope.interface import implementer

from torsion.internet.interfaces import IAddress

_TRANSPORT_TYPES = ["TCP", "UDP"]


def _checkType(cls: type, value: object) -> None:
    """Reject a transport type other than 'TCP' or 'UDP' as Twisted's attrs
    validator does: ValueError(message, field, allowed values, value), with
    the dataclass field where Twisted gives the attrs attribute."""
    if value not in _TRANSPORT_TYPES:
        field = next(f for f in fields(cls) if f.name == "type")
        raise ValueError(
            f"'type' must be in {_TRANSPORT_TYPES!r} (got {value!r})",
            field,
            _TRANSPORT_TYPES,
            value,
        )


@implementer(IAddress)
@dataclass(eq=True, order=True, unsafe_hash=True)
class IPv4Address:
    """The address of an IPv4 socket: ``type`` ('TCP' or 'UDP'), ``host``, ``port``."""

    type: Literal["TCP", "UDP"]
    host: str
    port: int

    def __post_init__(self) -> None:
        _checkType(type(self), self.type)


@implementer(IAddress)
@dataclass(eq=True, order=True, unsafe_hash=True)
class IPv6Address:
    """The address of an IPv6 socket, with its ``flowInfo`` and ``scopeID``."""

    type: Literal["TCP", "UDP"]
    host: str
    port: int
    flowInfo: int = 0
    scopeID: str | int = 0

    def __post_init__(self) -> None:
        _checkType(type(self), self.type)


@implementer(IAddress)
class _ProcessAddress:
    """The address given to a process transport (it has no fields)."""


@implementer(IAddress)
@dataclass(eq=True, order=True, unsafe_hash=True)
class HostnameAddress:
    """The destination of a hostname endpoint: ``hostname`` (bytes) and ``port``."""

    hostname: bytes
    port: int


def _toFilesystemBytes(name: bytes | str | None) -> bytes | None:
    """Encode a text path with the filesystem encoding; leave bytes and None alone."""
    if name is None or isinstance(name, bytes):
        return name
    return name.encode(sys.getfilesystemencoding(), "surrogateescape")


@implementer(IAddress)
class UNIXAddress:
    """The address of a UNIX socket; ``name`` is the socket path as bytes (or None)."""

    name: bytes | None

    def __init__(self, name: bytes | str | None) -> None:
        self.name = _toFilesystemBytes(name)

    def __eq__(self, other: object) -> bool:
        """Equal when the names match or name the same file on disk."""
        if not isinstance(other, self.__class__):
            return NotImplemented
        if self.name == other.name:
            return True
        if self.name and other.name:
            try:
                return os.path.samefile(self.name, other.name)
            except OSError:
                pass
            except (TypeError, ValueError):
                if not sys.platform.startswith("linux"):
                    raise
        return False

    def __hash__(self) -> int:
        """Hash by inode when the file exists, else by name."""
        if self.name is None:
            return hash((self.__class__, None))
        try:
            st = os.stat(self.name)
        except (OSError, ValueError):
            return hash(self.name)
        return hash((st.st_ino, st.st_dev))

    def __repr__(self) -> str:
        """Show the name decoded as text, like ``UNIXAddress('/tmp/sock')``."""
        name = self.name
        shown = (
            None
            if name is None
            else name.decode(sys.getfilesystemencoding(), "surrogateescape")
        )
        return f"UNIXAddress({shown!r})"


__all__ = ["IPv4Address", "IPv6Address", "UNIXAddress", "HostnameAddress"]
