//! Timer-driven behaviour: data retransmission on RTO with exponential backoff and the
//! retry limit (RFC 6298 §5, RFC 1122 §4.2.3.5), the RTO estimate (RFC 6298 §2) and
//! Karn's rule (§3), the user timeout (RFC 5482), keep-alive (RFC 1122 §4.2.3.6),
//! zero-window probing (RFC 9293 §3.8.6.1), delayed ACK (RFC 1122 §4.2.3.2,
//! RFC 5681 §4.2), Nagle (RFC 1122 §4.2.3.4) and SWS avoidance (RFC 9293 §3.8.6.2).

mod common;
use common::*;
use synack_core::{Config, ConnError, Keepalive, State};

fn cfg() -> Config {
    Config {
        timestamps: false,
        ..quick_cfg()
    }
}

#[test]
fn first_rtt_sample_sets_rto_to_three_rtt() {
    let mut t = Lone::new(cfg());
    let e = t.passive_rtt(1, ms(500));
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.srtt, Some(ms(500)));
    assert_eq!(info.rttvar, Some(ms(250)));
    assert_eq!(info.rto, ms(1500));
}

#[test]
fn second_sample_updates_srtt_and_rttvar_per_rfc_6298() {
    let mut t = Lone::new(cfg());
    let e = t.passive_rtt(1, ms(500));
    t.stack.send(e.h, b"x").unwrap();
    t.out();
    t.advance(ms(900));
    let mut e2 = e;
    e2.s_nxt += 1;
    t.ack(&e2, 65535);
    let info = t.stack.info(e.h).unwrap();
    // RTTVAR = 3/4 * 250 + 1/4 * |500 - 900| = 287.5; SRTT = 7/8 * 500 + 1/8 * 900 = 550.
    assert_eq!(info.srtt, Some(ms(550)));
    assert_eq!(info.rttvar, Some(Duration::from_micros(287_500)));
    // RTO = SRTT + 4 * RTTVAR (the variance term rises at once).
    assert_eq!(info.rto, ms(550 + 1150));
}

#[test]
fn a_sample_below_srtt_raises_rttvar_by_an_eighth_as_linux_does() {
    let mut t = Lone::new(cfg());
    let e = t.passive_rtt(1, ms(500));
    t.stack.send(e.h, b"x").unwrap();
    t.out();
    t.advance(ms(100));
    let mut e2 = e;
    e2.s_nxt += 1;
    t.ack(&e2, 65535);
    let info = t.stack.info(e.h).unwrap();
    // RFC 6298 alone: RTTVAR = 3/4 * 250 + 1/4 * 400 = 287.5; below SRTT only an
    // eighth of that 37.5 ms rise is taken: 254.6875. SRTT = 7/8 * 500 + 1/8 * 100.
    assert_eq!(info.srtt, Some(ms(450)));
    assert_eq!(info.rttvar, Some(Duration::from_micros(254_687)));
    // The variance term keeps its larger value until a round trip ends:
    // max(1000, 4 * 254.687) ms.
    assert_eq!(info.rto, Duration::from_micros(450_000 + 1_018_748));
}

use synack_core::Duration;

#[test]
fn data_is_retransmitted_on_rto_with_backoff_and_karn_takes_no_sample() {
    let mut t = Lone::new(cfg());
    let mut e = t.passive_rtt(1, ms(100));
    assert_eq!(t.stack.info(e.h).unwrap().rto, ms(300));
    t.stack.send(e.h, b"payload").unwrap();
    let first = one(&t.out(), ACK | PSH, e.s_nxt, e.p_nxt);
    let mut gaps = Vec::new();
    for _ in 0..3 {
        let (d, out) = t.next_timer().unwrap();
        gaps.push(d);
        let s = one(&out, ACK | PSH, e.s_nxt, e.p_nxt);
        assert_eq!(s.payload, first.payload);
    }
    assert_eq!(gaps, vec![ms(300), ms(600), ms(1200)]);
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.stats.timeouts, 3);
    assert_eq!(info.stats.segs_retransmitted, 3);
    // RFC 5681 §3.1: after an RTO the congestion window is one segment.
    assert_eq!(info.cwnd, u32::from(info.mss));
    t.advance(ms(50));
    e.s_nxt += 7;
    none(&t.ack(&e, 65535));
    // Karn: the ACK may be for any of the copies; no RTT sample is taken.
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.srtt, Some(ms(100)));
    assert_eq!(info.send_queue, 0);
    assert_eq!(
        t.stack.poll_timeout(),
        None,
        "nothing outstanding, no timer"
    );
}

