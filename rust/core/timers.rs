//! A timer queue ordered by `(deadline, sequence)`.
//!
//! Cancelling is O(1): the entry leaves the slab and its heap node goes
//! stale, to be skipped when it reaches the top. Rescheduling is a cancel and
//! an insert. Stale nodes are compacted away when they outnumber live ones,
//! so memory stays proportional to the number of pending timers.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use slab::Slab;

/// Identifies one scheduled entry; stale once the entry fired or was removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerHandle {
    key: usize,
    seq: u64,
}

impl TimerHandle {
    /// The sequence number: later insertions have larger ones.
    pub fn seq(self) -> u64 {
        self.seq
    }
}

struct Entry<T> {
    deadline: u64,
    seq: u64,
    item: T,
}

/// Pending timers keyed by a monotonic deadline in nanoseconds.
pub struct TimerQueue<T> {
    heap: BinaryHeap<Reverse<(u64, u64, usize)>>,
    entries: Slab<Entry<T>>,
    next_seq: u64,
}

impl<T> Default for TimerQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> TimerQueue<T> {
    pub fn new() -> Self {
        Self {
            heap: BinaryHeap::new(),
            entries: Slab::new(),
            next_seq: 0,
        }
    }

    /// Number of live (not yet fired or removed) timers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The sequence number the next insertion will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn insert(&mut self, deadline: u64, item: T) -> TimerHandle {
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = self.entries.insert(Entry {
            deadline,
            seq,
            item,
        });
        self.heap.push(Reverse((deadline, seq, key)));
        TimerHandle { key, seq }
    }

    /// Removes a live entry and returns its item; `None` if it already left.
    pub fn remove(&mut self, handle: TimerHandle) -> Option<T> {
        match self.entries.get(handle.key) {
            Some(e) if e.seq == handle.seq => {}
            _ => return None,
        }
        let item = self.entries.remove(handle.key).item;
        self.maybe_compact();
        Some(item)
    }

    /// Whether the handle still names a pending entry.
    pub fn contains(&self, handle: TimerHandle) -> bool {
        matches!(self.entries.get(handle.key), Some(e) if e.seq == handle.seq)
    }

    fn is_live(&self, seq: u64, key: usize) -> bool {
        matches!(self.entries.get(key), Some(e) if e.seq == seq)
    }

    fn drop_stale_top(&mut self) {
        while let Some(&Reverse((_, seq, key))) = self.heap.peek() {
            if self.is_live(seq, key) {
                return;
            }
            self.heap.pop();
        }
    }

    /// The earliest live deadline.
    pub fn next_deadline(&mut self) -> Option<u64> {
        self.drop_stale_top();
        self.heap.peek().map(|Reverse((d, _, _))| *d)
    }

    /// Pops the earliest entry if it is due at `now` and was inserted before
    /// sequence `seq_limit` (entries added while a batch runs wait for the
    /// next turn).
    pub fn pop_due(&mut self, now: u64, seq_limit: u64) -> Option<T> {
        self.drop_stale_top();
        let &Reverse((deadline, seq, key)) = self.heap.peek()?;
        if deadline > now || seq >= seq_limit {
            return None;
        }
        self.heap.pop();
        Some(self.entries.remove(key).item)
    }

    /// Live items in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().map(|(_, e)| &e.item)
    }

    /// Removes every entry.
    pub fn drain_all(&mut self) -> Vec<T> {
        self.heap.clear();
        self.entries.drain().map(|e| e.item).collect()
    }

    fn maybe_compact(&mut self) {
        if self.heap.len() > 1024 && self.heap.len() > 2 * self.entries.len() {
            self.heap = self
                .entries
                .iter()
                .map(|(k, e)| Reverse((e.deadline, e.seq, k)))
                .collect();
        }
    }

    /// Heap nodes held, live and stale (for tests of the compaction bound).
    pub fn heap_nodes(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut TimerQueue<u32>, now: u64) -> Vec<u32> {
        let limit = q.next_seq();
        let mut out = Vec::new();
        while let Some(v) = q.pop_due(now, limit) {
            out.push(v);
        }
        out
    }

    #[test]
    fn fires_in_deadline_then_insertion_order() {
        let mut q = TimerQueue::new();
        q.insert(30, 1);
        q.insert(10, 2);
        q.insert(10, 3);
        q.insert(20, 4);
        assert_eq!(drain(&mut q, 25), vec![2, 3, 4]);
        assert_eq!(q.len(), 1);
        assert_eq!(q.next_deadline(), Some(30));
    }

    #[test]
    fn removed_entries_never_fire() {
        let mut q = TimerQueue::new();
        let a = q.insert(5, 1);
        q.insert(5, 2);
        assert_eq!(q.remove(a), Some(1));
        assert_eq!(q.remove(a), None);
        assert!(!q.contains(a));
        assert_eq!(drain(&mut q, 100), vec![2]);
        assert!(q.is_empty());
    }

    #[test]
    fn reused_slot_does_not_revive_stale_node() {
        let mut q = TimerQueue::new();
        let a = q.insert(5, 1);
        q.remove(a);
        let b = q.insert(50, 2);
        assert_eq!(drain(&mut q, 10), Vec::<u32>::new());
        assert!(q.contains(b));
        assert_eq!(q.next_deadline(), Some(50));
    }

    #[test]
    fn entries_added_during_a_batch_wait() {
        let mut q = TimerQueue::new();
        q.insert(0, 1);
        let limit = q.next_seq();
        q.insert(0, 2);
        assert_eq!(q.pop_due(0, limit), Some(1));
        assert_eq!(q.pop_due(0, limit), None);
        assert_eq!(q.pop_due(0, q.next_seq()), Some(2));
    }

    #[test]
    fn compaction_bounds_stale_nodes() {
        let mut q = TimerQueue::new();
        let hs: Vec<_> = (0..10_000).map(|i| q.insert(i, i as u32)).collect();
        for h in &hs[..9_000] {
            q.remove(*h);
        }
        assert_eq!(q.len(), 1_000);
        assert!(q.heap_nodes() <= 2 * 1_000 + 1024, "{}", q.heap_nodes());
        assert_eq!(drain(&mut q, u64::MAX).len(), 1_000);
    }

    #[test]
    fn a_million_pending_timers() {
        let mut q = TimerQueue::new();
        for i in 0..1_000_000u64 {
            q.insert((i * 7919) % 1_000_003, 0u32);
        }
        assert_eq!(q.len(), 1_000_000);
        let limit = q.next_seq();
        let mut last = 0;
        let mut n = 0;
        while let Some(d) = q.next_deadline() {
            assert!(d >= last);
            last = d;
            q.pop_due(u64::MAX, limit);
            n += 1;
        }
        assert_eq!(n, 1_000_000);
    }
}
