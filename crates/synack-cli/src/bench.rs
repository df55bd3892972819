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
    let report = synack_bench::run(&opts);
    if a.json {
        println!("{}", report.to_json());
    } else {
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}
