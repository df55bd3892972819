//! Interop tests: the `synack` binary against the Linux kernel's TCP.
//!
//! Each test makes its own network namespace; synack runs inside it and creates its
//! TUN device there, so the namespace's kernel TCP (driven by curl and small Python
//! helpers in `tests/interop/`) is synack's peer. The namespace, its TUN device and
//! every child process go away when the test ends, pass or fail. A failing test keeps
//! its artifact directory (synack's pcap, its `--trace` ladder on stderr, every
//! child's output) and prints where it is.
//!
//! The tests skip (saying why) when not run as root or when a tool is missing
//! (`scripts/setup.sh` installs them). Each uses its own namespace and subnets
//! (`10.77.N.0/24`, `fd53:7e57:N::/64`), so they run in parallel.

#[path = "interop/harness.rs"]
mod harness;

use harness::{make_blob, script, sha256_file, Netns, LOSSY_TIMEOUT, MIB, STEP_TIMEOUT};

/// Start `synack serve` in `ns` with a pcap and the live trace, and wait until it
/// listens. `extra` holds the mode (`--echo`, `--http DIR`, ...) and more flags.
fn start_server(ns: &mut Netns, label: &str, v6: bool, port: u16, extra: &[&str]) -> usize {
    let pcap = ns.path(&format!("{label}.pcap"));
    let (v4c, v6c) = (ns.v4_cidr(), ns.v6_cidr());
    let port = port.to_string();
    let mut args = vec!["serve", "--tun", "t0", "--addr", &v4c];
    if v6 {
        args.extend(["--addr", &v6c]);
    }
    let pcap = pcap.to_str().expect("utf-8 path").to_string();
    args.extend(["--port", &port, "--pcap", &pcap, "--trace"]);
    args.extend_from_slice(extra);
    let i = ns.spawn_synack(label, &args);
    ns.wait_for_stderr(i, "listening on");
    i
}

/// Run a kernel client (`kclient.py ARGS`) in `ns` to completion; return its stdout.
fn kclient(ns: &mut Netns, label: &str, args: &[&str], timeout: std::time::Duration) -> String {
    let py = script("kclient.py");
    let mut argv = vec!["python3", py.to_str().expect("utf-8 path")];
    argv.extend_from_slice(args);
    let i = ns.spawn(label, &argv, None);
    ns.wait_ok(i, timeout);
    ns.stdout_of(label)
}

/// Start a kernel server (`kserver.py ARGS`) in `ns` and wait until it listens.
fn kserver(ns: &mut Netns, label: &str, port: u16, args: &[&str]) -> usize {
    let py = script("kserver.py");
    let mut argv = vec!["python3", py.to_str().expect("utf-8 path")];
    argv.extend_from_slice(args);
    let i = ns.spawn(label, &argv, None);
    ns.wait_listening(port);
    i
}

/// Start `python3 -m http.server` over `dir` on `port` and wait until it listens.
fn kernel_http_server(ns: &mut Netns, dir: &std::path::Path, port: u16) -> usize {
    let port_s = port.to_string();
    let dir = dir.to_str().expect("utf-8 path").to_string();
    let argv = [
        "python3",
        "-m",
        "http.server",
        &port_s,
        "--bind",
        "0.0.0.0",
        "--directory",
        &dir,
    ];
    let i = ns.spawn("http-server", &argv, None);
    ns.wait_listening(port);
    i
}

