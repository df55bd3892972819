//! Internal consistency checks for fuzzing and tests: what must hold between any two
//! calls into the stack, whatever the input was. Not part of the API (hidden from the
//! docs); `synack-fuzz` calls [`Stack::check_invariants`] after every step.

use super::Stack;
use crate::state::State;
use alloc::string::String;

impl Stack {
    /// Checks the stack's invariants and returns the first one broken, described.
    ///
    /// For every connection: SND.UNA ≤ SND.NXT ≤ SND.MAX (RFC 9293 §3.3.1 with
    /// SND.MAX the highest sequence number sent); the send and receive buffers hold no
    /// more than their capacity, and the capacity is within the configured maximum
    /// (or the size the application set); a connection that still has something to do
    /// on its own (a handshake, unacknowledged or queued data or FIN, a closing state,
    /// or no application handle) has a deadline, and the stack's
    /// [`poll_timeout`](Stack::poll_timeout) is no later than it. Stack-wide: the
    /// buffer memory is within [`Config::memory_limit`](crate::Config::memory_limit),
    /// and the live-connection count matches the slots.
    ///
    /// Call it only between driving steps, after the transmit queue was drained
    /// (output that is due but not yet polled has no deadline of its own).
    #[doc(hidden)]
    pub fn check_invariants(&mut self) -> Result<(), String> {
        let stack_deadline = self.poll_timeout();
        let mut live = 0;
        for (i, slot) in self.slots.iter().enumerate() {
            let Some(c) = slot.conn.as_deref() else {
                continue;
            };
            live += 1;
            let name = || format!("slot {i} ({:?} {} -> {})", c.state, c.local, c.remote);
            if c.state == State::Closed {
                continue;
            }
            // RFC 9293 §3.3.1: SND.UNA ≤ SND.NXT, and nothing beyond what was sent.
            if !(c.snd_una <= c.snd_nxt && c.snd_nxt <= c.snd_max) {
                return Err(format!(
                    "{}: SND.UNA {} SND.NXT {} SND.MAX {} out of order",
                    name(),
                    c.snd_una,
                    c.snd_nxt,
                    c.snd_max
                ));
            }
            if c.send.len() > c.send.capacity() {
                return Err(format!(
                    "{}: send buffer holds {} > capacity {}",
                    name(),
                    c.send.len(),
                    c.send.capacity()
                ));
            }
            if c.recv.held() > c.recv.capacity() {
                return Err(format!(
                    "{}: receive buffer holds {} > capacity {}",
                    name(),
                    c.recv.held(),
                    c.recv.capacity()
                ));
            }
            let send_max = self.cfg.send_buffer_max.max(self.cfg.send_buffer);
            if !c.tune.send_locked && c.send.capacity() > send_max.max(c.send.len()) {
                return Err(format!(
                    "{}: send capacity {} above the maximum {send_max}",
                    name(),
                    c.send.capacity()
                ));
            }
            let recv_max = self.cfg.recv_buffer_max.max(self.cfg.recv_buffer);
            if !c.tune.recv_locked && c.recv.capacity() > recv_max.max(c.recv.held()) {
                return Err(format!(
                    "{}: receive capacity {} above the maximum {recv_max}",
                    name(),
                    c.recv.capacity()
                ));
            }
            let busy = matches!(
                c.state,
                State::SynSent
                    | State::SynReceived
                    | State::FinWait1
                    | State::Closing
                    | State::LastAck
                    | State::TimeWait
            ) || c.snd_una != c.snd_max
                || !c.send.is_empty()
                || c.fin_queued && !c.fin_acked()
                || (c.orphan && c.state == State::FinWait2);
            if busy {
                let Some(d) = c.next_deadline() else {
                    return Err(format!(
                        "{}: has work left (SND.UNA {} SND.MAX {}, {} bytes queued, fin {}) but no deadline",
                        name(),
                        c.snd_una,
                        c.snd_max,
                        c.send.len(),
                        c.fin_queued
                    ));
                };
                if stack_deadline.is_none_or(|s| s > d) {
                    return Err(format!(
                        "{}: deadline {d:?} but the stack's poll_timeout is {stack_deadline:?}",
                        name()
                    ));
                }
            }
        }
        if live != self.live {
            return Err(format!(
                "{live} connections in slots, {} counted",
                self.live
            ));
        }
        if self.mem.used > self.cfg.memory_limit {
            return Err(format!(
                "buffer memory {} above the limit {}",
                self.mem.used, self.cfg.memory_limit
            ));
        }
        Ok(())
    }
}
