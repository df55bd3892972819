//! RFC 9293 §3.10.7.4 in SYN-RECEIVED (passive open): the final ACK establishes, a bad
//! ACK is answered `<SEQ=SEG.ACK><CTL=RST>`, a retransmitted SYN gets the SYN-ACK again,
//! RST (RFC 5961 §3.2) removes the half-open connection, and the SYN-ACK is
//! retransmitted with backoff until `Config::synack_retries` runs out.

mod common;
use common::*;
use synack_core::{Config, State};
use synack_wire::TcpOptions;

/// Listener on :80 and a SYN from the peer with ISN 1000; returns the SYN-ACK's seq.
fn half_open(t: &mut Lone) -> u32 {
    t.listen80();
    let out = t.inject(t.local(80), tcp(SYN, 1000, 0, 65535), &[]);
    one(&out, SYN | ACK, out[0].seq(), 1001).seq()
}

#[test]
fn retransmitted_syn_gets_the_same_syn_ack() {
    let mut t = Lone::new(quick_cfg());
    let b = half_open(&mut t);
    let out = t.inject(t.local(80), tcp(SYN, 1000, 0, 65535), &[]);
    one(&out, SYN | ACK, b, 1001);
    assert_eq!(t.stack.connection_count(), 1);
}

#[test]
fn syn_ack_is_retransmitted_with_backoff_then_the_half_open_connection_is_dropped() {
    let mut t = Lone::new(quick_cfg());
    let b = half_open(&mut t);
    let mut gaps = Vec::new();
    while let Some((d, out)) = t.next_timer() {
        gaps.push(d.as_millis() as u64);
        if t.stack.connection_count() == 0 {
            none(&out);
            break;
        }
        one(&out, SYN | ACK, b, 1001);
    }
    // Config::synack_retries = 5 retransmissions, 1 s, 2 s, 4 s, ... apart.
    assert_eq!(gaps, vec![1000, 2000, 4000, 8000, 16000, 32000]);
    assert_eq!(t.stack.connection_count(), 0);
    // The listener has room again.
    t.peer = addr("10.0.0.1:40001");
    assert_eq!(t.inject(t.local(80), tcp(SYN, 1, 0, 65535), &[]).len(), 1);
}

#[test]
fn ack_that_does_not_acknowledge_the_syn_ack_gets_rst() {
    let mut t = Lone::new(quick_cfg());
    let b = half_open(&mut t);
    for bad in [b, b + 2, b.wrapping_sub(7)] {
        let out = t.inject(t.local(80), tcp(ACK, 1001, bad, 65535), &[]);
        one(&out, RST, bad, 0);
    }
    // Still half-open: the right ACK completes it.
    none(&t.inject(t.local(80), tcp(ACK, 1001, b + 1, 65535), &[]));
    assert_eq!(t.stack.stats().listen_overflows, 0);
    assert_eq!(t.stack.connection_count(), 1);
}

#[test]
fn final_ack_with_data_and_fin_is_processed() {
    let mut t = Lone::new(quick_cfg());
    let l = t.listen80();
    let out = t.inject(t.local(80), tcp(SYN, 1000, 0, 65535), &[]);
    let b = out[0].seq();
    let out = t.inject(t.local(80), tcp(ACK | FIN, 1001, b + 1, 65535), b"abc");
    one(&out, ACK, b + 1, 1005);
    let h = t.stack.accept(l).unwrap();
    assert_eq!(t.stack.state(h), Some(State::CloseWait));
    let mut buf = [0u8; 8];
    assert_eq!(t.stack.recv(h, &mut buf), Ok(3));
    assert_eq!(t.stack.recv(h, &mut buf), Ok(0));
}

#[test]
fn segment_without_ack_bit_is_dropped() {
    let mut t = Lone::new(quick_cfg());
    half_open(&mut t);
    none(&t.inject(t.local(80), tcp(PSH, 1001, 0, 65535), b"x"));
    assert_eq!(t.stack.connection_count(), 1);
}

#[test]
fn exact_rst_removes_the_half_open_connection() {
    let mut t = Lone::new(quick_cfg());
    half_open(&mut t);
    none(&t.inject(t.local(80), tcp(RST, 1001, 0, 0), &[]));
    assert_eq!(t.stack.connection_count(), 0);
    assert!(
        t.stack.poll_event().is_none(),
        "nothing reached the application"
    );
}

#[test]
fn in_window_inexact_rst_gets_challenge_ack_and_out_of_window_rst_is_ignored() {
    let mut t = Lone::new(quick_cfg());
    let b = half_open(&mut t);
    // RFC 5961 §3.2: in the window but not RCV.NXT: challenge ACK.
    let out = t.inject(t.local(80), tcp(RST, 1500, 0, 0), &[]);
    one(&out, ACK, b + 1, 1001);
    // Outside the window: silently dropped.
    none(&t.inject(t.local(80), tcp(RST, 1001 + 10_000_000, 0, 0), &[]));
    assert_eq!(t.stack.connection_count(), 1);
}

#[test]
fn new_syn_with_another_isn_drops_the_half_open_connection() {
    let mut t = Lone::new(quick_cfg());
    half_open(&mut t);
    // RFC 9293 §3.10.7.4 fourth: in SYN-RECEIVED from a passive OPEN, return to LISTEN.
    t.inject(t.local(80), tcp(SYN, 1500, 0, 65535), &[]);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn shutdown_before_the_final_ack_sends_fin_after_it() {
    let mut t = Lone::new(Config {
        backlog: 4,
        ..quick_cfg()
    });
    let l = t.listen80();
    let out = t.inject(t.local(80), tcp(SYN, 1000, 0, 65535), &[]);
    let b = out[0].seq();
    none(&t.inject(t.local(80), tcp(ACK, 1001, b + 1, 65535), &[]));
    let h = t.stack.accept(l).unwrap();
    t.stack.shutdown(t.now, h).unwrap();
    let out = t.out();
    one(&out, FIN | ACK, b + 1, 1001);
    assert_eq!(t.stack.state(h), Some(State::FinWait1));
}

#[test]
fn an_ack_echoing_the_first_of_two_syn_acks_gives_no_rtt_sample() {
    // RFC 6298 §3 (Karn) with RFC 7323 §4.3: the SYN-ACK is retransmitted after its
    // RTO; the peer's ACK echoes the first SYN-ACK's TSval (its copy of the second
    // was lost, say), so the time since then includes the backoff and is no sample.
    let mut t = Lone::new(Config::default());
    let l = t.listen80();
    let mut syn = tcp(SYN, 1000, 0, 65535);
    syn.options = TcpOptions {
        timestamp: Some((500, 0)),
        ..syn_opts(1460)
    };
    let out = t.inject(t.local(80), syn, &[]);
    let first = one(&out, SYN | ACK, out[0].seq(), 1001).clone();
    let b = first.seq();
    let first_tsval = first.tcp.options.timestamp.expect("TS offered").0;
    let (waited, out) = t.next_timer().expect("SYN-ACK timer");
    assert!(waited >= ms(1000), "{waited:?}");
    one(&out, SYN | ACK, b, 1001);
    t.advance(ms(10));
    let mut ack = tcp(ACK, 1001, b.wrapping_add(1), 65535);
    ack.options.timestamp = Some((501, first_tsval));
    none(&t.inject(t.local(80), ack, &[]));
    let h = t.stack.accept(l).expect("established");
    assert_eq!(t.stack.state(h), Some(State::Established));
    let info = t.stack.info(h).unwrap();
    assert_eq!(
        info.srtt, None,
        "no sample from the ambiguous echo: {info:?}"
    );
}
