//! Stack-level behaviour: ISNs (RFC 6528), ephemeral ports (RFC 6056), many
//! connections, ICMP errors routed to the connection they quote only when the quoted
//! sequence number is in flight (RFC 5927 §4.1; RFC 1122 §4.2.3.9 hard errors,
//! RFC 1191 / RFC 8201 packet too big), IPv6, idle memory and `info()`.

mod common;
use common::*;
use std::net::SocketAddr;
use synack_core::{Config, ConnError, ConnectError, Event, Instant, SendError, Stack, State};
use synack_wire::{IcmpKind, IcmpRepr, TcpOptions};

#[test]
fn isns_differ_per_four_tuple_and_grow_with_time() {
    let mut t = Lone::new(quick_cfg());
    let mut isns = Vec::new();
    for port in 6000..6010u16 {
        let h = t.stack.connect(t.now, t.peer, Some(t.local(port))).unwrap();
        isns.push(t.stack.info(h).unwrap().iss);
    }
    let mut uniq = isns.clone();
    uniq.sort_unstable();
    uniq.dedup();
    assert_eq!(uniq.len(), isns.len(), "{isns:?}");
    // Same 4-tuple later: larger by the 4 us clock (RFC 6528 §3), 250,000 per second.
    let mut t2 = Lone::new(quick_cfg());
    t2.now = t.now + secs(2);
    let h = t2
        .stack
        .connect(t2.now, t2.peer, Some(t2.local(6000)))
        .unwrap();
    let later = t2.stack.info(h).unwrap().iss;
    assert_eq!(later.wrapping_sub(isns[0]), 500_000);
    // A different key gives unrelated ISNs.
    let mut other = Stack::new(quick_cfg(), [9; 16]);
    other.add_address(ip(SERVER_IP));
    let h = other.connect(t.now, t.peer, Some(t.local(6000))).unwrap();
    assert_ne!(other.info(h).unwrap().iss, isns[0]);
}

#[test]
fn ephemeral_ports_come_from_the_configured_range_until_exhausted() {
    let mut t = Lone::new(Config {
        ephemeral_ports: 50000..=50009,
        ..quick_cfg()
    });
    let mut ports = Vec::new();
    for _ in 0..10 {
        let h = t.stack.connect(t.now, t.peer, None).unwrap();
        ports.push(t.stack.local_addr(h).unwrap().port());
    }
    ports.sort_unstable();
    assert_eq!(ports, (50000..=50009).collect::<Vec<_>>());
    assert_eq!(
        t.stack.connect(t.now, t.peer, None),
        Err(ConnectError::NoPorts)
    );
    // Another destination may reuse the same ports (the 4-tuple differs).
    let h = t
        .stack
        .connect(t.now, addr("10.0.0.1:40001"), None)
        .unwrap();
    assert!((50000..=50009).contains(&t.stack.local_addr(h).unwrap().port()));
}

#[test]
fn connect_rejects_bad_addresses() {
    let mut t = Lone::new(quick_cfg());
    assert_eq!(
        t.stack.connect(t.now, addr("0.0.0.0:80"), None),
        Err(ConnectError::BadAddress)
    );
    assert_eq!(
        t.stack.connect(t.now, addr("10.0.0.1:0"), None),
        Err(ConnectError::BadAddress)
    );
    assert_eq!(
        t.stack.connect(t.now, addr("[fd00::1]:80"), None),
        Err(ConnectError::BadAddress),
        "no IPv6 address on this stack"
    );
    let mut t = Lone::new(Config {
        max_connections: 1,
        ..quick_cfg()
    });
    t.stack.connect(t.now, t.peer, None).unwrap();
    assert_eq!(
        t.stack.connect(t.now, addr("10.0.0.1:1"), None),
        Err(ConnectError::TooManyConnections)
    );
}

