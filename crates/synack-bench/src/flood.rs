//! The flood rows (issue 16 item 2): `hping3` floods a listener with SYNs from
//! spoofed random sources at the highest rate it reaches, while a kernel client keeps
//! connecting to the same listener and fetching a short echo; once against a
//! `synack serve --echo` process over a TUN device, once against a kernel listener
//! over a veth pair, each in fresh network namespaces.
//!
//! Measured for each: the SYNs that reached the listener's device and the packets it
//! sent back (SYN-ACKs), per second of flood, from the device counters
//! (`/proc/net/dev` of the namespace); memory over the idle figure (synack: the peak
//! RSS of the `serve` process, sampled every 100 ms, less its RSS before the flood;
//! the kernel: the peak of its request-socket and TCP-socket slabs, less the figure
//! before); and the client's attempts started during the flood: the share that
//! connected and got their echo back within [`ATTEMPT`], and their median connect
//! time. The SYN-ACKs to the spoofed sources leave the listener's namespace towards a
//! kernel that does not forward, and are dropped there.

use crate::report::{Baseline, Figure, Row};
use crate::tun::{io_err, ip, named, unavailable, Netns};
use crate::{median, PEER};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The listener's port (the echo service's).
const PORT: u16 = 7;
/// synack's address on the TUN device (the kernel's end is `.1`).
const SYNACK_ADDR: Ipv4Addr = Ipv4Addr::new(10, 82, 0, 2);
/// The kernel listener's address on its veth (the flooding side is `.1`).
const KERNEL_ADDR: Ipv4Addr = Ipv4Addr::new(10, 83, 0, 2);
/// The TUN device `synack serve` creates in its namespace.
const TUN_DEV: &str = "synf0";
/// Longest one legitimate attempt (connect, send, echo back) may take to count as a
/// success: Linux's SYN retransmissions at 1 s and 3 s fit, a third loss does not.
const ATTEMPT: Duration = Duration::from_secs(5);
/// Bytes the client sends and expects back per attempt.
const REQUEST: &[u8] = b"GET / HTTP/1.0\r\nHost: flood\r\n\r\n";
/// Pause between two attempts of the client.
const PAUSE: Duration = Duration::from_millis(20);
/// Listen backlog of both listeners (synack's default, 128).
const BACKLOG: i32 = 128;

/// What the flood rows need.
pub(crate) struct FloodPlan {
    /// Seconds of flood per listener.
    pub(crate) secs: f64,
    /// The `synack` binary to run `serve` from.
    pub(crate) serve_exe: Option<PathBuf>,
}

/// Names of the rows.
const ROWS: [(&str, &str, bool); 4] = [
    ("SYN flood: SYN-ACKs sent", "k/s", true),
    ("SYN flood: memory over idle", "MiB", false),
    ("SYN flood: legitimate connections", "%", true),
    ("SYN flood: median connect time", "ms", false),
];

/// What one flood measured.
#[derive(Debug, Default)]
struct FloodRun {
    secs: f64,
    /// Packets that reached the listener's device, and that it sent, during the flood.
    syns_in: u64,
    replies_out: u64,
    /// Packets the device dropped towards the listener, and from it.
    dropped_in: u64,
    dropped_out: u64,
    mem_idle: u64,
    mem_peak: u64,
    attempts: usize,
    ok: usize,
    connect_ms: Vec<f64>,
    /// Whole attempts (connect and echo) that succeeded, in ms.
    attempt_ms: Vec<f64>,
}

impl FloodRun {
    fn figures(&self) -> [f64; 4] {
        [
            self.replies_out as f64 / self.secs / 1e3,
            self.mem_peak.saturating_sub(self.mem_idle) as f64 / (1 << 20) as f64,
            100.0 * self.ok as f64 / self.attempts.max(1) as f64,
            median(self.connect_ms.clone()),
        ]
    }
}

/// Why the flood rows cannot run, if they cannot.
fn flood_unavailable(plan: &FloodPlan) -> Option<String> {
    if let Some(why) = unavailable() {
        return Some(why);
    }
    if Command::new("hping3").arg("--version").output().is_err() {
        return Some("needs hping3 (scripts/setup.sh installs it)".into());
    }
    if plan.serve_exe.is_none() {
        return Some("needs the synack binary (run it as `synack bench --only flood`)".into());
    }
    None
}

