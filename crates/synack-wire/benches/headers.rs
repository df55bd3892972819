//! Per-packet header cost: parse (`parse_packet_deferred`) and emit
//! (`emit_tcp_packet_summed` after `TcpRepr::header_len`) of a TCP/IPv4 packet with a
//! 20-byte TCP header and of one carrying the Linux timestamp layout (RFC 7323
//! Appendix A), both without payload (a pure ACK); and the timestamp case over IPv6.
//!
//! A plain `main` (no criterion) so it can be run under an instruction counter:
//! `headers --case NAME --iters N` runs one case `N` times; running it with two values
//! of `N` and dividing the difference in instructions by the difference in `N` gives
//! the cost of one call. `cargo bench` (which passes `--bench`) times every case
//! briefly; `cargo test` runs every case once and checks its result.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;
use synack_wire::{
    emit_tcp_packet_summed, parse_packet_deferred, IpRepr, Packet, TcpFlags, TcpOptions, TcpRepr,
    PROTO_TCP,
};

fn ip(v6: bool) -> IpRepr {
    let (src, dst) = if v6 {
        (
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2)),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        )
    };
    IpRepr {
        src,
        dst,
        protocol: PROTO_TCP,
        ttl: 64,
        payload_len: 0,
    }
}

fn tcp(timestamps: bool) -> TcpRepr {
    TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq: 0x1234_5678,
        ack: 0x9abc_def0,
        flags: TcpFlags::ACK,
        window: 65535,
        urgent: 0,
        options: TcpOptions {
            timestamp: timestamps.then_some((1000, 2000)),
            ..TcpOptions::default()
        },
    }
}

fn packet(v6: bool, timestamps: bool) -> Vec<u8> {
    let mut buf = vec![0u8; 128];
    let n = emit_tcp_packet_summed(&mut buf, &ip(v6), &tcp(timestamps), 0, Some(0)).unwrap();
    buf.truncate(n);
    buf
}

/// One parse; returns something that depends on the whole result.
#[inline(never)]
fn parse_once(bytes: &[u8]) -> u32 {
    match parse_packet_deferred(black_box(bytes)) {
        Ok((Packet::Tcp(p), Some(h))) => {
            h ^ p.tcp.seq ^ p.tcp.options.timestamp.map_or(0, |t| t.0) ^ p.payload.len() as u32
        }
        _ => panic!("not a TCP packet"),
    }
}

/// One emit, as the engine does it: header length first, then the packet.
#[inline(never)]
fn emit_once(buf: &mut [u8], ip: &IpRepr, tcp: &TcpRepr) -> usize {
    let hlen = black_box(tcp).header_len();
    emit_tcp_packet_summed(buf, black_box(ip), black_box(tcp), 0, Some(0)).unwrap() + hlen
}

const CASES: [&str; 6] = [
    "parse-plain",
    "parse-ts",
    "parse-v6-ts",
    "emit-plain",
    "emit-ts",
    "emit-v6-ts",
];

fn run(case: &str, iters: u64) -> u64 {
    let (v6, ts) = (case.contains("-v6"), case.ends_with("-ts"));
    let bytes = packet(v6, ts);
    let (ip, tcp) = (ip(v6), tcp(ts));
    let mut buf = [0u8; 128];
    let mut acc = 0u64;
    if case.starts_with("parse") {
        for _ in 0..iters {
            acc = acc.wrapping_add(u64::from(parse_once(&bytes)));
        }
    } else {
        for _ in 0..iters {
            acc = acc.wrapping_add(emit_once(&mut buf, &ip, &tcp) as u64);
        }
        if iters > 0 {
            assert_eq!(buf[..bytes.len()], bytes[..], "{case}: emit differs");
        }
    }
    acc
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if let Some(case) = value("--case") {
        assert!(CASES.contains(&case.as_str()), "unknown case {case}");
        let iters = value("--iters").map_or(1, |n| n.parse().expect("--iters N"));
        black_box(run(&case, iters));
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test`: one pass of each case, checking the parse and the emit.
        for case in CASES {
            black_box(run(case, 1));
        }
        return;
    }
    for case in CASES {
        let iters = 2_000_000;
        let t = Instant::now();
        black_box(run(case, iters));
        let ns = t.elapsed().as_secs_f64() * 1e9 / iters as f64;
        println!("{case:12} {ns:8.1} ns/iter");
    }
}