/// `synack connect` arguments with a pcap and the live trace.
fn connect_args(ns: &Netns, label: &str, target: &str, extra: &[&str]) -> Vec<String> {
    let pcap = ns.path(&format!("{label}.pcap"));
    let mut v: Vec<String> = [
        "connect",
        "--tun",
        "t0",
        "--addr",
        &ns.v4_cidr(),
        "--addr",
        &ns.v6_cidr(),
        "--pcap",
        pcap.to_str().expect("utf-8 path"),
        "--trace",
        target,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn spawn_connect(ns: &mut Netns, label: &str, target: &str, extra: &[&str]) -> usize {
    let args = connect_args(ns, label, target, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ns.spawn_synack(label, &args)
}

/// Parse "<sha256> <len>".
fn sha_and_len(s: &str) -> (String, u64) {
    let mut it = s.split_whitespace();
    let sha = it.next().unwrap_or_default().to_string();
    let len = it.next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX);
    (sha, len)
}

// ---------------------------------------------------------------------------------
// Kernel clients -> synack server.

/// curl (kernel TCP) downloads a 64 MiB file from `synack serve --http`.
fn curl_download(ns: &mut Netns, synack_drop: Option<&str>, timeout: std::time::Duration) {
    let www = ns.path("www");
    std::fs::create_dir_all(&www).expect("mkdir www");
    let want = make_blob(&www.join("blob.bin"), 64 * MIB, 1);
    let www_s = www.to_str().expect("utf-8 path").to_string();
    let mut extra = vec!["--http", &www_s, "--count", "1"];
    if let Some(p) = synack_drop {
        extra.extend(["--drop", p, "--drop-seed", "11"]);
    }
    let server = start_server(ns, "synack-serve", false, 8080, &extra);
    let out = ns.path("downloaded.bin");
    let url = format!("http://{}:8080/blob.bin", ns.v4());
    let secs = timeout.as_secs().to_string();
    let out_s = out.to_str().expect("utf-8 path").to_string();
    let argv = [
        "curl",
        "-sS",
        "--fail",
        "--max-time",
        &secs,
        "-o",
        &out_s,
        &url,
    ];
    let c = ns.spawn("curl", &argv, None);
    ns.wait_ok(c, timeout + std::time::Duration::from_secs(10));
    let (got, len) = sha256_file(&out);
    assert_eq!(len, 64 * MIB as u64, "downloaded length");
    assert_eq!(got, want, "SHA-256 of the downloaded file");
    ns.wait_ok(server, STEP_TIMEOUT);
}

#[test]
fn kernel_curl_downloads_64_mib_from_synack_http() {
    require_env!();
    let mut ns = Netns::new("curl", 1);
    curl_download(&mut ns, None, STEP_TIMEOUT);
}

/// A Python client echoes 16 MiB through `synack serve --echo` over `host`.
fn echo_16_mib(ns: &mut Netns, v6: bool) {
    let blob = ns.path("echo.bin");
    let want = make_blob(&blob, 16 * MIB, 2);
    let server = start_server(ns, "synack-serve", v6, 7007, &["--echo", "--count", "1"]);
    let host = if v6 { ns.v6() } else { ns.v4() };
    let blob_s = blob.to_str().expect("utf-8 path").to_string();
    let out = kclient(
        ns,
        "client",
        &["echo", &host, "7007", &blob_s],
        STEP_TIMEOUT,
    );
    let (got, len) = sha_and_len(&out);
    assert_eq!(
        len,
        16 * MIB as u64,
        "bytes echoed back (client said {out:?})"
    );
    assert_eq!(got, want, "SHA-256 of the echoed bytes");
    ns.wait_ok(server, STEP_TIMEOUT);
    assert!(
        ns.stderr_of("synack-serve")
            .contains(&format!("echoed {} bytes", 16 * MIB)),
        "synack reports the bytes it echoed"
    );
}

#[test]
fn kernel_client_echoes_16_mib_through_synack() {
    require_env!();
    let mut ns = Netns::new("echo4", 2);
    echo_16_mib(&mut ns, false);
}

#[test]
fn kernel_client_echoes_16_mib_through_synack_over_ipv6() {
    require_env!();
    let mut ns = Netns::new("echo6", 3);
    echo_16_mib(&mut ns, true);
}

#[test]
fn hundred_concurrent_kernel_connections_each_echo() {
    require_env!();
    let mut ns = Netns::new("many", 4);
    let server = start_server(
        &mut ns,
        "synack-serve",
        false,
        7007,
        &["--echo", "--count", "100"],
    );
    let host = ns.v4();
    let out = kclient(
        &mut ns,
        "client",
        &["many", &host, "7007", "100"],
        STEP_TIMEOUT,
    );
    assert_eq!(out.trim(), "ok 100");
    ns.wait_ok(server, STEP_TIMEOUT);
    let served = ns
        .stderr_of("synack-serve")
        .lines()
        .filter(|l| l.contains("echoed"))
        .count();
    assert_eq!(served, 100, "connections synack served to the end");
}

// ---------------------------------------------------------------------------------
// synack client -> kernel server.

/// `synack connect --http-get` downloads 64 MiB from Python's http.server.
fn synack_http_get(ns: &mut Netns, synack_drop: Option<&str>, timeout: std::time::Duration) {
    let www = ns.path("www");
    std::fs::create_dir_all(&www).expect("mkdir www");
    let want = make_blob(&www.join("blob.bin"), 64 * MIB, 3);
    kernel_http_server(ns, &www, 8000);
    let target = format!("{}:8000", ns.kernel_v4());
    let mut extra = vec!["--http-get", "/blob.bin"];
    if let Some(p) = synack_drop {
        extra.extend(["--drop", p, "--drop-seed", "12"]);
    }
    let c = spawn_connect(ns, "synack-connect", &target, &extra);
    ns.wait_ok(c, timeout);
    let (got, len) = sha256_file(&ns.path("synack-connect.out"));
    assert_eq!(len, 64 * MIB as u64, "downloaded length");
    assert_eq!(got, want, "SHA-256 of the downloaded file");
}

#[test]
fn synack_client_downloads_64_mib_from_kernel_http_server() {
    require_env!();
    let mut ns = Netns::new("get", 5);
    synack_http_get(&mut ns, None, STEP_TIMEOUT);
}

#[test]
fn synack_client_uploads_64_mib_to_kernel_server() {
    require_env!();
    let mut ns = Netns::new("put", 6);
    let blob = ns.path("upload.bin");
    let want = make_blob(&blob, 64 * MIB, 4);
    let result = ns.path("sink.result");
    let result_s = result.to_str().expect("utf-8 path").to_string();
    let sink = kserver(&mut ns, "sink", 9000, &["sink", "9000", &result_s]);
    let target = format!("{}:9000", ns.kernel_v4());
    let blob_s = blob.to_str().expect("utf-8 path").to_string();
    let c = spawn_connect(
        &mut ns,
        "synack-connect",
        &target,
        &["--send-file", &blob_s],
    );
    ns.wait_ok(c, STEP_TIMEOUT);
    ns.wait_ok(sink, STEP_TIMEOUT);
    let text = std::fs::read_to_string(&result).expect("the sink wrote its result");
    let (got, len) = sha_and_len(&text);
    assert_eq!(len, 64 * MIB as u64, "bytes the kernel received");
    assert_eq!(got, want, "SHA-256 of what the kernel received");
}

// ---------------------------------------------------------------------------------
// Refused connections, both ways.

fn refused_both_ways(ns: &mut Netns, v6: bool) {
    // synack listens on 7007 only: a kernel SYN to 7009 gets synack's RST.
    let server = start_server(ns, "synack-serve", true, 7007, &["--echo"]);
    let host = if v6 { ns.v6() } else { ns.v4() };
    let out = kclient(ns, "client", &["refused", &host, "7009"], STEP_TIMEOUT);
    assert_eq!(out.trim(), "refused");
    // The server still works after refusing.
    assert!(ns.running(server), "synack serve is still running");
    drop_child_by_restart(ns);
    // Nobody listens on the kernel's port 7011: synack's SYN gets the kernel's RST.
    let target = if v6 {
        format!("[{}]:7011", ns.kernel_v6())
    } else {
        format!("{}:7011", ns.kernel_v4())
    };
    let c = spawn_connect(ns, "synack-connect", &target, &[]);
    let st = ns.wait(c, STEP_TIMEOUT);
    let err = ns.stderr_of("synack-connect");
    assert!(!st.success(), "synack connect must fail; stderr:\n{err}");
    assert!(
        err.to_lowercase().contains("refused"),
        "synack connect's error mentions \"refused\":\n{err}"
    );
}

/// Stop every synack child so that the next one can create the TUN device anew.
fn drop_child_by_restart(ns: &mut Netns) {
    ns.kill_all();
    ns.wait_until("the TUN device to go away", STEP_TIMEOUT, |ns| {
        !ns.exec(&["ip", "link", "show", "t0"]).status.success()
    });
}

#[test]
fn refused_ports_both_ways_ipv4() {
    require_env!();
    let mut ns = Netns::new("refused4", 7);
    refused_both_ways(&mut ns, false);
}

#[test]
fn refused_ports_both_ways_ipv6() {
    require_env!();
    let mut ns = Netns::new("refused6", 8);
    refused_both_ways(&mut ns, true);
}

// ---------------------------------------------------------------------------------
// Close semantics, as the kernel sees them.

/// Lines of `ss -tan` for connections between the kernel and synack's `peer`.
fn conns_with(ns: &Netns, peer: &str) -> Vec<String> {
    ns.sockets()
        .into_iter()
        .filter(|l| !l.starts_with("LISTEN") && l.contains(peer))
        .collect()
}

#[test]
fn synack_closes_first_and_the_kernel_passes_close_wait() {
    require_env!();
    let mut ns = Netns::new("closefirst", 9);
    let dir = ns.dir.to_str().expect("utf-8 path").to_string();
    let hold = kserver(&mut ns, "hold", 9100, &["hold", "9100", &dir]);
    // Empty stdin: synack sends its FIN right after the handshake.
    let target = format!("{}:9100", ns.kernel_v4());
    let c = spawn_connect(&mut ns, "synack-connect", &target, &[]);
    let eof = ns.path("eof");
    ns.wait_until(
        "the kernel server to read synack's FIN",
        STEP_TIMEOUT,
        |_| eof.exists(),
    );
    let synack_peer = format!("{}:", ns.v4());
    let lines = conns_with(&ns, &synack_peer);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("CLOSE-WAIT") && l.contains(":9100")),
        "the kernel side is in CLOSE-WAIT after synack's FIN: {lines:?}"
    );
    std::fs::write(ns.path("go"), b"").expect("touch go");
    ns.wait_ok(hold, STEP_TIMEOUT);
    ns.wait_ok(c, STEP_TIMEOUT);
    // The kernel's FIN was acknowledged: its side is gone (LAST-ACK -> CLOSED).
    ns.wait_until("the kernel connection to close", STEP_TIMEOUT, |ns| {
        conns_with(ns, &synack_peer).is_empty()
    });
    let trace = ns.stderr_of("synack-connect");
    for step in [
        "ESTABLISHED -> FIN-WAIT-1",
        "FIN-WAIT-1 -> FIN-WAIT-2",
        "FIN-WAIT-2 -> TIME-WAIT",
    ] {
        assert!(trace.contains(step), "synack's trace shows {step}");
    }
}

