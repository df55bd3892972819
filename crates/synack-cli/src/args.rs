//! Command-line flags of every subcommand (clap derive).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// synack: a userspace TCP/IP stack. Watch a connection's whole life as a ladder
/// diagram, or use the stack for real over a TUN device.
#[derive(Debug, Parser)]
#[command(name = "synack", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run one connection between a client and a server on a simulated network, in
    /// virtual time, and draw its life as a ladder diagram.
    Demo(DemoArgs),
    /// Draw the ladder (and SVGs) of the TCP connections in a pcap or pcapng capture.
    Trace(TraceArgs),
    /// Serve TCP on a TUN device: echo, discard, or files over HTTP.
    Serve(ServeArgs),
    /// Connect to HOST:PORT over a TUN device and copy stdin / stdout (like nc), or fetch
    /// a path over HTTP.
    Connect(ConnectArgs),
    /// Accept every TCP connection arriving on a TUN device, whatever its destination,
    /// echo its bytes and log the original destination (tun2socks style).
    Intercept(InterceptArgs),
    /// Forward every TCP connection and UDP flow arriving on a TUN device to its
    /// destination through a SOCKS5 proxy (CONNECT, UDP ASSOCIATE) or the host's own
    /// sockets (--direct). A TCP connection is answered only once the upstream
    /// connected: a refusal reaches the client as "connection refused".
    Tun2socks(Tun2socksArgs),
    /// Run packetdrill scripts against the engine, in virtual time.
    Packetdrill(PacketdrillArgs),
    /// Benchmark synack against smoltcp in the same run: bulk throughput, idle
    /// connections, churn, memory, and (as root, on Linux) kernel ↔ synack over TUN
    /// next to smoltcp on the same TUN setup and kernel ↔ kernel over veth. Prints a
    /// table with ratios.
    Bench(BenchArgs),
    /// Join two TUN devices with an emulated WAN path (delay, jitter, rate with a
    /// drop-tail queue, random and bursty loss, duplication, reordering), each
    /// direction configurable. The impairments are the simulator's link model, run on
    /// the wall clock. Runs until Ctrl-C (or --duration), then prints the counters.
    Link(LinkArgs),
}

