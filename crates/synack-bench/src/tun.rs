//! The TUN rows: bulk TCP between the Linux kernel and a userspace stack over a TUN
//! device, each way, next to kernel ↔ kernel over a veth pair, all in one run.
//!
//! This file owns the setup (network namespaces, the veth pair: each one deleted by a
//! guard's `Drop`, with names unique per process and per call so parallel runs do not
//! collide), the kernel's ends (plain `std::net` sockets), synack's ends (the
//! `synack` runtime on a [`TunDevice`] with vnet_hdr offloads) and the rows. smoltcp's
//! ends are in `tun_smol.rs`.
//!
//! Nothing touches the machine's own network: every device lives in a fresh
//! namespace, which is deleted afterwards (the TUN device and the veth pair go with
//! it). Every stream carries the bench's pattern and every received byte is compared
//! with it; the rate is measured at the receiver, from accepting the connection to
//! reading the end of the stream.

use crate::pattern::Pattern;
use crate::report::{Baseline, Figure, Row};
use crate::{median, tun_smol, Measured, PEER};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use synack::{IpCidr, NetStack, StackStats, TcpListener, TcpStream, TunConfig, TunDevice};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Size of each application read (and the most written per call).
pub(crate) const CHUNK: usize = 256 << 10;

/// Longest a transfer may stall (no byte moved) before it counts as failed.
pub(crate) const STALL: Duration = Duration::from_secs(20);

/// synack's (or smoltcp's) address on the TUN device; the kernel's end is `.1`.
pub(crate) const OWN: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 2);
/// The kernel's address on the TUN device.
pub(crate) const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 1);
/// Prefix length of the TUN link.
pub(crate) const PREFIX: u8 = 24;
/// Name of the TUN device inside its namespace (the namespace makes it unique).
pub(crate) const TUN_NAME: &str = "synb0";
/// Port the receiving end listens on.
const PORT: u16 = 6001;

/// Why the TUN rows cannot run here, if they cannot: they need root (namespaces, a
/// TUN device, a veth pair), `/dev/net/tun` and the `ip` command.
pub(crate) fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root: creates network namespaces, TUN devices and a veth pair".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("needs /dev/net/tun (load the tun module)".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("needs the ip command (iproute2)".into()),
    }
}

/// Prefix of the namespaces this module creates: `synbench-PID-N-TAG`.
const NS_PREFIX: &str = "synbench-";

/// Delete namespaces left behind by benchmark processes that no longer exist (killed
/// before their guards ran).
pub(crate) fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(NS_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", &name]);
        }
    }
}

/// The congestion control the TUN rows set in their namespaces (`None`: the system
/// default), fixed by [`rows`] for the whole run.
static KERNEL_CC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// The congestion control to set in new namespaces, if any.
fn kernel_cc() -> Option<String> {
    KERNEL_CC.lock().map(|g| g.clone()).unwrap_or(None)
}

/// Choose the congestion control new namespaces get (`None`: the system default).
pub(crate) fn set_kernel_cc(cc: Option<String>) {
    if let Ok(mut g) = KERNEL_CC.lock() {
        *g = cc;
    }
}

/// The congestion control the kernel's end of the TUN rows uses, for the notes:
/// the one chosen, else the system default (read from /proc).
pub(crate) fn kernel_cc_in_use() -> String {
    match kernel_cc() {
        Some(cc) => format!("{cc} (chosen with --kernel-cc)"),
        None => std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control")
            .map(|s| format!("{} (the system default)", s.trim()))
            .unwrap_or_else(|_| "unknown".into()),
    }
}

/// A network namespace of its own, deleted (with every device in it) when dropped.
pub(crate) struct Netns {
    name: String,
}

impl Netns {
    /// A fresh namespace with `lo` up, named after `tag`, this process and a counter,
    /// with the congestion control chosen for the run (if any).
    pub(crate) fn new(tag: &str) -> Result<Netns, String> {
        Netns::with_cc(tag, kernel_cc().as_deref())
    }

