//! `synack tun2socks` against a real SOCKS5 server (Dante's `danted`, CONNECT and UDP
//! ASSOCIATE) and the Linux kernel as the client (issue 15 item 5).
//!
//! Three network namespaces: the client (`c`: curl, dig, ping, a thousand kernel
//! connections; its default route is the TUN device), the tunnel (`g`: synack
//! tun2socks, which creates the TUN device there before the test moves it into `c`,
//! so the tunnel's own sockets never route into it) and the far side (`s`: danted,
//! an HTTP server, a DNS server and an echo server on 198.18.79.0/24, joined to `g`
//! by a veth pair). The client resolves names through its own resolv.conf
//! (`/etc/netns/NAME/resolv.conf`, which `ip netns exec` mounts), so DNS crosses the
//! tunnel as UDP through the proxy. IPv6 too: the device carries both families
//! (`--addr` twice), and a v6 download and a v6 DNS query cross the proxy to v6
//! servers on the far side.
//!
//! Then username/password authentication (RFC 1929): a second danted with
//! `socksmethod: username` checks a throwaway system user the test creates
//! (`useradd`, removed at the end): CONNECT and UDP ASSOCIATE with the right
//! password, a one-line error at start with a wrong one, and a connection refused at
//! SYN time once the password changed under a running tunnel.
//!
//! Needs root, /dev/net/tun, danted and dig (scripts/setup.sh installs them), and
//! skips with a printed reason otherwise. Bad flags and an unreachable proxy are
//! checked without root.

mod common;
#[path = "interop/harness.rs"]
#[allow(dead_code, unused_macros)]
mod harness;

use harness::{make_blob, script, sha256_file, Netns, MIB};
use std::path::{Path, PathBuf};
use std::time::Instant;

const WEB: &str = "198.18.79.1";
const REFUSING: &str = "198.18.79.2";
const DNS: &str = "198.18.79.53";
const PROXY: &str = "10.79.1.2:1080";
const PROXY_AUTH: &str = "10.79.1.2:1081";
const WEB6: &str = "fd79:18::1";
const DNS6: &str = "fd79:18::53";
/// The throwaway system user of the authenticated proxy.
const SOCKS_USER: &str = "synack-t2s";

fn extra_skip_reason() -> Option<String> {
    if let Some(why) = harness::skip_reason() {
        return Some(why);
    }
    for (tool, pkg) in [
        ("/usr/sbin/danted", "dante-server"),
        ("/usr/bin/dig", "dnsutils"),
        ("/usr/bin/ping", "iputils-ping"),
        ("/usr/sbin/useradd", "passwd"),
        ("/usr/sbin/chpasswd", "passwd"),
    ] {
        if !Path::new(tool).exists() {
            return Some(format!(
                "{tool} is missing ({pkg}; scripts/setup.sh installs it)"
            ));
        }
    }
    None
}

/// The client's resolv.conf for `ip netns exec`, removed on drop.
struct Resolv(PathBuf);

impl Resolv {
    fn new(ns: &str, server: &str) -> Resolv {
        let dir = Path::new("/etc/netns").join(ns);
        std::fs::create_dir_all(&dir).expect("create /etc/netns/NAME");
        std::fs::write(
            dir.join("resolv.conf"),
            format!("nameserver {server}\noptions timeout:5 attempts:2\n"),
        )
        .expect("write resolv.conf");
        Resolv(dir)
    }
}

impl Drop for Resolv {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A system user for the proxy's username check, removed on drop.
struct TempUser;

impl TempUser {
    fn new(password: &str) -> TempUser {
        // A leftover of an interrupted run.
        let _ = std::process::Command::new("userdel")
            .arg(SOCKS_USER)
            .stderr(std::process::Stdio::null())
            .status();
        let ok = std::process::Command::new("useradd")
            .args([
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SOCKS_USER,
            ])
            .status()
            .expect("run useradd");
        assert!(ok.success(), "useradd {SOCKS_USER}");
        let u = TempUser;
        u.set_password(password);
        u
    }

