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

/// Display columns of a line, as a terminal counts them (the arrows are multibyte).
fn columns(line: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(line)
}

#[test]
fn every_line_fits_the_width_down_to_the_minimum() {
    let ladders = [
        ("client_close", client_close()),
        ("server_close", server_close()),
        ("simultaneous_open", common::simultaneous_open()),
        ("simultaneous_close", common::simultaneous_close()),
        ("lost_syn", lost_syn()),
        ("bulk", bulk(50, Some(20))),
        ("bulk_uncollapsed", bulk(12, Some(5))),
    ];
    for (name, tl) in &ladders {
        let wide = render_text(tl, &opts());
        assert!(
            wide.lines().any(|l| columns(l) > 70),
            "{name}: the unlimited ladder should need more than 70 columns"
        );
        for w in [40, 45, 52, 60, 67, 68, 75, 90] {
            let o = TextOptions {
                width: Some(w),
                ..opts()
            };
            let got = render_text(tl, &o);
            for l in got.lines() {
                assert!(
                    columns(l) <= w,
                    "{name} at {w}: {} columns: {l}",
                    columns(l)
                );
            }
            // Nothing is dropped to make it fit: the same words, rearranged (a line
            // may break after a comma, a "·" between two lines is left out).
            let words = |s: &str| {
                let mut v: Vec<String> = s
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .filter(|w| !w.is_empty() && *w != "·")
                    .map(str::to_string)
                    .collect();
                v.sort();
                v
            };
            assert_eq!(words(&wide), words(&got), "{name} at {w}");
        }
    }
}

#[test]
fn a_width_below_the_minimum_is_the_minimum() {
    let at = |w| {
        render_text(
            &client_close(),
            &TextOptions {
                width: Some(w),
                ..opts()
            },
        )
    };
    assert_eq!(at(10), at(synack_viz::text::MIN_WIDTH));
    assert_eq!(at(0), at(synack_viz::text::MIN_WIDTH));
}

#[test]
fn compact_layout_at_40_columns() {
    let o = TextOptions {
        width: Some(40),
        ..opts()
    };
    check("client_close_40", &client_close(), &o);
    check("lost_syn_40", &lost_syn(), &o);
}