#[test]
fn data_retransmissions_end_in_timed_out() {
    let mut t = Lone::new(Config {
        retries: 4,
        ..cfg()
    });
    let e = t.passive_rtt(1, ms(100));
    t.stack.send(e.h, b"lost").unwrap();
    t.out();
    let mut n = 0;
    while let Some((_, out)) = t.next_timer() {
        n += out.len();
    }
    assert_eq!(n, 4);
    assert_eq!(t.stack.state(e.h), Some(State::Closed));
    assert_eq!(
        closed_with(&events(&mut t.stack), e.h),
        Some(Some(ConnError::TimedOut))
    );
}

#[test]
fn rto_is_clamped_to_rto_max() {
    let mut t = Lone::new(Config {
        rto_max: secs(2),
        ..cfg()
    });
    let e = t.passive_rtt(1, ms(100));
    t.stack.send(e.h, b"lost").unwrap();
    t.out();
    let gaps: Vec<_> = (0..6).map(|_| t.next_timer().unwrap().0).collect();
    assert_eq!(
        gaps,
        vec![ms(300), ms(600), ms(1200), secs(2), secs(2), secs(2)]
    );
}

#[test]
fn user_timeout_fails_the_connection_before_the_retry_limit() {
    let mut t = Lone::new(Config {
        user_timeout: Some(secs(2)),
        ..cfg()
    });
    let e = t.passive_rtt(1, ms(100));
    let start = t.now;
    t.stack.send(e.h, b"stuck").unwrap();
    t.out();
    while t.stack.state(e.h) != Some(State::Closed) {
        t.next_timer().expect("timer pending");
    }
    let took = t.now.saturating_duration_since(start);
    assert!(took >= secs(2) && took < secs(5), "{took:?}");
    assert_eq!(t.stack.info(e.h).unwrap().error, Some(ConnError::TimedOut));
}

#[test]
fn user_timeout_set_per_connection() {
    let mut t = Lone::new(cfg());
    let e = t.passive_rtt(1, ms(100));
    t.stack
        .set_options(t.now, e.h, |o| o.user_timeout = Some(secs(1)));
    t.stack.send(e.h, b"stuck").unwrap();
    t.out();
    let start = t.now;
    while t.stack.state(e.h) != Some(State::Closed) {
        t.next_timer().expect("timer pending");
    }
    assert!(t.now.saturating_duration_since(start) < secs(3));
    assert_eq!(t.stack.info(e.h).unwrap().error, Some(ConnError::TimedOut));
}

#[test]
fn keepalive_probes_after_idle_and_times_out_after_count() {
    let mut t = Lone::new(cfg());
    let e = t.passive(1, syn_opts(1460));
    t.stack.set_options(t.now, e.h, |o| {
        o.keepalive = Some(Keepalive {
            idle: secs(10),
            interval: secs(2),
            count: 3,
        })
    });
    // First probe after 10 s idle: <SEQ=SND.NXT-1><ACK=RCV.NXT>, no data.
    let (d, out) = t.next_timer().unwrap();
    assert_eq!(d, secs(10));
    let p = one(&out, ACK, e.s_nxt - 1, e.p_nxt);
    assert!(p.payload.is_empty());
    // Answered: the connection lives on and idles again.
    none(&t.ack(&e, 65535));
    let mut probes = Vec::new();
    let mut at = Vec::new();
    let base = t.now;
    while t.stack.state(e.h) == Some(State::Established) {
        let (_, out) = t.next_timer().unwrap();
        probes.extend(out);
        at.push(t.now.saturating_duration_since(base));
    }
    assert_eq!(probes.len(), 3, "{:?}", brief(&probes));
    assert!(probes.iter().all(|p| p.seq() == e.s_nxt - 1));
    assert_eq!(*at.last().unwrap(), secs(16), "{at:?}");
    assert_eq!(t.stack.info(e.h).unwrap().error, Some(ConnError::TimedOut));
}

#[test]
fn keepalive_from_config_is_off_by_default_and_on_when_configured() {
    let mut t = Lone::new(cfg());
    let _e = t.passive(1, syn_opts(1460));
    assert_eq!(t.stack.poll_timeout(), None);
    let mut t = Lone::new(Config {
        keepalive: Some(Keepalive {
            idle: secs(5),
            interval: secs(1),
            count: 1,
        }),
        ..cfg()
    });
    let e = t.passive(1, syn_opts(1460));
    let (d, out) = t.next_timer().unwrap();
    assert_eq!(d, secs(5));
    one(&out, ACK, e.s_nxt - 1, e.p_nxt);
    let (d, _) = t.next_timer().unwrap();
    assert_eq!(d, secs(1));
    assert_eq!(t.stack.info(e.h).unwrap().error, Some(ConnError::TimedOut));
}

