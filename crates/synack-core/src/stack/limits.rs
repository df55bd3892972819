//! Bounds on what the stack holds for connections nobody owns any more (issue 16):
//! the count of orphans (connections the application closed that still finish their
//! data and FIN exchange) against `Config::max_orphans`, and the count of connections
//! still holding a TCB, which a driver waits on before it stops.

use super::Stack;
use crate::state::State;

impl Stack {
    /// Connections the application closed (or aborted) that the stack still holds
    /// with their full state: sending queued data, in FIN-WAIT-1/2, CLOSING or
    /// LAST-ACK. Compact TIME-WAIT records are not counted (see
    /// [`Config::max_orphans`](crate::Config::max_orphans)).
    pub fn orphan_count(&self) -> usize {
        self.orphans
    }

    /// Connections that still hold a full TCB, in any state: every connection except
    /// the compact TIME-WAIT records. A driver that wants to stop once the
    /// application has let go of everything waits for this to reach zero: by then
    /// every closing connection has finished its FIN exchange (or given up) and what
    /// remains of TIME-WAIT is records, which need no packets sent.
    pub fn active_connection_count(&self) -> usize {
        self.live
    }

    /// Mark the connection in slot `idx` as orphaned (the application let go of it),
    /// counting it once.
    pub(super) fn set_orphan(&mut self, idx: u32) {
        if let Some(c) = self.slots[idx as usize].conn.as_mut() {
            if !c.orphan {
                c.orphan = true;
                self.orphans += 1;
            }
        }
    }

    /// Closing the connection in slot `idx` would make one orphan too many: it still
    /// has a FIN exchange to finish and `Config::max_orphans` are already doing so.
    pub(super) fn orphan_cap_reached(&self, idx: u32) -> bool {
        self.slots[idx as usize].conn.as_ref().is_some_and(|c| {
            !c.orphan
                && !matches!(c.state, State::Closed | State::TimeWait)
                && self.orphans >= self.cfg.max_orphans
        })
    }
}
