//! SACK-based loss recovery of the sender (RFC 6675): several holes repaired in one
//! round trip, pipe held to cwnd, SACKed data never resent, a lost retransmission
//! resent without waiting for the RTO, and go-back-N after a timeout skipping what
//! the peer SACKed (RFC 6675 §5.1), SACKs growing the window once the path has
//! been seen to reorder, a recovery undone by a partial ACK that echoes the
//! original's timestamp (RFC 3522), the window a recovery leaves empty refilled at
//! the pacing rate (RFC 6582 §3.2 step 6), and CUBIC reducing from the window a
//! send-buffer-limited slow start validated. The peer is scripted: segments are named by their
//! index `i` (sequence number `s + i * MSS`).

mod common;
use common::*;
use synack_core::cc::Algorithm;
use synack_core::{Config, ConnInfo};
use synack_wire::{SackBlock, TcpOptions, TcpRepr};

const MSS: u32 = 1000;

fn cfg() -> Config {
    Config {
        timestamps: false,
        window_scaling: false,
        nagle: false,
        // The recovery arithmetic below is RFC 5681's (ssthresh = FlightSize / 2).
        congestion: Algorithm::NewReno,
        ..quick_cfg()
    }
}

/// A passive connection whose peer offered SACK and an MSS of 1000, over a path of
/// 10 ms RTT (RACK's reordering window is a quarter of it, RFC 8985 §6.2).
fn sack_conn(t: &mut Lone) -> Est {
    let l = t.listen80();
    let local = t.local(80);
    let a = 1000u32;
    let mut syn = tcp(SYN, a, 0, 65535);
    syn.options = TcpOptions {
        mss: Some(MSS as u16),
        sack_permitted: true,
        ..TcpOptions::default()
    };
    let out = t.inject(local, syn, &[]);
    let b = out[0].seq();
    t.advance(ms(10));
    none(&t.inject(local, tcp(ACK, a + 1, b.wrapping_add(1), 65535), &[]));
    let h = t.stack.accept(l).expect("accepted");
    events(&mut t.stack);
    Est {
        h,
        local,
        p_nxt: a + 1,
        s_nxt: b.wrapping_add(1),
        irs: a,
        iss: b,
    }
}

/// Sequence number of segment `i`.
fn sq(e: &Est, i: u32) -> u32 {
    e.s_nxt.wrapping_add(i * MSS)
}

/// An ACK of segment index `ack` with SACK blocks given as segment-index ranges
/// `[l, r)`, most recent first.
fn sack(e: &Est, ack: u32, blocks: &[(u32, u32)]) -> synack_wire::TcpRepr {
    let mut r = tcp(ACK, e.p_nxt, sq(e, ack), 65535);
    for &(l, rt) in blocks {
        assert!(r.options.push_sack(SackBlock {
            left: sq(e, l),
            right: sq(e, rt),
        }));
    }
    r
}

/// Segment indices of the data segments in `out`, checking each is one full MSS.
fn idx(e: &Est, out: &[Seg]) -> Vec<u32> {
    out.iter()
        .filter(|s| !s.payload.is_empty())
        .map(|s| {
            assert_eq!(s.payload.len(), MSS as usize, "{:?}", brief(out));
            s.seq().wrapping_sub(e.s_nxt) / MSS
        })
        .collect()
}

#[test]
fn several_holes_are_repaired_in_one_round_trip() {
    let mut t = Lone::new(cfg());
    let e = sack_conn(&mut t);
    t.stack.send(e.h, &vec![5u8; 30 * MSS as usize]).unwrap();
    assert_eq!(idx(&e, &t.out()), (0..10).collect::<Vec<_>>());
    t.advance(ms(10));
    // Segments 0, 3 and 6 are lost; the peer reports each arrival as a receiver
    // would (the newest block first).
    let acks: [&[(u32, u32)]; 7] = [
        &[(1, 2)],
        &[(1, 3)],
        &[(4, 5), (1, 3)],
        &[(4, 6), (1, 3)],
        &[(7, 8), (4, 6), (1, 3)],
        &[(7, 9), (4, 6), (1, 3)],
        &[(7, 10), (4, 6), (1, 3)],
    ];
    let mut sent = Vec::new();
    for blocks in acks {
        sent.extend(idx(&e, &t.inject(e.local, sack(&e, 0, blocks), &[])));
    }
    // Limited transmit (10, 11), then the three holes each once, with new data as
    // pipe allows; nothing SACKed is resent, and no timer was needed.
    let rtx: Vec<u32> = sent.iter().copied().filter(|&i| i < 10).collect();
    assert_eq!(rtx, vec![0, 3, 6], "sent {sent:?}");
    assert!(sent.iter().all(|&i| ![1, 2, 4, 5, 7, 8, 9].contains(&i)));
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.stats.fast_retransmits, 1);
    assert_eq!(info.stats.timeouts, 0);
    assert_eq!(info.stats.segs_retransmitted, 3);
    // The retransmissions arrive: one cumulative ACK ends recovery, and cwnd is the
    // halved window of RFC 6675 §5 (4.2): neither inflated nor deflated.
    let high = *sent.iter().max().unwrap() + 1;
    t.inject(e.local, sack(&e, high, &[]), &[]);
    let info = t.stack.info(e.h).unwrap();
    // RFC 5681 §3.2 step 2: FlightSize / 2 without what limited transmit sent
    // (segments 10 and 11), so 10 segments / 2.
    assert_eq!(info.ssthresh, 5 * MSS, "FlightSize 10 segments / 2");
    assert_eq!(
        info.cwnd, info.ssthresh,
        "no deflation below ssthresh on exit"
    );
}

