//! The harness: routing, timing on a clean link, host access, run modes, tie-breaking,
//! observers and the packet log, and determinism.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::{addr, build_packet, Echo, Sender, Sink, A, B};
use synack_core::time::{Duration, Instant};
use synack_sim::{
    DropReason, Fate, Host, LinkConfig, LinkEvent, LinkEventKind, Network, RunOutcome,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn echo_round_trip_takes_two_latencies() {
    let mut net = Network::new(1);
    let s = net.add_host(Sender::new(A, B, 3).every(ms(5)), [addr(A)]);
    let e = net.add_host(Echo::default(), [addr(B)]);
    let link = net.add_link(s, e, LinkConfig::with_latency(ms(7)));
    assert_eq!(net.run_until_idle(Instant::from_secs(1)), RunOutcome::Idle);

    let sender = net.host::<Sender>(s).unwrap();
    assert_eq!(
        sender.sent_at,
        vec![
            Instant::ZERO,
            Instant::from_millis(5),
            Instant::from_millis(10)
        ]
    );
    let got: Vec<_> = sender.replies.clone();
    assert_eq!(
        got,
        vec![
            (Instant::from_millis(14), Some(0)),
            (Instant::from_millis(19), Some(1)),
            (Instant::from_millis(24), Some(2)),
        ]
    );
    let echo = net.host::<Echo>(e).unwrap();
    assert_eq!(echo.received[0], (Instant::from_millis(7), Some(0)));
    assert_eq!(net.now(), Instant::from_millis(24));

    let st = net.link_stats(link, s);
    assert_eq!((st.sent, st.delivered, st.dropped()), (3, 3, 0));
    assert_eq!(net.link_stats(link, e).delivered, 3);
    // Downcasting to the wrong type fails rather than misbehaving.
    assert!(net.host::<Sink>(s).is_none());
    assert!(net.host::<Echo>(e).is_some());
}

#[test]
fn ipv6_routes_by_destination() {
    let mut net = Network::new(1);
    let s = net.add_host(Sender::new("fd00::1", "fd00::3", 2), [addr("fd00::1")]);
    let b = net.add_host(Sink::default(), [addr("fd00::2")]);
    let c = net.add_host(Sink::default(), [addr("fd00::3"), addr("10.9.9.9")]);
    let lb = net.add_link(s, b, LinkConfig::default());
    let lc = net.add_link(s, c, LinkConfig::default());
    net.run_until(Instant::from_secs(1));
    assert!(net.host::<Sink>(b).unwrap().received.is_empty());
    assert_eq!(net.host::<Sink>(c).unwrap().valid_seqs(), vec![0, 1]);
    assert_eq!(net.link_stats(lb, s).sent, 0);
    assert_eq!(net.link_stats(lc, s).delivered, 2);
    assert_eq!(net.host_by_addr(addr("10.9.9.9")), Some(c));
    assert_eq!(net.host_addrs(c).len(), 2);
}

#[test]
fn unroutable_packets_are_counted_and_logged() {
    let mut net = Network::new(1);
    net.enable_packet_log();
    let s = net.add_host(Sender::new(A, "10.0.0.99", 2), [addr(A)]);
    let b = net.add_host(Sink::default(), [addr(B)]);
    net.add_link(s, b, LinkConfig::default());
    net.run_until(Instant::from_secs(1));
    assert_eq!(net.stats().unroutable, 2);
    let log = net.packet_log().unwrap();
    assert_eq!(log.records().len(), 2);
    assert!(log
        .records()
        .iter()
        .all(|r| r.fate == Fate::Dropped(DropReason::NoRoute) && r.to.is_none()));
}

#[test]
fn default_link_carries_foreign_destinations() {
    let mut net = Network::new(1);
    let s = net.add_host(Sender::new(A, "192.0.2.1", 2), [addr(A)]);
    let gw = net.add_host(Sink::default(), [addr(B)]);
    let l = net.add_link(s, gw, LinkConfig::default());
    net.set_default_link(s, l);
    net.run_until(Instant::from_secs(1));
    assert_eq!(net.host::<Sink>(gw).unwrap().valid_seqs(), vec![0, 1]);
    assert_eq!(net.stats().unroutable, 0);
}

#[test]
fn run_until_stops_at_deadline_and_resumes() {
    let mut net = Network::new(1);
    let s = net.add_host(Sender::new(A, B, 10).every(ms(10)), [addr(A)]);
    let k = net.add_host(Sink::default(), [addr(B)]);
    net.add_link(s, k, LinkConfig::with_latency(ms(1)));
    net.run_until(Instant::from_millis(45));
    assert_eq!(net.now(), Instant::from_millis(45));
    // Sent at 0,10,20,30,40 and delivered 1 ms later.
    assert_eq!(
        net.host::<Sink>(k).unwrap().valid_seqs(),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(
        net.run_until_idle(Instant::from_millis(60)),
        RunOutcome::Deadline
    );
    assert_eq!(net.now(), Instant::from_millis(60));
    assert_eq!(net.run_until_idle(Instant::from_secs(5)), RunOutcome::Idle);
    assert_eq!(net.host::<Sink>(k).unwrap().received.len(), 10);
    assert_eq!(net.now(), Instant::from_millis(91));
}

/// A host that never goes idle and has no timer.
struct Stubborn;
impl Host for Stubborn {
    fn handle_packet(&mut self, _: Instant, _: &[u8]) {}
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<usize> {
        None
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
}

#[test]
fn run_until_idle_reports_a_stall() {
    let mut net = Network::new(1);
    net.add_host(Stubborn, [addr(A)]);
    assert_eq!(
        net.run_until_idle(Instant::from_secs(1)),
        RunOutcome::Stalled
    );
    assert_eq!(net.now(), Instant::ZERO);
    assert!(!net.step());
}

#[test]
fn host_mut_wakes_the_host() {
    let mut net = Network::new(1);
    let s = net.add_host(Sender::new(A, B, 1), [addr(A)]);
    let k = net.add_host(Sink::default(), [addr(B)]);
    net.add_link(s, k, LinkConfig::with_latency(ms(3)));
    assert!(net.run_until_idle(Instant::from_secs(1)).is_idle());
    assert_eq!(net.now(), Instant::from_millis(3));
    net.run_until(Instant::from_millis(100));
    let now = net.now();
    net.host_mut::<Sender>(s).unwrap().send_more(2, now);
    assert!(net.run_until_idle(Instant::from_secs(1)).is_idle());
    let sink = net.host::<Sink>(k).unwrap();
    assert_eq!(sink.valid_seqs(), vec![0, 1, 2]);
    assert_eq!(sink.received[1].0, Instant::from_millis(103));
}

/// A host whose deadline moves: it re-arms a timer every 10 ms, then cancels it.
struct Ticker {
    deadline: Option<Instant>,
    fired: Vec<Instant>,
}
impl Host for Ticker {
    fn handle_packet(&mut self, _: Instant, _: &[u8]) {}
    fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.fired.push(now);
            self.deadline = (self.fired.len() < 3).then(|| now + Duration::from_millis(10));
        }
    }
    fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<usize> {
        None
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.deadline
    }
    fn is_idle(&self) -> bool {
        self.deadline.is_none()
    }
}

#[test]
fn timers_fire_at_their_deadlines_and_stale_ones_are_ignored() {
    let mut net = Network::new(1);
    let t = net.add_host(
        Ticker {
            deadline: Some(Instant::from_millis(50)),
            fired: vec![],
        },
        [addr(A)],
    );
    net.run_until(Instant::from_millis(20));
    // Move the deadline earlier from outside; the 50 ms timer becomes stale.
    net.host_mut::<Ticker>(t).unwrap().deadline = Some(Instant::from_millis(30));
    assert!(net.run_until_idle(Instant::from_secs(1)).is_idle());
    let fired = &net.host::<Ticker>(t).unwrap().fired;
    assert_eq!(
        fired,
        &vec![
            Instant::from_millis(30),
            Instant::from_millis(40),
            Instant::from_millis(50)
        ]
    );
    // 3 timer events, the stale one at 50 ms not counted.
    assert_eq!(net.stats().events, 3);
}

/// A host that always claims a timer is due right now.
#[derive(Default)]
struct AlwaysDue {
    now: Instant,
    fired: u32,
}
impl Host for AlwaysDue {
    fn handle_packet(&mut self, _: Instant, _: &[u8]) {}
    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.fired += 1;
    }
    fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<usize> {
        None
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        Some(self.now)
    }
}

