//! Golden-byte tests: hand-built packets (checksums computed by an independent
//! reference loop) parsed by the crate, and reprs emitted byte-for-byte in the Linux
//! option layouts.

mod common;

use common::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use synack_wire::tcp::{options_iter, TcpSegment};
use synack_wire::{
    emit_tcp_packet, parse_packet, Error, IpRepr, Packet, SackBlock, TcpFlags, TcpOption,
    TcpOptions, TcpRepr,
};

const A4: [u8; 4] = [192, 0, 2, 1];
const B4: [u8; 4] = [198, 51, 100, 7];

fn a4() -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(A4))
}
fn b4() -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(B4))
}
fn a6() -> IpAddr {
    IpAddr::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap())
}
fn b6() -> IpAddr {
    IpAddr::V6("2001:db8:ffff::2:7".parse::<Ipv6Addr>().unwrap())
}
fn octets6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(a) => a.octets(),
        _ => unreachable!(),
    }
}

/// Linux SYN options with timestamps: mss 1460, sackOK, TS, nop, wscale 7.
const SYN_OPTS_TS: [u8; 20] = [
    0x02, 0x04, 0x05, 0xb4, // mss 1460
    0x04, 0x02, // sackOK
    0x08, 0x0a, 0x00, 0x01, 0xe2, 0x40, 0x00, 0x00, 0x00, 0x00, // TS 123456 0
    0x01, // nop
    0x03, 0x03, 0x07, // wscale 7
];

fn syn_repr() -> TcpRepr {
    TcpRepr {
        src_port: 40000,
        dst_port: 8080,
        seq: 0x1122_3344,
        ack: 0,
        flags: TcpFlags::SYN,
        window: 64240,
        urgent: 0,
        options: TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamp: Some((123_456, 0)),
            ..Default::default()
        },
    }
}

fn syn_packet_v4() -> Vec<u8> {
    let tcp = tcp_segment(
        a4(),
        b4(),
        (40000, 8080),
        0x1122_3344,
        0,
        0x02,
        64240,
        &SYN_OPTS_TS,
        &[],
    );
    let mut p = ipv4_header(A4, B4, 6, 64, tcp.len());
    p.extend_from_slice(&tcp);
    p
}

#[test]
fn parse_golden_syn_v4() {
    let bytes = syn_packet_v4();
    let Packet::Tcp(p) = parse_packet(&bytes, true).unwrap() else {
        panic!("not TCP")
    };
    assert_eq!(p.ip.src, a4());
    assert_eq!(p.ip.dst, b4());
    assert_eq!(p.ip.ttl, 64);
    assert_eq!(p.ip.protocol, 6);
    assert_eq!(p.ip.payload_len, 40);
    assert_eq!(p.tcp, syn_repr());
    assert!(p.payload.is_empty());
}

#[test]
fn emit_golden_syn_v4() {
    let expected = syn_packet_v4();
    let ip = IpRepr {
        src: a4(),
        dst: b4(),
        protocol: 0,
        ttl: 64,
        payload_len: 0,
    };
    let mut buf = vec![0xaa; 100];
    let n = emit_tcp_packet(&mut buf, &ip, &syn_repr(), 0).unwrap();
    assert_eq!(n, expected.len());
    assert_eq!(&buf[..n], &expected[..]);
}

#[test]
fn golden_data_segment_v6_with_payload() {
    let payload: Vec<u8> = (0..1001u32).map(|i| (i * 7 + 3) as u8).collect();
    let opts = [
        0x01, 0x01, 0x08, 0x0a, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04,
    ];
    let tcp = tcp_segment(
        a6(),
        b6(),
        (443, 51000),
        7,
        0x8000_0001,
        0x18,
        1024,
        &opts,
        &payload,
    );
    let mut expected = ipv6_header(octets6(a6()), octets6(b6()), 6, 255, tcp.len());
    expected.extend_from_slice(&tcp);

    let repr = TcpRepr {
        src_port: 443,
        dst_port: 51000,
        seq: 7,
        ack: 0x8000_0001,
        flags: TcpFlags::PSH | TcpFlags::ACK,
        window: 1024,
        urgent: 0,
        options: TcpOptions {
            timestamp: Some((0xdead_beef, 0x0102_0304)),
            ..Default::default()
        },
    };
    let ip = IpRepr {
        src: a6(),
        dst: b6(),
        protocol: 6,
        ttl: 255,
        payload_len: 0,
    };
    let mut buf = vec![0u8; 40 + 32 + payload.len()];
    buf[72..].copy_from_slice(&payload);
    let n = emit_tcp_packet(&mut buf, &ip, &repr, payload.len()).unwrap();
    assert_eq!(&buf[..n], &expected[..]);

    let Packet::Tcp(p) = parse_packet(&expected, true).unwrap() else {
        panic!("not TCP")
    };
    assert_eq!(p.tcp, repr);
    assert_eq!(p.payload, &payload[..]);
    assert_eq!(p.ip.payload_len, 32 + payload.len());
}

