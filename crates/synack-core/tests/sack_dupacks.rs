//! Loss detection against receivers that grow their window while they report holes
//! (Linux does, with every read): with SACK, an ACK that reports new out-of-order data
//! is a duplicate ACK whatever its window (RFC 6675 §2), and limited transmit (RFC
//! 3042 §2) sends new data on the first two duplicate ACKs. Found by the interop tests
//! against the Linux kernel under loss, where each lost segment otherwise cost an RTO.

mod common;
use common::*;
use synack_core::Config;
use synack_wire::{SackBlock, TcpOptions};

fn cfg() -> Config {
    Config {
        timestamps: false,
        nagle: false,
        ..quick_cfg()
    }
}

/// A passive connection whose peer offered SACK.
fn sack_conn(t: &mut Lone) -> Est {
    let l = t.listen80();
    let local = t.local(80);
    let a = 1000u32;
    let mut syn = tcp(SYN, a, 0, 65535);
    syn.options = TcpOptions {
        mss: Some(1460),
        sack_permitted: true,
        ..TcpOptions::default()
    };
    let out = t.inject(local, syn, &[]);
    assert!(out[0].tcp.options.sack_permitted, "SACK accepted");
    let b = out[0].seq();
    t.advance(ms(10));
    none(&t.inject(local, tcp(ACK, a + 1, b.wrapping_add(1), 65535), &[]));
    let h = t.stack.accept(l).expect("accepted");
    events(&mut t.stack);
    Est {
        h,
        local,
        p_nxt: a + 1,
        s_nxt: b.wrapping_add(1),
        irs: a,
        iss: b,
    }
}

fn sack_ack(e: &Est, ack: u32, window: u16, left: u32, right: u32) -> synack_wire::TcpRepr {
    let mut r = tcp(ACK, e.p_nxt, ack, window);
    r.options.sack[0] = SackBlock { left, right };
    r.options.sack_len = 1;
    r
}

#[test]
fn sack_acks_count_as_duplicates_even_when_the_window_grows() {
    let mut t = Lone::new(cfg());
    let e = sack_conn(&mut t);
    let mss = 1460u32;
    t.stack.send(e.h, &vec![7u8; 10 * mss as usize]).unwrap();
    assert_eq!(t.out().len(), 10);
    let s = e.s_nxt;
    // The first segment is lost; each later arrival is reported with a growing SACK
    // block and a growing window.
    for (i, w) in [(2u32, 60000u16), (3, 60100), (4, 60200)] {
        let out = t.inject(e.local, sack_ack(&e, s, w, s + mss, s + i * mss), &[]);
        if i == 4 {
            let r = one(&out, ACK, s, e.p_nxt);
            assert_eq!(r.payload.len(), mss as usize, "fast retransmit of the hole");
        }
    }
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.stats.fast_retransmits, 1);
    assert_eq!(info.stats.timeouts, 0);
}

#[test]
fn repeated_sack_information_is_not_a_new_duplicate() {
    let mut t = Lone::new(cfg());
    let e = sack_conn(&mut t);
    let mss = 1460u32;
    t.stack.send(e.h, &vec![7u8; 10 * mss as usize]).unwrap();
    t.out();
    let s = e.s_nxt;
    // The same SACK block three times, each with another window (window updates
    // while the hole is open), one RTT after the data left: one new report only, no
    // fast retransmit (RACK, RFC 8985 §6.2, waits a quarter of the minimum RTT before
    // it deems the hole lost; repeated reports do not count as three duplicates).
    t.advance(ms(10));
    for w in [60000u16, 60100, 60200, 60300] {
        t.inject(e.local, sack_ack(&e, s, w, s + mss, s + 2 * mss), &[]);
    }
    assert_eq!(t.stack.info(e.h).unwrap().stats.fast_retransmits, 0);
}

#[test]
fn limited_transmit_sends_new_data_on_the_first_two_duplicate_acks() {
    let mut t = Lone::new(cfg());
    let e = sack_conn(&mut t);
    let mss = 1460u32;
    // More data than the initial window: the rest waits for cwnd.
    t.stack.send(e.h, &vec![7u8; 14 * mss as usize]).unwrap();
    assert_eq!(t.out().len(), 10);
    let s = e.s_nxt;
    for i in 0..2u32 {
        let out = t.inject(e.local, tcp(ACK, e.p_nxt, s, 65535), &[]);
        let r = one(&out, ACK, s + (10 + i) * mss, e.p_nxt);
        assert_eq!(r.payload.len(), mss as usize, "one new segment per dup ACK");
    }
    // The third starts fast retransmit at the hole.
    let out = t.inject(e.local, tcp(ACK, e.p_nxt, s, 65535), &[]);
    assert!(
        out.iter()
            .any(|r| r.seq() == s && r.payload.len() == mss as usize),
        "{:?}",
        brief(&out)
    );
}
