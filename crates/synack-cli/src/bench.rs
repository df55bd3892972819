//! `synack bench`: synack against smoltcp, side by side, in one run.

use crate::args::BenchArgs;
use std::process::ExitCode;
use synack_bench::BenchOptions;

pub(crate) fn run(a: BenchArgs) -> Result<ExitCode, String> {
    let mut opts = if a.quick {
        BenchOptions::quick()
    } else {
        BenchOptions::full()
    };
    opts.reps = a.reps;
    opts.scenarios = a.only;
    opts.progress = !a.json;
    if let Some(cc) = &a.kernel_cc {
        check_kernel_cc(cc)?;
    }
    opts.kernel_cc = a.kernel_cc;
    opts.flood_secs = a.flood_secs;
    opts.wan_profiles = a.profile;
    // The flood rows attack this very binary's `serve`.
    opts.serve_exe = std::env::current_exe().ok();
    // Each named once, in the order given.
    for cc in a.cc {
        if !opts.synack_cc.iter().any(|c| c.name() == cc.name()) {
            opts.synack_cc.push(cc);
        }
    }
    let report = synack_bench::run(&opts);
    if a.json {
        println!("{}", report.to_json());
    } else {
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `--kernel-cc NAME` must name a congestion control this kernel offers.
fn check_kernel_cc(cc: &str) -> Result<(), String> {
    let path = "/proc/sys/net/ipv4/tcp_available_congestion_control";
    let available = std::fs::read_to_string(path)
        .map_err(|e| format!("--kernel-cc: cannot read {path}: {e}"))?;
    if available.split_whitespace().any(|a| a == cc) {
        Ok(())
    } else {
        Err(format!(
            "--kernel-cc {cc}: not offered by this kernel (available: {})",
            available.trim()
        ))
    }
}
