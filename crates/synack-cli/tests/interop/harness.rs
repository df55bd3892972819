//! The interop test harness: a network namespace per test (removed on drop, even when
//! the test fails), child processes run inside it (killed on drop), bounded waits that
//! fail with a clear message, test data and hashing, and an artifact directory (pcap,
//! trace logs) kept and announced when the test fails.

use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for any one step (a transfer, a process exit) before the test fails.
pub(crate) const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// Longer bound for the transfers under loss.
pub(crate) const LOSSY_TIMEOUT: Duration = Duration::from_secs(240);

/// The `synack` binary under test.
pub(crate) fn synack_bin() -> &'static str {
    env!("CARGO_BIN_EXE_synack")
}

/// The folder holding the Python helpers.
pub(crate) fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("interop")
        .join(name)
}

/// Why the interop tests cannot run here, if they cannot.
pub(crate) fn skip_reason() -> Option<String> {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("");
    if euid != "0" {
        return Some("not root (network namespaces and TUN devices need root)".into());
    }
    if !Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun is missing".into());
    }
    for tool in ["ip", "nft", "curl", "python3", "ss"] {
        if which(tool).is_none() {
            return Some(format!(
                "`{tool}` is not installed (scripts/setup.sh installs it)"
            ));
        }
    }
    None
}

