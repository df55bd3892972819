//! Segment arrival (RFC 9293 §3.10.7.3 SYN-SENT and §3.10.7.4 other states), with
//! RFC 5961 protections, RFC 7323 PAWS and timestamps, RFC 5681 / RFC 6582 duplicate
//! ACK handling and RFC 6191 TIME-WAIT reuse.

use super::{wake, Connection, Env};
use crate::cc::{Ack, CongestionControl, Delivery};
use crate::error::ConnError;
use crate::seq::Seq;
use crate::state::State;
use crate::time::{Duration, Instant};
use crate::trace::TraceKind;
use alloc::boxed::Box;
use synack_wire::TcpRepr;

/// What the stack must do after a segment was processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing beyond what the connection queued itself.
    Done,
    /// Answer with this bare RST (built by the stack): `<SEQ=seq><CTL=RST>`.
    Reset {
        /// Sequence number of the RST.
        seq: u32,
    },
    /// A new SYN may reuse this TIME-WAIT 4-tuple (RFC 6191): close this connection and
    /// hand the SYN to a listener.
    Reopen,
}

/// RFC 7323 §5.5: a TS.Recent older than 24 days is invalid for PAWS.
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

/// RFC 7323 §5.3 R1, as Linux applies it (`tcp_paws_check` with
/// [`PAWS_WINDOW`]): `tsval` is too old against TS.Recent `ts_recent`, stamped at
/// `ts_recent_at`, at `now`. Shared by connections and TIME-WAIT records.
pub(crate) fn paws_too_old(
    ts_recent: u32,
    ts_recent_at: Instant,
    tsval: u32,
    now: Instant,
) -> bool {
    (ts_recent.wrapping_sub(tsval) as i32) > PAWS_WINDOW
        && now.saturating_duration_since(ts_recent_at) < PAWS_IDLE
}

/// How many timestamp ticks older than TS.Recent a segment may be and still pass
/// PAWS (Linux `TCP_PAWS_WINDOW`). RFC 7323 §5.3 R1 rejects anything older; a path
/// that reorders (jitter, several links) then rejects most of the ACKs that were
/// sent within a tick of each other and crossed on the way, and with them their
/// SACK blocks: on the P5 profile (10 ms of jitter each way) synack's sender dropped
/// two ACKs in three where Linux's dropped about one in nine.
const PAWS_WINDOW: i32 = 1;

impl Connection {
    /// A reordered duplicate ACK that PAWS lets through (Linux `tcp_disordered_ack`,
    /// RFC 7323 §5.3 leaves ACKs to the implementation): a pure ACK at RCV.NXT that
    /// acknowledges exactly SND.UNA, would not change the send window, and is at
    /// most 1.2 RTO older than TS.Recent. It can only carry SACK information, which
    /// recovery needs, and cannot be a replayed old segment that changes anything.
    fn disordered_ack(&self, seg: &TcpRepr, payload_len: usize, tsval: u32) -> bool {
        let flags = seg.flags;
        if !flags.ack() || flags.syn() || flags.fin() || payload_len != 0 {
            return false;
        }
        let seg_seq = Seq(seg.seq);
        if seg_seq != self.rcv_nxt || Seq(seg.ack) != self.snd_una {
            return false;
        }
        // RFC 9293 §3.10.7.4: the window would be taken from this segment if it is
        // newer (SND.WL1 < SEG.SEQ) or as new and acknowledging as much; Linux's
        // `tcp_may_update_window` also counts a larger or a zero window.
        let wnd = u32::from(seg.window) << self.snd_wscale;
        let updates =
            self.snd_wl1 < seg_seq || (self.snd_wl1 == seg_seq && (wnd > self.snd_wnd || wnd == 0));
        let replay_ticks = self.rtt.rto().as_millis().saturating_mul(6) / 5;
        !updates && u128::from(self.ts_recent.wrapping_sub(tsval)) <= replay_ticks
    }

