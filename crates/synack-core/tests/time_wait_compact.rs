//! Compact TIME-WAIT: a connection whose handle was given up (`close`) keeps only a
//! small record in TIME-WAIT. It must answer every segment exactly as a full
//! connection in TIME-WAIT does (RFC 9293 §3.10.7.4, RFC 5961, RFC 7323 PAWS, RFC 6191
//! reuse), keep the 4-tuple for 2*MSL, and give back the connection's slot at once.

mod common;
use common::*;
use synack_core::trace::TraceKind;
use synack_core::{Config, ConnectError, ListenerHandle, State};
use synack_wire::TcpOptions;

fn cfg() -> Config {
    Config {
        msl: secs(5),
        ..quick_cfg()
    }
}

fn ts_opts(v: u32) -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        timestamp: Some((v, 0)),
        ..TcpOptions::default()
    }
}

/// The stack closes a passive connection first and ends in TIME-WAIT. With `orphan`
/// the application gave the handle up (`close`): the compact record; otherwise it
/// holds the handle (`shutdown`): the full connection.
fn time_wait(orphan: bool, opts: TcpOptions) -> (Lone, Est) {
    let (t, e, _) = time_wait_on(orphan, opts);
    (t, e)
}

/// [`time_wait`], also returning the listener.
fn time_wait_on(orphan: bool, opts: TcpOptions) -> (Lone, Est, ListenerHandle) {
    let mut t = Lone::new(cfg());
    t.stack.set_trace(true);
    let l = t.listen80();
    let mut e = t.passive_on(l, 1_000_000, opts);
    if orphan {
        t.stack.close(t.now, e.h);
    } else {
        t.stack.shutdown(t.now, e.h).unwrap();
    }
    let fin = t.out();
    assert!(fin[0].flags().fin());
    e.s_nxt += 1;
    let mut f = tcp(ACK | FIN, e.p_nxt, e.s_nxt, 65535);
    if let (Some((v, _)), Some((ours, _))) = (opts.timestamp, fin[0].tcp.options.timestamp) {
        f.options.timestamp = Some((v + 10, ours));
    }
    one(&t.inject(e.local, f, &[]), ACK, e.s_nxt, e.p_nxt + 1);
    e.p_nxt += 1;
    assert!(in_time_wait(&t, &e, orphan));
    while t.stack.poll_trace().is_some() {}
    (t, e, l)
}

/// Whether the connection is still in TIME-WAIT. A given-up handle still names the
/// compact record (as tools holding old handles expect) until it ends.
fn in_time_wait(t: &Lone, e: &Est, orphan: bool) -> bool {
    let tw = t.stack.state(e.h) == Some(State::TimeWait);
    if orphan {
        assert_eq!(tw, t.stack.connection_count() == 1);
        if !tw {
            assert_eq!(t.stack.state(e.h), None, "the slot was freed");
        }
    }
    tw
}

