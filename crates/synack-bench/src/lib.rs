//! # synack-bench
//!
//! Side-by-side benchmarks of synack and smoltcp, in one process, over an in-memory
//! link (two packet queues), in virtual time: both stacks compute and verify every
//! checksum, every payload byte is compared with the pattern that was sent, and both
//! use the same socket buffer sizes. What is measured is the wall-clock time the stacks
//! (and an identical, allocation-free harness) spend; virtual time only jumps over
//! timer waits (delayed ACKs, TIME-WAIT), which cost no CPU.
//!
//! The TUN rows (Linux, root) move real traffic between the Linux kernel and a
//! userspace stack over a TUN device in a fresh network namespace, each way: synack
//! with vnet_hdr offloads, smoltcp on a plain TUN device, and kernel ↔ kernel over a
//! veth pair as the reference, all in the same run (tun.rs, tun_smol.rs). Without
//! root they say why they did not run.
//!
//! Entry point: [`run`] with [`BenchOptions`] returns a [`Report`] (a table via
//! `Display`, JSON via [`Report::to_json`]). Memory figures need [`CountingAlloc`]
//! installed as the program's global allocator. [`BenchOptions::scenarios`] picks
//! the in-process rows, the TUN rows, the WAN rows, or all.
//!
//! The WAN rows (Linux, root) measure goodput over the emulated paths of
//! `synack_sim::profiles` through the `synack-link` emulator: kernel → kernel with
//! CUBIC and BBR, kernel ↔ synack and kernel ↔ smoltcp, plus synack and Linux CUBIC
//! sharing one bottleneck (wan.rs, wan_smol.rs).

mod alloc;
#[cfg(target_os = "linux")]
mod flood;
mod link;
mod pattern;
mod report;
#[cfg(target_os = "linux")]
mod smol_host;
mod smol_side;
mod synack_side;
#[cfg(target_os = "linux")]
mod tun;
#[cfg(target_os = "linux")]
mod tun2socks;
mod tun_http;
#[cfg(target_os = "linux")]
mod tun_smol;
#[cfg(target_os = "linux")]
mod wan;
#[cfg(target_os = "linux")]
mod wan_smol;

pub use alloc::{counting_installed, heap, reset_peak, CountingAlloc, HeapSnapshot};
pub use report::{Baseline, Figure, Report, Row};

use pattern::Pattern;
use std::time::Duration as WallDuration;

/// Virtual time that passes per round in which packets moved (a 10 µs "RTT" step).
pub(crate) const TICK_MICROS: u64 = 10;

/// How big a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Seconds: tiny sizes, for tests (numbers are meaningless).
    Smoke,
    /// Under a minute: smaller transfers, one repetition.
    Quick,
    /// The full run: medians of several repetitions.
    #[default]
    Full,
}

/// Which rows a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scenarios {
    /// Every row.
    #[default]
    All,
    /// Only the in-process rows (bulk, idle, churn, memory): no root needed.
    InProcess,
    /// Only the TUN rows (kernel ↔ synack / smoltcp over TUN, kernel ↔ kernel over
    /// veth): needs root on Linux.
    Tun,
    /// Only the WAN rows (goodput over emulated paths P1–P6 through the link
    /// emulator, kernel ↔ kernel, synack and smoltcp): needs root on Linux.
    Wan,
    /// Only the SYN flood rows (hping3 against `synack serve` and against a kernel
    /// listener, a kernel client connecting throughout): needs root and hping3.
    Flood,
    /// Only the tun2socks rows (kernel → synack's forwarder → kernel, and
    /// connections per second through it, next to kernel ↔ kernel over veth; part
    /// of `All`): needs root on Linux.
    Tun2socks,
}

impl Scenarios {
    fn in_process(self) -> bool {
        matches!(self, Scenarios::All | Scenarios::InProcess)
    }

    fn tun(self) -> bool {
        matches!(self, Scenarios::All | Scenarios::Tun | Scenarios::Tun2socks)
    }

    fn wan(self) -> bool {
        matches!(self, Scenarios::All | Scenarios::Wan)
    }

