//! The cwnd graph read back: the SVG parses, each sender has a panel with every
//! series, and every vertex drawn maps (through the frame's ranges) to a value the
//! trace holds at that time; recovery and timeout episodes are shaded once each; a
//! connection that sent no data gets no panel. Set VIZ_DUMP_DIR to write the pictures.

use core::net::SocketAddr;
use roxmltree::{Document, Node};
use synack_core::trace::{CongestionPhase, CongestionTrace, TraceEvent, TraceKind};
use synack_core::Instant;
use synack_core::State;
use synack_viz::{
    congestion_series, render_cwnd_graph, render_json, CongestionSeries, CwndGraphOptions,
    Endpoint, Entry, Side, Timeline,
};

fn dump(name: &str, svg: &str) {
    if let Ok(dir) = std::env::var("VIZ_DUMP_DIR") {
        let _ = std::fs::write(std::path::Path::new(&dir).join(name), svg);
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A sender's made-up run: slow start, a fast recovery, avoidance, a timeout, slow
/// start again; every field moves. One sample per 10 ms.
fn sender_samples(n: usize) -> Vec<CongestionTrace> {
    let mut out = Vec::with_capacity(n);
    let mut cwnd = 14_480u32;
    let mut ssthresh = u32::MAX;
    for k in 0..n {
        let phase = match k * 10 / n {
            0..=2 => CongestionPhase::SlowStart,
            3 => CongestionPhase::Recovery,
            4..=6 => CongestionPhase::CongestionAvoidance,
            7 => CongestionPhase::Loss,
            _ => CongestionPhase::SlowStart,
        };
        match phase {
            CongestionPhase::SlowStart => cwnd = cwnd.saturating_add(1448).min(2_000_000),
            CongestionPhase::Recovery => {
                ssthresh = ssthresh.min(cwnd / 2).max(2896);
                cwnd = ssthresh;
            }
            CongestionPhase::CongestionAvoidance => cwnd += 100,
            CongestionPhase::Loss => {
                ssthresh = (cwnd / 2).max(2896);
                cwnd = 1448;
            }
        }
        out.push(CongestionTrace {
            algorithm: "cubic",
            phase,
            cwnd,
            ssthresh,
            snd_wnd: 65_535 + (k as u32 % 7) * 1000,
            in_flight: cwnd.saturating_sub((k as u32 % 5) * 700),
            srtt_us: Some(20_000 + (k as u64 % 11) * 300),
            rtt_us: (k > 0).then_some(19_000 + (k as u64 % 13) * 500),
            pacing_rate: None,
        });
    }
    out
}

fn events(samples: &[CongestionTrace]) -> Vec<TraceEvent> {
    let mut ev = Vec::new();
    for (k, c) in samples.iter().enumerate() {
        ev.push(TraceEvent {
            time: Instant::from_micros(1_000_000 + 10_000 * k as u64),
            local: addr("10.0.0.1:49152"),
            remote: addr("10.0.0.2:80"),
            kind: TraceKind::Congestion(*c),
        });
    }
    // A receive-only connection of the same stack: nothing in flight, ever.
    ev.push(TraceEvent {
        time: Instant::from_micros(1_000_000),
        local: addr("10.0.0.1:49153"),
        remote: addr("10.0.0.2:81"),
        kind: TraceKind::Congestion(CongestionTrace {
            in_flight: 0,
            ..samples[0]
        }),
    });
    ev
}

/// A panel's frame: geometry and ranges from its attributes.
struct Frame {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    t0: f64,
    t1: f64,
    bytes_max: f64,
    ms_max: f64,
}

impl Frame {
    fn of(node: Node<'_, '_>) -> Frame {
        let f = |a: &str| node.attribute(a).unwrap().parse::<f64>().unwrap();
        Frame {
            x: f("x"),
            y: f("y"),
            w: f("width"),
            h: f("height"),
            t0: f("data-t0-us"),
            t1: f("data-t1-us"),
            bytes_max: f("data-bytes-max"),
            ms_max: f("data-ms-max"),
        }
    }
    fn t(&self, px: f64) -> f64 {
        self.t0 + (px - self.x) / self.w * (self.t1 - self.t0)
    }
    fn v(&self, py: f64, max: f64) -> f64 {
        (self.y + self.h - py) / self.h * max
    }
    /// The uncertainty of a time and a value read back (coordinates have one
    /// decimal).
    fn dt(&self) -> f64 {
        0.051 / self.w * (self.t1 - self.t0)
    }
    fn dv(&self, max: f64) -> f64 {
        0.051 / self.h * max
    }
}

fn points(node: Node<'_, '_>) -> Vec<(f64, f64)> {
    node.attribute("points")
        .unwrap()
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

/// Check every vertex of the `class` line against `value` of the samples: at a
/// sample's time the line is at that sample's value or at the one before (a step).
/// Returns how many vertices were checked.
fn check_line(
    doc: &Document<'_>,
    frame: &Frame,
    class: &str,
    s: &CongestionSeries,
    value: &dyn Fn(&CongestionTrace) -> Option<f64>,
    max: f64,
) -> usize {
    let line = doc
        .descendants()
        .find(|n| n.has_tag_name("polyline") && n.attribute("class") == Some(class))
        .unwrap_or_else(|| panic!("no {class} line"));
    let pts = points(line);
    let vals: Vec<(f64, f64)> = s
        .samples
        .iter()
        .filter_map(|(t, c)| value(c).map(|v| (t.total_micros() as f64, v)))
        .collect();
    for &(px, py) in &pts {
        let (t, v) = (frame.t(px), frame.v(py, max));
        // Every sample within the reading's uncertainty of that time is a candidate.
        let near: Vec<usize> = (0..vals.len())
            .filter(|&k| (vals[k].0 - t).abs() <= frame.dt())
            .collect();
        assert!(
            !near.is_empty(),
            "{class}: vertex at t={t} is no sample's time"
        );
        let ok = near.iter().any(|&k| {
            (vals[k].1 - v).abs() <= frame.dv(max)
                || (k > 0 && (vals[k - 1].1 - v).abs() <= frame.dv(max))
        });
        assert!(ok, "{class}: vertex value {v} at t={t} is not traced then");
    }
    pts.len()
}

#[test]
fn every_vertex_is_a_traced_value() {
    let samples = sender_samples(60);
    let series = congestion_series(&events(&samples));
    assert_eq!(series.len(), 2, "grouped by connection");
    let svg = render_cwnd_graph(&series, &CwndGraphOptions::default());
    dump("cwnd_small.svg", &svg);
    let doc = Document::parse(&svg).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let frames: Vec<Frame> = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("class") == Some("frame"))
        .map(Frame::of)
        .collect();
    assert_eq!(
        frames.len(),
        1,
        "one panel: the receive-only connection has none"
    );
    let f = &frames[0];
    let s = &series[0];
    let cwnd = check_line(
        &doc,
        f,
        "cwnd",
        s,
        &|c| Some(f64::from(c.cwnd)),
        f.bytes_max,
    );
    // Unthinned, a step line has a vertex where the value changes and one before it.
    let changes = s
        .samples
        .windows(2)
        .filter(|w| w[0].1.cwnd != w[1].1.cwnd)
        .count();
    assert_eq!(cwnd, 1 + 2 * changes);
    let ss = |c: &CongestionTrace| (c.ssthresh != u32::MAX).then_some(f64::from(c.ssthresh));
    check_line(&doc, f, "ssthresh", s, &ss, f.bytes_max);
    check_line(
        &doc,
        f,
        "rwnd",
        s,
        &|c| Some(f64::from(c.snd_wnd)),
        f.bytes_max,
    );
    check_line(
        &doc,
        f,
        "inflight",
        s,
        &|c| Some(f64::from(c.in_flight)),
        f.bytes_max,
    );
    let srtt = |c: &CongestionTrace| c.srtt_us.map(|v| v as f64 / 1e3);
    check_line(&doc, f, "srtt", s, &srtt, f.ms_max);
    // RTT samples: one dot per new sample, each at a traced value.
    let d = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("rtt"))
        .and_then(|n| n.attribute("d"))
        .expect("RTT dots");
    let dots: Vec<(f64, f64)> = d
        .split('M')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let p = p.trim_end_matches("h0");
            let (x, y) = p.split_once(' ').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    assert_eq!(dots.len(), s.samples.len() - 1, "one dot per RTT sample");
    for (x, y) in dots {
        let t = f.t(x);
        let (_, c) = s
            .samples
            .iter()
            .find(|(st, _)| (st.total_micros() as f64 - t).abs() <= f.dt())
            .expect("a dot at a sample's time");
        let ms = c.rtt_us.unwrap() as f64 / 1e3;
        assert!((f.v(y, f.ms_max) - ms).abs() <= f.dv(f.ms_max));
    }
    // One shaded band per episode, each from its first sample to the next one.
    for (class, phase) in [
        ("recovery", CongestionPhase::Recovery),
        ("loss", CongestionPhase::Loss),
    ] {
        let rects: Vec<Node<'_, '_>> = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("class") == Some(class))
            .collect();
        let eps = s.episodes(phase);
        assert_eq!(rects.len(), eps.len(), "{class}");
        assert_eq!(eps.len(), 1);
        let x: f64 = rects[0].attribute("x").unwrap().parse().unwrap();
        assert!((f.t(x) - eps[0].0.total_micros() as f64).abs() <= f.dt());
    }
    // Legend and axes are labelled.
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    for want in [
        "cwnd",
        "ssthresh",
        "peer window (SND.WND)",
        "in flight",
        "fast recovery",
        "time",
        "bytes",
        "RTT",
    ] {
        assert!(texts.contains(&want), "no label {want:?}");
    }
    assert!(texts.iter().any(|t| t.ends_with(" ms")), "RTT ticks");
    assert!(texts.iter().any(|t| t.ends_with(" kB")), "byte ticks");
    assert!(texts
        .iter()
        .any(|t| t.contains("1 fast recovery, 1 timeout")));
}

