//! Engine configuration with documented defaults, and a Linux-like preset.

use crate::cc::Algorithm;
use crate::time::Duration;
use core::ops::RangeInclusive;

/// Keep-alive settings (RFC 1122 §4.2.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Idle time before the first probe (default 2 h, as RFC 1122 requires).
    pub idle: Duration,
    /// Time between unanswered probes (default 75 s).
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped (default 9).
    pub count: u32,
}

impl Default for Keepalive {
    fn default() -> Keepalive {
        Keepalive {
            idle: Duration::from_secs(7200),
            interval: Duration::from_secs(75),
            count: 9,
        }
    }
}

/// Stack-wide configuration. Per-connection settings ([`crate::SocketOptions`]) start
/// from these values and can be changed per connection.
#[derive(Debug, Clone)]
pub struct Config {
    /// Link MTU: the MSS advertised is MTU minus IP and TCP headers (default 1500).
    pub mtu: usize,
    /// Initial send buffer size per connection in bytes (default 64 KiB). It grows
    /// with cwnd up to [`send_buffer_max`](Config::send_buffer_max) (see
    /// `tcp/autotune.rs`); memory is allocated only as data is queued.
    pub send_buffer: usize,
    /// Initial receive buffer size per connection in bytes (default 128 KiB, like
    /// Linux `tcp_rmem[1]`). It grows with the measured bandwidth-delay product up to
    /// [`recv_buffer_max`](Config::recv_buffer_max); memory is allocated only as data
    /// arrives.
    pub recv_buffer: usize,
    /// Largest receive buffer autotuning may reach, per connection (default 6 MiB,
    /// like Linux `tcp_rmem[2]`). The window scale offered in the SYN is chosen from
    /// the larger of this and `recv_buffer` (RFC 7323 §2.3), as Linux does, so the
    /// window can grow that far. Set it to `recv_buffer` (or less) to keep the receive
    /// buffer fixed.
    pub recv_buffer_max: usize,
    /// Largest send buffer autotuning may reach, per connection (default 4 MiB, like
    /// Linux `tcp_wmem[2]`). Set it to `send_buffer` (or less) to keep it fixed.
    pub send_buffer_max: usize,
    /// Stack-wide buffer memory (bytes allocated by all send and receive buffers) above
    /// which the stack is under memory pressure, like Linux `tcp_mem[1]`: buffers stop
    /// growing and shrink towards a floor of a few MSS as they drain (default 512 MiB).
    pub memory_pressure: usize,
    /// Hard bound on the stack-wide buffer memory, like Linux `tcp_mem[2]` (default
    /// 768 MiB): a buffer that would have to grow past it does not: arriving data that
    /// needs the room is dropped unacknowledged (the peer retransmits it) and an
    /// application write takes only what fits (it hears `Writable` when memory is
    /// freed). Choose it at least connections × a few MSS × 2 so that every flow can
    /// keep moving.
    pub memory_limit: usize,
    /// Offer window scaling (RFC 7323 §2). Default on.
    pub window_scaling: bool,
    /// Offer timestamps (RFC 7323 §3–5: RTTM and PAWS). Default on.
    pub timestamps: bool,
    /// Offer SACK (RFC 2018). Default on.
    pub sack: bool,
    /// Initial congestion window in segments (RFC 6928: 10).
    pub initial_window: u32,
    /// Initial RTO (RFC 6298 §2.1: 1 s).
    pub rto_initial: Duration,
    /// Lower bound of the RTO (RFC 6298 §2.4 says 1 s; Linux uses 200 ms). Default 200 ms.
    pub rto_min: Duration,
    /// Upper bound of the RTO (RFC 6298 §2.5: at least 60 s). Default 120 s like Linux.
    pub rto_max: Duration,
    /// SYN retransmissions before `connect` fails with `TimedOut` (Linux tcp_syn_retries: 6).
    pub syn_retries: u32,
    /// SYN-ACK retransmissions before a half-open connection is dropped (Linux: 5).
    pub synack_retries: u32,
    /// Data / FIN retransmissions before the connection fails with `TimedOut`
    /// (RFC 1122 §4.2.3.5 R2; Linux tcp_retries2: 15). Unanswered zero-window probes
    /// are bounded by the same count, as in Linux `tcp_probe_timer`; a peer that
    /// answers them keeps the connection open (RFC 1122 §4.2.2.17) unless
    /// `user_timeout` is set.
    pub retries: u32,
    /// Maximum segment lifetime; TIME-WAIT lasts 2*MSL (RFC 9293 §3.4.2). Default 30 s,
    /// so TIME-WAIT lasts 60 s like Linux.
    pub msl: Duration,
    /// How long an orphaned connection may sit in FIN-WAIT-2 (Linux tcp_fin_timeout: 60 s).
    pub fin_wait2_timeout: Duration,
    /// Delayed ACK timeout (RFC 1122 §4.2.3.2: < 0.5 s; Linux ~40 ms). `None` = ACK at once.
    pub delayed_ack: Option<Duration>,
    /// Nagle's algorithm (RFC 1122 §4.2.3.4). Default on.
    pub nagle: bool,
    /// Minshall's variant of Nagle (what Linux does, `tcp_minshall_check`): a
    /// sub-MSS segment may go out while data is in flight as long as no earlier
    /// sub-MSS segment is unacknowledged. Default off (classic RFC 1122 §4.2.3.4
    /// Nagle); on in [`Config::linux`].
    pub nagle_minshall: bool,
    /// Tail loss probes (RFC 8985 §7; Linux `tcp_early_retrans` 3 or 4, its
    /// default). Default on; off, a tail loss waits for the RTO.
    pub loss_probes: bool,
    /// Quick ACKs at the start of a connection (Linux `tcp_incr_quickack`): the
    /// first this-many in-order data segments are acknowledged at once instead of
    /// being delayed (RFC 1122 §4.2.3.2 allows acknowledging sooner). Default 0;
    /// 16 (Linux `TCP_MAX_QUICKACKS`) in [`Config::linux`].
    pub quickacks: u32,
    /// Keep-alive for new connections. Default off (RFC 1122 §4.2.3.6: off by default).
    pub keepalive: Option<Keepalive>,
    /// Send an RST when keep-alive gives up on a silent peer (Linux
    /// `tcp_keepalive_timer` does; RFC 1122 §4.2.3.6 leaves it open). Default off;
    /// on in [`Config::linux`].
    pub keepalive_rst: bool,
    /// User timeout (RFC 5482): fail when data stays unacknowledged this long.
    pub user_timeout: Option<Duration>,
    /// Congestion control algorithm (default CUBIC with HyStart++, as in Linux); a
    /// connection can choose another with [`Stack::set_congestion`](crate::Stack::set_congestion).
    pub congestion: Algorithm,
    /// After an idle period longer than the RTO, restart from at most the initial
    /// window (RFC 5681 §4.1, RFC 7661 §4.4; Linux `tcp_slow_start_after_idle`: on).
    pub slow_start_after_idle: bool,
    /// Pace data segments at a multiple of cwnd / SRTT (Linux's ratios: 2x in slow
    /// start, 1.2x in congestion avoidance) instead of sending each window as a burst.
    /// Off by default, as in Linux without the `fq` qdisc; a controller that asks for a
    /// pacing rate of its own ([`CongestionControl::pacing_rate`]) is paced either way,
    /// and so is the refill of a window that loss recovery left empty (more than the
    /// initial window free when recovery ends, or allowed at once by PRR within it),
    /// until cwnd is full again (RFC 6582 §3.2 step 6).
    ///
    /// [`CongestionControl::pacing_rate`]: crate::cc::CongestionControl::pacing_rate
    pub pacing: bool,
    /// Default listen backlog (accept queue) when `listen` is given 0.
    pub backlog: usize,
    /// Maximum connections in SYN-RECEIVED per listener.
    pub syn_backlog: usize,
    /// SYN cookies (RFC 4987 §3.6; Linux `net.ipv4.tcp_syncookies`): when a listener
    /// answers a SYN with a cookie instead of a queued half-open connection. Default
    /// [`SynCookies::WhenFull`](crate::SynCookies::WhenFull), as in Linux: a SYN that
    /// finds the listener's SYN queue full (`syn_backlog`, or the backlog with the
    /// accept queue) gets a cookie, so a SYN flood cannot lock legitimate clients
    /// out. A full accept queue still drops SYNs.
    pub syncookies: crate::SynCookies,
    /// Challenge ACKs allowed per second, stack-wide (RFC 5961 §7; Linux 1000). Each
    /// second's budget is drawn at random between half and one and a half times this
    /// (as Linux does; see `challenge.rs`), so it hides what other connections spent.
    pub challenge_ack_limit: u32,
    /// Shortest time between two challenge ACKs of one connection (RFC 5961 §7; Linux
    /// `tcp_invalid_ratelimit`, default 500 ms). The same allowance paces the ACKs a
    /// connection sends in answer to bare ACKs (or SYNs) that PAWS or the window test
    /// rejected, as Linux paces them; data is always answered.
    pub challenge_ack_interval: Duration,
    /// RSTs sent for segments matching no connection, per second (0 = unlimited).
    pub rst_limit: u32,
    /// Ephemeral port range (RFC 6056 §2.1: 49152–65535).
    pub ephemeral_ports: RangeInclusive<u16>,
    /// TTL / hop limit of sent packets.
    pub ttl: u8,
    /// Verify checksums of received packets (turn off only for offloaded devices).
    pub verify_checksums: bool,
    /// Stack-wide cap on connections (every state, compact TIME-WAIT records
    /// included; default 4,194,304). At the cap `connect` fails with
    /// `TooManyConnections` and a SYN for a listener is dropped without an answer and
    /// counted in `StackStats::connection_limit_drops`: dropped rather than reset so
    /// the peer retransmits and gets in once a connection ends, as Linux does when it
    /// cannot allocate a request (an RST would fail its connect at once).
    pub max_connections: usize,
    /// Connections the application has closed that may still be finishing (sending
    /// queued data, FIN-WAIT-1/2, CLOSING, LAST-ACK), stack-wide (like Linux
    /// `tcp_max_orphans`; default 65,536). A close beyond it resets the connection
    /// instead (counted in `StackStats::orphans_reset`), as Linux's `tcp_close` does
    /// when `tcp_check_oom` finds too many orphans. Compact TIME-WAIT records do not
    /// count.
    pub max_orphans: usize,
    /// Retransmissions (and unanswered zero-window probes) an orphaned connection may
    /// make before it is dropped (Linux `tcp_orphan_retries`, default 0, which means
    /// 8 while the RTO is below `rto_max`). Orphans in FIN-WAIT-2 are bounded by
    /// `fin_wait2_timeout` instead.
    pub orphan_retries: u32,
    /// A connection is writable only while fewer than this many bytes are queued and
    /// not yet sent (Linux `tcp_notsent_lowat`, default `u32::MAX`: no limit); the
    /// per-connection `TCP_NOTSENT_LOWAT` ([`Stack::set_notsent_lowat`]) overrides it.
    ///
    /// [`Stack::set_notsent_lowat`]: crate::Stack::set_notsent_lowat
    pub notsent_lowat: u32,
    /// Maximum data queued for one TSO super-segment (bytes). 0 = one MSS per packet.
    pub tso_max: usize,

