//! JSON, Mermaid, the summary and the timeline model (merging, loss inference,
//! relative numbering) on hand-built timelines.

mod common;

use common::*;
use core::time::Duration;
use synack_core::trace::TraceKind;
use synack_core::State;
use synack_viz::{
    render_json, render_mermaid, render_text, to_json_value, MermaidOptions, Side, Summary,
    TextOptions,
};

#[test]
fn json_has_every_field() {
    let tl = lost_syn();
    let v = to_json_value(&tl);
    assert_eq!(v["left"]["label"], "client");
    assert_eq!(v["right"]["initial_state"], "LISTEN");
    assert_eq!(v["isn"]["A"], A);
    assert_eq!(v["isn"]["B"], B);
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), tl.entries.len());
    let first_syn = entries
        .iter()
        .find(|e| e["kind"] == "segment" && e["flags"] == "SYN")
        .unwrap();
    assert_eq!(first_syn["time_us"], 0);
    assert_eq!(first_syn["side"], "left");
    assert_eq!(first_syn["dir"], "sent");
    assert_eq!(first_syn["seq"], A);
    assert_eq!(first_syn["rel_seq"], "A");
    assert!(first_syn["ack"].is_null());
    assert_eq!(first_syn["lost"], true);
    assert_eq!(first_syn["options"]["mss"], 1460);
    let retx = entries
        .iter()
        .find(|e| !e["retransmission"].is_null())
        .unwrap();
    assert_eq!(retx["time_us"], 1_000_000);
    assert_eq!(retx["retransmission"]["count"], 1);
    assert_eq!(retx["retransmission"]["rto_us"], 1_000_000);
    assert_eq!(retx["lost"], false);
    let synack = entries
        .iter()
        .find(|e| e["flags"] == "SYN-ACK" && e["dir"] == "sent")
        .unwrap();
    assert_eq!(synack["rel_ack"], "A+1");
    assert_eq!(synack["side"], "right");
    let st = entries.iter().find(|e| e["kind"] == "state").unwrap();
    assert_eq!(st["old"], "CLOSED");
    assert_eq!(st["new"], "SYN-SENT");
    // And it is valid JSON text.
    let parsed: serde_json::Value = serde_json::from_str(&render_json(&tl)).unwrap();
    assert_eq!(parsed, v);
}

#[test]
fn mermaid_sequence_diagram() {
    let m = render_mermaid(&lost_syn(), &MermaidOptions::default());
    let lines: Vec<&str> = m.lines().collect();
    assert_eq!(lines[0], "sequenceDiagram");
    assert!(lines.contains(&"    participant client as client 10.0.0.1:49152"));
    assert!(lines.contains(&"    Note over client: SYN-SENT"));
    assert!(lines.contains(&"    Note over server: LISTEN"));
    let lost: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("client-xserver: SYN seq=A"))
        .collect();
    assert_eq!(lost.len(), 1, "{m}");
    assert!(lost[0].ends_with("(lost)"));
    // `<` and `>` of the option list are escaped for Mermaid.
    assert!(lost[0].contains("#60;mss 1460"), "{m}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("client->>server: "))
            .count(),
        2
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("server->>client: SYN-ACK seq=B"))
            .count(),
        1
    );
}

#[test]
fn summary_figures() {
    let tl = client_close();
    let s = Summary::from_timeline(&tl, Some(Duration::from_millis(10)));
    assert_eq!(s.handshake, Some(Duration::from_millis(20)));
    assert_eq!(s.handshake_rtts, Some(1.0));
    assert_eq!((s.segments_left, s.segments_right), (5, 4));
    assert_eq!((s.bytes_left_to_right, s.bytes_right_to_left), (5, 5));
    assert_eq!(s.time_wait_left, Some(Duration::from_secs(60)));
    assert_eq!(s.time_wait_right, None);
    let s = Summary::from_timeline(&lost_syn(), None);
    assert_eq!(s.handshake, Some(Duration::from_millis(1020)));
    assert_eq!((s.retransmissions_left, s.lost_left), (1, 1));
    let s = Summary::from_timeline(&bulk(50, Some(20)), None);
    assert_eq!(s.bytes_left_to_right, 50_000);
    assert_eq!(s.retransmissions_left, 1);
}

