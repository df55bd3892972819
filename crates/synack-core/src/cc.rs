//! Congestion control behind a trait (RFC 5681 slow start / congestion avoidance, with
//! the window rules of NewReno fast recovery, RFC 6582), with NewReno and CUBIC
//! (RFC 9438) implementations. Loss detection and the recovery state machine live in
//! the connection; this module only decides cwnd and ssthresh.
//!
//! Both controllers share the slow-start rule (RFC 5681 §3.1 with Appropriate Byte
//! Counting, RFC 3465 §2.2, L = 2*SMSS) and the fast-recovery window rules (RFC 5681
//! §3.2, RFC 6582 §3.2). They differ in congestion avoidance and in how much they back
//! off: NewReno halves and adds one SMSS per RTT; CUBIC keeps 70% and follows a cubic
//! function of the time since the last congestion event.

use crate::time::{Duration, Instant};

/// Which algorithm a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// RFC 5681 + RFC 6582.
    #[default]
    NewReno,
    /// RFC 9438.
    Cubic,
}

/// What a congestion controller decides. All sizes in bytes.
pub trait CongestionControl {
    /// Congestion window.
    fn cwnd(&self) -> u32;
    /// Slow-start threshold.
    fn ssthresh(&self) -> u32;
    /// New data acknowledged outside fast recovery (RFC 5681 §3.1: slow start below
    /// ssthresh, congestion avoidance above).
    fn on_ack(&mut self, now: Instant, bytes_acked: u32, mss: u32, srtt: Option<Duration>);
    /// Three duplicate ACKs: enter fast recovery (RFC 5681 §3.2 steps 2–3:
    /// ssthresh = max(FlightSize/2, 2*SMSS), cwnd = ssthresh + 3*SMSS).
    fn on_fast_retransmit(&mut self, now: Instant, flight_size: u32, mss: u32);
    /// Enter SACK-based loss recovery (RFC 6675 §5 step (4.2)): reduce ssthresh as for
    /// fast retransmit and set cwnd = ssthresh, without inflation (the sender's
    /// `pipe` estimate governs what is sent during recovery).
    fn on_sack_recovery(&mut self, now: Instant, flight_size: u32, mss: u32);
    /// A further duplicate ACK in fast recovery: inflate cwnd by SMSS (RFC 5681 §3.2 step 4).
    fn on_recovery_dup_ack(&mut self, mss: u32);
    /// A partial ACK in fast recovery (RFC 6582 §3.2 step 5): deflate by the amount
    /// acknowledged, add back SMSS if that amount was at least SMSS.
    fn on_partial_ack(&mut self, bytes_acked: u32, mss: u32);
    /// A full ACK ends fast recovery (RFC 6582 §3.2 step 6 option 1:
    /// cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS)).
    fn on_recovery_exit(&mut self, flight_size: u32, mss: u32);
    /// Retransmission timeout (RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize/2, 2*SMSS);
    /// cwnd = 1 SMSS).
    fn on_rto(&mut self, now: Instant, flight_size: u32, mss: u32);
    /// Restart after an idle period longer than an RTO (RFC 5681 §4.1).
    fn on_idle_restart(&mut self, restart_window: u32);
}

/// A connection's congestion controller: an enum rather than a box, so a connection
/// allocates nothing for it.
#[derive(Debug, Clone)]
pub enum Congestion {
    /// NewReno.
    NewReno(NewReno),
    /// CUBIC.
    Cubic(Cubic),
}

impl Congestion {
    /// A controller of `algorithm` with initial window `initial_cwnd` bytes.
    pub fn new(algorithm: Algorithm, initial_cwnd: u32) -> Congestion {
        match algorithm {
            Algorithm::NewReno => Congestion::NewReno(NewReno::new(initial_cwnd)),
            Algorithm::Cubic => Congestion::Cubic(Cubic::new(initial_cwnd)),
        }
    }

    /// Which algorithm this is.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Congestion::NewReno(_) => Algorithm::NewReno,
            Congestion::Cubic(_) => Algorithm::Cubic,
        }
    }
}

macro_rules! delegate {
    ($self:ident, $cc:ident => $e:expr) => {
        match $self {
            Congestion::NewReno($cc) => $e,
            Congestion::Cubic($cc) => $e,
        }
    };
}

