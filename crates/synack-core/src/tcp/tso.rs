//! Sizing offload super-segments (only when [`Config::tso_max`] is above the MSS):
//! how many MSS-sized segments one TSO packet carries. Linux does it in two steps, and
//! so does this module:
//!
//! - `tcp_xmit_size_goal` with `tcp_bound_to_half_wnd`: a super-segment is at most half
//!   the largest window the peer has offered (the whole of it when that window is at
//!   most the default MSS, 536), rounded down to whole segments, never below one.
//! - `tcp_tso_autosize` / `tcp_tso_segs`: about 1 ms of the pacing rate
//!   (`sk_pacing_rate` shifted right by `sk_pacing_shift`, 10), plus `gso_max` shifted
//!   right by the RTT in µs over 512 (`tcp_tso_rtt_log` = 9: with a round trip under
//!   about half a millisecond a whole `gso_max`, halving for each further doubling),
//!   at least `tcp_min_tso_segs` (2) segments, at most `gso_max`. Linux computes the
//!   pacing rate whether or not anything paces (`tcp_update_pacing_rate`): cwnd (or
//!   what is in flight, if more) over SRTT, times 200 % while cwnd is below half
//!   ssthresh and 120 % after; before any RTT sample the rate is unlimited.
//!
//! RFC 9293 §3.7.1 only bounds each resulting segment by the MSS; the grouping into
//! super-segments is Linux's choice, followed so that upstream's scripts see the same
//! packets from its TSO-capable TUN device. Linux uses the windowed minimum RTT in the
//! second term; the TCB keeps no minimum, so this uses the smaller of SRTT and the
//! latest sample, which differs only when the RTT has grown.
//!
//! [`Config::tso_max`]: crate::Config::tso_max

use super::Connection;
use crate::cc::CongestionControl;
use crate::config::Config;

/// Linux `tcp_min_tso_segs`: the fewest segments a super-segment is sized for.
const MIN_TSO_SEGS: usize = 2;

/// Linux `sk_pacing_shift` default: a super-segment carries 2^-10 s (~1 ms) of the rate.
const PACING_SHIFT: u32 = 10;

/// Linux `tcp_tso_rtt_log` default: the RTT (µs) is shifted by this before it halves
/// the `gso_max` bonus.
const TSO_RTT_LOG: u32 = 9;

/// Linux `TCP_MSS_DEFAULT`: up to this peer window, the whole window bounds a
/// super-segment rather than half of it.
const MSS_DEFAULT: u32 = 536;

impl Connection {
    /// The largest super-segment payload to build now, in bytes: a whole number of
    /// `mss`-sized segments (see the module documentation). Only called when
    /// `cfg.tso_max > mss`.
    pub(super) fn tso_size_goal(&self, cfg: &Config, mss: usize) -> usize {
        let gso_max = cfg.tso_max;
        let goal_segs = self.xmit_size_goal(cfg, mss) / mss;
        // tcp_tso_autosize.
        let auto_segs = match self.tso_rate() {
            None => usize::MAX,
            Some(rate) => {
                let mut bytes = rate >> PACING_SHIFT;
                let min_rtt = match (self.rtt.srtt_us(), self.rtt.latest()) {
                    (Some(s), Some(l)) => s.min(l.as_micros() as u64),
                    (Some(s), None) => s,
                    _ => 0,
                };
                let r = min_rtt >> TSO_RTT_LOG;
                if r < 32 {
                    bytes += (gso_max as u64) >> r;
                }
                let bytes = bytes.min(gso_max as u64) as usize;
                (bytes / mss).max(MIN_TSO_SEGS)
            }
        };
        goal_segs.min(auto_segs) * mss
    }

    /// Linux `tcp_xmit_size_goal` with `tcp_bound_to_half_wnd`: at most half the
    /// largest window the peer offered (all of it up to 536 bytes) and at most
    /// `cfg.tso_max`, in whole `mss`-sized segments, at least one.
    pub(super) fn xmit_size_goal(&self, cfg: &Config, mss: usize) -> usize {
        let gso_max = cfg.tso_max.max(mss);
        let cutoff = if self.max_snd_wnd > MSS_DEFAULT {
            self.max_snd_wnd / 2
        } else {
            self.max_snd_wnd
        } as usize;
        let goal = if cutoff > 0 {
            gso_max.min(cutoff)
        } else {
            gso_max
        };
        (goal / mss).max(1) * mss
    }

