//! The limits on RFC 5961 challenge ACKs, arranged so they leak nothing
//! (CVE-2016-5696, "Off-Path TCP Exploits", USENIX Security 2016).
//!
//! RFC 5961 §7 asks for a rate limit on challenge ACKs. A single stack-wide budget
//! refilled to a fixed count each second is a side channel: an off-path attacker
//! spoofs a RST or SYN for a guessed 4-tuple, then counts the challenge ACKs its own
//! connection still gets that second; one missing means the guessed connection exists
//! (and, repeated, reveals its sequence numbers). Linux closed it in two steps, and
//! synack does both:
//! - per connection, at most one challenge ACK per
//!   [`Config::challenge_ack_interval`](crate::Config::challenge_ack_interval) (Linux
//!   `tcp_invalid_ratelimit`, 500 ms), checked first, so an attacker's probes of its
//!   own connection are answered at that pace whatever other connections do;
//! - stack-wide, a budget redrawn each second as `limit / 2 + r` with `r` uniform in
//!   `0..limit` (Linux `tcp_send_challenge_ack`), so what other connections spent is
//!   hidden in a spread as wide as the limit.
//!
//! `r` comes from SipHash-1-3 keyed by a key derived from the stack's secret, over a
//! draw counter: the engine owns no RNG, and a seeded stack replays exactly.

use crate::time::{Duration, Instant};
use core::hash::Hasher;
use siphasher::sip::SipHasher13;

/// The stack-wide budget's random draws.
#[derive(Clone)]
pub(crate) struct ChallengeDraw {
    key: [u8; 16],
    draws: u64,
}

impl core::fmt::Debug for ChallengeDraw {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Derived from the stack's secret: keep it out of logs.
        f.debug_struct("ChallengeDraw")
            .field("draws", &self.draws)
            .finish_non_exhaustive()
    }
}

impl ChallengeDraw {
    /// Draws keyed from the stack's `secret` (a different key from the ISN's and the
    /// ports', so none of their outputs says anything about another's).
    pub(crate) fn new(secret: [u8; 16]) -> ChallengeDraw {
        let mut key = secret;
        for (i, b) in key.iter_mut().enumerate() {
            *b ^= 0x5c ^ (i as u8).wrapping_mul(0x3b);
        }
        ChallengeDraw { key, draws: 0 }
    }

    /// The budget of the next one-second epoch for `limit` challenge ACKs a second:
    /// `limit / 2 + r`, `r` uniform in `0..limit` (0 for a limit of 0).
    pub(crate) fn next_budget(&mut self, limit: u32) -> u32 {
        if limit == 0 {
            return 0;
        }
        let mut h = SipHasher13::new_with_key(&self.key);
        h.write_u64(self.draws);
        self.draws = self.draws.wrapping_add(1);
        // Multiply-shift: uniform enough for a u32 range from 64 random bits.
        let r = ((u128::from(h.finish()) * u128::from(limit)) >> 64) as u32;
        limit / 2 + r
    }
}

/// The per-connection limit (Linux `__tcp_oow_rate_limited`): true when a challenge
/// ACK may be sent at `now`, and then `last` becomes `now`. Checked before the
/// stack-wide budget, and it counts the attempt even if that budget then says no.
///
/// `last` is a 32-bit millisecond stamp (0: never), small enough that the TCB stays
/// under its size budget; it wraps after 49 days, after which a stale stamp can
/// suppress one challenge ACK for at most one interval.
pub(crate) fn connection_allows(last: &mut u32, now: Instant, interval: Duration) -> bool {
    let now_ms = (now.total_millis() as u32).max(1);
    if *last != 0 && u64::from(now_ms.wrapping_sub(*last)) < interval.as_millis() as u64 {
        return false;
    }
    *last = now_ms;
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn budgets_spread_over_the_range() {
        let mut d = ChallengeDraw::new([1; 16]);
        let draws: Vec<u32> = (0..2000).map(|_| d.next_budget(1000)).collect();
        assert!(draws.iter().all(|&b| (500..1500).contains(&b)));
        let low = draws.iter().filter(|&&b| b < 1000).count();
        assert!((800..1200).contains(&low), "{low} of 2000 below the middle");
        assert_eq!(ChallengeDraw::new([1; 16]).next_budget(1000), draws[0]);
        assert_ne!(ChallengeDraw::new([2; 16]).next_budget(1000), draws[0]);
        assert_eq!(d.next_budget(0), 0);
    }

    #[test]
    fn one_per_interval_per_connection() {
        let mut last = 0;
        let t = Instant::from_secs(10);
        let i = Duration::from_millis(500);
        assert!(connection_allows(&mut last, t, i));
        assert!(!connection_allows(&mut last, t.add_micros(499_999), i));
        assert!(
            connection_allows(&mut 0, Instant::ZERO, i),
            "a stamp at 0 is not 'never'"
        );
        assert!(connection_allows(&mut last, t.add_micros(500_000), i));
    }
}
