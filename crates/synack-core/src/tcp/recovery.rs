//! SACK-based loss recovery for the sending side (RFC 6675): the scoreboard of the
//! ranges the peer reported above SND.UNA (RFC 2018 §3, RFC 6675 §3), the IsLost,
//! SetPipe and NextSeg routines (RFC 6675 §4), entry into and exit from loss
//! recovery (RFC 6675 §5) and the rules after a retransmission timeout (RFC 6675
//! §5.1, RFC 2018 §8). Without SACK the connection keeps NewReno (RFC 6582).
//!
//! With SACK it also owns the tail loss probe (RFC 8985 §7: PTO = 2*SRTT, at least
//! 10 ms), a lost-retransmission check in the time order RFC 8985 §6.2 uses, and the
//! timestamp RTT sample check for retransmitted data (RFC 7323 §4.2 with RFC 6298 §3).
//!
//! The scoreboard lives behind an `Option<Box<_>>` that is allocated when the peer
//! first reports out-of-order data and freed once everything sent is acknowledged,
//! so an idle connection pays one pointer for it.

use super::output::Outgoing;
use super::{Connection, Env};
use crate::cc::CongestionControl;
use crate::config::Config;
use crate::seq::Seq;
use crate::time::{Duration, Instant};
use alloc::boxed::Box;
use synack_wire::TcpRepr;

/// Ranges the scoreboard remembers. A peer reports at most four per ACK (RFC 2018 §3);
/// more holes than this in one window are rare, and when the array is full the
/// highest range is forgotten (which can only cause an extra retransmission).
const MAX_RANGES: usize = 512;

/// DupThresh of RFC 6675 §2 (RFC 5681 §3.2).
const DUP_THRESH: u32 = 3;

/// Floor of the probe timeout (RFC 8985 §7.2 leaves the granularity to the sender).
const PTO_MIN: Duration = Duration::from_millis(10);

/// Probes allowed while SND.UNA stands still (and no new data is SACKed) before the
/// RTO takes over: one, as RFC 8985 §7 sends. (A second one, kept until RACK had
/// per-segment send times, changed no figure of the simulated WAN profiles or the
/// 30 %-loss runs once RACK found lost retransmissions by time.) Unlike RFC 8985 and
/// Linux, the probe also runs in recovery, where it resends the oldest hole: when
/// the ACK clock has stopped there, RACK has nothing delivered to time losses by.
pub(crate) const MAX_PROBES: u8 = 1;

/// WCDelAckT of RFC 8985 §7.2: the worst-case delayed-ACK time of the peer, added to
/// the PTO when only one segment is in flight.
const WC_DEL_ACK: Duration = Duration::from_millis(200);

/// What NextSeg (RFC 6675 §4) decided for the next transmission opportunity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SackSend {
    /// Not in SACK-based recovery: the ordinary sending rules apply.
    Normal,
    /// Retransmit the hole `[seq, end)` (rules 1 and 3).
    Retransmit {
        /// First byte of the segment.
        seq: Seq,
        /// End of the hole (the segment may be shorter).
        end: Seq,
    },
    /// Rule 2: new data, at most `usable` bytes (cwnd - pipe, RFC 6675 §5 step (C)).
    NewData {
        /// Bytes the congestion window allows.
        usable: u32,
    },
    /// cwnd - pipe is below one SMSS: nothing may be sent (RFC 6675 §5 step (C)).
    Blocked,
}

/// The sender's record of SACKed data and retransmissions (RFC 6675 §3).
#[derive(Debug, Clone)]
pub(crate) struct Scoreboard {
    /// Disjoint, sorted, non-adjacent SACKed ranges `[left, right)` above SND.UNA.
    ranges: [(Seq, Seq); MAX_RANGES],
    /// Ranges in use.
    len: usize,
    /// HighRxt (RFC 6675 §2): end of the highest byte retransmitted in this recovery.
    high_rxt: Seq,
    /// SND.MAX when the current round of retransmissions began: SACKed data at or
    /// above it was sent after those retransmissions, so three segments of it
    /// reported while the retransmitted hole stays open mean the retransmission was
    /// lost too (the time order RFC 8985 §6.2 uses, kept for one round).
    rxt_fence: Seq,
    /// SACK-based loss recovery (RFC 6675 §5) is in progress.
    active: bool,
    /// RFC 6937 PRR: bytes delivered to the peer since recovery began ...
    prr_delivered: u32,
    /// ... bytes sent since then ...
    prr_out: u32,
    /// ... and RecoverFS, the flight size when it began.
    recover_fs: u32,
}

impl Scoreboard {
    fn new(snd_una: Seq) -> Scoreboard {
        Scoreboard {
            ranges: [(snd_una, snd_una); MAX_RANGES],
            len: 0,
            high_rxt: snd_una,
            rxt_fence: snd_una,
            active: false,
            prr_delivered: 0,
            prr_out: 0,
            recover_fs: 0,
        }
    }

    /// The ranges in use, lowest first.
    fn ranges(&self) -> &[(Seq, Seq)] {
        &self.ranges[..self.len]
    }

