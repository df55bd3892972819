//! Choosing the next segment to send: SYN / SYN-ACK, data within the send and
//! congestion windows with Nagle and sender-side SWS avoidance (RFC 9293 §3.8.6.2.1,
//! RFC 1122 §4.2.3.4), FIN, retransmissions, zero-window and keep-alive probes, and
//! ACKs with the receive window (receiver-side SWS avoidance, §3.8.6.2.2), timestamps
//! and SACK blocks.

use super::recovery::SackSend;
use super::Connection;
use super::Env;
use crate::cc::CongestionControl;
use crate::seq::Seq;
use crate::state::State;
use crate::trace::{Direction, SegmentTrace, TraceEvent, TraceKind};
use synack_wire::tcp::MAX_SACK_BLOCKS;
use synack_wire::{SackBlock, TcpFlags, TcpOptions, TcpRepr};

/// A segment the connection wants sent: header, and which bytes of the send buffer
/// form its payload (the stack copies them straight into the packet).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outgoing {
    pub(crate) repr: TcpRepr,
    /// Offset of the payload in the send buffer.
    pub(crate) payload_off: usize,
    /// Payload length.
    pub(crate) payload_len: usize,
    /// The packet is ECT(0) (RFC 3168 §6.1.2; tcp/ecn.rs decides).
    pub(crate) ect: bool,
}

/// Linux `tcp_probe0_base`: the probe timer waits at least `TCP_RTO_MIN` (200 ms).
const PROBE0_BASE_MIN_US: u64 = 200_000;

impl Connection {
    /// False only when [`poll_segment`](Connection::poll_segment) would return `None`
    /// without changing anything, so the stack need not queue the connection for
    /// output. A cheap over-approximation of its conditions, checked after every call.
    pub(crate) fn wants_poll(&self) -> bool {
        if self.pend.any() || self.in_sack_recovery() {
            return true;
        }
        match self.state {
            State::Closed | State::Listen => false,
            State::SynReceived if self.fastopen_passive() && self.snd_nxt != self.iss => {
                let off = self.snd_nxt.since(self.buf_seq) as usize;
                self.send.len() > off
            }
            State::SynSent | State::SynReceived => self.snd_nxt == self.iss,
            _ => {
                // Data at or beyond SND.NXT (new or to resend), or a FIN not yet sent:
                // the only cases in which `data_segment` sends or arms a timer.
                let off = self.snd_nxt.since(self.buf_seq) as usize;
                self.send.len() > off || self.fin_seq() == Some(self.snd_nxt)
            }
        }
    }

