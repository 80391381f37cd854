"""torsion.logger's JSON events and files, and extractField, against Twisted 26.10.

Each parity test runs the same scenario on ``torsion`` and on ``twisted`` and
checks literal expected values, so that both halves are checked; the
cross-library tests write with one and read with the other.
"""

from __future__ import annotations

import gc
import importlib
import io
import json
import re
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torsion.internet.testing import flushLoggedErrors

IMPLS = ("torsion", "twisted")


def _namespace(name: str) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        name=name,
        logger=importlib.import_module(f"{name}.logger"),
        Failure=importlib.import_module(f"{name}.python.failure").Failure,
        defer=importlib.import_module(f"{name}.internet.defer"),
    )


NS = {name: _namespace(name) for name in IMPLS}
TORSION = NS["torsion"]
TWISTED = NS["twisted"]
PAIRS = [(w, r) for w in IMPLS for r in IMPLS]


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest) -> types.SimpleNamespace:
    """The torsion or the Twisted set of modules."""
    return NS[request.param]


def attempt(fn: Callable[..., Any], *a: Any) -> Any:
    """("ok", value) or (exception type name, args)."""
    try:
        return ("ok", fn(*a))
    except Exception as e:
        return (type(e).__name__, e.args)


def raiser(n: int) -> None:
    raise ValueError("boom")


def failureOf(impl: Any, captureVars: bool = False) -> Any:
    """A Failure of ValueError("boom") raised in ``raiser`` (called from here)."""
    try:
        raiser(3)
    except ValueError:
        return impl.Failure(captureVars=captureVars)
    raise AssertionError("raiser did not raise")


class Shown:
    """A value with distinct str and repr that JSON cannot hold."""

    def __str__(self) -> str:
        return "S!"

    def __repr__(self) -> str:
        return "<S>"


def richEvent(impl: Any) -> dict[Any, Any]:
    """An event using every field syntax and values JSON can and cannot hold."""
    return {
        "log_format": "{a.b} {c[0]} {f()} {x!r} {x} {x} {s} {s!r} {x:>5}",
        "log_level": impl.logger.LogLevel.info,
        "a": types.SimpleNamespace(b=3),
        "c": [7],
        "f": lambda: "called",
        "x": "v",
        "s": Shown(),
        b"bytesKey": 1,
        (1, 2): 2,
        3: "three",
        "by": b"\xff\x00a",
        "set": {1},
        "n": None,
        "u": "é\u2603",
    }


def countless(text: str) -> str:
    """JSON text with the Failure counter (a process-wide serial) blanked."""
    return re.sub(r'"count": \d+', '"count": N', text)


# --- eventAsJSON -----------------------------------------------------------------


def test_event_as_json_literal(impl: Any) -> None:
    L = impl.logger
    event = {
        "log_format": "hi {x}",
        "x": 1,
        "log_level": L.LogLevel.warn,
        "log_namespace": "n",
    }
    text = L.eventAsJSON(event)
    assert text == (
        '{"log_format": "hi {x}", "x": 1, "log_level": {"name": "warn", '
        '"__class_uuid__": "02e59486-f24d-46ad-8224-3acdf2a5732a"}, '
        '"log_namespace": "n", "log_flattened": {"x!s:": "1", "x!:": 1}}'
    )
    # The event itself is flattened in place, as Twisted does.
    assert event["log_flattened"] == {"x!s:": "1", "x!:": 1}
    assert "\n" not in L.eventAsJSON({"log_format": "a\nb", "t": "c\nd"})


def test_event_as_json_same_text_in_both() -> None:
    texts = {name: NS[name].logger.eventAsJSON(richEvent(NS[name])) for name in IMPLS}
    assert texts["torsion"] == texts["twisted"]
    plain = json.loads(texts["torsion"])
    assert list(plain) == [
        "log_format",
        "log_level",
        "a",
        "c",
        "f",
        "x",
        "s",
        "3",
        "by",
        "set",
        "n",
        "u",
        "log_flattened",
    ]
    unpersistable = {"unpersistable": True}
    assert (plain["a"], plain["f"], plain["s"], plain["set"]) == (unpersistable,) * 4
    assert (plain["3"], plain["by"], plain["n"], plain["u"]) == (
        "three",
        "\xff\x00a",
        None,
        "é\u2603",
    )
    assert plain["log_flattened"] == {
        "a.b!s:": "3",
        "a.b!:": 3,
        "c[0]!s:": "7",
        "c[0]!:": 7,
        "f()!s:": "called",
        "f()!:": "called",
        "x!r:": "'v'",
        "x!:": "v",
        "x!s:": "v",
        "x!:/2": "v",
        "x!s:/2": "v",
        "x!:/3": "v",
        "s!s:": "S!",
        "s!:": unpersistable,
        "s!r:": "<S>",
        "s!:/2": unpersistable,
        "x!s:>5": "v",
        "x!:>5": "v",
    }