    /// RFC 6675 §4 Update(): mark `[left, right)` SACKed, merging with its neighbours.
    fn insert(&mut self, mut left: Seq, mut right: Seq) {
        let mut i = 0;
        while i < self.len && self.ranges[i].1 < left {
            i += 1;
        }
        let mut j = i;
        while j < self.len && self.ranges[j].0 <= right {
            left = left.min(self.ranges[j].0);
            right = right.max(self.ranges[j].1);
            j += 1;
        }
        if j > i {
            // Ranges i..j merge into one.
            self.ranges[i] = (left, right);
            self.ranges.copy_within(j..self.len, i + 1);
            self.len -= j - i - 1;
            return;
        }
        if self.len == MAX_RANGES {
            if i == MAX_RANGES {
                return; // The new range would be the highest: forget it.
            }
            self.len -= 1; // Forget the highest range to make room.
        }
        self.ranges.copy_within(i..self.len, i + 1);
        self.ranges[i] = (left, right);
        self.len += 1;
    }

    /// Forget what SND.UNA has passed.
    fn trim(&mut self, snd_una: Seq) {
        let drop = self.ranges().iter().take_while(|r| r.1 <= snd_una).count();
        self.ranges.copy_within(drop..self.len, 0);
        self.len -= drop;
        if self.len > 0 && self.ranges[0].0 < snd_una {
            self.ranges[0].0 = snd_una;
        }
        if self.high_rxt < snd_una {
            self.high_rxt = snd_una;
        }
    }

    /// SACKed bytes within `[from, to)`.
    fn sacked_in(&self, from: Seq, to: Seq) -> u32 {
        let mut n = 0;
        for &(l, r) in self.ranges() {
            let (l, r) = (l.max(from), r.min(to));
            if l < r {
                n += r.since(l);
            }
        }
        n
    }

    /// Highest SACKed sequence number plus one, if anything is SACKed.
    fn highest_sacked(&self) -> Option<Seq> {
        self.ranges().last().map(|r| r.1)
    }

    /// Every unSACKed byte below the returned edge is lost by RFC 6675 §4 IsLost():
    /// DupThresh discontiguous SACKed ranges, or more than (DupThresh - 1) * SMSS
    /// SACKed bytes, lie above it. Scans from the highest range down.
    fn lost_edge(&self, mss: u32) -> Option<Seq> {
        let mut bytes = 0u32;
        let mut edge = None;
        for (k, &(l, r)) in self.ranges().iter().rev().enumerate() {
            bytes = bytes.saturating_add(r.since(l));
            if k as u32 + 1 >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss {
                edge = Some(l);
                break;
            }
        }
        edge
    }

    /// True if `seq` lies in a SACKed range.
    /// RFC 6675 §4 IsLost(seq) for an unSACKed `seq`.
    fn is_lost(&self, seq: Seq, mss: u32) -> bool {
        self.lost_edge(mss).is_some_and(|edge| seq < edge)
    }

    /// The first unSACKed stretch `[s, e)` with `from <= s < limit`; `e` stops at the
    /// next SACKed range or at `limit`.
    fn next_hole(&self, from: Seq, limit: Seq) -> Option<(Seq, Seq)> {
        let mut s = from;
        for &(l, r) in self.ranges() {
            if r <= s {
                continue;
            }
            if l <= s {
                s = r; // Inside a SACKed range: the hole starts after it.
                continue;
            }
            return (s < limit).then_some((s, l.min(limit)));
        }
        (s < limit).then_some((s, limit))
    }

    /// SetPipe() with RACK's loss marks when given (`rack_lost`: bytes RACK deems
    /// lost and not sent again; RFC 8985 §6 in place of IsLost()), else RFC 6675's.
    fn pipe_with(&self, snd_una: Seq, snd_max: Seq, mss: u32, rack_lost: Option<u32>) -> u32 {
        match rack_lost {
            Some(lost) => {
                (snd_max.since(snd_una) - self.sacked_in(snd_una, snd_max)).saturating_sub(lost)
            }
            None => self.pipe(snd_una, snd_max, mss),
        }
    }

    /// RFC 6675 §4 SetPipe(), in bytes: unSACKed bytes not deemed lost, plus
    /// unSACKed bytes below HighRxt (retransmitted and presumably in flight).
    fn pipe(&self, snd_una: Seq, snd_max: Seq, mss: u32) -> u32 {
        let holes = snd_max.since(snd_una) - self.sacked_in(snd_una, snd_max);
        let lost = match self.lost_edge(mss) {
            Some(edge) if edge > snd_una => edge.since(snd_una) - self.sacked_in(snd_una, edge),
            _ => 0,
        };
        let rxt_to = self.high_rxt.min(snd_max);
        let rxt = if rxt_to > snd_una {
            rxt_to.since(snd_una) - self.sacked_in(snd_una, rxt_to)
        } else {
            0
        };
        holes - lost + rxt
    }
}

