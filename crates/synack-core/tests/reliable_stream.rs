//! The reliable byte stream: sequence numbers across the 2^32 wrap (RFC 9293 §3.4),
//! fast retransmit and NewReno recovery (RFC 5681 §3.2, RFC 6582), window scaling
//! (RFC 7323 §2), timestamps (RFC 7323 §3–5: RTTM and PAWS), MSS negotiation (RFC 9293
//! §3.7.1) and out-of-order reassembly with SACK blocks (RFC 2018 §4).

mod common;
use common::*;
use synack_core::cc::Algorithm;
use synack_core::{Config, Instant, State};
use synack_wire::{SackBlock, TcpOptions};

fn cfg() -> Config {
    Config {
        timestamps: false,
        nagle: false,
        // The recovery arithmetic below is RFC 5681's (ssthresh = FlightSize / 2).
        congestion: Algorithm::NewReno,
        ..quick_cfg()
    }
}

fn read_all(t: &mut Lone, e: &Est) -> Vec<u8> {
    let mut v = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = t.stack.recv(e.h, &mut buf) {
        if n == 0 {
            break;
        }
        v.extend_from_slice(&buf[..n]);
    }
    v
}

#[test]
fn peer_sequence_numbers_wrap_around_2_pow_32() {
    let mut t = Lone::new(cfg());
    let mut e = t.passive(u32::MAX - 150, syn_opts(1460));
    let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    for chunk in data.chunks(100) {
        let out = t.send(&mut e, ACK, chunk);
        one(&out, ACK, e.s_nxt, e.p_nxt);
    }
    assert!(e.p_nxt < 1000, "wrapped: {}", e.p_nxt);
    assert_eq!(read_all(&mut t, &e), data);
    // FIN after the wrap.
    one(&t.send(&mut e, ACK | FIN, &[]), ACK, e.s_nxt, e.p_nxt);
    assert_eq!(t.stack.state(e.h), Some(State::CloseWait));
}

/// A Lone whose clock is set so that the stack's ISN for an active open from
/// `local` to the peer is `target` (RFC 6528: ISN = M + F with M ticking every 4 us;
/// the ISN is learnt from a twin stack with the same key, so no test hook is needed).
fn lone_with_isn(local_port: u16, target: u32) -> Lone {
    let mut probe = Lone::new(cfg());
    let local = probe.local(local_port);
    let h = probe
        .stack
        .connect(probe.now, probe.peer, Some(local))
        .unwrap();
    let iss0 = probe.stack.info(h).unwrap().iss;
    let ticks0 = (probe.now.total_micros() / 4) as u32;
    let f = iss0.wrapping_sub(ticks0);
    let mut ticks = u64::from(target.wrapping_sub(f));
    if ticks < u64::from(ticks0) {
        ticks += 1 << 32;
    }
    let mut t = Lone::new(cfg());
    t.now = Instant::from_micros(ticks * 4);
    t
}

#[test]
fn our_sequence_numbers_wrap_around_2_pow_32() {
    let target = u32::MAX - 2_000;
    let mut t = lone_with_isn(5555, target);
    let local = t.local(5555);
    let h = t.stack.connect(t.now, t.peer, Some(local)).unwrap();
    let syn = t.out().remove(0);
    assert_eq!(syn.seq(), target);
    one(
        &t.inject(local, tcp(SYN | ACK, 7, target + 1, 65535), &[]),
        ACK,
        target + 1,
        8,
    );
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(t.stack.send(h, &data), Ok(5000));
    let out = t.out();
    let mut next = target + 1;
    let mut got = Vec::new();
    for s in &out {
        assert_eq!(s.seq(), next);
        next = next.wrapping_add(s.payload.len() as u32);
        got.extend_from_slice(&s.payload);
    }
    assert_eq!(got, data);
    assert!(next < 5000, "crossed the wrap: {next}");
    // A cumulative ACK across the wrap releases everything.
    none(&t.inject(local, tcp(ACK, 8, next, 65535), &[]));
    assert_eq!(t.stack.info(h).unwrap().send_queue, 0);
    t.stack.shutdown(t.now, h).unwrap();
    one(&t.out(), FIN | ACK, next, 8);
    none(&t.inject(local, tcp(ACK, 8, next + 1, 65535), &[]));
    assert_eq!(t.stack.state(h), Some(State::FinWait2));
}