impl CongestionControl for Congestion {
    fn cwnd(&self) -> u32 {
        delegate!(self, cc => cc.cwnd())
    }
    fn ssthresh(&self) -> u32 {
        delegate!(self, cc => cc.ssthresh())
    }
    fn on_ack(&mut self, now: Instant, bytes_acked: u32, mss: u32, srtt: Option<Duration>) {
        delegate!(self, cc => cc.on_ack(now, bytes_acked, mss, srtt))
    }
    fn on_fast_retransmit(&mut self, now: Instant, flight_size: u32, mss: u32) {
        delegate!(self, cc => cc.on_fast_retransmit(now, flight_size, mss))
    }
    fn on_sack_recovery(&mut self, now: Instant, flight_size: u32, mss: u32) {
        delegate!(self, cc => cc.on_sack_recovery(now, flight_size, mss))
    }
    fn on_recovery_dup_ack(&mut self, mss: u32) {
        delegate!(self, cc => cc.on_recovery_dup_ack(mss))
    }
    fn on_partial_ack(&mut self, bytes_acked: u32, mss: u32) {
        delegate!(self, cc => cc.on_partial_ack(bytes_acked, mss))
    }
    fn on_recovery_exit(&mut self, flight_size: u32, mss: u32) {
        delegate!(self, cc => cc.on_recovery_exit(flight_size, mss))
    }
    fn on_rto(&mut self, now: Instant, flight_size: u32, mss: u32) {
        delegate!(self, cc => cc.on_rto(now, flight_size, mss))
    }
    fn on_idle_restart(&mut self, restart_window: u32) {
        delegate!(self, cc => cc.on_idle_restart(restart_window))
    }
}

// ---- Rules shared by both controllers -------------------------------------------------

/// Slow start (RFC 5681 §3.1 eq. 2) with Appropriate Byte Counting (RFC 3465 §2.2,
/// L = 2*SMSS): cwnd += min(bytes_acked, 2*SMSS), not beyond ssthresh.
fn slow_start(cwnd: u32, ssthresh: u32, bytes_acked: u32, mss: u32) -> u32 {
    let inc = bytes_acked.min(mss.saturating_mul(2));
    cwnd.saturating_add(inc).min(ssthresh.max(cwnd))
}

/// RFC 5681 §3.2 step 4: each further duplicate ACK inflates cwnd by SMSS.
fn recovery_dup_ack(cwnd: u32, mss: u32) -> u32 {
    cwnd.saturating_add(mss)
}

/// RFC 6582 §3.2 step 5: deflate by the bytes newly acknowledged; add back SMSS if at
/// least SMSS was acknowledged. Never below one SMSS, so the retransmission that the
/// partial ACK calls for can be sent.
fn partial_ack(cwnd: u32, bytes_acked: u32, mss: u32) -> u32 {
    let mut cwnd = cwnd.saturating_sub(bytes_acked);
    if bytes_acked >= mss {
        cwnd = cwnd.saturating_add(mss);
    }
    cwnd.max(mss)
}

/// RFC 6582 §3.2 step 6, option 1: cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
fn recovery_exit(ssthresh: u32, flight_size: u32, mss: u32) -> u32 {
    ssthresh.min(flight_size.max(mss).saturating_add(mss))
}

/// RFC 5681 §3.1 eq. 4 / §3.2 step 2: ssthresh = max(FlightSize / 2, 2*SMSS).
fn reno_ssthresh(flight_size: u32, mss: u32) -> u32 {
    (flight_size / 2).max(mss.saturating_mul(2))
}

// ---- NewReno --------------------------------------------------------------------------

/// RFC 5681 / RFC 6582 NewReno.
#[derive(Debug, Clone)]
pub struct NewReno {
    cwnd: u32,
    ssthresh: u32,
    /// Bytes acknowledged in congestion avoidance since cwnd last grew (RFC 3465 §2.1).
    bytes_acked: u32,
    /// A timeout was taken and no new data has been acknowledged since.
    in_timeout: bool,
}

impl NewReno {
    /// Initial window `initial_cwnd` bytes; ssthresh starts "arbitrarily high"
    /// (RFC 5681 §3.1).
    pub fn new(initial_cwnd: u32) -> NewReno {
        NewReno {
            cwnd: initial_cwnd,
            ssthresh: u32::MAX,
            bytes_acked: 0,
            in_timeout: false,
        }
    }
}

