//! `synack packetdrill [--strict] FILES...`: run scripts, one line per script, then the
//! totals; scripts a `divergences` file beside them lists are expected divergences.

use crate::args::PacketdrillArgs;
use std::path::PathBuf;
use std::process::ExitCode;
use synack_packetdrill::{run_files, RunOptions};

pub(crate) fn run(a: PacketdrillArgs) -> Result<ExitCode, String> {
    let mut files: Vec<PathBuf> = Vec::new();
    for f in &a.files {
        if f.is_dir() {
            let rd =
                std::fs::read_dir(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
            let mut found: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pkt"))
                .collect();
            found.sort();
            files.extend(found);
        } else if f.exists() {
            files.push(f.clone());
        } else {
            return Err(format!("{}: no such file", f.display()));
        }
    }
    if files.is_empty() {
        return Err("no .pkt scripts found".to_string());
    }
    let opts = RunOptions {
        tolerance_usecs: a.tolerance_usecs,
        strict: a.strict,
    };
    let mut out = std::io::stdout().lock();
    let summary = run_files(&files, &opts, &mut out);
    Ok(if summary.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
