//! The row model shared by the text, Mermaid and SVG ladders: a timeline cut into
//! picture rows (state changes, notes and one segment per row, a state change merged
//! into the row of the segment its side sends at the same instant), with long data
//! phases optionally collapsed into one summary row.

use crate::timeline::{is_plain, state_change, Side, Timeline};
use synack_core::trace::TraceKind;
use synack_core::{Instant, State};

/// What a collapsed run of data segments and ACKs amounted to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RunSummary {
    /// First and last time of the run.
    pub(crate) start: Instant,
    pub(crate) end: Instant,
    /// Entry indices of the transmissions collapsed.
    pub(crate) entries: Vec<usize>,
    /// Segments with payload.
    pub(crate) data_segments: u64,
    /// Payload bytes (retransmissions included).
    pub(crate) data_bytes: u64,
    /// Segments without payload.
    pub(crate) acks: u64,
    /// Retransmissions among them.
    pub(crate) retransmitted: u64,
    /// Segments lost among them.
    pub(crate) lost: u64,
}

/// One row of the picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) time: Instant,
    /// New state of the left / right side, when it changed on this row.
    pub(crate) state: [Option<State>; 2],
    /// Note in the left / right column.
    pub(crate) note: [Option<String>; 2],
    /// Entry index of the transmission drawn on this row, and its sender.
    pub(crate) segment: Option<(usize, Side)>,
    /// A collapsed data phase.
    pub(crate) summary: Option<RunSummary>,
    /// Causal position: `2 * i + 1` for a row starting with entry `i`, `2 * k` for a
    /// note row placed after `k` entries (see [`entry_order`]).
    pub(crate) order: usize,
}

/// The causal position of entry `i`, comparable with [`Row::order`].
pub(crate) fn entry_order(i: usize) -> usize {
    2 * i + 1
}

fn ix(side: Side) -> usize {
    match side {
        Side::Left => 0,
        Side::Right => 1,
    }
}

impl Row {
    fn new(time: Instant, order: usize) -> Row {
        Row {
            time,
            state: [None, None],
            note: [None, None],
            segment: None,
            summary: None,
            order,
        }
    }

    pub(crate) fn state_of(&self, side: Side) -> Option<State> {
        self.state[ix(side)]
    }

    pub(crate) fn note_of(&self, side: Side) -> Option<&str> {
        self.note[ix(side)].as_deref()
    }

    fn has_notes(&self) -> bool {
        self.note.iter().any(Option::is_some)
    }

    fn is_plain_segment(&self, tl: &Timeline) -> bool {
        match self.segment {
            Some((i, _)) => {
                self.state == [None, None]
                    && !self.has_notes()
                    && tl.entries[i].segment().is_some_and(is_plain)
            }
            None => false,
        }
    }
}

enum Item {
    Entry(usize),
    Note(usize),
}

/// Cut the timeline into rows. When more than `summarize_over` data segments follow
/// each other (with only ACKs between them and no state change or note), the run is
/// collapsed into one summary row.
pub(crate) fn build_rows(tl: &Timeline, summarize_over: usize) -> Vec<Row> {
    // Interleave notes after the entries at or before their time.
    let mut items = Vec::with_capacity(tl.entries.len() + tl.notes.len());
    let mut ni = 0;
    for (i, e) in tl.entries.iter().enumerate() {
        while ni < tl.notes.len() && tl.notes[ni].time < e.time() {
            items.push(Item::Note(ni));
            ni += 1;
        }
        items.push(Item::Entry(i));
    }
    items.extend((ni..tl.notes.len()).map(Item::Note));

    let traced = [
        tl.entries.iter().any(|e| e.side == Side::Left),
        tl.entries.iter().any(|e| e.side == Side::Right),
    ];
    let mut rows: Vec<Row> = Vec::new();
    let mut pending: Option<Row> = None;
    let mut entries_seen = 0;
    let flush = |pending: &mut Option<Row>, rows: &mut Vec<Row>| {
        if let Some(r) = pending.take() {
            rows.push(r);
        }
    };
    for item in items {
        match item {
            Item::Note(n) => {
                let note = &tl.notes[n];
                let s = ix(note.side);
                // A user note replaces the automatic one on the same row.
                if let Some(p) = pending.as_mut() {
                    if p.time == note.time && p.segment.is_none() && p.note[s].is_none() {
                        p.note[s] = Some(note.text.clone());
                        continue;
                    }
                }
                flush(&mut pending, &mut rows);
                let mut r = Row::new(note.time, 2 * entries_seen);
                r.note[s] = Some(note.text.clone());
                pending = Some(r);
            }
            Item::Entry(i) => {
                entries_seen = i + 1;
                let e = &tl.entries[i];
                let t = e.time();
                let s = ix(e.side);
                match &e.event.kind {
                    TraceKind::StateChange { .. } => {
                        let Some((old, new)) = state_change(e) else {
                            continue;
                        };
                        let merge = pending.as_ref().is_some_and(|p| {
                            p.time == t
                                && p.state[s].is_none()
                                && p.segment.is_none()
                                && p.note[s].is_none()
                        });
                        if !merge {
                            flush(&mut pending, &mut rows);
                            pending = Some(Row::new(t, entry_order(i)));
                        }
                        if let Some(p) = pending.as_mut() {
                            p.state[s] = Some(new);
                            // RFC 9293 §3.10.8: TIME-WAIT ends when 2*MSL expires.
                            if old == State::TimeWait
                                && new == State::Closed
                                && !reset_at(tl, i, e.side, t)
                                && !note_at(tl, e.side, t)
                            {
                                p.note[s] = Some("(2*MSL elapsed)".to_string());
                            }
                        }
                    }
                    // Not part of the ladder (the cwnd graph draws these).
                    TraceKind::Congestion(_) => continue,
                    TraceKind::Dropped { reason } => {
                        flush(&mut pending, &mut rows);
                        let mut r = Row::new(t, entry_order(i));
                        r.note[s] = Some(format!("(dropped: {reason})"));
                        pending = Some(r);
                    }
                    TraceKind::Segment(_) => {
                        let sender = match e.sent_segment() {
                            Some(_) => e.side,
                            None => {
                                // A receipt is drawn only when its sender was not traced.
                                let from = e.side.other();
                                if traced[ix(from)] {
                                    continue;
                                }
                                from
                            }
                        };
                        // Merged only with the sender's own state change: the other
                        // side's change at the same instant (zero latency) happened
                        // before this segment left and keeps its own row.
                        let merge = pending.as_ref().is_some_and(|p| {
                            p.time == t
                                && p.segment.is_none()
                                && !p.has_notes()
                                && p.state[ix(sender.other())].is_none()
                        });
                        // The sender's own change sharing a row with the other
                        // side's goes with this segment instead (zero latency: the
                        // server's LAST-ACK with its FIN, not with the client's
                        // FIN-WAIT-2 that came before).
                        let mut own = None;
                        if let Some(p) = pending.as_mut() {
                            if !merge && p.time == t && p.segment.is_none() && !p.has_notes() {
                                own = p.state[ix(sender)].take();
                            }
                        }
                        if !merge {
                            flush(&mut pending, &mut rows);
                            pending = Some(Row::new(t, entry_order(i)));
                        }
                        if let Some(p) = pending.as_mut() {
                            if own.is_some() {
                                p.state[ix(sender)] = own;
                            }
                            p.segment = Some((i, sender));
                            // The row is drawn where the segment leaves.
                            p.order = entry_order(i);
                        }
                        flush(&mut pending, &mut rows);
                    }
                }
            }
        }
    }
    flush(&mut pending, &mut rows);
    collapse_runs(tl, rows, summarize_over)
}

