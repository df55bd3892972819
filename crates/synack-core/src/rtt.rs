//! Round-trip time estimation and the retransmission timeout (RFC 6298).
//!
//! This module owns SRTT, RTTVAR, the latest sample and the exponential backoff of the
//! retransmission timer. All arithmetic is in integer microseconds, so results are
//! exact and identical on every platform.

use crate::time::Duration;

/// Clock granularity G of RFC 6298 §2: the engine's timers run on a 1 ms clock.
const GRANULARITY_US: u64 = 1_000;
/// K of RFC 6298 §2.
const K: u64 = 4;

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// SRTT / RTTVAR / RTO per RFC 6298 §2, with exponential backoff (§5.5).
#[derive(Debug, Clone)]
pub struct RttEstimator {
    /// RTO before the first measurement (RFC 6298 §2.1), µs.
    initial_us: u64,
    /// Lower clamp of the RTO, µs.
    min_us: u64,
    /// Upper clamp of the RTO, µs (RFC 6298 §2.5).
    max_us: u64,
    /// SRTT, µs; `None` until the first sample.
    srtt_us: Option<u64>,
    /// RTTVAR, µs (meaningful once `srtt_us` is set).
    rttvar_us: u64,
    /// The latest sample, µs.
    latest_us: Option<u64>,
    /// Backoffs since the last sample or reset (RFC 6298 §5.5).
    backoffs: u32,
}

impl RttEstimator {
    /// Before any measurement: RTO = `initial` (RFC 6298 §2.1), clamped to [min, max].
    pub fn new(initial: Duration, min: Duration, max: Duration) -> RttEstimator {
        RttEstimator {
            initial_us: micros(initial),
            min_us: micros(min),
            max_us: micros(max),
            srtt_us: None,
            rttvar_us: 0,
            latest_us: None,
            backoffs: 0,
        }
    }

    /// Take a sample (RFC 6298 §2.2 / §2.3; K = 4, alpha 1/8, beta 1/4, G = 1 ms clock).
    /// Callers apply Karn's rule (§3): no samples from retransmitted segments unless
    /// timestamps disambiguate them. Resets the backoff.
    pub fn sample(&mut self, rtt: Duration) {
        let r = micros(rtt);
        match self.srtt_us {
            // RFC 6298 §2.2: SRTT <- R, RTTVAR <- R/2.
            None => {
                self.srtt_us = Some(r);
                self.rttvar_us = r / 2;
            }
            // RFC 6298 §2.3: RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'| first
            // (with the old SRTT), then SRTT <- (1 - alpha) * SRTT + alpha * R'.
            Some(srtt) => {
                let err = srtt.abs_diff(r);
                self.rttvar_us = ((3 * u128::from(self.rttvar_us) + u128::from(err)) / 4) as u64;
                self.srtt_us = Some(((7 * u128::from(srtt) + u128::from(r)) / 8) as u64);
            }
        }
        self.latest_us = Some(r);
        self.backoffs = 0;
    }

    /// The RTO before backoff: RFC 6298 §2.1 before a sample, else §2.2/§2.3
    /// RTO = SRTT + max(G, K*RTTVAR); clamped to [min, max] (§2.4, §2.5).
    fn base_rto_us(&self) -> u64 {
        let raw = match self.srtt_us {
            None => self.initial_us,
            Some(srtt) => srtt.saturating_add(GRANULARITY_US.max(K.saturating_mul(self.rttvar_us))),
        };
        self.clamp(raw)
    }

    fn clamp(&self, us: u64) -> u64 {
        // Not `Ord::clamp`: a misconfigured min > max must not panic; max wins.
        us.max(self.min_us).min(self.max_us)
    }

    /// The current RTO including backoff, clamped to [min, max].
    pub fn rto(&self) -> Duration {
        Duration::from_micros(self.rto_us())
    }

    /// [`rto`](RttEstimator::rto) in microseconds (the per-segment paths add it to
    /// an [`Instant`](crate::Instant) without going through `Duration`).
    pub fn rto_us(&self) -> u64 {
        let base = self.base_rto_us();
        // RFC 6298 §5.5: each backoff doubles the RTO; §2.5 allows a maximum.
        let backed = if self.backoffs >= 64 {
            u64::MAX
        } else {
            base.saturating_mul(1u64 << self.backoffs)
        };
        self.clamp(backed)
    }

    /// Double the RTO (RFC 6298 §5.5), up to max.
    pub fn backoff(&mut self) {
        self.backoffs = self.backoffs.saturating_add(1);
    }

    /// Number of backoffs since the last sample / reset.
    pub fn backoffs(&self) -> u32 {
        self.backoffs
    }

    /// Forget the backoff (new data was acknowledged).
    pub fn reset_backoff(&mut self) {
        self.backoffs = 0;
    }

