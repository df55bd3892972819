//! The stack's face of the unsent-data limit (tcp/notsent.rs): Linux's
//! `TCP_NOTSENT_LOWAT` socket option and the writability it decides.

use super::Stack;
use crate::ConnHandle;

impl Stack {
    /// Set the connection's `TCP_NOTSENT_LOWAT`: it is writable only while fewer
    /// than `bytes` queued bytes are unsent. 0 unsets it, so
    /// [`Config::notsent_lowat`](crate::Config::notsent_lowat) applies again.
    pub fn set_notsent_lowat(&mut self, h: ConnHandle, bytes: u32) {
        if let Some(idx) = self.check(h) {
            if let Some(c) = self.slots[idx as usize].conn.as_mut() {
                c.set_notsent_lowat(bytes);
            }
        }
    }

    /// The connection's own `TCP_NOTSENT_LOWAT`, 0 when unset (as Linux's
    /// `getsockopt` reports it: the sysctl is not folded in).
    pub fn notsent_lowat(&self, h: ConnHandle) -> u32 {
        self.check(h)
            .and_then(|i| self.slots[i as usize].conn.as_ref())
            .map_or(0, |c| c.notsent_lowat())
    }

    /// Bytes queued in the send buffer and not sent yet.
    pub fn unsent_bytes(&self, h: ConnHandle) -> usize {
        self.check(h)
            .and_then(|i| self.slots[i as usize].conn.as_ref())
            .map_or(0, |c| c.unsent_bytes())
    }

    /// True when a write would take data: room in the send buffer, and fewer unsent
    /// bytes than the connection's `TCP_NOTSENT_LOWAT` (else the configured one).
    pub fn is_writable(&self, h: ConnHandle) -> bool {
        self.check(h)
            .and_then(|i| self.slots[i as usize].conn.as_ref())
            .is_some_and(|c| c.writable(&self.cfg))
    }
}
