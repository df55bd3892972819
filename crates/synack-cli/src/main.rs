//! `synack`: watch a TCP connection's whole life, and use synack for real.
//!
//! The binary holds no protocol logic: it parses flags and calls library crates
//! (`synack-sim` for the demo scenario, `synack-viz` for drawing, `synack` for the
//! runtime, `synack-packetdrill`, `synack-bench`).

mod args;
mod bench;
mod demo;
mod link;
mod net;
mod packetdrill;
mod trace;
mod tun2socks;

use clap::Parser;

/// Counts heap use, so `synack bench` can report bytes per connection.
#[global_allocator]
static ALLOC: synack_bench::CountingAlloc = synack_bench::CountingAlloc::new();
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    return ExitCode::SUCCESS;
                }
                _ => {
                    // One line: clap's message up to its usage block, lines joined.
                    let text = e.to_string();
                    let msg = text
                        .split("\n\nUsage:")
                        .next()
                        .unwrap_or("invalid arguments");
                    let msg = msg.split("\n\n  tip:").next().unwrap_or(msg);
                    let msg = msg.split_whitespace().collect::<Vec<_>>().join(" ");
                    let msg = msg.replace(" For more information, try '--help'.", "");
                    let msg = msg.strip_prefix("error: ").unwrap_or(&msg);
                    eprintln!("synack: {msg} (see --help)");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let result = match cli.command {
        args::Command::Demo(a) => demo::run(a),
        args::Command::Trace(a) => trace::run(a),
        args::Command::Serve(a) => net::serve(a),
        args::Command::Connect(a) => net::connect(a),
        args::Command::Intercept(a) => net::intercept(a),
        args::Command::Tun2socks(a) => tun2socks::run(a),
        args::Command::Packetdrill(a) => packetdrill::run(a),
        args::Command::Bench(a) => bench::run(a),
        args::Command::Link(a) => link::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("synack: {e}");
            ExitCode::from(2)
        }
    }
}
