//! UDP (RFC 768) over IPv4 and IPv6: a typed view over a datagram's bytes
//! ([`UdpDatagram`]), the parse / emit representation ([`UdpRepr`]) with the
//! pseudo-header checksum, and whole-packet helpers ([`parse_udp_packet`],
//! [`emit_udp_packet`]).
//!
//! The checksum rules differ by family. IPv4 (RFC 768 "Checksum"): a transmitted 0
//! means the sender computed none, so it is not checked; a computed checksum of 0 is
//! sent as 0xFFFF. IPv6 (RFC 8200 §8.1): the checksum is mandatory and a received 0 is
//! invalid, so such a datagram is an error.

use crate::checksum;
use crate::{Error, IpRepr};
use core::net::IpAddr;

/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;

/// UDP header length: source port, destination port, length, checksum.
pub const UDP_HEADER_LEN: usize = 8;

/// A zero-copy view of a UDP datagram (header and payload) over `T`.
///
/// [`new_checked`](UdpDatagram::new_checked) makes sure the header is there and the
/// length field lies within the buffer, so the accessors never panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpDatagram<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpDatagram<T> {
    /// Wrap `buffer` without checking it (the accessors may panic on a short one).
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpDatagram { buffer }
    }

    /// Wrap `buffer` after checking that it holds a header and that the length field
    /// (RFC 768 "Length": header plus data) is at least 8 and within the buffer.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let b = buffer.as_ref();
        if b.len() < UDP_HEADER_LEN {
            return Err(Error::Truncated {
                what: "UDP header",
                needed: UDP_HEADER_LEN,
                got: b.len(),
            });
        }
        let len = usize::from(u16::from_be_bytes([b[4], b[5]]));
        if len < UDP_HEADER_LEN || len > b.len() {
            return Err(Error::BadLength {
                what: "UDP length",
                value: len,
            });
        }
        Ok(UdpDatagram { buffer })
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.b()[0], self.b()[1]])
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.b()[2], self.b()[3]])
    }

    /// The length field: header plus payload.
    pub fn len(&self) -> u16 {
        u16::from_be_bytes([self.b()[4], self.b()[5]])
    }

    /// True when the length field says there is no payload.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= UDP_HEADER_LEN
    }

    /// The checksum field as sent.
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.b()[6], self.b()[7]])
    }

    /// The payload: the bytes the length field covers after the header.
    pub fn payload(&self) -> &[u8] {
        &self.b()[UDP_HEADER_LEN..usize::from(self.len())]
    }

    /// True when the checksum verifies with the pseudo-header of `src` / `dst`. A zero
    /// checksum over IPv4 (none computed) verifies; over IPv6 it never does.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        if self.checksum() == 0 {
            return src.is_ipv4();
        }
        let d = &self.b()[..usize::from(self.len())];
        let s = checksum::combine(
            checksum::sum(d),
            checksum::pseudo_header(src, dst, PROTO_UDP, u32::from(self.len())),
        );
        checksum::finish(s) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpDatagram<T> {
    fn m(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Set the source port.
    pub fn set_src_port(&mut self, v: u16) {
        self.m()[0..2].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        self.m()[2..4].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the length field.
    pub fn set_len(&mut self, v: u16) {
        self.m()[4..6].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        self.m()[6..8].copy_from_slice(&v.to_be_bytes());
    }

    /// Compute and store the checksum over the length field's bytes (RFC 768; a
    /// computed 0 is stored as 0xFFFF, which means the same in one's complement).
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let len = self.len();
        let d = &self.b()[..usize::from(len)];
        let s = checksum::combine(
            checksum::sum(d),
            checksum::pseudo_header(src, dst, PROTO_UDP, u32::from(len)),
        );
        let c = match checksum::finish(s) {
            0 => 0xffff,
            c => c,
        };
        self.set_checksum(c);
    }

    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let len = usize::from(self.len());
        &mut self.m()[UDP_HEADER_LEN..len]
    }
}

/// The parsed UDP header: the two ports (the length and checksum are checked on parse
/// and computed on emit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

