//! The one place through which Rust calls Python, and its error policy.
//!
//! A user callback that raises is reported through the hooks object's
//! `logError` (which logs an "Unhandled Error" with the traceback through
//! torsion's logging); the loop goes on. If even the report fails, the
//! interpreter's unraisable-exception hook gets it: nothing is swallowed.

use std::cell::Cell;
use std::marker::PhantomData;
use std::net::SocketAddr;

use crate::core::sock::{SockAddr, UnixName};

use pyo3::exceptions::PyBaseException;
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

/// Python objects the reactor needs, looked up once from the hooks object
/// given to the reactor when it is built.
pub struct Hooks {
    log_error: Py<PyAny>,
    /// Shared Failure(ConnectionDone()), as Twisted shares one.
    pub reason_done: Py<PyAny>,
    /// Shared Failure(ConnectionLost()).
    pub reason_lost: Py<PyAny>,
    make_aborted: Py<PyAny>,
    make_overrun: Py<PyAny>,
    is_aborted: Py<PyAny>,
    failure_of: Py<PyAny>,
    is_half_closeable: Py<PyAny>,
    receive_descriptors: Py<PyAny>,
    ipv4_address: Py<PyAny>,
    ipv6_address: Py<PyAny>,
    unix_address: Py<PyAny>,
}

impl Hooks {
    pub fn from_object(hooks: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            log_error: hooks.getattr("logError")?.unbind(),
            reason_done: hooks.getattr("reasonDone")?.unbind(),
            reason_lost: hooks.getattr("reasonLost")?.unbind(),
            make_aborted: hooks.getattr("makeAborted")?.unbind(),
            make_overrun: hooks.getattr("makeDescriptorOverrun")?.unbind(),
            is_aborted: hooks.getattr("isAborted")?.unbind(),
            failure_of: hooks.getattr("failureOf")?.unbind(),
            is_half_closeable: hooks.getattr("isHalfCloseable")?.unbind(),
            receive_descriptors: hooks.getattr("receiveDescriptors")?.unbind(),
            ipv4_address: hooks.getattr("IPv4Address")?.unbind(),
            ipv6_address: hooks.getattr("IPv6Address")?.unbind(),
            unix_address: hooks.getattr("UNIXAddress")?.unbind(),
        })
    }

    pub fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        for obj in [
            &self.log_error,
            &self.reason_done,
            &self.reason_lost,
            &self.make_aborted,
            &self.make_overrun,
            &self.is_aborted,
            &self.failure_of,
            &self.is_half_closeable,
            &self.receive_descriptors,
            &self.ipv4_address,
            &self.ipv6_address,
            &self.unix_address,
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
        self.made(
            py,
            self.failure_of
                .bind(py)
                .call1((exception_with_traceback(py, err),)),
        )
    }

    /// A fresh Failure(ConnectionAborted()).
    pub fn aborted<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.made(py, self.make_aborted.bind(py).call0())
    }

    /// A fresh Failure(FileDescriptorOverrun()).
    pub fn overrun<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.made(py, self.make_overrun.bind(py).call0())
    }

    /// A Failure the hooks built, or ConnectionLost if building it failed.
    fn made<'py>(&self, py: Python<'py>, made: PyResult<Bound<'py, PyAny>>) -> Bound<'py, PyAny> {
        made.unwrap_or_else(|e| {
            self.report(py, e, Some("while building a Failure"));
            self.reason_lost.bind(py).clone()
        })
    }

    /// Whether `reason` is a Failure of ConnectionAborted.
    pub fn is_aborted(&self, py: Python<'_>, reason: &Bound<'_, PyAny>) -> bool {
        self.ask(py, &self.is_aborted, reason)
    }

    pub fn is_half_closeable(&self, py: Python<'_>, protocol: &Bound<'_, PyAny>) -> bool {
        self.ask(py, &self.is_half_closeable, protocol)
    }

    fn ask(&self, py: Python<'_>, question: &Py<PyAny>, about: &Bound<'_, PyAny>) -> bool {
        match question
            .bind(py)
            .call1((about,))
            .and_then(|r| r.is_truthy())
        {
            Ok(v) => v,
            Err(e) => {
                self.report(py, e, None);
                false
            }
        }
    }

    /// Hands descriptors received with a read to the protocol (through
    /// `fileDescriptorReceived`, or logged and closed as Twisted does for
    /// a protocol that does not take them).
    pub fn receive_descriptors(
        &self,
        transport: &Bound<'_, PyAny>,
        protocol: &Bound<'_, PyAny>,
        fds: Vec<std::os::fd::OwnedFd>,
    ) -> PyResult<()> {
        let fds: Vec<std::os::fd::RawFd> = fds
            .into_iter()
            .map(std::os::fd::IntoRawFd::into_raw_fd)
            .collect();
        self.receive_descriptors
            .bind(transport.py())
            .call1((transport, protocol, fds))
            .map(|_| ())
    }

    /// The address object for a socket address: IPv4Address/IPv6Address
    /// ("TCP", host, port), or UNIXAddress(name) with the name as Python's
    /// socket module gives it (a path as str, an abstract name as bytes
    /// with its leading NUL, '' for an unnamed socket).
    pub fn address<'py>(&self, py: Python<'py>, addr: &SockAddr) -> PyResult<Bound<'py, PyAny>> {
        match addr {
            SockAddr::Inet(SocketAddr::V4(a)) => {
                self.ipv4_address
                    .bind(py)
                    .call1((intern!(py, "TCP"), a.ip().to_string(), a.port()))
            }
            SockAddr::Inet(SocketAddr::V6(a)) => {
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
            SockAddr::Unix(name) => {
                let name = match name {
                    UnixName::Path(path) => {
                        use std::os::unix::ffi::OsStrExt;
                        std::ffi::OsStr::from_bytes(path)
                            .into_pyobject(py)?
                            .into_any()
                    }
                    UnixName::Abstract(rest) => {
                        let mut raw = Vec::with_capacity(rest.len() + 1);
                        raw.push(0);
                        raw.extend_from_slice(rest);
                        PyBytes::new(py, &raw).into_any()
                    }
                    // (what accept() and getsockname() give for it)
                    UnixName::Unnamed => intern!(py, "").clone().into_any(),
                };
                self.unix_address.bind(py).call1((name,))
            }
        }
    }
}

