//! The WAN profiles (`synack_sim::profiles`, the same paths `synack bench --only wan`
//! emulates in real time) in virtual time: synack ↔ synack with each built-in
//! congestion controller, data both ways at once, every byte checked. Goodput in
//! virtual time does not depend on the machine, so each row asserts a floor: set from
//! what the code reaches, with a margin, and raised when the code improves (change
//! a floor only with the reason in the commit).
//!
//! `SYNACK_WAN_SEED=N` runs another seed (the floors hold for seed 1).
//! `SYNACK_WAN_PRINT=1` prints the table (`cargo test -p synack-sim --test
//! wan_profiles -- --nocapture`).

use synack_core::cc::Algorithm;
use synack_core::time::Instant;
use synack_core::Config;
use synack_sim::demo::{run_demo, DemoConfig, DemoReport};
use synack_sim::profiles::{self, Profile};

/// Goodput of the slower direction, Mbit/s: the data size over the time from the
/// handshake to the moment that side had every byte.
fn goodput(r: &DemoReport, bytes: usize) -> f64 {
    let start = r.client.established_at.unwrap_or(Instant::ZERO);
    let done = [r.client.data_done_at, r.server.data_done_at]
        .into_iter()
        .map(|t| t.unwrap_or(r.end))
        .max()
        .unwrap_or(r.end);
    let secs = done
        .saturating_duration_since(start)
        .as_secs_f64()
        .max(1e-6);
    bytes as f64 * 8.0 / secs / 1e6
}

fn run(p: &Profile, alg: &Algorithm, bytes: usize) -> (DemoReport, f64) {
    let cfg = DemoConfig {
        bytes,
        seed: std::env::var("SYNACK_WAN_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1),
        link: Some(p.forward.clone()),
        random_data: true,
        stack: Some(Config {
            congestion: alg.clone(),
            ..Config::default()
        }),
        ..DemoConfig::default()
    };
    let r = run_demo(&cfg, &mut |_| {});
    let g = goodput(&r, bytes);
    (r, g)
}

/// (profile, bytes each way, floors in Mbit/s for NewReno, CUBIC, BBR): about 85 % of
/// what seed 1 reaches (2026-12-03, after RACK with per-segment send times; P1 raised
/// 2026-12-04, when the receiver stopped dropping data past its 32nd hole; BBR's
/// P2–P4 raised the same day, with its rate samples taken within the round; all of
/// BBR's raised 2026-12-04 again, with samples that slide over the last RTT and PAWS
/// that lets reordered duplicate ACKs through: seed 1 reaches 76.7, 33.0, 20.5, 34.4
/// and 10.8 with Linux's quantization budget; P4 gave up 8 % of its virtual-time
/// figure to the budget's queue, and P5's seed 1 13.1 while its median over 14 seeds
/// moved from 12.9 to 12.8, for 1 to 3 % more in real time on P1 and P4; P5's NewReno
/// and CUBIC raised 2026-12-05, when cwnd began to grow on SACKs once RACK has seen
/// reordering: seed 1 reaches 3.1 and 4.9; CUBIC's again the same day, when a partial
/// ACK echoing the originals' timestamp began to undo a spurious recovery: 6.9). Weak
/// spots
/// the figures show, left for later work: P3 for every algorithm (a 200 ms RTT with
/// data both ways), P5 for every algorithm (reordering jitter and a 1-BDP queue:
/// seed-to-seed spread of 3x; `SYNACK_WAN_SEED`).
fn table() -> Vec<(Profile, usize, [f64; 3])> {
    vec![
        (profiles::p1_broadband(), 8_000_000, [68.0, 63.0, 66.0]),
        (profiles::p2_lossy(), 3_000_000, [2.7, 3.0, 26.0]),
        (profiles::p3_long_fat(), 6_000_000, [17.0, 18.0, 17.5]),
        (profiles::p4_bufferbloat(), 4_000_000, [32.0, 26.0, 31.5]),
        (profiles::p5_mobile(), 2_000_000, [2.6, 5.5, 9.0]),
    ]
}

#[test]
fn wan_profiles_reach_their_goodput_floors() {
    let print = std::env::var("SYNACK_WAN_PRINT").is_ok();
    let mut failures = Vec::new();
    for (p, bytes, floors) in table() {
        for (alg, floor) in [Algorithm::NewReno, Algorithm::Cubic, Algorithm::Bbr]
            .into_iter()
            .zip(floors)
        {
            let (r, g) = run(&p, &alg, bytes);
            let info = r.client.info.clone().expect("client info");
            if print {
                println!(
                    "{} {:<12} {:<5} {:>7.1} Mbit/s  srtt {:>6.1} ms  rtx {:>5}  ok {}  \
                     fast rtx {} lost rtx {} probes {} RTOs {} D-SACKs {}",
                    p.id,
                    p.name,
                    alg.name(),
                    g,
                    info.srtt.map_or(0.0, |d| d.as_secs_f64() * 1e3),
                    info.stats.segs_retransmitted,
                    r.ok(),
                    info.stats.fast_retransmits,
                    info.stats.lost_retransmits,
                    info.stats.loss_probes,
                    info.stats.timeouts,
                    info.stats.dsacks_received,
                );
            }
            if !r.ok() {
                failures.push(format!("{} {}: transfer failed (seed 1)", p.id, alg.name()));
            } else if g < floor {
                failures.push(format!(
                    "{} {}: {g:.1} Mbit/s, floor {floor} (seed 1)",
                    p.id,
                    alg.name()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
