//! `synack link` as a user runs it (root only; skips with a message otherwise): the
//! command creates two TUN devices, the test moves each into its own network
//! namespace and addresses it, and a ping between the namespaces shows the configured
//! round trip (within 1 ms, median of the replies); then the command stops by itself
//! (`--duration`) and prints each direction's counters.

#![cfg(target_os = "linux")]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn run(cmd: &str) -> std::process::Output {
    let mut parts = cmd.split_whitespace();
    let prog = parts.next().expect("a command");
    Command::new(prog).args(parts).output().expect("run")
}

fn ok(cmd: &str) {
    let o = run(cmd);
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Namespaces deleted on drop.
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = run(&format!("ip netns del {n}"));
        }
    }
}

#[test]
fn ping_between_namespaces_shows_the_configured_rtt() {
    if !is_root() || !std::path::Path::new("/dev/net/tun").exists() {
        eprintln!("skipped: needs root and /dev/net/tun");
        return;
    }
    if run("ping -V").status.code().is_none() {
        eprintln!("skipped: needs ping (scripts/setup.sh installs iputils-ping)");
        return;
    }
    let pid = std::process::id() % 100_000;
    let (dev_a, dev_b) = (format!("clka{pid}"), format!("clkb{pid}"));
    let ns = Namespaces(vec![format!("synclk-{pid}-a"), format!("synclk-{pid}-b")]);
    for n in &ns.0 {
        ok(&format!("ip netns add {n}"));
    }
    // 7 ms one way, 5 ms back: an RTT of 12 ms.
    let child = Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(["link", "--a", &dev_a, "--b", &dev_b, "--delay", "7ms"])
        .args(["--rate", "100mbit", "--ba", "delay=5ms", "--duration", "6s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start synack link");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(run(&format!("ip link show {dev_a}")).status.success()
        && run(&format!("ip link show {dev_b}")).status.success())
    {
        assert!(Instant::now() < deadline, "the devices never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    for (n, dev, host) in [(&ns.0[0], &dev_a, 1), (&ns.0[1], &dev_b, 2)] {
        ok(&format!("ip link set {dev} netns {n}"));
        ok(&format!("ip -n {n} addr add 10.94.0.{host}/24 dev {dev}"));
        ok(&format!("ip -n {n} link set {dev} up"));
    }
    let out = run(&format!(
        "ip netns exec {} ping -n -c 20 -i 0.05 10.94.0.2",
        ns.0[0]
    ));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut rtts: Vec<f64> = text
        .lines()
        .filter_map(|l| l.split("time=").nth(1))
        .filter_map(|t| t.split_whitespace().next()?.parse().ok())
        .collect();
    let done = child.wait_with_output().expect("synack link ends");
    let report = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(rtts.len() >= 15, "too few replies:\n{text}");
    rtts.sort_by(f64::total_cmp);
    let median = rtts[rtts.len() / 2];
    eprintln!("synack link, configured RTT 12 ms: ping median {median:.3} ms\n{report}");
    assert!(rtts[0] >= 12.0, "a reply came back early: {rtts:?}");
    assert!((median - 12.0).abs() <= 1.0, "median {median} ms");
    // The counters: both directions carried the pings.
    assert_eq!(report.lines().count(), 2, "{report}");
    assert!(
        report.contains(&format!("{dev_a} → {dev_b}: sent ")),
        "{report}"
    );
    assert!(!report.contains("sent 0 packets"), "{report}");
}
