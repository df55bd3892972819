//! The emulator core: two directions, each a [`LinkPath`] from the simulator (the one
//! copy of the impairment code) plus a release queue and a release thread.
//!
//! A packet enters a direction through an [`Ingress`] handle (from a TUN reader thread
//! or an in-process stack's device): the path decides its fate at the current instant
//! of the [`Clock`], and each surviving copy waits in a heap ordered by arrival
//! instant. The direction's release thread sleeps until the earliest arrival and hands
//! the packet to the far side's [`Egress`]. The sleep is precise: the thread asks the
//! kernel for a 1 ns timer slack, waits on a condition variable until
//! [`SPIN`] before the deadline (woken early if an earlier packet comes in), then
//! spins for the rest. How late each packet left is counted in [`Timing`].

use crate::clock::Clock;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use synack_core::time::Instant;
use synack_sim::link::LinkPath;
use synack_sim::{LinkConfig, LinkStats, SimRng};

/// How long before a packet's arrival the release thread stops sleeping and spins.
pub const SPIN: Duration = Duration::from_micros(60);

/// Where a direction delivers its packets: the far side's TUN device or stack.
pub trait Egress: Send + 'static {
    /// Delivers one packet. Errors are the egress's to count; the link goes on.
    fn deliver(&mut self, packet: &[u8]);
}

/// Which end of the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The first end (`--a`).
    A,
    /// The second end (`--b`).
    B,
}

/// How punctually one direction released its packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    /// Packets released.
    pub released: u64,
    /// Sum of the lateness of every release, in nanoseconds.
    pub late_ns_total: u64,
    /// Largest lateness seen, in nanoseconds.
    pub late_ns_max: u64,
    /// Releases more than 100 µs late.
    pub late_over_100us: u64,
    /// Releases more than 1 ms late.
    pub late_over_1ms: u64,
    /// Copies scheduled (each delivered copy is scheduled once).
    pub scheduled: u64,
    /// Sum over scheduled copies of the time from entering the link to the arrival
    /// instant (queueing, serialization, delay, jitter), in microseconds.
    pub transit_us_total: u64,
}

impl Timing {
    /// Mean lateness in microseconds (0 when nothing was released).
    pub fn mean_late_us(&self) -> f64 {
        if self.released == 0 {
            0.0
        } else {
            self.late_ns_total as f64 / self.released as f64 / 1000.0
        }
    }

    /// Mean time from entering the link to arriving (queueing included), in
    /// microseconds: the one-way delay packets saw, under whatever load there was.
    pub fn mean_transit_us(&self) -> f64 {
        if self.scheduled == 0 {
            0.0
        } else {
            self.transit_us_total as f64 / self.scheduled as f64
        }
    }

    fn record(&mut self, late: Duration) {
        let ns = u64::try_from(late.as_nanos()).unwrap_or(u64::MAX);
        self.released += 1;
        self.late_ns_total = self.late_ns_total.saturating_add(ns);
        self.late_ns_max = self.late_ns_max.max(ns);
        self.late_over_100us += u64::from(ns > 100_000);
        self.late_over_1ms += u64::from(ns > 1_000_000);
    }
}

