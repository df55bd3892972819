//! The float functions congestion control needs that `core` lacks (they live in std,
//! which calls the platform's libm): std's when the `std` feature is on, the `libm`
//! crate's otherwise, so `no_std` builds compute the same curves.

/// The cube root of `x` (CUBIC's K, RFC 9438 §4.2).
#[inline]
pub(crate) fn cbrt(x: f64) -> f64 {
    #[cfg(feature = "std")]
    return std::primitive::f64::cbrt(x);
    #[cfg(not(feature = "std"))]
    return libm::cbrt(x);
}

/// The largest integer not above `x`.
#[inline]
pub(crate) fn floor(x: f64) -> f64 {
    #[cfg(feature = "std")]
    return std::primitive::f64::floor(x);
    #[cfg(not(feature = "std"))]
    return libm::floor(x);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbrt_and_floor_match_libm() {
        for x in [0.0, 1.0, 8.0, 27.5, 75.0, 750.0, 1e9, -64.0] {
            assert!(
                (cbrt(x) - libm::cbrt(x)).abs() <= 1e-12 * x.abs().max(1.0),
                "{x}"
            );
            assert_eq!(floor(x + 0.5), libm::floor(x + 0.5), "{x}");
        }
        assert_eq!(cbrt(27.0), 3.0);
        assert_eq!(floor(-0.5), -1.0);
    }
}
