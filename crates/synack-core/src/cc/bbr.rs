//! BBR, version 1 (draft-cardwell-iccrg-bbr-congestion-control-00, as Linux's
//! `tcp_bbr.c` implements it): a model-based controller. It estimates the bottleneck
//! bandwidth (the windowed maximum of the delivery rate over 10 rounds) and the round-
//! trip propagation time (the minimum RTT over 10 s), paces at a gain times the
//! bandwidth and caps what is in flight at a gain times their product, the BDP. It
//! does not treat loss as a congestion signal, which is why it keeps its rate on paths
//! with random loss where loss-based controllers fall to the Reno limit.
//!
//! Version 1 rather than 3: v1 is the published, stable algorithm (Linux's `bbr`
//! module, this machine's default), small enough to keep inline in the connection so
//! it allocates nothing; v3 adds loss and ECN bounds (`inflight_hi`, `bw_lo`) whose
//! draft is still changing. What this version leaves out, and why:
//! - delivery-rate samples are taken per round (bytes delivered, cumulatively or by
//!   SACK, over the round's duration; on every ACK within a round, the last RTT
//!   so far, which slides as a per-packet sample does and can only raise the
//!   estimate) instead of per packet, because the engine
//!   started without a per-segment send record; a round lasts about one RTT (it ends
//!   when data sent after it began is delivered, cumulatively or by SACK, as Linux
//!   counts rounds), which is also the interval over which the draft's per-packet
//!   samples are meaningful. Like
//!   Linux's samples, the interval is at least the one the data was sent over (the
//!   send log's times come with each ACK's RTT sample), so compressed ACKs cannot
//!   inflate the estimate;
//! - the ProbeBW gain cycle's phases last a round rather than a min RTT (a round is
//!   about one RTT); as in the draft and Linux's `bbr_is_next_cycle_phase`, the 1.25
//!   phase goes on until it has put 1.25 BDP in flight or lost something, and the
//!   0.75 phase ends as soon as what is in flight is down to one BDP;
//! - long-term bandwidth ("policer") detection is not implemented.
//!
//! The connection feeds it through [`CongestionControl::on_delivery`] on every ACK,
//! in recovery too; the window rules of loss recovery (inflation, deflation, cwnd =
//! ssthresh) do not apply to it. Its own recovery rules: losses leave the window, and
//! the window saved at the start of a recovery comes back at its end.

use super::{Ack, CongestionControl, Delivery};
use crate::time::{Duration, Instant};

/// Startup's pacing and cwnd gain, 2/ln 2, as a fraction of 1000.
const HIGH_GAIN: u64 = 2885;
/// Drain's pacing gain, its inverse, per mille.
const DRAIN_GAIN: u64 = 347;
/// ProbeBW's cwnd gain, per mille.
const CWND_GAIN: u64 = 2000;
/// ProbeBW's pacing gains per phase, per mille.
const CYCLE: [u64; 8] = [1250, 750, 1000, 1000, 1000, 1000, 1000, 1000];
/// How far below gain × bandwidth BBR paces, percent (Linux's
/// `bbr_pacing_margin_percent`).
const PACING_MARGIN_PERCENT: u64 = 1;
/// Rounds over which the bandwidth maximum is kept.
const BW_WINDOW_ROUNDS: u32 = 10;
/// How long a minimum RTT stands before ProbeRTT refreshes it, ms.
const MIN_RTT_WINDOW_MS: u32 = 10_000;
/// How long ProbeRTT holds the window at its minimum, ms.
const PROBE_RTT_MS: u32 = 200;

/// `Bbr::bits`: the current round was application-limited.
const APP_LIMITED: u8 = 1;
/// `Bbr::bits`: the connection was in fast recovery at the last ACK.
const IN_RECOVERY: u8 = 2;
/// `Bbr::bits`: the current ProbeBW phase has lasted a round (Linux's
/// `is_full_length`, a min RTT there).
const PHASE_FULL: u8 = 4;
/// `Bbr::bits`: Startup found the pipe full (draft's `filled_pipe`).
const FILLED_PIPE: u8 = 8;
/// `Bbr::bits`: the high nibble holds `cycle_index()`.
const CYCLE_SHIFT: u32 = 4;

