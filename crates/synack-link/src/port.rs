//! In-process ends of the link: a channel [`Egress`] and [`StackPort`], a
//! [`synack::Device`] whose sends enter the link and whose receives are the packets
//! the link released, so a `synack::NetStack` (or any other stack driven from a
//! channel, such as the benchmark's smoltcp) sits directly on one side of the
//! emulated path.

use crate::emulator::{Egress, Ingress};
use std::io;
use synack::{Device, PacketBatch};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// Released packets go into an unbounded tokio channel (the link's queue is the
/// bound: a channel never drops).
pub struct ChannelEgress(UnboundedSender<Vec<u8>>);

impl Egress for ChannelEgress {
    fn deliver(&mut self, packet: &[u8]) {
        // A closed receiver means the stack is gone; the packet is then dropped.
        let _ = self.0.send(packet.to_vec());
    }
}

/// A channel for the packets the link releases to one side: its [`Egress`] and the
/// receiving end.
pub fn channel() -> (ChannelEgress, UnboundedReceiver<Vec<u8>>) {
    let (tx, rx) = unbounded_channel();
    (ChannelEgress(tx), rx)
}

/// A synack device on one side of the link: it sends into the link through an
/// [`Ingress`] and receives what the link releases to its side. No offloads: every
/// packet is at most one MTU, so the link's loss and rate apply per packet.
pub struct StackPort {
    ingress: Ingress,
    rx: UnboundedReceiver<Vec<u8>>,
    mtu: usize,
}

impl StackPort {
    /// A device sending through `ingress` and receiving from `rx` (from [`channel`]),
    /// with an MTU of `mtu` bytes.
    pub fn new(ingress: Ingress, rx: UnboundedReceiver<Vec<u8>>, mtu: usize) -> StackPort {
        StackPort { ingress, rx, mtu }
    }
}

impl Device for StackPort {
    async fn recv(&mut self, batch: &mut PacketBatch) -> io::Result<()> {
        // Cancel safe: a packet leaves the channel only in a completed receive.
        let first = self
            .rx
            .recv()
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "the link stopped"))?;
        batch.push(&first);
        while !batch.is_full() {
            match self.rx.try_recv() {
                Ok(p) => {
                    batch.push(&p);
                }
                Err(_) => break,
            }
        }
        Ok(())
    }

    async fn send(&mut self, batch: &PacketBatch) -> io::Result<()> {
        for p in batch.iter() {
            self.ingress.send(p);
        }
        Ok(())
    }

    fn mtu(&self) -> usize {
        self.mtu
    }
}