#[test]
fn a_long_run_is_thinned_to_its_shape() {
    let samples = sender_samples(120_000);
    let series = congestion_series(&events(&samples));
    let opts = CwndGraphOptions::default();
    let svg = render_cwnd_graph(&series, &opts);
    dump("cwnd_long.svg", &svg);
    assert!(svg.len() < 600_000, "{} bytes", svg.len());
    let doc = Document::parse(&svg).expect("well-formed SVG");
    let f = doc
        .descendants()
        .find(|n| n.has_tag_name("rect") && n.attribute("class") == Some("frame"))
        .map(Frame::of)
        .unwrap();
    let s = &series[0];
    let n = check_line(
        &doc,
        &f,
        "cwnd",
        s,
        &|c| Some(f64::from(c.cwnd)),
        f.bytes_max,
    );
    assert!(
        n <= 4 * (f.w as usize + 2),
        "{n} vertices for {} pixels",
        f.w
    );
    // The peak survives the thinning.
    let peak = s.samples.iter().map(|(_, c)| c.cwnd).max().unwrap();
    let line = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("cwnd"))
        .unwrap();
    let top = points(line)
        .iter()
        .map(|&(_, y)| f.v(y, f.bytes_max))
        .fold(0.0, f64::max);
    assert!((top - f64::from(peak)).abs() <= f.dv(f.bytes_max));
}