/// Engine time in wrapping milliseconds and microseconds (32-bit stamps keep the
/// state small).
fn ms(now: Instant) -> u32 {
    now.total_millis() as u32
}
fn us(now: Instant) -> u32 {
    now.total_micros() as u32
}
/// The smallest cwnd, in segments.
const MIN_CWND_SEGS: u32 = 4;
/// Startup ends when the bandwidth grew less than this (per mille) ...
const FULL_BW_GROWTH: u64 = 1250;
/// ... for this many rounds in a row.
const FULL_BW_ROUNDS: u8 = 3;

/// BBR's state machine (draft §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BbrMode {
    /// Exponential search for the bandwidth.
    Startup,
    /// Draining the queue Startup built.
    Drain,
    /// Cruising at the bandwidth, probing for more once per cycle.
    ProbeBw,
    /// Briefly at a minimal window to measure the propagation RTT afresh.
    ProbeRtt,
}

/// RFC-style BBR v1 state, kept small (it lives inline in every connection that uses
/// it).
#[derive(Debug, Clone)]
pub struct Bbr {
    mode: BbrMode,
    cwnd: u32,
    /// cwnd before ProbeRTT or a timeout, restored after.
    prior_cwnd: u32,
    mss: u16,
    /// Bandwidth samples, bytes per second (saturating at 4 GB/s), with the round
    /// they were taken in: the best, second-best and third-best of the window (a
    /// Kathleen Nichols min-max filter, as Linux's `minmax`).
    bw: [u32; 3],
    /// The round each of `bw` was taken in (its low 8 bits: the window is 10).
    bw_round: [u8; 3],
    /// Round-trip propagation time estimate, µs (u32::MAX before a sample).
    min_rtt_us: u32,
    /// When `min_rtt_us` was measured, engine milliseconds (wrapping).
    min_rtt_stamp: u32,
    /// End of ProbeRTT's hold, engine milliseconds, once in flight has fallen to the
    /// minimum window (0: not yet).
    probe_rtt_done: u32,
    /// Rounds counted so far (wrapping: only differences within the 10-round window
    /// are read).
    round: u8,
    /// Bytes delivered in the current round, and when it began.
    round_bytes: u32,
    /// Engine microseconds (wrapping; rounds last far less than 71 minutes), 0 before
    /// the first ACK.
    round_start: u32,
    /// Startup's plateau detection: the bandwidth to beat, bytes per second.
    full_bw: u32,
    /// `APP_LIMITED`, `IN_RECOVERY`, `PHASE_FULL` and `FILLED_PIPE` flags, and
    /// `cycle_index()` in the high nibble (one byte, so the controller stays inline
    /// in 64 bytes).
    bits: u8,
    /// Send time (engine µs, wrapping; 0: none yet) of the latest-sent data delivered
    /// in this round, and in the previous one: the round's send interval.
    round_xmit: u32,
    prev_round_xmit: u32,
    /// The previous round's delivery rate, bytes per second (0: none): the part of
    /// the last RTT that the current round has not covered yet (`sliding_rate`).
    prev_rate: u32,
}

impl Bbr {
    /// Initial window `initial_cwnd` bytes, in Startup.
    pub fn new(initial_cwnd: u32) -> Bbr {
        Bbr {
            mode: BbrMode::Startup,
            cwnd: initial_cwnd,
            prior_cwnd: initial_cwnd,
            mss: 1460,
            bw: [0; 3],
            bw_round: [0; 3],
            min_rtt_us: u32::MAX,
            min_rtt_stamp: 0,
            probe_rtt_done: 0,
            round: 0,
            round_bytes: 0,
            round_start: 0,
            full_bw: 0,
            bits: 0,
            round_xmit: 0,
            prev_round_xmit: 0,
            prev_rate: 0,
        }
    }

