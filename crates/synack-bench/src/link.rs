//! The in-memory link both stacks are measured over: two FIFO packet queues (one per
//! direction) and a pool of reusable packet buffers, so moving a packet never allocates
//! once the pool is warm. The same link type carries synack's and smoltcp's packets,
//! so neither stack pays a different harness cost. Buffers are as large as the
//! largest packet the link carries (like a NIC's receive ring), so packets in flight
//! sit close together in memory rather than 64 KiB apart.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

/// Largest IP packet either stack may write (64 KiB payload plus headers), rounded up.
pub(crate) const MAX_PACKET: usize = 65535 + 256;

/// One packet in flight: a pooled buffer and the length used.
#[derive(Debug)]
pub(crate) struct Pkt {
    pub(crate) buf: Box<[u8]>,
    pub(crate) len: usize,
}

impl Pkt {
    /// The packet's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Reusable packet buffers of one size (at most [`MAX_PACKET`] bytes).
#[derive(Debug, Default)]
pub(crate) struct Pool {
    /// Bytes per buffer.
    size: usize,
    free: RefCell<Vec<Box<[u8]>>>,
    sent: Cell<u64>,
    received: Cell<u64>,
    buffers: Cell<usize>,
}

impl Pool {
    /// A buffer of the pool's size (reused when one is free).
    pub(crate) fn take(&self) -> Box<[u8]> {
        self.free.borrow_mut().pop().unwrap_or_else(|| {
            self.buffers.set(self.buffers.get() + 1);
            vec![0u8; self.size].into_boxed_slice()
        })
    }

    /// Heap bytes the pool has allocated (its buffers are never freed while it lives).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.buffers.get() * self.size
    }

    /// Count a packet put on the link.
    pub(crate) fn count_sent(&self) {
        self.sent.set(self.sent.get() + 1);
    }

    /// Count a packet taken off the link.
    pub(crate) fn count_received(&self) {
        self.received.set(self.received.get() + 1);
    }

    /// Packets put on or taken off the link so far.
    pub(crate) fn moved(&self) -> u64 {
        self.sent.get() + self.received.get()
    }

    /// Give a buffer back.
    pub(crate) fn give(&self, buf: Box<[u8]>) {
        self.free.borrow_mut().push(buf);
    }
}

/// A perfect point-to-point link between side A and side B.
#[derive(Debug, Default)]
pub(crate) struct Link {
    /// Packets travelling towards A.
    pub(crate) to_a: VecDeque<Pkt>,
    /// Packets travelling towards B.
    pub(crate) to_b: VecDeque<Pkt>,
    /// Buffer pool shared by both directions (and the packet counters).
    pub(crate) pool: Pool,
}

impl Link {
    /// A link whose packets are at most `packet_size` bytes (capped at [`MAX_PACKET`]).
    pub(crate) fn new(packet_size: usize) -> Link {
        Link {
            pool: Pool {
                size: packet_size.min(MAX_PACKET),
                ..Pool::default()
            },
            ..Link::default()
        }
    }

    /// Packets waiting in either direction.
    pub(crate) fn in_flight(&self) -> usize {
        self.to_a.len() + self.to_b.len()
    }
}