impl CongestionControl for NewReno {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, _now: Instant, bytes_acked: u32, mss: u32, _srtt: Option<Duration>) {
        if bytes_acked == 0 {
            return;
        }
        self.in_timeout = false;
        if self.cwnd < self.ssthresh {
            self.cwnd = slow_start(self.cwnd, self.ssthresh, bytes_acked, mss);
            return;
        }
        // Congestion avoidance, RFC 5681 §3.1 eq. 3 by byte counting (RFC 3465 §2.1):
        // once a whole cwnd of bytes has been acknowledged, cwnd grows by one SMSS.
        self.bytes_acked = self.bytes_acked.saturating_add(bytes_acked);
        if self.bytes_acked >= self.cwnd {
            self.bytes_acked -= self.cwnd;
            self.cwnd = self.cwnd.saturating_add(mss);
        }
    }

    fn on_fast_retransmit(&mut self, _now: Instant, flight_size: u32, mss: u32) {
        // RFC 5681 §3.2 steps 2 and 3.
        self.ssthresh = reno_ssthresh(flight_size, mss);
        self.cwnd = self.ssthresh.saturating_add(mss.saturating_mul(3));
        self.bytes_acked = 0;
    }

    fn on_sack_recovery(&mut self, _now: Instant, flight_size: u32, mss: u32) {
        // RFC 6675 §5 (4.2): ssthresh = cwnd = max(FlightSize / 2, 2*SMSS).
        self.ssthresh = reno_ssthresh(flight_size, mss);
        self.cwnd = self.ssthresh;
        self.bytes_acked = 0;
    }

    fn on_recovery_dup_ack(&mut self, mss: u32) {
        self.cwnd = recovery_dup_ack(self.cwnd, mss);
    }

    fn on_partial_ack(&mut self, bytes_acked: u32, mss: u32) {
        self.cwnd = partial_ack(self.cwnd, bytes_acked, mss);
    }

    fn on_recovery_exit(&mut self, flight_size: u32, mss: u32) {
        self.cwnd = recovery_exit(self.ssthresh, flight_size, mss);
        self.bytes_acked = 0;
    }

    fn on_rto(&mut self, _now: Instant, flight_size: u32, mss: u32) {
        // RFC 5681 §3.1: when the segment timed out again (no new data acknowledged
        // since the last timeout), ssthresh is held constant.
        if !self.in_timeout {
            self.ssthresh = reno_ssthresh(flight_size, mss);
        }
        // RFC 5681 §3.1: the loss window is one SMSS.
        self.cwnd = mss;
        self.bytes_acked = 0;
        self.in_timeout = true;
    }

    fn on_idle_restart(&mut self, restart_window: u32) {
        // RFC 5681 §4.1: cwnd = min(RW, cwnd).
        self.cwnd = self.cwnd.min(restart_window);
        self.bytes_acked = 0;
    }
}

