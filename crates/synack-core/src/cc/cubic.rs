//! CUBIC (RFC 9438): the window follows a cubic function of the time since the last
//! congestion event, with a Reno-friendly region and fast convergence; slow start
//! uses HyStart++ (RFC 9406) until the first congestion event.

use super::hystart::{Growth, HyStart};
use super::{slow_start, Ack, CongestionControl};
use crate::math;
use crate::time::{Duration, Instant};
use core::num::NonZeroU32;

/// L of RFC 9406 §4.2 for a sender that does not pace: slow start adds at most this
/// many SMSS per ACK.
const SS_L: u32 = 8;

/// C of RFC 9438 §4.2 (value 0.4 per §5.1), in segments / second^3.
const CUBIC_C: f64 = 0.4;
/// beta_cubic of RFC 9438 §4.6.
const CUBIC_BETA: f64 = 0.7;
/// alpha_cubic of RFC 9438 §4.3: 3 * (1 - beta) / (1 + beta).
const CUBIC_ALPHA: f64 = 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);

/// RFC 9438 CUBIC.
#[derive(Debug, Clone)]
pub struct Cubic {
    cwnd: u32,
    ssthresh: u32,
    /// W_max (RFC 9438 §4.1), bytes: the window just before the last reduction, less
    /// with fast convergence (§4.7). Zero before the first congestion event.
    w_max: f32,
    /// cwnd_prior (RFC 9438 §4.6), bytes: cwnd when ssthresh was last set.
    cwnd_prior: f32,
    /// Start of the current congestion-avoidance stage (the epoch), in engine
    /// milliseconds (wrapping); `None` outside it. The window's state is kept in
    /// 32-bit fields (computed in f64) so the controller stays small; a start at
    /// millisecond 0 of a wrap is taken as 1 so the field fits in 4 bytes.
    epoch_start: Option<NonZeroU32>,
    /// K (RFC 9438 §4.2), seconds, for the current epoch.
    k: f32,
    /// W_est (RFC 9438 §4.3), bytes: the Reno-friendly estimate for the current epoch.
    w_est: f32,
    /// Fractional bytes of cwnd growth not yet applied.
    carry: f32,
    /// The next epoch is the first after a timeout (RFC 9438 §4.8).
    after_timeout: bool,
    /// A timeout was taken and no new data has been acknowledged since.
    in_timeout: bool,
    /// HyStart++ for the initial slow start.
    hystart: HyStart,
}

impl Cubic {
    /// Initial window `initial_cwnd` bytes; ssthresh starts "arbitrarily high"
    /// (RFC 5681 §3.1).
    pub fn new(initial_cwnd: u32) -> Cubic {
        Cubic {
            cwnd: initial_cwnd,
            ssthresh: u32::MAX,
            w_max: 0.0,
            cwnd_prior: 0.0,
            epoch_start: None,
            k: 0.0,
            w_est: 0.0,
            carry: 0.0,
            after_timeout: false,
            in_timeout: false,
            hystart: HyStart::new(),
        }
    }

    /// The HyStart++ state of the initial slow start (RFC 9406).
    pub fn hystart(&self) -> &HyStart {
        &self.hystart
    }

    /// W_max in bytes (RFC 9438 §4.1); 0 before the first congestion event.
    pub fn w_max(&self) -> u32 {
        self.w_max as u32
    }

    /// K of the current congestion-avoidance epoch (RFC 9438 §4.2): the time from the
    /// epoch's start until the cubic function reaches W_max. `None` outside an epoch.
    pub fn k(&self) -> Option<Duration> {
        self.epoch_start
            .map(|_| Duration::from_secs_f64(f64::from(self.k).max(0.0)))
    }

    /// W_cubic(t) of RFC 9438 §4.2 eq. 1, in bytes: C * (t - K)^3 * SMSS + W_max.
    fn w_cubic(&self, t: f64, mss: f64) -> f64 {
        let d = t - f64::from(self.k);
        CUBIC_C * d * d * d * mss + f64::from(self.w_max)
    }

    /// ssthresh after a congestion event, RFC 9438 §4.6: FlightSize * beta_cubic, at
    /// least 2*SMSS (RFC 5681 §3.1 eq. 4's floor).
    fn cubic_ssthresh(flight_size: u32, mss: u32) -> u32 {
        ((f64::from(flight_size) * CUBIC_BETA) as u32).max(mss.saturating_mul(2))
    }

    /// Begin a congestion-avoidance epoch at `now` (RFC 9438 §4.2).
    fn start_epoch(&mut self, now: Instant, mss: f64) {
        let cwnd = f64::from(self.cwnd);
        self.epoch_start =
            Some(NonZeroU32::new(now.total_millis() as u32).unwrap_or(NonZeroU32::MIN));
        self.carry = 0.0;
        // RFC 9438 §4.3: W_est starts at cwnd_epoch.
        self.w_est = cwnd as f32;
        let w_max = f64::from(self.w_max);
        if self.after_timeout || cwnd >= w_max {
            // RFC 9438 §4.8: the first epoch after a timeout uses K = 0 and W_max =
            // cwnd_epoch. The same applies when there is no higher W_max to return to
            // (no congestion event yet): growth is convex from the current window.
            self.w_max = cwnd as f32;
            self.k = 0.0;
        } else {
            // RFC 9438 §4.2 eq. 2: K = cbrt((W_max - cwnd_epoch) / C), in segments.
            self.k = math::cbrt((w_max - cwnd) / mss / CUBIC_C) as f32;
        }
        self.after_timeout = false;
    }

