//! The stack's face of corking (tcp/cork.rs): Linux's `TCP_CORK` socket option,
//! `MSG_MORE` writes, and the push that `TCP_NODELAY` makes.

use super::{SendError, Stack};
use crate::time::Instant;
use crate::ConnHandle;

impl Stack {
    /// Queue data with Linux's `MSG_MORE`: more data follows, so a segment shorter
    /// than the MSS waits (for the next write, an ACK, or the probe timer) even with
    /// `TCP_NODELAY`, and the data is not pushed (no PSH; RFC 9293 §3.9.1.2). Returns
    /// how many bytes were taken, as [`send`](Stack::send) does.
    pub fn send_more(&mut self, h: ConnHandle, data: &[u8]) -> Result<usize, SendError> {
        self.send_flagged(h, data, true)
    }

    /// Cork or uncork the connection (Linux `TCP_CORK`): while corked, segments
    /// shorter than the MSS wait until uncorked, `TCP_NODELAY` is set, or the probe
    /// timer fires (one RTO, at least 200 ms, when nothing is in flight).
    pub fn set_cork(&mut self, now: Instant, h: ConnHandle, cork: bool) {
        self.set_options(now, h, |o| o.cork = cork);
    }

    /// Push what is queued past a cork once, as setting `TCP_NODELAY` does on Linux
    /// (`TCP_NAGLE_PUSH`); data written later is corked again.
    pub fn push(&mut self, now: Instant, h: ConnHandle) {
        let Some(idx) = self.check(h) else { return };
        self.with_conn(idx, now, |c, _| c.cork_on_push(true));
        self.mark_dirty(idx);
    }
}
