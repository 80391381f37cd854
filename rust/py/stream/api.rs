//! The methods and attributes Python sees on a stream (Twisted's
//! ITransport, IConsumer, IPushProducer, IHalfCloseableDescriptor and the
//! socket's options), and the constructor.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, RawFd};

use mio::Interest;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt};
use pyo3::{PyTraverseError, PyVisit};

use crate::core::fd;
use crate::core::life::{Life, Lose, WriteSide};
use crate::core::sock;
use crate::core::write_queue::WriteQueue;
use crate::py::cpython::bytes_read::READ_SIZE;
use crate::py::dispatch::os_error;
use crate::py::reactor::{ReactorBase, Source};
use crate::py::relay;
use crate::py::stream::end::{close, teardown};
use crate::py::stream::layer::Layer;
use crate::py::stream::state::{Flush, Producer, ProducerKind, ReadMode, ReadState, SendAt};
use crate::py::stream::Stream;

#[pymethods]
impl Stream {
    /// A stream over the connected (or, with `connecting`, connecting)
    /// socket `fd`, which it owns from here on.
    #[new]
    #[pyo3(signature = (reactor, fd, protocol=None, connecting=false))]
    fn new(
        reactor: Py<ReactorBase>,
        fd: RawFd,
        protocol: Option<Py<PyAny>>,
        connecting: bool,
    ) -> PyResult<Self> {
        let layer = Layer::for_socket(fd::adopt(fd).map_err(os_error)?);
        Ok(Self {
            reactor,
            layer: Some(layer),
            token: None,
            life: if connecting {
                Life::Connecting
            } else {
                Life::Open(WriteSide::Open)
            },
            reading: !connecting,
            flush: Flush::Off,
            send_at: SendAt::TurnEnd,
            read: ReadState {
                size: READ_SIZE,
                mode: ReadMode::Copy,
                peer_closed: false,
                unread: VecDeque::new(),
            },
            queue: WriteQueue::new(),
            fds_out: VecDeque::new(),
            protocol,
            producer: None,
            streaming_registered: false,
            on_connect: None,
            on_lost: None,
            relay: None,
            peer: None,
            peer_obj: None,
            host_obj: None,
        })
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
        let Some(fd) = me.layer().map(|l| l.fd().as_raw_fd()) else {
            return Err(PyRuntimeError::new_err("transport is closed"));
        };
        me.on_connect = on_connect;
        me.on_lost = on_lost;
        let reactor = me.reactor.bind(py).clone();
        let mut r = reactor.borrow_mut();
        let source = Source::Stream(slf.clone().unbind());
        me.token = Some(r.add_source(fd, source, Interest::READABLE | Interest::WRITABLE)?);
        Ok(())
    }

    /// Queues `data` (bytes only) to be sent.
    fn write(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::write_data(slf, data)
    }

    /// Queues each bytes object of `iovec`, in order.
    #[pyo3(name = "writeSequence")]
    fn write_sequence(slf: &Bound<'_, Self>, iovec: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::write_all(slf, iovec)
    }

    /// Sends the descriptor `fd` with the next byte written (UNIX sockets).
    #[pyo3(name = "_sendFileDescriptor")]
    fn send_file_descriptor(slf: &Bound<'_, Self>, fd: RawFd) -> PyResult<()> {
        Self::queue_descriptor(slf, fd)
    }

    /// Sends everything queued, then closes (reason: ConnectionDone).
    #[pyo3(name = "loseConnection", signature = (_reason=None))]
    pub(crate) fn lose_connection(
        slf: &Bound<'_, Self>,
        _reason: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let mut me = slf.borrow_mut();
        match me.life.lose() {
            Lose::Nothing => {}
            Lose::Drain => {
                me.reading = false;
                Self::schedule_flush(slf, &mut me);
            }
            Lose::CloseNow => {
                me.reading = false;
                me.flush = Flush::Off;
                let reactor = me.reactor.bind(py).clone();
                drop(me);
                let reason = reactor.borrow().hooks().reason_done.clone_ref(py);
                close(py, &reactor, slf, reason.bind(py), true);
            }
        }
        Ok(())
    }

