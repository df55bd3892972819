//! The payload every bulk transfer carries and the check that every byte arrived
//! intact. The pattern is a pseudo-random block of a prime length, stored twice in a
//! row so any window of up to one period starting anywhere is a contiguous slice: the
//! sender sends straight from it and the receiver compares each received chunk with
//! `memcmp` against the same window, so checking costs far less than the stacks.

/// Pattern period in bytes: a prime, so segment boundaries keep shifting over it.
pub(crate) const PERIOD: usize = 65521;

/// A repeating byte pattern and a verifier.
#[derive(Debug)]
pub(crate) struct Pattern {
    /// Two periods back to back.
    data: Vec<u8>,
}

impl Pattern {
    /// The pattern for `seed` (xorshift bytes: not all-zero, not periodic in 2^k).
    pub(crate) fn new(seed: u64) -> Pattern {
        let mut x = seed | 1;
        let mut data = Vec::with_capacity(2 * PERIOD);
        for _ in 0..PERIOD {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.push((x >> 24) as u8);
        }
        data.extend_from_within(..PERIOD);
        Pattern { data }
    }

    /// The bytes at stream offset `off`, at most `max` of them (and at most one period).
    pub(crate) fn window(&self, off: u64, max: usize) -> &[u8] {
        let start = (off % PERIOD as u64) as usize;
        &self.data[start..start + max.min(PERIOD)]
    }

    /// True when `got` equals the pattern at stream offset `off` (any length).
    pub(crate) fn matches(&self, mut off: u64, mut got: &[u8]) -> bool {
        while !got.is_empty() {
            let w = self.window(off, got.len());
            if w != &got[..w.len()] {
                return false;
            }
            off += w.len() as u64;
            got = &got[w.len()..];
        }
        true
    }
}

/// Sender and receiver progress of one verified stream.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StreamCheck {
    /// Bytes handed to the sending stack.
    pub(crate) sent: u64,
    /// Bytes read from the receiving stack and verified.
    pub(crate) received: u64,
    /// A byte differed from the pattern.
    pub(crate) corrupt: bool,
}

impl StreamCheck {
    /// Verify `got`, which continues the received stream.
    pub(crate) fn verify(&mut self, pattern: &Pattern, got: &[u8]) {
        if !pattern.matches(self.received, got) {
            self.corrupt = true;
        }
        self.received += got.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_detects_a_flipped_byte_anywhere() {
        let p = Pattern::new(7);
        let mut chunk = p.window(1000, 5000).to_vec();
        assert!(p.matches(1000, &chunk));
        chunk[4321] ^= 1;
        assert!(!p.matches(1000, &chunk));
        // Across the period boundary, longer than one period.
        let long: Vec<u8> = (0..3 * PERIOD as u64)
            .map(|i| p.window(PERIOD as u64 - 10 + i, 1)[0])
            .collect();
        assert!(p.matches(PERIOD as u64 - 10, &long));
        assert!(!p.matches(PERIOD as u64 - 9, &long));
    }
}