    fn set_password(&self, password: &str) {
        use std::io::Write;
        let mut c = std::process::Command::new("chpasswd")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("run chpasswd");
        writeln!(c.stdin.take().unwrap(), "{SOCKS_USER}:{password}").unwrap();
        assert!(c.wait().unwrap().success(), "chpasswd");
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        let _ = std::process::Command::new("userdel")
            .arg(SOCKS_USER)
            .status();
    }
}

/// danted's configuration: `port` on the g side, both families out, `method`
/// (`none` or `username`) for SOCKS requests.
fn danted_conf(port: u16, method: &str) -> String {
    format!(
        "logoutput: stderr\n\
         internal: 10.79.1.2 port = {port}\n\
         external: 10.79.1.2\n\
         external: fd79:1::2\n\
         clientmethod: none\n\
         socksmethod: {method}\n\
         user.privileged: root\n\
         user.unprivileged: nobody\n\
         client pass {{ from: 0/0 to: 0/0 }}\n\
         socks pass {{ from: 0/0 to: 0/0 command: connect udpassociate }}\n\
         socks pass {{ from: 0/0 to: 0/0 command: udpreply }}\n"
    )
}

/// Start danted in `s` with `conf`, waiting until it listens on `port`.
fn start_danted(s: &mut Netns, label: &str, conf: &str, port: u16) {
    let file = s.path(&format!("{label}.conf"));
    std::fs::write(&file, conf).unwrap();
    let pid = s.path(&format!("{label}.pid"));
    let (file, pid) = (
        file.to_str().unwrap().to_string(),
        pid.to_str().unwrap().to_string(),
    );
    s.spawn(
        label,
        &["/usr/sbin/danted", "-f", &file, "-p", &pid, "-N", "4"],
        None,
    );
    s.wait_listening(port);
}

fn servers_py() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/tun2socks/servers.py")
        .to_str()
        .expect("utf-8 path")
        .to_string()
}

/// Start `synack tun2socks` in `g` with `upstream` flags, then move its TUN device
/// into `c` and route everything there through it.
fn start_tunnel(g: &mut Netns, c: &Netns, label: &str, upstream: &[&str]) -> usize {
    let mut args = vec![
        "tun2socks",
        "--tun",
        "t2s0",
        "--addr",
        "10.79.0.2/24",
        "--addr",
        "fd79::2/64",
        "--dns",
        "198.18.79.53:53",
    ];
    args.extend_from_slice(upstream);
    let i = g.spawn_synack(label, &args);
    g.wait_for_stderr(i, "forwarding t2s0");
    g.exec_ok(&["ip", "link", "set", "t2s0", "netns", &c.name]);
    c.exec_ok(&["ip", "addr", "add", "10.79.0.1/24", "dev", "t2s0"]);
    c.exec_ok(&[
        "ip",
        "-6",
        "addr",
        "add",
        "fd79::1/64",
        "dev",
        "t2s0",
        "nodad",
    ]);
    c.exec_ok(&["ip", "link", "set", "t2s0", "up"]);
    c.exec_ok(&["ip", "route", "add", "default", "dev", "t2s0"]);
    c.exec_ok(&["ip", "-6", "route", "add", "default", "dev", "t2s0"]);
    i
}

