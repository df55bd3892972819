//! The simulated network and its harness: hosts with IP addresses, point-to-point links
//! between pairs of hosts (each direction with its own impairments, random stream and
//! counters), routing by destination address, captures, observers, and the
//! discrete-event loop that drives the hosts in virtual time.
//!
//! A run is a pure function of the seed and of what the caller does: every random
//! decision comes from per-link-direction generators derived from the seed, events at
//! the same instant run in scheduling order, and nothing reads a clock.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::IpAddr;

use synack_core::time::{Duration, Instant};

use crate::event::EventQueue;
use crate::host::{AnyHost, Host};
use crate::ip;
use crate::link::{Arrival, DropReason, LinkConfig, LinkPath, LinkStats, Partition, Verdict};
use crate::pcap::{CapturePoint, CapturedPacket, PcapSink};
use crate::rng::SimRng;
use crate::trace::{Fate, LinkEvent, LinkEventKind, Observer, PacketId, PacketLog, PacketRecord};

/// Size of the buffer handed to [`Host::poll_transmit`].
pub const TRANSMIT_BUF_LEN: usize = 65_536 + 1024;

/// How many timeouts a host may handle in a row at the same instant before a deadline
/// that is still not in the future is pushed 1 µs ahead (see [`Network::step`]).
pub const MAX_FIRES_PER_INSTANT: u32 = 64;

/// Random streams at or above this value are reserved for [`Network::derive_rng`]; link
/// directions use streams below it.
const USER_STREAM_BASE: u64 = 1 << 63;

/// Identifies a host in a [`Network`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(usize);

impl HostId {
    /// The host's index, in order of [`Network::add_host`] calls (from 0).
    pub fn index(self) -> usize {
        self.0
    }
}

/// Identifies a link in a [`Network`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(usize);

impl LinkId {
    /// The link's index, in order of creation (from 0).
    pub fn index(self) -> usize {
        self.0
    }
}

/// Identifies a capture tap in a [`Network`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaptureId(usize);

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every host is idle and no packet is in flight.
    Idle,
    /// The deadline was reached first; the clock now reads the deadline.
    Deadline,
    /// Nothing is scheduled any more (no packet in flight, no timer) but some host is
    /// not idle: nothing will ever change without outside input.
    Stalled,
}

impl RunOutcome {
    /// True for [`RunOutcome::Idle`].
    pub fn is_idle(self) -> bool {
        self == RunOutcome::Idle
    }
}

/// Network-wide counters (per-link counters are in [`LinkStats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Packets sent by hosts.
    pub packets_sent: u64,
    /// Packets no link could carry ([`DropReason::NoRoute`]).
    pub unroutable: u64,
    /// Events processed (deliveries and host timers).
    pub events: u64,
}

enum Event {
    Deliver(Box<Delivery>),
    Timer { host: HostId, generation: u64 },
}

struct Delivery {
    link: LinkId,
    dir: usize,
    packet: PacketId,
    sent_at: Instant,
    bytes: Vec<u8>,
}

struct HostSlot {
    host: Box<dyn AnyHost>,
    addrs: Vec<IpAddr>,
    default_link: Option<LinkId>,
    /// The deadline currently scheduled, and its generation (older timer events are
    /// stale and ignored).
    timer: Option<Instant>,
    timer_generation: u64,
    /// Touched from outside since it was last polled.
    dirty: bool,
    /// Timeouts handled in a row at the current instant (livelock guard).
    fires_at_now: u32,
    last_fire: Instant,
}

struct Link {
    /// `dirs[0]` carries `ends[0] -> ends[1]`, `dirs[1]` the reverse.
    ends: [HostId; 2],
    dirs: [LinkPath; 2],
}

enum Sink {
    Memory(Vec<CapturedPacket>),
    Pcap(PcapSink),
}

struct Tap {
    link: Option<LinkId>,
    point: CapturePoint,
    sink: Sink,
}

