//! `synack bench --cc`: the congestion controls of synack's sender in the WAN rows,
//! refused in one line before anything runs when a name is unknown.

mod common;

use common::{assert_one_line_error, synack};

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
