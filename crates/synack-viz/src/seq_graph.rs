//! The time-sequence graph (as tcptrace and Wireshark draw it) for one direction of
//! data: each data segment as a vertical bar from seq to seq+len at its send time
//! (retransmissions in red), the cumulative ACK coming back as a step line, the
//! receive-window edge (ACK + window, RFC 9293 §3.8.6) as another, and SACK blocks.

use crate::format::{fmt_bytes, fmt_count};
use crate::svg::{n, Svg};
use crate::timeline::{Side, Timeline};
use core::fmt::Write as _;

/// How [`render_seq_graph`] draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqGraphOptions {
    /// Whose data to plot; `None`: the side that sent more payload bytes.
    pub sender: Option<Side>,
    /// Picture width in pixels. Default 960.
    pub width: u32,
    /// Picture height in pixels. Default 560.
    pub height: u32,
}

impl Default for SeqGraphOptions {
    fn default() -> SeqGraphOptions {
        SeqGraphOptions {
            sender: None,
            width: 960,
            height: 560,
        }
    }
}

const STYLE: &str = "\
text{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:11px;fill:#3e4c59}\
.title{font-size:14px;font-weight:600;fill:#1f2933}.axtitle{font-size:11.5px;fill:#52606d}\
.frame{fill:#ffffff;stroke:#9aa5b1;stroke-width:1}.grid{stroke:#e4e7eb;stroke-width:1}\
.data,.sw-data{stroke:#2f6fb0;stroke-width:2.2;stroke-linecap:round}\
.retx,.sw-retx{stroke:#d62728;stroke-width:3.4;stroke-linecap:round}\
.ackline,.sw-ackline{fill:none;stroke:#2e7d32;stroke-width:1.5}\
.wnd,.sw-wnd{fill:none;stroke:#ef6c00;stroke-width:1.3;stroke-dasharray:6 3}\
.sack,.sw-sack{stroke:#8e24aa;stroke-width:2;stroke-opacity:0.55}\
.legend{fill:#ffffff;fill-opacity:0.92;stroke:#cbd2d9}\
.wndnote{fill:#ef6c00;font-size:11px;font-style:italic}";

/// An ACK as the data sender sees it: (time µs, relative ack, relative window edge,
/// SACK blocks).
type AckPoint = (u64, f64, f64, Vec<(f64, f64)>);

/// Labels of time-axis ticks in one unit for the whole axis (seconds when it reaches
/// 1 s, otherwise milliseconds, microseconds below 1 ms), with as many decimals as the
/// tick step needs: `0.5 s`, `1.0 s`, ... never `8000.0 ms` beside `10.00 s`.
pub(crate) fn time_labels(ticks: &[f64], end_us: f64) -> Vec<String> {
    let (div, unit) = if end_us >= 1e6 {
        (1e6, "s")
    } else if end_us >= 1e3 {
        (1e3, "ms")
    } else {
        (1.0, "µs")
    };
    let step = ticks
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    let decimals = if step.is_finite() && step > 0.0 {
        (-(step / div).log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        1
    };
    ticks
        .iter()
        .map(|t| format!("{:.*} {unit}", decimals, t / div))
        .collect()
}

/// Tick positions: about `want` round numbers (1, 2, 5 × 10^k) covering [lo, hi].
pub(crate) fn ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-9);
    let raw = span / want.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= want as f64 + 0.5)
        .unwrap_or(10.0 * mag);
    let mut out = Vec::new();
    let mut v = (lo / step).ceil() * step;
    while v <= hi + step * 1e-9 && out.len() < 100 {
        out.push(v);
        v += step;
    }
    out
}

