//! The read path: one read per readiness (or per resumed pause), handed
//! to `dataReceived` in chunks of at most bufferSize, as Twisted reads
//! once per turn at most its bufferSize. Small reads are copied out of a
//! reused buffer; streams are read straight into bytes objects (see
//! cpython/bytes_read.rs). Every helper returns an `Outcome`, which
//! `end::handle` acts on.

use std::os::fd::OwnedFd;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::py::cpython::bytes_read::{self, stream_turn_chunks};
use crate::py::cpython::spare_bytes;
use crate::py::dispatch::{settle, Callback, Outcome, Reason};
use crate::py::reactor::ReactorBase;
use crate::py::relay;
use crate::py::stream::end;
use crate::py::stream::layer::received;
use crate::py::stream::state::{Flush, ReadMode};
use crate::py::stream::write::flush;
use crate::py::stream::Stream;

/// One read, or the chunks a pause held back.
pub fn on_readable(py: Python<'_>, reactor: &Bound<'_, ReactorBase>, tr: &Bound<'_, Stream>) {
    end::handle(py, reactor, tr, readable_outcome);
}

fn readable_outcome(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, Stream>,
) -> Outcome {
    let mut fds = Vec::new();
    // One borrow decides the way and, for a small read (the common case),
    // makes it.
    let read = {
        let me = tr.borrow();
        if !me.is_reading() || !me.life.reads() {
            return Outcome::Continue;
        }
        match (
            &me.relay,
            me.read.unread.is_empty(),
            me.read.mode,
            me.layer(),
        ) {
            (None, true, ReadMode::Copy, Some(layer)) => {
                Some(bytes_read::read_bytes(py, layer, me.read.size, &mut fds))
            }
            _ => None,
        }
    };
    let Some(read) = read else {
        return other_read(py, reactor, tr);
    };
    // A read that brought descriptors stops at their byte: more may wait.
    let cut_short = !fds.is_empty();
    if let Some(fds) = received(fds) {
        let outcome = hand_over_descriptors(py, reactor, tr, fds);
        if !outcome.is_continue() {
            return outcome;
        }
    }
    match read {
        Ok(Some((data, full))) => {
            let peer_closed = {
                let mut me = tr.borrow_mut();
                let size = me.read.size;
                if full || is_stream(std::slice::from_ref(&data), size) {
                    me.read.mode = ReadMode::Batch;
                }
                me.read.peer_closed
            };
            if full || peer_closed || cut_short {
                // More (or the end of the stream) may be waiting; the
                // edge-triggered poller will not say so again.
                reactor.borrow_mut().ready.push(tr.clone().unbind());
            }
            deliver(py, reactor, tr, std::iter::once(data))
        }
        Ok(None) => read_ended(py, reactor, tr, Ok(())),
        Err(e) => read_ended(py, reactor, tr, Err(e)),
    }
}

/// The reads that are not a small copy: a relayed chunk, the chunks a
/// pause held back, or a stream.
fn other_read(py: Python<'_>, reactor: &Bound<'_, ReactorBase>, tr: &Bound<'_, Stream>) -> Outcome {
    let (relaying, has_unread, has_layer) = {
        let me = tr.borrow();
        (
            me.relay.is_some(),
            !me.read.unread.is_empty(),
            me.layer().is_some(),
        )
    };
    if relaying {
        return relay::readable(py, reactor, tr);
    }
    if has_unread {
        // Resumed after pausing in the middle of a batch: the rest of it
        // comes first. The socket is read next turn (edge-triggered: data
        // that arrived meanwhile will not be reported again).
        let unread = std::mem::take(&mut tr.borrow_mut().read.unread);
        reactor.borrow_mut().ready.push(tr.clone().unbind());
        return deliver(
            py,
            reactor,
            tr,
            unread.into_iter().map(|b| b.into_bound(py)),
        );
    }
    if !has_layer {
        return Outcome::Continue;
    }
    read_stream(py, reactor, tr)
}

