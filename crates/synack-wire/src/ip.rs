//! Version-independent IP header representation: [`IpRepr`] parses and emits both
//! IPv4 (RFC 791) and IPv6 (RFC 8200) headers, built on the views in
//! [`crate::ipv4`] and [`crate::ipv6`].

use crate::ipv4::{Ipv4Packet, IPV4_HEADER_LEN};
use crate::ipv6::{walk_extensions, Ipv6Packet, IPV6_HEADER_LEN};
use crate::Error;
use core::net::IpAddr;

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
                let mut p = Ipv4Packet::new_unchecked(&mut buf[..IPV4_HEADER_LEN]);
                p.set_version_and_header_len(IPV4_HEADER_LEN);
                p.set_tos(0);
                p.set_total_len(total);
                p.set_ident(0);
                // RFC 1191 §3: path MTU discovery sends every datagram with DF set.
                p.set_frag(true, false, 0);
                p.set_ttl(self.ttl);
                p.set_protocol(self.protocol);
                p.set_src_addr(src);
                p.set_dst_addr(dst);
                p.fill_checksum();
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
