//! The script runner: executes a parsed packetdrill script against one
//! `synack_core::Stack` in virtual time, with packetdrill's semantics.
//!
//! - The engine is the local host `192.168.0.1` and the script plays the remote
//!   `192.0.2.1` (packetdrill's defaults); `bind` and `connect` use port 8080
//!   (`--bind_port` / `--connect_port`). A connection the script opens towards a
//!   listener comes from an ephemeral remote port the runner picks.
//! - Time is virtual: the runner jumps from event to event, firing the engine's
//!   timers on the way, so a script of minutes runs in microseconds. Relative times
//!   (`+0.1`) count from the end of the previous event, except that an inbound packet
//!   following an inbound packet counts from that packet's scripted time (packetdrill
//!   `run.c`).
//! - Outbound packets are checked in order: the next packet the engine sends must
//!   match the next `>` line, within a tolerance of
//!   `max(tolerance_usecs, 12.5 % of the gap from the previous event)` (packetdrill
//!   `verify_time`, defaults `--tolerance_usecs=4000`, `--tolerance_percent=12.5`).
//! - What is judged, by default exactly as upstream packetdrill judges it: a packet
//!   is checked when a `>` line waits for it, so a packet the engine sends before
//!   a `>` line is matched against that line (and fails it if it differs or came
//!   too early), and packets sent after the script's last `>` line are never
//!   looked at. With [`RunOptions::strict`] two more checks apply: a packet still
//!   waiting more than the tolerance before an inbound packet or a system call
//!   fails the script at that line ("unexpected outbound packet"), and so does any
//!   packet sent by the end of the script or in the [`STRICT_QUIET_USECS`] (2 s)
//!   after its last event ("after the last event"), the time upstream packetdrill
//!   waits for an expected packet, so `scripts/linux-oracle.sh --strict` (which
//!   appends a `>` line no packet matches) checks Linux the same way.
//! - The engine runs with [`Config::linux`] plus TCP segmentation offload
//!   (`Config::tso_max` = [`TSO_MAX`]), because the TUN device upstream packetdrill
//!   creates has TSO on: consecutive segments leave as one super-segment
//!   (`P. 1:5841(5840)` for a 5,840-byte write) and scripts written against Linux
//!   expect them that way.
//! - Scripts a `divergences` file beside them lists as deliberate differences of
//!   synack (see [`divergences`]) are reported as expected divergences when they
//!   fail, not as failures.
//! - Shell commands that set sysctls (`set_sysctls.py`, `sysctl -q`) configure the
//!   engine where the setting maps onto its configuration, and `ip tcp_metrics flush`
//!   clears the Fast Open cookie cache (see `fastopen`); the runner starts from the
//!   settings of upstream's `defaults.sh` (Fast Open `0x70403` and its key, ECN off). Other
//!   commands, ignored settings and `%{ }%` code blocks are reported as skipped lines.
//!
//! Syscalls live in `syscall`, packet building and matching in `packet`, Linux
//! constants in `consts`.

mod consts;
pub mod divergences;
mod epoll;
mod fastopen;
mod packet;
mod syscall;

use crate::ast::{
    Direction, Event, EventKind, EventTime, PacketBody, PacketEvent, Script, TcpSegmentSpec,
};
use divergences::{Divergences, Side};
use packet::{
    build_tcp, compare, encode_options, inbound_tos, parse_outbound, InboundTcp, Outbound,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use synack_core::{Config, Instant, Stack};
use syscall::{Fd, Pending};

/// How long strict mode watches for packets after the script's last event: the
/// 2 s upstream packetdrill waits for a packet an outbound line expects at `+0`
/// (`sniff_outbound_live_packet`), which is what `scripts/linux-oracle.sh
/// --strict` relies on to check Linux the same way.
pub const STRICT_QUIET_USECS: u64 = 2_000_000;

/// The largest TSO super-segment the runner lets the engine build, in payload
/// bytes: Linux caps a GSO packet at 64 KiB (`GSO_MAX_SIZE`) less its headers.
pub const TSO_MAX: usize = 65_536 - 1 - 320;

/// How to run scripts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOptions {
    /// Timing tolerance in microseconds. `None` uses the script's
    /// `--tolerance_usecs` or packetdrill's default of 4000 µs; `Some` overrides
    /// both (command-line options win over script options, as in packetdrill).
    pub tolerance_usecs: Option<u64>,
    /// Judge more than upstream packetdrill does: fail on a packet the engine sent
    /// well before an inbound packet or a system call that no `>` line took, and on
    /// any packet sent by the end of the script. Off by default (packetdrill's own
    /// semantics; see the module documentation).
    pub strict: bool,
}

/// Why a script failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1-based line of the event that failed (0 when no line applies).
    pub line: usize,
    /// What went wrong.
    pub message: String,
    /// The packet or call the script expected, in script notation.
    pub expected: Option<String>,
    /// What the engine did instead, in the same notation.
    pub actual: Option<String>,
}

/// The outcome of one script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every event happened as scripted.
    Pass,
    /// An event did not.
    Fail(Failure),
    /// The script could not be judged (it uses only, or needs, things the runner
    /// cannot do); the reason says what.
    Skip(String),
}

