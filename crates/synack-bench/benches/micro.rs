//! Criterion micro-benchmarks of the hot path: the Internet checksum (alone, and fused
//! with the payload copy against a copy then a sum), 64 KiB copies into a ring, TCP
//! header parse
//! and emit, and one in-order data segment through an established connection
//! (`handle_packet`, then `poll_transmit` of the ACK it causes, then the read).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::cell::Cell;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack_core::{Config, Instant, Stack};
use synack_wire::{
    checksum, emit_tcp_packet, parse_packet, IpRepr, Packet, TcpFlags, TcpOptions, TcpRepr,
    PROTO_TCP,
};

const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const US: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1));

fn bench_checksum(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum");
    for size in [64usize, 1500, 65536] {
        let data: Vec<u8> = (0..size).map(|i| (i * 31 + 7) as u8).collect();
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("{size} B"), |b| {
            b.iter(|| checksum::checksum(black_box(&data)))
        });
        // What the engine does with a payload: copy it and sum it, fused or not.
        let mut out = vec![0u8; size];
        g.bench_function(format!("copy and sum {size} B, one pass"), |b| {
            b.iter(|| checksum::copy_and_sum(&mut out, black_box(&data)))
        });
        g.bench_function(format!("copy then sum {size} B, two passes"), |b| {
            b.iter(|| {
                out.copy_from_slice(black_box(&data));
                checksum::sum(&out)
            })
        });
    }
    g.finish();
}

/// 64 KiB copies between page-aligned buffers: glibc `memcpy` (`copy_from_slice`) with
/// the destination 16 bytes after the source's offset within a page, and 64 bytes
/// before it, against `synack_core::buffer::copy_bytes` (the rings' piecewise copy) at
/// the bad offset.
fn bench_copy(c: &mut Criterion) {
    const N: usize = 64 * 1024;
    let mut g = c.benchmark_group("copy 64 KiB");
    g.throughput(Throughput::Bytes(N as u64));
    let mut src = vec![7u8; N + 8192];
    let mut dst = vec![0u8; N + 8192];
    let align = |v: &[u8]| (4096 - v.as_ptr() as usize % 4096) % 4096;
    let (sa, da) = (align(&src), align(&dst));
    src.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
    // Destination at page offset 16 or 4032; source at page offset 0.
    for (name, d) in [
        ("memcpy, dst 16 B after src (mod 4 KiB)", 16usize),
        ("memcpy, dst 64 B before src (mod 4 KiB)", 4096 - 64),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                dst[da + d..da + d + N].copy_from_slice(black_box(&src[sa..sa + N]));
            })
        });
    }
    g.bench_function("copy_bytes, dst 16 B after src (mod 4 KiB)", |b| {
        b.iter(|| {
            synack_core::buffer::copy_bytes(
                &mut dst[da + 16..da + 16 + N],
                black_box(&src[sa..sa + N]),
            );
        })
    });
    g.finish();
}

fn data_repr(seq: u32, ack: u32) -> TcpRepr {
    TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq,
        ack,
        flags: TcpFlags::ACK | TcpFlags::PSH,
        window: 1024,
        urgent: 0,
        options: TcpOptions {
            timestamp: Some((1, 2)),
            ..TcpOptions::default()
        },
    }
}

fn bench_tcp_header(c: &mut Criterion) {
    let repr = data_repr(1000, 2000);
    let mut seg = vec![0u8; repr.header_len() + 1448];
    let n = repr.emit(&mut seg, 1448, PEER, US).expect("emit");
    let mut g = c.benchmark_group("tcp header");
    g.bench_function("parse (no checksum)", |b| {
        b.iter(|| {
            TcpRepr::parse(black_box(&seg[..n]), PEER, US, false).map(|(r, p)| (r.seq, p.len()))
        })
    });
    g.bench_function("parse + verify 1448 B checksum", |b| {
        b.iter(|| {
            TcpRepr::parse(black_box(&seg[..n]), PEER, US, true).map(|(r, p)| (r.seq, p.len()))
        })
    });
    let mut out = vec![0u8; 64];
    g.bench_function("emit header (no payload)", |b| {
        b.iter(|| black_box(&repr).emit(&mut out, 0, PEER, US))
    });
    g.finish();
}

