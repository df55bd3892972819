//! RFC 5961 without the side channel of CVE-2016-5696: challenge ACKs are limited per
//! connection (one per `Config::challenge_ack_interval`) before the stack-wide budget,
//! which is redrawn at random each second, so an off-path attacker cannot learn from
//! the challenge ACKs it receives whether a guessed 4-tuple exists; and blind RSTs,
//! SYNs and data with guessed sequence numbers change nothing in any synchronized
//! state (RFC 5961 §3–§5).

mod common;
use common::*;
use proptest::prelude::*;
use std::net::SocketAddr;
use synack_core::{Config, Duration, Instant, Stack, State};

#[test]
fn one_challenge_ack_per_connection_per_interval() {
    let mut t = Lone::new(quick_cfg());
    let e = t.passive(10_000, syn_opts(1460));
    let mut n = 0;
    for i in 1..=10 {
        n += t.inject(e.local, tcp(RST, e.p_nxt + i, 0, 0), &[]).len();
    }
    assert_eq!(n, 1, "one challenge ACK for ten in-window RSTs at once");
    t.advance(ms(499));
    none(&t.inject(e.local, tcp(SYN, e.p_nxt, 0, 0), &[]));
    t.advance(ms(1));
    one(
        &t.inject(e.local, tcp(SYN, e.p_nxt, 0, 0), &[]),
        ACK,
        e.s_nxt,
        e.p_nxt,
    );
    assert_eq!(t.stack.info(e.h).unwrap().stats.challenge_acks, 2);
    assert_eq!(t.stack.state(e.h), Some(State::Established));
}

/// A server on 10.0.0.2:80 with connections from `peers`, established by hand; returns
/// the stack and, for each peer, (our next seq, the peer's next seq).
fn server(cfg: Config, secret: u8, peers: &[SocketAddr]) -> (Stack, Vec<(u32, u32)>) {
    let now = Instant::from_secs(1);
    let mut s = Stack::new(cfg, [secret; 16]);
    s.add_address(ip("10.0.0.2"));
    let me = addr("10.0.0.2:80");
    s.listen(me, 1000).unwrap();
    let mut seqs = Vec::new();
    for &p in peers {
        s.handle_packet(now, &packet(p, me, tcp(SYN, 7, 0, 65535), &[]));
        let sa = drain(&mut s, now).remove(0);
        let ack = tcp(ACK, 8, sa.seq().wrapping_add(1), 65535);
        s.handle_packet(now, &packet(p, me, ack, &[]));
        seqs.push((sa.seq().wrapping_add(1), 8));
    }
    drain(&mut s, now);
    (s, seqs)
}

/// What an off-path attacker sees in each one-second round: it spoofs `spoofs`
/// in-window RSTs for the guessed 4-tuple 10.0.0.5:5555 -> :80 (which exists only
/// when `victim`), then sends `probes` SYNs spread over its own connections and counts
/// the challenge ACKs that come back to it.
fn attacker_view(
    cfg: Config,
    secret: u8,
    victim: bool,
    own: usize,
    probes: usize,
    rounds: u64,
) -> Vec<usize> {
    let guessed = addr("10.0.0.5:5555");
    let mut peers: Vec<SocketAddr> = (0..own)
        .map(|i| SocketAddr::new(ip("10.0.0.66"), 2000 + i as u16))
        .collect();
    if victim {
        peers.push(guessed);
    }
    let (mut s, seqs) = server(cfg, secret, &peers);
    let me = addr("10.0.0.2:80");
    let mut seen = Vec::new();
    for r in 1..=rounds {
        let mut now = Instant::from_secs(1 + r);
        for _ in 0..20 {
            // The guessed connection's RCV.NXT is 8: in the window, not exact.
            s.handle_packet(now, &packet(guessed, me, tcp(RST, 8 + 1000, 0, 0), &[]));
            drain(&mut s, now);
            now = now.add_micros(10_000);
        }
        now = now.add_micros(300_000);
        let mut acks = 0;
        for i in 0..probes {
            let k = i % own;
            s.handle_packet(
                now,
                &packet(peers[k], me, tcp(SYN, seqs[k].1, 0, 65535), &[]),
            );
            acks += drain(&mut s, now)
                .iter()
                .filter(|x| x.dst == peers[k] && x.is(ACK))
                .count();
        }
        seen.push(acks);
    }
    seen
}

/// The attack of CVE-2016-5696 as published: one connection of the attacker's own,
/// probed more often than the stack-wide limit allows. With the per-connection limit
/// the attacker sees the same thing whether or not the guessed connection exists
/// (with a single fixed budget of 100 it would see 100 - 1 against 100).
#[test]
fn single_connection_attacker_learns_nothing() {
    let cfg = Config {
        challenge_ack_limit: 100,
        ..quick_cfg()
    };
    let with = attacker_view(cfg.clone(), 3, true, 1, 200, 20);
    let without = attacker_view(cfg, 3, false, 1, 200, 20);
    assert_eq!(with, without);
    assert!(with.iter().all(|&n| n == 1), "{with:?}");
}

