//! UDP and ICMP echo in the engine (issue 15): bound and connected sockets, the
//! bounded receive queue, MTU refusal, port unreachable with its exceptions and rate
//! limit, the IPv6 zero-checksum rule, the any-destination intercept with its flow
//! timeouts (a port scan does not pin memory), echo replies, and two stacks
//! exchanging datagrams.

use std::net::{IpAddr, SocketAddr};
use synack_core::{Config, Duration, Instant, Stack, UdpError, UdpEvent};
use synack_wire::echo::EchoRepr;
use synack_wire::icmp::{IcmpKind, IcmpRepr};
use synack_wire::{emit_udp_packet, parse_udp_packet, IpRepr, UdpRepr, PROTO_UDP};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn stack_with(cfg: Config, addrs: &[&str]) -> Stack {
    let mut s = Stack::new(cfg, [7; 16]);
    for a in addrs {
        s.add_address(ip(a));
    }
    s
}

fn stack(addrs: &[&str]) -> Stack {
    stack_with(Config::default(), addrs)
}

/// An IP + UDP packet from `src` to `dst`.
fn udp_packet(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let ipr = IpRepr {
        src: src.ip(),
        dst: dst.ip(),
        protocol: PROTO_UDP,
        ttl: 64,
        payload_len: 0,
    };
    let at = ipr.header_len() + 8;
    let mut buf = vec![0u8; at + payload.len()];
    buf[at..].copy_from_slice(payload);
    let udp = UdpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
    };
    emit_udp_packet(&mut buf, &ipr, &udp, payload.len()).unwrap();
    buf
}

