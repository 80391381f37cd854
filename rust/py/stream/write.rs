//! The write path: `write` / `writeSequence` queue the caller's bytes
//! objects (never copied); `flush` sends the queue with vectored writes
//! and, once it drains, resumes the producer or completes a pending
//! loseConnection / loseWriteConnection.
//!
//! A write never sends by itself, as in Twisted: the queue goes out at the
//! end of the turn (or right after the event being handled), where many
//! writes leave in one vectored send. Sending writes of 16 KiB or more at
//! once, from inside `write()`, was tried and measured: 1.01x on echo-16k
//! (5 interleaved rounds, inside a ±20% spread), and on streams it only
//! made each chunk's answer its own send, which the batched reads below
//! beat by far (see read.rs); it was removed.

use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::core::life::Drained;
use crate::py::cpython::spare_bytes;
use crate::py::dispatch::{settle, Callback, Outcome, Reason};
use crate::py::reactor::ReactorBase;
use crate::py::relay;
use crate::py::stream::end;
use crate::py::stream::state::{Flush, ProducerKind};
use crate::py::stream::{Chunk, Stream, FDS_HIGH_WATER, HIGH_WATER};

pub(crate) fn data_must_be_bytes<'a, 'py>(
    data: &'a Bound<'py, PyAny>,
) -> PyResult<&'a Bound<'py, PyBytes>> {
    data.cast::<PyBytes>()
        .map_err(|_| PyTypeError::new_err("Data must be bytes"))
}

impl Stream {
    /// `write`'s work, shared by the method PyO3 generates and the one
    /// `cpython::fast_write` installs on the concrete transport classes.
    pub(crate) fn write_data(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let bytes = data_must_be_bytes(data)?;
        let pause = {
            let mut me = slf.borrow_mut();
            if !me.life.accepts_writes() || bytes.as_bytes().is_empty() {
                return Ok(());
            }
            me.queue_bytes(bytes);
            Self::schedule_flush(slf, &mut me);
            me.producer_to_pause(slf.py())
        };
        pause.map_or(Ok(()), |p| pause_producer(slf.py(), p))
    }

    /// `writeSequence`'s work: each bytes object queued, in order.
    pub(crate) fn write_all(slf: &Bound<'_, Self>, iovec: &Bound<'_, PyAny>) -> PyResult<()> {
        let items: Vec<Bound<'_, PyAny>> = iovec.try_iter()?.collect::<PyResult<_>>()?;
        for item in &items {
            data_must_be_bytes(item)?;
        }
        let pause = {
            let mut me = slf.borrow_mut();
            if !me.life.accepts_writes() || items.is_empty() {
                return Ok(());
            }
            for item in &items {
                me.queue_bytes(item.cast::<PyBytes>()?);
            }
            Self::schedule_flush(slf, &mut me);
            me.producer_to_pause(slf.py())
        };
        pause.map_or(Ok(()), |p| pause_producer(slf.py(), p))
    }

    /// `sendFileDescriptor`'s work: the descriptor goes with the next
    /// queued byte (the caller keeps it open until then, as in Twisted).
    pub(crate) fn queue_descriptor(slf: &Bound<'_, Self>, fd: std::os::fd::RawFd) -> PyResult<()> {
        let pause = {
            let mut me = slf.borrow_mut();
            me.fds_out.push_back(fd);
            if me.life.is_open() {
                Self::schedule_flush(slf, &mut me);
            }
            me.producer_to_pause(slf.py())
        };
        pause.map_or(Ok(()), |p| pause_producer(slf.py(), p))
    }

    fn queue_bytes(&mut self, data: &Bound<'_, PyBytes>) {
        self.queue.push(Chunk::Py(data.clone().unbind()));
    }

    /// The push producer to pause if the queue passed the high-water mark.
    fn producer_to_pause(&mut self, py: Python<'_>) -> Option<Py<PyAny>> {
        let full = self.queue.len() > HIGH_WATER || self.fds_out.len() > FDS_HIGH_WATER;
        match &mut self.producer {
            Some(p) if full && matches!(p.kind, ProducerKind::Push { .. }) => {
                p.kind = ProducerKind::Push { paused: true };
                Some(p.object.clone_ref(py))
            }
            _ => None,
        }
    }
}

/// Twisted calls `pauseProducing` from inside `write()`: its exception
/// goes to the writer.
fn pause_producer(py: Python<'_>, producer: Py<PyAny>) -> PyResult<()> {
    debug_assert_eq!(
        Callback::PauseProducing.policy(),
        crate::py::dispatch::Policy::Raise
    );
    producer
        .bind(py)
        .call_method0(intern!(py, "pauseProducing"))
        .map(|_| ())
}

