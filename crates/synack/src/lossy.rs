//! [`LossyDevice`]: a [`Device`] wrapper that drops a random fraction of the packets
//! crossing it, in both directions, from a seeded generator (the same seed drops the
//! same packet positions). Used to test recovery against a real peer (`--drop` on the
//! `synack` command) where the kernel side offers no loss of its own to synack.

use crate::device::{Device, PacketBatch};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io;

/// Wraps a device and drops each packet, received or sent, with probability `p`.
#[derive(Debug)]
pub struct LossyDevice<D> {
    inner: D,
    p: f64,
    rng: StdRng,
    /// Packets read from `inner` before filtering.
    rx_scratch: PacketBatch,
    /// Packets kept for `inner` after filtering.
    tx_scratch: PacketBatch,
    dropped_rx: u64,
    dropped_tx: u64,
}

impl<D: Device> LossyDevice<D> {
    /// Drop each packet crossing `inner` with probability `p` (clamped to 0..=1),
    /// choosing from a generator seeded with `seed`.
    pub fn new(inner: D, p: f64, seed: u64) -> LossyDevice<D> {
        let p = if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        };
        LossyDevice {
            inner,
            p,
            rng: StdRng::seed_from_u64(seed),
            rx_scratch: PacketBatch::new(1),
            tx_scratch: PacketBatch::new(1),
            dropped_rx: 0,
            dropped_tx: 0,
        }
    }

    /// The wrapped device.
    pub fn get_ref(&self) -> &D {
        &self.inner
    }

    /// Packets dropped on the way in (received from the device).
    pub fn dropped_rx(&self) -> u64 {
        self.dropped_rx
    }

    /// Packets dropped on the way out (sent by the stack).
    pub fn dropped_tx(&self) -> u64 {
        self.dropped_tx
    }

    fn lose(&mut self) -> bool {
        self.p > 0.0 && self.rng.gen_bool(self.p)
    }
}

impl<D: Device> Device for LossyDevice<D> {
    async fn recv(&mut self, batch: &mut PacketBatch) -> io::Result<()> {
        let room = batch.remaining();
        if room == 0 {
            return Ok(());
        }
        if self.rx_scratch.max_packets() != room {
            self.rx_scratch = PacketBatch::new(room);
        }
        loop {
            self.rx_scratch.clear();
            // Cancel safe: `inner.recv` is, and nothing after it awaits.
            self.inner.recv(&mut self.rx_scratch).await?;
            let mut kept = 0;
            for i in 0..self.rx_scratch.len() {
                if self.lose() {
                    self.dropped_rx += 1;
                    continue;
                }
                // Keep the offload marks (trusted checksum) with the packet.
                if batch.push_copy_of(&self.rx_scratch, i) {
                    kept += 1;
                }
            }
            self.rx_scratch.clear();
            if kept > 0 {
                return Ok(());
            }
        }
    }

    async fn send(&mut self, batch: &PacketBatch) -> io::Result<()> {
        if self.tx_scratch.max_packets() < batch.len() {
            self.tx_scratch = PacketBatch::new(batch.max_packets().max(batch.len()));
        }
        self.tx_scratch.clear();
        for i in 0..batch.len() {
            if self.lose() {
                self.dropped_tx += 1;
            } else {
                // Keep the TSO segment size with the packet.
                self.tx_scratch.push_copy_of(batch, i);
            }
        }
        let r = if self.tx_scratch.is_empty() {
            Ok(())
        } else {
            self.inner.send(&self.tx_scratch).await
        };
        self.tx_scratch.clear();
        r
    }

    fn mtu(&self) -> usize {
        self.inner.mtu()
    }

    fn tso_max(&self) -> usize {
        self.inner.tso_max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryDevice;

    async fn count_through(p: f64, seed: u64, n: usize) -> (usize, u64) {
        let (a, b) = MemoryDevice::pair();
        let mut lossy = LossyDevice::new(a, p, seed);
        let mut peer = b;
        let mut out = PacketBatch::new(64);
        let mut sent = 0;
        while sent < n {
            out.clear();
            while !out.is_full() && sent < n {
                out.push(&[0x45, sent as u8]);
                sent += 1;
            }
            lossy.send(&out).await.unwrap();
        }
        // Count what arrived at the peer without waiting on an empty queue.
        let mut got = 0;
        let mut inb = PacketBatch::new(64);
        let drained = tokio::time::timeout(std::time::Duration::from_millis(50), async {
            loop {
                inb.clear();
                peer.recv(&mut inb).await.unwrap();
                got += inb.len();
            }
        });
        let _ = drained.await;
        (got, lossy.dropped_tx())
    }

    #[tokio::test]
    async fn drops_about_the_asked_fraction_and_counts_it() {
        let (got, dropped) = count_through(0.1, 7, 10_000).await;
        assert_eq!(got as u64 + dropped, 10_000);
        assert!((700..1300).contains(&dropped), "dropped {dropped}");
        let (got0, dropped0) = count_through(0.0, 7, 1000).await;
        assert_eq!((got0, dropped0), (1000, 0));
    }

    #[tokio::test]
    async fn the_same_seed_drops_the_same_packets() {
        let a = count_through(0.2, 42, 2000).await;
        let b = count_through(0.2, 42, 2000).await;
        assert_eq!(a, b);
    }

    #[tokio::test]
    async fn receive_side_drops_too() {
        let (a, b) = MemoryDevice::pair();
        let mut lossy = LossyDevice::new(b, 0.5, 3);
        let mut sender = a;
        let mut out = PacketBatch::new(64);
        for i in 0..64u8 {
            out.push(&[0x45, i]);
        }
        sender.send(&out).await.unwrap();
        let mut inb = PacketBatch::new(64);
        lossy.recv(&mut inb).await.unwrap();
        assert!(!inb.is_empty());
        assert_eq!(inb.len() as u64 + lossy.dropped_rx(), 64);
        assert!(lossy.dropped_rx() > 0);
    }
}
