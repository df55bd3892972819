//! Helpers shared by the integration tests: an independent, deliberately naive
//! Internet checksum (RFC 1071 §4.1 16-bit loop) and packet builders that do not use
//! the crate's emit code.

#![allow(dead_code)]

use std::net::IpAddr;

/// RFC 1071 §4.1 reference: sum 16-bit big-endian words, fold, complement.
pub(crate) fn ref_checksum(chunks: &[&[u8]]) -> u16 {
    let mut bytes = Vec::new();
    for c in chunks {
        bytes.extend_from_slice(c);
    }
    let mut s: u64 = 0;
    let mut i = 0;
    while i + 1 < bytes.len() {
        s += u64::from(u16::from_be_bytes([bytes[i], bytes[i + 1]]));
        i += 2;
    }
    if i < bytes.len() {
        s += u64::from(bytes[i]) << 8;
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Pseudo-header bytes (RFC 9293 §3.1 / RFC 8200 §8.1).
pub(crate) fn pseudo(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> Vec<u8> {
    let mut v = Vec::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            v.extend_from_slice(&s.octets());
            v.extend_from_slice(&d.octets());
            v.push(0);
            v.push(proto);
            v.extend_from_slice(&(len as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            v.extend_from_slice(&s.octets());
            v.extend_from_slice(&d.octets());
            v.extend_from_slice(&(len as u32).to_be_bytes());
            v.extend_from_slice(&[0, 0, 0, proto]);
        }
        _ => panic!("mixed families"),
    }
    v
}

/// Build an IPv4 header by hand (DF set, id 0) with a reference checksum.
pub(crate) fn ipv4_header(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    ttl: u8,
    payload_len: usize,
) -> Vec<u8> {
    let total = (20 + payload_len) as u16;
    let mut h = vec![0x45, 0x00];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0x40, 0x00, ttl, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let c = ref_checksum(&[&h]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

/// Build an IPv6 header by hand.
pub(crate) fn ipv6_header(
    src: [u8; 16],
    dst: [u8; 16],
    next: u8,
    hops: u8,
    payload_len: usize,
) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(payload_len as u16).to_be_bytes());
    h.push(next);
    h.push(hops);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h
}

/// Build a TCP segment by hand: header fields, raw options (already padded) and
/// payload, with a reference checksum over the pseudo-header.
#[allow(clippy::too_many_arguments)]
pub(crate) fn tcp_segment(
    src: IpAddr,
    dst: IpAddr,
    ports: (u16, u16),
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let mut t = Vec::new();
    t.extend_from_slice(&ports.0.to_be_bytes());
    t.extend_from_slice(&ports.1.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.push((((20 + options.len()) / 4) as u8) << 4);
    t.push(flags);
    t.extend_from_slice(&window.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(options);
    t.extend_from_slice(payload);
    let ph = pseudo(src, dst, 6, t.len());
    let c = ref_checksum(&[&ph, &t]);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    t
}
