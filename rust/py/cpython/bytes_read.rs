//! Reading a stream's layer into the `bytes` objects handed to
//! `dataReceived`. CPython layout: objects made uninitialised and written
//! in place, then shrunk with `_PyBytes_Resize` (public C API since 3.0;
//! checked against 3.10-3.13).
//!
//! No `dataReceived` call gets more than the transport's bufferSize
//! (Twisted's, 64 KiB by default). A read goes through a reused buffer and
//! is copied into a bytes object of its exact size (a spare one when one
//! fits, see spare_bytes.rs). On a stream (the transport decides: a read of
//! half a bufferSize or more) reads go straight into bytes objects of
//! bufferSize instead, up to 256 KiB per turn in one readv (see
//! `read_stream` in stream/read.rs). Measured on a streaming echo (4
//! connections, server CPU per byte, 6 interleaved rounds): 64 KiB reads
//! through the copying path reached 0.85x uvloop, 256 KiB readv 0.93x;
//! readv of 512 KiB were slower than 256 KiB (0.88x of them).

use std::io::{self, IoSliceMut};
use std::os::fd::OwnedFd;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::py::cpython::spare_bytes;
use crate::py::gil_cell::GilCell;
use crate::py::stream::layer::Layer;

/// Twisted's default bufferSize: the most one `dataReceived` gets, and the
/// size of the reused read buffer.
pub const READ_SIZE: usize = 65536;
/// Bytes a stream delivers per turn, in chunks of bufferSize...
const STREAM_TURN_BYTES: usize = 4 * READ_SIZE;
/// ...and at most this many chunks.
const STREAM_TURN_CHUNKS: usize = 4;

/// How many chunks of `size` bytes a stream delivers per turn.
pub fn stream_turn_chunks(size: usize) -> usize {
    (STREAM_TURN_BYTES / size).clamp(1, STREAM_TURN_CHUNKS)
}

/// Allocated on first use.
static READ_BUF: GilCell<Vec<u8>> = GilCell::new(Vec::new());

unsafe extern "C" {
    // Documented in CPython's C API ("Bytes Objects"); PyO3 does not
    // re-export it. Shrinks a bytes object that no one else has seen yet.
    fn _PyBytes_Resize(bytes: *mut *mut ffi::PyObject, newsize: ffi::Py_ssize_t) -> i32;
}

/// Runs `f`, which must not run Python code, on the reused read buffer
/// (READ_SIZE bytes).
pub fn with_buffer<R>(py: Python<'_>, f: impl FnOnce(&mut [u8]) -> R) -> R {
    READ_BUF.with(py, |buf| {
        if buf.is_empty() {
            buf.resize(READ_SIZE, 0);
        }
        f(buf)
    })
}

/// One read of at most `size` bytes from `layer`: `Ok(None)` at end of
/// stream, else the bytes read and whether they filled `size` (more is
/// then likely waiting). Up to READ_SIZE the read goes through the reused
/// buffer. Descriptors that came with the bytes go to `fds`.
pub fn read_bytes<'py>(
    py: Python<'py>,
    layer: &Layer,
    size: usize,
    fds: &mut Vec<OwnedFd>,
) -> io::Result<Option<(Bound<'py, PyBytes>, bool)>> {
    if size > READ_SIZE {
        let (mut chunks, full) = read_chunks(py, layer, size, 1, fds)?;
        return Ok(chunks.pop().map(|c| (c, full)));
    }
    with_buffer(py, |buf| match layer.read(&mut buf[..size], fds)? {
        0 => Ok(None),
        n => Ok(Some((spare_bytes::bytes_from(py, &buf[..n]), n == size))),
    })
}

/// One scatter read from `layer` straight into `count` (at least one)
/// fresh bytes objects of `size` bytes: the chunks read, in order (none at
/// end of stream), and whether they were all filled.
pub fn read_chunks<'py>(
    py: Python<'py>,
    layer: &Layer,
    size: usize,
    count: usize,
    fds: &mut Vec<OwnedFd>,
) -> io::Result<(Vec<Bound<'py, PyBytes>>, bool)> {
    let count = count.max(1);
    let mut chunks = Vec::with_capacity(count);
    for _ in 0..count {
        chunks.push(new_uninit_bytes(py, size)?);
    }
    let n = {
        let mut iov: Vec<IoSliceMut<'_>> = chunks
            .iter()
            .map(|b| {
                // SAFETY: each object is a new `size`-byte bytes object
                // that only we hold and no Python code has seen: writing
                // into its buffer is what it was allocated for, and it
                // outlives `iov`.
                unsafe {
                    let data = ffi::PyBytes_AsString(b.as_ptr()).cast::<u8>();
                    IoSliceMut::new(std::slice::from_raw_parts_mut(data, size))
                }
            })
            .collect();
        layer.read_vectored(&mut iov, fds)?
    };
    let used = n.div_ceil(size);
    // Chunks the read did not reach go back for later reads.
    for unused in chunks.drain(used..) {
        spare_bytes::give_back(unused);
    }
    let tail = n - used.saturating_sub(1) * size;
    if let Some(last) = chunks.pop() {
        chunks.push(if tail < size {
            shrink(py, last, tail)?
        } else {
            last
        });
    }
    Ok((chunks, n == count * size))
}

fn new_uninit_bytes(py: Python<'_>, size: usize) -> io::Result<Bound<'_, PyBytes>> {
    if let Some(spare) = spare_bytes::take(py, size) {
        return Ok(spare);
    }
    let len = ffi::Py_ssize_t::try_from(size)
        .map_err(|_| io::Error::new(io::ErrorKind::OutOfMemory, "bufferSize too large"))?;
    // SAFETY: with a null pointer CPython allocates an uninitialised bytes
    // object of `len` bytes (null on failure, with an exception set).
    let obj = unsafe { ffi::PyBytes_FromStringAndSize(std::ptr::null(), len) };
    if obj.is_null() {
        return Err(out_of_memory(py));
    }
    // SAFETY: `obj` is a new, owned bytes object.
    Ok(unsafe { Bound::from_owned_ptr(py, obj).cast_into_unchecked() })
}

/// Cuts a chunk that the read did not fill down to the `len` bytes read.
fn shrink<'py>(
    py: Python<'py>,
    chunk: Bound<'py, PyBytes>,
    len: usize,
) -> io::Result<Bound<'py, PyBytes>> {
    let mut obj = chunk.into_ptr();
    // SAFETY: `obj` has refcount 1 and was never shared, as _PyBytes_Resize
    // requires; on failure it frees `obj`, sets it to null and sets an
    // exception.
    if unsafe { _PyBytes_Resize(&raw mut obj, len as _) } != 0 {
        return Err(out_of_memory(py));
    }
    // SAFETY: `obj` is again a valid, owned bytes object.
    Ok(unsafe { Bound::from_owned_ptr(py, obj).cast_into_unchecked() })
}

fn out_of_memory(py: Python<'_>) -> io::Error {
    let err = PyErr::fetch(py);
    io::Error::new(io::ErrorKind::OutOfMemory, err.to_string())
}