    /// Process one segment addressed to this connection.
    pub(crate) fn handle_segment(
        &mut self,
        env: &mut Env<'_>,
        seg: &TcpRepr,
        payload: &[u8],
    ) -> Outcome {
        match self.state {
            State::Closed | State::Listen => return Outcome::Done,
            State::SynSent => return self.handle_syn_sent(env, seg, payload),
            _ => {}
        }
        let flags = seg.flags;
        let seg_seq = Seq(seg.seq);
        let seg_len = payload.len() as u32 + u32::from(flags.syn()) + u32::from(flags.fin());

        // RFC 6191 §3 / RFC 9293 §3.10.7.4: a new SYN for a 4-tuple in TIME-WAIT.
        // Otherwise such a SYN is treated like any SYN in a synchronized state.
        if self.state == State::TimeWait
            && flags.syn()
            && !flags.ack()
            && !flags.rst()
            && self.time_wait_accepts_syn(seg)
        {
            return Outcome::Reopen;
        }

        // A retransmitted SYN in SYN-RECEIVED: send the SYN-ACK again.
        if self.state == State::SynReceived
            && flags.syn()
            && !flags.ack()
            && !flags.rst()
            && seg_seq == self.irs
        {
            self.snd_nxt = self.iss;
            return Outcome::Done;
        }

        // Simultaneous open (RFC 9293 §3.5 Figure 7, line 6): the peer's SYN-ACK reaches
        // us in SYN-RECEIVED. Its SYN is a duplicate of the one we have, so strict
        // sequence checking would drop it; like the figure (and Linux), take its ACK
        // and become ESTABLISHED.
        let simultaneous_synack = self.state == State::SynReceived
            && self.listener.is_none()
            && flags.syn()
            && flags.ack()
            && !flags.rst()
            && seg_seq == self.irs
            && Seq(seg.ack) == self.snd_max;

        // RFC 7323 §5.3 R1: PAWS, with Linux's tolerance of one tick
        // (`TCP_PAWS_WINDOW`) and its exception for a reordered duplicate ACK.
        if self.ts_ok && !flags.rst() {
            if let Some((tsval, _)) = seg.options.timestamp {
                if paws_too_old(self.ts_recent, self.ts_recent_at, tsval, env.now)
                    && !self.disordered_ack(seg, payload.len(), tsval)
                {
                    self.drop_segment(env, "PAWS: old timestamp");
                    self.note_dsack(seg_seq, payload.len());
                    self.ack_invalid(env, seg_len, flags.syn());
                    return Outcome::Done;
                }
            }
        }

        // First: is the sequence number acceptable (RFC 9293 §3.10.7.4, four cases)?
        let wnd = self.rcv_adv.diff(self.rcv_nxt).max(0) as u32;
        let wnd = wnd.max(self.rcv_wnd());
        let acceptable = Seq::acceptable(seg_seq, seg_len, self.rcv_nxt, wnd);
        if !acceptable && !simultaneous_synack {
            // RFC 9293 §3.10.7.4 TIME-WAIT: a retransmitted FIN is acknowledged again and
            // restarts the 2 MSL timer.
            if self.state == State::TimeWait && flags.fin() && seg_seq + seg_len == self.rcv_nxt {
                self.linger_at = Some(env.now + env.cfg.time_wait());
                self.pend.ack_now = true;
                return Outcome::Done;
            }
            self.drop_segment(env, "sequence number outside the receive window");
            if !flags.rst() {
                self.note_dsack(seg_seq, payload.len());
                self.ack_invalid(env, seg_len, flags.syn());
            }
            return Outcome::Done;
        }
        self.stats.segs_received += 1;
        self.last_recv_at = env.now;
        self.keepalive_probes = 0;
        self.probes_out = 0;
        // The path works: forget an ICMP soft error (Linux tcp_ack clears sk_err_soft).
        self.soft_error = None;

        // RFC 7323 §4.3: remember TS.Recent from a segment that covers Last.ACK.sent.
        if self.ts_ok {
            if let Some((tsval, _)) = seg.options.timestamp {
                if seg_seq <= self.last_ack_sent && (tsval.wrapping_sub(self.ts_recent) as i32) >= 0
                {
                    self.ts_recent = tsval;
                    self.ts_recent_at = env.now;
                }
            }
        }

        // Second: RST (RFC 5961 §3.2).
        if flags.rst() {
            if seg_seq != self.rcv_nxt {
                self.challenge_ack(env);
                return Outcome::Done;
            }
            match self.state {
                // A Fast Open connection is the application's already (RFC 7413
                // §4.2.2): it is reset like an established one (Linux).
                State::SynReceived if self.fastopen_passive() => self.fail(ConnError::Reset, env),
                State::SynReceived if self.listener.is_some() => {
                    // Passive open: the half-open connection just goes away.
                    self.set_state(State::Closed, env);
                }
                // RFC 9293 §3.10.7.4 second, SYN-RECEIVED: "If this connection was
                // initiated with an active OPEN ..., then the connection was refused".
                State::SynReceived => self.fail(ConnError::Refused, env),
                State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                    self.fail(ConnError::Reset, env)
                }
                _ => self.set_state(State::Closed, env),
            }
            return Outcome::Done;
        }

        // Fourth: SYN in a synchronized state (RFC 5961 §4.2: challenge ACK).
        if flags.syn() && !simultaneous_synack {
            if self.state == State::SynReceived && self.listener.is_some() {
                self.set_state(State::Closed, env);
                return Outcome::Done;
            }
            self.challenge_ack(env);
            return Outcome::Done;
        }

