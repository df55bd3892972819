//! Whole-packet parse and emit: IP + TCP (or ICMP error) in one call, the engine's entry.

use crate::icmp::IcmpRepr;
use crate::{Error, IpRepr, TcpRepr};

/// A parsed TCP packet.
#[derive(Debug, Clone, Copy)]
pub struct TcpPacket<'a> {
    /// The IP header.
    pub ip: IpRepr,
    /// The TCP header.
    pub tcp: TcpRepr,
    /// The TCP payload.
    pub payload: &'a [u8],
}

/// What an incoming IP packet turned out to be.
#[derive(Debug, Clone, Copy)]
pub enum Packet<'a> {
    /// A TCP segment, checksum verified.
    Tcp(TcpPacket<'a>),
    /// An ICMP or ICMPv6 error quoting a TCP segment.
    Icmp {
        /// Outer IP header.
        ip: IpRepr,
        /// The error.
        icmp: IcmpRepr,
    },
    /// Any other protocol, or an ICMP message that is not an error about TCP.
    Other {
        /// Outer IP header.
        ip: IpRepr,
    },
}

/// Parse an IP packet (v4 or v6). TCP checksums are verified when `verify_checksum`.
pub fn parse_packet(bytes: &[u8], verify_checksum: bool) -> Result<Packet<'_>, Error> {
    let _ = (bytes, verify_checksum);
    todo!("synack-wire: parse_packet")
}

/// Emit an IP+TCP packet into `buf` whose payload is already in place at
/// `buf[ip.header_len() + tcp.header_len()..][..payload_len]`. `ip.payload_len` is
/// ignored (computed). Returns the total packet length.
pub fn emit_tcp_packet(
    buf: &mut [u8],
    ip: &IpRepr,
    tcp: &TcpRepr,
    payload_len: usize,
) -> Result<usize, Error> {
    let _ = (buf, ip, tcp, payload_len);
    todo!("synack-wire: emit_tcp_packet")
}
