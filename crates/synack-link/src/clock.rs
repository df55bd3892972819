//! The emulator's clock: the host's monotonic clock (the one `std::time::Instant` and
//! `tokio::time::Instant` read) mapped onto the engine's [`synack_core::time::Instant`],
//! microseconds since the moment the link was built. The link model takes this `now`
//! as its parameter, exactly as it takes virtual time in the simulator.

use synack_core::time::Instant;

/// Wall-clock time as engine instants since an epoch; cheap to clone (copies share the
/// epoch).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: std::time::Instant,
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn new() -> Clock {
        Clock {
            epoch: std::time::Instant::now(),
        }
    }

    /// The current instant (microseconds since the epoch, rounded up).
    pub fn now(&self) -> Instant {
        self.at(std::time::Instant::now())
    }

    /// The engine instant of a host instant (the epoch if `t` is earlier), rounded up
    /// to the next whole microsecond, so an arrival computed from it is never earlier
    /// than the true send time plus the delay.
    pub fn at(&self, t: std::time::Instant) -> Instant {
        let ns = t.saturating_duration_since(self.epoch).as_nanos();
        Instant::from_micros(u64::try_from(ns.div_ceil(1000)).unwrap_or(u64::MAX))
    }

    /// The host instant of an engine instant.
    pub fn to_std(&self, t: Instant) -> std::time::Instant {
        self.epoch + t.since_epoch()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_and_host_instants_map_both_ways() {
        let c = Clock::new();
        let t = Instant::from_micros(12_345);
        assert_eq!(c.at(c.to_std(t)), t);
        // Part of a microsecond rounds up: never earlier than the host instant.
        let t2 = c.to_std(t) + std::time::Duration::from_nanos(1);
        assert_eq!(c.at(t2), Instant::from_micros(12_346));
        assert!(c.to_std(c.now()) >= c.to_std(Instant::ZERO));
    }
}
