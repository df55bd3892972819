//! Runs the synack-vs-smoltcp benchmarks and prints the report, the same entry point
//! `synack bench` calls. Flags: `--quick`, `--smoke`, `--json`, `--reps N`,
//! `--only all|in-process|tun`.

use synack_bench::{BenchOptions, CountingAlloc, Mode, Scenarios};

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
            "--only" => {
                opts.scenarios = match args.next().as_deref() {
                    Some("all") => Scenarios::All,
                    Some("in-process") => Scenarios::InProcess,
                    Some("tun") => Scenarios::Tun,
                    other => {
                        eprintln!("--only takes all, in-process or tun, not {other:?}");
                        std::process::exit(2);
                    }
                }
            }
            other => {
                eprintln!(
                    "unknown argument {other}; flags: --quick --smoke --json --reps N --only all|in-process|tun"
                );
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