#[test]
fn tun2socks_through_dante() {
    if let Some(why) = extra_skip_reason() {
        eprintln!("skipping tun2socks interop test: {why}");
        return;
    }
    let started = Instant::now();
    let mut s = Netns::new("t2s-s", 0);
    let mut g = Netns::new("t2s-g", 0);
    let c = Netns::new("t2s-c", 0);
    let _resolv = Resolv::new(&c.name, DNS);

    // g <-> s, and the far side's addresses.
    g.exec_ok(&[
        "ip", "link", "add", "vg", "type", "veth", "peer", "name", "vs", "netns", &s.name,
    ]);
    g.exec_ok(&["ip", "addr", "add", "10.79.1.1/24", "dev", "vg"]);
    g.exec_ok(&["ip", "link", "set", "vg", "up"]);
    g.exec_ok(&[
        "ip",
        "-6",
        "addr",
        "add",
        "fd79:1::1/64",
        "dev",
        "vg",
        "nodad",
    ]);
    g.exec_ok(&["ip", "link", "set", "vg", "up"]);
    g.exec_ok(&["ip", "route", "add", "198.18.79.0/24", "via", "10.79.1.2"]);
    g.exec_ok(&[
        "ip",
        "-6",
        "route",
        "add",
        "fd79:18::/64",
        "via",
        "fd79:1::2",
    ]);
    s.exec_ok(&["ip", "addr", "add", "10.79.1.2/24", "dev", "vs"]);
    s.exec_ok(&[
        "ip",
        "-6",
        "addr",
        "add",
        "fd79:1::2/64",
        "dev",
        "vs",
        "nodad",
    ]);
    s.exec_ok(&["ip", "link", "set", "vs", "up"]);
    for a in [WEB, REFUSING, DNS] {
        s.exec_ok(&["ip", "addr", "add", &format!("{a}/32"), "dev", "lo"]);
    }
    for a in [WEB6, DNS6] {
        s.exec_ok(&["ip", "-6", "addr", "add", &format!("{a}/128"), "dev", "lo"]);
    }

    // The far side's servers.
    let www = s.path("www");
    std::fs::create_dir_all(&www).unwrap();
    let blob_sha = make_blob(&www.join("blob"), 64 * MIB, 7);
    let www_s = www.to_str().unwrap().to_string();
    s.spawn(
        "http",
        &[
            "python3",
            "-m",
            "http.server",
            "--bind",
            WEB,
            "80",
            "--directory",
            &www_s,
        ],
        None,
    );
    s.spawn(
        "http6",
        &[
            "python3",
            "-m",
            "http.server",
            "--bind",
            WEB6,
            "80",
            "--directory",
            &www_s,
        ],
        None,
    );
    let py = servers_py();
    let dns = s.spawn("dns", &["python3", &py, "dns", DNS, "53", WEB], None);
    // A v6 DNS server off port 53, so --dns does not redirect its queries.
    let dns6 = s.spawn("dns6", &["python3", &py, "dns", DNS6, "5353", WEB], None);
    let echo = s.spawn("echo", &["python3", &py, "echo", WEB, "7"], None);
    s.wait_for_stderr(dns, "ready");
    s.wait_for_stderr(dns6, "ready");
    s.wait_for_stderr(echo, "ready");
    s.wait_listening(80);
    start_danted(&mut s, "danted", &danted_conf(1080, "none"), 1080);

    let tunnel = start_tunnel(&mut g, &c, "tun2socks", &["--socks5", PROXY]);

    // DNS over UDP through the proxy: asked of the real server, and of an address
    // that has none (redirected by --dns).
    for server in [DNS, "198.18.79.99"] {
        let out = c.exec_ok(&[
            "dig",
            "+short",
            "+time=5",
            "+tries=2",
            &format!("@{server}"),
            "files.t2s.test",
            "A",
        ]);
        assert_eq!(out.trim(), WEB, "dig @{server}");
    }

    // curl by name: the name resolves through the tunnel, the download comes through
    // the proxy, every byte checked.
    let out = c.path("blob");
    let out_s = out.to_str().unwrap().to_string();
    c.exec_ok(&[
        "curl",
        "-sS",
        "--max-time",
        "60",
        "-o",
        &out_s,
        "http://files.t2s.test/blob",
    ]);
    let (sha, len) = sha256_file(&out);
    assert_eq!(
        (sha.as_str(), len),
        (blob_sha.as_str(), (64 * MIB) as u64),
        "the download"
    );
    let _ = std::fs::remove_file(&out);

    // IPv6: a download from a v6 server and a DNS query to a v6 server, both
    // through the proxy (its v6 external address).
    let out6 = c.path("blob6");
    let out6_s = out6.to_str().unwrap().to_string();
    c.exec_ok(&[
        "curl",
        "-sS",
        "--max-time",
        "60",
        "-o",
        &out6_s,
        &format!("http://[{WEB6}]/blob"),
    ]);
    let (sha6, len6) = sha256_file(&out6);
    assert_eq!(
        (sha6.as_str(), len6),
        (blob_sha.as_str(), (64 * MIB) as u64),
        "the v6 download"
    );
    let _ = std::fs::remove_file(&out6);
    let out = c.exec_ok(&[
        "dig",
        "+short",
        "+time=5",
        "+tries=2",
        "-p",
        "5353",
        &format!("@{DNS6}"),
        "files.t2s.test",
        "A",
    ]);
    assert_eq!(out.trim(), WEB, "dig over IPv6");

    // ping: answered by the tunnel for an intercepted destination.
    let p = c.exec_ok(&["ping", "-c", "2", "-i", "0.2", "-W", "2", WEB]);
    assert!(p.contains("2 received"), "{p}");

    // A refused upstream is refused at SYN time: the client sees ECONNREFUSED.
    let r = c.exec(&[
        "curl",
        "-sS",
        "--max-time",
        "20",
        &format!("http://{REFUSING}:81/"),
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(7), "curl: {err}");
    assert!(
        err.contains("Connection refused") || err.contains("Couldn't connect"),
        "{err}"
    );
    let kpy = script("kclient.py");
    let refused = c.exec_ok(&["python3", kpy.to_str().unwrap(), "refused", REFUSING, "81"]);
    assert_eq!(refused.trim(), "refused");

    // 1,000 concurrent connections, each echoing its own message through the proxy.
    let t = Instant::now();
    let many = c.exec_ok(&["python3", kpy.to_str().unwrap(), "many", WEB, "7", "1000"]);
    assert_eq!(many.trim(), "ok 1000");
    eprintln!(
        "tun2socks: 1,000 concurrent connections through danted in {:?}",
        t.elapsed()
    );
    assert!(g.running(tunnel), "tun2socks still runs");
    g.kill_all();

    // --direct: the tunnel's own sockets instead of the proxy.
    let _direct = start_tunnel(&mut g, &c, "tun2socks-direct", &["--direct"]);
    let small = c.exec_ok(&[
        "curl",
        "-sS",
        "--max-time",
        "30",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download}",
        "http://files.t2s.test/blob",
    ]);
    assert_eq!(small.trim(), format!("200 {}", 64 * MIB));
    let refused = c.exec_ok(&["python3", kpy.to_str().unwrap(), "refused", REFUSING, "81"]);
    assert_eq!(refused.trim(), "refused");
    let v6 = c.exec_ok(&[
        "curl",
        "-sS",
        "--max-time",
        "30",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download}",
        &format!("http://[{WEB6}]/blob"),
    ]);
    assert_eq!(v6.trim(), format!("200 {}", 64 * MIB), "--direct over IPv6");
    g.kill_all();

    // Username/password authentication (RFC 1929).
    let user = TempUser::new("right-pass");
    start_danted(&mut s, "danted-auth", &danted_conf(1081, "username"), 1081);
    // A wrong password: a one-line error at start, before the device is opened.
    let bad = g.exec(&[
        harness::synack_bin(),
        "tun2socks",
        "--tun",
        "t2s9",
        "--addr",
        "10.79.9.2/24",
        "--socks5",
        &format!("{SOCKS_USER}:wrong@{PROXY_AUTH}"),
    ]);
    assert_eq!(bad.status.code(), Some(2), "a wrong password");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("refused the username and password"), "{err}");
    let auth = format!("socks5://{SOCKS_USER}:right-pass@{PROXY_AUTH}");
    let _authed = start_tunnel(&mut g, &c, "tun2socks-auth", &["--socks5", &auth]);
    let out = c.exec_ok(&[
        "dig",
        "+short",
        "+time=5",
        "+tries=2",
        &format!("@{DNS}"),
        "files.t2s.test",
        "A",
    ]);
    assert_eq!(out.trim(), WEB, "dig through the authenticated proxy");
    let small = c.exec_ok(&[
        "curl",
        "-sS",
        "--max-time",
        "30",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download}",
        "http://files.t2s.test/blob",
    ]);
    assert_eq!(small.trim(), format!("200 {}", 64 * MIB));
    // The password changes under the running tunnel: the proxy refuses its next
    // CONNECT, and the client sees that at SYN time as "connection refused".
    user.set_password("changed-pass");
    let r = c.exec(&["curl", "-sS", "--max-time", "20", &format!("http://{WEB}/")]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(7), "curl after the change: {err}");
    assert!(
        err.contains("Connection refused") || err.contains("Couldn't connect"),
        "{err}"
    );
    let refused = c.exec_ok(&["python3", kpy.to_str().unwrap(), "refused", WEB, "80"]);
    assert_eq!(refused.trim(), "refused", "ECONNREFUSED at the client");
    drop(user);
    eprintln!("tun2socks interop test took {:?}", started.elapsed());
}

