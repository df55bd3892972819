//! Unit tests for the send and receive buffers (random-sequence model tests live in
//! `tests/buffers_prop.rs`).

use super::*;

fn bytes(range: core::ops::Range<usize>) -> Vec<u8> {
    range.map(|i| (i % 251) as u8).collect()
}

#[test]
fn send_new_allocates_nothing() {
    let b = SendBuffer::new(1 << 20);
    assert_eq!(b.allocated(), 0);
    assert_eq!(b.len(), 0);
    assert!(b.is_empty());
    assert_eq!(b.free(), 1 << 20);
}

#[test]
fn send_write_read_consume_frees() {
    let mut b = SendBuffer::new(100_000);
    let data = bytes(0..10_000);
    assert_eq!(b.write(&data[..100]), 100);
    // Starts small.
    assert_eq!(b.allocated(), INITIAL_ALLOC);
    assert_eq!(b.write(&data[100..]), 9_900);
    // Grown by doubling up to 16384.
    assert_eq!(b.allocated(), 16_384);
    let mut out = vec![0; 500];
    assert_eq!(b.read_at(1_000, &mut out), 500);
    assert_eq!(out, &data[1_000..1_500]);
    b.consume(9_999);
    assert_eq!(b.len(), 1);
    assert!(b.allocated() > 0);
    assert_eq!(b.read_at(0, &mut out), 1);
    assert_eq!(out[0], data[9_999]);
    b.consume(1);
    assert_eq!(b.allocated(), 0);
    assert!(b.is_empty());
}

#[test]
fn send_write_stops_at_capacity() {
    let mut b = SendBuffer::new(10);
    assert_eq!(b.write(&bytes(0..25)), 10);
    assert_eq!(b.allocated(), 10);
    assert_eq!(b.write(b"x"), 0);
    assert_eq!(b.free(), 0);
    b.consume(3);
    assert_eq!(b.write(&bytes(100..120)), 3);
    let mut out = [0; 10];
    assert_eq!(b.read_at(0, &mut out), 10);
    let mut want = bytes(3..10);
    want.extend(bytes(100..103));
    assert_eq!(&out[..], &want[..]);
    // Reading past the end yields nothing; over-consuming is harmless.
    assert_eq!(b.read_at(10, &mut out), 0);
    assert_eq!(b.read_at(usize::MAX, &mut out), 0);
    b.consume(usize::MAX);
    assert_eq!(b.allocated(), 0);
}

#[test]
fn send_growth_keeps_wrapped_order() {
    let mut b = SendBuffer::new(1 << 16);
    let data = bytes(0..20_000);
    // Fill the first 4 KiB allocation, consume some, wrap, then force growth.
    assert_eq!(b.write(&data[..4_000]), 4_000);
    assert_eq!(b.allocated(), 4_096);
    b.consume(3_000);
    assert_eq!(b.write(&data[4_000..7_000]), 3_000); // wraps inside 4 KiB
    assert_eq!(b.allocated(), 4_096);
    assert_eq!(b.write(&data[7_000..20_000]), 13_000); // grows
    let mut out = vec![0; 17_000];
    assert_eq!(b.read_at(0, &mut out), 17_000);
    assert_eq!(out, &data[3_000..20_000]);
}

#[test]
fn send_set_capacity() {
    let mut b = SendBuffer::new(100);
    b.write(&bytes(0..50));
    b.set_capacity(10);
    assert_eq!(b.capacity(), 50, "never below the bytes held");
    assert_eq!(b.allocated(), 50);
    let mut out = [0; 50];
    assert_eq!(b.read_at(0, &mut out), 50);
    assert_eq!(&out[..], &bytes(0..50)[..]);
    b.set_capacity(1000);
    assert_eq!(b.write(&bytes(50..60)), 10);
    assert_eq!(b.len(), 60);
}

#[test]
fn send_zero_capacity() {
    let mut b = SendBuffer::new(0);
    assert_eq!(b.write(b"abc"), 0);
    assert_eq!(b.allocated(), 0);
    let mut d = SendBuffer::default();
    assert_eq!(d.write(b"abc"), 0);
}

