"""Low-level quoting of IRC lines and the CTCP layer inside messages.

Low-level quoting lets NUL, CR, LF and the quote character itself travel
inside a line (``\\x10`` followed by ``0``, ``r``, ``n`` or ``\\x10``).  CTCP
wraps tagged messages in ``\\x01`` delimiters and escapes the delimiter
and backslash with a backslash.  Names and results are Twisted's.
"""

from __future__ import annotations

import re
from typing import Any

from torsion.words.protocols._ircmessage import CR, NL, NUL, SPC

M_QUOTE = chr(0o20)
mQuoteTable = {
    NUL: M_QUOTE + "0",
    NL: M_QUOTE + "n",
    CR: M_QUOTE + "r",
    M_QUOTE: M_QUOTE + M_QUOTE,
}
mDequoteTable = {quoted[1]: plain for plain, quoted in mQuoteTable.items()}
mEscape_re = re.compile(re.escape(M_QUOTE) + ".", re.DOTALL)

X_DELIM = chr(0o01)
X_QUOTE = "\\"
xQuoteTable = {X_DELIM: X_QUOTE + "a", X_QUOTE: X_QUOTE + X_QUOTE}
xDequoteTable = {quoted[1]: plain for plain, quoted in xQuoteTable.items()}
xEscape_re = re.compile(re.escape(X_QUOTE) + ".", re.DOTALL)


def _unescaper(table: dict[str, str]) -> Any:
    """A ``re.sub`` callback: the escaped character's meaning from
    ``table``, or the character itself when the table does not know it."""

    def replace(match: re.Match[str]) -> str:
        escaped = match.group()[1]
        return table.get(escaped, escaped)

    return replace


_lowUnescape = _unescaper(mDequoteTable)
_ctcpUnescape = _unescaper(xDequoteTable)


def lowQuote(s: str) -> str:
    """Escape NUL, LF, CR and ``\\x10`` for sending inside one line."""
    if M_QUOTE in s:
        s = s.replace(M_QUOTE, M_QUOTE + M_QUOTE)
    for plain in (NUL, NL, CR):
        if plain in s:
            s = s.replace(plain, mQuoteTable[plain])
    return s


def lowDequote(s: str) -> str:
    """Undo ``lowQuote``; an unknown escape stands for the escaped
    character, a lone trailing ``\\x10`` stays."""
    if M_QUOTE not in s:
        return s
    return mEscape_re.sub(_lowUnescape, s)


def ctcpQuote(s: str) -> str:
    """Escape backslash and ``\\x01`` for use inside a CTCP message."""
    return s.replace(X_QUOTE, X_QUOTE + X_QUOTE).replace(X_DELIM, X_QUOTE + "a")


def ctcpDequote(s: str) -> str:
    """Undo ``ctcpQuote``; an unknown escape stands for the escaped
    character."""
    if X_QUOTE not in s:
        return s
    return xEscape_re.sub(_ctcpUnescape, s)


def ctcpExtract(message: str) -> dict[str, list[Any]]:
    """Separate the CTCP messages of ``message`` from its plain text.

    Returns ``{"extended": [(tag, data), ...], "normal": [text, ...]}``:
    the pieces between ``\\x01`` delimiters alternate between plain text
    and CTCP messages, empty pieces are dropped, and a CTCP message's data
    is what follows its tag and one space (None when there is no space).
    """
    pieces = message.split(X_DELIM)
    normal = [text for text in pieces[0::2] if text]
    extended: list[Any] = []
    for quoted in pieces[1::2]:
        if not quoted:
            continue
        tag, space, data = ctcpDequote(quoted).partition(SPC)
        extended.append((tag, data if space else None))
    return {"extended": extended, "normal": normal}


def ctcpStringify(messages: Any) -> str:
    """Encode ``(tag, data)`` pairs as CTCP messages, one after the other.

    ``data`` may be None or empty (the tag alone is sent), a string, or an
    iterable whose items are joined with spaces; anything else is
    formatted with ``str``.
    """
    encoded = []
    for tag, data in messages:
        if data:
            if not isinstance(data, str):
                try:
                    data = " ".join(map(str, data))
                except TypeError:
                    pass
            text = f"{tag} {data}"
        else:
            text = str(tag)
        encoded.append(X_DELIM + ctcpQuote(text) + X_DELIM)
    return "".join(encoded)