/// A segment a peer might send to a connection in TIME-WAIT.
struct Case {
    name: &'static str,
    seg: fn(&Est) -> synack_wire::TcpRepr,
    payload: &'static [u8],
    /// Timestamp value to carry (with timestamps in use), relative to the last one.
    ts: i32,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "retransmitted FIN",
            seg: |e| tcp(ACK | FIN, e.p_nxt - 1, e.s_nxt, 65535),
            payload: b"",
            ts: 1,
        },
        Case {
            name: "in-window FIN (the FIN again at RCV.NXT)",
            seg: |e| tcp(ACK | FIN, e.p_nxt, e.s_nxt, 65535),
            payload: b"",
            ts: 1,
        },
        Case {
            name: "pure ACK",
            seg: |e| tcp(ACK, e.p_nxt, e.s_nxt, 65535),
            payload: b"",
            ts: 1,
        },
        Case {
            name: "data after the FIN",
            seg: |e| tcp(ACK | PSH, e.p_nxt, e.s_nxt, 65535),
            payload: b"late",
            ts: 1,
        },
        Case {
            name: "ACK of data never sent",
            seg: |e| tcp(ACK, e.p_nxt, e.s_nxt + 1000, 65535),
            payload: b"",
            ts: 1,
        },
        Case {
            name: "ACK too old (RFC 5961)",
            seg: |e| tcp(ACK, e.p_nxt, e.s_nxt.wrapping_sub(1_000_000), 65535),
            payload: b"",
            ts: 1,
        },
        Case {
            name: "segment left of the window",
            seg: |e| tcp(ACK, e.p_nxt - 50_000, e.s_nxt, 65535),
            payload: b"x",
            ts: 1,
        },
        Case {
            name: "segment right of the window",
            seg: |e| tcp(ACK, e.p_nxt + 2_000_000, e.s_nxt, 65535),
            payload: b"x",
            ts: 1,
        },
        Case {
            name: "no ACK bit",
            seg: |e| tcp(PSH, e.p_nxt, 0, 65535),
            payload: b"y",
            ts: 1,
        },
        Case {
            name: "old timestamp (PAWS)",
            seg: |e| tcp(ACK, e.p_nxt, e.s_nxt, 65535),
            payload: b"",
            ts: -100,
        },
        Case {
            name: "SYN below RCV.NXT (no reuse)",
            seg: |e| tcp(SYN, e.p_nxt - 100_000, 0, 65535),
            payload: b"",
            ts: -5,
        },
        Case {
            name: "SYN with ACK in window (challenge)",
            seg: |e| tcp(SYN | ACK, e.p_nxt + 5, e.s_nxt, 65535),
            payload: b"",
            ts: 1,
        },
        Case {
            name: "RST at RCV.NXT",
            seg: |e| tcp(RST, e.p_nxt, 0, 0),
            payload: b"",
            ts: 0,
        },
        Case {
            name: "RST in window, not exact (challenge ACK)",
            seg: |e| tcp(RST, e.p_nxt + 10, 0, 0),
            payload: b"",
            ts: 0,
        },
        Case {
            name: "RST out of window",
            seg: |e| tcp(RST, e.p_nxt + 2_000_000, 0, 0),
            payload: b"",
            ts: 0,
        },
    ]
}

/// Run `case` against a full and a compact TIME-WAIT and compare every segment sent,
/// the trace, and the lifetime that follows.
fn compare(case: &Case, opts: TcpOptions) {
    let mut runs = Vec::new();
    for orphan in [false, true] {
        let (mut t, e) = time_wait(orphan, opts);
        t.advance(secs(3));
        let mut seg = (case.seg)(&e);
        if let Some((v, _)) = opts.timestamp {
            if case.ts != 0 {
                seg.options.timestamp = Some(((v + 10).wrapping_add_signed(case.ts), 1));
            }
        }
        let mut log = vec![format!("{:?}", t.inject(e.local, seg, case.payload))];
        let mut trace = Vec::new();
        while let Some(ev) = t.stack.poll_trace() {
            trace.push(format!("{:?} {:?}", ev.time, ev.kind));
        }
        log.push(trace.join("\n"));
        // The timeout that follows (a restart moves it), then a probe of what is left.
        for step in [ms(6_999), ms(1), ms(2_999), ms(1)] {
            log.push(format!("{:?}", t.advance(step)));
            log.push(format!("alive {}", in_time_wait(&t, &e, orphan)));
        }
        runs.push(log);
    }
    assert_eq!(
        runs[0], runs[1],
        "{}: full and compact TIME-WAIT differ",
        case.name
    );
}

#[test]
fn compact_record_answers_like_the_full_connection() {
    for case in cases() {
        compare(&case, syn_opts(1460));
    }
}

#[test]
fn compact_record_answers_like_the_full_connection_with_timestamps() {
    for case in cases() {
        compare(&case, ts_opts(50_000));
    }
}

