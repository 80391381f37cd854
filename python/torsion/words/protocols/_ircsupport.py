"""What the server says it supports: the ISUPPORT (005) parameters.

``ServerSupportedFeatures`` keeps Twisted's defaults, parses each known
parameter into the same value Twisted does (ints, tuples, dicts) and keeps
unknown ones as a tuple of their comma-separated values.  A parameter
named with a leading ``-`` removes the feature.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from torsion.words.protocols._ircmessage import _CommandDispatcherMixin, _intOrDefault

_CHANMODE_KINDS = ("addressModes", "param", "setParam", "noParam")


class ServerSupportedFeatures(_CommandDispatcherMixin):
    """The server's ISUPPORT features, by name (``getFeature``)."""

    prefix = "isupport"

    def __init__(self) -> None:
        self._features: dict[str, Any] = {
            "CHANNELLEN": 200,
            "CHANTYPES": ("#", "&"),
            "MODES": 3,
            "NICKLEN": 9,
            "PREFIX": self._parsePrefixParam("(ovh)@+%"),
            # No default is specified for CHANMODES, but the client's mode
            # parsing needs one when the server sends no ISUPPORT at all.
            "CHANMODES": self._parseChanModesParam(["b", "", "lk", ""]),
        }

    @classmethod
    def _splitParamArgs(
        cls, params: Iterable[str], valueProcessor: Callable[[str], Any] | None = None
    ) -> list[tuple[str, Any]]:
        """``["A:1", "B"]`` -> ``[("A", "1"), ("B", "")]``, each value passed
        through ``valueProcessor`` when one is given."""
        pairs = []
        for param in params:
            name, _, value = param.partition(":")
            pairs.append(
                (name, value if valueProcessor is None else valueProcessor(value))
            )
        return pairs

    @classmethod
    def _unescapeParamValue(cls, value: str) -> str:
        """Replace each ``\\xHH`` escape with the character it encodes;
        raise ValueError for an escape that is not two hex digits."""
        if "\\x" not in value:
            return value
        first, *escaped = value.split("\\x")
        out = [first]
        for piece in escaped:
            digits = piece[:2]
            try:
                code = int(digits, 16)
            except ValueError:
                raise ValueError(f"Invalid hex octet: {digits!r}") from None
            out.append(chr(code) + piece[2:])
        return "".join(out)

    @classmethod
    def _splitParam(cls, param: str) -> tuple[str, list[str]]:
        """``"KEY=a,b"`` -> ``("KEY", ["a", "b"])``; no ``=`` gives ``[""]``."""
        key, _, value = param.partition("=")
        return key, [cls._unescapeParamValue(v) for v in value.split(",")]

    @classmethod
    def _parsePrefixParam(cls, prefix: str) -> dict[str, tuple[str, int]] | None:
        """``"(ov)@+"`` -> ``{"o": ("@", 0), "v": ("+", 1)}``: each mode to
        its symbol and rank, lower ranks meaning more privilege."""
        if not prefix:
            return None
        if prefix[0] != "(" and ")" not in prefix:
            raise ValueError("Malformed PREFIX parameter")
        modes, symbols = prefix.split(")", 1)
        ranked = zip(symbols, range(len(symbols)), strict=False)
        return dict(zip(modes[1:], ranked, strict=False))

    @classmethod
    def _parseChanModesParam(cls, params: list[str]) -> dict[str, str]:
        """The four CHANMODES classes by name (see ``isupport_CHANMODES``);
        more than four raises ValueError."""
        if len(params) > len(_CHANMODE_KINDS):
            raise ValueError(
                f"Expecting a maximum of {len(_CHANMODE_KINDS)} channel mode "
                f"parameters, got {len(params)}"
            )
        return {
            kind: modes or ""
            for kind, modes in zip(_CHANMODE_KINDS, params, strict=False)
        }

    def getFeature(self, feature: str, default: Any = None) -> Any:
        """The value of ``feature``, or ``default`` when it is unsupported."""
        return self._features.get(feature, default)

    def hasFeature(self, feature: str) -> bool:
        """Whether ``feature`` is supported (its value is not None)."""
        return self.getFeature(feature) is not None

    def parse(self, params: Iterable[str]) -> None:
        """Record each ``NAME[=VALUE]`` parameter of an ISUPPORT message."""
        for param in params:
            key, value = self._splitParam(param)
            if key.startswith("-"):
                self._features.pop(key[1:], None)
            else:
                self._features[key] = self.dispatch(key, value)

    def isupport_unknown(self, command: str, params: list[str]) -> tuple[str, ...]:
        """A parameter without a parser: its values as a tuple."""
        return tuple(params)

    def isupport_CHANLIMIT(self, params: list[str]) -> list[tuple[str, Any]]:
        """How many channels of each prefix a client may join."""
        return self._splitParamArgs(params, _intOrDefault)

    def isupport_CHANMODES(self, params: list[str]) -> dict[str, str]:
        """Channel modes in four classes: ``addressModes`` (lists, always a
        parameter), ``param`` (always a parameter), ``setParam`` (a
        parameter only when set) and ``noParam``.  A malformed value keeps
        the previous one."""
        try:
            return self._parseChanModesParam(params)
        except ValueError:
            return self.getFeature("CHANMODES")  # type: ignore[no-any-return]

    def isupport_CHANNELLEN(self, params: list[str]) -> Any:
        """The longest channel name allowed."""
        return _intOrDefault(params[0], self.getFeature("CHANNELLEN"))

    def isupport_CHANTYPES(self, params: list[str]) -> tuple[str, ...]:
        """The characters that begin a channel name."""
        return tuple(params[0])

    def isupport_EXCEPTS(self, params: list[str]) -> str:
        """The ban-exception mode character (``e`` when not given)."""
        return params[0] or "e"

    def isupport_IDCHAN(self, params: list[str]) -> list[tuple[str, Any]]:
        """Safe-channel prefixes and the length of their identifiers."""
        return self._splitParamArgs(params)

    def isupport_INVEX(self, params: list[str]) -> str:
        """The invite-exception mode character (``I`` when not given)."""
        return params[0] or "I"

    def isupport_KICKLEN(self, params: list[str]) -> Any:
        """The longest kick message allowed."""
        return _intOrDefault(params[0])

    def isupport_MAXLIST(self, params: list[str]) -> list[tuple[str, Any]]:
        """How many entries each list mode may hold."""
        return self._splitParamArgs(params, _intOrDefault)

    def isupport_MODES(self, params: list[str]) -> Any:
        """How many parameter-taking modes one MODE command may carry."""
        return _intOrDefault(params[0])

    def isupport_NETWORK(self, params: list[str]) -> str:
        """The network's name."""
        return params[0]

    def isupport_NICKLEN(self, params: list[str]) -> Any:
        """The longest nickname allowed."""
        return _intOrDefault(params[0], self.getFeature("NICKLEN"))

    def isupport_PREFIX(self, params: list[str]) -> Any:
        """Channel status modes and their symbols; a malformed value keeps
        the previous one."""
        try:
            return self._parsePrefixParam(params[0])
        except ValueError:
            return self.getFeature("PREFIX")

    def isupport_SAFELIST(self, params: list[str]) -> bool:
        """LIST may be asked for without risk of being disconnected."""
        return True

    def isupport_STATUSMSG(self, params: list[str]) -> str:
        """Status prefixes a message target may carry."""
        return params[0]

    def isupport_TARGMAX(self, params: list[str]) -> dict[str, Any]:
        """How many targets each command accepts."""
        return dict(self._splitParamArgs(params, _intOrDefault))

    def isupport_TOPICLEN(self, params: list[str]) -> Any:
        """The longest topic allowed."""
        return _intOrDefault(params[0])
