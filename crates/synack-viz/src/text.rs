//! The terminal ladder: one line per segment at its send time, with an arrow showing
//! its direction, and each side's state changes written in its own column when they
//! happen — the textbook picture of a connection's life.

use crate::format::{fmt_duration_micros, fmt_time, pad_left, pad_right, width};
use crate::rows::{build_rows, summary_text, Row};
use crate::summary::Summary;
use crate::timeline::{Side, Timeline};
use core::time::Duration;

/// How [`render_text`] draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextOptions {
    /// One-way latency, shown in the header and used for the handshake's RTT count.
    pub latency: Option<Duration>,
    /// The MSL in force, shown in the header with the TIME-WAIT length (2*MSL).
    pub msl: Option<Duration>,
    /// Collapse a run of more than this many data segments (with the ACKs between
    /// them) into one summary line; `usize::MAX` never collapses. Default 40.
    pub summarize_data_over: usize,
    /// Payload bytes shown in quotes on data segments (0: none). Default 16.
    pub preview_bytes: usize,
    /// Show absolute sequence and ack numbers on every segment, not only on SYNs.
    pub absolute: bool,
    /// Append the [`Summary`] lines at the bottom. Default true.
    pub summary: bool,
}

impl Default for TextOptions {
    fn default() -> TextOptions {
        TextOptions {
            latency: None,
            msl: None,
            summarize_data_over: 40,
            preview_bytes: 16,
            absolute: false,
            summary: true,
        }
    }
}

const TIME_W: usize = 9;
const GAP: &str = "   ";
const ARROW_R: &str = "──▶";
const ARROW_L: &str = "◀──";
const LOST_R: &str = "──✗";
const LOST_L: &str = "✗──";

/// What goes in the middle of a row, before padding.
enum Middle {
    Empty,
    LeftToRight {
        label: String,
        lost: bool,
    },
    RightToLeft {
        label: String,
        lost: bool,
    },
    Notes {
        left: Option<String>,
        right: Option<String>,
    },
    Text(String),
}

fn middle_of(tl: &Timeline, row: &Row, opts: &TextOptions) -> Middle {
    if let Some(s) = &row.summary {
        return Middle::Text(summary_text(s));
    }
    if let Some((i, sender)) = row.segment {
        let e = &tl.entries[i];
        let Some(seg) = e.segment() else {
            return Middle::Empty;
        };
        let label = tl
            .segment_parts(sender, seg, opts.absolute, opts.preview_bytes)
            .join("  ");
        return match sender {
            Side::Left => Middle::LeftToRight {
                label,
                lost: e.lost,
            },
            Side::Right => Middle::RightToLeft {
                label: if e.lost {
                    format!("{label}  (lost)")
                } else {
                    label
                },
                lost: e.lost,
            },
        };
    }
    let left = row.note_of(Side::Left).map(str::to_string);
    let right = row.note_of(Side::Right).map(str::to_string);
    if left.is_none() && right.is_none() {
        Middle::Empty
    } else {
        Middle::Notes { left, right }
    }
}

/// The width the middle needs for this content.
fn middle_need(m: &Middle) -> usize {
    match m {
        Middle::Empty => 0,
        Middle::LeftToRight { label, .. } | Middle::RightToLeft { label, .. } => width(label) + 7,
        Middle::Notes { left, right } => {
            left.as_deref().map_or(0, width) + right.as_deref().map_or(0, width) + 4
        }
        Middle::Text(t) => width(t) + 2,
    }
}