impl Connection {
    /// RFC 6675 §5: record the SACK blocks of an acceptable ACK in the scoreboard
    /// (Update(), RFC 6675 §4). Blocks below the cumulative ACK (D-SACK, RFC 2883) or
    /// beyond what was sent are ignored; never trusted further than that.
    #[inline]
    pub(crate) fn sack_update(&mut self, seg: &TcpRepr, seg_ack: Seq) {
        if !self.sack_ok || seg.options.sack_len == 0 {
            return;
        }
        self.sack_update_blocks(seg, seg_ack);
    }

    /// [`Connection::sack_update`] for an ACK that carries SACK blocks.
    #[inline(never)]
    fn sack_update_blocks(&mut self, seg: &TcpRepr, seg_ack: Seq) {
        let floor = seg_ack.max(self.snd_una);
        let (una, max) = (self.snd_una, self.snd_max);
        let before = self.sb.as_deref().map_or(0, |sb| sb.sacked_in(una, max));
        for b in seg.options.sack_blocks() {
            let (left, right) = (Seq(b.left).max(floor), Seq(b.right));
            if right <= left || right > self.snd_max {
                continue;
            }
            let una = self.snd_una;
            self.sb
                .get_or_insert_with(|| Box::new(Scoreboard::new(una)))
                .insert(left, right);
        }
        if self.sb.as_deref().map_or(0, |sb| sb.sacked_in(una, max)) > before {
            // The ACK clock runs: probes may start again (RFC 8985 §7.2 restarts the
            // PTO on progress; SACKed data is progress too).
            self.tlp_sent = 0;
            self.sack_progress = true;
        }
    }

    /// SND.UNA advanced: forget acknowledged ranges; drop the scoreboard once
    /// nothing is outstanding.
    pub(crate) fn sack_on_new_ack(&mut self) {
        if self.snd_una == self.snd_max && !self.in_recovery {
            self.sb = None;
            return;
        }
        if let Some(sb) = self.sb.as_deref_mut() {
            sb.trim(self.snd_una);
        }
    }

    /// True while SACK-based loss recovery (RFC 6675 §5) is in progress.
    pub(crate) fn in_sack_recovery(&self) -> bool {
        self.in_recovery && self.sb.as_deref().is_some_and(|sb| sb.active)
    }

    /// RFC 6675 §5 step (4) may start loss recovery only once SND.UNA has reached
    /// RecoveryPoint ("recover") of the previous recovery or timeout (§5.1).
    fn may_enter_recovery(&self) -> bool {
        if self.sb.is_some() {
            self.snd_una >= self.recover
        } else {
            // RFC 6582 §3.2 step 2 (NewReno): only if the ACK covers more than recover.
            self.snd_una > self.recover || self.recover == self.iss
        }
    }

    /// Enter loss recovery (fast retransmit): RFC 6675 §5 step (4) when the peer
    /// SACKs, else NewReno (RFC 5681 §3.2, RFC 6582 §3.2 step 2).
    pub(crate) fn enter_recovery(&mut self, env: &mut Env<'_>) {
        if self.in_recovery || !self.may_enter_recovery() || self.snd_una == self.snd_max {
            return;
        }
        let mss = u32::from(self.mss);
        self.in_recovery = true;
        self.pace_refill = false;
        // RFC 6675 §5 (4.1): RecoveryPoint = HighData.
        self.recover = self.snd_max;
        self.stats.fast_retransmits += 1;
        self.rtt_probe = None;
        // RFC 6675 §5 (4.3) / RFC 5681 §3.2 step 3: retransmit HighACK + 1 now.
        self.pend.rtx_one = true;
        let flight = self.reduction_flight();
        let (una, max) = (self.snd_una, self.snd_max);
        match self.sb.as_deref_mut() {
            Some(sb) => {
                // RFC 6675 §5 (4.2): ssthresh = cwnd = FlightSize / 2 (the controller's
                // reduction); pipe, not window inflation, then governs sending.
                sb.active = true;
                sb.high_rxt = una;
                sb.rxt_fence = max;
                // RFC 6937 §3: PRR starts counting. RecoverFS is the FlightSize the
                // reduction started from (capped at cwnd, as Linux's prior_cwnd).
                sb.prr_delivered = 0;
                sb.prr_out = 0;
                sb.recover_fs = flight;
                self.rack_on_recovery_start();
                self.cc.on_sack_recovery(env.now, flight, mss);
            }
            None => self.cc.on_fast_retransmit(env.now, flight, mss),
        }
    }

