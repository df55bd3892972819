//! Buffer autotuning: receive buffers follow the bandwidth-delay product the receiver
//! measures (dynamic right-sizing, as Linux `tcp_rcv_space_adjust` does), send buffers
//! follow cwnd (as Linux `tcp_sndbuf_expand`), and both shrink under the stack's memory
//! pressure ([`crate::memory`]).
//!
//! Receive side, once per receiver-measured RTT: the bytes the application consumed in
//! that RTT are compared with the previous figure; when they grew, the buffer becomes
//! about twice that (plus 16 segments of slack for variation, plus twice the growth
//! seen while the sender's rate is still rising), up to
//! [`Config::recv_buffer_max`](crate::Config::recv_buffer_max). The receiver's RTT comes
//! from the time to receive one window's worth of data (a mark at RCV.NXT + RCV.WND;
//! no timestamps needed) and is seeded by the handshake's RTT sample. Per segment this
//! costs two comparisons; the adjustment itself runs once per RTT.
//!
//! The window scale was chosen at SYN time from the largest buffer this may reach
//! (`Config::window_shift`), so the grown buffer can be advertised (RFC 7323 §2.3).
//! Shrinking never moves the advertised right edge left (RFC 9293 §3.8.6): the
//! capacity stays at least the readable bytes plus the window already offered, so the
//! window closes only as data arrives and is consumed.

use super::{Connection, Env};
use crate::cc::CongestionControl;
use crate::memory::{floor_bytes, MemoryView};
use crate::seq::Seq;
use crate::time::Instant;

/// Receive-space measurement state (Linux `rcvq_space` and `rcv_rtt_est`), 28 bytes:
/// times are kept as the low 32 bits of the engine's microsecond clock and compared
/// by wrapping difference (exact for spans under 71 minutes; a longer idle span only
/// delays one adjustment), so an idle connection stays under 1 KiB.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RcvSpace {
    /// Bytes the application consumed in the last measured RTT that grew the buffer
    /// (the figure the next RTT is compared with).
    space: u32,
    /// Sequence number of the next byte to be read at the start of this measurement.
    seq: Seq,
    /// Start of this measurement (µs clock, low 32 bits).
    time: u32,
    /// The receiver's RTT estimate in µs (0: none yet).
    rtt_us: u32,
    /// Window-based RTT measurement: it ends when RCV.NXT reaches this mark.
    rtt_seq: Seq,
    /// When the window-based measurement started (µs clock, low 32 bits; 0: not
    /// started).
    rtt_time: u32,
    /// The application sized the receive buffer itself (SO_RCVBUF): no autotuning,
    /// as Linux locks it (`SOCK_RCVBUF_LOCK`).
    pub(crate) recv_locked: bool,
    /// The application sized the send buffer itself (SO_SNDBUF).
    pub(crate) send_locked: bool,
}

/// The low 32 bits of `now` in µs (never 0, which marks "not started").
fn stamp(now: Instant) -> u32 {
    (now.total_micros() as u32).max(1)
}

/// µs from `then` to `now`, both from [`stamp`].
fn elapsed(now: u32, then: u32) -> u32 {
    now.wrapping_sub(then)
}

impl RcvSpace {
    /// State for a new connection whose first window is `initial_space` bytes.
    pub(crate) fn new(initial_space: u32, now: Instant) -> RcvSpace {
        RcvSpace {
            space: initial_space,
            seq: Seq(0),
            time: stamp(now),
            rtt_us: 0,
            rtt_seq: Seq(0),
            rtt_time: 0,
            recv_locked: false,
            send_locked: false,
        }
    }

    /// Fold an RTT sample into the receiver's estimate: a smaller sample is taken at
    /// once (the estimate is an upper bound: a window's worth can take longer than an
    /// RTT to arrive), a larger one moves it by 1/8.
    fn rtt_sample(&mut self, us: u64) {
        let us = us.clamp(1, u64::from(u32::MAX)) as u32;
        if self.rtt_us == 0 || us < self.rtt_us {
            self.rtt_us = us;
        } else {
            self.rtt_us += (us - self.rtt_us) / 8;
        }
    }
}

impl Connection {
    /// The sequence number of the next byte the application will read (Linux
    /// `copied_seq`).
    fn copied_seq(&self) -> Seq {
        self.rcv_nxt - self.recv.len() as u32
    }

    /// Start measuring at the handshake's end: the first window, and the RTT the
    /// handshake sampled (SYN to SYN-ACK, or SYN-ACK to ACK).
    pub(crate) fn autotune_start(&mut self, env: &Env<'_>) {
        let copied = self.copied_seq();
        let t = &mut self.tune;
        t.seq = copied;
        t.time = stamp(env.now);
        if let Some(us) = self.rtt.srtt_us() {
            t.rtt_sample(us);
        }
    }

