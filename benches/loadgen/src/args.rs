//! Command-line parsing for the load generator.
//!
//! Hand-written to keep the dependency list at `mio` and `libc`. Options take
//! their value either as the next argument (`--port 8000`) or inline
//! (`--port=8000`). Every value is range-checked here so the engine can trust
//! the `Config` it receives.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

/// Largest accepted number of connections (or churn workers).
pub const MAX_CONNS: usize = 100_000;
/// Largest accepted message size: 64 MiB.
pub const MAX_SIZE: usize = 64 << 20;
/// Least number of unechoed bytes a stream connection may have in flight,
/// unless `--window` says otherwise.
pub const STREAM_WINDOW_MIN: usize = 1 << 20;
/// Longest accepted measured window or warmup, in seconds.
pub const MAX_SECONDS: f64 = 3600.0;

/// What traffic the generator produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Send `size` bytes, wait for them to come back, repeat.
    PingPong,
    /// Write `size`-byte chunks continuously and read everything back.
    Stream,
    /// Connect, send `size` bytes, read them back, close, repeat.
    Churn,
    /// Ping-pong through a proxy; only the label differs.
    Proxy,
}

impl Mode {
    /// Parses a mode name as given on the command line.
    pub fn parse(name: &str) -> Option<Mode> {
        match name {
            "pingpong" => Some(Mode::PingPong),
            "stream" => Some(Mode::Stream),
            "churn" => Some(Mode::Churn),
            "proxy" => Some(Mode::Proxy),
            _ => None,
        }
    }

    /// The name used on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Mode::PingPong => "pingpong",
            Mode::Stream => "stream",
            Mode::Churn => "churn",
            Mode::Proxy => "proxy",
        }
    }
}

/// A validated run configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Target address; always a loopback address.
    pub host: IpAddr,
    /// Target port.
    pub port: u16,
    /// A UNIX stream socket to connect to instead of `host` and `port`.
    pub unix: Option<PathBuf>,
    /// Connections held open (pingpong, stream, proxy) or churn workers.
    pub conns: usize,
    /// Message or chunk size in bytes.
    pub size: usize,
    /// Stream mode: most unechoed bytes per connection; `None` is
    /// max(1 MiB, 4 chunks).
    pub window: Option<usize>,
    /// Length of the measured window.
    pub duration: Duration,
    /// Traffic sent before the measured window starts; not counted.
    pub warmup: Duration,
    /// Traffic pattern.
    pub mode: Mode,
    /// Core to pin the generator to.
    pub cpu: Option<usize>,
    /// Process whose CPU time is measured over the window.
    pub server_pid: Option<u32>,
    /// Print one JSON object instead of text.
    pub json: bool,
    /// Limit for establishing the initial connections.
    pub connect_timeout: Duration,
}

impl Config {
    /// Stream mode's limit of unechoed bytes per connection.
    pub fn stream_window(&self) -> usize {
        self.window
            .unwrap_or_else(|| STREAM_WINDOW_MIN.max(4 * self.size))
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            unix: None,
            conns: 50,
            size: 1024,
            window: None,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            mode: Mode::PingPong,
            cpu: None,
            server_pid: None,
            json: false,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Outcome of parsing: a run to perform, or a request for help.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// Run with this configuration.
    Run(Config),
    /// `--help` was given.
    Help,
}

/// Usage text printed for `--help` and after a usage error.
pub const USAGE: &str = "\
usage: loadgen (--port P | --unix PATH) [options]