    fn flood(self) -> bool {
        matches!(self, Scenarios::All | Scenarios::Flood)
    }
}

impl std::str::FromStr for Scenarios {
    type Err = String;
    fn from_str(s: &str) -> Result<Scenarios, String> {
        match s {
            "all" => Ok(Scenarios::All),
            "in-process" => Ok(Scenarios::InProcess),
            "tun" => Ok(Scenarios::Tun),
            "wan" => Ok(Scenarios::Wan),
            "flood" => Ok(Scenarios::Flood),
            "tun2socks" => Ok(Scenarios::Tun2socks),
            _ => Err(format!(
                "unknown scenario group {s:?} (expected all, in-process, tun, tun2socks, wan or flood)"
            )),
        }
    }
}

/// Options of a benchmark run.
#[derive(Debug, Clone, Default)]
pub struct BenchOptions {
    /// Size of the run.
    pub mode: Mode,
    /// Which rows to measure.
    pub scenarios: Scenarios,
    /// Repetitions per figure; 0 picks the mode's default (1 quick, 5 full). In the
    /// WAN rows: seeds of the link's random draws on the profiles that draw at
    /// random, each figure the median over them (default 3 full, 1 quick).
    pub reps: usize,
    /// Print each figure to stderr as it is measured.
    pub progress: bool,
    /// Congestion control of the kernel's TCP in the TUN rows' namespaces (a name
    /// from `net.ipv4.tcp_available_congestion_control`); `None` keeps the system
    /// default. It shapes the kernel → synack figure: a BBR sender paces at the
    /// delivery rate it measures, CUBIC sends as fast as the windows allow.
    pub kernel_cc: Option<String>,
    /// Congestion controls of synack's sender in the WAN rows: one synack → kernel
    /// row each, against kernel → kernel with the same one. Empty: CUBIC and BBR.
    pub synack_cc: Vec<synack_core::cc::Algorithm>,
    /// Seconds of SYN flood per listener in the flood rows; `None` picks the mode's
    /// (30 full, 10 quick, 2 smoke).
    pub flood_secs: Option<f64>,
    /// The `synack` binary whose `serve` command the flood rows attack (the CLI
    /// passes itself); without it those rows say why they did not run.
    pub serve_exe: Option<std::path::PathBuf>,
    /// WAN profiles to measure, by id (`"P1"` … `"P6"`); empty: all of them.
    pub wan_profiles: Vec<String>,
}

impl BenchOptions {
    /// `synack bench --quick`.
    pub fn quick() -> BenchOptions {
        BenchOptions {
            mode: Mode::Quick,
            ..BenchOptions::default()
        }
    }

    /// `synack bench`.
    pub fn full() -> BenchOptions {
        BenchOptions::default()
    }

    /// A tiny run for tests.
    pub fn smoke() -> BenchOptions {
        BenchOptions {
            mode: Mode::Smoke,
            ..BenchOptions::default()
        }
    }
}

/// Sizes of one run.
struct Plan {
    name: &'static str,
    reps: usize,
    bulk_bytes: u64,
    mtus: [usize; 3],
    idle: Vec<usize>,
    smoltcp_idle_cap: usize,
    churn: usize,
    /// TIME-WAIT populations of the churn rows (smoltcp runs up to `smoltcp_idle_cap`).
    time_wait: Vec<usize>,
    memory_conns: usize,
    smoltcp_memory_conns: usize,
    /// Bytes per TUN transfer.
    tun_bytes: u64,
    /// Seconds per WAN transfer, and of the sharing profile.
    wan_secs: (f64, f64),
    /// Seeds of the link's draws per WAN profile that draws at random (the reps
    /// given, else 3 full and 1 otherwise).
    wan_seeds: usize,
}

