//! Bytes objects that came back unshared from `dataReceived` or from the
//! write queue, kept to carry the next reads instead of being freed while
//! a new one is allocated.
//!
//! A bytes object of more than 479 bytes does not fit CPython's small-object
//! allocator and comes from malloc, and glibc serves sizes above its
//! 1,032-byte thread cache from its sorted bins. On a 1 KiB echo, callgrind
//! counted 260 to 590 instructions per request in that malloc and free,
//! depending on the heap's history: up to a fifth of the server's user
//! space. Once the protocol's call has returned and the transport holds
//! the only reference, no one can see the object again, so it can be given
//! the next read's length and contents, as CPython's own `_PyBytes_Resize`
//! reshapes objects no one else holds.
//!
//! An object's capacity is taken to be the length it came back with (its
//! allocation is at least that), so a refill never writes past what the
//! object was allocated with.
//!
//! CPython layout: a refill writes `ob_size`, `ob_shash` and the contents
//! of a `PyBytesObject` directly. Checked against CPython 3.10 to 3.13;
//! on any other version nothing is kept (`give_back` drops, `take` finds
//! nothing) and reads allocate as CPython does.

use std::ptr::NonNull;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::py::gil_cell::GilCell;

/// Shorter objects come from CPython's small-object allocator, which is
/// cheap enough.
const MIN_LEN: usize = 512;
/// Longer objects than a default read are not kept.
const MAX_LEN: usize = 65536;
/// How many objects are kept (at most 512 KiB in all).
const MAX_SPARES: usize = 8;

struct Spare {
    obj: NonNull<ffi::PyObject>,
    capacity: usize,
}

static SPARES: GilCell<Vec<Spare>> = GilCell::new(Vec::new());

/// Whether the running CPython's bytes layout is one this was checked
/// against.
fn layout_known(py: Python<'_>) -> bool {
    static KNOWN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *KNOWN.get_or_init(|| {
        let v = py.version_info();
        (v.major, v.minor) >= (3, 10) && (v.major, v.minor) <= (3, 13)
    })
}

/// A bytes object holding a copy of `data`, a kept one if one fits.
pub fn bytes_from<'py>(py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
    match take(py, data.len()) {
        Some(obj) => {
            // SAFETY: `take` returned an unshared bytes object of exactly
            // `data.len()` bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(data.as_ptr(), contents(obj.as_ptr()), data.len());
            };
            obj
        }
        None => PyBytes::new(py, data),
    }
}

/// An unshared bytes object of exactly `len` bytes whose contents the
/// caller must fill, if a kept one fits `len` with no more than a quarter
/// of its capacity unused.
pub fn take(py: Python<'_>, len: usize) -> Option<Bound<'_, PyBytes>> {
    if !(MIN_LEN..=MAX_LEN).contains(&len) || !layout_known(py) {
        return None;
    }
    let spare = SPARES.with(py, |spares| {
        let at = spares
            .iter()
            .rposition(|s| s.capacity >= len && s.capacity - len <= s.capacity / 4)?;
        Some(spares.swap_remove(at))
    })?;
    let obj = spare.obj.as_ptr();
    // SAFETY: a kept object is a bytes object whose only reference the list
    // held (now ours), allocated for at least `capacity + 1` bytes of data:
    // setting its length to `len <= capacity` and writing the terminating
    // NUL at `len` stay inside it, and its cached hash is forgotten because
    // its contents are about to change.
    // The hash cache is deprecated in the C API but still read by
    // `bytes.__hash__` in every CPython this module builds for.
    #[allow(deprecated)]
    unsafe {
        (*obj.cast::<ffi::PyVarObject>()).ob_size = len as ffi::Py_ssize_t;
        (*obj.cast::<ffi::PyBytesObject>()).ob_shash = -1;
        *contents(obj).add(len) = 0;
        Some(Bound::from_owned_ptr(py, obj).cast_into_unchecked())
    }
}

/// Keeps `obj` for a later read if the caller holds its only reference and
/// it is worth keeping; otherwise it is simply dropped.
pub fn give_back(obj: Bound<'_, PyBytes>) {
    let py = obj.py();
    let len = obj.as_bytes().len();
    // SAFETY: plain reads of the object's type and reference count.
    let (exact, refcnt) = unsafe {
        (
            ffi::PyBytes_CheckExact(obj.as_ptr()) != 0,
            ffi::Py_REFCNT(obj.as_ptr()),
        )
    };
    if refcnt != 1 || !exact || !(MIN_LEN..=MAX_LEN).contains(&len) || !layout_known(py) {
        return;
    }
    let evicted = SPARES.with(py, |spares| {
        // A full list lets its oldest object go: kept objects whose size no
        // read asks for would otherwise block the list for good.
        let oldest = (spares.len() == MAX_SPARES).then(|| spares.remove(0));
        spares.push(Spare {
            obj: NonNull::new(obj.into_ptr()).expect("a Bound is never null"),
            capacity: len,
        });
        oldest
    });
    if let Some(old) = evicted {
        // SAFETY: the list held the only reference, which is now ours.
        drop(unsafe { Bound::<PyAny>::from_owned_ptr(py, old.obj.as_ptr()) });
    }
}

/// The contents of a bytes object, read without the GIL.
pub fn contents_of(obj: &Py<PyBytes>) -> &[u8] {
    let ptr = obj.as_ptr();
    // SAFETY: `obj` keeps the object alive for the slice's lifetime, and a
    // shared bytes object's length and contents never change (the list
    // above only reshapes unshared ones); reading them is plain memory
    // access, which needs no GIL.
    unsafe {
        let len = (*ptr.cast::<ffi::PyVarObject>()).ob_size as usize;
        std::slice::from_raw_parts(contents(ptr), len)
    }
}

/// Where a bytes object's contents start.
///
/// # Safety
/// `obj` must point to a bytes object.
unsafe fn contents(obj: *mut ffi::PyObject) -> *mut u8 {
    // SAFETY: see the contract; `ob_sval` is where CPython keeps them.
    unsafe {
        (*obj.cast::<ffi::PyBytesObject>())
            .ob_sval
            .as_mut_ptr()
            .cast::<u8>()
    }
}
