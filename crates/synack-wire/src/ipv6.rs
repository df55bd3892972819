//! IPv6 header view (RFC 8200).
//!
//! [`Ipv6Packet`] is a zero-copy typed view over a byte buffer, checked once by
//! [`Ipv6Packet::new_checked`]. [`walk_extensions`] skips the extension headers synack
//! can step over (hop-by-hop, routing, destination options, atomic fragments) to reach
//! the upper-layer protocol (RFC 8200 §4).

use crate::Error;
use core::net::Ipv6Addr;

/// Fixed IPv6 header length (RFC 8200 §3).
pub const IPV6_HEADER_LEN: usize = 40;

/// Next-header value of the Hop-by-Hop Options header (RFC 8200 §4.3).
pub const NEXT_HOP_BY_HOP: u8 = 0;
/// Next-header value of the Routing header (RFC 8200 §4.4).
pub const NEXT_ROUTING: u8 = 43;
/// Next-header value of the Fragment header (RFC 8200 §4.5).
pub const NEXT_FRAGMENT: u8 = 44;
/// Next-header value of the Destination Options header (RFC 8200 §4.6).
pub const NEXT_DEST_OPTS: u8 = 60;
/// Next-header value "No Next Header" (RFC 8200 §4.7).
pub const NEXT_NONE: u8 = 59;

mod field {
    pub(super) const VER_TC_FL: usize = 0;
    pub(super) const PAYLOAD_LEN: usize = 4;
    pub(super) const NEXT_HEADER: usize = 6;
    pub(super) const HOP_LIMIT: usize = 7;
    pub(super) const SRC: usize = 8;
    pub(super) const DST: usize = 24;
}

/// A typed view of an IPv6 packet (fixed header + payload) in a buffer.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wrap a buffer without checking it. Accessors may panic on a short buffer; use
    /// [`Ipv6Packet::new_checked`] for untrusted input.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wrap a buffer, checking that it holds the fixed header, that the version is 6
    /// and that the payload length fits in the buffer (RFC 8200 §3).
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let p = Ipv6Packet { buffer };
        p.check()?;
        Ok(p)
    }

    fn check(&self) -> Result<(), Error> {
        let b = self.buffer.as_ref();
        if b.len() < IPV6_HEADER_LEN {
            return Err(Error::Truncated {
                what: "IPv6 header",
                needed: IPV6_HEADER_LEN,
                got: b.len(),
            });
        }
        let version = b[0] >> 4;
        if version != 6 {
            return Err(Error::BadVersion(version));
        }
        let plen = usize::from(self.payload_len());
        if IPV6_HEADER_LEN + plen > b.len() {
            return Err(Error::BadLength {
                what: "IPv6 payload length",
                value: plen,
            });
        }
        Ok(())
    }

    /// Consume the view, returning the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    fn word0(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The version nibble (6 for a checked view).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TC_FL] >> 4
    }
    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        (self.word0() >> 20) as u8
    }
    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.word0() & 0x000f_ffff
    }
    /// Payload length (everything after the fixed header, extensions included).
    pub fn payload_len(&self) -> u16 {
        self.u16_at(field::PAYLOAD_LEN)
    }
    /// Next header of the fixed header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::SRC..field::SRC + 16]);
        Ipv6Addr::from(a)
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::DST..field::DST + 16]);
        Ipv6Addr::from(a)
    }
    /// The payload (extension headers included), up to the payload length.
    pub fn payload(&self) -> &[u8] {
        let end = IPV6_HEADER_LEN + usize::from(self.payload_len());
        &self.buffer.as_ref()[IPV6_HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Set version 6, traffic class and flow label.
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let w = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        self.buffer.as_mut()[0..4].copy_from_slice(&w.to_be_bytes());
    }
    /// Set the payload length.
    pub fn set_payload_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::PAYLOAD_LEN..field::PAYLOAD_LEN + 2]
            .copy_from_slice(&len.to_be_bytes());
    }
    /// Set the next header.
    pub fn set_next_header(&mut self, nh: u8) {
        self.buffer.as_mut()[field::NEXT_HEADER] = nh;
    }
    /// Set the hop limit.
    pub fn set_hop_limit(&mut self, h: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = h;
    }
    /// Set the source address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC..field::SRC + 16].copy_from_slice(&a.octets());
    }
    /// Set the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST..field::DST + 16].copy_from_slice(&a.octets());
    }
    /// The payload, mutably (up to the payload length).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = IPV6_HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[IPV6_HEADER_LEN..end]
    }
}

/// Step over the extension headers at the start of `payload` (the bytes after the fixed
/// header), starting from next-header value `next`. Returns the upper-layer protocol
/// and the offset at which its header starts.
///
/// Walked: Hop-by-Hop (only directly after the fixed header, RFC 8200 §4.1), Routing
/// (RFC 8200 §4.4; segments-left is not acted on, since synack is the final
/// destination), Destination Options (§4.6) and atomic Fragment headers (offset 0 and
/// M clear, RFC 6946 §4). A real fragment gives [`Error::Fragmented`]; AH, ESP and
/// any other extension give [`Error::UnsupportedExtension`].
pub fn walk_extensions(mut next: u8, payload: &[u8]) -> Result<(u8, usize), Error> {
    let mut off = 0usize;
    let mut first = true;
    // Bounded: each step consumes at least 8 bytes of a payload of at most 64 KiB, but an
    // explicit cap keeps the cost of hostile input small.
    for _ in 0..16 {
        match next {
            NEXT_HOP_BY_HOP | NEXT_ROUTING | NEXT_DEST_OPTS => {
                if next == NEXT_HOP_BY_HOP && !first {
                    // RFC 8200 §4.1: Hop-by-Hop may only follow the IPv6 header.
                    return Err(Error::UnsupportedExtension(next));
                }
                let hdr = payload.get(off..off + 2).ok_or(Error::Truncated {
                    what: "IPv6 extension header",
                    needed: off + 2,
                    got: payload.len(),
                })?;
                // RFC 8200 §4.3: Hdr Ext Len in 8-octet units, not counting the first 8.
                let len = (usize::from(hdr[1]) + 1) * 8;
                if off + len > payload.len() {
                    return Err(Error::Truncated {
                        what: "IPv6 extension header",
                        needed: off + len,
                        got: payload.len(),
                    });
                }
                next = hdr[0];
                off += len;
            }
            NEXT_FRAGMENT => {
                let hdr = payload.get(off..off + 8).ok_or(Error::Truncated {
                    what: "IPv6 fragment header",
                    needed: off + 8,
                    got: payload.len(),
                })?;
                let off_m = u16::from_be_bytes([hdr[2], hdr[3]]);
                // RFC 8200 §4.5: offset in the upper 13 bits, M flag in bit 0.
                if off_m & 0xfff9 != 0 {
                    return Err(Error::Fragmented);
                }
                next = hdr[0];
                off += 8;
            }
            // AH (51) and ESP (50) and anything else that RFC 8200 §4 or later RFCs
            // register as an extension header.
            50 | 51 | 135 | 139 | 140 | 253 | 254 => {
                return Err(Error::UnsupportedExtension(next));
            }
            _ => return Ok((next, off)),
        }
        first = false;
    }
    Err(Error::UnsupportedExtension(next))
}