    /// The FlightSize a fast retransmit's reduction starts from (RFC 5681 §3.2 step
    /// 2, RFC 6675 §5 (4.2)): SND.MAX - SND.UNA, but never more than cwnd. That
    /// leaves out what limited transmit sent beyond cwnd, as RFC 5681 §3.2 step 2
    /// requires; and since the pipe, not FlightSize, holds the sender (see
    /// `poll_segment`), SACKed data above a hole not yet deemed lost can take
    /// FlightSize well past cwnd, and a reduction from that would raise the window.
    ///
    /// A controller that [reduces from cwnd](crate::cc::CongestionControl::reduces_from_cwnd)
    /// (CUBIC, RFC 9438 §4.6, as Linux) gets cwnd instead, which window validation
    /// (`cwnd_validate`) keeps to what the flow used: a flow held back by its send
    /// buffer or the application has less in flight than the window it has
    /// validated, and halving that smaller figure at each loss cut the window below
    /// what it used (P3's upload, send-buffer limited, fell to 87 % of Linux's
    /// CUBIC). For a flow that filled its window the two are about the same; taking
    /// cwnd only when the flow had not filled it in the last window of data still cut
    /// from FlightSize a loss found in the round trip after its send buffer took over
    /// from cwnd (P3, one seed: 0.92 of Linux, 1.00 from cwnd). In slow start too,
    /// as Linux's `tcp_cwnd_validate` lets cwnd grow there to twice what was in
    /// flight and CUBIC reduces from it: a flow its send buffer held at 4 MiB on a
    /// 200 ms, 100 Mbit/s path left slow start at a loss with cwnd at 7 MB; from FlightSize its ssthresh fell to 2.9 MB where
    /// Linux's stayed at 4.8, and three random losses later its window was under half
    /// the BDP (P3's upload, 78 % of Linux's on that seed, 98 % from cwnd).
    pub(crate) fn reduction_flight(&self) -> u32 {
        let cwnd = self.cc.cwnd().max(u32::from(self.mss));
        if self.cc.reduces_from_cwnd() {
            return cwnd;
        }
        self.flight_size().min(cwnd)
    }

    /// After the scoreboard was updated by an ACK. With RACK (whenever the peer SACKs
    /// and data was logged, see `rack.rs`) recovery starts once RACK deems something
    /// lost. Otherwise RFC 6675 §5: recovery starts also when IsLost(HighACK + 1)
    /// holds, without three duplicate ACKs; in recovery, a retransmission overtaken by
    /// three segments sent after it is lost again.
    #[inline]
    pub(crate) fn sack_after_ack(&mut self, env: &mut Env<'_>) {
        if !self.sack_progress && self.sb.is_none() {
            // No SACK seen: nothing below applies.
            return;
        }
        self.sack_after_sacks(env);
    }

    /// [`Connection::sack_after_ack`] once the peer has SACKed.
    #[inline(never)]
    fn sack_after_sacks(&mut self, env: &mut Env<'_>) {
        if core::mem::replace(&mut self.sack_progress, false) {
            if self.in_recovery && !self.pto_armed {
                // The ACK clock runs (the peer SACKs new data): restart the RTO as a
                // cumulative ACK would (Linux re-arms it on SACKed data too), so the
                // timeout does not cut a recovery short into go-back-N from one
                // segment while retransmissions are still being repaired; a lost
                // retransmission is caught by RACK or the probe timeout.
                self.rto_at = Some(env.now.add_micros(self.rtt.rto_us()));
            }
            self.arm_pto(env.now, env.cfg.loss_probes);
        }
        if self.rack_mode() {
            // RFC 8985 §6.2: RACK marked the losses (`rack_on_ack`); recovery starts
            // when it found one (RFC 8985 §6.2 step 5 with RFC 6675 §5), and lost
            // retransmissions are marked lost again by the same rule.
            if !self.in_recovery && self.rack_lost_out() > 0 {
                self.enter_recovery(env);
            }
            return;
        }
        let mss = u32::from(self.mss);
        let Some(sb) = self.sb.as_deref_mut() else {
            return;
        };
        if !self.in_recovery {
            if sb.is_lost(self.snd_una, mss) {
                self.enter_recovery(env);
            }
            return;
        }
        if !sb.active || sb.high_rxt <= self.snd_una {
            return;
        }
        // Lost retransmission (the time order of RFC 8985 §6.2 by sequence number):
        // the hole at SND.UNA was retransmitted before anything at or above the fence
        // was sent; more than (DupThresh - 1) * SMSS of that later data is SACKed
        // while the hole stays open, so the retransmission was lost. Send it again
        // and start a new round.
        if sb.sacked_in(sb.rxt_fence, self.snd_max) > (DUP_THRESH - 1) * mss {
            sb.rxt_fence = self.snd_max;
            self.pend.rtx_one = true;
            self.stats.lost_retransmits += 1;
        }
    }

    /// The FlightSize to hand the controller when recovery ends. In SACK-based
    /// recovery cwnd was set to ssthresh on entry and pipe, not cwnd, limited the
    /// burst (RFC 6675 §5 (4.2)); cwnd stays at ssthresh afterwards rather than
    /// collapsing to FlightSize + SMSS (the RFC 6582 §3.2 step 6 rule for NewReno,
    /// which leaves a window of one or two segments when the full ACK empties the
    /// pipe and then every segment waits for the peer's delayed ACK).
    pub(crate) fn recovery_exit_flight(&self) -> u32 {
        if self.in_sack_recovery() {
            self.flight_size().max(self.cc.ssthresh())
        } else {
            self.flight_size()
        }
    }

