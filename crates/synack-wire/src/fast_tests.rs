//! The fast paths against the general ones: IPv4 parse and emit of option-less
//! headers, TCP parse (deferred checksum) and emit of segments without options or with
//! the RFC 7323 Appendix A timestamp layout, option parsing, `emitted_len`, and the
//! fixed-size checksum helpers. Inputs are random headers, valid and corrupted (bad
//! checksums, odd lengths, truncation, stray version / IHL / data offset values); the
//! fast path must give exactly the general path's result, error and bytes.

use crate::checksum::{self, fold64, words_ne};
use crate::ip::IpRepr;
use crate::ipv4::Ipv4Packet;
use crate::tcp::{parse_options, parse_options_general};
use crate::{Error, SackBlock, TcpFlags, TcpOptions, TcpRepr};
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use proptest::prelude::*;

/// A change applied to an otherwise well-formed header.
#[derive(Debug, Clone)]
enum Mutation {
    None,
    /// XOR one byte (index taken modulo the length) with a non-zero value.
    Flip(usize, u8),
    /// Cut the buffer to this length (modulo length + 1).
    Truncate(usize),
    /// Overwrite the 16-bit field at this header offset (modulo 20, even).
    SetField(usize, u16),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => Just(Mutation::None),
        2 => (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        2 => (any::<usize>(), prop_oneof![any::<u16>(), 0u16..80])
            .prop_map(|(i, v)| Mutation::SetField(i, v)),
    ]
}

/// Apply `m` to `bytes`.
fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    match *m {
        Mutation::None => {}
        Mutation::Flip(i, x) => {
            let n = bytes.len();
            if n > 0 {
                bytes[i % n] ^= x;
            }
        }
        Mutation::Truncate(n) => {
            let n = n % (bytes.len() + 1);
            bytes.truncate(n);
        }
        Mutation::SetField(i, v) => {
            let at = (i % 10) * 2;
            if bytes.len() >= at + 2 {
                bytes[at..at + 2].copy_from_slice(&v.to_be_bytes());
            }
        }
    }
}

/// Recompute the checksum of the IPv4 header at the start of `bytes`, by the 16-bit
/// reference loop, when the IHL says it is all there.
fn refill_ipv4_checksum(bytes: &mut [u8]) {
    let hlen = usize::from(bytes.first().map_or(0, |b| b & 0x0f)) * 4;
    if hlen < 20 || bytes.len() < hlen {
        return;
    }
    bytes[10] = 0;
    bytes[11] = 0;
    let c = reference_checksum(&bytes[..hlen]);
    bytes[10..12].copy_from_slice(&c.to_be_bytes());
}

