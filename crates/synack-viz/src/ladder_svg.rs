//! The SVG ladder: two vertical timelines, one slanted arrow per segment from its send
//! time on the sender's line to its arrival on the receiver's line (lost ones end in an
//! X halfway), labels along the arrows, state boxes at each change, a time axis, and
//! long idle gaps (such as TIME-WAIT's 2*MSL) compressed behind a visible break.
//! Labels never overlap (label_place.rs finds each a free place); where arrows crowd,
//! the layout makes room, and a label that still finds none is left out, kept as the
//! arrow's hover title and counted under the picture.

use crate::format::fmt_time;
use crate::label_place::{self, Obstacles, Rect};
use crate::rows::{build_rows, entry_order, summary_text, Row};
use crate::summary::Summary;
use crate::svg::{esc, n, Svg};
use crate::text::micros;
use crate::timeline::{Side, Timeline};
use core::fmt::Write as _;
use core::time::Duration;
use synack_core::State;

/// How [`render_svg_ladder`] draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LadderSvgOptions {
    /// One-way latency (used for the summary's RTT count and to place arrivals that
    /// were not traced).
    pub latency: Option<Duration>,
    /// Collapse runs of more than this many data segments into a shaded band.
    /// Default 40.
    pub summarize_data_over: usize,
    /// Gaps drawn longer than this many pixels are cut with a break marker. Default 260.
    pub max_gap_px: u32,
    /// Draw the summary lines at the bottom. Default true.
    pub summary: bool,
}

impl Default for LadderSvgOptions {
    fn default() -> LadderSvgOptions {
        LadderSvgOptions {
            latency: None,
            summarize_data_over: 40,
            max_gap_px: 260,
            summary: true,
        }
    }
}

const STYLE: &str = "\
text{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:12px;fill:#1f2933}\
.mono{font-family:ui-monospace,'SFMono-Regular',Menlo,Consolas,'DejaVu Sans Mono',monospace;font-size:10.5px}\
.head{font-weight:600;font-size:14px}.addr{fill:#52606d;font-size:11px}\
.tick{fill:#7b8794;font-size:10.5px}.axis{stroke:#cbd2d9;stroke-width:1}\
.timeline{stroke:#9aa5b1;stroke-width:2}\
.seg{stroke:#2f6fb0;stroke-width:1.4}.retx{stroke:#d9822b;stroke-width:1.6}\
.lost{stroke:#c62828;stroke-width:1.4;stroke-dasharray:5 3}.xmark{stroke:#c62828;stroke-width:2.2}\
.lbl{fill:#243b53}.lbl-retx{fill:#a35a12}.lbl-lost{fill:#b71c1c}\
.st{fill:#e3ecf7;stroke:#8fb3de;stroke-width:1}.st-est{fill:#e3f4e8;stroke:#7cc08f;stroke-width:1}\
.st-close{fill:#fff3e0;stroke:#f0b46a;stroke-width:1}.st-closed{fill:#eceff1;stroke:#a7b1ba;stroke-width:1}\
.sttext{font-size:10.5px;font-weight:600;fill:#243b53}\
.note{font-style:italic;fill:#616e7c;font-size:11px}\
.brk{fill:#ffffff}.brkline{fill:none;stroke:#9aa5b1;stroke-width:1.2}.brktext{fill:#616e7c;font-size:11px;font-style:italic}\
.band{fill:#f0f4f8;stroke:#cbd2d9;stroke-dasharray:4 3}.bandtext{fill:#334e68;font-size:11.5px}\
.sum{fill:#52606d;font-size:11.5px}";

const CHAR_W: f64 = 6.4; // monospace 10.5px advance, generous
const TOP: f64 = 96.0;
const ROW_MIN: f64 = 24.0;
const TIE: f64 = 20.0;
const BREAK_H: f64 = 56.0;
const BAND_H: f64 = 40.0;
/// Advance of a time-axis label character (10.5px proportional digits), generous.
const TICK_W: f64 = 6.2;
/// Advance of a note character (11px italic proportional text), generous.
const NOTE_W: f64 = 6.0;