#[test]
fn kernel_closes_first_and_is_left_in_time_wait() {
    require_env!();
    let mut ns = Netns::new("kclose", 10);
    let server = start_server(
        &mut ns,
        "synack-serve",
        false,
        7007,
        &["--echo", "--count", "1"],
    );
    let host = ns.v4();
    let out = kclient(
        &mut ns,
        "client",
        &["close-first", &host, "7007"],
        STEP_TIMEOUT,
    );
    assert!(out.contains("closed"), "client output: {out}");
    let local = out
        .lines()
        .find_map(|l| l.strip_prefix("local "))
        .expect("the client printed its address")
        .trim()
        .to_string();
    ns.wait_ok(server, STEP_TIMEOUT);
    // synack answered the kernel's FIN with its own: the kernel holds TIME-WAIT.
    let synack_end = format!("{}:7007", ns.v4());
    ns.wait_until("the kernel side to reach TIME-WAIT", STEP_TIMEOUT, |ns| {
        ns.sockets()
            .iter()
            .any(|l| l.starts_with("TIME-WAIT") && l.contains(&local) && l.contains(&synack_end))
    });
    let trace = ns.stderr_of("synack-serve");
    let mut at = 0;
    for step in [
        "ESTABLISHED -> CLOSE-WAIT",
        "CLOSE-WAIT -> LAST-ACK",
        "LAST-ACK -> CLOSED",
    ] {
        match trace[at..].find(step) {
            Some(i) => at += i + step.len(),
            None => panic!(
                "synack's trace shows {step} (in order); artifacts in {}",
                ns.dir.display()
            ),
        }
    }
}

