//! Stream: one byte stream with Twisted's transport semantics (write
//! queue, producers, loseConnection / abortConnection / half-close,
//! connectionLost exactly once, the relay), whatever moves its bytes.
//!
//! The byte layer (layer.rs) is the only part that differs between a TCP
//! socket, a UNIX socket and the layers to come (TLS, pipes). The files
//! here split the rest by job: `state.rs` and `core::life` hold the state
//! as types, `read.rs` and `write.rs` the data paths, `end.rs` the one
//! place that closes, `api.rs` the methods Python sees. The Python
//! subclasses (`torsion.internet.tcp`, `unix`) add interface declarations
//! and the rarely used methods.
//!
//! No borrow of a stream is held while Python runs: each helper borrows,
//! computes, releases, then calls out.

pub mod api;
pub mod end;
pub mod layer;
pub mod read;
pub mod state;
pub mod write;

use std::collections::VecDeque;
use std::os::fd::RawFd;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::core::life::Life;
use crate::core::sock::SockAddr;
use crate::core::write_queue::WriteQueue;
use crate::py::cpython::spare_bytes;
use crate::py::reactor::ReactorBase;
use layer::Layer;
use state::{Flush, Producer, ReadState, Relay, SendAt};

/// A streaming producer is paused once more than this is queued.
pub const HIGH_WATER: usize = 65536;
/// ...or once more than this many descriptors wait to be sent (Twisted's
/// `_fileDescriptorBufferSize`).
pub const FDS_HIGH_WATER: usize = 64;

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

#[pyclass(subclass, module = "torsion._torsion")]
pub struct Stream {
    pub(crate) reactor: Py<ReactorBase>,
    /// What moves the bytes; `None` once closed (its descriptor closed
    /// with it, so a closed stream can never touch a reused number).
    pub(crate) layer: Option<Layer>,
    token: Option<usize>,
    pub(crate) life: Life,
    /// Twisted's startReading/stopReading: off while paused as a producer,
    /// throttled by the relay, or at end of stream.
    pub(crate) reading: bool,
    pub(crate) flush: Flush,
    pub(crate) send_at: SendAt,
    pub(crate) read: ReadState,
    pub(crate) queue: WriteQueue<Chunk>,
    /// Descriptors given to `sendFileDescriptor`, each sent with the next
    /// queued byte.
    pub(crate) fds_out: VecDeque<RawFd>,
    pub(crate) protocol: Option<Py<PyAny>>,
    pub(crate) producer: Option<Producer>,
    /// Whether the last producer registered was a push producer: Twisted's
    /// `streamingProducer` keeps it after unregisterProducer.
    streaming_registered: bool,
    on_connect: Option<Py<PyAny>>,
    on_lost: Option<Py<PyAny>>,
    pub(crate) relay: Option<Relay>,
    peer: Option<SockAddr>,
    peer_obj: Option<Py<PyAny>>,
    host_obj: Option<Py<PyAny>>,
}

impl Stream {
    pub fn is_reading(&self) -> bool {
        self.reading && self.life.is_open()
    }

    pub fn is_writing(&self) -> bool {
        self.flush != Flush::Off && self.life.is_open()
    }

    pub fn set_peer(&mut self, addr: Option<SockAddr>) {
        self.peer = addr;
    }

    /// The layer while open. A stream is closed only by `end::teardown`,
    /// which also unregisters it, so no event or call reaches a stream
    /// without its layer through the paths that use this.
    pub(crate) fn layer(&self) -> Option<&Layer> {
        self.layer.as_ref()
    }

    /// Queues a flush (Twisted's startWriting): at the end of the turn,
    /// or by the code handling the current event.
    pub(crate) fn schedule_flush(slf: &Bound<'_, Self>, me: &mut Self) {
        if me.flush == Flush::Listed {
            return;
        }
        if me.send_at == SendAt::TurnEnd {
            me.flush = Flush::Listed;
            me.reactor
                .bind(slf.py())
                .borrow_mut()
                .dirty
                .push(slf.clone().unbind());
        } else {
            me.flush = Flush::On;
        }
    }

    /// Reading is on; data that arrived meanwhile is read next turn (the
    /// edge-triggered poller will not report it again).
    pub fn start_reading(slf: &Bound<'_, Self>) {
        let mut me = slf.borrow_mut();
        if me.life.is_open() && !me.reading {
            me.reading = true;
            me.reactor
                .bind(slf.py())
                .borrow_mut()
                .ready
                .push(slf.clone().unbind());
        }
    }

    pub fn stop_reading(slf: &Bound<'_, Self>) {
        slf.borrow_mut().reading = false;
    }

    pub fn start_writing(slf: &Bound<'_, Self>) {
        let mut me = slf.borrow_mut();
        if me.life.is_open() {
            Self::schedule_flush(slf, &mut me);
        }
    }

    pub fn stop_writing(slf: &Bound<'_, Self>) {
        slf.borrow_mut().flush = Flush::Off;
    }
}
