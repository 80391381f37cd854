//! `loadgen`: a single-threaded TCP load generator for torsion's echo and
//! proxy benchmarks. See `benches/README.md` for usage and output fields.

mod args;
mod hist;
mod json;
mod net;
mod pattern;
mod run;
mod sys;

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use args::{Config, Mode, Parsed};
use json::JsonObject;
use run::Report;

/// Latency in microseconds from nanoseconds.
fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// `num / den`, or 0 when `den` is not positive.
fn per(num: f64, den: f64) -> f64 {
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

fn total_errors(r: &Report) -> u64 {
    let c = &r.counters;
    c.verify_errors + c.disconnects + c.connect_errors
}

fn to_json(cfg: &Config, r: &Report) -> String {
    let c = &r.counters;
    let h = &r.latency;
    let mut lat = JsonObject::new();
    lat.uint("count", h.count())
        .float("min", us(h.min()))
        .float("p50", us(h.percentile(50.0)))
        .float("p90", us(h.percentile(90.0)))
        .float("p99", us(h.percentile(99.0)))
        .float("p999", us(h.percentile(99.9)))
        .float("max", us(h.max()))
        .float("mean", h.mean() / 1000.0);
    let mb = c.bytes_received as f64 / 1e6;
    let mut o = JsonObject::new();
    o.string("tool", "loadgen")
        .string("mode", cfg.mode.name())
        .string("host", &cfg.host.to_string())
        .uint("port", u64::from(cfg.port))
        .opt_string(
            "unix",
            cfg.unix.as_ref().map(|p| p.to_string_lossy()).as_deref(),
        )
        .uint("conns", cfg.conns as u64)
        .uint("size", cfg.size as u64)
        .opt_uint(
            "window",
            (cfg.mode == Mode::Stream).then(|| cfg.stream_window() as u64),
        )
        .float("duration_s", cfg.duration.as_secs_f64())
        .float("warmup_s", cfg.warmup.as_secs_f64())
        .float("elapsed_s", r.elapsed)
        .uint("requests", c.requests)
        .float("requests_per_s", per(c.requests as f64, r.elapsed))
        .uint("connections", c.connections)
        .float("connections_per_s", per(c.connections as f64, r.elapsed))
        .uint("bytes_sent", c.bytes_sent)
        .uint("bytes_received", c.bytes_received)
        .float("mb_per_s", per(mb, r.elapsed))
        .object("latency_us", lat)
        .uint("verify_errors", c.verify_errors)
        .uint("disconnects", c.disconnects)
        .uint("connect_errors", c.connect_errors)
        .uint("errors", total_errors(r))
        .uint("conns_open", r.open_at_end as u64)
        .opt_uint("cpu", cfg.cpu.map(|k| k as u64))
        .opt_uint("server_pid", cfg.server_pid.map(u64::from))
        .opt_float("server_cpu_s", r.server_cpu)
        .opt_float(
            "requests_per_server_cpu_s",
            r.server_cpu.map(|s| per(c.requests as f64, s)),
        )
        .opt_float("mb_per_server_cpu_s", r.server_cpu.map(|s| per(mb, s)))
        .float("client_cpu_s", r.client_cpu)
        .float("client_cpu_util", per(r.client_cpu, r.elapsed));
    o.finish()
}

fn to_text(cfg: &Config, r: &Report) -> String {
    let c = &r.counters;
    let h = &r.latency;
    let mut out = String::new();
    let target = match &cfg.unix {
        Some(path) => format!("unix:{}", path.display()),
        None => format!("{}:{}", cfg.host, cfg.port),
    };
    let _ = writeln!(
        out,
        "loadgen {} {target} conns={} size={} window={:.2}s (warmup {:.2}s)",
        cfg.mode.name(),
        cfg.conns,
        cfg.size,
        r.elapsed,
        cfg.warmup.as_secs_f64()
    );
    match cfg.mode {
        Mode::PingPong | Mode::Proxy => {
            let _ = writeln!(
                out,
                "  requests/s     {:.1}  ({} requests)",
                per(c.requests as f64, r.elapsed),
                c.requests
            );
        }
        Mode::Churn => {
            let _ = writeln!(
                out,
                "  connections/s  {:.1}  ({} connections)",
                per(c.connections as f64, r.elapsed),
                c.connections
            );
        }
        Mode::Stream => {}
    }
    let mbs = per(c.bytes_received as f64 / 1e6, r.elapsed);
    let _ = writeln!(out, "  received MB/s  {mbs:.2}");
    if h.count() > 0 {
        let _ = writeln!(
            out,
            "  latency us     p50 {:.1}  p99 {:.1}  p999 {:.1}  max {:.1}  mean {:.1}",
            us(h.percentile(50.0)),
            us(h.percentile(99.0)),
            us(h.percentile(99.9)),
            us(h.max()),
            h.mean() / 1000.0
        );
    }
    let _ = writeln!(
        out,
        "  errors         verify {}  disconnects {}  connect {}",
        c.verify_errors, c.disconnects, c.connect_errors
    );
    if let Some(s) = r.server_cpu {
        let _ = writeln!(
            out,
            "  server cpu     {s:.2} s  ({:.1} requests per server CPU-second)",
            per(c.requests as f64, s)
        );
    }
    let _ = write!(
        out,
        "  client cpu     {:.2} s  ({:.0}% of one core)",
        r.client_cpu,
        100.0 * per(r.client_cpu, r.elapsed)
    );
    out
}

fn main() -> ExitCode {
    let cfg = match args::parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(cfg)) => cfg,
        Ok(Parsed::Help) => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("loadgen: {msg}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    if let Some(pid) = cfg.server_pid {
        if let Err(msg) = sys::process_cpu_seconds(pid) {
            eprintln!("loadgen: --server-pid {pid}: {msg}");
            return ExitCode::from(1);
        }
    }
    if let Some(k) = cfg.cpu {
        if let Err(msg) = sys::pin_to_cpu(k) {
            eprintln!("loadgen: {msg}");
            return ExitCode::from(1);
        }
    }
    sys::raise_nofile(cfg.conns as u64 + 64);
    let report = match run::run(&cfg) {
        Ok(r) => r,
        Err(msg) => {
            eprintln!("loadgen: {msg}");
            return ExitCode::from(1);
        }
    };
    let text = if cfg.json {
        to_json(&cfg, &report)
    } else {
        to_text(&cfg, &report)
    };
    // A closed stdout (say, piped into `head`) is not worth a panic.
    let _ = writeln!(std::io::stdout().lock(), "{text}");
    if total_errors(&report) > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}
