//! ReactorBase: the Rust half of the reactor.
//!
//! It owns the poller, the timers, the sources (connections and listening
//! ports) and the queue of calls from other threads, and runs Twisted's loop
//! turn. The Python subclass (`torsion.internet._reactor`) carries the rest of
//! the API (run/stop, system events, listenTCP/connectTCP, threads).

use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use pyo3::exceptions::PyAssertionError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use crate::core::timers::TimerQueue;
use crate::core::tokens::{TokenSlab, RESERVED_BASE};
use crate::py::datagram::{self, DatagramPort};
use crate::py::delayed_call::{delay_to_ns, track_again, untrack_pending, DelayedCall};
use crate::py::dispatch::{call_logged, os_error, Hooks};
use crate::py::fd_readers::FdReaders;
use crate::py::port::{self, ListeningPort};
use crate::py::stream::{self, Stream};
use crate::py::thread_calls::{ThreadCall, ThreadCalls};

const WAKER_TOKEN: Token = Token(RESERVED_BASE + 1);
const SIGNAL_TOKEN: Token = Token(RESERVED_BASE + 2);
const LEVEL_TOKEN: Token = Token(RESERVED_BASE + 3);

/// Longest single sleep: keeps signal delivery prompt even if the wake-up
/// descriptor was not installed (reactor run outside the main thread).
const MAX_SLEEP: Duration = Duration::from_millis(100);

/// Wall-clock seconds since the epoch, as `time.time()`.
pub fn wall_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A registered I/O source.
pub enum Source {
    Stream(Py<Stream>),
    Listener(Py<ListeningPort>),
    Datagram(Py<DatagramPort>),
}

/// A new reference to a source, as Bound: released without pyo3's
/// thread-local check for the GIL that dropping a `Py` makes.
enum BoundSource<'py> {
    Stream(Bound<'py, Stream>),
    Listener(Bound<'py, ListeningPort>),
    Datagram(Bound<'py, DatagramPort>),
}

impl Source {
    fn bind<'py>(&self, py: Python<'py>) -> BoundSource<'py> {
        match self {
            Source::Stream(t) => BoundSource::Stream(t.bind(py).clone()),
            Source::Listener(p) => BoundSource::Listener(p.bind(py).clone()),
            Source::Datagram(d) => BoundSource::Datagram(d.bind(py).clone()),
        }
    }
}

struct Poller {
    poll: Poll,
    events: Events,
}

/// One readiness event copied out of the poller.
#[derive(Clone, Copy)]
struct Ready {
    token: usize,
    readable: bool,
    writable: bool,
    /// An error, or the peer closed its side (EOF queued behind any data).
    closed_or_error: bool,
}

#[pyclass(subclass, module = "torsion._torsion")]
pub struct ReactorBase {
    pub(crate) registry: Registry,
    poller: Arc<Mutex<Poller>>,
    pub(crate) thread_calls: Arc<ThreadCalls>,
    pub(crate) timers: TimerQueue<Py<DelayedCall>>,
    pub(crate) sources: TokenSlab<Source>,
    /// Transports with writes to attempt before the next poll.
    pub(crate) dirty: Vec<Py<Stream>>,
    /// The poller's events, copied out; kept between turns for its capacity.
    events: Vec<Ready>,
    /// Transports to read again next turn (budget spent, or resumed).
    pub(crate) ready: Vec<Py<Stream>>,
    /// Listening ports with connections left in their backlog.
    pub(crate) ready_ports: Vec<Py<ListeningPort>>,
    /// Datagram ports with datagrams left after a batch.
    pub(crate) ready_datagrams: Vec<Py<DatagramPort>>,
    /// Aborted transports whose connectionLost runs next turn.
    pub(crate) closing: Vec<(Py<Stream>, Py<PyAny>, bool)>,
    pub(crate) fds: FdReaders,
    hooks: Arc<Hooks>,
    epoch: Instant,
    started: bool,
    just_stopped: bool,
    running: bool,
    signal_fd: Option<RawFd>,
}