    /// After in-order data arrived (RCV.NXT advanced): measure the receiver's RTT
    /// and, once per RTT, resize the receive buffer. Under memory pressure the buffer
    /// shrinks instead.
    pub(crate) fn autotune_on_data(&mut self, env: &Env<'_>) {
        let now = stamp(env.now);
        // Window-based RTT measurement (Linux tcp_rcv_rtt_measure).
        if self.tune.rtt_time != 0 && self.rcv_nxt >= self.tune.rtt_seq {
            self.tune
                .rtt_sample(u64::from(elapsed(now, self.tune.rtt_time)));
            self.tune.rtt_time = 0;
        }
        if self.tune.rtt_time == 0 {
            self.tune.rtt_seq = self.rcv_nxt + self.rcv_wnd().max(u32::from(self.mss));
            self.tune.rtt_time = now;
        }
        if env.mem.pressure {
            self.shrink_recv_buffer();
            return;
        }
        let rtt = self.tune.rtt_us;
        if rtt == 0 || elapsed(now, self.tune.time) < rtt || self.tune.recv_locked {
            return;
        }
        self.rcv_space_adjust(env);
    }

    /// Once per RTT (Linux tcp_rcv_space_adjust): compare the bytes consumed in the
    /// last RTT with the previous figure and grow the buffer to about twice that.
    fn rcv_space_adjust(&mut self, env: &Env<'_>) {
        let copied_seq = self.copied_seq();
        let copied = copied_seq.since(self.tune.seq);
        if copied > self.tune.space {
            let mss = usize::from(self.mss);
            let (copied, space) = (copied as usize, self.tune.space.max(1) as usize);
            let mut target = 2 * copied + 16 * mss;
            // While the sender's rate is still rising (slow start) the next RTT brings
            // more than this one: allow for the growth seen, twice over, as Linux does.
            target += 2 * (target.saturating_mul(copied - space) / space);
            let target = target.min(env.cfg.recv_buffer_limit());
            if target > self.recv.capacity() {
                self.recv.grow_capacity(target);
            }
            self.tune.space = copied as u32;
        }
        self.tune.seq = copied_seq;
        self.tune.time = stamp(env.now);
    }

    /// Under memory pressure: lower the receive buffer towards the floor, never below
    /// what is held plus the window already advertised (RFC 9293 §3.8.6).
    fn shrink_recv_buffer(&mut self) {
        let floor = floor_bytes(self.mss);
        if self.recv.capacity() <= floor {
            return;
        }
        let offered = self.rcv_adv.diff(self.rcv_nxt).max(0) as usize;
        let keep = floor.max(self.recv.len() + offered).max(self.recv.held());
        if keep < self.recv.capacity() {
            self.recv.shrink_capacity(keep);
            // Growth restarts from what the smaller buffer carries per RTT.
            self.tune.space = self.tune.space.min(self.recv.capacity() as u32 / 2);
        }
    }

    /// The application found the send buffer full: grow it to about twice what may be
    /// in flight, min(cwnd, SND.WND) (Linux tcp_sndbuf_expand uses cwnd), and keep what
    /// is in flight plus that much new data, up to
    /// [`Config::send_buffer_max`](crate::Config::send_buffer_max). Under memory
    /// pressure it shrinks towards the floor instead. Returns true if it grew.
    pub(crate) fn autotune_send(&mut self, max: usize, mem: MemoryView) -> bool {
        if mem.pressure {
            self.shrink_send_buffer();
            return false;
        }
        if self.tune.send_locked {
            return false;
        }
        // What may be in flight is bounded by the peer's window too: a cwnd that kept
        // growing while the peer's window limited the flow would only make the buffer
        // (and its cache footprint) larger for nothing.
        let iw = 10 * usize::from(self.mss);
        let usable = (self.cc.cwnd().min(self.snd_wnd.max(1)) as usize).max(iw);
        let flight = self.flight_size() as usize;
        let target = (2 * usable).max(flight + usable).min(max);
        if target > self.send.capacity() {
            self.send.grow_capacity(target);
            return true;
        }
        false
    }

    /// Under memory pressure: lower the send buffer towards the floor (never below
    /// what it holds: written data is never dropped).
    pub(crate) fn shrink_send_buffer(&mut self) {
        let floor = floor_bytes(self.mss);
        if self.send.capacity() > floor {
            self.send.shrink_capacity(floor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_estimate_takes_smaller_samples_at_once_and_larger_ones_slowly() {
        let mut t = RcvSpace::new(14_600, Instant::ZERO);
        t.rtt_sample(50_000);
        assert_eq!(t.rtt_us, 50_000);
        t.rtt_sample(130_000);
        assert_eq!(t.rtt_us, 60_000);
        t.rtt_sample(40_000);
        assert_eq!(t.rtt_us, 40_000);
        t.rtt_sample(0);
        assert_eq!(t.rtt_us, 1, "a zero sample still counts as measured");
    }

    #[test]
    fn stamps_compare_across_the_32_bit_wrap() {
        let before = stamp(Instant::from_micros((1 << 32) - 10));
        let after = stamp(Instant::from_micros((1 << 32) + 30));
        assert_eq!(elapsed(after, before), 40);
        assert_ne!(stamp(Instant::ZERO), 0, "0 marks a measurement not started");
    }

    /// The autotuning state must not push an idle connection past 1 KiB of heap: the
    /// bench's "memory per idle conn" (at 100,000 connections) is the TCB plus about
    /// 95 bytes of slot, demux entry and timer slot (1,015 B when this was written).
    #[test]
    fn an_idle_connection_stays_under_1_kib() {
        assert_eq!(core::mem::size_of::<RcvSpace>(), 28);
        assert!(
            core::mem::size_of::<Connection>() + 96 <= 1024,
            "{}",
            core::mem::size_of::<Connection>()
        );
    }
}