fn echo_request(src: IpAddr, dst: IpAddr, seq_no: u16, data: &[u8]) -> Vec<u8> {
    let e = EchoRepr {
        request: true,
        ident: 0x77,
        seq_no,
    };
    let mut buf = vec![0u8; 100 + data.len()];
    let n = e.emit_packet(src, dst, 64, data, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// Everything the stack sends now.
fn drain(s: &mut Stack, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; s.max_packet_size()];
    while let Some(t) = s.poll_transmit(now, &mut buf) {
        out.push(buf[..t.len].to_vec());
    }
    out
}

fn events(s: &mut Stack) -> Vec<UdpEvent> {
    std::iter::from_fn(|| s.poll_udp_event()).collect()
}

/// (type, code) of an ICMP packet, with the outer addresses.
fn icmp_of(p: &[u8]) -> (IpAddr, IpAddr, u8, u8) {
    let (ipr, body) = IpRepr::parse(p).unwrap();
    assert!(ipr.protocol == 1 || ipr.protocol == 58, "not ICMP: {ipr:?}");
    (ipr.src, ipr.dst, body[0], body[1])
}

const T0: Instant = Instant::from_millis(1000);

#[test]
fn two_stacks_exchange_datagrams_v4_and_v6() {
    let mut a = stack(&["10.0.0.1", "fd00::1"]);
    let mut b = stack(&["10.0.0.2", "fd00::2"]);
    for (a_ip, b_ip) in [("10.0.0.1", "10.0.0.2"), ("fd00::1", "fd00::2")] {
        let server = b.udp_bind(SocketAddr::new(ip(b_ip), 5300)).unwrap();
        let client = a.udp_bind(SocketAddr::new(ip(a_ip), 0)).unwrap();
        let caddr = a.udp_local_addr(client).unwrap();
        assert!(caddr.port() >= 49152, "ephemeral port {caddr}");
        let to = SocketAddr::new(ip(b_ip), 5300);
        assert_eq!(a.udp_send_to(client, b"ping", to), Ok(4));
        for p in drain(&mut a, T0) {
            b.handle_packet(T0, &p);
        }
        assert_eq!(events(&mut b), vec![UdpEvent::Readable(server)]);
        let mut buf = [0u8; 64];
        let (n, from, dst) = b.udp_recv_from(server, &mut buf).unwrap();
        assert_eq!((&buf[..n], from, dst), (&b"ping"[..], caddr, to));
        assert_eq!(b.udp_recv_from(server, &mut buf), Err(UdpError::WouldBlock));
        // The echo back, to a connected client.
        a.udp_connect(client, to).unwrap();
        assert_eq!(a.udp_peer_addr(client), Some(to));
        b.udp_send_to(server, &buf[..n], from).unwrap();
        for p in drain(&mut b, T0) {
            a.handle_packet(T0, &p);
        }
        let d = a.udp_recv_datagram(client).unwrap();
        assert_eq!(
            (d.payload.as_slice(), d.src, d.dst),
            (&b"ping"[..], to, caddr)
        );
        a.udp_close(client);
        b.udp_close(server);
    }
    assert_eq!(b.stats().udp.delivered, 2);
    assert_eq!(a.stats().udp.delivered, 2);
    assert_eq!(a.stats().udp.datagrams_out, 2);
}

#[test]
fn bind_rules() {
    let mut s = stack(&["10.0.0.1", "10.0.0.9"]);
    let h = s.udp_bind(sa("10.0.0.1:53")).unwrap();
    assert_eq!(s.udp_bind(sa("10.0.0.1:53")), Err(UdpError::AddrInUse));
    assert_eq!(s.udp_bind(sa("0.0.0.0:53")), Err(UdpError::AddrInUse));
    assert!(s.udp_bind(sa("10.0.0.9:53")).is_ok());
    assert!(s.udp_bind(sa("[::]:53")).is_ok(), "another family");
    assert_eq!(s.udp_bind(sa("10.0.0.7:53")), Err(UdpError::BadAddress));
    s.udp_close(h);
    assert!(s.udp_local_addr(h).is_none(), "stale handle");
    assert_eq!(
        s.udp_send_to(h, b"x", sa("10.0.0.2:1")),
        Err(UdpError::InvalidHandle)
    );
    let h = s.udp_bind(sa("10.0.0.1:53")).unwrap();
    assert_eq!(s.udp_send(h, b"x"), Err(UdpError::NotConnected));
    assert_eq!(
        s.udp_send_to(h, b"x", sa("0.0.0.0:9")),
        Err(UdpError::BadAddress)
    );
    assert_eq!(
        s.udp_send_to(h, b"x", sa("[fd00::2]:9")),
        Err(UdpError::BadAddress)
    );
    let w = s.udp_bind(sa("0.0.0.0:0")).unwrap();
    s.udp_connect(w, sa("10.0.0.2:7")).unwrap();
    assert_eq!(s.udp_local_addr(w).unwrap().ip(), ip("10.0.0.1"));
}

#[test]
fn oversized_datagrams_are_refused_never_cut() {
    let mut s = stack_with(
        Config {
            mtu: 1400,
            ..Config::default()
        },
        &["10.0.0.1", "fd00::1"],
    );
    let h4 = s.udp_bind(sa("10.0.0.1:1000")).unwrap();
    let h6 = s.udp_bind(sa("[fd00::1]:1000")).unwrap();
    let big = vec![7u8; 1400];
    for (h, dst, max) in [
        (h4, sa("10.0.0.2:9"), 1400 - 28),
        (h6, sa("[fd00::2]:9"), 1400 - 48),
    ] {
        assert_eq!(s.udp_max_payload(dst.ip()), max);
        assert_eq!(
            s.udp_send_to(h, &big[..max + 1], dst),
            Err(UdpError::TooLarge { max })
        );
        assert_eq!(s.udp_send_to(h, &big[..max], dst), Ok(max));
        let out = drain(&mut s, T0);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), 1400, "exactly one MTU-sized packet");
        let p = parse_udp_packet(&out[0], true).unwrap().unwrap();
        assert_eq!(p.payload, &big[..max]);
    }
    assert_eq!(s.stats().udp.too_large, 2);
}

#[test]
fn receive_queue_is_bounded_and_drops_are_counted() {
    let mut s = stack_with(
        Config {
            udp_recv_buffer: 10 * (100 + 64),
            ..Config::default()
        },
        &["10.0.0.1"],
    );
    let h = s.udp_bind(sa("10.0.0.1:9")).unwrap();
    for i in 0..15u8 {
        s.handle_packet(
            T0,
            &udp_packet(sa("10.0.0.2:4000"), sa("10.0.0.1:9"), &[i; 100]),
        );
    }
    assert_eq!(s.udp_recv_queue(h), 10);
    assert_eq!(s.stats().udp.queue_full, 5);
    assert_eq!(
        events(&mut s),
        vec![UdpEvent::Readable(h)],
        "one event per empty->non-empty"
    );
    // Reading makes room again; order is kept.
    let d = s.udp_recv_datagram(h).unwrap();
    assert_eq!(d.payload, vec![0u8; 100]);
    s.handle_packet(
        T0,
        &udp_packet(sa("10.0.0.2:4000"), sa("10.0.0.1:9"), &[99; 100]),
    );
    assert_eq!(s.udp_recv_queue(h), 10);
}