/// A simulated network of [`Host`]s joined by impaired links, driven in virtual time.
///
/// ```
/// use synack_sim::{Host, LinkConfig, Network};
/// use synack_core::time::Instant;
///
/// struct Quiet;
/// impl Host for Quiet {
///     fn handle_packet(&mut self, _: Instant, _: &[u8]) {}
///     fn handle_timeout(&mut self, _: Instant) {}
///     fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<usize> { None }
///     fn poll_timeout(&mut self) -> Option<Instant> { None }
///     fn is_idle(&self) -> bool { true }
/// }
///
/// let mut net = Network::new(1);
/// let a = net.add_host(Quiet, ["10.0.0.1".parse().unwrap()]);
/// let b = net.add_host(Quiet, ["10.0.0.2".parse().unwrap()]);
/// net.add_link(a, b, LinkConfig::default());
/// assert!(net.run_until_idle(Instant::from_secs(10)).is_idle());
/// ```
pub struct Network {
    seed: u64,
    now: Instant,
    queue: EventQueue<Event>,
    hosts: Vec<HostSlot>,
    links: Vec<Link>,
    addrs: HashMap<IpAddr, HostId>,
    /// The first link between each (ordered) pair of hosts.
    pairs: HashMap<(HostId, HostId), LinkId>,
    taps: Vec<Tap>,
    observers: Vec<Box<dyn Observer>>,
    log: Option<PacketLog>,
    next_packet: u64,
    in_flight: usize,
    buf: Vec<u8>,
    stats: NetworkStats,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("seed", &self.seed)
            .field("now", &self.now)
            .field("hosts", &self.hosts.len())
            .field("links", &self.links.len())
            .field("in_flight", &self.in_flight)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Network {
    /// An empty network whose randomness all derives from `seed`; the clock starts at
    /// [`Instant::ZERO`].
    pub fn new(seed: u64) -> Self {
        Network {
            seed,
            now: Instant::ZERO,
            queue: EventQueue::new(),
            hosts: Vec::new(),
            links: Vec::new(),
            addrs: HashMap::new(),
            pairs: HashMap::new(),
            taps: Vec::new(),
            observers: Vec::new(),
            log: None,
            next_packet: 0,
            in_flight: 0,
            buf: vec![0; TRANSMIT_BUF_LEN],
            stats: NetworkStats::default(),
        }
    }

    /// The seed this network was created with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// A generator for the caller's own use (a host's ISN key, port choice...), derived
    /// from the network seed and `stream`, independent of the links' generators.
    pub fn derive_rng(&self, stream: u64) -> SimRng {
        SimRng::derive(self.seed, USER_STREAM_BASE | stream)
    }

    // ----- topology -----

    /// Adds a host owning `addrs`. The host is polled (transmit and timeout) at the
    /// start of the next step, so it may already have packets queued.
    ///
    /// # Panics
    /// If an address already belongs to another host.
    pub fn add_host<H: Host + 'static>(
        &mut self,
        host: H,
        addrs: impl IntoIterator<Item = IpAddr>,
    ) -> HostId {
        let id = HostId(self.hosts.len());
        self.hosts.push(HostSlot {
            host: Box::new(host),
            addrs: Vec::new(),
            default_link: None,
            timer: None,
            timer_generation: 0,
            dirty: true,
            fires_at_now: 0,
            last_fire: Instant::ZERO,
        });
        for addr in addrs {
            self.add_address(id, addr);
        }
        id
    }

    /// Gives `host` one more address.
    ///
    /// # Panics
    /// If the address already belongs to another host, or `host` is not in this network.
    pub fn add_address(&mut self, host: HostId, addr: IpAddr) {
        assert!(host.0 < self.hosts.len(), "unknown host {host:?}");
        if let Some(owner) = self.addrs.get(&addr) {
            assert_eq!(*owner, host, "address {addr} already belongs to {owner:?}");
            return;
        }
        self.addrs.insert(addr, host);
        self.hosts[host.0].addrs.push(addr);
    }

    /// Number of hosts.
    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    /// Every host id, in creation order.
    pub fn host_ids(&self) -> impl Iterator<Item = HostId> {
        (0..self.hosts.len()).map(HostId)
    }

    /// Number of links.
    pub fn link_count(&self) -> usize {
        self.links.len()
    }

    /// Every link id, in creation order.
    pub fn link_ids(&self) -> impl Iterator<Item = LinkId> {
        (0..self.links.len()).map(LinkId)
    }

    /// The addresses of `host`, in the order they were added.
    pub fn host_addrs(&self, host: HostId) -> &[IpAddr] {
        &self.hosts[host.0].addrs
    }

    /// The host owning `addr`.
    pub fn host_by_addr(&self, addr: IpAddr) -> Option<HostId> {
        self.addrs.get(&addr).copied()
    }

    /// Adds a link between `a` and `b` with the same impairments in both directions
    /// (each direction keeps its own state and random stream).
    pub fn add_link(&mut self, a: HostId, b: HostId, config: LinkConfig) -> LinkId {
        self.add_link_asymmetric(a, b, config.clone(), config)
    }