/// `synack link`: the impairments of both directions, then per-direction overrides.
#[derive(Debug, Args)]
pub(crate) struct LinkArgs {
    /// First TUN device (created if missing: plain, no offloads, no address).
    #[arg(long = "a", value_name = "TUN")]
    pub(crate) a: String,
    /// Second TUN device.
    #[arg(long = "b", value_name = "TUN")]
    pub(crate) b: String,
    /// One-way delay each way: 25ms, 500us, 1s.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub(crate) delay: Option<String>,
    /// Extra delay drawn uniformly from [0, TIME] per packet (reorders packets).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub(crate) jitter: Option<String>,
    /// Rate limit each way: 800kbit, 100mbit, 1gbit.
    #[arg(long, value_name = "RATE", allow_hyphen_values = true)]
    pub(crate) rate: Option<String>,
    /// Drop-tail queue with --rate: bytes (64K, 1M, 1500) or bandwidth-delay products
    /// of the round trip (1bdp, 8bdp). Default 1bdp.
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub(crate) queue: Option<String>,
    /// Random loss per packet, as a percentage below 100: 1%, 0.5%.
    #[arg(long, value_name = "PERCENT", allow_hyphen_values = true)]
    pub(crate) loss: Option<String>,
    /// Bursty (Gilbert) loss: mean loss and mean burst length in packets, 0.5%:2.
    #[arg(long, value_name = "PERCENT[:BURST]", allow_hyphen_values = true)]
    pub(crate) burst_loss: Option<String>,
    /// Probability that a packet is delivered twice: 1%.
    #[arg(long, value_name = "PERCENT", allow_hyphen_values = true)]
    pub(crate) duplicate: Option<String>,
    /// Probability that a packet is held back by --reorder-delay: 1%.
    #[arg(long, value_name = "PERCENT", allow_hyphen_values = true)]
    pub(crate) reorder: Option<String>,
    /// Extra delay of a reordered packet (default 5ms).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub(crate) reorder_delay: Option<String>,
    /// MTU of the devices and of the link, bytes (default 1500).
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub(crate) mtu: Option<String>,
    /// Overrides for the A → B direction only: key=value,... with the keys above
    /// (delay, jitter, rate, queue, loss, burst-loss, duplicate, reorder,
    /// reorder-delay, mtu), e.g. --ab rate=10mbit,loss=2%.
    #[arg(long, value_name = "LIST", allow_hyphen_values = true)]
    pub(crate) ab: Option<String>,
    /// Overrides for the B → A direction only (as --ab).
    #[arg(long, value_name = "LIST", allow_hyphen_values = true)]
    pub(crate) ba: Option<String>,
    /// Seed of the link's random decisions.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Stop after this long (e.g. 30s) instead of at Ctrl-C.
    #[arg(long, value_name = "TIME")]
    pub(crate) duration: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// A run of under a minute (smaller transfers, one repetition).
    #[arg(long)]
    pub(crate) quick: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Repetitions per figure (the median is reported); default 1 quick, 5 full. In
    /// the WAN rows: seeds of the emulator's random draws on P2, P3 and P5 (default 3
    /// full, 1 quick), each figure the median over them.
    #[arg(long, default_value_t = 0)]
    pub(crate) reps: usize,
    /// Run only one group of rows: `in-process` (synack vs smoltcp over an in-memory
    /// link, no root needed) or `tun` (the kernel as the peer over TUN, synack vs
    /// smoltcp, with kernel ↔ kernel over veth as reference; needs root, otherwise
    /// each row says why it did not run) or `wan` (goodput over emulated WAN paths
    /// P1–P6 through the link emulator: kernel ↔ kernel with CUBIC and BBR, kernel ↔
    /// synack, kernel ↔ smoltcp, synack sharing a bottleneck with CUBIC; needs root)
    /// or `flood` (hping3 SYN-floods `synack serve` and a kernel listener while a
    /// kernel client keeps connecting; needs root and hping3) or `tun2socks` (a
    /// kernel client through synack's tun2socks forwarder to a kernel server, Gbit/s
    /// and connections per second, beside kernel ↔ kernel over veth; needs root).
    #[arg(long, value_name = "GROUP", default_value = "all")]
    pub(crate) only: synack_bench::Scenarios,
    /// Congestion control of the kernel's TCP in the TUN rows (e.g. `cubic`, `bbr`;
    /// one of net.ipv4.tcp_available_congestion_control). Default: the system's.
    #[arg(long, value_name = "NAME")]
    pub(crate) kernel_cc: Option<String>,
    /// Congestion control(s) of synack's sender in the WAN rows, comma-separated
    /// (`cubic`, `reno`, `bbr`): one synack → kernel row each, against kernel → kernel
    /// with the same one. Default: cubic,bbr.
    #[arg(long, value_name = "NAME[,NAME]", value_delimiter = ',', value_parser = parse_cc)]
    pub(crate) cc: Vec<synack_core::cc::Algorithm>,
    /// Seconds of SYN flood per listener in the flood rows (default 30; 10 with
    /// --quick).
    #[arg(long, value_name = "SECS", value_parser = parse_flood_secs)]
    pub(crate) flood_secs: Option<f64>,
    /// WAN profiles to run, comma-separated (`P1` … `P6`; e.g. `--profile P3,P6`).
    /// Default: all.
    #[arg(long, value_name = "ID[,ID]", value_delimiter = ',', value_parser = parse_profile)]
    pub(crate) profile: Vec<String>,
}

/// `--profile`: one of the WAN profiles' ids, P1 to P6.
fn parse_profile(s: &str) -> Result<String, String> {
    let id = s.trim().to_ascii_uppercase();
    if matches!(id.as_str(), "P1" | "P2" | "P3" | "P4" | "P5" | "P6") {
        Ok(id)
    } else {
        Err(format!("{s:?} is not a WAN profile (P1 to P6)"))
    }
}