/// What a failing call into Python leads to: Twisted's rule for that
/// callback, written down once in `Callback::policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Logged; the connection closes with a Failure of the exception
    /// (Twisted's doRead/doWrite returning a failure).
    LogAndClose,
    /// Logged; nothing else changes.
    Log,
    /// Raised to the Python code whose call made this one (Twisted calls
    /// these inline, e.g. `pauseProducing` from inside `write()`).
    Raise,
}

/// Every call the stream core makes into Python.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Callback {
    DataReceived,
    DescriptorsReceived,
    ReadConnectionLost,
    WriteConnectionLost,
    /// A producer resumed because the queue drained.
    ResumeProducing,
    /// A push producer paused from inside `write()`.
    PauseProducing,
    /// `registerProducer`'s call of the new producer.
    ProducerRegistered,
    /// The producer stopped as the connection closes.
    StopProducing,
    ConnectionLost,
    /// The connector's callback when a client connection ends.
    ClientLost,
    /// The connector's callback when a connect succeeded (it builds the
    /// protocol and calls makeConnection).
    ClientConnected,
    /// The connector's callback when a connect failed.
    ClientFailed,
    /// A listening port's buildProtocol, transport class or makeConnection.
    Accepted,
    /// A datagram port's `datagramReceived`: logged, the port keeps
    /// receiving (Twisted's doRead logs it and reads on).
    DatagramReceived,
    /// A connected datagram port's `connectionRefused`.
    ConnectionRefused,
}

impl Callback {
    pub const fn policy(self) -> Policy {
        match self {
            Callback::DataReceived
            | Callback::DescriptorsReceived
            | Callback::ReadConnectionLost
            | Callback::WriteConnectionLost
            | Callback::ResumeProducing
            | Callback::ClientConnected => Policy::LogAndClose,
            Callback::StopProducing
            | Callback::ConnectionLost
            | Callback::ClientLost
            | Callback::ClientFailed
            | Callback::Accepted
            | Callback::DatagramReceived
            | Callback::ConnectionRefused => Policy::Log,
            Callback::PauseProducing | Callback::ProducerRegistered => Policy::Raise,
        }
    }
}

/// Why a stream closes.
pub enum Reason {
    /// Failure(ConnectionDone()): an orderly end.
    Done,
    /// Failure(ConnectionLost()): the socket failed.
    Lost,
    /// A Failure already built (a callback's exception, an abort, one
    /// given to connectionLost).
    Failure(Py<PyAny>),
}

/// How handling an event ends for a stream: go on, or close it. Helpers
/// return this; only `stream::end::conclude` acts on a close.
#[must_use]
pub enum Outcome {
    Continue,
    Close(Reason),
}

impl Outcome {
    pub fn is_continue(&self) -> bool {
        matches!(self, Outcome::Continue)
    }
}

/// Applies `callback`'s policy to the result of calling it. An exception
/// is logged; under `LogAndClose` it becomes the reason the connection
/// closes. (`Raise` calls never come here: their errors go back to the
/// Python caller with `?`.)
pub fn settle<T>(
    py: Python<'_>,
    hooks: &Hooks,
    callback: Callback,
    result: PyResult<T>,
) -> Outcome {
    let Err(e) = result else {
        return Outcome::Continue;
    };
    match callback.policy() {
        Policy::LogAndClose => {
            hooks.report(py, e.clone_ref(py), None);
            Outcome::Close(Reason::Failure(hooks.failure_of(py, &e).unbind()))
        }
        Policy::Log | Policy::Raise => {
            hooks.report(py, e, None);
            Outcome::Continue
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