impl ReactorBase {
    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// The hooks given when the reactor was built.
    pub fn hooks(&self) -> Arc<Hooks> {
        self.hooks.clone()
    }

    pub(crate) fn register_fd(&self, fd: RawFd, token: usize, interest: Interest) -> PyResult<()> {
        self.registry
            .register(&mut SourceFd(&fd), Token(token), interest)
            .map_err(os_error)
    }

    pub(crate) fn deregister_fd(&self, fd: RawFd) {
        // Fails only if the descriptor was never registered: nothing to undo.
        let _ = self.registry.deregister(&mut SourceFd(&fd));
    }

    /// Registers `source` (descriptor `fd`) with the poller for `interest`;
    /// returns its token. Nothing is left behind if that fails.
    pub(crate) fn add_source(
        &mut self,
        fd: RawFd,
        source: Source,
        interest: Interest,
    ) -> PyResult<usize> {
        let token = self.sources.insert(source);
        if let Err(e) = self.register_fd(fd, token, interest) {
            self.sources.remove(token);
            return Err(e);
        }
        Ok(token)
    }

    /// Undoes `add_source`: the poller forgets `fd`, and `token` is freed.
    pub(crate) fn remove_source(&mut self, fd: Option<RawFd>, token: usize) {
        if let Some(fd) = fd {
            self.deregister_fd(fd);
        }
        self.sources.remove(token);
    }
}

/// Thread calls run per loop turn at most (see `run_thread_calls`).
const THREAD_CALLS_PER_TURN: usize = 10_000;

fn run_thread_calls(py: Python<'_>, slf: &Bound<'_, ReactorBase>, hooks: &Hooks) {
    if slf.borrow().thread_calls.is_empty() {
        return;
    }
    let calls = slf.borrow().thread_calls.clone();
    // Only the calls queued before this turn (later ones wait for the
    // next), and at most THREAD_CALLS_PER_TURN of them: threads flooding
    // callFromThread (it costs them well under a microsecond) could
    // otherwise queue enough to hold I/O back for most of a second. The
    // rest run on the following turns, in order; the poll does not sleep
    // while any are queued.
    let count = calls.len().min(THREAD_CALLS_PER_TURN);
    for _ in 0..count {
        let Some(call) = calls.pop() else { break };
        let kwargs = call.kwargs.as_ref().map(|k| k.bind(py));
        call_logged(
            py,
            hooks,
            call.f.bind(py),
            call.args.bind(py),
            kwargs,
            "while calling from thread",
        );
    }
}

fn run_timers(py: Python<'_>, slf: &Bound<'_, ReactorBase>, hooks: &Hooks) {
    let (now, limit) = {
        let r = slf.borrow();
        if r.timers.is_empty() {
            return;
        }
        (r.now_ns(), r.timers.next_seq())
    };
    loop {
        let Some(dc) = slf.borrow_mut().timers.pop_due(now, limit) else {
            break;
        };
        track_again(dc.bind(py));
        let call = {
            let mut d = dc.bind(py).borrow_mut();
            d.handle = None;
            if d.cancelled || d.called {
                None
            } else {
                d.called = true;
                d.reactor = None;
                match (&d.func, &d.args) {
                    (Some(f), Some(a)) => Some((
                        f.clone_ref(py),
                        a.clone_ref(py),
                        d.kw.as_ref().map(|k| k.clone_ref(py)),
                    )),
                    _ => None,
                }
            }
        };
        if let Some((f, args, kw)) = call {
            call_logged(
                py,
                hooks,
                f.bind(py),
                args.bind(py),
                kw.as_ref().map(|k| k.bind(py)),
                "while handling timed call",
            );
        }
    }
}

