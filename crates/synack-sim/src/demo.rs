//! The scenario behind `synack demo`: a client and a server on a simulated link, one
//! connection from SYN to the end of TIME-WAIT, in virtual time. Returns both stacks'
//! traces and the numbers a summary needs; drawing is the caller's business
//! (crate `synack-viz`).

use crate::stack_host::StackHost;
use crate::transfer::{pattern, sha256_hex, text_pattern, ClosePolicy, Role, Transfer};
use crate::{CaptureId, CapturePoint, CapturedPacket, LinkConfig, Network};
use core::net::SocketAddr;
use synack_core::time::{Duration, Instant};
use synack_core::trace::TraceEvent;
use synack_core::{Config, ConnInfo};

/// Which side closes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseMode {
    /// The client closes first (it ends in TIME-WAIT).
    Client,
    /// The server closes first.
    Server,
    /// Both at the same instant: simultaneous close through CLOSING.
    Both,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Bytes each way.
    pub bytes: usize,
    /// Independent loss probability on each direction of the link.
    pub loss: f64,
    /// One-way latency.
    pub latency: Duration,
    /// Simulation seed.
    pub seed: u64,
    /// Who closes first.
    pub close: CloseMode,
    /// Both sides connect to each other at once (simultaneous open).
    pub simultaneous_open: bool,
    /// Maximum segment lifetime (TIME-WAIT lasts twice this).
    pub msl: Duration,
    /// Link MTU (sets the MSS), if not 1500.
    pub mss: Option<u16>,
    /// Capture every packet (for `--pcap`).
    pub capture: bool,
    /// Give up after this much virtual time.
    pub deadline: Duration,
    /// A full link description; when set it replaces `latency` and `loss`.
    pub link: Option<LinkConfig>,
    /// Random bytes instead of readable text as data.
    pub random_data: bool,
    /// Both stacks' configuration; `msl` and `mss` above are applied on top of it.
    /// `None` means [`Config::default`].
    pub stack: Option<Config>,
}

impl Default for DemoConfig {
    fn default() -> DemoConfig {
        DemoConfig {
            bytes: 5,
            loss: 0.0,
            latency: Duration::from_millis(10),
            seed: 1,
            close: CloseMode::Client,
            simultaneous_open: false,
            msl: Duration::from_secs(30),
            mss: None,
            capture: false,
            deadline: Duration::from_secs(3600),
            link: None,
            random_data: false,
            stack: None,
        }
    }
}

/// Progress of a long run, for the caller to display.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Virtual time now.
    pub now: Instant,
    /// Bytes the server has received of the client's.
    pub to_server: usize,
    /// Bytes the client has received of the server's.
    pub to_client: usize,
    /// Bytes expected each way.
    pub total: usize,
}

/// One side's outcome.
#[derive(Debug, Clone)]
pub struct SideReport {
    /// Its address.
    pub addr: SocketAddr,
    /// Everything its stack traced.
    pub trace: Vec<TraceEvent>,
    /// Bytes it sent (accepted by its stack).
    pub sent: usize,
    /// Bytes it received.
    pub received: usize,
    /// SHA-256 of what it sent.
    pub sent_sha256: String,
    /// SHA-256 of what it received.
    pub received_sha256: String,
    /// The last snapshot of its connection.
    pub info: Option<ConnInfo>,
    /// When its connection became established.
    pub established_at: Option<Instant>,
    /// An error, if the connection failed.
    pub error: Option<String>,
    /// Connections its stack still held at the end.
    pub leftover_connections: usize,
    /// When it had received every byte the other side sent (goodput is the data
    /// size over the time from `established_at` to this).
    pub data_done_at: Option<Instant>,
}

/// The outcome of a demo run.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// The client.
    pub client: SideReport,
    /// The server.
    pub server: SideReport,
    /// What was run.
    pub config: DemoConfig,
    /// Virtual time at the end.
    pub end: Instant,
    /// True if both sides finished and hold no state.
    pub completed: bool,
    /// Captured packets (when `capture` was set), as sent onto the link.
    pub packets: Vec<CapturedPacket>,
    /// Packets the link dropped, both directions.
    pub link_drops: u64,
}

impl DemoReport {
    /// True when every byte arrived intact both ways and both sides closed cleanly.
    pub fn ok(&self) -> bool {
        self.completed
            && self.client.error.is_none()
            && self.server.error.is_none()
            && self.client.received == self.config.bytes
            && self.server.received == self.config.bytes
            && self.client.received_sha256 == self.server.sent_sha256
            && self.server.received_sha256 == self.client.sent_sha256
    }
}

