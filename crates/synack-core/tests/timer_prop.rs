//! Property test: `TimerQueue` against a naive model (a map from slot to deadline) over
//! random schedule / cancel / pop sequences, including heavy rescheduling that makes the
//! heap rebuild itself.

use proptest::prelude::*;
use std::collections::BTreeMap;
use synack_core::timer::TimerQueue;
use synack_core::Instant;

#[derive(Debug, Clone)]
enum Op {
    Schedule(usize, u64),
    Cancel(usize),
    Pop(u64),
    Next,
}

fn op(keys: usize) -> impl Strategy<Value = Op> {
    op_until(keys, 1_000)
}

/// Deadlines and pop times in `0..max_ms` milliseconds.
fn op_until(keys: usize, max_ms: u64) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..keys, 0u64..max_ms).prop_map(|(k, t)| Op::Schedule(k, t)),
        2 => (0..keys).prop_map(Op::Cancel),
        2 => (0u64..max_ms).prop_map(Op::Pop),
        1 => Just(Op::Next),
    ]
}

/// Run `ops` against the model. With `ask_always`, `next_deadline` is checked after
/// every operation; without, only at `Next` and `Pop`, so many reschedules and
/// cancels pile up between two fix-ups of the lazy heap.
fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    run_with(ops, true)
}

fn run_with(ops: Vec<Op>, ask_always: bool) -> Result<(), TestCaseError> {
    let mut q = TimerQueue::new();
    let mut model: BTreeMap<usize, u64> = BTreeMap::new();
    for op in ops {
        let ask = ask_always || matches!(op, Op::Next | Op::Pop(_));
        match op {
            Op::Schedule(k, t) => {
                q.schedule(k, Instant::from_millis(t));
                model.insert(k, t);
            }
            Op::Cancel(k) => {
                q.cancel(k);
                model.remove(&k);
            }
            Op::Pop(now) => {
                // Pop everything expired: keys come out by deadline; ties in any order.
                let mut popped = Vec::new();
                while let Some(k) = q.pop_expired(Instant::from_millis(now)) {
                    let t = model.remove(&k);
                    prop_assert!(t.is_some(), "popped key {} had no deadline", k);
                    let t = t.unwrap();
                    prop_assert!(t <= now);
                    popped.push(t);
                    prop_assert!(popped.len() <= 10_000);
                }
                prop_assert!(popped.windows(2).all(|w| w[0] <= w[1]), "{:?}", popped);
                prop_assert!(model.values().all(|&t| t > now), "an expired key was left");
            }
            Op::Next => {}
        }
        if ask {
            let want = model.values().min().map(|&t| Instant::from_millis(t));
            prop_assert_eq!(q.next_deadline(), want);
            // Asked twice with no change in between: the same answer.
            prop_assert_eq!(q.next_deadline(), want);
        }
        prop_assert_eq!(q.len(), model.len());
        prop_assert_eq!(q.is_empty(), model.is_empty());
        for k in 0..8 {
            prop_assert_eq!(
                q.deadline(k),
                model.get(&k).map(|&t| Instant::from_millis(t))
            );
        }
        // Lazy deletion stays bounded: at most 2 * live + 64 entries.
        prop_assert!(q.heap_entries() <= 2 * q.len() + 64);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Few keys: lots of rescheduling of the same slots (stale entries, rebuilds).
    #[test]
    fn timer_queue_matches_model_few_keys(ops in prop::collection::vec(op(4), 1..400)) {
        run(ops)?;
    }

    /// Many keys.
    #[test]
    fn timer_queue_matches_model_many_keys(ops in prop::collection::vec(op(200), 1..400)) {
        run(ops)?;
    }

    /// Deadlines up to a day out: most land in far buckets (the TIME-WAIT case) and
    /// come back into the heap as pops reach them.
    #[test]
    fn timer_queue_matches_model_far_deadlines(ops in prop::collection::vec(op_until(50, 86_400_000), 1..400)) {
        run(ops)?;
    }

    /// Rescheduling mostly later (RTO restarts) and cancelling, with the next deadline
    /// asked only now and then: representatives that are only lower bounds pile up
    /// and must be fixed up, never fire early, never be lost.
    #[test]
    fn timer_queue_lazy_reschedules_match_model(ops in prop::collection::vec(op_lazy(6), 1..600)) {
        run_with(ops, false)?;
    }

    /// The same with far deadlines mixed in (moves between the heap and the buckets).
    #[test]
    fn timer_queue_lazy_far_matches_model(ops in prop::collection::vec(op_until(30, 86_400_000), 1..600)) {
        run_with(ops, false)?;
    }
}

/// Mostly schedules (half of them later than any before: RTO restarts), some cancels,
/// a few pops and explicit asks.
fn op_lazy(keys: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..keys, 0u64..2_000).prop_map(|(k, t)| Op::Schedule(k, t)),
        3 => (0..keys, 0u64..50).prop_map(|(k, t)| Op::Schedule(k, 2_000 + t * 10)),
        3 => (0..keys).prop_map(Op::Cancel),
        1 => (0u64..2_500).prop_map(Op::Pop),
        1 => Just(Op::Next),
    ]
}
