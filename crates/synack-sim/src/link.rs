//! Link models: the impairment configuration of one direction of a link
//! ([`LinkConfig`]), its counters ([`LinkStats`]), and the per-direction state machine
//! that decides, for each packet handed to the link, whether it is dropped (and why) or
//! when each copy of it arrives.
//!
//! The order in which a packet meets the impairments is fixed, and so is the order of
//! random draws, which keeps runs reproducible:
//!
//! 1. partition window (everything sent inside `[start, end)` is dropped);
//! 2. MTU (larger packets are dropped);
//! 3. bandwidth: drop-tail queue check, then serialization after the packets ahead of it
//!    (with a `ce_threshold`, a packet that finds that many bytes queued ahead is
//!    CE-marked when it is ECT, RFC 3168 §5, instead of waiting for the queue to fill);
//! 4. loss: the Gilbert–Elliott chain steps once, then the packet is lost with the
//!    current state's probability; then independent loss;
//! 5. duplication (one extra copy, which skips the queue);
//! 6. per copy: corruption (one bit flipped past the IP header), latency, jitter
//!    (uniform extra delay in `[0, jitter]`, held behind the previous copy if
//!    `in_order`), reordering (extra `reorder_delay`).

use std::collections::VecDeque;

use synack_core::time::{Duration, Instant};

use crate::rng::SimRng;

/// Default drop-tail queue capacity when a bandwidth limit is set: 256 KiB.
pub const DEFAULT_QUEUE_BYTES: usize = 256 * 1024;

/// The Gilbert–Elliott two-state bursty loss model. The chain steps once per packet,
/// then the packet is lost with the loss probability of the state it is in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GilbertElliott {
    /// Probability of moving from the good to the bad state, per packet.
    pub p_good_to_bad: f64,
    /// Probability of moving from the bad to the good state, per packet.
    pub p_bad_to_good: f64,
    /// Loss probability in the good state.
    pub loss_good: f64,
    /// Loss probability in the bad state.
    pub loss_bad: f64,
}

impl GilbertElliott {
    /// A model with all four parameters.
    pub fn new(p_good_to_bad: f64, p_bad_to_good: f64, loss_good: f64, loss_bad: f64) -> Self {
        GilbertElliott {
            p_good_to_bad,
            p_bad_to_good,
            loss_good,
            loss_bad,
        }
    }

    /// The simple Gilbert model: nothing is lost in the good state, everything in the bad
    /// one. The mean burst length is `1 / p_bad_to_good` packets.
    pub fn gilbert(p_good_to_bad: f64, p_bad_to_good: f64) -> Self {
        GilbertElliott::new(p_good_to_bad, p_bad_to_good, 0.0, 1.0)
    }

    /// The long-run fraction of packets lost by this model alone.
    pub fn steady_state_loss(&self) -> f64 {
        let total = self.p_good_to_bad + self.p_bad_to_good;
        if total <= 0.0 {
            return self.loss_good;
        }
        let pi_bad = self.p_good_to_bad / total;
        (1.0 - pi_bad) * self.loss_good + pi_bad * self.loss_bad
    }
}

/// A window `[start, end)` during which the link drops everything sent on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    /// First instant of the outage.
    pub start: Instant,
    /// First instant after the outage (the link heals at `end`).
    pub end: Instant,
}

impl Partition {
    /// True if `t` falls inside the window.
    pub fn contains(&self, t: Instant) -> bool {
        self.start <= t && t < self.end
    }
}

