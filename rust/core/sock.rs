//! Socket calls and socket addresses: what only a socket can do (sends
//! that must not raise SIGPIPE, shutdown, options, addresses, passing
//! descriptors). Plain reads and writes are in fd.rs.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::core::fd::{cvt, cvt_size, retry};

/// A socket's address: an internet one, or a UNIX socket's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SockAddr {
    Inet(SocketAddr),
    Unix(UnixName),
}

/// A UNIX socket's name (see unix(7)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnixName {
    /// A path in the file system (its bytes, without the terminating NUL).
    Path(Vec<u8>),
    /// A Linux abstract name: the bytes after the leading NUL.
    Abstract(Vec<u8>),
    /// A socket that was never bound (a connecting client's side).
    Unnamed,
}

fn sockaddr_to_addr(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SockAddr> {
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: ss_family says the storage holds a sockaddr_in, and
            // sockaddr_storage is large and aligned enough for it.
            let sin = unsafe { &*std::ptr::from_ref(storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SockAddr::Inet(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            ))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &*std::ptr::from_ref(storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SockAddr::Inet(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                u32::from_be(sin6.sin6_flowinfo),
                sin6.sin6_scope_id,
            ))))
        }
        libc::AF_UNIX => {
            // SAFETY: as above, for sockaddr_un.
            let sun = unsafe { &*std::ptr::from_ref(storage).cast::<libc::sockaddr_un>() };
            Some(SockAddr::Unix(unix_name(sun, len)))
        }
        _ => None,
    }
}

/// The name in a sockaddr_un of `len` bytes, as unix(7) defines it.
fn unix_name(sun: &libc::sockaddr_un, len: libc::socklen_t) -> UnixName {
    let offset = mem::offset_of!(libc::sockaddr_un, sun_path);
    let name_len = (len as usize)
        .saturating_sub(offset)
        .min(sun.sun_path.len());
    let name: Vec<u8> = sun.sun_path[..name_len].iter().map(|&c| c as u8).collect();
    match name.split_first() {
        None => UnixName::Unnamed,
        Some((0, rest)) => UnixName::Abstract(rest.to_vec()),
        Some(_) => {
            // A path ends at its first NUL, whatever length was reported.
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            UnixName::Path(name[..end].to_vec())
        }
    }
}

