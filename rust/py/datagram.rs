//! DatagramPort: a UDP socket registered with the reactor.
//!
//! Not a stream: it shares only the reactor's registration and dispatch.
//! Python creates and binds the socket (so that CannotListenError is raised
//! where Twisted raises it) and hands the descriptor over. On readiness the
//! port drains the socket in a bounded batch, several datagrams per
//! `recvmmsg` into one reused buffer of maxPacketSize-byte slots, one
//! `datagramReceived` call per datagram; a batch
//! that spends its budget puts the port on the reactor's ready list, since
//! the poller is edge-triggered and will not report the rest again.

use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::os::fd::RawFd;

use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::{PyTraverseError, PyVisit};

use crate::core::fd;
use crate::core::sock::{self, SockAddr};
use crate::py::dispatch::{os_error, settle, Callback, Dispatching, Hooks};
use crate::py::reactor::{ReactorBase, Source};
use crate::py::registration::Registration;

/// Datagrams taken per readiness event before yielding to other sources.
const DATAGRAM_BATCH: usize = 128;
/// Bytes taken per readiness event at most (Twisted's maxThroughput).
const BYTES_PER_TURN: usize = 256 * 1024;
/// Size of a port's receive buffer, in slots of maxPacketSize (one slot
/// at least, so a large maxPacketSize gets one datagram per call).
const RECV_BUFFER_BYTES: usize = 128 * 1024;

fn slots_for(max_packet_size: usize) -> usize {
    RECV_BUFFER_BYTES
        .checked_div(max_packet_size)
        .map_or(sock::RECV_MANY_MAX, |fit| fit.clamp(1, sock::RECV_MANY_MAX))
}

#[pyclass(module = "torsion._torsion")]
pub struct DatagramPort {
    reactor: Py<ReactorBase>,
    /// The socket.
    socket: Registration,
    protocol: Py<PyAny>,
    /// The Python port, named in logs and listed by getReaders.
    owner: Py<PyAny>,
    /// Receives the datagrams of one `recvmmsg`, in slots of `slot` bytes.
    buf: Vec<u8>,
    /// maxPacketSize: the most of a datagram delivered.
    slot: usize,
    /// Length and source of each datagram the last `recvmmsg` took.
    got: Vec<(usize, Option<SockAddr>)>,
    /// Whether `connect` gave the socket a peer (refusals are reported
    /// only then, as Twisted does).
    connected: bool,
}

impl DatagramPort {
    pub fn reading_owner(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.socket.is_reading().then(|| self.owner.clone_ref(py))
    }

    pub fn stop_reading(slf: &Bound<'_, Self>) {
        let mut me = slf.borrow_mut();
        let reactor = me.reactor.bind(slf.py()).clone();
        me.socket.stop(&reactor);
    }
}

/// An IP address and port from Python's (host, port); an IPv6 host may
/// carry a scope, "%" and an interface's name or index.
fn inet_address(host: &str, port: u16) -> PyResult<SocketAddr> {
    let bad = || PyValueError::new_err(format!("not an IP address: {host:?}"));
    let (ip, scope) = match host.split_once('%') {
        Some((ip, scope)) => (ip, Some(scope)),
        None => (host, None),
    };
    match (ip.parse::<IpAddr>().map_err(|_| bad())?, scope) {
        (ip, None) => Ok(SocketAddr::new(ip, port)),
        (IpAddr::V6(ip), Some(scope)) => {
            let index = match scope.parse::<u32>() {
                Ok(index) => index,
                Err(_) => interface_index(scope).ok_or_else(bad)?,
            };
            Ok(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, index)))
        }
        (IpAddr::V4(_), Some(_)) => Err(bad()),
    }
}

fn interface_index(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

#[pymethods]
impl DatagramPort {
    #[new]
    fn new(
        reactor: Py<ReactorBase>,
        fd: RawFd,
        protocol: Py<PyAny>,
        owner: Py<PyAny>,
        max_packet_size: usize,
    ) -> PyResult<Self> {
        let fd = fd::adopt(fd).map_err(os_error)?;
        Ok(Self {
            reactor,
            socket: Registration::new(fd),
            protocol,
            owner,
            buf: vec![0; slots_for(max_packet_size) * max_packet_size],
            slot: max_packet_size,
            got: Vec::with_capacity(sock::RECV_MANY_MAX),
            connected: false,
        })
    }

    /// Starts delivering datagrams.
    #[pyo3(name = "startReading")]
    fn start_reading(slf: &Bound<'_, Self>) -> PyResult<()> {
        let mut me = slf.borrow_mut();
        let reactor = me.reactor.bind(slf.py()).clone();
        if me
            .socket
            .start(&reactor, || Source::Datagram(slf.clone().unbind()))?
        {
            // Datagrams may have arrived before registration.
            reactor
                .borrow_mut()
                .ready_datagrams
                .push(slf.clone().unbind());
        }
        Ok(())
    }

    /// Stops delivering datagrams; the socket stays open.
    #[pyo3(name = "stopReading")]
    fn py_stop_reading(slf: &Bound<'_, Self>) {
        Self::stop_reading(slf);
    }

    /// Stops reading and closes the socket.
    fn close(slf: &Bound<'_, Self>) {
        Self::stop_reading(slf);
        let mut me = slf.borrow_mut();
        let reactor = me.reactor.bind(slf.py()).clone();
        me.socket.close(&reactor);
    }

    /// The socket's descriptor, or -1 once closed.
    fn fileno(&self) -> RawFd {
        self.socket.fileno()
    }

    /// Sends one datagram to (host, port), or to the connected peer when
    /// host is None; returns the bytes sent. OS errors are raised as
    /// OSError with their errno, for the Python port to translate.
    #[pyo3(signature = (data, host=None, port=0))]
    fn write(&self, data: &[u8], host: Option<&str>, port: u16) -> PyResult<usize> {
        let Some(fd) = self.socket.fd() else {
            return Err(os_error(std::io::Error::from_raw_os_error(libc::EBADF)));
        };
        let addr = host.map(|h| inet_address(h, port)).transpose()?;
        sock::send_to(fd, data, addr.as_ref()).map_err(os_error)
    }

    /// Gives the socket a default destination (and peer filter).
    fn connect(&mut self, host: &str, port: u16) -> PyResult<()> {
        let Some(fd) = self.socket.fd() else {
            return Err(os_error(std::io::Error::from_raw_os_error(libc::EBADF)));
        };
        let addr = inet_address(host, port)?;
        sock::connect_datagram(fd, &addr).map_err(os_error)?;
        self.connected = true;
        Ok(())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.reactor)?;
        visit.call(&self.protocol)?;
        visit.call(&self.owner)?;
        Ok(())
    }
}

