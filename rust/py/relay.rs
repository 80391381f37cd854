//! The relay: two streams forwarding bytes to each other in Rust.
//!
//! After `a.startRelay(b)`, what `a` reads is sent on `b` and the reverse,
//! with no Python call per chunk, whatever the two streams' kinds (TCP to
//! UNIX included). Flow control: when a side's send queue passes the
//! high-water mark, its partner stops reading until it drains. End of
//! stream is passed through as a half-close; a side whose both directions
//! are finished closes with ConnectionDone, and a side that fails or
//! closes makes its partner lose its connection. The protocols see only
//! `connectionLost`, as usual.

use std::io::IoSlice;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::py::cpython::bytes_read::{with_buffer, READ_SIZE};
use crate::py::dispatch::{Outcome, Reason};
use crate::py::reactor::ReactorBase;
use crate::py::stream::end::conclude;
use crate::py::stream::layer::{received, Layer};
use crate::py::stream::state::Relay;
use crate::py::stream::{Chunk, Stream, HIGH_WATER};

/// One read on a relaying stream, forwarded to its partner.
pub fn readable(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, Stream>,
) -> Outcome {
    let Some(partner) = tr.borrow().relay.as_ref().map(|r| r.partner.clone_ref(py)) else {
        return Outcome::Continue;
    };
    let partner = partner.bind(py);
    // Descriptors passed over a relayed UNIX socket are not forwarded:
    // dropping them closes them. A read that brought some stops at their
    // byte, so more may be waiting.
    let mut fds = Vec::new();
    let read = {
        let me = tr.borrow();
        let Some(layer) = me.layer() else {
            return Outcome::Continue;
        };
        with_buffer(py, |buf| match layer.read(buf, &mut fds) {
            Ok(0) => Ok((0, false)),
            Ok(n) => Ok((n, send_or_queue(partner, &buf[..n]))),
            Err(e) => Err(e),
        })
    };
    match read {
        Ok((0, _)) => read_eof(tr, partner),
        Ok((n, partner_failed)) => {
            if partner_failed {
                conclude(py, reactor, partner, Outcome::Close(Reason::Lost));
                return Outcome::Continue;
            }
            throttle_if_full(tr, partner);
            if n == READ_SIZE || received(fds).is_some() || tr.borrow().read.peer_closed {
                reactor.borrow_mut().ready.push(tr.clone().unbind());
            }
            Outcome::Continue
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Outcome::Continue,
        Err(_) => Outcome::Close(Reason::Lost),
    }
}

/// Sends `data` on `peer` at once when nothing is queued there, and queues
/// (copied) what the socket refused. Returns whether sending failed (the
/// caller then closes `peer`); no Python code runs here.
fn send_or_queue(peer: &Bound<'_, Stream>, data: &[u8]) -> bool {
    let mut p = peer.borrow_mut();
    if !p.life.accepts_writes() {
        // The partner can no longer send: the bytes are dropped, as any
        // write after a disconnect is.
        return false;
    }
    let mut rest = data;
    if p.queue.is_empty() && p.fds_out.is_empty() {
        let sent = match p.layer() {
            Some(layer) => layer.write_vectored(&[IoSlice::new(data)]),
            None => return false,
        };
        match sent {
            Ok(n) => rest = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return true,
        }
    }
    if !rest.is_empty() {
        p.queue.push(Chunk::Owned(rest.into()));
        Stream::schedule_flush(peer, &mut p);
    }
    false
}

/// Stops `tr` reading while its partner has more than the high-water mark
/// queued; `drained` resumes it.
fn throttle_if_full(tr: &Bound<'_, Stream>, peer: &Bound<'_, Stream>) {
    if peer.borrow().queue.len() > HIGH_WATER {
        let mut me = tr.borrow_mut();
        me.reading = false;
        if let Some(relay) = &mut me.relay {
            relay.throttled = true;
        }
    }
}

/// `tr` read end-of-stream: pass it on as a half-close of the partner, and
/// finish `tr` if its own write side is already shut.
fn read_eof(tr: &Bound<'_, Stream>, peer: &Bound<'_, Stream>) -> Outcome {
    let done = {
        let mut me = tr.borrow_mut();
        me.reading = false;
        if let Some(relay) = &mut me.relay {
            relay.read_eof = true;
        }
        me.life.write_shut()
    };
    {
        let mut p = peer.borrow_mut();
        if p.life.lose_write() {
            Stream::schedule_flush(peer, &mut p);
        }
    }
    if done {
        Outcome::Close(Reason::Done)
    } else {
        Outcome::Continue
    }
}

/// `tr`'s write side was just shut: it is finished if its read side is
/// done too.
pub fn write_shut(tr: &Bound<'_, Stream>) -> Outcome {
    match &tr.borrow().relay {
        Some(Relay { read_eof: true, .. }) => Outcome::Close(Reason::Done),
        _ => Outcome::Continue,
    }
}

/// `tr`'s queue drained: let its partner read again if it was throttled.
pub fn drained(reactor: &Bound<'_, ReactorBase>, peer: &Bound<'_, Stream>) {
    let mut p = peer.borrow_mut();
    if !p.life.is_open() {
        return;
    }
    let reads = p.life.reads();
    let Some(relay) = &mut p.relay else { return };
    if relay.throttled {
        relay.throttled = false;
        if !relay.read_eof && reads {
            p.reading = true;
            reactor.borrow_mut().ready.push(peer.clone().unbind());
        }
    }
}

/// `tr` closed: its partner stops relaying and loses its connection once
/// what it has queued is sent.
pub fn partner_closed(peer: &Bound<'_, Stream>) {
    peer.borrow_mut().relay = None;
    // Errors (none expected from a plain close) have nowhere to go here.
    let _ = Stream::lose_connection(peer, None);
}

/// Starts relaying between `a` and `b`.
pub fn start(
    reactor: &Bound<'_, ReactorBase>,
    a: &Bound<'_, Stream>,
    b: &Bound<'_, Stream>,
) -> PyResult<()> {
    if a.is(b) {
        return Err(PyValueError::new_err("cannot relay a transport to itself"));
    }
    for t in [a, b] {
        let me = t.borrow();
        if !me.life.reads() {
            return Err(PyRuntimeError::new_err("both transports must be connected"));
        }
        if me.relay.is_some() {
            return Err(PyRuntimeError::new_err("transport is already relaying"));
        }
        if me.producer.is_some() {
            return Err(PyRuntimeError::new_err(
                "unregister the producer before relaying",
            ));
        }
        if !me.layer().is_some_and(Layer::is_plain) {
            return Err(PyRuntimeError::new_err(
                "only plain descriptors can be relayed",
            ));
        }
    }
    for (t, other) in [(a, b), (b, a)] {
        // Chunks read before the relay began and held back by a pause go
        // first (a failed send shows again at the partner's next flush).
        let unread = std::mem::take(&mut t.borrow_mut().read.unread);
        for chunk in unread {
            send_or_queue(other, chunk.bind(reactor.py()).as_bytes());
        }
        let mut me = t.borrow_mut();
        me.relay = Some(Relay {
            partner: other.clone().unbind(),
            throttled: false,
            read_eof: false,
        });
        me.reading = true;
        // Bytes may already wait in the socket: read them next turn.
        reactor.borrow_mut().ready.push(t.clone().unbind());
    }
    Ok(())
}
