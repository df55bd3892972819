//! Linux's send-side controls, as upstream packetdrill's scripts check them: corking
//! (`TCP_CORK`, `MSG_MORE`; RFC 1122 §4.2.3.4, RFC 9293 §3.9.1.2), the write
//! granularity under `TCP_NOTSENT_LOWAT`, the tail loss probe of a lone FIN (RFC 8985
//! §7.2), and a device that refuses every packet (local drops, with the user timeout
//! of RFC 5482 counted from the first retry).

mod common;
use common::*;
use synack_core::{Config, ConnError, Duration, SendError};

fn cfg() -> Config {
    Config {
        timestamps: false,
        ..quick_cfg()
    }
}

fn sack_opts(mss: u16) -> synack_wire::TcpOptions {
    let mut o = syn_opts(mss);
    o.sack_permitted = true;
    o
}

#[test]
fn msg_more_holds_a_partial_segment_despite_nodelay_until_the_probe_timer() {
    let mut t = Lone::new(cfg());
    let e = t.passive_rtt(1, ms(10));
    t.stack.set_nodelay(t.now, e.h, true);
    assert_eq!(t.stack.send_more(e.h, &[1; 40]), Ok(40));
    none(&t.out());
    let rto = t.stack.info(e.h).unwrap().rto;
    let (d, out) = t.next_timer().unwrap();
    assert_eq!(d, rto, "the probe timer releases it after one RTO");
    let s = one(&out, ACK | PSH, e.s_nxt, e.p_nxt);
    assert_eq!(
        s.payload.len(),
        40,
        "sent with PSH, as tcp_write_wakeup does"
    );
}

#[test]
fn a_write_without_more_pushes_what_more_held() {
    let mut t = Lone::new(cfg());
    let e = t.passive(1, syn_opts(1000));
    t.stack.set_nodelay(t.now, e.h, true);
    t.stack.send_more(e.h, &[1; 100]).unwrap();
    t.stack.send_more(e.h, &[1; 160]).unwrap();
    none(&t.out());
    t.stack.send(e.h, &[1; 5]).unwrap();
    let s = one(&t.out(), ACK | PSH, e.s_nxt, e.p_nxt);
    assert_eq!(s.payload.len(), 265);
}

#[test]
fn more_data_goes_in_whole_segments_without_psh_and_the_tail_after_an_ack() {
    let mut t = Lone::new(cfg());
    let mut e = t.passive(1, syn_opts(1000));
    t.stack.set_nodelay(t.now, e.h, true);
    t.stack.send_more(e.h, &[1; 3100]).unwrap();
    let out = t.out();
    assert_eq!(out.len(), 3, "{:?}", brief(&out));
    for s in &out {
        assert_eq!(s.payload.len(), 1000);
        assert!(!s.flags().psh(), "MSG_MORE data is not pushed");
    }
    e.s_nxt = e.s_nxt.wrapping_add(3000);
    // Linux pushes on the ACK; the nodelay socket then sends the 100-byte tail.
    let s = one(&t.ack(&e, 65535), ACK, e.s_nxt, e.p_nxt);
    assert_eq!(s.payload.len(), 100);
    assert!(!s.flags().psh());
}

#[test]
fn cork_holds_small_writes_until_uncorked() {
    let mut t = Lone::new(cfg());
    let mut e = t.passive(1, syn_opts(1000));
    t.stack.set_cork(t.now, e.h, true);
    t.stack.send(e.h, &[1; 40]).unwrap();
    t.stack.send(e.h, &[1; 40]).unwrap();
    none(&t.out());
    t.stack.set_cork(t.now, e.h, false);
    let s = one(&t.out(), ACK | PSH, e.s_nxt, e.p_nxt);
    assert_eq!(s.payload.len(), 80);
    e.s_nxt = e.s_nxt.wrapping_add(80);
    none(&t.ack(&e, 65535));
    // Corked again: TCP_NODELAY pushes what is queued once, later writes wait.
    t.stack.set_cork(t.now, e.h, true);
    t.stack.send(e.h, &[1; 40]).unwrap();
    none(&t.out());
    t.stack.set_nodelay(t.now, e.h, true);
    let s = one(&t.out(), ACK | PSH, e.s_nxt, e.p_nxt);
    assert_eq!(s.payload.len(), 40);
    t.stack.send(e.h, &[1; 40]).unwrap();
    none(&t.out());
}