#[test]
fn send_queue_full_blocks_then_signals_writable() {
    let mut s = stack_with(
        Config {
            udp_send_buffer: 4 * (1000 + 64),
            ..Config::default()
        },
        &["10.0.0.1"],
    );
    let h = s.udp_bind(sa("10.0.0.1:9")).unwrap();
    let dst = sa("10.0.0.2:9");
    for _ in 0..4 {
        assert_eq!(s.udp_send_to(h, &[1; 1000], dst), Ok(1000));
    }
    assert!(!s.udp_send_ready(h, 1000));
    assert_eq!(s.udp_send_to(h, &[1; 1000], dst), Err(UdpError::WouldBlock));
    assert_eq!(drain(&mut s, T0).len(), 4);
    assert_eq!(events(&mut s), vec![UdpEvent::Writable(h)]);
    assert!(s.udp_send_ready(h, 1000));
}

#[test]
fn closed_port_gets_port_unreachable_v4_and_v6() {
    let mut s = stack(&["10.0.0.1", "fd00::1"]);
    for (from, to, ty, code) in [
        ("10.0.0.2:4000", "10.0.0.1:9", 3, 3),
        ("[fd00::2]:4000", "[fd00::1]:9", 1, 4),
    ] {
        let p = udp_packet(sa(from), sa(to), b"anyone?");
        s.handle_packet(T0, &p);
        let out = drain(&mut s, T0);
        assert_eq!(out.len(), 1);
        let (src, dst, t, c) = icmp_of(&out[0]);
        assert_eq!((src, dst, t, c), (sa(to).ip(), sa(from).ip(), ty, code));
        // The error quotes the datagram, starting with its IP header.
        let hl = if sa(to).is_ipv4() { 20 } else { 40 };
        assert_eq!(&out[0][hl + 8..], &p[..]);
    }
    assert_eq!(s.stats().udp.port_unreachable_sent, 2);
    assert_eq!(s.stats().udp.no_socket, 2);
}

#[test]
fn no_port_unreachable_for_broadcast_multicast_or_foreign_addresses() {
    let mut s = stack(&["10.0.0.1", "255.255.255.255", "224.0.0.251", "ff02::fb"]);
    for (from, to) in [
        ("10.0.0.2:4000", "255.255.255.255:9"),
        ("10.0.0.2:4000", "224.0.0.251:5353"),
        ("[fe80::2]:4000", "[ff02::fb]:5353"),
        ("0.0.0.0:68", "10.0.0.1:67"),
    ] {
        s.handle_packet(T0, &udp_packet(sa(from), sa(to), b"x"));
    }
    // A datagram for an address that is not ours is not ours to answer.
    s.handle_packet(T0, &udp_packet(sa("10.0.0.2:1"), sa("10.9.9.9:9"), b"x"));
    assert!(drain(&mut s, T0).is_empty());
    assert_eq!(s.stats().udp.icmp_suppressed, 4);
    assert_eq!(s.stats().udp.not_for_us, 1);
}

#[test]
fn port_unreachable_is_rate_limited_by_a_token_bucket() {
    let mut s = stack_with(
        Config {
            icmp_error_rate: 10,
            icmp_error_burst: 5,
            ..Config::default()
        },
        &["10.0.0.1"],
    );
    let probe = |s: &mut Stack, now: Instant, n: u16| -> usize {
        for p in 0..n {
            s.handle_packet(
                now,
                &udp_packet(
                    sa("10.0.0.2:4000"),
                    SocketAddr::new(ip("10.0.0.1"), 1000 + p),
                    b"x",
                ),
            );
        }
        drain(s, now).len()
    };
    assert_eq!(probe(&mut s, T0, 20), 5, "the burst");
    assert_eq!(probe(&mut s, T0 + Duration::from_millis(50), 20), 0);
    // 10 per second: one every 100 ms.
    assert_eq!(probe(&mut s, T0 + Duration::from_millis(350), 20), 3);
    assert_eq!(s.stats().udp.icmp_rate_limited, 15 + 20 + 17);
}

