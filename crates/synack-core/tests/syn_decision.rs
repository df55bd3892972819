//! The decision at SYN time for intercepted connections (stack/decide.rs): nothing
//! answers a held SYN until the application decides; accept, refuse, drop and
//! unreachable each send exactly what they promise; no decision in time is a drop;
//! retransmitted SYNs join the request and an RST withdraws it. Also the raw-packet
//! hook (stack/raw.rs): unhandled packets kept on request, injected packets sent.

mod common;
use common::*;
use synack_core::{DecideError, Event, Instant, Stack, State, SynDecision};
use synack_wire::{IcmpKind, IcmpRepr, IpRepr, PROTO_TCP};

const CLIENT: &str = "10.0.0.1:40000";
const TARGET: &str = "192.0.2.7:443";

fn stack() -> Stack {
    let mut s = Stack::new(quick_cfg(), [3; 16]);
    s.add_address(ip("10.0.0.2"));
    s.listen_any(0).unwrap();
    s.set_syn_decisions(Some(secs(2)));
    s
}

fn syn_at(s: &mut Stack, now: Instant, seq: u32) {
    let mut t = tcp(SYN, seq, 0, 65535);
    t.options = syn_opts(1460);
    s.handle_packet(now, &packet(addr(CLIENT), addr(TARGET), t, &[]));
}

fn raw_out(s: &mut Stack, now: Instant) -> Vec<Vec<u8>> {
    let mut buf = vec![0u8; 70000];
    let mut out = Vec::new();
    while let Some(t) = s.poll_transmit(now, &mut buf) {
        out.push(buf[..t.len].to_vec());
    }
    out
}

#[test]
fn a_held_syn_gets_no_answer_until_accepted() {
    let mut s = stack();
    let t0 = Instant::from_secs(1);
    syn_at(&mut s, t0, 1000);
    none(&drain(&mut s, t0));
    let req = s.poll_syn_request().expect("a request");
    assert_eq!((req.client, req.target), (addr(CLIENT), addr(TARGET)));
    assert_eq!(s.poll_syn_request(), None, "one request per SYN");
    // A retransmission joins it: still no answer and no second request.
    syn_at(&mut s, t0 + ms(1000), 1000);
    none(&drain(&mut s, t0 + ms(1000)));
    assert_eq!(s.poll_syn_request(), None);
    assert_eq!(s.syn_requests_held(), 1);

    let now = t0 + ms(1500);
    let h = s
        .decide_syn(now, &req, SynDecision::Accept)
        .unwrap()
        .expect("a connection");
    let out = drain(&mut s, now);
    let synack = one(&out, SYN | ACK, out[0].seq(), 1001);
    assert_eq!((synack.src, synack.dst), (addr(TARGET), addr(CLIENT)));
    assert_eq!(s.info(h).unwrap().state, State::SynReceived);
    // The final ACK completes it: the application hears Connected, as after connect.
    s.handle_packet(
        now,
        &packet(
            addr(CLIENT),
            addr(TARGET),
            tcp(ACK, 1001, synack.seq() + 1, 65535),
            &[],
        ),
    );
    let ev = events(&mut s);
    assert!(ev.contains(&Event::Connected(h)), "{ev:?}");
    assert_eq!(s.info(h).unwrap().state, State::Established);
    assert_eq!(s.local_addr(h), Some(addr(TARGET)));
    // Answered once only.
    assert_eq!(
        s.decide_syn(now, &req, SynDecision::Accept),
        Err(DecideError::Unknown)
    );
}

#[test]
fn refuse_sends_the_rst_of_a_closed_port() {
    let mut s = stack();
    let now = Instant::from_secs(1);
    syn_at(&mut s, now, 5000);
    let req = s.poll_syn_request().unwrap();
    assert_eq!(s.decide_syn(now, &req, SynDecision::Refuse), Ok(None));
    // RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, from the target.
    let rst = one(&drain(&mut s, now), RST | ACK, 0, 5001);
    assert_eq!((rst.src, rst.dst), (addr(TARGET), addr(CLIENT)));
    assert_eq!(s.syn_requests_held(), 0);
}

#[test]
fn drop_and_timeout_answer_nothing_and_free_the_request() {
    let mut s = stack();
    let t0 = Instant::from_secs(1);
    syn_at(&mut s, t0, 1);
    let req = s.poll_syn_request().unwrap();
    assert_eq!(s.decide_syn(t0, &req, SynDecision::Drop), Ok(None));
    none(&drain(&mut s, t0));
    assert_eq!(s.syn_requests_held(), 0);

    // No decision: the deadline is the stack's timeout, then the SYN is dropped.
    syn_at(&mut s, t0, 2);
    let req = s.poll_syn_request().unwrap();
    assert_eq!(s.poll_timeout(), Some(t0 + secs(2)));
    s.handle_timeout(t0 + ms(1999));
    assert_eq!(s.syn_requests_held(), 1);
    s.handle_timeout(t0 + secs(2));
    assert_eq!(s.syn_requests_held(), 0);
    assert_eq!(s.syn_requests_timed_out(), 1);
    assert_eq!(s.poll_timeout(), None, "nothing left to wake for");
    none(&drain(&mut s, t0 + secs(2)));
    assert_eq!(
        s.decide_syn(t0 + secs(2), &req, SynDecision::Accept),
        Err(DecideError::Unknown),
        "too late"
    );
    // The client's next SYN is a new request.
    syn_at(&mut s, t0 + secs(3), 2);
    assert!(s.poll_syn_request().is_some_and(|r| r.id != req.id));
}

