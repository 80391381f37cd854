"""Flattening: resolving an event's format fields ahead of time.

A flattened event carries ``log_flattened``, a dict that maps a key for each
replacement field of its ``log_format`` to that field's value (both the
object itself and its ``str``/``repr`` text). Such an event can still be
formatted, and its fields extracted, after its values have been lost, for
example once it has been written as JSON and read back.

Keys look like ``"name!conversion:spec"`` (``"a.b!s:"``, ``"x!r:>5"``, and
``"a.b!:"`` for the raw value); a repeated field gets ``/2``, ``/3``, ...
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from string import Formatter
from typing import Any

aFormatter = Formatter()


class KeyFlattener:
    """Builds the ``log_flattened`` keys of one format string's fields.

    Each key is ``"field!conversion:spec"``; the n-th time the same key is
    asked for (n > 1) it gets the suffix ``/n``.
    """

    def __init__(self) -> None:
        self.keys: Counter[str] = Counter()

    def flatKey(
        self, fieldName: str, formatSpec: str | None, conversion: str | None
    ) -> str:
        """The key of one occurrence of a field, conversion and spec."""
        key = f"{fieldName}!{conversion or ''}:{formatSpec or ''}"
        self.keys[key] += 1
        seen = self.keys[key]
        return key if seen == 1 else f"{key}/{seen}"


def flattenEvent(event: dict[str, Any]) -> None:
    """Add (or complete) ``event["log_flattened"]`` from the event's fields.

    For each field of ``log_format`` it stores the text the field formats to
    (``str`` of the value, or ``repr`` with ``!r``; a ``()`` suffix calls the
    value first) and the value itself. Errors looking a field up propagate.
    """
    fmt = event.get("log_format", None)
    if fmt is None:
        return
    fields = event["log_flattened"] if "log_flattened" in event else {}
    keys = KeyFlattener()
    for _literal, fieldName, formatSpec, conversion in aFormatter.parse(fmt):
        if fieldName is None:
            continue
        asText = repr if conversion == "r" else str
        textKey = keys.flatKey(fieldName, formatSpec, "r" if conversion == "r" else "s")
        valueKey = keys.flatKey(fieldName, formatSpec, "")
        if textKey in fields:
            continue
        call = fieldName.endswith("()")
        lookup = fieldName[:-2] if call else fieldName
        value = aFormatter.get_field(lookup, (), event)[0]
        if call:
            value = value()
        fields[textKey] = asText(value)
        fields[valueKey] = value
    if fields:
        event["log_flattened"] = fields


def extractField(field: str, event: dict[str, Any]) -> Any:
    """The value of one format field of ``event``, as in ``"{" + field + "}"``.

    ``field`` may use attribute, index and call syntax (``"a.b"``,
    ``"x[0]"``, ``"f()"``); with a conversion (``"a!r"``, ``"a!s"``) the
    text is returned instead of the value. The event is flattened first if
    it is not already. Raises KeyError when the field is not in the event's
    format.
    """
    ((_literal, fieldName, formatSpec, conversion),) = aFormatter.parse(
        "{" + field + "}"
    )
    if fieldName is None:
        raise AssertionError(f"not a format field: {field!r}")
    key = KeyFlattener().flatKey(fieldName, formatSpec, conversion)
    if "log_flattened" not in event:
        flattenEvent(event)
    return event["log_flattened"][key]


def flatFormat(event: Mapping[str, Any]) -> str:
    """Format an event from its ``log_flattened`` text (format specs are not reapplied)."""
    texts = event["log_flattened"]
    keys = KeyFlattener()
    out = []
    for literal, fieldName, formatSpec, conversion in aFormatter.parse(
        event["log_format"]
    ):
        out.append(literal)
        if fieldName is not None:
            out.append(
                str(texts[keys.flatKey(fieldName, formatSpec, conversion or "s")])
            )
    return "".join(out)