    /// Leave SACK-based recovery (full ACK, RFC 6675 §5 / RFC 6582 §3.2 step 6).
    pub(crate) fn sack_exit_recovery(&mut self) {
        if let Some(sb) = self.sb.as_deref_mut() {
            sb.active = false;
        }
    }

    /// A retransmission timeout (RFC 6675 §5.1): recovery ends. The scoreboard is kept
    /// so go-back-N can skip SACKed data, unless the peer reneged (RFC 2018 §8): it
    /// reported SND.UNA itself SACKed, or the timeout repeats without progress.
    pub(crate) fn sack_on_rto(&mut self) {
        let una = self.snd_una;
        let reneged = self.retries > 1
            || self
                .sb
                .as_deref()
                .is_some_and(|sb| sb.ranges().first().is_some_and(|r| r.0 <= una));
        if reneged {
            self.sb = None;
            if let Some(rack) = self.rack.as_deref_mut() {
                rack.forget_sacks();
            }
        } else if let Some(sb) = self.sb.as_deref_mut() {
            sb.active = false;
            sb.high_rxt = una;
        }
    }

    /// A retransmission `[seq, end)` went out: advance HighRxt (RFC 6675 §5 (4.3),
    /// (C.3)).
    pub(crate) fn sack_on_retransmit(&mut self, end: Seq) {
        if let Some(sb) = self.sb.as_deref_mut() {
            if sb.active && end > sb.high_rxt {
                sb.high_rxt = end;
            }
        }
    }

    /// Go-back-N after a timeout: if SND.NXT is inside a SACKed range, move it past;
    /// returns the start of the next SACKed range above SND.NXT (where this
    /// retransmission must stop), if any.
    pub(crate) fn sack_skip_sacked(&mut self) -> Option<Seq> {
        let sb = self.sb.as_deref()?;
        let mut nxt = self.snd_nxt;
        let mut stop = None;
        for &(l, r) in sb.ranges() {
            if r <= nxt {
                continue;
            }
            if l <= nxt {
                nxt = r;
                continue;
            }
            stop = Some(l);
            break;
        }
        self.snd_nxt = nxt.min(self.snd_max);
        stop
    }

    /// RFC 8985 §7.2: after new data was sent or acknowledged, run the probe timeout
    /// (PTO = 2*SRTT, plus WCDelAckT with one segment in flight, at least 10 ms) in
    /// place of the RTO, at the RTO's time when that is sooner. Only when `enabled`
    /// (`Config::loss_probes`), only with SACK (the probe's ACK must show what was
    /// lost), not in fast recovery (§7.2: the PTO is scheduled only outside fast and
    /// RTO recovery, as Linux arms it only in the Open and CWR states), not during
    /// go-back-N after an RTO, and at most `MAX_PROBES` times while SND.UNA stands
    /// still.
    pub(crate) fn arm_pto(&mut self, now: Instant, enabled: bool) {
        let was_pto = core::mem::replace(&mut self.pto_armed, false);
        if self.snd_una == self.snd_max {
            if was_pto {
                self.rto_at = None;
            }
            return;
        }
        let rto_at = match self.rto_at {
            Some(t) if !was_pto => t,
            _ => now.add_micros(self.rtt.rto_us()),
        };
        self.rto_at = Some(rto_at);
        if !enabled
            || !self.sack_ok
            || self.in_recovery
            || self.tlp_sent >= MAX_PROBES
            || self.snd_nxt != self.snd_max
            || !self.state.is_synchronized()
        {
            return;
        }
        let Some(srtt) = self.rtt.srtt_us() else {
            return;
        };
        // In microseconds: this runs for every segment of new data.
        let mut pto = srtt.saturating_mul(2).max(PTO_MIN.as_micros() as u64);
        if self.flight_size() <= u32::from(self.mss) {
            pto += WC_DEL_ACK.as_micros() as u64;
        }
        // RFC 8985 §7.2 (and Linux `tcp_schedule_loss_probe`): when the RTO would
        // fire first, the probe takes the RTO's time instead.
        self.rto_at = Some(now.add_micros(pto).min(rto_at));
        self.pto_armed = true;
    }

    /// The probe timeout fired (RFC 8985 §7.3): send one probe and re-arm the timer
    /// (the RTO once the probes are spent). A probe timeout armed before fast recovery
    /// began sends nothing in it (§7.2): the timer becomes the RTO again.
    pub(crate) fn on_pto(&mut self, env: &mut Env<'_>) {
        self.pto_armed = false;
        self.rto_at = Some(env.now + self.rtt.rto());
        if self.in_recovery {
            return;
        }
        self.tlp_sent += 1;
        self.stats.loss_probes += 1;
        self.pend.tlp_pending = true;
        self.arm_pto(env.now, env.cfg.loss_probes);
    }