/// The impairments of one direction of a link. `LinkConfig::default()` is a clean link
/// with 10 ms of latency, no bandwidth limit and no MTU limit; the builder-style setters
/// add impairments:
///
/// ```
/// use synack_core::time::Duration;
/// use synack_sim::LinkConfig;
/// let cfg = LinkConfig::default()
///     .latency(Duration::from_millis(20))
///     .jitter(Duration::from_millis(2))
///     .loss(0.01)
///     .bandwidth(10_000_000)
///     .mtu(1500);
/// assert_eq!(cfg.loss, 0.01);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` per packet (can reorder packets).
    pub jitter: Duration,
    /// Independent loss probability per packet.
    pub loss: f64,
    /// Bursty loss, applied before the independent loss.
    pub burst_loss: Option<GilbertElliott>,
    /// Probability that a packet is delivered twice.
    pub duplicate: f64,
    /// Probability that a packet is held back by an extra [`reorder_delay`](Self::reorder_delay).
    pub reorder: f64,
    /// The extra delay of a reordered packet.
    pub reorder_delay: Duration,
    /// Probability that one bit of a packet is flipped (past the IP header, so the
    /// transport checksum catches it).
    pub corrupt: f64,
    /// Bandwidth in bits per second (`None`: infinite, no queue).
    pub bandwidth: Option<u64>,
    /// Capacity of the drop-tail queue in bytes, counting the packet being serialized;
    /// only used with a bandwidth limit. A packet arriving at an empty queue is always
    /// accepted.
    pub queue_bytes: usize,
    /// Largest packet the link carries, in bytes of IP packet (`None`: no limit).
    pub mtu: Option<usize>,
    /// Outage windows.
    pub partitions: Vec<Partition>,
    /// Keep jitter from reordering: a copy never arrives before the copy scheduled
    /// just before it on this direction (explicit [`reorder`](Self::reorder) still
    /// reorders). Off by default.
    pub in_order: bool,
    /// ECN marking (RFC 3168 §5): a packet that finds at least this many bytes in the
    /// queue ahead of it is CE-marked if it is ECT (a step-marking AQM); Not-ECT
    /// packets only meet the drop-tail limit. Only with a bandwidth limit; `None`
    /// (the default): no marking.
    pub ce_threshold: Option<usize>,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            burst_loss: None,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            corrupt: 0.0,
            bandwidth: None,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            mtu: None,
            partitions: Vec::new(),
            in_order: false,
            ce_threshold: None,
        }
    }
}

impl LinkConfig {
    /// A clean link with the given latency.
    pub fn with_latency(latency: Duration) -> Self {
        LinkConfig::default().latency(latency)
    }

    /// Sets the one-way latency.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the jitter bound.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the independent loss probability.
    pub fn loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }

    /// Sets the bursty (Gilbert–Elliott) loss model.
    pub fn burst_loss(mut self, model: GilbertElliott) -> Self {
        self.burst_loss = Some(model);
        self
    }

    /// Sets the duplication probability.
    pub fn duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }

    /// Holds back a fraction `p` of packets by an extra `delay`.
    pub fn reorder(mut self, p: f64, delay: Duration) -> Self {
        self.reorder = p;
        self.reorder_delay = delay;
        self
    }

    /// Sets the corruption probability.
    pub fn corrupt(mut self, p: f64) -> Self {
        self.corrupt = p;
        self
    }

    /// Limits the bandwidth to `bits_per_sec` (0 is treated as 1 bit/s).
    pub fn bandwidth(mut self, bits_per_sec: u64) -> Self {
        self.bandwidth = Some(bits_per_sec);
        self
    }

    /// CE-marks ECT packets that find at least `bytes` queued ahead of them.
    pub fn ce_threshold(mut self, bytes: usize) -> Self {
        self.ce_threshold = Some(bytes);
        self
    }

    /// Sets the drop-tail queue capacity in bytes.
    pub fn queue_bytes(mut self, bytes: usize) -> Self {
        self.queue_bytes = bytes;
        self
    }

    /// Sets the MTU in bytes.
    pub fn mtu(mut self, mtu: usize) -> Self {
        self.mtu = Some(mtu);
        self
    }

    /// Adds an outage window `[at, heal_at)`.
    pub fn partition(mut self, at: Instant, heal_at: Instant) -> Self {
        self.partitions.push(Partition {
            start: at,
            end: heal_at,
        });
        self
    }

    /// Keeps jitter from reordering packets (see [`in_order`](Self::in_order)).
    pub fn in_order(mut self, in_order: bool) -> Self {
        self.in_order = in_order;
        self
    }

    /// True if a partition window covers `t`.
    pub fn is_partitioned(&self, t: Instant) -> bool {
        self.partitions.iter().any(|p| p.contains(t))
    }
}

/// Why the network dropped a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// Independent random loss.
    Loss,
    /// Lost by the Gilbert–Elliott bursty loss model.
    BurstLoss,
    /// The drop-tail queue was full.
    Queue,
    /// Larger than the link MTU.
    Mtu,
    /// Sent during a partition window.
    Partition,
    /// No host owns the destination address, or no link leads to it.
    NoRoute,
}

