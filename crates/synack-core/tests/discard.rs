//! RFC 1122 §4.2.3.10 / §3.2.1.3: segments to or from broadcast, multicast or
//! unspecified addresses or port 0 are discarded unanswered and counted, by ordinary
//! listeners and by the any-destination intercept (`listen_any`), and `connect`
//! refuses such destinations.

mod common;
use common::*;
use synack_core::{ConnectError, Instant, Stack};

fn stack(intercept: bool) -> Stack {
    let mut s = Stack::new(quick_cfg(), [9; 16]);
    s.add_address(ip("10.0.0.2"));
    s.add_address(ip("fd00::2"));
    s.add_broadcast(ip("10.0.0.255"));
    if intercept {
        s.listen_any(0).unwrap();
    } else {
        s.listen(addr("10.0.0.2:80"), 0).unwrap();
        s.listen(addr("[fd00::2]:80"), 0).unwrap();
    }
    s
}

fn syn(s: &mut Stack, src: &str, dst: &str) -> Vec<Seg> {
    let now = Instant::from_secs(1);
    let mut t = tcp(SYN, 1000, 0, 65535);
    t.options = syn_opts(1460);
    s.handle_packet(now, &packet(addr(src), addr(dst), t, &[]));
    drain(s, now)
}

#[test]
fn intercept_discards_syns_to_and_from_non_unicast() {
    let mut s = stack(true);
    let cases = [
        ("10.0.0.1:4000", "255.255.255.255:80"),
        ("10.0.0.1:4000", "10.0.0.255:80"),
        ("10.0.0.1:4000", "224.0.0.1:80"),
        ("10.0.0.1:4000", "0.0.0.0:80"),
        ("10.0.0.1:4000", "192.0.2.7:0"),
        ("255.255.255.255:4000", "192.0.2.7:80"),
        ("224.0.0.9:4000", "192.0.2.7:80"),
        ("0.0.0.0:4000", "192.0.2.7:80"),
        ("10.0.0.255:4000", "192.0.2.7:80"),
        ("10.0.0.1:0", "192.0.2.7:80"),
        ("[fd00::1]:4000", "[ff02::1]:80"),
        ("[ff02::1]:4000", "[2001:db8::7]:80"),
        ("[::]:4000", "[2001:db8::7]:80"),
    ];
    for (i, (src, dst)) in cases.iter().enumerate() {
        none(&syn(&mut s, src, dst));
        assert_eq!(s.stats().bad_address, i as u64 + 1, "{src} -> {dst}");
    }
    assert_eq!(s.connection_count(), 0);
    // A unicast SYN to any destination is still intercepted and answered.
    let out = syn(&mut s, "10.0.0.1:4000", "192.0.2.7:80");
    assert_eq!(out.len(), 1);
    assert!(out[0].is(SYN | ACK));
    assert_eq!(s.stats().bad_address, cases.len() as u64);
}

#[test]
fn listener_discards_syns_from_non_unicast_sources() {
    let mut s = stack(false);
    for (i, src) in [
        "255.255.255.255:4000",
        "10.0.0.255:4000",
        "224.0.0.9:4000",
        "0.0.0.0:4000",
        "10.0.0.1:0",
        "[ff02::1]:4000",
    ]
    .iter()
    .enumerate()
    {
        let dst = if src.starts_with('[') {
            "[fd00::2]:80"
        } else {
            "10.0.0.2:80"
        };
        none(&syn(&mut s, src, dst));
        assert_eq!(s.stats().bad_address, i as u64 + 1, "{src}");
    }
    // Port 0 on our own address: no listener could take it, and no RST either.
    none(&syn(&mut s, "10.0.0.1:4000", "10.0.0.2:0"));
    assert_eq!(s.stats().bad_address, 7);
    assert_eq!(s.connection_count(), 0);
    let out = syn(&mut s, "10.0.0.1:4000", "10.0.0.2:80");
    assert!(out.len() == 1 && out[0].is(SYN | ACK));
}

#[test]
fn no_rst_to_non_unicast_for_unmatched_segments() {
    // No listener on port 81: a unicast segment gets a RST, the others nothing.
    let mut s = stack(false);
    let now = Instant::from_secs(1);
    let ack = tcp(ACK, 1, 1, 100);
    s.handle_packet(
        now,
        &packet(addr("224.0.0.9:4000"), addr("10.0.0.2:81"), ack, &[]),
    );
    none(&drain(&mut s, now));
    s.handle_packet(
        now,
        &packet(addr("10.0.0.1:4000"), addr("10.0.0.2:81"), ack, &[]),
    );
    assert!(drain(&mut s, now)[0].is(RST));
    assert_eq!(s.stats().bad_address, 1);
}

#[test]
fn connect_refuses_non_unicast_destinations() {
    let mut s = stack(false);
    let now = Instant::from_secs(1);
    for bad in [
        "255.255.255.255:80",
        "10.0.0.255:80",
        "224.0.0.1:80",
        "0.0.0.0:80",
        "10.0.0.1:0",
        "[ff02::1]:80",
    ] {
        assert_eq!(
            s.connect(now, addr(bad), None),
            Err(ConnectError::BadAddress),
            "{bad}"
        );
    }
    assert!(s.connect(now, addr("10.0.0.1:80"), None).is_ok());
}