/// The result of running one script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptResult {
    /// The script's path as given.
    pub path: String,
    /// Pass, fail or skip.
    pub verdict: Verdict,
    /// Lines that were not run or not fully, such as `line 3: skipped python code
    /// block` or `line 1: shell command: ignored net.ipv4.tcp_min_tso_segs=2`.
    pub skipped_lines: Vec<String>,
    /// Set by [`run_files`] when a `divergences` file lists the script as a
    /// deliberate difference of synack: the reason given there. A failing listed
    /// script is an expected divergence, not a failure.
    pub divergence: Option<String>,
}

impl ScriptResult {
    /// True when the script failed but is listed as an expected divergence.
    pub fn diverged(&self) -> bool {
        self.divergence.is_some() && matches!(self.verdict, Verdict::Fail(_))
    }
}

impl fmt::Display for ScriptResult {
    /// One line: `PASS path`, `FAIL path:line: message; expected: ...; actual: ...`,
    /// `DIVERGES path (expected: reason):line: message; ...` for a listed divergence
    /// or `SKIP path: reason`, with skipped lines in parentheses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.verdict, &self.divergence) {
            (Verdict::Pass, None) => write!(f, "PASS {}", self.path)?,
            (Verdict::Pass, Some(_)) => write!(
                f,
                "FAIL {}: listed in divergences but passes (remove it from the list)",
                self.path
            )?,
            (Verdict::Skip(reason), _) => write!(f, "SKIP {}: {reason}", self.path)?,
            (Verdict::Fail(fail), divergence) => {
                match divergence {
                    Some(why) => write!(f, "DIVERGES {} (expected: {why}):", self.path)?,
                    None => write!(f, "FAIL {}:", self.path)?,
                }
                write!(f, "{}: {}", fail.line, fail.message)?;
                if let Some(e) = &fail.expected {
                    write!(f, "; expected: {e}")?;
                }
                if let Some(a) = &fail.actual {
                    write!(f, "; actual: {a}")?;
                }
            }
        }
        if !self.skipped_lines.is_empty() && !matches!(self.verdict, Verdict::Skip(_)) {
            write!(f, " ({})", self.skipped_lines.join("; "))?;
        }
        Ok(())
    }
}

/// Counts over a set of scripts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Scripts that passed.
    pub passed: usize,
    /// Scripts that failed.
    pub failed: usize,
    /// Scripts that were skipped.
    pub skipped: usize,
    /// Scripts that failed as their `divergences` entry says they would.
    pub diverged: usize,
    /// Every result, in the order run.
    pub results: Vec<ScriptResult>,
}

impl Summary {
    /// Add one result to the counts.
    pub fn add(&mut self, r: ScriptResult) {
        match (&r.verdict, r.divergence.is_some()) {
            (Verdict::Pass, false) => self.passed += 1,
            // A listed divergence that passes: the list is wrong.
            (Verdict::Pass, true) => self.failed += 1,
            (Verdict::Fail(_), true) => self.diverged += 1,
            (Verdict::Fail(_), false) => self.failed += 1,
            (Verdict::Skip(_), _) => self.skipped += 1,
        }
        self.results.push(r);
    }

    /// The closing line: `N passed, N failed, N skipped`, and `, N expected
    /// divergences` when there are any.
    pub fn closing_line(&self) -> String {
        let mut line = format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        );
        if self.diverged > 0 {
            line.push_str(&format!(", {} expected divergences", self.diverged));
        }
        line
    }

    /// True when no script failed (the CLI exits non-zero otherwise); expected
    /// divergences are not failures.
    pub fn success(&self) -> bool {
        self.failed == 0
    }
}

/// Run every script in `paths`, writing one line per script and then the closing
/// line to `out`. Returns the counts; the caller decides the exit status.
///
/// A script listed with side `synack` in the `divergences` file of its directory
/// is an expected divergence: its failure is reported as `DIVERGES` and not
/// counted as a failure, while a listed script that passes is (the list must stay
/// true). A `divergences` file that cannot be parsed fails every script beside it.
pub fn run_files<P: AsRef<Path>>(paths: &[P], opts: &RunOptions, out: &mut dyn Write) -> Summary {
    let mut summary = Summary::default();
    let mut lists: HashMap<std::path::PathBuf, Result<Divergences, String>> = HashMap::new();
    for p in paths {
        let p = p.as_ref();
        let dir = p.parent().unwrap_or(Path::new("")).to_path_buf();
        let list = lists
            .entry(dir.clone())
            .or_insert_with(|| Divergences::load_dir(&dir));
        let r = match list {
            Err(e) => ScriptResult {
                path: p.display().to_string(),
                verdict: Verdict::Fail(Failure {
                    line: 0,
                    message: e.clone(),
                    expected: None,
                    actual: None,
                }),
                skipped_lines: Vec::new(),
                divergence: None,
            },
            Ok(list) => {
                let mut r = run_script_file(p, opts);
                let name = p.file_name().map(|n| n.to_string_lossy().to_string());
                if let Some(d) = name.and_then(|n| list.get(&n)) {
                    if d.side == Side::Synack {
                        r.divergence = Some(d.reason.clone());
                    }
                }
                r
            }
        };
        let _ = writeln!(out, "{r}");
        summary.add(r);
    }
    let _ = writeln!(out, "{}", summary.closing_line());
    summary
}

