//! The Internet checksum (RFC 1071) with wide add-with-carry, and incremental update
//! (RFC 1624).
//!
//! This module owns every one's-complement sum in the crate. [`sum`] is the hot path
//! (a 64 KiB TSO segment is checksummed on every transmit), so it reads the data eight
//! bytes at a time in native byte order into four independent `u64` lanes with
//! end-around carry, folds once at the end and swaps to network order. RFC 1071 §2(B)
//! (byte-order independence) and §2(C) (parallel summation) are what make this valid.

use core::net::IpAddr;

/// Add `x` to `acc` with end-around carry (one's-complement addition on 64 bits).
#[inline(always)]
fn adc(acc: u64, x: u64) -> u64 {
    let (s, carry) = acc.overflowing_add(x);
    s + u64::from(carry)
}

/// Fold a 64-bit one's-complement sum to 16 bits (RFC 1071 §4.1 "fold 32-bit sum").
#[inline(always)]
fn fold64(mut s: u64) -> u16 {
    s = (s & 0xffff_ffff) + (s >> 32);
    s = (s & 0xffff_ffff) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u16
}

#[inline(always)]
fn load(chunk: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(chunk);
    u64::from_ne_bytes(b)
}

/// Sum `data` as big-endian 16-bit words into a 32-bit-folded one's-complement sum
/// (not yet complemented). Odd trailing byte padded with zero.
///
/// The result is already folded to 16 bits (it is always `<= 0xffff`), so it can be fed
/// to [`combine`] and [`finish`] freely. Note that the sum of a slice that starts at an
/// odd offset of a larger message is byte-swapped relative to that message's words
/// (RFC 1071 §2(B)); callers sum even-length pieces or whole messages.
pub fn sum(data: &[u8]) -> u32 {
    // Native-order sum; RFC 1071 §2(B): the one's-complement sum commutes with byte
    // swapping, so we swap the folded 16-bit result once at the end.
    let (mut a, mut b, mut c, mut d) = (0u64, 0u64, 0u64, 0u64);
    let mut big = data.chunks_exact(32);
    for chunk in &mut big {
        a = adc(a, load(&chunk[0..8]));
        b = adc(b, load(&chunk[8..16]));
        c = adc(c, load(&chunk[16..24]));
        d = adc(d, load(&chunk[24..32]));
    }
    // At most 31 bytes left, starting at an offset that is a multiple of 32: take them
    // in fixed-size pieces (no loop, no variable-length copy). Every piece starts at an
    // even offset, so each of its 16-bit words keeps its parity; a word's position
    // inside the 64-bit lane does not matter, because 2^16 = 1 in one's-complement
    // arithmetic (RFC 1071 §2(A)). Headers (20 to 60 bytes) live entirely here.
    let mut rest = big.remainder();
    if rest.len() >= 16 {
        a = adc(a, load(&rest[0..8]));
        b = adc(b, load(&rest[8..16]));
        rest = &rest[16..];
    }
    if rest.len() >= 8 {
        c = adc(c, load(&rest[0..8]));
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        d = adc(
            d,
            u64::from(u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]])),
        );
        rest = &rest[4..];
    }
    if rest.len() >= 2 {
        a = adc(a, u64::from(u16::from_ne_bytes([rest[0], rest[1]])));
        rest = &rest[2..];
    }
    if let [last] = rest {
        // An odd last byte is the high half of a zero-padded word (RFC 1071 §4.1).
        b = adc(b, u64::from(u16::from_ne_bytes([*last, 0])));
    }
    let total = adc(adc(a, b), adc(c, d));
    u32::from(u16::from_be(fold64(total)))
}

/// Fold a partial sum to 16 bits and complement it: the value that goes on the wire.
#[inline]
pub fn finish(sum: u32) -> u16 {
    !fold64(u64::from(sum))
}

/// Add two partial sums (one's complement).
#[inline]
pub fn combine(a: u32, b: u32) -> u32 {
    u32::from(fold64(u64::from(a) + u64::from(b)))
}

/// The checksum of `data` alone: `finish(sum(data))`.
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(data))
}

/// Partial sum of the TCP/UDP/ICMPv6 pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1).
///
/// `len` is the upper-layer length (header + payload). For IPv4 it is a 16-bit field
/// in the pseudo-header and for IPv6 a 32-bit one; summing it as two 16-bit halves is
/// correct for both. Mixed address families sum both addresses as given (callers
/// reject mixed families before this point).
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, len: u32) -> u32 {
    let mut s: u64 = u64::from(protocol) + u64::from(len >> 16) + u64::from(len & 0xffff);
    for addr in [src, dst] {
        match addr {
            IpAddr::V4(a) => {
                let o = a.octets();
                s += u64::from(u16::from_be_bytes([o[0], o[1]]));
                s += u64::from(u16::from_be_bytes([o[2], o[3]]));
            }
            IpAddr::V6(a) => {
                for seg in a.segments() {
                    s += u64::from(seg);
                }
            }
        }
    }
    u32::from(fold64(s))
}

/// RFC 1624 eqn. 3: the new checksum after a 16-bit field changed from `old` to `new`.
///
/// `HC' = ~(~HC + ~m + m')`, computed in one's-complement arithmetic; unlike eqn. 2 it
/// never produces the 0x0000 / 0xffff ambiguity the RFC warns about (§3).
pub fn update(checksum: u16, old: u16, new: u16) -> u16 {
    let s = u64::from(!checksum) + u64::from(!old) + u64::from(new);
    !fold64(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain 16-bit reference loop (RFC 1071 §4.1).
    fn reference(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        let mut i = 0;
        while i + 1 < data.len() {
            s += u32::from(u16::from_be_bytes([data[i], data[i + 1]]));
            i += 2;
        }
        if i < data.len() {
            s += u32::from(data[i]) << 8;
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 example: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&d), 0xddf2);
        assert_eq!(checksum(&d), !0xddf2);
    }

    #[test]
    fn matches_reference_all_small_lengths_and_offsets() {
        let mut x: u32 = 0x1234_5678;
        let data: Vec<u8> = (0..300)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        for start in 0..9 {
            for end in start..data.len() {
                assert_eq!(
                    checksum(&data[start..end]),
                    reference(&data[start..end]),
                    "{start}..{end}"
                );
            }
        }
    }

    #[test]
    fn all_ones_does_not_overflow() {
        let d = vec![0xffu8; 70_001];
        assert_eq!(checksum(&d), reference(&d));
    }

    #[test]
    fn update_known_value() {
        // RFC 1624 §4 example: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 gives HC' = 0x0000.
        assert_eq!(update(0xdd2f, 0x5555, 0x3285), 0x0000);
    }
}
