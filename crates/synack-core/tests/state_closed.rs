//! RFC 9293 §3.10.7.1: a segment for a connection that does not exist (CLOSED) is
//! answered with a reset: `<SEQ=SEG.ACK><CTL=RST>` when it carries an ACK, else
//! `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`; an incoming RST is never answered.

mod common;
use common::*;
use synack_core::{Config, State};

#[test]
fn syn_to_closed_port_gets_rst_ack_with_ack_seq_plus_one() {
    let mut t = Lone::new(quick_cfg());
    let out = t.inject(t.local(81), tcp(SYN, 1000, 0, 65535), &[]);
    let r = one(&out, RST | ACK, 0, 1001);
    assert_eq!(r.src, t.local(81));
    assert_eq!(r.dst, t.peer);
    assert_eq!(t.stack.stats().no_connection, 1);
    assert_eq!(t.stack.stats().rsts_sent, 1);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn ack_to_closed_port_gets_bare_rst_with_seq_of_seg_ack() {
    let mut t = Lone::new(quick_cfg());
    let out = t.inject(t.local(81), tcp(ACK, 5, 123_456, 65535), b"hello");
    one(&out, RST, 123_456, 0);
}

#[test]
fn data_and_fin_without_ack_count_in_seg_len() {
    let mut t = Lone::new(quick_cfg());
    // SEG.LEN = 10 bytes of data + FIN.
    let out = t.inject(t.local(81), tcp(FIN, u32::MAX - 3, 0, 65535), &[1; 10]);
    one(&out, RST | ACK, 0, (u32::MAX - 3).wrapping_add(11));
    // SYN with data: SYN counts too.
    let out = t.inject(t.local(81), tcp(SYN, 50, 0, 65535), &[1; 4]);
    one(&out, RST | ACK, 0, 55);
}

#[test]
fn rst_to_closed_port_is_never_answered() {
    let mut t = Lone::new(quick_cfg());
    none(&t.inject(t.local(81), tcp(RST, 1, 0, 0), &[]));
    none(&t.inject(t.local(81), tcp(RST | ACK, 1, 7, 0), &[]));
    assert_eq!(t.stack.stats().rsts_sent, 0);
}

#[test]
fn segment_for_another_host_is_not_ours() {
    let mut t = Lone::new(quick_cfg());
    let other = addr("10.0.0.9:80");
    none(&t.inject(other, tcp(SYN, 1, 0, 65535), &[]));
    assert_eq!(t.stack.stats().not_for_us, 1);
    assert_eq!(t.stack.stats().rsts_sent, 0);
}

#[test]
fn segment_after_the_connection_was_aborted_gets_rst() {
    let mut t = Lone::new(quick_cfg());
    let mut e = t.passive(100, syn_opts(1460));
    t.stack.abort(t.now, e.h);
    let out = t.out();
    one(&out, RST | ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.state(e.h), None, "handle released");
    assert_eq!(t.stack.connection_count(), 0);
    // The listener is still there, but an ACK is not a SYN: RST <SEQ=SEG.ACK>.
    let s_nxt = e.s_nxt;
    let out = t.send(&mut e, ACK, b"late");
    one(&out, RST, s_nxt, 0);
}

#[test]
fn rst_replies_are_rate_limited_when_configured() {
    let mut t = Lone::new(Config {
        rst_limit: 2,
        ..quick_cfg()
    });
    let mut n = 0;
    for i in 0..5 {
        n += t.inject(t.local(81), tcp(SYN, i, 0, 65535), &[]).len();
    }
    assert_eq!(n, 2);
    t.advance(secs(1));
    assert_eq!(t.inject(t.local(81), tcp(SYN, 9, 0, 65535), &[]).len(), 1);
}

#[test]
fn closed_state_has_a_name_and_no_handle_lookups_panic() {
    let mut t = Lone::new(quick_cfg());
    let e = t.passive(1, syn_opts(1460));
    t.stack.abort(t.now, e.h);
    assert_eq!(State::Closed.name(), "CLOSED");
    let mut buf = [0u8; 4];
    assert!(t.stack.recv(e.h, &mut buf).is_err());
    assert!(t.stack.send(e.h, b"x").is_err());
    assert!(t.stack.info(e.h).is_none());
}
