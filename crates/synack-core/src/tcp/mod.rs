//! One TCP connection's state machine (RFC 9293 §3.3.2, §3.10): sequence variables,
//! buffers, timers, RTT, congestion control. The [`crate::Stack`] owns connections and
//! drives them; this module never sees IP headers, only TCP segments.
//!
//! Split by concern: `input` processes arriving segments (§3.10.7), `output` decides
//! the next segment to send (§3.8.6, §3.10.1–3.10.6), `timers` handles deadlines
//! (RFC 6298, RFC 1122 §4.2.3.6, RFC 5482, RFC 9293 §3.4.2).

mod autotune;
mod cc_trace;
mod cork;
pub(crate) mod ecn;
pub mod fastopen;
pub(crate) mod input;
mod notsent;
mod output;
mod pacing;
mod rack;
mod recovery;
pub(crate) mod syncookie;
mod timers;
pub(crate) mod timewait;
mod tso;

use crate::buffer::{RecvBuffer, SendBuffer};
use crate::cc::{Algorithm, Congestion, CongestionControl};
use crate::config::{Config, Keepalive};
use crate::error::ConnError;
use crate::memory::MemoryView;
use crate::rtt::RttEstimator;
use crate::seq::Seq;
use crate::state::State;
use crate::time::{Duration, Instant};
use crate::trace::{TraceEvent, TraceKind};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use core::net::SocketAddr;
use synack_wire::TcpRepr;

/// Per-connection settings that a socket option can change (they start from
/// [`Config`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketOptions {
    /// Disable Nagle's algorithm (TCP_NODELAY).
    pub nodelay: bool,
    /// Keep-alive (SO_KEEPALIVE with TCP_KEEPIDLE / KEEPINTVL / KEEPCNT).
    pub keepalive: Option<Keepalive>,
    /// User timeout (TCP_USER_TIMEOUT, RFC 5482).
    pub user_timeout: Option<Duration>,
    /// FIN-WAIT-2 timeout for an orphaned connection (TCP_LINGER2).
    pub fin_wait2_timeout: Duration,
    /// SYN retransmissions before `TimedOut` (TCP_SYNCNT).
    pub syn_retries: u32,
    /// Clamp on the MSS we send and advertise (TCP_MAXSEG).
    pub max_segment: Option<u16>,
    /// Delayed ACK timeout; `None` acknowledges every segment at once (TCP_QUICKACK).
    pub delayed_ack: Option<Duration>,
    /// Congestion control (TCP_CONGESTION).
    pub congestion: Algorithm,
    /// IP time-to-live / hop limit of the connection's packets (IP_TTL).
    pub ttl: u8,
    /// Hold partial segments until uncorked, a push, or the probe timer (Linux
    /// `TCP_CORK`, tcp/cork.rs).
    pub cork: bool,
}

impl SocketOptions {
    /// The options a new connection gets from `cfg`.
    pub fn from_config(cfg: &Config) -> SocketOptions {
        SocketOptions {
            nodelay: !cfg.nagle,
            keepalive: cfg.keepalive,
            user_timeout: cfg.user_timeout,
            fin_wait2_timeout: cfg.fin_wait2_timeout,
            syn_retries: cfg.syn_retries,
            max_segment: None,
            delayed_ack: cfg.delayed_ack,
            congestion: cfg.congestion.clone(),
            ttl: cfg.ttl,
            cork: false,
        }
    }
}

/// Counters of one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// Segments sent (including retransmissions and pure ACKs).
    pub segs_sent: u64,
    /// Segments received and accepted for processing.
    pub segs_received: u64,
    /// Segments retransmitted.
    pub segs_retransmitted: u64,
    /// Payload bytes sent for the first time.
    pub bytes_sent: u64,
    /// Payload bytes retransmitted.
    pub bytes_retransmitted: u64,
    /// Payload bytes received in order.
    pub bytes_received: u64,
    /// Payload bytes acknowledged by the peer.
    pub bytes_acked: u64,
    /// Fast retransmits (3 duplicate ACKs, or SACKed data showing a loss: RFC 6675 §5).
    pub fast_retransmits: u64,
    /// Retransmissions found lost again during SACK-based recovery and resent.
    pub lost_retransmits: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub loss_probes: u64,
    /// Retransmission timeouts.
    pub timeouts: u64,
    /// Duplicate ACKs received.
    pub dup_acks: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
    /// Segments dropped as unacceptable (out of window, PAWS, bad ACK).
    pub dropped: u64,
    /// ACKs from the peer carrying a D-SACK block (RFC 2883): data we sent twice.
    pub dsacks_received: u64,
    /// ACKs we sent with a D-SACK block (RFC 2883): data the peer sent twice.
    pub dsacks_sent: u64,
    /// Recoveries undone as spurious (every retransmission D-SACKed, or the Eifel
    /// timestamp check): the window they reduced was restored.
    pub spurious_recoveries: u64,
    /// ECN (RFC 3168) was negotiated on this connection.
    pub ecn: bool,
    /// Data segments received with the CE mark (RFC 3168 §6.1.3).
    pub ecn_ce_received: u64,
    /// Segments received with ECE: the peer echoed a CE mark (RFC 3168 §6.1.2).
    pub ecn_ece_received: u64,
    /// Congestion window reductions in answer to ECE (at most one per window of data).
    pub ecn_reductions: u64,
}

