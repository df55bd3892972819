//! Round-trip time estimation and the retransmission timeout (RFC 6298, with the
//! variance term kept the way Linux keeps it).
//!
//! This module owns SRTT, RTTVAR, the latest sample and the exponential backoff of the
//! retransmission timer. All arithmetic is in integer microseconds, so results are
//! exact and identical on every platform.
//!
//! RFC 6298 was written for about one sample per round trip. With timestamps or a
//! per-segment send log every ACK gives one (RFC 7323 Appendix G), and RTTVAR, which
//! decays by a quarter per sample, shrinks within a single round trip of steady
//! samples: the RTO falls to SRTT plus a few milliseconds, and the first queue that
//! builds up fires it spuriously. So, as Linux's `tcp_rtt_estimator` does:
//! - the variance term of the RTO (`rto_var`) rises at once to the largest K*RTTVAR
//!   seen in a round trip but falls only once per round trip, by a quarter of the gap;
//! - it is never below the minimum RTO, so RTO >= SRTT + RTO.min (not max(SRTT +
//!   K*RTTVAR, RTO.min), which on a 150 ms path leaves 50 ms of margin);
//! - a sample below SRTT raises RTTVAR only by an eighth of what it would otherwise
//!   (a sudden drop of the RTT is no reason to wait longer).

use crate::time::Duration;

/// Clock granularity G of RFC 6298 §2: the engine's timers run on a 1 ms clock.
const GRANULARITY_US: u64 = 1_000;
/// K of RFC 6298 §2.
const K: u64 = 4;

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Stored in 32 bits (71 minutes of microseconds, far above any RTO bound), so the
/// estimator adds little to the TCB.
fn narrow(us: u64) -> u32 {
    u32::try_from(us).unwrap_or(u32::MAX)
}

/// SRTT / RTTVAR / RTO per RFC 6298 §2, with exponential backoff (§5.5).
#[derive(Debug, Clone)]
pub struct RttEstimator {
    /// RTO before the first measurement (RFC 6298 §2.1), µs.
    initial_us: u32,
    /// Lower clamp of the RTO, µs.
    min_us: u32,
    /// Upper clamp of the RTO, µs (RFC 6298 §2.5).
    max_us: u32,
    /// SRTT, µs; `None` until the first sample.
    srtt_us: Option<u32>,
    /// RTTVAR, µs (meaningful once `srtt_us` is set).
    rttvar_us: u32,
    /// The largest K*RTTVAR of the current round trip, at least `min_us` (Linux's
    /// `mdev_max_us`).
    var_max_us: u32,
    /// The RTO's variance term (Linux's `rttvar_us`): RTO = SRTT + this.
    rto_var_us: u32,
    /// The latest sample, µs.
    latest_us: Option<u32>,
    /// Backoffs since the last sample or reset (RFC 6298 §5.5).
    backoffs: u32,
}

impl RttEstimator {
    /// Before any measurement: RTO = `initial` (RFC 6298 §2.1), clamped to [min, max].
    pub fn new(initial: Duration, min: Duration, max: Duration) -> RttEstimator {
        RttEstimator {
            initial_us: narrow(micros(initial)),
            min_us: narrow(micros(min)),
            max_us: narrow(micros(max)),
            srtt_us: None,
            rttvar_us: 0,
            var_max_us: 0,
            rto_var_us: 0,
            latest_us: None,
            backoffs: 0,
        }
    }

    /// Take a sample (RFC 6298 §2.2 / §2.3; K = 4, alpha 1/8, beta 1/4, G = 1 ms clock;
    /// the RTO's variance term as the module doc says). Callers apply Karn's rule (§3):
    /// no samples from retransmitted segments unless timestamps or the send log
    /// disambiguate them. Resets the backoff.
    pub fn sample(&mut self, rtt: Duration) {
        self.sample_us(micros(rtt));
    }

    /// [`sample`](RttEstimator::sample) from microseconds (the transmission log's
    /// unit: no round trip through `Duration`).
    pub fn sample_us(&mut self, rtt_us: u64) {
        let r = narrow(rtt_us);
        match self.srtt_us {
            // RFC 6298 §2.2: SRTT <- R, RTTVAR <- R/2 (RTO = R + max(2R, RTO.min)).
            None => {
                self.srtt_us = Some(r);
                self.rttvar_us = r / 2;
                self.rto_var_us = narrow(K * u64::from(self.rttvar_us)).max(self.min_us);
                self.var_max_us = self.rto_var_us;
            }
            // RFC 6298 §2.3: RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'| first
            // (with the old SRTT), then SRTT <- (1 - alpha) * SRTT + alpha * R'.
            Some(srtt) => {
                let err = srtt.abs_diff(r);
                let var = ((3 * u64::from(self.rttvar_us) + u64::from(err)) / 4) as u32;
                self.rttvar_us = if r < srtt && var > self.rttvar_us {
                    // Below SRTT: an eighth of the rise (Linux).
                    self.rttvar_us + (var - self.rttvar_us) / 8
                } else {
                    var
                };
                self.srtt_us = Some(((7 * u64::from(srtt) + u64::from(r)) / 8) as u32);
                let kvar = narrow(K * u64::from(self.rttvar_us));
                if kvar > self.var_max_us {
                    self.var_max_us = kvar;
                    self.rto_var_us = self.rto_var_us.max(kvar);
                }
            }
        }
        self.latest_us = Some(r);
        self.backoffs = 0;
    }

