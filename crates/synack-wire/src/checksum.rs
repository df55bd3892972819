//! The Internet checksum (RFC 1071) with wide add-with-carry, and incremental update
//! (RFC 1624).

use core::net::IpAddr;

/// Sum `data` as big-endian 16-bit words into a 32-bit-folded one's-complement sum
/// (not yet complemented). Odd trailing byte padded with zero.
pub fn sum(data: &[u8]) -> u32 {
    let _ = data;
    todo!("synack-wire: checksum::sum")
}

/// Fold a partial sum to 16 bits and complement it: the value that goes on the wire.
pub fn finish(sum: u32) -> u16 {
    let _ = sum;
    todo!("synack-wire: checksum::finish")
}

/// Add two partial sums (one's complement).
pub fn combine(a: u32, b: u32) -> u32 {
    let _ = (a, b);
    todo!("synack-wire: checksum::combine")
}

/// The checksum of `data` alone: `finish(sum(data))`.
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(data))
}

/// Partial sum of the TCP/UDP/ICMPv6 pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1).
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, len: u32) -> u32 {
    let _ = (src, dst, protocol, len);
    todo!("synack-wire: checksum::pseudo_header")
}

/// RFC 1624 eqn. 3: the new checksum after a 16-bit field changed from `old` to `new`.
pub fn update(checksum: u16, old: u16, new: u16) -> u16 {
    let _ = (checksum, old, new);
    todo!("synack-wire: checksum::update")
}
