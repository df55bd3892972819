//! Runs one fuzz target on input files, for debugging a crash outside libFuzzer:
//! `cargo run -p synack-fuzz --release --example replay -- TARGET FILE...`
//! (`SYNACK_FUZZ_TRACE=1` makes the engine target print its steps).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((target, files)) = args.split_first() else {
        eprintln!("usage: replay TARGET FILE...");
        std::process::exit(2);
    };
    let Some(&(_, body)) = synack_fuzz::TARGETS.iter().find(|(n, _)| n == target) else {
        eprintln!("replay: no target {target:?}");
        std::process::exit(2);
    };
    for f in files {
        let start = std::time::Instant::now();
        match std::fs::read(f) {
            Ok(data) => body(&data),
            Err(e) => {
                eprintln!("replay: {f}: {e}");
                std::process::exit(1);
            }
        }
        println!("{f}: ok in {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
    }
}
