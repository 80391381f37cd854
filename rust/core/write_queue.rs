//! The per-connection send queue.
//!
//! Buffers are queued as the caller gave them (for Python, the bytes
//! object itself), never copied, and flushed with vectored sends.

use std::collections::VecDeque;
use std::io::{self, IoSlice};

/// Most buffers handed to one vectored send.
pub const MAX_IOVECS: usize = 64;

/// Queued buffers plus how far into the first one has been sent.
pub struct WriteQueue<B> {
    bufs: VecDeque<B>,
    head_offset: usize,
    len: usize,
}

impl<B: AsRef<[u8]>> Default for WriteQueue<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: AsRef<[u8]>> WriteQueue<B> {
    pub fn new() -> Self {
        Self {
            bufs: VecDeque::new(),
            head_offset: 0,
            len: 0,
        }
    }

    /// Bytes queued and not yet sent.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues a buffer; empty buffers are ignored.
    pub fn push(&mut self, buf: B) {
        let n = buf.as_ref().len();
        if n == 0 {
            return;
        }
        self.len += n;
        self.bufs.push_back(buf);
    }

    /// Drops everything queued.
    pub fn clear(&mut self) {
        self.bufs.clear();
        self.head_offset = 0;
        self.len = 0;
    }

    /// Copies the first queued bytes into `out` (as many as fit, or as are
    /// queued); returns how many were copied.
    pub fn copy_front(&self, out: &mut [u8]) -> usize {
        let mut copied = 0;
        let mut offset = self.head_offset;
        for buf in &self.bufs {
            if copied == out.len() {
                break;
            }
            let from = &buf.as_ref()[offset..];
            let n = from.len().min(out.len() - copied);
            out[copied..copied + n].copy_from_slice(&from[..n]);
            copied += n;
            offset = 0;
        }
        copied
    }

    /// Marks `n` bytes from the front as sent.
    pub fn consume(&mut self, n: usize) {
        self.consume_into(n, drop);
    }

    /// Marks `n` bytes from the front as sent, handing each buffer sent in
    /// full to `sent` (so that its owner can reuse it).
    #[inline]
    pub fn consume_into(&mut self, mut n: usize, mut sent: impl FnMut(B)) {
        assert!(n <= self.len, "consumed more than queued");
        self.len -= n;
        while n > 0 {
            let front_left = self.bufs[0].as_ref().len() - self.head_offset;
            if n >= front_left {
                n -= front_left;
                if let Some(buf) = self.bufs.pop_front() {
                    sent(buf);
                }
                self.head_offset = 0;
            } else {
                self.head_offset += n;
                n = 0;
            }
        }
    }

    /// Fills `out` with slices of the front of the queue; returns how many.
    pub fn slices<'a>(&'a self, out: &mut [IoSlice<'a>]) -> usize {
        let mut count = 0;
        for (i, buf) in self.bufs.iter().enumerate() {
            if count == out.len() {
                break;
            }
            let bytes = buf.as_ref();
            let bytes = if i == 0 {
                &bytes[self.head_offset..]
            } else {
                bytes
            };
            out[count] = IoSlice::new(bytes);
            count += 1;
        }
        count
    }

    /// Sends with `send` until the queue is empty or `send` would block.
    /// Returns the bytes sent; an error other than `WouldBlock` is returned
    /// only if nothing was sent in this call.
    pub fn flush_with<F>(&mut self, send: F) -> io::Result<usize>
    where
        F: FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
    {
        self.flush_into(send, drop)
    }

    /// `flush_with`, handing each buffer sent in full to `sent`.
    pub fn flush_into<F>(&mut self, mut send: F, mut released: impl FnMut(B)) -> io::Result<usize>
    where
        F: FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
    {
        let mut total = 0;
        while !self.is_empty() {
            let n_sent = {
                let result = if self.bufs.len() == 1 {
                    // One buffer (a reply written in one piece): spares
                    // filling the whole iovec array.
                    send(&[IoSlice::new(&self.bufs[0].as_ref()[self.head_offset..])])
                } else {
                    let mut iov = [IoSlice::new(&[]); MAX_IOVECS];
                    let n = self.slices(&mut iov);
                    send(&iov[..n])
                };
                match result {
                    Ok(sent) => sent,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        if total > 0 {
                            break;
                        }
                        return Err(e);
                    }
                }
            };
            if n_sent == 0 {
                break;
            }
            self.consume_into(n_sent, &mut released);
            total += n_sent;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(q: &WriteQueue<Vec<u8>>) -> Vec<u8> {
        let mut iov = [IoSlice::new(&[]); MAX_IOVECS];
        let n = q.slices(&mut iov);
        iov[..n].iter().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn copy_front_reads_across_buffers_from_the_offset() {
        let mut q = WriteQueue::new();
        q.push(b"abc".to_vec());
        q.push(b"de".to_vec());
        q.consume(2);
        let mut out = [0u8; 2];
        assert_eq!(q.copy_front(&mut out), 2);
        assert_eq!(&out, b"cd");
        let mut out = [0u8; 8];
        assert_eq!(q.copy_front(&mut out), 3);
        assert_eq!(&out[..3], b"cde");
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn partial_sends_keep_order() {
        let mut q = WriteQueue::new();
        q.push(b"hello ".to_vec());
        q.push(Vec::new());
        q.push(b"world".to_vec());
        assert_eq!(q.len(), 11);
        let mut out = Vec::new();
        // A sink that takes at most 3 bytes per call, then blocks after 2 calls.
        let mut calls = 0;
        let sent = q
            .flush_with(|iov| {
                calls += 1;
                if calls > 2 {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                let mut n = 0;
                for s in iov {
                    for &b in s.iter() {
                        if n == 3 {
                            return Ok(n);
                        }
                        out.push(b);
                        n += 1;
                    }
                }
                Ok(n)
            })
            .unwrap();
        assert_eq!(sent, 6);
        assert_eq!(out, b"hello ");
        assert_eq!(collect(&q), b"world");
        q.consume(2);
        assert_eq!(collect(&q), b"rld");
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn hard_error_with_nothing_sent_is_reported() {
        let mut q = WriteQueue::new();
        q.push(b"x".to_vec());
        let err = q
            .flush_with(|_| Err(io::ErrorKind::BrokenPipe.into()))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(q.len(), 1);
        q.clear();
        assert!(q.is_empty());
    }

    #[test]
    fn more_buffers_than_iovecs() {
        let mut q = WriteQueue::new();
        for i in 0..200u8 {
            q.push(vec![i]);
        }
        let mut out = Vec::new();
        q.flush_with(|iov| {
            assert!(iov.len() <= MAX_IOVECS);
            let n: usize = iov.iter().map(|s| s.len()).sum();
            for s in iov {
                out.extend_from_slice(s);
            }
            Ok(n)
        })
        .unwrap();
        assert_eq!(out, (0..200u8).collect::<Vec<_>>());
        assert!(q.is_empty());
    }
}
