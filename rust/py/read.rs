//! Reading a socket into the `bytes` object handed to `dataReceived`.
//!
//! A read goes through a reused buffer of READ_SIZE bytes (Twisted's
//! bufferSize) and is copied into a bytes object of its exact size (small
//! objects come from Python's allocator). After a read that filled the
//! buffer more data is likely waiting (a stream): the next read lands
//! straight in a fresh bytes object, sparing the copy, which was 13% of a
//! streaming echo's profile.
//!
//! Reads stay at Twisted's 64 KiB, so `dataReceived` never gets more than
//! Twisted would give it. Measured on a streaming echo (4 connections,
//! 64 KiB chunks): 256 KiB reads, as uvloop makes, would take the CPU per
//! byte from 0.89x to 1.03x of uvloop's.

use std::cell::RefCell;
use std::io;
use std::os::fd::RawFd;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::core::sys;

/// Bytes read per recv: Twisted's bufferSize.
pub const READ_SIZE: usize = 65536;

thread_local! {
    static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0u8; READ_SIZE]);
}

unsafe extern "C" {
    // Documented in CPython's C API ("Bytes Objects"); PyO3 does not
    // re-export it. Shrinks a bytes object that no one else has seen yet.
    fn _PyBytes_Resize(bytes: *mut *mut ffi::PyObject, newsize: ffi::Py_ssize_t) -> i32;
}

/// Runs `f` on the reused read buffer (READ_SIZE bytes).
pub fn with_buffer<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    READ_BUF.with(|cell| f(&mut cell.borrow_mut()))
}

/// One recv on `fd`: `Ok(None)` at end of stream, else the bytes read and
/// whether they filled what was asked for (more is then likely waiting).
/// `streaming` (the last read was full) asks for a large read straight
/// into the bytes object.
pub fn read_bytes(
    py: Python<'_>,
    fd: RawFd,
    streaming: bool,
) -> io::Result<Option<(Bound<'_, PyBytes>, bool)>> {
    if streaming {
        return Ok(read_direct(py, fd)?.map(|b| {
            let full = b.as_bytes().len() == READ_SIZE;
            (b, full)
        }));
    }
    with_buffer(|buf| match sys::recv(fd, buf)? {
        0 => Ok(None),
        n => Ok(Some((PyBytes::new(py, &buf[..n]), n == buf.len()))),
    })
}

fn read_direct(py: Python<'_>, fd: RawFd) -> io::Result<Option<Bound<'_, PyBytes>>> {
    // SAFETY: with a null pointer CPython allocates an uninitialised bytes
    // object of READ_SIZE bytes (null on failure, with an exception
    // set).
    let mut obj = unsafe { ffi::PyBytes_FromStringAndSize(std::ptr::null(), READ_SIZE as _) };
    if obj.is_null() {
        let err = PyErr::fetch(py);
        return Err(io::Error::new(io::ErrorKind::OutOfMemory, err.to_string()));
    }
    // SAFETY: `obj` is a new bytes object we own; PyBytes_AsString points at
    // its READ_SIZE-byte buffer, which stays valid while we hold it, and no
    // Python code can see the object before we return it.
    let n = unsafe {
        let data = ffi::PyBytes_AsString(obj).cast::<u8>();
        sys::recv(fd, std::slice::from_raw_parts_mut(data, READ_SIZE))
    };
    let n = match n {
        Ok(n) => n,
        Err(e) => {
            // SAFETY: we own the only reference.
            unsafe { ffi::Py_DECREF(obj) };
            return Err(e);
        }
    };
    if n == 0 {
        // SAFETY: as above.
        unsafe { ffi::Py_DECREF(obj) };
        return Ok(None);
    }
    if n < READ_SIZE {
        // SAFETY: `obj` has refcount 1 and was never shared, as
        // _PyBytes_Resize requires; on failure it frees `obj`, sets it to
        // null and sets an exception.
        if unsafe { _PyBytes_Resize(&raw mut obj, n as _) } != 0 {
            let err = PyErr::fetch(py);
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, err.to_string()));
        }
    }
    // SAFETY: `obj` is a valid, owned bytes object.
    Ok(Some(unsafe {
        Bound::from_owned_ptr(py, obj).cast_into_unchecked()
    }))
}