    /// Adds a link between `a` and `b` with `a_to_b` impairing packets from `a` to `b`
    /// and `b_to_a` the reverse.
    ///
    /// # Panics
    /// If `a == b` or either host is not in this network.
    pub fn add_link_asymmetric(
        &mut self,
        a: HostId,
        b: HostId,
        a_to_b: LinkConfig,
        b_to_a: LinkConfig,
    ) -> LinkId {
        assert!(
            a.0 < self.hosts.len() && b.0 < self.hosts.len(),
            "unknown host"
        );
        assert_ne!(a, b, "a link joins two different hosts");
        let id = LinkId(self.links.len());
        self.pairs.entry((a, b)).or_insert(id);
        self.pairs.entry((b, a)).or_insert(id);
        let stream = (id.0 as u64) * 2;
        self.links.push(Link {
            ends: [a, b],
            dirs: [
                LinkPath::new(a_to_b, SimRng::derive(self.seed, stream)),
                LinkPath::new(b_to_a, SimRng::derive(self.seed, stream + 1)),
            ],
        });
        id
    }

    /// The two hosts of `link`, in the order given to [`add_link`](Self::add_link).
    pub fn link_ends(&self, link: LinkId) -> (HostId, HostId) {
        let ends = self.links[link.0].ends;
        (ends[0], ends[1])
    }

    /// Sends `host`'s packets whose destination no directly linked host owns over
    /// `link` (a default route); the host at the far end receives them as they are.
    ///
    /// # Panics
    /// If `host` is not an end of `link`.
    pub fn set_default_link(&mut self, host: HostId, link: LinkId) {
        self.dir_index(link, host);
        self.hosts[host.0].default_link = Some(link);
    }

    fn dir_index(&self, link: LinkId, from: HostId) -> usize {
        let ends = self.links[link.0].ends;
        match ends.iter().position(|&h| h == from) {
            Some(i) => i,
            None => panic!("{from:?} is not an end of {link:?}"),
        }
    }

    /// The impairments of `link` for packets sent by `from`.
    ///
    /// # Panics
    /// If `from` is not an end of `link`.
    pub fn link_config(&self, link: LinkId, from: HostId) -> &LinkConfig {
        let d = self.dir_index(link, from);
        &self.links[link.0].dirs[d].config
    }

    /// Changes the impairments of `link` for packets sent by `from`, from now on
    /// (packets in flight keep their schedule).
    ///
    /// # Panics
    /// If `from` is not an end of `link`.
    pub fn link_config_mut(&mut self, link: LinkId, from: HostId) -> &mut LinkConfig {
        let d = self.dir_index(link, from);
        &mut self.links[link.0].dirs[d].config
    }

    /// Cuts `link` in both directions for packets sent in `[at, heal_at)`.
    pub fn partition(&mut self, link: LinkId, at: Instant, heal_at: Instant) {
        for dir in &mut self.links[link.0].dirs {
            dir.config.partitions.push(Partition {
                start: at,
                end: heal_at,
            });
        }
    }

    /// The counters of `link` for packets sent by `from`.
    ///
    /// # Panics
    /// If `from` is not an end of `link`.
    pub fn link_stats(&self, link: LinkId, from: HostId) -> LinkStats {
        let d = self.dir_index(link, from);
        self.links[link.0].dirs[d].stats
    }

    /// Network-wide counters.
    pub fn stats(&self) -> NetworkStats {
        self.stats
    }

    // ----- hosts -----

