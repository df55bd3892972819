//! A device that refuses every packet (Linux: a qdisc that drops all, so
//! `dev_queue_xmit` reports `NET_XMIT_DROP` to TCP): the driver tells the stack, and
//! connections stop handing out new data, probing for the device instead
//! (tcp/timers.rs `on_resource_probe`).

use super::Stack;

impl Stack {
    /// Declare that the device refuses (`true`) or takes again (`false`) every
    /// outgoing packet. While it refuses, new data is not sent: as Linux after a
    /// local drop, a connection with nothing in flight retries from its probe timer
    /// (first after one RTO, at least 200 ms, then every 500 ms,
    /// `TCP_RESOURCE_PROBE_INTERVAL`), and its user timeout counts from the first
    /// retry. The driver still drops whatever [`poll_transmit`](Stack::poll_transmit)
    /// hands it meanwhile (ACKs, retransmissions); the engine does not model their
    /// local failure.
    pub fn set_egress_blocked(&mut self, blocked: bool) {
        // Connections holding data retry on their next probe timer (within 500 ms).
        self.egress_blocked = blocked;
    }

    /// Whether the device is declared to refuse every packet.
    pub fn egress_blocked(&self) -> bool {
        self.egress_blocked
    }
}
