//! ECN (RFC 3168) end to end through the stack: negotiation in both directions,
//! the IP ECN field of what the stack sends, the receiver's echo and the sender's
//! response. The peer is scripted segment by segment; every packet it sends can be
//! marked with an ECN codepoint, and every packet the stack sends is checked with
//! its codepoint.

mod common;

use common::*;
use synack_core::cc::Algorithm;
use synack_core::{ConnHandle, Ecn, Stack};
use synack_wire::ecn::{CE, ECT0, NOT_ECT};
use synack_wire::TcpFlags;

const ECE: TcpFlags = TcpFlags::ECE;
const CWR: TcpFlags = TcpFlags::CWR;

/// What the stack sent, with the packet's ECN codepoint.
fn drain_ecn(stack: &mut Stack, now: synack_core::Instant) -> Vec<(Seg, u8)> {
    let mut buf = vec![0u8; 70000];
    let mut out = Vec::new();
    while let Some(t) = stack.poll_transmit(now, &mut buf) {
        let bytes = &buf[..t.len];
        out.push((parse_seg(bytes), synack_wire::ecn::of_packet(bytes)));
    }
    out
}

/// Inject a segment from the peer with IP ECN codepoint `ecn`.
fn inject_ecn(
    l: &mut Lone,
    dst: std::net::SocketAddr,
    t: synack_wire::TcpRepr,
    payload: &[u8],
    ecn: u8,
) -> Vec<(Seg, u8)> {
    let mut p = packet(l.peer, dst, t, payload);
    assert!(synack_wire::ecn::set_on_packet(&mut p, ecn));
    l.stack.handle_packet(l.now, &p);
    drain_ecn(&mut l.stack, l.now)
}

fn cfg(ecn: Ecn) -> synack_core::Config {
    synack_core::Config {
        ecn,
        congestion: Algorithm::NewReno,
        ..quick_cfg()
    }
}

fn stats(l: &Lone, h: ConnHandle) -> synack_core::ConnStats {
    l.stack.info(h).unwrap().stats
}

/// Active open with `tcp_ecn = 1`; the peer answers with `synack_flags` (SYN|ACK plus
/// ECN bits). Returns the connection and the SYN the stack sent.
fn active(l: &mut Lone, synack_flags: TcpFlags) -> (Est, Seg) {
    let h = l.stack.connect(l.now, l.peer, None).unwrap();
    let out = drain_ecn(&mut l.stack, l.now);
    assert_eq!(out.len(), 1);
    let (syn, ecn) = out[0].clone();
    assert_eq!(ecn, NOT_ECT, "a SYN is never ECT (RFC 3168 §6.1.1)");
    let a = syn.seq();
    let mut sa = tcp(synack_flags, 5000, a.wrapping_add(1), 65535);
    sa.options = syn_opts(1000);
    let out = inject_ecn(l, syn.src, sa, &[], NOT_ECT);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].0.flags(),
        ACK,
        "the handshake's ACK carries no ECN flag"
    );
    assert_eq!(out[0].1, NOT_ECT);
    let e = Est {
        h,
        local: syn.src,
        p_nxt: 5001,
        s_nxt: a.wrapping_add(1),
        irs: 5000,
        iss: a,
    };
    (e, syn)
}

/// Passive open: the peer's SYN has `syn_flags` and IP codepoint `ip`. Returns the
/// connection and the SYN-ACK.
fn passive(l: &mut Lone, syn_flags: TcpFlags, ip: u8) -> (Est, Seg) {
    let lst = l.listen80();
    let local = l.local(80);
    let mut syn = tcp(syn_flags, 1000, 0, 65535);
    syn.options = syn_opts(1000);
    let out = inject_ecn(l, local, syn, &[], ip);
    assert_eq!(out.len(), 1);
    let (sa, ecn) = out[0].clone();
    assert_eq!(ecn, NOT_ECT, "a SYN-ACK is never ECT");
    let b = sa.seq();
    assert!(inject_ecn(
        l,
        local,
        tcp(ACK, 1001, b.wrapping_add(1), 65535),
        &[],
        NOT_ECT
    )
    .is_empty());
    let h = l.stack.accept(lst).unwrap();
    let e = Est {
        h,
        local,
        p_nxt: 1001,
        s_nxt: b.wrapping_add(1),
        irs: 1000,
        iss: b,
    };
    (e, sa)
}