impl DropReason {
    /// A short lowercase name ("loss", "queue", ...), for traces and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::BurstLoss => "burst-loss",
            DropReason::Queue => "queue",
            DropReason::Mtu => "mtu",
            DropReason::Partition => "partition",
            DropReason::NoRoute => "no-route",
        }
    }
}

/// Counters of one direction of a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets handed to the link.
    pub sent: u64,
    /// Bytes handed to the link.
    pub sent_bytes: u64,
    /// Packet copies delivered to the far end (duplicates included).
    pub delivered: u64,
    /// Bytes delivered to the far end.
    pub delivered_bytes: u64,
    /// Packets lost to random loss (independent or bursty).
    pub lost: u64,
    /// Extra copies created by duplication.
    pub duplicated: u64,
    /// Copies held back by the reordering delay.
    pub reordered: u64,
    /// Copies with a flipped bit.
    pub corrupted: u64,
    /// Packets dropped because the queue was full.
    pub dropped_queue: u64,
    /// Packets dropped for exceeding the MTU.
    pub dropped_mtu: u64,
    /// Packets dropped during a partition.
    pub dropped_partition: u64,
    /// Largest queue occupancy seen, in bytes.
    pub max_queue_bytes: u64,
    /// Copies that found the queue at or above `ce_threshold` (CE-marked if ECT).
    pub ce_marked: u64,
}

impl LinkStats {
    /// All packets dropped for any reason.
    pub fn dropped(&self) -> u64 {
        self.lost + self.dropped_queue + self.dropped_mtu + self.dropped_partition
    }

    fn count_drop(&mut self, reason: DropReason) {
        match reason {
            DropReason::Loss | DropReason::BurstLoss => self.lost += 1,
            DropReason::Queue => self.dropped_queue += 1,
            DropReason::Mtu => self.dropped_mtu += 1,
            DropReason::Partition => self.dropped_partition += 1,
            DropReason::NoRoute => {}
        }
    }
}

/// One copy of a packet that survives the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// When it reaches the far end.
    pub at: Instant,
    /// Byte offset and bit mask to flip, if corrupted.
    pub flip: Option<(usize, u8)>,
    /// Whether it got the reordering delay.
    pub reordered: bool,
    /// Whether it found the queue at or above the link's `ce_threshold`: an ECT
    /// packet is CE-marked on arrival.
    pub ce: bool,
}

impl Arrival {
    /// Applies what the link decided for this copy to the packet's bytes: the CE mark
    /// (on an ECT packet only, RFC 3168 §5; the IPv4 header checksum is kept valid)
    /// and the corruption (if any).
    pub fn corrupt(&self, packet: &mut [u8]) {
        if self.ce && synack_wire::ecn::of_packet(packet) != synack_wire::ecn::NOT_ECT {
            synack_wire::ecn::set_on_packet(packet, synack_wire::ecn::CE);
        }
        if let Some((offset, bit)) = self.flip {
            if let Some(b) = packet.get_mut(offset) {
                *b ^= bit;
            }
        }
    }
}

/// What the link does with one packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Dropped.
    Drop(DropReason),
    /// Delivered once or (duplication) twice; the second is the duplicate.
    Deliver(Arrival, Option<Arrival>),
}

impl Verdict {
    /// The copies that arrive (none, one, or two with duplication).
    pub fn arrivals(&self) -> impl Iterator<Item = Arrival> + '_ {
        let (first, dup) = match self {
            Verdict::Drop(_) => (None, None),
            Verdict::Deliver(a, d) => (Some(*a), *d),
        };
        first.into_iter().chain(dup)
    }
}

/// One direction of a link: its [`LinkConfig`], counters and state (queue, bursty-loss
/// state, random generator). The same code decides the fate of packets in the
/// simulator's virtual time and in a real-time emulator: the caller passes `now` in
/// and gets back when each copy arrives, and nothing here reads a clock. A path built
/// from the same configuration and generator, fed the same `(now, len)` sequence,
/// gives the same verdicts.
///
/// ```
/// use synack_core::time::{Duration, Instant};
/// use synack_sim::link::{LinkPath, Verdict};
/// use synack_sim::{LinkConfig, SimRng};
/// let cfg = LinkConfig::with_latency(Duration::from_millis(25)).bandwidth(100_000_000);
/// let mut path = LinkPath::new(cfg, SimRng::new(1));
/// // 1500 bytes at 100 Mbit/s take 120 µs to serialize, then 25 ms to propagate.
/// let v = path.transmit(Instant::ZERO, 1500, Some(20));
/// let at: Vec<_> = v.arrivals().map(|a| a.at).collect();
/// assert_eq!(at, vec![Instant::from_micros(25_120)]);
/// ```
#[derive(Debug)]
pub struct LinkPath {
    pub(crate) config: LinkConfig,
    pub(crate) stats: LinkStats,
    rng: SimRng,
    ge_bad: bool,
    /// Packets in the queue: (time serialization completes, length).
    queue: VecDeque<(Instant, usize)>,
    queued_bytes: usize,
    /// Latest arrival scheduled without the reordering delay (for `in_order`).
    last_arrival: Instant,
}

