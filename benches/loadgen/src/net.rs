//! The two kinds of target, a TCP address or a UNIX stream socket path,
//! and one connected-socket type over both, so that every mode runs on
//! either.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcp};
use std::os::unix::net::UnixStream as StdUnix;
use std::path::PathBuf;
use std::time::Duration;

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};

/// Where the connections go.
#[derive(Clone, Debug)]
pub enum Target {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp(addr) => write!(f, "{addr}"),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl Target {
    /// Connects, blocking for at most `timeout` (a UNIX connect completes
    /// or fails at once), then makes the socket non-blocking with Nagle off.
    pub fn connect_within(&self, timeout: Duration) -> io::Result<Sock> {
        match self {
            Target::Tcp(addr) => {
                let std = StdTcp::connect_timeout(addr, timeout)?;
                std.set_nodelay(true)?;
                std.set_nonblocking(true)?;
                Ok(Sock::Tcp(TcpStream::from_std(std)))
            }
            Target::Unix(path) => {
                let std = StdUnix::connect(path)?;
                std.set_nonblocking(true)?;
                Ok(Sock::Unix(UnixStream::from_std(std)))
            }
        }
    }

    /// Starts a non-blocking connect; see `Sock::connected`.
    pub fn connect(&self) -> io::Result<Sock> {
        match self {
            Target::Tcp(addr) => TcpStream::connect(*addr).map(Sock::Tcp),
            Target::Unix(path) => UnixStream::connect(path).map(Sock::Unix),
        }
    }
}

/// A connected (or connecting) non-blocking socket.
pub enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Sock {
    /// The pending socket error, if any (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Sock::Tcp(s) => s.take_error(),
            Sock::Unix(s) => s.take_error(),
        }
    }

    /// Whether a non-blocking connect has completed; on completion a TCP
    /// socket gets Nagle turned off.
    pub fn connected(&self) -> io::Result<bool> {
        let peer = match self {
            Sock::Tcp(s) => s.peer_addr().map(drop),
            Sock::Unix(s) => s.peer_addr().map(drop),
        };
        match peer {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotConnected => return Ok(false),
            Err(e) => return Err(e),
        }
        if let Sock::Tcp(s) = self {
            s.set_nodelay(true)?;
        }
        Ok(true)
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(buf),
            Sock::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(buf),
            Sock::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for Sock {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.register(r, t, i),
            Sock::Unix(s) => s.register(r, t, i),
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.reregister(r, t, i),
            Sock::Unix(s) => s.reregister(r, t, i),
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.deregister(r),
            Sock::Unix(s) => s.deregister(r),
        }
    }
}
