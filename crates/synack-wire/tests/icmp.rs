//! ICMPv4 / ICMPv6 error tests: hand-built messages (reference checksums) parsed into
//! the right kind, hard/soft classification, non-errors and errors about other
//! protocols classified as `Packet::Other`, malformed messages rejected, and
//! `emit_packet` round trips.

mod common;

use common::*;
use std::net::{IpAddr, Ipv6Addr};
use synack_wire::icmp::{IcmpKind, IcmpRepr};
use synack_wire::{parse_packet, Error, Packet};

const US4: [u8; 4] = [10, 0, 0, 2];
const PEER4: [u8; 4] = [203, 0, 113, 9];
const ROUTER4: [u8; 4] = [10, 0, 0, 1];

fn v6(s: &str) -> [u8; 16] {
    s.parse::<Ipv6Addr>().unwrap().octets()
}

/// The segment we "sent": IPv4 + TCP header (ports 5555 -> 80, seq 0xabcdef01).
fn quoted_v4(proto: u8) -> Vec<u8> {
    let tcp = tcp_segment(
        IpAddr::V4(US4.into()),
        IpAddr::V4(PEER4.into()),
        (5555, 80),
        0xabcd_ef01,
        0,
        0x02,
        100,
        &[],
        &[0u8; 100],
    );
    let mut p = ipv4_header(US4, PEER4, proto, 64, tcp.len());
    p.extend_from_slice(&tcp);
    p
}

fn icmp4(ty: u8, code: u8, word: [u8; 4], quoted: &[u8]) -> Vec<u8> {
    let mut body = vec![ty, code, 0, 0];
    body.extend_from_slice(&word);
    body.extend_from_slice(quoted);
    let c = ref_checksum(&[&body]);
    body[2..4].copy_from_slice(&c.to_be_bytes());
    let mut p = ipv4_header(ROUTER4, US4, 1, 60, body.len());
    p.extend_from_slice(&body);
    p
}

fn icmp6(ty: u8, code: u8, word: [u8; 4], quoted: &[u8]) -> Vec<u8> {
    let (src, dst) = (v6("fd00::1"), v6("fd00::2"));
    let mut body = vec![ty, code, 0, 0];
    body.extend_from_slice(&word);
    body.extend_from_slice(quoted);
    let ph = pseudo(
        IpAddr::V6(src.into()),
        IpAddr::V6(dst.into()),
        58,
        body.len(),
    );
    let c = ref_checksum(&[&ph, &body]);
    body[2..4].copy_from_slice(&c.to_be_bytes());
    let mut p = ipv6_header(src, dst, 58, 60, body.len());
    p.extend_from_slice(&body);
    p
}

fn quoted_v6(next: u8) -> Vec<u8> {
    let (us, peer) = (v6("fd00::2"), v6("2001:db8::80"));
    let tcp = tcp_segment(
        IpAddr::V6(us.into()),
        IpAddr::V6(peer.into()),
        (5555, 80),
        0xabcd_ef01,
        0,
        0x02,
        100,
        &[],
        &[],
    );
    let mut p = ipv6_header(us, peer, next, 64, tcp.len());
    p.extend_from_slice(&tcp);
    p
}

fn expect_icmp(bytes: &[u8]) -> IcmpRepr {
    match parse_packet(bytes, true) {
        Ok(Packet::Icmp { icmp, .. }) => icmp,
        other => panic!("expected ICMP, got {other:?}"),
    }
}

#[test]
fn v4_dest_unreachable_codes() {
    let q = quoted_v4(6);
    for code in 0..=15u8 {
        if code == 4 {
            continue;
        }
        // RFC 792 only requires the IP header + 8 bytes; quote exactly that.
        let icmp = expect_icmp(&icmp4(3, code, [0; 4], &q[..28]));
        let hard = matches!(code, 2 | 3 | 9 | 10 | 13);
        assert_eq!(icmp.kind, IcmpKind::DestUnreachable { code, hard });
        assert_eq!(icmp.quoted_src, IpAddr::V4(US4.into()));
        assert_eq!(icmp.quoted_dst, IpAddr::V4(PEER4.into()));
        assert_eq!(
            (icmp.src_port, icmp.dst_port, icmp.seq),
            (5555, 80, 0xabcd_ef01)
        );
    }
}