#[test]
fn many_connections_each_get_their_own_data() {
    let mut t = Lone::new(quick_cfg());
    let l = t.listen80();
    let mut conns = Vec::new();
    for i in 0..300u16 {
        t.peer = SocketAddr::new(ip(CLIENT_IP), 20000 + i);
        let mut e = t.passive_on(l, u32::from(i) * 1000, syn_opts(1460));
        let msg = format!("conn {i}");
        one(&t.send(&mut e, ACK, msg.as_bytes()), ACK, e.s_nxt, e.p_nxt);
        conns.push((e, msg));
    }
    assert_eq!(t.stack.connection_count(), 300);
    for (e, msg) in &conns {
        let mut buf = [0u8; 32];
        let n = t.stack.recv(e.h, &mut buf).unwrap();
        assert_eq!(&buf[..n], msg.as_bytes());
    }
    assert_eq!(
        t.stack.poll_timeout(),
        None,
        "idle connections arm no timer"
    );
}

fn icmp_about(t: &mut Lone, kind: IcmpKind, quoted: &Seg) {
    let orig = packet(quoted.src, quoted.dst, quoted.tcp, &quoted.payload);
    let mut buf = vec![0u8; 2000];
    let n =
        IcmpRepr::emit_packet(kind, ip("10.0.0.254"), quoted.src.ip(), &orig, &mut buf).unwrap();
    t.stack.handle_packet(t.now, &buf[..n]);
}

#[test]
fn port_unreachable_fails_syn_sent_only_when_the_quoted_seq_is_in_flight() {
    let mut t = Lone::new(quick_cfg());
    let h = t.stack.connect(t.now, t.peer, None).unwrap();
    let syn = t.out().remove(0);
    let port_unreach = IcmpKind::DestUnreachable {
        code: 3,
        hard: true,
    };
    // A forged error quoting a sequence number we never sent is ignored (RFC 5927 §4.1).
    let mut forged = syn.clone();
    forged.tcp.seq = syn.seq().wrapping_add(100_000);
    icmp_about(&mut t, port_unreach, &forged);
    assert_eq!(t.stack.state(h), Some(State::SynSent));
    assert_eq!(t.stack.stats().icmp_ignored, 1);
    icmp_about(&mut t, port_unreach, &syn);
    assert_eq!(t.stack.state(h), Some(State::Closed));
    assert_eq!(t.stack.stats().icmp_applied, 1);
    // Linux icmp_err_convert: port unreachable is ECONNREFUSED.
    assert_eq!(
        closed_with(&events(&mut t.stack), h),
        Some(Some(ConnError::Refused))
    );
}

#[test]
fn soft_unreachable_ends_a_connect_with_its_own_error_as_linux_does() {
    // Linux tcp_v4_err ends SYN-SENT on soft codes too (checked against Linux by
    // conformance/synsent-icmp-*.pkt), with the errno the code maps to.
    for (code, want) in [
        (0u8, ConnError::NetUnreachable),
        (1, ConnError::Unreachable),
        (2, ConnError::ProtocolUnreachable),
        (13, ConnError::Unreachable),
    ] {
        let mut t = Lone::new(quick_cfg());
        let h = t.stack.connect(t.now, t.peer, None).unwrap();
        let syn = t.out().remove(0);
        // An error about a connection we do not have is ignored.
        let mut other = syn.clone();
        other.src = t.local(1);
        let kind = IcmpKind::DestUnreachable { code, hard: false };
        icmp_about(&mut t, kind, &other);
        assert_eq!(t.stack.stats().icmp_ignored, 1);
        assert_eq!(t.stack.state(h), Some(State::SynSent));
        icmp_about(&mut t, kind, &syn);
        assert_eq!(
            closed_with(&events(&mut t.stack), h),
            Some(Some(want)),
            "code {code}"
        );
    }
}

