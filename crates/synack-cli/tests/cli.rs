//! The `synack` binary as a user runs it: the demo's ladders for the standard flows
//! (snapshots), its outputs (SVG, JSON, Mermaid, pcap read back by `synack trace`), and
//! clear one-line errors with exit status 2 for bad input.
//!
//! Snapshots live in tests/snapshots/; after a deliberate change to the output,
//! regenerate them with `SYNACK_UPDATE_SNAPSHOTS=1 cargo test -p synack-cli --test cli`
//! and read the diff.

use std::path::PathBuf;
use std::process::{Command, Output};

fn synack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .output()
        .expect("run synack")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 output")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synack-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn snapshot(name: &str, args: &[&str]) {
    let o = synack(args);
    assert!(
        o.status.success(),
        "synack {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let got = stdout(&o);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var_os("SYNACK_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {}; run with SYNACK_UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    if got != want {
        panic!(
            "ladder for `synack {}` differs from {}:\n--- want\n{want}\n--- got\n{got}",
            args.join(" "),
            path.display()
        );
    }
}

#[test]
fn ladder_client_closes_first() {
    snapshot("close-client", &["demo"]);
}

#[test]
fn ladder_server_closes_first() {
    snapshot("close-server", &["demo", "--close", "server"]);
}

#[test]
fn ladder_simultaneous_open() {
    snapshot("simultaneous-open", &["demo", "--simultaneous-open"]);
}

#[test]
fn ladder_simultaneous_close() {
    snapshot("simultaneous-close", &["demo", "--close", "both"]);
}

#[test]
fn ladder_lost_syn_retransmitted_after_rto() {
    snapshot("lost-syn", &["demo", "--loss", "0.2", "--seed", "6"]);
}

#[test]
fn demo_draws_every_state_of_the_textbook_flow() {
    let o = synack(&["demo"]);
    assert!(o.status.success());
    let out = stdout(&o);
    for s in [
        "CLOSED",
        "LISTEN",
        "SYN-SENT",
        "SYN-RECEIVED",
        "ESTABLISHED",
        "FIN-WAIT-1",
        "CLOSE-WAIT",
        "FIN-WAIT-2",
        "LAST-ACK",
        "TIME-WAIT",
        "(2*MSL elapsed)",
    ] {
        assert!(out.contains(s), "missing {s} in\n{out}");
    }
    for s in [
        "SYN  seq=A (",
        "SYN-ACK  seq=B (",
        "ack=A+1",
        "ACK  seq=A+1  ack=B+1",
        "SHA-256 ok",
    ] {
        assert!(out.contains(s), "missing {s:?} in\n{out}");
    }
    // Simultaneous close goes through CLOSING on both sides.
    let both = stdout(&synack(&["demo", "--close", "both"]));
    assert!(both.matches("CLOSING").count() >= 2, "{both}");
}

#[test]
fn time_wait_flag_sets_two_msl() {
    let out = stdout(&synack(&["demo", "--time-wait", "4s"]));
    assert!(out.contains("TIME-WAIT 4 s"), "{out}");
    assert!(out.contains("4060.0 ms   CLOSED"), "{out}");
}

