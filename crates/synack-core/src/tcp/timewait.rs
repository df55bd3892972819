//! Compact TIME-WAIT. Once a connection whose handle the application gave up reaches
//! TIME-WAIT and has nothing left to send, the stack frees its TCB (buffers, timers,
//! congestion state) and keeps only a [`TimeWait`] record: what RFC 9293 §3.10.7.4
//! TIME-WAIT processing, RFC 5961 and RFC 6191 need to answer any segment for the
//! 4-tuple exactly as the full connection would. Records live in a [`TimeWaitTable`]
//! (a slab) whose deadlines form a FIFO: every TIME-WAIT lasts the same 2*MSL and time
//! never goes backwards, so the queue is already in deadline order.

use super::{ConnInfo, ConnStats, Connection, Env};
use crate::seq::Seq;
use crate::state::State;
use crate::time::{Duration, Instant};
use crate::trace::TraceKind;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::net::SocketAddr;
use synack_wire::{TcpFlags, TcpOptions, TcpRepr};

/// What the stack must do after a segment reached a TIME-WAIT record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TwAction {
    /// Nothing (the segment was dropped silently or needed no answer).
    Nothing,
    /// Send [`TimeWait::ack`].
    Ack,
    /// The connection is over (an acceptable RST): delete the record.
    Close,
    /// A new SYN may reuse the 4-tuple (RFC 6191): delete the record, then treat the
    /// SYN as one for no connection.
    Reopen,
}

/// The state a connection keeps in TIME-WAIT (RFC 9293 §3.10.7.4).
#[derive(Debug, Clone)]
pub(crate) struct TimeWait {
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    /// End of the 2*MSL wait (RFC 9293 §3.4.2).
    pub(crate) deadline: Instant,
    /// When TS.Recent was last updated (RFC 7323 §5.5).
    ts_recent_at: Instant,
    /// When the last challenge ACK was allowed, a millisecond stamp (RFC 5961 §7,
    /// challenge.rs).
    challenge_at: u32,
    /// Our ISN and the peer's, for the trace.
    pub(crate) iss: u32,
    pub(crate) irs: u32,
    /// SND.NXT (= SND.UNA = SND.MAX: our FIN was acknowledged).
    snd_nxt: Seq,
    /// RCV.NXT (just past the peer's FIN).
    rcv_nxt: Seq,
    /// MAX.SND.WND of RFC 5961 §5.2.
    max_snd_wnd: u32,
    /// The receive window used by the acceptability test of RFC 9293 §3.10.7.4.
    rcv_wnd: u32,
    /// TS.Recent (RFC 7323 §4.3) and our timestamp clock's offset.
    ts_recent: u32,
    ts_offset: u32,
    /// The retransmission timeout when the connection was compacted, for the trace
    /// of the ACKs sent (as the full connection reports it).
    pub(crate) rto_micros: u32,
    /// The window field our ACKs carry.
    window: u16,
    /// Window shifts (RFC 7323 §2.3), for the trace.
    pub(crate) snd_wscale: u8,
    pub(crate) rcv_wscale: u8,
    /// Timestamps are in use (RFC 7323 §3.2).
    ts_ok: bool,
    /// The stack's slot that held the connection: kept reserved while the record
    /// lives, so the application's old handle still names it.
    pub(crate) slot: u32,
    /// Generation of the slab entry (bumped when freed).
    gen: u32,
    /// The slab entry holds a record.
    live: bool,
}

