//! RFC 9293 §3.10.7.4 in ESTABLISHED: sequence acceptability (four cases), data and
//! its ACK, FIN to CLOSE-WAIT, and the RFC 5961 blind-attack defences: exact-match RST
//! resets, in-window RST and any SYN get a rate-limited challenge ACK, out-of-window
//! RST is dropped, ACKs outside [SND.UNA - MAX.SND.WND, SND.NXT] are answered.

mod common;
use common::*;
use synack_core::{ConnError, Event, RecvError, SendError, State};

fn est() -> (Lone, Est) {
    let mut t = Lone::new(quick_cfg());
    let e = t.passive(10_000, syn_opts(1460));
    events(&mut t.stack);
    (t, e)
}

#[test]
fn in_order_data_is_acked_and_readable() {
    let (mut t, mut e) = est();
    let out = t.send(&mut e, ACK | PSH, b"hello");
    one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(events(&mut t.stack), vec![Event::Readable(e.h)]);
    let mut buf = [0u8; 16];
    assert_eq!(t.stack.recv(e.h, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(t.stack.recv(e.h, &mut buf), Err(RecvError::WouldBlock));
}

#[test]
fn data_beyond_the_window_is_not_accepted_and_is_acked() {
    let (mut t, e) = est();
    let far = e.p_nxt.wrapping_add(1 << 20);
    let out = t.inject(e.local, tcp(ACK, far, e.s_nxt, 65535), b"zz");
    one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.recv_queue(e.h), 0);
}

#[test]
fn old_duplicate_data_is_acked_and_not_delivered_twice() {
    let (mut t, mut e) = est();
    let start = e.p_nxt;
    t.send(&mut e, ACK, b"abc");
    let out = t.inject(e.local, tcp(ACK, start, e.s_nxt, 65535), b"abc");
    one(&out, ACK, e.s_nxt, e.p_nxt);
    // Overlapping: the new part is accepted.
    let out = t.inject(e.local, tcp(ACK, start + 1, e.s_nxt, 65535), b"bcde");
    one(&out, ACK, e.s_nxt, start + 5);
    let mut buf = [0u8; 16];
    assert_eq!(t.stack.recv(e.h, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"abcde");
}

#[test]
fn zero_length_segment_outside_the_window_gets_ack() {
    let (mut t, e) = est();
    let out = t.inject(
        e.local,
        tcp(ACK, e.p_nxt.wrapping_sub(1), e.s_nxt, 65535),
        &[],
    );
    one(&out, ACK, e.s_nxt, e.p_nxt);
    // In the window, a pure ACK is not answered.
    none(&t.inject(e.local, tcp(ACK, e.p_nxt, e.s_nxt, 65535), &[]));
}

#[test]
fn fin_moves_to_close_wait_and_reads_end_with_eof() {
    let (mut t, mut e) = est();
    let out = t.send(&mut e, ACK | FIN, b"last");
    one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.state(e.h), Some(State::CloseWait));
    let mut buf = [0u8; 16];
    assert_eq!(t.stack.recv(e.h, &mut buf), Ok(4));
    assert_eq!(t.stack.recv(e.h, &mut buf), Ok(0));
    assert!(t.stack.is_read_closed(e.h));
}

#[test]
fn exact_rst_resets_the_connection() {
    let (mut t, e) = est();
    none(&t.inject(e.local, tcp(RST, e.p_nxt, 0, 0), &[]));
    assert_eq!(t.stack.state(e.h), Some(State::Closed));
    assert_eq!(
        closed_with(&events(&mut t.stack), e.h),
        Some(Some(ConnError::Reset))
    );
    let mut buf = [0u8; 4];
    assert_eq!(
        t.stack.recv(e.h, &mut buf),
        Err(RecvError::Closed(ConnError::Reset))
    );
    assert_eq!(
        t.stack.send(e.h, b"x"),
        Err(SendError::Closed(ConnError::Reset))
    );
    t.stack.close(t.now, e.h);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn in_window_inexact_rst_gets_challenge_ack() {
    let (mut t, e) = est();
    let out = t.inject(e.local, tcp(RST, e.p_nxt + 100, 0, 0), &[]);
    one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.state(e.h), Some(State::Established));
    assert_eq!(t.stack.info(e.h).unwrap().stats.challenge_acks, 1);
}

#[test]
fn out_of_window_rst_is_dropped_silently() {
    let (mut t, e) = est();
    none(&t.inject(e.local, tcp(RST, e.p_nxt.wrapping_sub(1), 0, 0), &[]));
    none(&t.inject(
        e.local,
        tcp(RST | ACK, e.p_nxt.wrapping_add(1 << 30), e.s_nxt, 0),
        &[],
    ));
    assert_eq!(t.stack.state(e.h), Some(State::Established));
}

#[test]
fn syn_in_a_synchronized_state_gets_challenge_ack() {
    let (mut t, e) = est();
    // In the window...
    let out = t.inject(e.local, tcp(SYN, e.p_nxt + 5, 0, 65535), &[]);
    one(&out, ACK, e.s_nxt, e.p_nxt);
    // ... and at the exact RCV.NXT (RFC 5961 §4.2: regardless of the sequence number),
    // once the per-connection limit allows another (RFC 5961 §7, 500 ms).
    none(&t.inject(e.local, tcp(SYN, e.p_nxt, 0, 65535), &[]));
    t.advance(ms(500));
    let out = t.inject(e.local, tcp(SYN, e.p_nxt, 0, 65535), &[]);
    one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.state(e.h), Some(State::Established));
}