#[test]
fn v4_frag_needed_and_time_exceeded() {
    let q = quoted_v4(6);
    let icmp = expect_icmp(&icmp4(3, 4, [0, 0, 0x05, 0xdc], &q));
    assert_eq!(icmp.kind, IcmpKind::PacketTooBig { mtu: 1500 });
    let icmp = expect_icmp(&icmp4(11, 0, [0; 4], &q[..40]));
    assert_eq!(icmp.kind, IcmpKind::TimeExceeded);
    assert_eq!(icmp.seq, 0xabcd_ef01);
}

#[test]
fn v6_errors() {
    let q = quoted_v6(6);
    for code in 0..=6u8 {
        let icmp = expect_icmp(&icmp6(1, code, [0; 4], &q));
        let hard = matches!(code, 1 | 4);
        assert_eq!(icmp.kind, IcmpKind::DestUnreachable { code, hard });
        assert_eq!(icmp.quoted_src, IpAddr::V6(v6("fd00::2").into()));
        assert_eq!(icmp.quoted_dst, IpAddr::V6(v6("2001:db8::80").into()));
    }
    let icmp = expect_icmp(&icmp6(2, 0, 1280u32.to_be_bytes(), &q[..48]));
    assert_eq!(icmp.kind, IcmpKind::PacketTooBig { mtu: 1280 });
    assert_eq!(
        (icmp.src_port, icmp.dst_port, icmp.seq),
        (5555, 80, 0xabcd_ef01)
    );
    let icmp = expect_icmp(&icmp6(3, 1, [0; 4], &q));
    assert_eq!(icmp.kind, IcmpKind::TimeExceeded);
}

#[test]
fn non_tcp_or_non_error_is_other() {
    // Echo request, v4 and v6.
    assert!(matches!(
        parse_packet(&icmp4(8, 0, [0, 1, 0, 1], b"ping"), true),
        Ok(Packet::Other { .. })
    ));
    assert!(matches!(
        parse_packet(&icmp6(128, 0, [0, 1, 0, 1], b"ping"), true),
        Ok(Packet::Other { .. })
    ));
    // Errors quoting UDP.
    assert!(matches!(
        parse_packet(&icmp4(3, 3, [0; 4], &quoted_v4(17)), true),
        Ok(Packet::Other { .. })
    ));
    assert!(matches!(
        parse_packet(&icmp6(1, 4, [0; 4], &quoted_v6(17)), true),
        Ok(Packet::Other { .. })
    ));
    // Unsupported types give UnsupportedIcmp from IcmpRepr::parse itself.
    let p = icmp4(12, 0, [0; 4], &quoted_v4(6));
    assert_eq!(
        IcmpRepr::parse(&p[20..], IpAddr::V4(ROUTER4.into()), IpAddr::V4(US4.into())),
        Err(Error::UnsupportedIcmp { ty: 12, code: 0 })
    );
}

#[test]
fn malformed_icmp_is_error() {
    let q = quoted_v4(6);
    // Bad checksum.
    let mut p = icmp4(3, 3, [0; 4], &q);
    p[22] ^= 1;
    assert_eq!(
        parse_packet(&p, true).unwrap_err(),
        Error::BadChecksum { what: "ICMPv4" }
    );
    let mut p = icmp6(1, 4, [0; 4], &quoted_v6(6));
    p[42] ^= 1;
    assert_eq!(
        parse_packet(&p, true).unwrap_err(),
        Error::BadChecksum { what: "ICMPv6" }
    );
    // Quote too short for ports + seq.
    assert!(matches!(
        parse_packet(&icmp4(3, 3, [0; 4], &q[..27]), true).unwrap_err(),
        Error::Truncated { .. }
    ));
    assert!(matches!(
        parse_packet(&icmp6(1, 4, [0; 4], &quoted_v6(6)[..47]), true).unwrap_err(),
        Error::Truncated { .. }
    ));
    // Shorter than an ICMP header.
    let mut short = ipv4_header(ROUTER4, US4, 1, 60, 6);
    short.extend_from_slice(&[3, 3, 0, 0, 0, 0]);
    assert!(matches!(
        parse_packet(&short, true),
        Err(Error::Truncated {
            what: "ICMPv4",
            needed: 8,
            got: 6
        })
    ));
    // Quoted IP of the wrong version.
    let mut q6 = quoted_v4(6);
    q6[0] = 0x65;
    assert_eq!(
        parse_packet(&icmp4(3, 3, [0; 4], &q6), true).unwrap_err(),
        Error::BadVersion(6)
    );
}