#[test]
fn three_dup_acks_trigger_fast_retransmit_and_partial_acks_retransmit_the_next_hole() {
    let mut t = Lone::new(cfg());
    let e = t.passive_rtt(1, ms(100));
    let mss = 1460u32;
    t.stack.send(e.h, &vec![9u8; 10 * mss as usize]).unwrap();
    let out = t.out();
    assert_eq!(out.len(), 10, "initial window of 10 segments (RFC 6928)");
    let s = e.s_nxt;
    // Segments 2 and 5 are lost; the peer ACKs segment 1 then sends duplicate ACKs.
    let ack = |t: &mut Lone, a: u32| t.inject(e.local, tcp(ACK, e.p_nxt, a, 65535), &[]);
    none(&ack(&mut t, s + mss));
    none(&ack(&mut t, s + mss));
    none(&ack(&mut t, s + mss));
    let out = ack(&mut t, s + mss);
    let r = one(&out, ACK, s + mss, e.p_nxt);
    assert_eq!(r.payload.len(), mss as usize);
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.stats.fast_retransmits, 1);
    assert_eq!(info.stats.dup_acks, 3);
    // Partial ACK up to the second hole: retransmit it at once (RFC 6582 §3.2 step 5).
    let out = ack(&mut t, s + 4 * mss);
    let r = one(&out, ACK, s + 4 * mss, e.p_nxt);
    assert_eq!(r.payload.len(), mss as usize);
    assert_eq!(t.stack.info(e.h).unwrap().stats.timeouts, 0);
    // Full ACK ends recovery; cwnd deflates to ssthresh (RFC 6582 §3.2 step 6).
    ack(&mut t, s + 10 * mss);
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.send_queue, 0);
    assert!(info.cwnd <= info.ssthresh + mss, "{info:?}");
    // Nine segments were in flight at the third duplicate ACK.
    assert_eq!(
        info.ssthresh,
        9 * mss / 2,
        "half the flight (RFC 5681 eq. 4)"
    );
    assert_eq!(info.stats.segs_retransmitted, 2);
}

#[test]
fn initial_window_counts_negotiated_segments() {
    let mut t = Lone::new(cfg());
    // No MSS option: SMSS is 536 and IW10 is ten such segments (RFC 6928 §2).
    let e = t.passive(1, TcpOptions::default());
    t.stack.send(e.h, &[1u8; 20_000]).unwrap();
    let out = t.out();
    assert_eq!(out.len(), 10, "{:?}", brief(&out));
    assert!(out.iter().all(|s| s.payload.len() == 536));
}

#[test]
fn acks_that_change_the_window_or_carry_data_are_not_dup_acks() {
    let mut t = Lone::new(cfg());
    let e = t.passive_rtt(1, ms(100));
    t.stack.send(e.h, &[1u8; 5 * 1460]).unwrap();
    t.out();
    for w in [60000, 60001, 60002, 60003] {
        t.inject(e.local, tcp(ACK, e.p_nxt, e.s_nxt, w), &[]);
    }
    assert_eq!(t.stack.info(e.h).unwrap().stats.fast_retransmits, 0);
}

#[test]
fn window_scaling_is_used_only_when_both_syns_carry_it() {
    // Both: the peer's window field is shifted, ours too.
    let mut t = Lone::new(cfg());
    let opts = TcpOptions {
        mss: Some(1460),
        window_scale: Some(2),
        ..TcpOptions::default()
    };
    let l = t.listen80();
    let mut syn = tcp(SYN, 1, 0, 65535);
    syn.options = opts;
    let sa = t.inject(t.local(80), syn, &[]).remove(0);
    let our_shift = sa.tcp.options.window_scale.expect("offered back");
    assert_eq!(
        our_shift, 7,
        "the 6 MiB autotuning maximum (recv_buffer_max) needs shift 7"
    );
    assert_eq!(sa.tcp.window, 65535, "a SYN's window is never scaled");
    let b = sa.seq();
    t.inject(t.local(80), tcp(ACK, 2, b + 1, 1000), &[]);
    let h = t.stack.accept(l).unwrap();
    assert_eq!(t.stack.info(h).unwrap().snd_wnd, 4000);
    let out = t.inject(t.local(80), tcp(ACK, 2, b + 1, 1000), b"x");
    assert_eq!(
        u32::from(out[0].tcp.window),
        t.stack.info(h).unwrap().rcv_wnd >> our_shift
    );

    // Only the peer's SYN lacks it: no scaling either way.
    let mut t = Lone::new(cfg());
    let e = t.passive(1, syn_opts(1460));
    t.ack(&e, 1000);
    assert_eq!(t.stack.info(e.h).unwrap().snd_wnd, 1000);
    let mut e2 = e;
    let out = t.send(&mut e2, ACK, b"x");
    // Unscaled bytes: 65535 less the byte just received (the right edge stays put for
    // one byte: receiver SWS avoidance, RFC 9293 §3.8.6.2.2).
    assert_eq!(out[0].tcp.window, 65534);

    // Scaling disabled in our config: not offered, not used.
    let mut t = Lone::new(Config {
        window_scaling: false,
        ..cfg()
    });
    t.listen80();
    let mut syn = tcp(SYN, 1, 0, 65535);
    syn.options = opts;
    let sa = t.inject(t.local(80), syn, &[]).remove(0);
    assert_eq!(sa.tcp.options.window_scale, None);
}