    /// The tail loss probe (RFC 8985 §7.3): a new segment if the peer's window allows
    /// one (whatever cwnd says), else the last segment sent again. `mss` is the
    /// payload size of a data segment.
    pub(crate) fn probe_segment(
        &mut self,
        env: &mut Env<'_>,
        mss: usize,
        fin_seq: Option<Seq>,
    ) -> Option<Outgoing> {
        if self.snd_una == self.snd_max || self.snd_nxt != self.snd_max {
            return None;
        }
        let off = self.snd_max.since(self.buf_seq) as usize;
        let avail = self.send.len().saturating_sub(off);
        let wnd_left = self.snd_wnd.saturating_sub(self.flight_size()) as usize;
        // RFC 8985 §7.3: new data when the window allows it.
        if avail > 0 && wnd_left > 0 {
            let len = avail.min(mss).min(wnd_left);
            let fin = len == avail && fin_seq.is_some_and(|f| self.snd_nxt + len as u32 == f);
            return self.emit_data(env, self.snd_nxt, off, len, fin, false);
        }
        // Else the last segment (as Linux, its tail skb): data goes out in MSS-sized
        // pieces from SND.UNA, so the last one holds the remainder.
        let fin = fin_seq.is_some_and(|f| f < self.snd_max);
        let data_end = self.snd_max - u32::from(fin);
        let outstanding = data_end.since(self.snd_una.max(self.buf_seq));
        let last = if outstanding == 0 {
            0
        } else {
            (outstanding - 1) % (mss as u32) + 1
        };
        let start = data_end - last;
        if start > data_end || (start == data_end && !fin) {
            return None;
        }
        let off = start.since(self.buf_seq) as usize;
        let len = data_end.since(start) as usize;
        self.emit_data(env, start, off, len, fin, true)
    }

    /// A retransmission ending at `end` went out: remember its timestamp (the latest
    /// retransmission's) and how far retransmitted data reaches, for
    /// [`Connection::ts_sample_ok`].
    pub(crate) fn note_retransmission_ts(&mut self, ts_now: u32, end: Seq) {
        self.rtx_tsval = ts_now;
        if self.rtx_high <= self.snd_una || end > self.rtx_high {
            self.rtx_high = end;
        }
    }

    /// Whether a timestamp echo `tsecr` on an ACK that advanced SND.UNA from `old_una`
    /// gives a valid RTT sample (Karn's rule, RFC 6298 §3, applied to timestamps as
    /// RFC 7323 §4.2 allows). While retransmitted data is outstanding, only an echo of
    /// the latest retransmission's TSval (or a later one) is unambiguous. An older echo
    /// answers an earlier copy: the receiver echoes TS.Recent, which RFC 7323 §4.3
    /// takes only from in-window segments, so when its ACK of a retransmission is lost
    /// every later copy arrives as a duplicate and is answered with the old TSval. A
    /// sample from it would include the ACK's loss and the sender's backoff, the RTO
    /// would grow from it, the next backoff would be longer still, and SRTT would run
    /// away (seconds, then minutes, on a 20 ms path under heavy loss).
    pub(crate) fn ts_sample_ok(&self, old_una: Seq, tsecr: u32) -> bool {
        let covers_rtx = self.rtx_high > old_una;
        !(covers_rtx && (tsecr.wrapping_sub(self.rtx_tsval) as i32) < 0)
    }

    /// RFC 6937 (Proportional Rate Reduction), on every ACK in SACK-based recovery:
    /// `delivered` bytes reached the peer. While pipe is above ssthresh, sending is
    /// held to ssthresh/RecoverFS of what was delivered, so the window comes down to
    /// ssthresh smoothly across the round trip instead of in one silence; below it,
    /// slow start (PRR-SSRB, at most one SMSS more than was delivered) brings pipe back
    /// up to ssthresh. cwnd = pipe + sndcnt. A controller that governs the window in
    /// recovery itself (BBR) is left alone.
    #[inline]
    pub(crate) fn prr_on_ack(&mut self, cfg: &Config, delivered: u32, safe_ack: bool) {
        if self.in_sack_recovery() {
            self.prr_in_recovery(cfg, delivered, safe_ack);
        }
    }