def test_event_without_format_is_not_flattened(impl: Any) -> None:
    L = impl.logger
    event = {"log_format": None, "x": 1}
    assert L.eventAsJSON(event) == '{"log_format": null, "x": 1}'
    assert "log_flattened" not in event
    assert L.eventAsJSON({}) == "{}"


def test_event_with_missing_field_cannot_be_encoded(impl: Any) -> None:
    assert attempt(impl.logger.eventAsJSON, {"log_format": "{nope}"}) == (
        "KeyError",
        ("nope",),
    )


def test_round_trip_formats_from_flattened_text(impl: Any) -> None:
    L = impl.logger
    event = richEvent(impl)
    assert L.formatEvent(event) == "3 7 called 'v' v v S! <S>     v"
    back = L.eventFromJSON(L.eventAsJSON(event))
    # A flattened event is formatted from its stored text, where format specs
    # were not applied (Twisted's behaviour): "{x:>5}" comes out as "v".
    assert L.formatEvent(back) == "3 7 called 'v' v v S! <S> v"
    assert L.formatEvent(event) == "3 7 called 'v' v v S! <S> v"
    assert back["log_level"] is L.LogLevel.info
    assert back["a"] == {"unpersistable": True}


def test_flattened_event_missing_a_key_is_unformattable(impl: Any) -> None:
    L = impl.logger
    event = {"log_format": "{x}", "log_flattened": {}}
    assert L.formatEvent(event) == (
        "Unable to format event {'log_format': '{x}', 'log_flattened': {}}: 'x!s:'"
    )


# --- extractField -------------------------------------------------------------------


def fieldEvent() -> dict[str, Any]:
    return {
        "log_format": "{a.b} {c[0]} {f()} {x!r} {n}",
        "a": types.SimpleNamespace(b=3),
        "c": [7, 8],
        "f": lambda: "called",
        "x": "v",
        "n": None,
        "other": 1,
    }


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("a.b", ("ok", 3)),
        ("c[0]", ("ok", 7)),
        ("f()", ("ok", "called")),
        ("x", ("ok", "v")),
        ("x!r", ("ok", "'v'")),
        ("n", ("ok", None)),
        ("x!s", ("KeyError", ("x!s:",))),
        ("other", ("KeyError", ("other!:",))),
        ("c[1]", ("KeyError", ("c[1]!:",))),
        ("a.b:>5", ("KeyError", ("a.b!:>5",))),
    ],
)
def test_extract_field(impl: Any, field: str, expected: Any) -> None:
    event = fieldEvent()
    assert attempt(impl.logger.extractField, field, event) == expected
    assert "log_flattened" in event


def test_extract_field_after_json_round_trip(impl: Any) -> None:
    L = impl.logger
    back = L.eventFromJSON(L.eventAsJSON(fieldEvent()))
    assert back["a"] == {"unpersistable": True}
    assert [L.extractField(f, back) for f in ("a.b", "c[0]", "f()", "x!r")] == [
        3,
        7,
        "called",
        "'v'",
    ]


def test_extract_field_errors(impl: Any) -> None:
    X = impl.logger.extractField
    assert attempt(X, "x", {"x": 1}) == ("KeyError", ("log_flattened",))
    assert attempt(X, "x", {"log_format": "{missing}", "x": 1}) == (
        "KeyError",
        ("missing",),
    )
    assert attempt(X, "a.b", {"log_format": "{a.b}", "a": 1})[0] == "AttributeError"
    assert attempt(X, "x:{y}", {"log_format": "{x:{y}}", "x": 1, "y": 2}) == (
        "ok",
        1,
    )


# --- levels and failures --------------------------------------------------------------


