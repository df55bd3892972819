//! Round-trip time estimation and the retransmission timeout (RFC 6298).

use crate::time::Duration;

/// SRTT / RTTVAR / RTO per RFC 6298 §2, with exponential backoff (§5.5).
#[derive(Debug, Clone)]
pub struct RttEstimator {
    _todo: (),
}

impl RttEstimator {
    /// Before any measurement: RTO = `initial` (RFC 6298 §2.1), clamped to [min, max].
    pub fn new(initial: Duration, min: Duration, max: Duration) -> RttEstimator {
        let _ = (initial, min, max);
        todo!("RttEstimator::new")
    }
    /// Take a sample (RFC 6298 §2.2 / §2.3; K = 4, alpha 1/8, beta 1/4, G = 1 ms clock).
    /// Callers apply Karn's rule (§3): no samples from retransmitted segments unless
    /// timestamps disambiguate them. Resets the backoff.
    pub fn sample(&mut self, rtt: Duration) {
        let _ = rtt;
        todo!()
    }
    /// The current RTO including backoff, clamped to [min, max].
    pub fn rto(&self) -> Duration {
        todo!()
    }
    /// Double the RTO (RFC 6298 §5.5), up to max.
    pub fn backoff(&mut self) {
        todo!()
    }
    /// Number of backoffs since the last sample / reset.
    pub fn backoffs(&self) -> u32 {
        todo!()
    }
    /// Forget the backoff (new data was acknowledged).
    pub fn reset_backoff(&mut self) {
        todo!()
    }
    /// Smoothed RTT, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        todo!()
    }
    /// RTT variation, once measured.
    pub fn rttvar(&self) -> Option<Duration> {
        todo!()
    }
    /// The latest sample.
    pub fn latest(&self) -> Option<Duration> {
        todo!()
    }
}