/// Skip the calling test (return early) with a printed reason when the environment
/// cannot run it.
#[macro_export]
macro_rules! require_env {
    () => {
        if let Some(why) = $crate::harness::skip_reason() {
            eprintln!("skipping interop test: {why}");
            return;
        }
    };
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// One test's network namespace, its children and its artifact directory.
///
/// Dropping it kills every child, deletes the namespace (and with it the TUN device
/// and nft rules) and removes the artifact directory, unless the test is failing:
/// then the directory (pcap, traces, logs) is kept and its path printed.
pub(crate) struct Netns {
    /// Namespace name.
    pub(crate) name: String,
    /// The test's number: picks its subnets.
    pub(crate) index: u8,
    /// Artifact directory.
    pub(crate) dir: PathBuf,
    children: Vec<(String, Child)>,
    /// Keep the artifacts even on success (SYNACK_INTEROP_KEEP=1).
    keep: bool,
}

impl Netns {
    /// A fresh namespace for test `test` (short name) with subnet number `index`.
    pub(crate) fn new(test: &str, index: u8) -> Netns {
        let pid = std::process::id();
        let name = format!("synack-{test}-{pid}");
        let dir = std::env::temp_dir().join(format!("synack-interop-{test}-{pid}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the artifact directory");
        // A leftover from an earlier run with the same pid would make `add` fail.
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        let ns = Netns {
            name,
            index,
            dir,
            children: Vec::new(),
            keep: std::env::var_os("SYNACK_INTEROP_KEEP").is_some(),
        };
        run_ok(Command::new("ip").args(["netns", "add", &ns.name]));
        ns.exec_ok(&["ip", "link", "set", "lo", "up"]);
        // No duplicate address detection: an IPv6 address is usable at once.
        for key in ["all", "default"] {
            ns.exec_ok(&[
                "sysctl",
                "-q",
                "-w",
                &format!("net.ipv6.conf.{key}.accept_dad=0"),
            ]);
        }
        ns
    }

    /// synack's IPv4 address with prefix (`10.77.N.2/24`).
    pub(crate) fn v4_cidr(&self) -> String {
        format!("10.77.{}.2/24", self.index)
    }

    /// synack's IPv4 address.
    pub(crate) fn v4(&self) -> String {
        format!("10.77.{}.2", self.index)
    }

    /// The kernel's IPv4 address on the TUN.
    pub(crate) fn kernel_v4(&self) -> String {
        format!("10.77.{}.1", self.index)
    }

    /// synack's IPv6 address with prefix.
    pub(crate) fn v6_cidr(&self) -> String {
        format!("fd53:7e57:{}::2/64", self.index)
    }

    /// synack's IPv6 address.
    pub(crate) fn v6(&self) -> String {
        format!("fd53:7e57:{}::2", self.index)
    }

    /// The kernel's IPv6 address on the TUN.
    pub(crate) fn kernel_v6(&self) -> String {
        format!("fd53:7e57:{}::1", self.index)
    }

    /// A path in the artifact directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A command that runs `argv` inside the namespace.
    pub(crate) fn command(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(argv);
        c
    }

    /// Run `argv` in the namespace to completion (bounded), returning its output.
    pub(crate) fn exec(&self, argv: &[&str]) -> Output {
        let mut c = self.command(argv);
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
        wait_output(child, STEP_TIMEOUT, &format!("{argv:?}"))
    }

    /// Like [`exec`](Netns::exec), failing the test unless it succeeds.
    pub(crate) fn exec_ok(&self, argv: &[&str]) -> String {
        let out = self.exec(argv);
        assert!(
            out.status.success(),
            "{argv:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Start `argv` in the namespace in the background, its stdout and stderr going to
    /// `<label>.out` and `<label>.err` in the artifact directory (stdin: `stdin`, or
    /// empty). Returns the child's index for [`wait`](Netns::wait).
    pub(crate) fn spawn(&mut self, label: &str, argv: &[&str], stdin: Option<&Path>) -> usize {
        let out = fs::File::create(self.path(&format!("{label}.out"))).expect("create log");
        let err = fs::File::create(self.path(&format!("{label}.err"))).expect("create log");
        let mut c = self.command(argv);
        c.stdout(out).stderr(err);
        match stdin {
            Some(p) => c.stdin(fs::File::open(p).expect("open stdin file")),
            None => c.stdin(Stdio::null()),
        };
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {label} {argv:?}: {e}"));
        self.children.push((label.to_string(), child));
        self.children.len() - 1
    }

    /// Start `synack ARGS...` in the namespace (see [`spawn`](Netns::spawn)).
    pub(crate) fn spawn_synack(&mut self, label: &str, args: &[&str]) -> usize {
        let mut argv = vec![synack_bin()];
        argv.extend_from_slice(args);
        self.spawn(label, &argv, None)
    }

    /// The text a child wrote to stdout so far.
    pub(crate) fn stdout_of(&self, label: &str) -> String {
        fs::read_to_string(self.path(&format!("{label}.out"))).unwrap_or_default()
    }

    /// The text a child wrote to stderr so far.
    pub(crate) fn stderr_of(&self, label: &str) -> String {
        fs::read_to_string(self.path(&format!("{label}.err"))).unwrap_or_default()
    }

    /// Wait (bounded by `timeout`) until child `i` exits; on timeout kill it and fail
    /// the test saying what it was doing.
    pub(crate) fn wait(&mut self, i: usize, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            let (label, child) = &mut self.children[i];
            match child.try_wait() {
                Ok(Some(st)) => return st,
                Ok(None) => {}
                Err(e) => panic!("waiting for {label}: {e}"),
            }
            if start.elapsed() > timeout {
                let label = label.clone();
                let _ = child.kill();
                let _ = child.wait();
                let tail = tail(&self.stderr_of(&label), 20);
                panic!(
                    "{label} did not finish within {timeout:?} (killed); last stderr lines:\n{tail}\nartifacts in {}",
                    self.dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for child `i` and fail unless it exits successfully.
    pub(crate) fn wait_ok(&mut self, i: usize, timeout: Duration) {
        let st = self.wait(i, timeout);
        if !st.success() {
            let label = self.children[i].0.clone();
            panic!(
                "{label} failed ({st}); last stderr lines:\n{}\nartifacts in {}",
                tail(&self.stderr_of(&label), 20),
                self.dir.display()
            );
        }
    }

    /// Kill every child still running and reap them all.
    pub(crate) fn kill_all(&mut self) {
        for (_, child) in &mut self.children {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// True while child `i` runs.
    pub(crate) fn running(&mut self, i: usize) -> bool {
        matches!(self.children[i].1.try_wait(), Ok(None))
    }

    /// Wait until `cond` holds (checked every 20 ms), or fail with `what` after `timeout`.
    pub(crate) fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut cond: impl FnMut(&mut Netns) -> bool,
    ) {
        let start = Instant::now();
        while !cond(self) {
            if start.elapsed() > timeout {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; artifacts in {}",
                    self.dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait until child `i` (label `label`) printed `needle` on stderr; fail if it
    /// exits first.
    pub(crate) fn wait_for_stderr(&mut self, i: usize, needle: &str) {
        let label = self.children[i].0.clone();
        self.wait_until(
            &format!("{label} to print {needle:?}"),
            STEP_TIMEOUT,
            |ns| {
                if ns.stderr_of(&label).contains(needle) {
                    return true;
                }
                if !ns.running(i) {
                    panic!(
                        "{label} exited before printing {needle:?}:\n{}\nartifacts in {}",
                        tail(&ns.stderr_of(&label), 20),
                        ns.dir.display()
                    );
                }
                false
            },
        );
    }

    /// Wait until a kernel TCP socket listens on `port` in the namespace.
    pub(crate) fn wait_listening(&mut self, port: u16) {
        let pat = format!(":{port} ");
        self.wait_until(
            &format!("a kernel listener on port {port}"),
            STEP_TIMEOUT,
            |ns| {
                ns.exec(&["ss", "-Htln"])
                    .stdout
                    .split(|b| *b == b'\n')
                    .any(|l| String::from_utf8_lossy(l).contains(&pat))
            },
        );
    }

    /// The kernel's TCP sockets (`ss -Htan`), one line each.
    pub(crate) fn sockets(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.exec(&["ss", "-Htan"]).stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Drop `percent` % of the packets entering and leaving the kernel through
    /// interface `dev`, at random (nftables `numgen random`).
    pub(crate) fn kernel_loss(&self, dev: &str, percent: u32) {
        let rules = format!(
            "table inet synack_loss {{\n\
             \tchain in {{ type filter hook input priority 0; policy accept;\n\
             \t\tiifname \"{dev}\" numgen random mod 100 < {percent} drop\n\t}}\n\
             \tchain out {{ type filter hook output priority 0; policy accept;\n\
             \t\toifname \"{dev}\" numgen random mod 100 < {percent} drop\n\t}}\n\
             }}\n"
        );
        let file = self.path("loss.nft");
        fs::write(&file, rules).expect("write nft rules");
        self.exec_ok(&["nft", "-f", file.to_str().expect("utf-8 path")]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.kill_all();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
        if std::thread::panicking() || self.keep {
            eprintln!(
                "interop: artifacts (pcap, --trace logs, outputs) kept in {}",
                self.dir.display()
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Run a host command, failing the test unless it succeeds.
fn run_ok(c: &mut Command) {
    let out = c.output().expect("run a setup command");
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Collect a child's output, killing it and failing after `timeout`.
fn wait_output(mut child: Child, timeout: Duration, what: &str) -> Output {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().expect("collect output"),
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} did not finish within {timeout:?}");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

/// The last `n` lines of `s`.
pub(crate) fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Write `len` pseudo-random bytes (xorshift from `seed`) to `path`; return their
/// SHA-256 in hex.
pub(crate) fn make_blob(path: &Path, len: usize, seed: u64) -> String {
    let mut f = std::io::BufWriter::new(fs::File::create(path).expect("create blob"));
    let mut h = Sha256::new();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut chunk = vec![0u8; 1 << 16];
    let mut left = len;
    while left > 0 {
        for w in chunk.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.copy_from_slice(&x.to_le_bytes()[..w.len()]);
        }
        let n = left.min(chunk.len());
        f.write_all(&chunk[..n]).expect("write blob");
        h.update(&chunk[..n]);
        left -= n;
    }
    f.flush().expect("flush blob");
    hex(&h.finalize())
}

/// SHA-256 (hex) and length of a file.
pub(crate) fn sha256_file(path: &Path) -> (String, u64) {
    let mut f =
        fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut h = Sha256::new();
    let n = std::io::copy(&mut f, &mut h).expect("hash file");
    (hex(&h.finalize()), n)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// 1 MiB.
pub(crate) const MIB: usize = 1 << 20;
