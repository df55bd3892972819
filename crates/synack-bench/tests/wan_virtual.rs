//! The WAN profiles P1–P5 (`synack_sim::profiles`) in virtual time with smoltcp as
//! the peer: synack → smoltcp and smoltcp → synack, one direction of data per run,
//! every byte checked by the receiver. This file owns that harness and its goodput
//! floors (synack ↔ synack on the same profiles is `synack-sim`'s `wan_profiles`
//! test).
//!
//! Both directions of the path are the simulator's own link model
//! (`synack_sim::link::LinkPath`), configured from the profile's forward (data) and
//! reverse (ACK) `LinkConfig`s, each with its own generator derived from the run's
//! seed; a packet is held until its arrival instant. Time is virtual: one clock in
//! microseconds that jumps to the next event (an arrival, a synack deadline from
//! `poll_timeout`, smoltcp's `poll_at`), mapped onto smoltcp's `Instant` one to one.
//! No wall clock and no threads, so a run is a pure function of its profile and seed
//! and its goodput does not depend on the machine: each row asserts a floor on the
//! median goodput over a few seeds, set from what the code reaches with a margin
//! (raise it when the code improves; change it only with the reason in the commit). A
//! failure names the profile, the pairing and each seed's figure (or the seed whose
//! transfer failed).
//!
//! synack is driven through `synack_core::Stack` directly (`handle_packet`,
//! `poll_transmit`, `handle_timeout`, `poll_timeout`); smoltcp through its
//! `phy::Device` API as in the in-process benchmark. Each stack has its default
//! configuration except smoltcp's socket buffers, which smoltcp leaves to the
//! application: they are [`synack_bench::BUFFER`] (256 KiB each way), the size the
//! real-time WAN rows give smoltcp and synack's default buffer size at the time this
//! was written, so neither receiver offers a larger window than the other. smoltcp is
//! built without its optional congestion controllers (the workspace's feature set), so
//! its default is no congestion control.
//!
//! `SYNACK_WAN_PRINT=1` prints the table (`cargo test -p synack-bench --release
//! --test wan_virtual -- --nocapture`).

#![cfg(target_os = "linux")]

use smoltcp::iface::{Config as IfaceConfig, Interface, PollResult, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp::{CongestionControl, Socket, SocketBuffer, State as SState};
use smoltcp::time::Instant as SInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack_core::time::{Duration, Instant};
use synack_core::{Config, ConnHandle, Event, Stack, State};
use synack_sim::link::LinkPath;
use synack_sim::profiles::{self, Profile, MTU};
use synack_sim::SimRng;

/// The seeds of every row (the links' generators derive from each): a row's figure
/// is the median over them, since with loss a single seed's goodput depends on which
/// packets it happens to drop (on P2 one seed gives 3.5 Mbit/s, another 18.7).
const SEEDS: std::ops::RangeInclusive<u64> = 1..=9;
/// synack's address.
const SYNACK_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// smoltcp's address.
const SMOL_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
/// The receiver's listening port.
const PORT: u16 = 80;
/// smoltcp's local port when it connects.
const SMOL_LOCAL_PORT: u16 = 49_153;
/// Virtual time after which a run is declared stuck.
const MAX_VIRTUAL: Duration = Duration::from_secs(600);
/// Event-loop iterations after which a run is declared to spin (a few thousand per
/// megabyte are normal).
const MAX_STEPS: u64 = 2_000_000;

/// Which stack sends the data (the other receives it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pairing {
    SynackToSmoltcp,
    SmoltcpToSynack,
}

impl Pairing {
    fn name(self) -> &'static str {
        match self {
            Pairing::SynackToSmoltcp => "synack -> smoltcp",
            Pairing::SmoltcpToSynack => "smoltcp -> synack",
        }
    }
}

/// A pseudo-random block of a prime length, stored twice in a row so any window of up
/// to one period is one slice; stream offset `off` carries byte `off % PERIOD`.
struct Pattern(Vec<u8>);

const PERIOD: usize = 65_521;

impl Pattern {
    fn new(seed: u64) -> Pattern {
        let mut x = seed | 1;
        let mut data = Vec::with_capacity(2 * PERIOD);
        for _ in 0..PERIOD {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.push((x >> 24) as u8);
        }
        data.extend_from_within(..PERIOD);
        Pattern(data)
    }