    /// [`Connection::prr_on_ack`] in SACK-based recovery.
    #[inline(never)]
    fn prr_in_recovery(&mut self, cfg: &Config, delivered: u32, safe_ack: bool) {
        if self.cc.controls_recovery_window() {
            return;
        }
        let mss = u32::from(self.mss);
        let (una, max) = (self.snd_una, self.snd_max);
        let ssthresh = self.cc.ssthresh();
        let rack_lost = self.rack_mode().then(|| self.rack_lost_out());
        let Some(sb) = self.sb.as_deref_mut() else {
            return;
        };
        sb.prr_delivered = sb.prr_delivered.saturating_add(delivered);
        let pipe = sb.pipe_with(una, max, mss, rack_lost);
        let sndcnt = if pipe > ssthresh {
            // Proportional Rate Reduction: CEIL(prr_delivered * ssthresh / RecoverFS)
            // - prr_out.
            let target = (u64::from(sb.prr_delivered) * u64::from(ssthresh))
                .div_ceil(u64::from(sb.recover_fs.max(1)));
            u32::try_from(target.saturating_sub(u64::from(sb.prr_out))).unwrap_or(u32::MAX)
        } else {
            // PRR-SSRB: MIN(ssthresh - pipe, MAX(prr_delivered - prr_out,
            // DeliveredData) + MSS). On the ACK that starts recovery the extra MSS
            // needs a "SafeACK" (RFC 6937bis §6: SND.UNA advanced, no new loss), as in
            // Linux tcp_cwnd_reduction, so entering recovery sends the fast
            // retransmit alone. Later ACKs always get it: with the SafeACK rule on
            // every ACK, a slow-start overshoot (new holes found on nearly every ACK)
            // kept pipe from growing for the whole recovery and halved NewReno's
            // goodput on the simulated P1 path.
            let mut limit = sb.prr_delivered.saturating_sub(sb.prr_out).max(delivered);
            if safe_ack || sb.prr_out > 0 {
                limit = limit.saturating_add(mss);
            }
            (ssthresh - pipe).min(limit)
        };
        self.cc.set_cwnd(pipe.saturating_add(sndcnt));
        self.refill_in_recovery(cfg, sndcnt);
    }

    /// RFC 6937: data (new or retransmitted) went out during recovery.
    pub(crate) fn prr_on_send(&mut self, len: u32) {
        if let Some(sb) = self.sb.as_deref_mut() {
            if sb.active {
                sb.prr_out = sb.prr_out.saturating_add(len);
            }
        }
    }

    /// Bytes the peer has SACKed above SND.UNA (0 without a scoreboard).
    pub(crate) fn sacked_bytes(&self) -> u32 {
        self.sb
            .as_deref()
            .map_or(0, |sb| sb.sacked_in(self.snd_una, self.snd_max))
    }

    /// Start of the first SACKed range above `seq`, where a retransmission from `seq`
    /// must stop.
    pub(crate) fn sacked_stop(&self, seq: Seq) -> Option<Seq> {
        let sb = self.sb.as_deref()?;
        sb.ranges().iter().find(|r| r.0 > seq).map(|r| r.0)
    }

    /// Bytes in flight for the congestion controller: with SACK, RFC 6675's pipe
    /// with RACK's loss marks (sent, not SACKed, not deemed lost and not yet sent
    /// again), as Linux's `tcp_packets_in_flight`; without, SND.NXT - SND.UNA. After
    /// a timeout (SND.NXT back at SND.UNA) only what was sent again counts.
    #[inline]
    pub(crate) fn pipe_for_cc(&self) -> u32 {
        let flight = self.flight_for_send();
        match self.sb.as_deref() {
            Some(sb) => {
                let lost = self.rack_mode().then(|| self.rack_lost_out());
                let mss = u32::from(self.mss);
                sb.pipe_with(self.snd_una, self.snd_max, mss, lost)
                    .min(flight)
            }
            None => flight,
        }
    }

    /// Bytes in flight for the sending rules outside SACK recovery: SND.NXT -
    /// SND.UNA, less what the peer SACKed below SND.NXT (during go-back-N after a
    /// timeout those bytes are not in the network, RFC 6675 §5.1).
    pub(crate) fn flight_for_send(&self) -> u32 {
        let flight = self.snd_nxt.since(self.snd_una);
        match self.sb.as_deref() {
            Some(sb) if self.snd_nxt < self.snd_max => {
                flight - sb.sacked_in(self.snd_una, self.snd_nxt)
            }
            _ => flight,
        }
    }

