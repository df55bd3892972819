//! Whole-packet parse and emit: IP + TCP (or ICMP error) in one call, the engine's entry.
//!
//! [`parse_packet`] classifies an incoming IP packet; [`emit_tcp_packet`] writes the IP
//! and TCP headers in front of a payload that is already in place (so a 64 KiB segment
//! is never copied just to prepend headers).

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
///
/// ICMP messages (protocol 1 over IPv4, 58 over IPv6) always have their checksum
/// verified; those that are not errors about a TCP segment (echo, neighbour discovery,
/// errors quoting UDP, ...) are returned as [`Packet::Other`], since they are
/// legitimate packets the stack ignores. Malformed packets are an `Err`.
#[inline]
pub fn parse_packet(bytes: &[u8], verify_checksum: bool) -> Result<Packet<'_>, Error> {
    let (ip, payload) = IpRepr::parse(bytes)?;
    let is_icmp = match ip.src {
        core::net::IpAddr::V4(_) => ip.protocol == crate::PROTO_ICMP,
        core::net::IpAddr::V6(_) => ip.protocol == crate::PROTO_ICMPV6,
    };
    if ip.protocol == crate::PROTO_TCP {
        let (tcp, payload) = TcpRepr::parse(payload, ip.src, ip.dst, verify_checksum)?;
        Ok(Packet::Tcp(TcpPacket { ip, tcp, payload }))
    } else if is_icmp {
        match IcmpRepr::parse(payload, ip.src, ip.dst) {
            Ok(icmp) => Ok(Packet::Icmp { ip, icmp }),
            Err(Error::UnsupportedIcmp { .. }) => Ok(Packet::Other { ip }),
            Err(e) => Err(e),
        }
    } else {
        Ok(Packet::Other { ip })
    }
}

/// [`parse_packet`] for a caller that verifies the TCP checksum itself while it copies
/// the payload (see [`TcpRepr::parse_deferred`]): a TCP segment comes back unverified,
/// with the sum of its pseudo-header and TCP header (`Some`); ICMP checksums are still
/// verified here, and other packets come back with `None`.
#[inline]
pub fn parse_packet_deferred(bytes: &[u8]) -> Result<(Packet<'_>, Option<u32>), Error> {
    let (ip, payload) = IpRepr::parse(bytes)?;
    if ip.protocol == crate::PROTO_TCP {
        let (tcp, payload, header_sum) = TcpRepr::parse_deferred(payload, ip.src, ip.dst)?;
        Ok((
            Packet::Tcp(TcpPacket { ip, tcp, payload }),
            Some(header_sum),
        ))
    } else {
        Ok((parse_packet(bytes, true)?, None))
    }
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
    emit_tcp_packet_summed(buf, ip, tcp, payload_len, None)
}

/// [`emit_tcp_packet`] when the payload's [`crate::checksum::sum`] is already known (it
/// was computed while the payload was copied in place): only the headers are summed.
#[inline]
pub fn emit_tcp_packet_summed(
    buf: &mut [u8],
    ip: &IpRepr,
    tcp: &TcpRepr,
    payload_len: usize,
    payload_sum: Option<u32>,
) -> Result<usize, Error> {
    let ip_len = ip.header_len();
    let seg_len = tcp.header_len() + payload_len;
    let total = ip_len + seg_len;
    if buf.len() < total {
        return Err(Error::BufferTooSmall {
            needed: total,
            got: buf.len(),
        });
    }
    let ip = IpRepr {
        protocol: crate::PROTO_TCP,
        payload_len: seg_len,
        ..*ip
    };
    ip.emit(buf)?;
    tcp.emit_summed(
        &mut buf[ip_len..total],
        payload_len,
        ip.src,
        ip.dst,
        payload_sum,
    )?;
    Ok(total)
}
