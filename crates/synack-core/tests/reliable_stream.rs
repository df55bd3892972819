//! The reliable byte stream: sequence numbers across the 2^32 wrap (RFC 9293 §3.4),
//! fast retransmit and NewReno recovery (RFC 5681 §3.2, RFC 6582), window scaling
//! (RFC 7323 §2), timestamps (RFC 7323 §3–5: RTTM and PAWS), MSS negotiation (RFC 9293
//! §3.7.1) and out-of-order reassembly with SACK blocks (RFC 2018 §4).

mod common;
use common::*;
use synack_core::{Config, Instant, State};
use synack_wire::{SackBlock, TcpOptions};

fn cfg() -> Config {
    Config {
        timestamps: false,
        nagle: false,
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
    let h = probe.stack.connect(probe.now, probe.peer, Some(local)).unwrap();
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
    assert_eq!(info.ssthresh, 5 * mss, "half the flight (RFC 5681 eq. 4)");
    assert_eq!(info.stats.segs_retransmitted, 2);
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
    t.listen80();
    let mut syn = tcp(SYN, 1, 0, 65535);
    syn.options = opts;
    let sa = t.inject(t.local(80), syn, &[]).remove(0);
    let our_shift = sa.tcp.options.window_scale.expect("offered back");
    assert_eq!(our_shift, 3, "256 KiB buffer needs shift 3");
    assert_eq!(sa.tcp.window, 65535, "a SYN's window is never scaled");
    let b = sa.seq();
    t.inject(t.local(80), tcp(ACK, 2, b + 1, 1000), &[]);
    let h = t.stack.accept(synack_core::ListenerHandle::clone(&t.stack_listener())).unwrap();
    assert_eq!(t.stack.info(h).unwrap().snd_wnd, 4000);
    let out = t.inject(t.local(80), tcp(ACK, 2, b + 1, 1000), b"x");
    assert_eq!(
        u32::from(out[0].tcp.window) << our_shift,
        t.stack.info(h).unwrap().rcv_wnd
    );

    // Only the peer's SYN lacks it: no scaling either way.
    let mut t = Lone::new(cfg());
    let e = t.passive(1, syn_opts(1460));
    t.ack(&e, 1000);
    assert_eq!(t.stack.info(e.h).unwrap().snd_wnd, 1000);
    let mut e2 = e;
    let out = t.send(&mut e2, ACK, b"x");
    assert_eq!(out[0].tcp.window, 65535);

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

impl LoneExt for Lone {
    fn stack_listener(&self) -> synack_core::ListenerHandle {
        self.first_listener.expect("listen80 was called")
    }
}