#[test]
fn zero_window_is_probed_with_backoff_while_the_peer_answers() {
    let mut t = Lone::new(cfg());
    let mut e = t.passive_rtt(1, ms(100));
    none(&t.ack(&e, 0));
    assert_eq!(t.stack.info(e.h).unwrap().snd_wnd, 0);
    t.stack.send(e.h, b"blocked").unwrap();
    none(&t.out());
    let mut gaps = Vec::new();
    for _ in 0..8 {
        let (d, out) = t.next_timer().unwrap();
        gaps.push(d);
        // A window probe the peer must answer; no data beyond the zero window.
        let p = one(&out, ACK, e.s_nxt - 1, e.p_nxt);
        assert!(p.payload.is_empty());
        none(&t.ack(&e, 0));
    }
    assert_eq!(
        gaps,
        vec![
            ms(300),
            ms(600),
            ms(1200),
            ms(2400),
            ms(4800),
            ms(9600),
            ms(19200),
            ms(38400)
        ]
    );
    assert_eq!(t.stack.state(e.h), Some(State::Established));
    // The window opens: the data goes at once.
    let out = t.ack(&e, 65535);
    let s = one(&out, ACK | PSH, e.s_nxt, e.p_nxt);
    assert_eq!(s.payload, b"blocked");
    e.s_nxt += 7;
    none(&t.ack(&e, 65535));
    assert_eq!(t.stack.poll_timeout(), None);
}

#[test]
fn delayed_ack_waits_for_a_second_segment_or_the_timeout() {
    let mut t = Lone::new(Config {
        timestamps: false,
        ..Config::default()
    });
    let mut e = t.passive(1, syn_opts(1460));
    none(&t.send(&mut e, ACK, &[7; 1460]));
    let (d, out) = t.next_timer().unwrap();
    assert_eq!(d, ms(40));
    one(&out, ACK, e.s_nxt, e.p_nxt);
    // Two full segments: the second is acknowledged at once (RFC 5681 §4.2).
    none(&t.send(&mut e, ACK, &[7; 1460]));
    one(&t.send(&mut e, ACK, &[7; 1460]), ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.poll_timeout(), None);
}

#[test]
fn out_of_order_segment_is_acked_at_once_even_with_delayed_ack() {
    let mut t = Lone::new(Config {
        timestamps: false,
        ..Config::default()
    });
    let e = t.passive(1, syn_opts(1460));
    let out = t.inject(e.local, tcp(ACK, e.p_nxt + 100, e.s_nxt, 65535), &[1; 100]);
    one(&out, ACK, e.s_nxt, e.p_nxt);
}

#[test]
fn nagle_holds_small_segments_while_data_is_in_flight() {
    let mut t = Lone::new(cfg());
    let mut e = t.passive(1, syn_opts(1460));
    t.stack.send(e.h, b"a").unwrap();
    one(&t.out(), ACK | PSH, e.s_nxt, e.p_nxt);
    t.stack.send(e.h, b"b").unwrap();
    none(&t.out());
    t.stack.send(e.h, b"c").unwrap();
    none(&t.out());
    e.s_nxt += 1;
    let out = t.ack(&e, 65535);
    let s = one(&out, ACK | PSH, e.s_nxt, e.p_nxt);
    assert_eq!(s.payload, b"bc");
}

#[test]
fn nodelay_sends_small_segments_at_once() {
    let mut t = Lone::new(cfg());
    let e = t.passive(1, syn_opts(1460));
    t.stack.set_nodelay(t.now, e.h, true);
    for (i, b) in [b"a", b"b", b"c"].iter().enumerate() {
        t.stack.send(e.h, *b).unwrap();
        let s = one(&t.out(), ACK | PSH, e.s_nxt + i as u32, e.p_nxt);
        assert_eq!(s.payload, *b);
    }
    let mut t = Lone::new(Config {
        nagle: false,
        ..cfg()
    });
    let e = t.passive(1, syn_opts(1460));
    t.stack.send(e.h, b"a").unwrap();
    t.out();
    t.stack.send(e.h, b"b").unwrap();
    assert_eq!(t.out().len(), 1, "Config::nagle = false");
}

#[test]
fn sender_avoids_silly_windows_until_the_override_timer() {
    let mut t = Lone::new(Config {
        nagle: false,
        ..cfg()
    });
    let e = t.passive_rtt(1, ms(100));
    // The peer's window shrinks to 100 bytes, far below half its maximum.
    none(&t.ack(&e, 100));
    t.stack.send(e.h, &[5; 1000]).unwrap();
    none(&t.out());
    let (d, out) = t.next_timer().unwrap();
    assert_eq!(d, ms(300));
    let s = one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(s.payload.len(), 100);
}