/// `--flood-secs`: a positive number of seconds, at most an hour.
fn parse_flood_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a number of seconds between 0 and 3600"
        )),
    }
}

#[derive(Debug, Args)]
pub(crate) struct PacketdrillArgs {
    /// Timing tolerance in microseconds (overrides the scripts' --tolerance_usecs).
    #[arg(long = "tolerance_usecs", alias = "tolerance-usecs", value_name = "N")]
    pub(crate) tolerance_usecs: Option<u64>,
    /// Also fail on packets no `>` line took: ones sent well before an inbound packet
    /// or a call, and ones sent by the end of the script (upstream packetdrill checks
    /// neither).
    #[arg(long)]
    pub(crate) strict: bool,
    /// Script files (.pkt) or directories of them.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
}

/// The TUN device and synack's address on it.
#[derive(Debug, Args)]
pub(crate) struct TunArgs {
    /// TUN device name. If it exists it is attached as configured; otherwise synack
    /// creates it and gives the kernel the first host address of each prefix.
    #[arg(long, value_name = "NAME")]
    pub(crate) tun: String,
    /// synack's own address with prefix, e.g. 10.0.0.2/24 (repeat for IPv6: fd42::2/64).
    #[arg(long = "addr", value_name = "CIDR", required = true)]
    pub(crate) addrs: Vec<synack::IpCidr>,
    /// The kernel's address on a device synack creates (default: first host of the prefix).
    #[arg(long = "host-addr", value_name = "IP")]
    pub(crate) host_addrs: Vec<std::net::IpAddr>,
    /// MTU of a device synack creates.
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u16).range(576..))]
    pub(crate) mtu: u16,
    /// Capture every packet crossing the device into this pcap file.
    #[arg(long)]
    pub(crate) pcap: Option<PathBuf>,
    /// Print every segment and state change as it happens (to stderr).
    #[arg(long)]
    pub(crate) trace: bool,
    /// Drop this fraction (0.05) or percent (5%) of the packets crossing synack's side
    /// of the device, in both directions, to test recovery against a real peer.
    #[arg(long = "drop", value_name = "P", default_value = "0", value_parser = parse_prob, allow_negative_numbers = true)]
    pub(crate) drop: f64,
    /// Lower bound of the retransmission timeout (default 200ms, as Linux). A lower
    /// bound shortens the stalls after a lost tail segment on a very short path.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) rto_min: Option<Duration>,
    /// Seed of the `--drop` choices (the same seed drops the same packet positions).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub(crate) drop_seed: u64,
    /// Use TUN offloads (vnet_hdr): exchange TCP super-segments of up to 64 KiB with
    /// the kernel (TSO/GRO, checksum offload). Not with --drop.
    #[arg(long)]
    pub(crate) offload: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["echo", "discard", "http"])))]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) tun: TunArgs,
    /// Port to listen on.
    #[arg(long)]
    pub(crate) port: u16,
    /// Echo every byte back.
    #[arg(long)]
    pub(crate) echo: bool,
    /// Read and drop every byte.
    #[arg(long)]
    pub(crate) discard: bool,
    /// Serve the files under DIR over HTTP/1.1 (GET, HEAD).
    #[arg(long, value_name = "DIR")]
    pub(crate) http: Option<PathBuf>,
    /// Exit after serving this many connections (default: run until interrupted).
    #[arg(long)]
    pub(crate) count: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    #[command(flatten)]
    pub(crate) tun: TunArgs,
    /// Where to connect: `10.0.0.1:8080` or `[fd42::1]:8080`.
    pub(crate) target: std::net::SocketAddr,
    /// Fetch this path with HTTP/1.1 GET and write the body to stdout.
    #[arg(long, value_name = "PATH")]
    pub(crate) http_get: Option<String>,
    /// Upload this file instead of stdin.
    #[arg(long, value_name = "FILE")]
    pub(crate) send_file: Option<PathBuf>,
    /// Give up connecting after this long (e.g. 5s). Default: when TCP gives up,
    /// after its SYN retransmissions (about 2 minutes).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) timeout: Option<Duration>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("upstream").required(true).args(["socks5", "direct"])))]
