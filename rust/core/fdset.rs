//! A level-triggered descriptor set for `addReader`/`addWriter`.
//!
//! mio is edge-triggered; Twisted's IReactorFDSet contract is level-triggered
//! (`doRead` is called again on every turn while the descriptor stays
//! readable). This is a second, level-triggered epoll instance; its own
//! descriptor is registered in the main poller, so that it wakes the loop
//! when any member becomes ready.

use std::io;
use std::os::fd::RawFd;

/// Readiness reported for one descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub fd: RawFd,
    pub readable: bool,
    pub writable: bool,
    /// Hang-up or error without readable data.
    pub hangup: bool,
}

/// A level-triggered epoll set.
pub struct LevelSet {
    epfd: RawFd,
    members: usize,
}

impl LevelSet {
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the result is checked below.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epfd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { epfd, members: 0 })
    }

    /// The epoll descriptor itself, to be watched by the main poller.
    pub fn fd(&self) -> RawFd {
        self.epfd
    }

    pub fn is_empty(&self) -> bool {
        self.members == 0
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, read: bool, write: bool) -> io::Result<()> {
        let mut events = 0u32;
        if read {
            events |= (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
        }
        if write {
            events |= libc::EPOLLOUT as u32;
        }
        let mut ev = libc::epoll_event {
            events,
            u64: fd as u64,
        };
        // SAFETY: `ev` is a valid epoll_event for the call's duration.
        let ret = unsafe { libc::epoll_ctl(self.epfd, op, fd, &raw mut ev) };
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Sets the interest for `fd`: adds, modifies or removes it.
    /// `was_member` says whether `fd` is currently in the set.
    pub fn set_interest(
        &mut self,
        fd: RawFd,
        was_member: bool,
        read: bool,
        write: bool,
    ) -> io::Result<()> {
        match (was_member, read || write) {
            (false, false) => Ok(()),
            (false, true) => {
                self.ctl(libc::EPOLL_CTL_ADD, fd, read, write)?;
                self.members += 1;
                Ok(())
            }
            (true, true) => self.ctl(libc::EPOLL_CTL_MOD, fd, read, write),
            (true, false) => {
                self.members -= 1;
                // A descriptor closed behind our back has already left the
                // set (EBADF/ENOENT): that is the outcome we wanted.
                match self.ctl(libc::EPOLL_CTL_DEL, fd, false, false) {
                    Err(e) if matches!(e.raw_os_error(), Some(libc::EBADF | libc::ENOENT)) => {
                        Ok(())
                    }
                    other => other,
                }
            }
        }
    }

    /// Collects what is ready now, without waiting.
    pub fn ready(&self, out: &mut Vec<Readiness>) -> io::Result<()> {
        out.clear();
        if self.members == 0 {
            return Ok(());
        }
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 256];
        // SAFETY: `events` is a writable array of the length passed.
        let n = unsafe { libc::epoll_wait(self.epfd, events.as_mut_ptr(), events.len() as i32, 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(e);
        }
        for ev in &events[..n as usize] {
            let bits = ev.events;
            let readable = bits & (libc::EPOLLIN as u32) != 0;
            let hangup = !readable && bits & ((libc::EPOLLHUP | libc::EPOLLERR) as u32) != 0;
            out.push(Readiness {
                fd: ev.u64 as RawFd,
                readable: readable || bits & (libc::EPOLLRDHUP as u32) != 0,
                writable: bits & (libc::EPOLLOUT as u32) != 0,
                hangup,
            });
        }
        Ok(())
    }
}

impl Drop for LevelSet {
    fn drop(&mut self) {
        crate::core::fd::close_raw(self.epfd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn stays_readable_until_drained() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut set = LevelSet::new().unwrap();
        set.set_interest(b.as_raw_fd(), false, true, false).unwrap();
        let mut out = Vec::new();
        set.ready(&mut out).unwrap();
        assert!(out.is_empty());
        a.write_all(b"x").unwrap();
        for _ in 0..3 {
            set.ready(&mut out).unwrap();
            assert_eq!(out.len(), 1);
            assert!(out[0].readable);
            assert_eq!(out[0].fd, b.as_raw_fd());
        }
        set.set_interest(b.as_raw_fd(), true, false, false).unwrap();
        assert!(set.is_empty());
        set.ready(&mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn writable_reported_each_time() {
        let (_a, b) = UnixStream::pair().unwrap();
        let mut set = LevelSet::new().unwrap();
        set.set_interest(b.as_raw_fd(), false, false, true).unwrap();
        let mut out = Vec::new();
        set.ready(&mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert!(out[0].writable && !out[0].readable);
        set.ready(&mut out).unwrap();
        assert_eq!(out.len(), 1);
    }
}
