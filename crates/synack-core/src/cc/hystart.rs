//! HyStart++ (RFC 9406): leaving slow start when the RTT starts to rise, before the
//! first loss, on paths with deep buffers. Used in the initial slow start only (RFC
//! 9406 §4.3: later slow starts stop at the ssthresh a loss set).
//!
//! Each round (a window of data sent and acknowledged; the connection marks where
//! rounds end) keeps the minimum RTT seen; once a round has at least N_RTT_SAMPLE
//! samples and its minimum exceeds the previous round's by RttThresh, slow start gives
//! way to Conservative Slow Start (CSS), which grows a quarter as fast. CSS_ROUNDS
//! rounds of CSS without the RTT falling back end slow start (ssthresh = cwnd); an RTT
//! below the baseline in CSS means the rise was spurious and slow start resumes.
//!
//! Beside RFC 9406's delay test, Linux's ACK-train test (`tcp_cubic.c`, HyStart's
//! `HYSTART_ACK_TRAIN`, on by default there): when the ACKs of a round arrive as one
//! unbroken train (each within 2 ms of the last) for longer than half the minimum RTT
//! (the whole minimum RTT when the sender paces), the window already fills the path, and
//! slow start ends at once (ssthresh = cwnd). The minimum is the previous round's
//! (lastRoundMinRTT), where Linux keeps the connection's: the same until a queue
//! builds, and 4 bytes less in every connection. RFC 9406 dropped this test because ACK
//! compression can fake a train; it is kept here because without it a sender that does
//! not pace finds the RTT rise one round too late on a path whose queue is one BDP: the
//! queue a doubling round builds overflows before the next round's samples show it
//! (synack's CUBIC then lost about 1,200 packets leaving slow start on a 200 ms,
//! 100 Mbit/s path where Linux lost none).

use super::Ack;
use crate::time::Instant;

/// MIN_RTT_THRESH of RFC 9406 §4.3, µs.
const MIN_RTT_THRESH_US: u32 = 4_000;
/// MAX_RTT_THRESH of RFC 9406 §4.3, µs.
const MAX_RTT_THRESH_US: u32 = 16_000;
/// MIN_RTT_DIVISOR of RFC 9406 §4.3.
const MIN_RTT_DIVISOR: u32 = 8;
/// N_RTT_SAMPLE of RFC 9406 §4.3.
const N_RTT_SAMPLE: u8 = 8;
/// CSS_GROWTH_DIVISOR of RFC 9406 §4.3.
pub(crate) const CSS_GROWTH_DIVISOR: u32 = 4;
/// CSS_ROUNDS of RFC 9406 §4.3.
const CSS_ROUNDS: u8 = 5;
/// "Infinity" for the RTT minima.
const INF: u32 = u32::MAX;
/// Linux `hystart_ack_delta_us`: the largest gap between two ACKs of one train, µs.
const ACK_DELTA_US: u32 = 2_000;
/// Linux `hystart_low_window`: the ACK-train test waits for cwnd ≥ 16 segments.
const LOW_WINDOW_SEGMENTS: u32 = 16;

/// Where HyStart++ stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Standard slow start, watching the RTT.
    SlowStart,
    /// Conservative Slow Start (RFC 9406 §4.2).
    Css,
    /// Slow start has ended (or a loss ended it): HyStart++ no longer acts.
    Done,
}

/// RFC 9406 state plus the ACK train's: 24 bytes, kept inline in the controller.
#[derive(Debug, Clone)]
pub struct HyStart {
    /// When the current round began (engine µs, wrapping).
    round_start: u32,
    /// The last ACK of the current unbroken train (engine µs, wrapping).
    last_ack: u32,
    /// lastRoundMinRTT, µs.
    last_round_min: u32,
    /// currentRoundMinRTT, µs.
    current_round_min: u32,
    /// cssBaselineMinRtt, µs.
    css_baseline: u32,
    /// rttSampleCount.
    samples: u8,
    /// Rounds completed in CSS.
    css_rounds: u8,
    phase: Phase,
}

impl Default for HyStart {
    fn default() -> Self {
        HyStart::new()
    }
}

