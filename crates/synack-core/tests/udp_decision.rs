//! The decision on an intercepted UDP flow's first datagram (issue 15 item 3,
//! stack/udp_decide.rs): held until accepted (then delivered, with what came
//! meanwhile), refused (ICMP port unreachable, and again for the flow's later
//! datagrams until it is idle), dropped, or timed out; the held flows and bytes are
//! bounded. Deterministic: every `now` is passed in.

use std::net::{IpAddr, SocketAddr};
use synack_core::{
    Config, DecideError, Duration, Instant, Stack, UdpFlowDecision, UdpHandle, UDP_HELD_FLOWS,
};
use synack_wire::{emit_udp_packet, IpRepr, UdpRepr, PROTO_UDP};

const T0: Instant = Instant::from_millis(1000);
const WAIT: Duration = Duration::from_secs(5);

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A stack owning 10.0.0.1 and fd00::1 with the intercept open and decisions on.
fn tunnel(cfg: Config) -> (Stack, UdpHandle) {
    let mut s = Stack::new(cfg, [9; 16]);
    s.add_address("10.0.0.1".parse().unwrap());
    s.add_address("fd00::1".parse().unwrap());
    let i = s.udp_intercept().unwrap();
    s.set_udp_flow_decisions(Some(WAIT));
    (s, i)
}

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

fn drain(s: &mut Stack, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; s.max_packet_size()];
    while let Some(t) = s.poll_transmit(now, &mut buf) {
        out.push(buf[..t.len].to_vec());
    }
    out
}

/// (source, destination, type, code) of an ICMP packet.
fn icmp_of(p: &[u8]) -> (IpAddr, IpAddr, u8, u8) {
    let (ipr, body) = IpRepr::parse(p).unwrap();
    assert!(ipr.protocol == 1 || ipr.protocol == 58, "not ICMP: {ipr:?}");
    (ipr.src, ipr.dst, body[0], body[1])
}

fn payloads(s: &mut Stack, i: UdpHandle) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| s.udp_recv_datagram(i).ok())
        .map(|d| d.payload)
        .collect()
}

#[test]
fn accept_delivers_the_held_datagrams_then_the_flow_flows() {
    let (mut s, i) = tunnel(Config::default());
    for (client, target) in [
        ("10.0.0.2:40000", "192.0.2.1:53"),
        ("[fd00::2]:40000", "[2001:db8::1]:53"),
    ] {
        let (c, t) = (sa(client), sa(target));
        s.handle_packet(T0, &udp_packet(c, t, b"one"));
        s.handle_packet(T0, &udp_packet(c, t, b"two"));
        assert!(payloads(&mut s, i).is_empty(), "nothing before the answer");
        assert!(
            drain(&mut s, T0).is_empty(),
            "nothing sent before the answer"
        );
        assert!(s.has_udp_flow_requests());
        let req = s.poll_udp_flow_request().unwrap();
        assert_eq!((req.client, req.target), (c, t));
        assert!(s.poll_udp_flow_request().is_none(), "one request per flow");
        let flows = s.udp_flow_count();
        s.decide_udp_flow(T0, &req, UdpFlowDecision::Accept)
            .unwrap();
        assert_eq!(s.udp_flow_count(), flows + 1);
        assert_eq!(payloads(&mut s, i), [b"one".to_vec(), b"two".to_vec()]);
        // Later datagrams go straight to the intercept, with no new request.
        s.handle_packet(T0, &udp_packet(c, t, b"three"));
        assert_eq!(payloads(&mut s, i), [b"three".to_vec()]);
        assert!(s.poll_udp_flow_request().is_none());
        assert_eq!(
            s.decide_udp_flow(T0, &req, UdpFlowDecision::Accept),
            Err(DecideError::Unknown),
            "answered already"
        );
    }
    let st = s.udp_flow_decision_stats();
    assert_eq!((st.requests, st.accepted), (2, 2));
}

