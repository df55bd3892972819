//! ICMPv4 (RFC 792, RFC 1191) and ICMPv6 (RFC 4443) error messages, with the quoted
//! IP + TCP header that tells which connection they are about.

use crate::Error;
use core::net::IpAddr;

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
    /// Parse an ICMPv4 (`v6 == false`) or ICMPv6 message body (after the IP header),
    /// verifying its checksum (ICMPv6 uses the pseudo-header of `src`/`dst`). Only errors
    /// quoting a TCP header are accepted; others give `Error::UnsupportedIcmp`.
    pub fn parse(body: &[u8], src: IpAddr, dst: IpAddr) -> Result<IcmpRepr, Error> {
        let _ = (body, src, dst);
        todo!("synack-wire: IcmpRepr::parse")
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
        let _ = (kind, src, dst, quoted, buf);
        todo!("synack-wire: IcmpRepr::emit_packet")
    }
}
