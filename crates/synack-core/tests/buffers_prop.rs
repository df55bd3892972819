//! Property tests: `SendBuffer` and `RecvBuffer` against simple models, over random
//! sequences of operations (overlaps, duplicates, out-of-window data, wrap-around,
//! capacity changes), checking contents, lengths, SACK order and that memory is freed
//! when the buffers drain.

use proptest::prelude::*;
use std::collections::{BTreeMap, VecDeque};
use synack_core::buffer::{max_ooo_ranges, RecvBuffer, SendBuffer, MIN_OOO_RANGES};

/// Deterministic payload bytes: stream position mixed with a per-write seed, so that
/// overlapping retransmissions can carry different bytes ("first copy wins").
fn payload(start: usize, len: usize, seed: u8) -> Vec<u8> {
    (start..start + len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[derive(Debug, Clone)]
enum SendOp {
    Write(usize, u8),
    ReadAt(usize, usize),
    Consume(usize),
    SetCapacity(usize),
}

fn send_op() -> impl Strategy<Value = SendOp> {
    prop_oneof![
        4 => (0usize..12_000, any::<u8>()).prop_map(|(n, s)| SendOp::Write(n, s)),
        3 => (0usize..20_000, 0usize..12_000).prop_map(|(o, n)| SendOp::ReadAt(o, n)),
        3 => (0usize..12_000).prop_map(SendOp::Consume),
        1 => (0usize..40_000).prop_map(SendOp::SetCapacity),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn send_buffer_matches_model(
        capacity in prop_oneof![Just(0usize), 1usize..100, 4_000usize..40_000],
        ops in prop::collection::vec(send_op(), 1..80),
    ) {
        let mut buf = SendBuffer::new(capacity);
        let mut model: VecDeque<u8> = VecDeque::new();
        let mut cap = capacity;
        let mut written = 0usize;
        for op in ops {
            match op {
                SendOp::Write(n, seed) => {
                    let data = payload(written, n, seed);
                    let took = buf.write(&data);
                    let want = n.min(cap - model.len());
                    prop_assert_eq!(took, want);
                    model.extend(&data[..took]);
                    written += took;
                }
                SendOp::ReadAt(off, n) => {
                    let mut out = vec![0xEE; n];
                    let got = buf.read_at(off, &mut out);
                    let want: Vec<u8> = model.iter().skip(off).take(n).copied().collect();
                    prop_assert_eq!(got, want.len());
                    prop_assert_eq!(&out[..got], &want[..]);
                    // Bytes past the count are untouched.
                    prop_assert!(out[got..].iter().all(|&b| b == 0xEE));
                }
                SendOp::Consume(n) => {
                    buf.consume(n);
                    model.drain(..n.min(model.len()));
                }
                SendOp::SetCapacity(c) => {
                    buf.set_capacity(c);
                    cap = c.max(model.len());
                }
            }
            prop_assert_eq!(buf.len(), model.len());
            prop_assert_eq!(buf.capacity(), cap);
            prop_assert_eq!(buf.free(), cap - model.len());
            prop_assert_eq!(buf.is_empty(), model.is_empty());
            prop_assert!(buf.allocated() <= cap);
            prop_assert!(buf.allocated() >= model.len());
            if model.is_empty() {
                prop_assert_eq!(buf.allocated(), 0, "drained buffer must free its memory");
            }
        }
    }
}

/// Model of the receive side in absolute stream positions.
struct RecvModel {
    capacity: usize,
    /// Absolute position of RCV.NXT.
    rcv_nxt: usize,
    /// Readable bytes (ending at `rcv_nxt`).
    readable: VecDeque<u8>,
    /// Out-of-order bytes: position -> (byte, stamp of the last write touching it).
    ooo: BTreeMap<usize, (u8, u64)>,
    stamp: u64,
}

impl RecvModel {
    /// Maximal runs of contiguous out-of-order positions, as absolute (start, end, max stamp).
    fn ranges(&self) -> Vec<(usize, usize, u64)> {
        let mut out: Vec<(usize, usize, u64)> = Vec::new();
        for (&pos, &(_, st)) in &self.ooo {
            match out.last_mut() {
                Some(last) if last.1 == pos => {
                    last.1 = pos + 1;
                    last.2 = last.2.max(st);
                }
                _ => out.push((pos, pos + 1, st)),
            }
        }
        out
    }

    fn window(&self) -> usize {
        self.capacity - self.readable.len()
    }

    fn write_at(&mut self, offset: usize, data: &[u8]) -> usize {
        let window = self.window();
        if offset >= window || data.is_empty() {
            return 0;
        }
        let end = offset + data.len().min(window - offset);
        let (a, b) = (self.rcv_nxt + offset, self.rcv_nxt + end);
        let ranges = self.ranges();
        let touches = ranges.iter().any(|&(s, e, _)| s <= b && e >= a);
        let span = ranges.last().map_or(b, |r| r.1.max(b)) - self.rcv_nxt;
        if !touches && offset > 0 && ranges.len() >= max_ooo_ranges(span) {
            return 0;
        }
        self.stamp += 1;
        for (i, pos) in (a..b).enumerate() {
            let byte = data[i];
            let stamp = self.stamp;
            self.ooo
                .entry(pos)
                .and_modify(|e| e.1 = stamp)
                .or_insert((byte, stamp));
        }
        let mut advanced = 0;
        while let Some((byte, _)) = self.ooo.remove(&self.rcv_nxt) {
            self.readable.push_back(byte);
            self.rcv_nxt += 1;
            advanced += 1;
        }
        advanced
    }

    /// Expected SACK ranges as offsets past RCV.NXT, most recently written first.
    fn sack(&self) -> Vec<(usize, usize)> {
        let mut r = self.ranges();
        r.sort_by_key(|x| core::cmp::Reverse(x.2));
        r.iter()
            .map(|&(s, e, _)| (s - self.rcv_nxt, e - self.rcv_nxt))
            .collect()
    }
}

#[derive(Debug, Clone)]
enum RecvOp {
    WriteAt(usize, usize, u8),
    Read(usize),
    SetCapacity(usize),
}

fn recv_op(max_off: usize, max_len: usize) -> impl Strategy<Value = RecvOp> {
    prop_oneof![
        8 => (0usize..max_off, 0usize..max_len, any::<u8>())
            .prop_map(|(o, n, s)| RecvOp::WriteAt(o, n, s)),
        3 => (0usize..max_len * 2).prop_map(RecvOp::Read),
        1 => (0usize..max_off * 2).prop_map(RecvOp::SetCapacity),
    ]
}

fn check_recv(
    capacity: usize,
    ops: Vec<RecvOp>,
) -> Result<(), proptest::test_runner::TestCaseError> {
    let mut buf = RecvBuffer::new(capacity);
    let mut model = RecvModel {
        capacity,
        rcv_nxt: 0,
        readable: VecDeque::new(),
        ooo: BTreeMap::new(),
        stamp: 0,
    };
    for op in ops {
        match op {
            RecvOp::WriteAt(off, n, seed) => {
                let data = payload(model.rcv_nxt + off, n, seed);
                let got = buf.write_at(off, &data);
                let want = model.write_at(off, &data);
                prop_assert_eq!(got, want, "write_at({}, len {})", off, n);
            }
            RecvOp::Read(n) => {
                let mut out = vec![0xEE; n];
                let got = buf.read(&mut out);
                let want: Vec<u8> = model
                    .readable
                    .drain(..n.min(model.readable.len()))
                    .collect();
                prop_assert_eq!(got, want.len());
                prop_assert_eq!(&out[..got], &want[..]);
            }
            RecvOp::SetCapacity(c) => {
                buf.set_capacity(c);
                let held_end = model
                    .ooo
                    .keys()
                    .next_back()
                    .map_or(0, |&p| p + 1 - model.rcv_nxt);
                model.capacity = c.max(model.readable.len() + held_end);
            }
        }
        prop_assert_eq!(buf.len(), model.readable.len());
        prop_assert_eq!(buf.capacity(), model.capacity);
        prop_assert_eq!(buf.window(), model.window());
        prop_assert_eq!(buf.has_out_of_order(), !model.ooo.is_empty());
        let sack: Vec<(usize, usize)> = buf.sack_ranges(usize::MAX).collect();
        prop_assert_eq!(&sack, &model.sack());
        let first3: Vec<(usize, usize)> = buf.sack_ranges(3).collect();
        prop_assert_eq!(&first3[..], &sack[..sack.len().min(3)]);
        let span = sack.iter().map(|r| r.1).max().unwrap_or(0);
        prop_assert!(sack.len() <= max_ooo_ranges(span));
        prop_assert!(buf.allocated() <= model.capacity);
        if model.readable.is_empty() && model.ooo.is_empty() {
            prop_assert_eq!(buf.allocated(), 0, "drained buffer must free its memory");
        }
    }
    // Drain: the buffer frees its memory once nothing is held.
    let mut rest = vec![0; model.readable.len() + 1];
    let got = buf.read(&mut rest);
    prop_assert_eq!(got, model.readable.len());
    if model.ooo.is_empty() {
        prop_assert_eq!(buf.allocated(), 0);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Large segments over a window that wraps and grows.
    #[test]
    fn recv_buffer_matches_model_large(
        capacity in prop_oneof![1usize..64, 4_000usize..20_000],
        ops in prop::collection::vec(recv_op(12_000, 3_000), 1..60),
    ) {
        check_recv(capacity, ops)?;
    }

    /// Tiny segments, many holes: exercises the 32-range limit and SACK recency.
    #[test]
    fn recv_buffer_matches_model_many_ranges(
        capacity in 200usize..400,
        ops in prop::collection::vec(recv_op(300, 4), 1..200),
    ) {
        check_recv(capacity, ops)?;
    }
}

#[test]
fn range_limit_is_reached_by_the_generator() {
    // Guard against the property test silently never reaching the limit: a
    // deterministic sequence in the same shape as the generator's does.
    let ops: Vec<RecvOp> = (0..40).map(|i| RecvOp::WriteAt(2 + i * 7, 2, 1)).collect();
    check_recv(400, ops).unwrap();
    let mut b = RecvBuffer::new(400);
    for i in 0..40 {
        b.write_at(2 + i * 7, b"xy");
    }
    assert_eq!(max_ooo_ranges(400), MIN_OOO_RANGES);
    assert_eq!(b.sack_ranges(usize::MAX).count(), MIN_OOO_RANGES);
}
