//! Raw packets on a [`NetStack`] (issue 15 item 4): [`RawPackets`] receives the IP
//! packets the stack does not handle (other protocols, ICMP it does not answer, UDP
//! to addresses neither its own nor intercepted) and injects whole IP packets of the
//! application's own, which leave through the device as they are.

use crate::runtime::{NetStack, StackRef};
use std::future::poll_fn;
use std::io;
use std::task::Poll;

/// The raw-packet hook of a [`NetStack`] (one per stack: a second replaces the
/// first's queue bound).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use synack::{MemoryDevice, NetStack};
/// let (a, _b) = MemoryDevice::pair();
/// let stack = NetStack::new(a, &["10.0.0.1".parse().unwrap()])?;
/// let raw = stack.raw_packets(256);
/// // An IPv4 header of protocol 253 (experimental) with no payload, checksummed.
/// let mut p = [0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 253, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
/// let sum = p.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum::<u32>();
/// let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
/// p[10..12].copy_from_slice(&sum.to_be_bytes());
/// raw.send(&p)?;
/// # Ok(())
/// # }
/// ```
pub struct RawPackets {
    stack: StackRef,
}

impl std::fmt::Debug for RawPackets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawPackets").finish_non_exhaustive()
    }
}

impl NetStack {
    /// Start keeping the packets the stack does not handle (up to `queue` of them
    /// waiting; beyond that the newest are dropped and counted) and return the hook
    /// that reads them and injects packets.
    pub fn raw_packets(&self, queue: usize) -> RawPackets {
        self.stack.lock().engine.set_unhandled_queue(queue.max(1));
        RawPackets {
            stack: self.stack.clone(),
        }
    }
}

impl RawPackets {
    /// Wait for the next packet the stack did not handle (a whole IP packet).
    pub async fn recv(&self) -> io::Result<Vec<u8>> {
        poll_fn(|cx| {
            let mut inner = self.stack.lock();
            if let Some(p) = inner.engine.poll_unhandled() {
                return Poll::Ready(Ok(p));
            }
            if let Err(e) = inner.check_running() {
                return Poll::Ready(Err(e));
            }
            inner.raw_waiter = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Send a whole IP packet (its checksums computed by the caller) through the
    /// device. `WouldBlock` when 1,024 injected packets are still waiting,
    /// `InvalidInput` when it is larger than the device's packets.
    pub fn send(&self, packet: &[u8]) -> io::Result<()> {
        let ok = {
            let mut inner = self.stack.lock();
            inner.check_running()?;
            if packet.len() > inner.engine.max_packet_size() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "packet larger than the device's packets",
                ));
            }
            inner.engine.inject(packet)
        };
        if !ok {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.stack.kick();
        Ok(())
    }

    /// Unhandled packets dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.stack.lock().engine.unhandled_dropped()
    }
}

impl Drop for RawPackets {
    fn drop(&mut self) {
        self.stack.lock().engine.set_unhandled_queue(0);
    }
}
