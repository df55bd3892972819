//! The Internet checksum (RFC 1071) with wide lanes, a copy that sums as it goes, and
//! incremental update (RFC 1624).
//!
//! This module owns every one's-complement sum in the crate. [`sum`] and
//! [`copy_and_sum`] are the hot path (every payload byte is summed once on the way out
//! and once on the way in), so they read the data as native-order 32-bit words into
//! eight 64-bit lanes: a 32-bit word can be added to a 64-bit lane 2^32 times before it
//! could overflow, so the loop needs no carry handling at all and the compiler turns it
//! into vector code (SSE2 everywhere on x86-64; AVX2, chosen at run time, where the CPU
//! has it). The lanes are folded once at the end and swapped to network order. RFC 1071
//! §2(B) (byte-order independence) and §2(C) (parallel summation) make this valid.
//!
//! [`copy_and_sum`] exists so the engine never makes a separate checksum pass over a
//! payload: a segment's data is summed while it is copied out of the send ring into
//! the packet, and while it is copied from the packet into the receive ring.

use core::mem::MaybeUninit;
use core::net::IpAddr;

/// Fold a 64-bit one's-complement sum to 16 bits (RFC 1071 §4.1 "fold 32-bit sum").
///
/// A non-zero input gives a result in `1..=0xffff` (the end-around carry never yields
/// 0 again), so two sums of the same residue modulo 0xffff fold to the same value.
#[inline(always)]
pub(crate) fn fold64(s: u64) -> u16 {
    // Two one's-complement additions with end-around carry: the halves of the 64-bit
    // sum, then the halves of that. A carry out leaves at most 2^n - 2 behind, so
    // adding it back cannot carry again (RFC 1071 §4.1).
    let (a, carry) = (s as u32).overflowing_add((s >> 32) as u32);
    let a = a + u32::from(carry);
    let (b, carry) = (a as u16).overflowing_add((a >> 16) as u16);
    b + u16::from(carry)
}

