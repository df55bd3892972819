//! The terminal ladder: one line per segment at its send time, with an arrow showing
//! its direction, and each side's state changes written in its own column when they
//! happen — the textbook picture of a connection's life.

use crate::format::{char_width, fmt_duration_micros, fmt_time, pad_left, pad_right, width};
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
    /// Fit the ladder in this many columns: segment labels that do not fit are
    /// wrapped onto continuation lines under their arrow. Below about 75 columns the
    /// states leave their side columns for rows of their own (the compact layout:
    /// the left side's state at the left, the right side's at the right). Widths
    /// under [`MIN_WIDTH`] are taken as [`MIN_WIDTH`]. `None` (the default) draws
    /// every label on one line, however wide.
    pub width: Option<usize>,
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
            width: None,
        }
    }
}

/// The narrowest ladder [`render_text`] draws: a smaller [`TextOptions::width`] is
/// taken as this one. Every line of a ladder fitted to a width of at least this many
/// columns is at most that wide.
pub const MIN_WIDTH: usize = 40;

/// The narrowest middle column of the side-by-side layout.
const MIN_MIDDLE: usize = 24;

/// A width leaving the side-by-side layout's middle fewer columns than this gets the
/// compact layout (a payload preview or a SYN's `seq=A (…)` fits on a line).
const COMPACT_MIDDLE: usize = 30;

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
        label: Vec<String>,
        lost: bool,
    },
    RightToLeft {
        label: Vec<String>,
        lost: bool,
    },
    Notes {
        left: Option<String>,
        right: Option<String>,
    },
    Text(String),
}