    /// A fresh namespace whose kernel TCP uses the congestion control `cc` (`None`:
    /// the namespace's default).
    pub(crate) fn with_cc(tag: &str, cc: Option<&str>) -> Result<Netns, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{NS_PREFIX}{}-{n}-{tag}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        if let Some(cc) = cc {
            // A namespace starts with the initial namespace's default; this one's
            // own setting is per namespace (net.ipv4.tcp_congestion_control).
            let setting = format!("net.ipv4.tcp_congestion_control={cc}");
            let out = Command::new("ip")
                .args(["netns", "exec", &ns.name, "sysctl", "-qw", &setting])
                .output()
                .map_err(|e| format!("sysctl: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "cannot set the kernel's congestion control to {cc}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
        Ok(ns)
    }

    /// The namespace's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Run `f` on a new thread inside the namespace (threads it starts are inside
    /// too); a panic in `f` becomes an error.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
            // SAFETY: a valid namespace fd; setns changes only the calling thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(format!("setns: {}", std::io::Error::last_os_error()));
            }
            f()
        })
        .join()
        .map_err(|_| "a benchmark thread panicked".to_string())?
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Run `ip ARGS`.
pub(crate) fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

pub(crate) fn io_err(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// A kernel sender: connect to `to`, write `total` pattern bytes, half-close, then
/// wait for the receiver to close (so the sender outlives the transfer).
pub(crate) fn kernel_send(to: SocketAddr, total: u64, pattern: &Pattern) -> Result<(), String> {
    let mut s = connect_retry(to)?;
    s.set_write_timeout(Some(STALL)).map_err(io_err("kernel"))?;
    s.set_read_timeout(Some(STALL)).map_err(io_err("kernel"))?;
    let mut sent = 0u64;
    while sent < total {
        let w = pattern.window(sent, (total - sent).min(CHUNK as u64) as usize);
        s.write_all(w).map_err(io_err("kernel send"))?;
        sent += w.len() as u64;
    }
    s.shutdown(std::net::Shutdown::Write)
        .map_err(io_err("kernel shutdown"))?;
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)
        .map_err(io_err("kernel wait for close"))?;
    Ok(())
}

/// Connect, retrying briefly while the listener is not there yet.
pub(crate) fn connect_retry(to: SocketAddr) -> Result<std::net::TcpStream, String> {
    let mut tries = 0;
    loop {
        match std::net::TcpStream::connect_timeout(&to, Duration::from_secs(5)) {
            Ok(s) => return Ok(s),
            Err(e) if tries < 50 && e.kind() == std::io::ErrorKind::ConnectionRefused => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("kernel connect to {to}: {e}")),
        }
    }
}

/// Accept one connection on the kernel listener `l`, waiting at most [`STALL`], so a
/// peer that never connects does not leave the thread blocked forever; the stream
/// is blocking.
pub(crate) fn accept_within(l: &std::net::TcpListener) -> Result<std::net::TcpStream, String> {
    l.set_nonblocking(true).map_err(io_err("kernel listener"))?;
    let deadline = Instant::now() + STALL;
    let s = loop {
        match l.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(format!("kernel accept: {e}")),
        }
    };
    s.set_nonblocking(false).map_err(io_err("kernel"))?;
    Ok(s)
}

/// A kernel read or write that timed out or would block (the loop checks its stop
/// conditions and goes on).
pub(crate) fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// A kernel receiver: accept one connection and read it to the end, checking every
/// byte; timed from the accept.
pub(crate) fn kernel_receive(
    l: std::net::TcpListener,
    pattern: &Pattern,
) -> Result<Measured, String> {
    let mut s = accept_within(&l)?;
    s.set_read_timeout(Some(STALL)).map_err(io_err("kernel"))?;
    let start = Instant::now();
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    loop {
        let k = s.read(&mut buf).map_err(io_err("kernel receive"))?;
        if k == 0 {
            break;
        }
        if !pattern.matches(got, &buf[..k]) {
            return Err(format!("kernel received corrupted data near byte {got}"));
        }
        got += k as u64;
    }
    Ok(Measured {
        elapsed: start.elapsed(),
        bytes: got,
    })
}

/// Kernel → kernel over a veth pair between two fresh namespaces.
pub(crate) fn kernel_veth(total: u64) -> Result<Measured, String> {
    let a = Netns::new("va")?;
    let b = Netns::new("vb")?;
    let (a_ns, b_ns) = (a.name(), b.name());
    for cmd in [
        format!("link add veth-a netns {a_ns} type veth peer name veth-b netns {b_ns}"),
        format!("-n {a_ns} addr add 10.80.0.1/24 dev veth-a"),
        format!("-n {b_ns} addr add 10.80.0.2/24 dev veth-b"),
        format!("-n {a_ns} link set veth-a up"),
        format!("-n {b_ns} link set veth-b up"),
    ] {
        ip(&cmd.split_whitespace().collect::<Vec<_>>())?;
    }
    let l = b.run(|| std::net::TcpListener::bind("10.80.0.2:6003").map_err(io_err("bind")))?;
    let receiver = std::thread::spawn(move || kernel_receive(l, &Pattern::new(SEED)));
    let to: SocketAddr = "10.80.0.2:6003".parse().map_err(|_| "address")?;
    let sent = a.run(move || kernel_send(to, total, &Pattern::new(SEED)));
    let got = receiver
        .join()
        .map_err(|_| "kernel receiver panicked".to_string())?;
    sent?;
    check_count("veth", got?, total)
}

