//! TIME-WAIT (RFC 9293 §3.4.2, §3.10.7.4): lasts 2*MSL, re-acknowledges a
//! retransmitted FIN and restarts the timer, keeps the 4-tuple from `connect`, accepts
//! a new SYN only as RFC 6191 allows (newer timestamp, or without timestamps a higher
//! sequence number), and frees the connection when it ends.

mod common;
use common::*;
use synack_core::{Config, ConnectError, State};
use synack_wire::TcpOptions;

fn cfg() -> Config {
    Config {
        msl: secs(5),
        ..quick_cfg()
    }
}

/// Active close by the stack of a passive connection; ends in TIME-WAIT.
fn time_wait(opts: TcpOptions) -> (Lone, Est) {
    let mut t = Lone::new(cfg());
    let mut e = t.passive(1_000_000, opts);
    t.stack.shutdown(t.now, e.h).unwrap();
    let fin = t.out();
    assert!(fin[0].flags().fin());
    e.s_nxt += 1;
    let ts = fin[0].tcp.options.timestamp;
    let mut f = tcp(ACK | FIN, e.p_nxt, e.s_nxt, 65535);
    if let (Some((v, _)), Some((ours, _))) = (opts.timestamp, ts) {
        f.options.timestamp = Some((v + 10, ours));
    }
    one(&t.inject(e.local, f, &[]), ACK, e.s_nxt, e.p_nxt + 1);
    e.p_nxt += 1;
    assert_eq!(t.stack.state(e.h), Some(State::TimeWait));
    (t, e)
}

#[test]
fn time_wait_lasts_two_msl_then_the_connection_is_gone() {
    let (mut t, e) = time_wait(syn_opts(1460));
    assert_eq!(t.stack.config().time_wait(), secs(10));
    none(&t.advance(ms(9_999)));
    assert_eq!(t.stack.state(e.h), Some(State::TimeWait));
    t.advance(ms(1));
    assert_eq!(t.stack.state(e.h), Some(State::Closed));
    t.stack.close(t.now, e.h);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn orphan_in_time_wait_is_freed_by_itself() {
    let (mut t, e) = time_wait(syn_opts(1460));
    t.stack.close(t.now, e.h);
    assert_eq!(t.stack.connection_count(), 1);
    t.advance(secs(10));
    assert_eq!(t.stack.connection_count(), 0);
    assert_eq!(t.stack.poll_timeout(), None, "no timer left behind");
}

#[test]
fn retransmitted_fin_is_reacked_and_restarts_the_timer() {
    let (mut t, e) = time_wait(syn_opts(1460));
    t.advance(secs(8));
    let out = t.inject(e.local, tcp(ACK | FIN, e.p_nxt - 1, e.s_nxt, 65535), &[]);
    one(&out, ACK, e.s_nxt, e.p_nxt);
    t.advance(ms(9_999));
    assert_eq!(t.stack.state(e.h), Some(State::TimeWait), "timer restarted");
    t.advance(ms(1));
    assert_eq!(t.stack.state(e.h), Some(State::Closed));
}

#[test]
fn four_tuple_cannot_be_reused_by_connect_during_time_wait() {
    let mut t = Lone::new(cfg());
    let local = t.local(5555);
    let h = t.stack.connect(t.now, t.peer, Some(local)).unwrap();
    let syn = t.out().remove(0);
    let a = syn.seq();
    t.inject(local, tcp(SYN | ACK, 100, a + 1, 65535), &[]);
    t.stack.close(t.now, h);
    one(&t.out(), FIN | ACK, a + 1, 101);
    one(
        &t.inject(local, tcp(ACK | FIN, 101, a + 2, 65535), &[]),
        ACK,
        a + 2,
        102,
    );
    assert_eq!(t.stack.connection_count(), 1);
    assert_eq!(
        t.stack.connect(t.now, t.peer, Some(local)),
        Err(ConnectError::AddrInUse)
    );
    // An ephemeral port is never the TIME-WAIT one.
    let h2 = t.stack.connect(t.now, t.peer, None).unwrap();
    assert_ne!(t.stack.local_addr(h2), Some(local));
    t.stack.abort(t.now, h2);
    t.out();
    t.advance(secs(10));
    assert!(t.stack.connect(t.now, t.peer, Some(local)).is_ok());
}

#[test]
fn new_syn_with_higher_sequence_number_reopens_without_timestamps() {
    let (mut t, e) = time_wait(syn_opts(1460));
    let out = t.inject(e.local, tcp(SYN, e.p_nxt + 100_000, 0, 65535), &[]);
    assert_eq!(out.len(), 1, "{:?}", brief(&out));
    assert_eq!(out[0].flags(), SYN | ACK);
    assert_eq!(out[0].ack(), e.p_nxt + 100_001);
    assert_eq!(
        t.stack.state(e.h),
        Some(State::Closed),
        "old incarnation retired"
    );
}

#[test]
fn new_syn_with_lower_sequence_number_is_not_accepted() {
    let (mut t, e) = time_wait(syn_opts(1460));
    let out = t.inject(e.local, tcp(SYN, e.p_nxt - 100_000, 0, 65535), &[]);
    one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.state(e.h), Some(State::TimeWait));
}

fn ts_opts(v: u32) -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        timestamp: Some((v, 0)),
        ..TcpOptions::default()
    }
}

#[test]
fn new_syn_with_newer_timestamp_reopens_even_with_lower_sequence_number() {
    let (mut t, e) = time_wait(ts_opts(50_000));
    let mut syn = tcp(SYN, e.p_nxt - 100_000, 0, 65535);
    syn.options = ts_opts(60_000);
    let out = t.inject(e.local, syn, &[]);
    assert_eq!(out.len(), 1, "{:?}", brief(&out));
    assert_eq!(out[0].flags(), SYN | ACK);
    assert_eq!(t.stack.state(e.h), Some(State::Closed));
}

#[test]
fn new_syn_with_older_timestamp_is_not_accepted() {
    let (mut t, e) = time_wait(ts_opts(50_000));
    let mut syn = tcp(SYN, e.p_nxt + 100_000, 0, 65535);
    syn.options = ts_opts(40_000);
    let out = t.inject(e.local, syn, &[]);
    assert!(out.iter().all(|s| !s.flags().syn()), "{:?}", brief(&out));
    assert_eq!(t.stack.state(e.h), Some(State::TimeWait));
}

#[test]
fn rst_in_time_wait_closes() {
    let (mut t, e) = time_wait(syn_opts(1460));
    none(&t.inject(e.local, tcp(RST, e.p_nxt, 0, 0), &[]));
    assert_eq!(t.stack.state(e.h), Some(State::Closed));
}

#[test]
fn msl_is_configurable() {
    let mut t = Lone::new(Config {
        msl: ms(500),
        ..quick_cfg()
    });
    let mut e = t.passive(1, syn_opts(1460));
    t.stack.close(t.now, e.h);
    t.out();
    e.s_nxt += 1;
    t.send(&mut e, ACK | FIN, &[]);
    assert_eq!(t.stack.connection_count(), 1);
    let (d, _) = t.next_timer().unwrap();
    assert_eq!(d, secs(1));
    assert_eq!(t.stack.connection_count(), 0);
}