pub(crate) struct Tun2socksArgs {
    #[command(flatten)]
    pub(crate) tun: TunArgs,
    /// The SOCKS5 proxy: HOST:PORT, or USER:PASS@HOST:PORT for username/password
    /// authentication (RFC 1929); a socks5:// prefix is accepted, and %XX escapes in
    /// USER and PASS (for ':' or '@' in them).
    #[arg(long, value_name = "[USER:PASS@]HOST:PORT")]
    pub(crate) socks5: Option<String>,
    /// Use the host's own sockets instead of a proxy.
    #[arg(long)]
    pub(crate) direct: bool,
    /// Send DNS (port 53, UDP and TCP) to this server, whatever server was asked.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) dns: Option<String>,
    /// How long an upstream connection may take before the client's SYN is dropped.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub(crate) connect_timeout: Duration,
}

#[derive(Debug, Args)]
pub(crate) struct InterceptArgs {
    #[command(flatten)]
    pub(crate) tun: TunArgs,
    /// Exit after this many connections (default: run until interrupted).
    #[arg(long)]
    pub(crate) count: Option<u64>,
}

/// Output format of a ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Terminal ladder diagram.
    Text,
    /// Every event as JSON.
    Json,
    /// A Mermaid sequence diagram.
    Mermaid,
}

/// Who closes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CloseArg {
    /// The client closes first (it ends in TIME-WAIT).
    Client,
    /// The server closes first.
    Server,
    /// Both at once: simultaneous close through CLOSING.
    Both,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Bytes of data each way (accepts suffixes: 64K, 10M; at most 1G, as the demo
    /// holds both streams in memory). 0: a handshake and a close.
    #[arg(long, default_value = "5", value_parser = parse_demo_bytes, allow_negative_numbers = true)]
    pub(crate) bytes: usize,
    /// Random loss on each direction of the link, as a fraction (0.05) or percent (5%).
    #[arg(long, default_value = "0", value_parser = parse_prob, allow_negative_numbers = true)]
    pub(crate) loss: f64,
    /// One-way latency in milliseconds.
    #[arg(long, default_value = "10", value_parser = parse_latency, allow_negative_numbers = true)]
    pub(crate) latency: f64,
    /// Simulation seed (the same seed replays the same run).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = parse_seed)]
    pub(crate) seed: u64,
    /// Who closes first.
    #[arg(long, value_enum, default_value_t = CloseArg::Client)]
    pub(crate) close: CloseArg,
    /// Both sides connect to each other at the same time.
    #[arg(long)]
    pub(crate) simultaneous_open: bool,
    /// TIME-WAIT length (2*MSL), e.g. 60s, 500ms, 2m.
    #[arg(long, default_value = "60s", value_parser = parse_duration, allow_hyphen_values = true)]
    pub(crate) time_wait: Duration,
    /// Maximum segment size (sets the link MTU to MSS + 40).
    #[arg(long, value_parser = clap::value_parser!(u16).range(64..=65495))]
    pub(crate) mss: Option<u16>,
    /// Congestion control of both stacks: cubic (the default, with HyStart++), reno
    /// (NewReno) or bbr (BBR v1, paced)
    #[arg(long, value_name = "NAME", value_parser = parse_cc, default_value = "cubic")]
    pub(crate) cc: synack_core::cc::Algorithm,
    /// Pace data segments (2x / 1.2x cwnd per SRTT, as Linux); BBR always paces
    #[arg(long)]
    pub(crate) pacing: bool,
    /// Rate limit of each direction (`100mbit`, `1gbit`, `800kbit`), with a drop-tail
    /// queue of one bandwidth-delay product unless `--queue` says otherwise
    #[arg(long, value_parser = synack_link::spec::parse_rate)]
    pub(crate) rate: Option<u64>,
    /// Queue of the rate-limited link: bytes (`64K`, `1M`) or bandwidth-delay products
    /// (`2bdp`)
    #[arg(long, value_parser = synack_link::spec::parse_size, requires = "rate")]
    pub(crate) queue: Option<synack_link::spec::Size>,
    /// Both stacks ask for ECN (RFC 3168; Linux `tcp_ecn=1`): new data leaves ECT(0),
    /// CE marks are echoed with ECE and answered with a window reduction and CWR
    #[arg(long)]
    pub(crate) ecn: bool,
    /// CE-mark ECT packets that find this much queued ahead of them on the
    /// rate-limited link: bytes (`16K`) or bandwidth-delay products (`0.25bdp`)
    #[arg(long, value_name = "SIZE", value_parser = synack_link::spec::parse_size, requires = "rate")]
    pub(crate) ce_threshold: Option<synack_link::spec::Size>,
    /// Write every packet to this pcap file (Wireshark / tshark read it).
    #[arg(long)]
    pub(crate) pcap: Option<PathBuf>,
    /// Draw each data sender's cwnd, ssthresh, peer window, bytes in flight and RTT
    /// against time (SVG), recovery shaded, into this file.
    #[arg(long, value_name = "FILE.svg", value_parser = parse_output_file)]
    pub(crate) cwnd_graph: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) draw: DrawArgs,
}