impl Connection {
    /// The TIME-WAIT record of this connection (which must be in TIME-WAIT with its
    /// FIN acknowledged and nothing queued), with its 2*MSL deadline.
    pub(crate) fn time_wait_record(&self) -> TimeWait {
        debug_assert_eq!(self.state, State::TimeWait);
        // The window field the next ACK would carry (RFC 9293 §3.8.6 never moves the
        // right edge left, and receiver SWS avoidance grows it in steps). Nothing
        // changes it in TIME-WAIT.
        let wnd = self.rcv_wnd();
        let window = self.next_window_field();
        // The acceptability window of `input::handle_segment`.
        let rcv_wnd = (self.rcv_adv.diff(self.rcv_nxt).max(0) as u32).max(wnd);
        TimeWait {
            local: self.local,
            remote: self.remote,
            // Set on entering TIME-WAIT (RFC 9293 §3.4.2).
            deadline: self.linger_at.unwrap_or(Instant::ZERO),
            ts_recent_at: self.ts_recent_at,
            challenge_at: self.rare.as_ref().map_or(0, |r| r.challenge_at),
            iss: self.iss.0,
            irs: self.irs.0,
            snd_nxt: self.snd_max,
            rcv_nxt: self.rcv_nxt,
            max_snd_wnd: self.max_snd_wnd,
            rcv_wnd,
            ts_recent: self.ts_recent,
            ts_offset: self.ts_offset,
            rto_micros: self.rtt.rto().as_micros().min(u128::from(u32::MAX)) as u32,
            window,
            snd_wscale: self.snd_wscale,
            rcv_wscale: if self.ws_ok { self.rcv_wscale } else { 0 },
            ts_ok: self.ts_ok,
            slot: 0,
            gen: 0,
            live: true,
        }
    }

    /// True when the stack may replace this connection by a [`TimeWait`] record: in
    /// TIME-WAIT, everything sent acknowledged, nothing left to send.
    pub(crate) fn can_compact(&self) -> bool {
        self.state == State::TimeWait
            && self.snd_una == self.snd_max
            && self.recv.is_empty()
            && !self.wants_poll()
    }
}

impl TimeWait {
    /// RFC 9293 §3.10.7.4 for a segment arriving in TIME-WAIT, step by step as
    /// `input::handle_segment` runs it for a full connection in that state.
    pub(crate) fn handle_segment(
        &mut self,
        env: &mut Env<'_>,
        seg: &TcpRepr,
        payload_len: usize,
    ) -> TwAction {
        let flags = seg.flags;
        let seg_seq = Seq(seg.seq);
        let seg_len = payload_len as u32 + u32::from(flags.syn()) + u32::from(flags.fin());

        // RFC 6191 §3: a new SYN may reopen the 4-tuple.
        if flags.syn() && !flags.ack() && !flags.rst() && self.accepts_syn(seg) {
            return TwAction::Reopen;
        }
        // RFC 7323 §5.3 R1: PAWS.
        if self.ts_ok && !flags.rst() {
            if let Some((tsval, _)) = seg.options.timestamp {
                if super::input::paws_too_old(self.ts_recent, self.ts_recent_at, tsval, env.now) {
                    self.dropped(env, "PAWS: old timestamp");
                    return self.ack_invalid(env, seg_len, flags.syn());
                }
            }
        }
        // First: the sequence number test (RFC 9293 §3.10.7.4, four cases).
        let acceptable = Seq::acceptable(seg_seq, seg_len, self.rcv_nxt, self.rcv_wnd);
        if !acceptable {
            // RFC 9293 §3.10.7.4 TIME-WAIT: a retransmitted FIN is acknowledged again
            // and restarts the 2 MSL timeout.
            if flags.fin() && seg_seq + seg_len == self.rcv_nxt {
                self.deadline = env.now + env.cfg.time_wait();
                return TwAction::Ack;
            }
            self.dropped(env, "sequence number outside the receive window");
            return if flags.rst() {
                TwAction::Nothing
            } else {
                self.ack_invalid(env, seg_len, flags.syn())
            };
        }
        // RFC 7323 §4.3: TS.Recent from a segment covering Last.ACK.sent (= RCV.NXT).
        if self.ts_ok {
            if let Some((tsval, _)) = seg.options.timestamp {
                if seg_seq <= self.rcv_nxt && (tsval.wrapping_sub(self.ts_recent) as i32) >= 0 {
                    self.ts_recent = tsval;
                    self.ts_recent_at = env.now;
                }
            }
        }
        // Second: RST (RFC 5961 §3.2; RFC 9293 §3.10.7.4 TIME-WAIT: close).
        if flags.rst() {
            if seg_seq != self.rcv_nxt {
                return self.challenge_ack(env);
            }
            return TwAction::Close;
        }
        // Fourth: SYN in a synchronized state (RFC 5961 §4.2).
        if flags.syn() {
            return self.challenge_ack(env);
        }
        // Fifth: ACK.
        if !flags.ack() {
            self.dropped(env, "no ACK bit");
            return TwAction::Nothing;
        }
        let seg_ack = Seq(seg.ack);
        if seg_ack > self.snd_nxt {
            self.dropped(env, "ACK for data never sent");
            return TwAction::Ack;
        }
        if seg_ack < self.snd_nxt - self.max_snd_wnd.max(1) {
            // RFC 5961 §5.2.
            self.dropped(env, "ACK too old (RFC 5961)");
            return self.challenge_ack(env);
        }
        let mut action = TwAction::Nothing;
        // Seventh: text after the FIN is ignored but acknowledged (as Linux does).
        if payload_len > 0 {
            action = TwAction::Ack;
        }
        // Eighth: the FIN again: acknowledge it and restart the 2 MSL timeout.
        if flags.fin() {
            self.deadline = env.now + env.cfg.time_wait();
            action = TwAction::Ack;
        }
        action
    }

