//! ECN end to end in the simulator (RFC 3168): a bulk transfer through a bottleneck
//! whose queue CE-marks ECT packets above a threshold (`LinkConfig::ce_threshold`).
//! With ECN negotiated the sender backs off on the echoed marks and the queue never
//! overflows: nothing is dropped or retransmitted. The same path without ECN
//! overflows its drop-tail queue and recovers by retransmission.

use synack_core::time::Duration;
use synack_core::{Config, Ecn};
use synack_sim::demo::{run_demo, DemoConfig, DemoReport};
use synack_sim::LinkConfig;

fn run(ecn: Ecn) -> DemoReport {
    // 10 Mbit/s, 20 ms one way: a BDP of 50 KB; a 64 KB queue marking from 16 KB.
    let link = LinkConfig::with_latency(Duration::from_millis(20))
        .bandwidth(10_000_000)
        .queue_bytes(64 * 1024)
        .ce_threshold(16 * 1024);
    let cfg = DemoConfig {
        bytes: 2_000_000,
        seed: 11,
        link: Some(link),
        stack: Some(Config {
            ecn,
            ..Config::default()
        }),
        ..DemoConfig::default()
    };
    let r = run_demo(&cfg, &mut |_| {});
    assert!(r.ok(), "transfer incomplete with {ecn:?}");
    r
}

#[test]
fn a_ce_marking_bottleneck_slows_an_ecn_sender_without_loss() {
    let r = run(Ecn::On);
    let (c, s) = (
        r.client.info.as_ref().unwrap(),
        r.server.info.as_ref().unwrap(),
    );
    assert!(c.stats.ecn && s.stats.ecn, "negotiated");
    // The client sends the bulk data: the server sees the marks, the client the echo.
    let (sender, receiver) = if c.stats.bytes_sent >= s.stats.bytes_sent {
        (c, s)
    } else {
        (s, c)
    };
    assert!(receiver.stats.ecn_ce_received > 0, "{:?}", receiver.stats);
    assert!(sender.stats.ecn_ece_received > 0, "{:?}", sender.stats);
    assert!(sender.stats.ecn_reductions > 0, "{:?}", sender.stats);
    assert_eq!(r.link_drops, 0, "the queue never overflowed");
    assert_eq!(sender.stats.segs_retransmitted, 0, "{:?}", sender.stats);
}

#[test]
fn the_same_bottleneck_without_ecn_drops() {
    let r = run(Ecn::Off);
    let c = r.client.info.as_ref().unwrap();
    assert!(!c.stats.ecn);
    assert_eq!(c.stats.ecn_reductions, 0);
    assert!(r.link_drops > 0, "a drop-tail queue overflows");
}
