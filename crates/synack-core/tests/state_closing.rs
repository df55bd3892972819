//! RFC 9293 §3.10.4 CLOSE and §3.10.7.4 in the closing states: active close
//! (FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT), passive close (CLOSE-WAIT -> LAST-ACK ->
//! CLOSED), simultaneous close (CLOSING), FIN retransmission with backoff and its retry
//! limit, RST and SYN in each state, and the FIN-WAIT-2 timeout of an orphan.

mod common;
use common::*;
use synack_core::{Config, ConnError, SendError, State};

fn est_with(cfg: Config) -> (Lone, Est) {
    let mut t = Lone::new(cfg);
    let e = t.passive(10_000, syn_opts(1460));
    events(&mut t.stack);
    (t, e)
}

fn est() -> (Lone, Est) {
    est_with(quick_cfg())
}

/// Close our side: FIN goes out with seq = SND.NXT; e.s_nxt moves past it.
fn our_fin(t: &mut Lone, e: &mut Est) {
    t.stack.shutdown(t.now, e.h).unwrap();
    assert_eq!(t.stack.state(e.h), Some(State::FinWait1));
    one(&t.out(), FIN | ACK, e.s_nxt, e.p_nxt);
    e.s_nxt += 1;
}

#[test]
fn active_close_fin_wait_1_fin_wait_2_time_wait_closed() {
    let (mut t, mut e) = est();
    our_fin(&mut t, &mut e);
    none(&t.send(&mut e, ACK, &[]));
    assert_eq!(t.stack.state(e.h), Some(State::FinWait2));
    let out = t.send(&mut e, ACK | FIN, &[]);
    one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.state(e.h), Some(State::TimeWait));
    t.advance(secs(60));
    assert_eq!(t.stack.state(e.h), Some(State::Closed));
    assert_eq!(closed_with(&events(&mut t.stack), e.h), Some(None));
    t.stack.close(t.now, e.h);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn fin_wait_1_fin_and_ack_together_go_straight_to_time_wait() {
    let (mut t, mut e) = est();
    our_fin(&mut t, &mut e);
    let out = t.send(&mut e, ACK | FIN, &[]);
    one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.state(e.h), Some(State::TimeWait));
}

#[test]
fn simultaneous_close_goes_through_closing() {
    let (mut t, mut e) = est();
    our_fin(&mut t, &mut e);
    // The peer's FIN does not acknowledge ours (FINs crossed).
    let out = t.inject(e.local, tcp(ACK | FIN, e.p_nxt, e.s_nxt - 1, 65535), &[]);
    e.p_nxt += 1;
    one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.state(e.h), Some(State::Closing));
    // CLOSING: a retransmitted FIN is acknowledged again.
    let out = t.inject(
        e.local,
        tcp(ACK | FIN, e.p_nxt - 1, e.s_nxt - 1, 65535),
        &[],
    );
    one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.state(e.h), Some(State::Closing));
    none(&t.send(&mut e, ACK, &[]));
    assert_eq!(t.stack.state(e.h), Some(State::TimeWait));
}

#[test]
fn passive_close_close_wait_last_ack_closed() {
    let (mut t, mut e) = est();
    one(&t.send(&mut e, ACK | FIN, &[]), ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.state(e.h), Some(State::CloseWait));
    // CLOSE-WAIT: we may still send.
    assert_eq!(t.stack.send(e.h, b"more"), Ok(4));
    let s = one(&t.out(), ACK | PSH, e.s_nxt, e.p_nxt);
    assert_eq!(s.payload, b"more");
    e.s_nxt += 4;
    t.stack.shutdown(t.now, e.h).unwrap();
    assert_eq!(t.stack.state(e.h), Some(State::LastAck));
    one(&t.out(), FIN | ACK, e.s_nxt, e.p_nxt);
    e.s_nxt += 1;
    none(&t.send(&mut e, ACK, &[]));
    assert_eq!(t.stack.state(e.h), Some(State::Closed));
    assert_eq!(closed_with(&events(&mut t.stack), e.h), Some(None));
}

#[test]
fn close_wait_acks_a_retransmitted_fin_and_ignores_data_after_fin() {
    let (mut t, mut e) = est();
    t.send(&mut e, ACK | FIN, &[]);
    let out = t.inject(e.local, tcp(ACK | FIN, e.p_nxt - 1, e.s_nxt, 65535), &[]);
    one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.state(e.h), Some(State::CloseWait));
    let out = t.inject(e.local, tcp(ACK, e.p_nxt, e.s_nxt, 65535), b"late");
    assert!(out.len() <= 1);
    assert_eq!(t.stack.recv_queue(e.h), 0);
}

#[test]
fn rst_in_each_closing_state() {
    // FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT: reset reported.
    for state in [State::FinWait1, State::FinWait2, State::CloseWait] {
        let (mut t, mut e) = est();
        match state {
            State::FinWait1 => our_fin(&mut t, &mut e),
            State::FinWait2 => {
                our_fin(&mut t, &mut e);
                t.send(&mut e, ACK, &[]);
            }
            _ => {
                t.send(&mut e, ACK | FIN, &[]);
            }
        }
        assert_eq!(t.stack.state(e.h), Some(state));
        none(&t.inject(e.local, tcp(RST, e.p_nxt, 0, 0), &[]));
        assert_eq!(t.stack.state(e.h), Some(State::Closed), "{state}");
        assert_eq!(
            closed_with(&events(&mut t.stack), e.h),
            Some(Some(ConnError::Reset)),
            "{state}"
        );
    }
    // CLOSING, LAST-ACK: the connection just goes away.
    for state in [State::Closing, State::LastAck] {
        let (mut t, mut e) = est();
        if state == State::Closing {
            our_fin(&mut t, &mut e);
            t.inject(e.local, tcp(ACK | FIN, e.p_nxt, e.s_nxt - 1, 65535), &[]);
            e.p_nxt += 1;
        } else {
            t.send(&mut e, ACK | FIN, &[]);
            t.stack.shutdown(t.now, e.h).unwrap();
            t.out();
        }
        assert_eq!(t.stack.state(e.h), Some(state));
        none(&t.inject(e.local, tcp(RST, e.p_nxt, 0, 0), &[]));
        assert_eq!(t.stack.state(e.h), Some(State::Closed), "{state}");
    }
}

