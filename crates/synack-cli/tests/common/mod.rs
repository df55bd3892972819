//! Helpers shared by the CLI's integration tests: run the binary, read its output,
//! a scratch directory per test process, and the one-line error check.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// Run `synack ARGS` to completion.
pub(crate) fn synack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .output()
        .expect("run synack")
}

/// Its stderr, lossily decoded.
pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `name` in a scratch directory of this test process (`tag` tells tests apart).
pub(crate) fn tmp(tag: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synack-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The run failed with status 2 and one line on stderr that mentions `needle`.
pub(crate) fn assert_one_line_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "exit status: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected:\n{err}"
    );
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
}