/// Run the demo scenario. `progress` is called now and then during long runs.
pub fn run_demo(cfg: &DemoConfig, progress: &mut dyn FnMut(Progress)) -> DemoReport {
    let client_addr: SocketAddr = "10.0.0.1:49152".parse().expect("literal");
    let server_addr: SocketAddr = "10.0.0.2:80".parse().expect("literal");
    let mut stack_cfg = Config {
        msl: cfg.msl,
        ..cfg.stack.clone().unwrap_or_default()
    };
    if let Some(mss) = cfg.mss {
        stack_cfg.mtu = usize::from(mss) + 40;
    }
    let mut net = Network::new(cfg.seed);
    let mut secret_rng = net.derive_rng(0x5ec);
    let secret = |r: &mut crate::SimRng| {
        let mut k = [0u8; 16];
        for b in &mut k {
            *b = r.next_u64() as u8;
        }
        k
    };
    let (client_data, server_data) = if cfg.random_data {
        (
            pattern(cfg.seed.wrapping_mul(3).wrapping_add(1), cfg.bytes),
            pattern(cfg.seed.wrapping_mul(5).wrapping_add(2), cfg.bytes),
        )
    } else {
        (
            text_pattern("client", cfg.bytes),
            text_pattern("server", cfg.bytes),
        )
    };
    let (client_close, server_close) = match cfg.close {
        CloseMode::Client => (ClosePolicy::WhenDone, ClosePolicy::OnEof),
        CloseMode::Server => (ClosePolicy::OnEof, ClosePolicy::WhenDone),
        CloseMode::Both => (ClosePolicy::At(None), ClosePolicy::At(None)),
    };
    let (client_role, server_role) = if cfg.simultaneous_open {
        (
            Role::Client {
                remote: server_addr,
                local: Some(client_addr),
            },
            Role::Client {
                remote: client_addr,
                local: Some(server_addr),
            },
        )
    } else {
        (
            Role::Client {
                remote: server_addr,
                local: Some(client_addr),
            },
            Role::Server { local: server_addr },
        )
    };
    let mut cstack = synack_core::Stack::new(stack_cfg.clone(), secret(&mut secret_rng));
    cstack.add_address(client_addr.ip());
    cstack.set_trace(true);
    let mut sstack = synack_core::Stack::new(stack_cfg, secret(&mut secret_rng));
    sstack.add_address(server_addr.ip());
    sstack.set_trace(true);
    let client_sha = sha256_hex(&client_data);
    let server_sha = sha256_hex(&server_data);
    let c = net.add_host(
        StackHost::new(
            cstack,
            Transfer::new(client_role, client_data, cfg.bytes, client_close),
        ),
        [client_addr.ip()],
    );
    let s = net.add_host(
        StackHost::new(
            sstack,
            Transfer::new(server_role, server_data, cfg.bytes, server_close),
        ),
        [server_addr.ip()],
    );
    let link_cfg = cfg
        .link
        .clone()
        .unwrap_or_else(|| LinkConfig::with_latency(cfg.latency).loss(cfg.loss));
    let link = net.add_link(c, s, link_cfg);
    let capture: Option<CaptureId> = cfg
        .capture
        .then(|| net.capture(Some(link), CapturePoint::Sent));
    let deadline = Instant::ZERO + cfg.deadline;
    let mut steps = 0u64;
    let mut close_set = false;
    let mut done_at: [Option<Instant>; 2] = [None, None];
    loop {
        if !net.step() || net.now() > deadline {
            break;
        }
        steps += 1;
        for (i, id) in [c, s].into_iter().enumerate() {
            // `host`, not `host_mut`: only looking must not mark the host for polling
            // (a host marked every step keeps the run from ever going idle).
            if done_at[i].is_none()
                && net
                    .host::<StackHost<Transfer>>(id)
                    .is_some_and(|h| h.app.received() >= cfg.bytes)
            {
                done_at[i] = Some(net.now());
            }
        }
        if cfg.close == CloseMode::Both && !close_set {
            let done = |net: &mut Network, id| {
                net.host_mut::<StackHost<Transfer>>(id)
                    .is_some_and(|h| h.app.data_complete())
            };
            if done(&mut net, c) && done(&mut net, s) {
                let now = net.now();
                for id in [c, s] {
                    if let Some(h) = net.host_mut::<StackHost<Transfer>>(id) {
                        h.app.close_at(now);
                    }
                    net.wake(id);
                }
                close_set = true;
            }
        }
        if steps % 4096 == 0 {
            let now = net.now();
            let to_server = net
                .host_mut::<StackHost<Transfer>>(s)
                .map_or(0, |h| h.app.received());
            let to_client = net
                .host_mut::<StackHost<Transfer>>(c)
                .map_or(0, |h| h.app.received());
            progress(Progress {
                now,
                to_server,
                to_client,
                total: cfg.bytes,
            });
        }
        if net.is_idle() {
            break;
        }
    }
    let end = net.now();
    let completed = net.is_idle();
    let packets = capture.map(|id| net.take_captured(id)).unwrap_or_default();
    let link_drops = net.link_stats(link, c).dropped() + net.link_stats(link, s).dropped();
    let mut side = |id, addr, sent_sha: String, data_done_at: Option<Instant>| {
        let h = net.host_mut::<StackHost<Transfer>>(id).expect("host");
        let err = h
            .app
            .setup_error
            .clone()
            .or_else(|| h.app.error.map(|e| e.to_string()));
        SideReport {
            addr,
            trace: core::mem::take(&mut h.trace),
            sent: h.app.sent(),
            received: h.app.received(),
            sent_sha256: sent_sha,
            received_sha256: h.app.received_sha256(),
            info: h.app.last_info.clone(),
            established_at: h.app.established_at,
            error: err,
            leftover_connections: h.stack.connection_count(),
            data_done_at,
        }
    };
    let client = side(c, client_addr, client_sha, done_at[0]);
    let server = side(s, server_addr, server_sha, done_at[1]);
    DemoReport {
        client,
        server,
        config: cfg.clone(),
        end,
        completed,
        packets,
        link_drops,
    }
}
