//! The [`Host`] trait: what the simulator drives. A host is anything that consumes and
//! produces IP packets and has timers — a whole `synack-core` stack behind an adapter,
//! or a toy written for a test. The simulator follows the sans-IO driving order: after
//! every input (`handle_packet`, `handle_timeout`) it drains `poll_transmit` until
//! `None`, then asks `poll_timeout` for the next deadline.

use std::any::Any;

use synack_core::time::Instant;

/// A host on the simulated network. `now` never goes backwards between calls.
pub trait Host {
    /// An IP packet arrived for this host.
    fn handle_packet(&mut self, now: Instant, packet: &[u8]);

    /// Called when `now` reached the host's deadline. A host must tolerate being called
    /// at any time (it should do nothing if nothing is due).
    fn handle_timeout(&mut self, now: Instant);

    /// Writes the next outgoing IP packet into `buf` (at least 65,536 bytes) and
    /// returns its length, or `None` when there is nothing to send.
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize>;

    /// The host's next deadline, if any.
    fn poll_timeout(&mut self) -> Option<Instant>;

    /// True when the host has nothing more to do (its application finished and it holds
    /// no state); [`Network::run_until_idle`](crate::Network::run_until_idle) stops when
    /// every host is idle and no packet is in flight.
    fn is_idle(&self) -> bool {
        false
    }
}

/// A [`Host`] that can be downcast back to its concrete type.
pub(crate) trait AnyHost: Host {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn as_host_mut(&mut self) -> &mut dyn Host;
}

impl<T: Host + Any> AnyHost for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn as_host_mut(&mut self) -> &mut dyn Host {
        self
    }
}