#[test]
fn prr_spreads_transmissions_in_recovery() {
    let mut t = Lone::new(cfg());
    let e = sack_conn(&mut t);
    t.stack.send(e.h, &vec![5u8; 60 * MSS as usize]).unwrap();
    assert_eq!(t.out().len(), 10);
    t.advance(ms(10));
    // Grow cwnd to 20 segments: each ACK of one segment releases two.
    for i in 1..=10 {
        assert_eq!(t.inject(e.local, sack(&e, i, &[]), &[]).len(), 2);
    }
    // In flight: 10..30. Segment 10 is lost; 11.. arrive and are SACKed one by one.
    t.advance(ms(10));
    let mut per_ack = Vec::new();
    for k in 1..=19u32 {
        let out = idx(&e, &t.inject(e.local, sack(&e, 10, &[(11, 11 + k)]), &[]));
        per_ack.push(out);
    }
    // Dup ACKs 1 and 2: each SACKs a segment, so pipe leaves room for one new one
    // (30, 31; what limited transmit sends, RFC 3042). Dup ACK 3: fast retransmit of
    // 10 with ssthresh = 20 / 2 = 10 segments (FlightSize without the two limited
    // transmit segments, RFC 5681 §3.2 step 2) and RecoverFS = 20 segments.
    // Then RFC 6937 PRR: while pipe > ssthresh, sending follows
    // CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out, in bytes: each ACK
    // delivers one segment, so one new segment leaves per two ACKs (the first at dup
    // ACK 6, when 3 delivered * 1/2 - 1 retransmitted reaches a whole segment), spread
    // across the round trip instead of RFC 6675's silence followed by one per ACK.
    // Once pipe is down to ssthresh (dup ACK 18), PRR-SSRB keeps it there: one per
    // ACK once an ACK takes pipe below it.
    assert_eq!(per_ack[0], vec![30]);
    assert_eq!(per_ack[1], vec![31]);
    assert_eq!(per_ack[2], vec![10]);
    let expect: Vec<Vec<u32>> = vec![
        vec![],
        vec![],
        vec![32],
        vec![],
        vec![33],
        vec![],
        vec![34],
        vec![],
        vec![35],
        vec![],
        vec![36],
        vec![],
        vec![37],
        vec![],
        vec![],
        vec![38],
    ];
    assert_eq!(per_ack[3..].to_vec(), expect);
    // Sent in recovery after the retransmission: 7 new segments for 16 delivered,
    // ssthresh / RecoverFS of what was delivered, and cwnd = pipe = ssthresh.
    assert_eq!(t.stack.info(e.h).unwrap().cwnd, 10 * MSS);
}

#[test]
fn a_lost_retransmission_is_sent_again_before_the_rto() {
    let mut t = Lone::new(cfg());
    let e = sack_conn(&mut t);
    t.stack.send(e.h, &vec![5u8; 40 * MSS as usize]).unwrap();
    assert_eq!(t.out().len(), 10);
    t.advance(ms(10));
    // Segment 0 is lost; 1..10 are SACKed. Limited transmit sends 10 and 11, the
    // third dup ACK retransmits 0; later ACKs let new data (12..) go.
    // The ACKs arrive 1 ms apart, so every transmission has its own send time.
    let mut sent = Vec::new();
    for k in 1..=9u32 {
        t.advance(ms(1));
        sent.extend(idx(&e, &t.inject(e.local, sack(&e, 0, &[(1, 1 + k)]), &[])));
    }
    assert_eq!(sent.iter().filter(|&&i| i == 0).count(), 1, "{sent:?}");
    assert!(
        sent.contains(&12),
        "new data sent after the retransmission: {sent:?}"
    );
    // The retransmission of 0 is lost too. 10 and 11 (sent before it) arrive: not
    // evidence. Then 12 (sent after it) arrives while 0 is still missing: by RACK's
    // time order (RFC 8985 §6.2, no reordering seen, so no reordering window) the
    // retransmission is lost; 13 and 14 add nothing new.
    let mut again = Vec::new();
    for r in [11, 12] {
        t.advance(ms(1));
        again.extend(idx(&e, &t.inject(e.local, sack(&e, 0, &[(1, r)]), &[])));
    }
    assert!(!again.contains(&0), "too early: {again:?}");
    for r in [13, 14, 15] {
        t.advance(ms(1));
        again.extend(idx(&e, &t.inject(e.local, sack(&e, 0, &[(1, r)]), &[])));
    }
    assert_eq!(again.iter().filter(|&&i| i == 0).count(), 1, "{again:?}");
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.stats.timeouts, 0);
    assert_eq!(info.stats.lost_retransmits, 1);
}