/// `addr` as the kernel takes it: a sockaddr_in or sockaddr_in6 in
/// storage, and its length.
fn inet_to_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is valid, and both sockaddr_in
    // and sockaddr_in6 fit in it with its alignment.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: storage is large and aligned enough for a sockaddr_in.
            let sin = unsafe { &mut *std::ptr::from_mut(&mut storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for a sockaddr_in6.
            let sin6 =
                unsafe { &mut *std::ptr::from_mut(&mut storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_flowinfo = a.flowinfo().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// Receives one datagram into `buf` (`recvfrom(2)`): its length, cut to
/// `buf.len()` when it was longer (the rest is discarded, as the kernel
/// does), and where it came from.
pub fn recv_from(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Option<SockAddr>)> {
    // SAFETY: an all-zero sockaddr_storage is a valid output buffer.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let n = retry(|| {
        len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `buf` is writable for its length, and storage/len
        // describe a writable address buffer of the stated size.
        cvt_size(unsafe {
            libc::recvfrom(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                std::ptr::from_mut(&mut storage).cast(),
                &raw mut len,
            )
        })
    })?;
    Ok((n, sockaddr_to_addr(&storage, len)))
}

/// Datagrams one `recv_many` call takes at most.
pub const RECV_MANY_MAX: usize = 16;

/// Receives up to `RECV_MANY_MAX` datagrams with one `recvmmsg(2)`, the
/// i-th into the i-th `size`-byte slot of `buf` (cut to `size` when it was
/// longer, as `recv_from` does), appending each one's length and source to
/// `got`. As many slots as fit in `buf` are used (at least one when `size`
/// is 0). Returns how many datagrams came.
pub fn recv_many(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    size: usize,
    got: &mut Vec<(usize, Option<SockAddr>)>,
) -> io::Result<usize> {
    let slots = buf
        .len()
        .checked_div(size)
        .map_or(1, |fit| fit.min(RECV_MANY_MAX));
    if slots == 0 {
        return Ok(0);
    }
    // SAFETY: all-zero sockaddr_storage, iovec and mmsghdr values are
    // valid (empty buffers, no name, no control data).
    let (mut names, mut iovs, mut msgs) = unsafe {
        (
            mem::zeroed::<[libc::sockaddr_storage; RECV_MANY_MAX]>(),
            mem::zeroed::<[libc::iovec; RECV_MANY_MAX]>(),
            mem::zeroed::<[libc::mmsghdr; RECV_MANY_MAX]>(),
        )
    };
    let base = buf.as_mut_ptr();
    for (i, ((msg, iov), name)) in msgs
        .iter_mut()
        .zip(iovs.iter_mut())
        .zip(names.iter_mut())
        .take(slots)
        .enumerate()
    {
        iov.iov_base = base.wrapping_add(i * size).cast();
        iov.iov_len = size;
        msg.msg_hdr.msg_name = std::ptr::from_mut(name).cast();
        msg.msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_hdr.msg_iov = std::ptr::from_mut(iov);
        msg.msg_hdr.msg_iovlen = 1;
    }
    let n = retry(|| {
        // SAFETY: the first `slots` headers point at their own name buffer
        // and at one iovec each; the iovecs cover disjoint `size`-byte
        // slots inside `buf` (slots * size <= buf.len()). All of it
        // outlives the call, and the kernel writes only within them.
        cvt(unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                slots as libc::c_uint,
                0,
                std::ptr::null_mut(),
            )
        })
    })? as usize;
    for (msg, name) in msgs.iter().zip(names.iter()).take(n) {
        got.push((
            msg.msg_len as usize,
            sockaddr_to_addr(name, msg.msg_hdr.msg_namelen),
        ));
    }
    Ok(n)
}

/// Sends one datagram: to `addr`, or to the connected peer when `None`.
pub fn send_to(fd: BorrowedFd<'_>, data: &[u8], addr: Option<&SocketAddr>) -> io::Result<usize> {
    let target = addr.map(inet_to_sockaddr);
    let (ptr, len) = match &target {
        Some((storage, len)) => (std::ptr::from_ref(storage).cast::<libc::sockaddr>(), *len),
        None => (std::ptr::null(), 0),
    };
    retry(|| {
        // SAFETY: `data` is readable for its length; `ptr` is null with a
        // zero length, or points at an address of `len` bytes that lives
        // until the call returns.
        cvt_size(unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                data.as_ptr().cast(),
                data.len(),
                libc::MSG_NOSIGNAL,
                ptr,
                len,
            )
        })
    })
}

/// `connect(2)` of a datagram socket: sets its default destination and
/// filters what it receives (it never blocks).
pub fn connect_datagram(fd: BorrowedFd<'_>, addr: &SocketAddr) -> io::Result<()> {
    let (storage, len) = inet_to_sockaddr(addr);
    retry(|| {
        // SAFETY: storage holds an address of `len` bytes for the call.
        cvt(unsafe { libc::connect(fd.as_raw_fd(), std::ptr::from_ref(&storage).cast(), len) })
    })
    .map(|_| ())
}

