//! The single-threaded engine: one mio `Poll`, non-blocking sockets (TCP
//! with `TCP_NODELAY`, or UNIX), buffers allocated once before the first
//! byte is sent.
//!
//! Readiness is edge-triggered, so a connection is read until `WouldBlock`,
//! until its per-turn budget runs out (it is then served again on the next
//! turn without waiting for a new edge), or, in pingpong, until its whole
//! message is back, when the socket is known to be empty. Writes go on until
//! `WouldBlock`, the budget, or the end of what the mode allows to send.
//! A run is: open connections,
//! warm up, then measure a window whose start and end are taken from the
//! monotonic clock; throughput counters and latencies are reset when the
//! window opens, error counters cover the whole run.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::{Events, Interest, Poll, Token};

use crate::args::{Config, Mode};
use crate::hist::Histogram;
use crate::net::{Sock, Target};
use crate::pattern::{Pattern, PERIOD};
use crate::sys;

/// Bytes taken from the kernel per `read` call.
const READ_BUF: usize = 64 * 1024;
/// Low token bits that hold the slot; the rest hold a churn generation.
const SLOT_BITS: u32 = 20;
const SLOT_MASK: usize = (1 << SLOT_BITS) - 1;
/// Delay before a churn worker retries after a failed connect.
const RETRY_DELAY: Duration = Duration::from_millis(1);
/// Reads per connection per turn; a connection with more data waiting is
/// served again on the next turn, so one busy stream cannot starve the rest
/// or hold the loop past the end of the window.
const READ_BUDGET: usize = 16;
/// Writes per connection per turn, for the same reason (small chunks in
/// stream mode would otherwise keep one connection writing for seconds).
const WRITE_BUDGET: usize = 64;

/// Event counts of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Completed exchanges: echoed messages, churn connections, or echoed
    /// stream chunks.
    pub requests: u64,
    /// Churn connections that completed their exchange.
    pub connections: u64,
    /// Bytes written to the target.
    pub bytes_sent: u64,
    /// Bytes read back from the target.
    pub bytes_received: u64,
    /// Reads whose bytes were not what was sent, or more than was sent.
    pub verify_errors: u64,
    /// Connections closed or reset by the target before we were done.
    pub disconnects: u64,
    /// Connection attempts that failed (churn mode).
    pub connect_errors: u64,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// Counters over the measured window; error counts cover the whole run.
    pub counters: Counters,
    /// Latencies in nanoseconds of exchanges completed in the window.
    pub latency: Histogram,
    /// Length of the measured window in seconds (0 if it never opened).
    pub elapsed: f64,
    /// Server CPU seconds used during the window, when a pid was given.
    pub server_cpu: Option<f64>,
    /// Generator CPU seconds used during the window.
    pub client_cpu: f64,
    /// Connections still open at the end (pingpong, stream, proxy).
    pub open_at_end: usize,
}

/// State shared by all connections: counters, the read buffer, the payload.
struct Ctx {
    counters: Counters,
    latency: Histogram,
    buf: Vec<u8>,
    pat: Pattern,
    size: u64,
}

impl Ctx {
    /// Opens the measured window: forgets throughput, keeps error counts.
    fn open_window(&mut self) {
        let c = &mut self.counters;
        c.requests = 0;
        c.connections = 0;
        c.bytes_sent = 0;
        c.bytes_received = 0;
        self.latency.clear();
    }
}

/// How a connection ended its work on one event.
enum Outcome {
    /// Nothing more to do until the next event.
    Idle,
    /// The read budget ran out with data possibly left: serve it again.
    More,
    /// The connection must be closed; `true` counts a disconnect.
    Close(bool),
}

/// How far `write_until` got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wrote {
    /// Everything up to the limit is written.
    All,
    /// The socket would block; a writable event will follow.
    Full,
    /// The write budget ran out: serve the connection again next turn.
    Budget,
}

