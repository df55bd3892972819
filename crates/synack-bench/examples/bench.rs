//! Runs the synack-vs-smoltcp benchmarks and prints the report, the same entry point
//! `synack bench` calls. Flags: `--quick`, `--smoke`, `--json`, `--reps N`.

use synack_bench::{BenchOptions, CountingAlloc, Mode};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

fn main() {
    let mut opts = BenchOptions {
        progress: true,
        ..BenchOptions::default()
    };
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => opts.mode = Mode::Quick,
            "--smoke" => opts.mode = Mode::Smoke,
            "--json" => json = true,
            "--reps" => opts.reps = args.next().and_then(|n| n.parse().ok()).unwrap_or(0),
            other => {
                eprintln!("unknown argument {other}; flags: --quick --smoke --json --reps N");
                std::process::exit(2);
            }
        }
    }
    let report = synack_bench::run(&opts);
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
}