/// Accepts one connection as a non-blocking, close-on-exec descriptor,
/// with the peer's address when its family is known.
pub fn accept(fd: BorrowedFd<'_>) -> io::Result<(OwnedFd, Option<SockAddr>)> {
    loop {
        // SAFETY: zeroed sockaddr_storage is a valid output buffer.
        let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
        let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: storage/len describe a writable buffer of the stated size.
        let ret = unsafe {
            libc::accept4(
                fd.as_raw_fd(),
                std::ptr::from_mut(&mut storage).cast(),
                &raw mut len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        match cvt(ret) {
            Ok(new_fd) => {
                // SAFETY: a new descriptor that nothing else owns.
                let owned = unsafe { OwnedFd::from_raw_fd(new_fd) };
                return Ok((owned, sockaddr_to_addr(&storage, len)));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // The peer gave up before we accepted: try the next one.
            Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {}
            Err(e) => return Err(e),
        }
    }
}

fn name_of(
    fd: BorrowedFd<'_>,
    getter: unsafe extern "C" fn(
        libc::c_int,
        *mut libc::sockaddr,
        *mut libc::socklen_t,
    ) -> libc::c_int,
) -> io::Result<Option<SockAddr>> {
    // SAFETY: zeroed sockaddr_storage is a valid output buffer.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: storage/len describe a writable buffer of the stated size, and
    // `getter` is getsockname or getpeername.
    cvt(unsafe {
        getter(
            fd.as_raw_fd(),
            std::ptr::from_mut(&mut storage).cast(),
            &raw mut len,
        )
    })?;
    Ok(sockaddr_to_addr(&storage, len))
}

/// The local address of a socket.
pub fn local_addr(fd: BorrowedFd<'_>) -> io::Result<Option<SockAddr>> {
    name_of(fd, libc::getsockname)
}

/// The remote address of a connected socket.
pub fn peer_addr(fd: BorrowedFd<'_>) -> io::Result<Option<SockAddr>> {
    name_of(fd, libc::getpeername)
}

/// Vectored send with MSG_NOSIGNAL, so a closed peer is an EPIPE error
/// rather than a SIGPIPE.
pub fn send_vectored(fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    if let [one] = bufs {
        // One buffer (most replies): send(2) spares the kernel copying in
        // a msghdr and an iovec; 1-2% more echo-1k requests per server
        // CPU-second in 8 interleaved rounds.
        return retry(|| {
            // SAFETY: `one` is a valid buffer for the length given, and
            // the kernel only reads from it.
            cvt_size(unsafe {
                libc::send(
                    fd.as_raw_fd(),
                    one.as_ptr().cast(),
                    one.len(),
                    libc::MSG_NOSIGNAL,
                )
            })
        });
    }
    // SAFETY: an all-zero msghdr is a valid "no address, no control data"
    // header; only the iovec fields are filled in.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    // IoSlice is guaranteed ABI-compatible with `struct iovec` on Unix.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len() as _;
    // SAFETY: `msg` points at `bufs`, which outlives the call; the kernel
    // only reads from the iovecs.
    retry(|| cvt_size(unsafe { libc::sendmsg(fd.as_raw_fd(), &raw const msg, libc::MSG_NOSIGNAL) }))
}

/// Room for the control message of one descriptor.
const ONE_FD_SPACE: usize = 24;
/// Descriptors one read can bring (the kernel's SCM_MAX_FD is 253).
const MAX_FDS_PER_READ: usize = 253;

/// Control-message buffer, aligned as `struct cmsghdr` needs.
#[repr(C, align(8))]
struct CmsgBuf<const N: usize>([u8; N]);

/// Sends `data` (at least one byte) with the descriptor `passed` attached
/// (SCM_RIGHTS): the receiver gets a duplicate of it along with the first
/// byte. Returns how many bytes were sent.
pub fn send_with_fd(fd: BorrowedFd<'_>, data: &[u8], passed: RawFd) -> io::Result<usize> {
    let mut space = CmsgBuf([0u8; ONE_FD_SPACE]);
    let iov = [IoSlice::new(data)];
    // SAFETY: an all-zero msghdr is valid; the fields set below point at
    // `iov` and `space`, which outlive the call.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = 1;
    msg.msg_control = space.0.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE only computes a size.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(mem::size_of::<RawFd>() as u32) } as _;
    debug_assert!(msg.msg_controllen as usize <= ONE_FD_SPACE);
    // SAFETY: the control buffer is large enough for one header and one
    // descriptor (checked above), and aligned for cmsghdr; CMSG_FIRSTHDR
    // and CMSG_DATA point inside it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), passed);
    }
    // SAFETY: `msg` describes valid buffers; the kernel only reads them.
    retry(|| cvt_size(unsafe { libc::sendmsg(fd.as_raw_fd(), &raw const msg, libc::MSG_NOSIGNAL) }))
}

/// A scatter read (`recvmsg`) into `bufs` that also takes the descriptors
/// sent along (SCM_RIGHTS, close-on-exec), appending them to `fds`.
pub fn recv_with_fds(
    fd: BorrowedFd<'_>,
    bufs: &mut [IoSliceMut<'_>],
    fds: &mut Vec<OwnedFd>,
) -> io::Result<usize> {
    let mut space = CmsgBuf([0u8; 16 + MAX_FDS_PER_READ * 4 + 8]);
    // SAFETY: an all-zero msghdr is valid; the fields set below point at
    // `bufs` and `space`, which outlive the call.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = bufs.as_mut_ptr().cast::<libc::iovec>();
    msg.msg_iovlen = bufs.len() as _;
    msg.msg_control = space.0.as_mut_ptr().cast();
    msg.msg_controllen = space.0.len() as _;
    let n = retry(|| {
        // SAFETY: the kernel writes at most the iovecs' lengths into them
        // and at most msg_controllen bytes of control data.
        cvt_size(unsafe { libc::recvmsg(fd.as_raw_fd(), &raw mut msg, libc::MSG_CMSG_CLOEXEC) })
    })?;
    // SAFETY: the kernel filled the control buffer and set msg_controllen;
    // CMSG_FIRSTHDR/CMSG_NXTHDR walk only inside it, and each SCM_RIGHTS
    // message holds (cmsg_len - CMSG_LEN(0)) / 4 descriptors, now ours.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg);
                let size = mem::size_of::<RawFd>();
                let count = ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / size;
                for i in 0..count {
                    let mut raw = [0u8; mem::size_of::<RawFd>()];
                    std::ptr::copy_nonoverlapping(data.add(i * size), raw.as_mut_ptr(), size);
                    fds.push(OwnedFd::from_raw_fd(RawFd::from_ne_bytes(raw)));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&raw const msg, cmsg);
        }
    }
    Ok(n)
}