/// A file to write after a run: checked before the run, so a long simulation does not
/// end in a write error. Its directory must exist and it must not be a directory.
pub(crate) fn parse_output_file(s: &str) -> Result<PathBuf, String> {
    if s.trim().is_empty() {
        return Err("an empty file name".into());
    }
    let path = PathBuf::from(s);
    if path.is_dir() {
        return Err(format!("'{s}' is a directory, not a file"));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !parent.is_dir() {
        return Err(format!(
            "no directory '{}' to write '{s}' in",
            parent.display()
        ));
    }
    Ok(path)
}

/// How `demo` and `trace` show a connection: the format on stdout and optional
/// pictures.
#[derive(Debug, Args)]
pub(crate) struct DrawArgs {
    /// Draw the ladder as an SVG image into this file (trace: of the first selected
    /// connection).
    #[arg(long)]
    pub(crate) svg: Option<PathBuf>,
    /// Draw a time-sequence graph (SVG) into this file (trace: of the first selected
    /// connection).
    #[arg(long)]
    pub(crate) seq_graph: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Fit the text ladder in this many columns, at least 40 (long segment labels
    /// wrap under their arrow; below about 75 columns states get rows of their own).
    /// Default: the terminal's width (at least 40) when writing to a terminal,
    /// otherwise unlimited.
    #[arg(long, value_name = "COLUMNS", value_parser = clap::value_parser!(u16).range(40..))]
    pub(crate) width: Option<u16>,
}

impl DrawArgs {
    /// The width to fit the text ladder in: `--width`, else `COLUMNS` when stdout is
    /// a terminal.
    pub(crate) fn text_width(&self) -> Option<usize> {
        use std::io::IsTerminal;
        if let Some(w) = self.width {
            return Some(usize::from(w));
        }
        if !std::io::stdout().is_terminal() {
            return None;
        }
        // The shell's COLUMNS when exported, else the terminal's own width.
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .or_else(|| {
                terminal_size::terminal_size_of(std::io::stdout())
                    .map(|(terminal_size::Width(w), _)| usize::from(w))
            })
            // A terminal narrower than the narrowest ladder gets the narrowest.
            .map(|w| w.max(synack_viz::text::MIN_WIDTH))
    }
}

#[derive(Debug, Args)]
pub(crate) struct TraceArgs {
    /// A pcap file (raw IP, Ethernet, Linux cooked, or loopback link types).
    pub(crate) file: PathBuf,
    /// Draw only this connection (index as listed); default: all.
    #[arg(long)]
    pub(crate) conn: Option<usize>,
    #[command(flatten)]
    pub(crate) draw: DrawArgs,
}

/// The most `demo --bytes` takes: the scenario holds each side's data in memory.
pub(crate) const DEMO_MAX_BYTES: usize = 1 << 30;

/// `parse_size`, at most [`DEMO_MAX_BYTES`].
pub(crate) fn parse_demo_bytes(s: &str) -> Result<usize, String> {
    let n = parse_size(s)?;
    if n > DEMO_MAX_BYTES {
        return Err(format!(
            "'{s}' is more than the demo can hold: at most 1G each way (the simulated hosts keep the data in memory)"
        ));
    }
    Ok(n)
}

/// A seed: a non-negative integer.
/// A congestion-control name as Linux's `TCP_CONGESTION` takes it.
pub(crate) fn parse_cc(s: &str) -> Result<synack_core::cc::Algorithm, String> {
    synack_core::cc::Algorithm::from_name(s)
        .ok_or_else(|| format!("unknown congestion control {s:?} (expected cubic, reno or bbr)"))
}

pub(crate) fn parse_seed(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!("seed must not be negative, got '{s}'"));
    }
    t.parse().map_err(|_| {
        format!(
            "'{s}' is not a seed (a whole number from 0 to {})",
            u64::MAX
        )
    })
}