fn emitted_options(flags: TcpFlags, options: TcpOptions) -> Vec<u8> {
    let repr = TcpRepr {
        flags,
        options,
        ..Default::default()
    };
    let mut buf = [0u8; 60];
    let n = repr.emit(&mut buf, 0, a4(), b4()).unwrap();
    assert_eq!(n, repr.header_len());
    assert_eq!(usize::from(buf[12] >> 4) * 4, n, "data offset");
    assert_eq!(n - 20, options.emitted_len(flags.syn()));
    buf[20..n].to_vec()
}

#[test]
fn linux_syn_layouts() {
    let full = TcpOptions {
        mss: Some(0x1234),
        window_scale: Some(9),
        sack_permitted: true,
        timestamp: Some((0x0a0b_0c0d, 0x0102_0304)),
        ..Default::default()
    };
    let ts = [0x08, 0x0a, 0x0a, 0x0b, 0x0c, 0x0d, 0x01, 0x02, 0x03, 0x04];
    let cat = |parts: &[&[u8]]| parts.concat();
    // mss, sackOK, TS, nop, wscale
    assert_eq!(
        emitted_options(TcpFlags::SYN, full),
        cat(&[&[2, 4, 0x12, 0x34, 4, 2], &ts, &[1, 3, 3, 9]])
    );
    // mss, nop, nop, sackOK, nop, wscale
    let no_ts = TcpOptions {
        timestamp: None,
        ..full
    };
    assert_eq!(
        emitted_options(TcpFlags::SYN | TcpFlags::ACK, no_ts),
        vec![2, 4, 0x12, 0x34, 1, 1, 4, 2, 1, 3, 3, 9]
    );
    // mss, nop, nop, TS, nop, wscale
    let no_sack = TcpOptions {
        sack_permitted: false,
        ..full
    };
    assert_eq!(
        emitted_options(TcpFlags::SYN, no_sack),
        cat(&[&[2, 4, 0x12, 0x34, 1, 1], &ts, &[1, 3, 3, 9]])
    );
    // mss, sackOK, TS (no wscale)
    let no_ws = TcpOptions {
        window_scale: None,
        ..full
    };
    assert_eq!(
        emitted_options(TcpFlags::SYN, no_ws),
        cat(&[&[2, 4, 0x12, 0x34, 4, 2], &ts])
    );
    // mss, nop, nop, sackOK
    let mss_sack = TcpOptions {
        window_scale: None,
        timestamp: None,
        ..full
    };
    assert_eq!(
        emitted_options(TcpFlags::SYN, mss_sack),
        vec![2, 4, 0x12, 0x34, 1, 1, 4, 2]
    );
    // mss only
    let mss_only = TcpOptions {
        mss: Some(536),
        ..Default::default()
    };
    assert_eq!(emitted_options(TcpFlags::SYN, mss_only), vec![2, 4, 2, 24]);
    // nothing
    assert!(emitted_options(TcpFlags::SYN, TcpOptions::default()).is_empty());
}

#[test]
fn syn_only_options_not_emitted_on_other_segments() {
    let full = TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some((1, 2)),
        ..Default::default()
    };
    assert_eq!(
        emitted_options(TcpFlags::ACK, full),
        vec![1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]
    );
}

fn with_sacks(ts: bool, n: usize) -> TcpOptions {
    let mut o = TcpOptions {
        timestamp: ts.then_some((5, 6)),
        ..Default::default()
    };
    for i in 0..n as u32 {
        assert!(o.push_sack(SackBlock {
            left: 1000 * i + 1,
            right: 1000 * i + 500,
        }));
    }
    o
}

fn sack_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![1, 1, 5, (2 + 8 * n) as u8];
    for i in 0..n as u32 {
        v.extend_from_slice(&(1000 * i + 1).to_be_bytes());
        v.extend_from_slice(&(1000 * i + 500).to_be_bytes());
    }
    v
}