// ---- CUBIC ----------------------------------------------------------------------------

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
    w_max: f64,
    /// cwnd_prior (RFC 9438 §4.6), bytes: cwnd when ssthresh was last set.
    cwnd_prior: f64,
    /// Start of the current congestion-avoidance stage (the epoch); `None` outside it.
    epoch_start: Option<Instant>,
    /// K (RFC 9438 §4.2), seconds, for the current epoch.
    k: f64,
    /// W_est (RFC 9438 §4.3), bytes: the Reno-friendly estimate for the current epoch.
    w_est: f64,
    /// Fractional bytes of cwnd growth not yet applied.
    carry: f64,
    /// The next epoch is the first after a timeout (RFC 9438 §4.8).
    after_timeout: bool,
    /// A timeout was taken and no new data has been acknowledged since.
    in_timeout: bool,
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
        }
    }

    /// W_max in bytes (RFC 9438 §4.1); 0 before the first congestion event.
    pub fn w_max(&self) -> u32 {
        self.w_max as u32
    }

    /// K of the current congestion-avoidance epoch (RFC 9438 §4.2): the time from the
    /// epoch's start until the cubic function reaches W_max. `None` outside an epoch.
    pub fn k(&self) -> Option<Duration> {
        self.epoch_start
            .map(|_| Duration::from_secs_f64(self.k.max(0.0)))
    }

    /// W_cubic(t) of RFC 9438 §4.2 eq. 1, in bytes: C * (t - K)^3 * SMSS + W_max.
    fn w_cubic(&self, t: f64, mss: f64) -> f64 {
        let d = t - self.k;
        CUBIC_C * d * d * d * mss + self.w_max
    }

    /// ssthresh after a congestion event, RFC 9438 §4.6: FlightSize * beta_cubic, at
    /// least 2*SMSS (RFC 5681 §3.1 eq. 4's floor).
    fn cubic_ssthresh(flight_size: u32, mss: u32) -> u32 {
        ((f64::from(flight_size) * CUBIC_BETA) as u32).max(mss.saturating_mul(2))
    }

    /// Begin a congestion-avoidance epoch at `now` (RFC 9438 §4.2).
    fn start_epoch(&mut self, now: Instant, mss: f64) {
        let cwnd = f64::from(self.cwnd);
        self.epoch_start = Some(now);
        self.carry = 0.0;
        // RFC 9438 §4.3: W_est starts at cwnd_epoch.
        self.w_est = cwnd;
        if self.after_timeout || cwnd >= self.w_max {
            // RFC 9438 §4.8: the first epoch after a timeout uses K = 0 and W_max =
            // cwnd_epoch. The same applies when there is no higher W_max to return to
            // (no congestion event yet): growth is convex from the current window.
            self.w_max = cwnd;
            self.k = 0.0;
        } else {
            // RFC 9438 §4.2 eq. 2: K = cbrt((W_max - cwnd_epoch) / C), in segments.
            self.k = ((self.w_max - cwnd) / mss / CUBIC_C).cbrt();
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
        let epoch = self.epoch_start.unwrap_or(now);
        let t = now.saturating_duration_since(epoch).as_secs_f64();
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
        self.w_est += alpha * acked * mss_f / cwnd;

        let new_cwnd = if self.w_cubic(t, mss_f) < self.w_est {
            // Reno-friendly region (RFC 9438 §4.3): cwnd = W_est.
            self.carry = 0.0;
            self.w_est.max(cwnd)
        } else {
            // Concave (§4.4) and convex (§4.5) regions: aim at W_cubic(t + RTT),
            // clamped to [cwnd, 1.5 * cwnd] (§4.2), and grow by
            // (target - cwnd) / cwnd per SMSS acknowledged.
            let target = self.w_cubic(t + rtt, mss_f).clamp(cwnd, 1.5 * cwnd);
            let grow = (target - cwnd) * acked / cwnd + self.carry;
            let whole = grow.floor();
            self.carry = grow - whole;
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
        self.w_max = if cwnd < self.w_max {
            cwnd * (1.0 + CUBIC_BETA) / 2.0
        } else {
            cwnd
        };
        self.cwnd_prior = cwnd;
        self.ssthresh = Self::cubic_ssthresh(flight_size, mss);
        self.epoch_start = None;
        self.carry = 0.0;
    }
}

impl CongestionControl for Cubic {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, now: Instant, bytes_acked: u32, mss: u32, srtt: Option<Duration>) {
        if bytes_acked == 0 {
            return;
        }
        self.in_timeout = false;
        if self.cwnd < self.ssthresh {
            // RFC 9438 §4.10: slow start below ssthresh.
            self.cwnd = slow_start(self.cwnd, self.ssthresh, bytes_acked, mss);
            return;
        }
        self.congestion_avoidance(now, bytes_acked, mss, srtt);
    }

    fn on_fast_retransmit(&mut self, _now: Instant, flight_size: u32, mss: u32) {
        self.reduce(flight_size, mss);
        // RFC 5681 §3.2 step 3 window inflation, with CUBIC's ssthresh.
        self.cwnd = self.ssthresh.saturating_add(mss.saturating_mul(3));
        self.after_timeout = false;
    }

    fn on_sack_recovery(&mut self, _now: Instant, flight_size: u32, mss: u32) {
        // RFC 9438 §4.6 reduction; RFC 6675 §5 (4.2): cwnd = ssthresh.
        self.reduce(flight_size, mss);
        self.cwnd = self.ssthresh;
        self.after_timeout = false;
    }

    fn on_recovery_dup_ack(&mut self, mss: u32) {
        self.cwnd = recovery_dup_ack(self.cwnd, mss);
    }

    fn on_partial_ack(&mut self, bytes_acked: u32, mss: u32) {
        self.cwnd = partial_ack(self.cwnd, bytes_acked, mss);
    }

    fn on_recovery_exit(&mut self, flight_size: u32, mss: u32) {
        self.cwnd = recovery_exit(self.ssthresh, flight_size, mss);
        // The next congestion-avoidance ACK starts the epoch (RFC 9438 §4.2).
        self.epoch_start = None;
    }

    fn on_rto(&mut self, _now: Instant, flight_size: u32, mss: u32) {
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

#[cfg(test)]
#[path = "cc_tests.rs"]
mod tests;