#[test]
fn refuse_answers_port_unreachable_and_keeps_refusing_until_idle() {
    let (mut s, i) = tunnel(Config::default());
    let (c, t) = (sa("10.0.0.2:40000"), sa("192.0.2.1:53"));
    s.handle_packet(T0, &udp_packet(c, t, b"query"));
    let req = s.poll_udp_flow_request().unwrap();
    s.decide_udp_flow(T0, &req, UdpFlowDecision::Refuse)
        .unwrap();
    let out = drain(&mut s, T0);
    assert_eq!(out.len(), 1);
    assert_eq!(icmp_of(&out[0]), (t.ip(), c.ip(), 3, 3));
    assert_eq!(s.udp_flows_refused(), 1);
    // A later datagram of the flow: refused again, no new request, nothing delivered.
    let t1 = T0 + Duration::from_secs(20);
    s.handle_packet(t1, &udp_packet(c, t, b"again"));
    assert!(s.poll_udp_flow_request().is_none());
    assert!(payloads(&mut s, i).is_empty());
    let out = drain(&mut s, t1);
    assert_eq!(out.len(), 1);
    assert_eq!(icmp_of(&out[0]), (t.ip(), c.ip(), 3, 3));
    // Idle for the flow timeout (30 s) since the last datagram: forgotten, and the
    // next datagram asks again.
    let idle = Config::default().udp_flow_timeout;
    let deadline = s.poll_timeout().unwrap();
    assert!(
        deadline <= t1 + idle,
        "the refused flow's expiry is a deadline"
    );
    s.handle_timeout(t1 + idle - Duration::from_millis(1));
    assert_eq!(s.udp_flows_refused(), 1, "refreshed by the second datagram");
    s.handle_timeout(t1 + idle);
    assert_eq!(s.udp_flows_refused(), 0);
    s.handle_packet(t1 + idle, &udp_packet(c, t, b"later"));
    assert!(s.poll_udp_flow_request().is_some());
    let st = s.udp_flow_decision_stats();
    assert_eq!((st.refused, st.refused_datagrams), (1, 1));
}

#[test]
fn refusals_share_the_icmp_rate_limit() {
    let cfg = Config {
        icmp_error_rate: 1,
        icmp_error_burst: 2,
        ..Config::default()
    };
    let (mut s, _) = tunnel(cfg);
    let (c, t) = (sa("[fd00::2]:40000"), sa("[2001:db8::1]:443"));
    s.handle_packet(T0, &udp_packet(c, t, b"q"));
    let req = s.poll_udp_flow_request().unwrap();
    s.decide_udp_flow(T0, &req, UdpFlowDecision::Refuse)
        .unwrap();
    for _ in 0..5 {
        s.handle_packet(T0, &udp_packet(c, t, b"q"));
    }
    let out = drain(&mut s, T0);
    assert_eq!(out.len(), 2, "the burst of two, then the limit");
    assert!(out.iter().all(|p| icmp_of(p) == (t.ip(), c.ip(), 1, 4)));
    assert_eq!(s.stats().udp.icmp_rate_limited, 4);
}

#[test]
fn drop_and_timeout_send_nothing_and_the_next_datagram_asks_again() {
    let (mut s, i) = tunnel(Config::default());
    let (c, t) = (sa("10.0.0.2:40000"), sa("192.0.2.1:9999"));
    s.handle_packet(T0, &udp_packet(c, t, b"a"));
    let req = s.poll_udp_flow_request().unwrap();
    s.decide_udp_flow(T0, &req, UdpFlowDecision::Drop).unwrap();
    assert!(drain(&mut s, T0).is_empty());
    assert!(payloads(&mut s, i).is_empty());
    // Asks again; this time nobody answers.
    s.handle_packet(T0, &udp_packet(c, t, b"b"));
    let req = s.poll_udp_flow_request().unwrap();
    assert_eq!(s.poll_timeout(), Some(T0 + WAIT));
    s.handle_timeout(T0 + WAIT - Duration::from_millis(1));
    assert_eq!(s.udp_flow_requests_held(), 1);
    s.handle_timeout(T0 + WAIT);
    assert_eq!(s.udp_flow_requests_held(), 0);
    assert_eq!(
        s.decide_udp_flow(T0 + WAIT, &req, UdpFlowDecision::Accept),
        Err(DecideError::Unknown),
        "too late"
    );
    assert!(drain(&mut s, T0 + WAIT).is_empty());
    assert!(payloads(&mut s, i).is_empty());
    let st = s.udp_flow_decision_stats();
    assert_eq!((st.requests, st.dropped, st.timed_out), (2, 1, 1));
    assert_eq!(s.poll_timeout(), None, "nothing left to time");
}

