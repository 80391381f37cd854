//! TCPTransport: one TCP connection (Twisted's ITCPTransport).
//!
//! The Python subclasses in `torsion.internet.tcp` add the interface
//! declarations and the rarely used methods; everything on the data path is
//! here. The reactor calls the free functions at the bottom (`on_event`,
//! `on_readable`, `flush`, `close`) with no borrow held while Python runs.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::RawFd;

use mio::Interest;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyInt};
use pyo3::{PyTraverseError, PyVisit};

use crate::core::sys;
use crate::core::write_queue::WriteQueue;
use crate::py::dispatch::{os_error, Dispatching};
use crate::py::reactor::{ReactorBase, Source};
use crate::py::read::{self, READ_SIZE};
use crate::py::relay;
use crate::py::spare_bytes;

/// Writes at least this large are tried at once (see `try_send_now`).
const SEND_AT_ONCE_MIN: usize = 16384;
/// A streaming producer is paused once more than this is queued.
pub const HIGH_WATER: usize = 65536;

/// A queued buffer: a caller's bytes object (never copied), or bytes the
/// relay read and could not send at once.
pub enum Chunk {
    Py(Py<PyBytes>),
    Owned(Box<[u8]>),
}

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        match self {
            Chunk::Py(b) => spare_bytes::contents_of(b),
            Chunk::Owned(b) => b,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ConnState {
    Connecting,
    Connected,
    Disconnected,
}

#[pyclass(subclass, module = "torsion._torsion")]
pub struct TCPTransport {
    reactor: Py<ReactorBase>,
    pub(crate) fd: RawFd,
    token: Option<usize>,
    pub(crate) state: ConnState,
    was_connected: bool,
    pub(crate) reading: bool,
    /// The poller reported end-of-stream or an error: a short read does
    /// not mean the socket is drained, the EOF is still to be read.
    peer_closed: bool,
    /// The last read filled the buffer, or half of it: a stream, read
    /// straight into bytes objects (see `read_stream`).
    in_stream: bool,
    /// The most one dataReceived call gets (Twisted's `bufferSize`).
    read_size: usize,
    /// Chunks read in one batch and not yet delivered because the protocol
    /// paused the transport: delivered, in order, before the next read.
    pub(crate) unread: VecDeque<Py<PyBytes>>,
    /// A batch of chunks is being delivered: writes are queued, and sent
    /// together when it ends.
    batching: bool,
    /// Set by every write; `read_stream` clears it before delivering a
    /// read to learn whether the protocol answers what it reads.
    wrote: bool,
    /// The protocol wrote while handling the last streamed read: the
    /// stream is read a chunk at a time, each chunk's answer sent before
    /// the next read (see `read_stream`).
    answers_reads: bool,
    writing: bool,
    /// Queued in the reactor's dirty list and not flushed since.
    pub(crate) in_dirty: bool,
    /// Set while `on_event` handles a readable and writable event: it
    /// flushes the transport right after the read, so writes made meanwhile
    /// need not join the reactor's dirty list.
    flush_follows: bool,
    pub(crate) disconnecting: bool,
    pub(crate) aborting: bool,
    pub(crate) write_disconnecting: bool,
    pub(crate) write_disconnected: bool,
    pub(crate) queue: WriteQueue<Chunk>,
    protocol: Option<Py<PyAny>>,
    pub(crate) producer: Option<Py<PyAny>>,
    streaming: bool,
    producer_paused: bool,
    on_connect: Option<Py<PyAny>>,
    on_lost: Option<Py<PyAny>>,
    /// The partner transport while relaying (see relay.rs).
    pub(crate) relay: Option<Py<TCPTransport>>,
    /// Relaying: stopped reading because the partner's queue is full.
    pub(crate) relay_throttled: bool,
    /// Relaying: this side's peer has finished sending.
    pub(crate) relay_read_eof: bool,
    peer: Option<SocketAddr>,
    peer_obj: Option<Py<PyAny>>,
    host_obj: Option<Py<PyAny>>,
}

impl TCPTransport {
    pub fn is_reading(&self) -> bool {
        self.state == ConnState::Connected && self.reading
    }

    pub fn is_writing(&self) -> bool {
        self.state == ConnState::Connected && self.writing
    }

    pub fn set_peer(&mut self, addr: Option<SocketAddr>) {
        self.peer = addr;
    }

    /// Queues a flush before the next poll (Twisted's startWriting).
    pub(crate) fn schedule_flush(slf: &Bound<'_, Self>, me: &mut Self) {
        me.writing = true;
        if !me.in_dirty && !me.flush_follows {
            me.in_dirty = true;
            me.reactor
                .bind(slf.py())
                .borrow_mut()
                .dirty
                .push(slf.clone().unbind());
        }
    }

    pub fn start_reading(slf: &Bound<'_, Self>) -> PyResult<()> {
        let mut me = slf.borrow_mut();
        if me.state == ConnState::Connected && !me.reading {
            me.reading = true;
            // Data may have arrived while we were not reading, and the
            // edge-triggered poller will not report it again: try next turn.
            me.reactor
                .bind(slf.py())
                .borrow_mut()
                .ready
                .push(slf.clone().unbind());
        }
        Ok(())
    }

    pub fn stop_reading(slf: &Bound<'_, Self>) {
        slf.borrow_mut().reading = false;
    }

    pub fn start_writing(slf: &Bound<'_, Self>) {
        let mut me = slf.borrow_mut();
        if me.state == ConnState::Connected {
            Self::schedule_flush(slf, &mut me);
        }
    }

    pub fn stop_writing(slf: &Bound<'_, Self>) {
        slf.borrow_mut().writing = false;
    }

    /// A large write to an empty queue is tried at once: one send either
    /// way, and the bytes leave while still in the CPU's cache. Small writes
    /// wait for the flush at the end of the turn, where many of them go out
    /// together in one vectored send (a protocol writing line by line would
    /// otherwise pay a syscall per line). What the socket does not take is
    /// queued. Returns whether everything was sent.
    fn try_send_now(slf: &Bound<'_, Self>, me: &mut Self, data: &Bound<'_, PyBytes>) -> bool {
        let bytes = data.as_bytes();
        if bytes.len() >= SEND_AT_ONCE_MIN
            && !me.batching
            && me.queue.is_empty()
            && !me.write_disconnecting
            && me.state == ConnState::Connected
        {
            match sys::send_vectored(me.fd, &[std::io::IoSlice::new(bytes)]) {
                Ok(n) if n == bytes.len() => {
                    if me.producer.is_some() && !me.streaming {
                        // A pull producer is asked for more from the flush
                        // that finds the queue empty.
                        Self::schedule_flush(slf, me);
                    }
                    return true;
                }
                Ok(n) => {
                    Self::queue_bytes(me, data);
                    me.queue.consume(n);
                }
                // Queued whole: the flush meets the error again and closes.
                Err(_) => Self::queue_bytes(me, data),
            }
        } else {
            Self::queue_bytes(me, data);
        }
        Self::schedule_flush(slf, me);
        false
    }

    /// `write`'s work, shared by the method PyO3 generates and the one
    /// `fast_write` installs on the concrete transport classes.
    pub(crate) fn write_data(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let bytes = data_must_be_bytes(data)?;
        let pause = {
            let mut me = slf.borrow_mut();
            if !me.accepts_writes() || bytes.as_bytes().is_empty() {
                return Ok(());
            }
            me.wrote = true;
            if Self::try_send_now(slf, &mut me, bytes) {
                return Ok(());
            }
            Self::producer_to_pause(&mut me, py)
        };
        if let Some(p) = pause {
            p.bind(py).call_method0(intern!(py, "pauseProducing"))?;
        }
        Ok(())
    }

    fn queue_bytes(me: &mut Self, data: &Bound<'_, PyBytes>) {
        me.queue.push(Chunk::Py(data.clone().unbind()));
    }

    /// The producer to pause if the queue passed the high-water mark.
    fn producer_to_pause(me: &mut Self, py: Python<'_>) -> Option<Py<PyAny>> {
        match &me.producer {
            Some(p) if me.streaming && me.queue.len() > HIGH_WATER => {
                me.producer_paused = true;
                Some(p.clone_ref(py))
            }
            _ => None,
        }
    }

    fn accepts_writes(&self) -> bool {
        self.state == ConnState::Connected && !self.write_disconnected && !self.aborting
    }
}

fn data_must_be_bytes<'a, 'py>(data: &'a Bound<'py, PyAny>) -> PyResult<&'a Bound<'py, PyBytes>> {
    data.cast::<PyBytes>()
        .map_err(|_| PyTypeError::new_err("Data must be bytes"))
}

#[pymethods]
impl TCPTransport {
    #[new]
    #[pyo3(signature = (reactor, fd, protocol=None, connecting=false))]
    fn new(
        reactor: Py<ReactorBase>,
        fd: RawFd,
        protocol: Option<Py<PyAny>>,
        connecting: bool,
    ) -> Self {
        Self {
            reactor,
            fd,
            token: None,
            state: if connecting {
                ConnState::Connecting
            } else {
                ConnState::Connected
            },
            was_connected: !connecting,
            reading: !connecting,
            peer_closed: false,
            in_stream: false,
            read_size: READ_SIZE,
            unread: VecDeque::new(),
            batching: false,
            wrote: false,
            answers_reads: false,
            writing: false,
            in_dirty: false,
            flush_follows: false,
            disconnecting: false,
            aborting: false,
            write_disconnecting: false,
            write_disconnected: false,
            queue: WriteQueue::new(),
            protocol,
            producer: None,
            streaming: false,
            producer_paused: false,
            on_connect: None,
            on_lost: None,
            relay: None,
            relay_throttled: false,
            relay_read_eof: false,
            peer: None,
            peer_obj: None,
            host_obj: None,
        }
    }

    /// Registers the descriptor with the reactor. `on_connect(errno or
    /// None)` is called when a connecting socket finishes; `on_lost(reason)`
    /// after the protocol's connectionLost.
    #[pyo3(name = "_start", signature = (on_connect=None, on_lost=None))]
    fn start(
        slf: &Bound<'_, Self>,
        on_connect: Option<Py<PyAny>>,
        on_lost: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let mut me = slf.borrow_mut();
        if me.token.is_some() {
            return Err(PyRuntimeError::new_err("transport already started"));
        }
        me.on_connect = on_connect;
        me.on_lost = on_lost;
        let reactor = me.reactor.bind(py).clone();
        let mut r = reactor.borrow_mut();
        let token = r.sources.insert(Source::Tcp(slf.clone().unbind()));
        if let Err(e) = r.register_fd(me.fd, token, Interest::READABLE | Interest::WRITABLE) {
            r.sources.remove(token);
            return Err(e);
        }
        me.token = Some(token);
        Ok(())
    }

    /// Queues `data` (bytes only) to be sent.
    fn write(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::write_data(slf, data)
    }

    /// Queues each bytes object of `iovec`, in order.
    #[pyo3(name = "writeSequence")]
    fn write_sequence(slf: &Bound<'_, Self>, iovec: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let items: Vec<Bound<'_, PyAny>> = iovec.try_iter()?.collect::<PyResult<_>>()?;
        for item in &items {
            data_must_be_bytes(item)?;
        }
        let pause = {
            let mut me = slf.borrow_mut();
            if !me.accepts_writes() || items.is_empty() {
                return Ok(());
            }
            me.wrote = true;
            for item in &items {
                Self::queue_bytes(&mut me, item.cast::<PyBytes>()?);
            }
            Self::schedule_flush(slf, &mut me);
            Self::producer_to_pause(&mut me, py)
        };
        if let Some(p) = pause {
            p.bind(py).call_method0(intern!(py, "pauseProducing"))?;
        }
        Ok(())
    }

    /// Sends everything queued, then closes (reason: ConnectionDone).
    #[pyo3(name = "loseConnection", signature = (_reason=None))]
    pub(crate) fn lose_connection(
        slf: &Bound<'_, Self>,
        _reason: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let mut me = slf.borrow_mut();
        if me.state != ConnState::Connected || me.disconnecting {
            return Ok(());
        }
        me.reading = false;
        if me.write_disconnected {
            // Nothing more can be written, so nothing will complete the
            // close later: Twisted calls connectionLost right here.
            me.writing = false;
            let reactor = me.reactor.bind(py).clone();
            drop(me);
            let reason = reactor.borrow().hooks()?.reason_done.clone_ref(py);
            close(py, &reactor, slf, reason.bind(py), true);
            return Ok(());
        }
        me.disconnecting = true;
        Self::schedule_flush(slf, &mut me);
        Ok(())
    }

    /// Drops anything queued and closes at once with a reset; the local
    /// reason is ConnectionAborted.
    #[pyo3(name = "abortConnection")]
    fn abort_connection(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let mut me = slf.borrow_mut();
        if me.state == ConnState::Disconnected || me.aborting {
            return Ok(());
        }
        me.aborting = true;
        me.reading = false;
        me.writing = false;
        me.queue.clear();
        let reactor = me.reactor.bind(py).clone();
        let reason = reactor.borrow().hooks()?.aborted(py);
        reactor
            .borrow_mut()
            .closing
            .push((slf.clone().unbind(), reason.unbind(), false));
        Ok(())
    }

    /// Half-closes: sends what is queued, then shuts down the write side.
    #[pyo3(name = "loseWriteConnection")]
    fn lose_write_connection(slf: &Bound<'_, Self>) {
        let mut me = slf.borrow_mut();
        if me.state != ConnState::Connected {
            return;
        }
        me.write_disconnecting = true;
        Self::schedule_flush(slf, &mut me);
    }

    /// Stops reading (the transport as a push producer).
    #[pyo3(name = "pauseProducing")]
    fn pause_producing(slf: &Bound<'_, Self>) {
        Self::stop_reading(slf);
    }

    /// Resumes reading unless disconnecting.
    #[pyo3(name = "resumeProducing")]
    fn resume_producing(slf: &Bound<'_, Self>) -> PyResult<()> {
        {
            let me = slf.borrow();
            if me.state != ConnState::Connected || me.disconnecting {
                return Ok(());
            }
        }
        Self::start_reading(slf)
    }

    /// Twisted: stopping a transport as a producer loses the connection.
    #[pyo3(name = "stopProducing")]
    fn stop_producing(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::lose_connection(slf, None)
    }

    #[pyo3(name = "startReading")]
    fn py_start_reading(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::start_reading(slf)
    }

    #[pyo3(name = "stopReading")]
    fn py_stop_reading(slf: &Bound<'_, Self>) {
        Self::stop_reading(slf);
    }

    #[pyo3(name = "startWriting")]
    fn py_start_writing(slf: &Bound<'_, Self>) {
        Self::start_writing(slf);
    }

    #[pyo3(name = "stopWriting")]
    fn py_stop_writing(slf: &Bound<'_, Self>) {
        Self::stop_writing(slf);
    }

    /// Registers a producer (streaming: push, else pull), as Twisted's
    /// _ConsumerMixin does.
    #[pyo3(name = "registerProducer")]
    fn register_producer(
        slf: &Bound<'_, Self>,
        producer: &Bound<'_, PyAny>,
        streaming: bool,
    ) -> PyResult<()> {
        let py = slf.py();
        let action = {
            let mut me = slf.borrow_mut();
            if let Some(existing) = &me.producer {
                return Err(PyRuntimeError::new_err(format!(
                    "Cannot register producer {}, because producer {} was never unregistered.",
                    producer.str()?,
                    existing.bind(py).str()?
                )));
            }
            if me.state == ConnState::Disconnected && me.was_connected {
                "stop"
            } else {
                me.producer = Some(producer.clone().unbind());
                me.streaming = streaming;
                me.producer_paused = false;
                if streaming {
                    ""
                } else {
                    "resume"
                }
            }
        };
        match action {
            "stop" => {
                producer.call_method0(intern!(py, "stopProducing"))?;
            }
            "resume" => {
                producer.call_method0(intern!(py, "resumeProducing"))?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Forgets the producer; a pending loseConnection can then complete.
    #[pyo3(name = "unregisterProducer")]
    fn unregister_producer(slf: &Bound<'_, Self>) {
        let old = {
            let mut me = slf.borrow_mut();
            let old = me.producer.take();
            if me.state == ConnState::Connected && me.disconnecting {
                Self::schedule_flush(slf, &mut me);
            }
            old
        };
        drop(old);
    }

    /// Closes now with `reason` (used by the reactor's disconnectAll).
    #[pyo3(name = "connectionLost")]
    fn connection_lost(slf: &Bound<'_, Self>, reason: &Bound<'_, PyAny>) {
        let py = slf.py();
        let reactor = slf.borrow().reactor.bind(py).clone();
        let orderly = !is_aborted_reason(py, reason);
        close(py, &reactor, slf, reason, orderly);
    }

    /// Fails a connection attempt that has not completed: closes the socket
    /// without calling back. Returns whether an attempt was pending.
    #[pyo3(name = "_abortConnecting")]
    fn abort_connecting(slf: &Bound<'_, Self>) -> bool {
        let py = slf.py();
        if slf.borrow().state != ConnState::Connecting {
            return false;
        }
        let reactor = slf.borrow().reactor.bind(py).clone();
        let (on_connect, on_lost) = teardown(py, &reactor, slf, true);
        drop((on_connect, on_lost));
        true
    }

    /// torsion extension: forward everything this transport reads to
    /// `other` and the reverse, in Rust, until either side closes.
    #[pyo3(name = "startRelay")]
    fn start_relay(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<()> {
        let reactor = slf.borrow().reactor.bind(slf.py()).clone();
        relay::start(&reactor, slf, other)
    }

    /// The transport this one relays to, if any.
    #[getter(_relayPeer)]
    fn relay_peer(&self, py: Python<'_>) -> Option<Py<TCPTransport>> {
        self.relay.as_ref().map(|r| r.clone_ref(py))
    }

    /// The socket's descriptor, or -1 once closed.
    fn fileno(&self) -> RawFd {
        if self.state == ConnState::Disconnected {
            -1
        } else {
            self.fd
        }
    }

    /// The most bytes one read takes, so the most one dataReceived call
    /// gets: Twisted's `bufferSize` (64 KiB); it may be changed at any time.
    #[getter(bufferSize)]
    fn buffer_size(&self) -> usize {
        self.read_size
    }

    #[setter(bufferSize)]
    fn set_buffer_size(&mut self, size: &Bound<'_, PyAny>) -> PyResult<()> {
        if size.is_instance_of::<PyBool>() || !size.is_instance_of::<PyInt>() {
            return Err(PyTypeError::new_err(format!(
                "bufferSize must be an int, not {}",
                size.get_type().name()?
            )));
        }
        match size.extract::<usize>() {
            Ok(n) if n >= 1 => {
                self.read_size = n;
                Ok(())
            }
            _ => Err(PyValueError::new_err(format!(
                "bufferSize must be at least 1, not {size}"
            ))),
        }
    }

    #[getter]
    fn connected(&self) -> bool {
        self.state == ConnState::Connected
    }

    #[getter]
    fn disconnecting(&self) -> bool {
        self.disconnecting
    }

    #[getter]
    fn disconnected(&self) -> bool {
        self.state == ConnState::Disconnected && self.was_connected
    }

    #[getter]
    fn protocol(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.protocol.as_ref().map(|p| p.clone_ref(py))
    }

    #[setter]
    fn set_protocol(&mut self, protocol: Option<Py<PyAny>>) {
        self.protocol = protocol;
    }

    #[getter]
    fn producer(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.producer.as_ref().map(|p| p.clone_ref(py))
    }

    #[getter(streamingProducer)]
    fn streaming_producer(&self) -> bool {
        self.streaming
    }

    #[getter(producerPaused)]
    fn producer_paused(&self) -> bool {
        self.producer_paused
    }

    #[getter]
    fn reactor(&self, py: Python<'_>) -> Py<ReactorBase> {
        self.reactor.clone_ref(py)
    }

    /// Bytes queued and not yet sent.
    #[pyo3(name = "_queuedBytes")]
    fn queued_bytes(&self) -> usize {
        self.queue.len()
    }

    /// Whether reading is on (not paused, stopped or closed).
    #[pyo3(name = "_isReading")]
    fn py_is_reading(&self) -> bool {
        self.is_reading()
    }

    #[pyo3(name = "getTcpNoDelay")]
    fn get_tcp_no_delay(&self) -> PyResult<bool> {
        sys::get_bool_opt(self.fd, libc::IPPROTO_TCP, libc::TCP_NODELAY).map_err(os_error)
    }

    #[pyo3(name = "setTcpNoDelay")]
    fn set_tcp_no_delay(&self, enabled: &Bound<'_, PyAny>) -> PyResult<()> {
        sys::set_bool_opt(
            self.fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            enabled.is_truthy()?,
        )
        .map_err(os_error)
    }

    #[pyo3(name = "getTcpKeepAlive")]
    fn get_tcp_keep_alive(&self) -> PyResult<bool> {
        sys::get_bool_opt(self.fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE).map_err(os_error)
    }

    #[pyo3(name = "setTcpKeepAlive")]
    fn set_tcp_keep_alive(&self, enabled: &Bound<'_, PyAny>) -> PyResult<()> {
        sys::set_bool_opt(
            self.fd,
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            enabled.is_truthy()?,
        )
        .map_err(os_error)
    }

    /// The remote address object, built once.
    #[pyo3(name = "_peerAddress")]
    fn peer_address(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Some(p) = &self.peer_obj {
            return Ok(p.clone_ref(py));
        }
        if self.peer.is_none() && self.state != ConnState::Disconnected {
            self.peer = sys::peer_addr(self.fd).map_err(os_error)?;
        }
        let addr = self
            .peer
            .ok_or_else(|| PyRuntimeError::new_err("peer address unknown"))?;
        let obj = self
            .reactor
            .bind(py)
            .borrow()
            .hooks()?
            .address(py, &addr)?
            .unbind();
        self.peer_obj = Some(obj.clone_ref(py));
        Ok(obj)
    }

    /// The local address object, built once.
    #[pyo3(name = "_hostAddress")]
    fn host_address(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Some(h) = &self.host_obj {
            return Ok(h.clone_ref(py));
        }
        if self.state == ConnState::Disconnected {
            return Err(PyRuntimeError::new_err("transport is closed"));
        }
        let addr = sys::local_addr(self.fd)
            .map_err(os_error)?
            .ok_or_else(|| PyRuntimeError::new_err("local address unknown"))?;
        let obj = self
            .reactor
            .bind(py)
            .borrow()
            .hooks()?
            .address(py, &addr)?
            .unbind();
        self.host_obj = Some(obj.clone_ref(py));
        Ok(obj)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.reactor)?;
        visit.call(&self.protocol)?;
        visit.call(&self.producer)?;
        visit.call(&self.on_connect)?;
        visit.call(&self.on_lost)?;
        visit.call(&self.relay)?;
        visit.call(&self.peer_obj)?;
        visit.call(&self.host_obj)?;
        Ok(())
    }

    fn __clear__(&mut self) {
        self.protocol = None;
        self.producer = None;
        self.on_connect = None;
        self.on_lost = None;
        self.relay = None;
        self.peer_obj = None;
        self.host_obj = None;
    }
}

fn is_aborted_reason(py: Python<'_>, reason: &Bound<'_, PyAny>) -> bool {
    let check = || -> PyResult<bool> {
        let cls = py
            .import("torsion.internet.error")?
            .getattr("ConnectionAborted")?;
        reason
            .call_method1(intern!(py, "check"), (cls,))?
            .is_truthy()
    };
    check().unwrap_or(false)
}

/// Unregisters and closes the socket; returns the callbacks still held.
/// No Python code runs here.
fn teardown(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, TCPTransport>,
    orderly: bool,
) -> (Option<Py<PyAny>>, Option<Py<PyAny>>) {
    let (fd, token, on_connect, on_lost, queue) = {
        let mut me = tr.borrow_mut();
        me.state = ConnState::Disconnected;
        me.reading = false;
        me.writing = false;
        me.unread.clear();
        let queue = std::mem::take(&mut me.queue);
        (
            me.fd,
            me.token.take(),
            me.on_connect.take(),
            me.on_lost.take(),
            queue,
        )
    };
    {
        let mut r = reactor.borrow_mut();
        r.deregister_fd(fd);
        if let Some(token) = token {
            r.sources.remove(token);
        }
    }
    if orderly {
        let _ = sys::shutdown(fd, libc::SHUT_RDWR);
    } else {
        let _ = sys::set_linger_zero(fd);
    }
    sys::close(fd);
    drop(queue);
    let _ = py;
    (on_connect, on_lost)
}

/// Ends the connection: closes the socket, stops the producer, then calls
/// `protocol.connectionLost(reason)` and the client's `on_lost(reason)`,
/// exactly once.
pub fn close(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, TCPTransport>,
    reason: &Bound<'_, PyAny>,
    orderly: bool,
) {
    let _context = Dispatching::enter(tr.as_any());
    let (producer, protocol, was_connected, partner) = {
        let mut me = tr.borrow_mut();
        if me.state == ConnState::Disconnected {
            return;
        }
        let was_connected = me.state == ConnState::Connected;
        (
            me.producer.take(),
            me.protocol.take(),
            was_connected,
            me.relay.take(),
        )
    };
    let (_on_connect, on_lost) = teardown(py, reactor, tr, orderly);
    let Ok(hooks) = reactor.borrow().hooks() else {
        return;
    };
    if let Some(p) = producer {
        if let Err(e) = p.bind(py).call_method0(intern!(py, "stopProducing")) {
            hooks.report(py, e, None);
        }
    }
    if let Some(p) = protocol {
        if let Err(e) = p
            .bind(py)
            .call_method1(intern!(py, "connectionLost"), (reason,))
        {
            hooks.report(py, e, None);
        }
    }
    if was_connected {
        if let Some(cb) = on_lost {
            if let Err(e) = cb.bind(py).call1((reason,)) {
                hooks.report(py, e, None);
            }
        }
    }
    if let Some(partner) = partner {
        relay::partner_closed(partner.bind(py));
    }
}

/// Reacts to one poller event for `tr`.
pub fn on_event(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, TCPTransport>,
    readable: bool,
    writable: bool,
    closed_or_error: bool,
) {
    // (on_readable, flush, finish_connect and close each mark `tr` as the
    // selectable being handled, for the log context.)
    let read = readable || closed_or_error;
    let state = {
        let mut me = tr.borrow_mut();
        if closed_or_error {
            me.peer_closed = true;
        }
        me.flush_follows = read && writable && me.state == ConnState::Connected;
        me.state
    };
    match state {
        ConnState::Connecting => finish_connect(py, reactor, tr, readable),
        ConnState::Connected => {
            if read {
                on_readable(py, reactor, tr);
            }
            let flush_now = writable && {
                let mut me = tr.borrow_mut();
                me.flush_follows = false;
                me.is_writing()
            };
            if flush_now {
                flush(py, reactor, tr);
            }
        }
        ConnState::Disconnected => {}
    }
}

fn finish_connect(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, TCPTransport>,
    readable: bool,
) {
    let _context = Dispatching::enter(tr.as_any());
    let fd = tr.borrow().fd;
    let errno = match sys::take_error(fd) {
        Ok(0) => match sys::peer_addr(fd) {
            Ok(peer) => {
                let mut me = tr.borrow_mut();
                me.peer = peer;
                me.state = ConnState::Connected;
                me.was_connected = true;
                me.reading = true;
                0
            }
            Err(e) => e.raw_os_error().unwrap_or(libc::ECONNREFUSED),
        },
        Ok(err) => err,
        Err(e) => e.raw_os_error().unwrap_or(libc::EIO),
    };
    let Ok(hooks) = reactor.borrow().hooks() else {
        return;
    };
    if errno != 0 {
        let (on_connect, _) = teardown(py, reactor, tr, true);
        if let Some(cb) = on_connect {
            if let Err(e) = cb.bind(py).call1((errno,)) {
                hooks.report(py, e, None);
            }
        }
        return;
    }
    let on_connect = tr.borrow_mut().on_connect.take();
    if let Some(cb) = on_connect {
        if let Err(e) = cb.bind(py).call1((py.None(),)) {
            callback_failed(py, reactor, tr, &e);
            return;
        }
    }
    if readable {
        reactor.borrow_mut().ready.push(tr.clone().unbind());
    }
    if tr.borrow().is_writing() {
        flush(py, reactor, tr);
    }
}

/// One read, delivered to `dataReceived` in chunks of at most READ_SIZE
/// (Twisted reads once per turn, at most its bufferSize), or the chunks a
/// pause held back.
pub fn on_readable(py: Python<'_>, reactor: &Bound<'_, ReactorBase>, tr: &Bound<'_, TCPTransport>) {
    let _context = Dispatching::enter(tr.as_any());
    let (fd, read_size, peer_closed, streaming, partner, has_unread) = {
        let me = tr.borrow();
        if !me.is_reading() || me.disconnecting || me.aborting {
            return;
        }
        (
            me.fd,
            me.read_size,
            me.peer_closed,
            me.in_stream,
            me.relay.as_ref().map(|r| r.clone_ref(py)),
            !me.unread.is_empty(),
        )
    };
    if let Some(partner) = partner {
        return relay_readable(py, reactor, tr, partner.bind(py), fd, peer_closed);
    }
    if has_unread {
        // Resumed after pausing in the middle of a batch: the rest of it
        // comes first. The socket is read next turn (edge-triggered: data
        // that arrived meanwhile will not be reported again).
        let unread = std::mem::take(&mut tr.borrow_mut().unread);
        reactor.borrow_mut().ready.push(tr.clone().unbind());
        deliver(
            py,
            reactor,
            tr,
            unread.into_iter().map(|b| b.into_bound(py)),
        );
        return;
    }
    if streaming {
        return read_stream(py, reactor, tr, fd, read_size, peer_closed);
    }
    match read::read_bytes(py, fd, read_size) {
        Ok(Some((data, full))) => {
            tr.borrow_mut().in_stream = full || is_stream(std::slice::from_ref(&data), read_size);
            if full || peer_closed {
                // More (or the end of the stream) may be waiting; the
                // edge-triggered poller will not say so again.
                reactor.borrow_mut().ready.push(tr.clone().unbind());
            }
            deliver(py, reactor, tr, std::iter::once(data));
        }
        Ok(None) => read_ended(py, reactor, tr, Ok(())),
        Err(e) => read_ended(py, reactor, tr, Err(e)),
    }
}

/// Reads a stream: up to 256 KiB this turn, in chunks of bufferSize, each
/// delivered by its own dataReceived call.
///
/// A protocol that only consumes gets them from one readv, the fewest
/// syscalls. One that answers what it reads (an echo, a transform) gets
/// them one read at a time, and each chunk's answer is sent before the
/// next read, as a C server's read/write loop does: the chunk is still in
/// the CPU's cache when the send copies it. Measured on the streaming
/// echo (4 connections, 64 KiB chunks, server CPU per byte, medians of
/// interleaved rounds): a C server doing 64 KiB reads and writes was 1.11x
/// the same server doing 256 KiB ones (6 rounds); torsion reading this way
/// was 1.03x its 256 KiB readv followed by one send (10 rounds), though
/// about 0.93x of it while the VM ran slow (3 rounds). A consuming
/// protocol, fed by a client that does not wait for answers, costs 2% more
/// per byte one read at a time, hence the two ways.
///
/// A read that finds the socket drained ends the stream (`read_ended`), so
/// the next read goes through the copying path; keeping the stream there
/// instead (no small reads through the copy, a third fewer epoll_wait)
/// measured 0.96x (6 rounds): the short read after a drain then lands in a
/// 64 KiB object that has to be cut down.
fn read_stream(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, TCPTransport>,
    fd: RawFd,
    read_size: usize,
    peer_closed: bool,
) {
    let mut budget = read::stream_turn_chunks(read_size);
    loop {
        let count = if tr.borrow().answers_reads { 1 } else { budget };
        let (chunks, full) = match read::read_chunks(py, fd, read_size, count) {
            Ok((chunks, full)) if !chunks.is_empty() => (chunks, full),
            other => return read_ended(py, reactor, tr, other.map(|_| ())),
        };
        budget -= count;
        {
            let mut me = tr.borrow_mut();
            me.in_stream = full || is_stream(&chunks, read_size);
            // Several chunks' writes go out together in one send.
            me.batching = count > 1;
            me.wrote = false;
        }
        deliver(py, reactor, tr, chunks.into_iter());
        let (queued, read_on) = {
            let mut me = tr.borrow_mut();
            me.batching = false;
            me.answers_reads = me.wrote;
            let read_on = full
                && budget > 0
                && me.is_reading()
                && !me.disconnecting
                && !me.aborting
                && me.unread.is_empty()
                && me.relay.is_none()
                && me.queue.is_empty();
            (me.in_dirty, read_on)
        };
        if count > 1 && queued {
            // Sent now rather than at the end of the turn (the transport's
            // entry in the dirty list is then skipped).
            flush(py, reactor, tr);
        }
        if !read_on {
            if full || peer_closed {
                // More (or the end of the stream) may be waiting; the
                // edge-triggered poller will not say so again.
                reactor.borrow_mut().ready.push(tr.clone().unbind());
            }
            return;
        }
    }
}

/// Whether a read that brought `chunks` looks like part of a stream: at
/// least half of bufferSize. A read that fills the buffer certainly does;
/// counting half-full ones too (a sender's 64 KiB writes often arrive a
/// little short of it) measured 1.04x on the streaming echo benchmark
/// (median of 10 interleaved rounds), where the next read would otherwise
/// go through the copying path for small reads.
fn is_stream(chunks: &[Bound<'_, PyBytes>], read_size: usize) -> bool {
    chunks.iter().map(|c| c.as_bytes().len()).sum::<usize>() >= read_size / 2
}

/// Hands `chunks` to dataReceived one call each, for as long as the
/// transport is reading: chunks left when the protocol paused it wait in
/// `unread`; those left when it disconnects are dropped, as Twisted would
/// never have read them. A chunk read before the protocol lowered
/// bufferSize goes out in pieces of the new size, so that no call gets more
/// (each piece copied once, however small the size).
fn deliver<'py>(
    py: Python<'py>,
    reactor: &Bound<'py, ReactorBase>,
    tr: &Bound<'py, TCPTransport>,
    mut chunks: impl Iterator<Item = Bound<'py, PyBytes>>,
) {
    // A chunk being handed out in pieces, and where the next piece starts.
    let mut partial: Option<(Bound<'py, PyBytes>, usize)> = None;
    loop {
        let (chunk, start) = match partial.take() {
            Some(part) => part,
            None => match chunks.next() {
                Some(chunk) => (chunk, 0),
                None => return,
            },
        };
        let (protocol, data) = {
            let mut me = tr.borrow_mut();
            if me.disconnecting || me.aborting || me.state != ConnState::Connected {
                return;
            }
            let len = chunk.as_bytes().len();
            if !me.reading {
                let rest = if start == 0 {
                    chunk
                } else {
                    PyBytes::new(py, &chunk.as_bytes()[start..])
                };
                me.unread.push_back(rest.unbind());
                me.unread.extend(chunks.map(Bound::unbind));
                return;
            }
            let end = len.min(start + me.read_size);
            let data = if start == 0 && end == len {
                chunk
            } else {
                let piece = PyBytes::new(py, &chunk.as_bytes()[start..end]);
                if end < len {
                    partial = Some((chunk, end));
                }
                piece
            };
            (me.protocol.as_ref().map(|p| p.bind(py).clone()), data)
        };
        let Some(protocol) = protocol else { return };
        let received = protocol.call_method1(intern!(py, "dataReceived"), (&data,));
        spare_bytes::give_back(data);
        if let Err(e) = received {
            callback_failed(py, reactor, tr, &e);
            return;
        }
    }
}

/// A read that found the end of the stream (`Ok`) or failed (nothing to
/// do for EAGAIN).
fn read_ended(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, TCPTransport>,
    read: std::io::Result<()>,
) {
    tr.borrow_mut().in_stream = false;
    match read {
        Ok(()) => {
            let Ok(hooks) = reactor.borrow().hooks() else {
                return;
            };
            on_eof(py, reactor, tr, &hooks);
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(_) => close_lost(py, reactor, tr),
    }
}

/// Closes `tr` after a socket error: the reason is ConnectionLost.
fn close_lost(py: Python<'_>, reactor: &Bound<'_, ReactorBase>, tr: &Bound<'_, TCPTransport>) {
    let Ok(hooks) = reactor.borrow().hooks() else {
        return;
    };
    let reason = hooks.reason_lost.bind(py).clone();
    close(py, reactor, tr, &reason, true);
}

/// A protocol callback raised `e`: logged, and the connection closed with
/// it as the reason, as Twisted does.
fn callback_failed(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, TCPTransport>,
    e: &PyErr,
) {
    let Ok(hooks) = reactor.borrow().hooks() else {
        return;
    };
    hooks.report(py, e.clone_ref(py), None);
    let failure = hooks.failure_of(py, e);
    close(py, reactor, tr, &failure, true);
}

/// One read on a relaying transport, forwarded to its partner.
fn relay_readable(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, TCPTransport>,
    partner: &Bound<'_, TCPTransport>,
    fd: RawFd,
    peer_closed: bool,
) {
    let read = read::with_buffer(py, |buf| match sys::recv(fd, buf) {
        Ok(0) => Ok((0, false)),
        Ok(n) => Ok((n, relay::send_or_queue(partner, &buf[..n]))),
        Err(e) => Err(e),
    });
    match read {
        Ok((0, _)) => relay::read_eof(py, reactor, tr, partner),
        Ok((n, partner_failed)) => {
            if partner_failed {
                close_lost(py, reactor, partner);
                return;
            }
            relay::throttle_if_full(tr, partner);
            if n == READ_SIZE || peer_closed {
                reactor.borrow_mut().ready.push(tr.clone().unbind());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(_) => close_lost(py, reactor, tr),
    }
}

fn on_eof(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, TCPTransport>,
    hooks: &crate::py::dispatch::Hooks,
) {
    let protocol = {
        let mut me = tr.borrow_mut();
        me.reading = false;
        me.protocol.as_ref().map(|p| p.clone_ref(py))
    };
    if let Some(p) = &protocol {
        let p = p.bind(py);
        if hooks.is_half_closeable(py, p) {
            if let Err(e) = p.call_method0(intern!(py, "readConnectionLost")) {
                callback_failed(py, reactor, tr, &e);
            }
            return;
        }
    }
    let reason = hooks.reason_done.bind(py).clone();
    close(py, reactor, tr, &reason, true);
}

enum AfterFlush {
    Nothing,
    ResumeProducer(Py<PyAny>),
    Close,
    HalfClose(RawFd, Option<Py<PyAny>>),
    Lost,
}

/// Sends what is queued; when the queue empties, resumes the producer or
/// completes a pending loseConnection / loseWriteConnection.
pub fn flush(py: Python<'_>, reactor: &Bound<'_, ReactorBase>, tr: &Bound<'_, TCPTransport>) {
    let _context = Dispatching::enter(tr.as_any());
    let mut drained_partner = None;
    let after = {
        let mut me = tr.borrow_mut();
        me.in_dirty = false;
        if me.state != ConnState::Connected || me.aborting || !me.writing {
            return;
        }
        let fd = me.fd;
        let sent = me.queue.flush_into(
            |iov| sys::send_vectored(fd, iov),
            |chunk| {
                if let Chunk::Py(b) = chunk {
                    spare_bytes::give_back(b.into_bound(py));
                }
            },
        );
        match sent {
            Err(_) => AfterFlush::Lost,
            Ok(_) if !me.queue.is_empty() => AfterFlush::Nothing,
            Ok(_) => {
                me.writing = false;
                drained_partner = me.relay.as_ref().map(|r| r.clone_ref(py));
                let resume = me.producer.is_some() && (!me.streaming || me.producer_paused);
                match me.producer.as_ref().map(|p| p.clone_ref(py)) {
                    Some(p) if resume => {
                        me.producer_paused = false;
                        AfterFlush::ResumeProducer(p)
                    }
                    _ if me.disconnecting => AfterFlush::Close,
                    _ if me.write_disconnecting && !me.write_disconnected => {
                        me.write_disconnected = true;
                        AfterFlush::HalfClose(fd, me.protocol.as_ref().map(|p| p.clone_ref(py)))
                    }
                    _ => AfterFlush::Nothing,
                }
            }
        }
    };
    if let Some(partner) = drained_partner {
        relay::drained(reactor, partner.bind(py));
    }
    if matches!(after, AfterFlush::Nothing) {
        return;
    }
    let Ok(hooks) = reactor.borrow().hooks() else {
        return;
    };
    match after {
        AfterFlush::Nothing => {}
        AfterFlush::Lost => {
            let reason = hooks.reason_lost.bind(py).clone();
            close(py, reactor, tr, &reason, true);
        }
        AfterFlush::Close => {
            let reason = hooks.reason_done.bind(py).clone();
            close(py, reactor, tr, &reason, true);
        }
        AfterFlush::ResumeProducer(p) => {
            if let Err(e) = p.bind(py).call_method0(intern!(py, "resumeProducing")) {
                callback_failed(py, reactor, tr, &e);
            }
        }
        AfterFlush::HalfClose(fd, protocol) => {
            let _ = sys::shutdown(fd, libc::SHUT_WR);
            if tr.borrow().relay.is_some() || tr.borrow().relay_read_eof {
                relay::write_shut(py, reactor, tr);
                return;
            }
            if let Some(p) = protocol {
                let p = p.bind(py);
                if hooks.is_half_closeable(py, p) {
                    if let Err(e) = p.call_method0(intern!(py, "writeConnectionLost")) {
                        callback_failed(py, reactor, tr, &e);
                    }
                }
            }
        }
    }
}