/// A connection's counters as it keeps them: byte counts in 64 bits, event counts in
/// 32 (a connection sends fewer than four billion segments), 40 bytes smaller than
/// [`ConnStats`], which [`ConnInfo`] reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_retransmitted: u64,
    pub(crate) bytes_received: u64,
    pub(crate) bytes_acked: u64,
    pub(crate) segs_sent: u32,
    pub(crate) segs_received: u32,
    pub(crate) segs_retransmitted: u32,
    pub(crate) fast_retransmits: u32,
    pub(crate) lost_retransmits: u32,
    pub(crate) loss_probes: u32,
    pub(crate) timeouts: u32,
    pub(crate) dup_acks: u32,
    pub(crate) challenge_acks: u32,
    pub(crate) dropped: u32,
    pub(crate) dsacks_sent: u32,
}

impl Counters {
    /// The public form.
    pub(crate) fn to_stats(self) -> ConnStats {
        ConnStats {
            bytes_sent: self.bytes_sent,
            bytes_retransmitted: self.bytes_retransmitted,
            bytes_received: self.bytes_received,
            bytes_acked: self.bytes_acked,
            segs_sent: u64::from(self.segs_sent),
            segs_received: u64::from(self.segs_received),
            segs_retransmitted: u64::from(self.segs_retransmitted),
            fast_retransmits: u64::from(self.fast_retransmits),
            lost_retransmits: u64::from(self.lost_retransmits),
            loss_probes: u64::from(self.loss_probes),
            timeouts: u64::from(self.timeouts),
            dup_acks: u64::from(self.dup_acks),
            challenge_acks: u64::from(self.challenge_acks),
            dropped: u64::from(self.dropped),
            dsacks_received: 0,
            dsacks_sent: u64::from(self.dsacks_sent),
            spurious_recoveries: 0,
            ecn: false,
            ecn_ce_received: 0,
            ecn_ece_received: 0,
            ecn_reductions: 0,
        }
    }
}

/// A snapshot of a connection's state, for applications and tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// Current state.
    pub state: State,
    /// Local address.
    pub local: SocketAddr,
    /// Remote address.
    pub remote: SocketAddr,
    /// Smoothed RTT (RFC 6298), once measured.
    pub srtt: Option<Duration>,
    /// RTT variation, once measured.
    pub rttvar: Option<Duration>,
    /// Current retransmission timeout.
    pub rto: Duration,
    /// Congestion window in bytes.
    pub cwnd: u32,
    /// Slow-start threshold in bytes.
    pub ssthresh: u32,
    /// Send window offered by the peer, in bytes.
    pub snd_wnd: u32,
    /// Receive window we offer, in bytes.
    pub rcv_wnd: u32,
    /// Effective send MSS.
    pub mss: u16,
    /// Our ISN.
    pub iss: u32,
    /// The peer's ISN (0 before it is known).
    pub irs: u32,
    /// Bytes written and not yet acknowledged.
    pub send_queue: usize,
    /// Bytes received and not yet read.
    pub recv_queue: usize,
    /// Heap bytes held by the buffers now.
    pub buffer_bytes: usize,
    /// Why the connection died, if it did.
    pub error: Option<ConnError>,
    /// Counters.
    pub stats: ConnStats,
}

/// Readiness changes the stack turns into events.
pub(crate) mod wake {
    pub(crate) const READABLE: u8 = 1;
    pub(crate) const WRITABLE: u8 = 2;
    pub(crate) const CONNECTED: u8 = 4;
    pub(crate) const CLOSED: u8 = 8;
    pub(crate) const ESTABLISHED_PASSIVE: u8 = 16;
    /// Fast Open news for the stack: a client learned a cookie (or its absence) from
    /// a SYN-ACK, or a passive Fast Open connection left SYN-RECEIVED.
    pub(crate) const FASTOPEN: u8 = 32;
}

/// Output a connection owes outside the ordinary data path. Kept together so that
/// [`Pending::any`], checked after every call into a connection, is one load.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Pending {
    /// An ACK is due now.
    pub(crate) ack_now: bool,
    /// A zero-window probe is due (RFC 9293 §3.8.6.1).
    pub(crate) probe_pending: bool,
    /// A keep-alive probe is due (RFC 1122 §4.2.3.6).
    pub(crate) keepalive_pending: bool,
    /// A reset is due (abort, keep-alive failure).
    pub(crate) rst_pending: bool,
    /// Send queued data once regardless of Nagle / SWS (override timeout fired).
    pub(crate) force_send: bool,
    /// The handshake's final ACK is owed (SYN-SENT -> ESTABLISHED): send it on its own
    /// before any data, as Linux does and textbooks draw it.
    pub(crate) handshake_ack: bool,
    /// Retransmit one segment at SND.UNA now (fast retransmit / partial ACK).
    pub(crate) rtx_one: bool,
    /// A tail loss probe is due (RFC 8985 §7.3).
    pub(crate) tlp_pending: bool,
}