// The limits on challenge ACKs (per connection, and the randomised stack-wide
// budget) are tested in challenge_ack.rs.

#[test]
fn ack_of_unsent_data_is_answered_and_dropped() {
    let (mut t, e) = est();
    let out = t.inject(e.local, tcp(ACK, e.p_nxt, e.s_nxt + 1000, 65535), b"data");
    one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.recv_queue(e.h), 0, "the segment was dropped");
}

#[test]
fn ack_too_old_gets_challenge_ack_and_data_is_dropped() {
    let (mut t, e) = est();
    // RFC 5961 §5.2: SEG.ACK < SND.UNA - MAX.SND.WND is unacceptable.
    let old = e.s_nxt.wrapping_sub(1 << 20);
    let out = t.inject(e.local, tcp(ACK, e.p_nxt, old, 65535), b"data");
    one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.recv_queue(e.h), 0);
}

#[test]
fn application_data_is_sent_and_released_when_acked() {
    let (mut t, e) = est();
    assert_eq!(t.stack.send(e.h, b"response"), Ok(8));
    let out = t.out();
    let s = one(&out, ACK | PSH, e.s_nxt, e.p_nxt);
    assert_eq!(s.payload, b"response");
    assert_eq!(t.stack.info(e.h).unwrap().send_queue, 8);
    none(&t.inject(e.local, tcp(ACK, e.p_nxt, e.s_nxt + 8, 65535), &[]));
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.send_queue, 0);
    assert_eq!(info.stats.bytes_acked, 8);
}

#[test]
fn abort_sends_rst_with_snd_nxt_and_rcv_nxt() {
    let (mut t, e) = est();
    t.stack.abort(t.now, e.h);
    one(&t.out(), RST | ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn close_with_unread_data_resets() {
    let (mut t, mut e) = est();
    t.send(&mut e, ACK, b"unread");
    t.stack.close(t.now, e.h);
    let out = t.out();
    assert_eq!(out.len(), 1, "{:?}", brief(&out));
    assert!(out[0].flags().rst());
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn half_close_then_keep_reading() {
    let (mut t, mut e) = est();
    t.stack.shutdown(t.now, e.h).unwrap();
    one(&t.out(), FIN | ACK, e.s_nxt, e.p_nxt);
    e.s_nxt += 1;
    assert_eq!(t.stack.send(e.h, b"no"), Err(SendError::Shutdown));
    let out = t.send(&mut e, ACK, b"still reading");
    one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.state(e.h), Some(State::FinWait2));
    let mut buf = [0u8; 32];
    assert_eq!(t.stack.recv(e.h, &mut buf), Ok(13));
    let out = t.send(&mut e, ACK | FIN, b"bye");
    one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.state(e.h), Some(State::TimeWait));
    assert_eq!(t.stack.recv(e.h, &mut buf), Ok(3));
    assert_eq!(t.stack.recv(e.h, &mut buf), Ok(0));
}
