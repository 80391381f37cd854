//! The one place through which Rust calls Python, and its error policy.
//!
//! A user callback that raises is reported through the hooks object's
//! `logError` (which logs an "Unhandled Error" with the traceback through
//! torsion's logging); the loop goes on. If even the report fails, the
//! interpreter's unraisable-exception hook gets it: nothing is swallowed.

use std::cell::Cell;
use std::marker::PhantomData;
use std::net::SocketAddr;

use pyo3::exceptions::PyBaseException;
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// Python objects the reactor needs, looked up once from the hooks object
/// the Python reactor class passes in.
pub struct Hooks {
    log_error: Py<PyAny>,
    /// Shared Failure(ConnectionDone()), as Twisted shares one.
    pub reason_done: Py<PyAny>,
    /// Shared Failure(ConnectionLost()).
    pub reason_lost: Py<PyAny>,
    make_aborted: Py<PyAny>,
    failure_of: Py<PyAny>,
    is_half_closeable: Py<PyAny>,
    ipv4_address: Py<PyAny>,
    ipv6_address: Py<PyAny>,
}

impl Hooks {
    pub fn from_object(hooks: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            log_error: hooks.getattr("logError")?.unbind(),
            reason_done: hooks.getattr("reasonDone")?.unbind(),
            reason_lost: hooks.getattr("reasonLost")?.unbind(),
            make_aborted: hooks.getattr("makeAborted")?.unbind(),
            failure_of: hooks.getattr("failureOf")?.unbind(),
            is_half_closeable: hooks.getattr("isHalfCloseable")?.unbind(),
            ipv4_address: hooks.getattr("IPv4Address")?.unbind(),
            ipv6_address: hooks.getattr("IPv6Address")?.unbind(),
        })
    }

    pub fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        for obj in [
            &self.log_error,
            &self.reason_done,
            &self.reason_lost,
            &self.make_aborted,
            &self.failure_of,
            &self.is_half_closeable,
            &self.ipv4_address,
            &self.ipv6_address,
        ] {
            visit.call(obj)?;
        }
        Ok(())
    }

    /// Logs an exception raised by a user callback.
    pub fn report(&self, py: Python<'_>, err: PyErr, why: Option<&str>) {
        let value = exception_with_traceback(py, &err);
        if let Err(log_err) = self.log_error.bind(py).call1((value, why)) {
            // The logging path itself failed: hand both to the interpreter.
            err.write_unraisable(py, None);
            log_err.write_unraisable(py, None);
        }
    }

    /// A Failure wrapping `err`'s exception (with its traceback).
    pub fn failure_of<'py>(&self, py: Python<'py>, err: &PyErr) -> Bound<'py, PyAny> {
        match self
            .failure_of
            .bind(py)
            .call1((exception_with_traceback(py, err),))
        {
            Ok(f) => f,
            Err(e) => {
                self.report(py, e, Some("while building a Failure"));
                self.reason_lost.bind(py).clone()
            }
        }
    }

    /// A fresh Failure(ConnectionAborted()).
    pub fn aborted<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match self.make_aborted.bind(py).call0() {
            Ok(f) => f,
            Err(e) => {
                self.report(py, e, Some("while building a Failure"));
                self.reason_lost.bind(py).clone()
            }
        }
    }

    pub fn is_half_closeable(&self, py: Python<'_>, protocol: &Bound<'_, PyAny>) -> bool {
        match self
            .is_half_closeable
            .bind(py)
            .call1((protocol,))
            .and_then(|r| r.is_truthy())
        {
            Ok(v) => v,
            Err(e) => {
                self.report(py, e, None);
                false
            }
        }
    }

    /// IPv4Address/IPv6Address("TCP", host, port) for a socket address.
    pub fn address<'py>(&self, py: Python<'py>, addr: &SocketAddr) -> PyResult<Bound<'py, PyAny>> {
        match addr {
            SocketAddr::V4(a) => {
                self.ipv4_address
                    .bind(py)
                    .call1((intern!(py, "TCP"), a.ip().to_string(), a.port()))
            }
            SocketAddr::V6(a) => {
                let host = if a.scope_id() != 0 && is_link_local(a.ip()) {
                    format!("{}%{}", a.ip(), a.scope_id())
                } else {
                    a.ip().to_string()
                };
                self.ipv6_address.bind(py).call1((
                    intern!(py, "TCP"),
                    host,
                    a.port(),
                    a.flowinfo(),
                    a.scope_id(),
                ))
            }
        }
    }
}