#[test]
fn a_host_stuck_on_a_past_deadline_cannot_stop_the_clock() {
    let mut net = Network::new(1);
    let h = net.add_host(AlwaysDue::default(), [addr(A)]);
    net.run_until(Instant::from_micros(10));
    assert_eq!(net.now(), Instant::from_micros(10));
    let fired = net.host::<AlwaysDue>(h).unwrap().fired;
    // The per-instant allowance at each of t = 0, 1, ..., 10 µs.
    let max = synack_sim::network::MAX_FIRES_PER_INSTANT;
    assert_eq!(fired, max * 11);
}

#[test]
fn same_instant_events_run_in_scheduling_order() {
    // Zero latency: both packets arrive at t=0, in the order they were sent.
    let mut net = Network::new(1);
    let s = net.add_host(Sender::new(A, B, 50), [addr(A)]);
    let k = net.add_host(Sink::default(), [addr(B)]);
    net.add_link(s, k, LinkConfig::with_latency(Duration::ZERO));
    net.run_until(Instant::ZERO);
    let sink = net.host::<Sink>(k).unwrap();
    assert_eq!(sink.valid_seqs(), (0..50).collect::<Vec<_>>());
    assert!(sink.received.iter().all(|r| r.0 == Instant::ZERO));
}

#[test]
fn step_processes_one_event_at_a_time() {
    let mut net = Network::new(1);
    let s = net.add_host(Sender::new(A, B, 2).every(ms(1)), [addr(A)]);
    let k = net.add_host(Sink::default(), [addr(B)]);
    net.add_link(s, k, LinkConfig::with_latency(ms(5)));
    let mut times = Vec::new();
    while net.step() {
        times.push(net.now());
    }
    // Timer at 1 ms (second send), then two deliveries at 5 and 6 ms.
    assert_eq!(
        times,
        vec![
            Instant::from_millis(1),
            Instant::from_millis(5),
            Instant::from_millis(6)
        ]
    );
}

