//! ListeningPort: accepts connections on a listening socket.
//!
//! Python creates, binds and listens on the socket (so that Twisted's
//! CannotListenError comes from the same place as in Twisted) and hands the
//! descriptor over; from then on accepted connections never become Python
//! socket objects.

use std::os::fd::RawFd;

use mio::Interest;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};

use crate::core::sys;
use crate::py::dispatch::{os_error, Dispatching};
use crate::py::reactor::{ReactorBase, Source};
use crate::py::transport::TCPTransport;

/// Connections accepted per readiness event before yielding to others.
const ACCEPT_BATCH: usize = 128;

#[pyclass(module = "torsion._torsion")]
pub struct ListeningPort {
    reactor: Py<ReactorBase>,
    fd: RawFd,
    token: Option<usize>,
    factory: Py<PyAny>,
    transport_class: Py<PyAny>,
    owner: Py<PyAny>,
    /// A spare descriptor, given up to accept-and-close when out of them.
    reserve_fd: RawFd,
    exhausted_logged: bool,
    closed: bool,
}

impl ListeningPort {
    pub fn reading_owner(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.token.map(|_| self.owner.clone_ref(py))
    }

    pub fn stop_reading(slf: &Bound<'_, Self>) {
        let py = slf.py();
        let mut me = slf.borrow_mut();
        if let Some(token) = me.token.take() {
            let mut r = me.reactor.bind(py).borrow_mut();
            r.deregister_fd(me.fd);
            r.sources.remove(token);
        }
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
        Ok(Self {
            reactor,
            fd,
            token: None,
            factory,
            transport_class,
            owner,
            reserve_fd: sys::open_reserve().map_err(os_error)?,
            exhausted_logged: false,
            closed: false,
        })
    }

    /// Starts accepting.
    #[pyo3(name = "startReading")]
    fn start_reading(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let mut me = slf.borrow_mut();
        if me.token.is_some() || me.closed {
            return Ok(());
        }
        let reactor = me.reactor.bind(py).clone();
        let mut r = reactor.borrow_mut();
        let token = r.sources.insert(Source::Listener(slf.clone().unbind()));
        if let Err(e) = r.register_fd(me.fd, token, Interest::READABLE) {
            r.sources.remove(token);
            return Err(e);
        }
        me.token = Some(token);
        // Connections may already be waiting in the backlog.
        r.ready_ports.push(slf.clone().unbind());
        Ok(())
    }

    /// Stops accepting; the socket stays open.
    #[pyo3(name = "stopReading")]
    fn py_stop_reading(slf: &Bound<'_, Self>) {
        Self::stop_reading(slf);
    }

    /// Stops accepting and closes the socket.
    fn close(slf: &Bound<'_, Self>) {
        Self::stop_reading(slf);
        let mut me = slf.borrow_mut();
        if !me.closed {
            me.closed = true;
            sys::close(me.fd);
            if me.reserve_fd >= 0 {
                sys::close(me.reserve_fd);
                me.reserve_fd = -1;
            }
        }
    }

    fn fileno(&self) -> RawFd {
        if self.closed {
            -1
        } else {
            self.fd
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.reactor)?;
        visit.call(&self.factory)?;
        visit.call(&self.transport_class)?;
        visit.call(&self.owner)?;
        Ok(())
    }
}

impl Drop for ListeningPort {
    fn drop(&mut self) {
        if !self.closed {
            sys::close(self.fd);
        }
        if self.reserve_fd >= 0 {
            sys::close(self.reserve_fd);
        }
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
    let Ok(hooks) = reactor.borrow().hooks() else {
        return;
    };
    for _ in 0..ACCEPT_BATCH {
        let fd = {
            let me = port.borrow();
            if me.token.is_none() {
                return;
            }
            me.fd
        };
        match sys::accept(fd) {
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
    hooks: &crate::py::dispatch::Hooks,
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
    if me.reserve_fd < 0 {
        return;
    }
    sys::close(me.reserve_fd);
    me.reserve_fd = -1;
    for _ in 0..ACCEPT_BATCH {
        match sys::accept(me.fd) {
            Ok((cfd, _)) => sys::close(cfd),
            Err(_) => break,
        }
    }
    me.reserve_fd = sys::open_reserve().unwrap_or(-1);
}

fn accept_one(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    port: &Bound<'_, ListeningPort>,
    cfd: RawFd,
    addr: Option<std::net::SocketAddr>,
    hooks: &crate::py::dispatch::Hooks,
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
        Some(Err(e)) => {
            hooks.report(py, e, None);
            sys::close(cfd);
            return;
        }
        None => py.None().into_bound(py),
    };
    let protocol = match factory
        .bind(py)
        .call_method1(intern!(py, "buildProtocol"), (addr_obj,))
    {
        Ok(p) if p.is_none() => {
            sys::close(cfd);
            return;
        }
        Ok(p) => p,
        Err(e) => {
            hooks.report(py, e, None);
            sys::close(cfd);
            return;
        }
    };
    let transport = match transport_class.bind(py).call1((reactor, cfd, &protocol)) {
        Ok(t) => t,
        Err(e) => {
            hooks.report(py, e, None);
            sys::close(cfd);
            return;
        }
    };
    let started = match transport.cast::<TCPTransport>() {
        Ok(tr) => {
            tr.borrow_mut().set_peer(addr);
            tr.call_method0(intern!(py, "_start")).map(|_| ())
        }
        Err(e) => Err(PyErr::from(e)),
    };
    if let Err(e) = started {
        hooks.report(py, e, None);
        sys::close(cfd);
        return;
    }
    if let Err(e) = protocol.call_method1(intern!(py, "makeConnection"), (&transport,)) {
        hooks.report(py, e, None);
    }
}