/// Twisted's runUntilCurrent: thread calls, due timers, then "shutdown" if
/// stop() was called.
fn run_until_current(py: Python<'_>, slf: &Bound<'_, ReactorBase>) -> PyResult<()> {
    let hooks = slf.borrow().hooks();
    run_thread_calls(py, slf, &hooks);
    run_timers(py, slf, &hooks);
    let just_stopped = std::mem::replace(&mut slf.borrow_mut().just_stopped, false);
    if just_stopped {
        if let Err(e) = slf.call_method1(intern!(py, "fireSystemEvent"), (intern!(py, "shutdown"),))
        {
            hooks.report(py, e, None);
        }
    }
    Ok(())
}

fn flush_dirty(py: Python<'_>, slf: &Bound<'_, ReactorBase>) {
    let mut dirty = {
        let mut r = slf.borrow_mut();
        if r.dirty.is_empty() {
            return;
        }
        std::mem::take(&mut r.dirty)
    };
    for tr in dirty.drain(..) {
        // As a Bound, the reference is released without pyo3's check for
        // the GIL (a thread-local lookup per transport).
        let tr = tr.into_bound(py);
        // A transport flushed since it was listed (after a batched read)
        // is not tried again.
        if tr.borrow().flush == stream::state::Flush::Listed {
            stream::write::flush(py, slf, &tr);
        }
    }
    // The emptied vector goes back unless the flushes queued others, so
    // that marking a transport dirty does not allocate every turn.
    let mut r = slf.borrow_mut();
    if r.dirty.is_empty() {
        r.dirty = dirty;
    }
}

fn run_closing(py: Python<'_>, slf: &Bound<'_, ReactorBase>) {
    if slf.borrow().closing.is_empty() {
        return;
    }
    let closing = std::mem::take(&mut slf.borrow_mut().closing);
    for (tr, reason, orderly) in closing {
        stream::end::close(py, slf, tr.bind(py), reason.bind(py), orderly);
    }
}

/// How long the next poll may sleep.
fn poll_timeout(slf: &Bound<'_, ReactorBase>) -> Option<Duration> {
    let mut r = slf.borrow_mut();
    if !r.running
        || !r.ready.is_empty()
        || !r.ready_ports.is_empty()
        || !r.ready_datagrams.is_empty()
        || !r.closing.is_empty()
        || !r.dirty.is_empty()
        || r.fds.pending
    {
        return Some(Duration::ZERO);
    }
    let timer = r
        .timers
        .next_deadline()
        .map(|d| Duration::from_nanos(d.saturating_sub(r.now_ns())));
    Some(timer.map_or(MAX_SLEEP, |t| t.min(MAX_SLEEP)))
}

