//! The stack's timer structure: one deadline per connection slot. Near deadlines live
//! in a binary heap with lazy deletion; far ones (beyond the bucket the heap currently
//! covers) wait, unsorted, in coarse time buckets and move into the heap only when the
//! heap has nothing earlier. So 100,000 connections in TIME-WAIT (deadlines minutes or
//! hours out) cost one `Vec` push each and never deepen the heap that the busy
//! connections' delayed-ACK and retransmission timers churn through.
//!
//! The heap is lazy in both directions. Each slot with a near deadline has one
//! *representative* heap entry whose time is a lower bound of its deadline: moving a
//! deadline later (an RTO restart) or cancelling it touches no heap entry, and only a
//! deadline earlier than the representative pushes a new one. When a representative
//! that is only a lower bound reaches the top of the heap, it is replaced there by the
//! slot's real deadline (or dropped, when the slot has none). The earliest live
//! deadline is cached, so asking for it again costs one load until a change could
//! have moved it.
//!
//! Rescheduling is O(log n) in the near deadlines at worst and O(1) when the deadline
//! moves later; finding the next deadline is O(1) amortized; an idle connection with no
//! deadline costs nothing. Stale entries are skipped on pop, and each part is rebuilt
//! when its stale entries outnumber its live ones.

use crate::time::Instant;
use alloc::collections::{BTreeMap, BinaryHeap};
use alloc::vec::Vec;
use core::cmp::Reverse;

/// A far bucket spans `2^BUCKET_SHIFT` µs (about 16.8 s).
const BUCKET_SHIFT: u32 = 24;

/// The bucket of a deadline.
fn bucket(at: Instant) -> u64 {
    at.total_micros() >> BUCKET_SHIFT
}

/// One slot's timer state.
#[derive(Debug, Clone, Copy, Default)]
struct SlotTimer {
    /// The live deadline (the source of truth).
    deadline: Option<Instant>,
    /// Time of the slot's representative heap entry, when it has one: a lower bound
    /// of `deadline` whenever that is near. Heap entries of the slot with any other
    /// time are stale.
    rep: Option<Instant>,
}

/// Deadlines keyed by slot index.
#[derive(Debug, Default)]
pub struct TimerQueue {
    /// Each slot's deadline and representative, grown on demand.
    slots: Vec<SlotTimer>,
    /// Min-heap of `(time, key)`. Every live deadline in buckets `<= cursor` has its
    /// slot's representative here, at or before the deadline; entries that are not a
    /// representative are stale.
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Deadlines in buckets `> cursor`, by bucket, unsorted (stale entries allowed).
    /// Every live deadline in those buckets has at least one entry here.
    far: BTreeMap<u64, Vec<(Instant, usize)>>,
    /// Entries held in `far`, live or stale.
    far_entries: usize,
    /// Highest bucket whose deadlines go to the heap.
    cursor: u64,
    /// Number of `Some` deadlines.
    live: usize,
    /// Live deadlines in buckets `<= cursor` (those that belong in the heap).
    near_live: usize,
    /// The earliest live deadline, when `min_valid`.
    min: Option<Instant>,
    /// `min` is exact (no change since it was computed could have moved it).
    min_valid: bool,
}

impl TimerQueue {
    /// Extra stale entries tolerated in each part before a rebuild, so small queues
    /// never rebuild (both parts together stay within `2 * len() + 64`).
    const SLACK: usize = 32;

    /// An empty queue.
    pub fn new() -> TimerQueue {
        TimerQueue::default()
    }

    fn is_near(&self, at: Instant) -> bool {
        bucket(at) <= self.cursor
    }

    /// Set slot `key`'s deadline to `at`, replacing any earlier one.
    pub fn schedule(&mut self, key: usize, at: Instant) {
        if key >= self.slots.len() {
            self.grow(key);
        }
        let cursor = self.cursor;
        let slot = &mut self.slots[key];
        let old = slot.deadline;
        match old {
            // Already queued with exactly this deadline.
            Some(old) if old == at => return,
            Some(old) => {
                if bucket(old) <= cursor {
                    self.near_live -= 1;
                }
            }
            None => self.live += 1,
        }
        slot.deadline = Some(at);
        if self.min_valid {
            match self.min {
                Some(m) if at >= m => {
                    // This slot may have held the earliest deadline.
                    if old == Some(m) {
                        self.min_valid = false;
                    }
                }
                // The new deadline is the earliest: the cache stays exact.
                _ => self.min = Some(at),
            }
        }
        if bucket(at) <= cursor {
            self.near_live += 1;
            // A representative at or before `at` already bounds it: no push.
            if slot.rep.is_none_or(|e| e > at) {
                slot.rep = Some(at);
                self.heap.push(Reverse((at, key)));
            }
        } else {
            self.far.entry(bucket(at)).or_default().push((at, key));
            self.far_entries += 1;
        }
        self.maybe_rebuild();
    }