/// The native-order 32-bit word at the start of `b` (`b.len() >= 4`).
#[inline(always)]
fn word(b: &[u8]) -> u64 {
    u64::from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// The native-order 64-bit word at the start of `b` (`b.len() >= 8`), as the sum of
/// its two 32-bit halves.
#[inline(always)]
fn halves(b: &[u8]) -> u64 {
    let w = u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    (w & 0xffff_ffff) + (w >> 32)
}

/// Unfolded native-order sum of a fixed-size header (`N` a multiple of 4) as `N / 4`
/// 32-bit words: a constant trip count, so it compiles to straight-line loads and adds
/// (RFC 1071 §2(B) and §2(C): native byte order and 32-bit accumulation are both valid
/// ways to form the 16-bit one's-complement sum). Swap the folded result with
/// `u16::from_be` to get the big-endian sum.
#[inline(always)]
pub(crate) fn words_ne<const N: usize>(b: &[u8; N]) -> u64 {
    let mut s = 0u64;
    for w in b.chunks_exact(4) {
        s += word(w);
    }
    s
}

/// Sum of the 0..=31 bytes after the last whole 32-byte chunk (and of whole headers,
/// which are 20 to 60 bytes): fixed-size pieces, no loop, so it stays a handful of
/// scalar instructions. A 64-bit piece is added as its two 32-bit halves. The last 1 to
/// 3 bytes are zero-padded to a word; the padding sits after the data, so an odd last
/// byte is the high half of a zero-padded big-endian word (RFC 1071 §4.1).
#[inline(always)]
fn tail(mut rest: &[u8]) -> u64 {
    let mut s = 0u64;
    if rest.len() >= 16 {
        s += halves(rest) + halves(&rest[8..]);
        rest = &rest[16..];
    }
    if rest.len() >= 8 {
        s += halves(rest);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        s += word(rest);
        rest = &rest[4..];
    }
    let mut last = [0u8; 4];
    match rest.len() {
        3 => last[..3].copy_from_slice(rest),
        2 => last[..2].copy_from_slice(rest),
        1 => last[0] = rest[0],
        _ => return s,
    }
    s + word(&last)
}

/// Sum of a short slice (a header): whole 32-byte chunks one by one, then [`tail`].
#[inline(always)]
fn short(data: &[u8]) -> u64 {
    let mut s = 0u64;
    let mut chunks = data.chunks_exact(32);
    for c in &mut chunks {
        s += halves(c) + halves(&c[8..]) + halves(&c[16..]) + halves(&c[24..]);
    }
    s + tail(chunks.remainder())
}

/// Native-order lane sum of `data` (unfolded).
#[inline(always)]
fn lanes(data: &[u8]) -> u64 {
    let mut acc = [0u64; 8];
    let mut chunks = data.chunks_exact(32);
    for c in &mut chunks {
        for (i, a) in acc.iter_mut().enumerate() {
            *a += word(&c[4 * i..]);
        }
    }
    acc.iter().sum::<u64>() + tail(chunks.remainder())
}

/// Copy `src` into `dst` (same length) and return the native-order lane sum of `src`.
#[inline(always)]
fn copy_lanes(dst: &mut [u8], src: &[u8]) -> u64 {
    let mut acc = [0u64; 8];
    let mut from = src.chunks_exact(32);
    let mut to = dst.chunks_exact_mut(32);
    for (c, d) in (&mut from).zip(&mut to) {
        d.copy_from_slice(c);
        for (i, a) in acc.iter_mut().enumerate() {
            *a += word(&c[4 * i..]);
        }
    }
    let rest = from.remainder();
    to.into_remainder().copy_from_slice(rest);
    acc.iter().sum::<u64>() + tail(rest)
}

/// [`copy_lanes`] into storage not yet initialised (the spare capacity of a `Vec`);
/// every byte of `dst` is written.
#[inline(always)]
fn copy_lanes_uninit(dst: &mut [MaybeUninit<u8>], src: &[u8]) -> u64 {
    let mut acc = [0u64; 8];
    let mut from = src.chunks_exact(32);
    let mut to = dst.chunks_exact_mut(32);
    for (c, d) in (&mut from).zip(&mut to) {
        for (x, y) in d.iter_mut().zip(c) {
            x.write(*y);
        }
        for (i, a) in acc.iter_mut().enumerate() {
            *a += word(&c[4 * i..]);
        }
    }
    let rest = from.remainder();
    for (x, y) in to.into_remainder().iter_mut().zip(rest) {
        x.write(*y);
    }
    acc.iter().sum::<u64>() + tail(rest)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn copy_lanes_uninit_avx2(dst: &mut [MaybeUninit<u8>], src: &[u8]) -> u64 {
    copy_lanes_uninit(dst, src)
}

/// Inputs shorter than this (headers) take the short scalar path, and are summed or
/// copied without looking up the CPU's features.
const WIDE: usize = 128;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn lanes_avx2(data: &[u8]) -> u64 {
    lanes(data)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn copy_lanes_avx2(dst: &mut [u8], src: &[u8]) -> u64 {
    copy_lanes(dst, src)
}

/// Whether this CPU has AVX2: asked at run time (once, then cached by std) with the
/// `std` feature; without it, known at compile time from the target's features.
#[cfg(target_arch = "x86_64")]
#[inline]
fn has_avx2() -> bool {
    #[cfg(feature = "std")]
    return std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(feature = "std"))]
    return cfg!(target_feature = "avx2");
}

/// [`lanes`] with the widest vectors this CPU has.
#[inline]
fn lanes_best(data: &[u8]) -> u64 {
    if data.len() < WIDE {
        return short(data);
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of
        // a `target_feature` function; `lanes` itself is safe code.
        return unsafe { lanes_avx2(data) };
    }
    lanes(data)
}

/// [`copy_lanes`] with the widest vectors this CPU has.
#[inline]
fn copy_lanes_best(dst: &mut [u8], src: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if src.len() >= WIDE && has_avx2() {
        // SAFETY: as in `lanes_best`: AVX2 is present, and `copy_lanes` is safe code.
        return unsafe { copy_lanes_avx2(dst, src) };
    }
    copy_lanes(dst, src)
}

/// Sum `data` as big-endian 16-bit words into a one's-complement sum (not yet
/// complemented). Odd trailing byte padded with zero.
///
/// The result is already folded to 16 bits (it is always `<= 0xffff`), so it can be fed
/// to [`combine`] and [`finish`] freely. Note that the sum of a slice that starts at an
/// odd offset of a larger message is byte-swapped relative to that message's words
/// (RFC 1071 §2(B)); fix it with [`swap`], or sum even-length pieces.
#[inline]
pub fn sum(data: &[u8]) -> u32 {
    // An empty payload (a pure ACK) is common: its sum is 0, with no work at all.
    if data.is_empty() {
        return 0;
    }
    // Native-order sum; RFC 1071 §2(B): the one's-complement sum commutes with byte
    // swapping, so we swap the folded 16-bit result once at the end.
    u32::from(u16::from_be(fold64(lanes_best(data))))
}

/// Copy `src` into `dst` and return [`sum`]`(src)`, in one pass over the bytes.
///
/// # Panics
/// When the lengths differ (a caller bug, like `copy_from_slice`).
pub fn copy_and_sum(dst: &mut [u8], src: &[u8]) -> u32 {
    assert_eq!(dst.len(), src.len(), "copy_and_sum: length mismatch");
    u32::from(u16::from_be(fold64(copy_lanes_best(dst, src))))
}

/// [`copy_and_sum`] into uninitialised memory (for example a `Vec`'s
/// `spare_capacity_mut()`): every element of `dst` is written with `src`'s bytes.
///
/// # Panics
/// When the lengths differ.
pub fn copy_and_sum_uninit(dst: &mut [MaybeUninit<u8>], src: &[u8]) -> u32 {
    assert_eq!(dst.len(), src.len(), "copy_and_sum_uninit: length mismatch");
    #[cfg(target_arch = "x86_64")]
    if src.len() >= WIDE && has_avx2() {
        // SAFETY: AVX2 is present; `copy_lanes_uninit` is safe code.
        let s = unsafe { copy_lanes_uninit_avx2(dst, src) };
        return u32::from(u16::from_be(fold64(s)));
    }
    u32::from(u16::from_be(fold64(copy_lanes_uninit(dst, src))))
}

/// The sum of a piece that sits at an odd offset of its message, given the piece's own
/// [`sum`]: its bytes pair up the other way, so the 16-bit sum is byte-swapped (RFC 1071
/// §2(B)).
#[inline]
pub fn swap(sum: u32) -> u32 {
    let s = fold64(u64::from(sum));
    u32::from(s.swap_bytes())
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
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(data))
}

