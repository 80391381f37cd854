//! A descriptor a port owns and registers with the reactor while it
//! reads: what listening ports and datagram ports share.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use mio::Interest;
use pyo3::prelude::*;

use crate::py::reactor::{ReactorBase, Source};

pub struct Registration {
    /// `None` once closed.
    fd: Option<OwnedFd>,
    /// Set while registered with the poller.
    token: Option<usize>,
}

impl Registration {
    pub fn new(fd: OwnedFd) -> Self {
        Self {
            fd: Some(fd),
            token: None,
        }
    }

    /// The descriptor while open.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(AsFd::as_fd)
    }

    /// The descriptor while registered (reading).
    pub fn reading_fd(&self) -> Option<BorrowedFd<'_>> {
        self.token.and(self.fd())
    }

    pub fn is_reading(&self) -> bool {
        self.token.is_some()
    }

    /// The descriptor's number, or -1 once closed.
    pub fn fileno(&self) -> RawFd {
        self.fd.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    /// Registers the descriptor for reading as `source()`; returns whether
    /// it was registered now (not closed, not already reading).
    pub fn start(
        &mut self,
        reactor: &Bound<'_, ReactorBase>,
        source: impl FnOnce() -> Source,
    ) -> PyResult<bool> {
        let Some(fd) = self.fd.as_ref().map(AsRawFd::as_raw_fd) else {
            return Ok(false);
        };
        if self.token.is_some() {
            return Ok(false);
        }
        let token = reactor
            .borrow_mut()
            .add_source(fd, source(), Interest::READABLE)?;
        self.token = Some(token);
        Ok(true)
    }

    /// Stops reading; the descriptor stays open.
    pub fn stop(&mut self, reactor: &Bound<'_, ReactorBase>) {
        if let Some(token) = self.token.take() {
            let fd = self.fd.as_ref().map(AsRawFd::as_raw_fd);
            reactor.borrow_mut().remove_source(fd, token);
        }
    }

    /// Stops reading and closes the descriptor.
    pub fn close(&mut self, reactor: &Bound<'_, ReactorBase>) {
        self.stop(reactor);
        self.fd = None;
    }
}