@pytest.mark.parametrize(("writer", "reader"), PAIRS)
@pytest.mark.parametrize("name", ["debug", "info", "warn", "error", "critical"])
def test_levels_cross_round_trip(writer: str, reader: str, name: str) -> None:
    W, R = NS[writer].logger, NS[reader].logger
    text = W.eventAsJSON({"log_level": getattr(W.LogLevel, name)})
    assert R.eventFromJSON(text)["log_level"] is getattr(R.LogLevel, name)


def test_unknown_level_name_reads_as_none(impl: Any) -> None:
    text = (
        '{"log_level": {"name": "loud", '
        '"__class_uuid__": "02e59486-f24d-46ad-8224-3acdf2a5732a"}}'
    )
    assert impl.logger.eventFromJSON(text) == {"log_level": None}


def test_failure_json_same_text_in_both() -> None:
    texts = {
        name: NS[name].logger.eventAsJSON(
            {"log_format": "oops", "log_failure": failureOf(NS[name])}
        )
        for name in IMPLS
    }
    assert countless(texts["torsion"]) == countless(texts["twisted"])
    plain = json.loads(texts["torsion"])["log_failure"]
    assert list(plain) == [
        "count",
        "type",
        "value",
        "captureVars",
        "tb",
        "parents",
        "stack",
        "frames",
        "pickled",
        "__class_uuid__",
    ]
    assert plain["type"] == {"__module__": "builtins", "__name__": "ValueError"}
    assert plain["value"] == {"unpersistable": True}
    assert [frame[0] for frame in plain["frames"]] == ["failureOf", "raiser"]
    assert plain["__class_uuid__"] == "e76887e2-20ed-49bf-a8f8-ba25cc586f2d"


def test_cleaned_failure_json_keys_in_both() -> None:
    def cleaned(impl: Any) -> list[str]:
        f = failureOf(impl)
        f.cleanFailure()
        return list(json.loads(impl.logger.eventAsJSON({"f": f}))["f"])

    assert cleaned(TORSION) == cleaned(TWISTED)


@pytest.mark.parametrize(("writer", "reader"), PAIRS)
def test_failure_cross_round_trip(writer: str, reader: str) -> None:
    original = failureOf(NS[writer])
    text = NS[writer].logger.eventAsJSON({"log_failure": original})
    back = NS[reader].logger.eventFromJSON(text)["log_failure"]
    assert isinstance(back, NS[reader].Failure)
    assert (back.type.__name__, back.type.__module__, back.tb, back.pickled) == (
        "ValueError",
        "builtins",
        None,
        1,
    )
    assert back.check("builtins.ValueError") == "builtins.ValueError"
    # The exception itself is not kept: its message reads as the marker.
    assert back.getTraceback() == original.getTraceback().replace(
        "ValueError: boom", "ValueError: {'unpersistable': True}"
    )


def test_failure_with_captured_vars_round_trip(impl: Any) -> None:
    L = impl.logger
    back = L.eventFromJSON(L.eventAsJSON({"f": failureOf(impl, captureVars=True)}))
    name, _file, _line, localVars, globalVars = back["f"].frames[-1]
    assert (name, localVars) == ("raiser", [["n", "3"]])
    assert ["__name__", "'test_logger_json'"] in globalVars


# --- files --------------------------------------------------------------------------


def test_json_file_observer_text_file(impl: Any) -> None:
    out = io.StringIO()
    observer = impl.logger.jsonFileLogObserver(out)
    observer({"log_format": "a {x}", "x": "é"})
    observer({"y": 2})
    assert out.getvalue() == (
        '\x1e{"log_format": "a {x}", "x": "\\u00e9", '
        '"log_flattened": {"x!s:": "\\u00e9", "x!:": "\\u00e9"}}\n'
        '\x1e{"y": 2}\n'
    )


def test_json_file_observer_binary_file_and_separator(impl: Any) -> None:
    out = io.BytesIO()
    observer = impl.logger.jsonFileLogObserver(out, recordSeparator="")
    observer({"y": 2})
    observer({"z": "\x1e"})
    assert out.getvalue() == b'{"y": 2}\n{"z": "\\u001e"}\n'
    events = list(impl.logger.eventsFromJSONLogFile(io.BytesIO(out.getvalue())))
    assert events == [{"y": 2}, {"z": "\x1e"}]


def fileEvents(impl: Any) -> list[dict[str, Any]]:
    L = impl.logger
    return [
        {"log_format": "hello {who}", "who": "wörld", "log_level": L.LogLevel.info},
        {"log_format": "{data!r}", "data": b"\x00\xff", "log_level": L.LogLevel.warn},
        {"log_format": "failed", "log_failure": failureOf(impl)},
        {"plain": [1, 2.5, None, True]},
    ]