#[test]
fn recv_in_order() {
    let mut b = RecvBuffer::new(1000);
    assert_eq!(b.allocated(), 0);
    assert_eq!(b.write_at(0, b"hello"), 5);
    assert_eq!(b.len(), 5);
    assert_eq!(b.window(), 995);
    assert_eq!(b.write_at(0, b" world"), 6);
    let mut out = [0; 64];
    assert_eq!(b.read(&mut out), 11);
    assert_eq!(&out[..11], b"hello world");
    assert_eq!(b.allocated(), 0);
    assert_eq!(b.window(), 1000);
}

#[test]
fn recv_reassembles_and_reports_sack() {
    let mut b = RecvBuffer::new(1000);
    assert_eq!(b.write_at(10, &bytes(10..20)), 0);
    assert_eq!(b.write_at(30, &bytes(30..40)), 0);
    assert!(b.has_out_of_order());
    assert_eq!(b.len(), 0);
    // Window is unchanged by out-of-order data.
    assert_eq!(b.window(), 1000);
    assert!(b.allocated() > 0);
    // Most recent first.
    assert_eq!(b.sack_ranges(4).collect::<Vec<_>>(), [(30, 40), (10, 20)]);
    assert_eq!(b.sack_ranges(1).collect::<Vec<_>>(), [(30, 40)]);
    assert_eq!(b.sack_ranges(0).count(), 0);
    // A write touching the older range moves it to the front (RFC 2018 §4).
    assert_eq!(b.write_at(18, &bytes(18..25)), 0);
    assert_eq!(b.sack_ranges(4).collect::<Vec<_>>(), [(10, 25), (30, 40)]);
    // Fill the gap 25..30 joining both ranges.
    assert_eq!(b.write_at(25, &bytes(25..30)), 0);
    assert_eq!(b.sack_ranges(4).collect::<Vec<_>>(), [(10, 40)]);
    // Fill the hole at RCV.NXT: everything becomes readable.
    assert_eq!(b.write_at(0, &bytes(0..10)), 40);
    assert!(!b.has_out_of_order());
    assert_eq!(b.sack_ranges(4).count(), 0);
    let mut out = vec![0; 100];
    assert_eq!(b.read(&mut out), 40);
    assert_eq!(&out[..40], &bytes(0..40)[..]);
    assert_eq!(b.allocated(), 0);
}

#[test]
fn recv_offsets_shift_when_rcv_nxt_advances() {
    let mut b = RecvBuffer::new(1000);
    b.write_at(20, &bytes(20..30));
    assert_eq!(b.write_at(0, &bytes(0..5)), 5);
    // The out-of-order range is now 15..25 past the new RCV.NXT.
    assert_eq!(b.sack_ranges(4).collect::<Vec<_>>(), [(15, 25)]);
    assert_eq!(b.window(), 995);
    let mut out = [0; 3];
    assert_eq!(b.read(&mut out), 3);
    // Reading does not move RCV.NXT.
    assert_eq!(b.sack_ranges(4).collect::<Vec<_>>(), [(15, 25)]);
    assert!(b.allocated() > 0, "out-of-order data keeps the memory");
    assert_eq!(b.write_at(0, &bytes(5..20)), 25);
    let mut out = vec![0; 100];
    assert_eq!(b.read(&mut out), 27);
    assert_eq!(&out[..27], &bytes(3..30)[..]);
    assert_eq!(b.allocated(), 0);
}

#[test]
fn recv_first_copy_wins() {
    let mut b = RecvBuffer::new(100);
    b.write_at(5, b"AAAAA");
    // Overlapping retransmission with different bytes: held bytes are kept.
    assert_eq!(b.write_at(0, b"bbbbbbbbbbbb"), 12);
    let mut out = [0; 12];
    assert_eq!(b.read(&mut out), 12);
    assert_eq!(&out, b"bbbbbAAAAAbb");
}

