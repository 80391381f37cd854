"""Creating the reactor raises glibc's trim and mmap thresholds, as freeing
any large block would (rust/core/heap.rs): freed read buffers then stay in
the heap instead of being trimmed and faulted in again, page by page, on
the next reads. Checked in fresh interpreters, through glibc's mallinfo2."""

import platform
import subprocess
import sys

import pytest

PROBE = """
import ctypes, sys
libc = ctypes.CDLL(None)
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
        "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "reactor":
    from torsion.internet import reactor
else:
    import torsion.internet.protocol
before = libc.mallinfo2().hblks
block = libc.malloc(600_000)
print("mmap" if libc.mallinfo2().hblks > before else "heap")
libc.free(block)
"""

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="glibc's allocator only"
)


def where_a_600k_block_goes(what):
    out = subprocess.run(
        [sys.executable, "-c", PROBE, what],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


def test_blocks_of_600k_come_from_the_heap_once_a_reactor_exists():
    # Without a reactor glibc serves the block with mmap (its threshold is
    # still 128 KiB): the probe can tell the two apart.
    assert where_a_600k_block_goes("protocol only") == "mmap"
    assert where_a_600k_block_goes("reactor") == "heap"
