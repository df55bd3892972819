//! The congestion-state trace: after an ACK (or a retransmission timeout) the sender's
//! cwnd, ssthresh, SND.WND, bytes in flight, RTT and pacing rate are recorded as a
//! [`TraceKind::Congestion`] event, when tracing is on and only when one of them
//! changed since the connection's last such event. The cwnd graphs of `synack-viz`
//! are drawn from these.

use super::{Connection, Env};
use crate::cc::CongestionControl;
use crate::config::Config;
use crate::trace::{CongestionPhase, CongestionTrace, TraceKind};
use alloc::boxed::Box;

impl Connection {
    /// Record the congestion state if it changed since the last record. Callers test
    /// `env.trace.is_some()` first, so the hot path pays one comparison.
    #[cold]
    #[inline(never)]
    pub(crate) fn trace_congestion(&mut self, env: &mut Env<'_>) {
        let sample = self.congestion_sample(env.cfg);
        let sig = signature(&sample);
        // Kept in the connection's rarely used box: tracing is a diagnostic mode, and
        // the 4 bytes would push an idle TCB past 1 KiB.
        let last = &mut self.rare.get_or_insert_with(Box::default).cc_trace_sig;
        if sig == *last {
            return;
        }
        *last = sig;
        env.record(self.local, self.remote, TraceKind::Congestion(sample));
    }

    /// The congestion state now.
    pub(crate) fn congestion_sample(&self, cfg: &Config) -> CongestionTrace {
        CongestionTrace {
            algorithm: self.cc.name(),
            phase: self.congestion_phase(),
            cwnd: self.cc.cwnd(),
            ssthresh: self.cc.ssthresh(),
            snd_wnd: self.snd_wnd,
            in_flight: self.flight_size(),
            srtt_us: self.rtt.srtt_us(),
            rtt_us: self.rtt.latest().map(|d| d.as_micros() as u64),
            pacing_rate: self.pacing_rate(cfg),
        }
    }

    /// Which phase the sender is in: fast recovery while `in_recovery`; after an RTO
    /// until SND.UNA passes "recover" (set to SND.MAX when it fired, RFC 6582 §4);
    /// otherwise slow start or congestion avoidance as the controller says.
    fn congestion_phase(&self) -> CongestionPhase {
        if self.in_recovery {
            CongestionPhase::Recovery
        } else if self.snd_una < self.recover {
            CongestionPhase::Loss
        } else if self.cc.in_slow_start() {
            CongestionPhase::SlowStart
        } else {
            CongestionPhase::CongestionAvoidance
        }
    }
}

/// A 32-bit fingerprint of everything a sample holds (FNV-1a over the fields), so a
/// traced connection keeps 4 bytes (in its `Rare` box) to tell whether anything
/// changed. Two different states
/// with the same fingerprint would skip one record; consecutive states colliding is
/// a one-in-four-billion event.
fn signature(s: &CongestionTrace) -> u32 {
    let words = [
        u64::from(s.cwnd),
        u64::from(s.ssthresh),
        u64::from(s.snd_wnd),
        u64::from(s.in_flight),
        s.srtt_us.map_or(u64::MAX, |v| v),
        s.rtt_us.map_or(u64::MAX, |v| v),
        s.pacing_rate.map_or(u64::MAX, |v| v),
        s.phase as u64,
    ];
    let mut h: u32 = 0x811c_9dc5;
    for w in words {
        for b in w.to_le_bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    }
    // 0 is the "nothing recorded yet" value of a new connection.
    h.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CongestionTrace {
        CongestionTrace {
            algorithm: "cubic",
            phase: CongestionPhase::SlowStart,
            cwnd: 14_480,
            ssthresh: u32::MAX,
            snd_wnd: 65_535,
            in_flight: 2_896,
            srtt_us: Some(50_000),
            rtt_us: Some(50_100),
            pacing_rate: None,
        }
    }

    #[test]
    fn every_field_moves_the_signature() {
        let base = signature(&sample());
        assert_ne!(base, 0);
        let changes: [fn(&mut CongestionTrace); 8] = [
            |s| s.cwnd += 1,
            |s| s.ssthresh = 10_000,
            |s| s.snd_wnd -= 1,
            |s| s.in_flight = 0,
            |s| s.srtt_us = None,
            |s| s.rtt_us = Some(1),
            |s| s.pacing_rate = Some(1),
            |s| s.phase = CongestionPhase::Recovery,
        ];
        for (k, change) in changes.iter().enumerate() {
            let mut s = sample();
            change(&mut s);
            assert_ne!(signature(&s), base, "change {k}");
        }
        assert_eq!(signature(&sample()), base);
    }
}