/// The peer sends `payload` with `flags` (plus ACK) marked `ecn`.
fn peer_data(
    l: &mut Lone,
    e: &mut Est,
    flags: TcpFlags,
    payload: &[u8],
    ecn: u8,
) -> Vec<(Seg, u8)> {
    let t = tcp(ACK | flags, e.p_nxt, e.s_nxt, 65535);
    e.p_nxt = e.p_nxt.wrapping_add(payload.len() as u32);
    let local = e.local;
    inject_ecn(l, local, t, payload, ecn)
}

/// The peer acknowledges up to `ack` with `flags`.
fn peer_ack(l: &mut Lone, e: &Est, ack: u32, flags: TcpFlags) -> Vec<(Seg, u8)> {
    let local = e.local;
    inject_ecn(
        l,
        local,
        tcp(ACK | flags, e.p_nxt, ack, 65535),
        &[],
        NOT_ECT,
    )
}

#[test]
fn a_client_with_ecn_on_sends_an_ecn_setup_syn_and_marks_new_data_ect0() {
    let mut l = Lone::new(cfg(Ecn::On));
    let (mut e, syn) = active(&mut l, SYN | ACK | ECE);
    assert_eq!(
        syn.flags(),
        SYN | ECE | CWR,
        "RFC 3168 §6.1.1 ECN-setup SYN"
    );
    assert!(stats(&l, e.h).ecn);
    l.stack.send(e.h, &[7; 500]).unwrap();
    let out = drain_ecn(&mut l.stack, l.now);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1, ECT0, "new data is ECT(0)");
    assert!(!out[0].0.flags().intersects(ECE | CWR));
    // The pure ACK of the peer's data is Not-ECT (§6.1.4).
    let out = peer_data(&mut l, &mut e, TcpFlags::PSH, &[1; 100], ECT0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.payload.len(), 0);
    assert_eq!(out[0].1, NOT_ECT);
}

#[test]
fn ecn_is_off_unless_the_synack_agrees() {
    // No ECE in the SYN-ACK, or ECE with CWR (a peer reflecting our flags).
    for flags in [SYN | ACK, SYN | ACK | ECE | CWR] {
        let mut l = Lone::new(cfg(Ecn::On));
        let (e, _) = active(&mut l, flags);
        assert!(!stats(&l, e.h).ecn, "{flags:?}");
        l.stack.send(e.h, &[7; 500]).unwrap();
        let out = drain_ecn(&mut l.stack, l.now);
        assert_eq!(out[0].1, NOT_ECT, "{flags:?}");
    }
}

#[test]
fn the_default_accepts_ecn_but_never_asks() {
    let mut l = Lone::new(quick_cfg());
    assert_eq!(quick_cfg().ecn, Ecn::Passive);
    let (e, syn) = active(&mut l, SYN | ACK | ECE);
    assert_eq!(syn.flags(), SYN, "Linux's default tcp_ecn=2 does not ask");
    assert!(!stats(&l, e.h).ecn);

    let mut l = Lone::new(quick_cfg());
    let (e, sa) = passive(&mut l, SYN | ECE | CWR, NOT_ECT);
    assert_eq!(
        sa.flags(),
        SYN | ACK | ECE,
        "ECN-setup SYN-ACK: ECE, no CWR"
    );
    assert!(stats(&l, e.h).ecn);
    l.stack.send(e.h, &[7; 500]).unwrap();
    assert_eq!(drain_ecn(&mut l.stack, l.now)[0].1, ECT0);
}

#[test]
fn a_server_declines_when_off_or_when_the_syn_is_not_an_ecn_setup_syn() {
    let cases = [
        (Ecn::Off, SYN | ECE | CWR, NOT_ECT),
        // ECE alone is not an ECN-setup SYN.
        (Ecn::On, SYN | ECE, NOT_ECT),
        // An ECT-marked SYN is from a sender that does not follow RFC 3168 (Linux
        // declines it too).
        (Ecn::On, SYN | ECE | CWR, ECT0),
    ];
    for (ecn, flags, ip) in cases {
        let mut l = Lone::new(cfg(ecn));
        let (mut e, sa) = passive(&mut l, flags, ip);
        assert_eq!(sa.flags(), SYN | ACK, "{ecn:?} {flags:?} {ip}");
        assert!(!stats(&l, e.h).ecn);
        // CE on its data is not echoed.
        let out = peer_data(&mut l, &mut e, TcpFlags::PSH, &[1; 100], CE);
        assert!(!out[0].0.flags().intersects(ECE));
        assert_eq!(stats(&l, e.h).ecn_ce_received, 0);
    }
}