    /// Drops anything queued and closes at once with a reset; the local
    /// reason is ConnectionAborted.
    #[pyo3(name = "abortConnection")]
    fn abort_connection(slf: &Bound<'_, Self>) {
        let py = slf.py();
        let mut me = slf.borrow_mut();
        if !me.life.abort() {
            return;
        }
        me.reading = false;
        me.flush = Flush::Off;
        me.queue.clear();
        me.fds_out.clear();
        let reactor = me.reactor.bind(py).clone();
        drop(me);
        let reason = reactor.borrow().hooks().aborted(py);
        reactor
            .borrow_mut()
            .closing
            .push((slf.clone().unbind(), reason.unbind(), false));
    }

    /// Half-closes: sends what is queued, then shuts down the write side.
    #[pyo3(name = "loseWriteConnection")]
    fn lose_write_connection(slf: &Bound<'_, Self>) {
        let mut me = slf.borrow_mut();
        if me.life.lose_write() {
            Self::schedule_flush(slf, &mut me);
        }
    }

    /// Stops reading (the transport as a push producer).
    #[pyo3(name = "pauseProducing")]
    fn pause_producing(slf: &Bound<'_, Self>) {
        Self::stop_reading(slf);
    }

    /// Resumes reading unless disconnecting.
    #[pyo3(name = "resumeProducing")]
    fn resume_producing(slf: &Bound<'_, Self>) {
        if slf.borrow().life.reads() {
            Self::start_reading(slf);
        }
    }

    /// Twisted: stopping a transport as a producer loses the connection.
    #[pyo3(name = "stopProducing")]
    fn stop_producing(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::lose_connection(slf, None)
    }

    #[pyo3(name = "startReading")]
    fn py_start_reading(slf: &Bound<'_, Self>) {
        Self::start_reading(slf);
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
        streaming: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        // Any true or false value, as Twisted takes (its Chargen passes 0).
        let streaming = streaming.is_truthy()?;
        let call = {
            let mut me = slf.borrow_mut();
            if let Some(existing) = &me.producer {
                return Err(PyRuntimeError::new_err(format!(
                    "Cannot register producer {}, because producer {} was never unregistered.",
                    producer.str()?,
                    existing.object.bind(py).str()?
                )));
            }
            if me.life.disconnected() {
                Some(intern!(py, "stopProducing"))
            } else {
                me.producer = Some(Producer {
                    object: producer.clone().unbind(),
                    kind: if streaming {
                        ProducerKind::Push { paused: false }
                    } else {
                        ProducerKind::Pull
                    },
                });
                me.streaming_registered = streaming;
                (!streaming).then(|| intern!(py, "resumeProducing"))
            }
        };
        // Twisted makes this call inline: an error goes to the caller
        // (Callback::ProducerRegistered's policy).
        if let Some(method) = call {
            producer.call_method0(method)?;
        }
        Ok(())
    }

