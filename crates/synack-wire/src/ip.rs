//! Version-independent IP header representation: [`IpRepr`] parses and emits both
//! IPv4 (RFC 791) and IPv6 (RFC 8200) headers, built on the views in
//! [`crate::ipv4`] and [`crate::ipv6`].
//!
//! The option-less IPv4 header (IHL 5) is parsed and emitted by a straight-line fast
//! path with the same results as the general code; the other headers go the general way.

use crate::checksum;
use crate::ipv4::{Ipv4Packet, IPV4_HEADER_LEN};
use crate::ipv6::{walk_extensions, Ipv6Packet, IPV6_HEADER_LEN};
use crate::Error;
use core::net::{IpAddr, Ipv4Addr};

/// The parts of an IPv4 or IPv6 header the stack needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRepr {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Protocol (IPv4) / next header after any walked extensions (IPv6).
    pub protocol: u8,
    /// TTL / hop limit.
    pub ttl: u8,
    /// Length of the upper-layer payload.
    pub payload_len: usize,
}

impl IpRepr {
    /// Header length this repr emits: 20 for IPv4 (no options), 40 for IPv6.
    #[inline]
    pub fn header_len(&self) -> usize {
        if self.src.is_ipv4() {
            20
        } else {
            40
        }
    }

    /// Parse an IPv4 or IPv6 header (by the version nibble), verifying the IPv4 header
    /// checksum and the length fields; trailing bytes past the IP length are ignored.
    /// Returns the repr and the upper-layer payload.
    ///
    /// IPv4: options are skipped, fragments give [`Error::Fragmented`] (synack does not
    /// reassemble, RFC 791 §3.2). IPv6: extension headers are walked as described in
    /// [`walk_extensions`]; `protocol` is the upper-layer protocol found.
    #[inline]
    pub fn parse(packet: &[u8]) -> Result<(IpRepr, &[u8]), Error> {
        match packet.first_chunk::<IPV4_HEADER_LEN>() {
            Some(h) if h[0] == 0x45 => Self::parse_ipv4_basic(packet, h),
            _ => Self::parse_general(packet),
        }
    }