    /// A round trip ended (the data that was the highest sent when it began is
    /// acknowledged): the RTO's variance term falls a quarter of the way to the
    /// largest K*RTTVAR of the round, and the next round's maximum starts again from
    /// the minimum RTO.
    pub fn end_round(&mut self) {
        if self.srtt_us.is_none() {
            return;
        }
        if self.var_max_us < self.rto_var_us {
            self.rto_var_us -= (self.rto_var_us - self.var_max_us).div_ceil(4);
        }
        self.var_max_us = self.min_us;
    }

    /// The RTO before backoff: RFC 6298 §2.1 before a sample, else SRTT plus the
    /// variance term (at least max(G, RTO.min)); clamped to [min, max] (§2.4, §2.5).
    fn base_rto_us(&self) -> u64 {
        let raw = match self.srtt_us {
            None => u64::from(self.initial_us),
            Some(srtt) => u64::from(srtt) + GRANULARITY_US.max(u64::from(self.rto_var_us)),
        };
        self.clamp(raw)
    }

    fn clamp(&self, us: u64) -> u64 {
        // Not `Ord::clamp`: a misconfigured min > max must not panic; max wins.
        us.max(u64::from(self.min_us)).min(u64::from(self.max_us))
    }

    /// The current RTO including backoff, clamped to [min, max].
    pub fn rto(&self) -> Duration {
        Duration::from_micros(self.rto_us())
    }

    /// [`rto`](RttEstimator::rto) in microseconds (the per-segment paths add it to
    /// an [`Instant`](crate::Instant) without going through `Duration`).
    pub fn rto_us(&self) -> u64 {
        let base = self.base_rto_us();
        if self.backoffs == 0 {
            // The common case: `base` is clamped already.
            return base;
        }
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
        self.srtt_us.map(|s| Duration::from_micros(u64::from(s)))
    }

    /// [`srtt`](RttEstimator::srtt) in microseconds.
    pub fn srtt_us(&self) -> Option<u64> {
        self.srtt_us.map(u64::from)
    }

    /// RTT variation, once measured.
    pub fn rttvar(&self) -> Option<Duration> {
        self.srtt_us
            .map(|_| Duration::from_micros(u64::from(self.rttvar_us)))
    }

    /// The latest sample.
    pub fn latest(&self) -> Option<Duration> {
        self.latest_us.map(|l| Duration::from_micros(u64::from(l)))
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
            e.end_round();
        }
        assert_eq!(e.srtt(), Some(ms(50)));
        // RTTVAR decays towards 0 and so, round by round, does the RTO's variance
        // term; the granularity G = 1 ms then dominates.
        assert!(e.rttvar().unwrap() < us(10));
        assert_eq!(e.rto(), ms(51));
    }

    #[test]
    fn rto_keeps_the_minimum_above_srtt() {
        // RTO >= SRTT + RTO.min, not max(SRTT + 4 RTTVAR, RTO.min): on a 150 ms path
        // with a steady RTT the RTO is 350 ms, not 200.
        let mut e = est();
        for _ in 0..200 {
            e.sample(ms(150));
            e.end_round();
        }
        assert_eq!(e.srtt(), Some(ms(150)));
        assert_eq!(e.rto(), ms(350));
        let mut e = est();
        for _ in 0..200 {
            e.sample(ms(10));
            e.end_round();
        }
        assert_eq!(e.rto(), ms(210));
    }

    #[test]
    fn many_samples_in_one_round_do_not_shrink_the_rto() {
        // RFC 7323 Appendix G: with a sample per ACK, RTTVAR alone would fall to
        // nothing within one round trip of steady samples. The variance term falls
        // only when a round ends, by a quarter of the gap to the round's maximum.
        let mut e = RttEstimator::new(ms(1000), ms(1), ms(60_000));
        e.sample(ms(100));
        assert_eq!(e.rto(), ms(300));
        for _ in 0..50 {
            e.sample(ms(100));
        }
        assert!(e.rttvar().unwrap() < ms(1));
        assert_eq!(e.rto(), ms(300), "no round ended: the variance term holds");
        // The first round's maximum is the first sample's term (200 ms): it ends
        // without a fall. The next falls a quarter of the way to that round's
        // maximum (here the 1 ms floor): 200 - 199/4 = 150.25 ms.
        e.end_round();
        assert_eq!(e.rto(), ms(300));
        e.end_round();
        assert_eq!(e.rto(), us(250_250));
        // A rise is taken at once.
        e.sample(ms(400));
        assert_eq!(e.rttvar(), Some(ms(75)));
        assert!(e.rto() >= ms(137) + ms(300));
    }

    #[test]
    fn a_sample_below_srtt_raises_rttvar_by_an_eighth() {
        let mut e = RttEstimator::new(ms(1000), ms(1), ms(60_000));
        // Bring RTTVAR down from 50 ms first.
        for _ in 0..40 {
            e.sample(ms(100));
        }
        let before = e.rttvar().unwrap();
        e.sample(ms(20));
        // Unscaled: 3/4 * before + 1/4 * 80 ms; the rise is an eighth of that.
        let unscaled = (before * 3 + ms(80)) / 4;
        assert_eq!(e.rttvar().unwrap(), before + (unscaled - before) / 8);
        // Above SRTT the full rise applies.
        let before = e.rttvar().unwrap();
        let srtt = e.srtt().unwrap();
        e.sample(srtt + ms(80));
        assert_eq!(e.rttvar().unwrap(), (before * 3 + ms(80)) / 4);
    }

    #[test]
    fn min_clamp_applies() {
        let mut e = RttEstimator::new(ms(1000), ms(200), ms(60_000));
        e.sample(ms(10));
        assert_eq!(e.rto(), ms(210));
        let e = RttEstimator::new(ms(100), ms(200), ms(60_000));
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
