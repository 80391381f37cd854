//! IReactorFDSet for Python objects (`addReader`/`addWriter`), with
//! Twisted's level-triggered contract, on the core's LevelSet.
//!
//! What happens when `doRead`/`doWrite` returns a reason or raises follows
//! Twisted's `_doReadOrWrite`; that policy lives in the Python hooks
//! (`doReadOrWrite`), since this path is not the hot one.

use std::collections::HashMap;
use std::os::fd::RawFd;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::PyTraverseError;

use crate::core::fdset::{LevelSet, Readiness};
use crate::py::dispatch::{os_error, Dispatching};
use crate::py::reactor::ReactorBase;

struct Member {
    obj: Py<PyAny>,
    read: bool,
    write: bool,
}

pub struct FdReaders {
    set: LevelSet,
    members: HashMap<RawFd, Member>,
    /// The last check found ready descriptors: poll again without sleeping.
    pub pending: bool,
    scratch: Vec<Readiness>,
}

impl FdReaders {
    pub fn new() -> std::io::Result<Self> {
        Ok(Self {
            set: LevelSet::new()?,
            members: HashMap::new(),
            pending: false,
            scratch: Vec::new(),
        })
    }

    pub fn epoll_fd(&self) -> RawFd {
        self.set.fd()
    }

    /// Adds interest for `obj` on `fd` (None leaves a direction as it is).
    pub fn set(
        &mut self,
        obj: &Bound<'_, PyAny>,
        fd: RawFd,
        read: Option<bool>,
        write: Option<bool>,
    ) -> PyResult<()> {
        let (was, old_read, old_write) = match self.members.get(&fd) {
            Some(m) => (true, m.read, m.write),
            None => (false, false, false),
        };
        let new_read = read.unwrap_or(old_read);
        let new_write = write.unwrap_or(old_write);
        if was && new_read == old_read && new_write == old_write {
            return Ok(());
        }
        self.set
            .set_interest(fd, was, new_read, new_write)
            .map_err(os_error)?;
        self.members.insert(
            fd,
            Member {
                obj: obj.clone().unbind(),
                read: new_read,
                write: new_write,
            },
        );
        Ok(())
    }

    /// Removes one direction of interest for `obj`.
    pub fn remove_interest(
        &mut self,
        obj: &Bound<'_, PyAny>,
        fd: Option<RawFd>,
        read: bool,
        write: bool,
    ) -> PyResult<()> {
        let fd = match fd {
            Some(fd) if fd >= 0 => fd,
            // The object lost its descriptor: find it by identity.
            _ => match self
                .members
                .iter()
                .find(|(_, m)| m.obj.bind(obj.py()).is(obj))
            {
                Some((fd, _)) => *fd,
                None => return Ok(()),
            },
        };
        let Some(m) = self.members.get_mut(&fd) else {
            return Ok(());
        };
        let new_read = m.read && !read;
        let new_write = m.write && !write;
        if new_read == m.read && new_write == m.write {
            return Ok(());
        }
        self.set
            .set_interest(fd, true, new_read, new_write)
            .map_err(os_error)?;
        if new_read || new_write {
            m.read = new_read;
            m.write = new_write;
        } else {
            self.members.remove(&fd);
        }
        Ok(())
    }

    pub fn readers(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        self.members
            .values()
            .filter(|m| m.read)
            .map(|m| m.obj.clone_ref(py))
            .collect()
    }

    pub fn writers(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        self.members
            .values()
            .filter(|m| m.write)
            .map(|m| m.obj.clone_ref(py))
            .collect()
    }

    pub fn remove_all(&mut self) -> PyResult<Vec<Py<PyAny>>> {
        let members: Vec<(RawFd, Member)> = self.members.drain().collect();
        let mut out = Vec::with_capacity(members.len());
        for (fd, m) in members {
            self.set
                .set_interest(fd, true, false, false)
                .map_err(os_error)?;
            out.push(m.obj);
        }
        self.pending = false;
        Ok(out)
    }

    pub fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), PyTraverseError> {
        for m in self.members.values() {
            visit.call(&m.obj)?;
        }
        Ok(())
    }
}

/// The descriptor of `obj`, or None if it has none (-1 or an error).
pub fn fileno_of(slf: &Bound<'_, ReactorBase>, obj: &Bound<'_, PyAny>) -> Option<RawFd> {
    obj.call_method0(intern!(slf.py(), "fileno"))
        .and_then(|v| v.extract::<RawFd>())
        .ok()
}

/// Calls doRead/doWrite on every ready descriptor.
pub fn dispatch(py: Python<'_>, slf: &Bound<'_, ReactorBase>) {
    let ready = {
        let mut r = slf.borrow_mut();
        let mut scratch = std::mem::take(&mut r.fds.scratch);
        if let Err(e) = r.fds.set.ready(&mut scratch) {
            drop(r);
            slf.borrow().hooks().report(
                py,
                os_error(e),
                Some("epoll_wait on the descriptor set failed"),
            );
            return;
        }
        r.fds.pending = !scratch.is_empty();
        scratch
    };
    let hooks = slf.borrow().hooks();
    let handler = match slf.getattr(intern!(py, "_doReadOrWrite")) {
        Ok(h) => h,
        Err(e) => {
            hooks.report(py, e, None);
            return;
        }
    };
    for ev in &ready {
        let member = {
            let r = slf.borrow();
            r.fds
                .members
                .get(&ev.fd)
                .map(|m| (m.obj.clone_ref(py), m.read, m.write))
        };
        let Some((obj, read, write)) = member else {
            continue;
        };
        let readable = ev.readable && read;
        let writable = ev.writable && write;
        if !(readable || writable || ev.hangup) {
            continue;
        }
        let obj = obj.into_bound(py);
        let _context = Dispatching::enter(&obj);
        if let Err(e) = handler.call1((&obj, ev.fd, readable, writable, ev.hangup, read)) {
            hooks.report(py, e, None);
        }
    }
    slf.borrow_mut().fds.scratch = ready;
}