fn reset_at(tl: &Timeline, idx: usize, side: Side, t: Instant) -> bool {
    tl.entries[..idx]
        .iter()
        .rev()
        .take_while(|e| e.time() == t)
        .any(|e| e.side == side && e.received_segment().is_some_and(|s| s.flags.rst()))
}

fn note_at(tl: &Timeline, side: Side, t: Instant) -> bool {
    tl.notes.iter().any(|n| n.side == side && n.time == t)
}

fn collapse_runs(tl: &Timeline, rows: Vec<Row>, summarize_over: usize) -> Vec<Row> {
    let mut out = Vec::with_capacity(rows.len());
    let mut run: Vec<Row> = Vec::new();
    let finish = |run: &mut Vec<Row>, out: &mut Vec<Row>| {
        let data = run
            .iter()
            .filter_map(|r| r.segment)
            .filter(|&(i, _)| tl.entries[i].segment().is_some_and(|s| s.len > 0))
            .count();
        if data > summarize_over && !run.is_empty() {
            let mut sum = RunSummary {
                start: run[0].time,
                end: run[run.len() - 1].time,
                ..RunSummary::default()
            };
            for r in run.iter() {
                let Some((i, _)) = r.segment else { continue };
                let e = &tl.entries[i];
                let Some(seg) = e.segment() else { continue };
                sum.entries.push(i);
                if seg.len > 0 {
                    sum.data_segments += 1;
                    sum.data_bytes += u64::from(seg.len);
                } else {
                    sum.acks += 1;
                }
                if seg.retransmission || seg.retransmit_count > 0 {
                    sum.retransmitted += 1;
                }
                if e.lost {
                    sum.lost += 1;
                }
            }
            let mut row = Row::new(sum.start, run[0].order);
            row.summary = Some(sum);
            out.push(row);
            run.clear();
        } else {
            out.append(run);
        }
    };
    for r in rows {
        if r.is_plain_segment(tl) {
            run.push(r);
        } else {
            finish(&mut run, &mut out);
            out.push(r);
        }
    }
    finish(&mut run, &mut out);
    out
}

/// The summary row's text: `… 1,234 data segments (1.7 MB) and 617 ACKs, 3
/// retransmitted …`.
pub(crate) fn summary_text(s: &RunSummary) -> String {
    use crate::format::{fmt_bytes, fmt_count, fmt_duration_micros};
    let mut t = format!(
        "… {} data segments ({}) and {} ACKs, {} retransmitted",
        fmt_count(s.data_segments),
        fmt_bytes(s.data_bytes),
        fmt_count(s.acks),
        fmt_count(s.retransmitted)
    );
    if s.lost > 0 {
        t.push_str(&format!(", {} lost", fmt_count(s.lost)));
    }
    let span = s.end.total_micros().saturating_sub(s.start.total_micros());
    t.push_str(&format!(" over {} …", fmt_duration_micros(span)));
    t
}