        // Fifth: ACK.
        if !flags.ack() {
            self.drop_segment(env, "no ACK bit");
            return Outcome::Done;
        }
        let seg_ack = Seq(seg.ack);
        if self.state == State::SynReceived {
            if self.snd_una < seg_ack && seg_ack <= self.snd_max {
                let old_una = self.snd_una;
                self.snd_una = seg_ack;
                if self.snd_nxt < self.snd_una {
                    self.snd_nxt = self.snd_una;
                }
                // RFC 7323 §2.2: the window of a SYN-ACK is not scaled.
                let shift = if flags.syn() { 0 } else { self.snd_wscale };
                self.snd_wnd = u32::from(seg.window) << shift;
                self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
                self.snd_wl1 = seg_seq;
                self.snd_wl2 = seg_ack;
                // Karn (RFC 6298 §3) for a retransmitted SYN-ACK: the echo check
                // (RFC 7323 §4.3) compares against the SND.UNA before this ACK, so an
                // echo of the first SYN-ACK's TSval gives no sample.
                self.sample_rtt_on_ack(env, seg, seg_ack, old_una);
                self.retries = 0;
                self.rtt.reset_backoff();
                self.rto_at = None;
                self.set_state(State::Established, env);
                // A passive open goes to the listener's accept queue; a simultaneous
                // open (RFC 9293 §3.10.7.3, Figure 8) completes the application's connect.
                self.wake |= wake::WRITABLE;
                if self.tfo().is_some_and(|t| t.passive.is_some()) {
                    // RFC 7413 §4.2.2: a Fast Open connection went to the accept
                    // queue with its SYN; nothing more to announce.
                } else if self.listener.is_some() {
                    self.wake |= wake::ESTABLISHED_PASSIVE;
                } else {
                    self.wake |= wake::CONNECTED;
                }
                if self.fin_queued {
                    self.set_state(State::FinWait1, env);
                }
            } else {
                self.drop_segment(env, "ACK does not acknowledge our SYN-ACK");
                return Outcome::Reset { seq: seg.ack };
            }
        } else {
            // RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT].
            if seg_ack > self.snd_max {
                self.drop_segment(env, "ACK for data never sent");
                self.pend.ack_now = true;
                return Outcome::Done;
            }
            if seg_ack < self.snd_una - self.max_snd_wnd.max(1) {
                self.drop_segment(env, "ACK too old (RFC 5961)");
                self.challenge_ack(env);
                return Outcome::Done;
            }
            let old_wnd = self.snd_wnd;
            let una_before = self.snd_una;
            let sacked_before = self.sacked_bytes();
            if self.ecn != 0 && seg_ack >= una_before {
                // RFC 3168 §6.1.2 / §6.1.3: ECE and CWR (tcp/ecn.rs).
                self.ecn_on_ack(env, seg, !payload.is_empty());
            }
            // RFC 6675 §5: every ACK's SACK blocks update the scoreboard first.
            self.sack_update(seg, seg_ack);
            // RFC 8985 §6.2: the transmission log notes and times what was delivered.
            self.rack_log_ack(env, seg, seg_ack);
            let mut rtt_sample = None;
            let was_in_recovery = self.in_recovery;
            // RFC 9406 §4.2: a round ends when the data that was the highest sent at
            // its start is acknowledged.
            let new_round = seg_ack > self.snd_una && seg_ack >= self.round_end;
            if new_round {
                self.round_end = self.snd_max;
            }
            if seg_ack > self.snd_una {
                rtt_sample = self.handle_new_ack(env, seg, seg_ack);
                if self.sack_high < self.snd_una {
                    self.sack_high = self.snd_una;
                }
            } else if seg_ack == self.snd_una
                && payload.is_empty()
                && !flags.fin()
                && self.snd_max != self.snd_una
                && ((u32::from(seg.window) << self.snd_wscale) == old_wnd
                    || self.sacks_new_data(seg))
            {
                // RFC 6675 §2: with SACK, an ACK reporting new out-of-order data is a
                // duplicate ACK even when its window changed (Linux receivers grow the
                // window with every read, so the RFC 5681 §2 rule alone rarely counts
                // three of them and loss recovery falls back to the RTO).
                self.handle_dup_ack(env);
            }
            if seg_ack <= una_before {
                // An ACK that SACKs new data times it too (RFC 6298 §3 per record).
                rtt_sample = self.sample_rtt_from_log(env);
            }
            if new_round {
                self.rtt.end_round();
            }
            // RFC 8985 §6.2: RACK adapts its window and marks losses.
            let rack = self.rack_on_ack(env, seg);
            self.sack_after_ack(env);
            // Every ACK tells the controller what it delivered (each byte once: when
            // SACKed or, if never SACKed, when cumulatively acknowledged).
            let delivered = (self.snd_una.since(una_before) + self.sacked_bytes())
                .saturating_sub(sacked_before);
            if self.cc.observes_delivery() {
                let off = self.snd_nxt.since(self.buf_seq) as usize;
                let delivery = Delivery {
                    delivered,
                    in_flight: self.pipe_for_cc(),
                    lost: rack.lost_bytes,
                    in_recovery: self.in_recovery || self.snd_una < self.recover,
                    mss: u32::from(self.mss),
                    rtt_sample,
                    new_round,
                    app_limited: self.send.len() <= off,
                };
                self.cc.on_delivery(env.now, &delivery);
            }
            if !was_in_recovery && !self.in_recovery {
                let cum_acked = self.snd_una.since(una_before);
                self.grow_cwnd(env, cum_acked, delivered, rtt_sample, new_round);
            }
            // RFC 6937bis §6: a "safe" ACK advanced SND.UNA and showed no new loss.
            let safe_ack = self.snd_una > una_before && rack.lost == 0;
            self.prr_on_ack(env.cfg, delivered, safe_ack);
        }
        if simultaneous_synack {
            // Only the ACK of the duplicate SYN-ACK is new; nothing else to process.
            return Outcome::Done;
        }
        // Window update (RFC 9293 §3.10.7.4 fifth, ESTABLISHED).
        if self.snd_wl1 < seg_seq || (self.snd_wl1 == seg_seq && self.snd_wl2 <= seg_ack) {
            self.snd_wnd = u32::from(seg.window) << self.snd_wscale;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = seg_seq;
            self.snd_wl2 = seg_ack;
            if self.snd_wnd > 0 {
                self.persist_at = None;
                self.persist_backoff = 0;
            }
        }
        // Linux pushes on every ACK (`tcp_data_snd_check`), which ends the cork of a
        // `MSG_MORE` write (tcp/cork.rs).
        self.cork_on_push(false);
        if env.trace.is_some() {
            self.trace_congestion(env);
        }
        let fin_acked = self.fin_acked();
        match self.state {
            State::FinWait1 if fin_acked => {
                self.set_state(State::FinWait2, env);
                if self.orphan {
                    self.linger_at = Some(env.now + self.opts.fin_wait2_timeout);
                }
            }
            State::Closing if fin_acked => {
                self.set_state(State::TimeWait, env);
                return Outcome::Done;
            }
            State::LastAck if fin_acked => {
                self.set_state(State::Closed, env);
                return Outcome::Done;
            }
            _ => {}
        }

