//! The payload that is sent and checked on its way back.
//!
//! Byte `k` of a connection's stream is `(base + k) mod 251`. The period is
//! prime, so an echo that drops, repeats or reorders a run of bytes (unless
//! the run is a multiple of 251 long) or alters any byte shows up as a
//! mismatch. Sending and checking are both slices of one precomputed buffer,
//! so verification is a `memcmp` per read.

/// Length of the repeating pattern.
pub const PERIOD: u64 = 251;

/// A precomputed stretch of the pattern, long enough for any slice the
/// engine asks for.
pub struct Pattern {
    bytes: Vec<u8>,
    span: usize,
}

impl Pattern {
    /// A pattern from which slices of up to `span` bytes can be taken.
    pub fn new(span: usize) -> Self {
        let bytes = (0..span + PERIOD as usize)
            .map(|i| (i as u64 % PERIOD) as u8)
            .collect();
        Pattern { bytes, span }
    }

    /// Longest slice available from `slice`.
    pub fn span(&self) -> usize {
        self.span
    }

    /// The `len` bytes that start at stream offset `offset`.
    pub fn slice(&self, offset: u64, len: usize) -> &[u8] {
        assert!(len <= self.span, "slice of {len} > span {}", self.span);
        let start = (offset % PERIOD) as usize;
        &self.bytes[start..start + len]
    }

    /// Whether `data` is exactly what the stream holds at `offset`.
    pub fn matches(&self, offset: u64, data: &[u8]) -> bool {
        let mut off = offset;
        for chunk in data.chunks(self.span) {
            if chunk != self.slice(off, chunk.len()) {
                return false;
            }
            off += chunk.len() as u64;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_follow_the_stream_offset() {
        let p = Pattern::new(600);
        assert_eq!(p.slice(0, 3), &[0, 1, 2]);
        assert_eq!(p.slice(249, 4), &[249, 250, 0, 1]);
        assert_eq!(p.slice(251 * 7 + 5, 2), &[5, 6]);
        assert_eq!(p.slice(10, 600).len(), 600);
    }

    #[test]
    fn matches_accepts_the_true_stream_in_any_split() {
        let p = Pattern::new(16);
        let stream: Vec<u8> = (0..1000u64).map(|k| ((k + 3) % PERIOD) as u8).collect();
        for split in [1, 7, 16, 300, 1000] {
            let mut off = 3;
            for piece in stream.chunks(split) {
                assert!(p.matches(off, piece), "split {split} at {off}");
                off += piece.len() as u64;
            }
        }
    }

    #[test]
    fn matches_detects_corruption() {
        let p = Pattern::new(1024);
        let good = p.slice(40, 1024).to_vec();
        assert!(p.matches(40, &good));
        let mut flipped = good.clone();
        flipped[1023] ^= 1;
        assert!(!p.matches(40, &flipped));
        assert!(!p.matches(41, &good), "shifted by one byte");
        assert!(!p.matches(40 + 1024, &good), "stale previous message");
    }
}