#[test]
fn no_events_is_said_in_words() {
    let svg = render_cwnd_graph(&[], &CwndGraphOptions::default());
    let doc = Document::parse(&svg).expect("well-formed SVG");
    assert!(doc
        .descendants()
        .filter_map(|n| n.text())
        .any(|t| t.contains("no congestion-state events")));
}

#[test]
fn ladders_leave_congestion_events_out_and_json_spells_them_out() {
    let ev = events(&sender_samples(5));
    let tl = Timeline::from_traces(
        Endpoint::new("client", addr("10.0.0.1:49152"), State::Closed),
        ev.clone(),
        Endpoint::new("server", addr("10.0.0.2:80"), State::Listen),
        Vec::new(),
    );
    assert!(tl.entries.is_empty(), "the ladder does not draw them");
    // A timeline built by hand may hold one: JSON gives every field.
    let mut tl = Timeline::new(
        Endpoint::new("client", addr("10.0.0.1:49152"), State::Closed),
        Endpoint::new("server", addr("10.0.0.2:80"), State::Listen),
    );
    tl.entries.push(Entry {
        side: Side::Left,
        event: ev[1].clone(),
        lost: false,
        peer: None,
    });
    let v: serde_json::Value = serde_json::from_str(&render_json(&tl)).unwrap();
    let e = &v["entries"][0];
    let TraceKind::Congestion(c) = &ev[1].kind else {
        unreachable!()
    };
    assert_eq!(e["kind"], "congestion");
    assert_eq!(e["phase"], "slow start");
    assert_eq!(e["cwnd"], c.cwnd);
    assert_eq!(e["ssthresh"], serde_json::Value::Null, "not set yet");
    assert_eq!(e["snd_wnd"], c.snd_wnd);
    assert_eq!(e["in_flight"], c.in_flight);
    assert_eq!(e["srtt_us"], c.srtt_us.unwrap());
    assert_eq!(e["rtt_us"], c.rtt_us.unwrap());
}
