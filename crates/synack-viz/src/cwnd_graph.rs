//! The congestion-window graph: for each data sender, one panel of its congestion
//! state against time, drawn from the engine's [`TraceKind::Congestion`] events.
//! cwnd, ssthresh, the peer's receive window (SND.WND) and the bytes in flight share
//! the left axis in bytes; SRTT and the RTT samples use the right axis in
//! milliseconds; fast-recovery episodes (RFC 5681 §3.2, RFC 6675 §5) are shaded, and
//! so are the periods after a retransmission timeout (RFC 5681 §3.1), in a darker
//! tone. Slow start, congestion avoidance and recovery can be read off a real run.
//!
//! A long transfer records an event per ACK; each line keeps, per pixel column, its
//! first, lowest, highest and last vertex, so the picture stays small and every vertex
//! drawn is a recorded value. The plot frame carries its ranges as `data-*`
//! attributes (time in µs of engine time, bytes, milliseconds) so a reader can map
//! any point back to the trace.

use crate::format::{fmt_bytes, fmt_count};
use crate::seq_graph::{seq_labels, ticks, time_labels};
use crate::svg::{n, Svg};
use core::fmt::Write as _;
use core::net::SocketAddr;
use synack_core::trace::{CongestionPhase, CongestionTrace, TraceEvent, TraceKind};
use synack_core::Instant;

/// How [`render_cwnd_graph`] draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CwndGraphOptions {
    /// Picture width in pixels. Default 1100.
    pub width: u32,
    /// Height of each sender's panel in pixels. Default 380.
    pub panel_height: u32,
}

impl Default for CwndGraphOptions {
    fn default() -> CwndGraphOptions {
        CwndGraphOptions {
            width: 1100,
            panel_height: 380,
        }
    }
}

/// One connection's congestion-state samples, in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CongestionSeries {
    /// Panel heading, e.g. `client → server`.
    pub label: String,
    /// The sender's end of the connection.
    pub local: SocketAddr,
    /// The receiver's end.
    pub remote: SocketAddr,
    /// The samples.
    pub samples: Vec<(Instant, CongestionTrace)>,
}

impl CongestionSeries {
    /// True when the connection ever had data in flight (it sent data, not only
    /// ACKs).
    pub fn sent_data(&self) -> bool {
        self.samples.iter().any(|(_, c)| c.in_flight > 1)
    }

    /// Recovery episodes of `phase`: (start, end) of each maximal run of samples in
    /// that phase, ending at the first sample after the run (or the run's last one).
    pub fn episodes(&self, phase: CongestionPhase) -> Vec<(Instant, Instant)> {
        let mut out = Vec::new();
        let mut start = None;
        let mut last = None;
        for (t, c) in &self.samples {
            match (c.phase == phase, start) {
                (true, None) => start = Some(*t),
                (false, Some(s)) => {
                    out.push((s, *t));
                    start = None;
                }
                _ => {}
            }
            last = Some(*t);
        }
        if let (Some(s), Some(l)) = (start, last) {
            out.push((s, l));
        }
        out
    }
}

/// Group a stack's congestion events by connection, each series labelled
/// `local → remote`, in the order the connections first appear.
pub fn congestion_series(events: &[TraceEvent]) -> Vec<CongestionSeries> {
    let mut out: Vec<CongestionSeries> = Vec::new();
    for e in events {
        let TraceKind::Congestion(c) = &e.kind else {
            continue;
        };
        let i = match out
            .iter()
            .position(|s| s.local == e.local && s.remote == e.remote)
        {
            Some(i) => i,
            None => {
                out.push(CongestionSeries {
                    label: format!("{} → {}", e.local, e.remote),
                    local: e.local,
                    remote: e.remote,
                    samples: Vec::new(),
                });
                out.len() - 1
            }
        };
        out[i].samples.push((e.time, *c));
    }
    for s in &mut out {
        s.samples.sort_by_key(|(t, _)| *t);
    }
    out
}