fn middle_str(m: &Middle, mw: usize) -> (String, Option<&'static str>) {
    match m {
        Middle::Empty => (" ".repeat(mw), None),
        Middle::LeftToRight { label, lost } => {
            let arrow = if *lost { LOST_R } else { ARROW_R };
            if *lost {
                (
                    format!("{}{arrow} ", pad_right(label, mw - 5)),
                    Some("(lost)"),
                )
            } else {
                (format!("{}{arrow}  ", pad_right(label, mw - 5)), None)
            }
        }
        Middle::RightToLeft { label, lost } => {
            let arrow = if *lost { LOST_L } else { ARROW_L };
            (format!("{arrow}  {}", pad_right(label, mw - 5)), None)
        }
        Middle::Notes { left, right } => {
            let l = left.as_deref().unwrap_or("");
            let r = right.as_deref().unwrap_or("");
            let room = mw.saturating_sub(width(l) + 2);
            (format!("{l}{}  ", pad_left(r, room)), None)
        }
        Middle::Text(t) => (pad_right(t, mw), None),
    }
}

/// Draw the ladder. See the crate documentation for an example of the output.
pub fn render_text(tl: &Timeline, opts: &TextOptions) -> String {
    let rows = build_rows(tl, opts.summarize_data_over);
    let middles: Vec<Middle> = rows.iter().map(|r| middle_of(tl, r, opts)).collect();

    let mut lw = width(&tl.left.label).max(width(tl.left.initial_state.name()));
    for r in &rows {
        if let Some(s) = r.state_of(Side::Left) {
            lw = lw.max(width(s.name()));
        }
    }
    lw += 2;
    let mw = middles.iter().map(middle_need).max().unwrap_or(0).max(24);

    // Sub-millisecond spacing (LAN captures) gets microsecond resolution.
    let mut times: Vec<u64> = rows.iter().map(|r| tl.offset_micros(r.time)).collect();
    times.dedup();
    let fine = times.windows(2).any(|w| w[1] > w[0] && w[1] - w[0] < 100);

    let mut out = String::new();
    out.push_str(&header(tl, opts));
    out.push_str("\n\n");
    push_line(
        &mut out,
        format!(
            "{}{GAP}{}{}{}",
            pad_left("time", TIME_W),
            pad_right(&tl.left.label, lw),
            " ".repeat(mw),
            tl.right.label
        ),
    );
    push_line(
        &mut out,
        format!(
            "{}{GAP}{}{}{}",
            " ".repeat(TIME_W),
            pad_right(tl.left.initial_state.name(), lw),
            " ".repeat(mw),
            tl.right.initial_state.name()
        ),
    );
    for (row, m) in rows.iter().zip(&middles) {
        let time = fmt_time(tl.offset_micros(row.time), fine);
        let left = row.state_of(Side::Left).map_or("", |s| s.name());
        let (mid, extra) = middle_str(m, mw);
        let mut right = row
            .state_of(Side::Right)
            .map_or(String::new(), |s| s.name().to_string());
        if let Some(x) = extra {
            right = if right.is_empty() {
                x.to_string()
            } else {
                format!("{x} {right}")
            };
        }
        push_line(
            &mut out,
            format!(
                "{}{GAP}{}{mid}{right}",
                pad_left(&time, TIME_W),
                pad_right(left, lw)
            ),
        );
    }
    if opts.summary {
        out.push('\n');
        for l in Summary::from_timeline(tl, opts.latency).lines(tl) {
            push_line(&mut out, l);
        }
    }
    out
}

fn push_line(out: &mut String, line: String) {
    out.push_str(line.trim_end());
    out.push('\n');
}

fn header(tl: &Timeline, opts: &TextOptions) -> String {
    let mut h = format!(
        "{} {}  <->  {} {}",
        tl.left.label, tl.left.addr, tl.right.label, tl.right.addr
    );
    let mut extras = Vec::new();
    if let Some(l) = opts.latency {
        extras.push(format!(
            "one-way latency {}",
            fmt_duration_micros(micros(l))
        ));
    }
    if let Some(msl) = opts.msl {
        extras.push(format!(
            "MSL {} (TIME-WAIT {})",
            fmt_duration_micros(micros(msl)),
            fmt_duration_micros(micros(msl).saturating_mul(2))
        ));
    }
    if !extras.is_empty() {
        h.push_str("    ");
        h.push_str(&extras.join(", "));
    }
    h
}

pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