fn is_link_local(ip: &std::net::Ipv6Addr) -> bool {
    (ip.segments()[0] & 0xffc0) == 0xfe80
}

/// Calls `f(*args, **kwargs)`; an exception is reported (headed `why`, the
/// words Twisted's reactor logs for that kind of call) and swallowed.
pub fn call_logged(
    py: Python<'_>,
    hooks: &Hooks,
    f: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    why: &str,
) {
    if let Err(e) = f.call(args, kwargs) {
        hooks.report(py, e, Some(why));
    }
}

/// `err`'s exception object with `__traceback__` set: `PyErr::value` leaves
/// the traceback aside, and a Failure built from the bare value would have
/// no frames to show.
fn exception_with_traceback<'py>(py: Python<'py>, err: &PyErr) -> Bound<'py, PyBaseException> {
    err.clone_ref(py).into_value(py).into_bound(py)
}

/// An OSError carrying `err`'s errno and strerror, as Python's own socket
/// calls raise (so `e.errno == errno.EMFILE` holds, and the constructor
/// picks the subclass such as ConnectionRefusedError). PyO3's conversion
/// passes only the message, leaving `errno` None.
pub fn os_error(err: std::io::Error) -> PyErr {
    match err.raw_os_error() {
        Some(code) => {
            let text = std::io::Error::from_raw_os_error(code).to_string();
            let suffix = format!(" (os error {code})");
            let strerror = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
            pyo3::exceptions::PyOSError::new_err((code, strerror))
        }
        None => PyErr::from(err),
    }
}

thread_local! {
    /// The selectable (transport, port, descriptor) whose event the loop
    /// is handling: Twisted runs those callbacks inside
    /// `callWithLogger(selectable, ...)`, so that what they log carries
    /// `system = selectable.logPrefix()`. The prefix is only asked for when
    /// something is logged (`torsion.python.log` reads it through
    /// `_dispatching()`). A borrowed pointer, null when nothing is being
    /// handled: setting it costs no reference count, and with a const
    /// initialiser each access is one TLS lookup (measured: the guard with
    /// an owned reference cost about 110 instructions per read and flush).
    static DISPATCHING: Cell<*mut ffi::PyObject> = const { Cell::new(std::ptr::null_mut()) };
}

/// Marks `selectable` as the one being handled until the guard is dropped
/// (guards nest: the previous one is restored). The guard borrows the
/// selectable, so it cannot outlive the reference that keeps it alive.
pub struct Dispatching<'a> {
    previous: *mut ffi::PyObject,
    _selectable: PhantomData<&'a Bound<'a, PyAny>>,
}

impl<'a> Dispatching<'a> {
    pub fn enter(selectable: &'a Bound<'_, PyAny>) -> Self {
        let previous = DISPATCHING.with(|d| d.replace(selectable.as_ptr()));
        Self {
            previous,
            _selectable: PhantomData,
        }
    }
}

impl Drop for Dispatching<'_> {
    fn drop(&mut self) {
        // `previous` was set by an enclosing guard, whose selectable is
        // still borrowed (guards are dropped in reverse order), or is null.
        DISPATCHING.with(|d| d.set(self.previous));
    }
}

/// The selectable whose event is being handled, if any.
#[pyfunction]
pub fn _dispatching(py: Python<'_>) -> Option<Py<PyAny>> {
    let ptr = DISPATCHING.with(Cell::get);
    // SAFETY: a non-null pointer was set by a live `Dispatching` guard on
    // this thread, whose borrow keeps the object alive; we take a new
    // reference before handing it out.
    unsafe { Bound::from_borrowed_ptr_or_opt(py, ptr) }.map(Bound::unbind)
}
