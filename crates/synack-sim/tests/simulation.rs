//! The simulation suite: two synack stacks transfer data both ways over impaired
//! links, for many seeds. Every run checks every byte (SHA-256 per direction), that
//! both sides end CLOSED after their timers, and that no connection state is left.
//! A failure prints the seed and the impairment that reproduce it.
//!
//! `SYNACK_SIM_SEEDS=N` runs N seeds per impairment instead of the default 200.

use synack_core::time::{Duration, Instant};
use synack_sim::demo::{run_demo, CloseMode, DemoConfig, DemoReport};
use synack_sim::{GilbertElliott, LinkConfig};

fn seeds() -> u64 {
    std::env::var("SYNACK_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The impairments of the suite, by name.
fn profiles() -> Vec<(&'static str, LinkConfig, usize)> {
    let base = LinkConfig::with_latency(ms(10));
    vec![
        ("clean", base.clone(), 200_000),
        ("loss 1%", base.clone().loss(0.01), 200_000),
        ("loss 10%", base.clone().loss(0.10), 100_000),
        ("loss 30%", base.clone().loss(0.30), 20_000),
        (
            "bursty loss (Gilbert-Elliott 2%/30%)",
            base.clone()
                .burst_loss(GilbertElliott::new(0.02, 0.30, 0.0, 0.6)),
            100_000,
        ),
        (
            "reordering 10% +15ms, jitter 3ms",
            base.clone().reorder(0.10, ms(15)).jitter(ms(3)),
            100_000,
        ),
        ("duplication 5%", base.clone().duplicate(0.05), 100_000),
        ("corruption 1%", base.clone().corrupt(0.01), 100_000),
        (
            "2 s partition at 40 ms",
            base.clone()
                .partition(Instant::from_millis(40), Instant::from_millis(2040)),
            100_000,
        ),
        (
            "10 Mbit/s, 32 KiB queue",
            base.clone().bandwidth(10_000_000).queue_bytes(32 * 1024),
            300_000,
        ),
    ]
}

fn check(name: &str, seed: u64, r: &DemoReport) -> Result<(), String> {
    if r.ok() && r.client.leftover_connections == 0 && r.server.leftover_connections == 0 {
        return Ok(());
    }
    Err(format!(
        "impairment '{name}', seed {seed}, close {:?}: completed={} client(received {} of {}, error {:?}, left {}) server(received {} of {}, error {:?}, left {}), ended at {:?}\n  reproduce: SYNACK_SIM_ONLY='{name}' SYNACK_SIM_SEED={seed} cargo test -p synack-sim --test simulation",
        r.config.close,
        r.completed,
        r.client.received,
        r.config.bytes,
        r.client.error,
        r.client.leftover_connections,
        r.server.received,
        r.config.bytes,
        r.server.error,
        r.server.leftover_connections,
        r.end,
    ))
}

#[test]
fn transfers_survive_impairments() {
    let only = std::env::var("SYNACK_SIM_ONLY").ok();
    let one_seed: Option<u64> = std::env::var("SYNACK_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok());
    let mut failures = Vec::new();
    let mut runs = 0;
    for (name, link, bytes) in profiles() {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let seed_list: Vec<u64> = match one_seed {
            Some(s) => vec![s],
            None => (1..=seeds()).collect(),
        };
        for seed in seed_list {
            let close = match seed % 3 {
                0 => CloseMode::Client,
                1 => CloseMode::Server,
                _ => CloseMode::Both,
            };
            let cfg = DemoConfig {
                bytes,
                seed,
                close,
                msl: Duration::from_secs(2),
                link: Some(link.clone()),
                random_data: true,
                deadline: Duration::from_secs(1800),
                ..DemoConfig::default()
            };
            let r = run_demo(&cfg, &mut |_| {});
            runs += 1;
            if let Err(e) = check(name, seed, &r) {
                eprintln!("FAIL {e}");
                failures.push(e);
            }
        }
    }
    eprintln!("{runs} simulated transfers, {} failed", failures.len());
    assert!(runs >= 1);
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn same_seed_same_run() {
    let cfg = DemoConfig {
        bytes: 50_000,
        seed: 42,
        link: Some(LinkConfig::with_latency(ms(5)).loss(0.1).jitter(ms(2))),
        random_data: true,
        ..DemoConfig::default()
    };
    let a = run_demo(&cfg, &mut |_| {});
    let b = run_demo(&cfg, &mut |_| {});
    assert_eq!(a.client.trace, b.client.trace);
    assert_eq!(a.server.trace, b.server.trace);
    assert_eq!(a.end, b.end);
    let c = run_demo(&DemoConfig { seed: 43, ..cfg }, &mut |_| {});
    assert_ne!(
        a.client.trace, c.client.trace,
        "a different seed gives a different run"
    );
}

#[test]
fn simultaneous_open_and_close_complete() {
    let cfg = DemoConfig {
        bytes: 10_000,
        simultaneous_open: true,
        close: CloseMode::Both,
        msl: Duration::from_secs(1),
        ..DemoConfig::default()
    };
    let r = run_demo(&cfg, &mut |_| {});
    check("simultaneous open + close", 1, &r).unwrap();
}