#[test]
fn held_flows_and_bytes_are_bounded() {
    // The default buffer (212,992 bytes) holds more than UDP_HELD_FLOWS small ones.
    let (mut s, _) = tunnel(Config::default());
    let t = sa("192.0.2.1:53");
    // More new flows than may wait: the rest are dropped and counted.
    for p in 0..(UDP_HELD_FLOWS + 10) as u16 {
        let c = SocketAddr::from(([10, 0, 0, 2], 1000 + p));
        s.handle_packet(T0, &udp_packet(c, t, b"x"));
    }
    assert_eq!(s.udp_flow_requests_held(), UDP_HELD_FLOWS);
    assert_eq!(s.udp_flow_decision_stats().held_flows_full, 10);
    // One flow's datagrams before the answer fill the held buffer, no more.
    let (mut s, i2) = tunnel(Config {
        udp_recv_buffer: 4 * (1000 + 64),
        ..Config::default()
    });
    let c = sa("10.0.0.2:40000");
    for _ in 0..10 {
        s.handle_packet(T0, &udp_packet(c, t, &[7u8; 1000]));
    }
    assert_eq!(s.udp_flow_decision_stats().held_bytes_full, 6);
    let req = s.poll_udp_flow_request().unwrap();
    s.decide_udp_flow(T0, &req, UdpFlowDecision::Accept)
        .unwrap();
    assert_eq!(payloads(&mut s, i2).len(), 4, "the four held datagrams");
}

#[test]
fn accepting_past_the_flow_table_cap_is_full() {
    let (mut s, _) = tunnel(Config {
        udp_max_flows: 1,
        ..Config::default()
    });
    let t = sa("192.0.2.1:53");
    let (a, b) = (sa("10.0.0.2:1000"), sa("10.0.0.2:1001"));
    s.handle_packet(T0, &udp_packet(a, t, b"a"));
    s.handle_packet(T0, &udp_packet(b, t, b"b"));
    let ra = s.poll_udp_flow_request().unwrap();
    let rb = s.poll_udp_flow_request().unwrap();
    s.decide_udp_flow(T0, &ra, UdpFlowDecision::Accept).unwrap();
    assert_eq!(
        s.decide_udp_flow(T0, &rb, UdpFlowDecision::Accept),
        Err(DecideError::Full)
    );
    assert_eq!(s.udp_flow_count(), 1);
}

#[test]
fn closing_the_intercept_or_turning_decisions_off_forgets_what_is_held() {
    let (mut s, i) = tunnel(Config::default());
    let (c, t) = (sa("10.0.0.2:40000"), sa("192.0.2.1:53"));
    s.handle_packet(T0, &udp_packet(c, t, b"a"));
    let req = s.poll_udp_flow_request().unwrap();
    s.udp_close(i);
    assert_eq!(s.udp_flow_requests_held(), 0);
    assert_eq!(
        s.decide_udp_flow(T0, &req, UdpFlowDecision::Accept),
        Err(DecideError::Unknown)
    );
    // Off: a new flow is delivered at once, as without decisions.
    let i = s.udp_intercept().unwrap();
    s.set_udp_flow_decisions(None);
    s.handle_packet(T0, &udp_packet(c, t, b"b"));
    assert!(s.poll_udp_flow_request().is_none());
    assert_eq!(payloads(&mut s, i), [b"b".to_vec()]);
}

#[test]
fn datagrams_to_our_own_sockets_are_not_held() {
    let (mut s, _) = tunnel(Config::default());
    let b = s.udp_bind(sa("10.0.0.1:5000")).unwrap();
    s.handle_packet(
        T0,
        &udp_packet(sa("10.0.0.2:1"), sa("10.0.0.1:5000"), b"mine"),
    );
    assert!(s.poll_udp_flow_request().is_none());
    assert_eq!(payloads(&mut s, b), [b"mine".to_vec()]);
}