/// One step of a batch, decided with the port borrowed and acted on after.
enum Received<'py> {
    Datagrams(Vec<(Bound<'py, PyBytes>, Option<SockAddr>)>),
    Refused,
    Failed(std::io::Error),
    Drained,
}

fn receive<'py>(py: Python<'py>, port: &Bound<'py, DatagramPort>) -> Received<'py> {
    let mut me = port.borrow_mut();
    let me = &mut *me;
    let Some(fd) = me.socket.fd() else {
        return Received::Drained;
    };
    me.got.clear();
    match sock::recv_many(fd, &mut me.buf, me.slot, &mut me.got) {
        Ok(_) => {
            let slot = me.slot;
            let buf = &me.buf;
            Received::Datagrams(
                me.got
                    .drain(..)
                    .enumerate()
                    .map(|(i, (n, addr))| {
                        let start = i * slot;
                        (PyBytes::new(py, &buf[start..start + n]), addr)
                    })
                    .collect(),
            )
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Received::Drained,
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => Received::Refused,
        Err(e) => Received::Failed(e),
    }
}

/// (host, port) as Twisted gives a datagram's source: Python's recvfrom
/// writes the host without a scope, and Twisted keeps only those two.
fn source_tuple<'py>(py: Python<'py>, addr: Option<&SockAddr>) -> PyResult<Bound<'py, PyAny>> {
    match addr {
        Some(SockAddr::Inet(a)) => Ok((a.ip().to_string(), a.port()).into_pyobject(py)?.into_any()),
        _ => Ok(py.None().into_bound(py)),
    }
}

/// Drains the socket within the batch budget, one protocol call per
/// datagram; a callback that raises is logged and the port goes on. As in
/// Twisted's doRead, a batch under way goes on after `stopReading` (the
/// datagrams already queued are delivered) and ends once the socket is
/// closed.
pub fn on_readable(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    port: &Bound<'_, DatagramPort>,
) {
    let hooks = reactor.borrow().hooks();
    let (protocol, owner) = {
        let me = port.borrow();
        if !me.socket.is_reading() {
            return;
        }
        (me.protocol.bind(py).clone(), me.owner.bind(py).clone())
    };
    let _context = Dispatching::enter(&owner);
    let (mut bytes, mut count) = (0, 0);
    while count < DATAGRAM_BATCH && bytes < BYTES_PER_TURN {
        match receive(py, port) {
            Received::Datagrams(datagrams) if datagrams.is_empty() => return,
            Received::Datagrams(datagrams) => {
                for (data, addr) in datagrams {
                    // A protocol may close the port from its callback:
                    // what was read with the datagram it got is dropped,
                    // as Twisted would not have read it.
                    if port.borrow().socket.fd().is_none() {
                        return;
                    }
                    count += 1;
                    bytes += data.as_bytes().len();
                    deliver(py, &hooks, &protocol, &data, addr.as_ref());
                }
            }
            Received::Refused => {
                if port.borrow().connected {
                    let called = protocol.call_method0(intern!(py, "connectionRefused"));
                    let _ = settle(py, &hooks, Callback::ConnectionRefused, called);
                }
            }
            Received::Failed(e) => {
                hooks.report(py, os_error(e), Some("recvfrom() failed"));
            }
            Received::Drained => return,
        }
    }
    // Budget spent: the rest waits for the next turn, unless reading
    // stopped meanwhile.
    if port.borrow().socket.is_reading() {
        reactor
            .borrow_mut()
            .ready_datagrams
            .push(port.clone().unbind());
    }
}

fn deliver(
    py: Python<'_>,
    hooks: &Hooks,
    protocol: &Bound<'_, PyAny>,
    data: &Bound<'_, PyBytes>,
    addr: Option<&SockAddr>,
) {
    let called = source_tuple(py, addr)
        .and_then(|source| protocol.call_method1(intern!(py, "datagramReceived"), (data, source)));
    let _ = settle(py, hooks, Callback::DatagramReceived, called);
}