#[test]
fn unreachable_sends_icmp_host_unreachable_quoting_the_syn() {
    let mut s = stack();
    let now = Instant::from_secs(1);
    syn_at(&mut s, now, 777);
    let req = s.poll_syn_request().unwrap();
    assert_eq!(s.decide_syn(now, &req, SynDecision::Unreachable), Ok(None));
    let out = raw_out(&mut s, now);
    assert_eq!(out.len(), 1);
    let (ip, body) = IpRepr::parse(&out[0]).unwrap();
    assert_eq!((ip.src, ip.dst), (addr(TARGET).ip(), addr(CLIENT).ip()));
    let icmp = IcmpRepr::parse_quoting(body, ip.src, ip.dst, PROTO_TCP).unwrap();
    assert_eq!(
        icmp.kind,
        IcmpKind::DestUnreachable {
            code: 1,
            hard: false
        }
    );
    assert_eq!((icmp.src_port, icmp.dst_port, icmp.seq), (40000, 443, 777));
}

#[test]
fn an_rst_withdraws_the_request() {
    let mut s = stack();
    let now = Instant::from_secs(1);
    syn_at(&mut s, now, 10);
    s.handle_packet(
        now,
        &packet(addr(CLIENT), addr(TARGET), tcp(RST, 11, 0, 0), &[]),
    );
    assert_eq!(s.syn_requests_held(), 0);
    assert_eq!(s.poll_syn_request(), None, "withdrawn before it was polled");
    none(&drain(&mut s, now));
}

#[test]
fn own_listeners_and_a_stack_without_decisions_answer_at_once() {
    let mut s = stack();
    s.listen(addr("10.0.0.2:80"), 0).unwrap();
    let now = Instant::from_secs(1);
    let mut t = tcp(SYN, 1, 0, 65535);
    t.options = syn_opts(1460);
    s.handle_packet(now, &packet(addr(CLIENT), addr("10.0.0.2:80"), t, &[]));
    let out = drain(&mut s, now);
    one(&out, SYN | ACK, out[0].seq(), 2);
    assert_eq!(s.poll_syn_request(), None);

    s.set_syn_decisions(None);
    syn_at(&mut s, now, 1000);
    assert_eq!(drain(&mut s, now).len(), 1, "a SYN-ACK at once");
}

#[test]
fn closing_the_intercept_forgets_held_syns_and_decisions() {
    let mut s = Stack::new(quick_cfg(), [3; 16]);
    s.add_address(ip("10.0.0.2"));
    let l = s.listen_any(0).unwrap();
    s.set_syn_decisions(Some(secs(2)));
    let now = Instant::from_secs(1);
    syn_at(&mut s, now, 1);
    let req = s.poll_syn_request().unwrap();
    s.close_listener(now, l);
    assert_eq!(s.syn_requests_held(), 0);
    assert_eq!(
        s.decide_syn(now, &req, SynDecision::Accept),
        Err(DecideError::Unknown)
    );
    // A new intercept answers at once until it asks for decisions.
    s.listen_any(0).unwrap();
    syn_at(&mut s, now, 1);
    assert_eq!(drain(&mut s, now).len(), 1, "a SYN-ACK at once");
}

#[test]
fn the_backlog_bounds_held_syns() {
    let mut cfg = quick_cfg();
    cfg.syn_backlog = 4;
    let mut s = Stack::new(cfg, [3; 16]);
    s.add_address(ip("10.0.0.2"));
    s.listen_any(0).unwrap();
    s.set_syn_decisions(Some(secs(2)));
    let now = Instant::from_secs(1);
    for port in 0..10u16 {
        let mut t = tcp(SYN, 1, 0, 65535);
        t.options = syn_opts(1460);
        let src = std::net::SocketAddr::new(ip("10.0.0.1"), 30000 + port);
        s.handle_packet(now, &packet(src, addr(TARGET), t, &[]));
    }
    assert_eq!(s.syn_requests_held(), 4);
    assert_eq!(s.stats().listen_overflows, 6);
}

#[test]
fn unhandled_packets_are_kept_on_request_and_injected_ones_sent() {
    let mut s = stack();
    let now = Instant::from_secs(1);
    // An IP packet of protocol 47 (GRE) to somebody else.
    let gre = |n: u8| {
        let ip = IpRepr {
            src: ip("10.0.0.1"),
            dst: ip("192.0.2.9"),
            protocol: 47,
            ttl: 64,
            payload_len: 4,
        };
        let mut b = vec![n; ip.header_len() + 4];
        ip.emit(&mut b).unwrap();
        b
    };
    s.handle_packet(now, &gre(1));
    assert_eq!(s.poll_unhandled(), None, "kept only on request");
    assert_eq!(s.stats().not_for_us, 1);
    s.set_unhandled_queue(2);
    for n in 2..5 {
        s.handle_packet(now, &gre(n));
    }
    assert_eq!(s.poll_unhandled(), Some(gre(2)));
    assert_eq!(s.poll_unhandled(), Some(gre(3)));
    assert_eq!(s.poll_unhandled(), None);
    assert_eq!(s.unhandled_dropped(), 1);

    assert!(s.inject(&gre(9)));
    assert_eq!(raw_out(&mut s, now), vec![gre(9)]);
    assert!(!s.inject(&vec![0u8; s.max_packet_size() + 1]));
}
