//! `write` as the concrete transport classes (`tcp.Server`, `tcp.Client`)
//! see it: a method defined on each of them, not only inherited from
//! `Stream`.
//!
//! CPython 3.11 turns `self.transport.write(data)` into a direct call of
//! the C function only when the instance's type is exactly the class that
//! defines the method. PyO3 defines `write` on `Stream`, and every
//! transport is an instance of a Python subclass, so each call went
//! through the generic path (a bound-method check, PyO3's argument parser
//! and trampoline): about 180 instructions per call on a 1 KiB echo.
//! `_install_fast_write` puts a method with the same behaviour on each
//! concrete class (tcp.py calls it for `Server` and `Client`).
//! Calls with one positional argument go straight to `write_data`; any
//! other call is handed to PyO3's method, so that keyword use and the
//! errors for bad arguments stay exactly as they were.
//!
//! CPython: only public C API (`PyDescr_NewMethod`, METH_FASTCALL |
//! METH_KEYWORDS); the speed-up relies on 3.11+'s call specialisation.
//! Checked against CPython 3.10 to 3.13; on others the method still
//! works, at worst without the speed-up.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::py::stream::Stream;

struct MethodDef(ffi::PyMethodDef);

// SAFETY: the definition is immutable and holds pointers to static data
// only; CPython reads it and never writes to it.
unsafe impl Sync for MethodDef {}

static WRITE: MethodDef = MethodDef(ffi::PyMethodDef {
    ml_name: c"write".as_ptr(),
    ml_meth: ffi::PyMethodDefPointer {
        PyCFunctionFastWithKeywords: write_fastcall,
    },
    ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
    ml_doc: c"write($self, data)\n--\n\nQueues `data` (bytes only) to be sent.".as_ptr(),
});

/// Defines `write` on `cls`, a subclass of Stream.
#[pyfunction]
pub fn _install_fast_write(cls: &Bound<'_, PyType>) -> PyResult<()> {
    if !cls.is_subclass_of::<Stream>()? || cls.is(cls.py().get_type::<Stream>()) {
        return Err(PyTypeError::new_err(
            "_install_fast_write takes a subclass of Stream",
        ));
    }
    let def = (&raw const WRITE.0).cast_mut();
    // SAFETY: `cls` is a live type object and `def` a static method
    // definition; CPython returns a new reference or null with an
    // exception set.
    let descr = unsafe { ffi::PyDescr_NewMethod(cls.as_type_ptr(), def) };
    if descr.is_null() {
        return Err(PyErr::fetch(cls.py()));
    }
    // SAFETY: a new, owned reference.
    let descr = unsafe { Bound::from_owned_ptr(cls.py(), descr) };
    cls.setattr("write", descr)
}

/// The C function behind the installed `write`.
///
/// # Safety
/// Called by CPython with the GIL held, as a method of a class given to
/// `_install_fast_write`: `slf` is an instance of it (CPython's method
/// descriptor checks that), and `args` holds `nargs` positional arguments
/// followed by one per name in `kwnames` (a tuple, or null).
unsafe extern "C" fn write_fastcall(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls methods with the thread attached. (Not
    // `Python::attach`, whose bookkeeping costs two thread-local accesses
    // per call. Without it, a `Py` handle dropped here while no PyO3 frame
    // is on the stack defers its decref to PyO3's pool, which the next
    // PyO3 call empties; the common path drops none.)
    let py = unsafe { Python::assume_attached() };
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: see the function's contract.
        unsafe { call(py, slf, args, nargs, kwnames) }
    }));
    let result =
        result.unwrap_or_else(|_| Err(PanicException::new_err("torsion panicked in Stream.write")));
    match result {
        Ok(obj) => obj,
        Err(e) => {
            e.restore(py);
            std::ptr::null_mut()
        }
    }
}

/// # Safety
/// As `write_fastcall`.
unsafe fn call(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<*mut ffi::PyObject> {
    // SAFETY: `slf` is a live instance of a Stream subclass, borrowed
    // for the call.
    let transport = unsafe { Bound::from_borrowed_ptr(py, slf) };
    if nargs == 1 && kwnames.is_null() {
        // SAFETY: one positional argument, borrowed for the call.
        let data = unsafe { Bound::from_borrowed_ptr(py, *args) };
        // SAFETY: see above: the instance is a Stream.
        let transport = unsafe { transport.cast_unchecked::<Stream>() };
        Stream::write_data(transport, &data)?;
        return Ok(py.None().into_ptr());
    }
    // Anything else goes to PyO3's method, which parses it as before.
    let method = py.get_type::<Stream>().getattr("write")?;
    let nkw = if kwnames.is_null() {
        0
    } else {
        // SAFETY: `kwnames` is a tuple or null, as CPython passes it.
        unsafe { ffi::PyTuple_GET_SIZE(kwnames) }
    };
    let given = usize::try_from(nargs + nkw)
        .map_err(|_| PyValueError::new_err("negative argument count"))?;
    let mut argv = Vec::with_capacity(given + 1);
    argv.push(slf);
    // SAFETY: CPython passes `nargs + nkw` valid arguments at `args`.
    argv.extend_from_slice(unsafe { std::slice::from_raw_parts(args, given) });
    // SAFETY: `argv` holds the instance and the arguments, borrowed for the
    // call; a new reference or null with an exception set comes back.
    let out = unsafe {
        ffi::PyObject_Vectorcall(
            method.as_ptr(),
            argv.as_ptr(),
            (nargs + 1) as usize,
            kwnames,
        )
    };
    if out.is_null() {
        Err(PyErr::fetch(py))
    } else {
        Ok(out)
    }
}