    /// RFC 6191 §2: a SYN may reopen the 4-tuple when its timestamp is newer than
    /// TS.Recent, or (without timestamps) its sequence number is above RCV.NXT.
    fn accepts_syn(&self, seg: &TcpRepr) -> bool {
        match (self.ts_ok, seg.options.timestamp) {
            (true, Some((tsval, _))) => (tsval.wrapping_sub(self.ts_recent) as i32) > 0,
            (true, None) => false,
            (false, _) => Seq(seg.seq) > self.rcv_nxt,
        }
    }

    /// The ACK of RFC 9293 §3.10.7.4: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, with our
    /// timestamp (RFC 7323 §3.2) when timestamps are in use.
    pub(crate) fn ack(&self, now: Instant) -> TcpRepr {
        let mut options = TcpOptions::default();
        if self.ts_ok {
            let tsval = (now.total_millis() as u32).wrapping_add(self.ts_offset);
            options.timestamp = Some((tsval, self.ts_recent));
        }
        TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: self.snd_nxt.0,
            ack: self.rcv_nxt.0,
            flags: TcpFlags::ACK,
            window: self.window,
            urgent: 0,
            options,
        }
    }

    /// What `Stack::info` reports for a compacted connection: its state, ends, ISNs,
    /// RTO and receive window. Counters and congestion state were not kept (zero).
    pub(crate) fn info(&self) -> ConnInfo {
        ConnInfo {
            state: State::TimeWait,
            local: self.local,
            remote: self.remote,
            srtt: None,
            rttvar: None,
            rto: Duration::from_micros(u64::from(self.rto_micros)),
            cwnd: 0,
            ssthresh: 0,
            snd_wnd: 0,
            rcv_wnd: u32::from(self.window) << self.rcv_wscale,
            mss: 0,
            iss: self.iss,
            irs: self.irs,
            send_queue: 0,
            recv_queue: 0,
            buffer_bytes: 0,
            error: None,
            stats: ConnStats::default(),
        }
    }

    /// A rate-limited challenge ACK (RFC 5961 §3.2, §4.2, §7), limited as the full
    /// connection's (challenge.rs).
    fn challenge_ack(&mut self, env: &mut Env<'_>) -> TwAction {
        let interval = env.cfg.challenge_ack_interval;
        if crate::challenge::connection_allows(&mut self.challenge_at, env.now, interval)
            && *env.challenge_budget > 0
        {
            *env.challenge_budget -= 1;
            TwAction::Ack
        } else {
            TwAction::Nothing
        }
    }

    /// The answer to a segment PAWS or the window test dropped: an ACK, at most one
    /// per challenge-ACK interval for a bare ACK or a SYN (as a connection answers,
    /// `Connection::ack_invalid`; Linux `tcp_timewait_check_oow_rate_limit`).
    fn ack_invalid(&mut self, env: &Env<'_>, seg_len: u32, syn: bool) -> TwAction {
        if (seg_len == 0 || syn)
            && !crate::challenge::connection_allows(
                &mut self.challenge_at,
                env.now,
                env.cfg.challenge_ack_interval,
            )
        {
            return TwAction::Nothing;
        }
        TwAction::Ack
    }

    /// Record a dropped segment in the trace.
    fn dropped(&self, env: &mut Env<'_>, reason: &'static str) {
        env.record(self.local, self.remote, TraceKind::Dropped { reason });
    }
}

