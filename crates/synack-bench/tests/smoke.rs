//! A tiny end-to-end run of the whole benchmark: every scenario runs on both stacks,
//! every stream arrives intact (a corrupted or stalled stream turns into a "failed"
//! cell, which fails this test), and the report has every row. No timing assertions.

use synack_bench::{BenchOptions, CountingAlloc, Figure, Scenarios, Side};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

/// The counting allocator is global to this test binary, and the test harness runs
/// tests on parallel threads: each test holds this lock, so no other test allocates or
/// frees while one reads the counters (the memory rows, the allocator check).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn failed(f: &Figure) -> bool {
    matches!(f, Figure::NotRun(why) if why.starts_with("failed"))
}

#[test]
fn smoke_report_has_every_row_and_no_failure() {
    let _serial = serial();
    // The TUN rows have their own smoke test (tun_smoke.rs): they need root.
    let report = synack_bench::run(&BenchOptions {
        scenarios: Scenarios::InProcess,
        ..BenchOptions::smoke()
    });
    let expected = [
        "bulk, MTU 1500",
        "bulk, MTU 9000",
        "bulk, MTU 65535",
        "bulk + 100 idle conns",
        "churn",
        "churn + 100 TIME-WAIT",
        "memory per idle conn",
        "peak memory, 200 idle conns",
        "buffer memory of idle conns",
    ];
    let names: Vec<&str> = report.rows.iter().map(|r| r.scenario.as_str()).collect();
    assert_eq!(names, expected, "\n{report}");
    for row in &report.rows {
        assert!(
            !failed(&row.synack),
            "synack failed in {}: {:?}",
            row.scenario,
            row.synack
        );
        assert!(
            !failed(&row.peer),
            "smoltcp failed in {}: {:?}",
            row.scenario,
            row.peer
        );
        assert!(
            row.synack.value().is_some(),
            "synack not run: {}\n{report}",
            row.scenario
        );
    }
    for name in [
        "bulk, MTU 1500",
        "bulk, MTU 9000",
        "bulk, MTU 65535",
        "bulk + 100 idle conns",
        "churn",
        "churn + 100 TIME-WAIT",
    ] {
        let row = report.row(name).expect("row");
        assert!(
            row.peer.value().is_some_and(|v| v > 0.0),
            "{name}: {:?}",
            row.peer
        );
        assert!(row.ratio.is_some(), "{name}");
    }
    // Both stacks really held the TIME-WAIT population during the timed churn.
    let tw = report.row("churn + 100 TIME-WAIT").expect("row");
    assert!(
        tw.note.contains("synack 100..") && tw.note.contains("smoltcp 0.14 100..100"),
        "{}",
        tw.note
    );
    // Idle connections hold no buffer memory; smoltcp's sockets hold theirs.
    let buffers = report.row("buffer memory of idle conns").expect("row");
    assert_eq!(buffers.synack, Figure::Value(0.0));
    assert_eq!(
        buffers.peer,
        Figure::Value((2 * synack_bench::BUFFER) as f64)
    );
    // Both output forms work.
    let text = report.to_string();
    assert!(text.contains("| bulk, MTU 1500"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("json");
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(expected.len()));
}

#[test]
fn single_measurements_verify_their_streams() {
    let _serial = serial();
    for side in [Side::Synack, Side::Smoltcp] {
        let g = synack_bench::bulk_once(side, 1500, 300_000, 3).expect("bulk");
        assert!(g > 0.0);
        let c = synack_bench::churn_once(side, 5, 10).expect("churn");
        assert!(c > 0.0);
    }
}

#[test]
fn counting_allocator_counts() {
    let _serial = serial();
    assert!(synack_bench::counting_installed());
    // 16 MiB, so the few bytes the test harness frees on its own threads meanwhile
    // (captured output of finished tests) cannot hide it.
    const N: usize = 16 << 20;
    let before = synack_bench::heap();
    let v = std::hint::black_box(vec![1u8; N]);
    let during = synack_bench::heap();
    assert!(during.live >= before.live + N - (1 << 20));
    assert!(during.allocations > before.allocations);
    drop(v);
}