#[test]
fn recv_trims_to_window() {
    let mut b = RecvBuffer::new(10);
    assert_eq!(b.write_at(0, &bytes(0..15)), 10);
    assert_eq!(b.window(), 0);
    assert_eq!(b.write_at(0, b"x"), 0);
    let mut out = [0; 4];
    assert_eq!(b.read(&mut out), 4);
    assert_eq!(b.window(), 4);
    // Entirely outside the window.
    assert_eq!(b.write_at(4, b"zz"), 0);
    assert!(!b.has_out_of_order());
    // Partly inside.
    assert_eq!(b.write_at(2, b"abcdef"), 0);
    assert_eq!(b.sack_ranges(4).collect::<Vec<_>>(), [(2, 4)]);
    assert_eq!(b.write_at(0, b"01"), 4);
    let mut out = [0; 10];
    assert_eq!(b.read(&mut out), 10);
    let mut want = bytes(4..10);
    want.extend_from_slice(b"01ab");
    assert_eq!(&out[..], &want[..]);
    // A huge offset does not overflow.
    assert_eq!(b.write_at(usize::MAX, b"x"), 0);
    assert_eq!(b.write_at(0, &[]), 0);
}

#[test]
fn recv_range_limit() {
    let mut b = RecvBuffer::new(10_000);
    // Spans under 32 KiB keep the minimum.
    const MAX_OOO_RANGES: usize = MIN_OOO_RANGES;
    assert_eq!(max_ooo_ranges(10_000), MIN_OOO_RANGES);
    for i in 0..MAX_OOO_RANGES {
        assert_eq!(b.write_at(10 + 10 * i, b"ab"), 0);
    }
    assert_eq!(b.sack_ranges(usize::MAX).count(), MAX_OOO_RANGES);
    // A 33rd separate range is dropped...
    let far = 10 + 10 * MAX_OOO_RANGES;
    assert_eq!(b.write_at(far, b"zz"), 0);
    assert_eq!(b.sack_ranges(usize::MAX).count(), MAX_OOO_RANGES);
    assert!(b.sack_ranges(usize::MAX).all(|(s, _)| s != far));
    // ... but extending an existing range is fine, and becomes the most recent.
    assert_eq!(b.write_at(12, b"cd"), 0);
    assert_eq!(b.sack_ranges(1).next(), Some((10, 14)));
    // So is in-order data.
    assert_eq!(b.write_at(0, &bytes(0..10)), 14);
    assert_eq!(b.sack_ranges(usize::MAX).count(), MAX_OOO_RANGES - 1);
    // Now there is room for one more separate range.
    assert_eq!(b.write_at(far, b"zz"), 0);
    assert_eq!(b.sack_ranges(1).next(), Some((far, far + 2)));
}

#[test]
fn a_large_buffer_keeps_every_other_segment_of_its_window() {
    // A slow-start overshoot into a drop-tail queue: every other 1448-byte segment of
    // a 1 MiB window is lost. Each one that arrives is kept (one range per segment),
    // so the sender resends only what was lost.
    let cap = 1 << 20;
    let mut b = RecvBuffer::new(cap);
    let seg = vec![7u8; 1448];
    let mut held = 0;
    let mut off = 1448;
    while off + 1448 <= cap {
        assert_eq!(b.write_at(off, &seg), 0);
        held += 1;
        off += 2 * 1448;
    }
    let span = off - 1448;
    assert!(held > MIN_OOO_RANGES);
    assert_eq!(b.sack_ranges(usize::MAX).count(), held);
    // Tiny separate pieces inside the holes are kept up to the span's limit, and
    // refused past it.
    let limit = max_ooo_ranges(span);
    assert!(limit > held);
    let mut holes = (1..).flat_map(|k: usize| (0..500).map(move |j| k * 2 * 1448 + 10 + 2 * j));
    while b.sack_ranges(usize::MAX).count() < limit {
        assert_eq!(b.write_at(holes.next().unwrap(), b"x"), 0);
    }
    let next = holes.next().unwrap();
    assert_eq!(b.write_at(next, b"x"), 0);
    assert_eq!(b.sack_ranges(usize::MAX).count(), limit);
    assert!(b.sack_ranges(usize::MAX).all(|(s, _)| s != next));
}