fn do_iteration(
    py: Python<'_>,
    slf: &Bound<'_, ReactorBase>,
    timeout: Option<Duration>,
) -> PyResult<()> {
    let (poller, calls, signal_fd, mut ready) = {
        let mut r = slf.borrow_mut();
        let ready = std::mem::take(&mut r.events);
        (r.poller.clone(), r.thread_calls.clone(), r.signal_fd, ready)
    };
    let timeout = if calls.enter_sleep() {
        Some(Duration::ZERO)
    } else {
        timeout
    };
    let polled = py.detach(move || {
        let mut guard = poller
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Poller { poll, events } = &mut *guard;
        ready.clear();
        match poll.poll(events, timeout) {
            Ok(()) => {
                ready.extend(events.iter().map(|e| Ready {
                    token: e.token().0,
                    readable: e.is_readable() || e.is_read_closed(),
                    writable: e.is_writable(),
                    closed_or_error: e.is_error() || e.is_read_closed(),
                }));
                Ok(ready)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(ready),
            Err(e) => Err(e),
        }
    });
    calls.leave_sleep();
    let events = polled?;
    // Run Python signal handlers (SIGINT/SIGTERM stop the reactor through
    // them); an exception here (the default SIGINT handler) ends run().
    py.check_signals()?;
    dispatch_io(py, slf, &events, signal_fd);
    // The vector goes back for the next poll (no allocation per turn).
    slf.borrow_mut().events = events;
    Ok(())
}

fn dispatch_io(
    py: Python<'_>,
    slf: &Bound<'_, ReactorBase>,
    events: &[Ready],
    signal_fd: Option<RawFd>,
) {
    let (ready, ready_ports, ready_datagrams) = {
        let mut r = slf.borrow_mut();
        (
            take_nonempty(&mut r.ready),
            take_nonempty(&mut r.ready_ports),
            take_nonempty(&mut r.ready_datagrams),
        )
    };
    for tr in ready {
        stream::read::on_readable(py, slf, &tr.into_bound(py));
    }
    for p in ready_ports {
        port::on_readable(py, slf, &p.into_bound(py));
    }
    for d in ready_datagrams {
        datagram::on_readable(py, slf, &d.into_bound(py));
    }
    let mut level_ready = false;
    for ev in events {
        match Token(ev.token) {
            WAKER_TOKEN => {}
            SIGNAL_TOKEN => {
                if let Some(fd) = signal_fd {
                    drain(fd);
                }
            }
            LEVEL_TOKEN => level_ready = true,
            Token(t) => {
                let source = slf.borrow().sources.get(t).map(|s| s.bind(py));
                match source {
                    Some(BoundSource::Stream(tr)) => {
                        stream::end::on_event(
                            py,
                            slf,
                            &tr,
                            ev.readable,
                            ev.writable,
                            ev.closed_or_error,
                        );
                    }
                    Some(BoundSource::Listener(p)) => port::on_readable(py, slf, &p),
                    // A refusal (ICMP) shows as an error without data.
                    Some(BoundSource::Datagram(d)) if ev.readable || ev.closed_or_error => {
                        datagram::on_readable(py, slf, &d);
                    }
                    Some(BoundSource::Datagram(_)) | None => {}
                }
            }
        }
    }
    let check_level = level_ready || slf.borrow().fds.pending;
    if check_level {
        crate::py::fd_readers::dispatch(py, slf);
    }
    run_closing(py, slf);
    flush_dirty(py, slf);
}

/// Takes the vector's items out, without touching it when it is empty
/// (the common case: nothing left over from the previous turn).
fn take_nonempty<T>(v: &mut Vec<T>) -> Vec<T> {
    if v.is_empty() {
        Vec::new()
    } else {
        std::mem::take(v)
    }
}

fn drain(fd: RawFd) {
    let mut buf = [0u8; 256];
    // SAFETY: the signal descriptor stays open while it is registered,
    // and this runs only for its events.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    while let Ok(n) = crate::core::fd::read(fd, &mut buf) {
        if n == 0 {
            break;
        }
    }
}

/// How long a turn's poll may wait.
enum Wait {
    /// As long as the timers and pending work allow.
    Computed,
    /// At most this long (`iterate(delay)`).
    AtMost(Duration),
}

fn one_turn(py: Python<'_>, slf: &Bound<'_, ReactorBase>, wait: &Wait) -> PyResult<()> {
    run_until_current(py, slf)?;
    run_closing(py, slf);
    flush_dirty(py, slf);
    let t = match wait {
        Wait::AtMost(t) => Some(*t),
        Wait::Computed => poll_timeout(slf),
    };
    do_iteration(py, slf, t)
}

