//! Corking: `TCP_CORK` (a socket option) and `MSG_MORE` (a flag on one write), as
//! Linux implements them (`tcp_push`, `tcp_nagle_check` with `TCP_NAGLE_CORK`,
//! `tcp_mss_split_point`, `tcp_write_wakeup`).
//!
//! RFC 1122 §4.2.3.4 lets a sender delay small segments, and RFC 9293 §3.9.1.2 makes
//! PUSH a property of the SEND call: a write that says more data follows is a SEND
//! without PUSH. While corked, a segment shorter than the MSS is held back even with
//! `TCP_NODELAY`; whole segments still go (a super-segment is cut to a multiple of the
//! MSS). What releases the held tail:
//! - uncorking (`TCP_CORK` off), setting `TCP_NODELAY` (Linux's one-shot
//!   `TCP_NAGLE_PUSH`, which also overrides the cork for what is queued then), a
//!   write without `MSG_MORE`, or queueing a FIN;
//! - for `MSG_MORE` alone, the next push Linux makes on an arriving ACK
//!   (`tcp_data_snd_check`): the cork of a `MSG_MORE` write lasts for that write's
//!   push only;
//! - the probe timer (`persist_at`, one RTO, at least 200 ms, when nothing is in
//!   flight, as Linux's `tcp_check_probe_timer`), so no data is buffered
//!   indefinitely (RFC 1122 §4.2.2.2). That segment carries PSH, as Linux's
//!   `tcp_write_wakeup` sets it.
//!
//! Data written with `MSG_MORE` is not pushed: segments ending in it carry no PSH
//! until a write without the flag ends the run.

use super::Connection;
use crate::seq::Seq;

/// Cork bookkeeping of one connection (in its boxed rare state).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CorkState {
    /// Start of the data written with `MSG_MORE` since the last write without it:
    /// a segment ending past it gets no PSH.
    more_from: Option<Seq>,
    /// The last write had `MSG_MORE` and nothing has pushed since.
    more_hold: bool,
    /// Push what is queued regardless of the cork, until the next write (Linux
    /// `TCP_NAGLE_PUSH`, set by `TCP_NODELAY` and by uncorking with it).
    push_once: bool,
}

impl Connection {
    /// Note a write of data starting at `start`, with or without `MSG_MORE`.
    pub(crate) fn cork_on_write(&mut self, start: Seq, more: bool) {
        if more {
            let c = &mut self.rare.get_or_insert_with(Default::default).cork;
            c.more_from.get_or_insert(start);
            c.more_hold = true;
            c.push_once = false;
        } else if let Some(r) = self.rare.as_mut() {
            // A write without the flag pushes (Linux `tcp_mark_push` on the tail).
            r.cork = CorkState::default();
        }
    }

    /// A push that is not a `MSG_MORE` write's: an arriving ACK, uncorking, or
    /// `TCP_NODELAY` (`nagle_push`: the one-shot push that overrides the cork).
    pub(crate) fn cork_on_push(&mut self, nagle_push: bool) {
        if nagle_push && (self.opts.cork || self.rare.is_some()) {
            let c = &mut self.rare.get_or_insert_with(Default::default).cork;
            c.more_hold = false;
            c.push_once = true;
        } else if let Some(r) = self.rare.as_mut() {
            r.cork.more_hold = false;
        }
    }

    /// Whether a partial segment is held back now (Linux `TCP_NAGLE_CORK`).
    pub(crate) fn corked(&self) -> bool {
        if self.fin_queued {
            // Linux `tcp_send_fin` pushes everything with the FIN.
            return false;
        }
        let c = self.rare.as_ref().map(|r| r.cork).unwrap_or_default();
        !c.push_once && (self.opts.cork || c.more_hold)
    }

    /// Whether corking is in use at all (socket option on, or `MSG_MORE` data queued).
    pub(crate) fn cork_in_use(&self) -> bool {
        self.opts.cork
            || self
                .rare
                .as_ref()
                .is_some_and(|r| r.cork.more_from.is_some())
    }

    /// Whether a segment of new data ending at `end` ends in data written with
    /// `MSG_MORE` (so it carries no PSH).
    pub(crate) fn ends_in_more_data(&self, end: Seq) -> bool {
        self.rare
            .as_ref()
            .and_then(|r| r.cork.more_from)
            .is_some_and(|m| end > m)
    }
}
