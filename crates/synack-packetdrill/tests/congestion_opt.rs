//! `TCP_CONGESTION` maps onto the engine's per-connection congestion control: Linux's
//! names are accepted, an unknown one is ENOENT as on Linux.

use synack_packetdrill::{run_script_text, RunOptions, Verdict};

#[test]
fn tcp_congestion_takes_linux_names() {
    let script = r#"
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_TCP, TCP_CONGESTION, "reno", 4) = 0
+0  setsockopt(3, SOL_TCP, TCP_CONGESTION, "bbr", 3) = 0
+0  setsockopt(3, SOL_TCP, TCP_CONGESTION, "cubic", 5) = 0
+0  setsockopt(3, SOL_TCP, TCP_CONGESTION, "vegas", 5) = -1 ENOENT (No such file or directory)
"#;
    let r = run_script_text("congestion.pkt", script, &RunOptions::default());
    assert_eq!(r.verdict, Verdict::Pass, "{r}");
    // The check can fail: a name the engine does not know must not be accepted.
    let wrong = script.replace("= -1 ENOENT (No such file or directory)", "= 0");
    let r = run_script_text("congestion-wrong.pkt", &wrong, &RunOptions::default());
    assert_ne!(r.verdict, Verdict::Pass, "{r}");
}