/// What a drained queue leads to.
enum AfterDrain {
    Nothing,
    ResumeProducer(Py<PyAny>),
    Close,
    ShutWrite,
}

/// Sends what is queued; when the queue empties, resumes the producer or
/// completes a pending loseConnection / loseWriteConnection.
pub fn flush(py: Python<'_>, reactor: &Bound<'_, ReactorBase>, tr: &Bound<'_, Stream>) {
    end::handle(py, reactor, tr, flush_outcome);
}

fn flush_outcome(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, Stream>,
) -> Outcome {
    let (after, drained_partner) = {
        let mut me = tr.borrow_mut();
        if me.flush == Flush::Off || !me.life.is_open() {
            return Outcome::Continue;
        }
        me.flush = Flush::On;
        match send_queued(py, &mut me) {
            Err(reason) => return Outcome::Close(reason),
            Ok(false) => return Outcome::Continue,
            Ok(true) => {}
        }
        me.flush = Flush::Off;
        let partner = me.relay.as_ref().map(|r| r.partner.clone_ref(py));
        let resume = match &mut me.producer {
            Some(p) if p.kind != (ProducerKind::Push { paused: false }) => {
                if let ProducerKind::Push { paused } = &mut p.kind {
                    *paused = false;
                }
                Some(p.object.clone_ref(py))
            }
            _ => None,
        };
        let after = match resume {
            Some(p) => AfterDrain::ResumeProducer(p),
            None => match me.life.drained() {
                Drained::Close => AfterDrain::Close,
                Drained::ShutWrite => AfterDrain::ShutWrite,
                Drained::Nothing => AfterDrain::Nothing,
            },
        };
        (after, partner)
    };
    if let Some(partner) = drained_partner {
        relay::drained(reactor, partner.bind(py));
    }
    match after {
        AfterDrain::Nothing => Outcome::Continue,
        AfterDrain::Close => Outcome::Close(Reason::Done),
        AfterDrain::ResumeProducer(p) => {
            let hooks = reactor.borrow().hooks();
            let resumed = p.bind(py).call_method0(intern!(py, "resumeProducing"));
            settle(py, &hooks, Callback::ResumeProducing, resumed)
        }
        AfterDrain::ShutWrite => write_side_shut(py, reactor, tr),
    }
}

/// Sends descriptors, then the queue: `Ok(true)` once everything is sent,
/// `Ok(false)` when the socket is full, `Err` with the reason to close.
#[inline]
fn send_queued(py: Python<'_>, me: &mut Stream) -> Result<bool, Reason> {
    let Some(layer) = me.layer.as_ref() else {
        return Ok(false);
    };
    if !me.fds_out.is_empty() {
        if me.fds_out.len() > me.queue.len() {
            // Each descriptor needs a byte to travel with (Twisted:
            // FileDescriptorOverrun).
            let hooks = me.reactor.bind(py).borrow().hooks();
            return Err(Reason::Failure(hooks.overrun(py).unbind()));
        }
        while let Some(&fd) = me.fds_out.front() {
            let mut first = [0u8; 1];
            me.queue.copy_front(&mut first);
            match layer.write_with_fd(&first, fd) {
                Ok(_) => {
                    me.fds_out.pop_front();
                    me.queue.consume(1);
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(libc::ENOBUFS) =>
                {
                    return Ok(false);
                }
                Err(_) => return Err(Reason::Lost),
            }
        }
    }
    let sent = me.queue.flush_into(
        |iov| layer.write_vectored(iov),
        |chunk| {
            if let Chunk::Py(b) = chunk {
                spare_bytes::give_back(b.into_bound(py));
            }
        },
    );
    match sent {
        Err(_) => Err(Reason::Lost),
        Ok(_) => Ok(me.queue.is_empty()),
    }
}

/// The write side was just shut (the queue drained after
/// loseWriteConnection): a FIN goes out, and a half-closeable protocol
/// hears writeConnectionLost.
fn write_side_shut(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, Stream>,
) -> Outcome {
    let (relaying, protocol) = {
        let me = tr.borrow();
        if let Some(layer) = me.layer() {
            // A peer already gone changes nothing: reads will tell.
            let _ = layer.shutdown_write();
        }
        (
            me.relay.is_some(),
            me.protocol.as_ref().map(|p| p.clone_ref(py)),
        )
    };
    if relaying {
        return relay::write_shut(tr);
    }
    let Some(p) = protocol else {
        return Outcome::Continue;
    };
    let hooks = reactor.borrow().hooks();
    let p = p.bind(py);
    if !hooks.is_half_closeable(py, p) {
        return Outcome::Continue;
    }
    let told = p.call_method0(intern!(py, "writeConnectionLost"));
    settle(py, &hooks, Callback::WriteConnectionLost, told)
}