#[test]
fn go_back_n_after_a_timeout_skips_sacked_data() {
    let mut t = Lone::new(cfg());
    let e = sack_conn(&mut t);
    t.stack.send(e.h, &vec![5u8; 10 * MSS as usize]).unwrap();
    assert_eq!(t.out().len(), 10);
    t.advance(ms(10));
    // 0, 1 and 3 are lost; 2 and 4 arrive: two duplicate ACKs, too few for fast
    // retransmit, and no new data to send with limited transmit.
    none(&t.inject(e.local, sack(&e, 0, &[(2, 3)]), &[]));
    none(&t.inject(e.local, sack(&e, 0, &[(4, 5), (2, 3)]), &[]));
    // RACK's reordering timer, then probes resend what is missing; every one of
    // them and their ACKs are lost, until the RTO. The SACKed 2 and 4 never go again.
    let mut before_rto = Vec::new();
    for _ in 0..8 {
        let (_, out) = t.next_timer().expect("a timer armed");
        before_rto.extend(idx(&e, &out));
        if t.stack.info(e.h).unwrap().stats.timeouts == 1 {
            break;
        }
    }
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.stats.timeouts, 1, "{before_rto:?}");
    assert!(
        !before_rto.contains(&2) && !before_rto.contains(&4),
        "{before_rto:?}"
    );
    // The RTO resent 0 (cwnd = 1 segment).
    assert_eq!(before_rto.last(), Some(&0), "{before_rto:?}");
    let rtx_before = info.stats.segs_retransmitted;
    // 0 arrives: cwnd 2; go-back-N sends 1 and 3, not the SACKed 2.
    let out = t.inject(e.local, sack(&e, 1, &[(4, 5), (2, 3)]), &[]);
    assert_eq!(idx(&e, &out), vec![1, 3]);
    // 1 arrives (ACK 3): slow start gives cwnd 4; only 3 is in flight, so three
    // more go: 5, 6 and 7, not the SACKed 4.
    let out = t.inject(e.local, sack(&e, 3, &[(4, 5)]), &[]);
    assert_eq!(idx(&e, &out), vec![5, 6, 7]);
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(
        info.stats.segs_retransmitted,
        rtx_before + 5,
        "1, 3, 5, 6, 7 after the RTO"
    );
}

#[test]
fn without_sack_a_loss_still_uses_newreno() {
    let mut t = Lone::new(cfg());
    let e = t.passive(1000, syn_opts(MSS as u16));
    events(&mut t.stack);
    t.stack.send(e.h, &vec![5u8; 10 * MSS as usize]).unwrap();
    assert_eq!(t.out().len(), 10);
    t.advance(ms(10));
    for _ in 0..2 {
        t.inject(e.local, sack(&e, 0, &[]), &[]);
    }
    let out = t.inject(e.local, sack(&e, 0, &[]), &[]);
    assert_eq!(idx(&e, &out), vec![0]);
    // RFC 5681 §3.2 step 3: cwnd = ssthresh + 3 SMSS (window inflation).
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.cwnd, info.ssthresh + 3 * MSS);
}

/// With timestamps: a connection, one segment sent, the RTO fired and the segment
/// resent. Returns (connection, TSval of the original, TSval of the retransmission).
fn timed_out_segment(t: &mut Lone) -> (Est, u32, u32) {
    let opts = TcpOptions {
        mss: Some(MSS as u16),
        sack_permitted: true,
        timestamp: Some((100, 0)),
        ..TcpOptions::default()
    };
    let e = t.passive(1000, opts);
    events(&mut t.stack);
    t.stack.send(e.h, &[5u8; 500]).unwrap();
    let out = t.out();
    let first = out[0].tcp.options.timestamp.expect("timestamps on").0;
    let (_, out) = t.next_timer().expect("RTO armed");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].seq(), e.s_nxt, "retransmission");
    let again = out[0].tcp.options.timestamp.expect("timestamps on").0;
    assert!(again > first);
    (e, first, again)
}