#[test]
fn recv_duplicate_refreshes_recency() {
    let mut b = RecvBuffer::new(1000);
    b.write_at(100, b"aaaa");
    b.write_at(200, b"bbbb");
    b.write_at(300, b"cccc");
    assert_eq!(
        b.sack_ranges(3).collect::<Vec<_>>(),
        [(300, 304), (200, 204), (100, 104)]
    );
    // A duplicate segment inside the oldest range is the segment that triggers the ACK.
    assert_eq!(b.write_at(101, b"aa"), 0);
    assert_eq!(
        b.sack_ranges(3).collect::<Vec<_>>(),
        [(100, 104), (300, 304), (200, 204)]
    );
}

#[test]
fn recv_set_capacity_keeps_out_of_order() {
    let mut b = RecvBuffer::new(1000);
    b.write_at(0, &bytes(0..10));
    // Offsets are past RCV.NXT (now 10): this is stream bytes 50..60.
    b.write_at(40, &bytes(50..60));
    b.set_capacity(20);
    assert_eq!(b.capacity(), 60, "never below what is held");
    b.set_capacity(100);
    assert_eq!(b.write_at(0, &bytes(10..50)), 50);
    let mut out = [0; 100];
    assert_eq!(b.read(&mut out), 60);
    assert_eq!(&out[..60], &bytes(0..60)[..]);
}

#[test]
fn debug_is_small() {
    let mut b = RecvBuffer::new(1 << 20);
    b.write_at(500_000, &[1; 1000]);
    let s = format!("{b:?}");
    assert!(s.len() < 200, "{s}");
    let mut b = SendBuffer::new(1 << 20);
    b.write(&[1; 100_000]);
    let s = format!("{b:?}");
    assert!(s.len() < 200, "{s}");
}

/// The payload sum the buffers report must equal the plain checksum sum of the bytes.
fn plain_sum(data: &[u8]) -> u32 {
    synack_wire::checksum::sum(data)
}

#[test]
fn send_read_at_summed_matches_copy_and_sum_across_the_wrap() {
    let mut b = SendBuffer::new(4096);
    // Fill, consume an odd amount, refill so the ring wraps at an odd offset.
    assert_eq!(b.write(&bytes(0..4096)), 4096);
    b.consume(1001);
    assert_eq!(b.write(&bytes(4096..5097)), 1001);
    for (off, len) in [(0, 4096), (1, 3000), (2094, 2002), (3000, 1096), (4095, 1)] {
        let mut out = vec![0u8; len];
        let (n, s) = b.read_at_summed(off, &mut out);
        assert_eq!(n, len);
        assert_eq!(out, bytes(1001 + off..1001 + off + len), "{off}+{len}");
        assert_eq!(s, plain_sum(&out), "{off}+{len}");
    }
}

#[test]
fn stage_then_write_at_commits_without_recopy_and_unstage_forgets() {
    let mut r = RecvBuffer::new(8192);
    let a = bytes(0..1461);
    let s = r.stage(&a).expect("in order, fits");
    assert_eq!(s, plain_sum(&a));
    assert_eq!(r.len(), 0, "staged bytes are not readable yet");
    assert_eq!(r.write_at(0, &a), 1461);
    let (x, y) = r.readable();
    assert_eq!([x, y].concat(), a);

    // A bad checksum: unstage, and a later write of other bytes copies them.
    let b = bytes(5000..5100);
    r.stage(&b).expect("fits");
    r.unstage();
    let c = bytes(7000..7100);
    assert_eq!(r.write_at(0, &c), 100);
    let (x, y) = r.readable();
    assert_eq!([x, y].concat(), [a.clone(), c].concat());
}

#[test]
fn stage_declines_out_of_order_state_and_oversize() {
    let mut r = RecvBuffer::new(2000);
    assert!(r.stage(&[]).is_none());
    assert!(r.stage(&bytes(0..2001)).is_none(), "beyond the window");
    assert_eq!(r.write_at(100, &bytes(100..200)), 0);
    assert!(r.stage(&bytes(0..100)).is_none(), "out-of-order data held");
}