#[test]
fn notsent_lowat_bounds_a_write_per_chunk_as_linux() {
    // No TSO: Linux's size goal is one MSS, so a write takes whole segments while
    // fewer than the limit's bytes are unsent.
    let mut t = Lone::new(cfg());
    let e = t.passive(1, syn_opts(1000));
    t.stack.set_notsent_lowat(e.h, 2500);
    t.stack.set_buffer_sizes(e.h, Some(100_000), None);
    assert_eq!(t.stack.send(e.h, &[1; 59_000]), Ok(3000));
    assert_eq!(t.stack.send(e.h, &[1; 59_000]), Err(SendError::WouldBlock));
    // With TSO the size goal is half the peer's largest window (65,535 -> 32,000):
    // the first chunk is taken whole, the sent part of it frees room in the tail.
    let mut t = Lone::new(Config {
        tso_max: 65_536,
        ..cfg()
    });
    let e = t.passive(1, syn_opts(1000));
    t.stack.set_notsent_lowat(e.h, 4000);
    t.stack.set_buffer_sizes(e.h, Some(100_000), None);
    assert_eq!(t.stack.send(e.h, &[1; 59_000]), Ok(32_000));
    let sent: usize = t.out().iter().map(|s| s.payload.len()).sum();
    assert_eq!(sent, 10_000, "the initial window");
    assert_eq!(t.stack.send(e.h, &[1; 59_000]), Ok(sent));
    assert_eq!(t.stack.send(e.h, &[1; 59_000]), Err(SendError::WouldBlock));
}

/// A passive open with SACK where the final ACK arrives `rtt` after the SYN-ACK
/// (one RTT sample, as `Lone::passive_rtt`).
fn passive_sack_rtt(t: &mut Lone, rtt: Duration) -> Est {
    let l = t.listen80();
    let local = t.local(80);
    let mut syn = tcp(SYN, 1, 0, 65535);
    syn.options = sack_opts(1460);
    let b = t.inject(local, syn, &[])[0].seq();
    t.advance(rtt);
    none(&t.inject(local, tcp(ACK, 2, b.wrapping_add(1), 65535), &[]));
    let h = t.stack.accept(l).expect("accepted");
    events(&mut t.stack);
    Est {
        h,
        local,
        p_nxt: 2,
        s_nxt: b.wrapping_add(1),
        irs: 1,
        iss: b,
    }
}

/// Close `e` and return the delays of the FIN's next two retransmissions.
fn fin_retransmit_delays(t: &mut Lone, e: &Est) -> (Duration, Duration) {
    t.stack.close(t.now, e.h);
    one(&t.out(), ACK | FIN, e.s_nxt, e.p_nxt);
    let (d1, out) = t.next_timer().unwrap();
    one(&out, ACK | FIN, e.s_nxt, e.p_nxt);
    let (d2, out) = t.next_timer().unwrap();
    one(&out, ACK | FIN, e.s_nxt, e.p_nxt);
    (d1, d2)
}

#[test]
fn a_lone_fin_gets_a_loss_probe_at_the_rto_time() {
    let mut t = Lone::new(cfg());
    let e = passive_sack_rtt(&mut t, ms(100));
    let rto = t.stack.info(e.h).unwrap().rto;
    // The probe takes the RTO's time (its PTO, 2*SRTT + 200 ms, is later) and the
    // RTO then follows one RTO later, not backed off.
    assert_eq!(fin_retransmit_delays(&mut t, &e), (rto, rto));
    // Probes off (Linux tcp_early_retrans=0), or no SACK: RTO and backoff.
    let mut t = Lone::new(Config {
        loss_probes: false,
        ..cfg()
    });
    let e = passive_sack_rtt(&mut t, ms(100));
    assert_eq!(fin_retransmit_delays(&mut t, &e), (rto, rto * 2));
    let mut t = Lone::new(cfg());
    let e = t.passive_rtt(1, ms(100));
    assert_eq!(fin_retransmit_delays(&mut t, &e), (rto, rto * 2));
}

#[test]
fn a_refusing_device_delays_data_and_the_user_timeout_counts_from_the_first_retry() {
    let mut t = Lone::new(cfg());
    let e = t.passive_rtt(1, ms(100));
    t.stack
        .set_options(t.now, e.h, |o| o.user_timeout = Some(secs(3)));
    let rto = t.stack.info(e.h).unwrap().rto;
    t.stack.set_egress_blocked(true);
    t.stack.send(e.h, &[1; 24]).unwrap();
    none(&t.out());
    let (d, out) = t.next_timer().unwrap();
    assert_eq!(d, rto, "the first retry after one RTO");
    none(&out);
    let mut waited = Duration::ZERO;
    loop {
        let (d, out) = t.next_timer().unwrap();
        none(&out);
        waited += d;
        if let Some(closed) = closed_with(&events(&mut t.stack), e.h) {
            assert_eq!(closed, Some(ConnError::TimedOut));
            break;
        }
        assert_eq!(d, ms(500), "TCP_RESOURCE_PROBE_INTERVAL");
        assert!(waited < secs(4), "never timed out");
    }
    assert_eq!(waited, secs(3), "three seconds after the first retry");
}

#[test]
fn data_leaves_once_the_device_takes_packets_again() {
    let mut t = Lone::new(cfg());
    let e = t.passive_rtt(1, ms(100));
    t.stack.set_egress_blocked(true);
    t.stack.send(e.h, &[1; 24]).unwrap();
    none(&t.out());
    t.next_timer().unwrap();
    t.stack.set_egress_blocked(false);
    let (d, out) = t.next_timer().unwrap();
    assert_eq!(d, ms(500));
    let s = one(&out, ACK | PSH, e.s_nxt, e.p_nxt);
    assert_eq!(s.payload.len(), 24);
}