fn state_class(s: State) -> &'static str {
    match s {
        State::Established => "st-est",
        State::Closed => "st-closed",
        State::FinWait1
        | State::FinWait2
        | State::CloseWait
        | State::Closing
        | State::LastAck
        | State::TimeWait => "st-close",
        _ => "st",
    }
}

/// One vertical position anchor: a row, or the arrival of a drawn segment.
struct Anchor {
    t: u64,
    /// Causal order among anchors at the same time.
    order: usize,
    row: Option<usize>,
    arrival: Option<usize>,
}

/// The vertical layout: a y for every row and every arrow end, with compressed gaps.
struct YMap {
    /// Breaks: (y start, y end, gap in µs).
    breaks: Vec<(f64, f64, u64)>,
    row_y: Vec<f64>,
    arrival_y: Vec<f64>,
}

/// Vertical layout. `arrivals` are (time, causal order) of the drawn segments' ends;
/// `room[r]` is space added above row `r` (where labels found no place).
fn layout(
    rows: &[Row],
    arrivals: &[(u64, usize)],
    tl: &Timeline,
    max_gap_px: f64,
    room: &[f64],
) -> YMap {
    let mut anchors: Vec<Anchor> = arrivals
        .iter()
        .enumerate()
        .map(|(k, &(t, order))| Anchor {
            t,
            order,
            row: None,
            arrival: Some(k),
        })
        .collect();
    anchors.extend(rows.iter().enumerate().map(|(i, r)| Anchor {
        t: tl.offset_micros(r.time),
        order: r.order,
        row: Some(i),
        arrival: None,
    }));
    anchors.sort_by_key(|a| (a.t, a.order, a.row.is_some()));
    // Scale: the median positive gap between row times gets 44 px.
    let mut gaps: Vec<u64> = rows
        .windows(2)
        .map(|w| {
            w[1].time
                .total_micros()
                .saturating_sub(w[0].time.total_micros())
        })
        .filter(|&g| g > 0)
        .collect();
    gaps.sort_unstable();
    let median = gaps.get(gaps.len() / 2).copied().unwrap_or(10_000).max(1);
    let scale = 44.0 / median as f64;

    let mut m = YMap {
        breaks: Vec::new(),
        row_y: vec![TOP; rows.len()],
        arrival_y: vec![TOP; arrivals.len()],
    };
    // Collapsed data phases: (start, end, row). Arrivals inside one end in its band.
    let bands: Vec<(u64, u64, usize)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.summary
                .as_ref()
                .map(|sm| (tl.offset_micros(sm.start), tl.offset_micros(sm.end), i))
        })
        .collect();
    let mut in_band: Vec<(usize, usize)> = Vec::new(); // (arrival, band row)
    let mut y = TOP;
    // Previous anchor: its time (a band's end time), and whether it was an arrival.
    let mut prev: Option<(u64, bool)> = None;
    let mut prev_band = false;
    for (j, a) in anchors.iter().enumerate() {
        if let Some(k) = a.arrival {
            if let Some(&(_, _, r)) = bands.iter().find(|b| b.0 <= a.t && a.t <= b.1) {
                in_band.push((k, r));
                continue;
            }
        }
        if let Some((pt, p_arrival)) = prev {
            let gap = a.t.saturating_sub(pt);
            let mut extra = if prev_band { BAND_H } else { 0.0 };
            // Room asked for above a row; a state change that sits at the tip of the
            // arrow that caused it takes the arrow's end down with it.
            match (a.row, anchors.get(j + 1)) {
                (Some(r), _) if !(gap == 0 && p_arrival) => extra += room[r],
                (None, Some(next)) if next.t == a.t => {
                    if let Some(r) = next.row {
                        extra += room[r];
                    }
                }
                _ => {}
            }
            if gap == 0 {
                // A state change caused by an arrival sits at the arrow's tip; anything
                // else at the same instant gets its own line.
                if !(p_arrival && a.row.is_some()) {
                    y += TIE + extra;
                }
            } else {
                let px = gap as f64 * scale;
                if px > max_gap_px {
                    let y0 = y + extra;
                    y = y0 + BREAK_H;
                    m.breaks.push((y0, y, gap));
                } else {
                    y += px.max(if a.row.is_some() { ROW_MIN } else { 4.0 }) + extra;
                }
            }
        }
        let mut t_end = a.t;
        if let Some(r) = a.row {
            m.row_y[r] = y;
            prev_band = rows[r].summary.is_some();
            if let Some(&(_, end, _)) = bands.iter().find(|b| b.2 == r) {
                t_end = end;
            }
        } else {
            prev_band = false;
        }
        if let Some(k) = a.arrival {
            m.arrival_y[k] = y;
        }
        prev = Some((t_end, a.arrival.is_some()));
    }
    for (k, r) in in_band {
        m.arrival_y[k] = m.row_y[r] - 3.0;
    }
    m
}