#[test]
fn linux_sack_layouts_and_limits() {
    let ts = [1u8, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6];
    for n in 1..=4 {
        let got = emitted_options(TcpFlags::ACK, with_sacks(true, n));
        // With timestamps only three blocks fit (12 + 4 + 24 = 40).
        let fit = n.min(3);
        assert_eq!(got, [&ts[..], &sack_bytes(fit)].concat(), "ts n={n}");
        let got = emitted_options(TcpFlags::ACK, with_sacks(false, n));
        assert_eq!(got, sack_bytes(n), "no ts n={n}");
    }
    // A fifth block does not fit in the repr at all.
    let mut o = with_sacks(false, 4);
    assert!(!o.push_sack(SackBlock::default()));
    // An out-of-range sack_len is clamped rather than panicking.
    o.sack_len = 200;
    assert_eq!(o.sack_blocks().len(), 4);
    assert_eq!(emitted_options(TcpFlags::ACK, o), sack_bytes(4));
}

#[test]
fn emitted_options_parse_back() {
    for ts in [false, true] {
        for n in 0..=4 {
            let opts = with_sacks(ts, n);
            let repr = TcpRepr {
                flags: TcpFlags::ACK,
                options: opts,
                ..Default::default()
            };
            let mut buf = [0u8; 60];
            let len = repr.emit(&mut buf, 0, a6(), b6()).unwrap();
            let (back, payload) = TcpRepr::parse(&buf[..len], a6(), b6(), true).unwrap();
            assert!(payload.is_empty());
            let fit = if ts { n.min(3) } else { n };
            assert_eq!(back.options.sack_blocks(), &opts.sack_blocks()[..fit]);
            assert_eq!(back.options.timestamp, opts.timestamp);
        }
    }
}

fn parse_opts(opts: &[u8]) -> Result<TcpOptions, Error> {
    let mut padded = opts.to_vec();
    while padded.len() % 4 != 0 {
        padded.push(0);
    }
    let seg = tcp_segment(a4(), b4(), (1, 2), 3, 4, 0x10, 5, &padded, b"xy");
    TcpRepr::parse(&seg, a4(), b4(), true).map(|(r, p)| {
        assert_eq!(p, b"xy");
        r.options
    })
}

#[test]
fn bad_option_lengths() {
    let cases: &[(&[u8], u8, u8)] = &[
        (&[2, 3, 5, 0], 2, 3),                // MSS len != 4
        (&[2, 5, 5, 0, 0], 2, 5),             // MSS len != 4
        (&[3, 4, 7, 0], 3, 4),                // WS len != 3
        (&[4, 3, 0], 4, 3),                   // SACKOK len != 2
        (&[8, 8, 0, 0, 0, 0, 0, 0], 8, 8),    // TS len != 10
        (&[5, 9, 0, 0, 0, 0, 0, 0, 0], 5, 9), // SACK len not 2 + 8n
        (&[5, 2], 5, 2),                      // SACK with no block
        (&[1, 1, 1, 30], 30, 0),              // length byte missing
        (&[99, 1, 0, 0], 99, 1),              // len < 2
        (&[99, 0, 0, 0], 99, 0),              // len 0
        (&[1, 99, 8, 1, 1, 1, 1, 1], 99, 8),  // len past end
        (
            &[8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 5, 18],
            5,
            18,
        ), // SACK past end
    ];
    for &(opts, kind, len) in cases {
        assert_eq!(
            parse_opts(opts),
            Err(Error::BadOption { kind, len }),
            "options {opts:?}"
        );
    }
}

#[test]
fn options_after_eol_are_ignored_and_unknown_skipped() {
    let o = parse_opts(&[1, 30, 4, 0xaa, 0xbb, 2, 4, 1, 0, 0, 2, 0xff, 0xff, 0xff]).unwrap();
    assert_eq!(o.mss, Some(256));
    let raw = [1, 30, 4, 0xaa, 0xbb, 2, 4, 1, 0, 0, 2, 0xff];
    let items: Vec<_> = options_iter(&raw).collect();
    assert_eq!(
        items,
        vec![
            Ok(TcpOption::NoOp),
            Ok(TcpOption::Unknown {
                kind: 30,
                data: &[0xaa, 0xbb]
            }),
            Ok(TcpOption::Mss(256)),
            Ok(TcpOption::EndOfList),
        ]
    );
    let sack = [5, 10, 0, 0, 0, 1, 0, 0, 0, 2];
    assert_eq!(
        options_iter(&sack).collect::<Vec<_>>(),
        vec![Ok(TcpOption::Sack(&sack[2..]))]
    );
    // An error ends the iteration.
    let bad = [3, 2, 1, 1];
    assert_eq!(
        options_iter(&bad).collect::<Vec<_>>(),
        vec![Err(Error::BadOption { kind: 3, len: 2 })]
    );
}

