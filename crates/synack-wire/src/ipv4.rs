//! IPv4 header view (RFC 791).
//!
//! [`Ipv4Packet`] is a zero-copy typed view over a byte buffer. [`Ipv4Packet::new_checked`]
//! validates the version, IHL and total length once, after which every accessor is
//! infallible and panic-free. Setters are available when the buffer is mutable.

use crate::checksum;
use crate::Error;
use core::net::Ipv4Addr;

/// Minimum (option-less) IPv4 header length (RFC 791 §3.1).
pub const IPV4_HEADER_LEN: usize = 20;

mod field {
    pub(super) const VER_IHL: usize = 0;
    pub(super) const TOS: usize = 1;
    pub(super) const LEN: usize = 2;
    pub(super) const IDENT: usize = 4;
    pub(super) const FLG_OFF: usize = 6;
    pub(super) const TTL: usize = 8;
    pub(super) const PROTOCOL: usize = 9;
    pub(super) const CHECKSUM: usize = 10;
    pub(super) const SRC: usize = 12;
    pub(super) const DST: usize = 16;
}

/// A typed view of an IPv4 packet (header + payload) in a buffer.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wrap a buffer without checking it. Accessors may panic on a short buffer; use
    /// [`Ipv4Packet::new_checked`] for untrusted input.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wrap a buffer, checking that it holds a whole IPv4 header and that the IHL and
    /// total length fields are consistent with it (RFC 791 §3.1). Checksum and
    /// fragmentation are not checked here (see [`Ipv4Packet::verify_checksum`]).
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let p = Ipv4Packet { buffer };
        p.check()?;
        Ok(p)
    }

    fn check(&self) -> Result<(), Error> {
        let b = self.buffer.as_ref();
        if b.len() < IPV4_HEADER_LEN {
            return Err(Error::Truncated {
                what: "IPv4 header",
                needed: IPV4_HEADER_LEN,
                got: b.len(),
            });
        }
        let version = b[field::VER_IHL] >> 4;
        if version != 4 {
            return Err(Error::BadVersion(version));
        }
        let ihl = b[field::VER_IHL] & 0x0f;
        let hlen = usize::from(ihl) * 4;
        if ihl < 5 || hlen > b.len() {
            return Err(Error::BadIhl(ihl));
        }
        let total = usize::from(u16::from_be_bytes([b[field::LEN], b[field::LEN + 1]]));
        if total < hlen || total > b.len() {
            return Err(Error::BadLength {
                what: "IPv4 total length",
                value: total,
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

    /// The version nibble (4 for a checked view).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }
    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }
    /// DSCP (upper 6 bits of the former TOS byte, RFC 2474).
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::TOS] >> 2
    }
    /// ECN bits (RFC 3168 §5).
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::TOS] & 0x03
    }
    /// Total length (header + payload).
    pub fn total_len(&self) -> u16 {
        self.u16_at(field::LEN)
    }
    /// Identification.
    pub fn ident(&self) -> u16 {
        self.u16_at(field::IDENT)
    }
    /// Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.u16_at(field::FLG_OFF) & 0x4000 != 0
    }
    /// More Fragments flag.
    pub fn more_frags(&self) -> bool {
        self.u16_at(field::FLG_OFF) & 0x2000 != 0
    }
    /// Fragment offset in bytes (the field × 8).
    pub fn frag_offset(&self) -> u16 {
        (self.u16_at(field::FLG_OFF) & 0x1fff) << 3
    }
    /// True when this is a fragment of a larger datagram (MF set or offset non-zero).
    pub fn is_fragment(&self) -> bool {
        self.u16_at(field::FLG_OFF) & 0x3fff != 0
    }
    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    /// Protocol of the payload.
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }
    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(
            b[field::SRC],
            b[field::SRC + 1],
            b[field::SRC + 2],
            b[field::SRC + 3],
        )
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(
            b[field::DST],
            b[field::DST + 1],
            b[field::DST + 2],
            b[field::DST + 3],
        )
    }
    /// True when the header checksum verifies (RFC 791 §3.1 "Header Checksum").
    ///
    /// An option-less 20-byte header is summed as five 32-bit words (RFC 1071 §2(B),
    /// §2(C)); the result is the same as summing it 16 bits at a time.
    pub fn verify_checksum(&self) -> bool {
        let b = self.buffer.as_ref();
        match b.first_chunk::<IPV4_HEADER_LEN>() {
            Some(h) if h[field::VER_IHL] & 0x0f == 5 => {
                checksum::fold64(checksum::words_ne(h)) == 0xffff
            }
            _ => checksum::checksum(&b[..self.header_len()]) == 0,
        }
    }
    /// The IP options bytes (between the fixed header and the payload).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[IPV4_HEADER_LEN..self.header_len()]
    }
    /// The payload: from the end of the header to the total length (trailing bytes past
    /// the total length, e.g. Ethernet padding, are excluded).
    pub fn payload(&self) -> &[u8] {
        let total = usize::from(self.total_len());
        &self.buffer.as_ref()[self.header_len()..total]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn set_u16_at(&mut self, at: usize, v: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
    /// Set version 4 and the header length in bytes (a multiple of 4, 20..=60).
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0f);
    }
    /// Set the DSCP / ECN byte.
    pub fn set_tos(&mut self, tos: u8) {
        self.buffer.as_mut()[field::TOS] = tos;
    }
    /// Set the total length.
    pub fn set_total_len(&mut self, len: u16) {
        self.set_u16_at(field::LEN, len);
    }
    /// Set the identification.
    pub fn set_ident(&mut self, ident: u16) {
        self.set_u16_at(field::IDENT, ident);
    }
    /// Set flags and fragment offset: DF, MF and the offset in bytes (a multiple of 8).
    pub fn set_frag(&mut self, dont_frag: bool, more_frags: bool, offset: u16) {
        let v = (u16::from(dont_frag) << 14) | (u16::from(more_frags) << 13) | (offset >> 3);
        self.set_u16_at(field::FLG_OFF, v);
    }
    /// Set the TTL.
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }
    /// Set the protocol.
    pub fn set_protocol(&mut self, protocol: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = protocol;
    }
    /// Set the checksum field directly.
    pub fn set_checksum(&mut self, c: u16) {
        self.set_u16_at(field::CHECKSUM, c);
    }
    /// Set the source address.
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC..field::SRC + 4].copy_from_slice(&a.octets());
    }
    /// Set the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST..field::DST + 4].copy_from_slice(&a.octets());
    }
    /// Compute and store the header checksum (RFC 791 §3.1).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hlen = self.header_len();
        let c = checksum::checksum(&self.buffer.as_ref()[..hlen]);
        self.set_checksum(c);
    }
    /// The payload, mutably (up to the total length).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hlen = self.header_len();
        let total = usize::from(self.total_len());
        &mut self.buffer.as_mut()[hlen..total]
    }
}
