//! Version-independent IP header representation.

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
    pub fn parse(packet: &[u8]) -> Result<(IpRepr, &[u8]), Error> {
        let _ = packet;
        todo!("synack-wire: IpRepr::parse")
    }

    /// Emit the IP header into `buf[..header_len()]` (payload_len from the repr).
    /// IPv4: DF set, identification 0, header checksum filled in.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let _ = buf;
        todo!("synack-wire: IpRepr::emit")
    }
}