/// RFC 1071 §4.1, sixteen bits at a time.
fn reference_checksum(data: &[u8]) -> u16 {
    let mut s: u64 = 0;
    for c in data.chunks(2) {
        s += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An IPv4 packet: header (IHL 5 mostly, sometimes with options), payload, trailing
/// bytes past the total length, correct checksum; then a mutation, with the checksum
/// recomputed after it or not.
fn ipv4_packet() -> impl Strategy<Value = Vec<u8>> {
    (
        (any::<[u8; 4]>(), any::<[u8; 4]>(), any::<u8>(), any::<u8>()),
        (any::<u8>(), any::<u16>()),
        prop_oneof![Just(0x4000u16), Just(0), Just(0x2000), any::<u16>()],
        prop_oneof![4 => Just(0usize), 1 => 1usize..=10],
        proptest::collection::vec(any::<u8>(), 0..48),
        proptest::collection::vec(any::<u8>(), 0..4),
        mutation(),
        any::<bool>(),
    )
        .prop_map(
            |(
                (src, dst, ttl, proto),
                (tos, ident),
                frag,
                opt_words,
                payload,
                trailer,
                m,
                refill,
            )| {
                let hlen = 20 + 4 * opt_words;
                let total = hlen + payload.len();
                let mut b = vec![0u8; total];
                b[0] = 0x40 | (hlen / 4) as u8;
                b[1] = tos;
                b[2..4].copy_from_slice(&(total as u16).to_be_bytes());
                b[4..6].copy_from_slice(&ident.to_be_bytes());
                b[6..8].copy_from_slice(&frag.to_be_bytes());
                b[8] = ttl;
                b[9] = proto;
                b[12..16].copy_from_slice(&src);
                b[16..20].copy_from_slice(&dst);
                for (i, x) in b[20..hlen].iter_mut().enumerate() {
                    *x = i as u8 | 1;
                }
                b[hlen..].copy_from_slice(&payload);
                b.extend_from_slice(&trailer);
                refill_ipv4_checksum(&mut b);
                mutate(&mut b, &m);
                if refill {
                    refill_ipv4_checksum(&mut b);
                }
                b
            },
        )
}

/// Raw TCP option bytes: none, the timestamp layout (sometimes with one byte changed),
/// or a random mix of well-formed and malformed options.
fn tcp_options_raw() -> impl Strategy<Value = Vec<u8>> {
    let one = prop_oneof![
        Just(vec![1u8]),
        Just(vec![0u8]),
        any::<u16>().prop_map(|m| vec![2, 4, (m >> 8) as u8, m as u8]),
        any::<u8>().prop_map(|w| vec![3, 3, w]),
        Just(vec![4, 2]),
        any::<[u8; 8]>().prop_map(|t| [&[8u8, 10][..], &t].concat()),
        (1usize..=4, any::<[u8; 32]>()).prop_map(|(n, d)| [
            &[5u8, (2 + 8 * n) as u8][..],
            &d[..8 * n]
        ]
        .concat()),
        proptest::collection::vec(any::<u8>(), 1..6),
    ];
    prop_oneof![
        3 => Just(Vec::new()),
        3 => (any::<u32>(), any::<u32>()).prop_map(|(v, e)| ts_layout(v, e).to_vec()),
        1 => ((any::<u32>(), any::<u32>()), 0usize..12, 1u8..=255).prop_map(|((v, e), i, x)| {
            let mut o = ts_layout(v, e);
            o[i] ^= x;
            o.to_vec()
        }),
        3 => (any::<u16>(), any::<u32>(), any::<u32>(), any::<u8>())
            .prop_map(|(m, v, e, w)| syn_layout(m, v, e, w).to_vec()),
        1 => ((any::<u16>(), any::<u32>(), any::<u32>(), any::<u8>()), 0usize..20, 1u8..=255)
            .prop_map(|((m, v, e, w), i, x)| {
                let mut o = syn_layout(m, v, e, w);
                o[i] ^= x;
                o.to_vec()
            }),
        2 => (any::<u16>(), any::<u8>()).prop_map(|(m, w)| syn_layout_no_ts(m, w).to_vec()),
        1 => ((any::<u16>(), any::<u8>()), 0usize..12, 1u8..=255).prop_map(|((m, w), i, x)| {
            let mut o = syn_layout_no_ts(m, w);
            o[i] ^= x;
            o.to_vec()
        }),
        3 => proptest::collection::vec(one, 1..6).prop_map(|v| {
            let mut o = v.concat();
            o.truncate(40);
            o
        }),
    ]
}

fn ts_layout(tsval: u32, tsecr: u32) -> [u8; 12] {
    let mut o = [1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0];
    o[4..8].copy_from_slice(&tsval.to_be_bytes());
    o[8..12].copy_from_slice(&tsecr.to_be_bytes());
    o
}

/// Linux's SYN options: MSS, SACK-permitted, timestamps, NOP, window scale.
fn syn_layout(mss: u16, tsval: u32, tsecr: u32, ws: u8) -> [u8; 20] {
    let mut o = [2, 4, 0, 0, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, ws];
    o[2..4].copy_from_slice(&mss.to_be_bytes());
    o[8..12].copy_from_slice(&tsval.to_be_bytes());
    o[12..16].copy_from_slice(&tsecr.to_be_bytes());
    o
}

/// The same without timestamps: MSS, NOP, NOP, SACK-permitted, NOP, window scale.
fn syn_layout_no_ts(mss: u16, ws: u8) -> [u8; 12] {
    let m = mss.to_be_bytes();
    [2, 4, m[0], m[1], 1, 1, 4, 2, 1, 3, 3, ws]
}

/// A TCP segment: random fixed header (checksum field random too), options padded
/// with zeros to a word, data offset to match, payload; then a mutation.
fn tcp_segment() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<[u8; 20]>(),
        tcp_options_raw(),
        proptest::collection::vec(any::<u8>(), 0..40),
        mutation(),
    )
        .prop_map(|(mut h, mut opts, payload, m)| {
            while opts.len() % 4 != 0 {
                opts.push(0);
            }
            h[12] = (((20 + opts.len()) / 4) as u8) << 4 | (h[12] & 0x0f);
            let mut b = h.to_vec();
            b.extend_from_slice(&opts);
            b.extend_from_slice(&payload);
            mutate(&mut b, &m);
            b
        })
}