    /// Congestion avoidance for one ACK (RFC 9438 §4.2–§4.5).
    fn congestion_avoidance(
        &mut self,
        now: Instant,
        bytes_acked: u32,
        mss: u32,
        srtt: Option<Duration>,
    ) {
        let mss_f = f64::from(mss.max(1));
        if self.epoch_start.is_none() {
            self.start_epoch(now, mss_f);
        }
        let now_ms = now.total_millis() as u32;
        let epoch = self.epoch_start.map_or(now_ms, NonZeroU32::get);
        let t = f64::from(now_ms.wrapping_sub(epoch)) / 1000.0;
        let rtt = srtt.unwrap_or(Duration::ZERO).as_secs_f64();
        let cwnd = f64::from(self.cwnd);
        let acked = f64::from(bytes_acked);

        // RFC 9438 §4.3: W_est += alpha * segments_acked / cwnd (in segments); alpha
        // becomes 1 once W_est reaches cwnd_prior.
        let alpha = if self.w_est >= self.cwnd_prior {
            1.0
        } else {
            CUBIC_ALPHA
        };
        let w_est = f64::from(self.w_est) + alpha * acked * mss_f / cwnd;
        self.w_est = w_est as f32;

        let new_cwnd = if self.w_cubic(t, mss_f) < w_est {
            // Reno-friendly region (RFC 9438 §4.3): cwnd = W_est.
            self.carry = 0.0;
            w_est.max(cwnd)
        } else {
            // Concave (§4.4) and convex (§4.5) regions: aim at W_cubic(t + RTT),
            // clamped to [cwnd, 1.5 * cwnd] (§4.2), and grow by
            // (target - cwnd) / cwnd per SMSS acknowledged.
            let target = self.w_cubic(t + rtt, mss_f).clamp(cwnd, 1.5 * cwnd);
            let grow = (target - cwnd) * acked / cwnd + f64::from(self.carry);
            let whole = math::floor(grow);
            self.carry = (grow - whole) as f32;
            cwnd + whole
        };
        self.cwnd = if new_cwnd >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            new_cwnd as u32
        };
    }

    /// The window reduction shared by fast retransmit and timeout: W_max with fast
    /// convergence (RFC 9438 §4.7), cwnd_prior and ssthresh (§4.6).
    fn reduce(&mut self, flight_size: u32, mss: u32) {
        let cwnd = f64::from(self.cwnd);
        // RFC 9438 §4.7: a flow that lost before reaching its previous W_max releases
        // some bandwidth for newer flows.
        self.w_max = if cwnd < f64::from(self.w_max) {
            (cwnd * (1.0 + CUBIC_BETA) / 2.0) as f32
        } else {
            cwnd as f32
        };
        self.cwnd_prior = cwnd as f32;
        self.ssthresh = Self::cubic_ssthresh(flight_size, mss);
        self.epoch_start = None;
        self.carry = 0.0;
    }
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }

    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd;
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, now: Instant, ack: &Ack) {
        let (bytes_acked, mss) = (ack.bytes_acked, ack.mss);
        if bytes_acked == 0 {
            return;
        }
        self.in_timeout = false;
        if self.cwnd < self.ssthresh {
            // RFC 9438 §4.10: slow start below ssthresh; RFC 9406 in the first one.
            let divisor = if self.ssthresh == u32::MAX {
                match self.hystart.on_ack(now, ack, self.cwnd) {
                    Growth::Divide(d) => d,
                    Growth::EnterAvoidance => {
                        // RFC 9406 §4.2: after CSS_ROUNDS, ssthresh = cwnd.
                        self.ssthresh = self.cwnd;
                        return;
                    }
                }
            } else {
                1
            };
            let grown = slow_start(self.cwnd, self.ssthresh, bytes_acked, mss, SS_L);
            self.cwnd += (grown - self.cwnd) / divisor;
            return;
        }
        self.congestion_avoidance(now, bytes_acked, mss, ack.srtt);
    }

    fn on_congestion_event(&mut self, _now: Instant, flight_size: u32, mss: u32) {
        self.hystart.finish();
        self.reduce(flight_size, mss);
        self.after_timeout = false;
    }

    fn on_spurious_recovery(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        self.cwnd = self.cwnd.max(prior_cwnd);
        self.ssthresh = self.ssthresh.max(prior_ssthresh);
        self.epoch_start = None;
    }

    fn reduces_from_cwnd(&self) -> bool {
        true
    }

    fn on_recovery_exit(&mut self, flight_size: u32, mss: u32) {
        // RFC 6582 §3.2 step 6 option 1.
        self.cwnd = self.ssthresh.min(flight_size.max(mss).saturating_add(mss));
        // The next congestion-avoidance ACK starts the epoch (RFC 9438 §4.2).
        self.epoch_start = None;
    }

    fn on_rto(&mut self, _now: Instant, flight_size: u32, mss: u32) {
        self.hystart.finish();
        // RFC 9438 §4.8: reduce like Reno but with ssthresh from beta_cubic. A repeated
        // timeout of the same data holds ssthresh (RFC 5681 §3.1).
        if !self.in_timeout {
            self.reduce(flight_size, mss);
        }
        self.cwnd = mss;
        self.epoch_start = None;
        self.after_timeout = true;
        self.in_timeout = true;
    }

    fn on_idle_restart(&mut self, restart_window: u32) {
        // RFC 5681 §4.1; a new epoch starts with the next congestion-avoidance ACK, so
        // the idle time does not count as growth time (RFC 9438 §5.8).
        self.cwnd = self.cwnd.min(restart_window);
        self.epoch_start = None;
    }
}