@pytest.mark.parametrize(("writer", "reader"), PAIRS)
@pytest.mark.parametrize("mode", ["b", "t"])
@pytest.mark.parametrize("bufferSize", [1, 7, 4096])
def test_files_read_by_either_library(
    tmp_path: Path, writer: str, reader: str, mode: str, bufferSize: int
) -> None:
    W, R = NS[writer].logger, NS[reader].logger
    path = tmp_path / "log.json"
    with path.open("wb") as out:
        observer = W.jsonFileLogObserver(out)
        for event in fileEvents(NS[writer]):
            observer(event)
    opened = path.open("rb") if mode == "b" else path.open(encoding="utf-8")
    with opened as inFile:
        events = list(R.eventsFromJSONLogFile(inFile, bufferSize=bufferSize))
    assert [R.formatEvent(e) for e in events] == [
        "hello wörld",
        "b'\\x00\\xff'",
        "failed",
        "",
    ]
    assert [e.get("log_level") for e in events] == [
        R.LogLevel.info,
        R.LogLevel.warn,
        None,
        None,
    ]
    assert events[1]["data"] == "\x00\xff"
    assert events[2]["log_failure"].type.__name__ == "ValueError"
    assert events[3] == {"plain": [1, 2.5, None, True]}


def test_logger_events_through_a_json_file(impl: Any) -> None:
    out = io.StringIO()
    seen: list[dict[str, Any]] = []
    toFile = impl.logger.jsonFileLogObserver(out)

    def observer(event: dict[str, Any]) -> None:
        seen.append(event)
        toFile(event)

    log = impl.logger.Logger(namespace="app", observer=observer)
    log.info("hello {who}", who="you")
    log.failure("failed {n}", failureOf(impl), n=2)
    events = list(impl.logger.eventsFromJSONLogFile(io.StringIO(out.getvalue())))
    assert [impl.logger.formatEvent(e) for e in events] == ["hello you", "failed 2"]
    assert [(e["log_namespace"], e["log_level"].name) for e in events] == [
        ("app", "info"),
        ("app", "critical"),
    ]
    assert [e["log_time"] for e in events] == [e["log_time"] for e in seen]
    assert (events[0]["log_logger"], events[0]["log_source"]) == (
        {"unpersistable": True},
        None,
    )
    text = impl.logger.eventAsText(events[1], includeTimestamp=False)
    assert text.startswith("[app#critical] failed 2\nTraceback (most recent call")
    assert text.endswith("builtins.ValueError: {'unpersistable': True}\n")


# --- hostile input ------------------------------------------------------------------

TRUNCATED = "Unable to read truncated JSON record: "
UNREADABLE = "Unable to read JSON record: "
NOT_UTF8 = "Unable to decode UTF-8 for JSON record: "

HOSTILE = [
    # (name, file content, recordSeparator, events read, errors logged)
    (
        "truncated last record",
        '\x1e{"x": 1}\n\x1e{"x": 2',
        None,
        [{"x": 1}],
        [TRUNCATED + "b'{\"x\": 2'"],
    ),
    (
        "truncated middle record",
        '\x1e{"x": 1}\x1e{"x": 2}\n',
        None,
        [{"x": 2}],
        [TRUNCATED + "b'{\"x\": 1}'"],
    ),
    (
        "bad JSON",
        '\x1e{bad}\n\x1e{"y": 1}\n',
        None,
        [{"y": 1}],
        [UNREADABLE + "b'{bad}\\n'"],
    ),
    (
        "not UTF-8",
        b'\x1e\xff\xfe\n\x1e{"z": 1}\n',
        None,
        [{"z": 1}],
        [NOT_UTF8 + "b'\\xff\\xfe\\n'"],
    ),
    (
        "separator missing between records",
        '\x1e{"a": 1}\n{"b": 2}\n\x1e{"c": 3}\n',
        None,
        [{"c": 3}],
        [UNREADABLE + 'b\'{"a": 1}\\n{"b": 2}\\n\''],
    ),
    (
        "no separators: one JSON text per line",
        '{"a": 1}\n\n{"b": 2}',
        None,
        [{"a": 1}, {"b": 2}],
        [],
    ),
    (
        "no separators, bad line",
        '{"a": 1}\n{"b": \n{"c": 3}\n',
        None,
        [{"a": 1}, {"c": 3}],
        [UNREADABLE + "b'{\"b\": '"],
    ),
    ("not objects", '\x1e3\n\x1e[1]\n\x1e"s"\n', None, [3, [1], "s"], []),
    (
        "explicit separator",
        '\x1f{"a": 1}\n\x1f{"b": 2}\n',
        "\x1f",
        [{"a": 1}, {"b": 2}],
        [],
    ),
    (
        "explicit separator, file uses another",
        '\x1e{"a": 1}\n',
        "\x1f",
        [],
        [UNREADABLE + "b'\\x1e{\"a\": 1}\\n'"],
    ),
    ("empty", "", None, [], []),
    ("separators only", "\x1e\x1e\x1e", None, [], []),
    (
        "malformed class tag",
        '\x1e{"__class_uuid__": "nope"}\n',
        None,
        [],
        [UNREADABLE + 'b\'{"__class_uuid__": "nope"}\\n\''],
    ),
    ("NUL in a string", '\x1e{"a": "\\u0000"}\n', None, [{"a": "\x00"}], []),
]


