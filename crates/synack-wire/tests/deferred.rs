//! Checksums computed while copying: `emit_tcp_packet_summed` with a payload sum from
//! `copy_and_sum` writes the same bytes as `emit_tcp_packet`, and
//! `parse_packet_deferred` hands back a header sum that, with the payload's sum,
//! verifies exactly the packets `parse_packet` accepts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use synack_wire::checksum::{self, copy_and_sum};
use synack_wire::{
    emit_tcp_packet, emit_tcp_packet_summed, parse_packet, parse_packet_deferred, IpRepr, Packet,
    TcpFlags, TcpOptions, TcpRepr, PROTO_TCP,
};

fn packet(src: IpAddr, dst: IpAddr, payload: &[u8], summed: bool) -> Vec<u8> {
    let ip = IpRepr {
        src,
        dst,
        protocol: PROTO_TCP,
        ttl: 64,
        payload_len: 0,
    };
    let options = TcpOptions {
        timestamp: Some((7, 9)),
        ..TcpOptions::default()
    };
    let tcp = TcpRepr {
        src_port: 4321,
        dst_port: 80,
        seq: 0xdead_beef,
        ack: 17,
        flags: TcpFlags::ACK | TcpFlags::PSH,
        window: 512,
        urgent: 0,
        options,
    };
    let start = ip.header_len() + tcp.header_len();
    let mut buf = vec![0u8; start + payload.len()];
    let len = if summed {
        let s = copy_and_sum(&mut buf[start..], payload);
        emit_tcp_packet_summed(&mut buf, &ip, &tcp, payload.len(), Some(s)).unwrap()
    } else {
        buf[start..].copy_from_slice(payload);
        emit_tcp_packet(&mut buf, &ip, &tcp, payload.len()).unwrap()
    };
    buf.truncate(len);
    buf
}

fn addrs() -> [(IpAddr, IpAddr); 2] {
    [
        (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)),
        ),
        (
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
        ),
    ]
}

fn verifies(bytes: &[u8]) -> Option<bool> {
    let (p, header_sum) = parse_packet_deferred(bytes).ok()?;
    let Packet::Tcp(p) = p else { return None };
    let mut copy = vec![0u8; p.payload.len()];
    let s = copy_and_sum(&mut copy, p.payload);
    assert_eq!(copy, p.payload);
    Some(checksum::finish(checksum::combine(header_sum?, s)) == 0)
}

#[test]
fn summed_emit_writes_the_same_bytes() {
    let payload: Vec<u8> = (0..3001u32).map(|i| (i * 31 + 7) as u8).collect();
    for (src, dst) in addrs() {
        for len in [0, 1, 2, 3, 127, 128, 1448, 3001] {
            let a = packet(src, dst, &payload[..len], false);
            let b = packet(src, dst, &payload[..len], true);
            assert_eq!(a, b, "len {len}");
            assert!(parse_packet(&a, true).is_ok());
        }
    }
}

#[test]
fn deferred_sum_accepts_good_and_rejects_every_flipped_bit() {
    let payload: Vec<u8> = (0..300u32).map(|i| (i * 13 + 1) as u8).collect();
    for (src, dst) in addrs() {
        let good = packet(src, dst, &payload, false);
        assert_eq!(verifies(&good), Some(true));
        let ip_hlen = if src.is_ipv4() { 20 } else { 40 };
        // Every bit of the TCP header and payload (the IP header is covered by the IPv4
        // header checksum or, for IPv6, by the pseudo-header addresses).
        for at in ip_hlen..good.len() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[at] ^= 1 << bit;
                let strict = parse_packet(&bad, true);
                let deferred = verifies(&bad);
                match strict {
                    Ok(_) => assert_eq!(deferred, Some(true), "byte {at} bit {bit}"),
                    Err(_) => assert_ne!(deferred, Some(true), "byte {at} bit {bit}"),
                }
            }
        }
    }
}