#[pymethods]
impl ReactorBase {
    /// A reactor core calling Python through `hooks` (see
    /// torsion.internet._hooks): given here, so that no path can run
    /// without them.
    #[new]
    fn new(hooks: &Bound<'_, PyAny>) -> PyResult<Self> {
        let hooks = Arc::new(Hooks::from_object(hooks)?);
        crate::core::heap::keep_freed_buffers();
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Waker::new(poll.registry(), WAKER_TOKEN)?;
        let fds = FdReaders::new()?;
        registry.register(
            &mut SourceFd(&fds.epoll_fd()),
            LEVEL_TOKEN,
            Interest::READABLE,
        )?;
        Ok(Self {
            registry,
            poller: Arc::new(Mutex::new(Poller {
                poll,
                events: Events::with_capacity(1024),
            })),
            thread_calls: Arc::new(ThreadCalls::new(waker)),
            timers: TimerQueue::new(),
            sources: TokenSlab::new(),
            dirty: Vec::new(),
            events: Vec::new(),
            ready: Vec::new(),
            ready_ports: Vec::new(),
            ready_datagrams: Vec::new(),
            closing: Vec::new(),
            fds,
            hooks,
            epoch: Instant::now(),
            started: false,
            just_stopped: false,
            running: false,
            signal_fd: None,
        })
    }

    /// Watches `fd` (the read end of the signal wake-up pipe); None removes.
    #[pyo3(name = "_setSignalFd")]
    fn set_signal_fd(&mut self, fd: Option<RawFd>) -> PyResult<()> {
        if let Some(old) = self.signal_fd.take() {
            self.deregister_fd(old);
        }
        if let Some(fd) = fd {
            self.register_fd(fd, SIGNAL_TOKEN.0, Interest::READABLE)?;
            self.signal_fd = Some(fd);
        }
        Ok(())
    }

    #[getter(_started)]
    fn get_started(&self) -> bool {
        self.started
    }

    #[setter(_started)]
    fn set_started(&mut self, v: bool) {
        self.started = v;
    }

    #[getter(_justStopped)]
    fn get_just_stopped(&self) -> bool {
        self.just_stopped
    }

    #[setter(_justStopped)]
    fn set_just_stopped(&mut self, v: bool) {
        self.just_stopped = v;
    }

    /// True while the reactor is running (between startup and shutdown).
    #[getter]
    fn get_running(&self) -> bool {
        self.running
    }

    #[setter]
    fn set_running(&mut self, v: bool) {
        self.running = v;
    }

    /// The current time, as `time.time()`.
    fn seconds(&self) -> f64 {
        wall_seconds()
    }

    /// Schedules `callable(*args, **kw)` to run `delay` seconds from now
    /// (the parameter names are Twisted's: callers may pass them by name).
    #[pyo3(name = "callLater", signature = (delay, callable, *args, **kw))]
    fn call_later(
        slf: &Bound<'_, Self>,
        delay: &Bound<'_, PyAny>,
        callable: Bound<'_, PyAny>,
        args: Bound<'_, PyTuple>,
        kw: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Py<DelayedCall>> {
        let py = slf.py();
        let delay_obj = delay;
        let delay: f64 = match delay_obj.extract() {
            Ok(d) => d,
            Err(e) => {
                // Twisted's first use of the delay is `delay >= 0`: let that
                // comparison raise its own TypeError for a str or None.
                delay_obj.ge(0)?;
                return Err(e);
            }
        };
        if delay.is_nan() || delay < 0.0 {
            return Err(PyAssertionError::new_err(format!(
                "{} is not greater than or equal to 0 seconds",
                delay_obj.str()?
            )));
        }
        let deadline = slf.borrow().now_ns().saturating_add(delay_to_ns(delay));
        let dc = Py::new(
            py,
            DelayedCall {
                reactor: Some(slf.clone().unbind()),
                time: wall_seconds() + delay,
                deadline,
                func: Some(callable.unbind()),
                args: Some(args.unbind()),
                kw: kw.filter(|k| !k.is_empty()).map(Bound::unbind),
                handle: None,
                cancelled: false,
                called: false,
            },
        )?;
        let handle = slf.borrow_mut().timers.insert(deadline, dc.clone_ref(py));
        dc.bind(py).borrow_mut().handle = Some(handle);
        untrack_pending(dc.bind(py));
        Ok(dc)
    }

    /// Every DelayedCall that has neither run nor been cancelled.
    #[pyo3(name = "getDelayedCalls")]
    fn get_delayed_calls<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let r = slf.borrow();
        PyList::new(py, r.timers.iter().map(|d| d.clone_ref(py)))
    }