const STYLE: &str = "\
text{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:11px;fill:#3e4c59}\
.title{font-size:14px;font-weight:600;fill:#1f2933}.axtitle{font-size:11.5px;fill:#52606d}\
.frame,.tickmark{fill:none;stroke:#9aa5b1;stroke-width:1}.grid{stroke:#e4e7eb;stroke-width:1}\
.recovery{fill:#f9d9d9;fill-opacity:0.75}.loss{fill:#e8a3a3;fill-opacity:0.75}\
.cwnd,.sw-cwnd{fill:none;stroke:#1f5fa8;stroke-width:2;stroke-linejoin:round}\
.ssthresh,.sw-ssthresh{fill:none;stroke:#e07b00;stroke-width:1.6;stroke-dasharray:7 4}\
.rwnd,.sw-rwnd{fill:none;stroke:#2e7d32;stroke-width:1.5;stroke-dasharray:2 3}\
.inflight,.sw-inflight{fill:none;stroke:#7b8794;stroke-width:1;stroke-opacity:0.9}\
.srtt,.sw-srtt{fill:none;stroke:#8e24aa;stroke-width:1.5}\
.rtt,.sw-rtt{fill:none;stroke:#c77dd8;stroke-width:3;stroke-linecap:round}\
.sw-recovery{fill:#f9d9d9;stroke:#e3a5a5}.sw-loss{fill:#e8a3a3;stroke:#c26d6d}\
.note{fill:#2e7d32;font-size:11px;font-style:italic}.empty{font-size:13px;fill:#7b8794}";

/// A vertex list in pixel coordinates, thinned to at most four vertices per pixel
/// column (the first, lowest, highest and last, in their original order), so a
/// line's shape is kept and every vertex kept is one of the input.
fn thin(pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(pts.len().min(8192));
    let mut i = 0;
    while i < pts.len() {
        let col = pts[i].0.floor();
        let mut j = i;
        while j < pts.len() && pts[j].0.floor() == col {
            j += 1;
        }
        let run = &pts[i..j];
        if run.len() <= 4 {
            out.extend_from_slice(run);
        } else {
            // y grows downwards: the lowest value has the largest y.
            let hi = (0..run.len())
                .min_by(|&a, &b| run[a].1.total_cmp(&run[b].1))
                .unwrap_or(0);
            let lo = (0..run.len())
                .max_by(|&a, &b| run[a].1.total_cmp(&run[b].1))
                .unwrap_or(0);
            let mut keep = [0, hi, lo, run.len() - 1];
            keep.sort_unstable();
            let mut prev = None;
            for k in keep {
                if prev != Some(k) {
                    out.push(run[k]);
                }
                prev = Some(k);
            }
        }
        i = j;
    }
    out
}

/// Vertices of a step line through `(t, v)` samples: each value holds until the next
/// sample, then the line moves vertically to the new one.
fn steps(samples: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(samples.len() * 2);
    for (k, &(t, v)) in samples.iter().enumerate() {
        if k > 0 {
            let prev = samples[k - 1].1;
            if prev != v {
                out.push((t, prev));
            } else {
                continue;
            }
        }
        out.push((t, v));
    }
    if let (Some(&(t, v)), Some(last)) = (samples.last(), out.last()) {
        if last.0 != t {
            out.push((t, v));
        }
    }
    out
}

/// Axis labels in milliseconds with as many decimals as the step needs.
fn ms_labels(ticks: &[f64]) -> Vec<String> {
    let step = ticks
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    let decimals = if step.is_finite() && step > 0.0 {
        (-step.log10().floor()).clamp(0.0, 3.0) as usize
    } else {
        0
    };
    ticks.iter().map(|v| format!("{v:.decimals$} ms")).collect()
}

/// Geometry of one panel.
struct Panel {
    top: f64,
    left: f64,
    width: f64,
    height: f64,
    /// Time range, µs of engine time.
    t0: f64,
    t1: f64,
    /// Byte axis maximum (the minimum is 0).
    bytes_max: f64,
    /// RTT axis maximum in ms (the minimum is 0).
    ms_max: f64,
}

impl Panel {
    fn x(&self, t_us: f64) -> f64 {
        self.left + (t_us - self.t0) / (self.t1 - self.t0) * self.width
    }
    fn y_bytes(&self, v: f64) -> f64 {
        self.top + self.height - v / self.bytes_max * self.height
    }
    fn y_ms(&self, v: f64) -> f64 {
        self.top + self.height - v / self.ms_max * self.height
    }
}

/// The legend entries: class, name, swatch kind (line or box).
const LEGEND: [(&str, &str, bool); 8] = [
    ("cwnd", "cwnd", true),
    ("ssthresh", "ssthresh", true),
    ("rwnd", "peer window (SND.WND)", true),
    ("inflight", "in flight", true),
    ("srtt", "SRTT (right axis)", true),
    ("rtt", "RTT samples", true),
    ("recovery", "fast recovery", false),
    ("loss", "after an RTO", false),
];

