//! Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4): comparisons are valid for
//! numbers within 2^31 of each other.

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A TCP sequence number. Ordering is modular: `a < b` iff `(b - a) as i32 > 0`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

impl Seq {
    /// RFC 9293 §3.10.7.4, first check: is a segment of `seg_len` sequence numbers
    /// (payload plus SYN and FIN) starting at `seg_seq` acceptable to a receiver
    /// expecting `rcv_nxt` with a window of `rcv_wnd`? The four cases: an empty segment
    /// must start in the window (or exactly at RCV.NXT when the window is 0); a
    /// non-empty one must start or end in it, and nothing is acceptable in a zero window.
    pub fn acceptable(seg_seq: Seq, seg_len: u32, rcv_nxt: Seq, rcv_wnd: u32) -> bool {
        match (seg_len, rcv_wnd) {
            (0, 0) => seg_seq == rcv_nxt,
            (0, _) => seg_seq.in_window(rcv_nxt, rcv_wnd),
            (_, 0) => false,
            _ => {
                seg_seq.in_window(rcv_nxt, rcv_wnd)
                    || (seg_seq + (seg_len - 1)).in_window(rcv_nxt, rcv_wnd)
            }
        }
    }

    /// The raw value.
    #[inline]
    pub const fn raw(self) -> u32 {
        self.0
    }
    /// Signed distance `self - other`.
    #[inline]
    pub const fn diff(self, other: Seq) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
    /// Unsigned distance from `other` up to `self` (caller knows `self >= other`).
    #[inline]
    pub const fn since(self, other: Seq) -> u32 {
        self.0.wrapping_sub(other.0)
    }
    /// The larger of two sequence numbers (modular).
    #[inline]
    pub fn max(self, other: Seq) -> Seq {
        if self.diff(other) >= 0 {
            self
        } else {
            other
        }
    }
    /// The smaller of two sequence numbers (modular).
    #[inline]
    pub fn min(self, other: Seq) -> Seq {
        if self.diff(other) <= 0 {
            self
        } else {
            other
        }
    }
    /// `lo <= self < hi` (modular), the RFC 9293 §3.4 window test.
    #[inline]
    pub fn in_window(self, lo: Seq, len: u32) -> bool {
        self.since(lo) < len
    }
}

impl PartialOrd for Seq {
    fn partial_cmp(&self, other: &Seq) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

impl Add<u32> for Seq {
    type Output = Seq;
    #[inline]
    fn add(self, rhs: u32) -> Seq {
        Seq(self.0.wrapping_add(rhs))
    }
}

impl AddAssign<u32> for Seq {
    #[inline]
    fn add_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_add(rhs);
    }
}

impl Sub<u32> for Seq {
    type Output = Seq;
    #[inline]
    fn sub(self, rhs: u32) -> Seq {
        Seq(self.0.wrapping_sub(rhs))
    }
}

impl fmt::Debug for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_across_wrap() {
        let a = Seq(u32::MAX - 5);
        let b = a + 10;
        assert_eq!(b.0, 4);
        assert!(a < b);
        assert!(b > a);
        assert_eq!(b.diff(a), 10);
        assert_eq!(a.diff(b), -10);
        assert_eq!(b.since(a), 10);
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
        assert!(Seq(2).in_window(a, 10));
        assert!(!b.in_window(a, 10));
    }

    #[test]
    fn acceptability_four_cases() {
        let nxt = Seq(u32::MAX - 1);
        // Zero length, zero window: only RCV.NXT itself.
        assert!(Seq::acceptable(nxt, 0, nxt, 0));
        assert!(!Seq::acceptable(nxt + 1, 0, nxt, 0));
        // Zero length, open window: anywhere in [RCV.NXT, RCV.NXT + RCV.WND).
        assert!(Seq::acceptable(nxt + 9, 0, nxt, 10));
        assert!(!Seq::acceptable(nxt + 10, 0, nxt, 10));
        assert!(!Seq::acceptable(nxt - 1, 0, nxt, 10));
        // Data, zero window: never.
        assert!(!Seq::acceptable(nxt, 1, nxt, 0));
        // Data, open window: its first or last byte inside (across the wrap).
        assert!(Seq::acceptable(nxt - 5, 6, nxt, 10), "last byte at RCV.NXT");
        assert!(!Seq::acceptable(nxt - 5, 5, nxt, 10), "ends just before");
        assert!(
            Seq::acceptable(nxt + 9, 100, nxt, 10),
            "starts at the last slot"
        );
        assert!(!Seq::acceptable(nxt + 10, 1, nxt, 10));
    }
}