fn ts_ack(e: &Est, tsval: u32, tsecr: u32) -> synack_wire::TcpRepr {
    let mut r = tcp(ACK, e.p_nxt, e.s_nxt.wrapping_add(500), 65535);
    r.options.timestamp = Some((tsval, tsecr));
    r
}

#[test]
fn an_echo_older_than_the_retransmission_gives_no_rtt_sample() {
    let mut t = Lone::new(Config {
        timestamps: true,
        ..cfg()
    });
    let (e, first, _) = timed_out_segment(&mut t);
    let before = t.stack.info(e.h).unwrap().srtt;
    t.advance(ms(10));
    // The original's ACK, late: it echoes the first TSval and would measure the
    // whole RTO wait as round-trip time.
    t.inject(e.local, ts_ack(&e, 200, first), &[]);
    assert_eq!(t.stack.info(e.h).unwrap().srtt, before);
}

#[test]
fn an_echo_of_the_retransmission_gives_an_rtt_sample() {
    let mut t = Lone::new(Config {
        timestamps: true,
        ..cfg()
    });
    let (e, _, again) = timed_out_segment(&mut t);
    let before = t.stack.info(e.h).unwrap().srtt;
    t.advance(ms(10));
    t.inject(e.local, ts_ack(&e, 200, again), &[]);
    let after = t.stack.info(e.h).unwrap().srtt;
    assert_ne!(after, before);
}

#[test]
fn a_tail_loss_probe_replaces_the_rto_and_its_sack_starts_recovery() {
    let mut t = Lone::new(cfg());
    let e = sack_conn(&mut t);
    t.stack.send(e.h, &vec![5u8; 10 * MSS as usize]).unwrap();
    assert_eq!(t.out().len(), 10);
    t.advance(ms(10));
    // 0..5 arrive; 5..10 are lost: nothing more will come back on its own.
    t.inject(e.local, sack(&e, 5, &[]), &[]);
    // RFC 8985 §7.3: after the PTO (2*SRTT, at least 10 ms; far below the 200 ms RTO)
    // the last segment goes again.
    let (d, out) = t.next_timer().expect("PTO armed");
    assert!(d < ms(200), "probe after {d:?}");
    assert_eq!(idx(&e, &out), vec![9]);
    // The probe's ACK SACKs it one RTT later: 5..9 were sent a PTO before it, more
    // than RACK.rtt + the reordering window earlier (RFC 8985 §6.2), so they are
    // lost; recovery starts with 5.
    t.advance(ms(10));
    let out = t.inject(e.local, sack(&e, 5, &[(9, 10)]), &[]);
    assert_eq!(idx(&e, &out)[0], 5, "{:?}", brief(&out));
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.stats.loss_probes, 1);
    assert_eq!(info.stats.fast_retransmits, 1);
    assert_eq!(info.stats.timeouts, 0);
}

#[test]
fn without_sack_there_is_no_loss_probe() {
    let mut t = Lone::new(cfg());
    let e = t.passive(1000, syn_opts(MSS as u16));
    events(&mut t.stack);
    t.stack.send(e.h, &vec![5u8; 10 * MSS as usize]).unwrap();
    assert_eq!(t.out().len(), 10);
    t.advance(ms(10));
    t.inject(e.local, sack(&e, 5, &[]), &[]);
    let (d, out) = t.next_timer().expect("RTO armed");
    assert!(d >= ms(200), "RTO after {d:?}");
    assert_eq!(idx(&e, &out), vec![5]);
    assert_eq!(t.stack.info(e.h).unwrap().stats.loss_probes, 0);
}

#[test]
fn in_recovery_no_probe_is_sent_and_the_rto_resends_a_lost_retransmission() {
    let mut t = Lone::new(cfg());
    let e = sack_conn(&mut t);
    t.stack.send(e.h, &vec![5u8; 10 * MSS as usize]).unwrap();
    assert_eq!(t.out().len(), 10);
    t.advance(ms(10));
    // 0 is lost, 1..10 are SACKed: fast retransmit of 0 on the third report.
    let mut sent = Vec::new();
    for k in 1..=9u32 {
        sent.extend(idx(&e, &t.inject(e.local, sack(&e, 0, &[(1, 1 + k)]), &[])));
    }
    assert_eq!(sent, vec![0]);
    // The retransmission is lost and nothing else is in flight to bring an ACK. RFC
    // 8985 §7.2 schedules no probe in fast recovery (nor does Linux): the RTO, at
    // least RTO.min = 200 ms, resends 0.
    let (d, out) = t.next_timer().expect("RTO armed");
    assert!(d >= ms(200), "after {d:?}");
    assert_eq!(idx(&e, &out), vec![0]);
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.stats.timeouts, 1);
    assert_eq!(info.stats.loss_probes, 0);
    // It arrives: everything is acknowledged.
    t.inject(e.local, sack(&e, 10, &[]), &[]);
    assert_eq!(t.stack.info(e.h).unwrap().send_queue, 0);
}

