//! The [`Device`] trait: where IP packets enter and leave a [`NetStack`](crate::NetStack),
//! and [`PacketBatch`], the reusable buffer that carries several packets per call so a
//! device can read or write many packets per wakeup.
//!
//! Besides its bytes, each packet of a batch carries two offload marks: on the way
//! out, the segment size of a TCP super-segment the device is to cut (TSO, see
//! [`Device::tso_max`]); on the way in, whether the device vouches for the checksums
//! (a kernel that generated or verified them), so the engine skips that check.

use std::future::Future;
use std::io;

/// A run of IP packets stored back to back in one reusable buffer.
///
/// The driver keeps two batches (one for reading, one for writing) for its whole life,
/// so the steady state allocates nothing: [`clear`](PacketBatch::clear) keeps the memory.
#[derive(Debug, Clone)]
pub struct PacketBatch {
    /// Packet bytes; `data[..used]` holds the packets, the rest is spare room kept
    /// between uses (never shrunk, so refills do not zero it again).
    data: Vec<u8>,
    used: usize,
    /// End offset of each packet in `data`.
    ends: Vec<usize>,
    /// Offload marks of each packet, parallel to `ends`.
    marks: Vec<Marks>,
    max_packets: usize,
}

/// Offload marks of one packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Marks {
    /// TSO segment payload size; 0 = send as is.
    segment_size: u16,
    /// The device vouches for the checksums.
    checksum_trusted: bool,
}

impl PacketBatch {
    /// An empty batch that holds at most `max_packets` packets (at least 1).
    pub fn new(max_packets: usize) -> PacketBatch {
        let max_packets = max_packets.max(1);
        PacketBatch {
            data: Vec::new(),
            used: 0,
            ends: Vec::with_capacity(max_packets),
            marks: Vec::with_capacity(max_packets),
            max_packets,
        }
    }

    /// Number of packets held.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when no packet is held.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The most packets the batch holds.
    pub fn max_packets(&self) -> usize {
        self.max_packets
    }

    /// How many more packets fit.
    pub fn remaining(&self) -> usize {
        self.max_packets - self.ends.len()
    }

    /// True when no more packets fit.
    pub fn is_full(&self) -> bool {
        self.ends.len() >= self.max_packets
    }

    /// Forget every packet, keeping the memory.
    pub fn clear(&mut self) {
        self.used = 0;
        self.ends.clear();
        self.marks.clear();
    }

    /// Append a copy of `packet`. Returns false (and stores nothing) when full or
    /// when `packet` is empty.
    pub fn push(&mut self, packet: &[u8]) -> bool {
        self.push_with(packet.len(), |buf| {
            buf.copy_from_slice(packet);
            Ok(packet.len())
        })
        .is_ok_and(|n| n > 0)
    }

    /// Append a packet written in place: `fill` gets a buffer of `max_len` bytes and
    /// returns how many it wrote. Zero means "no packet" and stores nothing. Returns
    /// what `fill` returned; when the batch is full `fill` is not called and the result
    /// is `Ok(0)`.
    pub fn push_with(
        &mut self,
        max_len: usize,
        fill: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if self.is_full() {
            return Ok(0);
        }
        let need = self.used + max_len;
        if self.data.len() < need {
            self.data.resize(need, 0);
        }
        let n = fill(&mut self.data[self.used..need])?;
        let n = n.min(max_len);
        if n > 0 {
            self.used += n;
            self.ends.push(self.used);
            self.marks.push(Marks::default());
        }
        Ok(n)
    }

    /// Mark the newest packet as a TCP super-segment that the device must cut into
    /// segments of `size` payload bytes (TSO), or (`None`) as one to send as is.
    /// Does nothing on an empty batch.
    pub fn set_last_segment_size(&mut self, size: Option<u16>) {
        if let Some(m) = self.marks.last_mut() {
            m.segment_size = size.unwrap_or(0);
        }
    }

    /// Mark the newest packet as one whose checksums the device vouches for (an
    /// offloading kernel generated or verified them): the engine does not verify
    /// them. Does nothing on an empty batch.
    pub fn set_last_checksum_trusted(&mut self, trusted: bool) {
        if let Some(m) = self.marks.last_mut() {
            m.checksum_trusted = trusted;
        }
    }

    /// Append a copy of the `i`-th packet of `src` with its offload marks (for
    /// wrappers that filter a batch into another). Returns false (and stores
    /// nothing) when full or when `src` has no such packet.
    pub fn push_copy_of(&mut self, src: &PacketBatch, i: usize) -> bool {
        let (Some(p), Some(m)) = (src.get(i), src.marks.get(i)) else {
            return false;
        };
        if !self.push(p) {
            return false;
        }
        if let Some(last) = self.marks.last_mut() {
            *last = *m;
        }
        true
    }