#[test]
fn answers_to_rejected_bare_acks_are_rate_limited_in_both() {
    // A bare ACK that PAWS rejects is answered at most once per challenge-ACK
    // interval (500 ms; Linux tcp_timewait_check_oow_rate_limit); a retransmitted
    // FIN always is.
    for orphan in [false, true] {
        let (mut t, e) = time_wait(orphan, ts_opts(50_000));
        let old = |e: &Est| {
            let mut a = tcp(ACK, e.p_nxt, e.s_nxt, 65535);
            a.options.timestamp = Some((40_000, 1));
            a
        };
        let mut answered = Vec::new();
        for gap in [ms(1_000), ms(100), ms(100), ms(300)] {
            t.advance(gap);
            answered.push(t.inject(e.local, old(&e), &[]).len());
        }
        assert_eq!(answered, [1, 0, 0, 1], "orphan {orphan}");
        let mut fin = tcp(ACK | FIN, e.p_nxt - 1, e.s_nxt, 65535);
        fin.options.timestamp = Some((50_020, 1));
        one(&t.inject(e.local, fin, &[]), ACK, e.s_nxt, e.p_nxt);
    }
}

#[test]
fn retransmitted_fin_is_reacked_and_restarts_two_msl() {
    let (mut t, e) = time_wait(true, syn_opts(1460));
    t.advance(secs(8));
    let out = t.inject(e.local, tcp(ACK | FIN, e.p_nxt - 1, e.s_nxt, 65535), &[]);
    one(&out, ACK, e.s_nxt, e.p_nxt);
    none(&t.advance(ms(9_999)));
    assert_eq!(t.stack.connection_count(), 1, "2*MSL restarted");
    t.advance(ms(1));
    assert_eq!(t.stack.connection_count(), 0);
    assert_eq!(t.stack.poll_timeout(), None, "no timer left behind");
}

#[test]
fn expiry_frees_the_four_tuple_and_traces_closed() {
    let mut t = Lone::new(cfg());
    t.stack.set_trace(true);
    let local = t.local(5555);
    let h = t.stack.connect(t.now, t.peer, Some(local)).unwrap();
    let a = t.out().remove(0).seq();
    t.inject(local, tcp(SYN | ACK, 100, a + 1, 65535), &[]);
    // Client closes first (as in churn): it keeps TIME-WAIT.
    t.stack.close(t.now, h);
    one(&t.out(), FIN | ACK, a + 1, 101);
    none(&t.inject(local, tcp(ACK, 101, a + 2, 65535), &[]));
    one(
        &t.inject(local, tcp(ACK | FIN, 101, a + 2, 65535), &[]),
        ACK,
        a + 2,
        102,
    );
    assert_eq!(t.stack.connection_count(), 1);
    // The given-up handle still reports the record.
    assert_eq!(t.stack.state(h), Some(State::TimeWait));
    assert_eq!(t.stack.local_addr(h), Some(local));
    assert_eq!(t.stack.peer_addr(h), Some(t.peer));
    let info = t.stack.info(h).unwrap();
    assert_eq!((info.state, info.iss, info.irs), (State::TimeWait, a, 100));
    assert_eq!(info.buffer_bytes, 0);
    assert_eq!(
        t.stack.connect(t.now, t.peer, Some(local)),
        Err(ConnectError::AddrInUse)
    );
    // An ephemeral port is never the TIME-WAIT one.
    let h2 = t.stack.connect(t.now, t.peer, None).unwrap();
    assert_ne!(
        h2.index(),
        h.index(),
        "the slot stays reserved for the record"
    );
    assert_ne!(t.stack.local_addr(h2), Some(local));
    t.stack.abort(t.now, h2);
    t.out();
    while t.stack.poll_trace().is_some() {}
    let (d, out) = t.next_timer().unwrap();
    none(&out);
    assert_eq!(d, secs(10), "2*MSL after the FIN");
    assert_eq!(t.stack.connection_count(), 0);
    let closed: Vec<_> = std::iter::from_fn(|| t.stack.poll_trace())
        .filter(|ev| ev.local == local)
        .map(|ev| ev.kind)
        .collect();
    assert_eq!(
        closed,
        vec![TraceKind::StateChange {
            old: State::TimeWait,
            new: State::Closed
        }]
    );
    assert_eq!(
        t.stack.state(h),
        None,
        "the handle is stale once the record ends"
    );
    assert_eq!(t.stack.info(h), None);
    let h3 = t.stack.connect(t.now, t.peer, Some(local)).unwrap();
    assert!(
        [h.index(), h2.index()].contains(&h3.index()),
        "slots are reused"
    );
}

