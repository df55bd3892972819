//! The stack-wide buffer memory budget (like Linux `tcp_mem`): how many bytes all
//! send and receive buffers hold allocated together, and the two thresholds from
//! [`Config`](crate::Config): above `memory_pressure` buffers stop growing and shrink
//! towards a floor of a few MSS as they drain; `memory_limit` is never crossed by
//! growing a buffer (data that would need it is dropped before it is acknowledged, so
//! the peer sends it again; writes take only what fits, and the application hears
//! `Writable` once memory is freed).
//!
//! The [`Stack`](crate::Stack) keeps the sum up to date after every call into a
//! connection (each connection remembers what it was last charged, so the update is
//! a comparison when nothing changed) and lends connections a [`MemoryView`] through
//! their `Env`. The bound is strict: every growth is checked against the room left.

/// Smallest buffer a flow is shrunk to under pressure, in MSS: enough for a few
/// segments in flight, so every flow keeps moving (and fast retransmit still gets its
/// three duplicate ACKs).
pub(crate) const FLOOR_SEGMENTS: usize = 4;

/// The per-connection floor in bytes for an MSS of `mss`: [`FLOOR_SEGMENTS`] segments,
/// rounded up to a power of two (the ring's sizes are), at least 4 KiB.
pub(crate) fn floor_bytes(mss: u16) -> usize {
    (FLOOR_SEGMENTS * usize::from(mss))
        .next_power_of_two()
        .max(4096)
}

/// What a connection needs to know about the budget during one call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemoryView {
    /// The stack is under memory pressure: do not grow, shrink towards the floor.
    pub(crate) pressure: bool,
    /// Bytes buffers may still allocate before the hard limit.
    pub(crate) room: usize,
}

/// Stack-wide buffer memory accounting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BufferMemory {
    /// Bytes allocated by all buffers, as last charged.
    pub(crate) used: usize,
    /// Highest `used` seen.
    pub(crate) peak: usize,
    pressure: usize,
    limit: usize,
}

impl BufferMemory {
    /// Accounting with the given thresholds (pressure is capped at the limit).
    pub(crate) fn new(pressure: usize, limit: usize) -> BufferMemory {
        BufferMemory {
            used: 0,
            peak: 0,
            pressure: pressure.min(limit),
            limit,
        }
    }

    /// Move a connection's charge from `old` to `new` bytes.
    #[inline]
    pub(crate) fn recharge(&mut self, old: usize, new: usize) {
        self.used = (self.used + new).saturating_sub(old);
        self.peak = self.peak.max(self.used);
    }

    /// True above the pressure threshold.
    #[inline]
    pub(crate) fn under_pressure(&self) -> bool {
        self.used >= self.pressure
    }

    /// Bytes that may still be allocated.
    #[inline]
    pub(crate) fn room(&self) -> usize {
        self.limit.saturating_sub(self.used)
    }

    /// Free room at which writers that found no memory are woken: a sixteenth of
    /// the limit (at least 64 KiB), so a release of a few bytes does not wake them all
    /// for nothing.
    pub(crate) fn wake_room(&self) -> usize {
        (self.limit / 16).max(64 << 10).min(self.limit)
    }

    /// The view lent to a connection.
    #[inline]
    pub(crate) fn view(&self) -> MemoryView {
        MemoryView {
            pressure: self.under_pressure(),
            room: self.room(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_move_and_thresholds_apply() {
        let mut m = BufferMemory::new(100, 150);
        assert!(!m.under_pressure());
        m.recharge(0, 60);
        m.recharge(0, 50);
        assert_eq!((m.used, m.room()), (110, 40));
        assert!(m.under_pressure());
        m.recharge(60, 0);
        assert_eq!((m.used, m.peak), (50, 110));
        assert!(!m.view().pressure);
        assert_eq!(m.view().room, 100);
    }

    #[test]
    fn pressure_never_above_the_limit_and_floor_is_a_few_segments() {
        let m = BufferMemory::new(500, 200);
        let mut m2 = m;
        m2.recharge(0, 200);
        assert!(m2.under_pressure());
        assert_eq!(m2.room(), 0);
        assert_eq!(floor_bytes(1460), 8192);
        assert_eq!(floor_bytes(536), 4096);
        assert!(floor_bytes(9000) >= 4 * 9000);
    }
}
