//! The WAN profiles: the emulated paths that `synack bench --only wan` measures in
//! real time (through the `synack link` emulator) and that simulator tests can run in
//! virtual time, defined once here as data so both use the same figures.
//!
//! Each [`Profile`] is a pair of [`LinkConfig`]s, one per direction. The profiles are
//! symmetric: both directions get the same delay, rate, queue and loss (as a netem
//! qdisc on each side of a path would), so the data and the ACKs of a transfer meet
//! the same impairments and "upload" and "download" are the same path. Every direction
//! has an MTU of 1500 bytes (rate and loss apply per MTU-sized packet) and a drop-tail
//! queue sized in bandwidth-delay products of the round trip.

use crate::link::{GilbertElliott, LinkConfig};
use synack_core::time::Duration;

/// MTU of every profile's links.
pub const MTU: usize = 1500;

/// One emulated path.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// Short name ("P1").
    pub id: &'static str,
    /// What it stands for ("broadband").
    pub name: &'static str,
    /// Base round-trip time (twice the one-way delay, before jitter and queueing).
    pub rtt: Duration,
    /// Bottleneck rate in bits per second, each way.
    pub rate_bps: u64,
    /// Direction from the first end to the second.
    pub forward: LinkConfig,
    /// Direction from the second end to the first.
    pub reverse: LinkConfig,
}

impl Profile {
    /// The bandwidth-delay product of the base round trip, in bytes.
    pub fn bdp_bytes(&self) -> usize {
        bdp_bytes(self.rate_bps, self.rtt)
    }

    /// One line describing the path, for reports ("RTT 50 ms, 200 Mbit/s, ...").
    pub fn describe(&self) -> String {
        let c = &self.forward;
        let mut s = format!(
            "RTT {} ms, {} Mbit/s, queue {:.0} BDP",
            self.rtt.as_millis(),
            self.rate_bps / 1_000_000,
            c.queue_bytes as f64 / self.bdp_bytes().max(1) as f64
        );
        if !c.jitter.is_zero() {
            s += &format!(", jitter {} ms each way (reorders)", c.jitter.as_millis());
        }
        if c.loss > 0.0 {
            s += &format!(", {}% random loss each way", c.loss * 100.0);
        }
        if let Some(ge) = c.burst_loss {
            s += &format!(
                ", {:.1}% bursty loss each way (mean burst {:.0} packets)",
                ge.steady_state_loss() * 100.0,
                1.0 / ge.p_bad_to_good
            );
        }
        s
    }
}

/// Bytes in flight that fill a path of `rate_bps` and round trip `rtt`.
pub fn bdp_bytes(rate_bps: u64, rtt: Duration) -> usize {
    let bits = u128::from(rate_bps) * rtt.as_micros() / 1_000_000;
    usize::try_from(bits / 8).unwrap_or(usize::MAX)
}

/// A symmetric profile: `rtt` split evenly between the directions, `rate_bps` each
/// way, a queue of `queue_bdp` BDPs, and `extra` applied to each direction.
fn symmetric(
    id: &'static str,
    name: &'static str,
    rtt: Duration,
    rate_bps: u64,
    queue_bdp: usize,
    extra: impl Fn(LinkConfig) -> LinkConfig,
) -> Profile {
    let one_way = LinkConfig::with_latency(rtt / 2)
        .bandwidth(rate_bps)
        .queue_bytes(queue_bdp * bdp_bytes(rate_bps, rtt))
        .mtu(MTU);
    let dir = extra(one_way);
    Profile {
        id,
        name,
        rtt,
        rate_bps,
        forward: dir.clone(),
        reverse: dir,
    }
}

/// P1 broadband: RTT 50 ms, 200 Mbit/s, queue 1 BDP, no loss.
pub fn p1_broadband() -> Profile {
    symmetric("P1", "broadband", ms(50), 200_000_000, 1, |c| c)
}

/// P2 lossy: RTT 50 ms, 100 Mbit/s, queue 1 BDP, 1 % random loss.
pub fn p2_lossy() -> Profile {
    symmetric("P2", "lossy", ms(50), 100_000_000, 1, |c| c.loss(0.01))
}

/// P3 long fat: RTT 200 ms, 100 Mbit/s, queue 1 BDP, 0.01 % random loss.
pub fn p3_long_fat() -> Profile {
    symmetric("P3", "long fat", ms(200), 100_000_000, 1, |c| {
        c.loss(0.0001)
    })
}

/// P4 bufferbloat: RTT 20 ms, 50 Mbit/s, queue 8 BDP, no loss.
pub fn p4_bufferbloat() -> Profile {
    symmetric("P4", "bufferbloat", ms(20), 50_000_000, 8, |c| c)
}

/// P5 mobile: mean RTT 80 ms with 20 ms of jitter per round trip (35 ms one way plus
/// a uniform 0–10 ms each way, which reorders packets), 30 Mbit/s, queue 1 BDP, and
/// 0.5 % bursty loss (Gilbert model, mean burst of 2 packets).
pub fn p5_mobile() -> Profile {
    let mut p = symmetric("P5", "mobile", ms(80), 30_000_000, 1, |c| {
        // Steady-state loss p_gb / (p_gb + p_bg) = 0.5 % with p_bg = 0.5.
        c.latency(ms(35))
            .jitter(ms(10))
            .burst_loss(GilbertElliott::gilbert(0.005 * 0.5 / 0.995, 0.5))
    });
    p.rtt = ms(80);
    p
}

/// P6 sharing: P1's path, shared by two flows at once.
pub fn p6_sharing() -> Profile {
    Profile {
        id: "P6",
        name: "sharing",
        ..p1_broadband()
    }
}

/// P1 to P5, the single-flow profiles, in order.
pub fn single_flow() -> Vec<Profile> {
    vec![
        p1_broadband(),
        p2_lossy(),
        p3_long_fat(),
        p4_bufferbloat(),
        p5_mobile(),
    ]
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_match_the_issue() {
        let p1 = p1_broadband();
        assert_eq!(p1.bdp_bytes(), 1_250_000);
        assert_eq!(p1.forward.queue_bytes, 1_250_000);
        assert_eq!(p1.forward.latency, ms(25));
        assert_eq!(p1.forward, p1.reverse);
        assert_eq!(p2_lossy().forward.loss, 0.01);
        assert_eq!(p3_long_fat().bdp_bytes(), 2_500_000);
        let p4 = p4_bufferbloat();
        assert_eq!(p4.forward.queue_bytes, 8 * 125_000);
        let p5 = p5_mobile();
        let mean_rtt = 2 * (p5.forward.latency + p5.forward.jitter / 2);
        assert_eq!(mean_rtt, ms(80));
        let loss = p5.forward.burst_loss.map(|g| g.steady_state_loss());
        assert!((loss.unwrap_or(0.0) - 0.005).abs() < 1e-9);
        assert_eq!(single_flow().len(), 5);
        assert!(p5.describe().contains("bursty"), "{}", p5.describe());
    }
}