#[test]
fn observer_and_packet_log_agree_with_counters() {
    let mut net = Network::new(99);
    net.enable_packet_log();
    let events = Rc::new(RefCell::new(Vec::new()));
    let ev = events.clone();
    net.add_observer(move |e: &LinkEvent<'_>| ev.borrow_mut().push((e.time, e.packet, e.kind)));
    let s = net.add_host(Sender::new(A, B, 400).every(ms(1)), [addr(A)]);
    let e = net.add_host(Echo::default(), [addr(B)]);
    let cfg = LinkConfig::default().loss(0.2).duplicate(0.1);
    let link = net.add_link(s, e, cfg);
    assert!(net.run_until_idle(Instant::from_secs(10)).is_idle());

    let fwd = net.link_stats(link, s);
    let back = net.link_stats(link, e);
    let log = net.packet_log().unwrap();
    let recs = log.records();
    assert_eq!(
        recs.len() as u64,
        fwd.sent + fwd.duplicated + back.sent + back.duplicated
    );
    assert_eq!(
        log.dropped().count() as u64,
        fwd.lost + back.lost,
        "every drop is logged"
    );
    assert_eq!(
        log.delivered().count() as u64,
        fwd.delivered + back.delivered
    );
    assert!(recs
        .iter()
        .all(|r| !matches!(r.fate, Fate::InFlight { .. })));
    for r in log.delivered() {
        assert_eq!(r.delivered_at().unwrap(), r.sent_at + ms(10));
    }
    for r in recs.iter().filter(|r| r.copy_of.is_some()) {
        let orig = log.get(r.copy_of.unwrap()).unwrap();
        assert_eq!(orig.bytes, r.bytes);
        assert_eq!(orig.sent_at, r.sent_at);
    }
    // Echo replies: what the sender got equals what the echo got back across the link.
    let replies = net.host::<Sender>(s).unwrap().replies.len() as u64;
    assert_eq!(replies, back.delivered);
    assert_eq!(
        net.host::<Echo>(e).unwrap().received.len() as u64,
        fwd.delivered
    );

    let events = events.borrow();
    let count =
        |f: &dyn Fn(&LinkEventKind) -> bool| events.iter().filter(|e| f(&e.2)).count() as u64;
    assert_eq!(count(&|k| *k == LinkEventKind::Sent), fwd.sent + back.sent);
    assert_eq!(
        count(&|k| matches!(k, LinkEventKind::Delivered { .. })),
        fwd.delivered + back.delivered
    );
    assert_eq!(
        count(&|k| matches!(k, LinkEventKind::Duplicated { .. })),
        fwd.duplicated + back.duplicated
    );
    assert!(
        events.windows(2).all(|w| w[0].0 <= w[1].0),
        "events in time order"
    );
}

/// Runs a lossy, jittery echo exchange and returns a textual event log.
fn event_log(seed: u64) -> Vec<String> {
    let mut net = Network::new(seed);
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    net.add_observer(move |e: &LinkEvent<'_>| {
        l.borrow_mut().push(format!(
            "{:?} {:?} {:?}->{:?} {:?} {:02x?}",
            e.time,
            e.packet,
            e.from,
            e.to,
            e.kind,
            &e.bytes[e.bytes.len() - 8..]
        ))
    });
    let s = net.add_host(Sender::new(A, B, 300).every(ms(1)), [addr(A)]);
    let e = net.add_host(Echo::default(), [addr(B)]);
    let cfg = LinkConfig::default()
        .loss(0.05)
        .jitter(ms(4))
        .duplicate(0.02)
        .reorder(0.05, ms(10))
        .corrupt(0.02)
        .bandwidth(2_000_000)
        .queue_bytes(3000);
    net.add_link(s, e, cfg);
    net.run_until_idle(Instant::from_secs(60));
    let out = log.borrow().clone();
    out
}

#[test]
fn same_seed_same_log_different_seed_different_log() {
    let a = event_log(1234);
    let b = event_log(1234);
    let c = event_log(1235);
    assert!(a.len() > 600);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn packets_built_by_tests_verify() {
    // Sanity check of the toy packet format the other tests rely on.
    let p = build_packet(addr(A), addr(B), 77, 64);
    assert_eq!(common::verify(&p), Some(77));
    let mut q = p.clone();
    q[30] ^= 0x10;
    assert_eq!(common::verify(&q), None);
}