/// A copy of a packet waiting for its arrival instant.
struct Pending {
    at: Instant,
    /// Scheduling order, so copies due at the same instant leave in the order sent.
    seq: u64,
    bytes: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The release queue of one direction.
#[derive(Default)]
struct Waiting {
    heap: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    timing: Timing,
}

/// One direction: the link model and its release queue.
struct DirState {
    clock: Clock,
    path: Mutex<LinkPath>,
    waiting: Mutex<Waiting>,
    wake: Condvar,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DirState {
    fn send(&self, packet: &[u8]) {
        let now = self.clock.now();
        let verdict = lock(&self.path).transmit(now, packet.len(), ip_header_len(packet));
        let mut w = lock(&self.waiting);
        let mut earliest = false;
        for a in verdict.arrivals() {
            let mut bytes = packet.to_vec();
            a.corrupt(&mut bytes);
            earliest |= w.heap.peek().is_none_or(|Reverse(p)| a.at < p.at);
            let seq = w.seq;
            w.seq += 1;
            w.timing.scheduled += 1;
            w.timing.transit_us_total += a.at.saturating_duration_since(now).as_micros() as u64;
            w.heap.push(Reverse(Pending {
                at: a.at,
                seq,
                bytes,
            }));
        }
        drop(w);
        if earliest {
            self.wake.notify_one();
        }
    }

    /// The release loop: runs until `stop`, then drops what is still waiting.
    fn release(&self, mut egress: Box<dyn Egress>) {
        set_fine_timer_slack();
        let mut due = Vec::new();
        loop {
            let mut w = lock(&self.waiting);
            loop {
                if self.stop.load(Ordering::Relaxed) {
                    return;
                }
                let Some(Reverse(next)) = w.heap.peek() else {
                    w = self
                        .wake
                        .wait_timeout(w, Duration::from_millis(100))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    continue;
                };
                let deadline = self.clock.to_std(next.at);
                let now = std::time::Instant::now();
                if deadline <= now {
                    break;
                }
                let left = deadline - now;
                if left > SPIN {
                    w = self
                        .wake
                        .wait_timeout(w, left - SPIN)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    continue;
                }
                // The last stretch: spin without the lock, so senders are not held up.
                drop(w);
                while std::time::Instant::now() < deadline {
                    std::hint::spin_loop();
                }
                w = lock(&self.waiting);
            }
            let now = std::time::Instant::now();
            while let Some(Reverse(p)) = w.heap.peek() {
                let deadline = self.clock.to_std(p.at);
                if deadline > now {
                    break;
                }
                w.timing.record(now - deadline);
                if let Some(Reverse(p)) = w.heap.pop() {
                    due.push(p.bytes);
                }
            }
            drop(w);
            let mut path = lock(&self.path);
            for p in &due {
                path.delivered(p.len());
            }
            drop(path);
            for p in due.drain(..) {
                egress.deliver(&p);
            }
        }
    }
}

/// Asks the kernel to fire this thread's timers without the default 50 µs of slack.
fn set_fine_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes an integer and affects only the calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// The IP header length of an IPv4 or IPv6 packet (for where corruption may aim).
fn ip_header_len(packet: &[u8]) -> Option<usize> {
    match packet.first()? >> 4 {
        4 => Some(usize::from(packet[0] & 0x0f) * 4),
        6 => Some(40),
        _ => None,
    }
}

/// A handle that puts packets on one direction of a running [`Link`]; cheap to clone.
#[derive(Clone)]
pub struct Ingress {
    dir: Arc<DirState>,
}

impl Ingress {
    /// Sends one packet into the link at the current instant of the link's clock.
    pub fn send(&self, packet: &[u8]) {
        self.dir.send(packet);
    }

    /// The instant of the link's clock now.
    pub fn now(&self) -> Instant {
        self.dir.clock.now()
    }
}

/// An emulated link between two sides, each direction with its own [`LinkConfig`].
///
/// Build it with [`Link::new`], take the [`Ingress`] of each side, then
/// [`start`](Link::start) it with the two [`Egress`]es; dropping the link (or calling
/// [`stop`](Link::stop)) ends the release threads.
pub struct Link {
    /// `dirs[0]` carries A → B, `dirs[1]` B → A.
    dirs: [Arc<DirState>; 2],
    threads: Vec<JoinHandle<()>>,
}

impl Link {
    /// A link whose A → B direction has the impairments `a_to_b` and whose B → A
    /// direction has `b_to_a`; random decisions come from `seed` (one sub-stream per
    /// direction, as in the simulator).
    pub fn new(a_to_b: LinkConfig, b_to_a: LinkConfig, seed: u64) -> Link {
        Link::with_streams(a_to_b, b_to_a, seed, [0, 1])
    }

    /// As [`Link::new`], with the random sub-streams of `seed` that A → B and B → A
    /// draw from chosen: `[1, 0]` gives B → A the draws A → B has on a link built
    /// by `new` with the same seed, so a transfer in either direction meets the same
    /// losses and delays packet by packet (two benchmark rows can then compare
    /// senders on opposite sides fairly).
    pub fn with_streams(
        a_to_b: LinkConfig,
        b_to_a: LinkConfig,
        seed: u64,
        streams: [u64; 2],
    ) -> Link {
        let clock = Clock::new();
        let dir = |cfg, stream| {
            Arc::new(DirState {
                clock,
                path: Mutex::new(LinkPath::new(cfg, SimRng::derive(seed, stream))),
                waiting: Mutex::new(Waiting::default()),
                wake: Condvar::new(),
                stop: AtomicBool::new(false),
            })
        };
        Link {
            dirs: [dir(a_to_b, streams[0]), dir(b_to_a, streams[1])],
            threads: Vec::new(),
        }
    }

    /// The handle through which `from` sends packets towards the other side.
    pub fn ingress(&self, from: Side) -> Ingress {
        Ingress {
            dir: self.dirs[index(from)].clone(),
        }
    }