fn middle_of(tl: &Timeline, row: &Row, opts: &TextOptions, compact: bool) -> Middle {
    if let Some(s) = &row.summary {
        return Middle::Text(summary_text(s));
    }
    if let Some((i, sender)) = row.segment {
        let e = &tl.entries[i];
        let Some(seg) = e.segment() else {
            return Middle::Empty;
        };
        let mut label = tl.segment_parts(sender, seg, opts.absolute, opts.preview_bytes);
        return match sender {
            Side::Left => {
                // The compact layout has no right column for the word.
                if e.lost && compact {
                    label.push("(lost)".to_string());
                }
                Middle::LeftToRight {
                    label,
                    lost: e.lost,
                }
            }
            Side::Right => {
                if e.lost {
                    label.push("(lost)".to_string());
                }
                Middle::RightToLeft {
                    label,
                    lost: e.lost,
                }
            }
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

/// Join label parts into lines of at most `max` columns (a part wider than that gets
/// a line of its own); `usize::MAX` gives one line.
fn wrap_parts(parts: &[String], max: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    // A part wider than a line (a long SACK list) breaks after its commas.
    let split: Vec<String> = parts
        .iter()
        .flat_map(|p| {
            if width(p) <= max {
                return vec![p.clone()];
            }
            let mut pieces: Vec<String> = vec![String::new()];
            for (k, chunk) in p.split(',').enumerate() {
                let chunk = if k == 0 {
                    chunk.to_string()
                } else {
                    format!(",{chunk}")
                };
                let last = pieces.last_mut().expect("one piece");
                if !last.is_empty() && width(last) + width(&chunk) > max {
                    pieces.push(chunk.trim_start_matches(',').trim_start().to_string());
                    // The comma stays at the end of the line it closes.
                    let n = pieces.len();
                    pieces[n - 2].push(',');
                } else {
                    last.push_str(&chunk);
                }
            }
            pieces
        })
        // A piece still wider (no commas: a long payload preview) breaks at spaces,
        // and a word wider than a line is cut.
        .flat_map(|p| break_words(&p, max))
        .collect();
    for p in &split {
        if !cur.is_empty() && width(&cur) + 2 + width(p) > max {
            lines.push(core::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push_str("  ");
        }
        cur.push_str(p);
    }
    lines.push(cur);
    lines
}

/// `text` as lines of at most `max` columns (at least 1): broken after its commas,
/// then at its spaces, a word wider than `max` cut into pieces. Text that fits is returned whole.
fn break_words(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    if width(text) <= max {
        return vec![text.to_string()];
    }
    // Clauses first (a comma ends its line), then words, then pieces of a word.
    let clauses: Vec<&str> = text.split(", ").collect();
    let mut units: Vec<String> = Vec::new();
    for (i, clause) in clauses.iter().enumerate() {
        let clause = if i + 1 < clauses.len() {
            format!("{clause},")
        } else {
            (*clause).to_string()
        };
        if width(&clause) <= max {
            units.push(clause);
            continue;
        }
        for w in clause.split(' ').filter(|w| !w.is_empty()) {
            if width(w) <= max {
                units.push(w.to_string());
                continue;
            }
            let mut piece = String::new();
            for c in w.chars() {
                if width(&piece) + char_width(c) > max {
                    units.push(core::mem::take(&mut piece));
                }
                piece.push(c);
            }
            units.push(piece);
        }
    }
    wrap_words(&units, max)
}

/// Join words into lines of at most `max` columns, one space apart.
fn wrap_words(words: &[String], max: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for w in words {
        if !cur.is_empty() && width(&cur) + 1 + width(w) > max {
            lines.push(core::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(w);
    }
    lines.push(cur);
    lines
}

/// The width the middle needs for this content.
fn middle_need(m: &Middle) -> usize {
    match m {
        Middle::Empty => 0,
        Middle::LeftToRight { label, .. } | Middle::RightToLeft { label, .. } => {
            width(&label.join("  ")) + 7
        }
        Middle::Notes { left, right } => {
            left.as_deref().map_or(0, width) + right.as_deref().map_or(0, width) + 4
        }
        Middle::Text(t) => width(t) + 2,
    }
}

/// The middle of a row as lines (the first with the arrow, the others continuation
/// lines of a wrapped label), and a word for the right column of the first line.
fn middle_str(m: &Middle, mw: usize) -> (Vec<String>, Option<&'static str>) {
    let one = |s: String| vec![s];
    match m {
        Middle::Empty => (one(" ".repeat(mw)), None),
        Middle::LeftToRight { label, lost } => {
            let arrow = if *lost { LOST_R } else { ARROW_R };
            let lines = wrap_parts(label, mw - 7);
            let mut out = Vec::with_capacity(lines.len());
            for (k, l) in lines.iter().enumerate() {
                out.push(if k == 0 {
                    if *lost {
                        format!("{}{arrow} ", pad_right(l, mw - 5))
                    } else {
                        format!("{}{arrow}  ", pad_right(l, mw - 5))
                    }
                } else {
                    format!("  {}", pad_right(l, mw - 2))
                });
            }
            (out, lost.then_some("(lost)"))
        }
        Middle::RightToLeft { label, lost } => {
            let arrow = if *lost { LOST_L } else { ARROW_L };
            let lines = wrap_parts(label, mw - 7);
            let mut out = Vec::with_capacity(lines.len());
            for (k, l) in lines.iter().enumerate() {
                out.push(if k == 0 {
                    format!("{arrow}  {}", pad_right(l, mw - 5))
                } else {
                    format!("     {}", pad_right(l, mw - 5))
                });
            }
            (out, None)
        }
        Middle::Notes { left, right } => {
            let l = left.as_deref().unwrap_or("");
            let r = right.as_deref().unwrap_or("");
            if width(l) + width(r) + 4 <= mw {
                let room = mw.saturating_sub(width(l) + 2);
                return (one(format!("{l}{}  ", pad_left(r, room))), None);
            }
            // Too narrow for both on one line: the left note's lines, then the right
            // note's, against their own timelines, each wrapped at its spaces.
            let words = |t: &str| t.split(' ').map(str::to_string).collect::<Vec<_>>();
            let mut out = Vec::new();
            if !l.is_empty() {
                for line in wrap_words(&words(l), mw.saturating_sub(2)) {
                    out.push(pad_right(&line, mw));
                }
            }
            if !r.is_empty() {
                for line in wrap_words(&words(r), mw.saturating_sub(2)) {
                    out.push(format!("{}  ", pad_left(&line, mw.saturating_sub(2))));
                }
            }
            (out, None)
        }
        Middle::Text(t) => {
            // A band's summary wider than the middle wraps at its spaces.
            let words: Vec<String> = t.split(' ').map(str::to_string).collect();
            let lines = wrap_words(&words, mw);
            (lines.iter().map(|l| pad_right(l, mw)).collect(), None)
        }
    }
}

/// Draw the ladder. See the crate documentation for an example of the output.
pub fn render_text(tl: &Timeline, opts: &TextOptions) -> String {
    let rows = build_rows(tl, opts.summarize_data_over);
    let limit = opts.width.map(|w| w.max(MIN_WIDTH));

    let mut lw = width(&tl.left.label).max(width(tl.left.initial_state.name()));
    for r in &rows {
        if let Some(s) = r.state_of(Side::Left) {
            lw = lw.max(width(s.name()));
        }
    }
    lw += 2;
    // The right column holds a state name (and "(lost)" before it).
    let mut rw = width(&tl.right.label).max(width(tl.right.initial_state.name()));
    for r in &rows {
        if let Some(s) = r.state_of(Side::Right) {
            rw = rw.max(width(s.name()) + 7);
        }
    }
    let fixed = TIME_W + GAP.len() + lw + rw;
    // Too narrow for the side columns: states go on rows of their own.
    let compact = limit.is_some_and(|l| l < fixed + COMPACT_MIDDLE);
    let middles: Vec<Middle> = rows
        .iter()
        .map(|r| middle_of(tl, r, opts, compact))
        .collect();
    let mut mw = middles
        .iter()
        .map(middle_need)
        .max()
        .unwrap_or(0)
        .max(MIN_MIDDLE);
    if let Some(limit) = limit {
        mw = if compact {
            limit - TIME_W - GAP.len()
        } else {
            mw.min(limit - fixed)
        };
    }

    // Sub-millisecond spacing (LAN captures) gets microsecond resolution.
    let mut times: Vec<u64> = rows.iter().map(|r| tl.offset_micros(r.time)).collect();
    times.dedup();
    let fine = times.windows(2).any(|w| w[1] > w[0] && w[1] - w[0] < 100);

    let mut out = String::new();
    let mut head = header(tl, opts);
    if limit.is_some_and(|l| width(&head) > l) {
        // Narrow: the header breaks before "<->" and between its facts.
        head = head.replace("  <->  ", "    <-> ").replace(", ", "    ");
    }
    for l in fit_line(&head, "    ", limit) {
        push_line(&mut out, l);
    }
    out.push('\n');
    if compact {
        let blank = " ".repeat(TIME_W);
        for (k, l) in two_sides(&tl.left.label, &tl.right.label, mw)
            .into_iter()
            .enumerate()
        {
            let time = if k == 0 { "time" } else { "" };
            push_line(&mut out, format!("{}{GAP}{l}", pad_left(time, TIME_W)));
        }
        let (l, r) = (tl.left.initial_state.name(), tl.right.initial_state.name());
        for l in two_sides(l, r, mw) {
            push_line(&mut out, format!("{blank}{GAP}{l}"));
        }
    } else {
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
    }
    for (row, m) in rows.iter().zip(&middles) {
        let time = fmt_time(tl.offset_micros(row.time), fine);
        let left = row.state_of(Side::Left).map_or("", |s| s.name());
        let right_state = row.state_of(Side::Right).map_or("", |s| s.name());
        if compact {
            // The row's state changes first (the left side's at the left, the right
            // side's at the right), then its segment, note or summary.
            let mut lines = Vec::new();
            if !left.is_empty() || !right_state.is_empty() {
                lines = two_sides(left, right_state, mw);
            }
            if !matches!(m, Middle::Empty) || lines.is_empty() {
                lines.extend(middle_str(m, mw).0);
            }
            for (k, l) in lines.iter().enumerate() {
                let t = if k == 0 { time.as_str() } else { "" };
                push_line(&mut out, format!("{}{GAP}{l}", pad_left(t, TIME_W)));
            }
            continue;
        }
        let (mids, extra) = middle_str(m, mw);
        let mut right = right_state.to_string();
        if let Some(x) = extra {
            right = if right.is_empty() {
                x.to_string()
            } else {
                format!("{x} {right}")
            };
        }
        for (k, mid) in mids.iter().enumerate() {
            let line = if k == 0 {
                format!(
                    "{}{GAP}{}{mid}{right}",
                    pad_left(&time, TIME_W),
                    pad_right(left, lw)
                )
            } else {
                format!("{}{GAP}{}{mid}", " ".repeat(TIME_W), " ".repeat(lw))
            };
            push_line(&mut out, line);
        }
    }
    if opts.summary {
        out.push('\n');
        for l in Summary::from_timeline(tl, opts.latency).lines(tl) {
            for part in fit_line(&l, " · ", limit) {
                push_line(&mut out, part);
            }
        }
    }
    out
}

/// `left` at the start and `right` at the end of `w` columns: one line when both
/// fit with a space between them, else two (the right one still at the end).
fn two_sides(left: &str, right: &str, w: usize) -> Vec<String> {
    if width(left) + 1 + width(right) <= w {
        return vec![format!("{left}{}", pad_left(right, w - width(left)))];
    }
    let mut out = Vec::new();
    if !left.is_empty() {
        out.extend(break_words(left, w));
    }
    if !right.is_empty() {
        out.extend(break_words(right, w).iter().map(|r| pad_left(r, w)));
    }
    out
}

/// Break `line` at `sep` into lines of at most `width` columns (a piece too wide for a
/// line breaks at its spaces, a word too wide is cut); continuation lines are
/// indented by two spaces. `None` keeps
/// the line whole. The ladder's header and summary lines are fitted this way
/// ([`TextOptions::width`]); callers that print lines of their own under a ladder
/// can fit them the same way.
///
/// ```
/// let lines = synack_viz::text::fit_line("one · two · three", " · ", Some(12));
/// assert_eq!(lines, ["one · two", "  three"]);
/// ```
pub fn fit_line(line: &str, sep: &str, width: Option<usize>) -> Vec<String> {
    let Some(max) = width else {
        return vec![line.to_string()];
    };
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for piece in line.split(sep) {
        // A piece wider than a continuation line breaks at its spaces.
        let bits = if self::width(piece) > max.saturating_sub(2) {
            break_words(piece, max.saturating_sub(2))
        } else {
            vec![piece.to_string()]
        };
        for (k, bit) in bits.into_iter().enumerate() {
            let joint = if k == 0 { sep } else { " " };
            let empty = cur.is_empty() || cur == "  ";
            if !empty && self::width(&cur) + self::width(joint) + self::width(&bit) > max {
                out.push(core::mem::replace(&mut cur, "  ".to_string()));
                cur.push_str(&bit);
                continue;
            }
            if !empty {
                cur.push_str(joint);
            }
            cur.push_str(&bit);
        }
    }
    out.push(cur);
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