#[test]
fn tcp_header_errors() {
    let good = tcp_segment(a4(), b4(), (1, 2), 3, 4, 0x10, 5, &[1, 1, 1, 1], b"abc");
    // Truncated header.
    assert!(matches!(
        TcpRepr::parse(&good[..19], a4(), b4(), false),
        Err(Error::Truncated {
            needed: 20,
            got: 19,
            ..
        })
    ));
    // Data offset < 5.
    let mut b = good.clone();
    b[12] = 4 << 4;
    assert_eq!(
        TcpRepr::parse(&b, a4(), b4(), false),
        Err(Error::BadDataOffset(4))
    );
    // Data offset past the buffer.
    let mut b = good.clone();
    b[12] = 15 << 4;
    assert_eq!(
        TcpRepr::parse(&b, a4(), b4(), false),
        Err(Error::BadDataOffset(15))
    );
    // Bad checksum, only when verifying.
    let mut b = good.clone();
    b[25] ^= 0x40;
    assert_eq!(
        TcpRepr::parse(&b, a4(), b4(), true),
        Err(Error::BadChecksum { what: "TCP" })
    );
    assert!(TcpRepr::parse(&b, a4(), b4(), false).is_ok());
    // Wrong pseudo-header.
    assert!(TcpRepr::parse(&good, b4(), a4(), true).is_ok()); // symmetric sum
    assert_eq!(
        TcpRepr::parse(&good, a4(), IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)), true),
        Err(Error::BadChecksum { what: "TCP" })
    );
    assert_eq!(
        TcpRepr::parse(&good, a4(), b6(), true),
        Err(Error::BadAddress)
    );
    // View accessors.
    let v = TcpSegment::new_checked(&good[..]).unwrap();
    assert_eq!(
        (v.src_port(), v.dst_port(), v.seq_number(), v.ack_number()),
        (1, 2, 3, 4)
    );
    assert_eq!(v.header_len(), 24);
    assert_eq!(v.options(), &[1, 1, 1, 1]);
    assert_eq!(v.payload(), b"abc");
    assert!(v.verify_checksum(a4(), b4()).unwrap());
}