/// The flood rows, with their notes.
pub(crate) fn rows(plan: FloodPlan, progress: bool) -> (Vec<Row>, Vec<String>) {
    if let Some(why) = flood_unavailable(&plan) {
        let rows = ROWS
            .iter()
            .map(|&(name, unit, hib)| Row::not_run(name, unit, hib, &why))
            .collect();
        return (rows, Vec::new());
    }
    crate::tun::sweep_stale();
    let s = flood_synack(&plan);
    if progress {
        eprintln!("  flood, synack: {}", describe(&s));
    }
    let k = flood_kernel(&plan);
    if progress {
        eprintln!("  flood, kernel: {}", describe(&k));
    }
    let peer_why = format!("{PEER} not measured (the kernel's figure is in the note)");
    let fig = |r: &Result<FloodRun, String>, i: usize| match r {
        Ok(run) => Figure::Value(run.figures()[i]),
        Err(e) => Figure::NotRun(format!("failed: {e}")),
    };
    let rows = ROWS
        .iter()
        .enumerate()
        .map(|(i, &(name, unit, hib))| {
            let ours = fig(&s, i);
            let base = Baseline::new(
                "Linux kernel listener (tcp_syncookies=1)",
                fig(&k, i),
                &ours,
            );
            let note = match (&s, &k) {
                (Ok(s), Ok(k)) => row_note(i, s, k),
                _ => String::new(),
            };
            Row::new(
                name,
                unit,
                hib,
                ours,
                Figure::NotRun(peer_why.clone()),
                note,
            )
            .with_baseline(base)
        })
        .collect();
    let notes = vec![format!(
        "SYN flood rows (one run each, not repeated): hping3 -S --flood --rand-source for {:.0} s against a listener (backlog {BACKLOG}, SYN cookies when full) while a kernel client in the flooding namespace connects, sends {} bytes and reads them back, one attempt after another ({} ms apart); an attempt succeeds when it completes within {} s; synack is `synack serve --echo` on a TUN device (its own process: memory is its RSS), the kernel is an echo listener over a veth pair (memory: its request_sock_TCP and TCP slabs); the flood's rate is what hping3 reaches on this machine, shared with the listener",
        plan.secs,
        REQUEST.len(),
        PAUSE.as_millis(),
        ATTEMPT.as_secs()
    )];
    (rows, notes)
}

fn describe(r: &Result<FloodRun, String>) -> String {
    match r {
        Ok(run) => {
            let f = run.figures();
            format!(
                "{:.0}k SYNs/s in ({:.1}k/s dropped on the way), {:.1}k replies/s, memory +{:.1} MiB (idle {:.1} MiB), {}/{} attempts ok, median connect {:.2} ms",
                run.syns_in as f64 / run.secs / 1e3,
                run.dropped_in as f64 / run.secs / 1e3,
                f[0],
                f[1],
                run.mem_idle as f64 / (1 << 20) as f64,
                run.ok,
                run.attempts,
                f[3]
            )
        }
        Err(e) => format!("failed: {e}"),
    }
}

fn row_note(i: usize, s: &FloodRun, k: &FloodRun) -> String {
    let kf = k.figures();
    let slow = |r: &FloodRun| r.attempt_ms.iter().filter(|&&ms| ms >= 1000.0).count();
    match i {
        0 => format!(
            "kernel listener {:.1} k/s; SYNs reaching the listener's device: synack {:.1} k/s (and {:.1} k/s dropped by the TUN queue), kernel {:.1} k/s (and {:.1} k/s dropped)",
            kf[0],
            s.syns_in as f64 / s.secs / 1e3,
            s.dropped_in as f64 / s.secs / 1e3,
            k.syns_in as f64 / k.secs / 1e3,
            k.dropped_in as f64 / k.secs / 1e3
        ),
        1 => format!(
            "kernel listener +{:.2} MiB (slabs); peak during the flood less the figure before it; synack's idle RSS {:.1} MiB",
            kf[1],
            s.mem_idle as f64 / (1 << 20) as f64
        ),
        2 => format!(
            "kernel listener {:.1} %; attempts started during the flood: synack {}/{} ({} took 1 s or more), kernel {}/{} ({} took 1 s or more)",
            kf[2],
            s.ok,
            s.attempts,
            slow(s),
            k.ok,
            k.attempts,
            slow(k)
        ),
        _ => format!(
            "kernel listener {:.2} ms; of the attempts that succeeded; median whole attempt (connect and echo) synack {:.2} ms, kernel {:.2} ms",
            kf[3],
            median(s.attempt_ms.clone()),
            median(k.attempt_ms.clone())
        ),
    }
}