#[test]
fn bad_flags_and_an_unreachable_proxy_are_one_line_errors() {
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "tun2socks",
                "--tun",
                "t0",
                "--addr",
                "10.9.0.2/24",
                "--socks5",
                "user-without-password@127.0.0.1:1080",
            ],
            "is not USER:PASS",
        ),
        (
            &["tun2socks", "--tun", "t0", "--addr", "10.9.0.2/24"],
            "--socks5",
        ),
        (
            &[
                "tun2socks",
                "--tun",
                "t0",
                "--addr",
                "10.9.0.2/24",
                "--socks5",
                "127.0.0.1:1",
                "--direct",
            ],
            "cannot be used with",
        ),
        (
            &[
                "tun2socks",
                "--tun",
                "t0",
                "--addr",
                "10.9.0.2/24",
                "--socks5",
                "no-port",
            ],
            "--socks5 no-port",
        ),
        (
            &[
                "tun2socks",
                "--tun",
                "t0",
                "--addr",
                "10.9.0.2/24",
                "--socks5",
                "127.0.0.1:1",
            ],
            "cannot use the SOCKS5 proxy 127.0.0.1:1",
        ),
    ];
    for (args, needle) in cases {
        let o = common::synack(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        common::assert_one_line_error(&o, needle);
    }
}