        // Seventh: segment text.
        if !payload.is_empty() {
            match self.state {
                State::Established | State::FinWait1 | State::FinWait2 => {
                    if self.orphan && self.fin_queued {
                        // Data for an application that closed: RFC 1122 §4.2.2.13 says
                        // send a reset to show data was lost (RFC 2525 §2.17). Like
                        // Linux, answer the segment itself, <SEQ=SEG.ACK><CTL=RST>
                        // (RFC 9293 §3.10.7.1 form), which the peer finds exact.
                        self.fail(ConnError::Aborted, env);
                        return Outcome::Reset { seq: seg.ack };
                    }
                    if self.ecn != 0 {
                        // RFC 3168 §6.1.3: a CE mark (tcp/ecn.rs).
                        self.ecn_on_data();
                    }
                    self.accept_data(env, seg_seq, payload);
                }
                _ => {
                    // After a FIN no more data can arrive: ignore the text (RFC 9293
                    // §3.10.7.4 seventh step) but answer with an ACK of RCV.NXT, as
                    // Linux does (TIME-WAIT: TCP_TW_ACK), so a confused peer resyncs.
                    self.pend.ack_now = true;
                }
            }
        }

        // Eighth: FIN.
        if flags.fin() {
            let fin_seq = seg_seq + payload.len() as u32;
            if fin_seq > self.rcv_nxt && self.state.can_receive() {
                self.fin_pending = Some(fin_seq);
            } else if fin_seq == self.rcv_nxt || self.fin_received {
                self.accept_fin(env);
            }
        }
        if let Some(f) = self.fin_pending {
            if f == self.rcv_nxt {
                self.accept_fin(env);
            }
        }
        Outcome::Done
    }

    /// RFC 9293 §3.10.7.3: a segment arriving in SYN-SENT.
    fn handle_syn_sent(&mut self, env: &mut Env<'_>, seg: &TcpRepr, payload: &[u8]) -> Outcome {
        let flags = seg.flags;
        let seg_ack = Seq(seg.ack);
        let ack_ok = flags.ack() && seg_ack > self.iss && seg_ack <= self.snd_max;
        // First: check the ACK.
        if flags.ack() && !ack_ok {
            self.drop_segment(env, "ACK does not acknowledge our SYN");
            if flags.rst() {
                return Outcome::Done;
            }
            return Outcome::Reset { seq: seg.ack };
        }
        // A SYN-ACK whose TSecr is no TSval we sent (RFC 7323 §3.2: TSecr echoes one)
        // answers no SYN of ours: reset it and stay in SYN-SENT, as Linux does
        // (PAWSACTIVEREJECTED). Nothing has been received yet, so `last_recv_at`
        // still holds when the connection began, the first SYN's time.
        if ack_ok && env.cfg.timestamps {
            if let Some((_, tsecr)) = seg.options.timestamp {
                let first = self.ts_now(self.last_recv_at);
                let now = self.ts_now(env.now);
                if tsecr != 0 && now.wrapping_sub(tsecr) > now.wrapping_sub(first) {
                    self.drop_segment(env, "SYN-ACK echoes a timestamp we never sent");
                    if flags.rst() {
                        return Outcome::Done;
                    }
                    return Outcome::Reset { seq: seg.ack };
                }
            }
        }
        // Second: RST. RFC 5961 §3.2: acceptable only with an ACK of our SYN.
        if flags.rst() {
            if ack_ok {
                self.fail(ConnError::Refused, env);
            } else {
                self.drop_segment(env, "RST without ACK in SYN-SENT");
            }
            return Outcome::Done;
        }
        // Fourth: SYN.
        if !flags.syn() {
            self.drop_segment(env, "neither SYN nor RST in SYN-SENT");
            return Outcome::Done;
        }
        self.stats.segs_received += 1;
        self.last_recv_at = env.now;
        self.irs = Seq(seg.seq);
        self.rcv_nxt = self.irs + 1;
        // Our SYN's window was not anchored to the peer's sequence space (there was no
        // RCV.NXT yet): nothing has been advertised beyond RCV.NXT so far.
        self.rcv_adv = self.rcv_nxt;
        self.negotiate_syn_options(env.cfg, seg, false);
        // RFC 3168 §6.1.1: did the peer agree to ECN?
        self.ecn_syn_received(seg);
        if let Some((tsval, _)) = seg.options.timestamp {
            self.ts_recent = tsval;
            self.ts_recent_at = env.now;
        }
        // RFC 7323 §2.2: the window of a SYN or SYN-ACK is not scaled.
        self.snd_wnd = u32::from(seg.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = self.irs;
        if ack_ok {
            self.snd_una = seg_ack;
            if self.snd_nxt < self.snd_una {
                self.snd_nxt = self.snd_una;
            }
            self.snd_wl2 = seg_ack;
            self.sample_rtt_on_ack(env, seg, seg_ack, self.snd_una);
            self.retries = 0;
            self.rtt.reset_backoff();
            self.rto_at = None;
            // RFC 7413 §4.2.1: SYN data the SYN-ACK did not acknowledge goes again at
            // once, and queued data carries the handshake's ACK (as in Linux).
            let data_waiting = self.fastopen_synack(seg, seg_ack);
            if self.snd_una < self.snd_max {
                self.rto_at = Some(env.now.add_micros(self.rtt.rto_us()));
            }
            self.set_state(State::Established, env);
            self.wake |= wake::CONNECTED | wake::WRITABLE;
            if !data_waiting {
                self.pend.ack_now = true;
                self.pend.handshake_ack = true;
            }
            if !payload.is_empty() {
                self.accept_data(env, self.rcv_nxt, payload);
            }
            if self.fin_queued {
                self.set_state(State::FinWait1, env);
            }
            if flags.fin() && payload.len() as u32 + self.irs.0 + 1 == self.rcv_nxt.0 {
                self.accept_fin(env);
            }
        } else {
            // Simultaneous open (RFC 9293 §3.10.7.3 fourth, Figure 7): SYN-RECEIVED,
            // and send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
            self.set_state(State::SynReceived, env);
            self.snd_nxt = self.iss;
        }
        Outcome::Done
    }

    /// New data acknowledged: SND.UNA advances (RFC 9293 §3.10.7.4 fifth).
    /// Returns the RTT sample the ACK gave, if any.
    fn handle_new_ack(
        &mut self,
        env: &mut Env<'_>,
        seg: &TcpRepr,
        seg_ack: Seq,
    ) -> Option<Duration> {
        let acked = seg_ack.since(self.snd_una);
        let old_una = self.snd_una;
        // Remove acknowledged data from the send buffer (SYN and FIN are not in it).
        if seg_ack > self.buf_seq {
            let n = (seg_ack.since(self.buf_seq) as usize).min(self.send.len());
            self.send.consume(n);
            self.buf_seq += n as u32;
            self.stats.bytes_acked += n as u64;
        }
        self.snd_una = seg_ack;
        if self.snd_nxt < self.snd_una {
            self.snd_nxt = self.snd_una;
        }
        let rtt_sample = self.sample_rtt_on_ack(env, seg, seg_ack, old_una);
        let mss = u32::from(self.mss);
        if self.in_recovery {
            let tsecr = seg.options.timestamp.map(|(_, ecr)| ecr);
            let spurious = seg_ack < self.recover && self.rack_partial_ack_undoes(tsecr);
            if spurious {
                // Nothing of this window was lost: a loss above SND.UNA may start
                // recovery again at once (RFC 6675 §5's RecoveryPoint guards a
                // window that was).
                self.recover = seg_ack;
            }
            if seg_ack >= self.recover {
                // RFC 6582 §3.2 step 6 / RFC 6675 §5: an ACK covering RecoveryPoint
                // ends recovery; so does a partial ACK that shows, by its timestamp,
                // that the originals arrived and every retransmission was needless
                // (RFC 3522; the undo follows in `rack_on_recovery_exit`).
                let flight = self.recovery_exit_flight();
                self.in_recovery = false;
                self.sack_exit_recovery();
                self.cc.on_recovery_exit(flight, mss);
                if let Some(rack) = self.rack.as_deref_mut() {
                    rack.on_recovery_exit();
                }
                self.rack_on_recovery_exit(tsecr);
                self.refill_after_recovery(env.cfg);
            } else if self.in_sack_recovery() {
                // RFC 6675 §5: a partial ACK changes neither cwnd nor HighRxt; pipe
                // decides what the next transmission opportunity sends.
            } else {
                // RFC 6582 §3.2 step 5: partial ACK: retransmit the next hole.
                self.cc.on_partial_ack(acked, mss);
                self.pend.rtx_one = true;
            }
        }
        self.sack_on_new_ack();
        self.dupacks = 0;
        // RFC 6298 §5.2 / §5.3: stop the timer when all is acknowledged, else restart.
        self.retries = 0;
        self.rtt.reset_backoff();
        if self.snd_una == self.snd_max {
            self.rto_at = None;
            self.stalled_since = None;
        } else {
            self.rto_at = Some(env.now.add_micros(self.rtt.rto_us()));
            self.stalled_since = Some(env.now);
        }
        // RFC 8985 §7.2: restart the probe timeout on a new cumulative ACK.
        self.tlp_sent = 0;
        self.arm_pto(env.now, env.cfg.loss_probes);
        if self.want_writable && self.send_space_wakes() {
            self.want_writable = false;
            self.wake |= wake::WRITABLE;
        }
        rtt_sample
    }

    /// The window grows on an ACK outside loss recovery that acknowledged
    /// `cum_acked` bytes cumulatively and `delivered` bytes in all (newly
    /// acknowledged or newly SACKed, each byte once).
    ///
    /// RFC 5681 §3.1 counts what the ACK acknowledges cumulatively. Once the path
    /// has been seen to reorder (RACK.reordering_seen, RFC 8985 §6.2 step 3) the
    /// count is what was delivered, on every ACK, as Linux counts once its
    /// reordering degree is above the default (`tcp_may_raise_cwnd` then takes any
    /// forward progress, and `tcp_cong_control` passes `acked_sacked`): there a
    /// SACK is delivery, not a sign of loss. By RFC 5681's count a reordering path
    /// holds slow start back: data that arrived early waits for the hole below it,
    /// then comes in one cumulative jump that L caps (RFC 9406 §4.2). On the
    /// simulated P5 (20 ms of jitter) CUBIC's goodput rose 15 % over 200 seeds.
    ///
    /// RFC 7661 §4.3: cwnd grows only while the flow uses it; RFC 3168 §6.1.2: not in
    /// the window of an ECN reduction.
    fn grow_cwnd(
        &mut self,
        env: &Env<'_>,
        cum_acked: u32,
        delivered: u32,
        rtt_sample: Option<Duration>,
        new_round: bool,
    ) {
        let bytes_acked = if self.rack_reordering_seen() {
            delivered
        } else {
            cum_acked
        };
        if bytes_acked == 0 || !self.is_cwnd_limited() || self.ecn_in_cwr() {
            return;
        }
        let ack = Ack {
            bytes_acked,
            mss: u32::from(self.mss),
            srtt: self.rtt.srtt(),
            rtt_sample,
            new_round,
            paced: env.cfg.pacing,
        };
        self.cc.on_ack(env.now, &ack);
    }

    /// True if `seg` carries a SACK block (RFC 2018 §3) reporting data above both
    /// SND.UNA and the highest edge SACKed so far; records that edge. A D-SACK block
    /// (RFC 2883, below SND.UNA) is not new data.
    fn sacks_new_data(&mut self, seg: &TcpRepr) -> bool {
        if !self.sack_ok {
            return false;
        }
        let mut new = false;
        for b in seg.options.sack_blocks() {
            let (left, right) = (Seq(b.left), Seq(b.right));
            if left >= self.snd_una
                && right > left
                && right <= self.snd_max
                && right > self.sack_high
            {
                self.sack_high = right;
                new = true;
            }
        }
        new
    }

    /// A duplicate ACK (RFC 5681 §2): count it; the third starts fast retransmit and
    /// NewReno fast recovery (RFC 5681 §3.2, RFC 6582 §3.2).
    fn handle_dup_ack(&mut self, env: &mut Env<'_>) {
        self.stats.dup_acks += 1;
        self.dupacks += 1;
        if self.in_recovery {
            // RFC 5681 §3.2 step 4 inflation, for NewReno only: in SACK-based
            // recovery pipe accounts for the data that left the network (RFC 6675 §5).
            if !self.in_sack_recovery() {
                self.cc.on_recovery_dup_ack(u32::from(self.mss));
            }
        } else if self.dupacks == 3 && !self.rack_mode() {
            // RFC 6582 §3.2 step 2 / RFC 6675 §5 step (2): DupThresh reached. With
            // SACK blocks, RACK's time order decides instead (RFC 8985 §6.2).
            self.enter_recovery(env);
        }
    }

    /// Take an RTT sample from the transmission log's send times of what this ACK
    /// delivered ([`Rack::ack_rtt`](super::rack::Rack::ack_rtt)): SRTT takes the
    /// earliest record's, and the returned sample (for the congestion controller's
    /// minimum RTT) is the latest record's.
    fn sample_rtt_from_log(&mut self, env: &Env<'_>) -> Option<Duration> {
        let s = self.rack.as_deref()?.ack_rtt(env.now.total_micros())?;
        self.rtt.sample_us(s.srtt_us);
        Some(Duration::from_micros(s.ca_us))
    }

    /// Take an RTT sample from an ACK that advanced SND.UNA: from the transmission
    /// log when it timed what was delivered, else from the timestamp echo (RFC 7323
    /// §4.1) or from the one timed segment (RFC 6298 §3, Karn's rule). Returns the
    /// sample taken, if any.
    fn sample_rtt_on_ack(
        &mut self,
        env: &mut Env<'_>,
        seg: &TcpRepr,
        seg_ack: Seq,
        old_una: Seq,
    ) -> Option<Duration> {
        if let Some(rtt) = self.sample_rtt_from_log(env) {
            // The timed-segment probe is not needed (RFC 7323 §4.1 likewise).
            self.rtt_probe = None;
            return Some(rtt);
        }
        if self.ts_ok {
            if let Some((_, tsecr)) = seg.options.timestamp {
                let mut sample = None;
                if tsecr != 0 && self.ts_sample_ok(old_una, tsecr) {
                    let ms = self.ts_now(env.now).wrapping_sub(tsecr);
                    if (ms as i32) >= 0 {
                        let rtt = Duration::from_millis(u64::from(ms));
                        self.rtt.sample(rtt);
                        sample = Some(rtt);
                    }
                }
                // RFC 7323 §4.1: timestamps time every segment; the timed-segment
                // probe is not needed (and must not give a stale sample later).
                self.rtt_probe = None;
                return sample;
            }
        }
        if let Some((seq, at)) = self.rtt_probe {
            if seg_ack > seq {
                let now_us = env.now.total_micros() as u32;
                let rtt = Duration::from_micros(u64::from(now_us.wrapping_sub(at)));
                self.rtt.sample(rtt);
                self.rtt_probe = None;
                return Some(rtt);
            }
        }
        None
    }

    /// Receive fast path for the checksum: when `payload` starts at RCV.NXT in a state
    /// that takes data and nothing is held out of order, copy it to where it will be
    /// readable and return its checksum sum, computed during the copy. The caller
    /// completes the check (RFC 9293 §3.1) before anything else looks at the segment:
    /// on a mismatch it drops the segment and calls `recv.unstage()`, so no state
    /// changed; on a match the text step (`accept_data`) commits the bytes in place.
    /// `None`: not the common case; the caller sums the payload itself.
    /// `room`: buffer memory the stack may still allocate (a payload that needs more is
    /// not staged; the text step then drops it).
    pub(crate) fn stage_payload(
        &mut self,
        seg: &TcpRepr,
        payload: &[u8],
        room: usize,
    ) -> Option<u32> {
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) || Seq(seg.seq) != self.rcv_nxt
            || seg.flags.syn()
            || seg.flags.rst()
            || self.recv.growth_for(payload.len()) > room
        {
            return None;
        }
        self.recv.stage(payload)
    }

    /// True when storing `len` bytes at `offset` past RCV.NXT needs no more buffer
    /// memory than the stack's hard limit leaves (or the payload is already staged).
    fn recv_memory_ok(&self, env: &Env<'_>, offset: usize, len: usize) -> bool {
        self.recv.growth_for(offset + len) <= env.mem.room
    }

    /// Store in-window data and decide how to acknowledge it (RFC 9293 §3.10.7.4
    /// seventh; RFC 5681 §4.2 delayed ACKs, RFC 2018 immediate ACK on out-of-order).
    fn accept_data(&mut self, env: &mut Env<'_>, seg_seq: Seq, payload: &[u8]) {
        let mut data = payload;
        let mut offset = seg_seq.diff(self.rcv_nxt);
        if offset < 0 {
            // RFC 2883 §4 (Linux tcp_data_queue): report the part already received.
            self.note_dsack(seg_seq, payload.len());
            let skip = (-offset) as usize;
            if skip >= data.len() {
                self.pend.ack_now = true;
                return;
            }
            data = &data[skip..];
            offset = 0;
        } else if offset > 0 && self.dsack_enabled() {
            // RFC 2883 §4: out-of-order data that was already held.
            let (from, to) = (offset as usize, offset as usize + data.len());
            let dup = self
                .recv
                .sack_ranges(usize::MAX)
                .find(|&(s, e)| s < to && from < e)
                .map(|(s, e)| (s.max(from), e.min(to)));
            if let Some((s, e)) = dup {
                self.set_dsack(self.rcv_nxt + s as u32, self.rcv_nxt + e as u32);
            }
        }
        if !self.recv_memory_ok(env, offset as usize, data.len()) {
            // The stack's hard memory limit (crate::memory): the data is not stored
            // and so not acknowledged; the peer sends it again.
            self.drop_segment(env, "buffer memory limit");
            return;
        }
        let had_gap = self.recv.has_out_of_order();
        let n = self.recv.write_at(offset as usize, data);
        if n > 0 {
            self.rcv_nxt += n as u32;
            self.stats.bytes_received += n as u64;
            self.wake |= wake::READABLE;
            self.autotune_on_data(env);
        }
        if offset > 0 || had_gap || n == 0 {
            // Out of order, filling a hole, or a duplicate: ACK at once.
            self.pend.ack_now = true;
            return;
        }
        if self.quickacks > 0 && !self.fastopen_pingpong() {
            // Quick-ACK mode (Linux tcp_in_quickack_mode; RFC 1122 §4.2.3.2 lets a
            // receiver acknowledge sooner than the delayed-ACK timeout).
            self.quickacks -= 1;
            self.pend.ack_now = true;
            return;
        }
        // A GRO super-segment counts for every full-sized segment it carries, so the
        // every-second-segment rule (RFC 5681 §4.2) still holds for it.
        let segs = (n / usize::from(self.mss).max(1)).clamp(1, usize::from(u16::MAX)) as u16;
        self.unacked_segs = self.unacked_segs.saturating_add(segs);
        match self.opts.delayed_ack {
            Some(d) if self.unacked_segs < 2 => {
                if self.delack_at.is_none() {
                    self.delack_at = Some(env.now + d);
                }
            }
            _ => self.pend.ack_now = true,
        }
    }

    /// D-SACK (RFC 2883) is reported to peers that negotiated SACK, as Linux does by
    /// default (net.ipv4.tcp_dsack = 1).
    fn dsack_enabled(&self) -> bool {
        self.sack_ok && self.state.is_synchronized()
    }

    /// RFC 2883 §4: `len` bytes at `seg_seq` arrived again; the part below RCV.NXT
    /// goes in the next ACK's first SACK block.
    fn note_dsack(&mut self, seg_seq: Seq, len: usize) {
        if len == 0 || !self.dsack_enabled() || seg_seq >= self.rcv_nxt {
            return;
        }
        let end = (seg_seq + len as u32).min(self.rcv_nxt);
        self.set_dsack(seg_seq, end);
    }

    /// The peer's FIN, in order (RFC 9293 §3.10.7.4 eighth).
    fn accept_fin(&mut self, env: &mut Env<'_>) {
        self.fin_pending = None;
        if !self.fin_received {
            self.rcv_nxt += 1;
            self.fin_received = true;
            self.wake |= wake::READABLE;
        }
        self.pend.ack_now = true;
        match self.state {
            State::SynReceived | State::Established => self.set_state(State::CloseWait, env),
            State::FinWait1 => {
                if self.fin_acked() {
                    self.set_state(State::TimeWait, env);
                } else {
                    self.set_state(State::Closing, env);
                }
            }
            State::FinWait2 => self.set_state(State::TimeWait, env),
            State::TimeWait => self.linger_at = Some(env.now + env.cfg.time_wait()),
            _ => {}
        }
    }

    /// RFC 6191 §2: a SYN may reopen a TIME-WAIT connection when its timestamp is newer
    /// than TS.Recent, or (without timestamps) its sequence number is above RCV.NXT.
    fn time_wait_accepts_syn(&self, seg: &TcpRepr) -> bool {
        match (self.ts_ok, seg.options.timestamp) {
            (true, Some((tsval, _))) => (tsval.wrapping_sub(self.ts_recent) as i32) > 0,
            (true, None) => false,
            (false, _) => Seq(seg.seq) > self.rcv_nxt,
        }
    }

    /// Queue a rate-limited challenge ACK (RFC 5961 §3.2, §4.2, §7): one per
    /// connection per `challenge_ack_interval`, then the stack-wide budget
    /// (challenge.rs: no side channel, CVE-2016-5696).
    fn challenge_ack(&mut self, env: &mut Env<'_>) {
        let interval = env.cfg.challenge_ack_interval;
        let last = &mut self.rare.get_or_insert_with(Box::default).challenge_at;
        if !crate::challenge::connection_allows(last, env.now, interval) {
            return;
        }
        if *env.challenge_budget > 0 {
            *env.challenge_budget -= 1;
            self.pend.ack_now = true;
            self.stats.challenge_acks += 1;
        }
    }

    /// Answer a segment that PAWS (RFC 7323 §5.3 R1) or the window test (RFC 9293
    /// §3.10.7.4) dropped with an ACK of where this end stands. A segment that takes
    /// no sequence space (`seg_len` 0: a bare ACK) or a SYN is answered at most once
    /// per [`Config::challenge_ack_interval`](crate::Config::challenge_ack_interval),
    /// the same per-connection allowance challenge ACKs use, as Linux limits
    /// these (`tcp_oow_rate_limited`, `tcp_invalid_ratelimit`): two ends that each
    /// find the other's ACKs unacceptable (desynchronized by a middlebox, or
    /// spoofed ACKs) would otherwise answer each other without end, and a path that
    /// reorders ACKs would draw one answer per reordered ACK. Data and FINs are
    /// always answered: a sender that retransmits needs the ACK.
    fn ack_invalid(&mut self, env: &Env<'_>, seg_len: u32, syn: bool) {
        if seg_len == 0 || syn {
            let interval = env.cfg.challenge_ack_interval;
            let last = &mut self.rare.get_or_insert_with(Box::default).challenge_at;
            if !crate::challenge::connection_allows(last, env.now, interval) {
                return;
            }
        }
        self.pend.ack_now = true;
    }

    /// Count and trace a dropped segment.
    fn drop_segment(&mut self, env: &mut Env<'_>, reason: &'static str) {
        self.stats.dropped += 1;
        env.record(self.local, self.remote, TraceKind::Dropped { reason });
    }
}