#[test]
fn emit_packet_round_trip() {
    let q4 = quoted_v4(6);
    let (r4, u4) = (IpAddr::V4(ROUTER4.into()), IpAddr::V4(US4.into()));
    let kinds = [
        IcmpKind::DestUnreachable {
            code: 3,
            hard: true,
        },
        IcmpKind::DestUnreachable {
            code: 1,
            hard: false,
        },
        IcmpKind::PacketTooBig { mtu: 1400 },
        IcmpKind::TimeExceeded,
    ];
    for kind in kinds {
        let mut buf = [0u8; 1500];
        let n = IcmpRepr::emit_packet(kind, r4, u4, &q4, &mut buf).unwrap();
        assert_eq!(n, 20 + 8 + q4.len());
        let icmp = expect_icmp(&buf[..n]);
        assert_eq!(icmp.kind, kind);
        assert_eq!(icmp.quoted_src, u4);
        assert_eq!(
            (icmp.src_port, icmp.dst_port, icmp.seq),
            (5555, 80, 0xabcd_ef01)
        );
        // Independent checksum check.
        assert_eq!(ref_checksum(&[&buf[20..n]]), 0);
    }
    let q6 = quoted_v6(6);
    let (r6, u6) = (
        IpAddr::V6(Ipv6Addr::from(v6("fe80::1"))),
        IpAddr::V6(Ipv6Addr::from(v6("fd00::2"))),
    );
    for kind in [
        IcmpKind::DestUnreachable {
            code: 4,
            hard: true,
        },
        IcmpKind::PacketTooBig { mtu: 70_000 },
        IcmpKind::TimeExceeded,
    ] {
        let mut buf = [0u8; 1500];
        let n = IcmpRepr::emit_packet(kind, r6, u6, &q6, &mut buf).unwrap();
        let icmp = expect_icmp(&buf[..n]);
        assert_eq!(icmp.kind, kind);
        let ph = pseudo(r6, u6, 58, n - 40);
        assert_eq!(ref_checksum(&[&ph, &buf[40..n]]), 0);
    }
    // Long quotes are truncated to 576 (v4) / 1280 (v6) bytes in total.
    let long = [q4.clone(), vec![0u8; 2000]].concat();
    let mut buf = [0u8; 3000];
    let n = IcmpRepr::emit_packet(IcmpKind::TimeExceeded, r4, u4, &long, &mut buf).unwrap();
    assert_eq!(n, 576);
    assert!(matches!(
        parse_packet(&buf[..n], true),
        Ok(Packet::Icmp { .. })
    ));
    // Errors.
    assert_eq!(
        IcmpRepr::emit_packet(IcmpKind::TimeExceeded, r4, u6, &q4, &mut buf),
        Err(Error::BadAddress)
    );
    assert!(matches!(
        IcmpRepr::emit_packet(
            IcmpKind::PacketTooBig { mtu: 70_000 },
            r4,
            u4,
            &q4,
            &mut buf
        ),
        Err(Error::BadLength { .. })
    ));
    assert!(matches!(
        IcmpRepr::emit_packet(IcmpKind::TimeExceeded, r4, u4, &q4, &mut buf[..30]),
        Err(Error::BufferTooSmall { .. })
    ));
}
