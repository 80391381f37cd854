"""Coverage-guided fuzzing of torsion's framing parsers with atheris.

    .venv/bin/pip install atheris
    .venv/bin/python benches/fuzz_parsers.py                 # 30 s
    .venv/bin/python benches/fuzz_parsers.py -runs=200000    # or a count

Each input chooses a parser (LineReceiver, LineOnlyReceiver,
NetstringReceiver, Int8/16/32StringReceiver), a length limit and a
chunking, then feeds the rest of its bytes to torsion's parser and to
Twisted's, each on a StringTransport.  Any difference in the callbacks
made, in the transport's state afterwards, or an exception from either,
stops the run with the input that caused it (libFuzzer's crash file).
The run is bounded: ``-max_total_time=30`` unless a limit is given.
tests/stress/test_fuzz_parsers.py is the bounded hypothesis version that
runs with the test suite.
"""

from __future__ import annotations

import sys
from typing import Any

import atheris

with atheris.instrument_imports(include=["torsion.protocols.basic"]):
    import torsion.internet.testing as s_testing
    import torsion.protocols.basic as s_basic

import twisted.internet.testing as t_testing  # noqa: E402
import twisted.protocols.basic as t_basic  # noqa: E402

KINDS = [
    "LineReceiver",
    "LineOnlyReceiver",
    "NetstringReceiver",
    "Int8StringReceiver",
    "Int16StringReceiver",
    "Int32StringReceiver",
]
LIMITS = [1, 3, 12, 50, 99999]


def build(basic: Any, kind: str, limit: int, events: list) -> Any:
    """A protocol of class ``kind`` that records every callback."""

    class Recorder(getattr(basic, kind)):
        MAX_LENGTH = limit

        def lineReceived(self, line: bytes) -> None:
            events.append(("line", line))
            if line == b"RAW":
                self.setRawMode()
            elif line == b"QUIT":
                self.transport.loseConnection()

        def rawDataReceived(self, data: bytes) -> None:
            events.append(("raw", data))
            head, sep, rest = data.partition(b"#")
            if sep:
                self.setLineMode(rest)

        def stringReceived(self, string: bytes) -> None:
            events.append(("string", string))

        def lineLengthExceeded(self, line: bytes) -> Any:
            events.append(("lineLengthExceeded", line))
            return super().lineLengthExceeded(line)

        def lengthLimitExceeded(self, length: int) -> None:
            events.append(("lengthLimitExceeded", length))
            super().lengthLimitExceeded(length)

    return Recorder()


def run(basic: Any, transportClass: Any, kind: str, limit: int, chunks: list) -> Any:
    events: list = []
    proto = build(basic, kind, limit, events)
    transport = transportClass()
    proto.makeConnection(transport)
    for chunk in chunks:
        if transport.disconnecting:
            break
        try:
            proto.dataReceived(chunk)
        except Exception as e:  # compared, not hidden
            events.append(("raised", type(e).__name__))
            break
    return events, transport.disconnecting, transport.value()


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    kind = KINDS[fdp.ConsumeIntInRange(0, len(KINDS) - 1)]
    limit = LIMITS[fdp.ConsumeIntInRange(0, len(LIMITS) - 1)]
    sizes = [fdp.ConsumeIntInRange(1, 16) for _ in range(fdp.ConsumeIntInRange(0, 8))]
    stream = fdp.ConsumeBytes(fdp.remaining_bytes())
    chunks = []
    pos = 0
    for i in range(len(stream)):
        if pos >= len(stream):
            break
        size = sizes[i % len(sizes)] if sizes else len(stream)
        chunks.append(stream[pos : pos + size])
        pos += size
    ours = run(s_basic, s_testing.StringTransport, kind, limit, chunks)
    theirs = run(t_basic, t_testing.StringTransport, kind, limit, chunks)
    if ours != theirs:
        raise AssertionError(
            f"{kind} MAX_LENGTH={limit} chunks={chunks!r}\n"
            f"torsion: {ours!r}\ntwisted: {theirs!r}"
        )


def main() -> None:
    argv = list(sys.argv)
    if not any(a.startswith(("-runs=", "-max_total_time=")) for a in argv[1:]):
        argv.append("-max_total_time=30")
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
