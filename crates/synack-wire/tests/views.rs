//! Typed views: accessors on hand-written header bytes, `new_checked` rejections, and
//! setters read back through the accessors.

mod common;

use common::ref_checksum;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use synack_wire::ipv6::walk_extensions;
use synack_wire::{Error, Ipv4Packet, Ipv6Packet, TcpFlags, TcpSegment};

/// IPv4: TOS 0xb9 (DSCP 46, ECN 1), total 24, id 0x1234, MF + offset 185*8, TTL 17,
/// proto 6, 10.1.2.3 -> 10.4.5.6, 4 payload bytes.
fn v4_bytes() -> Vec<u8> {
    let mut h = vec![
        0x45, 0xb9, 0x00, 0x18, 0x12, 0x34, 0x20, 0xb9, 17, 6, 0, 0, 10, 1, 2, 3, 10, 4, 5, 6,
    ];
    let c = ref_checksum(&[&h]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(b"abcd");
    h
}

#[test]
fn ipv4_accessors() {
    let b = v4_bytes();
    let p = Ipv4Packet::new_checked(&b[..]).unwrap();
    assert_eq!(p.version(), 4);
    assert_eq!(p.header_len(), 20);
    assert_eq!((p.dscp(), p.ecn()), (46, 1));
    assert_eq!(p.total_len(), 24);
    assert_eq!(p.ident(), 0x1234);
    assert!(!p.dont_frag());
    assert!(p.more_frags());
    assert_eq!(p.frag_offset(), 185 * 8);
    assert!(p.is_fragment());
    assert_eq!((p.ttl(), p.protocol()), (17, 6));
    assert_eq!(p.src_addr(), Ipv4Addr::new(10, 1, 2, 3));
    assert_eq!(p.dst_addr(), Ipv4Addr::new(10, 4, 5, 6));
    assert!(p.verify_checksum());
    assert_eq!(p.payload(), b"abcd");
    assert!(p.options().is_empty());
}

#[test]
fn ipv4_setters_round_trip() {
    let mut b = [0u8; 30];
    let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
    p.set_version_and_header_len(20);
    p.set_tos(0x02);
    p.set_total_len(28);
    p.set_ident(7);
    p.set_frag(true, false, 0);
    p.set_ttl(3);
    p.set_protocol(17);
    p.set_src_addr(Ipv4Addr::new(1, 2, 3, 4));
    p.set_dst_addr(Ipv4Addr::new(5, 6, 7, 8));
    p.payload_mut().copy_from_slice(b"12345678");
    p.fill_checksum();
    let p = Ipv4Packet::new_checked(&b[..]).unwrap();
    assert!(p.verify_checksum());
    assert!(p.dont_frag() && !p.more_frags() && !p.is_fragment());
    assert_eq!((p.ecn(), p.ident(), p.ttl(), p.protocol()), (2, 7, 3, 17));
    assert_eq!(p.payload(), b"12345678");
    assert_eq!(ref_checksum(&[&b[..20]]), 0);
}

#[test]
fn ipv4_new_checked_rejects() {
    let b = v4_bytes();
    assert!(matches!(
        Ipv4Packet::new_checked(&b[..10]),
        Err(Error::Truncated {
            needed: 20,
            got: 10,
            ..
        })
    ));
    let mut x = b.clone();
    x[0] = 0x4f; // IHL 15 = 60 bytes > 24
    assert_eq!(
        Ipv4Packet::new_checked(&x[..]).unwrap_err(),
        Error::BadIhl(15)
    );
    let mut x = b.clone();
    x[0] = 0x65;
    assert_eq!(
        Ipv4Packet::new_checked(&x[..]).unwrap_err(),
        Error::BadVersion(6)
    );
    let mut x = b.clone();
    x[3] = 25;
    assert_eq!(
        Ipv4Packet::new_checked(&x[..]).unwrap_err(),
        Error::BadLength {
            what: "IPv4 total length",
            value: 25
        }
    );
}

#[test]
fn ipv6_accessors_and_setters() {
    let mut b = [0u8; 48];
    let src: Ipv6Addr = "fe80::1:2".parse().unwrap();
    let dst: Ipv6Addr = "ff02::1".parse().unwrap();
    {
        let mut p = Ipv6Packet::new_unchecked(&mut b[..]);
        p.set_version_tc_flow(0xab, 0x12345);
        p.set_payload_len(8);
        p.set_next_header(58);
        p.set_hop_limit(255);
        p.set_src_addr(src);
        p.set_dst_addr(dst);
        p.payload_mut().copy_from_slice(b"ABCDEFGH");
    }
    // Bytes as laid out by RFC 8200 §3.
    assert_eq!(&b[..8], &[0x6a, 0xb1, 0x23, 0x45, 0, 8, 58, 255]);
    let p = Ipv6Packet::new_checked(&b[..]).unwrap();
    assert_eq!(p.version(), 6);
    assert_eq!(p.traffic_class(), 0xab);
    assert_eq!(p.flow_label(), 0x12345);
    assert_eq!(
        (p.payload_len(), p.next_header(), p.hop_limit()),
        (8, 58, 255)
    );
    assert_eq!((p.src_addr(), p.dst_addr()), (src, dst));
    assert_eq!(p.payload(), b"ABCDEFGH");
    assert!(matches!(
        Ipv6Packet::new_checked(&b[..39]),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        Ipv6Packet::new_checked(&b[..47]),
        Err(Error::BadLength { .. })
    ));
}

#[test]
fn walk_extensions_limits() {
    // A chain of destination-options headers longer than the walker's bound.
    let mut chain = Vec::new();
    for _ in 0..20 {
        chain.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
    }
    assert_eq!(
        walk_extensions(60, &chain),
        Err(Error::UnsupportedExtension(60))
    );
    assert_eq!(walk_extensions(6, &[]), Ok((6, 0)));
    assert!(matches!(
        walk_extensions(60, &[6]),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        walk_extensions(44, &[6, 0, 0]),
        Err(Error::Truncated { .. })
    ));
    assert_eq!(
        walk_extensions(44, &[6, 0, 0x00, 0x08, 0, 0, 0, 1]),
        Err(Error::Fragmented)
    );
}

#[test]
fn tcp_segment_setters_round_trip() {
    let src = IpAddr::V6("2001:db8::1".parse().unwrap());
    let dst = IpAddr::V6("2001:db8::2".parse().unwrap());
    let mut b = vec![0u8; 27];
    {
        let mut s = TcpSegment::new_unchecked(&mut b[..]);
        s.set_src_port(0xaaaa);
        s.set_dst_port(0x5555);
        s.set_seq_number(0xffff_fffe);
        s.set_ack_number(1);
        s.set_header_len_and_flags(24, TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR);
        s.set_window(0);
        s.set_urgent(9);
        s.payload_mut().copy_from_slice(b"xyz");
        s.fill_checksum(src, dst);
    }
    assert_eq!(b[12], 6 << 4);
    assert_eq!(b[13], 0xc2);
    let ph = common::pseudo(src, dst, 6, b.len());
    assert_eq!(ref_checksum(&[&ph, &b]), 0);
    let s = TcpSegment::new_checked(&b[..]).unwrap();
    assert!(s.verify_checksum(src, dst).unwrap());
    assert_eq!(s.flags().name(), "SYN-ECE-CWR");
    assert_eq!(
        (s.seq_number(), s.ack_number(), s.urgent()),
        (0xffff_fffe, 1, 9)
    );
    assert_eq!(s.options(), &[0, 0, 0, 0]);
    assert_eq!(s.payload(), b"xyz");
    assert_eq!(s.checksum(), u16::from_be_bytes([b[16], b[17]]));
    assert_eq!(
        s.verify_checksum(src, IpAddr::V4(Ipv4Addr::LOCALHOST)),
        Err(Error::BadAddress)
    );
}