    // UDP and ICMP (issue 15; udp.rs, stack/udp.rs).
    /// Receive queue bound of each UDP socket, in bytes: each datagram is charged
    /// its payload plus 64 bytes, and one that does not fit is dropped and counted
    /// (default 212,992, Linux `rmem_default`).
    pub udp_recv_buffer: usize,
    /// Send queue bound of each UDP socket, in bytes charged like the receive queue:
    /// beyond it a send gets `WouldBlock` until the queue drains (default 212,992,
    /// Linux `wmem_default`).
    pub udp_send_buffer: usize,
    /// Idle time after which an intercepted UDP flow the application has not replied
    /// on is forgotten (default 30 s, Linux `nf_conntrack_udp_timeout`).
    pub udp_flow_timeout: Duration,
    /// Idle time after which an intercepted UDP flow the application has replied on
    /// is forgotten (default 120 s, Linux `nf_conntrack_udp_timeout_stream`).
    pub udp_flow_timeout_stream: Duration,
    /// Most intercepted UDP flows held at once; a datagram that would start one more
    /// is dropped and counted (default 65,536).
    pub udp_max_flows: usize,
    /// Answer ICMP echo requests to the stack's own addresses (default on, like
    /// Linux's `icmp_echo_ignore_all=0`; not rate-limited, as in Linux).
    pub icmp_echo: bool,
    /// Also answer echo requests to any other address while a TCP or UDP intercept is
    /// active, as if every intercepted destination were alive (default off: a ping
    /// through a tunnel should not report a host up that the tunnel never reached).
    pub icmp_echo_intercepted: bool,
    /// ICMP error messages sent per second, stack-wide (token bucket, RFC 1812
    /// §4.3.2.8 / RFC 4443 §2.4 (f); default 1,000, Linux `icmp_msgs_per_sec`;
    /// 0 = unlimited).
    pub icmp_error_rate: u32,
    /// Burst of the ICMP error token bucket (default 50, Linux `icmp_msgs_burst`).
    pub icmp_error_burst: u32,
    /// TCP Fast Open (RFC 7413), as Linux's `net.ipv4.tcp_fastopen` bits (constants in
    /// [`crate::fastopen`]): 0x1 client, 0x2 server, 0x4 client sends data
    /// without a cookie, 0x200 server takes data without a cookie, 0x400 every
    /// listener takes Fast Open without `TCP_FASTOPEN`. Default 0x1, as in Linux: a
    /// client may use it when the application asks ([`Stack::connect_fastopen`]).
    ///
    /// [`Stack::connect_fastopen`]: crate::Stack::connect_fastopen
    pub fastopen: u32,
    /// The Fast Open server key (Linux `net.ipv4.tcp_fastopen_key`). `None`: derived
    /// from the stack secret.
    pub fastopen_key: Option<[u8; 16]>,
    /// Explicit Congestion Notification (RFC 3168), as Linux's `net.ipv4.tcp_ecn`:
    /// [`Ecn::Off`](crate::Ecn::Off) (0), [`Ecn::On`](crate::Ecn::On) (1: ask in
    /// our SYNs, accept when asked) or [`Ecn::Passive`](crate::Ecn::Passive) (2:
    /// accept when a peer's SYN asks, never ask). Default `Passive`, Linux's default.
    pub ecn: crate::Ecn,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            mtu: 1500,
            send_buffer: 64 * 1024,
            recv_buffer: 128 * 1024,
            recv_buffer_max: 6 << 20,
            send_buffer_max: 4 << 20,
            memory_pressure: 512 << 20,
            memory_limit: 768 << 20,
            window_scaling: true,
            timestamps: true,
            sack: true,
            initial_window: 10,
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(120),
            syn_retries: 6,
            synack_retries: 5,
            retries: 15,
            msl: Duration::from_secs(30),
            fin_wait2_timeout: Duration::from_secs(60),
            delayed_ack: Some(Duration::from_millis(40)),
            nagle: true,
            nagle_minshall: false,
            loss_probes: true,
            quickacks: 0,
            keepalive: None,
            keepalive_rst: false,
            user_timeout: None,
            congestion: Algorithm::default(),
            slow_start_after_idle: true,
            pacing: false,
            backlog: 128,
            syn_backlog: 256,
            syncookies: crate::SynCookies::WhenFull,
            challenge_ack_limit: 1000,
            challenge_ack_interval: Duration::from_millis(500),
            rst_limit: 0,
            ephemeral_ports: 49152..=65535,
            ttl: 64,
            verify_checksums: true,
            max_connections: 1 << 22,
            max_orphans: 65_536,
            orphan_retries: 0,
            notsent_lowat: u32::MAX,
            tso_max: 0,
            udp_recv_buffer: 212_992,
            udp_send_buffer: 212_992,
            udp_flow_timeout: Duration::from_secs(30),
            udp_flow_timeout_stream: Duration::from_secs(120),
            udp_max_flows: 65_536,
            icmp_echo: true,
            icmp_echo_intercepted: false,
            icmp_error_rate: 1000,
            icmp_error_burst: 50,
            fastopen: crate::tcp::fastopen::CLIENT_ENABLE,
            fastopen_key: None,
            ecn: crate::Ecn::Passive,
        }
    }
}