    /// RFC 6675 §4 NextSeg() and §5 step (C): what to send next in SACK recovery.
    pub(crate) fn sack_next(&self, seg_mss: u32) -> SackSend {
        let Some(sb) = self.sb.as_deref() else {
            return SackSend::Normal;
        };
        if !self.in_recovery || !sb.active {
            return SackSend::Normal;
        }
        let mss = u32::from(self.mss);
        let (una, max) = (self.snd_una, self.snd_max);
        let rack = self.rack.as_deref().filter(|_| self.rack_mode());
        let pipe = sb.pipe_with(una, max, mss, rack.map(|r| r.lost_out()));
        let room = self.cc.cwnd().saturating_sub(pipe);
        // RFC 6675 §5 (C): send while cwnd - pipe >= 1 SMSS.
        if room < seg_mss.min(mss) {
            return SackSend::Blocked;
        }
        if let Some(rack) = rack {
            // RFC 8985 §6 with RFC 6675 §4 NextSeg(): rule 1 resends what RACK deems
            // lost, in sequence order; rule 2 sends new data; rule 3 (resending
            // unSACKed data not deemed lost) is left out, as RACK's time order, not a
            // guess, decides what is lost.
            if let Some((s, e)) = rack.next_lost() {
                return SackSend::Retransmit { seq: s, end: e };
            }
            let queued = self.send.len() as u32 + u32::from(self.fin_queued);
            let sent = self.snd_max.since(self.buf_seq);
            let wnd_left = self
                .snd_wnd
                .saturating_sub(self.snd_max.since(self.snd_una));
            if queued > sent && wnd_left > 0 {
                return SackSend::NewData { usable: room };
            }
            return SackSend::Blocked;
        }
        let from = sb.high_rxt.max(una);
        // Rule 1: the first unSACKed hole above HighRxt that IsLost().
        if let Some(edge) = sb.lost_edge(mss) {
            if let Some((s, e)) = sb.next_hole(from, max) {
                if s < edge {
                    return SackSend::Retransmit { seq: s, end: e };
                }
            }
        }
        // Rule 2: new data, if any is queued and the peer's window allows it.
        let queued = self.send.len() as u32 + u32::from(self.fin_queued);
        let sent = self.snd_max.since(self.buf_seq);
        let wnd_left = self
            .snd_wnd
            .saturating_sub(self.snd_max.since(self.snd_una));
        if queued > sent && wnd_left > 0 {
            return SackSend::NewData { usable: room };
        }
        // Rule 3: an unSACKed hole above HighRxt with SACKed data above it.
        if let Some(high) = sb.highest_sacked() {
            if let Some((s, e)) = sb.next_hole(from, high) {
                return SackSend::Retransmit { seq: s, end: e };
            }
        }
        SackSend::Blocked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn sb(ranges: &[(u32, u32)]) -> Scoreboard {
        let mut b = Scoreboard::new(Seq(0));
        for &(l, r) in ranges {
            b.insert(Seq(l), Seq(r));
        }
        b
    }

    fn list(b: &Scoreboard) -> Vec<(u32, u32)> {
        b.ranges().iter().map(|r| (r.0 .0, r.1 .0)).collect()
    }

    #[test]
    fn an_idle_connection_pays_one_pointer_for_the_scoreboard() {
        assert_eq!(
            core::mem::size_of::<Option<Box<Scoreboard>>>(),
            core::mem::size_of::<usize>()
        );
    }

    #[test]
    fn insert_merges_and_sorts() {
        let b = sb(&[(300, 400), (100, 200), (200, 250), (500, 600), (390, 450)]);
        assert_eq!(list(&b), vec![(100, 250), (300, 450), (500, 600)]);
        let b = sb(&[(100, 200), (300, 400), (50, 500)]);
        assert_eq!(list(&b), vec![(50, 500)]);
    }

    #[test]
    fn full_board_forgets_the_highest_range() {
        let mut b = Scoreboard::new(Seq(0));
        for i in 0..MAX_RANGES as u32 {
            b.insert(Seq(100 * i + 10), Seq(100 * i + 20));
        }
        b.insert(Seq(5), Seq(6));
        assert_eq!(b.len, MAX_RANGES);
        assert_eq!(list(&b)[0], (5, 6));
        assert_eq!(
            b.highest_sacked(),
            Some(Seq(100 * (MAX_RANGES as u32 - 2) + 20))
        );
        b.insert(Seq(100_000), Seq(100_010));
        assert_eq!(
            b.highest_sacked(),
            Some(Seq(100 * (MAX_RANGES as u32 - 2) + 20))
        );
    }

    #[test]
    fn trim_clips_and_drops() {
        let mut b = sb(&[(100, 200), (300, 400)]);
        b.trim(Seq(150));
        assert_eq!(list(&b), vec![(150, 200), (300, 400)]);
        b.trim(Seq(250));
        assert_eq!(list(&b), vec![(300, 400)]);
    }

    #[test]
    fn is_lost_counts_ranges_or_bytes() {
        let mss = 100;
        // One range of 2*MSS above: not lost; more than 2*MSS: lost.
        assert!(!sb(&[(100, 300)]).is_lost(Seq(0), mss));
        assert!(sb(&[(100, 301)]).is_lost(Seq(0), mss));
        // Three small discontiguous ranges above: lost.
        let b = sb(&[(10, 20), (30, 40), (50, 60)]);
        assert!(b.is_lost(Seq(0), mss));
        assert!(!b.is_lost(Seq(25), mss));
    }

    #[test]
    fn pipe_counts_unlost_holes_and_retransmissions() {
        let mss = 100;
        // Sent [0, 1000); SACKed [100, 400): hole [0,100) is lost (300 bytes above);
        // [400, 1000) is not.
        let mut b = sb(&[(100, 400)]);
        assert_eq!(b.pipe(Seq(0), Seq(1000), mss), 600);
        b.high_rxt = Seq(100);
        assert_eq!(b.pipe(Seq(0), Seq(1000), mss), 700);
    }

    #[test]
    fn next_hole_skips_sacked_ranges() {
        let b = sb(&[(100, 200), (300, 400)]);
        assert_eq!(b.next_hole(Seq(0), Seq(1000)), Some((Seq(0), Seq(100))));
        assert_eq!(b.next_hole(Seq(100), Seq(1000)), Some((Seq(200), Seq(300))));
        assert_eq!(
            b.next_hole(Seq(350), Seq(1000)),
            Some((Seq(400), Seq(1000)))
        );
        assert_eq!(b.next_hole(Seq(350), Seq(400)), None);
    }
}
