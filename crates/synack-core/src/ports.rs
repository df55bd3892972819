//! Ephemeral port selection per RFC 6056 §3.3.3 (Algorithm 3, simple hash-based):
//! port = min + (next_ephemeral + F(local ip, remote ip, remote port, key)) mod num,
//! trying successive ports while the caller says one is in use.

use crate::isn::hash_ip;
use core::hash::Hasher;
use core::net::{IpAddr, SocketAddr};
use core::ops::RangeInclusive;
use siphasher::sip::SipHasher13;

/// Chooses ephemeral ports.
#[derive(Clone)]
pub struct PortAllocator {
    /// min_ephemeral of RFC 6056 §3.3.3.
    min: u16,
    /// num_ephemeral = max - min + 1; 0 for an empty range.
    num: u32,
    /// next_ephemeral of RFC 6056 §3.3.3: one global counter, bumped per port tried
    /// (kept modulo the range size).
    next_ephemeral: u64,
    /// secret_key of RFC 6056 §3.3.3 (never printed).
    key: [u8; 16],
}

impl core::fmt::Debug for PortAllocator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The key is a secret: keep it out of logs.
        f.debug_struct("PortAllocator")
            .field("min", &self.min)
            .field("num", &self.num)
            .field("next_ephemeral", &self.next_ephemeral)
            .finish_non_exhaustive()
    }
}

impl PortAllocator {
    /// An allocator over `range` keyed with `key`.
    pub fn new(range: RangeInclusive<u16>, key: [u8; 16]) -> PortAllocator {
        let (min, max) = (*range.start(), *range.end());
        let num = if min <= max {
            u32::from(max) - u32::from(min) + 1
        } else {
            0
        };
        PortAllocator {
            min,
            num,
            next_ephemeral: 0,
            key,
        }
    }

    /// F of RFC 6056 §3.3.3: a keyed hash (SipHash-1-3) of the local address and the
    /// remote endpoint. The local port is not an input: it is what is being chosen.
    fn offset(&self, local_ip: IpAddr, remote: SocketAddr) -> u64 {
        let mut h = SipHasher13::new_with_key(&self.key);
        hash_ip(&mut h, local_ip);
        hash_ip(&mut h, remote.ip());
        h.write_u16(remote.port());
        h.finish()
    }

    /// Pick a port for a connection from `local_ip` to `remote`; `in_use(port)` tells
    /// whether a candidate is taken. `None` when every port in the range is taken.
    pub fn allocate(
        &mut self,
        local_ip: IpAddr,
        remote: SocketAddr,
        mut in_use: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        if self.num == 0 {
            return None;
        }
        let num = u64::from(self.num);
        // Reduce the offset first so the sum below cannot overflow.
        let offset = self.offset(local_ip, remote) % num;
        // RFC 6056 §3.3.3: count = num_ephemeral; do { port = min + (next_ephemeral +
        // offset) % num; next_ephemeral++; if suitable return port; } while --count.
        // next_ephemeral is kept reduced modulo num (the port chosen only depends on it
        // modulo num), so the loop needs no division.
        let mut next = self.next_ephemeral % num;
        for _ in 0..num {
            let mut slot = next + offset;
            if slot >= num {
                slot -= num;
            }
            let port = u64::from(self.min) + slot;
            next += 1;
            if next == num {
                next = 0;
            }
            self.next_ephemeral = next;
            // `port` <= max, which is a u16.
            let port = port as u16;
            if !in_use(port) {
                return Some(port);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use core::net::Ipv4Addr;
    use std::collections::HashSet;

    const KEY: [u8; 16] = [7; 16];

    fn local() -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))
    }
    fn remote(a: u8, port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, a)), port)
    }

    #[test]
    fn stays_in_range_and_is_sequential_per_destination() {
        let mut p = PortAllocator::new(49152..=49162, KEY);
        let mut seen = Vec::new();
        for _ in 0..11 {
            let port = p.allocate(local(), remote(1, 80), |_| false).unwrap();
            assert!((49152..=49162).contains(&port));
            seen.push(port);
        }
        // Algorithm 3 walks the range: 11 tries cover all 11 ports once.
        let set: HashSet<u16> = seen.iter().copied().collect();
        assert_eq!(set.len(), 11);
        for w in seen.windows(2) {
            let step = (w[1] as i32 - w[0] as i32).rem_euclid(11);
            assert_eq!(step, 1, "{seen:?}");
        }
    }

    #[test]
    fn skips_used_ports() {
        let mut p = PortAllocator::new(1000..=1009, KEY);
        let mut used = HashSet::new();
        for _ in 0..10 {
            let port = p
                .allocate(local(), remote(1, 80), |c| used.contains(&c))
                .unwrap();
            assert!(used.insert(port), "port {port} handed out twice");
        }
        assert_eq!(used.len(), 10);
        // Exhausted.
        assert_eq!(
            p.allocate(local(), remote(1, 80), |c| used.contains(&c)),
            None
        );
    }

    #[test]
    fn exhaustion_tries_each_port_once() {
        let mut p = PortAllocator::new(2000..=2049, KEY);
        let mut tried = Vec::new();
        let r = p.allocate(local(), remote(1, 80), |c| {
            tried.push(c);
            true
        });
        assert_eq!(r, None);
        assert_eq!(tried.len(), 50);
        let set: HashSet<u16> = tried.into_iter().collect();
        assert_eq!(set.len(), 50);
    }

    #[test]
    fn empty_and_single_ranges() {
        #[allow(clippy::reversed_empty_ranges)]
        let mut p = PortAllocator::new(5..=4, KEY);
        assert_eq!(p.allocate(local(), remote(1, 80), |_| false), None);
        let mut p = PortAllocator::new(7..=7, KEY);
        assert_eq!(p.allocate(local(), remote(1, 80), |_| false), Some(7));
        assert_eq!(p.allocate(local(), remote(1, 80), |_| true), None);
        let mut p = PortAllocator::new(0..=u16::MAX, KEY);
        let port = p.allocate(local(), remote(1, 80), |_| false);
        assert!(port.is_some());
    }

    #[test]
    fn destinations_get_different_offsets() {
        // Fresh allocators (same next_ephemeral) so only F differs.
        let first = |r: SocketAddr| {
            PortAllocator::new(1024..=65535, KEY)
                .allocate(local(), r, |_| false)
                .unwrap()
        };
        let a = first(remote(1, 80));
        let others = [
            first(remote(2, 80)),
            first(remote(1, 443)),
            first(remote(3, 22)),
        ];
        for o in others {
            assert_ne!(o, a);
        }
        // Same destination, same key: same choice.
        assert_eq!(first(remote(1, 80)), a);
        // Another key moves it.
        let other_key = PortAllocator::new(1024..=65535, [9; 16])
            .allocate(local(), remote(1, 80), |_| false)
            .unwrap();
        assert_ne!(other_key, a);
    }

    #[test]
    fn debug_hides_key() {
        let s = format!("{:?}", PortAllocator::new(1..=2, [0xAB; 16]));
        assert!(!s.contains("171"), "{s}");
    }
}
