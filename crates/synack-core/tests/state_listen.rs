//! RFC 9293 §3.10.7.2 LISTEN: a SYN starts a passive open (SYN-ACK, SYN-RECEIVED), an
//! ACK is answered with `<SEQ=SEG.ACK><CTL=RST>`, an RST is ignored, anything else is
//! dropped. The listen backlog bounds half-open connections and the accept queue.

mod common;
use common::*;
use synack_core::{Config, Event, ListenError, State, SynCookies};
use synack_wire::TcpOptions;

#[test]
fn syn_gets_syn_ack_acking_isn_plus_one_and_final_ack_establishes() {
    let mut t = Lone::new(quick_cfg());
    let l = t.listen80();
    let out = t.inject(t.local(80), tcp(SYN, 7_000, 0, 65535), &[]);
    let sa = &out[0];
    assert_eq!(out.len(), 1);
    assert_eq!(sa.flags(), SYN | ACK);
    assert_eq!(sa.ack(), 7_001, "SYN-ACK acknowledges A+1");
    assert_eq!(sa.src, t.local(80));
    let b = sa.seq();
    // Not yet acceptable: the handshake is not complete.
    assert_eq!(t.stack.accept(l), None);
    assert_eq!(t.stack.connection_count(), 1);
    none(&t.inject(t.local(80), tcp(ACK, 7_001, b + 1, 65535), &[]));
    assert_eq!(events(&mut t.stack), vec![Event::Incoming(l)]);
    let h = t.stack.accept(l).unwrap();
    assert_eq!(t.stack.state(h), Some(State::Established));
    let info = t.stack.info(h).unwrap();
    assert_eq!((info.iss, info.irs), (b, 7_000));
}

#[test]
fn syn_ack_offers_only_the_options_the_syn_carried() {
    let mut t = Lone::new(quick_cfg());
    t.listen80();
    let out = t.inject(t.local(80), tcp(SYN, 1, 0, 65535), &[]);
    let o = out[0].tcp.options;
    assert_eq!(o.mss, Some(1460), "our MSS is always sent");
    assert_eq!(o.window_scale, None);
    assert!(!o.sack_permitted);
    assert_eq!(o.timestamp, None);

    t.peer = addr("10.0.0.1:40001");
    let mut syn = tcp(SYN, 1, 0, 65535);
    syn.options = TcpOptions {
        mss: Some(1400),
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some((555, 0)),
        ..TcpOptions::default()
    };
    let out = t.inject(t.local(80), syn, &[]);
    let o = out[0].tcp.options;
    assert!(o.window_scale.is_some());
    assert!(o.sack_permitted);
    let (_, ecr) = o.timestamp.expect("timestamps answered");
    assert_eq!(ecr, 555, "TSecr echoes the SYN's TSval");
}

#[test]
fn ack_to_listener_gets_rst_with_seq_of_seg_ack() {
    let mut t = Lone::new(quick_cfg());
    t.listen80();
    one(
        &t.inject(t.local(80), tcp(ACK, 1, 999, 65535), &[]),
        RST,
        999,
        0,
    );
    one(
        &t.inject(t.local(80), tcp(SYN | ACK, 1, 31, 65535), &[]),
        RST,
        31,
        0,
    );
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn rst_fin_and_bare_data_to_listener_are_dropped_silently() {
    let mut t = Lone::new(quick_cfg());
    t.listen80();
    none(&t.inject(t.local(80), tcp(RST, 1, 0, 0), &[]));
    none(&t.inject(t.local(80), tcp(FIN, 1, 0, 65535), &[]));
    none(&t.inject(t.local(80), tcp(PSH, 1, 0, 65535), b"data"));
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn listen_errors() {
    let mut t = Lone::new(quick_cfg());
    t.listen80();
    assert_eq!(t.stack.listen(t.local(80), 0), Err(ListenError::AddrInUse));
    assert_eq!(
        t.stack.listen(addr("10.9.9.9:80"), 0),
        Err(ListenError::BadAddress)
    );
    assert!(t.stack.listen(addr("0.0.0.0:81"), 0).is_ok());
}

#[test]
fn backlog_bounds_the_accept_queue_and_overflowing_syns_are_counted() {
    let mut t = Lone::new(quick_cfg());
    let l = t.stack.listen(t.local(80), 2).unwrap();
    for i in 0..2u16 {
        t.peer = addr(&format!("10.0.0.1:{}", 41000 + i));
        t.passive_on_no_accept(l, 100);
    }
    // The accept queue is full: a third SYN is dropped (no SYN-ACK) and counted.
    t.peer = addr("10.0.0.1:41002");
    none(&t.inject(t.local(80), tcp(SYN, 5, 0, 65535), &[]));
    assert_eq!(t.stack.stats().listen_overflows, 1);
    assert!(t.stack.accept(l).is_some());
    // Room again: the retransmitted SYN is accepted.
    let out = t.inject(t.local(80), tcp(SYN, 5, 0, 65535), &[]);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].flags(), SYN | ACK);
}

