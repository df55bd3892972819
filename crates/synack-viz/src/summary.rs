//! Figures about a whole connection computed from its timeline: handshake time,
//! segment, retransmission and byte counts per side, and time spent in TIME-WAIT.

use crate::format::{fmt_bytes, fmt_count, fmt_duration_micros, fmt_time, trim_decimal};
use crate::timeline::{state_change, Side, Timeline};
use core::time::Duration;
use synack_core::State;

/// Per-connection figures (see [`Summary::from_timeline`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    /// From the first SYN sent to the left side (client) reaching ESTABLISHED.
    pub handshake: Option<Duration>,
    /// The same in round trips (handshake / (2 × one-way latency)), when a latency is given.
    pub handshake_rtts: Option<f64>,
    /// Segments transmitted by the left side (retransmissions included).
    pub segments_left: u64,
    /// Segments transmitted by the right side (retransmissions included).
    pub segments_right: u64,
    /// Retransmissions by the left side.
    pub retransmissions_left: u64,
    /// Retransmissions by the right side.
    pub retransmissions_right: u64,
    /// Segments sent by the left side that never arrived.
    pub lost_left: u64,
    /// Segments sent by the right side that never arrived.
    pub lost_right: u64,
    /// Payload bytes sent left to right (first transmissions only).
    pub bytes_left_to_right: u64,
    /// Payload bytes sent right to left (first transmissions only).
    pub bytes_right_to_left: u64,
    /// Time the left side spent in TIME-WAIT (until the end of the timeline when it
    /// never left it, as in a capture: [`Summary::lines`] then says so); `None` when
    /// it never entered it.
    pub time_wait_left: Option<Duration>,
    /// Time the right side spent in TIME-WAIT.
    pub time_wait_right: Option<Duration>,
}

impl Summary {
    /// Compute the figures. `latency` is the one-way latency, for the RTT count.
    pub fn from_timeline(tl: &Timeline, latency: Option<Duration>) -> Summary {
        let mut s = Summary::default();
        let mut first_syn = None;
        for (i, sender, seg) in tl.transmissions() {
            let retx = seg.retransmission || seg.retransmit_count > 0;
            let lost = tl.entries[i].lost;
            let (segs, rtx, bytes) = match sender {
                Side::Left => (
                    &mut s.segments_left,
                    &mut s.retransmissions_left,
                    &mut s.bytes_left_to_right,
                ),
                Side::Right => (
                    &mut s.segments_right,
                    &mut s.retransmissions_right,
                    &mut s.bytes_right_to_left,
                ),
            };
            *segs += 1;
            if retx {
                *rtx += 1;
            } else {
                *bytes += u64::from(seg.len);
            }
            if lost {
                match sender {
                    Side::Left => s.lost_left += 1,
                    Side::Right => s.lost_right += 1,
                }
            }
            if seg.flags.syn() && first_syn.is_none() {
                first_syn = Some(tl.entries[i].time());
            }
        }
        let established = tl.entries.iter().find(|e| {
            e.side == Side::Left && state_change(e).is_some_and(|(_, n)| n == State::Established)
        });
        if let (Some(t0), Some(e)) = (first_syn, established) {
            let d = e.time().saturating_duration_since(t0);
            s.handshake = Some(d);
            if let Some(l) = latency.filter(|l| !l.is_zero()) {
                s.handshake_rtts = Some(d.as_secs_f64() / (2.0 * l.as_secs_f64()));
            }
        }
        s.time_wait_left = time_wait(tl, Side::Left);
        s.time_wait_right = time_wait(tl, Side::Right);
        s
    }

    /// The summary as text lines, e.g.
    /// `handshake 20.0 ms (1.0 RTT) · 5 B client→server, 5 B server→client · 9 segments (5 client, 4 server), 0 retransmitted, 0 lost`
    /// and `TIME-WAIT 60.00 s on the client`.
    pub fn lines(&self, tl: &Timeline) -> Vec<String> {
        let (l, r) = (&tl.left.label, &tl.right.label);
        let mut first = Vec::new();
        if let Some(h) = self.handshake {
            let mut t = format!("handshake {}", fmt_time(micros(h), micros(h) < 1000));
            if let Some(n) = self.handshake_rtts {
                t.push_str(&format!(" ({} RTT)", trim_decimal(n, 2)));
            }
            first.push(t);
        }
        first.push(format!(
            "{} {l}→{r}, {} {r}→{l}",
            fmt_bytes(self.bytes_left_to_right),
            fmt_bytes(self.bytes_right_to_left)
        ));
        first.push(format!(
            "{} segments ({} {l}, {} {r}), {} retransmitted, {} lost",
            fmt_count(self.segments_left + self.segments_right),
            fmt_count(self.segments_left),
            fmt_count(self.segments_right),
            fmt_count(self.retransmissions_left + self.retransmissions_right),
            fmt_count(self.lost_left + self.lost_right)
        ));
        let mut lines = vec![first.join(" · ")];
        let mut tw = Vec::new();
        for (d, who, side) in [
            (self.time_wait_left, l, Side::Left),
            (self.time_wait_right, r, Side::Right),
        ] {
            if let Some(d) = d {
                let open = if ends_in_time_wait(tl, side) {
                    " (still in TIME-WAIT at the end)"
                } else {
                    ""
                };
                tw.push(format!(
                    "TIME-WAIT {} on the {who}{open}",
                    fmt_duration_micros(micros(d))
                ));
            }
        }
        if !tw.is_empty() {
            lines.push(tw.join(" · "));
        }
        lines
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn ends_in_time_wait(tl: &Timeline, side: Side) -> bool {
    tl.entries
        .iter()
        .rev()
        .filter(|e| e.side == side)
        .find_map(state_change)
        .is_some_and(|(_, new)| new == State::TimeWait)
}

fn time_wait(tl: &Timeline, side: Side) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut entered = None;
    let mut seen = false;
    for e in tl.entries.iter().filter(|e| e.side == side) {
        if let Some((_, new)) = state_change(e) {
            if new == State::TimeWait && entered.is_none() {
                entered = Some(e.time());
                seen = true;
            } else if new != State::TimeWait {
                if let Some(t0) = entered.take() {
                    total += e.time().saturating_duration_since(t0);
                }
            }
        }
    }
    if let (Some(t0), Some(last)) = (entered, tl.entries.last()) {
        total += last.time().saturating_duration_since(t0);
    }
    seen.then_some(total)
}