    /// Longest sleep allowed by pending timers (Twisted's `timeout()`).
    fn timeout(&mut self) -> Option<f64> {
        let now = self.now_ns();
        self.timers
            .next_deadline()
            .map(|d| (d.saturating_sub(now) as f64 / 1e9).min(2_147_483.0))
    }

    /// Runs `f(*args, **kw)` in the reactor thread; safe from any thread.
    #[pyo3(name = "callFromThread", signature = (f, *args, **kw))]
    fn call_from_thread(
        &self,
        f: Bound<'_, PyAny>,
        args: Bound<'_, PyTuple>,
        kw: Option<Bound<'_, PyDict>>,
    ) {
        self.thread_calls.push(ThreadCall {
            f: f.unbind(),
            args: args.unbind(),
            kwargs: kw.map(Bound::unbind),
        });
    }

    /// Wakes the loop if it is waiting in the poller.
    #[pyo3(name = "wakeUp")]
    fn wake_up(&self) {
        self.thread_calls.wake();
    }

    /// Twisted's runUntilCurrent: queued thread calls, then due timers.
    #[pyo3(name = "runUntilCurrent")]
    fn py_run_until_current(slf: &Bound<'_, Self>) -> PyResult<()> {
        run_until_current(slf.py(), slf)
    }

    /// One poll (waiting at most `delay` seconds; None: until an event)
    /// and the I/O it reports.
    #[pyo3(name = "doIteration", signature = (delay=None))]
    fn py_do_iteration(slf: &Bound<'_, Self>, delay: Option<f64>) -> PyResult<()> {
        let py = slf.py();
        flush_dirty(py, slf);
        let t = delay.map(|d| Duration::from_secs_f64(d.max(0.0)));
        do_iteration(py, slf, t)
    }

    /// Runs one loop turn, waiting at most `delay` seconds for I/O.
    #[pyo3(signature = (delay=0.0))]
    fn iterate(slf: &Bound<'_, Self>, delay: f64) -> PyResult<()> {
        let t = Duration::from_secs_f64(if delay.is_finite() {
            delay.max(0.0)
        } else {
            0.0
        });
        one_turn(slf.py(), slf, &Wait::AtMost(t))
    }

    /// Runs turns until `_started` is cleared (by crash or shutdown).
    #[pyo3(name = "_mainLoop")]
    fn main_loop(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        while slf.borrow().started {
            one_turn(py, slf, &Wait::Computed)?;
        }
        Ok(())
    }

    /// Number of registered connections and listening ports.
    #[pyo3(name = "_sourceCount")]
    fn source_count(&self) -> usize {
        self.sources.len()
    }

    // IReactorFDSet for Python descriptors (level-triggered).

