//! The timeline model every renderer draws from: two endpoints, both sides' trace
//! events merged into one time-ordered list, losses inferred by matching each sent
//! segment with its arrival at the peer, and textbook relative numbering (the left
//! side's ISN is `A`, the right side's is `B`).

use crate::format::{fmt_duration_micros, fmt_preview, fmt_syn_options};
use core::net::SocketAddr;
use std::collections::HashMap;
use synack_core::trace::{Direction, SegmentTrace, TraceEvent, TraceKind};
use synack_core::{Instant, State};

/// Which of the two columns of the picture an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// The left column (usually the client, the side that sent the first SYN).
    Left,
    /// The right column (usually the server).
    Right,
}

impl Side {
    /// The other side.
    pub const fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }

    /// `"left"` or `"right"`.
    pub const fn name(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }

    /// The letter naming this side's initial sequence number: `A` (left) or `B` (right).
    pub const fn isn_letter(self) -> char {
        match self {
            Side::Left => 'A',
            Side::Right => 'B',
        }
    }
}

/// One end of the connection as the picture names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Column heading, e.g. `"client"`.
    pub label: String,
    /// The endpoint's address.
    pub addr: SocketAddr,
    /// The state the endpoint is in before the first event (CLOSED, LISTEN).
    pub initial_state: State,
}

impl Endpoint {
    /// A new endpoint.
    pub fn new(label: impl Into<String>, addr: SocketAddr, initial_state: State) -> Endpoint {
        Endpoint {
            label: label.into(),
            addr,
            initial_state,
        }
    }
}

/// One event of the merged timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Whose trace the event comes from.
    pub side: Side,
    /// The event itself.
    pub event: TraceEvent,
    /// For a sent segment: no matching arrival was found at the peer although the
    /// peer's trace goes on past the send time.
    pub lost: bool,
    /// For a sent segment, the index (in [`Timeline::entries`]) of its arrival at the
    /// peer; for a received segment, the index of its transmission. `None` when unknown.
    pub peer: Option<usize>,
}

impl Entry {
    /// The segment, when this entry is one.
    pub fn segment(&self) -> Option<&SegmentTrace> {
        match &self.event.kind {
            TraceKind::Segment(s) => Some(s),
            _ => None,
        }
    }

    /// The segment, when this entry is a segment this side sent.
    pub fn sent_segment(&self) -> Option<&SegmentTrace> {
        self.segment().filter(|s| s.dir == Direction::Sent)
    }

    /// The segment, when this entry is a segment this side received.
    pub fn received_segment(&self) -> Option<&SegmentTrace> {
        self.segment().filter(|s| s.dir == Direction::Received)
    }

    /// When it happened.
    pub fn time(&self) -> Instant {
        self.event.time
    }

    /// The side that transmitted the segment (`side` for a sent one, the other side for
    /// a received one); `None` for other events.
    pub fn sender(&self) -> Option<Side> {
        self.segment().map(|s| match s.dir {
            Direction::Sent => self.side,
            Direction::Received => self.side.other(),
        })
    }
}

/// A free-text annotation drawn in one side's column, e.g. `(2*MSL elapsed)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// When.
    pub time: Instant,
    /// Which column.
    pub side: Side,
    /// The text.
    pub text: String,
}

/// A connection's life as two columns of events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// The left endpoint (client).
    pub left: Endpoint,
    /// The right endpoint (server).
    pub right: Endpoint,
    /// Events of both sides in time order (ties: causal order, then left first).
    pub entries: Vec<Entry>,
    /// Annotations, in time order.
    pub notes: Vec<Note>,
    /// Time zero of the picture (default: the first event's time).
    pub origin: Instant,
    /// The left side's initial sequence number (`A`), when known.
    pub isn_left: Option<u32>,
    /// The right side's initial sequence number (`B`), when known.
    pub isn_right: Option<u32>,
    /// Both sides were traced until this time, even a side that recorded nothing (a
    /// server that never heard a SYN): segments sent before it and never received
    /// count as lost. `None`: a side without events was not traced.
    pub traced_until: Option<Instant>,
}

