//! The one place a stream closes, and the readiness events that lead
//! there: `on_event` (from the poller), `finish_connect`, `conclude` (the
//! outcome of a read or flush), `close` (connectionLost exactly once).

use pyo3::intern;
use pyo3::prelude::*;

use crate::core::life::Life;
use crate::py::dispatch::{settle, Callback, Dispatching, Outcome, Reason};
use crate::py::reactor::ReactorBase;
use crate::py::relay;
use crate::py::stream::read::on_readable;
use crate::py::stream::state::SendAt;
use crate::py::stream::write::flush;
use crate::py::stream::Stream;

/// Runs one step of handling an event for `tr` (marked meanwhile as the
/// selectable being handled, for the log context) and acts on its outcome.
#[inline]
pub fn handle(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, Stream>,
    step: fn(Python<'_>, &Bound<'_, ReactorBase>, &Bound<'_, Stream>) -> Outcome,
) {
    let _context = Dispatching::enter(tr.as_any());
    let outcome = step(py, reactor, tr);
    conclude(py, reactor, tr, outcome);
}

/// Acts on the outcome of handling an event: closes the stream if asked.
#[inline]
pub fn conclude(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, Stream>,
    outcome: Outcome,
) {
    if let Outcome::Close(reason) = outcome {
        close_for(py, reactor, tr, reason);
    }
}

fn close_for(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, Stream>,
    reason: Reason,
) {
    let hooks = reactor.borrow().hooks();
    let reason = match reason {
        Reason::Done => hooks.reason_done.bind(py).clone(),
        Reason::Lost => hooks.reason_lost.bind(py).clone(),
        Reason::Failure(f) => f.into_bound(py),
    };
    close(py, reactor, tr, &reason, true);
}

/// Unregisters the stream and closes its layer (an orderly end, or a
/// reset); returns the connector's callbacks still held. No Python code
/// runs here.
pub(crate) fn teardown(
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, Stream>,
    orderly: bool,
) -> (Option<Py<PyAny>>, Option<Py<PyAny>>) {
    let (layer, token, callbacks, queue) = {
        let mut me = tr.borrow_mut();
        me.life.close();
        me.reading = false;
        me.flush = crate::py::stream::state::Flush::Off;
        me.read.unread.clear();
        me.fds_out.clear();
        (
            me.layer.take(),
            me.token.take(),
            (me.on_connect.take(), me.on_lost.take()),
            std::mem::take(&mut me.queue),
        )
    };
    if let Some(layer) = layer {
        if let Some(token) = token {
            let fd = std::os::fd::AsRawFd::as_raw_fd(&layer.fd());
            reactor.borrow_mut().remove_source(Some(fd), token);
        }
        layer.close(orderly);
    }
    drop(queue);
    callbacks
}

/// Ends the connection: closes the layer, stops the producer, then calls
/// `protocol.connectionLost(reason)` and the connector's `on_lost(reason)`,
/// exactly once.
pub fn close(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, Stream>,
    reason: &Bound<'_, PyAny>,
    orderly: bool,
) {
    let _context = Dispatching::enter(tr.as_any());
    let (producer, protocol, was_connected, relay) = {
        let mut me = tr.borrow_mut();
        let was_connected = match me.life {
            Life::Closed { .. } => return,
            life => life.connected_flag(),
        };
        (
            me.producer.take(),
            me.protocol.take(),
            was_connected,
            me.relay.take(),
        )
    };
    let (_on_connect, on_lost) = teardown(reactor, tr, orderly);
    let hooks = reactor.borrow().hooks();
    if let Some(p) = producer {
        let stopped = p.object.bind(py).call_method0(intern!(py, "stopProducing"));
        let _ = settle(py, &hooks, Callback::StopProducing, stopped);
    }
    if let Some(p) = protocol {
        let told = p
            .bind(py)
            .call_method1(intern!(py, "connectionLost"), (reason,));
        let _ = settle(py, &hooks, Callback::ConnectionLost, told);
    }
    if was_connected {
        if let Some(cb) = on_lost {
            let told = cb.bind(py).call1((reason,));
            let _ = settle(py, &hooks, Callback::ClientLost, told);
        }
    }
    if let Some(relay) = relay {
        relay::partner_closed(relay.partner.bind(py));
    }
}

/// Reacts to one poller event for `tr`.
pub fn on_event(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, Stream>,
    readable: bool,
    writable: bool,
    closed_or_error: bool,
) {
    // (on_readable, flush, finish_connect and close each mark `tr` as the
    // selectable being handled, for the log context.)
    let read = readable || closed_or_error;
    let life = {
        let mut me = tr.borrow_mut();
        if closed_or_error {
            me.read.peer_closed = true;
        }
        if read && writable && me.life.is_open() {
            me.send_at = SendAt::AfterEvent;
        }
        me.life
    };
    match life {
        Life::Connecting => finish_connect(py, reactor, tr, readable),
        Life::Open(_) => {
            if read {
                on_readable(py, reactor, tr);
            }
            let flush_now = writable && {
                let mut me = tr.borrow_mut();
                me.send_at = SendAt::TurnEnd;
                me.is_writing()
            };
            if flush_now {
                flush(py, reactor, tr);
            }
        }
        Life::Aborting { .. } | Life::Closed { .. } => {}
    }
}

fn finish_connect(
    py: Python<'_>,
    reactor: &Bound<'_, ReactorBase>,
    tr: &Bound<'_, Stream>,
    readable: bool,
) {
    let _context = Dispatching::enter(tr.as_any());
    let connected = {
        let me = tr.borrow();
        let Some(layer) = me.layer() else { return };
        match layer.take_connect_error() {
            Ok(0) => crate::core::sock::peer_addr(layer.fd()).map_err(|e| e.raw_os_error()),
            Ok(err) => Err(Some(err)),
            Err(e) => Err(e.raw_os_error()),
        }
    };
    let hooks = reactor.borrow().hooks();
    let peer = match connected {
        Ok(peer) => peer,
        Err(errno) => {
            let (on_connect, _) = teardown(reactor, tr, true);
            if let Some(cb) = on_connect {
                let errno = errno.unwrap_or(libc::ECONNREFUSED);
                let told = cb.bind(py).call1((errno,));
                let _ = settle(py, &hooks, Callback::ClientFailed, told);
            }
            return;
        }
    };
    let on_connect = {
        let mut me = tr.borrow_mut();
        me.set_peer(peer);
        me.life.connected();
        me.reading = true;
        me.on_connect.take()
    };
    if let Some(cb) = on_connect {
        let told = cb.bind(py).call1((py.None(),));
        let outcome = settle(py, &hooks, Callback::ClientConnected, told);
        if !outcome.is_continue() {
            return conclude(py, reactor, tr, outcome);
        }
    }
    if readable {
        reactor.borrow_mut().ready.push(tr.clone().unbind());
    }
    if tr.borrow().is_writing() {
        flush(py, reactor, tr);
    }
}