#[test]
fn syn_with_higher_sequence_number_reuses_the_tuple() {
    let (mut t, e, l) = time_wait_on(true, syn_opts(1460));
    let out = t.inject(e.local, tcp(SYN, e.p_nxt + 100_000, 0, 65535), &[]);
    let sa = one(&out, SYN | ACK, out[0].seq(), e.p_nxt + 100_001);
    assert_eq!(
        t.stack.connection_count(),
        1,
        "record replaced by the new one"
    );
    // The new incarnation completes and is accepted.
    none(&t.inject(
        e.local,
        tcp(ACK, e.p_nxt + 100_001, sa.seq() + 1, 65535),
        &[],
    ));
    let h = t.stack.accept(l).expect("new connection accepted");
    assert_eq!(t.stack.state(h), Some(State::Established));
}

#[test]
fn syn_with_newer_timestamp_reuses_older_does_not() {
    let (mut t, e) = time_wait(true, ts_opts(50_000));
    let mut old = tcp(SYN, e.p_nxt + 100_000, 0, 65535);
    old.options = ts_opts(40_000);
    let out = t.inject(e.local, old, &[]);
    assert!(out.iter().all(|s| !s.flags().syn()), "{:?}", brief(&out));
    assert_eq!(t.stack.connection_count(), 1);
    let mut new = tcp(SYN, e.p_nxt - 100_000, 0, 65535);
    new.options = ts_opts(60_000);
    let out = t.inject(e.local, new, &[]);
    assert_eq!(out.len(), 1, "{:?}", brief(&out));
    assert_eq!(out[0].flags(), SYN | ACK);
    assert_eq!(out[0].ack(), e.p_nxt - 100_000 + 1);
}

#[test]
fn rst_deletes_the_record_only_when_exact() {
    let (mut t, e) = time_wait(true, syn_opts(1460));
    // RFC 5961 §3.2: in window but not exact: challenge ACK, record stays.
    one(
        &t.inject(e.local, tcp(RST, e.p_nxt + 1, 0, 0), &[]),
        ACK,
        e.s_nxt,
        e.p_nxt,
    );
    assert_eq!(t.stack.connection_count(), 1);
    none(&t.inject(e.local, tcp(RST, e.p_nxt, 0, 0), &[]));
    assert_eq!(t.stack.connection_count(), 0);
    assert_eq!(t.stack.poll_timeout(), None);
    // The 4-tuple is free: a segment for it now meets no connection (RST reply).
    let out = t.inject(e.local, tcp(ACK, e.p_nxt, e.s_nxt, 65535), &[]);
    one(&out, RST, e.s_nxt, 0);
}

#[test]
fn many_records_expire_in_order_and_slots_are_reused() {
    let mut t = Lone::new(cfg());
    let mut locals = Vec::new();
    let mut handles = Vec::new();
    for k in 0..50u16 {
        let local = t.local(6000 + k);
        let h = t.stack.connect(t.now, t.peer, Some(local)).unwrap();
        handles.push(h);
        let a = t.out().remove(0).seq();
        t.inject(local, tcp(SYN | ACK, 100, a + 1, 65535), &[]);
        t.stack.close(t.now, h);
        t.out();
        t.inject(local, tcp(ACK | FIN, 101, a + 2, 65535), &[]);
        locals.push(local);
        t.advance(ms(100));
    }
    assert_eq!(t.stack.connection_count(), 50);
    let mut expired = 0;
    while let Some((_, out)) = t.next_timer() {
        none(&out);
        expired += 1;
        assert_eq!(t.stack.connection_count(), 50 - expired);
    }
    assert_eq!(expired, 50, "one deadline per record");
    assert!(handles.iter().all(|&h| t.stack.state(h).is_none()));
    // The 50 slots are free again: 50 new connections fit in them.
    let mut again: Vec<usize> = (0..50u16)
        .map(|k| {
            let h = t
                .stack
                .connect(t.now, t.peer, Some(t.local(6000 + k)))
                .unwrap();
            h.index()
        })
        .collect();
    let mut before: Vec<usize> = handles.iter().map(|h| h.index()).collect();
    again.sort_unstable();
    before.sort_unstable();
    assert_eq!(again, before);
}