impl Pending {
    /// True when any of the flags is set.
    #[inline]
    pub(crate) fn any(&self) -> bool {
        u64::from_ne_bytes([
            u8::from(self.ack_now),
            u8::from(self.probe_pending),
            u8::from(self.keepalive_pending),
            u8::from(self.rst_pending),
            u8::from(self.force_send),
            u8::from(self.handshake_ack),
            u8::from(self.rtx_one),
            u8::from(self.tlp_pending),
        ]) != 0
    }
}

/// What the stack lends a connection for one call.
pub(crate) struct Env<'a> {
    pub(crate) cfg: &'a Config,
    pub(crate) now: Instant,
    pub(crate) trace: Option<&'a mut VecDeque<TraceEvent>>,
    /// Challenge ACK budget (RFC 5961 §7), shared stack-wide.
    pub(crate) challenge_budget: &'a mut u32,
    /// The stack-wide buffer memory budget as it stands for this call.
    pub(crate) mem: MemoryView,
    /// The device refuses every packet for now (stack/egress.rs).
    pub(crate) egress_blocked: bool,
}

impl Env<'_> {
    /// Append a trace event for the connection `local`/`remote`, when tracing is on.
    pub(crate) fn record(&mut self, local: SocketAddr, remote: SocketAddr, kind: TraceKind) {
        if let Some(trace) = self.trace.as_deref_mut() {
            trace.push_back(TraceEvent {
                time: self.now,
                local,
                remote,
                kind,
            });
        }
    }
}