/// Draw the ladder as a self-contained SVG 1.1 document.
pub fn render_svg_ladder(tl: &Timeline, opts: &LadderSvgOptions) -> String {
    let rows = build_rows(tl, opts.summarize_data_over);
    let delay = opts
        .latency
        .map(micros)
        .or_else(|| tl.median_delay_micros())
        .unwrap_or(0);

    // Where each drawn segment ends: (arrival time in µs, causal order), per row.
    let mut arrivals = Vec::new();
    let mut ends = vec![None; rows.len()];
    for (ri, r) in rows.iter().enumerate() {
        let Some((i, _)) = r.segment else { continue };
        let e = &tl.entries[i];
        let sent = tl.offset_micros(e.time());
        let end = if e.sent_segment().is_some() {
            match (tl.arrival_time(i), e.peer) {
                (Some(at), Some(p)) => (tl.offset_micros(at), entry_order(p)),
                _ if e.lost => (sent + delay / 2, usize::MAX),
                _ => (sent + delay, usize::MAX),
            }
        } else {
            (sent, r.order) // a receipt whose transmission was not traced: drawn flat
        };
        ends[ri] = Some(arrivals.len());
        arrivals.push(end);
    }
    // Horizontal geometry.
    let mut longest = 0usize;
    for r in &rows {
        if let Some((i, sender)) = r.segment {
            if let Some(seg) = tl.entries[i].segment() {
                let l = tl
                    .segment_parts(sender, seg, false, 0)
                    .join(" ")
                    .chars()
                    .count();
                longest = longest.max(l);
            }
        }
    }
    let lane = (longest as f64 * CHAR_W + 90.0).clamp(420.0, 900.0);
    // Time labels are right-aligned against the axis: make room for the longest
    // (a capture's `12345.678 ms`) so none is clipped at the left edge.
    let fine = rows
        .windows(2)
        .any(|w| w[1].time > w[0].time && (w[1].time - w[0].time) < Duration::from_micros(100));
    let tick_chars = rows
        .iter()
        .map(|r| fmt_time(tl.offset_micros(r.time), fine).chars().count())
        .max()
        .unwrap_or(0);
    let axis_x = (tick_chars as f64 * TICK_W + 18.0).max(70.0);
    let lx = 230.0 + (axis_x - 70.0);
    let rx = lx + lane;
    let width = rx + 170.0;
    // Lay out, place the labels, and where a label found no place, make room above
    // its row and the next, and lay out again with that label placed first (a few
    // rounds at most).
    let max_gap = f64::from(opts.max_gap_px.max(40));
    let mut room = vec![0.0; rows.len()];
    let mut round = 0;
    let mut first: Vec<usize> = Vec::new();
    // The round that left the fewest labels out.
    // The round that left the fewest labels out (then: the fewest notes on arrows).
    let mut best: Option<(YMap, Arranged, (usize, usize))> = None;
    let (ymap, Arranged { arrows, notes }, (left_out, _)) = loop {
        let ymap = layout(&rows, &arrivals, tl, max_gap, &room);
        let last = round + 1 == ROOM_ROUNDS;
        let (placed, failed, crossed) = arrange(tl, &rows, &ends, &ymap, (lx, rx), &first, last);
        round += 1;
        let score = (failed.len(), crossed.len());
        if best.as_ref().is_none_or(|b| score < b.2) {
            best = Some((ymap, placed, score));
        }
        if score == (0, 0) || round == ROOM_ROUNDS {
            break best.expect("one round ran");
        }
        first.extend(&failed);
        for ri in failed.into_iter().chain(crossed) {
            room[ri] += ROOM_STEP;
            if let Some(next) = room.get_mut(ri + 1) {
                *next += ROOM_STEP;
            }
        }
    };
    let last_y = ymap.row_y.last().copied().unwrap_or(TOP);

    let mut summary_lines = if opts.summary {
        Summary::from_timeline(tl, opts.latency).lines(tl)
    } else {
        Vec::new()
    };
    if left_out > 0 {
        summary_lines.push(format!(
            "{left_out} segment label{} left out where arrows crowd (each arrow's label shows when pointed at; the text ladder lists every segment)",
            if left_out == 1 { "" } else { "s" }
        ));
    }
    let bottom = last_y + 50.0;
    let height = bottom + 24.0 + 18.0 * summary_lines.len() as f64;

    let title = format!(
        "{} {} ↔ {} {}",
        tl.left.label, tl.left.addr, tl.right.label, tl.right.addr
    );
    let mut svg = Svg::new(width, height, &title, STYLE);
    svg.raw("<defs><marker id=\"ah\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,1 L10,5 L0,9 z\" fill=\"#2f6fb0\"/></marker><marker id=\"ahr\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,1 L10,5 L0,9 z\" fill=\"#d9822b\"/></marker></defs>");

    // Headers.
    for (side, x) in [(Side::Left, lx), (Side::Right, rx)] {
        let ep = tl.endpoint(side);
        svg.text(x, 26.0, "head", "middle", &ep.label);
        svg.text(x, 42.0, "addr", "middle", &ep.addr.to_string());
    }
    // Time axis and timelines.
    svg.line(axis_x, TOP - 30.0, axis_x, bottom - 20.0, "axis");
    svg.text(axis_x - 8.0, TOP - 36.0, "tick", "end", "time");
    svg.raw("<g class=\"timelines\">");
    svg.line(lx, 52.0, lx, bottom, "timeline");
    svg.line(rx, 52.0, rx, bottom, "timeline");
    svg.raw("</g>");
    state_box(&mut svg, lx, TOP - 34.0, Side::Left, tl.left.initial_state);
    state_box(
        &mut svg,
        rx,
        TOP - 34.0,
        Side::Right,
        tl.right.initial_state,
    );

    // Time ticks: one per distinct row time, skipping labels that would collide.
    let mut last_tick = f64::NEG_INFINITY;
    let mut last_t = None;
    for (ri, r) in rows.iter().enumerate() {
        let y = ymap.row_y[ri];
        let t = tl.offset_micros(r.time);
        if last_t == Some(t) || y - last_tick < 14.0 {
            continue;
        }
        svg.line(axis_x - 4.0, y, axis_x + 4.0, y, "axis");
        svg.text(axis_x - 8.0, y + 3.5, "tick", "end", &fmt_time(t, fine));
        last_tick = y;
        last_t = Some(t);
    }

    // Bands for collapsed data phases.
    for (ri, r) in rows.iter().enumerate() {
        if let Some(s) = &r.summary {
            let y = ymap.row_y[ri];
            svg.rect(lx + 12.0, y - 4.0, lane - 24.0, BAND_H - 8.0, "band");
            svg.text(
                (lx + rx) / 2.0,
                y + BAND_H / 2.0 - 0.5,
                "bandtext",
                "middle",
                &summary_text(s),
            );
        }
    }

    // Arrows, each with its label as a title (shown when pointed at).
    svg.raw("<g class=\"arrows\">");
    for a in &arrows {
        let (cls, lcls, marker) = if a.lost {
            ("lost", "lbl-lost", "")
        } else if a.retx {
            ("retx", "lbl-retx", " marker-end=\"url(#ahr)\"")
        } else {
            ("seg", "lbl", " marker-end=\"url(#ah)\"")
        };
        let ((x1, y1), (xe, ye)) = (a.from, a.to);
        let _ = write!(
            svg.out,
            "<g class=\"segment\"><title>{}</title><line class=\"{cls}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"{marker}/>",
            esc(&a.title),
            n(x1),
            n(y1),
            n(xe),
            n(ye)
        );
        if a.lost {
            let d = 6.0;
            let _ = write!(
                svg.out,
                "<path class=\"xmark\" d=\"M{},{} L{},{} M{},{} L{},{}\"/>",
                n(xe - d),
                n(ye - d),
                n(xe + d),
                n(ye + d),
                n(xe - d),
                n(ye + d),
                n(xe + d),
                n(ye - d)
            );
        }
        if let Some(((tx, ty), angle, label)) = &a.label {
            let _ = write!(
                svg.out,
                "<text class=\"mono {lcls}\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate({} {} {})\">{}</text>",
                n(*tx),
                n(*ty),
                n(*angle),
                n(*tx),
                n(*ty),
                esc(label)
            );
        }
        svg.raw("</g>\n");
    }
    svg.raw("</g>");

    // State boxes and notes.
    for (ri, r) in rows.iter().enumerate() {
        let y = ymap.row_y[ri];
        for (side, x) in [(Side::Left, lx), (Side::Right, rx)] {
            if let Some(s) = r.state_of(side) {
                state_box(&mut svg, x, y, side, s);
            }
        }
    }
    for p in &notes {
        let Some(note) = rows[p.ri].note_of(p.side) else {
            continue;
        };
        let (nx, anchor) = match p.side {
            Side::Left => (lx + 10.0, "start"),
            Side::Right => (rx - 10.0, "end"),
        };
        svg.text(nx, p.y + 4.0, "note", anchor, note);
    }

    // Breaks over everything else.
    for &(y0, y1, gap) in &ymap.breaks {
        svg.rect(0.0, y0 + 15.0, width, y1 - y0 - 30.0, "brk");
        for yy in [y0 + 15.0, y1 - 15.0] {
            let mut pts = Vec::new();
            let mut x = 0.0;
            let mut up = true;
            while x <= width {
                pts.push((x, if up { yy - 3.0 } else { yy + 3.0 }));
                up = !up;
                x += 8.0;
            }
            svg.polyline(&pts, "brkline");
        }
        svg.text(
            (lx + rx) / 2.0,
            (y0 + y1) / 2.0 + 4.0,
            "brktext",
            "middle",
            &format!("{} later", crate::format::fmt_duration_micros(gap)),
        );
    }

    for (k, l) in summary_lines.iter().enumerate() {
        svg.text(20.0, bottom + 24.0 + 18.0 * k as f64, "sum", "start", l);
    }
    svg.finish()
}