fn addr_pair() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    let v4 = any::<[u8; 4]>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a)));
    let v6 = any::<[u8; 16]>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a)));
    prop_oneof![
        6 => (v4.clone(), v4.clone()),
        2 => (v6.clone(), v6.clone()),
        1 => (v4.clone(), v6.clone()),
        1 => (v6, v4),
    ]
}

fn tcp_repr(no_syn_no_sack: bool) -> impl Strategy<Value = TcpRepr> {
    (
        any::<(u16, u16, u32, u32)>(),
        any::<u8>(),
        any::<(u16, u16)>(),
        (
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u8>()),
            any::<bool>(),
            proptest::option::of(any::<(u32, u32)>()),
            proptest::collection::vec(any::<(u32, u32)>(), 0..=4),
        ),
    )
        .prop_map(
            move |((src_port, dst_port, seq, ack), flags, (window, urgent), o)| {
                let (mss, window_scale, sack_permitted, timestamp, sacks) = o;
                let mut options = TcpOptions {
                    mss,
                    window_scale,
                    sack_permitted,
                    timestamp,
                    ..TcpOptions::default()
                };
                if !no_syn_no_sack {
                    for (left, right) in sacks {
                        options.push_sack(SackBlock { left, right });
                    }
                }
                let flags = if no_syn_no_sack {
                    flags & !TcpFlags::SYN.0
                } else {
                    flags
                };
                TcpRepr {
                    src_port,
                    dst_port,
                    seq,
                    ack,
                    flags: TcpFlags(flags),
                    window,
                    urgent,
                    options,
                }
            },
        )
}

/// What the engine passes as a payload sum: none (sum it here), the right one, or any
/// 32-bit value (a caller's unfolded partial sum).
fn payload_sum_kind() -> impl Strategy<Value = (u8, u32)> {
    (0u8..3, any::<u32>())
}