fn ts(v: u32, ecr: u32) -> TcpOptions {
    TcpOptions {
        timestamp: Some((v, ecr)),
        ..TcpOptions::default()
    }
}

/// Passive open with timestamps; the final ACK comes `rtt` after the SYN-ACK.
/// Returns the connection and the stack's TSval in the SYN-ACK.
fn ts_conn(t: &mut Lone, rtt: synack_core::Duration) -> (Est, u32) {
    let l = t.listen80();
    let mut syn = tcp(SYN, 1, 0, 65535);
    syn.options = TcpOptions {
        mss: Some(1460),
        timestamp: Some((1000, 0)),
        ..TcpOptions::default()
    };
    let sa = t.inject(t.local(80), syn, &[]).remove(0);
    let (their, ecr) = sa.tcp.options.timestamp.expect("timestamps negotiated");
    assert_eq!(ecr, 1000);
    t.advance(rtt);
    let mut ack = tcp(ACK, 2, sa.seq() + 1, 65535);
    ack.options = ts(1001, their);
    none(&t.inject(t.local(80), ack, &[]));
    let h = t.stack.accept(l).unwrap();
    let e = Est {
        h,
        local: t.local(80),
        p_nxt: 2,
        s_nxt: sa.seq() + 1,
        irs: 1,
        iss: sa.seq(),
    };
    (e, their)
}

#[test]
fn timestamps_measure_rtt_on_every_ack() {
    let mut t = Lone::new(Config {
        timestamps: true,
        ..cfg()
    });
    let (mut e, _) = ts_conn(&mut t, ms(300));
    assert_eq!(t.stack.info(e.h).unwrap().srtt, Some(ms(300)));
    t.stack.send(e.h, b"data").unwrap();
    let s = one(&t.out(), ACK | PSH, e.s_nxt, e.p_nxt);
    let (val, ecr) = s.tcp.options.timestamp.expect("TS on every segment");
    assert_eq!(ecr, 1001, "TSecr echoes TS.Recent");
    t.advance(ms(100));
    e.s_nxt += 4;
    let mut a = tcp(ACK, e.p_nxt, e.s_nxt, 65535);
    a.options = ts(1002, val);
    none(&t.inject(e.local, a, &[]));
    // RFC 6298 §2.3 with R' = 100 ms: SRTT = 7/8 * 300 + 1/8 * 100.
    assert_eq!(t.stack.info(e.h).unwrap().srtt, Some(ms(275)));
}

#[test]
fn paws_drops_a_segment_with_an_old_timestamp_and_acks_it() {
    let mut t = Lone::new(Config {
        timestamps: true,
        ..cfg()
    });
    let (e, their) = ts_conn(&mut t, ms(10));
    let mut old = tcp(ACK, e.p_nxt, e.s_nxt, 65535);
    old.options = ts(900, their);
    let out = t.inject(e.local, old, b"stale");
    let a = one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(a.tcp.options.timestamp.unwrap().1, 1001);
    assert_eq!(t.stack.recv_queue(e.h), 0);
    assert_eq!(t.stack.info(e.h).unwrap().stats.dropped, 1);
    let mut fresh = tcp(ACK, e.p_nxt, e.s_nxt, 65535);
    fresh.options = ts(1100, their);
    let out = t.inject(e.local, fresh, b"fresh");
    let a = one(&out, ACK, e.s_nxt, e.p_nxt + 5);
    assert_eq!(
        a.tcp.options.timestamp.unwrap().1,
        1100,
        "TS.Recent updated"
    );
    assert_eq!(t.stack.recv_queue(e.h), 5);
    // An RST is not subject to PAWS (RFC 7323 §5.3 R1).
    let mut rst = tcp(RST, e.p_nxt + 5, 0, 0);
    rst.options = ts(1, 0);
    t.inject(e.local, rst, &[]);
    assert_eq!(t.stack.state(e.h), Some(State::Closed));
}