#[test]
fn receiver_avoids_silly_windows() {
    let mut t = Lone::new(Config {
        recv_buffer: 4000,
        ..cfg()
    });
    let mut e = t.passive(1, syn_opts(1460));
    for _ in 0..3 {
        t.send(&mut e, ACK, &[1; 1000]);
    }
    let out = t.send(&mut e, ACK, &[1; 1000]);
    let s = one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(s.tcp.window, 0, "buffer full");
    let mut buf = [0u8; 1400];
    // Reading 100 bytes would offer a tiny window: no update (RFC 9293 §3.8.6.2.2).
    assert_eq!(t.stack.recv(e.h, &mut buf[..100]), Ok(100));
    none(&t.out());
    assert_eq!(t.stack.recv(e.h, &mut buf[..1360]), Ok(1360));
    let out = t.out();
    let s = one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(s.tcp.window, 1460, "update once MSS worth of room opened");
}

/// Passive open with timestamps: the peer's SYN offers TS; the final ACK echoes the
/// SYN-ACK's TSval `rtt` later, so SRTT starts at `rtt`.
fn passive_ts(t: &mut Lone, rtt: Duration) -> (Est, u32) {
    let l = t.listen80();
    let local = t.local(80);
    let mut syn = tcp(SYN, 1, 0, 65535);
    syn.options = syn_opts(1460);
    syn.options.timestamp = Some((1000, 0));
    let out = t.inject(local, syn, &[]);
    let b = out[0].seq();
    let (synack_ts, _) = out[0].tcp.options.timestamp.expect("SYN-ACK carries TS");
    t.advance(rtt);
    let mut ack = tcp(ACK, 2, b.wrapping_add(1), 65535);
    ack.options.timestamp = Some((1001, synack_ts));
    none(&t.inject(local, ack, &[]));
    let h = t.stack.accept(l).expect("accepted");
    events(&mut t.stack);
    let e = Est {
        h,
        local,
        p_nxt: 2,
        s_nxt: b.wrapping_add(1),
        irs: 1,
        iss: b,
    };
    (e, 1001)
}

#[test]
fn timestamp_echo_of_an_earlier_copy_gives_no_rtt_sample() {
    // RFC 6298 §3 (Karn) with RFC 7323 §4.3: the receiver got the first retransmission,
    // its ACK was lost, and the second retransmission arrived as a duplicate; its ACK
    // echoes the first retransmission's TSval. The time since then includes the lost
    // ACK and our backoff: not a round trip.
    let mut t = Lone::new(quick_cfg());
    let (mut e, tsval) = passive_ts(&mut t, ms(100));
    assert_eq!(t.stack.info(e.h).unwrap().srtt, Some(ms(100)));
    t.stack.send(e.h, b"payload").unwrap();
    t.out();
    let (_, r1) = t.next_timer().unwrap();
    let ts1 = r1[0].tcp.options.timestamp.unwrap().0;
    let (_, r2) = t.next_timer().unwrap();
    let ts2 = r2[0].tcp.options.timestamp.unwrap().0;
    assert!(ts2 > ts1);
    t.advance(ms(50));
    e.s_nxt += 7;
    let mut ack = tcp(ACK, e.p_nxt, e.s_nxt, 65535);
    ack.options.timestamp = Some((tsval + 1, ts1));
    none(&t.inject(e.local, ack, &[]));
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.send_queue, 0);
    assert_eq!(
        info.srtt,
        Some(ms(100)),
        "no sample from the earlier copy's echo"
    );
}

#[test]
fn timestamp_echo_of_the_latest_retransmission_is_a_sample() {
    let mut t = Lone::new(quick_cfg());
    let (mut e, tsval) = passive_ts(&mut t, ms(100));
    t.stack.send(e.h, b"payload").unwrap();
    t.out();
    t.next_timer().unwrap();
    let (_, r2) = t.next_timer().unwrap();
    let ts2 = r2[0].tcp.options.timestamp.unwrap().0;
    t.advance(ms(20));
    e.s_nxt += 7;
    let mut ack = tcp(ACK, e.p_nxt, e.s_nxt, 65535);
    ack.options.timestamp = Some((tsval + 1, ts2));
    none(&t.inject(e.local, ack, &[]));
    // RFC 6298 §2.3 with R' = 20 ms: SRTT = 7/8 * 100 + 1/8 * 20 = 90 ms.
    assert_eq!(t.stack.info(e.h).unwrap().srtt, Some(ms(90)));
}
