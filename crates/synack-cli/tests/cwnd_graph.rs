//! `synack demo --cwnd-graph FILE.svg`: both hosts' data senders drawn from a real
//! run, and the flag's bad values refused in one line before anything runs.

mod common;

use common::{assert_one_line_error, stderr, synack};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    common::tmp("cwnd", name)
}

#[test]
fn both_senders_get_a_panel_with_every_series() {
    let path = tmp("cwnd.svg");
    let o = synack(&[
        "demo",
        "--bytes",
        "400K",
        "--latency",
        "25",
        "--loss",
        "0.02",
        "--seed",
        "3",
        "--cwnd-graph",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let class = |c: &str| {
        doc.descendants()
            .filter(|n| n.attribute("class") == Some(c))
            .count()
    };
    assert_eq!(class("frame"), 2, "one panel per data sender");
    for c in ["cwnd", "ssthresh", "rwnd", "inflight", "srtt", "rtt"] {
        assert_eq!(class(c), 2, "series {c} in each panel");
    }
    assert!(
        class("recovery") >= 1,
        "2% loss each way: some fast recovery"
    );
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(texts
        .iter()
        .any(|t| t.starts_with("client → server (cubic)")));
    assert!(texts
        .iter()
        .any(|t| t.starts_with("server → client (cubic)")));
}

#[test]
fn each_congestion_control_is_named() {
    let path = tmp("bbr.svg");
    let o = synack(&[
        "demo",
        "--bytes",
        "200K",
        "--cc",
        "bbr",
        "--cwnd-graph",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("client → server (bbr): cwnd up to"),
        "{text:.300}"
    );
    // BBR paces: the heading names the peak rate.
    assert!(text.contains("paced up to"), "{text:.300}");
}

#[test]
fn bad_files_are_refused_before_the_run() {
    let missing = tmp("no-such-dir").join("x.svg");
    let o = synack(&[
        "demo",
        "--bytes",
        "1G",
        "--cwnd-graph",
        missing.to_str().unwrap(),
    ]);
    assert_one_line_error(&o, "no directory");
    let dir = tmp("");
    let o = synack(&["demo", "--cwnd-graph", dir.to_str().unwrap()]);
    assert_one_line_error(&o, "is a directory");
    let o = synack(&["demo", "--cwnd-graph", ""]);
    assert_one_line_error(&o, "empty file name");
    let o = synack(&["demo", "--cwnd-graph"]);
    assert_one_line_error(&o, "--cwnd-graph");
}
