//! A stream's byte layer: what moves its bytes (today a socket; TLS and
//! pipes join as variants). The stream's semantics (queue, producers,
//! half-close, connectionLost) do not depend on it.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::core::{fd, sock};

pub enum Layer {
    /// A connected TCP socket.
    Socket(OwnedFd),
    /// A connected UNIX socket: descriptors may travel with the bytes
    /// (SCM_RIGHTS), so every read takes them.
    UnixSocket(OwnedFd),
}

impl Layer {
    /// The layer for a connected stream socket.
    pub fn for_socket(fd: OwnedFd) -> Self {
        if sock::is_unix(fd.as_fd()) {
            Layer::UnixSocket(fd)
        } else {
            Layer::Socket(fd)
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Layer::Socket(fd) | Layer::UnixSocket(fd) => fd.as_fd(),
        }
    }

    /// Whether reads and writes go straight to a descriptor: what gates
    /// the fast paths (reading into bytes objects, the relay).
    pub fn is_plain(&self) -> bool {
        true
    }

    /// One read into `buf`; descriptors that came with it go to `fds`.
    pub fn read(&self, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<usize> {
        match self {
            Layer::Socket(s) => fd::read(s.as_fd(), buf),
            Layer::UnixSocket(s) => {
                sock::recv_with_fds(s.as_fd(), &mut [IoSliceMut::new(buf)], fds)
            }
        }
    }

    /// One scatter read into `bufs`; descriptors go to `fds`.
    pub fn read_vectored(
        &self,
        bufs: &mut [IoSliceMut<'_>],
        fds: &mut Vec<OwnedFd>,
    ) -> io::Result<usize> {
        match self {
            Layer::Socket(s) => fd::read_vectored(s.as_fd(), bufs),
            Layer::UnixSocket(s) => sock::recv_with_fds(s.as_fd(), bufs, fds),
        }
    }

    pub fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        sock::send_vectored(self.fd(), bufs)
    }

    /// Sends `data` with the descriptor `passed` attached.
    pub fn write_with_fd(&self, data: &[u8], passed: std::os::fd::RawFd) -> io::Result<usize> {
        match self {
            Layer::UnixSocket(s) => sock::send_with_fd(s.as_fd(), data, passed),
            Layer::Socket(_) => Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP)),
        }
    }

    /// Ends the write direction (a FIN on a socket).
    pub fn shutdown_write(&self) -> io::Result<()> {
        sock::shutdown(self.fd(), libc::SHUT_WR)
    }

    /// The error a non-blocking connect ended with (0 for none).
    pub fn take_connect_error(&self) -> io::Result<i32> {
        sock::take_error(self.fd())
    }

    /// Closes: an orderly end, or a reset (`abortConnection`).
    pub fn close(self, orderly: bool) {
        // Errors here (a peer already gone) change nothing: the
        // descriptor is closed when `self` is dropped either way.
        if orderly {
            let _ = sock::shutdown(self.fd(), libc::SHUT_RDWR);
        } else {
            let _ = sock::set_linger_zero(self.fd());
        }
    }
}

/// The descriptors a read brought, if any. An empty list is forgotten
/// rather than dropped: it owns nothing, and its drop is an out-of-line
/// call on every read of every stream (18 instructions per 1 KiB echo
/// request, callgrind).
#[inline]
pub fn received(fds: Vec<OwnedFd>) -> Option<Vec<OwnedFd>> {
    if fds.is_empty() {
        std::mem::forget(fds);
        None
    } else {
        Some(fds)
    }
}