#[test]
fn a_retransmitted_syn_drops_the_ecn_request() {
    let mut l = Lone::new(cfg(Ecn::On));
    let h = l.stack.connect(l.now, l.peer, None).unwrap();
    let first = drain_ecn(&mut l.stack, l.now);
    assert_eq!(first[0].0.flags(), SYN | ECE | CWR);
    let (_, out) = l.next_timer().unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].flags(), SYN, "RFC 3168 §6.1.1.1 fallback");
    // Even an ECN-setup SYN-ACK now leaves ECN off.
    let a = out[0].seq();
    let mut sa = tcp(SYN | ACK | ECE, 5000, a.wrapping_add(1), 65535);
    sa.options = syn_opts(1000);
    let src = out[0].src;
    inject_ecn(&mut l, src, sa, &[], NOT_ECT);
    assert!(!stats(&l, h).ecn);
}

#[test]
fn the_receiver_echoes_ce_with_ece_until_cwr_and_acks_it_at_once() {
    // Delayed ACKs on and no quick-ACK budget: only the CE mark makes the ACK
    // immediate.
    let mut l = Lone::new(synack_core::Config {
        ecn: Ecn::Passive,
        quickacks: 0,
        ..synack_core::Config::default()
    });
    let (mut e, _) = passive(&mut l, SYN | ECE | CWR, NOT_ECT);
    // An ECT(0) segment: delayed ACK as usual.
    assert!(peer_data(&mut l, &mut e, TcpFlags::default(), &[1; 1000], ECT0).is_empty());
    // CE: acknowledged at once, with ECE.
    let out = peer_data(&mut l, &mut e, TcpFlags::default(), &[1; 1000], CE);
    assert_eq!(out.len(), 1);
    assert!(out[0].0.flags().contains(ECE));
    assert_eq!(out[0].1, NOT_ECT);
    assert_eq!(stats(&l, e.h).ecn_ce_received, 1);
    // ECE goes on every segment, data too (still ECT(0)), until CWR.
    let out = peer_data(&mut l, &mut e, TcpFlags::PSH, &[1; 1000], ECT0);
    assert!(out.iter().all(|(s, _)| s.flags().contains(ECE)), "{out:?}");
    l.stack.send(e.h, &[9; 100]).unwrap();
    let out = drain_ecn(&mut l.stack, l.now);
    assert_eq!(out.len(), 1);
    assert!(out[0].0.flags().contains(ECE));
    assert_eq!(out[0].1, ECT0);
    e.s_nxt = e.s_nxt.wrapping_add(100);
    // CWR on data: the echo ends, and that data is acknowledged at once.
    let out = peer_data(&mut l, &mut e, CWR, &[1; 1000], ECT0);
    assert_eq!(out.len(), 1, "CWR on data is acknowledged at once");
    assert!(!out[0].0.flags().contains(ECE));
    // A new CE mark starts it again; CWR on a pure ACK ends it (Linux since 5.7).
    let out = peer_data(&mut l, &mut e, TcpFlags::default(), &[1; 1000], CE);
    assert!(out[0].0.flags().contains(ECE));
    assert!(peer_ack(&mut l, &e, e.s_nxt, CWR).is_empty());
    l.stack.send(e.h, &[9; 100]).unwrap();
    let out = drain_ecn(&mut l.stack, l.now);
    assert!(!out[0].0.flags().contains(ECE));
    assert_eq!(stats(&l, e.h).ecn_ce_received, 2);
}

