//! Snapshot tests of the terminal ladder for hand-built timelines. The expected
//! pictures live in tests/snapshots/*.txt; set UPDATE_SNAPSHOTS=1 to rewrite them
//! (then read them: they must look right, not just match).

mod common;

use common::*;
use core::time::Duration;
use synack_viz::{render_text, TextOptions, Timeline};

fn opts() -> TextOptions {
    TextOptions {
        latency: Some(Duration::from_millis(10)),
        msl: Some(Duration::from_secs(30)),
        ..TextOptions::default()
    }
}

fn check(name: &str, tl: &Timeline, o: &TextOptions) {
    let got = render_text(tl, o);
    let path = format!("{}/tests/snapshots/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("missing snapshot {path}: {e}\n--- got ---\n{got}"));
    if got != want {
        panic!("snapshot {name} differs\n--- want ---\n{want}\n--- got ---\n{got}");
    }
}

#[test]
fn open_and_close_from_the_client() {
    check("client_close", &client_close(), &opts());
}

#[test]
fn open_and_close_from_the_server() {
    check("server_close", &server_close(), &opts());
}

#[test]
fn simultaneous_open() {
    check("simultaneous_open", &common::simultaneous_open(), &opts());
}

#[test]
fn simultaneous_close_goes_through_closing() {
    check("simultaneous_close", &common::simultaneous_close(), &opts());
}

#[test]
fn lost_syn_is_retransmitted_after_its_rto() {
    check("lost_syn", &lost_syn(), &opts());
}

#[test]
fn long_data_phase_is_collapsed() {
    let o = TextOptions {
        summarize_data_over: 10,
        ..opts()
    };
    check("bulk_summarized", &bulk(50, Some(20)), &o);
}