/// Read and run one script file.
pub fn run_script_file(path: &Path, opts: &RunOptions) -> ScriptResult {
    let label = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => run_script_text(&label, &text, opts),
        Err(e) => ScriptResult {
            path: label,
            verdict: Verdict::Fail(Failure {
                line: 0,
                message: format!("cannot read script: {e}"),
                expected: None,
                actual: None,
            }),
            skipped_lines: Vec::new(),
            divergence: None,
        },
    }
}

/// Parse and run a script given as text; `path` only labels the result.
pub fn run_script_text(path: &str, text: &str, opts: &RunOptions) -> ScriptResult {
    match crate::parse_script(text) {
        Ok(script) => run_script(path, &script, opts),
        Err(e) => ScriptResult {
            path: path.to_string(),
            verdict: Verdict::Fail(Failure {
                line: e.line,
                message: format!("parse error: {e}"),
                expected: None,
                actual: None,
            }),
            skipped_lines: Vec::new(),
            divergence: None,
        },
    }
}

/// Run a parsed script.
pub fn run_script(path: &str, script: &Script, opts: &RunOptions) -> ScriptResult {
    let mut skipped_lines = Vec::new();
    let verdict = match Run::new(script, opts) {
        Err(stop) => stop.into_verdict(),
        Ok(mut run) => {
            let v = run.run(script).err().map(Stop::into_verdict);
            skipped_lines = std::mem::take(&mut run.skipped_lines);
            v.unwrap_or(Verdict::Pass)
        }
    };
    ScriptResult {
        path: path.to_string(),
        verdict,
        skipped_lines,
        divergence: None,
    }
}

/// Why a run stopped early.
#[derive(Debug)]
enum Stop {
    Fail(Failure),
    Skip(String),
}

impl Stop {
    fn into_verdict(self) -> Verdict {
        match self {
            Stop::Fail(f) => Verdict::Fail(f),
            Stop::Skip(s) => Verdict::Skip(s),
        }
    }
}

fn fail(line: usize, message: impl Into<String>) -> Stop {
    Stop::Fail(Failure {
        line,
        message: message.into(),
        expected: None,
        actual: None,
    })
}

fn fail_with(line: usize, message: impl Into<String>, expected: String, actual: String) -> Stop {
    Stop::Fail(Failure {
        line,
        message: message.into(),
        expected: Some(expected),
        actual: Some(actual),
    })
}

/// Seconds with microsecond precision, as packetdrill prints times.
fn secs(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// A packet the engine sent and the script has not matched yet.
#[derive(Debug)]
struct Captured {
    time: u64,
    bytes: Vec<u8>,
}

/// What the runner knows of one connection (by local and remote port).
#[derive(Debug, Default)]
struct Flow {
    /// Live ISN minus scripted ISN of the engine's side, once learned.
    local_offset: Option<u32>,
    /// The engine's live ISN, once learned: like packetdrill
    /// (`local_seq_script_to_live_offset`), the engine's sequence numbers in
    /// packets other than SYNs are written relative to it (the scripted ISN
    /// matters only in the SYN itself).
    local_isn: Option<u32>,
    /// Scripted TSval -> live TSval of the engine's packets (packetdrill maps
    /// inbound TS ecr through this).
    ts_map: Vec<(u32, u32)>,
    /// The engine's latest TSval on this connection.
    last_ts_val: Option<u32>,
    /// The remote side's ISN, from the script's SYN or SYN-ACK: like packetdrill
    /// (`remote_seq_script_to_live_offset`), the remote sequence numbers of packets
    /// other than SYNs are written relative to it, and so are the ACK and SACK
    /// numbers of the engine's packets other than SYNs.
    remote_isn: Option<u32>,
}

/// The "socket under test": where a packet line without ports goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sut {
    None,
    /// A listener on this port: an inbound SYN opens a new connection to it.
    Listening(u16),
    /// A `connect` is under way; its SYN will name the connection.
    Connecting,
    /// This connection (local port, remote port).
    Flow(u16, u16),
}

/// One script execution.
struct Run {
    stack: Stack,
    /// [`RunOptions::strict`].
    strict: bool,
    /// Virtual time, microseconds since the script's time 0.
    now: u64,
    tol_usecs: u64,
    tol_percent: f64,
    local_ip: IpAddr,
    remote_ip: IpAddr,
    bind_port: u16,
    connect_port: u16,
    fds: BTreeMap<i64, Fd>,
    flows: HashMap<(u16, u16), Flow>,
    sut: Sut,
    next_ephemeral: u16,
    queue: VecDeque<Captured>,
    pending: Option<Pending>,
    /// Every connection handle the script ever held (for address-in-use checks).
    all_conns: Vec<synack_core::ConnHandle>,
    /// `Incoming` events not yet consumed by `accept`, per listener index.
    incoming: HashMap<usize, usize>,
    skipped_lines: Vec<String>,
    /// Events before the first packet or call (their shell commands configured the
    /// stack already).
    startup_events: usize,
    /// epoll instances by descriptor (epoll.rs).
    epolls: BTreeMap<i64, epoll::Epoll>,
    buf: Vec<u8>,
}

/// Script options the runner honours; others are accepted and ignored.
fn option_u64(script: &Script, name: &str) -> Option<Result<u64, String>> {
    script
        .options
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| {
            v.parse::<u64>()
                .map_err(|_| format!("bad --{name} value `{v}`"))
        })
}