/// Key identifying a segment on both sides of the wire: 4-tuple (when the traces'
/// addresses agree), seq, ack, flags, length and timestamp option.
type SegKey = (
    Option<(SocketAddr, SocketAddr)>,
    u32,
    u32,
    u8,
    u32,
    Option<(u32, u32)>,
);

fn seg_key(seg: &SegmentTrace, addrs: Option<(SocketAddr, SocketAddr)>) -> SegKey {
    let ack = if seg.flags.ack() { seg.ack } else { 0 };
    (
        addrs,
        seg.seq,
        ack,
        seg.flags.0,
        seg.len,
        seg.options.timestamp,
    )
}

impl Timeline {
    /// An empty timeline between two endpoints.
    pub fn new(left: Endpoint, right: Endpoint) -> Timeline {
        Timeline {
            left,
            right,
            entries: Vec::new(),
            notes: Vec::new(),
            origin: Instant::ZERO,
            isn_left: None,
            isn_right: None,
            traced_until: None,
        }
    }

    /// Merge both sides' traces into one timeline. Each list is first sorted by time
    /// (stably, so events at the same instant keep their recorded order); the merge
    /// then takes the earlier event, and at equal times keeps causal order: a segment
    /// arrival is taken only once its transmission by the other side has been taken
    /// (so with zero latency a whole exchange at one instant is drawn in the order it
    /// happened), and otherwise the left side goes first. Losses, ISNs and the origin
    /// are inferred (see [`Timeline::infer`]). An empty list for one side means that
    /// side was not traced: nothing is marked lost toward it. Congestion-state events
    /// ([`TraceKind::Congestion`]) are left out: the ladder does not draw them (the
    /// cwnd graph, [`render_cwnd_graph`](crate::render_cwnd_graph), does).
    pub fn from_traces(
        left: Endpoint,
        mut left_events: Vec<TraceEvent>,
        right: Endpoint,
        mut right_events: Vec<TraceEvent>,
    ) -> Timeline {
        let ladder = |e: &TraceEvent| !matches!(e.kind, TraceKind::Congestion(_));
        left_events.retain(ladder);
        right_events.retain(ladder);
        left_events.sort_by_key(|e| e.time);
        right_events.sort_by_key(|e| e.time);
        let mut tl = Timeline::new(left, right);
        let mut li = left_events.into_iter().peekable();
        let mut ri = right_events.into_iter().peekable();
        // Segments each side has sent (by key, without addresses) that the merge has
        // taken and whose arrival it has not taken yet.
        let mut in_flight: [HashMap<SegKey, usize>; 2] = [HashMap::new(), HashMap::new()];
        let ready =
            |e: &TraceEvent, from: Side, in_flight: &[HashMap<SegKey, usize>; 2]| match &e.kind {
                TraceKind::Segment(s) if s.dir == Direction::Received => in_flight
                    [usize::from(from == Side::Right)]
                .get(&seg_key(s, None))
                .is_some_and(|&n| n > 0),
                _ => true,
            };
        loop {
            let take_left = match (li.peek(), ri.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(l), Some(r)) => {
                    if l.time != r.time {
                        l.time < r.time
                    } else {
                        ready(l, Side::Right, &in_flight) || !ready(r, Side::Left, &in_flight)
                    }
                }
            };
            let (side, ev) = if take_left {
                (Side::Left, li.next())
            } else {
                (Side::Right, ri.next())
            };
            if let Some(event) = ev {
                if let TraceKind::Segment(s) = &event.kind {
                    let key = seg_key(s, None);
                    match s.dir {
                        Direction::Sent => {
                            *in_flight[usize::from(side == Side::Right)]
                                .entry(key)
                                .or_default() += 1;
                        }
                        Direction::Received => {
                            if let Some(n) =
                                in_flight[usize::from(side == Side::Left)].get_mut(&key)
                            {
                                *n = n.saturating_sub(1);
                            }
                        }
                    }
                }
                tl.entries.push(Entry {
                    side,
                    event,
                    lost: false,
                    peer: None,
                });
            }
        }
        tl.infer();
        tl
    }

    /// Add a note (kept in time order, after notes at the same time).
    pub fn add_note(&mut self, time: Instant, side: Side, text: impl Into<String>) {
        let pos = self.notes.partition_point(|n| n.time <= time);
        self.notes.insert(
            pos,
            Note {
                time,
                side,
                text: text.into(),
            },
        );
    }

    /// Recompute everything derived from the entries: the origin (first event), the
    /// ISNs (unless already set), and the send/arrival matching and losses. A segment
    /// sent by one side matches a segment received by the other with the same seq,
    /// ack, flags and length (and the same connection 4-tuple when the addresses of
    /// the two traces agree) and timestamp option; among several candidates (a
    /// retransmission and its original, duplicate ACKs) the one sent at or before the
    /// arrival whose send time best fits the typical one-way delay is taken — the
    /// delay being learned from unambiguous segments; without timestamps the
    /// original-or-retransmission question cannot always be settled, the ambiguity
    /// Karn's algorithm avoids (RFC 6298 §3). A sent segment left unmatched is lost
    /// when the peer's trace continues past its send time.
    pub fn infer(&mut self) {
        if let Some(first) = self.entries.first() {
            self.origin = first.time();
        }
        if self.isn_left.is_none() {
            self.isn_left = self.infer_isn(Side::Left);
        }
        if self.isn_right.is_none() {
            self.isn_right = self.infer_isn(Side::Right);
        }
        for e in &mut self.entries {
            e.lost = false;
            e.peer = None;
        }
        self.match_direction(Side::Left);
        self.match_direction(Side::Right);
        self.number_retransmissions();
    }

    /// Number each retransmission by the transmissions of the same segment (same
    /// sender, seq, length, SYN and FIN) before it: the 3rd sending of a FIN is
    /// retransmission 2 whatever the sender's own counter said (an engine's counter
    /// restarts when an ACK arrives, which would label successive retransmissions of
    /// one FIN all `1`).
    fn number_retransmissions(&mut self) {
        let mut seen: HashMap<(Side, u32, u32, bool, bool), u32> = HashMap::new();
        let senders: Vec<Option<Side>> = self
            .entries
            .iter()
            .map(|e| match e.segment()?.dir {
                Direction::Sent => Some(e.side),
                Direction::Received if e.peer.is_none() => Some(e.side.other()),
                Direction::Received => None,
            })
            .collect();
        for (e, sender) in self.entries.iter_mut().zip(senders) {
            let Some(sender) = sender else { continue };
            let TraceKind::Segment(seg) = &mut e.event.kind else {
                continue;
            };
            let occupies = seg.len > 0 || seg.flags.syn() || seg.flags.fin();
            if !occupies {
                continue;
            }
            let key = (sender, seg.seq, seg.len, seg.flags.syn(), seg.flags.fin());
            let before = seen.entry(key).or_default();
            if (seg.retransmission || seg.retransmit_count > 0) && *before > 0 {
                seg.retransmit_count = *before;
            }
            *before += 1;
        }
    }

    fn infer_isn(&self, side: Side) -> Option<u32> {
        // Explicit: our ISS on our own events, or the peer's IRS on its events.
        for e in &self.entries {
            if let Some(s) = e.segment() {
                if e.side == side {
                    if let Some(iss) = s.iss {
                        return Some(iss);
                    }
                } else if let Some(irs) = s.irs {
                    return Some(irs);
                }
            }
        }
        // Learned: the seq of the first SYN this side transmitted (RFC 9293 §3.4).
        self.entries
            .iter()
            .find(|e| e.sender() == Some(side) && e.segment().is_some_and(|s| s.flags.syn()))
            .and_then(|e| e.segment().map(|s| s.seq))
    }

    fn match_direction(&mut self, from: Side) {
        let to = from.other();
        let Some(peer_last) = self
            .entries
            .iter()
            .filter(|e| e.side == to)
            .map(|e| e.time())
            .chain(self.traced_until)
            .max()
        else {
            return; // the receiving side was not traced
        };
        // Do the addresses of the two traces agree (no NAT in between)?
        let mut sent_pairs = std::collections::HashSet::new();
        for e in self.entries.iter().filter(|e| e.side == from) {
            sent_pairs.insert((e.event.local, e.event.remote));
        }
        let addrs_agree = self
            .entries
            .iter()
            .filter(|e| e.side == to)
            .any(|e| sent_pairs.contains(&(e.event.remote, e.event.local)));

        let mut sent: HashMap<SegKey, Vec<usize>> = HashMap::new();
        let mut recv: Vec<(usize, SegKey)> = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            let Some(seg) = e.segment() else { continue };
            if e.side == from && seg.dir == Direction::Sent {
                let addrs = addrs_agree.then_some((e.event.local, e.event.remote));
                sent.entry(seg_key(seg, addrs)).or_default().push(i);
            } else if e.side == to && seg.dir == Direction::Received {
                let addrs = addrs_agree.then_some((e.event.remote, e.event.local));
                recv.push((i, seg_key(seg, addrs)));
            }
        }
        // The one-way delay, from segments that can only match one way.
        let mut recv_count: HashMap<&SegKey, usize> = HashMap::new();
        for (_, k) in &recv {
            *recv_count.entry(k).or_default() += 1;
        }
        let mut delays: Vec<u64> = recv
            .iter()
            .filter(|(_, k)| recv_count.get(k) == Some(&1))
            .filter_map(|(i, k)| match sent.get(k).map(Vec::as_slice) {
                Some([j]) => {
                    let (ts, tr) = (self.entries[*j].time(), self.entries[*i].time());
                    (ts <= tr).then(|| tr.total_micros() - ts.total_micros())
                }
                _ => None,
            })
            .collect();
        delays.sort_unstable();
        let delay = delays.get(delays.len() / 2).copied().unwrap_or(0);
        // Each arrival takes the unmatched transmission sent at or before it whose send
        // time is closest to (arrival - typical delay).
        let mut pending = sent;
        for (i, key) in recv {
            let t = self.entries[i].time().total_micros();
            let Some(cands) = pending.get_mut(&key) else {
                continue;
            };
            let target = t.saturating_sub(delay);
            let best = cands
                .iter()
                .enumerate()
                .filter(|(_, &j)| self.entries[j].time().total_micros() <= t)
                .min_by_key(|(_, &j)| self.entries[j].time().total_micros().abs_diff(target))
                .map(|(pos, _)| pos);
            if let Some(pos) = best {
                let j = cands.remove(pos);
                self.entries[i].peer = Some(j);
                self.entries[j].peer = Some(i);
            }
        }
        for idx in pending.into_values().flatten() {
            if self.entries[idx].time() <= peer_last {
                self.entries[idx].lost = true;
            }
        }
    }

    /// The endpoint on `side`.
    pub fn endpoint(&self, side: Side) -> &Endpoint {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }

    /// The initial sequence number of `side`, when known.
    pub fn isn(&self, side: Side) -> Option<u32> {
        match side {
            Side::Left => self.isn_left,
            Side::Right => self.isn_right,
        }
    }

    /// A sequence number in `side`'s sequence space, relative to its ISN: `A`, `A+1`,
    /// `B+1461`, `A-1`; the absolute number when the ISN is unknown.
    pub fn rel(&self, side: Side, value: u32) -> String {
        match self.isn(side) {
            Some(isn) => {
                let d = value.wrapping_sub(isn);
                let letter = side.isn_letter();
                if d == 0 {
                    letter.to_string()
                } else if d < 0x8000_0000 {
                    format!("{letter}+{d}")
                } else {
                    format!("{letter}-{}", d.wrapping_neg())
                }
            }
            None => value.to_string(),
        }
    }

    /// `value - ISN(side)` as a plain number (sequence arithmetic, RFC 9293 §3.4), or
    /// the value itself when the ISN is unknown.
    pub fn rel_offset(&self, side: Side, value: u32) -> u32 {
        value.wrapping_sub(self.isn(side).unwrap_or(0))
    }

    /// Microseconds from the origin to `t`.
    pub fn offset_micros(&self, t: Instant) -> u64 {
        t.total_micros().saturating_sub(self.origin.total_micros())
    }

    /// When the segment sent at entry `idx` reached the peer, if known.
    pub fn arrival_time(&self, idx: usize) -> Option<Instant> {
        let e = self.entries.get(idx)?;
        e.sent_segment()?;
        e.peer.map(|p| self.entries[p].time())
    }

    /// The median observed one-way delay of matched segments (`None` if none matched).
    pub fn median_delay_micros(&self) -> Option<u64> {
        let mut d: Vec<u64> = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let at = self.arrival_time(i)?;
                Some(at.total_micros().saturating_sub(e.time().total_micros()))
            })
            .collect();
        if d.is_empty() {
            return None;
        }
        d.sort_unstable();
        Some(d[d.len() / 2])
    }

    /// The segments each side transmitted, as (entry index, sender, segment): its own
    /// sent segments, plus received segments whose transmission was not traced.
    pub fn transmissions(&self) -> impl Iterator<Item = (usize, Side, &SegmentTrace)> + '_ {
        self.entries.iter().enumerate().filter_map(|(i, e)| {
            let s = e.segment()?;
            match s.dir {
                Direction::Sent => Some((i, e.side, s)),
                Direction::Received if e.peer.is_none() => Some((i, e.side.other(), s)),
                Direction::Received => None,
            }
        })
    }

    /// The textbook description of a segment transmitted by `sender`, as parts to be
    /// joined: flags, `seq=A+1` (with the absolute number in parentheses on SYNs or
    /// when `absolute`), `ack=B+1`, `win 512`, `len 5`, the payload preview (when
    /// `preview_bytes > 0`), options (`<mss 1460,wscale 7,sackOK,TS>` on SYNs, SACK
    /// blocks otherwise) and the retransmission label.
    pub fn segment_parts(
        &self,
        sender: Side,
        seg: &SegmentTrace,
        absolute: bool,
        preview_bytes: usize,
    ) -> Vec<String> {
        let mut parts = vec![seg.flags.name()];
        let rel = self.rel(sender, seg.seq);
        if (seg.flags.syn() || absolute) && self.isn(sender).is_some() {
            parts.push(format!("seq={rel} ({})", seg.seq));
        } else {
            parts.push(format!("seq={rel}"));
        }
        if seg.flags.ack() {
            let rel = self.rel(sender.other(), seg.ack);
            if absolute && self.isn(sender.other()).is_some() {
                parts.push(format!("ack={rel} ({})", seg.ack));
            } else {
                parts.push(format!("ack={rel}"));
            }
        }
        if seg.window_bytes > u32::from(seg.window) {
            parts.push(format!("win {} ({} B)", seg.window, seg.window_bytes));
        } else {
            parts.push(format!("win {}", seg.window));
        }
        if seg.len > 0 {
            parts.push(format!("len {}", seg.len));
            if preview_bytes > 0 && !seg.preview.is_empty() {
                parts.push(fmt_preview(&seg.preview, preview_bytes, u64::from(seg.len)));
            }
        }
        if seg.flags.syn() {
            if let Some(o) = fmt_syn_options(&seg.options) {
                parts.push(o);
            }
        } else if seg.options.sack_len > 0 {
            let blocks: Vec<String> = seg
                .options
                .sack_blocks()
                .iter()
                .map(|b| {
                    format!(
                        "{}..{}",
                        self.rel(sender.other(), b.left),
                        self.rel(sender.other(), b.right)
                    )
                })
                .collect();
            parts.push(format!("<sack {}>", blocks.join(",")));
        }
        if let Some(r) = retransmission_label(seg) {
            parts.push(r);
        }
        parts
    }
}

/// `(retransmission N, RTO x)` for a retransmitted segment (`(retransmission N)` when
/// the RTO is not known), `None` for an original transmission.
pub fn retransmission_label(seg: &SegmentTrace) -> Option<String> {
    if !seg.retransmission && seg.retransmit_count == 0 {
        return None;
    }
    let n = seg.retransmit_count.max(1);
    Some(if seg.rto_micros > 0 {
        format!(
            "(retransmission {n}, RTO {})",
            fmt_duration_micros(seg.rto_micros)
        )
    } else {
        format!("(retransmission {n})")
    })
}

/// True for a segment that carries data or is a pure ACK (no SYN, FIN or RST): the
/// kind of segment a long data phase is made of.
pub(crate) fn is_plain(seg: &SegmentTrace) -> bool {
    !seg.flags.syn() && !seg.flags.fin() && !seg.flags.rst()
}

/// True when the state change belongs in the picture as a change (old != new).
pub(crate) fn state_change(e: &Entry) -> Option<(State, State)> {
    match e.event.kind {
        TraceKind::StateChange { old, new } => Some((old, new)),
        _ => None,
    }
}