    /// The next segment to send, if any. Call until `None`.
    pub(crate) fn poll_segment(&mut self, env: &mut Env<'_>) -> Option<Outgoing> {
        if self.pend.rst_pending {
            self.pend.rst_pending = false;
            let repr = TcpRepr {
                src_port: self.local.port(),
                dst_port: self.remote.port(),
                seq: self.snd_max.0,
                ack: self.rcv_nxt.0,
                flags: TcpFlags::RST | TcpFlags::ACK,
                window: 0,
                urgent: 0,
                options: TcpOptions::default(),
            };
            return Some(self.finish(env, repr, 0, 0, false));
        }
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent | State::SynReceived => {
                if self.snd_nxt == self.iss {
                    return Some(self.syn_segment(env));
                }
                if self.state == State::SynReceived && self.pend.ack_now {
                    return self.ack_segment(env, self.snd_nxt);
                }
                // RFC 7413 §4.2.2: a Fast Open server may send data before the
                // handshake completes (as Linux does).
                if !(self.state == State::SynReceived && self.fastopen_passive()) {
                    return None;
                }
            }
            _ => {}
        }
        if self.pend.handshake_ack {
            // RFC 9293 §3.10.7.3: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> completes the
            // handshake; data follows in its own segments.
            self.pend.handshake_ack = false;
            if self.pend.ack_now {
                return self.ack_segment(env, self.snd_nxt);
            }
        }
        if let Some(out) = self.data_segment(env) {
            return Some(out);
        }
        if self.pend.probe_pending {
            // Zero-window probe: like Linux, a segment with SEG.SEQ = SND.UNA - 1 that the
            // peer must answer with an ACK carrying its window (RFC 9293 §3.8.6.1).
            self.pend.probe_pending = false;
            return self.ack_segment(env, self.snd_una - 1);
        }
        if self.pend.keepalive_pending {
            // RFC 1122 §4.2.3.6: a keep-alive is SEG.SEQ = SND.NXT - 1 with no data.
            self.pend.keepalive_pending = false;
            return self.ack_segment(env, self.snd_una - 1);
        }
        if self.pend.ack_now {
            // After an RTO, SND.NXT is rewound to SND.UNA (go-back-N) while the peer may
            // already hold data up to SND.MAX; an ACK carrying the old SND.NXT would be
            // unacceptable there (RFC 9293 §3.10.7.4 first check) and its ACK field
            // ignored. SND.MAX is never below the peer's RCV.NXT.
            return self.ack_segment(env, self.snd_max);
        }
        None
    }

    /// SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED), first sending or retransmission.
    pub(super) fn syn_segment(&mut self, env: &mut Env<'_>) -> Outgoing {
        let cfg = env.cfg;
        let passive = self.state == State::SynReceived;
        let mut options = TcpOptions::default();
        let mut mss = cfg.advertised_mss(self.local.is_ipv6());
        if let Some(m) = self.opts.max_segment {
            mss = mss.min(m);
        }
        if !passive {
            // Lowered by an ICMP "fragmentation needed" (stack/icmp.rs): the SYN
            // offers what the path carries (Linux advertises the route's MSS).
            mss = mss.min(self.mss);
        }
        options.mss = Some(mss);
        let offer_ws = if passive {
            self.ws_ok
        } else {
            cfg.window_scaling
        };
        if offer_ws {
            options.window_scale = Some(self.rcv_wscale);
        }
        options.sack_permitted = if passive { self.sack_ok } else { cfg.sack };
        let offer_ts = if passive { self.ts_ok } else { cfg.timestamps };
        if offer_ts {
            let ecr = if passive { self.ts_recent } else { 0 };
            options.timestamp = Some((self.ts_now(env.now), ecr));
        }
        let mut flags = TcpFlags::SYN;
        if passive {
            flags |= TcpFlags::ACK;
        }
        // A SYN sent again after an RTO (not the first SYN-ACK of a simultaneous open).
        let retransmission = self.snd_max != self.iss && self.retries > 0;
        // RFC 3168 §6.1.1: ECN-setup SYN / SYN-ACK.
        flags |= self.ecn_syn_flags(passive, retransmission);
        // RFC 7413: the cookie option, and data in a client's first SYN.
        let (fast_open, syn_data) = if self.tfo().is_some() {
            self.fastopen_syn(retransmission)
        } else {
            (None, 0)
        };
        options.fast_open = fast_open;
        // RFC 7323 §2.2: the window of a SYN is never scaled.
        let window = self.rcv_wnd().min(65535) as u16;
        self.rcv_adv = self.rcv_nxt + u32::from(window);
        let repr = TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: self.iss.0,
            ack: if passive { self.rcv_nxt.0 } else { 0 },
            flags,
            window,
            urgent: 0,
            options,
        };
        self.snd_nxt = self.iss + 1 + syn_data;
        if retransmission {
            self.rtt_probe = None;
            self.stats.segs_retransmitted += 1;
            // Karn for the handshake too: an echo of an earlier SYN's TSval is no sample.
            if let Some((tsval, _)) = options.timestamp {
                self.note_retransmission_ts(tsval, self.iss + 1);
            }
        } else {
            self.snd_max = self.iss + 1 + syn_data;
            // Time the SYN even when we offer timestamps: the peer may decline them,
            // and then this is the only RTT sample of the handshake (RFC 6298 §2).
            self.rtt_probe = Some((self.iss, env.now.total_micros() as u32));
        }
        if self.rto_at.is_none() {
            self.rto_at = Some(env.now.add_micros(self.rtt.rto_us()));
        }
        if passive {
            self.after_ack_sent();
        }
        if syn_data > 0 {
            self.stats.bytes_sent += u64::from(syn_data);
        }
        self.finish(env, repr, 0, syn_data as usize, retransmission)
    }

    /// New data, a retransmission, and/or our FIN, if the windows and Nagle allow.
    fn data_segment(&mut self, env: &mut Env<'_>) -> Option<Outgoing> {
        let sending_state = match self.state {
            State::Established
            | State::CloseWait
            | State::FinWait1
            | State::Closing
            | State::LastAck => true,
            // RFC 7413 §4.2.2: a Fast Open server sends before the handshake ends.
            State::SynReceived => self.fastopen_passive(),
            _ => false,
        };
        if !sending_state {
            return None;
        }
        // RFC 9293 §3.7.1: the MSS counts data only after the options of the segment;
        // with timestamps (and SACK blocks) the payload shrinks so the packet still fits.
        let mss = usize::from(self.mss)
            .saturating_sub(self.data_options_len())
            .max(1);
        // Against a peer whose largest window is small, a segment is at most half of
        // it (Linux `tcp_bound_to_half_wnd`; a whole window if it is under 536 B), so
        // the sender's SWS rule (RFC 9293 §3.8.6.2.1, a fraction of 1/2 of the largest
        // window) never holds the rest of a write back behind a full-MSS segment.
        let cutoff = if self.max_snd_wnd > 536 {
            self.max_snd_wnd / 2
        } else {
            self.max_snd_wnd
        } as usize;
        // Linux applies the bound when it syncs its MSS, not on every segment: a peer
        // whose window stays under one MSS from the start still gets whole writes
        // that fit it (conformance/listen-syncookies-timestamps-carry-options.pkt,
        // checked on Linux); this applies it only once the largest window reached
        // one MSS, an approximation of those sync points.
        let mss = if cutoff > 0 && mss > cutoff && self.max_snd_wnd as usize >= mss {
            cutoff.max(28)
        } else {
            mss
        };
        // Offload super-segments are sized as Linux sizes them (tso.rs). A segment
        // that carries CWR is not one: a segmentation device would copy the flag onto
        // every piece unless told the packet is ECN (virtio's GSO_ECN, which the
        // runtime does not set), so it goes alone (tcp/ecn.rs).
        let max_seg = if env.cfg.tso_max > mss && !self.ecn_cwr_queued() {
            self.tso_size_goal(env.cfg, mss)
        } else {
            mss
        };
        let fin_seq = self.fin_seq();
        if self.pend.rtx_one {
            // Fast retransmit / NewReno partial ACK: resend one segment at SND.UNA
            // (RFC 5681 §3.2 step 3, RFC 6582 §3.2 step 5), ignoring cwnd.
            self.pend.rtx_one = false;
            if self.snd_una < self.snd_max {
                let off = self.snd_una.since(self.buf_seq) as usize;
                // Stop at data the peer SACKed (RFC 6675 §4 NextSeg sends holes only).
                let mut hole = self
                    .sacked_stop(self.snd_una)
                    .map_or(usize::MAX, |s| s.since(self.snd_una) as usize);
                // And at a record end (Linux `MSG_EOR`).
                if self.has_records() {
                    let una = self.snd_una;
                    if let Some(m) = self.record_end_after(una) {
                        hole = hole.min(m.since(una) as usize);
                    }
                }
                let len = self.send.len().saturating_sub(off).min(mss).min(hole);
                let fin = fin_seq.is_some_and(|f| self.snd_una + len as u32 == f);
                if len > 0 || fin {
                    let end = self.snd_una + len as u32 + u32::from(fin);
                    self.sack_on_retransmit(end);
                    return self.emit_data(env, self.snd_una, off, len, fin, true);
                }
            }
        }
        if self.pend.tlp_pending {
            self.pend.tlp_pending = false;
            if let Some(out) = self.probe_segment(env, mss, fin_seq) {
                return Some(out);
            }
        }
        // RFC 6675 §4 NextSeg() and §5 step (C) during SACK-based recovery.
        let mut sack_usable = None;
        match self.sack_next(mss as u32) {
            SackSend::Normal => {}
            SackSend::Blocked => return None,
            SackSend::Retransmit { seq, end } => {
                let off = seq.since(self.buf_seq) as usize;
                let mut hole = end.since(seq) as usize;
                // A retransmission stops at a record end too (Linux `MSG_EOR`).
                if self.has_records() {
                    if let Some(m) = self.record_end_after(seq) {
                        hole = hole.min(m.since(seq) as usize);
                    }
                }
                let len = self.send.len().saturating_sub(off).min(mss).min(hole);
                let fin = fin_seq.is_some_and(|f| seq + len as u32 == f);
                if len == 0 && !fin {
                    return None;
                }
                self.sack_on_retransmit(seq + len as u32 + u32::from(fin));
                return self.emit_data(env, seq, off, len, fin, true);
            }
            SackSend::NewData { usable } => sack_usable = Some(usable),
        }
        // Pacing (see `pacing.rs`): new data and go-back-N wait for their departure
        // time; the urgent retransmissions above do not.
        let pace_rate = self.pacing_rate(env.cfg);
        let max_seg = match pace_rate {
            Some(rate) => {
                if self.pacing_holds(env.now) {
                    return None;
                }
                Self::paced_max_segment(rate, mss, max_seg)
            }
            None => max_seg,
        };
        // Go-back-N after a timeout skips what the peer SACKed (RFC 6675 §5.1) and
        // stops each retransmission at the next SACKed range.
        let mut stop = None;
        if self.snd_nxt < self.snd_max && self.sb.is_some() {
            stop = self.sack_skip_sacked();
        }
        let off = self.snd_nxt.since(self.buf_seq) as usize;
        let avail = self.send.len().saturating_sub(off);
        // A Fast Open server's SYN-ACK, still unacknowledged in SYN-RECEIVED, takes
        // no room in either window: Linux starts the child socket at SND.UNA =
        // ISS + 1 (`tcp_create_openreq_child`) and retransmits the SYN-ACK from the
        // request, so the peer's first window and cwnd hold that many data bytes.
        let syn = u32::from(self.snd_una == self.iss && self.state == State::SynReceived);
        let flight = self.snd_nxt.since(self.snd_una) - syn;
        // What cwnd holds for BBR is the pipe, in every state: with SACK information,
        // data the peer SACKed (or RACK deems lost) has left the network, before
        // recovery (while RACK's reordering window runs) and after it as during it.
        // BBR's inflight is defined so (draft-ietf-ccwg-bbr §2.9), and Linux's
        // `tcp_cwnd_test` uses `tcp_packets_in_flight` likewise; counting SACKed
        // bytes against cwnd stalled a BBR sender on a 1 % loss path for 20 ms after
        // most recoveries. The loss-based controllers keep RFC 5681's FlightSize
        // outside SACK recovery: with the pipe there, synack's CUBIC took 42 to 80 %
        // of a bottleneck shared with Linux's CUBIC (P6) where it took 44 to 55 %.
        let uses_pipe = self.sb.is_some() && self.cc.controls_recovery_window();
        let pipe = if uses_pipe {
            self.pipe_for_cc()
        } else {
            self.flight_for_send()
        }
        .saturating_sub(syn);
        if flight == 0 && avail > 0 && self.snd_nxt == self.snd_max && env.cfg.slow_start_after_idle
        {
            // RFC 5681 §4.1 / RFC 7661 §4.4: after an idle period longer than the
            // RTO, restart from at most the initial window.
            let idle = env.now.saturating_duration_since(self.last_send_at);
            if idle.as_micros() > u128::from(self.rtt.rto_us()) {
                let iw = env.cfg.initial_window.max(1) * u32::from(self.mss);
                self.cc.on_idle_restart(iw);
                // No burst left to avoid: the window restarts from IW.
                self.pace_refill = false;
            }
        }
        // RFC 3042 §2 (limited transmit): each of the first two duplicate ACKs lets
        // one new segment go beyond cwnd, so a small window still collects the three
        // duplicate ACKs that fast retransmit needs.
        // With the pipe, what the duplicate ACKs SACKed is already left out.
        let limited = if !self.in_recovery && self.snd_nxt == self.snd_max && !uses_pipe {
            self.dupacks.min(2) * u32::from(self.mss)
        } else {
            0
        };
        let cwnd_room = match sack_usable {
            Some(u) => u,
            None => self.cc.cwnd().saturating_add(limited).saturating_sub(pipe),
        };
        let wnd_room = self.snd_wnd.saturating_sub(flight);
        let usable = wnd_room.min(cwnd_room) as usize;
        let mut len = avail.min(max_seg).min(usable);
        // RFC 7661: cwnd, not the peer's window or the application, is what holds
        // this segment back.
        let cwnd_blocked = (cwnd_room as usize) < avail.min(max_seg) && cwnd_room < wnd_room;
        if let Some(stop) = stop {
            if self.snd_nxt < self.snd_max {
                len = len.min(stop.since(self.snd_nxt) as usize);
            }
        }
        // A record end (MSG_EOR) ends the segment, and such a segment is not held
        // back by Nagle: like Linux, whose records are separate buffers, and Nagle
        // applies only to the last one queued.
        let mut at_record_end = false;
        if self.has_records() {
            if let Some(m) = self.record_end_after(self.snd_nxt) {
                let room = m.since(self.snd_nxt) as usize;
                if len >= room && room < avail {
                    len = room;
                    at_record_end = true;
                }
            }
        }
        let retransmission = self.snd_nxt < self.snd_max;
        if retransmission && max_seg > mss {
            // The SYN's data goes again as the one super-segment it was, not
            // merged with what was queued after it (Linux resends the skb as it is).
            if let Some(end) = self.tfo().map(|t| self.iss + 1 + t.syn_data) {
                if self.snd_nxt < end {
                    len = len.min(end.since(self.snd_nxt) as usize);
                }
            }
        }
        if retransmission && pipe > 0 && len < mss && len < avail {
            // Go-back-N: the window cuts this segment short while ACKs are still due;
            // wait for room for a whole one rather than resend a sliver (unless a
            // SACKed range ends the hole here).
            let hole = stop.map_or(usize::MAX, |s| s.since(self.snd_nxt) as usize);
            if len < hole {
                return None;
            }
        }
        let fin = fin_seq.is_some_and(|f| self.snd_nxt + len as u32 == f && len == avail);
        if len == 0 && !fin {
            // RFC 9293 §3.8.6.1: with data waiting and a zero window, probe.
            if avail > 0 && self.snd_wnd == 0 && flight + syn == 0 && self.persist_at.is_none() {
                self.persist_at = Some(env.now.add_micros(self.rtt.rto_us()));
            }
            return None;
        }
        if len > 0 && !retransmission && env.egress_blocked {
            // The device refuses every packet (stack/egress.rs): Linux's
            // `tcp_write_xmit` stops at the failed transmit, and with nothing in
            // flight `tcp_check_probe_timer` retries from the probe timer.
            if flight == 0 && self.persist_at.is_none() {
                let base = self.rtt.rto_us().max(PROBE0_BASE_MIN_US);
                self.persist_at = Some(env.now.add_micros(base));
            }
            return None;
        }
        if len > 0 && !retransmission && !self.pend.force_send && self.corked() {
            // TCP_CORK / MSG_MORE (tcp/cork.rs; RFC 1122 §4.2.3.4): a partial segment
            // waits, and a super-segment is cut to whole segments (Linux
            // `tcp_mss_split_point` under `TCP_NAGLE_CORK`).
            if len < mss {
                if flight == 0 && self.persist_at.is_none() {
                    // Linux `tcp_check_probe_timer`: the probe timer bounds the wait.
                    self.persist_at = Some(env.now.add_micros(self.rtt.rto_us()));
                }
                return None;
            }
            len -= len % mss;
        }
        if len > 0 && !retransmission && !self.pend.force_send && !at_record_end {
            // Sender SWS avoidance (RFC 9293 §3.8.6.2.1) with Nagle (RFC 1122 §4.2.3.4).
            let full = len >= mss;
            let all_queued = len == avail;
            // Minshall's variant (Linux tcp_nagle_check): only one sub-MSS segment
            // may be unacknowledged at a time.
            let small_outstanding = self.snd_sml > self.snd_una && self.snd_sml <= self.snd_nxt;
            // (`flight` leaves out the SYN of a Fast Open server still in
            // SYN-RECEIVED: it is not data in flight, RFC 1122 §4.2.3.4.)
            let nagle_ok = self.opts.nodelay
                || flight == 0
                || self.fin_queued
                || (env.cfg.nagle_minshall && !small_outstanding);
            let half_window = self.max_snd_wnd > 0 && len as u32 >= self.max_snd_wnd / 2;
            if !(full || (all_queued && nagle_ok) || half_window) {
                if flight == 0 && self.persist_at.is_none() {
                    // The override timeout: send anyway if nothing changes.
                    self.persist_at = Some(env.now.add_micros(self.rtt.rto_us()));
                }
                return None;
            }
        }
        let out = self.emit_data(env, self.snd_nxt, off, len, fin, retransmission);
        if let Some(rate) = pace_rate {
            self.paced_send(env.now, len, rate);
        }
        if !retransmission {
            if (cwnd_room as usize).saturating_sub(len) < mss {
                // The window a recovery left open is full again: ACKs clock it. (In
                // SACK recovery the room is NextSeg()'s, measured against the pipe.)
                self.pace_refill = false;
            }
            self.cwnd_validate(pipe.saturating_add(len as u32), cwnd_blocked);
        }
        out
    }

    /// Emit a data/FIN segment starting at `seq` and advance SND.NXT past it when it
    /// was sent from SND.NXT. Always `Some`: every caller returns it as the segment
    /// `poll_segment` found, and building it there saves a copy per segment.
    pub(super) fn emit_data(
        &mut self,
        env: &mut Env<'_>,
        seq: Seq,
        off: usize,
        len: usize,
        fin: bool,
        retransmission: bool,
    ) -> Option<Outgoing> {
        let mut flags = TcpFlags::ACK;
        if fin {
            flags |= TcpFlags::FIN;
        }
        // PSH on the last segment of what the application wrote (RFC 9293 §3.9.1.2),
        // and, as Linux does, on every offload super-segment of new data (the
        // segmentation device puts it on the last segment it cuts).
        // Data written with `MSG_MORE` is not pushed (tcp/cork.rs), except by the
        // probe timer, whose segment Linux sends with PSH (`tcp_write_wakeup`).
        let unpushed = !retransmission && self.ends_in_more_data(seq + len as u32);
        let probe = self.pend.force_send && self.cork_in_use();
        if len > 0
            && (probe || !unpushed)
            && (probe
                || off + len == self.send.len()
                || (!retransmission && len > usize::from(self.mss))
                || (self.has_records() && self.is_record_end(seq + len as u32))
                || (retransmission && self.is_syn_data_end(seq + len as u32)))
        {
            flags |= TcpFlags::PSH;
        }
        // Against a peer whose largest window is under two segments (so segments are
        // cut to half of it, see `data_segment`), PSH also goes on the segment that
        // takes new data past half a window beyond the last push, as Linux's
        // `forced_push` marks it (the window fills before any write ends).
        let half = self.max_snd_wnd / 2;
        if !retransmission && len > 0 && half > 0 && (half as usize) < usize::from(self.mss) {
            let end = seq + len as u32;
            let pushed = self.rare.as_ref().and_then(|r| r.pushed_seq);
            let pushed = pushed
                .filter(|p| *p >= self.snd_una)
                .unwrap_or(self.snd_una);
            if end > pushed + half {
                flags |= TcpFlags::PSH;
            }
            if flags.psh() {
                self.rare.get_or_insert_with(Default::default).pushed_seq = Some(end);
            }
        }
        let ect = self.ecn != 0 && self.ecn_on_send(&mut flags, len, retransmission);
        let repr = self.header(env, seq, flags);
        let end = seq + len as u32 + u32::from(fin);
        // Minshall's small-segment mark counts new data only: Linux updates it in
        // `tcp_write_xmit`, never for a retransmission.
        if !retransmission && len > 0 && len < usize::from(self.mss) && end > self.snd_sml {
            self.snd_sml = end;
        }
        if seq == self.snd_nxt {
            self.snd_nxt = end;
        }
        if end > self.snd_max {
            if !retransmission && self.rtt_probe.is_none() && !self.ts_ok && len > 0 {
                self.rtt_probe = Some((seq, env.now.total_micros() as u32));
            }
            self.snd_max = end;
        }
        if self.in_recovery && len > 0 {
            self.prr_on_send(len as u32);
        }
        // RFC 8985 §6.1: every transmission's send time, for RACK.
        self.rack_on_send(env.now, seq, end, retransmission);
        if retransmission {
            // Karn: no RTT sample from a retransmitted range.
            self.rtt_probe = None;
            if self.ts_ok {
                let ts = self.ts_now(env.now);
                self.note_retransmission_ts(ts, end);
            }
            self.stats.segs_retransmitted += 1;
            self.stats.bytes_retransmitted += len as u64;
        } else {
            self.stats.bytes_sent += len as u64;
        }
        if self.rto_at.is_none() {
            self.rto_at = Some(env.now.add_micros(self.rtt.rto_us()));
        }
        if !retransmission && (len > 0 || fin) {
            // RFC 8985 §7.2: (re)start the probe timeout after sending new data (a
            // lone FIN too: Linux schedules the probe from `tcp_write_xmit`).
            self.arm_pto(env.now, env.cfg.loss_probes);
        }
        if self.stalled_since.is_none() {
            self.stalled_since = Some(env.now);
        }
        self.persist_at = None;
        self.pend.force_send = false;
        let out = self.finish(env, repr, off, len, retransmission);
        Some(Outgoing { ect, ..out })
    }

    /// Bytes of TCP options a data segment carries now (timestamps, SACK blocks), as
    /// `header` will emit them.
    fn data_options_len(&self) -> usize {
        let mut n = 0;
        if self.ts_ok {
            n += 12;
        }
        if self.sack_ok && (self.recv.has_out_of_order() || self.dsack_pending()) {
            let max = if self.ts_ok { 3 } else { MAX_SACK_BLOCKS };
            let d = usize::from(self.dsack_pending());
            let blocks = d + self.recv.sack_ranges(max - d).take(max - d).count();
            n += 4 + 8 * blocks;
        }
        n
    }

    /// A segment with no data: ACK, window update, or probe. Always `Some`: built
    /// where `poll_segment` returns it.
    fn ack_segment(&mut self, env: &mut Env<'_>, seq: Seq) -> Option<Outgoing> {
        let repr = self.header(env, seq, TcpFlags::ACK);
        Some(self.finish(env, repr, 0, 0, false))
    }

    /// The header of a synchronized-state segment: ACK, window, timestamps, SACK.
    #[inline(always)]
    fn header(&mut self, env: &mut Env<'_>, seq: Seq, flags: TcpFlags) -> TcpRepr {
        let mut options = TcpOptions::default();
        if self.ts_ok {
            options.timestamp = Some((self.ts_now(env.now), self.ts_recent));
        }
        if self.sack_ok && (self.recv.has_out_of_order() || self.dsack_pending()) {
            let max = if self.ts_ok { 3 } else { MAX_SACK_BLOCKS };
            let mut n = 0;
            // RFC 2883 §4: a D-SACK block comes first, on one ACK only.
            if let Some((left, right)) = self.take_dsack() {
                options.sack[0] = SackBlock {
                    left: left.0,
                    right: right.0,
                };
                n = 1;
                self.stats.dsacks_sent += 1;
            }
            for (start, end) in self.recv.sack_ranges(max - n) {
                options.sack[n] = SackBlock {
                    left: (self.rcv_nxt + start as u32).0,
                    right: (self.rcv_nxt + end as u32).0,
                };
                n += 1;
                if n == max {
                    break;
                }
            }
            options.sack_len = n as u8;
        }
        let window = self.window_field();
        self.after_ack_sent();
        if self.tfo().is_some() {
            self.fastopen_window_sent();
        }
        TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: seq.0,
            ack: self.rcv_nxt.0,
            // RFC 3168 §6.1.3: ECE while a CE mark waits for the sender's CWR.
            flags: flags | self.ecn_echo_flag(),
            window,
            urgent: 0,
            options,
        }
    }

    /// The window field to send, never moving the right edge left (RFC 9293 §3.8.6),
    /// and growing it only in steps of min(buffer/2, MSS) (receiver SWS avoidance,
    /// RFC 9293 §3.8.6.2.2).
    fn window_field(&mut self) -> u16 {
        let field = self.next_window_field();
        let shift = if self.ws_ok { self.rcv_wscale } else { 0 };
        self.rcv_adv = self.rcv_adv.max(self.rcv_nxt + (u32::from(field) << shift));
        field
    }

    /// The window field the next segment would carry, without recording it as
    /// advertised (see [`window_field`](Connection::window_field)).
    pub(super) fn next_window_field(&self) -> u16 {
        let wnd = self.rcv_wnd();
        let mut edge = self.rcv_nxt + wnd;
        let adv_left = self.rcv_adv.diff(self.rcv_nxt).max(0) as u32;
        if edge < self.rcv_adv {
            edge = self.rcv_adv;
        } else {
            let grow = edge.since(self.rcv_adv);
            let step = (self.recv.capacity() as u32 / 2).min(u32::from(self.mss));
            if grow < step && adv_left > 0 {
                edge = self.rcv_adv;
            }
        }
        let shift = if self.ws_ok { self.rcv_wscale } else { 0 };
        (edge.since(self.rcv_nxt) >> shift).min(65535) as u16
    }

    /// Bookkeeping after any segment carrying an ACK went out.
    fn after_ack_sent(&mut self) {
        self.pend.ack_now = false;
        self.unacked_segs = 0;
        self.delack_at = None;
        self.last_ack_sent = self.rcv_nxt;
    }

    /// Common end of every emission: counters, timestamps, trace.
    fn finish(
        &mut self,
        env: &mut Env<'_>,
        repr: TcpRepr,
        payload_off: usize,
        payload_len: usize,
        retransmission: bool,
    ) -> Outgoing {
        self.stats.segs_sent += 1;
        self.last_send_at = env.now;
        if env.trace.is_some() {
            self.trace_sent(env, &repr, payload_off, payload_len, retransmission);
        }
        Outgoing {
            repr,
            payload_off,
            payload_len,
            ect: false,
        }
    }

    /// Record a sent segment in the trace (kept out of line: the hot paths only test
    /// whether tracing is on).
    #[cold]
    #[inline(never)]
    fn trace_sent(
        &self,
        env: &mut Env<'_>,
        repr: &TcpRepr,
        payload_off: usize,
        payload_len: usize,
        retransmission: bool,
    ) {
        if let Some(trace) = env.trace.as_deref_mut() {
            let mut preview = vec![0u8; payload_len.min(32)];
            let n = self.send.read_at(payload_off, &mut preview);
            preview.truncate(n);
            let shift = if repr.flags.syn() || !self.ws_ok {
                0
            } else {
                self.rcv_wscale
            };
            trace.push_back(TraceEvent {
                time: env.now,
                local: self.local,
                remote: self.remote,
                kind: TraceKind::Segment(SegmentTrace {
                    dir: Direction::Sent,
                    flags: repr.flags,
                    seq: repr.seq,
                    ack: repr.ack,
                    window: repr.window,
                    window_bytes: u32::from(repr.window) << shift,
                    len: payload_len as u32,
                    options: repr.options,
                    iss: Some(self.iss.0),
                    irs: self.state_has_irs().then_some(self.irs.0),
                    retransmission,
                    retransmit_count: if retransmission {
                        self.retries.max(1)
                    } else {
                        0
                    },
                    // For a retransmission, the timeout that expired; else the current RTO.
                    rto_micros: if retransmission && self.rto_fired_ms > 0 {
                        u64::from(self.rto_fired_ms) * 1000
                    } else {
                        self.rtt.rto().as_micros() as u64
                    },
                    preview,
                }),
            });
        }
    }

    /// True once the peer's ISN is known.
    pub(crate) fn state_has_irs(&self) -> bool {
        !matches!(self.state, State::SynSent | State::Closed | State::Listen)
            || self.rcv_nxt != Seq(0)
    }
}
