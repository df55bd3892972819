//! Pacing: data segments leave at a rate rather than a window at a time. The rate is
//! the controller's own ([`CongestionControl::pacing_rate`], e.g. BBR's) or, when
//! [`Config::pacing`](crate::Config::pacing) is on, Linux's default: cwnd / SRTT times
//! 2 in slow start and 1.2 in congestion avoidance (`tcp_pacing_ss_ratio`,
//! `tcp_pacing_ca_ratio`), so the window is spread over the round trip with room to
//! grow. Each segment sent moves the earliest departure of the next by its length at
//! that rate; the connection's deadline set carries it, so `poll_timeout` tells the
//! driver when the next paced segment is due.
//!
//! Drivers wake late (a tokio timer has a 1 ms tick): up to [`PACE_LATE_CREDIT_US`]
//! of lateness is made up by sending the segments that were due meanwhile at once, so
//! a coarse timer does not lower the rate. Offload super-segments are sized to about
//! 1 ms of the rate (Linux `tcp_tso_autosize`), so pacing also applies to TSO.
//!
//! An unpaced connection is paced for a while after loss recovery when cwnd ends far
//! above what is in flight. Recovery leaves cwnd at ssthresh (RFC 6675), and RFC 6582
//! §3.2 step 6 asks a sender that does so to avoid the burst this can release when
//! little is outstanding. That happens when the sender could not send during
//! recovery: its send buffer was full of data waiting for the repair, so the ACK of
//! the retransmission acknowledged everything at once. On a 200 ms, 100 Mbit/s path
//! with a one-BDP queue that burst was ssthresh, 2.9 MB, sent at once, and it
//! overflowed the queue by 350 packets. Such a window is refilled at the congestion
//! avoidance rate, 1.2 cwnd / SRTT, until it is full and ACKs clock it again; a gap
//! of no more than the initial window still leaves at once. The same burst can come
//! within recovery: PRR lets out what was delivered while the sender could not send,
//! so a partial ACK that frees a full send buffer opens ssthresh - pipe at once (on
//! the same path, 3.3 MB into a 2.5 MB queue: 597 drops). It is paced the same way.

use super::Connection;
use crate::cc::CongestionControl;
use crate::config::Config;
use crate::time::Instant;

/// How far behind schedule the sender may be and still catch up, µs, when it was
/// not waiting for its pacing deadline (held by cwnd, the peer's window or the
/// application).
pub(crate) const PACE_CREDIT_US: u64 = 1_000;
/// The same when the segment waited for its pacing deadline: how late the driver may
/// wake and still have the lateness made up. A tokio timer fires on the millisecond
/// tick after the deadline, plus the scheduler's own delay; with 1 ms here, synack's
/// BBR over the real emulated P2 path sent at 91 % of Linux's BBR (the lost lateness
/// lowered the rate it paced at, and so the bandwidth it then measured), with 2 ms at
/// 97 % (4 ms gave the same). A simulated driver wakes on time, so there it matters
/// only when a segment that waited finds itself held by something else at its
/// deadline and leaves later.
pub(crate) const PACE_LATE_CREDIT_US: u64 = 2_000;

impl Connection {
    /// The pacing rate in bytes per second, or `None` when this connection is not
    /// paced (pacing off and the controller asks for none, or no RTT measured yet).
    pub(crate) fn pacing_rate(&self, cfg: &Config) -> Option<u64> {
        if let Some(rate) = self.cc.pacing_rate_us(self.rtt.srtt_us()) {
            return Some(rate.max(1));
        }
        if !cfg.pacing && !self.pace_refill {
            return None;
        }
        let srtt_us = self.rtt.srtt_us()?.max(1);
        // Linux tcp_update_pacing_rate: max(cwnd, in flight) / SRTT times the ratio.
        let window = u64::from(self.cc.cwnd().max(self.flight_size()));
        let percent: u64 = if self.cc.in_slow_start() { 200 } else { 120 };
        Some((window * percent * 10_000 / srtt_us).max(1))
    }

    /// Recovery has just ended: pace the refill of cwnd when more than the initial
    /// window of it is free (RFC 6582 §3.2 step 6: avoid the burst).
    pub(crate) fn refill_after_recovery(&mut self, cfg: &Config) {
        let free = self.cc.cwnd().saturating_sub(self.flight_size());
        self.pace_refill = self.would_burst(cfg, free);
    }

    /// PRR has just let `sndcnt` bytes go in recovery (RFC 6937): pace them when
    /// they are more than the initial window. That happens when the sender could
    /// not use what PRR allowed while its send buffer was full, and a partial ACK
    /// then freed the buffer: PRR-SSRB allows all that was delivered meanwhile
    /// (`prr_delivered - prr_out`), up to ssthresh - pipe.
    pub(crate) fn refill_in_recovery(&mut self, cfg: &Config, sndcnt: u32) {
        if self.would_burst(cfg, sndcnt) {
            self.pace_refill = true;
        }
    }

    /// Whether sending `open` bytes of window at once would be a burst to pace: more
    /// than the initial window, on a connection not paced anyway (by
    /// [`Config::pacing`] or its controller's rate) that has an RTT to pace by.
    fn would_burst(&self, cfg: &Config, open: u32) -> bool {
        let iw = cfg
            .initial_window
            .max(1)
            .saturating_mul(u32::from(self.mss));
        let srtt = self.rtt.srtt_us();
        open > iw && srtt.is_some() && !cfg.pacing && self.cc.pacing_rate_us(srtt).is_none()
    }

    /// True when pacing holds the next data segment back at `now`; then the departure
    /// time becomes a deadline.
    pub(crate) fn pacing_holds(&mut self, now: Instant) -> bool {
        let holds = self.pace_at > now;
        // A segment that waited for the deadline (armed, now due) may make up how
        // late the driver woke.
        self.pace_waited = (self.pace_waited || self.pace_armed) && !holds;
        self.pace_armed = holds;
        holds
    }

    /// A data segment of `len` payload bytes left at `now`: schedule the next one.
    pub(crate) fn paced_send(&mut self, now: Instant, len: usize, rate: u64) {
        // Payload bytes only, as the rate is (BBR's bandwidth counts delivered data;
        // Linux times each departure by the skb's payload length).
        let gap_us = len as u64 * 1_000_000 / rate;
        let credit = if self.pace_waited {
            PACE_LATE_CREDIT_US
        } else {
            PACE_CREDIT_US
        };
        let floor = Instant::from_micros(now.total_micros().saturating_sub(credit));
        self.pace_at = self.pace_at.max(floor).add_micros(gap_us);
        if self.pace_at > now {
            // Back on schedule: the lateness is made up.
            self.pace_waited = false;
        }
    }

    /// The largest segment (or offload super-segment) to build at this rate: about
    /// 1 ms of it, at least two MSS (Linux `tcp_tso_autosize`).
    pub(crate) fn paced_max_segment(rate: u64, mss: usize, max_seg: usize) -> usize {
        let per_ms = (rate / 1000) as usize;
        max_seg.min(per_ms.max(2 * mss))
    }
}