#[test]
fn zero_checksum_rules_on_input() {
    let mut s = stack(&["10.0.0.1", "fd00::1"]);
    let h4 = s.udp_bind(sa("10.0.0.1:9")).unwrap();
    let h6 = s.udp_bind(sa("[fd00::1]:9")).unwrap();
    let mut p4 = udp_packet(sa("10.0.0.2:1"), sa("10.0.0.1:9"), b"v4");
    p4[26..28].copy_from_slice(&[0, 0]);
    s.handle_packet(T0, &p4);
    assert_eq!(s.udp_recv_queue(h4), 1, "IPv4: zero means no checksum");
    let mut p6 = udp_packet(sa("[fd00::2]:1"), sa("[fd00::1]:9"), b"v6");
    p6[46..48].copy_from_slice(&[0, 0]);
    s.handle_packet(T0, &p6);
    assert_eq!(s.udp_recv_queue(h6), 0, "IPv6: zero is invalid");
    let mut bad = udp_packet(sa("10.0.0.2:1"), sa("10.0.0.1:9"), b"v4");
    bad[29] ^= 0xff;
    s.handle_packet(T0, &bad);
    let st = s.stats();
    assert_eq!((st.udp.bad_checksum, st.udp.zero_checksum_v6), (2, 1));
    assert_eq!(st.bad_checksum, 2);
    // Malformed lengths are dropped and counted, never a panic.
    let mut short = udp_packet(sa("10.0.0.2:1"), sa("10.0.0.1:9"), b"v4");
    short[24..26].copy_from_slice(&3u16.to_be_bytes());
    s.handle_packet(T0, &short);
    assert_eq!(s.stats().udp.malformed, 1);
    assert!(drain(&mut s, T0).is_empty());
}

#[test]
fn connected_socket_filters_by_peer() {
    let mut s = stack(&["10.0.0.1"]);
    let h = s.udp_bind(sa("10.0.0.1:9")).unwrap();
    s.udp_connect(h, sa("10.0.0.2:53")).unwrap();
    s.handle_packet(T0, &udp_packet(sa("10.0.0.2:53"), sa("10.0.0.1:9"), b"yes"));
    s.handle_packet(T0, &udp_packet(sa("10.0.0.3:53"), sa("10.0.0.1:9"), b"no"));
    assert_eq!(s.udp_recv_queue(h), 1);
    assert_eq!(s.udp_recv_datagram(h).unwrap().payload, b"yes");
    // As in Linux, the datagram from a stranger met no socket.
    let out = drain(&mut s, T0);
    assert_eq!(out.len(), 1);
    assert_eq!(icmp_of(&out[0]).1, ip("10.0.0.3"));
    assert_eq!(s.udp_send(h, b"q"), Ok(1));
    let out = drain(&mut s, T0);
    let p = parse_udp_packet(&out[0], true).unwrap().unwrap();
    assert_eq!(
        (p.ip.dst, p.udp.dst_port, p.udp.src_port),
        (ip("10.0.0.2"), 53, 9)
    );
}