#[test]
fn a_recovery_whose_retransmission_was_a_duplicate_is_undone() {
    let mut t = Lone::new(cfg());
    let e = sack_conn(&mut t);
    t.stack.send(e.h, &vec![5u8; 10 * MSS as usize]).unwrap();
    assert_eq!(t.out().len(), 10);
    let before = t.stack.info(e.h).unwrap();
    t.advance(ms(10));
    // 0 is late (reordered), 1..4 arrive: three SACKed segments, so RACK deems 0
    // lost and recovery halves the window.
    let out = t.inject(e.local, sack(&e, 0, &[(1, 4)]), &[]);
    assert_eq!(idx(&e, &out), vec![0]);
    let reduced = t.stack.info(e.h).unwrap();
    assert!(reduced.cwnd < before.cwnd, "{reduced:?}");
    // The original 0 arrives after all, then the rest: the cumulative ACK ends
    // recovery; then the retransmitted copy arrives and the peer reports it as a
    // duplicate (RFC 2883 D-SACK below the cumulative ACK).
    t.advance(ms(1));
    t.inject(e.local, sack(&e, 10, &[]), &[]);
    assert_eq!(t.stack.info(e.h).unwrap().stats.spurious_recoveries, 0);
    t.advance(ms(9));
    t.inject(e.local, sack(&e, 10, &[(0, 1)]), &[]);
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.stats.dsacks_received, 1);
    assert_eq!(info.stats.spurious_recoveries, 1);
    assert!(info.cwnd >= before.cwnd, "window restored: {info:?}");
    assert_eq!(info.ssthresh, before.ssthresh, "{info:?}");
}

#[test]
fn a_dsack_for_data_older_than_the_recovery_undoes_nothing() {
    let mut t = Lone::new(cfg());
    let e = sack_conn(&mut t);
    t.stack.send(e.h, &vec![5u8; 10 * MSS as usize]).unwrap();
    t.out();
    t.advance(ms(10));
    // 0..5 arrive; 5 is lost and 6..9 arrive: recovery from SND.UNA = 5.
    t.inject(e.local, sack(&e, 5, &[]), &[]);
    t.inject(e.local, sack(&e, 5, &[(6, 9)]), &[]);
    t.advance(ms(10));
    t.inject(e.local, sack(&e, 10, &[]), &[]);
    let reduced = t.stack.info(e.h).unwrap();
    assert_eq!(reduced.stats.fast_retransmits, 1);
    // A D-SACK of segment 2, acknowledged before the recovery began: not one of
    // its retransmissions (Linux counts D-SACKs only above its undo marker too).
    t.inject(e.local, sack(&e, 10, &[(2, 3)]), &[]);
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.stats.dsacks_received, 1);
    assert_eq!(info.stats.spurious_recoveries, 0);
    assert_eq!(info.ssthresh, reduced.ssthresh, "{info:?}");
}

#[test]
fn once_the_path_has_reordered_a_sack_grows_the_window() {
    let mut t = Lone::new(cfg());
    let e = sack_conn(&mut t);
    t.stack.send(e.h, &vec![5u8; 40 * MSS as usize]).unwrap();
    let sent = idx(&e, &t.out());
    let w0 = t.stack.info(e.h).unwrap().cwnd;
    assert_eq!(
        w0,
        sent.len() as u32 * MSS,
        "slow start, cwnd all in flight"
    );
    let cwnd = |t: &Lone| t.stack.info(e.h).unwrap().cwnd;
    t.advance(ms(10));
    // 1 and 2 arrive before 0. No reordering has been seen, so this may be a loss:
    // RFC 5681 §3.1 grows the window on cumulative ACKs only.
    t.inject(e.local, sack(&e, 0, &[(1, 3)]), &[]);
    assert_eq!(cwnd(&t), w0);
    // 0 arrives: the network reordered (RFC 8985 §6.2 step 3). This ACK delivered
    // one segment (1 and 2 were delivered before), and the window grows by that.
    t.inject(e.local, sack(&e, 3, &[]), &[]);
    assert_eq!(cwnd(&t), w0 + MSS);
    // Now a SACK is delivery: 4 and 5 arrive before 3 and the window grows by two
    // segments, as Linux grows it once it has seen reordering.
    t.inject(e.local, sack(&e, 3, &[(4, 6)]), &[]);
    assert_eq!(cwnd(&t), w0 + 3 * MSS);
    // 3 arrives: one more segment delivered.
    t.inject(e.local, sack(&e, 6, &[]), &[]);
    assert_eq!(cwnd(&t), w0 + 4 * MSS);
    assert_eq!(t.stack.info(e.h).unwrap().stats.segs_retransmitted, 0);
}

