//! A fast keyed hasher for the demux tables. The key comes from the injected secret so
//! a remote peer cannot aim many 4-tuples at one bucket without knowing it.

use core::hash::{BuildHasher, Hasher};

/// Builds [`TupleHasher`]s sharing one key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TupleHashBuilder {
    key: u64,
}

impl TupleHashBuilder {
    pub(crate) fn new(key: u64) -> TupleHashBuilder {
        TupleHashBuilder { key }
    }
}

impl BuildHasher for TupleHashBuilder {
    type Hasher = TupleHasher;
    fn build_hasher(&self) -> TupleHasher {
        TupleHasher { h: self.key }
    }
}

/// Multiply-rotate mixing of 64-bit words, finished with a strong avalanche.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TupleHasher {
    h: u64,
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

impl TupleHasher {
    #[inline]
    fn mix(&mut self, w: u64) {
        self.h = (self.h.rotate_left(5) ^ w).wrapping_mul(K);
    }
}

impl Hasher for TupleHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        let mut x = self.h;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x
    }
}