impl Run {
    fn new(script: &Script, opts: &RunOptions) -> Result<Run, Stop> {
        let mut tol_usecs = 4000;
        let mut tol_percent = 12.5;
        let mut bind_port = 8080;
        let mut connect_port = 8080;
        let mut ipv6 = false;
        let mut local_ip: Option<IpAddr> = None;
        let mut remote_ip: Option<IpAddr> = None;
        if let Some(v) = option_u64(script, "tolerance_usecs") {
            tol_usecs = v.map_err(|e| fail(0, e))?;
        }
        if let Some((_, v)) = script
            .options
            .iter()
            .rev()
            .find(|(n, _)| n == "tolerance_percent")
        {
            tol_percent = v
                .parse()
                .map_err(|_| fail(0, format!("bad --tolerance_percent value `{v}`")))?;
        }
        if let Some(v) = option_u64(script, "bind_port") {
            bind_port = v.map_err(|e| fail(0, e))? as u16;
        }
        if let Some(v) = option_u64(script, "connect_port") {
            connect_port = v.map_err(|e| fail(0, e))? as u16;
        }
        for (name, value) in &script.options {
            match name.as_str() {
                "ip_version" => match value.as_str() {
                    "ipv4" | "ipv4-mapped-ipv6" => ipv6 = false,
                    "ipv6" => ipv6 = true,
                    other => return Err(fail(0, format!("bad --ip_version `{other}`"))),
                },
                "local_ip" => {
                    local_ip = Some(value.parse().map_err(|_| fail(0, "bad --local_ip"))?)
                }
                "remote_ip" => {
                    let v = value.split('/').next().unwrap_or(value);
                    remote_ip = Some(v.parse().map_err(|_| fail(0, "bad --remote_ip"))?)
                }
                "wire_client" | "wire_server" | "so_filename" => {
                    return Err(Stop::Skip(format!("option --{name} is not supported")))
                }
                _ => {}
            }
        }
        if let Some(t) = opts.tolerance_usecs {
            tol_usecs = t;
        }
        let local_ip = local_ip.unwrap_or(if ipv6 {
            "fd3d:fa7b:d17d::1".parse().expect("literal")
        } else {
            "192.168.0.1".parse().expect("literal")
        });
        let remote_ip = remote_ip.unwrap_or(if ipv6 {
            "2001:db8::1".parse().expect("literal")
        } else {
            "192.0.2.1".parse().expect("literal")
        });
        if local_ip.is_ipv4() != remote_ip.is_ipv4() {
            return Err(fail(0, "--local_ip and --remote_ip differ in family"));
        }
        let mut config = Config {
            tso_max: TSO_MAX,
            fastopen: fastopen::DEFAULT_FASTOPEN,
            ecn: fastopen::DEFAULT_ECN,
            fastopen_key: synack_core::fastopen::parse_key(fastopen::DEFAULT_KEY).map(|k| k.0),
            ..Config::linux()
        };
        // Shell commands before the first event configure the stack it starts with.
        let mut skipped_lines = Vec::new();
        let mut startup_events = 0;
        for e in &script.events {
            match &e.kind {
                EventKind::Command(c) => {
                    let effect = fastopen::interpret_command(c, &mut config);
                    if !effect.ignored.is_empty() {
                        skipped_lines.push(format!(
                            "line {}: shell command: ignored {}",
                            e.line,
                            effect.ignored.join(", ")
                        ));
                    }
                }
                EventKind::Code(_) => {}
                _ => break,
            }
            startup_events += 1;
        }
        let mut stack = Stack::new(config, *b"packetdrill-run!");
        stack.add_address(local_ip);
        let buf = vec![0u8; stack.max_packet_size()];
        Ok(Run {
            stack,
            strict: opts.strict,
            now: 0,
            tol_usecs,
            tol_percent,
            local_ip,
            remote_ip,
            bind_port,
            connect_port,
            fds: BTreeMap::new(),
            flows: HashMap::new(),
            sut: Sut::None,
            next_ephemeral: 48_000,
            queue: VecDeque::new(),
            pending: None,
            all_conns: Vec::new(),
            incoming: HashMap::new(),
            skipped_lines,
            startup_events,
            epolls: BTreeMap::new(),
            buf,
        })
    }

    fn instant(&self) -> Instant {
        Instant::from_micros(self.now)
    }

    /// The tolerance for an event `gap` microseconds after the previous one.
    fn tolerance(&self, gap: u64) -> u64 {
        let dynamic = (self.tol_percent / 100.0 * gap as f64) as u64;
        self.tol_usecs.max(dynamic)
    }