    /// The state machine's mode.
    pub fn mode(&self) -> BbrMode {
        self.mode
    }

    /// In ProbeBW, the phase (see `check_cycle_phase`); before the pipe is filled,
    /// Startup's count of rounds in a row without 25 % growth (the two never
    /// overlap: ProbeBW begins only once the pipe is full). Kept in `bits`.
    fn cycle_index(&self) -> u8 {
        self.bits >> CYCLE_SHIFT
    }

    fn set_cycle_index(&mut self, i: u8) {
        self.bits = (self.bits & !(0xF << CYCLE_SHIFT)) | ((i & 0xF) << CYCLE_SHIFT);
    }

    fn filled_pipe(&self) -> bool {
        self.bits & FILLED_PIPE != 0
    }

    /// The bottleneck bandwidth estimate, bytes per second (0 before a sample).
    pub fn bottleneck_bw(&self) -> u64 {
        u64::from(self.bw[0])
    }

    /// The propagation RTT estimate, once measured.
    pub fn min_rtt(&self) -> Option<Duration> {
        (self.min_rtt_us != u32::MAX).then(|| Duration::from_micros(u64::from(self.min_rtt_us)))
    }

    /// The estimated BDP in bytes, once both estimates exist.
    fn bdp(&self) -> Option<u64> {
        let bw = self.bottleneck_bw();
        if bw == 0 || self.min_rtt_us == u32::MAX {
            return None;
        }
        Some(bw * u64::from(self.min_rtt_us) / 1_000_000)
    }

    fn pacing_gain(&self) -> u64 {
        match self.mode {
            BbrMode::Startup => HIGH_GAIN,
            BbrMode::Drain => DRAIN_GAIN,
            BbrMode::ProbeBw => CYCLE[usize::from(self.cycle_index()) % CYCLE.len()],
            BbrMode::ProbeRtt => 1000,
        }
    }

    fn cwnd_gain(&self) -> u64 {
        match self.mode {
            BbrMode::Startup | BbrMode::Drain => HIGH_GAIN,
            _ => CWND_GAIN,
        }
    }

    fn min_cwnd(&self) -> u32 {
        MIN_CWND_SEGS * u32::from(self.mss)
    }

    /// Room above a BDP for the bursts end systems send and acknowledge in (Linux's
    /// `bbr_quantization_budget`): three bursts of about a millisecond at the pacing
    /// rate (`bbr_tso_segs_goal`: the rate over 1024, at least two segments, at
    /// most 127 or 64 KB), plus two segments while probing. It sits in the window's
    /// target and in the ProbeBW phase ends, so the draining phase stops with that
    /// much still queued: with the drain running down to one BDP exactly and cruising
    /// at the measured rate, the bottleneck's queue was empty at every hiccup of the
    /// sender's timer and the link idled (P1 and P4 moved 2 to 3 % less than Linux's
    /// BBR, with 5 ms of queue where Linux keeps 10).
    fn quantization_budget(&self) -> u64 {
        let mss = u64::from(self.mss);
        let rate = self.bottleneck_bw() * self.pacing_gain() / 1000;
        let min_segs = if rate < 150_000 { 1 } else { 2 };
        let burst = (rate >> 10).min(65_536 - 1 - 320);
        let segs = (burst / mss).max(min_segs).min(127);
        let probing =
            self.mode == BbrMode::ProbeBw && CYCLE[usize::from(self.cycle_index())] > 1000;
        (3 * segs + if probing { 2 } else { 0 }) * mss
    }

