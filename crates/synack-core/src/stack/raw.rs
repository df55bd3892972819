//! Raw packets (issue 15 item 4): the packets the stack does not handle, kept for the
//! application when it asks (other IP protocols, ICMP messages that are neither echo
//! requests nor errors about our TCP or UDP, UDP to addresses that are neither ours
//! nor intercepted), and whole IP packets the application injects, sent as they are
//! in the order given, ahead of TCP output.

use super::*;

/// Injected packets waiting to go out, at most (beyond: refused).
const RAW_OUT_MAX: usize = 1024;

/// The unhandled packets kept for the application (bounded; beyond the bound the
/// newest are dropped and counted).
#[derive(Debug, Default)]
pub(super) struct RawTap {
    max: usize,
    queue: VecDeque<Vec<u8>>,
    /// Packets not kept because the queue was full.
    pub(super) dropped: u64,
}

impl Stack {
    /// Keep up to `max` packets the stack does not handle for
    /// [`poll_unhandled`](Stack::poll_unhandled) (0, the default, keeps none: they
    /// are only counted in [`StackStats::not_for_us`]).
    pub fn set_unhandled_queue(&mut self, max: usize) {
        self.raw.max = max;
        while self.raw.queue.len() > max {
            self.raw.queue.pop_back();
        }
    }

    /// The oldest packet the stack did not handle (see
    /// [`set_unhandled_queue`](Stack::set_unhandled_queue)).
    pub fn poll_unhandled(&mut self) -> Option<Vec<u8>> {
        self.raw.queue.pop_front()
    }

    /// True when [`poll_unhandled`](Stack::poll_unhandled) has a packet.
    pub fn has_unhandled(&self) -> bool {
        !self.raw.queue.is_empty()
    }

    /// Unhandled packets dropped because the queue was full.
    pub fn unhandled_dropped(&self) -> u64 {
        self.raw.dropped
    }

    /// Send a whole IP packet as it is (the caller computes its checksums): it leaves
    /// through [`poll_transmit`](Stack::poll_transmit) before TCP output. `false` when
    /// 1,024 injected packets are already waiting or it is larger than
    /// [`max_packet_size`](Stack::max_packet_size); nothing is queued then.
    pub fn inject(&mut self, packet: &[u8]) -> bool {
        if packet.len() > self.max_packet_size() || self.udp.icmp_out.len() >= RAW_OUT_MAX {
            return false;
        }
        self.udp.icmp_out.push_back(packet.to_vec());
        true
    }

    /// Queue a packet the stack built (ICMP).
    pub(super) fn queue_raw(&mut self, p: Vec<u8>) {
        if self.udp.icmp_out.len() < RAW_OUT_MAX {
            self.udp.icmp_out.push_back(p);
        } else {
            self.stats.emit_errors += 1;
        }
    }

    /// A packet the stack does not handle: counted, and kept when asked.
    pub(super) fn unhandled(&mut self, bytes: &[u8]) {
        self.stats.not_for_us += 1;
        if self.raw.max == 0 {
            return;
        }
        if self.raw.queue.len() >= self.raw.max {
            self.raw.dropped += 1;
            return;
        }
        self.raw.queue.push_back(bytes.to_vec());
    }
}