def readHostile(impl: Any, content: Any, separator: Any, bufferSize: int) -> Any:
    """(events read, [(level, namespace, message)] of the errors logged)."""
    logged: list[Any] = []

    def observer(event: dict[str, Any]) -> None:
        if event.get("log_namespace") == f"{impl.name}.logger._json":
            message = impl.logger.formatEvent(event)
            logged.append((event["log_level"].name, message))

    publisher = impl.logger.globalLogPublisher
    publisher.addObserver(observer)
    try:
        data = (
            io.BytesIO(content) if isinstance(content, bytes) else io.StringIO(content)
        )
        events = list(impl.logger.eventsFromJSONLogFile(data, separator, bufferSize))
    finally:
        publisher.removeObserver(observer)
    return events, logged


@pytest.mark.parametrize(
    ("content", "separator", "events", "errors"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
@pytest.mark.parametrize("bufferSize", [1, 3, 4096])
def test_hostile_files_are_logged_and_skipped(
    impl: Any, content: Any, separator: Any, events: Any, errors: Any, bufferSize: int
) -> None:
    read, logged = readHostile(impl, content, separator, bufferSize)
    assert read == events
    assert logged == [("error", message) for message in errors]


def test_unknown_class_tag_raises(impl: Any) -> None:
    """An unknown ``__class_uuid__`` is a KeyError out of the reader (Twisted's
    behaviour: only ValueError from decoding is logged and skipped)."""
    content = '\x1e{"__class_uuid__": "00000000-0000-0000-0000-000000000000"}\n'
    reader = impl.logger.eventsFromJSONLogFile(io.StringIO(content))
    with pytest.raises(KeyError):
        list(reader)


def test_reader_is_lazy(impl: Any) -> None:
    """Nothing is read until the first event is asked for."""

    class Counting(io.StringIO):
        reads = 0

        def read(self, size: int | None = -1) -> str:
            self.reads += 1
            return super().read(size)

    source = Counting('\x1e{"a": 1}\n\x1e{"b": 2}\n')
    events = impl.logger.eventsFromJSONLogFile(source, bufferSize=4096)
    assert source.reads == 0
    assert next(events) == {"a": 1}
    assert source.reads == 2
    assert list(events) == [{"b": 2}]


# --- generated events -------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
_keys = st.text(max_size=6).filter(lambda k: k not in ("log_format", "log_flattened"))
_names = st.sampled_from(["a", "b", "c"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _json, max_size=5))
def test_generated_plain_events(event: dict[str, Any]) -> None:
    for value in event.values():
        if isinstance(value, dict) and "__class_uuid__" in json.dumps(value):
            return
    texts = [NS[name].logger.eventAsJSON(dict(event)) for name in IMPLS]
    assert texts[0] == texts[1]
    assert TORSION.logger.eventFromJSON(texts[0]) == json.loads(texts[0])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="xy é{}", max_size=4),
            _names,
            st.sampled_from([None, "r", "s"]),
        ),
        max_size=5,
    ),
    st.fixed_dictionaries({"a": _json, "b": st.text(max_size=5), "c": st.integers()}),
)
def test_generated_formats_survive_a_round_trip(
    parts: list[tuple[str, str, str | None]], values: dict[str, Any]
) -> None:
    fmt = "".join(
        literal.replace("{", "{{").replace("}", "}}")
        + "{"
        + name
        + ("!" + conversion if conversion else "")
        + "}"
        for literal, name, conversion in parts
    )
    results = []
    for name in IMPLS:
        L = NS[name].logger
        event = dict(values, log_format=fmt)
        expected = L.formatEvent(dict(event))
        text = L.eventAsJSON(event)
        assert L.formatEvent(L.eventFromJSON(text)) == expected
        results.append((text, expected))
    assert results[0] == results[1]