    /// Make room for slot `key`.
    #[cold]
    fn grow(&mut self, key: usize) {
        self.slots.resize(key + 1, SlotTimer::default());
    }

    /// Rebuild a part once its stale entries outnumber its live ones (plus some
    /// slack), so the queue never holds more than `2 * len() + 2 * SLACK` entries.
    #[inline]
    fn maybe_rebuild(&mut self) {
        if self.heap.len() > 2 * self.near_live + Self::SLACK {
            self.rebuild_heap();
        }
        if self.far_entries > 2 * (self.live - self.near_live) + Self::SLACK {
            self.rebuild_far();
        }
    }

    /// Keep one entry per live near deadline, at the deadline itself.
    #[cold]
    fn rebuild_heap(&mut self) {
        let mut entries = core::mem::take(&mut self.heap).into_vec();
        let cursor = self.cursor;
        let slots = &mut self.slots;
        entries.retain_mut(|Reverse((at, key))| {
            let s = &mut slots[*key];
            if s.rep != Some(*at) {
                return false;
            }
            match s.deadline {
                Some(d) if bucket(d) <= cursor => {
                    s.rep = Some(d);
                    *at = d;
                    true
                }
                _ => {
                    s.rep = None;
                    false
                }
            }
        });
        // A slot can have had two identical entries.
        entries.sort_unstable();
        entries.dedup();
        debug_assert_eq!(entries.len(), self.near_live);
        self.heap = BinaryHeap::from(entries);
    }

    /// Keep only far entries that match a live deadline, one per slot.
    #[cold]
    fn rebuild_far(&mut self) {
        let slots = &self.slots;
        let mut total = 0;
        self.far.retain(|_, v| {
            v.retain(|(at, key)| slots[*key].deadline == Some(*at));
            v.sort_unstable();
            v.dedup();
            total += v.len();
            !v.is_empty()
        });
        self.far_entries = total;
        debug_assert_eq!(total, self.live - self.near_live);
    }

