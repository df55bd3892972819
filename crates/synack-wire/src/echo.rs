//! ICMP echo (ping): echo request / reply for ICMPv4 (RFC 792, types 8 and 0) and
//! ICMPv6 (RFC 4443 §4.1–4.2, types 128 and 129), parsed with their checksum verified
//! and emitted as whole IP packets; and the port-unreachable error a stack sends for a
//! UDP datagram nobody takes (ICMPv4 type 3 code 3, ICMPv6 type 1 code 4).

use crate::checksum;
use crate::icmp::{IcmpKind, IcmpRepr, ICMP_HEADER_LEN};
use crate::{Error, IpRepr, PROTO_ICMP, PROTO_ICMPV6};
use core::net::IpAddr;

/// ICMPv4 echo request type (RFC 792).
pub const V4_ECHO_REQUEST: u8 = 8;
/// ICMPv4 echo reply type (RFC 792).
pub const V4_ECHO_REPLY: u8 = 0;
/// ICMPv6 echo request type (RFC 4443 §4.1).
pub const V6_ECHO_REQUEST: u8 = 128;
/// ICMPv6 echo reply type (RFC 4443 §4.2).
pub const V6_ECHO_REPLY: u8 = 129;

/// ICMPv4 destination unreachable code "port unreachable" (RFC 792).
pub const V4_CODE_PORT_UNREACHABLE: u8 = 3;
/// ICMPv6 destination unreachable code "port unreachable" (RFC 4443 §3.1).
pub const V6_CODE_PORT_UNREACHABLE: u8 = 4;

/// An echo request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EchoRepr {
    /// Request (true) or reply (false).
    pub request: bool,
    /// The identifier.
    pub ident: u16,
    /// The sequence number.
    pub seq_no: u16,
}

/// The ICMP checksum of `body` (RFC 792), with the ICMPv6 pseudo-header for v6
/// (RFC 4443 §2.3).
fn icmp_sum(body: &[u8], src: IpAddr, dst: IpAddr) -> u32 {
    let s = checksum::sum(body);
    if src.is_ipv6() {
        checksum::combine(
            s,
            checksum::pseudo_header(src, dst, PROTO_ICMPV6, body.len() as u32),
        )
    } else {
        s
    }
}

impl EchoRepr {
    /// Parse an ICMP message body (after the IP header) sent from `src` to `dst` as an
    /// echo request or reply, verifying its checksum. Returns the echo and its data.
    /// Another ICMP type is [`Error::UnsupportedIcmp`]; mixed address families are
    /// [`Error::BadAddress`].
    pub fn parse(body: &[u8], src: IpAddr, dst: IpAddr) -> Result<(EchoRepr, &[u8]), Error> {
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(Error::BadAddress);
        }
        let v6 = src.is_ipv6();
        let what = if v6 { "ICMPv6" } else { "ICMPv4" };
        if body.len() < ICMP_HEADER_LEN {
            return Err(Error::Truncated {
                what,
                needed: ICMP_HEADER_LEN,
                got: body.len(),
            });
        }
        let (ty, code) = (body[0], body[1]);
        let request = match (v6, ty) {
            (false, V4_ECHO_REQUEST) | (true, V6_ECHO_REQUEST) => true,
            (false, V4_ECHO_REPLY) | (true, V6_ECHO_REPLY) => false,
            _ => return Err(Error::UnsupportedIcmp { ty, code }),
        };
        if u32::try_from(body.len()).is_err() || checksum::finish(icmp_sum(body, src, dst)) != 0 {
            return Err(Error::BadChecksum { what });
        }
        let repr = EchoRepr {
            request,
            ident: u16::from_be_bytes([body[4], body[5]]),
            seq_no: u16::from_be_bytes([body[6], body[7]]),
        };
        Ok((repr, &body[ICMP_HEADER_LEN..]))
    }

    /// The reply to this request (same identifier and sequence number).
    pub fn reply(&self) -> EchoRepr {
        EchoRepr {
            request: false,
            ..*self
        }
    }

    /// Emit this echo as a whole IP packet from `src` to `dst` with hop limit `ttl`
    /// and `data` after the header. Returns the packet length.
    pub fn emit_packet(
        &self,
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
        data: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        let v6 = match (src, dst) {
            (IpAddr::V4(_), IpAddr::V4(_)) => false,
            (IpAddr::V6(_), IpAddr::V6(_)) => true,
            _ => return Err(Error::BadAddress),
        };
        let ip = IpRepr {
            src,
            dst,
            protocol: if v6 { PROTO_ICMPV6 } else { PROTO_ICMP },
            ttl,
            payload_len: ICMP_HEADER_LEN + data.len(),
        };
        let hlen = ip.header_len();
        let total = hlen + ip.payload_len;
        if buf.len() < total {
            return Err(Error::BufferTooSmall {
                needed: total,
                got: buf.len(),
            });
        }
        ip.emit(buf)?;
        let ty = match (v6, self.request) {
            (false, true) => V4_ECHO_REQUEST,
            (false, false) => V4_ECHO_REPLY,
            (true, true) => V6_ECHO_REQUEST,
            (true, false) => V6_ECHO_REPLY,
        };
        let body = &mut buf[hlen..total];
        body[0] = ty;
        body[1] = 0;
        body[2..4].copy_from_slice(&[0, 0]);
        body[4..6].copy_from_slice(&self.ident.to_be_bytes());
        body[6..8].copy_from_slice(&self.seq_no.to_be_bytes());
        body[8..].copy_from_slice(data);
        let c = checksum::finish(icmp_sum(body, src, dst));
        body[2..4].copy_from_slice(&c.to_be_bytes());
        Ok(total)
    }
}

