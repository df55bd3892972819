//! The congestion-state trace (synack-core tcp/cc_trace.rs) on real runs of the demo
//! scenario: an event only when the state changed, at most one per ACK processed (or
//! at a retransmission timeout), with figures that agree with the segments around it.

use synack_core::time::Duration;
use synack_core::trace::{CongestionPhase, CongestionTrace, Direction, TraceEvent, TraceKind};
use synack_sim::demo::{run_demo, DemoConfig, DemoReport};
use synack_sim::LinkConfig;

fn run(bytes: usize, loss: f64, seed: u64) -> DemoReport {
    let cfg = DemoConfig {
        bytes,
        seed,
        link: Some(LinkConfig::with_latency(Duration::from_millis(10)).loss(loss)),
        ..DemoConfig::default()
    };
    let r = run_demo(&cfg, &mut |_| {});
    assert!(r.ok(), "the run itself must succeed (seed {seed})");
    r
}

fn congestion(trace: &[TraceEvent]) -> Vec<(usize, &TraceEvent, &CongestionTrace)> {
    trace
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match &e.kind {
            TraceKind::Congestion(c) => Some((i, e, c)),
            _ => None,
        })
        .collect()
}

#[test]
fn events_only_on_change_and_at_most_one_per_ack_or_timeout() {
    for seed in 1..=4 {
        let r = run(300_000, 0.03, seed);
        for side in [&r.client, &r.server] {
            let events = congestion(&side.trace);
            assert!(events.len() > 20, "a 300 kB sender records its window");
            for w in events.windows(2) {
                let ((i, _, a), (j, e, b)) = (w[0], w[1]);
                assert_ne!(a, b, "seed {seed}: an event repeats the state before it");
                // Between two records: a segment arrived (the ACK that changed the
                // state), or the second record is a timeout's (phase Loss, no segment).
                let arrived = side.trace[i + 1..j].iter().any(
                    |x| matches!(&x.kind, TraceKind::Segment(s) if s.dir == Direction::Received),
                );
                assert!(
                    arrived || b.phase == CongestionPhase::Loss,
                    "seed {seed}: two records at {:?} with no ACK between them",
                    e.time
                );
            }
        }
    }
}

#[test]
fn figures_agree_with_the_segments() {
    let r = run(400_000, 0.03, 7);
    let mut recoveries = 0;
    for side in [&r.client, &r.server] {
        let mut max_flight = 0u32;
        let mut sent_end = 0u32;
        for e in &side.trace {
            match &e.kind {
                TraceKind::Segment(s) if s.dir == Direction::Sent => {
                    // Data sent beyond what was acknowledged bounds the flight.
                    let iss = s.iss.unwrap_or(s.seq);
                    let end = s.seq.wrapping_sub(iss).wrapping_add(s.len);
                    sent_end = sent_end.max(end);
                }
                TraceKind::Congestion(c) => {
                    assert!(c.in_flight <= sent_end, "in flight above what was sent");
                    assert_eq!(c.algorithm, "cubic");
                    assert!(c.cwnd >= 1000, "cwnd never below one MSS");
                    if c.phase == CongestionPhase::Recovery {
                        assert_ne!(c.ssthresh, u32::MAX, "recovery sets ssthresh");
                        recoveries += 1;
                    }
                    if let (Some(srtt), Some(rtt)) = (c.srtt_us, c.rtt_us) {
                        // 20 ms of path RTT; delayed ACKs and queueing add some.
                        assert!((19_000..1_000_000).contains(&srtt), "srtt {srtt}");
                        assert!(rtt >= 19_000, "rtt {rtt}");
                    }
                    max_flight = max_flight.max(c.in_flight);
                }
                _ => {}
            }
        }
        assert!(
            max_flight > 10_000,
            "the flight grew past the initial window"
        );
    }
    assert!(recoveries > 0, "3% loss must cause fast recovery");
}

#[test]
fn a_quiet_connection_records_little() {
    // 5 bytes each way: a handful of states, not one per segment.
    let r = run(5, 0.0, 1);
    for side in [&r.client, &r.server] {
        let n = congestion(&side.trace).len();
        let acks = side
            .trace
            .iter()
            .filter(|e| matches!(&e.kind, TraceKind::Segment(s) if s.dir == Direction::Received))
            .count();
        assert!(
            n >= 1 && n <= acks,
            "{n} records for {acks} segments received"
        );
    }
}