// ---------------------------------------------------------------------------------
// Loss on both sides: 5 % dropped by nftables in the kernel's namespace, 5 % by
// synack's `--drop`, each way, at the default 200 ms RTO floor. synack's sending
// direction relies on SACK-based recovery (RFC 6675) and tail loss probes (RFC 8985
// §7): with NewReno alone, each lost tail segment or retransmission waited for the
// RTO and 64 MiB took about ten minutes at this loss rate.

#[test]
fn curl_download_survives_loss_on_both_sides() {
    require_env!();
    let mut ns = Netns::new("lossdown", 11);
    ns.kernel_loss("t0", 5);
    curl_download(&mut ns, Some("0.05"), LOSSY_TIMEOUT);
}

#[test]
fn synack_download_survives_loss_on_both_sides() {
    require_env!();
    let mut ns = Netns::new("lossget", 12);
    ns.kernel_loss("t0", 5);
    synack_http_get(&mut ns, Some("0.05"), LOSSY_TIMEOUT);
}

// ---------------------------------------------------------------------------------
// Intercept.

#[test]
fn intercept_reports_each_original_destination() {
    require_env!();
    let mut ns = Netns::new("intercept", 13);
    let pcap = ns.path("synack-intercept.pcap");
    let pcap_s = pcap.to_str().expect("utf-8 path").to_string();
    let v4c = ns.v4_cidr();
    let i = ns.spawn_synack(
        "synack-intercept",
        &[
            "intercept",
            "--tun",
            "t0",
            "--addr",
            &v4c,
            "--count",
            "3",
            "--pcap",
            &pcap_s,
            "--trace",
        ],
    );
    ns.wait_for_stderr(i, "intercepting");
    ns.exec_ok(&["ip", "route", "add", "198.18.0.0/24", "dev", "t0"]);
    let targets = ["198.18.0.5:443", "198.18.0.77:80", "198.18.0.200:8443"];
    let mut args = vec!["intercept"];
    args.extend(targets);
    let out = kclient(&mut ns, "client", &args, STEP_TIMEOUT);
    assert_eq!(out.trim(), "ok 3");
    ns.wait_ok(i, STEP_TIMEOUT);
    let report = ns.stdout_of("synack-intercept");
    let kernel = format!("{}:", ns.kernel_v4());
    for t in targets {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(&kernel) && l.ends_with(&format!(" -> {t}"))),
            "synack reports the original destination {t}:\n{report}"
        );
    }
    assert_eq!(
        report.lines().count(),
        3,
        "one line per connection:\n{report}"
    );
}
