//! ICMPv4 (RFC 792, RFC 1191) and ICMPv6 (RFC 4443) error messages, with the quoted
//! IP + TCP header that tells which connection they are about.
//!
//! Only the error messages that matter to TCP are represented: destination unreachable,
//! fragmentation needed / packet too big (path MTU discovery, RFC 1191 / RFC 8201) and
//! time exceeded. Anything else parses to [`Error::UnsupportedIcmp`], which
//! [`crate::parse_packet`] turns into `Packet::Other`.

use crate::checksum;
use crate::ipv4::{Ipv4Packet, IPV4_HEADER_LEN};
use crate::ipv6::{walk_extensions, Ipv6Packet, IPV6_HEADER_LEN};
use crate::Error;
use core::net::IpAddr;

/// ICMP header length: type, code, checksum and the 4-byte type-specific word.
pub const ICMP_HEADER_LEN: usize = 8;

/// Largest ICMPv4 error datagram we emit (RFC 1812 §4.3.2.3: at most 576 bytes).
const ICMPV4_MAX_DATAGRAM: usize = 576;
/// Largest ICMPv6 error packet we emit (RFC 4443 §2.4 (c): the IPv6 minimum MTU).
const ICMPV6_MAX_PACKET: usize = 1280;

/// Bytes of the quoted TCP header we need: ports and sequence number (RFC 792 "the
/// first 64 bits of the original data datagram's data").
const QUOTED_TCP_LEN: usize = 8;

/// ICMPv4 types (RFC 792).
mod v4 {
    pub(super) const DEST_UNREACHABLE: u8 = 3;
    pub(super) const TIME_EXCEEDED: u8 = 11;
    pub(super) const CODE_FRAG_NEEDED: u8 = 4;
}

/// ICMPv6 types (RFC 4443 §2.1).
mod v6 {
    pub(super) const DEST_UNREACHABLE: u8 = 1;
    pub(super) const PACKET_TOO_BIG: u8 = 2;
    pub(super) const TIME_EXCEEDED: u8 = 3;
}

/// RFC 1122 §4.2.3.9: for ICMPv4 destination unreachable, codes 2 (protocol
/// unreachable), 3 (port unreachable) and the administratively-prohibited codes 9, 10
/// and 13 (RFC 1812 §5.2.7.1) are hard errors; the rest are soft.
pub fn v4_unreachable_is_hard(code: u8) -> bool {
    matches!(code, 2 | 3 | 9 | 10 | 13)
}

/// RFC 4443 §3.1 with RFC 1122 §4.2.3.9 applied: for ICMPv6 destination unreachable,
/// codes 1 (administratively prohibited) and 4 (port unreachable) are hard errors.
pub fn v6_unreachable_is_hard(code: u8) -> bool {
    matches!(code, 1 | 4)
}

/// The kind of ICMP error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpKind {
    /// Destination unreachable (v4 type 3 except code 4; v6 type 1). `hard` per RFC 1122
    /// §4.2.3.9 (protocol/port unreachable, admin prohibited) vs soft (net/host).
    DestUnreachable {
        /// The code.
        code: u8,
        /// Hard error (abort a connection in SYN-SENT / SYN-RECEIVED).
        hard: bool,
    },
    /// Fragmentation needed (v4 type 3 code 4) or packet too big (v6 type 2): next-hop MTU.
    PacketTooBig {
        /// The next-hop MTU.
        mtu: u32,
    },
    /// Time exceeded (v4 type 11, v6 type 3): soft error.
    TimeExceeded,
}

/// An ICMP error with the TCP header fields it quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpRepr {
    /// The error.
    pub kind: IcmpKind,
    /// Quoted (original) source address: ours.
    pub quoted_src: IpAddr,
    /// Quoted destination address: the peer.
    pub quoted_dst: IpAddr,
    /// Quoted TCP source port.
    pub src_port: u16,
    /// Quoted TCP destination port.
    pub dst_port: u16,
    /// Quoted TCP sequence number.
    pub seq: u32,
}

impl IcmpRepr {
    /// Parse an ICMPv4 or ICMPv6 message body (after the IP header),
    /// verifying its checksum (ICMPv6 uses the pseudo-header of `src`/`dst`). Only errors
    /// quoting a TCP header are accepted; others give `Error::UnsupportedIcmp`.
    ///
    /// The family is that of `src`; `src` and `dst` of different families give
    /// [`Error::BadAddress`]. The quoted IP header must be of the same family, hold at
    /// least 8 bytes of TCP header (ports and sequence number) and carry TCP; a quoted
    /// packet of another protocol gives [`Error::UnsupportedIcmp`] (it is not about TCP).
    /// The quoted datagram may be truncated, so its length fields and checksums are not
    /// checked.
    pub fn parse(body: &[u8], src: IpAddr, dst: IpAddr) -> Result<IcmpRepr, Error> {
        Self::parse_quoting(body, src, dst, crate::PROTO_TCP)
    }

