//! The parts of a stream's state that are not its life (core/life.rs):
//! the read side, the producer, the relay, and when writes are sent.

use std::collections::VecDeque;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::py::stream::Stream;

/// How the next read is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// Through the reused buffer, copied into a bytes object of the exact
    /// size (small reads).
    Copy,
    /// A stream: one readv straight into several bytes objects.
    Batch,
}

/// The read side.
pub struct ReadState {
    /// The most one read takes and one dataReceived gets (Twisted's
    /// `bufferSize`).
    pub size: usize,
    pub mode: ReadMode,
    /// The poller reported end-of-stream or an error: a short read does
    /// not mean the socket is drained, the EOF is still to be read.
    pub peer_closed: bool,
    /// Chunks read in one batch and not yet delivered because the protocol
    /// paused the transport: delivered, in order, before the next read.
    pub unread: VecDeque<Py<PyBytes>>,
}

/// When the writes a protocol makes are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendAt {
    /// At the end of the turn, through the reactor's dirty list.
    TurnEnd,
    /// Right after the protocol's call returns, by the code that made it:
    /// `on_event` handling a readable and writable event flushes after the
    /// read, so writes need not join the dirty list. Against a build
    /// without it: 1,904 against 1,964 instructions per 1 KiB echo request
    /// (callgrind, 50 connections), and 1.01x echo-1k, 1.07x echo-16k,
    /// 1.18x latency-64 per server CPU-second (5 interleaved rounds on a
    /// noisy VM).
    AfterEvent,
}

/// Whether the transport wants to send, and where it is listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// Nothing to send (Twisted's stopWriting).
    Off,
    /// Waiting to send: for the socket to become writable, or for the code
    /// handling the current event.
    On,
    /// Waiting in the reactor's dirty list for the end of the turn.
    Listed,
}

/// What kind of producer is registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProducerKind {
    /// A pull producer: asked for more each time the queue empties.
    Pull,
    /// A push producer, paused by the transport when its queue is full.
    Push { paused: bool },
}

pub struct Producer {
    pub object: Py<PyAny>,
    pub kind: ProducerKind,
}

/// A relaying transport's link to its partner (see relay.rs).
pub struct Relay {
    pub partner: Py<Stream>,
    /// Stopped reading because the partner's queue is full.
    pub throttled: bool,
    /// This side's peer has finished sending.
    pub read_eof: bool,
}
