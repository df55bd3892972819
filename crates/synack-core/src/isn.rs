//! Initial sequence numbers per RFC 6528 §3: ISN = M + F(localip, localport, remoteip,
//! remoteport, secretkey), M a 4-microsecond timer, F a keyed pseudorandom function
//! (SipHash-1-3: every connection computes one, so the cheaper round count; RFC 6528
//! §3 asks for a keyed PRF, not a particular one). The key is injected; the engine
//! owns no RNG.

use crate::seq::Seq;
use crate::time::Instant;
use core::hash::Hasher;
use core::net::{IpAddr, SocketAddr};
use siphasher::sip::SipHasher13;

/// Length of one tick of the timer M of RFC 6528 §3, in microseconds.
const TICK_US: u64 = 4;

/// Generates ISNs from a secret key and the current time.
#[derive(Clone)]
pub struct IsnGenerator {
    /// The secret key of RFC 6528 §3 (never printed).
    key: [u8; 16],
}

impl core::fmt::Debug for IsnGenerator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The key is a secret (RFC 6528 §3): keep it out of logs.
        f.debug_struct("IsnGenerator").finish_non_exhaustive()
    }
}

/// Feed an address into a hasher: a family tag, then the address. An IPv4 address is
/// one 64-bit word (tag and address), so a whole IPv4 tuple costs two or three words.
pub(crate) fn hash_ip(h: &mut SipHasher13, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => h.write_u64(4 << 32 | u64::from(u32::from(v4))),
        IpAddr::V6(v6) => {
            h.write_u64(6);
            h.write_u128(u128::from(v6));
        }
    }
}

impl IsnGenerator {
    /// A generator keyed with `key`.
    pub fn new(key: [u8; 16]) -> IsnGenerator {
        IsnGenerator { key }
    }

    /// F of RFC 6528 §3: SipHash-1-3 of the 4-tuple under the secret key, truncated to
    /// 32 bits.
    fn offset(&self, local: SocketAddr, remote: SocketAddr) -> u32 {
        let mut h = SipHasher13::new_with_key(&self.key);
        hash_ip(&mut h, local.ip());
        hash_ip(&mut h, remote.ip());
        h.write_u32(u32::from(local.port()) << 16 | u32::from(remote.port()));
        h.finish() as u32
    }

    /// The ISN for a connection between `local` and `remote` at `now`.
    pub fn isn(&self, now: Instant, local: SocketAddr, remote: SocketAddr) -> Seq {
        // RFC 6528 §3: M is a timer ticking every 4 microseconds (wrapping mod 2^32).
        let m = (now.total_micros() / TICK_US) as u32;
        Seq(m.wrapping_add(self.offset(local, remote)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    const KEY: [u8; 16] = *b"0123456789abcdef";

    fn v4(a: u8, port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, a)), port)
    }

    #[test]
    fn deterministic() {
        let g = IsnGenerator::new(KEY);
        let t = Instant::from_micros(123_456);
        let a = g.isn(t, v4(1, 80), v4(2, 40_000));
        let b = IsnGenerator::new(KEY).isn(t, v4(1, 80), v4(2, 40_000));
        assert_eq!(a, b);
    }

    #[test]
    fn differs_by_tuple_and_key() {
        let g = IsnGenerator::new(KEY);
        let t = Instant::from_secs(5);
        let base = g.isn(t, v4(1, 80), v4(2, 40_000));
        let others = [
            g.isn(t, v4(1, 81), v4(2, 40_000)),
            g.isn(t, v4(3, 80), v4(2, 40_000)),
            g.isn(t, v4(1, 80), v4(4, 40_000)),
            g.isn(t, v4(1, 80), v4(2, 40_001)),
            // Swapping local and remote is a different connection.
            g.isn(t, v4(2, 40_000), v4(1, 80)),
            g.isn(
                t,
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 80),
                v4(2, 40_000),
            ),
            IsnGenerator::new(*b"fedcba9876543210").isn(t, v4(1, 80), v4(2, 40_000)),
        ];
        for o in others {
            assert_ne!(o, base);
        }
    }

    #[test]
    fn advances_one_per_four_microseconds() {
        let g = IsnGenerator::new(KEY);
        let (l, r) = (v4(1, 80), v4(2, 40_000));
        let t0 = Instant::from_micros(1_000_000);
        let i0 = g.isn(t0, l, r);
        // Within a tick the ISN does not move.
        assert_eq!(g.isn(Instant::from_micros(1_000_003), l, r), i0);
        assert_eq!(g.isn(Instant::from_micros(1_000_004), l, r), i0 + 1);
        // One second is 250,000 ticks.
        assert_eq!(g.isn(Instant::from_micros(2_000_000), l, r), i0 + 250_000);
    }

    #[test]
    fn wraps_modulo_2_32() {
        let g = IsnGenerator::new(KEY);
        let (l, r) = (v4(1, 80), v4(2, 40_000));
        let t0 = Instant::ZERO;
        // 2^32 ticks later the timer has wrapped around exactly once.
        let t1 = Instant::from_micros((1u64 << 32) * 4);
        assert_eq!(g.isn(t0, l, r), g.isn(t1, l, r));
        // A far-future time does not panic.
        let _ = g.isn(Instant::FAR_FUTURE, l, r);
    }

    #[test]
    fn debug_hides_key() {
        let s = format!("{:?}", IsnGenerator::new(KEY));
        assert!(!s.contains("48"), "{s}");
        assert!(s.starts_with("IsnGenerator"));
    }
}