    /// Windowed maximum filter update (draft §4.5.2.2): a new best replaces all; the
    /// others age out after the window.
    fn update_bw(&mut self, sample: u64) {
        let sample = u32::try_from(sample).unwrap_or(u32::MAX);
        let r = self.round;
        let age = |k: u8| u32::from(r.wrapping_sub(k));
        if sample >= self.bw[0] || age(self.bw_round[2]) >= BW_WINDOW_ROUNDS {
            self.bw = [sample; 3];
            self.bw_round = [r; 3];
            return;
        }
        if sample >= self.bw[1] {
            self.bw[1] = sample;
            self.bw[2] = sample;
            self.bw_round[1] = r;
            self.bw_round[2] = r;
        } else if sample >= self.bw[2] {
            self.bw[2] = sample;
            self.bw_round[2] = r;
        }
        // Age the best out after the window, then the second best.
        for _ in 0..2 {
            if age(self.bw_round[0]) >= BW_WINDOW_ROUNDS {
                self.bw = [self.bw[1], self.bw[2], sample];
                self.bw_round = [self.bw_round[1], self.bw_round[2], r];
            }
        }
    }

    /// The delivery rate of the current round so far, bytes per second: the bytes it
    /// delivered over the longest of its ACKs' span, the interval its data was sent
    /// over, the propagation RTT and `floor_us` (`None` before anything was
    /// delivered).
    ///
    /// A round's ACKs can span less than the propagation RTT (the data that opened it
    /// left before it began); over so short an interval they measure ACK timing, not
    /// the path. Linux discards per-packet rate samples whose interval is below
    /// min_rtt; a round is one sample, and discarding it when the round ends just
    /// short of min_rtt (the usual case for a paced sender) froze the estimate at its
    /// first, low value: a flow that started while the reverse path's queue was full
    /// stayed at 2 Mbit/s of 50. So the interval is at least min_rtt instead: the
    /// sample can only err low.
    ///
    /// And at least the interval over which the round's data was sent (Linux's rate
    /// samples take the larger of the send and the ACK interval): ACKs that queued
    /// behind data on the reverse path arrive compressed, and a round of them spanning
    /// less than the data took to leave measured up to five times the link's rate,
    /// which Startup then paced at.
    fn round_rate(&self, now: Instant, floor_us: u32) -> Option<u64> {
        let elapsed = u128::from(us(now).wrapping_sub(self.round_start));
        let bytes = u64::from(self.round_bytes);
        let sent_over = u128::from(self.sent_over_us());
        let interval = if self.min_rtt_us == u32::MAX {
            elapsed.max(sent_over)
        } else {
            elapsed
                .max(sent_over)
                .max(u128::from(self.min_rtt_us.max(floor_us)))
        };
        (elapsed > 0 && bytes > 0).then(|| (u128::from(bytes) * 1_000_000 / interval) as u64)
    }

    /// The delivery rate over the last `window_us` (an RTT) before `now`, bytes per
    /// second: this round's bytes so far, plus the previous round's rate over the
    /// part of the window this round has not covered yet. Linux's per-packet samples
    /// slide the same way (each ACK measures what was delivered in the RTT before
    /// it), where a round's own rate so far trails them by up to a round: with that
    /// lag, Startup's 2/ln 2 pacing gain grew the flow by about 1.77 per round
    /// instead of doubling it (the gain is derived for a sample that slides), and a
    /// 200 ms path took two rounds more to fill.
    fn sliding_rate(&self, now: Instant, window_us: u32) -> Option<u64> {
        let elapsed = us(now).wrapping_sub(self.round_start);
        if self.prev_rate == 0 || self.round_bytes == 0 || elapsed >= window_us {
            return None;
        }
        let rest_us = u64::from(window_us - elapsed);
        let bytes = u64::from(self.round_bytes) + u64::from(self.prev_rate) * rest_us / 1_000_000;
        // The send-interval guard of `round_rate`, over the whole window: this
        // round's data left over `sent_over`, the previous round's share over about
        // `rest_us`; ACKs that arrive compressed cannot make the rate higher than
        // the data was sent at.
        let sent_over = u64::from(self.sent_over_us());
        let interval = u64::from(window_us).max(sent_over + rest_us);
        Some(bytes * 1_000_000 / interval)
    }