  --host H              target address, loopback only (default 127.0.0.1)
  --port P              target port
  --unix PATH           connect to this UNIX stream socket instead of TCP
  --mode M              pingpong | stream | churn | proxy (default pingpong)
  --conns N             connections, or churn workers (default 50)
  --size S              bytes per message or chunk; k/m suffixes (default 1024)
  --window W            stream mode: most unechoed bytes per connection;
                        k/m suffixes (default max(1m, 4 chunks))
  --duration T          measured seconds; s/ms suffixes (default 10)
  --warmup W            unmeasured seconds before the window (default 1)
  --cpu K               pin the generator to core K
  --server-pid PID      report the server's CPU time over the window
  --connect-timeout T   limit for opening connections (default 5)
  --json                print one JSON object on stdout
  --help                show this text

exit status: 0 ok, 1 fatal error (e.g. cannot connect), 2 usage error,
3 the run finished but saw corrupted data, disconnects or failed connects";

/// Parses the arguments that follow the program name.
pub fn parse<I>(args: I) -> Result<Parsed, String>
where
    I: IntoIterator<Item = String>,
{
    let mut cfg = Config::default();
    let mut port_given = false;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        match name.as_str() {
            "--help" | "-h" => return Ok(Parsed::Help),
            "--json" => {
                if inline.is_some() {
                    return Err("--json takes no value".into());
                }
                cfg.json = true;
                continue;
            }
            _ => {}
        }
        let mut value = || -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it.next().ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match name.as_str() {
            "--host" => cfg.host = parse_host(&value()?)?,
            "--port" => {
                cfg.port = parse_port(&value()?)?;
                port_given = true;
            }
            "--mode" => {
                let v = value()?;
                cfg.mode = Mode::parse(&v).ok_or_else(|| {
                    format!("unknown mode {v:?}: expected pingpong, stream, churn or proxy")
                })?;
            }
            "--conns" => {
                cfg.conns = parse_count(&value()?, "--conns", 1, MAX_CONNS as u64)? as usize;
            }
            "--unix" => cfg.unix = Some(PathBuf::from(value()?)),
            "--size" => cfg.size = parse_size(&value()?, "--size")?,
            "--window" => cfg.window = Some(parse_size(&value()?, "--window")?),
            "--duration" => cfg.duration = parse_seconds(&value()?, "--duration", false)?,
            "--warmup" => cfg.warmup = parse_seconds(&value()?, "--warmup", true)?,
            "--connect-timeout" => {
                cfg.connect_timeout = parse_seconds(&value()?, "--connect-timeout", false)?;
            }
            "--cpu" => cfg.cpu = Some(parse_count(&value()?, "--cpu", 0, 1023)? as usize),
            "--server-pid" => {
                cfg.server_pid =
                    Some(parse_count(&value()?, "--server-pid", 1, u64::from(u32::MAX))? as u32);
            }
            _ => return Err(format!("unknown option {arg:?}")),
        }
    }
    if port_given == cfg.unix.is_some() {
        return Err("one of --port and --unix is required".into());
    }
    Ok(Parsed::Run(cfg))
}

/// Accepts `localhost` or a literal address in 127.0.0.0/8 or `::1`.
fn parse_host(text: &str) -> Result<IpAddr, String> {
    let addr: IpAddr = if text == "localhost" {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        text.trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("--host {text:?} is not an IP address (or localhost)"))?
    };
    if !addr.is_loopback() {
        return Err(format!(
            "refusing host {text}: only loopback targets (127.0.0.0/8 or ::1) are allowed"
        ));
    }
    Ok(addr)
}

fn parse_port(text: &str) -> Result<u16, String> {
    Ok(parse_count(text, "--port", 1, 65535)? as u16)
}

fn parse_count(text: &str, what: &str, min: u64, max: u64) -> Result<u64, String> {
    let n: u64 = text
        .parse()
        .map_err(|_| format!("{what} {text:?} is not a whole number"))?;
    if n < min || n > max {
        return Err(format!("{what} {n} is out of range {min}..={max}"));
    }
    Ok(n)
}