impl UdpRepr {
    /// Parse a UDP datagram (the IP payload) sent from `src` to `dst`. Returns the
    /// header and the payload (bytes past the length field, IP padding, are ignored).
    ///
    /// With `verify_checksum`, the checksum must verify: over IPv4 a zero checksum
    /// (none computed) is accepted; over IPv6 a zero checksum is
    /// [`Error::BadChecksum`] whether or not `verify_checksum` is set (RFC 8200 §8.1:
    /// IPv6 receivers discard it). Mixed families give [`Error::BadAddress`].
    pub fn parse(
        bytes: &[u8],
        src: IpAddr,
        dst: IpAddr,
        verify_checksum: bool,
    ) -> Result<(UdpRepr, &[u8]), Error> {
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(Error::BadAddress);
        }
        let d = UdpDatagram::new_checked(bytes)?;
        if src.is_ipv6() && d.checksum() == 0 {
            return Err(Error::BadChecksum {
                what: "UDP (zero over IPv6)",
            });
        }
        if verify_checksum && !d.verify_checksum(src, dst) {
            return Err(Error::BadChecksum { what: "UDP" });
        }
        let repr = UdpRepr {
            src_port: d.src_port(),
            dst_port: d.dst_port(),
        };
        let len = usize::from(d.len());
        Ok((repr, &bytes[UDP_HEADER_LEN..len]))
    }

    /// Header length: always 8.
    pub const fn header_len(&self) -> usize {
        UDP_HEADER_LEN
    }

    /// Write the header into `buf[..8]` for a payload already in place at
    /// `buf[8..8 + payload_len]`, with the checksum over the pseudo-header of
    /// `src` / `dst` (a computed 0 is sent as 0xFFFF, RFC 768). Returns the datagram
    /// length. Errors: a short `buf`, a datagram longer than the 16-bit length field,
    /// mixed address families.
    pub fn emit(
        &self,
        buf: &mut [u8],
        payload_len: usize,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<usize, Error> {
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(Error::BadAddress);
        }
        let total = UDP_HEADER_LEN + payload_len;
        let len = u16::try_from(total).map_err(|_| Error::BadLength {
            what: "UDP length",
            value: total,
        })?;
        if buf.len() < total {
            return Err(Error::BufferTooSmall {
                needed: total,
                got: buf.len(),
            });
        }
        let mut d = UdpDatagram::new_unchecked(&mut buf[..total]);
        d.set_src_port(self.src_port);
        d.set_dst_port(self.dst_port);
        d.set_len(len);
        d.fill_checksum(src, dst);
        Ok(total)
    }
}

/// A parsed IP + UDP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpPacket<'a> {
    /// The IP header.
    pub ip: IpRepr,
    /// The UDP header.
    pub udp: UdpRepr,
    /// The UDP payload.
    pub payload: &'a [u8],
}

/// Parse a whole IP packet that carries UDP. A well-formed packet of another
/// protocol is `Ok(None)`, so the caller can tell "not UDP" from "broken UDP".
pub fn parse_udp_packet(
    bytes: &[u8],
    verify_checksum: bool,
) -> Result<Option<UdpPacket<'_>>, Error> {
    let (ip, payload) = IpRepr::parse(bytes)?;
    if ip.protocol != PROTO_UDP {
        return Ok(None);
    }
    let (udp, payload) = UdpRepr::parse(payload, ip.src, ip.dst, verify_checksum)?;
    Ok(Some(UdpPacket { ip, udp, payload }))
}

