//! # synack-wire
//!
//! Bytes to typed headers and back, for the protocols synack speaks: IPv4, IPv6,
//! TCP (with every option the stack uses), UDP, ICMPv4 / ICMPv6 errors and echo.
//!
//! Two layers, in the style of smoltcp's `wire` module:
//! - *views* (`Ipv4Packet<T>`, `TcpSegment<T>`, ...) are zero-copy typed accessors over a
//!   byte buffer, checked once on construction so the accessors never panic;
//! - *representations* (`IpRepr`, `TcpRepr`, `IcmpRepr`) are the parsed, validated,
//!   high-level form: `parse` from a view, `emit` into a buffer.
//!
//! Parsing untrusted bytes never panics: every malformed input returns an [`Error`]
//! naming what is wrong. Checksums are written for speed (see [`checksum`]).
//!
//! `no_std`: the crate needs only `core` and `alloc`. The `std` feature (on by default)
//! lets the checksum pick AVX2 at run time; without it, AVX2 is used when the target
//! enables it at compile time (`-C target-feature=+avx2`).

#![no_std]

#[cfg_attr(test, macro_use)]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod addr;
pub mod checksum;
pub mod echo;
pub mod ecn;
mod error;
pub mod icmp;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod packet;
pub mod tcp;
pub mod udp;

#[cfg(test)]
mod fast_tests;

pub use echo::EchoRepr;
pub use error::Error;
pub use icmp::{IcmpKind, IcmpRepr};
pub use ip::IpRepr;
pub use ipv4::Ipv4Packet;
pub use ipv6::Ipv6Packet;
pub use packet::{
    emit_tcp_packet, emit_tcp_packet_summed, parse_packet, parse_packet_deferred, Packet, TcpPacket,
};
pub use tcp::{FastOpenOption, SackBlock, TcpFlags, TcpOption, TcpOptions, TcpRepr, TcpSegment};
pub use udp::{emit_udp_packet, parse_udp_packet, UdpDatagram, UdpPacket, UdpRepr, PROTO_UDP};

/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of ICMPv4.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number (next header) of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;
