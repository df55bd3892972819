//! Engine time. The engine never reads a clock: every entry point takes `now` as an
//! [`Instant`], microseconds since an epoch the driver picks (the simulator's start,
//! or the runtime's start). Times must be monotonic across calls.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};
pub use core::time::Duration;

/// A point in engine time: microseconds since the driver's epoch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant {
    micros: u64,
}

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant { micros: 0 };
    /// A time later than any real deadline.
    pub const FAR_FUTURE: Instant = Instant { micros: u64::MAX };

    /// From microseconds since the epoch.
    pub const fn from_micros(micros: u64) -> Instant {
        Instant { micros }
    }
    /// From milliseconds since the epoch.
    pub const fn from_millis(millis: u64) -> Instant {
        Instant {
            micros: millis.saturating_mul(1000),
        }
    }
    /// From seconds since the epoch.
    pub const fn from_secs(secs: u64) -> Instant {
        Instant {
            micros: secs.saturating_mul(1_000_000),
        }
    }
    /// Microseconds since the epoch.
    pub const fn total_micros(self) -> u64 {
        self.micros
    }
    /// Milliseconds since the epoch.
    pub const fn total_millis(self) -> u64 {
        self.micros / 1000
    }
    /// `self` plus `micros` microseconds, saturating (the cheap form of `+ Duration`
    /// for the per-segment paths).
    #[inline]
    pub const fn add_micros(self, micros: u64) -> Instant {
        Instant {
            micros: self.micros.saturating_add(micros),
        }
    }

    /// Time elapsed since `earlier`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.micros.saturating_sub(earlier.micros))
    }
    /// Time since the epoch.
    pub fn since_epoch(self) -> Duration {
        Duration::from_micros(self.micros)
    }
}

/// The earliest of `times`, `None` when none is set. Branch-free, for the paths that
/// run after every call into a connection: an unset time counts as
/// [`Instant::FAR_FUTURE`], so a time at `FAR_FUTURE` itself, which never comes,
/// reads as none.
#[inline]
pub(crate) fn earliest<const N: usize>(times: [Option<Instant>; N]) -> Option<Instant> {
    let m = times
        .iter()
        .fold(u64::MAX, |m, t| m.min(t.map_or(u64::MAX, |t| t.micros)));
    (m != u64::MAX).then_some(Instant { micros: m })
}

fn dur_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant {
            micros: self.micros.saturating_add(dur_micros(rhs)),
        }
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        Instant {
            micros: self.micros.saturating_sub(dur_micros(rhs)),
        }
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}s",
            self.micros / 1_000_000,
            self.micros % 1_000_000
        )
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