/// `shutdown(2)`; errors (e.g. already disconnected) are returned.
pub fn shutdown(fd: BorrowedFd<'_>, how: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall on a descriptor we borrow.
    cvt(unsafe { libc::shutdown(fd.as_raw_fd(), how) }).map(|_| ())
}

fn getsockopt_int(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value/len describe a writable c_int.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            std::ptr::from_mut(&mut value).cast(),
            &raw mut len,
        )
    })?;
    Ok(value)
}

fn setsockopt_raw<T>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` is a valid readable T of the size passed.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            std::ptr::from_ref(value).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

/// Reads and clears the pending socket error (SO_ERROR); 0 when none.
pub fn take_error(fd: BorrowedFd<'_>) -> io::Result<i32> {
    getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_ERROR)
}

pub fn get_bool_opt(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> io::Result<bool> {
    getsockopt_int(fd, level, name).map(|v| v != 0)
}

pub fn set_bool_opt(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    on: bool,
) -> io::Result<()> {
    setsockopt_raw(fd, level, name, &libc::c_int::from(on))
}

/// Makes the next `close` send a reset instead of an orderly FIN.
pub fn set_linger_zero(fd: BorrowedFd<'_>) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    setsockopt_raw(fd, libc::SOL_SOCKET, libc::SO_LINGER, &linger)
}

/// Whether `fd` is a UNIX-domain socket.
pub fn is_unix(fd: BorrowedFd<'_>) -> bool {
    getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_DOMAIN).is_ok_and(|d| d == libc::AF_UNIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fd;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsFd;
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{UnixListener, UnixStream};

    fn until_ready<T>(mut f: impl FnMut() -> io::Result<T>) -> T {
        loop {
            match f() {
                Ok(v) => return v,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn accept_send_recv_roundtrip() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).unwrap();
        let (fd, peer) = until_ready(|| accept(listener.as_fd()));
        let client_addr = SockAddr::Inet(client.local_addr().unwrap());
        assert_eq!(peer.as_ref(), Some(&client_addr));
        assert_eq!(local_addr(fd.as_fd()).unwrap(), Some(SockAddr::Inet(addr)));
        assert_eq!(peer_addr(fd.as_fd()).unwrap(), Some(client_addr));
        assert!(!is_unix(fd.as_fd()));
        let sent = send_vectored(fd.as_fd(), &[IoSlice::new(b"ab"), IoSlice::new(b"cd")]).unwrap();
        assert_eq!(sent, 4);
        let mut got = [0u8; 4];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"abcd");
        // One buffer goes through send(2) rather than sendmsg(2).
        assert_eq!(
            send_vectored(fd.as_fd(), &[IoSlice::new(b"efg")]).unwrap(),
            3
        );
        let mut got = [0u8; 3];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"efg");
        client.write_all(b"xyz").unwrap();
        let mut buf = [0u8; 16];
        let n = until_ready(|| fd::read(fd.as_fd(), &mut buf));
        assert_eq!(&buf[..n], b"xyz");
        set_bool_opt(fd.as_fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY, true).unwrap();
        assert!(get_bool_opt(fd.as_fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY).unwrap());
        assert_eq!(take_error(fd.as_fd()).unwrap(), 0);
        drop(client);
        assert_eq!(until_ready(|| fd::read(fd.as_fd(), &mut buf)), 0);
    }

    #[test]
    fn datagrams_travel_with_their_source_and_are_cut_to_the_buffer() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        b.set_nonblocking(true).unwrap();
        let a_addr = a.local_addr().unwrap();
        let b_addr = b.local_addr().unwrap();
        assert_eq!(send_to(a.as_fd(), b"hello", Some(&b_addr)).unwrap(), 5);
        assert_eq!(
            send_to(a.as_fd(), b"0123456789", Some(&b_addr)).unwrap(),
            10
        );
        let mut buf = [0u8; 4];
        let (n, from) = until_ready(|| recv_from(b.as_fd(), &mut buf));
        assert_eq!(
            (&buf[..n], from),
            (&b"hell"[..], Some(SockAddr::Inet(a_addr)))
        );
        let (n, _) = until_ready(|| recv_from(b.as_fd(), &mut buf));
        assert_eq!(&buf[..n], b"0123");
        let err = recv_from(b.as_fd(), &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        // Without an address on an unconnected socket: no destination.
        let err = send_to(a.as_fd(), b"x", None).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EDESTADDRREQ));
    }

    #[test]
    fn many_datagrams_in_one_call_each_in_its_slot() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        b.set_nonblocking(true).unwrap();
        let b_addr = b.local_addr().unwrap();
        let from = Some(SockAddr::Inet(a.local_addr().unwrap()));
        for data in [&b"a"[..], b"bcdefgh", b"", b"ij"] {
            send_to(a.as_fd(), data, Some(&b_addr)).unwrap();
        }
        // Three 4-byte slots: the first call takes three datagrams.
        let mut buf = [0u8; 14];
        let mut got = Vec::new();
        let n = until_ready(|| recv_many(b.as_fd(), &mut buf, 4, &mut got));
        assert_eq!(n, 3);
        assert_eq!(
            got,
            vec![(1, from.clone()), (4, from.clone()), (0, from.clone())]
        );
        assert_eq!((&buf[..1], &buf[4..8]), (&b"a"[..], &b"bcde"[..]));
        got.clear();
        assert_eq!(recv_many(b.as_fd(), &mut buf, 4, &mut got).unwrap(), 1);
        assert_eq!((got[0].0, &buf[..2]), (2, &b"ij"[..]));
        let err = recv_many(b.as_fd(), &mut buf, 4, &mut got).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        // A zero-byte slot still takes one datagram (cut to nothing).
        send_to(a.as_fd(), b"zz", Some(&b_addr)).unwrap();
        got.clear();
        let n = until_ready(|| recv_many(b.as_fd(), &mut [], 0, &mut got));
        assert_eq!((n, got), (1, vec![(0, from)]));
    }

    #[test]
    fn connected_datagram_socket_learns_of_a_refusal() {
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let gone = closed.local_addr().unwrap();
        drop(closed);
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_nonblocking(true).unwrap();
        connect_datagram(s.as_fd(), &gone).unwrap();
        assert_eq!(send_to(s.as_fd(), b"ping", None).unwrap(), 4);
        let mut buf = [0u8; 8];
        let mut result = recv_from(s.as_fd(), &mut buf);
        for _ in 0..100 {
            if !matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
            result = recv_from(s.as_fd(), &mut buf);
        }
        assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ECONNREFUSED));
    }

    #[test]
    fn ipv6_datagram_roundtrip() {
        let Ok(a) = std::net::UdpSocket::bind("[::1]:0") else {
            return;
        };
        let b = std::net::UdpSocket::bind("[::1]:0").unwrap();
        b.set_nonblocking(true).unwrap();
        let b_addr = b.local_addr().unwrap();
        send_to(a.as_fd(), b"six", Some(&b_addr)).unwrap();
        let mut buf = [0u8; 8];
        let (n, from) = until_ready(|| recv_from(b.as_fd(), &mut buf));
        assert_eq!(&buf[..n], b"six");
        assert_eq!(from, Some(SockAddr::Inet(a.local_addr().unwrap())));
    }

    #[test]
    fn send_to_reset_peer_is_an_error_not_a_signal() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        set_linger_zero(server.as_fd()).unwrap();
        drop(server);
        let mut result = Ok(0);
        for _ in 0..100 {
            result = send_vectored(client.as_fd(), &[IoSlice::new(&[0u8; 1024])]);
            if result.is_err() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let err = result.unwrap_err();
        assert!(
            matches!(err.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)),
            "{err}"
        );
    }

    #[test]
    fn unix_names_path_abstract_and_unnamed() {
        let dir = std::env::temp_dir().join(format!("torsion-sock-{}", std::process::id()));
        let _ = std::fs::create_dir(&dir);
        let path = dir.join("s");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let client = UnixStream::connect(&path).unwrap();
        let (server, peer) = until_ready(|| accept(listener.as_fd()));
        let path_bytes = path.as_os_str().as_encoded_bytes().to_vec();
        assert_eq!(peer, Some(SockAddr::Unix(UnixName::Unnamed)));
        assert_eq!(
            local_addr(server.as_fd()).unwrap(),
            Some(SockAddr::Unix(UnixName::Path(path_bytes.clone())))
        );
        assert_eq!(
            peer_addr(client.as_fd()).unwrap(),
            Some(SockAddr::Unix(UnixName::Path(path_bytes)))
        );
        assert_eq!(
            local_addr(client.as_fd()).unwrap(),
            Some(SockAddr::Unix(UnixName::Unnamed))
        );
        assert!(is_unix(server.as_fd()));
        std::fs::remove_file(&path).unwrap();
        let _ = std::fs::remove_dir(&dir);

        let name = format!("torsion-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let abstract_listener = UnixListener::bind_addr(&addr).unwrap();
        assert_eq!(
            local_addr(abstract_listener.as_fd()).unwrap(),
            Some(SockAddr::Unix(UnixName::Abstract(name.into_bytes())))
        );
    }

    #[test]
    fn descriptors_travel_with_their_byte_in_order() {
        let (sender, receiver) = UnixStream::pair().unwrap();
        receiver.set_nonblocking(true).unwrap();
        let (passed_end, mut kept_end) = UnixStream::pair().unwrap();
        let sent = send_with_fd(sender.as_fd(), b"x", passed_end.as_raw_fd()).unwrap();
        assert_eq!(sent, 1);
        assert_eq!(
            send_vectored(sender.as_fd(), &[IoSlice::new(b"yz")]).unwrap(),
            2
        );
        let mut buf = [0u8; 8];
        let mut fds = Vec::new();
        let len =
            recv_with_fds(receiver.as_fd(), &mut [IoSliceMut::new(&mut buf)], &mut fds).unwrap();
        // The descriptor's byte ends the read it arrives with.
        assert_eq!(&buf[..len], b"x");
        assert_eq!(fds.len(), 1);
        let len =
            recv_with_fds(receiver.as_fd(), &mut [IoSliceMut::new(&mut buf)], &mut fds).unwrap();
        assert_eq!(&buf[..len], b"yz");
        assert_eq!(fds.len(), 1);
        // The received descriptor is the other end's duplicate.
        kept_end.write_all(b"through").unwrap();
        let mut got = [0u8; 7];
        let mut passed = UnixStream::from(fds.pop().unwrap());
        passed.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"through");
    }
}