/// Pattern seed of the TUN streams.
pub(crate) const SEED: u64 = 0x7e11_5eed;

/// The whole stream must have arrived.
pub(crate) fn check_count(who: &str, m: Measured, total: u64) -> Result<Measured, String> {
    if m.bytes == total {
        Ok(m)
    } else {
        Err(format!("{who}: received {} of {total} bytes", m.bytes))
    }
}

/// Start `f` on a thread called `name` (so profiles tell the kernel's end apart).
pub(crate) fn named<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<std::thread::JoinHandle<T>, String> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(io_err("spawn a thread"))
}

/// The runtime synack's TUN paths run on: one thread for the driver and the
/// application. On a small machine this is the faster choice: the application reads
/// the bytes the driver just wrote on the same core, and no wake-up crosses threads
/// (the kernel's sender or receiver already keeps one core busy). Measured here, 4
/// A/B pairs of 2 GiB: kernel → synack 13.6–16.0 Gbit/s against 10.9–12.4 with a
/// two-worker runtime, synack → kernel 30.6–36.5 against 27.4–29.4.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io_err("tokio runtime"))
}

/// synack on a TUN device with vnet_hdr offloads, created in the calling thread's
/// namespace.
fn open_stack() -> Result<NetStack, String> {
    let own = IpCidr::new(OWN.into(), PREFIX).map_err(io_err("address"))?;
    let mut cfg = TunConfig::new(TUN_NAME, &[own]);
    cfg.offload = true;
    let dev = TunDevice::open(&cfg).map_err(io_err("TUN device"))?;
    // The runtime's defaults: the engine autotunes the buffers (receive up to
    // Config::recv_buffer_max, send up to Config::send_buffer_max).
    NetStack::builder()
        .address(own.addr)
        .build(dev)
        .map_err(io_err("synack stack"))
}

/// What one synack transfer measured, with the engine's counters.
pub(crate) struct SynackRun {
    pub(crate) measured: Measured,
    pub(crate) stats: StackStats,
}

/// Kernel → synack over TUN (synack receives and checks).
pub(crate) fn synack_receive(total: u64) -> Result<SynackRun, String> {
    let ns = Netns::new("k2s")?;
    ns.run(move || {
        runtime()?.block_on(async move {
            let stack = open_stack()?;
            let l = TcpListener::bind(&stack, SocketAddrV4::new(OWN, PORT))
                .await
                .map_err(io_err("synack bind"))?;
            let to = SocketAddr::V4(SocketAddrV4::new(OWN, PORT));
            let sender = named("kernel-send", move || {
                kernel_send(to, total, &Pattern::new(SEED))
            })?;
            let pattern = Pattern::new(SEED);
            let (mut s, _) = tokio::time::timeout(STALL, l.accept())
                .await
                .map_err(|_| "synack accept timed out".to_string())?
                .map_err(io_err("synack accept"))?;
            let start = Instant::now();
            let mut buf = vec![0u8; CHUNK];
            let mut got = 0u64;
            loop {
                let k = tokio::time::timeout(STALL, s.read(&mut buf))
                    .await
                    .map_err(|_| format!("synack receive stalled at byte {got}"))?
                    .map_err(io_err("synack receive"))?;
                if k == 0 {
                    break;
                }
                if !pattern.matches(got, &buf[..k]) {
                    return Err(format!("synack received corrupted data near byte {got}"));
                }
                got += k as u64;
            }
            let elapsed = start.elapsed();
            drop(s);
            tokio::task::spawn_blocking(move || sender.join())
                .await
                .map_err(|_| "join".to_string())?
                .map_err(|_| "kernel sender panicked".to_string())??;
            let measured = check_count(
                "synack",
                Measured {
                    elapsed,
                    bytes: got,
                },
                total,
            )?;
            Ok(SynackRun {
                measured,
                stats: stack.stats(),
            })
        })
    })
}