impl Plan {
    fn new(o: &BenchOptions) -> Plan {
        let (name, reps, bulk_mib, idle, cap, churn, tw, mem) = match o.mode {
            Mode::Smoke => ("smoke", 1, 1, vec![100], 100, 20, vec![100], 200),
            Mode::Quick => (
                "quick",
                1,
                64,
                vec![1_000, 10_000, 100_000],
                1_000,
                2_000,
                vec![1_000, 10_000, 100_000],
                100_000,
            ),
            Mode::Full => (
                "full",
                5,
                512,
                vec![1_000, 10_000, 100_000],
                10_000,
                20_000,
                vec![1_000, 10_000, 100_000],
                100_000,
            ),
        };
        Plan {
            name,
            reps: if o.reps > 0 { o.reps } else { reps },
            bulk_bytes: bulk_mib << 20,
            mtus: [1500, 9000, 65535],
            idle,
            smoltcp_idle_cap: cap,
            churn,
            time_wait: tw,
            memory_conns: mem,
            smoltcp_memory_conns: 100.min(mem),
            tun_bytes: match o.mode {
                Mode::Smoke => 4 << 20,
                Mode::Quick => 256 << 20,
                Mode::Full => 1 << 30,
            },
            wan_secs: match o.mode {
                Mode::Smoke => (0.5, 1.0),
                Mode::Quick => (0.8, 3.0),
                Mode::Full => (6.0, 30.0),
            },
            wan_seeds: match (o.reps, o.mode) {
                (0, Mode::Full) => 3,
                (0, _) => 1,
                (n, _) => n,
            },
        }
    }
}

/// Socket buffer size (each way) of both stacks in the data scenarios.
pub const BUFFER: usize = 256 * 1024;

/// The peer stack's name.
pub const PEER: &str = "smoltcp 0.14";

/// Result of one timed bulk repetition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measured {
    pub(crate) elapsed: WallDuration,
    pub(crate) bytes: u64,
}

impl Measured {
    fn gbps(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.elapsed.as_secs_f64().max(1e-9) / 1e9
    }
}

/// Result of one timed churn repetition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Churn {
    pub(crate) elapsed: WallDuration,
    pub(crate) connections: usize,
    pub(crate) time_wait_before: usize,
    pub(crate) time_wait_after: usize,
}