    /// The interval, µs, over which the data this round delivered so far was sent
    /// (0 before two rounds have delivered something).
    fn sent_over_us(&self) -> u32 {
        if self.round_xmit != 0 && self.prev_round_xmit != 0 {
            self.round_xmit
                .wrapping_sub(self.prev_round_xmit)
                .min(1 << 31)
        } else {
            0
        }
    }

    /// End of a round: a delivery-rate sample, then Startup's plateau check.
    fn end_round(&mut self, now: Instant) {
        let rate = self.round_rate(now, 0);
        self.prev_rate = rate.map_or(0, |r| u32::try_from(r).unwrap_or(u32::MAX));
        self.prev_round_xmit = self.round_xmit;
        let sampled = rate.is_some();
        if let Some(sample) = rate {
            // An application-limited sample only counts when it raises the estimate
            // (draft §4.5.2.3: it shows what the path can do at least).
            if self.bits & APP_LIMITED == 0 || sample > self.bottleneck_bw() {
                self.update_bw(sample);
            }
        }
        self.round = self.round.wrapping_add(1);
        self.round_bytes = 0;
        self.round_start = us(now);
        if self.mode == BbrMode::ProbeBw {
            // A phase lasts at least a round; the probing one then waits for its
            // condition (`check_cycle_phase`).
            if CYCLE[usize::from(self.cycle_index())] > 1000 {
                self.bits |= PHASE_FULL;
            } else {
                self.advance_cycle();
            }
        }
        // Only a round that measured the path, limited by the network rather than the
        // application, tells whether the bandwidth stopped growing.
        if sampled && !self.filled_pipe() && self.bits & APP_LIMITED == 0 {
            // Draft §4.3.2.2: the pipe is full when three rounds in a row failed to
            // grow the bandwidth by 25 %.
            let bw = self.bottleneck_bw();
            if bw * 1000 >= u64::from(self.full_bw) * FULL_BW_GROWTH {
                self.full_bw = self.bw[0];
                self.set_cycle_index(0);
            } else {
                self.set_cycle_index(self.cycle_index() + 1);
                if self.cycle_index() >= FULL_BW_ROUNDS {
                    self.bits |= FILLED_PIPE;
                }
            }
        }
        self.bits &= !APP_LIMITED;
    }

    /// Mode transitions after an ACK (draft §4.3).
    fn update_mode(&mut self, now: Instant, in_flight: u32) {
        if self.mode == BbrMode::Startup && self.filled_pipe() {
            self.mode = BbrMode::Drain;
        }
        if self.mode == BbrMode::Drain && self.bdp().is_some_and(|bdp| u64::from(in_flight) <= bdp)
        {
            self.enter_probe_bw();
        }
        // ProbeRTT (draft §4.3.4): when the minimum RTT is older than its window.
        if self.mode != BbrMode::ProbeRtt
            && self.min_rtt_us != u32::MAX
            && ms(now).wrapping_sub(self.min_rtt_stamp) > MIN_RTT_WINDOW_MS
        {
            self.mode = BbrMode::ProbeRtt;
            self.prior_cwnd = self.prior_cwnd.max(self.cwnd);
            self.probe_rtt_done = 0;
        }
        if self.mode == BbrMode::ProbeRtt {
            let done = self.probe_rtt_done;
            if done == 0 {
                if in_flight <= self.min_cwnd() {
                    self.probe_rtt_done = ms(now).wrapping_add(PROBE_RTT_MS).max(1);
                }
            } else if (ms(now).wrapping_sub(done) as i32) >= 0 {
                {
                    self.min_rtt_stamp = ms(now);
                    self.cwnd = self.cwnd.max(self.prior_cwnd);
                    if self.filled_pipe() {
                        self.enter_probe_bw();
                    } else {
                        self.mode = BbrMode::Startup;
                    }
                }
            }
        }
    }