/// The IPv4 arm of `IpRepr::emit` as it was written with the view's setters, the
/// oracle for the field-sum fast path.
fn ip_emit_with_setters(ip: &IpRepr, buf: &mut [u8]) -> Result<usize, Error> {
    let hlen = ip.header_len();
    if buf.len() < hlen {
        return Err(Error::BufferTooSmall {
            needed: hlen,
            got: buf.len(),
        });
    }
    match (ip.src, ip.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let total = 20 + ip.payload_len;
            let total = u16::try_from(total).map_err(|_| Error::BadLength {
                what: "IPv4 total length",
                value: total,
            })?;
            let mut p = Ipv4Packet::new_unchecked(&mut buf[..20]);
            p.set_version_and_header_len(20);
            p.set_tos(0);
            p.set_total_len(total);
            p.set_ident(0);
            p.set_frag(true, false, 0);
            p.set_ttl(ip.ttl);
            p.set_protocol(ip.protocol);
            p.set_src_addr(src);
            p.set_dst_addr(dst);
            p.fill_checksum();
            Ok(20)
        }
        _ => ip.emit(buf),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn ip_parse_fast_matches_general(p in ipv4_packet()) {
        prop_assert_eq!(IpRepr::parse(&p), IpRepr::parse_general(&p));
        if let Ok(v) = Ipv4Packet::new_checked(&p[..]) {
            let hlen = v.header_len();
            prop_assert_eq!(v.verify_checksum(), reference_checksum(&p[..hlen]) == 0);
        }
    }

    #[test]
    fn ip_parse_accepts_every_well_formed_basic_header(
        src in any::<[u8; 4]>(),
        dst in any::<[u8; 4]>(),
        ttl in any::<u8>(),
        payload_len in 0usize..100,
    ) {
        let ip = IpRepr {
            src: IpAddr::V4(src.into()),
            dst: IpAddr::V4(dst.into()),
            protocol: 6,
            ttl,
            payload_len,
        };
        let mut buf = vec![0u8; 20 + payload_len];
        prop_assert_eq!(ip.emit(&mut buf), Ok(20));
        let (parsed, payload) = IpRepr::parse(&buf).unwrap();
        prop_assert_eq!(parsed, ip);
        prop_assert_eq!(payload.len(), payload_len);
        // Any one changed byte in the header is caught by the checksum or a field check.
        for i in 0..20 {
            let mut bad = buf.clone();
            bad[i] ^= 0x10;
            prop_assert_eq!(IpRepr::parse(&bad), IpRepr::parse_general(&bad));
            prop_assert!(IpRepr::parse(&bad).is_err(), "byte {} changed, still accepted", i);
        }
    }

    #[test]
    fn ip_emit_matches_setters(
        src in any::<[u8; 4]>(),
        dst in any::<[u8; 4]>(),
        v6 in any::<[u8; 16]>(),
        family in 0u8..4,
        ttl in any::<u8>(),
        protocol in any::<u8>(),
        payload_len in prop_oneof![0usize..2000, 65_000usize..70_000],
        buf_len in 0usize..48,
        fill in any::<u8>(),
    ) {
        let (s, d) = match family {
            0 | 1 => (IpAddr::V4(src.into()), IpAddr::V4(dst.into())),
            2 => (IpAddr::V4(src.into()), IpAddr::V6(v6.into())),
            _ => (IpAddr::V6(v6.into()), IpAddr::V4(dst.into())),
        };
        let ip = IpRepr { src: s, dst: d, protocol, ttl, payload_len };
        let mut a = vec![fill; buf_len];
        let mut b = a.clone();
        prop_assert_eq!(ip.emit(&mut a), ip_emit_with_setters(&ip, &mut b));
        prop_assert_eq!(a, b);
    }

    #[test]
    fn tcp_parse_deferred_fast_matches_general(
        seg in tcp_segment(),
        (src, dst) in addr_pair(),
    ) {
        prop_assert_eq!(
            TcpRepr::parse_deferred(&seg, src, dst),
            TcpRepr::parse_deferred_general(&seg, src, dst)
        );
    }

    #[test]
    fn tcp_parse_deferred_sum_verifies_emitted_segments(
        repr in tcp_repr(false),
        (src, dst) in addr_pair(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        flip in any::<(usize, u8)>(),
    ) {
        prop_assume!(src.is_ipv4() == dst.is_ipv4());
        let hlen = repr.header_len();
        let mut buf = vec![0u8; hlen + payload.len()];
        buf[hlen..].copy_from_slice(&payload);
        repr.emit(&mut buf, payload.len(), src, dst).unwrap();
        let (parsed, rest, h) = TcpRepr::parse_deferred(&buf, src, dst).unwrap();
        prop_assert_eq!(Ok((parsed, rest, h)), TcpRepr::parse_deferred_general(&buf, src, dst));
        prop_assert_eq!(rest, &payload[..]);
        prop_assert_eq!(checksum::finish(checksum::combine(h, checksum::sum(rest))), 0);
        // One changed header byte: both paths agree, and the sum no longer verifies
        // unless the parse itself fails.
        let (i, x) = (flip.0 % hlen, flip.1 | 1);
        buf[i] ^= x;
        let fast = TcpRepr::parse_deferred(&buf, src, dst);
        prop_assert_eq!(fast, TcpRepr::parse_deferred_general(&buf, src, dst));
        if let Ok((_, rest, h)) = fast {
            prop_assert_ne!(checksum::finish(checksum::combine(h, checksum::sum(rest))), 0);
        }
    }

    #[test]
    fn parse_options_fast_matches_general(raw in tcp_options_raw()) {
        prop_assert_eq!(parse_options(&raw), parse_options_general(&raw));
    }

    #[test]
    fn tcp_emit_fast_matches_general(
        repr in prop_oneof![tcp_repr(true), tcp_repr(false)],
        (src, dst) in addr_pair(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        slack in -40isize..8,
        (kind, any_sum) in payload_sum_kind(),
        fill in any::<u8>(),
    ) {
        let hlen = repr.options.emitted_len_general(repr.flags.syn()) + 20;
        let len = (hlen + payload.len()) as isize + slack;
        let mut a = vec![fill; len.max(0) as usize];
        let n = payload.len().min(a.len().saturating_sub(hlen));
        if a.len() > hlen {
            a[hlen..hlen + n].copy_from_slice(&payload[..n]);
        }
        let mut b = a.clone();
        let sum = match kind {
            0 => None,
            1 => Some(checksum::sum(&payload)),
            _ => Some(any_sum),
        };
        prop_assert_eq!(
            repr.emit_summed(&mut a, payload.len(), src, dst, sum),
            repr.emit_summed_general(&mut b, payload.len(), src, dst, sum)
        );
        prop_assert_eq!(a, b);
    }

    #[test]
    fn tcp_emit_syn_fast_matches_general(
        repr in tcp_repr(false),
        (src, dst) in addr_pair(),
        payload in proptest::collection::vec(any::<u8>(), 0..16),
        (kind, any_sum) in payload_sum_kind(),
    ) {
        // The common SYN (no SACK blocks, no Fast Open) and its own emit path; the
        // bytes parse back the same way on both parse paths.
        let mut repr = repr;
        repr.flags = TcpFlags(repr.flags.0 | TcpFlags::SYN.0);
        repr.options.sack_len = 0;
        let hlen = repr.options.emitted_len_general(true) + 20;
        prop_assert_eq!(repr.options.emitted_len(true) + 20, hlen);
        let mut a = vec![0u8; hlen + payload.len()];
        a[hlen..].copy_from_slice(&payload);
        let mut b = a.clone();
        let sum = match kind {
            0 => None,
            1 => Some(checksum::sum(&payload)),
            _ => Some(any_sum),
        };
        let r = repr.emit_summed(&mut a, payload.len(), src, dst, sum);
        prop_assert_eq!(r, repr.emit_summed_general(&mut b, payload.len(), src, dst, sum));
        prop_assert_eq!(&a, &b);
        if r.is_ok() {
            prop_assert_eq!(
                TcpRepr::parse_deferred(&a, src, dst),
                TcpRepr::parse_deferred_general(&a, src, dst)
            );
        }
    }

    #[test]
    fn emitted_len_fast_matches_general(
        repr in tcp_repr(false),
        sack_len in prop_oneof![Just(None), any::<u8>().prop_map(Some)],
        syn in any::<bool>(),
    ) {
        let mut o = repr.options;
        if let Some(n) = sack_len {
            o.sack_len = n;
        }
        prop_assert_eq!(o.emitted_len(syn), o.emitted_len_general(syn));
    }

    #[test]
    fn header_words_match_sum(h20 in any::<[u8; 20]>(), h32 in any::<[u8; 32]>(), h60 in any::<[u8; 60]>()) {
        prop_assert_eq!(u32::from(u16::from_be(fold64(words_ne(&h20)))), checksum::sum(&h20));
        prop_assert_eq!(u32::from(u16::from_be(fold64(words_ne(&h32)))), checksum::sum(&h32));
        prop_assert_eq!(u32::from(u16::from_be(fold64(words_ne(&h60)))), checksum::sum(&h60));
        prop_assert_eq!(!u16::from_be(fold64(words_ne(&h20))), reference_checksum(&h20));
    }
}

#[test]
fn empty_sum_is_zero() {
    assert_eq!(checksum::sum(&[]), 0);
    assert_eq!(checksum::checksum(&[]), 0xffff);
}