# --- unformattable events ------------------------------------------------------------


class Broken:
    def __repr__(self) -> str:
        raise ValueError("no")

    def __str__(self) -> str:
        raise ValueError("no")


class BrokenClass(Broken):
    @property  # type: ignore[misc]
    def __class__(self) -> type:  # type: ignore[override]
        raise RuntimeError("no class")


_SKELETON = re.compile(
    r"^(MESSAGE LOST|Recoverable data|Traceback|During handling|ValueError|"
    r"KeyError|Exception during|\[Failure instance|>$|\]$)"
)


def skeleton(impl: Any, text: str) -> list[str]:
    """The lines of an unformattable-event text that do not name files."""
    text = re.sub(r"0x[0-9a-f]+", "0xADDR", text.replace(f"{impl.name}.", "PKG."))
    return [line for line in text.splitlines() if _SKELETON.match(line)]


@pytest.mark.parametrize(
    ("make", "head"),
    [
        (
            lambda: {"log_format": "{b}", "b": Broken()},
            [
                "MESSAGE LOST: unformattable object logged: ValueError('no')",
                "Recoverable data: 'log_format' = '{b}', 'b' = <Broken instance at "
                "0xADDR with repr error:",
            ],
        ),
        (
            lambda: {"log_format": "{b}", "b": BrokenClass()},
            [
                "MESSAGE LOST: unformattable object logged: ValueError('no')",
                "Recoverable data: 'log_format' = '{b}', 'b' = <BrokenClass instance "
                "at 0xADDR with repr error:",
            ],
        ),
        (
            lambda: {"log_format": "{missing}", Broken(): 1},
            [
                "MESSAGE LOST: unformattable object logged: KeyError('missing')",
                "Recoverable data: 'log_format' = '{missing}', <Broken instance at "
                "0xADDR with repr error:",
            ],
        ),
    ],
    ids=["value", "broken class", "key"],
)
def test_unformattable_event_text(impl: Any, make: Any, head: list[str]) -> None:
    text = impl.logger.formatEvent(make())
    lines = skeleton(impl, text)
    assert lines[:2] == head
    assert lines[-3:] == [
        "Exception during formatting:",
        "[Failure instance: Traceback: <class 'ValueError'>: no",
        "]",
    ]
    assert text.splitlines()[-2].endswith(":__repr__")
    assert skeleton(TORSION, TORSION.logger.formatEvent(make())) == skeleton(
        TWISTED, TWISTED.logger.formatEvent(make())
    )


# --- unhandled failure in a collected Deferred ----------------------------------------


def test_unhandled_failure_events_through_a_json_file(impl: Any) -> None:
    """The two events Twisted logs for a lost failure (header, then the
    failure) survive a JSON file and read back the same in both."""
    # Errors earlier tests logged and left: not this test's to count.
    flushLoggedErrors()
    out = io.StringIO()
    toFile = impl.logger.jsonFileLogObserver(out)
    namespace = f"{impl.name}.internet.defer"

    def observer(event: dict[str, Any]) -> None:
        if event.get("log_namespace") == namespace:
            toFile(event)

    impl.logger.globalLogPublisher.addObserver(observer)
    try:
        d = impl.defer.fail(failureOf(impl))
        del d
        gc.collect()
    finally:
        impl.logger.globalLogPublisher.removeObserver(observer)
    if impl.name == "torsion":
        assert [f.getErrorMessage() for f in flushLoggedErrors(ValueError)] == ["boom"]
    events = list(impl.logger.eventsFromJSONLogFile(io.StringIO(out.getvalue())))
    assert [
        (
            impl.logger.formatEvent(e),
            e["log_level"].name,
            e.get("isError"),
            e.get("debugInfo"),
        )
        for e in events
    ] == [
        ("Unhandled error in Deferred:", "critical", True, None),
        ("", "critical", None, ""),
    ]
    assert events[1]["log_failure"].type.__name__ == "ValueError"