/// TIME-WAIT records in a slab, with their deadlines in a FIFO.
#[derive(Debug, Default)]
pub(crate) struct TimeWaitTable {
    recs: Vec<TimeWait>,
    free: Vec<u32>,
    /// `(deadline, index, generation)` in deadline order. Each live record has exactly
    /// one entry; entries of freed records are skipped. A record whose deadline was
    /// restarted is moved to its new place when its old entry comes up.
    fifo: VecDeque<(Instant, u32, u32)>,
    /// The front entry is known to be a live record's deadline (so polling the next
    /// deadline does not touch the oldest record, which is cold in the cache).
    front_ok: bool,
    /// The front entry's deadline, when `front_ok`.
    front_at: Instant,
    len: usize,
}

impl TimeWaitTable {
    /// Records held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Store `rec`; returns its index.
    pub(crate) fn insert(&mut self, mut rec: TimeWait) -> u32 {
        rec.live = true;
        let idx = match self.free.pop() {
            Some(i) => {
                rec.gen = self.recs[i as usize].gen;
                self.recs[i as usize] = rec;
                i
            }
            None => {
                rec.gen = 0;
                self.recs.push(rec);
                (self.recs.len() - 1) as u32
            }
        };
        let r = &self.recs[idx as usize];
        self.push_sorted((r.deadline, idx, r.gen));
        self.len += 1;
        idx
    }

    /// Queue an entry at its place, searching from the back (deadlines arrive in
    /// order, so this is normally a push).
    fn push_sorted(&mut self, e: (Instant, u32, u32)) {
        match self.fifo.back() {
            Some(b) if b.0 > e.0 => {
                let at = self.fifo.partition_point(|x| x.0 <= e.0);
                if at == 0 {
                    self.front_ok = false;
                }
                self.fifo.insert(at, e);
            }
            Some(_) => self.fifo.push_back(e),
            None => {
                self.front_ok = false;
                self.fifo.push_back(e);
            }
        }
    }

    /// The live record at `idx` (its deadline may be restarted through it).
    pub(crate) fn get_mut(&mut self, idx: u32) -> Option<&mut TimeWait> {
        self.front_ok = false;
        self.recs.get_mut(idx as usize).filter(|r| r.live)
    }

    /// The live record at `idx`.
    pub(crate) fn get(&self, idx: u32) -> Option<&TimeWait> {
        self.recs.get(idx as usize).filter(|r| r.live)
    }

    /// Delete the record at `idx`, returning its ends and slot.
    pub(crate) fn remove(&mut self, idx: u32) -> Option<(SocketAddr, SocketAddr, u32)> {
        let r = self.recs.get_mut(idx as usize).filter(|r| r.live)?;
        r.live = false;
        r.gen = r.gen.wrapping_add(1);
        let ends = (r.local, r.remote, r.slot);
        self.free.push(idx);
        self.len -= 1;
        self.front_ok = false;
        if self.len == 0 {
            self.fifo.clear();
        }
        Some(ends)
    }

    /// The earliest deadline of a live record.
    #[inline]
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        if self.front_ok {
            return Some(self.front_at);
        }
        if self.fifo.is_empty() {
            return None;
        }
        self.find_front()
    }

    /// Skip freed records' entries and requeue restarted ones until the front entry
    /// is a live record's deadline.
    #[inline(never)]
    fn find_front(&mut self) -> Option<Instant> {
        loop {
            let &(at, idx, gen) = self.fifo.front()?;
            let r = &self.recs[idx as usize];
            if !r.live || r.gen != gen {
                self.fifo.pop_front();
                continue;
            }
            if r.deadline != at {
                // Restarted (a retransmitted FIN): requeue at the new deadline.
                let e = (r.deadline, idx, gen);
                self.fifo.pop_front();
                self.push_sorted(e);
                continue;
            }
            self.front_ok = true;
            self.front_at = at;
            return Some(at);
        }
    }

    /// Index of a record whose deadline is `<= now` (it stays stored until
    /// [`remove`](TimeWaitTable::remove)d).
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<u32> {
        let at = self.next_deadline()?;
        if at > now {
            return None;
        }
        let (_, idx, _) = self.fifo.pop_front()?;
        self.front_ok = false;
        Some(idx)
    }
}