    /// True when `end` is where a Fast Open client's SYN data ended: sent again, that
    /// data is the segment Linux queued with PSH (`tcp_send_syn_data`).
    pub(super) fn is_syn_data_end(&self, end: crate::seq::Seq) -> bool {
        self.tfo()
            .is_some_and(|t| t.active && t.syn_data > 0 && end == self.iss + 1 + t.syn_data)
    }

    /// The rate Linux would pace at, bytes per second (`tcp_update_pacing_rate`, or
    /// the controller's own rate, like BBR's), or `None` (unlimited) before an RTT
    /// sample.
    fn tso_rate(&self) -> Option<u64> {
        let srtt = self.rtt.srtt();
        if let Some(rate) = self.cc.pacing_rate(srtt) {
            return Some(rate.max(1));
        }
        let srtt_us = self.rtt.srtt_us()?.max(1);
        let cwnd = self.cc.cwnd();
        let window = u64::from(cwnd.max(self.flight_size()));
        let percent: u64 = if cwnd < self.cc.ssthresh() / 2 {
            200
        } else {
            120
        };
        Some((window * percent * 10_000 / srtt_us).max(1))
    }
}

#[cfg(test)]
mod tests {
    use crate::cc::CongestionControl;
    use crate::config::Config;
    use crate::seq::Seq;
    use crate::tcp::{Connection, SocketOptions};
    use crate::time::{Duration, Instant};

    fn conn(tso_max: usize) -> (Connection, Config) {
        let cfg = Config {
            tso_max,
            ..Config::default()
        };
        let a = "10.0.0.1:1000".parse().expect("addr");
        let b = "10.0.0.2:2000".parse().expect("addr");
        let opts = SocketOptions::from_config(&cfg);
        let c = Connection::new(&cfg, opts, a, b, Seq(1), Instant::ZERO);
        (c, cfg)
    }

    #[test]
    fn before_any_rtt_sample_only_half_the_peer_window_bounds_it() {
        let (mut c, cfg) = conn(65_000);
        c.max_snd_wnd = 10_000;
        // Half of 10,000 is five 1,000-byte segments.
        assert_eq!(c.tso_size_goal(&cfg, 1000), 5000);
        c.max_snd_wnd = 1_000_000;
        assert_eq!(c.tso_size_goal(&cfg, 1000), 65_000);
        // A tiny window bounds at one segment, never zero.
        c.max_snd_wnd = 500;
        assert_eq!(c.tso_size_goal(&cfg, 1000), 1000);
    }

    #[test]
    fn a_slow_rate_gives_two_segments_a_fast_one_more() {
        let (mut c, cfg) = conn(65_000);
        c.max_snd_wnd = 1_000_000;
        // cwnd 10 x 1460 over 20 ms at 200 %: 1.46 MB/s, 1,425 bytes per 1/1024 s.
        c.cc.set_cwnd(14_600);
        c.rtt.sample(Duration::from_millis(20));
        assert_eq!(c.tso_size_goal(&cfg, 1460), 2 * 1460);
        // 100 x 1460 over 2 ms: 146 MB/s, ~142 KB per ms, and a 2 ms RTT adds
        // 65,000 >> 3; the GSO maximum bounds it.
        let (mut d, _) = conn(65_000);
        d.max_snd_wnd = 1_000_000;
        d.cc.set_cwnd(146_000);
        d.rtt.sample(Duration::from_millis(2));
        assert_eq!(d.tso_size_goal(&cfg, 1460), 44 * 1460);
        // 10 x 1460 over 2 ms: 14.3 KB per ms plus 65,000 >> 3 = 8,125: 15 segments.
        d.cc.set_cwnd(14_600);
        assert_eq!(d.tso_size_goal(&cfg, 1460), 15 * 1460);
    }
}