impl Config {
    /// The Linux preset, as Linux behaves with the sysctls upstream packetdrill's
    /// `defaults.sh` sets (`tcp_timestamps=1`, `tcp_sack=1`, `tcp_rmem` max 15 MiB):
    /// SYNs offer timestamps in Linux's layout `mss,sackOK,TS,nop,wscale`; a SYN-ACK
    /// answers with that layout when the peer's SYN offered timestamps and with
    /// `mss,nop,nop,sackOK,nop,wscale` when it did not (RFC 7323 §3.2: no TS option
    /// unless both offered it). MSS 1460 at MTU 1500, IW10, RTO min 200 ms / initial
    /// 1 s, delayed ACK 40 ms, TIME-WAIT 60 s, five SYN and SYN-ACK retransmissions
    /// (`tcp_syn_retries=5` in `defaults.sh`; Linux's own default is 6).
    ///
    /// The receive buffer is 15,685,120 bytes, the `tcp_rmem` maximum packetdrill's
    /// Linux test setup uses: Linux derives the window scale from it
    /// (`ilog2(space) - 15`), so SYNs and SYN-ACKs offer `wscale 8` as in scripts
    /// written against Linux (RFC 7323 §2.3). Buffers are allocated on demand, so the
    /// size costs memory only when data is actually queued.
    ///
    /// Like Linux it also acknowledges the first 16 data segments at once (quick
    /// ACK mode), uses Minshall's Nagle variant and resets a connection that
    /// keep-alive gives up on.
    pub fn linux() -> Config {
        Config {
            timestamps: true,
            recv_buffer: 15_685_120,
            nagle_minshall: true,
            quickacks: 16,
            keepalive_rst: true,
            syn_retries: 5,
            ..Config::default()
        }
    }