/// Draw every series that sent data (all of them if none did) as one SVG 1.1
/// document, one panel per series, all on the same time axis.
pub fn render_cwnd_graph(series: &[CongestionSeries], opts: &CwndGraphOptions) -> String {
    let mut shown: Vec<&CongestionSeries> = series.iter().filter(|s| s.sent_data()).collect();
    if shown.is_empty() {
        shown = series.iter().filter(|s| !s.samples.is_empty()).collect();
    }
    let w = f64::from(opts.width.max(400));
    let ph = f64::from(opts.panel_height.max(200));
    let h = ph * shown.len().max(1) as f64;
    let title = match shown.len() {
        0 => "congestion window: no congestion-state events".to_string(),
        _ => format!(
            "congestion window and RTT: {}",
            shown
                .iter()
                .map(|s| s.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut svg = Svg::new(w, h, &title, STYLE);
    if shown.is_empty() {
        svg.text(
            w / 2.0,
            h / 2.0,
            "empty",
            "middle",
            "no congestion-state events in the trace (was tracing on?)",
        );
        return svg.finish();
    }
    let t0 = shown
        .iter()
        .filter_map(|s| s.samples.first())
        .map(|(t, _)| t.total_micros())
        .min()
        .unwrap_or(0) as f64;
    let t_end = shown
        .iter()
        .filter_map(|s| s.samples.last())
        .map(|(t, _)| t.total_micros())
        .max()
        .unwrap_or(0) as f64;
    let t1 = t_end.max(t0 + 1.0);
    for (k, s) in shown.iter().enumerate() {
        draw_panel(&mut svg, s, k, w, ph, t0, t1);
    }
    svg.finish()
}

/// One sender's panel, `k`-th from the top.
fn draw_panel(svg: &mut Svg, s: &CongestionSeries, k: usize, w: f64, ph: f64, t0: f64, t1: f64) {
    let (ml, mr, mt, mb) = (84.0, 76.0, 64.0, 46.0);
    let y0 = ph * k as f64;
    let t = |i: Instant| i.total_micros() as f64;
    let max_of = |f: &dyn Fn(&CongestionTrace) -> Option<u32>| {
        s.samples
            .iter()
            .filter_map(|(_, c)| f(c))
            .max()
            .unwrap_or(0)
    };
    let ssthresh_of = |c: &CongestionTrace| (c.ssthresh != u32::MAX).then_some(c.ssthresh);
    let cwnd_top = max_of(&|c| Some(c.cwnd.max(c.in_flight)));
    let ss_top = max_of(&ssthresh_of);
    let wnd_top = max_of(&|c| Some(c.snd_wnd));
    // The byte axis fits cwnd and the flight; ssthresh and the peer's window join it
    // when they are near, otherwise a note says how far above they go (an autotuned
    // window of megabytes would flatten a cwnd of tens of kilobytes).
    let base = f64::from(cwnd_top.max(1));
    let mut top = base;
    let mut above = Vec::new();
    for (name, v) in [("ssthresh", ss_top), ("peer window", wnd_top)] {
        let v = f64::from(v);
        if v <= base * 2.5 {
            top = top.max(v);
        } else {
            above.push(format!(
                "{name} above the plot (up to {})",
                fmt_bytes(v as u64)
            ));
        }
    }
    let (bytes_ticks, bytes_max) = axis(top);
    let ms = |us: u64| us as f64 / 1e3;
    let rtt_top = s
        .samples
        .iter()
        .flat_map(|(_, c)| [c.srtt_us, c.rtt_us])
        .flatten()
        .max()
        .map_or(1.0, ms);
    let (ms_ticks, ms_max) = axis(rtt_top);
    let p = Panel {
        top: y0 + mt,
        left: ml,
        width: w - ml - mr,
        height: ph - mt - mb,
        t0,
        t1,
        bytes_max,
        ms_max,
    };

    // Heading: who, the algorithm, and what happened.
    let algorithm = s.samples.last().map_or("?", |(_, c)| c.algorithm);
    let recoveries = s.episodes(CongestionPhase::Recovery);
    let losses = s.episodes(CongestionPhase::Loss);
    // The pacing rate has no axis of its own: its peak is named in the heading.
    let paced = s
        .samples
        .iter()
        .filter_map(|(_, c)| c.pacing_rate)
        .max()
        .map_or(String::new(), |r| {
            format!(", paced up to {:.1} Mbit/s", r as f64 * 8.0 / 1e6)
        });
    let heading = format!(
        "{} ({algorithm}): cwnd up to {}{paced}, {} fast recover{}, {} timeout{}, {} samples",
        s.label,
        fmt_bytes(u64::from(max_of(&|c| Some(c.cwnd)))),
        recoveries.len(),
        if recoveries.len() == 1 { "y" } else { "ies" },
        losses.len(),
        if losses.len() == 1 { "" } else { "s" },
        fmt_count(s.samples.len() as u64)
    );
    svg.text(ml, y0 + 22.0, "title", "start", &heading);
    draw_legend(svg, ml, y0 + 44.0);

    // Grid and axes.
    let time_ticks = ticks(0.0, t1 - t0, 10);
    let labels = time_labels(&time_ticks, t1 - t0);
    for (tt, label) in time_ticks.iter().zip(&labels) {
        let x = p.x(t0 + tt);
        svg.line(x, p.top, x, p.top + p.height, "grid");
        svg.text(x, p.top + p.height + 15.0, "tick", "middle", label);
    }
    for (v, label) in bytes_ticks.iter().zip(seq_labels(&bytes_ticks, bytes_max)) {
        if *v > bytes_max {
            continue;
        }
        let y = p.y_bytes(*v);
        svg.line(p.left, y, p.left + p.width, y, "grid");
        svg.text(p.left - 6.0, y + 3.5, "tick", "end", &label);
    }
    for (v, label) in ms_ticks.iter().zip(ms_labels(&ms_ticks)) {
        if *v > ms_max {
            continue;
        }
        let y = p.y_ms(*v);
        svg.line(p.left + p.width, y, p.left + p.width + 4.0, y, "tickmark");
        svg.text(p.left + p.width + 7.0, y + 3.5, "tick", "start", &label);
    }
    let mid = p.top + p.height / 2.0;
    let _ = writeln!(
        svg.out,
        "<text class=\"axtitle\" x=\"16\" y=\"{m}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {m})\">bytes</text>",
        m = n(mid)
    );
    let xr = w - 14.0;
    let _ = writeln!(
        svg.out,
        "<text class=\"axtitle\" x=\"{x}\" y=\"{m}\" text-anchor=\"middle\" transform=\"rotate(90 {x} {m})\">RTT</text>",
        x = n(xr),
        m = n(mid)
    );
    svg.text(
        p.left + p.width / 2.0,
        p.top + p.height + 34.0,
        "axtitle",
        "middle",
        "time",
    );

    let clip = format!("plot{k}");
    let _ = writeln!(
        svg.out,
        "<defs><clipPath id=\"{clip}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath></defs><g clip-path=\"url(#{clip})\">",
        n(p.left),
        n(p.top),
        n(p.width),
        n(p.height)
    );
    // Shading first, lines over it.
    for (class, eps) in [("recovery", &recoveries), ("loss", &losses)] {
        for &(a, b) in eps.iter() {
            let (xa, xb) = (p.x(t(a)), p.x(t(b)));
            svg.rect(xa, p.top, (xb - xa).max(1.0), p.height, class);
        }
    }
    let series = |f: &dyn Fn(&CongestionTrace) -> Option<f64>| -> Vec<(f64, f64)> {
        let pts: Vec<(f64, f64)> = s
            .samples
            .iter()
            .filter_map(|(i, c)| f(c).map(|v| (t(*i), v)))
            .collect();
        steps(&pts)
    };
    let bytes_line = |svg: &mut Svg, f: &dyn Fn(&CongestionTrace) -> Option<f64>, class: &str| {
        let pts: Vec<(f64, f64)> = series(f)
            .into_iter()
            .map(|(tt, v)| (p.x(tt), p.y_bytes(v)))
            .collect();
        polyline_or_dot(svg, &thin(&pts), class);
    };
    bytes_line(svg, &|c| Some(f64::from(c.snd_wnd)), "rwnd");
    bytes_line(svg, &|c| Some(f64::from(c.in_flight)), "inflight");
    bytes_line(svg, &|c| ssthresh_of(c).map(f64::from), "ssthresh");
    bytes_line(svg, &|c| Some(f64::from(c.cwnd)), "cwnd");
    // RTT: the samples as dots (each new one), SRTT as a line.
    let mut dots = Vec::new();
    let mut prev = None;
    for (i, c) in &s.samples {
        if let Some(r) = c.rtt_us {
            if prev != Some(r) {
                dots.push((p.x(t(*i)), p.y_ms(ms(r))));
            }
            prev = Some(r);
        }
    }
    let dots = thin(&dots);
    if !dots.is_empty() {
        let mut d = String::new();
        for (x, y) in &dots {
            let _ = write!(d, "M{} {}h0", n(*x), n(*y));
        }
        let _ = writeln!(svg.out, "<path class=\"rtt\" d=\"{d}\"/>");
    }
    let srtt: Vec<(f64, f64)> = series(&|c| c.srtt_us.map(ms))
        .into_iter()
        .map(|(tt, v)| (p.x(tt), p.y_ms(v)))
        .collect();
    polyline_or_dot(svg, &thin(&srtt), "srtt");
    svg.raw("</g>");
    let _ = writeln!(
        svg.out,
        "<rect class=\"frame\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" data-t0-us=\"{}\" data-t1-us=\"{}\" data-bytes-max=\"{}\" data-ms-max=\"{}\"/>",
        n(p.left),
        n(p.top),
        n(p.width),
        n(p.height),
        t0,
        t1,
        bytes_max,
        ms_max
    );
    for (j, note) in above.iter().enumerate() {
        svg.text(
            p.left + p.width - 8.0,
            p.top + 16.0 + 14.0 * j as f64,
            "note",
            "end",
            note,
        );
    }
}

/// The legend: one row at (`x`, baseline `y`), under the heading and outside the plot.
fn draw_legend(svg: &mut Svg, x: f64, ly: f64) {
    let mut lx = x;
    for (class, name, line) in LEGEND {
        if line {
            if class == "rtt" {
                let _ = writeln!(
                    svg.out,
                    "<path class=\"sw-rtt\" d=\"M{} {}h0M{} {}h0M{} {}h0\"/>",
                    n(lx + 3.0),
                    n(ly - 3.0),
                    n(lx + 11.0),
                    n(ly - 5.0),
                    n(lx + 19.0),
                    n(ly - 2.5)
                );
            } else {
                svg.line(lx, ly - 3.5, lx + 22.0, ly - 3.5, &format!("sw-{class}"));
            }
        } else {
            svg.rect(lx, ly - 10.0, 22.0, 12.0, &format!("sw-{class}"));
        }
        svg.text(lx + 27.0, ly, "legend", "start", name);
        lx += 27.0 + 6.2 * name.chars().count() as f64 + 18.0;
    }
}

/// An axis from 0 holding `top`: its ticks (round numbers) and its maximum, the
/// first tick above `top` (with some room) or just above `top`.
fn axis(top: f64) -> (Vec<f64>, f64) {
    let t = ticks(0.0, top * 1.08, 6);
    let max = t.last().copied().unwrap_or(1.0).max(top * 1.02).max(1e-3);
    (t, max)
}

/// A polyline, or a dot for a single point.
fn polyline_or_dot(svg: &mut Svg, pts: &[(f64, f64)], class: &str) {
    match pts {
        [] => {}
        [(x, y)] => {
            let _ = writeln!(
                svg.out,
                "<polyline class=\"{class}\" points=\"{},{} {},{}\"/>",
                n(*x),
                n(*y),
                n(*x),
                n(*y)
            );
        }
        _ => svg.polyline(pts, class),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_extremes_and_ends_per_column() {
        let pts: Vec<(f64, f64)> = (0..10)
            .map(|k| (5.0 + f64::from(k) * 0.05, f64::from((k * 7) % 10)))
            .collect();
        let t = thin(&pts);
        // One pixel column: the first (y 0), the largest y (9, k = 7), the smallest
        // (0, the first again) and the last (k = 9), in order, without repeats.
        assert_eq!(t, vec![pts[0], pts[7], pts[9]]);
        let two_columns = [(1.0, 1.0), (1.5, 5.0), (2.0, 2.0)];
        assert_eq!(thin(&two_columns), two_columns.to_vec());
        let few = [(1.0, 1.0), (2.0, 2.0)];
        assert_eq!(thin(&few), few.to_vec());
    }

    #[test]
    fn steps_hold_each_value_until_the_next_sample() {
        let s = [(0.0, 1.0), (1.0, 1.0), (2.0, 3.0), (4.0, 3.0)];
        assert_eq!(
            steps(&s),
            vec![(0.0, 1.0), (2.0, 1.0), (2.0, 3.0), (4.0, 3.0)]
        );
    }
}