#[test]
fn backlog_bounds_half_open_connections_too() {
    // Without SYN cookies (tests/syncookies.rs has the same flood with them).
    let mut t = Lone::new(Config {
        syncookies: SynCookies::Off,
        ..quick_cfg()
    });
    let l = t.stack.listen(t.local(80), 3).unwrap();
    let mut synacks = Vec::new();
    for i in 0..6u16 {
        t.peer = addr(&format!("10.0.0.1:{}", 42000 + i));
        let out = t.inject(t.local(80), tcp(SYN, 10, 0, 65535), &[]);
        if let Some(sa) = out.first() {
            synacks.push((t.peer, sa.seq()));
        }
    }
    assert_eq!(synacks.len(), 3, "SYN-RECEIVED bounded by the backlog");
    assert_eq!(t.stack.stats().listen_overflows, 3);
    // Every half-open one completes; the accept queue never exceeds the backlog.
    for (peer, b) in synacks {
        t.peer = peer;
        t.inject(t.local(80), tcp(ACK, 11, b + 1, 65535), &[]);
    }
    let mut n = 0;
    while t.stack.accept(l).is_some() {
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn syn_backlog_config_bounds_half_open_connections() {
    let mut t = Lone::new(Config {
        syn_backlog: 2,
        syncookies: SynCookies::Off,
        ..quick_cfg()
    });
    t.listen80();
    let mut n = 0;
    for i in 0..5u16 {
        t.peer = addr(&format!("10.0.0.1:{}", 43000 + i));
        n += t.inject(t.local(80), tcp(SYN, 10, 0, 65535), &[]).len();
    }
    assert_eq!(n, 2);
    assert_eq!(t.stack.stats().listen_overflows, 3);
}

#[test]
fn many_listeners_demultiplex_by_port() {
    let mut t = Lone::new(quick_cfg());
    let ls: Vec<_> = (1000..1100u16)
        .map(|p| t.stack.listen(t.local(p), 0).unwrap())
        .collect();
    for (i, port) in (1000..1100u16).enumerate().rev() {
        let out = t.inject(t.local(port), tcp(SYN, 1, 0, 65535), &[]);
        assert_eq!(out[0].src, t.local(port));
        let b = out[0].seq();
        t.inject(t.local(port), tcp(ACK, 2, b + 1, 65535), &[]);
        let h = t.stack.accept(ls[i]).expect("accepted on its own listener");
        assert_eq!(t.stack.local_addr(h), Some(t.local(port)));
    }
    assert_eq!(t.stack.connection_count(), 100);
}

#[test]
fn wildcard_listener_accepts_for_every_local_address() {
    let mut t = Lone::new(quick_cfg());
    t.stack.add_address(ip("10.0.0.3"));
    let l = t.stack.listen(addr("0.0.0.0:80"), 0).unwrap();
    let dst = addr("10.0.0.3:80");
    let out = t.inject(dst, tcp(SYN, 1, 0, 65535), &[]);
    assert_eq!(out[0].src, dst);
    t.inject(dst, tcp(ACK, 2, out[0].seq() + 1, 65535), &[]);
    let h = t.stack.accept(l).unwrap();
    assert_eq!(t.stack.local_addr(h), Some(dst));
}

#[test]
fn closing_a_listener_resets_connections_not_yet_accepted() {
    let mut t = Lone::new(quick_cfg());
    let l = t.listen80();
    let (b, _) = t.passive_on_no_accept(l, 100);
    t.peer = addr("10.0.0.1:40001");
    let sa = t.inject(t.local(80), tcp(SYN, 500, 0, 65535), &[]);
    let b2 = sa[0].seq();
    t.stack.close_listener(t.now, l);
    let out = t.out();
    assert_eq!(out.len(), 2, "{out:#?}");
    assert!(out.iter().all(|s| s.flags().rst()));
    let seqs: Vec<u32> = out.iter().map(|s| s.seq()).collect();
    assert!(seqs.contains(&(b + 1)) && seqs.contains(&(b2 + 1)));
    assert_eq!(t.stack.connection_count(), 0);
    // The port is closed now.
    let out = t.inject(t.local(80), tcp(SYN, 9, 0, 65535), &[]);
    one(&out, RST | ACK, 0, 10);
}