/// synack → kernel over TUN (the kernel receives and checks).
pub(crate) fn synack_send(total: u64) -> Result<SynackRun, String> {
    let ns = Netns::new("s2k")?;
    ns.run(move || {
        runtime()?.block_on(async move {
            let stack = open_stack()?;
            let l = std::net::TcpListener::bind(SocketAddrV4::new(KERNEL, PORT))
                .map_err(io_err("kernel listener"))?;
            let receiver = named("kernel-recv", move || {
                kernel_receive(l, &Pattern::new(SEED))
            })?;
            let pattern = Pattern::new(SEED);
            let sent = async {
                let mut c = tokio::time::timeout(
                    STALL,
                    TcpStream::connect(&stack, SocketAddrV4::new(KERNEL, PORT)),
                )
                .await
                .map_err(|_| "synack connect timed out".to_string())?
                .map_err(io_err("synack connect"))?;
                let mut sent = 0u64;
                while sent < total {
                    let w = pattern.window(sent, (total - sent).min(CHUNK as u64) as usize);
                    tokio::time::timeout(STALL, c.write_all(w))
                        .await
                        .map_err(|_| format!("synack send stalled at byte {sent}"))?
                        .map_err(io_err("synack send"))?;
                    sent += w.len() as u64;
                }
                c.shutdown().await.map_err(io_err("synack shutdown"))?;
                Ok::<_, String>(c)
            }
            .await;
            let got = tokio::task::spawn_blocking(move || receiver.join())
                .await
                .map_err(|_| "join".to_string())?
                .map_err(|_| "kernel receiver panicked".to_string())?;
            let c = sent?;
            drop(c);
            let measured = check_count("kernel", got?, total)?;
            Ok(SynackRun {
                measured,
                stats: stack.stats(),
            })
        })
    })
}

/// Sizes of the TUN rows.
#[derive(Debug, Clone)]
pub(crate) struct TunPlan {
    /// Bytes per transfer.
    pub(crate) bytes: u64,
    /// Repetitions (each figure is the median).
    pub(crate) reps: usize,
    /// The kernel's congestion control in every namespace (`None`: system default).
    pub(crate) kernel_cc: Option<String>,
}

/// Medians of each path over the repetitions, plus what went wrong where.
#[derive(Default)]
struct Samples {
    veth: Vec<f64>,
    k2s: Vec<f64>,
    s2k: Vec<f64>,
    k2smol: Vec<f64>,
    smol2k: Vec<f64>,
    super_in: u64,
    super_out: u64,
    errors: [Option<String>; 5],
}

fn take(v: &mut Vec<f64>, err: &mut Option<String>, r: Result<Measured, String>) {
    match r {
        Ok(m) => v.push(m.gbps()),
        Err(e) => {
            err.get_or_insert(e);
        }
    }
}

fn fig(v: &[f64], err: &Option<String>) -> Figure {
    match (v.is_empty(), err) {
        (false, None) => Figure::Value(median(v.to_vec())),
        (_, Some(e)) => Figure::NotRun(format!("failed: {e}")),
        (true, None) => Figure::NotRun("no repetition".into()),
    }
}

/// Row names.
pub(crate) const K2S: &str = "TUN, kernel → synack";
/// Row names.
pub(crate) const S2K: &str = "TUN, synack → kernel";

