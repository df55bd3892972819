//! Just enough IP header reading to route a packet: the version nibble, the source and
//! destination addresses, and where the IP header ends (so corruption can aim past it).
//!
//! The simulator deliberately does not validate packets: a malformed packet is the
//! receiving host's business. These helpers only refuse to read out of bounds.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The IP version of `packet` (4 or 6), from its first nibble; `None` if it is empty or
/// neither (RFC 791 §3.1, RFC 8200 §3).
pub fn version(packet: &[u8]) -> Option<u8> {
    match packet.first()? >> 4 {
        4 => Some(4),
        6 => Some(6),
        _ => None,
    }
}

/// The destination address of an IPv4 (bytes 16..20, RFC 791 §3.1) or IPv6 (bytes
/// 24..40, RFC 8200 §3) packet; `None` if the packet is too short or not IP.
pub fn dst_addr(packet: &[u8]) -> Option<IpAddr> {
    match version(packet)? {
        4 => {
            let b: [u8; 4] = packet.get(16..20)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(b)))
        }
        _ => {
            let b: [u8; 16] = packet.get(24..40)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
    }
}

/// The source address of an IPv4 (bytes 12..16) or IPv6 (bytes 8..24) packet.
pub fn src_addr(packet: &[u8]) -> Option<IpAddr> {
    match version(packet)? {
        4 => {
            let b: [u8; 4] = packet.get(12..16)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(b)))
        }
        _ => {
            let b: [u8; 16] = packet.get(8..24)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
    }
}

/// Length of the fixed IP header: IHL * 4 for IPv4 (RFC 791 §3.1), 40 for IPv6
/// (extension headers are counted as payload). `None` if not IP or the header claims
/// more bytes than the packet has.
pub fn header_len(packet: &[u8]) -> Option<usize> {
    let len = match version(packet)? {
        4 => usize::from(packet[0] & 0x0f) * 4,
        _ => 40,
    };
    (len >= 20 && len <= packet.len()).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4() -> Vec<u8> {
        let mut p = vec![0u8; 28];
        p[0] = 0x45;
        p[12..16].copy_from_slice(&[10, 0, 0, 1]);
        p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        p
    }

    #[test]
    fn reads_v4_addresses() {
        let p = v4();
        assert_eq!(src_addr(&p), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(dst_addr(&p), Some("10.0.0.2".parse().unwrap()));
        assert_eq!(header_len(&p), Some(20));
    }

    #[test]
    fn reads_v6_addresses() {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[8..24].copy_from_slice(&"fd00::1".parse::<Ipv6Addr>().unwrap().octets());
        p[24..40].copy_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        assert_eq!(src_addr(&p), Some("fd00::1".parse().unwrap()));
        assert_eq!(dst_addr(&p), Some("fd00::2".parse().unwrap()));
        assert_eq!(header_len(&p), Some(40));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_stays_in_bounds(bytes in proptest::collection::vec(0u8..=255, 0..80)) {
            let _ = (version(&bytes), dst_addr(&bytes), src_addr(&bytes));
            if let Some(h) = header_len(&bytes) {
                proptest::prop_assert!(h >= 20 && h <= bytes.len());
            }
        }
    }

    #[test]
    fn short_or_foreign_packets_are_none() {
        assert_eq!(dst_addr(&[]), None);
        assert_eq!(dst_addr(&v4()[..19]), None);
        assert_eq!(dst_addr(&[0x60; 39]), None);
        assert_eq!(dst_addr(&[0x50; 60]), None);
        let mut bad_ihl = v4();
        bad_ihl[0] = 0x4f; // 60-byte header in a 28-byte packet
        assert_eq!(header_len(&bad_ihl), None);
        bad_ihl[0] = 0x41; // 4-byte header: below the minimum
        assert_eq!(header_len(&bad_ihl), None);
    }
}