    /// TIME-WAIT duration: 2*MSL.
    pub fn time_wait(&self) -> Duration {
        self.msl * 2
    }

    /// The MSS we advertise for IPv4 (MTU - 40) or IPv6 (MTU - 60).
    pub fn advertised_mss(&self, ipv6: bool) -> u16 {
        let hdr = if ipv6 { 60 } else { 40 };
        self.mtu.saturating_sub(hdr).clamp(64, 65535) as u16
    }

    /// The largest receive buffer a connection may have: `recv_buffer` or, when
    /// autotuning may go further, `recv_buffer_max`.
    pub fn recv_buffer_limit(&self) -> usize {
        self.recv_buffer.max(self.recv_buffer_max)
    }

    /// The largest send buffer a connection may have (see
    /// [`recv_buffer_limit`](Config::recv_buffer_limit)).
    pub fn send_buffer_limit(&self) -> usize {
        self.send_buffer.max(self.send_buffer_max)
    }

    /// The window scale shift we offer: the smallest that lets the largest receive
    /// buffer autotuning may reach ([`recv_buffer_limit`](Config::recv_buffer_limit))
    /// be advertised in 16 bits (RFC 7323 §2.3: chosen once, at SYN time, so it must
    /// allow for growth, as Linux derives it from `tcp_rmem[2]`), at most 14.
    pub fn window_shift(&self) -> u8 {
        let space = self.recv_buffer_limit();
        let mut shift = 0u8;
        while shift < 14 && (space >> shift) > 65535 {
            shift += 1;
        }
        shift
    }
}