/// The two TUN rows. Each repetition measures all five paths in turn (veth, then
/// kernel → synack / smoltcp, then synack / smoltcp → kernel) so slow phases of a
/// noisy machine spread over all of them.
pub(crate) fn rows(plan: TunPlan, progress: bool) -> Vec<Row> {
    if let Some(why) = unavailable() {
        return not_run(&why);
    }
    sweep_stale();
    set_kernel_cc(plan.kernel_cc.clone());
    let cc = kernel_cc_in_use();
    let mut s = Samples::default();
    for rep in 0..plan.reps {
        let say = |what: &str, r: &Result<Measured, String>| {
            if progress {
                match r {
                    Ok(m) => eprintln!("  TUN rep {}: {what}: {:.2} Gbit/s", rep + 1, m.gbps()),
                    Err(e) => eprintln!("  TUN rep {}: {what}: failed: {e}", rep + 1),
                }
            }
        };
        let r = kernel_veth(plan.bytes);
        say("kernel → kernel (veth)", &r);
        take(&mut s.veth, &mut s.errors[0], r);
        let r = synack_receive(plan.bytes).map(|run| {
            s.super_in += run.stats.super_packets_in;
            run.measured
        });
        say("kernel → synack", &r);
        take(&mut s.k2s, &mut s.errors[1], r);
        let r = tun_smol::smol_receive(plan.bytes);
        say("kernel → smoltcp", &r);
        take(&mut s.k2smol, &mut s.errors[2], r);
        let r = synack_send(plan.bytes).map(|run| {
            s.super_out += run.stats.super_packets_out;
            run.measured
        });
        say("synack → kernel", &r);
        take(&mut s.s2k, &mut s.errors[3], r);
        let r = tun_smol::smol_send(plan.bytes);
        say("smoltcp → kernel", &r);
        take(&mut s.smol2k, &mut s.errors[4], r);
    }
    let veth = fig(&s.veth, &s.errors[0]);
    let row = |name: &str, ours: Figure, peer: Figure, supers: u64, dir: &str| {
        let mut note = format!(
            "synack: vnet_hdr offloads ({supers} super-segments {dir}); {PEER}: plain TUN, MTU 1500; kernel congestion control {cc}"
        );
        let base = Baseline::new("kernel ↔ kernel over veth", veth.clone(), &ours);
        match (&base.value, base.percent) {
            (Figure::Value(v), Some(p)) => {
                note += &format!("; {p:.0}% of kernel ↔ kernel over veth ({v:.2} Gbit/s)")
            }
            (Figure::Value(v), None) => {
                note += &format!("; kernel ↔ kernel over veth {v:.2} Gbit/s")
            }
            (Figure::NotRun(why), _) => note += &format!("; veth not run: {why}"),
        }
        Row::new(name, "Gbit/s", true, ours, peer, note).with_baseline(base)
    };
    vec![
        row(
            K2S,
            fig(&s.k2s, &s.errors[1]),
            fig(&s.k2smol, &s.errors[2]),
            s.super_in,
            "received",
        ),
        row(
            S2K,
            fig(&s.s2k, &s.errors[3]),
            fig(&s.smol2k, &s.errors[4]),
            s.super_out,
            "sent",
        ),
    ]
}

/// The TUN rows when they cannot run, each saying why.
fn not_run(why: &str) -> Vec<Row> {
    [K2S, S2K]
        .into_iter()
        .map(|name| Row::not_run(name, "Gbit/s", true, why))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_that_cannot_run_say_why_and_have_no_ratio() {
        let rows = not_run("needs root: test");
        assert_eq!(rows.len(), 2);
        for r in &rows {
            assert_eq!(r.synack, Figure::NotRun("needs root: test".into()));
            assert_eq!(r.peer, Figure::NotRun("needs root: test".into()));
            assert!(r.ratio.is_none() && r.baseline.is_none());
        }
    }

    #[test]
    fn namespaces_get_the_chosen_congestion_control() {
        if let Some(why) = unavailable() {
            eprintln!("skipped: {why}");
            return;
        }
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let default = read("/proc/sys/net/ipv4/tcp_congestion_control");
        let available = read("/proc/sys/net/ipv4/tcp_available_congestion_control");
        // One that is not the default, so the test sees the setting take effect.
        let Some(cc) = available
            .split_whitespace()
            .find(|c| *c != default.trim())
            .map(str::to_string)
        else {
            eprintln!("skipped: only one congestion control is available");
            return;
        };
        set_kernel_cc(Some(cc.clone()));
        let inside = Netns::new("cc").and_then(|ns| {
            ns.run(|| {
                std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control")
                    .map_err(|e| e.to_string())
            })
        });
        let note = kernel_cc_in_use();
        set_kernel_cc(None);
        assert_eq!(inside.expect("namespace").trim(), cc);
        assert!(note.starts_with(&cc), "{note}");
        // The initial namespace keeps its own setting.
        assert_eq!(read("/proc/sys/net/ipv4/tcp_congestion_control"), default);
        assert!(kernel_cc_in_use().contains("system default"));
    }

    #[test]
    fn baseline_percent_needs_both_figures() {
        let b = Baseline::new("veth", Figure::Value(20.0), &Figure::Value(15.0));
        assert_eq!(b.percent, Some(75.0));
        let b = Baseline::new("veth", Figure::NotRun("x".into()), &Figure::Value(15.0));
        assert_eq!(b.percent, None);
        let b = Baseline::new("veth", Figure::Value(20.0), &Figure::NotRun("y".into()));
        assert_eq!(b.percent, None);
    }

    #[test]
    fn medians_of_failed_paths_become_failed_cells() {
        let mut v = Vec::new();
        let mut err = None;
        take(&mut v, &mut err, Err("stalled".into()));
        take(
            &mut v,
            &mut err,
            Ok(Measured {
                elapsed: Duration::from_secs(1),
                bytes: 1_000_000_000,
            }),
        );
        assert_eq!(v, vec![8.0]);
        assert_eq!(fig(&v, &err), Figure::NotRun("failed: stalled".into()));
        assert_eq!(fig(&v, &None), Figure::Value(8.0));
    }
}
