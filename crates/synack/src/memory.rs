//! The in-memory device pair: two [`MemoryDevice`]s connected back to back, so two
//! [`NetStack`](crate::NetStack)s in one process can talk (tests, examples, benchmarks).
//!
//! Each direction is a bounded queue of packets. A packet sent while the peer's queue is
//! full is dropped (tail drop, like a real link) and counted; TCP recovers.

use crate::device::{Device, PacketBatch};
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Notify;

/// Default number of packets a direction holds before it drops.
pub const DEFAULT_QUEUE_PACKETS: usize = 65_536;

#[derive(Debug)]
struct Queue {
    packets: Mutex<VecDeque<Vec<u8>>>,
    /// Wakes the reader; `notify_one` keeps a permit when the reader is not waiting,
    /// so a packet pushed between its check and its wait is not missed.
    ready: Notify,
    capacity: usize,
    dropped: AtomicU64,
    delivered: AtomicU64,
}

impl Queue {
    fn new(capacity: usize) -> Arc<Queue> {
        Arc::new(Queue {
            packets: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            capacity: capacity.max(1),
            dropped: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
        })
    }
}

/// One end of an in-memory link. Create both ends with [`MemoryDevice::pair`].
#[derive(Debug)]
pub struct MemoryDevice {
    rx: Arc<Queue>,
    tx: Arc<Queue>,
    mtu: usize,
}

impl MemoryDevice {
    /// Two devices connected back to back: what one sends, the other receives. MTU
    /// 1500, [`DEFAULT_QUEUE_PACKETS`] packets per direction.
    pub fn pair() -> (MemoryDevice, MemoryDevice) {
        MemoryDevice::pair_with(1500, DEFAULT_QUEUE_PACKETS)
    }

    /// Like [`pair`](MemoryDevice::pair) with a chosen MTU and queue length (packets
    /// per direction).
    pub fn pair_with(mtu: usize, queue_packets: usize) -> (MemoryDevice, MemoryDevice) {
        let a_to_b = Queue::new(queue_packets);
        let b_to_a = Queue::new(queue_packets);
        let a = MemoryDevice {
            rx: b_to_a.clone(),
            tx: a_to_b.clone(),
            mtu,
        };
        let b = MemoryDevice {
            rx: a_to_b,
            tx: b_to_a,
            mtu,
        };
        (a, b)
    }

    /// Packets this end sent that the peer's full queue dropped.
    pub fn dropped(&self) -> u64 {
        self.tx.dropped.load(Ordering::Relaxed)
    }

    /// Packets this end sent into the peer's queue.
    pub fn delivered(&self) -> u64 {
        self.tx.delivered.load(Ordering::Relaxed)
    }

    fn take_ready(&self, batch: &mut PacketBatch) -> bool {
        let mut q = self
            .rx
            .packets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut got = false;
        while !batch.is_full() {
            let Some(p) = q.pop_front() else { break };
            batch.push(&p);
            got = true;
        }
        if !q.is_empty() {
            // More than one batch was waiting: make sure the next recv does not sleep.
            self.rx.ready.notify_one();
        }
        got
    }
}

impl Device for MemoryDevice {
    async fn recv(&mut self, batch: &mut PacketBatch) -> io::Result<()> {
        loop {
            // Cancel safe: packets leave the queue only in this synchronous step.
            if self.take_ready(batch) {
                return Ok(());
            }
            self.rx.ready.notified().await;
        }
    }

    async fn send(&mut self, batch: &PacketBatch) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        {
            let mut q = self
                .tx
                .packets
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for p in batch.iter() {
                if q.len() >= self.tx.capacity {
                    self.tx.dropped.fetch_add(1, Ordering::Relaxed);
                } else {
                    q.push_back(p.to_vec());
                    self.tx.delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.tx.ready.notify_one();
        Ok(())
    }

    fn mtu(&self) -> usize {
        self.mtu
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pair_delivers_in_order_and_tail_drops_when_full() {
        let (mut a, mut b) = MemoryDevice::pair_with(1500, 3);
        let mut out = PacketBatch::new(8);
        for p in [&b"p1"[..], b"p2", b"p3", b"p4"] {
            out.push(p);
        }
        a.send(&out).await.expect("send");
        assert_eq!(a.delivered(), 3);
        assert_eq!(a.dropped(), 1);
        let mut inb = PacketBatch::new(2);
        b.recv(&mut inb).await.expect("recv");
        assert_eq!(inb.iter().collect::<Vec<_>>(), vec![&b"p1"[..], b"p2"]);
        inb.clear();
        b.recv(&mut inb).await.expect("recv");
        assert_eq!(inb.iter().collect::<Vec<_>>(), vec![&b"p3"[..]]);
    }
}
