//! Reads and writes on any descriptor: a socket, a pipe, a terminal.
//!
//! Every call retries on EINTR and reports WouldBlock as an error of that
//! kind, as the standard library does. Descriptors are borrowed: closing
//! is done by dropping the `OwnedFd` that owns them.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

pub(crate) fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// Runs `call` until it is not interrupted by a signal.
pub(crate) fn retry<T>(mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// `read(2)` into `buf`. `Ok(0)` means end of stream.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    retry(|| {
        // SAFETY: `buf` is a writable region of `buf.len()` bytes for the
        // duration of the call; the kernel writes at most that many.
        cvt_size(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
    })
}

/// `readv(2)`: a scatter read into `bufs`, in order.
pub fn read_vectored(fd: BorrowedFd<'_>, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    retry(|| {
        // SAFETY: IoSliceMut is ABI-compatible with `struct iovec` on Unix;
        // each points at a writable region that outlives the call, and the
        // kernel writes at most the sum of their lengths.
        cvt_size(unsafe {
            libc::readv(
                fd.as_raw_fd(),
                bufs.as_ptr().cast::<libc::iovec>(),
                bufs.len() as libc::c_int,
            )
        })
    })
}

/// `writev(2)` of `bufs` (`write(2)` for one buffer).
pub fn write_vectored(fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    retry(|| {
        let ret = if let [one] = bufs {
            // SAFETY: `one` is readable for its length; the kernel only
            // reads from it.
            unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), one.len()) }
        } else {
            // SAFETY: IoSlice is ABI-compatible with `struct iovec`; the
            // buffers outlive the call and are only read.
            unsafe {
                libc::writev(
                    fd.as_raw_fd(),
                    bufs.as_ptr().cast::<libc::iovec>(),
                    bufs.len() as libc::c_int,
                )
            }
        };
        cvt_size(ret)
    })
}

/// Takes ownership of a descriptor handed over by Python (which gave its
/// own object up with `detach()`), after checking that it is open: an
/// `OwnedFd` must never wrap a number that is not ours.
pub fn adopt(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // SAFETY: the descriptor is open (checked above) and the caller gives
    // us its only ownership.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens `/dev/null` read-only: the descriptor a listening port keeps in
/// reserve so that it can still accept (and close) a connection when the
/// process has run out of descriptors.
pub fn open_reserve() -> io::Result<OwnedFd> {
    // SAFETY: the path is a NUL-terminated literal.
    let fd = cvt(unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) })?;
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Closes a raw descriptor the caller owns and will not use again.
pub fn close_raw(fd: RawFd) {
    // SAFETY: the caller owns `fd` and gives it up here; EINTR on Linux
    // still releases the descriptor, so there is nothing to retry.
    unsafe {
        libc::close(fd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 returns.
        cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) }).unwrap();
        // SAFETY: two new descriptors that nothing else owns.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    #[test]
    fn pipe_roundtrip_vectored_and_eof() {
        let (reader, writer) = pipe();
        let sent = write_vectored(writer.as_fd(), &[IoSlice::new(b"ab"), IoSlice::new(b"cde")]);
        assert_eq!(sent.unwrap(), 5);
        assert_eq!(
            write_vectored(writer.as_fd(), &[IoSlice::new(b"f")]).unwrap(),
            1
        );
        let (mut first, mut second) = ([0u8; 4], [0u8; 4]);
        let got = read_vectored(
            reader.as_fd(),
            &mut [IoSliceMut::new(&mut first), IoSliceMut::new(&mut second)],
        )
        .unwrap();
        assert_eq!(got, 6);
        assert_eq!((&first, &second[..2]), (b"abcd", &b"ef"[..]));
        let err = read(reader.as_fd(), &mut first).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        drop(writer);
        assert_eq!(read(reader.as_fd(), &mut first).unwrap(), 0);
    }

    #[test]
    fn adopt_refuses_a_number_that_is_not_open() {
        // (Far above any descriptor a test opens: tests run in parallel
        // threads, and a number just closed could be reused by another.)
        let err = adopt(1 << 20).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
        let (r, _w) = pipe();
        drop(adopt(std::os::fd::IntoRawFd::into_raw_fd(r)).unwrap());
    }
}