    /// Starts the release threads: packets for side A go to `to_a`, packets for side B
    /// to `to_b`.
    pub fn start(&mut self, to_a: Box<dyn Egress>, to_b: Box<dyn Egress>) -> std::io::Result<()> {
        for (dir, egress, name) in [
            (self.dirs[0].clone(), to_b, "link-a-to-b"),
            (self.dirs[1].clone(), to_a, "link-b-to-a"),
        ] {
            let t = std::thread::Builder::new()
                .name(name.into())
                .spawn(move || dir.release(egress))?;
            self.threads.push(t);
        }
        Ok(())
    }

    /// The link model's counters of the direction leaving `from`.
    pub fn stats(&self, from: Side) -> LinkStats {
        lock(&self.dirs[index(from)].path).stats()
    }

    /// How punctually the direction leaving `from` released its packets.
    pub fn timing(&self, from: Side) -> Timing {
        lock(&self.dirs[index(from)].waiting).timing
    }

    /// Stops the release threads and waits for them; packets still waiting are dropped.
    pub fn stop(&mut self) {
        for d in &self.dirs {
            d.stop.store(true, Ordering::Relaxed);
            // Take the lock so a thread between its check and its wait sees the flag.
            drop(lock(&d.waiting));
            d.wake.notify_all();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stop();
    }
}

fn index(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    struct ToChannel(mpsc::Sender<(std::time::Instant, Vec<u8>)>);

    impl Egress for ToChannel {
        fn deliver(&mut self, packet: &[u8]) {
            let _ = self.0.send((std::time::Instant::now(), packet.to_vec()));
        }
    }

    fn link(cfg: LinkConfig) -> (Link, mpsc::Receiver<(std::time::Instant, Vec<u8>)>) {
        let mut l = Link::new(cfg.clone(), cfg, 1);
        let (tx_a, _rx_a) = mpsc::channel();
        let (tx_b, rx_b) = mpsc::channel();
        l.start(Box::new(ToChannel(tx_a)), Box::new(ToChannel(tx_b)))
            .expect("start");
        (l, rx_b)
    }

    #[test]
    fn packets_arrive_after_the_delay_in_order() {
        let delay = synack_core::time::Duration::from_millis(5);
        let (l, rx) = link(LinkConfig::with_latency(delay));
        let ingress = l.ingress(Side::A);
        let sent = std::time::Instant::now();
        for i in 0..10u8 {
            ingress.send(&[0x45, i]);
        }
        let got: Vec<_> = (0..10)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).expect("delivered"))
            .collect();
        // Never early: each left no sooner than its arrival instant.
        assert!(got.iter().all(|(t, _)| *t >= sent + delay));
        let order: Vec<u8> = got.iter().map(|(_, p)| p[1]).collect();
        assert_eq!(order, (0..10).collect::<Vec<_>>());
        assert_eq!(l.stats(Side::A).delivered, 10);
        assert_eq!(l.timing(Side::A).released, 10);
        assert_eq!(l.stats(Side::B).sent, 0);
    }

    #[test]
    fn the_rate_spaces_releases_and_none_leaves_early() {
        // 1250-byte packets at 10 Mbit/s: one per millisecond, after a 2 ms delay.
        let cfg = LinkConfig::with_latency(Duration::from_millis(2))
            .bandwidth(10_000_000)
            .queue_bytes(1 << 20);
        let (l, rx) = link(cfg);
        let ingress = l.ingress(Side::A);
        let sent = std::time::Instant::now();
        for i in 0..20u8 {
            let mut p = vec![0x45u8; 1250];
            p[1] = i;
            ingress.send(&p);
        }
        for i in 0..20u64 {
            let (t, p) = rx.recv_timeout(Duration::from_secs(5)).expect("delivered");
            assert_eq!(u64::from(p[1]), i, "in order");
            let due = sent + Duration::from_millis(2 + i + 1);
            assert!(t >= due, "packet {i} left {:?} early", due - t);
        }
        assert_eq!(l.stats(Side::A).delivered, 20);
        // Transit: 2 ms of delay plus 1 to 20 ms of queueing and serialization (how
        // much queueing depends on how quickly this thread sent the 20 packets).
        let mean = l.timing(Side::A).mean_transit_us();
        assert!((3_000.0..=22_000.0).contains(&mean), "{mean}");
    }

    #[test]
    fn the_model_drops_what_it_decides_to_drop() {
        let (l, rx) = link(LinkConfig::with_latency(Duration::ZERO).loss(1.0));
        l.ingress(Side::A).send(&[0x45, 0]);
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
        assert_eq!(l.stats(Side::A).lost, 1);
    }

    #[test]
    fn ip_header_length_comes_from_the_version_nibble() {
        assert_eq!(ip_header_len(&[0x46]), Some(24));
        assert_eq!(ip_header_len(&[0x60]), Some(40));
        assert_eq!(ip_header_len(&[0x10]), None);
        assert_eq!(ip_header_len(&[]), None);
    }
}