    /// [`IcmpRepr::parse`] for an error about a packet of `protocol` (TCP or UDP): the
    /// quoted packet must carry that protocol. For UDP, `src_port` / `dst_port` are
    /// the quoted datagram's ports and `seq` holds its length and checksum fields.
    pub fn parse_quoting(
        body: &[u8],
        src: IpAddr,
        dst: IpAddr,
        protocol: u8,
    ) -> Result<IcmpRepr, Error> {
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(Error::BadAddress);
        }
        let is_v6 = src.is_ipv6();
        let what = if is_v6 { "ICMPv6" } else { "ICMPv4" };
        if body.len() < ICMP_HEADER_LEN {
            return Err(Error::Truncated {
                what,
                needed: ICMP_HEADER_LEN,
                got: body.len(),
            });
        }
        // RFC 792 "Checksum": over the ICMP message; RFC 4443 §2.3: ICMPv6 also covers
        // the pseudo-header of RFC 8200 §8.1 with next header 58.
        let mut s = checksum::sum(body);
        if is_v6 {
            let len = u32::try_from(body.len()).map_err(|_| Error::BadLength {
                what: "ICMPv6 length",
                value: body.len(),
            })?;
            s = checksum::combine(
                s,
                checksum::pseudo_header(src, dst, crate::PROTO_ICMPV6, len),
            );
        }
        if checksum::finish(s) != 0 {
            return Err(Error::BadChecksum { what });
        }
        let (ty, code) = (body[0], body[1]);
        let word = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
        let unsupported = Error::UnsupportedIcmp { ty, code };
        let kind = if is_v6 {
            match ty {
                v6::DEST_UNREACHABLE => IcmpKind::DestUnreachable {
                    code,
                    hard: v6_unreachable_is_hard(code),
                },
                // RFC 4443 §3.2: the MTU field; the code is ignored by receivers.
                v6::PACKET_TOO_BIG => IcmpKind::PacketTooBig { mtu: word },
                v6::TIME_EXCEEDED => IcmpKind::TimeExceeded,
                _ => return Err(unsupported),
            }
        } else {
            match (ty, code) {
                // RFC 1191 §4: next-hop MTU in the low 16 bits of the unused word (0
                // from routers that predate RFC 1191).
                (v4::DEST_UNREACHABLE, v4::CODE_FRAG_NEEDED) => {
                    IcmpKind::PacketTooBig { mtu: word & 0xffff }
                }
                (v4::DEST_UNREACHABLE, _) => IcmpKind::DestUnreachable {
                    code,
                    hard: v4_unreachable_is_hard(code),
                },
                (v4::TIME_EXCEEDED, _) => IcmpKind::TimeExceeded,
                _ => return Err(unsupported),
            }
        };
        let quoted = &body[ICMP_HEADER_LEN..];
        let (qsrc, qdst, tcp) = if is_v6 {
            quoted_v6(quoted, protocol, unsupported)?
        } else {
            quoted_v4(quoted, protocol, unsupported)?
        };
        Ok(IcmpRepr {
            kind,
            quoted_src: qsrc,
            quoted_dst: qdst,
            src_port: u16::from_be_bytes([tcp[0], tcp[1]]),
            dst_port: u16::from_be_bytes([tcp[2], tcp[3]]),
            seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        })
    }

    /// Emit this error as a full IP packet from `src` to `dst`, quoting `quoted`
    /// (an original IP packet, truncated as RFC 792/4443 allow). Used by tests and the
    /// simulator to inject errors. Returns the total length.
    pub fn emit_packet(
        kind: IcmpKind,
        src: IpAddr,
        dst: IpAddr,
        quoted: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        let is_v6 = match (src, dst) {
            (IpAddr::V4(_), IpAddr::V4(_)) => false,
            (IpAddr::V6(_), IpAddr::V6(_)) => true,
            _ => return Err(Error::BadAddress),
        };
        let (ty, code, word) = if is_v6 {
            match kind {
                IcmpKind::DestUnreachable { code, .. } => (v6::DEST_UNREACHABLE, code, 0),
                IcmpKind::PacketTooBig { mtu } => (v6::PACKET_TOO_BIG, 0, mtu),
                IcmpKind::TimeExceeded => (v6::TIME_EXCEEDED, 0, 0),
            }
        } else {
            match kind {
                IcmpKind::DestUnreachable { code, .. } => (v4::DEST_UNREACHABLE, code, 0),
                IcmpKind::PacketTooBig { mtu } => {
                    let mtu = u16::try_from(mtu).map_err(|_| Error::BadLength {
                        what: "ICMPv4 next-hop MTU",
                        value: mtu as usize,
                    })?;
                    (v4::DEST_UNREACHABLE, v4::CODE_FRAG_NEEDED, u32::from(mtu))
                }
                IcmpKind::TimeExceeded => (v4::TIME_EXCEEDED, 0, 0),
            }
        };
        let (ip_len, limit) = if is_v6 {
            (IPV6_HEADER_LEN, ICMPV6_MAX_PACKET)
        } else {
            (IPV4_HEADER_LEN, ICMPV4_MAX_DATAGRAM)
        };
        let quoted = &quoted[..quoted.len().min(limit - ip_len - ICMP_HEADER_LEN)];
        let body_len = ICMP_HEADER_LEN + quoted.len();
        let total = ip_len + body_len;
        if buf.len() < total {
            return Err(Error::BufferTooSmall {
                needed: total,
                got: buf.len(),
            });
        }
        let ip = crate::IpRepr {
            src,
            dst,
            protocol: if is_v6 {
                crate::PROTO_ICMPV6
            } else {
                crate::PROTO_ICMP
            },
            ttl: 64,
            payload_len: body_len,
        };
        ip.emit(buf)?;
        let body = &mut buf[ip_len..total];
        body[0] = ty;
        body[1] = code;
        body[2..4].copy_from_slice(&[0, 0]);
        body[4..8].copy_from_slice(&word.to_be_bytes());
        body[8..].copy_from_slice(quoted);
        let mut s = checksum::sum(body);
        if is_v6 {
            s = checksum::combine(
                s,
                checksum::pseudo_header(src, dst, crate::PROTO_ICMPV6, body_len as u32),
            );
        }
        let c = checksum::finish(s);
        body[2..4].copy_from_slice(&c.to_be_bytes());
        Ok(total)
    }
}