    fn window(&self, off: u64, max: usize) -> &[u8] {
        let start = (off % PERIOD as u64) as usize;
        &self.0[start..start + max.min(PERIOD)]
    }
}

/// The receiver's check: how many bytes arrived and whether each equalled the pattern.
#[derive(Default)]
struct Check {
    received: u64,
    corrupt: bool,
}

impl Check {
    fn verify(&mut self, pattern: &Pattern, mut got: &[u8]) {
        while !got.is_empty() {
            let w = pattern.window(self.received, got.len());
            self.corrupt |= w != &got[..w.len()];
            self.received += w.len() as u64;
            got = &got[w.len()..];
        }
    }
}

/// Which way a packet travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Dir {
    ToSmoltcp,
    ToSynack,
}

/// A packet on the wire: (arrival, send order, direction, bytes).
type InFlight = Reverse<(Instant, u64, Dir, Vec<u8>)>;

/// The two directions of the path and the packets on them, ordered by arrival
/// (ties by the order they were sent, so a run is deterministic).
struct Wire {
    to_smol: LinkPath,
    to_synack: LinkPath,
    in_flight: BinaryHeap<InFlight>,
    sent: u64,
}

impl Wire {
    /// The data travels the profile's forward direction, the ACKs its reverse one.
    fn new(p: &Profile, pairing: Pairing, seed: u64) -> Wire {
        let (to_smol, to_synack) = match pairing {
            Pairing::SynackToSmoltcp => (p.forward.clone(), p.reverse.clone()),
            Pairing::SmoltcpToSynack => (p.reverse.clone(), p.forward.clone()),
        };
        let (data, acks) = (SimRng::derive(seed, 0), SimRng::derive(seed, 1));
        let (rng_smol, rng_synack) = match pairing {
            Pairing::SynackToSmoltcp => (data, acks),
            Pairing::SmoltcpToSynack => (acks, data),
        };
        Wire {
            to_smol: LinkPath::new(to_smol, rng_smol),
            to_synack: LinkPath::new(to_synack, rng_synack),
            in_flight: BinaryHeap::new(),
            sent: 0,
        }
    }

    fn path(&mut self, dir: Dir) -> &mut LinkPath {
        match dir {
            Dir::ToSmoltcp => &mut self.to_smol,
            Dir::ToSynack => &mut self.to_synack,
        }
    }

    /// Hands an IP packet to the link at `now`; each copy that survives is held until
    /// its arrival instant.
    fn send(&mut self, now: Instant, dir: Dir, packet: &[u8]) {
        let ihl = packet.first().map(|b| usize::from(b & 0x0f) * 4);
        let verdict = self.path(dir).transmit(now, packet.len(), ihl);
        for a in verdict.arrivals() {
            let mut copy = packet.to_vec();
            a.corrupt(&mut copy);
            self.sent += 1;
            self.in_flight.push(Reverse((a.at, self.sent, dir, copy)));
        }
    }

    /// The next packet due at or before `now`.
    fn pop_due(&mut self, now: Instant) -> Option<(Dir, Vec<u8>)> {
        if self.in_flight.peek()?.0 .0 > now {
            return None;
        }
        let Reverse((_, _, dir, p)) = self.in_flight.pop()?;
        self.path(dir).delivered(p.len());
        Some((dir, p))
    }

    fn next_arrival(&self) -> Option<Instant> {
        self.in_flight.peek().map(|r| r.0 .0)
    }
}

/// smoltcp's network device: packets the wire delivered, packets smoltcp sent.
#[derive(Default)]
struct Phy {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
}

struct Rx(Vec<u8>);

struct Tx<'a>(&'a mut Vec<Vec<u8>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        self.0.push(buf);
        r
    }
}

impl Device for Phy {
    type RxToken<'a>
        = Rx
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a>
    where
        Self: 'a;