    /// The TSO segment size of the `i`-th packet (see
    /// [`set_last_segment_size`](PacketBatch::set_last_segment_size)).
    pub fn segment_size(&self, i: usize) -> Option<u16> {
        self.marks
            .get(i)
            .and_then(|m| (m.segment_size > 0).then_some(m.segment_size))
    }

    /// True if the device vouches for the checksums of the `i`-th packet (see
    /// [`set_last_checksum_trusted`](PacketBatch::set_last_checksum_trusted)).
    pub fn checksum_trusted(&self, i: usize) -> bool {
        self.marks.get(i).is_some_and(|m| m.checksum_trusted)
    }

    /// The `i`-th packet.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.data[start..end])
    }

    /// The packets, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.ends.len()).filter_map(move |i| self.get(i))
    }
}

/// A network device carrying IP packets (no link-layer header): each packet starts
/// with an IPv4 or IPv6 header.
///
/// Implementations read and write in batches: [`recv`](Device::recv) returns every
/// packet that is ready (up to the batch's room) after waiting for the first one, and
/// [`send`](Device::send) writes a whole batch. A device may deliver a TSO/GRO
/// super-segment of up to 64 KiB as one packet; the engine accepts those.
pub trait Device: Send + 'static {
    /// Wait until at least one packet arrives, then append to `batch` every packet that
    /// can be read without waiting, up to [`PacketBatch::remaining`].
    ///
    /// Must be cancel safe: the driver drops this future when something else (a timer,
    /// an application call) needs it first, and no packet may be lost then.
    fn recv(&mut self, batch: &mut PacketBatch) -> impl Future<Output = io::Result<()>> + Send;

    /// Write every packet of `batch`. A packet the device rejects may be dropped (TCP
    /// recovers); an error means the device is gone and stops the stack.
    fn send(&mut self, batch: &PacketBatch) -> impl Future<Output = io::Result<()>> + Send;

    /// The largest IP packet the device carries (its MTU).
    fn mtu(&self) -> usize;

    /// TCP segmentation offload: the largest TCP payload of a super-segment the
    /// device accepts and cuts into MTU-sized segments itself (a packet marked with
    /// [`PacketBatch::set_last_segment_size`]). 0 (the default) when it has none; the
    /// stack then sends no packet larger than [`mtu`](Device::mtu).
    fn tso_max(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::PacketBatch;

    #[test]
    fn batch_keeps_packets_in_order_and_respects_its_limit() {
        let mut b = PacketBatch::new(3);
        assert!(b.push(b"one"));
        assert!(b.push(b"second"));
        assert_eq!(b.push_with(100, |_buf| Ok(0)).ok(), Some(0));
        assert_eq!(b.len(), 2);
        assert!(b.push(b"3"));
        assert!(b.is_full());
        assert!(!b.push(b"four"));
        let got: Vec<&[u8]> = b.iter().collect();
        assert_eq!(got, vec![&b"one"[..], &b"second"[..], &b"3"[..]]);
        b.clear();
        assert!(b.is_empty());
        assert!(b.push(b"again"));
        assert_eq!(b.get(0), Some(&b"again"[..]));
        assert_eq!(b.get(1), None);
    }

    #[test]
    fn offload_marks_follow_their_packet_and_reset_on_clear() {
        let mut b = PacketBatch::new(4);
        b.set_last_segment_size(Some(9));
        assert_eq!(b.segment_size(0), None, "no packet to mark yet");
        assert!(b.push(b"plain"));
        assert!(b.push(b"super"));
        b.set_last_segment_size(Some(1448));
        assert!(b.push(b"vouched"));
        b.set_last_checksum_trusted(true);
        assert_eq!(b.segment_size(0), None);
        assert_eq!(b.segment_size(1), Some(1448));
        assert_eq!(b.segment_size(2), None);
        assert!(!b.checksum_trusted(0) && !b.checksum_trusted(1) && b.checksum_trusted(2));
        assert_eq!(b.segment_size(3), None);
        assert!(!b.checksum_trusted(3));
        let mut copy = PacketBatch::new(2);
        assert!(copy.push_copy_of(&b, 1));
        assert!(copy.push_copy_of(&b, 2));
        assert!(!copy.push_copy_of(&b, 0), "full");
        assert_eq!(copy.get(0), Some(&b"super"[..]));
        assert_eq!(copy.segment_size(0), Some(1448));
        assert!(copy.checksum_trusted(1) && !copy.checksum_trusted(0));
        let mut other = PacketBatch::new(2);
        assert!(!other.push_copy_of(&b, 7), "no such packet");
        b.clear();
        assert!(b.push(b"next"));
        assert_eq!(b.segment_size(0), None);
        assert!(!b.checksum_trusted(0));
    }
}
