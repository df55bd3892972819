//! Target `wire`: the parsers of synack-wire on arbitrary bytes, and emit → parse
//! round trips.
//!
//! The first byte picks the mode; the rest is either a packet (parsed as IPv4/IPv6,
//! with TCP and ICMP inside, through every entry point: views, reprs, the whole-packet
//! parsers with and without deferred checksums) or a structured header description
//! (`arbitrary`) that is emitted and parsed back.

use arbitrary::{Arbitrary, Unstructured};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use synack_wire::checksum;
use synack_wire::icmp::{IcmpKind, IcmpRepr};
use synack_wire::{
    emit_tcp_packet, parse_packet, parse_packet_deferred, tcp, IpRepr, Ipv4Packet, Ipv6Packet,
    Packet, SackBlock, TcpFlags, TcpOptions, TcpRepr, TcpSegment,
};

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 | 1 => parse_bytes(rest),
        2 => {
            if let Ok(h) = Headers::arbitrary_take_rest(Unstructured::new(rest)) {
                round_trip(&h);
            }
        }
        _ => {
            if let Ok(e) = IcmpInput::arbitrary_take_rest(Unstructured::new(rest)) {
                icmp_round_trip(&e);
            }
        }
    }
}

/// Every parser over the same bytes; the whole-packet parsers must agree with each
/// other, and a TCP packet that parses must survive emit → parse.
fn parse_bytes(bytes: &[u8]) {
    if let Ok(v4) = Ipv4Packet::new_checked(bytes) {
        let _ = (
            v4.version(),
            v4.header_len(),
            v4.total_len(),
            v4.frag_offset(),
        );
        let _ = (
            v4.src_addr(),
            v4.dst_addr(),
            v4.verify_checksum(),
            v4.options(),
        );
        let _ = v4.payload().len();
    }
    if let Ok(v6) = Ipv6Packet::new_checked(bytes) {
        let _ = (
            v6.payload_len(),
            v6.next_header(),
            v6.src_addr(),
            v6.dst_addr(),
        );
        let _ = synack_wire::ipv6::walk_extensions(v6.next_header(), v6.payload());
    }
    if let Ok(seg) = TcpSegment::new_checked(bytes) {
        let _ = (seg.header_len(), seg.flags(), seg.payload().len());
        for o in tcp::options_iter(seg.options()) {
            let _ = o;
        }
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let _ = seg.verify_checksum(a, a);
    }
    let checked = parse_packet(bytes, true);
    let unchecked = parse_packet(bytes, false);
    let deferred = parse_packet_deferred(bytes);
    match (&checked, &unchecked) {
        (Ok(Packet::Tcp(c)), Ok(Packet::Tcp(u))) => {
            assert_eq!(c.tcp, u.tcp, "checked and unchecked TCP parses differ");
            assert_eq!(c.payload, u.payload);
        }
        (Ok(_), Err(e)) => panic!("verified parse passed, unverified failed: {e:?}"),
        _ => {}
    }
    match (&unchecked, &deferred) {
        (Ok(Packet::Tcp(u)), Ok((Packet::Tcp(d), Some(sum)))) => {
            assert_eq!(u.tcp, d.tcp, "deferred and direct TCP parses differ");
            assert_eq!(u.ip, d.ip);
            assert_eq!(u.payload, d.payload);
            // RFC 9293 §3.1: the deferred sum completes to the same verdict.
            let ok = checksum::finish(checksum::combine(*sum, checksum::sum(d.payload))) == 0;
            assert_eq!(
                ok,
                matches!(checked, Ok(Packet::Tcp(_))),
                "deferred checksum verdict differs from the verified parse"
            );
        }
        (Ok(Packet::Tcp(_)), other) => panic!("direct parse is TCP, deferred gave {other:?}"),
        (Err(a), Ok((Packet::Tcp(_), _))) => panic!("direct parse failed ({a:?}), deferred is TCP"),
        _ => {}
    }
    if let Ok(Packet::Tcp(p)) = unchecked {
        reemit(&p.ip, &p.tcp, p.payload);
    }
}

/// Emit a parsed packet and parse it back: the fields survive (the options as the
/// emitter lays them out), and a second round gives the same bytes.
fn reemit(ip: &IpRepr, t: &TcpRepr, payload: &[u8]) {
    let Some(first) = emit(ip, t, payload) else {
        return;
    };
    let Ok(Packet::Tcp(p)) = parse_packet(&first, true) else {
        panic!(
            "emitted packet does not parse: {:?}",
            parse_packet(&first, true)
        );
    };
    assert_eq!(p.payload, payload);
    assert_eq!((p.tcp.src_port, p.tcp.dst_port), (t.src_port, t.dst_port));
    assert_eq!((p.tcp.seq, p.tcp.ack, p.tcp.flags), (t.seq, t.ack, t.flags));
    assert_eq!((p.tcp.window, p.tcp.urgent), (t.window, t.urgent));
    assert_eq!(p.tcp.options.timestamp, t.options.timestamp);
    if t.flags.syn() {
        assert_eq!(p.tcp.options.mss, t.options.mss);
        assert_eq!(p.tcp.options.window_scale, t.options.window_scale);
        assert_eq!(p.tcp.options.sack_permitted, t.options.sack_permitted);
    }
    let kept = p.tcp.options.sack_blocks();
    assert!(
        t.options.sack_blocks().starts_with(kept),
        "SACK blocks changed"
    );
    assert_eq!((p.ip.src, p.ip.dst, p.ip.ttl), (ip.src, ip.dst, ip.ttl));
    let second = emit(&p.ip, &p.tcp, p.payload).expect("re-emit");
    assert_eq!(first, second, "emit is not stable across a parse");
}

