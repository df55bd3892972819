//! Property tests: parse/emit round trips of random reprs (IPv4 and IPv6, every option,
//! random payloads), no panic on arbitrary or mutated bytes, and the fast checksum
//! against a naive reference (random lengths and alignments) and RFC 1624 updates.

mod common;

use common::ref_checksum;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use synack_wire::checksum;
use synack_wire::icmp::{IcmpKind, IcmpRepr};
use synack_wire::tcp::options_iter;
use synack_wire::{
    emit_tcp_packet, parse_packet, IpRepr, Packet, SackBlock, TcpFlags, TcpOptions, TcpRepr,
};

fn addr_pair() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<[u8; 4]>())
            .prop_map(|(a, b)| (IpAddr::V4(Ipv4Addr::from(a)), IpAddr::V4(Ipv4Addr::from(b)))),
        (any::<[u8; 16]>(), any::<[u8; 16]>())
            .prop_map(|(a, b)| (IpAddr::V6(Ipv6Addr::from(a)), IpAddr::V6(Ipv6Addr::from(b)))),
    ]
}

fn options() -> impl Strategy<Value = TcpOptions> {
    (
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u8>()),
        any::<bool>(),
        proptest::option::of(any::<(u32, u32)>()),
        proptest::collection::vec(any::<(u32, u32)>(), 0..=4),
    )
        .prop_map(|(mss, window_scale, sack_permitted, timestamp, sacks)| {
            let mut o = TcpOptions {
                mss,
                window_scale,
                sack_permitted,
                timestamp,
                ..Default::default()
            };
            for (left, right) in sacks {
                assert!(o.push_sack(SackBlock { left, right }));
            }
            o
        })
}

fn tcp_repr() -> impl Strategy<Value = TcpRepr> {
    (
        any::<(u16, u16, u32, u32)>(),
        any::<u8>(),
        any::<(u16, u16)>(),
        options(),
    )
        .prop_map(
            |((src_port, dst_port, seq, ack), flags, (window, urgent), options)| TcpRepr {
                src_port,
                dst_port,
                seq,
                ack,
                flags: TcpFlags(flags),
                window,
                urgent,
                options,
            },
        )
}