    fn run(&mut self, script: &Script) -> Result<(), Stop> {
        let runnable = script
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Packet(_) | EventKind::Syscall(_)))
            .count();
        for e in &script.events {
            if let EventKind::Code(_) = &e.kind {
                self.skipped_lines
                    .push(format!("line {}: skipped python code block", e.line));
            }
        }
        if runnable == 0 {
            return Err(Stop::Skip(if self.skipped_lines.is_empty() {
                "no events".to_string()
            } else {
                format!("nothing to run ({})", self.skipped_lines.join("; "))
            }));
        }
        // Script time of the previous event, and whether it was an inbound packet.
        let mut last_time = 0u64;
        let mut last_inbound = false;
        for (i, e) in script.events.iter().enumerate() {
            let inbound =
                matches!(&e.kind, EventKind::Packet(p) if p.direction == Direction::Inbound);
            let base = if inbound && last_inbound {
                last_time
            } else {
                self.now
            };
            let (start, end, any) = match e.time {
                EventTime::Absolute(t) => (t, t, false),
                EventTime::Relative(d) => (base + d, base + d, false),
                EventTime::Any => (self.now, u64::MAX, true),
                EventTime::AbsoluteRange { start_us, end_us } => (start_us, end_us, false),
                EventTime::RelativeRange { start_us, end_us } => {
                    (base + start_us, base + end_us, false)
                }
                EventTime::Untimed => continue,
            };
            let tol = self.tolerance(start.saturating_sub(last_time));
            match &e.kind {
                EventKind::Command(c) => {
                    if i >= self.startup_events {
                        self.advance_to(start)?;
                        self.run_command(e.line, c);
                    }
                    continue;
                }
                EventKind::Code(_) => continue,
                EventKind::Packet(p) => match (&p.body, p.direction) {
                    (PacketBody::Tcp(t), Direction::Inbound) => {
                        self.advance_to(start)?;
                        self.check_unexpected(e.line, start)?;
                        self.inject(e, p, t)?;
                    }
                    (PacketBody::Tcp(t), Direction::Outbound) => {
                        self.expect_outbound(e, p, t, start, end, any, tol)?;
                    }
                    (PacketBody::Udp { .. }, _) => {
                        return Err(Stop::Skip(format!("line {}: UDP is not supported", e.line)))
                    }
                    (PacketBody::Icmp(_), Direction::Outbound) => {
                        return Err(Stop::Skip(format!(
                            "line {}: outbound ICMP is not supported",
                            e.line
                        )))
                    }
                    (PacketBody::Icmp(icmp), Direction::Inbound) => {
                        self.advance_to(start)?;
                        self.check_unexpected(e.line, start)?;
                        self.inject_icmp(e, p, icmp)?;
                    }
                },
                EventKind::Syscall(s) => {
                    self.finish_pending(Some(e.line))?;
                    self.advance_to(start)?;
                    self.check_unexpected(e.line, start)?;
                    let end_time = s.end_us.map(|end| match e.time {
                        EventTime::Relative(_) | EventTime::RelativeRange { .. } => base + end,
                        _ => end,
                    });
                    self.start_syscall(e, s, end_time, tol)?;
                }
            }
            last_time = start;
            last_inbound = inbound;
        }
        self.finish_pending(None)?;
        // Upstream packetdrill never looks past the last `>` line; strict mode does,
        // for as long as packetdrill waits for a packet a `+0 >` line expects.
        if !self.strict {
            return Ok(());
        }
        self.advance_to(self.now + STRICT_QUIET_USECS)?;
        if let Some(c) = self.queue.pop_front() {
            let line = script.events.last().map_or(0, |e| e.line);
            return Err(fail_with(
                line,
                "unexpected outbound packet after the last event",
                "no more packets".to_string(),
                format!("{} at {} s", self.describe(&c.bytes), secs(c.time)),
            ));
        }
        Ok(())
    }

    // ------------------------------------------------------------ time

    /// Send everything the engine has to send now into the capture queue.
    fn drain(&mut self) {
        let now = self.instant();
        while let Some(tx) = self.stack.poll_transmit(now, &mut self.buf) {
            if self.stack.egress_blocked() {
                // A qdisc that drops everything (`tc qdisc ... limit 0`).
                continue;
            }
            self.queue.push_back(Captured {
                time: self.now,
                bytes: self.buf[..tx.len].to_vec(),
            });
        }
        while let Some(ev) = self.stack.poll_event() {
            use synack_core::Event as E;
            if let E::Incoming(l) = ev {
                *self.incoming.entry(l.index()).or_default() += 1;
            }
            if self.epolls.is_empty() {
                continue;
            }
            // Socket news puts the descriptor's epoll items on the ready list.
            let hit: Vec<i64> = self
                .fds
                .iter()
                .filter(|(_, f)| match (ev, f.kind) {
                    (E::Incoming(l), syscall::FdKind::Listener(m)) => l == m,
                    (
                        E::Readable(h) | E::Writable(h) | E::Connected(h) | E::Closed(h, _),
                        syscall::FdKind::Conn(c),
                    ) => h == c,
                    _ => false,
                })
                .map(|(n, _)| *n)
                .collect();
            for n in hit {
                self.epoll_wake(n);
            }
        }
    }

    /// Run the earliest due engine timer, or the pending call's own timeout, if it
    /// is not after `limit`. Returns false when nothing is due by then.
    fn step_timer(&mut self, limit: u64) -> Result<bool, Stop> {
        let engine = self.stack.poll_timeout().map(Instant::total_micros);
        let wake = self.pending.as_ref().and_then(|p| p.wake_at);
        let next = match (engine, wake) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match next {
            Some(t) if t <= limit => {
                self.now = self.now.max(t);
                if engine.is_some_and(|d| d <= self.now) {
                    self.stack.handle_timeout(self.instant());
                    self.drain();
                }
                self.retry_pending()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Move virtual time to `t`, firing every timer due on the way.
    fn advance_to(&mut self, t: u64) -> Result<(), Stop> {
        let mut guard = 0u32;
        while self.step_timer(t)? {
            guard += 1;
            if guard > 1_000_000 {
                return Err(fail(0, "engine timers do not make progress"));
            }
        }
        self.now = self.now.max(t);
        Ok(())
    }

    /// Strict mode: a packet the engine sent well before an event that is not a
    /// `>` line is one the script did not expect. (By default it stays queued and
    /// the next `>` line judges it, as in upstream packetdrill.)
    fn check_unexpected(&mut self, line: usize, t: u64) -> Result<(), Stop> {
        if !self.strict {
            return Ok(());
        }
        if let Some(c) = self.queue.front() {
            if c.time + self.tol_usecs < t {
                return Err(fail_with(
                    line,
                    format!(
                        "unexpected outbound packet at {} s, before this event at {} s",
                        secs(c.time),
                        secs(t)
                    ),
                    "no packet".to_string(),
                    self.describe(&c.bytes),
                ));
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ packets

    /// The engine's packet in script notation.
    fn describe(&self, bytes: &[u8]) -> String {
        match parse_outbound(bytes) {
            Ok(o) => {
                // An ISN not learned yet: show a SYN relative to itself.
                let off = self
                    .flows
                    .get(&(o.src.port(), o.dst.port()))
                    .and_then(|f| f.local_offset)
                    .unwrap_or(if o.syn() { o.seq } else { 0 });
                o.to_script(off).to_string()
            }
            Err(e) => format!("unparsable packet ({e})"),
        }
    }

    /// Whether a packet the engine sent belongs to the socket under test, or is the
    /// SYN of a connection being opened: upstream packetdrill
    /// (`sniff_outbound_live_packet`) drops every other packet unseen, such as the
    /// FIN of a socket the script closed before it opened the next one.
    fn for_socket_under_test(&self, bytes: &[u8]) -> bool {
        let Ok(o) = parse_outbound(bytes) else {
            return true;
        };
        match self.sut {
            Sut::Flow(l, r) => (o.src.port(), o.dst.port()) == (l, r) || o.syn(),
            Sut::Connecting => o.syn(),
            Sut::None | Sut::Listening(_) => true,
        }
    }

    fn new_remote_port(&mut self) -> u16 {
        let p = self.next_ephemeral;
        self.next_ephemeral = self.next_ephemeral.wrapping_add(1).max(1024);
        p
    }

    /// The connection (local port, remote port) an inbound line goes to.
    fn inbound_flow(&mut self, p: &PacketEvent) -> (u16, u16) {
        if let Some(ep) = &p.endpoints {
            let key = (ep.dst_port, ep.src_port);
            self.flows.entry(key).or_default();
            self.sut = Sut::Flow(key.0, key.1);
            return key;
        }
        let key = match self.sut {
            Sut::Flow(l, r) => (l, r),
            Sut::Listening(port) => (port, self.new_remote_port()),
            Sut::None | Sut::Connecting => (self.bind_port, self.new_remote_port()),
        };
        self.flows.entry(key).or_default();
        self.sut = Sut::Flow(key.0, key.1);
        key
    }

    fn inject(&mut self, e: &Event, p: &PacketEvent, t: &TcpSegmentSpec) -> Result<(), Stop> {
        if !p.encapsulation.is_empty() {
            return Err(Stop::Skip(format!(
                "line {}: IP encapsulation is not supported",
                e.line
            )));
        }
        let key = self.inbound_flow(p);
        let syn = t.flags.syn;
        if syn {
            self.flows.entry(key).or_default().remote_isn = Some(t.seq_start);
        }
        let flow = self.flows.get(&key);
        let offset = if syn {
            flow.and_then(|f| f.local_offset)
        } else {
            flow.and_then(|f| f.local_isn.or(f.local_offset))
        }
        .unwrap_or(0);
        let remote_isn = if syn {
            0
        } else {
            flow.and_then(|f| f.remote_isn).unwrap_or(0)
        };
        let ts_map: Vec<(u32, u32)> = flow.map(|f| f.ts_map.clone()).unwrap_or_default();
        let last_ts = flow.and_then(|f| f.last_ts_val);
        // packetdrill maps the script's TS ecr to the live TSval the engine sent for
        // that scripted TSval; lacking one, it shifts the script's value by the
        // latest scripted-to-live offset (so an ecr the engine never sent stays one,
        // as upstream's offset mapping keeps it), else echoes the latest TSval.
        let map_ecr = |ecr: u32| {
            if ecr == 0 {
                return 0;
            }
            if let Some((_, l)) = ts_map.iter().rev().find(|(s, _)| *s == ecr) {
                return *l;
            }
            match ts_map.last() {
                Some((s, l)) => l.wrapping_add(ecr.wrapping_sub(*s)),
                None => last_ts.unwrap_or(ecr),
            }
        };
        let opts = encode_options(t.options.as_deref().unwrap_or(&[]), offset, map_ecr);
        let bytes = build_tcp(&InboundTcp {
            src: SocketAddr::new(self.remote_ip, key.1),
            dst: SocketAddr::new(self.local_ip, key.0),
            seq: t.seq_start.wrapping_add(remote_isn),
            ack: t.ack.map_or(0, |a| a.wrapping_add(offset)),
            flags: &t.flags,
            window: t.window.unwrap_or(0),
            urgent: t.urgent.unwrap_or(0),
            options: &opts,
            payload_len: usize::from(t.payload_len),
            tos: inbound_tos(p.ip.tos),
            ttl: p.ip.ttl.unwrap_or(64),
        })
        .map_err(|m| fail(e.line, m))?;
        self.stack.handle_packet(self.instant(), &bytes);
        self.drain();
        self.retry_pending()
    }

    fn inject_icmp(
        &mut self,
        e: &Event,
        p: &PacketEvent,
        icmp: &crate::ast::IcmpSpec,
    ) -> Result<(), Stop> {
        use synack_wire::IcmpKind;
        let v6 = self.local_ip.is_ipv6();
        let kind = match (icmp.icmp_type.as_str(), icmp.code.as_deref()) {
            ("unreachable", Some("frag_needed")) | ("packet_too_big", _) => {
                IcmpKind::PacketTooBig {
                    mtu: icmp.mtu.unwrap_or(1280),
                }
            }
            ("unreachable" | "destination_unreachable", code) => {
                // packetdrill's code names (its icmp_packet.c tables: ICMPv4, and
                // for an IPv6 script the ICMPv6 ones of RFC 4443 §3.1); a code it does
                // not name is host unreachable / address unreachable.
                let c = if v6 {
                    match code {
                        Some("net_unreachable" | "no_route") => 0,
                        Some("admin_prohibited") => 1,
                        Some("not_neighbour") => 2,
                        Some("port_unreachable") => 4,
                        _ => 3,
                    }
                } else {
                    match code {
                        Some("net_unreachable") => 0,
                        Some("protocol_unreachable") => 2,
                        Some("port_unreachable") => 3,
                        Some("source_route_failed") => 5,
                        Some("net_unknown") => 6,
                        Some("host_unknown") => 7,
                        Some("source_host_isolated") => 8,
                        Some("net_prohibited") => 9,
                        Some("host_prohibited") => 10,
                        Some("net_unreachable_for_tos") => 11,
                        Some("host_unreachable_for_tos") => 12,
                        Some("packet_filtered") => 13,
                        Some("precedence_violation") => 14,
                        Some("precedence_cutoff") => 15,
                        _ => 1,
                    }
                };
                let hard = if v6 {
                    synack_wire::icmp::v6_unreachable_is_hard(c)
                } else {
                    synack_wire::icmp::v4_unreachable_is_hard(c)
                };
                IcmpKind::DestUnreachable { code: c, hard }
            }
            ("time_exceeded", _) => IcmpKind::TimeExceeded,
            (other, _) => {
                return Err(Stop::Skip(format!(
                    "line {}: ICMP type `{other}` is not supported",
                    e.line
                )))
            }
        };
        let key = self.inbound_flow(p);
        let offset = self
            .flows
            .get(&key)
            .and_then(|f| f.local_offset)
            .unwrap_or(0);
        let seq = match icmp.echoed {
            Some(crate::ast::IcmpEchoed::Tcp { seq_start, .. }) => seq_start,
            _ => 0,
        };
        // The quoted packet: our segment to the remote (RFC 792: IP header + 8 bytes).
        let flags = crate::ast::TcpFlags::from_spec(".").expect("literal");
        let quoted = build_tcp(&InboundTcp {
            src: SocketAddr::new(self.local_ip, key.0),
            dst: SocketAddr::new(self.remote_ip, key.1),
            seq: seq.wrapping_add(offset),
            ack: 0,
            flags: &flags,
            window: 0,
            urgent: 0,
            options: &[],
            payload_len: 0,
            tos: 0,
            ttl: 64,
        })
        .map_err(|m| fail(e.line, m))?;
        let mut out = vec![0u8; 1500];
        let n = synack_wire::IcmpRepr::emit_packet(
            kind,
            self.remote_ip,
            self.local_ip,
            &quoted,
            &mut out,
        )
        .map_err(|err| fail(e.line, format!("cannot build ICMP packet: {err}")))?;
        self.stack.handle_packet(self.instant(), &out[..n]);
        self.drain();
        self.retry_pending()
    }

    #[allow(clippy::too_many_arguments)]
    fn expect_outbound(
        &mut self,
        e: &Event,
        p: &PacketEvent,
        t: &TcpSegmentSpec,
        start: u64,
        end: u64,
        any: bool,
        tol: u64,
    ) -> Result<(), Stop> {
        let deadline = if any {
            u64::MAX
        } else {
            end.saturating_add(tol)
        };
        let next = loop {
            while self.queue.is_empty() {
                if !self.step_timer(deadline)? {
                    break;
                }
            }
            let Some(c) = self.queue.pop_front() else {
                break None;
            };
            if self.strict || self.for_socket_under_test(&c.bytes) {
                break Some(c);
            }
        };
        let Some(c) = next else {
            // Nothing by the deadline: look further ahead to say what came instead.
            let mut steps = 0;
            while self.queue.is_empty() && steps < 10_000 && self.step_timer(u64::MAX)? {
                steps += 1;
            }
            let (message, actual) = match self.queue.front() {
                Some(c) => (
                    format!(
                        "timing error: expected outbound packet at {} s (tolerance {} s) but the next packet was sent at {} s",
                        secs(start),
                        secs(tol),
                        secs(c.time)
                    ),
                    format!("{} at {} s", self.describe(&c.bytes), secs(c.time)),
                ),
                None => (
                    format!(
                        "expected outbound packet at {} s (tolerance {} s) was not sent",
                        secs(start),
                        secs(tol)
                    ),
                    "no packet at all".to_string(),
                ),
            };
            return Err(fail_with(e.line, message, p.to_string(), actual));
        };
        self.now = self.now.max(c.time);
        let mut o = parse_outbound(&c.bytes).map_err(|m| fail(e.line, m))?;
        let mut c = c;
        if o.payload_len > 0 && o.payload_len < usize::from(t.payload_len) {
            let (last, time) = self.aggregate(e.line, &o, usize::from(t.payload_len), deadline)?;
            o = last;
            c.time = time;
        }
        let key = (o.src.port(), o.dst.port());
        let flow = self.flows.entry(key).or_default();
        // The ISN is learned from the first SYN of the connection and kept, as
        // upstream packetdrill keeps it: a later incarnation on the same ports
        // (TIME-WAIT reuse, a new SYN after an RST) is judged against it.
        if o.syn() && flow.local_offset.is_none() {
            flow.local_offset = Some(o.seq.wrapping_sub(t.seq_start));
            flow.local_isn = Some(o.seq);
        }
        let offset = if o.syn() {
            flow.local_offset
        } else {
            flow.local_isn.or(flow.local_offset)
        }
        .unwrap_or(0);
        if let (Some(live), Some(script)) = (o.ts_val(), script_ts_val(t)) {
            flow.ts_map.push((script, live));
        }
        if let Some(live) = o.ts_val() {
            flow.last_ts_val = Some(live);
        }
        if o.syn() && self.sut == Sut::Connecting {
            self.sut = Sut::Flow(key.0, key.1);
        }
        let remote_isn = if o.syn() {
            0
        } else {
            flow.remote_isn.unwrap_or(0)
        };
        let mut mapped = o.clone();
        mapped.seq = o.seq.wrapping_sub(offset);
        mapped.ack = o.ack.wrapping_sub(remote_isn);
        mapped.unoffset_sacks(remote_isn);
        let shown = format!("{} at {} s", mapped.to_script(0), secs(c.time));
        if let Err(m) = compare(p, t, &mapped) {
            return Err(fail_with(e.line, m, p.to_string(), shown));
        }
        if !any && (c.time + tol < start || c.time > end.saturating_add(tol)) {
            let when = if start == end {
                format!("at {} s", secs(start))
            } else {
                format!("in {}~{} s", secs(start), secs(end))
            };
            return Err(fail_with(
                e.line,
                format!(
                    "timing error: expected outbound packet {when} but it was sent at {} s; tolerance {} s",
                    secs(c.time),
                    secs(tol)
                ),
                p.to_string(),
                shown,
            ));
        }
        Ok(())
    }
}

impl Run {
    /// Upstream packetdrill's TSO aggregation (`run_packet.c`, on unless
    /// `--strict_segments`): when a `>` line expects more payload than the packet that
    /// came, the packets that follow on the same flow are joined to it until the
    /// payload adds up, so a script written for one super-segment also matches the
    /// smaller ones Linux sizes from its pacing rate. Each piece but the last must be
    /// as long as the one before it; the result has the first piece's sequence
    /// number, the last piece's header otherwise, and the last piece's time.
    fn aggregate(
        &mut self,
        line: usize,
        first: &Outbound,
        expected: usize,
        deadline: u64,
    ) -> Result<(Outbound, u64), Stop> {
        let mut total = first.payload_len;
        let mut prev_len = first.payload_len;
        let mut joined = first.clone();
        let mut time = self.now;
        while total < expected {
            while self.queue.is_empty() {
                if !self.step_timer(deadline)? {
                    break;
                }
            }
            let Some(next) = self.queue.front() else {
                break;
            };
            let Ok(n) = parse_outbound(&next.bytes) else {
                break;
            };
            let next_seq = first.seq.wrapping_add(total as u32);
            if n.src != first.src || n.dst != first.dst || n.seq != next_seq || n.payload_len == 0 {
                break;
            }
            if n.payload_len < expected - total && n.payload_len != prev_len {
                return Err(fail(
                    line,
                    format!(
                        "fragment payload: expected {prev_len} bytes vs actual {} bytes; total payload: expected {expected} bytes vs actual {} bytes",
                        n.payload_len,
                        total + n.payload_len
                    ),
                ));
            }
            time = next.time;
            self.now = self.now.max(time);
            self.queue.pop_front();
            total += n.payload_len;
            prev_len = n.payload_len;
            joined = n;
        }
        joined.seq = first.seq;
        joined.payload_len = total;
        Ok((joined, time))
    }
}

fn script_ts_val(t: &TcpSegmentSpec) -> Option<u32> {
    t.options.as_ref()?.iter().find_map(|o| match o {
        crate::ast::OptionSpec::Timestamp { val, .. } => Some(*val),
        _ => None,
    })
}

#[cfg(test)]
mod tests;