    /// Forgets the producer; a pending loseConnection can then complete.
    #[pyo3(name = "unregisterProducer")]
    fn unregister_producer(slf: &Bound<'_, Self>) {
        let old = {
            let mut me = slf.borrow_mut();
            let old = me.producer.take();
            if me.life.is_open() && me.life.disconnecting() {
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
        let orderly = !reactor.borrow().hooks().is_aborted(py, reason);
        close(py, &reactor, slf, reason, orderly);
    }

    /// Fails a connection attempt that has not completed: closes the socket
    /// without calling back. Returns whether an attempt was pending.
    #[pyo3(name = "_abortConnecting")]
    fn abort_connecting(slf: &Bound<'_, Self>) -> bool {
        if slf.borrow().life != Life::Connecting {
            return false;
        }
        let reactor = slf.borrow().reactor.bind(slf.py()).clone();
        drop(teardown(&reactor, slf, true));
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
    fn relay_peer(&self, py: Python<'_>) -> Option<Py<Stream>> {
        self.relay.as_ref().map(|r| r.partner.clone_ref(py))
    }

    /// The descriptor, or -1 once closed.
    fn fileno(&self) -> RawFd {
        self.layer().map_or(-1, |l| l.fd().as_raw_fd())
    }

    /// The most bytes one read takes, so the most one dataReceived call
    /// gets: Twisted's `bufferSize` (64 KiB); it may be changed at any time.
    #[getter(bufferSize)]
    fn buffer_size(&self) -> usize {
        self.read.size
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
                self.read.size = n;
                Ok(())
            }
            _ => Err(PyValueError::new_err(format!(
                "bufferSize must be at least 1, not {size}"
            ))),
        }
    }

    #[getter]
    fn connected(&self) -> bool {
        self.life.connected_flag()
    }

    #[getter]
    fn disconnecting(&self) -> bool {
        self.life.disconnecting()
    }

    #[getter]
    fn disconnected(&self) -> bool {
        self.life.disconnected()
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
        self.producer.as_ref().map(|p| p.object.clone_ref(py))
    }

    #[getter(streamingProducer)]
    fn streaming_producer(&self) -> bool {
        self.streaming_registered
    }

    #[getter(producerPaused)]
    fn producer_paused(&self) -> bool {
        matches!(
            &self.producer,
            Some(Producer {
                kind: ProducerKind::Push { paused: true },
                ..
            })
        )
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

    /// A boolean socket option (TCP_NODELAY, SO_KEEPALIVE, ...).
    #[pyo3(name = "_getBoolOption")]
    fn get_bool_option(&self, level: i32, name: i32) -> PyResult<bool> {
        let layer = self.open_layer()?;
        sock::get_bool_opt(layer.fd(), level, name).map_err(os_error)
    }

    #[pyo3(name = "_setBoolOption")]
    fn set_bool_option(&self, level: i32, name: i32, enabled: &Bound<'_, PyAny>) -> PyResult<()> {
        let layer = self.open_layer()?;
        sock::set_bool_opt(layer.fd(), level, name, enabled.is_truthy()?).map_err(os_error)
    }

    /// The remote address object, built once.
    #[pyo3(name = "_peerAddress")]
    fn peer_address(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Some(p) = &self.peer_obj {
            return Ok(p.clone_ref(py));
        }
        if self.peer.is_none() {
            if let Some(layer) = self.layer() {
                self.peer = sock::peer_addr(layer.fd()).map_err(os_error)?;
            }
        }
        let addr = self
            .peer
            .as_ref()
            .ok_or_else(|| PyRuntimeError::new_err("peer address unknown"))?;
        let obj = self
            .reactor
            .bind(py)
            .borrow()
            .hooks()
            .address(py, addr)?
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
        let layer = self.open_layer()?;
        let addr = sock::local_addr(layer.fd())
            .map_err(os_error)?
            .ok_or_else(|| PyRuntimeError::new_err("local address unknown"))?;
        let obj = self
            .reactor
            .bind(py)
            .borrow()
            .hooks()
            .address(py, &addr)?
            .unbind();
        self.host_obj = Some(obj.clone_ref(py));
        Ok(obj)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.reactor)?;
        visit.call(&self.protocol)?;
        if let Some(p) = &self.producer {
            visit.call(&p.object)?;
        }
        visit.call(&self.on_connect)?;
        visit.call(&self.on_lost)?;
        if let Some(r) = &self.relay {
            visit.call(&r.partner)?;
        }
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

impl Stream {
    fn open_layer(&self) -> PyResult<&Layer> {
        self.layer()
            .ok_or_else(|| PyRuntimeError::new_err("transport is closed"))
    }
}