impl Churn {
    fn per_sec(&self) -> f64 {
        self.connections as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Run `reps` repetitions of two measurements taking turns (a, b, a, b, ...), each
/// call measuring one repetition; the first error of a side ends that side.
fn interleave<T>(
    reps: usize,
    mut a: impl FnMut() -> Result<Vec<T>, String>,
    mut b: impl FnMut() -> Result<Vec<T>, String>,
) -> (Result<Vec<T>, String>, Result<Vec<T>, String>) {
    let (mut ra, mut rb) = (Ok(Vec::new()), Ok(Vec::new()));
    for _ in 0..reps.max(1) {
        for (r, f) in [
            (&mut ra, &mut a as &mut dyn FnMut() -> _),
            (&mut rb, &mut b),
        ] {
            if let Ok(v) = r {
                match f() {
                    Ok(x) => v.extend(x),
                    Err(e) => *r = Err(e),
                }
            }
        }
    }
    (ra, rb)
}

fn figure(r: Result<f64, String>) -> Figure {
    match r {
        Ok(v) => Figure::Value(v),
        Err(e) => Figure::NotRun(format!("failed: {e}")),
    }
}

/// `x` as a percentage of `base` ("97%"), or "-" when either is missing.
fn percent(x: Option<f64>, base: Option<f64>) -> String {
    match (x, base) {
        (Some(x), Some(b)) if b > 0.0 => format!("{:.0}%", 100.0 * x / b),
        _ => "-".into(),
    }
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Run the benchmarks and return the report. Scenario failures (a corrupted stream, a
/// stall) become "not run: failed: ..." cells rather than panics.
pub fn run(opts: &BenchOptions) -> Report {
    let plan = Plan::new(opts);
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    if opts.scenarios.in_process() {
        in_process_rows(&plan, opts, &mut rows, &mut notes);
    }
    let mut tun_bytes = 0;
    let bulk_bytes = if opts.scenarios.in_process() {
        plan.bulk_bytes
    } else {
        0
    };
    if opts.scenarios.tun() {
        tun_bytes = plan.tun_bytes;
        for row in tun_rows(&plan, opts) {
            push_row(&mut rows, row, opts);
        }
        notes.extend(tun_notes());
    }
    if opts.scenarios.wan() {
        let (wan, wan_notes) = wan_rows(&plan, opts);
        for row in wan {
            push_row(&mut rows, row, opts);
        }
        notes.extend(wan_notes);
    }
    if opts.scenarios.flood() {
        let (flood, flood_notes) = flood_rows(opts);
        for row in flood {
            push_row(&mut rows, row, opts);
        }
        notes.extend(flood_notes);
    }
    Report {
        mode: plan.name.into(),
        peer: PEER.into(),
        buffer_bytes: BUFFER,
        bulk_bytes,
        tun_bytes,
        reps: plan.reps,
        rows,
        notes,
    }
}

/// Add `row` to the report, and say so on stderr when `opts.progress`.
fn push_row(rows: &mut Vec<Row>, row: Row, opts: &BenchOptions) {
    if opts.progress {
        let fig = |f: &Figure| match f {
            Figure::Value(_) => format!("{f} {}", row.unit),
            Figure::NotRun(_) => f.to_string(),
        };
        eprintln!(
            "{}: synack {} · {PEER}: {}",
            row.scenario,
            fig(&row.synack),
            fig(&row.peer)
        );
    }
    rows.push(row);
}

/// Method notes of the TUN rows.
fn tun_notes() -> Vec<String> {
    // The kernel's receive buffer limit differs between machines: read it.
    let rmem = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_rmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse::<u64>().ok())
        .map_or("net.ipv4.tcp_rmem's maximum".to_string(), |max| {
            format!("{} MiB here (net.ipv4.tcp_rmem)", max >> 20)
        });
    vec![
        format!("TUN rows: the Linux kernel is the peer, over a TUN device in a fresh network namespace (MTU 1500); synack uses vnet_hdr offloads (it receives TSO/GRO super-segments whole and sends up to 64 KiB TSO frames the kernel cuts), smoltcp a plain TUN device (one read/write per packet, it has no offloads); synack's buffers autotune (its defaults: receive 128 KiB growing with the measured bandwidth-delay product up to 6 MiB, send 64 KiB growing with cwnd up to 4 MiB; the kernel autotunes its receive buffer up to {rmem}), smoltcp's 256 KiB (with 4 MiB its window overruns the TUN queue and losses cut its rate about 4x); synack runs on a current-thread tokio runtime (driver and application on one thread), smoltcp in a plain loop on one thread; the reference is kernel to kernel over a veth pair in the same run"),
        "TUN rows: Gbit/s at the receiver, from accept to end of stream; every byte is compared with the sent pattern on the receiving side and the byte count checked; each repetition runs all five paths in turn".to_string(),
        "HTTP rows: the kernel's curl downloads one file from synack::apps::http_serve (what `synack serve --http` runs) over a TUN device, plain (MTU 1500) and with vnet_hdr offloads, on the TUN rows' current-thread runtime; the baseline is the same library answering the same request with the same bytes from memory on the same kind of device; curl writes to /dev/null (as a user timing a download would) and its byte count is checked; the content is checked byte for byte in the tests and by `profile tun http-*` (through a pipe to a checker, which on two cores costs a third busy process); Gbit/s from accept to the end of curl's output; each repetition runs the four downloads in turn".to_string(),
    ]
}

#[cfg(target_os = "linux")]
fn tun_rows(plan: &Plan, opts: &BenchOptions) -> Vec<Row> {
    let mut rows = Vec::new();
    if opts.scenarios != Scenarios::Tun2socks {
        rows = tun::rows(
            tun::TunPlan {
                bytes: plan.tun_bytes,
                reps: plan.reps,
                kernel_cc: opts.kernel_cc.clone(),
            },
            opts.progress,
        );
        rows.extend(tun_http::rows(plan.tun_bytes, plan.reps, opts.progress));
    }
    // Through the tun2socks forwarder (issue 15): in a full run and on their own.
    if !matches!(opts.scenarios, Scenarios::All | Scenarios::Tun2socks) {
        return rows;
    }
    if let Some(why) = tun::unavailable() {
        for name in [tun2socks::BULK, tun2socks::CHURN] {
            rows.push(Row::not_run(name, "-", true, &why));
        }
    } else {
        rows.extend(tun2socks::rows(
            tun2socks::Plan {
                bytes: plan.tun_bytes,
                conns: (plan.tun_bytes >> 20).clamp(50, 1000) as usize,
                reps: plan.reps,
            },
            opts.progress,
        ));
    }
    rows
}

#[cfg(not(target_os = "linux"))]
fn tun_rows(_plan: &Plan, _opts: &BenchOptions) -> Vec<Row> {
    [
        "TUN, kernel → synack",
        "TUN, synack → kernel",
        "TUN, serve --http → curl",
        "TUN, serve --http → curl, offload",
    ]
    .into_iter()
    .map(|name| {
        let why = || Figure::NotRun("needs Linux (TUN, network namespaces)".into());
        Row::new(name, "Gbit/s", true, why(), why(), "")
    })
    .collect()
}

#[cfg(target_os = "linux")]
fn wan_rows(plan: &Plan, opts: &BenchOptions) -> (Vec<Row>, Vec<String>) {
    let synack_cc = if opts.synack_cc.is_empty() {
        vec![
            synack_core::cc::Algorithm::Cubic,
            synack_core::cc::Algorithm::Bbr,
        ]
    } else {
        opts.synack_cc.clone()
    };
    wan::rows(
        wan::WanPlan {
            secs: plan.wan_secs.0,
            share_secs: plan.wan_secs.1,
            synack_cc,
            profiles: opts.wan_profiles.clone(),
            seeds: plan.wan_seeds,
        },
        opts.progress,
    )
}

#[cfg(not(target_os = "linux"))]
fn wan_rows(_plan: &Plan, _opts: &BenchOptions) -> (Vec<Row>, Vec<String>) {
    let why = || Figure::NotRun("needs Linux (TUN, network namespaces)".into());
    (
        vec![Row::new("WAN rows", "Mbit/s", true, why(), why(), "")],
        Vec::new(),
    )
}

#[cfg(target_os = "linux")]
fn flood_rows(opts: &BenchOptions) -> (Vec<Row>, Vec<String>) {
    let secs = opts.flood_secs.unwrap_or(match opts.mode {
        Mode::Smoke => 2.0,
        Mode::Quick => 10.0,
        Mode::Full => 30.0,
    });
    flood::rows(
        flood::FloodPlan {
            secs,
            serve_exe: opts.serve_exe.clone(),
        },
        opts.progress,
    )
}

#[cfg(not(target_os = "linux"))]
fn flood_rows(_opts: &BenchOptions) -> (Vec<Row>, Vec<String>) {
    let why = || Figure::NotRun("needs Linux (TUN, network namespaces)".into());
    (
        vec![Row::new("SYN flood rows", "", true, why(), why(), "")],
        Vec::new(),
    )
}

fn in_process_rows(plan: &Plan, opts: &BenchOptions, rows: &mut Vec<Row>, notes: &mut Vec<String>) {
    let pattern = Pattern::new(0x5ca1_ab1e);
    let push = |rows: &mut Vec<Row>, row: Row| push_row(rows, row, opts);
    let reps = plan.reps;
    let gbps = |r: Result<Vec<Measured>, String>| {
        r.map(|v| median(v.iter().map(Measured::gbps).collect()))
    };

    // a. Bulk transfer, one connection, per MTU; the two stacks' repetitions take
    // turns, so a noisy stretch of the machine hits both.
    // smoltcp's MTU-1500 figure, the base of its "vs no idle".
    let mut peer_1500 = None;
    for mtu in plan.mtus {
        let (s, p) = interleave(
            reps,
            || synack_side::bulk(mtu, BUFFER, plan.bulk_bytes, 1, 0, &pattern),
            || smol_side::bulk(mtu, BUFFER, plan.bulk_bytes, 1, 0, BUFFER, &pattern),
        );
        let (s, p) = (gbps(s), gbps(p));
        if mtu == 1500 {
            peer_1500 = p.as_ref().ok().copied();
        }
        push(
            rows,
            Row::new(
                format!("bulk, MTU {mtu}"),
                "Gbit/s",
                true,
                figure(s),
                figure(p),
                "one connection, payload rate",
            ),
        );
    }

    // b. The MTU-1500 bulk flow with idle established connections in both stacks.
    for &n in &plan.idle {
        // synack's "vs no idle" comes from a twin flow without idle connections whose
        // repetitions alternate with these, so machine noise cannot fake a slowdown.
        let (s, s_alone) =
            match synack_side::bulk_idle_paired(BUFFER, plan.bulk_bytes, reps, n, &pattern) {
                Ok((with, without)) => (gbps(Ok(with)), gbps(Ok(without)).ok()),
                Err(e) => (Err(e), None),
            };
        let peer_bytes = (plan.bulk_bytes / (n as u64 / 250).max(1)).max(1 << 20);
        let p = if n <= plan.smoltcp_idle_cap {
            figure(gbps(smol_side::bulk(
                1500,
                BUFFER,
                peer_bytes,
                reps,
                n,
                16 * 1024,
                &pattern,
            )))
        } else {
            Figure::NotRun(format!(
                "capped at {} (every poll and every packet scans all sockets: O(n))",
                thousands(plan.smoltcp_idle_cap)
            ))
        };
        let mut note = format!(
            "MTU 1500; vs no idle: synack {} (of the same flow without idle connections, alternating), {PEER} {}",
            percent(s.as_ref().ok().copied(), s_alone),
            percent(p.value(), peer_1500)
        );
        if p.value().is_some() && peer_bytes < plan.bulk_bytes {
            note += &format!("; {PEER} moved {} MiB per rep", peer_bytes >> 20);
        }
        push(
            rows,
            Row::new(
                format!("bulk + {} idle conns", thousands(n)),
                "Gbit/s",
                true,
                figure(s),
                p,
                note,
            ),
        );
    }

    // c. Connection churn.
    let per_sec =
        |r: Result<Vec<Churn>, String>| r.map(|v| median(v.iter().map(Churn::per_sec).collect()));
    let (s0, p0) = interleave(
        reps,
        || synack_side::churn(plan.churn, 1, 0, BUFFER, &pattern),
        || smol_side::churn(plan.churn, 1, 0, BUFFER, &pattern),
    );
    let (s0, p0) = (per_sec(s0), per_sec(p0));
    let base_churn = s0.as_ref().ok().copied();
    let base_peer_churn = p0.as_ref().ok().copied();
    push(
        rows,
        Row::new(
            "churn",
            "conn/s",
            true,
            figure(s0),
            figure(p0),
            "connect, 100 B request, 100 B response, close; one at a time",
        ),
    );
    for &n in &plan.time_wait {
        // Each stack keeps its own TIME-WAIT: synack a compact record per connection
        // (MSL 1 h here), smoltcp a whole socket (10 s), which every poll visits; so
        // smoltcp runs fewer connections, and is capped like the idle rows.
        let s = synack_side::churn(plan.churn, reps, n, BUFFER, &pattern);
        let peer_count = (plan.churn / (n / 250).max(1)).max(100);
        let p = (n <= plan.smoltcp_idle_cap)
            .then(|| smol_side::churn(peer_count, reps, n, BUFFER, &pattern));
        let held = |r: &Result<Vec<Churn>, String>| match r {
            Ok(v) => format!(
                "{}..{}",
                thousands(v.first().map_or(0, |c| c.time_wait_before)),
                thousands(v.last().map_or(0, |c| c.time_wait_after))
            ),
            Err(_) => "-".into(),
        };
        let rate = |r: &Result<Vec<Churn>, String>| {
            r.as_ref()
                .ok()
                .map(|v| median(v.iter().map(Churn::per_sec).collect()))
        };
        let mut note = format!(
            "in TIME-WAIT during the run: synack {} (records), {PEER} {}; vs churn without: synack {}, {PEER} {}",
            held(&s),
            p.as_ref().map_or("-".into(), held),
            percent(rate(&s), base_churn),
            p.as_ref()
                .map_or("-".into(), |r| percent(rate(r), base_peer_churn)),
        );
        if p.as_ref().is_some_and(Result::is_ok) && peer_count < plan.churn {
            note += &format!("; {PEER} ran {} conns per rep", thousands(peer_count));
        }
        let peer = match p {
            Some(r) => figure(per_sec(r)),
            None => Figure::NotRun(format!(
                "capped at {} (every poll visits every socket, TIME-WAIT ones too: O(n))",
                thousands(plan.smoltcp_idle_cap)
            )),
        };
        push(
            rows,
            Row::new(
                format!("churn + {} TIME-WAIT", thousands(n)),
                "conn/s",
                true,
                figure(per_sec(s)),
                peer,
                note,
            ),
        );
    }

    // d. Memory.
    memory_rows(plan, rows, opts);

    notes.extend([
            "in-process, in-memory link, virtual time (10 us per round that moves packets; idle waits are skipped); wall-clock time measured".into(),
            "both stacks compute and verify IPv4 and TCP checksums; every received byte is compared with the sent pattern, in place (synack recv_with, smoltcp recv with a closure)".into(),
            "bulk (no idle connections) and churn: synack and smoltcp repetitions alternate, so machine noise hits both".into(),
            "each stack runs with its defaults otherwise (synack: SACK, window scaling, delayed ACK 40 ms, no TSO, timestamps off like smoltcp; smoltcp: window scaling, no timestamps, ACK delay 10 ms)".into(),
            "idle smoltcp sockets get 16 KiB buffers (smoltcp allocates buffers up front; 256 KiB each would need GiBs); idle synack connections hold no buffer at all".into(),
            "smoltcp churn reuses its two sockets and aborts the client's TIME-WAIT (one RST per connection); synack keeps every TIME-WAIT (MSL 1 h); both harnesses pick the client's port (the TIME-WAIT fill lets synack choose)".into(),
            "TIME-WAIT rows: the connections were opened and closed (client first, no data) before timing; smoltcp keeps each in its client socket (1 KiB buffers, smoltcp's own 10 s TIME-WAIT), synack as a compact record".into(),
        ]);
}

fn memory_rows(plan: &Plan, rows: &mut Vec<Row>, opts: &BenchOptions) {
    let n = plan.memory_conns;
    let push = |rows: &mut Vec<Row>, row: Row| push_row(rows, row, opts);
    if !counting_installed() {
        let why = "counting allocator not installed (install synack_bench::CountingAlloc as #[global_allocator])";
        for name in [
            "memory per idle conn",
            "peak memory, idle conns",
            "buffer memory of idle conns",
        ] {
            push(rows, Row::not_run(name, "bytes", false, why));
        }
        return;
    }
    let s = synack_side::idle_memory(n, BUFFER);
    let pm = plan.smoltcp_memory_conns;
    let p = smol_side::idle_memory(pm, BUFFER);
    push(
        rows,
        Row::new(
            "memory per idle conn",
            "bytes",
            false,
            figure(s.as_ref().map(|m| m.per_end as f64).map_err(Clone::clone)),
            figure(p.as_ref().map(|m| m.0 as f64).map_err(Clone::clone)),
            format!(
                "heap per connection end; synack at {}, {PEER} at {} conns with {} KiB buffers",
                thousands(n),
                thousands(pm),
                BUFFER / 1024
            ),
        ),
    );
    let projected = p.as_ref().map(|m| m.0 * 2 * n);
    push(
        rows,
        Row::new(
            format!("peak memory, {} idle conns", thousands(n)),
            "MiB",
            false,
            figure(
                s.as_ref()
                    .map(|m| m.peak as f64 / 1048576.0)
                    .map_err(Clone::clone),
            ),
            match projected {
                Ok(b) => Figure::NotRun(format!(
                    "projected {:.0} MiB (buffers preallocated)",
                    b as f64 / 1048576.0
                )),
                Err(e) => Figure::NotRun(format!("failed: {e}")),
            },
            "both ends of every connection, in one process",
        ),
    );
    push(
        rows,
        Row::new(
            "buffer memory of idle conns",
            "bytes",
            false,
            figure(s.as_ref().map(|m| m.buffer_bytes as f64).map_err(Clone::clone)),
            Figure::Value((2 * BUFFER) as f64),
            format!(
                "synack: sum of info().buffer_bytes over all {} ends; {PEER}: per socket (rx + tx, fixed)",
                thousands(2 * n)
            ),
        ),
    );
}

/// Which stack a single measurement runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// synack.
    Synack,
    /// smoltcp.
    Smoltcp,
}

/// One bulk transfer of `bytes` at `mtu` with `idle` idle connections on one stack,
/// verified; returns Gbit/s (for profiling and tests).
pub fn bulk_once(side: Side, mtu: usize, bytes: u64, idle: usize) -> Result<f64, String> {
    let pattern = Pattern::new(0x5ca1_ab1e);
    let r = match side {
        Side::Synack => synack_side::bulk(mtu, BUFFER, bytes, 1, idle, &pattern),
        Side::Smoltcp => smol_side::bulk(mtu, BUFFER, bytes, 1, idle, 16 * 1024, &pattern),
    }?;
    Ok(r[0].gbps())
}

/// `count` churn connections on one stack with `time_wait` other connections left in
/// TIME-WAIT first, verified; returns connections per second.
pub fn churn_once(side: Side, count: usize, time_wait: usize) -> Result<f64, String> {
    let pattern = Pattern::new(0x5ca1_ab1e);
    let r = match side {
        Side::Synack => synack_side::churn(count, 1, time_wait, BUFFER, &pattern),
        Side::Smoltcp => smol_side::churn(count, 1, time_wait, BUFFER, &pattern),
    }?;
    Ok(r[0].per_sec())
}

/// One path of the TUN rows.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunPath {
    /// Kernel → kernel over a veth pair (the reference).
    Veth,
    /// Kernel → synack over TUN with vnet_hdr offloads.
    KernelToSynack,
    /// synack → kernel over TUN with vnet_hdr offloads.
    SynackToKernel,
    /// Kernel → smoltcp over a plain TUN device.
    KernelToSmoltcp,
    /// smoltcp → kernel over a plain TUN device.
    SmoltcpToKernel,
    /// The kernel's `curl` downloading a file from `synack::apps::http_serve` over
    /// TUN, with vnet_hdr offloads or plain.
    HttpFile {
        /// Whether the device uses vnet_hdr offloads.
        offload: bool,
    },
    /// The kernel's `curl` downloading the same bytes, answered from memory.
    HttpMemory {
        /// Whether the device uses vnet_hdr offloads.
        offload: bool,
    },
}

/// One verified transfer of `bytes` over one TUN path; returns Gbit/s at the
/// receiver (for profiling and tests). Needs root; the error says why otherwise.
#[cfg(target_os = "linux")]
pub fn tun_once(path: TunPath, bytes: u64) -> Result<f64, String> {
    if let Some(why) = tun::unavailable() {
        return Err(why);
    }
    let m = match path {
        TunPath::Veth => tun::kernel_veth(bytes)?,
        TunPath::KernelToSynack => tun::synack_receive(bytes)?.measured,
        TunPath::SynackToKernel => tun::synack_send(bytes)?.measured,
        TunPath::KernelToSmoltcp => tun_smol::smol_receive(bytes)?,
        TunPath::SmoltcpToKernel => tun_smol::smol_send(bytes)?,
        TunPath::HttpFile { offload } | TunPath::HttpMemory { offload } => {
            if let Some(why) = tun_http::unavailable() {
                return Err(why);
            }
            let body = match path {
                TunPath::HttpFile { .. } => tun_http::Body::File,
                _ => tun_http::Body::Memory,
            };
            let served = tun_http::Served::new(bytes)?;
            tun_http::download(&served, offload, body, tun_http::Check::EveryByte)?
        }
    };
    Ok(m.gbps())
}
