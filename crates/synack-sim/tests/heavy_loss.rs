//! RTT estimation under heavy loss (issue: RTO that feeds on itself). A 1 MB transfer
//! each way over a 20 ms-RTT link that drops 30 % of packets in each direction, for
//! many seeds: every run must complete with every byte intact, and neither side's
//! smoothed RTT may run away from the path's real RTT. Before the fix, 124 of 300 such
//! runs never finished: ACKs that echoed an old TSval (RFC 7323 §4.3 keeps TS.Recent
//! when a duplicate arrives) gave samples that included the sender's own backoff.
//!
//! `SYNACK_HEAVY_LOSS_SEEDS=N` runs N seeds instead of the default 200 (the soak:
//! 1000).

use synack_core::time::Duration;
use synack_core::Config;
use synack_sim::demo::{run_demo, DemoConfig};

fn seeds() -> u64 {
    std::env::var("SYNACK_HEAVY_LOSS_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

#[test]
fn one_megabyte_at_thirty_percent_loss_completes_and_srtt_stays_sane() {
    let n = seeds();
    let mut failures = Vec::new();
    let mut slowest = (0u64, Duration::ZERO);
    let mut worst_srtt = (0u64, Duration::ZERO);
    for k in 1..=n {
        let seed = 7919 * k;
        let cfg = DemoConfig {
            bytes: 1_000_000,
            loss: 0.3,
            seed,
            // Linux's R2 of 15 backoffs (about 15 min) is a legitimate end for a
            // connection whose every copy and every ACK is lost for that long; at 30 %
            // loss each way that happens in about 1 of 1,000 runs. This test is about
            // the estimator, so it lets such a run go on rather than time out.
            stack: Some(Config {
                retries: 30,
                ..Config::default()
            }),
            ..DemoConfig::default()
        };
        let r = run_demo(&cfg, &mut |_| {});
        let took = r
            .end
            .saturating_duration_since(synack_core::time::Instant::ZERO);
        if took > slowest.1 {
            slowest = (seed, took);
        }
        for side in [&r.client, &r.server] {
            if let Some(srtt) = side.info.as_ref().and_then(|i| i.srtt) {
                if srtt > worst_srtt.1 {
                    worst_srtt = (seed, srtt);
                }
                // The path's RTT is 20 ms; delayed ACKs, the ACKs of retransmissions
                // and, with autotuned windows, many segments per loss episode add
                // some (one seed of 200 ends near 2 s). The runaway this guards
                // against reached 13 s to minutes.
                if srtt > Duration::from_millis(5000) {
                    failures.push(format!("seed {seed}: {} srtt {srtt:?}", side.addr));
                }
            }
        }
        if !r.ok() || r.client.leftover_connections != 0 || r.server.leftover_connections != 0 {
            failures.push(format!(
                "seed {seed}: completed={} client received {} / server received {} of {} B, ended at {:?}\n  reproduce: synack demo --bytes 1000000 --loss 0.3 --seed {seed}",
                r.completed, r.client.received, r.server.received, cfg.bytes, r.end
            ));
        }
    }
    println!(
        "{n} seeds: slowest run seed {} took {:?} of virtual time; largest final srtt {:?} (seed {})",
        slowest.0, slowest.1, worst_srtt.1, worst_srtt.0
    );
    assert!(
        failures.is_empty(),
        "{} of {n} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