    /// [`IpRepr::parse`] of an IPv4 header without options (version 4, IHL 5), the
    /// common case, with the same results and errors as [`IpRepr::parse_general`]:
    /// `h` is `packet[..20]` and `h[0]` is `0x45`, so only the total length, the
    /// checksum and the fragment fields can be wrong.
    #[inline(always)]
    fn parse_ipv4_basic<'a>(
        packet: &'a [u8],
        h: &[u8; IPV4_HEADER_LEN],
    ) -> Result<(IpRepr, &'a [u8]), Error> {
        // RFC 791 §3.1 "Total Length": covers the header and lies within the buffer.
        let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
        if total < IPV4_HEADER_LEN || total > packet.len() {
            return Err(Error::BadLength {
                what: "IPv4 total length",
                value: total,
            });
        }
        // RFC 791 §3.1 "Header Checksum": the one's-complement sum of the header's
        // 16-bit words, checksum field included, is all ones. Summed as five native
        // 32-bit words (RFC 1071 §2(B), §2(C)); 0xffff is the same in either byte
        // order, so the folded sum needs no swap.
        if checksum::fold64(checksum::words_ne(h)) != 0xffff {
            return Err(Error::BadChecksum {
                what: "IPv4 header",
            });
        }
        // RFC 791 §3.2: MF set or a non-zero fragment offset.
        if u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 {
            return Err(Error::Fragmented);
        }
        let payload = &packet[IPV4_HEADER_LEN..total];
        Ok((
            IpRepr {
                src: IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15])),
                dst: IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19])),
                protocol: h[9],
                ttl: h[8],
                payload_len: payload.len(),
            },
            payload,
        ))
    }

    /// [`IpRepr::parse`] for every header: IPv4 with options or malformed, IPv6.
    /// Kept out of line so that the common case above stays small enough to inline.
    #[inline(never)]
    pub(crate) fn parse_general(packet: &[u8]) -> Result<(IpRepr, &[u8]), Error> {
        let Some(&first) = packet.first() else {
            return Err(Error::Truncated {
                what: "IP header",
                needed: 1,
                got: 0,
            });
        };
        match first >> 4 {
            4 => {
                let p = Ipv4Packet::new_checked(packet)?;
                // RFC 791 §3.1 "Header Checksum": verified on every received header.
                if !p.verify_checksum() {
                    return Err(Error::BadChecksum {
                        what: "IPv4 header",
                    });
                }
                if p.is_fragment() {
                    return Err(Error::Fragmented);
                }
                let payload = &packet[p.header_len()..usize::from(p.total_len())];
                Ok((
                    IpRepr {
                        src: IpAddr::V4(p.src_addr()),
                        dst: IpAddr::V4(p.dst_addr()),
                        protocol: p.protocol(),
                        ttl: p.ttl(),
                        payload_len: payload.len(),
                    },
                    payload,
                ))
            }
            6 => {
                let p = Ipv6Packet::new_checked(packet)?;
                let all = &packet[IPV6_HEADER_LEN..IPV6_HEADER_LEN + usize::from(p.payload_len())];
                let (protocol, off) = walk_extensions(p.next_header(), all)?;
                let payload = &all[off..];
                Ok((
                    IpRepr {
                        src: IpAddr::V6(p.src_addr()),
                        dst: IpAddr::V6(p.dst_addr()),
                        protocol,
                        ttl: p.hop_limit(),
                        payload_len: payload.len(),
                    },
                    payload,
                ))
            }
            v => Err(Error::BadVersion(v)),
        }
    }

    /// Emit the IP header into `buf[..header_len()]` (payload_len from the repr).
    /// IPv4: DF set, identification 0, header checksum filled in.
    /// IPv6: traffic class and flow label 0, next header = `protocol`.
    /// Errors: mixed address families ([`Error::BadAddress`]), a payload length the
    /// length field cannot hold ([`Error::BadLength`]), a short `buf`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let hlen = self.header_len();
        if buf.len() < hlen {
            return Err(Error::BufferTooSmall {
                needed: hlen,
                got: buf.len(),
            });
        }
        match (self.src, self.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let total = IPV4_HEADER_LEN + self.payload_len;
                let total = u16::try_from(total).map_err(|_| Error::BadLength {
                    what: "IPv4 total length",
                    value: total,
                })?;
                let [t0, t1] = total.to_be_bytes();
                let (ttl, protocol) = (self.ttl, self.protocol);
                // RFC 791 §3.1 "Header Checksum", summed from the field values in host
                // order rather than from the bytes (RFC 1071 §2(A), (C)): the two
                // addresses are added as whole 32-bit words. 0x4000 is DF: RFC 1191
                // §3 path MTU discovery sends every datagram with DF set.
                let words = 0x4500u64
                    + u64::from(total)
                    + 0x4000
                    + u64::from(u16::from_be_bytes([ttl, protocol]))
                    + u64::from(u32::from(src))
                    + u64::from(u32::from(dst));
                let [c0, c1] = (!checksum::fold64(words)).to_be_bytes();
                let [s0, s1, s2, s3] = src.octets();
                let [d0, d1, d2, d3] = dst.octets();
                // Version 4, IHL 5, TOS 0, identification 0, DF, fragment offset 0.
                let header: [u8; IPV4_HEADER_LEN] = [
                    0x45, 0, t0, t1, 0, 0, 0x40, 0, ttl, protocol, c0, c1, s0, s1, s2, s3, d0, d1,
                    d2, d3,
                ];
                buf[..IPV4_HEADER_LEN].copy_from_slice(&header);
                Ok(IPV4_HEADER_LEN)
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let plen = u16::try_from(self.payload_len).map_err(|_| Error::BadLength {
                    what: "IPv6 payload length",
                    value: self.payload_len,
                })?;
                let mut p = Ipv6Packet::new_unchecked(&mut buf[..IPV6_HEADER_LEN]);
                p.set_version_tc_flow(0, 0);
                p.set_payload_len(plen);
                p.set_next_header(self.protocol);
                p.set_hop_limit(self.ttl);
                p.set_src_addr(src);
                p.set_dst_addr(dst);
                Ok(IPV6_HEADER_LEN)
            }
            _ => Err(Error::BadAddress),
        }
    }
}