/// A child process killed (by its own pid) and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `hping3` flooding `target` from namespace `ns`.
fn start_flood(ns: &str, target: Ipv4Addr) -> Result<Reaped, String> {
    let child = Command::new("ip")
        .args(["netns", "exec", ns, "hping3", "-S", "-p"])
        .arg(PORT.to_string())
        .args(["--flood", "--rand-source", "-q"])
        .arg(target.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(io_err("start hping3"))?;
    Ok(Reaped(child))
}

/// (received, sent, dropped on receive, dropped on transmit) packets of `dev` as its
/// namespace's kernel counts them.
fn dev_counters(ns: &Netns, dev: &'static str) -> Result<[u64; 4], String> {
    ns.run(move || {
        let text = std::fs::read_to_string("/proc/thread-self/net/dev")
            .map_err(io_err("/proc/net/dev"))?;
        for line in text.lines() {
            let Some((name, rest)) = line.split_once(':') else {
                continue;
            };
            if name.trim() == dev {
                let v: Vec<u64> = rest
                    .split_whitespace()
                    .map(|x| x.parse().unwrap_or(0))
                    .collect();
                // Columns: receive bytes, packets, errs, drop, ...; transmit (the
                // ninth) bytes, packets, errs, drop, ...
                let at = |i: usize| v.get(i).copied().unwrap_or(0);
                return Ok([at(1), at(9), at(3), at(11)]);
            }
        }
        Err(format!("no device {dev}"))
    })
}

/// Resident set size of process `pid`, in bytes.
fn rss(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Bytes in the kernel's request-socket and TCP-socket slabs (machine-wide).
fn kernel_slab() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/slabinfo").ok()?;
    let mut total = 0;
    for l in s.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() > 3 && (f[0] == "request_sock_TCP" || f[0] == "TCP") {
            let (active, size): (u64, u64) = (f[1].parse().ok()?, f[3].parse().ok()?);
            total += active * size;
        }
    }
    Some(total)
}

/// The legitimate client's tally.
#[derive(Default)]
struct Tally {
    attempts: usize,
    ok: usize,
    connect_ms: Vec<f64>,
    attempt_ms: Vec<f64>,
}

/// One attempt: connect, send the request, read it back. Returns the connect time and
/// the whole attempt's.
fn attempt(to: SocketAddr) -> Result<(Duration, Duration), String> {
    let start = Instant::now();
    let mut s = std::net::TcpStream::connect_timeout(&to, ATTEMPT).map_err(io_err("connect"))?;
    let connected = start.elapsed();
    let left = ATTEMPT
        .saturating_sub(connected)
        .max(Duration::from_millis(1));
    s.set_read_timeout(Some(left)).map_err(io_err("client"))?;
    s.set_write_timeout(Some(left)).map_err(io_err("client"))?;
    s.write_all(REQUEST).map_err(io_err("send"))?;
    let mut back = vec![0u8; REQUEST.len()];
    s.read_exact(&mut back).map_err(io_err("echo"))?;
    if back != REQUEST {
        return Err("wrong echo".into());
    }
    let all = start.elapsed();
    if all > ATTEMPT {
        return Err("too slow".into());
    }
    Ok((connected, all))
}

/// Run the client in `ns` until `stop`, counting the attempts started while
/// `counting` is set.
fn client(
    ns: &Netns,
    to: SocketAddr,
    stop: Arc<AtomicBool>,
    counting: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<Result<Tally, String>>, String> {
    let path = format!("/run/netns/{}", ns.name());
    named("flood-client", move || {
        let file = std::fs::File::open(&path).map_err(io_err("open netns"))?;
        // SAFETY: a valid namespace fd; setns changes only the calling thread.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!("setns: {}", std::io::Error::last_os_error()));
        }
        let mut t = Tally::default();
        while !stop.load(Ordering::Relaxed) {
            let counted = counting.load(Ordering::Relaxed);
            let r = attempt(to);
            if counted {
                t.attempts += 1;
                if let Ok((c, all)) = r {
                    t.ok += 1;
                    t.connect_ms.push(c.as_secs_f64() * 1e3);
                    t.attempt_ms.push(all.as_secs_f64() * 1e3);
                }
            }
            std::thread::sleep(PAUSE);
        }
        Ok(t)
    })
}

/// Wait until one attempt against `to` from `ns` succeeds (the listener is up).
fn wait_ready(ns: &Netns, to: SocketAddr) -> Result<(), String> {
    ns.run(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match attempt(to) {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() > deadline => return Err(format!("listener not up: {e}")),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    })
}