/// Rounds of [`render_svg_ladder`]'s layout: the first, and up to this many minus one
/// that make room where labels found no place.
const ROOM_ROUNDS: usize = 5;
/// Space added above a row (and the next) per round in which its label found no place.
const ROOM_STEP: f64 = 14.0;

/// The arrows of a laid-out ladder and their labels: bursts labelled at their ends,
/// every other label placed where it overlaps nothing (with `shorten`, a label with
/// no place for its whole text tries flags, seq and ack only), and the notes beside
/// their timelines where they cross no arrow. Returns what was placed, the rows whose
/// label found no place, and the rows with a note that crosses an arrow.
fn arrange(
    tl: &Timeline,
    rows: &[Row],
    ends: &[Option<usize>],
    ymap: &YMap,
    (lx, rx): (f64, f64),
    first: &[usize],
    shorten: bool,
) -> (Arranged, Vec<usize>, Vec<usize>) {
    // Bursts: a run of plain segments from one sender, each leaving before the one
    // before it arrives, would draw a fan of labels on top of each other. Only the
    // first and last of a burst of BURST_MIN or more are labelled, the first with
    // the burst's size.
    let mut burst_of: Vec<Option<usize>> = vec![None; rows.len()];
    let mut labelled = vec![true; rows.len()];
    {
        let plain_sender = |ri: usize| -> Option<Side> {
            let r = &rows[ri];
            let (i, sender) = r.segment?;
            let seg = tl.entries[i].segment()?;
            (r.state == [None, None]
                && r.note.iter().all(Option::is_none)
                && crate::timeline::is_plain(seg)
                && seg.len > 0)
                .then_some(sender)
        };
        let mut ri = 0;
        while ri < rows.len() {
            let Some(sender) = plain_sender(ri) else {
                ri += 1;
                continue;
            };
            let mut end = ri + 1;
            while end < rows.len() && plain_sender(end) == Some(sender) {
                let prev_arrival = ends[end - 1].map_or(0.0, |k| ymap.arrival_y[k]);
                if ymap.row_y[end] >= prev_arrival {
                    break;
                }
                end += 1;
            }
            if end - ri >= BURST_MIN {
                burst_of[ri] = Some(end - ri);
                for l in &mut labelled[ri + 1..end - 1] {
                    *l = false;
                }
            }
            ri = end;
        }
    }

    // Every arrow's geometry, before any label is placed: each label avoids the
    // arrows drawn after it as well as those before.
    let mut arrows: Vec<Arrow> = Vec::new();
    for (ri, r) in rows.iter().enumerate() {
        let (Some((i, sender)), Some(end)) = (r.segment, ends[ri]) else {
            continue;
        };
        let e = &tl.entries[i];
        let Some(seg) = e.segment() else { continue };
        let (x1, x2) = match sender {
            Side::Left => (lx, rx),
            Side::Right => (rx, lx),
        };
        let y1 = ymap.row_y[ri];
        let y2 = ymap.arrival_y[end].max(y1);
        let (xe, ye) = if e.lost {
            ((x1 + x2) / 2.0, y1 + (y2 - y1).max(16.0) / 2.0)
        } else {
            (x2, y2)
        };
        arrows.push(Arrow {
            ri,
            entry: i,
            sender,
            from: (x1, y1),
            to: (xe, ye),
            x2,
            lost: e.lost,
            retx: seg.retransmission || seg.retransmit_count > 0,
            label: None,
            title: String::new(),
        });
    }

    // What notes and labels must not cover: the wavy edges of gap breaks, collapsed
    // data bands and the ✗ of each lost segment; and what they had better not cross:
    // the arrows.
    let mut obstacles = Obstacles::default();
    for (ri, r) in rows.iter().enumerate() {
        if r.summary.is_some() {
            let y = ymap.row_y[ri];
            obstacles.hard.push(Rect::upright(
                lx + 12.0,
                y - 4.0,
                rx - 12.0,
                y + BAND_H - 12.0,
            ));
        }
    }
    for &(y0, y1, _) in &ymap.breaks {
        obstacles
            .hard
            .push(Rect::upright(0.0, y0 + 10.0, rx + 170.0, y1 - 10.0));
    }
    for a in &arrows {
        if a.lost {
            let (x, y) = a.to;
            obstacles
                .hard
                .push(Rect::upright(x - 7.0, y - 7.0, x + 7.0, y + 7.0));
        }
        obstacles.lines.push(Rect::line(a.from, a.to));
    }
    // Notes first, beside their timeline near their row where they cross no arrow;
    // then they are obstacles for the labels.
    let mut notes = Vec::new();
    let mut crossed = Vec::new();
    for (ri, r) in rows.iter().enumerate() {
        let y = ymap.row_y[ri];
        for (side, x, inward) in [(Side::Left, lx, 1.0), (Side::Right, rx, -1.0)] {
            if let Some(note) = r.note_of(side) {
                let w = note.chars().count() as f64 * NOTE_W;
                let (ny, n) = label_place::place_note(&mut obstacles, x, y, w, inward);
                notes.push(PlacedNote { ri, side, y: ny });
                if n > 0 {
                    crossed.push(ri);
                }
            }
        }
    }
    // Labels, in time order except that the rows in `first` (whose labels found no
    // place in an earlier round) go first: along the arrow (a lost one: along the
    // path it would have taken), reading left to right, just above it where that is
    // free.
    let mut order: Vec<usize> = (0..arrows.len()).collect();
    order.sort_by_key(|&k| !first.contains(&arrows[k].ri));
    let mut failed = Vec::new();
    for k in order {
        let a = &mut arrows[k];
        let e = &tl.entries[a.entry];
        let Some(seg) = e.segment() else { continue };
        let parts = tl.segment_parts(a.sender, seg, false, 0);
        let mut label = parts.join(" ");
        if let Some(n) = burst_of[a.ri] {
            label = format!("{label} (1 of a burst of {n})");
        }
        if a.lost {
            label.push_str(" (lost)");
        }
        a.title = label.clone();
        if !labelled[a.ri] {
            continue;
        }
        let (x1, y1) = a.from;
        let (fx, fy) = if a.lost {
            (a.x2, y1 + 2.0 * (a.to.1 - y1))
        } else {
            a.to
        };
        let (p, q) = if x1 < fx {
            ((x1, y1), (fx, fy))
        } else {
            ((fx, fy), (x1, y1))
        };
        let angle = (q.1 - p.1).atan2(q.0 - p.0).to_degrees();
        let w = label.chars().count() as f64 * CHAR_W;
        if let Some(c) = label_place::place(&mut obstacles, Some(k), p, q, w, a.lost) {
            a.label = Some((c, angle, label));
            continue;
        }
        // In the last round, a label that found no place tries its short form: the
        // flags, seq and ack, and "…" (the whole label stays the arrow's title).
        let short = shorten
            .then(|| {
                let mut kept: Vec<&str> = parts
                    .iter()
                    .enumerate()
                    .filter(|(i, p)| *i == 0 || p.starts_with("seq=") || p.starts_with("ack="))
                    .map(|(_, p)| p.as_str())
                    .collect();
                kept.push("…");
                if a.lost {
                    kept.push("(lost)");
                }
                kept.join(" ")
            })
            .filter(|sh| sh.chars().count() < label.chars().count());
        let placed = short.and_then(|sh| {
            let w = sh.chars().count() as f64 * CHAR_W;
            label_place::place(&mut obstacles, Some(k), p, q, w, a.lost).map(|c| (c, sh))
        });
        match placed {
            Some((c, sh)) => a.label = Some((c, angle, sh)),
            None => failed.push(a.ri),
        }
    }
    (Arranged { arrows, notes }, failed, crossed)
}