#[test]
fn packet_too_big_lowers_the_mss_and_retransmits_smaller_segments() {
    let mut t = Lone::new(Config {
        timestamps: false,
        ..quick_cfg()
    });
    let e = t.passive(1, syn_opts(1460));
    t.stack.send(e.h, &[3u8; 2920]).unwrap();
    let out = t.out();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].payload.len(), 1460);
    // Quoting data already acknowledged: ignored.
    let mut stale = out[0].clone();
    stale.tcp.seq = e.s_nxt.wrapping_sub(10);
    icmp_about(&mut t, IcmpKind::PacketTooBig { mtu: 1000 }, &stale);
    assert_eq!(t.stack.info(e.h).unwrap().mss, 1460);
    icmp_about(&mut t, IcmpKind::PacketTooBig { mtu: 1000 }, &out[0]);
    assert_eq!(t.stack.info(e.h).unwrap().mss, 960);
    let again = t.out();
    assert!(!again.is_empty());
    assert_eq!(again[0].seq(), e.s_nxt);
    assert!(
        again.iter().all(|s| s.payload.len() <= 960),
        "{:?}",
        brief(&again)
    );
    let total: usize = again.iter().map(|s| s.payload.len()).sum();
    assert!(total >= 960);
}

#[test]
fn frag_needed_for_a_syn_with_data_resends_a_plain_syn_offering_the_smaller_mss() {
    // Fast Open without a cookie (tcp_fastopen = 5): the SYN carries data.
    let mut t = Lone::new(Config {
        timestamps: false,
        fastopen: 5,
        ..quick_cfg()
    });
    let peer = t.peer;
    let (h, n) = t
        .stack
        .connect_fastopen(t.now, peer, None, &[1u8; 1000], false)
        .unwrap();
    assert_eq!(n, 1000);
    let syn = t.out().remove(0);
    assert_eq!(syn.payload.len(), 1000);
    assert_eq!(syn.tcp.options.mss, Some(1460));
    icmp_about(&mut t, IcmpKind::PacketTooBig { mtu: 800 }, &syn);
    // At once, as Linux: a plain SYN (a retransmission carries no data) offering
    // 800 - 40 bytes.
    let again = t.out();
    assert_eq!(again.len(), 1, "{:?}", brief(&again));
    assert!(again[0].payload.is_empty());
    assert_eq!(again[0].seq(), syn.seq());
    assert_eq!(again[0].tcp.options.mss, Some(760));
    assert_eq!(t.stack.state(h), Some(State::SynSent));
}

#[test]
fn ipv6_handshake_and_data() {
    let mut stack = Stack::new(quick_cfg(), [7; 16]);
    stack.add_address(ip("fd00::2"));
    let mut t = Lone {
        stack,
        now: Instant::from_secs(1),
        me: ip("fd00::2"),
        peer: addr("[fd00::1]:40000"),
    };
    let mut e = t.passive(77, syn_opts(1440));
    assert_eq!(t.stack.info(e.h).unwrap().mss, 1440);
    let out = t.send(&mut e, ACK | PSH, b"over v6");
    let a = one(&out, ACK, e.s_nxt, e.p_nxt);
    assert!(a.dst.is_ipv6());
    t.stack.send(e.h, b"reply").unwrap();
    let s = one(&t.out(), ACK | PSH, e.s_nxt, e.p_nxt);
    assert_eq!(s.payload, b"reply");
    // Active open over IPv6 too; the SYN advertises MTU - 60.
    let h = t.stack.connect(t.now, addr("[fd00::1]:443"), None).unwrap();
    let syn = t.out().remove(0);
    assert_eq!(syn.tcp.options.mss, Some(1440));
    assert_eq!(t.stack.local_addr(h).unwrap().ip(), ip("fd00::2"));
    // Without the MSS option, IPv6 assumes 1220 (RFC 9293 §3.7.1).
    t.peer = addr("[fd00::1]:40001");
    let e = t.passive_on_v6_default(77);
    assert_eq!(t.stack.info(e).unwrap().mss, 1220);
}

trait V6 {
    fn passive_on_v6_default(&mut self, a: u32) -> synack_core::ConnHandle;
}