/// Labels of sequence-axis ticks in one unit for the whole axis (bytes, kB or MB,
/// decimal as `fmt_bytes` uses), with as many decimals as the tick step needs.
pub(crate) fn seq_labels(ticks: &[f64], top: f64) -> Vec<String> {
    let (div, unit) = if top >= 1e6 {
        (1e6, " MB")
    } else if top >= 1e4 {
        (1e3, " kB")
    } else {
        (1.0, "")
    };
    if div == 1.0 {
        return ticks
            .iter()
            .map(|v| fmt_count(v.max(0.0).round() as u64))
            .collect();
    }
    let step = ticks
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    let decimals = if step.is_finite() && step > 0.0 {
        (-(step / div).log10().floor()).clamp(0.0, 3.0) as usize
    } else {
        1
    };
    ticks
        .iter()
        .map(|v| format!("{:.*}{unit}", decimals, v / div))
        .collect()
}

/// Draw the time-sequence graph as a self-contained SVG 1.1 document.
pub fn render_seq_graph(tl: &Timeline, opts: &SeqGraphOptions) -> String {
    // Pick the direction.
    let mut bytes = [0u64; 2];
    for (_, s, seg) in tl.transmissions() {
        bytes[usize::from(s == Side::Right)] += u64::from(seg.len);
    }
    let sender = opts.sender.unwrap_or(if bytes[1] > bytes[0] {
        Side::Right
    } else {
        Side::Left
    });
    let receiver = sender.other();

    // Data segments: (time µs, rel seq, len, retransmission).
    let mut data = Vec::new();
    // ACK points as the sender sees them: (time µs, rel ack, rel window edge, sacks).
    let mut acks: Vec<AckPoint> = Vec::new();
    for (i, s, seg) in tl.transmissions() {
        let e = &tl.entries[i];
        if s == sender && seg.len > 0 {
            let rel = tl.rel_offset(sender, seg.seq);
            data.push((
                tl.offset_micros(e.time()),
                f64::from(rel),
                f64::from(seg.len),
                seg.retransmission || seg.retransmit_count > 0,
            ));
        } else if s == receiver && seg.flags.ack() && !e.lost {
            let t = tl.arrival_time(i).unwrap_or(e.time());
            let ack = f64::from(tl.rel_offset(sender, seg.ack));
            let wnd = if seg.window_bytes > 0 || seg.window == 0 {
                seg.window_bytes
            } else {
                u32::from(seg.window)
            };
            let sacks = seg
                .options
                .sack_blocks()
                .iter()
                .map(|b| {
                    (
                        f64::from(tl.rel_offset(sender, b.left)),
                        f64::from(tl.rel_offset(sender, b.right)),
                    )
                })
                .collect();
            acks.push((tl.offset_micros(t), ack, ack + f64::from(wnd), sacks));
        }
    }
    acks.sort_by_key(|a| a.0);

    let (w, h) = (
        f64::from(opts.width.max(300)),
        f64::from(opts.height.max(200)),
    );
    let (ml, mr, mt, mb) = (86.0, 24.0, 56.0, 52.0);
    let (pw, ph) = (w - ml - mr, h - mt - mb);

    let t_min = data
        .iter()
        .map(|d| d.0)
        .chain(acks.iter().map(|a| a.0))
        .min()
        .unwrap_or(0);
    let t_max = data
        .iter()
        .map(|d| d.0)
        .chain(acks.iter().map(|a| a.0))
        .max()
        .unwrap_or(1)
        .max(t_min + 1);
    let pad_t = ((t_max - t_min) as f64 * 0.03).max(1.0);
    let (x0, x1) = ((t_min as f64 - pad_t).max(0.0), t_max as f64 + pad_t);
    let data_top = data.iter().map(|d| d.1 + d.2).fold(0.0f64, f64::max);
    let ack_top = acks.iter().map(|a| a.1).fold(0.0f64, f64::max);
    let wnd_top = acks.iter().map(|a| a.2).fold(0.0f64, f64::max);
    let base = data_top.max(ack_top).max(1.0);
    // The axis ends just above the data. The window edge is included when it is
    // near; when it is far above (a small transfer under a large window) a note at
    // the top says where it is, rather than an axis that is mostly empty.
    let y1 = if wnd_top <= base * 1.5 {
        base.max(wnd_top) * 1.05
    } else {
        base * 1.08
    }
    .max(10.0);
    let y0 = 0.0;
    let fx = |t: f64| ml + (t - x0) / (x1 - x0) * pw;
    let fy = |v: f64| mt + ph - (v - y0) / (y1 - y0) * ph;

    let total: u64 = data.iter().filter(|d| !d.3).map(|d| d.2 as u64).sum();
    let retx = data.iter().filter(|d| d.3).count();
    let title = format!(
        "{} → {}: {} in {} data segments, {} retransmitted",
        tl.endpoint(sender).label,
        tl.endpoint(receiver).label,
        fmt_bytes(total),
        fmt_count(data.len() as u64),
        fmt_count(retx as u64)
    );
    let mut svg = Svg::new(w, h, &title, STYLE);
    svg.text(ml, 24.0, "title", "start", &title);
    svg.rect(ml, mt, pw, ph, "frame");
    let time_ticks = ticks(x0, x1, 8);
    let labels = time_labels(&time_ticks, x1);
    for (t, label) in time_ticks.iter().zip(&labels) {
        let x = fx(*t);
        svg.line(x, mt, x, mt + ph, "grid");
        svg.text(x, mt + ph + 16.0, "tick", "middle", label);
    }
    let seq_ticks = ticks(y0, y1, 7);
    for (v, label) in seq_ticks.iter().zip(seq_labels(&seq_ticks, y1)) {
        let y = fy(*v);
        svg.line(ml, y, ml + pw, y, "grid");
        svg.text(ml - 6.0, y + 3.5, "tick", "end", &label);
    }
    svg.text(ml + pw / 2.0, h - 12.0, "axtitle", "middle", "time");
    let _ = writeln!(
        svg.out,
        "<text class=\"axtitle\" x=\"16\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {})\">relative sequence number (bytes after {})</text>",
        n(mt + ph / 2.0),
        n(mt + ph / 2.0),
        sender.isn_letter()
    );
    let _ = writeln!(
        svg.out,
        "<defs><clipPath id=\"plot\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath></defs><g clip-path=\"url(#plot)\">",
        n(ml),
        n(mt),
        n(pw),
        n(ph)
    );
    // Window edge and ACK step lines.
    // The cumulative ACK never goes back (RFC 9293 §3.10.7.4: old ACKs are ignored);
    // the window edge is drawn as advertised, so a shrinking window shows.
    let step = |f: &dyn Fn(&AckPoint) -> f64, monotone: bool| {
        let mut pts = Vec::new();
        let mut cur: Option<f64> = None;
        for a in &acks {
            let v = f(a);
            let v = match cur {
                Some(c) if monotone => c.max(v),
                _ => v,
            };
            let x = fx(a.0 as f64);
            if let Some(c) = cur {
                pts.push((x, fy(c)));
            }
            pts.push((x, fy(v)));
            cur = Some(v);
        }
        if let Some(c) = cur {
            pts.push((fx(x1), fy(c)));
        }
        pts
    };
    svg.polyline(&step(&|a| a.2, false), "wnd");
    if wnd_top > y1 {
        let _ = writeln!(
            svg.out,
            "<text class=\"wndnote\" x=\"{}\" y=\"{}\" text-anchor=\"end\">window edge above the plot (up to {} after {})</text>",
            n(ml + pw - 8.0),
            n(mt + 16.0),
            fmt_bytes(wnd_top.max(0.0) as u64),
            sender.isn_letter()
        );
    }
    svg.polyline(&step(&|a| a.1, true), "ackline");
    for a in &acks {
        for &(l, r) in &a.3 {
            let x = fx(a.0 as f64);
            svg.line(x, fy(l), x, fy(r), "sack");
        }
    }
    for &(t, s, len, r) in &data {
        let x = fx(t as f64);
        let (ya, yb) = (fy(s), fy(s + len));
        let (ya, yb) = if ya - yb < 2.0 {
            let m = (ya + yb) / 2.0;
            (m + 1.0, m - 1.0)
        } else {
            (ya, yb)
        };
        svg.line(x, ya, x, yb, if r { "retx" } else { "data" });
    }
    svg.raw("</g>");
    // Legend.
    let items = [
        ("data", "data"),
        ("retx", "retransmission"),
        ("ackline", "ACK"),
        ("wnd", "window edge"),
        ("sack", "SACK"),
    ];
    // Bottom right, below the data, where a time-sequence graph is usually empty;
    // top left (above the data of the first moments) when more of what is drawn
    // runs through the bottom right (a small transfer whose last ACK rises at the
    // right edge).
    let lh = 16.0 * items.len() as f64 + 10.0;
    let mut drawn: Vec<(f64, f64)> = Vec::new();
    for &(t, s, len, _) in &data {
        let x = fx(t as f64);
        let (ya, yb) = (fy(s), fy(s + len));
        let steps = ((ya - yb) / 4.0).clamp(1.0, 200.0) as usize;
        drawn.extend((0..=steps).map(|k| (x, yb + (ya - yb) * k as f64 / steps as f64)));
    }
    let ack_line = step(&|a| a.1, true);
    for w in ack_line.windows(2) {
        let ((xa, ya), (xb, yb)) = (w[0], w[1]);
        let steps = ((xb - xa).abs().max((yb - ya).abs()) / 4.0).clamp(1.0, 400.0) as usize;
        drawn.extend((0..=steps).map(|k| {
            let f = k as f64 / steps as f64;
            (xa + (xb - xa) * f, ya + (yb - ya) * f)
        }));
    }
    let inside = |bx: f64, by: f64| {
        drawn
            .iter()
            .filter(|p| p.0 >= bx && p.0 <= bx + 136.0 && p.1 >= by && p.1 <= by + lh)
            .count()
    };
    let bottom_right = (ml + pw - 148.0, mt + ph - lh - 12.0);
    // (The window-edge note is at the top right.)
    let top_left = (ml + 12.0, mt + 12.0);
    let (lx, ly) = if inside(top_left.0, top_left.1) < inside(bottom_right.0, bottom_right.1) {
        top_left
    } else {
        bottom_right
    };
    svg.rect(lx, ly, 136.0, lh, "legend");
    for (k, (cls, name)) in items.iter().enumerate() {
        let y = ly + 14.0 + 16.0 * k as f64;
        svg.line(lx + 10.0, y - 3.5, lx + 34.0, y - 3.5, &format!("sw-{cls}"));
        svg.text(lx + 42.0, y, "tick", "start", name);
    }
    svg.finish()
}