/// A note's place: its row, its side, and the y its text is centred on.
struct PlacedNote {
    ri: usize,
    side: Side,
    y: f64,
}

/// What [`arrange`] placed.
struct Arranged {
    arrows: Vec<Arrow>,
    notes: Vec<PlacedNote>,
}

/// A rounded box with the state name, outside the timeline (left of the left line,
/// right of the right line), centred on `y`.
fn state_box(svg: &mut Svg, x: f64, y: f64, side: Side, s: State) {
    let w = s.name().chars().count() as f64 * 6.9 + 14.0;
    let bx = match side {
        Side::Left => x - 8.0 - w,
        Side::Right => x + 8.0,
    };
    let _ = writeln!(
        svg.out,
        "<g class=\"state\"><rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"18\" rx=\"4\" ry=\"4\"/><text class=\"sttext\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></g>",
        state_class(s),
        n(bx),
        n(y - 9.0),
        n(w),
        n(bx + w / 2.0),
        n(y + 3.8),
        s.name()
    );
}

/// A burst of this many overlapping data arrows or more is labelled at its ends only.
const BURST_MIN: usize = 4;

/// One drawn segment: where its arrow starts and ends (a lost one: at its ✗), and its
/// label if it found a place (centre, angle, text).
struct Arrow {
    /// Its row.
    ri: usize,
    /// Its timeline entry.
    entry: usize,
    sender: Side,
    from: (f64, f64),
    to: (f64, f64),
    /// The receiver's line (a lost arrow stops halfway to it).
    x2: f64,
    lost: bool,
    retx: bool,
    label: Option<((f64, f64), f64, String)>,
    /// The whole label, as the arrow's hover title.
    title: String,
}
