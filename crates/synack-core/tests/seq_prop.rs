//! Property tests of sequence-number arithmetic ([`synack_core::Seq`], RFC 9293 §3.4)
//! against a model on wide integers: numbers are compared by their signed distance
//! modulo 2^32, valid while they lie within 2^31 of each other.

use proptest::prelude::*;
use synack_core::Seq;

/// The model: `b - a` as a signed distance, computed without modular arithmetic.
fn model_diff(a: u32, b: u32) -> i64 {
    let d = (i64::from(b) - i64::from(a)).rem_euclid(1 << 32);
    if d >= 1 << 31 {
        d - (1 << 32)
    } else {
        d
    }
}

proptest! {
    #[test]
    fn add_and_diff_match_the_model(a: u32, d in -(i64::from(i32::MAX))..=i64::from(i32::MAX)) {
        let b = ((i64::from(a) + d).rem_euclid(1 << 32)) as u32;
        let (sa, sb) = (Seq(a), Seq(b));
        prop_assert_eq!(i64::from(sb.diff(sa)), d);
        prop_assert_eq!(model_diff(a, b), d);
        prop_assert_eq!(sa < sb, d > 0);
        prop_assert_eq!(sa > sb, d < 0);
        prop_assert_eq!(sa == sb, d == 0);
        prop_assert_eq!(sa.max(sb), if d >= 0 { sb } else { sa });
        prop_assert_eq!(sa.min(sb), if d >= 0 { sa } else { sb });
        if d >= 0 {
            prop_assert_eq!(u64::from(sb.since(sa)), d as u64);
            prop_assert_eq!(sa + d as u32, sb);
            prop_assert_eq!(sb - d as u32, sa);
        }
    }

    #[test]
    fn in_window_matches_the_model(lo: u32, off: u32, len: u32) {
        let x = Seq(lo.wrapping_add(off));
        // Model: x is in [lo, lo + len) on the unrolled number line.
        let model = u64::from(off) < u64::from(len);
        prop_assert_eq!(x.in_window(Seq(lo), len), model);
    }

    #[test]
    fn add_assign_wraps_like_u64_mod_2_pow_32(a: u32, n: u32) {
        let mut s = Seq(a);
        s += n;
        prop_assert_eq!(u64::from(s.raw()), (u64::from(a) + u64::from(n)) % (1 << 32));
    }

    #[test]
    fn ordering_is_antisymmetric_away_from_the_half_way_point(a: u32, b: u32) {
        prop_assume!(a.wrapping_sub(b) != 1 << 31);
        let (sa, sb) = (Seq(a), Seq(b));
        prop_assert_eq!(sa < sb, sb > sa);
        let n = [sa < sb, sa == sb, sa > sb].iter().filter(|x| **x).count();
        prop_assert_eq!(n, 1);
        prop_assert_eq!(sa < sb, model_diff(a, b) > 0);
    }
}

#[test]
fn the_half_way_point_is_the_only_ambiguity() {
    // Exactly 2^31 apart, both directions claim "less" — the reason RFC 9293 keeps
    // windows below 2^31.
    let a = Seq(0);
    let b = Seq(1 << 31);
    assert!(b.diff(a) < 0 && a.diff(b) < 0);
}