#[test]
fn stage_sums_across_the_ring_wrap_at_odd_offsets() {
    let mut r = RecvBuffer::new(4096);
    assert_eq!(r.write_at(0, &bytes(0..3001)), 3001);
    let mut sink = vec![0u8; 2999];
    assert_eq!(r.read(&mut sink), 2999);
    // Two bytes remain; the ring head sits at an odd position, and a 3000-byte payload
    // wraps.
    let p = bytes(3001..6001);
    assert_eq!(r.stage(&p), Some(plain_sum(&p)));
    assert_eq!(r.write_at(0, &p), 3000);
    let (x, y) = r.readable();
    assert_eq!([x, y].concat(), bytes(2999..6001));
}

#[test]
fn readable_and_consume_read_in_place() {
    let mut r = RecvBuffer::new(1024);
    assert_eq!(r.write_at(0, &bytes(0..1000)), 1000);
    let mut sink = vec![0u8; 900];
    r.read(&mut sink);
    assert_eq!(r.write_at(0, &bytes(1000..1900)), 900);
    let (x, y) = r.readable();
    assert!(!y.is_empty(), "wrapped");
    assert_eq!([x, y].concat(), bytes(900..1900));
    assert_eq!(r.consume(10_000), 1000);
    assert_eq!(r.allocated(), 0, "drained buffers free their memory");
}

#[test]
fn growth_for_predicts_what_a_write_allocates() {
    let mut b = SendBuffer::new(64 * 1024);
    assert_eq!(b.growth_for(100), INITIAL_ALLOC);
    b.write(&bytes(0..100));
    assert_eq!(b.allocated(), INITIAL_ALLOC);
    assert_eq!(b.growth_for(1000), 0, "fits the ring as it is");
    assert_eq!(b.growth_for(3000), 4096 - INITIAL_ALLOC);
    b.write(&bytes(100..3000));
    assert_eq!(b.allocated(), 4096);

    let mut r = RecvBuffer::new(8192);
    assert_eq!(r.growth_for(1500), 2048);
    r.write_at(0, &bytes(0..1500));
    assert_eq!(r.allocated(), 2048);
    // Out of order at 5000..6000: the ring must reach 8 KiB.
    assert_eq!(r.growth_for(6000), 8192 - 2048);
    // Nothing past the window needs memory.
    assert_eq!(r.growth_for(1 << 20), r.growth_for(r.window()));
}

#[test]
fn capacity_grows_without_allocating_and_shrinks_to_what_is_held() {
    let mut b = SendBuffer::new(4096);
    b.grow_capacity(1 << 20);
    assert_eq!((b.capacity(), b.allocated()), (1 << 20, 0));
    b.grow_capacity(10);
    assert_eq!(b.capacity(), 1 << 20, "never lowered by grow_capacity");
    let data = bytes(0..200_000);
    assert_eq!(b.write(&data), 200_000);
    assert_eq!(b.allocated(), 256 * 1024);
    // Shrinking keeps every byte written (none is ever dropped).
    b.shrink_capacity(8192);
    assert_eq!(b.capacity(), 200_000);
    b.consume(190_000);
    b.shrink_capacity(8192);
    assert_eq!(b.capacity(), 10_000);
    assert!(b.allocated() < 256 * 1024, "the ring gave memory back");
    let mut out = vec![0; 10_000];
    assert_eq!(b.read_at(0, &mut out), 10_000);
    assert_eq!(out, data[190_000..]);

    let mut r = RecvBuffer::new(64 * 1024);
    r.write_at(0, &bytes(0..40_000));
    r.write_at(10_000, &bytes(50_000..51_000));
    r.shrink_capacity(4096);
    assert_eq!(
        r.capacity(),
        40_000 + 11_000,
        "readable plus out-of-order span"
    );
    let mut out = vec![0; 40_000];
    assert_eq!(r.read(&mut out), 40_000);
    assert_eq!(out, bytes(0..40_000));
    assert_eq!(r.write_at(0, &bytes(40_000..50_000)), 11_000);
}