/// An ACK like [`sack`] carrying the timestamp option (TSval `tsval`, TSecr `tsecr`).
fn ts_sack(e: &Est, ack: u32, blocks: &[(u32, u32)], tsval: u32, tsecr: u32) -> TcpRepr {
    let mut r = sack(e, ack, blocks);
    r.options.timestamp = Some((tsval, tsecr));
    r
}

/// Timestamps on, and no loss probe: the handshake's RTT is near zero here.
fn ts_cfg() -> Config {
    Config {
        timestamps: true,
        loss_probes: false,
        ..cfg()
    }
}

/// With timestamps: 30 segments to send, the initial window (0..9) out; 0 is late,
/// and 1, 2 and 3 arrive one by one, 10 ms later. The first two SACKs send 10 and 11
/// (limited transmit), the third starts recovery with RecoveryPoint 12 and resends
/// 0. Returns the connection, the window's cwnd and ssthresh before,
/// the TSval of the initial window and that of the first retransmission.
fn reordered_window(t: &mut Lone) -> (Est, ConnInfo, u32, u32) {
    let opts = TcpOptions {
        // 1000 bytes of payload beside the 12 of the timestamp option.
        mss: Some(MSS as u16 + 12),
        sack_permitted: true,
        timestamp: Some((100, 0)),
        ..TcpOptions::default()
    };
    let e = t.passive(1000, opts);
    events(&mut t.stack);
    t.stack.send(e.h, &vec![5u8; 30 * MSS as usize]).unwrap();
    let out = t.out();
    assert_eq!(idx(&e, &out), (0..10).collect::<Vec<_>>());
    let ts0 = out[0].tcp.options.timestamp.expect("timestamps on").0;
    let before = t.stack.info(e.h).unwrap();
    none(&t.advance(ms(10)));
    let mut rtx = Vec::new();
    for k in 1..=3u32 {
        rtx.extend(t.inject(e.local, ts_sack(&e, 0, &[(1, 1 + k)], 200 + k, ts0), &[]));
    }
    let resent: Vec<u32> = idx(&e, &rtx);
    assert_eq!(resent, vec![10, 11, 0], "{:?}", brief(&rtx));
    let ts_rtx = rtx[2].tcp.options.timestamp.unwrap().0;
    assert!(ts_rtx > ts0);
    assert_eq!(t.stack.info(e.h).unwrap().stats.fast_retransmits, 1);
    (e, before, ts0, ts_rtx)
}

#[test]
fn a_partial_ack_that_echoes_the_originals_undoes_the_recovery() {
    let mut t = Lone::new(ts_cfg());
    let (e, before, ts0, _) = reordered_window(&mut t);
    let reduced = t.stack.info(e.h).unwrap();
    assert!(reduced.ssthresh < before.ssthresh, "{reduced:?}");
    // The late original arrives: the ACK covers 0..9, short of RecoveryPoint (12),
    // and echoes the first window's TSval, older than the retransmission's (RFC
    // 3522 §3.2). The retransmission is now acknowledged and nothing else is
    // deemed lost: the recovery was spurious and is undone at once, as Linux's
    // `tcp_try_undo_partial` does, without waiting for D-SACKs that reordered ACKs
    // may never deliver.
    t.advance(ms(1));
    t.inject(e.local, ts_sack(&e, 10, &[], 205, ts0), &[]);
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.stats.spurious_recoveries, 1, "{info:?}");
    assert_eq!(info.ssthresh, before.ssthresh, "{info:?}");
    assert!(info.cwnd >= before.cwnd, "window restored: {info:?}");
    // Recovery is over: a real loss above SND.UNA may start a new one at once.
    t.advance(ms(1));
    let mut out = Vec::new();
    for k in 1..=3u32 {
        out.extend(t.inject(e.local, ts_sack(&e, 10, &[(11, 11 + k)], 206 + k, ts0), &[]));
    }
    assert!(idx(&e, &out).contains(&10), "{:?}", brief(&out));
    assert_eq!(t.stack.info(e.h).unwrap().stats.fast_retransmits, 2);
}

#[test]
fn a_partial_ack_that_echoes_a_retransmission_keeps_the_recovery() {
    let mut t = Lone::new(ts_cfg());
    let (e, _, _, ts_rtx) = reordered_window(&mut t);
    let reduced = t.stack.info(e.h).unwrap();
    // The same ACK, but echoing the retransmission's TSval: the retransmission
    // filled the hole, so the loss was real and the reduction stands.
    t.advance(ms(1));
    t.inject(e.local, ts_sack(&e, 10, &[], 205, ts_rtx), &[]);
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.stats.spurious_recoveries, 0, "{info:?}");
    assert_eq!(info.ssthresh, reduced.ssthresh, "{info:?}");
}