    fn enter_probe_bw(&mut self) {
        self.mode = BbrMode::ProbeBw;
        // Start in a cruising phase, derived from the round count rather than a
        // random draw (the engine owns no RNG); never in the draining 0.75 phase.
        self.set_cycle_index(2 + self.round % 6);
        self.bits &= !PHASE_FULL;
    }

    /// The next ProbeBW phase.
    fn advance_cycle(&mut self) {
        self.set_cycle_index((self.cycle_index() + 1) % CYCLE.len() as u8);
        self.bits &= !PHASE_FULL;
    }

    /// On every ACK in ProbeBW (draft §4.3.3.5, Linux `bbr_is_next_cycle_phase`): the
    /// probing phase (gain 1.25) ends once it has lasted a round and either put 1.25
    /// BDP in flight or lost something, so the probe really offers the path 25 % more
    /// (ended after a round whatever it reached, it left the queue nearly empty and
    /// the link idle in the draining phase after it); the draining phase (0.75) ends
    /// as soon as in flight is down to one BDP, before the link runs dry. Cruising
    /// phases end with their round (`end_round`).
    fn check_cycle_phase(&mut self, d: &Delivery) {
        let gain = CYCLE[usize::from(self.cycle_index())];
        let Some(bdp) = self.bdp() else {
            return;
        };
        let in_flight = u64::from(d.in_flight);
        let next = if gain > 1000 {
            self.bits & PHASE_FULL != 0
                && (d.lost > 0 || in_flight >= bdp * gain / 1000 + self.quantization_budget())
        } else {
            gain < 1000 && in_flight <= bdp + self.quantization_budget()
        };
        if next {
            self.advance_cycle();
        }
    }

    /// Loss recovery's part of the window (draft §4.2.3.4, as Linux's
    /// `bbr_set_cwnd_to_recover_or_restore`): bytes newly deemed lost leave the window
    /// at once, so a burst of losses (a queue that overflowed) does not turn into a
    /// burst of retransmissions into the same full queue; leaving recovery restores
    /// the window saved when it began. Linux also conserves packets for the first
    /// round of a recovery (the window held to what is in flight plus what each ACK
    /// delivered); not here: the engine's rounds end on cumulative ACKs, which a hole
    /// holds back, and held for a timed round trip instead the window fell below the
    /// BDP on every loss of a 1 %-loss path and took the bandwidth estimate with it
    /// (P2 in virtual time: 64 Mbit/s without, 51 with).
    fn recover_or_restore(&mut self, d: &Delivery) {
        if d.lost > 0 {
            self.cwnd = self.cwnd.saturating_sub(d.lost).max(self.min_cwnd());
        }
        let was = self.bits & IN_RECOVERY != 0;
        if d.in_recovery && !was {
            self.prior_cwnd = if self.mode == BbrMode::ProbeRtt {
                self.prior_cwnd.max(self.cwnd)
            } else {
                self.cwnd
            };
        } else if !d.in_recovery && was {
            self.cwnd = self.cwnd.max(self.prior_cwnd);
        }
        if d.in_recovery {
            self.bits |= IN_RECOVERY;
        } else {
            self.bits &= !IN_RECOVERY;
        }
    }

    /// The window for this ACK (draft §4.2.3): gain × BDP plus room for delayed and
    /// aggregated ACKs, reached by growing with what was delivered.
    fn update_cwnd(&mut self, delivered: u32) {
        if self.mode == BbrMode::ProbeRtt {
            self.cwnd = self.cwnd.min(self.min_cwnd());
            return;
        }
        let grown = self.cwnd.saturating_add(delivered);
        self.cwnd = match self.bdp() {
            Some(bdp) => {
                let target = bdp * self.cwnd_gain() / 1000 + self.quantization_budget();
                let target = u32::try_from(target).unwrap_or(u32::MAX);
                if self.filled_pipe() {
                    grown.min(target)
                } else if self.cwnd < target {
                    // Startup grows by every byte delivered (doubling per round) while
                    // below its target (Linux bbr_set_cwnd).
                    grown
                } else {
                    self.cwnd
                }
            }
            None => grown,
        };
        self.cwnd = self.cwnd.max(self.min_cwnd());
    }
}

