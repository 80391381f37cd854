//! The relay: two TCP transports forwarding bytes to each other in Rust.
//!
//! After `a.startRelay(b)`, what `a` reads is sent on `b` and the reverse,
//! with no Python call per chunk. Flow control: when a side's send queue
//! passes the high-water mark, its partner stops reading until it drains.
//! End of stream is passed through as a half-close; a side whose both
//! directions are finished closes with ConnectionDone, and a side that
//! fails or closes makes its partner lose its connection. The protocols
//! see only `connectionLost`, as usual.

use pyo3::prelude::*;

use crate::core::sys;
use crate::py::reactor::ReactorBase;
use crate::py::transport::{close, Chunk, ConnState, TCPTransport, HIGH_WATER};

/// Sends `data` on `peer` at once when nothing is queued there, and queues
/// (copied) what the socket refused. Returns whether sending failed (the
/// caller then closes `peer`); no Python code runs here.
pub fn send_or_queue(peer: &Bound<'_, TCPTransport>, data: &[u8]) -> bool {
    let mut p = peer.borrow_mut();
    if p.state != ConnState::Connected || p.write_disconnected || p.aborting {
        // The partner can no longer send: the bytes are dropped, as any
        // write after a disconnect is.
        return false;
    }
    let mut rest = data;
    if p.queue.is_empty() {
        match sys::send_vectored(p.fd, &[std::io::IoSlice::new(data)]) {
            Ok(n) => rest = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return true,
        }
    }
    if !rest.is_empty() {
        p.queue.push(Chunk::Owned(rest.into()));
        TCPTransport::schedule_flush(peer, &mut p);
    }
    false
}

/// Stops `tr` reading while its partner has more than the high-water mark
/// queued; `drained` resumes it.
pub fn throttle_if_full(tr: &Bound<'_, TCPTransport>, peer: &Bound<'_, TCPTransport>) {
    if peer.borrow().queue.len() > HIGH_WATER {
        let mut me = tr.borrow_mut();
        me.reading = false;
        me.relay_throttled = true;
    }
}

/// `tr` read end-of-stream: pass it on as a half-close of the partner, and
/// finish `tr` if its own write side is already shut.
pub fn read_eof(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, TCPTransport>,
    peer: &Bound<'_, TCPTransport>,
) {
    let done = {
        let mut me = tr.borrow_mut();
        me.reading = false;
        me.relay_read_eof = true;
        me.write_disconnected
    };
    {
        let mut p = peer.borrow_mut();
        if p.state == ConnState::Connected && !p.write_disconnecting {
            p.write_disconnecting = true;
            TCPTransport::schedule_flush(peer, &mut p);
        }
    }
    if done {
        finish(py, reactor, tr);
    }
}

/// `tr`'s write side was just shut: finish it if its read side is done too.
pub fn write_shut(py: Python<'_>, reactor: &Bound<'_, ReactorBase>, tr: &Bound<'_, TCPTransport>) {
    if tr.borrow().relay_read_eof {
        finish(py, reactor, tr);
    }
}

fn finish(py: Python<'_>, reactor: &Bound<'_, ReactorBase>, tr: &Bound<'_, TCPTransport>) {
    // Bound first: an `if let` scrutinee's borrow would last through close().
    let hooks = reactor.borrow().hooks();
    if let Ok(hooks) = hooks {
        let reason = hooks.reason_done.bind(py).clone();
        close(py, reactor, tr, &reason, true);
    }
}

/// `tr`'s queue drained: let its partner read again if it was throttled.
pub fn drained(reactor: &Bound<'_, ReactorBase>, peer: &Bound<'_, TCPTransport>) {
    let mut p = peer.borrow_mut();
    if p.relay_throttled && p.state == ConnState::Connected {
        p.relay_throttled = false;
        if !p.relay_read_eof && !p.disconnecting {
            p.reading = true;
            reactor.borrow_mut().ready.push(peer.clone().unbind());
        }
    }
}

/// `tr` closed: its partner stops relaying and loses its connection once
/// what it has queued is sent.
pub fn partner_closed(peer: &Bound<'_, TCPTransport>) {
    {
        let mut p = peer.borrow_mut();
        p.relay = None;
        p.relay_throttled = false;
    }
    // Errors (none expected from a plain close) have nowhere to go here.
    let _ = TCPTransport::lose_connection(peer, None);
}

/// Starts relaying between `a` and `b`.
pub fn start(
    reactor: &Bound<'_, ReactorBase>,
    a: &Bound<'_, TCPTransport>,
    b: &Bound<'_, TCPTransport>,
) -> PyResult<()> {
    if a.is(b) {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "cannot relay a transport to itself",
        ));
    }
    for t in [a, b] {
        let me = t.borrow();
        if me.state != ConnState::Connected || me.disconnecting {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "both transports must be connected",
            ));
        }
        if me.relay.is_some() {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "transport is already relaying",
            ));
        }
        if me.producer.is_some() {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "unregister the producer before relaying",
            ));
        }
    }
    for (t, other) in [(a, b), (b, a)] {
        // Chunks read before the relay began and held back by a pause go
        // first (a failed send shows again at the partner's next flush).
        let unread = std::mem::take(&mut t.borrow_mut().unread);
        for chunk in unread {
            send_or_queue(other, chunk.bind(reactor.py()).as_bytes());
        }
        let mut me = t.borrow_mut();
        me.relay = Some(other.clone().unbind());
        me.reading = true;
        // Bytes may already wait in the socket: read them next turn.
        reactor.borrow_mut().ready.push(t.clone().unbind());
    }
    Ok(())
}