/// Emit an IP + UDP packet into `buf` whose payload is already in place at
/// `buf[ip.header_len() + 8..][..payload_len]`. `ip.protocol` and `ip.payload_len`
/// are ignored (set here). Returns the total packet length.
pub fn emit_udp_packet(
    buf: &mut [u8],
    ip: &IpRepr,
    udp: &UdpRepr,
    payload_len: usize,
) -> Result<usize, Error> {
    let ip_len = ip.header_len();
    let total = ip_len + UDP_HEADER_LEN + payload_len;
    if buf.len() < total {
        return Err(Error::BufferTooSmall {
            needed: total,
            got: buf.len(),
        });
    }
    let ip = IpRepr {
        protocol: PROTO_UDP,
        payload_len: UDP_HEADER_LEN + payload_len,
        ..*ip
    };
    ip.emit(buf)?;
    udp.emit(&mut buf[ip_len..total], payload_len, ip.src, ip.dst)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    const A4: IpAddr = IpAddr::V4(core::net::Ipv4Addr::new(10, 0, 0, 1));
    const B4: IpAddr = IpAddr::V4(core::net::Ipv4Addr::new(10, 0, 0, 2));

    fn v6(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn packet(src: IpAddr, dst: IpAddr, ports: (u16, u16), payload: &[u8]) -> Vec<u8> {
        let ip = IpRepr {
            src,
            dst,
            protocol: PROTO_UDP,
            ttl: 64,
            payload_len: 0,
        };
        let mut buf = vec![0u8; ip.header_len() + UDP_HEADER_LEN + payload.len()];
        let at = ip.header_len() + UDP_HEADER_LEN;
        buf[at..].copy_from_slice(payload);
        let udp = UdpRepr {
            src_port: ports.0,
            dst_port: ports.1,
        };
        let n = emit_udp_packet(&mut buf, &ip, &udp, payload.len()).unwrap();
        assert_eq!(n, buf.len());
        buf
    }

    #[test]
    fn round_trip_v4_and_v6() {
        for (s, d) in [(A4, B4), (v6("fd00::1"), v6("fd00::2"))] {
            let p = packet(s, d, (5353, 53), b"query");
            let got = parse_udp_packet(&p, true).unwrap().unwrap();
            assert_eq!(
                got.udp,
                UdpRepr {
                    src_port: 5353,
                    dst_port: 53
                }
            );
            assert_eq!(got.payload, b"query");
            assert_eq!((got.ip.src, got.ip.dst), (s, d));
        }
    }

    #[test]
    fn bad_checksum_is_an_error_unless_unverified() {
        let mut p = packet(A4, B4, (1, 2), b"abcd");
        let last = p.len() - 1;
        p[last] ^= 0x40;
        assert_eq!(
            parse_udp_packet(&p, true).unwrap_err(),
            Error::BadChecksum { what: "UDP" }
        );
        assert!(parse_udp_packet(&p, false).unwrap().is_some());
    }

    #[test]
    fn zero_checksum_rules() {
        // IPv4: 0 means "none computed" and is accepted even when verifying.
        let mut p = packet(A4, B4, (1, 2), b"abcd");
        p[26..28].copy_from_slice(&[0, 0]);
        assert_eq!(
            parse_udp_packet(&p, true).unwrap().unwrap().payload,
            b"abcd"
        );
        // IPv6: 0 is invalid (RFC 8200 §8.1), even unverified.
        let mut p = packet(v6("fd00::1"), v6("fd00::2"), (1, 2), b"abcd");
        p[46..48].copy_from_slice(&[0, 0]);
        for verify in [true, false] {
            assert!(matches!(
                parse_udp_packet(&p, verify),
                Err(Error::BadChecksum { .. })
            ));
        }
    }

    #[test]
    fn computed_zero_is_sent_as_ffff() {
        // A payload whose checksum computes to 0 (the one's-complement sum is 0xFFFF)
        // must go out as 0xFFFF, since 0 would mean "no checksum" (RFC 768).
        let udp = UdpRepr {
            src_port: 1000,
            dst_port: 2000,
        };
        let mut buf = [0u8; 10];
        // Try every two-byte payload: exactly one residue makes the sum 0xFFFF.
        let mut found = false;
        for w in 0..=u16::MAX {
            buf[8..10].copy_from_slice(&w.to_be_bytes());
            udp.emit(&mut buf, 2, A4, B4).unwrap();
            let d = UdpDatagram::new_checked(&buf[..]).unwrap();
            let mut zeroed = buf;
            zeroed[6..8].copy_from_slice(&[0, 0]);
            let raw = checksum::finish(checksum::combine(
                checksum::sum(&zeroed),
                checksum::pseudo_header(A4, B4, PROTO_UDP, 10),
            ));
            if raw == 0 {
                assert_eq!(d.checksum(), 0xffff);
                assert!(d.verify_checksum(A4, B4));
                found = true;
                break;
            }
        }
        assert!(found, "some payload computes to a zero checksum");
    }

    #[test]
    fn length_checks() {
        let p = packet(A4, B4, (1, 2), b"abcd");
        let udp = &p[20..];
        // Shorter than a header.
        assert!(matches!(
            UdpRepr::parse(&udp[..7], A4, B4, false),
            Err(Error::Truncated { .. })
        ));
        // Length field below 8, and beyond the buffer.
        for bad in [0u16, 7, 13, 200] {
            let mut q = udp.to_vec();
            q[4..6].copy_from_slice(&bad.to_be_bytes());
            assert!(matches!(
                UdpRepr::parse(&q, A4, B4, false),
                Err(Error::BadLength { .. })
            ));
        }
        // Trailing bytes past the length field are not payload.
        let mut q = udp.to_vec();
        q.extend_from_slice(&[9, 9, 9]);
        let (_, payload) = UdpRepr::parse(&q, A4, B4, true).unwrap();
        assert_eq!(payload, b"abcd");
        // Mixed families.
        assert_eq!(
            UdpRepr::parse(udp, A4, v6("fd00::2"), false).unwrap_err(),
            Error::BadAddress
        );
        // Other protocols are not UDP.
        let mut q = p.clone();
        q[9] = 6;
        let mut ipv4 = crate::Ipv4Packet::new_unchecked(&mut q[..]);
        ipv4.fill_checksum();
        assert!(parse_udp_packet(&q, true).unwrap().is_none());
    }

    #[test]
    fn emit_errors() {
        let udp = UdpRepr {
            src_port: 1,
            dst_port: 2,
        };
        let mut small = [0u8; 9];
        assert!(matches!(
            udp.emit(&mut small, 4, A4, B4),
            Err(Error::BufferTooSmall { .. })
        ));
        let mut big = vec![0u8; 70_000];
        assert!(matches!(
            udp.emit(&mut big, 65_530, A4, B4),
            Err(Error::BadLength { .. })
        ));
        assert_eq!(
            udp.emit(&mut big, 4, A4, v6("::1")).unwrap_err(),
            Error::BadAddress
        );
    }

    proptest! {
        #[test]
        fn prop_round_trip(
            v6_family in any::<bool>(),
            sp in any::<u16>(),
            dp in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..1400),
        ) {
            let (s, d) = if v6_family { (v6("2001:db8::7"), v6("2001:db8::9")) } else { (A4, B4) };
            let p = packet(s, d, (sp, dp), &payload);
            let got = parse_udp_packet(&p, true).unwrap().unwrap();
            prop_assert_eq!(got.udp, UdpRepr { src_port: sp, dst_port: dp });
            prop_assert_eq!(got.payload, &payload[..]);
            prop_assert_ne!(UdpDatagram::new_checked(&p[got.ip.header_len()..]).unwrap().checksum(), 0);
        }

        #[test]
        fn prop_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), verify in any::<bool>()) {
            let _ = UdpRepr::parse(&bytes, A4, B4, verify);
            let _ = UdpRepr::parse(&bytes, v6("::1"), v6("::2"), verify);
            let _ = parse_udp_packet(&bytes, verify);
        }

        #[test]
        fn prop_one_flipped_bit_is_caught(
            payload in proptest::collection::vec(any::<u8>(), 1..200),
            bit in any::<usize>(),
        ) {
            let p = packet(A4, B4, (7, 9), &payload);
            let mut q = p.clone();
            // Flip one bit of the UDP payload (the length field is left alone).
            let at = 28 + (bit / 8) % payload.len();
            q[at] ^= 1 << (bit % 8);
            let bad = matches!(parse_udp_packet(&q, true), Err(Error::BadChecksum { .. }));
            prop_assert!(bad);
        }
    }
}
