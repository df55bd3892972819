//! etherparse as an independent oracle: packets emitted by synack-wire are parsed by
//! etherparse (fields, options and checksums compared), and packets built by
//! etherparse are parsed by synack-wire.

use etherparse::{
    IpNumber, NetHeaders, PacketBuilder, PacketHeaders, TcpHeader, TcpOptionElement,
    TransportHeader,
};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use synack_wire::icmp::{IcmpKind, IcmpRepr};
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

fn flags_of(h: &TcpHeader) -> u8 {
    [h.fin, h.syn, h.rst, h.psh, h.ack, h.urg, h.ece, h.cwr]
        .iter()
        .enumerate()
        .map(|(i, &b)| u8::from(b) << i)
        .sum()
}

/// Collect an etherparse option list into our parsed form.
fn options_from_etherparse(h: &TcpHeader) -> TcpOptions {
    let mut o = TcpOptions::default();
    for e in h.options_iterator() {
        match e.expect("etherparse rejected our options") {
            TcpOptionElement::Noop => {}
            TcpOptionElement::MaximumSegmentSize(m) => o.mss = Some(m),
            TcpOptionElement::WindowScale(w) => o.window_scale = Some(w),
            TcpOptionElement::SelectiveAcknowledgementPermitted => o.sack_permitted = true,
            TcpOptionElement::Timestamp(a, b) => o.timestamp = Some((a, b)),
            TcpOptionElement::SelectiveAcknowledgement(first, rest) => {
                for (left, right) in std::iter::once(first).chain(rest.into_iter().flatten()) {
                    o.push_sack(SackBlock { left, right });
                }
            }
        }
    }
    o
}

prop_compose! {
    fn tcp_repr()(
        ports in any::<(u16, u16)>(),
        seq in any::<u32>(),
        ack in any::<u32>(),
        flags in any::<u8>(),
        window in any::<u16>(),
        urgent in any::<u16>(),
        mss in proptest::option::of(any::<u16>()),
        ws in proptest::option::of(0u8..15),
        sack_permitted in any::<bool>(),
        ts in proptest::option::of(any::<(u32, u32)>()),
        sacks in proptest::collection::vec(any::<(u32, u32)>(), 0..=3),
    ) -> TcpRepr {
        let mut options = TcpOptions { mss, window_scale: ws, sack_permitted, timestamp: ts,
            ..Default::default() };
        for (left, right) in sacks {
            options.push_sack(SackBlock { left, right });
        }
        TcpRepr { src_port: ports.0, dst_port: ports.1, seq, ack, flags: TcpFlags(flags),
            window, urgent, options }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ours_parsed_by_etherparse(
        (src, dst) in addr_pair(),
        ttl in any::<u8>(),
        tcp in tcp_repr(),
        payload in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let ip = IpRepr { src, dst, protocol: 6, ttl, payload_len: 0 };
        let hlen = ip.header_len() + tcp.header_len();
        let mut buf = vec![0u8; hlen + payload.len()];
        buf[hlen..].copy_from_slice(&payload);
        let n = emit_tcp_packet(&mut buf, &ip, &tcp, payload.len()).unwrap();
        let h = PacketHeaders::from_ip_slice(&buf[..n]).expect("etherparse rejected our packet");
        let Some(TransportHeader::Tcp(t)) = &h.transport else { panic!("no TCP") };
        prop_assert_eq!(h.payload.slice(), &payload[..]);
        match h.net.as_ref().unwrap() {
            NetHeaders::Ipv4(v4, _) => {
                prop_assert_eq!(IpAddr::V4(v4.source.into()), src);
                prop_assert_eq!(IpAddr::V4(v4.destination.into()), dst);
                prop_assert_eq!(v4.time_to_live, ttl);
                prop_assert_eq!(v4.protocol, IpNumber::TCP);
                prop_assert!(v4.dont_fragment);
                prop_assert_eq!(v4.header_checksum, v4.calc_header_checksum());
                prop_assert_eq!(t.checksum, t.calc_checksum_ipv4(v4, &payload).unwrap());
            }
            NetHeaders::Ipv6(v6, _) => {
                prop_assert_eq!(IpAddr::V6(v6.source.into()), src);
                prop_assert_eq!(IpAddr::V6(v6.destination.into()), dst);
                prop_assert_eq!(v6.hop_limit, ttl);
                prop_assert_eq!(v6.next_header, IpNumber::TCP);
                prop_assert_eq!(t.checksum, t.calc_checksum_ipv6(v6, &payload).unwrap());
            }
            NetHeaders::Arp(_) => panic!("arp"),
        }
        prop_assert_eq!((t.source_port, t.destination_port), (tcp.src_port, tcp.dst_port));
        prop_assert_eq!((t.sequence_number, t.acknowledgment_number), (tcp.seq, tcp.ack));
        prop_assert_eq!(flags_of(t), tcp.flags.0);
        prop_assert_eq!((t.window_size, t.urgent_pointer), (tcp.window, tcp.urgent));
        let got = options_from_etherparse(t);
        let syn = tcp.flags.syn();
        prop_assert_eq!(got.mss, if syn { tcp.options.mss } else { None });
        prop_assert_eq!(got.window_scale, if syn { tcp.options.window_scale } else { None });
        prop_assert_eq!(got.sack_permitted, syn && tcp.options.sack_permitted);
        prop_assert_eq!(got.timestamp, tcp.options.timestamp);
        let n_sack = got.sack_blocks().len();
        prop_assert_eq!(got.sack_blocks(), &tcp.options.sack_blocks()[..n_sack]);
    }

    #[test]
    fn etherparse_parsed_by_ours(
        (src, dst) in addr_pair(),
        ttl in any::<u8>(),
        tcp in tcp_repr(),
        payload in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut h = TcpHeader::new(tcp.src_port, tcp.dst_port, tcp.seq, tcp.window);
        h.acknowledgment_number = tcp.ack;
        h.urgent_pointer = tcp.urgent;
        let f = tcp.flags;
        (h.fin, h.syn, h.rst, h.psh, h.ack, h.urg) = (f.fin(), f.syn(), f.rst(), f.psh(), f.ack(), f.urg());
        h.ece = f.contains(TcpFlags::ECE);
        h.cwr = f.contains(TcpFlags::CWR);
        // etherparse's own (non-Linux) order, padded with EOL: our parser must not care.
        let mut els = Vec::new();
        let o = &tcp.options;
        if let Some(m) = o.mss { els.push(TcpOptionElement::MaximumSegmentSize(m)); }
        if let Some(w) = o.window_scale { els.push(TcpOptionElement::WindowScale(w)); }
        if o.sack_permitted { els.push(TcpOptionElement::SelectiveAcknowledgementPermitted); }
        if let Some((a, b)) = o.timestamp { els.push(TcpOptionElement::Timestamp(a, b)); }
        let mut expected = *o;
        if let Some((first, rest)) = o.sack_blocks().split_first() {
            let mut more = [None; 3];
            for (slot, b) in more.iter_mut().zip(rest) {
                *slot = Some((b.left, b.right));
            }
            els.push(TcpOptionElement::SelectiveAcknowledgement((first.left, first.right), more));
        }
        if h.set_options(&els).is_err() {
            // Too long for 40 bytes: leave SACK out.
            els.retain(|e| !matches!(e, TcpOptionElement::SelectiveAcknowledgement(..)));
            h.set_options(&els).unwrap();
            expected.sack_len = 0;
        }
        let builder = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), ttl),
            (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), ttl),
            _ => unreachable!(),
        };
        let mut bytes = Vec::new();
        builder.tcp_header(h).write(&mut bytes, &payload).unwrap();
        let Packet::Tcp(p) = parse_packet(&bytes, true).unwrap() else { panic!("not TCP") };
        prop_assert_eq!(p.ip.src, src);
        prop_assert_eq!(p.ip.dst, dst);
        prop_assert_eq!(p.ip.ttl, ttl);
        prop_assert_eq!(p.payload, &payload[..]);
        let mut want = tcp;
        want.options = expected;
        // Unused SACK slots are not part of the parsed value.
        let mut got = p.tcp;
        let n = usize::from(got.options.sack_len);
        for s in &mut got.options.sack[n..] { *s = SackBlock::default(); }
        for s in &mut want.options.sack[usize::from(want.options.sack_len)..] { *s = SackBlock::default(); }
        prop_assert_eq!(got, want);
    }
}