#[test]
fn the_sender_reduces_once_per_window_on_ece_and_sends_cwr_on_new_data() {
    let mut l = Lone::new(cfg(Ecn::On));
    let (e, _) = active(&mut l, SYN | ACK | ECE);
    let mss = 1000u32;
    // Ten segments (the initial window) in flight.
    l.stack.send(e.h, &vec![7u8; 10 * mss as usize]).unwrap();
    let out = drain_ecn(&mut l.stack, l.now);
    assert_eq!(out.len(), 10);
    assert!(out.iter().all(|(_, ecn)| *ecn == ECT0));
    let cwnd0 = l.stack.info(e.h).unwrap().cwnd;
    assert_eq!(cwnd0, 10 * mss);
    let base = e.s_nxt;
    // The first ECE: NewReno halves (RFC 3168 §6.1.2, RFC 5681 eq. 4 from cwnd).
    l.now += ms(50);
    assert!(peer_ack(&mut l, &e, base.wrapping_add(mss), ECE).is_empty());
    let info = l.stack.info(e.h).unwrap();
    assert_eq!(info.ssthresh, 5 * mss);
    assert_eq!(info.cwnd, 5 * mss);
    assert_eq!(info.stats.ecn_reductions, 1);
    assert_eq!(info.stats.segs_retransmitted, 0, "no retransmission");
    // More ECEs in the same window: counted, no further reduction, cwnd does not grow.
    for k in 2..=9 {
        peer_ack(&mut l, &e, base.wrapping_add(k * mss), ECE);
    }
    let info = l.stack.info(e.h).unwrap();
    assert_eq!((info.cwnd, info.stats.ecn_reductions), (5 * mss, 1));
    assert_eq!(info.stats.ecn_ece_received, 9);
    // New data: CWR on the first segment only.
    l.stack.send(e.h, &vec![7u8; 2 * mss as usize]).unwrap();
    let out = drain_ecn(&mut l.stack, l.now);
    assert_eq!(
        out.len(),
        2,
        "{:?}",
        out.iter().map(|(s, _)| s.flags()).collect::<Vec<_>>()
    );
    assert!(out[0].0.flags().contains(CWR));
    assert!(!out[1].0.flags().contains(CWR));
    assert!(out.iter().all(|(_, ecn)| *ecn == ECT0));
    // The window of the reduction ends with its data acknowledged; an ECE after that
    // reduces again.
    peer_ack(&mut l, &e, base.wrapping_add(10 * mss), TcpFlags::default());
    peer_ack(&mut l, &e, base.wrapping_add(11 * mss), ECE);
    let info = l.stack.info(e.h).unwrap();
    assert_eq!(info.stats.ecn_reductions, 2);
    assert!(info.cwnd < 5 * mss, "{}", info.cwnd);
}

#[test]
fn ece_means_nothing_without_ecn() {
    let mut l = Lone::new(cfg(Ecn::Off));
    let (e, syn) = active(&mut l, SYN | ACK | ECE);
    assert_eq!(syn.flags(), SYN);
    l.stack.send(e.h, &[7u8; 3000]).unwrap();
    let out = drain_ecn(&mut l.stack, l.now);
    assert!(out.iter().all(|(_, ecn)| *ecn == NOT_ECT));
    let cwnd0 = l.stack.info(e.h).unwrap().cwnd;
    peer_ack(&mut l, &e, e.s_nxt.wrapping_add(1000), ECE);
    let info = l.stack.info(e.h).unwrap();
    assert!(info.cwnd >= cwnd0);
    assert_eq!(
        (info.stats.ecn_reductions, info.stats.ecn_ece_received),
        (0, 0)
    );
}

#[test]
fn retransmissions_are_not_ect() {
    let mut l = Lone::new(cfg(Ecn::On));
    let (e, _) = active(&mut l, SYN | ACK | ECE);
    l.stack.send(e.h, &[7u8; 500]).unwrap();
    assert_eq!(drain_ecn(&mut l.stack, l.now)[0].1, ECT0);
    // The RTO (or a loss probe) resends it: Not-ECT (RFC 3168 §6.1.5).
    let t = l.stack.poll_timeout().unwrap();
    l.now = t;
    l.stack.handle_timeout(l.now);
    let out = drain_ecn(&mut l.stack, l.now);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.seq(), e.s_nxt);
    assert_eq!(out[0].1, NOT_ECT);
}

#[test]
fn cwr_goes_on_a_segment_of_its_own_with_tso() {
    // With segmentation offload, a super-segment's flags are copied onto every
    // piece the device cuts: the segment carrying CWR is one MSS (the reduced cwnd
    // would allow two here).
    let mut l = Lone::new(synack_core::Config {
        tso_max: 65536,
        ..cfg(Ecn::On)
    });
    let (e, _) = active(&mut l, SYN | ACK | ECE);
    let mss = 1000u32;
    l.stack.send(e.h, &vec![7u8; 4 * mss as usize]).unwrap();
    let out = drain_ecn(&mut l.stack, l.now);
    assert_eq!(out.len(), 1, "one super-segment");
    assert_eq!(out[0].0.payload.len(), 4 * mss as usize);
    peer_ack(&mut l, &e, e.s_nxt.wrapping_add(mss), ECE);
    l.stack.send(e.h, &vec![7u8; 3 * mss as usize]).unwrap();
    let out = drain_ecn(&mut l.stack, l.now);
    assert!(out.len() >= 2, "{}", out.len());
    assert!(out[0].0.flags().contains(CWR));
    assert_eq!(out[0].0.payload.len(), mss as usize);
    assert!(out[1..].iter().all(|(s, _)| !s.flags().contains(CWR)));
}
