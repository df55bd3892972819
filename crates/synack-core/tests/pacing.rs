//! Pacing: with `Config::pacing` on, a window leaves spread over the round trip at
//! cwnd / SRTT times Linux's ratio (2 in slow start), one segment per pacing interval,
//! each departure a deadline that `poll_timeout` reports; with it off the window
//! leaves at once.

mod common;
use common::*;
use synack_core::{Config, Duration};

fn cfg(pacing: bool) -> Config {
    Config {
        timestamps: false,
        pacing,
        ..quick_cfg()
    }
}

#[test]
fn a_window_leaves_as_a_burst_without_pacing() {
    let mut t = Lone::new(cfg(false));
    let e = t.passive_rtt(1, ms(100));
    t.stack.send(e.h, &vec![1u8; 10 * 1460]).unwrap();
    assert_eq!(t.out().len(), 10, "the initial window at once");
}

#[test]
fn paced_segments_are_spread_at_twice_cwnd_per_srtt_in_slow_start() {
    let mut t = Lone::new(cfg(true));
    let e = t.passive_rtt(1, ms(100));
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.cwnd, 14_600);
    t.stack.send(e.h, &vec![1u8; 10 * 1460]).unwrap();
    assert_eq!(t.out().len(), 1, "one segment, then the pacing interval");
    // 2 * 14600 B / 100 ms = 292,000 B/s; a 1460 B segment takes 1460 / 292000 s
    // = 5000 µs (payload against a rate of payload, as Linux paces).
    let gap = Duration::from_micros(5000);
    let mut sent = 1;
    while sent < 10 {
        let (d, out) = t.next_timer().expect("a pacing deadline");
        // The first interval is shorter by the 1 ms of credit a sender may take.
        let want = if sent == 1 { gap - ms(1) } else { gap };
        assert_eq!(d, want, "segment {sent}");
        assert_eq!(out.len(), 1);
        sent += 1;
    }
    // The window took 9 intervals, under half the RTT: room for slow start to grow.
    assert!(gap * 9 < ms(50));
}

#[test]
fn a_late_driver_catches_up_within_the_credit() {
    // RTT 10 ms: 2 * 14600 B / 10 ms = 2.92 MB/s, a segment every
    // 500 µs. A driver whose timer fires 3 ms late sends what fell due meanwhile at
    // once, up to 2 ms behind schedule, so a coarse timer (tokio's ticks are 1 ms)
    // does not lower the rate; beyond that the schedule restarts from 2 ms ago. A
    // sender that was not waiting for its deadline gets 1 ms.
    let mut t = Lone::new(cfg(true));
    let e = t.passive_rtt(1, ms(10));
    t.stack.send(e.h, &vec![1u8; 10 * 1460]).unwrap();
    let first = t.out().len();
    assert_eq!(
        first, 3,
        "the 1 ms credit lets two more segments follow at once"
    );
    let out = t.advance(ms(3));
    // Due by now: the schedule from 2 ms ago, 500 µs apart, up to now: five segments
    // (without the credit a late wake-up would send one).
    assert_eq!(out.len(), 5, "late by 3 ms");
    let (d, out) = t.next_timer().expect("back on schedule");
    assert!(d <= Duration::from_micros(500), "{d:?}");
    assert_eq!(out.len(), 1);
}