/// Reads a stream: one readv of up to 256 KiB straight into bytes objects
/// of bufferSize, each delivered by its own dataReceived call; what the
/// protocol writes meanwhile leaves right after, in one send.
///
/// Measured on the streaming echo (4 connections, 64 KiB chunks, server
/// CPU per byte, medians of 7 interleaved rounds, `benches/run.py
/// --baseline`): reading a chunk at a time for a protocol that answers
/// what it reads, each answer sent before the next read (a C server's
/// loop, which an earlier harness had measured at 1.03x), was 0.64x this
/// single readv on stream-64k and 0.68x on stream-64k-deep (4 MiB in
/// flight per connection); it was removed.
///
/// A read that finds the socket drained ends the stream (`read_ended`), so
/// the next read goes through the copying path; keeping the stream there
/// instead (no small reads through the copy, a third fewer epoll_wait)
/// measured 0.96x (6 rounds): the short read after a drain then lands in a
/// 64 KiB object that has to be cut down.
fn read_stream(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, Stream>,
) -> Outcome {
    let mut fds = Vec::new();
    let (read, size) = {
        let me = tr.borrow();
        let Some(layer) = me.layer() else {
            return Outcome::Continue;
        };
        let size = me.read.size;
        let count = stream_turn_chunks(size);
        (
            bytes_read::read_chunks(py, layer, size, count, &mut fds),
            size,
        )
    };
    let cut_short = !fds.is_empty();
    if let Some(fds) = received(fds) {
        let outcome = hand_over_descriptors(py, reactor, tr, fds);
        if !outcome.is_continue() {
            return outcome;
        }
    }
    let (chunks, full) = match read {
        Ok((chunks, full)) if !chunks.is_empty() => (chunks, full),
        other => return read_ended(py, reactor, tr, other.map(|_| ())),
    };
    if !full && !is_stream(&chunks, size) {
        tr.borrow_mut().read.mode = ReadMode::Copy;
    }
    let delivered = deliver(py, reactor, tr, chunks.into_iter());
    if !delivered.is_continue() {
        return delivered;
    }
    let (flush_now, peer_closed) = {
        let me = tr.borrow();
        (me.flush == Flush::Listed, me.read.peer_closed)
    };
    if flush_now {
        // The batch's answers, sent together now while they are fresh
        // (the transport's entry in the dirty list is then skipped).
        flush(py, reactor, tr);
    }
    if full || peer_closed || cut_short {
        // More (or the end of the stream) may be waiting; the
        // edge-triggered poller will not say so again.
        reactor.borrow_mut().ready.push(tr.clone().unbind());
    }
    Outcome::Continue
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

/// Hands descriptors received with a read to the protocol, before the
/// read's bytes (as Twisted's UNIX transports do).
fn hand_over_descriptors(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, Stream>,
    fds: Vec<OwnedFd>,
) -> Outcome {
    let Some(protocol) = tr.borrow().protocol.as_ref().map(|p| p.clone_ref(py)) else {
        return Outcome::Continue;
    };
    let hooks = reactor.borrow().hooks();
    let received = hooks.receive_descriptors(tr.as_any(), protocol.bind(py), fds);
    settle(py, &hooks, Callback::DescriptorsReceived, received)
}

/// Hands `chunks` to dataReceived one call each, for as long as the
/// transport is reading: chunks left when the protocol paused it wait in
/// `unread`; those left when it disconnects are dropped, as Twisted would
/// never have read them. A chunk read before the protocol lowered
/// bufferSize goes out in pieces of the new size, so that no call gets more
/// (each piece copied once, however small the size).
pub(crate) fn deliver<'py>(
    py: Python<'py>,
    reactor: &Bound<'py, ReactorBase>,
    tr: &Bound<'py, Stream>,
    mut chunks: impl Iterator<Item = Bound<'py, PyBytes>>,
) -> Outcome {
    // A chunk being handed out in pieces, and where the next piece starts.
    let mut partial: Option<(Bound<'py, PyBytes>, usize)> = None;
    loop {
        let (chunk, start) = match partial.take() {
            Some(part) => part,
            None => match chunks.next() {
                Some(chunk) => (chunk, 0),
                None => return Outcome::Continue,
            },
        };
        let (protocol, data) = {
            let mut me = tr.borrow_mut();
            if !me.life.reads() {
                return Outcome::Continue;
            }
            let len = chunk.as_bytes().len();
            if !me.reading {
                let rest = if start == 0 {
                    chunk
                } else {
                    PyBytes::new(py, &chunk.as_bytes()[start..])
                };
                me.read.unread.push_back(rest.unbind());
                me.read.unread.extend(chunks.map(Bound::unbind));
                return Outcome::Continue;
            }
            let end = len.min(start + me.read.size);
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
        let Some(protocol) = protocol else {
            return Outcome::Continue;
        };
        let received = protocol.call_method1(intern!(py, "dataReceived"), (&data,));
        spare_bytes::give_back(data);
        if received.is_err() {
            let hooks = reactor.borrow().hooks();
            return settle(py, &hooks, Callback::DataReceived, received);
        }
    }
}

/// A read that found the end of the stream (`Ok`) or failed (nothing to
/// do for EAGAIN).
fn read_ended(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, Stream>,
    read: std::io::Result<()>,
) -> Outcome {
    tr.borrow_mut().read.mode = ReadMode::Copy;
    match read {
        Ok(()) => end_of_stream(py, reactor, tr),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Outcome::Continue,
        Err(_) => Outcome::Close(Reason::Lost),
    }
}

/// The peer finished sending: a half-closeable protocol hears
/// readConnectionLost and the connection stays up; any other closes.
fn end_of_stream(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, Stream>,
) -> Outcome {
    let protocol = {
        let mut me = tr.borrow_mut();
        me.reading = false;
        me.protocol.as_ref().map(|p| p.clone_ref(py))
    };
    let hooks = reactor.borrow().hooks();
    if let Some(p) = &protocol {
        let p = p.bind(py);
        if hooks.is_half_closeable(py, p) {
            let told = p.call_method0(intern!(py, "readConnectionLost"));
            return settle(py, &hooks, Callback::ReadConnectionLost, told);
        }
    }
    Outcome::Close(Reason::Done)
}