/// The common part: idle phase, flood, tally. `mem` reads the memory figure,
/// `counters` the listener's device counters.
fn measure(
    plan: &FloodPlan,
    flood_ns: &Netns,
    counters_ns: &Netns,
    dev: &'static str,
    target: Ipv4Addr,
    mem: impl Fn() -> Option<u64>,
) -> Result<FloodRun, String> {
    let to = SocketAddr::V4(SocketAddrV4::new(target, PORT));
    wait_ready(flood_ns, to)?;
    let stop = Arc::new(AtomicBool::new(false));
    let counting = Arc::new(AtomicBool::new(false));
    let c = client(flood_ns, to, stop.clone(), counting.clone())?;
    // Idle, with the client at work: the figure the flood is compared with.
    std::thread::sleep(Duration::from_secs(1));
    let mem_idle = mem().ok_or("cannot read the memory figure")?;
    let before = dev_counters(counters_ns, dev)?;
    let flood = start_flood(flood_ns.name(), target)?;
    counting.store(true, Ordering::Relaxed);
    let start = Instant::now();
    let mut mem_peak = mem_idle;
    while start.elapsed().as_secs_f64() < plan.secs {
        std::thread::sleep(Duration::from_millis(100));
        mem_peak = mem_peak.max(mem().unwrap_or(0));
    }
    counting.store(false, Ordering::Relaxed);
    let after = dev_counters(counters_ns, dev)?;
    let secs = start.elapsed().as_secs_f64();
    drop(flood);
    stop.store(true, Ordering::Relaxed);
    let t = c.join().map_err(|_| "the client panicked".to_string())??;
    let d = |i: usize| after[i].saturating_sub(before[i]);
    Ok(FloodRun {
        secs,
        syns_in: d(0),
        replies_out: d(1),
        dropped_in: d(2),
        dropped_out: d(3),
        mem_idle,
        mem_peak,
        attempts: t.attempts,
        ok: t.ok,
        connect_ms: t.connect_ms,
        attempt_ms: t.attempt_ms,
    })
}

/// The flood against `synack serve --echo` on a TUN device.
fn flood_synack(plan: &FloodPlan) -> Result<FloodRun, String> {
    let exe = plan.serve_exe.as_ref().ok_or("no synack binary")?;
    let ns = Netns::new("flood-s")?;
    let child = Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .arg(exe)
        .args(["serve", "--tun", TUN_DEV, "--addr"])
        .arg(format!("{SYNACK_ADDR}/24"))
        .args(["--port", &PORT.to_string(), "--echo"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(io_err("start synack serve"))?;
    // `ip netns exec` execs the program: the pid is synack's.
    let pid = child.id();
    let serve = Reaped(child);
    let run = measure(plan, &ns, &ns, TUN_DEV, SYNACK_ADDR, || rss(pid));
    drop(serve);
    // The device's counters are the kernel's: what it sent is what synack read.
    run.map(|mut r| {
        core::mem::swap(&mut r.syns_in, &mut r.replies_out);
        core::mem::swap(&mut r.dropped_in, &mut r.dropped_out);
        r
    })
}

/// The same flood against a kernel echo listener over a veth pair.
fn flood_kernel(plan: &FloodPlan) -> Result<FloodRun, String> {
    let a = Netns::new("flood-ka")?;
    let b = Netns::new("flood-kb")?;
    let (a_ns, b_ns) = (a.name(), b.name());
    for cmd in [
        format!("link add vf-a netns {a_ns} type veth peer name vf-b netns {b_ns}"),
        format!("-n {a_ns} addr add 10.83.0.1/24 dev vf-a"),
        format!("-n {b_ns} addr add {KERNEL_ADDR}/24 dev vf-b"),
        format!("-n {a_ns} link set vf-a up"),
        format!("-n {b_ns} link set vf-b up"),
        // The SYN-ACKs to spoofed sources go back over the veth and die there.
        format!("-n {b_ns} route add default via 10.83.0.1"),
    ] {
        ip(&cmd.split_whitespace().collect::<Vec<_>>())?;
    }
    let l = b.run(|| {
        let l = std::net::TcpListener::bind(SocketAddrV4::new(KERNEL_ADDR, PORT))
            .map_err(io_err("bind"))?;
        // The same backlog as synack's listener (listen again to set it).
        // SAFETY: a valid listening socket.
        if unsafe { libc::listen(l.as_raw_fd(), BACKLOG) } != 0 {
            return Err(format!("listen: {}", std::io::Error::last_os_error()));
        }
        l.set_nonblocking(true).map_err(io_err("listener"))?;
        Ok(l)
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let stop = stop.clone();
        named("flood-kernel-echo", move || kernel_echo(l, &stop))?
    };
    let run = measure(plan, &a, &b, "vf-b", KERNEL_ADDR, kernel_slab);
    stop.store(true, Ordering::Relaxed);
    let _ = server.join();
    run
}

/// Echo every connection `l` accepts until `stop` (one thread per connection).
fn kernel_echo(l: std::net::TcpListener, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match l.accept() {
            Ok((mut s, _)) => {
                let _ = std::thread::Builder::new().spawn(move || {
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_read_timeout(Some(ATTEMPT));
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}
