//! Congestion-window validation (RFC 7661) and restart after idle (RFC 5681 §4.1):
//! cwnd grows only while the flow uses it, so a sender held back by the peer's window
//! or by the application cannot build a huge cwnd and release it as one burst when the
//! window opens; and a connection that was idle for longer than the RTO starts again
//! from the initial window.

mod common;
use common::*;
use synack_core::{Config, ConnHandle, Duration, State};

fn pair(server_recv: usize) -> (Pair, ConnHandle, ConnHandle) {
    // A fixed receive buffer (no autotuning beyond it), so the peer's window stays put.
    let server = Config {
        recv_buffer: server_recv,
        recv_buffer_max: server_recv,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), server, Duration::from_millis(10));
    let l = p.server.listen(addr("10.0.0.2:80"), 0).unwrap();
    let c = p.client.connect(p.now, addr("10.0.0.2:80"), None).unwrap();
    let mut s = None;
    assert!(p.run_until(Duration::from_secs(1), |p| {
        if s.is_none() {
            s = p.server.accept(l);
        }
        s.is_some() && p.client.state(c) == Some(State::Established)
    }));
    (p, c, s.unwrap())
}

/// Send `total` bytes from client to server, the server reading everything as it
/// arrives; returns the largest cwnd the client had.
fn bulk(p: &mut Pair, c: ConnHandle, s: ConnHandle, total: usize) -> u32 {
    let data = vec![7u8; 64 * 1024];
    let (mut sent, mut got, mut max_cwnd) = (0, 0, 0);
    let mut buf = vec![0u8; 256 * 1024];
    let deadline = p.now + Duration::from_secs(120);
    while got < total {
        assert!(p.now < deadline, "transfer stalled at {got} of {total}");
        if sent < total {
            sent += p
                .client
                .send(c, &data[..(total - sent).min(data.len())])
                .unwrap_or(0);
        }
        // The server's reads emit nothing until the next step, so cwnd is the same
        // before and after them.
        max_cwnd = max_cwnd.max(p.client.info(c).unwrap().cwnd);
        got += read_and_step(p, s, &mut buf);
    }
    max_cwnd
}

/// One millisecond of the pair: the server reads everything it holds, then the
/// pair runs; returns the bytes read.
fn read_and_step(p: &mut Pair, s: ConnHandle, buf: &mut [u8]) -> usize {
    let mut got = 0;
    while let Ok(n) = p.server.recv(s, buf) {
        if n == 0 {
            break;
        }
        got += n;
    }
    let until = p.now + Duration::from_millis(1);
    while p.step(until) {}
    p.now = p.now.max(until);
    got
}

#[test]
fn cwnd_does_not_grow_while_the_peer_window_limits_the_flow() {
    // A 32 KiB receive window on a 20 ms RTT path: the sender can never have more
    // than 32 KiB in flight, so cwnd validated by use stays within twice that (slow
    // start grows while at least half of cwnd is in flight, RFC 7661 §4.3 in Linux's
    // form). Before validation it grew on every ACK: to 374 kB here.
    let (mut p, c, s) = pair(32 * 1024);
    let max_cwnd = bulk(&mut p, c, s, 4 << 20);
    let info = p.client.info(c).unwrap();
    assert!(info.snd_wnd <= 32 * 1024, "{info:?}");
    assert!(
        // The last growth step before the check fails adds at most L = 8 SMSS
        // (RFC 9406 §4.2).
        max_cwnd <= 2 * 32 * 1024 + 8 * u32::from(info.mss),
        "cwnd grew to {max_cwnd} with at most 32 KiB in flight"
    );
}

#[test]
fn idle_longer_than_the_rto_restarts_from_the_initial_window() {
    // RFC 5681 §4.1: cwnd = min(RW, cwnd) with RW = IW after an idle period > RTO.
    let (mut p, c, s) = pair(4 << 20);
    bulk(&mut p, c, s, 2 << 20);
    let info = p.client.info(c).unwrap();
    let iw = 10 * u32::from(info.mss);
    assert!(info.cwnd > 4 * iw, "{info:?}");
    p.run_for(Duration::from_secs(5));
    p.client.send(c, &vec![1u8; 128 * 1024]).unwrap();
    let until = p.now + Duration::from_micros(1);
    p.step(until);
    let info = p.client.info(c).unwrap();
    assert_eq!(info.cwnd, iw, "restart window after 5 s idle");
    let in_flight = info.send_queue as u32;
    assert!(in_flight > iw);
}

/// Run the pair for `d`, the server reading everything; returns the bytes read.
fn drain_for(p: &mut Pair, s: ConnHandle, d: Duration) -> usize {
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0;
    let until = p.now + d;
    while p.now < until {
        got += read_and_step(p, s, &mut buf);
    }
    got
}

#[test]
fn cubic_reduces_from_its_validated_window_when_the_application_held_it_back() {
    // RFC 9438 §4.6 lets CUBIC reduce from cwnd where window validation keeps cwnd
    // from growing past what the flow uses (as Linux does). A flow that filled its
    // window and then sends only a little per RTT (held back by the application, or
    // by a full send buffer) keeps the window it validated; a loss then leaves it
    // 0.7 of that window, not 0.7 of the few segments it had in flight.
    let (mut p, c, s) = pair(4 << 20);
    let data = vec![7u8; 64 * 1024];
    // Bulk, with one segment lost once the window is past 100 kB, so the flow
    // leaves slow start; then bulk on in congestion avoidance.
    let mut lost = false;
    let mut got = 0;
    while got < 3 << 20 {
        let _ = p.client.send(c, &data);
        if !lost && p.client.info(c).unwrap().cwnd > 100_000 {
            lost = p.lose_to_server(|seg| !seg.payload.is_empty());
        }
        got += drain_for(&mut p, s, Duration::from_millis(1));
        assert!(p.now.total_millis() < 60_000, "bulk stalled at {got}");
    }
    assert!(lost);
    drain_for(&mut p, s, Duration::from_millis(200));
    let full = p.client.info(c).unwrap();
    assert!(full.cwnd >= full.ssthresh, "still in slow start: {full:?}");
    // Application-limited: 8 kB per RTT (20 ms) for a second; cwnd stays.
    for _ in 0..50 {
        assert_eq!(p.client.send(c, &data[..8192]).unwrap(), 8192);
        drain_for(&mut p, s, Duration::from_millis(20));
    }
    let before = p.client.info(c).unwrap();
    assert_eq!(
        before.cwnd, full.cwnd,
        "cwnd moved while application-limited"
    );
    // One more write, its first segment lost: SACKs of the rest start recovery.
    assert_eq!(p.client.send(c, &data[..8192]).unwrap(), 8192);
    assert!(p.lose_to_server(|seg| !seg.payload.is_empty()));
    drain_for(&mut p, s, Duration::from_millis(500));
    let after = p.client.info(c).unwrap();
    assert_eq!(
        after.stats.fast_retransmits,
        before.stats.fast_retransmits + 1
    );
    let expect = before.cwnd as f64 * 0.7;
    assert!(
        (after.ssthresh as f64 - expect).abs() <= f64::from(before.mss) * 2.0,
        "ssthresh {} after a loss with {} validated, expected about 0.7 of it",
        after.ssthresh,
        before.cwnd
    );
}