#[test]
fn intercept_yields_original_destination_and_replies_as_it() {
    let mut s = stack(&["10.0.0.1"]);
    let bound = s.udp_bind(sa("10.0.0.1:9")).unwrap();
    let i = s.udp_intercept().unwrap();
    assert_eq!(s.udp_intercept(), Err(UdpError::AddrInUse));
    let client = sa("10.0.0.2:40000");
    for target in ["8.8.8.8:53", "[2001:db8::1]:443"] {
        let from = if target.starts_with('[') {
            sa("[fd00::2]:40000")
        } else {
            client
        };
        s.handle_packet(T0, &udp_packet(from, sa(target), b"query"));
        let d = s.udp_recv_datagram(i).unwrap();
        assert_eq!(
            (d.src, d.dst, d.payload.as_slice()),
            (from, sa(target), &b"query"[..])
        );
        s.udp_send_as(T0, i, sa(target), from, b"answer").unwrap();
        let out = drain(&mut s, T0);
        let p = parse_udp_packet(&out[0], true).unwrap().unwrap();
        assert_eq!(
            (
                SocketAddr::new(p.ip.src, p.udp.src_port),
                SocketAddr::new(p.ip.dst, p.udp.dst_port)
            ),
            (sa(target), from)
        );
        assert_eq!(p.payload, b"answer");
    }
    // Not intercepted: group destinations, invalid sources, port 0.
    for (from, to) in [
        ("10.0.0.2:5353", "224.0.0.251:5353"),
        ("10.0.0.2:68", "255.255.255.255:67"),
        ("[fe80::2]:5353", "[ff02::fb]:5353"),
        ("0.0.0.0:68", "8.8.8.8:53"),
        ("10.0.0.2:0", "8.8.8.8:53"),
        ("10.0.0.2:1", "8.8.8.8:0"),
    ] {
        s.handle_packet(T0, &udp_packet(sa(from), sa(to), b"x"));
    }
    assert_eq!(s.udp_recv_queue(i), 0);
    assert_eq!(s.stats().udp.not_for_us, 6);
    // A bound socket still takes its own datagrams.
    s.handle_packet(T0, &udp_packet(client, sa("10.0.0.1:9"), b"mine"));
    assert_eq!(s.udp_recv_queue(bound), 1);
    assert_eq!(s.udp_recv_queue(i), 0);
    assert_eq!(s.udp_flow_count(), 2);
    assert_eq!(
        s.udp_send_as(T0, bound, sa("8.8.8.8:53"), client, b"x"),
        Err(UdpError::NotIntercept)
    );
    // Closing the intercept forgets its flows.
    s.udp_close(i);
    assert_eq!(s.udp_flow_count(), 0);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn intercept_can_refuse_a_flow_with_port_unreachable() {
    let mut s = stack(&["10.0.0.1", "fd00::1"]);
    let i = s.udp_intercept().unwrap();
    for (client, target, ty, code) in [
        ("10.0.0.2:40000", "192.0.2.1:53", 3, 3),
        ("[fd00::2]:40000", "[2001:db8::1]:53", 1, 4),
    ] {
        let sent = udp_packet(sa(client), sa(target), b"query");
        s.handle_packet(T0, &sent);
        let d = s.udp_recv_datagram(i).unwrap();
        assert_eq!(s.udp_refuse(T0, i, d.src, d.dst, &d.payload), Ok(true));
        let out = drain(&mut s, T0);
        assert_eq!(out.len(), 1);
        assert_eq!(
            icmp_of(&out[0]),
            (sa(target).ip(), sa(client).ip(), ty, code)
        );
        // The quote is the client's datagram (TTL aside): the client's stack can
        // match it to its socket.
        let hl = if sa(client).is_ipv4() { 20 } else { 40 };
        let quote = IpRepr::parse(&out[0][hl + 8..]).unwrap().0;
        assert_eq!(
            (quote.src, quote.dst, quote.protocol),
            (sa(client).ip(), sa(target).ip(), 17)
        );
        assert_eq!(
            &out[0][hl + 8 + hl..],
            &sent[hl..],
            "UDP header and payload as sent"
        );
    }
    assert_eq!(s.udp_flow_count(), 0, "refused flows are forgotten");
    let b = s.udp_bind(sa("10.0.0.1:9")).unwrap();
    assert_eq!(
        s.udp_refuse(T0, b, sa("10.0.0.2:1"), sa("192.0.2.1:53"), b""),
        Err(UdpError::NotIntercept)
    );
}

#[test]
fn flows_time_out_unreplied_at_30s_and_replied_at_120s() {
    let mut s = stack(&["10.0.0.1"]);
    let i = s.udp_intercept().unwrap();
    let (quiet, talk) = (sa("10.0.0.2:1000"), sa("10.0.0.2:1001"));
    let target = sa("1.1.1.1:53");
    s.handle_packet(T0, &udp_packet(quiet, target, b"a"));
    s.handle_packet(T0, &udp_packet(talk, target, b"b"));
    s.udp_send_as(T0, i, target, talk, b"reply").unwrap();
    assert_eq!(s.poll_timeout(), Some(T0 + Duration::from_secs(30)));
    let t30 = T0 + Duration::from_secs(30);
    s.handle_timeout(t30);
    assert_eq!(s.udp_flow_count(), 1);
    let ev: Vec<_> = events(&mut s)
        .into_iter()
        .filter(|e| matches!(e, UdpEvent::FlowExpired { .. }))
        .collect();
    assert_eq!(
        ev,
        vec![UdpEvent::FlowExpired {
            handle: i,
            client: quiet,
            target
        }]
    );
    assert_eq!(s.poll_timeout(), Some(T0 + Duration::from_secs(120)));
    s.handle_timeout(T0 + Duration::from_secs(120));
    assert_eq!(s.udp_flow_count(), 0);
    assert_eq!(s.stats().udp.flows_expired, 2);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn a_port_scan_through_the_intercept_does_not_pin_memory() {
    let mut s = stack_with(
        Config {
            udp_max_flows: 50_000,
            ..Config::default()
        },
        &["10.0.0.1"],
    );
    let i = s.udp_intercept().unwrap();
    let idle = s.udp_flow_memory();
    let mut now = T0;
    // 60,000 destination ports over 10 s; the application reads every datagram.
    for port in 1..=60_000u32 {
        if port % 6000 == 0 {
            now += Duration::from_secs(1);
            s.handle_timeout(now);
        }
        let dst = SocketAddr::new(ip("192.0.2.7"), port as u16);
        s.handle_packet(now, &udp_packet(sa("10.0.0.2:5555"), dst, b"probe"));
        let _ = s.udp_recv_datagram(i);
    }
    assert_eq!(s.udp_flow_count(), 50_000, "bounded by udp_max_flows");
    assert_eq!(s.stats().udp.flows_table_full, 10_000);
    let peak = s.udp_flow_memory();
    assert!(peak > 50_000 * 40, "the table held the flows: {peak} bytes");
    // 30 s after the last probe, every flow is gone and the memory with them.
    let mut steps = 0;
    while let Some(t) = s.poll_timeout() {
        s.handle_timeout(t);
        steps += 1;
        assert!(steps < 100_000, "timeouts make progress");
    }
    assert_eq!(s.udp_flow_count(), 0);
    assert_eq!(
        s.udp_flow_memory(),
        idle,
        "flow memory back to idle (peak {peak})"
    );
    assert_eq!(s.stats().udp.flows_expired, 50_000);
    // New flows work after the scan.
    s.handle_packet(
        now,
        &udp_packet(sa("10.0.0.2:5555"), sa("192.0.2.7:53"), b"q"),
    );
    assert_eq!(s.udp_flow_count(), 1);
}

/// A million-datagram scan (16 addresses x 62,500 ports), one datagram per
/// millisecond: with the default 30 s timeout the table holds the last 30 s of the
/// scan and never more, whatever the scan's length.
#[test]
fn a_million_port_scan_holds_only_the_last_timeout_of_flows() {
    let mut s = stack(&["10.0.0.1"]);
    let i = s.udp_intercept().unwrap();
    let idle = s.udp_flow_memory();
    let mut now = T0;
    let (mut most, mut most_bytes) = (0, 0);
    let mut buf = [0u8; 16];
    for k in 0..1_000_000u32 {
        now += Duration::from_millis(1);
        if s.poll_timeout().is_some_and(|t| t <= now) {
            s.handle_timeout(now);
        }
        let dst = SocketAddr::from(([198, 18, 0, (k % 16) as u8], (k / 16 + 1) as u16));
        s.handle_packet(now, &udp_packet(sa("10.0.0.2:5555"), dst, b"probe"));
        s.udp_recv_from(i, &mut buf).unwrap();
        most = most.max(s.udp_flow_count());
        most_bytes = most_bytes.max(s.udp_flow_memory());
    }
    let st = s.stats().udp;
    assert_eq!(st.flows_created, 1_000_000);
    assert_eq!(st.flows_table_full, 0);
    // 30 s at 1,000 datagrams a second.
    assert!(
        (30_000..=30_001).contains(&most),
        "at most {most} flows at once"
    );
    println!(
        "peak: {most} flows in {most_bytes} bytes ({} bytes per flow)",
        most_bytes / most
    );
    // About 270 bytes a flow measured (packed keys, one heap entry each, the
    // tables' growth slack included): a bound of 400 catches a regression.
    assert!(
        most_bytes < most * 400,
        "flow memory peaked at {most_bytes} bytes"
    );
    while let Some(t) = s.poll_timeout() {
        s.handle_timeout(t);
    }
    assert_eq!(s.udp_flow_count(), 0);
    assert_eq!(s.stats().udp.flows_expired, 1_000_000);
    assert_eq!(s.udp_flow_memory(), idle, "all flow memory given back");
}

#[test]
fn echo_requests_to_our_addresses_are_answered() {
    let mut s = stack(&["10.0.0.1", "fd00::1"]);
    for (peer, us) in [("10.0.0.2", "10.0.0.1"), ("fd00::2", "fd00::1")] {
        s.handle_packet(T0, &echo_request(ip(peer), ip(us), 3, b"0123456789"));
        let out = drain(&mut s, T0);
        assert_eq!(out.len(), 1);
        let (ipr, body) = IpRepr::parse(&out[0]).unwrap();
        assert_eq!((ipr.src, ipr.dst), (ip(us), ip(peer)));
        let (e, data) = EchoRepr::parse(body, ipr.src, ipr.dst).unwrap();
        assert_eq!(
            (e.request, e.ident, e.seq_no, data),
            (false, 0x77, 3, &b"0123456789"[..])
        );
    }
    // Not for an address that is not ours, not for a reply, not when switched off.
    s.handle_packet(T0, &echo_request(ip("10.0.0.2"), ip("10.0.0.77"), 1, b""));
    assert!(drain(&mut s, T0).is_empty());
    let mut off = stack_with(
        Config {
            icmp_echo: false,
            ..Config::default()
        },
        &["10.0.0.1"],
    );
    off.handle_packet(T0, &echo_request(ip("10.0.0.2"), ip("10.0.0.1"), 1, b""));
    assert!(drain(&mut off, T0).is_empty());
    assert_eq!(s.stats().udp.echo_replies, 2);
    assert_eq!(s.stats().udp.echo_requests, 3);
}

#[test]
fn echo_for_intercepted_destinations_only_when_configured() {
    for on in [false, true] {
        let mut s = stack_with(
            Config {
                icmp_echo_intercepted: on,
                ..Config::default()
            },
            &["10.0.0.1"],
        );
        let _i = s.udp_intercept().unwrap();
        s.handle_packet(
            T0,
            &echo_request(ip("10.0.0.2"), ip("93.184.216.34"), 1, b"hi"),
        );
        let out = drain(&mut s, T0);
        assert_eq!(out.len(), usize::from(on));
        if on {
            assert_eq!(icmp_of(&out[0]).0, ip("93.184.216.34"));
        }
    }
}

/// The packet `s` sent for one datagram from `h` to `dst`.
fn sent_datagram(s: &mut Stack, h: synack_core::UdpHandle, dst: SocketAddr, len: usize) -> Vec<u8> {
    s.udp_send_to(h, &vec![5u8; len], dst).unwrap();
    let mut out = drain(s, T0);
    assert_eq!(out.len(), 1);
    out.remove(0)
}

fn icmp_error(kind: IcmpKind, from: IpAddr, to: IpAddr, quoted: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 1500];
    let n = IcmpRepr::emit_packet(kind, from, to, quoted, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn port_unreachable_refuses_a_connected_socket_once() {
    for (us, peer, code) in [
        ("10.0.0.1", "10.0.0.2:53", 3),
        ("fd00::1", "[fd00::2]:53", 4),
    ] {
        let mut s = stack(&[us]);
        let h = s.udp_bind(SocketAddr::new(ip(us), 0)).unwrap();
        s.udp_connect(h, sa(peer)).unwrap();
        let p = sent_datagram(&mut s, h, sa(peer), 10);
        let kind = IcmpKind::DestUnreachable { code, hard: true };
        s.handle_packet(T0, &icmp_error(kind, sa(peer).ip(), ip(us), &p));
        assert_eq!(events(&mut s), vec![UdpEvent::Readable(h)]);
        let mut buf = [0u8; 16];
        assert_eq!(s.udp_recv_from(h, &mut buf), Err(UdpError::Refused));
        assert_eq!(
            s.udp_recv_from(h, &mut buf),
            Err(UdpError::WouldBlock),
            "reported once"
        );
        // An unconnected socket is not told (Linux without IP_RECVERR).
        let u = s.udp_bind(SocketAddr::new(ip(us), 0)).unwrap();
        let p = sent_datagram(&mut s, u, sa(peer), 10);
        s.handle_packet(T0, &icmp_error(kind, sa(peer).ip(), ip(us), &p));
        assert_eq!(s.udp_take_error(u), None);
        assert_eq!(s.stats().udp.icmp_errors_applied, 1);
        assert_eq!(s.stats().udp.icmp_errors_ignored, 1);
    }
}

#[test]
fn packet_too_big_lowers_the_path_mtu_for_ten_minutes() {
    let mut s = stack(&["10.0.0.1", "fd00::1"]);
    for (us, peer, mtu, floor_ok) in [
        ("10.0.0.1", "192.0.2.9:4500", 1000usize, 1000 - 28),
        ("fd00::1", "[2001:db8::9]:4500", 1300, 1300 - 48),
    ] {
        let h = s.udp_bind(SocketAddr::new(ip(us), 0)).unwrap();
        let dst = sa(peer);
        let p = sent_datagram(&mut s, h, dst, 1400);
        let router = if dst.is_ipv4() {
            ip("10.0.0.254")
        } else {
            ip("fd00::fe")
        };
        let kind = IcmpKind::PacketTooBig { mtu: mtu as u32 };
        s.handle_packet(T0, &icmp_error(kind, router, ip(us), &p));
        assert_eq!(s.udp_max_payload(dst.ip()), floor_ok);
        assert_eq!(
            s.udp_send_to(h, &vec![0u8; floor_ok + 1], dst),
            Err(UdpError::TooLarge { max: floor_ok })
        );
        // Other destinations keep the link MTU.
        let other = if dst.is_ipv4() {
            ip("192.0.2.10")
        } else {
            ip("2001:db8::10")
        };
        assert_eq!(
            s.udp_max_payload(other),
            if dst.is_ipv4() { 1472 } else { 1452 }
        );
    }
    // RFC 1191 §6.3: after 10 minutes the link MTU is tried again.
    s.handle_timeout(T0 + Duration::from_secs(601));
    assert_eq!(s.udp_max_payload(ip("192.0.2.9")), 1472);
    assert_eq!(s.udp_max_payload(ip("2001:db8::9")), 1452);
}

mod robustness {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Damaged UDP and ICMP packets (any byte changed, cut anywhere) are dropped
        /// and counted, never a panic; whatever the stack sends in answer parses.
        #[test]
        fn damaged_udp_and_icmp_input_never_panics(
            v6 in any::<bool>(),
            icmp in any::<bool>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
            cut in any::<usize>(),
            intercept in any::<bool>(),
        ) {
            let mut s = stack(&["10.0.0.1", "fd00::1"]);
            let _b4 = s.udp_bind(sa("10.0.0.1:9")).unwrap();
            let _b6 = s.udp_bind(sa("[fd00::1]:9")).unwrap();
            if intercept {
                s.udp_intercept().unwrap();
            }
            let (peer, us) = if v6 { ("[fd00::2]:5000", "[fd00::1]:9") } else { ("10.0.0.2:5000", "10.0.0.1:9") };
            let mut p = if icmp {
                echo_request(sa(peer).ip(), sa(us).ip(), 1, &payload)
            } else {
                udp_packet(sa(peer), sa(us), &payload)
            };
            for (at, x) in flips {
                let i = at % p.len();
                p[i] ^= x;
            }
            p.truncate(cut % (p.len() + 1));
            s.handle_packet(T0, &p);
            s.handle_timeout(T0 + Duration::from_secs(200));
            for out in drain(&mut s, T0 + Duration::from_secs(200)) {
                prop_assert!(IpRepr::parse(&out).is_ok());
            }
        }
    }
}