#[test]
fn ipv4_errors() {
    let good = syn_packet_v4();
    assert!(matches!(
        IpRepr::parse(&good[..19]),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(IpRepr::parse(&[]), Err(Error::Truncated { .. })));
    let mut b = good.clone();
    b[0] = 0x55;
    assert_eq!(IpRepr::parse(&b), Err(Error::BadVersion(5)));
    let mut b = good.clone();
    b[0] = 0x44;
    assert_eq!(IpRepr::parse(&b), Err(Error::BadIhl(4)));
    // Total length beyond the buffer.
    let mut b = good.clone();
    b[3] += 1;
    assert!(matches!(IpRepr::parse(&b), Err(Error::BadLength { .. })));
    // Total length below the header.
    let mut b = good.clone();
    b[2] = 0;
    b[3] = 19;
    assert!(matches!(IpRepr::parse(&b), Err(Error::BadLength { .. })));
    // Corrupted header -> checksum.
    let mut b = good.clone();
    b[8] = 3;
    assert_eq!(
        IpRepr::parse(&b),
        Err(Error::BadChecksum {
            what: "IPv4 header"
        })
    );
    // Fragments (with a valid checksum): MF, and offset.
    for flags in [0x20u8, 0x00] {
        let mut b = good.clone();
        b[6] = flags;
        b[7] = if flags == 0 { 1 } else { 0 };
        b[10] = 0;
        b[11] = 0;
        let c = ref_checksum(&[&b[..20]]);
        b[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(IpRepr::parse(&b), Err(Error::Fragmented));
    }
    // Trailing bytes (e.g. Ethernet padding) are ignored.
    let mut b = good.clone();
    b.extend_from_slice(&[0; 6]);
    let (ip, payload) = IpRepr::parse(&b).unwrap();
    assert_eq!(payload.len(), 40);
    assert_eq!(ip.payload_len, 40);
}

#[test]
fn ipv4_options_are_skipped() {
    let tcp = tcp_segment(a4(), b4(), (1, 2), 3, 4, 0x10, 5, &[], b"q");
    let mut h = ipv4_header(A4, B4, 6, 9, tcp.len() + 4);
    h[0] = 0x46;
    h.extend_from_slice(&[1, 1, 1, 0]); // NOP NOP NOP EOL
    h[10] = 0;
    h[11] = 0;
    let c = ref_checksum(&[&h]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(&tcp);
    let Packet::Tcp(p) = parse_packet(&h, true).unwrap() else {
        panic!()
    };
    assert_eq!(p.payload, b"q");
}

#[test]
fn ipv6_extension_headers() {
    let tcp = tcp_segment(a6(), b6(), (1, 2), 3, 4, 0x10, 5, &[], b"hello");
    // Hop-by-hop (8 bytes: next=60) -> destination options (16 bytes: next=43) ->
    // routing (8 bytes: next=44) -> atomic fragment (next=6) -> TCP.
    let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0];
    ext.extend_from_slice(&[43, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    ext.extend_from_slice(&[44, 0, 0, 0, 0, 0, 0, 0]);
    ext.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 9]);
    let mut p = ipv6_header(octets6(a6()), octets6(b6()), 0, 3, ext.len() + tcp.len());
    p.extend_from_slice(&ext);
    p.extend_from_slice(&tcp);
    let Packet::Tcp(t) = parse_packet(&p, true).unwrap() else {
        panic!()
    };
    assert_eq!(t.payload, b"hello");
    assert_eq!(t.ip.protocol, 6);
    assert_eq!(t.ip.payload_len, tcp.len());

    // A real fragment.
    let mut f = p.clone();
    f[40 + 24 + 8 + 3] = 1; // M flag
    assert_eq!(parse_packet(&f, true).unwrap_err(), Error::Fragmented);
    // Hop-by-hop not first.
    let mut h = p.clone();
    h[40 + 8] = 0;
    assert_eq!(
        parse_packet(&h, true).unwrap_err(),
        Error::UnsupportedExtension(0)
    );
    // ESP.
    let mut e = p.clone();
    e[6] = 50;
    assert_eq!(
        parse_packet(&e, true).unwrap_err(),
        Error::UnsupportedExtension(50)
    );
    // Extension running past the payload.
    let mut t = p.clone();
    t[40 + 1] = 200;
    assert!(matches!(
        parse_packet(&t, true).unwrap_err(),
        Error::Truncated { .. }
    ));
    // Payload length past the buffer.
    let mut l = p.clone();
    l[4] = 0xff;
    assert!(matches!(
        parse_packet(&l, true).unwrap_err(),
        Error::BadLength { .. }
    ));
    // Version.
    let mut v = p.clone();
    v[0] = 0x70;
    assert_eq!(parse_packet(&v, true).unwrap_err(), Error::BadVersion(7));
}

#[test]
fn other_protocols_are_other() {
    let mut p = ipv4_header(A4, B4, 17, 64, 8);
    p.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
    assert!(matches!(
        parse_packet(&p, true).unwrap(),
        Packet::Other { ip } if ip.protocol == 17
    ));
    let mut p = ipv6_header(octets6(a6()), octets6(b6()), 59, 64, 0);
    p.extend_from_slice(&[]);
    assert!(matches!(
        parse_packet(&p, true).unwrap(),
        Packet::Other { .. }
    ));
}

#[test]
fn emit_errors() {
    let ip = IpRepr {
        src: a4(),
        dst: b6(),
        protocol: 6,
        ttl: 1,
        payload_len: 0,
    };
    let mut buf = [0u8; 100];
    assert_eq!(
        emit_tcp_packet(&mut buf, &ip, &TcpRepr::default(), 0),
        Err(Error::BadAddress)
    );
    let ip = IpRepr { dst: b4(), ..ip };
    assert_eq!(
        emit_tcp_packet(&mut buf[..39], &ip, &TcpRepr::default(), 0),
        Err(Error::BufferTooSmall {
            needed: 40,
            got: 39
        })
    );
    let mut big = vec![0u8; 70_000];
    assert!(matches!(
        emit_tcp_packet(&mut big, &ip, &TcpRepr::default(), 65_500),
        Err(Error::BadLength { .. })
    ));
    // The same segment fits in IPv6 (payload length <= 65535).
    let ip6 = IpRepr {
        src: a6(),
        dst: b6(),
        ..ip
    };
    assert_eq!(
        emit_tcp_packet(&mut big, &ip6, &TcpRepr::default(), 65_500),
        Ok(40 + 20 + 65_500)
    );
    assert!(matches!(
        parse_packet(&big[..65_560], true),
        Ok(Packet::Tcp(_))
    ));
}