#[test]
fn mss_is_the_minimum_of_both_and_536_without_the_option() {
    for (peer, want) in [(Some(1000u16), 1000u16), (Some(9000), 1460), (None, 536)] {
        let mut t = Lone::new(cfg());
        let opts = TcpOptions {
            mss: peer,
            ..TcpOptions::default()
        };
        let e = t.passive(1, opts);
        assert_eq!(t.stack.info(e.h).unwrap().mss, want);
        t.stack.send(e.h, &[1u8; 5000]).unwrap();
        let out = t.out();
        assert!(out.iter().all(|s| s.payload.len() <= usize::from(want)));
        assert_eq!(out[0].payload.len(), usize::from(want));
    }
    // Our advertised MSS follows the MTU.
    let mut t = Lone::new(Config { mtu: 1000, ..cfg() });
    t.listen80();
    let sa = t.inject(t.local(80), tcp(SYN, 1, 0, 65535), &[]);
    assert_eq!(sa[0].tcp.options.mss, Some(960));
}

#[test]
fn out_of_order_data_is_reassembled_and_sack_blocks_report_the_most_recent_first() {
    let mut t = Lone::new(cfg());
    let opts = TcpOptions {
        mss: Some(1460),
        sack_permitted: true,
        ..TcpOptions::default()
    };
    let e = t.passive(1, opts);
    let p = e.p_nxt;
    let seg = |t: &mut Lone, off: u32, fill: u8| {
        t.inject(e.local, tcp(ACK, p + off, e.s_nxt, 65535), &[fill; 100])
    };
    let blocks = |s: &Seg| -> Vec<(u32, u32)> {
        s.tcp
            .options
            .sack_blocks()
            .iter()
            .map(|b: &SackBlock| (b.left - p, b.right - p))
            .collect()
    };
    let a = one(&seg(&mut t, 100, 2), ACK, e.s_nxt, p);
    assert_eq!(blocks(&a), vec![(100, 200)]);
    let a = one(&seg(&mut t, 300, 4), ACK, e.s_nxt, p);
    assert_eq!(blocks(&a), vec![(300, 400), (100, 200)]);
    let a = one(&seg(&mut t, 500, 6), ACK, e.s_nxt, p);
    assert_eq!(blocks(&a), vec![(500, 600), (300, 400), (100, 200)]);
    // Filling between two blocks merges them; the merged block is the most recent.
    let a = one(&seg(&mut t, 200, 3), ACK, e.s_nxt, p);
    assert_eq!(blocks(&a), vec![(100, 400), (500, 600)]);
    assert_eq!(
        t.stack.recv_queue(e.h),
        0,
        "nothing readable before the hole"
    );
    let a = one(&seg(&mut t, 0, 1), ACK, e.s_nxt, p + 400);
    assert_eq!(blocks(&a), vec![(500, 600)]);
    let a = one(&seg(&mut t, 400, 5), ACK, e.s_nxt, p + 600);
    assert!(blocks(&a).is_empty());
    let mut want = Vec::new();
    for f in 1..=6u8 {
        want.extend_from_slice(&[f; 100]);
    }
    assert_eq!(read_all(&mut t, &e), want);
}

#[test]
fn no_sack_blocks_unless_negotiated() {
    let mut t = Lone::new(cfg());
    let e = t.passive(1, syn_opts(1460));
    let out = t.inject(e.local, tcp(ACK, e.p_nxt + 100, e.s_nxt, 65535), &[1; 10]);
    let a = one(&out, ACK, e.s_nxt, e.p_nxt);
    assert_eq!(a.tcp.options.sack_len, 0);
}