#[cfg(test)]
mod time_label_tests {
    use super::time_labels;

    #[test]
    fn one_unit_per_axis() {
        let t: Vec<f64> = (0..=6).map(|k| f64::from(k) * 2e6).collect();
        let l = time_labels(&t, 12e6);
        assert_eq!(l[4], "8 s");
        assert_eq!(l[5], "10 s");
        let t = [0.0, 500.0, 1000.0, 1500.0];
        assert_eq!(
            time_labels(&t, 1600.0),
            ["0.0 ms", "0.5 ms", "1.0 ms", "1.5 ms"]
        );
        let t = [20_000.0, 40_000.0];
        assert_eq!(time_labels(&t, 50_000.0), ["20 ms", "40 ms"]);
    }

    #[test]
    fn one_byte_unit_per_axis() {
        use super::seq_labels;
        let t = [0.0, 5000.0, 10_000.0, 15_000.0];
        assert_eq!(seq_labels(&t, 16_000.0), ["0 kB", "5 kB", "10 kB", "15 kB"]);
        let t = [0.0, 500_000.0, 1_000_000.0];
        assert_eq!(seq_labels(&t, 1_100_000.0), ["0.0 MB", "0.5 MB", "1.0 MB"]);
        assert_eq!(seq_labels(&[0.0, 2000.0], 3000.0), ["0", "2,000"]);
    }
}

#[cfg(test)]
mod tests {
    use super::ticks;

    #[test]
    fn ticks_are_round() {
        assert_eq!(
            ticks(0.0, 100.0, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        let t = ticks(3.0, 7.5, 5);
        assert_eq!(t, vec![3.0, 4.0, 5.0, 6.0, 7.0]);
    }
}