    /// Smoothed RTT, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt_us.map(Duration::from_micros)
    }

    /// [`srtt`](RttEstimator::srtt) in microseconds.
    pub fn srtt_us(&self) -> Option<u64> {
        self.srtt_us
    }

    /// RTT variation, once measured.
    pub fn rttvar(&self) -> Option<Duration> {
        self.srtt_us.map(|_| Duration::from_micros(self.rttvar_us))
    }

    /// The latest sample.
    pub fn latest(&self) -> Option<Duration> {
        self.latest_us.map(Duration::from_micros)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }
    fn us(v: u64) -> Duration {
        Duration::from_micros(v)
    }

    fn est() -> RttEstimator {
        RttEstimator::new(ms(1000), ms(200), ms(60_000))
    }

    #[test]
    fn initial_rto_before_sample() {
        let e = est();
        assert_eq!(e.rto(), ms(1000));
        assert_eq!(e.srtt(), None);
        assert_eq!(e.rttvar(), None);
        assert_eq!(e.latest(), None);
        // The initial value is clamped too.
        let e = RttEstimator::new(ms(100), ms(200), ms(60_000));
        assert_eq!(e.rto(), ms(200));
        let e = RttEstimator::new(ms(100_000), ms(200), ms(60_000));
        assert_eq!(e.rto(), ms(60_000));
    }

    #[test]
    fn first_sample_rfc6298_2_2() {
        let mut e = RttEstimator::new(ms(1000), ms(1), ms(60_000));
        e.sample(ms(100));
        assert_eq!(e.srtt(), Some(ms(100)));
        assert_eq!(e.rttvar(), Some(ms(50)));
        assert_eq!(e.latest(), Some(ms(100)));
        // RTO = 100 + 4 * 50.
        assert_eq!(e.rto(), ms(300));
    }

    #[test]
    fn second_sample_rfc6298_2_3() {
        let mut e = RttEstimator::new(ms(1000), ms(1), ms(60_000));
        e.sample(ms(100));
        e.sample(ms(200));
        // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5 ms (uses the old SRTT).
        assert_eq!(e.rttvar(), Some(us(62_500)));
        // SRTT = 7/8 * 100 + 1/8 * 200 = 112.5 ms.
        assert_eq!(e.srtt(), Some(us(112_500)));
        // RTO = 112.5 + 4 * 62.5 = 362.5 ms.
        assert_eq!(e.rto(), us(362_500));
        assert_eq!(e.latest(), Some(ms(200)));
    }

    #[test]
    fn converges_on_constant_rtt() {
        let mut e = RttEstimator::new(ms(1000), ms(1), ms(60_000));
        for _ in 0..200 {
            e.sample(ms(50));
        }
        assert_eq!(e.srtt(), Some(ms(50)));
        // RTTVAR decays towards 0; the granularity G = 1 ms then dominates.
        assert!(e.rttvar().unwrap() < us(10));
        assert_eq!(e.rto(), ms(51));
    }

    #[test]
    fn min_clamp_applies() {
        let mut e = est();
        for _ in 0..200 {
            e.sample(ms(10));
        }
        assert_eq!(e.rto(), ms(200));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let mut e = RttEstimator::new(ms(1000), ms(200), ms(10_000));
        e.backoff();
        assert_eq!(e.backoffs(), 1);
        assert_eq!(e.rto(), ms(2000));
        e.backoff();
        assert_eq!(e.rto(), ms(4000));
        e.backoff();
        assert_eq!(e.rto(), ms(8000));
        e.backoff();
        assert_eq!(e.rto(), ms(10_000));
        for _ in 0..100 {
            e.backoff();
        }
        assert_eq!(e.backoffs(), 104);
        assert_eq!(e.rto(), ms(10_000));
        e.reset_backoff();
        assert_eq!(e.backoffs(), 0);
        assert_eq!(e.rto(), ms(1000));
    }

    #[test]
    fn sample_resets_backoff() {
        let mut e = RttEstimator::new(ms(1000), ms(1), ms(60_000));
        e.backoff();
        e.backoff();
        assert_eq!(e.rto(), ms(4000));
        e.sample(ms(100));
        assert_eq!(e.backoffs(), 0);
        assert_eq!(e.rto(), ms(300));
    }

    #[test]
    fn huge_sample_does_not_overflow() {
        let mut e = RttEstimator::new(ms(1000), ms(200), ms(60_000));
        e.sample(Duration::MAX);
        e.sample(Duration::MAX);
        e.backoff();
        assert_eq!(e.rto(), ms(60_000));
    }

    #[test]
    fn min_above_max_does_not_panic() {
        let e = RttEstimator::new(ms(1000), ms(5000), ms(2000));
        assert_eq!(e.rto(), ms(2000));
    }
}