/// Partial sum of the TCP/UDP/ICMPv6 pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1).
///
/// `len` is the upper-layer length (header + payload). For IPv4 it is a 16-bit field
/// in the pseudo-header and for IPv6 a 32-bit one; summing it as two 16-bit halves is
/// correct for both. Mixed address families sum both addresses as given (callers
/// reject mixed families before this point).
#[inline]
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, len: u32) -> u32 {
    let mut s: u64 = u64::from(protocol) + u64::from(len >> 16) + u64::from(len & 0xffff);
    if let (IpAddr::V4(a), IpAddr::V4(b)) = (src, dst) {
        // The common case, as 32-bit halves: at most 19 bits, so two folds suffice.
        let (a, b) = (u32::from(a), u32::from(b));
        s +=
            u64::from(a >> 16) + u64::from(a & 0xffff) + u64::from(b >> 16) + u64::from(b & 0xffff);
        s = (s & 0xffff) + (s >> 16);
        return ((s & 0xffff) + (s >> 16)) as u32;
    }
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
    use alloc::vec::Vec;

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

    /// `n` xorshift bytes from `seed`.
    fn noise(mut x: u32, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn matches_reference_all_small_lengths_and_offsets() {
        let data = noise(0x1234_5678, 300);
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
    fn copy_and_sum_copies_and_matches_sum() {
        let data = noise(0x9e37_79b9, 5000);
        for (start, end) in [(0, 0), (0, 1), (3, 40), (1, 1461), (0, 4096), (7, 4999)] {
            let src = &data[start..end];
            let mut dst = vec![0u8; src.len()];
            assert_eq!(copy_and_sum(&mut dst, src), sum(src), "{start}..{end}");
            assert_eq!(dst, src);
            let mut fresh: Vec<u8> = Vec::with_capacity(src.len());
            let s = copy_and_sum_uninit(&mut fresh.spare_capacity_mut()[..src.len()], src);
            assert_eq!(s, sum(src), "{start}..{end}");
            // SAFETY: copy_and_sum_uninit wrote all src.len() bytes.
            unsafe { fresh.set_len(src.len()) };
            assert_eq!(fresh, src);
        }
    }

    #[test]
    fn pieces_at_odd_offsets_combine_with_swap() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for cut in [1, 2, 333, 500, 999] {
            let (a, b) = data.split_at(cut);
            let b_sum = if cut % 2 == 1 { swap(sum(b)) } else { sum(b) };
            assert_eq!(finish(combine(sum(a), b_sum)), checksum(&data), "cut {cut}");
        }
    }

    #[test]
    fn all_ones_does_not_overflow() {
        let d = vec![0xffu8; 70_001];
        assert_eq!(checksum(&d), reference(&d));
    }

    /// The plain fold (repeated `(s & 0xffff) + (s >> 16)`) the carry form must match.
    fn fold_reference(mut s: u64) -> u16 {
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    #[test]
    fn fold64_matches_plain_fold() {
        let mut x = 0x0123_4567_89ab_cdefu64;
        let mut inputs = vec![
            0,
            1,
            0xffff,
            0x1_0000,
            0x1_fffe,
            0xffff_ffff,
            0x1_0000_0000,
            0xffff_ffff_ffff_ffff,
            0xffff_0000_ffff_0000,
            0x8000_0000_8000_0000,
        ];
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            inputs.push(x);
            inputs.push(x >> (x % 64));
        }
        for s in inputs {
            assert_eq!(fold64(s), fold_reference(s), "{s:#x}");
        }
    }

    #[test]
    fn update_known_value() {
        // RFC 1624 §4 example: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 gives HC' = 0x0000.
        assert_eq!(update(0xdd2f, 0x5555, 0x3285), 0x0000);
    }
}