impl V6 for Lone {
    fn passive_on_v6_default(&mut self, a: u32) -> synack_core::ConnHandle {
        let local = self.local(80);
        let out = self.inject(local, tcp(SYN, a, 0, 65535), &[]);
        let b = out[0].seq();
        self.inject(local, tcp(ACK, a + 1, b + 1, 65535), &[]);
        let ev = events(&mut self.stack);
        let Some(Event::Incoming(l)) = ev.first().copied() else {
            panic!("{ev:?}")
        };
        self.stack.accept(l).unwrap()
    }
}

#[test]
fn idle_established_connection_holds_no_buffer_memory() {
    let mut t = Lone::new(quick_cfg());
    let mut e = t.passive(1, syn_opts(1460));
    assert_eq!(t.stack.info(e.h).unwrap().buffer_bytes, 0);
    t.send(&mut e, ACK, &[1; 3000]);
    t.stack.set_nodelay(t.now, e.h, true);
    t.stack.send(e.h, &[2; 3000]).unwrap();
    let sent: usize = t.out().iter().map(|s| s.payload.len()).sum();
    assert_eq!(sent, 3000);
    assert!(t.stack.info(e.h).unwrap().buffer_bytes > 0);
    let mut buf = [0u8; 4096];
    assert_eq!(t.stack.recv(e.h, &mut buf), Ok(3000));
    e.s_nxt += 3000;
    t.ack(&e, 65535);
    assert_eq!(t.stack.info(e.h).unwrap().buffer_bytes, 0);
}

#[test]
fn info_reports_sensible_fields() {
    let mut t = Lone::new(quick_cfg());
    let mut e = t.passive_rtt(1234, ms(50));
    t.send(&mut e, ACK, b"abc");
    t.stack.send(e.h, b"xy").unwrap();
    t.out();
    let i = t.stack.info(e.h).unwrap();
    assert_eq!(i.state, State::Established);
    assert_eq!(i.local, e.local);
    assert_eq!(i.remote, t.peer);
    assert_eq!((i.iss, i.irs), (e.iss, 1234));
    assert_eq!(i.srtt, Some(ms(50)));
    assert_eq!(
        i.rto,
        ms(250),
        "SRTT 50 ms + max(2 x 50 ms, rto_min 200 ms)"
    );
    assert_eq!(i.mss, 1460);
    assert_eq!(i.cwnd, 10 * 1460);
    assert_eq!(i.snd_wnd, 65535);
    assert_eq!(i.send_queue, 2);
    assert_eq!(i.recv_queue, 3);
    assert_eq!(i.error, None);
    assert_eq!(i.stats.bytes_received, 3);
    assert_eq!(i.stats.bytes_sent, 2);
    assert!(i.stats.segs_sent >= 2 && i.stats.segs_received >= 2);
}

#[test]
fn bad_checksum_and_malformed_packets_are_counted() {
    let mut t = Lone::new(quick_cfg());
    t.listen80();
    let mut p = packet(t.peer, t.local(80), tcp(SYN, 1, 0, 65535), &[]);
    let last = p.len() - 1;
    p[last] ^= 0xff;
    t.stack.handle_packet(t.now, &p);
    t.stack.handle_packet(t.now, &[0x45, 0, 0]);
    t.stack.handle_packet(t.now, &[]);
    none(&t.out());
    let s = t.stack.stats();
    assert_eq!(s.bad_checksum, 1);
    assert_eq!(s.malformed, 2);
    assert_eq!(s.packets_in, 3);
    assert_eq!(t.stack.connection_count(), 0);
}