type Quoted<'a> = (IpAddr, IpAddr, &'a [u8]);

/// The quoted IPv4 header (RFC 792: "Internet Header + 64 bits of Data Datagram").
fn quoted_v4(q: &[u8], protocol: u8, unsupported: Error) -> Result<Quoted<'_>, Error> {
    if q.len() < IPV4_HEADER_LEN {
        return Err(Error::Truncated {
            what: "quoted IPv4 header",
            needed: IPV4_HEADER_LEN,
            got: q.len(),
        });
    }
    let p = Ipv4Packet::new_unchecked(q);
    if p.version() != 4 {
        return Err(Error::BadVersion(p.version()));
    }
    let hlen = p.header_len();
    if hlen < IPV4_HEADER_LEN {
        return Err(Error::BadIhl((hlen / 4) as u8));
    }
    // Not about `protocol` (or a non-first fragment, which quotes no header).
    if p.protocol() != protocol || p.frag_offset() != 0 {
        return Err(unsupported);
    }
    let tcp = q.get(hlen..hlen + QUOTED_TCP_LEN).ok_or(Error::Truncated {
        what: "quoted TCP header",
        needed: hlen + QUOTED_TCP_LEN,
        got: q.len(),
    })?;
    Ok((IpAddr::V4(p.src_addr()), IpAddr::V4(p.dst_addr()), tcp))
}

/// The quoted IPv6 packet (RFC 4443 §3.1: "As much of invoking packet as possible").
fn quoted_v6(q: &[u8], protocol: u8, unsupported: Error) -> Result<Quoted<'_>, Error> {
    if q.len() < IPV6_HEADER_LEN {
        return Err(Error::Truncated {
            what: "quoted IPv6 header",
            needed: IPV6_HEADER_LEN,
            got: q.len(),
        });
    }
    let p = Ipv6Packet::new_unchecked(q);
    if p.version() != 6 {
        return Err(Error::BadVersion(p.version()));
    }
    let rest = &q[IPV6_HEADER_LEN..];
    let (proto, off) = match walk_extensions(p.next_header(), rest) {
        Ok(x) => x,
        // A quoted non-first fragment or an extension we do not walk: no TCP header we
        // can find, so the error is not about one of our segments.
        Err(Error::Fragmented) | Err(Error::UnsupportedExtension(_)) => return Err(unsupported),
        Err(e) => return Err(e),
    };
    if proto != protocol {
        return Err(unsupported);
    }
    let tcp = rest
        .get(off..off + QUOTED_TCP_LEN)
        .ok_or(Error::Truncated {
            what: "quoted TCP header",
            needed: IPV6_HEADER_LEN + off + QUOTED_TCP_LEN,
            got: q.len(),
        })?;
    Ok((IpAddr::V6(p.src_addr()), IpAddr::V6(p.dst_addr()), tcp))
}