/// One TCP connection (a TCB, RFC 9293 §3.3.1).
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) state: State,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    // Send sequence variables (RFC 9293 §3.3.1).
    pub(crate) iss: Seq,
    pub(crate) snd_una: Seq,
    pub(crate) snd_nxt: Seq,
    /// Highest sequence number sent plus one (for go-back-N after an RTO).
    pub(crate) snd_max: Seq,
    pub(crate) snd_wnd: u32,
    pub(crate) snd_wl1: Seq,
    pub(crate) snd_wl2: Seq,
    /// Largest window the peer has offered (RFC 9293 §3.8.6.2.1, RFC 5961 §5.2).
    pub(crate) max_snd_wnd: u32,
    /// Shift applied to the peer's window field (RFC 7323 §2.3).
    pub(crate) snd_wscale: u8,
    /// Sequence number of the send buffer's first byte.
    pub(crate) buf_seq: Seq,
    // Receive sequence variables.
    pub(crate) irs: Seq,
    pub(crate) rcv_nxt: Seq,
    /// Right edge of the window we last advertised (never moved left: RFC 9293 §3.8.6).
    pub(crate) rcv_adv: Seq,
    /// Shift we apply to our window field.
    pub(crate) rcv_wscale: u8,
    /// Sequence number of a FIN that arrived ahead of missing data.
    pub(crate) fin_pending: Option<Seq>,
    // Negotiated options.
    pub(crate) mss: u16,
    pub(crate) peer_mss: u16,
    pub(crate) sack_ok: bool,
    pub(crate) ts_ok: bool,
    pub(crate) ws_ok: bool,
    pub(crate) ts_recent: u32,
    pub(crate) ts_recent_at: Instant,
    pub(crate) ts_offset: u32,
    pub(crate) last_ack_sent: Seq,
    // Buffers (allocated on demand).
    pub(crate) send: SendBuffer,
    pub(crate) recv: RecvBuffer,
    /// The application closed the sending side: FIN follows the data.
    pub(crate) fin_queued: bool,
    /// The application closed the connection and no longer holds the handle.
    pub(crate) orphan: bool,
    /// The peer's FIN has been received (in order).
    pub(crate) fin_received: bool,
    // RTT, RTO and congestion.
    pub(crate) rtt: RttEstimator,
    pub(crate) cc: Congestion,
    /// A timed segment for RTT measurement without timestamps (Karn): (seq, sent at).
    /// (The send time in wrapping engine microseconds: 12 bytes, not 24.)
    pub(crate) rtt_probe: Option<(Seq, u32)>,
    pub(crate) dupacks: u32,
    /// SND.MAX when the current round began: an ACK at or beyond it ends the round
    /// (RFC 9406 §4.2 windowEnd).
    pub(crate) round_end: Seq,
    /// Congestion-window validation (RFC 7661, in Linux's form `tcp_cwnd_validate`):
    /// the flow filled cwnd in the current window of data ...
    pub(crate) cwnd_limited: bool,
    /// ... the most it had in flight then, in bytes ...
    pub(crate) max_flight: u32,
    /// ... and SND.NXT when that window began (its figures stand until SND.UNA
    /// passes it).
    pub(crate) cwnd_usage_seq: Seq,
    /// Pacing: the next data segment may not leave before this instant ...
    pub(crate) pace_at: Instant,
    /// ... and a segment waits for it (the deadline is armed).
    pub(crate) pace_armed: bool,
    /// ... and the deadline came while a segment waited (see `pacing.rs`).
    pub(crate) pace_waited: bool,
    /// Recovery ended with cwnd far above what was in flight, or PRR allowed more
    /// than the initial window at once within it: the window is refilled at the
    /// pacing rate rather than in one burst, until it is full (RFC 6582 §3.2 step 6;
    /// see `pacing.rs`).
    pub(crate) pace_refill: bool,
    /// Highest right edge of a SACK block the peer reported (RFC 6675 §2 DupAck).
    pub(crate) sack_high: Seq,
    /// End of the last sub-MSS segment sent (Minshall's Nagle, Linux `snd_sml`).
    pub(crate) snd_sml: Seq,
    /// Quick ACKs left (Linux quick-ACK mode at connection start).
    pub(crate) quickacks: u16,
    pub(crate) in_recovery: bool,
    /// RFC 6582 "recover".
    pub(crate) recover: Seq,
    /// SACK scoreboard and RFC 6675 recovery state, allocated on the first SACK.
    pub(crate) sb: Option<Box<recovery::Scoreboard>>,
    /// RACK's transmission log (RFC 8985), allocated when data is first sent with SACK.
    pub(crate) rack: Option<Box<rack::Rack>>,
    /// An emptied RACK box a finished connection left for this one to use (never
    /// read but by `rack_on_send`; see `Connection::take_rack_for_reuse`).
    pub(crate) rack_spare: Option<Box<rack::Rack>>,
    /// Our TSval when the latest retransmission was sent, while retransmitted data is
    /// outstanding (RTT sanity: [`Connection::ts_sample_ok`]).
    pub(crate) rtx_tsval: u32,
    /// End of the highest retransmitted data (retransmissions outstanding while it is
    /// above SND.UNA).
    pub(crate) rtx_high: Seq,
    /// `rto_at` is a probe timeout (RFC 8985 §7.2), not the RTO.
    pub(crate) pto_armed: bool,
    /// Probes sent since SND.UNA last advanced (bounded by `recovery::MAX_PROBES`).
    pub(crate) tlp_sent: u8,
    /// The last ACK SACKed new data (restart the probe timeout).
    pub(crate) sack_progress: bool,
    // Timers.
    pub(crate) rto_at: Option<Instant>,
    pub(crate) delack_at: Option<Instant>,
    pub(crate) persist_at: Option<Instant>,
    pub(crate) keepalive_at: Option<Instant>,
    /// TIME-WAIT, FIN-WAIT-2 or SYN-RECEIVED lifetime deadline.
    pub(crate) linger_at: Option<Instant>,
    /// Consecutive RTO expirations without progress.
    pub(crate) retries: u32,
    /// Persist timer backoff exponent (at most 16; 16 bits, beside `probes_out`).
    pub(crate) persist_backoff: u16,
    /// Zero-window probes sent since the peer last sent an acceptable segment (Linux
    /// `icsk_probes_out`; bounded by `Connection::retry_limit`).
    pub(crate) probes_out: u16,
    pub(crate) keepalive_probes: u32,
    /// When the oldest unacknowledged data was first sent without progress since
    /// (for the user timeout).
    pub(crate) stalled_since: Option<Instant>,
    pub(crate) last_recv_at: Instant,
    pub(crate) last_send_at: Instant,
    // Pending output.
    pub(crate) pend: Pending,
    /// ECN state bits (tcp/ecn.rs `flag`): negotiated, echoing CE, CWR queued, in
    /// the reduction's window, the arriving packet's codepoint. One byte, 0 for a
    /// connection without ECN.
    pub(crate) ecn: u8,
    pub(crate) unacked_segs: u16,
    /// The RTO (ms) that last expired, for the trace of the retransmission it caused.
    pub(crate) rto_fired_ms: u32,
    pub(crate) error: Option<ConnError>,
    /// A soft error (ICMP) remembered for reporting (RFC 1122 §4.2.3.9).
    pub(crate) soft_error: Option<ConnError>,
    pub(crate) opts: SocketOptions,
    pub(crate) wake: u8,
    /// The application saw a full send buffer and waits for room.
    pub(crate) want_writable: bool,
    pub(crate) stats: Counters,
    /// Listener slot for a passive open not yet accepted.
    pub(crate) listener: Option<u32>,
    /// Receive-buffer autotuning state (tcp/autotune.rs).
    pub(crate) tune: autotune::RcvSpace,
    /// Buffer bytes this connection was last charged in the stack's memory budget.
    pub(crate) mem_charged: u32,
    /// State few connections use (Fast Open, records, the trace's congestion
    /// fingerprint), boxed: the others pay one
    /// pointer (the TCB stays within the 1 KiB per idle connection).
    pub(crate) rare: Option<Box<Rare>>,
}

