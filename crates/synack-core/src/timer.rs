//! The stack's timer structure: one deadline per connection slot, a binary heap with
//! lazy deletion. Rescheduling is O(log n); finding the next deadline is O(1); an idle
//! connection with no deadline costs nothing. Stale heap entries are skipped on pop, and
//! the heap is rebuilt when stale entries outnumber live ones.

use crate::time::Instant;

/// Deadlines keyed by slot index.
#[derive(Debug, Default)]
pub struct TimerQueue {
    _todo: (),
}

impl TimerQueue {
    /// An empty queue.
    pub fn new() -> TimerQueue {
        todo!("TimerQueue::new")
    }
    /// Set slot `key`'s deadline to `at`, replacing any earlier one.
    pub fn schedule(&mut self, key: usize, at: Instant) {
        let _ = (key, at);
        todo!()
    }
    /// Remove slot `key`'s deadline.
    pub fn cancel(&mut self, key: usize) {
        let _ = key;
        todo!()
    }
    /// Slot `key`'s current deadline.
    pub fn deadline(&self, key: usize) -> Option<Instant> {
        let _ = key;
        todo!()
    }
    /// The earliest live deadline.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        todo!()
    }
    /// Remove and return a slot whose deadline is `<= now`, earliest first.
    pub fn pop_expired(&mut self, now: Instant) -> Option<usize> {
        let _ = now;
        todo!()
    }
    /// Number of live deadlines.
    pub fn len(&self) -> usize {
        todo!()
    }
    /// True when no deadline is set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
