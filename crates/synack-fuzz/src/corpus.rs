//! Replaying committed inputs: every file of a target's corpus and regression
//! directories goes through the target body once, so the default test run exercises
//! what the fuzzer found without needing the fuzzer.

use std::path::{Path, PathBuf};

/// The repository's `fuzz/` directory (this crate is `crates/synack-fuzz`).
pub fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `fuzz/<kind>/<target>/` (`kind` is `corpus` or `regressions`), sorted
/// by name; empty when the directory does not exist.
pub fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Runs `body` over every input of `fuzz/<kind>/<target>/` and returns how many there
/// were. A panic names the file that caused it.
pub fn replay(kind: &str, target: &str, body: fn(&[u8])) -> usize {
    let files = inputs(kind, target);
    for f in &files {
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let r = std::panic::catch_unwind(|| body(&data));
        if let Err(e) = r {
            eprintln!("fuzz input {} failed", f.display());
            std::panic::resume_unwind(e);
        }
    }
    files.len()
}
