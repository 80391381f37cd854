//! A log-bucketed latency histogram in the style of `HdrHistogram`.
//!
//! Values below `2^SUB_BITS` get one bucket each and are exact. Above that,
//! every power-of-two range `[2^m, 2^(m+1))` is split into `2^(SUB_BITS-1)`
//! equal buckets, so a bucket is never wider than `1/2^(SUB_BITS-1)` of the
//! values it holds: with `SUB_BITS = 8` the relative error of any reported
//! value is below 0.8%. The whole `u64` range fits in 7424 counters, so
//! recording is an index computation and an increment, with no allocation.

/// Bits of precision; see the module documentation.
const SUB_BITS: u32 = 8;
const SUB: u64 = 1 << SUB_BITS;
const HALF: u64 = SUB / 2;
/// Number of buckets needed to cover every `u64`.
const BUCKETS: usize = ((64 - SUB_BITS as u64 + 1) * HALF + HALF) as usize;

/// Counts of recorded values, plus their exact minimum, maximum and sum.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    min: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

/// Bucket index holding `v`.
fn index_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let msb = v.ilog2();
    let shift = msb - SUB_BITS + 1;
    let mantissa = v >> shift;
    ((u64::from(shift) + 1) * HALF + (mantissa - HALF)) as usize
}

/// Smallest and largest value that land in bucket `idx`.
fn bounds_of(idx: usize) -> (u64, u64) {
    let idx = idx as u64;
    if idx < SUB {
        return (idx, idx);
    }
    let shift = idx / HALF - 1;
    let mantissa = idx % HALF + HALF;
    let low = mantissa << shift;
    (low, low + ((1u64 << shift) - 1))
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            min: u64::MAX,
            max: 0,
            sum: 0,
        }
    }

    /// Adds one observation.
    pub fn record(&mut self, v: u64) {
        self.counts[index_of(v)] += 1;
        self.total += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += u128::from(v);
    }

    /// Forgets every observation, keeping the allocation.
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.total = 0;
        self.min = u64::MAX;
        self.max = 0;
        self.sum = 0;
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Smallest observation, or 0 when empty.
    pub fn min(&self) -> u64 {
        if self.total == 0 {
            0
        } else {
            self.min
        }
    }

    /// Largest observation, or 0 when empty.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Arithmetic mean, or 0 when empty.
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The value at or below which `pct` percent of observations fall.
    ///
    /// Reports the top of the bucket that holds the observation of that rank
    /// (as `HdrHistogram` does), never more than the true maximum; 0 when empty.
    pub fn percentile(&self, pct: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let pct = pct.clamp(0.0, 100.0);
        // Decimal percentiles such as 99.9 are not exact in binary; the small
        // slack keeps 99.9% of 1000 at rank 999 rather than 1000.
        let rank = ((pct / 100.0) * self.total as f64 - 1e-7).ceil() as u64;
        let rank = rank.clamp(1, self.total);
        let mut seen = 0u64;
        for (idx, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (_, high) = bounds_of(idx);
                return high.min(self.max).max(self.min);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_count_covers_u64() {
        assert_eq!(BUCKETS, 7424);
        assert_eq!(index_of(u64::MAX), BUCKETS - 1);
        assert_eq!(bounds_of(BUCKETS - 1).1, u64::MAX);
    }

    #[test]
    fn small_values_are_exact() {
        for v in 0..SUB {
            assert_eq!(index_of(v), v as usize);
            assert_eq!(bounds_of(v as usize), (v, v));
        }
    }

    #[test]
    fn buckets_are_contiguous_and_ordered() {
        let mut expect_low = 0u64;
        for idx in 0..BUCKETS {
            let (low, high) = bounds_of(idx);
            assert_eq!(low, expect_low, "bucket {idx}");
            assert!(high >= low);
            assert_eq!(index_of(low), idx);
            assert_eq!(index_of(high), idx);
            expect_low = high.wrapping_add(1);
        }
        assert_eq!(expect_low, 0, "last bucket ends at u64::MAX");
    }

    #[test]
    fn first_log_buckets_have_known_bounds() {
        assert_eq!(index_of(256), 256);
        assert_eq!(bounds_of(256), (256, 257));
        assert_eq!(index_of(511), 383);
        assert_eq!(bounds_of(383), (510, 511));
        assert_eq!(index_of(512), 384);
        assert_eq!(bounds_of(384), (512, 515));
        assert_eq!(index_of(1_000_000), index_of(1_003_519));
        assert_eq!(bounds_of(index_of(1_000_000)), (999_424, 1_003_519));
    }

    #[test]
    fn relative_error_is_bounded() {
        let mut v = 1u64;
        while v < u64::MAX / 3 {
            for probe in [v, v + v / 3, v * 2 - 1] {
                let (low, high) = bounds_of(index_of(probe));
                assert!(low <= probe && probe <= high);
                let width = (high - low) as f64;
                assert!(width / (low.max(1) as f64) < 1.0 / 127.0, "{probe}");
            }
            v *= 2;
        }
    }

    #[test]
    fn empty_histogram_reports_zero() {
        let h = Histogram::new();
        assert_eq!(h.count(), 0);
        assert_eq!(h.percentile(50.0), 0);
        assert_eq!(h.min(), 0);
        assert_eq!(h.max(), 0);
        assert!(h.mean().abs() < f64::EPSILON);
    }

    #[test]
    fn exact_percentiles_for_small_values() {
        let mut h = Histogram::new();
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.percentile(50.0), 50);
        assert_eq!(h.percentile(99.0), 99);
        assert_eq!(h.percentile(99.9), 100);
        assert_eq!(h.percentile(100.0), 100);
        assert_eq!(h.percentile(0.0), 1);
        assert_eq!(h.min(), 1);
        assert_eq!(h.max(), 100);
        assert!((h.mean() - 50.5).abs() < 1e-9);
    }

    #[test]
    fn large_percentiles_within_bucket_precision() {
        let mut h = Histogram::new();
        for v in 1..=100_000u64 {
            h.record(v * 1000);
        }
        let p50 = h.percentile(50.0);
        assert!(
            (50_000_000..=50_000_000 + 50_000_000 / 127).contains(&p50),
            "{p50}"
        );
        let p99 = h.percentile(99.0);
        assert!(
            (99_000_000..=99_000_000 + 99_000_000 / 127).contains(&p99),
            "{p99}"
        );
        assert_eq!(h.percentile(100.0), 100_000_000);
        assert_eq!(h.max(), 100_000_000);
        assert_eq!(h.min(), 1000);
    }

    #[test]
    fn one_outlier_shows_only_in_the_tail() {
        let mut h = Histogram::new();
        for _ in 0..999 {
            h.record(100);
        }
        h.record(5_000_000);
        assert_eq!(h.percentile(50.0), 100);
        assert_eq!(h.percentile(99.0), 100);
        assert_eq!(h.percentile(99.9), 100);
        assert_eq!(h.percentile(99.95), 5_000_000);
    }

    #[test]
    fn clear_forgets_everything() {
        let mut h = Histogram::new();
        h.record(7);
        h.record(70_000);
        h.clear();
        assert_eq!(h.count(), 0);
        assert_eq!(h.percentile(99.0), 0);
        h.record(3);
        assert_eq!(h.percentile(50.0), 3);
        assert_eq!(h.min(), 3);
        assert_eq!(h.max(), 3);
    }
}
