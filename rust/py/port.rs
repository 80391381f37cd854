//! ListeningPort: accepts connections on a listening socket.
//!
//! Python creates, binds and listens on the socket (so that Twisted's
//! CannotListenError comes from the same place as in Twisted) and hands the
//! descriptor over; from then on accepted connections never become Python
//! socket objects.

use std::os::fd::{IntoRawFd, OwnedFd, RawFd};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};

use crate::core::fd;
use crate::core::sock::{self, SockAddr};
use crate::py::dispatch::{os_error, settle, Callback, Dispatching, Hooks};
use crate::py::reactor::{ReactorBase, Source};
use crate::py::registration::Registration;
use crate::py::stream::Stream;

/// Connections accepted per readiness event before yielding to others.
const ACCEPT_BATCH: usize = 128;

#[pyclass(module = "torsion._torsion")]
pub struct ListeningPort {
    reactor: Py<ReactorBase>,
    /// The listening socket.
    socket: Registration,
    factory: Py<PyAny>,
    transport_class: Py<PyAny>,
    owner: Py<PyAny>,
    /// A spare descriptor, given up to accept-and-close when out of them.
    reserve_fd: Option<OwnedFd>,
    exhausted_logged: bool,
}

impl ListeningPort {
    pub fn reading_owner(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.socket.is_reading().then(|| self.owner.clone_ref(py))
    }

    pub fn stop_reading(slf: &Bound<'_, Self>) {
        let mut me = slf.borrow_mut();
        let reactor = me.reactor.bind(slf.py()).clone();
        me.socket.stop(&reactor);
    }
}

#[pymethods]
impl ListeningPort {
    #[new]
    fn new(
        reactor: Py<ReactorBase>,
        fd: RawFd,
        factory: Py<PyAny>,
        transport_class: Py<PyAny>,
        owner: Py<PyAny>,
    ) -> PyResult<Self> {
        let fd = fd::adopt(fd).map_err(os_error)?;
        Ok(Self {
            reactor,
            socket: Registration::new(fd),
            factory,
            transport_class,
            owner,
            reserve_fd: Some(fd::open_reserve().map_err(os_error)?),
            exhausted_logged: false,
        })
    }

    /// Starts accepting.
    #[pyo3(name = "startReading")]
    fn start_reading(slf: &Bound<'_, Self>) -> PyResult<()> {
        let mut me = slf.borrow_mut();
        let reactor = me.reactor.bind(slf.py()).clone();
        if me
            .socket
            .start(&reactor, || Source::Listener(slf.clone().unbind()))?
        {
            // Connections may already be waiting in the backlog.
            reactor.borrow_mut().ready_ports.push(slf.clone().unbind());
        }
        Ok(())
    }

    /// Stops accepting; the socket stays open.
    #[pyo3(name = "stopReading")]
    fn py_stop_reading(slf: &Bound<'_, Self>) {
        Self::stop_reading(slf);
    }

    /// Stops accepting and closes the socket.
    fn close(slf: &Bound<'_, Self>) {
        let mut me = slf.borrow_mut();
        let reactor = me.reactor.bind(slf.py()).clone();
        me.socket.close(&reactor);
        me.reserve_fd = None;
    }

    /// The listening descriptor, or -1 once closed.
    fn fileno(&self) -> RawFd {
        self.socket.fileno()
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.reactor)?;
        visit.call(&self.factory)?;
        visit.call(&self.transport_class)?;
        visit.call(&self.owner)?;
        Ok(())
    }
}

fn is_exhaustion(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Accepts pending connections, building a protocol for each.
pub fn on_readable(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    port: &Bound<'_, ListeningPort>,
) {
    let hooks = reactor.borrow().hooks();
    for _ in 0..ACCEPT_BATCH {
        let accepted = {
            let me = port.borrow();
            match me.socket.reading_fd() {
                Some(fd) => sock::accept(fd),
                None => return,
            }
        };
        match accepted {
            Ok((cfd, addr)) => {
                port.borrow_mut().exhausted_logged = false;
                accept_one(py, reactor, port, cfd, addr, &hooks);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) if is_exhaustion(&e) => {
                refuse_backlog(py, port, &e, &hooks);
                return;
            }
            Err(e) => {
                hooks.report(py, os_error(e), Some("accept() failed"));
                return;
            }
        }
    }
    // Batch spent: come back next turn for the rest of the backlog.
    reactor.borrow_mut().ready_ports.push(port.clone().unbind());
}

/// Out of descriptors: log once, then use the reserve descriptor to accept
/// and immediately close every waiting connection, so that clients learn at
/// once instead of hanging.
fn refuse_backlog(
    py: Python<'_>,
    port: &Bound<'_, ListeningPort>,
    err: &std::io::Error,
    hooks: &Hooks,
) {
    let first = !std::mem::replace(&mut port.borrow_mut().exhausted_logged, true);
    if first {
        hooks.report(
            py,
            os_error(std::io::Error::from_raw_os_error(
                err.raw_os_error().unwrap_or(libc::EMFILE),
            )),
            Some("Out of file descriptors: refusing waiting connections"),
        );
    }
    let mut me = port.borrow_mut();
    if me.reserve_fd.take().is_none() {
        return;
    }
    if let Some(fd) = me.socket.fd() {
        for _ in 0..ACCEPT_BATCH {
            // Each accepted connection is closed as it is dropped.
            if sock::accept(fd).is_err() {
                break;
            }
        }
    }
    me.reserve_fd = fd::open_reserve().ok();
}

/// Builds the protocol and the transport for one accepted connection.
/// Once the transport class is called it owns the descriptor (a failure
/// after that closes it with the transport, never twice).
fn accept_one(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    port: &Bound<'_, ListeningPort>,
    cfd: OwnedFd,
    addr: Option<SockAddr>,
    hooks: &Hooks,
) {
    let (factory, transport_class, owner) = {
        let me = port.borrow();
        (
            me.factory.clone_ref(py),
            me.transport_class.clone_ref(py),
            me.owner.clone_ref(py),
        )
    };
    let _context = Dispatching::enter(owner.bind(py));
    let addr_obj = match addr.as_ref().map(|a| hooks.address(py, a)) {
        Some(Ok(a)) => a,
        Some(Err(e)) => return hooks.report(py, e, None),
        None => py.None().into_bound(py),
    };
    let protocol = match factory
        .bind(py)
        .call_method1(intern!(py, "buildProtocol"), (addr_obj,))
    {
        Ok(p) if p.is_none() => return,
        Ok(p) => p,
        Err(e) => return hooks.report(py, e, None),
    };
    let built = transport_class
        .bind(py)
        .call1((reactor, cfd.into_raw_fd(), &protocol));
    let started = built.and_then(|transport| {
        let tr = transport.cast::<Stream>()?;
        tr.borrow_mut().set_peer(addr);
        tr.call_method0(intern!(py, "_start"))?;
        Ok(transport)
    });
    let transport = match started {
        Ok(t) => t,
        Err(e) => return hooks.report(py, e, None),
    };
    let made = protocol.call_method1(intern!(py, "makeConnection"), (&transport,));
    let _ = settle(py, hooks, Callback::Accepted, made);
}