#[test]
fn merge_is_time_ordered_and_matches_every_arrival() {
    let tl = client_close();
    assert!(tl.entries.windows(2).all(|w| w[0].time() <= w[1].time()));
    for (i, e) in tl.entries.iter().enumerate() {
        if e.segment().is_some() {
            let p = e.peer.expect("every segment matched");
            assert_eq!(tl.entries[p].peer, Some(i));
            assert_ne!(tl.entries[p].side, e.side);
        }
    }
    // A zero-latency send comes before its receipt.
    let mut s = Scenario::new(0);
    let syn = seg(SYN, 0, 0);
    s.recv(Side::Right, 0, syn.clone());
    s.send(Side::Left, 0, syn);
    let tl = s.timeline(["c", "s"], [State::Closed, State::Listen]);
    assert_eq!(tl.entries[0].side, Side::Left);
    assert_eq!(tl.entries[1].peer, Some(0));
}

#[test]
fn lost_segment_from_the_right_and_relative_numbers() {
    let mut s = Scenario::new(10 * MS);
    let d = seg(PSH_ACK, 1, 1).data(b"lost data");
    s.send(Side::Right, 0, d.clone()); // never arrives
    let t = s.send(Side::Right, 300 * MS, d.clone().retx(1, 300_000));
    s.recv(Side::Left, t, d);
    let mut tl = s.timeline(["c", "s"], [State::Established, State::Established]);
    assert!(tl.entries[0].lost);
    assert!(!tl.entries[1].lost);
    assert_eq!(tl.rel(Side::Right, B.wrapping_add(1)), "B+1");
    assert_eq!(tl.rel(Side::Left, A.wrapping_sub(2)), "A-2");
    tl.isn_left = None;
    assert_eq!(tl.rel(Side::Left, 7), "7");
    let text = render_text(&tl, &TextOptions::default());
    assert!(text.contains("✗──  PSH-ACK  seq=B+1"), "{text}");
    assert!(text.contains("(lost)"), "{text}");
    assert!(text.contains("(retransmission 1, RTO 300 ms)"), "{text}");
}

#[test]
fn one_sided_trace_draws_receipts_and_marks_nothing_lost() {
    let mut s = Scenario::new(10 * MS);
    let syn = seg(SYN, 0, 0);
    s.state(Side::Left, 0, State::Closed, State::SynSent);
    s.send(Side::Left, 0, syn);
    let sa = seg(SYN_ACK, 0, 1);
    s.recv(Side::Left, 20 * MS, sa);
    s.state(Side::Left, 20 * MS, State::SynSent, State::Established);
    s.events[1].clear();
    let tl = s.timeline(["c", "s"], [State::Closed, State::Listen]);
    assert!(tl.entries.iter().all(|e| !e.lost));
    let text = render_text(&tl, &TextOptions::default());
    assert!(text.contains("◀──  SYN-ACK"), "{text}");
    // The state change is in the client's column.
    assert!(text
        .lines()
        .any(|l| l.contains("20.0 ms") && l.contains("ESTABLISHED")));
}

#[test]
fn dropped_packets_are_noted_in_the_receivers_column() {
    let mut tl = client_close();
    let mut ev = tl.entries[0].event.clone();
    ev.kind = TraceKind::Dropped {
        reason: "bad checksum",
    };
    tl.entries.insert(
        1,
        synack_viz::Entry {
            side: Side::Right,
            event: ev,
            lost: false,
            peer: None,
        },
    );
    tl.infer();
    let text = render_text(&tl, &TextOptions::default());
    let line = text
        .lines()
        .find(|l| l.contains("(dropped: bad checksum)"))
        .unwrap_or_else(|| panic!("{text}"));
    // Right-aligned toward the server's column.
    assert!(line.find("(dropped").unwrap() > 40, "{line}");
}