/// Parses the byte count given to option `what`, with an optional binary
/// suffix: `512`, `1k`, `4KiB`, `1m`.
fn parse_size(text: &str, what: &str) -> Result<usize, String> {
    let lower = text.to_ascii_lowercase();
    let (digits, scale) = if let Some(d) = lower
        .strip_suffix("kib")
        .or_else(|| lower.strip_suffix('k'))
    {
        (d, 1024)
    } else if let Some(d) = lower
        .strip_suffix("mib")
        .or_else(|| lower.strip_suffix('m'))
    {
        (d, 1024 * 1024)
    } else {
        (lower.as_str(), 1)
    };
    let n = parse_count(digits, what, 1, MAX_SIZE as u64)
        .map_err(|_| format!("{what} {text:?} must be 1 byte to 64 MiB (suffixes k, m)"))?;
    let bytes = n * scale;
    if bytes > MAX_SIZE as u64 {
        return Err(format!("{what} {text:?} is larger than 64 MiB"));
    }
    Ok(bytes as usize)
}

/// Parses seconds as a decimal number with an optional `s` or `ms` suffix.
fn parse_seconds(text: &str, what: &str, zero_ok: bool) -> Result<Duration, String> {
    let (digits, scale) = if let Some(d) = text.strip_suffix("ms") {
        (d, 0.001)
    } else if let Some(d) = text.strip_suffix('s') {
        (d, 1.0)
    } else {
        (text, 1.0)
    };
    let v: f64 = digits
        .parse()
        .map_err(|_| format!("{what} {text:?} is not a number of seconds"))?;
    let secs = v * scale;
    if !secs.is_finite() || !(0.0..=MAX_SECONDS).contains(&secs) || (!zero_ok && secs == 0.0) {
        let low = if zero_ok { "0" } else { "more than 0" };
        return Err(format!(
            "{what} {text:?} must be {low} and at most {MAX_SECONDS} seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn run(args: &[&str]) -> Result<Config, String> {
        match parse(args.iter().map(|s| (*s).to_string()))? {
            Parsed::Run(cfg) => Ok(cfg),
            Parsed::Help => Err("help".into()),
        }
    }

    #[test]
    fn defaults_need_only_a_port() {
        let cfg = run(&["--port", "8000"]).unwrap();
        assert_eq!(
            cfg,
            Config {
                port: 8000,
                ..Config::default()
            }
        );
        assert_eq!(cfg.conns, 50);
        assert_eq!(cfg.size, 1024);
        assert_eq!(cfg.mode, Mode::PingPong);
        assert_eq!(cfg.duration, Duration::from_secs(10));
        assert_eq!(cfg.warmup, Duration::from_secs(1));
    }

    #[test]
    fn every_option_is_read() {
        let cfg = run(&[
            "--host",
            "127.0.0.2",
            "--port=9",
            "--mode",
            "churn",
            "--conns",
            "7",
            "--size=4k",
            "--window",
            "2m",
            "--duration",
            "2.5",
            "--warmup",
            "250ms",
            "--cpu",
            "1",
            "--server-pid",
            "1234",
            "--connect-timeout",
            "3s",
            "--json",
        ])
        .unwrap();
        assert_eq!(
            cfg,
            Config {
                host: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
                port: 9,
                unix: None,
                conns: 7,
                size: 4096,
                window: Some(2 << 20),
                duration: Duration::from_millis(2500),
                warmup: Duration::from_millis(250),
                mode: Mode::Churn,
                cpu: Some(1),
                server_pid: Some(1234),
                json: true,
                connect_timeout: Duration::from_secs(3),
            }
        );
    }

    #[test]
    fn a_unix_path_replaces_the_port() {
        let cfg = run(&["--unix", "/tmp/echo.sock", "--mode", "stream"]).unwrap();
        assert_eq!(cfg.unix, Some(PathBuf::from("/tmp/echo.sock")));
        assert_eq!((cfg.port, cfg.window), (0, None));
    }

    #[test]
    fn the_stream_window_defaults_to_four_chunks_or_more() {
        let cfg = |args: &[&str]| run(&[&["--port", "1"], args].concat()).unwrap();
        assert_eq!(cfg(&[]).stream_window(), STREAM_WINDOW_MIN);
        assert_eq!(cfg(&["--size", "1m"]).stream_window(), 4 << 20);
        assert_eq!(
            cfg(&["--size", "1m", "--window", "3k"]).stream_window(),
            3072
        );
    }

    #[test]
    fn modes_round_trip() {
        for m in [Mode::PingPong, Mode::Stream, Mode::Churn, Mode::Proxy] {
            assert_eq!(Mode::parse(m.name()), Some(m));
        }
        assert_eq!(Mode::parse("PINGPONG"), None);
        assert!(run(&["--port", "1", "--mode", "udp"])
            .unwrap_err()
            .contains("unknown mode \"udp\""));
    }

    #[test]
    fn sizes_accept_binary_suffixes() {
        let size = |text| parse_size(text, "--size");
        assert_eq!(size("1").unwrap(), 1);
        assert_eq!(size("1k").unwrap(), 1024);
        assert_eq!(size("16KiB").unwrap(), 16384);
        assert_eq!(size("2M").unwrap(), 2 << 20);
        assert_eq!(size("64m").unwrap(), MAX_SIZE);
        assert!(size("65m").is_err());
        assert!(size("0").is_err());
        assert!(size("-1").is_err());
        assert!(size("k").is_err());
    }

    #[test]
    fn seconds_accept_suffixes_and_bounds() {
        assert_eq!(
            parse_seconds("1.5", "--duration", false).unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            parse_seconds("20ms", "--duration", false).unwrap(),
            Duration::from_millis(20)
        );
        assert_eq!(
            parse_seconds("0", "--warmup", true).unwrap(),
            Duration::ZERO
        );
        assert!(parse_seconds("0", "--duration", false).is_err());
        assert!(parse_seconds("-1", "--warmup", true).is_err());
        assert!(parse_seconds("3601", "--duration", false).is_err());
        assert!(parse_seconds("nan", "--duration", false).is_err());
        assert!(parse_seconds("inf", "--duration", false).is_err());
    }

    #[test]
    fn only_loopback_hosts_are_allowed() {
        assert_eq!(
            parse_host("localhost").unwrap(),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            parse_host("127.255.0.9").unwrap(),
            IpAddr::V4(Ipv4Addr::new(127, 255, 0, 9))
        );
        assert_eq!(parse_host("::1").unwrap(), IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(
            parse_host("[::1]").unwrap(),
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        );
        for bad in [
            "10.0.0.1",
            "192.168.1.1",
            "0.0.0.0",
            "128.0.0.1",
            "::",
            "8.8.8.8",
        ] {
            let err = parse_host(bad).unwrap_err();
            assert!(err.starts_with("refusing host"), "{bad}: {err}");
        }
        assert!(parse_host("example.com")
            .unwrap_err()
            .contains("not an IP address"));
    }

    #[test]
    fn usage_errors_are_reported() {
        let one_target = "one of --port and --unix is required";
        let cases: [(&[&str], &str); 9] = [
            (&[], one_target),
            (&["--port", "1", "--unix", "/tmp/s"], one_target),
            (
                &["--port", "1", "--window", "0"],
                "--window \"0\" must be 1 byte to 64 MiB (suffixes k, m)",
            ),
            (&["--port"], "--port needs a value"),
            (&["--port", "0"], "--port 0 is out of range 1..=65535"),
            (
                &["--port", "1", "--conns", "0"],
                "--conns 0 is out of range 1..=100000",
            ),
            (
                &["--port", "1", "--cpu", "1024"],
                "--cpu 1024 is out of range 0..=1023",
            ),
            (&["--port", "1", "--bogus"], "unknown option \"--bogus\""),
            (&["--port", "1", "--json=yes"], "--json takes no value"),
        ];
        for (args, message) in cases {
            assert_eq!(run(args).unwrap_err(), message, "{args:?}");
        }
        assert!(run(&["--port", "1", "--host", "10.1.2.3"])
            .unwrap_err()
            .starts_with("refusing host 10.1.2.3"));
    }

    #[test]
    fn help_wins() {
        assert_eq!(parse(["--help".to_string()]).unwrap(), Parsed::Help);
        assert_eq!(
            parse(["--port".to_string(), "1".to_string(), "-h".to_string()]).unwrap(),
            Parsed::Help
        );
    }
}