/// An attacker with many connections of its own gets past the per-connection limit
/// and measures the stack-wide budget itself. That budget is drawn each second between
/// half and one and a half times the limit, so the one challenge ACK the guessed
/// connection costs is lost in a spread of 100: the best threshold on the count an
/// attacker could pick tells the two worlds apart little better than a coin.
#[test]
fn many_connection_attacker_cannot_tell_from_the_global_budget() {
    let cfg = Config {
        challenge_ack_limit: 100,
        ..quick_cfg()
    };
    let rounds = 150;
    let with = attacker_view(cfg.clone(), 4, true, 200, 200, rounds);
    let without = attacker_view(cfg, 5, false, 200, 200, rounds);
    // The budget really is measured (the attacker is not limited by its probes) and
    // really varies.
    for v in [&with, &without] {
        assert!(v.iter().all(|&n| (49..150).contains(&n)), "{v:?}");
        let (lo, hi) = (v.iter().min().unwrap(), v.iter().max().unwrap());
        assert!(hi - lo > 50, "budget barely varies: {lo}..{hi}");
    }
    // The best rule "count below c means the connection exists", over every c.
    let best = (40..160)
        .map(|c| {
            let right = with.iter().filter(|&&n| n < c).count()
                + without.iter().filter(|&&n| n >= c).count();
            right as f64 / (2 * rounds) as f64
        })
        .fold(0.0, f64::max);
    assert!(
        best < 0.62,
        "a threshold tells the worlds apart {best:.2} of the time"
    );
}

/// The synchronized states a connection can be put in, and how.
#[derive(Debug, Clone, Copy)]
enum Sync {
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

const STATES: [Sync; 7] = [
    Sync::Established,
    Sync::FinWait1,
    Sync::FinWait2,
    Sync::CloseWait,
    Sync::Closing,
    Sync::LastAck,
    Sync::TimeWait,
];

/// A connection in `st`; returns the test peer, the handle's connection ends, and
/// (RCV.NXT, SND.NXT) of the stack.
fn in_state(st: Sync) -> (Lone, Est, u32, u32) {
    let mut t = Lone::new(quick_cfg());
    let mut e = t.passive(10_000, syn_opts(1460));
    let now = t.now;
    match st {
        Sync::Established => {}
        Sync::CloseWait | Sync::LastAck => {
            t.send(&mut e, ACK | FIN, &[]);
            if let Sync::LastAck = st {
                t.stack.close(now, e.h);
                t.out();
                e.s_nxt += 1;
            }
        }
        Sync::FinWait1 | Sync::FinWait2 | Sync::Closing | Sync::TimeWait => {
            t.stack.shutdown(now, e.h).unwrap();
            t.out();
            let fin_seq = e.s_nxt;
            e.s_nxt += 1;
            match st {
                Sync::FinWait2 | Sync::TimeWait => {
                    let ack = tcp(ACK, e.p_nxt, e.s_nxt, 65535);
                    t.inject(e.local, ack, &[]);
                    if let Sync::TimeWait = st {
                        t.send(&mut e, ACK | FIN, &[]);
                    }
                }
                Sync::Closing => {
                    // The peer's FIN crosses ours: it acknowledges only up to our FIN.
                    let fin = tcp(ACK | FIN, e.p_nxt, fin_seq, 65535);
                    t.inject(e.local, fin, &[]);
                    e.p_nxt += 1;
                }
                _ => {}
            }
        }
    }
    let want = match st {
        Sync::Established => State::Established,
        Sync::FinWait1 => State::FinWait1,
        Sync::FinWait2 => State::FinWait2,
        Sync::CloseWait => State::CloseWait,
        Sync::Closing => State::Closing,
        Sync::LastAck => State::LastAck,
        Sync::TimeWait => State::TimeWait,
    };
    assert_eq!(t.stack.state(e.h), Some(want), "setting up {st:?}");
    let (rcv_nxt, snd_nxt) = (e.p_nxt, e.s_nxt);
    (t, e, rcv_nxt, snd_nxt)
}

fn in_range(x: u32, lo: u32, len: u32) -> bool {
    x.wrapping_sub(lo) < len
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// RFC 5961 §3 (RST), §4 (SYN), §5 (data): a segment with a guessed sequence
    /// number (and acknowledgment number) changes neither the state nor the data of a
    /// synchronized connection; at most a pure ACK goes back. The exact RCV.NXT for a
    /// RST (which RFC 5961 §3.2 accepts), a SYN that may reopen TIME-WAIT (RFC 9293
    /// §3.10.7.4), and data whose two guesses both land in the windows are the
    /// attacker's lucky draws, set aside.
    #[test]
    fn blind_injection_is_rejected(
        st in 0..STATES.len(),
        kind in 0..5u8,
        seq in any::<u32>(),
        ack in any::<u32>(),
        len in 1..1400usize,
    ) {
        let st = STATES[st];
        let (mut t, e, rcv_nxt, snd_nxt) = in_state(st);
        let before = t.stack.state(e.h);
        let queued = t.stack.recv_queue(e.h);
        let window = 1 << 20;
        let (flags, payload) = match kind {
            0 => (RST, 0),
            1 => (RST | ACK, 0),
            2 => (SYN, 0),
            3 => (SYN | ACK, 0),
            _ => (ACK | PSH, len),
        };
        prop_assume!(!(flags.rst() && seq == rcv_nxt));
        prop_assume!(!(flags.syn() && matches!(st, Sync::TimeWait)));
        prop_assume!(!(payload > 0
            && in_range(seq, rcv_nxt.wrapping_sub(len as u32), window)
            && in_range(ack, snd_nxt.wrapping_sub(65_535), 65_536)));
        let out = t.inject(e.local, tcp(flags, seq, ack, 65535), &vec![0x41; payload]);
        prop_assert_eq!(t.stack.state(e.h), before);
        prop_assert_eq!(t.stack.recv_queue(e.h), queued);
        prop_assert!(out.len() <= 1, "{:?}", brief(&out));
        for s in &out {
            prop_assert!(s.is(ACK) && s.payload.is_empty(), "{:?}", brief(&out));
        }
        t.advance(Duration::from_millis(1));
        prop_assert_eq!(t.stack.state(e.h), before);
    }
}