    /// The host `id` as its concrete type, if it is a `T`.
    pub fn host<T: Host + 'static>(&self, id: HostId) -> Option<&T> {
        self.hosts.get(id.0)?.host.as_any().downcast_ref()
    }

    /// The host `id` as its concrete type, if it is a `T`. The host is marked as touched
    /// and polled (transmit, timeout) at the start of the next step, so packets queued
    /// through this reference go out at the current time.
    pub fn host_mut<T: Host + 'static>(&mut self, id: HostId) -> Option<&mut T> {
        let slot = self.hosts.get_mut(id.0)?;
        slot.dirty = true;
        slot.host.as_any_mut().downcast_mut()
    }

    /// The host `id` as a trait object (marked as touched, like
    /// [`host_mut`](Self::host_mut)).
    pub fn host_dyn_mut(&mut self, id: HostId) -> &mut dyn Host {
        let slot = &mut self.hosts[id.0];
        slot.dirty = true;
        slot.host.as_host_mut()
    }

    /// Marks `host` to be polled at the start of the next step.
    pub fn wake(&mut self, host: HostId) {
        self.hosts[host.0].dirty = true;
    }

    // ----- observation -----

    /// Adds an observer that sees every [`LinkEvent`] from now on.
    pub fn add_observer(&mut self, observer: impl Observer + 'static) {
        self.observers.push(Box::new(observer));
    }

    /// Starts keeping a [`PacketRecord`] (with bytes) for every packet sent from now on.
    pub fn enable_packet_log(&mut self) {
        if self.log.is_none() {
            self.log = Some(PacketLog::starting_at(PacketId(self.next_packet)));
        }
    }

    /// The packet log, if enabled.
    pub fn packet_log(&self) -> Option<&PacketLog> {
        self.log.as_ref()
    }

    /// Captures packets in memory: those on `link` (or on every link if `None`), as
    /// seen at `point`.
    pub fn capture(&mut self, link: Option<LinkId>, point: CapturePoint) -> CaptureId {
        self.taps.push(Tap {
            link,
            point,
            sink: Sink::Memory(Vec::new()),
        });
        CaptureId(self.taps.len() - 1)
    }

    /// Captures packets into a pcap file written to `writer`: those on `link` (or on
    /// every link if `None`), as seen at `point`. Both directions go to the one file.
    pub fn capture_pcap(
        &mut self,
        link: Option<LinkId>,
        point: CapturePoint,
        writer: impl Write + 'static,
    ) -> io::Result<CaptureId> {
        let sink = PcapSink::new(writer)?;
        self.taps.push(Tap {
            link,
            point,
            sink: Sink::Pcap(sink),
        });
        Ok(CaptureId(self.taps.len() - 1))
    }

    /// The packets of an in-memory capture (empty for a pcap capture).
    pub fn captured(&self, id: CaptureId) -> &[CapturedPacket] {
        match &self.taps[id.0].sink {
            Sink::Memory(v) => v,
            Sink::Pcap(_) => &[],
        }
    }

    /// Takes the packets of an in-memory capture, leaving it empty (it keeps capturing).
    pub fn take_captured(&mut self, id: CaptureId) -> Vec<CapturedPacket> {
        match &mut self.taps[id.0].sink {
            Sink::Memory(v) => std::mem::take(v),
            Sink::Pcap(_) => Vec::new(),
        }
    }

    /// Flushes every pcap capture; returns the first write error met by any of them.
    pub fn flush_captures(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        for tap in &mut self.taps {
            if let Sink::Pcap(p) = &mut tap.sink {
                let r = p.flush();
                if result.is_ok() {
                    result = r;
                }
            }
        }
        result
    }

    fn tap(&mut self, link: LinkId, point: CapturePoint, time: Instant, bytes: &[u8]) {
        for tap in &mut self.taps {
            if tap.point != point || tap.link.is_some_and(|l| l != link) {
                continue;
            }
            match &mut tap.sink {
                Sink::Memory(v) => v.push((time, bytes.to_vec())),
                Sink::Pcap(p) => p.write(time, bytes),
            }
        }
    }

    fn notify(&mut self, event: LinkEvent<'_>) {
        for o in &mut self.observers {
            o.on_event(&event);
        }
    }

    fn set_fate(&mut self, packet: PacketId, fate: Fate) {
        if let Some(rec) = self.log.as_mut().and_then(|l| l.get_mut(packet)) {
            rec.fate = fate;
        }
    }

    // ----- the event loop -----

    /// Packets on their way (scheduled deliveries).
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// True when every host is idle and no packet is in flight.
    pub fn is_idle(&self) -> bool {
        self.in_flight == 0 && self.hosts.iter().all(|h| h.host.is_idle())
    }

    /// When the next event is due, if any (hosts touched from outside are polled at the
    /// current time before it).
    pub fn next_event_time(&mut self) -> Option<Instant> {
        self.discard_stale_timers();
        self.queue.peek().map(|(t, _)| t)
    }

    /// Polls the touched hosts, then processes the next event, advancing the clock to
    /// it. Returns false when there was nothing to do.
    ///
    /// After any input to a host (a packet, a timeout, or a touch through
    /// [`host_mut`](Self::host_mut)) the network drains [`Host::poll_transmit`] until
    /// `None`, then schedules [`Host::poll_timeout`]'s deadline (a past deadline fires at
    /// the current time). A host that keeps returning a deadline at or before now after
    /// [`MAX_FIRES_PER_INSTANT`] timeouts at one instant has it pushed 1 µs ahead, so a
    /// buggy host cannot stop the clock.
    pub fn step(&mut self) -> bool {
        let polled = self.poll_dirty_hosts();
        self.discard_stale_timers();
        let Some((time, event)) = self.queue.pop() else {
            return polled;
        };
        self.now = self.now.max(time);
        self.stats.events += 1;
        match event {
            Event::Deliver(d) => self.deliver(*d),
            Event::Timer { host, .. } => {
                let now = self.now;
                let slot = &mut self.hosts[host.0];
                slot.timer = None;
                if slot.last_fire == now {
                    slot.fires_at_now += 1;
                } else {
                    slot.last_fire = now;
                    slot.fires_at_now = 1;
                }
                slot.host.handle_timeout(now);
                self.after_input(host, true);
            }
        }
        true
    }

    /// Runs every event due at or before `deadline`, then sets the clock to `deadline`
    /// (if it is later than now).
    pub fn run_until(&mut self, deadline: Instant) {
        loop {
            self.poll_dirty_hosts();
            match self.next_event_time() {
                Some(t) if t <= deadline => {
                    self.step();
                }
                _ => break,
            }
        }
        self.now = self.now.max(deadline);
    }

    /// Runs for `duration` of virtual time from now.
    pub fn run_for(&mut self, duration: Duration) {
        self.run_until(self.now + duration);
    }

    /// Runs until every host is idle and no packet is in flight, until nothing is
    /// scheduled any more, or until `deadline`, whichever comes first.
    pub fn run_until_idle(&mut self, deadline: Instant) -> RunOutcome {
        loop {
            self.poll_dirty_hosts();
            if self.is_idle() {
                return RunOutcome::Idle;
            }
            match self.next_event_time() {
                None => return RunOutcome::Stalled,
                Some(t) if t > deadline => {
                    self.now = self.now.max(deadline);
                    return RunOutcome::Deadline;
                }
                Some(_) => {
                    self.step();
                }
            }
        }
    }

    fn discard_stale_timers(&mut self) {
        while let Some((_, Event::Timer { host, generation })) = self.queue.peek() {
            if *generation == self.hosts[host.0].timer_generation {
                break;
            }
            self.queue.pop();
        }
    }

    fn poll_dirty_hosts(&mut self) -> bool {
        let mut any = false;
        for i in 0..self.hosts.len() {
            if std::mem::take(&mut self.hosts[i].dirty) {
                any = true;
                self.after_input(HostId(i), false);
            }
        }
        any
    }

    /// The driving order after any input to `host`: drain its transmissions, then
    /// reschedule its timer. `after_timeout` guards against a host that keeps asking for
    /// a deadline it has just been given: after [`MAX_FIRES_PER_INSTANT`] timeouts in a
    /// row at one instant, a deadline at or before now is pushed 1 µs into the future so
    /// virtual time keeps moving.
    fn after_input(&mut self, host: HostId, after_timeout: bool) {
        let now = self.now;
        let mut buf = std::mem::take(&mut self.buf);
        loop {
            let slot = &mut self.hosts[host.0];
            let Some(len) = slot.host.poll_transmit(now, &mut buf) else {
                break;
            };
            let len = len.min(buf.len());
            self.send(host, &buf[..len]);
        }
        self.buf = buf;

        let slot = &mut self.hosts[host.0];
        let mut deadline = slot.host.poll_timeout();
        if after_timeout && slot.fires_at_now >= MAX_FIRES_PER_INSTANT {
            deadline = deadline.map(|t| t.max(now + Duration::from_micros(1)));
        }
        if deadline != slot.timer {
            slot.timer = deadline;
            slot.timer_generation += 1;
            if let Some(t) = deadline {
                let generation = slot.timer_generation;
                self.queue
                    .push(t.max(now), Event::Timer { host, generation });
            }
        }
    }

    fn route(&self, from: HostId, packet: &[u8]) -> Option<(LinkId, usize)> {
        let slot = &self.hosts[from.0];
        let direct = ip::dst_addr(packet)
            .and_then(|dst| self.addrs.get(&dst))
            .and_then(|&to| self.pairs.get(&(from, to)).copied());
        let link = direct.or(slot.default_link)?;
        Some((link, self.dir_index(link, from)))
    }

    fn new_packet_id(&mut self) -> PacketId {
        let id = PacketId(self.next_packet);
        self.next_packet += 1;
        id
    }

    #[allow(clippy::too_many_arguments)]
    fn log_packet(
        &mut self,
        id: PacketId,
        from: HostId,
        to: Option<HostId>,
        link: Option<LinkId>,
        fate: Fate,
        copy_of: Option<PacketId>,
        arrival: Option<&Arrival>,
        bytes: &[u8],
    ) {
        let now = self.now;
        if let Some(log) = &mut self.log {
            log.push(PacketRecord {
                id,
                from,
                to,
                link,
                sent_at: now,
                fate,
                copy_of,
                reordered: arrival.is_some_and(|a| a.reordered),
                corrupted: arrival.is_some_and(|a| a.flip.is_some()),
                bytes: bytes.to_vec(),
            });
        }
    }

    fn send(&mut self, from: HostId, bytes: &[u8]) {
        let now = self.now;
        let id = self.new_packet_id();
        self.stats.packets_sent += 1;
        let Some((link, dir)) = self.route(from, bytes) else {
            self.stats.unroutable += 1;
            let fate = Fate::Dropped(DropReason::NoRoute);
            self.log_packet(id, from, None, None, fate, None, None, bytes);
            let mut event = LinkEvent {
                time: now,
                packet: id,
                from,
                to: None,
                link: None,
                kind: LinkEventKind::Sent,
                bytes,
            };
            self.notify(event);
            event.kind = LinkEventKind::Dropped(DropReason::NoRoute);
            self.notify(event);
            return;
        };
        let to = self.links[link.0].ends[1 - dir];
        self.tap(link, CapturePoint::Sent, now, bytes);
        let verdict =
            self.links[link.0].dirs[dir].transmit(now, bytes.len(), ip::header_len(bytes));
        let mut event = LinkEvent {
            time: now,
            packet: id,
            from,
            to: Some(to),
            link: Some(link),
            kind: LinkEventKind::Sent,
            bytes,
        };
        match verdict {
            Verdict::Drop(reason) => {
                let fate = Fate::Dropped(reason);
                self.log_packet(id, from, Some(to), Some(link), fate, None, None, bytes);
                self.notify(event);
                event.kind = LinkEventKind::Dropped(reason);
                self.notify(event);
            }
            Verdict::Deliver(first, dup) => {
                let fate = Fate::InFlight {
                    arrives_at: first.at,
                };
                self.log_packet(
                    id,
                    from,
                    Some(to),
                    Some(link),
                    fate,
                    None,
                    Some(&first),
                    bytes,
                );
                self.notify(event);
                self.schedule(link, dir, id, &first, bytes);
                if let Some(second) = dup {
                    let copy = self.new_packet_id();
                    let fate = Fate::InFlight {
                        arrives_at: second.at,
                    };
                    let (l, c) = (Some(link), Some(id));
                    self.log_packet(copy, from, Some(to), l, fate, c, Some(&second), bytes);
                    event.packet = copy;
                    event.kind = LinkEventKind::Duplicated { original: id };
                    self.notify(event);
                    self.schedule(link, dir, copy, &second, bytes);
                }
            }
        }
    }

    fn schedule(&mut self, link: LinkId, dir: usize, packet: PacketId, a: &Arrival, bytes: &[u8]) {
        let mut bytes = bytes.to_vec();
        a.corrupt(&mut bytes);
        self.in_flight += 1;
        let delivery = Delivery {
            link,
            dir,
            packet,
            sent_at: self.now,
            bytes,
        };
        self.queue.push(a.at, Event::Deliver(Box::new(delivery)));
    }

    fn deliver(&mut self, d: Delivery) {
        let now = self.now;
        self.in_flight -= 1;
        let link = &mut self.links[d.link.0];
        let (from, to) = (link.ends[d.dir], link.ends[1 - d.dir]);
        link.dirs[d.dir].delivered(d.bytes.len());
        self.tap(d.link, CapturePoint::Delivered, now, &d.bytes);
        self.set_fate(d.packet, Fate::Delivered { at: now });
        self.notify(LinkEvent {
            time: now,
            packet: d.packet,
            from,
            to: Some(to),
            link: Some(d.link),
            kind: LinkEventKind::Delivered { sent_at: d.sent_at },
            bytes: &d.bytes,
        });
        self.hosts[to.0].host.handle_packet(now, &d.bytes);
        self.after_input(to, false);
    }
}
