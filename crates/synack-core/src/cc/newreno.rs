//! NewReno (RFC 5681 window rules, RFC 6582 fast recovery): slow start with
//! Appropriate Byte Counting, congestion avoidance of one SMSS per RTT by byte
//! counting (RFC 3465 §2.1), halving on loss.

use super::{reno_ssthresh, slow_start, Ack, CongestionControl};
use crate::time::Instant;

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
    fn name(&self) -> &'static str {
        "reno"
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

    fn on_ack(&mut self, _now: Instant, ack: &Ack) {
        let (bytes_acked, mss) = (ack.bytes_acked, ack.mss);
        if bytes_acked == 0 {
            return;
        }
        self.in_timeout = false;
        if self.cwnd < self.ssthresh {
            self.cwnd = slow_start(self.cwnd, self.ssthresh, bytes_acked, mss, 2);
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

    fn on_congestion_event(&mut self, _now: Instant, flight_size: u32, mss: u32) {
        // RFC 5681 §3.2 step 2 / RFC 6675 §5 (4.2).
        self.ssthresh = reno_ssthresh(flight_size, mss);
        self.bytes_acked = 0;
    }

    fn on_recovery_exit(&mut self, flight_size: u32, mss: u32) {
        // RFC 6582 §3.2 step 6 option 1.
        self.cwnd = self.ssthresh.min(flight_size.max(mss).saturating_add(mss));
        self.bytes_acked = 0;
    }

    fn on_spurious_recovery(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        self.cwnd = self.cwnd.max(prior_cwnd);
        self.ssthresh = self.ssthresh.max(prior_ssthresh);
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
