//! etherparse as an independent oracle for UDP and ICMP echo: for the same ports,
//! addresses and payload, the UDP datagram (header with checksum, and payload) and the
//! ICMP echo message synack-wire emits are byte for byte the ones etherparse builds, and
//! synack-wire parses etherparse's packets back to the same fields.

use etherparse::PacketBuilder;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use synack_wire::echo::EchoRepr;
use synack_wire::{emit_udp_packet, parse_udp_packet, IpRepr, UdpRepr, PROTO_UDP};

fn addrs(v6: bool, a: [u8; 4], b: [u8; 4]) -> (IpAddr, IpAddr) {
    if v6 {
        let x = |o: [u8; 4]| {
            IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                0,
                0,
                0,
                0,
                u16::from_be_bytes([o[0], o[1]]),
                u16::from_be_bytes([o[2], o[3]]),
            ))
        };
        (x(a), x(b))
    } else {
        (IpAddr::V4(Ipv4Addr::from(a)), IpAddr::V4(Ipv4Addr::from(b)))
    }
}

fn builder(src: IpAddr, dst: IpAddr) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        _ => unreachable!("same family"),
    }
}

proptest! {
    #[test]
    fn udp_matches_etherparse(
        v6 in any::<bool>(),
        a in any::<[u8; 4]>(),
        b in any::<[u8; 4]>(),
        sp in any::<u16>(),
        dp in any::<u16>(),
        payload in proptest::collection::vec(any::<u8>(), 0..1400),
    ) {
        let (src, dst) = addrs(v6, a, b);
        let ip = IpRepr { src, dst, protocol: PROTO_UDP, ttl: 64, payload_len: 0 };
        let hl = ip.header_len();
        let mut ours = vec![0u8; hl + 8 + payload.len()];
        ours[hl + 8..].copy_from_slice(&payload);
        emit_udp_packet(&mut ours, &ip, &UdpRepr { src_port: sp, dst_port: dp }, payload.len()).unwrap();
        let mut theirs = Vec::new();
        builder(src, dst).udp(sp, dp).write(&mut theirs, &payload).unwrap();
        prop_assert_eq!(&ours[hl..], &theirs[theirs.len() - 8 - payload.len()..]);
        let got = parse_udp_packet(&theirs, true).unwrap().unwrap();
        prop_assert_eq!((got.udp.src_port, got.udp.dst_port), (sp, dp));
        prop_assert_eq!(got.payload, &payload[..]);
        prop_assert_eq!((got.ip.src, got.ip.dst), (src, dst));
    }

    #[test]
    fn echo_matches_etherparse(
        v6 in any::<bool>(),
        a in any::<[u8; 4]>(),
        b in any::<[u8; 4]>(),
        ident in any::<u16>(),
        seq_no in any::<u16>(),
        request in any::<bool>(),
        data in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let (src, dst) = addrs(v6, a, b);
        let e = EchoRepr { request, ident, seq_no };
        let mut ours = vec![0u8; 40 + 8 + data.len()];
        let n = e.emit_packet(src, dst, 64, &data, &mut ours).unwrap();
        let step = builder(src, dst);
        let mut theirs = Vec::new();
        match (v6, request) {
            (false, true) => step.icmpv4_echo_request(ident, seq_no).write(&mut theirs, &data),
            (false, false) => step.icmpv4_echo_reply(ident, seq_no).write(&mut theirs, &data),
            (true, true) => step.icmpv6_echo_request(ident, seq_no).write(&mut theirs, &data),
            (true, false) => step.icmpv6_echo_reply(ident, seq_no).write(&mut theirs, &data),
        }
        .unwrap();
        let icmp_len = 8 + data.len();
        prop_assert_eq!(&ours[n - icmp_len..n], &theirs[theirs.len() - icmp_len..]);
        let (ipr, body) = IpRepr::parse(&theirs).unwrap();
        let (got, d) = EchoRepr::parse(body, ipr.src, ipr.dst).unwrap();
        prop_assert_eq!(got, e);
        prop_assert_eq!(d, &data[..]);
    }
}
