//! The ECN field of the IP header (RFC 3168 §5): its four codepoints, read from a
//! packet and written into an emitted one, for IPv4 (the low two bits of the former
//! TOS byte) and IPv6 (the low two bits of the traffic class).
//!
//! Kept beside [`IpRepr`](crate::IpRepr) rather than in it: TCP sets the field only
//! on the segments RFC 3168 §6.1.2 marks, after the header was emitted, so every other
//! packet pays nothing. Writing it updates the IPv4 header checksum incrementally
//! (RFC 1624); IPv6 has none.

use crate::checksum;

/// Not-ECT (00): the sender does not do ECN.
pub const NOT_ECT: u8 = 0b00;
/// ECT(1) (01).
pub const ECT1: u8 = 0b01;
/// ECT(0) (10): what RFC 3168 senders (and Linux) set.
pub const ECT0: u8 = 0b10;
/// CE (11): congestion experienced, set by a router instead of dropping.
pub const CE: u8 = 0b11;

/// The ECN codepoint of the IP packet `packet` (by its version nibble); [`NOT_ECT`]
/// for anything too short or of another version.
#[inline]
pub fn of_packet(packet: &[u8]) -> u8 {
    match packet {
        [b0, b1, ..] if b0 >> 4 == 4 => b1 & 0b11,
        // Traffic class: the low nibble of byte 0 and the high nibble of byte 1.
        [b0, b1, ..] if b0 >> 4 == 6 => (b1 >> 4) & 0b11,
        _ => NOT_ECT,
    }
}

/// Set the ECN codepoint (`ecn & 3`) of the emitted IP packet `packet`, keeping the
/// DSCP bits. An IPv4 header's checksum is updated (RFC 1624 eqn. 3). Returns `false`
/// (and changes nothing) when `packet` is too short or of neither version.
#[inline]
pub fn set_on_packet(packet: &mut [u8], ecn: u8) -> bool {
    let ecn = ecn & 0b11;
    match packet.first().map(|b| b >> 4) {
        Some(4) if packet.len() >= 20 => {
            let old = u16::from_be_bytes([packet[0], packet[1]]);
            packet[1] = (packet[1] & !0b11) | ecn;
            let new = u16::from_be_bytes([packet[0], packet[1]]);
            let sum = u16::from_be_bytes([packet[10], packet[11]]);
            packet[10..12].copy_from_slice(&checksum::update(sum, old, new).to_be_bytes());
            true
        }
        Some(6) if packet.len() >= 40 => {
            packet[1] = (packet[1] & !0b11_0000) | (ecn << 4);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IpRepr, Ipv4Packet, Ipv6Packet};
    use core::net::IpAddr;

    fn header(src: &str, dst: &str) -> alloc::vec::Vec<u8> {
        let ip = IpRepr {
            src: src.parse::<IpAddr>().unwrap(),
            dst: dst.parse::<IpAddr>().unwrap(),
            protocol: 6,
            ttl: 64,
            payload_len: 0,
        };
        let mut buf = alloc::vec![0u8; ip.header_len()];
        ip.emit(&mut buf).unwrap();
        buf
    }

    #[test]
    fn ipv4_codepoints_round_trip_with_a_valid_checksum() {
        for ecn in [ECT0, ECT1, CE, NOT_ECT] {
            let mut b = header("192.0.2.1", "192.0.2.2");
            b[1] = 0xb8; // DSCP EF, kept
            Ipv4Packet::new_unchecked(&mut b[..]).fill_checksum();
            assert!(set_on_packet(&mut b, ecn));
            assert_eq!(of_packet(&b), ecn);
            assert_eq!(b[1] >> 2, 0xb8 >> 2, "DSCP kept");
            let p = Ipv4Packet::new_checked(&b[..]).unwrap();
            assert!(p.verify_checksum(), "checksum after setting {ecn}");
            assert_eq!(p.ecn(), ecn);
            // And parses as before.
            assert!(IpRepr::parse(&b).is_ok());
        }
    }

    #[test]
    fn ipv6_codepoints_round_trip() {
        for ecn in [ECT0, ECT1, CE, NOT_ECT] {
            let mut b = header("2001:db8::1", "2001:db8::2");
            assert!(set_on_packet(&mut b, ecn));
            assert_eq!(of_packet(&b), ecn);
            let p = Ipv6Packet::new_checked(&b[..]).unwrap();
            assert_eq!(p.traffic_class() & 3, ecn);
            assert_eq!(p.version(), 6);
        }
    }

    #[test]
    fn short_or_unknown_packets_are_left_alone() {
        assert_eq!(of_packet(&[]), NOT_ECT);
        assert_eq!(of_packet(&[0x45]), NOT_ECT);
        let mut b = [0x50u8, 0xff, 0, 0];
        assert!(!set_on_packet(&mut b, CE));
        assert_eq!(b, [0x50, 0xff, 0, 0]);
        let mut short = [0x45u8, 0, 0];
        assert!(!set_on_packet(&mut short, CE));
        assert_eq!(of_packet(&[0x5f, 0xff]), NOT_ECT);
    }
}
