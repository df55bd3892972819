//! Structure checks of the SVG ladder and the time-sequence graph: parsed with
//! roxmltree, the right number of timelines, arrows, state boxes and labels. Set
//! VIZ_DUMP_DIR to also write the pictures there for a look.

mod common;

use common::*;
use roxmltree::{Document, Node};
use synack_viz::{
    render_seq_graph, render_svg_ladder, LadderSvgOptions, SeqGraphOptions, Side, Timeline,
};

fn dump(name: &str, svg: &str) {
    if let Some(dir) = std::env::var_os("VIZ_DUMP_DIR") {
        let p = std::path::Path::new(&dir).join(name);
        std::fs::write(p, svg).unwrap();
    }
}

fn has_class(n: &Node<'_, '_>, c: &str) -> bool {
    n.attribute("class")
        .is_some_and(|v| v.split_whitespace().any(|x| x == c))
}

fn count(doc: &Document<'_>, tag: &str, class: &str) -> usize {
    doc.descendants()
        .filter(|n| n.has_tag_name(tag) && has_class(n, class))
        .count()
}

fn texts(doc: &Document<'_>) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").to_string())
        .collect()
}

fn ladder(tl: &Timeline) -> String {
    render_svg_ladder(tl, &LadderSvgOptions::default())
}

#[test]
fn ladder_of_a_whole_connection() {
    let svg = ladder(&client_close());
    dump("ladder_client_close.svg", &svg);
    let doc = Document::parse(&svg).expect("well-formed SVG");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("version"), Some("1.1"));
    assert_eq!(count(&doc, "line", "timeline"), 2);
    // 9 segments: SYN, SYN-ACK, ACK, data, data, FIN, ACK, FIN, ACK.
    assert_eq!(count(&doc, "g", "segment"), 9);
    assert_eq!(count(&doc, "line", "lost"), 0);
    let t = texts(&doc);
    for want in [
        "client",
        "server",
        "SYN-SENT",
        "SYN-RECEIVED",
        "ESTABLISHED",
        "FIN-WAIT-1",
        "FIN-WAIT-2",
        "CLOSE-WAIT",
        "LAST-ACK",
        "TIME-WAIT",
        "(2*MSL elapsed)",
    ] {
        assert!(t.iter().any(|x| x == want), "missing text {want:?}");
    }
    assert!(t.iter().any(|x| x.starts_with("SYN seq=A (2843261943)")));
    assert!(t
        .iter()
        .any(|x| x.starts_with("SYN-ACK seq=B (1150032007) ack=A+1")));
    // The 60 s of TIME-WAIT are cut by a break marker, so the picture stays short.
    assert_eq!(count(&doc, "rect", "brk"), 1);
    assert!(t
        .iter()
        .any(|x| x == "60 s later" || x.ends_with("s later")));
    let h: f64 = root.attribute("height").unwrap().parse().unwrap();
    assert!(h < 1200.0, "height {h}");
}

#[test]
fn arrows_slant_down_from_sender_to_receiver() {
    let svg = ladder(&client_close());
    let doc = Document::parse(&svg).unwrap();
    for g in doc.descendants().filter(|n| has_class(n, "segment")) {
        let l = g.children().find(|c| c.has_tag_name("line")).unwrap();
        let y1: f64 = l.attribute("y1").unwrap().parse().unwrap();
        let y2: f64 = l.attribute("y2").unwrap().parse().unwrap();
        assert!(y2 > y1, "arrow must go down: {y1} -> {y2}");
    }
}

#[test]
fn lost_segment_ends_in_an_x_halfway() {
    let svg = ladder(&lost_syn());
    dump("ladder_lost_syn.svg", &svg);
    let doc = Document::parse(&svg).unwrap();
    assert_eq!(count(&doc, "g", "segment"), 4);
    assert_eq!(count(&doc, "line", "lost"), 1);
    assert_eq!(count(&doc, "path", "xmark"), 1);
    assert_eq!(count(&doc, "line", "retx"), 1);
    let lost = doc
        .descendants()
        .find(|n| n.has_tag_name("line") && has_class(n, "lost"))
        .unwrap();
    let tl = doc
        .descendants()
        .filter(|n| has_class(n, "timeline"))
        .map(|n| n.attribute("x1").unwrap().parse::<f64>().unwrap())
        .collect::<Vec<_>>();
    let x2: f64 = lost.attribute("x2").unwrap().parse().unwrap();
    assert!((x2 - (tl[0] + tl[1]) / 2.0).abs() < 1.0, "X halfway");
    assert!(texts(&doc)
        .iter()
        .any(|t| t.contains("(retransmission 1, RTO 1 s)")));
}

#[test]
fn text_is_escaped() {
    let mut tl = client_close();
    tl.left.label = "<client & co>".to_string();
    tl.add_note(tl.origin, Side::Right, "\"quoted\" <note>");
    let svg = ladder(&tl);
    let doc = Document::parse(&svg).expect("still well-formed");
    let t = texts(&doc);
    assert!(t.iter().any(|x| x == "<client & co>"));
    assert!(t.iter().any(|x| x == "\"quoted\" <note>"));
}

#[test]
fn collapsed_data_phase_is_a_band() {
    let svg = render_svg_ladder(
        &bulk(60, Some(30)),
        &LadderSvgOptions {
            summarize_data_over: 10,
            ..LadderSvgOptions::default()
        },
    );
    dump("ladder_bulk.svg", &svg);
    let doc = Document::parse(&svg).unwrap();
    assert_eq!(count(&doc, "rect", "band"), 1);
    assert!(count(&doc, "g", "segment") < 10);
}

#[test]
fn seq_graph_structure() {
    let tl = bulk(60, Some(30));
    let svg = render_seq_graph(&tl, &SeqGraphOptions::default());
    dump("seq_graph_bulk.svg", &svg);
    let doc = Document::parse(&svg).expect("well-formed SVG");
    assert_eq!(doc.root_element().attribute("version"), Some("1.1"));
    // 60 data segments + 1 retransmission, the retransmission drawn in its own colour.
    assert_eq!(count(&doc, "line", "data"), 60);
    assert_eq!(count(&doc, "line", "retx"), 1);
    assert_eq!(count(&doc, "polyline", "ackline"), 1);
    assert_eq!(count(&doc, "polyline", "wnd"), 1);
    assert!(count(&doc, "line", "sack") > 0);
    let t = texts(&doc);
    for want in ["data", "retransmission", "ACK", "window edge", "SACK"] {
        assert!(t.iter().any(|x| x == want), "legend {want:?} missing");
    }
    assert!(t.iter().any(|x| x.contains("client → server")));
}

#[test]
fn seq_graph_other_direction_and_empty() {
    let tl = client_close();
    let svg = render_seq_graph(
        &tl,
        &SeqGraphOptions {
            sender: Some(Side::Right),
            ..SeqGraphOptions::default()
        },
    );
    let doc = Document::parse(&svg).unwrap();
    assert_eq!(count(&doc, "line", "data"), 1);
    assert!(texts(&doc).iter().any(|x| x.contains("server → client")));
    // No data at all still gives a valid picture.
    let svg = render_seq_graph(&simultaneous_close(), &SeqGraphOptions::default());
    let doc = Document::parse(&svg).unwrap();
    assert_eq!(count(&doc, "line", "data"), 0);
}