impl CongestionControl for Bbr {
    fn name(&self) -> &'static str {
        "bbr"
    }

    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd.max(self.min_cwnd());
    }

    fn ssthresh(&self) -> u32 {
        // BBR has no slow-start threshold (Linux reports TCP_INFINITE_SSTHRESH).
        u32::MAX
    }

    fn on_ack(&mut self, _now: Instant, _ack: &Ack) {
        // Everything happens in `on_delivery`, which sees every ACK.
    }

    fn on_delivery(&mut self, now: Instant, d: &Delivery) {
        self.mss = u16::try_from(d.mss).unwrap_or(u16::MAX).max(1);
        if self.round_start == 0 {
            self.round_start = us(now).max(1);
            self.min_rtt_stamp = ms(now);
        }
        // The ACK's RTT sample, µs: the latest-sent data it delivered left that long
        // ago, at `xmit`.
        let rtt_us = d
            .rtt_sample
            .map(|r| u32::try_from(r.as_micros()).unwrap_or(u32::MAX - 1).max(1));
        let xmit = rtt_us.map(|r| us(now).wrapping_sub(r).max(1));
        if let (Some(rtt), Some(xmit)) = (rtt_us, xmit) {
            // Draft §4.5.3: a lower sample, or any sample once the estimate expired.
            let expired = ms(now).wrapping_sub(self.min_rtt_stamp) > MIN_RTT_WINDOW_MS;
            if rtt <= self.min_rtt_us || (expired && self.mode == BbrMode::ProbeRtt) {
                self.min_rtt_us = rtt;
                self.min_rtt_stamp = ms(now);
            }
            if self.round_xmit == 0 || (xmit.wrapping_sub(self.round_xmit) as i32) > 0 {
                self.round_xmit = xmit;
            }
        }
        // A round ends when data sent after it began is delivered, cumulatively or by
        // SACK (Linux counts rounds by its delivered counter, draft §4.5.1). Ending
        // it only when SND.UNA passes the round's end, as RFC 9406 counts for
        // HyStart++, made rounds on a path with 1 % loss two to three RTTs long
        // (each waited for its holes to be repaired), so every ProbeBW phase lasted
        // that long and its 1.25 phase overfilled the queue. An ACK without an RTT
        // sample (only retransmitted data delivered) falls back to that rule once the
        // round has lasted two propagation RTTs.
        let new_round = match xmit {
            Some(xmit) => (xmit.wrapping_sub(self.round_start) as i32) >= 0,
            None => {
                d.new_round
                    && self.min_rtt_us != u32::MAX
                    && us(now).wrapping_sub(self.round_start) > self.min_rtt_us.saturating_mul(2)
            }
        };
        self.round_bytes = self.round_bytes.saturating_add(d.delivered);
        if d.app_limited {
            self.bits |= APP_LIMITED;
        }
        if new_round {
            self.end_round(now);
        } else if self.min_rtt_us != u32::MAX && self.bottleneck_bw() > 0 {
            // Within the round, the rate so far may raise the estimate already, as
            // Linux's per-ACK samples do. With one sample at each round's end, pacing
            // followed the delivery rate a round late, and Startup grew by about
            // √2.89 ≈ 1.7 per round instead of doubling (a 200 ms path took 12 rounds
            // to fill instead of 8). Lower samples are ignored. The interval is at
            // least this ACK's RTT too, as a Linux sample spans about one RTT of ACKs:
            // with only the round's bounds (min_rtt, send interval), ACKs compressed
            // behind the reverse path's data early in a round overestimated the rate,
            // and on the bufferbloat profile with data both ways BBR kept a standing
            // queue (SRTT 101 ms on a 20 ms path). Not before the first round's
            // sample: the first ACKs' few bytes would replace the initial pacing rate
            // (the initial window per RTT) with a far lower one, where Linux never
            // lowers it in Startup.
            let window = rtt_us.unwrap_or(0).max(self.min_rtt_us);
            let sample = self
                .sliding_rate(now, window)
                .or_else(|| self.round_rate(now, rtt_us.unwrap_or(0)));
            if let Some(sample) = sample {
                if sample > self.bottleneck_bw() {
                    self.update_bw(sample);
                }
            }
        }
        if self.mode == BbrMode::ProbeBw {
            self.check_cycle_phase(d);
        }
        self.update_mode(now, d.in_flight);
        self.recover_or_restore(d);
        self.update_cwnd(d.delivered);
    }

    fn on_congestion_event(&mut self, _now: Instant, _flight_size: u32, _mss: u32) {
        // Loss is not a congestion signal to BBR v1 (draft §4.2.3 keeps the model).
    }

    fn on_fast_retransmit(&mut self, _now: Instant, _flight_size: u32, _mss: u32) {}

    fn on_sack_recovery(&mut self, _now: Instant, _flight_size: u32, _mss: u32) {}

    fn on_recovery_dup_ack(&mut self, _mss: u32) {}

    fn on_partial_ack(&mut self, _bytes_acked: u32, _mss: u32) {}

    fn on_recovery_exit(&mut self, _flight_size: u32, _mss: u32) {}

    fn on_rto(&mut self, _now: Instant, _flight_size: u32, mss: u32) {
        // A timeout restarts from one segment, like every TCP (Linux's tcp_enter_loss
        // sets cwnd to what is in flight plus one); BBR's window growth brings it
        // back, and the window saved here comes back when the repair is done (the
        // connection reports the timeout's repair as recovery until SND.UNA passes
        // what was outstanding). Saved as Linux's `bbr_save_cwnd`: the window now,
        // or the larger of it and the one already saved if a recovery or ProbeRTT
        // had lowered it. Before, a timeout outside recovery never got its window
        // back, and one inside recovery got it back at the next ACK, with the repair
        // barely begun.
        self.prior_cwnd = if self.bits & IN_RECOVERY == 0 && self.mode != BbrMode::ProbeRtt {
            self.cwnd
        } else {
            self.prior_cwnd.max(self.cwnd)
        };
        self.bits |= IN_RECOVERY;
        self.cwnd = mss.max(1);
    }

    fn on_idle_restart(&mut self, _restart_window: u32) {
        // Pacing at the estimated bandwidth already spreads the restart (Linux's BBR
        // ignores the restart window and paces at the model's rate).
    }

    fn pacing_rate(&self, srtt: Option<Duration>) -> Option<u64> {
        let bw = self.bottleneck_bw();
        if bw > 0 {
            // Linux's `bbr_pacing_margin_percent`: 1 % below the gain times the
            // bandwidth, so that at gain 1 the bottleneck's queue drains slowly.
            let rate = bw * self.pacing_gain() / 1000;
            return Some((rate * (100 - PACING_MARGIN_PERCENT) / 100).max(1));
        }
        // Before the first sample: the initial window over the RTT, at Startup's gain.
        let rtt_us = srtt.map_or(1_000, |s| s.as_micros().max(1) as u64);
        Some((u64::from(self.cwnd) * 1_000_000 / rtt_us * HIGH_GAIN / 1000).max(1))
    }

    fn in_slow_start(&self) -> bool {
        self.mode == BbrMode::Startup
    }

    fn controls_recovery_window(&self) -> bool {
        true
    }
}
