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

use super::Ack;

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

/// RFC 9406 state: 16 bytes, kept inline in the controller.
#[derive(Debug, Clone)]
pub struct HyStart {
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

    /// One ACK of new data during slow start (RFC 9406 §4.2).
    pub(crate) fn on_ack(&mut self, ack: &Ack) -> Growth {
        if self.phase == Phase::Done {
            return Growth::Divide(1);
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
}
