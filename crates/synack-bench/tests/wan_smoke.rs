//! The WAN rows of `synack bench` run end to end in smoke mode (half a second per
//! transfer; root only on Linux, otherwise the test checks that each row says why it
//! did not run): every profile, every peer (kernel → kernel with CUBIC and BBR, kernel
//! → synack with the kernel sending CUBIC and BBR, synack → kernel with CUBIC and with
//! BBR, kernel ↔ smoltcp) and the
//! sharing profile through the link emulator, every stream checked byte for byte by
//! its receiver. No timing assertions: a figure only
//! has to exist, which it does only if the transfer moved verified bytes.

#![cfg(target_os = "linux")]

use synack_bench::{BenchOptions, Figure, Scenarios};

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[test]
fn wan_rows_run_or_say_why_not() {
    let report = synack_bench::run(&BenchOptions {
        scenarios: Scenarios::Wan,
        ..BenchOptions::smoke()
    });
    // Per profile P1–P5: kernel → synack with the kernel sending CUBIC and BBR,
    // synack → kernel with CUBIC and with BBR; then P6.
    assert_eq!(report.rows.len(), 5 * 4 + 1, "\n{report}");
    let name = "WAN P2 lossy, kernel → synack, kernel BBR";
    let row = report
        .row(name)
        .unwrap_or_else(|| panic!("no {name}\n{report}"));
    let base = row.baseline.as_ref().expect("a kernel baseline");
    assert_eq!(base.name, "kernel → kernel, BBR");
    for cc in ["CUBIC", "BBR"] {
        let name = format!("WAN P2 lossy, synack → kernel, {cc}");
        let row = report
            .row(&name)
            .unwrap_or_else(|| panic!("no {name}\n{report}"));
        let base = row.baseline.as_ref().expect("a kernel baseline");
        assert_eq!(base.name, format!("kernel → kernel, {cc}"));
    }
    for p in ["P1", "P2", "P3", "P4", "P5", "P6"] {
        assert!(
            report
                .rows
                .iter()
                .any(|r| r.scenario.starts_with(&format!("WAN {p} "))),
            "{p} missing\n{report}"
        );
    }
    if !is_root() {
        eprintln!("skipped the WAN transfers: not root (each row says so)");
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
    for row in &report.rows {
        let name = &row.scenario;
        for (who, f) in [("synack", &row.synack), ("peer", &row.peer)] {
            assert!(
                f.value().is_some_and(|v| v > 0.0),
                "{name}: {who} {f:?}\n{report}"
            );
        }
        if let Some(base) = &row.baseline {
            assert!(
                base.value.value().is_some_and(|v| v > 0.0),
                "{name}: {base:?}"
            );
        }
        assert!(!row.note.contains("failed"), "{name}: {}", row.note);
    }
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("emulator capacity") && !n.contains("failed")),
        "{:?}",
        report.notes
    );
}