/// Time to put `len` bytes on a wire of `bps` bits per second, rounded up to whole µs.
fn serialization_delay(len: usize, bps: u64) -> Duration {
    let bits = (len as u128) * 8 * 1_000_000;
    let bps = u128::from(bps.max(1));
    let micros = bits.div_ceil(bps);
    Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl LinkPath {
    /// A path with the impairments of `config`, drawing its random decisions from
    /// `rng`, starting empty (no queue, good bursty-loss state).
    pub fn new(config: LinkConfig, rng: SimRng) -> Self {
        LinkPath {
            config,
            stats: LinkStats::default(),
            rng,
            ge_bad: false,
            queue: VecDeque::new(),
            queued_bytes: 0,
            last_arrival: Instant::ZERO,
        }
    }

    /// Decides the fate of a packet of `len` bytes sent at `now`, whose IP header is
    /// `ip_header_len` bytes long (if known). Updates the counters for everything except
    /// delivery, which the caller counts with [`delivered`](Self::delivered) when it
    /// happens.
    pub fn transmit(&mut self, now: Instant, len: usize, ip_header_len: Option<usize>) -> Verdict {
        self.stats.sent += 1;
        self.stats.sent_bytes += len as u64;
        match self.decide(now, len, ip_header_len) {
            Verdict::Drop(reason) => {
                self.stats.count_drop(reason);
                Verdict::Drop(reason)
            }
            v @ Verdict::Deliver(first, dup) => {
                for a in std::iter::once(first).chain(dup) {
                    self.stats.corrupted += u64::from(a.flip.is_some());
                    self.stats.reordered += u64::from(a.reordered);
                    self.stats.ce_marked += u64::from(a.ce);
                }
                self.stats.duplicated += u64::from(dup.is_some());
                v
            }
        }
    }

    /// Counts the delivery of one copy of `len` bytes to the far end.
    pub fn delivered(&mut self, len: usize) {
        self.stats.delivered += 1;
        self.stats.delivered_bytes += len as u64;
    }

    /// The impairments.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Changes the impairments from now on (the queue and the loss state are kept).
    pub fn set_config(&mut self, config: LinkConfig) {
        self.config = config;
    }

    /// The counters so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Bytes in the drop-tail queue at `now` (0 without a bandwidth limit), counting
    /// the packet being serialized.
    pub fn queued_bytes(&self, now: Instant) -> usize {
        self.queue
            .iter()
            .filter(|&&(done, _)| done > now)
            .map(|&(_, l)| l)
            .sum()
    }

    fn decide(&mut self, now: Instant, len: usize, ip_header_len: Option<usize>) -> Verdict {
        if self.config.is_partitioned(now) {
            return Verdict::Drop(DropReason::Partition);
        }
        if self.config.mtu.is_some_and(|mtu| len > mtu) {
            return Verdict::Drop(DropReason::Mtu);
        }
        let (departure, ce) = match self.config.bandwidth {
            None => (now, false),
            Some(bps) => match self.enqueue(now, len, bps) {
                Some(t) => t,
                None => return Verdict::Drop(DropReason::Queue),
            },
        };
        if let Some(ge) = self.config.burst_loss {
            let flip = if self.ge_bad {
                ge.p_bad_to_good
            } else {
                ge.p_good_to_bad
            };
            if self.rng.chance(flip) {
                self.ge_bad = !self.ge_bad;
            }
            let p = if self.ge_bad {
                ge.loss_bad
            } else {
                ge.loss_good
            };
            if self.rng.chance(p) {
                return Verdict::Drop(DropReason::BurstLoss);
            }
        }
        if self.rng.chance(self.config.loss) {
            return Verdict::Drop(DropReason::Loss);
        }
        let duplicate = self.rng.chance(self.config.duplicate);
        let mut first = self.copy(departure, len, ip_header_len);
        first.ce = ce;
        let second = duplicate.then(|| self.copy(departure, len, ip_header_len));
        Verdict::Deliver(first, second)
    }

    /// Puts a packet in the drop-tail queue; returns when its last bit leaves and
    /// whether it found the queue at or above `ce_threshold`, or `None` if the queue
    /// is full.
    fn enqueue(&mut self, now: Instant, len: usize, bps: u64) -> Option<(Instant, bool)> {
        while let Some(&(done, l)) = self.queue.front() {
            if done > now {
                break;
            }
            self.queue.pop_front();
            self.queued_bytes -= l;
        }
        if !self.queue.is_empty() && self.queued_bytes + len > self.config.queue_bytes {
            return None;
        }
        let ce = self
            .config
            .ce_threshold
            .is_some_and(|t| self.queued_bytes >= t);
        let start = self.queue.back().map_or(now, |&(done, _)| done.max(now));
        let done = start + serialization_delay(len, bps);
        self.queue.push_back((done, len));
        self.queued_bytes += len;
        self.stats.max_queue_bytes = self.stats.max_queue_bytes.max(self.queued_bytes as u64);
        Some((done, ce))
    }

    fn copy(&mut self, departure: Instant, len: usize, ip_header_len: Option<usize>) -> Arrival {
        let flip = if len > 0 && self.rng.chance(self.config.corrupt) {
            let start = match ip_header_len {
                Some(h) if h < len => h,
                _ => 0,
            };
            let offset = start + self.rng.below((len - start) as u64) as usize;
            let bit = 1u8 << self.rng.below(8);
            Some((offset, bit))
        } else {
            None
        };
        let mut at = departure + self.config.latency;
        if !self.config.jitter.is_zero() {
            at += Duration::from_micros(self.rng.up_to(micros(self.config.jitter)));
        }
        if self.config.in_order {
            at = at.max(self.last_arrival);
            self.last_arrival = at;
        }
        let reordered = self.rng.chance(self.config.reorder);
        if reordered {
            at += self.config.reorder_delay;
        }
        Arrival {
            at,
            flip,
            reordered,
            ce: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(cfg: LinkConfig) -> LinkPath {
        LinkPath::new(cfg, SimRng::new(42))
    }

    fn arrival(v: Verdict) -> Arrival {
        match v {
            Verdict::Deliver(a, None) => a,
            other => panic!("expected one delivery, got {other:?}"),
        }
    }

    #[test]
    fn clean_link_delivers_after_latency() {
        let mut d = dir(LinkConfig::default());
        let a = arrival(d.transmit(Instant::from_millis(5), 100, Some(20)));
        assert_eq!(a.at, Instant::from_millis(15));
        assert_eq!(a.flip, None);
        assert_eq!(d.stats.sent, 1);
        assert_eq!(d.stats.dropped(), 0);
    }

    #[test]
    fn serialization_delay_rounds_up() {
        assert_eq!(
            serialization_delay(1250, 10_000_000),
            Duration::from_micros(1000)
        );
        assert_eq!(serialization_delay(1, 3_000_000), Duration::from_micros(3));
        assert_eq!(serialization_delay(1, 0), Duration::from_secs(8));
    }

    #[test]
    fn queue_serializes_back_to_back_and_drops_when_full() {
        // 1250 bytes at 10 Mbit/s = 1 ms each; queue holds 3 packets.
        let cfg = LinkConfig::default()
            .latency(Duration::ZERO)
            .bandwidth(10_000_000)
            .queue_bytes(3 * 1250);
        let mut d = dir(cfg);
        let t0 = Instant::from_secs(1);
        let times: Vec<_> = (0..3)
            .map(|_| arrival(d.transmit(t0, 1250, None)).at)
            .collect();
        assert_eq!(
            times,
            vec![
                t0 + Duration::from_millis(1),
                t0 + Duration::from_millis(2),
                t0 + Duration::from_millis(3)
            ]
        );
        assert_eq!(d.transmit(t0, 1250, None), Verdict::Drop(DropReason::Queue));
        // After the first packet left, there is room for one more, behind the others.
        let t1 = t0 + Duration::from_millis(1);
        assert_eq!(
            arrival(d.transmit(t1, 1250, None)).at,
            t0 + Duration::from_millis(4)
        );
        assert_eq!(d.stats.dropped_queue, 1);
        assert_eq!(d.stats.max_queue_bytes, 3 * 1250);
    }

    #[test]
    fn empty_queue_accepts_an_oversized_packet() {
        let cfg = LinkConfig::default().bandwidth(1_000_000).queue_bytes(10);
        let mut d = dir(cfg);
        assert!(matches!(
            d.transmit(Instant::ZERO, 100, None),
            Verdict::Deliver(..)
        ));
        assert_eq!(
            d.transmit(Instant::ZERO, 100, None),
            Verdict::Drop(DropReason::Queue)
        );
    }

    #[test]
    fn mtu_and_partition_drop() {
        let cfg = LinkConfig::default()
            .mtu(1500)
            .partition(Instant::from_secs(1), Instant::from_secs(2));
        let mut d = dir(cfg);
        assert_eq!(
            d.transmit(Instant::ZERO, 1501, None),
            Verdict::Drop(DropReason::Mtu)
        );
        assert!(matches!(
            d.transmit(Instant::ZERO, 1500, None),
            Verdict::Deliver(..)
        ));
        assert_eq!(
            d.transmit(Instant::from_secs(1), 10, None),
            Verdict::Drop(DropReason::Partition)
        );
        assert!(matches!(
            d.transmit(Instant::from_secs(2), 10, None),
            Verdict::Deliver(..)
        ));
        assert_eq!(d.stats.dropped_mtu, 1);
        assert_eq!(d.stats.dropped_partition, 1);
    }

    #[test]
    fn corruption_aims_past_the_ip_header() {
        let mut d = dir(LinkConfig::default().corrupt(1.0));
        for _ in 0..200 {
            let (off, bit) = arrival(d.transmit(Instant::ZERO, 60, Some(20)))
                .flip
                .unwrap();
            assert!((20..60).contains(&off));
            assert_eq!(bit.count_ones(), 1);
        }
        assert_eq!(d.stats.corrupted, 200);
    }

    #[test]
    fn jitter_stays_in_bounds() {
        let cfg = LinkConfig::default().jitter(Duration::from_millis(5));
        let mut d = dir(cfg);
        let mut distinct = std::collections::BTreeSet::new();
        for _ in 0..1000 {
            let at = arrival(d.transmit(Instant::ZERO, 10, None)).at;
            assert!(at >= Instant::from_millis(10) && at <= Instant::from_millis(15));
            distinct.insert(at);
        }
        assert!(distinct.len() > 100);
    }

    #[test]
    fn in_order_keeps_jitter_from_reordering() {
        let cfg = LinkConfig::default().jitter(Duration::from_millis(5));
        let mut free = dir(cfg.clone());
        let mut fifo = dir(cfg.in_order(true));
        let send = |d: &mut LinkPath| -> Vec<Instant> {
            (0..500)
                .map(|i| arrival(d.transmit(Instant::from_micros(i * 100), 10, None)).at)
                .collect()
        };
        let a = send(&mut free);
        let b = send(&mut fifo);
        assert!(a.windows(2).any(|w| w[1] < w[0]));
        assert!(b.windows(2).all(|w| w[1] >= w[0]));
        assert!(b.iter().zip(&a).all(|(x, y)| x >= y));
    }

    #[test]
    fn gilbert_elliott_loss_is_bursty_and_near_steady_state() {
        let ge = GilbertElliott::gilbert(0.01, 0.25);
        let mut d = dir(LinkConfig::default().burst_loss(ge));
        let n = 200_000;
        let lost: Vec<bool> = (0..n)
            .map(|_| matches!(d.transmit(Instant::ZERO, 10, None), Verdict::Drop(_)))
            .collect();
        let rate = lost.iter().filter(|&&l| l).count() as f64 / n as f64;
        let expect = ge.steady_state_loss();
        assert!(
            (rate - expect).abs() < 0.2 * expect,
            "rate {rate} vs {expect}"
        );
        // Bursts: P(lost | previous lost) is far above the mean loss rate.
        let pairs = lost.windows(2).filter(|w| w[0]).count() as f64;
        let both = lost.windows(2).filter(|w| w[0] && w[1]).count() as f64;
        assert!(both / pairs > 0.6, "conditional loss {}", both / pairs);
    }
}