/// An initial window of 4 and 24 segments from the application: two rounds of slow
/// start (every ACK of one segment releases two) send all of them, 0..23.
fn all_application_data_out() -> (Lone, Est) {
    let mut t = Lone::new(Config {
        initial_window: 4,
        ..cfg()
    });
    let e = sack_conn(&mut t);
    t.stack.send(e.h, &vec![5u8; 24 * MSS as usize]).unwrap();
    let mut high = idx(&e, &t.out()).len() as u32;
    assert_eq!(high, 4);
    for round in 0..2 {
        t.advance(ms(10));
        let from = if round == 0 { 1 } else { 5 };
        for a in from..from + 4 * (round + 1) {
            high += idx(&e, &t.inject(e.local, sack(&e, a, &[]), &[])).len() as u32;
        }
    }
    assert_eq!(high, 24, "all the application's data is out");
    (t, e)
}

#[test]
fn a_window_left_open_by_recovery_is_refilled_at_the_pacing_rate() {
    // A sender whose data all waited on one hole: when the retransmission's ACK
    // acknowledges everything, cwnd (ssthresh) is free and nothing is in flight.
    // RFC 6582 §3.2 step 6 asks for a measure against the burst: the window is
    // refilled at 1.2 cwnd / SRTT (pacing is off here), and once it is full ACKs
    // clock the flow again, unpaced.
    let (mut t, e) = all_application_data_out();
    // 12 is lost; 13..23 arrive. The retransmission goes, and nothing else is left
    // to send.
    t.advance(ms(10));
    let mut rtx = Vec::new();
    for k in 1..=11u32 {
        rtx.extend(idx(
            &e,
            &t.inject(e.local, sack(&e, 12, &[(13, 13 + k)]), &[]),
        ));
    }
    assert_eq!(rtx, vec![12]);
    let info = t.stack.info(e.h).unwrap();
    let w = info.ssthresh;
    assert!(
        w > 4 * MSS,
        "more than the initial window to refill: {info:?}"
    );
    t.advance(ms(10));
    none(&t.inject(e.local, sack(&e, 24, &[]), &[]));
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.cwnd, w, "cwnd = ssthresh after recovery: {info:?}");
    // The application writes again: without the refill rule the whole window would
    // leave now.
    t.stack.send(e.h, &vec![6u8; 20 * MSS as usize]).unwrap();
    let mut sent = idx(&e, &t.out()).len() as u32;
    assert!(sent < w / MSS, "{sent} segments at once");
    // The rest leaves one segment per interval of MSS / (1.2 cwnd / SRTT).
    let srtt = info.srtt.expect("srtt").as_micros() as u64;
    let gap = u64::from(MSS) * 1_000_000 / (u64::from(w) * 120 * 10_000 / srtt);
    while sent < w / MSS {
        let (d, out) = t.next_timer().expect("a pacing deadline");
        assert!(d.as_micros() as u64 <= gap, "{d:?} > {gap} µs");
        assert!(d.as_micros() as u64 + 1000 >= gap, "{d:?} << {gap} µs");
        sent += idx(&e, &out).len() as u32;
    }
    assert_eq!(sent, w / MSS, "the window is full, and no more");
    // Full: the ACK clock takes over, with no pacing. Each ACK of two segments sends
    // two (congestion avoidance grows by less than one here).
    t.advance(ms(5));
    let out = t.inject(e.local, sack(&e, 26, &[]), &[]);
    assert_eq!(idx(&e, &out).len(), 2, "{:?}", brief(&out));
}

#[test]
fn a_partial_ack_that_frees_a_full_buffer_releases_the_window_at_the_pacing_rate() {
    // Two holes, 12 and 18, in a flight that was all the application had: while the
    // repair waits, SACKs deliver everything else, but there is nothing new to send,
    // so PRR's allowance (prr_delivered - prr_out, RFC 6937) piles up. The partial
    // ACK of the first repair acknowledges 12..17 and the application writes again:
    // PRR-SSRB allows up to ssthresh - pipe at once. More than the initial window of
    // it leaves at 1.2 cwnd / SRTT instead (pacing is off here), as after recovery.
    let (mut t, e) = all_application_data_out();
    t.advance(ms(10));
    let mut rtx = Vec::new();
    for k in 1..=5u32 {
        rtx.extend(idx(
            &e,
            &t.inject(e.local, sack(&e, 12, &[(13, 13 + k)]), &[]),
        ));
    }
    for k in 1..=5u32 {
        rtx.extend(idx(
            &e,
            &t.inject(e.local, sack(&e, 12, &[(19, 19 + k), (13, 18)]), &[]),
        ));
    }
    assert_eq!(
        rtx,
        vec![12, 18],
        "both holes repaired, nothing new to send"
    );
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.stats.fast_retransmits, 1, "one recovery: {info:?}");
    let w = info.ssthresh;
    t.advance(ms(10));
    // The partial ACK: 12 arrived; 18 is still being repaired.
    none(&t.inject(e.local, sack(&e, 18, &[(19, 24)]), &[]));
    t.stack.send(e.h, &vec![6u8; 20 * MSS as usize]).unwrap();
    let out = t.out();
    let mut sent = idx(&e, &out).len() as u32;
    assert!(
        sent <= 4,
        "{sent} segments at once, ssthresh {w}: {:?}",
        brief(&out)
    );
    // The rest of what PRR allows follows at the pacing rate.
    let mut paced = 0;
    while let Some((d, out)) = t.next_timer() {
        if d > ms(5) {
            break;
        }
        let n = idx(&e, &out).len() as u32;
        assert!(n <= 1, "{n} segments at one deadline");
        sent += n;
        paced += 1;
    }
    assert!(paced > 0 && sent > 4, "{sent} sent, {paced} paced");
}

