"""Internet Relay Chat, mirroring ``twisted.words.protocols.irc``.

``IRCClient`` is the client protocol; ``IRC`` the line protocol a server
speaks; ``parsemsg``, ``split``, ``lowQuote``/``lowDequote`` and the CTCP
helpers work on single messages; the numeric replies are constants
(``RPL_WELCOME == "001"``) and ``ServerSupportedFeatures`` reads ISUPPORT.
The pieces live in private modules of this package, one job each; this
module gathers them under Twisted's names.

See RFC 1459, RFC 2812 and the CTCP specification.
"""

from __future__ import annotations

from torsion.words.protocols._ircbase import IRC
from torsion.words.protocols._ircclient import IRCClient
from torsion.words.protocols._ircctcpclient import dccParseAddress
from torsion.words.protocols._ircdccchat import DccChat, DccChatFactory, dccDescribe
from torsion.words.protocols._ircdccfile import (
    DccFileReceive,
    DccFileReceiveBasic,
    DccSendFactory,
    DccSendProtocol,
    fileSize,
)
from torsion.words.protocols._ircformat import (
    _BOLD,
    _COLOR,
    _IRC_COLOR_NAMES,
    _IRC_COLORS,
    _OFF,
    _REVERSE_VIDEO,
    _UNDERLINE,
    _CharacterAttributes,
    _foldr,
    _FormattingParser,
    _FormattingState,
    assembleFormattedText,
    attributes,
    parseFormattedText,
    stripFormatting,
)
from torsion.words.protocols._ircmessage import (
    CHANNEL_PREFIXES,
    CR,
    LF,
    MAX_COMMAND_LENGTH,
    NL,
    NUL,
    SPC,
    IRCBadMessage,
    IRCBadModes,
    IRCPasswordMismatch,
    UnhandledCommand,
    _CommandDispatcherMixin,
    _intOrDefault,
    parseModes,
    parsemsg,
    split,
)
from torsion.words.protocols._ircnumerics import *  # noqa: F403
from torsion.words.protocols._ircnumerics import (
    numeric_to_symbolic,
    symbolic_to_numeric,
)
from torsion.words.protocols._ircquote import (
    M_QUOTE,
    X_DELIM,
    X_QUOTE,
    ctcpDequote,
    ctcpExtract,
    ctcpQuote,
    ctcpStringify,
    lowDequote,
    lowQuote,
    mDequoteTable,
    mEscape_re,
    mQuoteTable,
    xDequoteTable,
    xEscape_re,
    xQuoteTable,
)
from torsion.words.protocols._ircsupport import ServerSupportedFeatures

__all__ = [
    "CHANNEL_PREFIXES",
    "CR",
    "DccChat",
    "DccChatFactory",
    "DccFileReceive",
    "DccFileReceiveBasic",
    "DccSendFactory",
    "DccSendProtocol",
    "IRC",
    "LF",
    "MAX_COMMAND_LENGTH",
    "M_QUOTE",
    "NL",
    "NUL",
    "SPC",
    "X_DELIM",
    "X_QUOTE",
    "IRCBadMessage",
    "IRCBadModes",
    "IRCClient",
    "IRCPasswordMismatch",
    "ServerSupportedFeatures",
    "UnhandledCommand",
    "_CommandDispatcherMixin",
    "_BOLD",
    "_COLOR",
    "_IRC_COLOR_NAMES",
    "_IRC_COLORS",
    "_OFF",
    "_REVERSE_VIDEO",
    "_UNDERLINE",
    "_CharacterAttributes",
    "_foldr",
    "_FormattingParser",
    "_FormattingState",
    "_intOrDefault",
    "assembleFormattedText",
    "attributes",
    "ctcpDequote",
    "ctcpExtract",
    "ctcpQuote",
    "ctcpStringify",
    "dccDescribe",
    "dccParseAddress",
    "fileSize",
    "lowDequote",
    "lowQuote",
    "mDequoteTable",
    "mEscape_re",
    "mQuoteTable",
    "numeric_to_symbolic",
    "parseFormattedText",
    "parseModes",
    "parsemsg",
    "split",
    "stripFormatting",
    "symbolic_to_numeric",
    "xDequoteTable",
    "xEscape_re",
    "xQuoteTable",
    *symbolic_to_numeric,
]