/// "64K", "10M", "1G", "1500".
pub(crate) fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!("size must not be negative, got '{s}'"));
    }
    let (num, mul) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1usize << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("unknown size suffix in '{s}' (use K, M or G)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: usize = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 5, 64K, 10M)"))?;
    n.checked_mul(mul)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// "0.05" or "5%", in [0, 1).
pub(crate) fn parse_prob(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = if let Some(p) = t.strip_suffix('%') {
        p.trim().parse::<f64>().map(|x| x / 100.0)
    } else {
        t.parse::<f64>()
    }
    .map_err(|_| format!("'{s}' is not a probability (e.g. 0.05 or 5%)"))?;
    if v < 0.0 {
        return Err(format!("loss must not be negative, got '{s}'"));
    }
    if !(0.0..1.0).contains(&v) {
        return Err(format!(
            "loss must be at least 0 and below 1 (100%), got '{s}'"
        ));
    }
    Ok(v)
}

/// Milliseconds, non-negative and finite.
pub(crate) fn parse_latency(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .trim_end_matches("ms")
        .parse()
        .map_err(|_| format!("'{s}' is not a latency in milliseconds"))?;
    if v < 0.0 {
        return Err(format!("latency must not be negative, got '{s}'"));
    }
    if !v.is_finite() || !(0.0..=3_600_000.0).contains(&v) {
        return Err(format!(
            "latency must be between 0 and 3600000 ms, got '{s}'"
        ));
    }
    Ok(v)
}

/// "60s", "500ms", "2m", "1.5s", "250us", or a bare number of seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    if t.starts_with('-') {
        return Err(format!("duration must not be negative, got '{s}'"));
    }
    let (num, unit) = t.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 60s, 500ms, 2m)"))?;
    let secs = match unit.trim() {
        "" | "s" => v,
        "ms" => v / 1e3,
        "us" | "µs" => v / 1e6,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        u => {
            return Err(format!(
                "unknown unit '{u}' in '{s}' (use us, ms, s, m or h)"
            ))
        }
    };
    if !secs.is_finite() || !(0.0..=86_400.0 * 365.0).contains(&secs) {
        return Err(format!("duration out of range: '{s}'"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("5"), Ok(5));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("10m"), Ok(10 << 20));
        assert!(parse_size("x").is_err());
        assert!(parse_size("5Q").is_err());
        assert!(parse_size("-5").unwrap_err().contains("negative"));
        assert!(parse_demo_bytes("100G").unwrap_err().contains("at most 1G"));
        assert_eq!(parse_demo_bytes("1G"), Ok(1 << 30));
    }

    #[test]
    fn probabilities() {
        assert_eq!(parse_prob("0.05"), Ok(0.05));
        assert_eq!(parse_prob("5%"), Ok(0.05));
        assert!(parse_prob("1").is_err());
        assert!(parse_prob("-0.1").unwrap_err().contains("negative"));
        assert!(parse_prob("abc").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("3 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }
}
