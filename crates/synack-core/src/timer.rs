//! The stack's timer structure: one deadline per connection slot, a binary heap with
//! lazy deletion. Rescheduling is O(log n); finding the next deadline is O(1); an idle
//! connection with no deadline costs nothing. Stale heap entries are skipped on pop, and
//! the heap is rebuilt when stale entries outnumber live ones.

use crate::time::Instant;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Deadlines keyed by slot index.
#[derive(Debug, Default)]
pub struct TimerQueue {
    /// The live deadline of each slot (the source of truth), grown on demand.
    deadlines: Vec<Option<Instant>>,
    /// Min-heap of `(deadline, key)`; an entry is stale when it no longer equals the
    /// slot's live deadline. Every live deadline has at least one entry.
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Number of `Some` in `deadlines`.
    live: usize,
}

impl TimerQueue {
    /// Extra stale entries tolerated before a rebuild, so small queues never rebuild.
    const SLACK: usize = 64;

    /// An empty queue.
    pub fn new() -> TimerQueue {
        TimerQueue::default()
    }

    /// Set slot `key`'s deadline to `at`, replacing any earlier one.
    pub fn schedule(&mut self, key: usize, at: Instant) {
        if key >= self.deadlines.len() {
            self.deadlines.resize(key + 1, None);
        }
        match self.deadlines[key] {
            // Already in the heap with exactly this deadline.
            Some(old) if old == at => return,
            Some(_) => {}
            None => self.live += 1,
        }
        self.deadlines[key] = Some(at);
        self.heap.push(Reverse((at, key)));
        self.maybe_rebuild();
    }

    /// Rebuild once stale entries outnumber live ones (plus some slack), so the heap
    /// never holds more than `2 * len() + SLACK` entries.
    fn maybe_rebuild(&mut self) {
        if self.heap.len() > 2 * self.live + Self::SLACK {
            self.rebuild();
        }
    }

    /// Keep only entries that match a live deadline, one per slot.
    fn rebuild(&mut self) {
        let mut entries = core::mem::take(&mut self.heap).into_vec();
        let deadlines = &self.deadlines;
        entries.retain(|Reverse((at, key))| deadlines[*key] == Some(*at));
        // A cancelled-then-rescheduled slot can have two identical entries.
        entries.sort_unstable();
        entries.dedup();
        debug_assert_eq!(entries.len(), self.live);
        self.heap = BinaryHeap::from(entries);
    }

    /// Remove slot `key`'s deadline.
    pub fn cancel(&mut self, key: usize) {
        if let Some(slot) = self.deadlines.get_mut(key) {
            if slot.take().is_some() {
                self.live -= 1;
                if self.live == 0 {
                    // Nothing live: every entry is stale. Drop them all at once.
                    self.heap.clear();
                } else {
                    self.maybe_rebuild();
                }
            }
        }
    }

    /// Slot `key`'s current deadline.
    pub fn deadline(&self, key: usize) -> Option<Instant> {
        self.deadlines.get(key).copied().flatten()
    }

    fn is_live(&self, at: Instant, key: usize) -> bool {
        self.deadlines.get(key).copied().flatten() == Some(at)
    }

    /// The earliest live deadline.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, key))) = self.heap.peek() {
            if self.is_live(at, key) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Remove and return a slot whose deadline is `<= now`, earliest first.
    pub fn pop_expired(&mut self, now: Instant) -> Option<usize> {
        let at = self.next_deadline()?;
        if at > now {
            return None;
        }
        let Reverse((_, key)) = self.heap.pop()?;
        self.cancel(key);
        Some(key)
    }

    /// Number of live deadlines.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no deadline is set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap entries held, live or stale (for memory accounting and tests).
    pub fn heap_entries(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn empty() {
        let mut q = TimerQueue::new();
        assert!(q.is_empty());
        assert_eq!(q.next_deadline(), None);
        assert_eq!(q.pop_expired(Instant::FAR_FUTURE), None);
        assert_eq!(q.deadline(3), None);
        q.cancel(100); // unknown key: no-op
        assert!(q.is_empty());
    }

    #[test]
    fn pops_in_deadline_order() {
        let mut q = TimerQueue::new();
        q.schedule(5, t(30));
        q.schedule(1, t(10));
        q.schedule(9, t(20));
        assert_eq!(q.len(), 3);
        assert_eq!(q.next_deadline(), Some(t(10)));
        assert_eq!(q.pop_expired(t(5)), None);
        assert_eq!(q.pop_expired(t(25)), Some(1));
        assert_eq!(q.pop_expired(t(25)), Some(9));
        assert_eq!(q.pop_expired(t(25)), None);
        assert_eq!(q.deadline(5), Some(t(30)));
        assert_eq!(q.pop_expired(t(30)), Some(5));
        assert!(q.is_empty());
        assert_eq!(q.deadline(5), None);
    }

    #[test]
    fn reschedule_replaces() {
        let mut q = TimerQueue::new();
        q.schedule(0, t(10));
        q.schedule(0, t(50));
        assert_eq!(q.len(), 1);
        assert_eq!(q.next_deadline(), Some(t(50)));
        assert_eq!(q.pop_expired(t(20)), None);
        q.schedule(0, t(5));
        assert_eq!(q.next_deadline(), Some(t(5)));
        assert_eq!(q.pop_expired(t(100)), Some(0));
        assert_eq!(q.pop_expired(t(100)), None);
    }

    #[test]
    fn cancel_then_reschedule_same_deadline() {
        let mut q = TimerQueue::new();
        q.schedule(2, t(10));
        q.schedule(3, t(99));
        q.cancel(2);
        assert_eq!(q.next_deadline(), Some(t(99)));
        q.schedule(2, t(10));
        assert_eq!(q.pop_expired(t(10)), Some(2));
        // The duplicate entry is stale now and must not fire again.
        assert_eq!(q.pop_expired(t(50)), None);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn stale_entries_are_bounded() {
        let mut q = TimerQueue::new();
        q.schedule(1, t(1_000_000));
        for i in 0..10_000u64 {
            q.schedule(0, t(i + 1));
            assert!(q.heap_entries() <= 2 * q.len() + TimerQueue::SLACK);
        }
        assert_eq!(q.pop_expired(t(10_000)), Some(0));
        assert_eq!(q.pop_expired(t(10_000)), None);
        assert_eq!(q.next_deadline(), Some(t(1_000_000)));
    }

    #[test]
    fn cancel_all_frees_heap() {
        let mut q = TimerQueue::new();
        for k in 0..100 {
            q.schedule(k, t(k as u64));
        }
        for k in 0..100 {
            q.cancel(k);
        }
        assert_eq!(q.heap_entries(), 0);
        assert_eq!(q.next_deadline(), None);
    }
}