    fn receive(&mut self, _t: SInstant) -> Option<(Rx, Tx<'_>)> {
        let p = self.rx.pop_front()?;
        Some((Rx(p), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _t: SInstant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        // Checksums: the default, computed on send and verified on receive.
        caps
    }
}

fn smol_now(now: Instant) -> SInstant {
    SInstant::from_micros(i64::try_from(now.total_micros()).unwrap_or(i64::MAX))
}

/// What one run measured.
struct Outcome {
    /// Goodput, Mbit/s: the bytes over the time from the sender's ESTABLISHED to the
    /// receiver having verified the last byte.
    mbps: f64,
    /// Virtual time from ESTABLISHED to the last byte.
    secs: f64,
    /// Data packets the data direction dropped (loss and queue).
    data_drops: u64,
    /// The synack end's smoothed RTT, retransmitted segments and RTOs.
    synack_srtt_ms: f64,
    synack_rtx: u64,
    synack_rtos: u64,
    /// Event-loop iterations (bounded by [`MAX_STEPS`]).
    steps: u64,
}

/// One bulk transfer of `bytes` over `p` with `seed`.
fn run(p: &Profile, pairing: Pairing, bytes: u64, seed: u64) -> Result<Outcome, String> {
    let pattern = Pattern::new(seed ^ 0x5a5a);
    let mut wire = Wire::new(p, pairing, seed);
    let mut now = Instant::ZERO;

    // synack: default configuration.
    let mut stack = Stack::new(Config::default(), *b"wan-virtual-test");
    stack.add_address(IpAddr::V4(SYNACK_IP));
    let mut tx_buf = vec![0u8; stack.max_packet_size()];

    // smoltcp: an IP-medium interface, default configuration, one socket with
    // BUFFER-byte buffers each way.
    let mut phy = Phy::default();
    let mut cfg = IfaceConfig::new(HardwareAddress::Ip);
    cfg.random_seed = seed ^ 0x5eed;
    let mut iface = Interface::new(cfg, &mut phy, smol_now(now));
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::new(IpAddress::Ipv4(SMOL_IP), 16));
    });
    let mut sockets = SocketSet::new(Vec::new());
    let mut socket = Socket::new(
        SocketBuffer::new(vec![0u8; synack_bench::BUFFER]),
        SocketBuffer::new(vec![0u8; synack_bench::BUFFER]),
    );
    // smoltcp's default, no congestion control, which the floors below were set
    // against (the crate's `socket-tcp-cubic` feature, for the real-time WAN rows'
    // smoltcp sender, would otherwise make CUBIC the default).
    socket.set_congestion_control(CongestionControl::None);
    let sock = sockets.add(socket);

    let mut conn: Option<ConnHandle> = None;
    match pairing {
        Pairing::SynackToSmoltcp => {
            sockets
                .get_mut::<Socket>(sock)
                .listen(PORT)
                .map_err(|e| format!("smoltcp listen: {e:?}"))?;
            let remote = SocketAddr::new(IpAddr::V4(SMOL_IP), PORT);
            conn = Some(
                stack
                    .connect(now, remote, None)
                    .map_err(|e| format!("synack connect: {e:?}"))?,
            );
        }
        Pairing::SmoltcpToSynack => {
            stack
                .listen(SocketAddr::new(IpAddr::V4(SYNACK_IP), PORT), 0)
                .map_err(|e| format!("synack listen: {e:?}"))?;
            let cx = iface.context();
            sockets
                .get_mut::<Socket>(sock)
                .connect(cx, (IpAddress::Ipv4(SYNACK_IP), PORT), SMOL_LOCAL_PORT)
                .map_err(|e| format!("smoltcp connect: {e:?}"))?;
        }
    }

    let mut written = 0u64;
    let mut check = Check::default();
    let mut established: Option<Instant> = None;
    let mut steps = 0u64;
    let limit = Instant::ZERO + MAX_VIRTUAL;
    let done = loop {
        steps += 1;
        // Arrivals due now.
        while let Some((dir, packet)) = wire.pop_due(now) {
            match dir {
                Dir::ToSynack => stack.handle_packet(now, &packet),
                Dir::ToSmoltcp => phy.rx.push_back(packet),
            }
        }
        if stack.poll_timeout().is_some_and(|t| t <= now) {
            stack.handle_timeout(now);
        }
        // Applications and both stacks until nothing more happens at this instant.
        loop {
            let mut progressed = false;
            while let Some(e) = stack.poll_event() {
                if let Event::Incoming(l) = e {
                    while let Some(h) = stack.accept(l) {
                        conn.get_or_insert(h);
                    }
                }
            }
            let s = sockets.get_mut::<Socket>(sock);
            match pairing {
                Pairing::SynackToSmoltcp => {
                    let h = conn.ok_or("no synack connection")?;
                    if established.is_none() && stack.state(h) == Some(State::Established) {
                        established = Some(now);
                    }
                    while written < bytes && established.is_some() {
                        let w = pattern.window(written, (bytes - written) as usize);
                        match stack.send(h, w) {
                            Ok(n) if n > 0 => {
                                written += n as u64;
                                progressed = true;
                            }
                            _ => break,
                        }
                    }
                    while s.can_recv() {
                        let got = s
                            .recv(|d| {
                                check.verify(&pattern, d);
                                (d.len(), d.len())
                            })
                            .map_err(|e| format!("smoltcp recv: {e:?}"))?;
                        if got == 0 {
                            break;
                        }
                        progressed = true;
                    }
                }
                Pairing::SmoltcpToSynack => {
                    if established.is_none() && s.state() == SState::Established {
                        established = Some(now);
                    }
                    while written < bytes && established.is_some() {
                        let w = pattern.window(written, (bytes - written) as usize);
                        match s.send_slice(w) {
                            Ok(n) if n > 0 => {
                                written += n as u64;
                                progressed = true;
                            }
                            _ => break,
                        }
                    }
                    if let Some(h) = conn {
                        let got = stack.recv_with(h, |a, b| {
                            check.verify(&pattern, a);
                            check.verify(&pattern, b);
                            a.len() + b.len()
                        });
                        if matches!(got, Ok(n) if n > 0) {
                            progressed = true;
                        }
                    }
                }
            }
            // A processed packet may have freed send buffer or brought data: the
            // applications look again.
            progressed |=
                iface.poll(smol_now(now), &mut phy, &mut sockets) == PollResult::SocketStateChanged;
            for packet in phy.tx.drain(..) {
                wire.send(now, Dir::ToSynack, &packet);
                progressed = true;
            }
            while let Some(t) = stack.poll_transmit(now, &mut tx_buf) {
                wire.send(now, Dir::ToSmoltcp, &tx_buf[..t.len]);
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        if check.corrupt {
            return Err(format!(
                "byte {} or before differs from what was sent",
                check.received
            ));
        }
        if check.received >= bytes {
            break now;
        }
        let next = [
            wire.next_arrival(),
            stack.poll_timeout(),
            iface
                .poll_at(smol_now(now), &sockets)
                .map(|t| Instant::from_micros(u64::try_from(t.total_micros()).unwrap_or(0))),
        ]
        .into_iter()
        .flatten()
        .min()
        .ok_or_else(|| {
            let s = sockets.get::<Socket>(sock);
            format!(
                "stalled at {:?}: nothing in flight and no timer pending (written {written}, \
                 received {}, smoltcp {:?} send queue {} recv queue {}, synack {:?})",
                now,
                check.received,
                s.state(),
                s.send_queue(),
                s.recv_queue(),
                conn.and_then(|h| stack.info(h))
                    .map(|i| (i.state, i.snd_wnd))
            )
        })?;
        now = next.max(now.add_micros(1));
        if steps > MAX_STEPS {
            return Err(format!("the event loop spins: {steps} steps by {now:?}"));
        }
        if now > limit {
            return Err(format!(
                "not done after {} s of virtual time ({} of {bytes} bytes)",
                MAX_VIRTUAL.as_secs(),
                check.received
            ));
        }
    };
    if check.received != bytes {
        return Err(format!("received {} of {bytes} bytes", check.received));
    }
    let start = established.ok_or("never established")?;
    let secs = done
        .saturating_duration_since(start)
        .as_secs_f64()
        .max(1e-6);
    let data = match pairing {
        Pairing::SynackToSmoltcp => wire.to_smol.stats(),
        Pairing::SmoltcpToSynack => wire.to_synack.stats(),
    };
    let info = conn.and_then(|h| stack.info(h)).ok_or("no synack info")?;
    Ok(Outcome {
        mbps: bytes as f64 * 8.0 / secs / 1e6,
        secs,
        data_drops: data.dropped(),
        synack_srtt_ms: info.srtt.map_or(0.0, |d| d.as_secs_f64() * 1e3),
        synack_rtx: info.stats.segs_retransmitted,
        synack_rtos: info.stats.timeouts,
        steps,
    })
}

/// (profile, bytes per run, floors in Mbit/s of the median over [`SEEDS`] for
/// synack → smoltcp and smoltcp → synack).
fn table() -> Vec<(Profile, u64, [f64; 2])> {
    vec![
        // Medians reached when the floors were set, synack -> smoltcp / smoltcp ->
        // synack, Mbit/s; each floor is about 85 % of its median.
        // 32.2 / 36.5: both under what a 256 KiB window allows over 50 ms (42), and
        // slow start takes a good part of 4 MB. No loss, so every seed gives the same.
        (profiles::p1_broadband(), 4_000_000, [27.0, 31.0]),
        // 4.7 / 6.9 (seeds range 2.7–18.7 / 1.9–11.8).
        (profiles::p2_lossy(), 2_000_000, [3.9, 5.8]),
        // 6.9 / 8.2 (the window allows 10.5 over 200 ms; 2 MB meets no 0.01 % loss).
        (profiles::p3_long_fat(), 2_000_000, [5.8, 7.0]),
        // 38.6 / 43.4.
        (profiles::p4_bufferbloat(), 2_000_000, [33.0, 37.0]),
        // 1.5 / 7.3. synack -> smoltcp is slow: about 30 retransmissions per run for
        // about 7 packets the link dropped (seed 1: 16 fast retransmits, none dropped,
        // cwnd ends near 20 KB), so the jitter's reordering is read as loss (synack
        // has no DSACK-based undo yet; smoltcp sends one SACK block per ACK and keeps
        // at most four out-of-order ranges). Not analysed further.
        (profiles::p5_mobile(), 2_000_000, [1.2, 6.1]),
    ]
}

#[test]
fn wan_profiles_against_smoltcp_reach_their_goodput_floors() {
    let print = std::env::var("SYNACK_WAN_PRINT").is_ok();
    let mut failures = Vec::new();
    for (p, bytes, floors) in table() {
        for (pairing, floor) in [Pairing::SynackToSmoltcp, Pairing::SmoltcpToSynack]
            .into_iter()
            .zip(floors)
        {
            let what = format!("{} {} ({})", p.id, pairing.name(), p.describe());
            let mut runs = Vec::new();
            for seed in SEEDS {
                match run(&p, pairing, bytes, seed) {
                    Ok(o) => runs.push((seed, o)),
                    Err(e) => failures.push(format!("{what}: {e} (seed {seed})")),
                }
            }
            if runs.is_empty() {
                continue;
            }
            runs.sort_by(|a, b| a.1.mbps.total_cmp(&b.1.mbps));
            let (min, max) = (&runs[0], &runs[runs.len() - 1]);
            let median = runs[runs.len() / 2].1.mbps;
            let n = runs.len() as f64;
            let mean = |f: fn(&Outcome) -> f64| runs.iter().map(|(_, o)| f(o)).sum::<f64>() / n;
            if print {
                println!(
                    "{} {:<12} {:<18} median {:>6.2} Mbit/s (min {:>6.2} seed {}, max {:>6.2} \
                     seed {})  {} B  per run: {:>5.2} s, drops {:>5.1}, synack srtt {:>5.1} ms \
                     rtx {:>5.1} rto {:>3.1}, steps {:>5.0}",
                    p.id,
                    p.name,
                    pairing.name(),
                    median,
                    min.1.mbps,
                    min.0,
                    max.1.mbps,
                    max.0,
                    bytes,
                    mean(|o| o.secs),
                    mean(|o| o.data_drops as f64),
                    mean(|o| o.synack_srtt_ms),
                    mean(|o| o.synack_rtx as f64),
                    mean(|o| o.synack_rtos as f64),
                    mean(|o| o.steps as f64),
                );
            }
            if median < floor {
                let each: Vec<String> = runs
                    .iter()
                    .map(|(seed, o)| format!("seed {seed}: {:.2}", o.mbps))
                    .collect();
                failures.push(format!(
                    "{what}: median {median:.2} Mbit/s, floor {floor} ({})",
                    each.join(", ")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
/// The same profile and seed give the same run, to the microsecond.
#[test]
fn a_run_is_a_function_of_its_seed() {
    let p = profiles::p5_mobile();
    for pairing in [Pairing::SynackToSmoltcp, Pairing::SmoltcpToSynack] {
        let a = run(&p, pairing, 300_000, 7).expect("first run");
        let b = run(&p, pairing, 300_000, 7).expect("second run");
        assert_eq!(
            (a.secs, a.data_drops, a.synack_rtx, a.steps),
            (b.secs, b.data_drops, b.synack_rtx, b.steps),
            "{} P5 seed 7",
            pairing.name()
        );
    }
}