/// What the parser should return for `r` after an emit: SYN-only options dropped from
/// non-SYN segments, and SACK blocks that do not fit in 40 bytes dropped from the end.
/// Computed independently of the crate's layout code.
fn expected_after_round_trip(r: &TcpRepr) -> TcpRepr {
    let mut e = *r;
    let syn = r.flags.syn();
    if !syn {
        e.options.mss = None;
        e.options.window_scale = None;
        e.options.sack_permitted = false;
    }
    let o = &e.options;
    let fixed = 4 * usize::from(o.mss.is_some())
        + 4 * usize::from(o.window_scale.is_some())
        + if o.timestamp.is_some() { 12 } else { 0 }
        + if o.sack_permitted && o.timestamp.is_none() {
            4
        } else {
            0
        };
    let room = (40 - fixed).saturating_sub(4) / 8;
    let n = usize::from(o.sack_len).min(room);
    let mut sack = [SackBlock::default(); 4];
    sack[..n].copy_from_slice(&o.sack[..n]);
    e.options.sack = sack;
    e.options.sack_len = n as u8;
    e
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn tcp_packet_round_trip(
        (src, dst) in addr_pair(),
        ttl in any::<u8>(),
        tcp in tcp_repr(),
        payload in proptest::collection::vec(any::<u8>(), 0..1500),
    ) {
        let ip = IpRepr { src, dst, protocol: 0, ttl, payload_len: 0 };
        let hlen = ip.header_len() + tcp.header_len();
        prop_assert_eq!(tcp.header_len() % 4, 0);
        prop_assert!(tcp.header_len() <= 60);
        let mut buf = vec![0u8; hlen + payload.len() + 7];
        buf[hlen..hlen + payload.len()].copy_from_slice(&payload);
        let n = emit_tcp_packet(&mut buf, &ip, &tcp, payload.len()).unwrap();
        prop_assert_eq!(n, hlen + payload.len());
        let Packet::Tcp(p) = parse_packet(&buf[..n], true).unwrap() else {
            panic!("not TCP");
        };
        prop_assert_eq!(p.ip, IpRepr { protocol: 6, payload_len: n - ip.header_len(), ..ip });
        prop_assert_eq!(p.tcp, expected_after_round_trip(&tcp));
        prop_assert_eq!(p.payload, &payload[..]);
        // Every option is 4-byte aligned in the Linux layout and parses cleanly.
        let opts = &buf[ip.header_len() + 20..hlen];
        prop_assert!(options_iter(opts).all(|o| o.is_ok()));
        // Independent checksum check of the whole segment.
        let ph = common::pseudo(src, dst, 6, n - ip.header_len());
        prop_assert_eq!(ref_checksum(&[&ph, &buf[ip.header_len()..n]]), 0);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_packet(&bytes, true);
        let _ = parse_packet(&bytes, false);
        let _ = options_iter(&bytes).count();
        let _ = TcpRepr::parse(&bytes, IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::LOCALHOST), true);
        let _ = IcmpRepr::parse(&bytes, IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST));
        let _ = IcmpRepr::parse(&bytes, IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn ip_prefixed_arbitrary_bytes_never_panic(
        v6 in any::<bool>(),
        proto in prop_oneof![Just(6u8), Just(1u8), Just(58u8), Just(0u8), Just(44u8), any::<u8>()],
        body in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        // A valid IP header around random bytes, so the TCP / ICMP / extension parsers
        // see the garbage rather than the IP checks.
        let mut pkt = if v6 {
            common::ipv6_header([1; 16], [2; 16], proto, 64, body.len())
        } else {
            common::ipv4_header([1; 4], [2; 4], proto, 64, body.len())
        };
        pkt.extend_from_slice(&body);
        let _ = parse_packet(&pkt, true);
        let _ = parse_packet(&pkt, false);
    }

    #[test]
    fn mutated_valid_packets_never_panic(
        (src, dst) in addr_pair(),
        tcp in tcp_repr(),
        payload_len in 0usize..64,
        mutations in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        icmp_wrap in any::<bool>(),
    ) {
        let ip = IpRepr { src, dst, protocol: 6, ttl: 64, payload_len: 0 };
        let mut buf = vec![0u8; 200];
        let n = emit_tcp_packet(&mut buf, &ip, &tcp, payload_len).unwrap();
        buf.truncate(n);
        if icmp_wrap {
            let mut out = vec![0u8; 400];
            let m = IcmpRepr::emit_packet(IcmpKind::TimeExceeded, dst, src, &buf, &mut out).unwrap();
            out.truncate(m);
            buf = out;
        }
        let ip_len = ip.header_len();
        for (at, v) in mutations {
            // Mutate past the IP header so the inner parsers are reached.
            let i = ip_len + at.index(buf.len() - ip_len);
            buf[i] = v;
        }
        let _ = parse_packet(&buf, false);
        let _ = parse_packet(&buf, true);
        let cut = cut.index(buf.len() + 1);
        let _ = parse_packet(&buf[..cut], false);
        let _ = options_iter(&buf[ip_len..]).count();
    }

    #[test]
    fn checksum_matches_reference(
        data in proptest::collection::vec(any::<u8>(), 0..3000),
        start in 0usize..16,
    ) {
        let start = start.min(data.len());
        let d = &data[start..];
        prop_assert_eq!(checksum::checksum(d), ref_checksum(&[d]));
        prop_assert!(checksum::sum(d) <= 0xffff);
    }

    #[test]
    fn checksum_combine_even_split(
        data in proptest::collection::vec(any::<u8>(), 0..600),
        split in any::<prop::sample::Index>(),
    ) {
        let at = split.index(data.len() + 1) & !1;
        let c = checksum::finish(checksum::combine(
            checksum::sum(&data[..at]),
            checksum::sum(&data[at..]),
        ));
        prop_assert_eq!(c, ref_checksum(&[&data]));
    }

    #[test]
    fn rfc1624_update_matches_recompute(
        mut data in proptest::collection::vec(any::<u8>(), 2..400),
        idx in any::<prop::sample::Index>(),
        new in any::<u16>(),
    ) {
        if data.len() % 2 == 1 {
            data.pop();
        }
        let i = idx.index(data.len() / 2) * 2;
        let old = u16::from_be_bytes([data[i], data[i + 1]]);
        let hc = checksum::checksum(&data);
        data[i..i + 2].copy_from_slice(&new.to_be_bytes());
        let updated = checksum::update(hc, old, new);
        let recomputed = ref_checksum(&[&data]);
        // 0x0000 and 0xffff are the two zeros of one's-complement arithmetic (RFC 1624
        // §3); they only differ when every word of the data is zero.
        let norm = |x: u16| if x == 0xffff { 0 } else { x };
        prop_assert_eq!(norm(updated), norm(recomputed));
        // And the updated checksum verifies when appended to the data.
        let mut with = data.clone();
        with.extend_from_slice(&updated.to_be_bytes());
        prop_assert_eq!(norm(ref_checksum(&[&with])), 0);
    }

    #[test]
    fn pseudo_header_matches_reference(
        (src, dst) in addr_pair(),
        proto in any::<u8>(),
        len in 0u32..65536,
    ) {
        let bytes = common::pseudo(src, dst, proto, len as usize);
        prop_assert_eq!(
            checksum::finish(checksum::pseudo_header(src, dst, proto, len)),
            ref_checksum(&[&bytes])
        );
    }
}

#[test]
fn large_segment_checksum() {
    // A 64 KiB TSO-sized segment, summed at every alignment of the start.
    let data: Vec<u8> = (0..65_536u32 + 8)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for start in 0..8 {
        let d = &data[start..start + 65_535];
        assert_eq!(checksum::checksum(d), ref_checksum(&[d]));
    }
}