/// Writes pattern bytes from `*sent` up to `limit`, in pieces that never
/// cross a multiple of `chunk`, at most `WRITE_BUDGET` calls.
fn write_until(
    stream: &mut Sock,
    pat: &Pattern,
    base: u64,
    sent: &mut u64,
    limit: u64,
    chunk: u64,
    counters: &mut Counters,
) -> io::Result<Wrote> {
    let mut writes = 0;
    while *sent < limit {
        if writes == WRITE_BUDGET {
            return Ok(Wrote::Budget);
        }
        writes += 1;
        let room = chunk - *sent % chunk;
        let len = room.min(limit - *sent) as usize;
        match stream.write(pat.slice(base + *sent, len)) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => {
                *sent += n as u64;
                counters.bytes_sent += n as u64;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Wrote::Full),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Wrote::All)
}

/// Reads until `WouldBlock` or the budget runs out, verifying every byte.
/// `on_data` is told the new received total and returns whether to keep
/// reading.
fn read_all(
    stream: &mut Sock,
    base: u64,
    sent: u64,
    recvd: &mut u64,
    ctx: &mut Ctx,
    mut on_data: impl FnMut(u64, &mut Ctx) -> bool,
) -> Outcome {
    let mut reads = 0;
    loop {
        if reads == READ_BUDGET {
            return Outcome::More;
        }
        reads += 1;
        match stream.read(&mut ctx.buf) {
            Ok(0) => {
                ctx.counters.disconnects += 1;
                return Outcome::Close(false);
            }
            Ok(n) => {
                ctx.counters.bytes_received += n as u64;
                if *recvd + n as u64 > sent {
                    ctx.counters.verify_errors += 1;
                    return Outcome::Close(false);
                }
                if !ctx.pat.matches(base + *recvd, &ctx.buf[..n]) {
                    ctx.counters.verify_errors += 1;
                }
                *recvd += n as u64;
                if !on_data(*recvd, ctx) {
                    return Outcome::Idle;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Outcome::Idle,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Outcome::Close(true),
        }
    }
}

/// The readiness that one event (or a budget carry-over) reports.
#[derive(Clone, Copy)]
struct Ready {
    readable: bool,
    writable: bool,
    /// An error or a closed write side was reported.
    trouble: bool,
}

impl Ready {
    /// What a connection left over from a previous turn is served with.
    const AGAIN: Ready = Ready {
        readable: true,
        writable: false,
        trouble: false,
    };

    fn of(ev: &Event) -> Ready {
        Ready {
            readable: ev.is_readable() || ev.is_read_closed(),
            writable: ev.is_writable(),
            trouble: ev.is_error() || ev.is_write_closed(),
        }
    }
}

/// A mode's connections, driven by the shared loop.
trait Driver {
    /// Handles one readiness event.
    fn on_event(&mut self, ev: &Event, poll: &Poll, ctx: &mut Ctx);
    /// Periodic work; returns how soon it wants to run again.
    fn tick(&mut self, _poll: &Poll, _ctx: &mut Ctx) -> Option<Duration> {
        None
    }
    /// Connections currently able to carry traffic.
    fn open(&self) -> usize;
    /// Whether the run should go on (false once every connection died).
    fn viable(&self) -> bool {
        true
    }
}

/// One long-lived connection of the pingpong, stream and proxy modes.
struct Conn {
    stream: Sock,
    base: u64,
    sent: u64,
    recvd: u64,
    target: u64,
    started: Instant,
    write_blocked: bool,
}

/// Long-lived connections: pingpong (and proxy) or stream.
struct Held {
    conns: Vec<Option<Conn>>,
    again: Vec<usize>,
    stream_mode: bool,
    window: u64,
    open: usize,
}

impl Held {
    /// Opens `cfg.conns` connections within `cfg.connect_timeout` and sends
    /// the first bytes on each.
    fn connect(cfg: &Config, target: &Target, poll: &Poll, ctx: &mut Ctx) -> Result<Self, String> {
        let deadline = Instant::now() + cfg.connect_timeout;
        let stream_mode = cfg.mode == Mode::Stream;
        let mut held = Held {
            conns: Vec::with_capacity(cfg.conns),
            again: Vec::new(),
            stream_mode,
            window: cfg.stream_window() as u64,
            open: 0,
        };
        for i in 0..cfg.conns {
            let left = deadline.saturating_duration_since(Instant::now());
            let fail = |e: &dyn std::fmt::Display| {
                format!(
                    "cannot connect to {target}: {e} (opened {i} of {} connections)",
                    cfg.conns
                )
            };
            if left.is_zero() {
                return Err(fail(&"connect timeout"));
            }
            let mut stream = target.connect_within(left).map_err(|e| fail(&e))?;
            poll.registry()
                .register(
                    &mut stream,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| fail(&e))?;
            held.conns.push(Some(Conn {
                stream,
                base: (i as u64 * 61) % PERIOD,
                sent: 0,
                recvd: 0,
                target: ctx.size,
                started: Instant::now(),
                write_blocked: false,
            }));
            held.open += 1;
        }
        for i in 0..cfg.conns {
            if let Some(c) = held.conns[i].as_mut() {
                c.started = Instant::now();
            }
            match held.pump(i, ctx) {
                Outcome::Idle => {}
                Outcome::More => held.again.push(i),
                Outcome::Close(counted) => held.close(i, poll, ctx, counted),
            }
        }
        Ok(held)
    }

    /// Sends what the mode allows on connection `i`.
    fn pump(&mut self, i: usize, ctx: &mut Ctx) -> Outcome {
        let Some(c) = self.conns[i].as_mut() else {
            return Outcome::Idle;
        };
        if c.write_blocked {
            return Outcome::Idle;
        }
        let limit = if self.stream_mode {
            c.recvd + self.window
        } else {
            c.target
        };
        match write_until(
            &mut c.stream,
            &ctx.pat,
            c.base,
            &mut c.sent,
            limit,
            ctx.size,
            &mut ctx.counters,
        ) {
            Ok(wrote) => {
                c.write_blocked = wrote == Wrote::Full;
                if wrote == Wrote::Budget {
                    Outcome::More
                } else {
                    Outcome::Idle
                }
            }
            Err(_) => Outcome::Close(true),
        }
    }

    fn close(&mut self, i: usize, poll: &Poll, ctx: &mut Ctx, count: bool) {
        if let Some(mut c) = self.conns[i].take() {
            let _ = poll.registry().deregister(&mut c.stream);
            self.open -= 1;
            if count {
                ctx.counters.disconnects += 1;
            }
        }
    }
}

impl Held {
    /// Serves connection `i` for one event.
    fn service(&mut self, i: usize, ready: Ready, poll: &Poll, ctx: &mut Ctx) {
        let stream_mode = self.stream_mode;
        let Some(c) = self.conns.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        if ready.trouble {
            if let Ok(Some(_)) | Err(_) = c.stream.take_error() {
                self.close(i, poll, ctx, true);
                return;
            }
        }
        if ready.writable {
            c.write_blocked = false;
        }
        let read = if ready.readable {
            let Conn {
                stream,
                base,
                sent,
                recvd,
                target,
                started,
                ..
            } = c;
            read_all(stream, *base, *sent, recvd, ctx, |got, ctx| {
                if stream_mode || got != *target {
                    return true;
                }
                let now = Instant::now();
                ctx.latency
                    .record(now.duration_since(*started).as_nanos() as u64);
                ctx.counters.requests += 1;
                *target += ctx.size;
                *started = now;
                // Everything sent so far has come back, so the socket is
                // empty: the next echo raises a new edge, and the read that
                // would only return WouldBlock can be skipped.
                false
            })
        } else {
            Outcome::Idle
        };
        // Sending happens here, after reading: the next pingpong message,
        // or stream chunks up to the window the reads just reopened.
        let outcome = match read {
            closed @ Outcome::Close(_) => closed,
            Outcome::Idle => self.pump(i, ctx),
            Outcome::More => match self.pump(i, ctx) {
                Outcome::Idle => Outcome::More,
                other => other,
            },
        };
        match outcome {
            Outcome::Idle => {}
            Outcome::More => self.again.push(i),
            Outcome::Close(counted) => self.close(i, poll, ctx, counted),
        }
    }
}

impl Driver for Held {
    fn on_event(&mut self, ev: &Event, poll: &Poll, ctx: &mut Ctx) {
        self.service(ev.token().0, Ready::of(ev), poll, ctx);
    }

    fn tick(&mut self, poll: &Poll, ctx: &mut Ctx) -> Option<Duration> {
        for i in std::mem::take(&mut self.again) {
            self.service(i, Ready::AGAIN, poll, ctx);
        }
        if self.again.is_empty() {
            None
        } else {
            Some(Duration::ZERO)
        }
    }

    fn open(&self) -> usize {
        self.open
    }

    fn viable(&self) -> bool {
        self.open > 0
    }
}

/// A churn worker: one short-lived connection at a time.
struct Worker {
    stream: Option<Sock>,
    generation: usize,
    connected: bool,
    base: u64,
    sent: u64,
    recvd: u64,
    started: Instant,
}

/// Churn: each worker connects, echoes one message and closes, in a loop.
struct Churn {
    workers: Vec<Worker>,
    target: Target,
    retry: Vec<usize>,
    retry_at: Instant,
    again: Vec<(usize, usize)>,
    next_base: u64,
}

impl Churn {
    fn new(cfg: &Config, target: Target, poll: &Poll, ctx: &mut Ctx) -> Self {
        let now = Instant::now();
        let mut churn = Churn {
            workers: (0..cfg.conns)
                .map(|_| Worker {
                    stream: None,
                    generation: 0,
                    connected: false,
                    base: 0,
                    sent: 0,
                    recvd: 0,
                    started: now,
                })
                .collect(),
            target,
            retry: Vec::new(),
            retry_at: now,
            again: Vec::new(),
            next_base: 0,
        };
        for i in 0..cfg.conns {
            churn.start(i, poll, ctx);
        }
        churn
    }

    /// Begins a new connection on worker `i`.
    fn start(&mut self, i: usize, poll: &Poll, ctx: &mut Ctx) {
        let w = &mut self.workers[i];
        w.generation = (w.generation + 1) & (usize::MAX >> SLOT_BITS);
        w.connected = false;
        w.sent = 0;
        w.recvd = 0;
        w.base = self.next_base;
        self.next_base = (self.next_base + 61) % PERIOD;
        w.started = Instant::now();
        let token = Token((w.generation << SLOT_BITS) | i);
        let stream = self.target.connect().and_then(|mut s| {
            poll.registry()
                .register(&mut s, token, Interest::READABLE | Interest::WRITABLE)?;
            Ok(s)
        });
        match stream {
            Ok(s) => w.stream = Some(s),
            Err(_) => self.fail(i, poll, ctx),
        }
    }

    /// Drops worker `i`'s connection after a failed connect and schedules a retry.
    fn fail(&mut self, i: usize, poll: &Poll, ctx: &mut Ctx) {
        ctx.counters.connect_errors += 1;
        self.drop_conn(i, poll);
        if self.retry.is_empty() {
            self.retry_at = Instant::now() + RETRY_DELAY;
        }
        self.retry.push(i);
    }

    fn drop_conn(&mut self, i: usize, poll: &Poll) {
        if let Some(mut s) = self.workers[i].stream.take() {
            let _ = poll.registry().deregister(&mut s);
        }
    }

    /// Handles an event for worker `i`; returns what should happen next.
    fn advance(&mut self, i: usize, ready: Ready, ctx: &mut Ctx) -> Step {
        let size = ctx.size;
        let w = &mut self.workers[i];
        let Some(stream) = w.stream.as_mut() else {
            return Step::Wait;
        };
        if !w.connected {
            match stream.take_error() {
                Ok(None) => {}
                Ok(Some(_)) | Err(_) => return Step::ConnectFailed,
            }
            match stream.connected() {
                Ok(true) => {}
                Ok(false) if !ready.trouble => return Step::Wait,
                Ok(false) | Err(_) => return Step::ConnectFailed,
            }
            w.connected = true;
        }
        let Ok(wrote) = write_until(
            stream,
            &ctx.pat,
            w.base,
            &mut w.sent,
            size,
            size,
            &mut ctx.counters,
        ) else {
            return Step::Lost;
        };
        let mut done = false;
        let outcome = read_all(stream, w.base, w.sent, &mut w.recvd, ctx, |got, _| {
            done = got == size;
            !done
        });
        if done {
            let ns = w.started.elapsed().as_nanos() as u64;
            ctx.latency.record(ns);
            ctx.counters.requests += 1;
            ctx.counters.connections += 1;
            return Step::Done;
        }
        match outcome {
            Outcome::Idle if wrote == Wrote::Budget => Step::More,
            Outcome::Idle => Step::Wait,
            Outcome::More => Step::More,
            Outcome::Close(true) => Step::Lost,
            Outcome::Close(false) => Step::Restart,
        }
    }
}

/// Next step for a churn worker after an event.
enum Step {
    Wait,
    More,
    Done,
    ConnectFailed,
    Lost,
    Restart,
}

impl Churn {
    /// Serves worker `i` for one event, if `generation` is still its current
    /// connection.
    fn service(&mut self, i: usize, generation: usize, ready: Ready, poll: &Poll, ctx: &mut Ctx) {
        if self.workers.get(i).map(|w| w.generation) != Some(generation) {
            return;
        }
        match self.advance(i, ready, ctx) {
            Step::Wait => {}
            Step::More => self.again.push((i, generation)),
            Step::ConnectFailed => self.fail(i, poll, ctx),
            Step::Lost => {
                ctx.counters.disconnects += 1;
                self.drop_conn(i, poll);
                self.start(i, poll, ctx);
            }
            Step::Done | Step::Restart => {
                self.drop_conn(i, poll);
                self.start(i, poll, ctx);
            }
        }
    }
}

impl Driver for Churn {
    fn on_event(&mut self, ev: &Event, poll: &Poll, ctx: &mut Ctx) {
        let i = ev.token().0 & SLOT_MASK;
        let generation = ev.token().0 >> SLOT_BITS;
        self.service(i, generation, Ready::of(ev), poll, ctx);
    }

    fn tick(&mut self, poll: &Poll, ctx: &mut Ctx) -> Option<Duration> {
        for (i, generation) in std::mem::take(&mut self.again) {
            self.service(i, generation, Ready::AGAIN, poll, ctx);
        }
        let now = Instant::now();
        if !self.retry.is_empty() && now >= self.retry_at {
            for i in std::mem::take(&mut self.retry) {
                self.start(i, poll, ctx);
            }
        }
        if !self.again.is_empty() {
            Some(Duration::ZERO)
        } else if self.retry.is_empty() {
            None
        } else {
            Some(self.retry_at.saturating_duration_since(now))
        }
    }

    fn open(&self) -> usize {
        self.workers.iter().filter(|w| w.stream.is_some()).count()
    }
}

/// Runs `cfg` against its target and returns what was measured.
pub fn run(cfg: &Config) -> Result<Report, String> {
    let target = match &cfg.unix {
        Some(path) => Target::Unix(path.clone()),
        None => Target::Tcp(SocketAddr::new(cfg.host, cfg.port)),
    };
    let mut poll = Poll::new().map_err(|e| format!("cannot create poll: {e}"))?;
    let span = READ_BUF.max(cfg.size);
    let mut ctx = Ctx {
        counters: Counters::default(),
        latency: Histogram::new(),
        buf: vec![0; READ_BUF],
        pat: Pattern::new(span),
        size: cfg.size as u64,
    };
    debug_assert!(ctx.pat.span() >= cfg.size);
    if cfg.mode == Mode::Churn {
        target
            .connect_within(cfg.connect_timeout)
            .map_err(|e| format!("cannot connect to {target}: {e}"))?;
        let mut churn = Churn::new(cfg, target, &poll, &mut ctx);
        drive(cfg, &mut poll, &mut churn, ctx)
    } else {
        let mut held = Held::connect(cfg, &target, &poll, &mut ctx)?;
        drive(cfg, &mut poll, &mut held, ctx)
    }
}

/// The measured window: when it opened and both CPU clocks at that moment.
struct Window {
    start: Instant,
    server_cpu: Option<f64>,
    client_cpu: f64,
}

/// Decides when the window opens and when the run ends: the window lasts
/// `duration` from the moment it actually opened, even if a busy turn opened
/// it late.
struct Schedule {
    open_at: Instant,
    duration: Duration,
    server_pid: Option<u32>,
    window: Option<Window>,
}

impl Schedule {
    fn server_cpu(&self) -> Option<f64> {
        self.server_pid
            .and_then(|p| sys::process_cpu_seconds(p).ok())
    }

    /// Opens the window once it is due; returns whether the run is over.
    fn check(&mut self, now: Instant, ctx: &mut Ctx) -> bool {
        match &self.window {
            Some(w) => now >= w.start + self.duration,
            None if now >= self.open_at => {
                ctx.open_window();
                self.window = Some(Window {
                    start: now,
                    server_cpu: self.server_cpu(),
                    client_cpu: sys::self_cpu_seconds(),
                });
                false
            }
            None => false,
        }
    }

    /// Time until the next edge.
    fn wait(&self, now: Instant) -> Duration {
        let next = match &self.window {
            Some(w) => w.start + self.duration,
            None => self.open_at,
        };
        next.saturating_duration_since(now)
    }
}

/// The loop shared by all modes: warm up, open the window, measure, stop.
fn drive(
    cfg: &Config,
    poll: &mut Poll,
    driver: &mut dyn Driver,
    mut ctx: Ctx,
) -> Result<Report, String> {
    let mut events = Events::with_capacity(1024);
    let open_at = Instant::now() + cfg.warmup;
    let mut sched = Schedule {
        open_at,
        duration: cfg.duration,
        server_pid: cfg.server_pid,
        window: None,
    };
    'run: loop {
        let now = Instant::now();
        if sched.check(now, &mut ctx) || !driver.viable() {
            break;
        }
        let mut timeout = sched.wait(now);
        if let Some(t) = driver.tick(poll, &mut ctx) {
            timeout = timeout.min(t);
        }
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("poll failed: {e}")),
        }
        for ev in &events {
            driver.on_event(ev, poll, &mut ctx);
            // A large batch can take a while: keep the window edges sharp.
            if sched.check(Instant::now(), &mut ctx) {
                break 'run;
            }
        }
    }
    let end = Instant::now();
    let (elapsed, server, client) = if let Some(w) = &sched.window {
        (
            end.duration_since(w.start).as_secs_f64(),
            w.server_cpu
                .zip(sched.server_cpu())
                .map(|(a, b)| (b - a).max(0.0)),
            sys::self_cpu_seconds() - w.client_cpu,
        )
    } else {
        ctx.open_window();
        (0.0, None, 0.0)
    };
    if cfg.mode == Mode::Stream {
        ctx.counters.requests = ctx.counters.bytes_received / ctx.size;
    }
    Ok(Report {
        counters: ctx.counters,
        latency: ctx.latency,
        elapsed,
        server_cpu: server,
        client_cpu: client,
        open_at_end: driver.open(),
    })
}