#[test]
fn syn_in_closing_states_gets_challenge_ack() {
    let (mut t, mut e) = est();
    our_fin(&mut t, &mut e);
    one(
        &t.inject(e.local, tcp(SYN, e.p_nxt, 0, 65535), &[]),
        ACK,
        e.s_nxt,
        e.p_nxt,
    );
    assert_eq!(t.stack.state(e.h), Some(State::FinWait1));
    let (mut t, mut e) = est();
    t.send(&mut e, ACK | FIN, &[]);
    one(
        &t.inject(e.local, tcp(SYN, e.p_nxt + 3, 0, 65535), &[]),
        ACK,
        e.s_nxt,
        e.p_nxt,
    );
    assert_eq!(t.stack.state(e.h), Some(State::CloseWait));
}

#[test]
fn fin_is_retransmitted_with_backoff_until_the_retry_limit() {
    let (mut t, mut e) = est_with(Config {
        retries: 3,
        ..quick_cfg()
    });
    our_fin(&mut t, &mut e);
    let rto = t.stack.info(e.h).unwrap().rto;
    let mut gaps = Vec::new();
    while let Some((d, out)) = t.next_timer() {
        gaps.push(d);
        if t.stack.state(e.h) == Some(State::Closed) {
            none(&out);
            break;
        }
        one(&out, FIN | ACK, e.s_nxt - 1, e.p_nxt);
    }
    assert_eq!(gaps, vec![rto, rto * 2, rto * 4, rto * 8]);
    assert_eq!(
        closed_with(&events(&mut t.stack), e.h),
        Some(Some(ConnError::TimedOut))
    );
    assert_eq!(
        t.stack.send(e.h, b"x"),
        Err(SendError::Closed(ConnError::TimedOut))
    );
}

#[test]
fn last_ack_retransmits_fin_and_then_closes_on_its_ack() {
    let (mut t, mut e) = est();
    t.send(&mut e, ACK | FIN, &[]);
    t.stack.close(t.now, e.h);
    one(&t.out(), FIN | ACK, e.s_nxt, e.p_nxt);
    let (_, out) = t.next_timer().unwrap();
    one(&out, FIN | ACK, e.s_nxt, e.p_nxt);
    e.s_nxt += 1;
    none(&t.send(&mut e, ACK, &[]));
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn orphaned_fin_wait_2_times_out() {
    let (mut t, mut e) = est_with(Config {
        fin_wait2_timeout: secs(10),
        ..quick_cfg()
    });
    t.stack.close(t.now, e.h);
    one(&t.out(), FIN | ACK, e.s_nxt, e.p_nxt);
    e.s_nxt += 1;
    t.send(&mut e, ACK, &[]);
    assert_eq!(t.stack.connection_count(), 1);
    none(&t.advance(ms(9_999)));
    assert_eq!(t.stack.connection_count(), 1);
    t.advance(ms(1));
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn half_closed_fin_wait_2_with_an_owner_does_not_time_out() {
    let (mut t, mut e) = est_with(Config {
        fin_wait2_timeout: secs(10),
        ..quick_cfg()
    });
    our_fin(&mut t, &mut e);
    t.send(&mut e, ACK, &[]);
    t.advance(secs(30));
    assert_eq!(t.stack.state(e.h), Some(State::FinWait2));
    // Closing the handle later starts the timeout.
    t.stack.close(t.now, e.h);
    t.advance(secs(10));
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn data_for_an_orphan_is_answered_with_rst() {
    let (mut t, mut e) = est();
    t.stack.close(t.now, e.h);
    t.out();
    e.s_nxt += 1;
    t.send(&mut e, ACK, &[]);
    // RFC 9293 §3.10.4 / RFC 2525 §2.17: nobody will read it.
    let out = t.send(&mut e, ACK, b"unwanted");
    assert_eq!(out.len(), 1, "{:?}", brief(&out));
    assert!(out[0].flags().rst());
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn fin_follows_queued_data() {
    let (mut t, mut e) = est();
    t.stack.send(e.h, b"tail").unwrap();
    t.stack.shutdown(t.now, e.h).unwrap();
    let out = t.out();
    // Data and FIN may share a segment; FIN's seq is right after the data.
    let last = out.last().unwrap();
    assert!(last.flags().fin());
    assert_eq!(last.seq() + last.payload.len() as u32, e.s_nxt + 4);
    let data: Vec<u8> = out.iter().flat_map(|s| s.payload.clone()).collect();
    assert_eq!(data, b"tail");
    e.s_nxt += 5;
    t.send(&mut e, ACK, &[]);
    assert_eq!(t.stack.state(e.h), Some(State::FinWait2));
}
