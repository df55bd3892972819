//! `synack bench --cc`: the congestion controls of synack's sender in the WAN rows,
//! refused in one line before anything runs when a name is unknown.

use std::process::{Command, Output};

fn synack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .output()
        .expect("run synack")
}

fn assert_one_line_error(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "exit status: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected:\n{err}"
    );
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
}

#[test]
fn unknown_congestion_controls_are_one_line_errors() {
    assert_one_line_error(
        &synack(&["bench", "--only", "wan", "--cc", "vegas"]),
        "vegas",
    );
    assert_one_line_error(
        &synack(&["bench", "--only", "wan", "--cc", "cubic,bbr2"]),
        "bbr2",
    );
    assert_one_line_error(
        &synack(&["bench", "--only", "wan", "--cc", "cubic,"]),
        "\"\"",
    );
}

#[test]
fn help_names_the_flag() {
    let o = synack(&["bench", "--help"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("--cc <NAME[,NAME]>"), "{out}");
}