/// A connection's rarely used state.
#[derive(Debug, Default)]
pub(crate) struct Rare {
    /// TCP Fast Open state during the handshake (tcp/fastopen.rs), when used.
    pub(crate) tfo: Option<fastopen::FastOpenConn>,
    /// Ends of records the application marked (Linux `MSG_EOR`), ascending: no
    /// segment extends past one.
    pub(crate) records: VecDeque<Seq>,
    /// A D-SACK block (RFC 2883) for the next ACK, `[left, right)`: duplicate data
    /// that arrived.
    pub(crate) dsack: Option<(Seq, Seq)>,
    /// When the last challenge ACK (RFC 5961 §7, challenge.rs) or answer to an
    /// unacceptable bare ACK (`Connection::ack_invalid`) was allowed, a millisecond
    /// stamp; 0: never.
    pub(crate) challenge_at: u32,
    /// Fingerprint of the last congestion state traced (tcp/cc_trace.rs), 0 before:
    /// only a traced connection has it.
    pub(crate) cc_trace_sig: u32,
    /// `TCP_NOTSENT_LOWAT` set on this connection, 0 when unset (tcp/notsent.rs).
    pub(crate) notsent_lowat: u32,
    /// Where the write that started the unsent tail chunk began, while a limit on
    /// unsent data is in force (tcp/notsent.rs, Linux's tail skb).
    pub(crate) notsent_chunk: Option<Seq>,
    /// End of the last segment sent with PSH, tracked only against a peer whose
    /// largest window is under two segments (tcp/output.rs, Linux `pushed_seq`).
    pub(crate) pushed_seq: Option<Seq>,
    /// ECN's reduction window and counters (tcp/ecn.rs), from the first congestion
    /// signal on.
    pub(crate) ecn: ecn::EcnState,
    /// `MSG_MORE` / `TCP_CORK` bookkeeping (tcp/cork.rs).
    pub(crate) cork: cork::CorkState,
}

impl Connection {
    /// A D-SACK block waits for the next ACK.
    pub(crate) fn dsack_pending(&self) -> bool {
        self.rare.as_ref().is_some_and(|r| r.dsack.is_some())
    }

    /// Report `[left, right)` as a D-SACK block on the next ACK (RFC 2883 §4).
    pub(crate) fn set_dsack(&mut self, left: Seq, right: Seq) {
        self.rare.get_or_insert_with(Box::default).dsack = Some((left, right));
    }

    /// The D-SACK block for the ACK being built, once.
    pub(crate) fn take_dsack(&mut self) -> Option<(Seq, Seq)> {
        self.rare.as_mut()?.dsack.take()
    }

    /// A connection in CLOSED with the given ends and ISS; `active_open` or
    /// `passive_open` moves it on.
    pub(crate) fn new(
        cfg: &Config,
        opts: SocketOptions,
        local: SocketAddr,
        remote: SocketAddr,
        iss: Seq,
        now: Instant,
    ) -> Connection {
        let ipv6 = local.is_ipv6();
        let mut mss = cfg.advertised_mss(ipv6);
        if let Some(m) = opts.max_segment {
            mss = mss.min(m);
        }
        let initial_cwnd = cfg.initial_window.max(1) * u32::from(mss);
        Connection {
            state: State::Closed,
            local,
            remote,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            snd_wl1: Seq(0),
            snd_wl2: iss,
            max_snd_wnd: 0,
            snd_wscale: 0,
            buf_seq: iss + 1,
            irs: Seq(0),
            rcv_nxt: Seq(0),
            rcv_adv: Seq(0),
            rcv_wscale: 0,
            fin_pending: None,
            mss,
            // RFC 9293 §3.7.1: default send MSS 536 (IPv4) / 1220 (IPv6) without the option.
            peer_mss: if ipv6 { 1220 } else { 536 },
            sack_ok: false,
            ts_ok: false,
            ws_ok: false,
            ts_recent: 0,
            ts_recent_at: now,
            ts_offset: iss.0.rotate_left(13),
            last_ack_sent: Seq(0),
            send: SendBuffer::new(cfg.send_buffer),
            recv: RecvBuffer::new(cfg.recv_buffer),
            fin_queued: false,
            orphan: false,
            fin_received: false,
            rtt: RttEstimator::new(cfg.rto_initial, cfg.rto_min, cfg.rto_max),
            cc: Congestion::new(&opts.congestion, initial_cwnd),
            rtt_probe: None,
            dupacks: 0,
            round_end: iss,
            cwnd_limited: false,
            max_flight: 0,
            cwnd_usage_seq: iss,
            pace_at: Instant::ZERO,
            pace_armed: false,
            pace_waited: false,
            pace_refill: false,
            sack_high: iss,
            snd_sml: iss,
            quickacks: cfg.quickacks.min(u32::from(u16::MAX)) as u16,
            in_recovery: false,
            recover: iss,
            sb: None,
            rack: None,
            rack_spare: None,
            rtx_tsval: 0,
            rtx_high: iss,
            pto_armed: false,
            tlp_sent: 0,
            sack_progress: false,
            rto_at: None,
            delack_at: None,
            persist_at: None,
            keepalive_at: None,
            linger_at: None,
            retries: 0,
            persist_backoff: 0,
            probes_out: 0,
            keepalive_probes: 0,
            stalled_since: None,
            last_recv_at: now,
            last_send_at: now,
            pend: Pending::default(),
            ecn: 0,
            unacked_segs: 0,
            rto_fired_ms: 0,
            error: None,
            soft_error: None,
            opts,
            wake: 0,
            want_writable: false,
            stats: Counters::default(),
            listener: None,
            tune: autotune::RcvSpace::new(
                (cfg.initial_window.max(1) * u32::from(mss)).min(cfg.recv_buffer as u32),
                now,
            ),
            mem_charged: 0,
            rare: None,
        }
    }

