//! The TUN rows of `synack bench` run end to end on a tiny transfer (root only on
//! Linux; otherwise the test checks that each row says why it did not run): kernel →
//! synack and synack → kernel over TUN, smoltcp on the same setup, kernel ↔ kernel
//! over veth, every stream checked byte for byte. No timing assertions.

#![cfg(target_os = "linux")]

use synack_bench::{BenchOptions, Figure, Scenarios, TunPath};

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn tun_only() -> BenchOptions {
    BenchOptions {
        scenarios: Scenarios::Tun,
        ..BenchOptions::smoke()
    }
}

#[test]
fn tun_rows_run_or_say_why_not() {
    let report = synack_bench::run(&tun_only());
    let names: Vec<&str> = report.rows.iter().map(|r| r.scenario.as_str()).collect();
    assert_eq!(
        names,
        [
            "TUN, kernel → synack",
            "TUN, synack → kernel",
            "TUN, serve --http → curl",
            "TUN, serve --http → curl, offload"
        ],
        "\n{report}"
    );
    if !is_root() {
        eprintln!("skipped the TUN transfers: not root (each row says so)");
        for row in &report.rows {
            for f in [&row.synack, &row.peer] {
                assert!(
                    matches!(f, Figure::NotRun(why) if why.starts_with("needs root")),
                    "{}: {f:?}",
                    row.scenario
                );
            }
        }
        return;
    }
    for row in &report.rows[2..] {
        // The HTTP rows: synack's file server against the same library answering
        // from memory; smoltcp has no HTTP server.
        let name = &row.scenario;
        assert!(
            row.synack.value().is_some_and(|v| v > 0.0),
            "{name}: synack {:?}\n{report}",
            row.synack
        );
        assert!(matches!(row.peer, Figure::NotRun(_)) && row.ratio.is_none());
        let base = row.baseline.as_ref().expect("a from-memory baseline");
        assert!(base.percent.is_some_and(|p| p > 0.0), "{base:?}");
        assert!(row.note.contains("answered from memory"), "{}", row.note);
    }
    for row in &report.rows[..2] {
        let name = &row.scenario;
        assert!(
            row.synack.value().is_some_and(|v| v > 0.0),
            "{name}: synack {:?}\n{report}",
            row.synack
        );
        assert!(
            row.peer.value().is_some_and(|v| v > 0.0),
            "{name}: smoltcp {:?}\n{report}",
            row.peer
        );
        assert!(row.ratio.is_some_and(|r| r > 0.0), "{name}");
        let base = row.baseline.as_ref().expect("a veth baseline");
        assert!(base.value.value().is_some_and(|v| v > 0.0), "{base:?}");
        assert!(base.percent.is_some_and(|p| p > 0.0), "{base:?}");
        assert!(
            row.note.contains("of kernel ↔ kernel over veth"),
            "{}",
            row.note
        );
    }
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("json");
    assert!(json["rows"][0]["baseline"]["percent"].is_number(), "{json}");
    assert_eq!(json["tun_bytes"], serde_json::json!(4u64 << 20));
}

#[test]
fn single_tun_paths_check_their_streams() {
    if !is_root() {
        eprintln!("skipped: the TUN paths need root");
        assert!(synack_bench::tun_once(TunPath::KernelToSynack, 1 << 20)
            .is_err_and(|e| e.starts_with("needs root")));
        return;
    }
    // An odd size, so the last write and read are partial.
    for path in [
        TunPath::KernelToSynack,
        TunPath::SynackToKernel,
        TunPath::HttpFile { offload: false },
        TunPath::HttpMemory { offload: true },
    ] {
        let g = synack_bench::tun_once(path, 3_000_001).expect("transfer");
        assert!(g > 0.0, "{path:?}");
    }
}

/// The tun2socks rows (issue 15): a kernel client through synack's forwarder to a
/// kernel server, and the same pair over veth, every stream checked.
#[test]
fn tun2socks_rows_run_or_say_why_not() {
    let report = synack_bench::run(&BenchOptions {
        scenarios: Scenarios::Tun2socks,
        ..BenchOptions::smoke()
    });
    let names: Vec<&str> = report.rows.iter().map(|r| r.scenario.as_str()).collect();
    assert_eq!(
        names,
        [
            "TUN, kernel → tun2socks → kernel",
            "TUN, tun2socks connections"
        ],
        "\n{report}"
    );
    for row in &report.rows {
        if !is_root() {
            assert!(
                matches!(&row.synack, Figure::NotRun(why) if why.starts_with("needs root")),
                "{}: {:?}",
                row.scenario,
                row.synack
            );
            continue;
        }
        assert!(
            row.synack.value().is_some_and(|v| v > 0.0),
            "{}: {:?}\n{report}",
            row.scenario,
            row.synack
        );
        let base = row.baseline.as_ref().expect("a veth baseline");
        assert!(base.value.value().is_some_and(|v| v > 0.0), "{base:?}");
    }
    if !is_root() {
        eprintln!("skipped the tun2socks transfers: not root (each row says so)");
    }
}
