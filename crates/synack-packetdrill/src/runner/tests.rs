//! Unit tests of the runner: failure messages (file:line, expected vs actual),
//! the timing tolerance rule, unexpected-packet detection, skipped lines, the
//! summary format.

use super::*;

const LISTEN: &str = "\
0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0    bind(3, ..., ...) = 0
+0    listen(3, 1) = 0
+0    < S 0:0(0) win 65535 <mss 1460,sackOK,nop,nop,nop,wscale 7>
";

fn run(text: &str) -> ScriptResult {
    run_script_text("t.pkt", text, &RunOptions::default())
}

fn failure(r: &ScriptResult) -> &Failure {
    match &r.verdict {
        Verdict::Fail(f) => f,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn passing_handshake() {
    let r = run(&format!(
        "{LISTEN}+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n\
         +.1 < . 1:1(0) ack 1 win 512\n+0 accept(3, ..., ...) = 4\n"
    ));
    assert_eq!(r.verdict, Verdict::Pass, "{r}");
    assert_eq!(r.to_string(), "PASS t.pkt");
}

#[test]
fn wrong_packet_names_line_expected_and_actual() {
    // Line 5 expects ack 2; the engine acknowledges 1.
    let r = run(&format!("{LISTEN}+0 > S. 0:0(0) ack 2 <...>\n"));
    let f = failure(&r);
    assert_eq!(f.line, 5);
    assert!(f.message.contains("tcp_ack_seq"), "{}", f.message);
    assert_eq!(f.expected.as_deref(), Some("> S. 0:0(0) ack 2 <...>"));
    let actual = f.actual.as_deref().unwrap();
    assert!(
        actual.starts_with("> S. 0:0(0) ack 1 win 65535 <mss 1460"),
        "{actual}"
    );
    let line = r.to_string();
    assert!(line.starts_with("FAIL t.pkt:5: "), "{line}");
    assert!(line.contains("expected: > S. 0:0(0) ack 2"), "{line}");
}

#[test]
fn wrong_options_fail_but_ellipsis_accepts_any() {
    let r = run(&format!("{LISTEN}+0 > S. 0:0(0) ack 1 <mss 1460>\n"));
    assert!(failure(&r).message.contains("bad outbound TCP options"));
    let r = run(&format!("{LISTEN}+0 > S. 0:0(0) ack 1 <...>\n"));
    assert_eq!(r.verdict, Verdict::Pass, "{r}");
}

#[test]
fn window_checked_only_when_written() {
    let r = run(&format!("{LISTEN}+0 > S. 0:0(0) ack 1 win 1 <...>\n"));
    assert!(failure(&r).message.contains("tcp_window"));
    let r = run(&format!("{LISTEN}+0 > S. 0:0(0) ack 1 win 65535 <...>\n"));
    assert_eq!(r.verdict, Verdict::Pass, "{r}");
}

/// The SYN-ACK retransmission goes out at 1 s (initial RTO).
fn synack_rtx_at(t: &str, opts: &RunOptions) -> ScriptResult {
    let text = format!("{LISTEN}+0 > S. 0:0(0) ack 1 <...>\n{t} > S. 0:0(0) ack 1 <...>\n");
    run_script_text("t.pkt", &text, opts)
}

#[test]
fn timing_tolerance_is_max_of_usecs_and_percent_of_gap() {
    let d = RunOptions::default();
    // Exact.
    assert_eq!(synack_rtx_at("1", &d).verdict, Verdict::Pass);
    // 12.5 % of a 1.1 s gap is 137.5 ms: 1.1 s is accepted for a packet at 1 s.
    assert_eq!(synack_rtx_at("1.1", &d).verdict, Verdict::Pass);
    // 12.5 % of 1.2 s is 150 ms < 200 ms: too far.
    let r = synack_rtx_at("1.2", &d);
    let f = failure(&r);
    assert!(f.message.contains("timing error"), "{}", f.message);
    assert!(f.message.contains("tolerance 0.150000 s"), "{}", f.message);
    // Early: expected at 0.8 s (tolerance 100 ms), sent at 1 s.
    let r = synack_rtx_at("0.8", &d);
    let f = failure(&r);
    assert!(f.message.contains("timing error"), "{}", f.message);
    assert!(f.actual.as_deref().unwrap().contains("at 1.000000 s"));
}

#[test]
fn tolerance_usecs_option_is_honoured() {
    // A 1 s packet expected in a script whose events are 10 s apart: 12.5 % would
    // allow anything; with tolerance_percent=0 only tolerance_usecs counts.
    let text = |t: &str| {
        format!(
            "--tolerance_percent=0\n{LISTEN}+0 > S. 0:0(0) ack 1 <...>\n{t} > S. 0:0(0) ack 1 <...>\n"
        )
    };
    let tight = RunOptions {
        tolerance_usecs: Some(1000),
        ..RunOptions::default()
    };
    let loose = RunOptions {
        tolerance_usecs: Some(20_000),
        ..RunOptions::default()
    };
    let r = run_script_text("t.pkt", &text("1.010"), &tight);
    assert!(matches!(r.verdict, Verdict::Fail(_)), "{r}");
    let r = run_script_text("t.pkt", &text("1.010"), &loose);
    assert_eq!(r.verdict, Verdict::Pass, "{r}");
    // The script's own option is used when the caller gives none.
    let r = run_script_text(
        "t.pkt",
        &format!("--tolerance_usecs=20000\n{}", text("1.010")),
        &RunOptions::default(),
    );
    assert_eq!(r.verdict, Verdict::Pass, "{r}");
}

fn strict(text: &str) -> ScriptResult {
    let opts = RunOptions {
        strict: true,
        ..RunOptions::default()
    };
    run_script_text("t.pkt", text, &opts)
}

#[test]
fn strict_mode_fails_unexpected_packets() {
    // The SYN-ACK is never listed: the next event finds it waiting.
    let r = strict(&format!("{LISTEN}+.1 < . 1:1(0) ack 1 win 512\n"));
    let f = failure(&r);
    assert_eq!(f.line, 5);
    assert!(
        f.message.contains("unexpected outbound packet"),
        "{}",
        f.message
    );
    assert!(f
        .actual
        .as_deref()
        .unwrap()
        .starts_with("> S. 0:0(0) ack 1"));
    // Also at the end of the script.
    let r = strict(LISTEN);
    assert!(failure(&r).message.contains("after the last event"));
}

#[test]
fn default_mode_judges_packets_only_at_outbound_lines() {
    // As upstream packetdrill: nothing after the last `>` line is looked at ...
    assert_eq!(run(LISTEN).verdict, Verdict::Pass);
    assert_eq!(
        run(&format!("{LISTEN}+.1 < . 1:1(0) ack 1 win 512\n")).verdict,
        Verdict::Pass
    );
    // ... but a packet sent before a `>` line is matched against it: the SYN-ACK
    // at 0 s is not the ACK this line expects at 0.1 s.
    let r = run(&format!(
        "{LISTEN}+.1 < . 1:1(0) ack 1 win 512\n+0 > . 1:1(0) ack 1\n"
    ));
    let f = failure(&r);
    assert_eq!(f.line, 6);
    assert!(f.actual.as_deref().unwrap().starts_with("> S. "), "{f:?}");
    // Listed, and on time, it passes in both modes.
    let ok = format!(
        "{LISTEN}+0 > S. 0:0(0) ack 1 <...>\n+.1 < . 1:1(0) ack 1 win 512\n+0 accept(3, ..., ...) = 4\n"
    );
    assert_eq!(run(&ok).verdict, Verdict::Pass);
    assert_eq!(strict(&ok).verdict, Verdict::Pass);
    // Listed but late: the SYN-ACK left at 0 s, the line says 0.1 s.
    let late = format!("{LISTEN}+.1 > S. 0:0(0) ack 1 <...>\n");
    assert!(failure(&run(&late)).message.contains("timing error"));
}

#[test]
fn data_leaves_as_one_tso_super_segment() {
    // Linux's TUN device in packetdrill has TSO: a 5840-byte write is one packet.
    let r = run(&format!(
        "{LISTEN}+0 > S. 0:0(0) ack 1 <...>\n+0 < . 1:1(0) ack 1 win 512\n\
         +0 accept(3, ..., ...) = 4\n+0 write(4, ..., 5840) = 5840\n\
         +0 > P. 1:5841(5840) ack 1\n"
    ));
    assert_eq!(r.verdict, Verdict::Pass, "{r}");
}

#[test]
fn missing_packet_reports_what_came_instead() {
    // Nothing is sent at 0.5 s; the next packet is the retransmission at 1 s.
    let r = run(&format!(
        "{LISTEN}+0 > S. 0:0(0) ack 1 <...>\n0.5 > S. 0:0(0) ack 1 <...>\n"
    ));
    let f = failure(&r);
    assert!(f.message.contains("timing error"), "{}", f.message);
    assert!(
        f.actual.as_deref().unwrap().contains("at 1.000000 s"),
        "{f:?}"
    );
    // A connection reset by the script sends nothing more at all.
    let r = run(&format!(
        "{LISTEN}+0 > S. 0:0(0) ack 1 <...>\n+0 < R 1:1(0) win 0\n+0 > . 1:1(0) ack 1\n"
    ));
    let f = failure(&r);
    assert!(f.message.contains("was not sent"), "{}", f.message);
    assert_eq!(f.actual.as_deref(), Some("no packet at all"));
}

#[test]
fn syscall_mismatch_shows_call_and_result() {
    let r = run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 read(3, ..., 10) = 0\n");
    let f = failure(&r);
    assert_eq!(f.line, 2);
    assert_eq!(f.expected.as_deref(), Some("read(3, ..., 10) = 0"));
    assert_eq!(f.actual.as_deref(), Some("returned -1 ENOTCONN"));
}

#[test]
fn errno_must_match() {
    let r = run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 read(3, ..., 10) = -1 EAGAIN\n");
    assert!(matches!(r.verdict, Verdict::Fail(_)));
    let r = run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 read(3, ..., 10) = -1 ENOTCONN\n");
    assert_eq!(r.verdict, Verdict::Pass, "{r}");
}

#[test]
fn blocking_call_end_time_is_checked() {
    let base = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n";
    let tail =
        "+0 > S 0:0(0) <...>\n+.1 < S. 0:0(0) ack 1 win 65535 <mss 1460>\n+0 > . 1:1(0) ack 1\n";
    let ok = format!("{base}+0...0.1 connect(3, ..., ...) = 0\n{tail}");
    assert_eq!(run(&ok).verdict, Verdict::Pass, "{}", run(&ok));
    let late = format!("{base}+0...0.3 connect(3, ..., ...) = 0\n{tail}");
    assert!(failure(&run(&late)).message.contains("timing error"));
    // Without `...` a call that blocks is an error.
    let blocked = format!("{base}+0 connect(3, ..., ...) = 0\n{tail}");
    assert!(failure(&run(&blocked)).message.contains("blocked"));
}

#[test]
fn shell_commands_and_code_are_reported_as_skipped() {
    let r = run(
        "`tc qdisc add dev tun0 root fq`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ print(1) }%\n",
    );
    assert_eq!(r.verdict, Verdict::Pass);
    assert_eq!(
        r.skipped_lines,
        vec![
            "line 1: shell command: ignored `tc qdisc add dev tun0 root fq`".to_string(),
            "line 3: skipped python code block".to_string()
        ]
    );
    assert!(r
        .to_string()
        .contains("(line 1: shell command: ignored `tc qdisc add dev tun0 root fq`; line 3"));
    let r = run("`true`\n0 %{ x = 1 }%\n");
    assert!(
        matches!(&r.verdict, Verdict::Skip(s) if s.contains("line 1: shell command: ignored `true`"))
    );
    assert!(r.to_string().starts_with("SKIP t.pkt: "));
}

#[test]
fn sysctl_lines_configure_the_engine() {
    // Without timestamps the SYN has Linux's other layout; with the default it does
    // not, so the same lines fail.
    let body = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 connect(3, ..., ...) = -1 EINPROGRESS\n+0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 8>\n";
    let with = format!("`set_sysctls.py /proc/sys/net/ipv4/tcp_timestamps=0`\n{body}");
    assert_eq!(run(&with).verdict, Verdict::Pass, "{}", run(&with));
    assert!(matches!(run(body).verdict, Verdict::Fail(_)));
    // At run time: Fast Open switched off makes MSG_FASTOPEN fail as on Linux.
    let off = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 `sysctl -q net.ipv4.tcp_fastopen=0`\n+0 sendto(3, ..., 10, MSG_FASTOPEN, ..., ...) = -1 EOPNOTSUPP\n";
    assert_eq!(run(off).verdict, Verdict::Pass, "{}", run(off));
    let on = off.replace("tcp_fastopen=0", "tcp_fastopen=1");
    assert!(matches!(run(&on).verdict, Verdict::Fail(_)));
}

#[test]
fn unsupported_things_skip() {
    let r = run("0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n");
    assert!(matches!(r.verdict, Verdict::Skip(_)), "{r}");
    let r = run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 sendfile(3, 4, ..., 10) = 0\n");
    assert!(
        matches!(&r.verdict, Verdict::Skip(s) if s.contains("sendfile")),
        "{r}"
    );
}

#[test]
fn parse_errors_fail_with_their_line() {
    let r = run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0\n");
    let f = failure(&r);
    assert!(f.line >= 2, "{f:?}");
    assert!(f.message.starts_with("parse error"));
}

#[test]
fn summary_closing_line_and_run_files() {
    let dir = std::env::temp_dir().join(format!("synack-pd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pass = dir.join("a.pkt");
    let fail_ = dir.join("b.pkt");
    let skip = dir.join("c.pkt");
    std::fs::write(&pass, "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n").unwrap();
    std::fs::write(
        &fail_,
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n+0 close(3) = 0\n",
    )
    .unwrap();
    std::fs::write(&skip, "`true`\n").unwrap();
    let mut out = Vec::new();
    let s = run_files(&[&pass, &fail_, &skip], &RunOptions::default(), &mut out);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("PASS "));
    assert!(
        lines[1].starts_with("FAIL ") && lines[1].contains("b.pkt:2:"),
        "{}",
        lines[1]
    );
    assert!(lines[2].starts_with("SKIP "));
    assert_eq!(lines[3], "1 passed, 1 failed, 1 skipped");
    assert_eq!((s.passed, s.failed, s.skipped), (1, 1, 1));
    assert!(!s.success());
    // Listed as a divergence of synack, the failing script is expected; a listed
    // script that passes fails (the list must stay true).
    std::fs::write(
        dir.join("divergences"),
        "# comment\nb.pkt synack RFC 0 says so\na.pkt synack stale\nc.pkt linux other side\n",
    )
    .unwrap();
    let mut out = Vec::new();
    let s = run_files(&[&pass, &fail_, &skip], &RunOptions::default(), &mut out);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("listed in divergences but passes"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("DIVERGES ") && lines[1].contains("(expected: RFC 0 says so)"),
        "{text}"
    );
    assert!(lines[2].starts_with("SKIP "), "{text}");
    assert_eq!(
        lines[3],
        "0 passed, 1 failed, 1 skipped, 1 expected divergences"
    );
    assert_eq!((s.passed, s.failed, s.skipped, s.diverged), (0, 1, 1, 1));
    // A list that cannot be read fails every script beside it.
    std::fs::write(dir.join("divergences"), "a.pkt\n").unwrap();
    let s = run_files(&[&pass], &RunOptions::default(), &mut Vec::new());
    assert_eq!(s.failed, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn null_buffers_fail_with_efault_and_shut_rd_reads_end_of_file() {
    let base = format!(
        "{LISTEN}+0 > S. 0:0(0) ack 1 <...>\n+0 < . 1:1(0) ack 1 win 512\n+0 accept(3, ..., ...) = 4\n"
    );
    let r = run(&format!(
        "{base}+0 write(4, NULL, 10) = -1 EFAULT (Bad address)\n+0 read(4, NULL, 10) = -1 EFAULT (Bad address)\n"
    ));
    assert_eq!(r.verdict, Verdict::Pass, "{r}");
    // Without SHUT_RD the same read would block (and fail the script).
    let r = run(&format!(
        "{base}+0 shutdown(4, SHUT_RD) = 0\n+0 read(4, ..., 10) = 0\n"
    ));
    assert_eq!(r.verdict, Verdict::Pass, "{r}");
    let r = run(&format!("{base}+0 read(4, ..., 10) = 0\n"));
    assert!(matches!(r.verdict, Verdict::Fail(_)), "{r}");
}