    /// Calls `reader.doRead()` while its descriptor is readable.
    #[pyo3(name = "addReader")]
    fn add_reader(slf: &Bound<'_, Self>, reader: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Ok(tr) = reader.cast::<Stream>() {
            Stream::start_reading(tr);
            return Ok(());
        }
        let fd: RawFd = reader
            .call_method0(intern!(slf.py(), "fileno"))?
            .extract()?;
        slf.borrow_mut().fds.set(reader, fd, Some(true), None)
    }

    /// Calls `writer.doWrite()` while its descriptor is writable.
    #[pyo3(name = "addWriter")]
    fn add_writer(slf: &Bound<'_, Self>, writer: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Ok(tr) = writer.cast::<Stream>() {
            Stream::start_writing(tr);
            return Ok(());
        }
        let fd: RawFd = writer
            .call_method0(intern!(slf.py(), "fileno"))?
            .extract()?;
        slf.borrow_mut().fds.set(writer, fd, None, Some(true))
    }

    #[pyo3(name = "removeReader")]
    fn remove_reader(slf: &Bound<'_, Self>, reader: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Ok(tr) = reader.cast::<Stream>() {
            Stream::stop_reading(tr);
            return Ok(());
        }
        let fd = crate::py::fd_readers::fileno_of(slf, reader);
        slf.borrow_mut()
            .fds
            .remove_interest(reader, fd, true, false)
    }

    #[pyo3(name = "removeWriter")]
    fn remove_writer(slf: &Bound<'_, Self>, writer: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Ok(tr) = writer.cast::<Stream>() {
            Stream::stop_writing(tr);
            return Ok(());
        }
        let fd = crate::py::fd_readers::fileno_of(slf, writer);
        slf.borrow_mut()
            .fds
            .remove_interest(writer, fd, false, true)
    }

    /// Everything being watched for reading.
    #[pyo3(name = "getReaders")]
    fn get_readers<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let r = slf.borrow();
        let mut out: Vec<Py<PyAny>> = r.fds.readers(py);
        for (_, src) in r.sources.iter() {
            match src {
                Source::Stream(t) if t.bind(py).borrow().is_reading() => {
                    out.push(t.clone_ref(py).into_any());
                }
                Source::Listener(p) => {
                    if let Some(owner) = p.bind(py).borrow().reading_owner(py) {
                        out.push(owner);
                    }
                }
                Source::Datagram(d) => {
                    if let Some(owner) = d.bind(py).borrow().reading_owner(py) {
                        out.push(owner);
                    }
                }
                Source::Stream(_) => {}
            }
        }
        PyList::new(py, out)
    }

    /// Everything being watched for writing.
    #[pyo3(name = "getWriters")]
    fn get_writers<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let r = slf.borrow();
        let mut out: Vec<Py<PyAny>> = r.fds.writers(py);
        for (_, src) in r.sources.iter() {
            if let Source::Stream(t) = src {
                if t.bind(py).borrow().is_writing() {
                    out.push(t.clone_ref(py).into_any());
                }
            }
        }
        PyList::new(py, out)
    }

    /// Stops watching every descriptor and returns them (Twisted's removeAll).
    #[pyo3(name = "removeAll")]
    fn remove_all<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let mut out: Vec<Py<PyAny>> = slf.borrow_mut().fds.remove_all()?;
        let sources: Vec<BoundSource<'py>> = slf
            .borrow()
            .sources
            .iter()
            .map(|(_, s)| s.bind(py))
            .collect();
        for src in sources {
            match src {
                BoundSource::Stream(t) => {
                    Stream::stop_reading(&t);
                    Stream::stop_writing(&t);
                    out.push(t.into_any().unbind());
                }
                BoundSource::Listener(p) => {
                    if let Some(owner) = p.borrow().reading_owner(py) {
                        out.push(owner);
                    }
                    ListeningPort::stop_reading(&p);
                }
                BoundSource::Datagram(d) => {
                    if let Some(owner) = d.borrow().reading_owner(py) {
                        out.push(owner);
                    }
                    DatagramPort::stop_reading(&d);
                }
            }
        }
        PyList::new(py, out)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.hooks.traverse(&visit)?;
        for d in self.timers.iter() {
            visit.call(d)?;
        }
        for (_, s) in self.sources.iter() {
            match s {
                Source::Stream(t) => visit.call(t)?,
                Source::Listener(p) => visit.call(p)?,
                Source::Datagram(d) => visit.call(d)?,
            }
        }
        for t in self.dirty.iter().chain(self.ready.iter()) {
            visit.call(t)?;
        }
        for p in &self.ready_ports {
            visit.call(p)?;
        }
        for d in &self.ready_datagrams {
            visit.call(d)?;
        }
        for (t, r, _) in &self.closing {
            visit.call(t)?;
            visit.call(r)?;
        }
        self.fds.traverse(&visit)
    }
}