/// A SACK connection (see [`sack_conn`]) whose sender runs CUBIC.
fn cubic_conn() -> (Lone, Est) {
    let mut t = Lone::new(Config {
        congestion: Algorithm::Cubic,
        ..cfg()
    });
    let e = sack_conn(&mut t);
    (t, e)
}

/// Segment 10 is lost: three SACKs of what follows start one recovery. Returns the
/// connection's figures then.
fn lose_segment_ten(t: &mut Lone, e: &Est) -> ConnInfo {
    t.advance(ms(10));
    for k in 1..=3u32 {
        t.inject(e.local, sack(e, 10, &[(11, 11 + k)]), &[]);
    }
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.stats.fast_retransmits, 1, "{info:?}");
    info
}

#[test]
fn cubic_reduces_from_cwnd_right_after_the_flow_stopped_filling_it() {
    // Slow start grows cwnd to 20 while the flow fills it; then the application (a
    // send buffer) holds it at 15 in flight. A loss found within the round trip
    // after the last window-limited send is cut from cwnd, as Linux's CUBIC does at
    // every loss: from FlightSize (15) the window fell to 10.5 segments where Linux
    // keeps 14, and on a send-buffer-limited 200 ms path each later loss carried
    // the difference (real-time P3, one seed: 0.92 of Linux, 1.00 from cwnd).
    let (mut t, e) = cubic_conn();
    t.stack.send(e.h, &vec![5u8; 20 * MSS as usize]).unwrap();
    assert_eq!(idx(&e, &t.out()).len(), 10);
    t.advance(ms(10));
    let mut sent = Vec::new();
    for a in 1..=10 {
        sent.extend(idx(&e, &t.inject(e.local, sack(&e, a, &[]), &[])));
    }
    assert_eq!(sent, (10..20).collect::<Vec<_>>(), "every ACK released two");
    t.stack.send(e.h, &vec![6u8; 5 * MSS as usize]).unwrap();
    assert_eq!(idx(&e, &t.out()), (20..25).collect::<Vec<_>>());
    let grown = t.stack.info(e.h).unwrap();
    assert_eq!(grown.cwnd, 20 * MSS, "{grown:?}");
    let info = lose_segment_ten(&mut t, &e);
    // beta_cubic = 0.7 of cwnd (20 segments), not of the 15 in flight.
    assert_eq!(info.ssthresh, 14 * MSS, "{info:?}");
}

#[test]
fn cubic_in_slow_start_reduces_from_the_window_its_send_buffer_left_unused() {
    // Slow start validates cwnd up to twice what was in flight (RFC 7661 §4.3 in
    // Linux's form). A flow its application (or send buffer) holds under that
    // reduces from cwnd at a loss, as Linux's CUBIC does and RFC 9438 §4.6 allows
    // where validation bounds cwnd: from FlightSize, a send-buffer-limited flow
    // that left slow start at a loss kept less than half its window.
    let (mut t, e) = cubic_conn();
    t.stack.send(e.h, &vec![5u8; 10 * MSS as usize]).unwrap();
    assert_eq!(idx(&e, &t.out()).len(), 10);
    t.advance(ms(10));
    for a in 1..=10 {
        none(&t.inject(e.local, sack(&e, a, &[]), &[]));
    }
    let grown = t.stack.info(e.h).unwrap();
    assert_eq!(grown.cwnd, 20 * MSS, "{grown:?}");
    assert_eq!(grown.ssthresh, u32::MAX, "still in slow start: {grown:?}");
    // Ten more segments: half the window in flight.
    t.stack.send(e.h, &vec![6u8; 10 * MSS as usize]).unwrap();
    assert_eq!(idx(&e, &t.out()), (10..20).collect::<Vec<_>>());
    let info = lose_segment_ten(&mut t, &e);
    // beta_cubic = 0.7 of cwnd (20 segments), not of the 10 in flight.
    assert_eq!(info.ssthresh, 14 * MSS, "{info:?}");
}
