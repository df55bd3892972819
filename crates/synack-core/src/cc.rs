//! Congestion control behind a trait (RFC 5681 slow start / congestion avoidance, with
//! the window rules of NewReno fast recovery, RFC 6582), with NewReno and CUBIC
//! (RFC 9438) implementations. Loss detection and the recovery state machine live in
//! the connection; this module only decides cwnd and ssthresh.

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
        let _ = (algorithm, initial_cwnd);
        todo!("Congestion::new")
    }
}

/// RFC 5681 / RFC 6582 NewReno.
#[derive(Debug, Clone)]
pub struct NewReno {
    _todo: (),
}

/// RFC 9438 CUBIC.
#[derive(Debug, Clone)]
pub struct Cubic {
    _todo: (),
}