fn emit(ip: &IpRepr, t: &TcpRepr, payload: &[u8]) -> Option<Vec<u8>> {
    let hlen = ip.header_len() + t.header_len();
    let mut buf = vec![0u8; hlen + payload.len()];
    buf[hlen..].copy_from_slice(payload);
    let n = emit_tcp_packet(&mut buf, ip, t, payload.len()).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// A TCP/IP header described field by field, for the emit → parse direction.
#[derive(Debug, Arbitrary)]
struct Headers {
    v6: bool,
    src: [u8; 16],
    dst: [u8; 16],
    ttl: u8,
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    urgent: u16,
    mss: Option<u16>,
    window_scale: Option<u8>,
    sack_permitted: bool,
    timestamp: Option<(u32, u32)>,
    sack: Vec<(u32, u32)>,
    payload: Vec<u8>,
}

fn addr(v6: bool, b: [u8; 16]) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(b))
    } else {
        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }
}

fn round_trip(h: &Headers) {
    let mut options = TcpOptions {
        mss: h.mss,
        window_scale: h.window_scale,
        sack_permitted: h.sack_permitted,
        timestamp: h.timestamp,
        ..TcpOptions::default()
    };
    for &(left, right) in &h.sack {
        options.push_sack(SackBlock { left, right });
    }
    let t = TcpRepr {
        src_port: h.src_port,
        dst_port: h.dst_port,
        seq: h.seq,
        ack: h.ack,
        flags: TcpFlags(h.flags),
        window: h.window,
        urgent: h.urgent,
        options,
    };
    let ip = IpRepr {
        src: addr(h.v6, h.src),
        dst: addr(h.v6, h.dst),
        protocol: synack_wire::PROTO_TCP,
        ttl: h.ttl,
        payload_len: 0,
    };
    let payload = &h.payload[..h.payload.len().min(2000)];
    reemit(&ip, &t, payload);
}

/// An ICMP error to emit and parse back.
#[derive(Debug, Arbitrary)]
struct IcmpInput {
    v6: bool,
    src: [u8; 16],
    dst: [u8; 16],
    kind: u8,
    code: u8,
    mtu: u16,
    quoted: Vec<u8>,
}

fn icmp_round_trip(e: &IcmpInput) {
    let kind = match e.kind % 3 {
        0 => IcmpKind::DestUnreachable {
            code: e.code,
            hard: false,
        },
        1 => IcmpKind::PacketTooBig {
            mtu: u32::from(e.mtu),
        },
        _ => IcmpKind::TimeExceeded,
    };
    let (src, dst) = (addr(e.v6, e.src), addr(e.v6, e.dst));
    let mut buf = vec![0u8; 60 + 8 + e.quoted.len()];
    let Ok(n) = IcmpRepr::emit_packet(kind, src, dst, &e.quoted, &mut buf) else {
        return;
    };
    // The quoted bytes may or may not be a TCP header; either way parsing must not
    // panic, and when it yields an error about TCP, it is the error that was emitted.
    match parse_packet(&buf[..n], true) {
        Ok(Packet::Icmp { icmp, .. }) => {
            let same = match (kind, icmp.kind) {
                (
                    IcmpKind::DestUnreachable { code: a, .. },
                    IcmpKind::DestUnreachable { code: b, .. },
                ) => a == b,
                // IPv4 "fragmentation needed" is destination unreachable code 4.
                (IcmpKind::DestUnreachable { code: 4, .. }, IcmpKind::PacketTooBig { .. }) => !e.v6,
                (IcmpKind::PacketTooBig { mtu: a }, IcmpKind::PacketTooBig { mtu: b }) => a == b,
                (IcmpKind::TimeExceeded, IcmpKind::TimeExceeded) => true,
                _ => false,
            };
            assert!(same, "emitted {kind:?}, parsed {:?}", icmp.kind);
        }
        Ok(_) => {}
        Err(err) => {
            // The outer packet was built by the emitter: only the quoted part (a
            // truncated or foreign header) can be at fault.
            assert!(
                IpRepr::parse(&buf[..n]).is_ok(),
                "emitted ICMP error has a bad outer header: {err:?}"
            );
        }
    }
}