/// A stack with one ESTABLISHED connection from PEER (handshake done by hand, no
/// timestamps, ACK at once). Returns the stack, the handle, the next peer sequence
/// number and the ACK number the peer sends.
fn established() -> (Stack, synack_core::ConnHandle, u32, u32) {
    let cfg = Config {
        delayed_ack: None,
        timestamps: false,
        ..Config::default()
    };
    let mut s = Stack::new(cfg, [7; 16]);
    s.add_address(US);
    let l = s.listen(SocketAddr::new(US, 80), 0).expect("listen");
    let now = Instant::from_millis(1);
    let mut pkt = vec![0u8; 2048];
    let send = |s: &mut Stack, pkt: &mut Vec<u8>, repr: &TcpRepr, len: usize| {
        let ip = IpRepr {
            src: PEER,
            dst: US,
            protocol: PROTO_TCP,
            ttl: 64,
            payload_len: 0,
        };
        let n = emit_tcp_packet(pkt, &ip, repr, len).expect("emit");
        s.handle_packet(now, &pkt[..n]);
    };
    let syn = TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq: 5000,
        flags: TcpFlags::SYN,
        window: 65535,
        options: TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            ..TcpOptions::default()
        },
        ..TcpRepr::default()
    };
    send(&mut s, &mut pkt, &syn, 0);
    let mut out = vec![0u8; s.max_packet_size()];
    let t = s.poll_transmit(now, &mut out).expect("syn-ack");
    let iss = match parse_packet(&out[..t.len], true) {
        Ok(Packet::Tcp(p)) => p.tcp.seq,
        _ => panic!("no SYN-ACK"),
    };
    let ack = TcpRepr {
        seq: 5001,
        ack: iss.wrapping_add(1),
        flags: TcpFlags::ACK,
        window: 1024,
        options: TcpOptions::default(),
        ..syn
    };
    send(&mut s, &mut pkt, &ack, 0);
    while s.poll_transmit(now, &mut out).is_some() {}
    let h = s.accept(l).expect("accepted");
    (s, h, 5001, iss.wrapping_add(1))
}

fn bench_segment(c: &mut Criterion) {
    let (mut stack, h, seq0, ack) = established();
    let seq = Cell::new(seq0);
    let mut out = vec![0u8; stack.max_packet_size()];
    let mut read = vec![0u8; 4096];
    let mut g = c.benchmark_group("established");
    g.throughput(Throughput::Bytes(1448));
    g.bench_function("1448 B data segment in, ACK out", |b| {
        b.iter_batched_ref(
            || {
                // The next in-order segment (built outside the timed part).
                let repr = TcpRepr {
                    options: TcpOptions::default(),
                    ..data_repr(seq.get(), ack)
                };
                seq.set(seq.get().wrapping_add(1448));
                let ip = IpRepr {
                    src: PEER,
                    dst: US,
                    protocol: PROTO_TCP,
                    ttl: 64,
                    payload_len: 0,
                };
                let mut pkt = vec![0u8; 1500];
                let n = emit_tcp_packet(&mut pkt, &ip, &repr, 1448).expect("emit");
                pkt.truncate(n);
                pkt
            },
            |pkt| {
                let now = Instant::from_millis(2);
                stack.handle_packet(now, pkt);
                let mut acks = 0;
                while stack.poll_transmit(now, &mut out).is_some() {
                    acks += 1;
                }
                while stack.poll_event().is_some() {}
                let got = stack.recv(h, &mut read).unwrap_or(0);
                assert_eq!(
                    (acks, got),
                    (1, 1448),
                    "one ACK per segment, data delivered"
                );
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_checksum,
    bench_copy,
    bench_tcp_header,
    bench_segment
);
criterion_main!(benches);