/// Emit the port-unreachable error answering `original` (the whole IP packet that
/// carried the datagram), from `src` (the address the datagram was sent to) to `dst`
/// (its sender): ICMPv4 type 3 code 3 (RFC 792, RFC 1122 §4.1.3.1) or ICMPv6 type 1
/// code 4 (RFC 4443 §3.1), quoting as much of `original` as RFC 1812 §4.3.2.3 / RFC
/// 4443 §2.4 (c) allow. Returns the packet length.
pub fn emit_port_unreachable(
    src: IpAddr,
    dst: IpAddr,
    original: &[u8],
    buf: &mut [u8],
) -> Result<usize, Error> {
    let code = if src.is_ipv6() {
        V6_CODE_PORT_UNREACHABLE
    } else {
        V4_CODE_PORT_UNREACHABLE
    };
    IcmpRepr::emit_packet(
        IcmpKind::DestUnreachable { code, hard: true },
        src,
        dst,
        original,
        buf,
    )
}

/// ICMP type of an ICMP (v4 or v6, by `v6`) message body, and whether it is an error
/// message (RFC 1812 §4.3.2.7 and RFC 4443 §2.4 (e): no error is sent about an error).
/// `None` for an empty body.
pub fn icmp_is_error(body: &[u8], v6: bool) -> Option<bool> {
    let ty = *body.first()?;
    Some(if v6 {
        // RFC 4443 §2.1: types 0–127 are errors.
        ty < 128
    } else {
        // RFC 792 / RFC 1812 §4.3.2.7: echo, timestamp, information, address mask and
        // router messages are queries; the rest are errors.
        !matches!(ty, 0 | 8 | 9 | 10 | 13 | 14 | 15 | 16 | 17 | 18)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addrs(v6: bool) -> (IpAddr, IpAddr) {
        if v6 {
            ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap())
        } else {
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap())
        }
    }

    #[test]
    fn request_reply_round_trip() {
        for v6 in [false, true] {
            let (a, b) = addrs(v6);
            let req = EchoRepr {
                request: true,
                ident: 0x1234,
                seq_no: 7,
            };
            let mut buf = [0u8; 200];
            let n = req.emit_packet(a, b, 64, b"ping data", &mut buf).unwrap();
            let (ip, body) = IpRepr::parse(&buf[..n]).unwrap();
            assert_eq!((ip.src, ip.dst, ip.ttl), (a, b, 64));
            let (got, data) = EchoRepr::parse(body, ip.src, ip.dst).unwrap();
            assert_eq!(got, req);
            assert_eq!(data, b"ping data");
            assert_eq!(body[0], if v6 { 128 } else { 8 });
            let rep = got.reply();
            let data = data.to_vec();
            let n = rep.emit_packet(b, a, 64, &data, &mut buf).unwrap();
            let (ip, body) = IpRepr::parse(&buf[..n]).unwrap();
            assert_eq!(body[0], if v6 { 129 } else { 0 });
            let (got, _) = EchoRepr::parse(body, ip.src, ip.dst).unwrap();
            assert_eq!(got, rep);
            assert!(!got.request);
        }
    }

    #[test]
    fn checksum_type_and_length_are_checked() {
        let (a, b) = addrs(false);
        let req = EchoRepr {
            request: true,
            ident: 1,
            seq_no: 2,
        };
        let mut buf = [0u8; 64];
        let n = req.emit_packet(a, b, 64, b"xyz", &mut buf).unwrap();
        let mut body = buf[20..n].to_vec();
        body[9] ^= 1;
        assert!(matches!(
            EchoRepr::parse(&body, a, b),
            Err(Error::BadChecksum { .. })
        ));
        body[9] ^= 1;
        assert!(EchoRepr::parse(&body, a, b).is_ok());
        assert!(matches!(
            EchoRepr::parse(&body[..7], a, b),
            Err(Error::Truncated { .. })
        ));
        body[0] = 13;
        assert!(matches!(
            EchoRepr::parse(&body, a, b),
            Err(Error::UnsupportedIcmp { ty: 13, .. })
        ));
        // An ICMPv6 echo's checksum covers the pseudo-header: the same bytes with
        // other addresses fail.
        let (c, d) = addrs(true);
        let n = req.emit_packet(c, d, 64, b"xyz", &mut buf).unwrap();
        let body = buf[40..n].to_vec();
        assert!(EchoRepr::parse(&body, c, d).is_ok());
        assert!(EchoRepr::parse(&body, d, c).is_ok(), "the sum is symmetric");
        assert!(EchoRepr::parse(&body, c, "fd00::9".parse().unwrap()).is_err());
        assert_eq!(EchoRepr::parse(&body, a, d).unwrap_err(), Error::BadAddress);
    }

    #[test]
    fn port_unreachable_quotes_the_datagram() {
        for v6 in [false, true] {
            let (a, b) = addrs(v6);
            let ip = IpRepr {
                src: a,
                dst: b,
                protocol: crate::udp::PROTO_UDP,
                ttl: 64,
                payload_len: 0,
            };
            let mut orig = vec![0u8; ip.header_len() + 8 + 3000];
            let n = crate::udp::emit_udp_packet(
                &mut orig,
                &ip,
                &crate::udp::UdpRepr {
                    src_port: 4000,
                    dst_port: 9,
                },
                3000,
            )
            .unwrap();
            let mut buf = [0u8; 1500];
            let m = emit_port_unreachable(b, a, &orig[..n], &mut buf).unwrap();
            assert!(m <= if v6 { 1280 } else { 576 });
            let (outer, body) = IpRepr::parse(&buf[..m]).unwrap();
            assert_eq!((outer.src, outer.dst), (b, a));
            assert_eq!(body[0], if v6 { 1 } else { 3 });
            assert_eq!(body[1], if v6 { 4 } else { 3 });
            assert_eq!(icmp_is_error(body, v6), Some(true));
            // The quoted datagram starts with the original IP header.
            assert_eq!(&body[8..8 + ip.header_len()], &orig[..ip.header_len()]);
            let mut s = checksum::sum(body);
            if v6 {
                s = checksum::combine(
                    s,
                    checksum::pseudo_header(b, a, PROTO_ICMPV6, body.len() as u32),
                );
            }
            assert_eq!(checksum::finish(s), 0, "checksum verifies");
            // Read back as an error about UDP, it names the datagram's ports; as an
            // error about TCP, it is not one.
            let e = IcmpRepr::parse_quoting(body, b, a, crate::udp::PROTO_UDP).unwrap();
            assert_eq!(
                (e.quoted_src, e.quoted_dst, e.src_port, e.dst_port),
                (a, b, 4000, 9)
            );
            assert!(matches!(
                IcmpRepr::parse(body, b, a),
                Err(Error::UnsupportedIcmp { .. })
            ));
        }
    }

    #[test]
    fn error_classification() {
        assert_eq!(icmp_is_error(&[], false), None);
        assert_eq!(icmp_is_error(&[8], false), Some(false));
        assert_eq!(icmp_is_error(&[3], false), Some(true));
        assert_eq!(icmp_is_error(&[11], false), Some(true));
        assert_eq!(icmp_is_error(&[128], true), Some(false));
        assert_eq!(icmp_is_error(&[135], true), Some(false));
        assert_eq!(icmp_is_error(&[2], true), Some(true));
    }

    proptest! {
        #[test]
        fn prop_echo_round_trip(
            v6 in any::<bool>(),
            request in any::<bool>(),
            ident in any::<u16>(),
            seq_no in any::<u16>(),
            data in proptest::collection::vec(any::<u8>(), 0..1200),
        ) {
            let (a, b) = addrs(v6);
            let e = EchoRepr { request, ident, seq_no };
            let mut buf = vec![0u8; 1300];
            let n = e.emit_packet(a, b, 9, &data, &mut buf).unwrap();
            let (ip, body) = IpRepr::parse(&buf[..n]).unwrap();
            let (got, d) = EchoRepr::parse(body, ip.src, ip.dst).unwrap();
            prop_assert_eq!(got, e);
            prop_assert_eq!(d, &data[..]);
        }

        #[test]
        fn prop_parse_never_panics(v6 in any::<bool>(), body in proptest::collection::vec(any::<u8>(), 0..40)) {
            let (a, b) = addrs(v6);
            let _ = EchoRepr::parse(&body, a, b);
            let _ = icmp_is_error(&body, v6);
        }
    }
}
