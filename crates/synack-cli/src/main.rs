//! `synack`: watch a TCP connection's whole life, and use synack for real.
//!
//! The binary holds no protocol logic: it parses flags and calls library crates
//! (`synack-sim` for the demo scenario, `synack-viz` for drawing, `synack` for the
//! runtime, `synack-packetdrill`, `synack-bench`).

mod args;
mod demo;
mod net;
mod trace;

use clap::Parser;
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
                    // One line: the first line of clap's message, without its prefix.
                    let text = e.to_string();
                    let first = text.lines().next().unwrap_or("invalid arguments");
                    let first = first.strip_prefix("error: ").unwrap_or(first);
                    eprintln!("synack: {first} (see --help)");
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
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("synack: {e}");
            ExitCode::from(2)
        }
    }
}