#[test]
fn etherparse_accepts_our_icmp() {
    let us = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    let peer = IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9));
    let tcp = TcpRepr {
        src_port: 1234,
        dst_port: 80,
        seq: 99,
        flags: TcpFlags::SYN,
        ..Default::default()
    };
    let ip = IpRepr {
        src: us,
        dst: peer,
        protocol: 6,
        ttl: 64,
        payload_len: 0,
    };
    let mut orig = [0u8; 40];
    emit_tcp_packet(&mut orig, &ip, &tcp, 0).unwrap();
    let router = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let mut buf = [0u8; 200];
    let n = IcmpRepr::emit_packet(
        IcmpKind::PacketTooBig { mtu: 1280 },
        router,
        us,
        &orig,
        &mut buf,
    )
    .unwrap();
    let h = PacketHeaders::from_ip_slice(&buf[..n]).unwrap();
    let Some(TransportHeader::Icmpv4(icmp)) = &h.transport else {
        panic!("no ICMPv4")
    };
    let mut check = icmp.clone();
    check.update_checksum(h.payload.slice());
    assert_eq!(icmp.checksum, check.checksum);
    assert_eq!(&icmp.to_bytes()[..2], &[3, 4]);

    // And the other way: etherparse builds the ICMPv6 error, we parse it.
    let us6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
    let peer6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 9);
    let ip6 = IpRepr {
        src: IpAddr::V6(us6),
        dst: IpAddr::V6(peer6),
        ..ip
    };
    let mut orig6 = [0u8; 60];
    emit_tcp_packet(&mut orig6, &ip6, &tcp, 0).unwrap();
    let router6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    let mut bytes = Vec::new();
    PacketBuilder::ipv6(router6.octets(), us6.octets(), 64)
        .icmpv6_raw(2, 0, 1400u32.to_be_bytes())
        .write(&mut bytes, &orig6)
        .unwrap();
    let Packet::Icmp { icmp, .. } = parse_packet(&bytes, true).unwrap() else {
        panic!("not ICMP")
    };
    assert_eq!(icmp.kind, IcmpKind::PacketTooBig { mtu: 1400 });
    assert_eq!((icmp.src_port, icmp.dst_port, icmp.seq), (1234, 80, 99));
    assert_eq!(icmp.quoted_src, IpAddr::V6(us6));
}
