//! The TCP Fast Open option (RFC 7413 §4.1.1) on the wire: Linux's layout (after
//! window scale, padded with two NOPs to a word), both encodings, and parsing back.

use core::net::{IpAddr, Ipv4Addr};
use synack_wire::{FastOpenOption, TcpFlags, TcpOptions, TcpRepr};

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1));

fn syn(fo: FastOpenOption) -> TcpRepr {
    TcpRepr {
        src_port: 40000,
        dst_port: 8080,
        seq: 1,
        flags: TcpFlags::SYN,
        window: 65535,
        options: TcpOptions {
            mss: Some(1460),
            window_scale: Some(8),
            sack_permitted: true,
            fast_open: Some(fo),
            ..TcpOptions::default()
        },
        ..TcpRepr::default()
    }
}

/// Emit, return the option bytes after `<mss>,nop,nop,sackOK,nop,wscale` (12 bytes),
/// and check the segment parses back to the same option.
fn fo_bytes(fo: FastOpenOption) -> Vec<u8> {
    let repr = syn(fo);
    let mut buf = vec![0u8; 80];
    let n = repr.emit(&mut buf, 0, A, B).expect("emit");
    assert_eq!(n, repr.header_len());
    let (back, _) = TcpRepr::parse(&buf[..n], A, B, true).expect("parse");
    assert_eq!(back.options.fast_open, Some(fo));
    buf[20 + 12..n].to_vec()
}

#[test]
fn layouts_as_linux_writes_them() {
    // A request: kind 34, length 2, then two NOPs.
    assert_eq!(fo_bytes(FastOpenOption::request(false)), [34, 2, 1, 1]);
    // The experimental request: kind 254, length 4, magic 0xF989.
    assert_eq!(
        fo_bytes(FastOpenOption::request(true)),
        [254, 4, 0xF9, 0x89]
    );
    // An 8-byte cookie: 10 bytes and two NOPs.
    let c8 = [0x30, 0x21, 0xb9, 0xd8, 0x89, 0x01, 0x7e, 0xeb];
    let fo = FastOpenOption::with_cookie(&c8, false).expect("cookie");
    let mut want = vec![34, 10];
    want.extend_from_slice(&c8);
    want.extend_from_slice(&[1, 1]);
    assert_eq!(fo_bytes(fo), want);
    // A 6-byte cookie fills its words exactly.
    let fo = FastOpenOption::with_cookie(&[1, 2, 3, 4, 5, 6], false).expect("cookie");
    assert_eq!(fo_bytes(fo), [34, 8, 1, 2, 3, 4, 5, 6]);
    // The experimental form with 8 bytes: 12 bytes, no padding.
    let fo = FastOpenOption::with_cookie(&c8, true).expect("cookie");
    assert_eq!(fo_bytes(fo).len(), 12);
}

#[test]
fn only_linux_cookie_lengths() {
    assert!(FastOpenOption::with_cookie(&[1, 2], false).is_none());
    assert!(FastOpenOption::with_cookie(&[1, 2, 3, 4, 5], false).is_none());
    assert!(FastOpenOption::with_cookie(&[0; 18], false).is_none());
    assert!(FastOpenOption::with_cookie(&[0; 16], false).is_some());
}

#[test]
fn not_on_other_segments_and_bad_forms_ignored() {
    // RFC 7413 §4.1.1: only in a SYN; elsewhere it is not emitted.
    let mut ack = syn(FastOpenOption::request(false));
    ack.flags = TcpFlags::ACK;
    assert_eq!(ack.header_len(), 20);
    // A kind-254 option with another magic, or an odd cookie, is not Fast Open.
    for raw in [&[254u8, 4, 0x12, 0x34][..], &[34, 5, 1, 2, 3]] {
        let mut seg = vec![0u8; 20];
        seg[12] = 0x60;
        seg[13] = 0x02;
        let mut opts = raw.to_vec();
        while opts.len() % 4 != 0 {
            opts.push(1);
        }
        seg[12] = (((20 + opts.len()) / 4) << 4) as u8;
        seg.extend_from_slice(&opts);
        let (r, _) = TcpRepr::parse(&seg, A, B, false).expect("parse");
        assert_eq!(r.options.fast_open, None);
    }
}