/// What slow start should do with an ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Growth {
    /// Grow by the slow-start increase divided by this (1, or CSS_GROWTH_DIVISOR).
    Divide(u32),
    /// End slow start now: ssthresh = cwnd (RFC 9406 §4.2, after CSS_ROUNDS).
    EnterAvoidance,
}

impl HyStart {
    /// Fresh state, for the initial slow start.
    pub fn new() -> HyStart {
        HyStart {
            round_start: 0,
            last_ack: 0,
            last_round_min: INF,
            current_round_min: INF,
            css_baseline: INF,
            samples: 0,
            css_rounds: 0,
            phase: Phase::SlowStart,
        }
    }

    /// True while in Conservative Slow Start.
    pub fn in_css(&self) -> bool {
        self.phase == Phase::Css
    }

    /// True once HyStart++ no longer acts (slow start ended or a loss happened).
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Stop acting (a congestion event ended slow start: RFC 9406 §4.2 "if a loss or
    /// ECN-marking is observed ... exit").
    pub fn finish(&mut self) {
        self.phase = Phase::Done;
    }

    /// One ACK of new data at `now` during slow start with window `cwnd` (RFC 9406
    /// §4.2, and Linux's ACK train).
    pub(crate) fn on_ack(&mut self, now: Instant, ack: &Ack, cwnd: u32) -> Growth {
        if self.phase == Phase::Done {
            return Growth::Divide(1);
        }
        // Wrapping µs: only differences of less than 71 minutes are compared.
        let now_us = now.total_micros() as u32;
        if ack.new_round {
            self.round_start = now_us;
            self.last_ack = now_us;
        } else if self.ack_train_fills_the_path(now_us, ack, cwnd) {
            self.phase = Phase::Done;
            return Growth::EnterAvoidance;
        }
        if ack.new_round {
            if self.phase == Phase::Css {
                self.css_rounds += 1;
                if self.css_rounds >= CSS_ROUNDS {
                    self.phase = Phase::Done;
                    return Growth::EnterAvoidance;
                }
            }
            self.last_round_min = self.current_round_min;
            self.current_round_min = INF;
            self.samples = 0;
        }
        if let Some(rtt) = ack.rtt_sample {
            let us = u32::try_from(rtt.as_micros()).unwrap_or(INF - 1);
            self.current_round_min = self.current_round_min.min(us);
            self.samples = self.samples.saturating_add(1);
        }
        let enough = self.samples >= N_RTT_SAMPLE
            && self.current_round_min != INF
            && self.last_round_min != INF;
        match self.phase {
            Phase::SlowStart if enough => {
                let thresh = (self.last_round_min / MIN_RTT_DIVISOR)
                    .clamp(MIN_RTT_THRESH_US, MAX_RTT_THRESH_US);
                if self.current_round_min >= self.last_round_min.saturating_add(thresh) {
                    self.css_baseline = self.current_round_min;
                    self.css_rounds = 0;
                    self.phase = Phase::Css;
                }
            }
            Phase::Css if enough && self.current_round_min < self.css_baseline => {
                // The RTT rise was spurious: back to slow start.
                self.css_baseline = INF;
                self.phase = Phase::SlowStart;
            }
            _ => {}
        }
        Growth::Divide(if self.phase == Phase::Css {
            CSS_GROWTH_DIVISOR
        } else {
            1
        })
    }

    /// Linux's ACK-train test (`hystart_update`, `HYSTART_ACK_TRAIN`): this ACK came
    /// within [`ACK_DELTA_US`] of the train's last one, and the train has run since the
    /// round began for longer than half the last round's minimum RTT (all of it when
    /// paced, as pacing itself spreads a round over up to half an RTT).
    fn ack_train_fills_the_path(&mut self, now_us: u32, ack: &Ack, cwnd: u32) -> bool {
        if self.last_round_min == INF
            || cwnd < LOW_WINDOW_SEGMENTS.saturating_mul(ack.mss)
            || now_us.wrapping_sub(self.last_ack) > ACK_DELTA_US
        {
            return false;
        }
        self.last_ack = now_us;
        let threshold = if ack.paced {
            self.last_round_min
        } else {
            self.last_round_min / 2
        };
        now_us.wrapping_sub(self.round_start) > threshold
    }
}