/// The receive fast path copies an in-order payload into the receive buffer while
/// summing it (RFC 9293 §3.1 check deferred to the copy). A corrupted payload must
/// still be dropped with no trace: no data readable, no ACK, RCV.NXT unchanged, and
/// the retransmission of the good segment is then accepted in full.
#[test]
fn corrupted_in_order_payload_is_dropped_without_a_trace() {
    let mut t = Lone::new(quick_cfg());
    let mut e = t.passive(1000, TcpOptions::default());
    let good: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    let seg = tcp(ACK | PSH, e.p_nxt, e.s_nxt, 65535);
    for at in [0usize, 1, 500, 999] {
        let mut p = packet(t.peer, e.local, seg, &good);
        let i = p.len() - good.len() + at;
        p[i] ^= 0x10;
        t.stack.handle_packet(t.now, &p);
        none(&t.out());
        assert_eq!(t.stack.recv_queue(e.h), 0, "flip at {at}");
    }
    assert_eq!(t.stack.stats().bad_checksum, 4);
    let mut buf = [0u8; 2000];
    assert_eq!(
        t.stack.recv(e.h, &mut buf),
        Err(synack_core::RecvError::WouldBlock)
    );
    // The good segment, then the next one, both land.
    t.send(&mut e, ACK | PSH, &good);
    t.send(&mut e, ACK | PSH, &good[..10]);
    let _ = t.out();
    assert_eq!(t.stack.recv(e.h, &mut buf), Ok(1010));
    assert_eq!(&buf[..1000], &good[..]);
    assert_eq!(&buf[1000..1010], &good[..10]);
}

/// `recv_with` shows the readable bytes in place and removes what the reader takes.
#[test]
fn recv_with_reads_in_place() {
    let mut t = Lone::new(quick_cfg());
    let mut e = t.passive(1000, TcpOptions::default());
    t.send(&mut e, ACK | PSH, b"hello world");
    let _ = t.out();
    let mut seen = Vec::new();
    let n = t.stack.recv_with(e.h, |a, b| {
        seen.extend_from_slice(a);
        seen.extend_from_slice(b);
        5
    });
    assert_eq!(n, Ok(5));
    assert_eq!(seen, b"hello world");
    assert_eq!(t.stack.recv_queue(e.h), 6);
    let n = t.stack.recv_with(e.h, |a, _| {
        assert_eq!(a, b" world");
        usize::MAX
    });
    assert_eq!(n, Ok(6), "clamped to what was shown");
    assert_eq!(
        t.stack.recv_with(e.h, |_, _| panic!("nothing to show")),
        Err(synack_core::RecvError::WouldBlock)
    );
    t.send(&mut e, ACK | FIN, &[]);
    assert_eq!(t.stack.recv_with(e.h, |_, _| 0), Ok(0), "end of stream");
}

#[test]
fn a_writer_held_by_a_full_send_buffer_is_woken_once_a_third_of_it_is_free() {
    // Linux `sk_stream_write_space`: the writer hears of room once the free space is
    // at least half of what is still queued, not at every ACK. The buffer is fixed
    // at 30,000 bytes; the peer's MSS is 1000.
    let mut t = Lone::new(Config {
        send_buffer: 30_000,
        send_buffer_max: 30_000,
        ..quick_cfg()
    });
    let e = t.passive(1000, syn_opts(1000));
    assert_eq!(t.stack.send(e.h, &[1u8; 40_000]), Ok(30_000));
    assert_eq!(t.stack.send(e.h, &[1]), Err(SendError::WouldBlock));
    assert_eq!(t.out().len(), 10, "the initial window");
    events(&mut t.stack);
    let ack = |n: u32| tcp(ACK, e.p_nxt, e.s_nxt.wrapping_add(n), 65535);
    // 5,000 free, 25,000 queued: too little to wake the writer.
    t.advance(ms(10));
    t.inject(e.local, ack(5_000), &[]);
    let ev = events(&mut t.stack);
    assert!(!ev.contains(&Event::Writable(e.h)), "{ev:?}");
    // 9,000 free, 21,000 queued: still not.
    t.inject(e.local, ack(9_000), &[]);
    let ev = events(&mut t.stack);
    assert!(!ev.contains(&Event::Writable(e.h)), "{ev:?}");
    // 10,000 free, 20,000 queued: a third of the buffer is free.
    t.inject(e.local, ack(10_000), &[]);
    let ev = events(&mut t.stack);
    assert!(ev.contains(&Event::Writable(e.h)), "{ev:?}");
    assert_eq!(t.stack.send(e.h, &[2u8; 20_000]), Ok(10_000));
}