#[test]
fn big_transfer_is_summarised_and_checked() {
    let o = synack(&["demo", "--bytes", "2M", "--loss", "1%", "--seed", "3"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    // About 1,450 data segments each way: with losses, each recovery is drawn in
    // full, but the runs between them are collapsed.
    assert!(
        out.lines().count() < 400,
        "data phase not summarised: {} lines",
        out.lines().count()
    );
    assert!(out.contains("data segments"), "{out}");
    assert!(
        out.contains("client->server 2097152 of 2097152 B, SHA-256 ok"),
        "{out}"
    );
}

#[test]
fn lossless_big_transfer_is_a_handful_of_lines() {
    let o = synack(&["demo", "--bytes", "4M"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert!(
        out.lines().count() < 80,
        "data phase not summarised: {} lines\n{out}",
        out.lines().count()
    );
    assert!(out.contains("SHA-256 ok"), "{out}");
}

#[test]
fn svg_outputs_are_well_formed() {
    let ladder = tmp("ladder.svg");
    let graph = tmp("graph.svg");
    let o = synack(&[
        "demo",
        "--bytes",
        "100K",
        "--loss",
        "0.05",
        "--svg",
        ladder.to_str().unwrap(),
        "--seq-graph",
        graph.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    for p in [&ladder, &graph] {
        let text = std::fs::read_to_string(p).unwrap();
        let doc =
            roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(doc.descendants().filter(|n| n.has_tag_name("text")).count() > 5);
    }
}

#[test]
fn json_and_mermaid_formats() {
    let j = synack(&["demo", "--format", "json"]);
    assert!(j.status.success());
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).expect("valid JSON");
    assert!(v.to_string().contains("SYN-SENT"));
    let m = stdout(&synack(&["demo", "--format", "mermaid"]));
    assert!(m.starts_with("sequenceDiagram"), "{m}");
    assert!(m.contains("SYN"));
}

#[test]
fn pcap_of_the_demo_reads_back_with_trace() {
    let pcap = tmp("demo.pcap");
    let o = synack(&["demo", "--pcap", pcap.to_str().unwrap()]);
    assert!(o.status.success());
    let t = synack(&["trace", pcap.to_str().unwrap()]);
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let out = stdout(&t);
    for s in [
        "SYN-SENT",
        "SYN-RECEIVED",
        "ESTABLISHED",
        "FIN-WAIT-1",
        "CLOSE-WAIT",
        "LAST-ACK",
        "TIME-WAIT",
    ] {
        assert!(out.contains(s), "missing {s} in\n{out}");
    }
    assert!(out.contains("ack=A+1"));
}

fn assert_one_line_error(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "exit status for bad input");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected, got:\n{err}"
    );
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
}

#[test]
fn bad_flags_give_one_line_and_status_2() {
    assert_one_line_error(&synack(&["demo", "--bogus"]), "--bogus");
    assert_one_line_error(&synack(&["demo", "--loss", "1.5"]), "loss");
    assert_one_line_error(&synack(&["demo", "--bytes", "lots"]), "size");
    assert_one_line_error(&synack(&["demo", "--time-wait", "3 parsecs"]), "unit");
    assert_one_line_error(&synack(&["demo", "--close", "nobody"]), "nobody");
    assert_one_line_error(&synack(&["frobnicate"]), "frobnicate");
    assert_one_line_error(
        &synack(&["bench", "--only", "wan", "--profile", "P3,P9"]),
        "P9",
    );
    if cfg!(target_os = "linux") {
        // Checked before anything runs: no congestion control has this name.
        assert_one_line_error(
            &synack(&["bench", "--only", "tun", "--kernel-cc", "no-such-cc"]),
            "no-such-cc",
        );
    }
    assert_one_line_error(
        &synack(&[
            "serve",
            "--tun",
            "x",
            "--addr",
            "10.0.0.2/24",
            "--port",
            "80",
        ]),
        "--echo",
    );
    assert_one_line_error(
        &synack(&[
            "serve",
            "--tun",
            "x",
            "--addr",
            "10.0.0.2/99",
            "--port",
            "80",
            "--echo",
        ]),
        "10.0.0.2/99",
    );
}

#[test]
fn bad_link_flags_give_one_line_and_status_2() {
    // Checked before any device is opened, so these fail the same way without root.
    let link = |extra: &[&str]| {
        let mut args = vec!["link", "--a", "lnka", "--b", "lnkb"];
        args.extend_from_slice(extra);
        synack(&args)
    };
    assert_one_line_error(&link(&["--delay", "-5ms"]), "negative");
    assert_one_line_error(&link(&["--delay", "5 fortnights"]), "unit");
    assert_one_line_error(&link(&["--loss", "100%"]), "below 100");
    assert_one_line_error(&link(&["--loss", "0.01"]), "percentage");
    assert_one_line_error(&link(&["--rate", "100mbps"]), "mbps");
    assert_one_line_error(&link(&["--queue", "3G"]), "unit");
    assert_one_line_error(&link(&["--ab", "latency=5ms"]), "latency");
    assert_one_line_error(&link(&["--ba", "loss=150%"]), "--ba");
    assert_one_line_error(&link(&["--burst-loss", "1%:0"]), "burst");
    assert_one_line_error(&link(&["--duration", "soon"]), "--duration");
    assert_one_line_error(&synack(&["link", "--a", "same", "--b", "same"]), "same");
    assert_one_line_error(&synack(&["link", "--a", "only-a"]), "--b");
}

#[test]
fn unreadable_pcap_gives_one_line_and_status_2() {
    assert_one_line_error(&synack(&["trace", "/nonexistent/x.pcap"]), "x.pcap");
    let junk = tmp("junk.pcap");
    std::fs::write(&junk, b"this is not a capture").unwrap();
    assert_one_line_error(&synack(&["trace", junk.to_str().unwrap()]), "pcap");
}

#[test]
fn help_on_every_subcommand() {
    for sub in ["demo", "trace", "serve", "connect", "intercept", "link"] {
        let o = synack(&[sub, "--help"]);
        assert!(o.status.success(), "{sub} --help");
        assert!(stdout(&o).contains("Usage"), "{sub} --help");
    }
}

#[test]
fn packetdrill_suite_passes_with_its_divergences_reported_as_expected() {
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/../../conformance");
    for flags in [&[][..], &["--strict"][..]] {
        let mut args = vec!["packetdrill"];
        args.extend_from_slice(flags);
        args.push(suite);
        let o = synack(&args);
        let out = stdout(&o);
        assert!(o.status.success(), "{flags:?}:\n{out}");
        assert!(out.contains("\nDIVERGES "), "{flags:?}:\n{out}");
        let last = out.lines().last().unwrap_or("");
        assert!(
            last.contains(" 0 failed") && last.ends_with("expected divergences"),
            "{flags:?}: {last}"
        );
    }
}