    /// Remove slot `key`'s deadline.
    pub fn cancel(&mut self, key: usize) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        let Some(old) = slot.deadline.take() else {
            return;
        };
        self.live -= 1;
        if self.is_near(old) {
            self.near_live -= 1;
        }
        if self.min == Some(old) {
            self.min_valid = false;
        }
        if self.live == 0 {
            self.clear_entries();
        } else {
            self.maybe_rebuild();
        }
    }

    /// Nothing is live: every entry is stale. Drop them all at once.
    #[inline(never)]
    fn clear_entries(&mut self) {
        for Reverse((_, key)) in self.heap.drain() {
            self.slots[key].rep = None;
        }
        if self.far_entries > 0 {
            self.far.clear();
            self.far_entries = 0;
        }
        self.min = None;
        self.min_valid = true;
    }

    /// Slot `key`'s current deadline.
    pub fn deadline(&self, key: usize) -> Option<Instant> {
        self.slots.get(key).and_then(|s| s.deadline)
    }

    /// Move the earliest far bucket into the heap (which is empty). Returns false when
    /// there is none.
    #[cold]
    fn migrate(&mut self) -> bool {
        let Some((b, mut entries)) = self.far.pop_first() else {
            return false;
        };
        self.far_entries -= entries.len();
        self.cursor = b;
        let slots = &mut self.slots;
        entries.retain(|(at, key)| slots[*key].deadline == Some(*at));
        entries.sort_unstable();
        entries.dedup();
        for &(at, key) in &entries {
            slots[key].rep = Some(at);
        }
        // These live deadlines now belong to the heap.
        self.near_live += entries.len();
        self.heap.extend(entries.into_iter().map(Reverse));
        true
    }

    /// The earliest live deadline.
    #[inline]
    pub fn next_deadline(&mut self) -> Option<Instant> {
        if self.min_valid {
            return self.min;
        }
        let m = self.next_deadline_slow();
        self.min = m;
        self.min_valid = true;
        m
    }

    /// Settle the top of the heap until it is a live deadline: drop stale entries and
    /// representatives of cancelled deadlines, replace a representative that is only a
    /// lower bound by the deadline itself, and migrate far buckets when the heap runs
    /// dry.
    #[inline(never)]
    fn next_deadline_slow(&mut self) -> Option<Instant> {
        loop {
            while let Some(mut top) = self.heap.peek_mut() {
                let Reverse((at, key)) = *top;
                let s = &mut self.slots[key];
                if s.rep != Some(at) {
                    // Stale.
                    alloc::collections::binary_heap::PeekMut::pop(top);
                    continue;
                }
                match s.deadline {
                    Some(d) if d == at => return Some(at),
                    Some(d) if bucket(d) <= self.cursor => {
                        // A lower bound: the real deadline takes its place.
                        s.rep = Some(d);
                        *top = Reverse((d, key));
                    }
                    _ => {
                        // Cancelled, or moved to a far bucket (which holds it).
                        s.rep = None;
                        alloc::collections::binary_heap::PeekMut::pop(top);
                    }
                }
            }
            // Every far deadline is later than every near one: only an empty heap
            // needs the next bucket.
            if !self.migrate() {
                return None;
            }
        }
    }

    /// Remove and return a slot whose deadline is `<= now`, earliest first.
    pub fn pop_expired(&mut self, now: Instant) -> Option<usize> {
        let at = self.next_deadline()?;
        if at > now {
            return None;
        }
        // The cached minimum may not be on top of the heap yet (a far deadline not
        // migrated, a lower bound not fixed up): settle the top, which is then the
        // live representative of deadline `at`.
        let top = self.next_deadline_slow();
        debug_assert_eq!(top, Some(at));
        let Reverse((_, key)) = self.heap.pop()?;
        self.slots[key].rep = None;
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

    /// Entries held, live or stale, near and far (for memory accounting and tests).
    pub fn heap_entries(&self) -> usize {
        self.heap.len() + self.far_entries
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
            assert!(q.heap_entries() <= 2 * q.len() + 2 * TimerQueue::SLACK);
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

    #[test]
    fn far_deadlines_wait_in_buckets_and_come_back_in_order() {
        let mut q = TimerQueue::new();
        let hour = 3_600_000;
        // Far deadlines spread over many buckets, and near ones churning meanwhile.
        for k in 0..200u64 {
            q.schedule(k as usize, t(hour + (k * 7_919) % 1_000_000));
        }
        for i in 0..1_000u64 {
            q.schedule(500, t(i + 1));
            assert!(q.heap_entries() <= 2 * q.len() + 64);
        }
        assert_eq!(q.next_deadline(), Some(t(1_000)));
        assert_eq!(q.pop_expired(t(1_000)), Some(500));
        // A far deadline moved nearer, another cancelled.
        q.schedule(3, t(5_000));
        q.cancel(4);
        assert_eq!(q.pop_expired(t(5_000)), Some(3));
        let mut last = t(0);
        let mut n = 0;
        while let Some(k) = q.pop_expired(Instant::FAR_FUTURE) {
            let want = t(hour + (k as u64 * 7_919) % 1_000_000);
            assert!(want >= last, "out of order");
            last = want;
            n += 1;
        }
        assert_eq!(n, 198);
        assert!(q.is_empty());
        // A deadline earlier than the migrated buckets still comes out first.
        q.schedule(1, t(hour * 3));
        q.schedule(2, t(10));
        assert_eq!(q.next_deadline(), Some(t(10)));
    }

    #[test]
    fn later_reschedules_keep_one_entry_and_report_the_exact_deadline() {
        let mut q = TimerQueue::new();
        q.schedule(7, t(100));
        assert_eq!(q.next_deadline(), Some(t(100)));
        // RTO restarts: each moves the deadline later and pushes nothing.
        for i in 1..=50u64 {
            q.schedule(7, t(100 + i * 10));
        }
        assert_eq!(q.heap_entries(), 1);
        // The lower bound on top is replaced by the real deadline, never reported.
        assert_eq!(q.next_deadline(), Some(t(600)));
        assert_eq!(q.pop_expired(t(599)), None);
        q.schedule(3, t(300));
        assert_eq!(q.next_deadline(), Some(t(300)));
        // Cancelling the earliest uncovers the next one.
        q.cancel(3);
        assert_eq!(q.next_deadline(), Some(t(600)));
        // Earlier than its representative: a new entry, and it wins.
        q.schedule(7, t(50));
        assert_eq!(q.next_deadline(), Some(t(50)));
        assert_eq!(q.pop_expired(t(1_000)), Some(7));
        assert_eq!(q.pop_expired(t(1_000)), None);
        assert!(q.is_empty());
    }

    #[test]
    fn cancel_then_later_deadline_reuses_the_entry() {
        let mut q = TimerQueue::new();
        q.schedule(0, t(10));
        q.schedule(1, t(20));
        q.cancel(0);
        q.schedule(0, t(30));
        // The cancelled deadline's entry still bounds the new one: no push.
        assert_eq!(q.heap_entries(), 2);
        assert_eq!(q.pop_expired(t(25)), Some(1));
        assert_eq!(q.pop_expired(t(25)), None);
        assert_eq!(q.next_deadline(), Some(t(30)));
        assert_eq!(q.pop_expired(t(30)), Some(0));
    }
}