    /// The Fast Open state, if the connection uses Fast Open.
    #[inline]
    pub(crate) fn tfo(&self) -> Option<&fastopen::FastOpenConn> {
        self.rare.as_deref().and_then(|r| r.tfo.as_ref())
    }

    /// The Fast Open state, mutable.
    #[inline]
    pub(crate) fn tfo_mut(&mut self) -> Option<&mut fastopen::FastOpenConn> {
        self.rare.as_deref_mut().and_then(|r| r.tfo.as_mut())
    }

    /// The Fast Open state, created when absent.
    pub(crate) fn tfo_or_insert(&mut self) -> &mut fastopen::FastOpenConn {
        self.rare
            .get_or_insert_with(Box::default)
            .tfo
            .get_or_insert_with(Default::default)
    }

    /// True when the application marked record ends.
    #[inline]
    pub(crate) fn has_records(&self) -> bool {
        self.rare.as_ref().is_some_and(|r| !r.records.is_empty())
    }

    /// The data written so far ends a record (Linux `MSG_EOR`): later data never
    /// shares a segment with it.
    pub(crate) fn end_record(&mut self) {
        let end = self.buf_seq + self.send.len() as u32;
        let r = &mut self.rare.get_or_insert_with(Box::default).records;
        if r.back().is_none_or(|&b| b < end) {
            r.push_back(end);
        }
    }

    /// The first record end after `seq`, forgetting those the peer has acknowledged.
    pub(crate) fn record_end_after(&mut self, seq: Seq) -> Option<Seq> {
        let una = self.snd_una;
        let r = &mut self.rare.as_mut()?.records;
        while r.front().is_some_and(|&m| m <= una) {
            r.pop_front();
        }
        r.iter().copied().find(|&m| m > seq)
    }

    /// True when `seq` is the end of a record.
    pub(crate) fn is_record_end(&self, seq: Seq) -> bool {
        self.rare.as_ref().is_some_and(|r| r.records.contains(&seq))
    }

    /// RFC 9293 §3.10.1 OPEN (active): send SYN, enter SYN-SENT.
    pub(crate) fn active_open(&mut self, env: &mut Env<'_>) {
        self.rcv_wscale = if env.cfg.window_scaling {
            env.cfg.window_shift()
        } else {
            0
        };
        self.ecn_active_open(env.cfg);
        self.set_state(State::SynSent, env);
    }

    /// RFC 9293 §3.10.7.2: a SYN arrived at a listener; record the peer's ISN and
    /// options and enter SYN-RECEIVED (the SYN-ACK goes out on the next poll).
    pub(crate) fn passive_open(&mut self, env: &mut Env<'_>, seg: &TcpRepr) {
        // The listener was in LISTEN; this TCB starts as its copy (RFC 9293 §3.10.7.2).
        self.state = State::Listen;
        self.irs = Seq(seg.seq);
        self.rcv_nxt = self.irs + 1;
        self.snd_wl1 = self.irs;
        self.negotiate_syn_options(env.cfg, seg, true);
        // RFC 7323 §2.2: the window in a SYN is never scaled.
        self.snd_wnd = u32::from(seg.window);
        self.max_snd_wnd = self.snd_wnd;
        if let Some((tsval, _)) = seg.options.timestamp {
            self.ts_recent = tsval;
            self.ts_recent_at = env.now;
        }
        self.last_recv_at = env.now;
        self.set_state(State::SynReceived, env);
    }

