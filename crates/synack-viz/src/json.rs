//! JSON output: the whole timeline with every field of every entry, for tools and
//! tests (`synack trace --json`). Times are microseconds since the timeline's origin.

use crate::pcap::ConnectionTimeline;
use crate::summary::Summary;
use crate::timeline::{retransmission_label, Endpoint, Side, Timeline};
use serde_json::{json, Map, Value};
use synack_core::trace::{Direction, TraceKind};

fn endpoint(e: &Endpoint) -> Value {
    json!({
        "label": e.label,
        "addr": e.addr.to_string(),
        "initial_state": e.initial_state.name(),
    })
}

/// The timeline as a JSON value:
/// `{"left": {label, addr, initial_state}, "right": {...}, "isn": {"A", "B"},
/// "origin_us", "entries": [...], "notes": [...]}`. Each entry has `time_us`, `side`
/// and `kind` (`"segment"`, `"state"`, `"dropped"`); segments add `dir`, `sender`,
/// `flags`, `seq`, `ack` (null without ACK), `rel_seq` (`"A+1"`), `rel_ack`, `window`,
/// `window_bytes`, `len`, `preview`, `options`, `lost`, `retransmission` (null or
/// `{count, rto_us, label}`) and `peer` (index of the matching send / arrival);
/// state changes add `old` and `new`; drops add `reason`. `summary` holds the
/// [`Summary`] figures (durations in microseconds, `null` when not known).
pub fn to_json_value(tl: &Timeline) -> Value {
    let mut entries = Vec::with_capacity(tl.entries.len());
    for e in &tl.entries {
        let mut m = Map::new();
        m.insert("time_us".into(), json!(tl.offset_micros(e.time())));
        m.insert("side".into(), json!(e.side.name()));
        match &e.event.kind {
            TraceKind::Segment(s) => {
                let sender = e.sender().unwrap_or(e.side);
                m.insert("kind".into(), json!("segment"));
                m.insert(
                    "dir".into(),
                    json!(match s.dir {
                        Direction::Sent => "sent",
                        Direction::Received => "received",
                    }),
                );
                m.insert("sender".into(), json!(sender.name()));
                m.insert("flags".into(), json!(s.flags.name()));
                m.insert("seq".into(), json!(s.seq));
                m.insert("rel_seq".into(), json!(tl.rel(sender, s.seq)));
                if s.flags.ack() {
                    m.insert("ack".into(), json!(s.ack));
                    m.insert("rel_ack".into(), json!(tl.rel(sender.other(), s.ack)));
                } else {
                    m.insert("ack".into(), Value::Null);
                    m.insert("rel_ack".into(), Value::Null);
                }
                m.insert("window".into(), json!(s.window));
                m.insert("window_bytes".into(), json!(s.window_bytes));
                m.insert("len".into(), json!(s.len));
                m.insert(
                    "preview".into(),
                    json!(String::from_utf8_lossy(&s.preview).into_owned()),
                );
                let o = &s.options;
                let sack: Vec<Value> = o
                    .sack_blocks()
                    .iter()
                    .map(|b| json!({"left": b.left, "right": b.right}))
                    .collect();
                m.insert(
                    "options".into(),
                    json!({
                        "mss": o.mss,
                        "window_scale": o.window_scale,
                        "sack_permitted": o.sack_permitted,
                        "timestamp": o.timestamp.map(|(v, e)| json!({"tsval": v, "tsecr": e})),
                        "sack": sack,
                    }),
                );
                m.insert("lost".into(), json!(e.lost));
                m.insert(
                    "retransmission".into(),
                    match retransmission_label(s) {
                        Some(label) => json!({
                            "count": s.retransmit_count.max(1),
                            "rto_us": s.rto_micros,
                            "label": label,
                        }),
                        None => Value::Null,
                    },
                );
                m.insert("peer".into(), json!(e.peer));
            }
            TraceKind::StateChange { old, new } => {
                m.insert("kind".into(), json!("state"));
                m.insert("old".into(), json!(old.name()));
                m.insert("new".into(), json!(new.name()));
            }
            TraceKind::Dropped { reason } => {
                m.insert("kind".into(), json!("dropped"));
                m.insert("reason".into(), json!(reason));
            }
            TraceKind::Congestion(c) => {
                m.insert("kind".into(), json!("congestion"));
                m.insert("algorithm".into(), json!(c.algorithm));
                m.insert("phase".into(), json!(c.phase.name()));
                m.insert("cwnd".into(), json!(c.cwnd));
                m.insert(
                    "ssthresh".into(),
                    json!((c.ssthresh != u32::MAX).then_some(c.ssthresh)),
                );
                m.insert("snd_wnd".into(), json!(c.snd_wnd));
                m.insert("in_flight".into(), json!(c.in_flight));
                m.insert("srtt_us".into(), json!(c.srtt_us));
                m.insert("rtt_us".into(), json!(c.rtt_us));
                m.insert("pacing_rate".into(), json!(c.pacing_rate));
            }
        }
        entries.push(Value::Object(m));
    }
    let notes: Vec<Value> = tl
        .notes
        .iter()
        .map(|n| {
            json!({
                "time_us": tl.offset_micros(n.time),
                "side": n.side.name(),
                "text": n.text,
            })
        })
        .collect();
    json!({
        "left": endpoint(&tl.left),
        "right": endpoint(&tl.right),
        "isn": {"A": tl.isn(Side::Left), "B": tl.isn(Side::Right)},
        "origin_us": tl.origin.total_micros(),
        "entries": entries,
        "notes": notes,
        "summary": summary_json(&Summary::from_timeline(tl, None)),
    })
}

fn summary_json(s: &Summary) -> Value {
    let us = |d: Option<core::time::Duration>| d.map(|d| d.as_micros() as u64);
    json!({
        "handshake_us": us(s.handshake),
        "segments": {"left": s.segments_left, "right": s.segments_right},
        "retransmissions": {"left": s.retransmissions_left, "right": s.retransmissions_right},
        "lost": {"left": s.lost_left, "right": s.lost_right},
        "bytes": {"left_to_right": s.bytes_left_to_right, "right_to_left": s.bytes_right_to_left},
        "time_wait_us": {"left": us(s.time_wait_left), "right": us(s.time_wait_right)},
    })
}

/// Several connections (from a capture) as one JSON document:
/// `{"connections": [{"index", "packets", "timeline": {...}}]}`, each timeline laid
/// out as [`to_json_value`] does.
pub fn render_json_connections(conns: &[ConnectionTimeline]) -> String {
    let list: Vec<Value> = conns
        .iter()
        .map(|c| {
            json!({
                "index": c.index,
                "packets": c.packets,
                "timeline": to_json_value(&c.timeline),
            })
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "connections": list }))
        .unwrap_or_else(|_| "{}".to_string())
}

/// The timeline as pretty-printed JSON (see [`to_json_value`] for the layout).
pub fn render_json(tl: &Timeline) -> String {
    serde_json::to_string_pretty(&to_json_value(tl)).unwrap_or_else(|_| "{}".to_string())
}