    /// Apply the options of a received SYN or SYN-ACK. `we_offer`: for a passive
    /// open, whether we offer the same options (we answer only what was offered).
    pub(crate) fn negotiate_syn_options(&mut self, cfg: &Config, seg: &TcpRepr, passive: bool) {
        let o = &seg.options;
        if let Some(m) = o.mss {
            self.peer_mss = m.max(64);
        }
        // RFC 9293 §3.7.1: the send MSS is the smaller of ours and the peer's.
        self.mss = self.mss.min(self.peer_mss);
        // RFC 5681 §3.1 / RFC 6928 §2: the initial window counts segments of the
        // negotiated SMSS, not of the MSS we offered (nothing has been sent yet).
        self.cc = Congestion::new(
            &self.opts.congestion,
            cfg.initial_window.max(1) * u32::from(self.mss),
        );
        // RFC 7323 §2.2: scaling is in effect only when both sides sent the option.
        match o.window_scale {
            Some(shift) if cfg.window_scaling => {
                self.ws_ok = true;
                // RFC 7323 §2.3: a shift above 14 is treated as 14.
                self.snd_wscale = shift.min(14);
                if passive {
                    self.rcv_wscale = cfg.window_shift();
                }
            }
            _ => {
                self.ws_ok = false;
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        self.sack_ok = cfg.sack && o.sack_permitted;
        // RFC 7323 §3.2: timestamps only when both SYNs carry the option.
        self.ts_ok = cfg.timestamps && o.timestamp.is_some();
    }

    /// Change state, recording the change in the trace.
    /// (Out of line: it is called from many places, each rare per segment.)
    #[inline(never)]
    pub(crate) fn set_state(&mut self, new: State, env: &mut Env<'_>) {
        let old = self.state;
        if old == new {
            return;
        }
        self.state = new;
        if old == State::SynReceived && self.fastopen_passive() {
            // The listener's Fast Open queue counts it no longer.
            self.wake |= wake::FASTOPEN;
        }
        if env.trace.is_some() {
            self.trace_state(env, old, new);
        }
        if new == State::Established {
            // RFC 1122 §4.2.3.6: keep-alive (when configured) starts timing the idle
            // period once the connection is open.
            self.arm_keepalive(env);
            self.autotune_start(env);
        }
        if new == State::TimeWait {
            // RFC 9293 §3.4.2: wait 2*MSL; nothing else is pending.
            self.linger_at = Some(env.now + env.cfg.time_wait());
            self.rto_at = None;
            self.persist_at = None;
            self.keepalive_at = None;
        }
        if new == State::Closed {
            self.wake |= wake::CLOSED | wake::READABLE | wake::WRITABLE;
            self.rto_at = None;
            self.delack_at = None;
            self.persist_at = None;
            self.keepalive_at = None;
            self.linger_at = None;
        }
    }

    /// Record a state change in the trace.
    #[cold]
    #[inline(never)]
    fn trace_state(&self, env: &mut Env<'_>, old: State, new: State) {
        env.record(self.local, self.remote, TraceKind::StateChange { old, new });
    }

    /// Enter CLOSED because of `err` (RFC 9293 §3.10.7.4 "connection reset", timeouts).
    pub(crate) fn fail(&mut self, err: ConnError, env: &mut Env<'_>) {
        if self.error.is_none() {
            self.error = Some(err);
        }
        self.set_state(State::Closed, env);
    }

    /// The earliest of this connection's deadlines.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        // Runs after every call into a connection: one branch-free minimum.
        crate::time::earliest([
            self.rto_at,
            self.delack_at,
            self.pace_armed.then_some(self.pace_at),
            self.rack_deadline(),
            self.persist_at,
            self.keepalive_at,
            self.linger_at,
        ])
    }

    /// Sequence number of our FIN, once queued.
    pub(crate) fn fin_seq(&self) -> Option<Seq> {
        self.fin_queued
            .then(|| self.buf_seq + self.send.len() as u32)
    }

    /// True when our FIN has been sent and acknowledged.
    pub(crate) fn fin_acked(&self) -> bool {
        match self.fin_seq() {
            Some(f) => self.snd_una > f,
            None => false,
        }
    }

    /// Whether cwnd may grow (RFC 7661 §4.3, in Linux's form `tcp_is_cwnd_limited`):
    /// in slow start while the flow has had at least half of cwnd in flight in the
    /// current window of data, otherwise while it filled cwnd. A flow held back by
    /// the peer's window or by the application does not validate a larger cwnd, so
    /// cwnd cannot grow without bound and release a burst when the window opens.
    pub(crate) fn is_cwnd_limited(&self) -> bool {
        if self.cc.in_slow_start() {
            return self.cc.cwnd() < self.max_flight.saturating_mul(2);
        }
        self.cwnd_limited
    }

    /// Record how much of cwnd the flow used after sending new data (Linux
    /// `tcp_cwnd_validate`): `in_flight` bytes now outstanding, `blocked` when cwnd
    /// (not the peer's window or the application) stopped the sender. cwnd counts as
    /// used when less than one SMSS of it is left (Linux counts whole packets: a
    /// remainder smaller than a segment cannot be used). The figures of a window of
    /// data stand until it is acknowledged, or are raised within it.
    pub(crate) fn cwnd_validate(&mut self, in_flight: u32, blocked: bool) {
        let limited = blocked || in_flight.saturating_add(u32::from(self.mss)) > self.cc.cwnd();
        if self.snd_una >= self.cwnd_usage_seq
            || limited
            || (!self.cwnd_limited && in_flight > self.max_flight)
        {
            self.cwnd_limited = limited;
            self.max_flight = in_flight;
            self.cwnd_usage_seq = self.snd_nxt;
        }
    }

    /// Switch to another congestion controller (TCP_CONGESTION). The new one starts
    /// from the current cwnd, with ssthresh at its initial value.
    pub(crate) fn set_congestion(&mut self, algorithm: Algorithm) {
        let cwnd = self.cc.cwnd();
        self.cc = Congestion::new(&algorithm, cwnd);
        self.opts.congestion = algorithm;
    }

    /// Bytes in flight: sent and not yet acknowledged.
    pub(crate) fn flight_size(&self) -> u32 {
        self.snd_max.since(self.snd_una)
    }

    /// The receive window we can offer now, in bytes.
    pub(crate) fn rcv_wnd(&self) -> u32 {
        let max = if self.ws_ok {
            65535u32 << self.rcv_wscale
        } else {
            65535
        };
        (self.recv.window() as u32).min(max)
    }

    /// Whether a writer that found the send buffer full is woken: once the free
    /// space is at least half of what is queued, a third of a full buffer (Linux
    /// `sk_stream_write_space` with `sk_stream_min_wspace`). The writer then refills
    /// in a few large writes rather than a segment per ACK; and since the buffer
    /// drains by a third before it is refilled, a sender held by its send buffer
    /// keeps room below the limit, which loss recovery uses to send new data while
    /// the repair is under way (RFC 6937 counts on it).
    pub(crate) fn send_space_wakes(&self) -> bool {
        let free = self.send.free();
        free > 0 && free >= self.send.len() / 2
    }

    /// Application write (RFC 9293 §3.10.2 SEND).
    pub(crate) fn write(&mut self, data: &[u8]) -> usize {
        let n = self.send.write(data);
        if n < data.len() {
            self.want_writable = true;
        }
        n
    }

    /// Application read (RFC 9293 §3.10.3 RECEIVE). Returns bytes copied, and whether
    /// the window opened enough that the peer should hear of it (RFC 9293 §3.8.6.2.2).
    pub(crate) fn read(&mut self, out: &mut [u8]) -> usize {
        let n = self.recv.read(out);
        self.after_read(n);
        n
    }

    /// Let `f` look at the readable bytes in place (one or two slices, in stream
    /// order) and remove the count it returns (at most what it was shown).
    pub(crate) fn read_with(&mut self, f: impl FnOnce(&[u8], &[u8]) -> usize) -> usize {
        let (a, b) = self.recv.readable();
        if a.is_empty() {
            return 0;
        }
        let want = f(a, b);
        let n = self.recv.consume(want);
        self.after_read(n);
        n
    }

    /// Window bookkeeping after the application removed `n` bytes.
    fn after_read(&mut self, n: usize) {
        if n > 0 && self.state.can_receive() {
            // Receiver SWS avoidance: announce once the window can grow by
            // min(buffer/2, MSS) beyond what was advertised.
            let new_edge = self.rcv_nxt + self.rcv_wnd();
            let grow = new_edge.diff(self.rcv_adv);
            let threshold = (self.recv.capacity() as u32 / 2).min(u32::from(self.mss));
            // Only when the advertised window has shrunk to half of what we could
            // offer is an update urgent (as Linux tcp_cleanup_rbuf); otherwise the
            // next ACK carries the new window.
            let advertised = self.rcv_adv.diff(self.rcv_nxt).max(0) as u64;
            let full = (self.recv.capacity() as u64).min(if self.ws_ok {
                65535u64 << self.rcv_wscale
            } else {
                65535
            });
            if grow >= threshold as i32 && advertised * 2 <= full && !self.fastopen_quiet_window() {
                self.pend.ack_now = true;
            }
        }
    }

    /// A snapshot for `Stack::info`.
    pub(crate) fn info(&self) -> ConnInfo {
        let ecn_counts = self.ecn_counts();
        ConnInfo {
            state: self.state,
            local: self.local,
            remote: self.remote,
            srtt: self.rtt.srtt(),
            rttvar: self.rtt.rttvar(),
            rto: self.rtt.rto(),
            cwnd: self.cc.cwnd(),
            ssthresh: self.cc.ssthresh(),
            snd_wnd: self.snd_wnd,
            rcv_wnd: self.rcv_wnd(),
            mss: self.mss,
            iss: self.iss.0,
            irs: self.irs.0,
            send_queue: self.send.len(),
            recv_queue: self.recv.len(),
            buffer_bytes: self.send.allocated() + self.recv.allocated(),
            error: self.error,
            stats: ConnStats {
                dsacks_received: self.rack.as_deref().map_or(0, |r| u64::from(r.dsacks)),
                spurious_recoveries: self.rack.as_deref().map_or(0, |r| u64::from(r.undone)),
                ecn: self.ecn_ok(),
                ecn_ce_received: ecn_counts.0,
                ecn_ece_received: ecn_counts.1,
                ecn_reductions: ecn_counts.2,
                ..self.stats.to_stats()
            },
        }
    }

    /// Our timestamp clock (RFC 7323 §5.4: 1 ms ticks), offset per connection.
    pub(crate) fn ts_now(&self, now: Instant) -> u32 {
        (now.total_millis() as u32).wrapping_add(self.ts_offset)
    }
}
